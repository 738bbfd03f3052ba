//! `election`: leader election with leases and fencing tokens.
//!
//! Three parts, each usable on its own:
//!
//! - a [`LeaseStore`]: a linearizable register holding the lease's holder, its expiry (on the
//!   store's clock) and a fencing token that grows with every grant. [`InMemoryLeaseStore`] is
//!   the in-process one; a client of etcd, ZooKeeper or Consul fits behind the same trait.
//! - a [`LeaderElector`] per node: [`campaign`](LeaderElector::campaign)s with one
//!   compare-and-set, renews on [`heartbeat`](LeaderElector::heartbeat), and trusts its lease
//!   only while *its own* clock says less than `lease - max_drift` has passed since it asked
//!   for it, so a clock running slow by up to `max_drift` still stops trusting before the
//!   store hands the lease to someone else.
//! - [`FencedStorage`]: the resource the leader writes to. Every write carries the writer's
//!   token; storage refuses a token lower than the highest it accepted. This is what stops a
//!   leader that was paused (GC, VM stall) past its lease and wakes up still believing it
//!   leads: no check on the leader's side can, since the pause may fall between the check
//!   and the write.
//!
//! Every component can report its steps to an [`Observer`] (for example an [`EventLog`]) in
//! the election model's vocabulary, from inside its own lock.
//!
//! ```
//! use std::time::Duration;
//! use coordlab_impls::clock::ManualClock;
//! use coordlab_impls::election::{
//!     ElectorConfig, FencedStorage, InMemoryLeaseStore, LeaderElector, NodeId, WriteError,
//! };
//! use coordlab_impls::sync::Arc;
//! # if coordlab_impls::sync::ENGINE != "std" { return; }
//!
//! let time = ManualClock::new();
//! let store = Arc::new(InMemoryLeaseStore::new(time.clone()));
//! let config = ElectorConfig::new(
//!     Duration::from_secs(10), // lease
//!     Duration::from_secs(3),  // renew every
//!     Duration::from_secs(1),  // the most a node's clock falls behind over one lease
//! )
//! .unwrap();
//! let a = LeaderElector::new(NodeId(0), Arc::clone(&store), time.clone(), config);
//! let b = LeaderElector::new(NodeId(1), Arc::clone(&store), time.clone(), config);
//! let storage = FencedStorage::new();
//!
//! let old = a.campaign().unwrap().expect("the lease is free");
//! assert!(b.campaign().unwrap().is_none(), "a holds it");
//!
//! // a pauses for 20 s: its lease runs out and b takes over with a higher token.
//! time.advance(Duration::from_secs(20));
//! let new = b.campaign().unwrap().expect("a's lease expired");
//! assert!(new.token > old.token);
//! storage.write(NodeId(1), new.token, "b's value").unwrap();
//!
//! // a wakes up and writes with the token it checked before the pause: fenced off.
//! assert!(matches!(
//!     storage.write(NodeId(0), old.token, "a's stale value"),
//!     Err(WriteError::StaleToken { .. })
//! ));
//! assert!(a.leadership().is_none(), "a's own clock now says its lease is over");
//! ```
//!
//! # How it is checked
//!
//! `impls/tests/election/`: loom explores every interleaving of acquisition, renewal,
//! release and expiry on 2–3 threads (one holder per token, tokens increasing), and of one
//! elector shared by a heartbeat, a writer and a resignation (a renewal racing the
//! resignation never makes the resigned node lead again); shuttle runs 3–5 nodes, some with
//! electors shared by a heartbeat thread and writer threads, with pauses, slow clocks, clock
//! jumps, crashes and resignations under random and PCT schedules, moving time 1 ms at a
//! time, and checks the model's `AtMostOneLeader`, `StaleTokenWriteRejected` and
//! `FencingTokensMonotonic` on the event log, and that the store accepts no stale renewal;
//! a proptest state machine compares the store with a sequential reference, and unit tests
//! call every time-dependent operation right after the clock moved, on both sides of its
//! deadline. Shuttle must find each test-only safety `Deviation` (`Deviation::ALL`); the
//! failing schedules are committed under `counterexamples/election/impl-*/` and replayed.
//! `coordlab drive` runs every model counterexample against these parts, with the
//! matching deviation (`no-lease-expiry` included) and without.
//!
//! # What is not checked
//!
//! - **The drift bound is an assumption.** An elector is safe only if its clock really falls
//!   behind real time by at most `max_drift` over one lease; the tests keep their clocks
//!   within it (a slow clock stands still for a tick at a time). A clock that runs slow by
//!   more, or a store whose clock runs fast, breaks `AtMostOneLeader`; fencing still keeps
//!   storage consistent.
//! - **The store is one process.** [`InMemoryLeaseStore`] is linearizable because it is one
//!   lock; its own replication, network delays between a node and the store, and a store
//!   that answers after the caller gave up are out of scope (a remote [`LeaseStore`] must be
//!   linearizable itself, as etcd and ZooKeeper are).
//! - **Pauses fall where they hurt most, and only there.** The harness pauses a leader
//!   between checking its lease and writing; a pause inside a heartbeat only delays the
//!   next renewal, which the lease already covers (time moving between a heartbeat's check
//!   and its request reaching the store does happen, and makes stale renewals the store
//!   must refuse).
//! - **Bounds.** loom explores small races (2–3 threads) up to stated preemption bounds;
//!   shuttle samples schedules of runs with a few rounds per node, so a passing run is
//!   evidence, not proof. Liveness (a leader is eventually elected) is the model's to check.

mod elector;
mod event;
mod storage;
mod store;

pub use self::elector::{ConfigError, ElectorConfig, LeaderElector, Leadership};
pub use self::event::{Event, EventLog, FencingToken, NodeId, Observer, StepDownReason};
pub use self::storage::{FencedStorage, WriteCounts, WriteError};
pub use self::store::{InMemoryLeaseStore, Lease, LeaseError, LeaseStore};

/// A protocol bug the tests can switch on, mirroring the election model's bug variants (same
/// ids). Compiled only for tests, under `--cfg loom` / `--cfg shuttle`, and with the
/// `deviations` feature (which `coordlab drive` turns on), never in a default build.
#[cfg(any(test, loom, shuttle, feature = "deviations"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Deviation {
    /// `no-fencing`: storage accepts every write whatever its token.
    /// ([`FencedStorage::with_deviation`])
    NoFencing,
    /// `no-clock-margin`: a leader trusts its lease for its full length on its own clock.
    /// ([`LeaderElector::with_deviation`])
    NoClockMargin,
    /// `check-then-set`: the store's acquisition reads the lease and, in a second step, writes
    /// the reader in with the token it read plus one, instead of one compare-and-set.
    /// ([`InMemoryLeaseStore::with_deviation`])
    CheckThenSet,
    /// `no-lease-expiry`: the store's leases never run out (a lock without a timeout), so a
    /// holder that crashes keeps the lease forever. A liveness bug only: no safety property
    /// fails, so it is not in [`Deviation::ALL`], which the shuttle searches go through;
    /// `coordlab drive` reproduces its lasso on the implementation.
    /// ([`InMemoryLeaseStore::with_deviation`])
    NoLeaseExpiry,
}

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
impl Deviation {
    /// Every deviation that breaks a safety property (the ones shuttle must find).
    pub const ALL: [Deviation; 3] = [
        Deviation::NoFencing,
        Deviation::NoClockMargin,
        Deviation::CheckThenSet,
    ];

    /// The deviations that break only liveness.
    pub const LIVENESS: [Deviation; 1] = [Deviation::NoLeaseExpiry];

    /// The variant id shared with the model and the counterexample directories.
    pub const fn id(self) -> &'static str {
        match self {
            Deviation::NoFencing => "no-fencing",
            Deviation::NoClockMargin => "no-clock-margin",
            Deviation::CheckThenSet => "check-then-set",
            Deviation::NoLeaseExpiry => "no-lease-expiry",
        }
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
