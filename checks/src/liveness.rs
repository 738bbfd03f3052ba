//! Liveness under fairness: `Eventually(Q)`, `LeadsTo(P, Q)`, `AlwaysEventually(Q)` (`[]<>Q`)
//! and `EventuallyAlways(Q)` (`<>[]Q`) on the reachable graph, with real lasso
//! counterexamples.
//!
//! Semantics as in TLA+. A behaviour is infinite; the system may always stutter, so staying
//! forever in one state is a behaviour too. Actions belong to classes (declared by the model
//! with [`coordlab_models::Protocol::classes`]); a class is *enabled* in a state when one of
//! its actions leads to a different state (a self-loop is a stutter and never counts as
//! taking the class). A behaviour is fair when, for every weakly fair class, the class is
//! not enabled in every state from some point on without being taken infinitely often, and
//! for every strongly fair class, the class is not enabled infinitely often without being
//! taken infinitely often.
//!
//! Every violation has the same shape: a fair behaviour that, from some point on, stays in
//! a set of states and passes some of them infinitely often. For `eventually` (from an
//! initial state) and `leads-to` (from a reachable state where `P` holds and `Q` does not)
//! it never leaves the states where `Q` fails; for `always-eventually` it reaches, by any
//! path, a state from which it never meets `Q` again; for `eventually-always` it may go
//! anywhere but passes a state where `Q` fails infinitely often. ([`find_violation`]
//! says which states each kind may pass, stay in and must visit.)
//!
//! A finite graph has such a behaviour exactly when, among the states it may stay in that
//! can be reached the way the kind allows, either (a) some state it must visit enables no
//! fair class (the behaviour stutters there forever), or (b) some strongly connected set
//! `S` of them, holding a state it must visit, satisfies: every weakly fair class enabled in
//! all of `S` is taken by an edge inside `S`, and every strongly fair class enabled anywhere
//! in `S` is taken inside `S`. A cycle through all of `S` taking all its edges is then fair.
//! (b) is decided as in Emerson and Lei ("Modalities for model checking", 1987) and TLC:
//! split the region into strongly connected components; a component that enables a weakly
//! fair class everywhere without taking it cannot contain a fair cycle; a component that
//! enables a strongly fair class somewhere without taking it can only contain fair cycles
//! that avoid the states enabling it, so those states are removed and the rest split again.
//! The components this leaves are the largest fair sets, so a state lies in a fair set
//! exactly when it lies in one of them.
//!
//! The counterexample is a lasso of real transitions: the shortest path (through the states
//! the kind allows) to a state it must visit that begins a stutter or lies in a fair
//! component, then a cycle from that state back to itself that takes, or passes a state
//! disabling, each class fairness asks about. The cycle thus starts and ends in a state
//! where `Q` fails, the one a trace explains.

use coordlab_models::Kind;

use crate::engine::Graph;

/// The fairness of the classes, as bit masks (bit `c` for class `c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fairness {
    pub weak: u64,
    pub strong: u64,
}

impl Fairness {
    pub fn from_classes(classes: &[coordlab_models::Class]) -> Self {
        let mut f = Fairness::default();
        for (i, c) in classes.iter().enumerate() {
            match c.fairness {
                coordlab_models::Fairness::Weak => f.weak |= 1 << i,
                coordlab_models::Fairness::Strong => f.strong |= 1 << i,
                coordlab_models::Fairness::Unfair => {}
            }
        }
        f
    }

    fn fair(&self) -> u64 {
        self.weak | self.strong
    }
}

/// A fair behaviour that violates a liveness property: reach `prefix.last()`, then repeat
/// `cycle` forever (or, when `cycle` is empty, stay in that state forever).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lasso {
    /// State ids from a start state to the state where the cycle begins.
    pub prefix: Vec<u32>,
    /// Edges (from, to, class) of the cycle, from and back to `prefix.last()`.
    pub cycle: Vec<(u32, u32, u8)>,
}

/// Where a lasso may go, as masks over the graph's states: the states its prefix may pass
/// through, the states its cycle (or stutter) may use, and the states the cycle must pass
/// every round (at least one; the cycle starts and ends in one). Only the states in all the
/// masks that apply count: a cycle uses `path` and `cycle` states, and visits `visit` ones
/// among them.
#[derive(Clone, Copy, Debug)]
pub struct Region<'a> {
    pub path: &'a [bool],
    pub cycle: &'a [bool],
    pub visit: &'a [bool],
}

/// Searches for a fair behaviour that starts in one of `starts`, stays in states where
/// `bad` is true, and never leaves them (an `eventually` or `leads-to` violation when `bad`
/// is where the goal fails). Of all such behaviours it returns one whose cycle (or stutter)
/// is entered as early as possible: the region is searched breadth-first from `starts`, in
/// the order given (give them in BFS order for short prefixes).
pub fn find_lasso(g: &Graph, fairness: Fairness, starts: &[u32], bad: &[bool]) -> Option<Lasso> {
    find_lasso_in(
        g,
        fairness,
        starts,
        Region {
            path: bad,
            cycle: bad,
            visit: bad,
        },
    )
}

/// Searches for a fair behaviour that starts in one of `starts`, passes `region.path`
/// states only, and from some point on stays in `region.cycle` states forever while
/// passing a `region.visit` state infinitely often. The lasso returned is entered as early
/// as possible: its prefix is a shortest path (breadth-first from `starts`, in the order
/// given) to a `visit` state where such a cycle, or a fair stutter, begins.
pub fn find_lasso_in(
    g: &Graph,
    fairness: Fairness,
    starts: &[u32],
    region: Region<'_>,
) -> Option<Lasso> {
    let n = g.states();
    let Region { path, cycle, visit } = region;
    // 1. The states a cycle may use: reachable from the starts through `path` states, and
    // `cycle` states themselves.
    let reachable_cycle_states = {
        let mut seen = vec![false; n];
        let mut order = Vec::new();
        for &s in starts {
            if path[s as usize] && !std::mem::replace(&mut seen[s as usize], true) {
                order.push(s);
            }
        }
        let mut head = 0;
        while head < order.len() {
            let v = order[head];
            head += 1;
            for (w, _) in g.edges(v) {
                if path[w as usize] && !std::mem::replace(&mut seen[w as usize], true) {
                    order.push(w);
                }
            }
        }
        order.retain(|&s| cycle[s as usize]);
        order
    };
    if !reachable_cycle_states.iter().any(|&s| visit[s as usize]) {
        return None;
    }

    // 2. Where a behaviour may stay: states that enable no fair class (stuttering there
    // forever is fair), and the states of fair strongly connected sets. Only the fair sets
    // that contain a `visit` state matter.
    let stutters = |s: u32| g.enabled(s) & fairness.fair() == 0;
    let mut fair_components: Vec<Vec<u32>> = Vec::new();
    {
        // Emerson–Lei refinement: split into components; drop the ones a weakly fair class
        // rules out; in the ones a strongly fair class rules out, drop the states that
        // enable it and split again.
        let mut member = vec![false; n];
        let mut scc = Pearce::new(n);
        let mut work: Vec<Vec<u32>> = vec![reachable_cycle_states];
        while let Some(set) = work.pop() {
            for &s in &set {
                member[s as usize] = true;
            }
            let components = scc.run(g, &set, &member);
            for &s in &set {
                member[s as usize] = false;
            }
            drop(set);
            for comp in components {
                if !comp.iter().any(|&s| visit[s as usize]) {
                    continue; // no fair set inside it passes a state it must
                }
                for &s in &comp {
                    member[s as usize] = true;
                }
                let (taken, en_all, en_any) = summarise(g, &comp, &member);
                for &s in &comp {
                    member[s as usize] = false;
                }
                if fairness.weak & en_all & !taken != 0 {
                    continue; // a weakly fair class enabled throughout, never taken
                }
                let unmet = fairness.strong & en_any & !taken;
                if unmet != 0 {
                    let rest: Vec<u32> = comp
                        .into_iter()
                        .filter(|&s| g.enabled(s) & unmet == 0)
                        .collect();
                    if rest.len() >= 2 {
                        work.push(rest);
                    }
                    continue;
                }
                fair_components.push(comp);
            }
        }
    }
    let mut in_fair = vec![false; n];
    for comp in &fair_components {
        for &s in comp {
            in_fair[s as usize] = true;
        }
    }
    // The search below meets only states reachable through `path`, so a `cycle` state it
    // meets is one of step 1's, and `in_fair` says whether it lies in a fair set.
    let entry_ok = |s: u32| {
        let s_ = s as usize;
        visit[s_] && cycle[s_] && (stutters(s) || in_fair[s_])
    };

    // 3. The nearest such state, by a second breadth-first search that keeps parents.
    const NONE: u32 = u32::MAX;
    let mut parent = vec![NONE; n];
    let mut queue: std::collections::VecDeque<u32> = std::collections::VecDeque::new();
    let mut seen = vec![false; n];
    for &s in starts {
        if path[s as usize] && !std::mem::replace(&mut seen[s as usize], true) {
            queue.push_back(s);
        }
    }
    let entry = loop {
        let v = queue.pop_front()?;
        if entry_ok(v) {
            break v;
        }
        for (w, _) in g.edges(v) {
            if path[w as usize] && !std::mem::replace(&mut seen[w as usize], true) {
                parent[w as usize] = v;
                queue.push_back(w);
            }
        }
    };
    let mut prefix = vec![entry];
    while parent[*prefix.last().unwrap() as usize] != NONE {
        prefix.push(parent[*prefix.last().unwrap() as usize]);
    }
    prefix.reverse();
    if stutters(entry) {
        return Some(Lasso {
            prefix,
            cycle: Vec::new(),
        });
    }
    let comp = fair_components
        .into_iter()
        .find(|c| c.binary_search(&entry).is_ok())
        .expect("the entry lies in a fair component");
    let mut member = vec![false; n];
    for &s in &comp {
        member[s as usize] = true;
    }
    let cycle = fair_cycle(g, fairness, entry, &comp, &member);
    Some(Lasso { prefix, cycle })
}

/// Searches `g` for a fair behaviour from one of the initial states `init` that violates a
/// liveness property of kind `kind`, whose condition holds in the states marked in `goal`
/// and (for `leads-to`) whose premise holds in those marked in `premise`:
///
/// - `eventually`: from an initial state, the goal never holds;
/// - `leads-to`: from a reachable state where the premise holds and the goal does not, the
///   goal never holds;
/// - `always-eventually`: from some reachable state on, the goal never holds (the cycle
///   lies in states where it fails);
/// - `eventually-always`: the goal fails infinitely often (the cycle, anywhere in the
///   reachable graph, starts and ends in a state where it fails).
///
/// `None` when the property holds. Panics for `always` and `sometimes`, and when a
/// `leads-to` property comes without `premise`.
pub fn find_violation(
    g: &Graph,
    fairness: Fairness,
    kind: Kind,
    init: &[u32],
    goal: &[bool],
    premise: Option<&[bool]>,
) -> Option<Lasso> {
    let n = g.states();
    let bad: Vec<bool> = goal.iter().map(|&holds| !holds).collect();
    match kind {
        Kind::Eventually => find_lasso(g, fairness, init, &bad),
        Kind::LeadsTo => {
            let premise = premise.expect("a leads-to property has a premise");
            // Every reachable state where the goal is owed, in id order.
            let mut reach = vec![false; n];
            let mut stack: Vec<u32> = init.to_vec();
            while let Some(s) = stack.pop() {
                if !std::mem::replace(&mut reach[s as usize], true) {
                    stack.extend(g.edges(s).map(|(w, _)| w));
                }
            }
            let starts: Vec<u32> = (0..n as u32)
                .filter(|&s| reach[s as usize] && bad[s as usize] && premise[s as usize])
                .collect();
            find_lasso(g, fairness, &starts, &bad)
        }
        Kind::AlwaysEventually => {
            let all = vec![true; n];
            let region = Region {
                path: &all,
                cycle: &bad,
                visit: &bad,
            };
            find_lasso_in(g, fairness, init, region)
        }
        Kind::EventuallyAlways => {
            let all = vec![true; n];
            let region = Region {
                path: &all,
                cycle: &all,
                visit: &bad,
            };
            find_lasso_in(g, fairness, init, region)
        }
        Kind::Always | Kind::Sometimes => panic!("{} is not a liveness kind", kind.as_str()),
    }
}

/// Classes taken by edges inside the set, enabled in all of it, enabled somewhere in it.
fn summarise(g: &Graph, comp: &[u32], member: &[bool]) -> (u64, u64, u64) {
    let mut taken = 0;
    let mut en_all = u64::MAX;
    let mut en_any = 0;
    for &s in comp {
        en_all &= g.enabled(s);
        en_any |= g.enabled(s);
        for (w, c) in g.edges(s) {
            if member[w as usize] {
                taken |= 1 << c;
            }
        }
    }
    (taken, en_all, en_any)
}

/// A cycle from `entry` back to it inside the fair component: for each fair class, it
/// takes an edge of the class, or (weak fairness) passes a state where the class is
/// disabled, or the class is enabled nowhere in the component.
fn fair_cycle(
    g: &Graph,
    fairness: Fairness,
    entry: u32,
    comp: &[u32],
    member: &[bool],
) -> Vec<(u32, u32, u8)> {
    let (taken_in_comp, _, en_any) = summarise(g, comp, member);
    let mut cycle: Vec<(u32, u32, u8)> = Vec::new();
    let mut current = entry;
    let mut taken = 0u64;
    let mut disabled_seen = !g.enabled(entry);
    for c in 0..64u8 {
        let bit = 1u64 << c;
        let weak = fairness.weak & bit != 0;
        let strong = fairness.strong & bit != 0;
        if !(weak || strong) || en_any & bit == 0 {
            continue;
        }
        let satisfied =
            |taken: u64, disabled_seen: u64| taken & bit != 0 || (weak && disabled_seen & bit != 0);
        if satisfied(taken, disabled_seen) {
            continue;
        }
        // The nearest place that satisfies the class: the source of an edge of the class
        // (take it), or for weak fairness a state that disables it.
        let can_take = taken_in_comp & bit != 0;
        let path = bfs_within(g, member, current, |s| {
            (weak && g.enabled(s) & bit == 0)
                || (can_take && g.edges(s).any(|(w, k)| k == c && member[w as usize]))
        })
        .expect("the component is strongly connected and satisfies the class");
        for &(u, v, k) in &path {
            taken |= 1 << k;
            disabled_seen |= !g.enabled(v);
            let _ = u;
        }
        cycle.extend(path);
        current = cycle.last().map_or(current, |e| e.1);
        if !satisfied(taken, disabled_seen) {
            let (w, _) = g
                .edges(current)
                .find(|&(w, k)| k == c && member[w as usize])
                .expect("an edge of the class");
            cycle.push((current, w, c));
            taken |= bit;
            disabled_seen |= !g.enabled(w);
            current = w;
        }
    }
    if cycle.is_empty() {
        // No obligation: any edge inside the component starts the cycle.
        let (w, k) = g
            .edges(entry)
            .find(|&(w, _)| member[w as usize])
            .expect("a nontrivial component");
        cycle.push((entry, w, k));
        current = w;
    }
    if current != entry {
        cycle.extend(bfs_within(g, member, current, |s| s == entry).expect("strongly connected"));
    }
    cycle
}

/// The shortest path (as edges) inside `member` from `from` to the first state satisfying
/// `target` (`from` itself counts, giving an empty path).
fn bfs_within(
    g: &Graph,
    member: &[bool],
    from: u32,
    target: impl Fn(u32) -> bool,
) -> Option<Vec<(u32, u32, u8)>> {
    if target(from) {
        return Some(Vec::new());
    }
    let mut prev: std::collections::HashMap<u32, (u32, u8)> = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    prev.insert(from, (u32::MAX, 0));
    while let Some(v) = queue.pop_front() {
        for (w, c) in g.edges(v) {
            if !member[w as usize] || prev.contains_key(&w) {
                continue;
            }
            prev.insert(w, (v, c));
            if target(w) {
                let mut path = Vec::new();
                let mut at = w;
                while at != from {
                    let (p, k) = prev[&at];
                    path.push((p, at, k));
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            queue.push_back(w);
        }
    }
    None
}

/// Strongly connected components by Pearce's algorithm ("A space-efficient algorithm for
/// finding strongly connected components", IPL 2016): Tarjan's, with one word per state
/// instead of an index, a low-link and an on-stack flag. Iterative (no recursion, so no
/// stack overflow on millions of states), restricted to the states marked in `member`; the
/// scratch array is sized once for the whole graph and reset after each run.
struct Pearce {
    /// 0: not visited; below `FIRST_COMPONENT`: the visit index (or a smaller one reached
    /// from it); from `FIRST_COMPONENT` down: the id of the finished component.
    rindex: Vec<u32>,
}

impl Pearce {
    const FIRST_COMPONENT: u32 = u32::MAX - 1;

    fn new(n: usize) -> Self {
        Pearce { rindex: vec![0; n] }
    }

    /// The components of two or more states among `nodes`, each sorted.
    fn run(&mut self, g: &Graph, nodes: &[u32], member: &[bool]) -> Vec<Vec<u32>> {
        let rindex = &mut self.rindex;
        let mut components = Vec::new();
        let mut index = 1u32;
        let mut component = Self::FIRST_COMPONENT;
        let mut stack: Vec<u32> = Vec::new();
        // (state, next edge position with the top bit set while the state may still be
        // the root of its component): 8 bytes a frame, and a frame per state on a long path.
        const ROOT: u32 = 1 << 31;
        assert!(g.to.len() < ROOT as usize, "edge positions fit in 31 bits");
        let mut calls: Vec<(u32, u32)> = Vec::new();
        for &r in nodes {
            if rindex[r as usize] != 0 {
                continue;
            }
            rindex[r as usize] = index;
            index += 1;
            calls.push((r, g.start[r as usize] | ROOT));
            while let Some(frame) = calls.last_mut() {
                let v = frame.0;
                let pos = frame.1 & !ROOT;
                if pos < g.start[v as usize + 1] {
                    let w = g.to[pos as usize];
                    frame.1 += 1;
                    if !member[w as usize] {
                        continue;
                    }
                    if rindex[w as usize] == 0 {
                        rindex[w as usize] = index;
                        index += 1;
                        calls.push((w, g.start[w as usize] | ROOT));
                    } else if rindex[w as usize] < rindex[v as usize] {
                        rindex[v as usize] = rindex[w as usize];
                        frame.1 &= !ROOT;
                    }
                    continue;
                }
                let (v, flags) = calls.pop().expect("a frame");
                let root = flags & ROOT != 0;
                if root {
                    index -= 1;
                    let mut comp = vec![v];
                    while let Some(&w) = stack.last()
                        && rindex[v as usize] <= rindex[w as usize]
                    {
                        stack.pop();
                        rindex[w as usize] = component;
                        index -= 1;
                        comp.push(w);
                    }
                    rindex[v as usize] = component;
                    component -= 1;
                    debug_assert!(index < component);
                    // A single state has no edge inside (self-loops are not edges), so it
                    // can host no cycle: only components of two or more are returned.
                    if comp.len() > 1 {
                        comp.sort_unstable();
                        components.push(comp);
                    }
                } else {
                    stack.push(v);
                }
                if let Some(parent) = calls.last_mut()
                    && rindex[v as usize] < rindex[parent.0 as usize]
                {
                    rindex[parent.0 as usize] = rindex[v as usize];
                    parent.1 &= !ROOT;
                }
            }
        }
        for &s in nodes {
            rindex[s as usize] = 0;
        }
        components
    }
}

/// A lasso of the model: the initial state, the steps, and the index of the step (0 is the
/// initial state) whose state the cycle starts from and returns to.
pub struct ModelLasso<P: coordlab_models::Protocol> {
    pub init: P::State,
    pub steps: crate::engine::Steps<P>,
    pub cycle_start: usize,
}

/// Checks one liveness property on an exploration made with [`crate::engine::Budget::graph`].
/// `None` when the property holds.
pub fn check<P: coordlab_models::Protocol>(
    ex: &crate::engine::Exploration<P>,
    prop: &coordlab_models::Prop<P>,
) -> Option<ModelLasso<P>> {
    assert!(
        prop.kind.is_liveness(),
        "{} is not a liveness property",
        prop.name
    );
    let g = ex.graph.as_ref().expect("explored with the graph");
    let model = &ex.model;
    let n = g.states() as u32;
    // Each state decoded once, for the goal and the premise both.
    let mut goal = Vec::with_capacity(n as usize);
    let mut premise = prop.premise.map(|_| Vec::with_capacity(n as usize));
    for s in 0..n {
        let state = ex.state(s);
        goal.push((prop.condition)(model, &state));
        if let (Some(p), Some(marks)) = (prop.premise, premise.as_mut()) {
            marks.push(p(model, &state));
        }
    }
    let init: Vec<u32> = (0..n).take_while(|&s| ex.parent(s) == u32::MAX).collect();
    let fairness = Fairness::from_classes(&model.classes());
    let lasso = find_violation(g, fairness, prop.kind, &init, &goal, premise.as_deref())?;
    // The full path of ids: from an initial state to the start, then on to the cycle.
    let mut ids = Vec::new();
    let mut s = lasso.prefix[0];
    while s != u32::MAX {
        ids.push(s);
        s = ex.parent(s);
    }
    ids.reverse();
    ids.extend_from_slice(&lasso.prefix[1..]);
    let cycle_start = ids.len() - 1;
    let step = |from: u32, to: u32, class: Option<u8>| {
        let target = ex.state(to);
        model
            .next_steps(&ex.state(from))
            .into_iter()
            .find(|(a, next)| {
                *next == target && class.is_none_or(|c| model.class_of(a) == c as usize)
            })
            .expect("every edge of the graph is a step of the model")
    };
    let mut steps: crate::engine::Steps<P> =
        ids.windows(2).map(|w| step(w[0], w[1], None)).collect();
    steps.extend(lasso.cycle.iter().map(|&(u, v, c)| step(u, v, Some(c))));
    Some(ModelLasso {
        init: ex.state(ids[0]),
        steps,
        cycle_start,
    })
}
