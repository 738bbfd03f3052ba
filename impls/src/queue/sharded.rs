//! [`ShardedQueue`]: the retrying queue spread over several independent shards, so that
//! consumers do not all wait on one lock.

use std::cell::Cell;
use std::time::Duration;

use super::{
    ConsumerId, DeadLetter, Delivery, Event, EventRecord, MessageId, ProcessOutcome, QueueConfig,
    QueueCore, QueueCounts, QueueError, QueueId, ReceiptHandle, RetryQueue,
};
use crate::clock::{Clock, Instant, SystemClock};
use crate::sync::MutexGuard;
use crate::sync::atomic::{AtomicUsize, Ordering};

/// A retrying queue spread over `n` shards: `n` [`RetryQueue`]s sharing one queue id, each
/// behind its own lock on its own cache line. Consumers that work on different shards do not
/// contend, so throughput grows with consumers where one [`RetryQueue`] serialises them. Share
/// it between threads with an `Arc`.
///
/// # What holds, and what is given up
///
/// A message stays in the shard that accepted it (its id says which: [`MessageId::shard`]),
/// and every operation on a message — receive, delete, change_visibility, release, its expiry
/// and dead-lettering — is an operation of that one shard, atomic under its lock with the clock
/// read under it. So every per-message guarantee of [`RetryQueue`] holds unchanged: receipts
/// per delivery and per queue, lapsed deliveries refused, receive counts, dead-lettering, and
/// each shard's event log is a complete [`RetryQueue`] log of its messages.
///
/// What changes is only across messages:
///
/// - `send` places messages on the shards in turn (a `send_batch` goes to one shard);
/// - `receive` tries the caller's start shard first — a [`ShardedConsumer`]'s id modulo `n`,
///   or on a std thread the thread's own number, and from then on the shard of the caller's
///   latest delivery — then the others in order, and delivers the first visible message it
///   finds. Delivery order is the [`RetryQueue`]'s within a shard only:
///   across shards it is best-effort, as in an SQS standard queue ("Amazon SQS Standard
///   queues", at-least-once delivery and best-effort ordering,
///   <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html>);
/// - when every shard was empty as a `receive` passed it, it looks again holding every shard's
///   lock at once (taken in shard order, so two such calls cannot deadlock) before it returns
///   `None`: `None` still means that, at one instant, nothing was visible;
/// - `receive_batch` fills the batch shard by shard (each shard's part atomic), with the same
///   all-locks check before it returns an empty batch;
/// - `counts`, `dead_letters` and the event logs are read holding every lock at once.
///
/// In the model's terms (`models/src/queue.rs`), a consumer may receive any visible message, so
/// a run of a sharded queue is a run of the model; only [`RetryQueue`]'s FIFO promise is lost.
pub struct ShardedQueue<T, C: Clock = SystemClock> {
    id: QueueId,
    shards: Box<[Shard<T, C>]>,
    /// Which shard the next `send` goes to (modulo the shard count).
    next_send: AtomicUsize,
}

/// One shard, on a cache line of its own: consumers working on different shards must not slow
/// each other down by writing to one line.
#[repr(align(128))]
struct Shard<T, C: Clock> {
    queue: RetryQueue<T, C>,
}

impl<T> ShardedQueue<T, SystemClock> {
    /// A queue of `shards` shards on the system clock. Panics as [`new`](Self::new).
    pub fn with_system_clock(config: QueueConfig, shards: usize) -> ShardedQueue<T, SystemClock> {
        ShardedQueue::new(config, shards, SystemClock::new())
    }
}

impl<T, C: Clock + Clone> ShardedQueue<T, C> {
    /// An empty queue of `shards` shards, each configured by `config` and reading time from a
    /// clone of `clock`.
    ///
    /// Panics if `shards` is 0 or more than 256 (a message id keeps its shard in 8 bits).
    pub fn new(config: QueueConfig, shards: usize, clock: C) -> ShardedQueue<T, C> {
        assert!(
            (1..=256).contains(&shards),
            "a sharded queue has 1 to 256 shards, not {shards}"
        );
        let id = QueueId::unique();
        let shards = (0..shards)
            .map(|s| Shard {
                queue: RetryQueue::shard(
                    config.clone(),
                    clock.clone(),
                    id,
                    u8::try_from(s).expect("checked: at most 256 shards"),
                ),
            })
            .collect();
        ShardedQueue {
            id,
            shards,
            next_send: AtomicUsize::new(0),
        }
    }
}

impl<T, C: Clock> ShardedQueue<T, C> {
    /// This queue's id, which every receipt it issues carries.
    pub fn id(&self) -> QueueId {
        self.id
    }

    /// How many shards the queue has.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// [`RetryQueue::send`], on the next shard in turn.
    pub fn send(&self, body: T) -> MessageId {
        self.next_shard().send(body)
    }

    /// [`RetryQueue::send_batch`], the whole batch on the next shard in turn.
    pub fn send_batch(&self, bodies: impl IntoIterator<Item = T>) -> Vec<MessageId> {
        self.next_shard().send_batch(bodies)
    }

    /// [`RetryQueue::receive`], from the calling thread's start shard first, then the others
    /// (see the type's docs).
    pub fn receive(&self, visibility_timeout: Duration) -> Option<Delivery<T>>
    where
        T: Clone,
    {
        let d = self.receive_from(crate::sync::thread_hint(), visibility_timeout, None);
        if let Some(d) = &d {
            crate::sync::set_thread_hint(usize::from(d.message.shard()));
        }
        d
    }

    /// [`RetryQueue::receive_batch`], filled shard by shard from the calling thread's start
    /// shard (see the type's docs).
    pub fn receive_batch(
        &self,
        max_messages: usize,
        visibility_timeout: Duration,
    ) -> Vec<Delivery<T>>
    where
        T: Clone,
    {
        let batch = self.receive_batch_from(
            crate::sync::thread_hint(),
            max_messages,
            visibility_timeout,
            None,
        );
        if let Some(d) = batch.last() {
            crate::sync::set_thread_hint(usize::from(d.message.shard()));
        }
        batch
    }

    /// [`RetryQueue::delete`], on the receipt's shard.
    ///
    /// Errors: as [`RetryQueue::delete`]; a receipt naming no shard of this queue is
    /// [`QueueError::UnknownReceipt`].
    pub fn delete(&self, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.holder(receipt.message()).delete(receipt)
    }

    /// [`RetryQueue::delete_batch`]: each shard's receipts under its lock once, in their
    /// order. Deletes on different shards touch different messages, so the results are those
    /// of the receipts deleted one by one in order.
    pub fn delete_batch(&self, receipts: &[ReceiptHandle]) -> Vec<Result<(), QueueError>> {
        self.delete_batch_as(receipts, None)
    }

    /// [`RetryQueue::change_visibility`], on the receipt's shard.
    pub fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility_timeout: Duration,
    ) -> Result<(), QueueError> {
        self.holder(receipt.message())
            .change_visibility(receipt, visibility_timeout)
    }

    /// [`RetryQueue::release`], on the receipt's shard.
    pub fn release(&self, receipt: &ReceiptHandle) -> Result<Instant, QueueError> {
        self.holder(receipt.message()).release(receipt)
    }

    /// The same queue, with every step recorded as done by `consumer`, whose receives start at
    /// `consumer`'s id modulo the shard count (see [`ShardedConsumer`]).
    pub fn consumer(&self, consumer: ConsumerId) -> ShardedConsumer<'_, T, C> {
        ShardedConsumer {
            queue: self,
            id: consumer,
            start: Cell::new(consumer.0 as usize),
        }
    }

    /// How many messages are in each state now, summed over the shards holding every lock.
    pub fn counts(&self) -> QueueCounts {
        self.with_all(|cores, now| {
            cores
                .iter_mut()
                .fold(QueueCounts::default(), |total, core| {
                    let c = core.counts(now);
                    QueueCounts {
                        sent: total.sent + c.sent,
                        visible: total.visible + c.visible,
                        in_flight: total.in_flight + c.in_flight,
                        delayed: total.delayed + c.delayed,
                        deleted: total.deleted + c.deleted,
                        dead_lettered: total.dead_lettered + c.dead_lettered,
                    }
                })
        })
    }

    /// A copy of the dead-letter queue, by the instant each message was dead-lettered, then by
    /// shard.
    pub fn dead_letters(&self) -> Vec<DeadLetter<T>>
    where
        T: Clone,
    {
        self.collect_dead_letters(|core| core.dead_letters().to_vec())
    }

    /// Empties the dead-letter queue and returns its messages, ordered as
    /// [`dead_letters`](Self::dead_letters).
    pub fn drain_dead_letters(&self) -> Vec<DeadLetter<T>> {
        self.collect_dead_letters(QueueCore::drain_dead_letters)
    }

    /// [`RetryQueue::record`], in the log of the shard of the message the event names (shard
    /// 0's if it names none).
    pub fn record(&self, event: Event) {
        match event.message() {
            Some(m) => self.holder(m).record(event),
            None => self.shards[0].queue.record(event),
        }
    }

    /// Each shard's event log, in shard order, read holding every lock. A shard's log is the
    /// complete history of the messages it holds, as a [`RetryQueue`] logs it; there is no
    /// order across shards.
    pub fn events_by_shard(&self) -> Vec<Vec<EventRecord>> {
        self.lock_all()
            .iter()
            .map(|c| c.events().to_vec())
            .collect()
    }

    /// Panics if a shard's bookkeeping is inconsistent (see [`QueueCore::check_invariants`]).
    pub fn check_invariants(&self) {
        self.lock_all().iter().for_each(|c| c.check_invariants());
    }

    /// The configuration every shard has.
    pub fn config(&self) -> QueueConfig {
        self.shards[0].queue.config()
    }

    fn next_shard(&self) -> &RetryQueue<T, C> {
        let n = self.shards.len();
        &self.shards[self.next_send.fetch_add(1, Ordering::Relaxed) % n].queue
    }

    /// The shard that holds `message`. An id naming no shard of this queue goes to shard 0,
    /// which never issued it and refuses it as unknown.
    fn holder(&self, message: MessageId) -> &RetryQueue<T, C> {
        &self.shards[self.holder_index(message)].queue
    }

    fn holder_index(&self, message: MessageId) -> usize {
        let shard = usize::from(message.shard());
        if shard < self.shards.len() { shard } else { 0 }
    }

    fn receive_from(
        &self,
        home: usize,
        visibility_timeout: Duration,
        consumer: Option<ConsumerId>,
    ) -> Option<Delivery<T>>
    where
        T: Clone,
    {
        let n = self.shards.len();
        let receive =
            |core: &mut QueueCore<T>, now| core.receive(now, visibility_timeout, consumer);
        for k in 0..n {
            let shard = &self.shards[(home + k) % n].queue;
            if let Some(d) = shard.with_core(receive) {
                return Some(d);
            }
        }
        // Every shard was empty as this receive passed it: look again at one instant.
        self.with_all(|cores, now| (0..n).find_map(|k| receive(&mut cores[(home + k) % n], now)))
    }

    fn receive_batch_from(
        &self,
        home: usize,
        max_messages: usize,
        visibility_timeout: Duration,
        consumer: Option<ConsumerId>,
    ) -> Vec<Delivery<T>>
    where
        T: Clone,
    {
        let n = self.shards.len();
        let take = |core: &mut QueueCore<T>, now, max| {
            core.receive_batch(now, max, visibility_timeout, consumer)
        };
        let mut batch = Vec::new();
        for k in 0..n {
            let max = max_messages - batch.len();
            if max == 0 {
                return batch;
            }
            let shard = &self.shards[(home + k) % n].queue;
            batch.extend(shard.with_core(|core, now| take(core, now, max)));
        }
        if batch.is_empty() && max_messages > 0 {
            // Every shard was empty as this receive passed it: look again at one instant.
            return self.with_all(|cores, now| {
                let mut batch = Vec::new();
                for k in 0..n {
                    let max = max_messages - batch.len();
                    batch.extend(take(&mut cores[(home + k) % n], now, max));
                }
                batch
            });
        }
        batch
    }

    fn delete_batch_as(
        &self,
        receipts: &[ReceiptHandle],
        consumer: Option<ConsumerId>,
    ) -> Vec<Result<(), QueueError>> {
        let mut results = vec![None; receipts.len()];
        for (s, shard) in self.shards.iter().enumerate() {
            let mine: Vec<usize> = (0..receipts.len())
                .filter(|&i| self.holder_index(receipts[i].message()) == s)
                .collect();
            if mine.is_empty() {
                continue;
            }
            shard.queue.with_core(|core, now| {
                for i in mine {
                    results[i] = Some(core.delete(now, &receipts[i], consumer));
                }
            });
        }
        results
            .into_iter()
            .map(|r| r.expect("every receipt goes to one shard"))
            .collect()
    }

    fn collect_dead_letters(
        &self,
        mut take: impl FnMut(&mut QueueCore<T>) -> Vec<DeadLetter<T>>,
    ) -> Vec<DeadLetter<T>> {
        let mut all = self.with_all(|cores, now| {
            cores
                .iter_mut()
                .flat_map(|core| {
                    core.advance(now);
                    take(core)
                })
                .collect::<Vec<_>>()
        });
        // Stable: each shard's are oldest first already, and shards stay in order on ties.
        all.sort_by_key(|d| d.dead_lettered_at);
        all
    }

    /// Every shard's lock, taken in shard order.
    fn lock_all(&self) -> Vec<MutexGuard<'_, QueueCore<T>>> {
        self.shards.iter().map(|s| s.queue.lock()).collect()
    }

    /// Runs `f` holding every shard's lock, with one clock reading taken under them all.
    fn with_all<R>(&self, f: impl FnOnce(&mut [MutexGuard<'_, QueueCore<T>>], Instant) -> R) -> R {
        let mut cores = self.lock_all();
        let now = self.shards[0].queue.clock().now();
        f(&mut cores, now)
    }
}

impl<T, C: Clock> std::fmt::Debug for ShardedQueue<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedQueue")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// A [`ShardedQueue`] seen by one consumer: the same operations, recorded in the event logs
/// with the consumer's id. It receives from the shard `id modulo n` first, and from then on
/// from the shard of its latest delivery first, so a consumer keeps draining where messages are
/// instead of asking an empty shard every time. Cheap to make; one per thread (not `Sync`).
#[derive(Debug)]
pub struct ShardedConsumer<'q, T, C: Clock> {
    queue: &'q ShardedQueue<T, C>,
    id: ConsumerId,
    /// Where the next receive starts.
    start: Cell<usize>,
}

impl<T, C: Clock> ShardedConsumer<'_, T, C> {
    /// This consumer's id.
    pub fn id(&self) -> ConsumerId {
        self.id
    }

    /// Starts the next receive at the shard of `d`, if any.
    fn stay(&self, d: Option<&Delivery<T>>) {
        if let Some(d) = d {
            self.start.set(usize::from(d.message.shard()));
        }
    }

    /// [`ShardedQueue::receive`], as this consumer, from the shard of its latest delivery first
    /// (its id modulo `n` before the first).
    pub fn receive(&self, visibility_timeout: Duration) -> Option<Delivery<T>>
    where
        T: Clone,
    {
        let d = self
            .queue
            .receive_from(self.start.get(), visibility_timeout, Some(self.id));
        self.stay(d.as_ref());
        d
    }

    /// [`ShardedQueue::receive_batch`], as this consumer, from the shard of its latest delivery
    /// first.
    pub fn receive_batch(
        &self,
        max_messages: usize,
        visibility_timeout: Duration,
    ) -> Vec<Delivery<T>>
    where
        T: Clone,
    {
        let batch = self.queue.receive_batch_from(
            self.start.get(),
            max_messages,
            visibility_timeout,
            Some(self.id),
        );
        self.stay(batch.last());
        batch
    }

    /// [`ShardedQueue::delete`], as this consumer.
    pub fn delete(&self, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.queue
            .holder(receipt.message())
            .consumer(self.id)
            .delete(receipt)
    }

    /// [`ShardedQueue::delete_batch`], as this consumer.
    pub fn delete_batch(&self, receipts: &[ReceiptHandle]) -> Vec<Result<(), QueueError>> {
        self.queue.delete_batch_as(receipts, Some(self.id))
    }

    /// [`ShardedQueue::change_visibility`], as this consumer.
    pub fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility_timeout: Duration,
    ) -> Result<(), QueueError> {
        self.queue
            .holder(receipt.message())
            .consumer(self.id)
            .change_visibility(receipt, visibility_timeout)
    }

    /// [`ShardedQueue::release`], as this consumer.
    pub fn release(&self, receipt: &ReceiptHandle) -> Result<Instant, QueueError> {
        self.queue
            .holder(receipt.message())
            .consumer(self.id)
            .release(receipt)
    }

    /// Records that this consumer processed `delivery`, with what outcome.
    pub fn record_process(&self, delivery: &ReceiptHandle, outcome: ProcessOutcome) {
        self.queue
            .holder(delivery.message())
            .consumer(self.id)
            .record_process(delivery, outcome);
    }

    /// Records that this consumer crashed, abandoning `holding` if it held a delivery.
    pub fn record_crash(&self, holding: Option<&ReceiptHandle>) {
        let shard = holding.map_or(&self.queue.shards[0].queue, |r| {
            self.queue.holder(r.message())
        });
        shard.consumer(self.id).record_crash(holding);
    }
}
