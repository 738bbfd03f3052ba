//! Tests of the `election` implementation. One binary for all engines; the engine is chosen by
//! the build's cfg:
//!
//! - `cargo test -p coordlab-impls`: the scenarios on std threads, and the proptest comparison
//!   of the lease store and storage with sequential references.
//! - `RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release --target-dir target/loom`:
//!   acquisition, renewal, release and expiry racing on 2–3 threads, and one elector shared
//!   by a heartbeat, a writer and a resignation, every interleaving up to a preemption bound.
//! - `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//!   target/shuttle`: 3–5 nodes (some sharing each elector between a heartbeat thread and
//!   writer threads) with pauses, slow clocks, clock jumps, crashes and resignations under
//!   random and PCT schedules, time moving 1 ms at a time, the "shuttle finds each bug" tests
//!   and the committed counterexamples' replay.

#[cfg(not(loom))]
#[path = "../support/dice.rs"]
mod dice;
#[cfg(not(loom))]
mod harness;
#[cfg(not(loom))]
mod scenarios;

#[cfg(not(any(loom, shuttle)))]
mod std_threads;

#[cfg(not(any(loom, shuttle)))]
mod model;

#[cfg(not(any(loom, shuttle)))]
mod conform;

#[cfg(loom)]
mod loom_tests;

#[cfg(shuttle)]
mod shuttle_tests;

#[cfg(shuttle)]
mod counterexamples;

#[cfg(shuttle)]
#[path = "../support/files.rs"]
mod files;

#[cfg(shuttle)]
#[path = "../support/shuttle_search.rs"]
mod shuttle_search;
