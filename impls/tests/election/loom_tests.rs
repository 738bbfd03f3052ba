//! The lease store, two electors on it, and one elector shared by its node's threads, under
//! `loom::model`: every interleaving of 2–3 threads acquiring, renewing and releasing the
//! lease while the model's main thread advances the clock and so expires it, or, with one
//! elector, of its heartbeat, a writer and a resignation, up to a preemption bound.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p coordlab-impls --release --target-dir
//! target/loom --test election`. Each test states its preemption bound and what it cost when
//! written (executions explored, and wall time measured alone on the 2-core development
//! machine, release build); each prints both (`--nocapture` to see them). The whole file took
//! 19 s with `--test-threads=1` and 21 s with the default two test threads (loom maps a fresh
//! stack for every thread of every execution; two tests doing so at once contend in the
//! kernel). The next bound up costs roughly 3-9x more executions; the cost of each is in its test's
//! comment.
//!
//! What is checked, on the store's event log. The store reports from inside its lock, so the
//! log is its linearization order; every node asks for the same TTL, so a grant's or a
//! renewal's store time is its expiry minus that TTL. A `Released` event carries no time, so
//! each node learns the store time of each of its calls from the store's own clock reading
//! (see `StoreClock`); where that is not available (the electors call the store themselves) a
//! release is checked against a lower bound only, the latest grant or renewal time before it.
//!
//! - `FencingTokensMonotonic`: every grant carries a token greater than every token granted
//!   before, so no token is granted twice and each token has one holder.
//! - One unexpired lease at a time: a grant happens only if the previous lease was released, or
//!   had expired by the grant's time (strictly: a lease is free at exactly its expiry).
//! - A renewal or a release succeeds only for the current lease's holder and token, before the
//!   lease expires.
//! - The log and the nodes agree: every success a node was told about is in the log, every
//!   grant, renewal and release in the log was told to the node it names, at the store time of
//!   the node's call; a refused acquisition names a lease of the store's that was live at the
//!   refusal; other refusals echo the request.
//! - With electors (shared clock, so no drift): a node leads only after the store granted or
//!   renewed its lease, trusts it for less than the store holds it, and (`AtMostOneLeader`)
//!   never trusts a token at or after the time a higher one was granted.
//! - With one elector shared by a heartbeat, a writer and a resignation (time standing
//!   still): `AtMostOneLeader` (a renewal racing the resignation does not make the resigned
//!   node lead again next to its successor), `StaleTokenWriteRejected` on storage, and a
//!   renewal the store refused leaves the node a follower.
//!
//! Each test also asserts that the races it exists for happened in some explored interleaving
//! (a lease re-granted after expiry, a renewal refused, a stale leader refused...), so a
//! scenario that stopped racing fails instead of passing vacuously; and
//! `loom_finds_check_then_set` shows the checks catch the store's `check-then-set` deviation.
//! `AtMostOneLeader` is implied by the narrower checks before it (one live lease, trust shorter
//! than the store's lease, trust only as believed), so no bug reaches it in these scenarios
//! without tripping one of those first; `at_most_one_leader_check_flags_a_stale_leader` shows
//! it is not dead code.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant as WallClock};

use coordlab_impls::clock::{Clock, Instant, ManualClock};
use coordlab_impls::election::{
    Deviation, ElectorConfig, Event, EventLog, FencedStorage, FencingToken, InMemoryLeaseStore,
    LeaderElector, Leadership, Lease, LeaseError, LeaseStore, NodeId, StepDownReason,
};
use coordlab_impls::sync::{Arc, thread};

const FENCING_TOKENS_MONOTONIC: &str = "FencingTokensMonotonic";
const AT_MOST_ONE_LEADER: &str = "AtMostOneLeader";

/// A race a scenario exists to exercise. Each test asserts that its races happened in at
/// least one explored execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Race {
    /// The lease was granted again after the previous one expired, without a release.
    RegrantedAfterExpiry,
    /// The lease was granted again after its holder released it.
    RegrantedAfterRelease,
    /// `acquire` found the lease held.
    AcquireRefused,
    /// A renewal succeeded.
    Renewed,
    /// A renewal was refused (the lease expired, or the caller never held it).
    RenewRefused,
    /// A release was refused.
    ReleaseRefused,
    /// An elector trusted its lease (`leadership()` returned `Some`).
    LeaderTrusted,
    /// A leader stepped down because its clock said the lease could no longer be trusted,
    /// after a higher token had been granted to someone else: the stale leader was refused.
    StaleLeaderRefused,
    /// `leadership()` answered (trusted) while the node's renewal was in flight: after the
    /// store renewed, before the elector applied the answer.
    TrustedDuringRenewal,
    /// The store renewed the node's lease, and the node resigned before the answer reached
    /// it: the answer must not make it lead again.
    RenewalAnsweredAfterResign,
    /// The node's renewal reached the store after its resignation released the lease, and
    /// was refused.
    RenewalAfterResignRefused,
    /// Another node was granted the lease after the node resigned, while its renewal was in
    /// flight.
    SuccessorDuringRenewal,
    /// A write was accepted by storage.
    WriteAccepted,
}

/// The races seen so far, one bit per [`Race`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen(u16);

impl Seen {
    fn add(&mut self, race: Race) {
        self.0 |= 1 << race as u16;
    }

    fn has(self, race: Race) -> bool {
        self.0 & (1 << race as u16) != 0
    }

    fn union(self, other: Seen) -> Seen {
        Seen(self.0 | other.0)
    }
}

thread_local! {
    static EXECUTIONS: Cell<u64> = const { Cell::new(0) };
    static SEEN: Cell<Seen> = const { Cell::new(Seen(0)) };
}

/// Explores `model` with at most `preemptions` preemptions per execution (`None`: every
/// interleaving); panics on the first violated check. Returns the number of executions and the
/// races seen across all of them.
fn explore(
    name: &str,
    preemptions: Option<usize>,
    model: impl Fn() -> Seen + Send + Sync + 'static,
) -> (u64, Seen) {
    EXECUTIONS.with(|n| n.set(0));
    SEEN.with(|s| s.set(Seen::default()));
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemptions;
    let start = WallClock::now();
    builder.check(move || {
        EXECUTIONS.with(|n| n.set(n.get() + 1));
        let seen = model();
        SEEN.with(|s| s.set(s.get().union(seen)));
    });
    let executions = EXECUTIONS.with(Cell::get);
    let bound = preemptions.map_or_else(
        || "no preemption bound".to_owned(),
        |b| format!("preemption bound {b}"),
    );
    eprintln!(
        "loom {name}: {bound}, {executions} executions, {:.1?}",
        start.elapsed()
    );
    (executions, SEEN.with(Cell::get))
}

/// Explores `model` and asserts that every race in `wanted` happened in some execution.
fn explore_expecting(
    name: &str,
    preemptions: Option<usize>,
    wanted: &[Race],
    model: impl Fn() -> Seen + Send + Sync + 'static,
) {
    let (executions, seen) = explore(name, preemptions, model);
    let missing: Vec<Race> = wanted.iter().copied().filter(|&r| !seen.has(r)).collect();
    assert!(
        missing.is_empty(),
        "{name}: no interleaving out of {executions} exercised {missing:?}; the checks passed \
         vacuously for them"
    );
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// The lease store on its own.

/// The TTL every node asks the store for in the store scenarios.
const TTL_MS: u64 = 2;

/// One store call a node makes. `Renew` and `Release` present the token of the node's last
/// grant, or guess token 1 if it never got one (the store must refuse a guess by a non-holder).
#[derive(Clone, Copy, Debug)]
enum Step {
    Acquire,
    Renew,
    Release,
}

/// The store's clock: the shared [`ManualClock`], each reading also remembered on the reading
/// (loom) thread. The store reads its clock once per operation, inside its lock, and judges
/// the operation at that reading ("every operation takes effect at one point inside its
/// critical section, where it also reads the clock"), so the reading a node finds after a call
/// is the store time of that call. `check_told` cross-checks it against the expiry of every
/// grant and renewal the node was told about.
#[derive(Clone, Debug)]
struct StoreClock(ManualClock);

impl Clock for StoreClock {
    fn now(&self) -> Instant {
        let t = self.0.now();
        LAST_READING.with(|r| r.set(Some(t)));
        t
    }
}

loom::thread_local! {
    static LAST_READING: Cell<Option<Instant>> = Cell::new(None);
}

/// The store time of the store call this thread just made.
fn call_time() -> Instant {
    LAST_READING
        .with(Cell::take)
        .expect("the store did not read its clock")
}

/// What the store told a node, with the store time the call took effect at.
type Told = Vec<(Instant, Outcome)>;

/// What the store told a node.
#[derive(Clone, Debug)]
enum Outcome {
    Acquire(Result<Lease, LeaseError>),
    Renew(FencingToken, Result<Lease, LeaseError>),
    Release(FencingToken, Result<(), LeaseError>),
}

#[derive(Clone, Copy, Debug)]
struct StoreScenario {
    /// One thread per node, each running its script.
    nodes: &'static [&'static [Step]],
    /// Node 0 is granted the lease (token 1, at time 0) before the threads start.
    preheld: bool,
    /// The model's main thread advances the clock by these many milliseconds, one step each,
    /// while the nodes run.
    ticks: &'static [u64],
    deviation: Option<Deviation>,
}

/// Runs `scenario` once (one interleaving, under loom) and checks the store's log against what
/// the nodes were told; panics with the log on a violation.
fn run_store(scenario: StoreScenario) -> Seen {
    let clock = ManualClock::new();
    let log = EventLog::new();
    let store = Arc::new(
        InMemoryLeaseStore::new(StoreClock(clock.clone()))
            .with_observer(log.clone())
            .with_deviation(scenario.deviation),
    );
    let mut preheld = Vec::new();
    if scenario.preheld {
        let lease = store
            .acquire(NodeId(0), ms(TTL_MS))
            .expect("the lease starts free");
        preheld.push((call_time(), Outcome::Acquire(Ok(lease))));
    }
    let nodes: Vec<_> = scenario
        .nodes
        .iter()
        .enumerate()
        .map(|(i, &script)| {
            let node = NodeId(u32::try_from(i).unwrap());
            let store = Arc::clone(&store);
            let mut outcomes = if i == 0 { preheld.clone() } else { Vec::new() };
            thread::spawn(move || {
                let mut token = outcomes.iter().find_map(|o| match o {
                    (_, Outcome::Acquire(Ok(l))) => Some(l.token),
                    _ => None,
                });
                for step in script {
                    let presented = token.unwrap_or(FencingToken::new(1));
                    let outcome = match step {
                        Step::Acquire => {
                            let r = store.acquire(node, ms(TTL_MS));
                            if let Ok(l) = &r {
                                token = Some(l.token);
                            }
                            Outcome::Acquire(r)
                        }
                        Step::Renew => {
                            Outcome::Renew(presented, store.renew(node, presented, ms(TTL_MS)))
                        }
                        Step::Release => {
                            Outcome::Release(presented, store.release(node, presented))
                        }
                    };
                    outcomes.push((call_time(), outcome));
                }
                (node, outcomes)
            })
        })
        .collect();
    // The model's own thread drives the clock: a spawned driver would reach the same orders
    // of ticks and store calls, at the cost of one more thread (and preemption budget) per
    // execution.
    for &tick in scenario.ticks {
        clock.advance(ms(tick));
    }
    let told: Vec<(NodeId, Told)> = nodes.into_iter().map(|h| h.join().unwrap()).collect();
    let events = log.events();
    let mut seen = Seen::default();
    let verdict = check_store_log(&events, TTL_MS, &mut seen)
        .and_then(|held| check_told(&events, &told, &held, &mut seen));
    if let Err(violation) = verdict {
        panic!("{violation}\n{}", render(&events, &told));
    }
    seen
}

/// The store's time at a grant or renewal that set `expires_at` for `ttl_ms`.
fn store_time(expires_at: Instant, ttl_ms: u64, i: usize) -> Result<Instant, String> {
    expires_at
        .as_millis()
        .checked_sub(ttl_ms)
        .map(Instant::from_millis)
        .ok_or_else(|| format!("event {i}: expiry {expires_at} is earlier than the TTL {ttl_ms}ms"))
}

/// The store time of grant or renewal `i` (see [`store_time`]), which must not be earlier than
/// `time`, the latest one before it; moves `time` on to it.
fn advance(
    time: &mut Instant,
    expires_at: Instant,
    ttl_ms: u64,
    i: usize,
) -> Result<Instant, String> {
    let at = store_time(expires_at, ttl_ms, i)?;
    if at < *time {
        return Err(format!(
            "store time goes back: event {i} acts at {at}, after an event at {time}"
        ));
    }
    *time = at;
    Ok(at)
}

/// Walks the store's events (others are skipped) in log order and checks the lease-store
/// claims. Returns every lease the store held (each grant and renewal), for checking refusals.
fn check_store_log(events: &[Event], ttl_ms: u64, seen: &mut Seen) -> Result<Vec<Lease>, String> {
    let mut last_token: Option<FencingToken> = None;
    // The lease as the log leaves it: the last one granted or renewed, unless released.
    let mut lease: Option<Lease> = None;
    // The latest store time the log proves: times of grants and renewals never go back.
    let mut time = Instant::ZERO;
    let mut held = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match *event {
            Event::Granted {
                node,
                token,
                expires_at,
            } => {
                let at = advance(&mut time, expires_at, ttl_ms, i)?;
                if let Some(last) = last_token.filter(|&last| token <= last) {
                    return Err(format!(
                        "{FENCING_TOKENS_MONOTONIC}: event {i} grants {token} to {node}, but \
                         {last} was granted before"
                    ));
                }
                match lease {
                    Some(l) if at < l.expires_at => {
                        return Err(format!(
                            "one unexpired lease at a time: event {i} grants the lease to {node} \
                             at {at}, while {}'s lease with {} is live until {}",
                            l.holder, l.token, l.expires_at
                        ));
                    }
                    Some(_) => seen.add(Race::RegrantedAfterExpiry),
                    None if last_token.is_some() => seen.add(Race::RegrantedAfterRelease),
                    None => {}
                }
                last_token = Some(token);
                let granted = Lease {
                    holder: node,
                    token,
                    expires_at,
                };
                lease = Some(granted);
                held.push(granted);
            }
            Event::Renewed {
                node,
                token,
                expires_at,
            } => {
                let at = advance(&mut time, expires_at, ttl_ms, i)?;
                match lease {
                    Some(l) if l.holder == node && l.token == token && at < l.expires_at => {}
                    _ => {
                        return Err(format!(
                            "renewal only by the live holder: event {i} renews {node}'s lease \
                             with {token} at {at}, but the current lease is {lease:?}"
                        ));
                    }
                }
                let renewed = Lease {
                    holder: node,
                    token,
                    expires_at,
                };
                lease = Some(renewed);
                held.push(renewed);
                seen.add(Race::Renewed);
            }
            Event::Released { node, token } => {
                // The release's own time is not in the log, but it is at least `time`: a lease
                // that had expired by then cannot have been released.
                match lease {
                    Some(l) if l.holder == node && l.token == token && time < l.expires_at => {}
                    _ => {
                        return Err(format!(
                            "release only by the live holder: event {i} releases {node}'s lease \
                             with {token} at {time} or later, but the current lease is {lease:?}"
                        ));
                    }
                }
                lease = None;
            }
            // check-then-set's read; its write is checked as the `Granted` that follows.
            Event::ReadFree { .. } => {}
            // An elector's or storage's event: not the store's.
            Event::Leading { .. }
            | Event::Trusted { .. }
            | Event::SteppedDown { .. }
            | Event::Write { .. } => {}
        }
    }
    Ok(held)
}

/// Checks what the nodes were told against the log: each success is one event and each event
/// one success, at the store time the node's call took effect; a refused acquisition names a
/// lease the store held and that was live at the refusal; a release took effect before the
/// lease it released expired; other refusals echo the request.
fn check_told(
    events: &[Event],
    told: &[(NodeId, Told)],
    held: &[Lease],
    seen: &mut Seen,
) -> Result<(), String> {
    let key = |l: &Lease| (l.token, l.holder, l.expires_at);
    let (mut logged_grants, mut logged_renewals, mut logged_releases) = (vec![], vec![], vec![]);
    // The expiry of each token's lease as the log leaves it, and of each released one at its
    // release.
    let mut expiry: BTreeMap<FencingToken, Instant> = BTreeMap::new();
    for event in events {
        match *event {
            Event::Granted {
                node,
                token,
                expires_at,
            } => {
                logged_grants.push((token, node, expires_at));
                expiry.insert(token, expires_at);
            }
            Event::Renewed {
                node,
                token,
                expires_at,
            } => {
                logged_renewals.push((token, node, expires_at));
                expiry.insert(token, expires_at);
            }
            Event::Released { node, token } => logged_releases.push((token, node, expiry[&token])),
            _ => {}
        }
    }
    let (mut grants, mut renewals, mut releases) = (vec![], vec![], vec![]);
    for (node, outcomes) in told {
        let node = *node;
        for (at, outcome) in outcomes {
            let at = *at;
            match outcome {
                Outcome::Acquire(Ok(l)) | Outcome::Renew(_, Ok(l))
                    if l.holder != node || l.expires_at != at.saturating_add(ms(TTL_MS)) =>
                {
                    return Err(format!("{node} was told at {at} that it holds {l:?}"));
                }
                Outcome::Renew(token, Ok(l)) if l.token != *token => {
                    return Err(format!(
                        "{node} renewed {token} and was told it holds {l:?}"
                    ));
                }
                Outcome::Acquire(Ok(l)) => grants.push(key(l)),
                Outcome::Renew(_, Ok(l)) => renewals.push(key(l)),
                Outcome::Release(token, Ok(())) => releases.push((*token, node, at)),
                Outcome::Acquire(Err(LeaseError::Held(l))) => {
                    if !held.contains(l) || at >= l.expires_at {
                        return Err(format!(
                            "{node}'s acquire at {at} was refused with {l:?}, which was not a \
                             live lease of the store's then"
                        ));
                    }
                    seen.add(Race::AcquireRefused);
                }
                Outcome::Renew(token, Err(LeaseError::NotHolder { node: n, token: t }))
                    if (*n, t) == (node, token) =>
                {
                    seen.add(Race::RenewRefused);
                }
                Outcome::Release(token, Err(LeaseError::NotHolder { node: n, token: t }))
                    if (*n, t) == (node, token) =>
                {
                    seen.add(Race::ReleaseRefused);
                }
                other => return Err(format!("{node} was told {other:?}")),
            }
        }
    }
    for (what, mut logged, mut said) in [
        ("grants", logged_grants, grants),
        ("renewals", logged_renewals, renewals),
    ] {
        logged.sort_unstable();
        said.sort_unstable();
        if logged != said {
            return Err(format!(
                "the log's {what} {logged:?} are not those the nodes were told {said:?}"
            ));
        }
    }
    logged_releases.sort_unstable();
    releases.sort_unstable();
    let logged: Vec<_> = logged_releases.iter().map(|&(t, n, _)| (t, n)).collect();
    let said: Vec<_> = releases.iter().map(|&(t, n, _)| (t, n)).collect();
    if logged != said {
        return Err(format!(
            "the log's releases {logged:?} are not those the nodes were told {said:?}"
        ));
    }
    for (&(token, node, expires_at), &(.., at)) in logged_releases.iter().zip(&releases) {
        if at >= expires_at {
            return Err(format!(
                "release only by the live holder: {node} released its lease with {token} at \
                 {at}, but it expired at {expires_at}"
            ));
        }
    }
    Ok(())
}

fn render(events: &[Event], told: &[(NodeId, Told)]) -> String {
    let mut out = String::from("log:\n");
    for (i, e) in events.iter().enumerate() {
        writeln!(out, "  {i}: {e}").unwrap();
    }
    for (node, outcomes) in told {
        writeln!(out, "{node} was told: {outcomes:?}").unwrap();
    }
    out
}

use Step::{Acquire, Release, Renew};

/// Two nodes race for a free lease while the clock runs it out.
const RACING_ACQUIRERS: StoreScenario = StoreScenario {
    nodes: &[&[Acquire, Acquire, Release], &[Acquire, Acquire, Release]],
    preheld: false,
    ticks: &[1, 1],
    deviation: None,
};

/// Node 0 holds the lease and renews it while node 1 tries to take it and the clock runs.
const RENEWAL_VS_EXPIRY_AND_RIVAL: StoreScenario = StoreScenario {
    nodes: &[&[Renew, Renew, Release], &[Acquire, Acquire]],
    preheld: true,
    ticks: &[1, 1],
    deviation: None,
};

/// Three nodes pass the lease on by release only.
const THREE_NODES_HAND_OVER: StoreScenario = StoreScenario {
    nodes: &[
        &[Acquire, Release],
        &[Acquire, Release],
        &[Acquire, Release],
    ],
    preheld: false,
    ticks: &[],
    deviation: None,
};

/// The smallest race for a free lease: two nodes, one acquisition each, no clock.
const TWO_ACQUIRERS: StoreScenario = StoreScenario {
    nodes: &[&[Acquire], &[Acquire]],
    preheld: false,
    ticks: &[],
    deviation: None,
};

/// Two nodes race for a free lease while the clock runs it out: each acquires, acquires again
/// (a retry for the loser, a re-acquire for the winner, which the store grants afresh only if
/// the lease expired) and releases. Every token has one holder, tokens increase, and a lease is
/// granted only when the previous one was released or had expired.
/// Bound 3: 19,481 executions, 1.4s. (Bound 4: 74,654 executions, 6.5s.)
#[test]
fn racing_acquirers_get_one_holder_per_token() {
    explore_expecting(
        "racing_acquirers",
        Some(3),
        &[
            Race::AcquireRefused,
            Race::RegrantedAfterExpiry,
            Race::RegrantedAfterRelease,
            Race::ReleaseRefused,
        ],
        || run_store(RACING_ACQUIRERS),
    );
}

/// The holder renews twice and releases while a rival keeps acquiring and the clock advances:
/// a renewal succeeds only while the lease is live (one at time 2, the first expiry, is
/// refused), the rival gets the lease only after expiry or release, and a release of a lease
/// that expired or changed hands is refused.
/// Bound 4: 39,406 executions, 2.9s. (Bound 5: 107,054 executions, 8.3s.)
#[test]
fn renewal_succeeds_only_for_the_live_holder() {
    explore_expecting(
        "renewal_vs_expiry_and_rival",
        Some(4),
        &[
            Race::Renewed,
            Race::RenewRefused,
            Race::AcquireRefused,
            Race::RegrantedAfterExpiry,
            Race::RegrantedAfterRelease,
            Race::ReleaseRefused,
        ],
        || run_store(RENEWAL_VS_EXPIRY_AND_RIVAL),
    );
}

/// Three nodes each acquire and release, with no clock: the lease passes from hand to hand by
/// release only, each grant with a higher token; a node that never got the lease has its
/// release (with a guessed token) refused.
/// Bound 4: 21,224 executions, 2.2s. (Bound 5: 66,738 executions, 8.4s.)
#[test]
fn three_nodes_hand_the_lease_over_by_release() {
    explore_expecting(
        "three_nodes_hand_over",
        Some(4),
        &[
            Race::AcquireRefused,
            Race::RegrantedAfterRelease,
            Race::ReleaseRefused,
        ],
        || run_store(THREE_NODES_HAND_OVER),
    );
}

/// loom finds `check-then-set`: both nodes read the lease free (token 1 next), then both
/// write themselves in, so token 1 is granted twice. Property `FencingTokensMonotonic`. The
/// fixed store passes the same two acquisitions, exhaustively.
/// No bound (every interleaving): the fixed store passes all 27 executions in a few ms; loom
/// finds the bug in execution 10.
#[test]
fn loom_finds_check_then_set() {
    explore_expecting("two_acquirers", None, &[Race::AcquireRefused], || {
        run_store(TWO_ACQUIRERS)
    });
    let broken = StoreScenario {
        deviation: Some(Deviation::CheckThenSet),
        ..TWO_ACQUIRERS
    };
    let found =
        std::panic::catch_unwind(|| explore("check-then-set", None, move || run_store(broken)));
    let payload = found.expect_err("loom explored every interleaving and found no violation");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    eprintln!(
        "loom check-then-set: violation found in execution {}",
        EXECUTIONS.with(Cell::get)
    );
    // Both nodes read the lease free before either wrote, then both were granted token 1.
    assert!(
        message.contains(&format!(
            "{FENCING_TOKENS_MONOTONIC}: event 3 grants token 1 to n"
        )),
        "{message}"
    );
    assert_eq!(
        message
            .matches("reads the lease: free; it will write itself in with token 1")
            .count(),
        2,
        "{message}"
    );
    assert_eq!(
        message.matches("token: FencingToken(1)").count(),
        2,
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// Two electors on one store.

const LEASE_MS: u64 = 3;
const DRIFT_MS: u64 = 1;

/// One elector call a node makes.
#[derive(Clone, Copy, Debug)]
enum ElectorStep {
    Heartbeat,
    Leadership,
}

/// What an elector's calls returned, in order.
type ElectorTold = Vec<(ElectorStep, Option<Leadership>)>;

/// Two electors on one store and one clock (their own clocks are the store's: no drift, so
/// the margin is pure safety) run `script` each while the model's main thread advances the
/// clock by `ticks`.
fn run_electors(script: &'static [ElectorStep], ticks: &'static [u64]) -> Seen {
    let config = ElectorConfig::new(ms(LEASE_MS), ms(1), ms(DRIFT_MS)).unwrap();
    let clock = ManualClock::new();
    let log = EventLog::new();
    let store = Arc::new(InMemoryLeaseStore::new(clock.clone()).with_observer(log.clone()));
    let nodes: Vec<_> = (0..2)
        .map(|i| {
            let elector = LeaderElector::new(NodeId(i), Arc::clone(&store), clock.clone(), config)
                .with_observer(log.clone());
            thread::spawn(move || {
                let told: ElectorTold = script
                    .iter()
                    .map(|&step| {
                        let l = match step {
                            ElectorStep::Heartbeat => elector.heartbeat().unwrap(),
                            ElectorStep::Leadership => elector.leadership(),
                        };
                        (step, l)
                    })
                    .collect();
                (NodeId(i), told)
            })
        })
        .collect();
    // The model's own thread drives the clock.
    for &tick in ticks {
        clock.advance(ms(tick));
    }
    let told: Vec<_> = nodes.into_iter().map(|h| h.join().unwrap()).collect();
    let events = log.events();
    let mut seen = Seen::default();
    let verdict = check_store_log(&events, LEASE_MS, &mut seen)
        .and_then(|_| check_leaders(&events, &told, &mut seen));
    if let Err(violation) = verdict {
        let mut out = String::from("log:\n");
        for (i, e) in events.iter().enumerate() {
            writeln!(out, "  {i}: {e}").unwrap();
        }
        panic!("{violation}\n{out}nodes were told: {told:?}");
    }
    seen
}

/// Checks the electors' beliefs against the store's grants in one log.
fn check_leaders(
    events: &[Event],
    told: &[(NodeId, ElectorTold)],
    seen: &mut Seen,
) -> Result<(), String> {
    // The store's latest (time, expiry) for each (holder, token).
    let mut store: BTreeMap<(NodeId, FencingToken), (Instant, Instant)> = BTreeMap::new();
    // What each node believes: the token it leads with and until when it trusts it.
    let mut believed: BTreeMap<NodeId, (FencingToken, Instant)> = BTreeMap::new();
    let mut grants: Vec<(usize, FencingToken, Instant)> = Vec::new();
    let mut trusted: Vec<(usize, NodeId, FencingToken, Instant)> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match *event {
            Event::Granted {
                node,
                token,
                expires_at,
            }
            | Event::Renewed {
                node,
                token,
                expires_at,
            } => {
                let at = store_time(expires_at, LEASE_MS, i)?;
                store.insert((node, token), (at, expires_at));
                if matches!(event, Event::Granted { .. }) {
                    grants.push((i, token, at));
                }
            }
            Event::Leading {
                node,
                token,
                local,
                trusted_until,
            } => {
                let Some(&(at, expires_at)) = store.get(&(node, token)) else {
                    return Err(format!(
                        "event {i}: {node} leads with {token}, which the store never gave it"
                    ));
                };
                let expected = local.saturating_add(ms(LEASE_MS - DRIFT_MS));
                if local > at || trusted_until != expected || trusted_until >= expires_at {
                    return Err(format!(
                        "event {i}: {node} asked at {local} and trusts {token} until \
                         {trusted_until} (expected {expected}); the store acted at {at} and \
                         holds the lease until {expires_at}"
                    ));
                }
                believed.insert(node, (token, trusted_until));
            }
            Event::Trusted { node, token, local } => match believed.get(&node) {
                Some(&(t, until)) if t == token && local < until => {
                    trusted.push((i, node, token, local));
                    seen.add(Race::LeaderTrusted);
                }
                other => {
                    return Err(format!(
                        "event {i}: {node} trusts {token} at {local}, but it believes {other:?}"
                    ));
                }
            },
            Event::SteppedDown {
                node,
                token,
                reason,
            } => {
                if believed.remove(&node).map(|b| b.0) != Some(token) {
                    return Err(format!(
                        "event {i}: {node} steps down from {token}, which it did not lead with"
                    ));
                }
                let superseded = grants.iter().any(|&(_, t, _)| t > token);
                if reason == StepDownReason::LeaseUntrusted && superseded {
                    seen.add(Race::StaleLeaderRefused);
                }
            }
            Event::Released { .. } | Event::ReadFree { .. } | Event::Write { .. } => {}
        }
    }
    // AtMostOneLeader, with one clock for everyone: no node trusts a token at a time after a
    // higher token was granted, nor at the same time if the grant came first in the log (a
    // resignation releases and the next grant follows within the same millisecond).
    for &(i, node, token, local) in &trusted {
        for &(j, higher, granted_at) in &grants {
            if higher > token && (local > granted_at || (local == granted_at && j < i)) {
                return Err(format!(
                    "{AT_MOST_ONE_LEADER}: event {i}: {node} trusts {token} at {local}, but \
                     {higher} was granted at {granted_at} (event {j})"
                ));
            }
        }
    }
    // Each `Some` from `leadership()` is one `Trusted` event of that node.
    for (node, steps) in told {
        let said = steps
            .iter()
            .filter(|(step, l)| matches!(step, ElectorStep::Leadership) && l.is_some())
            .count();
        let logged = trusted.iter().filter(|t| t.1 == *node).count();
        if said != logged {
            return Err(format!(
                "{node}'s leadership() said Some {said} times, the log has {logged} `Trusted`"
            ));
        }
    }
    Ok(())
}

/// Two electors heartbeat and check their leadership while the clock runs the lease out: a
/// node leads only with a lease the store granted or renewed to it, trusts it for less than
/// the store holds it, and (`AtMostOneLeader`) never trusts a token at or after the time a
/// higher one was granted; the old leader, checking after the failover, steps down.
/// Bound 2: 113,855 executions, 12.5s (76,523 while the elector held its lock across the
/// store's round trip). (Bound 3: well over 650,000 executions: too slow for the suite.)
#[test]
fn electors_never_trust_a_superseded_lease() {
    explore_expecting(
        "electors_vs_expiry",
        Some(2),
        &[
            Race::LeaderTrusted,
            Race::Renewed,
            Race::RegrantedAfterExpiry,
            Race::StaleLeaderRefused,
        ],
        electors_vs_expiry,
    );
}

/// Each elector heartbeats (campaigns), checks its leadership, heartbeats again (renews, steps
/// down or campaigns) and checks again; the clock moves 1 ms, then 2.
fn electors_vs_expiry() -> Seen {
    use ElectorStep::{Heartbeat, Leadership};
    run_electors(&[Heartbeat, Leadership, Heartbeat, Leadership], &[1, 2])
}

/// The `AtMostOneLeader` check on its own (no loom): a log in which the store hands token 2 to
/// n1 at 1 ms while n0's token 1 is live until 3 ms, and n0 then trusts token 1 at 1 ms, is
/// flagged. (The store-log check flags the early grant too; this runs the leader check alone,
/// because in the loom scenarios the narrower checks always fire first.)
#[test]
fn at_most_one_leader_check_flags_a_stale_leader() {
    let (n0, n1) = (NodeId(0), NodeId(1));
    let (t1, t2) = (FencingToken::new(1), FencingToken::new(2));
    let at = Instant::from_millis;
    let events = [
        Event::Granted {
            node: n0,
            token: t1,
            expires_at: at(LEASE_MS),
        },
        Event::Leading {
            node: n0,
            token: t1,
            local: at(0),
            trusted_until: at(LEASE_MS - DRIFT_MS),
        },
        Event::Granted {
            node: n1,
            token: t2,
            expires_at: at(1 + LEASE_MS),
        },
        Event::Trusted {
            node: n0,
            token: t1,
            local: at(1),
        },
    ];
    let leadership = Leadership {
        token: t1,
        trusted_until: at(LEASE_MS - DRIFT_MS),
    };
    let told = [(n0, vec![(ElectorStep::Leadership, Some(leadership))])];
    let verdict = check_leaders(&events, &told, &mut Seen::default());
    let message = verdict.expect_err("n0 trusts token 1 after token 2 was granted");
    assert!(
        message.starts_with(&format!(
            "{AT_MOST_ONE_LEADER}: event 3: n0 trusts token 1 at 1ms"
        )),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// One elector shared by its node's threads.

/// Node 0's elector, shared by three threads at once, while node 1 waits to take over: a
/// heartbeat thread renews (the renewal is due), a writer thread checks `leadership()` and
/// writes to fenced storage with its token, and a third thread resigns node 0 and then
/// campaigns for node 1, which writes if it leads. Time stands still at 1 ms while they run
/// (node 0 was granted the lease at 0 ms and renews every 1 ms; every lease is trusted for
/// 2 ms), so a node believes it leads exactly from its `Leading` event to its `SteppedDown`.
///
/// Checked on the log, in every interleaving: `AtMostOneLeader` (never two nodes between
/// their `Leading` and `SteppedDown` at once: a renewal racing the resignation does not make
/// the resigned node lead again next to its successor), every `Trusted` within its node's
/// belief, `StaleTokenWriteRejected` on storage's writes, and the store's own claims (as in
/// the store scenarios). And the races happened: `leadership()` answered while the renewal
/// was in flight (the elector's lock is not held across the store call), the store renewed
/// and the node resigned before the answer arrived, a renewal reached the store after the
/// release and was refused, node 1 was granted the lease while node 0's renewal was in
/// flight.
/// Bound 3: 12,190 executions, 0.9s. (Bound 4: 85,967 executions, 6.5s.)
#[test]
fn shared_elector_does_not_lead_again_after_resigning() {
    explore_expecting(
        "shared_elector",
        Some(3),
        &[
            Race::TrustedDuringRenewal,
            Race::RenewalAnsweredAfterResign,
            Race::RenewalAfterResignRefused,
            Race::SuccessorDuringRenewal,
            Race::RegrantedAfterRelease,
            Race::WriteAccepted,
        ],
        shared_elector,
    );
}

/// One execution of [`shared_elector_does_not_lead_again_after_resigning`].
fn shared_elector() -> Seen {
    let config = ElectorConfig::new(ms(LEASE_MS), ms(1), ms(DRIFT_MS)).unwrap();
    let clock = ManualClock::new();
    let log = EventLog::new();
    let store = Arc::new(InMemoryLeaseStore::new(clock.clone()).with_observer(log.clone()));
    let storage = Arc::new(FencedStorage::new().with_observer(log.clone()));
    let elector = |node| {
        let store = KeepsRenewals(Arc::clone(&store));
        LeaderElector::new(NodeId(node), store, clock.clone(), config).with_observer(log.clone())
    };
    let a = Arc::new(elector(0));
    let b = elector(1);
    a.campaign().unwrap().expect("the lease starts free");
    clock.advance(ms(1));
    let heartbeat = {
        let a = Arc::clone(&a);
        thread::spawn(move || (a.heartbeat().unwrap(), RENEWAL.with(Cell::take)))
    };
    let writer = {
        let (a, storage) = (Arc::clone(&a), Arc::clone(&storage));
        thread::spawn(move || {
            if let Some(l) = a.leadership() {
                let _ = storage.write(NodeId(0), l.token, 0);
            }
        })
    };
    let successor = {
        let (a, storage) = (Arc::clone(&a), Arc::clone(&storage));
        thread::spawn(move || {
            a.resign().unwrap();
            if let Some(l) = b.campaign().unwrap() {
                let _ = storage.write(NodeId(1), l.token, 1);
            }
        })
    };
    let (beat, renewal) = heartbeat.join().unwrap();
    writer.join().unwrap();
    successor.join().unwrap();
    let events = log.events();
    let mut seen = Seen::default();
    let verdict = check_store_log(&events, LEASE_MS, &mut seen)
        .and_then(|_| check_one_believer(&events, &mut seen))
        .and_then(|()| check_writes(&events, &mut seen))
        .and_then(|()| match renewal {
            // Time stands still: only the resignation's release can make the store refuse.
            Some(Err(LeaseError::NotHolder { .. })) => {
                seen.add(Race::RenewalAfterResignRefused);
                match beat {
                    None => Ok(()),
                    Some(l) => Err(format!(
                        "the store refused node 0's renewal, and its heartbeat said it leads \
                         with {l:?}"
                    )),
                }
            }
            _ => Ok(()),
        });
    if let Err(violation) = verdict {
        let mut out = String::from("log:\n");
        for (i, e) in events.iter().enumerate() {
            writeln!(out, "  {i}: {e}").unwrap();
        }
        panic!("{violation}\n{out}node 0's heartbeat returned {beat:?}");
    }
    seen
}

/// `AtMostOneLeader` while time stands still: a node believes it leads from its `Leading`
/// event until its `SteppedDown` (its trust outlasts the run), so no two nodes may be between
/// the two at once; each `Trusted` falls inside its node's belief, with its token. Notes the
/// races of the shared-elector scenario.
fn check_one_believer(events: &[Event], seen: &mut Seen) -> Result<(), String> {
    let mut believed: BTreeMap<NodeId, FencingToken> = BTreeMap::new();
    // Node 0's renewal: the store renewed it, and its answer has not been applied yet.
    let mut renewal_in_flight = false;
    for (i, event) in events.iter().enumerate() {
        match *event {
            Event::Leading { node, token, .. } => {
                if node == NodeId(0) {
                    renewal_in_flight = false;
                }
                believed.insert(node, token);
                if believed.len() > 1 {
                    return Err(format!(
                        "{AT_MOST_ONE_LEADER}: event {i}: {node} leads with {token} while \
                         {believed:?} all believe they lead"
                    ));
                }
            }
            Event::SteppedDown {
                node,
                token,
                reason,
            } => {
                if believed.remove(&node) != Some(token) {
                    return Err(format!(
                        "event {i}: {node} steps down from {token}, which it did not lead with"
                    ));
                }
                if node == NodeId(0) && reason == StepDownReason::Resigned && renewal_in_flight {
                    seen.add(Race::RenewalAnsweredAfterResign);
                }
            }
            Event::Trusted { node, token, .. } => {
                if believed.get(&node) != Some(&token) {
                    return Err(format!(
                        "event {i}: {node} trusts {token}, but it believes {:?}",
                        believed.get(&node)
                    ));
                }
                if renewal_in_flight {
                    seen.add(Race::TrustedDuringRenewal);
                }
            }
            Event::Renewed {
                node: NodeId(0), ..
            } => renewal_in_flight = true,
            Event::Granted { node, .. } if node == NodeId(1) && renewal_in_flight => {
                seen.add(Race::SuccessorDuringRenewal);
            }
            _ => {}
        }
    }
    Ok(())
}

loom::thread_local! {
    /// The answer to the last renewal this thread sent to the store.
    static RENEWAL: Cell<Option<Result<Lease, LeaseError>>> = Cell::new(None);
}

/// The store, with each renewal's answer kept on the thread that asked (no extra
/// synchronisation, so no extra interleavings).
struct KeepsRenewals(Arc<InMemoryLeaseStore<ManualClock>>);

impl LeaseStore for KeepsRenewals {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        self.0.acquire(node, ttl)
    }
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        let answer = self.0.renew(node, token, ttl);
        RENEWAL.with(|r| r.set(Some(answer.clone())));
        answer
    }
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        self.0.release(node, token)
    }
    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        self.0.current()
    }
}

/// `StaleTokenWriteRejected` on storage's log: no write is accepted with a token lower than
/// one accepted before.
fn check_writes(events: &[Event], seen: &mut Seen) -> Result<(), String> {
    let mut highest: Option<FencingToken> = None;
    for (i, event) in events.iter().enumerate() {
        if let Event::Write {
            node,
            token,
            accepted: true,
            ..
        } = *event
        {
            if let Some(h) = highest.filter(|&h| token < h) {
                return Err(format!(
                    "StaleTokenWriteRejected: event {i}: storage accepted {node}'s write with \
                     {token} after accepting {h}"
                ));
            }
            highest = highest.max(Some(token));
            seen.add(Race::WriteAccepted);
        }
    }
    Ok(())
}
