//! Tests of the `raft` implementation. One binary for all engines; the engine is chosen by
//! the build's cfg:
//!
//! - `cargo test -p coordlab-impls --test raft`: the named scenarios on std threads with
//!   real ticks, and the clusters' checks (the five properties of Figure 3 on the
//!   implementation's own states, and the linearizability of the key-value history).
//! - `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//!   target/shuttle --test raft`: 3- and 5-server clusters under shuttle's random and PCT
//!   schedules with crashes, restarts, partitions and a faulty network; the "shuttle finds
//!   each bug" tests and the committed counterexamples' replay.
//! - `RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release --target-dir target/loom
//!   --test raft`: the runtime's mailboxes (blocking receive, tick coalescing, a crash's
//!   drain) in every interleaving.

#[cfg(not(loom))]
mod conform;
#[cfg(not(loom))]
#[path = "../support/dice.rs"]
mod dice;
#[cfg(not(loom))]
mod harness;

#[cfg(not(any(loom, shuttle)))]
mod scenarios;
#[cfg(not(any(loom, shuttle)))]
mod std_threads;

#[cfg(loom)]
mod loom_tests;

#[cfg(shuttle)]
mod shuttle_tests;

#[cfg(shuttle)]
#[path = "../support/shuttle_search.rs"]
mod shuttle_search;

#[cfg(shuttle)]
#[path = "../support/files.rs"]
mod files;

#[cfg(shuttle)]
mod counterexamples;

#[cfg(shuttle)]
#[path = "../support/impl_counterexamples.rs"]
mod impl_counterexamples;
