//! Races around the queue's refusals, written once and run on every engine (std threads, loom,
//! shuttle), each a plain function that panics when a claim fails:
//!
//! - [`late_race`]: a slow consumer's heartbeat (`change_visibility`) or `release` races its
//!   own lapse and another consumer's receive. The refusal (`MessageNotInflight`, or
//!   `StaleReceipt` once the other consumer has received the message) must come exactly from
//!   the deadline on, change nothing, and leave the message to the other consumer.
//! - [`foreign_receipts_race`]: two threads make a queue each at the same time (the queue id
//!   counter is the shared state) and hold message m0, received once, in both; each presents
//!   its receipt to the other's queue while the other deletes its own. Every foreign receipt is
//!   `UnknownReceipt` and changes nothing.
//!
//! Both also check each queue's whole event log with [`check_log`].

// Under loom and shuttle the runners note outcomes the std runner does not need.
#![cfg_attr(not(any(loom, shuttle)), allow(dead_code))]

use std::time::Duration;

use coordlab_impls::clock::{Instant, ManualClock};
use coordlab_impls::queue::{
    ConsumerId, Event, EventRecord, MessageId, QueueConfig, QueueError, ReceiptOperation,
    Rejection, RetryPolicy, RetryQueue,
};
use coordlab_impls::sync::{Arc, thread};

use super::harness::render_events;
use super::log_spec::check_log;

/// What the slow consumer does too late (or just in time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Late {
    /// `change_visibility(receipt, 10 ms)`.
    Heartbeat,
    /// `release(receipt)`, under a 5 ms backoff.
    Release,
}

/// How the slow consumer's operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LateOutcome {
    /// Accepted: it came before the deadline.
    Accepted,
    /// Refused: the delivery had lapsed and nobody had received the message since.
    NotInflight,
    /// Refused: the other consumer had received the message since the lapse.
    Stale,
}

const TIMEOUT: Duration = Duration::from_millis(10);
const DEADLINE: Instant = Instant::from_millis(10);
const SLOW: ConsumerId = ConsumerId(0);
const OTHER: ConsumerId = ConsumerId(1);
const M0: MessageId = MessageId::new(0);

fn fail(claim: &str, events: &[EventRecord]) -> ! {
    panic!("{claim}\n{}", render_events(events))
}

/// c0 has received m0 (visible until 10ms) before anything starts. Then, at once: the clock
/// moves 9 ms and then 1 ms (to the deadline itself); c1 tries to receive; c0 sends `late`.
/// When all three are done, c1 tries to receive once more if it got nothing. Claims:
///
/// - c0's operation is logged once, as accepted or as a `Reject` whose reason is the one its
///   return value gives;
/// - it is accepted exactly when it ran before the deadline (at 0 or 9 ms, not at 10);
/// - refused, its reason is `StaleReceipt { current: 2 }` if c1's receive came between the
///   lapse and it, and `MessageNotInflight` otherwise;
/// - refused, it leaves m0 to c1: c1 ends holding delivery #2, and between the refusal and
///   c1's receive nothing happens to m0;
/// - the whole log replays on the queue's semantics ([`check_log`]).
pub fn late_race(late: Late) -> LateOutcome {
    let clock = ManualClock::new();
    let config = QueueConfig::default()
        .with_retry_policy(RetryPolicy::ExponentialBackoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(5),
        })
        .with_event_log(true);
    let queue = Arc::new(RetryQueue::<u32, _>::new(config, clock.clone()));
    queue.send(0);
    let d0 = queue
        .consumer(SLOW)
        .receive(TIMEOUT)
        .expect("m0 is visible");
    assert_eq!(d0.visible_until, DEADLINE);

    let driver = thread::spawn(move || {
        clock.advance(Duration::from_millis(9));
        thread::yield_now();
        clock.advance(Duration::from_millis(1));
    });
    let other = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || queue.consumer(OTHER).receive(TIMEOUT))
    };
    let slow = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || {
            let c0 = queue.consumer(SLOW);
            match late {
                Late::Heartbeat => c0.change_visibility(&d0.receipt, TIMEOUT),
                Late::Release => c0.release(&d0.receipt).map(|_| ()),
            }
        })
    };
    let answer = slow.join().unwrap();
    let first = other.join().unwrap();
    driver.join().unwrap();
    let second = match first {
        Some(_) => None,
        None => queue.consumer(OTHER).receive(TIMEOUT),
    };

    let counts = queue.counts();
    let events = queue.events();
    if let Err(e) = check_log(&events, None, false, &counts) {
        fail(&format!("the log does not replay: {e:?}"), &events);
    }

    // c0's operation in the log: the one event of c0's after its receive.
    let mine: Vec<(usize, &EventRecord)> = events
        .iter()
        .enumerate()
        .filter(|(_, r)| match r.event {
            Event::ChangeVisibility { consumer, .. }
            | Event::Release { consumer, .. }
            | Event::Reject { consumer, .. } => consumer == Some(SLOW),
            _ => false,
        })
        .collect();
    let [(at_step, record)] = mine[..] else {
        fail("c0's operation is not logged exactly once", &events);
    };
    let op = match late {
        Late::Heartbeat => ReceiptOperation::ChangeVisibility,
        Late::Release => ReceiptOperation::Release,
    };
    let accepted = match (&record.event, answer) {
        (Event::ChangeVisibility { .. }, Ok(())) if late == Late::Heartbeat => true,
        (Event::Release { .. }, Ok(())) if late == Late::Release => true,
        (
            Event::Reject {
                operation, reason, ..
            },
            Err(e),
        ) if *operation == op && *reason == e.rejection() => false,
        _ => fail(
            &format!("c0 got {answer:?}, the log says {}", record.event),
            &events,
        ),
    };
    if accepted != (record.at < DEADLINE) {
        fail(
            &format!(
                "c0's {op} at {} was {} (deadline {DEADLINE})",
                record.at,
                if accepted { "accepted" } else { "refused" }
            ),
            &events,
        );
    }
    if accepted {
        return LateOutcome::Accepted;
    }

    let redelivered_before = events[..at_step]
        .iter()
        .any(|r| matches!(r.event, Event::Receive { message, delivery: 2, .. } if message == M0));
    let outcome = if redelivered_before {
        LateOutcome::Stale
    } else {
        LateOutcome::NotInflight
    };
    let expected = if redelivered_before {
        QueueError::StaleReceipt {
            receipt: d0.receipt,
            current: 2,
        }
    } else {
        QueueError::MessageNotInflight {
            receipt: d0.receipt,
            visible_since: DEADLINE,
        }
    };
    if answer != Err(expected) {
        fail(
            &format!("c0's late {op} got {answer:?}, expected Err({expected:?})"),
            &events,
        );
    }

    // Refused, the message is left to the other consumer.
    let got = first.or(second);
    if got.as_ref().map(|d| (d.message, d.receive_count)) != Some((M0, 2)) {
        fail(
            &format!("c0's {op} was refused, but c1 got {got:?} and not m0's delivery #2"),
            &events,
        );
    }
    let Some(received) = events.iter().position(|r| {
        matches!(r.event, Event::Receive { consumer, delivery: 2, .. } if consumer == Some(OTHER))
    }) else {
        fail("c1's receive of delivery #2 is not logged", &events);
    };
    if received > at_step {
        let touched = events[at_step + 1..received].iter().find(|r| {
            !matches!(
                r.event,
                Event::Tick { .. } | Event::Process { .. } | Event::Crash { .. }
            )
        });
        if let Some(r) = touched {
            fail(
                &format!(
                    "between c0's refused {op} and c1's receive, the queue logged: {}",
                    r.event
                ),
                &events,
            );
        }
    }
    outcome
}

/// Two threads each make a queue (at the same time: the id counter is shared), send one message
/// and receive it: both queues hold m0, received once, so the two receipts differ only in their
/// queue. Then each thread presents its receipt to the other thread's queue (delete,
/// change_visibility, release) while that thread deletes its own message with it. Claims: the
/// queues' ids differ; every foreign receipt is refused as `UnknownReceipt`, is logged as such
/// and changes nothing; every own delete succeeds; each log replays.
pub fn foreign_receipts_race() {
    let make = |body: u32| {
        thread::spawn(move || {
            let queue = Arc::new(RetryQueue::new(
                QueueConfig::default().with_event_log(true),
                ManualClock::new(),
            ));
            queue.send(body);
            let d = queue.receive(TIMEOUT).expect("the message just sent");
            (queue, d.receipt)
        })
    };
    let (ta, tb) = (make(0), make(1));
    let (a, ra) = ta.join().unwrap();
    let (b, rb) = tb.join().unwrap();
    assert_ne!(a.id(), b.id(), "two queues got one id");
    assert_eq!(
        (ra.message(), ra.delivery()),
        (rb.message(), rb.delivery()),
        "the receipts should differ only in their queue"
    );

    let present = |mine: Arc<RetryQueue<u32, ManualClock>>,
                   theirs: Arc<RetryQueue<u32, ManualClock>>,
                   receipt| {
        thread::spawn(move || {
            let unknown = Err(QueueError::UnknownReceipt { receipt });
            assert_eq!(theirs.delete(&receipt), unknown);
            assert_eq!(theirs.change_visibility(&receipt, Duration::ZERO), unknown);
            assert_eq!(theirs.release(&receipt).map(|_| ()), unknown);
            mine.delete(&receipt)
                .expect("its own queue's newest receipt deletes");
        })
    };
    let pa = present(Arc::clone(&a), Arc::clone(&b), ra);
    let pb = present(Arc::clone(&b), Arc::clone(&a), rb);
    pa.join().unwrap();
    pb.join().unwrap();

    for queue in [&a, &b] {
        let counts = queue.counts();
        let events = queue.events();
        assert_eq!((counts.sent, counts.deleted), (1, 1), "{counts:?}");
        if let Err(e) = check_log(&events, None, false, &counts) {
            fail(&format!("the log does not replay: {e:?}"), &events);
        }
        let rejected: Vec<ReceiptOperation> = events
            .iter()
            .filter_map(|r| match r.event {
                Event::Reject {
                    operation,
                    message,
                    delivery: 1,
                    reason: Rejection::UnknownReceipt,
                    ..
                } if message == M0 => Some(operation),
                _ => None,
            })
            .collect();
        assert_eq!(
            rejected,
            [
                ReceiptOperation::Delete,
                ReceiptOperation::ChangeVisibility,
                ReceiptOperation::Release
            ],
            "{}",
            render_events(&events)
        );
    }
}
