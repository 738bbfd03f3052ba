//! Cost of conformance checking per implementation event: queue runs of the real
//! `RetryQueue` and election runs of the real electors, lease store and storage (on
//! `ManualClock`s, sequential and deterministic) replayed on their models, as the queue and
//! election tests do after every std and shuttle run.
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
        let label = format!("{messages} messages, {consumers} consumers");
        measure(&label, replays, events.len(), || {
            queue::check(&config, "correct", &events)
        });
    }
    election_bench(replays);
}

mod election_run {
    //! Election runs of the real electors, store and storage (sequential, on manual clocks),
    //! logged as the election harness logs them.

    use std::sync::{Arc, Mutex};

    use coordlab_impls::sync::Arc as ImplArc;
    use std::time::Duration;

    use coordlab_checks::conform::election::{Record, RunConfig, Step};
    use coordlab_impls::clock::{Clock, ManualClock};
    use coordlab_impls::election::{
        ElectorConfig, Event, FencedStorage, InMemoryLeaseStore, LeaderElector, NodeId, Observer,
    };

    /// Stamps every event with real time and every node's clock.
    #[derive(Clone)]
    struct Recorder {
        real: ManualClock,
        clocks: Vec<ManualClock>,
        records: Arc<Mutex<Vec<Record>>>,
    }

    impl Recorder {
        fn push(&self, step: Step) {
            let record = Record {
                real: self.real.now().as_millis(),
                clocks: self.clocks.iter().map(|c| c.now().as_millis()).collect(),
                step,
            };
            self.records.lock().unwrap().push(record);
        }
    }

    impl Observer for Recorder {
        fn observe(&self, event: Event) {
            self.push(Step::Elect(event));
        }
    }

    /// `nodes` nodes for `rounds` ms: each ms every live node heartbeats and the leader
    /// writes; every `crash_every` ms the leader crashes, and restarts 4 ms later.
    pub fn run(nodes: u32, rounds: u32, crash_every: u32) -> (RunConfig, Vec<Record>) {
        let real = ManualClock::new();
        let clocks: Vec<ManualClock> = (0..nodes).map(|_| ManualClock::new()).collect();
        let rec = Recorder {
            real: real.clone(),
            clocks: clocks.clone(),
            records: Arc::new(Mutex::new(Vec::new())),
        };
        let (lease, renew, drift) = (6, 2, 1);
        let config = ElectorConfig::new(
            Duration::from_millis(lease),
            Duration::from_millis(renew),
            Duration::from_millis(drift),
        )
        .unwrap();
        // The implementation's own `Arc` (its sync facade's: the lease store is implemented for
        // it, and is loom's under `--cfg loom`).
        let store = ImplArc::new(InMemoryLeaseStore::new(real.clone()).with_observer(rec.clone()));
        let storage = FencedStorage::new().with_observer(rec.clone());
        let elector = |n: u32| {
            LeaderElector::new(
                NodeId(n),
                ImplArc::clone(&store),
                clocks[n as usize].clone(),
                config,
            )
            .with_observer(rec.clone())
        };
        let mut electors: Vec<Option<_>> = (0..nodes).map(|n| Some(elector(n))).collect();
        let mut down: Option<(u32, u32)> = None;
        for round in 1..=rounds {
            real.advance(Duration::from_millis(1));
            for c in &clocks {
                c.advance(Duration::from_millis(1));
            }
            rec.push(Step::Tick {
                ms: 1,
                slow: Vec::new(),
            });
            if let Some((n, at)) = down
                && round >= at + 4
            {
                electors[n as usize] = Some(elector(n));
                rec.push(Step::Restart { node: n });
                down = None;
            }
            for n in 0..nodes {
                let Some(e) = &electors[n as usize] else {
                    continue;
                };
                let _ = e.heartbeat();
                if let Some(l) = e.leadership() {
                    let _ = storage.write(NodeId(n), l.token, round);
                    if down.is_none() && round % crash_every == 0 {
                        electors[n as usize] = None;
                        rec.push(Step::Crash { node: n });
                        down = Some((n, round));
                    }
                }
            }
        }
        let config = RunConfig {
            lease_ms: lease,
            renew_every_ms: renew,
            drift_ms: drift,
            writers: 0,
        };
        let records = rec.records.lock().unwrap().clone();
        (config, records)
    }
}

fn election_bench(replays: usize) {
    use coordlab_checks::conform::election;
    println!(
        "\nconformance of election runs on election/correct, median of 5 batches of {replays} replays\n"
    );
    println!(
        "{:<28} {:>7} {:>8} {:>12} {:>12}",
        "run", "events", "actions", "per replay", "per event"
    );
    for (nodes, rounds) in [(2, 20), (3, 60)] {
        let (config, records) = election_run::run(nodes, rounds, 15);
        measure(
            &format!("{nodes} nodes, {rounds} ms"),
            replays,
            records.len(),
            || election::check(&config, "correct", &records),
        );
    }
}

/// Checks a run `replays` times in each of 5 batches and prints its row: events, model
/// actions, the median time per replay and per event. Panics if the run does not conform.
fn measure(
    label: &str,
    replays: usize,
    events: usize,
    check: impl Fn() -> Result<Verdict, coordlab_checks::conform::ConformError>,
) {
    let actions = match check() {
        Ok(Verdict::Conforms { actions, .. }) => actions,
        other => panic!("the benchmark run does not conform: {other:?}"),
    };
    let mut batches: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..replays {
                std::hint::black_box(check().is_ok());
            }
            start.elapsed() / replays as u32
        })
        .collect();
    batches.sort();
    let per_replay = batches[2];
    println!(
        "{label:<28} {events:>7} {actions:>8} {:>10.1}µs {:>10.0}ns",
        per_replay.as_secs_f64() * 1e6,
        per_replay.as_secs_f64() * 1e9 / events as f64
    );
}
