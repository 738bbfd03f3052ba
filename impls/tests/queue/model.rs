//! The queue against a sequential reference model, with `proptest-state-machine`: random
//! sequences of send, receive, delete / change_visibility / release with the newest or a stale
//! receipt, and clock advances, under a random retry policy and `max_receives`. After every
//! step the queue's return value must equal the model's, and so must the counts and the
//! dead-letter queue; the core's own invariants are checked too.
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
    Stale { current: u32 },
    Gone,
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

    fn check(&self, (id, delivery): (u64, u32)) -> Result<usize, RefError> {
        let i = self.index(id).ok_or(RefError::Gone)?;
        let current = self.messages[i].receives;
        if delivery < current {
            return Err(RefError::Stale { current });
        }
        Ok(i)
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
    Receive { timeout_ms: u64 },
    Delete { receipt: Index },
    DeleteNewest,
    ChangeVisibility { receipt: Index, timeout_ms: u64 },
    Release { receipt: Index },
    Advance { ms: u64 },
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
        ]
        .boxed()
    }

    fn preconditions(state: &RefState, transition: &Transition) -> bool {
        match transition {
            Transition::Delete { .. }
            | Transition::DeleteNewest
            | Transition::ChangeVisibility { .. }
            | Transition::Release { .. } => !state.receipts.is_empty(),
            _ => true,
        }
    }

    fn apply(mut state: RefState, transition: &Transition) -> RefState {
        state.expected = Expected::Nothing;
        if let Transition::Advance { ms } = transition {
            state.clock += ms;
            return state;
        }
        state.settle();
        let now = state.now;
        state.expected = match transition {
            Transition::Advance { .. } => unreachable!(),
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
                Expected::Done(state.check(r).map(|i| {
                    state.messages.remove(i);
                    state.deleted += 1;
                }))
            }
            Transition::DeleteNewest => {
                let r = *state.receipts.last().unwrap();
                Expected::Done(state.check(r).map(|i| {
                    state.messages.remove(i);
                    state.deleted += 1;
                }))
            }
            Transition::ChangeVisibility {
                receipt,
                timeout_ms,
            } => {
                let r = state.receipts[receipt.index(state.receipts.len())];
                Expected::Done(state.check(r).map(|i| {
                    state.messages[i].in_flight = true;
                    state.hide_until(r.0, now + timeout_ms);
                }))
            }
            Transition::Release { receipt } => {
                let r = state.receipts[receipt.index(state.receipts.len())];
                Expected::Released(state.check(r).map(|i| {
                    let m = &mut state.messages[i];
                    let at = match state.policy {
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
                    state.hide_until(r.0, at);
                    at
                }))
            }
        };
        state
    }
}

struct Sut {
    queue: RetryQueue<u64, ManualClock>,
    clock: ManualClock,
    receipts: Vec<ReceiptHandle>,
}

fn ref_error(e: QueueError) -> RefError {
    match e {
        QueueError::StaleReceipt { current, .. } => RefError::Stale { current },
        QueueError::MessageGone { .. } => RefError::Gone,
        QueueError::UnknownReceipt { receipt } => {
            panic!("the queue refused its own receipt {receipt} as unknown")
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
            Transition::Delete { receipt: i } => {
                let r = receipt(&sut, i);
                Expected::Done(sut.queue.delete(&r).map_err(ref_error))
            }
            Transition::DeleteNewest => {
                let r = *sut.receipts.last().unwrap();
                Expected::Done(sut.queue.delete(&r).map_err(ref_error))
            }
            Transition::ChangeVisibility {
                receipt: i,
                timeout_ms,
            } => {
                let r = receipt(&sut, i);
                Expected::Done(
                    sut.queue
                        .change_visibility(&r, Duration::from_millis(*timeout_ms))
                        .map_err(ref_error),
                )
            }
            Transition::Release { receipt: i } => {
                let r = receipt(&sut, i);
                Expected::Released(
                    sut.queue
                        .release(&r)
                        .map(Instant::as_millis)
                        .map_err(ref_error),
                )
            }
        };
        assert_eq!(actual, reference.expected, "return value of {transition:?}");
        sut
    }

    fn check_invariants(sut: &Sut, reference: &RefState) {
        assert_eq!(sut.clock.now().as_millis(), reference.clock);
        sut.queue.check_invariants();
        // `counts` applies deadlines, like any operation, so bring the reference along on a copy.
        let mut settled = reference.clone();
        settled.settle();
        assert_eq!(sut.queue.counts(), settled.counts(), "counts");
        let dead: Vec<(u64, u32)> = sut
            .queue
            .dead_letters()
            .iter()
            .map(|d| (d.message.get(), d.receive_count))
            .collect();
        assert_eq!(dead, settled.dead, "dead-letter queue");
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
