//! Every scenario under shuttle: the small ones and the busy ones (4 consumers, a producer,
//! random crashes and failed processing, clock jumps by a driver thread), with the random
//! scheduler and with PCT. Fresh seeds each run (shuttle prints the seed and the failing
//! schedule if one ever fails; pass the schedule to `shuttle::replay` to reproduce it).
//!
//! Each busy test also checks that its runs were not vacuous: across the iterations some
//! message was redelivered, some was dead-lettered, some was deleted, and some consumer crashed
//! (the model's `sometimes` properties `MessageRedelivered`, `MessageDeadLettered`,
//! `MessageDeleted`, plus the fault injection itself), and, where consumers heartbeat, some
//! heartbeat was refused because its delivery had lapsed.
//!
//! The refusal races (`refusals`) run here too, and must show every outcome: a late heartbeat
//! or release accepted (before the deadline), refused as not in flight, and refused as stale.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//! target/shuttle`.

use std::cell::RefCell;
use std::collections::BTreeSet;

use coordlab_impls::queue::{Event, ReceiptOperation, Rejection};

use super::harness::{Deviation, Scenario, run};
use super::refusals::{self, Late, LateOutcome};
use super::scenarios;

/// Random-scheduler iterations per busy scenario.
const RANDOM_ITERATIONS: usize = 3_000;
/// PCT iterations per busy scenario.
const PCT_ITERATIONS: usize = 3_000;
/// PCT bug depth: how many priority change points an execution gets. Most bugs need one or
/// two; 3 covers the stale-receipt schedule (expiry, redelivery, stale delete).
const PCT_DEPTH: usize = 3;

thread_local! {
    /// What the runs on this thread have shown happening (shuttle runs every task of an
    /// execution on the test's own thread).
    static SEEN: RefCell<BTreeSet<&'static str>> = const { RefCell::new(BTreeSet::new()) };
}

/// Runs the scenario, notes what happened in it, and fails on any violated property.
fn run_noting(scenario: &Scenario) {
    let report = run(scenario);
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        for record in &report.events {
            match record.event {
                Event::Receive { delivery: 2.., .. } => seen.insert("MessageRedelivered"),
                Event::MoveToDeadLetter { .. } => seen.insert("MessageDeadLettered"),
                Event::Delete { .. } => seen.insert("MessageDeleted"),
                Event::Crash { .. } => seen.insert("ConsumerCrashed"),
                Event::Release { .. } => seen.insert("MessageReleased"),
                Event::Reject {
                    operation: ReceiptOperation::ChangeVisibility,
                    reason: Rejection::MessageNotInflight,
                    ..
                } => seen.insert("HeartbeatNotInflight"),
                _ => false,
            };
        }
    });
    report.assert_ok();
}

/// Asserts that the runs since the last call showed every kind of step the busy scenarios
/// exist to exercise. A heartbeat refused after its delivery lapsed needs two clock ticks
/// between a consumer's receive and its heartbeat with no other consumer receiving in between:
/// the random scheduler produces that, PCT at depth 3 rarely does, so only `random` asks for it.
fn assert_not_vacuous(what: &str, scenario: &Scenario, random: bool) {
    let seen = SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()));
    let mut wanted = vec![
        "MessageRedelivered",
        "MessageDeleted",
        "ConsumerCrashed",
        "MessageReleased",
    ];
    if scenario.max_receives.is_some() {
        wanted.push("MessageDeadLettered");
    }
    if scenario.heartbeat && random {
        wanted.push("HeartbeatNotInflight");
    }
    for w in wanted {
        assert!(seen.contains(w), "{what}: no run showed {w}; seen {seen:?}");
    }
}

/// The small scenarios keep every property under random and PCT schedules.
#[test]
fn small_scenarios_hold_under_shuttle() {
    for (_, scenario) in scenarios::small() {
        let s = scenario.clone();
        shuttle::check_random(move || run(&s).assert_ok(), 1_000);
        shuttle::check_pct(move || run(&scenario).assert_ok(), 1_000, PCT_DEPTH);
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

/// Shuttle finds `duplicate-not-deleted`: consumers whose ledger says a message's effect already
/// happened skip it without deleting, so it comes back until it is dead-lettered although its
/// work is done. Property `DeadLetterOnlyAfterFailures` (the model's). The fixed consumers run
/// the same scenario in `busy_consumers_resolve_every_message_*` (`busy_idempotent`).
#[test]
fn shuttle_finds_duplicate_not_deleted() {
    let scenario = Scenario {
        deviation: Some(Deviation::DuplicateNotDeleted),
        ..scenarios::busy_idempotent()
    };
    let found = std::panic::catch_unwind(move || {
        shuttle::check_random(move || run(&scenario).assert_ok(), RANDOM_ITERATIONS);
    });
    let payload = found.expect_err("shuttle found no dead-lettered message whose work was done");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains(super::harness::property::DEAD_LETTER_ONLY_AFTER_FAILURES),
        "{message}"
    );
}

/// Without the idempotency ledger (fenced writes only), shuttle finds a run in which a slow
/// consumer's effect and its redelivery's effect both happen: `EffectAtMostOnce` needs the
/// ledger. (The model's `no-idempotency` variant.)
#[test]
fn shuttle_finds_duplicate_effect_without_ledger() {
    let scenario = Scenario {
        check_effect_at_most_once: true,
        ..scenarios::busy(super::harness::Retry::RequeueOnExpiry)
    };
    let found = std::panic::catch_unwind(move || {
        shuttle::check_random(move || run(&scenario).assert_ok(), RANDOM_ITERATIONS);
    });
    let payload = found.expect_err("shuttle found no duplicated effect");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains(super::harness::property::EFFECT_AT_MOST_ONCE),
        "{message}"
    );
}
