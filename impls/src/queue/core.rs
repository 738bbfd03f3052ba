//! The queue protocol as a pure state machine: no lock, no clock, no threads. Every operation
//! takes the current time `now` as an argument, so the same core runs inside [`RetryQueue`]
//! (real threads, loom, shuttle), in a sequential reference test, or in a replay.
//!
//! [`RetryQueue`]: super::RetryQueue

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use super::event::{
    ConsumerId, Event, EventRecord, MessageId, QueueId, ReceiptHandle, ReceiptOperation,
};
use super::slab::Slab;
use super::{
    DeadLetter, Delivery, MessageState, MessageStatus, QueueConfig, QueueCounts, QueueError,
    RetryPolicy,
};
use crate::clock::{Instant, millis_ceil};

/// A message the queue still holds (not deleted, not dead-lettered).
#[derive(Debug)]
struct Message<T> {
    body: T,
    sent_at: Instant,
    /// How many times it has been received; also its newest delivery number.
    receive_count: u32,
    /// It is visible (deliverable) from this instant on. Its delivery-order key is
    /// `(visible_at, id)`.
    visible_at: Instant,
    /// The holder of the newest delivery still has it invisible: it was received (or its
    /// visibility extended) and has not been released, and the deadline has not passed.
    in_flight: bool,
    /// Which index holds it.
    park: Park,
}

/// Where a held message is parked: every held message is in exactly one index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Park {
    /// Visible and never received: its id is at or after `fresh`.
    Fresh,
    /// Visible again after a delivery lapsed or was released: in `returned`.
    Returned,
    /// Invisible until `visible_at`: an entry `(visible_at, id)` of `waiting` is live.
    Waiting,
}

/// The retrying queue's protocol state: SQS-style visibility timeouts, per-delivery receipts,
/// retry policies and dead-lettering.
///
/// Time only moves when an operation passes a later `now`; the core applies every deadline that
/// has passed (visibility timeouts running out, dead-letter moves) at the start of the
/// operation, before doing anything else. An earlier `now` than one already seen is treated as
/// the latest seen: the core's time never goes backwards.
///
/// Delivery order: among the visible messages, the one that became visible earliest goes
/// first (ties by message id), so new messages are FIFO and a redelivered message queues
/// behind messages that were already waiting.
///
/// A receipt is checked in this order: issued by this queue (its id, a message id and a
/// delivery number handed out), message still held, newest delivery, and, for
/// `change_visibility` and `release`, message still invisible (a visibility deadline at or
/// before `now` has lapsed). Every refusal is logged as [`Event::Reject`] and changes nothing.
#[derive(Debug)]
pub struct QueueCore<T> {
    id: QueueId,
    config: QueueConfig,
    now: Instant,
    next_id: u64,
    messages: Slab<Message<T>>,
    /// The first id never received: every id from here to `next_id` is held, visible and
    /// never received ("fresh"), and they are delivered in id order, which is their delivery
    /// order — a send is visible at the core's time, which never goes back, with the next id —
    /// so no index is kept for them. Nothing else removes a fresh message: no receipt names
    /// it, and only a delivery can use up its receives.
    fresh: u64,
    /// Visible messages that were received before, in delivery order `(visible_at, id)`.
    /// Delivery takes the earlier of its first and `fresh`'s first.
    returned: BTreeSet<(Instant, MessageId)>,
    /// Invisible messages, by the instant they become visible: a min-heap of
    /// `(visible_at, id)` whose entries are checked against the message when they come up
    /// (lazy deletion): an entry is live only while its message is parked `Waiting` with
    /// that `visible_at`. A delete or a new deadline leaves the old entry behind to be
    /// skipped, so the common operations cost one heap push and no search.
    waiting: BinaryHeap<Reverse<(Instant, MessageId)>>,
    /// How many held messages are parked `Waiting`.
    waiting_count: usize,
    /// How many messages have `in_flight` set (all of them are `Waiting`).
    in_flight: usize,
    dead_letters: Vec<DeadLetter<T>>,
    sent: u64,
    deleted: u64,
    dead_lettered: u64,
    events: Option<Vec<EventRecord>>,
}

impl<T> QueueCore<T> {
    /// An empty queue at time zero, with an id no other queue in this process has.
    pub fn new(config: QueueConfig) -> QueueCore<T> {
        QueueCore::shard(config, QueueId::unique(), 0)
    }

    /// One shard of a sharded queue: an empty core at time zero with the queue's id, whose
    /// message ids are `MessageId::in_shard(shard, 0)`, `MessageId::in_shard(shard, 1)`, ….
    pub(crate) fn shard(config: QueueConfig, id: QueueId, shard: u8) -> QueueCore<T> {
        let first = MessageId::in_shard(shard, 0).get();
        let events = config.record_events.then(Vec::new);
        QueueCore {
            id,
            config,
            now: Instant::ZERO,
            next_id: first,
            messages: Slab::starting_at(first),
            fresh: first,
            returned: BTreeSet::new(),
            waiting: BinaryHeap::new(),
            waiting_count: 0,
            in_flight: 0,
            dead_letters: Vec::new(),
            sent: 0,
            deleted: 0,
            dead_lettered: 0,
            events,
        }
    }

    /// The queue's id, which every receipt it issues carries.
    pub fn id(&self) -> QueueId {
        self.id
    }

    /// The configuration the queue was made with.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The latest time the core has seen.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Adds a message, visible at once. Returns its id.
    pub fn send(&mut self, now: Instant, body: T) -> MessageId {
        self.advance(now);
        let id = MessageId::new(self.next_id);
        self.next_id += 1;
        self.sent += 1;
        let at = self.now;
        self.messages.push(
            id,
            Message {
                body,
                sent_at: at,
                receive_count: 0,
                visible_at: at,
                in_flight: false,
                park: Park::Fresh,
            },
        );
        self.log(Event::Send { message: id });
        id
    }

    /// Delivers the next visible message, if any, and hides it for `visibility_timeout`. The
    /// delivery carries a new receipt; every earlier receipt of the message becomes stale.
    pub fn receive(
        &mut self,
        now: Instant,
        visibility_timeout: Duration,
        consumer: Option<ConsumerId>,
    ) -> Option<Delivery<T>>
    where
        T: Clone,
    {
        self.advance(now);
        let id = self.pop_visible()?;
        let now = self.now;
        let visible_until = now.saturating_add(visibility_timeout);
        let queue = self.id;
        let msg = self.message_mut(id);
        msg.receive_count = msg
            .receive_count
            .checked_add(1)
            .expect("a message was received u32::MAX times; delivery numbers would repeat");
        msg.in_flight = true;
        let delivery = Delivery {
            message: id,
            body: msg.body.clone(),
            receipt: ReceiptHandle {
                queue,
                message: id,
                delivery: msg.receive_count,
            },
            receive_count: msg.receive_count,
            visible_until,
        };
        self.in_flight += 1;
        self.log(Event::Receive {
            message: id,
            delivery: delivery.receive_count,
            consumer,
            visible_until,
        });
        self.hide_until(id, visible_until);
        Some(delivery)
    }

    /// Deletes the message, if `receipt` is its newest delivery's.
    pub fn delete(
        &mut self,
        now: Instant,
        receipt: &ReceiptHandle,
        consumer: Option<ConsumerId>,
    ) -> Result<(), QueueError> {
        self.advance(now);
        self.check_receipt(receipt, ReceiptOperation::Delete, consumer)?;
        let id = receipt.message;
        self.unpark(id);
        let (was_in_flight, current) = self
            .messages
            .discard(id, |msg| (msg.in_flight, msg.receive_count))
            .expect("checked receipt names a held message");
        if was_in_flight {
            self.in_flight -= 1;
        }
        self.deleted += 1;
        self.log(Event::Delete {
            message: id,
            delivery: receipt.delivery,
            current,
            consumer,
        });
        Ok(())
    }

    /// Adds every body of `bodies`, in order, at one instant: the same as that many
    /// [`send`](Self::send)s with nothing in between. Returns their ids, in order.
    pub fn send_batch(
        &mut self,
        now: Instant,
        bodies: impl IntoIterator<Item = T>,
    ) -> Vec<MessageId> {
        self.advance(now);
        bodies
            .into_iter()
            .map(|body| self.send(now, body))
            .collect()
    }

    /// Delivers up to `max_messages` visible messages at one instant, in delivery order, each
    /// hidden for `visibility_timeout`: the same as that many [`receive`](Self::receive)s with
    /// nothing in between, stopping at the first that finds nothing visible. Empty when nothing
    /// is visible or `max_messages` is 0.
    pub fn receive_batch(
        &mut self,
        now: Instant,
        max_messages: usize,
        visibility_timeout: Duration,
        consumer: Option<ConsumerId>,
    ) -> Vec<Delivery<T>>
    where
        T: Clone,
    {
        self.advance(now);
        let mut deliveries = Vec::with_capacity(max_messages.min(self.messages.len()));
        while deliveries.len() < max_messages {
            match self.receive(now, visibility_timeout, consumer) {
                Some(delivery) => deliveries.push(delivery),
                None => break,
            }
        }
        deliveries
    }

    /// Deletes with each receipt of `receipts`, in order, at one instant: the same as that many
    /// [`delete`](Self::delete)s with nothing in between. One result per receipt, in order; a
    /// refused receipt changes nothing and does not stop the others.
    pub fn delete_batch(
        &mut self,
        now: Instant,
        receipts: &[ReceiptHandle],
        consumer: Option<ConsumerId>,
    ) -> Vec<Result<(), QueueError>> {
        self.advance(now);
        receipts
            .iter()
            .map(|receipt| self.delete(now, receipt, consumer))
            .collect()
    }

    /// Whether [`delete`](Self::delete) with `receipt` needs the current time, or gives the same
    /// result and leaves the same observable state at the core's latest time
    /// ([`now`](Self::now)). Time changes a delete's outcome only by dead-lettering: a message
    /// that has used all its receives moves to the dead-letter queue when its deadline passes,
    /// and a delete after that finds it gone. Every other refusal (unknown, gone, stale) and the
    /// acceptance of the newest receipt hold whatever the time (a lapse does not stop a delete).
    /// The deadlines of other messages that a later time would apply are applied by the next
    /// operation that reads the clock, before it looks at anything; with the event log on, the
    /// log records when they were applied, so then the time is always needed.
    pub fn delete_needs_clock(&self, receipt: &ReceiptHandle) -> bool {
        if self.events.is_some() {
            return true;
        }
        let Some(max) = self.config.max_receives else {
            return false;
        };
        self.messages
            .get(receipt.message)
            .is_some_and(|m| m.receive_count >= max)
    }

    /// Moves the message's visibility deadline to `now + visibility_timeout`; zero makes it
    /// visible at once. Needs the newest delivery's receipt, while the message is invisible.
    pub fn change_visibility(
        &mut self,
        now: Instant,
        receipt: &ReceiptHandle,
        visibility_timeout: Duration,
        consumer: Option<ConsumerId>,
    ) -> Result<(), QueueError> {
        self.advance(now);
        self.check_receipt(receipt, ReceiptOperation::ChangeVisibility, consumer)?;
        let id = receipt.message;
        let at = self.now.saturating_add(visibility_timeout);
        self.unpark(id);
        let msg = self.message_mut(id);
        let newly_in_flight = !msg.in_flight;
        msg.in_flight = true;
        if newly_in_flight {
            self.in_flight += 1;
        }
        self.log(Event::ChangeVisibility {
            message: id,
            delivery: receipt.delivery,
            consumer,
            visible_at: at,
        });
        self.hide_until(id, at);
        Ok(())
    }

    /// "Processing failed": gives the delivery up and schedules the retry by the queue's
    /// [`RetryPolicy`]. Returns when the message is visible again (if it has used all its
    /// receives, it moves to the dead-letter queue at that instant instead). Needs the newest
    /// delivery's receipt, while the message is invisible.
    pub fn release(
        &mut self,
        now: Instant,
        receipt: &ReceiptHandle,
        consumer: Option<ConsumerId>,
    ) -> Result<Instant, QueueError> {
        self.advance(now);
        self.check_receipt(receipt, ReceiptOperation::Release, consumer)?;
        let id = receipt.message;
        let now = self.now;
        let policy = self.config.retry_policy;
        let msg = self.message(id);
        let at = match policy {
            RetryPolicy::Immediate => now,
            // Still invisible (checked): keeps its deadline.
            RetryPolicy::RequeueOnExpiry => msg.visible_at,
            RetryPolicy::ExponentialBackoff { base, cap } => {
                now.saturating_add(backoff(base, cap, msg.receive_count))
            }
        };
        self.unpark(id);
        let msg = self.message_mut(id);
        let was_in_flight = std::mem::replace(&mut msg.in_flight, false);
        if was_in_flight {
            self.in_flight -= 1;
        }
        self.log(Event::Release {
            message: id,
            delivery: receipt.delivery,
            consumer,
            visible_at: at,
        });
        self.hide_until(id, at);
        Ok(at)
    }

    /// Moves the core's time to `now` (logging a `Tick` if it is later than the latest time
    /// seen) and applies every deadline that has passed: visibility timeouts that ran out make
    /// their messages visible again, and a message that has used all its receives moves to the
    /// dead-letter queue instead. Every other operation does this first; call it directly to
    /// move time without doing anything else.
    pub fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
            self.log(Event::Tick { now });
        }
        while let Some(&Reverse((at, id))) = self.waiting.peek() {
            if at > self.now {
                break;
            }
            self.waiting.pop();
            // An entry left behind by a delete or a new deadline: skip it.
            if !self
                .messages
                .get(id)
                .is_some_and(|m| m.park == Park::Waiting && m.visible_at == at)
            {
                continue;
            }
            // Out of `waiting`: `make_visible` parks it again, or dead-letters it.
            self.waiting_count -= 1;
            let delivery = self.message(id).receive_count;
            self.log(Event::Expire {
                message: id,
                delivery,
            });
            self.make_visible(id);
        }
    }

    /// How many messages are in each state at `now`.
    pub fn counts(&mut self, now: Instant) -> QueueCounts {
        self.advance(now);
        QueueCounts {
            sent: self.sent,
            visible: self.fresh_count() + self.returned.len(),
            in_flight: self.in_flight,
            delayed: self.waiting_count - self.in_flight,
            deleted: self.deleted,
            dead_lettered: self.dead_lettered,
        }
    }

    /// Where message `id` is at `now` (after applying the deadlines that have passed), or
    /// `None` if this queue does not hold it: deleted, dead-lettered, or never sent here.
    pub fn message_state(&mut self, now: Instant, id: MessageId) -> Option<MessageState> {
        self.advance(now);
        let m = self.messages.get(id)?;
        let status = match m.park {
            Park::Fresh | Park::Returned => MessageStatus::Visible {
                since: m.visible_at,
            },
            Park::Waiting if m.in_flight => MessageStatus::InFlight {
                until: m.visible_at,
            },
            Park::Waiting => MessageStatus::Delayed {
                until: m.visible_at,
            },
        };
        Some(MessageState {
            receive_count: m.receive_count,
            status,
        })
    }

    /// The dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> &[DeadLetter<T>] {
        &self.dead_letters
    }

    /// Empties the dead-letter queue and returns its messages, oldest first. The
    /// `dead_lettered` count keeps counting them.
    pub fn drain_dead_letters(&mut self) -> Vec<DeadLetter<T>> {
        std::mem::take(&mut self.dead_letters)
    }

    /// Records a step that happened outside the queue (a consumer's `Process` or `Crash`),
    /// after applying the deadlines that have passed by `now`. Does nothing to the state
    /// otherwise; logs nothing unless the event log is on.
    pub fn record(&mut self, now: Instant, event: Event) {
        self.advance(now);
        self.log(event);
    }

    /// The event log so far (empty if it is off).
    pub fn events(&self) -> &[EventRecord] {
        self.events.as_deref().unwrap_or(&[])
    }

    /// Takes the event log so far, leaving it empty (and still on, if it was).
    pub fn take_events(&mut self) -> Vec<EventRecord> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Panics, naming the broken invariant, if the core's bookkeeping is inconsistent. Costs
    /// O(messages); tests call it after every step.
    pub fn check_invariants(&self) {
        let live: BTreeSet<(Instant, MessageId)> =
            self.waiting.iter().map(|&Reverse(key)| key).collect();
        assert_eq!(
            self.messages.len(),
            self.fresh_count() + self.returned.len() + self.waiting_count,
            "every held message is parked in exactly one index"
        );
        let mut in_flight = 0;
        let mut waiting = 0;
        self.messages.check();
        for (id, msg) in self.messages.iter() {
            let key = (msg.visible_at, id);
            match msg.park {
                Park::Waiting => {
                    waiting += 1;
                    assert!(msg.visible_at > self.now, "{id} waiting past its deadline");
                    assert!(live.contains(&key), "{id} waiting without a heap entry");
                }
                Park::Fresh | Park::Returned => {
                    assert!(msg.visible_at <= self.now, "{id} visible before its time");
                    assert!(!msg.in_flight, "{id} visible but in flight");
                    assert!(
                        self.config
                            .max_receives
                            .is_none_or(|max| msg.receive_count < max),
                        "{id} visible after using all its receives"
                    );
                    if msg.park == Park::Fresh {
                        assert_eq!(msg.receive_count, 0, "{id} fresh but received");
                        assert!(id.get() >= self.fresh, "{id} fresh but before `fresh`");
                    } else {
                        assert!(
                            self.returned.contains(&key),
                            "{id} returned but not in returned"
                        );
                    }
                }
            }
            in_flight += usize::from(msg.in_flight);
        }
        assert_eq!(waiting, self.waiting_count, "waiting count");
        assert!(
            (self.fresh..self.next_id).all(|id| self
                .messages
                .get(MessageId::new(id))
                .is_some_and(|m| m.park == Park::Fresh)),
            "an id at or after `fresh` is not a fresh message"
        );
        assert!(
            self.returned.iter().all(|&(at, id)| self
                .messages
                .get(id)
                .is_some_and(|m| m.park == Park::Returned && m.visible_at == at)),
            "returned holds a message parked elsewhere"
        );
        assert_eq!(in_flight, self.in_flight, "in-flight count");
        assert_eq!(
            self.sent,
            self.messages.len() as u64 + self.deleted + self.dead_lettered,
            "conservation: sent = held + deleted + dead-lettered"
        );
        assert!(
            self.dead_letters.len() as u64 <= self.dead_lettered,
            "dead-letter queue longer than the dead-lettered count"
        );
    }

    fn log(&mut self, event: Event) {
        if let Some(events) = &mut self.events {
            events.push(EventRecord {
                at: self.now,
                event,
            });
        }
    }

    fn message(&self, id: MessageId) -> &Message<T> {
        self.messages
            .get(id)
            .expect("id taken from the core's own index names a held message")
    }

    fn message_mut(&mut self, id: MessageId) -> &mut Message<T> {
        self.messages
            .get_mut(id)
            .expect("id taken from the core's own index names a held message")
    }

    /// Checks `receipt` for `what` (in the order the type's docs give) and logs a refusal as
    /// [`Event::Reject`]. The `StaleReceiptDelete` deviation lets a delete through with any
    /// receipt ever issued for the message.
    fn check_receipt(
        &mut self,
        receipt: &ReceiptHandle,
        what: ReceiptOperation,
        consumer: Option<ConsumerId>,
    ) -> Result<(), QueueError> {
        let refusal = self.refusal(receipt, what);
        if let Some(error) = refusal {
            self.log(Event::Reject {
                operation: what,
                message: receipt.message,
                delivery: receipt.delivery,
                consumer,
                reason: error.rejection(),
            });
            return Err(error);
        }
        Ok(())
    }

    fn refusal(&self, receipt: &ReceiptHandle, what: ReceiptOperation) -> Option<QueueError> {
        let unknown = QueueError::UnknownReceipt { receipt: *receipt };
        if receipt.queue != self.id {
            return Some(unknown);
        }
        let Some(msg) = self.messages.get(receipt.message) else {
            return Some(
                // Ids are handed out from the shard's first (its index 0) to `next_id`.
                if receipt.message.shard() == MessageId::new(self.next_id).shard()
                    && receipt.message.get() < self.next_id
                {
                    QueueError::MessageGone {
                        message: receipt.message,
                    }
                } else {
                    unknown
                },
            );
        };
        if receipt.delivery == 0 || receipt.delivery > msg.receive_count {
            return Some(unknown);
        }
        if receipt.delivery < msg.receive_count && !self.accepts_stale(what) {
            return Some(QueueError::StaleReceipt {
                receipt: *receipt,
                current: msg.receive_count,
            });
        }
        // Deadlines up to `now` have been applied, so a message whose deadline is not later
        // than now is visible: the delivery lapsed at that deadline (SQS `MessageNotInflight`).
        // A delete needs no visibility: the newest receipt still deletes after a lapse.
        if what != ReceiptOperation::Delete && msg.visible_at <= self.now {
            return Some(QueueError::MessageNotInflight {
                receipt: *receipt,
                visible_since: msg.visible_at,
            });
        }
        None
    }

    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    fn accepts_stale(&self, what: ReceiptOperation) -> bool {
        what == ReceiptOperation::Delete
            && self.config.deviation == Some(super::Deviation::StaleReceiptDelete)
    }

    #[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
    fn accepts_stale(&self, _: ReceiptOperation) -> bool {
        false
    }

    /// The next message in delivery order, taken out of its visible index: the earlier of
    /// `fresh`'s first and `returned`'s first by `(visible_at, id)`.
    fn pop_visible(&mut self) -> Option<MessageId> {
        let fresh = (self.fresh < self.next_id).then(|| MessageId::new(self.fresh));
        let first_returned = self.returned.first().copied();
        let take_fresh = match (fresh, first_returned) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(id), Some(r)) => (self.message(id).visible_at, id) < r,
        };
        if take_fresh {
            self.fresh += 1;
            fresh
        } else {
            self.returned.pop_first().map(|(_, id)| id)
        }
    }

    /// How many messages are fresh (never received).
    fn fresh_count(&self) -> usize {
        (self.next_id - self.fresh) as usize
    }

    /// Takes the message out of its index (a `waiting` entry is left to be skipped).
    fn unpark(&mut self, id: MessageId) {
        let msg = self.message(id);
        let key = (msg.visible_at, id);
        match msg.park {
            Park::Waiting => self.waiting_count -= 1,
            Park::Returned => {
                let removed = self.returned.remove(&key);
                assert!(removed, "returned message {id} was not in returned");
            }
            // Never received, so no receipt names it: nothing unparks it.
            Park::Fresh => unreachable!("a receipt named the never-received message {id}"),
        }
    }

    /// Parks an unparked message until `at`: waiting if `at` is later than now, otherwise
    /// visible (or dead-lettered) at once.
    fn hide_until(&mut self, id: MessageId, at: Instant) {
        let now = self.now;
        let msg = self.message_mut(id);
        msg.visible_at = at;
        if at > now {
            msg.park = Park::Waiting;
            self.waiting_count += 1;
            self.waiting.push(Reverse((at, id)));
            // Entries left behind by deletes and new deadlines go when their time comes; a
            // far deadline could keep them long, so once they outnumber the live ones the
            // heap is rebuilt from the live ones (amortised O(1) per push).
            if self.waiting.len() > 2 * self.waiting_count + 64 {
                let messages = &self.messages;
                self.waiting.retain(|&Reverse((at, id))| {
                    messages
                        .get(id)
                        .is_some_and(|m| m.park == Park::Waiting && m.visible_at == at)
                });
            }
        } else {
            self.make_visible(id);
        }
    }

    /// An unparked message whose deadline has passed: back to `ready`, or to the dead-letter
    /// queue if it has used all its receives.
    fn make_visible(&mut self, id: MessageId) {
        let max_receives = self.config.max_receives;
        let msg = self.message_mut(id);
        let was_in_flight = std::mem::replace(&mut msg.in_flight, false);
        let exhausted = max_receives.is_some_and(|max| msg.receive_count >= max);
        let key = (msg.visible_at, id);
        if !exhausted {
            msg.park = Park::Returned;
        }
        if was_in_flight {
            self.in_flight -= 1;
        }
        if !exhausted {
            self.returned.insert(key);
            return;
        }
        let msg = self
            .messages
            .remove(id)
            .expect("message being made visible is held");
        self.dead_lettered += 1;
        self.log(Event::MoveToDeadLetter {
            message: id,
            receive_count: msg.receive_count,
        });
        self.dead_letters.push(DeadLetter {
            message: id,
            body: msg.body,
            receive_count: msg.receive_count,
            sent_at: msg.sent_at,
            // The deadline itself, not the (later) operation that applied it: deadlines are
            // applied lazily, and when one is noticed depends on what else the queue was asked.
            dead_lettered_at: key.0,
        });
    }
}

/// `min(base · 2^(receive_count − 1), cap)`, in whole milliseconds, saturating.
pub(crate) fn backoff(base: Duration, cap: Duration, receive_count: u32) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(63);
    let millis = millis_ceil(base)
        .saturating_mul(1u64 << doublings)
        .min(millis_ceil(cap));
    Duration::from_millis(millis)
}
