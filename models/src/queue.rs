//! The retrying work queue: an SQS-style broker with visibility timeouts, retry policies
//! and a dead-letter queue, a producer, and consumers that receive, process and delete,
//! optionally extending their deliveries with heartbeats.
//!
//! Source: the Amazon SQS Developer Guide — "Amazon SQS visibility timeout", "Amazon SQS
//! dead-letter queues" (redrive policy, `maxReceiveCount`) and the `ReceiveMessage`,
//! `DeleteMessage` and `ChangeMessageVisibility` API references: a receive hides a message
//! for the visibility timeout and issues a receipt handle for that one delivery; only the
//! handle of the message's latest delivery deletes it; a message whose receive count has
//! reached `maxReceiveCount` is moved to the dead-letter queue instead of being delivered
//! again — a delivery neither deleted nor extended before its visibility timeout runs out
//! "counts as a failed receive" (`ReceiveMessage`, `VisibilityTimeout`). Consumers follow
//! the at-least-once pattern: receive, apply the effect, delete; idempotent consumers
//! check an idempotency key in the ledger where they apply the effect, atomically (a
//! unique-key insert in the same transaction), and delete a duplicate they skip.
//!
//! Heartbeats: while a consumer holds a delivery it may renew it every `heartbeat` ticks
//! with `ChangeMessageVisibility(receipt, visibility-timeout)`, which sets the visibility
//! to the full timeout counted from the call — what Pub/Sub clients do with
//! `modifyAckDeadline` ("lease management") and Service Bus clients with
//! `RenewMessageLock`. The broker accepts it only with the newest delivery's receipt and
//! only while the message is still in flight: once the visibility has run out, even if
//! nobody received the message since, SQS answers `MessageNotInflight` (Service Bus:
//! `MessageLockLost`), and the same holds for a release (`ChangeMessageVisibility` for a
//! retry). A delete with the newest receipt is still accepted after the visibility ran
//! out, as long as nobody received the message since (the `DeleteMessage` reference: the
//! most recently received handle deletes; `ChangeMessageVisibility` warns that such a late
//! delete "might result in an error", and the model takes the outcome in which it
//! succeeds, the one that can delete a message another consumer is about to receive). A
//! consumer whose heartbeat is refused has learnt that its delivery no longer owns the
//! message and stops working on it. A running heartbeat is punctual (time waits for a due
//! one); a consumer pause stops it.
//!
//! One-off visibility changes (`change-visibility`, off by default): a consumer may call
//! `ChangeMessageVisibility(receipt, visibility-timeout)` once on a delivery it holds, at
//! any time before it deletes it — what a consumer does that extends its delivery once
//! before a long piece of work rather than on a schedule (the implementation's test
//! consumers do it right after receiving, whenever they get to it). The broker's answer is
//! the heartbeat's: accepted while the delivery owns the message (the timer back to
//! `visibility-timeout`, counted from the call), refused otherwise, and the consumer drops
//! the delivery. It is a separate action because a heartbeat is a different behaviour:
//! periodic and punctual, so time waits for it, while a one-off change happens whenever
//! the consumer gets to it — possibly after the deadline it was meant to move, when it is
//! refused — and time does not wait. It is bounded to once per delivery (a flag in
//! `Consumer::Holding`, as `renewed` is for heartbeats): renewing as often as it likes is
//! what heartbeats model, and an unbounded change in the consumer's own fairness class
//! would let a consumer that changes the visibility forever count as taking steps while it
//! never finishes its work, a lasso that is not a bug of the protocol.
//!
//! `delete-before-process`: the consumer that deleted a message before processing it may
//! still fail to process it and release it; the broker refuses the release (the message is
//! gone, or the delete was refused because its receipt is stale, which refuses the release
//! too), and the consumer is done with the delivery.
//!
//! Fault model: consumers crash mid-processing (bounded by `max_crashes`) and restart idle,
//! abandoning their delivery; processing fails (a poison message, a transient error) and the
//! consumer gives the message back for a retry; a consumer can be slow for any number of
//! ticks, so without heartbeats its visibility timeout expires while it works; with
//! heartbeats on, a consumer may pause (a GC or VM stall, bounded by `max_pauses`) for any
//! number of ticks, its heartbeat with it, and resume not knowing what happened meanwhile.
//! Time is a discrete clock: the state keeps only the ticks left on each timer, so the
//! state space stays finite while behaviours can run forever — heartbeats need no bound of
//! their own, as each renewal sets a timer back to the same value.
//!
//! Out of scope: message bodies, batching and prefetching, FIFO ordering and message
//! groups, long polling, the maximum total visibility (12 hours in SQS), the broker's own
//! replication (it is one linearizable service here).

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

use crate::{
    Arrow, Class, Fairness, Kind, ModelError, Parts, Prop, Protocol, Variant, Violation,
    decode_part, encode_part, ticks,
};

/// How a message comes back after a consumer reports that processing failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryPolicy {
    /// `ChangeMessageVisibility(0)`: visible again at once.
    Immediate,
    /// Do nothing: the message comes back when its visibility timeout runs out.
    RequeueOnExpiry,
    /// `ChangeMessageVisibility(d)`: hidden for `min(base * 2^(receives-1), cap)` ticks.
    #[default]
    ExponentialBackoff,
}

/// Bounds and knobs of one queue check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Messages the producer sends (in order).
    pub messages: u8,
    /// Interchangeable consumers.
    pub consumers: u8,
    /// Ticks a received message stays invisible.
    pub visibility_timeout: u8,
    /// Receives after which a message goes to the dead-letter queue (`maxReceiveCount`).
    pub max_receives: u8,
    pub retry: RetryPolicy,
    /// Base delay of exponential backoff, in ticks.
    pub backoff_base: u8,
    /// Largest backoff delay, in ticks.
    pub backoff_cap: u8,
    /// Consumer crashes allowed in one behaviour.
    pub max_crashes: u8,
    /// Ticks between a consumer's heartbeats while it holds a delivery (0: consumers do not
    /// heartbeat). Each heartbeat sets the delivery's visibility back to
    /// `visibility_timeout` (`ChangeMessageVisibility`); less than `visibility_timeout`,
    /// so that it lands before the deadline.
    pub heartbeat: u8,
    /// Consumer pauses (a GC or VM stall that stops the consumer and its heartbeat) allowed
    /// in one behaviour; used only with heartbeats.
    pub max_pauses: u8,
    /// Consumers may call `ChangeMessageVisibility` once on each delivery they hold, at a
    /// time of their choosing ([`Action::ChangeVisibility`]). Off by default; written into a
    /// configuration (a trace's, `coordlab check --json`'s) only when on, so the checks and
    /// traces without it read as before it existed.
    #[serde(skip_serializing_if = "is_false")]
    pub change_visibility: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            messages: 1,
            consumers: 2,
            visibility_timeout: 2,
            max_receives: 2,
            retry: RetryPolicy::ExponentialBackoff,
            backoff_base: 1,
            backoff_cap: 2,
            max_crashes: 1,
            heartbeat: 0,
            max_pauses: 0,
            change_visibility: false,
        }
    }
}

/// A named deviation from the correct protocol: each removes one guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// Consumers delete a message as soon as they receive it, then process it.
    DeleteBeforeProcess,
    /// Consumers apply the effect without checking the idempotency key.
    NoIdempotency,
    /// The broker deletes a message given the receipt of any of its deliveries.
    StaleReceiptDelete,
    /// No redrive policy: a message is delivered again however often it was received.
    NoDeadLetter,
    /// An idempotent consumer that finds a message's key in the ledger skips the duplicate
    /// delivery without deleting it, so the message keeps coming back until it is
    /// dead-lettered although its work is done.
    DuplicateNotDeleted,
    /// A consumer's heartbeat renews its delivery's visibility once and then stops, while
    /// the consumer goes on working.
    HeartbeatStops,
}

const VARIANTS: &[(Variant, Option<Bug>)] = &[
    (
        Variant {
            id: "correct",
            summary: "delete after processing, receipts checked, idempotent consumers, dead-letter queue",
        },
        None,
    ),
    (
        Variant {
            id: "delete-before-process",
            summary: "consumers delete a message on receipt and process it afterwards",
        },
        Some(Bug::DeleteBeforeProcess),
    ),
    (
        Variant {
            id: "no-idempotency",
            summary: "consumers apply the effect without checking the idempotency key",
        },
        Some(Bug::NoIdempotency),
    ),
    (
        Variant {
            id: "stale-receipt-delete",
            summary: "the broker accepts a delete carrying the receipt of an earlier delivery",
        },
        Some(Bug::StaleReceiptDelete),
    ),
    (
        Variant {
            id: "no-dead-letter",
            summary: "no redrive policy: a message that always fails is retried forever",
        },
        Some(Bug::NoDeadLetter),
    ),
    (
        Variant {
            id: "duplicate-not-deleted",
            summary: "an idempotent consumer that finds a message's key in the ledger skips the duplicate without deleting it",
        },
        Some(Bug::DuplicateNotDeleted),
    ),
    (
        Variant {
            id: "heartbeat-stops",
            summary: "a consumer's heartbeat extends its delivery's visibility once and then stops",
        },
        Some(Bug::HeartbeatStops),
    ),
];

/// Where a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The producer has not sent it yet.
    Unsent,
    /// In the queue; receivable once `delay` ticks have passed (backoff).
    Visible { delay: u8 },
    /// Delivered and hidden for `timeout` more ticks.
    InFlight { timeout: u8 },
    /// Deleted by a consumer: done.
    Deleted,
    /// Moved to the dead-letter queue.
    DeadLettered,
}

/// One message at the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Message {
    pub status: Status,
    /// Times it has been received (SQS `ApproximateReceiveCount`), saturating at the
    /// largest count any guard, property or backoff delay tells apart from larger ones.
    pub receives: u8,
    /// A consumer finished a delivery of it (its effect applied, or found in the ledger)
    /// and let that delivery go while it still owned the message, without deleting it or
    /// giving it back. The broker cannot see this (to SQS it is a delivery that timed out);
    /// `DeadLetterOnlyAfterFailures` needs it to tell a message that kept failing from one
    /// a consumer dropped. Only `duplicate-not-deleted` sets it. (Absent in a trace
    /// file written before it existed: `false`.)
    #[serde(default)]
    pub dropped: bool,
}

/// What a consumer is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consumer {
    Idle,
    /// Holds one delivery of message `msg`. The receipt handle of a delivery is valid while
    /// it is the message's latest; `stale` records that the message was received again
    /// since (the broker compares handles; this is the same comparison).
    Holding {
        msg: u8,
        stale: bool,
        processed: bool,
        deleted: bool,
        /// A heartbeat of this delivery was accepted. (Absent in trace files written
        /// before heartbeats: `false`, as for `pause`.)
        #[serde(default)]
        renewed: bool,
        /// The consumer has called `ChangeMessageVisibility` on this delivery (with
        /// `change-visibility` on; accepted, as a refused one leaves the consumer idle). It
        /// calls it at most once per delivery. (Absent in trace files written before
        /// one-off changes: `false`.)
        #[serde(default)]
        changed: bool,
        #[serde(default)]
        pause: Pause,
    },
}

/// Whether a consumer that holds a delivery is running (pauses happen only with
/// heartbeats on).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Pause {
    #[default]
    Running,
    /// Stalled (a GC or VM pause): neither the consumer nor its heartbeat takes a step.
    Paused,
    /// Resumed after its delivery lost the message during the pause (its visibility ran
    /// out), not knowing it yet: its next heartbeat will be refused.
    ResumedLate,
}

/// Most messages or consumers a configuration may have. States hold their parts inline
/// (no heap), which keeps them small and cheap to clone in the checker's inner loop.
pub const MAX_PARTS: usize = 8;

/// The whole system.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueueState {
    pub messages: ArrayVec<Message, MAX_PARTS>,
    pub consumers: ArrayVec<Consumer, MAX_PARTS>,
    /// Effects applied per message (the external side effect, e.g. a payment), saturating
    /// at 2: "more than once" is all the properties need.
    pub ledger: ArrayVec<u8, MAX_PARTS>,
    pub crashes: u8,
    /// Consumer pauses so far. (Absent in trace files written before pauses: 0.)
    #[serde(default)]
    pub pauses: u8,
}

/// The actions, in the order of a message's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The producer sends message `msg` (`SendMessage`).
    Send { msg: u8 },
    /// A consumer receives a visible message (`ReceiveMessage`).
    Receive { consumer: u8, msg: u8 },
    /// The consumer's heartbeat extends its delivery's visibility to the visibility
    /// timeout (`ChangeMessageVisibility`); refused once the delivery no longer owns the
    /// message, and the consumer then stops working on it.
    Heartbeat { consumer: u8 },
    /// The consumer calls `ChangeMessageVisibility(receipt, visibility-timeout)` once on the
    /// delivery it holds, at any time before it deletes it (with `change-visibility` on):
    /// accepted while the delivery owns the message, its timer set back to
    /// `visibility-timeout`; refused otherwise, and the consumer, having learnt that it lost
    /// the message, drops the delivery.
    ChangeVisibility { consumer: u8 },
    /// The consumer applies the message's effect (checking the idempotency key).
    Process { consumer: u8 },
    /// Processing failed: the consumer gives the message back per the retry policy.
    Release { consumer: u8 },
    /// The consumer deletes the message with its receipt handle (`DeleteMessage`).
    Delete { consumer: u8 },
    /// The consumer crashes and restarts idle, abandoning its delivery.
    Crash { consumer: u8 },
    /// The consumer stalls (a GC or VM pause): neither it nor its heartbeat runs.
    Pause { consumer: u8 },
    /// The paused consumer runs again.
    Resume { consumer: u8 },
    /// One tick of time: timers run down; an expired visibility timeout makes the message
    /// visible again.
    Tick,
    /// The broker moves a message that reached `max_receives` to the dead-letter queue.
    MoveToDeadLetter { msg: u8 },
}

/// The queue model of one variant.
#[derive(Clone, Debug)]
pub struct QueueModel {
    variant: &'static str,
    bug: Option<Bug>,
    config: QueueConfig,
}

impl QueueModel {
    pub fn bug(&self) -> Option<Bug> {
        self.bug
    }

    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    /// Receive counts saturate here: no guard, property or delay distinguishes larger
    /// counts. The redrive guard compares with `max-receives`, `MessageRedelivered` with 2,
    /// and exponential backoff grows with the count until it reaches `backoff-cap`: from
    /// [`QueueModel::backoff_saturation`] receives on every count gives the same delay, so
    /// saturating there (or higher) changes no backoff the model computes.
    pub fn receive_cap(&self) -> u8 {
        let cap = self.config.max_receives.max(2);
        match self.config.retry {
            RetryPolicy::ExponentialBackoff => cap.max(self.backoff_saturation()),
            RetryPolicy::Immediate | RetryPolicy::RequeueOnExpiry => cap,
        }
    }

    /// The smallest receive count whose backoff is already `backoff-cap`: the least `r` with
    /// `backoff-base × 2^(r − 1) ≥ backoff-cap` (at most 9, as both are at most 255 and the
    /// base is at least 1).
    fn backoff_saturation(&self) -> u8 {
        let c = &self.config;
        let mut r = 1u8;
        while (u16::from(c.backoff_base) << (r - 1)) < u16::from(c.backoff_cap) {
            r += 1;
        }
        r
    }

    /// A receive count for a person: without a redrive policy counts saturate at
    /// [`QueueModel::receive_cap`], and the label says so (the count is exact when it
    /// first gets there, and not counted further).
    fn receives_label(&self, n: u8) -> String {
        if n >= self.receive_cap() && self.has(Bug::NoDeadLetter) {
            format!("{n} (the model counts no higher)")
        } else {
            n.to_string()
        }
    }

    /// The number of the delivery a receive makes, given the receive count before it.
    fn delivery_label(&self, before: u8) -> String {
        if before >= self.receive_cap() && self.has(Bug::NoDeadLetter) {
            format!("{} or later", before + 1)
        } else {
            (before + 1).to_string()
        }
    }

    /// The redrive rule: a visible message that has been received `max_receives` times
    /// goes to the dead-letter queue instead of being delivered again.
    fn redrive(&self, m: &Message) -> bool {
        !self.has(Bug::NoDeadLetter) && m.receives >= self.config.max_receives
    }

    fn backoff(&self, receives: u8) -> u8 {
        let c = &self.config;
        let shift = u32::from(receives.saturating_sub(1)).min(7);
        (u16::from(c.backoff_base) << shift).min(u16::from(c.backoff_cap)) as u8
    }

    /// The delay a released message waits before it is visible again, or `None` if it
    /// stays in flight until its visibility timeout runs out.
    fn retry_delay(&self, receives: u8) -> Option<u8> {
        match self.config.retry {
            RetryPolicy::Immediate => Some(0),
            RetryPolicy::RequeueOnExpiry => None,
            RetryPolicy::ExponentialBackoff => Some(self.backoff(receives)),
        }
    }

    /// Whether the broker accepts `DeleteMessage` with this consumer's receipt: it is the
    /// receipt of the message's newest delivery and the message is still in the queue.
    /// SQS deletes with the newest receipt even after the visibility timeout ran out, as
    /// long as nobody received the message since.
    fn receipt_valid(state: &QueueState, consumer: &Consumer) -> bool {
        match *consumer {
            Consumer::Holding { msg, stale, .. } => {
                !stale
                    && !matches!(
                        state.messages[msg as usize].status,
                        Status::Deleted | Status::DeadLettered
                    )
            }
            Consumer::Idle => false,
        }
    }

    /// Whether this consumer's delivery still owns its message: its receipt is the newest
    /// and the message is still in flight. Only then does the broker accept
    /// `ChangeMessageVisibility` (a heartbeat, or a release for a retry): once the
    /// visibility has run out the message is no longer in flight, even if nobody has
    /// received it since, and SQS answers `MessageNotInflight`.
    fn owns(state: &QueueState, consumer: &Consumer) -> bool {
        Self::receipt_valid(state, consumer)
            && holding(consumer).is_some_and(|(msg, ..)| {
                matches!(state.messages[msg as usize].status, Status::InFlight { .. })
            })
    }

    /// Why the broker refuses `ChangeMessageVisibility` with this consumer's receipt, in
    /// SQS's terms; `None` if it accepts it.
    fn refusal(state: &QueueState, consumer: &Consumer) -> Option<String> {
        let (msg, stale, ..) = holding(consumer)?;
        Some(match state.messages[msg as usize].status {
            Status::Deleted => format!("m{msg} is already deleted"),
            Status::DeadLettered => format!("m{msg} is already in the dead-letter queue"),
            _ if stale => format!("its receipt is stale: m{msg} was received again since"),
            Status::InFlight { .. } => return None,
            _ => format!(
                "m{msg}'s visibility timeout has run out, it is no longer in flight (MessageNotInflight)"
            ),
        })
    }

    /// Whether this consumer's heartbeat is due now. Heartbeats run (with heartbeats on)
    /// while the consumer holds a delivery it has not deleted and is not paused. One is due
    /// `heartbeat` ticks after the receive or the last renewal — both set the visibility
    /// to `visibility-timeout`, so that is when `visibility-timeout − heartbeat` ticks are
    /// left — and at once when the delivery no longer owns the message (overdue: it will be
    /// refused). `heartbeat-stops`: none is due after the first renewal.
    fn heartbeat_due(&self, s: &QueueState, c: &Consumer) -> bool {
        let hb = self.config.heartbeat;
        let Consumer::Holding {
            msg,
            stale,
            deleted,
            renewed,
            pause,
            ..
        } = *c
        else {
            return false;
        };
        if hb == 0 || deleted || pause == Pause::Paused {
            return false;
        }
        if renewed && self.has(Bug::HeartbeatStops) {
            return false;
        }
        match s.messages[msg as usize].status {
            Status::InFlight { timeout } if !stale => {
                self.config.visibility_timeout - timeout >= hb
            }
            _ => true,
        }
    }
}

fn holding(c: &Consumer) -> Option<(u8, bool, bool, bool)> {
    match *c {
        Consumer::Holding {
            msg,
            stale,
            processed,
            deleted,
            ..
        } => Some((msg, stale, processed, deleted)),
        Consumer::Idle => None,
    }
}

impl Model for QueueModel {
    type State = QueueState;
    type Action = Action;

    fn init_states(&self) -> Vec<QueueState> {
        let c = &self.config;
        let unsent = Message {
            status: Status::Unsent,
            receives: 0,
            dropped: false,
        };
        vec![QueueState {
            messages: (0..c.messages).map(|_| unsent).collect(),
            consumers: (0..c.consumers).map(|_| Consumer::Idle).collect(),
            ledger: (0..c.messages).map(|_| 0).collect(),
            crashes: 0,
            pauses: 0,
        }]
    }

    fn actions(&self, s: &QueueState, actions: &mut Vec<Action>) {
        // The producer sends in order.
        if let Some(msg) = s.messages.iter().position(|m| m.status == Status::Unsent) {
            actions.push(Action::Send { msg: msg as u8 });
        }
        for (ci, c) in s.consumers.iter().enumerate() {
            let consumer = ci as u8;
            match holding(c) {
                None => {
                    for (mi, m) in s.messages.iter().enumerate() {
                        if m.status == (Status::Visible { delay: 0 }) && !self.redrive(m) {
                            actions.push(Action::Receive {
                                consumer,
                                msg: mi as u8,
                            });
                        }
                    }
                }
                Some(_)
                    if matches!(
                        c,
                        Consumer::Holding {
                            pause: Pause::Paused,
                            ..
                        }
                    ) =>
                {
                    actions.push(Action::Resume { consumer });
                }
                Some((_, _, processed, deleted)) => {
                    if self.heartbeat_due(s, c) {
                        actions.push(Action::Heartbeat { consumer });
                    }
                    if self.config.change_visibility
                        && !deleted
                        && matches!(c, Consumer::Holding { changed: false, .. })
                    {
                        actions.push(Action::ChangeVisibility { consumer });
                    }
                    if !processed {
                        actions.push(Action::Process { consumer });
                        // After a delete too (`delete-before-process`, the only variant in
                        // which a consumer holds a delivery it deleted unprocessed): its
                        // processing can fail, and the broker refuses the release.
                        actions.push(Action::Release { consumer });
                    }
                    // The guard `processed` is what makes delete-after-process correct.
                    if !deleted && (processed || self.has(Bug::DeleteBeforeProcess)) {
                        actions.push(Action::Delete { consumer });
                    }
                    if s.crashes < self.config.max_crashes {
                        actions.push(Action::Crash { consumer });
                    }
                    if self.config.heartbeat > 0
                        && s.pauses < self.config.max_pauses
                        && !deleted
                        && matches!(
                            c,
                            Consumer::Holding {
                                pause: Pause::Running,
                                ..
                            }
                        )
                    {
                        actions.push(Action::Pause { consumer });
                    }
                }
            }
        }
        let timer_running = s.messages.iter().any(|m| {
            matches!(m.status, Status::Visible { delay } | Status::InFlight { timeout: delay } if delay > 0)
        });
        // A heartbeat that is due goes out before time moves on: a running heartbeat is
        // punctual. Only a pause (or the bug) lets a deadline pass unrenewed.
        let heartbeat_due = s.consumers.iter().any(|c| self.heartbeat_due(s, c));
        if timer_running && !heartbeat_due {
            actions.push(Action::Tick);
        }
        for (mi, m) in s.messages.iter().enumerate() {
            if m.status == (Status::Visible { delay: 0 }) && self.redrive(m) {
                actions.push(Action::MoveToDeadLetter { msg: mi as u8 });
            }
        }
    }

    fn next_state(&self, s: &QueueState, action: Action) -> Option<QueueState> {
        let mut n = s.clone();
        match action {
            Action::Send { msg } => {
                n.messages[msg as usize].status = Status::Visible { delay: 0 };
            }
            Action::Receive { consumer, msg } => {
                let m = &mut n.messages[msg as usize];
                m.status = Status::InFlight {
                    timeout: self.config.visibility_timeout,
                };
                m.receives = (m.receives + 1).min(self.receive_cap());
                // Every earlier receipt of this message is now stale.
                for c in &mut n.consumers {
                    if let Consumer::Holding {
                        msg: held, stale, ..
                    } = c
                        && *held == msg
                    {
                        *stale = true;
                    }
                }
                n.consumers[consumer as usize] = Consumer::Holding {
                    msg,
                    stale: false,
                    processed: false,
                    deleted: false,
                    renewed: false,
                    changed: false,
                    pause: Pause::Running,
                };
            }
            Action::Process { consumer } => {
                let c = &mut n.consumers[consumer as usize];
                let Consumer::Holding {
                    msg,
                    processed,
                    deleted,
                    ..
                } = c
                else {
                    return None;
                };
                let effects = &mut n.ledger[*msg as usize];
                // The idempotency key: skip the effect if the ledger already has it.
                let duplicate = *effects > 0 && !self.has(Bug::NoIdempotency);
                if !duplicate {
                    *effects = (*effects + 1).min(2);
                }
                *processed = true;
                if *deleted {
                    *c = Consumer::Idle;
                } else if duplicate && self.has(Bug::DuplicateNotDeleted) {
                    // The bug: the duplicate branch returns without deleting. (Correct
                    // consumers hold on to the delivery; their next step deletes it.)
                    let msg = *msg as usize;
                    if Self::receipt_valid(s, &s.consumers[consumer as usize]) {
                        n.messages[msg].dropped = true;
                    }
                    n.consumers[consumer as usize] = Consumer::Idle;
                }
            }
            Action::Release { consumer } => {
                let c = n.consumers[consumer as usize];
                let (msg, ..) = holding(&c)?;
                // ChangeMessageVisibility: refused once the delivery no longer owns the
                // message (a stale receipt, or its visibility ran out).
                if Self::owns(s, &c) {
                    let m = &mut n.messages[msg as usize];
                    if let Some(delay) = self.retry_delay(m.receives) {
                        m.status = Status::Visible { delay };
                    }
                }
                n.consumers[consumer as usize] = Consumer::Idle;
            }
            Action::Delete { consumer } => {
                let c = n.consumers[consumer as usize];
                let (msg, _, processed, _) = holding(&c)?;
                let m = &mut n.messages[msg as usize];
                let resolved = matches!(m.status, Status::Deleted | Status::DeadLettered);
                // The receipt check: only the latest delivery's handle deletes.
                if Self::receipt_valid(s, &c) || (self.has(Bug::StaleReceiptDelete) && !resolved) {
                    m.status = Status::Deleted;
                }
                if processed {
                    n.consumers[consumer as usize] = Consumer::Idle;
                } else if let Consumer::Holding { deleted, .. } =
                    &mut n.consumers[consumer as usize]
                {
                    *deleted = true;
                }
            }
            Action::Heartbeat { consumer } => {
                let c = &s.consumers[consumer as usize];
                let (msg, ..) = holding(c)?;
                if Self::owns(s, c) {
                    n.messages[msg as usize].status = Status::InFlight {
                        timeout: self.config.visibility_timeout,
                    };
                    if let Consumer::Holding { renewed, .. } = &mut n.consumers[consumer as usize] {
                        *renewed = true;
                    }
                } else {
                    // Refused (MessageNotInflight, or a receipt no longer valid): the
                    // consumer learns that its delivery no longer owns the message and
                    // stops working on it.
                    n.consumers[consumer as usize] = Consumer::Idle;
                }
            }
            Action::ChangeVisibility { consumer } => {
                let c = &s.consumers[consumer as usize];
                let (msg, ..) = holding(c)?;
                if Self::owns(s, c) {
                    n.messages[msg as usize].status = Status::InFlight {
                        timeout: self.config.visibility_timeout,
                    };
                    if let Consumer::Holding { changed, .. } = &mut n.consumers[consumer as usize] {
                        *changed = true;
                    }
                } else {
                    // Refused (MessageNotInflight, a stale receipt, or the message gone): as
                    // with a refused heartbeat, the consumer learns that its delivery no
                    // longer owns the message and drops it.
                    n.consumers[consumer as usize] = Consumer::Idle;
                }
            }
            Action::Crash { consumer } => {
                n.consumers[consumer as usize] = Consumer::Idle;
                n.crashes += 1;
            }
            Action::Pause { consumer } => {
                let Consumer::Holding { pause, .. } = &mut n.consumers[consumer as usize] else {
                    return None;
                };
                *pause = Pause::Paused;
                n.pauses += 1;
            }
            Action::Resume { consumer } => {
                let owns = Self::owns(s, &s.consumers[consumer as usize]);
                let Consumer::Holding { pause, .. } = &mut n.consumers[consumer as usize] else {
                    return None;
                };
                *pause = if owns {
                    Pause::Running
                } else {
                    Pause::ResumedLate
                };
            }
            Action::Tick => {
                for m in &mut n.messages {
                    m.status = match m.status {
                        Status::Visible { delay } if delay > 0 => {
                            Status::Visible { delay: delay - 1 }
                        }
                        Status::InFlight { timeout: 1 } => Status::Visible { delay: 0 },
                        Status::InFlight { timeout } if timeout > 1 => Status::InFlight {
                            timeout: timeout - 1,
                        },
                        other => other,
                    };
                }
            }
            Action::MoveToDeadLetter { msg } => {
                n.messages[msg as usize].status = Status::DeadLettered;
            }
        }
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::stateright_properties(Self::props())
    }
}

/// `NoMessageLost`.
fn no_message_lost(_: &QueueModel, s: &QueueState) -> bool {
    lost_message(s).is_none()
}

/// A deleted message whose work is not done: no effect in the ledger, or a consumer still
/// holding its latest delivery unprocessed.
fn lost_message(s: &QueueState) -> Option<(usize, Option<usize>)> {
    s.messages.iter().enumerate().find_map(|(mi, m)| {
        if m.status != Status::Deleted {
            return None;
        }
        let holder = s.consumers.iter().position(|c| {
            matches!(*c, Consumer::Holding { msg, stale: false, processed: false, .. } if msg as usize == mi)
        });
        (s.ledger[mi] == 0 || holder.is_some()).then_some((mi, holder))
    })
}

fn dead_letter_only_after_max_receives(model: &QueueModel, s: &QueueState) -> bool {
    s.messages
        .iter()
        .all(|m| m.status != Status::DeadLettered || m.receives >= model.config.max_receives)
}

/// `DeadLetterOnlyAfterFailures`: no dead-lettered message was dropped by a consumer that
/// had finished with it.
fn dead_letter_only_after_failures(_: &QueueModel, s: &QueueState) -> bool {
    dropped_dead_letter(s).is_none()
}

/// A dead-lettered message that a consumer finished and let go undeleted.
fn dropped_dead_letter(s: &QueueState) -> Option<usize> {
    s.messages
        .iter()
        .position(|m| m.status == Status::DeadLettered && m.dropped)
}

fn effect_at_most_once(_: &QueueModel, s: &QueueState) -> bool {
    s.ledger.iter().all(|&e| e <= 1)
}

/// `HeartbeatKeepsDelivery`: with heartbeats on, no consumer that never paused still holds,
/// unfinished, a delivery of a message that has been delivered again since.
fn heartbeat_keeps_delivery(m: &QueueModel, s: &QueueState) -> bool {
    overtaken_running(m, s).is_none()
}

/// With heartbeats on: a running (not paused) consumer holding a stale delivery it has not
/// deleted, as (that consumer, its message).
fn overtaken_running(m: &QueueModel, s: &QueueState) -> Option<(usize, usize)> {
    if m.config.heartbeat == 0 {
        return None;
    }
    s.consumers.iter().enumerate().find_map(|(i, c)| match *c {
        Consumer::Holding {
            msg,
            stale: true,
            deleted: false,
            pause: Pause::Running,
            ..
        } => Some((i, msg as usize)),
        _ => None,
    })
}

/// The consumer holding the newest delivery of message `m`, if any.
fn current_holder(s: &QueueState, m: usize) -> Option<usize> {
    s.consumers.iter().position(
        |c| matches!(*c, Consumer::Holding { msg, stale: false, .. } if msg as usize == m),
    )
}

/// `VisibilityExtended`: a heartbeat was accepted and its delivery still owns its message.
fn visibility_extended(_: &QueueModel, s: &QueueState) -> bool {
    s.consumers
        .iter()
        .any(|c| matches!(c, Consumer::Holding { renewed: true, .. }) && QueueModel::owns(s, c))
}

/// `HeartbeatOvertaken`: with heartbeats on, a consumer that paused still holds, unfinished,
/// a delivery of a message that has been delivered again since.
fn heartbeat_overtaken(m: &QueueModel, s: &QueueState) -> bool {
    m.config.heartbeat > 0
        && s.consumers.iter().any(|c| {
            matches!(
                c,
                Consumer::Holding {
                    stale: true,
                    deleted: false,
                    pause: Pause::Paused | Pause::ResumedLate,
                    ..
                }
            )
        })
}

fn every_message_resolved(_: &QueueModel, s: &QueueState) -> bool {
    s.messages
        .iter()
        .all(|m| matches!(m.status, Status::Deleted | Status::DeadLettered))
}

fn message_redelivered(_: &QueueModel, s: &QueueState) -> bool {
    s.messages.iter().any(|m| m.receives >= 2)
}

fn message_dead_lettered(_: &QueueModel, s: &QueueState) -> bool {
    s.messages.iter().any(|m| m.status == Status::DeadLettered)
}

/// `ProcessedMessageDeadLettered`: a message whose work is done is dead-lettered.
fn processed_message_dead_lettered(_: &QueueModel, s: &QueueState) -> bool {
    s.messages
        .iter()
        .zip(&s.ledger)
        .any(|(m, &e)| m.status == Status::DeadLettered && e > 0)
}

fn message_deleted(_: &QueueModel, s: &QueueState) -> bool {
    s.messages.iter().any(|m| m.status == Status::Deleted)
}

impl Protocol for QueueModel {
    const ID: &'static str = "queue";
    type Config = QueueConfig;

    /// The consumers, then the messages at the broker, the ledger and the counters.
    fn parts(&self) -> Option<Parts<QueueState>> {
        Some(Parts {
            count: 2,
            encode: |s, i, out| match i {
                0 => encode_part(&s.consumers, out),
                _ => encode_part(&(&s.messages, &s.ledger, s.crashes, s.pauses), out),
            },
            decode: |parts| {
                let (messages, ledger, crashes, pauses) = decode_part(parts[1]);
                QueueState {
                    messages,
                    consumers: decode_part(parts[0]),
                    ledger,
                    crashes,
                    pauses,
                }
            },
        })
    }

    fn variants() -> &'static [Variant] {
        const IDS: [Variant; VARIANTS.len()] = {
            let mut out = [VARIANTS[0].0; VARIANTS.len()];
            let mut i = 0;
            while i < VARIANTS.len() {
                out[i] = VARIANTS[i].0;
                i += 1;
            }
            out
        };
        &IDS
    }

    fn new(variant: &str, config: QueueConfig) -> Result<Self, ModelError> {
        let (v, bug) = crate::find_variant(Self::ID, VARIANTS, variant)?;
        let c = &config;
        let fail = |why: &str| Err(ModelError::BadConfig(why.to_string()));
        if c.messages == 0 || usize::from(c.messages) > MAX_PARTS {
            return fail("messages must be 1..=8");
        }
        if c.consumers == 0 || usize::from(c.consumers) > MAX_PARTS {
            return fail("consumers must be 1..=8");
        }
        if c.visibility_timeout == 0 {
            return fail("visibility-timeout must be at least 1 tick");
        }
        if c.max_receives == 0 || c.max_receives > 16 {
            return fail("max-receives must be 1..=16");
        }
        if c.retry == RetryPolicy::ExponentialBackoff
            && (c.backoff_base == 0 || c.backoff_cap < c.backoff_base)
        {
            return fail("exponential backoff needs 1 <= backoff-base <= backoff-cap");
        }
        if c.heartbeat >= c.visibility_timeout {
            return fail(
                "heartbeat must be less than visibility-timeout (0: no heartbeats): a heartbeat at or after the deadline comes too late",
            );
        }
        Ok(QueueModel {
            variant: v.id,
            bug,
            config,
        })
    }

    fn variant(&self) -> &'static str {
        self.variant
    }

    fn config(&self) -> &QueueConfig {
        &self.config
    }

    fn props() -> Vec<Prop<Self>> {
        vec![
            Prop {
                name: "NoMessageLost",
                kind: Kind::Always,
                doc: "A message is deleted only after its work is done: its effect is in the ledger and no consumer still holds its latest delivery unprocessed.",
                condition: no_message_lost,
                premise: None,
            },
            Prop {
                name: "DeadLetterOnlyAfterMaxReceives",
                kind: Kind::Always,
                doc: "A message reaches the dead-letter queue only after it was received max-receives times.",
                condition: dead_letter_only_after_max_receives,
                premise: None,
            },
            Prop {
                name: "DeadLetterOnlyAfterFailures",
                kind: Kind::Always,
                doc: "A message reaches the dead-letter queue only if its deliveries kept failing: no consumer finished one (its effect applied or found in the ledger) and let it go without deleting the message.",
                condition: dead_letter_only_after_failures,
                premise: None,
            },
            Prop {
                name: "EffectAtMostOnce",
                kind: Kind::Always,
                doc: "With idempotent consumers, each message's effect is applied at most once, however often it is delivered.",
                condition: effect_at_most_once,
                premise: None,
            },
            Prop {
                name: "HeartbeatKeepsDelivery",
                kind: Kind::Always,
                doc: "With heartbeats on, a message is not delivered to another consumer while its holder, never paused, is still working on it: heartbeats sent in time keep the delivery.",
                condition: heartbeat_keeps_delivery,
                premise: None,
            },
            Prop {
                name: "EveryMessageResolved",
                kind: Kind::Eventually,
                doc: "Every message is eventually deleted or dead-lettered.",
                condition: every_message_resolved,
                premise: None,
            },
            Prop {
                name: "MessageRedelivered",
                kind: Kind::Sometimes,
                doc: "Some message is delivered more than once (so EffectAtMostOnce is not vacuous).",
                condition: message_redelivered,
                premise: None,
            },
            Prop {
                name: "MessageDeadLettered",
                kind: Kind::Sometimes,
                doc: "Some message reaches the dead-letter queue (so DeadLetterOnlyAfterMaxReceives is not vacuous).",
                condition: message_dead_lettered,
                premise: None,
            },
            Prop {
                name: "ProcessedMessageDeadLettered",
                kind: Kind::Sometimes,
                doc: "Some message whose effect is in the ledger reaches the dead-letter queue, its later deliveries having failed (so DeadLetterOnlyAfterFailures is not vacuous: a done message does come back and can be dead-lettered, and only failures may take it there).",
                condition: processed_message_dead_lettered,
                premise: None,
            },
            Prop {
                name: "MessageDeleted",
                kind: Kind::Sometimes,
                doc: "Some message is deleted (so NoMessageLost is not vacuous).",
                condition: message_deleted,
                premise: None,
            },
            Prop {
                name: "VisibilityExtended",
                kind: Kind::Sometimes,
                doc: "A consumer's heartbeat extends its delivery's visibility and the delivery still holds the message (so HeartbeatKeepsDelivery is not vacuous).",
                condition: visibility_extended,
                premise: None,
            },
            Prop {
                name: "HeartbeatOvertaken",
                kind: Kind::Sometimes,
                doc: "With heartbeats on, a consumer that paused past its delivery's deadline is overtaken: the message it still works on is delivered to another consumer (heartbeats reduce duplicates; only idempotency makes them harmless).",
                condition: heartbeat_overtaken,
                premise: None,
            },
        ]
    }

    /// Fairness: time passes, the producer sends, the broker redrives, and every consumer
    /// keeps taking steps (weakly fair, one class per consumer, as TLA+'s per-process
    /// `WF_vars`); crashes are unfair and bounded by `max-crashes`. A consumer whose
    /// processing fails may fail forever: that is what a poison message is.
    ///
    /// With heartbeats on, two more classes. The heartbeats are weakly fair, in a class of
    /// their own (a heartbeat thread beside each consumer's worker): not in the consumer's
    /// class, where renewing forever would count as the consumer taking steps and excuse
    /// it from ever processing (tried: `correct[heartbeats]` then shows a spurious lasso,
    /// renewals and ticks forever with nothing resolved); and not unfair, as time waits
    /// for a due heartbeat, so an unfair one would admit behaviours in which the clock
    /// stops for good (`EveryMessageResolved` happens to hold either way, as the consumers
    /// still finish their work). A paused consumer's only step, resuming, is in its own
    /// fair class (pauses end). Pauses themselves are unfair and bounded by `max-pauses`.
    fn classes(&self) -> Vec<Class> {
        let weak = |name: String| Class {
            name,
            fairness: Fairness::Weak,
        };
        let mut c = vec![
            weak("the producer".into()),
            weak("the clock".into()),
            weak("the dead-letter redrive".into()),
            Class {
                name: "crashes".into(),
                fairness: Fairness::Unfair,
            },
        ];
        c.extend((0..self.config.consumers).map(|i| weak(format!("consumer {i}"))));
        // Listed only when they can act, so traces of checks without heartbeats do not
        // name them.
        if self.config.heartbeat > 0 {
            c.push(weak("the heartbeats".into()));
            if self.config.max_pauses > 0 {
                c.push(Class {
                    name: "pauses".into(),
                    fairness: Fairness::Unfair,
                });
            }
        }
        c
    }

    fn class_of(&self, action: &Action) -> usize {
        let heartbeats = 4 + usize::from(self.config.consumers);
        match *action {
            Action::Send { .. } => 0,
            Action::Tick => 1,
            Action::MoveToDeadLetter { .. } => 2,
            Action::Crash { .. } => 3,
            // Never enabled with heartbeats off; then the consumer's class stands in.
            Action::Heartbeat { consumer } if self.config.heartbeat == 0 => 4 + consumer as usize,
            Action::Heartbeat { .. } => heartbeats,
            Action::Pause { consumer }
                if self.config.heartbeat == 0 || self.config.max_pauses == 0 =>
            {
                4 + consumer as usize
            }
            Action::Pause { .. } => heartbeats + 1,
            Action::Receive { consumer, .. }
            | Action::ChangeVisibility { consumer }
            | Action::Process { consumer }
            | Action::Release { consumer }
            | Action::Delete { consumer }
            | Action::Resume { consumer } => 4 + consumer as usize,
        }
    }

    const SYMMETRIC: bool = true;

    fn representative(state: &QueueState) -> QueueState {
        // Consumers are interchangeable: nothing in the state refers to a consumer by
        // index, so sorting them picks one representative of each permutation class.
        let mut rep = state.clone();
        rep.consumers.sort_unstable();
        rep
    }

    fn fields(&self, s: &QueueState) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, m) in s.messages.iter().enumerate() {
            let status = match m.status {
                Status::Unsent => "not sent".to_string(),
                Status::Visible { delay: 0 } => "visible".to_string(),
                Status::Visible { delay } => format!("visible in {} (backoff)", ticks(delay)),
                Status::InFlight { timeout } => {
                    format!("in flight, visible again in {}", ticks(timeout))
                }
                Status::Deleted => "deleted".to_string(),
                Status::DeadLettered => "in the dead-letter queue".to_string(),
            };
            out.push((format!("m{i}"), status));
            out.push((format!("m{i}.receives"), self.receives_label(m.receives)));
            if self.has(Bug::DuplicateNotDeleted) {
                let dropped = if m.dropped {
                    "yes: a consumer finished a delivery of it and let it go undeleted"
                } else {
                    "no"
                };
                out.push((format!("m{i}.dropped"), dropped.to_string()));
            }
        }
        for (i, c) in s.consumers.iter().enumerate() {
            let v = match *c {
                Consumer::Idle => "idle".to_string(),
                Consumer::Holding {
                    msg,
                    stale,
                    processed,
                    deleted,
                    renewed,
                    changed,
                    pause,
                } => {
                    let mut v = format!("holds m{msg}");
                    v += if stale {
                        " (stale receipt)"
                    } else {
                        " (current receipt)"
                    };
                    if renewed {
                        v += ", visibility extended";
                    }
                    if changed {
                        v += ", visibility changed";
                    }
                    if processed {
                        v += ", processed";
                    }
                    if deleted {
                        v += ", deleted";
                    }
                    match pause {
                        Pause::Running => {}
                        Pause::Paused => v += ", paused",
                        Pause::ResumedLate => v += ", resumed after its delivery lapsed",
                    }
                    v
                }
            };
            out.push((format!("consumer {i}"), v));
        }
        for (i, e) in s.ledger.iter().enumerate() {
            let v = match e {
                0 => "no effect",
                1 => "effect applied once",
                _ => "effect applied twice",
            };
            out.push((format!("ledger m{i}"), v.to_string()));
        }
        out.push(("crashes".to_string(), s.crashes.to_string()));
        if self.config.heartbeat > 0 && self.config.max_pauses > 0 {
            out.push(("pauses".to_string(), s.pauses.to_string()));
        }
        out
    }

    fn describe(&self, s: &QueueState, action: &Action) -> String {
        let held = |c: u8| holding(&s.consumers[c as usize]);
        match *action {
            Action::Send { msg } => format!("producer sends m{msg}"),
            Action::Receive { consumer, msg } => format!(
                "consumer {consumer} receives m{msg} (delivery {}); it is hidden for {}",
                self.delivery_label(s.messages[msg as usize].receives),
                ticks(self.config.visibility_timeout)
            ),
            Action::Process { consumer } => {
                let (msg, ..) = held(consumer).expect("enabled only while holding");
                if s.ledger[msg as usize] > 0 && self.has(Bug::DuplicateNotDeleted) {
                    format!(
                        "consumer {consumer} finds m{msg}'s idempotency key in the ledger, skips the effect and lets m{msg} go without deleting it"
                    )
                } else if s.ledger[msg as usize] > 0 && !self.has(Bug::NoIdempotency) {
                    format!(
                        "consumer {consumer} finds m{msg}'s idempotency key in the ledger and skips the effect (it still deletes m{msg})"
                    )
                } else {
                    format!("consumer {consumer} applies m{msg}'s effect")
                }
            }
            Action::Release { consumer } => {
                let (msg, ..) = held(consumer).expect("enabled only while holding");
                let c = &s.consumers[consumer as usize];
                let how = match self.retry_delay(s.messages[msg as usize].receives) {
                    Some(_) if !Self::owns(s, c) => format!(
                        "the broker refuses: {}",
                        Self::refusal(s, c).unwrap_or_default()
                    ),
                    None if !Self::owns(s, c) => "it has already lost its delivery".to_string(),
                    Some(0) => "visible again now".to_string(),
                    Some(d) => format!("visible again in {}", ticks(d)),
                    None => "it stays hidden until its visibility timeout runs out".to_string(),
                };
                format!("consumer {consumer} fails to process m{msg} and releases it: {how}")
            }
            Action::Delete { consumer } => {
                let c = &s.consumers[consumer as usize];
                let (msg, stale, ..) = holding(c).expect("enabled only while holding");
                let m = &s.messages[msg as usize];
                let resolved = matches!(m.status, Status::Deleted | Status::DeadLettered);
                let receipt = if stale {
                    "a stale receipt"
                } else {
                    "its receipt"
                };
                let verdict = if Self::receipt_valid(s, c) {
                    "the broker deletes it"
                } else if self.has(Bug::StaleReceiptDelete) && !resolved {
                    "the broker deletes it anyway"
                } else {
                    "the broker rejects the delete"
                };
                format!("consumer {consumer} deletes m{msg} with {receipt}: {verdict}")
            }
            Action::Crash { consumer } => {
                let (msg, ..) = held(consumer).expect("enabled only while holding");
                format!("consumer {consumer} crashes and restarts, abandoning m{msg}")
            }
            Action::Heartbeat { consumer } => {
                let c = &s.consumers[consumer as usize];
                let (msg, ..) = holding(c).expect("enabled only while holding");
                match Self::refusal(s, c) {
                    None => format!(
                        "consumer {consumer}'s heartbeat extends m{msg}'s visibility: hidden for {} again",
                        ticks(self.config.visibility_timeout)
                    ),
                    Some(why) => format!(
                        "consumer {consumer}'s heartbeat is refused: {why}; consumer {consumer} stops working on m{msg}"
                    ),
                }
            }
            Action::ChangeVisibility { consumer } => {
                let c = &s.consumers[consumer as usize];
                let (msg, ..) = holding(c).expect("enabled only while holding");
                match Self::refusal(s, c) {
                    None => format!(
                        "consumer {consumer} changes m{msg}'s visibility (ChangeMessageVisibility): hidden for {} from now",
                        ticks(self.config.visibility_timeout)
                    ),
                    Some(why) => format!(
                        "consumer {consumer} changes m{msg}'s visibility (ChangeMessageVisibility) and the broker refuses: {why}; consumer {consumer} drops m{msg}"
                    ),
                }
            }
            Action::Pause { consumer } => {
                let (msg, ..) = held(consumer).expect("enabled only while holding");
                format!(
                    "consumer {consumer} pauses holding m{msg} (a long GC or VM stall): neither it nor its heartbeat runs"
                )
            }
            Action::Resume { consumer } => {
                let c = &s.consumers[consumer as usize];
                let (msg, stale, ..) = holding(c).expect("enabled only while holding");
                if Self::owns(s, c) {
                    format!(
                        "consumer {consumer} resumes; its delivery of m{msg} is still in flight"
                    )
                } else if stale {
                    format!(
                        "consumer {consumer} resumes, not knowing that m{msg} was delivered to another consumer meanwhile"
                    )
                } else {
                    format!(
                        "consumer {consumer} resumes, not knowing that its delivery of m{msg} lapsed meanwhile"
                    )
                }
            }
            Action::Tick => "one tick passes".to_string(),
            Action::MoveToDeadLetter { msg } => format!(
                "the broker moves m{msg} to the dead-letter queue after {} receives",
                s.messages[msg as usize].receives
            ),
        }
    }

    fn is_tick(&self, action: &Action) -> bool {
        *action == Action::Tick
    }

    fn participants(&self) -> Vec<String> {
        let mut p = vec!["Producer".to_string(), "Broker".to_string()];
        p.extend((0..self.config.consumers).map(|c| format!("Consumer {c}")));
        p.push("Ledger".to_string());
        p
    }

    fn arrows(&self, s: &QueueState, action: &Action, n: &QueueState) -> Vec<Arrow> {
        let consumer = |c: u8| format!("Consumer {c}");
        let broker = || "Broker".to_string();
        let call = |from: String, to: String, label: String| Arrow::Call { from, to, label };
        let reply = |from: String, to: String, label: String| Arrow::Reply { from, to, label };
        match *action {
            Action::Send { msg } => vec![call("Producer".into(), broker(), format!("send m{msg}"))],
            Action::Receive { consumer: c, msg } => vec![
                call(consumer(c), broker(), "receive".into()),
                reply(
                    broker(),
                    consumer(c),
                    format!(
                        "m{msg}, delivery {}",
                        self.delivery_label(s.messages[msg as usize].receives)
                    ),
                ),
            ],
            Action::Process { consumer: c } => {
                let (msg, ..) = holding(&s.consumers[c as usize]).expect("holding");
                let label = if n.ledger[msg as usize] > s.ledger[msg as usize] {
                    format!("apply effect of m{msg}")
                } else {
                    format!("m{msg} already applied: skip")
                };
                let mut arrows = vec![call(consumer(c), "Ledger".into(), label)];
                if n.consumers[c as usize] == Consumer::Idle
                    && !matches!(
                        s.consumers[c as usize],
                        Consumer::Holding { deleted: true, .. }
                    )
                {
                    arrows.push(Arrow::note(
                        [consumer(c)],
                        format!("lets m{msg} go, not deleted"),
                    ));
                }
                arrows
            }
            Action::Release { consumer: c } => {
                let held = &s.consumers[c as usize];
                let (msg, ..) = holding(held).expect("holding");
                let mut arrows = vec![call(
                    consumer(c),
                    broker(),
                    format!("release m{msg} (processing failed)"),
                )];
                let calls = self
                    .retry_delay(s.messages[msg as usize].receives)
                    .is_some();
                if calls && !Self::owns(s, held) {
                    arrows.push(reply(broker(), consumer(c), refused_label(s, held)));
                }
                arrows
            }
            Action::Delete { consumer: c } => {
                let (msg, stale, ..) = holding(&s.consumers[c as usize]).expect("holding");
                let deleted = s.messages[msg as usize].status != Status::Deleted
                    && n.messages[msg as usize].status == Status::Deleted;
                let receipt = if stale { "stale receipt" } else { "receipt" };
                vec![
                    call(consumer(c), broker(), format!("delete m{msg} ({receipt})")),
                    reply(
                        broker(),
                        consumer(c),
                        if deleted {
                            "deleted".into()
                        } else {
                            "rejected".into()
                        },
                    ),
                ]
            }
            Action::Crash { consumer: c } => {
                vec![Arrow::note([consumer(c)], "crashes, restarts idle")]
            }
            Action::Heartbeat { consumer: c } => {
                let held = &s.consumers[c as usize];
                let (msg, ..) = holding(held).expect("holding");
                vec![
                    call(consumer(c), broker(), format!("heartbeat: extend m{msg}")),
                    reply(
                        broker(),
                        consumer(c),
                        if Self::owns(s, held) {
                            format!("hidden for {}", ticks(self.config.visibility_timeout))
                        } else {
                            refused_label(s, held)
                        },
                    ),
                ]
            }
            Action::ChangeVisibility { consumer: c } => {
                let held = &s.consumers[c as usize];
                let (msg, ..) = holding(held).expect("holding");
                vec![
                    call(
                        consumer(c),
                        broker(),
                        format!("change visibility of m{msg}"),
                    ),
                    reply(
                        broker(),
                        consumer(c),
                        if Self::owns(s, held) {
                            format!("hidden for {}", ticks(self.config.visibility_timeout))
                        } else {
                            refused_label(s, held)
                        },
                    ),
                ]
            }
            Action::Pause { consumer: c } => {
                vec![Arrow::note([consumer(c)], "pauses (GC or VM stall)")]
            }
            Action::Resume { consumer: c } => vec![Arrow::note([consumer(c)], "resumes")],
            Action::Tick => {
                let expired: Vec<String> = s
                    .messages
                    .iter()
                    .zip(&n.messages)
                    .enumerate()
                    .filter(|(_, (a, b))| {
                        matches!(a.status, Status::InFlight { .. })
                            && matches!(b.status, Status::Visible { .. })
                    })
                    .map(|(i, _)| format!("m{i}"))
                    .collect();
                let text = if expired.is_empty() {
                    "tick".to_string()
                } else {
                    format!("tick: visibility timeout of {} expires", expired.join(", "))
                };
                vec![Arrow::note([broker()], text)]
            }
            Action::MoveToDeadLetter { msg } => vec![Arrow::note(
                [broker()],
                format!("m{msg} to the dead-letter queue"),
            )],
        }
    }

    fn explain(&self, name: &str, s: &QueueState) -> String {
        match name {
            "NoMessageLost" => match lost_message(s) {
                Some((m, Some(c))) => format!(
                    "m{m} is deleted while consumer {c} still holds its latest delivery and has not processed it: if consumer {c} now fails or crashes, nobody will ever retry m{m}."
                ),
                Some((m, None)) => {
                    format!("m{m} is deleted but its effect was never applied: the work is gone.")
                }
                None => "every deleted message had its work done.".to_string(),
            },
            "HeartbeatKeepsDelivery" => match overtaken_running(self, s) {
                Some((c, m)) => {
                    let who = match current_holder(s, m) {
                        Some(o) => format!("consumer {o}"),
                        None => "another consumer".to_string(),
                    };
                    let why = if self.has(Bug::HeartbeatStops) {
                        format!(
                            "consumer {c}'s heartbeat extended m{m}'s visibility once and then stopped, so nothing renewed it before the next deadline"
                        )
                    } else {
                        format!(
                            "consumer {c}'s heartbeats did not renew m{m}'s visibility before its deadline"
                        )
                    };
                    format!(
                        "consumer {c} is still working on m{m} and never paused, yet {who} has received m{m} again: {why}. Both now work on the same message, though heartbeats were meant to keep it hidden."
                    )
                }
                None => "every running consumer kept its delivery.".to_string(),
            },
            "EffectAtMostOnce" => match s.ledger.iter().position(|&e| e > 1) {
                Some(m) => {
                    let why = if self.has(Bug::NoIdempotency) {
                        " Each consumer that received it applied it, without checking its idempotency key in the ledger."
                    } else {
                        ""
                    };
                    let paused = s.consumers.iter().position(|c| {
                        matches!(*c, Consumer::Holding { msg, pause: Pause::Paused | Pause::ResumedLate, .. } if msg as usize == m)
                    });
                    let pause = match paused {
                        Some(c) => format!(
                            " Consumer {c} paused past its delivery's deadline, and a pause stops its heartbeat too: heartbeats cannot prevent that redelivery, only the idempotency key makes it harmless."
                        ),
                        None => String::new(),
                    };
                    format!(
                        "m{m}'s effect was applied twice: m{m} was delivered more than once, which at-least-once delivery allows.{pause}{why}"
                    )
                }
                None => "no effect was applied twice.".to_string(),
            },
            "DeadLetterOnlyAfterMaxReceives" => {
                "a message reached the dead-letter queue before max-receives deliveries."
                    .to_string()
            }
            "DeadLetterOnlyAfterFailures" => match dropped_dead_letter(s) {
                Some(m) => format!(
                    "m{m} is in the dead-letter queue although its work is done: its effect is in the ledger, and a consumer that received it again found its idempotency key, skipped it and let the delivery go without deleting m{m}. To the broker that delivery simply timed out, so m{m} came back until max-receives receives moved it to the dead-letter queue, as if it kept failing; redriven from there, it would loop again."
                ),
                None => "no dead-lettered message was dropped by a consumer.".to_string(),
            },
            "EveryMessageResolved" => {
                let open = unresolved(s);
                let (subject, pronoun) = match open.as_slice() {
                    [one] => (format!("m{one} is"), "it"),
                    many => (
                        format!(
                            "{} are",
                            many.iter()
                                .map(|m| format!("m{m}"))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        ),
                        "them",
                    ),
                };
                if self.has(Bug::NoDeadLetter) {
                    format!(
                        "{subject} never deleted or dead-lettered. Every consumer that receives {pronoun} fails to process {pronoun} (a poison message), and with no dead-letter queue nothing ever takes {pronoun} out of the queue: {pronoun} comes back again and again, forever."
                    )
                } else {
                    format!(
                        "{subject} never deleted or dead-lettered: the behaviour below goes on forever without resolving {pronoun}."
                    )
                }
            }
            other => match Self::prop(other) {
                Some(p) => format!("no reachable state satisfies {}: {}", p.name, p.doc),
                None => format!("unknown property {other}"),
            },
        }
    }

    fn violation(&self, name: &str, s: &QueueState) -> Violation {
        let consumer = |c: usize| format!("Consumer {c}");
        // The consumers holding a delivery of message `m`, optionally only processed ones.
        let holders = |m: usize, processed_only: bool| -> Vec<usize> {
            s.consumers
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    holding(c).is_some_and(|(msg, _, processed, _)| {
                        msg as usize == m && (processed || !processed_only)
                    })
                })
                .map(|(i, _)| i)
                .collect()
        };
        match name {
            "NoMessageLost" => match lost_message(s) {
                Some((m, Some(c))) => Violation {
                    statement: format!(
                        "m{m} is deleted while consumer {c} still holds its latest delivery unprocessed: if consumer {c} fails now, m{m} can never be retried"
                    ),
                    participants: vec!["Broker".to_string(), consumer(c)],
                    fields: vec![
                        format!("m{m}"),
                        format!("consumer {c}"),
                        format!("ledger m{m}"),
                    ],
                },
                Some((m, None)) => Violation {
                    statement: format!(
                        "m{m} is deleted and its effect is not in the ledger: its work is lost"
                    ),
                    participants: vec!["Broker".to_string(), "Ledger".to_string()],
                    fields: vec![format!("m{m}"), format!("ledger m{m}")],
                },
                None => Violation {
                    statement: "every deleted message had its work done".to_string(),
                    participants: Vec::new(),
                    fields: Vec::new(),
                },
            },
            "EffectAtMostOnce" => {
                let m = s.ledger.iter().position(|&e| e > 1).unwrap_or(0);
                let who = holders(m, true);
                let mut participants: Vec<String> = who.iter().map(|&c| consumer(c)).collect();
                participants.push("Ledger".to_string());
                let mut fields = vec![format!("ledger m{m}")];
                fields.extend(who.iter().map(|c| format!("consumer {c}")));
                Violation {
                    statement: format!("m{m}'s effect is in the ledger twice"),
                    participants,
                    fields,
                }
            }
            "DeadLetterOnlyAfterMaxReceives" => {
                let m = s
                    .messages
                    .iter()
                    .position(|m| {
                        m.status == Status::DeadLettered && m.receives < self.config.max_receives
                    })
                    .unwrap_or(0);
                Violation {
                    statement: format!(
                        "m{m} is in the dead-letter queue after {} receives, fewer than max-receives ({})",
                        s.messages[m].receives, self.config.max_receives
                    ),
                    participants: vec!["Broker".to_string()],
                    fields: vec![format!("m{m}"), format!("m{m}.receives")],
                }
            }
            "HeartbeatKeepsDelivery" => {
                let (c, m) = overtaken_running(self, s).unwrap_or((0, 0));
                let other = current_holder(s, m);
                let mut who: Vec<usize> = other.into_iter().chain([c]).collect();
                who.sort_unstable();
                let mut participants = vec!["Broker".to_string()];
                participants.extend(who.iter().map(|&i| consumer(i)));
                let mut fields = vec![format!("m{m}")];
                fields.extend(who.iter().map(|i| format!("consumer {i}")));
                let who = match other {
                    Some(o) => format!("consumer {o} holds m{m}'s newest delivery"),
                    None => format!("m{m} was delivered again"),
                };
                Violation {
                    statement: format!(
                        "{who} while consumer {c}, never paused, still works on the delivery before it: consumer {c}'s heartbeats did not keep m{m} hidden"
                    ),
                    participants,
                    fields,
                }
            }
            "DeadLetterOnlyAfterFailures" => {
                let m = dropped_dead_letter(s).unwrap_or(0);
                Violation {
                    statement: format!(
                        "m{m} is in the dead-letter queue after {} receives although its work is done: a consumer finished one of its deliveries and let it go undeleted, and its effect is in the ledger",
                        self.receives_label(s.messages[m].receives)
                    ),
                    participants: vec!["Broker".to_string(), "Ledger".to_string()],
                    fields: vec![
                        format!("m{m}"),
                        format!("m{m}.receives"),
                        format!("m{m}.dropped"),
                        format!("ledger m{m}"),
                    ],
                }
            }
            "EveryMessageResolved" => {
                let open = unresolved(s);
                let who: Vec<usize> = open.iter().flat_map(|&m| holders(m, false)).collect();
                let mut participants = vec!["Broker".to_string()];
                participants.extend(who.iter().map(|&c| consumer(c)));
                let mut fields: Vec<String> = open.iter().map(|m| format!("m{m}")).collect();
                fields.extend(who.iter().map(|c| format!("consumer {c}")));
                let names: Vec<String> = open.iter().map(|m| format!("m{m}")).collect();
                Violation {
                    statement: format!(
                        "{} still neither deleted nor dead-lettered",
                        match names.as_slice() {
                            [one] => format!("{one} is"),
                            many => format!("{} are", many.join(" and ")),
                        }
                    ),
                    participants,
                    fields,
                }
            }
            other => Violation {
                statement: format!("{other} does not hold"),
                participants: Vec::new(),
                fields: Vec::new(),
            },
        }
    }

    fn bound_doc(&self, key: &str) -> Option<String> {
        let unused_backoff = || {
            format!(
                "not used by this variant's retry policy, {}",
                match self.config.retry {
                    RetryPolicy::Immediate => "immediate",
                    RetryPolicy::RequeueOnExpiry => "requeue-on-expiry",
                    RetryPolicy::ExponentialBackoff => "exponential-backoff",
                }
            )
        };
        let backoff = self.config.retry == RetryPolicy::ExponentialBackoff;
        Some(match key {
            "messages" => "messages the producer sends".to_string(),
            "consumers" => "consumers receiving from the queue".to_string(),
            "visibility-timeout" => {
                "ticks a received message stays hidden from the other consumers".to_string()
            }
            "max-receives" if self.has(Bug::NoDeadLetter) => {
                "not used by this variant: it has no dead-letter queue".to_string()
            }
            "max-receives" => {
                "receives after which a message goes to the dead-letter queue (SQS maxReceiveCount)"
                    .to_string()
            }
            "retry" => match self.config.retry {
                RetryPolicy::Immediate => {
                    "a message whose processing failed is visible again at once".to_string()
                }
                RetryPolicy::RequeueOnExpiry => {
                    "a message whose processing failed comes back when its visibility timeout runs out"
                        .to_string()
                }
                RetryPolicy::ExponentialBackoff => {
                    "a message whose processing failed is hidden for backoff-base × 2^(receives − 1) ticks, at most backoff-cap"
                        .to_string()
                }
            },
            "backoff-base" if !backoff => unused_backoff(),
            "backoff-base" => "first backoff delay, in ticks".to_string(),
            "backoff-cap" if !backoff => unused_backoff(),
            "backoff-cap" => "longest backoff delay, in ticks".to_string(),
            "max-crashes" => "consumer crashes in one behaviour".to_string(),
            "heartbeat" if self.config.heartbeat == 0 => {
                "0: consumers do not heartbeat, so a delivery stays hidden for visibility-timeout ticks and no longer"
                    .to_string()
            }
            "heartbeat" => format!(
                "ticks between a consumer's heartbeats while it holds a delivery; each extends the delivery's visibility to visibility-timeout (SQS ChangeMessageVisibility){}",
                if self.has(Bug::HeartbeatStops) {
                    ": this variant's heartbeat extends it once and then stops"
                } else {
                    ""
                }
            ),
            "max-pauses" if self.config.heartbeat == 0 => {
                "not used with heartbeat 0: without heartbeats a paused consumer is just a slow one"
                    .to_string()
            }
            "max-pauses" => {
                "consumer pauses in one behaviour (a GC or VM stall that stops the consumer and its heartbeat)"
                    .to_string()
            }
            "change-visibility" if self.config.change_visibility => {
                "true: a consumer may change the visibility of a delivery it holds once, at any time before deleting it (SQS ChangeMessageVisibility), back to visibility-timeout; refused once the delivery no longer owns the message"
                    .to_string()
            }
            "change-visibility" => {
                "false: consumers change a delivery's visibility only by heartbeats or a release"
                    .to_string()
            }
            _ => return None,
        })
    }
}

/// A refused `ChangeMessageVisibility` as the diagram's reply says it.
fn refused_label(s: &QueueState, c: &Consumer) -> String {
    let Some((msg, stale, ..)) = holding(c) else {
        return "refused".to_string();
    };
    match s.messages[msg as usize].status {
        Status::Deleted | Status::DeadLettered => "refused: message gone".to_string(),
        _ if stale => "refused: stale receipt".to_string(),
        _ => "refused: not in flight".to_string(),
    }
}

/// The messages neither deleted nor dead-lettered.
fn unresolved(s: &QueueState) -> Vec<usize> {
    s.messages
        .iter()
        .enumerate()
        .filter(|(_, m)| !matches!(m.status, Status::Deleted | Status::DeadLettered))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use stateright::{Checker, HasDiscoveries};

    use super::*;
    use crate::testing::walk;

    fn model(variant: &str) -> QueueModel {
        QueueModel::new(variant, QueueConfig::default()).unwrap()
    }

    fn recv(consumer: u8) -> Action {
        Action::Receive { consumer, msg: 0 }
    }

    const SEND: Action = Action::Send { msg: 0 };

    /// A poison message: both its deliveries fail, and it goes to the dead-letter queue.
    const POISON: [Action; 9] = [
        SEND,
        Action::Receive {
            consumer: 0,
            msg: 0,
        },
        Action::Release { consumer: 0 },
        Action::Tick,
        Action::Receive {
            consumer: 1,
            msg: 0,
        },
        Action::Release { consumer: 1 },
        Action::Tick,
        Action::Tick,
        Action::MoveToDeadLetter { msg: 0 },
    ];

    /// The smallest configuration with heartbeats: one every tick (the visibility timeout
    /// is 2), and one consumer pause.
    fn heartbeats() -> QueueConfig {
        QueueConfig {
            heartbeat: 1,
            max_pauses: 1,
            ..QueueConfig::default()
        }
    }

    fn hb_model(variant: &str) -> QueueModel {
        QueueModel::new(variant, heartbeats()).unwrap()
    }

    fn heartbeat(consumer: u8) -> Action {
        Action::Heartbeat { consumer }
    }

    /// Every state of `m`, under symmetry, by stateright's DFS (a discovery of an unknown
    /// property name never happens, so the search runs to the end).
    fn explore_all(m: QueueModel) -> impl Checker<QueueModel> {
        m.checker()
            .symmetry_fn(QueueModel::representative)
            .finish_when(HasDiscoveries::AllOf(BTreeSet::from([
                "(explore everything)",
            ])))
            .spawn_dfs()
            .join()
    }

    /// The fingerprint of the model: the unique states of the smallest configuration (one
    /// message, two consumers), under symmetry, explored to the end.
    #[test]
    fn smallest_configuration_has_102_states() {
        let checker = explore_all(model("correct"));
        assert_eq!(checker.unique_state_count(), 102);
        checker.assert_no_discovery("NoMessageLost");
        checker.assert_no_discovery("EffectAtMostOnce");
        checker.assert_no_discovery("DeadLetterOnlyAfterMaxReceives");
        checker.assert_no_discovery("DeadLetterOnlyAfterFailures");
    }

    /// The fingerprint with heartbeats on: the smallest configuration, one heartbeat every
    /// tick and one pause, under symmetry, explored to the end.
    #[test]
    fn smallest_configuration_with_heartbeats_has_349_states() {
        let checker = explore_all(hb_model("correct"));
        assert_eq!(checker.unique_state_count(), 349);
        for p in QueueModel::props() {
            if p.kind == Kind::Always {
                checker.assert_no_discovery(p.name);
            }
        }
    }

    /// The smallest configuration with one-off visibility changes on.
    fn cv_model(variant: &str) -> QueueModel {
        QueueModel::new(
            variant,
            QueueConfig {
                change_visibility: true,
                ..QueueConfig::default()
            },
        )
        .unwrap()
    }

    fn change(consumer: u8) -> Action {
        Action::ChangeVisibility { consumer }
    }

    /// The fingerprint with one-off visibility changes on: the smallest configuration,
    /// under symmetry, explored to the end; no `always` property fails.
    #[test]
    fn smallest_configuration_with_change_visibility_has_206_states() {
        let checker = explore_all(cv_model("correct"));
        assert_eq!(checker.unique_state_count(), 206);
        for p in QueueModel::props() {
            if p.kind == Kind::Always {
                checker.assert_no_discovery(p.name);
            }
        }
    }

    /// `ChangeMessageVisibility` called once, at a time of the consumer's choosing: accepted
    /// while the delivery owns the message, it moves the deadline to visibility-timeout
    /// from the call; the consumer may not call it again on that delivery; after the
    /// deadline it is refused (`MessageNotInflight`), and once the message was received
    /// again refused as stale, and the consumer drops the delivery, the message unchanged.
    /// Off, it is never enabled. Reference: SQS API Reference, ChangeMessageVisibility.
    #[test]
    fn change_visibility_moves_the_deadline_once_and_is_refused_once_the_delivery_lapsed() {
        let m = cv_model("correct");
        let s = walk(&m, &[SEND, recv(0), Action::Tick, change(0)]);
        assert_eq!(s.messages[0].status, Status::InFlight { timeout: 2 });
        assert!(matches!(
            s.consumers[0],
            Consumer::Holding { changed: true, .. }
        ));
        assert!(!enabled(&m, &s).contains(&change(0)), "once per delivery");
        assert!(m.fields(&s).contains(&(
            "consumer 0".to_string(),
            "holds m0 (current receipt), visibility changed".to_string()
        )));
        // Two more ticks: the changed deadline holds one tick longer than the receive's.
        let s = walk(&m, &[SEND, recv(0), Action::Tick, change(0), Action::Tick]);
        assert_eq!(s.messages[0].status, Status::InFlight { timeout: 1 });
        // Too late: the deadline passed, nobody received m0 since.
        let lapsed = [SEND, recv(0), Action::Tick, Action::Tick];
        let s = walk(&m, &lapsed);
        let said = m.describe(&s, &change(0));
        assert!(
            said.contains("refuses") && said.contains("(MessageNotInflight)"),
            "{said}"
        );
        let s = walk(&m, &[&lapsed[..], &[change(0)]].concat());
        assert_eq!(s.messages[0].status, Status::Visible { delay: 0 });
        assert_eq!(s.consumers[0], Consumer::Idle);
        // Stale: consumer 1 received m0 since.
        let s = walk(&m, &[&lapsed[..], &[recv(1), change(0)]].concat());
        assert_eq!(s.messages[0].status, Status::InFlight { timeout: 2 });
        assert_eq!(s.consumers[0], Consumer::Idle);
        assert!(matches!(
            s.consumers[1],
            Consumer::Holding { stale: false, .. }
        ));
        // Off: never enabled.
        let off = model("correct");
        let s = walk(&off, &[SEND, recv(0)]);
        assert!(!enabled(&off, &s).contains(&change(0)));
    }

    /// A `delete-before-process` consumer whose processing fails after its delete releases
    /// the message, and the broker refuses: it is deleted. Nothing changes at the broker;
    /// the consumer is done with the delivery.
    #[test]
    fn a_release_after_deleting_first_is_refused() {
        let m = model("delete-before-process");
        let s = walk(&m, &[SEND, recv(0), Action::Delete { consumer: 0 }]);
        let said = m.describe(&s, &Action::Release { consumer: 0 });
        assert_eq!(
            said,
            "consumer 0 fails to process m0 and releases it: the broker refuses: m0 is already deleted"
        );
        let n = walk(
            &m,
            &[
                SEND,
                recv(0),
                Action::Delete { consumer: 0 },
                Action::Release { consumer: 0 },
            ],
        );
        assert_eq!(n.messages, s.messages);
        assert_eq!(n.consumers[0], Consumer::Idle);
        assert_eq!(n.crashes, 0);
    }

    /// One discovery path per `sometimes`: each is reachable the way the protocol says.
    #[test]
    fn sometimes_properties_are_reachable() {
        let checker = model("correct").checker().spawn_bfs().join();
        checker.assert_discovery(
            "MessageDeleted",
            vec![
                SEND,
                recv(0),
                Action::Process { consumer: 0 },
                Action::Delete { consumer: 0 },
            ],
        );
        // Released with backoff (1 tick), then received again.
        checker.assert_discovery(
            "MessageRedelivered",
            vec![
                SEND,
                recv(0),
                Action::Release { consumer: 0 },
                Action::Tick,
                recv(1),
            ],
        );
        checker.assert_discovery("MessageDeadLettered", POISON.to_vec());
        // Heartbeats are off in this configuration.
        checker.assert_no_discovery("VisibilityExtended");
        checker.assert_no_discovery("HeartbeatOvertaken");
        // Consumer 0 applies the effect and is slow; the second delivery times out too (its
        // consumer is slow as well): both failed, so dead-lettering the done message is
        // what the redrive policy is for.
        checker.assert_discovery(
            "ProcessedMessageDeadLettered",
            vec![
                SEND,
                recv(0),
                Action::Process { consumer: 0 },
                Action::Tick,
                Action::Tick,
                recv(1),
                Action::Tick,
                Action::Tick,
                Action::MoveToDeadLetter { msg: 0 },
            ],
        );
    }

    /// The trace's words for the branches a checked counterexample does not show: a
    /// duplicate skipped by its idempotency key; a release of a delivery already lost under
    /// requeue-on-expiry; a refused `ChangeMessageVisibility`'s reply naming the stale
    /// receipt; and `DeadLetterOnlyAfterMaxReceives` naming the message dead-lettered early.
    #[test]
    fn trace_texts_say_which_case_it_is() {
        let m = model("correct");
        let dup = walk(&m, &DUPLICATE[..6]);
        assert_eq!(
            m.describe(&dup, &Action::Process { consumer: 1 }),
            "consumer 1 finds m0's idempotency key in the ledger and skips the effect (it still deletes m0)"
        );
        let requeue = QueueModel::new(
            "correct",
            QueueConfig {
                retry: RetryPolicy::RequeueOnExpiry,
                ..QueueConfig::default()
            },
        )
        .unwrap();
        let lost = walk(
            &requeue,
            &[SEND, recv(0), Action::Tick, Action::Tick, recv(1)],
        );
        assert_eq!(
            requeue.describe(&lost, &Action::Release { consumer: 0 }),
            "consumer 0 fails to process m0 and releases it: it has already lost its delivery"
        );
        let cv = cv_model("correct");
        let stale = walk(&cv, &[SEND, recv(0), Action::Tick, Action::Tick, recv(1)]);
        let change = Action::ChangeVisibility { consumer: 0 };
        let after = cv.next_state(&stale, change).unwrap();
        let replies: Vec<String> = cv
            .arrows(&stale, &change, &after)
            .into_iter()
            .filter_map(|a| match a {
                Arrow::Reply { label, .. } => Some(label),
                _ => None,
            })
            .collect();
        assert_eq!(replies, ["refused: stale receipt"]);
        let two = QueueModel::new(
            "correct",
            QueueConfig {
                messages: 2,
                ..QueueConfig::default()
            },
        )
        .unwrap();
        let mut s = two.init_states().remove(0);
        s.messages[0].status = Status::DeadLettered;
        s.messages[0].receives = two.config.max_receives;
        s.messages[1].status = Status::DeadLettered;
        s.messages[1].receives = 1;
        assert_eq!(
            two.violation("DeadLetterOnlyAfterMaxReceives", &s)
                .statement,
            format!(
                "m1 is in the dead-letter queue after 1 receives, fewer than max-receives ({})",
                two.config.max_receives
            )
        );
    }

    /// No example (`sometimes` property) holds before a step is taken, in any variant.
    #[test]
    fn no_example_holds_at_the_start() {
        for v in QueueModel::variants() {
            crate::testing::no_example_at_start(&model(v.id));
            crate::testing::no_example_at_start(&hb_model(v.id));
        }
    }

    /// Crashes and pauses are unfair, every other step weakly fair, and every step has a
    /// class — with heartbeats and pauses on, and off.
    #[test]
    fn faults_are_unfair_and_every_step_has_a_class() {
        let faults = |a: &Action| matches!(a, Action::Crash { .. } | Action::Pause { .. });
        for m in [model("correct"), hb_model("correct")] {
            crate::testing::classes_cover_every_action(&m, faults);
        }
    }

    /// `ProcessedMessageDeadLettered` needs the message's work done: a poison message
    /// dead-lettered after two failed deliveries is `MessageDeadLettered` only.
    #[test]
    fn a_dead_lettered_message_counts_as_processed_only_with_its_effect() {
        let m = model("correct");
        let s = walk(&m, &POISON);
        assert!(message_dead_lettered(&m, &s));
        assert!(!processed_message_dead_lettered(&m, &s));
    }

    /// Deleting before processing loses the message if the consumer then crashes.
    #[test]
    fn delete_before_process_loses_the_message() {
        let checker = model("delete-before-process").checker().spawn_bfs().join();
        checker.assert_discovery(
            "NoMessageLost",
            vec![SEND, recv(0), Action::Delete { consumer: 0 }],
        );
        checker.assert_discovery(
            "NoMessageLost",
            vec![
                SEND,
                recv(0),
                Action::Delete { consumer: 0 },
                Action::Crash { consumer: 0 },
            ],
        );
    }

    /// The slow consumer's stale receipt deletes the copy the second consumer holds.
    #[test]
    fn stale_receipt_delete_removes_another_consumers_delivery() {
        let path = vec![
            SEND,
            recv(0),
            Action::Process { consumer: 0 },
            Action::Tick,
            Action::Tick,
            recv(1),
            Action::Delete { consumer: 0 },
        ];
        model("stale-receipt-delete")
            .checker()
            .spawn_bfs()
            .join()
            .assert_discovery("NoMessageLost", path.clone());
        // The same actions on the correct broker: the delete is rejected, nothing is lost.
        let correct = model("correct");
        let mut state = correct.init_states().remove(0);
        for a in path {
            state = correct.next_state(&state, a).unwrap();
        }
        assert_eq!(state.messages[0].status, Status::InFlight { timeout: 2 });
        assert!(no_message_lost(&correct, &state));
    }

    /// A delivery whose visibility ran out no longer owns its message, even if nobody
    /// received it since: the broker refuses its release (SQS `ChangeMessageVisibility`
    /// answers `MessageNotInflight`) and the message stays visible, not pushed back by a
    /// backoff; a delete with that newest receipt is still accepted, as SQS documents.
    /// Reference: SQS API Reference, ChangeMessageVisibility (errors) and DeleteMessage.
    #[test]
    fn a_lapsed_delivery_no_longer_owns_its_message() {
        let m = model("correct");
        let lapsed = [SEND, recv(0), Action::Tick, Action::Tick];
        let s = walk(&m, &lapsed);
        assert_eq!(s.messages[0].status, Status::Visible { delay: 0 });
        assert!(!QueueModel::owns(&s, &s.consumers[0]));
        assert!(
            m.describe(&s, &Action::Release { consumer: 0 })
                .ends_with("it is no longer in flight (MessageNotInflight)"),
            "{}",
            m.describe(&s, &Action::Release { consumer: 0 })
        );
        let released = walk(
            &m,
            &[&lapsed[..], &[Action::Release { consumer: 0 }]].concat(),
        );
        assert_eq!(released.messages[0].status, Status::Visible { delay: 0 });
        assert_eq!(released.consumers[0], Consumer::Idle);
        // In time, the same release hides m0 for its backoff.
        let in_time = walk(&m, &[SEND, recv(0), Action::Release { consumer: 0 }]);
        assert_eq!(in_time.messages[0].status, Status::Visible { delay: 1 });
        // After the lapse, a delete with the newest receipt still deletes.
        let deleted = walk(
            &m,
            &[
                &lapsed[..],
                &[
                    Action::Process { consumer: 0 },
                    Action::Delete { consumer: 0 },
                ],
            ]
            .concat(),
        );
        assert_eq!(deleted.messages[0].status, Status::Deleted);
    }

    /// Without the idempotency key the slow consumer's effect and the second consumer's
    /// effect both land.
    #[test]
    fn no_idempotency_applies_the_effect_twice() {
        let path = vec![
            SEND,
            recv(0),
            Action::Process { consumer: 0 },
            Action::Tick,
            Action::Tick,
            recv(1),
            Action::Process { consumer: 1 },
        ];
        model("no-idempotency")
            .checker()
            .spawn_bfs()
            .join()
            .assert_discovery("EffectAtMostOnce", path);
    }

    /// With heartbeats on: a heartbeat extends the delivery after one tick; a consumer that
    /// pauses for two ticks is overtaken.
    #[test]
    fn heartbeat_sometimes_properties_are_reachable() {
        let checker = hb_model("correct").checker().spawn_bfs().join();
        checker.assert_discovery(
            "VisibilityExtended",
            vec![SEND, recv(0), Action::Tick, heartbeat(0)],
        );
        checker.assert_discovery(
            "HeartbeatOvertaken",
            vec![
                SEND,
                recv(0),
                Action::Pause { consumer: 0 },
                Action::Tick,
                Action::Tick,
                recv(1),
            ],
        );
    }

    /// A running heartbeat is punctual: once one is due, time waits for it; sent in time,
    /// it keeps the message hidden, however long the consumer works.
    /// Reference: SQS Developer Guide, visibility timeout ("extend the visibility timeout").
    #[test]
    fn a_due_heartbeat_goes_out_before_time_moves_on() {
        let m = hb_model("correct");
        let s = walk(&m, &[SEND, recv(0), Action::Tick]);
        let mut enabled = Vec::new();
        m.actions(&s, &mut enabled);
        assert!(enabled.contains(&heartbeat(0)), "{enabled:?}");
        assert!(!enabled.contains(&Action::Tick), "{enabled:?}");
        // Ten more ticks of work, renewed every tick: m0 never becomes visible.
        let mut path = vec![SEND, recv(0)];
        for _ in 0..10 {
            path.extend([Action::Tick, heartbeat(0)]);
        }
        let s = walk(&m, &path);
        assert_eq!(s.messages[0].status, Status::InFlight { timeout: 2 });
        // Without heartbeats the same consumer loses m0 after two ticks.
        let s = walk(
            &model("correct"),
            &[SEND, recv(0), Action::Tick, Action::Tick],
        );
        assert_eq!(s.messages[0].status, Status::Visible { delay: 0 });
    }

    /// A heartbeat after the visibility ran out is refused (SQS `MessageNotInflight`), even
    /// though nobody received the message since: it does not hide the message again, and
    /// the consumer learns it lost the delivery and stops. Reference: SQS API Reference,
    /// ChangeMessageVisibility, errors.
    #[test]
    fn a_late_heartbeat_is_refused_and_its_consumer_stops() {
        let m = hb_model("correct");
        let lapsed = [
            SEND,
            recv(0),
            Action::Pause { consumer: 0 },
            Action::Tick,
            Action::Tick,
            Action::Resume { consumer: 0 },
        ];
        let s = walk(&m, &lapsed);
        assert_eq!(s.messages[0].status, Status::Visible { delay: 0 });
        assert!(matches!(
            s.consumers[0],
            Consumer::Holding {
                pause: Pause::ResumedLate,
                ..
            }
        ));
        let said = m.describe(&s, &heartbeat(0));
        assert!(said.contains("(MessageNotInflight)"), "{said}");
        let s = walk(&m, &[&lapsed[..], &[heartbeat(0)]].concat());
        assert_eq!(s.messages[0].status, Status::Visible { delay: 0 });
        assert_eq!(s.consumers[0], Consumer::Idle);
        // Resumed in time, the consumer goes on running and renewing.
        let s = walk(
            &m,
            &[SEND, recv(0), Action::Pause { consumer: 0 }, Action::Tick],
        );
        let s = m.next_state(&s, Action::Resume { consumer: 0 }).unwrap();
        assert!(matches!(
            s.consumers[0],
            Consumer::Holding {
                pause: Pause::Running,
                ..
            }
        ));
    }

    /// The checker finds the bug: a heartbeat that renews once and stops lets the message
    /// be delivered to another consumer while the first, never paused, still works on it,
    /// and `HeartbeatKeepsDelivery` names it; correct heartbeats keep the delivery.
    #[test]
    fn heartbeat_stops_lets_a_running_consumer_be_overtaken() {
        let path = vec![
            SEND,
            recv(0),
            Action::Tick,
            heartbeat(0),
            Action::Tick,
            Action::Tick,
            recv(1),
        ];
        hb_model("heartbeat-stops")
            .checker()
            .spawn_bfs()
            .join()
            .assert_discovery("HeartbeatKeepsDelivery", path);
        hb_model("correct")
            .checker()
            .spawn_bfs()
            .join()
            .assert_no_discovery("HeartbeatKeepsDelivery");
    }

    /// Heartbeats reduce duplicates but never replace idempotency: even with heartbeats and
    /// no crash at all, a consumer paused past its visibility timeout is overtaken; the
    /// correct consumers' idempotency key keeps the effect single, and without it the
    /// effect lands twice.
    #[test]
    fn heartbeats_never_replace_idempotency() {
        let no_crashes = QueueConfig {
            max_crashes: 0,
            ..heartbeats()
        };
        let correct = QueueModel::new("correct", no_crashes.clone())
            .unwrap()
            .checker()
            .spawn_bfs()
            .join();
        correct.assert_any_discovery("HeartbeatOvertaken");
        correct.assert_no_discovery("EffectAtMostOnce");
        QueueModel::new("no-idempotency", no_crashes)
            .unwrap()
            .checker()
            .spawn_bfs()
            .join()
            .assert_discovery(
                "EffectAtMostOnce",
                vec![
                    SEND,
                    recv(0),
                    Action::Process { consumer: 0 },
                    Action::Pause { consumer: 0 },
                    Action::Tick,
                    Action::Tick,
                    recv(1),
                    Action::Process { consumer: 1 },
                ],
            );
    }

    /// The redelivery of a done message, in both variants: consumer 0 applies m0's effect
    /// and outlasts its visibility timeout; consumer 1 receives m0 again and finds its key.
    const DUPLICATE: [Action; 7] = [
        SEND,
        Action::Receive {
            consumer: 0,
            msg: 0,
        },
        Action::Process { consumer: 0 },
        Action::Tick,
        Action::Tick,
        Action::Receive {
            consumer: 1,
            msg: 0,
        },
        Action::Process { consumer: 1 },
    ];

    /// The checker finds the bug: a consumer that skips a duplicate without deleting it
    /// sends a message whose work is done to the dead-letter queue, with no delivery
    /// having failed, and `DeadLetterOnlyAfterFailures` names it. Reference: the SQS
    /// Developer Guide, dead-letter queues — a message lands there after maxReceiveCount
    /// failed receives.
    #[test]
    fn duplicate_not_deleted_dead_letters_a_done_message() {
        let mut path = DUPLICATE.to_vec();
        path.extend([
            Action::Tick,
            Action::Tick,
            Action::MoveToDeadLetter { msg: 0 },
        ]);
        model("duplicate-not-deleted")
            .checker()
            .spawn_bfs()
            .join()
            .assert_discovery("DeadLetterOnlyAfterFailures", path);
        model("correct")
            .checker()
            .spawn_bfs()
            .join()
            .assert_no_discovery("DeadLetterOnlyAfterFailures");
    }

    /// The correct consumer's duplicate branch deletes: after skipping the effect it still
    /// holds its delivery, and its delete removes m0.
    #[test]
    fn the_duplicate_branch_deletes() {
        let m = model("correct");
        let mut s = m.init_states().remove(0);
        for a in DUPLICATE {
            s = m.next_state(&s, a).unwrap();
        }
        assert_eq!(s.ledger[0], 1, "the effect is not applied twice");
        assert!(matches!(
            s.consumers[1],
            Consumer::Holding {
                processed: true,
                deleted: false,
                ..
            }
        ));
        let mut enabled = Vec::new();
        m.actions(&s, &mut enabled);
        assert!(enabled.contains(&Action::Delete { consumer: 1 }));
        let s = m.next_state(&s, Action::Delete { consumer: 1 }).unwrap();
        assert_eq!(s.messages[0].status, Status::Deleted);
        assert!(!s.messages[0].dropped);
    }

    #[test]
    fn without_redrive_nothing_is_dead_lettered() {
        model("no-dead-letter")
            .checker()
            .spawn_bfs()
            .join()
            .assert_no_discovery("MessageDeadLettered");
    }

    /// The end of each safety trace states the violation over the parts it concerns, with
    /// fields the trace can show.
    #[test]
    fn violations_name_their_parts_and_fields() {
        let cases = [
            (
                "stale-receipt-delete",
                "NoMessageLost",
                vec![
                    SEND,
                    recv(0),
                    Action::Process { consumer: 0 },
                    Action::Tick,
                    Action::Tick,
                    recv(1),
                    Action::Delete { consumer: 0 },
                ],
                vec!["Broker", "Consumer 1"],
                "m0 is deleted while consumer 1 still holds its latest delivery unprocessed: if consumer 1 fails now, m0 can never be retried",
            ),
            (
                "no-idempotency",
                "EffectAtMostOnce",
                vec![
                    SEND,
                    recv(0),
                    Action::Process { consumer: 0 },
                    Action::Tick,
                    Action::Tick,
                    recv(1),
                    Action::Process { consumer: 1 },
                ],
                vec!["Consumer 0", "Consumer 1", "Ledger"],
                "m0's effect is in the ledger twice",
            ),
            (
                "duplicate-not-deleted",
                "DeadLetterOnlyAfterFailures",
                [
                    &DUPLICATE[..],
                    &[
                        Action::Tick,
                        Action::Tick,
                        Action::MoveToDeadLetter { msg: 0 },
                    ],
                ]
                .concat(),
                vec!["Broker", "Ledger"],
                "m0 is in the dead-letter queue after 2 receives although its work is done: a consumer finished one of its deliveries and let it go undeleted, and its effect is in the ledger",
            ),
            (
                "heartbeat-stops",
                "HeartbeatKeepsDelivery",
                vec![
                    SEND,
                    recv(0),
                    Action::Tick,
                    heartbeat(0),
                    Action::Tick,
                    Action::Tick,
                    recv(1),
                ],
                vec!["Broker", "Consumer 0", "Consumer 1"],
                "consumer 1 holds m0's newest delivery while consumer 0, never paused, still works on the delivery before it: consumer 0's heartbeats did not keep m0 hidden",
            ),
            (
                "heartbeat-stops",
                "HeartbeatKeepsDelivery",
                vec![
                    SEND,
                    recv(1),
                    Action::Tick,
                    heartbeat(1),
                    Action::Tick,
                    Action::Tick,
                    recv(0),
                ],
                vec!["Broker", "Consumer 0", "Consumer 1"],
                "consumer 0 holds m0's newest delivery while consumer 1, never paused, still works on the delivery before it: consumer 1's heartbeats did not keep m0 hidden",
            ),
        ];
        for (variant, property, path, participants, statement) in cases {
            let m = if variant.starts_with("heartbeat") {
                hb_model(variant)
            } else {
                model(variant)
            };
            let mut s = m.init_states().remove(0);
            for a in path {
                s = m.next_state(&s, a).unwrap();
            }
            let v = m.violation(property, &s);
            assert_eq!(v.participants, participants, "{variant}");
            assert_eq!(v.statement, statement, "{variant}");
            let names: Vec<String> = m.fields(&s).into_iter().map(|(n, _)| n).collect();
            for f in &v.fields {
                assert!(
                    names.contains(f),
                    "{variant}: {f} is not a field: {names:?}"
                );
            }
        }
    }

    /// Every bound of the configuration is explained in a trace; the ones a variant or
    /// retry policy ignores say so.
    #[test]
    fn every_bound_is_documented_and_unused_ones_say_so() {
        for (retry, heartbeat, change_visibility) in [
            (RetryPolicy::Immediate, 0, false),
            (RetryPolicy::RequeueOnExpiry, 0, false),
            (RetryPolicy::ExponentialBackoff, 0, false),
            (RetryPolicy::ExponentialBackoff, 1, false),
            (RetryPolicy::ExponentialBackoff, 0, true),
        ] {
            let config = QueueConfig {
                retry,
                heartbeat,
                change_visibility,
                ..QueueConfig::default()
            };
            assert_eq!(
                m_keys_has(&config, "change-visibility"),
                change_visibility,
                "written only when on"
            );
            let keys = serde_json::to_value(&config).unwrap();
            for v in QueueModel::variants() {
                let m = QueueModel::new(v.id, config.clone()).unwrap();
                for key in keys.as_object().unwrap().keys() {
                    let doc = m
                        .bound_doc(key)
                        .unwrap_or_else(|| panic!("{key} undocumented"));
                    let unused = doc.starts_with("not used");
                    let expected = (key == "max-receives" && v.id == "no-dead-letter")
                        || (key.starts_with("backoff-")
                            && retry != RetryPolicy::ExponentialBackoff)
                        || (key == "max-pauses" && heartbeat == 0);
                    assert_eq!(unused, expected, "{} {retry:?} {key}: {doc}", v.id);
                }
            }
        }
    }

    fn m_keys_has(config: &QueueConfig, key: &str) -> bool {
        serde_json::to_value(config)
            .unwrap()
            .as_object()
            .unwrap()
            .contains_key(key)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let m = QueueModel::new(
            "correct",
            QueueConfig {
                backoff_base: 1,
                backoff_cap: 5,
                ..QueueConfig::default()
            },
        )
        .unwrap();
        assert_eq!([1, 2, 3, 4].map(|r| m.backoff(r)), [1, 2, 4, 5]);
    }

    /// `max-pauses` is used only with heartbeats (its doc): without them a pause is just a
    /// slow consumer, which time passing already is, so no consumer ever pauses — on every
    /// reachable state of a configuration that allows pauses but has no heartbeat — and the
    /// trace shows no pause count.
    #[test]
    fn without_heartbeats_no_consumer_pauses() {
        let m = QueueModel::new(
            "correct",
            QueueConfig {
                messages: 2,
                consumers: 2,
                max_pauses: 1,
                ..QueueConfig::default()
            },
        )
        .unwrap();
        let states = crate::testing::each_transition(&m, |s, a, _| {
            assert!(!matches!(a, Action::Pause { .. }), "{a:?} in {s:?}");
        });
        assert!(states > 100, "{states} states");
        // Nor does a trace show a pause count that cannot move.
        let start = m.init_states().remove(0);
        assert!(m.fields(&start).iter().all(|(name, _)| name != "pauses"));
        let hb = hb_model("correct");
        let start = hb.init_states().remove(0);
        assert!(hb.fields(&start).iter().any(|(name, _)| name == "pauses"));
    }

    /// Saturating the receive count never changes a delay: for every configuration of small
    /// bounds, the backoff computed from the saturated count equals the one computed from
    /// the true count, however often the message was received. Only `no-dead-letter`
    /// counts past max-receives, so it is the variant this guards; e.g. with backoff-base
    /// 1, backoff-cap 8 and max-receives 2, the fourth receive must wait 8 ticks, not 2.
    #[test]
    fn the_receive_count_cap_changes_no_backoff() {
        for max_receives in 1..=4 {
            for backoff_base in 1..=5u8 {
                for backoff_cap in backoff_base..=40 {
                    let m = QueueModel::new(
                        "no-dead-letter",
                        QueueConfig {
                            max_receives,
                            backoff_base,
                            backoff_cap,
                            ..QueueConfig::default()
                        },
                    )
                    .unwrap();
                    let cap = m.receive_cap();
                    for receives in 1..=40u8 {
                        assert_eq!(
                            m.backoff(receives.min(cap)),
                            m.backoff(receives),
                            "base {backoff_base}, cap {backoff_cap}, max-receives {max_receives}, {receives} receives (counted up to {cap})"
                        );
                    }
                }
            }
        }
        let m = QueueModel::new(
            "no-dead-letter",
            QueueConfig {
                backoff_base: 1,
                backoff_cap: 8,
                ..QueueConfig::default()
            },
        )
        .unwrap();
        assert_eq!(m.receive_cap(), 4);
        assert_eq!(m.retry_delay(m.receive_cap()), Some(8));
    }

    #[test]
    fn bad_configurations_and_variants_are_rejected() {
        let err = QueueModel::new("sloppy", QueueConfig::default()).unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `queue/sloppy`"),
            "{err}"
        );
        let err = QueueModel::new(
            "correct",
            QueueConfig {
                visibility_timeout: 0,
                ..QueueConfig::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("visibility-timeout"), "{err}");
    }

    /// Renames the consumers of `s`: consumer `i` becomes consumer `perm[i]`.
    fn permute_state(s: &QueueState, perm: &[u8]) -> QueueState {
        let mut out = s.clone();
        for (i, c) in s.consumers.iter().enumerate() {
            out.consumers[perm[i] as usize] = *c;
        }
        out
    }

    /// Renames the consumer an action names, if it names one.
    fn permute_action(a: Action, perm: &[u8]) -> Action {
        let p = |c: u8| perm[c as usize];
        match a {
            Action::Receive { consumer, msg } => Action::Receive {
                consumer: p(consumer),
                msg,
            },
            Action::Heartbeat { consumer } => Action::Heartbeat {
                consumer: p(consumer),
            },
            Action::ChangeVisibility { consumer } => Action::ChangeVisibility {
                consumer: p(consumer),
            },
            Action::Process { consumer } => Action::Process {
                consumer: p(consumer),
            },
            Action::Release { consumer } => Action::Release {
                consumer: p(consumer),
            },
            Action::Delete { consumer } => Action::Delete {
                consumer: p(consumer),
            },
            Action::Crash { consumer } => Action::Crash {
                consumer: p(consumer),
            },
            Action::Pause { consumer } => Action::Pause {
                consumer: p(consumer),
            },
            Action::Resume { consumer } => Action::Resume {
                consumer: p(consumer),
            },
            Action::Send { .. } | Action::Tick | Action::MoveToDeadLetter { .. } => a,
        }
    }

    /// Every permutation of `0..n`.
    fn permutations(n: u8) -> Vec<Vec<u8>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, n - 1);
                out.push(q);
            }
        }
        out
    }

    fn enabled(m: &QueueModel, s: &QueueState) -> Vec<Action> {
        let mut actions = Vec::new();
        m.actions(s, &mut actions);
        actions
    }

    /// The representative is what stateright's symmetry reduction needs: for every state
    /// reachable within the bounds and every renaming `π` of the consumers,
    ///
    /// - `representative(π(s)) == representative(s)`, and `representative(s)` is itself a
    ///   renaming of `s` (one canonical member of each class);
    /// - the model commutes with the renaming: the actions enabled in `π(s)` are the renamed
    ///   actions of `s`, and for every action `a`, `next(π(s), π(a)) == π(next(s, a))`, so
    ///   `representative(next(s, a)) == representative(next(π(s), π(a)))`;
    /// - every property has the same truth value in `s` and `π(s)`.
    ///
    /// (The last three are checked for the two renamings that generate all the others, a swap
    /// and a rotation: what holds for two renamings holds for their compositions.)
    ///
    /// Checked for every variant with three consumers (every one of the six renamings,
    /// transpositions and 3-cycles): at the bug checks' bounds (two messages) without
    /// heartbeats, and at one message with heartbeats and pauses, without and with one-off
    /// visibility changes.
    #[test]
    fn representative_commutes_with_every_action() {
        let plain = QueueConfig {
            messages: 2,
            consumers: 3,
            ..QueueConfig::default()
        };
        let beats = QueueConfig {
            consumers: 3,
            ..heartbeats()
        };
        let changes = QueueConfig {
            consumers: 3,
            change_visibility: true,
            ..heartbeats()
        };
        for config in [plain, beats, changes] {
            for v in QueueModel::variants() {
                let m = QueueModel::new(v.id, config.clone()).unwrap();
                let states = representative_commutes_with_every_action_of(&m);
                assert!(states > 1_000, "{}: only {states} states", v.id);
            }
        }
    }

    /// Checks [`representative_commutes_with_every_action`] on every state of `m` reachable
    /// without symmetry; returns how many there were.
    fn representative_commutes_with_every_action_of(m: &QueueModel) -> usize {
        let perms = permutations(m.config.consumers);
        // Commuting with two renamings means commuting with their compositions, so the two
        // that generate every renaming are enough: swap consumers 0 and 1, rotate them all.
        let n = m.config.consumers;
        let mut swap: Vec<u8> = (0..n).collect();
        swap.swap(0, 1);
        let rotate: Vec<u8> = (0..n).map(|i| (i + 1) % n).collect();
        let generators = [swap, rotate];
        let mut frontier = m.init_states();
        let mut seen = std::collections::HashSet::new();
        while let Some(s) = frontier.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            let rep = QueueModel::representative(&s);
            assert!(
                perms.iter().any(|p| permute_state(&s, p) == rep),
                "{}: the representative of {s:?} is not a renaming of it: {rep:?}",
                m.variant
            );
            let actions = enabled(m, &s);
            for p in &generators {
                let ps = permute_state(&s, p);
                assert_eq!(
                    QueueModel::representative(&ps),
                    rep,
                    "{}: {s:?} renamed by {p:?}",
                    m.variant
                );
                let mut renamed: Vec<Action> =
                    actions.iter().map(|&a| permute_action(a, p)).collect();
                let mut theirs = enabled(m, &ps);
                renamed.sort_by_key(|a| format!("{a:?}"));
                theirs.sort_by_key(|a| format!("{a:?}"));
                assert_eq!(
                    renamed, theirs,
                    "{}: the actions enabled in {s:?} renamed by {p:?}",
                    m.variant
                );
                for &a in &actions {
                    let next = m.next_state(&s, a);
                    let theirs = m.next_state(&ps, permute_action(a, p));
                    assert_eq!(
                        next.as_ref().map(|n| permute_state(n, p)),
                        theirs,
                        "{}: {a:?} in {s:?} does not commute with {p:?}",
                        m.variant
                    );
                    assert_eq!(
                        next.as_ref().map(QueueModel::representative),
                        theirs.as_ref().map(QueueModel::representative),
                        "{}: {a:?} in {s:?}",
                        m.variant
                    );
                }
                for prop in QueueModel::props() {
                    assert_eq!(
                        (prop.condition)(m, &s),
                        (prop.condition)(m, &ps),
                        "{}: {} in {s:?} renamed by {p:?}",
                        m.variant,
                        prop.name
                    );
                }
            }
            frontier.extend(m.next_states(&s));
        }
        seen.len()
    }
}
