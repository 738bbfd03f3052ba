//! The messages Raft servers exchange (Figure 2's two RPCs, each as a request and a
//! response message), and the events a core reports in the Raft model's vocabulary.

use std::fmt;

use super::types::{Entry, Index, NodeId, Term};

/// One message between servers. Field names are Figure 2's; `round` is this implementation's
/// addition for read-index reads (below).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Message {
    /// RequestVote RPC, arguments: a candidate asks for a vote.
    RequestVoteRequest {
        /// The candidate's term.
        term: Term,
        /// The term of the candidate's last log entry (0: empty log).
        last_log_term: Term,
        /// The index of the candidate's last log entry (0: empty log).
        last_log_index: Index,
    },
    /// RequestVote RPC, results.
    RequestVoteResponse {
        /// The voter's `currentTerm`, for the candidate to update itself.
        term: Term,
        /// True means the candidate received the vote.
        vote_granted: bool,
    },
    /// AppendEntries RPC, arguments: a leader replicates entries, or sends a heartbeat
    /// (no entries).
    AppendEntriesRequest {
        /// The leader's term.
        term: Term,
        /// The index of the log entry immediately preceding the new ones.
        prev_log_index: Index,
        /// The term of the entry at `prev_log_index` (0 if that index is 0).
        prev_log_term: Term,
        /// The entries to store (empty for a heartbeat); at most
        /// [`Config::max_entries_per_message`](super::Config::max_entries_per_message).
        entries: Vec<Entry>,
        /// The leader's `commitIndex`.
        leader_commit: Index,
        /// The leader's read-index round when it sent this (Ongaro's thesis §6.4): a
        /// response echoing it proves the leader still led when the round began.
        round: u64,
    },
    /// AppendEntries RPC, results.
    AppendEntriesResponse {
        /// The follower's `currentTerm`, for the leader to update itself.
        term: Term,
        /// True if the follower's log contained an entry matching `prev_log_index` and
        /// `prev_log_term` (and now holds the request's entries).
        success: bool,
        /// On success, the index of the last entry the request made the follower hold
        /// (`prev_log_index` plus the number of entries); 0 on failure (as raft.tla).
        match_index: Index,
        /// The follower's last log index, a hint for the leader's `nextIndex` after a
        /// failure (raft-rs's `reject_hint`).
        last_log_index: Index,
        /// The request's `round`, echoed.
        round: u64,
    },
}

impl Message {
    /// The sender's term.
    pub fn term(&self) -> Term {
        match *self {
            Message::RequestVoteRequest { term, .. }
            | Message::RequestVoteResponse { term, .. }
            | Message::AppendEntriesRequest { term, .. }
            | Message::AppendEntriesResponse { term, .. } => term,
        }
    }

    /// The message type's name, as raft.tla names it (`RequestVoteRequest`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Message::RequestVoteRequest { .. } => "RequestVoteRequest",
            Message::RequestVoteResponse { .. } => "RequestVoteResponse",
            Message::AppendEntriesRequest { .. } => "AppendEntriesRequest",
            Message::AppendEntriesResponse { .. } => "AppendEntriesResponse",
        }
    }
}

/// A message with its sender and receiver.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Envelope {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// What is sent.
    pub message: Message,
}

/// A server's role (Figure 2's "rules for servers").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Role {
    /// Answers candidates and leaders; times out into a candidate.
    Follower,
    /// Asks for votes in its term.
    Candidate,
    /// Accepts client commands and replicates its log.
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}

/// One step of a core, in the Raft model's action vocabulary (raft.tla's names; the model's
/// `Action` in `coordlab-models`), so a run can be replayed on the model. Reported in
/// [`Ready::events`](super::Ready::events) in the order the steps happened.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "action"))]
pub enum Event {
    /// The election timer fired: the server is a candidate of `term` and voted for itself.
    Timeout {
        /// The new term.
        term: Term,
    },
    /// A candidate sent `to` a vote request.
    RequestVote {
        /// The receiver.
        to: NodeId,
        /// The candidate's term.
        term: Term,
    },
    /// A candidate with a majority's votes became leader.
    BecomeLeader {
        /// Its term.
        term: Term,
    },
    /// A leader appended an entry: a client's command, or its term's no-op.
    ClientRequest {
        /// The entry's index.
        index: Index,
        /// Its term (the leader's).
        term: Term,
        /// True for the no-op of a new term.
        noop: bool,
    },
    /// A leader sent `to` an AppendEntries request.
    AppendEntries {
        /// The receiver.
        to: NodeId,
        /// The leader's term.
        term: Term,
        /// `prevLogIndex`.
        prev_log_index: Index,
        /// `prevLogTerm`.
        prev_log_term: Term,
        /// How many entries it carries.
        entries: u64,
        /// `leaderCommit`.
        leader_commit: Index,
    },
    /// A leader's `commitIndex` advanced to `commit`.
    AdvanceCommitIndex {
        /// The new commit index.
        commit: Index,
    },
    /// A server handled a vote request.
    HandleRequestVoteRequest {
        /// The candidate.
        from: NodeId,
        /// The request's term.
        term: Term,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// A server handled a vote response.
    HandleRequestVoteResponse {
        /// The voter.
        from: NodeId,
        /// The response's term.
        term: Term,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// A server handled an AppendEntries request.
    HandleAppendEntriesRequest {
        /// The leader.
        from: NodeId,
        /// The request's term.
        term: Term,
        /// The request's `prevLogIndex`.
        prev_log_index: Index,
        /// The request's `prevLogTerm`.
        prev_log_term: Term,
        /// How many entries the request carried.
        entries: u64,
        /// The request's `leaderCommit`.
        leader_commit: Index,
        /// Whether it accepted (its log matched at `prevLogIndex`).
        success: bool,
        /// Its match index on success, 0 otherwise.
        match_index: Index,
        /// The first index it removed from its log to replace a conflicting suffix, if any.
        truncated_from: Option<Index>,
        /// Its commit index after the request.
        commit: Index,
    },
    /// A leader handled an AppendEntries response.
    HandleAppendEntriesResponse {
        /// The follower.
        from: NodeId,
        /// The response's term.
        term: Term,
        /// The follower accepted.
        success: bool,
        /// The follower's match index on success.
        match_index: Index,
    },
    /// A message of a higher term made the server a follower of that term (folded into the
    /// handler of that message in the model, as Figure 2's rule for all servers).
    UpdateTerm {
        /// The new term.
        term: Term,
    },
    /// The server started from its durable state (the model's `Restart`).
    Restart {
        /// Its term after loading.
        term: Term,
    },
}
