//! A [`ShardedQueue`] against its definition: `n` single-shard cores, with sends placed on the
//! shards in turn, a consumer's receive trying its start shard (its id, then the shard of its
//! latest delivery) and then the others in order, a delete going to the shard its receipt
//! names. A reference drives `n` [`QueueCore`]s that
//! way, sequentially; the sharded queue must return the same to every call and keep the same
//! log in every shard, whatever the script (clock moves right before an operation, stale,
//! lapsed, repeated and foreign receipts, dead-lettering, retries).

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::clock::{Instant, ManualClock};

/// Consumers 0, 1 and 2.
const CONSUMERS: u32 = 3;

#[derive(Clone, Debug)]
enum Step {
    Advance(u64),
    Send,
    SendBatch(usize),
    Receive {
        consumer: u32,
        visibility: u64,
    },
    ReceiveBatch {
        consumer: u32,
        max: usize,
        visibility: u64,
    },
    Delete {
        consumer: u32,
        receipt: Index,
    },
    DeleteBatch {
        consumer: u32,
        receipts: Vec<Index>,
    },
    Heartbeat {
        consumer: u32,
        receipt: Index,
        visibility: u64,
    },
    Release {
        consumer: u32,
        receipt: Index,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let c = 0..CONSUMERS;
    prop_oneof![
        (0u64..8).prop_map(Step::Advance),
        Just(Step::Send),
        (0usize..4).prop_map(Step::SendBatch),
        (c.clone(), 1u64..8).prop_map(|(consumer, visibility)| Step::Receive {
            consumer,
            visibility
        }),
        (c.clone(), 0usize..4, 1u64..8).prop_map(|(consumer, max, visibility)| {
            Step::ReceiveBatch {
                consumer,
                max,
                visibility,
            }
        }),
        (c.clone(), any::<Index>())
            .prop_map(|(consumer, receipt)| Step::Delete { consumer, receipt }),
        (c.clone(), prop::collection::vec(any::<Index>(), 0..4))
            .prop_map(|(consumer, receipts)| Step::DeleteBatch { consumer, receipts }),
        (c.clone(), any::<Index>(), 0u64..8).prop_map(|(consumer, receipt, visibility)| {
            Step::Heartbeat {
                consumer,
                receipt,
                visibility,
            }
        }),
        (c, any::<Index>()).prop_map(|(consumer, receipt)| Step::Release { consumer, receipt }),
    ]
}

/// The definition, run sequentially.
struct Reference {
    shards: Vec<QueueCore<u32>>,
    sends: usize,
    /// Where each consumer's next receive starts: its id, then its latest delivery's shard.
    starts: Vec<usize>,
}

impl Reference {
    fn new(config: &QueueConfig, id: QueueId, n: usize) -> Reference {
        Reference {
            shards: (0..n)
                .map(|s| QueueCore::shard(config.clone(), id, s as u8))
                .collect(),
            sends: 0,
            starts: (0..CONSUMERS as usize).collect(),
        }
    }

    fn next_shard(&mut self) -> usize {
        self.sends += 1;
        (self.sends - 1) % self.shards.len()
    }

    fn holder(&mut self, receipt: &ReceiptHandle) -> &mut QueueCore<u32> {
        let s = usize::from(receipt.message().shard());
        let s = if s < self.shards.len() { s } else { 0 };
        &mut self.shards[s]
    }

    fn receive_batch(
        &mut self,
        now: Instant,
        consumer: u32,
        max: usize,
        visibility: Duration,
    ) -> Vec<Delivery<u32>> {
        let n = self.shards.len();
        let start = self.starts[consumer as usize];
        let mut batch = Vec::new();
        for k in 0..n {
            if batch.len() == max {
                break;
            }
            let core = &mut self.shards[(start + k) % n];
            batch.extend(core.receive_batch(
                now,
                max - batch.len(),
                visibility,
                Some(ConsumerId(consumer)),
            ));
        }
        if let Some(d) = batch.last() {
            self.starts[consumer as usize] = usize::from(d.message.shard());
        }
        batch
    }
}

fn run(n: usize, max_receives: Option<u32>, steps: &[Step]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let mut config = QueueConfig::default()
        .with_event_log(true)
        .with_retry_policy(RetryPolicy::ExponentialBackoff {
            base: Duration::from_millis(2),
            cap: Duration::from_millis(5),
        });
    if let Some(max) = max_receives {
        config = config.with_max_receives(max);
    }
    let queue = ShardedQueue::<u32, _>::new(config.clone(), n, clock.clone());
    let mut reference = Reference::new(&config, queue.id(), n);
    // One handle per consumer for the whole script: each remembers where to start.
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| queue.consumer(ConsumerId(c)))
        .collect();
    // Every receipt issued, plus one naming a shard the queue does not have.
    let mut receipts = vec![ReceiptHandle {
        queue: queue.id(),
        message: MessageId::in_shard(n as u8, 0),
        delivery: 1,
    }];
    let mut body = 0u32;
    for (i, step) in steps.iter().enumerate() {
        let now = clock.now();
        match *step {
            Step::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
            }
            Step::Send => {
                let s = reference.next_shard();
                prop_assert_eq!(
                    queue.send(body),
                    reference.shards[s].send(now, body),
                    "step {}",
                    i
                );
                body += 1;
            }
            Step::SendBatch(k) => {
                let bodies: Vec<u32> = (body..body + k as u32).collect();
                body += k as u32;
                let s = reference.next_shard();
                prop_assert_eq!(
                    queue.send_batch(bodies.clone()),
                    reference.shards[s].send_batch(now, bodies),
                    "step {}",
                    i
                );
            }
            Step::Receive {
                consumer,
                visibility,
            } => {
                let visibility = Duration::from_millis(visibility);
                let got = consumers[consumer as usize].receive(visibility);
                let want = reference.receive_batch(now, consumer, 1, visibility).pop();
                prop_assert_eq!(&got, &want, "step {}: receive", i);
                receipts.extend(got.map(|d| d.receipt));
            }
            Step::ReceiveBatch {
                consumer,
                max,
                visibility,
            } => {
                let visibility = Duration::from_millis(visibility);
                let got = consumers[consumer as usize].receive_batch(max, visibility);
                let want = reference.receive_batch(now, consumer, max, visibility);
                prop_assert_eq!(&got, &want, "step {}: receive_batch", i);
                receipts.extend(got.iter().map(|d| d.receipt));
            }
            Step::Delete { consumer, receipt } => {
                let r = *receipt.get(&receipts);
                let got = consumers[consumer as usize].delete(&r);
                let want = reference
                    .holder(&r)
                    .delete(now, &r, Some(ConsumerId(consumer)));
                prop_assert_eq!(got, want, "step {}: delete", i);
            }
            Step::DeleteBatch {
                consumer,
                receipts: ref picks,
            } => {
                let batch: Vec<ReceiptHandle> = picks.iter().map(|p| *p.get(&receipts)).collect();
                let got = consumers[consumer as usize].delete_batch(&batch);
                let want: Vec<_> = batch
                    .iter()
                    .map(|r| {
                        reference
                            .holder(r)
                            .delete(now, r, Some(ConsumerId(consumer)))
                    })
                    .collect();
                prop_assert_eq!(got, want, "step {}: delete_batch", i);
            }
            Step::Heartbeat {
                consumer,
                receipt,
                visibility,
            } => {
                let r = *receipt.get(&receipts);
                let visibility = Duration::from_millis(visibility);
                let got = consumers[consumer as usize].change_visibility(&r, visibility);
                let want = reference.holder(&r).change_visibility(
                    now,
                    &r,
                    visibility,
                    Some(ConsumerId(consumer)),
                );
                prop_assert_eq!(got, want, "step {}: change_visibility", i);
            }
            Step::Release { consumer, receipt } => {
                let r = *receipt.get(&receipts);
                let got = consumers[consumer as usize].release(&r);
                let want = reference
                    .holder(&r)
                    .release(now, &r, Some(ConsumerId(consumer)));
                prop_assert_eq!(got, want, "step {}: release", i);
            }
        }
        let logs = queue.events_by_shard();
        for (s, core) in reference.shards.iter().enumerate() {
            prop_assert_eq!(&logs[s], core.events(), "step {}: shard {}'s log", i, s);
        }
        queue.check_invariants();
    }
    let now = clock.now();
    let mut want_counts = QueueCounts::default();
    let mut want_dead = Vec::new();
    for core in &mut reference.shards {
        let c = core.counts(now);
        want_counts.sent += c.sent;
        want_counts.visible += c.visible;
        want_counts.in_flight += c.in_flight;
        want_counts.delayed += c.delayed;
        want_counts.deleted += c.deleted;
        want_counts.dead_lettered += c.dead_lettered;
        want_dead.extend(core.dead_letters().to_vec());
    }
    want_dead.sort_by_key(|d| d.dead_lettered_at);
    prop_assert_eq!(queue.counts(), want_counts);
    prop_assert_eq!(queue.dead_letters(), want_dead);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_sharded_queue_is_its_shards_with_the_routing_rules(
        n in 1usize..4,
        max_receives in prop::option::of(1u32..4),
        steps in prop::collection::vec(step(), 1..50),
    ) {
        run(n, max_receives, &steps)?;
    }
}

/// Message ids say their shard; shard 0's are the plain numbers a one-shard queue uses.
#[test]
fn message_ids_carry_their_shard() {
    let q = ShardedQueue::<&str, _>::new(QueueConfig::default(), 3, ManualClock::new());
    let ids: Vec<_> = ["a", "b", "c", "d"]
        .into_iter()
        .map(|b| q.send(b))
        .collect();
    assert_eq!(
        ids,
        vec![
            MessageId::new(0),
            MessageId::in_shard(1, 0),
            MessageId::in_shard(2, 0),
            MessageId::new(1)
        ]
    );
    assert_eq!(
        ids.iter()
            .map(|m| (m.shard(), m.index()))
            .collect::<Vec<_>>(),
        vec![(0, 0), (1, 0), (2, 0), (0, 1)]
    );
    assert_eq!(
        ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["m0", "m1.0", "m2.0", "m1"]
    );
}

/// 0 and 257 shards are refused.
#[test]
#[should_panic(expected = "1 to 256 shards, not 0")]
fn no_shards_is_refused() {
    let _ = ShardedQueue::<u8, _>::new(QueueConfig::default(), 0, ManualClock::new());
}

#[test]
#[should_panic(expected = "1 to 256 shards, not 257")]
fn too_many_shards_are_refused() {
    let _ = ShardedQueue::<u8, _>::new(QueueConfig::default(), 257, ManualClock::new());
}
