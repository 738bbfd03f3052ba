//! The deque under `loom::model`: every interleaving of the owner (the model's main thread)
//! and one or two thieves, and every value each load may return under loom's memory model
//! (C11 release/acquire, `SeqCst` fences), up to a preemption bound.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release --target-dir
//! target/loom --test deque`. Each test states its preemption bound ("none": exhaustive) and
//! what it cost when written (executions explored, and wall time measured alone on the
//! 2-core development machine, release build); each prints both (`--nocapture` to see
//! them). Capacity is 2 everywhere, so a third push reuses slot 0 (tokio shrinks its loom
//! queue for the same reason). The whole file took about 30 s with `--test-threads=1` (the
//! two-thief test 29 s of it; the `loom_finds_*` tests write loom's checkpoint before every
//! execution, 3 s for the longest search).
//!
//! Each correct-deque test asserts the races it exists for happened in some explored
//! execution (`harness::Race`: the owner losing the last-task CAS, a slot reused while a thief
//! held a stale read, ...), so it cannot pass because its scenario stopped racing. Each
//! `loom_finds_*` test runs one scenario with one deviation and asserts loom reports the
//! property the bug breaks; it also writes (with `COORDLAB_BLESS=1`) or compares the committed
//! counterexample of that failing execution (`counterexamples`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::time::Instant;

use coordlab_impls::deque::Deviation;

use super::counterexamples;
use super::harness::{Race, Scenario, run, scenarios};

thread_local! {
    static EXECUTIONS: Cell<u64> = const { Cell::new(0) };
    /// The races the executions of the current exploration showed (loom runs every execution
    /// on the test's own thread).
    static RACES: RefCell<BTreeSet<Race>> = const { RefCell::new(BTreeSet::new()) };
}

/// A loom builder with `preemptions` as its bound (`None`: exhaustive).
pub fn builder(preemptions: Option<usize>) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemptions;
    builder
}

/// Runs `f` in every execution `builder` explores, counting them (see [`executions`]).
pub fn count_executions(builder: &loom::model::Builder, f: impl Fn() + Send + Sync + 'static) {
    EXECUTIONS.with(|n| n.set(0));
    builder.check(move || {
        EXECUTIONS.with(|n| n.set(n.get() + 1));
        f();
    });
}

/// Runs `scenario` in every execution `builder` explores; panics on the first violated
/// property. Returns the number of executions and the races seen.
pub fn explore_with(
    name: &str,
    builder: &loom::model::Builder,
    scenario: Scenario,
) -> (u64, BTreeSet<Race>) {
    RACES.with(|r| r.borrow_mut().clear());
    let start = Instant::now();
    count_executions(builder, move || {
        let report = run(&scenario);
        RACES.with(|r| r.borrow_mut().extend(report.races()));
        report.assert_ok();
    });
    let executions = executions();
    eprintln!(
        "loom {name}: preemption bound {:?}, {executions} executions, {:.1?}",
        builder.preemption_bound,
        start.elapsed()
    );
    (
        executions,
        RACES.with(|r| std::mem::take(&mut *r.borrow_mut())),
    )
}

/// The number of executions run so far by the current exploration (the failing one included,
/// when it panicked).
pub fn executions() -> u64 {
    EXECUTIONS.with(Cell::get)
}

/// Explores `scenario` and asserts that every race in `wanted` happened in some execution.
fn explore_expecting(name: &str, preemptions: Option<usize>, scenario: Scenario, wanted: &[Race]) {
    let (executions, seen) = explore_with(name, &builder(preemptions), scenario);
    let missing: Vec<Race> = wanted
        .iter()
        .copied()
        .filter(|r| !seen.contains(r))
        .collect();
    assert!(
        missing.is_empty(),
        "{name}: no interleaving out of {executions} exercised {missing:?} (seen {seen:?}); the \
         checks passed vacuously for them"
    );
}

/// The owner pushes one task and pops it while a thief steals once: exactly one of them gets
/// it, in every execution. Some execution has the owner lose the last-task CAS to the thief,
/// one has it win, one has the thief steal. Reference: Chase & Lev 2005, `popBottom`'s CAS on
/// the last element.
/// Bound: none (exhaustive). 160 executions, 0.01s.
#[test]
fn last_task_goes_to_exactly_one_taker() {
    explore_expecting(
        "last_task_race",
        None,
        scenarios::LAST_TASK_RACE,
        &[
            Race::OwnerLostLastTask,
            Race::OwnerWonLastTask,
            Race::Stolen,
        ],
    );
}

/// Two tasks, one pop, a thief stealing twice: every task is taken exactly once and only
/// after its push published it. Some execution has the owner lose the last-task CAS, one a
/// steal retried. This is the scenario whose executions `relaxed-publish` and
/// `no-seqcst-fence` break. Reference: Lê et al. 2013, Fig. 1.
/// Bound: none (exhaustive). 1,833 executions, 0.07s.
#[test]
fn two_tasks_two_steals_take_each_task_once() {
    explore_expecting(
        "two_tasks_two_steals",
        None,
        scenarios::TWO_TASKS_TWO_STEALS,
        &[
            Race::OwnerLostLastTask,
            Race::OwnerWonLastTask,
            Race::Stolen,
            Race::StealRetried,
        ],
    );
}

/// Capacity 2, four pushes with two pops between: the fourth writes index 2 into slot 0 once
/// index 0 is taken; a thief that read slot 0 for index 0 and is overtaken by the owner
/// taking index 0 and overwriting the slot loses its CAS and discards what it read. Some
/// execution shows exactly that.
/// Reference: Chase & Lev 2005, §3 (the circular array).
/// Bound: none (exhaustive). 2,939 executions, 0.1s.
#[test]
fn wrap_around_never_hands_out_an_overwritten_slot() {
    explore_expecting(
        "wrap_around_slow_thief",
        None,
        scenarios::WRAP_AROUND_SLOW_THIEF,
        &[Race::SlotReused, Race::StaleSlotReadDiscarded, Race::Stolen],
    );
}

/// Push, pop, push, pop against one steal: losing the last-task race, the owner restores
/// `bottom`, and its next push is seen. Some execution has the owner lose the race and push
/// again afterwards.
/// Bound: none (exhaustive). 1,432 executions, 0.05s.
#[test]
fn owner_restores_bottom_after_losing_the_last_task() {
    explore_expecting(
        "lost_race_then_push",
        None,
        scenarios::LOST_RACE_THEN_PUSH,
        &[
            Race::OwnerLostLastTask,
            Race::OwnerWonLastTask,
            Race::Stolen,
        ],
    );
}

/// Three pushes (the third wraps around capacity 2, or is `Full`) and two pops, against two
/// thieves stealing once each: every task taken exactly once. Some execution has two takers
/// race (a steal retried, the owner losing the last task), a slot reused and a push refused.
/// tokio's `multi_stealer` loom test is the analogue.
/// Bound 5: 513,616 executions, 29s. (Bound 4: 109,028 executions, 6s; bound 3: 18,382;
/// unbounded did not finish in 5 minutes.)
#[test]
fn two_thieves_and_the_owner_take_each_task_once() {
    explore_expecting(
        "two_thieves",
        Some(5),
        scenarios::TWO_THIEVES,
        &[
            Race::StealRetried,
            Race::SlotReused,
            Race::PushFull,
            Race::Stolen,
            Race::OwnerLostLastTask,
        ],
    );
}

/// Finds `deviation` in its target's scenario (`counterexamples::targets`), asserts loom
/// reports the target's property, and compares the failing execution with the committed
/// counterexample (`COORDLAB_BLESS=1` rewrites it instead).
fn loom_finds(deviation: Deviation) {
    let target = counterexamples::target(deviation);
    let start = Instant::now();
    let found = counterexamples::find(&target);
    eprintln!(
        "loom {}: found at execution {}, {:.1?}",
        deviation.id(),
        found.execution,
        start.elapsed()
    );
    assert_eq!(
        found.violation.property,
        target.property,
        "{}: loom reported {}",
        deviation.id(),
        found.violation
    );
    counterexamples::bless_or_compare(&target, &found);
}

/// loom finds `pop-without-cas`: the owner takes the last task without the CAS while a thief
/// that already read it takes it too. Property `NoTaskLostOrDuplicated`.
/// Same scenario and bound as `last_task_goes_to_exactly_one_taker`.
#[test]
fn loom_finds_pop_without_cas() {
    loom_finds(Deviation::PopWithoutCas);
}

/// loom finds `relaxed-publish`: a thief sees the pushed `bottom` but the slot as it was
/// before the push. Property `TakenOnlyAfterPushed`. (shuttle cannot: `shuttle_tests`.)
/// Same scenario and bound as `two_tasks_two_steals_take_each_task_once`.
#[test]
fn loom_finds_relaxed_publish() {
    loom_finds(Deviation::RelaxedPublish);
}

/// loom finds `no-seqcst-fence`: the owner's pop reads a stale `top` and the thief's steal a
/// stale `bottom`, and both take the same task. Property `NoTaskLostOrDuplicated`. (shuttle
/// cannot: `shuttle_tests`.) Same scenario and bound as
/// `two_tasks_two_steals_take_each_task_once`.
#[test]
fn loom_finds_no_seqcst_fence() {
    loom_finds(Deviation::NoSeqcstFence);
}

/// loom finds `steal-read-after-cas`: the thief claims index 0, the owner wraps around and
/// writes a newer task into slot 0, the thief reads that. Property `TakenOnlyAfterPushed`.
/// Same scenario and bound as `wrap_around_never_hands_out_an_overwritten_slot`.
#[test]
fn loom_finds_steal_read_after_cas() {
    loom_finds(Deviation::StealReadAfterCas);
}

/// loom finds `no-restore-after-lost-race`: after losing the last task the owner leaves
/// `bottom` below `top`, and its next push is invisible. Property `NoTaskLostOrDuplicated`.
/// Same scenario and bound as `owner_restores_bottom_after_losing_the_last_task`.
#[test]
fn loom_finds_no_restore_after_lost_race() {
    loom_finds(Deviation::NoRestoreAfterLostRace);
}
