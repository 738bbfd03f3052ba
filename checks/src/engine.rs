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
//! - stores each state once, exactly: the symmetry representative's compact binary
//!   encoding (postcard), cut into the parts its model splits it into
//!   ([`Protocol::parts`]) and tree-compressed (Laarman, van de Pol and Weber, "Parallel
//!   Recursive State Compression for Free", SPIN 2011): each distinct part is kept once,
//!   each distinct pair of children once, and a state is one pair of ids packed into as
//!   few bits as the tables below it need. Deduplication compares whole parts and pairs:
//!   exact equality, no fingerprint collisions (a collision could hide a state and turn a
//!   violation into a false "holds"). Every model of the suite splits its states, and its
//!   checks of more than 100,000 states are stored in 11 to 15 bytes per state, hash
//!   indexes and parent links included ([`Exploration::store_bytes`]; whole, the same
//!   states take 33 to 53). A model that does not split is stored whole, one part. Worker
//!   threads look successors up in the store, which changes only between
//!   expansions, so the merge inserts only what they did not find;
//! - explores the whole reachable space (no early stop), so the unique-state count is a
//!   fingerprint of the model;
//! - keeps a parent pointer per state (in as many bits as the largest id needs), from which
//!   [`Exploration::path_to`] rebuilds a real path of the model (not of the
//!   representatives), shortest and canonical.
//!
//! The encoding must be canonical: equal states (and parts) encode to equal bytes. serde's
//! derived encodings of the models' states (structs, enums, integers, fixed sequences) are;
//! a state holding a `HashMap` would not be, and none does.
//!
//! The store's tables are written here rather than taken from a crate: hashbrown's table
//! (which the store used before) costs 5 bytes a slot and grows by doubling, 5.7 to 11.4
//! bytes per state for the index alone; the pairs need bit-packed records whose width grows
//! in place as the tables below them grow, which no well-kept crate offers.
//!
//! stateright's checkers explore the same models in the test suite as an independent
//! reference: both must agree on every verdict and on the number of unique states.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coordlab_models::{Kind, Parts, Prop, Protocol, decode_part, encode_part};
use foldhash::fast::FixedState;
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
    /// Store each state as the parts its model cuts it into ([`Protocol::parts`]), tree
    /// compressed (on by default; off stores every state whole, to compare the two).
    pub split: bool,
}

impl Budget {
    pub fn new(threads: usize, timeout: Option<Duration>) -> Self {
        Budget {
            threads: threads.max(1),
            // A budget too large to add to the clock is no deadline at all.
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            symmetry: true,
            graph: false,
            split: true,
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

/// The number of bits `v` needs (0 for 0).
fn bits(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// The low `width` bits set.
fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    }
}

/// Makes room in `v` for `extra` more elements, growing its allocation by a quarter rather
/// than doubling it: the store's vectors hold most of a search's memory, and doubling would
/// leave up to half of it unused. (Large blocks are grown in place by the allocator.)
fn reserve<T>(v: &mut Vec<T>, extra: usize) {
    if v.len() + extra > v.capacity() {
        v.reserve_exact(extra.max(v.capacity() / 4).max(64));
    }
}

/// Unsigned integers of one bit width, packed into 64-bit words. The width is that of the
/// largest value pushed: a value that needs more bits widens every element, in place.
#[derive(Default)]
struct Packed {
    words: Vec<u64>,
    width: u32,
    len: usize,
}

impl Packed {
    fn get(&self, i: usize) -> u64 {
        Self::read(&self.words, self.width, i)
    }

    fn read(words: &[u64], width: u32, i: usize) -> u64 {
        if width == 0 {
            return 0;
        }
        let bit = i * width as usize;
        let (w, off) = (bit / 64, (bit % 64) as u32);
        let mut v = words[w] >> off;
        if off + width > 64 {
            v |= words[w + 1] << (64 - off);
        }
        v & mask(width)
    }

    fn write(words: &mut [u64], width: u32, i: usize, v: u64) {
        if width == 0 {
            return;
        }
        let bit = i * width as usize;
        let (w, off) = (bit / 64, (bit % 64) as u32);
        words[w] = words[w] & !(mask(width) << off) | v << off;
        if off + width > 64 {
            let high = off + width - 64;
            words[w + 1] = words[w + 1] & !mask(high) | v >> (64 - off);
        }
    }

    /// Words needed for `len` elements of `width` bits.
    fn words_for(len: usize, width: u32) -> usize {
        (len * width as usize).div_ceil(64)
    }

    /// Appends `v`, which must fit the width.
    fn push(&mut self, v: u64) {
        debug_assert!(bits(v) <= self.width, "{v} in {} bits", self.width);
        let need = Self::words_for(self.len + 1, self.width);
        if need > self.words.len() {
            let extra = need - self.words.len();
            reserve(&mut self.words, extra);
            self.words.resize(need, 0);
        }
        Self::write(&mut self.words, self.width, self.len, v);
        self.len += 1;
    }

    /// Appends `v`, widening first if it needs more bits.
    fn push_widening(&mut self, v: u64) {
        if bits(v) > self.width {
            self.widen(bits(v), |x| x);
        }
        self.push(v);
    }

    /// Rewrites every element `x` as `remap(x)` in `width` bits (more than now), in place:
    /// from the last element down, each lands at or after where it was, past every element
    /// not yet moved.
    fn widen(&mut self, width: u32, remap: impl Fn(u64) -> u64) {
        debug_assert!(width > self.width && width <= 64);
        let need = Self::words_for(self.len, width);
        let extra = need - self.words.len();
        reserve(&mut self.words, extra);
        self.words.resize(need, 0);
        for i in (0..self.len).rev() {
            let v = Self::read(&self.words, self.width, i);
            Self::write(&mut self.words, width, i, remap(v));
        }
        self.width = width;
    }

    fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }

    fn shrink(&mut self) {
        self.words.shrink_to_fit();
    }
}

/// Largest load of an [`Index`] (7/8) before it grows by half.
const LOAD: (usize, usize) = (7, 8);

/// A hash index from keys to the dense ids of a table's records: open addressing with
/// linear probing over 32-bit slots. A slot holds the id plus one (0: empty) in its low bits
/// and, in the high bits the largest id leaves free, a tag of the key's hash, which spares
/// most comparisons with a record. The keys are the table's records, so a slot costs 4
/// bytes; at a load of 7/12 to 7/8 (it grows by half, to any size: the bucket is the hash
/// scaled to the table, Lemire's multiply-shift) that is 4.6 to 6.9 bytes per record.
/// (hashbrown's table, which coordlab used before, costs 5 bytes a slot at a load of 7/16
/// to 7/8: 5.7 to 11.4 bytes per record.)
#[derive(Default)]
struct Index {
    slots: Vec<u32>,
    /// Bits of a slot that hold the id plus one.
    id_bits: u32,
    len: usize,
}

impl Index {
    fn id_mask(&self) -> u32 {
        mask(self.id_bits) as u32
    }

    fn tag(&self, hash: u64) -> u32 {
        // The bucket comes from the hash's high bits; the tag from its low ones.
        hash as u32 & !self.id_mask()
    }

    fn bucket(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize
    }

    /// The id whose record `is` accepts among those filed under `hash`; else the free slot
    /// where that key goes (`usize::MAX` in an empty index).
    fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(usize::MAX);
        }
        let (tag, ids) = (self.tag(hash), self.id_mask());
        let mut i = self.bucket(hash);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Err(i);
            }
            if s & !ids == tag && is((s & ids) - 1) {
                return Ok((s & ids) - 1);
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    /// Makes room for one more id; `hash_of(id)` gives the hash of each id's key when the
    /// index is rebuilt larger.
    fn reserve(&mut self, hash_of: impl Fn(u32) -> u64) {
        if (self.len + 1) * LOAD.1 <= self.slots.len() * LOAD.0 {
            return;
        }
        let size = (self.slots.len() + self.slots.len() / 2).max(16);
        // Every id the larger index can hold, plus one, must fit beside a tag.
        let id_bits = bits(size as u64);
        assert!(id_bits <= 32, "more than {} records in one table", u32::MAX);
        self.slots = Vec::new();
        self.slots.resize(size, 0);
        self.id_bits = id_bits;
        for id in 0..self.len as u32 {
            let hash = hash_of(id);
            let Err(slot) = self.find(hash, |_| false) else {
                unreachable!("a key that accepts no record is never found")
            };
            self.slots[slot] = self.tag(hash) | (id + 1);
        }
    }

    /// Files `id` (the next id: `len`) under `hash` at the free `slot` [`Index::find`] gave.
    fn put(&mut self, slot: usize, hash: u64, id: u32) {
        debug_assert_eq!(id as usize, self.len);
        self.slots[slot] = self.tag(hash) | (id + 1);
        self.len += 1;
    }

    fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 4
    }
}

/// The distinct encodings of parts, back to back: the leaves of the tree.
#[derive(Default)]
struct Leaves {
    bytes: Vec<u8>,
    /// Where each leaf's bytes end.
    ends: Packed,
    index: Index,
}

impl Leaves {
    fn len(&self) -> usize {
        self.ends.len
    }

    fn leaf<'a>(bytes: &'a [u8], ends: &Packed, id: u32) -> &'a [u8] {
        let i = id as usize;
        let start = if i == 0 { 0 } else { ends.get(i - 1) as usize };
        &bytes[start..ends.get(i) as usize]
    }

    fn get(&self, id: u32) -> &[u8] {
        Self::leaf(&self.bytes, &self.ends, id)
    }

    fn find(&self, key: &[u8], hash: u64) -> Option<u32> {
        self.index.find(hash, |id| self.get(id) == key).ok()
    }

    /// The id of `key`, and whether it is new.
    fn intern(&mut self, key: &[u8], hash: u64, hasher: &FixedState) -> (u32, bool) {
        let Leaves { bytes, ends, index } = self;
        index.reserve(|id| hasher.hash_one(Self::leaf(bytes, ends, id)));
        match index.find(hash, |id| Self::leaf(bytes, ends, id) == key) {
            Ok(id) => (id, false),
            Err(slot) => {
                let id = ends.len as u32;
                reserve(bytes, key.len());
                bytes.extend_from_slice(key);
                ends.push_widening(bytes.len() as u64);
                index.put(slot, hash, id);
                (id, true)
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.heap_bytes() + self.index.heap_bytes()
    }
}

/// The distinct pairs of child ids of one inner node of the tree, each packed into as few
/// bits as the children's tables need (the left id in the low bits).
#[derive(Default)]
struct Pairs {
    records: Packed,
    left_bits: u32,
    index: Index,
}

fn hash_pair(hasher: &FixedState, (l, r): (u32, u32)) -> u64 {
    hasher.hash_one(u64::from(l) | u64::from(r) << 32)
}

impl Pairs {
    fn len(&self) -> usize {
        self.records.len
    }

    fn pair(records: &Packed, left_bits: u32, id: u32) -> (u32, u32) {
        let v = records.get(id as usize);
        ((v & mask(left_bits)) as u32, (v >> left_bits) as u32)
    }

    fn get(&self, id: u32) -> (u32, u32) {
        Self::pair(&self.records, self.left_bits, id)
    }

    fn find(&self, key: (u32, u32), hasher: &FixedState) -> Option<u32> {
        let hash = hash_pair(hasher, key);
        self.index.find(hash, |id| self.get(id) == key).ok()
    }

    /// The id of the pair `key`, and whether it is new.
    fn intern(&mut self, key: (u32, u32), hasher: &FixedState) -> (u32, bool) {
        let hash = hash_pair(hasher, key);
        let Pairs {
            records,
            left_bits,
            index,
        } = self;
        let lb = *left_bits;
        index.reserve(|id| hash_pair(hasher, Self::pair(records, lb, id)));
        match index.find(hash, |id| Self::pair(records, lb, id) == key) {
            Ok(id) => (id, false),
            Err(slot) => {
                let id = records.len as u32;
                let right_bits = records.width - lb;
                let (l, r) = (u64::from(key.0), u64::from(key.1));
                let (nl, nr) = (bits(l).max(lb), bits(r).max(right_bits));
                if (nl, nr) != (lb, right_bits) {
                    records.widen(nl + nr, |v| (v & mask(lb)) | (v >> lb) << nl);
                    *left_bits = nl;
                }
                records.push(l | r << nl);
                index.put(slot, hash, id);
                (id, true)
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.records.heap_bytes() + self.index.heap_bytes()
    }
}

/// One child of an inner node of the tree: the leaf of part `i`, or inner node `j`.
#[derive(Clone, Copy, Debug)]
enum Child {
    Leaf(usize),
    Node(usize),
}

/// Where a part of a successor ends (in bytes from the successor's first), and its hash
/// (set by [`Store::find`] when it looks the part up).
#[derive(Clone, Copy)]
struct Part {
    end: u32,
    hash: u64,
}

/// Every state once, tree-compressed (Laarman, van de Pol and Weber, SPIN 2011): a state is
/// its model's [`Parts`]; each distinct part is stored once among the leaves, each distinct
/// pair of children once in its inner node's table, up to the root, whose table holds one
/// pair per state. A state's id is its root pair's: dense, in insertion order. With one
/// part there is no inner node and the leaves are the states.
///
/// Deduplication is exact: two states are one exactly when their parts' encodings are, and
/// a pair table holds each pair once, so equal subtrees have equal ids all the way up.
struct Store {
    parts: usize,
    leaves: Leaves,
    /// The inner nodes, each after its children: the last is the root.
    nodes: Vec<Pairs>,
    /// The children of each inner node.
    shape: Vec<[Child; 2]>,
    hasher: FixedState,
}

impl Store {
    fn new(parts: usize) -> Self {
        /// The subtree over parts `a..b`, the left half the larger.
        fn build(a: usize, b: usize, shape: &mut Vec<[Child; 2]>) -> Child {
            if b - a == 1 {
                return Child::Leaf(a);
            }
            let mid = a + (b - a).div_ceil(2);
            let node = [build(a, mid, shape), build(mid, b, shape)];
            shape.push(node);
            Child::Node(shape.len() - 1)
        }
        let mut shape = Vec::new();
        build(0, parts, &mut shape);
        Store {
            parts,
            leaves: Leaves::default(),
            nodes: shape.iter().map(|_| Pairs::default()).collect(),
            shape,
            // A fixed seed: the same check lays out its tables the same way every run.
            hasher: FixedState::with_seed(0x636f_6f72_646c_6162),
        }
    }

    fn len(&self) -> usize {
        match self.nodes.last() {
            Some(root) => root.len(),
            None => self.leaves.len(),
        }
    }

    fn root(&self) -> Child {
        match self.shape.len() {
            0 => Child::Leaf(0),
            n => Child::Node(n - 1),
        }
    }

    /// The id of child `c`, given the ids of the leaves and then of the inner nodes.
    fn child(&self, ids: &[u32], c: Child) -> u32 {
        match c {
            Child::Leaf(i) => ids[i],
            Child::Node(j) => ids[self.parts + j],
        }
    }

    /// Looks up the tree of the state whose parts are `bytes`, cut at `cuts`: sets `ids` to
    /// the id of each leaf and then of each inner node, [`UNKNOWN`] for those not stored,
    /// and the hash of each part looked up; returns the state's id if it is stored. `from`,
    /// the parts and ids of the state this one is a successor of: a part with the same
    /// bytes has the same leaf, a node with the same children the same id, so only the
    /// path from a changed part up is looked up. Reads only, so that workers can look up
    /// their successors while no one inserts.
    fn find(
        &self,
        bytes: &[u8],
        cuts: &mut [Part],
        ids: &mut Vec<u32>,
        from: Option<(&[&[u8]], &[u32])>,
    ) -> Option<u32> {
        ids.clear();
        let mut start = 0;
        for (i, cut) in cuts.iter_mut().enumerate() {
            let part = &bytes[start..cut.end as usize];
            start = cut.end as usize;
            match from {
                Some((parts, known)) if parts[i] == part => ids.push(known[i]),
                _ => {
                    cut.hash = self.hasher.hash_one(part);
                    ids.push(self.leaves.find(part, cut.hash).unwrap_or(UNKNOWN));
                }
            }
        }
        for (j, &[l, r]) in self.shape.iter().enumerate() {
            let key = (self.child(ids, l), self.child(ids, r));
            let id = match from {
                _ if key.0 == UNKNOWN || key.1 == UNKNOWN => UNKNOWN,
                Some((_, known)) if (self.child(known, l), self.child(known, r)) == key => {
                    known[self.parts + j]
                }
                _ => self.nodes[j].find(key, &self.hasher).unwrap_or(UNKNOWN),
            };
            ids.push(id);
        }
        Some(*ids.last().expect("at least one part")).filter(|&id| id != UNKNOWN)
    }

    /// Adds the state [`Store::find`] looked up (`bytes`, `cuts`, `ids`) where it is not
    /// stored yet; its id, and whether it is new.
    fn insert(&mut self, bytes: &[u8], cuts: &[Part], ids: &mut [u32]) -> (u32, bool) {
        let mut start = 0;
        let mut new = false;
        for (i, cut) in cuts.iter().enumerate() {
            let part = &bytes[start..cut.end as usize];
            start = cut.end as usize;
            if ids[i] == UNKNOWN {
                (ids[i], new) = self.leaves.intern(part, cut.hash, &self.hasher);
            } else {
                new = false;
            }
        }
        for j in 0..self.shape.len() {
            if ids[self.parts + j] == UNKNOWN {
                let [l, r] = self.shape[j];
                let key = (self.child(ids, l), self.child(ids, r));
                (ids[self.parts + j], new) = self.nodes[j].intern(key, &self.hasher);
            } else {
                new = false;
            }
        }
        (*ids.last().expect("at least one part"), new)
    }

    /// The parts of state `id`, in order, and the ids of its leaves and then of its inner
    /// nodes (as [`Store::find`] sets them).
    fn parts_of<'s>(&'s self, id: u32, parts: &mut Vec<&'s [u8]>, ids: &mut Vec<u32>) {
        parts.clear();
        parts.resize(self.parts, &[]);
        ids.clear();
        ids.resize(self.parts + self.shape.len(), UNKNOWN);
        self.descend(self.root(), id, parts, ids);
    }

    fn descend<'s>(&'s self, c: Child, id: u32, parts: &mut [&'s [u8]], ids: &mut [u32]) {
        match c {
            Child::Leaf(i) => {
                parts[i] = self.leaves.get(id);
                ids[i] = id;
            }
            Child::Node(j) => {
                ids[self.parts + j] = id;
                let (l, r) = self.nodes[j].get(id);
                let [a, b] = self.shape[j];
                self.descend(a, l, parts, ids);
                self.descend(b, r, parts, ids);
            }
        }
    }

    /// The heap the store holds: every table's records and index.
    fn heap_bytes(&self) -> usize {
        self.leaves.heap_bytes() + self.nodes.iter().map(Pairs::heap_bytes).sum::<usize>()
    }

    /// Deduplication is over: drops the indexes and the slack of the records, which are all
    /// reading states and rebuilding paths need.
    fn finish(&mut self) {
        self.leaves.index = Index::default();
        self.leaves.bytes.shrink_to_fit();
        self.leaves.ends.shrink();
        for n in &mut self.nodes {
            n.index = Index::default();
            n.records.shrink();
        }
    }
}

/// The whole state as its one part: the store of a model that does not split its states.
fn whole<S: Serialize + DeserializeOwned>() -> Parts<S> {
    Parts {
        count: 1,
        encode: |state, _, out| encode_part(state, out),
        decode: |parts| decode_part(parts[0]),
    }
}

/// Marks a successor the store did not hold when its level was expanded.
const UNKNOWN: u32 = u32::MAX;

/// The result of exploring a model's reachable states.
pub struct Exploration<P: Protocol> {
    pub model: P,
    /// How states are cut into parts for the store: the model's, or the whole state.
    parts: Parts<P::State>,
    store: Store,
    /// Per state, the id of the state it was first reached from, plus one (0 for initial
    /// states).
    parent: Packed,
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
    /// The heap the store held when the search ended (see [`Exploration::store_bytes`]).
    store_bytes: usize,
}

/// States expanded between two merges (see [`Exploration::run`]).
const BATCH: usize = 1 << 12;

/// What one worker computes for a slice of a level: per state, the properties it hits
/// (bit per property), how many successors it has and the classes of its steps out of the
/// boundary; per successor, its id if the store held it before this batch ([`UNKNOWN`] if
/// not) and its action class; and the parts of the successors not found, back to back, with
/// the ids of their tree's nodes that were found, for the merge to insert.
#[derive(Default)]
struct Chunk {
    per_state: Vec<(u64, u32, u64)>,
    succs: Vec<(u32, u8)>,
    bytes: Vec<u8>,
    parts: Vec<Part>,
    ids: Vec<u32>,
}

impl<P: Protocol> Exploration<P> {
    /// Explores every state reachable from the model's initial states.
    pub fn run(model: P, budget: Budget, progress: &Progress) -> Self {
        let start = Instant::now();
        progress.graph.store(budget.graph, Ordering::Relaxed);
        let props = P::props();
        assert!(props.len() <= 64, "{}: at most 64 properties", P::ID);
        let parts = budget
            .split
            .then(|| model.parts())
            .flatten()
            .unwrap_or_else(whole);
        assert!(parts.count >= 1, "{}: a state has at least one part", P::ID);
        let mut ex = Exploration {
            model,
            parts,
            store: Store::new(parts.count),
            parent: Packed::default(),
            levels: vec![0],
            first_hit: vec![None; props.len()],
            complete: true,
            budget,
            graph: budget.graph.then(Graph::default),
            elapsed: Duration::ZERO,
            store_bytes: 0,
        };
        let classes = ex.model.classes().len();
        assert!(classes <= 64, "{}: at most 64 action classes", P::ID);
        let (mut bytes, mut cuts, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for init in ex.model.init_states() {
            if ex.model.within_boundary(&init) {
                bytes.clear();
                cuts.clear();
                ex.cut(&budget.canonical::<P>(&init), &mut bytes, &mut cuts);
                ex.store.find(&bytes, &mut cuts, &mut ids, None);
                if ex.store.insert(&bytes, &cuts, &mut ids).1 {
                    ex.parent.push_widening(0);
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
        ex.store_bytes = ex.store.heap_bytes()
            + ex.parent.heap_bytes()
            + ex.levels.capacity() * size_of::<usize>()
            + ex.first_hit.capacity() * size_of::<Option<u32>>();
        // Deduplication is over: the indexes are not needed to read states or rebuild paths.
        ex.store.finish();
        ex.parent.shrink();
        ex.elapsed = start.elapsed();
        ex
    }

    /// Appends the encodings of `state`'s parts to `bytes`, and where each ends (from the
    /// first byte appended) to `cuts`.
    fn cut(&self, state: &P::State, bytes: &mut Vec<u8>, cuts: &mut Vec<Part>) {
        let begin = bytes.len();
        for i in 0..self.parts.count {
            (self.parts.encode)(state, i, bytes);
            cuts.push(Part {
                end: u32::try_from(bytes.len() - begin).expect("a state encodes in under 4 GiB"),
                hash: 0,
            });
        }
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
        let k = self.parts.count;
        let nodes = 2 * k - 1;
        let mut id = first;
        for mut chunk in chunks {
            let mut next = 0;
            let (mut byte, mut part) = (0usize, 0usize);
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
                for &(found, class) in &chunk.succs[next..next + count as usize] {
                    let to = if found == UNKNOWN {
                        let cuts = &chunk.parts[part..part + k];
                        let len = cuts[k - 1].end as usize;
                        let ids = &mut chunk.ids[part / k * nodes..(part / k + 1) * nodes];
                        let (to, new) =
                            self.store.insert(&chunk.bytes[byte..byte + len], cuts, ids);
                        (part, byte) = (part + k, byte + len);
                        if new {
                            self.parent.push_widening(u64::from(id) + 1);
                        }
                        to
                    } else {
                        found
                    };
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
    /// level; in parallel over slices of the level, chunks in state order. Each worker looks
    /// its successors up in the store (which no one changes until the merge) and keeps the
    /// parts of only those it did not find. `None` if the budget ran out.
    fn expand_level(&self, level: std::ops::Range<u32>, props: &[Prop<P>]) -> Option<Vec<Chunk>> {
        let budget = self.budget;
        let expand = |ids: std::ops::Range<u32>| -> Option<Chunk> {
            let mut chunk = Chunk::default();
            let mut actions = Vec::new();
            let (mut stored, mut known, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
            for id in ids {
                if id % 4096 == 4095 && budget.expired() {
                    return None;
                }
                self.store.parts_of(id, &mut stored, &mut known);
                let state: P::State = (self.parts.decode)(&stored);
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
                    let (byte, part) = (chunk.bytes.len(), chunk.parts.len());
                    self.cut(
                        &budget.canonical::<P>(&next),
                        &mut chunk.bytes,
                        &mut chunk.parts,
                    );
                    // With symmetry, the successor's parts are those of its representative,
                    // which may be a permutation of the state's: then fewer match.
                    match self.store.find(
                        &chunk.bytes[byte..],
                        &mut chunk.parts[part..],
                        &mut scratch,
                        Some((&stored, &known)),
                    ) {
                        Some(to) => {
                            chunk.bytes.truncate(byte);
                            chunk.parts.truncate(part);
                            chunk.succs.push((to, class));
                        }
                        None => {
                            chunk.ids.extend_from_slice(&scratch);
                            chunk.succs.push((UNKNOWN, class));
                        }
                    }
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
        let (mut stored, mut ids) = (Vec::new(), Vec::new());
        self.store.parts_of(id, &mut stored, &mut ids);
        (self.parts.decode)(&stored)
    }

    /// The id of the state each state was first reached from (`u32::MAX` for initial
    /// states): a tree of shortest paths.
    pub fn parent(&self, id: u32) -> u32 {
        (self.parent.get(id as usize) as u32).wrapping_sub(1)
    }

    pub fn unique_states(&self) -> usize {
        self.store.len()
    }

    /// The heap the state store held when the search ended, in bytes: every table of the
    /// tree (the parts' encodings, the pairs of ids) with its hash index, the parent links
    /// and the level bounds, counted by their allocations. The transition graph
    /// ([`Exploration::graph`]) and the buffers of the search in flight are not in it.
    pub fn store_bytes(&self) -> usize {
        self.store_bytes
    }

    /// How many parts the store cut each state into: the model's [`Protocol::parts`], or 1.
    pub fn parts(&self) -> usize {
        self.parts.count
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
        let (mut bytes, mut cuts, mut stored, mut ids) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        self.cut(&self.budget.canonical::<P>(state), &mut bytes, &mut cuts);
        self.store.parts_of(id, &mut stored, &mut ids);
        let mut start = 0;
        cuts.iter().zip(&stored).all(|(c, s)| {
            let part = &bytes[start..c.end as usize];
            start = c.end as usize;
            part == *s
        })
    }

    /// A real path of the model from an initial state to a state whose representative is
    /// state `id`: the initial state, then (action, state) pairs. Every step is an enabled
    /// action of the model producing the recorded state.
    pub fn path_to(&self, id: u32) -> (P::State, Steps<P>) {
        let mut ids = vec![id];
        loop {
            let parent = self.parent(*ids.last().expect("a path has a state"));
            if parent == u32::MAX {
                break;
            }
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
