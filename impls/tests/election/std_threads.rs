//! Every scenario on real threads (`cargo test`). Real threads explore whatever interleavings
//! the OS happens to produce, so these are smoke runs; shuttle does the searching.

use super::harness::run;
use super::scenarios;

const RUNS: usize = 200;

/// Every scenario keeps `AtMostOneLeader`, `StaleTokenWriteRejected` and
/// `FencingTokensMonotonic` on real threads, and leaders do get elected.
#[test]
fn scenarios_hold_on_threads() {
    for (name, scenario) in scenarios::all() {
        let mut grants = 0;
        for _ in 0..RUNS {
            let report = run(&scenario);
            report.assert_ok();
            grants += report
                .records
                .iter()
                .filter(|r| {
                    matches!(
                        r.step,
                        super::harness::Step::Elect(
                            coordlab_impls::election::Event::Granted { .. }
                        )
                    )
                })
                .count();
        }
        assert!(
            grants > 0,
            "{name}: no lease was ever granted in {RUNS} runs"
        );
    }
}
