//! `deque`: a bounded Chase–Lev work-stealing deque.
//!
//! One [`Worker`] (the owner) pushes and pops tasks at the *bottom*, last in first out; any
//! number of [`Stealer`]s take them from the *top*, first in first out. The owner's operations
//! touch no lock and, except when one task is left, no read-modify-write; a steal is one
//! compare-and-swap.
//!
//! ```
//! use coordlab_impls::deque::{Full, Steal, deque};
//! # // Under `--cfg loom` / `--cfg shuttle` the deque's atomics only work inside a model.
//! # if coordlab_impls::sync::ENGINE != "std" { return; }
//!
//! let (worker, stealer) = deque::<usize>(2);
//! worker.push(1).unwrap();
//! worker.push(2).unwrap();
//! // The ring is full: the task comes back to the caller.
//! assert_eq!(worker.push(3), Err(Full(3)));
//!
//! let thief = std::thread::spawn({
//!     let stealer = stealer.clone();
//!     move || loop {
//!         match stealer.steal() {
//!             Steal::Success(task) => break Some(task),
//!             Steal::Empty => break None,
//!             Steal::Retry => continue, // lost a race for the top task: try again
//!         }
//!     }
//! });
//! let mine = worker.pop(); // the newest task, unless the thief took it first
//! let theirs = thief.join().unwrap();
//! let rest = worker.pop();
//! let mut all: Vec<usize> = [mine, theirs, rest].into_iter().flatten().collect();
//! all.sort();
//! assert_eq!(all, [1, 2]); // each task taken exactly once
//! assert_eq!(stealer.steal(), Steal::Empty);
//! ```
//!
//! # Shape
//!
//! - A fixed ring of `capacity.next_power_of_two()` slots (at least one), and two counters,
//!   `top` and `bottom`: the deque holds the tasks at indices `top..bottom`, index `i` in slot
//!   `i mod ring`. The counters are full-width [`isize`]s that only the slot position is ever
//!   masked from: `top` never decreases, so a thief's compare-and-swap on it cannot succeed on
//!   a stale value (no ABA; it would take 2^63 operations to wrap).
//! - No growth: [`Worker::push`] on a deque holding `capacity` tasks returns [`Full`] with the
//!   task, and the caller sends it elsewhere (a pool's shared queue, say). So there is no buffer
//!   to swap and none to reclaim.
//! - Slots are atomic words, and a task travels through one as a [`Word`] (`usize` ids, or
//!   `Box<U>` as a pointer). Why atomic: a thief reads its slot *before* its compare-and-swap
//!   claims it, and after a wrap-around the owner may be overwriting that very slot — the
//!   thief's CAS then fails and it discards what it read, but with plain memory the read would
//!   still be a data race (crossbeam-deque 0.8 calls its volatile read "technically speaking a
//!   data race"). Atomic slots make the race benign and let loom check it.
//!
//! # Sources
//!
//! D. Chase and Y. Lev, "Dynamic circular work-stealing deque", SPAA 2005 (the algorithm:
//! `pushBottom`, `popBottom`, `steal`); N. M. Lê, A. Pop, A. Cohen and F. Zappa Nardelli,
//! "Correct and efficient work-stealing for weak memory models", PPoPP 2013, Fig. 1 (the C11
//! orderings used here, access for access; the comments at each access say what it pairs
//! with). The bug variants [`Deviation`] switches on are the `deque` model's
//! (`models/src/deque.rs`) plus two that only exist at the level of the memory model.
//!
//! # What is not checked
//!
//! The tests (`impls/tests/deque/`) run the deque under loom (every interleaving of an owner
//! and one or two thieves, 1–3 tasks, capacity 2, within a stated preemption bound), shuttle
//! (random and PCT schedules of an owner, two thieves and 8 tasks), proptest (single-threaded,
//! against a `VecDeque`) and real threads. What they do not cover:
//!
//! - **loom's memory model is not C11's.** loom weakens `SeqCst` *accesses* to `AcqRel` (here:
//!   the two compare-and-swaps on `top`; the Dekker-style argument rests on the explicit
//!   `fence(SeqCst)`s, which loom does model), so it may report false alarms but not miss
//!   those; and it does not explore load buffering (a load returning a store that comes later
//!   in its own thread's order), so a bug that needs it would go unseen.
//! - **shuttle runs every atomic as `SeqCst`**: it cannot find `relaxed-publish` or
//!   `no-seqcst-fence` (a test records that it does not), only the interleaving bugs.
//! - **Bounds.** loom proves the small scenarios only, up to their preemption bounds; shuttle
//!   samples schedules and proves nothing.
//! - **Counter overflow** (2^63 operations) and the order in which tasks come out beyond "the
//!   owner's newest, a thief's oldest" (no linearizability check) are not tested.

use std::cell::Cell;
use std::marker::PhantomData;

use crate::sync::Arc;
use crate::sync::atomic::{self, AtomicIsize, AtomicUsize, Ordering};

/// A value that travels through one machine word, so a slot can be an [`AtomicUsize`].
///
/// The deque calls [`Word::into_word`] once when a task is pushed and [`Word::from_word`] at
/// most once with that word, by the one thread whose pop or steal took the task (or by the
/// deque's destructor for a task nobody took).
pub trait Word: Sized {
    /// The value as a word; ownership passes to the word.
    fn into_word(self) -> usize;

    /// The value a word stands for; ownership passes back.
    ///
    /// # Safety
    ///
    /// `word` was returned by `into_word` of this type, and no other `from_word` call was or
    /// will be made with that same returned word.
    unsafe fn from_word(word: usize) -> Self;
}

impl Word for usize {
    fn into_word(self) -> usize {
        self
    }

    unsafe fn from_word(word: usize) -> usize {
        word
    }
}

impl<U> Word for Box<U> {
    fn into_word(self) -> usize {
        Box::into_raw(self) as usize
    }

    unsafe fn from_word(word: usize) -> Box<U> {
        // SAFETY: by this function's contract `word` is the address `Box::into_raw` returned
        // for a `Box<U>` in `into_word`, and it is turned back into a box only this once, so
        // the allocation is live and owned by nobody else.
        unsafe { Box::from_raw(word as *mut U) }
    }
}

/// [`Worker::push`] found the deque holding `capacity` tasks; the task is handed back.
#[derive(thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[error("the deque is full")]
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The task that was not pushed.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Shows `Full(..)`: the task need not be `Debug`.
impl<T> std::fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Full(..)")
    }
}

/// What a [`Stealer::steal`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Steal<T> {
    /// The deque was empty when the thief looked.
    Empty,
    /// The thief took the oldest task.
    Success(T),
    /// The thief lost a race for the oldest task (to the owner or another thief); the deque
    /// may hold more. Try again.
    Retry,
}

impl<T> Steal<T> {
    /// The stolen task, if any.
    pub fn success(self) -> Option<T> {
        match self {
            Steal::Success(task) => Some(task),
            Steal::Empty | Steal::Retry => None,
        }
    }
}

/// One shared-memory access of the deque, as a [`Hook`] is told about it (after it happened):
/// what was read or written, and with which ordering. Indices are unmasked; `slot` is the ring
/// position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load of `top` returned `value`.
    LoadTop {
        /// The index read.
        value: isize,
        /// The load's ordering.
        ordering: Ordering,
    },
    /// A load of `bottom` (by a thief: the owner keeps its own copy) returned `value`.
    LoadBottom {
        /// The index read.
        value: isize,
        /// The load's ordering.
        ordering: Ordering,
    },
    /// The owner stored `value` to `bottom`.
    StoreBottom {
        /// The index written.
        value: isize,
        /// The store's ordering.
        ordering: Ordering,
    },
    /// The owner wrote `word` to slot `slot` (for index `index`).
    WriteSlot {
        /// The ring position.
        slot: usize,
        /// The unmasked index the slot is written for.
        index: isize,
        /// The task's word.
        word: usize,
        /// The store's ordering.
        ordering: Ordering,
    },
    /// A load of slot `slot` (for index `index`) returned `word`.
    ReadSlot {
        /// The ring position.
        slot: usize,
        /// The unmasked index the slot is read for.
        index: isize,
        /// The word read.
        word: usize,
        /// The load's ordering.
        ordering: Ordering,
    },
    /// A compare-and-swap of `top` from `expected` to `expected + 1`; `found` is the value it
    /// saw (equal to `expected` exactly when it succeeded).
    CasTop {
        /// The index the CAS expected.
        expected: isize,
        /// The index it found.
        found: isize,
        /// The ordering on success (failure is `Relaxed`).
        ordering: Ordering,
    },
    /// A fence.
    Fence {
        /// The fence's ordering.
        ordering: Ordering,
    },
}

impl Access {
    /// Which access this is.
    pub fn kind(&self) -> AccessKind {
        match self {
            Access::LoadTop { .. } => AccessKind::LoadTop,
            Access::LoadBottom { .. } => AccessKind::LoadBottom,
            Access::StoreBottom { .. } => AccessKind::StoreBottom,
            Access::WriteSlot { .. } => AccessKind::WriteSlot,
            Access::ReadSlot { .. } => AccessKind::ReadSlot,
            Access::CasTop { .. } => AccessKind::CasTop,
            Access::Fence { .. } => AccessKind::Fence,
        }
    }
}

/// The kind of an [`Access`], as a [`Hook`] is told about it before it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessKind {
    /// A load of `top`.
    LoadTop,
    /// A load of `bottom`.
    LoadBottom,
    /// A store to `bottom`.
    StoreBottom,
    /// A store to a slot.
    WriteSlot,
    /// A load of a slot.
    ReadSlot,
    /// A compare-and-swap of `top`.
    CasTop,
    /// A fence.
    Fence,
}

/// Sees every shared-memory access a handle makes: `before` it (by kind) and `after` it (with
/// the value). For tests and tools that record or pace the deque's accesses; the default,
/// [`NoHook`], does nothing and costs nothing. A hook belongs to one handle
/// ([`Worker::with_hook`], [`Stealer::with_hook`]), so it knows whose accesses it sees.
pub trait Hook {
    /// Called before each access.
    #[inline(always)]
    fn before(&self, kind: AccessKind) {
        let _ = kind;
    }

    /// Called after each access.
    #[inline(always)]
    fn after(&self, access: Access) {
        let _ = access;
    }
}

/// The hook that does nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoHook;

impl Hook for NoHook {}

mod deviation {
    /// A protocol bug the tests can switch on (with [`deque_with_deviation`](super::deque_with_deviation)).
    /// The first three are the `deque` model's bug variants (same ids); the last two exist only
    /// at the level of the memory model, so only loom can show them.
    /// Compiled only for tests, under `--cfg loom` / `--cfg shuttle`, and with the `deviations`
    /// feature, never in a default build.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    #[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
    pub enum Deviation {
        /// `pop-without-cas`: the owner takes the last task without the compare-and-swap on
        /// `top`, as it takes any other, leaving `bottom` where it put it; a thief that read
        /// the task before the owner's `bottom` store took it too.
        PopWithoutCas,
        /// `steal-read-after-cas`: the thief claims index `t` with its CAS and only then reads
        /// slot `t mod ring`; by then the owner may have wrapped around and written a newer
        /// task there, which the thief returns (and the owner pops it as well).
        StealReadAfterCas,
        /// `no-restore-after-lost-race`: the owner, losing the race for the last task, returns
        /// nothing without restoring `bottom`, so `top` ends one past `bottom` and the next
        /// push writes a task that no pop or steal can see.
        NoRestoreAfterLostRace,
        /// `relaxed-publish`: push stores `bottom` with `Relaxed` instead of `Release`, so a
        /// thief that sees the new `bottom` may read the slot as it was before the push.
        RelaxedPublish,
        /// `no-seqcst-fence`: the `fence(SeqCst)` in pop (between its `bottom` store and `top`
        /// load) and in steal (between its `top` and `bottom` loads) are gone, so both can
        /// read a stale value and take the same task.
        NoSeqcstFence,
    }
}

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
pub use self::deviation::Deviation;
#[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
use self::deviation::Deviation;

#[cfg(any(test, loom, shuttle, feature = "deviations"))]
impl Deviation {
    /// Every deviation.
    pub const ALL: [Deviation; 5] = [
        Deviation::PopWithoutCas,
        Deviation::StealReadAfterCas,
        Deviation::NoRestoreAfterLostRace,
        Deviation::RelaxedPublish,
        Deviation::NoSeqcstFence,
    ];

    /// The variant id: the `deque` model's for the first three, and the directory name of the
    /// counterexamples (`counterexamples/deque/impl-<id>/`).
    pub const fn id(self) -> &'static str {
        match self {
            Deviation::PopWithoutCas => "pop-without-cas",
            Deviation::StealReadAfterCas => "steal-read-after-cas",
            Deviation::NoRestoreAfterLostRace => "no-restore-after-lost-race",
            Deviation::RelaxedPublish => "relaxed-publish",
            Deviation::NoSeqcstFence => "no-seqcst-fence",
        }
    }

    /// The deviation with variant id `id`, if any.
    pub fn from_id(id: &str) -> Option<Deviation> {
        Deviation::ALL.into_iter().find(|d| d.id() == id)
    }

    /// Whether the `deque` model has this bug variant (the other two exist only at the level of
    /// the memory model: the model runs every access sequentially consistent).
    pub const fn in_model(self) -> bool {
        matches!(
            self,
            Deviation::PopWithoutCas
                | Deviation::StealReadAfterCas
                | Deviation::NoRestoreAfterLostRace
        )
    }
}

/// The state the owner and the thieves share.
struct Inner<T: Word> {
    /// The index of the oldest task; only ever advanced, by a CAS (a steal, or the owner taking
    /// the last task).
    top: Padded<AtomicIsize>,
    /// One past the index of the newest task; written only by the owner.
    bottom: Padded<AtomicIsize>,
    /// The ring: task words, index `i` in `slots[i & mask]`.
    slots: Box<[AtomicUsize]>,
    /// `slots.len() - 1` (the length is a power of two).
    mask: usize,
    /// How many tasks the deque holds at most (`<= slots.len()`).
    capacity: usize,
    /// The deque owns the tasks in its slots (for the drop check).
    marker: PhantomData<T>,
}

// SAFETY: `Inner` never hands out a reference to a `T`: tasks go in and come out by value,
// each through exactly one thread (the one whose push wrote it, then the one whose pop or
// steal took it), so sharing `&Inner` between threads moves `T`s between threads and nothing
// more. That needs `T: Send` only, as for a channel.
unsafe impl<T: Word + Send> Sync for Inner<T> {}

/// A value alone on its cache line pair (128 bytes: adjacent-line prefetching pulls lines in
/// pairs on x86), so that the thieves' CAS on `top` and the owner's stores of `bottom` do not
/// invalidate each other's line.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Word> Inner<T> {
    fn new(capacity: usize) -> Inner<T> {
        let ring = capacity
            .max(1)
            .checked_next_power_of_two()
            .expect("deque capacity too large");
        assert!(
            isize::try_from(ring).is_ok(),
            "deque capacity too large: {capacity}"
        );
        Inner {
            top: Padded(AtomicIsize::new(0)),
            bottom: Padded(AtomicIsize::new(0)),
            slots: (0..ring).map(|_| AtomicUsize::new(0)).collect(),
            mask: ring - 1,
            capacity,
            marker: PhantomData,
        }
    }

    #[inline(always)]
    fn slot(&self, index: isize) -> (usize, &AtomicUsize) {
        let slot = index as usize & self.mask;
        (slot, &self.slots[slot])
    }
}

impl<T: Word> Drop for Inner<T> {
    fn drop(&mut self) {
        // Relaxed: this is the last handle's drop, and `Arc`'s drop made every other handle's
        // accesses happen-before it.
        let top = self.top.load(Ordering::Relaxed);
        let bottom = self.bottom.load(Ordering::Relaxed);
        let mut index = top;
        while index < bottom {
            let word = self.slot(index).1.load(Ordering::Relaxed);
            // SAFETY: the tasks at indices top..bottom were pushed (each word came from
            // `into_word`) and no pop or steal returned them: a pop or steal that takes index
            // `i` first moves `bottom` below `i` or `top` past it. Nobody else is left to take
            // them, so each is turned back once, here.
            drop(unsafe { T::from_word(word) });
            index += 1;
        }
    }
}

/// Makes a deque that holds up to `capacity` tasks; returns its owner's handle and a thief's.
///
/// The ring has `capacity.next_power_of_two()` slots (at least one); `capacity` may be 0 (every
/// push is [`Full`]). Panics if that ring size does not fit in an `isize` (no allocation could
/// hold it anyway).
pub fn deque<T: Word>(capacity: usize) -> (Worker<T>, Stealer<T>) {
    with_deviation(capacity, None)
}

/// [`deque`] with a protocol bug switched on (`None`: the correct deque). Tests only; for
/// `Copy` tasks only, so that a bug that hands one task out twice cannot free it twice.
#[cfg(any(test, loom, shuttle, feature = "deviations"))]
pub fn deque_with_deviation<T: Word + Copy>(
    capacity: usize,
    deviation: Option<Deviation>,
) -> (Worker<T>, Stealer<T>) {
    with_deviation(capacity, deviation)
}

fn with_deviation<T: Word>(
    capacity: usize,
    deviation: Option<Deviation>,
) -> (Worker<T>, Stealer<T>) {
    let inner = Arc::new(Inner::new(capacity));
    let deviation = Deviations::new(deviation);
    (
        Worker {
            inner: Arc::clone(&inner),
            bottom: Cell::new(0),
            hook: NoHook,
            deviation,
        },
        Stealer {
            inner,
            hook: NoHook,
            deviation,
        },
    )
}

/// The deviation a handle runs with: a field only in builds that have deviations, and
/// otherwise nothing, so the default build's checks fold to `false`.
#[derive(Clone, Copy)]
struct Deviations {
    #[cfg(any(test, loom, shuttle, feature = "deviations"))]
    deviation: Option<Deviation>,
}

impl Deviations {
    fn new(deviation: Option<Deviation>) -> Deviations {
        #[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
        let _ = deviation;
        Deviations {
            #[cfg(any(test, loom, shuttle, feature = "deviations"))]
            deviation,
        }
    }

    #[inline(always)]
    fn on(self, deviation: Deviation) -> bool {
        #[cfg(any(test, loom, shuttle, feature = "deviations"))]
        {
            self.deviation == Some(deviation)
        }
        #[cfg(not(any(test, loom, shuttle, feature = "deviations")))]
        {
            let _ = deviation;
            false
        }
    }
}

/// The owner's handle: pushes and pops at the bottom. `Send` (if the tasks are), not `Sync`
/// and not `Clone`: one thread owns the deque at a time.
pub struct Worker<T: Word, H: Hook = NoHook> {
    inner: Arc<Inner<T>>,
    /// The owner's copy of `bottom`. Only the owner writes `bottom`, so it never loads it: its
    /// own last store is the value (the model merges those loads for the same reason).
    bottom: Cell<isize>,
    hook: H,
    deviation: Deviations,
}

/// A thief's handle: steals from the top. `Clone`, `Send` and `Sync` (if the tasks are
/// `Send`): any number of threads may steal at once.
pub struct Stealer<T: Word, H: Hook = NoHook> {
    inner: Arc<Inner<T>>,
    hook: H,
    deviation: Deviations,
}

impl<T: Word, H: Hook + Clone> Clone for Stealer<T, H> {
    fn clone(&self) -> Self {
        Stealer {
            inner: Arc::clone(&self.inner),
            hook: self.hook.clone(),
            deviation: self.deviation,
        }
    }
}

impl<T: Word, H: Hook> std::fmt::Debug for Worker<T, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl<T: Word, H: Hook> std::fmt::Debug for Stealer<T, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stealer")
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl<T: Word, H: Hook> Worker<T, H> {
    /// How many tasks the deque holds at most.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// The same owner's handle, reporting its accesses to `hook` instead.
    pub fn with_hook<H2: Hook>(self, hook: H2) -> Worker<T, H2> {
        Worker {
            inner: self.inner,
            bottom: self.bottom,
            hook,
            deviation: self.deviation,
        }
    }

    #[inline(always)]
    fn load_top(&self, ordering: Ordering) -> isize {
        self.hook.before(AccessKind::LoadTop);
        let value = self.inner.top.load(ordering);
        self.hook.after(Access::LoadTop { value, ordering });
        value
    }

    #[inline(always)]
    fn store_bottom(&self, value: isize, ordering: Ordering) {
        self.hook.before(AccessKind::StoreBottom);
        self.inner.bottom.store(value, ordering);
        self.bottom.set(value);
        self.hook.after(Access::StoreBottom { value, ordering });
    }

    #[inline(always)]
    fn fence(&self) {
        self.hook.before(AccessKind::Fence);
        atomic::fence(Ordering::SeqCst);
        self.hook.after(Access::Fence {
            ordering: Ordering::SeqCst,
        });
    }

    /// Pushes `task` at the bottom; `Err(Full(task))` if the deque holds `capacity` tasks.
    pub fn push(&self, task: T) -> Result<(), Full<T>> {
        let b = self.bottom.get();
        // Acquire: pairs with the Release half of every CAS on `top` (steals, and our own pop
        // of the last task). A thief reads slot `t` before its CAS moves `top` past `t`; once
        // we see that `top`, its read happened-before our write below, which may reuse the
        // slot after a wrap-around (index `t + ring`): the read cannot see our overwrite.
        let t = self.load_top(Ordering::Acquire);
        if b.wrapping_sub(t) >= self.inner.capacity as isize {
            return Err(Full(task));
        }
        let word = task.into_word();
        let (slot, cell) = self.inner.slot(b);
        self.hook.before(AccessKind::WriteSlot);
        // Relaxed: published by the Release store of `bottom` below.
        cell.store(word, Ordering::Relaxed);
        self.hook.after(Access::WriteSlot {
            slot,
            index: b,
            word,
            ordering: Ordering::Relaxed,
        });
        // Release: publishes the slot write above; pairs with the Acquire load of `bottom` in
        // `steal`, so a thief that sees index `b` inside `top..bottom` reads this task, not
        // what the slot held before. (PPoPP 2013 writes a release fence and a relaxed store.)
        let publish = if self.deviation.on(Deviation::RelaxedPublish) {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        self.store_bottom(b.wrapping_add(1), publish);
        Ok(())
    }

    /// Pops the newest task (last in, first out); `None` if the deque is empty, or if its last
    /// task went to a thief that raced this pop for it.
    pub fn pop(&self) -> Option<T> {
        let b = self.bottom.get().wrapping_sub(1);
        // Reserves index `b` for the owner; made visible to thieves before the `top` load
        // below by the fence. Release, where PPoPP 2013 has Relaxed: a thief whose Acquire
        // load of `bottom` reads this value (and so sees indices `t..b` in the deque) must
        // see the pushes that wrote those slots. In C11 as PPoPP used it, this store by the
        // pushing thread continued the release sequence of the push's Release store, which
        // gave that for free; C++20 (P0982R1), and Rust's memory model with it, dropped such
        // stores from release sequences, and loom checks that model: with Relaxed here it
        // finds a thief reading slot 0 as it was before any push. On x86 a Release store is
        // a plain store.
        self.store_bottom(b, Ordering::Release);
        if !self.deviation.on(Deviation::NoSeqcstFence) {
            // SeqCst fence: pairs with the SeqCst fence in `steal` (between its `top` and
            // `bottom` loads). Of the two fences one comes first in their total order; so
            // either the thief's `bottom` load sees our decrement (and it stays off index `b`),
            // or our `top` load below sees the thief's CAS (and we do not take index `b`
            // without a CAS of our own). Without it the store could pass the load (a
            // store-buffer, Dekker-style race) and both would take the task.
            self.fence();
        }
        // Relaxed: ordered after the `bottom` store by the fence above; a CAS that moved `top`
        // and that we do not see yet is settled by our own CAS below.
        let t = self.load_top(Ordering::Relaxed);
        if t.wrapping_sub(b) > 0 {
            // Empty (t = b + 1: nothing was left): put `bottom` back. Relaxed: a thief that
            // reads this value and a `top` below it read that `top` before it moved to `t`,
            // so its CAS fails and the slot it read is discarded.
            self.store_bottom(b.wrapping_add(1), Ordering::Relaxed);
            return None;
        }
        let (slot, cell) = self.inner.slot(b);
        self.hook.before(AccessKind::ReadSlot);
        // Relaxed: only the owner writes slots, and it wrote this one itself.
        let word = cell.load(Ordering::Relaxed);
        self.hook.after(Access::ReadSlot {
            slot,
            index: b,
            word,
            ordering: Ordering::Relaxed,
        });
        if t != b || self.deviation.on(Deviation::PopWithoutCas) {
            // More than one task was left (t < b): thieves stay below index `b`, which our
            // `bottom` store reserved, so the task is ours. (With `pop-without-cas`, the last
            // one is taken this way too: a thief may have read it already.)
            // SAFETY: the word came from `into_word` in the push of index `b`; index `b` is
            // taken only here (a thief's CAS cannot claim it: see above), so this is the one
            // `from_word` for it. (The `pop-without-cas` deviation breaks this, which is why
            // `deque_with_deviation` takes `Copy` tasks only.)
            return Some(unsafe { T::from_word(word) });
        }
        // The last task (t = b): a thief may be about to take it. Race it with the same CAS a
        // thief uses. SeqCst: the CAS is in the total order with the fences, as PPoPP 2013
        // has it (loom models it as AcqRel); its Release half pairs with the Acquire `top`
        // load in `push` and `steal`; its failure ordering is Relaxed: losing, we return
        // nothing and read nothing the winner wrote.
        self.hook.before(AccessKind::CasTop);
        let cas = self.inner.top.compare_exchange(
            t,
            t.wrapping_add(1),
            Ordering::SeqCst,
            Ordering::Relaxed,
        );
        let found = cas.unwrap_or_else(|found| found);
        self.hook.after(Access::CasTop {
            expected: t,
            found,
            ordering: Ordering::SeqCst,
        });
        let won = cas.is_ok();
        if !won && self.deviation.on(Deviation::NoRestoreAfterLostRace) {
            return None;
        }
        // Whatever the CAS's outcome, `top` is now t + 1 = b + 1: put `bottom` there too, so
        // the deque is empty and consistent (`top == bottom`). Relaxed: it publishes no slot
        // (`top..bottom` is empty); a thief reading it with an older `top` fails its CAS.
        self.store_bottom(b.wrapping_add(1), Ordering::Relaxed);
        if won {
            // SAFETY: our CAS claimed index `b` (= t): no thief's CAS on `t` can succeed now,
            // so this is the one `from_word` for the word pushed at index `b`.
            Some(unsafe { T::from_word(word) })
        } else {
            None
        }
    }
}

impl<T: Word, H: Hook> Stealer<T, H> {
    /// How many tasks the deque holds at most.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// A stealer of the same deque that reports its accesses to `hook`.
    pub fn with_hook<H2: Hook>(&self, hook: H2) -> Stealer<T, H2> {
        Stealer {
            inner: Arc::clone(&self.inner),
            hook,
            deviation: self.deviation,
        }
    }

    /// Steals the oldest task (first in, first out).
    pub fn steal(&self) -> Steal<T> {
        let inner = &*self.inner;
        self.hook.before(AccessKind::LoadTop);
        // Acquire: pairs with the Release half of the CAS that advanced `top` to `t` (another
        // thief's, or the owner's for a last task), so what that thread had seen, its view of
        // `bottom` among it, is seen here too (PPoPP 2013, Fig. 1).
        let t = inner.top.load(Ordering::Acquire);
        self.hook.after(Access::LoadTop {
            value: t,
            ordering: Ordering::Acquire,
        });
        if !self.deviation.on(Deviation::NoSeqcstFence) {
            self.hook.before(AccessKind::Fence);
            // SeqCst fence: pairs with the SeqCst fence in `pop` (between its `bottom` store
            // and its `top` load): either our `bottom` load below sees the owner's decrement,
            // or the owner's `top` load sees our CAS. See `Worker::pop`.
            atomic::fence(Ordering::SeqCst);
            self.hook.after(Access::Fence {
                ordering: Ordering::SeqCst,
            });
        }
        self.hook.before(AccessKind::LoadBottom);
        // Acquire: pairs with the Release store of `bottom` in `push`: if index `t` is below
        // the `bottom` we read, the push that wrote slot `t` happened-before our read of it.
        let b = inner.bottom.load(Ordering::Acquire);
        self.hook.after(Access::LoadBottom {
            value: b,
            ordering: Ordering::Acquire,
        });
        if b.wrapping_sub(t) <= 0 {
            return Steal::Empty;
        }
        let read_after_cas = self.deviation.on(Deviation::StealReadAfterCas);
        let mut word = if read_after_cas { 0 } else { self.read(t) };
        self.hook.before(AccessKind::CasTop);
        // SeqCst: in the total order with the fences (PPoPP 2013; loom models it as AcqRel).
        // Its Release half pairs with the Acquire `top` loads in `push` (our slot read above
        // happens-before the owner reuses the slot) and in `steal`. Failure: Relaxed, as we
        // then return `Retry` and the word we read is dropped unused.
        let cas =
            inner
                .top
                .compare_exchange(t, t.wrapping_add(1), Ordering::SeqCst, Ordering::Relaxed);
        self.hook.after(Access::CasTop {
            expected: t,
            found: cas.unwrap_or_else(|found| found),
            ordering: Ordering::SeqCst,
        });
        if cas.is_err() {
            return Steal::Retry;
        }
        if read_after_cas {
            word = self.read(t);
        }
        // SAFETY: our CAS moved `top` from `t`, which claims index `t` for us alone (`top` never
        // goes back, and the owner takes index `t` only with the same CAS). The word was read
        // before the CAS, when index `t` was inside `top..bottom`, so it is the word pushed
        // at `t` (the owner can overwrite slot `t mod ring` only after `top` passed `t`, and
        // then our CAS would have failed). So this is the one `from_word` for it. (The
        // `steal-read-after-cas` deviation breaks this, on `Copy` tasks only.)
        Steal::Success(unsafe { T::from_word(word) })
    }

    #[inline(always)]
    fn read(&self, t: isize) -> usize {
        let (slot, cell) = self.inner.slot(t);
        self.hook.before(AccessKind::ReadSlot);
        // Relaxed: the push of index `t` happened-before it through `bottom` (Release in
        // `push`, Acquire above). It may race an overwrite after a wrap-around; then `top` has
        // moved past `t` and our CAS fails, so a stale or new word is never used.
        let word = cell.load(Ordering::Relaxed);
        self.hook.after(Access::ReadSlot {
            slot,
            index: t,
            word,
            ordering: Ordering::Relaxed,
        });
        word
    }
}
