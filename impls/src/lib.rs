//! Real, thread-safe implementations of coordlab's coordination protocols, written against one
//! sync facade ([`sync`]) so the same code runs on std threads, under loom (`--cfg loom`) and
//! under shuttle (`--cfg shuttle`).
//!
//! So far: [`queue`], an SQS-style retrying work queue with visibility timeouts, per-delivery
//! receipts, retry policies, a dead-letter queue and an idempotent-consumer helper; and
//! [`election`], leader election through a lease store with fencing tokens, electors that
//! time their lease on their own drifting clocks, and storage that fences off deposed
//! leaders; [`deque`], a bounded Chase–Lev work-stealing deque (an owner pushes and pops
//! at one end, thieves steal from the other), whose every atomic access loom checks; and
//! [`pool`], a work-stealing thread pool with bounded per-worker queues, backpressure
//! (`submit` waits, `try_submit` refuses) and the `stealing` model's sleep protocol
//! (register, fence, check again, park), checked under shuttle with the model's bug variants
//! as deviations (its own "What is not checked" is in the module docs); and [`raft`], Raft's
//! log replication as a pure core (events in, a `Ready` out), durable storage (in memory,
//! or a fsynced write-ahead log), a replicated key-value store with client sessions and
//! read-index reads, and an in-process cluster runtime with a faulty network (its own
//! "What is not checked" is in the module docs).
//!
//! ```
//! use std::time::Duration;
//! use coordlab_impls::clock::ManualClock;
//! use coordlab_impls::queue::{QueueConfig, QueueError, RetryPolicy, RetryQueue};
//! # // Under `--cfg loom` / `--cfg shuttle` the queue's lock only works inside a model.
//! # if coordlab_impls::sync::ENGINE != "std" { return Ok(()); }
//!
//! let clock = ManualClock::new();
//! let config = QueueConfig::default()
//!     .with_retry_policy(RetryPolicy::Immediate)
//!     .with_max_receives(3);
//! let queue = RetryQueue::new(config, clock.clone());
//! queue.send("resize image 42");
//!
//! let first = queue.receive(Duration::from_secs(30)).expect("a visible message");
//! // The consumer is slow: its visibility timeout runs out, so the message is delivered again.
//! clock.advance(Duration::from_secs(31));
//! let second = queue.receive(Duration::from_secs(30)).expect("redelivered");
//! assert_eq!(second.receive_count, 2);
//!
//! // The slow consumer's receipt is stale now: its delete is refused, the message stays.
//! assert!(matches!(queue.delete(&first.receipt), Err(QueueError::StaleReceipt { .. })));
//! queue.delete(&second.receipt)?;
//! assert_eq!(queue.counts().deleted, 1);
//! # Ok::<(), QueueError>(())
//! ```
//!
//! # How it is checked
//!
//! The tests (`impls/tests/queue/`) write each concurrent scenario once and run it on real
//! threads (`cargo test`), under `loom::model` (`RUSTFLAGS="--cfg loom"`: every interleaving of
//! 2–3 threads, within a stated preemption bound) and under shuttle (`RUSTFLAGS="--cfg
//! shuttle"`: random and PCT schedules of 4+ consumers with crashes and clock jumps). Shuttle
//! must find each of the model's bug variants it can switch on (`delete-before-process`,
//! `stale-receipt-delete`, `duplicate-not-deleted`); the failing schedules of the first two are
//! committed under `counterexamples/queue/impl-*/` and replayed by the tests. The properties
//! are the queue model's (`NoMessageLost`, `EveryMessageResolved`,
//! `DeadLetterOnlyAfterMaxReceives`, `DeadLetterOnlyAfterFailures`, `EffectAtMostOnce`),
//! checked on each run's event log and final state; each log is also
//! replayed on the queue's sequential semantics, so a refused operation that changed the queue
//! is caught. Races of refusals (a heartbeat or release against its own lapse and another
//! consumer's receive; receipts presented to a queue made at the same time) run on all three
//! engines. A proptest state-machine test compares every return value of the queue with a
//! sequential reference model.
//!
//! # What is not checked
//!
//! - **Bounds.** loom explores every interleaving only of the small scenarios it runs (one or
//!   two messages, two or three consumers plus a clock driver) and only up to each test's
//!   preemption bound (2 to 4); longer runs are covered by shuttle, which samples schedules
//!   and proves nothing. A passing shuttle run means "no failure in the schedules tried", not
//!   "correct".
//! - **Memory model.** All shared state is behind one mutex; the only atomics are the manual
//!   clock (Release/Acquire) and the counter queue ids come from (Relaxed, read-modify-write
//!   only). loom's approximation of `SeqCst` and its limited modelling of relaxed loads are
//!   therefore not exercised in any interesting way, and shuttle does not model weak memory at
//!   all. `SystemClock` is never run under loom or shuttle.
//! - **The harness's assumptions.** Runs are bounded (a fixed number of receive attempts and
//!   clock ticks per thread), then a sweeper finishes what is left; a "crash" is a consumer
//!   abandoning its delivery and carrying on. Effects go to an in-memory store fenced by
//!   delivery number (a slow consumer's write is dropped once a newer delivery claimed the
//!   message); that is what turns a stale delete into an actual loss at the end of a run.
//!   Without fencing, a stale delete that follows the slow consumer's own successful
//!   processing loses nothing; the model's `NoMessageLost`, checked on the event log at every
//!   delete, flags it either way.
//! - **Lazy time.** Deadlines take effect at the next queue operation. Checks observe the queue
//!   only through operations, so they cannot tell the difference; a program that watches the
//!   clock itself could.
//! - **Durability and distribution.** The queue and the idempotency ledger are in memory in
//!   one process. Nothing here checks crash-recovery of the queue itself, network partitions,
//!   or clock skew between machines: a "crash" in the tests is a consumer abandoning its
//!   delivery.
//! - **Liveness.** The tests check that every message ends deleted or dead-lettered in runs
//!   that finish; they do not prove that a run always finishes (no fairness argument), and a
//!   consumer that keeps extending its visibility holds a message forever.
//! - **Model conformance.** The event log uses the queue model's action names, but no test here
//!   replays an implementation log on the model; that is the `checks` crate's job.

#![warn(missing_docs)]

pub mod clock;
pub mod deque;
pub mod election;
pub mod pool;
pub mod queue;
pub mod raft;
pub mod sync;
