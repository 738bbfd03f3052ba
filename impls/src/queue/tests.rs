//! Sequential unit tests of the queue's semantics, one claim each. The concurrent scenarios and
//! the reference-model comparison live in `impls/tests/queue/`.

use std::time::Duration;

use super::core::backoff;
use super::*;
use crate::clock::{Clock, ManualClock};

const T30: Duration = Duration::from_millis(30);

fn queue(config: QueueConfig) -> (RetryQueue<&'static str, ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    (
        RetryQueue::new(config.with_event_log(true), clock.clone()),
        clock,
    )
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A received message is invisible to other consumers until its visibility timeout runs out,
/// then it is delivered again with a higher receive count.
#[test]
fn expired_visibility_timeout_redelivers() {
    let (q, clock) = queue(QueueConfig::default());
    let id = q.send("a");
    let first = q.receive(T30).unwrap();
    assert_eq!((first.message, first.receive_count), (id, 1));
    assert_eq!(q.receive(T30), None);
    clock.advance(ms(29));
    assert_eq!(
        q.receive(T30),
        None,
        "still invisible 1ms before the deadline"
    );
    clock.advance(ms(1));
    let second = q.receive(T30).unwrap();
    assert_eq!((second.message, second.receive_count), (id, 2));
    q.check_invariants();
}

/// Only the newest delivery's receipt deletes; an older one is refused and leaves the message
/// (and the newer delivery) untouched.
#[test]
fn stale_receipt_is_refused_and_changes_nothing() {
    let (q, clock) = queue(QueueConfig::default());
    q.send("a");
    let first = q.receive(T30).unwrap();
    clock.advance(T30);
    let second = q.receive(T30).unwrap();
    let before = q.counts();
    for result in [
        q.delete(&first.receipt),
        q.change_visibility(&first.receipt, Duration::ZERO),
        q.release(&first.receipt).map(|_| ()),
    ] {
        assert_eq!(
            result,
            Err(QueueError::StaleReceipt {
                receipt: first.receipt,
                current: 2
            })
        );
    }
    assert_eq!(q.counts(), before);
    q.delete(&second.receipt).unwrap();
    assert_eq!(
        q.delete(&second.receipt),
        Err(QueueError::MessageGone {
            message: second.message
        })
    );
    q.check_invariants();
}

/// After a deadline passes, the old receipt is still the newest until someone receives again
/// (SQS `DeleteMessage`: the receipt of the most recent receive deletes): the slow consumer may
/// still delete, also right at the deadline.
#[test]
fn expired_but_not_redelivered_receipt_still_deletes() {
    let (q, clock) = queue(QueueConfig::default());
    q.send("a");
    let d = q.receive(T30).unwrap();
    clock.advance(ms(100));
    assert_eq!(q.counts().visible, 1);
    q.delete(&d.receipt).unwrap();
    assert_eq!(q.counts().deleted, 1);

    // Right after the clock reaches the deadline, with nothing in between.
    let (q, clock) = queue(QueueConfig::default());
    q.send("a");
    let d = q.receive(T30).unwrap();
    clock.advance(T30);
    q.delete(&d.receipt).unwrap();
    assert_eq!(q.counts().deleted, 1);
}

/// A queue that has just received its only message with a 30 ms visibility timeout, after
/// `wait` more ms on the clock and no operation since the receive.
fn received_then_waited(
    config: QueueConfig,
    wait: u64,
) -> (
    RetryQueue<&'static str, ManualClock>,
    Delivery<&'static str>,
) {
    let (q, clock) = queue(config);
    q.send("a");
    let d = q.receive(T30).unwrap();
    assert_eq!(d.visible_until, Instant::from_millis(30));
    clock.advance(ms(wait));
    (q, d)
}

/// The last event in the log.
fn last_event<C: Clock>(q: &RetryQueue<&'static str, C>) -> Event {
    q.events().last().unwrap().event.clone()
}

/// A heartbeat one clock tick (1 ms) before the deadline is in time; at the deadline itself the
/// delivery has lapsed and the heartbeat is refused with `MessageNotInflight`, changing nothing:
/// the message stays visible and the next receive gets it. Both right after the clock moved.
/// Reference: SQS `ChangeMessageVisibility` (error `MessageNotInflight`); the queue model's
/// `InFlight { timeout: 1 }` is the last tick in flight.
#[test]
fn heartbeat_is_in_time_until_the_deadline_and_refused_at_it() {
    let (q, d) = received_then_waited(QueueConfig::default(), 29);
    assert_eq!(q.change_visibility(&d.receipt, T30), Ok(()));
    assert_eq!(q.counts().in_flight, 1);
    assert!(
        matches!(last_event(&q), Event::ChangeVisibility { visible_at, .. } if visible_at == Instant::from_millis(59))
    );

    let (q, d) = received_then_waited(QueueConfig::default(), 30);
    assert_eq!(
        q.change_visibility(&d.receipt, T30),
        Err(QueueError::MessageNotInflight {
            receipt: d.receipt,
            visible_since: Instant::from_millis(30)
        })
    );
    assert_eq!(
        last_event(&q),
        Event::Reject {
            operation: ReceiptOperation::ChangeVisibility,
            message: d.message,
            delivery: 1,
            consumer: None,
            reason: Rejection::MessageNotInflight,
        }
    );
    let counts = q.counts();
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (1, 0, 0)
    );
    let again = q.receive(T30).unwrap();
    assert_eq!((again.message, again.receive_count), (d.message, 2));
    q.check_invariants();
}

/// `receive` right after the clock moved, with no operation in between, sees the new time:
/// 1 ms before the deadline the message is still hidden; at the deadline it is delivered
/// again, hidden until the new time plus the timeout. A first receive after the clock moved
/// also counts its timeout from the new time.
#[test]
fn receive_right_after_the_clock_moved_uses_the_new_time() {
    let (q, _) = received_then_waited(QueueConfig::default(), 29);
    assert_eq!(q.receive(T30), None, "hidden until 30ms");

    let (q, d) = received_then_waited(QueueConfig::default(), 30);
    let again = q.receive(T30).expect("visible again at 30ms");
    assert_eq!(
        (again.message, again.receive_count, again.visible_until),
        (d.message, 2, Instant::from_millis(60))
    );

    let (q, clock) = queue(QueueConfig::default());
    q.send("a");
    clock.advance(ms(7));
    let first = q.receive(T30).unwrap();
    assert_eq!(first.visible_until, Instant::from_millis(37));
    q.check_invariants();
}

/// `send` right after the clock moved makes the message visible from the new time, not from
/// the time of the operation before: a message whose delivery lapsed at that same instant
/// goes first (ties by message id), and the message's `sent_at` is the new time.
#[test]
fn send_right_after_the_clock_moved_uses_the_new_time() {
    let (q, d) = received_then_waited(QueueConfig::default(), 30);
    let later = q.send("b");
    assert!(
        matches!(&q.events()[2..], [
            EventRecord { at: t, event: Event::Tick { .. } },
            EventRecord { event: Event::Expire { .. }, .. },
            EventRecord { at: s, event: Event::Send { .. } },
        ] if *t == Instant::from_millis(30) && *s == Instant::from_millis(30)),
        "{:?}",
        q.events()
    );
    let order: Vec<_> = (0..2).map(|_| q.receive(T30).unwrap().message).collect();
    assert_eq!(order, [d.message, later]);

    let (q, clock) = queue(QueueConfig::default().with_max_receives(1));
    clock.advance(ms(7));
    let id = q.send("a");
    q.receive(T30).unwrap();
    clock.advance(T30);
    let dead = q.dead_letters();
    assert_eq!(
        dead.iter()
            .map(|d| (d.message, d.sent_at, d.dead_lettered_at))
            .collect::<Vec<_>>(),
        [(id, Instant::from_millis(7), Instant::from_millis(37))]
    );
}

/// `delete` right after the clock moved applies the deadlines that passed first: 1 ms before
/// the deadline of a message's last allowed delivery it deletes it; at the deadline the
/// message has gone to the dead-letter queue at that instant, and the delete is refused.
#[test]
fn delete_right_after_the_clock_moved_sees_the_dead_letter_move() {
    let once = QueueConfig::default().with_max_receives(1);
    let (q, d) = received_then_waited(once.clone(), 29);
    assert_eq!(q.delete(&d.receipt), Ok(()));
    assert_eq!((q.counts().deleted, q.counts().dead_lettered), (1, 0));

    let (q, d) = received_then_waited(once, 30);
    assert_eq!(
        q.delete(&d.receipt),
        Err(QueueError::MessageGone { message: d.message })
    );
    let dead = q.dead_letters();
    assert_eq!(
        dead.iter()
            .map(|d| (d.message, d.dead_lettered_at))
            .collect::<Vec<_>>(),
        [(d.message, Instant::from_millis(30))]
    );
}

/// `change_visibility` right after the clock moved counts the new timeout from the new time:
/// at 29 ms a zero timeout makes the message visible at once, and its next delivery is hidden
/// until 29 + 30 ms.
#[test]
fn change_visibility_right_after_the_clock_moved_uses_the_new_time() {
    let (q, d) = received_then_waited(QueueConfig::default(), 29);
    assert_eq!(q.change_visibility(&d.receipt, Duration::ZERO), Ok(()));
    let again = q.receive(T30).unwrap();
    assert_eq!(
        (again.receive_count, again.visible_until),
        (2, Instant::from_millis(59))
    );
}

/// `release` right after the clock moved, under the policies that do not add a backoff:
/// `Immediate` makes the message visible at the new time; `RequeueOnExpiry` keeps the
/// deadline, and at the deadline itself the delivery has lapsed and the release is refused.
#[test]
fn release_right_after_the_clock_moved_under_every_policy() {
    let (q, d) = received_then_waited(
        QueueConfig::default().with_retry_policy(RetryPolicy::Immediate),
        29,
    );
    assert_eq!(q.release(&d.receipt), Ok(Instant::from_millis(29)));
    assert_eq!(
        q.receive(T30).map(|d| d.visible_until),
        Some(Instant::from_millis(59))
    );

    let (q, d) = received_then_waited(QueueConfig::default(), 29);
    assert_eq!(q.release(&d.receipt), Ok(Instant::from_millis(30)));
    assert_eq!(q.counts().delayed, 1);
    let (q, d) = received_then_waited(QueueConfig::default(), 30);
    assert_eq!(
        q.release(&d.receipt),
        Err(QueueError::MessageNotInflight {
            receipt: d.receipt,
            visible_since: Instant::from_millis(30)
        })
    );
}

/// `counts`, `dead_letters`, `drain_dead_letters` and `record` right after the clock moved
/// apply the deadlines that passed first (the dead-letter move is public through them): 1 ms
/// before the deadline of the last allowed delivery the message is in flight; at it, it is in
/// the dead-letter queue, moved at that instant, and a recorded step is logged after the
/// tick and the move.
#[test]
fn observers_right_after_the_clock_moved_apply_the_deadlines() {
    let once = QueueConfig::default().with_max_receives(1);
    let (q, _) = received_then_waited(once.clone(), 29);
    let c = q.counts();
    assert_eq!((c.in_flight, c.visible, c.dead_lettered), (1, 0, 0));
    let (q, _) = received_then_waited(once.clone(), 29);
    assert_eq!(q.dead_letters(), []);
    let (q, _) = received_then_waited(once.clone(), 29);
    assert_eq!(q.drain_dead_letters(), []);

    let (q, _) = received_then_waited(once.clone(), 30);
    let c = q.counts();
    assert_eq!((c.in_flight, c.visible, c.dead_lettered), (0, 0, 1));
    let moved = |dead: Vec<DeadLetter<&str>>| -> Vec<(MessageId, u32, Instant)> {
        dead.iter()
            .map(|d| (d.message, d.receive_count, d.dead_lettered_at))
            .collect()
    };
    let at_deadline = [(MessageId::new(0), 1, Instant::from_millis(30))];
    let (q, _) = received_then_waited(once.clone(), 30);
    assert_eq!(moved(q.dead_letters()), at_deadline);
    let (q, _) = received_then_waited(once.clone(), 30);
    assert_eq!(moved(q.drain_dead_letters()), at_deadline);
    assert_eq!(q.dead_letters(), [], "drained");

    let (q, d) = received_then_waited(once, 30);
    q.consumer(ConsumerId(0))
        .record_process(&d.receipt, ProcessOutcome::Applied);
    let tail: Vec<Event> = q.events()[2..].iter().map(|r| r.event.clone()).collect();
    assert_eq!(
        tail,
        [
            Event::Tick {
                now: Instant::from_millis(30)
            },
            Event::Expire {
                message: d.message,
                delivery: 1
            },
            Event::MoveToDeadLetter {
                message: d.message,
                receive_count: 1
            },
            Event::Process {
                message: d.message,
                delivery: 1,
                consumer: Some(ConsumerId(0)),
                outcome: ProcessOutcome::Applied
            },
        ]
    );
}

/// `release` follows the same boundary, and a refused release does not push the lapsed message
/// back by its backoff: it keeps its place in the delivery order (ahead of a message sent after
/// it became visible).
#[test]
fn release_is_in_time_until_the_deadline_and_refused_at_it() {
    let backoff = QueueConfig::default().with_retry_policy(RetryPolicy::ExponentialBackoff {
        base: ms(50),
        cap: ms(50),
    });
    let (q, d) = received_then_waited(backoff.clone(), 29);
    assert_eq!(q.release(&d.receipt), Ok(Instant::from_millis(79)));
    assert_eq!(q.counts().delayed, 1);

    let (q, d) = received_then_waited(backoff, 30);
    assert_eq!(
        q.release(&d.receipt),
        Err(QueueError::MessageNotInflight {
            receipt: d.receipt,
            visible_since: Instant::from_millis(30)
        })
    );
    assert!(matches!(
        last_event(&q),
        Event::Reject {
            operation: ReceiptOperation::Release,
            reason: Rejection::MessageNotInflight,
            ..
        }
    ));
    let later = q.send("b");
    let order: Vec<_> = (0..2).map(|_| q.receive(T30).unwrap().message).collect();
    assert_eq!(order, [d.message, later], "not pushed back behind b");
    q.check_invariants();
}

/// A lapse is a lapse however the deadline was set: a released message whose retry delay runs
/// out, and a heartbeat's extended deadline, lapse the same way. While the message is still
/// invisible (released, waiting out its backoff) the newest receipt still changes it.
#[test]
fn every_deadline_lapses_the_delivery() {
    let policy = RetryPolicy::ExponentialBackoff {
        base: ms(10),
        cap: ms(10),
    };
    let (q, clock) = queue(QueueConfig::default().with_retry_policy(policy));
    q.send("a");
    let d = q.receive(T30).unwrap();
    assert_eq!(q.release(&d.receipt), Ok(Instant::from_millis(10)));
    clock.advance(ms(9));
    assert_eq!(
        q.change_visibility(&d.receipt, ms(2)),
        Ok(()),
        "at 9ms, until 11ms"
    );
    clock.advance(ms(2));
    assert!(matches!(
        q.release(&d.receipt),
        Err(QueueError::MessageNotInflight { visible_since, .. }) if visible_since == Instant::from_millis(11)
    ));
    assert_eq!(q.counts().visible, 1);
}

/// Once the message has been received again, an old receipt is stale whether or not the newer
/// delivery has lapsed too; once it is dead-lettered, it is gone.
#[test]
fn stale_and_gone_come_before_not_in_flight() {
    let (q, clock) = queue(QueueConfig::default().with_max_receives(2));
    q.send("a");
    let first = q.receive(T30).unwrap();
    clock.advance(T30);
    let second = q.receive(T30).unwrap();
    clock.advance(ms(29));
    assert_eq!(
        q.change_visibility(&first.receipt, T30),
        Err(QueueError::StaleReceipt {
            receipt: first.receipt,
            current: 2
        })
    );
    clock.advance(ms(1));
    // The second delivery lapsed and, received twice, the message went to the dead-letter
    // queue at that instant.
    for receipt in [first.receipt, second.receipt] {
        assert_eq!(
            q.release(&receipt),
            Err(QueueError::MessageGone {
                message: second.message
            })
        );
    }
    assert_eq!(q.counts().dead_lettered, 1);
}

/// The `StaleReceiptDelete` deviation lets a stale receipt delete the message.
#[test]
fn stale_receipt_delete_deviation_accepts_old_receipts() {
    let (q, clock) =
        queue(QueueConfig::default().with_deviation(Some(Deviation::StaleReceiptDelete)));
    q.send("a");
    let first = q.receive(T30).unwrap();
    clock.advance(T30);
    let _second = q.receive(T30).unwrap();
    q.delete(&first.receipt).unwrap();
    assert!(matches!(
        q.events().last().unwrap().event,
        Event::Delete {
            delivery: 1,
            current: 2,
            ..
        }
    ));
}

/// SQS redrive: a message received `max_receives` times goes to the dead-letter queue when it
/// becomes visible again, and only then.
#[test]
fn dead_letters_only_after_max_receives() {
    let (q, clock) = queue(QueueConfig::default().with_max_receives(2));
    let id = q.send("poison");
    q.receive(T30).unwrap();
    clock.advance(T30);
    let second = q.receive(T30).unwrap();
    assert_eq!(second.receive_count, 2);
    assert_eq!(
        q.counts().dead_lettered,
        0,
        "not while the last delivery is in flight"
    );
    clock.advance(T30);
    assert_eq!(q.receive(T30), None);
    let counts = q.counts();
    assert_eq!(
        (counts.dead_lettered, counts.visible, counts.in_flight),
        (1, 0, 0)
    );
    let dead = q.drain_dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].message, dead[0].receive_count), (id, 2));
    assert_eq!(q.counts().dead_lettered, 1, "draining keeps the count");
    assert_eq!(
        q.delete(&second.receipt),
        Err(QueueError::MessageGone { message: id })
    );
    q.check_invariants();
}

/// `release` under each retry policy.
#[test]
fn release_follows_the_retry_policy() {
    // Immediate: visible at once.
    let (q, _) = queue(QueueConfig::default().with_retry_policy(RetryPolicy::Immediate));
    q.send("a");
    let d = q.receive(T30).unwrap();
    assert_eq!(q.release(&d.receipt), Ok(Instant::ZERO));
    assert_eq!(q.receive(T30).unwrap().receive_count, 2);

    // RequeueOnExpiry: invisible until the visibility timeout runs out.
    let (q, clock) = queue(QueueConfig::default());
    q.send("a");
    let d = q.receive(T30).unwrap();
    assert_eq!(q.release(&d.receipt), Ok(Instant::from_millis(30)));
    let counts = q.counts();
    assert_eq!((counts.in_flight, counts.delayed), (0, 1));
    assert_eq!(q.receive(T30), None);
    clock.advance(T30);
    assert_eq!(q.receive(T30).unwrap().receive_count, 2);

    // ExponentialBackoff: base · 2^(receives − 1), capped.
    let policy = RetryPolicy::ExponentialBackoff {
        base: ms(10),
        cap: ms(35),
    };
    let (q, clock) = queue(QueueConfig::default().with_retry_policy(policy));
    q.send("a");
    let mut delays = Vec::new();
    for _ in 0..4 {
        let d = q.receive(T30).unwrap();
        let at = q.release(&d.receipt).unwrap();
        delays.push(at.saturating_duration_since(clock.now()));
        clock.advance(at.saturating_duration_since(clock.now()));
    }
    assert_eq!(delays, [ms(10), ms(20), ms(35), ms(35)]);
}

/// Releasing the last allowed delivery with `Immediate` dead-letters at once.
#[test]
fn immediate_release_of_last_delivery_dead_letters() {
    let (q, _) = queue(
        QueueConfig::default()
            .with_retry_policy(RetryPolicy::Immediate)
            .with_max_receives(1),
    );
    q.send("a");
    let d = q.receive(T30).unwrap();
    q.release(&d.receipt).unwrap();
    assert_eq!(q.counts().dead_lettered, 1);
}

/// `change_visibility` extends a lease, and zero makes the message visible at once.
#[test]
fn change_visibility_extends_and_zero_makes_visible() {
    let (q, clock) = queue(QueueConfig::default());
    q.send("a");
    let d = q.receive(T30).unwrap();
    clock.advance(ms(20));
    q.change_visibility(&d.receipt, T30).unwrap();
    clock.advance(ms(20));
    assert_eq!(q.receive(T30), None, "extended to 50ms");
    q.change_visibility(&d.receipt, Duration::ZERO).unwrap();
    assert_eq!(q.receive(T30).unwrap().receive_count, 2);
}

/// Every message is in exactly one state.
#[test]
fn counts_conserve_messages() {
    let (q, clock) = queue(
        QueueConfig::default()
            .with_max_receives(1)
            .with_retry_policy(RetryPolicy::ExponentialBackoff {
                base: ms(5),
                cap: ms(5),
            }),
    );
    for body in ["a", "b", "c", "d", "e"] {
        q.send(body);
    }
    let a = q.receive(T30).unwrap();
    let b = q.receive(T30).unwrap();
    let c = q.receive(T30).unwrap();
    q.delete(&a.receipt).unwrap();
    q.release(&b.receipt).unwrap();
    let counts = q.counts();
    assert_eq!(
        counts,
        QueueCounts {
            sent: 5,
            visible: 2,
            in_flight: 1,
            delayed: 1,
            deleted: 1,
            dead_lettered: 0
        }
    );
    clock.advance(T30);
    let counts = q.counts();
    assert_eq!((counts.visible, counts.dead_lettered), (2, 2));
    let _ = c;
    q.check_invariants();
}

/// Messages are delivered oldest-visible first; a redelivery queues behind messages already
/// waiting.
#[test]
fn delivery_order_is_by_time_visible() {
    let (q, clock) = queue(QueueConfig::default());
    let a = q.send("a");
    clock.advance(ms(1));
    let b = q.send("b");
    let da = q.receive(ms(5)).unwrap();
    assert_eq!(da.message, a);
    clock.advance(ms(10));
    let c = q.send("c");
    // a became visible again at 5ms, after b (1ms) and before c (11ms).
    let order: Vec<_> = (0..3).map(|_| q.receive(T30).unwrap().message).collect();
    assert_eq!(order, [b, a, c]);
}

/// The event log names every step in the model's vocabulary, in order.
#[test]
fn event_log_records_each_step() {
    let (q, clock) = queue(QueueConfig::default().with_max_receives(1));
    let c = q.consumer(ConsumerId(7));
    let id = q.send("a");
    let d = c.receive(T30).unwrap();
    c.record_process(&d.receipt, ProcessOutcome::Applied);
    c.record_crash(Some(&d.receipt));
    clock.advance(T30);
    assert_eq!(q.receive(T30), None);
    let events: Vec<Event> = q.events().into_iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            Event::Send { message: id },
            Event::Receive {
                message: id,
                delivery: 1,
                consumer: Some(ConsumerId(7)),
                visible_until: Instant::from_millis(30)
            },
            Event::Process {
                message: id,
                delivery: 1,
                consumer: Some(ConsumerId(7)),
                outcome: ProcessOutcome::Applied
            },
            Event::Crash {
                consumer: ConsumerId(7),
                message: Some(id),
                delivery: Some(1)
            },
            Event::Tick {
                now: Instant::from_millis(30)
            },
            Event::Expire {
                message: id,
                delivery: 1
            },
            Event::MoveToDeadLetter {
                message: id,
                receive_count: 1
            },
        ]
    );
}

/// A receipt this queue never issued is refused as unknown, also when the message it names
/// does not exist here.
#[test]
fn foreign_receipt_is_unknown() {
    let (q, _) = queue(QueueConfig::default());
    let (other, _) = queue(QueueConfig::default());
    other.send("x");
    let foreign = other.receive(T30).unwrap();
    assert_eq!(
        q.delete(&foreign.receipt),
        Err(QueueError::UnknownReceipt {
            receipt: foreign.receipt
        })
    );
}

/// Receipts are bound to their queue: two queues each hold message m0, received once, so their
/// receipts name the same message and delivery; each queue refuses the other's receipt for
/// every operation as `UnknownReceipt` (SQS `ReceiptHandleIsInvalid`), logs the rejection and
/// changes nothing, and still accepts its own.
#[test]
fn receipt_of_another_queue_with_the_same_message_and_count_is_unknown() {
    let (a, _) = queue(QueueConfig::default());
    let (b, _) = queue(QueueConfig::default());
    assert_ne!(a.id(), b.id());
    a.send("a");
    b.send("b");
    let da = a.receive(T30).unwrap();
    let db = b.receive(T30).unwrap();
    assert_eq!(
        (da.receipt.message(), da.receipt.delivery()),
        (db.receipt.message(), db.receipt.delivery())
    );
    assert_eq!((da.receipt.queue(), db.receipt.queue()), (a.id(), b.id()));
    assert_ne!(da.receipt, db.receipt);
    for (q, foreign) in [(&a, db.receipt), (&b, da.receipt)] {
        let before = q.counts();
        let unknown = Err(QueueError::UnknownReceipt { receipt: foreign });
        assert_eq!(q.delete(&foreign), unknown);
        assert_eq!(q.change_visibility(&foreign, Duration::ZERO), unknown);
        assert_eq!(q.release(&foreign).map(|_| ()), unknown);
        assert_eq!(q.counts(), before);
        assert_eq!(
            last_event(q),
            Event::Reject {
                operation: ReceiptOperation::Release,
                message: MessageId::new(0),
                delivery: 1,
                consumer: None,
                reason: Rejection::UnknownReceipt,
            }
        );
    }
    a.delete(&da.receipt).unwrap();
    b.delete(&db.receipt).unwrap();
    assert_eq!((a.counts().deleted, b.counts().deleted), (1, 1));
}

/// `QueueCore` on its own: `config` is the configuration it was made with; `now` is the latest
/// time it has seen, starting at zero, moved by any operation with a later time (`advance`
/// alone included) and never back by an earlier one, which is treated as the latest seen;
/// `take_events` hands over the log so far and leaves it empty and still recording, and with
/// the log off it is always empty.
#[test]
fn core_reports_its_config_and_time_and_hands_over_its_log() {
    let config = QueueConfig::default()
        .with_max_receives(3)
        .with_retry_policy(RetryPolicy::Immediate)
        .with_event_log(true);
    let mut core = QueueCore::new(config.clone());
    assert_eq!(core.config(), &config);
    assert_eq!(core.now(), Instant::ZERO);

    let id = core.send(Instant::from_millis(5), "a");
    assert_eq!(core.now(), Instant::from_millis(5));
    // An earlier time is the latest seen: the timeout counts from 5 ms, and no tick is logged.
    let d = core.receive(Instant::from_millis(3), T30, None).unwrap();
    assert_eq!(core.now(), Instant::from_millis(5));
    assert_eq!(d.visible_until, Instant::from_millis(35));
    core.advance(Instant::from_millis(9));
    assert_eq!(core.now(), Instant::from_millis(9));
    core.advance(Instant::from_millis(2));
    assert_eq!(core.now(), Instant::from_millis(9));

    let taken: Vec<Event> = core.take_events().into_iter().map(|r| r.event).collect();
    assert_eq!(
        taken,
        [
            Event::Tick {
                now: Instant::from_millis(5)
            },
            Event::Send { message: id },
            Event::Receive {
                message: id,
                delivery: 1,
                consumer: None,
                visible_until: Instant::from_millis(35)
            },
            Event::Tick {
                now: Instant::from_millis(9)
            },
        ]
    );
    assert_eq!(core.events(), []);
    assert_eq!(core.take_events(), []);
    core.delete(Instant::from_millis(9), &d.receipt, None)
        .unwrap();
    assert_eq!(
        core.take_events(),
        [EventRecord {
            at: Instant::from_millis(9),
            event: Event::Delete {
                message: id,
                delivery: 1,
                current: 1,
                consumer: None
            }
        }],
        "still recording after a take"
    );
    core.check_invariants();

    let mut quiet = QueueCore::new(QueueConfig::default());
    assert!(!quiet.config().record_events);
    quiet.send(Instant::from_millis(1), "a");
    assert_eq!(quiet.take_events(), []);
    assert_eq!(quiet.now(), Instant::from_millis(1));
}

/// The same through `RetryQueue`: `config` is a copy of the configuration; `take_events`
/// empties the log and keeps recording; `clock` is the queue's own clock (moving it moves the
/// queue's time); a consumer view records its own `id`.
#[test]
fn queue_reports_its_config_clock_and_hands_over_its_log() {
    let config = QueueConfig::default()
        .with_max_receives(2)
        .with_event_log(true);
    let q = RetryQueue::<&str, _>::new(config.clone(), ManualClock::new());
    assert_eq!(q.config(), config);
    q.send("a");
    assert_eq!(q.take_events().len(), 1);
    assert_eq!(q.events(), []);
    q.clock().advance(ms(4));
    let c = q.consumer(ConsumerId(3));
    assert_eq!(c.id(), ConsumerId(3));
    let d = c.receive(T30).unwrap();
    assert_eq!(d.visible_until, Instant::from_millis(34));
    assert_eq!(
        q.take_events()
            .into_iter()
            .map(|r| r.event)
            .collect::<Vec<_>>(),
        [
            Event::Tick {
                now: Instant::from_millis(4)
            },
            Event::Receive {
                message: d.message,
                delivery: 1,
                consumer: Some(ConsumerId(3)),
                visible_until: Instant::from_millis(34)
            },
        ]
    );
}

/// A queue on the system clock works like any other: a receive hides the message for its
/// timeout counted from the clock's reading.
#[test]
fn queue_on_the_system_clock() {
    let q = RetryQueue::<&str, _>::with_system_clock(QueueConfig::default());
    q.send("a");
    let before = q.clock().now();
    let d = q.receive(Duration::from_secs(3600)).unwrap();
    assert!(d.visible_until >= before.saturating_add(Duration::from_secs(3600)));
    assert_eq!(q.receive(T30), None);
    q.delete(&d.receipt).unwrap();
    assert_eq!(q.counts().deleted, 1);
}

/// The ledger's queries: `is_empty` and `contains` say what has been applied; a duplicate, a
/// failed fallible effect and a panicking effect record nothing new, and a panic leaves the
/// ledger usable (its key unrecorded, so a later delivery can apply it).
#[test]
fn ledger_knows_what_was_applied() {
    let ledger = IdempotencyLedger::new();
    assert!(ledger.is_empty());
    assert!(!ledger.contains(&1));
    assert_eq!(ledger.apply_once(1, || ()), ApplyOutcome::Applied(()));
    assert!(!ledger.is_empty());
    assert!(ledger.contains(&1));
    assert!(!ledger.contains(&2));
    assert_eq!(ledger.apply_once(1, || ()), ApplyOutcome::Duplicate);
    assert_eq!(
        ledger.try_apply_once(2, || Err::<(), _>("down")),
        Err("down")
    );
    assert!(!ledger.contains(&2));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ledger.apply_once(3, || panic!("effect failed"))
    }));
    assert!(panicked.is_err());
    assert!(!ledger.contains(&3));
    assert_eq!(ledger.apply_once(3, || 7), ApplyOutcome::Applied(7));
    assert!(ledger.contains(&3));
    assert_eq!(ledger.len(), 2);
    let default: IdempotencyLedger<u8> = IdempotencyLedger::default();
    assert!(default.is_empty());
}

/// The idempotency ledger applies an effect once per key; a failed fallible effect is not
/// recorded.
#[test]
fn ledger_applies_once() {
    let ledger = IdempotencyLedger::new();
    let mut runs = 0;
    assert_eq!(
        ledger.apply_once(1, || runs += 1),
        ApplyOutcome::Applied(())
    );
    assert_eq!(ledger.apply_once(1, || runs += 1), ApplyOutcome::Duplicate);
    assert_eq!(runs, 1);
    assert_eq!(
        ledger.try_apply_once(2, || Err::<(), _>("down")),
        Err("down")
    );
    assert!(!ledger.contains(&2));
    assert_eq!(
        ledger.try_apply_once(2, || Ok::<_, ()>(5)),
        Ok(ApplyOutcome::Applied(5))
    );
    assert_eq!(ledger.len(), 2);
}

#[test]
fn backoff_doubles_and_caps() {
    let b = |n| backoff(ms(3), ms(20), n);
    assert_eq!(
        [b(1), b(2), b(3), b(4), b(40)],
        [ms(3), ms(6), ms(12), ms(20), ms(20)]
    );
    assert_eq!(
        backoff(ms(1), Duration::MAX, 200),
        Duration::from_millis(1 << 63)
    );
}

/// The queue and the ledger can be shared between threads.
#[test]
fn queue_and_ledger_are_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<RetryQueue<String, crate::clock::SystemClock>>();
    shareable::<RetryQueue<String, ManualClock>>();
    shareable::<IdempotencyLedger<MessageId>>();
}

/// `message_state` reports each stage of a message's life with its deadline, applies the
/// deadlines that passed itself (right after the clock moved, with nothing in between), and
/// says `None` once the message is deleted or dead-lettered, or for an id never sent.
#[test]
fn message_state_follows_a_message_through_its_life() {
    let backoff = RetryPolicy::ExponentialBackoff {
        base: ms(5),
        cap: ms(20),
    };
    let (q, clock) = queue(
        QueueConfig::default()
            .with_retry_policy(backoff)
            .with_max_receives(2),
    );
    let state = |id| q.message_state(id).map(|s| (s.receive_count, s.status));
    assert_eq!(state(MessageId::new(0)), None, "never sent");
    clock.advance(ms(3));
    let id = q.send("a");
    assert_eq!(
        state(id),
        Some((
            0,
            MessageStatus::Visible {
                since: Instant::from_millis(3)
            }
        ))
    );
    let d = q.receive(T30).unwrap();
    assert_eq!(
        state(id),
        Some((
            1,
            MessageStatus::InFlight {
                until: Instant::from_millis(33)
            }
        ))
    );
    clock.advance(ms(2));
    q.change_visibility(&d.receipt, T30).unwrap();
    assert_eq!(
        state(id),
        Some((
            1,
            MessageStatus::InFlight {
                until: Instant::from_millis(35)
            }
        ))
    );
    q.release(&d.receipt).unwrap();
    assert_eq!(
        state(id),
        Some((
            1,
            MessageStatus::Delayed {
                until: Instant::from_millis(10)
            }
        )),
        "released: waits out a 5 ms backoff"
    );
    clock.advance(ms(4));
    assert_eq!(
        state(id),
        Some((
            1,
            MessageStatus::Delayed {
                until: Instant::from_millis(10)
            }
        ))
    );
    clock.advance(ms(1));
    assert_eq!(
        state(id),
        Some((
            1,
            MessageStatus::Visible {
                since: Instant::from_millis(10)
            }
        )),
        "at the deadline, with nothing in between"
    );
    let d = q.receive(T30).unwrap();
    assert_eq!(d.receive_count, 2);
    clock.advance(T30);
    assert_eq!(state(id), None, "its second delivery lapsed: dead-lettered");
    assert_eq!(q.dead_letters().len(), 1);

    let other = q.send("b");
    let d = q.receive(T30).unwrap();
    assert_eq!(d.message, other);
    q.delete(&d.receipt).unwrap();
    assert_eq!(state(other), None, "deleted");
}

/// A consumer's batches are the queue's batches recorded with the consumer's id: the same
/// deliveries and answers, and each step of the log names the consumer.
#[test]
fn consumer_batches_are_the_queues_with_the_consumers_id() {
    let (q, _) = queue(QueueConfig::default());
    q.send_batch(["a", "b", "c"]);
    let consumer = q.consumer(ConsumerId(7));
    let got = consumer.receive_batch(2, T30);
    let bodies: Vec<&str> = got.iter().map(|d| d.body).collect();
    assert_eq!(bodies, ["a", "b"]);
    let mut receipts: Vec<ReceiptHandle> = got.iter().map(|d| d.receipt).collect();
    receipts.push(receipts[0]);
    let answers = consumer.delete_batch(&receipts);
    assert_eq!(answers.len(), 3);
    assert!(answers[0].is_ok() && answers[1].is_ok());
    assert_eq!(
        answers[2],
        Err(QueueError::MessageGone {
            message: got[0].message
        })
    );
    let consumers: Vec<Option<ConsumerId>> = q.events()[3..]
        .iter()
        .map(|r| match r.event {
            Event::Receive { consumer, .. } | Event::Delete { consumer, .. } => consumer,
            Event::Reject { consumer, .. } => consumer,
            ref other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(consumers, [Some(ConsumerId(7)); 5]);
    assert_eq!(q.counts().deleted, 2);
    assert_eq!(q.counts().visible, 1);
    assert!(format!("{q:?}").starts_with("RetryQueue"));
}

/// A deviation's id is the model variant's it mirrors, as the counterexample directories
/// and `coordlab drive` name it.
#[test]
fn deviation_ids_are_the_model_variants() {
    let ids: Vec<&str> = Deviation::ALL.iter().map(|d| d.id()).collect();
    assert_eq!(
        ids,
        [
            "delete-before-process",
            "stale-receipt-delete",
            "duplicate-not-deleted"
        ]
    );
}

/// An anonymous receive from a sharded queue starts at the calling thread's hint and moves
/// the hint to the shard it delivered from; the hint is the thread's own (another thread's
/// receives do not move it).
#[test]
fn anonymous_sharded_receives_start_at_the_threads_hint_and_stick() {
    let q = ShardedQueue::new(QueueConfig::default(), 2, ManualClock::new());
    // Round-robin sends: shard 0, 1, 0, 1, ...
    let ids: Vec<MessageId> = (0..6).map(|i| q.send(i)).collect();
    assert_eq!(
        ids.iter().map(|m| m.shard()).collect::<Vec<_>>(),
        [0, 1, 0, 1, 0, 1]
    );
    crate::sync::set_thread_hint(1);
    assert_eq!(crate::sync::thread_hint(), 1);
    assert_eq!(q.receive(T30).unwrap().message.shard(), 1);
    crate::sync::set_thread_hint(0);
    assert_eq!(q.receive(T30).unwrap().message.shard(), 0);
    // Another thread's receive (from its own start shard) leaves this thread's hint alone.
    crate::sync::thread::scope(|s| {
        s.spawn(|| {
            crate::sync::set_thread_hint(1);
            assert_eq!(q.receive(T30).unwrap().message.shard(), 1);
        });
    });
    assert_eq!(crate::sync::thread_hint(), 0);
    // Shard 0 runs dry: the receive falls through to shard 1 and the hint follows it.
    assert_eq!(q.receive(T30).unwrap().message.shard(), 0);
    assert_eq!(q.receive(T30).unwrap().message.shard(), 0);
    assert_eq!(q.receive(T30).unwrap().message.shard(), 1);
    assert_eq!(crate::sync::thread_hint(), 1);
    assert_eq!(q.send(6).shard(), 0);
    assert_eq!(q.send(7).shard(), 1);
    // Sticky: shard 1 first, though shard 0's message was sent earlier.
    assert_eq!(q.receive(T30).unwrap().body, 7);
    assert_eq!(q.receive(T30).unwrap().body, 6);
}

/// The waiting index is rebuilt once deadlines left behind outnumber the live ones; the
/// rebuild keeps every live deadline: after hundreds of visibility changes (each leaving an
/// old deadline behind), every message still comes back exactly at its newest deadline.
#[test]
fn rebuilding_the_waiting_index_keeps_every_live_deadline() {
    let (q, clock) = queue(QueueConfig::default());
    let sent: Vec<MessageId> = (0..3).map(|_| q.send("m")).collect();
    let held: Vec<Delivery<&str>> = (0..3).map(|_| q.receive(T30).unwrap()).collect();
    for round in 0..200u64 {
        for (i, d) in held.iter().enumerate() {
            // Deadlines far ahead (none passes during the loop, so the old ones pile up
            // until a rebuild), moved on every round.
            clock.advance(ms(1));
            q.change_visibility(&d.receipt, ms(10_000 + 10 * i as u64 + round % 3))
                .unwrap();
        }
    }
    q.check_invariants();
    let deadlines: Vec<Instant> = sent
        .iter()
        .map(|&id| match q.message_state(id).unwrap().status {
            MessageStatus::InFlight { until } => until,
            other => panic!("{id} should be in flight, is {other:?}"),
        })
        .collect();
    for (i, &at) in deadlines.iter().enumerate() {
        let now = clock.now();
        clock.advance(at.saturating_duration_since(now) - ms(1));
        assert_eq!(q.counts().visible, i, "before {at}");
        clock.advance(ms(1));
        assert_eq!(q.counts().visible, i + 1, "at {at}");
    }
}

/// A receipt this queue never issued — a delivery number not handed out yet, or 0 — is
/// refused as unknown even when it names a message the queue holds (a receipt read back
/// from JSON can say anything).
#[cfg(feature = "serde")]
#[test]
fn a_receipt_for_a_delivery_not_handed_out_is_unknown() {
    let (q, _) = queue(QueueConfig::default());
    q.send("a");
    let d = q.receive(T30).unwrap();
    let json = serde_json::to_value(d.receipt).unwrap();
    for forged_delivery in [0, 2, 7] {
        let mut forged = json.clone();
        forged["delivery"] = forged_delivery.into();
        let forged: ReceiptHandle = serde_json::from_value(forged).unwrap();
        assert_eq!(
            q.delete(&forged),
            Err(QueueError::UnknownReceipt { receipt: forged }),
            "delivery {forged_delivery}"
        );
    }
    // A message id this queue never issued (past the last one, or another shard's): unknown,
    // not gone.
    for forged_message in [
        MessageId::new(1),
        MessageId::new(5),
        MessageId::in_shard(1, 0),
    ] {
        let mut forged = json.clone();
        forged["message"] = serde_json::to_value(forged_message).unwrap();
        let forged: ReceiptHandle = serde_json::from_value(forged).unwrap();
        assert_eq!(
            q.delete(&forged),
            Err(QueueError::UnknownReceipt { receipt: forged }),
            "{forged_message}"
        );
    }
    assert_eq!(q.delete(&d.receipt), Ok(()));
    assert_eq!(
        q.delete(&d.receipt),
        Err(QueueError::MessageGone { message: d.message }),
        "issued, then deleted: gone"
    );
}

/// The ids and the readable forms the event logs and errors are printed with: a queue id
/// `q<n>`, a message id `m<index>` (`m<shard>.<index>` beyond shard 0), a receipt
/// `queue/message#delivery`, and each step of the log in words.
#[test]
fn ids_and_events_read_as_documented() {
    let (q, clock) = queue(QueueConfig::default().with_max_receives(1));
    assert_eq!(q.id().to_string(), format!("q{}", q.id().get()));
    let (other, _) = queue(QueueConfig::default());
    assert_ne!(other.id().get(), q.id().get(), "every queue has its own id");
    let m = MessageId::in_shard(3, 41);
    assert_eq!((m.shard(), m.index()), (3, 41));
    assert_eq!(m.to_string(), "m3.41");
    let big = MessageId::in_shard(255, (1 << 56) - 1);
    assert_eq!((big.shard(), big.index()), (255, (1 << 56) - 1));
    assert_eq!(MessageId::in_shard(0, 7), MessageId::new(7));

    let id = q.send("a");
    let c = q.consumer(ConsumerId(2));
    let first = c.receive(T30).unwrap();
    assert_eq!(first.receipt.to_string(), format!("{}/m0#1", q.id()));
    clock.advance(T30);
    assert_eq!(
        c.delete(&first.receipt),
        Err(QueueError::MessageGone { message: id })
    );
    c.record_crash(Some(&first.receipt));
    c.record_crash(None);
    let texts: Vec<String> = q.events().iter().map(|r| r.event.to_string()).collect();
    let messages: Vec<Option<MessageId>> = q.events().iter().map(|r| r.event.message()).collect();
    assert_eq!(
        texts,
        [
            "send m0".to_string(),
            "c2 receives m0 (delivery #1, invisible until 30ms)".to_string(),
            "clock advances to 30ms".to_string(),
            "the visibility deadline of m0 (delivery #1) passes".to_string(),
            "m0 moves to the dead-letter queue after 1 receives".to_string(),
            "the queue rejects c2's delete of m0 (delivery #1): the message is deleted or dead-lettered".to_string(),
            "c2 crashes holding m0 (delivery #1)".to_string(),
            "c2 crashes".to_string(),
        ]
    );
    assert_eq!(
        messages,
        [
            Some(id),
            Some(id),
            None,
            Some(id),
            Some(id),
            Some(id),
            Some(id),
            None
        ]
    );
    let delete = Event::Delete {
        message: id,
        delivery: 1,
        current: 2,
        consumer: None,
    };
    assert!(
        delete
            .to_string()
            .ends_with("(STALE: the newest delivery is #2)"),
        "{delete}"
    );
    let fresh = Event::Delete {
        message: id,
        delivery: 2,
        current: 2,
        consumer: None,
    };
    assert!(!fresh.to_string().contains("STALE"), "{fresh}");
    for (operation, text) in [
        (ReceiptOperation::Delete, "delete"),
        (ReceiptOperation::ChangeVisibility, "change_visibility"),
        (ReceiptOperation::Release, "release"),
    ] {
        assert_eq!(operation.to_string(), text);
    }
    for (reason, text) in [
        (
            Rejection::StaleReceipt { current: 3 },
            "stale receipt, the newest delivery is #3",
        ),
        (
            Rejection::MessageNotInflight,
            "not in flight, the delivery's visibility timeout has run out",
        ),
        (Rejection::UnknownReceipt, "the receipt is not this queue's"),
    ] {
        assert_eq!(reason.to_string(), text);
    }
}

/// A sharded queue's own (anonymous) operations route each receipt to the shard that issued
/// it: batches and deletes answer as the shard does, and a receipt is refused where its
/// shard would refuse it.
#[test]
fn anonymous_sharded_operations_answer_as_the_receipts_shard() {
    let q = ShardedQueue::new(QueueConfig::default(), 3, ManualClock::new());
    assert_eq!(q.shard_count(), 3);
    let ids = q.send_batch(["a", "b"]);
    q.send("c");
    assert!(ids.iter().all(|m| m.shard() == ids[0].shard()));
    let got = q.receive_batch(5, T30);
    let mut bodies: Vec<&str> = got.iter().map(|d| d.body).collect();
    bodies.sort();
    assert_eq!(bodies, ["a", "b", "c"]);
    assert_eq!(q.delete(&got[0].receipt), Ok(()));
    assert_eq!(
        q.delete(&got[0].receipt),
        Err(QueueError::MessageGone {
            message: got[0].message
        })
    );
    let rest: Vec<ReceiptHandle> = got[1..].iter().map(|d| d.receipt).collect();
    assert_eq!(q.delete_batch(&rest), [Ok(()), Ok(())]);
    let c = q.counts();
    assert_eq!((c.sent, c.deleted, c.in_flight), (3, 3, 0));
}

/// The rest of a sharded queue's own operations: visibility changes and releases answer as
/// the receipt's shard does, dead letters are drained from every shard, and steps recorded
/// outside the queue (by the queue or a consumer) land in the log of the shard that holds
/// their message (shard 0 for a step that names none).
#[test]
fn sharded_visibility_releases_dead_letters_and_records_reach_the_right_shard() {
    let clock = ManualClock::new();
    let config = QueueConfig::default()
        .with_max_receives(1)
        .with_event_log(true)
        .with_retry_policy(RetryPolicy::Immediate);
    let q = ShardedQueue::new(config.clone(), 2, clock.clone());
    assert_eq!(q.config(), config);
    assert!(format!("{q:?}").starts_with("ShardedQueue"));
    q.send("a"); // shard 0
    q.send("b"); // shard 1
    let c = q.consumer(ConsumerId(4));
    let a = c.receive(T30).unwrap();
    let b = c.receive(T30).unwrap();
    assert_ne!(a.message.shard(), b.message.shard());
    assert_eq!(q.change_visibility(&b.receipt, ms(50)), Ok(()));

    c.record_process(&b.receipt, ProcessOutcome::Applied);
    q.record(Event::Tick {
        now: Instant::from_millis(0),
    });
    c.record_crash(Some(&a.receipt));
    c.record_crash(None);
    // Released with one receive allowed: dead-lettered at once.
    assert_eq!(q.release(&a.receipt), Ok(Instant::ZERO));
    assert_eq!(
        q.release(&a.receipt),
        Err(QueueError::MessageGone { message: a.message })
    );
    clock.advance(ms(50));
    let drained: Vec<MessageId> = q.drain_dead_letters().iter().map(|d| d.message).collect();
    assert_eq!(drained.len(), 2, "both shards' dead letters");
    assert!(drained.contains(&a.message) && drained.contains(&b.message));
    assert!(q.drain_dead_letters().is_empty());
    q.check_invariants();
    let logs = q.events_by_shard();
    let names = |shard: usize| -> Vec<String> {
        logs[shard]
            .iter()
            .map(|r| r.event.to_string())
            .filter(|e| e.contains("c4") || e.starts_with("clock"))
            .collect()
    };
    let shard_a = usize::from(a.message.shard());
    let shard_b = usize::from(b.message.shard());
    assert!(
        names(shard_b)
            .iter()
            .any(|e| e.starts_with("c4 processes") || e.contains("applies")),
        "{:?}",
        names(shard_b)
    );
    assert!(
        names(shard_a)
            .iter()
            .any(|e| e.starts_with("c4 crashes holding")),
        "{:?}",
        names(shard_a)
    );
    assert!(names(0).iter().any(|e| e == "c4 crashes"), "{:?}", names(0));
}
