//! Throughput of the Chase–Lev deque against its natural peer, `crossbeam_deque::Worker::new_lifo`
//! (0.8), paired in one run:
//!
//! - `push_pop`: the owner pushes a batch of 1024 `usize` tasks, then pops all 1024 (no
//!   thief). coordlab's deque has capacity 1024, so no push is ever `Full`; crossbeam's grows
//!   its buffer in the first batches and keeps it.
//! - `push_steal`: the owner pushes a batch of 1024 tasks while one thief thread steals in a
//!   loop, then waits until the thief has stolen all of them (the owner never pops). The thief
//!   runs for the whole benchmark, stealing (`Empty` between batches) and publishing how many
//!   it has taken. Both threads spin while they wait and yield the core every 256 spins (on
//!   a 2-core machine the OS sometimes puts them on one core; without the yields a batch then
//!   took milliseconds for either deque). The deque never holds more than one batch, so with capacity 1024 no push is
//!   `Full`.
//!
//! Reported time is per batch of 1024 tasks (throughput in tasks/s).
//!
//! Run: `cargo bench -p coordlab-impls --bench deque` (about a minute on 2 cores; run it on a
//! quiet machine: the thief needs a core of its own).

use std::hint::black_box;

use coordlab_impls::deque::{self, Steal};
use coordlab_impls::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use coordlab_impls::sync::{Arc, thread};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 1024;

/// The owner's side of a deque.
trait Owner {
    fn push(&self, task: usize);
    fn pop(&self) -> Option<usize>;
}

/// A thief's side: a task, or `None` if it found the deque empty or lost a race.
trait Thief: Send + 'static {
    fn steal(&self) -> Option<usize>;
}

impl Owner for deque::Worker<usize> {
    fn push(&self, task: usize) {
        deque::Worker::push(self, task).expect("a batch fits: capacity is one batch");
    }
    fn pop(&self) -> Option<usize> {
        deque::Worker::pop(self)
    }
}

impl Thief for deque::Stealer<usize> {
    fn steal(&self) -> Option<usize> {
        match deque::Stealer::steal(self) {
            Steal::Success(task) => Some(task),
            Steal::Empty | Steal::Retry => None,
        }
    }
}

impl Owner for crossbeam_deque::Worker<usize> {
    fn push(&self, task: usize) {
        crossbeam_deque::Worker::push(self, task);
    }
    fn pop(&self) -> Option<usize> {
        crossbeam_deque::Worker::pop(self)
    }
}

impl Thief for crossbeam_deque::Stealer<usize> {
    fn steal(&self) -> Option<usize> {
        match crossbeam_deque::Stealer::steal(self) {
            crossbeam_deque::Steal::Success(task) => Some(task),
            crossbeam_deque::Steal::Empty | crossbeam_deque::Steal::Retry => None,
        }
    }
}

fn push_pop_batch(owner: &impl Owner) -> usize {
    for i in 0..BATCH {
        owner.push(black_box(i));
    }
    let mut sum = 0;
    while let Some(task) = owner.pop() {
        sum += task;
    }
    sum
}

/// A thief thread that steals until told to stop, publishing how many tasks it has taken.
struct Draining {
    stolen: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<usize>>,
}

impl Draining {
    fn start(thief: impl Thief) -> Draining {
        let stolen = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::spawn({
            let (stolen, stop) = (Arc::clone(&stolen), Arc::clone(&stop));
            move || {
                let (mut count, mut sum, mut idle) = (0, 0usize, 0u32);
                // Relaxed: the flag publishes nothing; the join orders the rest.
                while !stop.load(Ordering::Relaxed) {
                    if let Some(task) = thief.steal() {
                        count += 1;
                        sum = sum.wrapping_add(task);
                        idle = 0;
                        // Release: pairs with the owner's Acquire load in `wait_for`; a plain
                        // store, so counting costs the thief no read-modify-write.
                        stolen.store(count, Ordering::Release);
                    } else {
                        // Nothing to steal (between batches, or a lost race): spin, yielding
                        // the core now and then, as the owner does.
                        idle += 1;
                        if idle.is_multiple_of(256) {
                            thread::yield_now();
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                }
                sum
            }
        });
        Draining {
            stolen,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until the thief has stolen `total` tasks in all: spins, yielding the core now
    /// and then, so that if the OS put both threads on one core the thief gets to run.
    fn wait_for(&self, total: usize) {
        let mut spins = 0u32;
        while self.stolen.load(Ordering::Acquire) < total {
            spins += 1;
            if spins.is_multiple_of(256) {
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

impl Drop for Draining {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            black_box(thread.join().expect("the thief thread does not panic"));
        }
    }
}

fn push_steal(c: &mut Criterion, group: &str) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(BATCH as u64));
    // Two threads handing cache lines back and forth vary more than one thread alone: twice
    // criterion's default 5 s of samples.
    g.measurement_time(std::time::Duration::from_secs(10));
    {
        let (worker, stealer) = deque::deque::<usize>(BATCH);
        let thief = Draining::start(stealer);
        let mut total = 0;
        g.bench_function(BenchmarkId::new("coordlab", BATCH), |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    worker.push(black_box(i)).expect("a batch fits");
                }
                total += BATCH;
                thief.wait_for(total);
            });
        });
    }
    {
        let worker = crossbeam_deque::Worker::new_lifo();
        let thief = Draining::start(worker.stealer());
        let mut total = 0;
        g.bench_function(BenchmarkId::new("crossbeam", BATCH), |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    worker.push(black_box(i));
                }
                total += BATCH;
                thief.wait_for(total);
            });
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    {
        let mut g = c.benchmark_group("deque_push_pop");
        g.throughput(Throughput::Elements(BATCH as u64));
        let (worker, _stealer) = deque::deque::<usize>(BATCH);
        g.bench_function(BenchmarkId::new("coordlab", BATCH), |b| {
            b.iter(|| push_pop_batch(&worker));
        });
        let worker = crossbeam_deque::Worker::new_lifo();
        g.bench_function(BenchmarkId::new("crossbeam", BATCH), |b| {
            b.iter(|| push_pop_batch(&worker));
        });
        g.finish();
    }
    push_steal(c, "deque_push_steal");
}

criterion_group!(deque_benches, benches);
criterion_main!(deque_benches);
