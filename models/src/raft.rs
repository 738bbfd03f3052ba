//! Raft: leader election and log replication, action for action as Ongaro's `raft.tla`.
//!
//! Sources: Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm"
//! (USENIX ATC 2014): Figure 2 (the rules), Figure 3 (the five properties), Figure 8 (a
//! leader may not commit an entry of an earlier term by counting replicas), §5.4.1 (the
//! election restriction); Ongaro's thesis (Stanford 2014) §3 and §9.3 (randomized election
//! timeouts, liveness), and its TLA+ specification `raft.tla`, whose actions this model
//! takes one for one: `Timeout`, `RequestVote`, `BecomeLeader`, `ClientRequest`,
//! `AppendEntries`, `AdvanceCommitIndex`, `HandleRequestVoteRequest` / `Response`,
//! `HandleAppendEntriesRequest` / `Response`, `Restart`, `DuplicateMessage`, `DropMessage`.
//!
//! `servers` servers s1, s2, … start as followers in term 1 with empty logs. A follower or
//! candidate times out (`Timeout`): it starts a new term as a candidate and votes for
//! itself. A candidate asks each other server for its vote (`RequestVote`); a server grants
//! at most one vote per term, and only to a candidate whose log is at least as up to date as
//! its own (§5.4.1). A candidate with votes from a majority becomes leader
//! (`BecomeLeader`). A leader appends a client's value to its log (`ClientRequest`), sends
//! each follower the entry at its `nextIndex` with the index and term of the one before it
//! (`AppendEntries`, at most one entry per message as in `raft.tla`; none is a heartbeat), and
//! commits the highest index a majority has replicated, only if that entry is of its own
//! term (`AdvanceCommitIndex`). A follower accepts an `AppendEntries` whose previous entry it
//! has, deletes its entries from the first one that conflicts with the request's (same index,
//! another term), appends what it lacks, and advances its commit index to the leader's (not
//! past the entry it just matched).
//!
//! Differences from `raft.tla`, each a merge of steps or a bound, none a change of rule:
//! - a server adopts a newer term (`UpdateTerm`) in the step that handles the message that
//!   carries it (Figure 2: "If RPC request or response contains term T > currentTerm: set
//!   currentTerm = T, convert to follower"), and a candidate's vote for itself is part of its
//!   `Timeout` rather than a message to itself;
//! - a follower handles an `AppendEntries` in one step (`raft.tla` deletes one conflicting
//!   entry per step, then appends in another), as Figure 2 states it;
//! - a server does not send a message identical to one still in flight (a second copy is
//!   `DuplicateMessage`'s business, which is bounded);
//! - a stale `AppendEntries` response never lowers a leader's `matchIndex` for a follower
//!   (`raft.tla` assigns it, the paper says it "increases monotonically");
//! - the client: there are `values` values (v1, v2, …); a leader accepts a value it does
//!   not have in its log. A client retries with each new leader until its value is committed,
//!   so a value lost with a deposed leader's log is submitted again; a log holds at most
//!   `values` entries.
//!
//! Terms are relative. Only the order of terms and "one more than" matter to Raft, so
//! shifting every term of a state by the same amount changes nothing it can do: after every
//! step the terms are renumbered so that the oldest term still present anywhere (a server's
//! `currentTerm`, a log entry, a message) is 1. The bound `terms` is on the span this leaves:
//! a `Timeout` that would reach a term above `terms` is not taken. So elections can go on
//! forever within a bounded state space — a split vote that repeats is a real cycle — and a
//! check at `terms = 4` covers every behaviour whose terms stay within four of each other,
//! whatever their absolute numbers. A step that renumbers says so in a trace.
//!
//! Fault model: the network is a bag: messages are delivered in any order, at most
//! `max-in-flight` at a time; `DuplicateMessage` and `DropMessage` happen at most
//! `max-duplicates` and `max-drops` times in a behaviour. A server crashes and restarts
//! (`Restart`, at most `max-restarts` times): it keeps `currentTerm`, `votedFor` and its log
//! (Figure 2's persistent state) and loses the rest (its commit index, votes, and as leader
//! its `nextIndex` and `matchIndex`).
//!
//! Liveness. An untimed model lets every follower time out at any moment, so two rules stand
//! in for the timing the thesis (§9.3) relies on, each chosen per check:
//! - `election-timeout = "timely"`: a server times out only while no server is leader or
//!   holds a majority of votes, and only if it has not granted its vote to another server in
//!   its current term. That is §5.6's requirement broadcastTime ≪ electionTimeout: a live
//!   leader's heartbeats reach its followers, and an election that has its votes completes,
//!   before a timer fires; granting a vote restarts a follower's timer (Figure 2).
//!   (`any-time`, the default, lets a server time out in any state; the safety checks use
//!   it.)
//! - `fairness = "randomized-timeouts"`: besides the weak fairness of every protocol step, the
//!   class *uncontested election* is strongly fair: if, again and again, some server could
//!   time out and run its whole election — `RequestVote` to every other server, their
//!   answers, `BecomeLeader` — before any other server times out, then eventually one does.
//!   That is what randomized timeouts buy with probability 1 (§9.3: one server's timer fires
//!   well before the others'). The class is one action, `UncontestedElection`, the
//!   composition of those steps: every state it reaches is reached by them, so it adds edges
//!   and no state, and safety verdicts do not depend on it. Under `fairness = "weak"` split
//!   votes can repeat forever, and `EventuallyLeader` fails with that lasso.
//!
//! Symmetry: servers are interchangeable; [`RaftModel::representative`] renames them (terms,
//! votes, logs, messages and the histories the properties read, rewritten with the
//! permutation) to a canonical order.
//!
//! History variables, read by the properties and by nothing else: the servers that became
//! leader in each term (`ElectionSafety`, `LeaderChanged`); per log index the first entry any
//! server committed there and the term in which it did (`LeaderCompleteness`,
//! `StateMachineSafety`); and what the last step did that a property is about (a leader's log
//! rewritten, a commit index lowered, a follower's entry replaced).
//!
//! Out of scope: membership changes, log compaction and snapshots, read-only queries and
//! leases, `PreVote`, `CheckQuorum`, batching more than one entry per message.
//!
//! Bug variants, each one guard removed:
//! - `figure8-commit`: `AdvanceCommitIndex` commits the highest index a majority has,
//!   without checking that its entry is of the leader's term (Figure 8).
//! - `no-up-to-date-check`: a voter grants its vote without comparing logs (§5.4.1).
//! - `forget-voted-for`: a restarted server forgets whom it voted for in its term.
//! - `truncate-without-conflict`: a follower deletes every entry after `prevLogIndex`
//!   before appending, though they match the leader's: a stale or duplicated
//!   `AppendEntries` erases entries a newer one appended, and the leader has counted them.

use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

use crate::{
    Arrow, Class, Fairness, Kind, Matrix, ModelError, Parts, Prop, Protocol, Variant, Violation,
    decode_part, encode_part,
};

/// Servers in a cluster, at most.
pub const MAX_SERVERS: usize = 5;
/// Client values, so entries in a log, at most.
pub const MAX_VALUES: usize = 4;
/// Terms a state may span, at most.
pub const MAX_TERMS: usize = 8;
/// Messages in flight, at most.
pub const MAX_IN_FLIGHT: usize = 8;

/// A vector of at most `N` elements stored inline and `Copy`, so that a state is copied
/// with one `memcpy` (the checker copies millions). Equality, order, hashing and serde see
/// only the elements in use: it serializes as a sequence.
#[derive(Clone, Copy)]
pub struct InlineVec<T: Copy + Default, const N: usize> {
    len: u8,
    items: [T; N],
}

impl<T: Copy + Default, const N: usize> InlineVec<T, N> {
    pub fn new() -> Self {
        InlineVec {
            len: 0,
            items: [T::default(); N],
        }
    }

    pub fn push(&mut self, x: T) {
        self.items[self.len as usize] = x;
        self.len += 1;
    }

    pub fn insert(&mut self, at: usize, x: T) {
        let len = self.len as usize;
        self.items.copy_within(at..len, at + 1);
        self.items[at] = x;
        self.len += 1;
    }

    pub fn remove(&mut self, at: usize) -> T {
        let len = self.len as usize;
        let x = self.items[at];
        self.items.copy_within(at + 1..len, at);
        self.len -= 1;
        x
    }

    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len as u8);
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn is_full(&self) -> bool {
        self.len as usize == N
    }

    /// Drops the first `k` elements.
    pub fn drop_front(&mut self, k: usize) {
        let k = k.min(self.len as usize);
        self.items.copy_within(k..self.len as usize, 0);
        self.len -= k as u8;
    }
}

impl<T: Copy + Default, const N: usize> Default for InlineVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default, const N: usize> std::ops::Deref for InlineVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..self.len as usize]
    }
}

impl<T: Copy + Default, const N: usize> std::ops::DerefMut for InlineVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..self.len as usize]
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for InlineVec<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = Self::new();
        for x in iter {
            v.push(x);
        }
        v
    }
}

impl<'a, T: Copy + Default, const N: usize> IntoIterator for &'a InlineVec<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: Copy + Default, const N: usize> IntoIterator for &'a mut InlineVec<T, N> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for InlineVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
impl<T: Copy + Default + Eq, const N: usize> Eq for InlineVec<T, N> {}
impl<T: Copy + Default + PartialOrd, const N: usize> PartialOrd for InlineVec<T, N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}
impl<T: Copy + Default + Ord, const N: usize> Ord for InlineVec<T, N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}
impl<T: Copy + Default + std::hash::Hash, const N: usize> std::hash::Hash for InlineVec<T, N> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (**self).hash(h)
    }
}
impl<T: Copy + Default + std::fmt::Debug, const N: usize> std::fmt::Debug for InlineVec<T, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
impl<T: Copy + Default + Serialize, const N: usize> Serialize for InlineVec<T, N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}
impl<'de, T: Copy + Default + Deserialize<'de>, const N: usize> Deserialize<'de>
    for InlineVec<T, N>
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Copy + Default + Deserialize<'de>, const N: usize> serde::de::Visitor<'de>
            for Items<T, N>
        {
            type Value = InlineVec<T, N>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a sequence of at most {N} elements")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut v = InlineVec::new();
                while let Some(x) = seq.next_element()? {
                    if v.is_full() {
                        return Err(serde::de::Error::invalid_length(N + 1, &self));
                    }
                    v.push(x);
                }
                Ok(v)
            }
        }
        d.deserialize_seq(Items::<T, N>(std::marker::PhantomData))
    }
}

/// When a follower or candidate may time out and start an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElectionTimeout {
    /// In any state: an asynchronous network, where a timer may fire however recently the
    /// leader was heard from.
    AnyTime,
    /// Only while no server is leader or holds a majority of votes, and only a server that
    /// has not granted its vote to another in its current term: Raft's timing requirement
    /// (§5.6, broadcastTime ≪ electionTimeout), under which a live leader's heartbeats reach
    /// its followers, and an election runs to its end, before a timer fires; a server that
    /// grants its vote restarts its timer (Figure 2).
    Timely,
}

/// The fairness the liveness properties are checked under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElectionFairness {
    /// Every protocol step is weakly fair; nothing more.
    Weak,
    /// Also strongly fair: an election that runs with no other server timing out
    /// (`UncontestedElection`), what randomized election timeouts make happen eventually.
    RandomizedTimeouts,
}

/// Bounds and knobs of one Raft check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RaftConfig {
    /// Servers, 2..=[`MAX_SERVERS`].
    pub servers: u8,
    /// Terms a state may span (terms are renumbered from 1 after every step), 2..=[`MAX_TERMS`].
    pub terms: u8,
    /// Client values (so entries a log may hold), 0..=[`MAX_VALUES`].
    pub values: u8,
    /// Messages in flight at once, 1..=[`MAX_IN_FLIGHT`].
    pub max_in_flight: u8,
    /// `Restart`s in one behaviour.
    pub max_restarts: u8,
    /// `DropMessage`s in one behaviour.
    pub max_drops: u8,
    /// `DuplicateMessage`s in one behaviour.
    pub max_duplicates: u8,
    pub election_timeout: ElectionTimeout,
    pub fairness: ElectionFairness,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            servers: 3,
            terms: 3,
            values: 1,
            max_in_flight: 2,
            max_restarts: 0,
            max_drops: 0,
            max_duplicates: 0,
            election_timeout: ElectionTimeout::AnyTime,
            fairness: ElectionFairness::Weak,
        }
    }
}

/// A named deviation from Raft: each removes one guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// `AdvanceCommitIndex` does not check that the entry is of the leader's term.
    Figure8Commit,
    /// A voter does not check that the candidate's log is at least as up to date as its own.
    NoUpToDateCheck,
    /// `Restart` loses `votedFor`.
    ForgetVotedFor,
    /// A follower deletes the entries after `prevLogIndex` whether or not they conflict.
    TruncateWithoutConflict,
}

const VARIANTS: [(Variant, Option<Bug>); 5] = [
    (
        Variant {
            id: "correct",
            summary: "Raft as Figure 2 states it",
        },
        None,
    ),
    (
        Variant {
            id: "figure8-commit",
            summary: "a leader commits the highest index a majority has replicated, even an entry of an earlier term (Figure 8)",
        },
        Some(Bug::Figure8Commit),
    ),
    (
        Variant {
            id: "no-up-to-date-check",
            summary: "a server grants its vote without checking that the candidate's log is at least as up to date as its own (§5.4.1)",
        },
        Some(Bug::NoUpToDateCheck),
    ),
    (
        Variant {
            id: "forget-voted-for",
            summary: "a restarted server forgets whom it voted for in its current term",
        },
        Some(Bug::ForgetVotedFor),
    ),
    (
        Variant {
            id: "truncate-without-conflict",
            summary: "a follower deletes every entry after prevLogIndex before appending, even entries that match the leader's",
        },
        Some(Bug::TruncateWithoutConflict),
    ),
];

/// A server's role.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Role {
    #[default]
    Follower,
    Candidate,
    Leader,
}

/// A log entry: the term in which a leader appended it, and the client's value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Entry {
    pub term: u8,
    /// 1-based: v1, v2, …
    pub value: u8,
}

/// One server's state: Figure 2's persistent state (`term`, `voted_for`, `log`) and
/// volatile state.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Server {
    /// `currentTerm`.
    pub term: u8,
    pub role: Role,
    /// `votedFor` in `term`: a server index.
    pub voted_for: Option<u8>,
    /// `log[1..]`, index 1 first.
    pub log: InlineVec<Entry, MAX_VALUES>,
    /// `commitIndex`: entries 1..=commit are committed (0: none).
    pub commit: u8,
    /// As candidate, the servers that answered its `RequestVote` (bit per server; itself
    /// included); 0 otherwise.
    pub responded: u8,
    /// As candidate, the servers that granted it their vote (bit per server); 0 otherwise.
    pub granted: u8,
    /// As leader, `nextIndex[j]` per server; empty otherwise.
    pub next_index: InlineVec<u8, MAX_SERVERS>,
    /// As leader, `matchIndex[j]` per server; empty otherwise.
    pub match_index: InlineVec<u8, MAX_SERVERS>,
}

impl Server {
    fn last_term(&self) -> u8 {
        self.log.last().map_or(0, |e| e.term)
    }

    /// Loses the leader's and candidate's volatile state.
    fn become_follower(&mut self) {
        self.role = Role::Follower;
        self.responded = 0;
        self.granted = 0;
        self.next_index.clear();
        self.match_index.clear();
    }
}

/// A message, with the fields `raft.tla` gives it; `source` and `dest` are server indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Message {
    RequestVoteRequest {
        term: u8,
        last_log_term: u8,
        last_log_index: u8,
        source: u8,
        dest: u8,
    },
    RequestVoteResponse {
        term: u8,
        vote_granted: bool,
        source: u8,
        dest: u8,
    },
    AppendEntriesRequest {
        term: u8,
        prev_log_index: u8,
        prev_log_term: u8,
        /// At most one entry, as in `raft.tla`; `None` is a heartbeat.
        entry: Option<Entry>,
        commit_index: u8,
        source: u8,
        dest: u8,
    },
    AppendEntriesResponse {
        term: u8,
        success: bool,
        match_index: u8,
        source: u8,
        dest: u8,
    },
}

impl Default for Message {
    fn default() -> Self {
        Message::RequestVoteResponse {
            term: 0,
            vote_granted: false,
            source: 0,
            dest: 0,
        }
    }
}

impl Message {
    pub fn term(&self) -> u8 {
        match *self {
            Message::RequestVoteRequest { term, .. }
            | Message::RequestVoteResponse { term, .. }
            | Message::AppendEntriesRequest { term, .. }
            | Message::AppendEntriesResponse { term, .. } => term,
        }
    }

    pub fn source(&self) -> u8 {
        match *self {
            Message::RequestVoteRequest { source, .. }
            | Message::RequestVoteResponse { source, .. }
            | Message::AppendEntriesRequest { source, .. }
            | Message::AppendEntriesResponse { source, .. } => source,
        }
    }

    pub fn dest(&self) -> u8 {
        match *self {
            Message::RequestVoteRequest { dest, .. }
            | Message::RequestVoteResponse { dest, .. }
            | Message::AppendEntriesRequest { dest, .. }
            | Message::AppendEntriesResponse { dest, .. } => dest,
        }
    }

    /// Every term the message carries (a 0, "no entry", is not a term and is left out).
    pub fn terms_mut(&mut self) -> arrayvec::ArrayVec<&mut u8, 3> {
        let mut out = arrayvec::ArrayVec::new();
        match self {
            Message::RequestVoteRequest {
                term,
                last_log_term,
                ..
            } => {
                out.push(term);
                out.push(last_log_term);
            }
            Message::RequestVoteResponse { term, .. }
            | Message::AppendEntriesResponse { term, .. } => out.push(term),
            Message::AppendEntriesRequest {
                term,
                prev_log_term,
                entry,
                ..
            } => {
                out.push(term);
                out.push(prev_log_term);
                if let Some(e) = entry {
                    out.push(&mut e.term);
                }
            }
        }
        out.retain(|t| **t != 0);
        out
    }

    fn rename(&mut self, to: &[u8]) {
        match self {
            Message::RequestVoteRequest { source, dest, .. }
            | Message::RequestVoteResponse { source, dest, .. }
            | Message::AppendEntriesRequest { source, dest, .. }
            | Message::AppendEntriesResponse { source, dest, .. } => {
                *source = to[*source as usize];
                *dest = to[*dest as usize];
            }
        }
    }
}

/// The first entry committed at a log index, and the term in which it was (0: before every
/// term still present).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Committed {
    pub entry: Entry,
    pub term: u8,
    /// A different entry committed at the same index later (`StateMachineSafety` broken),
    /// and by which server.
    pub conflict: Option<(Entry, u8)>,
}

/// What the last step did that a property is about (bits of [`RaftState::last_step`]).
pub mod step {
    /// A follower replaced an entry of its log with a conflicting one.
    pub const OVERWROTE: u8 = 1;
    /// A leader's log lost or changed an entry while it stayed leader.
    pub const LEADER_REWROTE: u8 = 2;
    /// A server's commit index went down without a restart.
    pub const COMMIT_DECREASED: u8 = 4;
}

/// The state of the cluster and the network, with the history the properties read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RaftState {
    pub servers: InlineVec<Server, MAX_SERVERS>,
    /// The bag of messages in flight, each with its number of copies, in order.
    pub messages: InlineVec<(Message, u8), MAX_IN_FLIGHT>,
    pub restarts: u8,
    pub drops: u8,
    pub duplicates: u8,
    /// Per term (index 0 is term 1): the servers that became leader in it (bit per server).
    /// (Room for twice [`MAX_TERMS`]: a trace shows states with their absolute terms.)
    pub elected: InlineVec<u8, { 2 * MAX_TERMS }>,
    /// Per log index (index 0 is index 1): the first entry committed there.
    pub committed: InlineVec<Committed, MAX_VALUES>,
    /// What the last step did ([`step`]); the server it concerns.
    pub last_step: u8,
    pub last_server: u8,
}

impl RaftState {
    fn in_flight(&self) -> usize {
        self.messages.iter().map(|&(_, n)| n as usize).sum()
    }

    fn has_message(&self, m: &Message) -> bool {
        self.messages.binary_search_by(|(x, _)| x.cmp(m)).is_ok()
    }

    fn send(&mut self, m: Message) {
        match self.messages.binary_search_by(|(x, _)| x.cmp(&m)) {
            Ok(i) => self.messages[i].1 += 1,
            Err(i) => self.messages.insert(i, (m, 1)),
        }
    }

    /// Removes one copy of `m`; false if there is none.
    fn discard(&mut self, m: &Message) -> bool {
        match self.messages.binary_search_by(|(x, _)| x.cmp(m)) {
            Ok(i) => {
                if self.messages[i].1 == 1 {
                    self.messages.remove(i);
                } else {
                    self.messages[i].1 -= 1;
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Calls `f` on every term the state holds — each server's `currentTerm`, its log's
    /// entries, the messages' terms and, with `history`, the history's — never on a 0 ("no
    /// entry", which is not a term).
    fn each_term(&mut self, history: bool, mut f: impl FnMut(&mut u8)) {
        for srv in &mut self.servers {
            f(&mut srv.term);
            for e in &mut srv.log {
                f(&mut e.term);
            }
        }
        for (m, _) in &mut self.messages {
            for t in m.terms_mut() {
                f(t);
            }
        }
        if history {
            for c in &mut self.committed {
                let conflict = c.conflict.as_mut().map(|(e, _)| &mut e.term);
                for t in [Some(&mut c.term), Some(&mut c.entry.term), conflict]
                    .into_iter()
                    .flatten()
                {
                    if *t != 0 {
                        f(t);
                    }
                }
            }
        }
    }

    /// Whether some server is leader.
    pub fn has_leader(&self) -> bool {
        self.servers.iter().any(|s| s.role == Role::Leader)
    }

    /// Whether some server has committed an entry with value `value`.
    fn value_committed(&self, value: u8) -> bool {
        self.servers.iter().any(|s| {
            s.log
                .iter()
                .take(s.commit as usize)
                .any(|e| e.value == value)
        })
    }
}

/// A step of the model, named as in `raft.tla`. Server fields are indices (s1 is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// A follower's or candidate's election timer fires: a new term, a candidate voting for
    /// itself.
    Timeout {
        server: u8,
    },
    /// A candidate asks `to` for its vote.
    RequestVote {
        from: u8,
        to: u8,
    },
    /// A candidate with a majority of votes becomes leader.
    BecomeLeader {
        server: u8,
    },
    /// A leader appends a client's value.
    ClientRequest {
        server: u8,
        value: u8,
    },
    /// A leader sends `to` the entry at its `nextIndex` (or a heartbeat).
    AppendEntries {
        from: u8,
        to: u8,
    },
    /// A leader commits the highest index a majority has.
    AdvanceCommitIndex {
        server: u8,
    },
    HandleRequestVoteRequest {
        message: Message,
    },
    HandleRequestVoteResponse {
        message: Message,
    },
    HandleAppendEntriesRequest {
        message: Message,
    },
    HandleAppendEntriesResponse {
        message: Message,
    },
    /// A server crashes and restarts with its persistent state.
    Restart {
        server: u8,
    },
    DuplicateMessage {
        message: Message,
    },
    DropMessage {
        message: Message,
    },
    /// `Timeout` of `server`, its `RequestVote` to every other server, their
    /// `HandleRequestVoteRequest`s, its `HandleRequestVoteResponse`s and `BecomeLeader`, with
    /// no other step in between: an election that randomized timeouts let run alone. Only
    /// with `fairness = "randomized-timeouts"`.
    UncontestedElection {
        server: u8,
    },
}

/// The Raft model of one variant and configuration.
#[derive(Clone, Debug)]
pub struct RaftModel {
    variant: &'static str,
    bug: Option<Bug>,
    config: RaftConfig,
}

impl RaftModel {
    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    fn n(&self) -> usize {
        self.config.servers as usize
    }

    fn majority(&self, votes: u8) -> bool {
        2 * votes.count_ones() as usize > self.n()
    }

    /// Whether a server may time out now.
    fn may_time_out(&self, s: &RaftState, i: usize) -> bool {
        let srv = &s.servers[i];
        srv.role != Role::Leader
            && match self.config.election_timeout {
                ElectionTimeout::AnyTime => true,
                ElectionTimeout::Timely => {
                    !s.has_leader()
                        && !s
                            .servers
                            .iter()
                            .any(|c| c.role == Role::Candidate && self.majority(c.granted))
                        && srv.voted_for.is_none_or(|v| v as usize == i)
                }
            }
    }

    fn room(&self, s: &RaftState) -> bool {
        s.in_flight() < self.config.max_in_flight as usize
    }

    fn request_vote(&self, s: &RaftState, i: u8, j: u8) -> Option<Message> {
        let c = &s.servers[i as usize];
        (c.role == Role::Candidate && c.responded & (1 << j) == 0).then(|| {
            Message::RequestVoteRequest {
                term: c.term,
                last_log_term: c.last_term(),
                last_log_index: c.log.len() as u8,
                source: i,
                dest: j,
            }
        })
    }

    fn append_entries(&self, s: &RaftState, i: u8, j: u8) -> Option<Message> {
        let l = &s.servers[i as usize];
        if l.role != Role::Leader {
            return None;
        }
        let next = l.next_index[j as usize];
        let prev = next - 1;
        let entry = l.log.get(next as usize - 1).copied();
        let last = prev + u8::from(entry.is_some());
        Some(Message::AppendEntriesRequest {
            term: l.term,
            prev_log_index: prev,
            prev_log_term: if prev == 0 {
                0
            } else {
                l.log[prev as usize - 1].term
            },
            entry,
            commit_index: l.commit.min(last),
            source: i,
            dest: j,
        })
    }

    /// The index a leader may commit up to now, if above its commit index.
    fn commit_target(&self, s: &RaftState, i: usize) -> Option<u8> {
        let l = &s.servers[i];
        if l.role != Role::Leader {
            return None;
        }
        let agreed = (1..=l.log.len() as u8)
            .rev()
            .find(|&index| {
                let votes = (0..self.n())
                    .filter(|&j| j == i || l.match_index[j] >= index)
                    .count();
                2 * votes > self.n()
            })
            .unwrap_or(0);
        if agreed <= l.commit {
            return None;
        }
        if !self.has(Bug::Figure8Commit) && l.log[agreed as usize - 1].term != l.term {
            return None;
        }
        Some(agreed)
    }

    /// Records that server `i` committed its entries `from+1..=to` in its current term.
    fn record_commits(s: &mut RaftState, i: usize, from: u8, to: u8) {
        let srv = &s.servers[i];
        for index in from + 1..=to {
            let entry = srv.log[index as usize - 1];
            let k = index as usize - 1;
            if k < s.committed.len() {
                let c = &mut s.committed[k];
                if c.entry != entry && c.conflict.is_none() {
                    c.conflict = Some((entry, i as u8));
                }
            } else {
                debug_assert_eq!(k, s.committed.len(), "commits are recorded in order");
                s.committed.push(Committed {
                    entry,
                    term: srv.term,
                    conflict: None,
                });
            }
        }
    }

    /// Server `i` sees term `t` in a message: a newer term makes it a follower of it.
    fn update_term(s: &mut RaftState, i: usize, t: u8) {
        let srv = &mut s.servers[i];
        if t > srv.term {
            srv.term = t;
            srv.voted_for = None;
            srv.become_follower();
        }
    }

    /// Whether a voter may vote for a candidate whose log ends with this entry: the
    /// candidate's log is at least as up to date (§5.4.1), or the variant does not check.
    fn log_ok(&self, voter: &Server, last_log_term: u8, last_log_index: u8) -> bool {
        self.has(Bug::NoUpToDateCheck) || up_to_date(voter, last_log_term, last_log_index)
    }

    fn handle(&self, s: &mut RaftState, m: Message) {
        match m {
            Message::RequestVoteRequest {
                term,
                last_log_term,
                last_log_index,
                source,
                dest,
            } => {
                let j = dest as usize;
                Self::update_term(s, j, term);
                let v = &s.servers[j];
                let grant = term == v.term
                    && self.log_ok(v, last_log_term, last_log_index)
                    && v.voted_for.is_none_or(|x| x == source);
                if grant {
                    s.servers[j].voted_for = Some(source);
                }
                let term = s.servers[j].term;
                s.send(Message::RequestVoteResponse {
                    term,
                    vote_granted: grant,
                    source: dest,
                    dest: source,
                });
            }
            Message::RequestVoteResponse {
                term,
                vote_granted,
                source,
                dest,
            } => {
                let i = dest as usize;
                Self::update_term(s, i, term);
                let c = &mut s.servers[i];
                if term == c.term && c.role == Role::Candidate {
                    c.responded |= 1 << source;
                    if vote_granted {
                        c.granted |= 1 << source;
                    }
                }
            }
            Message::AppendEntriesRequest {
                term,
                prev_log_index,
                prev_log_term,
                entry,
                commit_index,
                source,
                dest,
            } => {
                let j = dest as usize;
                Self::update_term(s, j, term);
                let f = &mut s.servers[j];
                if term == f.term && f.role == Role::Candidate {
                    f.become_follower();
                }
                let prev = prev_log_index as usize;
                let log_ok =
                    prev == 0 || (prev <= f.log.len() && f.log[prev - 1].term == prev_log_term);
                if !(term == f.term && f.role == Role::Follower && log_ok) {
                    let r = Message::AppendEntriesResponse {
                        term: f.term,
                        success: false,
                        match_index: 0,
                        source: dest,
                        dest: source,
                    };
                    s.send(r);
                    return;
                }
                let last = prev + usize::from(entry.is_some());
                if self.has(Bug::TruncateWithoutConflict) {
                    if let (Some(have), Some(e)) = (f.log.get(prev), entry)
                        && have.term != e.term
                    {
                        s.last_step |= step::OVERWROTE;
                        s.last_server = dest;
                    }
                    let f = &mut s.servers[j];
                    f.log.truncate(prev);
                    if let Some(e) = entry {
                        f.log.push(e);
                    }
                } else if let Some(e) = entry {
                    match f.log.get(prev) {
                        Some(have) if have.term == e.term => {}
                        Some(_) => {
                            f.log.truncate(prev);
                            f.log.push(e);
                            s.last_step |= step::OVERWROTE;
                            s.last_server = dest;
                        }
                        None => f.log.push(e),
                    }
                }
                let f = &mut s.servers[j];
                let old = f.commit;
                if commit_index > f.commit {
                    f.commit = commit_index.min(last as u8);
                }
                let new = f.commit;
                let r = Message::AppendEntriesResponse {
                    term: f.term,
                    success: true,
                    match_index: last as u8,
                    source: dest,
                    dest: source,
                };
                if new > old {
                    Self::record_commits(s, j, old, new);
                } else if new < old {
                    s.last_step |= step::COMMIT_DECREASED;
                    s.last_server = dest;
                }
                s.send(r);
            }
            Message::AppendEntriesResponse {
                term,
                success,
                match_index,
                source,
                dest,
            } => {
                let i = dest as usize;
                Self::update_term(s, i, term);
                let l = &mut s.servers[i];
                if term == l.term && l.role == Role::Leader {
                    let j = source as usize;
                    if success {
                        l.match_index[j] = l.match_index[j].max(match_index);
                        l.next_index[j] = match_index + 1;
                    } else {
                        l.next_index[j] = l.next_index[j].saturating_sub(1).max(1);
                    }
                }
            }
        }
    }

    /// Renumbers terms so that the oldest term present is 1; the shift.
    fn renumber(s: &mut RaftState) -> u8 {
        let mut min = u8::MAX;
        s.each_term(false, |t| min = min.min(*t));
        if min <= 1 || min == u8::MAX {
            return 0;
        }
        let shift = min - 1;
        // A history term older than every term present becomes 0: "before them all".
        s.each_term(true, |t| *t = t.saturating_sub(shift));
        // Terms at or below the shift are gone from the state: their history is too.
        s.elected.drop_front(shift as usize);
        shift
    }

    fn max_term(s: &RaftState) -> u8 {
        s.servers.iter().map(|x| x.term).max().unwrap_or(0)
    }

    /// The state after `action`, without renumbering or bounds; `None` if not enabled.
    fn apply(&self, s: &RaftState, action: Action) -> Option<RaftState> {
        let mut t = *s;
        t.last_step = 0;
        t.last_server = 0;
        match action {
            Action::Timeout { server } => {
                let i = server as usize;
                if !self.may_time_out(s, i) {
                    return None;
                }
                let c = &mut t.servers[i];
                c.term += 1;
                c.role = Role::Candidate;
                c.voted_for = Some(server);
                c.responded = 1 << server;
                c.granted = 1 << server;
                c.next_index.clear();
                c.match_index.clear();
            }
            Action::RequestVote { from, to } => {
                let m = self.request_vote(s, from, to)?;
                if from == to || !self.room(s) || s.has_message(&m) {
                    return None;
                }
                t.send(m);
            }
            Action::BecomeLeader { server } => {
                let c = &mut t.servers[server as usize];
                if c.role != Role::Candidate || !self.majority(c.granted) {
                    return None;
                }
                c.role = Role::Leader;
                c.responded = 0;
                c.granted = 0;
                let next = c.log.len() as u8 + 1;
                c.next_index = (0..self.n()).map(|_| next).collect();
                c.match_index = (0..self.n()).map(|_| 0).collect();
                let term = c.term as usize;
                // (Always within room in the model's states, whose terms are at most
                // `terms`; a trace's absolute terms may go beyond.)
                if term <= 2 * MAX_TERMS {
                    while t.elected.len() < term {
                        t.elected.push(0);
                    }
                    t.elected[term - 1] |= 1 << server;
                }
            }
            Action::ClientRequest { server, value } => {
                let l = &mut t.servers[server as usize];
                if l.role != Role::Leader
                    || value == 0
                    || value > self.config.values
                    || l.log.iter().any(|e| e.value == value)
                    || l.log.is_full()
                {
                    return None;
                }
                let term = l.term;
                l.log.push(Entry { term, value });
            }
            Action::AppendEntries { from, to } => {
                let m = self.append_entries(s, from, to)?;
                if from == to || !self.room(s) || s.has_message(&m) {
                    return None;
                }
                t.send(m);
            }
            Action::AdvanceCommitIndex { server } => {
                let i = server as usize;
                let to = self.commit_target(s, i)?;
                let from = t.servers[i].commit;
                t.servers[i].commit = to;
                Self::record_commits(&mut t, i, from, to);
            }
            Action::HandleRequestVoteRequest { message: m }
            | Action::HandleRequestVoteResponse { message: m }
            | Action::HandleAppendEntriesRequest { message: m }
            | Action::HandleAppendEntriesResponse { message: m } => {
                let kind_ok = matches!(
                    (action, m),
                    (
                        Action::HandleRequestVoteRequest { .. },
                        Message::RequestVoteRequest { .. }
                    ) | (
                        Action::HandleRequestVoteResponse { .. },
                        Message::RequestVoteResponse { .. }
                    ) | (
                        Action::HandleAppendEntriesRequest { .. },
                        Message::AppendEntriesRequest { .. }
                    ) | (
                        Action::HandleAppendEntriesResponse { .. },
                        Message::AppendEntriesResponse { .. }
                    )
                );
                if !kind_ok || !t.discard(&m) {
                    return None;
                }
                self.handle(&mut t, m);
            }
            Action::Restart { server } => {
                if s.restarts >= self.config.max_restarts {
                    return None;
                }
                t.restarts += 1;
                let srv = &mut t.servers[server as usize];
                srv.become_follower();
                srv.commit = 0;
                if self.has(Bug::ForgetVotedFor) {
                    srv.voted_for = None;
                }
            }
            Action::DuplicateMessage { message } => {
                if s.duplicates >= self.config.max_duplicates
                    || !self.room(s)
                    || !s.has_message(&message)
                {
                    return None;
                }
                t.duplicates += 1;
                t.send(message);
            }
            Action::DropMessage { message } => {
                if s.drops >= self.config.max_drops || !t.discard(&message) {
                    return None;
                }
                t.drops += 1;
            }
            Action::UncontestedElection { server } => return self.uncontested(s, server),
        }
        // LeaderAppendOnly's history: a server that was leader before and after the step
        // (in the same term) kept every entry it had.
        for (i, (a, b)) in s.servers.iter().zip(&t.servers).enumerate() {
            if a.role == Role::Leader
                && b.role == Role::Leader
                && a.term == b.term
                && (b.log.len() < a.log.len() || b.log[..a.log.len()] != a.log[..])
            {
                t.last_step |= step::LEADER_REWROTE;
                t.last_server = i as u8;
            }
        }
        Some(t)
    }

    /// Renumbers; the state and how far its terms were renumbered down. (The bound on
    /// terms is [`Model::within_boundary`]'s: a `Timeout` past it is enabled, and its state
    /// out of bounds, so that fairness sees it enabled.)
    fn finish(&self, mut t: RaftState) -> Option<(RaftState, u8)> {
        let shift = Self::renumber(&mut t);
        Some((t, shift))
    }

    /// Whether the state is within the bound on terms.
    fn within_terms(&self, s: &RaftState) -> bool {
        Self::max_term(s) <= self.config.terms
    }

    /// The steps of an uncontested election of `server`, in order, each enabled where it is
    /// taken, ending with `BecomeLeader`; `None` if it cannot run or would not end so. (The
    /// bound on terms is not applied here: see [`RaftModel::uncontested`].)
    pub fn uncontested_steps(&self, s: &RaftState, server: u8) -> Option<Vec<Action>> {
        if self.config.fairness != ElectionFairness::RandomizedTimeouts {
            return None;
        }
        let mut steps = vec![Action::Timeout { server }];
        let mut cur = self.step(s, steps[0])?;
        for j in (0..self.config.servers).filter(|&j| j != server) {
            let mut take = |cur: &mut RaftState, a: Action| -> Option<()> {
                let next = self.step(cur, a)?;
                steps.push(a);
                *cur = next;
                Some(())
            };

            let before = cur;
            take(
                &mut cur,
                Action::RequestVote {
                    from: server,
                    to: j,
                },
            )?;
            let request = new_message(&before, &cur)?;
            let before = cur;
            take(
                &mut cur,
                Action::HandleRequestVoteRequest { message: request },
            )?;
            let response = new_message(&before, &cur)?;
            take(
                &mut cur,
                Action::HandleRequestVoteResponse { message: response },
            )?;
        }
        let b = Action::BecomeLeader { server };
        self.step(&cur, b)?;
        steps.push(b);
        Some(steps)
    }

    /// The state after an uncontested election; if one of its steps leaves the bound on
    /// terms, that step's state — out of bounds, so no state of the check, but enabled as
    /// far as fairness goes, as a `Timeout` past the bound is.
    fn uncontested(&self, s: &RaftState, server: u8) -> Option<RaftState> {
        let steps = self.uncontested_steps(s, server)?;
        let mut cur = *s;
        for a in steps {
            cur = self.step(&cur, a)?;
            if !self.within_terms(&cur) {
                return Some(cur);
            }
        }
        Some(cur)
    }

    /// One step: the action, renumbering, bounds.
    fn step(&self, s: &RaftState, action: Action) -> Option<RaftState> {
        self.step_with_shift(s, action).map(|(t, _)| t)
    }

    /// One step, and how far it renumbered terms down.
    fn step_with_shift(&self, s: &RaftState, action: Action) -> Option<(RaftState, u8)> {
        if let Action::UncontestedElection { server } = action {
            let before = s.servers[server as usize].term;
            let t = self.uncontested(s, server)?;
            // The winner's term went up by one; the rest is renumbering.
            let shift = (before + 1).saturating_sub(t.servers[server as usize].term);
            return Some((t, shift));
        }
        self.apply(s, action).and_then(|t| self.finish(t))
    }
}

impl Action {
    /// The message the action delivers, duplicates or drops, if any.
    fn message_mut(&mut self) -> Option<&mut Message> {
        match self {
            Action::HandleRequestVoteRequest { message }
            | Action::HandleRequestVoteResponse { message }
            | Action::HandleAppendEntriesRequest { message }
            | Action::HandleAppendEntriesResponse { message }
            | Action::DuplicateMessage { message }
            | Action::DropMessage { message } => Some(message),
            _ => None,
        }
    }
}

impl Model for RaftModel {
    type State = RaftState;
    type Action = Action;

    fn init_states(&self) -> Vec<RaftState> {
        let server = Server {
            term: 1,
            role: Role::Follower,
            voted_for: None,
            log: InlineVec::new(),
            commit: 0,
            responded: 0,
            granted: 0,
            next_index: InlineVec::new(),
            match_index: InlineVec::new(),
        };
        vec![RaftState {
            servers: (0..self.n()).map(|_| server).collect(),
            messages: InlineVec::new(),
            restarts: 0,
            drops: 0,
            duplicates: 0,
            elected: InlineVec::new(),
            committed: InlineVec::new(),
            last_step: 0,
            last_server: 0,
        }]
    }

    fn actions(&self, s: &RaftState, actions: &mut Vec<Action>) {
        let n = self.config.servers;
        for i in 0..n {
            let srv = &s.servers[i as usize];
            match srv.role {
                Role::Follower => actions.push(Action::Timeout { server: i }),
                Role::Candidate => {
                    actions.push(Action::Timeout { server: i });
                    for j in (0..n).filter(|&j| j != i) {
                        actions.push(Action::RequestVote { from: i, to: j });
                    }
                    actions.push(Action::BecomeLeader { server: i });
                }
                Role::Leader => {
                    for value in 1..=self.config.values {
                        actions.push(Action::ClientRequest { server: i, value });
                    }
                    for j in (0..n).filter(|&j| j != i) {
                        actions.push(Action::AppendEntries { from: i, to: j });
                    }
                    actions.push(Action::AdvanceCommitIndex { server: i });
                }
            }
        }
        for &(m, _) in &s.messages {
            actions.push(match m {
                Message::RequestVoteRequest { .. } => {
                    Action::HandleRequestVoteRequest { message: m }
                }
                Message::RequestVoteResponse { .. } => {
                    Action::HandleRequestVoteResponse { message: m }
                }
                Message::AppendEntriesRequest { .. } => {
                    Action::HandleAppendEntriesRequest { message: m }
                }
                Message::AppendEntriesResponse { .. } => {
                    Action::HandleAppendEntriesResponse { message: m }
                }
            });
        }
        if s.restarts < self.config.max_restarts {
            actions.extend((0..n).map(|server| Action::Restart { server }));
        }
        if s.duplicates < self.config.max_duplicates {
            actions.extend(
                s.messages
                    .iter()
                    .map(|&(message, _)| Action::DuplicateMessage { message }),
            );
        }
        if s.drops < self.config.max_drops {
            actions.extend(
                s.messages
                    .iter()
                    .map(|&(message, _)| Action::DropMessage { message }),
            );
        }
        if self.config.fairness == ElectionFairness::RandomizedTimeouts {
            actions.extend((0..n).map(|server| Action::UncontestedElection { server }));
        }
    }

    fn next_state(&self, s: &RaftState, action: Action) -> Option<RaftState> {
        self.step(s, action)
    }

    fn within_boundary(&self, s: &RaftState) -> bool {
        self.within_terms(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::stateright_properties(Self::props())
    }
}

// ---------------------------------------------------------------------------------------
// Properties

/// Figure 3: at most one leader can be elected in a given term.
fn election_safety(_: &RaftModel, s: &RaftState) -> bool {
    s.elected.iter().all(|b| b.count_ones() <= 1)
}

/// Figure 3: a leader never overwrites or deletes entries in its log; it only appends.
fn leader_append_only(_: &RaftModel, s: &RaftState) -> bool {
    s.last_step & step::LEADER_REWROTE == 0
}

/// Figure 3: if two logs contain an entry with the same index and term, the logs are
/// identical in all entries up through that index.
fn log_matching(_: &RaftModel, s: &RaftState) -> bool {
    log_mismatch(s).is_none()
}

/// Two servers and an index where their logs share the entry's term but differ before it.
fn log_mismatch(s: &RaftState) -> Option<(usize, usize, usize)> {
    for (i, a) in s.servers.iter().enumerate() {
        for (j, b) in s.servers.iter().enumerate().skip(i + 1) {
            let common = a.log.len().min(b.log.len());
            for k in (0..common).rev() {
                if a.log[k].term == b.log[k].term {
                    if a.log[..=k] != b.log[..=k] {
                        return Some((i, j, k + 1));
                    }
                    break;
                }
            }
        }
    }
    None
}

/// Figure 3: if a log entry is committed in a given term, that entry is present in the logs
/// of the leaders of all higher-numbered terms.
fn leader_completeness(_: &RaftModel, s: &RaftState) -> bool {
    incomplete_leader(s).is_none()
}

/// A leader, and an index committed in an earlier term whose entry its log lacks.
fn incomplete_leader(s: &RaftState) -> Option<(usize, usize)> {
    for (i, l) in s.servers.iter().enumerate() {
        if l.role != Role::Leader {
            continue;
        }
        for (k, c) in s.committed.iter().enumerate() {
            if c.term < l.term && l.log.get(k) != Some(&c.entry) {
                return Some((i, k + 1));
            }
        }
    }
    None
}

/// Figure 3: if a server has applied a log entry at a given index to its state machine, no
/// other server will ever apply a different log entry for the same index.
fn state_machine_safety(_: &RaftModel, s: &RaftState) -> bool {
    s.committed.iter().all(|c| c.conflict.is_none())
}

/// A server's commit index never goes down, but for a restart (it is volatile state).
fn commit_index_never_decreases(_: &RaftModel, s: &RaftState) -> bool {
    s.last_step & step::COMMIT_DECREASED == 0
}

fn leader_elected(_: &RaftModel, s: &RaftState) -> bool {
    s.has_leader()
}

fn entry_committed(_: &RaftModel, s: &RaftState) -> bool {
    !s.committed.is_empty()
}

/// A server is leader in a later term than the one in which an entry was committed.
fn leader_changed(_: &RaftModel, s: &RaftState) -> bool {
    s.servers
        .iter()
        .any(|l| l.role == Role::Leader && s.committed.iter().any(|c| c.term < l.term))
}

fn entry_overwritten(_: &RaftModel, s: &RaftState) -> bool {
    s.last_step & step::OVERWROTE != 0
}

fn every_value_committed(m: &RaftModel, s: &RaftState) -> bool {
    (1..=m.config.values).all(|v| s.value_committed(v))
}

impl Protocol for RaftModel {
    const ID: &'static str = "raft";
    type Config = RaftConfig;
    /// Interleavings only: timers are `Timeout`s, whenever they fire.
    const TIMED: bool = false;
    const SYMMETRIC: bool = true;

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

    fn new(variant: &str, config: RaftConfig) -> Result<Self, ModelError> {
        let (v, bug) = crate::find_variant(Self::ID, &VARIANTS, variant)?;
        let c = &config;
        let fail = |why: String| Err(ModelError::BadConfig(why));
        if c.servers < 2 || usize::from(c.servers) > MAX_SERVERS {
            return fail(format!("servers must be 2..={MAX_SERVERS}"));
        }
        if c.terms < 2 || usize::from(c.terms) > MAX_TERMS {
            return fail(format!("terms must be 2..={MAX_TERMS}"));
        }
        if usize::from(c.values) > MAX_VALUES {
            return fail(format!("values must be 0..={MAX_VALUES}"));
        }
        if c.max_in_flight == 0 || usize::from(c.max_in_flight) > MAX_IN_FLIGHT {
            return fail(format!("max-in-flight must be 1..={MAX_IN_FLIGHT}"));
        }
        Ok(RaftModel {
            variant: v.id,
            bug,
            config,
        })
    }

    fn variant(&self) -> &'static str {
        self.variant
    }

    fn config(&self) -> &RaftConfig {
        &self.config
    }

    fn props() -> Vec<Prop<Self>> {
        let p = |name, kind, doc, condition| Prop {
            name,
            kind,
            doc,
            condition,
            premise: None,
        };
        vec![
            p(
                "ElectionSafety",
                Kind::Always,
                "No term ever has two leaders: at most one server is elected in a given term (Figure 3).",
                election_safety,
            ),
            p(
                "LeaderAppendOnly",
                Kind::Always,
                "A leader never overwrites or deletes an entry of its own log; it only appends (Figure 3).",
                leader_append_only,
            ),
            p(
                "LogMatching",
                Kind::Always,
                "Two logs with an entry of the same term at the same index agree on every entry up to that index (Figure 3).",
                log_matching,
            ),
            p(
                "LeaderCompleteness",
                Kind::Always,
                "An entry committed in some term is in the log of every leader of every later term (Figure 3).",
                leader_completeness,
            ),
            p(
                "StateMachineSafety",
                Kind::Always,
                "Once a server has applied an entry at some index, no server ever applies a different entry at that index (Figure 3).",
                state_machine_safety,
            ),
            p(
                "CommitIndexNeverDecreases",
                Kind::Always,
                "No server's commit index ever goes down, except by a restart (commitIndex is volatile state).",
                commit_index_never_decreases,
            ),
            p(
                "EventuallyLeader",
                Kind::Eventually,
                "Some server is eventually elected leader.",
                leader_elected,
            ),
            p(
                "LeaderInfinitelyOften",
                Kind::AlwaysEventually,
                "Always, eventually some server is leader again: however often leaders are deposed, the cluster keeps electing one ([]<>).",
                leader_elected,
            ),
            p(
                "EventuallyStableLeader",
                Kind::EventuallyAlways,
                "Eventually some server is leader and stays leader forever (<>[]).",
                leader_elected,
            ),
            p(
                "SubmittedValueEventuallyCommitted",
                Kind::Eventually,
                "Every value the client submits is eventually committed (the client retries with each new leader).",
                every_value_committed,
            ),
            p(
                "LeaderElected",
                Kind::Sometimes,
                "A server is elected leader (so ElectionSafety is not vacuous).",
                leader_elected,
            ),
            p(
                "EntryCommitted",
                Kind::Sometimes,
                "A leader commits an entry (so StateMachineSafety, LeaderAppendOnly and CommitIndexNeverDecreases are not vacuous).",
                entry_committed,
            ),
            p(
                "LeaderChanged",
                Kind::Sometimes,
                "A server is leader in a later term than one in which an entry was committed (so LeaderCompleteness is not vacuous).",
                leader_changed,
            ),
            p(
                "EntryOverwritten",
                Kind::Sometimes,
                "A follower's entry is replaced by a conflicting one from a leader of a later term (so LogMatching is not vacuous).",
                entry_overwritten,
            ),
        ]
    }

    /// Per server: its timer, becoming leader, a client's request to it, its commits, its
    /// messages to each other server (`RequestVote` or `AppendEntries`), its handling of the
    /// messages to it — all weakly fair; its restarts — unfair. Duplication and loss are
    /// unfair. An uncontested election is strongly fair under `randomized-timeouts`, unfair
    /// otherwise (and not taken: it exists only under that fairness).
    fn classes(&self) -> Vec<Class> {
        let n = self.config.servers;
        let mut c = Vec::new();
        let class = |name: String, fairness| Class { name, fairness };
        for i in 0..n {
            let s = name(i);
            c.push(class(format!("{s}'s election timer"), Fairness::Weak));
            c.push(class(format!("{s} becoming leader"), Fairness::Weak));
            c.push(class(
                format!("the client's requests to {s}"),
                Fairness::Weak,
            ));
            c.push(class(format!("{s}'s commits"), Fairness::Weak));
            c.push(class(format!("{s}'s restarts"), Fairness::Unfair));
        }
        for i in 0..n {
            for j in (0..n).filter(|&j| j != i) {
                c.push(class(
                    format!("{}'s messages to {}", name(i), name(j)),
                    Fairness::Weak,
                ));
            }
        }
        for j in 0..n {
            c.push(class(format!("deliveries to {}", name(j)), Fairness::Weak));
        }
        c.push(class("message duplication".into(), Fairness::Unfair));
        c.push(class("message loss".into(), Fairness::Unfair));
        c.push(class(
            "uncontested elections".into(),
            match self.config.fairness {
                ElectionFairness::Weak => Fairness::Unfair,
                ElectionFairness::RandomizedTimeouts => Fairness::Strong,
            },
        ));
        c
    }

    fn class_of(&self, action: &Action) -> usize {
        let n = self.config.servers as usize;
        let pair = |i: u8, j: u8| {
            let (i, j) = (i as usize, j as usize);
            5 * n + i * (n - 1) + if j < i { j } else { j - 1 }
        };
        let deliveries = 5 * n + n * (n - 1);
        match *action {
            Action::Timeout { server } => 5 * server as usize,
            Action::BecomeLeader { server } => 5 * server as usize + 1,
            Action::ClientRequest { server, .. } => 5 * server as usize + 2,
            Action::AdvanceCommitIndex { server } => 5 * server as usize + 3,
            Action::Restart { server } => 5 * server as usize + 4,
            Action::RequestVote { from, to } | Action::AppendEntries { from, to } => pair(from, to),
            Action::HandleRequestVoteRequest { message }
            | Action::HandleRequestVoteResponse { message }
            | Action::HandleAppendEntriesRequest { message }
            | Action::HandleAppendEntriesResponse { message } => {
                deliveries + message.dest() as usize
            }
            Action::DuplicateMessage { .. } => deliveries + n,
            Action::DropMessage { .. } => deliveries + n + 1,
            Action::UncontestedElection { .. } => deliveries + n + 2,
        }
    }

    fn representative(s: &RaftState) -> RaftState {
        representative(s)
    }

    /// One part per server (a server's state recurs across millions of states), then the
    /// network, then the counters and the history variables.
    fn parts(&self) -> Option<Parts<RaftState>> {
        Some(Parts {
            count: self.n() + 2,
            encode: |s, i, out| {
                let n = s.servers.len();
                if i < n {
                    encode_part(&s.servers[i], out);
                } else if i == n {
                    encode_part(&s.messages, out);
                } else {
                    encode_part(
                        &(
                            s.restarts,
                            s.drops,
                            s.duplicates,
                            &s.elected,
                            &s.committed,
                            s.last_step,
                            s.last_server,
                        ),
                        out,
                    );
                }
            },
            decode: |parts| {
                let n = parts.len() - 2;
                let (restarts, drops, duplicates, elected, committed, last_step, last_server) =
                    decode_part(parts[n + 1]);
                RaftState {
                    servers: parts[..n].iter().map(|p| decode_part(p)).collect(),
                    messages: decode_part(parts[n]),
                    restarts,
                    drops,
                    duplicates,
                    elected,
                    committed,
                    last_step,
                    last_server,
                }
            },
        })
    }

    fn fields(&self, s: &RaftState) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, srv) in s.servers.iter().enumerate() {
            let me = name(i as u8);
            out.push((format!("{me} currentTerm"), srv.term.to_string()));
            out.push((format!("{me} state"), role(srv.role).to_string()));
            out.push((
                format!("{me} votedFor"),
                srv.voted_for.map_or("nobody".to_string(), name),
            ));
            out.push((format!("{me} log"), log_text(self, &srv.log)));
            out.push((format!("{me} commitIndex"), srv.commit.to_string()));
            if srv.role == Role::Candidate {
                out.push((format!("{me} votesGranted"), set_text(srv.granted)));
            } else {
                out.push((format!("{me} votesGranted"), "—".to_string()));
            }
            if srv.role == Role::Leader {
                out.push((format!("{me} nextIndex"), index_text(&srv.next_index, i)));
                out.push((format!("{me} matchIndex"), index_text(&srv.match_index, i)));
            } else {
                out.push((format!("{me} nextIndex"), "—".to_string()));
                out.push((format!("{me} matchIndex"), "—".to_string()));
            }
        }
        out.push((
            "messages".to_string(),
            if s.messages.is_empty() {
                "none".to_string()
            } else {
                s.messages
                    .iter()
                    .map(|&(m, k)| {
                        if k == 1 {
                            message_text(self, &m)
                        } else {
                            format!("{k} × {}", message_text(self, &m))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ));
        out.push((
            "committed".to_string(),
            if s.committed.is_empty() {
                "nothing".to_string()
            } else {
                s.committed
                    .iter()
                    .enumerate()
                    .map(|(k, c)| {
                        let mut t = format!(
                            "index {}: {} (in term {})",
                            k + 1,
                            entry_text(self, c.entry),
                            c.term
                        );
                        if let Some((e, by)) = c.conflict {
                            t += &format!(", and {} by {}", entry_text(self, e), name(by));
                        }
                        t
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ));
        out.push(("restarts".to_string(), s.restarts.to_string()));
        out.push(("drops".to_string(), s.drops.to_string()));
        out.push(("duplicates".to_string(), s.duplicates.to_string()));
        out
    }

    fn describe(&self, s: &RaftState, action: &Action) -> String {
        // Without renumbering: `s` may be a trace's state with absolute terms.
        let after = match *action {
            Action::UncontestedElection { .. } => None,
            a => self.apply(s, a),
        };

        match *action {
            Action::Timeout { server } => format!(
                "{} times out: term {}, candidate, votes for itself",
                name(server),
                s.servers[server as usize].term + 1
            ),
            Action::RequestVote { from, to } => format!(
                "{} asks {} for its vote in term {}",
                name(from),
                name(to),
                s.servers[from as usize].term
            ),
            Action::BecomeLeader { server } => format!(
                "{} becomes leader of term {} with votes from {}",
                name(server),
                s.servers[server as usize].term,
                set_text(s.servers[server as usize].granted)
            ),
            Action::ClientRequest { server, value } => {
                let l = &s.servers[server as usize];
                format!(
                    "the client submits {} to {}, which appends it at index {} (term {})",
                    value_name(value),
                    name(server),
                    l.log.len() + 1,
                    l.term
                )
            }
            Action::AppendEntries { from, to } => match self.append_entries(s, from, to) {
                Some(m) => format!("{} sends {}", name(from), message_text(self, &m)),
                None => format!("{} sends AppendEntries to {}", name(from), name(to)),
            },
            Action::AdvanceCommitIndex { server } => {
                let l = &s.servers[server as usize];
                let to = self.commit_target(s, server as usize).unwrap_or(l.commit);
                let of_term = l
                    .log
                    .get((to as usize).wrapping_sub(1))
                    .map_or(0, |e| e.term);
                let why = if of_term != l.term {
                    format!(
                        " by counting replicas, though that entry is of term {of_term}, not its own term {}",
                        l.term
                    )
                } else {
                    " (a majority has it)".to_string()
                };
                format!("{} commits up to index {to}{why}", name(server))
            }
            Action::HandleRequestVoteRequest { message: m } => {
                // The answer it sends (a repeated request is granted again).
                let granted = after
                    .as_ref()
                    .and_then(|t| new_message(s, t))
                    .is_some_and(|r| {
                        matches!(
                            r,
                            Message::RequestVoteResponse {
                                vote_granted: true,
                                ..
                            }
                        )
                    });
                let v = &s.servers[m.dest() as usize];
                let Message::RequestVoteRequest {
                    last_log_term,
                    last_log_index,
                    ..
                } = m
                else {
                    unreachable!()
                };
                let why = if granted {
                    if !up_to_date(v, last_log_term, last_log_index) {
                        ", without comparing logs: its own log is more up to date".to_string()
                    } else {
                        String::new()
                    }
                } else if m.term() < v.term {
                    format!(": its term {} is newer", v.term)
                } else if !self.log_ok(v, last_log_term, last_log_index) {
                    ": its own log is more up to date".to_string()
                } else {
                    format!(
                        ": it already voted for {} in term {}",
                        v.voted_for.map_or("another".to_string(), name),
                        m.term()
                    )
                };
                format!(
                    "{} {} {} its vote in term {}{why}",
                    name(m.dest()),
                    if granted { "grants" } else { "refuses" },
                    name(m.source()),
                    m.term()
                )
            }
            Action::HandleRequestVoteResponse { message: m } => {
                let Message::RequestVoteResponse { vote_granted, .. } = m else {
                    unreachable!()
                };
                format!(
                    "{} learns that {} {} its vote in term {}",
                    name(m.dest()),
                    name(m.source()),
                    if vote_granted { "granted" } else { "refused" },
                    m.term()
                )
            }
            Action::HandleAppendEntriesRequest { message: m } => {
                let f = &s.servers[m.dest() as usize];
                let Message::AppendEntriesRequest {
                    prev_log_index,
                    entry,
                    ..
                } = m
                else {
                    unreachable!()
                };
                let verdict = match &after {
                    Some(t) => match t.messages.iter().find(|(r, _)| {
                        matches!(r, Message::AppendEntriesResponse { source, .. } if *source == m.dest())
                            && !s.has_message(r)
                    }) {
                        Some((Message::AppendEntriesResponse { success: true, .. }, _)) => {
                            let g = &t.servers[m.dest() as usize];
                            let lost = f.log.len() > g.log.len()
                                || f.log.iter().zip(&g.log).any(|(a, b)| a != b);
                            match (entry, lost) {
                                (_, true) => format!(
                                    "accepts: its log {} becomes {}",
                                    log_text(self, &f.log),
                                    log_text(self, &g.log)
                                ),
                                (Some(_), false) if g.log.len() > f.log.len() => {
                                    format!("accepts: appends at index {}", prev_log_index + 1)
                                }
                                (Some(_), false) => "accepts: it already has that entry".to_string(),
                                (None, _) => "accepts".to_string(),
                            }
                        }
                        _ if m.term() < f.term => format!("rejects: its term {} is newer", f.term),
                        _ => format!(
                            "rejects: its log has no entry of term {} at index {}",
                            match m {
                                Message::AppendEntriesRequest { prev_log_term, .. } => prev_log_term,
                                _ => 0,
                            },
                            prev_log_index
                        ),
                    },
                    None => String::new(),
                };
                format!(
                    "{} receives {} and {verdict}",
                    name(m.dest()),
                    message_text(self, &m)
                )
            }
            Action::HandleAppendEntriesResponse { message: m } => {
                format!("{} receives {}", name(m.dest()), message_text(self, &m))
            }
            Action::Restart { server } => format!(
                "{} crashes and restarts: it keeps its term, vote and log{}",
                name(server),
                if self.has(Bug::ForgetVotedFor) {
                    ", but forgets whom it voted for"
                } else {
                    ""
                }
            ),
            Action::DuplicateMessage { message } => {
                format!("the network duplicates {}", message_text(self, &message))
            }
            Action::DropMessage { message } => {
                format!("the network loses {}", message_text(self, &message))
            }
            Action::UncontestedElection { server } => format!(
                "{} times out and wins term {} before any other server times out",
                name(server),
                s.servers[server as usize].term + 1
            ),
        }
    }

    fn participants(&self) -> Vec<String> {
        (0..self.config.servers).map(name).collect()
    }

    /// Each state and action with the terms they had before renumbering: every term plus
    /// the sum of the shifts of the steps so far (the trace reads as a run with terms 1, 2,
    /// 3, …).
    fn display_path(
        &self,
        init: &RaftState,
        steps: &[(Action, RaftState)],
    ) -> crate::DisplayPath<RaftState, Action> {
        let mut out = Vec::with_capacity(steps.len());
        let mut prev = *init;
        let mut offset = 0u8;
        for &(a, s) in steps {
            let action = shifted_action(a, offset);
            offset = offset.saturating_add(self.step_with_shift(&prev, a).map_or(0, |(_, k)| k));
            out.push((action, shifted(&s, offset)));
            prev = s;
        }
        (*init, out)
    }

    /// The log matrix: per server its term, role, vote, and log (terms of its entries, one
    /// column per index, `*` on committed ones), as the paper's figures draw them.
    fn matrix(&self, s: &RaftState) -> Option<Matrix> {
        let width = s
            .servers
            .iter()
            .map(|x| x.log.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut columns: Vec<String> = ["server", "currentTerm", "state", "votedFor"]
            .iter()
            .map(|c| c.to_string())
            .collect();
        columns.extend((1..=width).map(|i| i.to_string()));
        columns.push("commitIndex".to_string());
        let rows = s
            .servers
            .iter()
            .enumerate()
            .map(|(i, srv)| {
                let mut row = vec![
                    name(i as u8),
                    srv.term.to_string(),
                    role(srv.role).to_string(),
                    srv.voted_for.map_or("—".to_string(), name),
                ];
                row.extend((0..width).map(|k| match srv.log.get(k) {
                    Some(&e) if k < srv.commit as usize => format!("{}*", cell(self, e)),
                    Some(&e) => cell(self, e),
                    None => String::new(),
                }));
                row.push(srv.commit.to_string());
                row
            })
            .collect();
        let covers = (0..self.config.servers)
            .flat_map(|i| {
                let me = name(i);
                ["currentTerm", "state", "votedFor", "log", "commitIndex"]
                    .map(|f| format!("{me} {f}"))
            })
            .collect();
        Some(Matrix {
            columns,
            rows,
            legend: format!(
                "Columns 1, 2, … are log indices; a cell is the term of the entry there{}, `*` when that server has committed it.",
                if self.config.values > 1 {
                    " and the letter of its value (a for v1)"
                } else {
                    ""
                }
            ),
            covers,
        })
    }

    fn arrows(&self, _: &RaftState, action: &Action, n: &RaftState) -> Vec<Arrow> {
        let note = |i: u8, text: String| Arrow::note([name(i)], text);
        match *action {
            Action::Timeout { server } => vec![note(
                server,
                format!(
                    "timeout: candidate, term {}",
                    n.servers[server as usize].term
                ),
            )],
            Action::BecomeLeader { server } => vec![note(
                server,
                format!("leader of term {}", n.servers[server as usize].term),
            )],
            Action::ClientRequest { server, value } => vec![note(
                server,
                format!(
                    "client: {} appended at {}",
                    value_name(value),
                    n.servers[server as usize].log.len()
                ),
            )],
            Action::AdvanceCommitIndex { server } => vec![note(
                server,
                format!("commitIndex = {}", n.servers[server as usize].commit),
            )],
            Action::Restart { server } => vec![note(server, "crash, restart".to_string())],
            Action::RequestVote { .. } | Action::AppendEntries { .. } => Vec::new(),
            Action::HandleRequestVoteRequest { message: m }
            | Action::HandleAppendEntriesRequest { message: m } => {
                vec![Arrow::call(
                    name(m.source()),
                    name(m.dest()),
                    arrow_label(self, &m),
                )]
            }
            Action::HandleRequestVoteResponse { message: m }
            | Action::HandleAppendEntriesResponse { message: m } => {
                vec![Arrow::reply(
                    name(m.source()),
                    name(m.dest()),
                    arrow_label(self, &m),
                )]
            }
            Action::DuplicateMessage { message } => vec![Arrow::note(
                [name(message.source()), name(message.dest())],
                format!("network duplicates {}", arrow_label(self, &message)),
            )],
            Action::DropMessage { message } => vec![Arrow::note(
                [name(message.source()), name(message.dest())],
                format!("network loses {}", arrow_label(self, &message)),
            )],
            Action::UncontestedElection { server } => {
                vec![note(
                    server,
                    format!(
                        "uncontested election: leader of term {}",
                        n.servers[server as usize].term
                    ),
                )]
            }
        }
    }

    fn explain(&self, name_: &str, s: &RaftState) -> String {
        match name_ {
            "ElectionSafety" => {
                let (t, who) = two_leaders(s).unwrap_or((0, 0));
                format!(
                    "{} were both elected leader of term {}{}.",
                    set_text(who),
                    t,
                    if self.has(Bug::ForgetVotedFor) {
                        ": a server voted for one, restarted, forgot that vote and voted for the other in the same term"
                    } else {
                        ""
                    }
                )
            }
            "LeaderCompleteness" => {
                let (l, k) = incomplete_leader(s).unwrap_or((0, 1));
                let c = s.committed[k - 1];
                let why = match self.bug {
                    Some(Bug::Figure8Commit) => " A leader counted replicas of an entry from an earlier term and committed it; a server whose log ends in a later term, without that entry, then won an election, as in Figure 8 of the paper.",
                    Some(Bug::NoUpToDateCheck) => " A voter granted its vote without comparing logs, to a candidate that lacks the entry.",
                    Some(Bug::TruncateWithoutConflict) => " A follower that had counted toward the commit deleted the entry when a stale AppendEntries arrived, and then voted for a candidate without it.",
                    _ => "",
                };
                format!(
                    "{} is leader of term {} but its log lacks {} at index {k}, committed in term {}.{why}",
                    name(l as u8),
                    s.servers[l].term,
                    entry_text(self, c.entry),
                    c.term
                )
            }
            "StateMachineSafety" => {
                let (k, c) = s
                    .committed
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.conflict.is_some())
                    .map(|(k, c)| (k + 1, *c))
                    .unwrap_or((1, Committed::default()));
                let (e, by) = c.conflict.unwrap_or((c.entry, 0));
                format!(
                    "index {k} was committed with {} and then, by {}, with {}: two servers apply different entries at one index.",
                    entry_text(self, c.entry),
                    name(by),
                    entry_text(self, e)
                )
            }
            "LogMatching" => {
                let (i, j, k) = log_mismatch(s).unwrap_or((0, 1, 1));
                format!(
                    "{} and {} both hold an entry of term {} at index {k}, but their logs differ before it.",
                    name(i as u8),
                    name(j as u8),
                    s.servers[i].log[k - 1].term
                )
            }
            "LeaderAppendOnly" => format!(
                "{}, a leader, lost or changed an entry of its own log.",
                name(s.last_server)
            ),
            "CommitIndexNeverDecreases" => format!(
                "{}'s commit index went down without a restart.",
                name(s.last_server)
            ),
            "EventuallyLeader" => {
                "no server is ever elected: the elections go on forever, each split or cut short by the next timeout.".to_string()
            }
            "LeaderInfinitelyOften" => {
                "from some point on no server is ever elected again: the elections go on forever, each split or cut short by the next timeout.".to_string()
            }
            "EventuallyStableLeader" => {
                "no leader lasts: again and again a server times out and deposes the leader, however well the leader's heartbeats arrive.".to_string()
            }
            "SubmittedValueEventuallyCommitted" => {
                let missing: Vec<String> = (1..=self.config.values)
                    .filter(|&v| !s.value_committed(v))
                    .map(value_name)
                    .collect();
                format!(
                    "{} never committed{}.",
                    missing.join(" and "),
                    if s.has_leader() {
                        ""
                    } else {
                        ": no server stays leader long enough"
                    }
                )
            }
            _ => format!("{name_} does not hold."),
        }
    }

    fn violation(&self, name_: &str, s: &RaftState) -> Violation {
        let all = self.participants();
        let server_fields = |i: usize| -> Vec<String> {
            let me = name(i as u8);
            vec![
                format!("{me} currentTerm"),
                format!("{me} state"),
                format!("{me} log"),
                format!("{me} commitIndex"),
            ]
        };
        match name_ {
            "ElectionSafety" => {
                let (t, who) = two_leaders(s).unwrap_or((0, 0));
                let servers: Vec<u8> = (0..self.config.servers)
                    .filter(|&i| who & (1 << i) != 0)
                    .collect();
                Violation {
                    statement: format!("{} were both elected leader of term {t}", set_text(who)),
                    participants: servers.iter().map(|&i| name(i)).collect(),
                    fields: servers
                        .iter()
                        .flat_map(|&i| {
                            [
                                format!("{} currentTerm", name(i)),
                                format!("{} state", name(i)),
                            ]
                        })
                        .collect(),
                }
            }
            "LeaderCompleteness" => {
                let (l, k) = incomplete_leader(s).unwrap_or((0, 1));
                let c = s.committed[k - 1];
                let mut fields = server_fields(l);
                fields.push("committed".to_string());
                Violation {
                    statement: format!(
                        "{}, leader of term {}, lacks {} at index {k}, committed in term {}",
                        name(l as u8),
                        s.servers[l].term,
                        entry_text(self, c.entry),
                        c.term
                    ),
                    participants: all,
                    fields,
                }
            }
            "StateMachineSafety" => Violation {
                statement: "two different entries were committed at the same index".to_string(),
                participants: all,
                fields: vec!["committed".to_string()],
            },
            "LogMatching" => {
                let (i, j, k) = log_mismatch(s).unwrap_or((0, 1, 1));
                Violation {
                    statement: format!(
                        "{} and {} hold the same entry at index {k} but different logs before it",
                        name(i as u8),
                        name(j as u8)
                    ),
                    participants: vec![name(i as u8), name(j as u8)],
                    fields: vec![
                        format!("{} log", name(i as u8)),
                        format!("{} log", name(j as u8)),
                    ],
                }
            }
            "LeaderAppendOnly" | "CommitIndexNeverDecreases" => Violation {
                statement: self.explain(name_, s).trim_end_matches('.').to_string(),
                participants: vec![name(s.last_server)],
                fields: server_fields(s.last_server as usize),
            },
            _ => Violation {
                statement: match name_ {
                    "EventuallyLeader" | "LeaderInfinitelyOften" | "EventuallyStableLeader" => {
                        "no server is leader".to_string()
                    }
                    "SubmittedValueEventuallyCommitted" => {
                        self.explain(name_, s).trim_end_matches('.').to_string()
                    }
                    _ => format!("{name_} does not hold"),
                },
                participants: all,
                fields: (0..self.n())
                    .flat_map(|i| {
                        let me = name(i as u8);
                        [format!("{me} currentTerm"), format!("{me} state")]
                    })
                    .collect(),
            },
        }
    }

    fn bound_doc(&self, key: &str) -> Option<String> {
        let doc = match key {
            "servers" => "servers in the cluster (a majority is more than half)".to_string(),
            "terms" => "terms a state may span: terms are renumbered so that the oldest one present is 1, and no server times out past this term".to_string(),
            "values" => "values the client submits, v1, v2, …; a log holds at most this many entries".to_string(),
            "max-in-flight" => "messages in flight at once".to_string(),
            "max-restarts" => "crash-restarts in one behaviour (term, vote and log survive)".to_string(),
            "max-drops" => "messages the network loses in one behaviour".to_string(),
            "max-duplicates" => "messages the network duplicates in one behaviour".to_string(),
            "election-timeout" => match self.config.election_timeout {
                ElectionTimeout::AnyTime => "when a follower may time out: at any moment".to_string(),
                ElectionTimeout::Timely => "when a follower may time out: only while no server is leader or has a majority of votes, and not after granting its vote in its term (Raft's timing requirement, §5.6)".to_string(),
            },
            "fairness" => match self.config.fairness {
                ElectionFairness::Weak => "liveness fairness: every protocol step weakly fair".to_string(),
                ElectionFairness::RandomizedTimeouts => "liveness fairness: every protocol step weakly fair, and an election that runs with no other timeout strongly fair (randomized timeouts)".to_string(),
            },
            _ => return None,
        };
        Some(doc)
    }
}

/// Whether a log ending with an entry of term `last_log_term` at `last_log_index` is at
/// least as up to date as `voter`'s (§5.4.1: the later last term wins, then the longer log).
fn up_to_date(voter: &Server, last_log_term: u8, last_log_index: u8) -> bool {
    last_log_term > voter.last_term()
        || (last_log_term == voter.last_term() && last_log_index as usize >= voter.log.len())
}

/// `a` with `offset` added to the terms of the message it names.
fn shifted_action(mut a: Action, offset: u8) -> Action {
    if let Some(m) = a.message_mut() {
        for t in m.terms_mut() {
            *t = t.saturating_add(offset);
        }
    }
    a
}

/// `s` with `offset` added to every term (0, "no entry", stays 0).
fn shifted(s: &RaftState, offset: u8) -> RaftState {
    if offset == 0 {
        return *s;
    }
    let mut t = *s;
    t.each_term(true, |x| *x = x.saturating_add(offset));
    if t.elected.len() + offset as usize <= 2 * MAX_TERMS {
        t.elected = std::iter::repeat_n(0, offset as usize)
            .chain(s.elected.iter().copied())
            .collect();
    }
    t
}

/// The one message `after` has a copy more of than `before`.
fn new_message(before: &RaftState, after: &RaftState) -> Option<Message> {
    let count = |s: &RaftState, m: &Message| {
        s.messages
            .iter()
            .find(|(x, _)| x == m)
            .map_or(0, |&(_, k)| k)
    };
    after
        .messages
        .iter()
        .map(|&(m, _)| m)
        .find(|m| count(after, m) > count(before, m))
}

/// The term with two leaders and who they are.
fn two_leaders(s: &RaftState) -> Option<(usize, u8)> {
    s.elected
        .iter()
        .enumerate()
        .find(|(_, b)| b.count_ones() > 1)
        .map(|(t, &b)| (t + 1, b))
}

/// The representative of a state under renaming of servers: servers sorted by their state
/// with ids rewritten, ties broken by trying each order of the tied servers and keeping the
/// least state.
pub fn representative(s: &RaftState) -> RaftState {
    let n = s.servers.len();
    // Candidate orders: servers sorted by their id-free part; among equal ones, every
    // order.
    let key = |i: usize| {
        let srv = &s.servers[i];
        (
            srv.term,
            srv.role,
            srv.log,
            srv.commit,
            srv.voted_for.is_some(),
            srv.voted_for == Some(i as u8),
        )
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| key(i));
    let mut best: Option<RaftState> = None;
    let mut perm = order.clone();
    permute_ties(&mut perm, 0, &|a, b| key(a) == key(b), &mut |p| {
        // p[new] = old; to[old] = new.
        let mut to = [0u8; MAX_SERVERS];
        for (new, &old) in p.iter().enumerate() {
            to[old] = new as u8;
        }
        let r = rename(s, p, &to[..n]);
        if best.as_ref().is_none_or(|b| r < *b) {
            best = Some(r);
        }
    });
    best.expect("at least one order")
}

/// Calls `f` with every permutation of `p` that permutes only runs of equal elements.
fn permute_ties(
    p: &mut Vec<usize>,
    from: usize,
    eq: &dyn Fn(usize, usize) -> bool,
    f: &mut dyn FnMut(&[usize]),
) {
    if from >= p.len() {
        f(p);
        return;
    }
    let mut end = from + 1;
    while end < p.len() && eq(p[from], p[end]) {
        end += 1;
    }
    if end - from == 1 {
        permute_ties(p, end, eq, f);
        return;
    }
    // Heap's algorithm over p[from..end], recursing to the next run for each.
    let run: Vec<usize> = p[from..end].to_vec();
    let mut each = |perm: &[usize], p: &mut Vec<usize>| {
        p[from..end].copy_from_slice(perm);
        permute_ties(p, end, eq, f);
    };
    let mut a = run.clone();
    let k = a.len();
    let mut c = vec![0; k];
    each(&a, p);
    let mut i = 0;
    while i < k {
        if c[i] < i {
            if i % 2 == 0 {
                a.swap(0, i);
            } else {
                a.swap(c[i], i);
            }
            each(&a, p);
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}

/// `s` with server `p[new]` renamed `new` (`to[old] = new`).
fn rename(s: &RaftState, p: &[usize], to: &[u8]) -> RaftState {
    let bits = |b: u8| -> u8 {
        (0..to.len())
            .filter(|&i| b & (1 << i) != 0)
            .fold(0, |acc, i| acc | 1 << to[i])
    };
    let servers = p
        .iter()
        .map(|&old| {
            let mut srv = s.servers[old];
            srv.voted_for = srv.voted_for.map(|v| to[v as usize]);
            srv.responded = bits(srv.responded);
            srv.granted = bits(srv.granted);
            if !srv.next_index.is_empty() {
                srv.next_index = p.iter().map(|&o| s.servers[old].next_index[o]).collect();
                srv.match_index = p.iter().map(|&o| s.servers[old].match_index[o]).collect();
            }
            srv
        })
        .collect();
    let mut messages: InlineVec<(Message, u8), MAX_IN_FLIGHT> = s
        .messages
        .iter()
        .map(|&(mut m, k)| {
            m.rename(to);
            (m, k)
        })
        .collect();
    messages.sort();
    let committed = s
        .committed
        .iter()
        .map(|c| Committed {
            conflict: c.conflict.map(|(e, by)| (e, to[by as usize])),
            ..*c
        })
        .collect();
    RaftState {
        servers,
        messages,
        elected: s.elected.iter().map(|&b| bits(b)).collect(),
        committed,
        last_server: if s.last_step != 0 {
            to[s.last_server as usize]
        } else {
            0
        },
        ..*s
    }
}

/// "s1" for server 0.
pub fn name(i: u8) -> String {
    format!("s{}", i + 1)
}

fn value_name(v: u8) -> String {
    format!("v{v}")
}

fn role(r: Role) -> &'static str {
    match r {
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

/// "{s1, s3}".
fn set_text(b: u8) -> String {
    let names: Vec<String> = (0..8).filter(|i| b & (1 << i) != 0).map(name).collect();
    if names.is_empty() {
        "nobody".to_string()
    } else {
        names.join(" and ")
    }
}

/// An entry as "term 2 (v1)", or "term 2" when there is one value.
fn entry_text(m: &RaftModel, e: Entry) -> String {
    if m.config.values > 1 {
        format!("the entry of term {} ({})", e.term, value_name(e.value))
    } else {
        format!("the entry of term {}", e.term)
    }
}

/// A log as its entries' terms, "[2 3]", with values when there is more than one.
fn log_text(m: &RaftModel, log: &[Entry]) -> String {
    let cells: Vec<String> = log.iter().map(|&e| cell(m, e)).collect();
    format!("[{}]", cells.join(" "))
}

/// An entry in a log matrix: its term, and its value's letter when there are several.
fn cell(m: &RaftModel, e: Entry) -> String {
    if m.config.values > 1 {
        format!("{}{}", e.term, (b'a' + e.value - 1) as char)
    } else {
        e.term.to_string()
    }
}

fn index_text(v: &[u8], me: usize) -> String {
    v.iter()
        .enumerate()
        .filter(|&(j, _)| j != me)
        .map(|(j, x)| format!("{}: {x}", name(j as u8)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn message_text(m: &RaftModel, msg: &Message) -> String {
    let to = |s: u8, d: u8| format!("{} → {}", name(s), name(d));
    match *msg {
        Message::RequestVoteRequest {
            term,
            last_log_term,
            last_log_index,
            source,
            dest,
        } => format!(
            "RequestVote {} (term {term}, lastLogIndex {last_log_index}, lastLogTerm {last_log_term})",
            to(source, dest)
        ),
        Message::RequestVoteResponse {
            term,
            vote_granted,
            source,
            dest,
        } => format!(
            "RequestVote response {} (term {term}, voteGranted {vote_granted})",
            to(source, dest),
        ),
        Message::AppendEntriesRequest {
            term,
            prev_log_index,
            prev_log_term,
            entry,
            commit_index,
            source,
            dest,
        } => format!(
            "AppendEntries {} (term {term}, prevLogIndex {prev_log_index}, prevLogTerm {prev_log_term}, entries [{}], leaderCommit {commit_index})",
            to(source, dest),
            entry.map_or(String::new(), |e| cell(m, e)),
        ),
        Message::AppendEntriesResponse {
            term,
            success,
            match_index,
            source,
            dest,
        } => format!(
            "AppendEntries response {} (term {term}, success {success}, matchIndex {match_index})",
            to(source, dest),
        ),
    }
}

/// The label of a message's arrow in a sequence diagram.
fn arrow_label(m: &RaftModel, msg: &Message) -> String {
    match *msg {
        Message::RequestVoteRequest { term, .. } => format!("RequestVote t{term}"),
        Message::RequestVoteResponse {
            term, vote_granted, ..
        } => format!("vote t{term}: {}", if vote_granted { "yes" } else { "no" }),
        Message::AppendEntriesRequest {
            term,
            prev_log_index,
            entry,
            commit_index,
            ..
        } => match entry {
            Some(e) => format!(
                "AppendEntries t{term} [{}] at {} commit {commit_index}",
                cell(m, e),
                prev_log_index + 1
            ),
            None => format!("AppendEntries t{term} heartbeat commit {commit_index}"),
        },
        Message::AppendEntriesResponse {
            term,
            success,
            match_index,
            ..
        } => {
            if success {
                format!("ok t{term} match {match_index}")
            } else {
                format!("reject t{term}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashSet, VecDeque};

    use super::*;
    use crate::testing::each_transition;

    /// The smallest configuration the pins describe: 3 servers, terms spanning 2, one value,
    /// one message in flight.
    fn small() -> RaftConfig {
        RaftConfig {
            servers: 3,
            terms: 2,
            values: 1,
            max_in_flight: 1,
            ..RaftConfig::default()
        }
    }

    fn model(variant: &str, config: RaftConfig) -> RaftModel {
        RaftModel::new(variant, config).unwrap()
    }

    /// Every reachable state (representatives if `reduce`), breadth first.
    fn explore(m: &RaftModel, reduce: bool) -> HashSet<RaftState> {
        let canon = |s: RaftState| if reduce { representative(&s) } else { s };
        let mut seen = HashSet::new();
        let mut todo: VecDeque<RaftState> = m.init_states().into_iter().map(canon).collect();
        while let Some(s) = todo.pop_front() {
            if !seen.insert(s) {
                continue;
            }
            for (_, t) in m.next_steps(&s) {
                if !m.within_boundary(&t) {
                    continue;
                }
                let t = canon(t);
                if !seen.contains(&t) {
                    todo.push_back(t);
                }
            }
        }
        seen
    }

    /// The verdict of every `always` (violated somewhere?) and `sometimes` (an example
    /// somewhere?) property over a set of states.
    fn verdicts(m: &RaftModel, states: &HashSet<RaftState>) -> Vec<(&'static str, bool)> {
        RaftModel::props()
            .into_iter()
            .filter(|p| matches!(p.kind, Kind::Always | Kind::Sometimes))
            .map(|p| {
                let hit = states.iter().any(|s| match p.kind {
                    Kind::Always => !(p.condition)(m, s),
                    _ => (p.condition)(m, s),
                });
                (p.name, hit)
            })
            .collect()
    }

    fn permute(s: &RaftState, p: &[usize]) -> RaftState {
        let mut to = [0u8; MAX_SERVERS];
        for (new, &old) in p.iter().enumerate() {
            to[old] = new as u8;
        }
        rename(s, p, &to[..p.len()])
    }

    /// The state counts of the smallest configuration, with and without symmetry reduction
    /// (a drift alarm: a change to the model that moves them is explained in its commit).
    #[test]
    fn smallest_configuration_has_pinned_state_counts() {
        let m = model("correct", small());
        assert_eq!(explore(&m, true).len(), 5_507);
        assert_eq!(explore(&m, false).len(), 32_876);
    }

    /// Symmetry reduction keeps every verdict: each safety property is violated, and each
    /// `sometimes` property has an example, in the reduced state space exactly when in the
    /// full one — for every variant.
    #[test]
    fn symmetry_reduction_preserves_every_verdict() {
        for v in RaftModel::variants() {
            let config = RaftConfig {
                max_restarts: u8::from(v.id == "forget-voted-for"),
                terms: if v.id == "figure8-commit" { 3 } else { 2 },
                ..small()
            };
            let m = model(v.id, config);
            let full = explore(&m, false);
            let reduced = explore(&m, true);
            assert!(reduced.len() < full.len(), "{}", v.id);
            assert_eq!(verdicts(&m, &full), verdicts(&m, &reduced), "{}", v.id);
        }
    }

    /// The representative is canonical: every renaming of a state has the same one, and it
    /// is itself a renaming of the state.
    #[test]
    fn the_representative_is_the_same_for_every_renaming() {
        let m = model("correct", small());
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for s in explore(&m, false).iter().take(20_000) {
            let r = representative(s);
            assert!(perms.iter().any(|p| permute(s, p) == r), "{s:?}");
            for p in &perms {
                assert_eq!(representative(&permute(s, p)), r, "{s:?} under {p:?}");
            }
        }
    }

    /// Terms are relative: a state with every term raised by k has the same successors
    /// (after renumbering) as the state itself.
    #[test]
    fn raising_every_term_changes_no_successor() {
        let m = model(
            "correct",
            RaftConfig {
                terms: 3,
                ..small()
            },
        );
        let mut steps = 0;
        each_transition(&m, |s, a, _| {
            let next = m.step(s, *a);
            for k in 1..3 {
                let raised = m.step(&shifted(s, k), shifted_action(*a, k));
                assert_eq!(raised, next, "{a:?} from {s:?} raised by {k}");
            }
            steps += 1;
        });
        assert!(steps > 10_000, "{steps}");
    }

    /// An uncontested election is a path of the model's own steps: it adds edges, and no
    /// state (the reachable states are the same with and without it), so no safety verdict
    /// depends on it.
    #[test]
    fn an_uncontested_election_adds_no_state() {
        let weak = model("correct", small());
        let randomized = model(
            "correct",
            RaftConfig {
                fairness: ElectionFairness::RandomizedTimeouts,
                ..small()
            },
        );
        assert_eq!(explore(&weak, true), explore(&randomized, true));
        let init = randomized.init_states()[0];
        let steps = randomized.uncontested_steps(&init, 0).unwrap();
        assert_eq!(steps.first(), Some(&Action::Timeout { server: 0 }));
        assert_eq!(steps.last(), Some(&Action::BecomeLeader { server: 0 }));
        let mut s = init;
        for a in &steps {
            s = randomized
                .step(&s, *a)
                .expect("each step enabled where it is taken");
        }
        assert_eq!(
            randomized.step(&init, Action::UncontestedElection { server: 0 }),
            Some(s)
        );
        assert_eq!(s.servers[0].role, Role::Leader);
    }

    /// A server votes for at most one candidate per term (Reference: Raft §5.2), and
    /// `votedFor` is persistent state (Figure 2): a restart keeps it — except in
    /// `forget-voted-for`, whose restarts drop it.
    #[test]
    fn a_server_votes_at_most_once_per_term_and_keeps_its_vote_across_restarts() {
        // (votes changed within a term, votes lost by a restart)
        let seen = |variant: &str| {
            let config = RaftConfig {
                max_restarts: 1,
                ..small()
            };
            let m = model(variant, config);
            let (mut changed, mut forgotten) = (false, false);
            each_transition(&m, |s, a, next| {
                let Some(t) = next else { return };
                // Compare in absolute terms: undo the step's renumbering.
                let shift = m.step_with_shift(s, *a).map_or(0, |(_, k)| k);
                let t = shifted(t, shift);
                for (x, y) in s.servers.iter().zip(&t.servers) {
                    if x.term != y.term {
                        continue;
                    }
                    match (x.voted_for, y.voted_for) {
                        (Some(a), Some(b)) => changed |= a != b,
                        (Some(_), None) => forgotten |= matches!(a, Action::Restart { .. }),
                        _ => {}
                    }
                }
            });
            (changed, forgotten)
        };
        assert_eq!(seen("correct"), (false, false));
        assert_eq!(seen("forget-voted-for"), (false, true));
    }

    /// A leader commits only entries of its own term by counting replicas (Raft §5.4.2,
    /// Figure 8); `figure8-commit` commits older ones.
    #[test]
    fn a_leader_counts_replicas_only_for_entries_of_its_term() {
        let older = |variant: &str| {
            let m = model(
                variant,
                RaftConfig {
                    terms: 3,
                    ..small()
                },
            );
            let mut found = false;
            each_transition(&m, |s, a, next| {
                if let (Action::AdvanceCommitIndex { server }, Some(_)) = (a, next) {
                    let l = &s.servers[*server as usize];
                    let to = m.commit_target(s, *server as usize).unwrap();
                    found |= l.log[to as usize - 1].term != l.term;
                }
            });
            found
        };
        assert!(!older("correct"));
        assert!(older("figure8-commit"));
    }

    /// A duplicated RequestVote reaching a server that already voted for that candidate is
    /// granted again, and the trace says so (not "it already voted for s1").
    #[test]
    fn a_repeated_vote_request_is_described_as_granted() {
        let m = model(
            "correct",
            RaftConfig {
                max_in_flight: 2,
                max_duplicates: 1,
                ..small()
            },
        );
        let mut s = m.init_states()[0];
        for a in [
            Action::Timeout { server: 0 },
            Action::RequestVote { from: 0, to: 1 },
        ] {
            s = m.step(&s, a).unwrap();
        }
        let request = s.messages[0].0;
        s = m
            .step(&s, Action::DuplicateMessage { message: request })
            .unwrap();
        let handle = Action::HandleRequestVoteRequest { message: request };
        assert_eq!(m.describe(&s, &handle), "s2 grants s1 its vote in term 2");
        s = m.step(&s, handle).unwrap();
        assert_eq!(s.servers[1].voted_for, Some(0));
        assert_eq!(m.describe(&s, &handle), "s2 grants s1 its vote in term 2");
    }

    #[test]
    fn no_example_holds_at_the_start() {
        crate::testing::no_example_at_start(&model("correct", small()));
    }

    #[test]
    fn faults_are_unfair_and_every_step_has_a_class() {
        let m = model(
            "correct",
            RaftConfig {
                max_restarts: 1,
                max_drops: 1,
                max_duplicates: 1,
                max_in_flight: 2,
                values: 0,
                ..small()
            },
        );
        crate::testing::classes_cover_every_action(&m, |a| {
            matches!(
                a,
                Action::Restart { .. }
                    | Action::DuplicateMessage { .. }
                    | Action::DropMessage { .. }
                    | Action::UncontestedElection { .. }
            )
        });
    }

    /// With five servers the classes still fit the checker's 64.
    #[test]
    fn five_servers_have_at_most_64_classes() {
        let m = model(
            "correct",
            RaftConfig {
                servers: 5,
                ..small()
            },
        );
        assert!(m.classes().len() <= 64);
        let s = m.init_states()[0];
        for (a, _) in m.next_steps(&s) {
            assert!(m.class_of(&a) < m.classes().len());
        }
    }

    /// A trace reads in absolute terms: along any path, no server's term goes down, though
    /// the model's own states are renumbered.
    #[test]
    fn displayed_terms_never_go_down() {
        let m = model(
            "correct",
            RaftConfig {
                terms: 3,
                ..small()
            },
        );
        // Elections by s1, s2, s3 in turn, each renumbering once the older terms are gone.
        let mut s = m.init_states()[0];
        let mut steps = Vec::new();
        let mut renumbered = false;
        for server in [0, 1, 2, 0, 1] {
            let a = Action::Timeout { server };
            let (t, k) = m.step_with_shift(&s, a).unwrap();
            renumbered |= k > 0;
            steps.push((a, t));
            s = t;
            // Everyone hears the new term.
            for j in (0..3).filter(|&j| j != server) {
                let a = Action::RequestVote {
                    from: server,
                    to: j,
                };
                let t = m.step(&s, a).unwrap();
                let msg = new_message(&s, &t).unwrap();
                steps.push((a, t));
                s = t;
                let h = Action::HandleRequestVoteRequest { message: msg };
                let (t, k) = m.step_with_shift(&s, h).unwrap();
                renumbered |= k > 0;
                let resp = new_message(&s, &t).unwrap();
                steps.push((h, t));
                s = t;
                let h = Action::HandleRequestVoteResponse { message: resp };
                let (t, k) = m.step_with_shift(&s, h).unwrap();
                renumbered |= k > 0;
                steps.push((h, t));
                s = t;
            }
        }
        assert!(renumbered);
        let (first, shown) = m.display_path(&m.init_states()[0], &steps);
        let mut prev = first;
        for (_, t) in &shown {
            for (a, b) in prev.servers.iter().zip(&t.servers) {
                assert!(b.term >= a.term, "{prev:?} -> {t:?}");
            }
            prev = *t;
        }
        assert_eq!(prev.servers[1].term, 6, "five elections after term 1");
    }
}
