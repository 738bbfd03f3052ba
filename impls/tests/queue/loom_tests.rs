//! The small scenarios under `loom::model`: every interleaving of the main thread, two
//! consumers and the clock driver, up to a preemption bound; and the refusal races
//! (`refusals`): a late heartbeat or release against its own lapse and another consumer's
//! receive, and two queues made at the same time (the shared queue-id counter) refusing each
//! other's receipts.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release --target-dir
//! target/loom`. Each test states its preemption bound and what it cost when written
//! (executions explored, and wall time measured alone on the 2-core development machine,
//! release build); each prints its execution count and time (`--nocapture` to see them).
//! Bounds were chosen so the suite stays well under three minutes; the next bound up costs
//! 5-20x more. Each test also asserts that the races it is about happened in some execution
//! (an expiry, a redelivery, a stale delete refused, ...: `harness::Race`), so its properties
//! did not hold vacuously. What loom checks here is that no interleaving
//! of the queue's operations (each atomic under the queue's lock), the harness's effect store
//! and the clock's atomic breaks a property; the bound caps how many times a thread may be
//! preempted, so bugs needing more preemptions than that go unexplored.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::time::Instant;

use super::harness::{Deviation, Race, Report, Scenario, property, run};
use super::refusals::{self, Late, LateOutcome};
use super::scenarios;

thread_local! {
    static EXECUTIONS: Cell<u64> = const { Cell::new(0) };
    /// The races the executions of the current exploration showed (loom runs every execution
    /// on the test's own thread).
    static RACES: RefCell<BTreeSet<Race>> = const { RefCell::new(BTreeSet::new()) };
}

/// Explores `scenario` with at most `preemptions` preemptions per execution; panics on the
/// first violated property, or on the first execution that `claim` rejects. Returns the number
/// of executions and the races seen across them.
fn explore_with(
    name: &str,
    preemptions: usize,
    scenario: Scenario,
    claim: impl Fn(&Report) + Send + Sync + 'static,
) -> (u64, BTreeSet<Race>) {
    RACES.with(|r| r.borrow_mut().clear());
    let executions = explore_fn(name, preemptions, move || {
        let report = run(&scenario);
        RACES.with(|r| r.borrow_mut().extend(report.races()));
        report.assert_ok();
        claim(&report);
    });
    (
        executions,
        RACES.with(|r| std::mem::take(&mut *r.borrow_mut())),
    )
}

/// Explores `scenario` (see [`explore_with`]), panics on the first violated property, and
/// asserts that every race in `wanted` happened in some execution: the properties held, and
/// not because the interleavings they are about never came up.
fn explore_expecting(name: &str, preemptions: usize, scenario: Scenario, wanted: &[Race]) {
    explore_claiming(name, preemptions, scenario, wanted, |_| {});
}

/// [`explore_expecting`], with a claim of its own checked on every execution's report.
fn explore_claiming(
    name: &str,
    preemptions: usize,
    scenario: Scenario,
    wanted: &[Race],
    claim: impl Fn(&Report) + Send + Sync + 'static,
) {
    let (executions, seen) = explore_with(name, preemptions, scenario, claim);
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

/// Explores `scenario` with at most `preemptions` preemptions per execution; panics on the
/// first violated property. Returns the number of executions.
fn explore(name: &str, preemptions: usize, scenario: Scenario) -> u64 {
    explore_with(name, preemptions, scenario, |_| {}).0
}

/// Explores `f` with at most `preemptions` preemptions per execution; panics on the first
/// failing execution. Returns the number of executions.
fn explore_fn(name: &str, preemptions: usize, f: impl Fn() + Send + Sync + 'static) -> u64 {
    EXECUTIONS.with(|n| n.set(0));
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    let start = Instant::now();
    builder.check(move || {
        EXECUTIONS.with(|n| n.set(n.get() + 1));
        f();
    });
    let executions = EXECUTIONS.with(Cell::get);
    eprintln!(
        "loom {name}: preemption bound {preemptions}, {executions} executions, {:.1?}",
        start.elapsed()
    );
    executions
}

/// Two consumers race receive/delete for one message against the clock expiring it: at most
/// one delete succeeds and the message is never lost. Some interleaving expires the first
/// delivery, redelivers the message and refuses the slow consumer's stale delete.
/// Bound 4: 132,250 executions, 17s.
#[test]
fn receive_delete_expiry_never_loses_or_double_deletes() {
    explore_expecting(
        "receive_delete_expiry",
        4,
        scenarios::receive_delete_expiry(),
        &[
            Race::Expired,
            Race::Redelivered,
            Race::StaleDeleteRefused,
            Race::Deleted,
        ],
    );
}

/// Consumers heartbeat with `change_visibility` while the clock expires their lease: a
/// refused heartbeat (stale, or after its delivery lapsed) abandons the work, and no message
/// is lost or deleted twice. Some interleaving refuses a stale heartbeat, one a lapsed one.
/// Bound 3: 33,320 executions, 9s (34,132 before a heartbeat after a lapse was refused: the
/// refused consumer now stops there).
#[test]
fn heartbeat_vs_expiry_never_loses_or_double_deletes() {
    explore_expecting(
        "heartbeat_vs_expiry",
        3,
        scenarios::heartbeat_vs_expiry(),
        &[
            Race::Expired,
            Race::Redelivered,
            Race::StaleHeartbeatRefused,
            Race::LapsedHeartbeatRefused,
            Race::Deleted,
        ],
    );
}

/// Every delivery fails and is released (retry at once); with `max_receives = 2` every
/// execution ends with the message in the dead-letter queue exactly once, after exactly two
/// receives, and never deleted ([`scenarios::assert_dead_lettered_once`]) — the sweeper never
/// gets it. Some interleaving has a release refused as stale and one as lapsed.
/// Bound 3: 89,066 executions, 11s (14,036 with one attempt per consumer, when about a third
/// of the executions ended with the sweeper deleting the message and passed).
#[test]
fn release_until_dead_letter_ends_in_the_dead_letter_queue_once() {
    explore_claiming(
        "release_until_dead_letter",
        3,
        scenarios::release_until_dead_letter(),
        &[
            Race::Released,
            Race::DeadLettered,
            Race::Expired,
            Race::StaleReleaseRefused,
            Race::LapsedReleaseRefused,
        ],
        scenarios::assert_dead_lettered_once,
    );
}

/// A consumer crashes after processing; redelivery races the clock; the idempotency ledger
/// keeps the effect to at most once. Some interleaving redelivers the processed message and
/// the ledger skips its duplicate.
/// Bound 3: 70,681 executions, 9s.
#[test]
fn crash_and_redeliver_applies_effect_at_most_once() {
    explore_expecting(
        "crash_and_redeliver_idempotent",
        3,
        scenarios::crash_and_redeliver_idempotent(),
        &[
            Race::Crashed,
            Race::Expired,
            Race::Redelivered,
            Race::DuplicateSkipped,
        ],
    );
}

/// The slow-consumer-then-crash race keeps the message: some interleaving has the slow
/// consumer's stale delete, and the fixed protocol refuses it.
/// Bound 3: 17,977 executions, 4s.
#[test]
fn slow_consumer_then_crash_loses_nothing() {
    explore_expecting(
        "slow_consumer_then_crash",
        3,
        scenarios::slow_consumer_then_crash(),
        &[
            Race::Expired,
            Race::Redelivered,
            Race::Crashed,
            Race::StaleDeleteRefused,
        ],
    );
}

/// A consumer crashing before processing loses nothing: the message is redelivered.
/// Bound 3: 17,957 executions, 5s.
#[test]
fn crash_before_process_loses_nothing() {
    explore_expecting(
        "crash_before_process",
        3,
        scenarios::crash_before_process(),
        &[
            Race::Crashed,
            Race::Expired,
            Race::Redelivered,
            Race::Deleted,
        ],
    );
}

/// Three consumers race for one message against the clock (5 threads, loom's maximum).
/// Bound 2: 94,786 executions, 13s. (Bound 3: 1,788,269 executions, 268s: too slow for the
/// suite.)
#[test]
fn three_consumers_race_never_loses_or_double_deletes() {
    explore_expecting(
        "three_consumers_race",
        2,
        scenarios::three_consumers_race(),
        &[Race::Expired, Race::Redelivered, Race::StaleDeleteRefused],
    );
}

/// Two messages, two attempts per consumer, a crash, and the clock: one message's redelivery
/// interleaves with the other's first delivery.
/// Bound 3: 195,781 executions, 31s.
#[test]
fn two_messages_with_crash_lose_nothing() {
    explore_expecting(
        "two_messages_with_crash",
        3,
        scenarios::two_messages_with_crash(),
        &[
            Race::Crashed,
            Race::Expired,
            Race::Redelivered,
            Race::StaleDeleteRefused,
        ],
    );
}

/// Explores [`refusals::late_race`] for `late` and asserts that every outcome came up: the
/// operation accepted before the deadline, refused as not in flight, and refused as stale.
fn explore_late_race(late: Late, preemptions: usize) {
    thread_local! {
        static OUTCOMES: RefCell<BTreeSet<LateOutcome>> = const { RefCell::new(BTreeSet::new()) };
    }
    OUTCOMES.with(|o| o.borrow_mut().clear());
    let executions = explore_fn(&format!("late_race({late:?})"), preemptions, move || {
        let outcome = refusals::late_race(late);
        OUTCOMES.with(|o| o.borrow_mut().insert(outcome));
    });
    let seen = OUTCOMES.with(|o| std::mem::take(&mut *o.borrow_mut()));
    assert_eq!(
        seen,
        BTreeSet::from([
            LateOutcome::Accepted,
            LateOutcome::NotInflight,
            LateOutcome::Stale
        ]),
        "{late:?}: outcomes seen in {executions} executions"
    );
}

/// A slow consumer's heartbeat races its own lapse (the clock moves 9 ms, then 1 ms to the
/// deadline) and another consumer's receive: accepted exactly before the deadline, refused
/// from it on with `MessageNotInflight` (or `StaleReceipt` once the other consumer has the
/// message), and a refusal changes nothing and leaves the message to the other consumer
/// (`refusals::late_race`); every one of the three outcomes comes up. Reference: SQS
/// `ChangeMessageVisibility`.
/// Bound 4: 14,689 executions, 1s. (Bound 5: 36,543 executions.)
#[test]
fn late_heartbeat_is_refused_from_the_deadline_on() {
    explore_late_race(Late::Heartbeat, 4);
}

/// As [`late_heartbeat_is_refused_from_the_deadline_on`], for `release` (which, accepted,
/// would push the message back by its backoff).
/// Bound 4: 14,689 executions, 1s.
#[test]
fn late_release_is_refused_from_the_deadline_on() {
    explore_late_race(Late::Release, 4);
}

/// Two threads make a queue each at the same time, so their ids come from the shared counter
/// in every order loom can produce; each presents its receipt (m0, delivery #1, like the other
/// queue's) to the other queue while that queue's owner deletes with its own: every foreign
/// receipt is `UnknownReceipt` and changes nothing (`refusals::foreign_receipts_race`).
/// Reference: SQS `ReceiptHandleIsInvalid`.
/// Bound 4: 2,005 executions, 0.2s.
#[test]
fn receipts_of_a_queue_made_concurrently_are_unknown_elsewhere() {
    explore_fn("foreign_receipts_race", 4, refusals::foreign_receipts_race);
}

/// Runs `scenario` with `deviation` under loom and returns the panic message of the violation
/// loom finds (panics if it finds none).
fn loom_finds(deviation: Deviation, preemptions: usize, scenario: Scenario) -> String {
    let scenario = Scenario {
        deviation: Some(deviation),
        ..scenario
    };
    let found = std::panic::catch_unwind(|| explore(deviation.id(), preemptions, scenario));
    let payload = found.expect_err("loom explored every interleaving and found no violation");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// loom finds `stale-receipt-delete`: the slow consumer's stale delete removes the copy the
/// crashed consumer held. Property `NoMessageLost`.
/// Bound 3 (it stops at the first failing interleaving).
#[test]
fn loom_finds_stale_receipt_delete() {
    let message = loom_finds(
        Deviation::StaleReceiptDelete,
        3,
        scenarios::slow_consumer_then_crash(),
    );
    assert!(message.contains(property::NO_MESSAGE_LOST), "{message}");
}

/// loom finds `delete-before-process`: the consumer deletes, then crashes before processing.
/// Property `NoMessageLost`.
/// Bound 3 (it stops at the first failing interleaving).
#[test]
fn loom_finds_delete_before_process() {
    let message = loom_finds(
        Deviation::DeleteBeforeProcess,
        3,
        scenarios::crash_before_process(),
    );
    assert!(message.contains(property::NO_MESSAGE_LOST), "{message}");
}
