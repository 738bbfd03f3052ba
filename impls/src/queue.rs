//! `queue`: an SQS-style retrying work queue.
//!
//! A consumer [`receive`](RetryQueue::receive)s a message with a *visibility timeout*: for that
//! long no one else can receive it. If the consumer finishes, it
//! [`delete`](RetryQueue::delete)s the message with the delivery's [`ReceiptHandle`]; if it
//! fails, it [`release`](RetryQueue::release)s it for a retry by the queue's [`RetryPolicy`];
//! if it crashes or is too slow, the timeout runs out and the message is delivered again.
//! With `max_receives = Some(n)`, a message received `n` times that becomes visible again goes
//! to the dead-letter queue instead (SQS redrive). Delivery is at-least-once, so a consumer
//! whose effect must happen once wraps it in an [`IdempotencyLedger`].
//!
//! Receipts are per delivery: each receive issues a new one, and only the newest delivery's
//! receipt may delete, change visibility or release. A slow consumer whose timeout ran out and
//! whose message was received again gets [`QueueError::StaleReceipt`] and cannot delete the
//! copy someone else now holds. Receipts belong to the queue that issued them: another queue
//! refuses them as [`QueueError::UnknownReceipt`], even if it holds a message with the same id
//! received as often.
//!
//! # Lapsed deliveries
//!
//! A delivery *lapses* when its visibility timeout runs out, that is at the instant
//! `visible_until` itself: at that instant the message is visible again and no longer in
//! flight. From then on [`change_visibility`](RetryQueue::change_visibility) and
//! [`release`](RetryQueue::release) with its receipt fail with
//! [`QueueError::MessageNotInflight`] and change nothing (the message stays visible where it is
//! in the delivery order, not pushed back by a backoff), even if nobody has received the message
//! since: a heartbeat that comes late does not win the message back, and its sender learns that
//! another consumer may already be working on it. A heartbeat 1 ms (one clock tick) before the
//! deadline is in time. Every deadline counts, whoever set it: a released message waiting out
//! its retry delay is still invisible, so its newest receipt may still change its visibility
//! until the delay runs out, and not from then on. [`delete`](RetryQueue::delete) with the
//! newest delivery's receipt stays
//! allowed after a lapse, until someone receives the message again: the work is done, so
//! deleting is right.
//!
//! This is Amazon SQS's behaviour (API reference, `ChangeMessageVisibility`, Errors:
//! `MessageNotInflight`, "the specified message isn't in flight";
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html>).
//! SQS's `DeleteMessage` has no such error (its receipt errors are `ReceiptHandleIsInvalid`
//! and the deprecated `InvalidIdFormat`) and asks for the receipt "from the most recent time you received
//! the message" (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html>),
//! which a lapsed delivery's receipt still is until the next receive. (An example on the
//! `ChangeMessageVisibility` page says that a delete after the timeout "might result in an
//! error", without saying when; this queue follows `DeleteMessage`'s own contract.)
//!
//! The queue model (`models/src/queue.rs`) counts time in ticks; one tick is one millisecond of
//! [`Clock`] time. A receive there sets `InFlight { timeout: visibility_timeout }` and each
//! `Tick` counts it down; the tick that takes it from 1 makes the message visible. So
//! `InFlight { timeout: k }` is `visible_until - now = k` ms here, a message is in flight while
//! `k >= 1`, and it has lapsed once `now >= visible_until`: the same boundary.
//!
//! Time is read from a [`Clock`] and applied lazily: a visibility timeout that has run out takes
//! effect at the next queue operation (each operation first applies every deadline that has
//! passed), not at the instant it runs out. Nothing runs in the background.
//!
//! Structure: [`QueueCore`] is the protocol as a pure state machine (time passed in, no lock);
//! [`RetryQueue`] holds it in a [`crate::sync::Mutex`], reads the clock under the lock (so the
//! core sees time in lock order) and is what threads share. [`ShardedQueue`] spreads messages
//! over several `RetryQueue`s so that consumers do not serialise on one lock, keeping every
//! per-message guarantee and giving up FIFO order across shards (SQS standard queues'
//! best-effort order).

mod core;
mod event;
mod ledger;
mod sharded;
mod slab;

use std::time::Duration;

pub use self::core::QueueCore;
pub use self::event::{
    ConsumerId, Event, EventRecord, MessageId, ProcessOutcome, QueueId, ReceiptHandle,
    ReceiptOperation, Rejection,
};
pub use self::ledger::{ApplyOutcome, IdempotencyLedger};
pub use self::sharded::{ShardedConsumer, ShardedQueue};
use crate::clock::{Clock, Instant, SystemClock};
use crate::sync::{Mutex, MutexGuard};

/// When a released message (processing failed) is delivered again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RetryPolicy {
    /// Visible again at once.
    Immediate,
    /// Stays invisible until its current visibility timeout runs out (SQS's behaviour when a
    /// consumer simply does not delete). The default.
    RequeueOnExpiry,
    /// Visible again after `min(base · 2^(receive_count − 1), cap)`: `base` after the first
    /// failed delivery, doubling each time, never more than `cap`.
    ExponentialBackoff {
        /// Delay after the first failed delivery.
        base: Duration,
        /// Longest delay.
        cap: Duration,
    },
}

/// A protocol bug the tests can switch on, mirroring the queue model's bug variants (same ids).
/// Compiled only for tests, under `--cfg loom` / `--cfg shuttle`, and with the `deviations`
/// feature (which `coordlab drive` turns on), never in a default build.
#[cfg(any(test, loom, shuttle, feature = "deviations"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Deviation {
    /// `delete-before-process`: the consumer deletes a message before processing it, so a
    /// crash in between loses the message. A consumer-side bug: the queue itself ignores it;
    /// the test harness's consumer loop reads it and swaps its two steps.
    DeleteBeforeProcess,
    /// `stale-receipt-delete`: the queue accepts a delete with any receipt ever issued for the
    /// message, not only the newest delivery's, so a slow consumer deletes the copy another
    /// consumer now holds.
    StaleReceiptDelete,
    /// `duplicate-not-deleted`: an idempotent consumer whose ledger says the effect already
    /// happened skips the delivery without deleting the message, so the message keeps coming
    /// back until it is dead-lettered although its work is done. A consumer-side bug: the
    /// queue ignores it; the test harness's consumer loop reads it.
    DuplicateNotDeleted,
}

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
impl Deviation {
    /// Every deviation.
    pub const ALL: [Deviation; 3] = [
        Deviation::DeleteBeforeProcess,
        Deviation::StaleReceiptDelete,
        Deviation::DuplicateNotDeleted,
    ];

    /// The variant id shared with the model and the counterexample directories.
    pub const fn id(self) -> &'static str {
        match self {
            Deviation::DeleteBeforeProcess => "delete-before-process",
            Deviation::StaleReceiptDelete => "stale-receipt-delete",
            Deviation::DuplicateNotDeleted => "duplicate-not-deleted",
        }
    }
}

/// How a queue behaves. Build it from [`QueueConfig::default`] with the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueConfig {
    /// What [`RetryQueue::release`] does. Default: [`RetryPolicy::RequeueOnExpiry`].
    pub retry_policy: RetryPolicy,
    /// Dead-letter a message that has been received this many times when it becomes visible
    /// again. `None` (the default) retries forever. `Some(0)` dead-letters nothing more than
    /// `Some(1)` would; both mean "one delivery only".
    pub max_receives: Option<u32>,
    /// Keep an event log of every step (default off). It grows without bound; use it for tests,
    /// traces and short runs.
    pub record_events: bool,
    /// The protocol bug to switch on, if any (tests only).
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    pub deviation: Option<Deviation>,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            retry_policy: RetryPolicy::RequeueOnExpiry,
            max_receives: None,
            record_events: false,
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation: None,
        }
    }
}

impl QueueConfig {
    /// Sets the retry policy.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> QueueConfig {
        self.retry_policy = policy;
        self
    }

    /// Dead-letters a message after `max_receives` receives (see the field's docs).
    pub fn with_max_receives(mut self, max_receives: u32) -> QueueConfig {
        self.max_receives = Some(max_receives.max(1));
        self
    }

    /// Turns the event log on or off.
    pub fn with_event_log(mut self, on: bool) -> QueueConfig {
        self.record_events = on;
        self
    }

    /// Switches a protocol bug on (tests only).
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    pub fn with_deviation(mut self, deviation: Option<Deviation>) -> QueueConfig {
        self.deviation = deviation;
        self
    }
}

/// Why a receipt was refused. In every case the queue is left exactly as it was. When more than
/// one applies, the first in this order is given: `UnknownReceipt`, `MessageGone`,
/// `StaleReceipt`, `MessageNotInflight`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The receipt is from an earlier delivery: the message's visibility timeout ran out and it
    /// was received again (delivery `current`). Only the newest delivery's receipt counts; the
    /// consumer holding the older one should stop working on the message.
    #[error(
        "receipt {receipt} is stale: {} has since been received again (delivery #{current})",
        receipt.message
    )]
    StaleReceipt {
        /// The refused receipt.
        receipt: ReceiptHandle,
        /// The message's newest delivery number.
        current: u32,
    },
    /// The message is no longer in the queue: it was deleted, or moved to the dead-letter queue.
    #[error("{message} is no longer in the queue (deleted or moved to the dead-letter queue)")]
    MessageGone {
        /// The message the receipt names.
        message: MessageId,
    },
    /// This queue never issued the receipt: it is another queue's (SQS:
    /// `ReceiptHandleIsInvalid`), or names a message or delivery number this queue has not
    /// handed out.
    #[error("receipt {receipt} was not issued by this queue")]
    UnknownReceipt {
        /// The refused receipt.
        receipt: ReceiptHandle,
    },
    /// The delivery has lapsed: its visibility timeout ran out at `visible_since`, so the
    /// message is visible again (nobody has received it since, or the error would be
    /// `StaleReceipt`). Only `change_visibility` and `release` fail this way; `delete` with the
    /// newest receipt is still allowed. SQS: `MessageNotInflight`. The consumer's heartbeat came
    /// too late; another consumer may receive the message at any moment.
    #[error(
        "{} is not in flight: the visibility timeout of delivery #{} ran out at {visible_since}",
        receipt.message,
        receipt.delivery
    )]
    MessageNotInflight {
        /// The refused receipt (still the newest).
        receipt: ReceiptHandle,
        /// When the message became visible again.
        visible_since: Instant,
    },
}

impl QueueError {
    /// The refusal as the event log records it.
    pub fn rejection(&self) -> Rejection {
        match *self {
            QueueError::StaleReceipt { current, .. } => Rejection::StaleReceipt { current },
            QueueError::MessageGone { .. } => Rejection::MessageGone,
            QueueError::UnknownReceipt { .. } => Rejection::UnknownReceipt,
            QueueError::MessageNotInflight { .. } => Rejection::MessageNotInflight,
        }
    }
}

/// One delivery of a message to a consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery<T> {
    /// The message delivered.
    pub message: MessageId,
    /// A clone of its body (wrap large bodies in an `Arc` to make this cheap).
    pub body: T,
    /// Proof of this delivery, for delete / change_visibility / release.
    pub receipt: ReceiptHandle,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
    /// When this delivery's visibility timeout runs out (unless changed).
    pub visible_until: Instant,
}

/// A message moved to the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter<T> {
    /// The message.
    pub message: MessageId,
    /// Its body.
    pub body: T,
    /// How many times it was received.
    pub receive_count: u32,
    /// When it was sent.
    pub sent_at: Instant,
    /// When it was moved to the dead-letter queue: the instant its last delivery's deadline
    /// passed (or it was released for the last time), whichever later operation applied it.
    pub dead_lettered_at: Instant,
}

/// Where one held message is, as [`RetryQueue::message_state`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MessageState {
    /// How many times it has been received: the number of its newest delivery (SQS's
    /// `ApproximateReceiveCount`, exact here).
    pub receive_count: u32,
    /// Whether it can be received now, and if not, until when it is hidden.
    pub status: MessageStatus,
}

/// Whether a held message can be received now ([`MessageState::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum MessageStatus {
    /// Deliverable now, since `since`: a receive delivers the message visible longest
    /// (the earliest `since`, ties by id).
    Visible {
        /// When it became visible (sent, released, or its visibility ran out), on the
        /// queue's clock.
        since: Instant,
    },
    /// Its newest delivery's holder has it hidden until `until` (a receive or an accepted
    /// `change_visibility` set that deadline): counted in [`QueueCounts::in_flight`].
    InFlight {
        /// When it becomes visible again, on the queue's clock.
        until: Instant,
    },
    /// Released, waiting out a retry delay (a backoff, or the rest of its visibility
    /// timeout under [`RetryPolicy::RequeueOnExpiry`]) until `until`: counted in
    /// [`QueueCounts::delayed`]. No receipt owns it.
    Delayed {
        /// When it becomes visible again, on the queue's clock.
        until: Instant,
    },
}

/// How many messages are in each state. Every message sent is in exactly one:
/// `sent == visible + in_flight + delayed + deleted + dead_lettered`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QueueCounts {
    /// Messages ever sent.
    pub sent: u64,
    /// Deliverable now.
    pub visible: usize,
    /// Received (or visibility extended) and still invisible: a consumer holds it.
    pub in_flight: usize,
    /// Released and waiting out a retry delay (backoff, or the rest of its visibility timeout).
    pub delayed: usize,
    /// Deleted, ever.
    pub deleted: u64,
    /// Moved to the dead-letter queue, ever (draining the dead-letter queue does not lower it).
    pub dead_lettered: u64,
}

/// The thread-safe retrying queue: a [`QueueCore`] behind a lock, reading time from a
/// [`Clock`]. Share it between threads with an `Arc`.
///
/// Every method takes the lock once and reads the clock while holding it, so each operation is
/// atomic and the core sees time in the order operations happened. (A `delete` whose outcome
/// cannot depend on the time — no dead-lettering can be due for its message, and the event log
/// is off — skips the reading and runs at the core's latest time; see
/// [`QueueCore::delete_needs_clock`].)
pub struct RetryQueue<T, C: Clock = SystemClock> {
    /// The core's id, kept outside the lock: it never changes.
    id: QueueId,
    core: Mutex<QueueCore<T>>,
    clock: C,
    /// `config.record_events`, kept outside the lock so `record` costs nothing when it is off.
    record_events: bool,
}

impl<T> RetryQueue<T, SystemClock> {
    /// A queue on the system clock.
    pub fn with_system_clock(config: QueueConfig) -> RetryQueue<T, SystemClock> {
        RetryQueue::new(config, SystemClock::new())
    }
}

impl<T, C: Clock> RetryQueue<T, C> {
    /// An empty queue reading time from `clock`.
    pub fn new(config: QueueConfig, clock: C) -> RetryQueue<T, C> {
        RetryQueue::from_core(QueueCore::new(config), clock)
    }

    /// Shard `shard` of a [`ShardedQueue`] whose id is `id`.
    pub(crate) fn shard(config: QueueConfig, clock: C, id: QueueId, shard: u8) -> RetryQueue<T, C> {
        RetryQueue::from_core(QueueCore::shard(config, id, shard), clock)
    }

    fn from_core(core: QueueCore<T>, clock: C) -> RetryQueue<T, C> {
        RetryQueue {
            id: core.id(),
            record_events: core.config().record_events,
            core: Mutex::new(core),
            clock,
        }
    }

    /// This queue's id, which every receipt it issues carries.
    pub fn id(&self) -> QueueId {
        self.id
    }

    /// Adds a message, visible at once.
    pub fn send(&self, body: T) -> MessageId {
        self.with_core(|core, now| core.send(now, body))
    }

    /// Receives the next visible message, if any, hiding it from other consumers for
    /// `visibility_timeout`. Does not wait: returns `None` when nothing is visible.
    pub fn receive(&self, visibility_timeout: Duration) -> Option<Delivery<T>>
    where
        T: Clone,
    {
        self.with_core(|core, now| core.receive(now, visibility_timeout, None))
    }

    /// Deletes the message: its processing is done. Only the newest delivery's receipt of this
    /// queue is accepted, also after its visibility timeout ran out (see "Lapsed deliveries" in
    /// the module docs); a stale one is refused and the message is left alone.
    ///
    /// Errors: [`QueueError::UnknownReceipt`], [`QueueError::MessageGone`],
    /// [`QueueError::StaleReceipt`].
    pub fn delete(&self, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.delete_as(receipt, None)
    }

    /// Adds every body of `bodies`, in order, under one lock acquisition and at one clock
    /// reading: the same as that many [`send`](Self::send)s with no other operation in between.
    /// Returns their ids, in order.
    ///
    /// SQS's `SendMessageBatch` takes at most 10 messages a call
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>);
    /// this queue takes any number, holding its lock for the whole batch.
    pub fn send_batch(&self, bodies: impl IntoIterator<Item = T>) -> Vec<MessageId> {
        self.with_core(|core, now| core.send_batch(now, bodies))
    }

    /// Receives up to `max_messages` visible messages, in delivery order, each hidden for
    /// `visibility_timeout`, under one lock acquisition and at one clock reading: the same as
    /// that many [`receive`](Self::receive)s with no other operation in between. Each delivery
    /// has its own receipt. Does not wait: the batch is short, or empty, when fewer messages
    /// are visible (also when `max_messages` is 0).
    ///
    /// A consumer that takes a batch holds every message of it from the start: the visibility
    /// timeout of the last one runs while the first ones are processed, so a batch is a
    /// prefetch, and a batch too large for its timeout has its tail redelivered unprocessed
    /// (and, with `max_receives`, dead-lettered) — extend the waiting ones with
    /// [`change_visibility`](Self::change_visibility), or size the batch to the timeout.
    ///
    /// SQS's `ReceiveMessage` with `MaxNumberOfMessages` (1 to 10;
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>);
    /// this queue takes any number, and always returns every visible message up to it (SQS's
    /// short poll may return fewer).
    pub fn receive_batch(
        &self,
        max_messages: usize,
        visibility_timeout: Duration,
    ) -> Vec<Delivery<T>>
    where
        T: Clone,
    {
        self.with_core(|core, now| core.receive_batch(now, max_messages, visibility_timeout, None))
    }

    /// Deletes with each receipt of `receipts`, in order, under one lock acquisition and at one
    /// clock reading: the same as that many [`delete`](Self::delete)s with no other operation
    /// in between. One result per receipt, in order, each what `delete` would have returned; a
    /// refused receipt changes nothing and does not stop the others.
    ///
    /// SQS's `DeleteMessageBatch`, whose response lists each entry as successful or failed
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html>);
    /// this queue takes any number of receipts.
    pub fn delete_batch(&self, receipts: &[ReceiptHandle]) -> Vec<Result<(), QueueError>> {
        self.with_core(|core, now| core.delete_batch(now, receipts, None))
    }

    /// Hides the message until `visibility_timeout` from now (a heartbeat for long work); zero
    /// makes it visible at once. Only the newest delivery's receipt of this queue is accepted,
    /// and only while the message is still invisible: at and after the instant its visibility
    /// timeout runs out, the delivery has lapsed (see "Lapsed deliveries" in the module docs).
    ///
    /// Errors: [`QueueError::UnknownReceipt`], [`QueueError::MessageGone`],
    /// [`QueueError::StaleReceipt`], [`QueueError::MessageNotInflight`].
    pub fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility_timeout: Duration,
    ) -> Result<(), QueueError> {
        self.with_core(|core, now| core.change_visibility(now, receipt, visibility_timeout, None))
    }

    /// Processing failed: retry by the queue's [`RetryPolicy`]. Returns when the message is
    /// visible again (now, under [`RetryPolicy::Immediate`]). Only the newest delivery's receipt
    /// of this queue is accepted, and only while the message is still invisible, as for
    /// [`change_visibility`](Self::change_visibility): a lapsed delivery is already back in the
    /// queue, and releasing it would push it back by its backoff.
    ///
    /// Errors: [`QueueError::UnknownReceipt`], [`QueueError::MessageGone`],
    /// [`QueueError::StaleReceipt`], [`QueueError::MessageNotInflight`].
    pub fn release(&self, receipt: &ReceiptHandle) -> Result<Instant, QueueError> {
        self.with_core(|core, now| core.release(now, receipt, None))
    }

    /// The same queue, with every step recorded as done by `consumer` in the event log.
    pub fn consumer(&self, consumer: ConsumerId) -> Consumer<'_, T, C> {
        Consumer {
            queue: self,
            id: consumer,
        }
    }

    /// How many messages are in each state now.
    pub fn counts(&self) -> QueueCounts {
        self.with_core(QueueCore::counts)
    }

    /// Where message `id` is now, after applying the deadlines that have passed; `None` once
    /// it is deleted or dead-lettered, or if this queue never sent it. An inspection for tools
    /// and tests (the conformance driver builds the model's view of the queue from it); SQS
    /// has no per-message equivalent.
    pub fn message_state(&self, id: MessageId) -> Option<MessageState> {
        self.with_core(|core, now| core.message_state(now, id))
    }

    /// A copy of the dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter<T>>
    where
        T: Clone,
    {
        self.with_core(|core, now| {
            core.advance(now);
            core.dead_letters().to_vec()
        })
    }

    /// Empties the dead-letter queue and returns its messages, oldest first.
    pub fn drain_dead_letters(&self) -> Vec<DeadLetter<T>> {
        self.with_core(|core, now| {
            core.advance(now);
            core.drain_dead_letters()
        })
    }

    /// Records a step that happened outside the queue (a consumer's `Process` or `Crash`), in
    /// order with the queue's own. Does nothing unless the event log is on.
    pub fn record(&self, event: Event) {
        if self.record_events {
            self.with_core(|core, now| core.record(now, event));
        }
    }

    /// A copy of the event log (empty if it is off).
    pub fn events(&self) -> Vec<EventRecord> {
        self.lock().events().to_vec()
    }

    /// Takes the event log so far, leaving it empty.
    pub fn take_events(&self) -> Vec<EventRecord> {
        self.lock().take_events()
    }

    /// Panics if the core's bookkeeping is inconsistent (see [`QueueCore::check_invariants`]).
    pub fn check_invariants(&self) {
        self.lock().check_invariants();
    }

    /// The queue's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The queue's configuration.
    pub fn config(&self) -> QueueConfig {
        self.lock().config().clone()
    }

    fn lock(&self) -> MutexGuard<'_, QueueCore<T>> {
        // A poisoned lock means a thread panicked inside the core, i.e. an invariant broke
        // mid-update: the state cannot be trusted, so the panic spreads.
        self.core
            .lock()
            .expect("queue lock poisoned: a thread panicked inside the queue core")
    }

    /// A delete reads the clock only when its outcome can depend on the time
    /// ([`QueueCore::delete_needs_clock`]); otherwise it runs at the core's latest time.
    fn delete_as(
        &self,
        receipt: &ReceiptHandle,
        consumer: Option<ConsumerId>,
    ) -> Result<(), QueueError> {
        let mut core = self.lock();
        let now = if core.delete_needs_clock(receipt) {
            self.clock.now()
        } else {
            core.now()
        };
        core.delete(now, receipt, consumer)
    }

    fn with_core<R>(&self, f: impl FnOnce(&mut QueueCore<T>, Instant) -> R) -> R {
        let mut core = self.lock();
        // Read under the lock: operations see non-decreasing time in lock order.
        let now = self.clock.now();
        f(&mut core, now)
    }
}

impl<T, C: Clock> std::fmt::Debug for RetryQueue<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryQueue").finish_non_exhaustive()
    }
}

/// A [`RetryQueue`] seen by one consumer: the same operations, recorded in the event log with
/// the consumer's id. Cheap to make (a reference and an id).
#[derive(Debug)]
pub struct Consumer<'q, T, C: Clock> {
    queue: &'q RetryQueue<T, C>,
    id: ConsumerId,
}

impl<T, C: Clock> Consumer<'_, T, C> {
    /// This consumer's id.
    pub fn id(&self) -> ConsumerId {
        self.id
    }

    /// [`RetryQueue::receive`], as this consumer.
    pub fn receive(&self, visibility_timeout: Duration) -> Option<Delivery<T>>
    where
        T: Clone,
    {
        let id = Some(self.id);
        self.queue
            .with_core(|core, now| core.receive(now, visibility_timeout, id))
    }

    /// [`RetryQueue::delete`], as this consumer.
    pub fn delete(&self, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.queue.delete_as(receipt, Some(self.id))
    }

    /// [`RetryQueue::receive_batch`], as this consumer.
    pub fn receive_batch(
        &self,
        max_messages: usize,
        visibility_timeout: Duration,
    ) -> Vec<Delivery<T>>
    where
        T: Clone,
    {
        let id = Some(self.id);
        self.queue
            .with_core(|core, now| core.receive_batch(now, max_messages, visibility_timeout, id))
    }

    /// [`RetryQueue::delete_batch`], as this consumer.
    pub fn delete_batch(&self, receipts: &[ReceiptHandle]) -> Vec<Result<(), QueueError>> {
        let id = Some(self.id);
        self.queue
            .with_core(|core, now| core.delete_batch(now, receipts, id))
    }

    /// [`RetryQueue::change_visibility`], as this consumer.
    pub fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility_timeout: Duration,
    ) -> Result<(), QueueError> {
        let id = Some(self.id);
        self.queue
            .with_core(|core, now| core.change_visibility(now, receipt, visibility_timeout, id))
    }

    /// [`RetryQueue::release`], as this consumer.
    pub fn release(&self, receipt: &ReceiptHandle) -> Result<Instant, QueueError> {
        let id = Some(self.id);
        self.queue
            .with_core(|core, now| core.release(now, receipt, id))
    }

    /// Records that this consumer processed `delivery`, with what outcome.
    pub fn record_process(&self, delivery: &ReceiptHandle, outcome: ProcessOutcome) {
        self.queue.record(Event::Process {
            message: delivery.message(),
            delivery: delivery.delivery(),
            consumer: Some(self.id),
            outcome,
        });
    }

    /// Records that this consumer crashed, abandoning `holding` if it held a delivery.
    pub fn record_crash(&self, holding: Option<&ReceiptHandle>) {
        self.queue.record(Event::Crash {
            consumer: self.id,
            message: holding.map(ReceiptHandle::message),
            delivery: holding.map(ReceiptHandle::delivery),
        });
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;

#[cfg(all(test, not(any(loom, shuttle))))]
mod batch_tests;

#[cfg(all(test, not(any(loom, shuttle))))]
mod sharded_tests;

#[cfg(all(test, not(any(loom, shuttle))))]
mod delete_clock_tests;
