//! The pool's scenarios, written once: producers submit tasks into a pool, one task may stall
//! its worker (it blocks on a gate that opens only after every other accepted task has run),
//! and a watchdog (the test's own thread) opens the gate, notices when nothing moves any
//! more, shuts the pool down and checks the run.
//!
//! The same code runs on std threads and under shuttle (the sync facade picks the engine).
//! What is checked, on every run:
//! - `EveryTaskRunsExactlyOnce`: every accepted task ran exactly once or was returned by
//!   `shutdown`, never both; a refused task neither ran nor came back.
//! - `NothingRunsAfterShutdown`: no task started after `shutdown` returned.
//! - `EveryTaskEventuallyRuns`: before shutdown, every accepted task ran and every producer
//!   finished (the watchdog gives up after a stretch without progress).
//! - On the event log (the model's vocabulary), replayed on queues of task numbers:
//!   `QueueWithinCapacity`, `BoundedImbalance` (least-loaded placements only, k = 0), and
//!   that the log itself is coherent (a task is taken only from the queue it is in).
//! - Conformance (`ConformsToModel`): the log replayed on the `stealing` model
//!   (`coordlab_checks::conform::stealing`), of the deviation's variant, must be one of its
//!   behaviours — for every run the model can express (one producer that only submits or
//!   only tries, within the model's bounds; see [`conformance_config`]).

// The shuttle searches use the report's lookups and the log rendering.
#![cfg_attr(not(shuttle), allow(dead_code))]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use coordlab_checks::conform::Verdict;
use coordlab_checks::conform::stealing::{
    MAX_TASKS, Placement as ModelPlacement, RunConfig, StealingConformance, Submit,
};
use coordlab_impls::pool::{Deviation, Event, Phase, Placement, Pool, SubmitError, TrySubmitError};
use coordlab_impls::sync::{Arc, Condvar, Mutex, thread};
use serde::{Deserialize, Serialize};

/// The property names, the model's where the model has one.
pub mod property {
    pub const EXACTLY_ONCE: &str = "EveryTaskRunsExactlyOnce";
    pub const WITHIN_CAPACITY: &str = "QueueWithinCapacity";
    pub const BOUNDED_IMBALANCE: &str = "BoundedImbalance";
    pub const EVENTUALLY_RUNS: &str = "EveryTaskEventuallyRuns";
    pub const NOTHING_AFTER_SHUTDOWN: &str = "NothingRunsAfterShutdown";
    /// The event log is a behaviour of the `stealing` model (of the deviation's variant).
    pub const CONFORMS: &str = "ConformsToModel";
}

/// How a producer submits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `submit`: waits for room.
    Blocking,
    /// `try_submit`: a refused task is dropped and the producer tries again with a new one.
    Try,
    /// Alternately `submit` and `try_submit`.
    Mixed,
}

/// One run's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Scenario {
    pub workers: usize,
    pub capacity: usize,
    pub placement: Placement,
    /// One mode per producer thread.
    pub producers: Vec<Mode>,
    /// Tasks each producer gets accepted (a refused attempt does not count).
    pub tasks: usize,
    /// Producer 0's task with this index (its attempt with this index: with blocking
    /// submission, the same) stalls its worker until every other accepted task has run.
    pub stall: Option<usize>,
    pub deviation: Option<Deviation>,
    /// Watchdog polls without progress before it declares the run stuck.
    pub patience: usize,
    /// Shut the pool down as soon as this many tasks are accepted, without waiting for them
    /// (then `EveryTaskEventuallyRuns` is not checked: `shutdown` returns what is left).
    pub shutdown_at: Option<usize>,
}

/// A violated property.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub property: String,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} violated: {}", self.property, self.detail)
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub accepted: usize,
    pub refused: usize,
    pub ran: usize,
    pub returned: usize,
    /// The phases and queue lengths the watchdog saw when it gave up, if it did.
    pub stuck_at: Option<String>,
    pub violations: Vec<Violation>,
    pub events: Vec<Event>,
}

impl Report {
    /// The first violation of `property`, if any.
    pub fn violation(&self, property: &str) -> Option<&Violation> {
        self.violations.iter().find(|v| v.property == property)
    }
}

/// What the tasks share with the watchdog. Labels number the task closures (refused
/// attempts included) in the order their producers made them: producer `p`'s `i`-th closure
/// is `p * LABELS + i`.
#[derive(Default)]
struct Book {
    /// Per label: accepted (`Some(true)`) or refused (`Some(false)`).
    fate: BTreeMap<usize, bool>,
    started: BTreeMap<usize, u32>,
    ran: BTreeMap<usize, u32>,
    returned: BTreeMap<usize, u32>,
    accepted: usize,
    completed: usize,
    producers_done: usize,
    after_shutdown: bool,
    draining: bool,
    late: usize,
}

struct Ledger {
    book: Mutex<Book>,
    gate: Mutex<bool>,
    gate_cv: Condvar,
    stall_label: Option<usize>,
}

impl Ledger {
    fn book(&self) -> coordlab_impls::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap()
    }

    fn task(self: &Arc<Self>, label: usize) -> impl FnOnce() + Send + 'static {
        let ledger = Arc::clone(self);
        move || {
            {
                let mut book = ledger.book();
                if book.draining {
                    *book.returned.entry(label).or_default() += 1;
                    return;
                }
                if book.after_shutdown {
                    book.late += 1;
                }
                *book.started.entry(label).or_default() += 1;
            }
            if ledger.stall_label == Some(label) {
                let mut open = ledger.gate.lock().unwrap();
                while !*open {
                    open = ledger.gate_cv.wait(open).unwrap();
                }
            }
            let mut book = ledger.book();
            *book.ran.entry(label).or_default() += 1;
            book.completed += 1;
        }
    }

    fn open_gate(&self) {
        *self.gate.lock().unwrap() = true;
        self.gate_cv.notify_all();
    }

    fn gate_open(&self) -> bool {
        *self.gate.lock().unwrap()
    }
}

/// Labels per producer (attempts included); a producer that would need more stops.
const LABELS: usize = 1 << 20;

fn produce(pool: &Pool, ledger: &Arc<Ledger>, p: usize, mode: Mode, tasks: usize) {
    let mut attempt = 0;
    for i in 0..tasks {
        loop {
            if attempt == LABELS {
                return;
            }
            let label = p * LABELS + attempt;
            attempt += 1;
            let task = ledger.task(label);
            let blocking = match mode {
                Mode::Blocking => true,
                Mode::Try => false,
                Mode::Mixed => i % 2 == 0,
            };
            let outcome = if blocking {
                pool.submit(task).map_err(|SubmitError::ShutDown(_)| false)
            } else {
                pool.try_submit(task).map_err(|e| match e {
                    TrySubmitError::Full { .. } => true,
                    TrySubmitError::ShutDown(_) => false,
                })
            };
            match outcome {
                Ok(()) => {
                    let mut book = ledger.book();
                    book.fate.insert(label, true);
                    book.accepted += 1;
                    break;
                }
                Err(true) => {
                    // Refused: the task came back and is dropped here; a new one is tried.
                    ledger.book().fate.insert(label, false);
                    thread::yield_now();
                }
                Err(false) => return,
            }
        }
    }
}

/// How the watchdog waits between polls.
fn pause() {
    #[cfg(shuttle)]
    thread::yield_now();
    #[cfg(not(shuttle))]
    thread::sleep(std::time::Duration::from_millis(1));
}

/// Runs `scenario` once and checks it.
pub fn run(scenario: &Scenario) -> Report {
    let producers = scenario.producers.len();
    let ledger = Arc::new(Ledger {
        book: Mutex::new(Book::default()),
        gate: Mutex::new(false),
        gate_cv: Condvar::new(),
        stall_label: scenario.stall,
    });
    let pool = Arc::new(
        Pool::builder()
            .workers(scenario.workers)
            .capacity(scenario.capacity)
            .placement(scenario.placement)
            .record(true)
            .deviation(scenario.deviation)
            .build()
            .expect("valid settings"),
    );
    let handles: Vec<_> = scenario
        .producers
        .iter()
        .enumerate()
        .map(|(p, &mode)| {
            let (pool, ledger, tasks) = (Arc::clone(&pool), Arc::clone(&ledger), scenario.tasks);
            thread::spawn(move || {
                produce(&pool, &ledger, p, mode, tasks);
                ledger.book().producers_done += 1;
            })
        })
        .collect();

    // The watchdog.
    let mut stuck_at = None;
    let mut last = (usize::MAX, usize::MAX);
    let mut idle = 0;
    loop {
        let (accepted, completed, done, stalled) = {
            let book = ledger.book();
            let stalled = ledger
                .stall_label
                .is_some_and(|s| book.started.contains_key(&s) && !book.ran.contains_key(&s));
            (
                book.accepted,
                book.completed,
                book.producers_done == producers,
                stalled,
            )
        };
        if done && completed == accepted {
            break;
        }
        if scenario.shutdown_at.is_some_and(|n| accepted >= n) {
            break;
        }
        if done && stalled && completed + 1 == accepted && !ledger.gate_open() {
            ledger.open_gate();
        }
        if (accepted, completed) == last {
            idle += 1;
            if idle >= scenario.patience {
                stuck_at = Some((snapshot(&pool), pool.events()));
                break;
            }
        } else {
            last = (accepted, completed);
            idle = 0;
        }
        pause();
    }
    ledger.open_gate();
    let returned = pool.shutdown();
    ledger.book().after_shutdown = true;
    for h in handles {
        h.join().expect("a producer panicked");
    }
    let events = pool.events();
    let n_returned = returned.len();
    ledger.book().draining = true;
    for task in returned {
        task();
    }
    check(scenario, &ledger, events, stuck_at, n_returned)
}

/// The pool's phases and queue lengths, in words.
fn snapshot(pool: &Pool) -> String {
    let phases = pool.phases();
    let lengths = pool.queue_lengths();
    phases
        .iter()
        .zip(&lengths)
        .enumerate()
        .map(|(w, (p, l))| {
            let p = match p {
                Phase::Searching => "searching",
                Phase::Checked => "checked",
                Phase::Registered => "registered",
                Phase::Parked => "parked",
                Phase::Found => "found",
                Phase::Running => "running",
            };
            format!("worker {w} {p} with {l} queued")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check(
    scenario: &Scenario,
    ledger: &Ledger,
    events: Vec<Event>,
    stuck_at: Option<(String, Vec<Event>)>,
    n_returned: usize,
) -> Report {
    let mut violations = Vec::new();
    let mut add = |property: &str, detail: String| {
        violations.push(Violation {
            property: property.to_owned(),
            detail,
        });
    };
    let book = ledger.book();
    let (mut accepted, mut refused) = (0, 0);
    let ran: usize = book.ran.values().map(|&n| n as usize).sum();
    let returned: usize = book.returned.values().map(|&n| n as usize).sum();
    let mut wrong = Vec::new();
    let labels: std::collections::BTreeSet<usize> = book
        .fate
        .keys()
        .chain(book.started.keys())
        .chain(book.returned.keys())
        .copied()
        .collect();
    for label in labels {
        let get = |m: &BTreeMap<usize, u32>| m.get(&label).copied().unwrap_or(0);
        let (s, r, b) = (get(&book.started), get(&book.ran), get(&book.returned));
        let name = format!("producer {}'s attempt {}", label / LABELS, label % LABELS);
        match book.fate.get(&label) {
            Some(true) => {
                accepted += 1;
                if s + b != 1 || r != s {
                    wrong.push(format!("{name} started {s}, ran {r}, returned {b} times"));
                }
            }
            Some(false) => {
                refused += 1;
                if s + b != 0 {
                    wrong.push(format!(
                        "{name} was refused but started {s}, returned {b} times"
                    ));
                }
            }
            None => {
                if s + b != 0 {
                    wrong.push(format!(
                        "{name} was never accepted but started {s}, returned {b} times"
                    ));
                }
            }
        }
    }
    if !wrong.is_empty() {
        add(property::EXACTLY_ONCE, wrong.join(", "));
    }
    if n_returned != returned {
        add(
            property::EXACTLY_ONCE,
            format!(
                "shutdown returned {n_returned} tasks, of which {returned} were accepted tasks"
            ),
        );
    }
    let late = book.late;
    drop(book);
    if late > 0 {
        add(
            property::NOTHING_AFTER_SHUTDOWN,
            format!("{late} tasks started after shutdown returned"),
        );
    }
    let replay = replay_log(scenario, &events);
    if let Some(detail) = &replay.incoherent {
        add(
            property::EXACTLY_ONCE,
            format!("the event log is incoherent: {detail}"),
        );
    }
    if let Some(detail) = replay.over_capacity {
        add(property::WITHIN_CAPACITY, detail);
    }
    if let Some(detail) = replay.imbalance {
        add(property::BOUNDED_IMBALANCE, detail);
    }
    // A stuck run reports the log as it was when the watchdog gave up (the stalled task
    // finishes during the shutdown that follows).
    let (stuck_at, events) = match stuck_at {
        Some((at, log)) => (Some(at), log),
        None => (None, events),
    };
    if let Some(at) = &stuck_at {
        let replay = replay_log(scenario, &events);
        let mut detail = String::new();
        for (w, q) in replay.queues.iter().enumerate() {
            if !q.is_empty() {
                let tasks: Vec<String> = q.iter().map(|t| format!("t{t}")).collect();
                let _ = write!(
                    detail,
                    "{} never {} in worker {w}'s queue, ",
                    tasks.join(", "),
                    if q.len() == 1 { "runs" } else { "run" }
                );
            }
        }
        if let Some((w, t)) = replay.running.iter().find(|(_, t)| t.is_some()) {
            let _ = write!(detail, "worker {w} is stalled in t{}, ", t.unwrap_or(0));
        }
        let _ = write!(detail, "and nothing moved any more ({at})");
        add(property::EVENTUALLY_RUNS, detail);
    }
    if let Some(config) = conformance_config(scenario) {
        let variant = scenario.deviation.map_or("correct", Deviation::id);
        match coordlab_checks::conform::conform::<StealingConformance>(&config, variant, &events) {
            Ok(Verdict::Conforms { .. }) => {}
            Ok(Verdict::Diverges(d)) => add(property::CONFORMS, d.to_string()),
            Err(e) => add(
                property::CONFORMS,
                format!("the log cannot be checked: {e}"),
            ),
        }
    }
    Report {
        accepted,
        refused,
        ran,
        returned,
        stuck_at,
        violations,
        events,
    }
}

/// The run's configuration as the `stealing` model's conformance mapping reads it, if the
/// model can express the run: one producer that only submits or only tries, at most 64
/// tasks, 2 to 4 workers, queues of 1 to 3 (the model's bounds).
pub fn conformance_config(scenario: &Scenario) -> Option<RunConfig> {
    let [mode] = scenario.producers[..] else {
        return None;
    };
    let submit = match mode {
        Mode::Blocking => Submit::Blocking,
        Mode::Try => Submit::Try,
        Mode::Mixed => return None,
    };
    let fits = (2..=4).contains(&scenario.workers)
        && (1..=3).contains(&scenario.capacity)
        && scenario.tasks <= MAX_TASKS;
    fits.then_some(RunConfig {
        workers: scenario.workers,
        capacity: scenario.capacity,
        placement: match scenario.placement {
            Placement::RoundRobin => ModelPlacement::RoundRobin,
            Placement::LeastLoaded => ModelPlacement::LeastLoaded,
        },
        submit,
        producers: 1,
    })
}

/// The event log replayed on queues of task numbers.
struct Replay {
    queues: Vec<Vec<u64>>,
    /// The task each worker took and has not finished.
    running: BTreeMap<usize, Option<u64>>,
    over_capacity: Option<String>,
    imbalance: Option<String>,
    incoherent: Option<String>,
}

fn replay_log(scenario: &Scenario, events: &[Event]) -> Replay {
    let mut r = Replay {
        queues: vec![Vec::new(); scenario.workers],
        running: (0..scenario.workers).map(|w| (w, None)).collect(),
        over_capacity: None,
        imbalance: None,
        incoherent: None,
    };
    let mut next = 0;
    for (i, e) in events.iter().enumerate() {
        let step = i + 1;
        let lengths: Vec<usize> = r.queues.iter().map(Vec::len).collect();
        let min = lengths.iter().copied().min().unwrap_or(0);
        let placed_on = match *e {
            Event::Submit { worker, .. } | Event::Block { worker } | Event::Refuse { worker } => {
                Some(worker)
            }
            _ => None,
        };
        if let Some(w) = placed_on
            && scenario.placement == Placement::LeastLoaded
            && lengths[w] > min
            && r.imbalance.is_none()
        {
            r.imbalance = Some(format!(
                "at step {step} a least-loaded placement chose worker {w}'s queue of {}, {} longer than the shortest (lengths {lengths:?})",
                lengths[w],
                lengths[w] - min
            ));
        }
        let take = |r: &mut Replay, from: usize, task: u64, worker: usize| {
            match r.queues[from].iter().position(|&t| t == task) {
                Some(at) => {
                    r.queues[from].remove(at);
                }
                None => {
                    r.incoherent.get_or_insert(format!(
                        "step {step}: t{task} taken from worker {from}'s queue, which does not hold it"
                    ));
                }
            }
            r.running.insert(worker, Some(task));
        };
        match *e {
            Event::Submit { task, worker } => {
                if task != next {
                    r.incoherent
                        .get_or_insert(format!("step {step}: t{task} accepted, expected t{next}"));
                }
                next = task + 1;
                r.queues[worker].push(task);
                if r.queues[worker].len() > scenario.capacity && r.over_capacity.is_none() {
                    r.over_capacity = Some(format!(
                        "at step {step} worker {worker}'s queue holds {} tasks, above its capacity of {}",
                        r.queues[worker].len(),
                        scenario.capacity
                    ));
                }
            }
            Event::Take { worker, task } => take(&mut r, worker, task, worker),
            Event::Steal {
                worker,
                victim,
                task,
            } => take(&mut r, victim, task, worker),
            Event::Finish { worker, .. } => {
                r.running.insert(worker, None);
            }
            _ => {}
        }
    }
    r
}

/// The events as numbered lines.
pub fn render_events(events: &[Event]) -> String {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{}. {e}\n", i + 1))
        .collect()
}
