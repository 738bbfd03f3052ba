//! The conformance suite every [`Storage`] must pass: the contract on [`Storage`] (the
//! durable state of Figure 2 of the Raft paper, `currentTerm`, `votedFor` and `log[]`, kept
//! across restarts; a write from index `i` replacing the log from `i` on, as the
//! AppendEntries receiver's rule 3 does; writes that would leave a gap refused) as cases a
//! store either passes or fails with the case's name and what differed. Modelled on
//! openraft's storage test suite (`openraft/src/testing/log/suite.rs`: a builder makes fresh
//! stores, one function runs every case).
//!
//! A store under test comes with a [`Harness`] that makes fresh, empty stores and "crashes
//! and reopens" one (for [`MemStorage`](super::MemStorage), keeping the value; for
//! [`FileStorage`](super::FileStorage), dropping it and opening its directory again).
//!
//! ```
//! use coordlab_impls::raft::testing::{self, Harness};
//! use coordlab_impls::raft::{MemStorage, StorageError};
//!
//! struct Mem;
//!
//! impl Harness for Mem {
//!     type Store = MemStorage;
//!     fn fresh(&mut self) -> Result<MemStorage, StorageError> {
//!         Ok(MemStorage::new())
//!     }
//!     // An in-memory store "survives" a crash by being the same value.
//!     fn reopen(&mut self, store: MemStorage) -> Result<MemStorage, StorageError> {
//!         Ok(store)
//!     }
//! }
//!
//! testing::run_all(&mut Mem); // panics naming every case that failed
//! ```
//!
//! What the suite cannot check: durability across a real power failure (a harness's
//! "reopen" happens in one process, so data in the page cache survives it), and torn or
//! damaged files, which depend on a store's format (the file store's tests do those).

use std::fmt;

use super::storage::{Storage, StorageError};
use super::types::{Durable, Entry, HardState, Index, NodeId, Payload, Persist, Term};

/// Makes the stores the suite runs on.
pub trait Harness {
    /// The store under test.
    type Store: Storage;
    /// A new, empty store (term 0, no vote, no entries), independent of every other.
    ///
    /// Errors: whatever making one fails with; the case reports it.
    fn fresh(&mut self) -> Result<Self::Store, StorageError>;
    /// The store a restarted server would find after `store`'s server crashed: for a store
    /// on disk, drop `store` and open its files again.
    ///
    /// Errors: whatever reopening fails with; the case reports it.
    fn reopen(&mut self, store: Self::Store) -> Result<Self::Store, StorageError>;
}

/// A case a store failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The case's name ([`Case::name`]).
    pub case: &'static str,
    /// What differed: the step, what the store did, what the contract wants.
    pub what: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "storage conformance case `{}` failed: {}",
            self.case, self.what
        )
    }
}

impl std::error::Error for Failure {}

/// One claim of the contract and the steps that test it.
pub struct Case<H: Harness> {
    /// The case's name, a claim in snake case (`write_past_end_is_refused`).
    pub name: &'static str,
    /// The claim in a sentence.
    pub claim: &'static str,
    run: fn(&mut H) -> Result<(), String>,
}

impl<H: Harness> Case<H> {
    /// Runs the case on stores from `harness`.
    ///
    /// Errors: the [`Failure`] naming this case and what differed.
    pub fn check(&self, harness: &mut H) -> Result<(), Failure> {
        (self.run)(harness).map_err(|what| Failure {
            case: self.name,
            what,
        })
    }
}

impl<H: Harness> fmt::Debug for Case<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

/// Every case of the suite, in a fixed order.
pub fn cases<H: Harness>() -> Vec<Case<H>> {
    macro_rules! case {
        ($name:ident, $claim:expr) => {
            Case {
                name: stringify!($name),
                claim: $claim,
                run: $name::<H>,
            }
        };
    }
    vec![
        case!(
            empty_store_loads_empty,
            "a fresh store, and a fresh store reopened, load term 0, no vote and no entries"
        ),
        case!(
            hard_state_round_trips,
            "each hard state written is the one loaded, before and after a reopen, including \
             a vote taken back to none in a new term"
        ),
        case!(
            extreme_values_round_trip,
            "terms up to u64::MAX and node ids up to u32::MAX are kept exactly"
        ),
        case!(
            appends_extend_the_log,
            "entries written at the last index plus one are appended after the stored ones"
        ),
        case!(
            write_inside_log_replaces_suffix,
            "entries written from an index inside the log replace every stored entry from that \
             index on, even past the written ones (Figure 2, AppendEntries receiver rule 3)"
        ),
        case!(
            write_at_index_one_replaces_whole_log,
            "entries written from index 1 replace the whole log"
        ),
        case!(
            write_at_last_index_replaces_last_entry,
            "entries written from the last index replace the last entry and extend the log"
        ),
        case!(
            write_past_end_is_refused,
            "entries starting above the last index plus one are refused with BadWrite and \
             change nothing, not even the hard state written with them"
        ),
        case!(
            index_zero_is_refused,
            "entries starting at index 0 are refused with BadWrite and change nothing"
        ),
        case!(
            non_contiguous_write_is_refused,
            "entries whose indices skip, repeat or go back are refused with BadWrite and change \
             nothing"
        ),
        case!(
            refused_write_leaves_store_usable,
            "after a refused write, valid writes still succeed and are kept"
        ),
        case!(
            hard_state_and_entries_in_one_write,
            "a write carrying a hard state and entries keeps both"
        ),
        case!(
            empty_write_changes_nothing,
            "a write with no hard state and no entries succeeds and changes nothing"
        ),
        case!(
            hard_state_write_keeps_log,
            "a write with a hard state and no entries leaves the log as it was"
        ),
        case!(
            entries_write_keeps_hard_state,
            "a write with entries and no hard state leaves the hard state as it was"
        ),
        case!(
            payloads_round_trip,
            "no-op entries and data of every byte value and of 0 bytes to 1 MiB are kept \
             exactly"
        ),
        case!(
            load_is_repeatable,
            "loading twice gives the same state, and loading changes nothing"
        ),
        case!(
            writes_after_reopen_continue_the_log,
            "a reopened store knows where its log ends: it appends at the last index plus \
             one, truncates inside the log, refuses writes past the end"
        ),
        case!(
            reopen_keeps_every_acknowledged_write,
            "every write that returned Ok is there after a reopen, the last one included"
        ),
        case!(
            many_writes_then_reopen,
            "300 writes of every kind (appends, overwrites, hard states, refused ones) with \
             reopens between them leave what a plain in-memory model of the contract holds"
        ),
    ]
}

/// Runs every case, each on fresh stores.
///
/// Errors: one [`Failure`] per failed case, in [`cases`]' order.
pub fn check_all<H: Harness>(harness: &mut H) -> Result<(), Vec<Failure>> {
    let failures: Vec<Failure> = cases::<H>()
        .iter()
        .filter_map(|case| case.check(harness).err())
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// Runs every case, for a test.
///
/// # Panics
///
/// If any case fails, with one line per failure naming the case and what differed.
pub fn run_all<H: Harness>(harness: &mut H) {
    if let Err(failures) = check_all(harness) {
        let lines: Vec<String> = failures.iter().map(Failure::to_string).collect();
        panic!(
            "{} of {} storage conformance cases failed:\n{}",
            failures.len(),
            cases::<H>().len(),
            lines.join("\n")
        );
    }
}

// ---- The steps cases are made of -------------------------------------------------------

/// Entries from index `first`, one per term in `terms`, each with a payload naming its index
/// and term, so that two entries at the same index from different writes differ.
fn entries(first: Index, terms: &[Term]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(i, &term)| {
            let index = first + i as Index;
            Entry {
                term,
                index,
                payload: Payload::Data(format!("{index}@{term}").into_bytes()),
            }
        })
        .collect()
}

fn append(entries: Vec<Entry>) -> Persist {
    Persist {
        hard_state: None,
        entries,
    }
}

fn vote(term: Term, voted_for: Option<u32>) -> HardState {
    HardState {
        term,
        voted_for: voted_for.map(NodeId),
    }
}

fn set_hard_state(hs: HardState) -> Persist {
    Persist {
        hard_state: Some(hs),
        entries: Vec::new(),
    }
}

/// What a store should hold: the contract applied by the plainest code.
#[derive(Default)]
struct Expected(Durable);

impl Expected {
    fn write(&mut self, update: &Persist) {
        if let Some(first) = update.entries.first() {
            self.0.log.truncate(first.index as usize - 1);
            self.0.log.extend(update.entries.iter().cloned());
        }
        if let Some(hs) = update.hard_state {
            self.0.hard_state = hs;
        }
    }
}

fn fresh<H: Harness>(harness: &mut H) -> Result<H::Store, String> {
    harness
        .fresh()
        .map_err(|e| format!("making a fresh store failed: {e}"))
}

fn reopen<H: Harness>(harness: &mut H, store: H::Store) -> Result<H::Store, String> {
    harness
        .reopen(store)
        .map_err(|e| format!("reopening the store failed: {e}"))
}

/// `update` must succeed.
fn write<S: Storage>(store: &mut S, update: &Persist, what: &str) -> Result<(), String> {
    store
        .persist(update)
        .map_err(|e| format!("writing {what} returned `{e}`, expected Ok"))
}

/// `update` must be refused with [`StorageError::BadWrite`].
fn refused<S: Storage>(store: &mut S, update: &Persist, what: &str) -> Result<(), String> {
    match store.persist(update) {
        Err(StorageError::BadWrite(_)) => Ok(()),
        Ok(()) => Err(format!("writing {what} returned Ok, expected BadWrite")),
        Err(e) => Err(format!("writing {what} returned `{e}`, expected BadWrite")),
    }
}

/// `store` must load `expected`.
fn holds<S: Storage>(store: &mut S, expected: &Durable, when: &str) -> Result<(), String> {
    let loaded = store
        .load()
        .map_err(|e| format!("load {when} returned `{e}`"))?;
    match difference(&loaded, expected) {
        None => Ok(()),
        Some(diff) => Err(format!("load {when}: {diff}")),
    }
}

/// An entry in a line, its payload cut to its first 16 bytes.
fn show(entry: Option<&Entry>) -> String {
    match entry {
        None => "no entry".to_string(),
        Some(e) => match &e.payload {
            Payload::Noop => format!("(index {}, term {}, Noop)", e.index, e.term),
            Payload::Data(data) => format!(
                "(index {}, term {}, {} bytes of data {:?}{})",
                e.index,
                e.term,
                data.len(),
                &data[..data.len().min(16)],
                if data.len() > 16 { "…" } else { "" }
            ),
        },
    }
}

/// The first way `loaded` differs from `expected`.
fn difference(loaded: &Durable, expected: &Durable) -> Option<String> {
    if loaded.hard_state != expected.hard_state {
        return Some(format!(
            "hard state {:?}, expected {:?}",
            loaded.hard_state, expected.hard_state
        ));
    }
    let longest = loaded.log.len().max(expected.log.len());
    let first_difference = (0..longest).find(|&i| loaded.log.get(i) != expected.log.get(i))?;
    Some(format!(
        "a log of {} entries, expected {}; at position {} (index {}) it has {}, expected {}",
        loaded.log.len(),
        expected.log.len(),
        first_difference,
        first_difference + 1,
        show(loaded.log.get(first_difference)),
        show(expected.log.get(first_difference))
    ))
}

// ---- The cases ---------------------------------------------------------------------------

fn empty_store_loads_empty<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    holds(&mut store, &Durable::default(), "of a fresh store")?;
    let mut store = reopen(h, store)?;
    holds(&mut store, &Durable::default(), "of a fresh store reopened")
}

fn hard_state_round_trips<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    let steps = [
        (vote(1, None), "term 1, no vote"),
        (vote(1, Some(2)), "a vote for s2 in term 1"),
        (vote(2, None), "term 2 with the vote taken back to none"),
        (vote(5, Some(0)), "a vote for s0 in term 5"),
    ];
    for (hs, what) in steps {
        let update = set_hard_state(hs);
        write(&mut store, &update, what)?;
        expected.write(&update);
        holds(&mut store, &expected.0, &format!("after writing {what}"))?;
        store = reopen(h, store)?;
        holds(
            &mut store,
            &expected.0,
            &format!("after writing {what} and reopening"),
        )?;
    }
    Ok(())
}

fn extreme_values_round_trip<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    let update = Persist {
        hard_state: Some(vote(u64::MAX, Some(u32::MAX))),
        entries: entries(1, &[u64::MAX - 1, u64::MAX]),
    };
    write(&mut store, &update, "term u64::MAX, a vote for u32::MAX")?;
    expected.write(&update);
    holds(&mut store, &expected.0, "after writing the largest values")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after writing the largest values and reopening",
    )
}

fn appends_extend_the_log<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    for (first, terms) in [(1, &[1, 1, 1][..]), (4, &[1]), (5, &[2, 3])] {
        let update = append(entries(first, terms));
        let what = format!("{} entries at index {first}", terms.len());
        write(&mut store, &update, &what)?;
        expected.write(&update);
        holds(&mut store, &expected.0, &format!("after appending {what}"))?;
    }
    let mut store = reopen(h, store)?;
    holds(&mut store, &expected.0, "after the appends and a reopen")
}

/// Writes the entries `1..=n` of term 1, as one write.
fn log_of<S: Storage>(store: &mut S, expected: &mut Expected, n: u64) -> Result<(), String> {
    let update = append(entries(1, &vec![1; n as usize]));
    write(store, &update, &format!("entries 1..={n} of term 1"))?;
    expected.write(&update);
    Ok(())
}

fn write_inside_log_replaces_suffix<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 5)?;
    // Two entries from index 3: the stored 3 and 4 are replaced and 5 is gone.
    write(
        &mut store,
        &append(entries(3, &[2, 2])),
        "entries 3..=4 of term 2 over 1..=5",
    )?;
    // Spelled out rather than derived, so a shared off-by-one cannot hide here.
    let expected = Durable {
        hard_state: HardState::default(),
        log: [entries(1, &[1, 1]), entries(3, &[2, 2])].concat(),
    };
    holds(&mut store, &expected, "after overwriting from index 3")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected,
        "after overwriting from index 3 and reopening",
    )
}

fn write_at_index_one_replaces_whole_log<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 4)?;
    write(
        &mut store,
        &append(entries(1, &[3])),
        "entry 1 of term 3 over 1..=4",
    )?;
    let expected = Durable {
        hard_state: HardState::default(),
        log: entries(1, &[3]),
    };
    holds(&mut store, &expected, "after overwriting from index 1")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected,
        "after overwriting from index 1 and reopening",
    )
}

fn write_at_last_index_replaces_last_entry<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 3)?;
    write(
        &mut store,
        &append(entries(3, &[2, 2, 2])),
        "entries 3..=5 of term 2 over 1..=3",
    )?;
    let expected = Durable {
        hard_state: HardState::default(),
        log: [entries(1, &[1, 1]), entries(3, &[2, 2, 2])].concat(),
    };
    holds(
        &mut store,
        &expected,
        "after overwriting from the last index",
    )?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected,
        "after overwriting from the last index and reopening",
    )
}

fn write_past_end_is_refused<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    refused(
        &mut store,
        &append(entries(2, &[1])),
        "entry 2 into an empty log",
    )?;
    holds(
        &mut store,
        &Durable::default(),
        "after refusing entry 2 into an empty log",
    )?;
    let mut expected = Expected::default();
    let setup = Persist {
        hard_state: Some(vote(1, Some(1))),
        entries: entries(1, &[1, 1, 1]),
    };
    write(&mut store, &setup, "term 1, a vote and entries 1..=3")?;
    expected.write(&setup);
    let gap = Persist {
        hard_state: Some(vote(2, Some(2))),
        entries: entries(5, &[2, 2]),
    };
    refused(
        &mut store,
        &gap,
        "a new term with entries 5..=6 after 1..=3",
    )?;
    holds(&mut store, &expected.0, "after refusing entries 5..=6")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after refusing entries 5..=6 and reopening",
    )
}

fn index_zero_is_refused<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 2)?;
    let zero = Persist {
        hard_state: Some(vote(3, None)),
        entries: entries(0, &[3, 3]),
    };
    refused(&mut store, &zero, "entries from index 0")?;
    holds(
        &mut store,
        &expected.0,
        "after refusing entries from index 0",
    )?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after refusing entries from index 0 and reopening",
    )
}

fn non_contiguous_write_is_refused<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 3)?;
    let at = |index: Index, term: Term| Entry {
        term,
        index,
        payload: Payload::Data(vec![index as u8]),
    };
    let bad = [
        (vec![at(4, 2), at(6, 2)], "entries 4 and 6"),
        (vec![at(4, 2), at(4, 2)], "entry 4 twice"),
        (vec![at(3, 2), at(2, 2)], "entries 3 then 2"),
        (vec![at(2, 2), at(3, 2), at(5, 2)], "entries 2, 3 and 5"),
    ];
    for (list, what) in bad {
        let update = Persist {
            hard_state: Some(vote(9, Some(9))),
            entries: list,
        };
        refused(&mut store, &update, what)?;
        holds(&mut store, &expected.0, &format!("after refusing {what}"))?;
    }
    let mut store = reopen(h, store)?;
    holds(&mut store, &expected.0, "after the refusals and a reopen")
}

fn refused_write_leaves_store_usable<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 2)?;
    refused(&mut store, &append(entries(7, &[1])), "entry 7 after 1..=2")?;
    let update = Persist {
        hard_state: Some(vote(2, Some(1))),
        entries: entries(3, &[2]),
    };
    write(
        &mut store,
        &update,
        "entry 3 and a vote after a refused write",
    )?;
    expected.write(&update);
    holds(
        &mut store,
        &expected.0,
        "after a write that followed a refused one",
    )?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after a write that followed a refused one, reopened",
    )
}

fn hard_state_and_entries_in_one_write<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 2)?;
    let update = Persist {
        hard_state: Some(vote(4, Some(3))),
        entries: entries(2, &[4, 4]),
    };
    write(&mut store, &update, "a vote and entries 2..=3 together")?;
    expected.write(&update);
    holds(&mut store, &expected.0, "after a vote and entries together")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after a vote and entries together, reopened",
    )
}

fn empty_write_changes_nothing<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    write(
        &mut store,
        &Persist::default(),
        "nothing into a fresh store",
    )?;
    holds(&mut store, &Durable::default(), "after writing nothing")?;
    let mut expected = Expected::default();
    let setup = Persist {
        hard_state: Some(vote(2, Some(1))),
        entries: entries(1, &[1, 2]),
    };
    write(&mut store, &setup, "a vote and entries 1..=2")?;
    expected.write(&setup);
    write(
        &mut store,
        &Persist::default(),
        "nothing after a vote and entries",
    )?;
    holds(&mut store, &expected.0, "after writing nothing")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after writing nothing and reopening",
    )
}

fn hard_state_write_keeps_log<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 3)?;
    let update = set_hard_state(vote(3, Some(2)));
    write(&mut store, &update, "a vote alone")?;
    expected.write(&update);
    holds(&mut store, &expected.0, "after writing a vote alone")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after writing a vote alone and reopening",
    )
}

fn entries_write_keeps_hard_state<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    let update = set_hard_state(vote(6, Some(4)));
    write(&mut store, &update, "a vote in term 6")?;
    expected.write(&update);
    for (first, terms) in [(1, &[6, 6][..]), (2, &[6])] {
        let update = append(entries(first, terms));
        write(
            &mut store,
            &update,
            &format!("entries from index {first} alone"),
        )?;
        expected.write(&update);
        holds(
            &mut store,
            &expected.0,
            &format!("after writing entries from index {first} alone"),
        )?;
    }
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after writing entries alone and reopening",
    )
}

fn payloads_round_trip<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    let large: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let payloads = [
        Payload::Noop,
        Payload::Data(Vec::new()),
        Payload::Data((0..=255).collect()),
        Payload::Data(vec![0; 7]),
        Payload::Noop,
        Payload::Data(large),
    ];
    let update = append(
        payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| Entry {
                term: 1,
                index: i as Index + 1,
                payload,
            })
            .collect(),
    );
    write(&mut store, &update, "no-ops and data of 0 bytes to 1 MiB")?;
    expected.write(&update);
    holds(&mut store, &expected.0, "after writing payloads")?;
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after writing payloads and reopening",
    )
}

fn load_is_repeatable<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    let update = Persist {
        hard_state: Some(vote(1, Some(0))),
        entries: entries(1, &[1, 1]),
    };
    write(&mut store, &update, "a vote and entries 1..=2")?;
    expected.write(&update);
    for when in ["the first time", "the second time", "the third time"] {
        holds(&mut store, &expected.0, when)?;
    }
    let mut store = reopen(h, store)?;
    for when in ["after a reopen", "again after a reopen"] {
        holds(&mut store, &expected.0, when)?;
    }
    let mut store = reopen(h, store)?;
    holds(&mut store, &expected.0, "after a second reopen")
}

fn writes_after_reopen_continue_the_log<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    log_of(&mut store, &mut expected, 3)?;
    let mut store = reopen(h, store)?;
    let update = append(entries(4, &[2]));
    write(&mut store, &update, "entry 4 after a reopen")?;
    expected.write(&update);
    let mut store = reopen(h, store)?;
    refused(
        &mut store,
        &append(entries(6, &[2])),
        "entry 6 after 1..=4 and a reopen",
    )?;
    let update = append(entries(2, &[3]));
    write(&mut store, &update, "entry 2 over 1..=4 after a reopen")?;
    expected.write(&update);
    holds(
        &mut store,
        &expected.0,
        "after writes that followed reopens",
    )?;
    let mut store = reopen(h, store)?;
    let update = append(entries(3, &[3]));
    write(&mut store, &update, "entry 3 after 1..=2 and a reopen")?;
    expected.write(&update);
    let mut store = reopen(h, store)?;
    holds(
        &mut store,
        &expected.0,
        "after writes that followed reopens, reopened",
    )
}

fn reopen_keeps_every_acknowledged_write<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    let writes = [
        set_hard_state(vote(1, Some(1))),
        append(entries(1, &[1])),
        append(entries(2, &[1, 1])),
        set_hard_state(vote(2, None)),
        append(entries(3, &[2])),
        Persist {
            hard_state: Some(vote(3, Some(3))),
            entries: entries(4, &[3]),
        },
    ];
    for (i, update) in writes.iter().enumerate() {
        write(&mut store, update, &format!("write {}", i + 1))?;
        expected.write(update);
        store = reopen(h, store)?;
        holds(
            &mut store,
            &expected.0,
            &format!("after write {} and a reopen", i + 1),
        )?;
    }
    Ok(())
}

/// xorshift64 (Marsaglia, "Xorshift RNGs", J. Stat. Softw. 8(14), 2003): a fixed sequence,
/// so the case is the same on every run and every store.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn many_writes_then_reopen<H: Harness>(h: &mut H) -> Result<(), String> {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let mut store = fresh(h)?;
    let mut expected = Expected::default();
    let mut term = 1;
    let (mut accepted, mut refusals, mut overwrites, mut longest) = (0, 0, 0, 0);
    for step in 1..=300 {
        let last = expected.0.log.len() as Index;
        let hard_state = if rng.below(3) == 0 {
            term += rng.below(2);
            Some(vote(term, (rng.below(2) == 0).then(|| rng.below(5) as u32)))
        } else {
            None
        };
        let count = rng.below(5);
        // Half the writes append, so the log grows; most others overwrite a suffix of a few
        // entries (a follower's conflicting tail), some from anywhere in the log, and some
        // are refused for a gap past its end or inside the entries.
        let near_end = last + 1 - rng.below(last.min(4) + 1);
        let (first, gap) = match rng.below(20) {
            0 | 1 => (last + 2 + rng.below(3), false),
            2 | 3 if count >= 2 => (near_end, true),
            4..=13 => (last + 1, false),
            14..=18 => (near_end, false),
            _ => (1 + rng.below(last + 1), false),
        };
        let mut list: Vec<Entry> = (0..count)
            .map(|i| Entry {
                term,
                index: first + i,
                payload: match rng.below(4) {
                    0 => Payload::Noop,
                    _ => Payload::Data((0..rng.below(40)).map(|_| rng.next() as u8).collect()),
                },
            })
            .collect();
        if gap {
            let last_entry = list.len() - 1;
            list[last_entry].index += 1;
        }
        let ok = list.is_empty() || (first <= last + 1 && !gap);
        let update = Persist {
            hard_state,
            entries: list,
        };
        let what = format!(
            "step {step}: {count} entries from index {first}{} onto a log ending at {last}",
            if gap { " with a gap" } else { "" }
        );
        if ok {
            write(&mut store, &update, &what)?;
            expected.write(&update);
            accepted += 1;
            if first <= last && count > 0 {
                overwrites += 1;
            }
            longest = longest.max(expected.0.log.len());
        } else {
            refused(&mut store, &update, &what)?;
            refusals += 1;
        }
        if step % 10 == 0 {
            holds(&mut store, &expected.0, &format!("after step {step}"))?;
        }
        if step % 37 == 0 {
            store = reopen(h, store)?;
            holds(
                &mut store,
                &expected.0,
                &format!("after step {step} and a reopen"),
            )?;
        }
    }
    if accepted < 200 || refusals < 10 || overwrites < 20 || longest < 30 {
        return Err(format!(
            "the suite's own sequence is too tame: {accepted} writes accepted ({overwrites} \
             inside the log), {refusals} refused, a log of at most {longest} entries"
        ));
    }
    let mut store = reopen(h, store)?;
    holds(&mut store, &expected.0, "after 300 steps and a reopen")
}
