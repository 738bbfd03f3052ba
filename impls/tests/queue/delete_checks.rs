//! Checks shared by the batch and sharded races: a consumer's delete results against the event
//! log, and every message resolved exactly once.

#![cfg(shuttle)]

use std::collections::BTreeMap;

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
