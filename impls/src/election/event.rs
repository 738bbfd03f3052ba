//! Identifiers, fencing tokens and the event log, in the election model's action vocabulary.

use std::fmt;

use crate::clock::Instant;
use crate::sync::{Arc, Mutex};

/// A node's identity. The lease store records it as the holder; storage logs it with each
/// write (storage never trusts it: only the token decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A fencing token: the number of the grant that made its holder leader. A correct lease store
/// hands out strictly increasing tokens, one per grant (etcd's revision, ZooKeeper's zxid);
/// storage that remembers the highest token it accepted can then refuse a deposed leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct FencingToken(u64);

impl FencingToken {
    /// The token numbered `n` (the `n`-th grant; the first grant is 1).
    pub const fn new(n: u64) -> FencingToken {
        FencingToken(n)
    }

    /// The token's number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {}", self.0)
    }
}

/// Why a leader stopped leading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum StepDownReason {
    /// Its own clock says the lease can no longer be trusted (less than the drift bound left).
    LeaseUntrusted,
    /// The lease store refused a renewal: the lease expired or someone else holds it.
    RenewRefused,
    /// The node resigned.
    Resigned,
}

/// One step of an election, as the lease store, an elector or storage saw it. Each component
/// reports its events from inside its own critical section, so events from one component
/// arrive at an [`Observer`] in that component's linearization order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(
        tag = "event",
        rename_all = "kebab-case",
        rename_all_fields = "kebab-case"
    )
)]
pub enum Event {
    /// Lease store: `node` was granted the lease with `token`, expiring at `expires_at` on the
    /// store's clock (the model's `Acquire`, or `WriteLease` under check-then-set).
    Granted {
        /// The new holder.
        node: NodeId,
        /// The grant's fencing token.
        token: FencingToken,
        /// When the lease expires, store time.
        expires_at: Instant,
    },
    /// Lease store, check-then-set deviation only: `node` read the lease, found it free, and
    /// will write itself in with `token` (the model's `ReadLease`).
    ReadFree {
        /// The reader.
        node: NodeId,
        /// The token it will write.
        token: FencingToken,
    },
    /// Lease store: the holder extended its lease (the model's `Renew`).
    Renewed {
        /// The holder.
        node: NodeId,
        /// Its token (unchanged by a renewal).
        token: FencingToken,
        /// The new expiry, store time.
        expires_at: Instant,
    },
    /// Lease store: the holder gave the lease back before it expired.
    Released {
        /// The former holder.
        node: NodeId,
        /// Its token.
        token: FencingToken,
    },
    /// Elector: `node` believes it leads with `token` until its own clock reads `trusted_until`
    /// (after a grant or a renewal; `local` is its clock when it sent the request).
    Leading {
        /// The node.
        node: NodeId,
        /// The lease's token.
        token: FencingToken,
        /// The node's clock when it sent the request the store granted.
        local: Instant,
        /// The node trusts the lease while its clock reads earlier than this.
        trusted_until: Instant,
    },
    /// Elector: `node` checked its lease, trusted it, and will act as leader (the model's
    /// `PrepareWrite`).
    Trusted {
        /// The node.
        node: NodeId,
        /// The lease's token.
        token: FencingToken,
        /// The node's clock at the check.
        local: Instant,
    },
    /// Elector: `node` stopped believing it leads (the model's `StepDown`).
    SteppedDown {
        /// The node.
        node: NodeId,
        /// The token it held.
        token: FencingToken,
        /// Why.
        reason: StepDownReason,
    },
    /// Storage: a write tagged with `token` arrived from `node` (the model's `StorageWrite`).
    Write {
        /// The writer, as it said (for the log only).
        node: NodeId,
        /// The write's token.
        token: FencingToken,
        /// Whether storage accepted it.
        accepted: bool,
        /// The highest token storage had accepted before this write.
        highest: Option<FencingToken>,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Granted {
                node,
                token,
                expires_at,
            } => write!(
                f,
                "store grants the lease to {node} with {token}, expiring at {expires_at}"
            ),
            Event::ReadFree { node, token } => write!(
                f,
                "{node} reads the lease: free; it will write itself in with {token}"
            ),
            Event::Renewed {
                node,
                token,
                expires_at,
            } => write!(
                f,
                "store renews {node}'s lease ({token}) until {expires_at}"
            ),
            Event::Released { node, token } => {
                write!(f, "{node} releases its lease ({token})")
            }
            Event::Leading {
                node,
                token,
                local,
                trusted_until,
            } => write!(
                f,
                "{node} leads with {token}: asked at {local} on its clock, trusts the lease until {trusted_until}"
            ),
            Event::Trusted { node, token, local } => write!(
                f,
                "{node} checks its lease ({token}) at {local} on its clock: trusted, acts as leader"
            ),
            Event::SteppedDown {
                node,
                token,
                reason,
            } => {
                let why = match reason {
                    StepDownReason::LeaseUntrusted => "its clock says the lease may have run out",
                    StepDownReason::RenewRefused => "the store refused to renew",
                    StepDownReason::Resigned => "it resigned",
                };
                write!(f, "{node} steps down ({token}): {why}")
            }
            Event::Write {
                node,
                token,
                accepted,
                highest,
            } => {
                let seen = highest.map_or_else(
                    || "no token accepted before".to_owned(),
                    |h| format!("highest accepted {h}"),
                );
                let verdict = if *accepted { "ACCEPTED" } else { "rejected" };
                write!(
                    f,
                    "storage: write from {node} with {token} {verdict} ({seen})"
                )
            }
        }
    }
}

/// Receives a component's events. Called from inside the component's critical section: keep
/// it short, and never call back into the component.
pub trait Observer: Send + Sync {
    /// One event.
    fn observe(&self, event: Event);
}

/// An [`Observer`] that keeps every event in memory, in arrival order. Clones share one log,
/// so one log can observe the store, every elector and storage at once.
#[derive(Clone, Default)]
pub struct EventLog {
    events: Arc<Mutex<Vec<Event>>>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> EventLog {
        EventLog::default()
    }

    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().clone()
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Vec<Event>> {
        self.events
            .lock()
            .unwrap_or_else(crate::sync::PoisonError::into_inner)
    }
}

impl Observer for EventLog {
    fn observe(&self, event: Event) {
        self.lock().push(event);
    }
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("events", &self.lock().len())
            .finish()
    }
}

/// A component's optional observer.
pub(crate) struct Observed(Option<Box<dyn Observer>>);

impl Observed {
    pub(crate) fn none() -> Observed {
        Observed(None)
    }

    pub(crate) fn set(&mut self, observer: impl Observer + 'static) {
        self.0 = Some(Box::new(observer));
    }

    pub(crate) fn emit(&self, event: impl FnOnce() -> Event) {
        if let Some(o) = &self.0 {
            o.observe(event());
        }
    }
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "observed"
        } else {
            "unobserved"
        })
    }
}
