//! Every scenario on real threads (`cargo test`). Real threads explore whatever interleavings
//! the OS happens to produce, so these are smoke runs; loom and shuttle do the searching.
//! Every run is also checked against the queue model (`ConformsToModel`), and each scenario
//! says how many runs were.

use super::harness::{Conformance, Scenario, render_events, run};
use super::refusals::{self, Late};
use super::scenarios;

const RUNS: usize = 200;

fn run_many(name: &str, scenario: &Scenario) {
    let claim = scenarios::claim(name);
    for _ in 0..RUNS {
        let report = run(scenario);
        if let Some(v) = report.violations.first() {
            panic!("{name}: {v}\n{}", render_events(&report.events));
        }
        assert!(
            matches!(report.conformance, Conformance::Conforms { .. }),
            "{name}: not checked against the queue model: {:?}",
            report.conformance
        );
        claim(&report);
    }
    eprintln!("{name}: all {RUNS} runs checked against the queue model, every one conformed");
}

/// Every small scenario keeps every property, and its own claim, on real threads.
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

/// The refusal races (a late heartbeat or release against its own lapse and another
/// consumer's receive; receipts presented to another queue) keep their claims on real threads.
#[test]
fn refusal_races_hold_on_threads() {
    for _ in 0..RUNS {
        refusals::late_race(Late::Heartbeat);
        refusals::late_race(Late::Release);
        refusals::foreign_receipts_race();
    }
}
