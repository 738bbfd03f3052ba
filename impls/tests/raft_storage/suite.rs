//! The conformance suite on both stores, and on stores with one planted fault each: every
//! case must catch at least one fault (so none can pass whatever the store does), and the
//! same store without the fault must pass every case.

use std::mem;

use coordlab_impls::raft::testing::{self, Harness};
use coordlab_impls::raft::{
    Durable, Entry, HardState, Index, MemStorage, Payload, Persist, Storage, StorageError,
};

/// The in-memory store: a crash keeps the value.
struct Mem;

impl Harness for Mem {
    type Store = MemStorage;
    fn fresh(&mut self) -> Result<MemStorage, StorageError> {
        Ok(MemStorage::new())
    }
    fn reopen(&mut self, store: MemStorage) -> Result<MemStorage, StorageError> {
        Ok(store)
    }
}

/// Claim: the in-memory store meets the storage contract (every case of the suite).
#[test]
fn mem_storage_passes_the_conformance_suite() {
    testing::run_all(&mut Mem);
}

/// Claim: the file store, fsyncing every write, meets the storage contract; a reopen is a
/// drop and a new `FileStorage::open` of the directory.
#[cfg(not(any(loom, shuttle)))]
#[test]
fn file_storage_passes_the_conformance_suite() {
    testing::run_all(&mut crate::files::Files::new(
        coordlab_impls::raft::Fsync::Always,
    ));
}

/// Claim: without fsync the file store still meets the contract within one machine's
/// uptime (what the suite can see; a power failure is another matter, see `Fsync::Never`).
#[cfg(not(any(loom, shuttle)))]
#[test]
fn file_storage_without_fsync_passes_the_conformance_suite() {
    testing::run_all(&mut crate::files::Files::new(
        coordlab_impls::raft::Fsync::Never,
    ));
}

/// One planted bug in an in-memory store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// No bug: the reference the faults are told apart from.
    None,
    /// A fresh store holds a no-op at index 1.
    StartsWithEntry,
    /// A hard state with no vote keeps the previous vote.
    VoteNeverCleared,
    /// Terms are kept as 32 bits.
    NarrowTerm,
    /// Of a write's entries only the first is kept.
    KeepsOnlyFirstOfBatch,
    /// A write from index `i` keeps the stored entry at `i` (truncates one too late).
    OffByOneTruncate,
    /// Entries past the last index plus one are accepted.
    AcceptsGaps,
    /// Entries from index 0 are accepted as if from 1.
    AcceptsIndexZero,
    /// Entries whose indices are not consecutive are accepted.
    AcceptsNonContiguous,
    /// After refusing a write the store refuses everything.
    PoisonedByRefusal,
    /// A write with entries drops its hard state.
    DropsHardStateWithEntries,
    /// An empty write is refused.
    RefusesEmptyWrite,
    /// A hard-state-only write empties the log.
    HardStateWriteClearsLog,
    /// An entries-only write resets the hard state to term 0, no vote.
    EntriesWriteResetsHardState,
    /// Empty data comes back as a no-op.
    EmptyDataBecomesNoop,
    /// `load` hands the log over and keeps nothing.
    LoadDrains,
    /// After a reopen the store thinks its log is empty (but loads it).
    ReopenForgetsLastIndex,
    /// A reopen loses the last write.
    ReopenLosesLastWrite,
}

/// Which planted fault proves that each case can fail.
const CAUGHT_BY: &[(&str, Fault)] = &[
    ("empty_store_loads_empty", Fault::StartsWithEntry),
    ("hard_state_round_trips", Fault::VoteNeverCleared),
    ("extreme_values_round_trip", Fault::NarrowTerm),
    ("appends_extend_the_log", Fault::KeepsOnlyFirstOfBatch),
    ("write_inside_log_replaces_suffix", Fault::OffByOneTruncate),
    (
        "write_at_index_one_replaces_whole_log",
        Fault::OffByOneTruncate,
    ),
    (
        "write_at_last_index_replaces_last_entry",
        Fault::OffByOneTruncate,
    ),
    ("write_past_end_is_refused", Fault::AcceptsGaps),
    ("index_zero_is_refused", Fault::AcceptsIndexZero),
    (
        "non_contiguous_write_is_refused",
        Fault::AcceptsNonContiguous,
    ),
    (
        "refused_write_leaves_store_usable",
        Fault::PoisonedByRefusal,
    ),
    (
        "hard_state_and_entries_in_one_write",
        Fault::DropsHardStateWithEntries,
    ),
    ("empty_write_changes_nothing", Fault::RefusesEmptyWrite),
    ("hard_state_write_keeps_log", Fault::HardStateWriteClearsLog),
    (
        "entries_write_keeps_hard_state",
        Fault::EntriesWriteResetsHardState,
    ),
    ("payloads_round_trip", Fault::EmptyDataBecomesNoop),
    ("load_is_repeatable", Fault::LoadDrains),
    (
        "writes_after_reopen_continue_the_log",
        Fault::ReopenForgetsLastIndex,
    ),
    (
        "reopen_keeps_every_acknowledged_write",
        Fault::ReopenLosesLastWrite,
    ),
    ("many_writes_then_reopen", Fault::ReopenLosesLastWrite),
];

/// An in-memory store written apart from `MemStorage`, with one [`Fault`] switched on.
struct Faulty {
    fault: Fault,
    hard_state: HardState,
    log: Vec<Entry>,
    /// The last index the store believes it has, used to check writes.
    last: Index,
    poisoned: bool,
    /// The state before the last write, for `ReopenLosesLastWrite`.
    before_last_write: Option<(HardState, Vec<Entry>)>,
}

impl Faulty {
    fn new(fault: Fault) -> Faulty {
        let log = if fault == Fault::StartsWithEntry {
            vec![Entry {
                term: 0,
                index: 1,
                payload: Payload::Noop,
            }]
        } else {
            Vec::new()
        };
        Faulty {
            fault,
            hard_state: HardState::default(),
            last: log.len() as Index,
            log,
            poisoned: false,
            before_last_write: None,
        }
    }
}

impl Storage for Faulty {
    fn load(&mut self) -> Result<Durable, StorageError> {
        let log = if self.fault == Fault::LoadDrains {
            mem::take(&mut self.log)
        } else {
            self.log.clone()
        };
        Ok(Durable {
            hard_state: self.hard_state,
            log,
        })
    }

    fn persist(&mut self, update: &Persist) -> Result<(), StorageError> {
        let refuse = |store: &mut Faulty, why: &str| {
            if store.fault == Fault::PoisonedByRefusal {
                store.poisoned = true;
            }
            Err(StorageError::BadWrite(why.to_string()))
        };
        if self.poisoned {
            return Err(StorageError::BadWrite(
                "an earlier write was refused".into(),
            ));
        }
        if update.hard_state.is_none() && update.entries.is_empty() {
            return if self.fault == Fault::RefusesEmptyWrite {
                refuse(self, "an empty write")
            } else {
                Ok(())
            };
        }
        if let Some(first) = update.entries.first() {
            if first.index == 0 && self.fault != Fault::AcceptsIndexZero {
                return refuse(self, "index 0");
            }
            if first.index > self.last + 1 && self.fault != Fault::AcceptsGaps {
                return refuse(self, "a gap");
            }
            let consecutive = update
                .entries
                .iter()
                .zip(first.index..)
                .all(|(e, i)| e.index == i);
            if !consecutive && self.fault != Fault::AcceptsNonContiguous {
                return refuse(self, "not contiguous");
            }
        }
        self.before_last_write = Some((self.hard_state, self.log.clone()));
        match update.hard_state {
            Some(mut hs) => {
                if self.fault == Fault::VoteNeverCleared && hs.voted_for.is_none() {
                    hs.voted_for = self.hard_state.voted_for;
                }
                if self.fault == Fault::NarrowTerm {
                    hs.term = u64::from(hs.term as u32);
                }
                if self.fault != Fault::DropsHardStateWithEntries || update.entries.is_empty() {
                    self.hard_state = hs;
                }
            }
            None => {
                if self.fault == Fault::EntriesWriteResetsHardState {
                    self.hard_state = HardState::default();
                }
            }
        }
        if let Some(first) = update.entries.first() {
            let from = first.index.max(1) as usize;
            let keep = if self.fault == Fault::OffByOneTruncate {
                from
            } else {
                from - 1
            };
            self.log.truncate(keep);
            let take = if self.fault == Fault::KeepsOnlyFirstOfBatch {
                1
            } else {
                update.entries.len()
            };
            for entry in &update.entries[..take] {
                let mut entry = entry.clone();
                if self.fault == Fault::NarrowTerm {
                    entry.term = u64::from(entry.term as u32);
                }
                if self.fault == Fault::EmptyDataBecomesNoop
                    && entry.payload == Payload::Data(vec![])
                {
                    entry.payload = Payload::Noop;
                }
                self.log.push(entry);
            }
        } else if self.fault == Fault::HardStateWriteClearsLog {
            self.log.clear();
        }
        self.last = self.log.len() as Index;
        Ok(())
    }
}

struct Faults(Fault);

impl Harness for Faults {
    type Store = Faulty;
    fn fresh(&mut self) -> Result<Faulty, StorageError> {
        Ok(Faulty::new(self.0))
    }
    fn reopen(&mut self, mut store: Faulty) -> Result<Faulty, StorageError> {
        match store.fault {
            Fault::ReopenForgetsLastIndex => store.last = 0,
            Fault::ReopenLosesLastWrite => {
                if let Some((hard_state, log)) = store.before_last_write.take() {
                    store.hard_state = hard_state;
                    store.log = log;
                    store.last = store.log.len() as Index;
                }
            }
            _ => {}
        }
        Ok(store)
    }
}

/// Claim: the suite is not vacuous. Each of its cases fails on a store with a planted fault
/// (with its own name in the failure), and the same store without the fault passes every
/// case; every case is listed with such a fault.
#[test]
fn every_suite_case_catches_a_planted_fault() {
    testing::run_all(&mut Faults(Fault::None));
    let cases = testing::cases::<Faults>();
    let names: Vec<&str> = cases.iter().map(|case| case.name).collect();
    let listed: Vec<&str> = CAUGHT_BY.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names, listed,
        "every case of the suite, in its order, must be listed with a fault it catches"
    );
    for (case, &(_, fault)) in cases.iter().zip(CAUGHT_BY) {
        match case.check(&mut Faults(fault)) {
            Ok(()) => panic!("case `{}` passed a store with {fault:?}", case.name),
            Err(failure) => {
                assert_eq!(failure.case, case.name);
                assert!(
                    failure.to_string().starts_with(&format!(
                        "storage conformance case `{}` failed: ",
                        case.name
                    )),
                    "{failure}"
                );
            }
        }
    }
}

/// Claim: `run_all` panics on a faulty store, naming each failed case.
#[test]
fn run_all_names_every_failed_case() {
    let result = std::panic::catch_unwind(|| testing::run_all(&mut Faults(Fault::AcceptsGaps)));
    let payload = result.expect_err("a store that accepts gaps must fail the suite");
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.contains("case `write_past_end_is_refused` failed: writing entry 2 into an empty log returned Ok, expected BadWrite"),
        "{message}"
    );
    assert!(
        !message.contains("case `hard_state_round_trips`"),
        "{message}"
    );
}
