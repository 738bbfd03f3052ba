//! The queue's driver: `coordlab_models::queue` behaviours on `coordlab_impls::queue`.
//!
//! # The implementation a behaviour runs on
//! One `RetryQueue<u8, ManualClock>` (the body is the model's message index), configured
//! from the model's: the visibility timeout, the retry policy and the backoff base and cap
//! in milliseconds (one model tick is one millisecond), and `max-receives` as the queue's
//! redrive policy. The model's consumers are played by the driver through the queue's
//! `Consumer` handles, each following the consumer discipline the model's correct consumer
//! follows: delete only after processing; apply the effect through an
//! `IdempotencyLedger` keyed by the message; delete a duplicate too; heartbeat every
//! `heartbeat` ms while holding an undeleted delivery.
//!
//! # The deviations
//! The model's variant names which part of the implementation deviates:
//! - `stale-receipt-delete`: the queue (`queue::Deviation::StaleReceiptDelete`);
//! - `no-dead-letter`: the queue's configuration (no redrive policy);
//! - `delete-before-process`, `no-idempotency`, `duplicate-not-deleted`, `heartbeat-stops`:
//!   the consumer (it may delete before processing; applies effects without the ledger;
//!   lets a duplicate go without deleting it; renews once and then stops). The queue
//!   cannot refuse these steps — SQS accepts a delete at any time — so on the correct
//!   implementation the correct consumer's discipline is what does not take them.
//!
//! # Actions → API calls
//! `Send` → `send`; `Receive` → the consumer's `receive(visibility timeout)`, which must
//! deliver the model's message (the queue delivers the message visible longest, ties by
//! id; the model may choose any visible one); `Heartbeat` and `ChangeVisibility` →
//! `change_visibility(visibility timeout)`; `Process` → the effect through the ledger;
//! `Release` → `release`; `Delete` → `delete`; `Crash` → the consumer drops its delivery
//! (`record_crash`); `Pause` / `Resume` → the consumer stops and starts (nothing at the
//! queue); `Tick` → the manual clock moves 1 ms; `MoveToDeadLetter` → nothing: the queue moves a message that used its
//! receives at the instant it becomes visible, and the driver checks it did.
//!
//! # The abstraction (implementation → model state)
//! A message's status is the queue's `message_state`: visible; in flight for `until − now`
//! ticks; delayed (released) for `until − now` ticks — which is the model's `InFlight` under
//! `requeue-on-expiry`, whose release leaves the timer running, and `Visible { delay }`
//! otherwise; not held: in the dead-letter queue, or deleted. Receive counts are the
//! queue's, saturated as the model saturates them. Consumers, the ledger (effects per
//! message), crashes and pauses are the driver's consumers' own state; a consumer's receipt
//! is stale when the queue's receive count passed its delivery number.
//!
//! One equivalence is normalized on both sides: the model moves a message that used its
//! receives to the dead-letter queue one step after it became visible, the queue at once.
//!
//! # What is not checked
//! - Batches, sharded queues, message bodies and absolute time: the model has none.
//! - The consumer discipline is the driver's, not a library type's: the correct
//!   implementation's refusals of consumer-side steps are the discipline the driver's
//!   consumer follows (the one `impls/tests/queue/harness.rs` follows), stated in each
//!   refusal.

use std::time::Duration;

use coordlab_impls::clock::{Clock, Instant, ManualClock};
use coordlab_impls::queue::{
    ApplyOutcome, ConsumerId, Deviation, IdempotencyLedger, MessageId, MessageStatus,
    QueueConfig as ImplConfig, QueueError, ReceiptHandle, RetryPolicy as ImplRetry, RetryQueue,
};
use coordlab_models::Protocol;
use coordlab_models::queue::{
    Action, Bug, Consumer, Message, Pause, QueueModel, QueueState, RetryPolicy, Status,
};

use super::{Driver, Refusal};

/// The delivery a model consumer holds, as the driver plays it (an idle consumer holds
/// `None`).
#[derive(Clone, Copy, Debug)]
struct Holding {
    msg: u8,
    receipt: ReceiptHandle,
    processed: bool,
    deleted: bool,
    renewed: bool,
    /// It has changed the visibility once (`change-visibility`).
    changed: bool,
    pause: Pause,
    /// When the visibility was last set by this delivery (the receive or a renewal).
    set_at: Instant,
}

/// The queue's driver state.
pub struct QueueDriver {
    queue: RetryQueue<u8, ManualClock>,
    clock: ManualClock,
    /// The consumer-side deviation, if the variant's bug is the consumer's.
    consumer_bug: Option<Bug>,
    /// Model message → the queue's id, once sent.
    ids: Vec<Option<MessageId>>,
    /// The latest receive count seen per message (kept after it leaves the queue).
    receives: Vec<u32>,
    /// Whether the queue accepted a delete of the message.
    deleted: Vec<bool>,
    /// Effects applied per message (the consumers' effect store).
    effects: Vec<u8>,
    ledger: IdempotencyLedger<u8>,
    dropped: Vec<bool>,
    consumers: Vec<Option<Holding>>,
    crashes: u8,
    pauses: u8,
}

fn ms(ticks: u8) -> Duration {
    Duration::from_millis(u64::from(ticks))
}

fn queue_refusal(e: &QueueError) -> Refusal {
    Refusal::new("the queue", e.to_string())
}

impl QueueDriver {
    fn visibility(model: &QueueModel) -> Duration {
        ms(model.config().visibility_timeout)
    }

    fn consumer_has(&self, bug: Bug) -> bool {
        self.consumer_bug == Some(bug)
    }

    fn held(&self, consumer: u8) -> Result<Holding, Refusal> {
        self.consumers[usize::from(consumer)].ok_or_else(|| {
            Refusal::new(
                "the driver",
                format!("consumer {consumer} holds no delivery"),
            )
        })
    }

    /// Whether a delivery's receipt is still the message's newest and the message is held.
    fn receipt_current(&mut self, receipt: &ReceiptHandle) -> bool {
        self.queue
            .message_state(receipt.message())
            .is_some_and(|s| s.receive_count == receipt.delivery())
    }

    fn owns(&mut self, receipt: &ReceiptHandle) -> bool {
        self.queue
            .message_state(receipt.message())
            .is_some_and(|s| {
                s.receive_count == receipt.delivery()
                    && matches!(s.status, MessageStatus::InFlight { .. })
            })
    }
}

impl Driver for QueueDriver {
    type Model = QueueModel;

    fn start(model: &QueueModel, deviation: bool) -> Result<Self, String> {
        let c = model.config();
        let bug = model.bug().filter(|_| deviation);
        let retry = match c.retry {
            RetryPolicy::Immediate => ImplRetry::Immediate,
            RetryPolicy::RequeueOnExpiry => ImplRetry::RequeueOnExpiry,
            RetryPolicy::ExponentialBackoff => ImplRetry::ExponentialBackoff {
                base: ms(c.backoff_base),
                cap: ms(c.backoff_cap),
            },
        };
        let mut config = ImplConfig::default().with_retry_policy(retry);
        if bug != Some(Bug::NoDeadLetter) {
            config = config.with_max_receives(u32::from(c.max_receives));
        }
        if bug == Some(Bug::StaleReceiptDelete) {
            config = config.with_deviation(Some(Deviation::StaleReceiptDelete));
        }
        let consumer_bug = bug.filter(|b| {
            matches!(
                b,
                Bug::DeleteBeforeProcess
                    | Bug::NoIdempotency
                    | Bug::DuplicateNotDeleted
                    | Bug::HeartbeatStops
            )
        });
        let clock = ManualClock::new();
        let n = usize::from(c.messages);
        Ok(QueueDriver {
            queue: RetryQueue::new(config, clock.clone()),
            clock,
            consumer_bug,
            ids: vec![None; n],
            receives: vec![0; n],
            deleted: vec![false; n],
            effects: vec![0; n],
            ledger: IdempotencyLedger::new(),
            dropped: vec![false; n],
            consumers: vec![None; usize::from(c.consumers)],
            crashes: 0,
            pauses: 0,
        })
    }

    fn step(
        &mut self,
        model: &QueueModel,
        before: &QueueState,
        action: &Action,
        after: &QueueState,
    ) -> Result<(), Refusal> {
        let heartbeat = model.config().heartbeat;
        match *action {
            Action::Send { msg } => {
                self.ids[usize::from(msg)] = Some(self.queue.send(msg));
            }
            Action::Receive { consumer, msg } => {
                let handle = self.queue.consumer(ConsumerId(u32::from(consumer)));
                let Some(d) = handle.receive(Self::visibility(model)) else {
                    let why = match self.ids[usize::from(msg)]
                        .map(|id| self.queue.message_state(id))
                    {
                        Some(None) if !self.deleted[usize::from(msg)] => format!(
                            "nothing to receive: m{msg} was moved to the dead-letter queue after {} receives (maxReceiveCount {})",
                            self.receives[usize::from(msg)],
                            model.config().max_receives
                        ),
                        _ => format!("nothing to receive: m{msg} is not visible"),
                    };
                    return Err(Refusal::new("the queue", why));
                };
                if d.body != msg {
                    return Err(Refusal::new(
                        "the queue",
                        format!(
                            "its receive delivers m{} (visible longest) where the model receives m{msg}; the model may deliver any visible message",
                            d.body
                        ),
                    ));
                }
                self.receives[usize::from(msg)] = d.receive_count;
                self.consumers[usize::from(consumer)] = Some(Holding {
                    msg,
                    receipt: d.receipt,
                    processed: false,
                    deleted: false,
                    renewed: false,
                    changed: false,
                    pause: Pause::Running,
                    set_at: self.clock.now(),
                });
            }
            Action::Heartbeat { consumer } => {
                let Holding {
                    receipt, renewed, ..
                } = self.held(consumer)?;
                if renewed && self.consumer_has(Bug::HeartbeatStops) {
                    return Err(Refusal::new(
                        "the consumer",
                        "its heartbeat stopped after the first renewal",
                    ));
                }
                let handle = self.queue.consumer(ConsumerId(u32::from(consumer)));
                match handle.change_visibility(&receipt, Self::visibility(model)) {
                    Ok(_) => {
                        let now = self.clock.now();
                        if let Some(Holding {
                            renewed, set_at, ..
                        }) = &mut self.consumers[usize::from(consumer)]
                        {
                            *renewed = true;
                            *set_at = now;
                        }
                    }
                    // The model's step renews: the queue refuses what it needs.
                    Err(e) if after.consumers[usize::from(consumer)] != Consumer::Idle => {
                        return Err(queue_refusal(&e));
                    }
                    // Refused as in the model: the consumer learns it lost the message and
                    // stops.
                    Err(_) => self.consumers[usize::from(consumer)] = None,
                }
            }
            Action::ChangeVisibility { consumer } => {
                let Holding { receipt, .. } = self.held(consumer)?;
                let handle = self.queue.consumer(ConsumerId(u32::from(consumer)));
                match handle.change_visibility(&receipt, Self::visibility(model)) {
                    Ok(_) => {
                        let now = self.clock.now();
                        if let Some(Holding {
                            changed, set_at, ..
                        }) = &mut self.consumers[usize::from(consumer)]
                        {
                            *changed = true;
                            *set_at = now;
                        }
                    }
                    // The model's step is accepted: the queue refuses what it needs.
                    Err(e) if after.consumers[usize::from(consumer)] != Consumer::Idle => {
                        return Err(queue_refusal(&e));
                    }
                    // Refused as in the model: the consumer drops the delivery.
                    Err(_) => self.consumers[usize::from(consumer)] = None,
                }
            }
            Action::Process { consumer } => {
                let Holding {
                    msg,
                    receipt,
                    deleted,
                    ..
                } = self.held(consumer)?;
                let m = usize::from(msg);
                let duplicate = if self.consumer_has(Bug::NoIdempotency) {
                    self.effects[m] = (self.effects[m] + 1).min(2);
                    false
                } else {
                    let effects = &mut self.effects;
                    match self
                        .ledger
                        .apply_once(msg, || effects[m] = (effects[m] + 1).min(2))
                    {
                        ApplyOutcome::Applied(()) => false,
                        ApplyOutcome::Duplicate => true,
                    }
                };
                if deleted {
                    self.consumers[usize::from(consumer)] = None;
                } else if duplicate && self.consumer_has(Bug::DuplicateNotDeleted) {
                    if self.receipt_current(&receipt) {
                        self.dropped[m] = true;
                    }
                    self.consumers[usize::from(consumer)] = None;
                } else if let Some(Holding { processed, .. }) =
                    &mut self.consumers[usize::from(consumer)]
                {
                    *processed = true;
                }
            }
            Action::Release { consumer } => {
                let Holding { receipt, .. } = self.held(consumer)?;
                // A refusal changes nothing at the queue; either way the consumer is done.
                let _ = self
                    .queue
                    .consumer(ConsumerId(u32::from(consumer)))
                    .release(&receipt);
                self.consumers[usize::from(consumer)] = None;
            }
            Action::Delete { consumer } => {
                let Holding {
                    msg,
                    receipt,
                    processed,
                    ..
                } = self.held(consumer)?;
                if !processed && !self.consumer_has(Bug::DeleteBeforeProcess) {
                    return Err(Refusal::new(
                        "the consumer",
                        format!(
                            "it deletes a message only after processing it, and m{msg} is not processed yet (the queue would accept the delete: SQS does)"
                        ),
                    ));
                }
                let answer = self
                    .queue
                    .consumer(ConsumerId(u32::from(consumer)))
                    .delete(&receipt);
                match answer {
                    Ok(()) => self.deleted[usize::from(msg)] = true,
                    // The model's step deletes the message: the queue refuses what it needs.
                    Err(e)
                        if before.messages[usize::from(msg)].status != Status::Deleted
                            && after.messages[usize::from(msg)].status == Status::Deleted =>
                    {
                        return Err(queue_refusal(&e));
                    }
                    Err(_) => {}
                }
                if processed {
                    self.consumers[usize::from(consumer)] = None;
                } else if let Some(Holding { deleted, .. }) =
                    &mut self.consumers[usize::from(consumer)]
                {
                    *deleted = true;
                }
            }
            Action::Crash { consumer } => {
                let Holding { receipt, .. } = self.held(consumer)?;
                self.queue
                    .consumer(ConsumerId(u32::from(consumer)))
                    .record_crash(Some(&receipt));
                self.consumers[usize::from(consumer)] = None;
                self.crashes += 1;
            }
            Action::Pause { consumer } => {
                self.held(consumer)?;
                if let Some(Holding { pause, .. }) = &mut self.consumers[usize::from(consumer)] {
                    *pause = Pause::Paused;
                }
                self.pauses += 1;
            }
            Action::Resume { consumer } => {
                let Holding { receipt, .. } = self.held(consumer)?;
                let owns = self.owns(&receipt);
                if let Some(Holding { pause, .. }) = &mut self.consumers[usize::from(consumer)] {
                    *pause = if owns {
                        Pause::Running
                    } else {
                        Pause::ResumedLate
                    };
                }
            }
            Action::Tick => {
                // A running heartbeat is punctual: a consumer whose renewal is due renews
                // before time moves on.
                if heartbeat > 0 {
                    let now = self.clock.now();
                    for (i, c) in self.consumers.iter().enumerate() {
                        if let Some(Holding {
                            msg,
                            deleted: false,
                            pause: Pause::Running,
                            renewed,
                            set_at,
                            ..
                        }) = *c
                            && !(renewed && self.consumer_has(Bug::HeartbeatStops))
                            && now.saturating_duration_since(set_at) >= ms(heartbeat)
                        {
                            return Err(Refusal::new(
                                "the consumer",
                                format!(
                                    "consumer {i}'s heartbeat for m{msg} is due ({heartbeat} ms since the visibility was last set), and it renews before time moves on"
                                ),
                            ));
                        }
                    }
                }
                self.clock.advance(Duration::from_millis(1));
            }
            Action::MoveToDeadLetter { msg } => {
                let id = self.ids[usize::from(msg)].expect("the model sent it");
                if self.queue.message_state(id).is_some() {
                    return Err(Refusal::new(
                        "the queue",
                        format!("m{msg} is still in the queue: it has no redrive policy"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The queue's own choices among the model's: a message due for the dead-letter queue
    /// is moved before anything else happens (the queue moves it at the instant it becomes
    /// visible; the model also lets its holder delete it first), and a receive takes the
    /// message the queue delivers next: the one visible longest (ties by id).
    fn admits(&mut self, model: &QueueModel, state: &QueueState, action: &Action) -> bool {
        if state.messages.iter().any(|m| redrive_due(model, m)) {
            return matches!(action, Action::MoveToDeadLetter { .. });
        }
        let Action::Receive { msg, .. } = *action else {
            return true;
        };
        let mut next: Option<(Instant, MessageId, u8)> = None;
        for m in 0..self.ids.len() {
            let Some(id) = self.ids[m] else { continue };
            if let Some(state) = self.queue.message_state(id)
                && let MessageStatus::Visible { since } = state.status
                && next.is_none_or(|(s, i, _)| (since, id) < (s, i))
            {
                next = Some((since, id, m as u8));
            }
        }
        next.is_some_and(|(.., m)| m == msg)
    }

    fn observe(&mut self, model: &QueueModel) -> QueueState {
        let now = self.clock.now();
        let cap = model.receive_cap();
        let requeue = model.config().retry == RetryPolicy::RequeueOnExpiry;
        let left = |until: Instant| -> u8 {
            u8::try_from(until.as_millis().saturating_sub(now.as_millis())).unwrap_or(u8::MAX)
        };
        let mut messages = Vec::new();
        for m in 0..self.ids.len() {
            let status = match self.ids[m] {
                None => Status::Unsent,
                Some(id) => match self.queue.message_state(id) {
                    Some(state) => {
                        self.receives[m] = state.receive_count;
                        match state.status {
                            MessageStatus::Visible { .. } => Status::Visible { delay: 0 },
                            MessageStatus::InFlight { until } => Status::InFlight {
                                timeout: left(until),
                            },
                            MessageStatus::Delayed { until } if requeue => Status::InFlight {
                                timeout: left(until),
                            },
                            MessageStatus::Delayed { until } => {
                                Status::Visible { delay: left(until) }
                            }
                        }
                    }
                    None if self.deleted[m] => Status::Deleted,
                    None => Status::DeadLettered,
                },
            };
            messages.push(Message {
                status,
                receives: u8::try_from(self.receives[m]).unwrap_or(u8::MAX).min(cap),
                dropped: self.dropped[m],
            });
        }
        let mut consumers = Vec::new();
        for i in 0..self.consumers.len() {
            let c = match self.consumers[i] {
                None => Consumer::Idle,
                Some(Holding {
                    msg,
                    receipt,
                    processed,
                    deleted,
                    renewed,
                    changed,
                    pause,
                    ..
                }) => Consumer::Holding {
                    msg,
                    stale: self.receives[usize::from(msg)] > receipt.delivery(),
                    processed,
                    deleted,
                    renewed,
                    changed,
                    pause,
                },
            };
            consumers.push(c);
        }
        QueueState {
            messages: messages.into_iter().collect(),
            consumers: consumers.into_iter().collect(),
            ledger: self.effects.iter().copied().collect(),
            crashes: self.crashes,
            pauses: self.pauses,
        }
    }

    fn normalize(model: &QueueModel, state: &QueueState) -> QueueState {
        let mut s = state.clone();
        for m in &mut s.messages {
            if redrive_due(model, m) {
                m.status = Status::DeadLettered;
            }
        }
        s
    }
}

/// Whether the model's broker must move `m` to the dead-letter queue: visible, with all its
/// receives used, under a redrive policy.
fn redrive_due(model: &QueueModel, m: &Message) -> bool {
    model.bug() != Some(Bug::NoDeadLetter)
        && m.status == (Status::Visible { delay: 0 })
        && m.receives >= model.config().max_receives
}
