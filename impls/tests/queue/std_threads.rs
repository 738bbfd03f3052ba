//! Every scenario on real threads (`cargo test`). Real threads explore whatever interleavings
//! the OS happens to produce, so these are smoke runs; loom and shuttle do the searching.

use super::harness::{Scenario, render_events, run};
use super::scenarios;

const RUNS: usize = 200;

fn run_many(name: &str, scenario: &Scenario) {
    for _ in 0..RUNS {
        let report = run(scenario);
        if let Some(v) = report.violations.first() {
            panic!("{name}: {v}\n{}", render_events(&report.events));
        }
    }
}

/// Every small scenario keeps every property on real threads.
#[test]
fn small_scenarios_hold_on_threads() {
    for (name, scenario) in scenarios::small() {
        run_many(name, &scenario);
    }
}

/// Every busy scenario (4 consumers, crashes, clock jumps) keeps every property on real
/// threads.
#[test]
fn busy_scenarios_hold_on_threads() {
    for (name, scenario) in scenarios::busy_all() {
        run_many(&name, &scenario);
    }
}
