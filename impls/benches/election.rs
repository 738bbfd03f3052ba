//! What leases and fencing cost against their in-process peer, a mutex: a lease is a lock
//! that expires, and a fencing token is what a lock cannot give you across a pause.
//!
//! - `leader_writes_10k`: a node that leads writes 10,000 times. Elector: `leadership()` (one
//!   lock and a clock read) then a `FencedStorage` write tagged with the token (a second lock
//!   and the token check). Peer: lock a mutex, write, unlock.
//! - `handover_1k`: two threads take turns leading, 1,000 terms in all. Elector: campaign
//!   until granted (a compare-and-set on the lease store), write once, resign (release),
//!   yield. Peer: lock the mutex, write once, unlock, yield. Both batches include spawning
//!   the two threads.
//!
//! Both use the system clock and the sync facade's std mutex. Run: `cargo bench -p
//! coordlab-impls --bench election` (about half a minute on 2 cores). Reported time is per
//! batch.

use std::hint::black_box;
use std::time::Duration;

use coordlab_impls::clock::SystemClock;
use coordlab_impls::election::{
    ElectorConfig, FencedStorage, FencingToken, InMemoryLeaseStore, LeaderElector, NodeId,
};
use coordlab_impls::sync::{Arc, Mutex, thread};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const WRITES: u64 = 10_000;
const TERMS: u64 = 1_000;

type Elector = LeaderElector<Arc<InMemoryLeaseStore<SystemClock>>, SystemClock>;

fn config() -> ElectorConfig {
    // Long enough that the lease outlives a benchmark group: the leader never renews here.
    ElectorConfig::new(
        Duration::from_secs(600),
        Duration::from_secs(60),
        Duration::from_secs(1),
    )
    .expect("a valid configuration")
}

fn electors(n: u32) -> Vec<Elector> {
    let clock = SystemClock::new();
    let store = Arc::new(InMemoryLeaseStore::new(clock.clone()));
    (0..n)
        .map(|i| LeaderElector::new(NodeId(i), Arc::clone(&store), clock.clone(), config()))
        .collect()
}

/// One leader, `WRITES` fenced writes.
fn elector_writes(elector: &Elector, storage: &FencedStorage<u64>) -> u64 {
    let mut accepted = 0;
    for i in 0..WRITES {
        let leadership = elector
            .leadership()
            .expect("the lease lasts the whole batch");
        if storage.write(NodeId(0), leadership.token, i).is_ok() {
            accepted += 1;
        }
    }
    accepted
}

/// The peer: `WRITES` writes under a mutex.
fn mutex_writes(cell: &Mutex<Option<(FencingToken, u64)>>) -> u64 {
    let mut written = 0;
    for i in 0..WRITES {
        *cell.lock().unwrap() = Some((FencingToken::new(1), i));
        written += 1;
    }
    written
}

/// Two threads take turns leading until `TERMS` terms have been served in all.
fn elector_handover() -> u64 {
    let storage = Arc::new(FencedStorage::new());
    let terms = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = electors(2)
        .into_iter()
        .map(|elector| {
            let storage = Arc::clone(&storage);
            let terms = Arc::clone(&terms);
            thread::spawn(move || {
                loop {
                    if *terms.lock().unwrap() >= TERMS {
                        return;
                    }
                    let Some(l) = elector.campaign().expect("in-memory store") else {
                        thread::yield_now();
                        continue;
                    };
                    let mut t = terms.lock().unwrap();
                    if *t < TERMS {
                        *t += 1;
                        storage
                            .write(elector.node(), l.token, *t)
                            .expect("the newest token is accepted");
                    }
                    drop(t);
                    elector.resign().expect("in-memory store");
                    // As the peer does after unlocking: give the other node its turn.
                    thread::yield_now();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    storage.counts().accepted
}

/// The peer: two threads take turns holding a mutex until `TERMS` terms have been served.
fn mutex_handover() -> u64 {
    let cell = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                loop {
                    let mut t = cell.lock().unwrap();
                    if *t >= TERMS {
                        return;
                    }
                    *t += 1;
                    drop(t);
                    thread::yield_now();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    *cell.lock().unwrap()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("leader_writes_10k");
    group
        .throughput(Throughput::Elements(WRITES))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let leader = electors(1).pop().expect("one elector");
    leader
        .campaign()
        .expect("in-memory store")
        .expect("a free lease");
    let storage = FencedStorage::new();
    group.bench_function("elector_fenced_storage", |b| {
        b.iter(|| assert_eq!(black_box(elector_writes(&leader, &storage)), WRITES))
    });
    let cell = Mutex::new(None);
    group.bench_function("mutex", |b| {
        b.iter(|| assert_eq!(black_box(mutex_writes(&cell)), WRITES))
    });
    group.finish();

    let mut group = c.benchmark_group("handover_1k");
    group
        .throughput(Throughput::Elements(TERMS))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("elector_fenced_storage", |b| {
        b.iter(|| assert_eq!(black_box(elector_handover()), TERMS))
    });
    group.bench_function("mutex", |b| {
        b.iter(|| assert_eq!(black_box(mutex_handover()), TERMS))
    });
    group.finish();
}

criterion_group!(election, benches);
criterion_main!(election);
