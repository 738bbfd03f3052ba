//! The values Raft's core, its storage and its messages share: server ids, terms, log
//! indices, entries and the durable "hard state". Names follow Figure 2 of the Raft paper
//! (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014).

use std::fmt;

/// A term (Figure 2's `currentTerm`): 0 before the first election, then 1, 2, …
pub type Term = u64;

/// A log index: 1 is the first entry, 0 means "no entry" (Figure 2's `prevLogIndex` of an
/// empty log, a `matchIndex` of nothing).
pub type Index = u64;

/// A server of the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// What an entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Payload {
    /// The entry a new leader appends at the start of its term, so that an entry of its own
    /// term commits and, with it, every earlier entry (Raft §8; Ongaro's thesis §6.4). It is
    /// what makes a read-index read possible early in a term.
    Noop,
    /// A client's command, opaque to Raft.
    Data(Vec<u8>),
}

/// One log entry (Figure 2's `log[]`: "each entry contains command for state machine, and
/// term when entry was received by leader").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Entry {
    /// The term of the leader that appended it.
    pub term: Term,
    /// Its position in the log, from 1.
    pub index: Index,
    /// The command.
    pub payload: Payload,
}

/// The state a server must make durable before it answers any message (Figure 2's
/// "persistent state on all servers", without the log): `currentTerm` and `votedFor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HardState {
    /// `currentTerm`.
    pub term: Term,
    /// `votedFor`: the candidate this server voted for in `term`, if any.
    pub voted_for: Option<NodeId>,
}

/// Everything durable a server has: its hard state and its log. What a [`Storage`] loads
/// when a server restarts.
///
/// [`Storage`]: super::Storage
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Durable {
    /// `currentTerm` and `votedFor`.
    pub hard_state: HardState,
    /// The log; entry `i` (from 0) has index `i + 1`.
    pub log: Vec<Entry>,
}

/// One durable write the core asks for, to be made durable before any message the same
/// [`Ready`](super::Ready) carries is sent.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Persist {
    /// The new hard state, if it changed.
    pub hard_state: Option<HardState>,
    /// Entries to write. If the first one's index is at or below the stored log's last
    /// index, every stored entry from that index on is removed first (a follower replacing
    /// a conflicting suffix, Figure 2's AppendEntries receiver rule 3). Contiguous indices.
    pub entries: Vec<Entry>,
}

impl Persist {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none() && self.entries.is_empty()
    }
}
