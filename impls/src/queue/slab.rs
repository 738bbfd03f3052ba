//! The messages a queue holds, by id. Ids are handed out in order (0, 1, 2, …) and most
//! messages leave in about the order they came, so the store is a window of slots over the
//! ids `base..next_id`: a lookup is an index, a send a push at the back, and the empty slots
//! at the front are dropped as messages leave. A message that stays long while those behind it
//! leave (a poison message on retry, a slow consumer) would keep the window wide open; once
//! empty slots outnumber the held messages two to one, the front messages move to an ordered
//! side map and the window closes up behind them, so the store stays within a constant factor
//! of the messages held.

use std::collections::{BTreeMap, VecDeque};

use super::event::MessageId;

/// Empty slots tolerated in the window before the front is moved out, whatever the count of
/// held messages (a small queue need not compact at all).
const SLACK: usize = 1024;

#[derive(Debug)]
pub(super) struct Slab<M> {
    /// The id of `slots[0]`; `base + slots.len()` is the next id to be sent.
    base: u64,
    slots: VecDeque<Option<M>>,
    /// Messages with ids below `base`, moved out of the window.
    old: BTreeMap<MessageId, M>,
    /// Messages held in `slots`.
    in_slots: usize,
}

impl<M> Slab<M> {
    #[cfg(test)]
    pub(super) fn new() -> Self {
        Slab::starting_at(0)
    }

    /// An empty store whose first message will have id `first`.
    pub(super) fn starting_at(first: u64) -> Self {
        Slab {
            base: first,
            slots: VecDeque::new(),
            old: BTreeMap::new(),
            in_slots: 0,
        }
    }

    /// How many messages are held.
    pub(super) fn len(&self) -> usize {
        self.in_slots + self.old.len()
    }

    /// Adds the message with the next id, which must be `id`.
    pub(super) fn push(&mut self, id: MessageId, message: M) {
        assert_eq!(
            id.get(),
            self.base + self.slots.len() as u64,
            "messages are added in id order"
        );
        self.slots.push_back(Some(message));
        self.in_slots += 1;
    }

    fn index(&self, id: MessageId) -> Option<usize> {
        let offset = id.get().checked_sub(self.base)?;
        usize::try_from(offset).ok()
    }

    pub(super) fn get(&self, id: MessageId) -> Option<&M> {
        match self.index(id) {
            Some(i) => self.slots.get(i)?.as_ref(),
            None => self.old.get(&id),
        }
    }

    pub(super) fn get_mut(&mut self, id: MessageId) -> Option<&mut M> {
        match self.index(id) {
            Some(i) => self.slots.get_mut(i)?.as_mut(),
            None => self.old.get_mut(&id),
        }
    }

    pub(super) fn remove(&mut self, id: MessageId) -> Option<M> {
        let message = match self.index(id) {
            Some(i) => {
                let m = self.slots.get_mut(i)?.take()?;
                self.in_slots -= 1;
                m
            }
            None => return self.old.remove(&id),
        };
        self.trim();
        Some(message)
    }

    /// Removes the message and drops it where it lies, returning what `read` saw of it first:
    /// no copy of the message is made, which [`remove`](Self::remove) needs to hand it over.
    pub(super) fn discard<R>(&mut self, id: MessageId, read: impl FnOnce(&M) -> R) -> Option<R> {
        let seen = match self.index(id) {
            Some(i) => {
                let slot = self.slots.get_mut(i)?;
                let seen = read(slot.as_ref()?);
                *slot = None;
                self.in_slots -= 1;
                seen
            }
            None => return self.old.remove(&id).map(|m| read(&m)),
        };
        self.trim();
        Some(seen)
    }

    /// Drops the empty slots at the front, and moves front messages out while the window is
    /// mostly empty.
    fn trim(&mut self) {
        loop {
            match self.slots.front() {
                Some(None) => {
                    self.slots.pop_front();
                    self.base += 1;
                }
                Some(Some(_)) if self.slots.len() > 2 * self.in_slots + SLACK => {
                    let m = self.slots.pop_front().flatten().expect("front is held");
                    self.old.insert(MessageId::new(self.base), m);
                    self.in_slots -= 1;
                    self.base += 1;
                }
                _ => return,
            }
        }
    }

    /// Every held message with its id, in id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (MessageId, &M)> {
        let base = self.base;
        self.old.iter().map(|(&id, m)| (id, m)).chain(
            self.slots
                .iter()
                .enumerate()
                .filter_map(move |(i, m)| Some((MessageId::new(base + i as u64), m.as_ref()?))),
        )
    }

    /// The window's bookkeeping, for the core's invariant check.
    pub(super) fn check(&self) {
        assert_eq!(
            self.slots.iter().filter(|m| m.is_some()).count(),
            self.in_slots,
            "slab: held count"
        );
        assert!(
            !matches!(self.slots.front(), Some(None)),
            "slab: an empty slot at the front"
        );
        assert!(
            self.old.keys().all(|id| id.get() < self.base),
            "slab: a moved-out message inside the window"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message that stays while 10,000 behind it come and go: the window does not grow
    /// with them, and every lookup still finds its message.
    #[test]
    fn a_message_that_stays_does_not_hold_the_window_open() {
        let mut slab = Slab::new();
        slab.push(MessageId::new(0), "poison");
        for i in 1..10_000u64 {
            slab.push(MessageId::new(i), "ok");
            assert_eq!(slab.remove(MessageId::new(i)), Some("ok"));
            assert!(slab.slots.len() <= 2 * slab.in_slots + SLACK + 1, "{i}");
        }
        assert_eq!(slab.get(MessageId::new(0)), Some(&"poison"));
        assert_eq!(slab.len(), 1);
        slab.check();
        assert_eq!(slab.remove(MessageId::new(0)), Some("poison"));
        assert_eq!(slab.len(), 0);
        slab.push(MessageId::new(10_000), "next");
        assert_eq!(slab.get(MessageId::new(10_000)), Some(&"next"));
        assert_eq!(slab.get(MessageId::new(9_999)), None);
        slab.check();
    }

    /// Removes in any order leave exactly the others, found by id, in id order.
    #[test]
    fn removes_in_any_order_keep_the_rest() {
        let mut slab = Slab::new();
        for i in 0..3000u64 {
            slab.push(MessageId::new(i), i);
        }
        for i in (0..3000u64).filter(|i| i % 3 != 1) {
            assert_eq!(slab.remove(MessageId::new(i)), Some(i));
            assert_eq!(slab.remove(MessageId::new(i)), None);
        }
        slab.check();
        let left: Vec<u64> = slab
            .iter()
            .map(|(id, &m)| {
                assert_eq!(id.get(), m);
                m
            })
            .collect();
        assert_eq!(left, (0..3000).filter(|i| i % 3 == 1).collect::<Vec<_>>());
    }
}
