//! The deque, single-threaded, against a `VecDeque` reference (proptest): push is `Full`
//! exactly when the reference holds `capacity` tasks and otherwise `push_back`s; pop is
//! `pop_back`; steal is `pop_front` and never `Retry` (no other thread can win a race);
//! capacities 0..=9, powers of two and not, so the ring (the next power of two) wraps around
//! many times in a sequence of 300 operations.

use std::cell::Cell;
use std::collections::VecDeque;

use coordlab_impls::deque::{Full, Steal, deque};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

#[derive(Clone, Copy, Debug)]
enum Op {
    Push,
    Pop,
    Steal,
}

fn op() -> impl Strategy<Value = Op> {
    // Pushes a little more often than takes, so the deque fills up and `Full` comes up.
    prop_oneof![5 => Just(Op::Push), 2 => Just(Op::Pop), 2 => Just(Op::Steal)]
}

thread_local! {
    /// Across the cases run on this thread: how many pushes went to a slot already written
    /// before (index at least the ring size), and how many pushes were `Full`.
    static SEEN: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Runs `ops` on a deque of `capacity` and on the reference; fails at the first difference.
fn compare(capacity: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let (worker, stealer) = deque::<usize>(capacity);
    let ring = capacity.max(1).next_power_of_two();
    let mut reference = VecDeque::new();
    let mut next = 0;
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Push => {
                let got = worker.push(next);
                if reference.len() == capacity {
                    prop_assert_eq!(got, Err(Full(next)), "op {}: push on a full deque", i);
                    SEEN.with(|s| s.set((s.get().0, s.get().1 + 1)));
                } else {
                    prop_assert_eq!(got, Ok(()), "op {}: push with room", i);
                    reference.push_back(next);
                    if next >= ring {
                        SEEN.with(|s| s.set((s.get().0 + 1, s.get().1)));
                    }
                    next += 1;
                }
            }
            Op::Pop => prop_assert_eq!(worker.pop(), reference.pop_back(), "op {}: pop", i),
            Op::Steal => {
                let expected = reference.pop_front().map_or(Steal::Empty, Steal::Success);
                prop_assert_eq!(stealer.steal(), expected, "op {}: steal", i);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every return value of push, pop and steal equals the reference's.
    #[test]
    fn deque_matches_a_vecdeque(capacity in 0usize..=9, ops in prop::collection::vec(op(), 0..300)) {
        compare(capacity, &ops)?;
    }
}

/// The property above is not vacuous: its cases pushed into reused slots (wrap-around) and
/// were refused as `Full`, many times. (Runs the same generator on its own, so the count does
/// not depend on test order.)
#[test]
fn the_comparison_wraps_around_and_fills_up() {
    SEEN.with(|s| s.set((0, 0)));
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..64 {
        let capacity = (0usize..=9).new_tree(&mut runner).unwrap().current();
        let ops = prop::collection::vec(op(), 0..300)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        compare(capacity, &ops).unwrap();
    }
    let (reused, full) = SEEN.with(Cell::get);
    assert!(reused > 1_000 && full > 100, "reused {reused}, full {full}");
}
