//! "Shuttle finds each bug", and the committed counterexamples it produces.
//!
//! For each of the election model's bug variants, switched on in the implementation as a
//! test-only [`Deviation`], a search runs the variant's scenario under shuttle's random
//! scheduler from fixed seeds until a run violates the variant's property. The shortest
//! failing run is written to `counterexamples/election/impl-<variant>/<Property>.{json,md}`:
//! the JSON holds the encoded schedule that `shuttle::replay` takes, the seed, the shuttle
//! version and the run's log; the Markdown tells the story for a person.
//!
//! - `shuttle_finds_*`: the search finds the bug, and the correct protocol survives the same
//!   search from every seed.
//! - `committed_counterexamples_are_current`: the committed files are byte-identical to what
//!   the search produces now. Regenerate with `COORDLAB_BLESS=1` (same command).
//! - `committed_counterexamples_replay`: every committed JSON replays with `shuttle::replay` and
//!   reproduces the same violations and the same log.
//!
//! The search is deterministic given the seed: the harness draws all its randomness from
//! shuttle. (Setting `SHUTTLE_RANDOM_SEED` overrides the seed and so changes the output.)

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use coordlab_diagram::{Arrow, SequenceDiagram};
use coordlab_impls::election::{Event, FencingToken, NodeId, StepDownReason};
use serde::{Deserialize, Serialize};

use super::harness::{
    Deviation, Record, Report, Scenario, Step, Violation, property, render_records, run,
};
use super::scenarios;
use crate::shuttle_search::{self, Found};

/// Version of the counterexample JSON layout.
const FORMAT: u32 = 1;

/// Runs per seed before giving up.
const MAX_ITERATIONS: usize = 20_000;

/// The searches run from each of these seeds and keep the failing run with the shortest log
/// up to the violation (ties: the lowest seed).
const SEEDS: std::ops::RangeInclusive<u64> = 1..=20;

/// One bug variant to find.
struct Target {
    deviation: Deviation,
    property: &'static str,
    scenario: Scenario,
}

fn targets() -> Vec<Target> {
    let search = scenarios::search();
    vec![
        Target {
            deviation: Deviation::NoFencing,
            property: property::STALE_TOKEN_WRITE_REJECTED,
            scenario: Scenario {
                pause_per_mille: 300,
                slow_per_mille: 0,
                deviation: Some(Deviation::NoFencing),
                ..search.clone()
            },
        },
        Target {
            deviation: Deviation::NoClockMargin,
            property: property::AT_MOST_ONE_LEADER,
            scenario: Scenario {
                deviation: Some(Deviation::NoClockMargin),
                ..search.clone()
            },
        },
        Target {
            deviation: Deviation::CheckThenSet,
            property: property::AT_MOST_ONE_LEADER,
            scenario: Scenario {
                slow_per_mille: 0,
                deviation: Some(Deviation::CheckThenSet),
                ..search
            },
        },
    ]
}

/// One run of `scenario` for a search: its report, and the first violation of `property`
/// (of any property if `None`) if there is one.
fn checked_run(
    scenario: Scenario,
    property: Option<String>,
) -> impl Fn() -> (Report, Option<String>) + Send + Sync + 'static {
    move || {
        let report = run(&scenario);
        let failure = match &property {
            Some(p) => first_violation(&report, p),
            None => report.violations.first(),
        }
        .map(ToString::to_string);
        (report, failure)
    }
}

fn first_violation<'r>(report: &'r Report, property: &str) -> Option<&'r Violation> {
    report.violations.iter().find(|v| v.property == property)
}

/// How many log records the story needs: up to the first violation of the target property.
fn story_length(found: &Found<Report>, property: &str) -> usize {
    first_violation(&found.report, property).map_or(usize::MAX, |v| v.step)
}

fn find(target: &Target) -> Found<Report> {
    let mut best: Option<Found<Report>> = None;
    for seed in SEEDS {
        let run = checked_run(target.scenario.clone(), Some(target.property.to_owned()));
        let Some(found) = shuttle_search::search_random(run, seed, MAX_ITERATIONS) else {
            panic!(
                "shuttle did not find `{}` within {MAX_ITERATIONS} runs from seed {seed}",
                target.deviation.id(),
            );
        };
        if best.as_ref().is_none_or(|b| {
            story_length(&found, target.property) < story_length(b, target.property)
        }) {
            best = Some(found);
        }
    }
    best.expect("at least one seed")
}

/// The JSON file's contents.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterexampleFile {
    format: u32,
    protocol: String,
    variant: String,
    property: String,
    violations: Vec<Violation>,
    engine: String,
    shuttle_version: String,
    scheduler: String,
    seed: u64,
    iteration: usize,
    schedule: String,
    scenario: Scenario,
    records: Vec<Record>,
}

fn file_for(target: &Target, found: &Found<Report>) -> CounterexampleFile {
    CounterexampleFile {
        format: FORMAT,
        protocol: "election".to_owned(),
        variant: format!("impl-{}", target.deviation.id()),
        property: target.property.to_owned(),
        violations: found.report.violations.clone(),
        engine: "shuttle".to_owned(),
        shuttle_version: shuttle_search::shuttle_version(),
        scheduler: "random".to_owned(),
        seed: found.seed,
        iteration: found.iteration,
        schedule: found.schedule.clone(),
        scenario: target.scenario.clone(),
        records: found.report.records.clone(),
    }
}

fn target_dir(deviation: Deviation) -> PathBuf {
    shuttle_search::workspace_root()
        .join("counterexamples/election")
        .join(format!("impl-{}", deviation.id()))
}

fn render_json(file: &CounterexampleFile) -> String {
    let mut json = serde_json::to_string_pretty(file).expect("serialize a counterexample");
    json.push('\n');
    json
}

/// Why `no-lease-expiry` has no search: it breaks only liveness (not in `Deviation::ALL`).
const NOT_SEARCHED: &str = "no-lease-expiry breaks only liveness: shuttle does not search for it (coordlab drive reproduces it)";

fn test_name(deviation: Deviation) -> &'static str {
    match deviation {
        Deviation::NoFencing => "shuttle_finds_no_fencing",
        Deviation::NoClockMargin => "shuttle_finds_no_clock_margin",
        Deviation::CheckThenSet => "shuttle_finds_check_then_set",
        Deviation::NoLeaseExpiry => unreachable!("{NOT_SEARCHED}"),
    }
}

fn definition(property: &str) -> &'static str {
    match property {
        property::AT_MOST_ONE_LEADER => {
            "no two nodes believe, at the same real time, that they hold a valid lease. A node believes from its elector's `leads` step until it steps down or crashes, for as long as its own clock reads earlier than the time it trusts the lease until."
        }
        property::STALE_TOKEN_WRITE_REJECTED => {
            "storage never accepts a write whose token is lower than one it has already accepted."
        }
        _ => "every grant's token is higher than every token granted before.",
    }
}

fn what_the_bug_is(deviation: Deviation) -> &'static str {
    match deviation {
        Deviation::NoFencing => {
            "storage accepts every write whatever its token (`FencedStorage` with its token check switched off)"
        }
        Deviation::NoClockMargin => {
            "a leader trusts its lease for its full length on its own clock, which may run slow (`LeaderElector` without the `max_drift` margin)"
        }
        Deviation::CheckThenSet => {
            "the lease store's acquisition reads the lease, releases its lock, then writes the reader in with the token it read plus one (`InMemoryLeaseStore` without its compare-and-set)"
        }
        Deviation::NoLeaseExpiry => unreachable!("{NOT_SEARCHED}"),
    }
}

fn render_md(file: &CounterexampleFile, deviation: Deviation) -> String {
    let s = &file.scenario;
    let violation = file
        .violations
        .iter()
        .find(|v| v.property == file.property)
        .expect("a counterexample violates its property");
    let story = &file.records[..violation.step];
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# election / {}: {} violated (implementation, shuttle)\n",
        file.variant, file.property
    );
    let _ = writeln!(
        md,
        "> `{}` (the election model's definition): {}\n",
        file.property,
        definition(&file.property)
    );
    let _ = writeln!(
        md,
        "**What goes wrong, at step {}:** {}.\n",
        violation.step, violation.detail
    );
    let _ = writeln!(
        md,
        "The bug: {}. {}\n",
        what_the_bug_is(deviation),
        narrate(story)
    );
    let _ = writeln!(md, "## Reproduce\n");
    let _ = writeln!(
        md,
        "Replay the schedule below (`shuttle::replay`, via the test that replays every committed file):\n"
    );
    let _ = writeln!(
        md,
        "```sh\nRUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle --test election -- committed_counterexamples_replay\n```\n"
    );
    let _ = writeln!(
        md,
        "Find it again from scratch (and regenerate this file):\n"
    );
    let _ = writeln!(
        md,
        "```sh\nRUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle --test election -- {}\nCOORDLAB_BLESS=1 RUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle --test election -- committed_counterexamples_are_current\n```\n",
        test_name(deviation)
    );
    let _ = writeln!(
        md,
        "Found by shuttle {} (random scheduler): run {} of the search from seed {}, the shortest story among the first failing runs from seeds {}..={}.\n",
        file.shuttle_version,
        file.iteration,
        file.seed,
        SEEDS.start(),
        SEEDS.end()
    );
    let _ = writeln!(md, "## Configuration\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| bug variant | `{}` |", deviation.id());
    let _ = writeln!(
        md,
        "| nodes | {} (n0..n{}), {} rounds each: heartbeat, then write to storage if the elector says it leads |",
        s.nodes,
        s.nodes.saturating_sub(1),
        s.rounds
    );
    let _ = writeln!(
        md,
        "| lease | {}ms, renewed every {}ms on the leader's clock |",
        s.lease_ms, s.renew_every_ms
    );
    let _ = writeln!(
        md,
        "| drift bound | {}ms: a node's clock may fall this far behind real time; electors trust a lease for lease − drift |",
        s.drift_ms
    );
    let _ = writeln!(
        md,
        "| clock driver | {} ticks of {}ms |",
        s.ticks, s.tick_ms
    );
    let _ = writeln!(
        md,
        "| faults | slow clock {}‰ per node and tick; clock jump {}‰ per tick; pause before a write {}‰ (until real time moves {}ms on); crash {}‰ and resignation {}‰ per round |",
        s.slow_per_mille,
        s.jump_per_mille,
        s.pause_per_mille,
        s.pause_ms,
        s.crash_per_mille,
        s.resign_per_mille
    );
    let _ = writeln!(md);
    let _ = writeln!(md, "## Steps\n");
    let _ = writeln!(
        md,
        "The implementation's own event log, in the election model's vocabulary, up to the violation (the run goes on for {} more steps; the JSON has them all). Each step shows real time and every node's clock when it reached the log; a node reads its clock before it acts, so an event can carry an earlier reading than its step.\n",
        file.records.len() - story.len()
    );
    let _ = writeln!(md, "| # | real | {} | step |", clock_headers(s.nodes));
    let _ = writeln!(md, "|---:|---:|{}---|", "---:|".repeat(s.nodes as usize));
    let mut prev: Option<&Record> = None;
    for (i, r) in story.iter().enumerate() {
        let clocks: Vec<String> = r
            .clocks
            .iter()
            .enumerate()
            .map(|(n, c)| {
                let behind = if *c < r.real {
                    format!(" ({} behind)", r.real - c)
                } else {
                    String::new()
                };
                let changed = prev.is_none_or(|p| p.clocks[n] != *c || p.real != r.real);
                if changed {
                    format!("{c}{behind}")
                } else {
                    "·".to_owned()
                }
            })
            .collect();
        let real = if prev.is_none_or(|p| p.real != r.real) {
            format!("{}", r.real)
        } else {
            "·".to_owned()
        };
        let mark = if i + 1 == violation.step {
            " **← violation**"
        } else {
            ""
        };
        let _ = writeln!(
            md,
            "| {} | {real} | {} | {}{mark} |",
            i + 1,
            clocks.join(" | "),
            r.step
        );
        prev = Some(r);
    }
    let _ = writeln!(md, "\n(`·`: unchanged since the step above.)\n");
    let _ = writeln!(
        md,
        "**At step {}, `{}` is violated:** {}.\n",
        violation.step, file.property, violation.detail
    );
    let _ = writeln!(md, "## Sequence\n");
    let _ = writeln!(
        md,
        "```mermaid\n{}```\n",
        mermaid(s.nodes, story, violation)
    );
    let _ = writeln!(md, "## Schedule\n");
    let _ = writeln!(md, "```text\n{}\n```", file.schedule);
    md
}

fn clock_headers(nodes: u32) -> String {
    (0..nodes)
        .map(|n| format!("n{n} clock"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// One paragraph naming who paused, whose clock ran slow, who crashed, and which write or
/// grant should not have happened.
fn narrate(story: &[Record]) -> String {
    let mut slow = BTreeSet::new();
    let mut paused = BTreeSet::new();
    let mut crashed = BTreeSet::new();
    let mut facts = Vec::new();
    let mut granted: Vec<(NodeId, FencingToken)> = Vec::new();
    for r in story {
        match &r.step {
            Step::Tick { slow: s, .. } => slow.extend(s.iter().map(|n| format!("n{n}"))),
            Step::Pause { node } => {
                paused.insert(format!("n{node}"));
            }
            Step::Crash { node } => {
                crashed.insert(format!("n{node}"));
            }
            Step::Elect(Event::Granted { node, token, .. }) => {
                if let Some((other, _)) = granted.iter().find(|(_, t)| t == token) {
                    facts.push(format!(
                        "the store granted {token} twice, to {other} and to {node}"
                    ));
                }
                granted.push((*node, *token));
            }
            Step::Elect(Event::Write {
                node,
                token,
                accepted: true,
                highest: Some(h),
            }) if token < h => facts.push(format!(
                "storage accepted {node}'s write with {token} after accepting {h}"
            )),
            Step::Elect(Event::SteppedDown {
                node,
                reason: StepDownReason::LeaseUntrusted,
                ..
            }) => facts.push(format!(
                "{node} stepped down only when its own clock said so"
            )),
            _ => {}
        }
    }
    let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(" and ");
    let mut who = Vec::new();
    if !paused.is_empty() {
        who.push(format!("{} paused before sending a write", list(&paused)));
    }
    if !slow.is_empty() {
        who.push(format!("the clock of {} ran slow", list(&slow)));
    }
    if !crashed.is_empty() {
        who.push(format!("{} crashed", list(&crashed)));
    }
    if who.is_empty() {
        who.push("no node paused, crashed or ran slow: the interleaving alone does it".to_owned());
    }
    let mut text = format!("In this run, {}", who.join("; "));
    if !facts.is_empty() {
        let _ = write!(text, "; {}", facts.join("; "));
    }
    text.push('.');
    text
}

/// The story as a sequence diagram, numbered like the steps, ending with a note that states
/// the violation over the nodes and services it concerns.
fn mermaid(nodes: u32, story: &[Record], violation: &Violation) -> String {
    let store = || "lease store".to_owned();
    let storage = || "storage".to_owned();
    let clock = || "clock".to_owned();
    let mut participants = vec![store()];
    participants.extend((0..nodes).map(|n| format!("n{n}")));
    participants.extend([storage(), clock()]);
    let mut d = SequenceDiagram::new(participants);
    for (i, r) in story.iter().enumerate() {
        let arrow = match &r.step {
            Step::Elect(Event::Granted {
                node,
                token,
                expires_at,
            }) => Arrow::call(
                store(),
                node.to_string(),
                format!("granted, {token}, expires at {expires_at}"),
            ),
            Step::Elect(Event::ReadFree { node, token }) => Arrow::reply(
                store(),
                node.to_string(),
                format!("read: free (will write {token})"),
            ),
            Step::Elect(Event::Renewed {
                node,
                token,
                expires_at,
            }) => Arrow::call(
                store(),
                node.to_string(),
                format!("renewed {token} until {expires_at}"),
            ),
            Step::Elect(Event::Released { node, token }) => {
                Arrow::call(node.to_string(), store(), format!("release {token}"))
            }
            Step::Elect(Event::Leading {
                node,
                token,
                trusted_until,
                ..
            }) => Arrow::note(
                [node.to_string()],
                format!("leads with {token}, trusts until {trusted_until} on its clock"),
            ),
            Step::Elect(Event::Trusted { node, token, local }) => Arrow::note(
                [node.to_string()],
                format!("checks at {local}: trusts {token}"),
            ),
            Step::Elect(Event::SteppedDown { node, token, .. }) => {
                Arrow::note([node.to_string()], format!("steps down ({token})"))
            }
            Step::Elect(Event::Write {
                node,
                token,
                accepted,
                ..
            }) => {
                let verdict = if *accepted { "ACCEPTED" } else { "rejected" };
                Arrow::call(
                    node.to_string(),
                    storage(),
                    format!("write with {token}: {verdict}"),
                )
            }
            Step::Tick { ms, slow } => {
                let mut note = format!("real time {}ms (+{ms})", r.real);
                if !slow.is_empty() {
                    let names: Vec<String> = slow.iter().map(|n| format!("n{n}")).collect();
                    let _ = write!(note, ": {} falls a tick behind", names.join(", "));
                }
                Arrow::note([clock()], note)
            }
            Step::Pause { node } => Arrow::note([format!("n{node}")], "PAUSED"),
            Step::Resume { node } => Arrow::note([format!("n{node}")], "resumes"),
            Step::Crash { node } => Arrow::note([format!("n{node}")], "CRASH"),
            Step::Restart { node } => Arrow::note([format!("n{node}")], "restarts"),
            Step::RenewRefused { node, token } => Arrow::reply(
                store(),
                format!("n{node}"),
                format!("renewal of {token} refused"),
            ),
            Step::ReleaseRefused { node, token } => Arrow::reply(
                store(),
                format!("n{node}"),
                format!("release of {token} refused"),
            ),
        };
        d.step(i + 1, [arrow]);
    }
    d.push(Arrow::note(
        violation.parties.clone(),
        format!("{} violated: {}", violation.property, violation.detail),
    ));
    d.render()
}

fn assert_finds(deviation: Deviation) {
    let target = targets()
        .into_iter()
        .find(|t| t.deviation == deviation)
        .expect("a target per deviation");
    let found = find(&target);
    assert!(
        found.message.contains(target.property),
        "the failure names {}: {}",
        target.property,
        found.message
    );
    eprintln!(
        "shuttle found `{}` ({}); shortest story: run {} from seed {}:\n{}",
        deviation.id(),
        found.message,
        found.iteration,
        found.seed,
        render_records(&found.report.records)
    );
    // PCT finds it too, from the first seeds (depth 3: the pause, the other node's grant and
    // its write, or the slow tick, the expiry and the grant, land in order).
    for seed in 1..=3 {
        let run = checked_run(target.scenario.clone(), Some(target.property.to_owned()));
        let found = shuttle_search::search_pct(run, seed, 3, MAX_ITERATIONS)
            .unwrap_or_else(|| panic!("PCT did not find `{}` from seed {seed}", deviation.id()));
        assert!(found.message.contains(target.property), "{}", found.message);
    }
    // The correct protocol survives the very same search, from every seed: no property at all
    // is violated.
    let fixed = Scenario {
        deviation: None,
        ..target.scenario.clone()
    };
    for seed in SEEDS {
        let run = checked_run(fixed.clone(), None);
        if let Some(found) = shuttle_search::search_random(run, seed, MAX_ITERATIONS / 4) {
            panic!(
                "the correct protocol failed in run {} from seed {seed}: {}\n{}",
                found.iteration,
                found.message,
                render_records(&found.report.records)
            );
        }
    }
}

/// Shuttle finds `no-fencing`: a leader checks its lease and pauses before writing; its lease
/// runs out, another node is granted the lease and writes with a higher token, and the paused
/// leader's write with its old token is accepted. Property `StaleTokenWriteRejected`.
#[test]
fn shuttle_finds_no_fencing() {
    assert_finds(Deviation::NoFencing);
}

/// Shuttle finds `no-clock-margin`: a leader's clock runs slow, so it still trusts its lease
/// after the store let it expire and granted it to another node. Property `AtMostOneLeader`.
#[test]
fn shuttle_finds_no_clock_margin() {
    assert_finds(Deviation::NoClockMargin);
}

/// Shuttle finds `check-then-set`: two nodes read the lease free before either writes it; both
/// write themselves in and both lead. Property `AtMostOneLeader`.
#[test]
fn shuttle_finds_check_then_set() {
    assert_finds(Deviation::CheckThenSet);
}

/// The committed counterexamples are exactly what the search produces now. With
/// `COORDLAB_BLESS=1`, (re)writes them instead.
#[test]
fn committed_counterexamples_are_current() {
    for target in targets() {
        let found = find(&target);
        let file = file_for(&target, &found);
        let dir = target_dir(target.deviation);
        shuttle_search::bless_or_compare(
            &dir.join(format!("{}.json", target.property)),
            &render_json(&file),
        );
        shuttle_search::bless_or_compare(
            &dir.join(format!("{}.md", target.property)),
            &render_md(&file, target.deviation),
        );
    }
}

/// Every committed implementation counterexample replays: `shuttle::replay` of its schedule
/// reproduces the same violations and the same log.
#[test]
fn committed_counterexamples_replay() {
    let files = shuttle_search::committed_files("election", "json");
    assert!(
        files.len() >= 3,
        "expected the impl-* counterexamples, found {files:?}"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: CounterexampleFile = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: malformed counterexample: {e}", path.display()));
        assert_eq!(file.format, FORMAT, "{}: format version", path.display());
        let (message, report) = shuttle_search::replay(
            checked_run(file.scenario.clone(), Some(file.property.clone())),
            &file.schedule,
        );
        let message =
            message.unwrap_or_else(|| panic!("{}: the replay did not fail", path.display()));
        assert!(
            message.contains(&file.property),
            "{}: replay failed differently: {message}",
            path.display()
        );
        assert_eq!(
            report.violations,
            file.violations,
            "{}: the replay's violations differ",
            path.display()
        );
        assert_eq!(
            report.records,
            file.records,
            "{}: the replay's log differs",
            path.display()
        );
    }
}

/// Every committed counterexample `.json` has its `.md` twin, and the other way round.
#[test]
fn every_counterexample_has_json_and_md() {
    shuttle_search::assert_json_md_twins("election");
}
