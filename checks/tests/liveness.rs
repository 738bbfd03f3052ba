//! The liveness checker on graphs with known answers, and against a brute-force reference
//! on thousands of random graphs.
//!
//! The reference decides the same questions by a different route. It lists every set of
//! reachable states a fair behaviour can end up cycling through forever, by trying every
//! subset: one state that enables no fair class (stutter forever there), or two or more
//! strongly connected by their own edges and fair when a cycle takes all of those edges.
//! Then each kind asks its own question of those sets: `eventually` and `leads-to`, one
//! reached without meeting the goal (from an initial state, or from a state where the
//! premise holds) and lying where the goal fails; `always-eventually`, one lying where the
//! goal fails, reached by any path; `eventually-always`, one holding a state where the goal
//! fails. Its answer is also the length of the shortest prefix the checker must find.

use coordlab_checks::engine::{Budget, Exploration, Graph, Progress};
use coordlab_checks::liveness::{self, Fairness, Lasso, find_lasso, find_violation};
use coordlab_checks::trace::{self, Replay, Typed};
use coordlab_models::{Arrow, Class, Kind, ModelError, Prop, Protocol, Variant, Violation};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use stateright::Model;

/// A graph whose edges are (from, to, class).
fn graph(n: u32, edges: &[(u32, u32, u8)]) -> Graph {
    let mut sorted = edges.to_vec();
    sorted.sort();
    let mut g = Graph::default();
    for s in 0..n {
        g.start.push(g.to.len() as u32);
        for &(_, to, c) in sorted.iter().filter(|e| e.0 == s && e.1 != s) {
            g.to.push(to);
            g.class.push(c);
        }
    }
    g.start.push(g.to.len() as u32);
    g
}

fn weak(classes: &[u8]) -> Fairness {
    Fairness {
        weak: classes.iter().fold(0, |m, c| m | 1 << c),
        strong: 0,
    }
}

fn bad_except(n: u32, good: &[u32]) -> Vec<bool> {
    (0..n).map(|s| !good.contains(&s)).collect()
}

/// The states reachable from `from` through states `through` allows (`from` included when
/// it allows them).
fn reach(g: &Graph, from: &[u32], through: impl Fn(u32) -> bool) -> Vec<bool> {
    let mut seen = vec![false; g.states()];
    let mut stack: Vec<u32> = from.iter().copied().filter(|&s| through(s)).collect();
    while let Some(s) = stack.pop() {
        if std::mem::replace(&mut seen[s as usize], true) {
            continue;
        }
        stack.extend(g.edges(s).map(|e| e.0).filter(|&t| through(t)));
    }
    seen
}

/// Every set of `allowed` states that a fair behaviour can cycle through forever: a single
/// state that enables no fair class, or a set of two or more strongly connected by its own
/// edges in which every weakly fair class enabled throughout and every strongly fair class
/// enabled anywhere is taken by one of those edges. Tries every subset.
fn limit_sets(g: &Graph, f: Fairness, allowed: &[u32]) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    for mask in 1u32..(1 << allowed.len()) {
        let set: Vec<u32> = (0..allowed.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| allowed[i])
            .collect();
        if set.len() == 1 {
            if g.enabled(set[0]) & (f.weak | f.strong) == 0 {
                out.push(set);
            }
            continue;
        }
        let inside = |s: u32| set.contains(&s);
        let reaches_all = |from: u32, forward: bool| {
            let mut seen = vec![from];
            let mut i = 0;
            while i < seen.len() {
                let v = seen[i];
                i += 1;
                let next: Vec<u32> = if forward {
                    g.edges(v).map(|e| e.0).filter(|&t| inside(t)).collect()
                } else {
                    set.iter()
                        .copied()
                        .filter(|&u| g.edges(u).any(|e| e.0 == v))
                        .collect()
                };
                for t in next {
                    if !seen.contains(&t) {
                        seen.push(t);
                    }
                }
            }
            seen.len() == set.len()
        };
        if !(reaches_all(set[0], true) && reaches_all(set[0], false)) {
            continue;
        }
        let mut taken = 0u64;
        let mut en_all = u64::MAX;
        let mut en_any = 0;
        for &s in &set {
            en_all &= g.enabled(s);
            en_any |= g.enabled(s);
            for (t, c) in g.edges(s) {
                if inside(t) {
                    taken |= 1 << c;
                }
            }
        }
        if f.weak & en_all & !taken == 0 && f.strong & en_any & !taken == 0 {
            out.push(set);
        }
    }
    out
}

/// A liveness question on a graph: the property's kind, where its goal holds, where its
/// premise holds (`leads-to` only), and the initial states.
#[derive(Clone, Copy, Debug)]
struct Question<'a> {
    kind: Kind,
    init: &'a [u32],
    goal: &'a [bool],
    premise: Option<&'a [bool]>,
}

/// The reference's answer: where a lasso's prefix may start and which states it may pass,
/// and the states where its cycle (or stutter) may begin (none: the property holds).
struct Answer {
    starts: Vec<u32>,
    path: Vec<bool>,
    entries: Vec<u32>,
}

fn reference(g: &Graph, f: Fairness, q: Question<'_>) -> Answer {
    let n = g.states() as u32;
    let bad = |s: u32| !q.goal[s as usize];
    let reachable = reach(g, q.init, |_| true);
    let (starts, path): (Vec<u32>, Vec<bool>) = match q.kind {
        Kind::Eventually => (q.init.to_vec(), (0..n).map(bad).collect()),
        Kind::LeadsTo => {
            let premise = q.premise.unwrap();
            let owed = (0..n)
                .filter(|&s| reachable[s as usize] && premise[s as usize] && bad(s))
                .collect();
            (owed, (0..n).map(bad).collect())
        }
        Kind::AlwaysEventually | Kind::EventuallyAlways => {
            (q.init.to_vec(), vec![true; n as usize])
        }
        Kind::Always | Kind::Sometimes => unreachable!(),
    };
    let reached = reach(g, &starts, |s| path[s as usize]);
    // `eventually`, `leads-to` and `always-eventually` cycle through states where the goal
    // fails, reached the way the kind allows; `eventually-always` through any reachable
    // states, one of them a state where the goal fails. The cycle may begin at any state of
    // such a set where the goal fails.
    let allowed: Vec<u32> = match q.kind {
        Kind::EventuallyAlways => (0..n).filter(|&s| reached[s as usize]).collect(),
        _ => (0..n).filter(|&s| reached[s as usize] && bad(s)).collect(),
    };
    let mut entries: Vec<u32> = limit_sets(g, f, &allowed)
        .into_iter()
        .flatten()
        .filter(|&s| bad(s))
        .collect();
    entries.sort_unstable();
    entries.dedup();
    Answer {
        starts,
        path,
        entries,
    }
}

/// The length (in steps) of the shortest path from `starts` through `path` states to one
/// of `entries`.
fn shortest(g: &Graph, starts: &[u32], path: &[bool], entries: &[u32]) -> Option<usize> {
    let mut dist = vec![usize::MAX; g.states()];
    let mut queue = std::collections::VecDeque::new();
    for &s in starts {
        if path[s as usize] && dist[s as usize] == usize::MAX {
            dist[s as usize] = 0;
            queue.push_back(s);
        }
    }
    while let Some(v) = queue.pop_front() {
        if entries.contains(&v) {
            return Some(dist[v as usize]);
        }
        for (w, _) in g.edges(v) {
            if path[w as usize] && dist[w as usize] == usize::MAX {
                dist[w as usize] = dist[v as usize] + 1;
                queue.push_back(w);
            }
        }
    }
    None
}

/// Checks that a lasso is a real fair behaviour that violates the property the way its
/// kind says, with the shortest prefix the reference allows.
fn assert_valid(g: &Graph, f: Fairness, q: Question<'_>, answer: &Answer, l: &Lasso) {
    let bad = |s: u32| !q.goal[s as usize];
    assert!(answer.starts.contains(&l.prefix[0]), "{l:?}");
    for w in l.prefix.windows(2) {
        assert!(
            g.edges(w[0]).any(|(t, _)| t == w[1]),
            "prefix edge {w:?} missing"
        );
    }
    assert!(
        l.prefix.iter().all(|&s| answer.path[s as usize]),
        "the prefix passes a state its kind does not allow: {l:?}"
    );
    assert_eq!(
        Some(l.prefix.len() - 1),
        shortest(g, &answer.starts, &answer.path, &answer.entries),
        "not the shortest prefix: {l:?}"
    );
    let entry = *l.prefix.last().unwrap();
    assert!(bad(entry), "the cycle starts where the goal holds: {l:?}");
    if l.cycle.is_empty() {
        assert_eq!(
            g.enabled(entry) & (f.weak | f.strong),
            0,
            "stutter where a fair class is enabled"
        );
        return;
    }
    let mut at = entry;
    let mut taken = 0u64;
    let mut en_all = u64::MAX;
    let mut en_any = 0;
    for &(u, v, c) in &l.cycle {
        assert_eq!(u, at, "the cycle is not a path: {l:?}");
        assert!(
            g.edges(u).any(|(t, k)| t == v && k == c),
            "cycle edge {u}->{v} ({c}) missing"
        );
        if q.kind != Kind::EventuallyAlways {
            assert!(bad(v), "the cycle meets the goal: {l:?}");
        }
        taken |= 1 << c;
        en_all &= g.enabled(v);
        en_any |= g.enabled(v);
        at = v;
    }
    assert_eq!(at, entry, "the cycle does not close: {l:?}");
    assert_eq!(f.weak & en_all & !taken, 0, "weak fairness broken by {l:?}");
    assert_eq!(
        f.strong & en_any & !taken,
        0,
        "strong fairness broken by {l:?}"
    );
}

/// Runs the checker on a question, compares it with the reference and validates its lasso.
fn ask(g: &Graph, f: Fairness, q: Question<'_>) -> Option<Lasso> {
    let found = find_violation(g, f, q.kind, q.init, q.goal, q.premise);
    let answer = reference(g, f, q);
    assert_eq!(
        found.is_some(),
        !answer.entries.is_empty(),
        "{}: disagrees with the reference",
        q.kind.as_str()
    );
    if let Some(l) = &found {
        assert_valid(g, f, q, &answer, l);
    }
    found
}

/// `eventually` from `starts`, through [`find_lasso`] itself.
fn check(g: &Graph, f: Fairness, starts: &[u32], bad: &[bool]) -> Option<Lasso> {
    let goal: Vec<bool> = bad.iter().map(|&b| !b).collect();
    let q = Question {
        kind: Kind::Eventually,
        init: starts,
        goal: &goal,
        premise: None,
    };
    let found = find_lasso(g, f, starts, bad);
    assert_eq!(found, find_violation(g, f, q.kind, starts, &goal, None));
    let answer = reference(g, f, q);
    assert_eq!(
        found.is_some(),
        !answer.entries.is_empty(),
        "disagrees with the reference"
    );
    if let Some(l) = &found {
        assert_valid(g, f, q, &answer, l);
    }
    found
}

/// A property of kind `kind` on `g` from state 0, with the goal true in `good`.
fn ask_from_0(g: &Graph, f: Fairness, kind: Kind, good: &[u32]) -> Option<Lasso> {
    let goal: Vec<bool> = (0..g.states() as u32).map(|s| good.contains(&s)).collect();
    ask(
        g,
        f,
        Question {
            kind,
            init: &[0],
            goal: &goal,
            premise: None,
        },
    )
}

/// A cycle that never meets the goal is a violation; stateright's `eventually` misses it
/// because the cycle-closing edge is not a terminal state.
#[test]
fn violating_cycle_is_caught() {
    let g = graph(3, &[(0, 1, 0), (1, 0, 0), (1, 2, 1)]);
    let l =
        check(&g, weak(&[0]), &[0], &bad_except(3, &[2])).expect("the 0-1 cycle never reaches 2");
    assert_eq!(l.prefix, vec![0]);
    assert_eq!(l.cycle, vec![(0, 1, 0), (1, 0, 0)]);
    // With the exit fair too, the cycle enables it in state 1 only, so weak fairness
    // still allows the loop; strong fairness does not.
    assert!(check(&g, weak(&[0, 1]), &[0], &bad_except(3, &[2])).is_some());
    let strong = Fairness { weak: 1, strong: 2 };
    assert!(check(&g, strong, &[0], &bad_except(3, &[2])).is_none());
}

/// Two paths join in state 3; the goal holds on one of them only (state 1). The other path
/// (0, 2, 3, stuck) never meets it. stateright's `eventually` reaches 3 first through 1 and
/// does not look again.
#[test]
fn join_where_only_one_path_met_the_goal_is_caught() {
    let g = graph(4, &[(0, 1, 0), (0, 2, 0), (1, 3, 0), (2, 3, 0)]);
    let l = check(&g, weak(&[0]), &[0], &bad_except(4, &[1])).expect("0-2-3 never meets the goal");
    assert_eq!(l.prefix, vec![0, 2, 3]);
    assert!(l.cycle.is_empty(), "stutters in the terminal state");
}

/// A cycle that only an unfair class keeps going is not a behaviour fairness allows when a
/// weakly fair class is enabled all along it.
#[test]
fn unfair_cycle_is_not_reported() {
    // 0 -u-> 2 -u-> 0 loops on the unfair class 1; class 0 (weak) leads out to the goal 1
    // from both states.
    let g = graph(3, &[(0, 2, 1), (2, 0, 1), (0, 1, 0), (2, 1, 0)]);
    assert!(check(&g, weak(&[0]), &[0], &bad_except(3, &[1])).is_none());
    // If the way out is enabled only in state 0, weak fairness lets the loop (now itself
    // weakly fair, so that state 2 cannot simply stutter) go on.
    let g = graph(3, &[(0, 2, 1), (2, 0, 1), (0, 1, 0)]);
    assert!(check(&g, weak(&[0, 1]), &[0], &bad_except(3, &[1])).is_some());
    // Strong fairness on the way out does not.
    let strong = Fairness { weak: 2, strong: 1 };
    assert!(check(&g, strong, &[0], &bad_except(3, &[1])).is_none());
    // With the loop unfair, state 2 may stop forever: nothing fair is enabled there.
    let l = check(
        &g,
        Fairness { weak: 0, strong: 1 },
        &[0],
        &bad_except(3, &[1]),
    )
    .unwrap();
    assert_eq!((l.prefix, l.cycle), (vec![0, 2], vec![]));
}

/// Stuttering forever is fair only where no fair class is enabled.
#[test]
fn stuttering_does_not_excuse_a_fair_action() {
    let g = graph(2, &[(0, 1, 0)]);
    assert!(check(&g, weak(&[0]), &[0], &bad_except(2, &[1])).is_none());
    let unfair = Fairness::default();
    let l = check(&g, unfair, &[0], &bad_except(2, &[1])).expect("nothing forces the step");
    assert_eq!((l.prefix, l.cycle), (vec![0], vec![]));
}

/// Strong fairness prunes the states that enable the untaken class and looks again inside
/// what remains (Emerson–Lei).
#[test]
fn strong_fairness_refines_components() {
    // 0 <-> 1 <-> 2, and from 2 an exit of the strong class 1 to the goal 3. The whole
    // component {0,1,2} enables class 1 (in 2) without taking it; {0,1} is fair.
    let g = graph(4, &[(0, 1, 0), (1, 0, 0), (1, 2, 0), (2, 1, 0), (2, 3, 1)]);
    let f = Fairness { weak: 1, strong: 2 };
    let l = check(&g, f, &[2], &bad_except(4, &[3])).expect("the 0-1 loop is fair");
    assert!(l.cycle.iter().all(|&(u, v, _)| u < 2 && v < 2), "{l:?}");
}

/// `always-eventually`: the goal must come back forever, so a loop that avoids it is a
/// violation even after the goal held once (where `eventually` is satisfied), and the
/// prefix may pass goal states.
#[test]
fn always_eventually_needs_the_goal_again_and_again() {
    // 0 (goal) -> 1 <-> 2, neither of them a goal.
    let g = graph(3, &[(0, 1, 0), (1, 2, 0), (2, 1, 0)]);
    let f = weak(&[0]);
    assert!(ask_from_0(&g, f, Kind::Eventually, &[0]).is_none());
    let l = ask_from_0(&g, f, Kind::AlwaysEventually, &[0]).expect("1-2 never meets 0 again");
    assert_eq!(l.prefix, vec![0, 1]);
    assert_eq!(l.cycle, vec![(1, 2, 0), (2, 1, 0)]);
    // With the goal in the loop, every fair behaviour meets it every round.
    assert!(ask_from_0(&g, f, Kind::AlwaysEventually, &[2]).is_none());
}

/// `always-eventually` under weak and strong fairness: a loop 0-2 avoids the goal 1, whose
/// way in (class 1, from 2 only) is enabled every other state. Weak fairness lets the loop
/// go on; strong fairness forces the way in, and 1 leads back to 0, so the goal recurs.
#[test]
fn always_eventually_weak_and_strong() {
    let g = graph(3, &[(0, 2, 0), (2, 0, 0), (2, 1, 1), (1, 0, 0)]);
    let l = ask_from_0(&g, weak(&[0, 1]), Kind::AlwaysEventually, &[1]).expect("weak: loops");
    assert_eq!(l.prefix, vec![0]);
    assert_eq!(l.cycle, vec![(0, 2, 0), (2, 0, 0)]);
    let strong = Fairness { weak: 1, strong: 2 };
    assert!(ask_from_0(&g, strong, Kind::AlwaysEventually, &[1]).is_none());
}

/// `always-eventually` and stuttering: a state where no fair class is enabled may be the
/// last one forever. With the steps out of 1 unfair, the behaviour may stop in 1 after the
/// goal 0; with them weakly fair it may not.
#[test]
fn always_eventually_stutter() {
    let g = graph(2, &[(0, 1, 0), (1, 0, 1)]);
    let l = ask_from_0(
        &g,
        Fairness { weak: 1, strong: 0 },
        Kind::AlwaysEventually,
        &[0],
    )
    .expect("may stop in 1");
    assert_eq!((l.prefix, l.cycle), (vec![0, 1], vec![]));
    assert!(ask_from_0(&g, weak(&[0, 1]), Kind::AlwaysEventually, &[0]).is_none());
}

/// `eventually-always`: the goal must hold for good from some point on, so a fair loop
/// that keeps leaving it is a violation even when every round meets it (where
/// `always-eventually` holds). The cycle starts and ends in the state where it fails.
#[test]
fn eventually_always_needs_the_goal_for_good() {
    // 0 (goal) <-> 1.
    let g = graph(2, &[(0, 1, 0), (1, 0, 0)]);
    let f = weak(&[0]);
    assert!(ask_from_0(&g, f, Kind::AlwaysEventually, &[0]).is_none());
    let l = ask_from_0(&g, f, Kind::EventuallyAlways, &[0]).expect("1 comes back forever");
    assert_eq!(l.prefix, vec![0, 1]);
    assert_eq!(l.cycle, vec![(1, 0, 0), (0, 1, 0)]);
    // A way out to a goal state the system would stay in does not settle it: fairness is
    // about classes, and the loop takes the class of that step too.
    let g = graph(3, &[(0, 1, 0), (1, 0, 0), (1, 2, 0)]);
    let l = ask_from_0(&g, f, Kind::EventuallyAlways, &[0, 2]).expect("2 may be skipped");
    assert_eq!(l.cycle, vec![(1, 0, 0), (0, 1, 0)]);
}

/// `eventually-always` looks for fair loops in the whole reachable graph, not only among
/// the states where the goal fails: here the only loop, 0-1-2, has one such state.
#[test]
fn eventually_always_loops_through_goal_states() {
    let g = graph(3, &[(0, 1, 0), (1, 2, 0), (2, 0, 0)]);
    let l = ask_from_0(&g, weak(&[0]), Kind::EventuallyAlways, &[0, 1])
        .expect("2 comes back every round");
    assert_eq!(l.prefix, vec![0, 1, 2]);
    assert_eq!(l.cycle, vec![(2, 0, 0), (0, 1, 0), (1, 2, 0)]);
    // Neither `eventually` (0 is a goal) nor `always-eventually` (every round meets it).
    assert!(ask_from_0(&g, weak(&[0]), Kind::Eventually, &[0, 1]).is_none());
    assert!(ask_from_0(&g, weak(&[0]), Kind::AlwaysEventually, &[0, 1]).is_none());
}

/// `eventually-always` under weak and strong fairness, with Emerson–Lei refinement: 0-1-2
/// loop, and from 2 a step of class 1 to the goal 3, where the system stays. Under weak
/// fairness the loop is fair; under strong fairness only the part that avoids 2 (the
/// state enabling class 1) is, so the answer depends on whether the goal fails in 0 or
/// only in 2.
#[test]
fn eventually_always_weak_and_strong() {
    let g = graph(4, &[(0, 1, 0), (1, 0, 0), (1, 2, 0), (2, 1, 0), (2, 3, 1)]);
    let strong = Fairness { weak: 1, strong: 2 };
    // Only 2 fails the goal.
    let l = ask_from_0(&g, weak(&[0, 1]), Kind::EventuallyAlways, &[0, 1, 3])
        .expect("weak: the loop through 2 is fair");
    assert_eq!(*l.prefix.last().unwrap(), 2);
    assert!(ask_from_0(&g, strong, Kind::EventuallyAlways, &[0, 1, 3]).is_none());
    // Only 0 fails the goal: the 0-1 loop is fair even under strong fairness.
    let l = ask_from_0(&g, strong, Kind::EventuallyAlways, &[1, 2, 3]).expect("0-1 loop");
    assert_eq!(l.prefix, vec![0]);
    assert_eq!(l.cycle, vec![(0, 1, 0), (1, 0, 0)]);
}

/// `eventually-always` and stuttering: stopping in a goal state is the property holding;
/// stopping where the goal fails violates it, and is fair only where no fair class is
/// enabled.
#[test]
fn eventually_always_stutter() {
    let g = graph(2, &[(0, 1, 0)]);
    assert!(ask_from_0(&g, weak(&[0]), Kind::EventuallyAlways, &[1]).is_none());
    let l =
        ask_from_0(&g, Fairness::default(), Kind::EventuallyAlways, &[1]).expect("may stop in 0");
    assert_eq!((l.prefix, l.cycle), (vec![0], vec![]));
    let l = ask_from_0(&g, weak(&[0]), Kind::EventuallyAlways, &[0]).expect("stops in 1");
    assert_eq!((l.prefix, l.cycle), (vec![0, 1], vec![]));
}

#[derive(Clone, Debug)]
struct RandomCase {
    n: u32,
    edges: Vec<(u32, u32, u8)>,
    fairness: Fairness,
    bad: Vec<bool>,
}

fn random_case() -> impl Strategy<Value = RandomCase> {
    random_case_failing(0.75)
}

/// A random case whose goal fails in each state with probability `p_bad`.
fn random_case_failing(p_bad: f64) -> impl Strategy<Value = RandomCase> {
    (2u32..=7).prop_flat_map(move |n| {
        (
            proptest::collection::vec((0..n, 0..n, 0u8..3), n as usize..(4 * n as usize + 1)),
            proptest::collection::vec(0u8..5, 3),
            proptest::collection::vec(proptest::bool::weighted(p_bad), n as usize),
        )
            .prop_map(move |(edges, kinds, bad)| {
                let mut fairness = Fairness::default();
                for (c, k) in kinds.iter().enumerate() {
                    match k {
                        0 | 1 => fairness.weak |= 1 << c,
                        2 | 3 => fairness.strong |= 1 << c,
                        _ => {} // unfair, one time in five
                    }
                }
                RandomCase {
                    n,
                    edges,
                    fairness,
                    bad,
                }
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// On random graphs with random fairness, the checker and the reference agree, and every
    /// lasso found is a real fair behaviour that never meets the goal.
    #[test]
    fn agrees_with_brute_force(case in random_case()) {
        let g = graph(case.n, &case.edges);
        check(&g, case.fairness, &[0], &case.bad);
    }

    /// The same for `leads-to`, with the premise true in a random set of states.
    #[test]
    fn leads_to_agrees_with_brute_force(
        case in random_case(),
        premise in proptest::collection::vec(proptest::bool::weighted(0.3), 7),
    ) {
        let g = graph(case.n, &case.edges);
        let goal: Vec<bool> = case.bad.iter().map(|&b| !b).collect();
        let q = Question {
            kind: Kind::LeadsTo,
            init: &[0],
            goal: &goal,
            premise: Some(&premise[..case.n as usize]),
        };
        ask(&g, case.fairness, q);
    }

    /// The same for `always-eventually`.
    #[test]
    fn always_eventually_agrees_with_brute_force(case in random_case_failing(0.6)) {
        let g = graph(case.n, &case.edges);
        let goal: Vec<bool> = case.bad.iter().map(|&b| !b).collect();
        let q = Question { kind: Kind::AlwaysEventually, init: &[0], goal: &goal, premise: None };
        ask(&g, case.fairness, q);
    }

    /// The same for `eventually-always`.
    #[test]
    fn eventually_always_agrees_with_brute_force(case in random_case_failing(0.25)) {
        let g = graph(case.n, &case.edges);
        let goal: Vec<bool> = case.bad.iter().map(|&b| !b).collect();
        let q = Question { kind: Kind::EventuallyAlways, init: &[0], goal: &goal, premise: None };
        ask(&g, case.fairness, q);
    }
}

// ---------------------------------------------------------------------------------------
// End to end: a tiny protocol whose state is a node of a graph, explored by the engine,
// checked, encoded as a trace, and replayed.

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct GraphConfig {
    edges: Vec<(u8, u8, u8)>,
    goal: Vec<u8>,
    /// For the leads-to property: the nodes after which the goal is owed.
    premise: Vec<u8>,
    /// Per class: 0 weak, 1 strong, 2 unfair.
    fairness: Vec<u8>,
}

struct GraphModel(GraphConfig);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Edge {
    to: u8,
    class: u8,
}

impl Model for GraphModel {
    type State = u8;
    type Action = Edge;
    fn init_states(&self) -> Vec<u8> {
        vec![0]
    }
    fn actions(&self, s: &u8, actions: &mut Vec<Edge>) {
        for &(from, to, class) in &self.0.edges {
            if from == *s {
                actions.push(Edge { to, class });
            }
        }
    }
    fn next_state(&self, _: &u8, a: Edge) -> Option<u8> {
        Some(a.to)
    }
}

fn at_goal(m: &GraphModel, s: &u8) -> bool {
    m.0.goal.contains(s)
}

fn at_premise(m: &GraphModel, s: &u8) -> bool {
    m.0.premise.contains(s)
}

impl Protocol for GraphModel {
    const ID: &'static str = "graph";
    type Config = GraphConfig;
    fn variants() -> &'static [Variant] {
        &[Variant {
            id: "correct",
            summary: "a graph",
        }]
    }
    fn new(variant: &str, config: GraphConfig) -> Result<Self, ModelError> {
        if variant != "correct" {
            return Err(ModelError::BadConfig(variant.into()));
        }
        Ok(GraphModel(config))
    }
    fn variant(&self) -> &'static str {
        "correct"
    }
    fn config(&self) -> &GraphConfig {
        &self.0
    }
    fn props() -> Vec<Prop<Self>> {
        vec![
            Prop {
                name: "ReachesGoal",
                kind: Kind::Eventually,
                doc: "Every fair behaviour reaches a goal node.",
                condition: at_goal,
                premise: None,
            },
            Prop {
                name: "PremiseLeadsToGoal",
                kind: Kind::LeadsTo,
                doc: "Whenever a premise node is reached, a goal node is reached then or later.",
                condition: at_goal,
                premise: Some(at_premise),
            },
            Prop {
                name: "GoalInfinitelyOften",
                kind: Kind::AlwaysEventually,
                doc: "Every fair behaviour reaches a goal node again and again, forever.",
                condition: at_goal,
                premise: None,
            },
            Prop {
                name: "GoalFromSomePointOn",
                kind: Kind::EventuallyAlways,
                doc: "Every fair behaviour reaches goal nodes and, from some point on, stays on them.",
                condition: at_goal,
                premise: None,
            },
        ]
    }
    fn classes(&self) -> Vec<Class> {
        self.0
            .fairness
            .iter()
            .enumerate()
            .map(|(i, f)| Class {
                name: format!("class {i}"),
                fairness: match f {
                    0 => coordlab_models::Fairness::Weak,
                    1 => coordlab_models::Fairness::Strong,
                    _ => coordlab_models::Fairness::Unfair,
                },
            })
            .collect()
    }
    fn class_of(&self, a: &Edge) -> usize {
        a.class as usize
    }
    fn fields(&self, s: &u8) -> Vec<(String, String)> {
        vec![("node".into(), s.to_string())]
    }
    fn describe(&self, _: &u8, a: &Edge) -> String {
        format!("go to {} by class {}", a.to, a.class)
    }
    fn participants(&self) -> Vec<String> {
        vec!["Graph".into()]
    }
    fn arrows(&self, _: &u8, a: &Edge, _: &u8) -> Vec<Arrow> {
        vec![Arrow::note(["Graph"], format!("to {}", a.to))]
    }
    fn explain(&self, _: &str, s: &u8) -> String {
        format!("node {s} is not a goal")
    }
    fn violation(&self, _: &str, s: &u8) -> Violation {
        Violation {
            statement: format!("node {s} is not a goal"),
            participants: vec!["Graph".into()],
            fields: vec!["node".into()],
        }
    }
}

fn run_model(
    config: GraphConfig,
) -> (
    Exploration<GraphModel>,
    Option<liveness::ModelLasso<GraphModel>>,
) {
    run_prop(config, "ReachesGoal", 1)
}

/// Explores the graph model with `threads` threads and checks property `name` on it.
fn run_prop(
    config: GraphConfig,
    name: &str,
    threads: usize,
) -> (
    Exploration<GraphModel>,
    Option<liveness::ModelLasso<GraphModel>>,
) {
    let model = GraphModel::new("correct", config).unwrap();
    let budget = Budget {
        graph: true,
        ..Budget::new(threads, None)
    };
    let ex = Exploration::run(model, budget, &Progress::default());
    let lasso = liveness::check(&ex, &GraphModel::prop(name).unwrap());
    (ex, lasso)
}

/// The trace file of a lasso found for property `name`.
fn encode_lasso(
    ex: &Exploration<GraphModel>,
    name: &str,
    l: &liveness::ModelLasso<GraphModel>,
) -> trace::TraceFile {
    let prop = GraphModel::prop(name).unwrap();
    trace::encode(
        &ex.model,
        prop.name,
        prop.kind,
        &l.init,
        &l.steps,
        Some(l.cycle_start),
    )
}

/// Replays `file` with its configuration replaced by `config`.
fn replay_with(file: &trace::TraceFile, config: &GraphConfig) -> Replay {
    let mut file = file.clone();
    file.config = serde_json::to_value(config).unwrap();
    let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
    trace::replay(&file, &typed)
}

/// The nodes a lasso passes: the initial one, then one per step.
fn nodes(l: &liveness::ModelLasso<GraphModel>) -> Vec<u8> {
    std::iter::once(l.init)
        .chain(l.steps.iter().map(|s| s.1))
        .collect()
}

/// A self-loop is a stutter: it neither enables its class nor counts as taking it. Here
/// state 0 has a weakly fair self-loop and an unfair exit to the goal: staying in 0
/// forever is fair, because the only fair action does not change the state.
#[test]
fn a_self_loop_is_a_stutter() {
    let (_, lasso) = run_model(GraphConfig {
        edges: vec![(0, 0, 0), (0, 1, 1)],
        goal: vec![1],
        premise: vec![],
        fairness: vec![0, 2],
    });
    let lasso = lasso.expect("stuttering in 0 is fair");
    assert!(lasso.steps.is_empty());
    // With the exit weakly fair, it must be taken.
    let (_, lasso) = run_model(GraphConfig {
        edges: vec![(0, 0, 0), (0, 1, 0)],
        goal: vec![1],
        premise: vec![],
        fairness: vec![0],
    });
    assert!(lasso.is_none());
}

/// A lasso found on a model encodes to a trace that replays; tampering with its fairness
/// makes replay refuse it.
#[test]
fn model_lassos_replay_and_unfair_ones_do_not() {
    let config = GraphConfig {
        edges: vec![(0, 1, 0), (1, 2, 0), (2, 1, 0), (2, 3, 1)],
        goal: vec![3],
        premise: vec![],
        fairness: vec![0, 0],
    };
    let (ex, lasso) = run_model(config.clone());
    let l = lasso.expect("1-2 loops, and class 1 is disabled in 1");
    let prop = &GraphModel::props()[0];
    let file = trace::encode(
        &ex.model,
        prop.name,
        prop.kind,
        &l.init,
        &l.steps,
        Some(l.cycle_start),
    );
    let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
    assert_eq!(trace::replay(&file, &typed), Replay::Reproduced);
    let md = trace::markdown(&file, &typed, None);
    assert!(md.contains("repeat forever"), "{md}");
    assert!(
        md.replace("<br/>", " ")
            .contains("    Note over Graph: ReachesGoal violated: node "),
        "the diagram ends with the violation: {md}"
    );

    // The same behaviour under strong fairness for class 1 is not fair: replay says why.
    let strong = GraphConfig {
        fairness: vec![0, 1],
        ..config
    };
    let mut file = file;
    file.config = serde_json::to_value(&strong).unwrap();
    let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
    match trace::replay(&file, &typed) {
        Replay::Diverged(why) => assert!(why.contains("`class 1` is strongly fair"), "{why}"),
        Replay::Reproduced => panic!("an unfair cycle replayed as a counterexample"),
    }
    let (_, lasso) = run_model(strong);
    assert!(lasso.is_none(), "strong fairness forces the exit");
}

/// The random comparison is only as good as its cases: over a fixed sample of the same
/// distribution, both answers, both kinds of lasso, and strong fairness all matter.
#[test]
fn random_cases_cover_both_answers() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let (mut holds, mut stutters, mut cycles, mut strong_decides) = (0, 0, 0, 0);
    for _ in 0..2000 {
        let case = random_case().new_tree(&mut runner).unwrap().current();
        let g = graph(case.n, &case.edges);
        match check(&g, case.fairness, &[0], &case.bad) {
            None => holds += 1,
            Some(l) if l.cycle.is_empty() => stutters += 1,
            Some(_) => cycles += 1,
        }
        // Would treating strong classes as weak change the answer?
        let as_weak = Fairness {
            weak: case.fairness.weak | case.fairness.strong,
            strong: 0,
        };
        if find_lasso(&g, as_weak, &[0], &case.bad).is_some()
            != find_lasso(&g, case.fairness, &[0], &case.bad).is_some()
        {
            strong_decides += 1;
        }
    }
    assert!(
        holds > 200 && stutters > 200 && cycles > 100,
        "holds {holds}, stutters {stutters}, cycles {cycles}"
    );
    assert!(
        strong_decides > 10,
        "strong fairness changed {strong_decides} answers (holds {holds}, stutters {stutters}, cycles {cycles})"
    );
}

/// The random comparisons of `leads-to`, `always-eventually` and `eventually-always` are
/// only as good as their cases: over a fixed sample of each distribution, both answers and
/// both kinds of lasso matter, and so do the cases where the kind differs from
/// `eventually` (a lasso `eventually` could not give: its prefix, or for
/// `eventually-always` its cycle, passes a goal state).
#[test]
fn random_cases_of_every_kind_cover_both_answers() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    for (kind, p_bad) in [
        (Kind::LeadsTo, 0.75),
        (Kind::AlwaysEventually, 0.6),
        (Kind::EventuallyAlways, 0.25),
    ] {
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let strategy = (
            random_case_failing(p_bad),
            proptest::collection::vec(proptest::bool::weighted(0.3), 7),
        );
        let (mut holds, mut stutters, mut cycles, mut not_eventually) = (0, 0, 0, 0);
        for _ in 0..2000 {
            let (case, premise) = strategy.new_tree(&mut runner).unwrap().current();
            let g = graph(case.n, &case.edges);
            let goal: Vec<bool> = case.bad.iter().map(|&b| !b).collect();
            let q = Question {
                kind,
                init: &[0],
                goal: &goal,
                premise: Some(&premise[..case.n as usize]),
            };
            let Some(l) = ask(&g, case.fairness, q) else {
                holds += 1;
                continue;
            };
            if l.cycle.is_empty() {
                stutters += 1;
            } else {
                cycles += 1;
            }
            let passes_goal = match kind {
                // The goal is owed from a later state than the first.
                Kind::LeadsTo => l.prefix[0] != 0,
                Kind::AlwaysEventually => l.prefix.iter().any(|&s| goal[s as usize]),
                _ => l.cycle.iter().any(|&(_, v, _)| goal[v as usize]),
            };
            not_eventually += usize::from(passes_goal);
        }
        assert!(
            holds > 200 && stutters > 100 && cycles > 100 && not_eventually > 100,
            "{}: holds {holds}, stutters {stutters}, cycles {cycles}, unlike eventually {not_eventually}",
            kind.as_str()
        );
    }
}

/// Leads-to: the goal is owed only after the premise. Here the system may loop on 0-1
/// before the premise (fine: nothing is owed yet), reaches the premise 2, and from there
/// may loop on 2-3 forever without the goal 4 (a violation), while eventually(goal) fails
/// already on the first loop.
#[test]
fn leads_to_is_owed_only_after_the_premise() {
    let config = GraphConfig {
        edges: vec![
            (0, 1, 0),
            (1, 0, 0),
            (1, 2, 1),
            (2, 3, 0),
            (3, 2, 0),
            (3, 4, 1),
        ],
        goal: vec![4],
        premise: vec![2],
        fairness: vec![0, 0],
    };
    let model = GraphModel::new("correct", config.clone()).unwrap();
    let budget = Budget {
        graph: true,
        ..Budget::new(1, None)
    };
    let ex = Exploration::run(model, budget, &Progress::default());
    let props = GraphModel::props();
    let eventually = liveness::check(&ex, &props[0]).expect("the 0-1 loop never reaches 4");
    assert_eq!(eventually.cycle_start, 0, "the loop starts right away");
    let leads_to = liveness::check(&ex, &props[1]).expect("the 2-3 loop never reaches 4");
    let states: Vec<u8> = std::iter::once(leads_to.init)
        .chain(leads_to.steps.iter().map(|s| s.1))
        .collect();
    assert_eq!(
        &states[..3],
        &[0, 1, 2],
        "the prefix reaches the premise: {states:?}"
    );
    assert!(
        states[leads_to.cycle_start..]
            .iter()
            .all(|&s| s == 2 || s == 3),
        "{states:?}"
    );
    let file = trace::encode(
        &ex.model,
        props[1].name,
        props[1].kind,
        &leads_to.init,
        &leads_to.steps,
        Some(leads_to.cycle_start),
    );
    let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
    assert_eq!(trace::replay(&file, &typed), Replay::Reproduced);

    // With the premise never reachable, nothing is owed: leads-to holds vacuously while
    // eventually still fails.
    let model = GraphModel::new(
        "correct",
        GraphConfig {
            premise: vec![9],
            ..config
        },
    )
    .unwrap();
    let ex = Exploration::run(model, budget, &Progress::default());
    assert!(liveness::check(&ex, &props[1]).is_none());
    assert!(liveness::check(&ex, &props[0]).is_some());
}

/// `always-eventually` end to end: the model's lasso (the goal once, then a loop without
/// it) is saved as a trace that replays and reads as a loop that never meets the goal;
/// the same trace is refused when a state of its loop is a goal, and when its loop is not
/// fair.
#[test]
fn always_eventually_lassos_replay_and_tampered_ones_do_not() {
    let config = GraphConfig {
        edges: vec![(0, 1, 0), (1, 2, 0), (2, 1, 0), (2, 3, 1)],
        goal: vec![0, 3],
        premise: vec![],
        fairness: vec![0, 0],
    };
    let (ex, lasso) = run_prop(config.clone(), "GoalInfinitelyOften", 1);
    let l = lasso.expect("1-2 loops, and class 1 is disabled in 1");
    assert_eq!(nodes(&l), [0, 1, 2, 1]);
    assert_eq!(l.cycle_start, 1);
    assert!(
        liveness::check(&ex, &GraphModel::prop("ReachesGoal").unwrap()).is_none(),
        "node 0 is a goal: eventually holds"
    );
    let file = encode_lasso(&ex, "GoalInfinitelyOften", &l);
    assert_eq!(file.kind, "always-eventually");
    let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
    assert_eq!(trace::replay(&file, &typed), Replay::Reproduced);
    let md = trace::markdown(&file, &typed, None);
    assert!(
        md.contains("**What goes wrong:** node 1 is not a goal"),
        "{md}"
    );
    assert!(
        md.contains("`GoalInfinitelyOften` holds in none of the states of the loop"),
        "{md}"
    );
    let text = trace::text(&file, &typed);
    assert!(
        text.contains("what goes wrong: node 1 is not a goal"),
        "{text}"
    );

    // Node 2 a goal: the loop meets it every round.
    let goal_in_loop = GraphConfig {
        goal: vec![0, 2, 3],
        ..config.clone()
    };
    match replay_with(&file, &goal_in_loop) {
        Replay::Diverged(why) => assert_eq!(
            why,
            "the state after step 2, in the cycle, satisfies GoalInfinitelyOften"
        ),
        Replay::Reproduced => panic!("a loop through a goal replayed as a counterexample"),
    }
    assert!(run_prop(goal_in_loop, "GoalInfinitelyOften", 1).1.is_none());
    // Class 1 strongly fair: the loop, enabling it in node 2 every round, must take it.
    let strong = GraphConfig {
        fairness: vec![0, 1],
        ..config
    };
    match replay_with(&file, &strong) {
        Replay::Diverged(why) => assert!(why.contains("`class 1` is strongly fair"), "{why}"),
        Replay::Reproduced => panic!("an unfair cycle replayed as a counterexample"),
    }
    assert!(run_prop(strong, "GoalInfinitelyOften", 1).1.is_none());
}

/// `eventually-always` end to end: the model's lasso (a loop through goal nodes that
/// leaves them every round) is saved as a trace that replays, with its cycle starting in
/// the node where the goal fails; the same trace is refused when every state of its loop
/// is a goal, when its loop starts where the goal holds, and when the loop is not fair.
#[test]
fn eventually_always_lassos_replay_and_tampered_ones_do_not() {
    let config = GraphConfig {
        edges: vec![(0, 1, 0), (1, 2, 0), (2, 0, 0), (2, 3, 1)],
        goal: vec![0, 1, 3],
        premise: vec![],
        fairness: vec![0, 0],
    };
    let (ex, lasso) = run_prop(config.clone(), "GoalFromSomePointOn", 1);
    let l = lasso.expect("0-1-2 loops, leaving the goal in 2 every round");
    assert_eq!(nodes(&l), [0, 1, 2, 0, 1, 2]);
    assert_eq!(l.cycle_start, 2);
    for name in ["ReachesGoal", "GoalInfinitelyOften"] {
        let prop = GraphModel::prop(name).unwrap();
        assert!(liveness::check(&ex, &prop).is_none(), "{name} holds");
    }
    let file = encode_lasso(&ex, "GoalFromSomePointOn", &l);
    assert_eq!(file.kind, "eventually-always");
    let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
    assert_eq!(trace::replay(&file, &typed), Replay::Reproduced);
    let md = trace::markdown(&file, &typed, None);
    assert!(
        md.contains("**What goes wrong:** node 2 is not a goal"),
        "{md}"
    );
    assert!(
        md.contains("`GoalFromSomePointOn` fails in the state after step 2, which every round of the loop returns to"),
        "{md}"
    );

    // Every node of the loop a goal: nothing fails infinitely often.
    let all_goals = GraphConfig {
        goal: vec![0, 1, 2, 3],
        ..config.clone()
    };
    match replay_with(&file, &all_goals) {
        Replay::Diverged(why) => assert_eq!(
            why,
            "every state of the cycle (steps 3–5) satisfies GoalFromSomePointOn"
        ),
        Replay::Reproduced => panic!("a loop of goals replayed as a counterexample"),
    }
    assert!(run_prop(all_goals, "GoalFromSomePointOn", 1).1.is_none());
    // The same loop, started in node 0 (a goal) instead of node 2: it does fail the goal
    // infinitely often, but the trace would explain a state where the goal holds.
    let rotated = {
        let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
        let steps = typed.steps[..3].to_vec();
        trace::encode(
            &ex.model,
            file.property.as_str(),
            Kind::EventuallyAlways,
            &0,
            &steps,
            Some(0),
        )
    };
    let typed = Typed::<GraphModel>::decode(&rotated, "correct").unwrap();
    assert_eq!(nodes_of(&typed), [0, 1, 2, 0]);
    match trace::replay(&rotated, &typed) {
        Replay::Diverged(why) => assert_eq!(
            why,
            "the cycle returns to the state after step 0, where GoalFromSomePointOn holds: a counterexample to an eventually-always property returns to a state where it fails"
        ),
        Replay::Reproduced => panic!("a loop returning to a goal replayed"),
    }
    // Class 1 strongly fair: the loop enables it in node 2 every round, so must take it.
    let strong = GraphConfig {
        fairness: vec![0, 1],
        ..config
    };
    match replay_with(&file, &strong) {
        Replay::Diverged(why) => assert!(why.contains("`class 1` is strongly fair"), "{why}"),
        Replay::Reproduced => panic!("an unfair cycle replayed as a counterexample"),
    }
    assert!(run_prop(strong, "GoalFromSomePointOn", 1).1.is_none());
}

/// The nodes of a decoded trace, step 0 first.
fn nodes_of(t: &Typed<GraphModel>) -> Vec<u8> {
    (0..=t.steps.len()).map(|i| *t.state(i)).collect()
}

/// Stuttering lassos of both new kinds: the system stops where the goal fails, and
/// nothing fair is enabled there. The trace is a prefix and no cycle, and replays; with the
/// stop a goal it is refused.
#[test]
fn stutter_lassos_of_the_new_kinds_replay() {
    // 0 (goal) -> 1, and from 1 only an unfair step back.
    let config = GraphConfig {
        edges: vec![(0, 1, 0), (1, 0, 1)],
        goal: vec![0],
        premise: vec![],
        fairness: vec![0, 2],
    };
    for name in ["GoalInfinitelyOften", "GoalFromSomePointOn"] {
        let (ex, lasso) = run_prop(config.clone(), name, 1);
        let l = lasso.unwrap_or_else(|| panic!("{name}: may stop in 1"));
        assert_eq!((nodes(&l), l.cycle_start), (vec![0, 1], 1), "{name}");
        let file = encode_lasso(&ex, name, &l);
        let typed = Typed::<GraphModel>::decode(&file, "correct").unwrap();
        assert_eq!(trace::replay(&file, &typed), Replay::Reproduced, "{name}");
        let stop_is_goal = GraphConfig {
            goal: vec![0, 1],
            ..config.clone()
        };
        match replay_with(&file, &stop_is_goal) {
            Replay::Diverged(why) => assert!(why.contains("after step 1"), "{name}: {why}"),
            Replay::Reproduced => panic!("{name}: a stop in a goal replayed"),
        }
    }
}

/// The lassos of every liveness kind are the same at any thread count (the trace files
/// are byte for byte equal), on a graph big enough for the threads to share the work.
#[test]
fn lassos_do_not_depend_on_the_thread_count() {
    let n = 200u16;
    let mut edges = Vec::new();
    for i in 0..n {
        edges.push((i as u8, ((i + 1) % n) as u8, 0));
        edges.push((i as u8, ((i * 7 + 3) % n) as u8, 1));
        edges.push((i as u8, ((i * 13 + 5) % n) as u8, 2));
    }
    let config = GraphConfig {
        edges,
        goal: (0..n).filter(|i| i % 9 == 4).map(|i| i as u8).collect(),
        premise: (0..n).filter(|i| i % 11 == 6).map(|i| i as u8).collect(),
        fairness: vec![0, 1, 2],
    };
    let mut found = 0;
    for prop in GraphModel::props() {
        let json = |threads| {
            let (ex, lasso) = run_prop(config.clone(), prop.name, threads);
            lasso.map(|l| encode_lasso(&ex, prop.name, &l).to_json())
        };
        let one = json(1);
        found += usize::from(one.is_some());
        for threads in [2, 3] {
            assert_eq!(json(threads), one, "{} at {threads} threads", prop.name);
        }
    }
    assert_eq!(
        found,
        GraphModel::props().len(),
        "every property fails on this graph"
    );
}
