//! The file store against a reference model of the contract, on random sequences of writes
//! (hard states, appends, overwrites from random points, writes past the end and with gaps)
//! and reopens: every `persist` must succeed or be refused exactly when the model's does,
//! and every `load` must return the model's state.

use coordlab_impls::raft::{
    Durable, Entry, FileStorage, Fsync, HardState, NodeId, Payload, Persist, Storage, StorageError,
};
use proptest::prelude::*;

/// The contract on a plain list, written without `raft::validate` or `MemStorage`.
#[derive(Default)]
struct Reference {
    term: u64,
    vote: Option<u32>,
    /// Entry `k` (from 0) is index `k + 1`: its term and payload.
    log: Vec<(u64, Payload)>,
}

impl Reference {
    /// Applies `update` if the contract accepts it; says whether it did.
    fn apply(&mut self, update: &Persist) -> bool {
        if let Some(first) = update.entries.first() {
            let first = first.index;
            if first == 0 || first > self.log.len() as u64 + 1 {
                return false;
            }
            for (k, entry) in update.entries.iter().enumerate() {
                if entry.index != first + k as u64 {
                    return false;
                }
            }
            self.log.truncate(first as usize - 1);
            for entry in &update.entries {
                self.log.push((entry.term, entry.payload.clone()));
            }
        }
        if let Some(hs) = update.hard_state {
            self.term = hs.term;
            self.vote = hs.voted_for.map(|id| id.0);
        }
        true
    }

    fn durable(&self) -> Durable {
        Durable {
            hard_state: HardState {
                term: self.term,
                voted_for: self.vote.map(NodeId),
            },
            log: self
                .log
                .iter()
                .enumerate()
                .map(|(k, (term, payload))| Entry {
                    term: *term,
                    index: k as u64 + 1,
                    payload: payload.clone(),
                })
                .collect(),
        }
    }
}

/// One step of a run. Where a write starts is chosen against the log as it is then.
#[derive(Clone, Debug)]
enum Op {
    Write {
        hard_state: Option<(u64, Option<u32>)>,
        /// The first index is `start % (last + 4)`: 0 (refused), 1 to `last + 1` (accepted
        /// unless broken), or `last + 2`, `last + 3` (refused).
        start: u64,
        /// Each entry's term and payload (`None`: a no-op).
        entries: Vec<(u64, Option<Vec<u8>>)>,
        /// Shifts one entry's index by this much (0: contiguous; a nonzero shift breaks the
        /// run unless it lands on the same index, which it cannot).
        break_at: Option<(usize, i8)>,
    },
    /// The server crashes and restarts: drop the store, open the directory again.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let write = (
        proptest::option::of((0u64..6, proptest::option::of(0u32..4))),
        any::<u64>(),
        proptest::collection::vec(
            (
                0u64..6,
                proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..12)),
            ),
            0..5,
        ),
        proptest::option::weighted(
            0.1,
            (any::<usize>(), prop_oneof![Just(-1i8), Just(1), Just(2)]),
        ),
    )
        .prop_map(|(hard_state, start, entries, break_at)| Op::Write {
            hard_state,
            start,
            entries,
            break_at,
        });
    prop_oneof![6 => write, 1 => Just(Op::Reopen)]
}

fn write_of(op: &Op, last: u64) -> Option<Persist> {
    let Op::Write {
        hard_state,
        start,
        entries,
        break_at,
    } = op
    else {
        return None;
    };
    let first = start % (last + 4);
    let mut list: Vec<Entry> = entries
        .iter()
        .enumerate()
        .map(|(k, (term, data))| Entry {
            term: *term,
            index: first + k as u64,
            payload: data.clone().map_or(Payload::Noop, Payload::Data),
        })
        .collect();
    if let (Some((at, shift)), false) = (break_at, list.is_empty()) {
        let k = at % list.len();
        list[k].index = list[k].index.saturating_add_signed(i64::from(*shift));
    }
    Some(Persist {
        hard_state: hard_state.map(|(term, vote)| HardState {
            term,
            voted_for: vote.map(NodeId),
        }),
        entries: list,
    })
}

fn run(ops: &[Op], fsync: Fsync) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = FileStorage::open_with(dir.path(), fsync).expect("open");
    let mut model = Reference::default();
    for (step, op) in ops.iter().enumerate() {
        match write_of(op, model.log.len() as u64) {
            Some(update) => {
                let accepted = model.apply(&update);
                match store.persist(&update) {
                    Ok(()) => prop_assert!(accepted, "step {step}: the store accepted {update:?}"),
                    Err(StorageError::BadWrite(why)) => prop_assert!(
                        !accepted,
                        "step {step}: the store refused {update:?}: {why}"
                    ),
                    Err(e) => return Err(TestCaseError::fail(format!("step {step}: {e}"))),
                }
            }
            None => {
                drop(store);
                store = FileStorage::open_with(dir.path(), fsync).expect("reopen");
                prop_assert_eq!(store.discarded_tail(), 0, "step {}: a clean log", step);
            }
        }
        prop_assert_eq!(
            store.load().expect("load"),
            model.durable(),
            "after step {}",
            step
        );
    }
    drop(store);
    let mut store = FileStorage::open_with(dir.path(), fsync).expect("reopen");
    prop_assert_eq!(
        store.load().expect("load"),
        model.durable(),
        "after the last reopen"
    );
    Ok(())
}

proptest! {
    // 256 runs of up to 40 steps: about 5,000 fsynced writes, a few seconds.
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Claim: the file store accepts, refuses and keeps exactly what the contract says, in
    /// any sequence of writes and restarts.
    #[test]
    fn file_storage_matches_the_reference_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(&ops, Fsync::Always)?;
    }
}

/// Claim: the generated runs exercise what they are meant to: accepted overwrites inside
/// the log, writes refused for a gap past the end, for index 0 and for broken runs, and
/// reopens, in a fixed sample of runs.
#[test]
fn generated_runs_reach_every_kind_of_write() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut overwrites, mut past_end, mut zero, mut broken, mut reopens) = (0, 0, 0, 0, 0);
    for _ in 0..200 {
        let ops = proptest::collection::vec(op(), 1..40)
            .new_tree(&mut runner)
            .expect("a run")
            .current();
        let mut model = Reference::default();
        for op in &ops {
            let last = model.log.len() as u64;
            match write_of(op, last) {
                None => reopens += 1,
                Some(update) => {
                    let accepted = model.apply(&update);
                    if let Some(first) = update.entries.first() {
                        let contiguous = update
                            .entries
                            .windows(2)
                            .all(|pair| pair[1].index == pair[0].index + 1);
                        match (accepted, first.index) {
                            (true, i) if i <= last => overwrites += 1,
                            (false, 0) => zero += 1,
                            (false, i) if i > last + 1 => past_end += 1,
                            (false, _) if !contiguous => broken += 1,
                            _ => {}
                        }
                    }
                }
            }
        }
        run(&ops, Fsync::Never).expect("the sampled run matches the model");
    }
    for (what, count) in [
        ("accepted overwrites", overwrites),
        ("refusals past the end", past_end),
        ("refusals at index 0", zero),
        ("refusals of broken runs", broken),
        ("reopens", reopens),
    ] {
        assert!(count >= 20, "only {count} {what} in 200 runs");
    }
}
