//! Storage that fences off deposed leaders: it remembers the highest fencing token it accepted
//! and refuses writes with a lower one.

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
use super::Deviation;
use super::event::{Event, FencingToken, NodeId, Observed, Observer};
use crate::sync::{Mutex, MutexGuard};

/// Why storage refused a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// A write with a higher token was accepted before: the writer's lease is no longer the
    /// newest.
    #[error("stale {token}: storage already accepted {highest}")]
    StaleToken {
        /// The write's token.
        token: FencingToken,
        /// The highest token accepted so far.
        highest: FencingToken,
    },
}

struct Cell<T> {
    highest: Option<FencingToken>,
    value: Option<(FencingToken, T)>,
    accepted: u64,
    rejected: u64,
}

/// A single value written by leaders, fenced by token: a write whose token is lower than the
/// highest accepted so far is refused. Equal tokens are accepted (one leader writes many
/// times under one lease).
pub struct FencedStorage<T> {
    cell: Mutex<Cell<T>>,
    observer: Observed,
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    deviation: Option<Deviation>,
}

/// How many writes storage accepted and refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Accepted writes.
    pub accepted: u64,
    /// Refused writes.
    pub rejected: u64,
}

impl<T> FencedStorage<T> {
    /// Empty storage.
    pub fn new() -> FencedStorage<T> {
        FencedStorage {
            cell: Mutex::new(Cell {
                highest: None,
                value: None,
                accepted: 0,
                rejected: 0,
            }),
            observer: Observed::none(),
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation: None,
        }
    }

    /// Reports every write to `observer`, from inside storage's lock.
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> FencedStorage<T> {
        self.observer.set(observer);
        self
    }

    /// Switches a protocol bug on (tests only): [`Deviation::NoFencing`] accepts every write.
    /// Other deviations do not concern storage.
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    pub fn with_deviation(mut self, deviation: Option<Deviation>) -> FencedStorage<T> {
        self.deviation = deviation;
        self
    }

    /// Writes `value` if `token` is at least the highest token accepted so far. `writer` is
    /// for the event log only.
    pub fn write(&self, writer: NodeId, token: FencingToken, value: T) -> Result<(), WriteError> {
        let mut cell = self.lock();
        let highest = cell.highest;
        let stale = highest.filter(|&h| token < h);
        #[cfg(any(test, loom, shuttle, feature = "deviations"))]
        let stale = stale.filter(|_| self.deviation != Some(Deviation::NoFencing));
        self.observer.emit(|| Event::Write {
            node: writer,
            token,
            accepted: stale.is_none(),
            highest,
        });
        if let Some(highest) = stale {
            cell.rejected += 1;
            return Err(WriteError::StaleToken { token, highest });
        }
        cell.accepted += 1;
        cell.highest = cell.highest.max(Some(token));
        cell.value = Some((token, value));
        Ok(())
    }

    /// The highest token accepted so far.
    pub fn highest_token(&self) -> Option<FencingToken> {
        self.lock().highest
    }

    /// How many writes were accepted and refused.
    pub fn counts(&self) -> WriteCounts {
        let cell = self.lock();
        WriteCounts {
            accepted: cell.accepted,
            rejected: cell.rejected,
        }
    }

    /// The last accepted value and its token.
    pub fn read(&self) -> Option<(FencingToken, T)>
    where
        T: Clone,
    {
        self.lock().value.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Cell<T>> {
        // Every field is written after the only fallible step: a panic cannot tear the cell.
        self.cell
            .lock()
            .unwrap_or_else(crate::sync::PoisonError::into_inner)
    }
}

impl<T> Default for FencedStorage<T> {
    fn default() -> FencedStorage<T> {
        FencedStorage::new()
    }
}

impl<T> std::fmt::Debug for FencedStorage<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("FencedStorage");
        if let Ok(c) = self.cell.try_lock() {
            d.field("highest", &c.highest)
                .field("accepted", &c.accepted)
                .field("rejected", &c.rejected);
        }
        d.finish_non_exhaustive()
    }
}
