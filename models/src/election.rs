//! Leader election with leases and fencing tokens.
//!
//! Source: Martin Kleppmann, "How to do distributed locking" (2016), and Gray and Cheriton,
//! "Leases: an efficient fault-tolerant mechanism for distributed file cache consistency"
//! (SOSP 1989). Nodes campaign through a *lease store*, a linearizable register holding the
//! holder, the lease's expiry and a fencing token that grows with every grant (what etcd,
//! ZooKeeper or Consul give a client). A node that holds the lease renews it with heartbeats
//! and writes to a *storage service*, tagging each write with its token; with fencing on,
//! storage rejects a token lower than the highest it has accepted.
//!
//! Fault model: real time advances in discrete ticks; each node's clock may run slow, falling
//! behind real time by at most `drift` ticks over a behaviour; a node may pause (GC, VM stall)
//! for any number of ticks and resume still believing what it believed — in particular
//! between deciding to write and sending the write; nodes crash and restart with nothing
//! remembered. Crashes and pauses are unfair (they may happen, a bounded number of times);
//! ticks and every node's steps are weakly fair, and pauses end.
//!
//! Time is kept relative: the lease store remembers how many ticks its lease has left in
//! real time, each leader how many its own clock says are left, so the state space is
//! finite while behaviours run forever. The number of grants is bounded (`max-terms`).
//!
//! A leader may give its lease up early (`StepDown` before its clock says the lease can no
//! longer be trusted): that is always safe, and it is what a fast clock does, or an
//! implementation that times its lease from its request (below).
//!
//! Out of scope: the lease store's own replication (it is one linearizable service), network
//! delays between a node and the lease store (a request takes effect atomically), fast clocks
//! as such (they only make a node give up early, which the early `StepDown` covers).
//!
//! Implementation runs are checked against this model (`coordlab conform`, the refinement
//! mapping in `checks/src/conform/election.rs`). Where the implementation times a lease
//! differently, the mapping relates the two rather than this model changing: the elector
//! trusts a lease from the moment it *sent* the request the store granted, this model's node
//! from the grant (`Acquire`, `Renew` are atomic). Time passing between the send and the
//! store only shortens what the implementation's node trusts, so its node is this model's
//! node with its trust cut short by that delay: the mapping takes a renewal at the latest
//! moment in that interval where this model's leader still trusts its lease (the two then
//! agree to the tick, and the store's lease outlives the model's by the rest of the
//! interval), and a grant at the store's reading of time, where the implementation's node
//! may give the lease up earlier than this model's: its step-down is this model's early
//! `StepDown`. Splitting `Acquire` and `Renew` into request and answer would say
//! the same with a larger state space and no stronger property. That holds for a request
//! whose answer the node never applies, too: the elector hands back what a request answered
//! after the node stepped down or resigned was granted (its epoch rule), so such a run is
//! this model's atomic grant or renewal followed by a resignation (`Resign`, below) at the
//! hand-back.
//!
//! Shared electors (`writers`, 0 by default): by default a node does one thing at a time, and a
//! write it prepared (`PrepareWrite`, phase `Writing`) holds its other steps back until it
//! reaches storage. An elector is meant to be shared by a heartbeat thread and the threads
//! that write; with `writers` = n, each of n writer threads may have one prepared write on its
//! way (`ElectionState::prepared`, with the token it carries) while the node renews, steps
//! down, resigns, campaigns again and prepares more, and the writes reach storage in any
//! order (`StorageWrite` names the token). A write on its way is what a pause makes of the
//! sequential node's: a stale write needs no pause, only a slow writer. A crash kills the
//! node's writers with their writes.
//!
//! Resignation (`resign`, off by default): a leader may step down and give its lease back at
//! once (`Resign`, the elector's `resign()`), whatever its clock says. The store releases the
//! lease only if it is still that node's live lease with that token (a compare-and-delete,
//! like etcd's lease revoke or a versioned ZooKeeper delete): the release of a stale lease
//! changes nothing. The next grant still gets a higher token.
//!
//! Liveness: a leader is eventually elected, and a crashed holder is eventually replaced
//! (`CrashedLeaderReplaced`, whose premise `LeaderCrashed` is shown reachable). What makes the
//! second hold is the lease's expiry: `no-lease-expiry`, a lock without a timeout, keeps a
//! crashed holder's lease forever.

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

use crate::{
    Arrow, Class, Fairness, Kind, ModelError, Parts, Prop, Protocol, Variant, Violation,
    decode_part, encode_part, ticks,
};

/// Bounds and knobs of one election check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ElectionConfig {
    /// Nodes campaigning.
    pub nodes: u8,
    /// Lease length, in ticks.
    pub lease: u8,
    /// How far, in ticks, a node's clock may fall behind real time.
    pub drift: u8,
    /// The safety margin: a leader trusts its lease only while its clock says more than this
    /// many ticks are left. Must be at least `drift`.
    pub margin: u8,
    /// Leases the store grants in one behaviour.
    pub max_terms: u8,
    /// Writes sent to storage in one behaviour.
    pub max_writes: u8,
    pub max_crashes: u8,
    pub max_pauses: u8,
    /// Whether a leader may resign: step down and give its lease back to the store at once,
    /// so another node can take it without waiting for it to run out (`Resign`). Off by
    /// default, so the checks without it keep their state spaces.
    pub resign: bool,
    /// Writer threads per node that share its elector with its heartbeat (at most
    /// [`MAX_WRITERS`]). 0, the default: the node does one thing at a time, and a write it
    /// prepared holds back its renewals, step-downs and resignations until it reaches storage
    /// (`Phase::Writing`). n ≥ 1: each writer may have one prepared write on its way
    /// ([`PreparedWrite`]) while the node goes on renewing, stepping down, resigning,
    /// campaigning again and preparing more writes, and the writes reach storage in any
    /// order (`StorageWrite` names the token it carries).
    pub writers: u8,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            nodes: 2,
            lease: 3,
            drift: 1,
            margin: 1,
            max_terms: 3,
            max_writes: 2,
            max_crashes: 1,
            max_pauses: 1,
            resign: false,
            writers: 0,
        }
    }
}

/// A named deviation from the correct protocol: each removes one guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// Storage accepts writes whatever their token.
    NoFencing,
    /// A leader trusts its lease until its own clock says it has run out.
    NoClockMargin,
    /// Acquisition reads the lease, then writes it, instead of one compare-and-set.
    CheckThenSet,
    /// The store's leases never run out: a lock without a timeout (a ZooKeeper persistent
    /// node instead of an ephemeral one, a Redis `SET` without `PX`).
    NoLeaseExpiry,
}

const VARIANTS: [(Variant, Option<Bug>); 5] = [
    (
        Variant {
            id: "correct",
            summary: "compare-and-set acquisition, a clock margin of at least the drift, storage fenced by token",
        },
        None,
    ),
    (
        Variant {
            id: "no-fencing",
            summary: "storage accepts a write whatever its token (Kleppmann's paused-leader scenario)",
        },
        Some(Bug::NoFencing),
    ),
    (
        Variant {
            id: "no-clock-margin",
            summary: "a leader trusts its lease for its full length on its own, possibly slow, clock",
        },
        Some(Bug::NoClockMargin),
    ),
    (
        Variant {
            id: "check-then-set",
            summary: "acquisition reads the lease and writes it in two steps instead of one compare-and-set",
        },
        Some(Bug::CheckThenSet),
    ),
    (
        Variant {
            id: "no-lease-expiry",
            summary: "the store's leases never run out (a lock without a timeout): a holder that crashes keeps the lease forever",
        },
        Some(Bug::NoLeaseExpiry),
    ),
];

/// What a node is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Follower,
    /// check-then-set only: has read the lease free, with this token, and will write it.
    Acquiring {
        token: u8,
    },
    /// Holds a lease with this token; its clock says `left` ticks remain.
    Leader {
        token: u8,
        left: u8,
    },
    /// A leader that checked its lease and decided to write; the write is not sent yet.
    Writing {
        token: u8,
        left: u8,
    },
    Crashed,
}

/// One node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Node {
    pub phase: Phase,
    /// How many ticks this node's clock is behind real time (at most `drift`).
    pub lag: u8,
    pub paused: bool,
}

/// The lease store's register.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The node the lease was last granted to.
    pub holder: Option<u8>,
    /// Real ticks until the lease expires (0: expired or never granted).
    pub left: u8,
    /// The tokens granted, in order (the last is the current one).
    pub grants: ArrayVec<u8, MAX_TERMS>,
}

/// Most nodes a configuration may have (five: the implementation's busiest test scenario,
/// whose runs are checked against this model).
pub const MAX_NODES: usize = 5;

/// Most leases a configuration may grant (`max-terms`). States are stored by their encoding,
/// whose length is the number of grants made, so the capacity costs a model check nothing;
/// it is this large so that an implementation run's log fits (`coordlab conform`).
pub const MAX_TERMS: usize = 64;

/// Most writes a configuration may send to storage (`max-writes`), for the same reason.
pub const MAX_WRITES: usize = 64;

/// Most writer threads a node may have (`writers`).
pub const MAX_WRITERS: usize = 4;

/// A write a writer thread prepared (it checked its node's lease and trusts it) and has not
/// sent yet (with `writers`): it reaches storage later, whatever the node does meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PreparedWrite {
    pub node: u8,
    /// The token the write carries: the node's when the writer checked its lease.
    pub token: u8,
}

/// The whole system.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ElectionState {
    pub nodes: ArrayVec<Node, MAX_NODES>,
    pub lease: Lease,
    /// The tokens of the writes storage accepted, in order.
    pub accepted: ArrayVec<u8, MAX_WRITES>,
    /// Writes sent to storage (accepted or not).
    pub writes: u8,
    /// With `writers`: the writes prepared and not yet at storage, in order (so two states
    /// that differ only in the order writes were prepared are one). Always empty without.
    #[serde(default)]
    pub prepared: ArrayVec<PreparedWrite, { MAX_NODES * MAX_WRITERS }>,
    pub crashes: u8,
    pub pauses: u8,
}

/// The actions, in the order of a term's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// One tick of real time; the nodes in `slow` (a bit per node) see their clocks stand
    /// still for it.
    Tick {
        slow: u8,
    },
    /// A node takes the lease with one compare-and-set: granted if it is free or expired.
    Acquire {
        node: u8,
    },
    /// check-then-set: a node reads the lease and finds it free or expired.
    ReadLease {
        node: u8,
    },
    /// check-then-set: the node writes itself in as holder, with the token it read plus one.
    WriteLease {
        node: u8,
    },
    /// The leader renews its lease (a heartbeat), while it still trusts it.
    Renew {
        node: u8,
    },
    /// The leader checks its lease and decides to write.
    PrepareWrite {
        node: u8,
    },
    /// The write, tagged with the node's token, reaches storage. With `writers`, `token`
    /// says which of the node's prepared writes (the one carrying it); without, it is absent
    /// and the write is the node's one prepared write.
    StorageWrite {
        node: u8,
        #[serde(default)]
        token: Option<u8>,
    },
    /// A leader steps down: once its clock says its lease can no longer be trusted, or
    /// earlier — giving a lease up early is always safe, and an implementation does (it
    /// times its lease from its request, not from the grant; a fast clock runs it out early).
    StepDown {
        node: u8,
    },
    /// With `resign` on: a leader steps down and gives its lease back; the store releases it
    /// if it is still the node's live lease with the node's token, and refuses the release
    /// (changing nothing) if the lease has expired or been granted since.
    Resign {
        node: u8,
    },
    /// A node stalls (GC, VM pause): it takes no step until it resumes.
    Pause {
        node: u8,
    },
    Resume {
        node: u8,
    },
    Crash {
        node: u8,
    },
    /// A crashed node restarts as a follower, remembering nothing.
    Restart {
        node: u8,
    },
}

/// The election model of one variant.
#[derive(Clone, Debug)]
pub struct ElectionModel {
    variant: &'static str,
    bug: Option<Bug>,
    config: ElectionConfig,
}

impl ElectionModel {
    /// The variant's bug, if any.
    pub fn bug(&self) -> Option<Bug> {
        self.bug
    }

    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    /// The clock margin the protocol uses: a leader trusts its lease while its clock says
    /// more than this many ticks are left.
    fn threshold(&self) -> u8 {
        if self.has(Bug::NoClockMargin) {
            0
        } else {
            self.config.margin
        }
    }

    /// Whether node `n` believes, by its own clock and rule, that it holds a valid lease.
    pub fn trusts(&self, n: &Node) -> bool {
        match n.phase {
            Phase::Leader { left, .. } | Phase::Writing { left, .. } => left > self.threshold(),
            _ => false,
        }
    }

    fn lease_free(s: &ElectionState) -> bool {
        s.lease.holder.is_none() || s.lease.left == 0
    }

    /// Whether the store's lease is live and `node`'s, with `token`.
    fn holds(s: &ElectionState, node: u8, token: u8) -> bool {
        s.lease.holder == Some(node) && s.lease.left > 0 && s.lease.grants.last() == Some(&token)
    }

    /// Whether `node`, a leader that trusts its lease, may prepare a write: within the bound
    /// on writes (counting those prepared), and, with `writers`, while one of its writers has
    /// none on its way.
    fn may_prepare(&self, s: &ElectionState, node: u8) -> bool {
        let c = &self.config;
        let on_the_way = s.prepared.len();
        let mine = s.prepared.iter().filter(|w| w.node == node).count();
        usize::from(s.writes) + on_the_way < usize::from(c.max_writes)
            && (c.writers == 0 || mine < usize::from(c.writers))
    }

    /// A write with `token` reaches storage, which accepts it unless it has accepted a
    /// higher token (the fencing check `no-fencing` lacks).
    fn reach_storage(&self, s: &mut ElectionState, token: u8) {
        s.writes += 1;
        let highest = s.accepted.iter().copied().max().unwrap_or(0);
        if (token >= highest || self.has(Bug::NoFencing)) && !s.accepted.is_full() {
            s.accepted.push(token);
        }
    }

    fn next_token(s: &ElectionState) -> u8 {
        s.lease.grants.last().map_or(1, |t| t + 1)
    }

    fn can_grant(&self, s: &ElectionState) -> bool {
        s.lease.grants.len() < self.config.max_terms as usize
    }

    fn grant(&self, s: &mut ElectionState, node: u8, token: u8) {
        s.lease.holder = Some(node);
        s.lease.left = self.config.lease;
        s.lease.grants.push(token);
        s.nodes[node as usize].phase = Phase::Leader {
            token,
            left: self.config.lease,
        };
    }
}

impl Model for ElectionModel {
    type State = ElectionState;
    type Action = Action;

    fn init_states(&self) -> Vec<ElectionState> {
        vec![ElectionState {
            nodes: (0..self.config.nodes)
                .map(|_| Node {
                    phase: Phase::Follower,
                    lag: 0,
                    paused: false,
                })
                .collect(),
            lease: Lease {
                holder: None,
                left: 0,
                grants: ArrayVec::new(),
            },
            accepted: ArrayVec::new(),
            writes: 0,
            prepared: ArrayVec::new(),
            crashes: 0,
            pauses: 0,
        }]
    }

    fn actions(&self, s: &ElectionState, actions: &mut Vec<Action>) {
        let c = &self.config;
        for (i, n) in s.nodes.iter().enumerate() {
            let node = i as u8;
            if n.paused {
                actions.push(Action::Resume { node });
                continue;
            }
            match n.phase {
                Phase::Follower => {
                    if Self::lease_free(s) && self.can_grant(s) {
                        if self.has(Bug::CheckThenSet) {
                            actions.push(Action::ReadLease { node });
                        } else {
                            actions.push(Action::Acquire { node });
                        }
                    }
                }
                Phase::Acquiring { .. } => {
                    if self.can_grant(s) {
                        actions.push(Action::WriteLease { node });
                    }
                }
                Phase::Leader { left, .. } => {
                    if left > self.threshold() {
                        if s.lease.holder == Some(node) && s.lease.left > 0 {
                            actions.push(Action::Renew { node });
                        }
                        if self.may_prepare(s, node) {
                            actions.push(Action::PrepareWrite { node });
                        }
                    }
                    // Due once its clock says the lease can no longer be trusted; allowed at
                    // any time before (giving a lease up early is always safe).
                    actions.push(Action::StepDown { node });
                    // A resignation does not consult the node's clock: a leader that has not
                    // yet noticed its lease ran out may resign too.
                    if c.resign {
                        actions.push(Action::Resign { node });
                    }
                }
                Phase::Writing { .. } => actions.push(Action::StorageWrite { node, token: None }),
                Phase::Crashed => actions.push(Action::Restart { node }),
            }
            // A writer's prepared write, whatever the node does now; the same token once.
            let mut last = None;
            for w in s.prepared.iter().filter(|w| w.node == node) {
                if last != Some(w.token) {
                    actions.push(Action::StorageWrite {
                        node,
                        token: Some(w.token),
                    });
                    last = Some(w.token);
                }
            }
            if n.phase != Phase::Crashed {
                if s.pauses < c.max_pauses {
                    actions.push(Action::Pause { node });
                }
                if s.crashes < c.max_crashes {
                    actions.push(Action::Crash { node });
                }
            }
        }
        // Time, after the nodes' own steps (so that shortest counterexamples show a node
        // acting as soon as it can). Ticks matter while a lease or a leader's clock runs (a
        // lease that never expires does not run). Any subset of the leaders whose clocks may
        // still fall behind can see their clock stand still.
        let timing = (s.lease.left > 0 && !self.has(Bug::NoLeaseExpiry))
            || s.nodes.iter().any(|n| matches!(n.phase, Phase::Leader { left, .. } | Phase::Writing { left, .. } if left > 0));
        if timing {
            let can_lag: u8 = s
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    n.lag < c.drift
                        && matches!(n.phase, Phase::Leader { .. } | Phase::Writing { .. })
                })
                .fold(0, |m, (i, _)| m | 1 << i);
            // On-time ticks first, so that a shortest counterexample only has a slow clock
            // when it needs one.
            actions.push(Action::Tick { slow: 0 });
            let mut slow = can_lag;
            let mut subsets = Vec::new();
            while slow != 0 {
                subsets.push(slow);
                slow = (slow - 1) & can_lag;
            }
            actions.extend(subsets.into_iter().rev().map(|slow| Action::Tick { slow }));
        }
    }

    fn next_state(&self, s: &ElectionState, action: Action) -> Option<ElectionState> {
        let mut n = s.clone();
        match action {
            Action::Tick { slow } => {
                // The store's expiry: the guard `no-lease-expiry` lacks.
                if !self.has(Bug::NoLeaseExpiry) {
                    n.lease.left = n.lease.left.saturating_sub(1);
                }
                for (i, node) in n.nodes.iter_mut().enumerate() {
                    let stalls = slow & (1 << i) != 0;
                    if stalls {
                        node.lag += 1;
                    }
                    if let Phase::Leader { left, .. } | Phase::Writing { left, .. } =
                        &mut node.phase
                        && !stalls
                    {
                        *left = left.saturating_sub(1);
                    }
                }
            }
            Action::Acquire { node } => {
                // One compare-and-set: granted only if the lease is free or expired.
                if !Self::lease_free(s) {
                    return None;
                }
                self.grant(&mut n, node, Self::next_token(s));
            }
            Action::ReadLease { node } => {
                n.nodes[node as usize].phase = Phase::Acquiring {
                    token: Self::next_token(s),
                };
            }
            Action::WriteLease { node } => {
                let Phase::Acquiring { token } = s.nodes[node as usize].phase else {
                    return None;
                };
                // Written whatever the lease says now: someone may have taken it since.
                self.grant(&mut n, node, token);
            }
            Action::Renew { node } => {
                if let Phase::Leader { left, .. } = &mut n.nodes[node as usize].phase {
                    *left = self.config.lease;
                }
                n.lease.left = self.config.lease;
            }
            Action::PrepareWrite { node } => {
                let Phase::Leader { token, left } = s.nodes[node as usize].phase else {
                    return None;
                };
                if self.config.writers == 0 {
                    n.nodes[node as usize].phase = Phase::Writing { token, left };
                } else {
                    let w = PreparedWrite { node, token };
                    let at = n.prepared.partition_point(|p| *p <= w);
                    n.prepared.try_insert(at, w).ok()?;
                }
            }
            Action::StorageWrite {
                node,
                token: Some(token),
            } => {
                let w = PreparedWrite { node, token };
                let at = n.prepared.iter().position(|p| *p == w)?;
                n.prepared.remove(at);
                self.reach_storage(&mut n, token);
            }
            Action::StorageWrite { node, token: None } => {
                let Phase::Writing { token, left } = s.nodes[node as usize].phase else {
                    return None;
                };
                self.reach_storage(&mut n, token);
                n.nodes[node as usize].phase = Phase::Leader { token, left };
            }
            Action::StepDown { node } => n.nodes[node as usize].phase = Phase::Follower,
            Action::Resign { node } => {
                let Phase::Leader { token, .. } = s.nodes[node as usize].phase else {
                    return None;
                };
                n.nodes[node as usize].phase = Phase::Follower;
                // The release is a compare-and-delete: only the node's own, live lease.
                if Self::holds(s, node, token) {
                    n.lease.holder = None;
                    n.lease.left = 0;
                }
            }
            Action::Pause { node } => {
                n.nodes[node as usize].paused = true;
                n.pauses += 1;
            }
            Action::Resume { node } => n.nodes[node as usize].paused = false,
            Action::Crash { node } => {
                // Every thread of the node dies: its writers' prepared writes are never sent.
                n.prepared.retain(|w| w.node != node);
                n.nodes[node as usize].phase = Phase::Crashed;
                n.nodes[node as usize].paused = false;
                n.crashes += 1;
            }
            Action::Restart { node } => n.nodes[node as usize].phase = Phase::Follower,
        }
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::stateright_properties(Self::props())
    }
}

fn leaders(m: &ElectionModel, s: &ElectionState) -> Vec<usize> {
    s.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| m.trusts(n))
        .map(|(i, _)| i)
        .collect()
}

fn at_most_one_leader(m: &ElectionModel, s: &ElectionState) -> bool {
    leaders(m, s).len() <= 1
}

fn stale_token_write_rejected(_: &ElectionModel, s: &ElectionState) -> bool {
    s.accepted.windows(2).all(|w| w[0] <= w[1])
}

fn fencing_tokens_monotonic(_: &ElectionModel, s: &ElectionState) -> bool {
    s.lease.grants.windows(2).all(|w| w[0] < w[1])
}

fn leader_elected(m: &ElectionModel, s: &ElectionState) -> bool {
    !leaders(m, s).is_empty()
}

/// Premise of `CrashedLeaderReplaced`: the lease is held by a crashed node and the store may
/// still grant another term within the bound.
fn leader_crashed(m: &ElectionModel, s: &ElectionState) -> bool {
    s.lease
        .holder
        .is_some_and(|h| s.nodes[h as usize].phase == Phase::Crashed)
        && m.can_grant(s)
}

fn failover_happened(_: &ElectionModel, s: &ElectionState) -> bool {
    s.lease.grants.len() >= 2
}

fn stale_leader_attempted_write(_: &ElectionModel, s: &ElectionState) -> bool {
    let current = s.lease.grants.last().copied().unwrap_or(0);
    s.nodes
        .iter()
        .any(|n| matches!(n.phase, Phase::Writing { token, .. } if token < current))
        || s.prepared.iter().any(|w| w.token < current)
}

impl Protocol for ElectionModel {
    const ID: &'static str = "election";
    type Config = ElectionConfig;

    /// One part per node, then the lease store, storage and the counters: a node takes a
    /// handful of local states, each shared by a great many states.
    fn parts(&self) -> Option<Parts<ElectionState>> {
        Some(Parts {
            count: 2,
            encode: |s, i, out| match i {
                0 => encode_part(&s.nodes, out),
                _ => encode_part(
                    &(
                        &s.lease,
                        &s.accepted,
                        s.writes,
                        &s.prepared,
                        s.crashes,
                        s.pauses,
                    ),
                    out,
                ),
            },
            decode: |parts| {
                let (lease, accepted, writes, prepared, crashes, pauses) = decode_part(parts[1]);
                ElectionState {
                    nodes: decode_part(parts[0]),
                    lease,
                    accepted,
                    writes,
                    prepared,
                    crashes,
                    pauses,
                }
            },
        })
    }

    fn variants() -> &'static [Variant] {
        const IDS: [Variant; 5] = [
            VARIANTS[0].0,
            VARIANTS[1].0,
            VARIANTS[2].0,
            VARIANTS[3].0,
            VARIANTS[4].0,
        ];
        &IDS
    }

    fn new(variant: &str, config: ElectionConfig) -> Result<Self, ModelError> {
        let (v, bug) = crate::find_variant(Self::ID, &VARIANTS, variant)?;
        let c = &config;
        let fail = |why: &str| Err(ModelError::BadConfig(why.to_string()));
        if c.nodes < 2 || usize::from(c.nodes) > MAX_NODES {
            return fail("nodes must be 2..=5");
        }
        if c.margin < c.drift {
            return fail("margin must be at least drift, or the correct protocol is unsafe");
        }
        if c.lease <= c.margin {
            return fail("lease must be longer than margin");
        }
        if usize::from(c.writers) > MAX_WRITERS {
            return fail("writers must be at most 4");
        }
        if c.max_terms == 0
            || usize::from(c.max_terms) > MAX_TERMS
            || usize::from(c.max_writes) > MAX_WRITES
        {
            return fail("max-terms must be 1..=64 and max-writes at most 64");
        }
        Ok(ElectionModel {
            variant: v.id,
            bug,
            config,
        })
    }

    fn variant(&self) -> &'static str {
        self.variant
    }

    fn config(&self) -> &ElectionConfig {
        &self.config
    }

    fn props() -> Vec<Prop<Self>> {
        vec![
            Prop {
                name: "AtMostOneLeader",
                kind: Kind::Always,
                doc: "No two nodes believe, at the same real time and by their own clocks, that they hold a valid lease.",
                condition: at_most_one_leader,
                premise: None,
            },
            Prop {
                name: "StaleTokenWriteRejected",
                kind: Kind::Always,
                doc: "Storage never accepts a write whose token is lower than one it has already accepted.",
                condition: stale_token_write_rejected,
                premise: None,
            },
            Prop {
                name: "FencingTokensMonotonic",
                kind: Kind::Always,
                doc: "Every lease the store grants carries a token greater than every token granted before.",
                condition: fencing_tokens_monotonic,
                premise: None,
            },
            Prop {
                name: "LeaderEventuallyElected",
                kind: Kind::Eventually,
                doc: "Some node eventually holds a lease it trusts.",
                condition: leader_elected,
                premise: None,
            },
            Prop {
                name: "CrashedLeaderReplaced",
                kind: Kind::LeadsTo,
                doc: "When the lease holder crashes (and the store may still grant a term), some node eventually holds a lease it trusts.",
                condition: leader_elected,
                premise: Some(leader_crashed),
            },
            Prop {
                name: "LeaderElected",
                kind: Kind::Sometimes,
                doc: "Some node holds a lease it trusts (so AtMostOneLeader is not vacuous).",
                condition: leader_elected,
                premise: None,
            },
            Prop {
                name: "FailoverHappened",
                kind: Kind::Sometimes,
                doc: "The store grants a second term (so FencingTokensMonotonic is not vacuous).",
                condition: failover_happened,
                premise: None,
            },
            Prop {
                name: "LeaderCrashed",
                kind: Kind::Sometimes,
                doc: "The lease holder crashes while the store may still grant a term (so CrashedLeaderReplaced is not vacuous: its premise happens).",
                condition: leader_crashed,
                premise: None,
            },
            Prop {
                name: "StaleLeaderAttemptedWrite",
                kind: Kind::Sometimes,
                doc: "A node is about to write with a token older than the current one (so StaleTokenWriteRejected is not vacuous).",
                condition: stale_leader_attempted_write,
                premise: None,
            },
        ]
    }

    /// Fairness: time passes and every node keeps taking steps (weakly fair, one class per
    /// node, so a paused node eventually resumes and a crashed one restarts); crashes and
    /// pauses are unfair and bounded.
    fn classes(&self) -> Vec<Class> {
        let mut c = vec![
            Class {
                name: "the clock".into(),
                fairness: Fairness::Weak,
            },
            Class {
                name: "pauses and crashes".into(),
                fairness: Fairness::Unfair,
            },
        ];
        c.extend((0..self.config.nodes).map(|i| Class {
            name: format!("node {i}"),
            fairness: Fairness::Weak,
        }));
        c
    }

    fn class_of(&self, action: &Action) -> usize {
        match *action {
            Action::Tick { .. } => 0,
            Action::Pause { .. } | Action::Crash { .. } => 1,
            Action::Acquire { node }
            | Action::ReadLease { node }
            | Action::WriteLease { node }
            | Action::Renew { node }
            | Action::PrepareWrite { node }
            | Action::StorageWrite { node, .. }
            | Action::StepDown { node }
            | Action::Resign { node }
            | Action::Resume { node }
            | Action::Restart { node } => 2 + node as usize,
        }
    }

    fn fields(&self, s: &ElectionState) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let lease = match s.lease.holder {
            None if !s.lease.grants.is_empty() => format!(
                "free (released; the last token granted is {})",
                s.lease.grants.last().copied().unwrap_or(0)
            ),
            None => "free".to_string(),
            Some(h) if s.lease.left == 0 => format!(
                "expired (last granted to node {h}, token {})",
                s.lease.grants.last().copied().unwrap_or(0)
            ),
            Some(h) if self.has(Bug::NoLeaseExpiry) => format!(
                "held by node {h}, token {}; never expires",
                s.lease.grants.last().copied().unwrap_or(0),
            ),
            Some(h) => format!(
                "held by node {h}, token {}, expires in {}",
                s.lease.grants.last().copied().unwrap_or(0),
                ticks(s.lease.left)
            ),
        };
        out.push(("lease store".to_string(), lease));
        for (i, n) in s.nodes.iter().enumerate() {
            let mut v = match n.phase {
                Phase::Follower => "follower".to_string(),
                Phase::Acquiring { token } => {
                    format!("read the lease free; will write itself in with token {token}")
                }
                Phase::Leader { token, left } => format!(
                    "leader with token {token}; its clock says {} left",
                    ticks(left)
                ),
                Phase::Writing { token, left } => {
                    format!(
                        "about to write with token {token}; its clock says {} left",
                        ticks(left)
                    )
                }
                Phase::Crashed => "crashed".to_string(),
            };
            if self.trusts(n) {
                v += " (trusts its lease)";
            }
            let mine: Vec<String> = s
                .prepared
                .iter()
                .filter(|w| usize::from(w.node) == i)
                .map(|w| w.token.to_string())
                .collect();
            if !mine.is_empty() {
                v += &format!(
                    "; {} on {} way with {} {}",
                    if mine.len() == 1 {
                        "a write".to_string()
                    } else {
                        format!("{} writes", number(mine.len()))
                    },
                    if mine.len() == 1 { "its" } else { "their" },
                    if mine.len() == 1 { "token" } else { "tokens" },
                    mine.join(", ")
                );
            }
            if n.paused {
                v += ", paused";
            }
            out.push((format!("node {i}"), v));
            out.push((
                format!("node {i} clock"),
                match n.lag {
                    0 => "on time".to_string(),
                    lag => format!("{} slow", ticks(lag)),
                },
            ));
        }
        let accepted: Vec<String> = s.accepted.iter().map(u8::to_string).collect();
        out.push((
            "storage".to_string(),
            if accepted.is_empty() {
                "no write accepted".to_string()
            } else {
                format!(
                    "accepted writes with {} {}",
                    if accepted.len() == 1 {
                        "token"
                    } else {
                        "tokens"
                    },
                    accepted.join(", ")
                )
            },
        ));
        out.push(("crashes".to_string(), s.crashes.to_string()));
        out.push(("pauses".to_string(), s.pauses.to_string()));
        out
    }

    fn describe(&self, s: &ElectionState, action: &Action) -> String {
        let token_of = |node: u8| match s.nodes[node as usize].phase {
            Phase::Leader { token, .. }
            | Phase::Writing { token, .. }
            | Phase::Acquiring { token } => token,
            _ => 0,
        };
        match *action {
            Action::Tick { slow: 0 } => "one tick of real time passes".to_string(),
            Action::Tick { slow } => {
                let who: Vec<String> = (0..s.nodes.len())
                    .filter(|i| slow & (1 << i) != 0)
                    .map(|i| format!("node {i}"))
                    .collect();
                format!(
                    "one tick of real time passes; the clock of {} stands still",
                    who.join(" and ")
                )
            }
            Action::Acquire { node } => format!(
                "node {node} takes the lease with a compare-and-set: granted with token {}",
                Self::next_token(s)
            ),
            Action::ReadLease { node } => format!("node {node} reads the lease and finds it free"),
            Action::WriteLease { node } => format!(
                "node {node} writes itself in as lease holder with token {}, without checking again",
                token_of(node)
            ),
            Action::Renew { node } => format!("node {node} renews its lease (heartbeat)"),
            Action::PrepareWrite { node } => format!(
                "node {node} checks its lease, trusts it, and prepares a write with token {}",
                token_of(node)
            ),
            Action::StorageWrite { node, token } => {
                let token = token.unwrap_or_else(|| token_of(node));
                let highest = s.accepted.iter().copied().max().unwrap_or(0);
                let verdict = if token >= highest {
                    "storage accepts it".to_string()
                } else if self.has(Bug::NoFencing) {
                    format!("storage accepts it although it already accepted token {highest}")
                } else {
                    format!("storage rejects it: it already accepted token {highest}")
                };
                format!("node {node}'s write with token {token} reaches storage: {verdict}")
            }
            Action::StepDown { node } if self.trusts(&s.nodes[node as usize]) => {
                format!("node {node} gives its lease up early and steps down")
            }
            Action::StepDown { node } => format!(
                "node {node}'s clock says its lease can no longer be trusted: it steps down"
            ),
            Action::Resign { node } => {
                let token = token_of(node);
                if Self::holds(s, node, token) {
                    format!(
                        "node {node} resigns: it steps down and the store releases its lease with token {token}"
                    )
                } else {
                    format!(
                        "node {node} resigns: it steps down; the store refuses to release its lease with token {token}, which is no longer current"
                    )
                }
            }
            Action::Pause { node } => format!("node {node} pauses (a long GC or VM stall)"),
            Action::Resume { node } => {
                format!("node {node} resumes, still believing what it believed")
            }
            Action::Crash { node } => format!("node {node} crashes"),
            Action::Restart { node } => {
                format!("node {node} restarts as a follower, remembering nothing")
            }
        }
    }

    fn is_tick(&self, action: &Action) -> bool {
        matches!(action, Action::Tick { .. })
    }

    fn local_times(&self, s: &ElectionState, now: usize) -> Option<String> {
        let clocks: Vec<String> = s
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("node {i} at {}", now.saturating_sub(n.lag as usize)))
            .collect();
        Some(format!("clocks: {}", clocks.join(", ")))
    }

    fn participants(&self) -> Vec<String> {
        let mut p: Vec<String> = (0..self.config.nodes)
            .map(|i| format!("Node {i}"))
            .collect();
        p.push("LeaseStore".to_string());
        p.push("Storage".to_string());
        p
    }

    fn arrows(&self, s: &ElectionState, action: &Action, n: &ElectionState) -> Vec<Arrow> {
        let node = |i: u8| format!("Node {i}");
        let store = || "LeaseStore".to_string();
        let call = |from: String, to: String, label: String| Arrow::Call { from, to, label };
        let reply = |from: String, to: String, label: String| Arrow::Reply { from, to, label };
        let note = |over: String, text: String| Arrow::note([over], text);
        let token = |st: &ElectionState, i: u8| match st.nodes[i as usize].phase {
            Phase::Leader { token, .. }
            | Phase::Writing { token, .. }
            | Phase::Acquiring { token } => token,
            _ => 0,
        };
        match *action {
            Action::Tick { slow } => {
                let mut text = if s.lease.left == 1 && !self.has(Bug::NoLeaseExpiry) {
                    "tick: the lease expires".to_string()
                } else {
                    "tick".to_string()
                };
                if slow != 0 {
                    let who: Vec<String> = (0..s.nodes.len())
                        .filter(|i| slow & (1 << i) != 0)
                        .map(|i| format!("node {i}"))
                        .collect();
                    text += &format!(" (clock of {} stands still)", who.join(", "));
                }
                vec![note(store(), text)]
            }
            Action::Acquire { node: i } => vec![
                call(node(i), store(), "compare-and-set: acquire".into()),
                reply(store(), node(i), format!("granted, token {}", token(n, i))),
            ],
            Action::ReadLease { node: i } => vec![
                call(node(i), store(), "read lease".into()),
                reply(store(), node(i), "free".into()),
            ],
            Action::WriteLease { node: i } => vec![call(
                node(i),
                store(),
                format!("write holder = node {i}, token {}", token(n, i)),
            )],
            Action::Renew { node: i } => vec![call(node(i), store(), "renew".into())],
            Action::PrepareWrite { node: i } => vec![note(
                node(i),
                format!("lease OK: write with token {}", token(s, i)),
            )],
            Action::StorageWrite { node: i, token: t } => {
                let accepted = n.accepted.len() > s.accepted.len();
                vec![
                    call(
                        node(i),
                        "Storage".into(),
                        format!("write, token {}", t.unwrap_or_else(|| token(s, i))),
                    ),
                    reply(
                        "Storage".into(),
                        node(i),
                        if accepted {
                            "accepted".into()
                        } else {
                            "rejected: stale token".into()
                        },
                    ),
                ]
            }
            Action::StepDown { node: i } => vec![note(node(i), "steps down".into())],
            Action::Resign { node: i } => vec![
                call(node(i), store(), format!("release, token {}", token(s, i))),
                reply(
                    store(),
                    node(i),
                    if Self::holds(s, i, token(s, i)) {
                        "released".into()
                    } else {
                        "refused: not the current lease".into()
                    },
                ),
            ],
            Action::Pause { node: i } => vec![note(node(i), "pauses".into())],
            Action::Resume { node: i } => vec![note(node(i), "resumes".into())],
            Action::Crash { node: i } => vec![note(node(i), "crashes".into())],
            Action::Restart { node: i } => vec![note(node(i), "restarts".into())],
        }
    }

    fn explain(&self, name: &str, s: &ElectionState) -> String {
        match name {
            "AtMostOneLeader" => {
                let l = leaders(self, s);
                let names: Vec<String> = l.iter().map(|i| format!("node {i}")).collect();
                let mut why = format!(
                    "{} {} believe, at the same moment, that they hold a valid lease: split brain.",
                    join_and(&names),
                    if l.len() == 2 { "both" } else { "all" }
                );
                let current = s.lease.grants.last().copied().unwrap_or(0);
                for &i in &l {
                    let n = &s.nodes[i];
                    let Some((token, left)) = lease_of(n) else {
                        continue;
                    };
                    if token < current && n.lag > 0 {
                        why += &format!(
                            " Node {i}'s clock runs {} slow, so it still trusts its lease with token {token} (its clock says {} left) although that lease has run out in real time and the store has granted token {current} since.",
                            ticks(n.lag),
                            ticks(left)
                        );
                    } else if token < current {
                        why += &format!(
                            " Node {i} still trusts its lease with token {token} although the store has granted token {current} since."
                        );
                    }
                }
                let same: Vec<String> = l
                    .iter()
                    .filter(|&&i| lease_of(&s.nodes[i]).is_some_and(|(t, _)| t == current))
                    .map(|i| format!("node {i}"))
                    .collect();
                if same.len() > 1 {
                    why += &format!(
                        " The store granted the same token, {current}, to {}: each read the lease free before the other wrote it.",
                        join_and(&same)
                    );
                }
                why
            }
            "StaleTokenWriteRejected" => {
                let highest = s.accepted.iter().copied().max().unwrap_or(0);
                let last = s.accepted.last().copied().unwrap_or(0);
                format!(
                    "storage accepted a write with token {last} after it had accepted token {highest}: the write of a leader that was no longer the leader went through, after its successor's."
                )
            }
            "FencingTokensMonotonic" => {
                let g: Vec<String> = s.lease.grants.iter().map(u8::to_string).collect();
                format!(
                    "the lease store granted tokens {}, in that order: a token that does not grow cannot tell the newer leader from the older one.",
                    g.join(", ")
                )
            }
            "LeaderEventuallyElected" => {
                "no node ever holds a lease it trusts in the behaviour below.".to_string()
            }
            "CrashedLeaderReplaced" if self.has(Bug::NoLeaseExpiry) => {
                let holder = s.lease.holder.map_or(0, usize::from);
                format!(
                    "node {holder} crashed holding the lease, and this store never lets a lease run out: no other node can take it, and node {holder}, once restarted, does not know it holds it, so no node ever leads again."
                )
            }
            "CrashedLeaderReplaced" => {
                "after the lease holder crashed, no node ever holds a trusted lease again."
                    .to_string()
            }
            other => match Self::prop(other) {
                Some(p) => format!("no reachable state satisfies {}: {}", p.name, p.doc),
                None => format!("unknown property {other}"),
            },
        }
    }

    fn violation(&self, name: &str, s: &ElectionState) -> Violation {
        let node = |i: usize| format!("Node {i}");
        let every_node = || (0..s.nodes.len()).map(node).collect::<Vec<_>>();
        let node_fields = |nodes: &[usize]| -> Vec<String> {
            nodes
                .iter()
                .flat_map(|i| [format!("node {i}"), format!("node {i} clock")])
                .collect()
        };
        let holding = |token: u8| -> Vec<usize> {
            (0..s.nodes.len())
                .filter(|&i| lease_of(&s.nodes[i]).is_some_and(|(t, _)| t == token))
                .collect()
        };
        match name {
            "AtMostOneLeader" => {
                let l = leaders(self, s);
                let each: Vec<String> = l
                    .iter()
                    .filter_map(|&i| {
                        let n = &s.nodes[i];
                        let (token, left) = lease_of(n)?;
                        let clock = if n.lag > 0 {
                            format!(
                                "its clock, {} slow, says {} left",
                                ticks(n.lag),
                                ticks(left)
                            )
                        } else {
                            format!("its clock says {} left", ticks(left))
                        };
                        Some(format!("node {i} with token {token} ({clock})"))
                    })
                    .collect();
                let mut fields = vec!["lease store".to_string()];
                fields.extend(node_fields(&l));
                Violation {
                    statement: format!("{} leaders at once: {}", number(l.len()), join_and(&each)),
                    participants: l.iter().map(|&i| node(i)).collect(),
                    fields,
                }
            }
            "StaleTokenWriteRejected" => {
                let highest = s.accepted.iter().copied().max().unwrap_or(0);
                let last = s.accepted.last().copied().unwrap_or(0);
                let writers = holding(last);
                let mut participants: Vec<String> = writers.iter().map(|&i| node(i)).collect();
                participants.push("Storage".to_string());
                let mut fields = vec!["storage".to_string()];
                fields.extend(writers.iter().map(|i| format!("node {i}")));
                Violation {
                    statement: format!(
                        "storage accepted a write with token {last} after one with token {highest}"
                    ),
                    participants,
                    fields,
                }
            }
            "FencingTokensMonotonic" => {
                let (before, after) = s
                    .lease
                    .grants
                    .windows(2)
                    .find(|w| w[0] >= w[1])
                    .map_or((0, 0), |w| (w[0], w[1]));
                let holders = holding(after);
                let mut participants: Vec<String> = holders.iter().map(|&i| node(i)).collect();
                participants.push("LeaseStore".to_string());
                let mut fields = vec!["lease store".to_string()];
                fields.extend(holders.iter().map(|i| format!("node {i}")));
                let statement = if before == after {
                    format!(
                        "the lease store granted token {after} twice: one token for two leaders ({})",
                        join_and(
                            &holders
                                .iter()
                                .map(|i| format!("node {i}"))
                                .collect::<Vec<_>>()
                        )
                    )
                } else {
                    format!("the lease store granted token {after} after token {before}")
                };
                Violation {
                    statement,
                    participants,
                    fields,
                }
            }
            "LeaderEventuallyElected" => Violation {
                statement: "no node holds a lease it trusts".to_string(),
                participants: every_node(),
                fields: (0..s.nodes.len()).map(|i| format!("node {i}")).collect(),
            },
            "CrashedLeaderReplaced" => {
                let holder = s.lease.holder.map_or(0, usize::from);
                let mut fields = vec!["lease store".to_string()];
                fields.extend((0..s.nodes.len()).map(|i| format!("node {i}")));
                let statement = if s.nodes[holder].phase == Phase::Crashed {
                    format!(
                        "node {holder}, the lease holder, has crashed and no node holds a lease it trusts"
                    )
                } else {
                    let token = s.lease.grants.last().copied().unwrap_or(0);
                    format!(
                        "the store still holds node {holder}'s lease with token {token}, which never expires, though node {holder} crashed and restarted as a follower: no node holds a lease it trusts"
                    )
                };
                let mut participants = every_node();
                participants.push("LeaseStore".to_string());
                Violation {
                    statement,
                    participants,
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
            "nodes" => "nodes campaigning for the lease",
            "lease" if self.has(Bug::NoLeaseExpiry) => {
                "lease length, in ticks, as a leader measures it on its own clock: this store never expires it"
            }
            "lease" => "lease length, in ticks",
            "drift" => "ticks a node's clock may fall behind real time",
            "margin" if self.has(Bug::NoClockMargin) => {
                "not used by this variant: a leader trusts its lease until its own clock says it has run out"
            }
            "margin" => {
                "a leader trusts its lease only while its clock says more than this many ticks are left"
            }
            "max-terms" => "leases the store grants in one behaviour",
            "max-writes" => "writes sent to storage in one behaviour",
            "max-crashes" => "node crashes in one behaviour",
            "max-pauses" => "node pauses (a GC or VM stall) in one behaviour",
            "resign" => {
                "whether a leader may resign: step down and give its lease back to the store"
            }
            "writers" => {
                "writer threads per node sharing its elector with the heartbeat: each may have a write on its way while the node renews, steps down or resigns (0: the node does one thing at a time)"
            }
            _ => return None,
        };
        Some(doc.to_string())
    }
}

/// The token of a node's lease and the ticks its clock says are left, if it leads.
fn lease_of(n: &Node) -> Option<(u8, u8)> {
    match n.phase {
        Phase::Leader { token, left } | Phase::Writing { token, left } => Some((token, left)),
        _ => None,
    }
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "two", "three", …: how many nodes (at most [`MAX_NODES`]).
fn number(n: usize) -> String {
    match n {
        0 => "no".to_string(),
        1 => "one".to_string(),
        2 => "two".to_string(),
        3 => "three".to_string(),
        4 => "four".to_string(),
        5 => "five".to_string(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use stateright::{Checker, HasDiscoveries};

    use super::*;
    use crate::testing::walk;

    fn model(variant: &str) -> ElectionModel {
        ElectionModel::new(variant, ElectionConfig::default()).unwrap()
    }

    /// The fingerprint of the model: unique states of the default configuration (two
    /// nodes), explored to the end by stateright.
    #[test]
    fn default_configuration_has_102066_states() {
        assert_eq!(explore_safely(model("correct")), 102_066);
    }

    /// Explores all of `m` with stateright's DFS, asserts that no safety property is
    /// violated, and returns the number of unique states.
    fn explore_safely(m: ElectionModel) -> usize {
        let checker = m
            .checker()
            .finish_when(HasDiscoveries::AllOf(BTreeSet::from([
                "(explore everything)",
            ])))
            .spawn_dfs()
            .join();
        checker.assert_no_discovery("AtMostOneLeader");
        checker.assert_no_discovery("StaleTokenWriteRejected");
        checker.assert_no_discovery("FencingTokensMonotonic");
        checker.unique_state_count()
    }

    /// With resignations, the two-node configuration explored to the end: more states (a
    /// lease can be free before it runs out), the same properties.
    #[test]
    fn with_resignations_the_default_configuration_has_113726_states() {
        assert_eq!(explore_safely(with_resignations("correct", 0)), 113_726);
    }

    /// The store renews only a live lease: a leader whose slow clock still trusts a lease that
    /// has run out in real time (possible without the margin) cannot renew it — its
    /// heartbeat comes too late — and must step down once its clock says so.
    #[test]
    fn an_expired_lease_is_not_renewed() {
        let m = model("no-clock-margin");
        let s = walk(
            &m,
            &[
                Action::Acquire { node: 0 },
                Action::Tick { slow: 1 },
                Action::Tick { slow: 0 },
                Action::Tick { slow: 0 },
            ],
        );
        assert_eq!(s.lease.left, 0, "run out in real time");
        assert!(m.trusts(&s.nodes[0]), "node 0's slow clock still trusts it");
        let mut enabled = Vec::new();
        m.actions(&s, &mut enabled);
        assert!(!enabled.contains(&Action::Renew { node: 0 }), "{enabled:?}");
        assert!(
            enabled.contains(&Action::PrepareWrite { node: 0 }),
            "{enabled:?}"
        );
    }

    /// No example (`sometimes` property) holds before a step is taken, in any variant.
    #[test]
    fn no_example_holds_at_the_start() {
        for v in ElectionModel::variants() {
            crate::testing::no_example_at_start(&with_resignations(v.id, 2));
        }
    }

    /// Crashes and pauses are unfair, every other step weakly fair (time, each node), and
    /// every step has a class.
    #[test]
    fn faults_are_unfair_and_every_step_has_a_class() {
        let faults = |a: &Action| matches!(a, Action::Crash { .. } | Action::Pause { .. });
        crate::testing::classes_cover_every_action(&with_resignations("correct", 1), faults);
    }

    /// A leader may give its lease up early, while its clock still trusts it (what an
    /// elector timing its lease from its request does): a `StepDown` is enabled at once, and
    /// the lease stays the store's until it runs out, so no other node leads before.
    #[test]
    fn a_leader_may_step_down_early() {
        let m = model("correct");
        let s = walk(
            &m,
            &[Action::Acquire { node: 0 }, Action::StepDown { node: 0 }],
        );
        assert_eq!(s.nodes[0].phase, Phase::Follower);
        assert_eq!(s.lease.holder, Some(0));
        let before = walk(&m, &[Action::Acquire { node: 0 }]);
        assert_eq!(
            m.describe(&before, &Action::StepDown { node: 0 }),
            "node 0 gives its lease up early and steps down"
        );
        let mut enabled = Vec::new();
        m.actions(&s, &mut enabled);
        assert!(
            !enabled.contains(&Action::Acquire { node: 1 }),
            "{enabled:?}"
        );
    }

    /// Time passes only while something times (a live lease, a leader's clock): every tick
    /// the model enables changes the state, so no behaviour idles on ticks alone while no
    /// timer runs (and no counterexample shows a tick that changes nothing). Checked on every
    /// reachable state of the default configuration, with resignations, of each variant.
    #[test]
    fn every_tick_changes_the_state() {
        for variant in ["correct", "no-clock-margin", "no-lease-expiry"] {
            let m = with_resignations(variant, 0);
            let states = crate::testing::each_transition(&m, |s, a, next| {
                if matches!(a, Action::Tick { .. }) {
                    assert_ne!(next, Some(s), "{variant}: {a:?} changes nothing in {s:?}");
                }
            });
            assert!(states > 1000, "{variant}: {states} states");
        }
    }

    /// A released lease reads as released, with the last token granted, not as never granted.
    #[test]
    fn a_released_lease_says_so() {
        let m = with_resignations("correct", 0);
        let s = walk(
            &m,
            &[Action::Acquire { node: 0 }, Action::Resign { node: 0 }],
        );
        let lease = m.fields(&s).remove(0);
        assert_eq!(
            lease,
            (
                "lease store".to_string(),
                "free (released; the last token granted is 1)".to_string()
            )
        );
        let fresh = m.fields(&m.init_states().remove(0)).remove(0);
        assert_eq!(fresh.1, "free");
    }

    /// A resignation gives the lease back at once: the next node is granted it without
    /// waiting for it to run out, with the next token. Without the knob no leader resigns.
    #[test]
    fn a_resigned_lease_is_granted_again_at_once() {
        let on = with_resignations("correct", 0);
        let mut s = on.init_states().remove(0);
        for a in [
            Action::Acquire { node: 0 },
            Action::Resign { node: 0 },
            Action::Acquire { node: 1 },
        ] {
            let mut enabled = Vec::new();
            on.actions(&s, &mut enabled);
            assert!(enabled.contains(&a), "{a:?} not enabled in {s:?}");
            s = on.next_state(&s, a).unwrap();
        }
        assert_eq!(s.lease.holder, Some(1));
        assert_eq!(s.lease.grants.as_slice(), &[1, 2]);
        assert_eq!(s.nodes[0].phase, Phase::Follower);
        let off = model("correct");
        let mut s = off.init_states().remove(0);
        s = off.next_state(&s, Action::Acquire { node: 0 }).unwrap();
        let mut enabled = Vec::new();
        off.actions(&s, &mut enabled);
        assert!(
            !enabled.contains(&Action::Resign { node: 0 }),
            "{enabled:?}"
        );
    }

    /// A leader that has not noticed its lease ran out may still resign, but the store
    /// refuses to release a lease that is no longer its: node 1's lease stays.
    #[test]
    fn a_stale_release_is_refused_by_the_store() {
        let m = with_resignations("correct", 0);
        let mut s = m.init_states().remove(0);
        for a in [
            Action::Acquire { node: 0 },
            Action::Tick { slow: 1 },
            Action::Tick { slow: 0 },
            Action::Tick { slow: 0 },
            Action::Acquire { node: 1 },
        ] {
            s = m.next_state(&s, a).unwrap();
        }
        let before = s.lease.clone();
        assert!(matches!(s.nodes[0].phase, Phase::Leader { token: 1, .. }));
        let mut enabled = Vec::new();
        m.actions(&s, &mut enabled);
        assert!(enabled.contains(&Action::Resign { node: 0 }), "{enabled:?}");
        assert!(
            m.describe(&s, &Action::Resign { node: 0 })
                .contains("refuses to release its lease with token 1")
        );
        s = m.next_state(&s, Action::Resign { node: 0 }).unwrap();
        assert_eq!(s.lease, before, "the store keeps node 1's lease");
        assert_eq!(s.nodes[0].phase, Phase::Follower);
    }

    /// Kleppmann's scenario: node 0 decides to write, stalls past its lease, node 1 takes
    /// over and writes; node 0's late write is rejected by fenced storage, accepted without.
    #[test]
    fn a_paused_leaders_late_write_is_fenced_off() {
        let path = vec![
            Action::Acquire { node: 0 },
            Action::PrepareWrite { node: 0 },
            Action::Pause { node: 0 },
            Action::Tick { slow: 0 },
            Action::Tick { slow: 0 },
            Action::Tick { slow: 0 },
            Action::Acquire { node: 1 },
            Action::PrepareWrite { node: 1 },
            Action::StorageWrite {
                node: 1,
                token: None,
            },
            Action::Resume { node: 0 },
            Action::StorageWrite {
                node: 0,
                token: None,
            },
        ];
        model("no-fencing")
            .checker()
            .spawn_bfs()
            .join()
            .assert_discovery("StaleTokenWriteRejected", path.clone());
        let correct = model("correct");
        let mut s = correct.init_states().remove(0);
        for a in path {
            s = correct
                .next_state(&s, a)
                .expect("every step is enabled on the correct protocol too");
        }
        assert_eq!(s.accepted.as_slice(), &[2], "the stale write is rejected");
        assert!(stale_token_write_rejected(&correct, &s));
        assert!(at_most_one_leader(&correct, &s));
    }

    /// The default configuration of `variant` with resignations on and `writers` writer
    /// threads a node (0: the node does one thing at a time).
    fn with_resignations(variant: &str, writers: u8) -> ElectionModel {
        ElectionModel::new(
            variant,
            ElectionConfig {
                writers,
                resign: true,
                ..ElectionConfig::default()
            },
        )
        .unwrap()
    }

    /// With writers, the elector is shared: while a writer's write is on its way the node
    /// renews its lease and resigns — steps the sequential node (writers 0) cannot take until
    /// its write has reached storage.
    #[test]
    fn with_writers_a_node_renews_and_resigns_while_its_write_is_on_its_way() {
        let m = with_resignations("correct", 2);
        let s = walk(
            &m,
            &[
                Action::Acquire { node: 0 },
                Action::PrepareWrite { node: 0 },
                Action::Renew { node: 0 },
                Action::Resign { node: 0 },
            ],
        );
        assert_eq!(
            s.prepared.as_slice(),
            &[PreparedWrite { node: 0, token: 1 }]
        );
        assert_eq!(s.nodes[0].phase, Phase::Follower);
        let sequential = with_resignations("correct", 0);
        let s = walk(
            &sequential,
            &[
                Action::Acquire { node: 0 },
                Action::PrepareWrite { node: 0 },
            ],
        );
        let mut enabled = Vec::new();
        sequential.actions(&s, &mut enabled);
        for a in [Action::Renew { node: 0 }, Action::Resign { node: 0 }] {
            assert!(!enabled.contains(&a), "{a:?} enabled in {s:?}");
        }
    }

    /// A write prepared under token 1 is still on its way when its node, stepped down and
    /// elected again, writes with token 2: the two arrive in either order, and fenced
    /// storage rejects the older one when it arrives last (no pause needed: the writer is
    /// merely slow). Without fencing it is accepted, and `StaleTokenWriteRejected` fails.
    #[test]
    fn with_writers_one_nodes_writes_of_two_terms_race_to_storage() {
        let path = [
            Action::Acquire { node: 0 },
            Action::PrepareWrite { node: 0 },
            Action::Resign { node: 0 },
            Action::Acquire { node: 0 },
            Action::PrepareWrite { node: 0 },
            Action::StorageWrite {
                node: 0,
                token: Some(2),
            },
        ];
        let m = with_resignations("correct", 2);
        let s = walk(&m, &path);
        assert!(stale_leader_attempted_write(&m, &s));
        let mut enabled = Vec::new();
        m.actions(&s, &mut enabled);
        let old = Action::StorageWrite {
            node: 0,
            token: Some(1),
        };
        assert!(enabled.contains(&old), "{enabled:?}");
        let after = m.next_state(&s, old).unwrap();
        assert_eq!(
            after.accepted.as_slice(),
            &[2],
            "the stale write is rejected"
        );
        assert!(after.prepared.is_empty());
        assert!(m.describe(&s, &old).contains("storage rejects it"));
        let unfenced = with_resignations("no-fencing", 2);
        let after = unfenced.next_state(&walk(&unfenced, &path), old).unwrap();
        assert_eq!(after.accepted.as_slice(), &[2, 1]);
        assert!(!stale_token_write_rejected(&unfenced, &after));
    }

    /// Each writer has one write on its way at most, the writes on their way count against
    /// `max-writes`, and a crash kills the node's writers with their writes.
    #[test]
    fn with_writers_prepared_writes_are_bounded_and_die_with_their_node() {
        let m = with_resignations("correct", 1);
        let s = walk(
            &m,
            &[
                Action::Acquire { node: 0 },
                Action::PrepareWrite { node: 0 },
            ],
        );
        let mut enabled = Vec::new();
        m.actions(&s, &mut enabled);
        assert!(
            !enabled.contains(&Action::PrepareWrite { node: 0 }),
            "one writer, one write"
        );
        let m2 = with_resignations("correct", 2);
        let s = walk(
            &m2,
            &[
                Action::Acquire { node: 0 },
                Action::PrepareWrite { node: 0 },
                Action::PrepareWrite { node: 0 },
            ],
        );
        let mut enabled = Vec::new();
        m2.actions(&s, &mut enabled);
        assert!(
            !enabled.contains(&Action::PrepareWrite { node: 0 }),
            "max-writes 2: both are on their way"
        );
        assert_eq!(
            enabled
                .iter()
                .filter(|a| matches!(a, Action::StorageWrite { .. }))
                .count(),
            1,
            "two writes with one token are one choice: {enabled:?}"
        );
        let crashed = m2.next_state(&s, Action::Crash { node: 0 }).unwrap();
        assert!(crashed.prepared.is_empty());
        assert!(
            ElectionModel::new(
                "correct",
                ElectionConfig {
                    writers: 5,
                    ..ElectionConfig::default()
                }
            )
            .is_err()
        );
    }

    /// The largest configuration holds a prepared write from every writer of every node at
    /// once: five nodes in turn take the lease, prepare a write on each of their four writers
    /// and resign, and all twenty writes are on their way.
    #[test]
    fn every_writer_of_every_node_may_have_a_write_on_its_way() {
        let nodes = MAX_NODES as u8;
        let writers = MAX_WRITERS as u8;
        let m = ElectionModel::new(
            "correct",
            ElectionConfig {
                nodes,
                writers,
                resign: true,
                max_terms: nodes,
                max_writes: nodes * writers,
                ..ElectionConfig::default()
            },
        )
        .unwrap();
        let mut path = Vec::new();
        for node in 0..nodes {
            path.push(Action::Acquire { node });
            path.extend((0..writers).map(|_| Action::PrepareWrite { node }));
            path.push(Action::Resign { node });
        }
        let s = walk(&m, &path);
        assert_eq!(s.prepared.len(), MAX_NODES * MAX_WRITERS);
        assert!(s.prepared.windows(2).all(|w| w[0] <= w[1]), "kept in order");
    }

    /// The shared-elector configuration of the manifest (two writers per node, resignations)
    /// explored to the end: its fingerprint, and the safety properties hold.
    #[test]
    fn with_two_writers_and_resignations_the_default_configuration_has_126084_states() {
        assert_eq!(explore_safely(with_resignations("correct", 2)), 126_084);
    }

    /// Without the margin, a slow clock makes the old leader trust its lease after it has
    /// expired in real time, while the new leader trusts its own.
    #[test]
    fn a_slow_clock_without_margin_gives_two_leaders() {
        model("no-clock-margin")
            .checker()
            .spawn_bfs()
            .join()
            .assert_discovery(
                "AtMostOneLeader",
                vec![
                    Action::Acquire { node: 0 },
                    Action::Tick { slow: 1 },
                    Action::Tick { slow: 0 },
                    Action::Tick { slow: 0 },
                    Action::Acquire { node: 1 },
                ],
            );
        model("correct")
            .checker()
            .spawn_bfs()
            .join()
            .assert_no_discovery("AtMostOneLeader");
    }

    /// The end of a split-brain trace names both leaders, each with its token and what its
    /// own clock says, and points at fields the trace can show.
    #[test]
    fn the_split_brain_violation_names_both_leaders() {
        let m = model("no-clock-margin");
        let mut s = m.init_states().remove(0);
        for a in [
            Action::Acquire { node: 0 },
            Action::Tick { slow: 1 },
            Action::Tick { slow: 0 },
            Action::Tick { slow: 0 },
            Action::Acquire { node: 1 },
        ] {
            s = m.next_state(&s, a).unwrap();
        }
        let v = m.violation("AtMostOneLeader", &s);
        assert_eq!(v.participants, ["Node 0", "Node 1"]);
        assert_eq!(
            v.statement,
            "two leaders at once: node 0 with token 1 (its clock, 1 tick slow, says 1 tick left) and node 1 with token 2 (its clock says 3 ticks left)"
        );
        let names: Vec<String> = m.fields(&s).into_iter().map(|(n, _)| n).collect();
        for f in &v.fields {
            assert!(names.contains(f), "{f} is not a field: {names:?}");
        }
        assert!(v.fields.contains(&"node 0".to_string()));
        let why = m.explain("AtMostOneLeader", &s);
        assert!(
            why.contains(
                "Node 0's clock runs 1 tick slow, so it still trusts its lease with token 1"
            ),
            "{why}"
        );
    }

    /// Every bound of the configuration is explained in a trace, and the margin reads as
    /// unused exactly where the variant ignores it.
    #[test]
    fn every_bound_is_documented_and_unused_ones_say_so() {
        let config = serde_json::to_value(ElectionConfig::default()).unwrap();
        for v in ElectionModel::variants() {
            let m = model(v.id);
            for key in config.as_object().unwrap().keys() {
                let doc = m
                    .bound_doc(key)
                    .unwrap_or_else(|| panic!("{key} undocumented"));
                let unused = doc.starts_with("not used by this variant");
                assert_eq!(
                    unused,
                    key == "margin" && v.id == "no-clock-margin",
                    "{key}: {doc}"
                );
            }
        }
    }

    #[test]
    fn check_then_set_grants_one_token_twice() {
        let path = vec![
            Action::ReadLease { node: 0 },
            Action::ReadLease { node: 1 },
            Action::WriteLease { node: 0 },
            Action::WriteLease { node: 1 },
        ];
        let checker = model("check-then-set").checker().spawn_bfs().join();
        checker.assert_discovery("AtMostOneLeader", path.clone());
        checker.assert_discovery("FencingTokensMonotonic", path);
    }

    #[test]
    fn sometimes_properties_are_reachable() {
        let checker = model("correct").checker().spawn_bfs().join();
        checker.assert_discovery("LeaderElected", vec![Action::Acquire { node: 0 }]);
        checker.assert_discovery(
            "FailoverHappened",
            vec![
                Action::Acquire { node: 0 },
                Action::Tick { slow: 0 },
                Action::Tick { slow: 0 },
                Action::Tick { slow: 0 },
                Action::Acquire { node: 1 },
            ],
        );
        checker.assert_any_discovery("StaleLeaderAttemptedWrite");
        checker.assert_discovery(
            "LeaderCrashed",
            vec![Action::Acquire { node: 0 }, Action::Crash { node: 0 }],
        );
    }

    /// Every state reachable from `from` (BFS over the model's own actions and steps).
    fn reachable(m: &ElectionModel, from: ElectionState) -> Vec<ElectionState> {
        let mut seen = std::collections::HashSet::from([from.clone()]);
        let mut order = vec![from];
        let mut i = 0;
        while i < order.len() {
            let mut actions = Vec::new();
            m.actions(&order[i], &mut actions);
            for a in actions {
                if let Some(next) = m.next_state(&order[i], a)
                    && seen.insert(next.clone())
                {
                    order.push(next);
                }
            }
            i += 1;
        }
        order
    }

    /// Every leads-to property's premise has a `sometimes` twin with the same predicate, so a
    /// premise that can never happen (a leads-to that holds vacuously) fails the twin: on
    /// every reachable state of every variant the twin and the premise agree, and the twin
    /// is reachable in `correct`.
    #[test]
    fn every_leads_to_premise_has_a_sometimes_twin() {
        let props = ElectionModel::props();
        let leads_to: Vec<_> = props.iter().filter(|p| p.kind == Kind::LeadsTo).collect();
        assert!(!leads_to.is_empty());
        for v in ElectionModel::variants() {
            let m = model(v.id);
            let states = reachable(&m, m.init_states().remove(0));
            for p in &leads_to {
                let premise = p.premise.expect("a leads-to property has a premise");
                let twins: Vec<_> = props
                    .iter()
                    .filter(|t| {
                        t.kind == Kind::Sometimes
                            && states
                                .iter()
                                .all(|s| (t.condition)(&m, s) == premise(&m, s))
                    })
                    .map(|t| t.name)
                    .collect();
                assert_eq!(twins, ["LeaderCrashed"], "{}: twin of {}", v.id, p.name);
                assert!(
                    v.id != "correct" || states.iter().any(|s| premise(&m, s)),
                    "{}: the premise of {} never happens",
                    v.id,
                    p.name
                );
            }
        }
    }

    /// `no-lease-expiry` never replaces a crashed holder: once node 0 took the lease and
    /// crashed, no reachable state has a node that trusts a lease. The correct store lets the
    /// lease run out, and node 1 takes over.
    #[test]
    fn a_lease_that_never_expires_outlives_its_crashed_holder() {
        for (variant, replaced) in [("no-lease-expiry", false), ("correct", true)] {
            let m = model(variant);
            let mut s = m.init_states().remove(0);
            for a in [Action::Acquire { node: 0 }, Action::Crash { node: 0 }] {
                s = m.next_state(&s, a).unwrap();
            }
            assert!(leader_crashed(&m, &s), "{variant}");
            let after = reachable(&m, s);
            assert_eq!(
                after.iter().any(|s| leader_elected(&m, s)),
                replaced,
                "{variant}"
            );
        }
    }

    #[test]
    fn a_margin_below_the_drift_is_rejected() {
        let err = ElectionModel::new(
            "correct",
            ElectionConfig {
                margin: 0,
                ..ElectionConfig::default()
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("margin must be at least drift"),
            "{err}"
        );
    }
}
