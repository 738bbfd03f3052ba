//! The idempotent-consumer helper.

use std::collections::BTreeSet;

use crate::sync::{Mutex, MutexGuard, PoisonError};

/// What [`IdempotencyLedger::apply_once`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApplyOutcome<R> {
    /// The key was new: the effect ran (and returned this) and the key is now recorded.
    Applied(R),
    /// The key was already recorded: the effect did not run.
    Duplicate,
}

/// Remembers which idempotency keys (typically message ids) have had their effect, so that an
/// at-least-once queue gives at-most-once effects.
///
/// The check, the effect and the record happen under one lock, so two consumers holding two
/// deliveries of the same message cannot both apply it. The price: effects under one ledger
/// run one at a time; keep them short, or make the ledger part of the store the effect writes
/// to (the same transaction records the key). The ledger is in memory and grows by one key per
/// message; a real deployment needs it durable and pruned (e.g. keys older than the queue's
/// retention).
#[derive(Debug)]
pub struct IdempotencyLedger<K> {
    applied: Mutex<BTreeSet<K>>,
}

impl<K: Ord> IdempotencyLedger<K> {
    /// An empty ledger.
    pub fn new() -> IdempotencyLedger<K> {
        IdempotencyLedger {
            applied: Mutex::new(BTreeSet::new()),
        }
    }

    /// Runs `effect` and records `key`, unless `key` is already recorded.
    pub fn apply_once<R>(&self, key: K, effect: impl FnOnce() -> R) -> ApplyOutcome<R> {
        let mut applied = self.lock();
        if applied.contains(&key) {
            return ApplyOutcome::Duplicate;
        }
        let result = effect();
        applied.insert(key);
        ApplyOutcome::Applied(result)
    }

    /// Like [`apply_once`](Self::apply_once) for a fallible effect: the key is recorded only if
    /// the effect succeeds, so a failed effect can be retried by a later delivery.
    pub fn try_apply_once<R, E>(
        &self,
        key: K,
        effect: impl FnOnce() -> Result<R, E>,
    ) -> Result<ApplyOutcome<R>, E> {
        let mut applied = self.lock();
        if applied.contains(&key) {
            return Ok(ApplyOutcome::Duplicate);
        }
        let result = effect()?;
        applied.insert(key);
        Ok(ApplyOutcome::Applied(result))
    }

    /// Whether `key`'s effect has been applied.
    pub fn contains(&self, key: &K) -> bool {
        self.lock().contains(key)
    }

    /// How many keys are recorded.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeSet<K>> {
        // Poisoned only if an effect panicked; its key was not recorded, so the set is intact.
        self.applied.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Ord> Default for IdempotencyLedger<K> {
    fn default() -> IdempotencyLedger<K> {
        IdempotencyLedger::new()
    }
}
