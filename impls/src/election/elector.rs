//! A node's side of the election: campaign, renew on a heartbeat, step down when the lease can
//! no longer be trusted on the node's own clock, resign.

use std::time::Duration;

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
use super::Deviation;
use super::event::{Event, FencingToken, NodeId, Observed, Observer, StepDownReason};
use super::store::{Lease, LeaseError, LeaseStore};
use crate::clock::{Clock, Instant, millis_ceil};
use crate::sync::{Mutex, MutexGuard};

/// How a node times its lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ElectorConfig {
    /// The lease length the node asks the store for.
    pub lease: Duration,
    /// How often a leader renews: at the first [`LeaderElector::heartbeat`] at least this long
    /// (on its own clock) after its last successful grant or renewal.
    pub renew_every: Duration,
    /// The most this node's clock may fall behind real time over one lease. The node trusts a
    /// lease only until its clock says `lease - max_drift` has passed since it asked for it, so
    /// a clock that runs slow by up to `max_drift` still gives up before the store lets the
    /// lease go. (A fast clock only makes the node give up early.)
    pub max_drift: Duration,
}

/// Why an [`ElectorConfig`] is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The drift bound eats the whole lease: the node could never trust it.
    #[error("max_drift ({max_drift:?}) must be shorter than the lease ({lease:?})")]
    DriftExceedsLease {
        /// The lease length.
        lease: Duration,
        /// The drift bound.
        max_drift: Duration,
    },
    /// Renewals would come after the node already stopped trusting its lease.
    #[error(
        "renew_every ({renew_every:?}) must be shorter than lease - max_drift ({trusted:?}), or the leader steps down before it renews"
    )]
    RenewTooLate {
        /// The renewal interval.
        renew_every: Duration,
        /// How long a lease is trusted.
        trusted: Duration,
    },
}

impl ElectorConfig {
    /// A checked configuration (times are rounded up to whole milliseconds).
    pub fn new(
        lease: Duration,
        renew_every: Duration,
        max_drift: Duration,
    ) -> Result<ElectorConfig, ConfigError> {
        let ms = |d| Duration::from_millis(millis_ceil(d));
        let (lease, renew_every, max_drift) = (ms(lease), ms(renew_every), ms(max_drift));
        if max_drift >= lease {
            return Err(ConfigError::DriftExceedsLease { lease, max_drift });
        }
        let trusted = lease - max_drift;
        if renew_every >= trusted {
            return Err(ConfigError::RenewTooLate {
                renew_every,
                trusted,
            });
        }
        Ok(ElectorConfig {
            lease,
            renew_every,
            max_drift,
        })
    }
}

/// Proof, for the moment it was checked, that this node leads: tag every write to shared
/// storage with [`token`](Leadership::token), and let storage fence off lower tokens. The
/// node may be paused right after the check; the token is what keeps a deposed leader's
/// late write out, not the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Leadership {
    /// The lease's fencing token.
    pub token: FencingToken,
    /// The node's clock reading until which it trusts the lease.
    pub trusted_until: Instant,
}

/// What the node believes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Follower,
    Leader {
        token: FencingToken,
        /// Own clock when the last granted request was sent.
        asked_at: Instant,
        trusted_until: Instant,
    },
}

/// The elector's state, behind its lock.
#[derive(Debug)]
struct State {
    role: Role,
    /// Counts the node's step-downs and resignations. A request to the store notes it when
    /// sent; its answer is applied only if it has not moved since, so an answer that comes
    /// back after the node resigned (or its clock ran its lease out) cannot make it lead again.
    epoch: u64,
    /// A request to the store (acquire or renew) is in flight: the node sends one at a time.
    in_flight: bool,
}

impl State {
    /// Nothing in flight may change the node's belief any more.
    fn supersede(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }
}

/// A request in flight to the store, as the node noted it when it sent it. Dropped without
/// an answer (the store call panicked), it lets the node send again.
struct Sent<'a, S: LeaseStore, C: Clock> {
    elector: &'a LeaderElector<S, C>,
    /// The node's epoch when it sent the request.
    epoch: u64,
    /// Own clock when the request was sent.
    asked_at: Instant,
    answered: bool,
}

impl<S: LeaseStore, C: Clock> Sent<'_, S, C> {
    /// Applies the store's answer, under the elector's lock (`state`): leads on a grant or
    /// renewal, steps down on a refused renewal; unless the node stepped down or resigned
    /// since it sent the request, in which case the answer changes nothing and a lease it
    /// granted or extended is handed back.
    fn receive(
        mut self,
        mut state: MutexGuard<'_, State>,
        answer: Result<Lease, LeaseError>,
    ) -> Result<Option<Leadership>, LeaseError> {
        self.answered = true;
        let e = self.elector;
        state.in_flight = false;
        if state.epoch != self.epoch {
            // Superseded: the node is a follower now (only a step-down moves the epoch, and
            // no other request was in flight to make it lead).
            drop(state);
            return match answer {
                Ok(lease) => e.hand_back(lease.token).map(|()| None),
                Err(LeaseError::Unavailable(why)) => Err(LeaseError::Unavailable(why)),
                Err(_) => Ok(None),
            };
        }
        match answer {
            Ok(lease) => Ok(e.lead(&mut state, lease.token, self.asked_at)),
            Err(LeaseError::Held(_)) => Ok(None),
            Err(LeaseError::NotHolder { .. }) => {
                e.step_down(&mut state, StepDownReason::RenewRefused);
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }
}

impl<S: LeaseStore, C: Clock> Drop for Sent<'_, S, C> {
    fn drop(&mut self) {
        if !self.answered {
            self.elector.lock().in_flight = false;
        }
    }
}

/// One node's elector. Share it between the node's heartbeat loop and its workers (`&self`
/// methods). Its lock guards only its own belief and is never held across a call to the
/// store: [`leadership`](LeaderElector::leadership) answers from what the node believes while
/// a renewal is on its way to a remote store.
///
/// Call [`heartbeat`](LeaderElector::heartbeat) every so often (more often than
/// `renew_every`); call [`leadership`](LeaderElector::leadership) before acting as leader and
/// pass its token along with the action.
///
/// The node sends at most one request (acquire or renew) at a time; a call that would send a
/// second while one is in flight answers from the node's belief instead. A store's answer
/// that arrives after the node stepped down or resigned is not applied (the node does not
/// lead again on it), and a lease it grants or extends is handed back at once.
pub struct LeaderElector<S, C> {
    node: NodeId,
    store: S,
    clock: C,
    config: ElectorConfig,
    state: Mutex<State>,
    observer: Observed,
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    deviation: Option<Deviation>,
}

impl<S: LeaseStore, C: Clock> LeaderElector<S, C> {
    /// A follower `node` campaigning through `store`, timing its lease on `clock` (its own,
    /// possibly drifting, clock: it never sees the store's).
    pub fn new(node: NodeId, store: S, clock: C, config: ElectorConfig) -> LeaderElector<S, C> {
        LeaderElector {
            node,
            store,
            clock,
            config,
            state: Mutex::new(State {
                role: Role::Follower,
                epoch: 0,
                in_flight: false,
            }),
            observer: Observed::none(),
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation: None,
        }
    }

    /// Reports what the node comes to believe to `observer`, from inside the elector's lock.
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> LeaderElector<S, C> {
        self.observer.set(observer);
        self
    }

    /// Switches a protocol bug on (tests only): [`Deviation::NoClockMargin`] trusts the lease
    /// for its full length on the node's own clock. Other deviations do not concern the elector.
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    pub fn with_deviation(mut self, deviation: Option<Deviation>) -> LeaderElector<S, C> {
        self.deviation = deviation;
        self
    }

    /// This node.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The configuration.
    pub fn config(&self) -> ElectorConfig {
        self.config
    }

    /// The lease store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Tries to become leader with one compare-and-set on the store. Returns the leadership
    /// if the node leads now (already, or newly granted), `None` if someone else holds the
    /// lease, if the grant arrived so late that the node's clock says it can no longer be
    /// trusted (the node then steps down at once and campaigns again later), if the node
    /// resigned while the request was in flight, or if another request of this node is in
    /// flight (none is sent then).
    pub fn campaign(&self) -> Result<Option<Leadership>, LeaseError> {
        let mut state = self.lock();
        let now = self.clock.now();
        if let Some(l) = self.check(&mut state, now) {
            return Ok(Some(l));
        }
        let Some(sent) = self.send(&mut state, now) else {
            return Ok(None);
        };
        drop(state);
        let answer = self.store.acquire(self.node, self.config.lease);
        sent.receive(self.lock(), answer)
    }

    /// The node's periodic step: a follower campaigns; a leader steps down if its clock says
    /// the lease may have run out, and renews if `renew_every` has passed since its last
    /// grant or renewal (unless a request of its own is still in flight). Returns the
    /// leadership after the step.
    ///
    /// A renewal the store refuses ([`LeaseError::NotHolder`]) makes the node step down. An
    /// unavailable store leaves the node leading until its own clock says stop: that is what
    /// the lease is for.
    pub fn heartbeat(&self) -> Result<Option<Leadership>, LeaseError> {
        let mut state = self.lock();
        let now = self.clock.now();
        let Role::Leader {
            token, asked_at, ..
        } = state.role
        else {
            drop(state);
            return self.campaign();
        };
        let Some(current) = self.check(&mut state, now) else {
            return Ok(None);
        };
        if now.saturating_duration_since(asked_at) < self.config.renew_every {
            return Ok(Some(current));
        }
        let Some(sent) = self.send(&mut state, now) else {
            return Ok(Some(current));
        };
        drop(state);
        let answer = self.store.renew(self.node, token, self.config.lease);
        sent.receive(self.lock(), answer)
    }

    /// Whether the node leads, by its own clock, right now: `Some` with the token to tag the
    /// next action with, or `None` (stepping down if the lease can no longer be trusted).
    /// Does not talk to the store, and does not wait for a request in flight: a renewal on
    /// its way leaves the node leading on its current lease until its answer is applied.
    pub fn leadership(&self) -> Option<Leadership> {
        let mut state = self.lock();
        let now = self.clock.now();
        let l = self.check(&mut state, now)?;
        self.observer.emit(|| Event::Trusted {
            node: self.node,
            token: l.token,
            local: now,
        });
        Some(l)
    }

    /// What the node believes right now, without reading its clock or stepping down: the
    /// leadership it holds, even one its clock already says can no longer be trusted (the
    /// next [`leadership`](LeaderElector::leadership), [`heartbeat`](LeaderElector::heartbeat)
    /// or [`campaign`](LeaderElector::campaign) steps down then). An inspection for tools and
    /// tests (`coordlab drive` reads a node's state with it); act only on `leadership`.
    pub fn believed(&self) -> Option<Leadership> {
        match self.lock().role {
            Role::Follower => None,
            Role::Leader {
                token,
                trusted_until,
                ..
            } => Some(Leadership {
                token,
                trusted_until,
            }),
        }
    }

    /// Stops leading and gives the lease back so another node can take it at once. A store
    /// that refuses the release ([`LeaseError::NotHolder`]) already let the lease go; that is
    /// not an error. A request in flight when the node resigns is not applied when its answer
    /// comes: the node stays a follower, and a lease granted by it is handed back too.
    pub fn resign(&self) -> Result<(), LeaseError> {
        let mut state = self.lock();
        state.supersede();
        let Role::Leader { token, .. } = state.role else {
            return Ok(());
        };
        self.step_down(&mut state, StepDownReason::Resigned);
        drop(state);
        self.hand_back(token)
    }

    /// Notes a request as sent at `now`, if none is in flight.
    fn send(&self, state: &mut State, now: Instant) -> Option<Sent<'_, S, C>> {
        if state.in_flight {
            return None;
        }
        state.in_flight = true;
        Some(Sent {
            elector: self,
            epoch: state.epoch,
            asked_at: now,
            answered: false,
        })
    }

    /// Releases the lease with `token`, which the node no longer uses; a lease already gone is
    /// fine.
    fn hand_back(&self, token: FencingToken) -> Result<(), LeaseError> {
        match self.store.release(self.node, token) {
            Ok(()) | Err(LeaseError::NotHolder { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The leadership if the lease is still trusted at `now`; otherwise steps down.
    fn check(&self, state: &mut State, now: Instant) -> Option<Leadership> {
        match state.role {
            Role::Follower => None,
            Role::Leader {
                token,
                trusted_until,
                ..
            } if now < trusted_until => Some(Leadership {
                token,
                trusted_until,
            }),
            Role::Leader { .. } => {
                self.step_down(state, StepDownReason::LeaseUntrusted);
                None
            }
        }
    }

    /// Becomes (or stays) leader with `token`, the request having been sent at `asked_at`;
    /// returns the leadership if the lease is still trusted now (the store may have answered
    /// so late that it is not: then the node steps down at once).
    fn lead(
        &self,
        state: &mut State,
        token: FencingToken,
        asked_at: Instant,
    ) -> Option<Leadership> {
        let trusted_until = asked_at.saturating_add(self.config.lease - self.margin());
        state.role = Role::Leader {
            token,
            asked_at,
            trusted_until,
        };
        self.observer.emit(|| Event::Leading {
            node: self.node,
            token,
            local: asked_at,
            trusted_until,
        });
        self.check(state, self.clock.now())
    }

    fn step_down(&self, state: &mut State, reason: StepDownReason) {
        if let Role::Leader { token, .. } = state.role {
            state.role = Role::Follower;
            state.supersede();
            self.observer.emit(|| Event::SteppedDown {
                node: self.node,
                token,
                reason,
            });
        }
    }

    /// How much of the lease the node gives up to cover its clock's drift.
    fn margin(&self) -> Duration {
        #[cfg(any(test, loom, shuttle, feature = "deviations"))]
        if self.deviation == Some(Deviation::NoClockMargin) {
            return Duration::ZERO;
        }
        self.config.max_drift
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every field is written whole, and a request in flight is noted before the lock is
        // dropped: a panic elsewhere cannot leave the state half-updated.
        self.state
            .lock()
            .unwrap_or_else(crate::sync::PoisonError::into_inner)
    }
}

impl<S, C> std::fmt::Debug for LeaderElector<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("LeaderElector");
        d.field("node", &self.node).field("config", &self.config);
        match self.state.try_lock() {
            Ok(r) => d.field("role", &r.role).field("in_flight", &r.in_flight),
            Err(_) => d.field("role", &"<locked>"),
        };
        d.finish()
    }
}
