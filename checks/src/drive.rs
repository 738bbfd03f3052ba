//! Model-based testing: model behaviours driven against the implementation.
//!
//! The other direction of [`crate::conform`]. A model behaviour — a committed counterexample
//! (`counterexamples/<protocol>/<variant>/*.json`) or a seeded random walk — is executed on
//! the real implementation, step by step, through its public API with a manual clock: each
//! model action becomes the API calls it stands for (one model tick is one millisecond), and
//! after each step the implementation's state, seen through the protocol's *abstraction*
//! ([`Driver::observe`]: the implementation's state written as a model state), must equal the
//! state the model reached.
//!
//! A counterexample is driven twice:
//! - on the implementation **with the trace's deviation** (the implementation's bug of the
//!   same id as the model's variant): every step must be taken and agree, and the property
//!   the trace violates must fail on the implementation's own states — the last one for an
//!   `always` property; for a liveness lasso, the implementation must come back to the state
//!   the cycle starts from, so it can loop forever, with the property's goal failing where
//!   its kind needs it to (all along for `eventually` and `leads-to`, all round the cycle
//!   for `always-eventually`, where the cycle starts for `eventually-always`);
//! - on the **correct** implementation: some step the bug needs must be refused, and the
//!   report says which step and what refused it (an API error, the correct consumer's
//!   discipline, or a state that no longer agrees with the trace's).
//!
//! # What is not checked
//! - Only the states the protocol's abstraction observes; a difference it does not map is
//!   invisible (see each driver's docs).
//! - A model choice the implementation makes itself (which visible message a receive
//!   delivers) must be the implementation's choice too: a trace that chooses otherwise
//!   stops with [`Outcome::Departed`] at that step, naming the choice, and proves nothing
//!   there.
//! - One run per behaviour, on one thread: driving checks the implementation's sequential
//!   behaviour; its races are the loom and shuttle suites' part.

use std::fmt;

use coordlab_models::{Kind, Protocol};
use stateright::Model;

use crate::trace::{self, TraceFile, Typed};

pub mod election;
pub mod queue;
pub mod raft;
pub mod stealing;

/// Something the implementation refused, or a step the correct implementation does not take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Which part of the implementation refused (`the queue`, `the consumer`).
    pub by: String,
    /// Why, in the implementation's words (an error's message, or the rule that applies).
    pub why: String,
}

impl Refusal {
    /// A refusal by `by` because of `why`.
    pub fn new(by: impl Into<String>, why: impl Into<String>) -> Refusal {
        Refusal {
            by: by.into(),
            why: why.into(),
        }
    }
}

/// One protocol's driver: the implementation, built for a model configuration, that takes
/// model actions through its public API.
pub trait Driver: Sized {
    /// The model whose behaviours are driven.
    type Model: Protocol + Clone;

    /// A fresh implementation for `model`'s configuration: with the deviation of the model's
    /// variant if `deviation` (the implementation's bug of the same id), else the correct
    /// one. `Err` when the configuration has no implementation counterpart.
    fn start(model: &Self::Model, deviation: bool) -> Result<Self, String>;

    /// Takes `action` (enabled in the model in `before`, leading to `after`) on the
    /// implementation. `Err` when the implementation refuses what the step needs (an API
    /// error where the model's step succeeds) or would not take it (a consumer's
    /// discipline); an answer the model also gives is not a refusal.
    fn step(
        &mut self,
        model: &Self::Model,
        before: &<Self::Model as stateright::Model>::State,
        action: &<Self::Model as stateright::Model>::Action,
        after: &<Self::Model as stateright::Model>::State,
    ) -> Result<(), Refusal>;

    /// Whether the implementation would make the model's choice `action` in `state`: a
    /// random walk driven against it takes only such actions (for the queue, a receive of
    /// the message the queue delivers next). Default: every action.
    fn admits(
        &mut self,
        _model: &Self::Model,
        _state: &<Self::Model as stateright::Model>::State,
        _action: &<Self::Model as stateright::Model>::Action,
    ) -> bool {
        true
    }

    /// The abstraction: the implementation's state written as a model state.
    fn observe(&mut self, model: &Self::Model) -> <Self::Model as stateright::Model>::State;

    /// `state` with the model's and the implementation's equivalent forms made one (for
    /// the queue: a message due for the dead-letter queue is in it, as the implementation
    /// moves it at once). Applied to both sides before they are compared.
    fn normalize(
        _model: &Self::Model,
        state: &<Self::Model as stateright::Model>::State,
    ) -> <Self::Model as stateright::Model>::State {
        state.clone()
    }
}

/// How a behaviour went on the implementation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step was taken and agreed with the model.
    Followed {
        /// Steps taken.
        steps: usize,
        /// For a counterexample, the property judged on the implementation's own states:
        /// `Ok(how it fails)`, or `Err(why it does not)`. `Err("not judged")` for a walk.
        violated: Result<String, String>,
    },
    /// The implementation refused step `step`.
    Refused {
        /// The step (1-based).
        step: usize,
        /// The model action, described.
        action: String,
        /// What refused it.
        refusal: Refusal,
    },
    /// After step `step` the implementation's state differs from the model's.
    Departed {
        /// The step (1-based; 0: the initial states differ).
        step: usize,
        /// The model action, described.
        action: String,
        /// `(field, model, implementation)` for every field that differs.
        fields: Vec<(String, String, String)>,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Followed {
                steps,
                violated: Ok(how),
            } => write!(f, "all {steps} steps taken; {how}"),
            Outcome::Followed {
                steps,
                violated: Err(why),
            } => write!(
                f,
                "all {steps} steps taken, every state as the model's; the property holds on the implementation ({why})"
            ),
            Outcome::Refused {
                step,
                action,
                refusal,
            } => write!(
                f,
                "step {step} ({action}) refused by {}: {}",
                refusal.by, refusal.why
            ),
            Outcome::Departed {
                step,
                action,
                fields,
            } => {
                write!(
                    f,
                    "after step {step} ({action}) the implementation differs:"
                )?;
                for (name, model, implementation) in fields {
                    write!(
                        f,
                        "\n    {name}: model `{model}`, implementation `{implementation}`"
                    )?;
                }
                Ok(())
            }
        }
    }
}

type State<D> = <<D as Driver>::Model as stateright::Model>::State;
type Action<D> = <<D as Driver>::Model as stateright::Model>::Action;

/// The implementation's state observed, if it is `expected` (as the driver normalizes);
/// else the fields that differ.
fn agree<D: Driver>(
    driver: &mut D,
    model: &D::Model,
    expected: &State<D>,
) -> Result<State<D>, Vec<(String, String, String)>> {
    let observed = driver.observe(model);
    let fields = trace::changes(
        model,
        &D::normalize(model, expected),
        &D::normalize(model, &observed),
    );
    if fields.is_empty() {
        Ok(observed)
    } else {
        Err(fields)
    }
}

/// Takes step `step` (`action` from `before` to `after`) on the implementation and compares
/// the states: the implementation's state after it, or how it stopped.
fn take<D: Driver>(
    driver: &mut D,
    model: &D::Model,
    step: usize,
    (before, action, after): (&State<D>, &Action<D>, &State<D>),
) -> Result<State<D>, Outcome> {
    let described = model.describe(before, action);
    if let Err(refusal) = driver.step(model, before, action, after) {
        return Err(Outcome::Refused {
            step,
            action: described,
            refusal,
        });
    }
    agree(driver, model, after).map_err(|fields| Outcome::Departed {
        step,
        action: described,
        fields,
    })
}

fn initial_departure(fields: Vec<(String, String, String)>) -> Outcome {
    Outcome::Departed {
        step: 0,
        action: "the initial state".into(),
        fields,
    }
}

/// Takes `steps` from `init` on a fresh implementation (with the model variant's deviation
/// if `deviation`), comparing every state. Returns the outcome and the implementation's
/// states (observed) up to where it stopped.
pub fn follow<D: Driver>(
    model: &D::Model,
    deviation: bool,
    init: &State<D>,
    steps: &[(Action<D>, State<D>)],
) -> Result<(Outcome, Vec<State<D>>), String> {
    let mut driver = D::start(model, deviation)?;
    let mut observed = match agree(&mut driver, model, init) {
        Ok(s) => vec![s],
        Err(fields) => return Ok((initial_departure(fields), Vec::new())),
    };
    let mut before = init;
    for (i, (action, after)) in steps.iter().enumerate() {
        match take(&mut driver, model, i + 1, (before, action, after)) {
            Ok(s) => observed.push(s),
            Err(outcome) => return Ok((outcome, observed)),
        }
        before = after;
    }
    let outcome = Outcome::Followed {
        steps: steps.len(),
        violated: Err("not judged".into()),
    };
    Ok((outcome, observed))
}

/// A counterexample driven on both implementations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// `protocol/variant`.
    pub model: String,
    /// The property the trace violates.
    pub property: String,
    /// The first step the correct model does not take as the trace does (the step the bug
    /// needs): where the correct implementation must stop.
    pub bug_step: Option<usize>,
    /// On the implementation with the deviation.
    pub with_deviation: Outcome,
    /// On the correct implementation.
    pub correct: Outcome,
    /// The trace is a behaviour of the correct protocol (a liveness lasso that fairness
    /// alone allows, such as Raft's split votes under weak fairness): the correct
    /// implementation must follow it and fail the property as well.
    pub correct_trace: bool,
}

impl Report {
    /// Whether the deviation reproduced the violation and the correct implementation
    /// refused, or departed from the trace at, the step the bug needs — or, where the
    /// correct model takes every step too, took them all without the violation.
    pub fn as_expected(&self) -> bool {
        let reproduced = matches!(
            self.with_deviation,
            Outcome::Followed {
                violated: Ok(_),
                ..
            }
        );
        if self.correct_trace {
            let also = matches!(
                self.correct,
                Outcome::Followed {
                    violated: Ok(_),
                    ..
                }
            );
            return reproduced && also;
        }
        let stopped = match self.correct {
            Outcome::Refused { step, .. } | Outcome::Departed { step, .. } => {
                self.bug_step == Some(step)
            }
            // Every step taken (the correct model takes them all too): the property must
            // hold on the correct implementation's states.
            Outcome::Followed { ref violated, .. } => self.bug_step.is_none() && violated.is_err(),
        };
        reproduced && stopped
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}:", self.model, self.property)?;
        match self.bug_step {
            None if self.correct_trace => writeln!(
                f,
                "  a behaviour of the correct protocol: the correct implementation must follow it too"
            )?,
            Some(k) => writeln!(
                f,
                "  the bug acts at step {k}: the correct model does not take it alike"
            )?,
            None => writeln!(f, "  the correct model takes every step alike")?,
        }
        writeln!(f, "  with the deviation: {}", self.with_deviation)?;
        write!(f, "  correct:            {}", self.correct)
    }
}

/// Drives the counterexample `t` (decoded from `file`) on the implementation with the
/// trace's deviation and on the correct one.
pub fn counterexample<D: Driver>(file: &TraceFile, t: &Typed<D::Model>) -> Result<Report, String> {
    let model = &t.model;
    let (outcome, observed) = follow::<D>(model, true, &t.init, &t.steps)?;
    let with_deviation = match outcome {
        Outcome::Followed { steps, .. } => {
            // The property, judged on the implementation's own states.
            let on_impl = on_states::<D>(t.model.clone(), t, &observed);
            let violated =
                trace::violation(file, &on_impl).map(|()| violation_text::<D::Model>(file));
            Outcome::Followed { steps, violated }
        }
        other => other,
    };
    let (correct, observed) = follow::<D>(model, false, &t.init, &t.steps)?;
    let correct = match correct {
        // Every step taken: the property, judged by the correct model on the correct
        // implementation's states, must hold (for a bug that lives in a judgement, such as
        // a leader's trust in its lease, rather than in a step).
        Outcome::Followed { steps, .. } => {
            let judge =
                D::Model::new("correct", model.config().clone()).map_err(|e| e.to_string())?;
            let on_impl = on_states::<D>(judge, t, &observed);
            let violated =
                trace::violation(file, &on_impl).map(|()| violation_text::<D::Model>(file));
            Outcome::Followed { steps, violated }
        }
        other => other,
    };
    Ok(Report {
        model: format!("{}/{}", file.protocol, file.variant),
        property: file.property.clone(),
        bug_step: bug_step::<D>(t)?,
        with_deviation,
        correct,
        correct_trace: file.variant == "correct",
    })
}

/// The behaviour `t` with the implementation's states (`observed`, normalized) in place of
/// the model's, judged by `judge`.
fn on_states<D: Driver>(
    judge: D::Model,
    t: &Typed<D::Model>,
    observed: &[State<D>],
) -> Typed<D::Model> {
    let init = D::normalize(&judge, &observed[0]);
    let steps = t
        .steps
        .iter()
        .zip(&observed[1..])
        .map(|((a, _), s)| (a.clone(), D::normalize(&judge, s)))
        .collect();
    Typed::new(judge, init, steps)
}

/// The first step of `t` that the correct model does not take the same way: its action is
/// not enabled there, or it leads to another state (compared as the driver normalizes).
/// `None` if the correct model takes every step alike.
fn bug_step<D: Driver>(t: &Typed<D::Model>) -> Result<Option<usize>, String> {
    let correct = D::Model::new("correct", t.model.config().clone()).map_err(|e| e.to_string())?;
    let mut before = t.init.clone();
    for (i, (action, after)) in t.steps.iter().enumerate() {
        let mut enabled = Vec::new();
        correct.actions(&before, &mut enabled);
        let same = enabled.contains(action)
            && correct
                .next_state(&before, action.clone())
                .is_some_and(|n| D::normalize(&correct, &n) == D::normalize(&t.model, after));
        if !same {
            return Ok(Some(i + 1));
        }
        before = after.clone();
    }
    Ok(None)
}

fn violation_text<P: Protocol>(file: &TraceFile) -> String {
    let kind = P::prop(&file.property).map(|p| p.kind);
    match (kind, file.cycle_start) {
        (Some(Kind::Always), _) => {
            format!("{} fails on the implementation's last state", file.property)
        }
        (Some(Kind::AlwaysEventually), Some(k)) => format!(
            "{} fails on the implementation: it returns to its state after step {k} without the goal holding anywhere on the cycle, and can repeat the cycle forever",
            file.property
        ),
        (Some(Kind::EventuallyAlways), Some(k)) => format!(
            "{} fails on the implementation: it returns to its state after step {k}, where the goal fails, and can repeat the cycle forever",
            file.property
        ),
        (_, Some(k)) => format!(
            "{} fails on the implementation: it returns to its state after step {k} without the goal ever holding, and can repeat the cycle forever",
            file.property
        ),
        _ => format!("{} fails on the implementation", file.property),
    }
}

/// The protocols with a driver.
pub const PROTOCOLS: &[&str] = &["queue", "election", "stealing", "raft"];

/// Drives a counterexample file of any protocol with a driver. `Err` (bad input) when the
/// protocol has no driver or the trace does not decode or reproduce on its own model.
pub fn counterexample_file(file: &TraceFile) -> Result<Report, String> {
    match file.protocol.as_str() {
        "queue" => checked::<queue::QueueDriver>(file),
        "election" => checked::<election::ElectionDriver>(file),
        "stealing" => checked::<stealing::StealingDriver>(file),
        "raft" => checked::<raft::RaftDriver>(file),
        other => Err(format!(
            "no driver for protocol `{other}` (known: {})",
            PROTOCOLS.join(", ")
        )),
    }
}

fn checked<D: Driver>(file: &TraceFile) -> Result<Report, String> {
    let t = Typed::<D::Model>::decode(file, &file.variant).map_err(|e| e.to_string())?;
    match trace::replay(file, &t) {
        trace::Replay::Reproduced => counterexample::<D>(file, &t),
        trace::Replay::Diverged(why) => Err(format!(
            "the trace does not reproduce on its own model ({}/{}): {why}",
            file.protocol, file.variant
        )),
    }
}

/// What random walks driven against the correct implementation found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walks {
    /// Walks driven.
    pub walks: u64,
    /// Steps taken in all.
    pub steps: u64,
    /// The first walk that did not follow the model: its seed and what happened.
    pub failure: Option<(u64, Outcome)>,
}

/// Drives seeded random walks of `model` against the correct implementation: walk `k`
/// (seed `k`) starts from an initial state and takes, up to `depth` times, a uniformly
/// chosen step among those that change the state, stay within the model's bounds and that
/// the implementation would choose ([`Driver::admits`]), comparing the implementation's state with the model's after each.
/// Stops at the first walk that does not follow.
pub fn walks<D: Driver>(
    model: &D::Model,
    seeds: std::ops::Range<u64>,
    depth: usize,
) -> Result<Walks, String> {
    let mut out = Walks {
        walks: 0,
        steps: 0,
        failure: None,
    };
    let inits = model.init_states();
    if inits.is_empty() {
        return Ok(out);
    }
    for seed in seeds {
        let mut rng = crate::simulate::SplitMix64(seed);
        let mut state = inits[rng.below(inits.len())].clone();
        let mut driver = D::start(model, false)?;
        out.walks += 1;
        if let Err(fields) = agree(&mut driver, model, &state) {
            out.failure = Some((seed, initial_departure(fields)));
            return Ok(out);
        }
        for step in 1..=depth {
            let mut next = Vec::new();
            for (action, n) in model.next_steps(&state) {
                // Within the model's bounds: a step out of them is no state of a check.
                if n != state && model.within_boundary(&n) && driver.admits(model, &state, &action)
                {
                    next.push((action, n));
                }
            }
            if next.is_empty() {
                break;
            }
            let (action, after) = next.swap_remove(rng.below(next.len()));
            out.steps += 1;
            if let Err(outcome) = take(&mut driver, model, step, (&state, &action, &after)) {
                out.failure = Some((seed, outcome));
                return Ok(out);
            }
            state = after;
        }
    }
    Ok(out)
}
