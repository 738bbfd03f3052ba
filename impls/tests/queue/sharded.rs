//! [`ShardedQueue`] under shuttle (random and PCT schedulers):
//!
//! - [`empty_receive_race`]: a receive that finds nothing must be linearizable — at one
//!   instant nothing was visible — even while, behind its scan, a message becomes visible on a
//!   shard it has passed and another consumer takes the one on a shard it has yet to reach.
//!   Every execution's history (each operation's invocation and response, stamped from one
//!   counter) is checked against the queue's sequential specification by trying every order
//!   the real-time order allows.
//! - [`sharded_drain_race`]: two consumers, each with its own home shard, receive and delete
//!   while the clock moves, so deliveries lapse and are taken again from the other shard.
//!   Claims: each shard's log replays on the queue's semantics ([`check_log`]); each
//!   consumer's results are its shard logs' (a delete accepted is logged as a `Delete`, a
//!   refusal as a `Reject` with the same reason); every message ends deleted once or
//!   dead-lettered, never both.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//! target/shuttle -- sharded`.

#![cfg(shuttle)]

use std::collections::BTreeSet;
use std::time::Duration;

use coordlab_impls::clock::ManualClock;
use coordlab_impls::queue::{
    ConsumerId, Event, EventRecord, MessageId, QueueConfig, Rejection, RetryPolicy, ShardedQueue,
};
use coordlab_impls::sync::atomic::{AtomicU64, Ordering};
use coordlab_impls::sync::{Arc, thread};

use super::delete_checks::{Outcome, logged, not_resolved_once, note, returned, run_under_shuttle};
use super::harness::render_events;
use super::log_spec::check_log;

/// One operation of a history: what it did, when it was invoked and when it returned (stamps
/// from one counter), and for a receive what it got.
#[derive(Clone, Debug)]
struct Op {
    name: &'static str,
    invoked: u64,
    returned: u64,
    /// `Release(m)` makes `m` visible; `Receive(r)` takes `r` (`None`: nothing visible).
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Release(&'static str),
    Receive(Option<&'static str>),
}

/// Whether some order of `ops` that keeps every operation that returned before another was
/// invoked ahead of it is a sequential run of the queue from `visible`: a release makes its
/// message visible, a receive takes a visible message, or gets nothing only when none is.
fn linearizable(ops: &[Op], visible: &BTreeSet<&'static str>) -> bool {
    if ops.is_empty() {
        return true;
    }
    (0..ops.len()).any(|i| {
        let op = &ops[i];
        // `op` can go first only if no other operation returned before it was invoked.
        let minimal = ops.iter().all(|o| o.returned > op.invoked);
        if !minimal {
            return false;
        }
        let mut after = visible.clone();
        let valid = match op.kind {
            Kind::Release(m) => after.insert(m),
            Kind::Receive(Some(m)) => after.remove(m),
            Kind::Receive(None) => after.is_empty(),
        };
        let mut rest = ops.to_vec();
        rest.remove(i);
        valid && linearizable(&rest, &after)
    })
}

/// Shard 0 holds `a`, received (so invisible), shard 1 holds `b`, visible. Then at once: `R`
/// releases `a` (visible at once); `D` (home shard 1) receives; `A` (home shard 0) receives.
/// If `R` comes before `D`'s receive, something is visible at every instant of `A`'s receive,
/// so `A` must not get nothing, even when its scan passed shard 0 before `a` came back and
/// reached shard 1 after `D` took `b`.
fn empty_receive_race() {
    let clock = ManualClock::new();
    let config = QueueConfig::default().with_retry_policy(RetryPolicy::Immediate);
    let queue = Arc::new(ShardedQueue::<&'static str, _>::new(config, 2, clock));
    queue.send("a");
    queue.send("b");
    let held = queue
        .consumer(ConsumerId(2))
        .receive(Duration::from_millis(10))
        .expect("a is visible on consumer 2's home shard");
    assert_eq!(held.body, "a");
    let stamps = Arc::new(AtomicU64::new(0));
    let stamp = |stamps: &AtomicU64| stamps.fetch_add(1, Ordering::SeqCst);
    let release = {
        let (queue, stamps) = (Arc::clone(&queue), Arc::clone(&stamps));
        thread::spawn(move || {
            let invoked = stamp(&stamps);
            queue
                .consumer(ConsumerId(2))
                .release(&held.receipt)
                .expect("a's delivery is in flight");
            let returned = stamp(&stamps);
            Op {
                name: "R: release a",
                invoked,
                returned,
                kind: Kind::Release("a"),
            }
        })
    };
    let receiver = |name: &'static str, consumer: u32| {
        let (queue, stamps) = (Arc::clone(&queue), Arc::clone(&stamps));
        thread::spawn(move || {
            let invoked = stamp(&stamps);
            let got = queue
                .consumer(ConsumerId(consumer))
                .receive(Duration::from_millis(10))
                .map(|d| d.body);
            let returned = stamp(&stamps);
            Op {
                name,
                invoked,
                returned,
                kind: Kind::Receive(got),
            }
        })
    };
    let d = receiver("D: receive (home 1)", 1);
    let a = receiver("A: receive (home 0)", 0);
    let ops = vec![
        release.join().unwrap(),
        d.join().unwrap(),
        a.join().unwrap(),
    ];
    let initially: BTreeSet<&str> = ["b"].into();
    if !linearizable(&ops, &initially) {
        let history: Vec<String> = ops
            .iter()
            .map(|op| {
                format!(
                    "{} [{}..{}] {:?}",
                    op.name, op.invoked, op.returned, op.kind
                )
            })
            .collect();
        panic!(
            "no sequential order of this history is a run of the queue:\n{}",
            history.join("\n")
        );
    }
    if let Kind::Receive(got) = ops[2].kind {
        note(format!("A got {got:?}"));
    }
}

#[test]
fn empty_receive_race_under_shuttle() {
    run_under_shuttle(
        empty_receive_race,
        3_000,
        &["A got None", "A got Some(\"a\")", "A got Some(\"b\")"],
    );
}

/// A shard's log with its messages renumbered by their index in the shard, so that it reads as
/// the log of a queue of one shard (whose ids are 0, 1, 2, …) for [`check_log`].
fn as_one_shard(log: &[EventRecord]) -> Vec<EventRecord> {
    fn renumber(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if key == "message"
                        && let Some(id) = value.as_u64()
                    {
                        *value = MessageId::new(id).index().into();
                    } else {
                        renumber(value);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(renumber),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(log).expect("an event log serialises");
    renumber(&mut json);
    serde_json::from_value(json).expect("a renumbered event log deserialises")
}

const MESSAGES: u32 = 4;
const MAX_RECEIVES: u32 = 2;

/// Four messages on two shards; consumers 0 and 1 (home shards 0 and 1) each receive and
/// delete three times with a 2 ms visibility timeout while a driver moves the clock 1 ms at a
/// time, four times; then the main thread moves the clock past every deadline and drains.
fn sharded_drain_race() {
    let clock = ManualClock::new();
    let config = QueueConfig::default()
        .with_max_receives(MAX_RECEIVES)
        .with_event_log(true);
    let queue = Arc::new(ShardedQueue::<u32, _>::new(config, 2, clock.clone()));
    for body in 0..MESSAGES {
        queue.send(body);
    }
    let driver = {
        let clock = clock.clone();
        thread::spawn(move || {
            for _ in 0..4 {
                clock.advance(Duration::from_millis(1));
                thread::yield_now();
            }
        })
    };
    let consumers: Vec<_> = (0..2u32)
        .map(|c| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let me = queue.consumer(ConsumerId(c));
                let mut calls = Vec::new();
                for _ in 0..3 {
                    let Some(d) = me.receive(Duration::from_millis(2)) else {
                        continue;
                    };
                    if usize::from(d.message.shard()) != c as usize {
                        note("ReceivedFromAnotherShard");
                    }
                    thread::yield_now();
                    calls.push((d.receipt, me.delete(&d.receipt)));
                }
                (ConsumerId(c), calls)
            })
        })
        .collect();
    driver.join().unwrap();
    let calls: Vec<_> = consumers.into_iter().map(|h| h.join().unwrap()).collect();
    clock.advance(Duration::from_millis(10));
    while let Some(d) = queue.receive(Duration::from_millis(2)) {
        queue
            .delete(&d.receipt)
            .expect("the sweeper's newest receipt deletes");
    }
    let counts = queue.counts();
    let logs = queue.events_by_shard();
    let everything: Vec<EventRecord> = logs.concat();
    let fail = |claim: String| -> ! { panic!("{claim}\n{}", render_events(&everything)) };
    for (s, log) in logs.iter().enumerate() {
        // Each shard's own counts: a shard's log must account for exactly its messages.
        let held: Vec<_> = log
            .iter()
            .filter(|r| matches!(r.event, Event::Send { .. }))
            .collect();
        let mut end = coordlab_impls::queue::QueueCounts {
            sent: held.len() as u64,
            ..Default::default()
        };
        for r in log {
            match r.event {
                Event::Delete { .. } => end.deleted += 1,
                Event::MoveToDeadLetter { .. } => end.dead_lettered += 1,
                _ => {}
            }
        }
        end.visible = (end.sent - end.deleted - end.dead_lettered) as usize;
        if let Err(e) = check_log(&as_one_shard(log), Some(MAX_RECEIVES), false, &end) {
            fail(format!("shard {s}'s log does not replay: {e:?}"));
        }
    }
    if counts.visible + counts.in_flight + counts.delayed != 0 {
        fail(format!("the queue is not drained: {counts:?}"));
    }
    // Each consumer's results against the logs. A consumer's deletes land in different
    // shards' logs, so compare them in (message, delivery) order: a consumer holds each
    // delivery once, so that order is a total one.
    let by_delivery = |mut v: Vec<Outcome>| {
        v.sort_by_key(|&(m, d, _)| (m, d));
        v
    };
    for (consumer, results) in &calls {
        let returned = by_delivery(returned(*consumer, results).unwrap_or_else(|e| fail(e)));
        let logged = by_delivery(logged(&everything, *consumer));
        if logged != returned {
            fail(format!(
                "{consumer}: its deletes returned {returned:?}, the logs say {logged:?}"
            ));
        }
        if returned
            .iter()
            .any(|(_, _, r)| matches!(r, Some(Rejection::StaleReceipt { .. })))
        {
            note("StaleDeleteRefused");
        }
    }
    if everything
        .iter()
        .any(|r| matches!(r.event, Event::Receive { delivery: 2.., .. }))
    {
        note("MessageRedelivered");
    }
    let wrong = not_resolved_once(&everything);
    if !wrong.is_empty() {
        fail(format!(
            "every message must end deleted or dead-lettered exactly once; (message, times): {wrong:?}"
        ));
    }
}

#[test]
fn sharded_drain_race_under_shuttle() {
    run_under_shuttle(
        sharded_drain_race,
        2_000,
        &[
            "ReceivedFromAnotherShard",
            "StaleDeleteRefused",
            "MessageRedelivered",
        ],
    );
}
