//! Sequential tests of each part's contract. The concurrent checks (loom, shuttle, proptest)
//! are in `impls/tests/election/`.

use std::time::Duration;

use super::*;
use crate::clock::{Instant, ManualClock};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, thread};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> ElectorConfig {
    ElectorConfig::new(ms(10), ms(3), ms(2)).unwrap()
}

type Store = Arc<InMemoryLeaseStore<ManualClock>>;

fn store(time: &ManualClock) -> Store {
    Arc::new(InMemoryLeaseStore::new(time.clone()))
}

#[test]
fn store_grants_one_holder_at_a_time_with_increasing_tokens() {
    let time = ManualClock::new();
    let s = store(&time);
    let a = s.acquire(NodeId(0), ms(10)).unwrap();
    assert_eq!(a.token, FencingToken::new(1));
    assert_eq!(a.expires_at, Instant::from_millis(10));
    assert_eq!(s.acquire(NodeId(1), ms(10)), Err(LeaseError::Held(a)));
    // Expiry is strict: at exactly `expires_at` the lease is free.
    time.advance(ms(9));
    assert!(s.acquire(NodeId(1), ms(10)).is_err());
    time.advance(ms(1));
    let b = s.acquire(NodeId(1), ms(10)).unwrap();
    assert_eq!(b.token, FencingToken::new(2));
    assert_eq!(s.current(), Ok(Some(b)));
    assert_eq!(s.last_token(), Some(FencingToken::new(2)));
}

#[test]
fn store_renews_and_releases_only_the_current_lease() {
    let time = ManualClock::new();
    let s = store(&time);
    let a = s.acquire(NodeId(0), ms(10)).unwrap();
    time.advance(ms(5));
    let renewed = s.renew(NodeId(0), a.token, ms(10)).unwrap();
    assert_eq!(renewed.expires_at, Instant::from_millis(15));
    let not_holder = LeaseError::NotHolder {
        node: NodeId(1),
        token: a.token,
    };
    assert_eq!(s.renew(NodeId(1), a.token, ms(10)), Err(not_holder.clone()));
    assert_eq!(s.release(NodeId(1), a.token), Err(not_holder));
    // An expired lease cannot be renewed, even if no one took it.
    time.advance(ms(10));
    assert!(s.renew(NodeId(0), a.token, ms(10)).is_err());
    let b = s.acquire(NodeId(1), ms(10)).unwrap();
    s.release(NodeId(1), b.token).unwrap();
    assert_eq!(s.current(), Ok(None));
    // Released: free at once, and the next token is still higher.
    assert_eq!(
        s.acquire(NodeId(0), ms(10)).unwrap().token,
        FencingToken::new(3)
    );
}

#[test]
fn store_reports_its_steps() {
    let time = ManualClock::new();
    let log = EventLog::new();
    let s = InMemoryLeaseStore::new(time.clone()).with_observer(log.clone());
    let a = s.acquire(NodeId(0), ms(10)).unwrap();
    s.renew(NodeId(0), a.token, ms(10)).unwrap();
    s.release(NodeId(0), a.token).unwrap();
    assert_eq!(
        log.events(),
        vec![
            Event::Granted {
                node: NodeId(0),
                token: a.token,
                expires_at: Instant::from_millis(10)
            },
            Event::Renewed {
                node: NodeId(0),
                token: a.token,
                expires_at: Instant::from_millis(10)
            },
            Event::Released {
                node: NodeId(0),
                token: a.token
            },
        ]
    );
}

#[test]
fn config_keeps_a_margin_and_renews_in_time() {
    assert_eq!(
        ElectorConfig::new(ms(10), ms(3), ms(10)),
        Err(ConfigError::DriftExceedsLease {
            lease: ms(10),
            max_drift: ms(10)
        })
    );
    assert_eq!(
        ElectorConfig::new(ms(10), ms(8), ms(2)),
        Err(ConfigError::RenewTooLate {
            renew_every: ms(8),
            trusted: ms(8)
        })
    );
    // Sub-millisecond times round up.
    assert_eq!(
        ElectorConfig::new(ms(10), Duration::from_micros(1), ms(2))
            .unwrap()
            .renew_every,
        ms(1)
    );
}

#[test]
fn leader_trusts_its_lease_for_lease_minus_drift_on_its_own_clock() {
    let time = ManualClock::new();
    let s = store(&time);
    let node_clock = ManualClock::new();
    let e = LeaderElector::new(NodeId(0), Arc::clone(&s), node_clock.clone(), config());
    let l = e.campaign().unwrap().unwrap();
    assert_eq!(l.trusted_until, Instant::from_millis(8));
    node_clock.advance(ms(7));
    assert_eq!(e.leadership(), Some(l));
    node_clock.advance(ms(1));
    assert_eq!(e.leadership(), None);
    // The store still holds the lease for it: the node gave up early, which is safe.
    assert_eq!(s.current().unwrap().map(|l| l.holder), Some(NodeId(0)));
}

#[test]
fn no_clock_margin_trusts_the_full_lease() {
    let time = ManualClock::new();
    let node_clock = ManualClock::new();
    let e = LeaderElector::new(NodeId(0), store(&time), node_clock.clone(), config())
        .with_deviation(Some(Deviation::NoClockMargin));
    let l = e.campaign().unwrap().unwrap();
    assert_eq!(l.trusted_until, Instant::from_millis(10));
    node_clock.advance(ms(9));
    assert!(e.leadership().is_some());
}

#[test]
fn heartbeat_renews_when_due_and_steps_down_when_refused() {
    let time = ManualClock::new();
    let s = store(&time);
    let log = EventLog::new();
    let e = LeaderElector::new(NodeId(0), Arc::clone(&s), time.clone(), config())
        .with_observer(log.clone());
    let first = e.heartbeat().unwrap().expect("campaigns and wins");
    time.advance(ms(2));
    assert_eq!(
        e.heartbeat().unwrap(),
        Some(first),
        "not due yet: no renewal"
    );
    time.advance(ms(1));
    let renewed = e.heartbeat().unwrap().unwrap();
    assert_eq!(renewed.token, first.token);
    assert_eq!(renewed.trusted_until, Instant::from_millis(3 + 8));
    assert_eq!(
        s.current().unwrap().unwrap().expires_at,
        Instant::from_millis(13)
    );
    // Someone releases the lease behind the node's back (an operator, say): the next renewal
    // is refused and the node steps down.
    s.release(NodeId(0), first.token).unwrap();
    time.advance(ms(3));
    assert_eq!(e.heartbeat().unwrap(), None);
    let stepped: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::SteppedDown { .. }))
        .collect();
    assert_eq!(
        stepped,
        vec![Event::SteppedDown {
            node: NodeId(0),
            token: first.token,
            reason: StepDownReason::RenewRefused
        }]
    );
}

#[test]
fn resign_hands_the_lease_over_at_once() {
    let time = ManualClock::new();
    let s = store(&time);
    let a = LeaderElector::new(NodeId(0), Arc::clone(&s), time.clone(), config());
    let b = LeaderElector::new(NodeId(1), Arc::clone(&s), time.clone(), config());
    let la = a.campaign().unwrap().unwrap();
    assert_eq!(b.campaign().unwrap(), None);
    a.resign().unwrap();
    assert_eq!(a.leadership(), None);
    a.resign().unwrap();
    let lb = b.campaign().unwrap().unwrap();
    assert!(lb.token > la.token);
}

#[test]
fn storage_fences_lower_tokens_and_accepts_equal_ones() {
    let storage = FencedStorage::new();
    let (t1, t2) = (FencingToken::new(1), FencingToken::new(2));
    storage.write(NodeId(0), t1, "a").unwrap();
    storage.write(NodeId(0), t1, "a again").unwrap();
    storage.write(NodeId(1), t2, "b").unwrap();
    assert_eq!(
        storage.write(NodeId(0), t1, "late"),
        Err(WriteError::StaleToken {
            token: t1,
            highest: t2
        })
    );
    assert_eq!(storage.read(), Some((t2, "b")));
    assert_eq!(
        storage.counts(),
        WriteCounts {
            accepted: 3,
            rejected: 1
        }
    );
}

#[test]
fn no_fencing_accepts_the_late_write() {
    let storage = FencedStorage::new().with_deviation(Some(Deviation::NoFencing));
    storage.write(NodeId(1), FencingToken::new(2), "b").unwrap();
    storage
        .write(NodeId(0), FencingToken::new(1), "late")
        .unwrap();
    assert_eq!(storage.read(), Some((FencingToken::new(1), "late")));
    assert_eq!(storage.highest_token(), Some(FencingToken::new(2)));
}

#[test]
fn check_then_set_store_still_refuses_a_held_lease() {
    // Sequentially the split acquisition looks right: the bug needs a second node between the
    // read and the write (the loom and shuttle tests find it).
    let time = ManualClock::new();
    let s = InMemoryLeaseStore::new(time.clone()).with_deviation(Some(Deviation::CheckThenSet));
    let a = s.acquire(NodeId(0), ms(10)).unwrap();
    assert!(matches!(
        s.acquire(NodeId(1), ms(10)),
        Err(LeaseError::Held(_))
    ));
    time.advance(ms(10));
    assert!(s.acquire(NodeId(1), ms(10)).unwrap().token > a.token);
}

#[test]
fn events_read_as_sentences() {
    let e = Event::Write {
        node: NodeId(0),
        token: FencingToken::new(1),
        accepted: true,
        highest: Some(FencingToken::new(2)),
    };
    assert_eq!(
        e.to_string(),
        "storage: write from n0 with token 1 ACCEPTED (highest accepted token 2)"
    );
}

/// A store behind a slow link: every request takes `delay` on the node's clock before the
/// store sees it. Also shows a store other than the in-memory one behind the trait.
struct SlowLink {
    store: InMemoryLeaseStore<ManualClock>,
    node_clock: ManualClock,
    delay: Duration,
}

impl LeaseStore for SlowLink {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        self.node_clock.advance(self.delay);
        self.store.acquire(node, ttl)
    }
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        self.node_clock.advance(self.delay);
        self.store.renew(node, token, ttl)
    }
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        self.store.release(node, token)
    }
    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        self.store.current()
    }
}

#[test]
fn a_grant_that_arrives_too_late_is_not_trusted() {
    let node_clock = ManualClock::new();
    let log = EventLog::new();
    let link = SlowLink {
        store: InMemoryLeaseStore::new(ManualClock::new()),
        node_clock: node_clock.clone(),
        delay: ms(8),
    };
    let e = LeaderElector::new(NodeId(0), link, node_clock.clone(), config())
        .with_observer(log.clone());
    // Asked at 0, trusted until 10 - 2 = 8; the answer arrives at 8.
    assert_eq!(e.campaign().unwrap(), None);
    assert_eq!(e.leadership(), None);
    let token = FencingToken::new(1);
    assert_eq!(
        log.events(),
        vec![
            Event::Leading {
                node: NodeId(0),
                token,
                local: Instant::ZERO,
                trusted_until: Instant::from_millis(8)
            },
            Event::SteppedDown {
                node: NodeId(0),
                token,
                reason: StepDownReason::LeaseUntrusted
            },
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Every time-dependent operation, called right after the clock moved (nothing in between that
// could bring the store's or the elector's idea of time up to date), against the deadline it
// must judge by, on both sides of the boundary, to the millisecond.

/// What a store operation returned, for the boundary tables.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Lease(Result<Lease, LeaseError>),
    Released(Result<(), LeaseError>),
    Current(Option<Lease>),
}

/// A store whose node 0 was granted the lease (token 1) at 5 ms for 10 ms, so it is live
/// while the store's clock reads 5..=14 and free from 15 on.
fn store_at_5_granted_until_15() -> (ManualClock, InMemoryLeaseStore<ManualClock>, Lease) {
    let time = ManualClock::starting_at(Instant::from_millis(5));
    let s = InMemoryLeaseStore::new(time.clone());
    let lease = s.acquire(NodeId(0), ms(10)).unwrap();
    assert_eq!(lease.expires_at, Instant::from_millis(15));
    (time, s, lease)
}

#[test]
fn store_operations_judge_the_lease_at_the_time_they_are_called() {
    type Op = fn(&InMemoryLeaseStore<ManualClock>, Lease) -> Answer;
    let ops: [(&str, Op); 4] = [
        ("acquire", |s, _| Answer::Lease(s.acquire(NodeId(1), ms(7)))),
        ("renew", |s, l| {
            Answer::Lease(s.renew(NodeId(0), l.token, ms(7)))
        }),
        ("release", |s, l| {
            Answer::Released(s.release(NodeId(0), l.token))
        }),
        ("current", |s, _| Answer::Current(s.current().unwrap())),
    ];
    for (name, op) in ops {
        // From 5 ms, the clock moves 9 ms (to 14: the last live millisecond), 10 ms (to 15:
        // the expiry itself) or 11 ms; the operation comes next, with nothing in between.
        for step in [9, 10, 11] {
            let (time, s, lease) = store_at_5_granted_until_15();
            let now = time.advance(ms(step));
            let live = now < lease.expires_at;
            let not_holder = LeaseError::NotHolder {
                node: NodeId(0),
                token: lease.token,
            };
            let expected = match (name, live) {
                ("acquire", true) => Answer::Lease(Err(LeaseError::Held(lease))),
                ("acquire", false) => Answer::Lease(Ok(Lease {
                    holder: NodeId(1),
                    token: FencingToken::new(2),
                    expires_at: now.saturating_add(ms(7)),
                })),
                ("renew", true) => Answer::Lease(Ok(Lease {
                    expires_at: now.saturating_add(ms(7)),
                    ..lease
                })),
                ("renew", false) => Answer::Lease(Err(not_holder)),
                ("release", true) => Answer::Released(Ok(())),
                ("release", false) => Answer::Released(Err(not_holder)),
                (_, true) => Answer::Current(Some(lease)),
                (_, false) => Answer::Current(None),
            };
            assert_eq!(op(&s, lease), expected, "{name} at {now}");
        }
    }
}

/// A renewal moves the deadline to the renewal's time plus the new TTL (here earlier than the
/// old one): every operation right after the clock moved judges by the new deadline.
#[test]
fn store_operations_judge_a_renewed_lease_by_its_new_expiry() {
    for (name, step) in [
        ("acquire", 3),
        ("acquire", 4),
        ("renew", 3),
        ("renew", 4),
        ("current", 3),
        ("current", 4),
        ("release", 3),
        ("release", 4),
    ] {
        let (time, s, lease) = store_at_5_granted_until_15();
        time.advance(ms(3));
        // Renewed at 8 for 4 ms: live until 11 (the grant said 15).
        let renewed = s.renew(NodeId(0), lease.token, ms(4)).unwrap();
        assert_eq!(renewed.expires_at, Instant::from_millis(12));
        let now = time.advance(ms(step));
        let live = now < renewed.expires_at;
        let got = match name {
            "acquire" => s.acquire(NodeId(1), ms(4)).is_ok(),
            "renew" => s.renew(NodeId(0), lease.token, ms(4)).is_ok(),
            "release" => s.release(NodeId(0), lease.token).is_ok(),
            _ => s.current().unwrap().is_some(),
        };
        assert_eq!(
            got,
            if name == "acquire" { !live } else { live },
            "{name} at {now}"
        );
    }
}

/// An elector at 100 ms on its own clock, on a store whose clock starts at 0, with a 10 ms
/// lease, renewals every 3 ms and a 2 ms drift bound: it trusts a lease for 8 ms from the
/// moment it asked.
fn elector_at_100() -> (
    ManualClock,
    ManualClock,
    Store,
    EventLog,
    LeaderElector<Store, ManualClock>,
) {
    let store_time = ManualClock::new();
    let node_time = ManualClock::starting_at(Instant::from_millis(100));
    let log = EventLog::new();
    let s = Arc::new(InMemoryLeaseStore::new(store_time.clone()).with_observer(log.clone()));
    let e = LeaderElector::new(NodeId(0), Arc::clone(&s), node_time.clone(), config())
        .with_observer(log.clone());
    (store_time, node_time, s, log, e)
}

fn renewals(log: &EventLog) -> Vec<Instant> {
    log.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Renewed { expires_at, .. } => Some(expires_at),
            _ => None,
        })
        .collect()
}

#[test]
fn elector_operations_judge_trust_at_the_time_they_are_called() {
    // leadership(): trusted while the node's clock reads less than 100 + 8.
    for (step, trusted) in [(7, true), (8, false), (9, false)] {
        let (_, node_time, _, _, e) = elector_at_100();
        let l = e.campaign().unwrap().unwrap();
        assert_eq!(l.trusted_until, Instant::from_millis(108));
        node_time.advance(ms(step));
        assert_eq!(e.leadership().is_some(), trusted, "leadership at +{step}");
    }
    // heartbeat(): no renewal before 3 ms have passed on the node's clock, a renewal at 3 ms
    // exactly and up to the last trusted millisecond, and a step-down (no renewal sent) once
    // the node's clock says the lease can no longer be trusted.
    for (step, renews, leads) in [
        (2, false, true),
        (3, true, true),
        (7, true, true),
        (8, false, false),
    ] {
        let (store_time, node_time, _, log, e) = elector_at_100();
        let first = e.campaign().unwrap().unwrap();
        store_time.advance(ms(1));
        node_time.advance(ms(step));
        let after = e.heartbeat().unwrap();
        assert_eq!(after.is_some(), leads, "heartbeat at +{step}");
        if renews {
            // The store renews at its own time (1 ms) for the full lease; the node trusts
            // the renewal for lease - drift from when it asked, on its own clock.
            assert_eq!(renewals(&log), [Instant::from_millis(11)], "+{step}");
            assert_eq!(
                after.unwrap().trusted_until,
                Instant::from_millis(100 + step + 8)
            );
        } else {
            assert_eq!(renewals(&log), [], "heartbeat at +{step} renewed");
            assert_eq!(after, leads.then_some(first), "+{step}");
        }
    }
    // After a renewal at 103, leadership() judges by the renewed deadline, 111.
    for (step, trusted) in [(7, true), (8, false)] {
        let (_, node_time, _, _, e) = elector_at_100();
        e.campaign().unwrap().unwrap();
        node_time.advance(ms(3));
        e.heartbeat().unwrap().unwrap();
        node_time.advance(ms(step));
        assert_eq!(e.leadership().is_some(), trusted, "after renewal, +{step}");
    }
    // campaign(): another node is granted the lease exactly when the store's clock reaches
    // its expiry (10 ms, store time), not a millisecond before; it trusts it from its own
    // reading.
    for (step, granted) in [(9, false), (10, true)] {
        let (store_time, _, s, _, e) = elector_at_100();
        e.campaign().unwrap().unwrap();
        let b_time = ManualClock::starting_at(Instant::from_millis(40));
        let b = LeaderElector::new(NodeId(1), Arc::clone(&s), b_time, config());
        store_time.advance(ms(step));
        let got = b.campaign().unwrap();
        assert_eq!(got.is_some(), granted, "campaign at store time {step}");
        if let Some(l) = got {
            assert_eq!(l.token, FencingToken::new(2));
            assert_eq!(l.trusted_until, Instant::from_millis(48));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A request in flight: the elector's lock is not held across the store's round trip.

/// How long a test waits for a thread before it fails (a thread that waits longer is stuck
/// behind the held answer).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until `done` says so, or fails with `what` after [`PATIENCE`].
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A store in front of the in-memory one that holds each `acquire` or `renew` answer (after
/// the store acted on it) until the test lets it through, and counts the requests.
struct HeldAnswers {
    store: InMemoryLeaseStore<ManualClock>,
    /// Requests that reached the store.
    calls: AtomicUsize,
    /// Answers the test has let through.
    let_through: AtomicUsize,
}

impl HeldAnswers {
    fn hold<T>(&self, answer: T) -> T {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        wait_for("the test let the answer through", || {
            self.let_through.load(Ordering::SeqCst) >= n
        });
        answer
    }
}

impl LeaseStore for HeldAnswers {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        self.hold(self.store.acquire(node, ttl))
    }
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        self.hold(self.store.renew(node, token, ttl))
    }
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        self.store.release(node, token)
    }
    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        self.store.current()
    }
}

type HeldElector = LeaderElector<Arc<HeldAnswers>, ManualClock>;

/// The harness of the in-flight tests: one elector (node 0) on a store whose answers wait
/// for the test, and node 1 on the same store without the wait.
struct InFlight {
    time: ManualClock,
    link: Arc<HeldAnswers>,
    log: EventLog,
    a: Arc<HeldElector>,
}

impl InFlight {
    fn new() -> InFlight {
        let time = ManualClock::new();
        let log = EventLog::new();
        let link = Arc::new(HeldAnswers {
            store: InMemoryLeaseStore::new(time.clone()).with_observer(log.clone()),
            calls: AtomicUsize::new(0),
            let_through: AtomicUsize::new(0),
        });
        let a = Arc::new(
            LeaderElector::new(NodeId(0), Arc::clone(&link), time.clone(), config())
                .with_observer(log.clone()),
        );
        InFlight { time, link, log, a }
    }

    /// Starts `f` on node 0's elector in a thread and waits until its request reached the
    /// store and the answer is held.
    fn start<T: Send + 'static>(&self, f: fn(&HeldElector) -> T) -> thread::JoinHandle<T> {
        let before = self.link.calls.load(Ordering::SeqCst);
        let a = Arc::clone(&self.a);
        let handle = thread::spawn(move || f(&a));
        wait_for("the request reached the store", || {
            self.link.calls.load(Ordering::SeqCst) > before
        });
        handle
    }

    /// Runs `f` on node 0's elector in another thread; fails if it does not return within
    /// [`PATIENCE`] (it would be waiting for the held answer).
    fn promptly<T: Send + 'static>(&self, what: &str, f: fn(&HeldElector) -> T) -> T {
        let a = Arc::clone(&self.a);
        let handle = thread::spawn(move || f(&a));
        wait_for(
            &format!("{what} waited for the store's answer in flight"),
            || handle.is_finished(),
        );
        handle.join().unwrap()
    }

    fn let_answer_through(&self) {
        self.link.let_through.fetch_add(1, Ordering::SeqCst);
    }

    fn node1(&self) -> LeaderElector<&InMemoryLeaseStore<ManualClock>, ManualClock> {
        LeaderElector::new(NodeId(1), &self.link.store, self.time.clone(), config())
            .with_observer(self.log.clone())
    }

    fn leading_events(&self, node: NodeId) -> usize {
        self.log
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Leading { node: n, .. } if *n == node))
            .count()
    }
}

/// While node 0's renewal is in flight, `leadership()` answers at once from the lease the
/// node holds, and `heartbeat()` / `campaign()` answer without sending a second request.
#[test]
fn leadership_answers_while_a_renewal_is_in_flight() {
    let t = InFlight::new();
    let first = t.start(|a| a.campaign());
    t.let_answer_through();
    let first = first.join().unwrap().unwrap().unwrap();
    t.time.advance(ms(3));
    let renewal = t.start(|a| a.heartbeat());
    assert_eq!(t.promptly("leadership()", |a| a.leadership()), Some(first));
    assert_eq!(
        t.promptly("heartbeat()", |a| a.heartbeat()),
        Ok(Some(first))
    );
    assert_eq!(t.promptly("campaign()", |a| a.campaign()), Ok(Some(first)));
    assert_eq!(t.link.calls.load(Ordering::SeqCst), 2);
    t.let_answer_through();
    let renewed = renewal.join().unwrap().unwrap().unwrap();
    assert_eq!(renewed.trusted_until, Instant::from_millis(3 + 8));
    assert_eq!(t.a.leadership(), Some(renewed));
}

/// A renewal the store granted, whose answer comes back after the node resigned and another
/// node took the lease, does not make the resigned node lead again: it stays a follower and
/// only its successor leads.
#[test]
fn a_renewal_answered_after_a_resignation_is_not_applied() {
    let t = InFlight::new();
    let first = t.start(|a| a.campaign());
    t.let_answer_through();
    first.join().unwrap().unwrap().unwrap();
    t.time.advance(ms(3));
    let renewal = t.start(|a| a.heartbeat());
    // The store has renewed node 0's lease; node 0 resigns before the answer arrives.
    assert_eq!(renewals(&t.log).len(), 1);
    t.promptly("resign()", |a| a.resign()).unwrap();
    let b = t.node1();
    let lb = b.campaign().unwrap().expect("released: free at once");
    t.let_answer_through();
    assert_eq!(renewal.join().unwrap(), Ok(None));
    assert_eq!(t.a.leadership(), None);
    assert_eq!(t.leading_events(NodeId(0)), 1, "node 0 led only once");
    assert_eq!(b.leadership(), Some(lb));
}

/// A renewal whose answer comes back after the node resigned, when no one took the lease
/// since, leaves the lease free: the renewed lease is handed back, and node 1 is granted it
/// at once.
#[test]
fn a_lease_granted_or_renewed_after_a_resignation_is_handed_back() {
    for request in ["acquire", "renew"] {
        let t = InFlight::new();
        if request == "renew" {
            let first = t.start(|a| a.campaign());
            t.let_answer_through();
            first.join().unwrap().unwrap().unwrap();
            t.time.advance(ms(3));
        }
        let in_flight = t.start(|a| a.heartbeat());
        t.promptly("resign()", |a| a.resign()).unwrap();
        // Node 0's resignation released a renewed lease; an acquisition in flight had not
        // made node 0 leader yet, so the lease is still granted to it.
        let held = t.link.store.current().unwrap();
        assert_eq!(held.is_some(), request == "acquire", "{request}");
        t.let_answer_through();
        assert_eq!(in_flight.join().unwrap(), Ok(None), "{request}");
        assert_eq!(t.link.store.current(), Ok(None), "{request}: handed back");
        assert!(t.node1().campaign().unwrap().is_some(), "{request}");
        assert_eq!(t.a.leadership(), None, "{request}");
    }
}

// ---------------------------------------------------------------------------------------------
// What every other public method promises.

/// An elector can borrow its store: through `&S`, a resignation hands the lease over at once
/// (another node is granted it at the same instant) and `current` reports what the store
/// holds.
#[test]
fn an_elector_on_a_borrowed_store_hands_the_lease_over_at_once() {
    let time = ManualClock::new();
    let s = InMemoryLeaseStore::new(time.clone());
    let a = LeaderElector::new(NodeId(0), &s, time.clone(), config());
    let b = LeaderElector::new(NodeId(1), &s, time.clone(), config());
    let la = a.campaign().unwrap().unwrap();
    let by_ref: &dyn LeaseStore = &a.store();
    assert_eq!(
        by_ref.current().unwrap().map(|l| (l.holder, l.token)),
        Some((NodeId(0), la.token))
    );
    assert_eq!(b.campaign().unwrap(), None);
    a.resign().unwrap();
    assert_eq!(by_ref.current(), Ok(None));
    let lb = b
        .campaign()
        .unwrap()
        .expect("free at once, without waiting for the lease");
    assert_eq!(lb.token, FencingToken::new(2));
    assert_eq!(
        by_ref.release(NodeId(0), la.token),
        Err(LeaseError::NotHolder {
            node: NodeId(0),
            token: la.token
        })
    );
    assert_eq!(by_ref.release(NodeId(1), lb.token), Ok(()));
    assert_eq!(s.current(), Ok(None));
}

#[test]
fn an_elector_says_who_it_is_and_how_it_is_configured() {
    let time = ManualClock::new();
    let s = store(&time);
    let e = LeaderElector::new(NodeId(7), Arc::clone(&s), time, config());
    assert_eq!(e.node(), NodeId(7));
    assert_eq!(e.config(), config());
    assert!(Arc::ptr_eq(e.store(), &s));
    assert_eq!(
        format!("{e:?}"),
        format!(
            "LeaderElector {{ node: NodeId(7), config: {:?}, role: Follower, in_flight: false }}",
            config()
        )
    );
}

/// The store's `Debug` shows its register (the lease, the last token, the latest time) and
/// whether it is observed.
#[test]
fn a_store_shows_its_register() {
    let time = ManualClock::starting_at(Instant::from_millis(4));
    let s = InMemoryLeaseStore::new(time.clone()).with_observer(EventLog::new());
    s.acquire(NodeId(2), ms(3)).unwrap();
    assert_eq!(
        format!("{s:?}"),
        "InMemoryLeaseStore { register: Register { lease: Some(Lease { holder: NodeId(2), \
         token: FencingToken(1), expires_at: Instant(7) }), last_token: 1, now: Instant(4) }, \
         observer: observed }"
    );
}

/// Storage's `Debug` shows the highest token and the counts; the log's, how many events it
/// holds.
#[test]
fn storage_and_the_log_show_their_counts() {
    let log = EventLog::new();
    let storage = FencedStorage::new().with_observer(log.clone());
    storage.write(NodeId(0), FencingToken::new(2), 'a').unwrap();
    storage
        .write(NodeId(1), FencingToken::new(1), 'b')
        .unwrap_err();
    assert_eq!(
        format!("{storage:?}"),
        "FencedStorage { highest: Some(FencingToken(2)), accepted: 1, rejected: 1, .. }"
    );
    assert_eq!(format!("{log:?}"), "EventLog { events: 2 }");
}

#[test]
fn tokens_and_nodes_read_as_numbers() {
    assert_eq!(FencingToken::new(42).get(), 42);
    assert!(FencingToken::new(2) > FencingToken::new(1));
    assert_eq!(FencingToken::new(3).to_string(), "token 3");
    assert_eq!(NodeId(4).to_string(), "n4");
    let storage: FencedStorage<u8> = FencedStorage::default();
    assert_eq!(storage.highest_token(), None);
    assert_eq!(storage.read(), None);
    assert_eq!(storage.counts(), WriteCounts::default());
    assert_eq!(
        Deviation::ALL.map(Deviation::id),
        ["no-fencing", "no-clock-margin", "check-then-set"]
    );
}

/// While a campaign is in flight, another `campaign()` (or a follower's `heartbeat()`)
/// answers `None` at once without sending a second request; the first one's grant makes the
/// node lead.
#[test]
fn one_request_at_a_time() {
    let t = InFlight::new();
    let first = t.start(|a| a.campaign());
    assert_eq!(t.promptly("campaign()", |a| a.campaign()), Ok(None));
    assert_eq!(t.promptly("heartbeat()", |a| a.heartbeat()), Ok(None));
    assert_eq!(t.promptly("leadership()", |a| a.leadership()), None);
    assert_eq!(t.link.calls.load(Ordering::SeqCst), 1);
    t.let_answer_through();
    let l = first.join().unwrap().unwrap().expect("granted");
    assert_eq!(t.a.leadership(), Some(l));
}

/// A store call that panics leaves the elector able to send again: the next heartbeat
/// campaigns (and is granted the lease) instead of waiting forever for an answer.
#[test]
fn a_store_call_that_panics_does_not_wedge_the_elector() {
    struct PanicsOnce {
        store: InMemoryLeaseStore<ManualClock>,
        panicked: AtomicUsize,
    }
    impl LeaseStore for PanicsOnce {
        fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
            assert!(
                self.panicked.fetch_add(1, Ordering::SeqCst) > 0,
                "the store's client panics"
            );
            self.store.acquire(node, ttl)
        }
        fn renew(
            &self,
            node: NodeId,
            token: FencingToken,
            ttl: Duration,
        ) -> Result<Lease, LeaseError> {
            self.store.renew(node, token, ttl)
        }
        fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
            self.store.release(node, token)
        }
        fn current(&self) -> Result<Option<Lease>, LeaseError> {
            self.store.current()
        }
    }
    let time = ManualClock::new();
    let store = PanicsOnce {
        store: InMemoryLeaseStore::new(time.clone()),
        panicked: AtomicUsize::new(0),
    };
    let e = LeaderElector::new(NodeId(0), store, time, config());
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.heartbeat()));
    assert!(first.is_err(), "the first campaign panics in the store");
    assert!(
        e.heartbeat().unwrap().is_some(),
        "the second one is sent and granted"
    );
}

/// `believed` reports what the node holds without reading its clock: a lease its clock
/// says is over stays believed until a call that reads the clock steps the node down.
#[test]
fn believed_is_the_nodes_belief_without_reading_its_clock() {
    let time = ManualClock::new();
    let s = store(&time);
    let node = LeaderElector::new(NodeId(0), Arc::clone(&s), time.clone(), config());
    assert_eq!(node.believed(), None);
    let l = node.campaign().unwrap().unwrap();
    assert_eq!(node.believed(), Some(l));
    time.advance(ms(100_000));
    assert_eq!(
        node.believed(),
        Some(l),
        "not read the clock: still believed"
    );
    assert_eq!(node.leadership(), None, "read the clock: steps down");
    assert_eq!(node.believed(), None);
}

/// `no-lease-expiry`: a lease granted or renewed never runs out, so nobody else is ever
/// granted it; a liveness deviation, kept apart from the ones shuttle searches.
#[test]
fn a_store_without_lease_expiry_never_lets_a_lease_go() {
    assert_eq!(Deviation::LIVENESS.map(Deviation::id), ["no-lease-expiry"]);
    let time = ManualClock::new();
    let s = InMemoryLeaseStore::new(time.clone()).with_deviation(Some(Deviation::NoLeaseExpiry));
    let first = s.acquire(NodeId(0), ms(10)).unwrap();
    time.advance(ms(1_000_000));
    assert!(matches!(s.acquire(NodeId(1), ms(10)), Err(LeaseError::Held(l)) if l == first));
    assert!(s.renew(NodeId(0), first.token, ms(10)).is_ok());
    time.advance(ms(1_000_000));
    assert_eq!(s.current().unwrap().map(|l| l.holder), Some(NodeId(0)));
}
