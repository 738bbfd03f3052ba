//! Implementation counterexamples found by shuttle, for any protocol (`#[path]`-included next
//! to `shuttle_search.rs`): search a bug's workload from fixed seeds, keep the shortest
//! failing run, check that the fixed workload survives the same search, write or compare the
//! committed `counterexamples/<protocol>/impl-<variant>/<Property>.{json,md}`, and replay
//! every committed file. A protocol supplies only what is its own through [`ImplProtocol`]:
//! its scenario, its run, its event log and its Markdown.
//!
//! (The queue's and the election's suites predate this module and keep their own copies.)

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::shuttle_search::{self, Found};

/// Version of the counterexample JSON layout written here.
pub const FORMAT: u32 = 1;

/// What a protocol's test suite supplies.
pub trait ImplProtocol: 'static {
    /// The protocol id (the directory under `counterexamples/`).
    const ID: &'static str;
    /// The integration test binary (`cargo test --test <this>`).
    const TEST_BINARY: &'static str;
    type Scenario: Clone + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync;
    type Event: Clone + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned;
    type Report: 'static;

    /// Runs the scenario once.
    fn run(scenario: &Self::Scenario) -> Self::Report;
    /// The violation of `property` this run shows, in words, if any.
    fn violation_of(report: &Self::Report, property: &str) -> Option<String>;
    /// Any violation this run shows.
    fn any_violation(report: &Self::Report) -> Option<String>;
    /// The run's event log.
    fn events(report: &Self::Report) -> &[Self::Event];
    /// The committed counterexample for a person.
    fn render_md(file: &CounterexampleFile<Self>, target: &Target<Self>) -> String
    where
        Self: Sized;
}

/// Which shuttle scheduler a search uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduler {
    Random,
    Pct { depth: usize },
}

/// One bug to find.
pub struct Target<P: ImplProtocol> {
    /// The model's variant id; files go to `counterexamples/<protocol>/impl-<variant>/`.
    pub variant: &'static str,
    /// What the bug is, in one phrase.
    pub bug: &'static str,
    /// The test that finds it.
    pub test: &'static str,
    pub property: &'static str,
    /// The workload with the bug switched on.
    pub scenario: P::Scenario,
    /// The same workload, fixed: it must survive the same search from every seed.
    pub fixed: P::Scenario,
    pub scheduler: Scheduler,
    /// The seeds searched; the shortest failing run (ties: the lowest seed) is kept.
    pub seeds: std::ops::RangeInclusive<u64>,
    /// Runs per seed before giving up.
    pub max_iterations: usize,
    /// The seeds the fixed workload is searched from.
    pub fixed_seeds: std::ops::RangeInclusive<u64>,
    /// Runs per seed of the fixed workload.
    pub fixed_iterations: usize,
}

/// The JSON file's contents.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct CounterexampleFile<P: ImplProtocol> {
    pub format: u32,
    pub protocol: String,
    pub variant: String,
    pub property: String,
    /// The failure, as the run reports it.
    pub violation: String,
    pub engine: String,
    pub shuttle_version: String,
    pub scheduler: Scheduler,
    pub seed: u64,
    pub iteration: usize,
    pub schedule: String,
    pub scenario: P::Scenario,
    pub events: Vec<P::Event>,
}

fn checked_run<P: ImplProtocol>(
    scenario: P::Scenario,
    property: Option<&'static str>,
) -> impl Fn() -> (P::Report, Option<String>) + Send + Sync + 'static {
    move || {
        let report = P::run(&scenario);
        let failure = match property {
            Some(p) => P::violation_of(&report, p),
            None => P::any_violation(&report),
        };
        (report, failure)
    }
}

fn search<P: ImplProtocol>(
    scenario: &P::Scenario,
    property: Option<&'static str>,
    scheduler: Scheduler,
    seed: u64,
    max_iterations: usize,
) -> Option<Found<P::Report>> {
    let run = checked_run::<P>(scenario.clone(), property);
    match scheduler {
        Scheduler::Random => shuttle_search::search_random(run, seed, max_iterations),
        Scheduler::Pct { depth } => shuttle_search::search_pct(run, seed, depth, max_iterations),
    }
}

/// The shortest failing run of `target` over its seeds; panics if a seed finds nothing.
pub fn find<P: ImplProtocol>(target: &Target<P>) -> Found<P::Report> {
    let mut best: Option<Found<P::Report>> = None;
    for seed in target.seeds.clone() {
        let Some(found) = search::<P>(
            &target.scenario,
            Some(target.property),
            target.scheduler,
            seed,
            target.max_iterations,
        ) else {
            panic!(
                "shuttle did not find `{}` within {} runs from seed {seed}",
                target.variant, target.max_iterations,
            );
        };
        if best
            .as_ref()
            .is_none_or(|b| P::events(&found.report).len() < P::events(&b.report).len())
        {
            best = Some(found);
        }
    }
    best.expect("at least one seed")
}

/// Finds `target`'s bug (see [`find`]) and returns the run; then runs the fixed workload
/// through the same search from every seed and panics if any run violates anything.
pub fn assert_finds<P: ImplProtocol>(target: &Target<P>) -> Found<P::Report> {
    let found = find(target);
    for seed in target.fixed_seeds.clone() {
        if let Some(bad) = search::<P>(
            &target.fixed,
            None,
            target.scheduler,
            seed,
            target.fixed_iterations,
        ) {
            panic!(
                "the fixed protocol failed in run {} from seed {seed}: {}",
                bad.iteration, bad.message
            );
        }
    }
    found
}

fn target_dir<P: ImplProtocol>(variant: &str) -> PathBuf {
    shuttle_search::workspace_root()
        .join("counterexamples")
        .join(P::ID)
        .join(format!("impl-{variant}"))
}

/// The file for `target`'s run `found`.
pub fn file_for<P: ImplProtocol>(
    target: &Target<P>,
    found: &Found<P::Report>,
) -> CounterexampleFile<P> {
    CounterexampleFile {
        format: FORMAT,
        protocol: P::ID.to_owned(),
        variant: format!("impl-{}", target.variant),
        property: target.property.to_owned(),
        violation: found.message.clone(),
        engine: "shuttle".to_owned(),
        shuttle_version: shuttle_search::shuttle_version(),
        scheduler: target.scheduler,
        seed: found.seed,
        iteration: found.iteration,
        schedule: found.schedule.clone(),
        scenario: target.scenario.clone(),
        events: P::events(&found.report).to_vec(),
    }
}

fn render_json<P: ImplProtocol>(file: &CounterexampleFile<P>) -> String {
    let mut json = serde_json::to_string_pretty(file).expect("serialize a counterexample");
    json.push('\n');
    json
}

/// The commands that replay a committed file and find it again, for the Markdown.
pub fn reproduce_section<P: ImplProtocol>(target: &Target<P>) -> String {
    let cmd = format!(
        "RUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle --test {}",
        P::TEST_BINARY
    );
    format!(
        "## Reproduce\n\nReplay the schedule below (`shuttle::replay`, via the test that replays every committed file):\n\n```sh\n{cmd} -- committed_counterexamples_replay\n```\n\nFind it again from scratch (and regenerate this file):\n\n```sh\n{cmd} -- {test}\nCOORDLAB_BLESS=1 {cmd} -- committed_counterexamples_are_current\n```\n\n",
        test = target.test
    )
}

/// Each target's committed files are exactly what its search produces now; with
/// `COORDLAB_BLESS=1`, (re)writes them instead.
pub fn assert_committed_current<P: ImplProtocol>(targets: &[Target<P>]) {
    for target in targets {
        let found = find(target);
        let file = file_for(target, &found);
        let dir = target_dir::<P>(target.variant);
        shuttle_search::bless_or_compare(
            &dir.join(format!("{}.json", target.property)),
            &render_json(&file),
        );
        shuttle_search::bless_or_compare(
            &dir.join(format!("{}.md", target.property)),
            &P::render_md(&file, target),
        );
    }
}

/// Every committed file of the protocol replays: `shuttle::replay` of its schedule fails
/// with the same violation and produces the same event log. One file per target.
pub fn assert_committed_replay<P: ImplProtocol>(targets: &[Target<P>]) {
    let files = shuttle_search::committed_files(P::ID, "json");
    assert_eq!(
        files.len(),
        targets.len(),
        "one committed counterexample per target: {files:?}"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: CounterexampleFile<P> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: malformed counterexample: {e}", path.display()));
        assert_eq!(file.format, FORMAT, "{}: format version", path.display());
        let property = targets
            .iter()
            .find(|t| format!("impl-{}", t.variant) == file.variant && t.property == file.property)
            .unwrap_or_else(|| panic!("{}: no target for it", path.display()))
            .property;
        let (message, report) = shuttle_search::replay(
            checked_run::<P>(file.scenario.clone(), Some(property)),
            &file.schedule,
        );
        let message =
            message.unwrap_or_else(|| panic!("{}: the replay did not fail", path.display()));
        assert_eq!(
            message,
            file.violation,
            "{}: replay failed differently",
            path.display()
        );
        assert_eq!(
            P::events(&report),
            &file.events[..],
            "{}: the replay's event log differs",
            path.display()
        );
    }
    shuttle_search::assert_json_md_twins(P::ID);
}
