//! Tests of the `deque` implementation (bounded Chase–Lev). One binary for all engines; the
//! engine is chosen by the build's cfg:
//!
//! - `cargo test -p coordlab-impls --test deque`: the proptest comparison with a `VecDeque`,
//!   destructors, and the scenarios and a stress run on real threads.
//! - `RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release --target-dir target/loom
//!   --test deque`: every interleaving of the small scenarios (an owner and one or two
//!   thieves), "loom finds each deviation", and the committed loom counterexamples.
//! - `RUSTFLAGS="--cfg shuttle" cargo test -p coordlab-impls --release --target-dir
//!   target/shuttle --test deque`: an owner, two thieves and 8 tasks under random and PCT
//!   schedules, and which deviations shuttle can and cannot find.

mod harness;

#[cfg(not(any(loom, shuttle)))]
mod model;

#[cfg(not(any(loom, shuttle)))]
mod std_threads;

#[cfg(loom)]
mod loom_tests;

#[cfg(loom)]
mod counterexamples;

#[cfg(loom)]
#[path = "../support/files.rs"]
mod files;

#[cfg(shuttle)]
mod shuttle_tests;
