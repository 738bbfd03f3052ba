//! Random walks, for bounds too large to explore exhaustively.
//!
//! Each walk starts from an initial state and takes a uniformly chosen step (among the
//! actions that change the state) until it reaches the depth limit or a state with no
//! such step, checking every `always` property at every state and noting the first example
//! of every `sometimes` property. Walks are seeded (walk `k` uses seed `k`), so a run is
//! reproducible: the same walks, the same first violation, the same bytes.
//!
//! A walk that finds nothing proves nothing: simulation can show a violation, never that a
//! property holds. Liveness properties are not simulated.
//!
//! # Shards
//! `coordlab simulate … --seeds S --shard I/N` runs shard `I` of `N`: the seeds [`shard`]
//! gives it, a contiguous run of about S/N of `0..S`; shards 1 to N together run every
//! seed exactly once. A walk depends on its seed alone, so N machines find what one would,
//! and their reports (`--json`) combine into the one-machine report:
//!
//! - `walks` and `steps` add up;
//! - per property, the `hit` is the one of smallest seed among the shards' hits (the first
//!   walk that finds it, as one run takes it), with its trace: with `--out`, keep the
//!   files of that shard (each trace's command runs its one seed alone);
//! - the `mark` then follows from the combined hit as in one run: in particular an
//!   `always` property expected violated that no shard hit is a known bug not caught (a
//!   mismatch). One shard cannot tell that, so it marks such a property `not found`,
//!   never a mismatch, and a shard exits 1 only for what it did see: an unexpected
//!   violation or example.

use coordlab_models::{Kind, Protocol};

use crate::engine::Steps;

/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): a small, fast, well-mixed generator;
/// enough to choose among a handful of actions, and stable across platforms and versions.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The seeds shard `index` (1-based) of `count` runs out of `seeds`: the `index`-th of
/// `count` contiguous runs of about equal length, in order, covering `seeds` exactly once
/// (a shard is empty when there are more shards than seeds).
pub fn shard(seeds: std::ops::Range<u64>, index: usize, count: usize) -> std::ops::Range<u64> {
    assert!(
        1 <= index && index <= count,
        "shard {index} of {count} out of range"
    );
    let len = u128::from(seeds.end - seeds.start);
    let at = |k: usize| seeds.start + (len * k as u128 / count as u128) as u64;
    at(index - 1)..at(index)
}

/// Walk `seed` of at most `depth` steps: its initial state and its steps, exactly as
/// [`run`] takes it (the same choices, without checking properties).
pub fn walk<P: Protocol>(model: &P, seed: u64, depth: usize) -> (P::State, Steps<P>) {
    let mut rng = SplitMix64(seed);
    let inits = model.init_states();
    let init = inits[rng.below(inits.len())].clone();
    let mut state = init.clone();
    let mut steps: Steps<P> = Vec::new();
    while steps.len() < depth {
        let next: Vec<_> = model
            .next_steps(&state)
            .into_iter()
            .filter(|(_, n)| *n != state && model.within_boundary(n))
            .collect();
        if next.is_empty() {
            break;
        }
        let k = rng.below(next.len());
        let (action, n) = next
            .into_iter()
            .nth(k)
            .expect("k is below the number of steps");
        steps.push((action, n.clone()));
        state = n;
    }
    (init, steps)
}

/// What the walks found for one property.
pub struct Found<P: Protocol> {
    /// Walk (seed) and step at which it was first falsified (`always`) or satisfied
    /// (`sometimes`), with the walk up to there.
    pub hit: Option<(u64, P::State, Steps<P>)>,
}

/// The outcome of a simulation.
pub struct Simulation<P: Protocol> {
    pub walks: u64,
    pub steps: u64,
    /// Per property, in [`Protocol::props`] order (liveness properties stay empty).
    pub found: Vec<Found<P>>,
}

/// Runs the random walks seeded `seeds` (walk `k` uses seed `k`), of at most `depth` steps.
pub fn run<P: Protocol>(model: &P, seeds: std::ops::Range<u64>, depth: usize) -> Simulation<P> {
    let walks = seeds.end - seeds.start;
    let props = P::props();
    let mut found: Vec<Found<P>> = props.iter().map(|_| Found { hit: None }).collect();
    let mut total = 0;
    if model.init_states().is_empty() {
        return Simulation {
            walks,
            steps: 0,
            found,
        };
    }
    for seed in seeds {
        let (init, steps) = walk(model, seed, depth);
        for k in 0..=steps.len() {
            let state = if k == 0 { &init } else { &steps[k - 1].1 };
            for (p, f) in props.iter().zip(found.iter_mut()) {
                let hit = match p.kind {
                    Kind::Always => !(p.condition)(model, state),
                    Kind::Sometimes => (p.condition)(model, state),
                    Kind::Eventually
                    | Kind::LeadsTo
                    | Kind::AlwaysEventually
                    | Kind::EventuallyAlways => false,
                };
                if hit && f.hit.is_none() {
                    f.hit = Some((seed, init.clone(), steps[..k].to_vec()));
                }
            }
        }
        total += steps.len() as u64;
    }
    Simulation {
        walks,
        steps: total,
        found,
    }
}
