//! Conformance bites: implementation bugs that every hand-written check of the harness lets
//! through (`EventLogConsistent`, the log replayed on the queue's own sequential semantics;
//! `NoMessageLost` step by step; `DeadLetterOnlyAfterFailures`), and that replaying the log on
//! the queue model (`coordlab_checks::conform`) catches, at the step where the bug acts.
//!
//! Each bug is a consumer's mistake, run on the real [`RetryQueue`] with a [`ManualClock`]:
//! the queue logs what it did, the hand checks read the log, the model reads it too.

use std::time::Duration;

use coordlab_checks::conform::queue::{self, Retry, RunConfig};
use coordlab_checks::conform::{Divergence, Verdict};
use coordlab_impls::clock::ManualClock;
use coordlab_impls::queue::{ConsumerId, EventRecord, ProcessOutcome, QueueConfig, RetryQueue};

use super::harness::{check_dead_letters, check_deletes, render_events};
use super::log_spec::check_log;

const TIMEOUT: Duration = Duration::from_millis(10);

fn config() -> RunConfig {
    RunConfig {
        visibility_timeout_ms: 10,
        retry: Retry::RequeueOnExpiry,
        max_receives: None,
        idempotent: false,
    }
}

fn new_queue(clock: &ManualClock) -> RetryQueue<u32, ManualClock> {
    RetryQueue::new(QueueConfig::default().with_event_log(true), clock.clone())
}

/// Every hand check of the harness passes on the log.
fn hand_checks_pass(queue: &RetryQueue<u32, ManualClock>) -> Vec<EventRecord> {
    let events = queue.events();
    let trace = render_events(&events);
    assert_eq!(check_deletes(&events), [], "{trace}");
    assert_eq!(check_dead_letters(&events), [], "{trace}");
    check_log(&events, None, false, &queue.counts())
        .unwrap_or_else(|e| panic!("EventLogConsistent: {e:?}\n{trace}"));
    events
}

fn diverges(events: &[EventRecord]) -> Divergence {
    match queue::check(&config(), "correct", events) {
        Ok(Verdict::Diverges(d)) => *d,
        other => panic!(
            "expected a divergence, got {other:?}\n{}",
            render_events(events)
        ),
    }
}

/// A consumer that asks for its visibility timeout 1 ms too long (an off-by-one in the
/// consumer's deadline arithmetic): the queue honours the receive it was given, the log is
/// self-consistent, nothing is lost, so every hand check passes. The model's receive hides
/// the message for exactly the configured timeout: conformance stops at the receive, on the
/// deadline.
#[test]
fn a_deadline_one_ms_too_long_is_caught_at_the_receive() {
    let clock = ManualClock::new();
    let q = new_queue(&clock);
    let c0 = q.consumer(ConsumerId(0));
    q.send(0);
    let d = c0.receive(TIMEOUT + Duration::from_millis(1)).unwrap();
    c0.record_process(&d.receipt, ProcessOutcome::Applied);
    c0.delete(&d.receipt).unwrap();
    let events = hand_checks_pass(&q);

    let d = diverges(&events);
    assert_eq!(d.step, 2, "{d}");
    assert_eq!(d.mismatch.field, "m0 visibility deadline", "{d}");
    assert_eq!(
        d.mismatch.model, "in flight, visible again in 10 ticks",
        "{d}"
    );
    assert_eq!(
        d.mismatch.implementation, "invisible for 11 ms (until 11ms)",
        "{d}"
    );
    // The correct consumer's run conforms.
    let clock = ManualClock::new();
    let q = new_queue(&clock);
    let c0 = q.consumer(ConsumerId(0));
    q.send(0);
    let d = c0.receive(TIMEOUT).unwrap();
    c0.record_process(&d.receipt, ProcessOutcome::Applied);
    c0.delete(&d.receipt).unwrap();
    let events = hand_checks_pass(&q);
    assert!(
        matches!(
            queue::check(&config(), "correct", &events),
            Ok(Verdict::Conforms { steps: 4, .. })
        ),
        "{}",
        render_events(&events)
    );
}

/// A consumer whose heartbeat is refused (its receipt is stale: the message was received
/// again) goes on working: it processes the message and tries to delete it. The queue refuses
/// the delete, the other consumer finishes the message, the log is consistent and nothing is
/// lost, so every hand check passes (without an idempotency ledger they do not count
/// effects). In the model a consumer whose heartbeat is refused stops working on the
/// message: conformance stops at the process.
#[test]
fn working_on_after_a_refused_heartbeat_is_caught_at_the_process() {
    let clock = ManualClock::new();
    let q = new_queue(&clock);
    let (c0, c1) = (q.consumer(ConsumerId(0)), q.consumer(ConsumerId(1)));
    q.send(0);
    let slow = c0.receive(TIMEOUT).unwrap();
    clock.advance(TIMEOUT);
    let fast = c1.receive(TIMEOUT).unwrap();
    assert!(c0.change_visibility(&slow.receipt, TIMEOUT).is_err());
    // The bug: the refusal is ignored.
    c0.record_process(&slow.receipt, ProcessOutcome::Applied);
    assert!(c0.delete(&slow.receipt).is_err());
    c1.record_process(&fast.receipt, ProcessOutcome::Applied);
    c1.delete(&fast.receipt).unwrap();
    let events = hand_checks_pass(&q);

    let d = diverges(&events);
    assert_eq!(d.step, 7, "{d}");
    assert!(d.event.contains("c0 processes m0 (delivery #1)"), "{d}");
    assert_eq!(d.mismatch.field, "consumer 0 (c0)", "{d}");
    assert_eq!(d.mismatch.model, "idle", "{d}");
    assert!(
        d.enabled
            .iter()
            .any(|a| a.contains("consumer 1 applies m0's effect")),
        "{d}"
    );
}
