//! The scenarios, by size. Times are in ms of the harness's manual clocks, and one tick is
//! 1 ms, the resolution of the implementation's clocks: every deadline falls on a tick, so a
//! lease, its trust and its renewals are checked to the millisecond. A 3 ms lease lasts three
//! ticks, as in the model's default configuration.

use super::harness::Scenario;

/// The timing every scenario shares: a 3 ms lease renewed every 1 ms, clocks that may fall
/// 1 ms (one tick) behind, and electors configured with that drift bound.
fn base() -> Scenario {
    Scenario {
        nodes: 3,
        rounds: 6,
        lease_ms: 3,
        renew_every_ms: 1,
        drift_ms: 1,
        ticks: 10,
        tick_ms: 1,
        jump_per_mille: 0,
        slow_per_mille: 300,
        pause_per_mille: 0,
        pause_ms: 4,
        crash_per_mille: 0,
        resign_per_mille: 0,
        writers: 0,
        deviation: None,
    }
}

/// Three nodes with slow clocks: campaigns, renewals and expiry racing.
pub fn slow_clocks() -> Scenario {
    base()
}

/// Three nodes whose leaders pause past their lease before writing (Kleppmann's scenario).
pub fn pauses() -> Scenario {
    Scenario {
        pause_per_mille: 300,
        ..base()
    }
}

/// Five nodes with every fault at once: slow clocks, clock jumps, pauses, crashes and
/// resignations.
pub fn busy() -> Scenario {
    Scenario {
        nodes: 5,
        rounds: 6,
        ticks: 14,
        jump_per_mille: 150,
        pause_per_mille: 250,
        crash_per_mille: 150,
        resign_per_mille: 100,
        ..base()
    }
}

/// Three nodes, each elector shared by its heartbeat thread and two writer threads that check
/// their leadership, write, pause and resign while the heartbeat renews: a renewal racing a
/// resignation, and `leadership()` answering while a renewal is in flight.
pub fn shared_electors() -> Scenario {
    Scenario {
        writers: 2,
        ticks: 12,
        jump_per_mille: 100,
        pause_per_mille: 200,
        resign_per_mille: 150,
        ..base()
    }
}

/// The workload the bugs are searched in (each search adjusts the faults it needs): three
/// nodes, four rounds each, eight ticks. Small enough that a counterexample reads in a minute.
#[cfg(shuttle)]
pub fn search() -> Scenario {
    Scenario {
        rounds: 4,
        ticks: 8,
        ..base()
    }
}

/// Every scenario, named.
pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("slow_clocks", slow_clocks()),
        ("pauses", pauses()),
        ("busy", busy()),
        ("shared_electors", shared_electors()),
    ]
}

/// Fails unless every one of `what`'s `runs` runs was checked against the election model
/// (`checked`): every scenario's steps are the model's, shared electors included (the model's
/// `writers`). `unmapped` holds why the others could not be (the mapping's reason), for the
/// message.
pub fn assert_all_checked(what: &str, checked: usize, runs: usize, unmapped: &[String]) {
    assert!(
        checked == runs && runs > 0,
        "{what}: only {checked} of {runs} runs could be checked against the election model{}",
        unmapped
            .first()
            .map_or(String::new(), |why| format!(" (e.g. {why})"))
    );
}
