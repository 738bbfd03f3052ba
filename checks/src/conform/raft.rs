//! Raft's refinement mapping: runs of `coordlab_impls::raft` (cores on threads, a faulty
//! network, crashes and restarts: the in-process `Cluster`) onto
//! `coordlab_models::raft::RaftModel`.
//!
//! # The log
//! One [`RunEvent`] per core event, in the order the cluster's observer saw them (each
//! server's step before the messages it sends): the core's [`Event`]s in the model's
//! vocabulary, the network's fate for every message it carried ([`NetFate`]), and
//! crashes. The configuration ([`RunConfig`]) is the number of servers.
//!
//! # Ids, terms, values, variant
//! - Servers: `NodeId(n)` is the model's server `n`, which the model and the reports
//!   name `s{n+1}` (`NodeId(0)` is s1).
//! - Terms: the model renumbers its terms after every step so the oldest present is 1; the
//!   mapping keeps the offset between the implementation's absolute terms and the model's
//!   (the cores start at term 0, the model at 1) and moves it by each step's renumbering.
//! - Values: the `k`-th entry any leader appends (a client's command) is the model's value
//!   `k`, so a run may append at most 4 entries (the model's bound; more is
//!   [`ConformError::Unmapped`]).
//! - Variant: the core's deviation of the same id; `correct` without one.
//! - Configuration: the model with the log's number of servers, 4 values, 8 messages in
//!   flight (its bound: a run with more in flight at once is unmapped), any-time timeouts,
//!   and restarts, drops and duplicates up to 255.
//!
//! # Events → actions
//! - `Timeout`, `BecomeLeader`, `ClientRequest`, `AdvanceCommitIndex`, `Handle*`: the
//!   model's actions of those names, the message found in the model's bag by the fields the
//!   event states. `UpdateTerm`: a stutter (the model folds it into the handler).
//! - `RequestVote`, `AppendEntries`: the model's send; when an identical message is in
//!   flight already, `DuplicateMessage` (the model sends no identical message twice).
//! - `Restart`: the model's `Restart`, except each server's first (its start).
//! - The network: a dropped message, one cut by a partition or sent to a crashed server,
//!   and one lost in a crashed server's mailbox are `DropMessage`; a duplicated one is
//!   `DuplicateMessage`; delivered, reordered and delayed ones stutter (the model's network
//!   is a bag).
//!
//! # Checked at each step
//! The answer a handler sends (vote granted, success and match index) and the follower's
//! commit index after an AppendEntries request, the message an `AppendEntries` sends
//! (previous index and term, whether it carries an entry, commit index), the index a
//! `ClientRequest` appends at, the commit index an `AdvanceCommitIndex` reaches, the term a
//! `Timeout`, `BecomeLeader` or `Restart` is in, and that every message the network carries
//! is in flight in the model.
//!
//! # What is not checked
//! - Runs must be in raft.tla's profile (`Config::raft_tla`): one entry per AppendEntries
//!   (a request with more is unmapped), no no-op on election, no pipelining.
//! - Payloads: an entry is its value, the order in which leaders appended it; two leaders
//!   appending at one index in one term (only with a bug) are not told apart.
//! - Not compared: the term an `UpdateTerm` names (the handler that follows is), a
//!   `ClientRequest`'s no-op flag, the index an AppendEntries handler says it truncated
//!   from (the logs themselves are not in the events).

use std::collections::BTreeMap;
use std::fmt;

use coordlab_impls::raft::{Entry as ImplEntry, Envelope, Event, Message as ImplMessage, NetFate};
use coordlab_models::Protocol;
use coordlab_models::raft::{
    Action, ElectionFairness, ElectionTimeout, Entry, Message, RaftConfig, RaftModel, RaftState,
};
use serde::{Deserialize, Serialize};

use super::{ConformError, Conformance, Failure, Mismatch};

/// The run's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Servers (2 to 5).
    pub servers: u32,
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RunEvent {
    /// A core's event.
    Core {
        /// The server.
        server: u32,
        /// What it did.
        event: Event,
    },
    /// The network's fate for a message.
    Net {
        /// The message.
        message: Envelope,
        /// Its fate.
        fate: NetFate,
    },
    /// A server crashed.
    Crash {
        /// The server.
        server: u32,
    },
}

impl fmt::Display for RunEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Servers by the model's names: NodeId(0) is s1.
            RunEvent::Core { server, event } => write!(f, "s{}: {event:?}", server + 1),
            RunEvent::Net { message, fate } => write!(
                f,
                "network: {} s{}→s{} (term {}) {fate:?}",
                message.message.kind(),
                message.from.0 + 1,
                message.to.0 + 1,
                message.message.term()
            ),
            RunEvent::Crash { server } => write!(f, "s{} crashes", server + 1),
        }
    }
}

/// What the next `agree` checks.
enum Expect {
    Nothing,
    /// The model sent this message (count one higher after than before).
    Sent(Message),
    /// The handler's answer: a message from `source` to `dest` of this kind and content.
    Answer(Message),
    Commit {
        server: usize,
        commit: u8,
    },
    Appended {
        server: usize,
        index: u8,
    },
    Term {
        server: usize,
        term: u8,
    },
}

/// Raft's mapping.
pub struct RaftConformance {
    n: usize,
    /// Absolute term minus the model's.
    offset: i64,
    started: Vec<bool>,
    /// Entries appended: (term, index) → value.
    values: BTreeMap<(u64, u64), u8>,
    next_value: u8,
    expect: Expect,
    /// A follower's commit index after the AppendEntries request it handles.
    expect_commit: Option<(usize, u8)>,
}

/// An index of the implementation as the model's (at most 255; its logs hold 4 entries).
fn idx(v: u64) -> Result<u8, Failure> {
    u8::try_from(v).map_err(|_| unmapped(format!("index {v} is beyond the model's logs")))
}

fn unmapped(why: impl Into<String>) -> Failure {
    Failure::Conform(ConformError::Unmapped {
        step: 0,
        why: why.into(),
    })
}

impl RaftConformance {
    /// A term of the implementation as the model writes it now (0 stays 0).
    fn rel(&self, t: u64) -> Result<u8, Failure> {
        if t == 0 {
            return Ok(0);
        }
        u8::try_from(t as i64 - self.offset)
            .ok()
            .filter(|&r| r >= 1)
            .ok_or_else(|| unmapped(format!("term {t} is outside the model's span of terms")))
    }

    fn server(&self, s: u32) -> Result<u8, Failure> {
        if (s as usize) < self.n {
            Ok(s as u8)
        } else {
            Err(Failure::Conform(ConformError::BadLog(format!(
                "server index {s} in a cluster of {} (indices 0 to {})",
                self.n,
                self.n - 1
            ))))
        }
    }

    /// A server's term as the model writes it (a core starts at 0, the model at 1).
    fn rel_server(&self, t: u64) -> Result<u8, Failure> {
        u8::try_from(t as i64 - self.offset)
            .ok()
            .filter(|&r| r >= 1)
            .ok_or_else(|| unmapped(format!("term {t} is outside the model's span of terms")))
    }

    /// The model form of a message the implementation sent.
    fn abstract_message(&self, e: &Envelope) -> Result<Message, Failure> {
        if let ImplMessage::AppendEntriesRequest { entries, .. } = &e.message
            && entries.len() > 1
        {
            return Err(unmapped(
                "an AppendEntries request with more than one entry (the model sends one: run in raft.tla's profile)",
            ));
        }
        model_message(e, &|s| self.server(s), &|t| self.rel(t), &idx, &|x| {
            self.values
                .get(&(x.term, x.index))
                .copied()
                .ok_or_else(|| unmapped("an entry no leader appended in the log"))
        })
    }

    /// The message in the model's bag that `matches`; a mismatch naming `what` if none.
    fn find(
        state: &RaftState,
        what: &str,
        matches: impl Fn(&Message) -> bool,
    ) -> Result<Message, Failure> {
        state
            .messages
            .iter()
            .map(|(m, _)| *m)
            .find(|m| matches(m))
            .ok_or_else(|| {
                Failure::Mismatch(Mismatch::new(
                    "messages",
                    "no such message in flight",
                    format!("the implementation received {what}"),
                ))
            })
    }

    /// A send, or its duplicate if an identical message is in flight.
    fn send(
        &mut self,
        model: &RaftModel,
        state: &RaftState,
        m: Message,
        send: Action,
    ) -> Result<Vec<Action>, Failure> {
        let in_flight: usize = state.messages.iter().map(|&(_, k)| k as usize).sum();
        if in_flight >= usize::from(model.config().max_in_flight) {
            return Err(unmapped(format!(
                "more than {} messages in flight at once (the model's bound)",
                model.config().max_in_flight
            )));
        }
        self.expect = Expect::Sent(m);
        if state.messages.iter().any(|(x, _)| *x == m) {
            Ok(vec![Action::DuplicateMessage { message: m }])
        } else {
            Ok(vec![send])
        }
    }
}

/// A message of the core (raft.tla's profile: at most one entry) in the model's form, with
/// the caller's mappings of servers, terms (0, "no entry", stays 0), indices and an entry's
/// value. Shared with the driver (`crate::drive::raft`).
pub(crate) fn model_message<E>(
    e: &Envelope,
    server: &dyn Fn(u32) -> Result<u8, E>,
    term: &dyn Fn(u64) -> Result<u8, E>,
    index: &dyn Fn(u64) -> Result<u8, E>,
    value: &dyn Fn(&ImplEntry) -> Result<u8, E>,
) -> Result<Message, E> {
    let (source, dest) = (server(e.from.0)?, server(e.to.0)?);
    Ok(match &e.message {
        ImplMessage::RequestVoteRequest {
            term: t,
            last_log_term,
            last_log_index,
        } => Message::RequestVoteRequest {
            term: term(*t)?,
            last_log_term: term(*last_log_term)?,
            last_log_index: index(*last_log_index)?,
            source,
            dest,
        },
        ImplMessage::RequestVoteResponse {
            term: t,
            vote_granted,
        } => Message::RequestVoteResponse {
            term: term(*t)?,
            vote_granted: *vote_granted,
            source,
            dest,
        },
        ImplMessage::AppendEntriesRequest {
            term: t,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            ..
        } => {
            let entry = match entries.first() {
                None => None,
                Some(x) => Some(Entry {
                    term: term(x.term)?,
                    value: value(x)?,
                }),
            };
            let last = prev_log_index.saturating_add(entries.len() as u64);
            Message::AppendEntriesRequest {
                term: term(*t)?,
                prev_log_index: index(*prev_log_index)?,
                prev_log_term: term(*prev_log_term)?,
                entry,
                // raft.tla's `mcommitIndex`: the leader's commit index, at most the last
                // entry the message covers (the follower takes the same minimum).
                commit_index: index((*leader_commit).min(last))?,
                source,
                dest,
            }
        }
        ImplMessage::AppendEntriesResponse {
            term: t,
            success,
            match_index,
            ..
        } => Message::AppendEntriesResponse {
            term: term(*t)?,
            success: *success,
            match_index: index(*match_index)?,
            source,
            dest,
        },
    })
}

fn count(state: &RaftState, m: &Message) -> u8 {
    state
        .messages
        .iter()
        .find(|(x, _)| x == m)
        .map_or(0, |&(_, k)| k)
}

impl Conformance for RaftConformance {
    type Model = RaftModel;
    type Config = RunConfig;
    type Event = RunEvent;

    fn start(
        config: &RunConfig,
        variant: &str,
        _events: &[RunEvent],
    ) -> Result<(Self, RaftModel), ConformError> {
        if !(2..=5).contains(&config.servers) {
            return Err(ConformError::BadLog(format!(
                "servers must be 2..=5, not {}",
                config.servers
            )));
        }
        let model = RaftModel::new(
            variant,
            RaftConfig {
                servers: config.servers as u8,
                terms: 8,
                values: 4,
                max_in_flight: 8,
                max_restarts: u8::MAX,
                max_drops: u8::MAX,
                max_duplicates: u8::MAX,
                election_timeout: ElectionTimeout::AnyTime,
                fairness: ElectionFairness::Weak,
            },
        )
        .map_err(|e| ConformError::BadLog(e.to_string()))?;
        Ok((
            RaftConformance {
                n: config.servers as usize,
                offset: -1,
                started: vec![false; config.servers as usize],
                values: BTreeMap::new(),
                next_value: 1,
                expect: Expect::Nothing,
                expect_commit: None,
            },
            model,
        ))
    }

    fn actions(
        &mut self,
        model: &RaftModel,
        state: &RaftState,
        event: &RunEvent,
    ) -> Result<Vec<Action>, Failure> {
        self.expect = Expect::Nothing;
        self.expect_commit = None;
        let (server, event) = match event {
            RunEvent::Crash { server } => {
                self.server(*server)?;
                return Ok(Vec::new());
            }
            RunEvent::Net { message, fate } => {
                let m = self.abstract_message(message)?;
                return match fate {
                    NetFate::Delivered | NetFate::Reordered | NetFate::Delayed(_) => {
                        if state.messages.iter().any(|(x, _)| *x == m) {
                            Ok(Vec::new())
                        } else {
                            Err(Failure::Mismatch(Mismatch::new(
                                "messages",
                                "not in flight",
                                format!("the network carried {m:?}"),
                            )))
                        }
                    }
                    NetFate::Duplicated => {
                        let in_flight: usize =
                            state.messages.iter().map(|&(_, k)| k as usize).sum();
                        if in_flight >= usize::from(model.config().max_in_flight) {
                            return Err(unmapped(
                                "a duplicate beyond the model's bound on messages in flight",
                            ));
                        }
                        Ok(vec![Action::DuplicateMessage { message: m }])
                    }
                    NetFate::Dropped
                    | NetFate::Partitioned
                    | NetFate::ReceiverDown
                    | NetFate::Lost => Ok(vec![Action::DropMessage { message: m }]),
                };
            }
            RunEvent::Core { server, event } => (self.server(*server)?, event),
        };
        let i = server as usize;
        let me = &state.servers[i];
        Ok(match *event {
            Event::Restart { term } => {
                self.expect = Expect::Term {
                    server: i,
                    term: self.rel_server(term)?,
                };
                if self.started[i] {
                    vec![Action::Restart { server }]
                } else {
                    self.started[i] = true;
                    Vec::new()
                }
            }
            Event::UpdateTerm { .. } => Vec::new(),
            Event::Timeout { term } => {
                self.expect = Expect::Term {
                    server: i,
                    term: self.rel(term)?,
                };
                vec![Action::Timeout { server }]
            }
            Event::RequestVote { to, term } => {
                let m = Message::RequestVoteRequest {
                    term: self.rel(term)?,
                    last_log_term: me.log.last().map_or(0, |e| e.term),
                    last_log_index: me.log.len() as u8,
                    source: server,
                    dest: self.server(to.0)?,
                };
                let send = Action::RequestVote {
                    from: server,
                    to: self.server(to.0)?,
                };
                self.send(model, state, m, send)?
            }
            Event::BecomeLeader { term } => {
                self.expect = Expect::Term {
                    server: i,
                    term: self.rel(term)?,
                };
                vec![Action::BecomeLeader { server }]
            }
            Event::ClientRequest { index, term, noop } => {
                if self.next_value > model.config().values {
                    return Err(unmapped(format!(
                        "more than {} entries appended (the model's values)",
                        model.config().values
                    )));
                }
                let value = self.next_value;
                self.next_value += 1;
                let _ = noop;
                self.values.insert((term, index), value);
                self.expect = Expect::Appended {
                    server: i,
                    index: idx(index)?,
                };
                vec![Action::ClientRequest { server, value }]
            }
            Event::AppendEntries {
                to,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => {
                if entries > 1 {
                    return Err(unmapped(
                        "an AppendEntries request with more than one entry (run in raft.tla's profile)",
                    ));
                }
                let entry = if entries == 1 {
                    Some(
                        me.log
                            .get(prev_log_index as usize)
                            .copied()
                            .ok_or_else(|| {
                                Failure::Mismatch(Mismatch::new(
                                    "log",
                                    format!("{} entries", me.log.len()),
                                    format!("an entry at index {} sent", prev_log_index + 1),
                                ))
                            })?,
                    )
                } else {
                    None
                };
                let m = Message::AppendEntriesRequest {
                    term: self.rel(term)?,
                    prev_log_index: idx(prev_log_index)?,
                    prev_log_term: self.rel(prev_log_term)?,
                    entry,
                    commit_index: idx(leader_commit.min(prev_log_index.saturating_add(entries)))?,
                    source: server,
                    dest: self.server(to.0)?,
                };
                let send = Action::AppendEntries {
                    from: server,
                    to: self.server(to.0)?,
                };
                self.send(model, state, m, send)?
            }
            Event::AdvanceCommitIndex { commit } => {
                self.expect = Expect::Commit {
                    server: i,
                    commit: idx(commit)?,
                };
                vec![Action::AdvanceCommitIndex { server }]
            }
            Event::HandleRequestVoteRequest {
                from,
                term,
                granted,
            } => {
                let (t, src) = (self.rel(term)?, self.server(from.0)?);
                let m = Self::find(state, "a vote request", |m| {
                    matches!(*m, Message::RequestVoteRequest { term, source, dest, .. }
                        if term == t && source == src && dest == server)
                })?;
                self.expect = Expect::Answer(Message::RequestVoteResponse {
                    term: 0,
                    vote_granted: granted,
                    source: server,
                    dest: src,
                });
                vec![Action::HandleRequestVoteRequest { message: m }]
            }
            Event::HandleRequestVoteResponse {
                from,
                term,
                granted,
            } => {
                let (t, src) = (self.rel(term)?, self.server(from.0)?);
                let m = Self::find(state, "a vote response", |m| {
                    matches!(*m, Message::RequestVoteResponse { term, vote_granted, source, dest }
                        if term == t && vote_granted == granted && source == src && dest == server)
                })?;
                vec![Action::HandleRequestVoteResponse { message: m }]
            }
            Event::HandleAppendEntriesRequest {
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                success,
                match_index,
                commit: follower_commit,
                ..
            } => {
                let (t, src) = (self.rel(term)?, self.server(from.0)?);
                self.expect_commit = Some((i, idx(follower_commit)?));
                let pt = self.rel(prev_log_term)?;
                let commit = idx(leader_commit.min(prev_log_index.saturating_add(entries)))?;
                let m = Self::find(state, "an AppendEntries request", |m| {
                    matches!(*m, Message::AppendEntriesRequest { term, prev_log_index: p, prev_log_term, entry, commit_index, source, dest }
                        if term == t && p as u64 == prev_log_index && prev_log_term == pt
                            && entry.is_some() == (entries == 1) && commit_index == commit
                            && source == src && dest == server)
                })?;
                self.expect = Expect::Answer(Message::AppendEntriesResponse {
                    term: 0,
                    success,
                    match_index: idx(match_index)?,
                    source: server,
                    dest: src,
                });
                vec![Action::HandleAppendEntriesRequest { message: m }]
            }
            Event::HandleAppendEntriesResponse {
                from,
                term,
                success,
                match_index,
            } => {
                let (t, src) = (self.rel(term)?, self.server(from.0)?);
                let mi = idx(match_index)?;
                let m = Self::find(state, "an AppendEntries response", |m| {
                    *m == Message::AppendEntriesResponse {
                        term: t,
                        success,
                        match_index: mi,
                        source: src,
                        dest: server,
                    }
                })?;
                vec![Action::HandleAppendEntriesResponse { message: m }]
            }
        })
    }

    fn agree(
        &mut self,
        _model: &RaftModel,
        before: &RaftState,
        after: &RaftState,
        event: &RunEvent,
    ) -> Result<(), Mismatch> {
        // The step's renumbering, read off a server the step did not touch.
        let touched = match event {
            RunEvent::Core { server, .. } => Some(*server as usize),
            _ => None,
        };
        let expect = std::mem::replace(&mut self.expect, Expect::Nothing);
        if let Some((server, commit)) = self.expect_commit.take() {
            let c = after.servers[server].commit;
            if c != commit {
                return Err(Mismatch::new(
                    format!("s{} commitIndex", server + 1),
                    c.to_string(),
                    commit.to_string(),
                ));
            }
        }
        let shift = (0..self.n).find(|&k| Some(k) != touched).map_or(0, |k| {
            i64::from(before.servers[k].term) - i64::from(after.servers[k].term)
        });
        self.offset += shift;
        // Messages the model sent in this step (terms as after it).
        let sent: Vec<Message> = after
            .messages
            .iter()
            .filter(|(m, k)| {
                let mut b = *m;
                for t in b.terms_mut() {
                    *t += shift as u8;
                }
                *k > count(before, &b)
            })
            .map(|(m, _)| *m)
            .collect();
        match expect {
            Expect::Nothing => Ok(()),
            Expect::Sent(m) => {
                let mut m = m;
                for t in m.terms_mut() {
                    *t = (i64::from(*t) - shift) as u8;
                }
                if sent.contains(&m) || count(after, &m) > 0 {
                    Ok(())
                } else {
                    Err(Mismatch::new(
                        format!("the message s{} → s{}", m.source() + 1, m.dest() + 1),
                        sent.first().map_or("none".to_owned(), |x| format!("{x:?}")),
                        format!("{m:?}"),
                    ))
                }
            }
            Expect::Answer(want) => {
                let got = sent
                    .iter()
                    .find(|m| m.source() == want.source() && m.dest() == want.dest());
                let same = match (got, want) {
                    (
                        Some(Message::RequestVoteResponse {
                            vote_granted: a, ..
                        }),
                        Message::RequestVoteResponse {
                            vote_granted: b, ..
                        },
                    ) => *a == b,
                    (
                        Some(Message::AppendEntriesResponse {
                            success: a,
                            match_index: x,
                            ..
                        }),
                        Message::AppendEntriesResponse {
                            success: b,
                            match_index: y,
                            ..
                        },
                    ) => *a == b && *x == y,
                    _ => false,
                };
                let words = |m: Option<&Message>| match m {
                    Some(Message::RequestVoteResponse { vote_granted, .. }) => {
                        format!("voteGranted {vote_granted}")
                    }
                    Some(Message::AppendEntriesResponse {
                        success,
                        match_index,
                        ..
                    }) => format!("success {success}, matchIndex {match_index}"),
                    _ => "no answer".to_owned(),
                };
                if same {
                    Ok(())
                } else {
                    Err(Mismatch::new(
                        format!("the answer s{} → s{}", want.source() + 1, want.dest() + 1),
                        words(got),
                        words(Some(&want)),
                    ))
                }
            }
            Expect::Commit { server, commit } => {
                let c = after.servers[server].commit;
                if c == commit {
                    Ok(())
                } else {
                    Err(Mismatch::new(
                        format!("s{} commitIndex", server + 1),
                        c.to_string(),
                        commit.to_string(),
                    ))
                }
            }
            Expect::Appended { server, index } => {
                let len = after.servers[server].log.len() as u8;
                if len == index {
                    Ok(())
                } else {
                    Err(Mismatch::new(
                        format!("s{} log length", server + 1),
                        len.to_string(),
                        index.to_string(),
                    ))
                }
            }
            Expect::Term { server, term } => {
                let t = after.servers[server].term;
                // `term` was made relative before the step's renumbering.
                if i64::from(t) == i64::from(term) - shift {
                    Ok(())
                } else {
                    Err(Mismatch::new(
                        format!("s{} currentTerm", server + 1),
                        t.to_string(),
                        (i64::from(term) - shift).to_string(),
                    ))
                }
            }
        }
    }

    fn finish(&mut self, _: &RaftModel, _: &RaftState) -> Result<(), Mismatch> {
        Ok(())
    }
}
