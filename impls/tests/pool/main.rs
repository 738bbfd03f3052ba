//! Tests of the work-stealing `pool`. One binary for all engines; the engine is chosen by the
//! build's cfg:
//!
//! - `cargo test -p coordlab-impls --test pool`: scenarios on std threads, the builder's
//!   errors, and the proptest comparison of a stepped pool with a sequential reference.
//! - `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//!   target/shuttle --test pool`: the scenarios under shuttle's random and PCT schedulers,
//!   the "shuttle finds each bug" tests, and the committed counterexamples' replay.
//!
//! The pool has no loom tests (its protocol is the model's; the crate compiles under loom).

#![cfg(not(loom))]

mod harness;

#[cfg(not(any(loom, shuttle)))]
mod std_threads;

#[cfg(not(any(loom, shuttle)))]
mod model;

#[cfg(shuttle)]
mod shuttle_tests;

#[cfg(shuttle)]
mod counterexamples;

#[cfg(shuttle)]
#[path = "../support/files.rs"]
mod files;

#[cfg(shuttle)]
#[path = "../support/shuttle_search.rs"]
#[allow(dead_code)]
mod shuttle_search;

#[cfg(shuttle)]
#[path = "../support/impl_counterexamples.rs"]
mod impl_counterexamples;
