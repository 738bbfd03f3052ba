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
//! 5-20x more. What loom checks here is that no interleaving
//! of the queue's operations (each atomic under the queue's lock), the harness's effect store
//! and the clock's atomic breaks a property; the bound caps how many times a thread may be
//! preempted, so bugs needing more preemptions than that go unexplored.

use std::cell::Cell;
use std::time::Instant;

use super::harness::{Deviation, Scenario, property, run};
use super::refusals::{self, Late};
use super::scenarios;

thread_local! {
    static EXECUTIONS: Cell<u64> = const { Cell::new(0) };
}

/// Explores `scenario` with at most `preemptions` preemptions per execution; panics on the
/// first violated property. Returns the number of executions.
fn explore(name: &str, preemptions: usize, scenario: Scenario) -> u64 {
    explore_fn(name, preemptions, move || run(&scenario).assert_ok())
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
/// one delete succeeds and the message is never lost.
/// Bound 4: 132,250 executions, 17s.
#[test]
fn receive_delete_expiry_never_loses_or_double_deletes() {
    explore(
        "receive_delete_expiry",
        4,
        scenarios::receive_delete_expiry(),
    );
}

/// Consumers heartbeat with `change_visibility` while the clock expires their lease: a
/// refused (stale) heartbeat abandons the work, and no message is lost or deleted twice.
/// Bound 3: 33,320 executions, 9s (34,132 before a heartbeat after a lapse was refused: the
/// refused consumer now stops there).
#[test]
fn heartbeat_vs_expiry_never_loses_or_double_deletes() {
    explore("heartbeat_vs_expiry", 3, scenarios::heartbeat_vs_expiry());
}

/// Both consumers fail and release; with `max_receives = 2` the message ends in the
/// dead-letter queue exactly once, never before its second receive.
/// Bound 3: 14,036 executions, 4s.
#[test]
fn release_dead_letters_only_after_max_receives() {
    explore(
        "release_until_dead_letter",
        3,
        scenarios::release_until_dead_letter(),
    );
}

/// A consumer crashes after processing; redelivery races the clock; the idempotency ledger
/// keeps the effect to at most once.
/// Bound 3: 70,681 executions, 9s.
#[test]
fn crash_and_redeliver_applies_effect_at_most_once() {
    explore(
        "crash_and_redeliver_idempotent",
        3,
        scenarios::crash_and_redeliver_idempotent(),
    );
}

/// The slow-consumer-then-crash race keeps the message (the fixed protocol rejects the slow
/// consumer's stale delete).
/// Bound 3: 17,977 executions, 4s.
#[test]
fn slow_consumer_then_crash_loses_nothing() {
    explore(
        "slow_consumer_then_crash",
        3,
        scenarios::slow_consumer_then_crash(),
    );
}

/// A consumer crashing before processing loses nothing (the message is redelivered).
/// Bound 3: 17,957 executions, 5s.
#[test]
fn crash_before_process_loses_nothing() {
    explore("crash_before_process", 3, scenarios::crash_before_process());
}

/// Three consumers race for one message against the clock (5 threads, loom's maximum).
/// Bound 2: 94,786 executions, 13s. (Bound 3: 1,788,269 executions, 268s: too slow for the
/// suite.)
#[test]
fn three_consumers_race_never_loses_or_double_deletes() {
    explore("three_consumers_race", 2, scenarios::three_consumers_race());
}

/// Two messages, two attempts per consumer, a crash, and the clock: one message's redelivery
/// interleaves with the other's first delivery.
/// Bound 3: 195,781 executions, 31s.
#[test]
fn two_messages_with_crash_lose_nothing() {
    explore(
        "two_messages_with_crash",
        3,
        scenarios::two_messages_with_crash(),
    );
}

/// A slow consumer's heartbeat races its own lapse (the clock moves 9 ms, then 1 ms to the
/// deadline) and another consumer's receive: accepted exactly before the deadline, refused
/// from it on with `MessageNotInflight` (or `StaleReceipt` once the other consumer has the
/// message), and a refusal changes nothing and leaves the message to the other consumer
/// (`refusals::late_race`). Reference: SQS `ChangeMessageVisibility`.
/// Bound 4: 14,689 executions, 1s. (Bound 5: 36,543 executions.)
#[test]
fn late_heartbeat_is_refused_from_the_deadline_on() {
    explore_fn("late_race(heartbeat)", 4, || {
        refusals::late_race(Late::Heartbeat);
    });
}

/// As [`late_heartbeat_is_refused_from_the_deadline_on`], for `release` (which, accepted,
/// would push the message back by its backoff).
/// Bound 4: 14,689 executions, 1s.
#[test]
fn late_release_is_refused_from_the_deadline_on() {
    explore_fn("late_race(release)", 4, || {
        refusals::late_race(Late::Release);
    });
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

/// Measures one scenario at one bound (not part of the suite):
/// `LOOM_PROBE=<scenario>:<bound> RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release
/// --target-dir target/loom -- --ignored probe --nocapture`.
#[test]
#[ignore]
fn probe() {
    let spec = std::env::var("LOOM_PROBE").expect("LOOM_PROBE=<scenario>:<bound>");
    let (name, bound) = spec.split_once(':').expect("LOOM_PROBE=<scenario>:<bound>");
    let scenario = scenarios::small()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no small scenario named {name}"))
        .1;
    explore(name, bound.parse().expect("a number"), scenario);
}
