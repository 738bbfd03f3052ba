//! The state-space explorer behind every check: a level-synchronous breadth-first search
//! over a [`Protocol`]'s states.
//!
//! Why not stateright's own BFS? Its multi-threaded search is not level-ordered, so the
//! depth it reports and the counterexample it returns depend on thread timing, and it
//! stops early once every property has a discovery, so state counts vary with the
//! variant. coordlab's verdicts and trace files must be byte-identical at any thread
//! count, and the state count of every check is pinned in its manifest. So this explorer:
//!
//! - expands one BFS level at a time; worker threads compute successors of slices of the
//!   level in parallel, and one thread merges them in (state id, action) order, so state
//!   ids, depths and first discoveries do not depend on the thread count;
//! - deduplicates on the *whole* symmetry representative (exact equality, no fingerprint
//!   collisions: a collision could hide a state and turn a violation into a false "holds");
//! - explores the whole reachable space (no early stop), so the unique-state count is a
//!   fingerprint of the model;
//! - keeps a parent pointer per state, from which [`Exploration::path_to`] rebuilds a real
//!   path of the model (not of the representatives), shortest and canonical.
//!
//! stateright's BFS checks the same models in the test suite as an independent reference:
//! both must agree on every verdict and on the number of unique states.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coordlab_models::{Kind, Prop, Protocol};
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;

/// Counters a progress display may read while a search runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub states: AtomicUsize,
    pub depth: AtomicUsize,
    pub done: AtomicBool,
}

/// Limits of one search.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub threads: usize,
    pub deadline: Option<Instant>,
    /// Deduplicate on [`Protocol::representative`] (on by default; off to compare against
    /// a checker without symmetry reduction). Ignored when `graph` is set.
    pub symmetry: bool,
    /// Record every transition with its action class, for the liveness checker. The graph
    /// is explored without symmetry reduction: fairness is declared per process (e.g. per
    /// consumer), and a permutation of processes does not preserve it.
    pub graph: bool,
}

impl Budget {
    pub fn new(threads: usize, timeout: Option<Duration>) -> Self {
        Budget {
            threads: threads.max(1),
            deadline: timeout.map(|t| Instant::now() + t),
            symmetry: true,
            graph: false,
        }
    }

    fn canonical<P: Protocol>(&self, state: &P::State) -> P::State {
        if self.symmetry && !self.graph && P::SYMMETRIC {
            P::representative(state)
        } else {
            state.clone()
        }
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// The result of exploring a model's reachable states.
pub struct Exploration<P: Protocol> {
    pub model: P,
    /// Representative states; a state's id is its index, assigned in BFS order.
    states: Vec<P::State>,
    /// The id of the state each state was first reached from; `u32::MAX` for initial states.
    parent: Vec<u32>,
    /// Where each BFS level starts in `states`.
    levels: Vec<usize>,
    /// Per property (in [`Protocol::props`] order): the first state (in BFS order) that
    /// falsifies an `always` or satisfies a `sometimes`.
    first_hit: Vec<Option<u32>>,
    /// False when the budget ran out before the search finished.
    pub complete: bool,
    budget: Budget,
    /// The transitions, when [`Budget::graph`] is set.
    pub graph: Option<Graph>,
    pub elapsed: Duration,
}

/// The steps of a path after its initial state: each action and the state it produced.
pub type Steps<P> = Vec<(
    <P as stateright::Model>::Action,
    <P as stateright::Model>::State,
)>;

/// The reachable transition graph, in compressed sparse rows: the edges of state `s` are
/// `to[start[s]..start[s + 1]]`, each with its action class. Stutter steps (an action that
/// leaves the state unchanged) are not edges.
#[derive(Debug, Default)]
pub struct Graph {
    pub start: Vec<u32>,
    pub to: Vec<u32>,
    pub class: Vec<u8>,
    /// Per state, the classes with an action that changes the state (bit `c` for class `c`).
    pub enabled: Vec<u64>,
}

impl Graph {
    /// The edges leaving `s`: (target, class).
    pub fn edges(&self, s: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let range = self.start[s as usize] as usize..self.start[s as usize + 1] as usize;
        self.to[range.clone()]
            .iter()
            .copied()
            .zip(self.class[range].iter().copied())
    }

    pub fn states(&self) -> usize {
        self.enabled.len()
    }
}

/// What a worker computes for one state: which properties it hits, its successors
/// (canonical state, hash, action class), and the classes enabled in it.
struct Expanded<S> {
    hits: Vec<bool>,
    succs: Vec<(S, u64, u8)>,
    enabled: u64,
}

impl<P: Protocol> Exploration<P> {
    /// Explores every state reachable from the model's initial states.
    pub fn run(model: P, budget: Budget, progress: &Progress) -> Self {
        let start = Instant::now();
        let props = P::props();
        let hasher = DefaultHashBuilder::default();
        let mut table: HashTable<u32> = HashTable::new();
        let mut ex = Exploration {
            model,
            states: Vec::new(),
            parent: Vec::new(),
            levels: vec![0],
            first_hit: vec![None; props.len()],
            complete: true,
            elapsed: Duration::ZERO,
            budget,
            graph: budget.graph.then(Graph::default),
        };
        let classes = ex.model.classes().len();
        assert!(classes <= 64, "{}: at most 64 action classes", P::ID);
        for init in ex.model.init_states() {
            if ex.model.within_boundary(&init) {
                let rep = budget.canonical::<P>(&init);
                let hash = hasher.hash_one(&rep);
                ex.insert(&mut table, &hasher, rep, hash, u32::MAX);
            }
        }
        let mut lo = 0;
        while lo < ex.states.len() {
            if budget.expired() {
                ex.complete = false;
                break;
            }
            let hi = ex.states.len();
            ex.levels.push(hi);
            progress.depth.store(ex.levels.len() - 2, Ordering::Relaxed);
            let expanded = ex.expand_level(lo..hi, &props, &hasher, budget);
            let Some(expanded) = expanded else {
                ex.complete = false;
                break;
            };
            for (offset, e) in expanded.into_iter().enumerate() {
                let id = (lo + offset) as u32;
                for (pi, hit) in e.hits.into_iter().enumerate() {
                    if hit && ex.first_hit[pi].is_none() {
                        ex.first_hit[pi] = Some(id);
                    }
                }
                if let Some(g) = &mut ex.graph {
                    g.start.push(g.to.len() as u32);
                    g.enabled.push(e.enabled);
                }
                for (rep, hash, class) in e.succs {
                    let to = ex.insert(&mut table, &hasher, rep, hash, id);
                    if let Some(g) = &mut ex.graph {
                        g.to.push(to);
                        g.class.push(class);
                    }
                }
            }
            progress.states.store(ex.states.len(), Ordering::Relaxed);
            lo = hi;
        }
        if ex.levels.last() != Some(&ex.states.len()) {
            ex.levels.push(ex.states.len());
        }
        if let Some(g) = &mut ex.graph {
            g.start.push(g.to.len() as u32);
        }
        progress.done.store(true, Ordering::Relaxed);
        ex.elapsed = start.elapsed();
        ex
    }

    fn insert(
        &mut self,
        table: &mut HashTable<u32>,
        hasher: &DefaultHashBuilder,
        rep: P::State,
        hash: u64,
        parent: u32,
    ) -> u32 {
        let states = &self.states;
        let entry = table.entry(
            hash,
            |&id| states[id as usize] == rep,
            |&id| hasher.hash_one(&states[id as usize]),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => *o.get(),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let id = u32::try_from(self.states.len()).expect("more than 2^32 states");
                v.insert(id);
                self.states.push(rep);
                self.parent.push(parent);
                id
            }
        }
    }

    /// Evaluates the properties on, and computes the successors of, every state of one
    /// level; in parallel over slices of the level, results in state order. `None` if the
    /// budget ran out.
    fn expand_level(
        &self,
        level: std::ops::Range<usize>,
        props: &[Prop<P>],
        hasher: &DefaultHashBuilder,
        budget: Budget,
    ) -> Option<Vec<Expanded<P::State>>> {
        let expand_slice = |slice: &[P::State]| -> Option<Vec<Expanded<P::State>>> {
            let mut out = Vec::with_capacity(slice.len());
            let mut actions = Vec::new();
            for (i, state) in slice.iter().enumerate() {
                if i % 4096 == 4095 && budget.expired() {
                    return None;
                }
                let hits = props
                    .iter()
                    .map(|p| match p.kind {
                        Kind::Always => !(p.condition)(&self.model, state),
                        Kind::Sometimes => (p.condition)(&self.model, state),
                        Kind::Eventually | Kind::LeadsTo => false,
                    })
                    .collect();
                let mut enabled = 0u64;
                actions.clear();
                self.model.actions(state, &mut actions);
                let mut succs = Vec::with_capacity(actions.len());
                for action in actions.drain(..) {
                    let class = if budget.graph {
                        self.model.class_of(&action) as u8
                    } else {
                        0
                    };
                    let Some(next) = self.model.next_state(state, action) else {
                        continue;
                    };
                    if &next == state || !self.model.within_boundary(&next) {
                        continue;
                    }
                    enabled |= 1 << class;
                    let rep = budget.canonical::<P>(&next);
                    let hash = hasher.hash_one(&rep);
                    succs.push((rep, hash, class));
                }
                out.push(Expanded {
                    hits,
                    succs,
                    enabled,
                });
            }
            Some(out)
        };
        let level = &self.states[level];
        let threads = budget.threads.min(level.len().div_ceil(256)).max(1);
        if threads == 1 {
            return expand_slice(level);
        }
        let chunk = level.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = level
                .chunks(chunk)
                .map(|slice| scope.spawn(move || expand_slice(slice)))
                .collect();
            let mut all = Vec::with_capacity(level.len());
            for h in handles {
                all.extend(h.join().expect("a checker thread panicked")?);
            }
            Some(all)
        })
    }

    /// The state with id `id` (a representative, or the state itself without symmetry).
    pub fn state(&self, id: u32) -> &P::State {
        &self.states[id as usize]
    }

    /// The id of the state each state was first reached from (`u32::MAX` for initial
    /// states): a tree of shortest paths.
    pub fn parent(&self, id: u32) -> u32 {
        self.parent[id as usize]
    }

    pub fn unique_states(&self) -> usize {
        self.states.len()
    }

    /// The number of BFS levels below the initial states.
    pub fn max_depth(&self) -> usize {
        self.levels.len().saturating_sub(2)
    }

    /// The first state (in BFS order) that falsifies the `always` property or satisfies the
    /// `sometimes` property at `index` of [`Protocol::props`].
    pub fn first_hit(&self, index: usize) -> Option<u32> {
        self.first_hit[index]
    }

    /// A real path of the model from an initial state to a state whose representative is
    /// state `id`: the initial state, then (action, state) pairs. Every step is an enabled
    /// action of the model producing the recorded state.
    pub fn path_to(&self, id: u32) -> (P::State, Steps<P>) {
        let mut ids = vec![id];
        while let Some(&parent) = self.parent.get(*ids.last().unwrap() as usize)
            && parent != u32::MAX
        {
            ids.push(parent);
        }
        ids.reverse();
        let target_rep = |i: usize| &self.states[ids[i] as usize];
        let init = self
            .model
            .init_states()
            .into_iter()
            .find(|s| &self.budget.canonical::<P>(s) == target_rep(0))
            .expect("the first state of a path is a representative of an initial state");
        let mut current = init.clone();
        let mut steps = Vec::with_capacity(ids.len() - 1);
        for i in 1..ids.len() {
            // The state on the path is a permutation of the stored representative; the
            // step that leads to the next representative exists among its successors.
            let (action, next) = self
                .model
                .next_steps(&current)
                .into_iter()
                .find(|(_, next)| &self.budget.canonical::<P>(next) == target_rep(i))
                .expect("a symmetric image of every stored step is enabled");
            steps.push((action, next.clone()));
            current = next;
        }
        (init, steps)
    }
}
