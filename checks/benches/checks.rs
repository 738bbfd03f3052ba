//! Benchmark of every check in the suite: unique states, states per second and heap bytes
//! per state of coordlab's explorer, against stateright's DFS checker (with the same
//! symmetry reduction and threads) on the same model in the same run; then the liveness
//! checker (transition graph and fair-cycle search) against stateright's BFS over the same
//! unreduced state space.
//!
//! ```sh
//! cargo bench -p coordlab-checks --bench checks            # 5 runs per check
//! cargo bench -p coordlab-checks --bench checks -- 9 queue # 9 runs, checks matching "queue"
//! cargo bench -p coordlab-checks --bench checks -- 1 deep  # the deep suite, once each
//! ```
//!
//! The checks of the deep suite (`suite = "deep"` in a manifest) run only when the filter
//! names the suite (`deep`) or the check in full (`raft/correct[deep]`): each takes minutes.
//!
//! Times are medians of the runs. Two memory figures per state: `store`, the heap the state
//! store held when the search ended (`Exploration::store_bytes`: the states' tables, their
//! hash indexes and the parent links, as `coordlab check` reports it), and `peak`, the peak
//! heap (counted by a wrapping global allocator) above the heap before the run, which adds
//! the search's buffers and a table's old and new index while it grows. `parts` is how many
//! parts the model splits a state into (`Protocol::parts`); a model that splits is measured
//! a second time with its states stored whole (`whole`, its states/s, `store` and `peak`),
//! in the same run. With `COORDLAB_MEMPROBE=1` the liveness rows also print the heap held
//! after the graph's exploration and the peak up to then, to tell the search's share from
//! the graph's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coordlab_checks::engine::{Budget, Exploration, Progress};
use coordlab_checks::{liveness, manifest, registry};
use coordlab_models::Protocol;
use coordlab_models::deque::DequeModel;
use coordlab_models::election::ElectionModel;
use coordlab_models::queue::QueueModel;
use coordlab_models::raft::RaftModel;
use coordlab_models::stealing::StealingModel;
use stateright::{Checker, HasDiscoveries};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every allocation to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result, the wall time and the peak heap it added.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    (
        out,
        elapsed,
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    )
}

/// Never satisfied: stateright explores everything instead of stopping at discoveries.
fn never() -> HasDiscoveries {
    HasDiscoveries::AllOf(BTreeSet::from(["(explore everything)"]))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let filter = args
        .iter()
        .find(|a| a.parse::<usize>().is_err())
        .cloned()
        .unwrap_or_default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "coordlab explorer vs stateright DFS (symmetry on), {threads} threads, median of {runs} runs\n"
    );
    println!(
        "{:<34} {:>5} {:>9} {:>10} {:>10} {:>7} {:>7}  {:>10} {:>10} {:>7} {:>7}  {:>10} {:>10} {:>7}  {:>7}",
        "check",
        "parts",
        "states",
        "time",
        "states/s",
        "store",
        "peak",
        "whole",
        "states/s",
        "store",
        "peak",
        "sr time",
        "sr st/s",
        "sr peak",
        "speedup"
    );
    let mut liveness_rows = Vec::new();
    for spec in manifest::load(None).expect("built-in manifests") {
        let wanted = match spec.suite {
            manifest::Suite::Deep => filter == "deep" || spec.id() == filter,
            manifest::Suite::Default => spec.id().contains(&filter),
        };
        if !wanted {
            continue;
        }
        match spec.protocol.as_str() {
            "queue" => bench::<QueueModel>(&spec, runs, threads, &mut liveness_rows),
            "election" => bench::<ElectionModel>(&spec, runs, threads, &mut liveness_rows),
            "deque" => bench::<DequeModel>(&spec, runs, threads, &mut liveness_rows),
            "stealing" => bench::<StealingModel>(&spec, runs, threads, &mut liveness_rows),
            "raft" => bench::<RaftModel>(&spec, runs, threads, &mut liveness_rows),
            other => panic!("no benchmark for protocol {other}"),
        }
    }
    println!(
        "\nliveness (graph without symmetry + fair-cycle search) vs stateright BFS without symmetry, same states\n"
    );
    println!(
        "{:<34} {:>9} {:>10} {:>10} {:>10} {:>8} {:>9} {:>12}",
        "check", "states", "edges", "liveness", "sr bfs", "ratio", "B/state", "B/st-8/edge"
    );
    for row in liveness_rows {
        println!("{row}");
    }
}

/// One configuration of coordlab's safety search, measured.
struct Safety {
    parts: usize,
    states: usize,
    /// Median wall time.
    time: Duration,
    /// The store's own figure ([`Exploration::store_bytes`]).
    store: usize,
    /// The peak heap the run added.
    peak: usize,
}

/// Runs the safety search of `model` `runs` times, with its states split into the model's
/// parts (`split`) or whole.
fn safety<P: Protocol + Clone>(model: &P, runs: usize, threads: usize, split: bool) -> Safety {
    let mut times = Vec::new();
    let mut out = Safety {
        parts: 0,
        states: 0,
        time: Duration::ZERO,
        store: 0,
        peak: 0,
    };
    for _ in 0..runs {
        let m = model.clone();
        let budget = Budget {
            split,
            ..Budget::new(threads, None)
        };
        let (ex, t, bytes) = measure(|| Exploration::run(m, budget, &Progress::default()));
        out.parts = ex.parts();
        out.states = ex.unique_states();
        out.store = ex.store_bytes();
        out.peak = bytes;
        times.push(t);
        drop(ex);
    }
    out.time = median(times);
    out
}

/// Benchmarks one check: the safety search against stateright's DFS, then the liveness
/// graph and search against stateright's BFS; prints the first row, keeps the second.
fn bench<P: Protocol + Clone>(
    spec: &manifest::CheckSpec,
    runs: usize,
    threads: usize,
    liveness_rows: &mut Vec<String>,
) {
    let model: P = registry::model(&spec.variant, &spec.bounds).expect("valid manifest");
    let ours = safety(&model, runs, threads, true);
    let states = ours.states;
    // A model that splits its states is measured with them whole too, in the same run.
    let whole = (ours.parts > 1).then(|| safety(&model, runs, threads, false));
    if let Some(w) = &whole {
        assert_eq!(w.states, states, "{}: the whole store disagrees", spec.id());
    }
    let mut theirs = Vec::new();
    let mut theirs_bytes = 0;
    for _ in 0..runs {
        let m = model.clone();
        let (checker, t, bytes) = measure(|| {
            m.checker()
                .symmetry_fn(P::representative)
                .threads(threads)
                .finish_when(HasDiscoveries::AllOf(BTreeSet::from([
                    "(explore everything)",
                ])))
                .spawn_dfs()
                .join()
        });
        assert_eq!(
            checker.unique_state_count(),
            states,
            "{}: stateright disagrees",
            spec.id()
        );
        theirs_bytes = bytes;
        theirs.push(t);
    }
    // Liveness: the transition graph (no symmetry) plus the fair-cycle search for every
    // liveness property, against stateright's BFS over the same states without symmetry.
    // Not for a deep check: without symmetry its graph would not fit in memory (Raft's
    // deep check is some 350 million states unreduced).
    if spec.suite == manifest::Suite::Deep {
        print_safety_row(spec, &ours, whole.as_ref(), &theirs, theirs_bytes, states);
        return;
    }
    let live_props: Vec<_> = P::props()
        .into_iter()
        .filter(|p| p.kind.is_liveness())
        .collect();
    let mut live = Vec::new();
    let mut live_bytes = 0;
    let mut live_states = 0;
    let mut edges = 0;
    let mut bfs = Vec::new();
    for _ in 0..runs {
        let m = model.clone();
        let ((n, e), t, bytes) = measure(|| {
            let budget = Budget {
                graph: true,
                ..Budget::new(threads, None)
            };
            let ex = Exploration::run(m, budget, &Progress::default());
            if std::env::var_os("COORDLAB_MEMPROBE").is_some() {
                eprintln!(
                    "after exploration: live {} B/state, peak so far {} B/state",
                    LIVE.load(Ordering::Relaxed) / ex.unique_states(),
                    PEAK.load(Ordering::Relaxed) / ex.unique_states()
                );
            }
            for p in &live_props {
                std::hint::black_box(liveness::check(&ex, p).is_some());
            }
            (
                ex.unique_states(),
                ex.graph.as_ref().map_or(0, |g| g.to.len()),
            )
        });
        (live_states, edges, live_bytes) = (n, e, bytes);
        live.push(t);
        let m = model.clone();
        let (checker, t, _) = measure(|| {
            m.checker()
                .threads(threads)
                .finish_when(never())
                .spawn_bfs()
                .join()
        });
        assert_eq!(
            checker.unique_state_count(),
            live_states,
            "{}: stateright BFS disagrees",
            spec.id()
        );
        bfs.push(t);
    }
    let (live, bfs) = (median(live), median(bfs));
    liveness_rows.push(format!(
        "{:<34} {:>9} {:>10} {:>9.3}s {:>9.3}s {:>7.2}x {:>9.0} {:>12.1}",
        spec.id(),
        live_states,
        edges,
        live.as_secs_f64(),
        bfs.as_secs_f64(),
        live.as_secs_f64() / bfs.as_secs_f64(),
        live_bytes as f64 / live_states as f64,
        (live_bytes as f64 - 8.0 * edges as f64) / live_states as f64,
    ));
    print_safety_row(spec, &ours, whole.as_ref(), &theirs, theirs_bytes, states);
}

/// Prints a check's safety row: coordlab split and whole, against stateright's DFS.
fn print_safety_row(
    spec: &manifest::CheckSpec,
    ours: &Safety,
    whole: Option<&Safety>,
    theirs: &[Duration],
    theirs_bytes: usize,
    states: usize,
) {
    let theirs = median(theirs.to_vec());
    let rate = |t: Duration| states as f64 / t.as_secs_f64();
    let per = |b: usize| b as f64 / states as f64;
    let whole_cells = match whole {
        Some(w) => format!(
            "{:>9.3}s {:>10.0} {:>7.1} {:>7.0}",
            w.time.as_secs_f64(),
            rate(w.time),
            per(w.store),
            per(w.peak)
        ),
        None => format!("{:>10} {:>10} {:>7} {:>7}", "-", "-", "-", "-"),
    };
    println!(
        "{:<34} {:>5} {:>9} {:>9.3}s {:>10.0} {:>7.1} {:>7.0}  {whole_cells}  {:>9.3}s {:>10.0} {:>7.0}  {:>6.2}x",
        spec.id(),
        ours.parts,
        states,
        ours.time.as_secs_f64(),
        rate(ours.time),
        per(ours.store),
        per(ours.peak),
        theirs.as_secs_f64(),
        rate(theirs),
        per(theirs_bytes),
        theirs.as_secs_f64() / ours.time.as_secs_f64(),
    );
}
