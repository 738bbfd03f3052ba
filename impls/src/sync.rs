//! The one sync facade: every lock, atomic, shared pointer and thread in this crate comes from
//! here, so the same code runs on the standard library, under [loom] (`--cfg loom`, exhaustive
//! interleavings) and under [shuttle] (`--cfg shuttle`, randomized and PCT schedules).
//!
//! | cfg | `Arc`, `Mutex`, `atomic` | `thread` |
//! |---|---|---|
//! | (none) | `std::sync` | `std::thread` |
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
//! No `UnsafeCell` is offered: the crate keeps all shared state behind a `Mutex`, so it has no
//! `unsafe` and nothing for loom's cell-access tracking to check. Add loom's
//! `UnsafeCell::{with, with_mut}` API here (with a std arm) if a lock-free core ever needs it.
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
pub use std::sync::{Arc, Mutex, MutexGuard, atomic};
#[cfg(not(any(loom, shuttle)))]
pub use std::thread;

/// Lock poisoning is reported with std's type by all three engines.
pub use std::sync::PoisonError;

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

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
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
