//! Every scenario on real threads (`cargo test`). Real threads explore whatever interleavings
//! the OS happens to produce, so these are smoke runs; shuttle does the searching.

use super::harness::{Conformance, Step, run};
use super::scenarios;

const RUNS: usize = 200;

/// Every scenario keeps `AtMostOneLeader`, `StaleTokenWriteRejected` and
/// `FencingTokensMonotonic` on real threads, and leaders do get elected. Every run is also
/// replayed on the election model (`ConformsToModel`, among the violations `assert_ok`
/// fails on), and every run must be one the mapping expresses.
#[test]
fn scenarios_hold_on_threads() {
    for (name, scenario) in scenarios::all() {
        let mut grants = 0;
        let (mut checked, mut unmapped) = (0, Vec::new());
        for _ in 0..RUNS {
            let report = run(&scenario);
            report.assert_ok();
            grants += report
                .records
                .iter()
                .filter(|r| {
                    matches!(
                        r.step,
                        Step::Elect(coordlab_impls::election::Event::Granted { .. })
                    )
                })
                .count();
            match report.conformance {
                Conformance::Conforms { .. } => checked += 1,
                Conformance::Unmapped(why) => unmapped.push(why),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(
            grants > 0,
            "{name}: no lease was ever granted in {RUNS} runs"
        );
        eprintln!("{name}: {checked} of {RUNS} runs checked against the election model");
        scenarios::assert_all_checked(name, checked, RUNS, &unmapped);
    }
}
