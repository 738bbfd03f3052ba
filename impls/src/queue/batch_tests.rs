//! The batch operations are their single operations in a row. Two queues with the same
//! configuration and clock get the same script of steps; one runs each step as one batch call,
//! the other as a loop of single calls. They must return the same deliveries and results and
//! write the same event log, after every step, whatever the script: clock moves right before
//! a batch (so its first call is the one that applies the deadlines), batches larger than what
//! is visible, stale, lapsed, dead-lettered and repeated receipts in one delete batch.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::clock::{Instant, ManualClock};

#[derive(Clone, Debug)]
enum Step {
    /// The clock moves this many milliseconds, and nothing else happens.
    Advance(u64),
    /// `send_batch` of this many messages.
    Send(usize),
    /// `receive_batch(max, visibility)`, visibility in milliseconds.
    Receive { max: usize, visibility: u64 },
    /// `delete_batch` of these receipts (indexes into every receipt issued so far, so stale
    /// ones and repeats too).
    Delete(Vec<Index>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..12).prop_map(Step::Advance),
        (0usize..4).prop_map(Step::Send),
        (0usize..5, 1u64..10).prop_map(|(max, visibility)| Step::Receive { max, visibility }),
        prop::collection::vec(any::<Index>(), 0..5).prop_map(Step::Delete),
    ]
}

/// What a delivery says, without the receipt's queue id (the two queues' ids differ).
fn seen(d: &Delivery<u32>) -> (MessageId, u32, u32, u32, Instant) {
    (
        d.message,
        d.body,
        d.receipt.delivery(),
        d.receive_count,
        d.visible_until,
    )
}

/// A result, without the receipt's queue id.
fn outcome(r: &Result<(), QueueError>) -> String {
    match r {
        Ok(()) => "ok".to_owned(),
        Err(QueueError::StaleReceipt { receipt, current }) => {
            format!(
                "stale {}#{} now #{current}",
                receipt.message(),
                receipt.delivery()
            )
        }
        Err(QueueError::MessageGone { message }) => format!("gone {message}"),
        Err(QueueError::UnknownReceipt { receipt }) => {
            format!("unknown {}#{}", receipt.message(), receipt.delivery())
        }
        Err(QueueError::MessageNotInflight {
            receipt,
            visible_since,
        }) => format!(
            "not in flight {}#{} since {visible_since:?}",
            receipt.message(),
            receipt.delivery()
        ),
    }
}

fn run(max_receives: Option<u32>, steps: &[Step]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let mut config = QueueConfig::default().with_event_log(true);
    if let Some(max) = max_receives {
        config = config.with_max_receives(max);
    }
    let batched = RetryQueue::<u32, _>::new(config.clone(), clock.clone());
    let single = RetryQueue::<u32, _>::new(config, clock.clone());
    // Receipts issued so far, in the same order by both queues.
    let mut receipts: Vec<(ReceiptHandle, ReceiptHandle)> = Vec::new();
    let mut next_body = 0u32;
    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Advance(ms) => {
                clock.advance(Duration::from_millis(*ms));
            }
            Step::Send(k) => {
                let bodies: Vec<u32> = (next_body..next_body + *k as u32).collect();
                next_body += *k as u32;
                let a = batched.send_batch(bodies.iter().copied());
                let b: Vec<MessageId> = bodies.iter().map(|&body| single.send(body)).collect();
                prop_assert_eq!(a, b, "step {}: send ids", n);
            }
            Step::Receive { max, visibility } => {
                let visibility = Duration::from_millis(*visibility);
                let a = batched.receive_batch(*max, visibility);
                let mut b = Vec::new();
                while b.len() < *max {
                    match single.receive(visibility) {
                        Some(d) => b.push(d),
                        None => break,
                    }
                }
                prop_assert_eq!(
                    a.iter().map(seen).collect::<Vec<_>>(),
                    b.iter().map(seen).collect::<Vec<_>>(),
                    "step {}: deliveries",
                    n
                );
                receipts.extend(a.iter().zip(&b).map(|(x, y)| (x.receipt, y.receipt)));
            }
            Step::Delete(picks) => {
                if receipts.is_empty() {
                    continue;
                }
                let chosen: Vec<&(ReceiptHandle, ReceiptHandle)> =
                    picks.iter().map(|i| i.get(&receipts)).collect();
                let batch: Vec<ReceiptHandle> = chosen.iter().map(|(a, _)| *a).collect();
                let a = batched.delete_batch(&batch);
                prop_assert_eq!(a.len(), batch.len(), "step {}: one result per receipt", n);
                let b: Vec<_> = chosen.iter().map(|(_, r)| single.delete(r)).collect();
                prop_assert_eq!(
                    a.iter().map(outcome).collect::<Vec<_>>(),
                    b.iter().map(outcome).collect::<Vec<_>>(),
                    "step {}: delete results",
                    n
                );
            }
        }
        prop_assert_eq!(batched.events(), single.events(), "step {}: event logs", n);
        prop_assert_eq!(batched.counts(), single.counts(), "step {}: counts", n);
        batched.check_invariants();
    }
    prop_assert_eq!(batched.dead_letters(), single.dead_letters());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batches_are_their_single_operations_in_a_row(
        max_receives in prop::option::of(1u32..4),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        run(max_receives, &steps)?;
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Each batch right after the clock moved, with nothing in between: the batch's own call
/// applies the deadline. At the deadline instant the lapsed messages are visible again and
/// come first, in delivery order; a delete batch reports each receipt on its own.
#[test]
fn batches_right_after_the_clock_moved_apply_the_deadline_first() {
    let clock = ManualClock::new();
    let q = RetryQueue::<&str, _>::new(QueueConfig::default().with_max_receives(2), clock.clone());
    let ids = q.send_batch(["a", "b", "c"]);
    let first = q.receive_batch(2, ms(10));
    assert_eq!(
        first.iter().map(|d| d.message).collect::<Vec<_>>(),
        ids[..2],
        "FIFO, and no more than asked"
    );
    assert!(
        q.receive_batch(0, ms(10)).is_empty(),
        "a batch of 0 is empty"
    );
    clock.advance(ms(9));
    let third = q.receive_batch(5, ms(10));
    assert_eq!(
        third.iter().map(|d| d.message).collect::<Vec<_>>(),
        ids[2..],
        "1 ms before the deadline only the never-received message is visible: a short batch"
    );
    clock.advance(ms(1));
    let again = q.receive_batch(5, ms(10));
    assert_eq!(
        again
            .iter()
            .map(|d| (d.message, d.receive_count))
            .collect::<Vec<_>>(),
        vec![(ids[0], 2), (ids[1], 2)],
        "at the deadline both lapsed messages are delivered again, in order"
    );
    let results = q.delete_batch(&[first[0].receipt, again[0].receipt, again[0].receipt]);
    assert!(matches!(
        results[0],
        Err(QueueError::StaleReceipt { current: 2, .. })
    ));
    assert_eq!(results[1], Ok(()));
    assert_eq!(
        results[2],
        Err(QueueError::MessageGone { message: ids[0] }),
        "a receipt repeated in one batch: the second delete finds the message gone"
    );
    // b's second delivery lapses at 20 ms and it has used both receives: a delete batch right
    // after the clock reached the deadline finds it dead-lettered, and still deletes c.
    clock.advance(ms(10));
    let results = q.delete_batch(&[again[1].receipt, third[0].receipt]);
    assert_eq!(
        results,
        vec![Err(QueueError::MessageGone { message: ids[1] }), Ok(())]
    );
    assert_eq!(
        q.dead_letters()
            .iter()
            .map(|d| d.message)
            .collect::<Vec<_>>(),
        vec![ids[1]]
    );
    q.check_invariants();
}
