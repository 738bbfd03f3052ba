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
    assert!(!report.leaders.is_empty());
}
