//! Cost of conformance checking per implementation event: queue runs of the real
//! `RetryQueue` (on a `ManualClock`, sequential and deterministic) replayed on the queue
//! model, as the queue tests do after every std, loom and shuttle run.
//!
//! ```sh
//! cargo bench -p coordlab-checks --bench conform        # 2000 replays per log
//! cargo bench -p coordlab-checks --bench conform -- 500 # 500 replays per log
//! ```
//!
//! Prints, per log, its events, the model actions they map to, and the median time per
//! event over 5 batches.

use std::time::{Duration, Instant};

use coordlab_checks::conform::Verdict;
use coordlab_checks::conform::queue::{self, Retry, RunConfig};
use coordlab_impls::clock::ManualClock;
use coordlab_impls::queue::{
    ConsumerId, EventRecord, ProcessOutcome, QueueConfig, RetryPolicy, RetryQueue,
};

/// `messages` messages, `consumers` consumers taking turns; every third delivery fails
/// (released, exponential backoff), some are held past their timeout while the next
/// consumer receives (their deletes may then be refused as stale), the rest are processed and
/// deleted; with dead-lettering after 3 receives.
fn run(messages: u32, consumers: u32) -> (RunConfig, Vec<EventRecord>) {
    let clock = ManualClock::new();
    let q: RetryQueue<u32, ManualClock> = RetryQueue::new(
        QueueConfig::default()
            .with_event_log(true)
            .with_max_receives(3)
            .with_retry_policy(RetryPolicy::ExponentialBackoff {
                base: Duration::from_millis(2),
                cap: Duration::from_millis(8),
            }),
        clock.clone(),
    );
    for body in 0..messages {
        q.send(body);
    }
    let timeout = Duration::from_millis(10);
    let mut turn = 0u32;
    while q.counts().deleted + q.counts().dead_lettered < u64::from(messages) {
        let c = q.consumer(ConsumerId(turn % consumers));
        turn += 1;
        clock.advance(Duration::from_millis(1));
        let Some(d) = c.receive(timeout) else {
            clock.advance(Duration::from_millis(4));
            continue;
        };
        match turn % 15 {
            0 | 3 | 6 | 9 | 12 => {
                let _ = c.release(&d.receipt);
            }
            // Slow: its delivery lapses, another consumer may receive the message
            // meanwhile, then it finishes (its delete is refused if so).
            5 | 10 => {
                clock.advance(timeout);
                let other = q.consumer(ConsumerId(turn % consumers));
                let again = other.receive(timeout);
                c.record_process(&d.receipt, ProcessOutcome::Applied);
                let _ = c.delete(&d.receipt);
                if let Some(again) = again {
                    other.record_process(&again.receipt, ProcessOutcome::Applied);
                    let _ = other.delete(&again.receipt);
                }
            }
            _ => {
                c.record_process(&d.receipt, ProcessOutcome::Applied);
                let _ = c.delete(&d.receipt);
            }
        }
    }
    let config = RunConfig {
        visibility_timeout_ms: 10,
        retry: Retry::Backoff {
            base_ms: 2,
            cap_ms: 8,
        },
        max_receives: Some(3),
        idempotent: false,
    };
    (config, q.events())
}

fn main() {
    let replays: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    println!(
        "conformance of queue runs on queue/correct, median of 5 batches of {replays} replays\n"
    );
    println!(
        "{:<28} {:>7} {:>8} {:>12} {:>12}",
        "run", "events", "actions", "per replay", "per event"
    );
    for (messages, consumers) in [(1, 2), (4, 4), (8, 4)] {
        let (config, events) = run(messages, consumers);
        let actions = match queue::check(&config, "correct", &events) {
            Ok(Verdict::Conforms { actions, .. }) => actions,
            other => panic!("the benchmark run does not conform: {other:?}"),
        };
        let mut batches: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..replays {
                    std::hint::black_box(queue::check(&config, "correct", &events).is_ok());
                }
                start.elapsed() / replays as u32
            })
            .collect();
        batches.sort();
        let per_replay = batches[2];
        println!(
            "{:<28} {:>7} {:>8} {:>10.1}µs {:>10.0}ns",
            format!("{messages} messages, {consumers} consumers"),
            events.len(),
            actions,
            per_replay.as_secs_f64() * 1e6,
            per_replay.as_secs_f64() * 1e9 / events.len() as f64
        );
    }
}
