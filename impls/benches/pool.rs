//! Throughput of the work-stealing pool against its natural peers, in one run:
//! `rayon::ThreadPool::spawn` (rayon's global-injector + work-stealing scheduler) and a plain
//! pool written here, one `Mutex<VecDeque>` + `Condvar` shared by all workers. Each uses 4
//! worker threads (on the 2-core machine BENCHMARKS.md figures come from, so threads
//! outnumber cores, as in any oversubscribed server).
//!
//! - `tiny`: one producer submits 1,000,000 tasks that each add 1 to a counter, then waits
//!   until all have run. The coordlab pool with capacity 1024 per worker, round-robin and
//!   least-loaded.
//! - `skewed`: 100,000 tasks, every 64th long (spins about 20 µs), placed round-robin, so
//!   one worker's queue keeps getting the long ones; stealing spreads them. Reported per
//!   task; the coordlab pool also prints how many tasks each worker ran under each placement
//!   (its imbalance).
//!
//! Run: `cargo bench -p coordlab-impls --bench pool`. Time is per batch; criterion's
//! throughput line gives tasks/s.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use coordlab_impls::pool::{Placement, Pool};
use coordlab_impls::sync::atomic::{AtomicUsize, Ordering};
use coordlab_impls::sync::{Arc, Condvar, Mutex, thread};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const WORKERS: usize = 4;
const TINY: usize = 1_000_000;
const SKEWED: usize = 100_000;
const LONG_EVERY: usize = 64;

/// A task body: tiny, or (every `LONG_EVERY`-th of the skewed load) about 20 µs of spinning.
fn work(i: usize, skewed: bool, done: &AtomicUsize) {
    if skewed && i.is_multiple_of(LONG_EVERY) {
        let until = Instant::now() + Duration::from_micros(20);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
    // Relaxed: a counter the waiting producer polls; nothing else is published through it.
    done.fetch_add(1, Ordering::Relaxed);
}

/// Waits until `done` reaches `n`.
fn wait_for(done: &AtomicUsize, n: usize) {
    while done.load(Ordering::Relaxed) < n {
        thread::yield_now();
    }
}

/// The plain pool's state: the queue, and whether it is shutting down.
type Shared = (Mutex<(VecDeque<Box<dyn FnOnce() + Send>>, bool)>, Condvar);

/// The plain pool: one shared queue, one lock, one condition variable.
struct MutexPool {
    shared: Arc<Shared>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl MutexPool {
    fn new(workers: usize) -> MutexPool {
        let shared: Arc<Shared> = Arc::new((Mutex::new((VecDeque::new(), false)), Condvar::new()));
        let handles = (0..workers)
            .map(|_| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    loop {
                        let task = {
                            let mut g = shared.0.lock().unwrap();
                            loop {
                                if let Some(t) = g.0.pop_front() {
                                    break t;
                                }
                                if g.1 {
                                    return;
                                }
                                g = shared.1.wait(g).unwrap();
                            }
                        };
                        task();
                    }
                })
            })
            .collect();
        MutexPool { shared, handles }
    }

    fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        self.shared.0.lock().unwrap().0.push_back(Box::new(f));
        self.shared.1.notify_one();
    }
}

impl Drop for MutexPool {
    fn drop(&mut self) {
        self.shared.0.lock().unwrap().1 = true;
        self.shared.1.notify_all();
        for h in self.handles.drain(..) {
            h.join().unwrap();
        }
    }
}

fn coordlab(placement: Placement) -> Pool {
    Pool::builder()
        .workers(WORKERS)
        .capacity(1024)
        .placement(placement)
        .build()
        .expect("valid settings")
}

fn run_batch(n: usize, skewed: bool, spawn: &dyn Fn(Box<dyn FnOnce() + Send>)) {
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..n {
        let done = Arc::clone(&done);
        spawn(Box::new(move || work(black_box(i), skewed, &done)));
    }
    wait_for(&done, n);
}

fn bench_load(c: &mut Criterion, name: &str, n: usize, skewed: bool) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if skewed { 8 } else { 15 }));
    for (label, placement) in [
        ("coordlab_round_robin", Placement::RoundRobin),
        ("coordlab_least_loaded", Placement::LeastLoaded),
    ] {
        let pool = coordlab(placement);
        group.bench_function(BenchmarkId::new(label, n), |b| {
            b.iter(|| {
                run_batch(n, skewed, &|t| {
                    pool.submit(t).map_err(|_| ()).expect("running");
                });
            });
        });
        drop(pool.shutdown());
    }
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("a rayon pool");
    group.bench_function(BenchmarkId::new("rayon_spawn", n), |b| {
        b.iter(|| run_batch(n, skewed, &|t| rayon.spawn(t)));
    });
    let plain = MutexPool::new(WORKERS);
    group.bench_function(BenchmarkId::new("mutex_condvar_pool", n), |b| {
        b.iter(|| run_batch(n, skewed, &|t| plain.spawn(t)));
    });
    group.finish();
}

/// How many tasks each worker of the coordlab pool ran on the skewed load, per placement
/// (printed once: the imbalance each leaves).
fn report_imbalance() {
    for placement in [Placement::RoundRobin, Placement::LeastLoaded] {
        let pool = Pool::builder()
            .workers(WORKERS)
            .capacity(1024)
            .placement(placement)
            .record(true)
            .build()
            .expect("valid settings");
        let done = Arc::new(AtomicUsize::new(0));
        let n = SKEWED / 10;
        for i in 0..n {
            let done = Arc::clone(&done);
            pool.submit(move || work(i, true, &done))
                .map_err(|_| ())
                .expect("running");
        }
        wait_for(&done, n);
        let mut ran = [0usize; WORKERS];
        let mut stolen = 0;
        for e in pool.events() {
            match e {
                coordlab_impls::pool::Event::Take { worker, .. } => ran[worker] += 1,
                coordlab_impls::pool::Event::Steal { worker, .. } => {
                    ran[worker] += 1;
                    stolen += 1;
                }
                _ => {}
            }
        }
        drop(pool.shutdown());
        eprintln!(
            "skewed load, {n} tasks, {placement:?} (recorded run): tasks run per worker {ran:?}, {stolen} stolen"
        );
    }
}

fn benches(c: &mut Criterion) {
    report_imbalance();
    bench_load(c, "tiny", TINY, false);
    bench_load(c, "skewed", SKEWED, true);
}

criterion_group!(pool_benches, benches);
criterion_main!(pool_benches);
