//! Tests of the `queue` implementation. One binary for all engines; the engine is chosen by
//! the build's cfg:
//!
//! - `cargo test -p coordlab-impls`: scenarios and refusal races on std threads, the proptest
//!   comparison with a sequential reference model, and the event-log checker on hand-written
//!   logs.
//! - `RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release --target-dir target/loom`:
//!   the small scenarios and the refusal races under loom.
//! - `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//!   target/shuttle`: all scenarios under shuttle's random and PCT schedulers, the
//!   "shuttle finds each bug" tests, and the committed counterexamples' replay.

mod batch;
mod delete_checks;
#[path = "../support/dice.rs"]
mod dice;
mod harness;
mod log_spec;
mod refusals;
mod scenarios;
mod sharded;

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

// The queue's searches use the random scheduler only (`search_pct` is the election's).
#[cfg(shuttle)]
#[path = "../support/shuttle_search.rs"]
#[allow(dead_code)]
mod shuttle_search;
