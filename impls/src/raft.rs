//! `raft`: Raft log replication (Ongaro & Ousterhout, "In Search of an Understandable
//! Consensus Algorithm", USENIX ATC 2014), as a library a program could adopt.
//!
//! (Module documentation in progress: the core, the runtime and the key-value store follow.)

mod core;
mod kv;
mod message;
mod runtime;
mod storage;
mod types;

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
pub use self::core::Deviation;
pub use self::core::{Config, ConfigError, NotLeader, RaftCore, ReadState, Ready};
pub use self::kv::{
    KvError, KvNode, KvOp, KvOutput, KvOutputs, KvReply, KvRequest, KvStateMachine, NodeError,
};
pub use self::message::{Envelope, Event, Message, Role};
pub use self::runtime::{
    Client, ClientError, Cluster, ClusterConfig, Faults, KvView, NetFate, NoObserver, Observer,
    Ticker, Ticket,
};
pub use self::storage::{MemStorage, Storage, StorageError, validate};
pub use self::types::{Durable, Entry, HardState, Index, NodeId, Payload, Persist, Term};
