//! The deque on real threads: the shared scenarios (smoke runs: the OS picks the
//! interleavings; loom and shuttle do the searching), a stress run, and destructors.

use std::collections::BTreeSet;

use coordlab_impls::deque::{Full, Steal, deque};
use coordlab_impls::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use coordlab_impls::sync::{Arc, thread};

use super::harness::{run, scenarios};

/// Every shared scenario keeps both properties on real threads, 500 runs each.
#[test]
fn scenarios_hold_on_threads() {
    for scenario in [
        scenarios::LAST_TASK_RACE,
        scenarios::TWO_TASKS_TWO_STEALS,
        scenarios::WRAP_AROUND_SLOW_THIEF,
        scenarios::LOST_RACE_THEN_PUSH,
        scenarios::TWO_THIEVES,
        scenarios::BUSY,
    ] {
        for _ in 0..500 {
            run(&scenario).assert_ok();
        }
    }
}

/// The owner pushes 200,000 tasks (popping every third step, and retrying a `Full` push after
/// a pop, yielding every 4,096 tasks) into a deque of capacity 64 while three thieves steal until the owner is done and
/// the deque is empty: every task is taken exactly once, and the thieves did take some.
#[test]
fn owner_and_three_thieves_take_every_task_once() {
    const TASKS: usize = 200_000;
    let (worker, stealer) = deque::<usize>(64);
    let done = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicUsize::new(0));
    let thieves: Vec<_> = (0..3)
        .map(|_| {
            let (stealer, done, ready) = (stealer.clone(), Arc::clone(&done), Arc::clone(&ready));
            thread::spawn(move || {
                let mut got = Vec::new();
                ready.fetch_add(1, Ordering::Relaxed);
                loop {
                    match stealer.steal() {
                        Steal::Success(task) => got.push(task),
                        Steal::Retry => {}
                        // Acquire: pairs with the Release store of `done`: every push came
                        // before it, so empty after `done` means empty for good.
                        Steal::Empty if done.load(Ordering::Acquire) => {
                            if stealer.steal() == Steal::Empty {
                                break got;
                            }
                        }
                        Steal::Empty => std::hint::spin_loop(),
                    }
                }
            })
        })
        .collect();
    // Start when every thief is stealing, so they race the owner from the first push.
    while ready.load(Ordering::Relaxed) < 3 {
        thread::yield_now();
    }
    let mut mine = Vec::new();
    for task in 0..TASKS {
        if task % 4096 == 0 {
            // Let a descheduled thief run on a busy machine.
            thread::yield_now();
        }
        let mut task = task;
        loop {
            match worker.push(task) {
                Ok(()) => break,
                Err(Full(back)) => {
                    task = back;
                    mine.extend(worker.pop());
                }
            }
        }
        if task % 3 == 0 {
            mine.extend(worker.pop());
        }
    }
    done.store(true, Ordering::Release);
    while let Some(task) = worker.pop() {
        mine.push(task);
    }
    let mut all = mine;
    let mut stolen = 0;
    for t in thieves {
        let got = t.join().unwrap();
        stolen += got.len();
        all.extend(got);
    }
    assert!(stolen > 0, "no thief stole anything");
    assert_eq!(all.len(), TASKS, "tasks taken, duplicates included");
    let distinct: BTreeSet<usize> = all.into_iter().collect();
    assert_eq!(distinct.len(), TASKS, "every task taken once");
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Tasks left in the deque are dropped exactly once, when the last handle goes (not when the
/// worker goes while a stealer lives); taken tasks belong to the taker; a `Full` push hands
/// the task back undropped.
#[test]
fn tasks_left_in_the_deque_are_dropped_once_with_the_last_handle() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (worker, stealer) = deque::<Box<Counted>>(4);
    for _ in 0..4 {
        worker.push(Box::new(Counted(Arc::clone(&drops)))).unwrap();
    }
    let refused = worker
        .push(Box::new(Counted(Arc::clone(&drops))))
        .expect_err("full");
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    drop(refused);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    let popped = worker.pop().expect("a task");
    let stolen = stealer.steal().success().expect("a task");
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    drop((popped, stolen));
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    let other = stealer.clone();
    drop(worker);
    drop(stealer);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        3,
        "a stealer still holds the deque"
    );
    drop(other);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        5,
        "the two tasks left, dropped once each"
    );
}

/// After wrap-arounds the destructor still finds exactly the tasks between `top` and `bottom`.
#[test]
fn drop_after_wrap_around_drops_exactly_the_tasks_left() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (worker, stealer) = deque::<Box<Counted>>(2);
    for _ in 0..5 {
        worker.push(Box::new(Counted(Arc::clone(&drops)))).unwrap();
        drop(stealer.steal().success().expect("the task just pushed"));
    }
    worker.push(Box::new(Counted(Arc::clone(&drops)))).unwrap();
    worker.push(Box::new(Counted(Arc::clone(&drops)))).unwrap();
    assert_eq!(drops.load(Ordering::Relaxed), 5);
    drop((worker, stealer));
    assert_eq!(drops.load(Ordering::Relaxed), 7);
}

/// The handles' thread-safety is what the docs say: `Worker: Send`, `Stealer: Send + Sync +
/// Clone`. (`Worker: !Sync` is a compile-time fact a test cannot assert without a negative
/// trait bound; its `Cell` field makes it so.)
#[test]
fn handles_are_send_and_stealers_sync() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<coordlab_impls::deque::Worker<Box<u8>>>();
    send::<coordlab_impls::deque::Stealer<Box<u8>>>();
    sync::<coordlab_impls::deque::Stealer<Box<u8>>>();
}
