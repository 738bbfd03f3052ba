//! Throughput of the retrying queue against its natural peer, a crossbeam channel: send N
//! messages, then drain them with 1 or 2 consumer threads. For the queue, draining is
//! receive + delete (a lock acquisition each, plus the visibility bookkeeping); for
//! the channel it is one `recv`. `retry_queue_batch10` drains through the batch operations,
//! 10 messages a call (SQS's limit); `sharded_queue_2` is the same loop on a `ShardedQueue` of
//! 2 shards. Same message count, same threads, same run.
//!
//! Run: `cargo bench -p coordlab-impls` (about a minute on 2 cores). Reported time is per
//! batch of N messages.

use std::hint::black_box;
use std::time::Duration;

use coordlab_impls::clock::SystemClock;
use coordlab_impls::queue::{Delivery, QueueConfig, ReceiptHandle, RetryQueue, ShardedQueue};
use coordlab_impls::sync::{Arc, thread};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const N: u64 = 10_000;
const VISIBILITY: Duration = Duration::from_secs(30);

/// The per-message operations the drain loop uses, for the queue types it runs on.
trait PerMessage: Send + Sync + 'static {
    fn send(&self, body: u64);
    fn receive(&self) -> Option<Delivery<u64>>;
    fn delete(&self, receipt: &ReceiptHandle);
    fn deleted(&self) -> u64;
}

impl PerMessage for RetryQueue<u64, SystemClock> {
    fn send(&self, body: u64) {
        RetryQueue::send(self, body);
    }
    fn receive(&self) -> Option<Delivery<u64>> {
        RetryQueue::receive(self, VISIBILITY)
    }
    fn delete(&self, receipt: &ReceiptHandle) {
        RetryQueue::delete(self, receipt).expect("the newest receipt deletes");
    }
    fn deleted(&self) -> u64 {
        self.counts().deleted
    }
}

impl PerMessage for ShardedQueue<u64, SystemClock> {
    fn send(&self, body: u64) {
        ShardedQueue::send(self, body);
    }
    fn receive(&self) -> Option<Delivery<u64>> {
        ShardedQueue::receive(self, VISIBILITY)
    }
    fn delete(&self, receipt: &ReceiptHandle) {
        ShardedQueue::delete(self, receipt).expect("the newest receipt deletes");
    }
    fn deleted(&self) -> u64 {
        self.counts().deleted
    }
}

/// Sends `N` messages, then `consumers` threads receive and delete until nothing is visible.
fn drain<Q: PerMessage>(queue: Q, consumers: usize) -> u64 {
    let queue = Arc::new(queue);
    for i in 0..N {
        queue.send(i);
    }
    let handles: Vec<_> = (0..consumers)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let mut sum = 0;
                // Everything was sent before the consumers started and nothing expires within the
                // run, so an empty receive means the queue is drained (a sharded queue checks
                // every shard at one instant before it says so).
                while let Some(d) = queue.receive() {
                    sum += d.body;
                    queue.delete(&d.receipt);
                }
                sum
            })
        })
        .collect();
    let sum = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(queue.deleted(), N);
    sum
}

/// [`drain`] on a [`RetryQueue`].
fn retry_queue(consumers: usize) -> u64 {
    drain(
        RetryQueue::with_system_clock(QueueConfig::default()),
        consumers,
    )
}

/// [`drain`] on a [`ShardedQueue`] of `shards` shards: each consumer thread starts on its own
/// shard, so they contend only at the end.
fn sharded_queue(consumers: usize, shards: usize) -> u64 {
    drain(
        ShardedQueue::with_system_clock(QueueConfig::default(), shards),
        consumers,
    )
}

/// SQS's batch size: `SendMessageBatch`, `ReceiveMessage`'s `MaxNumberOfMessages` and
/// `DeleteMessageBatch` each take at most 10 messages.
const BATCH: usize = 10;

/// [`retry_queue`] through the batch operations, `BATCH` messages a call: sends in batches,
/// then `consumers` threads receive a batch and delete it with one call, until nothing is
/// visible. Three lock acquisitions per 10 messages instead of three per message.
fn retry_queue_batched(consumers: usize) -> u64 {
    let queue = Arc::new(RetryQueue::<u64, SystemClock>::with_system_clock(
        QueueConfig::default(),
    ));
    for start in (0..N).step_by(BATCH) {
        queue.send_batch(start..(start + BATCH as u64).min(N));
    }
    let handles: Vec<_> = (0..consumers)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let mut sum = 0;
                let mut receipts = Vec::with_capacity(BATCH);
                loop {
                    let batch = queue.receive_batch(BATCH, VISIBILITY);
                    if batch.is_empty() {
                        break sum;
                    }
                    receipts.clear();
                    for d in batch {
                        sum += d.body;
                        receipts.push(d.receipt);
                    }
                    for result in queue.delete_batch(&receipts) {
                        result.expect("the newest receipt deletes");
                    }
                }
            })
        })
        .collect();
    let sum = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(queue.counts().deleted, N);
    sum
}

/// Sends `N` messages into an unbounded channel, then `consumers` threads receive until it is
/// empty and closed.
fn crossbeam(consumers: usize) -> u64 {
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..N {
        tx.send(i).unwrap();
    }
    drop(tx);
    let handles: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().sum::<u64>())
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_receive_delete_10k");
    group
        .throughput(Throughput::Elements(N))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let expected = N * (N - 1) / 2;
    for consumers in [1, 2] {
        group.bench_with_input(
            BenchmarkId::new("retry_queue", consumers),
            &consumers,
            |b, &k| b.iter(|| assert_eq!(black_box(retry_queue(k)), expected)),
        );
        group.bench_with_input(
            BenchmarkId::new("sharded_queue_2", consumers),
            &consumers,
            |b, &k| b.iter(|| assert_eq!(black_box(sharded_queue(k, 2)), expected)),
        );
        group.bench_with_input(
            BenchmarkId::new("retry_queue_batch10", consumers),
            &consumers,
            |b, &k| b.iter(|| assert_eq!(black_box(retry_queue_batched(k)), expected)),
        );
        group.bench_with_input(
            BenchmarkId::new("crossbeam_channel", consumers),
            &consumers,
            |b, &k| b.iter(|| assert_eq!(black_box(crossbeam(k)), expected)),
        );
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
