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
    /// How many runs on this thread were checked against the model and conformed, and how
    /// many runs there were.
    static CONFORMED: RefCell<(usize, usize)> = const { RefCell::new((0, 0)) };
}

/// Notes whether the model checked `report`'s run, then fails on any violated property
/// (`ConformsToModel` among them: a run that diverges or cannot be mapped).
fn note_conformance(report: &super::harness::Report) {
    CONFORMED.with(|c| {
        let mut c = c.borrow_mut();
        c.1 += 1;
        if let Conformance::Conforms { .. } = report.conformance {
            c.0 += 1;
        }
    });
    report.assert_ok();
}

/// Asserts that every run since the last call was checked against the queue model and
/// conformed, and says how many there were.
fn assert_every_run_conformed(what: &str) {
    let (conformed, runs) = CONFORMED.with(|c| std::mem::take(&mut *c.borrow_mut()));
    assert!(
        runs > 0 && conformed == runs,
        "{what}: {conformed} of {runs} runs conformed to the queue model"
    );
    eprintln!("{what}: all {runs} runs checked against the queue model, every one conformed");
}

/// Runs the scenario, notes the races it showed and whether the model checked it, and fails
/// on any violated property (`ConformsToModel` among them).
fn run_noting(scenario: &Scenario) {
    let report = run(scenario);
    SEEN.with(|seen| seen.borrow_mut().extend(report.races()));
    note_conformance(&report);
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
    assert_every_run_conformed(what);
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
                note_conformance(&report);
                claim(&report);
            },
            1_000,
        );
        assert_every_run_conformed(&format!("{name} (random)"));
        shuttle::check_pct(
            move || {
                let report = run(&scenario);
                note_conformance(&report);
                claim(&report);
            },
            1_000,
            PCT_DEPTH,
        );
        assert_every_run_conformed(&format!("{name} (PCT)"));
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
        assert_not_vacuous(&format!("{name} (random)"), &scenario, true);
    }
}

/// As [`busy_consumers_resolve_every_message_random`], under PCT.
#[test]
fn busy_consumers_resolve_every_message_pct() {
    for (name, scenario) in scenarios::busy_all() {
        let s = scenario.clone();
        shuttle::check_pct(move || run_noting(&s), PCT_ITERATIONS, PCT_DEPTH);
        assert_not_vacuous(&format!("{name} (PCT)"), &scenario, false);
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
/// ledger and heartbeats (each a one-off `change_visibility`, the model's
/// `ChangeVisibility`), crashes and failed processing (a `delete-before-process` consumer
/// releases the message it deleted, and is refused). Property violations of the bug are
/// expected here; `ConformsToModel` ones are not.
#[test]
fn deviation_runs_conform_to_their_variant_and_leave_correct_where_the_bug_acts() {
    for deviation in Deviation::ALL {
        let scenario = Scenario {
            deviation: Some(deviation),
            ..scenarios::busy_idempotent()
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
                if released_after_own_delete(&report.events) {
                    RELEASED_AFTER_DELETE.with(|n| *n.borrow_mut() += 1);
                }
            },
            DEVIATION_ITERATIONS,
        );
        let left = LEFT_CORRECT.with(|l| std::mem::take(&mut *l.borrow_mut()));
        let released = RELEASED_AFTER_DELETE.with(|n| std::mem::take(&mut *n.borrow_mut()));
        let acted = left.iter().filter(|l| l.is_some()).count();
        eprintln!(
            "{}: {} runs conformed to it; {acted} left queue/correct where the bug acted; {released} released a message their consumer had deleted",
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
        if deviation == Deviation::DeleteBeforeProcess {
            assert!(
                released > 0,
                "no delete-before-process run released a message its consumer had deleted"
            );
        }
    }
}

thread_local! {
    /// Deviation runs on this thread in which a consumer released a delivery it had deleted.
    static RELEASED_AFTER_DELETE: RefCell<usize> = const { RefCell::new(0) };
}

/// Whether a consumer released (and was refused) a delivery it had itself deleted: the
/// `delete-before-process` consumer whose processing failed after its delete.
fn released_after_own_delete(events: &[coordlab_impls::queue::EventRecord]) -> bool {
    use coordlab_impls::queue::{Event, ReceiptOperation};
    let mut deleted = BTreeSet::new();
    events.iter().any(|r| match r.event {
        Event::Delete {
            message,
            delivery,
            consumer,
            ..
        } => {
            deleted.insert((message, delivery, consumer));
            false
        }
        Event::Reject {
            operation: ReceiptOperation::Release,
            message,
            delivery,
            consumer,
            ..
        } => deleted.contains(&(message, delivery, consumer)),
        _ => false,
    })
}
