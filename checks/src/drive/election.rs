//! The election's driver: `coordlab_models::election` behaviours on
//! `coordlab_impls::election`.
//!
//! # The implementation a behaviour runs on
//! One `InMemoryLeaseStore` on the real-time clock, one `LeaderElector` per node on the
//! node's own clock, and one `FencedStorage`, all reporting to one `EventLog`. Every clock
//! is a `ManualClock`; one model tick is one millisecond. The electors ask for leases of
//! `lease` ms and give up `margin` ms of each for drift (`ElectorConfig::max_drift`, the
//! model's margin); they renew at every heartbeat (`renew_every` 0), as the model's `Renew`
//! may come at any time.
//!
//! # The deviations
//! `no-fencing`: the storage's; `no-clock-margin`: every elector's; `check-then-set` and
//! `no-lease-expiry`: the store's (`election::Deviation`).
//!
//! # Actions → API calls
//! - `Tick { slow }`: the real clock moves 1 ms, and so does every node's clock but those in
//!   `slow`, which stand still (their lag grows).
//! - `Acquire`: the node's `campaign()`, which must grant it the lease.
//! - `ReadLease`, `WriteLease` (`check-then-set` only): the node's `campaign()` on its own
//!   thread, held by the driver between the store's read (reported as `ReadFree`) and its
//!   blind write, and let go at `WriteLease`. The correct store has no separate read.
//! - `Renew`: `heartbeat()`, which must renew. `PrepareWrite`: `leadership()`, which must
//!   give the token the write will carry. `StorageWrite`: `FencedStorage::write` with it.
//!   With the model's `writers` (an elector shared by the heartbeat and writer threads), a
//!   node's prepared writes are kept apart from its elector and sent, by token, when the
//!   model sends them; the elector meanwhile renews, steps down, resigns and campaigns.
//!   `StepDown`: `leadership()`, which must say the lease can no longer be trusted.
//!   `Resign` (the model's `resign` knob): `resign()`, which hands the lease back.
//! - `Pause`, `Resume`: the node stops and starts taking steps (nothing at the API).
//!   `Crash`: the elector is dropped; `Restart`: a new one on the same clock.
//!
//! # The abstraction (implementation → model state)
//! A node is crashed, acquiring (held after its read, with the token it read), writing
//! (with the token `leadership()` gave), a leader (`believed()`, with `left` = the lease
//! minus what its own clock says has passed since it asked), or a follower; its lag is the
//! real clock minus its own. The lease is the store's `current()` lease (holder, real ms
//! left), the grants are its `Granted` reports in order, the accepted tokens the storage's
//! accepted `Write` reports. Normalized on both sides: an expired lease has no holder (no
//! action of the model reads the holder of an expired lease); under `no-lease-expiry` a
//! held lease has `lease` ticks left (the model keeps its timer still; the store's never
//! runs out).
//!
//! # What is not checked
//! - A store's unavailability: the model has none.
//! - The model's early `StepDown` (a leader giving its lease up while it still trusts it):
//!   the elector has no call for it; random walks do not take it, and a trace that does is
//!   refused at that step.
//! - Requests in flight: every call returns before the next step (except a `check-then-set`
//!   acquisition held between its read and its write).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use coordlab_impls::clock::{Clock, ManualClock};
use coordlab_impls::election::{
    Deviation, ElectorConfig, Event, EventLog, FencedStorage, FencingToken, InMemoryLeaseStore,
    LeaderElector, Leadership, LeaseError, LeaseStore, NodeId, Observer,
};
use coordlab_impls::sync::Arc as ImplArc;
use coordlab_models::Protocol;
use coordlab_models::election::{
    Action, Bug, ElectionModel, ElectionState, Lease, Node, Phase, PreparedWrite,
};

use super::{Driver, Refusal};

// The implementation's own `Arc` (its sync facade's: the lease store is implemented for it,
// and a `--cfg loom` build, which compiles this crate for the implementation's tests, makes
// it loom's).
type Store = ImplArc<InMemoryLeaseStore<ManualClock>>;
type Elector = ImplArc<LeaderElector<Store, ManualClock>>;
type Campaign = JoinHandle<Result<Option<Leadership>, LeaseError>>;

/// Holds a `check-then-set` acquisition between its read and its write: the store reports
/// the read outside its lock, from the acquiring thread, which waits here until the driver
/// lets it go on. Every event also goes to the log.
struct Gate {
    log: EventLog,
    held: Mutex<BTreeMap<u32, Option<FencingToken>>>,
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Option<FencingToken>>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lets node `n` (held, or about to be) go on: its entry becomes `None`.
    fn release(&self, n: u32) {
        self.lock().insert(n, None);
        self.changed.notify_all();
    }
}

impl Observer for Gate {
    fn observe(&self, event: Event) {
        let read = match event {
            Event::ReadFree { node, token } => Some((node, token)),
            _ => None,
        };
        self.log.observe(event);
        if let Some((node, token)) = read {
            let mut held = self.lock();
            // Released before it got here: go on.
            if held.remove(&node.0).is_some() {
                return;
            }
            held.insert(node.0, Some(token));
            self.changed.notify_all();
            while held.get(&node.0).is_some_and(Option::is_some) {
                held = self
                    .changed
                    .wait(held)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            held.remove(&node.0);
        }
    }
}

/// A node as the driver keeps it.
struct NodeState {
    clock: ManualClock,
    /// `None` while crashed.
    elector: Option<Elector>,
    paused: bool,
    /// The tokens `leadership()` gave the writes prepared and not sent, in the order they
    /// were prepared: the node's one write it is about to send (without `writers`), or its
    /// writers' (with).
    prepared: Vec<FencingToken>,
    /// A `check-then-set` campaign held after its read, with the token it read.
    acquiring: Option<(FencingToken, Campaign)>,
}

/// The election's driver state.
pub struct ElectionDriver {
    real: ManualClock,
    store: Store,
    storage: FencedStorage<u8>,
    gate: Arc<Gate>,
    nodes: Vec<NodeState>,
    config: ElectorConfig,
    deviation: Option<Deviation>,
    /// The margin the electors give up, ms (0 under `no-clock-margin`).
    margin: u64,
    crashes: u8,
    pauses: u8,
    /// The model's `writers`: a node's prepared writes are its writers', not the one the node
    /// itself is about to send (`Phase::Writing`).
    shared: bool,
}

struct Forward(Arc<Gate>);

impl Observer for Forward {
    fn observe(&self, event: Event) {
        self.0.observe(event);
    }
}

impl ElectionDriver {
    fn elector(&self, node: u8) -> Elector {
        let n = &self.nodes[usize::from(node)];
        let elector = LeaderElector::new(
            NodeId(u32::from(node)),
            ImplArc::clone(&self.store),
            n.clock.clone(),
            self.config,
        )
        .with_deviation(self.deviation.filter(|d| *d == Deviation::NoClockMargin));
        ImplArc::new(elector)
    }

    fn alive(&self, node: u8) -> Result<&Elector, Refusal> {
        self.nodes[usize::from(node)]
            .elector
            .as_ref()
            .ok_or_else(|| Refusal::new("the driver", format!("n{node} is crashed")))
    }

    fn model_token(token: FencingToken) -> u8 {
        u8::try_from(token.get()).unwrap_or(u8::MAX)
    }
}

impl Driver for ElectionDriver {
    type Model = ElectionModel;

    fn start(model: &ElectionModel, deviation: bool) -> Result<Self, String> {
        let c = model.config();
        let deviation = match model.bug().filter(|_| deviation) {
            None => None,
            Some(Bug::NoFencing) => Some(Deviation::NoFencing),
            Some(Bug::NoClockMargin) => Some(Deviation::NoClockMargin),
            Some(Bug::CheckThenSet) => Some(Deviation::CheckThenSet),
            Some(Bug::NoLeaseExpiry) => Some(Deviation::NoLeaseExpiry),
        };
        let ms = |t: u8| Duration::from_millis(u64::from(t));
        let config = ElectorConfig::new(ms(c.lease), Duration::ZERO, ms(c.margin))
            .map_err(|e| format!("no elector for this configuration: {e}"))?;
        let gate = Arc::new(Gate {
            log: EventLog::new(),
            held: Mutex::new(BTreeMap::new()),
            changed: Condvar::new(),
        });
        let real = ManualClock::new();
        let store_deviation =
            deviation.filter(|d| matches!(d, Deviation::CheckThenSet | Deviation::NoLeaseExpiry));
        let store = ImplArc::new(
            InMemoryLeaseStore::new(real.clone())
                .with_observer(Forward(Arc::clone(&gate)))
                .with_deviation(store_deviation),
        );
        let storage = FencedStorage::new()
            .with_observer(Forward(Arc::clone(&gate)))
            .with_deviation(deviation.filter(|d| *d == Deviation::NoFencing));
        let mut driver = ElectionDriver {
            real,
            store,
            storage,
            gate,
            nodes: Vec::new(),
            config,
            deviation,
            margin: if deviation == Some(Deviation::NoClockMargin) {
                0
            } else {
                u64::from(c.margin)
            },
            crashes: 0,
            pauses: 0,
            shared: c.writers > 0,
        };
        for _ in 0..c.nodes {
            driver.nodes.push(NodeState {
                clock: ManualClock::new(),
                elector: None,
                paused: false,
                prepared: Vec::new(),
                acquiring: None,
            });
        }
        for n in 0..c.nodes {
            let e = driver.elector(n);
            driver.nodes[usize::from(n)].elector = Some(e);
        }
        Ok(driver)
    }

    fn step(
        &mut self,
        _: &ElectionModel,
        before: &ElectionState,
        action: &Action,
        after: &ElectionState,
    ) -> Result<(), Refusal> {
        match *action {
            Action::Tick { slow } => {
                self.real.advance(Duration::from_millis(1));
                for (i, n) in self.nodes.iter().enumerate() {
                    if slow & (1 << i) == 0 {
                        n.clock.advance(Duration::from_millis(1));
                    }
                }
            }
            Action::Acquire { node } => match self.alive(node)?.campaign() {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let why = match self.store.current() {
                        Ok(Some(l)) => format!(
                            "its campaign is refused: the lease is held by {} with {} until {}",
                            l.holder, l.token, l.expires_at
                        ),
                        _ => "its campaign does not make it leader".to_string(),
                    };
                    return Err(Refusal::new("the store", why));
                }
                Err(e) => return Err(Refusal::new("the store", e.to_string())),
            },
            Action::ReadLease { node } => {
                if self.deviation != Some(Deviation::CheckThenSet) {
                    return Err(Refusal::new(
                        "the store",
                        "it acquires with one compare-and-set: there is no read to act on later",
                    ));
                }
                let elector = ImplArc::clone(self.alive(node)?);
                let n = u32::from(node);
                let thread = std::thread::spawn(move || elector.campaign());
                // Wait until the campaign is held after its read, or has ended without one.
                let mut held = self.gate.lock();
                loop {
                    if let Some(Some(token)) = held.get(&n) {
                        let token = *token;
                        drop(held);
                        self.nodes[usize::from(node)].acquiring = Some((token, thread));
                        break;
                    }
                    if thread.is_finished() {
                        drop(held);
                        let answer = thread
                            .join()
                            .map_err(|_| Refusal::new("the elector", "its campaign panicked"))?;
                        return Err(Refusal::new(
                            "the store",
                            format!("the lease is not free to read: {answer:?}"),
                        ));
                    }
                    held = self
                        .gate
                        .changed
                        .wait_timeout(held, Duration::from_millis(10))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            }
            Action::WriteLease { node } => {
                let Some((_, thread)) = self.nodes[usize::from(node)].acquiring.take() else {
                    return Err(Refusal::new(
                        "the driver",
                        format!("n{node} has read nothing"),
                    ));
                };
                self.gate.release(u32::from(node));
                match thread.join() {
                    Ok(Ok(Some(_))) => {}
                    Ok(answer) => {
                        return Err(Refusal::new(
                            "the elector",
                            format!("its blind write does not make it leader: {answer:?}"),
                        ));
                    }
                    Err(_) => return Err(Refusal::new("the elector", "its campaign panicked")),
                }
            }
            Action::Renew { node } => match self.alive(node)?.heartbeat() {
                Ok(Some(_)) => {}
                other => {
                    return Err(Refusal::new(
                        "the elector",
                        format!("its heartbeat does not renew: {other:?}"),
                    ));
                }
            },
            Action::PrepareWrite { node } => match self.alive(node)?.leadership() {
                Some(l) => self.nodes[usize::from(node)].prepared.push(l.token),
                None => {
                    return Err(Refusal::new(
                        "the elector",
                        "its clock says the lease can no longer be trusted: it steps down instead of writing",
                    ));
                }
            },
            Action::StorageWrite { node, token } => {
                let n = &mut self.nodes[usize::from(node)];
                let token = match token {
                    None => n.prepared.pop(),
                    Some(t) => n
                        .prepared
                        .iter()
                        .position(|p| Self::model_token(*p) == t)
                        .map(|at| n.prepared.remove(at)),
                };
                let Some(token) = token else {
                    return Err(Refusal::new(
                        "the driver",
                        format!("n{node} has no such write to send"),
                    ));
                };
                let answer = self.storage.write(NodeId(u32::from(node)), token, node);
                if let Err(e) = answer
                    && after.accepted.len() > before.accepted.len()
                {
                    return Err(Refusal::new("the storage", e.to_string()));
                }
            }
            Action::StepDown { node } => {
                if let Some(l) = self.alive(node)?.leadership() {
                    return Err(Refusal::new(
                        "the elector",
                        format!(
                            "it still trusts its lease with {} (until {} on its clock)",
                            l.token, l.trusted_until
                        ),
                    ));
                }
            }
            Action::Resign { node } => {
                if let Err(e) = self.alive(node)?.resign() {
                    return Err(Refusal::new("the store", e.to_string()));
                }
            }
            Action::Pause { node } => {
                self.nodes[usize::from(node)].paused = true;
                self.pauses += 1;
            }
            Action::Resume { node } => self.nodes[usize::from(node)].paused = false,
            Action::Crash { node } => {
                let n = &mut self.nodes[usize::from(node)];
                n.elector = None;
                n.paused = false;
                n.prepared.clear();
                if let Some((_, thread)) = n.acquiring.take() {
                    self.gate.release(u32::from(node));
                    let _ = thread.join();
                }
                self.crashes += 1;
            }
            Action::Restart { node } => {
                let e = self.elector(node);
                self.nodes[usize::from(node)].elector = Some(e);
            }
        }
        Ok(())
    }

    /// Not a step-down while the node trusts its lease: the model's node may give its lease up
    /// early, but the elector has no call that does so without releasing it (`resign`); it
    /// steps down when its clock says the lease can no longer be trusted.
    fn admits(&mut self, model: &ElectionModel, state: &ElectionState, action: &Action) -> bool {
        match *action {
            Action::StepDown { node } => !model.trusts(&state.nodes[usize::from(node)]),
            _ => true,
        }
    }

    fn observe(&mut self, _: &ElectionModel) -> ElectionState {
        let real = self.real.now();
        let mut nodes = Vec::new();
        for n in &self.nodes {
            let now = n.clock.now();
            let lag = u8::try_from(real.as_millis() - now.as_millis()).unwrap_or(u8::MAX);
            let left = |l: Leadership| -> u8 {
                let end = l.trusted_until.as_millis() + self.margin;
                u8::try_from(end.saturating_sub(now.as_millis())).unwrap_or(u8::MAX)
            };
            // Without writers, the node's one prepared write is its own (`Phase::Writing`).
            let writing = n.prepared.first().copied().filter(|_| !self.shared);
            let phase = match (&n.elector, &n.acquiring, writing) {
                (None, ..) => Phase::Crashed,
                (Some(_), Some((token, _)), _) => Phase::Acquiring {
                    token: Self::model_token(*token),
                },
                (Some(e), None, writing) => match (e.believed(), writing) {
                    (Some(l), Some(token)) => Phase::Writing {
                        token: Self::model_token(token),
                        left: left(l),
                    },
                    (Some(l), None) => Phase::Leader {
                        token: Self::model_token(l.token),
                        left: left(l),
                    },
                    (None, _) => Phase::Follower,
                },
            };
            nodes.push(Node {
                phase,
                lag,
                paused: n.paused,
            });
        }
        let events = self.gate.log.events();
        let grants: Vec<u8> = events
            .iter()
            .filter_map(|e| match e {
                Event::Granted { token, .. } => Some(Self::model_token(*token)),
                _ => None,
            })
            .collect();
        let writes: Vec<(bool, u8)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Write {
                    token, accepted, ..
                } => Some((*accepted, Self::model_token(*token))),
                _ => None,
            })
            .collect();
        let (holder, left) = match self.store.current() {
            Ok(Some(l)) => (
                Some(u8::try_from(l.holder.0).unwrap_or(u8::MAX)),
                u8::try_from(l.expires_at.as_millis().saturating_sub(real.as_millis()))
                    .unwrap_or(u8::MAX),
            ),
            _ => (None, 0),
        };
        let mut prepared: Vec<PreparedWrite> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|_| self.shared)
            .flat_map(|(i, n)| {
                n.prepared.iter().map(move |t| PreparedWrite {
                    node: i as u8,
                    token: Self::model_token(*t),
                })
            })
            .collect();
        prepared.sort_unstable();
        ElectionState {
            nodes: nodes.into_iter().collect(),
            prepared: prepared.into_iter().collect(),
            lease: Lease {
                holder,
                left,
                grants: grants.into_iter().collect(),
            },
            accepted: writes.iter().filter(|w| w.0).map(|w| w.1).collect(),
            writes: u8::try_from(writes.len()).unwrap_or(u8::MAX),
            crashes: self.crashes,
            pauses: self.pauses,
        }
    }

    fn normalize(model: &ElectionModel, state: &ElectionState) -> ElectionState {
        let mut s = state.clone();
        if s.lease.left == 0 {
            s.lease.holder = None;
        }
        if model.bug() == Some(Bug::NoLeaseExpiry) && s.lease.holder.is_some() {
            s.lease.left = model.config().lease;
        }
        s
    }
}

impl Drop for ElectionDriver {
    fn drop(&mut self) {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if let Some((_, thread)) = n.acquiring.take() {
                self.gate.release(i as u32);
                let _ = thread.join();
            }
        }
    }
}
