//! The state-space explorer behind every check: a level-synchronous breadth-first search
//! over a [`Protocol`]'s states.
//!
//! Why not stateright's own BFS? Its multi-threaded search is not level-ordered, so the
//! depth it reports and the counterexample it returns depend on thread timing; it stops
//! early once every property has a discovery, so state counts vary with the variant; and
//! in stateright 0.31 it ignores symmetry reduction. coordlab's verdicts and trace files
//! must be byte-identical at any thread count, and the state count of every check is
//! pinned in its manifest. So this explorer:
//!
//! - expands one BFS level at a time; worker threads compute successors of slices of the
//!   level in parallel, and one thread merges them in (state id, action) order, so state
//!   ids, depths and first discoveries do not depend on the thread count;
//! - stores each state once, in its compact binary encoding (postcard) in one arena, and
//!   deduplicates on the *whole* encoding of the symmetry representative: exact equality,
//!   no fingerprint collisions (a collision could hide a state and turn a violation into a
//!   false "holds"), at a few dozen bytes per state;
//! - explores the whole reachable space (no early stop), so the unique-state count is a
//!   fingerprint of the model;
//! - keeps a parent pointer per state, from which [`Exploration::path_to`] rebuilds a real
//!   path of the model (not of the representatives), shortest and canonical.
//!
//! The encoding must be canonical: equal states encode to equal bytes. serde's derived
//! encodings of the models' states (structs, enums, integers, fixed sequences) are; a state
//! holding a `HashMap` would not be, and none does.
//!
//! stateright's checkers explore the same models in the test suite as an independent
//! reference: both must agree on every verdict and on the number of unique states.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coordlab_models::{Kind, Prop, Protocol};
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Counters a progress display may read while a search runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub states: AtomicUsize,
    pub depth: AtomicUsize,
    /// Set while the transition graph for liveness is being explored.
    pub graph: AtomicBool,
    /// Set by whoever runs the check, once every search of it is over.
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
            // A budget too large to add to the clock is no deadline at all.
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            symmetry: true,
            graph: false,
        }
    }

    /// The state to store for `state`: its representative under symmetry, else itself
    /// (borrowed: the explorer's inner loop encodes it and needs no copy).
    fn canonical<'s, P: Protocol>(&self, state: &'s P::State) -> Cow<'s, P::State> {
        if self.symmetry && !self.graph && P::SYMMETRIC {
            Cow::Owned(P::representative(state))
        } else {
            Cow::Borrowed(state)
        }
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// The reachable transition graph, in compressed sparse rows: the edges of state `s` are
/// `to[start[s]..start[s + 1]]`, each with its action class. Stutter steps (an action that
/// leaves the state unchanged) are not edges.
///
/// A step to a state outside the model's boundary ([`stateright::Model::within_boundary`])
/// is not an edge either, but its class counts as enabled in `s` (`cut[s]`): a behaviour
/// that fairness would push out of the bounds is not a counterexample within them.
#[derive(Debug, Default)]
pub struct Graph {
    pub start: Vec<u32>,
    pub to: Vec<u32>,
    pub class: Vec<u8>,
    /// Per state, the classes of its steps that leave the boundary (bit per class); empty
    /// when no state has one.
    pub cut: Vec<u64>,
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
        self.start.len().saturating_sub(1)
    }

    /// The classes enabled in `s` (bit `c` for class `c`): those with an action that
    /// changes the state — the classes of its edges, and of its steps out of the boundary.
    pub fn enabled(&self, s: u32) -> u64 {
        let cut = self.cut.get(s as usize).copied().unwrap_or(0);
        self.edges(s).fold(cut, |m, (_, c)| m | 1 << c)
    }
}

/// The steps of a path after its initial state: each action and the state it produced.
pub type Steps<P> = Vec<(
    <P as stateright::Model>::Action,
    <P as stateright::Model>::State,
)>;

/// Every state once, encoded, in one arena; ids are dense and in insertion order.
struct Store {
    bytes: Vec<u8>,
    /// End offset of each state's encoding in `bytes`.
    ends: Vec<u32>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Store {
    fn new() -> Self {
        Store {
            bytes: Vec::new(),
            ends: Vec::new(),
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, id: u32) -> &[u8] {
        let end = self.ends[id as usize] as usize;
        let start = if id == 0 {
            0
        } else {
            self.ends[id as usize - 1] as usize
        };
        &self.bytes[start..end]
    }

    /// The id of the state encoded as `enc`, and whether it is new.
    fn insert(&mut self, enc: &[u8], hash: u64) -> (u32, bool) {
        let Store {
            bytes,
            ends,
            table,
            hasher,
        } = self;
        let get = |id: u32| {
            let end = ends[id as usize] as usize;
            let start = if id == 0 {
                0
            } else {
                ends[id as usize - 1] as usize
            };
            &bytes[start..end]
        };
        match table.entry(hash, |&id| get(id) == enc, |&id| hasher.hash_one(get(id))) {
            hashbrown::hash_table::Entry::Occupied(o) => (*o.get(), false),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let id = u32::try_from(ends.len()).expect("more than 2^32 states");
                v.insert(id);
                bytes.extend_from_slice(enc);
                ends.push(u32::try_from(bytes.len()).expect("more than 4 GiB of encoded states"));
                (id, true)
            }
        }
    }
}

fn encode<S: Serialize>(state: &S, out: &mut Vec<u8>) {
    postcard::to_io(state, &mut *out).expect("a model state encodes");
}

fn decode<S: DeserializeOwned>(bytes: &[u8]) -> S {
    postcard::from_bytes(bytes).expect("a stored state decodes")
}

/// The result of exploring a model's reachable states.
pub struct Exploration<P: Protocol> {
    pub model: P,
    store: Store,
    /// The id of the state each state was first reached from; `u32::MAX` for initial states.
    parent: Vec<u32>,
    /// Where each BFS level starts, in ids.
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

/// States expanded between two merges (see [`Exploration::run`]).
const BATCH: usize = 1 << 12;

/// What one worker computes for a slice of a level: per state, the properties it hits
/// (bit per property), how many successors it has and the classes of its steps out of the
/// boundary; the successors' encodings back to back, each with its end, hash and action
/// class.
#[derive(Default)]
struct Chunk {
    per_state: Vec<(u64, u32, u64)>,
    bytes: Vec<u8>,
    succs: Vec<(u32, u64, u8)>,
}

impl<P: Protocol> Exploration<P> {
    /// Explores every state reachable from the model's initial states.
    pub fn run(model: P, budget: Budget, progress: &Progress) -> Self {
        let start = Instant::now();
        progress.graph.store(budget.graph, Ordering::Relaxed);
        let props = P::props();
        assert!(props.len() <= 64, "{}: at most 64 properties", P::ID);
        let mut ex = Exploration {
            model,
            store: Store::new(),
            parent: Vec::new(),
            levels: vec![0],
            first_hit: vec![None; props.len()],
            complete: true,
            budget,
            graph: budget.graph.then(Graph::default),
            elapsed: Duration::ZERO,
        };
        let classes = ex.model.classes().len();
        assert!(classes <= 64, "{}: at most 64 action classes", P::ID);
        let mut buf = Vec::new();
        for init in ex.model.init_states() {
            if ex.model.within_boundary(&init) {
                buf.clear();
                encode(&budget.canonical::<P>(&init), &mut buf);
                let hash = ex.store.hasher.hash_one(&buf[..]);
                if ex.store.insert(&buf, hash).1 {
                    ex.parent.push(u32::MAX);
                }
            }
        }
        let mut lo = 0;
        'levels: while lo < ex.store.len() {
            let hi = ex.store.len();
            ex.levels.push(hi);
            progress.depth.store(ex.levels.len() - 2, Ordering::Relaxed);
            // A level is expanded in batches, so that the successors held between expansion
            // and merge stay a few megabytes however wide the level is. Batches are merged
            // in order: ids do not depend on the batch size or the thread count.
            let mut at = lo;
            while at < hi {
                if budget.expired() {
                    ex.complete = false;
                    break 'levels;
                }
                let end = (at + BATCH).min(hi);
                let Some(chunks) = ex.expand_level(at as u32..end as u32, &props) else {
                    ex.complete = false;
                    break 'levels;
                };
                ex.merge(at as u32, chunks);
                progress.states.store(ex.store.len(), Ordering::Relaxed);
                at = end;
            }
            lo = hi;
        }
        if ex.levels.last() != Some(&ex.store.len()) {
            ex.levels.push(ex.store.len());
        }
        if let Some(g) = &mut ex.graph {
            g.start.push(g.to.len() as u32);
            g.to.shrink_to_fit();
            g.class.shrink_to_fit();
        }
        ex.store.bytes.shrink_to_fit();
        // Deduplication is over: the table is not needed to read states or rebuild paths.
        ex.store.table = HashTable::new();
        ex.elapsed = start.elapsed();
        ex
    }

    /// Adds the successors of the states `first..` (in order) to the store, the parent
    /// pointers, the first hits and the graph.
    fn merge(&mut self, first: u32, chunks: Vec<Chunk>) {
        if let Some(g) = &mut self.graph {
            // Grow the edge arrays by exactly this batch's edges: no doubling slack.
            let edges: usize = chunks.iter().map(|c| c.succs.len()).sum();
            g.to.reserve_exact(edges);
            g.class.reserve_exact(edges);
            g.start
                .reserve_exact(chunks.iter().map(|c| c.per_state.len()).sum());
        }
        let mut id = first;
        for chunk in chunks {
            let mut next = 0;
            let mut begin = 0usize;
            for &(hits, count, cut) in &chunk.per_state {
                for (pi, slot) in self.first_hit.iter_mut().enumerate() {
                    if hits & (1 << pi) != 0 && slot.is_none() {
                        *slot = Some(id);
                    }
                }
                if let Some(g) = &mut self.graph {
                    g.start.push(g.to.len() as u32);
                    if cut != 0 {
                        g.cut.resize(id as usize + 1, 0);
                        g.cut[id as usize] = cut;
                    }
                }
                for &(end, hash, class) in &chunk.succs[next..next + count as usize] {
                    let (to, new) = self.store.insert(&chunk.bytes[begin..end as usize], hash);
                    begin = end as usize;
                    if new {
                        self.parent.push(id);
                    }
                    if let Some(g) = &mut self.graph {
                        g.to.push(to);
                        g.class.push(class);
                    }
                }
                next += count as usize;
                id += 1;
            }
        }
    }

    /// Evaluates the properties on, and computes the successors of, every state of one
    /// level; in parallel over slices of the level, chunks in state order. `None` if the
    /// budget ran out.
    fn expand_level(&self, level: std::ops::Range<u32>, props: &[Prop<P>]) -> Option<Vec<Chunk>> {
        let budget = self.budget;
        let expand = |ids: std::ops::Range<u32>| -> Option<Chunk> {
            let mut chunk = Chunk::default();
            let mut actions = Vec::new();
            for id in ids {
                if id % 4096 == 4095 && budget.expired() {
                    return None;
                }
                let state: P::State = decode(self.store.get(id));
                let mut hits = 0u64;
                for (pi, p) in props.iter().enumerate() {
                    let hit = match p.kind {
                        Kind::Always => !(p.condition)(&self.model, &state),
                        Kind::Sometimes => (p.condition)(&self.model, &state),
                        Kind::Eventually
                        | Kind::LeadsTo
                        | Kind::AlwaysEventually
                        | Kind::EventuallyAlways => false,
                    };
                    hits |= u64::from(hit) << pi;
                }
                let mut count = 0u32;
                let mut cut = 0u64;
                actions.clear();
                self.model.actions(&state, &mut actions);
                for action in actions.drain(..) {
                    let class = if budget.graph {
                        self.model.class_of(&action) as u8
                    } else {
                        0
                    };
                    let Some(next) = self.model.next_state(&state, action) else {
                        continue;
                    };
                    if next == state {
                        continue;
                    }
                    if !self.model.within_boundary(&next) {
                        cut |= 1 << class;
                        continue;
                    }
                    let begin = chunk.bytes.len();
                    encode(&budget.canonical::<P>(&next), &mut chunk.bytes);
                    let hash = self.store.hasher.hash_one(&chunk.bytes[begin..]);
                    chunk.succs.push((chunk.bytes.len() as u32, hash, class));
                    count += 1;
                }
                chunk.per_state.push((hits, count, cut));
            }
            Some(chunk)
        };
        let len = level.end - level.start;
        let threads = (budget.threads as u32).min(len.div_ceil(256)).max(1);
        if threads == 1 {
            return expand(level).map(|c| vec![c]);
        }
        let size = len.div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let lo = level.start + t * size;
                    let hi = (lo + size).min(level.end);
                    scope.spawn(move || expand(lo..hi))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a checker thread panicked"))
                .collect()
        })
    }

    /// The state with id `id` (a representative, or the state itself without symmetry).
    pub fn state(&self, id: u32) -> P::State {
        decode(self.store.get(id))
    }

    /// The id of the state each state was first reached from (`u32::MAX` for initial
    /// states): a tree of shortest paths.
    pub fn parent(&self, id: u32) -> u32 {
        self.parent[id as usize]
    }

    pub fn unique_states(&self) -> usize {
        self.store.len()
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

    /// Whether `state`'s canonical form is the stored state `id`.
    fn is(&self, state: &P::State, id: u32) -> bool {
        let mut buf = Vec::new();
        encode(&self.budget.canonical::<P>(state), &mut buf);
        buf == self.store.get(id)
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
        let init = self
            .model
            .init_states()
            .into_iter()
            .find(|s| self.is(s, ids[0]))
            .expect("the first state of a path is a representative of an initial state");
        let mut current = init.clone();
        let mut steps = Vec::with_capacity(ids.len() - 1);
        for &next_id in &ids[1..] {
            // The state on the path is a permutation of the stored representative; the
            // step that leads to the next representative exists among its successors.
            let (action, next) = self
                .model
                .next_steps(&current)
                .into_iter()
                .find(|(_, next)| self.is(next, next_id))
                .expect("a symmetric image of every stored step is enabled");
            steps.push((action, next.clone()));
            current = next;
        }
        (init, steps)
    }
}
