//! Identifiers and the event log, in the queue model's action vocabulary.

use std::fmt;

use crate::clock::Instant;

/// A queue's identity: unique among the queues made in one process (under loom and shuttle, in
/// one execution). Every receipt carries the id of the queue that issued it, so a queue refuses
/// another queue's receipts as [`UnknownReceipt`](super::QueueError::UnknownReceipt) even when
/// both hold a message with the same id received as often (SQS receipt handles are opaque and
/// belong to one queue; another queue answers `ReceiptHandleIsInvalid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct QueueId(u64);

impl QueueId {
    /// An id no queue made before in this process (execution, under loom and shuttle) has.
    pub(crate) fn unique() -> QueueId {
        QueueId(crate::sync::unique_u64())
    }

    /// The id's number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "q{}", self.0)
    }
}

/// A message's identity, unique within one queue. Ids are issued in send order from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct MessageId(u64);

impl MessageId {
    /// Bits of the id below the shard number.
    const SHARD_SHIFT: u32 = 56;

    /// The id with number `n`: in a [`RetryQueue`](super::RetryQueue), the `n`-th message the
    /// queue accepted, from 0 (in a [`ShardedQueue`](super::ShardedQueue), shard 0's `n`-th).
    pub const fn new(n: u64) -> MessageId {
        MessageId(n)
    }

    /// The `index`-th message (from 0) accepted by shard `shard` of a
    /// [`ShardedQueue`](super::ShardedQueue): the shard in the top 8
    /// bits, the index in the other 56. Shard 0's ids are the plain numbers 0, 1, 2, ….
    pub const fn in_shard(shard: u8, index: u64) -> MessageId {
        MessageId(((shard as u64) << Self::SHARD_SHIFT) | (index & ((1 << Self::SHARD_SHIFT) - 1)))
    }

    /// The id's number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The shard that holds the message (always 0 in a [`RetryQueue`](super::RetryQueue)).
    pub const fn shard(self) -> u8 {
        (self.0 >> Self::SHARD_SHIFT) as u8
    }

    /// The message's index within its shard.
    pub const fn index(self) -> u64 {
        self.0 & ((1 << Self::SHARD_SHIFT) - 1)
    }
}

/// `m<n>` for shard 0 (so a [`RetryQueue`](super::RetryQueue) numbers its messages m0, m1,
/// …), and `m<shard>.<index>` for the other shards of a [`ShardedQueue`](super::ShardedQueue).
impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shard() {
            0 => write!(f, "m{}", self.0),
            shard => write!(f, "m{shard}.{}", self.index()),
        }
    }
}

/// Who performed a step, for the event log only: the queue never trusts or checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct ConsumerId(pub u32);

impl fmt::Display for ConsumerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Proof of one delivery: the queue that issued it, the message and its delivery number (1 for
/// the first receive, 2 for the second, ...). Every receive issues a new handle; only the handle
/// of the message's newest delivery may delete it, change its visibility or release it, and only
/// in the queue that issued it. Only a queue makes handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReceiptHandle {
    pub(crate) queue: QueueId,
    pub(crate) message: MessageId,
    pub(crate) delivery: u32,
}

impl ReceiptHandle {
    /// The queue that issued this receipt.
    pub const fn queue(&self) -> QueueId {
        self.queue
    }

    /// The message this receipt is for.
    pub const fn message(&self) -> MessageId {
        self.message
    }

    /// The delivery number: how many times the message had been received when this receipt was
    /// issued, this receive included.
    pub const fn delivery(&self) -> u32 {
        self.delivery
    }
}

impl fmt::Display for ReceiptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}#{}", self.queue, self.message, self.delivery)
    }
}

/// An operation that needs a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReceiptOperation {
    /// `delete` (SQS `DeleteMessage`).
    Delete,
    /// `change_visibility` (SQS `ChangeMessageVisibility`), a consumer's heartbeat.
    ChangeVisibility,
    /// `release`: processing failed, retry by the queue's retry policy.
    Release,
}

/// The method's name: `delete`, `change_visibility`, `release`.
impl fmt::Display for ReceiptOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReceiptOperation::Delete => "delete",
            ReceiptOperation::ChangeVisibility => "change_visibility",
            ReceiptOperation::Release => "release",
        })
    }
}

/// Why the queue rejected an operation ([`Event::Reject`]): the
/// [`QueueError`](super::QueueError) the caller got, without the receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Rejection {
    /// [`QueueError::StaleReceipt`](super::QueueError::StaleReceipt): the message has been
    /// received again since; its newest delivery is `current`.
    StaleReceipt {
        /// The message's newest delivery number.
        current: u32,
    },
    /// [`QueueError::MessageNotInflight`](super::QueueError::MessageNotInflight): the
    /// delivery's visibility timeout has run out.
    MessageNotInflight,
    /// [`QueueError::MessageGone`](super::QueueError::MessageGone): deleted or dead-lettered.
    MessageGone,
    /// [`QueueError::UnknownReceipt`](super::QueueError::UnknownReceipt): not issued by this
    /// queue.
    UnknownReceipt,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::StaleReceipt { current } => {
                write!(f, "stale receipt, the newest delivery is #{current}")
            }
            Rejection::MessageNotInflight => {
                f.write_str("not in flight, the delivery's visibility timeout has run out")
            }
            Rejection::MessageGone => f.write_str("the message is deleted or dead-lettered"),
            Rejection::UnknownReceipt => f.write_str("the receipt is not this queue's"),
        }
    }
}

/// What became of a consumer's processing step ([`Event::Process`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ProcessOutcome {
    /// The effect happened.
    Applied,
    /// The effect had already happened for this message (an idempotency ledger said so); it
    /// was not repeated.
    Duplicate,
    /// The effect was discarded by the store it was written to, because a newer delivery of the
    /// same message had already claimed it (the delivery number used as a fencing token).
    Superseded,
}

/// One step of a queue run, named after the queue model's actions.
///
/// The queue records `Send`, `Receive`, `Release`, `Delete`, `ChangeVisibility`, `Reject`,
/// `Tick`, `Expire` and `MoveToDeadLetter` itself. `Process` and `Crash` happen in a consumer and are
/// recorded by the caller through `RetryQueue::record` (or `Consumer::record_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "action")
)]
pub enum Event {
    /// A message entered the queue.
    Send {
        /// The new message.
        message: MessageId,
    },
    /// A consumer received a message: delivery number `delivery`, invisible to other
    /// consumers until `visible_until`.
    Receive {
        /// The message received.
        message: MessageId,
        /// Its delivery number (equal to its receive count).
        delivery: u32,
        /// Who received it, if known.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        consumer: Option<ConsumerId>,
        /// When its visibility timeout runs out.
        visible_until: Instant,
    },
    /// A consumer did the message's work (recorded by the consumer).
    Process {
        /// The message processed.
        message: MessageId,
        /// The delivery it was processed under.
        delivery: u32,
        /// Who processed it, if known.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        consumer: Option<ConsumerId>,
        /// Whether the effect happened.
        outcome: ProcessOutcome,
    },
    /// A consumer gave up on a delivery ("processing failed"); the retry policy decided when the
    /// message is visible again.
    Release {
        /// The message released.
        message: MessageId,
        /// The delivery released.
        delivery: u32,
        /// Who released it, if known.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        consumer: Option<ConsumerId>,
        /// When the message is visible again.
        visible_at: Instant,
    },
    /// A message was deleted with the receipt of delivery `delivery`, while its newest delivery
    /// was `current` (they differ only when a stale receipt was accepted, i.e. under the
    /// `StaleReceiptDelete` deviation).
    Delete {
        /// The message deleted.
        message: MessageId,
        /// The delivery number of the receipt used.
        delivery: u32,
        /// The message's newest delivery number at the time.
        current: u32,
        /// Who deleted it, if known.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        consumer: Option<ConsumerId>,
    },
    /// The holder of the newest delivery moved the message's visibility deadline.
    ChangeVisibility {
        /// The message.
        message: MessageId,
        /// The delivery whose receipt was used.
        delivery: u32,
        /// Who changed it, if known.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        consumer: Option<ConsumerId>,
        /// The new deadline (the current time for "visible now").
        visible_at: Instant,
    },
    /// The queue rejected a receipt: `operation` with the receipt of delivery `delivery` of
    /// `message` failed for `reason`, and changed nothing. (The receipt's queue is not recorded:
    /// queue ids differ from run to run, and the log is the same for the same run.)
    Reject {
        /// What was attempted.
        operation: ReceiptOperation,
        /// The message the receipt names.
        message: MessageId,
        /// The delivery number the receipt names.
        delivery: u32,
        /// Who attempted it, if known.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        consumer: Option<ConsumerId>,
        /// Why it was rejected.
        reason: Rejection,
    },
    /// Time moved: an operation read a later time than any before it. Logged by the queue
    /// before that operation's own events (and before the expiries the new time causes); a
    /// clock that moves twice between two operations shows as one tick.
    Tick {
        /// The new time.
        now: Instant,
    },
    /// A message's visibility deadline passed and it is visible again. The queue applies
    /// deadlines lazily, so this is recorded at the first queue operation after the deadline.
    Expire {
        /// The message.
        message: MessageId,
        /// Its newest delivery number when the deadline passed.
        delivery: u32,
    },
    /// A message that had been received `receive_count` (= the queue's `max_receives`) times
    /// became visible again and was moved to the dead-letter queue instead.
    MoveToDeadLetter {
        /// The message.
        message: MessageId,
        /// How many times it had been received.
        receive_count: u32,
    },
    /// A consumer stopped without finishing its delivery (recorded by the test harness).
    Crash {
        /// The consumer that crashed.
        consumer: ConsumerId,
        /// The message it was holding, if any.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        message: Option<MessageId>,
        /// The delivery it was holding, if any.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        delivery: Option<u32>,
    },
}

impl Event {
    /// The message the step concerns, if it names one (every step but `Tick`, and a `Crash`
    /// of a consumer that held nothing).
    pub fn message(&self) -> Option<MessageId> {
        match *self {
            Event::Send { message }
            | Event::Receive { message, .. }
            | Event::Process { message, .. }
            | Event::Release { message, .. }
            | Event::Delete { message, .. }
            | Event::ChangeVisibility { message, .. }
            | Event::Reject { message, .. }
            | Event::Expire { message, .. }
            | Event::MoveToDeadLetter { message, .. } => Some(message),
            Event::Crash { message, .. } => message,
            Event::Tick { .. } => None,
        }
    }
}

/// An [`Event`] with the queue time at which it was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EventRecord {
    /// Queue time when the event was recorded.
    pub at: Instant,
    /// What happened.
    pub event: Event,
}

struct Who(Option<ConsumerId>);

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, "{c}"),
            None => f.write_str("a consumer"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Event::Send { message } => write!(f, "send {message}"),
            Event::Receive {
                message,
                delivery,
                consumer,
                visible_until,
            } => write!(
                f,
                "{} receives {message} (delivery #{delivery}, invisible until {visible_until})",
                Who(consumer)
            ),
            Event::Process {
                message,
                delivery,
                consumer,
                outcome,
            } => {
                write!(
                    f,
                    "{} processes {message} (delivery #{delivery})",
                    Who(consumer)
                )?;
                match outcome {
                    ProcessOutcome::Applied => f.write_str(": effect applied"),
                    ProcessOutcome::Duplicate => {
                        f.write_str(": already applied, skipped (idempotency ledger)")
                    }
                    ProcessOutcome::Superseded => f.write_str(
                        ": write discarded, a newer delivery has already claimed the message",
                    ),
                }
            }
            Event::Release {
                message,
                delivery,
                consumer,
                visible_at,
            } => write!(
                f,
                "{} releases {message} (delivery #{delivery}); visible again at {visible_at}",
                Who(consumer)
            ),
            Event::Delete {
                message,
                delivery,
                current,
                consumer,
            } => {
                write!(
                    f,
                    "{} deletes {message} with the receipt of delivery #{delivery}",
                    Who(consumer)
                )?;
                if delivery != current {
                    write!(f, " (STALE: the newest delivery is #{current})")?;
                }
                Ok(())
            }
            Event::ChangeVisibility {
                message,
                delivery,
                consumer,
                visible_at,
            } => write!(
                f,
                "{} sets {message} (delivery #{delivery}) invisible until {visible_at}",
                Who(consumer)
            ),
            Event::Reject {
                operation,
                message,
                delivery,
                consumer,
                reason,
            } => write!(
                f,
                "the queue rejects {}'s {operation} of {message} (delivery #{delivery}): {reason}",
                Who(consumer)
            ),
            Event::Tick { now } => write!(f, "clock advances to {now}"),
            Event::Expire { message, delivery } => write!(
                f,
                "the visibility deadline of {message} (delivery #{delivery}) passes"
            ),
            Event::MoveToDeadLetter {
                message,
                receive_count,
            } => write!(
                f,
                "{message} moves to the dead-letter queue after {receive_count} receives"
            ),
            Event::Crash {
                consumer,
                message,
                delivery,
            } => match (message, delivery) {
                (Some(m), Some(d)) => {
                    write!(f, "{consumer} crashes holding {m} (delivery #{d})")
                }
                _ => write!(f, "{consumer} crashes"),
            },
        }
    }
}

impl fmt::Display for EventRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.at, self.event)
    }
}
