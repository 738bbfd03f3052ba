//! The lease store and fenced storage against sequential reference models, with
//! `proptest-state-machine`.
//!
//! - The store: random sequences of acquire, renew and release by three nodes (with the
//!   current holder's token most of the time, else any token up to one never granted), reads of
//!   the current lease, and clock advances; TTLs are whole milliseconds or arbitrary
//!   microseconds (the store rounds up). After every step the store's return value, error
//!   included, must equal the reference's, its event log must be the events the reference
//!   expects, and its clock and last token must agree. The invariants read nothing through
//!   the store's clock, so an advance is followed directly by the next operation, which must
//!   judge the lease at the new time itself.
//! - Storage: random writes whose tokens fall below, at and above the highest accepted, and
//!   reads. After every step the return value, the stored value, the highest token, the counts
//!   and the event log must agree.
//!
//! The references are written from the documented contracts, not from the code: a lease is
//! live while the store's time is strictly before its expiry, a grant's token is one more
//! than the last, and storage refuses exactly the tokens lower than the highest it accepted.

use std::time::Duration;

use coordlab_impls::clock::{Clock, Instant, ManualClock};
use coordlab_impls::election::{
    Event, EventLog, FencedStorage, FencingToken, InMemoryLeaseStore, Lease, LeaseError,
    LeaseStore, NodeId, WriteCounts, WriteError,
};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

const NODES: u32 = 3;

fn token(n: u64) -> FencingToken {
    FencingToken::new(n)
}

/// `ttl` in whole milliseconds, rounded up (the store's documented rounding).
fn ceil_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_micros().div_ceil(1000)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The lease store.

/// The reference lease store.
#[derive(Clone, Debug)]
struct StoreRef {
    /// The clock, in milliseconds.
    clock: u64,
    /// The last lease granted or renewed, unless released. It may have expired.
    lease: Option<Lease>,
    /// The last token granted (0: none).
    last_token: u64,
    /// Every event the store should have logged so far.
    events: Vec<Event>,
    /// What the last transition should have returned.
    expected: StoreReturn,
}

impl StoreRef {
    /// The lease, if it is live now: a lease is free at exactly its expiry.
    fn live(&self) -> Option<Lease> {
        self.lease.filter(|l| self.clock < l.expires_at.as_millis())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum StoreReturn {
    Nothing,
    Acquired(Result<Lease, LeaseError>),
    Renewed(Result<Lease, LeaseError>),
    Released(Result<(), LeaseError>),
    Current(Option<Lease>),
}

#[derive(Clone, Debug)]
enum StoreStep {
    Acquire {
        node: u32,
        ttl: Duration,
    },
    Renew {
        node: u32,
        token: u64,
        ttl: Duration,
    },
    Release {
        node: u32,
        token: u64,
    },
    Current,
    Advance {
        ms: u64,
    },
}

struct StoreReference;

impl ReferenceStateMachine for StoreReference {
    type State = StoreRef;
    type Transition = StoreStep;

    fn init_state() -> BoxedStrategy<StoreRef> {
        Just(StoreRef {
            clock: 0,
            lease: None,
            last_token: 0,
            events: Vec::new(),
            expected: StoreReturn::Nothing,
        })
        .boxed()
    }

    fn transitions(state: &StoreRef) -> BoxedStrategy<StoreStep> {
        let ttl = prop_oneof![
            (0u64..6).prop_map(Duration::from_millis),
            (0u64..6000).prop_map(Duration::from_micros),
        ];
        // Who renews or releases, with which token: the last lease's holder and token (live or
        // not) most of the time, else anyone with any token up to one never granted.
        let anyone = (0..NODES, 0..=state.last_token + 1);
        let caller = match state.lease {
            Some(l) => prop_oneof![
                2 => Just((l.holder.0, l.token.get())),
                1 => anyone,
            ]
            .boxed(),
            None => anyone.boxed(),
        };
        prop_oneof![
            3 => (0..NODES, ttl.clone()).prop_map(|(node, ttl)| StoreStep::Acquire { node, ttl }),
            3 => (caller.clone(), ttl)
                .prop_map(|((node, token), ttl)| StoreStep::Renew { node, token, ttl }),
            2 => caller.prop_map(|(node, token)| StoreStep::Release { node, token }),
            2 => Just(StoreStep::Current),
            3 => (0u64..4).prop_map(|ms| StoreStep::Advance { ms }),
        ]
        .boxed()
    }

    fn apply(mut state: StoreRef, step: &StoreStep) -> StoreRef {
        let now = state.clock;
        state.expected = match *step {
            StoreStep::Advance { ms } => {
                state.clock += ms;
                StoreReturn::Nothing
            }
            StoreStep::Current => StoreReturn::Current(state.live()),
            StoreStep::Acquire { node, ttl } => StoreReturn::Acquired(match state.live() {
                Some(held) => Err(LeaseError::Held(held)),
                None => {
                    state.last_token += 1;
                    let lease = Lease {
                        holder: NodeId(node),
                        token: token(state.last_token),
                        expires_at: Instant::from_millis(now + ceil_ms(ttl)),
                    };
                    state.lease = Some(lease);
                    state.events.push(Event::Granted {
                        node: lease.holder,
                        token: lease.token,
                        expires_at: lease.expires_at,
                    });
                    Ok(lease)
                }
            }),
            StoreStep::Renew {
                node,
                token: t,
                ttl,
            } => StoreReturn::Renewed(match state.live() {
                Some(l) if l.holder == NodeId(node) && l.token == token(t) => {
                    let lease = Lease {
                        expires_at: Instant::from_millis(now + ceil_ms(ttl)),
                        ..l
                    };
                    state.lease = Some(lease);
                    state.events.push(Event::Renewed {
                        node: lease.holder,
                        token: lease.token,
                        expires_at: lease.expires_at,
                    });
                    Ok(lease)
                }
                _ => Err(LeaseError::NotHolder {
                    node: NodeId(node),
                    token: token(t),
                }),
            }),
            StoreStep::Release { node, token: t } => StoreReturn::Released(match state.live() {
                Some(l) if l.holder == NodeId(node) && l.token == token(t) => {
                    state.lease = None;
                    state.events.push(Event::Released {
                        node: l.holder,
                        token: l.token,
                    });
                    Ok(())
                }
                _ => Err(LeaseError::NotHolder {
                    node: NodeId(node),
                    token: token(t),
                }),
            }),
        };
        state
    }
}

struct StoreSut {
    store: InMemoryLeaseStore<ManualClock>,
    clock: ManualClock,
    log: EventLog,
}

struct StoreMatchesReference;

impl StateMachineTest for StoreMatchesReference {
    type SystemUnderTest = StoreSut;
    type Reference = StoreReference;

    fn init_test(_: &StoreRef) -> StoreSut {
        let clock = ManualClock::new();
        let log = EventLog::new();
        StoreSut {
            store: InMemoryLeaseStore::new(clock.clone()).with_observer(log.clone()),
            clock,
            log,
        }
    }

    fn apply(sut: StoreSut, reference: &StoreRef, step: StoreStep) -> StoreSut {
        let actual = match step {
            StoreStep::Advance { ms } => {
                sut.clock.advance(Duration::from_millis(ms));
                StoreReturn::Nothing
            }
            StoreStep::Current => StoreReturn::Current(sut.store.current().unwrap()),
            StoreStep::Acquire { node, ttl } => {
                StoreReturn::Acquired(sut.store.acquire(NodeId(node), ttl))
            }
            StoreStep::Renew {
                node,
                token: t,
                ttl,
            } => StoreReturn::Renewed(sut.store.renew(NodeId(node), token(t), ttl)),
            StoreStep::Release { node, token: t } => {
                StoreReturn::Released(sut.store.release(NodeId(node), token(t)))
            }
        };
        assert_eq!(actual, reference.expected, "return value of {step:?}");
        sut
    }

    fn check_invariants(sut: &StoreSut, reference: &StoreRef) {
        assert_eq!(sut.log.events(), reference.events, "event log");
        assert_eq!(sut.clock.now(), Instant::from_millis(reference.clock));
        assert_eq!(
            sut.store.clock().now(),
            Instant::from_millis(reference.clock)
        );
        let last = (reference.last_token > 0).then(|| token(reference.last_token));
        assert_eq!(sut.store.last_token(), last, "last token");
        // Nothing here reads the store's clock (`current` would, and would bring the store's
        // time up to date after every step): each operation must read it itself, so an
        // operation right after an advance is judged at the new time or the step fails.
    }
}

// ---------------------------------------------------------------------------------------------
// Fenced storage.

/// The reference storage.
#[derive(Clone, Debug)]
struct StorageRef {
    highest: Option<u64>,
    /// The last accepted `(token, value)`.
    value: Option<(u64, u64)>,
    accepted: u64,
    rejected: u64,
    /// Writes so far, so each write carries a fresh value.
    writes: u64,
    events: Vec<Event>,
    expected: StorageReturn,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum StorageReturn {
    Nothing,
    Written(Result<(), WriteError>),
    Read(Option<(FencingToken, u64)>),
}

#[derive(Clone, Debug)]
enum StorageStep {
    Write { node: u32, token: u64, value: u64 },
    Read,
}

struct StorageReference;

impl ReferenceStateMachine for StorageReference {
    type State = StorageRef;
    type Transition = StorageStep;

    fn init_state() -> BoxedStrategy<StorageRef> {
        Just(StorageRef {
            highest: None,
            value: None,
            accepted: 0,
            rejected: 0,
            writes: 0,
            events: Vec::new(),
            expected: StorageReturn::Nothing,
        })
        .boxed()
    }

    fn transitions(state: &StorageRef) -> BoxedStrategy<StorageStep> {
        // Tokens just below, at and just above the highest accepted, or anything small.
        let h = state.highest.unwrap_or(0);
        let token = prop_oneof![Just(h.saturating_sub(1)), Just(h), Just(h + 1), 0u64..6,];
        let value = state.writes;
        prop_oneof![
            4 => (0..NODES, token)
                .prop_map(move |(node, token)| StorageStep::Write { node, token, value }),
            1 => Just(StorageStep::Read),
        ]
        .boxed()
    }

    fn apply(mut state: StorageRef, step: &StorageStep) -> StorageRef {
        state.expected = match *step {
            StorageStep::Read => StorageReturn::Read(state.value.map(|(t, v)| (token(t), v))),
            StorageStep::Write {
                node,
                token: t,
                value,
            } => {
                state.writes += 1;
                let highest = state.highest.map(token);
                let stale = state.highest.is_some_and(|h| t < h);
                state.events.push(Event::Write {
                    node: NodeId(node),
                    token: token(t),
                    accepted: !stale,
                    highest,
                });
                StorageReturn::Written(if stale {
                    state.rejected += 1;
                    Err(WriteError::StaleToken {
                        token: token(t),
                        highest: highest.unwrap(),
                    })
                } else {
                    state.accepted += 1;
                    state.highest = Some(state.highest.map_or(t, |h| h.max(t)));
                    state.value = Some((t, value));
                    Ok(())
                })
            }
        };
        state
    }
}

struct StorageSut {
    storage: FencedStorage<u64>,
    log: EventLog,
}

struct StorageMatchesReference;

impl StateMachineTest for StorageMatchesReference {
    type SystemUnderTest = StorageSut;
    type Reference = StorageReference;

    fn init_test(_: &StorageRef) -> StorageSut {
        let log = EventLog::new();
        StorageSut {
            storage: FencedStorage::new().with_observer(log.clone()),
            log,
        }
    }

    fn apply(sut: StorageSut, reference: &StorageRef, step: StorageStep) -> StorageSut {
        let actual = match step {
            StorageStep::Read => StorageReturn::Read(sut.storage.read()),
            StorageStep::Write {
                node,
                token: t,
                value,
            } => StorageReturn::Written(sut.storage.write(NodeId(node), token(t), value)),
        };
        assert_eq!(actual, reference.expected, "return value of {step:?}");
        sut
    }

    fn check_invariants(sut: &StorageSut, reference: &StorageRef) {
        assert_eq!(sut.log.events(), reference.events, "event log");
        assert_eq!(sut.storage.highest_token(), reference.highest.map(token));
        assert_eq!(
            sut.storage.read(),
            reference.value.map(|(t, v)| (token(t), v)),
            "stored value"
        );
        assert_eq!(
            sut.storage.counts(),
            WriteCounts {
                accepted: reference.accepted,
                rejected: reference.rejected,
            }
        );
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 4096,
        // Shrunk failures are re-run from proptest's persistence file only when it exists; the
        // workspace does not keep one.
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// The lease store returns what the sequential reference returns, step for step (errors
    /// included; `current` is one of the steps), logs exactly the grants, renewals and
    /// releases the reference makes, and agrees on the clock and the last token after every
    /// step.
    #[test]
    fn lease_store_matches_sequential_reference(sequential 1..80 => StoreMatchesReference);

    /// Fenced storage accepts and refuses exactly the writes the reference does, logs each
    /// with the highest token accepted before it, and agrees on the stored value, the highest
    /// token and the counts after every step.
    #[test]
    fn fenced_storage_matches_sequential_reference(sequential 1..40 => StorageMatchesReference);
}
