//! Conformance: an implementation's event log replayed on the protocol's model.
//!
//! An implementation records its steps in the model's vocabulary (for the queue,
//! `coordlab_impls::queue::EventRecord`; for the election, `coordlab_impls::election::Event`
//! stamped with real time and each node's clock, [`election::Record`]). Per protocol, one [`Conformance`] mapping relates
//! the two: each implementation event becomes zero or more model actions (zero: a stutter,
//! an internal step the model does not name), implementation time becomes model ticks,
//! implementation ids become model indices (in order of first appearance), and the test's
//! deviation becomes the model's bug variant of the same id. [`conform`] replays a log
//! through the mapping: every action must be enabled in the model state the steps before it
//! left, and after each event the model state must agree with what the log says the
//! implementation did (a delete accepted or refused, and why; a receive delivering this
//! message with this delivery number and this deadline). The first step where either fails
//! is returned as a [`Divergence`], written for a person: the step, the implementation event,
//! the model actions enabled there, and the field that disagrees.
//!
//! A log is read from a JSON envelope ([`RunLog`]): the protocol id, the variant, the
//! implementation's configuration (in its own units) and the events.
//!
//! ```
//! use coordlab_checks::conform::{self, Verdict};
//!
//! let log = r#"{"protocol": "queue", "variant": "correct",
//!   "config": {"visibility-timeout-ms": 10, "retry": "immediate", "max-receives": 2, "idempotent": true},
//!   "events": [
//!     {"at": 0, "event": {"action": "Send", "message": 0}},
//!     {"at": 0, "event": {"action": "Receive", "message": 0, "delivery": 1, "consumer": 0, "visible_until": 10}},
//!     {"at": 0, "event": {"action": "Process", "message": 0, "delivery": 1, "consumer": 0, "outcome": "Applied"}},
//!     {"at": 0, "event": {"action": "Delete", "message": 0, "delivery": 1, "current": 1, "consumer": 0}}
//!   ]}"#;
//! let verdict = conform::check_json(log, None).unwrap();
//! assert!(matches!(verdict, Verdict::Conforms { steps: 4, .. }));
//! ```
//!
//! # What is not checked
//! - Only what the log records: an implementation step that logs nothing is invisible here,
//!   and the mapping relates only the fields the model has (the queue model has no message
//!   bodies, no batch boundaries, no absolute time).
//! - Steps the model cannot express are reported as [`ConformError::Unmapped`], not as
//!   divergences (for the queue: a receipt of another queue, see [`queue`]; for the
//!   election: a resignation, or an elector shared by several threads, see [`election`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use stateright::Model;

pub mod election;
pub mod queue;
pub mod raft;
pub mod stealing;

/// The JSON envelope of an implementation run: what `coordlab conform` reads and the
/// implementation tests write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunLog<C, E> {
    /// The protocol id (`queue`, `election`).
    pub protocol: String,
    /// The model variant the run should conform to: `correct`, or the id of the deviation
    /// the implementation ran with (the same ids as the model's bug variants).
    pub variant: String,
    /// The implementation's configuration, in its own units.
    pub config: C,
    /// The event log, in the order the implementation recorded it.
    pub events: Vec<E>,
}

/// One protocol's abstraction from implementation runs to model behaviours.
///
/// A mapping value carries what the abstraction needs between steps (the id maps, the
/// time reached); [`conform`] drives it.
pub trait Conformance: Sized {
    /// The model the runs are checked against.
    type Model: coordlab_models::Protocol;
    /// The implementation's configuration as a log states it.
    type Config;
    /// One implementation event as a log records it.
    type Event: fmt::Display;

    /// The mapping for this log, and the model of `variant` whose bounds and knobs are the
    /// implementation configuration's, translated (ms to ticks, counts from the log).
    /// `Err` when the configuration or the log cannot be expressed in the model.
    fn start(
        config: &Self::Config,
        variant: &str,
        events: &[Self::Event],
    ) -> Result<(Self, Self::Model), ConformError>;

    /// The model actions that `event` stands for, taken in the model state `state` (empty:
    /// a stutter). A precondition the log states and the model contradicts (a consumer
    /// processing a message it does not hold) is a [`Mismatch`]; a step outside the model's
    /// vocabulary is [`ConformError::Unmapped`].
    fn actions(
        &mut self,
        model: &Self::Model,
        state: &ModelState<Self>,
        event: &Self::Event,
    ) -> Result<Vec<ModelAction<Self>>, Failure>;

    /// After the event's actions: does the model state `after` agree with what the event
    /// says the implementation did? `before` is the state the event started from.
    fn agree(
        &mut self,
        model: &Self::Model,
        before: &ModelState<Self>,
        after: &ModelState<Self>,
        event: &Self::Event,
    ) -> Result<(), Mismatch>;

    /// At the end of the log: anything the model still expects the implementation to have
    /// recorded (for the queue: an expiry the model made and the log never showed).
    fn finish(&mut self, model: &Self::Model, state: &ModelState<Self>) -> Result<(), Mismatch>;
}

/// The model's state type for a mapping.
pub type ModelState<C> = <<C as Conformance>::Model as Model>::State;
/// The model's action type for a mapping.
pub type ModelAction<C> = <<C as Conformance>::Model as Model>::Action;

/// A field on which the model and the implementation disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// What is compared, in the model's words (`m0 status`, `consumer 1`).
    pub field: String,
    /// What the model says.
    pub model: String,
    /// What the implementation's log says.
    pub implementation: String,
}

impl Mismatch {
    /// A disagreement on `field`.
    pub fn new(
        field: impl Into<String>,
        model: impl Into<String>,
        implementation: impl Into<String>,
    ) -> Mismatch {
        Mismatch {
            field: field.into(),
            model: model.into(),
            implementation: implementation.into(),
        }
    }
}

/// Why an event could not be mapped.
#[derive(Debug)]
pub enum Failure {
    /// The log and the model disagree at this event.
    Mismatch(Mismatch),
    /// The event, or the log, is outside what the mapping can express.
    Conform(ConformError),
}

impl From<Mismatch> for Failure {
    fn from(m: Mismatch) -> Failure {
        Failure::Mismatch(m)
    }
}

impl From<ConformError> for Failure {
    fn from(e: ConformError) -> Failure {
        Failure::Conform(e)
    }
}

/// Faults of the input, not of the run: the CLI's exit code 2.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConformError {
    /// Not a run log (bad JSON, missing fields, unknown protocol or variant, bad config).
    #[error("{0}")]
    BadLog(String),
    /// The log is well formed, but a step (1-based) or the whole configuration has no
    /// counterpart in the model.
    #[error("step {step}: {why}")]
    Unmapped {
        /// The step (1-based; 0 for the configuration or the log as a whole).
        step: usize,
        /// What cannot be expressed, and why.
        why: String,
    },
}

/// Where and how a run left the model's behaviours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The protocol and variant checked against (`queue/correct`).
    pub model: String,
    /// The implementation step (1-based) at which the run left the model.
    pub step: usize,
    /// That step as the implementation recorded it.
    pub event: String,
    /// The model action the step maps to that was not enabled, if that is the divergence
    /// (else the actions were taken and the state disagrees).
    pub refused_action: Option<String>,
    /// The model actions enabled in the state before the step, described.
    pub enabled: Vec<String>,
    /// The field that disagrees.
    pub mismatch: Mismatch,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the run diverges from {} at step {}: {}",
            self.model, self.step, self.event
        )?;
        if let Some(a) = &self.refused_action {
            writeln!(f, "  the model cannot take this step: {a}")?;
        }
        writeln!(f, "  field:          {}", self.mismatch.field)?;
        writeln!(f, "  model:          {}", self.mismatch.model)?;
        writeln!(f, "  implementation: {}", self.mismatch.implementation)?;
        if self.enabled.is_empty() {
            writeln!(f, "  enabled in the model there: nothing")
        } else {
            writeln!(f, "  enabled in the model there:")?;
            for a in &self.enabled {
                writeln!(f, "    - {a}")?;
            }
            Ok(())
        }
    }
}

/// The outcome of a conformance check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every step mapped to enabled model actions and the states agreed.
    Conforms {
        /// `protocol/variant`.
        model: String,
        /// Implementation steps replayed.
        steps: usize,
        /// Model actions taken.
        actions: usize,
    },
    /// The run left the model.
    Diverges(Box<Divergence>),
}

/// Replays `events` on the model of `variant` through mapping `C`.
pub fn conform<C: Conformance>(
    config: &C::Config,
    variant: &str,
    events: &[C::Event],
) -> Result<Verdict, ConformError> {
    use coordlab_models::Protocol;
    let (mut map, model) = C::start(config, variant, events)?;
    let id = format!("{}/{}", <C::Model as Protocol>::ID, model.variant());
    let mut state = model
        .init_states()
        .into_iter()
        .next()
        .ok_or_else(|| ConformError::BadLog("the model has no initial state".into()))?;
    let enabled_in = |s: &ModelState<C>| -> Vec<ModelAction<C>> {
        let mut v = Vec::new();
        model.actions(s, &mut v);
        v
    };
    let describe_all = |s: &ModelState<C>| -> Vec<String> {
        enabled_in(s).iter().map(|a| model.describe(s, a)).collect()
    };
    let mut taken = 0;
    for (i, event) in events.iter().enumerate() {
        let step = i + 1;
        let diverge = |s: &ModelState<C>, refused: Option<String>, mismatch: Mismatch| {
            Verdict::Diverges(Box::new(Divergence {
                model: id.clone(),
                step,
                event: event.to_string(),
                refused_action: refused,
                enabled: describe_all(s),
                mismatch,
            }))
        };
        let actions = match map.actions(&model, &state, event) {
            Ok(a) => a,
            Err(Failure::Mismatch(m)) => return Ok(diverge(&state, None, m)),
            Err(Failure::Conform(ConformError::Unmapped { why, .. })) => {
                return Err(ConformError::Unmapped { step, why });
            }
            Err(Failure::Conform(ConformError::BadLog(why))) => {
                return Err(ConformError::BadLog(format!("step {step}: {why}")));
            }
        };
        let before = state.clone();
        for action in actions {
            if !enabled_in(&state).contains(&action) {
                let what = model.describe(&state, &action);
                let mismatch = Mismatch::new(
                    "action",
                    "not enabled in this state",
                    format!("the implementation took it: {what}"),
                );
                return Ok(diverge(&state, Some(what), mismatch));
            }
            match model.next_state(&state, action.clone()) {
                Some(next) => state = next,
                None => {
                    let what = model.describe(&state, &action);
                    return Ok(diverge(
                        &state,
                        Some(what),
                        Mismatch::new("action", "has no next state", "the implementation took it"),
                    ));
                }
            }
            taken += 1;
        }
        if let Err(m) = map.agree(&model, &before, &state, event) {
            return Ok(diverge(&before, None, m));
        }
    }
    if let Err(m) = map.finish(&model, &state) {
        return Ok(Verdict::Diverges(Box::new(Divergence {
            model: id,
            step: events.len() + 1,
            event: "(the end of the log)".into(),
            refused_action: None,
            enabled: describe_all(&state),
            mismatch: m,
        })));
    }
    Ok(Verdict::Conforms {
        model: id,
        steps: events.len(),
        actions: taken,
    })
}

/// The protocols with a conformance mapping.
pub const PROTOCOLS: &[&str] = &["queue", "election", "stealing", "raft"];

/// Reads a run log (JSON, [`RunLog`]) and checks it against its protocol's model: the
/// variant the log names, or `variant` if given.
pub fn check_json(text: &str, variant: Option<&str>) -> Result<Verdict, ConformError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        ConformError::BadLog(format!(
            "malformed run log: {}",
            crate::plain(&e.to_string())
        ))
    })?;
    let protocol = value
        .get("protocol")
        .ok_or_else(|| ConformError::BadLog("not a run log: no `protocol` field".into()))?
        .as_str()
        .ok_or_else(|| ConformError::BadLog("`protocol` must be a string".into()))?
        .to_string();
    match protocol.as_str() {
        "queue" => check_value::<queue::QueueConformance>(value, variant),
        "election" => check_value::<election::ElectionConformance>(value, variant),
        "stealing" => check_value::<stealing::StealingConformance>(value, variant),
        "raft" => check_value::<raft::RaftConformance>(value, variant),
        other => Err(ConformError::BadLog(format!(
            "no conformance mapping for protocol `{other}` (known: {})",
            PROTOCOLS.join(", ")
        ))),
    }
}

/// Reads a run log of mapping `C`'s protocol from `value` and checks it against the variant
/// it names, or `variant` if given.
fn check_value<C: Conformance>(
    value: serde_json::Value,
    variant: Option<&str>,
) -> Result<Verdict, ConformError>
where
    C::Config: serde::de::DeserializeOwned,
    C::Event: serde::de::DeserializeOwned,
{
    use coordlab_models::Protocol;
    let log: RunLog<C::Config, C::Event> = serde_json::from_value(value).map_err(|e| {
        ConformError::BadLog(format!(
            "malformed {} run log: {}",
            <C::Model as Protocol>::ID,
            crate::plain(&e.to_string())
        ))
    })?;
    let v = variant.unwrap_or(&log.variant);
    conform::<C>(&log.config, v, &log.events)
}

/// A run log as JSON, pretty-printed with a final newline: the envelope `coordlab conform`
/// reads and the implementation tests write.
pub fn run_log_json<C: Serialize + Clone, E: Serialize + Clone>(
    protocol: &str,
    config: &C,
    variant: &str,
    events: &[E],
) -> String {
    let log = RunLog {
        protocol: protocol.to_string(),
        variant: variant.to_string(),
        config: config.clone(),
        events: events.to_vec(),
    };
    let mut out = serde_json::to_string_pretty(&log).expect("a run log serialises");
    out.push('\n');
    out
}
