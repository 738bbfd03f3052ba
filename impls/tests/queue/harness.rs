//! The shared test harness: one consumer loop, one clock driver, one effect store and one set
//! of property checks, used by every engine (std threads, loom, shuttle).
//!
//! A run: the main thread sends the messages (or a producer thread does, concurrently), then
//! `consumers` threads each make up to `receive_attempts` receive attempts while a driver thread
//! moves the clock forward `clock_ticks` times (this is what makes consumers "slow": a tick
//! between a consumer's receive and its delete can run its visibility timeout out). When all
//! threads have finished, a sweeper in the main thread moves the clock far ahead and finishes
//! whatever is left, the way a restarted fleet would. Then the properties are checked.
//!
//! Effects. Processing a message writes its effect to a store, and what "the effect happened"
//! means is the [`EffectMode`]:
//! - `Fenced`: right after receiving, a consumer claims the message in the store with its
//!   delivery number, and the store drops a write from a delivery older than the newest claim
//!   (the delivery number is a fencing token, as in Kleppmann's fencing scheme). The write is
//!   fire-and-forget: the consumer does not learn that it was dropped, and goes on to delete.
//!   Fencing keeps a slow consumer's late write from landing after a newer delivery started;
//!   it does not prevent duplicates (a slow consumer that writes *before* the newer delivery
//!   claims still counts), so effects are at-least-once.
//! - `Idempotent`: the effect goes through an [`IdempotencyLedger`] keyed by message id, so it
//!   happens at most once whichever delivery gets there first.
//!
//! Properties (the queue model's names, see [`property`]) are checked after the run: on the
//! queue's event log at every `Delete` (the model's `NoMessageLost`, step by step), and on the
//! final state (the loss itself, resolution exactly once, dead-lettering only after
//! `max_receives`, effects at most once with the ledger). The whole log is also replayed on the
//! queue's sequential semantics ([`property::EVENT_LOG_CONSISTENT`]): every step enabled, every
//! rejection with the reason the state gives and changing nothing.
//!
//! Conformance (`property::CONFORMS_TO_MODEL`): the whole log is also replayed on the queue
//! model (`coordlab_checks::conform::queue`, a dev-dependency: the library depends on neither
//! checks nor models): every step an enabled model action of the scenario's variant (its
//! deviation's id, or `correct`), every outcome the one the model's state gives. A
//! deviation's run must also leave `correct` exactly at the step where its bug acts
//! ([`bug_step`]), or nowhere if the bug never acted. The hand-written checks stay: they are
//! the second opinion. Every run is checked: the consumer's heartbeat (one
//! `change_visibility` before processing) is the model's one-off `ChangeVisibility`, and a
//! log the mapping cannot express is a `ConformsToModel` violation like a divergence. The
//! std and shuttle tests count the runs checked and say so.
//!
//! No refusal is discarded: every consumer counts the refusals it gets (stale delete, lapsed
//! heartbeat, ...), the run's log must record exactly those (also `EventLogConsistent`), and
//! the sweeper, alone, must get none. [`Report::races`] says which races a run showed while
//! its consumers ran (an expiry, a redelivery, a stale delete refused, ...), so the loom and
//! shuttle tests can assert that the races they are about happened.
//!
//! The idempotent consumer deletes a delivery whose effect the ledger had already applied
//! (`ProcessOutcome::Duplicate`) like any other: skipping it without deleting would leave the
//! message to be redelivered until it is dead-lettered, which the model's
//! `DeadLetterOnlyAfterFailures` forbids and its `duplicate-not-deleted` variant shows.
//!
//! Consumer bugs `delete-before-process` (the consumer deletes, then processes) and
//! `duplicate-not-deleted` (the duplicate branch skips the delete) live here; broker bug
//! `stale-receipt-delete` is passed to the queue's config.

// loom runs only the small scenarios (the busy ones are shuttle-sized), so under loom some of
// this module is unused.
#![cfg_attr(loom, allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use coordlab_checks::conform::queue::RunConfig;
use coordlab_checks::conform::{self, Verdict};
use coordlab_impls::clock::ManualClock;
use coordlab_impls::queue::{
    ApplyOutcome, ConsumerId, Event, EventRecord, IdempotencyLedger, MessageId, ProcessOutcome,
    QueueConfig, QueueError, ReceiptOperation, Rejection, RetryPolicy, RetryQueue,
};
use coordlab_impls::sync::{Arc, Mutex, thread};
use serde::{Deserialize, Serialize};

use crate::dice::Dice;
use crate::log_spec::check_log;

#[cfg(any(loom, shuttle))]
pub use coordlab_impls::queue::Deviation;

/// Normal builds compile no deviations (the library's `Deviation` exists only under
/// `cfg(any(test, loom, shuttle))`, and this test crate does not see the library's `cfg(test)`),
/// so here the type is uninhabited and `deviation` is always `None`.
#[cfg(not(any(loom, shuttle)))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deviation {}

/// Property names: the queue model's (`models/src/queue.rs`), checked here on the
/// implementation's runs.
pub mod property {
    /// The model's definition: a message is deleted only after its work is done: its effect
    /// has happened and no consumer still holds its newest delivery unprocessed. Checked on the
    /// event log at every `Delete` ([`super::Seen::AtStep`]); the damage it predicts, a deleted
    /// message whose effect never happened by the end of the run, is reported under the same
    /// name ([`super::Seen::AtEnd`]).
    pub const NO_MESSAGE_LOST: &str = "NoMessageLost";
    /// Every message ends deleted or dead-lettered. The model states it as a liveness property;
    /// here, at the end of a run (after the sweep), it is checked as "exactly once": never both,
    /// never twice, never neither.
    pub const EVERY_MESSAGE_RESOLVED: &str = "EveryMessageResolved";
    /// A message reaches the dead-letter queue only after `max_receives` receives.
    pub const DEAD_LETTER_ONLY_AFTER_MAX_RECEIVES: &str = "DeadLetterOnlyAfterMaxReceives";
    /// With idempotent consumers, each message's effect happens at most once.
    pub const EFFECT_AT_MOST_ONCE: &str = "EffectAtMostOnce";
    /// A message reaches the dead-letter queue only if its deliveries kept failing: no consumer
    /// finished one (its effect applied or found in the ledger) while its receipt was still
    /// valid and then let it go without deleting, releasing or crashing. Checked on the event
    /// log: a `Process` (applied or duplicate) of the newest delivery of a held message, with no
    /// later step of that consumer on that delivery, and the message dead-lettered.
    pub const DEAD_LETTER_ONLY_AFTER_FAILURES: &str = "DeadLetterOnlyAfterFailures";
    /// The implementation's own check, not a model property: the event log replays on the
    /// queue's sequential semantics (`log_spec::check_log`): every step enabled in the state
    /// the steps before it left, a rejection giving the reason that state gives and changing
    /// nothing, deadlines applied before the next operation, and the end state the queue's
    /// counts report.
    pub const EVENT_LOG_CONSISTENT: &str = "EventLogConsistent";
    /// Not a model property: the run is a behaviour of the queue model
    /// (`coordlab_checks::conform`): of the deviation's bug variant, or of `correct` without
    /// one; and a deviation's run leaves `correct` exactly at the step where its bug acts
    /// ([`super::bug_step`]), or nowhere if the bug never acted.
    pub const CONFORMS_TO_MODEL: &str = "ConformsToModel";
}

/// The retry policy, in milliseconds (readable in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Retry {
    /// [`RetryPolicy::Immediate`].
    Immediate,
    /// [`RetryPolicy::RequeueOnExpiry`].
    RequeueOnExpiry,
    /// [`RetryPolicy::ExponentialBackoff`].
    Backoff {
        /// Base delay, ms.
        base_ms: u64,
        /// Cap, ms.
        cap_ms: u64,
    },
}

impl Retry {
    fn policy(self) -> RetryPolicy {
        match self {
            Retry::Immediate => RetryPolicy::Immediate,
            Retry::RequeueOnExpiry => RetryPolicy::RequeueOnExpiry,
            Retry::Backoff { base_ms, cap_ms } => RetryPolicy::ExponentialBackoff {
                base: Duration::from_millis(base_ms),
                cap: Duration::from_millis(cap_ms),
            },
        }
    }
}

/// What happens to one delivery in a consumer's hands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Processed and deleted.
    None,
    /// The consumer crashes after receiving (and claiming), before processing.
    CrashBeforeProcess,
    /// The consumer crashes after processing, before deleting.
    CrashAfterProcess,
    /// Processing fails; the consumer releases the delivery for a retry.
    FailProcessing,
}

/// Which deliveries meet which fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Faults {
    /// No faults.
    None,
    /// `(consumer, n, fault)`: consumer `consumer`'s `n`-th delivery (from 0) meets `fault`.
    Fixed(Vec<(u32, u32, Fault)>),
    /// Each delivery independently, with these chances in thousandths. Under shuttle the dice
    /// are shuttle's (recorded in the schedule, so a replay rolls the same); elsewhere they are
    /// a fixed pseudo-random sequence per consumer.
    Random {
        /// Chance of [`Fault::CrashBeforeProcess`].
        crash_before_per_mille: u32,
        /// Chance of [`Fault::CrashAfterProcess`].
        crash_after_per_mille: u32,
        /// Chance of [`Fault::FailProcessing`].
        fail_per_mille: u32,
    },
}

/// How processing records its effect (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectMode {
    /// Claim with the delivery number, then a fire-and-forget write the store drops if a newer
    /// delivery has claimed.
    Fenced,
    /// Through an [`IdempotencyLedger`] keyed by message id.
    Idempotent,
}

/// One scenario's configuration. Every engine runs the same [`run`] on one of these; only the
/// sizes differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Messages sent.
    pub messages: u32,
    /// Send them from a producer thread running alongside the consumers (else: all sent before
    /// the consumers start).
    pub concurrent_send: bool,
    /// Consumer threads.
    pub consumers: u32,
    /// Receive attempts per consumer (an empty receive counts; the consumer then yields).
    pub receive_attempts: u32,
    /// Visibility timeout of each receive, ms.
    pub visibility_timeout_ms: u64,
    /// Heartbeat: before processing, extend the visibility timeout with `change_visibility`, and
    /// abandon the delivery if that is refused (the lease is lost).
    pub heartbeat: bool,
    /// How many times the driver thread moves the clock.
    pub clock_ticks: u32,
    /// How far each tick moves it, ms.
    pub tick_ms: u64,
    /// The queue's retry policy.
    pub retry: Retry,
    /// The queue's `max_receives`.
    pub max_receives: Option<u32>,
    /// Faults injected into deliveries.
    pub faults: Faults,
    /// How effects are recorded.
    pub effects: EffectMode,
    /// Check [`property::EFFECT_AT_MOST_ONCE`] (meaningful with `EffectMode::Idempotent`; with
    /// `Fenced` it is expected to fail).
    pub check_effect_at_most_once: bool,
    /// Keep the queue's event log: needed for the step-by-step `NoMessageLost` check and for
    /// printing a run. (It adds one lock acquisition per `Process` / `Crash` record.)
    pub record_events: bool,
    /// The protocol bug to switch on.
    pub deviation: Option<Deviation>,
}

impl Scenario {
    /// One message, two consumers with one attempt each, one clock tick past the visibility
    /// timeout: the smallest race between receive, delete and expiry.
    pub fn tiny() -> Scenario {
        Scenario {
            messages: 1,
            concurrent_send: false,
            consumers: 2,
            receive_attempts: 1,
            visibility_timeout_ms: 10,
            heartbeat: false,
            clock_ticks: 1,
            tick_ms: 10,
            retry: Retry::RequeueOnExpiry,
            max_receives: None,
            faults: Faults::None,
            effects: EffectMode::Fenced,
            check_effect_at_most_once: false,
            record_events: true,
            deviation: None,
        }
    }

    /// Four consumers, a producer, random crashes and failures, clock jumps, a dead-letter
    /// queue: the shuttle workload.
    pub fn busy() -> Scenario {
        Scenario {
            messages: 4,
            concurrent_send: true,
            consumers: 4,
            receive_attempts: 6,
            visibility_timeout_ms: 10,
            heartbeat: false,
            clock_ticks: 6,
            tick_ms: 6,
            retry: Retry::Backoff {
                base_ms: 2,
                cap_ms: 8,
            },
            max_receives: Some(3),
            faults: Faults::Random {
                crash_before_per_mille: 150,
                crash_after_per_mille: 100,
                fail_per_mille: 150,
            },
            effects: EffectMode::Fenced,
            check_effect_at_most_once: false,
            record_events: true,
            deviation: None,
        }
    }

    fn queue_config(&self) -> QueueConfig {
        let config = QueueConfig::default()
            .with_retry_policy(self.retry.policy())
            .with_event_log(self.record_events);
        let config = match self.max_receives {
            Some(n) => config.with_max_receives(n),
            None => config,
        };
        #[cfg(any(loom, shuttle))]
        let config = config.with_deviation(self.deviation);
        config
    }

    fn deletes_before_process(&self) -> bool {
        #[cfg(any(loom, shuttle))]
        return self.deviation == Some(Deviation::DeleteBeforeProcess);
        #[cfg(not(any(loom, shuttle)))]
        return false;
    }

    fn skips_duplicate_delete(&self) -> bool {
        #[cfg(any(loom, shuttle))]
        return self.deviation == Some(Deviation::DuplicateNotDeleted);
        #[cfg(not(any(loom, shuttle)))]
        return false;
    }

    fn accepts_stale_delete(&self) -> bool {
        #[cfg(any(loom, shuttle))]
        return self.deviation == Some(Deviation::StaleReceiptDelete);
        #[cfg(not(any(loom, shuttle)))]
        return false;
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.visibility_timeout_ms)
    }
}

/// Where a violation was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seen {
    /// At this step of the event log (1-based).
    AtStep(usize),
    /// In the state at the end of the run.
    AtEnd,
}

/// A property that failed, with the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The property's name (see [`property`]).
    pub property: String,
    /// Where it was seen.
    pub seen: Seen,
    /// What broke it, in one plain sentence.
    pub detail: String,
    /// The components it is about, by the names the log uses (`queue`, `c1`): a
    /// counterexample's closing note spans them.
    pub parties: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seen {
            Seen::AtStep(n) => write!(f, "{} violated at step {n}: {}", self.property, self.detail),
            Seen::AtEnd => write!(
                f,
                "{} violated at the end of the run: {}",
                self.property, self.detail
            ),
        }
    }
}

/// A refusal a consumer got, by operation and reason (the harness's own ordered copy of the
/// queue's [`ReceiptOperation`] and [`Rejection`], without the delivery numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Refusal {
    /// `delete`, `change_visibility` or `release`.
    pub operation: Operation,
    /// Why the queue refused it.
    pub reason: Reason,
}

/// [`ReceiptOperation`], ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `delete`.
    Delete,
    /// `change_visibility` (the heartbeat).
    ChangeVisibility,
    /// `release`.
    Release,
}

/// [`Rejection`], without the delivery number, ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// `StaleReceipt`: the message was received again since.
    Stale,
    /// `MessageNotInflight`: the delivery lapsed.
    NotInflight,
    /// `MessageGone`: deleted or dead-lettered.
    Gone,
    /// `UnknownReceipt`.
    Unknown,
}

impl Refusal {
    /// The refusal of `operation` with `error`.
    pub fn of(operation: ReceiptOperation, error: &QueueError) -> Refusal {
        Refusal::logged(operation, error.rejection())
    }

    /// The refusal a `Reject` event records.
    pub fn logged(operation: ReceiptOperation, reason: Rejection) -> Refusal {
        Refusal {
            operation: match operation {
                ReceiptOperation::Delete => Operation::Delete,
                ReceiptOperation::ChangeVisibility => Operation::ChangeVisibility,
                ReceiptOperation::Release => Operation::Release,
            },
            reason: match reason {
                Rejection::StaleReceipt { .. } => Reason::Stale,
                Rejection::MessageNotInflight => Reason::NotInflight,
                Rejection::MessageGone => Reason::Gone,
                Rejection::UnknownReceipt => Reason::Unknown,
            },
        }
    }
}

/// How many refusals of each kind.
pub type Refusals = BTreeMap<Refusal, u32>;

fn tally(refusals: &mut Refusals, more: &Refusals) {
    for (&r, &n) in more {
        *refusals.entry(r).or_default() += n;
    }
}

/// Something a scenario exists to exercise, seen in one run while its consumer threads ran
/// (before the sweep). Tests assert that the races they are about happened in some run, so a
/// property that held did not hold vacuously. (Real threads are not searched, so only loom and
/// shuttle ask.)
#[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Race {
    /// A delivery's visibility deadline passed (`Expire`).
    Expired,
    /// A message was received again (delivery #2 or later).
    Redelivered,
    /// A message was deleted.
    Deleted,
    /// A message was moved to the dead-letter queue.
    DeadLettered,
    /// A consumer crashed holding a delivery.
    Crashed,
    /// A consumer released a delivery (processing failed) and the queue accepted it.
    Released,
    /// The idempotency ledger found a message's effect already applied.
    DuplicateSkipped,
    /// A `delete` with a stale receipt was refused (`StaleReceipt`).
    StaleDeleteRefused,
    /// A heartbeat (`change_visibility`) with a stale receipt was refused.
    StaleHeartbeatRefused,
    /// A heartbeat after its delivery lapsed was refused (`MessageNotInflight`).
    LapsedHeartbeatRefused,
    /// A `release` with a stale receipt was refused.
    StaleReleaseRefused,
    /// A `release` after its delivery lapsed was refused (`MessageNotInflight`).
    LapsedReleaseRefused,
}

/// What a run left behind.
#[derive(Clone, Debug)]
#[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
pub struct Report {
    /// Every property that failed (empty: all held).
    pub violations: Vec<Violation>,
    /// The queue's event log (empty unless `record_events`).
    pub events: Vec<EventRecord>,
    /// Where in `events` the sweep began: the steps before it are the consumer threads' run.
    pub sweep_from: usize,
    /// The refusals the consumer threads got, counted from the errors they were returned (the
    /// sweeper is never refused: a refusal there is a violation). [`check`] asserts that the
    /// log records exactly these.
    pub refusals: Refusals,
    /// The messages deleted (by consumers and the sweeper), in no particular order, and the
    /// messages dead-lettered with their receive counts.
    pub deleted: Vec<MessageId>,
    /// The dead-letter queue at the end: message and receive count.
    pub dead_lettered: BTreeMap<MessageId, u32>,
    /// How the run's log replayed on the queue model (needs the event log).
    pub conformance: Conformance,
}

/// How a run's event log replayed on the queue model of its variant.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
pub enum Conformance {
    /// The event log is off.
    NotRecorded,
    /// The run is a behaviour of the model of its variant; for a deviation's run, the step
    /// at which it leaves `correct` (the bug's step), if the bug acted.
    Conforms {
        /// Where a deviation's run left `correct`.
        leaves_correct_at: Option<usize>,
    },
    /// The run diverged, or its log could not be checked against the model (a
    /// `ConformsToModel` violation says how).
    Diverges,
}

impl Report {
    /// The races this run showed while its consumer threads ran (needs the event log).
    #[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
    pub fn races(&self) -> BTreeSet<Race> {
        let mut races = BTreeSet::new();
        for record in &self.events[..self.sweep_from] {
            let race = match record.event {
                Event::Expire { .. } => Race::Expired,
                Event::Receive { delivery: 2.., .. } => Race::Redelivered,
                Event::Delete { .. } => Race::Deleted,
                Event::MoveToDeadLetter { .. } => Race::DeadLettered,
                Event::Crash {
                    message: Some(_), ..
                } => Race::Crashed,
                Event::Release { .. } => Race::Released,
                Event::Process {
                    outcome: ProcessOutcome::Duplicate,
                    ..
                } => Race::DuplicateSkipped,
                _ => continue,
            };
            races.insert(race);
        }
        for (refusal, &n) in &self.refusals {
            let race = match (refusal.operation, refusal.reason) {
                (Operation::Delete, Reason::Stale) => Race::StaleDeleteRefused,
                (Operation::ChangeVisibility, Reason::Stale) => Race::StaleHeartbeatRefused,
                (Operation::ChangeVisibility, Reason::NotInflight) => Race::LapsedHeartbeatRefused,
                (Operation::Release, Reason::Stale) => Race::StaleReleaseRefused,
                (Operation::Release, Reason::NotInflight) => Race::LapsedReleaseRefused,
                _ => continue,
            };
            if n > 0 {
                races.insert(race);
            }
        }
        races
    }

    /// Panics with the first violation, naming its property; loom and shuttle turn that panic
    /// into a failing schedule.
    #[cfg_attr(not(any(loom, shuttle)), allow(dead_code))]
    pub fn assert_ok(&self) {
        if let Some(v) = self.violations.first() {
            panic!("{v}");
        }
    }
}

/// The store processing writes to.
struct Effects {
    mode: EffectMode,
    state: Mutex<BTreeMap<MessageId, EffectState>>,
    ledger: IdempotencyLedger<MessageId>,
}

#[derive(Default)]
struct EffectState {
    newest_claim: u32,
    applied: u32,
}

impl Effects {
    fn new(mode: EffectMode) -> Effects {
        Effects {
            mode,
            state: Mutex::new(BTreeMap::new()),
            ledger: IdempotencyLedger::new(),
        }
    }

    /// Fenced mode: delivery `delivery` of `message` has started.
    fn claim(&self, message: MessageId, delivery: u32) {
        if self.mode == EffectMode::Fenced {
            let mut state = self.state.lock().unwrap();
            let entry = state.entry(message).or_default();
            entry.newest_claim = entry.newest_claim.max(delivery);
        }
    }

    /// Writes the effect of processing `message` under delivery `delivery`.
    fn process(&self, message: MessageId, delivery: u32) -> ProcessOutcome {
        let apply = || {
            let mut state = self.state.lock().unwrap();
            let entry = state.entry(message).or_default();
            if delivery < entry.newest_claim {
                return ProcessOutcome::Superseded;
            }
            entry.applied += 1;
            ProcessOutcome::Applied
        };
        match self.mode {
            EffectMode::Fenced => apply(),
            EffectMode::Idempotent => match self.ledger.apply_once(message, apply) {
                ApplyOutcome::Applied(outcome) => outcome,
                ApplyOutcome::Duplicate => ProcessOutcome::Duplicate,
            },
        }
    }

    fn applied(&self) -> BTreeMap<MessageId, u32> {
        let state = self.state.lock().unwrap();
        state.iter().map(|(&m, s)| (m, s.applied)).collect()
    }
}

fn fault_for(faults: &Faults, consumer: u32, nth: u32, dice: &mut Dice) -> Fault {
    match faults {
        Faults::None => Fault::None,
        Faults::Fixed(list) => list
            .iter()
            .find(|&&(c, n, _)| c == consumer && n == nth)
            .map_or(Fault::None, |&(_, _, f)| f),
        Faults::Random {
            crash_before_per_mille,
            crash_after_per_mille,
            fail_per_mille,
        } => {
            let roll = dice.roll();
            if roll < *crash_before_per_mille {
                Fault::CrashBeforeProcess
            } else if roll < crash_before_per_mille + crash_after_per_mille {
                Fault::CrashAfterProcess
            } else if roll < crash_before_per_mille + crash_after_per_mille + fail_per_mille {
                Fault::FailProcessing
            } else {
                Fault::None
            }
        }
    }
}

type Queue = RetryQueue<u32, ManualClock>;

struct Shared {
    scenario: Scenario,
    queue: Queue,
    clock: ManualClock,
    effects: Effects,
}

impl Shared {
    /// Every message sent has been deleted or dead-lettered.
    fn settled(&self) -> bool {
        let c = self.queue.counts();
        c.sent == u64::from(self.scenario.messages) && c.deleted + c.dead_lettered == c.sent
    }
}

/// What one consumer thread did: the messages it deleted and the refusals it got.
#[derive(Default)]
struct Outcome {
    deleted: Vec<MessageId>,
    refusals: Refusals,
}

impl Outcome {
    /// Notes the answer to `operation`: a deleted message, or a refusal. Returns whether the
    /// queue accepted it.
    fn note<R>(
        &mut self,
        operation: ReceiptOperation,
        message: MessageId,
        answer: Result<R, QueueError>,
    ) -> bool {
        match answer {
            Ok(_) => {
                if operation == ReceiptOperation::Delete {
                    self.deleted.push(message);
                }
                true
            }
            Err(e) => {
                *self.refusals.entry(Refusal::of(operation, &e)).or_default() += 1;
                false
            }
        }
    }
}

/// One consumer's loop. Returns the messages it deleted and every refusal it got.
fn consume(shared: &Shared, me: u32, mut attempts: u32, faults: &Faults) -> Outcome {
    let s = &shared.scenario;
    let consumer = shared.queue.consumer(ConsumerId(me));
    let mut dice = Dice::for_thread(me);
    let mut out = Outcome::default();
    let mut nth = 0;
    while attempts > 0 {
        attempts -= 1;
        if s.receive_attempts > 1 && shared.settled() {
            break;
        }
        let Some(delivery) = consumer.receive(s.timeout()) else {
            thread::yield_now();
            continue;
        };
        let receipt = delivery.receipt;
        let message = delivery.message;
        shared.effects.claim(message, receipt.delivery());
        let fault = fault_for(faults, me, nth, &mut dice);
        nth += 1;
        if s.heartbeat {
            let answer = consumer.change_visibility(&receipt, s.timeout());
            if !out.note(ReceiptOperation::ChangeVisibility, message, answer) {
                // Lost the lease: someone else has the message now. Drop the work.
                continue;
            }
        }
        if s.deletes_before_process() {
            out.note(ReceiptOperation::Delete, message, consumer.delete(&receipt));
        }
        match fault {
            Fault::CrashBeforeProcess => {
                consumer.record_crash(Some(&receipt));
                continue;
            }
            Fault::FailProcessing => {
                // The queue may refuse (stale receipt, lapsed delivery, message gone); either
                // way this consumer is done with the delivery.
                out.note(
                    ReceiptOperation::Release,
                    message,
                    consumer.release(&receipt),
                );
                continue;
            }
            Fault::None | Fault::CrashAfterProcess => {}
        }
        let outcome = shared.effects.process(message, receipt.delivery());
        consumer.record_process(&receipt, outcome);
        if fault == Fault::CrashAfterProcess {
            consumer.record_crash(Some(&receipt));
            continue;
        }
        if outcome == ProcessOutcome::Duplicate && s.skips_duplicate_delete() {
            // The `duplicate-not-deleted` bug: "already done, nothing to do".
            continue;
        }
        if !s.deletes_before_process() {
            out.note(ReceiptOperation::Delete, message, consumer.delete(&receipt));
        }
    }
    out
}

/// Runs the scenario once on the current engine's threads and checks its properties.
pub fn run(scenario: &Scenario) -> Report {
    let clock = ManualClock::new();
    let shared = Arc::new(Shared {
        scenario: scenario.clone(),
        queue: RetryQueue::new(scenario.queue_config(), clock.clone()),
        clock,
        effects: Effects::new(scenario.effects),
    });

    let mut producer = None;
    if scenario.concurrent_send {
        let shared = Arc::clone(&shared);
        producer = Some(thread::spawn(move || {
            for body in 0..shared.scenario.messages {
                shared.queue.send(body);
            }
        }));
    } else {
        for body in 0..scenario.messages {
            shared.queue.send(body);
        }
    }

    let consumers: Vec<_> = (0..scenario.consumers)
        .map(|me| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let attempts = shared.scenario.receive_attempts;
                let faults = shared.scenario.faults.clone();
                consume(&shared, me, attempts, &faults)
            })
        })
        .collect();

    let driver = (scenario.clock_ticks > 0).then(|| {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            for _ in 0..shared.scenario.clock_ticks {
                if shared.scenario.clock_ticks > 1 && shared.settled() {
                    break;
                }
                // The queue logs the `Tick` itself, at the first operation that sees the new
                // time.
                shared
                    .clock
                    .advance(Duration::from_millis(shared.scenario.tick_ms));
                thread::yield_now();
            }
        })
    });

    if let Some(producer) = producer {
        producer.join().unwrap();
    }
    let mut outcome = Outcome::default();
    for consumer in consumers {
        let theirs = consumer.join().unwrap();
        outcome.deleted.extend(theirs.deleted);
        tally(&mut outcome.refusals, &theirs.refusals);
    }
    if let Some(driver) = driver {
        driver.join().unwrap();
    }

    let sweep_from = shared.queue.events().len();
    let swept = sweep(&shared);
    check(&shared, outcome, swept, sweep_from)
}

const SWEEPER: u32 = 999;

/// After the run: move the clock far past every deadline and finish what is left with a
/// reliable consumer (no faults, no deviation in its own steps). It works alone, so the queue
/// refuses it nothing: its deletes and refusals are returned for [`check`] to hold to that.
fn sweep(shared: &Shared) -> Outcome {
    let s = &shared.scenario;
    let far = Duration::from_millis(1_000 + s.visibility_timeout_ms * 4);
    let mut out = Outcome::default();
    // Each message needs at most one successful pass; the bound only guards against a harness
    // or queue bug that would otherwise loop forever.
    for _ in 0..(s.messages * 4 + 8) {
        if shared.settled() {
            return out;
        }
        shared.clock.advance(far);
        let consumer = shared.queue.consumer(ConsumerId(SWEEPER));
        while let Some(d) = consumer.receive(s.timeout()) {
            shared.effects.claim(d.message, d.receipt.delivery());
            let outcome = shared.effects.process(d.message, d.receipt.delivery());
            consumer.record_process(&d.receipt, outcome);
            out.note(
                ReceiptOperation::Delete,
                d.message,
                consumer.delete(&d.receipt),
            );
        }
    }
    panic!(
        "harness: the sweep did not settle the queue: {:?}",
        shared.queue.counts()
    );
}

fn check(shared: &Shared, consumers: Outcome, swept: Outcome, sweep_from: usize) -> Report {
    let s = &shared.scenario;
    let mut deleted = consumers.deleted;
    deleted.extend(&swept.deleted);
    shared.queue.check_invariants();
    let counts = shared.queue.counts();
    let events = shared.queue.events();
    let applied = shared.effects.applied();
    let dead: BTreeMap<MessageId, u32> = shared
        .queue
        .dead_letters()
        .iter()
        .map(|d| (d.message, d.receive_count))
        .collect();
    let mut deletes: BTreeMap<MessageId, u32> = BTreeMap::new();
    for &m in &deleted {
        *deletes.entry(m).or_default() += 1;
    }

    let mut violations = check_deletes(&events);
    violations.extend(check_dead_letters(&events));
    if !swept.refusals.is_empty() {
        violations.push(Violation {
            property: property::EVENT_LOG_CONSISTENT.to_owned(),
            seen: Seen::AtEnd,
            detail: format!(
                "the sweeper, working alone, was refused {:?}",
                swept.refusals
            ),
            parties: vec!["queue".to_owned(), format!("c{SWEEPER}")],
        });
    }
    if s.record_events {
        let mut logged = Refusals::new();
        for record in &events {
            if let Event::Reject {
                operation, reason, ..
            } = record.event
            {
                *logged
                    .entry(Refusal::logged(operation, reason))
                    .or_default() += 1;
            }
        }
        let mut got = consumers.refusals.clone();
        tally(&mut got, &swept.refusals);
        if logged != got {
            violations.push(Violation {
                property: property::EVENT_LOG_CONSISTENT.to_owned(),
                seen: Seen::AtEnd,
                detail: format!("the consumers were refused {got:?}, the log records {logged:?}"),
                parties: vec!["queue".to_owned()],
            });
        }
    }
    if s.record_events
        && let Err(e) = check_log(
            &events,
            shared.queue.config().max_receives,
            s.accepts_stale_delete(),
            &counts,
        )
    {
        violations.push(Violation {
            property: property::EVENT_LOG_CONSISTENT.to_owned(),
            seen: e.step.map_or(Seen::AtEnd, Seen::AtStep),
            detail: e.detail,
            parties: vec!["queue".to_owned()],
        });
    }
    // The queue, and the consumers that deleted message `m` (if any).
    let deleters = |m: Option<MessageId>| -> Vec<String> {
        let mut parties = vec!["queue".to_owned()];
        for e in &events {
            if let Event::Delete {
                message,
                consumer: Some(c),
                ..
            } = e.event
                && Some(message) == m
                && !parties.contains(&c.to_string())
            {
                parties.push(c.to_string());
            }
        }
        parties
    };
    let mut violate = |property: &str, detail: String, about: Option<MessageId>| {
        violations.push(Violation {
            property: property.to_owned(),
            seen: Seen::AtEnd,
            detail,
            parties: deleters(about),
        });
    };
    let mut duplicated = Vec::new();
    for n in 0..u64::from(s.messages) {
        let m = MessageId::new(n);
        let effects = applied.get(&m).copied().unwrap_or(0);
        let dels = deletes.get(&m).copied().unwrap_or(0);
        let dead_lettered = dead.contains_key(&m);
        if effects == 0 && !dead_lettered {
            violate(
                property::NO_MESSAGE_LOST,
                if dels > 0 {
                    format!(
                        "{m} was deleted, but its effect never happened and it is not in the dead-letter queue"
                    )
                } else {
                    format!("{m} was neither processed nor dead-lettered")
                },
                Some(m),
            );
        }
        if dels + u32::from(dead_lettered) != 1 {
            violate(
                property::EVERY_MESSAGE_RESOLVED,
                format!("{m} was deleted {dels} times and dead-lettered {dead_lettered}"),
                Some(m),
            );
        }
        if s.check_effect_at_most_once && effects > 1 {
            // The parties: the queue and the consumers whose processing applied the effect.
            let mut parties = vec!["queue".to_owned()];
            for e in &events {
                if let Event::Process {
                    message,
                    consumer: Some(c),
                    outcome: ProcessOutcome::Applied,
                    ..
                } = e.event
                    && message == m
                    && !parties.contains(&c.to_string())
                {
                    parties.push(c.to_string());
                }
            }
            duplicated.push(Violation {
                property: property::EFFECT_AT_MOST_ONCE.to_owned(),
                seen: Seen::AtEnd,
                detail: format!("{m}'s effect happened {effects} times"),
                parties,
            });
        }
    }
    for (&m, &receives) in &dead {
        if Some(receives) != s.max_receives {
            violate(
                property::DEAD_LETTER_ONLY_AFTER_MAX_RECEIVES,
                format!(
                    "{m} was dead-lettered after {receives} receives (max_receives {:?})",
                    s.max_receives
                ),
                Some(m),
            );
        }
    }
    if counts.sent != u64::from(s.messages)
        || counts.deleted + counts.dead_lettered != counts.sent
        || counts.deleted != deleted.len() as u64
    {
        violate(
            property::EVERY_MESSAGE_RESOLVED,
            format!(
                "the queue's counts {counts:?} disagree with {} deletes seen by consumers",
                deleted.len()
            ),
            None,
        );
    }
    violations.extend(duplicated);
    let conformance = check_conformance(s, &events, sweep_from, &mut violations);
    Report {
        violations,
        events,
        sweep_from,
        refusals: consumers.refusals,
        deleted,
        dead_lettered: dead,
        conformance,
    }
}

/// The run log's configuration, for the conformance check.
pub fn run_config(s: &Scenario) -> RunConfig {
    RunConfig {
        visibility_timeout_ms: s.visibility_timeout_ms,
        retry: match s.retry {
            Retry::Immediate => conform::queue::Retry::Immediate,
            Retry::RequeueOnExpiry => conform::queue::Retry::RequeueOnExpiry,
            Retry::Backoff { base_ms, cap_ms } => {
                conform::queue::Retry::Backoff { base_ms, cap_ms }
            }
        },
        max_receives: s.max_receives,
        idempotent: s.effects == EffectMode::Idempotent,
    }
}

/// The model variant a scenario's run must conform to: its deviation's id, or `correct`.
pub fn variant(s: &Scenario) -> &'static str {
    match s.deviation {
        #[cfg(any(loom, shuttle))]
        Some(d) => d.id(),
        #[cfg(not(any(loom, shuttle)))]
        Some(d) => match d {},
        None => "correct",
    }
}

/// The step (1-based) at which a deviation's bug acts in `events`, which is where its run
/// leaves the `correct` model; `None` if it never acts (or the scenario has no deviation).
/// - `delete-before-process`: the first delete (accepted or refused) of a delivery its
///   consumer has not processed.
/// - `stale-receipt-delete`: the first delete accepted with a stale receipt.
/// - `duplicate-not-deleted`: the first step of a consumer after it found a delivery's
///   effect in the ledger, when that step is not the delete of that delivery (the correct
///   consumer deletes; this one has let the delivery go) nor a crash holding it.
#[cfg(not(any(loom, shuttle)))]
pub fn bug_step(s: &Scenario, _: &[EventRecord]) -> Option<usize> {
    s.deviation.map(|d| match d {})
}

#[cfg(any(loom, shuttle))]
pub fn bug_step(s: &Scenario, events: &[EventRecord]) -> Option<usize> {
    match s.deviation? {
        Deviation::DeleteBeforeProcess => {
            let mut processed: BTreeSet<(MessageId, u32)> = BTreeSet::new();
            events.iter().enumerate().find_map(|(i, r)| match r.event {
                Event::Process {
                    message, delivery, ..
                } => {
                    processed.insert((message, delivery));
                    None
                }
                Event::Delete {
                    message, delivery, ..
                }
                | Event::Reject {
                    operation: ReceiptOperation::Delete,
                    message,
                    delivery,
                    ..
                } if !processed.contains(&(message, delivery)) => Some(i + 1),
                _ => None,
            })
        }
        Deviation::StaleReceiptDelete => events.iter().position(|r| {
            matches!(r.event, Event::Delete { delivery, current, .. } if delivery != current)
        }).map(|i| i + 1),
        Deviation::DuplicateNotDeleted => {
            // Consumers that skipped a duplicate: consumer -> (message, delivery).
            let mut skipped: BTreeMap<ConsumerId, (MessageId, u32)> = BTreeMap::new();
            events.iter().enumerate().find_map(|(i, r)| {
                let (who, step_on) = match r.event {
                    Event::Process {
                        consumer: Some(c),
                        message,
                        delivery,
                        outcome,
                    } => {
                        if outcome == ProcessOutcome::Duplicate {
                            skipped.insert(c, (message, delivery));
                            return None;
                        }
                        (c, Some((message, delivery)))
                    }
                    Event::Delete {
                        consumer: Some(c),
                        message,
                        delivery,
                        ..
                    }
                    | Event::Reject {
                        operation: ReceiptOperation::Delete,
                        consumer: Some(c),
                        message,
                        delivery,
                        ..
                    } => (c, Some((message, delivery))),
                    Event::Receive {
                        consumer: Some(c), ..
                    }
                    | Event::Release {
                        consumer: Some(c), ..
                    }
                    | Event::ChangeVisibility {
                        consumer: Some(c), ..
                    }
                    | Event::Reject {
                        consumer: Some(c), ..
                    } => (c, None),
                    // The harness's crash after processing comes before the skip: the
                    // bug has not acted yet.
                    Event::Crash {
                        consumer,
                        message,
                        delivery,
                    } => (consumer, message.zip(delivery)),
                    _ => return None,
                };
                let held = skipped.remove(&who)?;
                (step_on != Some(held)).then_some(i + 1)
            })
        }
    }
}

/// Replays the run's log on the model of its variant and, for a deviation, on `correct`;
/// pushes a `ConformsToModel` violation if the run is not a behaviour of its variant, or
/// leaves `correct` anywhere but at its bug's step, or if the log cannot be checked at all
/// (every log of the harness must be expressible in the model).
fn check_conformance(
    s: &Scenario,
    events: &[EventRecord],
    sweep_from: usize,
    violations: &mut Vec<Violation>,
) -> Conformance {
    if !s.record_events {
        return Conformance::NotRecorded;
    }
    let config = run_config(s);
    let own = variant(s);
    let mut violate = |detail: String| {
        violations.push(Violation {
            property: property::CONFORMS_TO_MODEL.to_owned(),
            seen: Seen::AtEnd,
            detail,
            parties: vec!["queue".to_owned()],
        });
        Conformance::Diverges
    };
    // The sweeper is a reliable consumer, not one of the deviation's: a consumer-side bug
    // variant's model has every consumer buggy (`duplicate-not-deleted`'s would not delete
    // the duplicate the sweeper deletes), so a deviation's run is checked against its variant
    // up to the sweep; the whole run is checked against `correct`.
    let checked = if own == "correct" {
        events
    } else {
        &events[..sweep_from]
    };
    match conform::queue::check(&config, own, checked) {
        Ok(Verdict::Conforms { .. }) => {}
        Ok(Verdict::Diverges(d)) => return violate(d.to_string()),
        Err(e) => {
            return violate(format!(
                "the log cannot be checked against queue/{own}: {e}"
            ));
        }
    }
    if own == "correct" {
        return Conformance::Conforms {
            leaves_correct_at: None,
        };
    }
    let expected = bug_step(s, events);
    let left = match conform::queue::check(&config, "correct", events) {
        Ok(Verdict::Conforms { .. }) => None,
        Ok(Verdict::Diverges(d)) => Some(*d),
        Err(e) => {
            return violate(format!(
                "the log cannot be checked against queue/correct: {e}"
            ));
        }
    };
    let at = left.as_ref().map(|d| d.step);
    if at != expected {
        return violate(format!(
            "the {own} run should leave queue/correct at {}, where its bug acts, but {}",
            expected.map_or("no step".to_owned(), |n| format!("step {n}")),
            left.map_or("it conforms to it".to_owned(), |d| format!(
                "it leaves it {d}"
            ))
        ));
    }
    Conformance::Conforms {
        leaves_correct_at: at,
    }
}

/// `NoMessageLost` as the model states it (`models/src/queue.rs`, `lost_message`), at every
/// `Delete` in the event log: the message's effect has happened (a `Process` that applied it,
/// or found it already applied), and no consumer holds its newest delivery unprocessed —
/// the deleting consumer included: a delete with the newest receipt before that delivery was
/// processed loses the message if the consumer then fails, even when an earlier delivery's
/// effect already happened. A delivery stops being held unprocessed when its holder processes
/// it, releases it, crashes, or is refused a heartbeat (it then drops the work, as the model's
/// refused `Heartbeat` makes the consumer idle).
pub fn check_deletes(events: &[EventRecord]) -> Vec<Violation> {
    #[derive(Default)]
    struct Message {
        effect: bool,
        /// Deliveries received and not yet finished, with their holder.
        open: BTreeMap<u32, Option<ConsumerId>>,
    }
    let mut messages: BTreeMap<MessageId, Message> = BTreeMap::new();
    let mut violations = Vec::new();
    for (i, record) in events.iter().enumerate() {
        match record.event {
            Event::Receive {
                message,
                delivery,
                consumer,
                ..
            } => {
                messages
                    .entry(message)
                    .or_default()
                    .open
                    .insert(delivery, consumer);
            }
            Event::Process {
                message,
                delivery,
                outcome,
                ..
            } => {
                let m = messages.entry(message).or_default();
                m.effect |= outcome != ProcessOutcome::Superseded;
                m.open.remove(&delivery);
            }
            Event::Release {
                message, delivery, ..
            }
            | Event::Reject {
                operation: ReceiptOperation::ChangeVisibility,
                message,
                delivery,
                ..
            }
            | Event::Crash {
                message: Some(message),
                delivery: Some(delivery),
                ..
            } => {
                messages.entry(message).or_default().open.remove(&delivery);
            }
            Event::Delete {
                message,
                delivery,
                current,
                consumer,
            } => {
                let m = messages.entry(message).or_default();
                let who = consumer.map_or_else(|| "a consumer".to_owned(), |c| c.to_string());
                let mut parties = vec!["queue".to_owned()];
                parties.extend(consumer.map(|c| c.to_string()));
                let detail = if !m.effect {
                    Some(format!(
                        "{who} deleted {message} before its effect happened"
                    ))
                } else if let Some(&holder) = m.open.get(&current) {
                    if current == delivery {
                        Some(format!(
                            "{who} deleted {message} with the receipt of delivery #{delivery} before processing that delivery, its newest (an earlier delivery's effect had happened)"
                        ))
                    } else {
                        parties.extend(holder.map(|c| c.to_string()));
                        let holder =
                            holder.map_or_else(|| "a consumer".to_owned(), |c| c.to_string());
                        Some(format!(
                            "{who} deleted {message} with the receipt of delivery #{delivery} while {holder} held its newest delivery #{current} unprocessed"
                        ))
                    }
                } else {
                    None
                };
                if let Some(detail) = detail {
                    violations.push(Violation {
                        property: property::NO_MESSAGE_LOST.to_owned(),
                        seen: Seen::AtStep(i + 1),
                        detail,
                        parties,
                    });
                }
            }
            _ => {}
        }
    }
    violations
}

/// `DeadLetterOnlyAfterFailures` on the event log: every dead-lettered message whose delivery a
/// consumer processed (effect applied or found in the ledger) while that delivery's receipt
/// was valid (its newest, the message still held) and then let go: no later step of that
/// consumer on that delivery in the whole log (no delete, release, visibility change,
/// rejection or crash). Seen at the `MoveToDeadLetter`. (A consumer that is merely slow and
/// deletes after the message was dead-lettered has a later step: its rejected delete.)
pub fn check_dead_letters(events: &[EventRecord]) -> Vec<Violation> {
    let mut newest: BTreeMap<MessageId, u32> = BTreeMap::new();
    let mut resolved: Vec<MessageId> = Vec::new();
    let mut dead_lettered: Vec<(MessageId, usize)> = Vec::new();
    // Deliveries processed with a valid receipt: (message, delivery) -> (consumer, step).
    let mut finished: BTreeMap<(MessageId, u32), (Option<ConsumerId>, usize)> = BTreeMap::new();
    for (i, record) in events.iter().enumerate() {
        // The step of `consumer` on (message, delivery), if this event is one.
        let step_on = match record.event {
            Event::Delete {
                message,
                delivery,
                consumer,
                ..
            }
            | Event::Release {
                message,
                delivery,
                consumer,
                ..
            }
            | Event::ChangeVisibility {
                message,
                delivery,
                consumer,
                ..
            }
            | Event::Reject {
                message,
                delivery,
                consumer,
                ..
            } => Some((message, delivery, consumer)),
            Event::Crash {
                consumer,
                message: Some(message),
                delivery: Some(delivery),
            } => Some((message, delivery, Some(consumer))),
            _ => None,
        };
        if let Some((message, delivery, consumer)) = step_on
            && finished
                .get(&(message, delivery))
                .is_some_and(|&(c, _)| c == consumer)
        {
            finished.remove(&(message, delivery));
        }
        match record.event {
            Event::Receive {
                message, delivery, ..
            } => {
                newest.insert(message, delivery);
            }
            Event::Process {
                message,
                delivery,
                consumer,
                outcome: ProcessOutcome::Applied | ProcessOutcome::Duplicate,
            } if newest.get(&message) == Some(&delivery) && !resolved.contains(&message) => {
                finished.insert((message, delivery), (consumer, i + 1));
            }
            Event::Delete { message, .. } => resolved.push(message),
            Event::MoveToDeadLetter { message, .. } => {
                resolved.push(message);
                dead_lettered.push((message, i + 1));
            }
            _ => {}
        }
    }
    let mut violations = Vec::new();
    for (message, at) in dead_lettered {
        let dropped = finished.iter().find(|((m, _), _)| *m == message);
        if let Some((&(_, delivery), &(consumer, step))) = dropped {
            let who = consumer.map_or_else(|| "a consumer".to_owned(), |c| c.to_string());
            let mut parties = vec!["queue".to_owned()];
            parties.extend(consumer.map(|c| c.to_string()));
            violations.push(Violation {
                property: property::DEAD_LETTER_ONLY_AFTER_FAILURES.to_owned(),
                seen: Seen::AtStep(at),
                detail: format!(
                    "{message} was dead-lettered, but {who} had finished its delivery #{delivery} (step {step}) and let it go without deleting it"
                ),
                parties,
            });
        }
    }
    violations
}

/// The scenario's event log as readable lines (for failure messages and the Markdown trace).
pub fn render_events(events: &[EventRecord]) -> String {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{:>3}. {e}\n", i + 1))
        .collect()
}

#[cfg(not(any(loom, shuttle)))]
mod tests {
    //! [`check_deletes`] on hand-written logs: it has the model's definition of
    //! `NoMessageLost`, so a delete is a violation when any consumer, the deleter included,
    //! still holds the newest delivery unprocessed.

    use coordlab_impls::clock::Instant;

    use super::*;

    const M0: MessageId = MessageId::new(0);
    const C0: Option<ConsumerId> = Some(ConsumerId(0));
    const C1: Option<ConsumerId> = Some(ConsumerId(1));

    fn at(ms: u64, event: Event) -> EventRecord {
        EventRecord {
            at: Instant::from_millis(ms),
            event,
        }
    }

    fn receive(ms: u64, delivery: u32, consumer: Option<ConsumerId>) -> EventRecord {
        at(
            ms,
            Event::Receive {
                message: M0,
                delivery,
                consumer,
                visible_until: Instant::from_millis(ms + 10),
            },
        )
    }

    fn process(ms: u64, delivery: u32, consumer: Option<ConsumerId>) -> EventRecord {
        at(
            ms,
            Event::Process {
                message: M0,
                delivery,
                consumer,
                outcome: ProcessOutcome::Applied,
            },
        )
    }

    fn delete(ms: u64, delivery: u32, current: u32, consumer: Option<ConsumerId>) -> EventRecord {
        at(
            ms,
            Event::Delete {
                message: M0,
                delivery,
                current,
                consumer,
            },
        )
    }

    /// c0 processes delivery #1 of m0 and then outlasts its visibility timeout (it crashes);
    /// c1 receives delivery #2. m0's effect has happened.
    fn redelivered_after_the_effect() -> Vec<EventRecord> {
        vec![
            at(0, Event::Send { message: M0 }),
            receive(0, 1, C0),
            process(0, 1, C0),
            at(
                0,
                Event::Crash {
                    consumer: ConsumerId(0),
                    message: Some(M0),
                    delivery: Some(1),
                },
            ),
            at(
                10,
                Event::Tick {
                    now: Instant::from_millis(10),
                },
            ),
            at(
                10,
                Event::Expire {
                    message: M0,
                    delivery: 1,
                },
            ),
            receive(10, 2, C1),
        ]
    }

    /// The gap the model's definition closes: c1 deletes the redelivery with its own, newest
    /// receipt before processing it. The effect happened under delivery #1, but c1 still holds
    /// #2 unprocessed: if it fails now, m0 can never be retried. The model's `lost_message`
    /// finds its own holder (`stale: false, processed: false`); so must the harness.
    #[test]
    fn delete_before_processing_a_redelivery_is_a_loss() {
        let mut log = redelivered_after_the_effect();
        log.push(delete(10, 2, 2, C1));
        let found = check_deletes(&log);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].property, property::NO_MESSAGE_LOST);
        assert_eq!(found[0].seen, Seen::AtStep(8));
        assert!(
            found[0]
                .detail
                .contains("c1 deleted m0 with the receipt of delivery #2 before processing"),
            "{}",
            found[0].detail
        );
        assert_eq!(found[0].parties, ["queue", "c1"]);
    }

    /// The same delete after c1 processed its delivery is what the correct consumer does.
    #[test]
    fn delete_after_processing_the_newest_delivery_is_fine() {
        let mut log = redelivered_after_the_effect();
        log.push(process(10, 2, C1));
        log.push(delete(10, 2, 2, C1));
        assert_eq!(check_deletes(&log), []);
    }

    /// A stale delete while another consumer holds the newest delivery unprocessed (the
    /// `stale-receipt-delete` loss), and a first delivery deleted before any effect (the
    /// `delete-before-process` loss).
    #[test]
    fn a_stale_delete_and_a_delete_before_any_effect_are_losses() {
        let mut log = redelivered_after_the_effect();
        log.push(delete(10, 1, 2, C0));
        let found = check_deletes(&log);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .detail
                .contains("while c1 held its newest delivery #2 unprocessed"),
            "{}",
            found[0].detail
        );
        assert_eq!(found[0].parties, ["queue", "c0", "c1"]);

        let log = vec![
            at(0, Event::Send { message: M0 }),
            receive(0, 1, C0),
            delete(0, 1, 1, C0),
        ];
        let found = check_deletes(&log);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].detail.contains("before its effect happened"),
            "{}",
            found[0].detail
        );
    }

    /// A holder that let its delivery go (released it, or was refused a heartbeat and dropped
    /// the work) no longer holds it: a delete after that is not a loss on its account.
    #[test]
    fn a_delivery_let_go_is_no_longer_held() {
        for let_go in [
            Event::Release {
                message: M0,
                delivery: 2,
                consumer: C1,
                visible_at: Instant::from_millis(10),
            },
            Event::Reject {
                operation: ReceiptOperation::ChangeVisibility,
                message: M0,
                delivery: 2,
                consumer: C1,
                reason: Rejection::MessageNotInflight,
            },
        ] {
            let mut log = redelivered_after_the_effect();
            log.push(at(10, let_go));
            log.push(delete(10, 2, 2, C1));
            assert_eq!(check_deletes(&log), []);
        }
    }
}
