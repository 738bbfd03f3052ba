//! The Chase–Lev work-stealing deque, one shared-memory access per step.
//!
//! Source: David Chase and Yossi Lev, "Dynamic circular work-stealing deque" (SPAA 2005),
//! `pushBottom`, `popBottom` and `steal`, with the orderings of Nhat Minh Lê, Antoniu Pop,
//! Albert Cohen and Francesco Zappa Nardelli, "Correct and efficient work-stealing for weak
//! memory models" (PPoPP 2013), Figure 1 (`push`, `take`, `steal`). One owner pushes and takes
//! at the bottom; thieves steal at the top; the tasks live in a circular buffer of fixed
//! `capacity`, indexed by two counters that only grow (`top`, `bottom`; a slot is the index
//! modulo the capacity), so with more tasks than slots the buffer wraps around and a slot is
//! written again.
//!
//! Each step is one access to shared memory, in the source's program order (the steps are
//! [`Action`]'s variants, in that order):
//!
//! | operation | steps |
//! |---|---|
//! | push (owner) | `PushLoadTop` (room?), `PushWriteSlot`, `PushStoreBottom` (publishes the task) |
//! | take (owner) | `TakeStoreBottom` (reserves the bottom index), `TakeLoadTop`, `TakeReadSlot`, and for the last task `TakeCasTop`; `TakeRestoreBottom` after the last task's race or on empty |
//! | steal (thief) | `StealLoadTop`, `StealLoadBottom`, `StealReadSlot` (before claiming), `StealCasTop` (claims the index; a lost CAS is `Steal::Retry`) |
//!
//! The owner's loads of `bottom` are merged into its next step: only the owner writes
//! `bottom`, so such a load commutes with every other thread's step (Lipton's reduction) and
//! no behaviour is lost. Everything else is its own step.
//!
//! Fault model: the threads interleave arbitrarily, each access atomic and sequentially
//! consistent; every thread keeps taking steps (weakly fair, one class per thread). The owner
//! pushes `tasks` tasks, t0, t1, … in order, and may take at any time; thieves steal forever.
//! A push that finds the buffer full returns `Full` and the owner keeps the task.
//!
//! Out of scope, and checked on the implementation by loom instead (`impls`' deque): weak
//! memory — `take`'s store of `bottom` passing its load of `top` (what the two `fence(SeqCst)`
//! prevent), a thief seeing the new `bottom` but the old slot (what the release store of
//! `bottom` and the acquire load in `steal` prevent) — compiler reordering, counter overflow,
//! and growing the buffer (and reclaiming old buffers). The properties are about each task's
//! fate, not about order: LIFO and FIFO are not checked.
//!
//! Bug variants, each one guard of the source removed:
//! - `pop-without-cas`: the owner takes the last task like any other, without the CAS on `top`
//!   that decides its race with a thief: both take it.
//! - `steal-read-after-cas`: the thief claims the index first and reads the slot afterwards;
//!   by then the owner may have wrapped around and written the slot again.
//! - `no-restore-after-lost-race`: the owner, losing the race for the last task, returns
//!   empty without storing `bottom` back; `top` is then past `bottom` and the next push is
//!   never seen (SPAA 2005 and PPoPP 2013 both restore `bottom` whatever the CAS's outcome).

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

use crate::{
    Arrow, Class, Fairness, Kind, ModelError, Parts, Prop, Protocol, Variant, Violation,
    decode_part, encode_part,
};

/// Tasks the owner may push in one behaviour.
pub const MAX_TASKS: usize = 6;
/// Slots of the circular buffer.
pub const MAX_CAPACITY: usize = 4;
/// Threads stealing.
pub const MAX_THIEVES: usize = 3;

/// Bounds of one deque check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct DequeConfig {
    /// Tasks the owner pushes, one after another (t0, t1, …), at most [`MAX_TASKS`].
    pub tasks: u8,
    /// Slots of the circular buffer, at most [`MAX_CAPACITY`]. With more tasks than slots the
    /// buffer wraps around and slots are written again.
    pub capacity: u8,
    /// Threads stealing from the top, each in a loop, 1..=[`MAX_THIEVES`].
    pub thieves: u8,
}

impl Default for DequeConfig {
    fn default() -> Self {
        DequeConfig {
            tasks: 3,
            capacity: 2,
            thieves: 1,
        }
    }
}

/// A named deviation from the correct deque: each removes one guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The owner takes the last task without the CAS on `top`.
    PopWithoutCas,
    /// A thief reads its slot after winning the CAS instead of before.
    StealReadAfterCas,
    /// The owner returns empty after losing the last task's CAS without restoring `bottom`.
    NoRestoreAfterLostRace,
}

const VARIANTS: [(Variant, Option<Bug>); 4] = [
    (
        Variant {
            id: "correct",
            summary: "Chase–Lev as published: the last task is claimed by a CAS on top, a thief reads its slot before claiming it, bottom is restored after the race",
        },
        None,
    ),
    (
        Variant {
            id: "pop-without-cas",
            summary: "the owner takes the last task like any other, without the CAS on top that decides its race with a thief",
        },
        Some(Bug::PopWithoutCas),
    ),
    (
        Variant {
            id: "steal-read-after-cas",
            summary: "a thief claims the index with its CAS first and reads the slot afterwards, when the owner may have written it again",
        },
        Some(Bug::StealReadAfterCas),
    ),
    (
        Variant {
            id: "no-restore-after-lost-race",
            summary: "the owner, losing the race for the last task, returns empty without storing bottom back",
        },
        Some(Bug::NoRestoreAfterLostRace),
    ),
];

/// The owner's program counter and registers: what its next access is. `b` is the index it
/// works on (for a take, `bottom` minus one, which is -1 on an empty deque), `t` the value of
/// `top` it loaded, `x` what it read from a slot (`None`: a slot never written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Owner {
    /// Between operations: may push the next task (if any is left) or take.
    Idle,
    /// Push found room: writes the next task into slot `b` modulo the capacity.
    PushWriteSlot { b: i8 },
    /// Wrote the slot: publishes the task by storing `bottom` = `b` + 1.
    PushStoreBottom { b: i8 },
    /// Take stored `bottom` = `b` (reserving index `b`): loads `top`.
    TakeLoadTop { b: i8 },
    /// `top` was `t` ≤ `b`: reads slot `b`.
    TakeReadSlot { b: i8, t: i8 },
    /// Index `b` is the last task (`top` was `b`), `x` read from its slot: CAS `top` from `b`
    /// to `b` + 1 to claim it against the thieves.
    TakeCasTop { b: i8, x: Option<u8> },
    /// Stores `bottom` = `b` + 1 back (the deque was empty, or the last task's race is over).
    TakeRestoreBottom { b: i8 },
}

/// A thief's program counter and registers: `t` the value of `top` it loaded, `x` what it
/// read from slot `t` (`None`: never written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Thief {
    /// Between steals: loads `top`.
    Idle,
    /// Loaded `top` = `t`: loads `bottom`.
    StealLoadBottom { t: i8 },
    /// Index `t` is below `bottom`: reads slot `t`.
    StealReadSlot { t: i8 },
    /// Read `x` from slot `t`: CAS `top` from `t` to `t` + 1 to claim it.
    StealCasTop { t: i8, x: Option<u8> },
    /// (`steal-read-after-cas`) Index `t` is below `bottom`: CAS `top` from `t` to `t` + 1
    /// before reading anything.
    StealCasTopUnread { t: i8 },
    /// (`steal-read-after-cas`) Claimed index `t`: reads slot `t` and returns what it finds.
    StealReadClaimed { t: i8 },
}

/// A value that a take or steal returned before the task's push had published it (or that
/// no push ever wrote).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Premature {
    /// Whether a thief returned it (else the owner).
    pub thief: bool,
    /// The task read (`None`: a slot never written).
    pub task: Option<u8>,
}

/// The shared memory, the threads, and ghost variables that record each task's fate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DequeState {
    /// Index of the oldest task; only CAS moves it, always up by one.
    pub top: i8,
    /// One past the index of the newest task; only the owner writes it.
    pub bottom: i8,
    /// The buffer (the first `capacity` entries are used). A slot keeps the last task written
    /// to it, taken or not, as memory does; `None`: never written.
    pub slots: [Option<u8>; MAX_CAPACITY],
    pub owner: Owner,
    pub thieves: ArrayVec<Thief, MAX_THIEVES>,
    /// Ghost: tasks whose push has completed (published by its store of `bottom`); the
    /// owner pushes them in order, so these are t0 … t(published-1), and the task being
    /// pushed is t(published).
    pub published: u8,
    /// Ghost: how often each task was returned by a take or steal (capped at 2).
    pub taken: [u8; MAX_TASKS],
    /// Ghost: whether a thief's steal has returned a task.
    pub stolen: bool,
    /// Ghost: the first value returned before it was published, if any.
    pub premature: Option<Premature>,
}

/// One shared-memory access by one thread (see the table in the module header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The owner starts pushing the next task: reads `bottom` (its own) and loads `top`;
    /// `bottom - top >= capacity`: the push returns `Full`.
    PushLoadTop,
    /// The owner writes the task into slot `bottom` modulo the capacity.
    PushWriteSlot,
    /// The owner stores `bottom` + 1: the task is published.
    PushStoreBottom,
    /// The owner starts a take: stores `bottom` - 1, reserving that index.
    TakeStoreBottom,
    /// The owner loads `top`: above the reserved index, the deque was empty.
    TakeLoadTop,
    /// The owner reads the reserved slot; below `top`'s index it returns the task at once.
    TakeReadSlot,
    /// The owner CASes `top` to claim the last task; losing, it returns empty.
    TakeCasTop,
    /// The owner stores `bottom` back to one past the reserved index.
    TakeRestoreBottom,
    /// A thief starts a steal: loads `top`.
    StealLoadTop { thief: u8 },
    /// The thief loads `bottom`; at or below `top`, the steal returns `Empty`.
    StealLoadBottom { thief: u8 },
    /// The thief reads slot `top` modulo the capacity.
    StealReadSlot { thief: u8 },
    /// The thief CASes `top` up by one: winning, it returns the task; losing, `Retry`.
    StealCasTop { thief: u8 },
}

/// The model of one variant at one configuration.
#[derive(Clone, Debug)]
pub struct DequeModel {
    variant: &'static str,
    bug: Option<Bug>,
    config: DequeConfig,
}

impl DequeModel {
    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    fn slot(&self, index: i8) -> usize {
        index.rem_euclid(self.config.capacity as i8) as usize
    }

    /// Records that a take or steal returned `x`.
    fn returned(s: &mut DequeState, x: Option<u8>, thief: bool) {
        match x {
            Some(k) if k < s.published => {}
            task => {
                if s.premature.is_none() {
                    s.premature = Some(Premature { thief, task });
                }
            }
        }
        if let Some(k) = x {
            let n = &mut s.taken[k as usize];
            *n = (*n + 1).min(2);
        }
        if thief && x.is_some() {
            s.stolen = true;
        }
    }
}

impl Model for DequeModel {
    type State = DequeState;
    type Action = Action;

    fn init_states(&self) -> Vec<DequeState> {
        vec![DequeState {
            top: 0,
            bottom: 0,
            slots: [None; MAX_CAPACITY],
            owner: Owner::Idle,
            thieves: (0..self.config.thieves).map(|_| Thief::Idle).collect(),
            published: 0,
            taken: [0; MAX_TASKS],
            stolen: false,
            premature: None,
        }]
    }

    fn actions(&self, s: &DequeState, actions: &mut Vec<Action>) {
        match s.owner {
            Owner::Idle => {
                if s.published < self.config.tasks {
                    actions.push(Action::PushLoadTop);
                }
                actions.push(Action::TakeStoreBottom);
            }
            Owner::PushWriteSlot { .. } => actions.push(Action::PushWriteSlot),
            Owner::PushStoreBottom { .. } => actions.push(Action::PushStoreBottom),
            Owner::TakeLoadTop { .. } => actions.push(Action::TakeLoadTop),
            Owner::TakeReadSlot { .. } => actions.push(Action::TakeReadSlot),
            Owner::TakeCasTop { .. } => actions.push(Action::TakeCasTop),
            Owner::TakeRestoreBottom { .. } => actions.push(Action::TakeRestoreBottom),
        }
        for (i, t) in s.thieves.iter().enumerate() {
            let thief = i as u8;
            actions.push(match t {
                Thief::Idle => Action::StealLoadTop { thief },
                Thief::StealLoadBottom { .. } => Action::StealLoadBottom { thief },
                Thief::StealReadSlot { .. } | Thief::StealReadClaimed { .. } => {
                    Action::StealReadSlot { thief }
                }
                Thief::StealCasTop { .. } | Thief::StealCasTopUnread { .. } => {
                    Action::StealCasTop { thief }
                }
            });
        }
    }

    fn next_state(&self, s: &DequeState, action: Action) -> Option<DequeState> {
        let mut n = s.clone();
        let capacity = self.config.capacity as i8;
        match (action, s.owner) {
            (Action::PushLoadTop, Owner::Idle) if s.published < self.config.tasks => {
                let b = s.bottom;
                if b - s.top < capacity {
                    n.owner = Owner::PushWriteSlot { b };
                } // else: Full; the owner keeps the task and is idle again
            }
            (Action::PushWriteSlot, Owner::PushWriteSlot { b }) => {
                n.slots[self.slot(b)] = Some(s.published);
                n.owner = Owner::PushStoreBottom { b };
            }
            (Action::PushStoreBottom, Owner::PushStoreBottom { b }) => {
                n.bottom = b + 1;
                n.published += 1;
                n.owner = Owner::Idle;
            }
            (Action::TakeStoreBottom, Owner::Idle) => {
                let b = s.bottom - 1;
                n.bottom = b;
                n.owner = Owner::TakeLoadTop { b };
            }
            (Action::TakeLoadTop, Owner::TakeLoadTop { b }) => {
                let t = s.top;
                n.owner = if t <= b {
                    Owner::TakeReadSlot { b, t }
                } else {
                    Owner::TakeRestoreBottom { b }
                };
            }
            (Action::TakeReadSlot, Owner::TakeReadSlot { b, t }) => {
                let x = s.slots[self.slot(b)];
                if t < b || self.has(Bug::PopWithoutCas) {
                    Self::returned(&mut n, x, false);
                    n.owner = Owner::Idle;
                } else {
                    n.owner = Owner::TakeCasTop { b, x };
                }
            }
            (Action::TakeCasTop, Owner::TakeCasTop { b, x }) => {
                if s.top == b {
                    n.top = b + 1;
                    Self::returned(&mut n, x, false);
                    n.owner = Owner::TakeRestoreBottom { b };
                } else if self.has(Bug::NoRestoreAfterLostRace) {
                    n.owner = Owner::Idle;
                } else {
                    n.owner = Owner::TakeRestoreBottom { b };
                }
            }
            (Action::TakeRestoreBottom, Owner::TakeRestoreBottom { b }) => {
                n.bottom = b + 1;
                n.owner = Owner::Idle;
            }
            (Action::StealLoadTop { thief }, _)
            | (Action::StealLoadBottom { thief }, _)
            | (Action::StealReadSlot { thief }, _)
            | (Action::StealCasTop { thief }, _) => {
                let i = thief as usize;
                let me = *s.thieves.get(i)?;
                n.thieves[i] = match (action, me) {
                    (Action::StealLoadTop { .. }, Thief::Idle) => {
                        Thief::StealLoadBottom { t: s.top }
                    }
                    (Action::StealLoadBottom { .. }, Thief::StealLoadBottom { t }) => {
                        if t >= s.bottom {
                            Thief::Idle // Empty
                        } else if self.has(Bug::StealReadAfterCas) {
                            Thief::StealCasTopUnread { t }
                        } else {
                            Thief::StealReadSlot { t }
                        }
                    }
                    (Action::StealReadSlot { .. }, Thief::StealReadSlot { t }) => {
                        Thief::StealCasTop {
                            t,
                            x: s.slots[self.slot(t)],
                        }
                    }
                    (Action::StealReadSlot { .. }, Thief::StealReadClaimed { t }) => {
                        Self::returned(&mut n, s.slots[self.slot(t)], true);
                        Thief::Idle
                    }
                    (Action::StealCasTop { .. }, Thief::StealCasTop { t, x }) => {
                        if s.top == t {
                            n.top = t + 1;
                            Self::returned(&mut n, x, true);
                        } // else Retry
                        Thief::Idle
                    }
                    (Action::StealCasTop { .. }, Thief::StealCasTopUnread { t }) => {
                        if s.top == t {
                            n.top = t + 1;
                            Thief::StealReadClaimed { t }
                        } else {
                            Thief::Idle // Retry
                        }
                    }
                    _ => return None,
                };
            }
            _ => return None,
        }
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::stateright_properties(Self::props())
    }
}

/// Whether no operation is in progress: the owner and every thief between operations.
fn quiescent(s: &DequeState) -> bool {
    s.owner == Owner::Idle && s.thieves.iter().all(|t| *t == Thief::Idle)
}

/// What the slots at indices `top..bottom` hold, in index order (`None`: never written).
fn contents(m: &DequeModel, s: &DequeState) -> Vec<Option<u8>> {
    (s.top..s.bottom.max(s.top))
        .map(|i| s.slots[m.slot(i)])
        .collect()
}

/// The published tasks not yet taken, in push order.
fn untaken(s: &DequeState) -> Vec<u8> {
    (0..s.published)
        .filter(|&k| s.taken[k as usize] == 0)
        .collect()
}

/// A task returned twice, if any.
fn duplicated(s: &DequeState) -> Option<u8> {
    (0..MAX_TASKS as u8).find(|&k| s.taken[k as usize] >= 2)
}

/// Whether, all threads idle, the deque's indices `top..bottom` hold exactly the published
/// tasks not taken yet (checked on every quiescent state: counts without allocating).
fn contents_match(m: &DequeModel, s: &DequeState) -> bool {
    let mut held = [0u8; MAX_TASKS];
    for i in s.top..s.bottom.max(s.top) {
        match s.slots[m.slot(i)] {
            Some(k) if usize::from(k) < MAX_TASKS => held[usize::from(k)] += 1,
            _ => return false, // a slot never written
        }
    }
    (0..MAX_TASKS).all(|k| held[k] == u8::from(k < usize::from(s.published) && s.taken[k] == 0))
}

fn no_task_lost_or_duplicated(m: &DequeModel, s: &DequeState) -> bool {
    duplicated(s).is_none() && (!quiescent(s) || contents_match(m, s))
}

fn taken_only_after_pushed(_: &DequeModel, s: &DequeState) -> bool {
    s.premature.is_none()
}

fn all_tasks_pushed(m: &DequeModel, s: &DequeState) -> bool {
    s.published == m.config.tasks
}

fn every_task_taken(m: &DequeModel, s: &DequeState) -> bool {
    (0..m.config.tasks).all(|k| s.taken[k as usize] >= 1)
}

fn task_stolen(_: &DequeModel, s: &DequeState) -> bool {
    s.stolen
}

fn last_element_contended(_: &DequeModel, s: &DequeState) -> bool {
    let Owner::TakeCasTop { b, .. } = s.owner else {
        return false;
    };
    s.thieves.iter().any(|t| match *t {
        Thief::StealCasTop { t, .. } | Thief::StealCasTopUnread { t } => t == b,
        _ => false,
    })
}

fn slot_reused(m: &DequeModel, s: &DequeState) -> bool {
    // The push of index `capacity` or above writes a slot a second time.
    s.published > m.config.capacity
        || matches!(s.owner, Owner::PushStoreBottom { b } if b >= m.config.capacity as i8)
}

impl Protocol for DequeModel {
    const ID: &'static str = "deque";
    type Config = DequeConfig;

    /// The thieves, then the owner, the shared memory and the ghost variables.
    fn parts(&self) -> Option<Parts<DequeState>> {
        Some(Parts {
            count: 2,
            encode: |s, i, out| match i {
                0 => encode_part(&s.thieves, out),
                _ => encode_part(
                    &(
                        s.top,
                        s.bottom,
                        s.slots,
                        s.owner,
                        s.published,
                        s.taken,
                        s.stolen,
                        s.premature,
                    ),
                    out,
                ),
            },
            decode: |parts| {
                let (top, bottom, slots, owner, published, taken, stolen, premature) =
                    decode_part(parts[1]);
                DequeState {
                    top,
                    bottom,
                    slots,
                    owner,
                    thieves: decode_part(parts[0]),
                    published,
                    taken,
                    stolen,
                    premature,
                }
            },
        })
    }

    fn variants() -> &'static [Variant] {
        const IDS: [Variant; 4] = [VARIANTS[0].0, VARIANTS[1].0, VARIANTS[2].0, VARIANTS[3].0];
        &IDS
    }

    fn new(variant: &str, config: DequeConfig) -> Result<Self, ModelError> {
        let (v, bug) = crate::find_variant(Self::ID, &VARIANTS, variant)?;
        let fail = |why: &str| Err(ModelError::BadConfig(why.to_string()));
        if config.tasks == 0 || usize::from(config.tasks) > MAX_TASKS {
            return fail("tasks must be 1..=6");
        }
        if config.capacity == 0 || usize::from(config.capacity) > MAX_CAPACITY {
            return fail("capacity must be 1..=4");
        }
        if config.thieves == 0 || usize::from(config.thieves) > MAX_THIEVES {
            return fail("thieves must be 1..=3");
        }
        Ok(DequeModel {
            variant: v.id,
            bug,
            config,
        })
    }

    fn variant(&self) -> &'static str {
        self.variant
    }

    fn config(&self) -> &DequeConfig {
        &self.config
    }

    fn props() -> Vec<Prop<Self>> {
        vec![
            Prop {
                name: "NoTaskLostOrDuplicated",
                kind: Kind::Always,
                doc: "No task is returned twice, and whenever every thread is between operations the deque holds exactly the pushed tasks not yet taken.",
                condition: no_task_lost_or_duplicated,
                premise: None,
            },
            Prop {
                name: "TakenOnlyAfterPushed",
                kind: Kind::Always,
                doc: "A take or steal returns only a task whose push has completed (never one still being pushed, never an unwritten slot).",
                condition: taken_only_after_pushed,
                premise: None,
            },
            Prop {
                name: "EveryTaskEventuallyTaken",
                kind: Kind::LeadsTo,
                doc: "Once every task is pushed, every task is eventually taken, by the owner or a thief.",
                condition: every_task_taken,
                premise: Some(all_tasks_pushed),
            },
            Prop {
                name: "TaskStolen",
                kind: Kind::Sometimes,
                doc: "A thief's steal returns a task (so the properties are not about the owner alone).",
                condition: task_stolen,
                premise: None,
            },
            Prop {
                name: "LastElementContended",
                kind: Kind::Sometimes,
                doc: "The owner and a thief are both about to CAS top for the same last task (so the race NoTaskLostOrDuplicated guards is reached).",
                condition: last_element_contended,
                premise: None,
            },
            Prop {
                name: "SlotReused",
                kind: Kind::Sometimes,
                doc: "A push writes a slot a second time: the buffer wraps around (so a thief can hold a stale index).",
                condition: slot_reused,
                premise: None,
            },
            Prop {
                name: "AllTasksPushed",
                kind: Kind::Sometimes,
                doc: "Every task has been pushed (so EveryTaskEventuallyTaken is not vacuous: its premise happens).",
                condition: all_tasks_pushed,
                premise: None,
            },
        ]
    }

    /// Fairness: every thread keeps taking steps (weakly fair, one class per thread). There is
    /// no fault to be unfair about: a thread that stops is a thread that stops stealing, which
    /// the properties do not need.
    fn classes(&self) -> Vec<Class> {
        let mut c = vec![Class {
            name: "owner".into(),
            fairness: Fairness::Weak,
        }];
        c.extend((0..self.config.thieves).map(|i| Class {
            name: format!("thief {i}"),
            fairness: Fairness::Weak,
        }));
        c
    }

    fn class_of(&self, action: &Action) -> usize {
        match *action {
            Action::StealLoadTop { thief }
            | Action::StealLoadBottom { thief }
            | Action::StealReadSlot { thief }
            | Action::StealCasTop { thief } => 1 + thief as usize,
            _ => 0,
        }
    }

    const SYMMETRIC: bool = true;
    /// Interleavings only: no clock.
    const TIMED: bool = false;

    fn representative(state: &DequeState) -> DequeState {
        // Thieves are interchangeable: nothing else in the state names a thief, so sorting
        // their local states picks one representative of each permutation class.
        let mut rep = state.clone();
        rep.thieves.sort_unstable();
        rep
    }

    fn fields(&self, s: &DequeState) -> Vec<(String, String)> {
        let mut out = vec![
            ("top".to_string(), s.top.to_string()),
            ("bottom".to_string(), s.bottom.to_string()),
        ];
        for i in 0..self.config.capacity as usize {
            out.push((
                format!("slot {i}"),
                s.slots[i].map_or("never written".to_string(), task),
            ));
        }
        let held = contents(self, s);
        out.push((
            "deque".to_string(),
            if s.top > s.bottom {
                format!("empty, with top past bottom ({} > {})", s.top, s.bottom)
            } else if held.is_empty() {
                "empty".to_string()
            } else {
                format!(
                    "{} (indices {}..{})",
                    held.iter()
                        .map(|x| x.map_or("an unwritten slot".to_string(), task))
                        .collect::<Vec<_>>()
                        .join(", "),
                    s.top,
                    s.bottom
                )
            },
        ));
        out.push(("owner".to_string(), self.owner_doing(s)));
        for (i, t) in s.thieves.iter().enumerate() {
            out.push((format!("thief {i}"), self.thief_doing(*t)));
        }
        out.push((
            "published".to_string(),
            if s.published == 0 {
                "none".to_string()
            } else {
                (0..s.published).map(task).collect::<Vec<_>>().join(", ")
            },
        ));
        let taken: Vec<String> = (0..MAX_TASKS as u8)
            .filter(|&k| s.taken[k as usize] > 0)
            .map(|k| match s.taken[k as usize] {
                1 => task(k),
                _ => format!("{} twice", task(k)),
            })
            .collect();
        out.push((
            "taken".to_string(),
            if taken.is_empty() {
                "none".to_string()
            } else {
                taken.join(", ")
            },
        ));
        out.push((
            "stolen".to_string(),
            if s.stolen { "yes" } else { "not yet" }.to_string(),
        ));
        out.push((
            "returned before published".to_string(),
            s.premature.map_or("nothing".to_string(), |p| {
                format!("{} by {}", read(p.task), who(p.thief))
            }),
        ));
        out
    }

    fn describe(&self, s: &DequeState, action: &Action) -> String {
        let n = self.next_state(s, *action);
        let next = n.as_ref().unwrap_or(s);
        match (action, s.owner) {
            (Action::PushLoadTop, _) => {
                let k = task(s.published);
                if matches!(next.owner, Owner::Idle) {
                    format!(
                        "the owner starts pushing {k}: top is {}, bottom {}: the buffer is full, the push returns Full and the owner keeps {k}",
                        s.top, s.bottom
                    )
                } else {
                    format!(
                        "the owner starts pushing {k}: top is {}, bottom {}: there is room",
                        s.top, s.bottom
                    )
                }
            }
            (Action::PushWriteSlot, Owner::PushWriteSlot { b }) => format!(
                "the owner writes {} into slot {} (index {b})",
                task(s.published),
                self.slot(b)
            ),
            (Action::PushStoreBottom, Owner::PushStoreBottom { b }) => format!(
                "the owner stores bottom = {}: {} is published",
                b + 1,
                task(s.published)
            ),
            (Action::TakeStoreBottom, _) => format!(
                "the owner starts a take: stores bottom = {}, reserving index {}",
                s.bottom - 1,
                s.bottom - 1
            ),
            (Action::TakeLoadTop, Owner::TakeLoadTop { b }) if s.top > b => format!(
                "the owner loads top = {}: past index {b}, the deque is empty",
                s.top
            ),
            (Action::TakeLoadTop, Owner::TakeLoadTop { b }) if s.top == b => format!(
                "the owner loads top = {}: index {b} is the last task",
                s.top
            ),
            (Action::TakeLoadTop, _) => format!("the owner loads top = {}", s.top),
            (Action::TakeReadSlot, Owner::TakeReadSlot { b, t }) => {
                let x = read(s.slots[self.slot(b)]);
                if t < b {
                    format!(
                        "the owner reads {x} from slot {} and returns it (index {b} is above top = {t}: no thief can claim it)",
                        self.slot(b)
                    )
                } else if self.has(Bug::PopWithoutCas) {
                    format!(
                        "the owner reads {x} from slot {} and returns it without a CAS on top, although it is the last task",
                        self.slot(b)
                    )
                } else {
                    format!(
                        "the owner reads {x} from slot {}: the last task, to be claimed by a CAS",
                        self.slot(b)
                    )
                }
            }
            (Action::TakeCasTop, Owner::TakeCasTop { b, x }) => {
                if s.top == b {
                    format!(
                        "the owner CASes top {b} → {}: it wins, and returns {}",
                        b + 1,
                        read(x)
                    )
                } else if self.has(Bug::NoRestoreAfterLostRace) {
                    format!(
                        "the owner CASes top {b} → {}: it loses (top is {}), and returns empty without restoring bottom",
                        b + 1,
                        s.top
                    )
                } else {
                    format!(
                        "the owner CASes top {b} → {}: it loses (top is {}): a thief took the task, the take is empty",
                        b + 1,
                        s.top
                    )
                }
            }
            (Action::TakeRestoreBottom, Owner::TakeRestoreBottom { b }) => {
                format!("the owner stores bottom = {} back", b + 1)
            }
            (
                Action::StealLoadTop { thief }
                | Action::StealLoadBottom { thief }
                | Action::StealReadSlot { thief }
                | Action::StealCasTop { thief },
                _,
            ) => {
                let i = *thief as usize;
                let Some(me) = s.thieves.get(i) else {
                    return format!("thief {i} (no such thief)");
                };
                match *me {
                    Thief::Idle => format!("thief {i} starts a steal: loads top = {}", s.top),
                    Thief::StealLoadBottom { t } if t >= s.bottom => format!(
                        "thief {i} loads bottom = {}: nothing at index {t}, the steal returns Empty",
                        s.bottom
                    ),
                    Thief::StealLoadBottom { t } => format!(
                        "thief {i} loads bottom = {}: index {t} holds a task",
                        s.bottom
                    ),
                    Thief::StealReadSlot { t } => format!(
                        "thief {i} reads {} from slot {} (index {t}), before claiming it",
                        read(s.slots[self.slot(t)]),
                        self.slot(t)
                    ),
                    Thief::StealCasTop { t, x } if s.top == t => format!(
                        "thief {i} CASes top {t} → {}: it wins, and returns {}",
                        t + 1,
                        read(x)
                    ),
                    Thief::StealCasTop { t, .. } => format!(
                        "thief {i} CASes top {t} → {}: it loses (top is {}), the steal returns Retry",
                        t + 1,
                        s.top
                    ),
                    Thief::StealCasTopUnread { t } if s.top == t => format!(
                        "thief {i} CASes top {t} → {}: it wins index {t}, before reading its slot",
                        t + 1
                    ),
                    Thief::StealCasTopUnread { t } => format!(
                        "thief {i} CASes top {t} → {}: it loses (top is {}), the steal returns Retry",
                        t + 1,
                        s.top
                    ),
                    Thief::StealReadClaimed { t } => format!(
                        "thief {i} reads slot {} (index {t}) only now, finds {}, and returns it",
                        self.slot(t),
                        read(s.slots[self.slot(t)])
                    ),
                }
            }
            (a, _) => format!("{a:?} (not enabled here)"),
        }
    }

    fn participants(&self) -> Vec<String> {
        let mut p = vec!["Owner".to_string()];
        p.extend((0..self.config.thieves).map(|i| format!("Thief {i}")));
        p.push("Memory".to_string());
        p
    }

    fn arrows(&self, s: &DequeState, action: &Action, n: &DequeState) -> Vec<Arrow> {
        let mem = "Memory";
        let owner = "Owner";
        let returns = |who: &str, what: String| Arrow::note([who.to_string()], what);
        match (action, s.owner) {
            (Action::PushLoadTop, _) if n.owner == Owner::Idle => vec![
                Arrow::call(owner, mem, format!("load top: {}", s.top)),
                returns(owner, format!("push {}: Full", task(s.published))),
            ],
            (Action::PushLoadTop, _) => vec![Arrow::call(
                owner,
                mem,
                format!("push {}: load top: {}", task(s.published), s.top),
            )],
            (Action::PushWriteSlot, Owner::PushWriteSlot { b }) => vec![Arrow::call(
                owner,
                mem,
                format!("write slot {} = {}", self.slot(b), task(s.published)),
            )],
            (Action::PushStoreBottom, Owner::PushStoreBottom { b }) => {
                vec![Arrow::call(owner, mem, format!("store bottom = {}", b + 1))]
            }
            (Action::TakeStoreBottom, _) => vec![Arrow::call(
                owner,
                mem,
                format!("take: store bottom = {}", s.bottom - 1),
            )],
            (Action::TakeLoadTop, _) => {
                vec![Arrow::call(owner, mem, format!("load top: {}", s.top))]
            }
            (Action::TakeReadSlot, Owner::TakeReadSlot { b, .. }) => {
                let x = s.slots[self.slot(b)];
                let mut a = vec![Arrow::call(
                    owner,
                    mem,
                    format!("read slot {}: {}", self.slot(b), read(x)),
                )];
                if n.owner == Owner::Idle {
                    a.push(returns(owner, format!("returns {}", read(x))));
                }
                a
            }
            (Action::TakeCasTop, Owner::TakeCasTop { b, x }) => {
                let won = s.top == b;
                vec![
                    Arrow::call(
                        owner,
                        mem,
                        format!(
                            "CAS top {b} → {}: {}",
                            b + 1,
                            if won { "won" } else { "lost" }
                        ),
                    ),
                    returns(
                        owner,
                        if won {
                            format!("returns {}", read(x))
                        } else {
                            "returns Empty".to_string()
                        },
                    ),
                ]
            }
            (Action::TakeRestoreBottom, Owner::TakeRestoreBottom { b }) => {
                vec![Arrow::call(owner, mem, format!("store bottom = {}", b + 1))]
            }
            (
                Action::StealLoadTop { thief }
                | Action::StealLoadBottom { thief }
                | Action::StealReadSlot { thief }
                | Action::StealCasTop { thief },
                _,
            ) => {
                let who = format!("Thief {thief}");
                let Some(&me) = s.thieves.get(*thief as usize) else {
                    return Vec::new();
                };
                match me {
                    Thief::Idle => vec![Arrow::call(
                        who.as_str(),
                        mem,
                        format!("steal: load top: {}", s.top),
                    )],
                    Thief::StealLoadBottom { t } => {
                        let mut a = vec![Arrow::call(
                            who.as_str(),
                            mem,
                            format!("load bottom: {}", s.bottom),
                        )];
                        if t >= s.bottom {
                            a.push(returns(&who, "returns Empty".to_string()));
                        }
                        a
                    }
                    Thief::StealReadSlot { t } | Thief::StealReadClaimed { t } => {
                        let x = s.slots[self.slot(t)];
                        let mut a = vec![Arrow::call(
                            who.as_str(),
                            mem,
                            format!("read slot {}: {}", self.slot(t), read(x)),
                        )];
                        if matches!(me, Thief::StealReadClaimed { .. }) {
                            a.push(returns(&who, format!("returns {}", read(x))));
                        }
                        a
                    }
                    Thief::StealCasTop { t, x } => {
                        let won = s.top == t;
                        vec![
                            Arrow::call(
                                who.as_str(),
                                mem,
                                format!(
                                    "CAS top {t} → {}: {}",
                                    t + 1,
                                    if won { "won" } else { "lost" }
                                ),
                            ),
                            returns(
                                &who,
                                if won {
                                    format!("returns {}", read(x))
                                } else {
                                    "returns Retry".to_string()
                                },
                            ),
                        ]
                    }
                    Thief::StealCasTopUnread { t } => {
                        let won = s.top == t;
                        let mut a = vec![Arrow::call(
                            who.as_str(),
                            mem,
                            format!(
                                "CAS top {t} → {}: {}",
                                t + 1,
                                if won { "won" } else { "lost" }
                            ),
                        )];
                        if !won {
                            a.push(returns(&who, "returns Retry".to_string()));
                        }
                        a
                    }
                }
            }
            _ => Vec::new(),
        }
    }

    fn explain(&self, name: &str, s: &DequeState) -> String {
        match name {
            "NoTaskLostOrDuplicated" => match duplicated(s) {
                Some(k) => {
                    let k = task(k);
                    if self.has(Bug::PopWithoutCas) {
                        format!(
                            "{k} was returned twice: the owner took it as the last task without claiming it by a CAS on top, and a thief that had loaded top and bottom before the owner's take read it and claimed it with its CAS."
                        )
                    } else {
                        format!("{k} was returned twice.")
                    }
                }
                None => {
                    let mut why = format!(
                        "every thread is idle and the deque shows {}, but {}.",
                        self.shown(s),
                        self.discrepancy(s)
                    );
                    why += self.how_lost();
                    why
                }
            },
            "TakenOnlyAfterPushed" => match s.premature {
                Some(Premature {
                    thief,
                    task: Some(k),
                }) if self.has(Bug::StealReadAfterCas) && thief => format!(
                    "a thief returned {}, whose push had not completed: it claimed an index with its CAS and read the slot only afterwards, when the owner had already wrapped around and written {} there.",
                    task(k),
                    task(k)
                ),
                Some(Premature {
                    thief,
                    task: Some(k),
                }) if self.has(Bug::PopWithoutCas) && thief => format!(
                    "a thief returned {}, whose push had not completed: the owner had taken the last task without a CAS and pushed {} into the same index, and the thief's claim on that index, made before, still went through.",
                    task(k),
                    task(k)
                ),
                Some(Premature { thief, task: x }) => format!(
                    "{} returned {}, which no completed push had published.",
                    who(thief),
                    read(x)
                ),
                None => "every value returned was published first.".to_string(),
            },
            "EveryTaskEventuallyTaken" => {
                let never: Vec<String> = untaken(s).into_iter().map(task).collect();
                format!(
                    "every task has been pushed, but {} {} never taken: the deque shows {} forever, though the owner keeps taking and {} stealing.{}",
                    join(&never),
                    if never.len() == 1 { "is" } else { "are" },
                    self.shown(s),
                    if self.config.thieves == 1 {
                        "the thief keeps"
                    } else {
                        "the thieves keep"
                    },
                    self.how_lost()
                )
            }
            other => match Self::prop(other) {
                Some(p) => format!("no reachable state satisfies {}: {}", p.name, p.doc),
                None => format!("unknown property {other}"),
            },
        }
    }

    fn violation(&self, name: &str, s: &DequeState) -> Violation {
        let every = self.participants();
        let mut deque_fields = vec!["top".to_string(), "bottom".to_string()];
        deque_fields.extend((0..self.config.capacity).map(|i| format!("slot {i}")));
        deque_fields.push("deque".to_string());
        match name {
            "NoTaskLostOrDuplicated" => match duplicated(s) {
                Some(k) => Violation {
                    statement: format!("{} was returned twice", task(k)),
                    participants: every[..every.len() - 1].to_vec(),
                    fields: vec!["taken".to_string(), "top".to_string(), "bottom".to_string()],
                },
                None => {
                    let mut fields = deque_fields;
                    fields.extend(["published".to_string(), "taken".to_string()]);
                    Violation {
                        statement: format!(
                            "every thread is idle and the deque shows {}, but {}",
                            self.shown(s),
                            self.discrepancy(s)
                        ),
                        participants: every,
                        fields,
                    }
                }
            },
            "TakenOnlyAfterPushed" => {
                let p = s.premature.unwrap_or(Premature {
                    thief: false,
                    task: None,
                });
                Violation {
                    statement: format!(
                        "{} returned {} before its push published it",
                        who(p.thief),
                        read(p.task)
                    ),
                    participants: every,
                    fields: vec![
                        "returned before published".to_string(),
                        "published".to_string(),
                        "bottom".to_string(),
                    ],
                }
            }
            "EveryTaskEventuallyTaken" => {
                let mut fields = deque_fields;
                fields.extend(["published".to_string(), "taken".to_string()]);
                Violation {
                    statement: {
                        let never: Vec<String> = untaken(s).into_iter().map(task).collect();
                        format!(
                            "{} {} never taken, while the deque shows {}",
                            join(&never),
                            if never.len() == 1 { "is" } else { "are" },
                            self.shown(s)
                        )
                    },
                    participants: every,
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
            "tasks" => "tasks the owner pushes, one after another (t0, t1, …)".to_string(),
            "capacity" if self.has(Bug::StealReadAfterCas) && self.config.tasks <= self.config.capacity => {
                "slots of the circular buffer; with no more tasks than slots no slot is written twice, so a late read still finds its task and this variant's bug cannot show".to_string()
            }
            "capacity" => format!(
                "slots of the circular buffer; index i is slot i mod {}, so with more tasks than slots the buffer wraps around and slots are written again",
                self.config.capacity
            ),
            "thieves" => "threads stealing from the top, each in a loop".to_string(),
            _ => return None,
        };
        Some(doc)
    }
}

impl DequeModel {
    /// The published tasks never taken that the deque does not show either, as names.
    fn lost(&self, s: &DequeState) -> Vec<String> {
        let held = contents(self, s);
        untaken(s)
            .into_iter()
            .filter(|&k| !held.contains(&Some(k)))
            .map(task)
            .collect()
    }

    /// How the deque's contents differ from the tasks pushed and not taken: "t1 was pushed
    /// and never taken", "it shows t2, which was taken already".
    fn discrepancy(&self, s: &DequeState) -> String {
        let lost = self.lost(s);
        let held = contents(self, s);
        let stale: Vec<String> = held
            .iter()
            .filter(|x| x.is_none_or(|k| s.taken[k as usize] > 0 || k >= s.published))
            .map(|&x| read(x))
            .collect();
        let mut parts = Vec::new();
        if !lost.is_empty() {
            parts.push(format!(
                "{} {} pushed and never taken",
                join(&lost),
                if lost.len() == 1 { "was" } else { "were" }
            ));
        }
        if !stale.is_empty() {
            parts.push(format!(
                "it shows {}, which {} taken already",
                join(&stale),
                if stale.len() == 1 { "was" } else { "were" }
            ));
        }
        if parts.is_empty() {
            "its contents are not the tasks pushed and not taken".to_string()
        } else {
            parts.join(", and ")
        }
    }

    /// How this variant's bug loses a task, as a sentence that follows the loss ("" for
    /// `correct`).
    fn how_lost(&self) -> &'static str {
        match self.bug {
            Some(Bug::PopWithoutCas) => {
                " The owner took a last task without a CAS while a thief claimed the same index with its CAS, which left top past bottom: a later push went to an index below top, where no take or steal looks."
            }
            Some(Bug::StealReadAfterCas) => {
                " A thief claimed an index with its CAS but read the slot only after the owner had wrapped around and written a newer task there: the task it claimed was never read, and the newer one is taken twice."
            }
            Some(Bug::NoRestoreAfterLostRace) => {
                " The owner lost the CAS for the last task and did not store bottom back, which left top past bottom: its next push went to an index below top, where no take or steal looks."
            }
            None => "",
        }
    }

    /// What the deque shows between `top` and `bottom`.
    fn shown(&self, s: &DequeState) -> String {
        let held = contents(self, s);
        if held.is_empty() {
            format!("nothing (top {}, bottom {})", s.top, s.bottom)
        } else {
            format!(
                "{} (top {}, bottom {})",
                held.iter().map(|&x| read(x)).collect::<Vec<_>>().join(", "),
                s.top,
                s.bottom
            )
        }
    }

    /// In words, what the owner is about to do.
    fn owner_doing(&self, s: &DequeState) -> String {
        match s.owner {
            Owner::Idle => "idle".to_string(),
            Owner::PushWriteSlot { b } => format!(
                "pushing {}: will write slot {} (index {b})",
                task(s.published),
                self.slot(b)
            ),
            Owner::PushStoreBottom { b } => format!(
                "pushing {}: wrote slot {}, will publish it by storing bottom = {}",
                task(s.published),
                self.slot(b),
                b + 1
            ),
            Owner::TakeLoadTop { b } => {
                format!("taking: reserved index {b}, will load top")
            }
            Owner::TakeReadSlot { b, t } => format!(
                "taking index {b} (top was {t}): will read slot {}",
                self.slot(b)
            ),
            Owner::TakeCasTop { b, x } => format!(
                "taking the last task ({} at index {b}): will CAS top {b} → {}",
                read(x),
                b + 1
            ),
            Owner::TakeRestoreBottom { b } => {
                format!("taking: will store bottom = {} back", b + 1)
            }
        }
    }

    /// In words, what a thief is about to do.
    fn thief_doing(&self, t: Thief) -> String {
        match t {
            Thief::Idle => "idle".to_string(),
            Thief::StealLoadBottom { t } => format!("stealing: top was {t}, will load bottom"),
            Thief::StealReadSlot { t } => {
                format!("stealing index {t}: will read slot {}", self.slot(t))
            }
            Thief::StealCasTop { t, x } => format!(
                "stealing index {t} (read {}): will CAS top {t} → {}",
                read(x),
                t + 1
            ),
            Thief::StealCasTopUnread { t } => format!(
                "stealing index {t}: will CAS top {t} → {}, then read slot {}",
                t + 1,
                self.slot(t)
            ),
            Thief::StealReadClaimed { t } => {
                format!("claimed index {t}: will read slot {}", self.slot(t))
            }
        }
    }
}

/// `t0`, `t1`, …: a task's name.
fn task(k: u8) -> String {
    format!("t{k}")
}

/// A slot's content as read.
fn read(x: Option<u8>) -> String {
    x.map_or("an unwritten slot".to_string(), task)
}

fn who(thief: bool) -> &'static str {
    if thief { "a thief" } else { "the owner" }
}

/// "a", "a and b", "a, b and c".
fn join(items: &[String]) -> String {
    match items {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use stateright::{Checker, HasDiscoveries};

    use super::*;
    use crate::testing::walk;

    fn model(variant: &str) -> DequeModel {
        DequeModel::new(variant, DequeConfig::default()).unwrap()
    }

    fn with(variant: &str, tasks: u8, capacity: u8, thieves: u8) -> DequeModel {
        let config = DequeConfig {
            tasks,
            capacity,
            thieves,
        };
        DequeModel::new(variant, config).unwrap()
    }

    const T0: Action = Action::StealLoadTop { thief: 0 };
    const B0: Action = Action::StealLoadBottom { thief: 0 };
    const R0: Action = Action::StealReadSlot { thief: 0 };
    const C0: Action = Action::StealCasTop { thief: 0 };
    const PUSH: [Action; 3] = [
        Action::PushLoadTop,
        Action::PushWriteSlot,
        Action::PushStoreBottom,
    ];
    /// The owner's take up to its read of the slot.
    const TAKE: [Action; 3] = [
        Action::TakeStoreBottom,
        Action::TakeLoadTop,
        Action::TakeReadSlot,
    ];

    fn path(parts: &[&[Action]]) -> Vec<Action> {
        parts.concat()
    }

    /// Explores all of `m` with stateright's DFS (under thief symmetry), asserts that no
    /// safety property is violated, and returns the number of unique states.
    fn explore_safely(m: DequeModel) -> usize {
        let checker = m
            .checker()
            .symmetry_fn(DequeModel::representative)
            .finish_when(HasDiscoveries::AllOf(BTreeSet::from([
                "(explore everything)",
            ])))
            .spawn_dfs()
            .join();
        checker.assert_no_discovery("NoTaskLostOrDuplicated");
        checker.assert_no_discovery("TakenOnlyAfterPushed");
        checker.unique_state_count()
    }

    /// The fingerprint of the model: unique states of the default configuration (three tasks,
    /// two slots, one thief), explored to the end by stateright.
    #[test]
    fn default_configuration_has_697_states() {
        assert_eq!(explore_safely(model("correct")), 697);
    }

    /// Two thieves and four tasks, symmetry-reduced by stateright's own DFS: the count the
    /// manifest pins for `correct[two-thieves]`.
    #[test]
    fn with_two_thieves_four_tasks_have_12311_states() {
        assert_eq!(explore_safely(with("correct", 4, 2, 2)), 12_311);
    }

    /// `pop-without-cas`, Chase–Lev's last-task race (SPAA 2005, §2: "the thief and the
    /// owner compete for the last element"): a thief reads t0 and is about to claim index 0;
    /// the owner reserves index 0, sees top = 0 and, without the CAS, returns t0; the thief's
    /// CAS still succeeds. The correct owner must CAS instead, and loses.
    #[test]
    fn pop_without_cas_returns_the_last_task_twice() {
        let race = path(&[&PUSH, &[T0, B0, R0], &TAKE]);
        let bug = model("pop-without-cas");
        let s = walk(&bug, &path(&[&race, &[C0]]));
        assert_eq!(s.taken[0], 2, "{s:?}");
        assert!(!no_task_lost_or_duplicated(&bug, &s));

        let m = model("correct");
        let s = walk(&m, &race);
        assert!(
            matches!(s.owner, Owner::TakeCasTop { b: 0, .. }),
            "the correct owner claims the last task by a CAS: {s:?}"
        );
        let s = walk(&m, &path(&[&race, &[C0, Action::TakeCasTop]]));
        assert_eq!(s.taken[0], 1, "the owner loses the CAS: {s:?}");
        assert!(no_task_lost_or_duplicated(&m, &s));
    }

    /// `steal-read-after-cas` needs the buffer to wrap around: the thief claims index 0,
    /// the owner (finding room now that top moved) writes t2 into slot 0, and the thief
    /// reads t2 — not yet published — instead of t0. In `correct` the thief reads before
    /// its CAS, and the owner cannot reuse slot 0 before top moves past index 0: its push
    /// finds the buffer full.
    #[test]
    fn a_thief_that_reads_after_its_cas_reads_a_reused_slot() {
        let bug = model("steal-read-after-cas");
        let s = walk(
            &bug,
            &path(&[&PUSH, &PUSH, &[T0, B0, C0], &PUSH[..2], &[R0]]),
        );
        assert_eq!(
            s.premature,
            Some(Premature {
                thief: true,
                task: Some(2)
            })
        );
        assert!(!taken_only_after_pushed(&bug, &s));

        let m = model("correct");
        let s = walk(&m, &path(&[&PUSH, &PUSH, &[T0, B0, R0]]));
        let full = walk(
            &m,
            &path(&[&PUSH, &PUSH, &[T0, B0, R0, Action::PushLoadTop]]),
        );
        assert_eq!(
            full, s,
            "the push finds the buffer full and changes nothing"
        );
    }

    /// At no more tasks than slots, `steal-read-after-cas` is harmless: no slot is written
    /// twice, so a late read finds the task it claimed.
    #[test]
    fn reading_after_the_cas_is_harmless_without_wrap_around() {
        explore_safely(with("steal-read-after-cas", 2, 2, 1));
        explore_safely(with("steal-read-after-cas", 3, 3, 2));
    }

    /// `no-restore-after-lost-race`: the owner loses the CAS for t0 to a thief and returns
    /// without storing bottom back (top 1, bottom 0); its next push writes t1 at index 0 and
    /// raises bottom to 1 = top: t1 is in the buffer but outside top..bottom, lost. The
    /// correct owner stores bottom = 1 back, and t1 goes to index 1.
    #[test]
    fn an_owner_that_does_not_restore_bottom_loses_the_next_push() {
        let lost_race = path(&[&PUSH, &[T0, B0, R0], &TAKE, &[C0, Action::TakeCasTop]]);
        let bug = model("no-restore-after-lost-race");
        let s = walk(&bug, &path(&[&lost_race, &PUSH]));
        assert_eq!((s.top, s.bottom), (1, 1));
        assert_eq!(s.slots[0], Some(1));
        assert!(quiescent(&s));
        assert!(!no_task_lost_or_duplicated(&bug, &s));

        let m = model("correct");
        let s = walk(
            &m,
            &path(&[&lost_race, &[Action::TakeRestoreBottom], &PUSH]),
        );
        assert_eq!((s.top, s.bottom), (1, 2));
        assert!(no_task_lost_or_duplicated(&m, &s));
    }

    /// Each `sometimes` property's example, one path each: the property holds at its end
    /// and at no step before.
    #[test]
    fn sometimes_properties_are_reachable() {
        let m = model("correct");
        let cases: [(&str, Vec<Action>); 4] = [
            ("TaskStolen", path(&[&PUSH, &[T0, B0, R0, C0]])),
            ("LastElementContended", path(&[&PUSH, &[T0, B0, R0], &TAKE])),
            (
                "SlotReused",
                path(&[&PUSH, &PUSH, &[T0, B0, R0, C0], &PUSH[..2]]),
            ),
            (
                "AllTasksPushed",
                path(&[&PUSH, &PUSH, &[T0, B0, R0, C0], &PUSH]),
            ),
        ];
        for (name, steps) in cases {
            let p = DequeModel::prop(name).unwrap();
            for k in 0..steps.len() {
                assert!(!(p.condition)(&m, &walk(&m, &steps[..k])), "{name} at {k}");
            }
            assert!((p.condition)(&m, &walk(&m, &steps)), "{name}");
        }
    }

    /// A push into a full buffer returns `Full`, changes nothing, and the owner keeps the
    /// task: once a thief has taken t0, the same push goes through into slot 0.
    #[test]
    fn a_push_into_a_full_buffer_changes_nothing() {
        let m = model("correct");
        let full = walk(&m, &path(&[&PUSH, &PUSH]));
        assert_eq!(m.next_state(&full, Action::PushLoadTop), Some(full.clone()));
        let s = walk(&m, &path(&[&PUSH, &PUSH, &[T0, B0, R0, C0], &PUSH]));
        assert_eq!((s.slots[0], s.top, s.bottom), (Some(2), 1, 3));
    }

    /// No example holds before a step is taken, in any variant.
    #[test]
    fn no_example_holds_at_the_start() {
        for v in DequeModel::variants() {
            crate::testing::no_example_at_start(&with(v.id, 3, 2, 2));
        }
    }

    /// Every step belongs to its thread's class, and every class is weakly fair: there is no
    /// fault in this model.
    #[test]
    fn every_step_has_its_threads_class() {
        let m = with("correct", 3, 2, 2);
        crate::testing::classes_cover_every_action(&m, |_| false);
        crate::testing::each_transition(&m, |_, a, _| {
            let class = m.class_of(a);
            let owner = matches!(
                a,
                Action::PushLoadTop
                    | Action::PushWriteSlot
                    | Action::PushStoreBottom
                    | Action::TakeStoreBottom
                    | Action::TakeLoadTop
                    | Action::TakeReadSlot
                    | Action::TakeCasTop
                    | Action::TakeRestoreBottom
            );
            assert_eq!(class == 0, owner, "{a:?}");
        });
    }

    /// The thieves are interchangeable: renaming them maps the successors of a state onto
    /// the successors of the renamed state, and no property can tell a state from its
    /// renaming — so exploring representatives loses no verdict. Checked on every reachable
    /// state of three thieves for the two renamings that generate every permutation.
    #[test]
    fn renaming_thieves_preserves_successors_and_properties() {
        for v in DequeModel::variants() {
            let m = with(v.id, 3, 2, 3);
            let rename = |s: &DequeState, to: &[usize; 3]| {
                let mut r = s.clone();
                for (i, &j) in to.iter().enumerate() {
                    r.thieves[j] = s.thieves[i];
                }
                r
            };
            let successors = |s: &DequeState| -> BTreeSet<String> {
                let mut actions = Vec::new();
                m.actions(s, &mut actions);
                actions
                    .into_iter()
                    .filter_map(|a| m.next_state(s, a))
                    .map(|n| format!("{:?}", DequeModel::representative(&n)))
                    .collect()
            };
            let mut states = 0;
            crate::testing::each_transition(&m, |s, _, _| {
                states += 1;
                for to in [[1, 0, 2], [1, 2, 0]] {
                    let r = rename(s, &to);
                    assert_eq!(successors(s), successors(&r), "{}: {s:?}", v.id);
                    for p in DequeModel::props() {
                        assert_eq!(
                            (p.condition)(&m, s),
                            (p.condition)(&m, &r),
                            "{}: {}",
                            v.id,
                            p.name
                        );
                    }
                }
            });
            assert!(states > 1000, "{}: {states}", v.id);
        }
    }

    /// The premise of `EveryTaskEventuallyTaken` is the `sometimes` property
    /// `AllTasksPushed`, on every reachable state of every variant, and it happens.
    #[test]
    fn every_leads_to_premise_has_a_sometimes_twin() {
        let props = DequeModel::props();
        for v in DequeModel::variants() {
            let m = model(v.id);
            let mut seen = HashSet::new();
            crate::testing::each_transition(&m, |s, _, _| {
                seen.insert(s.clone());
            });
            for p in props.iter().filter(|p| p.kind == Kind::LeadsTo) {
                let premise = p.premise.unwrap();
                let twins: Vec<&str> = props
                    .iter()
                    .filter(|t| {
                        t.kind == Kind::Sometimes
                            && seen.iter().all(|s| (t.condition)(&m, s) == premise(&m, s))
                    })
                    .map(|t| t.name)
                    .collect();
                assert_eq!(twins, ["AllTasksPushed"], "{}: {}", v.id, p.name);
                assert!(seen.iter().any(|s| premise(&m, s)), "{}", v.id);
            }
        }
    }

    /// Every bound is explained in a trace; the capacity's explanation says when this
    /// variant's bug cannot show.
    #[test]
    fn every_bound_is_documented() {
        let config = serde_json::to_value(DequeConfig::default()).unwrap();
        for v in DequeModel::variants() {
            for m in [model(v.id), with(v.id, 2, 2, 1)] {
                for key in config.as_object().unwrap().keys() {
                    let doc = m.bound_doc(key).unwrap_or_else(|| panic!("{key}"));
                    let cannot = doc.contains("cannot show");
                    assert_eq!(
                        cannot,
                        key == "capacity"
                            && v.id == "steal-read-after-cas"
                            && m.config.tasks <= m.config.capacity,
                        "{}: {key}: {doc}",
                        v.id
                    );
                }
            }
        }
    }

    /// Out-of-range bounds are refused with the bound's name.
    #[test]
    fn bad_bounds_are_refused() {
        let d = DequeConfig::default;
        for (config, word) in [
            (DequeConfig { tasks: 0, ..d() }, "tasks"),
            (DequeConfig { tasks: 7, ..d() }, "tasks"),
            (DequeConfig { capacity: 5, ..d() }, "capacity"),
            (DequeConfig { thieves: 0, ..d() }, "thieves"),
            (DequeConfig { thieves: 4, ..d() }, "thieves"),
        ] {
            let e = DequeModel::new("correct", config).unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
    }

    /// The violation of each property names the fields that show it, and every one of them
    /// is a field of the state.
    #[test]
    fn violations_name_fields_of_the_state() {
        for v in DequeModel::variants() {
            let m = model(v.id);
            crate::testing::each_transition(&m, |_, _, next| {
                let Some(s) = next else { return };
                let names: Vec<String> = m.fields(s).into_iter().map(|(n, _)| n).collect();
                for p in DequeModel::props() {
                    if p.kind == Kind::Sometimes || (p.condition)(&m, s) {
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
