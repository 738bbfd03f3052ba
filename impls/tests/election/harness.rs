//! The shared test harness: a world clock with per-node drifting clocks, one node loop, one
//! clock driver, and the election model's properties checked on the implementation's own
//! event log. Used on std threads and under shuttle.
//!
//! A run: `nodes` threads each run `rounds` rounds of the node loop (heartbeat: campaign,
//! renew or step down; then, if the elector says it leads, write to storage with its token)
//! while a driver thread moves real time forward `ticks` times. With `writers` > 0 a node's
//! elector is shared, as its docs intend: the node's thread only heartbeats, and `writers`
//! threads of the same node each run `rounds` rounds of `leadership()` and a fenced write,
//! and resign. Time moves in ticks of `tick_ms`; the scenarios use 1 ms, the API's
//! resolution, so every deadline (an expiry, the end of a lease's trust, a renewal falling
//! due) falls on a tick and an off-by-one-millisecond bug shows. Faults, rolled on the
//! harness's dice (shuttle's random source under shuttle):
//!
//! - **slow clocks**: at each tick, a node's clock may stand still (it falls one tick behind
//!   real time), never more than `drift_ms` behind in all: the drift bound the electors are
//!   configured with;
//! - **clock jumps**: a tick may move real time three ticks at once, so leases run out
//!   between two steps of a node;
//! - **pauses**: a leader that checked its lease and is about to write may stall (GC, VM
//!   pause) until real time has moved `pause_ms` on, then send the write it prepared;
//! - **crashes**: a node may crash at the end of a round, forgetting everything; it restarts
//!   with a fresh elector in its next round (not with `writers`: a crash ends every thread of
//!   a node at once);
//! - **resignations**: a leader may hand its lease back at the end of a round (a writer
//!   thread's round, with `writers`, while the node's heartbeat may be renewing).
//!
//! The lease store reads real time; each elector reads its node's clock. Every component
//! reports its events from inside its own lock to the world, which stamps each with real time
//! and every node's clock under the world's lock (always the innermost lock), so the log is
//! one linear history consistent with each component's own order. The properties, checked on
//! that log after every record:
//!
//! - `AtMostOneLeader`: at no point do two nodes believe they hold a valid lease. A node
//!   believes from its elector's `Leading` event until it steps down or crashes, for as long
//!   as its own clock reads earlier than the `trusted_until` of that event: belief changes
//!   only at records (time moves only at `Tick` records), so checking after every record is
//!   exact.
//! - `StaleTokenWriteRejected`: storage never accepts a token lower than one it accepted.
//! - `FencingTokensMonotonic`: every grant's token is higher than the one before.
//!
//! Conformance (`property::CONFORMS_TO_MODEL`): the whole log is also replayed on the
//! election model (`coordlab_checks::conform::election`, a dev-dependency: the library depends
//! on neither checks nor models): every step an enabled model action of the scenario's
//! variant (its deviation's id, or `correct`), every outcome the one the model's state gives
//! (a grant's token and expiry, a write accepted or rejected, the elector's trust window). A
//! deviation's run must also leave `correct` exactly at the step where its bug acts
//! ([`bug_step`]), or nowhere if the bug never acted. The hand-written checks stay: they are
//! the second opinion. Resignations and the leases an elector hands back are the model's
//! `Resign`; shared electors are the model's `writers` (the run log states the harness's
//! `writers`). A run with a step the mapping does not express is [`Conformance::Unmapped`];
//! the tests require every run of the scenarios to be mapped.
//!
//! And the store's own contract, which the properties rest on (a broken one panics with
//! "lease store contract"): every grant finds the previous lease released or expired at the
//! grant's store time (its expiry minus the lease; every node asks for the same lease), and
//! every renewal renews the current, live lease of its holder and token, so a stale
//! heartbeat — a renewal sent before the lease was lost and arriving after — is never
//! accepted. A refused renewal or release is logged (`RenewRefused`, `ReleaseRefused`, once the
//! store answered) and must not be of a lease still live then.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use coordlab_checks::conform::election::{self, RunConfig};
use coordlab_checks::conform::{ConformError, Verdict};
use coordlab_impls::clock::{Clock, Instant};
use coordlab_impls::election::{
    ElectorConfig, Event, FencedStorage, FencingToken, InMemoryLeaseStore, LeaderElector, Lease,
    LeaseError, LeaseStore, NodeId, Observer,
};
use coordlab_impls::sync::{Arc, Mutex, MutexGuard, thread};
use serde::{Deserialize, Serialize};

use crate::dice::Dice;

#[cfg(shuttle)]
pub use coordlab_impls::election::Deviation;

/// Normal builds compile no deviations (the library's `Deviation` exists only under
/// `cfg(any(test, loom, shuttle))`, and this test crate does not see the library's
/// `cfg(test)`), so here the type is uninhabited and `deviation` is always `None`.
#[cfg(not(shuttle))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deviation {}

/// Property names: the election model's (`models/src/election.rs`), checked here on the
/// implementation's runs.
pub mod property {
    /// No two nodes believe, at the same real time, that they hold a valid lease.
    pub const AT_MOST_ONE_LEADER: &str = "AtMostOneLeader";
    /// Storage never accepts a write whose token is lower than one it already accepted.
    pub const STALE_TOKEN_WRITE_REJECTED: &str = "StaleTokenWriteRejected";
    /// Every grant's token is higher than every token granted before.
    pub const FENCING_TOKENS_MONOTONIC: &str = "FencingTokensMonotonic";
    /// Not a model property: the run is a behaviour of the election model
    /// (`coordlab_checks::conform::election`): of the deviation's bug variant, or of `correct`
    /// without one; and a deviation's run leaves `correct` exactly at the step where its bug
    /// acts ([`super::bug_step`]), or nowhere if the bug never acted.
    pub const CONFORMS_TO_MODEL: &str = "ConformsToModel";
}

/// One scenario's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Node threads.
    pub nodes: u32,
    /// Rounds of the node loop per node.
    pub rounds: u32,
    /// Lease length, ms.
    pub lease_ms: u64,
    /// A leader renews when this long has passed on its clock since its last grant or renewal.
    pub renew_every_ms: u64,
    /// How far a node's clock may fall behind real time, ms (the electors' `max_drift`).
    pub drift_ms: u64,
    /// How many times the driver moves real time.
    pub ticks: u32,
    /// How far each tick moves it, ms.
    pub tick_ms: u64,
    /// Chance, per tick, that real time jumps three ticks at once (every clock with it), in
    /// thousandths: expiry races ahead of the nodes' steps.
    pub jump_per_mille: u32,
    /// Chance, per tick and node, that the node's clock stands still for the tick (while it is
    /// less than `drift_ms` behind), in thousandths.
    pub slow_per_mille: u32,
    /// Chance that a leader about to write pauses first, in thousandths.
    pub pause_per_mille: u32,
    /// How long a pause lasts: until real time has moved this far (or the driver has stopped).
    pub pause_ms: u64,
    /// Chance, per round, that a node crashes at the end of the round, in thousandths. A node
    /// crashes at most once.
    pub crash_per_mille: u32,
    /// Chance, per round, that a leader resigns at the end of the round (hands the lease
    /// back), in thousandths.
    pub resign_per_mille: u32,
    /// Writer threads per node sharing the node's elector with its heartbeat thread (0: the
    /// node's one thread heartbeats and writes). Needs `crash_per_mille` 0.
    pub writers: u32,
    /// The protocol bug to switch on.
    pub deviation: Option<Deviation>,
}

impl Scenario {
    fn elector_config(&self) -> ElectorConfig {
        ElectorConfig::new(
            Duration::from_millis(self.lease_ms),
            Duration::from_millis(self.renew_every_ms),
            Duration::from_millis(self.drift_ms),
        )
        .expect("a scenario's timing is a valid elector configuration")
    }
}

/// A harness step next to the components' own events, and one entry of the run's log (real
/// time, every node's clock, the step): the run log's own types, which `coordlab conform`
/// reads (`coordlab_checks::conform::election`).
pub use coordlab_checks::conform::election::{Record, Step};

/// A property violation found on the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The model's property name.
    pub property: String,
    /// The 1-based record at which it broke.
    pub step: usize,
    /// What broke.
    pub detail: String,
    /// The components it is about, by the names the log uses (`n0`, `lease store`,
    /// `storage`): a counterexample's closing note spans them.
    pub parties: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at step {}: {}",
            self.property, self.step, self.detail
        )
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Violated properties, in log order (`ConformsToModel` last).
    pub violations: Vec<Violation>,
    /// The run's log.
    pub records: Vec<Record>,
    /// How the log replayed on the election model.
    #[serde(skip)]
    pub conformance: Conformance,
}

/// How a run's log replayed on the election model of its variant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Conformance {
    /// Not replayed (a report read back from a file).
    #[default]
    NotChecked,
    /// The run is a behaviour of the model of its variant; for a deviation's run, the step at
    /// which it leaves `correct` (the bug's step), if the bug acted.
    Conforms {
        /// Where a deviation's run left `correct`.
        leaves_correct_at: Option<usize>,
    },
    /// The log has a step the mapping cannot express (an elector shared by several threads
    /// doing two things at once; see `coordlab_checks::conform::election`):
    /// the run was not checked against the model. The step and why.
    Unmapped(String),
    /// The run diverged (a `ConformsToModel` violation says how).
    Diverges,
}

impl Report {
    /// Panics with the first violation and the log.
    pub fn assert_ok(&self) {
        if let Some(v) = self.violations.first() {
            panic!("{v}\n{}", render_records(&self.records));
        }
    }
}

/// The log as numbered lines.
pub fn render_records(records: &[Record]) -> String {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{:>3}. {r}\n", i + 1))
        .collect()
}

struct WorldState {
    real: u64,
    /// How far each node's clock is behind real time.
    lag: Vec<u64>,
    records: Vec<Record>,
    driver_done: bool,
}

impl WorldState {
    fn record(&mut self, step: Step) {
        let record = Record {
            real: self.real,
            clocks: self.lag.iter().map(|lag| self.real - lag).collect(),
            step,
        };
        self.records.push(record);
    }
}

/// Real time, every node's clock, and the log. Its lock is the innermost of the run: taken
/// under the components' locks (clock reads, observed events), never the other way round.
#[derive(Clone)]
pub struct World(Arc<Mutex<WorldState>>);

impl World {
    fn new(nodes: u32) -> World {
        World(Arc::new(Mutex::new(WorldState {
            real: 0,
            lag: vec![0; nodes as usize],
            records: Vec::new(),
            driver_done: false,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.0.lock().expect("world lock poisoned")
    }

    fn record(&self, step: Step) {
        self.lock().record(step);
    }

    /// Moves real time `ms` on, and logs it in the same critical section; the clocks of the
    /// nodes in `slow` fall `tick_ms` behind.
    fn tick(&self, ms: u64, tick_ms: u64, slow: Vec<u32>) {
        let mut w = self.lock();
        w.real += ms;
        for &n in &slow {
            w.lag[n as usize] += tick_ms;
        }
        w.record(Step::Tick { ms, slow });
    }

    fn real(&self) -> u64 {
        self.lock().real
    }

    fn lag(&self, node: u32) -> u64 {
        self.lock().lag[node as usize]
    }
}

impl Observer for World {
    fn observe(&self, event: Event) {
        self.record(Step::Elect(event));
    }
}

/// Real time: the lease store's clock.
struct RealClock(World);

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::from_millis(self.0.real())
    }
}

/// A node's own clock: real time minus the node's lag.
struct NodeClock(World, u32);

impl Clock for NodeClock {
    fn now(&self) -> Instant {
        let w = self.0.lock();
        Instant::from_millis(w.real - w.lag[self.1 as usize])
    }
}

type Store = InMemoryLeaseStore<RealClock>;
type Elector = LeaderElector<Link, NodeClock>;

/// A node's link to the lease store: logs each refused renewal and release when its answer
/// comes back (the store logs only what it does).
struct Link {
    store: Arc<Store>,
    world: World,
}

impl LeaseStore for Link {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        self.store.acquire(node, ttl)
    }
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        let answer = self.store.renew(node, token, ttl);
        if let Err(LeaseError::NotHolder { .. }) = answer {
            self.world.record(Step::RenewRefused {
                node: node.0,
                token,
            });
        }
        answer
    }
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        let answer = self.store.release(node, token);
        if let Err(LeaseError::NotHolder { .. }) = answer {
            self.world.record(Step::ReleaseRefused {
                node: node.0,
                token,
            });
        }
        answer
    }
    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        self.store.current()
    }
}

struct Shared {
    scenario: Scenario,
    world: World,
    store: Arc<Store>,
    storage: FencedStorage<(u32, u32)>,
}

impl Shared {
    fn elector(&self, node: u32) -> Elector {
        let link = Link {
            store: Arc::clone(&self.store),
            world: self.world.clone(),
        };
        let elector = LeaderElector::new(
            NodeId(node),
            link,
            NodeClock(self.world.clone(), node),
            self.scenario.elector_config(),
        )
        .with_observer(self.world.clone());
        #[cfg(shuttle)]
        let elector = elector.with_deviation(self.scenario.deviation);
        elector
    }
}

/// Thread numbers for the dice: nodes are 0.., the driver comes after them, then the writers.
fn driver_thread(s: &Scenario) -> u32 {
    s.nodes
}

/// The dice number of writer `w` of node `node`.
fn writer_thread(s: &Scenario, node: u32, w: u32) -> u32 {
    s.nodes + 1 + node * s.writers + w
}

/// A node whose elector is shared: its thread only heartbeats, `rounds` times.
fn heartbeat_loop(elector: &Elector, rounds: u32) {
    for _ in 0..rounds {
        elector
            .heartbeat()
            .expect("the in-memory lease store is always available");
        thread::yield_now();
    }
}

/// One writer of a node whose elector is shared: `rounds` rounds of checking the lease and
/// writing with its token, pausing before the write and resigning as the scenario says.
fn writer_loop(shared: &Shared, elector: &Elector, me: u32, w: u32) {
    let s = &shared.scenario;
    let mut dice = Dice::for_thread(writer_thread(s, me, w));
    for round in 0..s.rounds {
        if let Some(leadership) = elector.leadership() {
            if dice.chance(s.pause_per_mille) {
                pause(shared, me);
            }
            let _ = shared
                .storage
                .write(NodeId(me), leadership.token, (me, round));
        }
        if dice.chance(s.resign_per_mille) {
            elector
                .resign()
                .expect("the in-memory lease store is always available");
        }
        thread::yield_now();
    }
}

/// One node's loop.
fn node_loop(shared: &Shared, me: u32) {
    let s = &shared.scenario;
    let mut dice = Dice::for_thread(me);
    let mut elector = Some(shared.elector(me));
    let mut crashed = false;
    for round in 0..s.rounds {
        let Some(e) = &elector else {
            shared.world.record(Step::Restart { node: me });
            elector = Some(shared.elector(me));
            continue;
        };
        e.heartbeat()
            .expect("the in-memory lease store is always available");
        if let Some(leadership) = e.leadership() {
            if dice.chance(s.pause_per_mille) {
                pause(shared, me);
            }
            // Refused when stale: the node learns its lease is gone at its next heartbeat.
            let _ = shared
                .storage
                .write(NodeId(me), leadership.token, (me, round));
        }
        if dice.chance(s.resign_per_mille) {
            e.resign()
                .expect("the in-memory lease store is always available");
        }
        if !crashed && dice.chance(s.crash_per_mille) {
            crashed = true;
            shared.world.record(Step::Crash { node: me });
            elector = None;
        }
        thread::yield_now();
    }
}

/// Stalls until real time has moved `pause_ms` on, or the driver has stopped moving it.
fn pause(shared: &Shared, me: u32) {
    shared.world.record(Step::Pause { node: me });
    let until = shared.world.real() + shared.scenario.pause_ms;
    loop {
        {
            let w = shared.world.lock();
            if w.real >= until || w.driver_done {
                break;
            }
        }
        thread::yield_now();
    }
    shared.world.record(Step::Resume { node: me });
}

/// The clock driver: `ticks` ticks, some of them jumps, each letting some clocks fall behind
/// within the drift bound.
fn drive(shared: &Shared) {
    let s = &shared.scenario;
    let mut dice = Dice::for_thread(driver_thread(s));
    for _ in 0..s.ticks {
        let ms = if dice.chance(s.jump_per_mille) {
            3 * s.tick_ms
        } else {
            s.tick_ms
        };
        let slow: Vec<u32> = (0..s.nodes)
            .filter(|&n| shared.world.lag(n) + s.tick_ms <= s.drift_ms)
            .filter(|_| dice.chance(s.slow_per_mille))
            .collect();
        shared.world.tick(ms, s.tick_ms, slow);
        thread::yield_now();
    }
    shared.world.lock().driver_done = true;
}

/// Runs the scenario once on the current engine's threads and checks its properties.
pub fn run(scenario: &Scenario) -> Report {
    let world = World::new(scenario.nodes);
    let store = InMemoryLeaseStore::new(RealClock(world.clone())).with_observer(world.clone());
    let storage = FencedStorage::new().with_observer(world.clone());
    #[cfg(shuttle)]
    let (store, storage) = (
        store.with_deviation(scenario.deviation),
        storage.with_deviation(scenario.deviation),
    );
    let shared = Arc::new(Shared {
        scenario: scenario.clone(),
        world,
        store: Arc::new(store),
        storage,
    });
    assert!(
        scenario.writers == 0 || scenario.crash_per_mille == 0,
        "a scenario with shared electors has no crashes"
    );
    let mut nodes = Vec::new();
    for me in 0..scenario.nodes {
        if scenario.writers == 0 {
            let shared = Arc::clone(&shared);
            nodes.push(thread::spawn(move || node_loop(&shared, me)));
            continue;
        }
        let elector = Arc::new(shared.elector(me));
        {
            let (elector, rounds) = (Arc::clone(&elector), scenario.rounds);
            nodes.push(thread::spawn(move || heartbeat_loop(&elector, rounds)));
        }
        for w in 0..scenario.writers {
            let (shared, elector) = (Arc::clone(&shared), Arc::clone(&elector));
            nodes.push(thread::spawn(move || {
                writer_loop(&shared, &elector, me, w);
            }));
        }
    }
    let driver = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || drive(&shared))
    };
    for node in nodes {
        node.join().unwrap();
    }
    driver.join().unwrap();
    let records = std::mem::take(&mut shared.world.lock().records);
    let mut violations = check(&records, scenario);
    let conformance = check_conformance(scenario, &records, &mut violations);
    Report {
        violations,
        records,
        conformance,
    }
}

/// The run log's configuration, for the conformance check.
pub fn run_config(s: &Scenario) -> RunConfig {
    RunConfig {
        lease_ms: s.lease_ms,
        renew_every_ms: s.renew_every_ms,
        drift_ms: s.drift_ms,
        writers: s.writers,
    }
}

/// The model variant a scenario's run must conform to: its deviation's id, or `correct`.
pub fn variant(s: &Scenario) -> &'static str {
    match s.deviation {
        #[cfg(shuttle)]
        Some(d) => d.id(),
        #[cfg(not(shuttle))]
        Some(d) => match d {},
        None => "correct",
    }
}

/// The step (1-based) at which a deviation's bug acts in `records`, which is where its run
/// leaves the `correct` model; `None` if it never acts (or the scenario has no deviation).
/// - `no-fencing`: the first write storage accepts with a token lower than one it accepted.
/// - `no-clock-margin`: the first `Leading`: the elector trusts its lease until `local +
///   lease`, not `local + lease − drift`.
/// - `no-lease-expiry` (a liveness bug, not searched under shuttle): the first grant, whose
///   lease never expires.
/// - `check-then-set`: the first grant made while the lease the log last granted or renewed
///   was live and not released, or with a token not above the last one granted (the blind
///   write, of a lease taken or of a token used since the read).
#[cfg(not(shuttle))]
pub fn bug_step(s: &Scenario, _: &[Record]) -> Option<usize> {
    s.deviation.map(|d| match d {})
}

#[cfg(shuttle)]
pub fn bug_step(s: &Scenario, records: &[Record]) -> Option<usize> {
    let at = |p: &dyn Fn(&Step) -> bool| records.iter().position(|r| p(&r.step)).map(|i| i + 1);
    match s.deviation? {
        Deviation::NoFencing => at(
            &|step| matches!(step, Step::Elect(Event::Write { token, accepted: true, highest: Some(h), .. }) if token < h),
        ),
        Deviation::NoClockMargin => at(&|step| matches!(step, Step::Elect(Event::Leading { .. }))),
        // Its grants never run out: the store's expiry is the model's from the first grant.
        Deviation::NoLeaseExpiry => at(&|step| matches!(step, Step::Elect(Event::Granted { .. }))),
        Deviation::CheckThenSet => {
            // The store's lease: its expiry (real ms), unless released.
            let mut live_until: Option<u64> = None;
            let mut last: Option<FencingToken> = None;
            records.iter().enumerate().find_map(|(i, r)| match r.step {
                Step::Elect(Event::Granted {
                    expires_at, token, ..
                }) => {
                    let at = expires_at.as_millis() - s.lease_ms;
                    if live_until.is_some_and(|until| at < until) || last >= Some(token) {
                        return Some(i + 1);
                    }
                    live_until = Some(expires_at.as_millis());
                    last = Some(token);
                    None
                }
                Step::Elect(Event::Renewed { expires_at, .. }) => {
                    live_until = Some(expires_at.as_millis());
                    None
                }
                Step::Elect(Event::Released { .. }) => {
                    live_until = None;
                    None
                }
                _ => None,
            })
        }
    }
}

/// Replays the run's log on the model of its variant and, for a deviation, on `correct`;
/// pushes a `ConformsToModel` violation if the run is not a behaviour of its variant, or
/// leaves `correct` anywhere but at its bug's step. A log with a step the mapping cannot
/// express is [`Conformance::Unmapped`]; the tests allow none.
fn check_conformance(
    s: &Scenario,
    records: &[Record],
    violations: &mut Vec<Violation>,
) -> Conformance {
    let config = run_config(s);
    let own = variant(s);
    let mut violate = |detail: String, step: usize| {
        violations.push(Violation {
            property: property::CONFORMS_TO_MODEL.to_owned(),
            step,
            detail,
            parties: Vec::new(),
        });
        Conformance::Diverges
    };
    match election::check(&config, own, records) {
        Ok(Verdict::Conforms { .. }) => {}
        Ok(Verdict::Diverges(d)) => {
            let step = d.step.min(records.len());
            return violate(d.to_string(), step);
        }
        Err(ConformError::Unmapped { step, why }) => {
            return Conformance::Unmapped(format!("step {step}: {why}"));
        }
        Err(e) => {
            return violate(
                format!("the log cannot be checked against election/{own}: {e}"),
                records.len(),
            );
        }
    }
    if own == "correct" {
        return Conformance::Conforms {
            leaves_correct_at: None,
        };
    }
    let expected = bug_step(s, records);
    let left = match election::check(&config, "correct", records) {
        Ok(Verdict::Conforms { .. }) => None,
        Ok(Verdict::Diverges(d)) => Some(*d),
        Err(ConformError::Unmapped { step, why }) => {
            return Conformance::Unmapped(format!("step {step} (against correct): {why}"));
        }
        Err(e) => {
            return violate(
                format!("the log cannot be checked against election/correct: {e}"),
                records.len(),
            );
        }
    };
    let at = left.as_ref().map(|d| d.step);
    if at != expected {
        return violate(
            format!(
                "the {own} run should leave election/correct at {}, where its bug acts, but {}",
                expected.map_or("no step".to_owned(), |n| format!("step {n}")),
                left.map_or("it conforms to it".to_owned(), |d| format!(
                    "it leaves it {d}"
                ))
            ),
            records.len(),
        );
    }
    Conformance::Conforms {
        leaves_correct_at: at,
    }
}

/// Whether the scenario switches on the store's own deviation: `check-then-set` grants a
/// lease while another is live on purpose (the properties catch what follows), so the
/// store's contract is not asserted then.
fn store_deviates(scenario: &Scenario) -> bool {
    #[cfg(shuttle)]
    {
        scenario.deviation == Some(Deviation::CheckThenSet)
    }
    #[cfg(not(shuttle))]
    {
        let _ = scenario;
        false
    }
}

/// The properties, on the log of a run of `scenario` (see the module docs).
pub fn check(records: &[Record], scenario: &Scenario) -> Vec<Violation> {
    let lease_ms = scenario.lease_ms;
    let contract = !store_deviates(scenario);
    // What each node believes: its lease's token and the clock reading it trusts it until.
    let mut belief: BTreeMap<u32, (FencingToken, Instant)> = BTreeMap::new();
    // The store's lease as the log leaves it: the last granted or renewed, unless released.
    let mut lease: Option<(NodeId, FencingToken, u64)> = None;
    let mut last_grant: Option<FencingToken> = None;
    let mut highest_accepted: Option<FencingToken> = None;
    let mut overlapping = false;
    let mut violations = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let step = i + 1;
        let mut violate = |property: &str, detail: String, parties: Vec<String>| {
            violations.push(Violation {
                property: property.to_owned(),
                step,
                detail,
                parties,
            });
        };
        let clock = |node: u32| Instant::from_millis(r.clocks[node as usize]);
        match &r.step {
            Step::Elect(Event::Leading {
                node,
                token,
                trusted_until,
                ..
            }) => {
                belief.insert(node.0, (*token, *trusted_until));
            }
            Step::Elect(Event::SteppedDown { node, .. }) => {
                belief.remove(&node.0);
            }
            Step::Crash { node } => {
                belief.remove(node);
            }
            Step::Elect(Event::Trusted { node, token, local }) => {
                // The elector and this check must agree on what the node believed when it read
                // its clock (time may have moved on before the event reached the log).
                let agreed = belief
                    .get(&node.0)
                    .is_some_and(|&(t, until)| t == *token && *local < until);
                assert!(
                    agreed,
                    "harness: {node} trusted {token} at step {step}, but the log says it does not lead\n{}",
                    render_records(records)
                );
            }
            Step::Elect(Event::Granted {
                node,
                token,
                expires_at,
            }) => {
                let at = expires_at.as_millis() - lease_ms;
                if let Some((holder, held, until)) = lease.filter(|l| contract && at < l.2) {
                    panic!(
                        "lease store contract: one unexpired lease at a time: step {step} grants \
                         {token} to {node} at {at}ms while {holder}'s {held} is live until \
                         {until}ms\n{}",
                        render_records(records)
                    );
                }
                lease = Some((*node, *token, expires_at.as_millis()));
                if let Some(last) = last_grant.filter(|last| token <= last) {
                    violate(
                        property::FENCING_TOKENS_MONOTONIC,
                        format!("the store granted {token} to {node} after it had granted {last}"),
                        vec!["lease store".to_owned(), node.to_string()],
                    );
                }
                last_grant = last_grant.max(Some(*token));
            }
            Step::Elect(Event::Renewed {
                node,
                token,
                expires_at,
            }) => {
                let at = expires_at.as_millis() - lease_ms;
                let live = lease.filter(|&(h, t, until)| h == *node && t == *token && at < until);
                assert!(
                    live.is_some(),
                    "lease store contract: a renewal renews only the live lease of its holder: \
                     step {step} renews {node}'s {token} at {at}ms, but the store's lease is \
                     {lease:?}\n{}",
                    render_records(records)
                );
                lease = Some((*node, *token, expires_at.as_millis()));
            }
            Step::Elect(Event::Released { node, token }) => {
                assert!(
                    !contract || lease.is_some_and(|(h, t, _)| h == *node && t == *token),
                    "lease store contract: a release releases only the current lease: step \
                     {step} releases {node}'s {token}, but the store's lease is {lease:?}\n{}",
                    render_records(records)
                );
                lease = None;
            }
            Step::RenewRefused { node, token } | Step::ReleaseRefused { node, token } => {
                // The refusal came before this record, and a lost lease stays lost (it cannot
                // be renewed once expired, a release is final, tokens only grow): a lease live
                // now was live at the refusal.
                let still_live = lease
                    .is_some_and(|(h, t, until)| h.0 == *node && t == *token && r.real < until);
                assert!(
                    !still_live,
                    "lease store contract: step {step}: the store refused n{node}'s {} \
                     of its live lease {token}\n{}",
                    if matches!(r.step, Step::RenewRefused { .. }) {
                        "renewal"
                    } else {
                        "release"
                    },
                    render_records(records)
                );
            }
            Step::Elect(Event::Write {
                node,
                token,
                accepted: true,
                ..
            }) => {
                if let Some(h) = highest_accepted.filter(|h| token < h) {
                    violate(
                        property::STALE_TOKEN_WRITE_REJECTED,
                        format!("storage accepted {node}'s write with {token} after accepting {h}"),
                        vec![node.to_string(), "storage".to_owned()],
                    );
                }
                highest_accepted = highest_accepted.max(Some(*token));
            }
            _ => {}
        }
        let leaders: Vec<(u32, FencingToken, Instant)> = belief
            .iter()
            .filter(|&(&n, &(_, until))| clock(n) < until)
            .map(|(&n, &(token, until))| (n, token, until))
            .collect();
        if leaders.len() >= 2 && !overlapping {
            let parties = leaders.iter().map(|&(n, ..)| format!("n{n}")).collect();
            let leaders: Vec<String> = leaders
                .iter()
                .map(|&(n, token, until)| {
                    format!(
                        "n{n} ({token}, trusted until {until} on its clock, which reads {})",
                        clock(n)
                    )
                })
                .collect();
            violate(
                property::AT_MOST_ONE_LEADER,
                format!(
                    "at real time {}ms, {} {} believe they lead",
                    r.real,
                    leaders.join(" and "),
                    if leaders.len() == 2 { "both" } else { "all" }
                ),
                parties,
            );
        }
        overlapping = leaders.len() >= 2;
    }
    violations
}
