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

/// Which scheduler ran the scenario: the share of runs the mapping can express depends on it.
/// (Each build runs one kind: real threads in the std build, shuttle's in the shuttle build.)
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Real threads (`std_threads`).
    Threads,
    /// shuttle's random scheduler.
    Random,
    /// shuttle's PCT scheduler.
    Pct,
}

/// The least share of a scenario's runs, in percent, that must be checked against the
/// election model. The scenarios whose steps the model has are checked whole, resignations
/// included (the model's `Resign`). `shared_electors` shares each elector between a heartbeat
/// and two writers, and the model's node does one thing at a time: a run where the heartbeat
/// renews, or the node steps down or resigns, while a write one writer prepared is on its way
/// is unmapped (`coordlab_checks::conform::election`). The random scheduler lets a prepared
/// write reach storage before the heartbeat runs in most runs; PCT and real threads hold a
/// writer back, and most of their runs have such a step.
pub fn least_checked(engine: Engine, name: &str) -> usize {
    match (engine, name) {
        (_, "slow_clocks" | "pauses" | "busy") => 100,
        // Measured: 7,393 of 10,000 runs (random), 782 of 10,000 (PCT), 23 of 200 (threads).
        (Engine::Random, "shared_electors") => 70,
        (Engine::Pct, "shared_electors") => 6,
        (Engine::Threads, "shared_electors") => 5,
        (_, other) => panic!("no checked share for scenario {other}"),
    }
}

/// Fails if fewer of scenario `name`'s runs than [`least_checked`] were checked against the
/// model (`what` says which runs, for the message).
pub fn assert_enough_checked(engine: Engine, what: &str, name: &str, checked: usize, runs: usize) {
    let least = least_checked(engine, name);
    assert!(
        checked * 100 >= least * runs && runs > 0,
        "{what}: only {checked} of {runs} runs could be checked against the election model (at least {least}% must be)",
    );
}

/// What kind of step made a run unmapped, from the mapping's reason
/// (`coordlab_checks::conform::election`), for the tests' tallies.
pub fn unmapped_kind(why: &str) -> &'static str {
    const KINDS: [(&str, &str); 6] = [
        (
            "while a write it prepared",
            "a shared elector's step while a write is prepared",
        ),
        (
            "from several threads",
            "a shared elector's steps out of order",
        ),
        ("is never answered", "a grant or renewal never applied"),
        ("gives its lease back", "a release"),
        ("resigns", "a resignation"),
        (
            "still trusts its old one",
            "granted while the model's node trusts its old lease",
        ),
    ];
    KINDS
        .iter()
        .find(|(needle, _)| why.contains(needle))
        .map_or("other", |(_, kind)| kind)
}

/// "3 a resignation, 1 other (e.g. …)": the unmapped runs by kind, with one example of
/// what no kind names.
pub fn tally(unmapped: &[String]) -> String {
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for why in unmapped {
        *kinds.entry(unmapped_kind(why)).or_default() += 1;
    }
    let mut out: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if let Some(other) = unmapped.iter().find(|w| unmapped_kind(w) == "other") {
        out.push(format!("e.g. other: {other}"));
    }
    out.join("; ")
}
