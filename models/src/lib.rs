//! stateright models of the protocols coordlab checks, each in a correct form and in named
//! broken forms that differ from it by one guard.
//!
//! Every model implements [`Protocol`]: stateright's [`Model`] plus what coordlab needs to
//! run it from a manifest and to explain its traces to a person — its variants, a
//! configuration read with serde, its properties with a one-sentence doc each, and a
//! readable rendering of states and actions.
//!
//! ```
//! use coordlab_models::{Protocol, queue::{QueueConfig, QueueModel}};
//! use stateright::{Checker, Model};
//!
//! let model = QueueModel::new("correct", QueueConfig::default()).unwrap();
//! let checker = model.checker().spawn_bfs().join();
//! checker.assert_no_discovery("NoMessageLost");
//! ```
//!
//! # What is not checked
//! A model is checked only within the bounds of its configuration (number of messages,
//! consumers, crashes, timer lengths). Liveness properties ([`Kind::is_liveness`]) are not
//! given to stateright, whose `eventually` ignores cycles: coordlab's own checker handles
//! them under the fairness each model declares per class of actions ([`Protocol::classes`]).

use std::fmt::Debug;
use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use stateright::Model;

pub mod deque;
pub mod election;
pub mod queue;
pub mod raft;
pub mod stealing;

/// Helpers the models' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::fmt::Debug;

    use stateright::Model;

    /// Runs `path` from `m`'s first initial state, asserting that every step is enabled where
    /// it is taken; the state it ends in.
    pub fn walk<M>(m: &M, path: &[M::Action]) -> M::State
    where
        M: Model,
        M::Action: Copy + PartialEq + Debug,
        M::State: Debug,
    {
        let mut s = m.init_states().remove(0);
        for &a in path {
            let mut enabled = Vec::new();
            m.actions(&s, &mut enabled);
            assert!(enabled.contains(&a), "{a:?} not enabled in {s:?}");
            s = m.next_state(&s, a).unwrap();
        }
        s
    }

    /// Visits every reachable state of `m` (depth first; `m` small) and, in each, every
    /// enabled action with the state it leads to (`None`: the model does not take it there,
    /// or the state is outside its boundary); the number of states visited.
    pub fn each_transition<M>(
        m: &M,
        mut visit: impl FnMut(&M::State, &M::Action, Option<&M::State>),
    ) -> usize
    where
        M: Model,
        M::Action: Copy,
        M::State: std::hash::Hash + Eq + Clone,
    {
        let mut seen = std::collections::HashSet::new();
        let mut todo = m.init_states();
        while let Some(s) = todo.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            let mut enabled = Vec::new();
            m.actions(&s, &mut enabled);
            for a in enabled {
                let next = m.next_state(&s, a).filter(|n| m.within_boundary(n));
                visit(&s, &a, next.as_ref());
                todo.extend(next);
            }
        }
        seen.len()
    }

    /// No `sometimes` property of `m` holds in its initial state: each is an example that
    /// takes steps to reach (one that holds at once would make its safety twin's example
    /// vacuous).
    pub fn no_example_at_start<P: crate::Protocol>(m: &P)
    where
        P::State: Debug,
    {
        for s in m.init_states() {
            for p in P::props() {
                if p.kind == crate::Kind::Sometimes {
                    assert!(!(p.condition)(m, &s), "{} holds in {s:?}", p.name);
                }
            }
        }
    }

    /// On every reachable state of `m` (a depth-first search; `m` small), every enabled
    /// action belongs to one of `m`'s fairness classes, and exactly the actions `unfair`
    /// picks are in unfair classes: a fault is never owed, a protocol step always is.
    pub fn classes_cover_every_action<P: crate::Protocol>(m: &P, unfair: fn(&P::Action) -> bool)
    where
        P::Action: Debug + Copy,
        P::State: Debug + std::hash::Hash + Eq + Clone,
    {
        let classes = m.classes();
        let mut actions = 0;
        each_transition(m, |_, a, _| {
            let class = m.class_of(a);
            assert!(
                class < classes.len(),
                "{a:?}: class {class} of {}",
                classes.len()
            );
            let fair = classes[class].fairness != crate::Fairness::Unfair;
            assert_eq!(
                fair,
                !unfair(a),
                "{a:?} is in class {}",
                classes[class].name
            );
            actions += 1;
        });
        assert!(actions > 100, "{actions} actions");
    }
}

/// How a property is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Safety: true in every reachable state. A counterexample is a finite path.
    Always,
    /// Reachability: true in at least one reachable state. Proves that a safety property is
    /// not vacuous; "violated" means no reachable state satisfies it.
    Sometimes,
    /// Liveness: every fair behaviour reaches a state where it is true. A counterexample is
    /// a lasso: a prefix and a cycle that repeats forever.
    Eventually,
    /// Liveness: in every fair behaviour, whenever the premise holds, the condition holds
    /// then or later. A counterexample is a lasso.
    LeadsTo,
    /// Liveness, `[]<>P` in TLA+: in every fair behaviour the condition holds infinitely
    /// often (whatever happens, it comes true again later). A counterexample is a lasso in
    /// which the condition fails in every state of the cycle (or in the state it stutters in
    /// forever); the prefix may pass states where it holds.
    AlwaysEventually,
    /// Liveness, `<>[]P` in TLA+: in every fair behaviour the condition holds from some point
    /// on, forever. A counterexample is a lasso whose cycle returns, every round, to a state
    /// where the condition fails (or that stutters forever in such a state): the condition
    /// fails infinitely often. The cycle starts and ends in that state.
    EventuallyAlways,
}

impl Kind {
    /// The word used in manifests, tables and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Always => "always",
            Kind::Sometimes => "sometimes",
            Kind::Eventually => "eventually",
            Kind::LeadsTo => "leads-to",
            Kind::AlwaysEventually => "always-eventually",
            Kind::EventuallyAlways => "eventually-always",
        }
    }

    /// Whether the property is about infinite behaviours (checked by the liveness checker).
    pub fn is_liveness(self) -> bool {
        matches!(
            self,
            Kind::Eventually | Kind::LeadsTo | Kind::AlwaysEventually | Kind::EventuallyAlways
        )
    }
}

/// A named property of a model: its kind, a one-sentence doc, and its predicate on states.
pub struct Prop<M: Model> {
    /// UpperCamelCase name; the same string in the CLI, the docs and the trace file name.
    pub name: &'static str,
    pub kind: Kind,
    /// What the property says, in one plain sentence.
    pub doc: &'static str,
    pub condition: fn(&M, &M::State) -> bool,
    /// For [`Kind::LeadsTo`]: the premise P of "whenever P holds, `condition` holds then
    /// or later". `None` for every other kind.
    pub premise: Option<fn(&M, &M::State) -> bool>,
}

/// How a class of actions must be scheduled in an infinite behaviour (as in TLA+).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fairness {
    /// If the class is enabled in every state from some point on, it is taken infinitely
    /// often.
    Weak,
    /// If the class is enabled infinitely often, it is taken infinitely often.
    Strong,
    /// No obligation: the class may never be taken (crashes, drops, pauses).
    Unfair,
}

/// A class of actions that fairness talks about, e.g. "consumer 1" or "clock".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub fairness: Fairness,
}

impl<M: Model> Clone for Prop<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: Model> Copy for Prop<M> {}

/// A named variant of a protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    /// kebab-case id used by the CLI and in file names.
    pub id: &'static str,
    /// What differs from `correct`, in one sentence.
    pub summary: &'static str,
}

/// One arrow or note of a trace's sequence diagram (drawn by `coordlab-diagram`).
pub use coordlab_diagram::Arrow;

/// How the last state of a counterexample breaks its property, as the trace states it: at
/// the end of its step list and as the last element of its sequence diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The violation in the property's own terms, one sentence without a final period,
    /// naming the parts involved and the values that break the property (for a lasso: what
    /// stays unresolved forever).
    pub statement: String,
    /// The diagram participants ([`Protocol::participants`]) it is about; the closing note
    /// spans them.
    pub participants: Vec<String>,
    /// The state fields (names as [`Protocol::fields`] gives them) that show it; the trace
    /// lists them after its last step, changed or not, so the evidence is side by side.
    pub fields: Vec<String>,
}

/// A path as [`Protocol::display_path`] gives it: the initial state, then each action and the
/// state it leads to.
pub type DisplayPath<S, A> = (S, Vec<(A, S)>);

/// A table shown after every step of a trace: a header, rows of cells, and a legend for
/// any marks in the cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// One sentence on how to read the cells ("`*`: committed"); may be empty.
    pub legend: String,
    /// The names of the fields ([`Protocol::fields`]) the table shows: a trace's initial
    /// state lists the other fields only.
    pub covers: Vec<String>,
}

/// Errors in building a model from a variant id and a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelError {
    UnknownVariant {
        protocol: &'static str,
        variant: String,
        known: Vec<&'static str>,
    },
    BadConfig(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::UnknownVariant {
                protocol,
                variant,
                known,
            } => write!(
                f,
                "unknown variant `{protocol}/{variant}` (known: {})",
                known.join(", ")
            ),
            ModelError::BadConfig(why) => write!(f, "bad configuration: {why}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// A coordlab protocol model: a stateright [`Model`] with variants, a configuration, named
/// properties and a readable rendering.
pub trait Protocol:
    Model<
        State: Clone + Debug + Hash + Eq + Serialize + DeserializeOwned + Send + Sync + 'static,
        Action: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static,
    > + Send
    + Sync
    + 'static
{
    /// Protocol id, e.g. `queue`.
    const ID: &'static str;
    /// The bounds and knobs of one check, read from a manifest.
    type Config: Clone + Debug + Default + PartialEq + Serialize + DeserializeOwned;

    /// All variants, `correct` first.
    fn variants() -> &'static [Variant];
    /// Builds the model of a variant.
    fn new(variant: &str, config: Self::Config) -> Result<Self, ModelError>;
    fn variant(&self) -> &'static str;
    fn config(&self) -> &Self::Config;
    /// The properties, in a fixed order.
    fn props() -> Vec<Prop<Self>>;

    /// The classes of actions that fairness is declared on (at most 64).
    fn classes(&self) -> Vec<Class>;
    /// The index in [`Protocol::classes`] of the class an action belongs to.
    fn class_of(&self, action: &Self::Action) -> usize;

    /// Whether [`Protocol::representative`] is more than the identity.
    const SYMMETRIC: bool = false;
    /// The symmetry-reduced representative of a state (identity if none). A plain function
    /// so that it can be handed to stateright's `CheckerBuilder::symmetry_fn` too.
    fn representative(state: &Self::State) -> Self::State {
        state.clone()
    }

    /// The state as ordered (name, value) pairs for a person; traces show the ones that
    /// change.
    fn fields(&self, state: &Self::State) -> Vec<(String, String)>;
    /// One line saying what `action` does from `before`.
    fn describe(&self, before: &Self::State, action: &Self::Action) -> String;
    /// Whether the model has time (actions for which [`Protocol::is_tick`] holds): traces
    /// and the explorer show the time after every step only if it has.
    const TIMED: bool = true;
    /// Whether `action` advances time by one tick (traces show the time).
    fn is_tick(&self, _action: &Self::Action) -> bool {
        false
    }
    /// What each process's own clock reads when real time is `now` ticks, for models whose
    /// processes keep their own (drifting) clocks; traces show it beside the real time.
    fn local_times(&self, _state: &Self::State, _now: usize) -> Option<String> {
        None
    }
    /// The participants of the sequence diagram, in order.
    fn participants(&self) -> Vec<String>;
    /// The arrows drawn for one step.
    fn arrows(
        &self,
        before: &Self::State,
        action: &Self::Action,
        after: &Self::State,
    ) -> Vec<Arrow>;
    /// Why `state` falsifies the property `name`, in one or two sentences naming the parts
    /// involved and how they got there (the opening "What goes wrong" of a trace).
    fn explain(&self, name: &str, state: &Self::State) -> String;
    /// The violation of property `name` that the last state of a counterexample shows (for a
    /// lasso: the state the cycle keeps returning to), in the property's own terms.
    fn violation(&self, name: &str, state: &Self::State) -> Violation;
    /// What a trace's configuration table says about bound `key` (kebab-case, as the
    /// configuration spells it): what it means and its unit, and, when this variant does not
    /// use it, that it does not (so it does not read as if it applied). `None`: nothing.
    fn bound_doc(&self, _key: &str) -> Option<String> {
        None
    }

    /// A path as a person reads it — the initial state, then each action and the state it
    /// leads to (traces and the explorer show these; replay uses the path itself): by
    /// default the path as it is. A model that keeps its states in a relative form — Raft
    /// renumbers its terms so that the oldest one present is 1 — gives the path back in
    /// absolute form, as it would read in a real run, actions included.
    fn display_path(
        &self,
        init: &Self::State,
        steps: &[(Self::Action, Self::State)],
    ) -> DisplayPath<Self::State, Self::Action> {
        (init.clone(), steps.to_vec())
    }

    /// A table a trace shows after every step (Raft's log matrix: one row per server), or
    /// `None`.
    fn matrix(&self, _state: &Self::State) -> Option<Matrix> {
        None
    }

    /// How the checker's state store splits this model's states into parts, so that a part
    /// many states share is stored once (see [`Parts`]). `None`, the default: one part, the
    /// whole state.
    fn parts(&self) -> Option<Parts<Self::State>> {
        None
    }

    /// Looks up a property by name.
    fn prop(name: &str) -> Option<Prop<Self>> {
        Self::props().into_iter().find(|p| p.name == name)
    }
}

/// How a model's states split into parts for the checker's compressed state store: tree
/// compression (Laarman, van de Pol and Weber, "Parallel Recursive State Compression for
/// Free", SPIN 2011; LTSmin's tree table).
///
/// The store keeps each distinct part once (a leaf), each distinct pair of neighbouring
/// subtrees once, and so on up to one pair per state, each pair two ids packed into as few
/// bits as the tables below it need: a part that recurs across many states (one process's
/// local state, a channel) costs its bytes once and each state only a few bits. The parts
/// `0..count` are paired as a balanced binary tree in their order, the left half the larger:
/// four parts as `((0, 1), (2, 3))`, three as `((0, 1), 2)`. So make a part of what changes
/// together, and put next to each other the parts whose combinations are few (e.g. the
/// processes first, the shared state last).
///
/// Splitting must be lossless: equal parts encode to equal bytes, and `decode` of the
/// parts `encode` wrote is the state again ([`encode_part`] and [`decode_part`] give such an
/// encoding for any serde type without maps). A part may encode to no bytes at all (e.g. a
/// process the configuration does not have). The checker's tests check the round trip on
/// every reachable state of every check.
pub struct Parts<S> {
    /// How many parts every state has: at least 1.
    pub count: usize,
    /// Appends the encoding of part `i` (`0 <= i < count`) of `state` to `out`.
    pub encode: fn(state: &S, i: usize, out: &mut Vec<u8>),
    /// The state whose parts encode to `parts` (`count` of them, in order).
    pub decode: fn(parts: &[&[u8]]) -> S,
}

impl<S> Clone for Parts<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for Parts<S> {}

/// Appends `value`'s encoding to `out`: postcard's, which writes equal values of a serde
/// type without maps as equal bytes. The checker stores whole states this way; a model's
/// [`Parts::encode`] may use it for each part.
pub fn encode_part<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    postcard::to_io(value, out).expect("encoding into a Vec<u8> cannot fail");
}

/// The value [`encode_part`] wrote as `bytes`. Panics on bytes it did not write: the parts
/// the checker hands [`Parts::decode`] are always ones [`Parts::encode`] wrote.
pub fn decode_part<T: DeserializeOwned>(bytes: &[u8]) -> T {
    postcard::from_bytes(bytes).expect("a part decodes as it was encoded")
}

/// The `always` and `sometimes` properties as stateright [`stateright::Property`]s, for
/// stateright's own checkers and Explorer. The liveness properties ([`Kind::is_liveness`])
/// are left out on purpose: stateright's `eventually` ignores cycles, and it has no
/// `always-eventually` or `eventually-always`, so coordlab checks them with its own checker.
pub fn stateright_properties<M: Model>(props: Vec<Prop<M>>) -> Vec<stateright::Property<M>> {
    props
        .into_iter()
        .filter_map(|p| match p.kind {
            Kind::Always => Some(stateright::Property::always(p.name, p.condition)),
            Kind::Sometimes => Some(stateright::Property::sometimes(p.name, p.condition)),
            Kind::Eventually | Kind::LeadsTo | Kind::AlwaysEventually | Kind::EventuallyAlways => {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod kind_tests {
    use super::Kind;

    const ALL: [Kind; 6] = [
        Kind::Always,
        Kind::Sometimes,
        Kind::Eventually,
        Kind::LeadsTo,
        Kind::AlwaysEventually,
        Kind::EventuallyAlways,
    ];

    /// The word in tables and traces is the one serde writes (the explorer's JSON), so the
    /// same string names a kind everywhere.
    #[test]
    fn words_are_the_serialised_names() {
        let words: Vec<&str> = ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            words,
            [
                "always",
                "sometimes",
                "eventually",
                "leads-to",
                "always-eventually",
                "eventually-always"
            ]
        );
        for k in ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str(), "{k:?}");
        }
    }

    /// Only `always` and `sometimes` go to stateright; the four liveness kinds are coordlab's.
    #[test]
    fn liveness_kinds_are_not_given_to_stateright() {
        struct M;
        impl stateright::Model for M {
            type State = u8;
            type Action = u8;
            fn init_states(&self) -> Vec<u8> {
                vec![0]
            }
            fn actions(&self, _: &u8, _: &mut Vec<u8>) {}
            fn next_state(&self, _: &u8, _: u8) -> Option<u8> {
                None
            }
        }
        let props: Vec<super::Prop<M>> = ALL
            .iter()
            .map(|&kind| super::Prop {
                name: kind.as_str(),
                kind,
                doc: "",
                condition: |_, _| true,
                premise: None,
            })
            .collect();
        let given: Vec<&str> = super::stateright_properties(props)
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(given, ["always", "sometimes"]);
        let live: Vec<Kind> = ALL.into_iter().filter(|k| k.is_liveness()).collect();
        assert_eq!(
            live,
            [
                Kind::Eventually,
                Kind::LeadsTo,
                Kind::AlwaysEventually,
                Kind::EventuallyAlways
            ]
        );
    }
}

/// Looks up a variant id in a model's table of variants and their bugs.
pub(crate) fn find_variant<B: Copy>(
    protocol: &'static str,
    table: &[(Variant, Option<B>)],
    id: &str,
) -> Result<(Variant, Option<B>), ModelError> {
    table
        .iter()
        .find(|(v, _)| v.id == id)
        .copied()
        .ok_or_else(|| ModelError::UnknownVariant {
            protocol,
            variant: id.to_string(),
            known: table.iter().map(|(v, _)| v.id).collect(),
        })
}

/// "1 tick", "2 ticks".
pub(crate) fn ticks(n: u8) -> String {
    if n == 1 {
        "1 tick".to_string()
    } else {
        format!("{n} ticks")
    }
}
