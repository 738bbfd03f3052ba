//! The pool's driver: `stealing` model behaviours run on `coordlab_impls::pool`'s
//! [`SteppedPool`], the pool with its protocol and queues but no threads, so each model step
//! is one call.
//!
//! | model action | on the pool |
//! |---|---|
//! | `Submit` | `try_submit` of a task: it must be accepted, on the worker the model places it on |
//! | `Block` | `try_submit` refused at the full queue the model finds full (the stepped pool has no blocking `submit`; the producer then waits, as the model's) |
//! | `Refuse` | the same, the producer ready again |
//! | `Notify` | a stutter: `try_submit` notified already, and its choice is compared here |
//! | `Take`, `Steal`, `StopSearching`, `Finish`, `Search`, `Register`, `Recheck`, `Park` | `step(worker)`, whose result must be that action (the same task, the same victim) |
//! | `Stall`, `Resume` | the driver stops (resumes) stepping that worker |
//!
//! The abstraction ([`Driver::observe`]) writes the pool as a model state: each worker's
//! phase (`SteppedPool::phases`) and queue, the producer's phase, the round-robin turn, the
//! placements counted per worker, and the ghosts (tasks started,
//! stolen, backpressure, parked, the imbalance of least-loaded choices) — all from the pool's
//! own event log, which the pool records in the model's vocabulary.
//!
//! # What is not checked
//! - `try_submit` places and notifies in one call, so a behaviour that takes a worker's step
//!   between a `Submit` and its `Notify` is not one the stepped pool can follow: random walks
//!   do not take such steps ([`Driver::admits`]), and no committed counterexample has one.
//! - Which queued task a worker takes, and whose queue it steals from, is the pool's choice
//!   (its own queue first, then the others from the next index on, oldest task first); a
//!   walk takes only that choice.

use coordlab_impls::pool::{Deviation, Event, Phase as PoolPhase, Placement as PoolPlacement};
use coordlab_impls::pool::{Pool, Step, SteppedPool};
use coordlab_models::Protocol;
use coordlab_models::stealing::{
    Action, Bug, Phase, Placement, Producer, StealingModel, StealingState,
};
use stateright::Model;

use super::{Driver, Refusal};

/// The stepped pool and what the driver keeps beside it.
pub struct StealingDriver {
    pool: SteppedPool,
    /// Events of the pool's log already taken into account.
    seen: usize,
    /// The state the pool is in, as far as its log says, in the model's terms.
    state: StealingState,
    /// A wake-up `try_submit` made that the model's `Notify` has not taken yet: the worker
    /// woken and its phase before.
    pending: Option<(usize, Phase)>,
}

fn refused(by: &str, why: impl Into<String>) -> Refusal {
    Refusal::new(by, why)
}

impl StealingDriver {
    /// Takes the pool's new events into `self.state`.
    fn absorb(&mut self, model: &StealingModel) -> Vec<Event> {
        let events = self.pool.events();
        let new: Vec<Event> = events[self.seen..].to_vec();
        self.seen = events.len();
        for e in &new {
            apply(model, &mut self.state, e);
        }
        new
    }

    fn step_worker(&mut self, model: &StealingModel, w: u8) -> Result<Step, Refusal> {
        if self.state.workers[w as usize].stalled {
            return Err(refused("the driver", format!("worker {w} is stalled")));
        }
        let step = self.pool.step(usize::from(w));
        self.absorb(model);
        Ok(step)
    }
}

/// The model's phase of a pool phase, with the task a running (or found) worker holds.
fn phase(p: PoolPhase, task: u8) -> Phase {
    match p {
        PoolPhase::Searching => Phase::Searching,
        PoolPhase::Checked => Phase::Checked,
        PoolPhase::Registered => Phase::Registered,
        PoolPhase::Parked => Phase::Parked,
        PoolPhase::Found => Phase::Found { task },
        PoolPhase::Running => Phase::Running { task },
    }
}

/// `state` after the pool's event `e`: what the pool did, in the model's terms.
fn apply(model: &StealingModel, s: &mut StealingState, e: &Event) {
    // The model's own ghost rules, applied to what the log says happened.
    let chose = |s: &mut StealingState, target: usize| {
        let before = s.clone();
        model.chose(s, &before, target as u8);
    };
    match *e {
        Event::Submit { task, worker } => {
            chose(s, worker);
            let t = task as u8;
            let q = &mut s.workers[worker].queue;
            let at = q.partition_point(|&x| x < t);
            let _ = q.try_insert(at, t);
            s.view[worker] += 1;
            s.next += 1;
            s.turn = ((worker + 1) % s.workers.len()) as u8;
            s.producer = Producer::Notifying {
                target: worker as u8,
            };
        }
        Event::Block { worker } | Event::Refuse { worker } => {
            chose(s, worker);
            s.backpressure = true;
        }
        Event::Notify { .. } => s.producer = Producer::Ready,
        Event::Take { worker, task } | Event::Steal { worker, task, .. } => {
            if let Event::Steal { victim, .. } = *e {
                s.stolen = true;
                s.workers[victim].queue.retain(|x| u64::from(*x) != task);
            } else {
                s.workers[worker].queue.retain(|x| u64::from(*x) != task);
            }
            let _ = s.record_start(task as u8);
        }
        Event::Recheck { found: false, .. } | Event::Park { .. } => s.parked = true,
        _ => {}
    }
}

impl Driver for StealingDriver {
    type Model = StealingModel;

    fn start(model: &StealingModel, deviation: bool) -> Result<Self, String> {
        let c = model.config();
        let deviation = match model.bug().filter(|_| deviation) {
            None => None,
            Some(Bug::RoundRobinToStalledWorker) => Some(Deviation::RoundRobinToStalledWorker),
            Some(Bug::NoBackpressure) => Some(Deviation::NoBackpressure),
            Some(Bug::LostWakeup) => Some(Deviation::LostWakeup),
            Some(Bug::StaleLoadInfo) => Some(Deviation::StaleLoadInfo),
            Some(Bug::NoLastSearcherWakeup) => Some(Deviation::NoLastSearcherWakeup),
        };
        let pool = Pool::builder()
            .workers(usize::from(c.workers))
            .capacity(usize::from(c.capacity))
            .placement(match c.placement {
                Placement::RoundRobin => PoolPlacement::RoundRobin,
                Placement::LeastLoaded => PoolPlacement::LeastLoaded,
            })
            .record(true)
            .deviation(deviation)
            .build_stepped()
            .map_err(|e| format!("no pool for this configuration: {e}"))?;
        let state = model
            .init_states()
            .into_iter()
            .next()
            .ok_or("the model has no initial state")?;
        Ok(StealingDriver {
            pool,
            seen: 0,
            state,
            pending: None,
        })
    }

    fn step(
        &mut self,
        model: &StealingModel,
        before: &StealingState,
        action: &Action,
        after: &StealingState,
    ) -> Result<(), Refusal> {
        let pool = "the pool";
        match *action {
            Action::Submit | Action::Block | Action::Refuse => {
                let woken_before: Vec<Phase> = self
                    .pool
                    .phases()
                    .into_iter()
                    .enumerate()
                    .map(|(w, p)| phase(p, self.holding(w)))
                    .collect();
                let result = self.pool.try_submit(|| {});
                let events = self.absorb(model);
                match (action, result) {
                    (Action::Submit, Ok(())) => {
                        if let Some(&Event::Notify { woke: Some(w), .. }) =
                            events.iter().find(|e| matches!(e, Event::Notify { .. }))
                        {
                            self.pending = Some((w, woken_before[w]));
                        }
                        // The model's producer notifies next: until then, it is notifying.
                        if let Some(Event::Submit { worker, .. }) = events.first() {
                            self.state.producer = Producer::Notifying {
                                target: *worker as u8,
                            };
                        }
                    }
                    (Action::Submit, Err(e)) => {
                        return Err(refused(pool, format!("try_submit is refused: {e}")));
                    }
                    (_, Ok(())) => {
                        let placed = events.iter().find_map(|e| match e {
                            Event::Submit { worker, .. } => Some(*worker),
                            _ => None,
                        });
                        return Err(refused(
                            pool,
                            format!(
                                "it does not wait: it places t{} at once on worker {}'s queue, where the trace finds worker {}'s queue full",
                                before.next,
                                placed.map_or("?".to_string(), |w| w.to_string()),
                                model.target_of(before)
                            ),
                        ));
                    }
                    (_, Err(_)) => {
                        if *action == Action::Block {
                            self.state.producer = Producer::Waiting;
                        }
                    }
                }
            }
            Action::Notify => {
                self.pending = None;
                self.state.producer = Producer::Ready;
            }
            Action::Stall { worker } => {
                self.state.workers[worker as usize].stalled = true;
                self.state.stalls += 1;
            }
            Action::Resume { worker } => self.state.workers[worker as usize].stalled = false,
            Action::Take { worker, .. }
            | Action::Steal { worker, .. }
            | Action::StopSearching { worker, .. }
            | Action::Finish { worker, .. }
            | Action::Search { worker, .. }
            | Action::Register { worker, .. }
            | Action::Recheck { worker, .. }
            | Action::Park { worker, .. } => {
                let step = self.step_worker(model, worker)?;
                let want = match *action {
                    Action::Take { task, .. } => Step::Took {
                        task: u64::from(task),
                        victim: None,
                    },
                    Action::Steal { victim, task, .. } => Step::Took {
                        task: u64::from(task),
                        victim: Some(usize::from(victim)),
                    },
                    Action::StopSearching { .. } => match step {
                        Step::StoppedSearching { .. } => step,
                        _ => Step::StoppedSearching { woke: None },
                    },
                    Action::Finish { .. } => match before.workers[worker as usize].phase {
                        Phase::Running { task } => Step::Finished {
                            task: u64::from(task),
                        },
                        _ => return Err(refused("the driver", "the model's worker runs no task")),
                    },
                    Action::Search { .. } => Step::Searched,
                    Action::Register { .. } => Step::Registered,
                    Action::Recheck { .. } => Step::Rechecked {
                        found: after.workers[worker as usize].phase == Phase::Searching,
                    },
                    Action::Park { .. } => Step::Parked,
                    _ => step,
                };
                if step != want {
                    return Err(refused(
                        &format!("worker {worker}"),
                        format!(
                            "its next step is {}, not {}",
                            step_words(step),
                            step_words(want)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn admits(&mut self, _: &StealingModel, state: &StealingState, action: &Action) -> bool {
        if matches!(state.producer, Producer::Notifying { .. }) {
            // try_submit notified already: nothing may come between.
            return *action == Action::Notify;
        }
        let n = state.workers.len();
        match *action {
            // The pool's choice: its own queue's oldest task, else the next worker's (from
            // the next index on) oldest.
            Action::Take { worker, task } => {
                state.workers[worker as usize].queue.first() == Some(&task)
            }
            Action::Steal {
                worker,
                victim,
                task,
            } => {
                let first = (1..n)
                    .map(|k| (usize::from(worker) + k) % n)
                    .find(|&v| !state.workers[v].queue.is_empty());
                first == Some(usize::from(victim))
                    && state.workers[usize::from(victim)].queue.first() == Some(&task)
            }
            _ => true,
        }
    }

    fn observe(&mut self, model: &StealingModel) -> StealingState {
        self.absorb(model);
        // Phases come from the pool itself; the rest from its log.
        let mut s = self.state.clone();
        for (w, p) in self.pool.phases().into_iter().enumerate() {
            s.workers[w].phase = phase(p, self.holding(w));
        }
        if let Some((w, was)) = self.pending {
            s.workers[w].phase = was; // woken by the notification the model has not taken yet
        }
        s
    }
}

impl StealingDriver {
    /// The task worker `w` took last, from the log.
    fn holding(&self, w: usize) -> u8 {
        self.pool
            .events()
            .iter()
            .rev()
            .find_map(|e| match *e {
                Event::Take { worker, task } | Event::Steal { worker, task, .. } if worker == w => {
                    Some(task as u8)
                }
                _ => None,
            })
            .unwrap_or(0)
    }
}

/// A worker's step in words, for a refusal.
fn step_words(step: Step) -> String {
    match step {
        Step::Took { task, victim: None } => format!("to take t{task} from its own queue"),
        Step::Took {
            task,
            victim: Some(v),
        } => format!("to steal t{task} from worker {v}'s queue"),
        Step::StoppedSearching { woke: Some(w) } => {
            format!("to stop searching and wake worker {w}")
        }
        Step::StoppedSearching { woke: None } => "to stop searching".to_string(),
        Step::Finished { task } => format!("to finish t{task}"),
        Step::Searched => "to find no work".to_string(),
        Step::Registered => "to register as a sleeper".to_string(),
        Step::Rechecked { found: true } => "to look once more and find work".to_string(),
        Step::Rechecked { found: false } => "to look once more, find nothing and park".to_string(),
        Step::Parked => "to park at once".to_string(),
        Step::Idle => "nothing (it is asleep, or has nothing to do)".to_string(),
        Step::Exit => "to exit (the pool is shut down)".to_string(),
    }
}
