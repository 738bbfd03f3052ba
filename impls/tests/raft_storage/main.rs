//! Tests of Raft's durable storage: the conformance suite (`raft::testing`) on the
//! in-memory and the file-backed store, with proof that each of its cases can fail; the
//! file store's recovery from torn writes and its refusal of damaged logs; and a proptest of
//! the file store against a reference model, with reopens.
//!
//! The file-system tests do not run under `--cfg loom` or `--cfg shuttle`: the store does
//! plain std I/O, which neither engine models, so only the in-memory suite runs there.

mod suite;

#[cfg(not(any(loom, shuttle)))]
mod files;

#[cfg(not(any(loom, shuttle)))]
mod recovery;

#[cfg(not(any(loom, shuttle)))]
mod reference;
