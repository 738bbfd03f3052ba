//! Raft clusters under shuttle: 3 and 5 servers, clients doing puts, gets and
//! compare-and-sets, crashes and restarts from storage, partitions, and a network that
//! drops, duplicates, reorders and delays; time is logical (a tick whenever the ticker
//! thread runs), so the schedule decides when timers fire against everything else. Every
//! run is checked (`harness::run`): Figure 3's five properties on the implementation's own
//! states and the linearizability of the client history.

use super::harness::{FaultsSpec, Report, Scenario, render_records, run};
use crate::shuttle_search;

/// The workload of the shuttle tests and of the searches for the deviations.
pub fn scenario(servers: u32) -> Scenario {
    Scenario {
        clients: 2,
        ops_per_client: 3,
        keys: 1,
        faults: FaultsSpec::UNRELIABLE,
        chaos_steps: 4,
        crash_per_mille: 400,
        partition_per_mille: 300,
        // Short timers: elections are frequent, which is where the bugs are.
        election_timeout: (4, 8),
        heartbeat: 2,
        patience: 12,
        budget: 120,
        ..Scenario::base(servers)
    }
}

fn run_once(scenario: Scenario) -> impl Fn() -> (Report, Option<String>) + Send + Sync + 'static {
    move || {
        let report = run(&scenario);
        let failure = report.violations.first().map(ToString::to_string);
        (report, failure)
    }
}

fn check(scenario: Scenario, seeds: std::ops::Range<u64>, random: usize, pct: usize) {
    for seed in seeds {
        for (name, found) in [
            (
                "random",
                shuttle_search::search_random(run_once(scenario.clone()), seed, random),
            ),
            (
                "pct",
                shuttle_search::search_pct(run_once(scenario.clone()), seed, 3, pct),
            ),
        ] {
            if let Some(f) = found {
                panic!(
                    "{name} seed {seed} run {} failed: {}\n{}",
                    f.iteration,
                    f.message,
                    render_records(&f.report.records)
                );
            }
        }
    }
}

/// Figure 3's properties and linearizability hold on 3 servers with crashes, partitions
/// and an unreliable network. Reference: Raft §5, Figure 3.
#[test]
fn three_servers_keep_every_property_under_faults() {
    check(scenario(3), 0..20, 30, 30);
}

/// The same on 5 servers (two may be down at once).
#[test]
fn five_servers_keep_every_property_under_faults() {
    check(scenario(5), 0..20, 10, 10);
}
