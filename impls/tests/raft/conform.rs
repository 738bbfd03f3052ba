//! Conformance: every run of the cluster in raft.tla's profile is a behaviour of the Raft
//! model (`coordlab_checks::conform::raft`): its record — each core event, each network
//! fate, each crash — replayed on the model, every step enabled and every answer, message,
//! commit and term as the model's. Runs that leave the model's bounds (more than 4 entries
//! appended, more than 8 messages in flight) are counted, and must stay a minority.

// Core's atomics, not the sync facade's: the tallies count across shuttle's executions,
// outside the model.
use core::sync::atomic::{AtomicUsize, Ordering};

use coordlab_checks::conform::raft::{RaftConformance, RunConfig};
use coordlab_checks::conform::{ConformError, Verdict, conform};

use super::harness::{FaultsSpec, Report, Scenario, render_records, run, run_events};

/// Three servers in raft.tla's profile, one client writing twice, a lossy, duplicating,
/// reordering network (no delays) and reboots and partitions.
pub fn scenario() -> Scenario {
    Scenario {
        raft_tla: true,
        clients: 1,
        ops_per_client: 2,
        keys: 1,
        faults: FaultsSpec {
            drop: 50,
            duplicate: 30,
            reorder: 100,
            delay: 0,
            max_delay_ticks: 0,
        },
        chaos_steps: 4,
        reboot_per_mille: 300,
        partition_per_mille: 300,
        election_timeout: (6, 10),
        heartbeat: 3,
        patience: 40,
        budget: 300,
        ..Scenario::base(3)
    }
}

/// Tallies of the runs checked.
pub struct Tally {
    pub conforming: AtomicUsize,
    pub unmapped: AtomicUsize,
}

impl Tally {
    pub const fn new() -> Tally {
        Tally {
            conforming: AtomicUsize::new(0),
            unmapped: AtomicUsize::new(0),
        }
    }
}

/// The run's failure if it is not a behaviour of the model of `variant` (within bounds).
pub fn check_run(report: &Report, variant: &str, tally: &Tally) -> Option<String> {
    let servers = 3;
    match conform::<RaftConformance>(
        &RunConfig { servers },
        variant,
        &run_events(&report.records),
    ) {
        Ok(Verdict::Conforms { .. }) => {
            tally.conforming.fetch_add(1, Ordering::Relaxed);
            None
        }
        Ok(Verdict::Diverges(d)) => Some(format!("{d}")),
        Err(ConformError::Unmapped { .. }) => {
            tally.unmapped.fetch_add(1, Ordering::Relaxed);
            None
        }
        Err(e) => Some(format!("bad log: {e}")),
    }
}

fn assert_mostly_conforming(tally: &Tally, runs: usize) {
    let c = tally.conforming.load(Ordering::Relaxed);
    let u = tally.unmapped.load(Ordering::Relaxed);
    eprintln!("{c} runs conform, {u} leave the model's bounds, of {runs}");
    assert_eq!(c + u, runs);
    assert!(
        c * 2 > runs,
        "only {c} of {runs} runs within the model's bounds"
    );
}

/// On std threads: every run conforms to the correct model (or leaves its bounds).
#[cfg(not(shuttle))]
#[test]
fn std_runs_in_raft_tla_profile_are_behaviours_of_the_model() {
    let tally = Tally::new();
    let runs = 10;
    for _ in 0..runs {
        let report = run(&scenario());
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        if let Some(f) = check_run(&report, "correct", &tally) {
            panic!("{f}\n{}", render_records(&report.records));
        }
    }
    assert_mostly_conforming(&tally, runs);
}

/// Under shuttle, random schedules from 20 seeds: every run conforms to the correct model
/// (or leaves its bounds).
#[cfg(shuttle)]
#[test]
fn shuttle_runs_in_raft_tla_profile_are_behaviours_of_the_model() {
    static TALLY: Tally = Tally::new();
    let tally = &TALLY;
    let per_seed = 50;
    for seed in 0..20 {
        let found = crate::shuttle_search::search_random(
            move || {
                let report = run(&scenario());
                let failure = report
                    .violations
                    .first()
                    .map(ToString::to_string)
                    .or_else(|| check_run(&report, "correct", &TALLY));
                (report, failure)
            },
            seed,
            per_seed,
        );
        if let Some(f) = found {
            panic!(
                "seed {seed} run {}: {}\n{}",
                f.iteration,
                f.message,
                render_records(&f.report.records)
            );
        }
    }
    assert_mostly_conforming(tally, 20 * per_seed);
}

/// Conformance catches each of the model's bugs: under shuttle, a run of the core with the
/// deviation switched on leaves the correct model once the bug acts (the divergence names
/// the step), and stays a behaviour of its own variant's model.
#[cfg(shuttle)]
#[test]
fn runs_with_a_deviation_leave_the_correct_model_and_follow_their_own() {
    use super::harness::Deviation;
    for d in Deviation::ALL {
        let mut s = scenario();
        s.deviation = Some(d);
        s.isolate_leader_per_mille = 500;
        s.chaos_steps = 8;
        static SEEN: Tally = Tally::new();
        let found = crate::shuttle_search::search_random(
            move || {
                let report = run(&s);
                let failure = check_run(&report, "correct", &SEEN);
                (report, failure)
            },
            1,
            5_000,
        );
        let Some(f) = found else {
            panic!("no run with `{}` left the correct model", d.id());
        };
        assert!(
            f.message.contains("diverges from raft/correct"),
            "{}",
            f.message
        );
        let own = Tally::new();
        if let Some(bad) = check_run(&f.report, d.id(), &own) {
            panic!(
                "the run of `{}` is not a behaviour of its own variant: {bad}",
                d.id()
            );
        }
        eprintln!(
            "{}: run {} leaves raft/correct: {}",
            d.id(),
            f.iteration,
            f.message.lines().next().unwrap_or("")
        );
    }
}
