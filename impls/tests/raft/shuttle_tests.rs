//! Raft clusters under shuttle: 3 and 5 servers, clients doing puts, gets and
//! compare-and-sets, crashes and restarts from storage, partitions, and a network that
//! drops, duplicates, reorders and delays; time is logical (a tick whenever the ticker
//! thread runs), so the schedule decides when timers fire against everything else. Every
//! run is checked (`harness::run`): Figure 3's five properties on the implementation's own
//! states and the linearizability of the client history.

use super::harness::{FaultsSpec, Report, Scenario, render_records, run};
use crate::shuttle_search;

/// The churn workload: random crashes, reboots and partitions. The shuttle tests' and the
/// searches for `forget-voted-for` and `no-up-to-date-check`.
pub fn scenario(servers: u32) -> Scenario {
    Scenario {
        clients: 2,
        ops_per_client: 3,
        keys: 1,
        faults: FaultsSpec::UNRELIABLE,
        chaos_steps: 8,
        crash_per_mille: 300,
        reboot_per_mille: 300,
        partition_per_mille: 300,
        chaos_pause: 40,
        // Short timers: elections are frequent, which is where the bugs are.
        election_timeout: (4, 8),
        heartbeat: 2,
        patience: 12,
        budget: 120,
        ..Scenario::base(servers)
    }
}

/// The Figure 8 workload: a nemesis that cuts off whichever server leads (healing the
/// previous cut), clients writing throughout, one entry per AppendEntries and no no-op at
/// the start of a term (raft.tla's leader). This is the shape of the paper's Figure 8: a
/// leader replicates an entry of an old term, is cut off, and another leader with a
/// different entry at that index takes over. The searches for `figure8-commit` and
/// `truncate-without-conflict`.
pub fn figure8() -> Scenario {
    Scenario {
        noop_on_election: false,
        max_entries_per_message: 1,
        isolate_leader_per_mille: 800,
        chaos_steps: 16,
        ops_per_client: 5,
        budget: 200,
        ..scenario(3)
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

/// The same on the Figure 8 workload (the correct commit rule: only an entry of the
/// leader's own term is committed by counting replicas). Reference: Raft §5.4.2, Figure 8.
#[test]
fn figure8_workload_keeps_every_property() {
    check(figure8(), 0..20, 20, 20);
}
