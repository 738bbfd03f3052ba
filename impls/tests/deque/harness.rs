//! One deque scenario, written once and run on every engine: the owner (the model's main
//! thread) follows a script of pushes and pops while thieves each make a fixed number of steal
//! attempts; then the owner pops until the deque says it is empty. Tasks are `usize` ids from 1
//! (slots start as word 0, which no push writes).
//!
//! Under loom and shuttle every handle reports its accesses through a recording [`Hook`], and
//! the run's log (accesses and the operations' results, in the order the engine ran them: both
//! run every thread on the test's own OS thread and switch threads only at a sync operation)
//! is checked step by step. On std threads there is no common order, so the checks use each
//! thread's results only.
//!
//! The properties are the `deque` model's:
//! - `NoTaskLostOrDuplicated`: no task is taken twice, and every task whose push succeeded is
//!   taken by the end (the final drain counts).
//! - `TakenOnlyAfterPushed`: every task a pop or steal returns is one whose push has completed
//!   (stored `bottom`) by then; word 0 (a slot no push wrote) never comes out.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use coordlab_impls::deque::{Access, Deviation, Hook, Steal, Worker, deque_with_deviation};
use coordlab_impls::sync::thread;

pub const NO_TASK_LOST_OR_DUPLICATED: &str = "NoTaskLostOrDuplicated";
pub const TAKEN_ONLY_AFTER_PUSHED: &str = "TakenOnlyAfterPushed";

/// One step of the owner's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Push the next task (ids count up from 1; a `Full` push refuses it for good).
    Push,
    /// Pop once.
    Pop,
}

/// What runs.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// The deque's capacity (the ring is its next power of two).
    pub capacity: usize,
    /// The owner's script; after it the owner pops until `None`.
    pub owner: &'static [Op],
    /// For each thief, how many times it calls `steal` (`Retry` and `Empty` count).
    pub thieves: &'static [usize],
    /// The bug switched on, if any.
    pub deviation: Option<Deviation>,
}

impl Scenario {
    /// This scenario with `deviation` switched on.
    #[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
    pub fn with(self, deviation: Deviation) -> Scenario {
        Scenario {
            deviation: Some(deviation),
            ..self
        }
    }

    /// One line: the owner's script and the thieves' attempts.
    pub fn describe(&self) -> String {
        let script: Vec<&str> = self
            .owner
            .iter()
            .map(|op| match op {
                Op::Push => "push",
                Op::Pop => "pop",
            })
            .collect();
        let thieves: Vec<String> = self
            .thieves
            .iter()
            .enumerate()
            .map(|(i, n)| format!("thief {i}: {n} steal{}", if *n == 1 { "" } else { "s" }))
            .collect();
        format!(
            "capacity {}; owner: {}, then pop until empty; {}",
            self.capacity,
            script.join(", "),
            thieves.join("; ")
        )
    }
}

/// Which thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    Owner,
    Thief(usize),
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Owner => f.write_str("owner"),
            Who::Thief(i) => write!(f, "thief {i}"),
        }
    }
}

/// One entry of a run's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A shared-memory access of the deque.
    Access(Access),
    /// A push of the task returned `Ok`.
    Pushed(usize),
    /// A push of the task returned `Full`.
    Full(usize),
    /// A pop returned this.
    Popped(Option<usize>),
    /// A steal returned this.
    Stole(Steal<usize>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub who: Who,
    pub event: Event,
}

thread_local! {
    /// The current run's log (loom and shuttle run all of a run's threads on this OS thread).
    static LOG: RefCell<Vec<Step>> = const { RefCell::new(Vec::new()) };
}

/// Whether this engine gives the run one order to log in.
const LOGGED: bool = cfg!(any(loom, shuttle));

fn record(who: Who, event: Event) {
    if LOGGED {
        LOG.with(|l| l.borrow_mut().push(Step { who, event }));
    }
}

/// The hook every handle of a run reports through.
#[derive(Clone, Copy, Debug)]
pub struct Recorder(pub Who);

impl Hook for Recorder {
    fn after(&self, access: Access) {
        record(self.0, Event::Access(access));
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Report {
    pub scenario: Scenario,
    /// Under loom and shuttle: every step in the order it ran. Empty on std.
    pub steps: Vec<Step>,
    /// The tasks whose push returned `Ok`.
    pub accepted: Vec<usize>,
    /// Every task a pop or steal returned, by whom (on std: grouped by thread).
    pub taken: Vec<(Who, usize)>,
}

/// A property a run broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub property: &'static str,
    /// The 1-based step of the log at which it shows (`None`: at the end, or on std).
    pub step: Option<usize>,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(step) => write!(
                f,
                "{} violated at step {step}: {}",
                self.property, self.message
            ),
            None => write!(f, "{} violated: {}", self.property, self.message),
        }
    }
}

fn pop(worker: &Worker<usize, Recorder>, taken: &mut Vec<(Who, usize)>) -> Option<usize> {
    let got = worker.pop();
    record(Who::Owner, Event::Popped(got));
    if let Some(task) = got {
        taken.push((Who::Owner, task));
    }
    got
}

/// Runs `scenario` once on the current engine (inside `loom::model` or a shuttle runner
/// under those cfgs).
pub fn run(scenario: &Scenario) -> Report {
    LOG.with(|l| l.borrow_mut().clear());
    let (worker, stealer) = deque_with_deviation::<usize>(scenario.capacity, scenario.deviation);
    let worker = worker.with_hook(Recorder(Who::Owner));
    let handles: Vec<_> = scenario
        .thieves
        .iter()
        .enumerate()
        .map(|(i, &attempts)| {
            let stealer = stealer.with_hook(Recorder(Who::Thief(i)));
            thread::spawn(move || {
                let who = Who::Thief(i);
                let steals: Vec<Steal<usize>> = (0..attempts)
                    .map(|_| {
                        let got = stealer.steal();
                        record(who, Event::Stole(got));
                        got
                    })
                    .collect();
                (who, steals)
            })
        })
        .collect();
    drop(stealer);
    let mut next = 1;
    let mut accepted = Vec::new();
    let mut taken = Vec::new();
    for op in scenario.owner {
        match op {
            Op::Push => {
                let task = next;
                next += 1;
                match worker.push(task) {
                    Ok(()) => {
                        record(Who::Owner, Event::Pushed(task));
                        accepted.push(task);
                    }
                    Err(full) => record(Who::Owner, Event::Full(full.into_inner())),
                }
            }
            Op::Pop => {
                pop(&worker, &mut taken);
            }
        }
    }
    for h in handles {
        let (who, got) = h.join().expect("a thief does not panic");
        for s in got {
            if let Steal::Success(task) = s {
                taken.push((who, task));
            }
        }
    }
    // Every thief is done: pop until the deque says it is empty. (A correct deque's pop returns
    // `None` with no race going on only when it is empty.)
    while pop(&worker, &mut taken).is_some() {}
    Report {
        scenario: *scenario,
        steps: LOG.with(|l| std::mem::take(&mut *l.borrow_mut())),
        accepted,
        taken,
    }
}

/// The races a run showed (from its log; none on std).
#[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Race {
    /// The owner lost the last-task CAS to a thief.
    OwnerLostLastTask,
    /// The owner won the last-task CAS.
    OwnerWonLastTask,
    /// A thief stole a task.
    Stolen,
    /// A thief's CAS failed (`Retry`).
    StealRetried,
    /// A push was refused as `Full`.
    PushFull,
    /// A push wrote a slot a second time (its index is at least the ring size).
    SlotReused,
    /// A thief read slot `t mod ring`, the owner then overwrote it with a newer index, and the
    /// thief's CAS failed, discarding what it read: the race the speculative read is about.
    StaleSlotReadDiscarded,
}

impl Report {
    /// Checks the properties; the first violation, in log order.
    pub fn check(&self) -> Result<(), Violation> {
        if LOGGED {
            self.check_log()?;
        } else {
            self.check_results()?;
        }
        let taken: BTreeSet<usize> = self.taken.iter().map(|(_, t)| *t).collect();
        let lost: Vec<usize> = self
            .accepted
            .iter()
            .copied()
            .filter(|t| !taken.contains(t))
            .collect();
        if !lost.is_empty() {
            return Err(Violation {
                property: NO_TASK_LOST_OR_DUPLICATED,
                step: None,
                message: format!(
                    "{} pushed and never taken: after every thread finished the owner's pops \
                     found the deque empty",
                    tasks(&lost)
                ),
            });
        }
        Ok(())
    }

    /// Panics with the first violation and the run's log.
    pub fn assert_ok(&self) {
        if let Err(v) = self.check() {
            panic!("{v}\n{}", self.render_log());
        }
    }

    /// `TakenOnlyAfterPushed` and the duplicate half of `NoTaskLostOrDuplicated`, step by step.
    fn check_log(&self) -> Result<(), Violation> {
        let mut published = BTreeSet::new();
        let mut written: Option<usize> = None;
        let mut taken_at: BTreeMap<usize, (usize, Who)> = BTreeMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            let n = i + 1;
            let task = match step.event {
                Event::Access(Access::WriteSlot { word, .. }) => {
                    written = Some(word);
                    continue;
                }
                Event::Access(Access::StoreBottom { .. }) => {
                    // The store that ends a push publishes its task.
                    if let Some(word) = written.take() {
                        published.insert(word);
                    }
                    continue;
                }
                Event::Popped(Some(task)) | Event::Stole(Steal::Success(task)) => task,
                _ => continue,
            };
            if !published.contains(&task) {
                let what = if task == 0 {
                    "word 0, which no push wrote (the slot as it was before any push)".to_owned()
                } else {
                    format!("task {task}, whose push had not stored `bottom` yet")
                };
                return Err(Violation {
                    property: TAKEN_ONLY_AFTER_PUSHED,
                    step: Some(n),
                    message: format!("{} took {what}", step.who),
                });
            }
            if let Some((first, by)) = taken_at.insert(task, (n, step.who)) {
                return Err(Violation {
                    property: NO_TASK_LOST_OR_DUPLICATED,
                    step: Some(n),
                    message: format!(
                        "task {task} taken twice: by {by} at step {first}, and by {} here",
                        step.who
                    ),
                });
            }
        }
        Ok(())
    }

    /// The checks without an order: every value taken is an accepted task, taken once.
    fn check_results(&self) -> Result<(), Violation> {
        let accepted: BTreeSet<usize> = self.accepted.iter().copied().collect();
        let mut seen = BTreeMap::new();
        for (who, task) in &self.taken {
            if !accepted.contains(task) {
                return Err(Violation {
                    property: TAKEN_ONLY_AFTER_PUSHED,
                    step: None,
                    message: format!("{who} took {task}, which no successful push wrote"),
                });
            }
            if let Some(first) = seen.insert(*task, *who) {
                return Err(Violation {
                    property: NO_TASK_LOST_OR_DUPLICATED,
                    step: None,
                    message: format!("task {task} taken twice: by {first} and by {who}"),
                });
            }
        }
        Ok(())
    }

    /// The races in this run's log.
    #[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
    pub fn races(&self) -> BTreeSet<Race> {
        let ring = self.scenario.capacity.max(1).next_power_of_two();
        let mut races = BTreeSet::new();
        // Per thief: the index of its last slot read, and whether the owner overwrote that slot
        // for a newer index since.
        let mut reading: BTreeMap<Who, (isize, bool)> = BTreeMap::new();
        for step in &self.steps {
            match (step.who, step.event) {
                (
                    Who::Owner,
                    Event::Access(Access::CasTop {
                        expected, found, ..
                    }),
                ) => {
                    races.insert(if expected == found {
                        Race::OwnerWonLastTask
                    } else {
                        Race::OwnerLostLastTask
                    });
                }
                (Who::Owner, Event::Access(Access::WriteSlot { index, .. })) => {
                    if index as usize >= ring {
                        races.insert(Race::SlotReused);
                    }
                    for (read, overwritten) in reading.values_mut() {
                        if index > *read && ((index - *read) as usize).is_multiple_of(ring) {
                            *overwritten = true;
                        }
                    }
                }
                (Who::Owner, Event::Full(_)) => {
                    races.insert(Race::PushFull);
                }
                (thief, Event::Access(Access::ReadSlot { index, .. })) => {
                    reading.insert(thief, (index, false));
                }
                (
                    thief,
                    Event::Access(Access::CasTop {
                        expected, found, ..
                    }),
                ) => {
                    if expected != found {
                        races.insert(Race::StealRetried);
                        if reading.get(&thief).is_some_and(|(_, o)| *o) {
                            races.insert(Race::StaleSlotReadDiscarded);
                        }
                    }
                    reading.remove(&thief);
                }
                (_, Event::Stole(Steal::Success(_))) => {
                    races.insert(Race::Stolen);
                }
                _ => {}
            }
        }
        races
    }

    /// The log as text, one step a line (for failure messages).
    pub fn render_log(&self) -> String {
        let mut out = format!("scenario: {}\n", self.scenario.describe());
        for (i, step) in self.steps.iter().enumerate() {
            let (access, value, ordering) = describe(step.event);
            out.push_str(&format!(
                "{:>3}. {:<8} {access} {value} {ordering}\n",
                i + 1,
                step.who.to_string()
            ));
        }
        out
    }
}

fn tasks(tasks: &[usize]) -> String {
    let names: Vec<String> = tasks.iter().map(|t| format!("task {t}")).collect();
    match names.len() {
        1 => names[0].clone(),
        _ => format!("{} were", names.join(", ")),
    }
}

/// A step in three columns: what was done, the value, and the ordering (empty for the results
/// of operations).
pub fn describe(event: Event) -> (String, String, String) {
    let ord = |o| format!("{o:?}");
    match event {
        Event::Access(a) => match a {
            Access::LoadTop { value, ordering } => {
                ("load `top`".into(), format!("→ {value}"), ord(ordering))
            }
            Access::LoadBottom { value, ordering } => {
                ("load `bottom`".into(), format!("→ {value}"), ord(ordering))
            }
            Access::StoreBottom { value, ordering } => {
                ("store `bottom`".into(), format!("← {value}"), ord(ordering))
            }
            Access::WriteSlot {
                slot,
                index,
                word,
                ordering,
            } => (
                format!("write slot {slot} (index {index})"),
                format!("← task {word}"),
                ord(ordering),
            ),
            Access::ReadSlot {
                slot,
                index,
                word,
                ordering,
            } => (
                format!("read slot {slot} (index {index})"),
                if word == 0 {
                    "→ word 0 (never written)".to_owned()
                } else {
                    format!("→ task {word}")
                },
                ord(ordering),
            ),
            Access::CasTop {
                expected,
                found,
                ordering,
            } => (
                format!("CAS `top` {expected} → {}", expected + 1),
                if expected == found {
                    "ok".to_owned()
                } else {
                    format!("fails: found {found}")
                },
                format!("{ordering:?} (failure Relaxed)"),
            ),
            Access::Fence { ordering } => ("fence".into(), String::new(), ord(ordering)),
        },
        Event::Pushed(task) => (
            format!("push task {task} returns Ok"),
            String::new(),
            String::new(),
        ),
        Event::Full(task) => (
            format!("push task {task} returns Full"),
            String::new(),
            String::new(),
        ),
        Event::Popped(Some(task)) => (
            format!("pop returns task {task}"),
            String::new(),
            String::new(),
        ),
        Event::Popped(None) => ("pop returns None".into(), String::new(), String::new()),
        Event::Stole(Steal::Success(task)) => (
            format!("steal returns Success(task {task})"),
            String::new(),
            String::new(),
        ),
        Event::Stole(Steal::Empty) => ("steal returns Empty".into(), String::new(), String::new()),
        Event::Stole(Steal::Retry) => ("steal returns Retry".into(), String::new(), String::new()),
    }
}

/// The scenarios, shared by loom, shuttle and the std runs.
pub mod scenarios {
    // loom runs the small ones, shuttle the busy one; the std build runs them all.
    #![cfg_attr(any(loom, shuttle), allow(dead_code))]
    use super::{Op, Scenario};

    /// One task: the owner pushes it and pops it while a thief steals once. The last-task race.
    pub const LAST_TASK_RACE: Scenario = Scenario {
        capacity: 2,
        owner: &[Op::Push, Op::Pop],
        thieves: &[1],
        deviation: None,
    };

    /// Two tasks, one pop, a thief stealing twice: the owner's pop and the thief's second
    /// steal can both aim at the second task (the store-buffer race the fences prevent), and
    /// a steal can see `bottom` before the slot (the publication `relaxed-publish` breaks).
    pub const TWO_TASKS_TWO_STEALS: Scenario = Scenario {
        capacity: 2,
        owner: &[Op::Push, Op::Push, Op::Pop],
        thieves: &[2],
        deviation: None,
    };

    /// Capacity 2, four pushes with two pops between: once index 0 is taken (by the thief,
    /// or by the owner's second pop) the fourth push writes index 2 into slot 0, possibly
    /// while the thief still holds what it read there for index 0.
    pub const WRAP_AROUND_SLOW_THIEF: Scenario = Scenario {
        capacity: 2,
        owner: &[Op::Push, Op::Push, Op::Pop, Op::Pop, Op::Push, Op::Push],
        thieves: &[1],
        deviation: None,
    };

    /// Push, pop, push, pop against one steal: after losing the last-task race the owner must
    /// restore `bottom`, or its next push is invisible.
    pub const LOST_RACE_THEN_PUSH: Scenario = Scenario {
        capacity: 2,
        owner: &[Op::Push, Op::Pop, Op::Push, Op::Pop],
        thieves: &[1],
        deviation: None,
    };

    /// Three pushes (the third wraps around capacity 2 if a task was taken, else it is
    /// `Full`) and two pops, against two thieves stealing once each.
    pub const TWO_THIEVES: Scenario = Scenario {
        capacity: 2,
        owner: &[Op::Push, Op::Push, Op::Push, Op::Pop, Op::Pop],
        thieves: &[1, 1],
        deviation: None,
    };

    /// The shuttle and std workload: 8 tasks, capacity 4, the owner pushing in bursts with
    /// pops between, two thieves stealing 6 times each.
    pub const BUSY: Scenario = Scenario {
        capacity: 4,
        owner: &[
            Op::Push,
            Op::Push,
            Op::Push,
            Op::Pop,
            Op::Push,
            Op::Push,
            Op::Push,
            Op::Pop,
            Op::Push,
            Op::Pop,
            Op::Push,
            Op::Pop,
        ],
        thieves: &[6, 6],
        deviation: None,
    };
}
