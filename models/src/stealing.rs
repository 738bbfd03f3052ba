//! A work-stealing pool with bounded queues and backpressure, at the level of tasks and
//! workers.
//!
//! Sources: the scheduler of Blumofe and Leiserson, "Scheduling multithreaded computations by
//! work stealing" (JACM 1999: idle workers steal); rayon's sleep protocol
//! (`rayon-core/src/sleep/README.md`: an idle worker announces itself as sleepy, searches once
//! more, then sleeps; a producer that posts work wakes a sleeper — a Dekker handshake); tokio's
//! multi-threaded scheduler (the notifier skips the wake-up when a worker is searching,
//! "a searcher will find it"; tokio PR #1788 fixed a lost wake-up in that rule).
//!
//! One producer submits `tasks` tasks, t0, t1, … in order. Each of `workers` workers has a
//! queue of at most `capacity` tasks. The producer places each task by a policy
//! (`placement`): `round-robin` (the next worker in turn) or `least-loaded` (a shortest
//! queue, the lowest index on a tie), reading the current lengths. A full target applies
//! backpressure: a blocking `submit` waits for room (`Block`), a `try_submit` is refused
//! (`Refuse`) and the producer tries again later. After placing a task the producer notifies
//! (`Notify`): it wakes the target if it sleeps, else — if no worker is searching — one
//! sleeping worker, the lowest index. A worker takes a task from its own queue, or, finding
//! it empty, steals one from another's; finding nothing anywhere (`Search`), it registers
//! as a sleeper (`Register`), checks once more (`Recheck`) and only then parks. Queues are
//! bags: which queued task a worker takes is its choice, and order is not a property here.
//!
//! Fault model: a worker may stall while it runs a task (a long task, a descheduled thread),
//! at most `max-stalls` times in a behaviour; a stall may last forever (`Stall` and `Resume`
//! are unfair). Everything else is weakly fair: the producer, and each worker. A take or a
//! steal is one atomic step: that they are is what the `deque` protocol checks, one memory
//! access at a time.
//!
//! Out of scope: more than one producer, tasks that spawn tasks, panics, shutdown.
//!
//! Bug variants, each one guard removed:
//! - `round-robin-to-stalled-worker`: idle workers do not steal; round-robin keeps handing
//!   work to a worker that cannot do it, and a stalled worker's queue is never drained.
//! - `no-backpressure`: the producer places a task whatever the length of the target queue.
//! - `lost-wakeup`: a worker that found no work parks at once, without registering and
//!   checking again; a producer that saw it searching wakes nobody (tokio #1768/#1788).
//! - `stale-load-info`: least-loaded placement chooses by the tasks it has placed on each
//!   worker (a dispatcher's table of assignments), never seeing a worker take one: its load
//!   information is out of date as soon as a worker runs.
//! - `no-last-searcher-wakeup`: a worker that finds a task stops searching without waking a
//!   sleeper, though it was the last searcher and work is left. The producer skipped its
//!   wake-up because that worker was searching ("a searcher will find it"); the searcher
//!   found another task, and if it then stalls, the work it left waits with every other
//!   worker asleep. tokio's `transition_worker_from_searching` wakes a worker in this case.

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

use crate::{
    Arrow, Class, Fairness, Kind, ModelError, Parts, Prop, Protocol, Variant, Violation,
    decode_part, encode_part,
};

/// Workers in the pool.
pub const MAX_WORKERS: usize = 4;
/// Tasks the producer submits in one behaviour.
/// (Checks stay far below it; implementation runs replayed on the model need room for theirs.)
pub const MAX_TASKS: usize = 64;
/// Tasks a worker's queue may hold.
pub const MAX_CAPACITY: usize = 3;

/// How the producer picks the worker whose queue gets a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// The next worker in turn, whatever its load.
    RoundRobin,
    /// A worker with the shortest queue (the lowest index on a tie).
    LeastLoaded,
}

/// What the producer does when the target queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Submit {
    /// `submit` waits until the queue has room.
    Blocking,
    /// `try_submit` is refused (`Err(Full)`); the producer keeps the task and tries again.
    Try,
}

/// Bounds and knobs of one pool check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StealingConfig {
    /// Workers, 2..=[`MAX_WORKERS`].
    pub workers: u8,
    /// Tasks the producer submits, t0, t1, … in order, 1..=[`MAX_TASKS`].
    pub tasks: u8,
    /// Tasks one worker's queue may hold, 1..=[`MAX_CAPACITY`].
    pub capacity: u8,
    pub placement: Placement,
    pub submit: Submit,
    /// Worker stalls (a long task, a descheduled thread) in one behaviour; each may last
    /// forever. Fewer than `workers`.
    pub max_stalls: u8,
    /// `BoundedImbalance`'s k: a least-loaded placement joins a queue at most this many tasks
    /// longer than the shortest.
    pub max_imbalance: u8,
}

impl Default for StealingConfig {
    fn default() -> Self {
        StealingConfig {
            workers: 2,
            tasks: 3,
            capacity: 1,
            placement: Placement::RoundRobin,
            submit: Submit::Blocking,
            max_stalls: 1,
            max_imbalance: 0,
        }
    }
}

/// A named deviation from the correct pool: each removes one guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// Idle workers look only into their own queue.
    RoundRobinToStalledWorker,
    /// The producer does not check the target queue for room.
    NoBackpressure,
    /// A worker that found no work parks without registering and checking again.
    LostWakeup,
    /// Least-loaded placement chooses by loads that are out of date: the tasks it placed on
    /// each worker, never seeing a take.
    StaleLoadInfo,
    /// The last searcher, finding a task, stops searching without waking a sleeper.
    NoLastSearcherWakeup,
}

const VARIANTS: [(Variant, Option<Bug>); 6] = [
    (
        Variant {
            id: "correct",
            summary: "bounded queues with backpressure, idle workers steal, a worker registers as a sleeper and checks again before it parks",
        },
        None,
    ),
    (
        Variant {
            id: "round-robin-to-stalled-worker",
            summary: "idle workers do not steal: a task placed on a stalled worker's queue waits for that worker",
        },
        Some(Bug::RoundRobinToStalledWorker),
    ),
    (
        Variant {
            id: "no-backpressure",
            summary: "the producer places a task whatever the length of the target queue",
        },
        Some(Bug::NoBackpressure),
    ),
    (
        Variant {
            id: "lost-wakeup",
            summary: "a worker that found no work parks at once, without registering as a sleeper and checking again",
        },
        Some(Bug::LostWakeup),
    ),
    (
        Variant {
            id: "stale-load-info",
            summary: "least-loaded placement chooses by the tasks it has placed on each worker, never seeing a worker take one: its load information is out of date",
        },
        Some(Bug::StaleLoadInfo),
    ),
    (
        Variant {
            id: "no-last-searcher-wakeup",
            summary: "the last searching worker, finding a task, stops searching without waking a sleeper, though the producer skipped the wake-up for it",
        },
        Some(Bug::NoLastSearcherWakeup),
    ),
];

/// What a worker is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Looking for work: its own queue, then (stealing) the others'.
    Searching,
    /// Looked everywhere and found nothing; still counts as searching for a notifier.
    Checked,
    /// Registered as a sleeper; checks once more before it parks.
    Registered,
    /// Asleep until a notification wakes it.
    Parked,
    /// Took `task` (from its queue or by a steal) and still counts as searching; stops
    /// searching next (and, the last searcher, wakes a sleeper if work is left).
    Found { task: u8 },
    /// Running a task.
    Running { task: u8 },
}

/// One worker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Worker {
    /// The tasks queued on it, sorted (a bag).
    pub queue: ArrayVec<u8, MAX_TASKS>,
    pub phase: Phase,
    /// Stalled in the task it runs.
    pub stalled: bool,
}

/// What the producer is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Producer {
    /// About to place the next task (if any is left).
    Ready,
    /// `submit` found the target full and waits for room.
    Waiting,
    /// Placed a task on `target`'s queue; notifies next.
    Notifying { target: u8 },
}

/// The pool's state, with ghost variables recording each task's fate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StealingState {
    pub workers: ArrayVec<Worker, MAX_WORKERS>,
    pub producer: Producer,
    /// The next task to submit: t0 … t(next-1) have been accepted.
    pub next: u8,
    /// Round-robin's next worker.
    pub turn: u8,
    /// The tasks placed on each worker so far: the queue lengths `stale-load-info`'s producer
    /// believes (every variant counts them; only that one chooses by them).
    pub view: ArrayVec<u8, MAX_WORKERS>,
    /// Ghost: the tasks started at least once (bit t for task t).
    pub started: u64,
    /// Ghost: the tasks started more than once.
    pub restarted: u64,
    /// Ghost: worker stalls so far.
    pub stalls: u8,
    /// Ghost: whether a worker has stolen a task.
    pub stolen: bool,
    /// Ghost: whether the producer found a target full (backpressure applied).
    pub backpressure: bool,
    /// Ghost: whether a worker has parked.
    pub parked: bool,
    /// Ghost: whether a least-loaded placement saw queues of unequal lengths.
    pub unequal: bool,
    /// Ghost: the largest excess of a least-loaded placement: how much longer than the
    /// shortest queue the chosen one was.
    pub excess: u8,
}

/// A step of the producer or of one worker, in the order of a task's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The producer places the next task on a worker's queue (chosen by the placement).
    Submit,
    /// `submit` finds the target full and waits for room (backpressure).
    Block,
    /// `try_submit` finds the target full and is refused; the producer keeps the task.
    Refuse,
    /// The producer wakes the target if it sleeps, else one sleeper if no worker searches.
    Notify,
    /// A searching worker takes `task` from its own queue and runs it.
    Take { worker: u8, task: u8 },
    /// A searching worker whose queue is empty steals `task` from `victim`'s queue.
    Steal { worker: u8, victim: u8, task: u8 },
    /// A worker that found a task stops searching; if it was the last searcher and work is
    /// left in some queue, it wakes a sleeper (tokio's `transition_worker_from_searching`).
    StopSearching { worker: u8 },
    /// A worker finishes its task and searches again.
    Finish { worker: u8 },
    /// A searching worker finds no work anywhere it looks.
    Search { worker: u8 },
    /// A worker that found no work registers as a sleeper.
    Register { worker: u8 },
    /// A registered worker checks once more: work found, it searches; none, it parks.
    Recheck { worker: u8 },
    /// (`lost-wakeup`) A worker that found no work parks at once.
    Park { worker: u8 },
    /// A running worker stalls (a long task, a descheduled thread).
    Stall { worker: u8 },
    /// A stalled worker goes on.
    Resume { worker: u8 },
}

/// The model of one variant at one configuration.
#[derive(Clone, Debug)]
pub struct StealingModel {
    variant: &'static str,
    bug: Option<Bug>,
    config: StealingConfig,
}

impl StealingModel {
    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    /// The bug this variant has (`None`: `correct`).
    pub fn bug(&self) -> Option<Bug> {
        self.bug
    }

    fn steals(&self) -> bool {
        !self.has(Bug::RoundRobinToStalledWorker)
    }

    /// The worker the producer would place the next task on, and the lengths it chose by.
    fn target(&self, s: &StealingState) -> (u8, ArrayVec<u8, MAX_WORKERS>) {
        let lengths: ArrayVec<u8, MAX_WORKERS> = if self.has(Bug::StaleLoadInfo) {
            s.view.clone()
        } else {
            s.workers.iter().map(|w| w.queue.len() as u8).collect()
        };
        let target = match self.config.placement {
            Placement::RoundRobin => s.turn,
            Placement::LeastLoaded => {
                let min = lengths.iter().copied().min().unwrap_or(0);
                lengths.iter().position(|&l| l == min).unwrap_or(0) as u8
            }
        };
        (target, lengths)
    }

    /// The worker the producer's placement picks in `s` for the next task (by its view of
    /// the queue lengths in `stale-load-info`).
    pub fn target_of(&self, s: &StealingState) -> u8 {
        self.target(s).0
    }

    fn has_room(&self, s: &StealingState, w: u8) -> bool {
        self.has(Bug::NoBackpressure)
            || s.workers[w as usize].queue.len() < self.config.capacity as usize
    }

    /// Whether worker `w`, searching, can see work: in its own queue, or (stealing) in
    /// another's.
    fn sees_work(&self, s: &StealingState, w: usize) -> bool {
        !s.workers[w].queue.is_empty()
            || (self.steals() && s.workers.iter().any(|o| !o.queue.is_empty()))
    }

    /// Whom a notification after placing a task on `target` wakes.
    fn wakes(&self, s: &StealingState, target: u8) -> Option<u8> {
        if asleep(&s.workers[target as usize]) {
            return Some(target);
        }
        if s.workers.iter().any(searching) {
            return None; // a searcher will find it
        }
        s.workers.iter().position(asleep).map(|i| i as u8)
    }

    /// Whom worker `w`, stopping its search, wakes: a sleeper, if `w` was the last searcher
    /// and some queue holds work.
    fn hands_off(&self, s: &StealingState, w: u8) -> Option<u8> {
        if self.has(Bug::NoLastSearcherWakeup) {
            return None;
        }
        Self::handoff_rule(s, w)
    }

    /// The correct protocol's hand-off: a sleeper, if `w` is the last searcher and some
    /// queue holds work.
    fn handoff_rule(s: &StealingState, w: u8) -> Option<u8> {
        let others_search = s
            .workers
            .iter()
            .enumerate()
            .any(|(i, x)| i != w as usize && searching(x));
        let work_left = s.workers.iter().any(|x| !x.queue.is_empty());
        if others_search || !work_left {
            return None;
        }
        s.workers.iter().position(asleep).map(|i| i as u8)
    }
}

impl Model for StealingModel {
    type State = StealingState;
    type Action = Action;

    fn init_states(&self) -> Vec<StealingState> {
        let w = self.config.workers as usize;
        vec![StealingState {
            workers: (0..w)
                .map(|_| Worker {
                    queue: ArrayVec::new(),
                    phase: Phase::Searching,
                    stalled: false,
                })
                .collect(),
            producer: Producer::Ready,
            next: 0,
            turn: 0,
            view: (0..w).map(|_| 0).collect(),
            started: 0,
            restarted: 0,
            stalls: 0,
            stolen: false,
            backpressure: false,
            parked: false,
            unequal: false,
            excess: 0,
        }]
    }

    fn actions(&self, s: &StealingState, actions: &mut Vec<Action>) {
        match s.producer {
            Producer::Ready if s.next < self.config.tasks => {
                let (target, _) = self.target(s);
                if self.has_room(s, target) {
                    actions.push(Action::Submit);
                } else {
                    actions.push(match self.config.submit {
                        Submit::Blocking => Action::Block,
                        Submit::Try => Action::Refuse,
                    });
                }
            }
            Producer::Ready => {}
            Producer::Waiting => {
                if self.has_room(s, self.target(s).0) {
                    actions.push(Action::Submit);
                }
            }
            Producer::Notifying { .. } => actions.push(Action::Notify),
        }
        for (i, w) in s.workers.iter().enumerate() {
            let worker = i as u8;
            match w.phase {
                Phase::Searching => {
                    for &task in &w.queue {
                        actions.push(Action::Take { worker, task });
                    }
                    if w.queue.is_empty() && self.steals() {
                        for (v, victim) in s.workers.iter().enumerate() {
                            for &task in &victim.queue {
                                actions.push(Action::Steal {
                                    worker,
                                    victim: v as u8,
                                    task,
                                });
                            }
                        }
                    }
                    if !self.sees_work(s, i) {
                        actions.push(Action::Search { worker });
                    }
                }
                Phase::Checked if self.has(Bug::LostWakeup) => {
                    actions.push(Action::Park { worker })
                }
                Phase::Checked => actions.push(Action::Register { worker }),
                Phase::Registered => actions.push(Action::Recheck { worker }),
                Phase::Parked => {}
                Phase::Found { .. } => actions.push(Action::StopSearching { worker }),
                Phase::Running { .. } if w.stalled => actions.push(Action::Resume { worker }),
                Phase::Running { .. } => {
                    actions.push(Action::Finish { worker });
                    if s.stalls < self.config.max_stalls {
                        actions.push(Action::Stall { worker });
                    }
                }
            }
        }
    }

    fn next_state(&self, s: &StealingState, action: Action) -> Option<StealingState> {
        let mut n = s.clone();
        let worker_ok = |w: u8| (w as usize) < s.workers.len();
        match action {
            Action::Submit => {
                if s.next >= self.config.tasks
                    || !matches!(s.producer, Producer::Ready | Producer::Waiting)
                {
                    return None;
                }
                let (target, _) = self.target(s);
                if !self.has_room(s, target) {
                    return None;
                }
                self.chose(&mut n, s, target);
                let q = &mut n.workers[target as usize].queue;
                let at = q.partition_point(|&t| t < s.next);
                q.try_insert(at, s.next).ok()?;
                // The placements made on each worker: `stale-load-info`'s producer chooses by
                // them (it never sees a take); every variant counts them, so that a trace of
                // that variant replays on another up to the choice that differs.
                n.view[target as usize] += 1;
                n.next += 1;
                n.turn = (target + 1) % self.config.workers;
                n.producer = Producer::Notifying { target };
            }
            Action::Block | Action::Refuse => {
                let want = match self.config.submit {
                    Submit::Blocking => Action::Block,
                    Submit::Try => Action::Refuse,
                };
                if action != want || s.producer != Producer::Ready || s.next >= self.config.tasks {
                    return None;
                }
                let (target, _) = self.target(s);
                if self.has_room(s, target) {
                    return None;
                }
                self.chose(&mut n, s, target);
                n.backpressure = true;
                if action == Action::Block {
                    n.producer = Producer::Waiting;
                }
            }
            Action::Notify => {
                let Producer::Notifying { target } = s.producer else {
                    return None;
                };
                if let Some(w) = self.wakes(s, target) {
                    n.workers[w as usize].phase = Phase::Searching;
                }
                n.producer = Producer::Ready;
            }
            Action::Take { worker, task } => {
                if !worker_ok(worker) || s.workers[worker as usize].phase != Phase::Searching {
                    return None;
                }
                let q = &mut n.workers[worker as usize].queue;
                let at = q.iter().position(|&t| t == task)?;
                q.remove(at);
                self.start(&mut n, worker, task)?;
            }
            Action::Steal {
                worker,
                victim,
                task,
            } => {
                if !self.steals()
                    || !worker_ok(worker)
                    || !worker_ok(victim)
                    || s.workers[worker as usize].phase != Phase::Searching
                    || !s.workers[worker as usize].queue.is_empty()
                {
                    return None;
                }
                let q = &mut n.workers[victim as usize].queue;
                let at = q.iter().position(|&t| t == task)?;
                q.remove(at);
                n.stolen = true;
                self.start(&mut n, worker, task)?;
            }
            Action::StopSearching { worker } => {
                let Some(Phase::Found { task }) = s.workers.get(worker as usize).map(|w| w.phase)
                else {
                    return None;
                };
                if let Some(w) = self.hands_off(s, worker) {
                    n.workers[w as usize].phase = Phase::Searching;
                }
                n.workers[worker as usize].phase = Phase::Running { task };
            }
            Action::Finish { worker } => {
                let w = n.workers.get_mut(worker as usize)?;
                if !matches!(w.phase, Phase::Running { .. }) || w.stalled {
                    return None;
                }
                w.phase = Phase::Searching;
            }
            Action::Search { worker } => {
                if !worker_ok(worker)
                    || s.workers[worker as usize].phase != Phase::Searching
                    || self.sees_work(s, worker as usize)
                {
                    return None;
                }
                n.workers[worker as usize].phase = Phase::Checked;
            }
            Action::Register { worker } => {
                let w = n.workers.get_mut(worker as usize)?;
                if w.phase != Phase::Checked || self.has(Bug::LostWakeup) {
                    return None;
                }
                w.phase = Phase::Registered;
            }
            Action::Recheck { worker } => {
                if !worker_ok(worker) || s.workers[worker as usize].phase != Phase::Registered {
                    return None;
                }
                if self.sees_work(s, worker as usize) {
                    n.workers[worker as usize].phase = Phase::Searching;
                } else {
                    n.workers[worker as usize].phase = Phase::Parked;
                    n.parked = true;
                }
            }
            Action::Park { worker } => {
                let w = n.workers.get_mut(worker as usize)?;
                if w.phase != Phase::Checked || !self.has(Bug::LostWakeup) {
                    return None;
                }
                w.phase = Phase::Parked;
                n.parked = true;
            }
            Action::Stall { worker } => {
                if s.stalls >= self.config.max_stalls {
                    return None;
                }
                let w = n.workers.get_mut(worker as usize)?;
                if !matches!(w.phase, Phase::Running { .. }) || w.stalled {
                    return None;
                }
                w.stalled = true;
                n.stalls += 1;
            }
            Action::Resume { worker } => {
                let w = n.workers.get_mut(worker as usize)?;
                if !w.stalled {
                    return None;
                }
                w.stalled = false;
            }
        }
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::stateright_properties(Self::props())
    }
}

impl StealingModel {
    /// Records a least-loaded choice of `target` in `s` (placing there, or finding it full):
    /// how much longer than the shortest its queue was, and whether the queues differed.
    /// (Public so that a driver keeps the same ghosts from an implementation's log.)
    pub fn chose(&self, n: &mut StealingState, s: &StealingState, target: u8) {
        if self.config.placement == Placement::LeastLoaded {
            let lengths = s.workers.iter().map(|w| w.queue.len() as u8);
            let min = lengths.clone().min().unwrap_or(0);
            let max = lengths.max().unwrap_or(0);
            let chosen = s.workers[target as usize].queue.len() as u8;
            n.excess = n.excess.max(chosen - min);
            n.unequal |= min != max;
        }
    }

    /// Worker `worker` starts running `task`.
    fn start(&self, n: &mut StealingState, worker: u8, task: u8) -> Option<()> {
        n.record_start(task)?;
        n.workers[worker as usize].phase = Phase::Found { task };
        Some(())
    }
}

/// Whether a worker counts as searching for a notifier: it will look at the queues again
/// before it sleeps.
fn searching(w: &Worker) -> bool {
    matches!(
        w.phase,
        Phase::Searching | Phase::Checked | Phase::Found { .. }
    )
}

/// Whether a worker sleeps or is about to: a notification must wake it.
fn asleep(w: &Worker) -> bool {
    matches!(w.phase, Phase::Registered | Phase::Parked)
}

impl StealingState {
    /// Records in the ghosts that task `t` starts (`None`: `t` is beyond [`MAX_TASKS`]).
    pub fn record_start(&mut self, t: u8) -> Option<()> {
        let bit = 1u64.checked_shl(u32::from(t))?;
        if self.started & bit != 0 {
            self.restarted |= bit;
        }
        self.started |= bit;
        Some(())
    }

    /// How often task `t` was started: 0, 1, or 2 for more than once.
    pub fn starts(&self, t: u8) -> u8 {
        let bit = 1u64.checked_shl(u32::from(t)).unwrap_or(0);
        u8::from(self.started & bit != 0) + u8::from(self.restarted & bit != 0)
    }
}

fn every_task_runs_exactly_once(_: &StealingModel, s: &StealingState) -> bool {
    // Checked on every state: counts without allocating.
    (0..MAX_TASKS as u8).all(|t| {
        let queued: usize = s
            .workers
            .iter()
            .map(|w| w.queue.iter().filter(|&&x| x == t).count())
            .sum();
        let places = queued + s.starts(t) as usize;
        if t < s.next { places == 1 } else { places == 0 }
    })
}

fn queue_within_capacity(m: &StealingModel, s: &StealingState) -> bool {
    s.workers
        .iter()
        .all(|w| w.queue.len() <= m.config.capacity as usize)
}

fn bounded_imbalance(m: &StealingModel, s: &StealingState) -> bool {
    s.excess <= m.config.max_imbalance
}

fn every_task_started(m: &StealingModel, s: &StealingState) -> bool {
    (0..m.config.tasks).all(|t| s.starts(t) >= 1)
}

fn task_stolen(_: &StealingModel, s: &StealingState) -> bool {
    s.stolen
}

fn backpressure_applied(_: &StealingModel, s: &StealingState) -> bool {
    s.backpressure
}

fn worker_parked(_: &StealingModel, s: &StealingState) -> bool {
    s.parked
}

fn stalled_worker_had_queued_work(_: &StealingModel, s: &StealingState) -> bool {
    s.workers.iter().any(|w| w.stalled && !w.queue.is_empty())
}

fn unequal_loads_at_placement(_: &StealingModel, s: &StealingState) -> bool {
    s.unequal
}

impl Protocol for StealingModel {
    const ID: &'static str = "stealing";
    type Config = StealingConfig;
    /// Interleavings only: a stall stands for however long a task takes.
    const TIMED: bool = false;

    /// The workers, then the producer and the ghost variables: the workers' queues and
    /// phases take few combinations, each shared by many states.
    fn parts(&self) -> Option<Parts<StealingState>> {
        Some(Parts {
            count: 2,
            encode: |s, i, out| match i {
                0 => encode_part(&s.workers, out),
                _ => encode_part(
                    &(
                        s.producer,
                        s.next,
                        s.turn,
                        &s.view,
                        s.started,
                        s.restarted,
                        s.stalls,
                        s.stolen,
                        s.backpressure,
                        s.parked,
                        s.unequal,
                        s.excess,
                    ),
                    out,
                ),
            },
            decode: |parts| {
                let (
                    producer,
                    next,
                    turn,
                    view,
                    started,
                    restarted,
                    stalls,
                    stolen,
                    backpressure,
                    parked,
                    unequal,
                    excess,
                ) = decode_part(parts[1]);
                StealingState {
                    workers: decode_part(parts[0]),
                    producer,
                    next,
                    turn,
                    view,
                    started,
                    restarted,
                    stalls,
                    stolen,
                    backpressure,
                    parked,
                    unequal,
                    excess,
                }
            },
        })
    }

    fn variants() -> &'static [Variant] {
        const IDS: [Variant; 6] = [
            VARIANTS[0].0,
            VARIANTS[1].0,
            VARIANTS[2].0,
            VARIANTS[3].0,
            VARIANTS[4].0,
            VARIANTS[5].0,
        ];
        &IDS
    }

    fn new(variant: &str, config: StealingConfig) -> Result<Self, ModelError> {
        let (v, bug) = crate::find_variant(Self::ID, &VARIANTS, variant)?;
        let c = &config;
        let fail = |why: &str| Err(ModelError::BadConfig(why.to_string()));
        if c.workers < 2 || usize::from(c.workers) > MAX_WORKERS {
            return fail("workers must be 2..=4");
        }
        if c.tasks == 0 || usize::from(c.tasks) > MAX_TASKS {
            return fail("tasks must be 1..=64");
        }
        if c.capacity == 0 || usize::from(c.capacity) > MAX_CAPACITY {
            return fail("capacity must be 1..=3");
        }
        if c.max_stalls >= c.workers {
            return fail("max-stalls must be below workers (some worker must be able to go on)");
        }
        Ok(StealingModel {
            variant: v.id,
            bug,
            config,
        })
    }

    fn variant(&self) -> &'static str {
        self.variant
    }

    fn config(&self) -> &StealingConfig {
        &self.config
    }

    fn props() -> Vec<Prop<Self>> {
        vec![
            Prop {
                name: "EveryTaskRunsExactlyOnce",
                kind: Kind::Always,
                doc: "Every accepted task is in exactly one place — queued once, or started once — and no task is started twice.",
                condition: every_task_runs_exactly_once,
                premise: None,
            },
            Prop {
                name: "QueueWithinCapacity",
                kind: Kind::Always,
                doc: "No worker's queue holds more than `capacity` tasks.",
                condition: queue_within_capacity,
                premise: None,
            },
            Prop {
                name: "BoundedImbalance",
                kind: Kind::Always,
                doc: "A least-loaded placement chooses a queue (to join it, or to wait for room in it) at most `max-imbalance` tasks longer than the shortest queue at that moment.",
                condition: bounded_imbalance,
                premise: None,
            },
            Prop {
                name: "EveryTaskEventuallyRuns",
                kind: Kind::Eventually,
                doc: "Every task is eventually accepted and started, even when a worker stalls forever.",
                condition: every_task_started,
                premise: None,
            },
            Prop {
                name: "TaskStolen",
                kind: Kind::Sometimes,
                doc: "A worker steals a task from another's queue (so the tasks' fate is not about own queues alone).",
                condition: task_stolen,
                premise: None,
            },
            Prop {
                name: "BackpressureApplied",
                kind: Kind::Sometimes,
                doc: "The producer finds the target queue full and waits or is refused (so QueueWithinCapacity is not vacuous).",
                condition: backpressure_applied,
                premise: None,
            },
            Prop {
                name: "WorkerParked",
                kind: Kind::Sometimes,
                doc: "A worker parks (so EveryTaskEventuallyRuns is checked against sleeping workers).",
                condition: worker_parked,
                premise: None,
            },
            Prop {
                name: "StalledWorkerHadQueuedWork",
                kind: Kind::Sometimes,
                doc: "A stalled worker has tasks queued (so EveryTaskEventuallyRuns is checked against them).",
                condition: stalled_worker_had_queued_work,
                premise: None,
            },
            Prop {
                name: "UnequalLoadsAtPlacement",
                kind: Kind::Sometimes,
                doc: "A least-loaded placement sees queues of different lengths (so BoundedImbalance is not vacuous).",
                condition: unequal_loads_at_placement,
                premise: None,
            },
        ]
    }

    /// Fairness: the producer and every worker keep taking steps (weakly fair, one class
    /// each); stalls and their ends are unfair: a stall may last forever.
    fn classes(&self) -> Vec<Class> {
        let mut c = vec![
            Class {
                name: "producer".into(),
                fairness: Fairness::Weak,
            },
            Class {
                name: "stalls and resumptions".into(),
                fairness: Fairness::Unfair,
            },
        ];
        c.extend((0..self.config.workers).map(|i| Class {
            name: format!("worker {i}"),
            fairness: Fairness::Weak,
        }));
        c
    }

    fn class_of(&self, action: &Action) -> usize {
        match *action {
            Action::Submit | Action::Block | Action::Refuse | Action::Notify => 0,
            Action::Stall { .. } | Action::Resume { .. } => 1,
            Action::Take { worker, .. }
            | Action::Steal { worker, .. }
            | Action::StopSearching { worker }
            | Action::Finish { worker }
            | Action::Search { worker }
            | Action::Register { worker }
            | Action::Recheck { worker }
            | Action::Park { worker } => 2 + worker as usize,
        }
    }

    fn fields(&self, s: &StealingState) -> Vec<(String, String)> {
        let mut out = vec![("producer".to_string(), self.producer_doing(s))];
        for (i, w) in s.workers.iter().enumerate() {
            let mut v = match w.phase {
                Phase::Searching => "searching".to_string(),
                Phase::Checked => "found no work (still counts as searching)".to_string(),
                Phase::Registered => "registered as a sleeper, will check once more".to_string(),
                Phase::Parked => "parked".to_string(),
                Phase::Found { task: t } => {
                    format!("took {}, still counts as searching", task(t))
                }
                Phase::Running { task: t } => format!("running {}", task(t)),
            };
            if w.stalled {
                v += ", stalled";
            }
            out.push((format!("worker {i}"), v));
            out.push((
                format!("worker {i} queue"),
                if w.queue.is_empty() {
                    "empty".to_string()
                } else {
                    w.queue
                        .iter()
                        .map(|&t| task(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ));
        }
        if self.has(Bug::StaleLoadInfo) {
            out.push((
                "producer's view of the queue lengths".to_string(),
                s.view
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("worker {i}: {l}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        let started: Vec<String> = (0..MAX_TASKS as u8)
            .filter(|&t| s.starts(t) > 0)
            .map(|t| match s.starts(t) {
                1 => task(t),
                _ => format!("{} twice", task(t)),
            })
            .collect();
        out.push((
            "started".to_string(),
            if started.is_empty() {
                "none".to_string()
            } else {
                started.join(", ")
            },
        ));
        out.push(("stalls".to_string(), s.stalls.to_string()));
        out
    }

    fn describe(&self, s: &StealingState, action: &Action) -> String {
        let (target, lengths) = self.target(s);
        let why = |t: u8| match self.config.placement {
            Placement::RoundRobin => format!("worker {t}'s turn"),
            Placement::LeastLoaded if self.has(Bug::StaleLoadInfo) => format!(
                "the shortest by its own count of the tasks it placed on each worker, {}: it has not seen any worker take one",
                lengths
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Placement::LeastLoaded => format!(
                "the shortest: the lengths are {}",
                lengths
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        };
        match *action {
            Action::Submit => {
                let len = s.workers[target as usize].queue.len();
                let over = if len >= self.config.capacity as usize {
                    format!(
                        ", though it already holds {len} (capacity {})",
                        self.config.capacity
                    )
                } else {
                    String::new()
                };
                format!(
                    "the producer places {} on worker {target}'s queue ({}){over}",
                    task(s.next),
                    why(target)
                )
            }
            Action::Block => format!(
                "the producer would place {} on worker {target} ({}), whose queue is full: submit waits for room",
                task(s.next),
                why(target)
            ),
            Action::Refuse => format!(
                "the producer's try_submit of {} to worker {target} ({}) is refused: the queue is full",
                task(s.next),
                why(target)
            ),
            Action::Notify => {
                let Producer::Notifying { target } = s.producer else {
                    return "the producer notifies (nothing placed)".to_string();
                };
                match self.wakes(s, target) {
                    Some(w) if w == target => format!("the producer wakes worker {w}"),
                    Some(w) => format!(
                        "the producer wakes worker {w}: worker {target} is busy and no worker is searching"
                    ),
                    None if searching(&s.workers[target as usize]) => {
                        format!("the producer wakes nobody: worker {target} is searching")
                    }
                    None if s.workers.iter().any(searching) => {
                        "the producer wakes nobody: a worker is searching and will find it"
                            .to_string()
                    }
                    None => "the producer wakes nobody: no worker sleeps".to_string(),
                }
            }
            Action::Take { worker, task: t } => {
                format!("worker {worker} takes {} from its own queue", task(t))
            }
            Action::Steal {
                worker,
                victim,
                task: t,
            } => format!(
                "worker {worker}, its own queue empty, steals {} from worker {victim}'s queue",
                task(t)
            ),
            Action::StopSearching { worker } => match self.hands_off(s, worker) {
                Some(w) => format!(
                    "worker {worker} stops searching; it was the last searcher and work is left, so it wakes worker {w}"
                ),
                None => match Self::handoff_rule(s, worker) {
                    Some(w) => format!(
                        "worker {worker} stops searching and runs its task, without waking worker {w} though it was the last searcher and work is left"
                    ),
                    None => format!("worker {worker} stops searching and runs its task"),
                },
            },
            Action::Finish { worker } => {
                let t = match s.workers.get(worker as usize).map(|w| w.phase) {
                    Some(Phase::Running { task: t }) => task(t),
                    _ => "its task".to_string(),
                };
                format!("worker {worker} finishes {t}")
            }
            Action::Search { worker } if self.steals() => {
                format!("worker {worker} looks into every queue and finds no work")
            }
            Action::Search { worker } => format!(
                "worker {worker} finds its own queue empty (it does not look into the others)"
            ),
            Action::Register { worker } => format!("worker {worker} registers as a sleeper"),
            Action::Recheck { worker } => {
                if self.sees_work(s, worker as usize) {
                    format!("worker {worker} checks once more, finds work, and searches again")
                } else {
                    format!("worker {worker} checks once more, finds nothing, and parks")
                }
            }
            Action::Park { worker } => {
                format!("worker {worker} parks at once, without checking again")
            }
            Action::Stall { worker } => format!(
                "worker {worker} stalls in its task (a long task, or its thread is descheduled)"
            ),
            Action::Resume { worker } => format!("worker {worker} goes on"),
        }
    }

    fn participants(&self) -> Vec<String> {
        let mut p = vec!["Producer".to_string()];
        p.extend((0..self.config.workers).map(|i| format!("Worker {i}")));
        p
    }

    fn arrows(&self, s: &StealingState, action: &Action, _n: &StealingState) -> Vec<Arrow> {
        let producer = "Producer";
        let worker = |w: u8| format!("Worker {w}");
        let note = |w: u8, text: String| Arrow::note([worker(w)], text);
        match *action {
            Action::Submit => {
                let (target, _) = self.target(s);
                vec![Arrow::call(
                    producer,
                    worker(target),
                    format!("queue {}", task(s.next)),
                )]
            }
            Action::Block => vec![Arrow::note(
                [producer],
                format!("worker {}'s queue full: waits", self.target(s).0),
            )],
            Action::Refuse => vec![Arrow::note(
                [producer],
                format!("try_submit {}: Full", task(s.next)),
            )],
            Action::Notify => {
                let Producer::Notifying { target } = s.producer else {
                    return Vec::new();
                };
                match self.wakes(s, target) {
                    Some(w) => vec![Arrow::call(producer, worker(w), "unpark")],
                    None => vec![Arrow::note([producer], "wakes nobody")],
                }
            }
            Action::Take { worker: w, task: t } => vec![note(w, format!("takes {}", task(t)))],
            Action::Steal {
                worker: w,
                victim,
                task: t,
            } => vec![
                Arrow::call(worker(w), worker(victim), "steal"),
                Arrow::reply(worker(victim), worker(w), task(t)),
            ],
            Action::StopSearching { worker: w } => match self.hands_off(s, w) {
                Some(o) => vec![Arrow::call(worker(w), worker(o), "unpark")],
                None => Vec::new(),
            },
            Action::Finish { worker: w } => vec![note(w, "done".to_string())],
            Action::Search { worker: w } => vec![note(w, "no work".to_string())],
            Action::Register { worker: w } => vec![note(w, "registers as sleeper".to_string())],
            Action::Recheck { worker: w } => {
                if self.sees_work(s, w as usize) {
                    vec![note(w, "re-checks: work".to_string())]
                } else {
                    vec![note(w, "re-checks: none, parks".to_string())]
                }
            }
            Action::Park { worker: w } => vec![note(w, "parks".to_string())],
            Action::Stall { worker: w } => vec![note(w, "stalls".to_string())],
            Action::Resume { worker: w } => vec![note(w, "goes on".to_string())],
        }
    }

    fn explain(&self, name: &str, s: &StealingState) -> String {
        match name {
            "QueueWithinCapacity" => {
                let (i, w) = self.over_capacity(s);
                format!(
                    "worker {i}'s queue holds {} tasks ({}), above its capacity of {}: the producer placed a task without checking for room, so nothing ever pushed back on it.",
                    w.queue.len(),
                    tasks(&w.queue),
                    self.config.capacity
                )
            }
            "BoundedImbalance" => format!(
                "a least-loaded placement chose a queue {} longer than the shortest{}.",
                plural(s.excess, "task"),
                if self.has(Bug::StaleLoadInfo) {
                    ": the producer chose by the tasks it had placed on each worker, and does not see that a worker has taken one since"
                } else {
                    ""
                }
            ),
            "EveryTaskRunsExactlyOnce" => {
                "a task is queued or started more than once, or an accepted task is nowhere."
                    .to_string()
            }
            "EveryTaskEventuallyRuns" => {
                let mut why = format!("{}.", self.stuck(s));
                if let Some(i) = s.workers.iter().position(|w| w.stalled)
                    && self.has(Bug::RoundRobinToStalledWorker)
                {
                    why += &format!(
                        " Worker {i} is stalled, and the other workers, idle, look only into their own queues: nothing takes the tasks queued on worker {i}. Round-robin placed them there because it was worker {i}'s turn, not because worker {i} could run them; an idle worker that steals would."
                    );
                }
                if self.has(Bug::NoLastSearcherWakeup) {
                    why += " The producer woke nobody when it placed the task, because a worker was searching and would find it; that worker found another task, stopped searching without waking anyone though it was the last searcher, and stalled.";
                }
                if self.has(Bug::LostWakeup) {
                    why += " A worker that found no work parked without registering and checking again; the producer, which placed the task while that worker still counted as searching, woke nobody.";
                }
                why
            }
            other => match Self::prop(other) {
                Some(p) => format!("no reachable state satisfies {}: {}", p.name, p.doc),
                None => format!("unknown property {other}"),
            },
        }
    }

    fn violation(&self, name: &str, s: &StealingState) -> Violation {
        let every_worker: Vec<String> = (0..self.config.workers)
            .map(|i| format!("Worker {i}"))
            .collect();
        let worker_fields = |queues: bool| -> Vec<String> {
            (0..self.config.workers)
                .flat_map(|i| {
                    let mut f = vec![format!("worker {i}")];
                    if queues {
                        f.push(format!("worker {i} queue"));
                    }
                    f
                })
                .collect()
        };
        match name {
            "QueueWithinCapacity" => {
                let (i, w) = self.over_capacity(s);
                Violation {
                    statement: format!(
                        "worker {i}'s queue holds {} tasks, above its capacity of {}",
                        w.queue.len(),
                        self.config.capacity
                    ),
                    participants: vec!["Producer".to_string(), format!("Worker {i}")],
                    fields: vec![format!("worker {i} queue")],
                }
            }
            "BoundedImbalance" => {
                let mut fields = worker_fields(true);
                if self.has(Bug::StaleLoadInfo) {
                    fields.push("producer's view of the queue lengths".to_string());
                }
                Violation {
                    statement: format!(
                        "a least-loaded placement chose a queue {} longer than the shortest (at most {} allowed)",
                        plural(s.excess, "task"),
                        self.config.max_imbalance
                    ),
                    participants: self.participants(),
                    fields,
                }
            }
            "EveryTaskEventuallyRuns" => {
                let mut fields = vec!["producer".to_string()];
                fields.extend(worker_fields(true));
                fields.push("started".to_string());
                Violation {
                    statement: self.stuck(s),
                    participants: every_worker,
                    fields,
                }
            }
            other => Violation {
                statement: format!("{other} does not hold"),
                participants: Vec::new(),
                fields: Vec::new(),
            },
        }
    }

    fn bound_doc(&self, key: &str) -> Option<String> {
        let doc = match key {
            "workers" => "workers, each with its own queue".to_string(),
            "tasks" => "tasks the producer submits, one after another (t0, t1, …)".to_string(),
            "capacity" if self.has(Bug::NoBackpressure) => {
                "tasks a worker's queue may hold; this variant's producer does not check it"
                    .to_string()
            }
            "capacity" => "tasks a worker's queue may hold".to_string(),
            "placement" => match self.config.placement {
                Placement::RoundRobin => "how the producer picks a queue: the next worker in turn".to_string(),
                Placement::LeastLoaded if self.has(Bug::StaleLoadInfo) => "how the producer picks a queue: the shortest, by the tasks it has placed on each worker (it never sees a take)".to_string(),
                Placement::LeastLoaded => "how the producer picks a queue: the shortest (the lowest index on a tie)".to_string(),
            },
            "submit" => match self.config.submit {
                Submit::Blocking => "what the producer does at a full queue: submit waits for room".to_string(),
                Submit::Try => "what the producer does at a full queue: try_submit is refused, and the producer tries again".to_string(),
            },
            "max-stalls" => "worker stalls (a long task, a descheduled thread) in one behaviour; a stall may last forever".to_string(),
            "max-imbalance" if self.config.placement == Placement::RoundRobin => {
                "not used with round-robin placement: BoundedImbalance is about least-loaded placements".to_string()
            }
            "max-imbalance" => "how many tasks longer than the shortest queue a least-loaded placement may choose (BoundedImbalance)".to_string(),
            _ => return None,
        };
        Some(doc)
    }
}

impl StealingModel {
    /// In words, what the producer is doing.
    fn producer_doing(&self, s: &StealingState) -> String {
        match s.producer {
            Producer::Ready if s.next >= self.config.tasks => {
                format!("done: submitted all {} tasks", self.config.tasks)
            }
            Producer::Ready => format!("will submit {}", task(s.next)),
            Producer::Waiting => format!(
                "waiting for room in worker {}'s queue to submit {}",
                self.target(s).0,
                task(s.next)
            ),
            Producer::Notifying { target } => format!(
                "placed {} on worker {target}; will notify",
                task(s.next.saturating_sub(1))
            ),
        }
    }

    /// The first queue above capacity.
    fn over_capacity<'a>(&self, s: &'a StealingState) -> (usize, &'a Worker) {
        s.workers
            .iter()
            .enumerate()
            .find(|(_, w)| w.queue.len() > self.config.capacity as usize)
            .unwrap_or((0, &s.workers[0]))
    }

    /// The tasks not started, and where they wait.
    fn stuck(&self, s: &StealingState) -> String {
        let mut parts = Vec::new();
        for (i, w) in s.workers.iter().enumerate() {
            if !w.queue.is_empty() {
                let state = match w.phase {
                    Phase::Running { task: t } if w.stalled => {
                        format!("stalled running {}", task(t))
                    }
                    Phase::Running { task: t } => format!("running {}", task(t)),
                    Phase::Parked => "parked".to_string(),
                    Phase::Found { task: t } => format!("about to run {}", task(t)),
                    Phase::Searching | Phase::Checked | Phase::Registered => "idle".to_string(),
                };
                parts.push(format!(
                    "{} {} forever in worker {i}'s queue (worker {i} is {state})",
                    tasks(&w.queue),
                    if w.queue.len() == 1 { "waits" } else { "wait" }
                ));
            }
        }
        let left = self.config.tasks - s.next.min(self.config.tasks);
        if left > 0 {
            parts.push(format!(
                "{} never submitted{}",
                match left {
                    1 => format!("{} is", task(s.next)),
                    _ => format!("{} and later tasks are", task(s.next)),
                },
                if s.producer == Producer::Waiting {
                    " (the producer waits for room)"
                } else {
                    ""
                }
            ));
        }
        if parts.is_empty() {
            return "a task never starts".to_string();
        }
        let mut out = parts.join(", and ");
        let sleepers: Vec<String> = s
            .workers
            .iter()
            .enumerate()
            .filter(|(i, w)| w.phase == Phase::Parked && s.workers[*i].queue.is_empty())
            .map(|(i, _)| format!("worker {i}"))
            .collect();
        if !sleepers.is_empty() {
            out += &format!(
                ", while {} {} parked",
                sleepers.join(" and "),
                if sleepers.len() == 1 { "is" } else { "are" }
            );
        }
        out
    }
}

/// `t0`, `t1`, …: a task's name.
fn task(t: u8) -> String {
    format!("t{t}")
}

fn tasks(ts: &[u8]) -> String {
    ts.iter().map(|&t| task(t)).collect::<Vec<_>>().join(", ")
}

fn plural(n: u8, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use stateright::{Checker, HasDiscoveries};

    use super::*;
    use crate::testing::walk;

    fn model(variant: &str) -> StealingModel {
        StealingModel::new(variant, StealingConfig::default()).unwrap()
    }

    fn least_loaded(variant: &str) -> StealingModel {
        let config = StealingConfig {
            placement: Placement::LeastLoaded,
            ..StealingConfig::default()
        };
        StealingModel::new(variant, config).unwrap()
    }

    fn enabled(m: &StealingModel, s: &StealingState) -> Vec<Action> {
        let mut a = Vec::new();
        m.actions(s, &mut a);
        a
    }

    use Action::{Block, Notify, Submit};
    const fn take(worker: u8, task: u8) -> Action {
        Action::Take { worker, task }
    }
    const fn stop(worker: u8) -> Action {
        Action::StopSearching { worker }
    }
    const fn finish(worker: u8) -> Action {
        Action::Finish { worker }
    }
    const fn search(worker: u8) -> Action {
        Action::Search { worker }
    }
    const fn register(worker: u8) -> Action {
        Action::Register { worker }
    }
    const fn recheck(worker: u8) -> Action {
        Action::Recheck { worker }
    }

    /// t0 on worker 0, t1 on worker 1 (round-robin), both notified.
    const TWO_PLACED: [Action; 4] = [Submit, Notify, Submit, Notify];

    /// Explores all of `m` with stateright's BFS, asserts that no safety property it names
    /// is violated, and returns the number of unique states.
    fn explore(m: StealingModel, holds: &[&'static str]) -> usize {
        let checker = m
            .checker()
            .finish_when(HasDiscoveries::AllOf(BTreeSet::from([
                "(explore everything)",
            ])))
            .spawn_bfs()
            .join();
        for p in holds {
            checker.assert_no_discovery(p);
        }
        checker.unique_state_count()
    }

    /// The fingerprint of the model: unique states of the default configuration (two
    /// workers, three tasks, queues of one, round-robin, one stall), explored to the end.
    #[test]
    fn default_configuration_has_5327_states() {
        let safety = [
            "EveryTaskRunsExactlyOnce",
            "QueueWithinCapacity",
            "BoundedImbalance",
        ];
        assert_eq!(explore(model("correct"), &safety), 5327);
    }

    /// Every variant keeps each task in one place: a take or steal is atomic here (the
    /// `deque` protocol checks that it is), so no bug of the pool duplicates or loses one.
    #[test]
    fn every_variant_runs_each_task_exactly_once() {
        for v in StealingModel::variants() {
            explore(model(v.id), &["EveryTaskRunsExactlyOnce"]);
            explore(least_loaded(v.id), &["EveryTaskRunsExactlyOnce"]);
        }
    }

    /// `no-backpressure`: the producer outruns the workers and puts t2 on worker 0's full
    /// queue; the correct producer's only step there is to wait for room.
    #[test]
    fn without_backpressure_a_queue_grows_past_its_capacity() {
        let path = [&TWO_PLACED[..], &[Submit]].concat();
        let bug = model("no-backpressure");
        let s = walk(&bug, &path);
        assert_eq!(s.workers[0].queue.as_slice(), &[0, 2]);
        assert!(!queue_within_capacity(&bug, &s));

        let m = model("correct");
        let s = walk(&m, &TWO_PLACED);
        let producer: Vec<Action> = enabled(&m, &s)
            .into_iter()
            .filter(|a| m.class_of(a) == 0)
            .collect();
        assert_eq!(producer, [Block]);
        let s = walk(&m, &[&TWO_PLACED[..], &[Block]].concat());
        assert_eq!(s.producer, Producer::Waiting);
        assert!(backpressure_applied(&m, &s));
    }

    /// The stall scenario of the workshop: round-robin gives t2 to worker 0, which then
    /// stalls in t0; worker 1 finishes t1 and finds its own queue empty.
    fn stalled_worker_zero() -> Vec<Action> {
        [
            &TWO_PLACED[..],
            &[
                take(0, 0),
                Submit,
                Notify,
                stop(0),
                Action::Stall { worker: 0 },
            ],
            &[take(1, 1), stop(1), finish(1)],
        ]
        .concat()
    }

    /// `round-robin-to-stalled-worker`: worker 1, idle, may not look into worker 0's queue,
    /// so it sleeps while t2 waits behind a stall that may last forever — only the unfair
    /// `Resume` is left. The correct worker 1 steals t2 instead.
    #[test]
    fn without_stealing_a_stalled_workers_queue_is_never_drained() {
        let bug = model("round-robin-to-stalled-worker");
        let path = [
            stalled_worker_zero(),
            vec![search(1), register(1), recheck(1)],
        ]
        .concat();
        let s = walk(&bug, &path);
        assert_eq!(s.workers[0].queue.as_slice(), &[2]);
        assert_eq!(s.workers[1].phase, Phase::Parked);
        assert_eq!(enabled(&bug, &s), [Action::Resume { worker: 0 }]);

        let m = model("correct");
        let s = walk(&m, &stalled_worker_zero());
        assert_eq!(
            enabled(&m, &s),
            [
                Action::Resume { worker: 0 },
                Action::Steal {
                    worker: 1,
                    victim: 0,
                    task: 2
                }
            ]
        );
    }

    /// `lost-wakeup` (tokio #1768, fixed by #1788): both workers find no work, the producer
    /// places a task on each and, seeing them searching, wakes nobody; both park without
    /// checking again. Nothing is enabled any more with t0 and t1 queued. The correct worker
    /// registers and checks again: it finds its task.
    #[test]
    fn a_worker_that_parks_without_checking_again_sleeps_through_its_task() {
        let path = [
            &[search(0), search(1)][..],
            &TWO_PLACED[..],
            &[
                Block,
                Action::Park { worker: 0 },
                Action::Park { worker: 1 },
            ],
        ]
        .concat();
        let bug = model("lost-wakeup");
        let s = walk(&bug, &path);
        assert!(enabled(&bug, &s).is_empty(), "{s:?}");
        assert_eq!(s.workers[0].queue.as_slice(), &[0]);

        let m = model("correct");
        let s = walk(&m, &[&path[..7], &[register(0), recheck(0)]].concat());
        assert_eq!(s.workers[0].phase, Phase::Searching, "{s:?}");
    }

    /// `stale-load-info`: after worker 1 took t1, the producer still believes both queues
    /// hold one task, picks worker 0 (the lower index) and waits for room in its full queue
    /// while worker 1's is empty. The correct least-loaded producer places t2 on worker 1.
    #[test]
    fn stale_lengths_pile_work_onto_one_worker() {
        let path = [&TWO_PLACED[..], &[take(1, 1)]].concat();
        let bug = least_loaded("stale-load-info");
        let s = walk(&bug, &[&path[..], &[Block]].concat());
        assert_eq!(s.excess, 1);
        assert!(!bounded_imbalance(&bug, &s));

        let m = least_loaded("correct");
        let s = walk(&m, &[&path[..], &[Submit]].concat());
        assert_eq!(s.workers[1].queue.as_slice(), &[2]);
        assert_eq!(s.excess, 0);
    }

    /// `no-last-searcher-wakeup`: worker 0, the only searcher, steals t1 and is handed t2 by
    /// the producer, which wakes nobody because worker 0 is searching; stopping its search
    /// worker 0 must wake the sleeping worker 1 — the bug does not, and worker 0 stalls.
    #[test]
    fn the_last_searcher_wakes_a_sleeper_when_it_stops() {
        let path = [
            &TWO_PLACED[..],
            &[take(0, 0), stop(0), finish(0)],
            &[Action::Steal {
                worker: 0,
                victim: 1,
                task: 1,
            }],
            &[search(1), register(1), recheck(1), Submit, Notify],
        ]
        .concat();
        let bug = model("no-last-searcher-wakeup");
        let s = walk(
            &bug,
            &[&path[..], &[stop(0), Action::Stall { worker: 0 }]].concat(),
        );
        assert_eq!(s.workers[1].phase, Phase::Parked);
        assert_eq!(enabled(&bug, &s), [Action::Resume { worker: 0 }]);

        let m = model("correct");
        let s = walk(&m, &[&path[..], &[stop(0)]].concat());
        assert_eq!(s.workers[1].phase, Phase::Searching, "worker 1 is woken");
    }

    /// Each `sometimes` property's example, one path each: it holds at the end and at no
    /// step before.
    #[test]
    fn sometimes_properties_are_reachable() {
        let cases: [(StealingModel, &str, Vec<Action>); 5] = [
            (
                model("correct"),
                "TaskStolen",
                vec![
                    Submit,
                    Action::Steal {
                        worker: 1,
                        victim: 0,
                        task: 0,
                    },
                ],
            ),
            (
                model("correct"),
                "BackpressureApplied",
                [&TWO_PLACED[..], &[Block]].concat(),
            ),
            (
                model("correct"),
                "WorkerParked",
                vec![search(0), register(0), recheck(0)],
            ),
            (
                model("correct"),
                "StalledWorkerHadQueuedWork",
                vec![
                    Submit,
                    take(0, 0),
                    Notify,
                    stop(0),
                    Action::Stall { worker: 0 },
                    Submit,
                    Notify,
                    Submit,
                ],
            ),
            (
                least_loaded("correct"),
                "UnequalLoadsAtPlacement",
                vec![Submit, Notify, Submit],
            ),
        ];
        for (m, name, steps) in cases {
            let p = StealingModel::prop(name).unwrap();
            for k in 0..steps.len() {
                assert!(!(p.condition)(&m, &walk(&m, &steps[..k])), "{name} at {k}");
            }
            assert!((p.condition)(&m, &walk(&m, &steps)), "{name}");
        }
    }

    /// Least-loaded placement picks a shortest queue, the lowest index on a tie.
    #[test]
    fn least_loaded_picks_the_lowest_shortest_queue() {
        let m = least_loaded("correct");
        let s = walk(&m, &[Submit]);
        assert_eq!(s.workers[0].queue.as_slice(), &[0], "tie: worker 0");
        let s = walk(&m, &[Submit, Notify, Submit]);
        assert_eq!(s.workers[1].queue.as_slice(), &[1], "worker 1 is shorter");
    }

    /// No example holds before a step is taken, in any variant.
    #[test]
    fn no_example_holds_at_the_start() {
        for v in StealingModel::variants() {
            crate::testing::no_example_at_start(&model(v.id));
            crate::testing::no_example_at_start(&least_loaded(v.id));
        }
    }

    /// Stalls and their ends are unfair, every other step weakly fair, and every step has a
    /// class.
    #[test]
    fn stalls_are_unfair_and_every_step_has_a_class() {
        let stalls = |a: &Action| matches!(a, Action::Stall { .. } | Action::Resume { .. });
        crate::testing::classes_cover_every_action(&model("correct"), stalls);
        crate::testing::classes_cover_every_action(&least_loaded("lost-wakeup"), stalls);
    }

    /// Every bound is explained in a trace, and `max-imbalance` reads as unused exactly under
    /// round-robin.
    #[test]
    fn every_bound_is_documented() {
        let config = serde_json::to_value(StealingConfig::default()).unwrap();
        for v in StealingModel::variants() {
            for m in [model(v.id), least_loaded(v.id)] {
                for key in config.as_object().unwrap().keys() {
                    let doc = m.bound_doc(key).unwrap_or_else(|| panic!("{key}"));
                    assert_eq!(
                        doc.starts_with("not used"),
                        key == "max-imbalance" && m.config.placement == Placement::RoundRobin,
                        "{key}: {doc}"
                    );
                }
            }
        }
    }

    /// Out-of-range bounds are refused with the bound's name.
    #[test]
    fn bad_bounds_are_refused() {
        let d = StealingConfig::default;
        for (config, word) in [
            (StealingConfig { workers: 1, ..d() }, "workers"),
            (StealingConfig { workers: 5, ..d() }, "workers"),
            (StealingConfig { tasks: 0, ..d() }, "tasks"),
            (StealingConfig { tasks: 65, ..d() }, "tasks"),
            (StealingConfig { capacity: 0, ..d() }, "capacity"),
            (StealingConfig { capacity: 4, ..d() }, "capacity"),
            (
                StealingConfig {
                    max_stalls: 2,
                    ..d()
                },
                "max-stalls",
            ),
        ] {
            let e = StealingModel::new("correct", config)
                .unwrap_err()
                .to_string();
            assert!(e.contains(word), "{e}");
        }
    }

    /// The violation of each property names fields of the state and participants of the
    /// diagram.
    #[test]
    fn violations_name_fields_of_the_state() {
        for v in StealingModel::variants() {
            for m in [model(v.id), least_loaded(v.id)] {
                crate::testing::each_transition(&m, |_, _, next| {
                    let Some(s) = next else { return };
                    let names: Vec<String> = m.fields(s).into_iter().map(|(n, _)| n).collect();
                    for p in StealingModel::props() {
                        if p.kind != Kind::Always || (p.condition)(&m, s) {
                            continue;
                        }
                        let violation = m.violation(p.name, s);
                        assert!(!violation.fields.is_empty(), "{}", p.name);
                        for f in &violation.fields {
                            assert!(names.contains(f), "{}: {f} not in {names:?}", p.name);
                        }
                        for who in &violation.participants {
                            assert!(m.participants().contains(who), "{who}");
                        }
                    }
                });
            }
        }
    }
}
