//! The pool's accounting against a sequential reference, driven single-threaded through a
//! `SteppedPool` (no threads: the test performs each worker's step). The reference is the
//! `stealing` model's rules written over plain queues: which worker a placement picks
//! (round-robin turn, least-loaded argmin with the lowest index on a tie), refusal iff the
//! chosen queue is full, whom a notification and a hand-off wake, every worker's phase after
//! every operation, which task each step takes and from whom, and an exactly-once ledger
//! (every accepted task ran exactly once or came back from `shutdown`, refused ones never).

use std::collections::VecDeque;

use coordlab_impls::pool::{Deviation, Phase, Placement, Pool, Step, TrySubmitError};
use coordlab_impls::sync::{Arc, Mutex};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Submit,
    Step(usize),
}

struct Reference {
    queues: Vec<VecDeque<u64>>,
    phases: Vec<Phase>,
    held: Vec<Option<u64>>,
    capacity: usize,
    placement: Placement,
    turn: usize,
    next: u64,
}

fn searching(p: Phase) -> bool {
    matches!(p, Phase::Searching | Phase::Checked | Phase::Found)
}

fn asleep(p: Phase) -> bool {
    matches!(p, Phase::Registered | Phase::Parked)
}

impl Reference {
    fn target(&self) -> usize {
        match self.placement {
            Placement::RoundRobin => self.turn,
            Placement::LeastLoaded => {
                let min = self.queues.iter().map(VecDeque::len).min().unwrap();
                self.queues.iter().position(|q| q.len() == min).unwrap()
            }
        }
    }

    fn sees_work(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty())
    }

    fn first_asleep(&self) -> Option<usize> {
        self.phases.iter().position(|&p| asleep(p))
    }

    /// `Ok(task id)` or `Err(the full worker)`.
    fn submit(&mut self) -> Result<u64, usize> {
        let t = self.target();
        if self.queues[t].len() >= self.capacity {
            return Err(t);
        }
        let id = self.next;
        self.next += 1;
        self.queues[t].push_back(id);
        self.turn = (t + 1) % self.queues.len();
        // Notify (the model's `wakes`).
        let woke = if asleep(self.phases[t]) {
            Some(t)
        } else if self.phases.iter().any(|&p| searching(p)) {
            None
        } else {
            self.first_asleep()
        };
        if let Some(w) = woke {
            self.phases[w] = Phase::Searching;
        }
        Ok(id)
    }

    fn step(&mut self, w: usize) -> Step {
        let n = self.queues.len();
        match self.phases[w] {
            Phase::Searching => {
                for k in 0..n {
                    let v = (w + k) % n;
                    if let Some(task) = self.queues[v].pop_front() {
                        self.phases[w] = Phase::Found;
                        self.held[w] = Some(task);
                        return Step::Took {
                            task,
                            victim: (v != w).then_some(v),
                        };
                    }
                }
                self.phases[w] = Phase::Checked;
                Step::Searched
            }
            Phase::Checked => {
                self.phases[w] = Phase::Registered;
                Step::Registered
            }
            Phase::Registered => {
                let found = self.sees_work();
                self.phases[w] = if found {
                    Phase::Searching
                } else {
                    Phase::Parked
                };
                Step::Rechecked { found }
            }
            Phase::Parked => Step::Idle,
            Phase::Found => {
                let others = (0..n).any(|i| i != w && searching(self.phases[i]));
                let woke = if others || !self.sees_work() {
                    None
                } else {
                    self.first_asleep()
                };
                if let Some(o) = woke {
                    self.phases[o] = Phase::Searching;
                }
                self.phases[w] = Phase::Running;
                Step::StoppedSearching { woke }
            }
            Phase::Running => {
                self.phases[w] = Phase::Searching;
                Step::Finished {
                    task: self.held[w].take().unwrap(),
                }
            }
        }
    }
}

/// Per task id: (ran, returned).
type Ledger = Arc<Mutex<Vec<(u32, u32)>>>;

fn task(ledger: &Ledger, id: u64, returned: &Arc<Mutex<bool>>) -> impl FnOnce() + Send + 'static {
    let (ledger, returned) = (Arc::clone(ledger), Arc::clone(returned));
    move || {
        let back = *returned.lock().unwrap();
        let mut l = ledger.lock().unwrap();
        let e = &mut l[id as usize];
        if back {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
}

fn ops(workers: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            1 => Just(Op::Submit),
            3 => (0..workers).prop_map(Op::Step),
        ],
        0..120,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every operation of a stepped pool returns what the sequential reference says, and
    /// leaves every worker in the reference's phase; at the end every accepted task ran
    /// exactly once or came back from `shutdown`.
    #[test]
    fn stepped_pool_matches_the_sequential_reference(
        (workers, capacity, least, ops) in (2usize..=4, 1usize..=3, any::<bool>())
            .prop_flat_map(|(w, c, l)| (Just(w), Just(c), Just(l), ops(w)))
    ) {
        let placement = if least { Placement::LeastLoaded } else { Placement::RoundRobin };
        let mut pool = Pool::builder()
            .workers(workers)
            .capacity(capacity)
            .placement(placement)
            .build_stepped()
            .unwrap();
        let mut r = Reference {
            queues: vec![VecDeque::new(); workers],
            phases: vec![Phase::Searching; workers],
            held: vec![None; workers],
            capacity,
            placement,
            turn: 0,
            next: 0,
        };
        let ledger: Ledger = Arc::new(Mutex::new(vec![(0, 0); ops.len()]));
        let returned = Arc::new(Mutex::new(false));
        let mut refused = 0;
        for op in &ops {
            match *op {
                Op::Submit => {
                    let id = r.next;
                    let expected = r.submit();
                    let got = pool.try_submit(task(&ledger, id, &returned));
                    match (expected, got) {
                        (Ok(_), Ok(())) => {}
                        (Err(w), Err(TrySubmitError::Full { worker, .. })) => {
                            prop_assert_eq!(w, worker);
                            refused += 1;
                        }
                        (e, g) => prop_assert!(false, "reference {:?}, pool {:?}", e, g),
                    }
                }
                Op::Step(w) => prop_assert_eq!(pool.step(w), r.step(w), "step of worker {}", w),
            }
            prop_assert_eq!(pool.phases(), r.phases.clone());
            let lengths: Vec<usize> = r.queues.iter().map(VecDeque::len).collect();
            prop_assert_eq!(pool.queue_lengths(), lengths);
        }
        let back = pool.shutdown();
        let unstarted = r.queues.iter().map(VecDeque::len).sum::<usize>()
            + r.held.iter().flatten().count();
        prop_assert_eq!(back.len(), unstarted);
        *returned.lock().unwrap() = true;
        for t in back {
            t();
        }
        let l = ledger.lock().unwrap();
        for id in 0..r.next as usize {
            prop_assert_eq!(l[id].0 + l[id].1, 1, "t{} ran {} and came back {} times", id, l[id].0, l[id].1);
        }
        prop_assert!(l[r.next as usize..].iter().all(|&e| e == (0, 0)), "a refused task ran");
        prop_assert!(refused + r.next as usize <= ops.len());
    }
}

/// The model's `no-last-searcher-wakeup` counterexample, step by step on a stepped pool
/// (two workers, capacity 1, round-robin): worker 0 steals t1 and is handed t2 while the
/// producer, seeing it searching, wakes nobody. Stopping its search, the correct worker 0
/// wakes the sleeping worker 1 (the last searcher's hand-off); with the deviation it does not,
/// and t2 waits while worker 1 sleeps and worker 0 runs (stalls in) t1.
#[test]
fn the_last_searcher_hands_off_when_it_stops() {
    for (deviation, woke) in [
        (None, Some(1)),
        (Some(Deviation::NoLastSearcherWakeup), None),
    ] {
        let mut pool = Pool::builder()
            .workers(2)
            .capacity(1)
            .record(true)
            .deviation(deviation)
            .build_stepped()
            .unwrap();
        pool.try_submit(|| {}).unwrap(); // t0 on worker 0, worker 0 searching: nobody woken
        pool.try_submit(|| {}).unwrap(); // t1 on worker 1, searching: nobody woken
        assert_eq!(
            pool.step(0),
            Step::Took {
                task: 0,
                victim: None
            }
        );
        assert_eq!(pool.step(0), Step::StoppedSearching { woke: None });
        assert_eq!(pool.step(0), Step::Finished { task: 0 });
        assert_eq!(
            pool.step(0),
            Step::Took {
                task: 1,
                victim: Some(1)
            }
        );
        assert_eq!(pool.step(1), Step::Searched);
        assert_eq!(pool.step(1), Step::Registered);
        assert_eq!(pool.step(1), Step::Rechecked { found: false });
        pool.try_submit(|| {}).unwrap(); // t2 on worker 0, which still counts as searching
        assert_eq!(pool.phases(), [Phase::Found, Phase::Parked]);
        assert_eq!(pool.step(0), Step::StoppedSearching { woke });
        let expected_phase = if woke.is_some() {
            Phase::Searching
        } else {
            Phase::Parked
        };
        assert_eq!(pool.phases()[1], expected_phase);
        let events = pool.events();
        assert_eq!(
            events.last().map(ToString::to_string),
            Some(match woke {
                Some(_) => "worker 0 stops searching and wakes worker 1".to_owned(),
                None => "worker 0 stops searching".to_owned(),
            })
        );
        assert_eq!(
            pool.shutdown().len(),
            2,
            "t1 (taken, not run) and t2 come back"
        );
    }
}
