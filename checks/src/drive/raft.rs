//! Raft's driver: `coordlab_models::raft` behaviours on `coordlab_impls::raft::RaftCore`.
//!
//! # The implementation a behaviour runs on
//! One `RaftCore` per server in raft.tla's profile (`Config::raft_tla`: one entry per
//! AppendEntries, no no-op, no pipelining, `nextIndex` one back after a refusal), each with
//! a `MemStorage` it persists every `Ready` to, and a network the driver keeps: the bag of
//! messages in flight, as the cores wrote them. A model value `v` is the one-byte payload
//! `[v]`.
//!
//! # The deviations
//! The core's `Deviation` of the model variant's id (all four).
//!
//! # Actions → inputs
//! - `Timeout`: `campaign_now()`. The core writes its vote requests at once; the driver
//!   holds them and sends a copy at each `RequestVote` (the model may ask again a server
//!   that has not answered; the copy is the core's message, resent).
//! - `BecomeLeader`, `AdvanceCommitIndex`: nothing. The core takes both as part of the
//!   step that makes them possible (the deciding vote, the acknowledging answer); the
//!   model's states are normalized so (below).
//! - `ClientRequest`: `propose([value])`. `AppendEntries`: `replicate(to)`, whose message
//!   goes on the network.
//! - `Handle*`: one copy of the message leaves the network and is `step`ped into its
//!   receiver. The answer a request produces goes on the network; what a core sends of
//!   its own accord (a new leader's first heartbeats, a resend after an answer) is not
//!   sent: the model's leader sends when its `AppendEntries` step says.
//! - `Restart`: the core is dropped and a new one starts from its storage.
//!   `DuplicateMessage`, `DropMessage`: the network's. `UncontestedElection`: its steps
//!   (`RaftModel::uncontested_steps`), one by one.
//!
//! # The abstraction (implementation → model state)
//! Each core's term, role, vote, log (terms and values), commit index, the votes a
//! candidate was granted, and a leader's `nextIndex`/`matchIndex`; the messages in flight;
//! terms renumbered as the model does (the oldest present is 1). The history the
//! properties read is the driver's record of the cores' own steps: who became leader in
//! which term (their `BecomeLeader` events), the entries each commit index covered when
//! it moved, and whether the last step overwrote an entry, rewrote a leader's log or
//! lowered a commit index. Normalized on both sides: a candidate with a majority of votes
//! is the leader it becomes and a leader's commit index is as far as it can go (see
//! above); the servers a candidate heard from (`responded`: the core counts only votes
//! granted) and a leader's `nextIndex`/`matchIndex` for itself are left out.
//!
//! # What is not checked
//! - Timers: a `Timeout` is `campaign_now()` whenever the model takes it.
//! - A candidate with a majority that times out instead of becoming leader: the core
//!   becomes leader at once; such a step is refused.

use std::collections::BTreeMap;

use coordlab_impls::raft::{
    Config, Deviation, Envelope, Event, MemStorage, Message as ImplMessage, NodeId, Payload,
    RaftCore, Role as ImplRole, Storage,
};
use coordlab_models::Protocol;
use coordlab_models::raft::{
    Action, Committed, Entry, InlineVec, Message, RaftModel, RaftState, Role, Server, step,
};
use stateright::Model;

use super::{Driver, Refusal};
use crate::conform::raft::model_message;

/// Raft's driver.
pub struct RaftDriver {
    cores: Vec<RaftCore>,
    storages: Vec<MemStorage>,
    config: Vec<Config>,
    /// Messages in flight, in the cores' form.
    network: Vec<Envelope>,
    /// Per candidate: its vote requests of its current election, by receiver.
    outbox: Vec<BTreeMap<u32, ImplMessage>>,
    restarts: u8,
    drops: u8,
    duplicates: u8,
    /// Per absolute term (index 0: term 0): who became leader in it (bit per server).
    elected: Vec<u8>,
    /// Per index: the first entry committed there (absolute terms), the term of the
    /// server that committed it, and a different entry committed there later.
    committed: Vec<CommittedAt>,
    last_step: u8,
    last_server: u8,
}

/// The first entry committed at an index (absolute terms), the term of the server that
/// committed it, and a different entry committed there later (with the server).
type CommittedAt = (AbsEntry, u64, Option<(AbsEntry, u8)>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AbsEntry {
    term: u64,
    value: u8,
}

fn value_of(payload: &Payload) -> u8 {
    match payload {
        Payload::Data(bytes) if bytes.len() == 1 => bytes[0],
        _ => 0,
    }
}

impl RaftDriver {
    fn n(&self) -> usize {
        self.cores.len()
    }

    /// Persists and collects what `server` asks for after an input.
    fn ready(&mut self, server: usize) -> Vec<Envelope> {
        let ready = self.cores[server].ready();
        self.storages[server]
            .persist(&ready.persist)
            .expect("MemStorage accepts a core's writes");
        for e in &ready.events {
            if let Event::BecomeLeader { term } = e {
                let t = *term as usize;
                if self.elected.len() <= t {
                    self.elected.resize(t + 1, 0);
                }
                self.elected[t] |= 1 << server;
            }
        }
        ready.messages
    }

    /// Takes one copy of the model message `m` off the network; its envelope.
    fn take(&mut self, m: &Message) -> Option<Envelope> {
        let shift = self.shift();
        let i = self
            .network
            .iter()
            .position(|e| abstract_message(e, shift) == *m)?;
        Some(self.network.remove(i))
    }

    /// What a model term is, less one, in absolute terms: the oldest term present.
    fn shift(&self) -> u64 {
        let mut min = u64::MAX;
        for c in &self.cores {
            min = min.min(c.term());
            for e in c.log() {
                min = min.min(e.term);
            }
        }
        for e in &self.network {
            for t in message_terms(&e.message) {
                min = min.min(t);
            }
        }
        if min == u64::MAX { 0 } else { min }
    }

    /// Records the history of a step of `server` from its state `before`.
    fn history(&mut self, server: usize, before: &Snapshot, restarted: bool) {
        self.last_step = 0;
        self.last_server = 0;
        let c = &self.cores[server];
        let after = Snapshot::of(c);
        // A follower replaced an entry with a different one.
        let overwrote = before.log.iter().zip(&after.log).any(|(a, b)| a != b);
        if overwrote {
            self.last_step |= step::OVERWROTE;
            self.last_server = server as u8;
        }
        if before.role == ImplRole::Leader
            && after.role == ImplRole::Leader
            && before.term == after.term
            && !(after.log.len() >= before.log.len()
                && after.log[..before.log.len()] == before.log[..])
        {
            self.last_step |= step::LEADER_REWROTE;
            self.last_server = server as u8;
        }
        if after.commit < before.commit && !restarted {
            self.last_step |= step::COMMIT_DECREASED;
            self.last_server = server as u8;
        }
        if after.commit > before.commit {
            for index in before.commit + 1..=after.commit {
                let entry = after.log[index as usize - 1];
                let k = index as usize - 1;
                if k < self.committed.len() {
                    let c = &mut self.committed[k];
                    if c.0 != entry && c.2.is_none() {
                        c.2 = Some((entry, server as u8));
                    }
                } else {
                    self.committed.push((entry, after.term, None));
                }
            }
        }
    }

    /// Steps `envelope` into its receiver; returns what it sent.
    fn deliver(&mut self, envelope: Envelope) -> Vec<Envelope> {
        let to = envelope.to.0 as usize;
        let before = Snapshot::of(&self.cores[to]);
        self.cores[to].step(envelope.from, envelope.message);
        let sent = self.ready(to);
        self.history(to, &before, false);
        sent
    }
}

/// A core's state as the history compares it.
struct Snapshot {
    term: u64,
    role: ImplRole,
    commit: u64,
    log: Vec<AbsEntry>,
}

impl Snapshot {
    fn of(c: &RaftCore) -> Snapshot {
        Snapshot {
            term: c.term(),
            role: c.role(),
            commit: c.commit_index(),
            log: c
                .log()
                .iter()
                .map(|e| AbsEntry {
                    term: e.term,
                    value: value_of(&e.payload),
                })
                .collect(),
        }
    }
}

/// The terms a message holds (not the 0 of "no entry").
fn message_terms(m: &ImplMessage) -> Vec<u64> {
    match m {
        ImplMessage::RequestVoteRequest {
            term,
            last_log_term,
            ..
        } => [*term, *last_log_term]
            .into_iter()
            .filter(|&t| t != 0)
            .collect(),
        ImplMessage::RequestVoteResponse { term, .. }
        | ImplMessage::AppendEntriesResponse { term, .. } => vec![*term],
        ImplMessage::AppendEntriesRequest {
            term,
            prev_log_term,
            entries,
            ..
        } => std::iter::once(*term)
            .chain((*prev_log_term != 0).then_some(*prev_log_term))
            .chain(entries.iter().map(|e| e.term))
            .collect(),
    }
}

/// An absolute term as the model writes it: the oldest present is 1; 0 ("no entry") and a
/// history term older than every term present are 0.
fn rel(t: u64, shift: u64) -> u8 {
    if t == 0 || t < shift {
        0
    } else {
        u8::try_from(t + 1 - shift).unwrap_or(u8::MAX)
    }
}

/// A server's term (which may be 0 in the core, 1 in the model).
fn rel_server(t: u64, shift: u64) -> u8 {
    u8::try_from(t + 1 - shift.min(t)).unwrap_or(u8::MAX)
}

/// The model form of a message in flight (the mapping conformance uses, with the driver's
/// renumbering; a value is the payload's byte).
fn abstract_message(e: &Envelope, shift: u64) -> Message {
    let never = |r: Result<Message, std::convert::Infallible>| match r {
        Ok(m) => m,
    };
    never(model_message(
        e,
        &|s| Ok(s as u8),
        &|t| Ok(rel(t, shift)),
        &|i| Ok(i as u8),
        &|x| Ok(value_of(&x.payload)),
    ))
}

fn is_request(m: &Message) -> bool {
    matches!(
        m,
        Message::RequestVoteRequest { .. } | Message::AppendEntriesRequest { .. }
    )
}

impl Driver for RaftDriver {
    type Model = RaftModel;

    fn start(model: &RaftModel, deviation: bool) -> Result<Self, String> {
        let n = model.config().servers as u32;
        let dev = if deviation {
            Deviation::from_id(model.variant())
        } else {
            None
        };
        let ids: Vec<NodeId> = (0..n).map(NodeId).collect();
        let config: Vec<Config> = ids
            .iter()
            .map(|&id| {
                let mut c = Config::raft_tla(id, ids.clone());
                c.deviation = dev;
                c
            })
            .collect();
        let mut cores = Vec::new();
        for c in &config {
            cores.push(
                RaftCore::new(c.clone(), Default::default())
                    .map_err(|e| format!("no core for this configuration: {e}"))?,
            );
        }
        let mut d = RaftDriver {
            storages: (0..n).map(|_| MemStorage::new()).collect(),
            outbox: vec![BTreeMap::new(); n as usize],
            cores,
            config,
            network: Vec::new(),
            restarts: 0,
            drops: 0,
            duplicates: 0,
            elected: Vec::new(),
            committed: Vec::new(),
            last_step: 0,
            last_server: 0,
        };
        for i in 0..n as usize {
            d.ready(i);
        }
        Ok(d)
    }

    fn step(
        &mut self,
        model: &RaftModel,
        before: &RaftState,
        action: &Action,
        after: &RaftState,
    ) -> Result<(), Refusal> {
        self.last_step = 0;
        self.last_server = 0;
        match *action {
            Action::Timeout { server } => {
                let i = server as usize;
                let snap = Snapshot::of(&self.cores[i]);
                if !self.cores[i].campaign_now() {
                    return Err(Refusal::new(
                        format!("s{}", i + 1),
                        "a leader does not time out (the core became leader with its deciding vote)",
                    ));
                }
                let sent = self.ready(i);
                self.history(i, &snap, false);
                self.outbox[i] = sent
                    .into_iter()
                    .filter(|e| matches!(e.message, ImplMessage::RequestVoteRequest { .. }))
                    .map(|e| (e.to.0, e.message))
                    .collect();
            }
            Action::RequestVote { from, to } => {
                let Some(m) = self.outbox[from as usize].get(&u32::from(to)).cloned() else {
                    return Err(Refusal::new(
                        format!("s{}", from + 1),
                        "no vote request of its current election for this server",
                    ));
                };
                self.network.push(Envelope {
                    from: NodeId(u32::from(from)),
                    to: NodeId(u32::from(to)),
                    message: m,
                });
            }
            Action::BecomeLeader { server } => {
                if self.cores[server as usize].role() != ImplRole::Leader {
                    return Err(Refusal::new(
                        format!("s{}", server + 1),
                        "the core is not leader",
                    ));
                }
            }
            // The core commits with the answer that makes it possible (checked below).
            Action::AdvanceCommitIndex { .. } => {}
            Action::ClientRequest { server, value } => {
                let i = server as usize;
                let snap = Snapshot::of(&self.cores[i]);
                if let Err(e) = self.cores[i].propose(vec![value]) {
                    return Err(Refusal::new(format!("s{}", i + 1), e.to_string()));
                }
                // Entries go out when the model's AppendEntries says.
                let _ = self.ready(i);
                self.history(i, &snap, false);
            }
            Action::AppendEntries { from, to } => {
                let i = from as usize;
                if !self.cores[i].replicate(NodeId(u32::from(to))) {
                    return Err(Refusal::new(format!("s{}", i + 1), "it does not lead"));
                }
                let sent = self.ready(i);
                let to = NodeId(u32::from(to));
                if let Some(m) = sent.into_iter().rev().find(|e| e.to == to) {
                    self.network.push(m);
                }
            }
            Action::HandleRequestVoteRequest { message }
            | Action::HandleRequestVoteResponse { message }
            | Action::HandleAppendEntriesRequest { message }
            | Action::HandleAppendEntriesResponse { message } => {
                let Some(envelope) = self.take(&message) else {
                    return Err(Refusal::new(
                        "the network",
                        "no such message in flight from the core",
                    ));
                };
                let sent = self.deliver(envelope);
                if is_request(&message) {
                    // The answer, and only it.
                    let answer: Vec<Envelope> = sent
                        .into_iter()
                        .filter(|e| {
                            matches!(
                                e.message,
                                ImplMessage::RequestVoteResponse { .. }
                                    | ImplMessage::AppendEntriesResponse { .. }
                            )
                        })
                        .collect();
                    self.network.extend(answer);
                }
            }
            Action::Restart { server } => {
                let i = server as usize;
                let snap = Snapshot::of(&self.cores[i]);
                let durable = self.storages[i]
                    .load()
                    .map_err(|e| Refusal::new("storage", e.to_string()))?;
                self.cores[i] = RaftCore::new(self.config[i].clone(), durable)
                    .map_err(|e| Refusal::new("the core", e.to_string()))?;
                self.ready(i);
                self.history(i, &snap, true);
                self.outbox[i].clear();
                self.restarts += 1;
            }
            Action::DuplicateMessage { message } => {
                let shift = self.shift();
                let Some(e) = self
                    .network
                    .iter()
                    .find(|e| abstract_message(e, shift) == message)
                    .cloned()
                else {
                    return Err(Refusal::new("the network", "no such message to duplicate"));
                };
                self.network.push(e);
                self.duplicates += 1;
            }
            Action::DropMessage { message } => {
                if self.take(&message).is_none() {
                    return Err(Refusal::new("the network", "no such message to drop"));
                }
                self.drops += 1;
            }
            Action::UncontestedElection { server } => {
                let Some(steps) = model.uncontested_steps(before, server) else {
                    return Err(Refusal::new("the model", "no uncontested election here"));
                };
                let mut state = *before;
                for a in steps {
                    let next = model
                        .next_state(&state, a)
                        .ok_or_else(|| Refusal::new("the model", "a step of the election"))?;
                    self.step(model, &state, &a, &next)?;
                    state = next;
                }
            }
        }
        // A commit the model makes (normalized: as soon as it may) and the core did not is
        // the core's refusal. (The comparison of states normalizes the core's side with the
        // trace's model, which would make the commit for it.)
        let expected = Self::normalize(model, after);
        for (i, c) in self.cores.iter().enumerate() {
            let want = u64::from(expected.servers[i].commit);
            if c.role() == ImplRole::Leader && c.commit_index() < want {
                return Err(Refusal::new(
                    format!("s{}", i + 1),
                    format!(
                        "its commit index stays {}, not {want}: only an entry of the leader's own term is committed by counting replicas (§5.4.2)",
                        c.commit_index()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The core becomes leader with its deciding vote and commits with the deciding answer,
    /// before anything else happens: where the model may take `BecomeLeader` or
    /// `AdvanceCommitIndex`, those are the only steps the core would take. (So a candidate
    /// with a majority never times out, and a leader never steps down with a commit it
    /// could have made.)
    fn admits(&mut self, model: &RaftModel, state: &RaftState, action: &Action) -> bool {
        let eager = |a: &Action| {
            matches!(
                a,
                Action::BecomeLeader { .. } | Action::AdvanceCommitIndex { .. }
            )
        };
        let pending = (0..model.config().servers).any(|i| {
            [
                Action::BecomeLeader { server: i },
                Action::AdvanceCommitIndex { server: i },
            ]
            .into_iter()
            .any(|a| model.next_state(state, a).is_some())
        });
        if pending {
            return eager(action);
        }
        match *action {
            Action::Timeout { server } => {
                let c = &state.servers[server as usize];
                !(c.role == Role::Candidate
                    && 2 * c.granted.count_ones() as usize > model.config().servers as usize)
            }
            _ => true,
        }
    }

    fn observe(&mut self, _: &RaftModel) -> RaftState {
        let shift = self.shift();
        let n = self.n();
        let mut servers = InlineVec::new();
        for (i, c) in self.cores.iter().enumerate() {
            let leader = c.role() == ImplRole::Leader;
            let mut granted = 0u8;
            if c.role() == ImplRole::Candidate {
                for j in 0..n {
                    if c.has_vote_from(NodeId(j as u32)) {
                        granted |= 1 << j;
                    }
                }
            }
            let (next_index, match_index) = if leader {
                let mut next = InlineVec::new();
                let mut matched = InlineVec::new();
                for j in 0..n {
                    if j == i {
                        next.push(0);
                        matched.push(0);
                    } else {
                        let (nx, m) = c.progress(NodeId(j as u32)).unwrap_or((0, 0));
                        next.push(nx as u8);
                        matched.push(m as u8);
                    }
                }
                (next, matched)
            } else {
                (InlineVec::new(), InlineVec::new())
            };
            servers.push(Server {
                term: rel_server(c.term(), shift),
                role: match c.role() {
                    ImplRole::Follower => Role::Follower,
                    ImplRole::Candidate => Role::Candidate,
                    ImplRole::Leader => Role::Leader,
                },
                voted_for: c.voted_for().map(|v| v.0 as u8),
                log: c
                    .log()
                    .iter()
                    .map(|e| Entry {
                        term: rel(e.term, shift),
                        value: value_of(&e.payload),
                    })
                    .collect(),
                commit: c.commit_index() as u8,
                responded: 0,
                granted,
                next_index,
                match_index,
            });
        }
        let mut messages: InlineVec<(Message, u8), { coordlab_models::raft::MAX_IN_FLIGHT }> =
            InlineVec::new();
        let mut all: Vec<Message> = self
            .network
            .iter()
            .map(|e| abstract_message(e, shift))
            .collect();
        all.sort();
        for m in all {
            if let Some((x, k)) = messages.last_mut()
                && *x == m
            {
                *k += 1;
            } else if !messages.is_full() {
                messages.push((m, 1));
            }
        }
        // History, renumbered as the model's: terms older than every term present become
        // 0, and so do their elections.
        // `elected[k]` is model term k + 1, absolute term k + shift.
        let elected: InlineVec<u8, { 2 * coordlab_models::raft::MAX_TERMS }> = self
            .elected
            .iter()
            .skip(shift as usize)
            .take(2 * coordlab_models::raft::MAX_TERMS)
            .copied()
            .collect();
        let abs = |e: AbsEntry| Entry {
            term: rel(e.term, shift),
            value: e.value,
        };
        let committed = self
            .committed
            .iter()
            .map(|&(entry, term, conflict)| Committed {
                entry: abs(entry),
                term: rel(term, shift),
                conflict: conflict.map(|(e, s)| (abs(e), s)),
            })
            .collect();
        RaftState {
            servers,
            messages,
            restarts: self.restarts,
            drops: self.drops,
            duplicates: self.duplicates,
            elected,
            committed,
            last_step: self.last_step,
            last_server: self.last_server,
        }
    }

    fn normalize(model: &RaftModel, state: &RaftState) -> RaftState {
        let mut s = *state;
        // The core becomes leader with its deciding vote and commits with the deciding
        // answer: take the model's BecomeLeader and AdvanceCommitIndex as soon as enabled.
        loop {
            let mut moved = false;
            for i in 0..s.servers.len() as u8 {
                for a in [
                    Action::BecomeLeader { server: i },
                    Action::AdvanceCommitIndex { server: i },
                ] {
                    if let Some(t) = model.next_state(&s, a) {
                        // Keep the step markers of the step being compared.
                        let (last_step, last_server) = (s.last_step, s.last_server);
                        s = t;
                        s.last_step = last_step;
                        s.last_server = last_server;
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        for (i, srv) in s.servers.iter_mut().enumerate() {
            srv.responded = 0;
            if srv.role == Role::Leader && i < srv.next_index.len() {
                srv.next_index[i] = 0;
                srv.match_index[i] = 0;
            }
        }
        s
    }
}
