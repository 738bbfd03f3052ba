//! The queue's refinement mapping: `coordlab_impls::queue` event logs onto
//! `coordlab_models::queue::QueueModel`.
//!
//! # Ids, time, variant
//! - Messages: the `n`-th `Send` in the log is model message `n` (`m0`, `m1`, …; the
//!   queue issues ids in send order, and the model's producer sends in order). Consumers:
//!   the first consumer id the log names is consumer 0, the next new one consumer 1, … .
//!   An event that names no consumer cannot be mapped (log through `RetryQueue::consumer`).
//! - Time: one model tick is one millisecond of the implementation's clock (the
//!   implementation's module docs say so too). The model keeps only the ticks left on each
//!   timer, so a clock move of `d` ms is `min(d, longest timer left)` model `Tick`s: once
//!   no timer runs, time passing changes nothing the model has (a stutter).
//! - Variant: the log's variant is the deviation's id, which is the model's bug variant of
//!   the same name (`Deviation::id`); `correct` without one.
//! - Configuration: `visibility-timeout-ms`, the backoff base and cap become ticks (at most
//!   255); `max-receives` is the model's (at most 16); a queue without a redrive policy is
//!   the model at `max-receives = 16`, the largest it has, so a log in which a message is
//!   received more than 15 times without one diverges at the 16th redelivery. `messages`,
//!   `consumers` and `max-crashes` are counted from the log; heartbeats and pauses are off;
//!   `change-visibility` is on when the log has a `change_visibility` (accepted or refused).
//!
//! # Events
//! - `Send`, `Receive`, `Process`, `Delete`, `Release`, `MoveToDeadLetter`, and `Crash`
//!   of a consumer holding a delivery: the model action of the same name. A `Crash` of an
//!   idle consumer is a stutter, and so is a crash after the consumer finished the delivery
//!   it names (processed and deleted it, which left the model's consumer idle).
//! - `Reject` of a `delete` or `release`: the model's `Delete` / `Release`, which the
//!   model's broker refuses in that state; the reason must be the one the model's state
//!   gives (deleted or dead-lettered: `MessageGone`; received again since: `StaleReceipt`
//!   with the model's receive count as `current`; out of flight: `MessageNotInflight`).
//! - `Tick`: model `Tick`s as above. `Expire`: a stutter, but the refinement of *lazy
//!   expiry*: the implementation applies deadlines at its next operation, the model as
//!   time passes; both happen at the same clock reading (the implementation logs its
//!   expiries right after the `Tick` that passed them), so the messages the model's ticks
//!   made visible must be exactly those the log's `Expire`s name before its next other
//!   step (a `MoveToDeadLetter` may come between them).
//! - `change_visibility`, accepted (`ChangeVisibility`) or refused (`Reject`): the model's
//!   one-off `ChangeVisibility` (what the harness's consumer does once, before processing,
//!   whenever it gets to it). Accepted, the model's broker must accept it too and the new
//!   deadline must be the model's (`visible_at − now` = `visibility-timeout` ticks: the
//!   model's change sets the visibility timeout, so a change to another length diverges at
//!   its deadline); refused, the model's broker must refuse it for the same reason and
//!   change nothing, and the consumer drops the delivery, as the implementation's does. The
//!   model lets a consumer change a delivery's visibility once, before deleting it: a second
//!   change of one delivery, or one after its delete, is a step the model does not take.
//!
//! # Not expressed
//! - Effects without an idempotency ledger (`idempotent: false`, e.g. the harness's fenced
//!   store): outcomes are not compared, as the model's consumers are idempotent.
//! - `UnknownReceipt` (another queue's receipt) and sharded queues: the model has one queue
//!   ([`ConformError::Unmapped`]).
//!
//! # Effects
//! A consumer applies an effect at its store (the idempotency ledger) and records the
//! `Process` afterwards, outside the queue's lock, so two consumers' records of one message
//! may reach the log in the opposite order of their ledger checks: a duplicate recorded
//! before the apply it found. The two model `Process` actions commute (either order reaches
//! the same state: the ledger has the effect, both consumers have processed), so the
//! mapping takes them in effect order: at such a duplicate it takes the later record's
//! `Process` first, and that record, when its turn comes, is a stutter.
//!
//! # Agreement after each step
//! A receive delivers that message with delivery number = the model's receive count and a
//! deadline `visible_until − now` = the ticks the model's timer has left; a release's
//! `visible_at − now` = the ticks until the model makes the message visible (by the retry
//! policy); an accepted delete deletes the message in the model, with `current` the model's
//! receive count, and a refused one leaves it; with idempotent consumers (`idempotent`), an
//! applied effect adds to the model's ledger and a duplicate finds it there (without, the
//! effect store is not the model's ledger and outcomes are not compared); each consumer
//! step uses the receipt of the delivery the consumer received last.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use coordlab_impls::queue::{
    ConsumerId, Event, EventRecord, MessageId, ProcessOutcome, ReceiptOperation, Rejection,
};
use coordlab_models::Protocol;
use coordlab_models::queue::{
    Action, Consumer, QueueConfig, QueueModel, QueueState, RetryPolicy, Status,
};
use serde::{Deserialize, Serialize};

use super::{ConformError, Conformance, Failure, Mismatch};

/// The queue's configuration as a run log states it, in the implementation's units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunConfig {
    /// The visibility timeout every receive uses, ms.
    pub visibility_timeout_ms: u64,
    /// The queue's retry policy.
    pub retry: Retry,
    /// The queue's `max_receives` (absent: no dead-letter queue).
    #[serde(default)]
    pub max_receives: Option<u32>,
    /// Whether consumers apply effects through an idempotency ledger (then `Process`
    /// outcomes are compared with the model's ledger).
    pub idempotent: bool,
}

/// The retry policy, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Retry {
    /// Visible again at once.
    Immediate,
    /// Visible again when the visibility timeout runs out.
    RequeueOnExpiry,
    /// `min(base · 2^(receives − 1), cap)`.
    Backoff {
        /// Base delay, ms.
        base_ms: u64,
        /// Cap, ms.
        cap_ms: u64,
    },
}

/// The queue's mapping state: ids seen, the time reached, expiries awaited.
#[derive(Debug)]
pub struct QueueConformance {
    messages: Vec<MessageId>,
    consumers: Vec<ConsumerId>,
    /// The delivery number each model consumer holds (by model index).
    holding: Vec<Option<u32>>,
    /// The delivery (message, number) each model consumer finished last: processed and
    /// deleted, which made it idle.
    finished: Vec<Option<(usize, u32)>>,
    now: u64,
    idempotent: bool,
    /// Messages the model's last ticks made visible, not yet named by an `Expire`.
    awaited: BTreeSet<usize>,
    /// The `Process` records that applied an effect: (index in the log, message, delivery,
    /// consumer).
    applied: Vec<(usize, MessageId, u32, Option<ConsumerId>)>,
    /// `Process` records whose model action was taken before their turn (see "Effects").
    taken_early: BTreeSet<usize>,
    /// The index in the log of the event being mapped.
    index: usize,
    /// The event being mapped took a later `Process` first.
    reordered: bool,
}

fn ticks(what: &str, ms: u64) -> Result<u8, ConformError> {
    u8::try_from(ms).map_err(|_| ConformError::Unmapped {
        step: 0,
        why: format!("{what} {ms} ms: the model counts at most 255 ticks (1 tick = 1 ms)"),
    })
}

fn consumer_of(event: &Event) -> Option<Option<ConsumerId>> {
    match *event {
        Event::Receive { consumer, .. }
        | Event::Process { consumer, .. }
        | Event::Release { consumer, .. }
        | Event::Delete { consumer, .. }
        | Event::ChangeVisibility { consumer, .. }
        | Event::Reject { consumer, .. } => Some(consumer),
        Event::Crash { consumer, .. } => Some(Some(consumer)),
        Event::Send { .. }
        | Event::Tick { .. }
        | Event::Expire { .. }
        | Event::MoveToDeadLetter { .. } => None,
    }
}

/// Ticks until the model makes a message visible (0: visible now), if it is still queued.
fn ticks_to_visible(status: Status) -> Option<u8> {
    match status {
        Status::Visible { delay } => Some(delay),
        Status::InFlight { timeout } => Some(timeout),
        Status::Unsent | Status::Deleted | Status::DeadLettered => None,
    }
}

fn status_words(status: Status) -> String {
    match status {
        Status::Unsent => "not sent".into(),
        Status::Visible { delay: 0 } => "visible".into(),
        Status::Visible { delay } => format!("visible in {delay} ticks"),
        Status::InFlight { timeout } => format!("in flight, visible again in {timeout} ticks"),
        Status::Deleted => "deleted".into(),
        Status::DeadLettered => "in the dead-letter queue".into(),
    }
}

fn consumer_words(c: &Consumer) -> String {
    match *c {
        Consumer::Idle => "idle".into(),
        Consumer::Holding {
            msg,
            stale,
            processed,
            deleted,
            ..
        } => {
            let mut s = format!("holds m{msg}");
            if stale {
                s += " (stale receipt)";
            }
            if processed {
                s += ", processed";
            }
            if deleted {
                s += ", deleted";
            }
            s
        }
    }
}

/// The rejection the model's state gives for `op` by consumer `c` (`None`: accepted).
fn model_refusal(
    s: &QueueState,
    c: usize,
    op: ReceiptOperation,
    stale_ok: bool,
) -> Option<Rejection> {
    let Consumer::Holding { msg, stale, .. } = s.consumers[c] else {
        return None;
    };
    let m = &s.messages[msg as usize];
    match m.status {
        Status::Deleted | Status::DeadLettered => Some(Rejection::MessageGone),
        _ if stale && !stale_ok => Some(Rejection::StaleReceipt {
            current: u32::from(m.receives),
        }),
        Status::InFlight { .. } => None,
        _ if op == ReceiptOperation::Delete => None,
        _ => Some(Rejection::MessageNotInflight),
    }
}

impl QueueConformance {
    fn msg(&self, id: MessageId) -> Result<usize, Failure> {
        self.messages.iter().position(|&m| m == id).ok_or_else(|| {
            Mismatch::new(
                format!("message {id}"),
                "no such message: it was never sent",
                format!("the implementation names {id}"),
            )
            .into()
        })
    }

    /// The model index of a message `actions` has already mapped (it refuses unknown ids, and
    /// `agree` runs only after it succeeded).
    fn known(&self, id: MessageId) -> usize {
        self.messages
            .iter()
            .position(|&m| m == id)
            .expect("message ids are checked by `actions` before `agree`")
    }

    fn consumer(&self, id: Option<ConsumerId>) -> usize {
        // Every consumer id was collected in `start`, and an event without one was refused.
        id.and_then(|id| self.consumers.iter().position(|&c| c == id))
            .expect("consumers collected in start")
    }

    /// Checks that model consumer `c` holds message `msg` under delivery `delivery`.
    fn holds(&self, s: &QueueState, c: usize, msg: usize, delivery: u32) -> Result<(), Mismatch> {
        let field = format!("consumer {c} ({})", self.consumers[c]);
        match s.consumers[c] {
            Consumer::Holding { msg: held, .. } if held as usize == msg => match self.holding[c] {
                Some(d) if d == delivery => Ok(()),
                d => Err(Mismatch::new(
                    format!("{field} receipt"),
                    format!("it holds delivery #{} of m{msg}", d.unwrap_or(0)),
                    format!("it uses the receipt of delivery #{delivery}"),
                )),
            },
            ref other => Err(Mismatch::new(
                field,
                consumer_words(other),
                format!("it acts on m{msg} (delivery #{delivery})"),
            )),
        }
    }
}

impl Conformance for QueueConformance {
    type Model = QueueModel;
    type Config = RunConfig;
    type Event = EventRecord;

    fn start(
        config: &RunConfig,
        variant: &str,
        events: &[EventRecord],
    ) -> Result<(Self, QueueModel), ConformError> {
        let mut messages = Vec::new();
        let mut consumers: Vec<ConsumerId> = Vec::new();
        let mut crashes = 0u32;
        let mut applied = Vec::new();
        let change_visibility = events.iter().any(|r| {
            matches!(
                r.event,
                Event::ChangeVisibility { .. }
                    | Event::Reject {
                        operation: ReceiptOperation::ChangeVisibility,
                        ..
                    }
            )
        });
        for (i, r) in events.iter().enumerate() {
            if let Event::Process {
                message,
                delivery,
                consumer,
                outcome: ProcessOutcome::Applied,
            } = r.event
            {
                applied.push((i, message, delivery, consumer));
            }
            if let Event::Send { message } = r.event {
                messages.push(message);
            }
            if let Event::Crash {
                message: Some(_), ..
            } = r.event
            {
                crashes += 1;
            }
            match consumer_of(&r.event) {
                Some(Some(c)) if !consumers.contains(&c) => consumers.push(c),
                Some(None) => {
                    return Err(ConformError::Unmapped {
                        step: i + 1,
                        why: format!(
                            "`{}` names no consumer: conformance needs every consumer step attributed (RetryQueue::consumer)",
                            r.event
                        ),
                    });
                }
                Some(Some(_)) | None => {}
            }
        }
        let too_many = |what: &str, n: usize| ConformError::Unmapped {
            step: 0,
            why: format!("{n} {what}: the model has 1 to 8"),
        };
        if messages.is_empty() || messages.len() > 8 {
            return Err(too_many("messages sent", messages.len()));
        }
        if consumers.is_empty() || consumers.len() > 8 {
            return Err(too_many("consumers", consumers.len()));
        }
        let (retry, backoff_base, backoff_cap) = match config.retry {
            Retry::Immediate => (RetryPolicy::Immediate, 1, 1),
            Retry::RequeueOnExpiry => (RetryPolicy::RequeueOnExpiry, 1, 1),
            Retry::Backoff { base_ms, cap_ms } => (
                RetryPolicy::ExponentialBackoff,
                ticks("backoff base", base_ms)?,
                ticks("backoff cap", cap_ms)?,
            ),
        };
        let max_receives = match config.max_receives {
            None => 16,
            Some(n) if (1..=16).contains(&n) => n as u8,
            Some(n) => {
                return Err(ConformError::Unmapped {
                    step: 0,
                    why: format!("max-receives {n}: the model has 1 to 16"),
                });
            }
        };
        let model_config = QueueConfig {
            messages: messages.len() as u8,
            consumers: consumers.len() as u8,
            visibility_timeout: ticks("visibility timeout", config.visibility_timeout_ms)?,
            max_receives,
            retry,
            backoff_base,
            backoff_cap,
            max_crashes: u8::try_from(crashes).map_err(|_| ConformError::Unmapped {
                step: 0,
                why: format!("{crashes} crashes: the model counts at most 255"),
            })?,
            heartbeat: 0,
            max_pauses: 0,
            change_visibility,
        };
        let model = QueueModel::new(variant, model_config)
            .map_err(|e| ConformError::BadLog(e.to_string()))?;
        let n = consumers.len();
        Ok((
            QueueConformance {
                messages,
                consumers,
                holding: vec![None; n],
                finished: vec![None; n],
                now: 0,
                idempotent: config.idempotent,
                awaited: BTreeSet::new(),
                applied,
                taken_early: BTreeSet::new(),
                index: 0,
                reordered: false,
            },
            model,
        ))
    }

    fn actions(
        &mut self,
        model: &QueueModel,
        s: &QueueState,
        record: &EventRecord,
    ) -> Result<Vec<Action>, Failure> {
        let index = self.index;
        self.index += 1;
        self.reordered = false;
        let at = record.at.as_millis();
        // Expiries the model made must be named before the implementation's next step.
        if !matches!(
            record.event,
            Event::Expire { .. } | Event::MoveToDeadLetter { .. }
        ) && let Some(&m) = self.awaited.iter().next()
        {
            return Err(Mismatch::new(
                format!("m{m} status"),
                format!(
                    "its timer ran out by {} ms: {}",
                    self.now,
                    status_words(s.messages[m].status)
                ),
                "no expiry logged before the next step",
            )
            .into());
        }
        if let Event::Tick { now } = record.event {
            let now = now.as_millis();
            if now <= self.now || at != now {
                return Err(ConformError::BadLog(format!(
                    "a clock tick to {now} ms (recorded at {at} ms) after {} ms: time must move forward",
                    self.now
                ))
                .into());
            }
            let longest = s
                .messages
                .iter()
                .filter_map(|m| ticks_to_visible(m.status))
                .max()
                .unwrap_or(0);
            let k = (now - self.now).min(u64::from(longest));
            self.now = now;
            return Ok(vec![Action::Tick; k as usize]);
        }
        if at != self.now {
            return Err(ConformError::BadLog(format!(
                "`{}` is recorded at {at} ms, but the clock is at {} ms (no tick in between)",
                record.event, self.now
            ))
            .into());
        }
        let consumer = consumer_of(&record.event)
            .flatten()
            .map(|c| self.consumer(Some(c)));
        Ok(match record.event {
            Event::Tick { .. } => unreachable!("handled above"),
            Event::Send { message } => vec![Action::Send {
                msg: self.msg(message)? as u8,
            }],
            Event::Receive { message, .. } => vec![Action::Receive {
                consumer: consumer.expect("a receive names a consumer") as u8,
                msg: self.msg(message)? as u8,
            }],
            Event::Process { .. } if self.taken_early.contains(&index) => vec![],
            Event::Process {
                message,
                delivery,
                outcome,
                ..
            } => {
                let c = consumer.expect("names a consumer");
                let m = self.msg(message)?;
                self.holds(s, c, m, delivery)?;
                let idempotent_model =
                    model.bug() != Some(coordlab_models::queue::Bug::NoIdempotency);
                let first = self
                    .applied
                    .iter()
                    .find(|&&(j, msg, ..)| j > index && msg == message)
                    .copied();
                match first {
                    // A duplicate recorded before the apply it found: take that apply
                    // first (see "Effects").
                    Some((j, _, d, who))
                        if self.idempotent
                            && idempotent_model
                            && outcome == ProcessOutcome::Duplicate
                            && s.ledger[m] == 0 =>
                    {
                        let other = self.consumer(who);
                        self.holds(s, other, m, d)?;
                        self.taken_early.insert(j);
                        self.reordered = true;
                        vec![
                            Action::Process {
                                consumer: other as u8,
                            },
                            Action::Process { consumer: c as u8 },
                        ]
                    }
                    _ => vec![Action::Process { consumer: c as u8 }],
                }
            }
            Event::Release {
                message, delivery, ..
            } => {
                let c = consumer.expect("names a consumer");
                self.holds(s, c, self.msg(message)?, delivery)?;
                vec![Action::Release { consumer: c as u8 }]
            }
            Event::Delete {
                message, delivery, ..
            } => {
                let c = consumer.expect("names a consumer");
                self.holds(s, c, self.msg(message)?, delivery)?;
                vec![Action::Delete { consumer: c as u8 }]
            }
            Event::Reject {
                operation,
                message,
                delivery,
                reason,
                ..
            } => {
                let c = consumer.expect("names a consumer");
                if reason == Rejection::UnknownReceipt {
                    return Err(ConformError::Unmapped {
                        step: 0,
                        why: "a receipt of another queue: the model has one queue".into(),
                    }
                    .into());
                }
                self.holds(s, c, self.msg(message)?, delivery)?;
                let consumer = c as u8;
                match operation {
                    ReceiptOperation::Delete => vec![Action::Delete { consumer }],
                    ReceiptOperation::Release => vec![Action::Release { consumer }],
                    // Refused: the consumer drops the delivery, changing nothing at the
                    // broker.
                    ReceiptOperation::ChangeVisibility => {
                        vec![Action::ChangeVisibility { consumer }]
                    }
                }
            }
            Event::ChangeVisibility {
                message, delivery, ..
            } => {
                let c = consumer.expect("names a consumer");
                self.holds(s, c, self.msg(message)?, delivery)?;
                vec![Action::ChangeVisibility { consumer: c as u8 }]
            }
            Event::Expire { message, delivery } => {
                let m = self.msg(message)?;
                if !self.awaited.remove(&m) {
                    return Err(Mismatch::new(
                        format!("m{m} status"),
                        status_words(s.messages[m].status),
                        format!("its deadline passed (delivery #{delivery})"),
                    )
                    .into());
                }
                let receives = u32::from(s.messages[m].receives);
                if receives != delivery {
                    return Err(Mismatch::new(
                        format!("m{m} receives"),
                        receives.to_string(),
                        format!("its newest delivery is #{delivery}"),
                    )
                    .into());
                }
                vec![]
            }
            Event::MoveToDeadLetter { message, .. } => vec![Action::MoveToDeadLetter {
                msg: self.msg(message)? as u8,
            }],
            Event::Crash {
                message, delivery, ..
            } => {
                let c = consumer.expect("names a consumer");
                match (message, delivery) {
                    // A crash after the delivery's work was done (processed and deleted)
                    // loses nothing: the model's consumer is idle already.
                    (Some(message), Some(delivery))
                        if s.consumers[c] == Consumer::Idle
                            && self.finished[c] == Some((self.msg(message)?, delivery)) =>
                    {
                        vec![]
                    }
                    (Some(message), Some(delivery)) => {
                        self.holds(s, c, self.msg(message)?, delivery)?;
                        vec![Action::Crash { consumer: c as u8 }]
                    }
                    _ => vec![],
                }
            }
        })
    }

    fn agree(
        &mut self,
        model: &QueueModel,
        before: &QueueState,
        after: &QueueState,
        record: &EventRecord,
    ) -> Result<(), Mismatch> {
        let now = self.now;
        let stale_ok = model.bug() == Some(coordlab_models::queue::Bug::StaleReceiptDelete);
        match record.event {
            Event::Tick { .. } => {
                self.awaited = before
                    .messages
                    .iter()
                    .zip(&after.messages)
                    .enumerate()
                    .filter(|(_, (b, a))| {
                        a.status == (Status::Visible { delay: 0 })
                            && b.status != (Status::Visible { delay: 0 })
                    })
                    .map(|(i, _)| i)
                    .collect();
            }
            Event::Receive {
                message,
                delivery,
                consumer,
                visible_until,
            } => {
                let m = self.known(message);
                let c = self.consumer(consumer);
                let msg = &after.messages[m];
                if u32::from(msg.receives) != delivery {
                    return Err(Mismatch::new(
                        format!("m{m} delivery number"),
                        format!("receive #{}", msg.receives),
                        format!("delivery #{delivery}"),
                    ));
                }
                let left = visible_until.as_millis().saturating_sub(now);
                if ticks_to_visible(msg.status).map(u64::from) != Some(left) {
                    return Err(Mismatch::new(
                        format!("m{m} visibility deadline"),
                        status_words(msg.status),
                        format!("invisible for {left} ms (until {visible_until})"),
                    ));
                }
                self.holding[c] = Some(delivery);
            }
            Event::Process {
                message, outcome, ..
            } if self.idempotent
                && !self.reordered
                && !self.taken_early.contains(&(self.index - 1)) =>
            {
                let m = self.known(message);
                let applied = after.ledger[m] > before.ledger[m];
                let says = match outcome {
                    ProcessOutcome::Applied => true,
                    ProcessOutcome::Duplicate => false,
                    ProcessOutcome::Superseded => {
                        return Err(Mismatch::new(
                            format!("ledger m{m}"),
                            "idempotent consumers have no fencing store",
                            "the write was superseded",
                        ));
                    }
                };
                if applied != says {
                    let word = |a: bool| {
                        if a {
                            "effect applied"
                        } else {
                            "duplicate, skipped"
                        }
                    };
                    return Err(Mismatch::new(
                        format!("ledger m{m}"),
                        word(applied),
                        word(says),
                    ));
                }
            }
            Event::Release {
                message,
                visible_at,
                consumer,
                ..
            } => {
                let m = self.known(message);
                let c = self.consumer(consumer);
                if let Some(why) = model_refusal(before, c, ReceiptOperation::Release, false) {
                    return Err(Mismatch::new(
                        format!("release of m{m}"),
                        format!("refused: {why}"),
                        "accepted",
                    ));
                }
                let left = visible_at.as_millis().saturating_sub(now);
                let status = after.messages[m].status;
                if ticks_to_visible(status).map(u64::from) != Some(left) {
                    return Err(Mismatch::new(
                        format!("m{m} visibility after the release"),
                        status_words(status),
                        format!("visible again in {left} ms (at {visible_at})"),
                    ));
                }
            }
            Event::ChangeVisibility {
                message,
                visible_at,
                consumer,
                ..
            } => {
                let m = self.known(message);
                let c = self.consumer(consumer);
                let op = ReceiptOperation::ChangeVisibility;
                if let Some(why) = model_refusal(before, c, op, false) {
                    return Err(Mismatch::new(
                        format!("change_visibility of m{m}"),
                        format!("refused: {why}"),
                        "accepted",
                    ));
                }
                let left = visible_at.as_millis().saturating_sub(now);
                let status = after.messages[m].status;
                if ticks_to_visible(status).map(u64::from) != Some(left) {
                    return Err(Mismatch::new(
                        format!("m{m} visibility deadline"),
                        status_words(status),
                        format!("invisible for {left} ms (until {visible_at})"),
                    ));
                }
            }
            Event::Delete {
                message,
                current,
                consumer,
                ..
            } => {
                let m = self.known(message);
                let c = self.consumer(consumer);
                if let Some(why) = model_refusal(before, c, ReceiptOperation::Delete, stale_ok) {
                    return Err(Mismatch::new(
                        format!("delete of m{m}"),
                        format!("refused: {why}"),
                        "accepted",
                    ));
                }
                if after.messages[m].status != Status::Deleted {
                    return Err(Mismatch::new(
                        format!("m{m} status"),
                        status_words(after.messages[m].status),
                        "deleted",
                    ));
                }
                let receives = u32::from(before.messages[m].receives);
                if receives != current {
                    return Err(Mismatch::new(
                        format!("m{m} newest delivery"),
                        format!("#{receives}"),
                        format!("#{current}"),
                    ));
                }
            }
            Event::Reject {
                operation,
                message,
                consumer,
                reason,
                ..
            } => {
                let m = self.known(message);
                let c = self.consumer(consumer);
                let expected = model_refusal(
                    before,
                    c,
                    operation,
                    stale_ok && operation == ReceiptOperation::Delete,
                );
                if expected != Some(reason) {
                    let model_says = match expected {
                        Some(r) => format!("refused: {r}"),
                        None => "accepted".into(),
                    };
                    return Err(Mismatch::new(
                        format!("{operation} of m{m}"),
                        model_says,
                        format!("refused: {reason}"),
                    ));
                }
                if before.messages[m].status != after.messages[m].status {
                    return Err(Mismatch::new(
                        format!("m{m} status"),
                        status_words(after.messages[m].status),
                        format!("unchanged: {}", status_words(before.messages[m].status)),
                    ));
                }
            }
            Event::MoveToDeadLetter {
                message,
                receive_count,
            } => {
                let m = self.known(message);
                let receives = u32::from(after.messages[m].receives);
                if receives != receive_count {
                    return Err(Mismatch::new(
                        format!("m{m} receives"),
                        receives.to_string(),
                        receive_count.to_string(),
                    ));
                }
            }
            _ => {}
        }
        // A consumer that finished its delivery: its process or delete made it idle (its
        // own event, or a process taken early for it, see "Effects").
        let actor = consumer_of(&record.event)
            .flatten()
            .map(|c| self.consumer(Some(c)));
        let by_work = matches!(
            record.event,
            Event::Process { .. }
                | Event::Delete { .. }
                | Event::Reject {
                    operation: ReceiptOperation::Delete,
                    ..
                }
        );
        for c in 0..after.consumers.len() {
            if let (Consumer::Holding { msg, .. }, Consumer::Idle) =
                (before.consumers[c], after.consumers[c])
                && (by_work || (self.reordered && actor != Some(c)))
                && let Some(delivery) = self.holding[c]
            {
                self.finished[c] = Some((msg as usize, delivery));
            }
        }
        // A consumer the model made idle holds no receipt any more.
        for (c, held) in after.consumers.iter().zip(self.holding.iter_mut()) {
            if *c == Consumer::Idle {
                *held = None;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _model: &QueueModel, s: &QueueState) -> Result<(), Mismatch> {
        match self.awaited.iter().next() {
            Some(&m) => Err(Mismatch::new(
                format!("m{m} status"),
                format!(
                    "its timer ran out by {} ms: {}",
                    self.now,
                    status_words(s.messages[m].status)
                ),
                "no expiry logged",
            )),
            None => Ok(()),
        }
    }
}

/// The run log of a queue run as JSON: the envelope `coordlab conform` reads.
pub fn to_json(config: &RunConfig, variant: &str, events: &[EventRecord]) -> String {
    super::run_log_json("queue", config, variant, events)
}

/// Checks a queue run against the model of `variant`.
pub fn check(
    config: &RunConfig,
    variant: &str,
    events: &[EventRecord],
) -> Result<super::Verdict, ConformError> {
    super::conform::<QueueConformance>(config, variant, events)
}

/// A one-line summary of a divergence (for test failure messages).
pub fn summary(d: &super::Divergence) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "step {}: {} ({}: model {}, implementation {})",
        d.step, d.event, d.mismatch.field, d.mismatch.model, d.mismatch.implementation
    );
    s
}
