//! The lease store: a linearizable register holding the lease's holder, its expiry and a
//! fencing token that grows with every grant.

use std::time::Duration;

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
use super::Deviation;
use super::event::{Event, FencingToken, NodeId, Observed, Observer};
use crate::clock::{Clock, Instant};
use crate::sync::{Arc, Mutex, MutexGuard};

/// A lease as the store granted it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Lease {
    /// Who holds it.
    pub holder: NodeId,
    /// The grant's fencing token.
    pub token: FencingToken,
    /// When it expires, on the store's clock. The holder cannot read the store's clock; it
    /// measures the lease on its own (see [`super::LeaderElector`]).
    pub expires_at: Instant,
}

/// Why the store refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// `acquire`: someone holds an unexpired lease.
    #[error("the lease is held by {} with {} until {}", .0.holder, .0.token, .0.expires_at)]
    Held(Lease),
    /// `renew` / `release`: the caller's lease is not the current one any more (it expired, or
    /// was released, or someone else was granted the lease since).
    #[error("{node}'s lease with {token} is no longer current")]
    NotHolder {
        /// The caller.
        node: NodeId,
        /// The token it presented.
        token: FencingToken,
    },
    /// A remote store could not be reached or did not answer in time; the request may or may
    /// not have taken effect. (The in-memory store never returns it.)
    #[error("the lease store is unavailable: {0}")]
    Unavailable(String),
}

/// What a lease store must provide: three linearizable operations on one register, plus a
/// read. This is the contract of etcd's leases with a compare-and-swap transaction, of a
/// ZooKeeper ephemeral node, or of Consul's sessions; put a client for one of them behind
/// this trait to elect leaders across processes.
///
/// Tokens: every successful [`acquire`](LeaseStore::acquire) returns a token greater than
/// every token returned before. Expiry is judged on the store's own clock.
pub trait LeaseStore: Send + Sync {
    /// Grants the lease to `node` for `ttl` if it is free (never granted, released, or
    /// expired), in one atomic step; else [`LeaseError::Held`].
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError>;

    /// Extends the lease to `ttl` from now if `node` still holds it with `token` and it has not
    /// expired; else [`LeaseError::NotHolder`].
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError>;

    /// Gives the lease back if `node` still holds it with `token`; else
    /// [`LeaseError::NotHolder`]. The next grant still gets a higher token.
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError>;

    /// The current unexpired lease, if any.
    fn current(&self) -> Result<Option<Lease>, LeaseError>;
}

impl<S: LeaseStore + ?Sized> LeaseStore for &S {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        (**self).acquire(node, ttl)
    }
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        (**self).renew(node, token, ttl)
    }
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        (**self).release(node, token)
    }
    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        (**self).current()
    }
}

impl<S: LeaseStore + ?Sized> LeaseStore for Arc<S> {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        (**self).acquire(node, ttl)
    }
    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        (**self).renew(node, token, ttl)
    }
    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        (**self).release(node, token)
    }
    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        (**self).current()
    }
}

/// The register.
#[derive(Debug, Default)]
struct Register {
    /// The last lease granted, unless released. It may have expired.
    lease: Option<Lease>,
    /// The highest token granted so far (0: none).
    last_token: u64,
    /// The latest clock reading, so time never goes backwards in lock order.
    now: Instant,
}

impl Register {
    /// The lease, if it has not expired at `now`.
    fn live(&self, now: Instant) -> Option<Lease> {
        self.lease.filter(|l| now < l.expires_at)
    }
}

/// An in-process [`LeaseStore`]: one register behind one lock, expiring leases against a
/// [`Clock`]. Linearizable: every operation takes effect at one point inside its critical
/// section, where it also reads the clock.
pub struct InMemoryLeaseStore<C> {
    register: Mutex<Register>,
    clock: C,
    observer: Observed,
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    deviation: Option<Deviation>,
}

impl<C: Clock> InMemoryLeaseStore<C> {
    /// A store with no lease granted, reading time from `clock`.
    pub fn new(clock: C) -> InMemoryLeaseStore<C> {
        InMemoryLeaseStore {
            register: Mutex::new(Register::default()),
            clock,
            observer: Observed::none(),
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation: None,
        }
    }

    /// Reports every grant, renewal and release to `observer`, from inside the store's lock.
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> InMemoryLeaseStore<C> {
        self.observer.set(observer);
        self
    }

    /// Switches a protocol bug on (tests only): [`Deviation::CheckThenSet`] splits `acquire`
    /// into a read and a later blind write; [`Deviation::NoLeaseExpiry`] grants and renews
    /// leases that never run out. Other deviations do not concern the store.
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    pub fn with_deviation(mut self, deviation: Option<Deviation>) -> InMemoryLeaseStore<C> {
        self.deviation = deviation;
        self
    }

    /// The highest token granted so far, if any. Does not read the clock.
    pub fn last_token(&self) -> Option<FencingToken> {
        let last = self.lock().last_token;
        (last > 0).then(|| FencingToken::new(last))
    }

    /// The store's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The register, locked.
    fn lock(&self) -> MutexGuard<'_, Register> {
        // A panic under this lock leaves a half-updated register: spread it.
        self.register
            .lock()
            .expect("lease store lock poisoned: a thread panicked inside the store")
    }

    /// The register, locked, and the time read under the lock: every operation that judges
    /// the lease reads the clock itself, at the point where it takes effect (the latest
    /// reading so far, so time never goes backwards in lock order).
    fn lock_now(&self) -> (MutexGuard<'_, Register>, Instant) {
        let mut r = self.lock();
        r.now = r.now.max(self.clock.now());
        let now = r.now;
        (r, now)
    }

    fn grant(
        &self,
        r: &mut Register,
        node: NodeId,
        token: u64,
        now: Instant,
        ttl: Duration,
    ) -> Lease {
        let lease = Lease {
            holder: node,
            token: FencingToken::new(token),
            expires_at: now.saturating_add(self.ttl(ttl)),
        };
        r.lease = Some(lease);
        r.last_token = token;
        self.observer.emit(|| Event::Granted {
            node,
            token: lease.token,
            expires_at: lease.expires_at,
        });
        lease
    }

    /// The time to live a grant or renewal gets: `ttl`, or forever under
    /// [`Deviation::NoLeaseExpiry`].
    fn ttl(&self, ttl: Duration) -> Duration {
        #[cfg(any(test, loom, shuttle, feature = "deviations"))]
        if self.deviation == Some(Deviation::NoLeaseExpiry) {
            return Duration::MAX;
        }
        ttl
    }

    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    fn check_then_set(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        let token = {
            let (r, now) = self.lock_now();
            if let Some(held) = r.live(now) {
                return Err(LeaseError::Held(held));
            }
            r.last_token + 1
        };
        // The lock is dropped here: another node may read the same free lease, or be granted
        // it, before this blind write. The read is reported outside the lock, so an observer
        // may hold this node between its read and its write (`coordlab drive` does).
        self.observer.emit(|| Event::ReadFree {
            node,
            token: FencingToken::new(token),
        });
        let (mut r, now) = self.lock_now();
        Ok(self.grant(&mut r, node, token, now, ttl))
    }
}

impl<C: Clock> LeaseStore for InMemoryLeaseStore<C> {
    fn acquire(&self, node: NodeId, ttl: Duration) -> Result<Lease, LeaseError> {
        #[cfg(any(test, loom, shuttle, feature = "deviations"))]
        if self.deviation == Some(Deviation::CheckThenSet) {
            return self.check_then_set(node, ttl);
        }
        let (mut r, now) = self.lock_now();
        if let Some(held) = r.live(now) {
            return Err(LeaseError::Held(held));
        }
        let token = r.last_token + 1;
        Ok(self.grant(&mut r, node, token, now, ttl))
    }

    fn renew(&self, node: NodeId, token: FencingToken, ttl: Duration) -> Result<Lease, LeaseError> {
        let (mut r, now) = self.lock_now();
        match r.live(now) {
            Some(mut lease) if lease.holder == node && lease.token == token => {
                lease.expires_at = now.saturating_add(self.ttl(ttl));
                r.lease = Some(lease);
                self.observer.emit(|| Event::Renewed {
                    node,
                    token,
                    expires_at: lease.expires_at,
                });
                Ok(lease)
            }
            _ => Err(LeaseError::NotHolder { node, token }),
        }
    }

    fn release(&self, node: NodeId, token: FencingToken) -> Result<(), LeaseError> {
        let (mut r, now) = self.lock_now();
        match r.live(now) {
            Some(lease) if lease.holder == node && lease.token == token => {
                r.lease = None;
                self.observer.emit(|| Event::Released { node, token });
                Ok(())
            }
            _ => Err(LeaseError::NotHolder { node, token }),
        }
    }

    fn current(&self) -> Result<Option<Lease>, LeaseError> {
        let (r, now) = self.lock_now();
        Ok(r.live(now))
    }
}

impl<C> std::fmt::Debug for InMemoryLeaseStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("InMemoryLeaseStore");
        match self.register.try_lock() {
            Ok(r) => d.field("register", &*r),
            Err(_) => d.field("register", &"<locked>"),
        };
        d.field("observer", &self.observer).finish()
    }
}
