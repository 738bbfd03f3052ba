//! `raft`: Raft log replication (Ongaro & Ousterhout, "In Search of an Understandable
//! Consensus Algorithm", USENIX ATC 2014), as a library a program could adopt.
//!
//! (Module documentation in progress: the core, the runtime and the key-value store follow.)

mod storage;
mod types;

pub use self::storage::{MemStorage, Storage, StorageError, validate};
pub use self::types::{Durable, Entry, HardState, Index, NodeId, Payload, Persist, Term};

// Durable storage beyond the in-memory store: a write-ahead log in a directory, and the
// conformance suite every `Storage` must pass.
pub mod file;
pub mod testing;
pub use self::file::{FileStorage, Fsync};
