//! `raft`: Raft log replication (Ongaro & Ousterhout, "In Search of an Understandable
//! Consensus Algorithm", USENIX ATC 2014), as a library a program could adopt, and a
//! replicated key-value store on it.
//!
//! Four layers, each usable on its own:
//!
//! - [`RaftCore`]: one server's Raft as a pure state machine (Figure 2's rules). Inputs are
//!   [`tick`](RaftCore::tick) (one unit of time; timeouts and heartbeats are counted in
//!   ticks), [`step`](RaftCore::step) (a [`Message`] from another server),
//!   [`propose`](RaftCore::propose) and [`read_index`](RaftCore::read_index); after any of
//!   them, [`ready`](RaftCore::ready) returns a [`Ready`]: a durable write, messages to
//!   send, committed entries to apply, confirmed reads, and the steps taken as [`Event`]s
//!   in the Raft model's vocabulary. No clock, thread, socket or disk is inside, so the
//!   same core runs on threads, under shuttle, in replays and in benchmarks (the shape of
//!   raft-rs's `RawNode`/`Ready` and openraft's engine). The runtime must make the write
//!   durable before it sends the messages: a vote or an acknowledgement must not leave
//!   before what it promises is on disk.
//! - [`Storage`]: the durable part (`currentTerm`, `votedFor`, the log), with
//!   [`MemStorage`] in memory.
//! - [`KvNode`]: a server of the key-value store: a core, its storage and a
//!   [`KvStateMachine`] (`put`, `get`, `cas`; client sessions so a retried write is applied
//!   once; read-index reads, which assume nothing about clocks).
//! - [`Cluster`]: servers on threads in one process, over mailboxes, with a network that
//!   drops, duplicates, reorders and delays messages, partitions (one-way too), crashes
//!   and restarts from storage; and [`Client`] sessions that find the leader and retry.
//!
//! Not implemented: membership changes, log compaction and snapshots, pre-vote and
//! check-quorum (a server cut off and back raises its term and disturbs the leader, as
//! in the paper's basic algorithm), leader leases.
//!
//! ```
//! use coordlab_impls::raft::{Config, Durable, NodeId, RaftCore, Role};
//!
//! let ids: Vec<NodeId> = (0..3).map(NodeId).collect();
//! let mut servers: Vec<RaftCore> = ids
//!     .iter()
//!     .map(|&id| RaftCore::new(Config::new(id, ids.clone()), Durable::default()).unwrap())
//!     .collect();
//! // Deliver every message until the cluster is quiet (a runtime would also persist each
//! // `ready.persist` before sending, and apply `ready.committed`).
//! fn settle(servers: &mut [RaftCore]) -> Vec<u64> {
//!     let mut applied = vec![0; servers.len()];
//!     loop {
//!         let mut sent = Vec::new();
//!         for (i, s) in servers.iter_mut().enumerate() {
//!             let ready = s.ready();
//!             applied[i] += ready.committed.len() as u64;
//!             sent.extend(ready.messages);
//!         }
//!         if sent.is_empty() {
//!             return applied;
//!         }
//!         for m in sent {
//!             servers[m.to.0 as usize].step(m.from, m.message);
//!         }
//!     }
//! }
//! servers[0].campaign_now(); // as if its election timer fired
//! settle(&mut servers);
//! assert_eq!(servers[0].role(), Role::Leader);
//!
//! let (index, term) = servers[0].propose(b"x=1".to_vec()).unwrap();
//! settle(&mut servers);
//! assert_eq!(servers[0].commit_index(), index); // its no-op at 1, the command at 2
//! assert_eq!((index, term), (2, 1));
//! // Followers learn the commit index with the next AppendEntries (a heartbeat).
//! for _ in 0..3 {
//!     servers[0].tick();
//! }
//! settle(&mut servers);
//! assert!(servers.iter().all(|s| s.commit_index() == 2));
//! ```
//!
//! # How it is checked
//!
//! The tests (`impls/tests/raft/`, `impls/tests/raft_storage/`, and the `checks` crate's
//! `drive`, `conform_raft` and `kv` tests):
//!
//! - **Figure 3 on the implementation's own states.** Clusters run on std threads and
//!   under shuttle (3 and 5 servers; crashes, reboots, partitions; a lossy, duplicating,
//!   reordering and delaying network; clients doing puts, gets and compare-and-sets). Every
//!   run's record is checked after every step for `ElectionSafety`, `LeaderAppendOnly`,
//!   `LogMatching`, `LeaderCompleteness` and `StateMachineSafety`, as the Raft model states
//!   them, and the client history for linearizability, key by key (stateright's
//!   `LinearizabilityTester`).
//! - **The model's bugs.** Its four bugs are deviations of the core (`Deviation`, test
//!   builds only). shuttle must find each, and the failing schedules are committed under
//!   `counterexamples/raft/impl-*/` and replayed; the correct core survives the same
//!   workloads from 20 seeds.
//! - **Conformance, both ways.** Runs in raft.tla's profile are replayed on the model
//!   (`coordlab conform`: every step enabled, every answer, message, commit and term the
//!   model's). The model's committed counterexamples are driven against the core
//!   (`coordlab drive`): each deviation reproduces its violation, and the correct core
//!   refuses the step the bug needs. Seeded random walks of every correct Raft check are
//!   followed by the core step for step.
//! - **Scenarios** state their claims: initial election, re-election, a failed follower, a
//!   partitioned leader rejoining, fast catch-up, restarts of every server, churn, and
//!   Figure 8 on an unreliable network.
//! - **Queues and storage.** loom checks the runtime's mailboxes. Storage has its own
//!   conformance suite ([`testing`]), run on both stores, torn-write recovery at every
//!   byte, and a proptest against a reference.
//!
//! # What is not checked
//!
//! - **shuttle samples.** A passing shuttle run means no failure in the schedules tried
//!   (thousands per workload, from 20 seeds), not correctness. The runs are short: a few
//!   operations per client, a few hundred server steps.
//! - **Conformance within the model's bounds.** The model holds at most 4 entries and 8
//!   messages in flight, and sends one entry per AppendEntries. So only runs in raft.tla's
//!   profile ([`Config::raft_tla`]) that stay within those bounds are replayed on it.
//!   Pipelining, batching, the no-op of a new term and the reject hint are checked only by
//!   the properties above.
//! - **Time.** Time is logical under shuttle (a tick whenever the ticker thread runs) and
//!   real on std threads; no test checks the real-time behaviour of timeouts.
//! - **Durability under the cluster tests.** The shuttle and std runs use [`MemStorage`],
//!   where a crash keeps every write the server completed. [`FileStorage`]'s crash
//!   behaviour (a torn last write) is tested on the store by itself, and end to end by
//!   `coordlab kv` with `kill -9`.
//! - **Liveness** is not proved: tests check that clients are answered within a budget in
//!   the runs they make.
//! - **A storage error** stops a server thread of the in-process [`Cluster`] with a panic
//!   (it cannot promise what it sends). The runtime does not restart it.

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
    KvError, KvInput, KvNode, KvOp, KvOutput, KvOutputs, KvReply, KvRequest, KvStateMachine,
    MAX_REQUEST_BYTES, NodeError,
};
pub use self::message::{Envelope, Event, Message, Role};
pub use self::runtime::{
    Client, ClientError, Cluster, ClusterConfig, Faults, KvView, Mailbox, NetFate, NoObserver,
    Observer, Ticker, Ticket,
};
pub use self::storage::{MemStorage, Storage, StorageError, validate};
pub use self::types::{Durable, Entry, HardState, Index, NodeId, Payload, Persist, Term};

// Durable storage beyond the in-memory store: a write-ahead log in a directory, and the
// conformance suite every `Storage` must pass.
pub mod file;
pub mod testing;
pub use self::file::{FileStorage, Fsync};
