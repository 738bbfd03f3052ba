//! Every scenario under shuttle, with the random scheduler and with PCT. Fresh seeds each run
//! (shuttle prints the seed and the failing schedule if one ever fails; pass the schedule to
//! `shuttle::replay` to reproduce it).
//!
//! Each test also checks that its runs were not vacuous: across the iterations a leader was
//! elected, a failover happened, a deposed leader attempted a write with a stale token and
//! storage refused it (the model's `sometimes` properties `LeaderElected`,
//! `FailoverHappened`, `StaleLeaderAttemptedWrite`), and the faults the scenario injects
//! happened.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//! target/shuttle --test election`.

use std::cell::RefCell;
use std::collections::BTreeSet;

use coordlab_impls::election::{Event, FencingToken};

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
        for record in &report.records {
            match &record.step {
                Step::Elect(Event::Leading { .. }) => {
                    seen.insert("LeaderElected");
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
    let mut wanted = vec!["LeaderElected", "FailoverHappened", "ClockSlowed"];
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
        shuttle::check_random(move || run_noting(&s), RANDOM_ITERATIONS);
        assert_not_vacuous(name, &scenario);
    }
}

/// As [`scenarios_hold_under_random_schedules`], under PCT.
#[test]
fn scenarios_hold_under_pct() {
    for (name, scenario) in scenarios::all() {
        let s = scenario.clone();
        shuttle::check_pct(move || run_noting(&s), PCT_ITERATIONS, PCT_DEPTH);
        assert_not_vacuous(name, &scenario);
    }
}
