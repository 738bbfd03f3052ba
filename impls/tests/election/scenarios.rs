//! The scenarios, by size. Times are in ms of the harness's manual clocks; one tick is 10ms,
//! so a 30ms lease lasts three ticks, as in the model's default configuration.

use super::harness::Scenario;

/// The timing every scenario shares: a 30ms lease renewed every 10ms, clocks that may fall
/// 10ms (one tick) behind, and electors configured with that drift bound.
fn base() -> Scenario {
    Scenario {
        nodes: 3,
        rounds: 6,
        lease_ms: 30,
        renew_every_ms: 10,
        drift_ms: 10,
        ticks: 10,
        tick_ms: 10,
        jump_per_mille: 0,
        slow_per_mille: 300,
        pause_per_mille: 0,
        pause_ms: 40,
        crash_per_mille: 0,
        resign_per_mille: 0,
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
    ]
}
