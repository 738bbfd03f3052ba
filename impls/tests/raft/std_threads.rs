//! The workloads on std threads, with real ticks.

use super::harness::{Scenario, render_records, run};

#[test]
fn three_servers_serve_clients_and_keep_every_property() {
    let s = Scenario {
        ops_per_client: 5,
        ..Scenario::base(3)
    };
    let report = run(&s);
    assert!(
        report.violations.is_empty(),
        "{:?}\n{}",
        report.violations,
        render_records(&report.records)
    );
    assert_eq!(
        report.answered, 10,
        "every operation answered: {:?}",
        report.history
    );
    assert_eq!(report.timed_out, 0);
    // The no-op of the first term and one entry per write (gets are reads, not entries).
    let writes = report
        .history
        .iter()
        .filter(|h| {
            matches!(h, super::harness::HistoryEvent::Invoke { op, .. }
                if !matches!(op, coordlab_impls::raft::KvOp::Get { .. }))
        })
        .count() as u64;
    assert!(
        report.applied > writes,
        "applied up to {} for {writes} writes",
        report.applied
    );
    assert!(!report.leaders.is_empty());
}
