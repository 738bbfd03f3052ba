//! The election's refinement mapping: run logs of `coordlab_impls::election` (its lease
//! store, electors and fenced storage, observed by a test harness that also moves time and
//! injects pauses and crashes) onto `coordlab_models::election::ElectionModel`.
//!
//! # The log
//! A [`Record`] per step: real time (ms), every node's own clock (ms, node `i` at index
//! `i`), and the [`Step`]: an implementation [`Event`] (grant, check-then-set read, renewal,
//! release, an elector's `Leading` / `Trusted` / `SteppedDown`, a write at storage), or a
//! harness step (real time moves; a node pauses, resumes, crashes, restarts; the store
//! refused a renewal). The configuration ([`RunConfig`]) is the electors': lease, renewal
//! interval and drift bound, in ms.
//!
//! # Ids, time, variant
//! - Nodes: node `n` (`NodeId(n)`) is model node `n`; the number of nodes is the length of
//!   the records' `clocks` (2 to 5).
//! - Time: one model tick is one millisecond of real time. A `Tick` of `ms` is `ms` model
//!   `Tick`s, the first carrying the slow clocks (a harness clock falls one tick behind at a
//!   time); a slow clock of a node that does not lead in the model is dropped (only a
//!   leader's clock matters to the model, and so the model's `lag` never exceeds the
//!   harness's). Once no timer runs in the model (no live lease, no leader's clock counting)
//!   the rest of a clock move is a stutter.
//! - Tokens: the `n`-th grant's token is `n` in both; the model's tokens are `u8`.
//! - Variant: the deviation's id is the model's bug variant of the same name; `correct`
//!   without one. The margin the electors keep is the drift bound (`margin = drift`), none
//!   under `no-clock-margin`.
//! - Configuration: `lease`, `drift` and `margin` in ticks from the ms values (at most 255);
//!   `max-terms`, `max-writes`, `max-crashes`, `max-pauses` counted from the log.
//!
//! # When a step takes effect: send, grant and log
//! The implementation logs a step after it took effect, and real time may move in between
//! (the harness's clock driver runs beside the nodes). Four steps say when they took effect,
//! and the mapping takes their model action there, before the clock moves that the log shows
//! before them:
//! - a grant, at the store's reading of real time: its `expires_at` minus the lease;
//! - a check of the lease (`Trusted`), at the node's clock reading it states (`local`);
//! - a renewal, when the node *sent* it: the `local` of the `Leading` that answers it; a
//!   renewal whose answer the node never applied (it handed the lease back) at the latest
//!   moment, no later than the store's reading, at which the model's leader still trusts its
//!   lease (the elector sent it while it trusted it);
//! - a read of the lease free (`ReadFree`, which the store reports outside its lock), before
//!   the first grant of the token it read; and before an earlier-logged grant it must have
//!   preceded (of its token or a lower one, or whose lease was live when the read was
//!   logged): after that grant the read would have found the lease taken.
//!
//! The last is the refinement of the elector's timing. An elector times its lease from the
//! moment it sent the request the store granted (its clock then, `local`, plus the lease,
//! minus the margin); the model's node times it from the `Acquire` or `Renew` that grants
//! it. For a renewal the mapping takes the model's `Renew` at the send, so the two agree to
//! the tick: the node trusts until `local + lease − margin`, and the model's leader has
//! `lease` ticks left at `local`. The store extends the lease from its own later reading, so
//! its lease outlives the model's by the request's time in flight: the implementation's
//! store is more conservative than the model's, never less (checked at every renewal). A
//! grant cannot be taken at the send (the lease may have been free only by the time the store
//! answered), so the model's `Acquire` is at the grant and the node trusts `d` ticks less than
//! the model's leader, `d` its clock's advance from the send to the grant (checked `≥ 0` at
//! the `Leading` that answers). When that makes the implementation's node step down while the
//! model's still trusts its lease, the step-down is the model's early `StepDown` (a leader may
//! give its lease up at any time).
//!
//! # Events
//! - `Granted`: `Acquire` (`WriteLease` under `check-then-set`); `ReadFree`: `ReadLease`
//!   (a stutter under the other variants, where the read and the write are one step);
//!   `Renewed`: `Renew`; `Trusted`: `PrepareWrite`; `Write`: `StorageWrite`;
//!   `SteppedDown` for an untrusted lease or a refused renewal: `StepDown`, at once (early,
//!   if the model's node still trusts its lease; see above).
//! - Harness steps: `Tick`: `Tick`s; `Pause`, `Resume`, `Crash`, `Restart`: the model's
//!   actions of those names; `RenewRefused`: a stutter.
//! - `Leading`: a stutter (the model's node leads from the grant).
//! - A release (the store's `Released`, or the harness's `ReleaseRefused` when the store
//!   refused it) of the lease the model's node holds: `Resign`, with the model's `resign`
//!   knob on (set for every log with a release); of a lease the model's node no longer
//!   holds, a stutter. The release follows the node's giving the lease up, and the mapping
//!   keeps the model's node leading until then: a resignation (`SteppedDown` resigned) is a
//!   stutter when its release is logged after it (`Resign` at once when it is not); a
//!   step-down for an untrusted lease followed by a release is the hand-back of a request
//!   answered late (below), and the model's `StepDown` is not taken.
//! - A grant or renewal whose answer the node never applies, because it stepped down or
//!   resigned while the request was in flight (the elector's epoch rule): the model's
//!   `Acquire` or `Renew`, and the release with which the elector hands the lease back is
//!   the model's `Resign`. The model's node leads a little longer than the implementation's
//!   (the model's grant and renewal are atomic with the node's belief); nothing the
//!   implementation's node does in between needs it to lead.
//!
//! # Shared electors (`writers`)
//! A log whose `RunConfig::writers` is not 0 comes from electors shared by a heartbeat thread
//! and that many writer threads, and is mapped onto the model with `writers` set alike: a
//! writer's `Trusted` is a `PrepareWrite` whose write waits, on its way, for nothing the
//! node does (the node renews, steps down, resigns and campaigns meanwhile), and its `Write`
//! is the `StorageWrite` of the token it carries. A writer's `Pause` and `Resume` are
//! stutters (the write waits; the heartbeat goes on). A node's steps come from several
//! threads, each step logged after its effect: one that took effect before a clock move goes
//! there even when a step of its node logged before it did not (another thread's), if the
//! model's node can take it there with the token it states. A release of another of the
//! node's tokens logged between a grant and its hand-back is another thread's (a
//! resignation), and a campaign of a node whose resignation's release is logged later came
//! before the release reached the store: the model's node resigns at the campaign.
//!
//! A step taken before a clock move is checked there when later steps taken early could
//! change what it is compared with (a grant's expiry, before a renewal moved ahead of the
//! move). A grant taken before a move brings along the reads of the lease logged before it
//! and left after the move (a read, reported outside the store's lock, has no time of its
//! own): those the model can take there, the lease free and the token next.
//!
//! # Agreement after each step
//! A grant's holder and token are the model store's, and its expiry `expires_at − now` is
//! the ticks the model's lease has left; a renewal's expiry is at most a lease from now and at
//! least what the model's lease has left; a `Leading` trusts until `local + lease − margin`,
//! of a lease the store granted or renewed *after* `local`; a `Trusted` checks the token of
//! the model's leader; a write is accepted or rejected as the model's storage decides, with
//! the model's highest accepted token; a step-down for an untrusted lease comes when the
//! node's clock has reached the `trusted_until` of its `Leading`; a refused renewal or
//! release is of a lease the model's store no longer holds live for that node and token; after
//! a release the model's store does not hold that lease either.
//!
//! # Not expressed (reported as [`ConformError::Unmapped`])
//! - Without `writers` (one thread a node), a node's steps interleaved as only several
//!   threads can: a second write prepared before the first reached storage; a renewal,
//!   step-down, resignation or grant while a write is prepared; a step that took effect
//!   before a clock move but is logged after a step of its node that came after the move.
//! - A grant or renewal the node neither applied nor handed back (not in the harness's
//!   logs, which record every release and its refusal).
//!
//! # What is not checked
//! - Only what the log records. The send of a request is not logged; its time comes from the
//!   answer's `local`, or, for a renewal handed back, is taken as late as the model allows.
//! - `renew_every` is not the model's (its leader may renew at any tick it trusts its lease),
//!   so how often the implementation renews is not compared.
//! - The drift bound is the harness's: a clock that falls further behind than `drift` has
//!   no model step (its slow tick is not enabled) and diverges.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use coordlab_impls::election::{Event, FencingToken, NodeId, StepDownReason};
use coordlab_models::Protocol;
use coordlab_models::election::{
    Action, ElectionConfig, ElectionModel, ElectionState, MAX_NODES, Phase, PreparedWrite,
};
use serde::{Deserialize, Serialize};
use stateright::Model;

use super::{ConformError, Conformance, Failure, Mismatch};

/// The electors' configuration as a run log states it, in ms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunConfig {
    /// The lease every node asks for, ms.
    pub lease_ms: u64,
    /// How often a leader renews, ms (not compared: the model's leader renews at any tick).
    pub renew_every_ms: u64,
    /// The drift bound the electors are configured with (`max_drift`), ms; also the margin
    /// they keep.
    pub drift_ms: u64,
    /// Writer threads per node sharing its elector with the node's heartbeat thread (0: one
    /// thread per node heartbeats and writes). The model's `writers`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub writers: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One step of an election run: an implementation event, or a step of the harness around it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// An event of the lease store, an elector or storage.
    Elect(Event),
    /// Real time moved `ms` on; the clocks of the nodes in `slow` fell one tick behind.
    Tick {
        /// How far real time moved, ms.
        ms: u64,
        /// Nodes whose clocks fell one tick behind.
        slow: Vec<u32>,
    },
    /// A leader stalls between checking its lease and sending its write.
    Pause {
        /// The node.
        node: u32,
    },
    /// The stalled node runs again, still believing what it believed.
    Resume {
        /// The node.
        node: u32,
    },
    /// The node crashes, forgetting everything.
    Crash {
        /// The node.
        node: u32,
    },
    /// The node restarts as a follower with a fresh elector.
    Restart {
        /// The node.
        node: u32,
    },
    /// The store refused the node's renewal with `token`: its lease was no longer current
    /// (logged when the answer reached the node).
    RenewRefused {
        /// The node.
        node: u32,
        /// The token it presented.
        token: FencingToken,
    },
    /// The store refused the node's release of its lease with `token` (a resignation, or a
    /// lease handed back): it was no longer current (logged when the answer reached the
    /// node). A release the store makes is the store's `Released` event.
    ReleaseRefused {
        /// The node.
        node: u32,
        /// The token it presented.
        token: FencingToken,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Elect(e) => write!(f, "{e}"),
            Step::Tick { ms, slow } => {
                write!(f, "real time moves {ms}ms")?;
                if !slow.is_empty() {
                    let names: Vec<String> = slow.iter().map(|n| format!("n{n}")).collect();
                    write!(f, "; the clock of {} falls a tick behind", names.join(", "))?;
                }
                Ok(())
            }
            Step::Pause { node } => write!(f, "n{node} PAUSES before sending its write"),
            Step::Resume { node } => write!(f, "n{node} resumes, still believing it leads"),
            Step::Crash { node } => write!(f, "n{node} CRASHES"),
            Step::Restart { node } => write!(f, "n{node} restarts as a follower"),
            Step::RenewRefused { node, token } => write!(
                f,
                "store refuses n{node}'s renewal with {token}: the lease is no longer current"
            ),
            Step::ReleaseRefused { node, token } => write!(
                f,
                "store refuses n{node}'s release of {token}: the lease is no longer current"
            ),
        }
    }
}

/// One entry of a run's log: the step, real time and every node's clock when it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Real time, ms.
    pub real: u64,
    /// Each node's clock, ms (node `i` at index `i`).
    pub clocks: Vec<u64>,
    /// What happened.
    pub step: Step,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", time_label(self.real, &self.clocks), self.step)
    }
}

/// "real 20ms | n0 20 n1 10 n2 20": real time and each node's clock.
pub fn time_label(real: u64, clocks: &[u64]) -> String {
    let nodes: Vec<String> = clocks
        .iter()
        .enumerate()
        .map(|(i, c)| format!("n{i} {c}"))
        .collect();
    format!("real {real}ms | {}", nodes.join(" "))
}

/// When a step took effect, if that may be before it was logged.
#[derive(Clone, Copy, Debug)]
enum Effect {
    /// At this reading of real time (a grant: `expires_at − lease`).
    Real(u64),
    /// When `node`'s clock read `at` (a check of the lease).
    Clock { node: usize, at: u64 },
    /// A renewal `node` sent when its clock read `sent`, which the store made at real time
    /// `store`.
    Renewal { node: usize, sent: u64, store: u64 },
    /// With the grant at this index, or before it (a check-then-set read before the first
    /// write of the token it read).
    WithGrant(usize),
}

/// What a node's latest `Leading` says it believes.
#[derive(Clone, Copy, Debug)]
struct Belief {
    token: FencingToken,
    trusted_until: u64,
}

/// A grant or renewal the store made for a node, not yet answered by a `Leading`.
#[derive(Clone, Copy, Debug)]
struct Answer {
    token: FencingToken,
    /// The node's clock when the model's action was taken (the grant; the renewal's send).
    clock: u64,
    /// Real time then.
    real: u64,
    renewal: bool,
}

/// The election's mapping state.
#[derive(Clone, Debug)]
pub struct ElectionConformance {
    lease: u64,
    margin: u64,
    check_then_set: bool,
    records: Arc<[Record]>,
    effects: Arc<[Option<Effect>]>,
    /// Grants and renewals whose answer the node never applied and never handed back.
    unanswered: Arc<BTreeSet<usize>>,
    taken_early: BTreeSet<usize>,
    /// Steps that took effect before a clock move logged before them, but came after a step
    /// of the same node that did not: not taken before the move, to keep the node's order.
    held_back: BTreeSet<usize>,
    /// Steps that may have taken effect before such a move (a clock that stood still, a
    /// renewal the model could take before the store's reading), held back the same way.
    maybe_held_back: BTreeSet<usize>,
    /// The index of the record being mapped.
    index: usize,
    real: u64,
    clocks: Vec<u64>,
    belief: Vec<Option<Belief>>,
    answer: Vec<Option<Answer>>,
    /// The implementation's node gave up its lease and a release of it follows (a
    /// resignation's, or a late answer's hand-back): the model's node keeps its lease until
    /// then and resigns there (`Resign`), instead of stepping down.
    releasing: Vec<bool>,
    /// The node has a write prepared (`Trusted`) that has not reached storage.
    writing: Vec<bool>,
    /// The electors are shared by writer threads (the model's `writers`): a node's writes
    /// are its writers' prepared writes, which wait for nothing the node does.
    shared: bool,
}

fn unmapped(why: impl Into<String>) -> Failure {
    Failure::Conform(ConformError::Unmapped {
        step: 0,
        why: why.into(),
    })
}

fn field(model: &ElectionModel, s: &ElectionState, name: &str) -> String {
    model
        .fields(s)
        .into_iter()
        .find(|(n, _)| n == name)
        .map_or_else(String::new, |(_, v)| v)
}

fn node_of(step: &Step) -> Option<u32> {
    match step {
        Step::Elect(e) => Some(match *e {
            Event::Granted { node, .. }
            | Event::ReadFree { node, .. }
            | Event::Renewed { node, .. }
            | Event::Released { node, .. }
            | Event::Leading { node, .. }
            | Event::Trusted { node, .. }
            | Event::SteppedDown { node, .. }
            | Event::Write { node, .. } => node.0,
        }),
        Step::Pause { node }
        | Step::Resume { node }
        | Step::Crash { node }
        | Step::Restart { node }
        | Step::RenewRefused { node, .. }
        | Step::ReleaseRefused { node, .. } => Some(*node),
        Step::Tick { slow, .. } => slow.iter().copied().max(),
    }
}

/// Whether a release of `node`'s lease with `token` (the store's `Released`, or its refusal)
/// is logged after record `k`, before the node is granted a lease, leads, or crashes. (A
/// release of another of its tokens in between is another thread's, with a shared elector: a
/// resignation's, answered after this grant.)
fn release_follows(records: &[Record], k: usize, node: NodeId, token: FencingToken) -> bool {
    records[k + 1..]
        .iter()
        .find_map(|later| match later.step {
            Step::Elect(Event::Released { node: m, token: t }) if m == node && t == token => {
                Some(true)
            }
            Step::ReleaseRefused { node: m, token: t } if m == node.0 && t == token => Some(true),
            Step::Elect(Event::Granted { node: m, .. } | Event::Leading { node: m, .. })
                if m == node =>
            {
                Some(false)
            }
            Step::Crash { node: m } if m == node.0 => Some(false),
            _ => None,
        })
        .unwrap_or(false)
}

fn token_u8(token: FencingToken) -> Option<u8> {
    u8::try_from(token.get()).ok()
}

fn enabled(model: &ElectionModel, s: &ElectionState, a: Action) -> bool {
    let mut v = Vec::new();
    model.actions(s, &mut v);
    v.contains(&a)
}

impl ElectionConformance {
    fn node(&self, id: NodeId) -> Result<usize, Failure> {
        let n = id.0 as usize;
        if n < self.clocks.len() {
            Ok(n)
        } else {
            Err(ConformError::BadLog(format!(
                "{id} is not one of the log's {} nodes",
                self.clocks.len()
            ))
            .into())
        }
    }

    /// Whether the model's node `n` has a write with `token` prepared and not yet at
    /// storage: one of its writers' (with `writers`), or its own (`Phase::Writing`).
    fn has_prepared(&self, st: &ElectionState, n: usize, token: FencingToken) -> bool {
        let Some(t) = token_u8(token) else {
            return false;
        };
        if self.shared {
            st.prepared.contains(&PreparedWrite {
                node: n as u8,
                token: t,
            })
        } else {
            matches!(st.nodes[n].phase, Phase::Writing { token, .. } if token == t)
        }
    }

    /// Without `writers`, fails as unmapped if node `n` has a write prepared: the model's
    /// node does one thing at a time, and `what` is a second.
    fn one_at_a_time(&self, n: usize, what: &str) -> Result<(), Failure> {
        if self.writing[n] && !self.shared {
            return Err(unmapped(format!(
                "n{n} {what} while a write it prepared has not reached storage: with one thread a node (no `writers`), the model's node does one thing at a time"
            )));
        }
        Ok(())
    }

    /// Node `n` campaigns (its read of the lease, its grant): if it resigned and its release is
    /// logged later, the release reached the store after this campaign (a shared elector:
    /// another thread campaigned meanwhile), and the store refused it. The model's node
    /// resigns now (`Resign`); the release is then a stutter.
    fn campaigns(&mut self, n: usize) -> Option<Action> {
        std::mem::take(&mut self.releasing[n]).then_some(Action::Resign { node: n as u8 })
    }

    /// Record `k` taken early, in model state `s` (before the clock move the mapping is at):
    /// the mapping's state after it, the model's, and the actions; `None` if the model cannot
    /// take it there (not enabled, or not with the token the record states: a lease check or
    /// renewal of a token the model's node does not hold, a read finding another token next).
    fn try_early(
        &self,
        model: &ElectionModel,
        s: &ElectionState,
        k: usize,
    ) -> Result<Option<(Self, ElectionState, Vec<Action>)>, Failure> {
        let mut trial = self.clone();
        let early = match trial.map(model, s, k) {
            Ok(early) => early,
            // Outside the model when it took effect: so is the run.
            Err(Failure::Conform(ConformError::Unmapped { why, .. })) => {
                return Err(unmapped(format!(
                    "step {} (which took effect before this clock move): {why}",
                    k + 1
                )));
            }
            Err(_) => return Ok(None),
        };
        let consistent = match self.records[k].step {
            Step::Elect(
                Event::Trusted { node, token, .. } | Event::Renewed { node, token, .. },
            ) => {
                matches!(s.nodes[node.0 as usize].phase,
                    Phase::Leader { token: t, .. } if Some(t) == token_u8(token))
            }
            // A read found the lease free, with the next token this one.
            Step::Elect(Event::ReadFree { token, .. }) => {
                let next = s.lease.grants.last().map_or(1, |t| u64::from(*t) + 1);
                let free = s.lease.holder.is_none() || s.lease.left == 0;
                free && next == token.get()
            }
            _ => true,
        };
        let mut t = s.clone();
        let ok = consistent
            && early.iter().all(|&a| {
                enabled(model, &t, a)
                    && model.next_state(&t, a).is_some_and(|next| {
                        t = next;
                        true
                    })
            });
        // A grant agrees where it is taken: later steps taken early too (a renewal) may
        // change the lease before the grant's own record is checked.
        let agrees = match self.records[k].step {
            Step::Elect(Event::Granted {
                node,
                token,
                expires_at,
            }) => {
                t.lease.holder == Some(node.0 as u8)
                    && t.lease.grants.last().copied() == token_u8(token)
                    && expires_at.as_millis().checked_sub(self.real)
                        == Some(u64::from(t.lease.left))
            }
            _ => true,
        };
        Ok((ok && agrees).then_some((trial, t, early)))
    }

    /// `check-then-set`: node `n` reads the lease free.
    fn read_free(&mut self, n: usize) -> Vec<Action> {
        let mut acts: Vec<Action> = self.campaigns(n).into_iter().collect();
        acts.push(Action::ReadLease { node: n as u8 });
        acts
    }

    /// The model actions record `k` stands for, in model state `s`, at the mapping's current
    /// time. Ticks are not handled here.
    fn map(
        &mut self,
        model: &ElectionModel,
        s: &ElectionState,
        k: usize,
    ) -> Result<Vec<Action>, Failure> {
        let record = self.records[k].clone();
        let mut acts = Vec::new();
        if self.unanswered.contains(&k) {
            return Err(unmapped(format!(
                "`{}` is never answered: the node's elector neither applied it nor handed it back",
                record.step
            )));
        }
        match record.step {
            Step::Tick { .. } => unreachable!("ticks are mapped by `actions`"),
            Step::Elect(Event::Granted {
                node,
                token,
                expires_at,
            }) => {
                let n = self.node(node)?;
                self.one_at_a_time(n, "is granted a lease")?;
                acts.extend(self.campaigns(n));
                // The reads of this same free lease by other nodes came before this grant,
                // though they may be logged after it.
                for j in self.reads_before_grant(k, node, token, expires_at.as_millis()) {
                    self.taken_early.insert(j);
                    if let Step::Elect(Event::ReadFree { node: m, .. }) = self.records[j].step
                        && self.check_then_set
                    {
                        let m = self.node(m)?;
                        acts.extend(self.read_free(m));
                    }
                }
                acts.push(if self.check_then_set {
                    Action::WriteLease { node: n as u8 }
                } else {
                    Action::Acquire { node: n as u8 }
                });
                self.answer[n] = Some(Answer {
                    token,
                    clock: self.clocks[n],
                    real: self.real,
                    renewal: false,
                });
            }
            Step::Elect(Event::ReadFree { node, .. }) => {
                let n = self.node(node)?;
                if self.check_then_set {
                    acts.extend(self.read_free(n));
                }
            }
            Step::Elect(Event::Renewed { node, token, .. }) => {
                let n = self.node(node)?;
                self.one_at_a_time(n, "renews its lease")?;
                acts.push(Action::Renew { node: n as u8 });
                self.answer[n] = Some(Answer {
                    token,
                    clock: self.clocks[n],
                    real: self.real,
                    renewal: true,
                });
            }
            Step::Elect(Event::Released {
                node: NodeId(node),
                token,
            })
            | Step::ReleaseRefused { node, token } => {
                let n = self.node(NodeId(node))?;
                // The release of a lease the model's node still holds is its resignation (or
                // the hand-back of a late answer); of one it gave up already, a stutter.
                let holds = matches!(s.nodes[n].phase,
                    Phase::Leader { token: t, .. } | Phase::Writing { token: t, .. }
                        if Some(t) == token_u8(token));
                if holds {
                    self.one_at_a_time(n, "resigns")?;
                    self.releasing[n] = false;
                    self.belief[n] = None;
                    self.answer[n] = None;
                    acts.push(Action::Resign { node: n as u8 });
                }
            }
            Step::Elect(Event::SteppedDown {
                node,
                token,
                reason: StepDownReason::Resigned,
            }) => {
                let n = self.node(node)?;
                self.belief[n] = None;
                if self.release_follows(k, node, token) {
                    // Resigns at the store's answer to its release.
                    self.releasing[n] = true;
                } else {
                    self.one_at_a_time(n, "resigns")?;
                    acts.push(Action::Resign { node: n as u8 });
                }
            }
            Step::Elect(Event::SteppedDown { node, token, .. }) => {
                let n = self.node(node)?;
                self.one_at_a_time(n, "steps down")?;
                if !matches!(s.nodes[n].phase, Phase::Leader { .. }) {
                    return Err(Mismatch::new(
                        format!("node {n}"),
                        field(model, s, &format!("node {n}")),
                        format!("{node} steps down"),
                    )
                    .into());
                }
                self.belief[n] = None;
                // A late answer to a request in flight is handed back after this: the model's
                // node resigns then. Otherwise it steps down now — early, if the model's node
                // still trusts its lease (the implementation's timed it from its request).
                self.releasing[n] = self.release_follows(k, node, token);
                if !self.releasing[n] {
                    acts.push(Action::StepDown { node: n as u8 });
                }
            }
            Step::Elect(Event::Trusted { node, .. }) => {
                let n = self.node(node)?;
                self.one_at_a_time(n, "prepares a second write")?;
                self.writing[n] = true;
                acts.push(Action::PrepareWrite { node: n as u8 });
            }
            Step::Elect(Event::Write { node, token, .. }) => {
                let n = self.node(node)?;
                self.writing[n] = false;
                acts.push(Action::StorageWrite {
                    node: n as u8,
                    // A writer's write, by the token it carries.
                    token: token_u8(token).filter(|_| self.shared),
                });
            }
            // A writer thread stalls with its write prepared: the write waits (it is on its
            // way, as long as it takes), while the node's heartbeat goes on.
            Step::Pause { .. } | Step::Resume { .. } if self.shared => {}
            Step::Elect(Event::Leading { .. }) | Step::RenewRefused { .. } => {}
            Step::Pause { node } => acts.push(Action::Pause { node: node as u8 }),
            Step::Resume { node } => acts.push(Action::Resume { node: node as u8 }),
            Step::Crash { node } => {
                let n = node as usize;
                self.belief[n] = None;
                self.answer[n] = None;
                self.releasing[n] = false;
                self.writing[n] = false;
                acts.push(Action::Crash { node: node as u8 });
            }
            Step::Restart { node } => acts.push(Action::Restart { node: node as u8 }),
        }
        Ok(acts)
    }

    /// The records after grant `k` (of `token` to `node`, expiring at `expires_at`) that
    /// report another node's read of the lease free, not yet mapped, made before the grant:
    /// the store reports a read outside its lock, so it may be logged after grants it came
    /// before. A read of token `t` found the grant of `t − 1` the last (none, for 1), and a
    /// grant is logged inside the store's lock, before any read that found it: the read came
    /// before grant `k` if the grant it found is logged before `k`, and after if it is `k` or
    /// logged between `k` and the read. (Under `check-then-set` both can hold, a token being
    /// granted twice; then the read came before if `k`'s lease was live, and neither released
    /// nor replaced, when the read was logged: after `k` it would have found it taken.)
    fn reads_before_grant(
        &self,
        k: usize,
        node: NodeId,
        token: FencingToken,
        expires_at: u64,
    ) -> Vec<usize> {
        let granted = |range: std::ops::Range<usize>, t: u64| {
            self.records[range].iter().any(
                |r| matches!(r.step, Step::Elect(Event::Granted { token: g, .. }) if g.get() == t),
            )
        };
        // Whether `k`'s lease has been released or replaced since.
        let mut changed = false;
        let mut out = Vec::new();
        for (j, r) in self.records.iter().enumerate().skip(k + 1) {
            match r.step {
                Step::Elect(Event::Released { .. } | Event::Granted { .. }) => changed = true,
                Step::Elect(Event::ReadFree { node: m, token: t })
                    if m != node && !self.taken_early.contains(&j) =>
                {
                    let found = t.get() - 1;
                    let before = found == 0 || granted(0..k, found);
                    let after = found == token.get() || granted(k + 1..j, found);
                    let came_before = match (before, after) {
                        (true, false) => true,
                        (true, true) => r.real < expires_at && !changed,
                        (false, _) => false,
                    };
                    if came_before {
                        out.push(j);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether a release of `node`'s lease with `token` (the store's `Released`, or its
    /// refusal) is logged after record `k`, before the node is granted a lease, leads, or
    /// crashes: the node gave that lease up and hands it back.
    fn release_follows(&self, k: usize, node: NodeId, token: FencingToken) -> bool {
        release_follows(&self.records, k, node, token)
    }

    /// Whether record `k` took effect before the clock move to `clocks_after` for certain: by
    /// the store's reading of real time, or a clock reading the move changed.
    fn surely_before_move(&self, k: usize, clocks_after: &[u64]) -> bool {
        match self.effects[k] {
            Some(Effect::Real(t) | Effect::Renewal { store: t, .. }) => t <= self.real,
            Some(Effect::Clock { node, at }) => at < clocks_after[node],
            Some(Effect::WithGrant(g)) => self.surely_before_move(g, clocks_after),
            None => false,
        }
    }

    /// Whether record `k`, logged after the clock move the mapping is at, may have taken
    /// effect before it: at real time `self.real` or earlier, or when the node's clock read
    /// what it reads before the move (the earliest such moment, for a slow clock that did not
    /// move).
    ///
    /// A renewal is taken as late as it can be: at the store's reading of real time, unless the
    /// model's leader would stop trusting its lease before then (the request was sent while it
    /// trusted it), then at the last clock move it still trusts it before (`advance` ticks of
    /// its clock in this move, in model state `s`).
    fn before_move(&self, k: usize, s: &ElectionState, clocks_after: &[u64]) -> bool {
        match self.effects[k] {
            Some(Effect::Real(t)) => t <= self.real,
            Some(Effect::Clock { node, at }) => at <= self.clocks[node],
            Some(Effect::Renewal { node, sent, store }) => {
                let advance = clocks_after[node] - self.clocks[node];
                let left = match s.nodes[node].phase {
                    Phase::Leader { left, .. } => u64::from(left),
                    _ => 0,
                };
                sent <= self.clocks[node]
                    && (store <= self.real || left.saturating_sub(advance) <= self.margin)
            }
            Some(Effect::WithGrant(g)) => self.before_move(g, s, clocks_after),
            None => false,
        }
    }
}

impl Conformance for ElectionConformance {
    type Model = ElectionModel;
    type Config = RunConfig;
    type Event = Record;

    fn start(
        config: &RunConfig,
        variant: &str,
        records: &[Record],
    ) -> Result<(Self, ElectionModel), ConformError> {
        let ticks = |what: &str, ms: u64| {
            u8::try_from(ms).map_err(|_| ConformError::Unmapped {
                step: 0,
                why: format!("{what} {ms} ms: the model counts at most 255 ticks (1 tick = 1 ms)"),
            })
        };
        let nodes = records.first().map_or(0, |r| r.clocks.len());
        if !(2..=MAX_NODES).contains(&nodes) {
            return Err(ConformError::Unmapped {
                step: 0,
                why: format!("{nodes} nodes: the model has 2 to {MAX_NODES}"),
            });
        }
        let count = |f: &dyn Fn(&Step) -> bool| records.iter().filter(|r| f(&r.step)).count();
        let bound = |what: &str, n: usize, max: usize| {
            u8::try_from(n)
                .ok()
                .filter(|&n| usize::from(n) <= max)
                .ok_or_else(|| ConformError::Unmapped {
                    step: 0,
                    why: format!("{n} {what}: the model counts at most {max}"),
                })
        };
        let grants = count(&|s| matches!(s, Step::Elect(Event::Granted { .. })));
        let writes = count(&|s| matches!(s, Step::Elect(Event::Write { .. })));
        let model_config = ElectionConfig {
            nodes: nodes as u8,
            lease: ticks("lease", config.lease_ms)?,
            drift: ticks("drift", config.drift_ms)?,
            margin: ticks("drift", config.drift_ms)?,
            max_terms: bound(
                "grants",
                grants.max(1),
                coordlab_models::election::MAX_TERMS,
            )?,
            max_writes: bound("writes", writes, coordlab_models::election::MAX_WRITES)?,
            max_crashes: bound("crashes", count(&|s| matches!(s, Step::Crash { .. })), 255)?,
            max_pauses: bound("pauses", count(&|s| matches!(s, Step::Pause { .. })), 255)?,
            writers: bound(
                "writers",
                config.writers as usize,
                coordlab_models::election::MAX_WRITERS,
            )?,
            // A log that releases a lease needs the model's resignations.
            resign: records.iter().any(|r| {
                matches!(
                    r.step,
                    Step::Elect(
                        Event::Released { .. }
                            | Event::SteppedDown {
                                reason: StepDownReason::Resigned,
                                ..
                            }
                    ) | Step::ReleaseRefused { .. }
                )
            }),
        };
        let model = ElectionModel::new(variant, model_config)
            .map_err(|e| ConformError::BadLog(e.to_string()))?;
        let lease = config.lease_ms;
        let mut effects = vec![None; records.len()];
        for (k, r) in records.iter().enumerate() {
            let step = k + 1;
            if r.clocks.len() != nodes {
                return Err(ConformError::BadLog(format!(
                    "step {step}: {} clocks, but the log began with {nodes}",
                    r.clocks.len()
                )));
            }
            if let Some(n) = node_of(&r.step).filter(|&n| n as usize >= nodes) {
                return Err(ConformError::BadLog(format!(
                    "step {step}: n{n} is not one of the log's {nodes} nodes"
                )));
            }
            let token = match &r.step {
                Step::Elect(
                    Event::Granted { token, .. }
                    | Event::ReadFree { token, .. }
                    | Event::Renewed { token, .. }
                    | Event::Leading { token, .. }
                    | Event::Trusted { token, .. }
                    | Event::Write { token, .. },
                )
                | Step::RenewRefused { token, .. }
                | Step::ReleaseRefused { token, .. } => Some(*token),
                _ => None,
            };
            if token.is_some_and(|t| token_u8(t).is_none()) {
                return Err(ConformError::Unmapped {
                    step,
                    why: "a token above 255: the model's tokens are u8".into(),
                });
            }
            effects[k] = match r.step {
                Step::Elect(Event::Granted { expires_at, .. }) => expires_at
                    .as_millis()
                    .checked_sub(lease)
                    .map(Effect::Real),
                Step::Elect(Event::Trusted { node, local, .. }) => Some(Effect::Clock {
                    node: node.0 as usize,
                    at: local.as_millis(),
                }),
                // The renewal's send: the `local` of the `Leading` that answers it. A renewal
                // whose answer came after the node gave its lease up (and so handed it back)
                // has no `Leading`: its send is known only to be at or before the store's
                // reading, while the node trusted its lease (0: at the latest the model allows).
                Step::Elect(Event::Renewed {
                    node,
                    token,
                    expires_at,
                }) => records[k + 1..]
                    .iter()
                    .find_map(|later| match later.step {
                        Step::Elect(Event::Leading {
                            node: m,
                            token: t,
                            local,
                            ..
                        }) if m == node => Some((t == token).then_some(local.as_millis())),
                        Step::Elect(
                            Event::SteppedDown { node: m, .. }
                            | Event::Granted { node: m, .. }
                            | Event::Released { node: m, .. },
                        ) if m == node => Some(None),
                        _ => None,
                    })
                    .flatten()
                    .or_else(|| release_follows(records, k, node, token).then_some(0))
                    .zip(expires_at.as_millis().checked_sub(lease))
                    .map(|(sent, store)| Effect::Renewal {
                        node: node.0 as usize,
                        sent,
                        store,
                    }),
                // Before the first grant of the token it read, its own or another node's.
                Step::Elect(Event::ReadFree { token, .. }) => records[k + 1..]
                    .iter()
                    .position(|later| {
                        matches!(later.step, Step::Elect(Event::Granted { token: t, .. }) if t == token)
                    })
                    .map(|j| Effect::WithGrant(k + 1 + j)),
                _ => None,
            };
        }
        // A grant or renewal is answered by the node's next `Leading` with its token, before
        // the node's next store step or step-down, or a crash.
        let unanswered: BTreeSet<usize> = records
            .iter()
            .enumerate()
            .filter_map(|(k, r)| match r.step {
                Step::Elect(
                    Event::Granted { node, token, .. } | Event::Renewed { node, token, .. },
                ) => {
                    let answered = records[k + 1..].iter().find_map(|later| match later.step {
                        Step::Elect(Event::Leading {
                            node: m, token: t, ..
                        }) if m == node => Some(t == token),
                        Step::Elect(
                            Event::Granted { node: m, .. }
                            | Event::Renewed { node: m, .. }
                            | Event::Released { node: m, .. }
                            | Event::SteppedDown { node: m, .. },
                        ) if m == node => Some(false),
                        Step::Crash { node: m } if m == node.0 => Some(false),
                        _ => None,
                    });
                    (answered != Some(true) && !release_follows(records, k, node, token))
                        .then_some(k)
                }
                _ => None,
            })
            .collect();
        let margin = if variant == "no-clock-margin" {
            0
        } else {
            config.drift_ms
        };
        Ok((
            ElectionConformance {
                lease,
                margin,
                check_then_set: variant == "check-then-set",
                records: records.into(),
                effects: effects.into(),
                unanswered: Arc::new(unanswered),
                taken_early: BTreeSet::new(),
                held_back: BTreeSet::new(),
                maybe_held_back: BTreeSet::new(),
                index: 0,
                real: 0,
                clocks: vec![0; nodes],
                belief: vec![None; nodes],
                answer: vec![None; nodes],
                releasing: vec![false; nodes],
                writing: vec![false; nodes],
                shared: config.writers > 0,
            },
            model,
        ))
    }

    fn actions(
        &mut self,
        model: &ElectionModel,
        s: &ElectionState,
        record: &Record,
    ) -> Result<Vec<Action>, Failure> {
        let i = self.index;
        self.index += 1;
        let Step::Tick { ms, ref slow } = record.step else {
            if record.real != self.real {
                return Err(ConformError::BadLog(format!(
                    "`{record}`: real time is {}ms, but no clock move since {}ms",
                    record.real, self.real
                ))
                .into());
            }
            if let Some(n) = (0..self.clocks.len()).find(|&n| record.clocks[n] != self.clocks[n]) {
                return Err(ConformError::BadLog(format!(
                    "`{record}`: n{n}'s clock moved without a clock move"
                ))
                .into());
            }
            if self.taken_early.contains(&i) {
                return Ok(vec![]);
            }
            let held_back = || {
                unmapped(format!(
                    "`{record}` took effect before a clock move logged before it, but after a step of the same node logged before it that did not: with one thread a node (no `writers`), its steps cannot come in that order"
                ))
            };
            if self.held_back.contains(&i) {
                return Err(held_back());
            }
            let acts = self.map(model, s, i)?;
            if self.maybe_held_back.contains(&i) {
                let mut t = s.clone();
                for &a in &acts {
                    match model.next_state(&t, a).filter(|_| enabled(model, &t, a)) {
                        Some(next) => t = next,
                        None => return Err(held_back()),
                    }
                }
            }
            return Ok(acts);
        };
        if ms == 0 || record.real != self.real + ms {
            return Err(ConformError::BadLog(format!(
                "`{record}` at {}ms after {}ms: real time must move forward by the tick",
                record.real, self.real
            ))
            .into());
        }
        for (n, (&after, &before)) in record.clocks.iter().zip(&self.clocks).enumerate() {
            let lags = slow.contains(&(n as u32));
            if after < before || after > before + ms || (after == before + ms && lags) {
                return Err(ConformError::BadLog(format!(
                    "`{record}`: n{n}'s clock moves from {before} to {after}"
                ))
                .into());
            }
        }
        // Steps logged after this clock move that took effect before it.
        let mut acts = Vec::new();
        let mut sim = s.clone();
        // Nodes with a step left to its own record: their later steps stay in order too.
        let mut blocked = BTreeSet::new();
        // Reads of the lease left after the move.
        let mut skipped_reads = Vec::new();
        for k in i + 1..self.records.len() {
            let step = &self.records[k].step;
            let who = match step {
                Step::Tick { .. } => continue,
                // Stutters: nothing of the model's to keep in order.
                Step::Elect(Event::Leading { .. }) | Step::RenewRefused { .. } => None,
                other => node_of(other),
            };
            if self.taken_early.contains(&k) {
                continue;
            }
            // It took effect before an earlier clock move, where it could not be taken: not
            // at a later one either (that would be after its effect).
            if self.held_back.contains(&k) {
                blocked.extend(who);
                continue;
            }
            if !self.before_move(k, &sim, &record.clocks) {
                if matches!(step, Step::Elect(Event::ReadFree { .. })) {
                    skipped_reads.push(k);
                }
                blocked.extend(who);
                continue;
            }
            // With shared electors, a node's steps come from several threads, each logged after
            // its effect: a step that took effect before the move, logged after one of its
            // node's that did not, is another thread's, and goes before the move (the model
            // checks that it can). (Within one thread, a later step's effect cannot precede
            // an earlier step's log entry.)
            if who.is_some_and(|n| blocked.contains(&n)) && !self.shared {
                // Certainly before the move, yet logged after a step of its node that was
                // not: from another thread of that node.
                if self.surely_before_move(k, &record.clocks) {
                    self.held_back.insert(k);
                } else {
                    self.maybe_held_back.insert(k);
                }
                blocked.extend(who);
                continue;
            }
            // A grant taken before the move brings along the reads of the lease logged before
            // it and left after the move (a read is reported outside the store's lock, with no
            // time of its own): those the model can take before it — the lease free there,
            // with the token they read — in the order they were logged.
            let mut pulled: Option<(Self, ElectionState)> = None;
            let (mut early, mut reads) = (Vec::new(), Vec::new());
            if matches!(step, Step::Elect(Event::Granted { .. })) {
                for &j in &skipped_reads {
                    let (from, at) = pulled.as_ref().map_or((&*self, &sim), |(c, t)| (c, t));
                    if let Some((c, t, a)) = from.try_early(model, at, j)? {
                        pulled = Some((c, t));
                        early.extend(a);
                        reads.push(j);
                    }
                }
            }
            let (from, at) = pulled.as_ref().map_or((&*self, &sim), |(c, t)| (c, t));
            // Not enabled then: left to its own record, which will say why.
            match from.try_early(model, at, k)? {
                Some((trial, t, a)) => {
                    *self = trial;
                    for j in reads.into_iter().chain([k]) {
                        self.held_back.remove(&j);
                        self.maybe_held_back.remove(&j);
                        self.taken_early.insert(j);
                        skipped_reads.retain(|&r| r != j);
                    }
                    early.extend(a);
                    sim = t;
                    acts.extend(early);
                }
                None => blocked.extend(who),
            }
        }
        // The clock move: `ms` model ticks while a timer runs, the first with the slow clocks.
        for j in 0..ms {
            let leaders = |st: &ElectionState| -> u8 {
                st.nodes
                    .iter()
                    .enumerate()
                    .filter(|(n, node)| {
                        slow.contains(&(*n as u32))
                            && matches!(node.phase, Phase::Leader { .. } | Phase::Writing { .. })
                    })
                    .fold(0, |m, (n, _)| m | 1 << n)
            };
            let tick = Action::Tick {
                slow: if j == 0 { leaders(&sim) } else { 0 },
            };
            let mut v = Vec::new();
            model.actions(&sim, &mut v);
            if !v.iter().any(|a| matches!(a, Action::Tick { .. })) {
                break;
            }
            sim = model.next_state(&sim, tick).unwrap_or(sim);
            acts.push(tick);
        }
        self.real = record.real;
        self.clocks.clone_from(&record.clocks);
        Ok(acts)
    }

    fn agree(
        &mut self,
        model: &ElectionModel,
        before: &ElectionState,
        after: &ElectionState,
        record: &Record,
    ) -> Result<(), Mismatch> {
        let real = self.real;
        let lease_left = u64::from(after.lease.left);
        let current = after.lease.grants.last().copied();
        // Whether the model's store holds `node`'s lease live with `token` in state `st`.
        let holds = |st: &ElectionState, node: u32, token: FencingToken| {
            st.lease.holder == Some(node as u8)
                && st.lease.left > 0
                && st.lease.grants.last().copied() == token_u8(token)
        };
        let Step::Elect(ref event) = record.step else {
            if let Step::ReleaseRefused { node, token } = record.step
                && holds(before, node, token)
            {
                // The store's lease outlives the model's, never the other way round: what
                // the store no longer holds, the model's store does not either.
                return Err(Mismatch::new(
                    "lease store",
                    field(model, before, "lease store"),
                    format!("refuses n{node}'s release of {token}: no longer current"),
                ));
            }
            if let Step::RenewRefused { node, token } = record.step {
                let live = after.lease.holder == Some(node as u8)
                    && after.lease.left > 0
                    && current == token_u8(token);
                if live {
                    return Err(Mismatch::new(
                        "lease store",
                        field(model, after, "lease store"),
                        format!("refuses n{node}'s renewal with {token}"),
                    ));
                }
            }
            return Ok(());
        };
        match *event {
            // Taken early, and checked there (`try_early`).
            Event::Granted { .. } if self.taken_early.contains(&(self.index - 1)) => {}
            Event::Granted {
                node,
                token,
                expires_at,
            } => {
                let n = node.0 as usize;
                if after.lease.holder != Some(n as u8) || current != token_u8(token) {
                    return Err(Mismatch::new(
                        "lease store",
                        field(model, after, "lease store"),
                        format!("grants the lease to {node} with {token}"),
                    ));
                }
                let left = expires_at.as_millis().saturating_sub(real);
                if left != lease_left {
                    return Err(Mismatch::new(
                        "lease store expiry",
                        field(model, after, "lease store"),
                        format!("expires at {expires_at}, {left} ms from now"),
                    ));
                }
            }
            // Taken with its grant, before a clock move: checked by the read being enabled.
            Event::ReadFree { .. } if self.taken_early.contains(&(self.index - 1)) => {}
            Event::ReadFree { node, token } => {
                let n = node.0 as usize;
                let model_token = match after.nodes[n].phase {
                    Phase::Acquiring { token } => Some(token),
                    _ if !self.check_then_set => before
                        .lease
                        .grants
                        .last()
                        .map_or(Some(1), |t| t.checked_add(1)),
                    _ => None,
                };
                let free = before.lease.holder.is_none() || before.lease.left == 0;
                if !free || model_token != token_u8(token) {
                    return Err(Mismatch::new(
                        "lease store",
                        field(model, before, "lease store"),
                        format!("{node} reads it free and will write {token}"),
                    ));
                }
            }
            Event::Renewed {
                node,
                token,
                expires_at,
            } => {
                let n = node.0 as usize;
                if after.lease.holder != Some(n as u8) || current != token_u8(token) {
                    return Err(Mismatch::new(
                        "lease store",
                        field(model, after, "lease store"),
                        format!("renews {node}'s lease with {token}"),
                    ));
                }
                let left = expires_at.as_millis().saturating_sub(real);
                let sent = self.answer[n].map_or(real, |a| a.real);
                // The store extends the lease by one lease from its reading of real time,
                // which is between the send (where the model renewed) and now.
                if left > self.lease || left < lease_left {
                    return Err(Mismatch::new(
                        "lease store expiry",
                        format!(
                            "{}: the model renewed it at {sent}ms for {} ms; the store renews it at its own reading of real time, between then and now, so it must expire {}",
                            field(model, after, "lease store"),
                            self.lease,
                            if lease_left == self.lease {
                                format!("{} ms from now", self.lease)
                            } else {
                                format!("{lease_left} to {} ms from now", self.lease)
                            }
                        ),
                        format!("expires at {expires_at}, {left} ms from now"),
                    ));
                }
            }
            Event::Leading {
                node,
                token,
                local,
                trusted_until,
            } => {
                let n = node.0 as usize;
                let Some(answer) = self.answer[n].filter(|a| a.token == token) else {
                    return Err(Mismatch::new(
                        format!("node {n}"),
                        field(model, after, &format!("node {n}")),
                        format!(
                            "{node} leads with {token}, which the store did not just grant or renew for it"
                        ),
                    ));
                };
                self.answer[n] = None;
                let local = local.as_millis();
                if local > answer.clock {
                    return Err(Mismatch::new(
                        format!("node {n} lease timing"),
                        format!(
                            "the store {} {token} when {node}'s clock read {}ms: the request was sent then or before",
                            if answer.renewal { "renewed" } else { "granted" },
                            answer.clock
                        ),
                        format!("{node} says it sent the request at {local}ms"),
                    ));
                }
                let expected = local + self.lease - self.margin;
                if trusted_until.as_millis() != expected {
                    return Err(Mismatch::new(
                        format!("node {n} trust"),
                        format!(
                            "{node} trusts the lease until {expected}ms on its clock: asked at {local}ms, + {} ms lease − {} ms margin",
                            self.lease, self.margin
                        ),
                        format!("it trusts it until {trusted_until}"),
                    ));
                }
                let leads = matches!(after.nodes[n].phase,
                    Phase::Leader { token: t, .. } | Phase::Writing { token: t, .. }
                        if Some(t) == token_u8(token));
                if !leads {
                    return Err(Mismatch::new(
                        format!("node {n}"),
                        field(model, after, &format!("node {n}")),
                        format!("{node} leads with {token}"),
                    ));
                }
                self.belief[n] = Some(Belief {
                    token,
                    trusted_until: trusted_until.as_millis(),
                });
            }
            Event::Trusted { node, token, local } => {
                let n = node.0 as usize;
                let leads = matches!(after.nodes[n].phase,
                    Phase::Leader { token: t, .. } | Phase::Writing { token: t, .. }
                        if Some(t) == token_u8(token));
                let ok = leads && self.has_prepared(after, n, token);
                let believed = self.belief[n]
                    .is_some_and(|b| b.token == token && local.as_millis() < b.trusted_until);
                if !ok || !believed {
                    return Err(Mismatch::new(
                        format!("node {n}"),
                        field(model, after, &format!("node {n}")),
                        format!(
                            "{node} trusts its lease with {token} at {local} on its clock{}",
                            match self.belief[n] {
                                Some(b) => format!(
                                    " (its last Leading: {}, trusted until {}ms)",
                                    b.token, b.trusted_until
                                ),
                                None => " (no Leading since it last stepped down)".into(),
                            }
                        ),
                    ));
                }
            }
            Event::SteppedDown {
                node,
                token,
                reason,
            } => {
                let n = node.0 as usize;
                let clock = self.clocks[n];
                if reason == StepDownReason::LeaseUntrusted {
                    let due = self
                        .belief_before(n, token)
                        .is_some_and(|until| clock >= until);
                    if !due {
                        return Err(Mismatch::new(
                            format!("node {n}"),
                            field(model, after, &format!("node {n}")),
                            format!(
                                "{node} steps down ({token}): its clock, at {clock}ms, says the lease may have run out"
                            ),
                        ));
                    }
                }
            }
            Event::Write {
                node,
                token,
                accepted,
                highest,
            } => {
                let n = node.0 as usize;
                if !self.has_prepared(before, n, token) {
                    return Err(Mismatch::new(
                        format!("node {n}"),
                        field(model, before, &format!("node {n}")),
                        format!("{node} writes with {token}"),
                    ));
                }
                let model_highest = before.accepted.iter().copied().max();
                let model_accepted = after.accepted.len() > before.accepted.len();
                let words = |acc: bool, h: Option<u64>| {
                    let h = h.map_or("none accepted before".to_string(), |h| {
                        format!("highest accepted token {h}")
                    });
                    format!(
                        "{} the write with token {} ({h})",
                        if acc { "accepts" } else { "rejects" },
                        token.get()
                    )
                };
                if model_accepted != accepted
                    || model_highest.map(u64::from) != highest.map(FencingToken::get)
                {
                    return Err(Mismatch::new(
                        "storage",
                        words(model_accepted, model_highest.map(u64::from)),
                        words(accepted, highest.map(FencingToken::get)),
                    ));
                }
            }
            Event::Released { node, token } => {
                if holds(after, node.0, token) {
                    return Err(Mismatch::new(
                        "lease store",
                        field(model, after, "lease store"),
                        format!("releases {node}'s lease with {token}"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, _: &ElectionModel, _: &ElectionState) -> Result<(), Mismatch> {
        Ok(())
    }
}

impl ElectionConformance {
    /// The clock reading until which node `n` trusted its lease with `token`, by its last
    /// `Leading` (cleared by `map` when the step-down is mapped, so read it from the records).
    fn belief_before(&self, n: usize, token: FencingToken) -> Option<u64> {
        self.records[..self.index.saturating_sub(1)]
            .iter()
            .rev()
            .find_map(|r| match r.step {
                Step::Elect(Event::Leading {
                    node,
                    token: t,
                    trusted_until,
                    ..
                }) if node.0 as usize == n => {
                    Some((t == token).then_some(trusted_until.as_millis()))
                }
                Step::Elect(Event::SteppedDown { node, .. }) if node.0 as usize == n => Some(None),
                Step::Crash { node } if node as usize == n => Some(None),
                _ => None,
            })
            .flatten()
    }
}

/// The run log of an election run as JSON: the envelope `coordlab conform` reads.
pub fn to_json(config: &RunConfig, variant: &str, records: &[Record]) -> String {
    super::run_log_json("election", config, variant, records)
}

/// Checks an election run against the model of `variant`.
pub fn check(
    config: &RunConfig,
    variant: &str,
    records: &[Record],
) -> Result<super::Verdict, ConformError> {
    super::conform::<ElectionConformance>(config, variant, records)
}
