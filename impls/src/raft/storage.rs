//! Durable storage for one Raft server: its hard state (`currentTerm`, `votedFor`) and its
//! log. The shape of raft-rs's `Storage` and openraft's `RaftLogStorage`, cut to what Raft
//! without snapshots needs: load everything at start, then apply each [`Persist`] the core
//! asks for, durably, before the runtime sends the messages that depend on it.

use super::types::{Durable, Entry, HardState, Persist};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O operation on the store's files failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`open`, `write`, `fsync`, `read`).
        op: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The stored data is damaged somewhere other than a torn last write.
    #[error("{path}: corrupt at byte {offset}: {why}")]
    Corrupt {
        /// The file.
        path: String,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        why: String,
    },
    /// A [`Persist`] that breaks the contract: entries that do not start at or below the
    /// last index plus one, or that are not contiguous; or one too large for the store's
    /// format (for [`FileStorage`](super::FileStorage), a record body over 4 GiB − 1 bytes).
    /// Nothing was written.
    #[error("bad write: {0}")]
    BadWrite(String),
}

/// The durable part of a Raft server.
///
/// Contract (what the conformance suite, [`testing`](super::testing), checks of every
/// implementation):
/// - [`load`](Storage::load) returns exactly what the `Ok` [`persist`](Storage::persist)
///   calls wrote, in order, even after the process died at any point: a write that
///   returned `Ok` is never lost; a write interrupted before it returned is either wholly
///   there or wholly absent.
/// - `persist` with entries starting at index `i` removes every stored entry at `i` and
///   above, then appends the entries. Entries starting above the last index plus one, or not
///   contiguous, are refused with [`StorageError::BadWrite`] and change nothing (not even
///   the hard state the same `Persist` carries). A `Persist` with nothing in it changes
///   nothing and succeeds.
/// - A `persist` that fails otherwise ([`StorageError::Io`]) counts as interrupted: its
///   write may or may not be found after a restart, and the store may refuse every later
///   call until it is reopened. A server should treat it as a crash: stop, and restart from
///   `load`.
pub trait Storage {
    /// Everything durable: the hard state and the whole log.
    fn load(&mut self) -> Result<Durable, StorageError>;
    /// Makes `update` durable; returns only when it is.
    fn persist(&mut self, update: &Persist) -> Result<(), StorageError>;
}

/// Checks `update` against a log whose last index is `last`: what every [`Storage`] must
/// refuse with [`StorageError::BadWrite`].
pub fn validate(last: u64, update: &Persist) -> Result<(), StorageError> {
    let Some(first) = update.entries.first() else {
        return Ok(());
    };
    if first.index == 0 || first.index > last + 1 {
        return Err(StorageError::BadWrite(format!(
            "entries start at index {} but the log ends at {last}",
            first.index
        )));
    }
    for pair in update.entries.windows(2) {
        if pair[1].index != pair[0].index + 1 {
            return Err(StorageError::BadWrite(format!(
                "entries are not contiguous: index {} follows {}",
                pair[1].index, pair[0].index
            )));
        }
    }
    Ok(())
}

/// Storage in memory: durable as long as the value lives. A test "crashes" a server by
/// dropping its core and restarting it from the same `MemStorage`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStorage {
    hard_state: HardState,
    log: Vec<Entry>,
}

impl MemStorage {
    /// An empty store: term 0, no vote, no entries.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }
}

impl Storage for MemStorage {
    fn load(&mut self) -> Result<Durable, StorageError> {
        Ok(Durable {
            hard_state: self.hard_state,
            log: self.log.clone(),
        })
    }

    fn persist(&mut self, update: &Persist) -> Result<(), StorageError> {
        validate(self.log.len() as u64, update)?;
        if let Some(first) = update.entries.first() {
            self.log.truncate(first.index as usize - 1);
            self.log.extend(update.entries.iter().cloned());
        }
        if let Some(hs) = update.hard_state {
            self.hard_state = hs;
        }
        Ok(())
    }
}
