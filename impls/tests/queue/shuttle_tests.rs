//! Every scenario under shuttle: the small ones and the busy ones (4 consumers, a producer,
//! random crashes and failed processing, clock jumps by a driver thread), with the random
//! scheduler and with PCT. Fresh seeds each run (shuttle prints the seed and the failing
//! schedule if one ever fails; pass the schedule to `shuttle::replay` to reproduce it), except
//! the seeded search that finds `duplicate-not-deleted`.
//!
//! Each busy test also checks that its runs were not vacuous: across the iterations, while
//! the consumer threads ran (before the sweep), some delivery expired, some message was
//! redelivered, deleted and (with `max_receives`) dead-lettered, some consumer crashed and
//! some released, and the queue refused a stale delete, a stale release and a lapsed release
//! as the refused consumers counted them (the harness checks that the log records exactly the
//! refusals the consumers got), and where consumers heartbeat a stale heartbeat and a lapsed
//! one were refused (the refusals under the random scheduler); with the ledger, a duplicate
//! was skipped (`harness::Race`).
//!
//! The refusal races (`refusals`) run here too, and must show every outcome: a late heartbeat
//! or release accepted (before the deadline), refused as not in flight, and refused as stale.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//! target/shuttle`.

use std::cell::RefCell;
use std::collections::BTreeSet;

use super::harness::{Conformance, Deviation, EffectMode, Race, Scenario, run};
use super::refusals::{self, Late, LateOutcome};
use super::scenarios;
use crate::shuttle_search;

/// Random-scheduler iterations per busy scenario.
const RANDOM_ITERATIONS: usize = 3_000;
/// PCT iterations per busy scenario.
const PCT_ITERATIONS: usize = 3_000;
/// PCT bug depth: how many priority change points an execution gets. Most bugs need one or
/// two; 3 covers the stale-receipt schedule (expiry, redelivery, stale delete).
const PCT_DEPTH: usize = 3;

thread_local! {
    /// What the runs on this thread have shown happening while their consumers ran (shuttle
    /// runs every task of an execution on the test's own thread).
    static SEEN: RefCell<BTreeSet<Race>> = const { RefCell::new(BTreeSet::new()) };
}

thread_local! {
    /// How many runs on this thread were checked against the model (conformed), and how many
    /// had a step the mapping cannot express (only heartbeat scenarios may).
    static CONFORMED: RefCell<(usize, usize)> = const { RefCell::new((0, 0)) };
}

/// Runs the scenario, notes the races it showed and whether the model checked it, and fails
/// on any violated property (`ConformsToModel` among them).
fn run_noting(scenario: &Scenario) {
    let report = run(scenario);
    SEEN.with(|seen| seen.borrow_mut().extend(report.races()));
    CONFORMED.with(|c| {
        let mut c = c.borrow_mut();
        match report.conformance {
            Conformance::Conforms { .. } => c.0 += 1,
            Conformance::Unmapped(_) => c.1 += 1,
            Conformance::NotRecorded | Conformance::Diverges => {}
        }
    });
    report.assert_ok();
}

/// Asserts that the runs since the last call showed every race the busy scenarios exist to
/// exercise, while their consumers ran: expiry, redelivery, deletes, crashes, releases and,
/// with `max_receives`, dead-lettering. Under the random scheduler also the refusals, counted
/// by the consumers that were refused (and matched against the log's rejections by the
/// harness): a stale delete, a stale release and a release after its delivery lapsed, and with
/// heartbeats a stale heartbeat and a lapsed one; with the ledger, a duplicate skipped. PCT at
/// depth 3 rarely slows a consumer across an expiry and a redelivery of its message, which a
/// stale refusal needs (measured: 3,000 PCT runs of `busy_Immediate` showed none), so only
/// `random` asks for them.
fn assert_not_vacuous(what: &str, scenario: &Scenario, random: bool) {
    let seen = SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()));
    let mut wanted = vec![
        Race::Expired,
        Race::Redelivered,
        Race::Deleted,
        Race::Crashed,
        Race::Released,
    ];
    if scenario.max_receives.is_some() {
        wanted.push(Race::DeadLettered);
    }
    if random {
        wanted.extend([
            Race::StaleDeleteRefused,
            Race::StaleReleaseRefused,
            Race::LapsedReleaseRefused,
        ]);
        if scenario.heartbeat {
            wanted.extend([Race::StaleHeartbeatRefused, Race::LapsedHeartbeatRefused]);
        }
    }
    if scenario.effects == EffectMode::Idempotent {
        wanted.push(Race::DuplicateSkipped);
    }
    let (conformed, unmapped) = CONFORMED.with(|c| std::mem::take(&mut *c.borrow_mut()));
    assert!(
        conformed > 0 && (scenario.heartbeat || unmapped == 0),
        "{what}: {conformed} runs conformed to the model, {unmapped} could not be mapped"
    );
    eprintln!(
        "{what}: {conformed} runs conformed to the queue model, {unmapped} had a heartbeat that moved a deadline (not mapped)"
    );
    let missing: Vec<Race> = wanted.into_iter().filter(|w| !seen.contains(w)).collect();
    assert!(
        missing.is_empty(),
        "{what}: no run showed {missing:?}; seen {seen:?}"
    );
}

/// The small scenarios keep every property, and their own claims (`scenarios::claim`), under
/// random and PCT schedules.
#[test]
fn small_scenarios_hold_under_shuttle() {
    for (name, scenario) in scenarios::small() {
        let claim = scenarios::claim(name);
        let s = scenario.clone();
        shuttle::check_random(
            move || {
                let report = run(&s);
                report.assert_ok();
                claim(&report);
            },
            1_000,
        );
        shuttle::check_pct(
            move || {
                let report = run(&scenario);
                report.assert_ok();
                claim(&report);
            },
            1_000,
            PCT_DEPTH,
        );
    }
}

/// Four consumers with crashes, failed processing (released for retry by each policy) and clock
/// jumps: every message ends deleted or dead-lettered exactly once (`EveryMessageResolved`),
/// none is lost (`NoMessageLost`), and none is dead-lettered before `max_receives` receives
/// (`DeadLetterOnlyAfterMaxReceives`); with the idempotency ledger, each effect happens at most
/// once (`EffectAtMostOnce`). Random scheduler.
#[test]
fn busy_consumers_resolve_every_message_random() {
    for (name, scenario) in scenarios::busy_all() {
        let s = scenario.clone();
        shuttle::check_random(move || run_noting(&s), RANDOM_ITERATIONS);
        assert_not_vacuous(&name, &scenario, true);
    }
}

/// As [`busy_consumers_resolve_every_message_random`], under PCT.
#[test]
fn busy_consumers_resolve_every_message_pct() {
    for (name, scenario) in scenarios::busy_all() {
        let s = scenario.clone();
        shuttle::check_pct(move || run_noting(&s), PCT_ITERATIONS, PCT_DEPTH);
        assert_not_vacuous(&name, &scenario, false);
    }
}

thread_local! {
    /// The refusal-race outcomes the runs on this thread have shown.
    static OUTCOMES: RefCell<BTreeSet<LateOutcome>> = const { RefCell::new(BTreeSet::new()) };
}

/// A slow consumer's heartbeat or release races its own lapse and another consumer's receive
/// (`refusals::late_race`): accepted exactly before the deadline; refused from it on, as
/// `MessageNotInflight` or, once the other consumer has the message, `StaleReceipt`; a refusal
/// changes nothing and leaves the message to the other consumer. Random and PCT schedules;
/// every outcome must show up. Reference: SQS `ChangeMessageVisibility`.
#[test]
fn late_heartbeat_and_release_are_refused_from_the_deadline_on() {
    for late in [Late::Heartbeat, Late::Release] {
        let note = move || {
            let outcome = refusals::late_race(late);
            OUTCOMES.with(|o| o.borrow_mut().insert(outcome));
        };
        shuttle::check_random(note, 1_000);
        shuttle::check_pct(note, 1_000, PCT_DEPTH);
        let seen = OUTCOMES.with(|o| std::mem::take(&mut *o.borrow_mut()));
        assert_eq!(
            seen,
            BTreeSet::from([
                LateOutcome::Accepted,
                LateOutcome::NotInflight,
                LateOutcome::Stale
            ]),
            "{late:?}: outcomes seen"
        );
    }
}

/// Receipts presented to a queue made at the same time by another thread are `UnknownReceipt`
/// and change nothing (`refusals::foreign_receipts_race`). Reference: SQS
/// `ReceiptHandleIsInvalid`.
#[test]
fn receipts_of_another_queue_are_unknown() {
    shuttle::check_random(refusals::foreign_receipts_race, 1_000);
    shuttle::check_pct(refusals::foreign_receipts_race, 1_000, PCT_DEPTH);
}

/// The seed of [`shuttle_finds_duplicate_not_deleted`]'s search.
const DUPLICATE_NOT_DELETED_SEED: u64 = 1;

/// Shuttle finds `duplicate-not-deleted`: consumers whose ledger says a message's effect already
/// happened skip it without deleting, so it comes back until it is dead-lettered although its
/// work is done. Property `DeadLetterOnlyAfterFailures` (the model's). The search is seeded, so
/// it always finds the same run, whose violation is asserted exactly; the fixed consumers
/// survive the same search (same workload, same seed, as many runs).
#[test]
fn shuttle_finds_duplicate_not_deleted() {
    let buggy = Scenario {
        deviation: Some(Deviation::DuplicateNotDeleted),
        ..scenarios::busy_idempotent()
    };
    let run_checked = |scenario: Scenario| {
        move || {
            let report = run(&scenario);
            let failure = report.violations.first().map(ToString::to_string);
            (report, failure)
        }
    };
    let found = shuttle_search::search_random(
        run_checked(buggy),
        DUPLICATE_NOT_DELETED_SEED,
        RANDOM_ITERATIONS,
    )
    .expect("shuttle found no dead-lettered message whose work was done");
    assert_eq!(
        found.message,
        "DeadLetterOnlyAfterFailures violated at step 50: m0 was dead-lettered, but c2 had finished its delivery #3 (step 46) and let it go without deleting it",
        "run {} of the search:\n{}",
        found.iteration,
        super::harness::render_events(&found.report.events)
    );
    if let Some(found) = shuttle_search::search_random(
        run_checked(scenarios::busy_idempotent()),
        DUPLICATE_NOT_DELETED_SEED,
        RANDOM_ITERATIONS,
    ) {
        panic!(
            "the fixed consumers failed in run {}: {}",
            found.iteration, found.message
        );
    }
}

thread_local! {
    /// The steps at which the deviation runs on this thread left `correct` (`None`: the bug
    /// did not act in that run).
    static LEFT_CORRECT: RefCell<Vec<Option<usize>>> = const { RefCell::new(Vec::new()) };
}

/// Random-scheduler runs per deviation in
/// [`deviation_runs_conform_to_their_variant_and_leave_correct_where_the_bug_acts`].
const DEVIATION_ITERATIONS: usize = 300;

/// Every deviation's runs are behaviours of the model of that bug variant, and leave the
/// `correct` model exactly at the step where the bug acts (`harness::bug_step`), or nowhere
/// if it did not act; some run of each leaves it. The busy workload with the idempotency
/// ledger, without heartbeats (an accepted heartbeat that moves a deadline has no model
/// action yet) and without failed processing (the model's `delete-before-process` consumer
/// does not release a message it has deleted; the implementation's does, and is refused).
/// Property violations of the bug are expected here; `ConformsToModel` ones are not.
#[test]
fn deviation_runs_conform_to_their_variant_and_leave_correct_where_the_bug_acts() {
    for deviation in Deviation::ALL {
        let scenario = Scenario {
            deviation: Some(deviation),
            effects: EffectMode::Idempotent,
            heartbeat: false,
            faults: super::harness::Faults::Random {
                crash_before_per_mille: 150,
                crash_after_per_mille: 100,
                fail_per_mille: 0,
            },
            ..Scenario::busy()
        };
        let s = scenario.clone();
        shuttle::check_random(
            move || {
                let report = run(&s);
                if let Some(v) = report
                    .violations
                    .iter()
                    .find(|v| v.property == super::harness::property::CONFORMS_TO_MODEL)
                {
                    panic!("{v}\n{}", super::harness::render_events(&report.events));
                }
                let Conformance::Conforms { leaves_correct_at } = report.conformance else {
                    panic!("not checked against the model: {:?}", report.conformance);
                };
                LEFT_CORRECT.with(|l| l.borrow_mut().push(leaves_correct_at));
            },
            DEVIATION_ITERATIONS,
        );
        let left = LEFT_CORRECT.with(|l| std::mem::take(&mut *l.borrow_mut()));
        let acted = left.iter().filter(|l| l.is_some()).count();
        eprintln!(
            "{}: {} runs conformed to it; {acted} left queue/correct where the bug acted",
            deviation.id(),
            left.len()
        );
        assert_eq!(left.len(), DEVIATION_ITERATIONS, "{}", deviation.id());
        assert!(
            acted > 0,
            "{}: the bug never acted in {} runs",
            deviation.id(),
            left.len()
        );
    }
}
