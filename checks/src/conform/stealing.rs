//! The pool's mapping: `coordlab_impls::pool::Event` to the `stealing` model's actions.
//!
//! The pool records its steps in the model's vocabulary, one event per model action, while
//! it holds the event log's lock for the whole step — the decision and its effect — so the
//! log is a linearization of the run: each event is replayed as the action of the same name,
//! and what the event says the pool did must be what the model does there:
//!
//! | event | model action | agreement |
//! |---|---|---|
//! | `Submit { task, worker }` | `Submit` | tasks are numbered in acceptance order; the model places the task on the same worker |
//! | `Block { worker }` | `Block` (a stutter while the model's producer already waits) | the placement chose the same worker |
//! | `Refuse { worker }` | `Refuse` | the placement chose the same worker |
//! | `Notify { target, woke }` | `Notify` | the same worker woken, or nobody |
//! | `Take`, `Steal` | `Take`, `Steal` (with the task) | enabled: the task is in that queue, the worker searching |
//! | `StopSearching { woke }` | `StopSearching` | the same sleeper woken, or nobody |
//! | `Finish { task }` | `Finish` | the worker was running that task |
//! | `Search`, `Register`, `Park` | the same | enabled |
//! | `Recheck { found }` | `Recheck` | the worker searches again exactly when it found work |
//!
//! Ids: workers are pool indices (the model's), tasks the pool's acceptance numbers (the
//! model's task ids, at most [`MAX_TASKS`]). The model's bounds come from the run: its
//! workers, queue capacity, placement and submit mode, and as many tasks as it accepted.
//! A stall is not an event: a task that runs long is the model's `Running` worker not
//! finishing yet, which needs no `Stall` action (`max-stalls` is 0 in the replay).
//!
//! # What is not checked
//! - Runs with more than one producer are [`ConformError::Unmapped`]: the model has one
//!   producer, whose steps alternate placing and notifying.
//! - A run that mixes `submit` and `try_submit` is unmapped (the model's producer does one).
//! - What the pool does after `shutdown` (it returns the unstarted tasks): the model has no
//!   shutdown; a log ends there.

use coordlab_impls::pool::Event;
use coordlab_models::Protocol;
use coordlab_models::stealing::{
    Action, Phase, Producer, StealingConfig, StealingModel, StealingState,
};
/// The model's placement and submit mode, and its task bound, which a [`RunConfig`] names.
pub use coordlab_models::stealing::{MAX_TASKS, Placement, Submit};
use serde::{Deserialize, Serialize};

use super::{ConformError, Conformance, Failure, Mismatch};

/// The pool's configuration as a run log states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunConfig {
    /// Worker threads.
    pub workers: usize,
    /// Tasks one worker's queue holds at most.
    pub capacity: usize,
    /// How a producer picks a worker.
    pub placement: Placement,
    /// What the producers called: `submit` (`blocking`) or `try_submit` (`try`).
    pub submit: Submit,
    /// Producer threads.
    pub producers: usize,
}

/// The mapping's state between events: the next task number a `Submit` must carry.
#[derive(Debug)]
pub struct StealingConformance {
    next: u64,
}

fn unmapped(why: impl Into<String>) -> ConformError {
    ConformError::Unmapped {
        step: 0,
        why: why.into(),
    }
}

/// The worker whose phase went from asleep (registered or parked) to searching.
fn woken(before: &StealingState, after: &StealingState) -> Option<usize> {
    before
        .workers
        .iter()
        .zip(&after.workers)
        .position(|(b, a)| {
            matches!(b.phase, Phase::Registered | Phase::Parked) && a.phase == Phase::Searching
        })
}

fn who(w: Option<usize>) -> String {
    w.map_or("nobody".to_string(), |w| format!("worker {w}"))
}

impl Conformance for StealingConformance {
    type Model = StealingModel;
    type Config = RunConfig;
    type Event = Event;

    fn start(
        config: &RunConfig,
        variant: &str,
        events: &[Event],
    ) -> Result<(Self, StealingModel), ConformError> {
        if config.producers != 1 {
            return Err(unmapped(format!(
                "the model has one producer, whose steps alternate placing and notifying; this run has {}",
                config.producers
            )));
        }
        let blocks = events.iter().any(|e| matches!(e, Event::Block { .. }));
        let refusals = events.iter().any(|e| matches!(e, Event::Refuse { .. }));
        if blocks && refusals {
            return Err(unmapped(
                "the run mixes submit and try_submit; the model's producer does one",
            ));
        }
        let submitted = events
            .iter()
            .filter(|e| matches!(e, Event::Submit { .. }))
            .count();
        if submitted > MAX_TASKS {
            return Err(unmapped(format!(
                "the run accepted {submitted} tasks; the model has at most {MAX_TASKS}"
            )));
        }
        let small = |n: usize, what: &str| {
            u8::try_from(n).map_err(|_| unmapped(format!("{what} {n} is out of the model's range")))
        };
        let model_config = StealingConfig {
            workers: small(config.workers, "workers")?,
            tasks: small(submitted.max(1), "tasks")?,
            capacity: small(config.capacity, "capacity")?,
            placement: config.placement,
            submit: config.submit,
            max_stalls: 0,
            max_imbalance: 0,
        };
        let model = StealingModel::new(variant, model_config).map_err(|e| match e {
            coordlab_models::ModelError::UnknownVariant { .. } => {
                ConformError::BadLog(e.to_string())
            }
            coordlab_models::ModelError::BadConfig(why) => {
                unmapped(format!("the run's configuration has no model: {why}"))
            }
        })?;
        Ok((StealingConformance { next: 0 }, model))
    }

    fn actions(
        &mut self,
        model: &StealingModel,
        state: &StealingState,
        event: &Event,
    ) -> Result<Vec<Action>, Failure> {
        let workers = usize::from(model.config().workers);
        let worker = |w: usize| -> Result<u8, Failure> {
            if w < workers {
                Ok(w as u8)
            } else {
                Err(
                    ConformError::BadLog(format!("worker {w} in a pool of {workers} workers"))
                        .into(),
                )
            }
        };
        let task = |t: u64| -> Result<u8, Failure> {
            u8::try_from(t)
                .ok()
                .filter(|&t| usize::from(t) < MAX_TASKS)
                .ok_or_else(|| {
                    ConformError::BadLog(format!("task t{t}: beyond the tasks the run accepted"))
                        .into()
                })
        };
        Ok(match *event {
            Event::Submit { task: t, worker: w } => {
                worker(w)?;
                task(t)?;
                if t != self.next {
                    return Err(Mismatch::new(
                        "task number",
                        format!("t{} (tasks are numbered in acceptance order)", self.next),
                        format!("t{t}"),
                    )
                    .into());
                }
                self.next += 1;
                vec![Action::Submit]
            }
            Event::Block { worker: w } => {
                worker(w)?;
                if state.producer == Producer::Waiting {
                    Vec::new() // woken without room yet: still waiting
                } else {
                    vec![Action::Block]
                }
            }
            Event::Refuse { worker: w } => {
                worker(w)?;
                vec![Action::Refuse]
            }
            Event::Notify { target, woke } => {
                worker(target)?;
                if let Some(w) = woke {
                    worker(w)?;
                }
                vec![Action::Notify]
            }
            Event::Take { worker: w, task: t } => vec![Action::Take {
                worker: worker(w)?,
                task: task(t)?,
            }],
            Event::Steal {
                worker: w,
                victim,
                task: t,
            } => vec![Action::Steal {
                worker: worker(w)?,
                victim: worker(victim)?,
                task: task(t)?,
            }],
            Event::StopSearching { worker: w, woke } => {
                if let Some(o) = woke {
                    worker(o)?;
                }
                vec![Action::StopSearching { worker: worker(w)? }]
            }
            Event::Finish { worker: w, task: t } => {
                task(t)?;
                vec![Action::Finish { worker: worker(w)? }]
            }
            Event::Search { worker: w } => vec![Action::Search { worker: worker(w)? }],
            Event::Register { worker: w } => vec![Action::Register { worker: worker(w)? }],
            Event::Recheck { worker: w, .. } => vec![Action::Recheck { worker: worker(w)? }],
            Event::Park { worker: w } => vec![Action::Park { worker: worker(w)? }],
        })
    }

    fn agree(
        &mut self,
        model: &StealingModel,
        before: &StealingState,
        after: &StealingState,
        event: &Event,
    ) -> Result<(), Mismatch> {
        match *event {
            Event::Submit { task, worker } => {
                let placed = after
                    .workers
                    .iter()
                    .position(|w| w.queue.contains(&(task as u8)));
                if placed != Some(worker) {
                    return Err(Mismatch::new(
                        format!("the queue t{task} joins"),
                        who(placed),
                        format!("worker {worker}"),
                    ));
                }
            }
            Event::Block { worker } | Event::Refuse { worker } => {
                let target = usize::from(model.target_of(before));
                if target != worker {
                    return Err(Mismatch::new(
                        "the queue the placement chose (found full)",
                        format!("worker {target}"),
                        format!("worker {worker}"),
                    ));
                }
            }
            Event::Notify { target, woke } => {
                if before.producer
                    != (Producer::Notifying {
                        target: target as u8,
                    })
                {
                    return Err(Mismatch::new(
                        "the worker the producer notifies for",
                        format!("{:?}", before.producer),
                        format!("worker {target}"),
                    ));
                }
                let model_woke = woken(before, after);
                if model_woke != woke {
                    return Err(Mismatch::new("worker woken", who(model_woke), who(woke)));
                }
            }
            Event::StopSearching { woke, .. } => {
                let model_woke = woken(before, after);
                if model_woke != woke {
                    return Err(Mismatch::new("worker woken", who(model_woke), who(woke)));
                }
            }
            Event::Finish { worker, task } => {
                let running = match before.workers[worker].phase {
                    Phase::Running { task } => format!("t{task}"),
                    other => format!("{other:?}"),
                };
                if running != format!("t{task}") {
                    return Err(Mismatch::new(
                        format!("the task worker {worker} finishes"),
                        running,
                        format!("t{task}"),
                    ));
                }
            }
            Event::Recheck { worker, found } => {
                let searches = after.workers[worker].phase == Phase::Searching;
                if searches != found {
                    return Err(Mismatch::new(
                        format!("whether worker {worker}'s second look finds work"),
                        if searches {
                            "it finds work"
                        } else {
                            "it finds none"
                        },
                        if found {
                            "it found work"
                        } else {
                            "it found none"
                        },
                    ));
                }
            }
            Event::Take { .. }
            | Event::Steal { .. }
            | Event::Search { .. }
            | Event::Register { .. }
            | Event::Park { .. } => {}
        }
        Ok(())
    }

    fn finish(&mut self, _: &StealingModel, _: &StealingState) -> Result<(), Mismatch> {
        Ok(())
    }
}
