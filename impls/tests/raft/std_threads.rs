//! The workloads on std threads, with real ticks.

use super::harness::{FaultsSpec, Scenario, render_records, run};

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

#[test]
fn five_servers_with_crashes_partitions_and_an_unreliable_network_keep_every_property() {
    let s = Scenario {
        ops_per_client: 6,
        clients: 3,
        keys: 2,
        faults: FaultsSpec::UNRELIABLE,
        chaos_steps: 12,
        crash_per_mille: 400,
        partition_per_mille: 300,
        ..Scenario::base(5)
    };
    let report = run(&s);
    assert!(
        report.violations.is_empty(),
        "{:?}\n{}",
        report.violations,
        render_records(&report.records)
    );
    assert!(
        report.answered > 0,
        "some operation answered: {:?}",
        report.history
    );
}
