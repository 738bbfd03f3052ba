//! The queue against a sequential reference model, with `proptest-state-machine`: random
//! sequences of send, receive, delete / change_visibility / release with the newest or a stale
//! receipt or one from another queue, and clock advances, under a random retry policy and
//! `max_receives`. One kind of step moves the clock to a held message's visibility deadline, or
//! 1 ms before it, and then at once deletes, changes visibility or releases with a receipt:
//! both sides of the lapse, right after the clock moved. After every step the queue's return
//! value must equal the model's, and so must the counts and the dead-letter queue, except
//! after a step that only moved the clock: reading the counts there would bring the queue's
//! time up to date (every read applies the deadlines that have passed), so the operation after
//! it would never be the first to see the new time, and one that forgot to bring time up to
//! date itself would pass. The core's own invariants are checked after every step.
//!
//! The reference is written for clarity, not speed: a list of messages scanned linearly, with
//! the documented semantics spelled out (deadlines applied at the next operation, oldest visible
//! first, dead-lettering when a message that used all its receives becomes visible).

use std::time::Duration;

use coordlab_impls::clock::{Clock, Instant, ManualClock};
use coordlab_impls::queue::{
    QueueConfig, QueueCounts, QueueError, ReceiptHandle, RetryPolicy, RetryQueue,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

#[derive(Clone, Debug)]
struct RefMessage {
    id: u64,
    receives: u32,
    visible_at: u64,
    /// Its deadline has not been applied yet (it is invisible).
    waiting: bool,
    in_flight: bool,
}

/// What the last transition should have returned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    Nothing,
    Sent(u64),
    /// `(message, delivery, visible_until)`.
    Received(Option<(u64, u32, u64)>),
    Done(Result<(), RefError>),
    Released(Result<u64, RefError>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefError {
    Stale {
        current: u32,
    },
    Gone,
    /// The delivery lapsed: the message has been visible since `visible_since`.
    NotInFlight {
        visible_since: u64,
    },
    /// Another queue's receipt.
    Unknown,
}

/// An operation with a receipt.
#[derive(Clone, Copy, Debug)]
enum Op {
    Delete,
    ChangeVisibility { timeout_ms: u64 },
    Release,
}

#[derive(Clone, Debug)]
struct RefState {
    policy: RetryPolicy,
    max_receives: Option<u32>,
    clock: u64,
    now: u64,
    next_id: u64,
    messages: Vec<RefMessage>,
    /// `(message, receive_count)`, oldest first.
    dead: Vec<(u64, u32)>,
    deleted: u64,
    /// Every receipt issued: `(message, delivery)`.
    receipts: Vec<(u64, u32)>,
    /// How many receipts the other queue has issued: it gets a send and a receive (never
    /// lapsing) for every `Receive` step, so its receipts name m0#1, m1#1, ...: often a
    /// message and delivery number this queue has issued as well.
    foreign: usize,
    expected: Expected,
}

impl RefState {
    fn settle(&mut self) {
        self.now = self.now.max(self.clock);
        let now = self.now;
        let mut due: Vec<(u64, u64)> = self
            .messages
            .iter()
            .filter(|m| m.waiting && m.visible_at <= now)
            .map(|m| (m.visible_at, m.id))
            .collect();
        due.sort_unstable();
        for (_, id) in due {
            self.make_visible(id);
        }
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.messages.iter().position(|m| m.id == id)
    }

    fn make_visible(&mut self, id: u64) {
        let i = self.index(id).unwrap();
        let m = &mut self.messages[i];
        m.waiting = false;
        m.in_flight = false;
        if self.max_receives.is_some_and(|max| m.receives >= max) {
            let m = self.messages.remove(i);
            self.dead.push((m.id, m.receives));
        }
    }

    /// Sets the deadline; a deadline not in the future makes the message visible at once.
    fn hide_until(&mut self, id: u64, at: u64) {
        let now = self.now;
        let i = self.index(id).unwrap();
        self.messages[i].visible_at = at;
        if at > now {
            self.messages[i].waiting = true;
        } else {
            self.make_visible(id);
        }
    }

    /// The receipt check, in the queue's documented order: gone, stale, and (for anything but a
    /// delete) lapsed, i.e. the message is visible again.
    fn check(&self, (id, delivery): (u64, u32), op: Op) -> Result<usize, RefError> {
        let i = self.index(id).ok_or(RefError::Gone)?;
        let m = &self.messages[i];
        let current = m.receives;
        if delivery < current {
            return Err(RefError::Stale { current });
        }
        if !matches!(op, Op::Delete) && !m.waiting {
            return Err(RefError::NotInFlight {
                visible_since: m.visible_at,
            });
        }
        Ok(i)
    }

    /// `op` with receipt `r`, at the current time (deadlines already applied).
    fn operate(&mut self, r: (u64, u32), op: Op) -> Expected {
        let now = self.now;
        match op {
            Op::Delete => Expected::Done(self.check(r, op).map(|i| {
                self.messages.remove(i);
                self.deleted += 1;
            })),
            Op::ChangeVisibility { timeout_ms } => Expected::Done(self.check(r, op).map(|i| {
                self.messages[i].in_flight = true;
                self.hide_until(r.0, now + timeout_ms);
            })),
            Op::Release => Expected::Released(self.check(r, op).map(|i| {
                let m = &mut self.messages[i];
                let at = match self.policy {
                    RetryPolicy::Immediate => now,
                    RetryPolicy::RequeueOnExpiry => m.visible_at,
                    RetryPolicy::ExponentialBackoff { base, cap } => {
                        now + backoff_ms(
                            base.as_millis() as u64,
                            cap.as_millis() as u64,
                            m.receives,
                        )
                    }
                };
                m.in_flight = false;
                m.waiting = false;
                self.hide_until(r.0, at);
                at
            })),
        }
    }

    /// What any operation with another queue's receipt returns.
    fn foreign_answer(op: Op) -> Expected {
        match op {
            Op::Delete | Op::ChangeVisibility { .. } => Expected::Done(Err(RefError::Unknown)),
            Op::Release => Expected::Released(Err(RefError::Unknown)),
        }
    }

    fn counts(&self) -> QueueCounts {
        let visible = self.messages.iter().filter(|m| !m.waiting).count();
        let in_flight = self.messages.iter().filter(|m| m.in_flight).count();
        QueueCounts {
            sent: self.next_id,
            visible,
            in_flight,
            delayed: self.messages.len() - visible - in_flight,
            deleted: self.deleted,
            dead_lettered: self.dead.len() as u64,
        }
    }
}

fn backoff_ms(base: u64, cap: u64, receives: u32) -> u64 {
    let mut delay = base;
    for _ in 1..receives {
        delay = delay.saturating_mul(2);
        if delay >= cap {
            break;
        }
    }
    delay.min(cap)
}

#[derive(Clone, Debug)]
enum Transition {
    Send,
    Receive {
        timeout_ms: u64,
    },
    Delete {
        receipt: Index,
    },
    DeleteNewest,
    ChangeVisibility {
        receipt: Index,
        timeout_ms: u64,
    },
    Release {
        receipt: Index,
    },
    Advance {
        ms: u64,
    },
    /// Moves the clock to `early_ms` before the visibility deadline of the receipt's message
    /// (if the message is invisible and that instant is ahead), then does `op` with the
    /// receipt, nothing in between.
    AtDeadline {
        receipt: Index,
        early_ms: u64,
        op: Op,
    },
    /// `op` with a receipt of the other queue.
    Foreign {
        receipt: Index,
        op: Op,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Delete),
        (0u64..12).prop_map(|timeout_ms| Op::ChangeVisibility { timeout_ms }),
        Just(Op::Release),
    ]
}

struct QueueReference;

impl ReferenceStateMachine for QueueReference {
    type State = RefState;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<RefState> {
        let policy = prop_oneof![
            Just(RetryPolicy::Immediate),
            Just(RetryPolicy::RequeueOnExpiry),
            (1u64..4, 2u64..12).prop_map(|(base, cap)| RetryPolicy::ExponentialBackoff {
                base: Duration::from_millis(base),
                cap: Duration::from_millis(cap),
            }),
        ];
        let max_receives = prop_oneof![Just(None), (1u32..4).prop_map(Some)];
        (policy, max_receives)
            .prop_map(|(policy, max_receives)| RefState {
                policy,
                max_receives,
                clock: 0,
                now: 0,
                next_id: 0,
                messages: Vec::new(),
                dead: Vec::new(),
                deleted: 0,
                receipts: Vec::new(),
                foreign: 0,
                expected: Expected::Nothing,
            })
            .boxed()
    }

    fn transitions(state: &RefState) -> BoxedStrategy<Transition> {
        let basic = prop_oneof![
            2 => Just(Transition::Send),
            3 => (0u64..12).prop_map(|timeout_ms| Transition::Receive { timeout_ms }),
            2 => (0u64..8).prop_map(|ms| Transition::Advance { ms }),
        ];
        if state.receipts.is_empty() {
            return basic.boxed();
        }
        prop_oneof![
            7 => basic,
            2 => any::<Index>().prop_map(|receipt| Transition::Delete { receipt }),
            2 => Just(Transition::DeleteNewest),
            1 => (any::<Index>(), 0u64..12)
                .prop_map(|(receipt, timeout_ms)| Transition::ChangeVisibility { receipt, timeout_ms }),
            2 => any::<Index>().prop_map(|receipt| Transition::Release { receipt }),
            3 => (any::<Index>(), 0u64..=1, op_strategy())
                .prop_map(|(receipt, early_ms, op)| Transition::AtDeadline { receipt, early_ms, op }),
            1 => (any::<Index>(), op_strategy())
                .prop_map(|(receipt, op)| Transition::Foreign { receipt, op }),
        ]
        .boxed()
    }

    fn preconditions(state: &RefState, transition: &Transition) -> bool {
        match transition {
            Transition::Delete { .. }
            | Transition::DeleteNewest
            | Transition::ChangeVisibility { .. }
            | Transition::Release { .. }
            | Transition::AtDeadline { .. } => !state.receipts.is_empty(),
            Transition::Foreign { .. } => state.foreign > 0,
            _ => true,
        }
    }

    fn apply(mut state: RefState, transition: &Transition) -> RefState {
        state.expected = Expected::Nothing;
        if let Transition::Advance { ms } = transition {
            state.clock += ms;
            return state;
        }
        if let Transition::AtDeadline {
            receipt, early_ms, ..
        } = transition
        {
            let (id, _) = state.receipts[receipt.index(state.receipts.len())];
            if let Some(m) = state.messages.iter().find(|m| m.id == id && m.waiting) {
                state.clock = state.clock.max(m.visible_at - early_ms);
            }
        }
        state.settle();
        let now = state.now;
        state.expected = match transition {
            Transition::Advance { .. } => unreachable!(),
            Transition::AtDeadline { receipt, op, .. } => {
                let r = state.receipts[receipt.index(state.receipts.len())];
                state.operate(r, *op)
            }
            Transition::Foreign { op, .. } => RefState::foreign_answer(*op),
            Transition::Send => {
                let id = state.next_id;
                state.next_id += 1;
                state.messages.push(RefMessage {
                    id,
                    receives: 0,
                    visible_at: now,
                    waiting: false,
                    in_flight: false,
                });
                Expected::Sent(id)
            }
            Transition::Receive { timeout_ms } => {
                let next = state
                    .messages
                    .iter()
                    .filter(|m| !m.waiting)
                    .min_by_key(|m| (m.visible_at, m.id))
                    .map(|m| m.id);
                // The other queue gets a send and a receive on every `Receive` step.
                state.foreign += 1;
                match next {
                    None => Expected::Received(None),
                    Some(id) => {
                        let i = state.index(id).unwrap();
                        let m = &mut state.messages[i];
                        m.receives += 1;
                        m.in_flight = true;
                        let delivery = m.receives;
                        state.receipts.push((id, delivery));
                        state.hide_until(id, now + timeout_ms);
                        Expected::Received(Some((id, delivery, now + timeout_ms)))
                    }
                }
            }
            Transition::Delete { receipt } => {
                let r = state.receipts[receipt.index(state.receipts.len())];
                state.operate(r, Op::Delete)
            }
            Transition::DeleteNewest => {
                let r = *state.receipts.last().unwrap();
                state.operate(r, Op::Delete)
            }
            Transition::ChangeVisibility {
                receipt,
                timeout_ms,
            } => {
                let r = state.receipts[receipt.index(state.receipts.len())];
                state.operate(
                    r,
                    Op::ChangeVisibility {
                        timeout_ms: *timeout_ms,
                    },
                )
            }
            Transition::Release { receipt } => {
                let r = state.receipts[receipt.index(state.receipts.len())];
                state.operate(r, Op::Release)
            }
        };
        state
    }
}

struct Sut {
    queue: RetryQueue<u64, ManualClock>,
    clock: ManualClock,
    receipts: Vec<ReceiptHandle>,
    /// Another queue, and the receipts it issued.
    other: RetryQueue<u64, ManualClock>,
    foreign: Vec<ReceiptHandle>,
}

/// Longer than any run: the other queue's deliveries never lapse.
const NEVER: Duration = Duration::from_secs(3600);

fn ref_error(e: QueueError) -> RefError {
    match e {
        QueueError::StaleReceipt { current, .. } => RefError::Stale { current },
        QueueError::MessageGone { .. } => RefError::Gone,
        QueueError::MessageNotInflight { visible_since, .. } => RefError::NotInFlight {
            visible_since: visible_since.as_millis(),
        },
        QueueError::UnknownReceipt { .. } => RefError::Unknown,
    }
}

fn operate(queue: &RetryQueue<u64, ManualClock>, r: &ReceiptHandle, op: Op) -> Expected {
    match op {
        Op::Delete => Expected::Done(queue.delete(r).map_err(ref_error)),
        Op::ChangeVisibility { timeout_ms } => Expected::Done(
            queue
                .change_visibility(r, Duration::from_millis(timeout_ms))
                .map_err(ref_error),
        ),
        Op::Release => {
            Expected::Released(queue.release(r).map(Instant::as_millis).map_err(ref_error))
        }
    }
}

struct QueueMatchesReference;

impl StateMachineTest for QueueMatchesReference {
    type SystemUnderTest = Sut;
    type Reference = QueueReference;

    fn init_test(reference: &RefState) -> Sut {
        let config = QueueConfig::default().with_retry_policy(reference.policy);
        let config = match reference.max_receives {
            Some(n) => config.with_max_receives(n),
            None => config,
        };
        let clock = ManualClock::new();
        Sut {
            queue: RetryQueue::new(config, clock.clone()),
            clock,
            receipts: Vec::new(),
            other: RetryQueue::new(QueueConfig::default(), ManualClock::new()),
            foreign: Vec::new(),
        }
    }

    fn apply(mut sut: Sut, reference: &RefState, transition: Transition) -> Sut {
        let receipt = |sut: &Sut, i: &Index| sut.receipts[i.index(sut.receipts.len())];
        let actual = match &transition {
            Transition::Advance { ms } => {
                sut.clock.advance(Duration::from_millis(*ms));
                Expected::Nothing
            }
            Transition::Send => Expected::Sent(sut.queue.send(0).get()),
            Transition::Receive { timeout_ms } => {
                sut.other.send(0);
                let f = sut.other.receive(NEVER).expect("the message just sent");
                sut.foreign.push(f.receipt);
                let d = sut.queue.receive(Duration::from_millis(*timeout_ms));
                if let Some(d) = &d {
                    sut.receipts.push(d.receipt);
                    assert_eq!(d.receipt.delivery(), d.receive_count);
                }
                Expected::Received(d.map(|d| {
                    (
                        d.message.get(),
                        d.receipt.delivery(),
                        d.visible_until.as_millis(),
                    )
                }))
            }
            Transition::Delete { receipt: i } => operate(&sut.queue, &receipt(&sut, i), Op::Delete),
            Transition::DeleteNewest => {
                operate(&sut.queue, sut.receipts.last().unwrap(), Op::Delete)
            }
            Transition::ChangeVisibility {
                receipt: i,
                timeout_ms,
            } => operate(
                &sut.queue,
                &receipt(&sut, i),
                Op::ChangeVisibility {
                    timeout_ms: *timeout_ms,
                },
            ),
            Transition::Release { receipt: i } => {
                operate(&sut.queue, &receipt(&sut, i), Op::Release)
            }
            Transition::AtDeadline { receipt: i, op, .. } => {
                // The instant is the reference's (an input of the step, like `Advance`'s ms):
                // the deadline it computed, or 1 ms before. What is compared is the queue's
                // answer there.
                let wait = reference.clock - sut.clock.now().as_millis();
                sut.clock.advance(Duration::from_millis(wait));
                operate(&sut.queue, &receipt(&sut, i), *op)
            }
            Transition::Foreign { receipt: i, op } => {
                let r = sut.foreign[i.index(sut.foreign.len())];
                operate(&sut.queue, &r, *op)
            }
        };
        assert_eq!(actual, reference.expected, "return value of {transition:?}");
        sut
    }

    fn check_invariants(sut: &Sut, reference: &RefState) {
        assert_eq!(sut.clock.now().as_millis(), reference.clock);
        sut.queue.check_invariants();
        // `counts` and `dead_letters` apply the deadlines that have passed, like any operation.
        // After a step that only moved the clock, reading them would bring the queue's time up
        // to date before the next operation, and hide an operation that forgets to do so
        // itself: there they are not read, and the next step's operation is the first to see
        // the new time (its own answer, and these, are compared after it).
        if reference.now != reference.clock {
            return;
        }
        assert_eq!(sut.queue.counts(), reference.counts(), "counts");
        let dead: Vec<(u64, u32)> = sut
            .queue
            .dead_letters()
            .iter()
            .map(|d| (d.message.get(), d.receive_count))
            .collect();
        assert_eq!(dead, reference.dead, "dead-letter queue");
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        // Shrunk failures are re-run from proptest's persistence file only when it exists; the
        // workspace does not keep one.
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// The queue returns what the sequential reference model returns, step for step, and has
    /// the same counts and dead-letter queue after every step.
    #[test]
    fn queue_matches_sequential_reference(sequential 1..60 => QueueMatchesReference);
}
