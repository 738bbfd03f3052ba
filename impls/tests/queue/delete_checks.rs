//! What the batch and sharded races share: a consumer's delete results against the event log,
//! every message resolved exactly once, and running a race under both shuttle schedulers while
//! requiring that its interesting interleavings happened.

#![cfg(shuttle)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use coordlab_impls::queue::{
    ConsumerId, Event, EventRecord, MessageId, QueueError, ReceiptHandle, ReceiptOperation,
    Rejection,
};

/// A delete as its consumer saw it: the receipt's message and delivery, and the refusal if it
/// was refused.
pub type Outcome = (MessageId, u32, Option<Rejection>);

/// What `consumer`'s deletes returned, in order, as [`Outcome`]s; an error for a refusal no
/// delete in these races can get (unknown receipt, not in flight).
pub fn returned(
    consumer: ConsumerId,
    results: &[(ReceiptHandle, Result<(), QueueError>)],
) -> Result<Vec<Outcome>, String> {
    results
        .iter()
        .map(|(receipt, result)| {
            let refusal = match result {
                Ok(()) => None,
                Err(QueueError::StaleReceipt { current, .. }) => {
                    Some(Rejection::StaleReceipt { current: *current })
                }
                Err(QueueError::MessageGone { .. }) => Some(Rejection::MessageGone),
                Err(other) => return Err(format!("{consumer}: unexpected refusal {other}")),
            };
            Ok((receipt.message(), receipt.delivery(), refusal))
        })
        .collect()
}

/// The deletes and delete refusals `events` records for `consumer`, in log order.
pub fn logged(events: &[EventRecord], consumer: ConsumerId) -> Vec<Outcome> {
    events
        .iter()
        .filter_map(|r| match r.event {
            Event::Delete {
                message,
                delivery,
                consumer: Some(c),
                ..
            } if c == consumer => Some((message, delivery, None)),
            Event::Reject {
                operation: ReceiptOperation::Delete,
                message,
                delivery,
                consumer: Some(c),
                reason,
            } if c == consumer => Some((message, delivery, Some(reason))),
            _ => None,
        })
        .collect()
}

/// Every message `events` shows sent that does not end deleted or dead-lettered exactly once,
/// with how many times it was.
pub fn not_resolved_once(events: &[EventRecord]) -> Vec<(MessageId, usize)> {
    let mut resolved: BTreeMap<MessageId, usize> = BTreeMap::new();
    for record in events {
        match record.event {
            Event::Send { message } => {
                resolved.entry(message).or_default();
            }
            Event::Delete { message, .. } | Event::MoveToDeadLetter { message, .. } => {
                *resolved.entry(message).or_default() += 1;
            }
            _ => {}
        }
    }
    resolved.into_iter().filter(|&(_, n)| n != 1).collect()
}

thread_local! {
    /// What the executions on this thread have shown (shuttle runs every task on the test's
    /// own thread).
    static SEEN: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
}

/// Notes that an execution showed `what`.
pub fn note(what: impl Into<String>) {
    SEEN.with(|seen| seen.borrow_mut().insert(what.into()));
}

/// Runs `race` `iterations` times under shuttle's random scheduler, then as many under PCT
/// (depth 3), and fails unless, under each scheduler, some execution noted every one of
/// `wanted`: the races the test exists for must have happened.
pub fn run_under_shuttle(race: fn(), iterations: usize, wanted: &[&str]) {
    for name in ["random", "pct"] {
        if name == "random" {
            shuttle::check_random(race, iterations);
        } else {
            shuttle::check_pct(race, iterations, 3);
        }
        let seen = SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()));
        for wanted in wanted {
            assert!(
                seen.contains(*wanted),
                "{name}: no execution showed {wanted}; seen: {seen:?}"
            );
        }
    }
}
