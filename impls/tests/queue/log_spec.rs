//! The queue's sequential semantics, replayed over a run's event log: [`check_log`] rebuilds
//! every message's state from the log alone and checks that each logged step was enabled in the
//! state the steps before it left, that a `Reject` names the reason that state gives and
//! changes nothing, that every deadline that has passed is applied before the next operation,
//! and that the state at the end is the one the queue's counts report.
//!
//! A refused operation that changed the queue anyway shows up here even though the queue logs
//! it as a `Reject`: the rebuilt state then disagrees with a later step (an `Expire` of a
//! message the log says is visible, a receive of a message it says is hidden) or with the
//! counts at the end.
//!
//! What the log cannot show: the queue a receipt came from (ids differ from run to run, so the
//! log leaves them out), hence an `UnknownReceipt` rejection is accepted as it is, and checked
//! only for changing nothing; and receives that found nothing, which the queue does not log.

use std::collections::BTreeMap;

use coordlab_impls::clock::Instant;
use coordlab_impls::queue::{
    Event, EventRecord, MessageId, QueueCounts, ReceiptOperation, Rejection,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Visible,
    /// Invisible until `until`: `in_flight` if a receive or `change_visibility` hid it, not if
    /// a release did (the queue counts those as delayed).
    Hidden {
        until: Instant,
        in_flight: bool,
    },
    Deleted,
    DeadLettered,
}

#[derive(Clone, Copy, Debug)]
struct Message {
    status: Status,
    receives: u32,
}

/// What the log says about the queue so far.
struct Replay {
    now: Instant,
    max_receives: Option<u32>,
    accepts_stale_delete: bool,
    messages: BTreeMap<MessageId, Message>,
    /// A message the last step left visible with all its receives used: the next step must
    /// move it to the dead-letter queue.
    owed_dead_letter: Option<MessageId>,
}

impl Replay {
    fn message(&mut self, m: MessageId) -> Result<&mut Message, String> {
        self.messages
            .get_mut(&m)
            .ok_or_else(|| format!("{m} was never sent"))
    }

    /// Sets `m` hidden until `at`, or visible if `at` is not later than now.
    fn hide(&mut self, m: MessageId, at: Instant, in_flight: bool) -> Result<(), String> {
        if at < self.now {
            return Err(format!("{m} hidden until {at}, before now ({})", self.now));
        }
        let now = self.now;
        let max = self.max_receives;
        let msg = self.message(m)?;
        if at > now {
            msg.status = Status::Hidden {
                until: at,
                in_flight,
            };
            return Ok(());
        }
        msg.status = Status::Visible;
        if max.is_some_and(|max| msg.receives >= max) {
            self.owed_dead_letter = Some(m);
        }
        Ok(())
    }

    /// Checks that `m`'s receipt of `delivery` is its newest and the message is held.
    fn newest(&mut self, m: MessageId, delivery: u32) -> Result<&mut Message, String> {
        let msg = self.message(m)?;
        if matches!(msg.status, Status::Deleted | Status::DeadLettered) {
            return Err(format!("{m} is no longer held"));
        }
        if delivery != msg.receives {
            return Err(format!(
                "delivery #{delivery} of {m} is not its newest (#{})",
                msg.receives
            ));
        }
        Ok(msg)
    }

    fn step(&mut self, record: &EventRecord) -> Result<(), String> {
        let event = &record.event;
        if let Some(m) = self.owed_dead_letter.take()
            && !matches!(*event, Event::MoveToDeadLetter { message, .. } if message == m)
        {
            return Err(format!(
                "{m} is visible with all its receives used but was not moved to the dead-letter queue"
            ));
        }
        if let Event::Tick { now } = *event {
            if now <= self.now {
                return Err(format!("the clock ticks back from {} to {now}", self.now));
            }
            self.now = now;
        }
        if record.at != self.now {
            return Err(format!(
                "logged at {}, but the time is {}",
                record.at, self.now
            ));
        }
        let applying_deadlines = matches!(
            event,
            Event::Tick { .. } | Event::Expire { .. } | Event::MoveToDeadLetter { .. }
        );
        if !applying_deadlines
            && let Some((m, _)) = self.messages.iter().find(
                |(_, msg)| matches!(msg.status, Status::Hidden { until, .. } if until <= self.now),
            )
        {
            return Err(format!(
                "{m}'s deadline has passed, but it was not applied before this step"
            ));
        }
        let now = self.now;
        match *event {
            Event::Send { message } => {
                let next = MessageId::new(self.messages.len() as u64);
                if message != next {
                    return Err(format!("sent {message}, the next id is {next}"));
                }
                self.messages.insert(
                    message,
                    Message {
                        status: Status::Visible,
                        receives: 0,
                    },
                );
            }
            Event::Receive {
                message,
                delivery,
                visible_until,
                ..
            } => {
                let msg = self.message(message)?;
                if msg.status != Status::Visible {
                    return Err(format!("{message} received while {:?}", msg.status));
                }
                if delivery != msg.receives + 1 {
                    return Err(format!(
                        "{message} received as delivery #{delivery} after {} receives",
                        msg.receives
                    ));
                }
                msg.receives = delivery;
                self.hide(message, visible_until, true)?;
            }
            // A heartbeat keeps the delivery in flight, a release gives it up; both need a
            // delivery that has not lapsed.
            Event::ChangeVisibility {
                message,
                delivery,
                visible_at,
                ..
            }
            | Event::Release {
                message,
                delivery,
                visible_at,
                ..
            } => {
                let (what, in_flight) = match event {
                    Event::ChangeVisibility { .. } => ("a visibility change", true),
                    _ => ("a release", false),
                };
                let msg = self.newest(message, delivery)?;
                if msg.status == Status::Visible {
                    return Err(format!(
                        "{what} of {message} accepted after its delivery #{delivery} lapsed"
                    ));
                }
                self.hide(message, visible_at, in_flight)?;
            }
            Event::Delete {
                message,
                delivery,
                current,
                ..
            } => {
                let accepts_stale = self.accepts_stale_delete;
                let msg = self.newest(message, current)?;
                if delivery == 0 || delivery > current || (delivery < current && !accepts_stale) {
                    return Err(format!(
                        "{message} deleted with delivery #{delivery}'s receipt; the newest is #{current}"
                    ));
                }
                msg.status = Status::Deleted;
            }
            Event::Reject {
                operation,
                message,
                delivery,
                reason,
                ..
            } => self.rejection(operation, message, delivery, reason)?,
            Event::Expire { message, delivery } => {
                let max = self.max_receives;
                let msg = self.message(message)?;
                let Status::Hidden { until, .. } = msg.status else {
                    return Err(format!("{message} expires while {:?}", msg.status));
                };
                if until > now {
                    return Err(format!("{message} expires before its deadline {until}"));
                }
                if delivery != msg.receives {
                    return Err(format!(
                        "{message} expires as delivery #{delivery}; its newest is #{}",
                        msg.receives
                    ));
                }
                msg.status = Status::Visible;
                if max.is_some_and(|max| msg.receives >= max) {
                    self.owed_dead_letter = Some(message);
                }
            }
            Event::MoveToDeadLetter {
                message,
                receive_count,
            } => {
                let max = self.max_receives;
                let msg = self.message(message)?;
                if msg.status != Status::Visible
                    || receive_count != msg.receives
                    || max.is_none_or(|max| msg.receives < max)
                {
                    return Err(format!(
                        "{message} dead-lettered after {receive_count} receives while {:?} with {} (max {max:?})",
                        msg.status, msg.receives
                    ));
                }
                msg.status = Status::DeadLettered;
            }
            Event::Tick { .. } | Event::Process { .. } | Event::Crash { .. } => {}
        }
        Ok(())
    }

    /// A rejection must give the reason the state gives; it changes nothing.
    fn rejection(
        &mut self,
        operation: ReceiptOperation,
        message: MessageId,
        delivery: u32,
        reason: Rejection,
    ) -> Result<(), String> {
        let accepts_stale = self.accepts_stale_delete && operation == ReceiptOperation::Delete;
        let msg = self.messages.get(&message).copied();
        let expected = match msg {
            // Another queue's receipt may name anything, so `UnknownReceipt` cannot be checked.
            _ if reason == Rejection::UnknownReceipt => return Ok(()),
            None => Rejection::UnknownReceipt,
            Some(m) if matches!(m.status, Status::Deleted | Status::DeadLettered) => {
                Rejection::MessageGone
            }
            Some(m) if delivery == 0 || delivery > m.receives => Rejection::UnknownReceipt,
            Some(m) if delivery < m.receives && !accepts_stale => Rejection::StaleReceipt {
                current: m.receives,
            },
            Some(m) if operation != ReceiptOperation::Delete && m.status == Status::Visible => {
                Rejection::MessageNotInflight
            }
            Some(_) => {
                return Err(format!(
                    "{operation} of {message} with delivery #{delivery}'s receipt rejected ({reason}), but it should have been accepted"
                ));
            }
        };
        if reason != expected {
            return Err(format!(
                "{operation} of {message} with delivery #{delivery}'s receipt rejected as `{reason}`; the state says `{expected}`"
            ));
        }
        Ok(())
    }

    /// The counts the rebuilt state gives.
    fn counts(&self) -> QueueCounts {
        let mut c = QueueCounts {
            sent: self.messages.len() as u64,
            ..QueueCounts::default()
        };
        for msg in self.messages.values() {
            match msg.status {
                Status::Visible => c.visible += 1,
                Status::Hidden {
                    in_flight: true, ..
                } => c.in_flight += 1,
                Status::Hidden {
                    in_flight: false, ..
                } => c.delayed += 1,
                Status::Deleted => c.deleted += 1,
                Status::DeadLettered => c.dead_lettered += 1,
            }
        }
        c
    }
}

/// Where [`check_log`] found the log inconsistent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inconsistency {
    /// The 1-based step, or `None` for the end state.
    pub step: Option<usize>,
    /// What is wrong, in one sentence.
    pub detail: String,
}

/// Replays `events` (a whole run's log, from the queue's creation) on the queue's sequential
/// semantics. `max_receives` and `accepts_stale_delete` (the `stale-receipt-delete` deviation)
/// are the queue's configuration; `end` is what `counts()` returned after the last event
/// (taken before the log, so that the log includes whatever it applied).
pub fn check_log(
    events: &[EventRecord],
    max_receives: Option<u32>,
    accepts_stale_delete: bool,
    end: &QueueCounts,
) -> Result<(), Inconsistency> {
    let mut replay = Replay {
        now: Instant::ZERO,
        max_receives,
        accepts_stale_delete,
        messages: BTreeMap::new(),
        owed_dead_letter: None,
    };
    for (i, record) in events.iter().enumerate() {
        replay.step(record).map_err(|detail| Inconsistency {
            step: Some(i + 1),
            detail,
        })?;
    }
    let end_state = |detail| Inconsistency { step: None, detail };
    if let Some(m) = replay.owed_dead_letter {
        return Err(end_state(format!(
            "{m} ends visible with all its receives used"
        )));
    }
    let rebuilt = replay.counts();
    if rebuilt != *end {
        return Err(end_state(format!(
            "the log leaves {rebuilt:?}, the queue counts {end:?}"
        )));
    }
    Ok(())
}

#[cfg(not(any(loom, shuttle)))]
mod tests {
    //! The checker on hand-written logs: it accepts a correct one and names what is wrong in
    //! broken ones, in particular a rejected operation that changed the queue.

    use super::*;
    use coordlab_impls::queue::ConsumerId;

    fn at(ms: u64, event: Event) -> EventRecord {
        EventRecord {
            at: Instant::from_millis(ms),
            event,
        }
    }

    const M0: MessageId = MessageId::new(0);

    /// m0 received at 0 until 10ms, the clock at 10ms: the delivery lapses.
    fn lapsed() -> Vec<EventRecord> {
        vec![
            at(0, Event::Send { message: M0 }),
            at(
                0,
                Event::Receive {
                    message: M0,
                    delivery: 1,
                    consumer: Some(ConsumerId(0)),
                    visible_until: Instant::from_millis(10),
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
        ]
    }

    fn late_heartbeat(reason: Rejection) -> EventRecord {
        at(
            10,
            Event::Reject {
                operation: ReceiptOperation::ChangeVisibility,
                message: M0,
                delivery: 1,
                consumer: Some(ConsumerId(0)),
                reason,
            },
        )
    }

    fn counts(visible: usize, in_flight: usize) -> QueueCounts {
        QueueCounts {
            sent: 1,
            visible,
            in_flight,
            ..QueueCounts::default()
        }
    }

    #[test]
    fn accepts_a_late_heartbeat_rejected_as_not_in_flight() {
        let mut log = lapsed();
        log.push(late_heartbeat(Rejection::MessageNotInflight));
        assert_eq!(check_log(&log, None, false, &counts(1, 0)), Ok(()));
    }

    #[test]
    fn flags_a_late_heartbeat_that_was_accepted() {
        let mut log = lapsed();
        log.push(at(
            10,
            Event::ChangeVisibility {
                message: M0,
                delivery: 1,
                consumer: Some(ConsumerId(0)),
                visible_at: Instant::from_millis(20),
            },
        ));
        let found = check_log(&log, None, false, &counts(0, 1)).unwrap_err();
        assert_eq!(found.step, Some(5));
        assert!(
            found.detail.contains("after its delivery #1 lapsed"),
            "{found:?}"
        );
    }

    #[test]
    fn flags_a_rejection_with_the_wrong_reason() {
        let mut log = lapsed();
        log.push(late_heartbeat(Rejection::StaleReceipt { current: 1 }));
        let found = check_log(&log, None, false, &counts(1, 0)).unwrap_err();
        assert_eq!(found.step, Some(5));
        assert!(found.detail.contains("the state says"), "{found:?}");
    }

    /// The rejected heartbeat hid the message anyway: its later expiry contradicts the log.
    #[test]
    fn flags_a_rejection_that_changed_the_queue_at_a_later_step() {
        let mut log = lapsed();
        log.push(late_heartbeat(Rejection::MessageNotInflight));
        log.push(at(
            20,
            Event::Tick {
                now: Instant::from_millis(20),
            },
        ));
        log.push(at(
            20,
            Event::Expire {
                message: M0,
                delivery: 1,
            },
        ));
        let found = check_log(&log, None, false, &counts(1, 0)).unwrap_err();
        assert_eq!(found.step, Some(7));
        assert!(found.detail.contains("expires while Visible"), "{found:?}");
    }

    /// The rejected heartbeat hid the message anyway and nothing followed: the end state
    /// contradicts the counts.
    #[test]
    fn flags_a_rejection_that_changed_the_queue_at_the_end() {
        let mut log = lapsed();
        log.push(late_heartbeat(Rejection::MessageNotInflight));
        let found = check_log(&log, None, false, &counts(0, 1)).unwrap_err();
        assert_eq!(found.step, None);
    }

    #[test]
    fn flags_a_deadline_not_applied_before_the_next_step() {
        let mut log = lapsed();
        log.pop();
        log.push(late_heartbeat(Rejection::MessageNotInflight));
        let found = check_log(&log, None, false, &counts(1, 0)).unwrap_err();
        assert_eq!(found.step, Some(4));
        assert!(found.detail.contains("not applied"), "{found:?}");
    }
}
