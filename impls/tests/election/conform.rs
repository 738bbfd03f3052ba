//! Conformance bites: an implementation bug that every hand-written check of the harness lets
//! through (`AtMostOneLeader`, `StaleTokenWriteRejected`, `FencingTokensMonotonic` and the
//! lease store's contract, `harness::check`), and that replaying the log on the election model
//! (`coordlab_checks::conform::election`) catches, at the step where the bug acts.
//!
//! The runs are sequential, on the real lease store, electors and fenced storage with one
//! `ManualClock` (every node's clock on time). Their logs are committed under
//! `checks/tests/conform/`, where `coordlab conform` reads them (`checks/tests/conform_election.rs`);
//! regenerate them with `COORDLAB_BLESS=1 cargo test --release -p coordlab-impls --test
//! election conform`.

use std::time::Duration;

use coordlab_checks::conform::election::{self, Record, RunConfig, Step};
use coordlab_checks::conform::{Divergence, Verdict};
use coordlab_impls::clock::{Clock, ManualClock};
use coordlab_impls::election::{
    ElectorConfig, Event, FencedStorage, FencingToken, InMemoryLeaseStore, LeaderElector, Lease,
    LeaseError, LeaseStore, NodeId, Observer,
};
use coordlab_impls::sync::{Arc, Mutex};

use super::harness::{Scenario, check, render_records};
use super::scenarios;

const NODES: usize = 2;

/// Every event stamped with real time and every node's clock (all on time: one clock).
#[derive(Clone)]
struct Log {
    clock: ManualClock,
    records: Arc<Mutex<Vec<Record>>>,
}

impl Log {
    fn push(&self, step: Step) {
        let now = self.clock.now().as_millis();
        self.records.lock().expect("log lock").push(Record {
            real: now,
            clocks: vec![now; NODES],
            step,
        });
    }

    fn tick(&self) {
        self.clock.advance(Duration::from_millis(1));
        self.push(Step::Tick {
            ms: 1,
            slow: Vec::new(),
        });
    }
}

impl Observer for Log {
    fn observe(&self, event: Event) {
        self.push(Step::Elect(event));
    }
}

/// A lease store client with the bug under test switchable: it renews for the lease plus
/// one millisecond (an off-by-one in the client's TTL arithmetic).
struct Client {
    store: Arc<InMemoryLeaseStore<ManualClock>>,
    renewal_one_ms_too_long: bool,
}

impl LeaseStore for Client {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        self.store.acquire(node, ttl)
    }
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        let ttl = if self.renewal_one_ms_too_long {
            ttl + Duration::from_millis(1)
        } else {
            ttl
        };
        self.store.renew(node, token, ttl)
    }
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        self.store.release(node, token)
    }
    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        self.store.current()
    }
}

/// The scenarios' timing: a 3 ms lease renewed every 1 ms, a 1 ms drift bound.
fn scenario() -> Scenario {
    Scenario {
        nodes: NODES as u32,
        ..scenarios::slow_clocks()
    }
}

/// n0 is granted the lease, writes, renews once and crashes; n1 campaigns every millisecond
/// until it is granted the lease, and writes. With the bug, n0's renewal holds the lease
/// 1 ms longer than the lease it asked for, and n1 takes over 1 ms late.
fn failover(renewal_one_ms_too_long: bool) -> Vec<Record> {
    let clock = ManualClock::new();
    let log = Log {
        clock: clock.clone(),
        records: Arc::new(Mutex::new(Vec::new())),
    };
    let s = scenario();
    let config = ElectorConfig::new(
        Duration::from_millis(s.lease_ms),
        Duration::from_millis(s.renew_every_ms),
        Duration::from_millis(s.drift_ms),
    )
    .unwrap();
    let store = Arc::new(InMemoryLeaseStore::new(clock.clone()).with_observer(log.clone()));
    let storage = FencedStorage::new().with_observer(log.clone());
    let elector = |n: u32| {
        let client = Client {
            store: Arc::clone(&store),
            renewal_one_ms_too_long,
        };
        LeaderElector::new(NodeId(n), client, clock.clone(), config).with_observer(log.clone())
    };
    let (n0, n1) = (elector(0), elector(1));
    n0.campaign().unwrap().expect("the lease is free");
    let l = n0.leadership().expect("n0 trusts its fresh lease");
    storage.write(NodeId(0), l.token, "n0").unwrap();
    log.tick();
    n0.heartbeat().unwrap().expect("n0 renews");
    log.tick();
    log.push(Step::Crash { node: 0 });
    drop(n0);
    let l = loop {
        if let Some(l) = n1.campaign().unwrap() {
            break l;
        }
        log.tick();
    };
    let l = n1.leadership().map_or(l, |now| now);
    storage.write(NodeId(1), l.token, "n1").unwrap();
    log.records.lock().expect("log lock").clone()
}

fn config() -> RunConfig {
    super::harness::run_config(&scenario())
}

fn committed(name: &str, json: &str) {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../checks/tests/conform")
        .join(name);
    if std::env::var_os("COORDLAB_BLESS").is_some() {
        std::fs::write(&file, json).unwrap();
    }
    let on_disk = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with COORDLAB_BLESS=1)", file.display()));
    assert_eq!(
        on_disk,
        json,
        "{} is stale: bless with COORDLAB_BLESS=1",
        file.display()
    );
}

/// The correct run conforms to `election/correct`, and its log is the committed one.
#[test]
fn a_correct_failover_conforms() {
    let records = failover(false);
    assert_eq!(
        check(&records, &scenario()),
        [],
        "{}",
        render_records(&records)
    );
    let verdict = election::check(&config(), "correct", &records).unwrap();
    assert!(
        matches!(verdict, Verdict::Conforms { .. }),
        "{verdict:?}\n{}",
        render_records(&records)
    );
    committed(
        "election-correct.json",
        &election::to_json(&config(), "correct", &records),
    );
}

/// A renewal one millisecond too long: the store holds n0's lease 1 ms past what n0 asked
/// for. No safety property notices (the lease store is only more conservative, n0's elector
/// still trusts its lease for `lease − drift` from its request), and the store's contract as
/// the harness checks it (a renewal renews the live lease, grants never overlap) holds: every
/// hand check passes. The model's store renews for exactly the lease: conformance stops at
/// the renewal, on the lease store's expiry.
#[test]
fn a_renewal_one_ms_too_long_is_caught_at_the_renewal() {
    let records = failover(true);
    let trace = render_records(&records);
    assert_eq!(check(&records, &scenario()), [], "{trace}");
    let d: Divergence = match election::check(&config(), "correct", &records) {
        Ok(Verdict::Diverges(d)) => *d,
        other => panic!("expected a divergence, got {other:?}\n{trace}"),
    };
    assert_eq!(d.step, 6, "{d}\n{trace}");
    assert!(
        matches!(records[d.step - 1].step, Step::Elect(Event::Renewed { .. })),
        "{d}"
    );
    assert_eq!(d.mismatch.field, "lease store expiry", "{d}");
    assert_eq!(
        d.mismatch.implementation, "expires at 5ms, 4 ms from now",
        "{d}"
    );
    committed(
        "election-renewal-one-ms-too-long.json",
        &election::to_json(&config(), "correct", &records),
    );
}

/// A leader that resigns gives its lease back at once: n1 is granted it in the same
/// millisecond, with the next token. The hand checks pass, and the run conforms to
/// `election/correct`, whose `Resign` the mapping takes at the store's release.
#[test]
fn a_resignation_conforms() {
    let clock = ManualClock::new();
    let log = Log {
        clock: clock.clone(),
        records: Arc::new(Mutex::new(Vec::new())),
    };
    let s = scenario();
    let timing = ElectorConfig::new(
        Duration::from_millis(s.lease_ms),
        Duration::from_millis(s.renew_every_ms),
        Duration::from_millis(s.drift_ms),
    )
    .unwrap();
    let store = Arc::new(InMemoryLeaseStore::new(clock.clone()).with_observer(log.clone()));
    let storage = FencedStorage::new().with_observer(log.clone());
    let elector = |n: u32| {
        LeaderElector::new(NodeId(n), Arc::clone(&store), clock.clone(), timing)
            .with_observer(log.clone())
    };
    let (n0, n1) = (elector(0), elector(1));
    n0.campaign().unwrap().expect("the lease is free");
    let l = n0.leadership().expect("n0 trusts its fresh lease");
    storage.write(NodeId(0), l.token, "n0").unwrap();
    log.tick();
    n0.resign().unwrap();
    let l = n1
        .campaign()
        .unwrap()
        .expect("the resigned lease is free at once");
    assert_eq!(l.token, FencingToken::new(2));
    let l = n1.leadership().expect("n1 trusts its lease");
    storage.write(NodeId(1), l.token, "n1").unwrap();
    let records = log.records.lock().expect("log lock").clone();
    let trace = render_records(&records);
    assert_eq!(check(&records, &scenario()), [], "{trace}");
    assert!(
        records
            .iter()
            .any(|r| matches!(r.step, Step::Elect(Event::Released { .. }))),
        "{trace}"
    );
    let verdict = election::check(&config(), "correct", &records).unwrap();
    assert!(
        matches!(verdict, Verdict::Conforms { .. }),
        "{verdict:?}\n{trace}"
    );
}
