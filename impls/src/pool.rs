//! A work-stealing thread pool with bounded per-worker queues, backpressure, and a sleep
//! protocol without lost wake-ups: the implementation of the `stealing` model
//! (`models/src/stealing.rs`), step for step.
//!
//! ```
//! use coordlab_impls::pool::{Placement, Pool};
//! use coordlab_impls::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//! # // Under `--cfg loom` / `--cfg shuttle` the pool's threads only work inside a model.
//! # if coordlab_impls::sync::ENGINE != "std" { return Ok(()); }
//!
//! let pool = Pool::builder()
//!     .workers(4)
//!     .capacity(64)
//!     .placement(Placement::LeastLoaded)
//!     .build()?;
//! let done = Arc::new(AtomicUsize::new(0));
//! for _ in 0..1000 {
//!     let done = Arc::clone(&done);
//!     // Blocks while the chosen worker's queue holds 64 tasks (backpressure).
//!     pool.submit(move || {
//!         done.fetch_add(1, Ordering::Relaxed);
//!     })
//!     .expect("the pool is running");
//! }
//! // Workers finish the task they run; every task not started comes back.
//! let unstarted = pool.shutdown();
//! assert_eq!(done.load(Ordering::Relaxed) + unstarted.len(), 1000);
//! # Ok::<(), coordlab_impls::pool::BuildError>(())
//! ```
//!
//! # Shape
//!
//! - A [`Pool`] has `workers` threads, each with a FIFO queue of at most `capacity` tasks
//!   ([`Task`]: a boxed `FnOnce() + Send + 'static`). [`Pool::submit`] places a task by the
//!   [`Placement`] policy (round-robin: the next worker in turn; least-loaded: a shortest queue,
//!   the lowest index on a tie) and blocks while that queue is full; [`Pool::try_submit`]
//!   gives the task back instead ([`TrySubmitError::Full`]).
//! - A worker takes the oldest task of its own queue; finding it empty it steals the oldest
//!   task of another worker's queue (victims from the next index on, wrapping around). A take
//!   or steal from a full queue wakes the producers waiting for room.
//! - The sleep protocol is the model's (rayon's "sleepy" worker, tokio's searching count): a
//!   worker that finds no work anywhere is *checked* (still counts as searching), registers as
//!   a sleeper, issues `fence(SeqCst)`, looks into every queue once more, and only then parks.
//!   A producer, after placing a task, issues the matching `fence(SeqCst)` and then wakes the
//!   target if it is registered or parked, else — if no worker is searching — the
//!   lowest-numbered sleeper. A worker that took a task stops searching; if it was the last
//!   searcher and some queue still holds work, it wakes a sleeper (tokio's
//!   `transition_worker_from_searching`). Whichever of a producer's fence and a worker's
//!   fence comes first in their total order, the other side sees the first side's write: the
//!   worker sees the task, or the producer sees the sleeper (a Dekker handshake).
//! - A wake-up is a compare-and-swap of the worker's phase word (registered or parked →
//!   searching), so a wake that comes before the worker blocks is not lost: the worker's own
//!   swap (registered → parked) fails, or it finds the word changed under its sleep lock.
//! - [`Pool::shutdown`] (`&self`, so producers holding an `Arc<Pool>` may still be running;
//!   a second call returns nothing): refuses new tasks, wakes every worker and every waiting
//!   producer, waits until each worker has finished the task it took, and returns every
//!   accepted task that no worker took. So every accepted task runs exactly once or is
//!   returned, never both, never neither; no task starts after `shutdown` returns. Dropping
//!   the pool shuts it down and drops the unstarted tasks. `shutdown` must not be called
//!   from inside a task (it would wait for its own worker).
//! - A [`SteppedPool`] has the same queues and protocol but no threads: the caller performs
//!   each worker's next step ([`SteppedPool::step`]), which makes the pool's accounting
//!   testable against a sequential reference, deterministically.
//! - With [`PoolBuilder::record`], the pool keeps an event log ([`Pool::events`]) in the
//!   model's action vocabulary ([`Event`]); each event is recorded while holding the lock
//!   that makes it take effect, under one log lock that every recorded step also holds, so
//!   the log's order is an order in which the steps happened. Task ids count accepted tasks
//!   from 0 (`t0`, `t1`, …) in acceptance order. Recording serializes the pool: use it for
//!   tests and traces.
//!
//! # Errors
//!
//! [`BuildError`] for settings out of range; [`SubmitError::ShutDown`] and
//! [`TrySubmitError::{Full, ShutDown}`](TrySubmitError) give the task back. A panicking task
//! is caught: its worker goes on, and [`Pool::panicked`] counts it.
//!
//! # Sources
//!
//! - Blumofe and Leiserson, "Scheduling multithreaded computations by work stealing",
//!   JACM 46(5), 1999: idle workers steal.
//! - rayon, `rayon-core/src/sleep/README.md`: idle → sleepy → one more search → sleep, with
//!   SeqCst fences after posting work and after announcing a sleeper.
//! - tokio, `runtime/scheduler/multi_thread/idle.rs` and `worker.rs`: a notifier skips the
//!   wake-up while a worker searches; the last searcher to find work wakes another
//!   (`transition_worker_from_searching`); tokio #1768/#1788 (a lost wake-up).
//!
//! # What is not checked
//!
//! - The queues are `Mutex<VecDeque>`: a take or a steal is one atomic step, as the model
//!   takes it. The lock-free Chase–Lev deque is a separate component with its own checks.
//! - shuttle runs every atomic access as SeqCst, so the pool's shuttle tests do not check that
//!   the fences are needed or sufficient on weak memory; no loom test exercises the pool (the
//!   crate compiles under loom). The fence argument above is by hand, following rayon's.
//! - shuttle samples schedules (random and PCT) of 4 workers and 1–2 producers: a passing run
//!   means no failure in the schedules tried, not correctness. The model checks the protocol
//!   exhaustively at its bounds (2–4 workers, up to 6 tasks).
//! - Several producers: the model has one. The pool serializes placements (one lock), so
//!   round-robin's turn and least-loaded's choice are exact, but a conformance check of a log
//!   applies to single-producer runs.
//! - Tasks that submit tasks are allowed (a full queue then blocks the worker in `submit`,
//!   which can deadlock a pool whose every worker does so; use `try_submit` there); the model
//!   leaves them out.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard, thread};

/// A unit of work: any closure that can be sent to a worker thread.
pub type Task = Box<dyn FnOnce() + Send + 'static>;

/// The most workers a pool may have.
pub const MAX_WORKERS: usize = 1024;

/// How a producer picks the worker whose queue gets a task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Placement {
    /// The next worker in turn, whatever its load (the turn moves on only when a task is
    /// placed).
    #[default]
    RoundRobin,
    /// A worker with the shortest queue at the moment of placement, the lowest index on a tie.
    LeastLoaded,
}

/// A protocol bug the tests can switch on, mirroring the `stealing` model's bug variants (same
/// ids). Compiled only for tests, under `--cfg loom` / `--cfg shuttle`, and with the
/// `deviations` feature (which `coordlab drive` turns on), never in a default build.
#[cfg(any(test, loom, shuttle, feature = "deviations"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Deviation {
    /// `round-robin-to-stalled-worker`: idle workers look only into their own queue (no
    /// stealing), so tasks queued on a stalled worker wait for it.
    RoundRobinToStalledWorker,
    /// `no-backpressure`: producers place a task whatever the length of the target queue;
    /// `submit` never waits and `try_submit` is never refused for a full queue.
    NoBackpressure,
    /// `lost-wakeup`: a worker that found no work parks at once, without registering as a
    /// sleeper and checking again.
    LostWakeup,
    /// `stale-load-info`: least-loaded placement chooses by the tasks it has placed on each
    /// worker, never seeing a take, not by the current queue lengths.
    StaleLoadInfo,
    /// `no-last-searcher-wakeup`: a worker that took a task stops searching without waking a
    /// sleeper, even when it was the last searcher and work is left.
    NoLastSearcherWakeup,
}

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
impl Deviation {
    /// Every deviation.
    pub const ALL: [Deviation; 5] = [
        Deviation::RoundRobinToStalledWorker,
        Deviation::NoBackpressure,
        Deviation::LostWakeup,
        Deviation::StaleLoadInfo,
        Deviation::NoLastSearcherWakeup,
    ];

    /// The variant id shared with the model and the counterexample directories.
    pub const fn id(self) -> &'static str {
        match self {
            Deviation::RoundRobinToStalledWorker => "round-robin-to-stalled-worker",
            Deviation::NoBackpressure => "no-backpressure",
            Deviation::LostWakeup => "lost-wakeup",
            Deviation::StaleLoadInfo => "stale-load-info",
            Deviation::NoLastSearcherWakeup => "no-last-searcher-wakeup",
        }
    }
}

/// A setting of [`PoolBuilder`] out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// `workers` was 0 or above [`MAX_WORKERS`].
    #[error("workers must be 1..={max}, not {workers}")]
    Workers {
        /// The number asked for.
        workers: usize,
        /// [`MAX_WORKERS`].
        max: usize,
    },
    /// `capacity` was 0: no task could ever be placed.
    #[error("capacity must be at least 1 task per worker queue")]
    ZeroCapacity,
}

/// Why [`Pool::submit`] gave its task back.
#[derive(thiserror::Error)]
pub enum SubmitError {
    /// The pool is shut down (or shutting down); the task was not accepted.
    #[error("the pool is shut down")]
    ShutDown(Task),
}

/// Why [`Pool::try_submit`] gave its task back.
#[derive(thiserror::Error)]
pub enum TrySubmitError {
    /// The chosen worker's queue holds `capacity` tasks (backpressure); try again later.
    #[error("worker {worker}'s queue is full")]
    Full {
        /// The task, not accepted.
        task: Task,
        /// The worker the placement chose.
        worker: usize,
    },
    /// The pool is shut down (or shutting down); the task was not accepted.
    #[error("the pool is shut down")]
    ShutDown(Task),
}

impl SubmitError {
    /// The task that was not accepted.
    pub fn into_task(self) -> Task {
        match self {
            SubmitError::ShutDown(t) => t,
        }
    }
}

impl TrySubmitError {
    /// The task that was not accepted.
    pub fn into_task(self) -> Task {
        match self {
            TrySubmitError::Full { task, .. } | TrySubmitError::ShutDown(task) => task,
        }
    }
}

impl fmt::Debug for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl fmt::Debug for TrySubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full { worker, .. } => write!(f, "Full {{ worker: {worker}, .. }}"),
            TrySubmitError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

/// What a worker is doing: the model's `Phase`, readable by every thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Phase {
    /// Looking for work: its own queue, then the others'.
    Searching,
    /// Looked everywhere and found nothing; still counts as searching for a notifier.
    Checked,
    /// Registered as a sleeper; checks once more before it parks.
    Registered,
    /// Asleep until a notification wakes it.
    Parked,
    /// Took a task and still counts as searching; stops searching next.
    Found,
    /// Running a task.
    Running,
}

const SEARCHING: u8 = 0;
const CHECKED: u8 = 1;
const REGISTERED: u8 = 2;
const PARKED: u8 = 3;
const FOUND: u8 = 4;
const RUNNING: u8 = 5;

fn phase_of(word: u8) -> Phase {
    match word {
        SEARCHING => Phase::Searching,
        CHECKED => Phase::Checked,
        REGISTERED => Phase::Registered,
        PARKED => Phase::Parked,
        FOUND => Phase::Found,
        _ => Phase::Running,
    }
}

/// Whether a worker in this phase counts as searching for a notifier: it will look at the
/// queues again before it sleeps (the model's `searching`).
fn searching(word: u8) -> bool {
    matches!(word, SEARCHING | CHECKED | FOUND)
}

/// Whether a worker in this phase sleeps or is about to: a notification must wake it (the
/// model's `asleep`).
fn asleep(word: u8) -> bool {
    matches!(word, REGISTERED | PARKED)
}

/// One step of the pool, in the `stealing` model's action vocabulary (`models/src/stealing.rs`,
/// `Action`). Workers are pool indices; tasks are numbered in acceptance order from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Event {
    /// A producer placed `task` on `worker`'s queue.
    Submit {
        /// The task's number.
        task: u64,
        /// The worker whose queue got it.
        worker: usize,
    },
    /// `submit` found the chosen queue (`worker`'s) full and waits for room.
    Block {
        /// The worker the placement chose.
        worker: usize,
    },
    /// `try_submit` found the chosen queue (`worker`'s) full and was refused.
    Refuse {
        /// The worker the placement chose.
        worker: usize,
    },
    /// After placing a task on `target`'s queue, the producer woke `woke` (or nobody).
    Notify {
        /// The worker whose queue got the task.
        target: usize,
        /// The worker woken, if any.
        woke: Option<usize>,
    },
    /// A searching worker took `task` from its own queue.
    Take {
        /// The worker.
        worker: usize,
        /// The task's number.
        task: u64,
    },
    /// A searching worker whose queue was empty stole `task` from `victim`'s queue.
    Steal {
        /// The thief.
        worker: usize,
        /// The worker whose queue held the task.
        victim: usize,
        /// The task's number.
        task: u64,
    },
    /// A worker that took a task stopped searching and woke `woke` (or nobody).
    StopSearching {
        /// The worker.
        worker: usize,
        /// The sleeper woken, if any.
        woke: Option<usize>,
    },
    /// A worker finished `task` and searches again.
    Finish {
        /// The worker.
        worker: usize,
        /// The task's number.
        task: u64,
    },
    /// A searching worker found no work anywhere it looks.
    Search {
        /// The worker.
        worker: usize,
    },
    /// A worker that found no work registered as a sleeper.
    Register {
        /// The worker.
        worker: usize,
    },
    /// A registered worker checked once more: `found` work (it searches) or not (it parks).
    Recheck {
        /// The worker.
        worker: usize,
        /// Whether it saw work.
        found: bool,
    },
    /// (`lost-wakeup`) A worker that found no work parked at once.
    Park {
        /// The worker.
        worker: usize,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Event::Submit { task, worker } => {
                write!(f, "a producer places t{task} on worker {worker}'s queue")
            }
            Event::Block { worker } => write!(
                f,
                "a producer finds worker {worker}'s queue full: submit waits for room"
            ),
            Event::Refuse { worker } => write!(
                f,
                "a producer's try_submit is refused: worker {worker}'s queue is full"
            ),
            Event::Notify { target, woke } => match woke {
                Some(w) => write!(
                    f,
                    "the producer (placed on worker {target}) wakes worker {w}"
                ),
                None => write!(f, "the producer (placed on worker {target}) wakes nobody"),
            },
            Event::Take { worker, task } => {
                write!(f, "worker {worker} takes t{task} from its own queue")
            }
            Event::Steal {
                worker,
                victim,
                task,
            } => write!(
                f,
                "worker {worker} steals t{task} from worker {victim}'s queue"
            ),
            Event::StopSearching { worker, woke } => match woke {
                Some(w) => write!(f, "worker {worker} stops searching and wakes worker {w}"),
                None => write!(f, "worker {worker} stops searching"),
            },
            Event::Finish { worker, task } => write!(f, "worker {worker} finishes t{task}"),
            Event::Search { worker } => write!(f, "worker {worker} finds no work"),
            Event::Register { worker } => write!(f, "worker {worker} registers as a sleeper"),
            Event::Recheck {
                worker,
                found: true,
            } => write!(f, "worker {worker} checks once more and finds work"),
            Event::Recheck {
                worker,
                found: false,
            } => write!(
                f,
                "worker {worker} checks once more, finds nothing, and parks"
            ),
            Event::Park { worker } => {
                write!(f, "worker {worker} parks at once, without checking again")
            }
        }
    }
}

/// What one [`SteppedPool::step`] of a worker did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// It took `task` from its own queue (`victim` is `None`) or stole it from `victim`'s.
    Took {
        /// The task's number.
        task: u64,
        /// Whose queue it came from, if not its own.
        victim: Option<usize>,
    },
    /// It stopped searching, waking `woke` (or nobody).
    StoppedSearching {
        /// The sleeper woken, if any.
        woke: Option<usize>,
    },
    /// It ran `task` to its end (or to a caught panic) and searches again.
    Finished {
        /// The task's number.
        task: u64,
    },
    /// It found no work anywhere it looks (now checked).
    Searched,
    /// It registered as a sleeper.
    Registered,
    /// It checked once more: it `found` work (searching again) or parked.
    Rechecked {
        /// Whether it saw work.
        found: bool,
    },
    /// (`lost-wakeup`) It parked without checking again.
    Parked,
    /// Nothing: it is parked, or a queue it meant to take from was emptied first, or a
    /// notifier changed its phase in the meantime.
    Idle,
    /// The pool is shut down: the worker stops.
    Exit,
}

/// A task in a queue, with its number.
struct Job {
    id: u64,
    run: Task,
}

/// One worker's shared part.
struct Slot {
    /// Its queue, oldest first.
    queue: Mutex<VecDeque<Job>>,
    /// `queue.len()`, written while holding `queue`'s lock, read without it by searchers,
    /// notifiers and least-loaded placement.
    len: AtomicUsize,
    /// The worker's phase (one of the `SEARCHING`… words): written by the worker, swapped
    /// from registered/parked to searching by notifiers.
    phase: AtomicU8,
    /// Guards the parked worker's wait; `wake` is notified under it.
    sleep: Mutex<()>,
    wake: Condvar,
}

/// Placement state, shared by producers and changed under one lock.
struct Placer {
    /// Round-robin's next worker.
    turn: usize,
    /// The next accepted task's number.
    next: u64,
    /// (`stale-load-info`) The queue lengths the producer believes.
    view: Vec<usize>,
}

struct Shared {
    slots: Box<[Slot]>,
    capacity: usize,
    placement: Placement,
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    deviation: Option<Deviation>,
    placer: Mutex<Placer>,
    /// Bumped by a take or steal from a full queue; producers waiting for room wait for it to
    /// change (under `room`'s lock, notified through `room_cv`).
    room_gen: AtomicU64,
    room: Mutex<()>,
    room_cv: Condvar,
    shutdown: AtomicBool,
    panicked: AtomicUsize,
    /// The event log, if recording.
    log: Option<Mutex<Vec<Event>>>,
}

/// The event log's lock, if recording: every recorded step holds it while it takes effect.
type Log<'a> = Option<MutexGuard<'a, Vec<Event>>>;

fn record(log: &mut Log<'_>, event: Event) {
    if let Some(log) = log {
        log.push(event);
    }
}

/// Locks `m`; a poisoned lock is a broken invariant (the pool catches task panics, so none
/// of its critical sections panics).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().expect("a pool lock is poisoned")
}

impl Shared {
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    fn has(&self, d: Deviation) -> bool {
        self.deviation == Some(d)
    }

    #[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
    fn has(&self, _: NoDeviation) -> bool {
        false
    }

    fn steals(&self) -> bool {
        !self.has(Deviation::RoundRobinToStalledWorker)
    }

    fn log(&self) -> Log<'_> {
        self.log.as_ref().map(lock)
    }

    fn workers(&self) -> usize {
        self.slots.len()
    }

    /// The worker the next task goes to, by the placement.
    fn target(&self, placer: &Placer) -> usize {
        match self.placement {
            Placement::RoundRobin => placer.turn,
            Placement::LeastLoaded if self.has(Deviation::StaleLoadInfo) => argmin(&placer.view),
            Placement::LeastLoaded => {
                // Relaxed: a length is a hint for the choice; the placement takes the target
                // queue's lock next and checks its room there.
                let lengths: Vec<usize> = self
                    .slots
                    .iter()
                    .map(|s| s.len.load(Ordering::Relaxed))
                    .collect();
                argmin(&lengths)
            }
        }
    }

    /// Places `run` by the placement. `blocking`: wait while the target is full; else refuse.
    fn place(&self, run: Task, blocking: bool) -> Result<(), TrySubmitError> {
        let mut blocked = false;
        loop {
            // Acquire: pairs with the AcqRel bump in `made_room`; read before the target's
            // length is checked, so a take that makes room after the check changes it.
            let generation = self.room_gen.load(Ordering::Acquire);
            let mut placer = lock(&self.placer);
            let target = self.target(&placer);
            let slot = &self.slots[target];
            let mut queue = lock(&slot.queue);
            // Read under the target queue's lock: `shutdown` sets the flag before it drains
            // the queues under the same locks, so a task pushed here is either drained or
            // refused. Relaxed: the queue lock orders it.
            if self.shutdown.load(Ordering::Relaxed) {
                return Err(TrySubmitError::ShutDown(run));
            }
            let mut log = self.log();
            // Least-loaded read the lengths before it held the target's lock; a take since
            // may have made another queue shorter. Choose again with the target locked (and,
            // when recording, the log: lengths change only under it), so the placement is
            // the model's atomic one.
            if self.target(&placer) != target {
                continue;
            }
            if queue.len() >= self.capacity && !self.has(Deviation::NoBackpressure) {
                if !blocking {
                    record(&mut log, Event::Refuse { worker: target });
                    return Err(TrySubmitError::Full {
                        task: run,
                        worker: target,
                    });
                }
                if !blocked {
                    record(&mut log, Event::Block { worker: target });
                    blocked = true;
                }
                drop(log);
                drop(queue);
                drop(placer);
                self.wait_for_room(generation);
                continue;
            }
            let id = placer.next;
            placer.next += 1;
            queue.push_back(Job { id, run });
            // Relaxed: the Dekker handshake with a sleeping worker is made by the SeqCst
            // fence below (pairs with the fence in `register_and_recheck`) and the one in
            // `stop_searching`; lock holders read `queue` itself.
            slot.len.store(queue.len(), Ordering::Relaxed);
            placer.turn = (target + 1) % self.workers();
            if self.has(Deviation::StaleLoadInfo) {
                placer.view[target] += 1;
            }
            record(
                &mut log,
                Event::Submit {
                    task: id,
                    worker: target,
                },
            );
            drop(log);
            drop(queue);
            drop(placer);
            // SeqCst fence: pairs with the fence a worker issues after registering as a
            // sleeper (`register_and_recheck`) and after stopping its search
            // (`stop_searching`): either that worker's later length loads see this push, or
            // the phase loads below see its registration (or its end of searching).
            fence(Ordering::SeqCst);
            self.notify(target);
            return Ok(());
        }
    }

    /// Blocks until a take from a full queue bumps the room generation past `seen`, or the
    /// pool shuts down.
    fn wait_for_room(&self, seen: u64) {
        let mut guard = lock(&self.room);
        // Acquire: pairs with the AcqRel bump in `made_room` (the freed slot is then visible
        // through the queue lock anyway). Relaxed for `shutdown`: read under `room`'s lock,
        // which `shutdown` takes after setting it.
        while self.room_gen.load(Ordering::Acquire) == seen
            && !self.shutdown.load(Ordering::Relaxed)
        {
            guard = self.room_cv.wait(guard).expect("the room lock is poisoned");
        }
    }

    /// A take or steal left a queue that was full with room: wake the waiting producers (all:
    /// each re-runs its placement, which may choose another queue).
    fn made_room(&self) {
        // AcqRel: pairs with the Acquire loads in `place` and `wait_for_room`. The bump
        // precedes the lock below, so a producer that checks the generation under the lock
        // after this either sees it changed or is waiting when notified.
        self.room_gen.fetch_add(1, Ordering::AcqRel);
        drop(lock(&self.room));
        self.room_cv.notify_all();
    }

    /// After placing a task on `target`: wake the target if it sleeps, else (if no worker is
    /// searching) the lowest-numbered sleeper. The model's `Notify` and `wakes`.
    fn notify(&self, target: usize) {
        let mut log = self.log();
        let woke = loop {
            // SeqCst (after the fence in `place`): the loads of the Dekker handshake.
            let p = self.slots[target].phase.load(Ordering::SeqCst);
            if asleep(p) {
                if self.wake(target, p) {
                    break Some(target);
                }
                continue; // it changed phase: decide again
            }
            if self
                .slots
                .iter()
                .any(|s| searching(s.phase.load(Ordering::SeqCst)))
            {
                break None; // a searcher will find it
            }
            match self.first_asleep() {
                Some((w, p)) if self.wake(w, p) => break Some(w),
                Some(_) => continue,
                None => break None,
            }
        };
        record(&mut log, Event::Notify { target, woke });
        drop(log);
        if let Some(w) = woke {
            self.unpark(w);
        }
    }

    /// The lowest-numbered worker that is registered or parked, and its phase word.
    fn first_asleep(&self) -> Option<(usize, u8)> {
        self.slots.iter().enumerate().find_map(|(i, s)| {
            let p = s.phase.load(Ordering::SeqCst);
            asleep(p).then_some((i, p))
        })
    }

    /// Swaps worker `w`'s phase from `seen` (registered or parked) to searching; false if it
    /// changed meanwhile.
    fn wake(&self, w: usize, seen: u8) -> bool {
        // SeqCst (AcqRel would do for the hand-over): Release publishes the task placed
        // before the wake to the worker, whose failed swap or phase load Acquires it.
        self.slots[w]
            .phase
            .compare_exchange(seen, SEARCHING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Lets worker `w` out of its wait if it is blocked there (its phase is no longer parked).
    fn unpark(&self, w: usize) {
        let slot = &self.slots[w];
        // Taking the sleep lock after the phase swap: a worker that read "parked" under the
        // lock is in `wait` by now (which released it), so the notification reaches it.
        drop(lock(&slot.sleep));
        slot.wake.notify_one();
    }

    /// Whether worker `w`, searching, can see work: in its own queue, or (stealing) in any.
    /// The model's `sees_work`. SeqCst loads: after the worker's fence, the Dekker loads.
    fn sees_work(&self, w: usize) -> bool {
        if self.steals() {
            self.slots.iter().any(|s| s.len.load(Ordering::SeqCst) > 0)
        } else {
            self.slots[w].len.load(Ordering::SeqCst) > 0
        }
    }

    /// Pops the oldest task of `victim`'s queue for worker `w` (its own when `victim == w`),
    /// recording a `Take` or `Steal`; the worker is then `Found`.
    fn take_from(&self, w: usize, victim: usize) -> Option<Job> {
        let slot = &self.slots[victim];
        // Relaxed: an empty hint skips the lock; a stale non-zero is re-checked under it.
        if slot.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut queue = lock(&slot.queue);
        let mut log = self.log();
        // The model's guard on a steal: the thief's own queue is empty. Under the log lock
        // (when recording) its length cannot change, so a recorded `Steal` is one the model
        // enables; otherwise a task placed on it meanwhile is taken at the next step anyway.
        if victim != w && self.slots[w].len.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let was_full = queue.len() >= self.capacity;
        let job = queue.pop_front()?;
        // Relaxed: see `place`; the handshakes are made by the fences.
        slot.len.store(queue.len(), Ordering::Relaxed);
        // SeqCst: a notifier's phase load after its fence must see the worker as searching
        // until `stop_searching` (found counts as searching).
        self.slots[w].phase.store(FOUND, Ordering::SeqCst);
        record(
            &mut log,
            if victim == w {
                Event::Take {
                    worker: w,
                    task: job.id,
                }
            } else {
                Event::Steal {
                    worker: w,
                    victim,
                    task: job.id,
                }
            },
        );
        drop(log);
        drop(queue);
        if was_full {
            self.made_room();
        }
        Some(job)
    }

    /// One step of worker `w`, whose taken task (phase found or running) is in `held`.
    fn step(&self, w: usize, held: &mut Option<Job>) -> Step {
        let slot = &self.slots[w];
        // Acquire: pairs with a notifier's swap to searching (see `wake`).
        let phase = slot.phase.load(Ordering::Acquire);
        // Relaxed: `shutdown` is followed by a wake-up of every worker under its sleep lock;
        // a worker that misses it here reads it in `park`, and the pool waits for it.
        if !matches!(phase, FOUND | RUNNING) && self.shutdown.load(Ordering::Relaxed) {
            return Step::Exit;
        }
        match phase {
            SEARCHING => self.search(w, held),
            CHECKED if self.has(Deviation::LostWakeup) => {
                let mut log = self.log();
                // SeqCst: as every phase write a notifier reads after its fence. No notifier
                // swaps a checked worker, so a plain store would do; the swap keeps the
                // word's protocol uniform.
                if slot
                    .phase
                    .compare_exchange(CHECKED, PARKED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    return Step::Idle;
                }
                record(&mut log, Event::Park { worker: w });
                Step::Parked
            }
            CHECKED => {
                let mut log = self.log();
                // SeqCst: the store of the Dekker handshake (pairs with the fence in `place`
                // through the fence in `recheck`).
                slot.phase.store(REGISTERED, Ordering::SeqCst);
                record(&mut log, Event::Register { worker: w });
                Step::Registered
            }
            REGISTERED => self.recheck(w),
            PARKED => Step::Idle,
            FOUND => self.stop_searching(w),
            _ => {
                let job = held.take().expect("a running worker holds its task");
                if catch_unwind(AssertUnwindSafe(job.run)).is_err() {
                    // Relaxed: a statistic, read after the workers are joined or as a hint.
                    self.panicked.fetch_add(1, Ordering::Relaxed);
                }
                let mut log = self.log();
                // SeqCst: notifiers read it after their fence (a searching worker will look
                // at the queues again).
                slot.phase.store(SEARCHING, Ordering::SeqCst);
                record(
                    &mut log,
                    Event::Finish {
                        worker: w,
                        task: job.id,
                    },
                );
                Step::Finished { task: job.id }
            }
        }
    }

    /// A searching worker: its own queue, then (stealing) the others' from the next index on;
    /// finding nothing anywhere, it is checked.
    fn search(&self, w: usize, held: &mut Option<Job>) -> Step {
        let n = self.workers();
        let victims: &mut dyn Iterator<Item = usize> = if self.steals() {
            &mut (0..n).map(|k| (w + k) % n)
        } else {
            &mut std::iter::once(w)
        };
        for victim in victims {
            if let Some(job) = self.take_from(w, victim) {
                let task = job.id;
                *held = Some(job);
                return Step::Took {
                    task,
                    victim: (victim != w).then_some(victim),
                };
            }
        }
        let mut log = self.log();
        // Under the log lock (when recording) the lengths cannot change, so `Search` is
        // recorded only when the model would enable it. Otherwise a task placed meanwhile is
        // found by the re-check before parking.
        if self.sees_work(w) {
            return Step::Idle;
        }
        // SeqCst: notifiers read it after their fence; checked still counts as searching.
        self.slots[w].phase.store(CHECKED, Ordering::SeqCst);
        record(&mut log, Event::Search { worker: w });
        Step::Searched
    }

    /// A registered worker checks every queue once more, after the fence that pairs with
    /// the producers': work seen, it searches; none, it parks.
    fn recheck(&self, w: usize) -> Step {
        // SeqCst fence: pairs with the fence in `place` (after the push, before the phase
        // loads). The registration store precedes this fence; the length loads follow it:
        // either they see the producer's push, or the producer's phase load sees this
        // worker registered and wakes it.
        fence(Ordering::SeqCst);
        let mut log = self.log();
        let found = self.sees_work(w);
        let to = if found { SEARCHING } else { PARKED };
        // SeqCst: fails if a notifier already swapped it to searching (then the notifier's
        // `Notify` is this worker's wake-up, and this re-check has no effect).
        if self.slots[w]
            .phase
            .compare_exchange(REGISTERED, to, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Step::Idle;
        }
        record(&mut log, Event::Recheck { worker: w, found });
        Step::Rechecked { found }
    }

    /// A worker that took a task stops searching; if it was the last searcher and some queue
    /// holds work, it wakes the lowest-numbered sleeper (tokio's
    /// `transition_worker_from_searching`). The model's `StopSearching` and `hands_off`.
    fn stop_searching(&self, w: usize) -> Step {
        let mut log = self.log();
        // SeqCst store, then a SeqCst fence: pairs with the fence in `place`. Either the
        // producer's phase loads see this worker no longer searching (and it wakes a sleeper
        // itself), or the length loads below see its push.
        self.slots[w].phase.store(RUNNING, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let woke = if self.has(Deviation::NoLastSearcherWakeup) {
            None
        } else {
            self.hand_off(w)
        };
        record(&mut log, Event::StopSearching { worker: w, woke });
        drop(log);
        if let Some(o) = woke {
            self.unpark(o);
        }
        Step::StoppedSearching { woke }
    }

    fn hand_off(&self, w: usize) -> Option<usize> {
        loop {
            let others_search = self
                .slots
                .iter()
                .enumerate()
                .any(|(i, s)| i != w && searching(s.phase.load(Ordering::SeqCst)));
            let work_left = self.slots.iter().any(|s| s.len.load(Ordering::SeqCst) > 0);
            if others_search || !work_left {
                return None;
            }
            match self.first_asleep() {
                Some((o, p)) if self.wake(o, p) => return Some(o),
                Some(_) => continue,
                None => return None,
            }
        }
    }

    /// Blocks a parked worker until a notifier swaps its phase or the pool shuts down.
    fn park(&self, w: usize) {
        let slot = &self.slots[w];
        let mut guard = lock(&slot.sleep);
        // Acquire: pairs with the notifier's swap (`wake`). Read under the sleep lock, which
        // the notifier takes after its swap, so the wake-up cannot fall between this load
        // and the wait. Relaxed for `shutdown`: `shutdown` takes this lock after setting it.
        while slot.phase.load(Ordering::Acquire) == PARKED && !self.shutdown.load(Ordering::Relaxed)
        {
            guard = slot.wake.wait(guard).expect("a sleep lock is poisoned");
        }
    }

    /// Refuses new tasks and wakes every worker and waiting producer.
    fn begin_shutdown(&self) -> bool {
        // SeqCst: a single flag read under locks that are taken after it is set (each queue's,
        // `room`'s, each sleep lock), which order it for every reader that matters.
        if self.shutdown.swap(true, Ordering::SeqCst) {
            return false;
        }
        drop(lock(&self.room));
        self.room_cv.notify_all();
        for slot in self.slots.iter() {
            drop(lock(&slot.sleep));
            slot.wake.notify_all();
        }
        true
    }

    /// Every task left in a queue (after the workers have stopped), oldest first per queue.
    fn drain(&self) -> Vec<Task> {
        let mut out = Vec::new();
        for slot in self.slots.iter() {
            let mut queue = lock(&slot.queue);
            out.extend(queue.drain(..).map(|j| j.run));
            slot.len.store(0, Ordering::Relaxed);
        }
        out
    }
}

/// Without the `deviations` feature `Deviation` does not exist; this stands in for it so that
/// `has(Deviation::X)` compiles to `false` everywhere.
#[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
#[derive(Clone, Copy)]
enum NoDeviation {
    RoundRobinToStalledWorker,
    NoBackpressure,
    LostWakeup,
    StaleLoadInfo,
    NoLastSearcherWakeup,
}

#[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
use NoDeviation as Deviation;

/// The index of the first smallest value.
fn argmin(values: &[usize]) -> usize {
    let min = values.iter().copied().min().unwrap_or(0);
    values.iter().position(|&v| v == min).unwrap_or(0)
}

/// Settings of a [`Pool`] (or a [`SteppedPool`]).
#[derive(Clone, Debug)]
pub struct PoolBuilder {
    workers: usize,
    capacity: usize,
    placement: Placement,
    record: bool,
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    deviation: Option<Deviation>,
}

impl Default for PoolBuilder {
    fn default() -> PoolBuilder {
        PoolBuilder {
            workers: 4,
            capacity: 256,
            placement: Placement::RoundRobin,
            record: false,
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation: None,
        }
    }
}

impl PoolBuilder {
    /// Worker threads, 1..=[`MAX_WORKERS`] (default 4).
    pub fn workers(mut self, workers: usize) -> PoolBuilder {
        self.workers = workers;
        self
    }

    /// Tasks one worker's queue may hold, at least 1 (default 256).
    pub fn capacity(mut self, capacity: usize) -> PoolBuilder {
        self.capacity = capacity;
        self
    }

    /// How tasks are placed (default round-robin).
    pub fn placement(mut self, placement: Placement) -> PoolBuilder {
        self.placement = placement;
        self
    }

    /// Keeps an event log ([`Pool::events`]); default off. It grows without bound and
    /// serializes the pool: for tests and traces.
    pub fn record(mut self, on: bool) -> PoolBuilder {
        self.record = on;
        self
    }

    /// Switches a protocol bug on (tests only).
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    pub fn deviation(mut self, deviation: Option<Deviation>) -> PoolBuilder {
        self.deviation = deviation;
        self
    }

    fn shared(&self) -> Result<Arc<Shared>, BuildError> {
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(BuildError::Workers {
                workers: self.workers,
                max: MAX_WORKERS,
            });
        }
        if self.capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        let slots = (0..self.workers)
            .map(|_| Slot {
                queue: Mutex::new(VecDeque::with_capacity(self.capacity.min(4096))),
                len: AtomicUsize::new(0),
                phase: AtomicU8::new(SEARCHING),
                sleep: Mutex::new(()),
                wake: Condvar::new(),
            })
            .collect();
        Ok(Arc::new(Shared {
            slots,
            capacity: self.capacity,
            placement: self.placement,
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation: self.deviation,
            placer: Mutex::new(Placer {
                turn: 0,
                next: 0,
                view: vec![0; self.workers],
            }),
            room_gen: AtomicU64::new(0),
            room: Mutex::new(()),
            room_cv: Condvar::new(),
            shutdown: AtomicBool::new(false),
            panicked: AtomicUsize::new(0),
            log: self.record.then(|| Mutex::new(Vec::new())),
        }))
    }

    /// Starts the pool's worker threads.
    ///
    /// # Errors
    /// [`BuildError`] if `workers` or `capacity` is out of range.
    ///
    /// # Panics
    /// If the operating system cannot start a thread (as `thread::spawn`).
    pub fn build(self) -> Result<Pool, BuildError> {
        let shared = self.shared()?;
        let handles = (0..self.workers)
            .map(|w| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || run_worker(&shared, w))
            })
            .collect();
        Ok(Pool {
            shared,
            handles: Mutex::new(handles),
        })
    }

    /// A pool with the same queues and protocol but no threads: the caller steps each worker
    /// ([`SteppedPool::step`]).
    ///
    /// # Errors
    /// [`BuildError`] if `workers` or `capacity` is out of range.
    pub fn build_stepped(self) -> Result<SteppedPool, BuildError> {
        let shared = self.shared()?;
        Ok(SteppedPool {
            held: (0..self.workers).map(|_| None).collect(),
            shared,
        })
    }
}

/// A worker thread: steps until the pool shuts down, blocking while parked.
fn run_worker(shared: &Shared, w: usize) {
    let mut held = None;
    loop {
        match shared.step(w, &mut held) {
            Step::Exit => return,
            Step::Parked | Step::Rechecked { found: false } | Step::Idle => {
                // Acquire: pairs with a notifier's swap (see `wake`).
                if shared.slots[w].phase.load(Ordering::Acquire) == PARKED {
                    shared.park(w);
                } else {
                    // A lost race (a queue emptied under it): let others run. Under shuttle
                    // this is also what keeps a spinning searcher from starving the thread
                    // it waits for.
                    thread::yield_now();
                }
            }
            _ => {}
        }
    }
}

/// A work-stealing thread pool with bounded queues and backpressure (see the [module
/// docs](self)).
pub struct Pool {
    shared: Arc<Shared>,
    handles: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.shared.workers())
            .field("capacity", &self.shared.capacity)
            .field("placement", &self.shared.placement)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A builder with the defaults: 4 workers, capacity 256, round-robin, no event log.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// Places `task` on the queue the placement chooses, waiting while that queue is full.
    ///
    /// # Errors
    /// [`SubmitError::ShutDown`] (with the task) once [`shutdown`](Pool::shutdown) has begun.
    pub fn submit(&self, task: impl FnOnce() + Send + 'static) -> Result<(), SubmitError> {
        self.shared
            .place(Box::new(task), true)
            .map_err(|e| SubmitError::ShutDown(e.into_task()))
    }

    /// Places `task` if the queue the placement chooses has room.
    ///
    /// # Errors
    /// [`TrySubmitError::Full`] (with the task) if that queue is full;
    /// [`TrySubmitError::ShutDown`] once [`shutdown`](Pool::shutdown) has begun.
    pub fn try_submit(&self, task: impl FnOnce() + Send + 'static) -> Result<(), TrySubmitError> {
        self.shared.place(Box::new(task), false)
    }

    /// Stops the pool: refuses new tasks, lets each worker finish the task it took, waits for
    /// the workers, and returns every accepted task no worker took (per queue, oldest first,
    /// queues in worker order). A second call returns an empty `Vec`.
    pub fn shutdown(&self) -> Vec<Task> {
        if !self.shared.begin_shutdown() {
            return Vec::new();
        }
        let handles = std::mem::take(&mut *lock(&self.handles));
        for h in handles {
            // A worker catches its tasks' panics, so its thread ends normally.
            h.join().expect("a pool worker thread panicked");
        }
        self.shared.drain()
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.shared.workers()
    }

    /// Each worker's phase now (a snapshot, stale as soon as it is read).
    pub fn phases(&self) -> Vec<Phase> {
        phases(&self.shared)
    }

    /// Each worker's queue length now (a snapshot).
    pub fn queue_lengths(&self) -> Vec<usize> {
        queue_lengths(&self.shared)
    }

    /// How many tasks panicked (each panic is caught; its worker went on).
    pub fn panicked(&self) -> usize {
        self.shared.panicked.load(Ordering::Relaxed)
    }

    /// The event log so far (empty unless built with [`PoolBuilder::record`]).
    pub fn events(&self) -> Vec<Event> {
        events(&self.shared)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.shutdown());
    }
}

fn phases(shared: &Shared) -> Vec<Phase> {
    shared
        .slots
        .iter()
        .map(|s| phase_of(s.phase.load(Ordering::SeqCst)))
        .collect()
}

fn queue_lengths(shared: &Shared) -> Vec<usize> {
    shared.slots.iter().map(|s| lock(&s.queue).len()).collect()
}

fn events(shared: &Shared) -> Vec<Event> {
    shared
        .log
        .as_ref()
        .map(|l| lock(l).clone())
        .unwrap_or_default()
}

/// A [`Pool`] without threads: the caller performs each worker's steps, so a run is
/// deterministic. Built by [`PoolBuilder::build_stepped`]. Tasks run on the caller's thread,
/// in the step that finishes them.
pub struct SteppedPool {
    shared: Arc<Shared>,
    held: Vec<Option<Job>>,
}

impl fmt::Debug for SteppedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SteppedPool")
            .field("workers", &self.shared.workers())
            .field("phases", &self.phases())
            .field("queue_lengths", &self.queue_lengths())
            .finish_non_exhaustive()
    }
}

impl SteppedPool {
    /// As [`Pool::try_submit`] (there is no blocking `submit`: nothing would make room
    /// while the caller waits).
    ///
    /// # Errors
    /// As [`Pool::try_submit`].
    pub fn try_submit(&self, task: impl FnOnce() + Send + 'static) -> Result<(), TrySubmitError> {
        self.shared.place(Box::new(task), false)
    }

    /// Performs worker `w`'s next step (running its task, if that is the step).
    ///
    /// # Panics
    /// If `w` is not a worker index.
    pub fn step(&mut self, w: usize) -> Step {
        assert!(w < self.shared.workers(), "no worker {w}");
        self.shared.step(w, &mut self.held[w])
    }

    /// As [`Pool::shutdown`]; a task a worker has taken (found, not yet run) is returned too,
    /// since no thread will run it.
    pub fn shutdown(&mut self) -> Vec<Task> {
        self.shared.begin_shutdown();
        let mut out: Vec<Task> = self
            .held
            .iter_mut()
            .filter_map(|h| h.take().map(|j| j.run))
            .collect();
        out.extend(self.shared.drain());
        out
    }

    /// As [`Pool::phases`].
    pub fn phases(&self) -> Vec<Phase> {
        phases(&self.shared)
    }

    /// As [`Pool::queue_lengths`].
    pub fn queue_lengths(&self) -> Vec<usize> {
        queue_lengths(&self.shared)
    }

    /// As [`Pool::events`].
    pub fn events(&self) -> Vec<Event> {
        events(&self.shared)
    }
}
