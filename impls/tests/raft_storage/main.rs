//! Tests of Raft's durable storage: the conformance suite (`raft::testing`) on the
//! in-memory store, with proof that each of its cases can fail.

mod suite;
