//! The pool under shuttle: 4 workers, one or two producers, bursts above capacity (each
//! producer submits more tasks than all queues hold), `submit` and `try_submit`, a worker
//! stalled in a task that waits for every other task, and conservation checked on every run
//! (`harness::run`). Random and PCT schedules; iterations sized so these tests take about
//! 30 s together on 2 cores.

use coordlab_impls::pool::Placement;

use super::harness::{Mode, Scenario, run};
use crate::shuttle_search;

/// The workload of the shuttle tests and of the searches for the deviations.
pub fn scenario(placement: Placement, producers: Vec<Mode>) -> Scenario {
    Scenario {
        workers: 4,
        capacity: 2,
        placement,
        producers,
        // 4 workers × capacity 2 = 8 slots; one producer's 10 tasks alone overflow them.
        tasks: 10,
        stall: Some(0),
        deviation: None,
        // Yields of the watchdog without a task accepted or finished. Under the random
        // scheduler a live run makes progress within a few dozen; PCT deprioritizes a
        // yielding thread, so it runs the others first.
        patience: 400,
        shutdown_at: None,
    }
}

fn check(scenario: Scenario, random: usize, pct: usize) {
    let run_once = |scenario: Scenario| {
        move || {
            let report = run(&scenario);
            let failure = report.violations.first().map(ToString::to_string);
            (report, failure)
        }
    };
    for (name, found) in [
        (
            "random",
            shuttle_search::search_random(run_once(scenario.clone()), 1, random),
        ),
        (
            "pct",
            shuttle_search::search_pct(run_once(scenario), 1, 3, pct),
        ),
    ] {
        if let Some(f) = found {
            panic!(
                "{name} run {} failed: {}\n{}",
                f.iteration,
                f.message,
                super::harness::render_events(&f.report.events)
            );
        }
    }
}

/// Conservation under round-robin with one blocking producer: every accepted task runs
/// exactly once, the stalled worker's queue is drained by stealing, nothing runs after
/// shutdown, no queue exceeds its capacity; and every run's log is a behaviour of the
/// `stealing` model (`ConformsToModel`).
#[test]
fn round_robin_one_blocking_producer() {
    check(
        scenario(Placement::RoundRobin, vec![Mode::Blocking]),
        2_000,
        2_000,
    );
}

/// As above with two producers, one blocking, one with `try_submit` (refused tasks never run).
#[test]
fn round_robin_blocking_and_try_producers() {
    check(
        scenario(Placement::RoundRobin, vec![Mode::Blocking, Mode::Try]),
        1_500,
        1_500,
    );
}

/// Least-loaded with two producers alternating `submit` and `try_submit`; every placement
/// chooses a shortest queue (`BoundedImbalance`, k = 0, on the log).
#[test]
fn least_loaded_two_mixed_producers() {
    check(
        scenario(Placement::LeastLoaded, vec![Mode::Mixed, Mode::Mixed]),
        1_500,
        1_500,
    );
}

/// A shutdown while both producers still submit: every accepted task ran or came back.
#[test]
fn shutdown_while_producers_submit() {
    check(
        Scenario {
            shutdown_at: Some(6),
            ..scenario(Placement::RoundRobin, vec![Mode::Blocking, Mode::Mixed])
        },
        1_500,
        1_500,
    );
}

/// Least-loaded with one `try_submit` producer: conservation, and every run's log is a
/// behaviour of the `stealing` model (`ConformsToModel`; one producer is what the model
/// expresses, as in `round_robin_one_blocking_producer`).
#[test]
fn least_loaded_one_try_producer() {
    check(
        scenario(Placement::LeastLoaded, vec![Mode::Try]),
        1_000,
        1_000,
    );
}
