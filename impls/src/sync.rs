//! The one sync facade: every lock, atomic, shared pointer and thread in this crate comes from
//! here, so the same code runs on the standard library, under [loom] (`--cfg loom`, exhaustive
//! interleavings) and under [shuttle] (`--cfg shuttle`, randomized and PCT schedules).
//!
//! | cfg | `Arc`, `Mutex`, `atomic` | `thread` |
//! |---|---|---|
//! | (none) | `std::sync` (`Mutex`: [`parking_lot`], poisoning as std's) | `std::thread` |
//! | `loom` | `loom::sync` | `loom::thread` |
//! | `shuttle` | `shuttle::sync` | `shuttle::thread` |
//!
//! The arms are chosen with `--cfg` flags, not cargo features: features are additive, so
//! `--all-features` would switch on two engines at once. Setting both cfgs is a compile error.
//!
//! Tests and harnesses outside the crate import from here as well (the module is public), so a
//! scenario written once spawns std threads, loom threads or shuttle tasks depending on the
//! build.
//!
//! No `UnsafeCell` is offered: the crate keeps shared state behind a `Mutex` or in atomics (the
//! work-stealing deque's slots are atomic words, `crate::deque` says why), so there is nothing
//! for loom's cell-access tracking to check. Add loom's `UnsafeCell::{with, with_mut}` API here
//! (with a std arm) if a lock-free core ever needs it. `atomic` is each engine's whole module:
//! the deque uses its `AtomicIsize`, `AtomicUsize` and `fence`.
//!
//! [loom]: https://docs.rs/loom
//! [shuttle]: https://docs.rs/shuttle

#[cfg(all(loom, shuttle))]
compile_error!("`--cfg loom` and `--cfg shuttle` select different sync engines; set only one");

/// Which engine this build's primitives come from: `"std"`, `"loom"` or `"shuttle"`. loom's and
/// shuttle's primitives work only inside `loom::model` / a shuttle runner, so code that may
/// run outside one (the crate's doc example) checks this first.
pub const ENGINE: &str = if cfg!(loom) {
    "loom"
} else if cfg!(shuttle) {
    "shuttle"
} else {
    "std"
};

#[cfg(loom)]
pub use loom::sync::{Arc, Mutex, MutexGuard, atomic};
#[cfg(loom)]
pub use loom::thread;

#[cfg(shuttle)]
pub use shuttle::sync::{Arc, Mutex, MutexGuard, atomic};
#[cfg(shuttle)]
pub use shuttle::thread;

#[cfg(not(any(loom, shuttle)))]
pub use self::mutex::{Mutex, MutexGuard};
#[cfg(not(any(loom, shuttle)))]
pub use std::sync::{Arc, atomic};

/// The std arm's `Mutex`: [`parking_lot::Mutex`] behind `std::sync::Mutex`'s API (`lock`
/// and `try_lock` return `LockResult` / `TryLockResult`), poisoning included.
///
/// Why not `std::sync::Mutex`: on the 2-core machines coordlab is measured on, two threads
/// taking one lock for short critical sections (the queue's receive and delete) cost about
/// twice as much with std's futex lock as with parking_lot's, which spins adaptively before
/// parking and hands the lock over without a system call in the common case
/// (BENCHMARKS.md, the queue against crossbeam-channel: 200 against 114 ns a message with two
/// consumers). Poisoning is kept because the crate relies on it: a thread that panics
/// inside a critical section leaves the protected state suspect, and the next `lock` says so.
#[cfg(not(any(loom, shuttle)))]
mod mutex {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

    /// A mutual-exclusion lock with `std::sync::Mutex`'s API.
    #[derive(Debug, Default)]
    pub struct Mutex<T: ?Sized> {
        /// Set when a guard is dropped by a panicking thread. Read and written only while the
        /// lock is held, so the lock's own acquire/release orders it: Relaxed suffices.
        poisoned: AtomicBool,
        inner: parking_lot::Mutex<T>,
    }

    /// The guard of a [`Mutex`]: the data while the lock is held.
    #[derive(Debug)]
    pub struct MutexGuard<'a, T: ?Sized> {
        pub(super) guard: parking_lot::MutexGuard<'a, T>,
        pub(super) poisoned: &'a AtomicBool,
        /// Whether the thread was already panicking when it took the lock (then its drop
        /// does not poison, as in std).
        panicking: bool,
    }

    impl<T> Mutex<T> {
        /// An unlocked, unpoisoned lock around `value`.
        pub const fn new(value: T) -> Mutex<T> {
            Mutex {
                poisoned: AtomicBool::new(false),
                inner: parking_lot::Mutex::new(value),
            }
        }
    }

    impl<T: ?Sized> Mutex<T> {
        fn guard<'a>(&'a self, guard: parking_lot::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            MutexGuard {
                guard,
                poisoned: &self.poisoned,
                panicking: std::thread::panicking(),
            }
        }

        /// Blocks until the lock is free; `Err` (with the guard inside) if a thread panicked
        /// while holding it.
        pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
            let guard = self.guard(self.inner.lock());
            if self.poisoned.load(Ordering::Relaxed) {
                Err(PoisonError::new(guard))
            } else {
                Ok(guard)
            }
        }

        /// Takes the lock if it is free, without waiting.
        pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
            let guard = self
                .inner
                .try_lock()
                .map(|g| self.guard(g))
                .ok_or(TryLockError::WouldBlock)?;
            if self.poisoned.load(Ordering::Relaxed) {
                Err(TryLockError::Poisoned(PoisonError::new(guard)))
            } else {
                Ok(guard)
            }
        }
    }

    impl<T: ?Sized> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            if !self.panicking && std::thread::panicking() {
                self.poisoned.store(true, Ordering::Relaxed);
            }
        }
    }

    impl<T: ?Sized> std::ops::Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.guard
        }
    }

    impl<T: ?Sized> std::ops::DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.guard
        }
    }
}
#[cfg(not(any(loom, shuttle)))]
pub use std::thread;

/// Lock poisoning is reported with std's type by all three engines.
pub use std::sync::PoisonError;

// The condition variable, for all three arms: loom's and shuttle's own, and on std one that
// waits on the facade's `Mutex` (parking_lot's `Condvar`, which pairs with parking_lot's lock;
// std's `Condvar` takes only std's guard).
#[cfg(not(any(loom, shuttle)))]
pub use self::condvar::Condvar;
#[cfg(loom)]
pub use loom::sync::Condvar;
#[cfg(shuttle)]
pub use shuttle::sync::Condvar;

/// The std arm's `Condvar`: [`parking_lot::Condvar`] behind `std::sync::Condvar`'s API
/// (`wait` takes and returns the guard, poisoning reported as std does).
#[cfg(not(any(loom, shuttle)))]
mod condvar {
    use std::sync::atomic::Ordering;
    use std::sync::{LockResult, PoisonError};

    use super::MutexGuard;

    /// A condition variable waiting on the facade's [`Mutex`](super::Mutex).
    #[derive(Debug, Default)]
    pub struct Condvar {
        inner: parking_lot::Condvar,
    }

    impl Condvar {
        /// A condition variable with no waiters.
        pub const fn new() -> Condvar {
            Condvar {
                inner: parking_lot::Condvar::new(),
            }
        }

        /// Releases the lock held by `guard`, blocks until notified (or spuriously woken), and
        /// takes the lock again; `Err` (with the guard inside) if the lock is poisoned then.
        /// Callers re-check their condition in a loop, as with std's.
        pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
            self.inner.wait(&mut guard.guard);
            // Relaxed: read while holding the lock again, which orders it (see `Mutex`).
            if guard.poisoned.load(Ordering::Relaxed) {
                Err(PoisonError::new(guard))
            } else {
                Ok(guard)
            }
        }

        /// Wakes one waiter, if any.
        pub fn notify_one(&self) {
            self.inner.notify_one();
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.inner.notify_all();
        }
    }
}

// The counter behind `unique_u64`. loom's atomics cannot be built in a `const` context and
// belong to one execution, and shuttle's track the execution that touches them, so under both
// the counter is a lazy static of the engine's own, made afresh for each execution. (Shuttle
// warns once that it drops lazy statics at the end of each execution; dropping an atomic
// integer does nothing.)
#[cfg(not(any(loom, shuttle)))]
static NEXT_UNIQUE: atomic::AtomicU64 = atomic::AtomicU64::new(0);
#[cfg(loom)]
loom::lazy_static! {
    static ref NEXT_UNIQUE: atomic::AtomicU64 = atomic::AtomicU64::new(0);
}
#[cfg(shuttle)]
shuttle::lazy_static! {
    static ref NEXT_UNIQUE: atomic::AtomicU64 = atomic::AtomicU64::new(0);
}

/// A number no earlier call returned: unique within the process on std, within one execution
/// under loom and shuttle (their statics start afresh in each execution, so every execution,
/// and a replay of it, sees the same numbers). Numbers count up from 0; 2^64 calls would wrap.
pub(crate) fn unique_u64() -> u64 {
    // Relaxed: the counter publishes no other memory, so no happens-before edge is needed;
    // uniqueness needs only that read-modify-writes of one atomic are totally ordered (each
    // `fetch_add` reads the value the previous one wrote), which holds for every ordering.
    NEXT_UNIQUE.fetch_add(1, atomic::Ordering::Relaxed)
}

/// std's `OnceLock`, in every arm: for process-wide values computed once that are not state
/// the protocols share (the system clock's calibration), so loom and shuttle need not see it.
pub(crate) use std::sync::OnceLock;

/// The calling thread's shard hint: where a sharded queue's anonymous `receive` starts looking.
/// On std threads each thread starts from its own number (consecutive threads get consecutive
/// numbers, so two consumer threads start on different shards) and then keeps whatever
/// [`set_thread_hint`] last stored; under loom and shuttle it is always 0, so executions stay
/// deterministic (their tests use consumer handles, which keep their own).
#[cfg(not(any(loom, shuttle)))]
pub(crate) fn thread_hint() -> usize {
    HINT.with(std::cell::Cell::get)
}

/// Stores the calling thread's shard hint (see [`thread_hint`]).
#[cfg(not(any(loom, shuttle)))]
pub(crate) fn set_thread_hint(hint: usize) {
    HINT.with(|h| h.set(hint));
}

#[cfg(not(any(loom, shuttle)))]
thread_local! {
    static HINT: std::cell::Cell<usize> = {
        static NEXT: atomic::AtomicUsize = atomic::AtomicUsize::new(0);
        std::cell::Cell::new(NEXT.fetch_add(1, atomic::Ordering::Relaxed))
    };
}

/// See the std arm.
#[cfg(any(loom, shuttle))]
pub(crate) fn thread_hint() -> usize {
    0
}

/// See the std arm.
#[cfg(any(loom, shuttle))]
pub(crate) fn set_thread_hint(_: usize) {}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::{Arc, Mutex};

    /// A panic while holding the lock poisons it, as std's does: the next `lock` and
    /// `try_lock` say so and still give the data; a panic in a thread that was already
    /// panicking when it took the lock does not.
    #[test]
    fn a_panic_while_locked_poisons_the_lock() {
        let m = Arc::new(Mutex::new(1));
        assert_eq!(*m.lock().unwrap(), 1);
        let m2 = Arc::clone(&m);
        let r = super::thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            *g = 2;
            panic!("inside the critical section");
        })
        .join();
        assert!(r.is_err());
        let err = m.lock().expect_err("poisoned");
        assert_eq!(*err.into_inner(), 2);
        assert!(matches!(
            m.try_lock(),
            Err(std::sync::TryLockError::Poisoned(_))
        ));
        let fresh = Mutex::new(0);
        let g = fresh.lock().unwrap();
        assert!(matches!(
            fresh.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        ));
        drop(g);
        assert!(fresh.try_lock().is_ok());
    }

    /// Only this module names std's sync primitives; everything else goes through it, so
    /// loom and shuttle see every lock, atomic and thread. (clippy's `disallowed-types`
    /// cannot enforce this: it resolves the facade's re-exports to the std types.)
    #[test]
    fn only_the_facade_names_std_sync_or_thread() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["src", "tests", "benches"] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 5, "found {files:?}");
        for file in files {
            if file.ends_with("src/sync.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for banned in ["std::sync::", "std::thread", "use std::sync", "parking_lot"] {
                    assert!(
                        !code.contains(banned) || code.contains("std::sync::PoisonError"),
                        "{}:{}: `{banned}` outside the sync facade: {line}",
                        file.display(),
                        i + 1
                    );
                }
            }
        }
    }
}
