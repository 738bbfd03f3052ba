//! Every scenario under shuttle, with the random scheduler and with PCT. Fresh seeds each run
//! (shuttle prints the seed and the failing schedule if one ever fails; pass the schedule to
//! `shuttle::replay` to reproduce it).
//!
//! Each test also checks that its runs were not vacuous: across the iterations a leader was
//! elected, a failover happened, a deposed leader attempted a write with a stale token and
//! storage refused it (the model's `sometimes` properties `LeaderElected`,
//! `FailoverHappened`, `StaleLeaderAttemptedWrite`), a stale heartbeat (a renewal sent before
//! the node lost its lease, arriving after) was refused by the store, and the faults the
//! scenario injects happened; with shared electors, that `leadership()` answered while the
//! node's renewal was in flight and that a renewal's answer arrived after its node resigned.
//! The harness checks on every run that no stale renewal was accepted and no live one
//! refused.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//! target/shuttle --test election`.

use std::cell::RefCell;
use std::collections::BTreeSet;

use coordlab_impls::election::{Event, FencingToken, NodeId, StepDownReason};

use super::harness::{Scenario, Step, run};
use super::scenarios;

/// Random-scheduler iterations per scenario.
const RANDOM_ITERATIONS: usize = 10_000;
/// PCT iterations per scenario.
const PCT_ITERATIONS: usize = 10_000;
/// PCT bug depth: the paused-leader schedule needs the pause, the other node's grant and its
/// write to land in order.
const PCT_DEPTH: usize = 3;

thread_local! {
    /// What the runs on this thread have shown happening (shuttle runs every task of an
    /// execution on the test's own thread).
    static SEEN: RefCell<BTreeSet<&'static str>> = const { RefCell::new(BTreeSet::new()) };
}

/// Runs the scenario, notes what happened in it, and fails on any violated property.
fn run_noting(scenario: &Scenario) {
    let report = run(scenario);
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        let mut grants = 0;
        let mut current: Option<FencingToken> = None;
        // Nodes whose renewal the store granted and whose elector has not applied it yet.
        let mut renewing: BTreeSet<NodeId> = BTreeSet::new();
        for record in &report.records {
            match &record.step {
                Step::Elect(Event::Renewed { node, .. }) => {
                    renewing.insert(*node);
                }
                Step::Elect(Event::Leading { node, .. }) => {
                    renewing.remove(node);
                    seen.insert("LeaderElected");
                }
                Step::Elect(Event::Trusted { node, .. }) if renewing.contains(node) => {
                    seen.insert("TrustedDuringRenewal");
                }
                Step::Elect(Event::SteppedDown { node, reason, .. }) => {
                    let was_renewing = renewing.remove(node);
                    if was_renewing && *reason == StepDownReason::Resigned {
                        seen.insert("RenewalAnsweredAfterResign");
                    }
                }
                Step::RenewRefused { .. } => {
                    seen.insert("StaleHeartbeatRefused");
                }
                Step::Elect(Event::Granted { token, .. }) => {
                    grants += 1;
                    current = current.max(Some(*token));
                    if grants >= 2 {
                        seen.insert("FailoverHappened");
                    }
                }
                Step::Elect(Event::Write {
                    token, accepted, ..
                }) if current.is_some_and(|c| *token < c) => {
                    seen.insert("StaleLeaderAttemptedWrite");
                    if !accepted {
                        seen.insert("StaleWriteRejected");
                    }
                }
                Step::Tick { ms, slow } => {
                    if !slow.is_empty() {
                        seen.insert("ClockSlowed");
                    }
                    if *ms > scenario.tick_ms {
                        seen.insert("ClockJumped");
                    }
                }
                Step::Elect(Event::Released { .. }) => {
                    seen.insert("LeaderResigned");
                }
                Step::Pause { .. } => {
                    seen.insert("NodePaused");
                }
                Step::Crash { .. } => {
                    seen.insert("NodeCrashed");
                }
                _ => {}
            }
        }
    });
    report.assert_ok();
}

/// Asserts that the runs since the last call showed every kind of step the scenario exists to
/// exercise.
fn assert_not_vacuous(what: &str, scenario: &Scenario) {
    let seen = SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()));
    let mut wanted = vec![
        "LeaderElected",
        "FailoverHappened",
        "ClockSlowed",
        "StaleHeartbeatRefused",
    ];
    if scenario.pause_per_mille > 0 {
        wanted.extend([
            "NodePaused",
            "StaleLeaderAttemptedWrite",
            "StaleWriteRejected",
        ]);
    }
    if scenario.crash_per_mille > 0 {
        wanted.push("NodeCrashed");
    }
    if scenario.jump_per_mille > 0 {
        wanted.push("ClockJumped");
    }
    if scenario.resign_per_mille > 0 {
        wanted.push("LeaderResigned");
    }
    if scenario.writers > 0 {
        wanted.extend(["TrustedDuringRenewal", "RenewalAnsweredAfterResign"]);
    }
    for w in wanted {
        assert!(seen.contains(w), "{what}: no run showed {w}; seen {seen:?}");
    }
}

/// Every scenario keeps `AtMostOneLeader`, `StaleTokenWriteRejected` and
/// `FencingTokensMonotonic` under the random scheduler.
#[test]
fn scenarios_hold_under_random_schedules() {
    for (name, scenario) in scenarios::all() {
        let s = scenario.clone();
        let start = std::time::Instant::now();
        shuttle::check_random(move || run_noting(&s), RANDOM_ITERATIONS);
        eprintln!("shuttle random {name}: {:.1?}", start.elapsed());
        assert_not_vacuous(name, &scenario);
    }
}

/// As [`scenarios_hold_under_random_schedules`], under PCT.
#[test]
fn scenarios_hold_under_pct() {
    for (name, scenario) in scenarios::all() {
        let s = scenario.clone();
        let start = std::time::Instant::now();
        shuttle::check_pct(move || run_noting(&s), PCT_ITERATIONS, PCT_DEPTH);
        eprintln!("shuttle pct {name}: {:.1?}", start.elapsed());
        assert_not_vacuous(name, &scenario);
    }
}
