//! "Shuttle finds each bug", and the committed counterexamples it produces.
//!
//! For each of the model's bug variants that the implementation can switch on, a search runs
//! the variant's scenario under shuttle's random scheduler from a fixed seed until a run
//! violates the property. The failing run is written to
//! `counterexamples/queue/impl-<variant>/<Property>.{json,md}`: the JSON holds the encoded
//! schedule that `shuttle::replay` takes, the seed, the shuttle version and the run's event log;
//! the Markdown renders it for a person.
//!
//! - `shuttle_finds_*`: the search finds the bug (and the fixed protocol survives the same
//!   search).
//! - `committed_counterexamples_are_current`: the committed files are byte-identical to what
//!   the search produces now. Regenerate with `COORDLAB_BLESS=1` (same command).
//! - `committed_counterexamples_replay`: every committed JSON replays with `shuttle::replay` and
//!   reproduces the same violation and the same event log.
//!
//! The search is deterministic given the seed: the harness draws all its randomness from
//! shuttle. (Setting `SHUTTLE_RANDOM_SEED` overrides the seed and so changes the output.)

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use coordlab_diagram::{Arrow, SequenceDiagram};
use coordlab_impls::queue::{Event, EventRecord, ProcessOutcome};
use serde::{Deserialize, Serialize};

use super::harness::{
    Deviation, EffectMode, Faults, Report, Retry, Scenario, Seen, Violation, property,
    render_events, run,
};
use crate::shuttle_search::{self, Found};

/// Version of the counterexample JSON layout.
const FORMAT: u32 = 1;

/// One bug variant to find.
struct Target {
    deviation: Deviation,
    property: &'static str,
    scenario: Scenario,
    /// Runs per seed before giving up.
    max_iterations: usize,
}

/// The searches run from each of these seeds and keep the failing run with the shortest event
/// log (ties: the lowest seed), so the committed trace is as short as the search can make it.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=20;

impl Target {
    fn fails_on(&self) -> FailsOn {
        FailsOn::AtEnd(self.property.to_owned())
    }
}

fn targets() -> Vec<Target> {
    vec![
        Target {
            deviation: Deviation::DeleteBeforeProcess,
            property: property::NO_MESSAGE_LOST,
            scenario: Scenario {
                deviation: Some(Deviation::DeleteBeforeProcess),
                ..search_scenario()
            },
            max_iterations: 10_000,
        },
        Target {
            deviation: Deviation::StaleReceiptDelete,
            property: property::NO_MESSAGE_LOST,
            scenario: Scenario {
                deviation: Some(Deviation::StaleReceiptDelete),
                ..search_scenario()
            },
            max_iterations: 10_000,
        },
    ]
}

/// The workload both bugs are searched in: four consumers, two messages, crashes, a clock
/// driver that makes consumers slow. Small enough that a counterexample reads in a minute.
fn search_scenario() -> Scenario {
    Scenario {
        messages: 2,
        concurrent_send: false,
        consumers: 4,
        receive_attempts: 3,
        visibility_timeout_ms: 10,
        heartbeat: false,
        clock_ticks: 4,
        tick_ms: 10,
        retry: Retry::RequeueOnExpiry,
        max_receives: None,
        faults: Faults::Random {
            crash_before_per_mille: 300,
            crash_after_per_mille: 0,
            fail_per_mille: 0,
        },
        effects: EffectMode::Fenced,
        check_effect_at_most_once: false,
        record_events: true,
        deviation: None,
    }
}

/// Which runs count as failing.
#[derive(Clone, Debug)]
enum FailsOn {
    /// Any violated property.
    AnyViolation,
    /// The property's damage seen at the end of the run (for `NoMessageLost`: a deleted message
    /// whose effect never happened). The searches ask for this, so a committed counterexample
    /// shows the loss itself and not only the step that made it possible.
    AtEnd(String),
}

impl FailsOn {
    fn pick<'r>(&self, report: &'r Report) -> Option<&'r Violation> {
        match self {
            FailsOn::AnyViolation => report.violations.first(),
            FailsOn::AtEnd(property) => report
                .violations
                .iter()
                .find(|v| &v.property == property && v.seen == Seen::AtEnd),
        }
    }
}

/// One run of `scenario` for a search: its report, and the violation if it counts as failing.
fn checked_run(
    scenario: Scenario,
    fails_on: FailsOn,
) -> impl Fn() -> (Report, Option<String>) + Send + Sync + 'static {
    move || {
        let report = run(&scenario);
        let failure = fails_on.pick(&report).map(ToString::to_string);
        (report, failure)
    }
}

/// Runs `scenario` under the random scheduler from `seed` for up to `max_iterations` runs;
/// returns the first failing run, if any.
fn search(
    scenario: &Scenario,
    fails_on: &FailsOn,
    seed: u64,
    max_iterations: usize,
) -> Option<Found<Report>> {
    shuttle_search::search_random(
        checked_run(scenario.clone(), fails_on.clone()),
        seed,
        max_iterations,
    )
}

/// As [`search`], with PCT at depth 3.
fn search_pct(
    scenario: &Scenario,
    fails_on: &FailsOn,
    seed: u64,
    max_iterations: usize,
) -> Option<Found<Report>> {
    shuttle_search::search_pct(
        checked_run(scenario.clone(), fails_on.clone()),
        seed,
        3,
        max_iterations,
    )
}

fn find(target: &Target) -> Found<Report> {
    let mut best: Option<Found<Report>> = None;
    for seed in SEEDS {
        let Some(found) = search(
            &target.scenario,
            &target.fails_on(),
            seed,
            target.max_iterations,
        ) else {
            panic!(
                "shuttle did not find `{}` within {} runs from seed {seed}",
                target.deviation.id(),
                target.max_iterations,
            );
        };
        if best
            .as_ref()
            .is_none_or(|b| found.report.events.len() < b.report.events.len())
        {
            best = Some(found);
        }
    }
    best.expect("at least one seed")
}

fn target_dir(deviation: Deviation) -> PathBuf {
    shuttle_search::workspace_root()
        .join("counterexamples/queue")
        .join(format!("impl-{}", deviation.id()))
}

/// The JSON file's contents.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
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
    events: Vec<EventRecord>,
}

fn file_for(target: &Target, found: &Found<Report>) -> CounterexampleFile {
    CounterexampleFile {
        format: FORMAT,
        protocol: "queue".to_owned(),
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
        events: found.report.events.clone(),
    }
}

fn render_json(file: &CounterexampleFile) -> String {
    let mut json = serde_json::to_string_pretty(file).expect("serialize a counterexample");
    json.push('\n');
    json
}

fn test_name(deviation: Deviation) -> &'static str {
    match deviation {
        Deviation::DeleteBeforeProcess => "shuttle_finds_delete_before_process",
        Deviation::StaleReceiptDelete => "shuttle_finds_stale_receipt_delete",
        Deviation::DuplicateNotDeleted => "shuttle_finds_duplicate_not_deleted",
    }
}

fn render_md(file: &CounterexampleFile, deviation: Deviation) -> String {
    let s = &file.scenario;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# queue / {}: {} violated (implementation, shuttle)\n",
        file.variant, file.property
    );
    let mine = |seen: fn(&Seen) -> bool| {
        file.violations
            .iter()
            .filter(|v| v.property == file.property && seen(&v.seen))
            .collect::<Vec<_>>()
    };
    let at_end = mine(|s| *s == Seen::AtEnd);
    let at_step = mine(|s| matches!(s, Seen::AtStep(_)));
    let loss = at_end
        .iter()
        .map(|v| v.detail.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let _ = write!(md, "**`{}` is violated:** {loss}.", file.property);
    let _ = writeln!(
        md,
        "\n\n`{}` (the queue model's definition): a message is deleted only after its work is done: its effect has happened and no consumer still holds its newest delivery unprocessed. The implementation checks it on the event log below at every delete, and checks for the loss itself at the end of the run. The deletes that broke it:\n",
        file.property
    );
    for v in &at_step {
        if let Seen::AtStep(n) = v.seen {
            let _ = writeln!(md, "- step {n}: {}", v.detail);
        }
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "## Reproduce\n");
    let _ = writeln!(
        md,
        "Replay the schedule below (`shuttle::replay`, via the test that replays every committed file):\n"
    );
    let _ = writeln!(
        md,
        "```sh\nRUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle --test queue -- committed_counterexamples_replay\n```\n"
    );
    let _ = writeln!(
        md,
        "Find it again from scratch (and regenerate this file):\n"
    );
    let _ = writeln!(
        md,
        "```sh\nRUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle --test queue -- {}\nCOORDLAB_BLESS=1 RUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle --test queue -- committed_counterexamples_are_current\n```\n",
        test_name(deviation)
    );
    let _ = writeln!(
        md,
        "Found by shuttle {} (random scheduler): run {} of the search from seed {}, the shortest trace among the first failing runs from seeds {}..={}.\n",
        file.shuttle_version,
        file.iteration,
        file.seed,
        SEEDS.start(),
        SEEDS.end()
    );
    let _ = writeln!(md, "## Configuration\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(
        md,
        "| bug variant | `{}`: {} |",
        deviation.id(),
        what_the_bug_is(deviation)
    );
    let _ = writeln!(
        md,
        "| consumers | {} (ids c0..c{}; c999 is the sweeper that finishes what is left after all threads stop) |",
        s.consumers,
        s.consumers.saturating_sub(1)
    );
    let _ = writeln!(
        md,
        "| messages | {} (m0..m{}) |",
        s.messages,
        s.messages.saturating_sub(1)
    );
    let _ = writeln!(
        md,
        "| receive attempts per consumer | {} |",
        s.receive_attempts
    );
    let _ = writeln!(
        md,
        "| visibility timeout | {}ms: a received message stays hidden from the other consumers this long |",
        s.visibility_timeout_ms
    );
    let _ = writeln!(
        md,
        "| clock driver | {} ticks of {}ms |",
        s.clock_ticks, s.tick_ms
    );
    let _ = writeln!(md, "| retry policy | {} |", retry_words(s.retry));
    let _ = writeln!(
        md,
        "| max receives | {} |",
        s.max_receives.map_or_else(
            || "none: no dead-letter queue".to_owned(),
            |n| format!("{n}: then the message goes to the dead-letter queue")
        )
    );
    let _ = writeln!(md, "| faults | {} |", faults_words(&s.faults));
    let _ = writeln!(
        md,
        "| effects | {} |",
        match s.effects {
            EffectMode::Fenced => {
                "fenced: a consumer claims the message with its delivery number; the store drops writes from older deliveries"
            }
            EffectMode::Idempotent => {
                "idempotent: a consumer applies the effect through a ledger keyed by message id"
            }
        }
    );
    let _ = writeln!(md);
    let _ = writeln!(md, "## Steps\n");
    let _ = writeln!(
        md,
        "The run's event log, in the queue model's vocabulary; `[t]` is queue time. Deadlines take effect at the queue's next operation, so an expiry is logged when it is noticed.\n"
    );
    for (i, e) in file.events.iter().enumerate() {
        let _ = writeln!(md, "{}. `[{}]` {}", i + 1, e.at, e.event);
    }
    let _ = writeln!(
        md,
        "\n**When the run ends, `{}` is violated:** {loss}.\n",
        file.property
    );
    let _ = writeln!(md, "## Sequence\n");
    let _ = writeln!(
        md,
        "```mermaid\n{}```\n",
        mermaid(&file.events, &file.property, &at_end)
    );
    let _ = writeln!(md, "## Schedule\n");
    let _ = writeln!(md, "```text\n{}\n```", file.schedule);
    md
}

fn what_the_bug_is(deviation: Deviation) -> &'static str {
    match deviation {
        Deviation::DeleteBeforeProcess => {
            "consumers delete a message as soon as they receive it, then process it"
        }
        Deviation::StaleReceiptDelete => {
            "the queue deletes a message given the receipt of any of its deliveries, not only the newest"
        }
        Deviation::DuplicateNotDeleted => {
            "an idempotent consumer skips a delivery whose effect its ledger already has, without deleting the message"
        }
    }
}

fn retry_words(retry: Retry) -> String {
    match retry {
        Retry::Immediate => "immediate: a message whose processing failed is visible again at once".to_owned(),
        Retry::RequeueOnExpiry => {
            "requeue on expiry: a message whose processing failed comes back when its visibility timeout runs out"
                .to_owned()
        }
        Retry::Backoff { base_ms, cap_ms } => format!(
            "exponential backoff: a message whose processing failed is hidden for {base_ms}ms × 2^(receives − 1), at most {cap_ms}ms"
        ),
    }
}

fn faults_words(faults: &Faults) -> String {
    match faults {
        Faults::None => "none".to_owned(),
        Faults::Fixed(list) => format!("{} deliveries chosen in advance meet a fault", list.len()),
        Faults::Random {
            crash_before_per_mille,
            crash_after_per_mille,
            fail_per_mille,
        } => format!(
            "each delivery, at random: the consumer crashes before processing {crash_before_per_mille}‰, crashes after processing {crash_after_per_mille}‰, fails to process {fail_per_mille}‰"
        ),
    }
}

/// The run's events as a sequence diagram, numbered like the steps, ending with a note that
/// states the violation over the components it concerns.
fn mermaid(events: &[EventRecord], property: &str, violations: &[&Violation]) -> String {
    let queue = || "queue".to_owned();
    // The producer and the queue, the consumers in id order, the clock last.
    let consumers: BTreeSet<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Receive { consumer, .. }
            | Event::Process { consumer, .. }
            | Event::Release { consumer, .. }
            | Event::Delete { consumer, .. }
            | Event::ChangeVisibility { consumer, .. }
            | Event::Reject { consumer, .. } => *consumer,
            Event::Crash { consumer, .. } => Some(*consumer),
            _ => None,
        })
        .collect();
    let mut participants = vec!["producer".to_owned(), queue()];
    participants.extend(consumers.iter().map(ToString::to_string));
    participants.push("clock".to_owned());
    let mut d = SequenceDiagram::new(participants);
    let who =
        |c: &Option<coordlab_impls::queue::ConsumerId>| c.map_or_else(queue, |c| c.to_string());
    for (i, e) in events.iter().enumerate() {
        let arrow = match &e.event {
            Event::Send { message } => Arrow::call("producer", queue(), format!("send {message}")),
            Event::Receive {
                message,
                delivery,
                consumer,
                visible_until,
            } => Arrow::call(
                queue(),
                who(consumer),
                format!("{message} delivery {delivery}, hidden until {visible_until}"),
            ),
            Event::Process {
                message,
                delivery,
                consumer,
                outcome,
            } => Arrow::note(
                [who(consumer)],
                format!(
                    "process {message} delivery {delivery}: {}",
                    match outcome {
                        ProcessOutcome::Applied => "effect applied",
                        ProcessOutcome::Duplicate => "already applied, skipped",
                        ProcessOutcome::Superseded =>
                            "write discarded, a newer delivery claimed it",
                    }
                ),
            ),
            Event::Release {
                message,
                delivery,
                consumer,
                visible_at,
            } => Arrow::call(
                who(consumer),
                queue(),
                format!("release {message} delivery {delivery}, visible at {visible_at}"),
            ),
            Event::Delete {
                message,
                delivery,
                current,
                consumer,
            } => {
                let stale = if delivery == current {
                    String::new()
                } else {
                    format!(" STALE, newest is delivery {current}")
                };
                Arrow::call(
                    who(consumer),
                    queue(),
                    format!("delete {message} delivery {delivery}{stale}"),
                )
            }
            Event::ChangeVisibility {
                message,
                delivery,
                consumer,
                visible_at,
            } => Arrow::call(
                who(consumer),
                queue(),
                format!("hide {message} delivery {delivery} until {visible_at}"),
            ),
            Event::Reject {
                operation,
                message,
                delivery,
                consumer,
                reason,
            } => Arrow::call(
                who(consumer),
                queue(),
                format!("{operation} {message} delivery {delivery} REJECTED: {reason}"),
            ),
            Event::Tick { now } => Arrow::call("clock", queue(), format!("tick to {now}")),
            Event::Expire { message, delivery } => Arrow::note(
                [queue()],
                format!("{message} delivery {delivery} deadline passes"),
            ),
            Event::MoveToDeadLetter {
                message,
                receive_count,
            } => Arrow::note(
                [queue()],
                format!("{message} to dead-letter queue after {receive_count} receives"),
            ),
            Event::Crash {
                consumer,
                message,
                delivery,
            } => Arrow::note(
                [consumer.to_string()],
                match (message, delivery) {
                    (Some(m), Some(d)) => format!("CRASH holding {m} delivery {d}"),
                    _ => "CRASH".to_owned(),
                },
            ),
        };
        d.step(i + 1, [arrow]);
    }
    for v in violations {
        d.push(Arrow::note(
            v.parties.clone(),
            format!("{property} violated at the end of the run: {}", v.detail),
        ));
    }
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
        "shuttle found `{}` ({}); shortest trace: run {} from seed {}:\n{}",
        deviation.id(),
        found.message,
        found.iteration,
        found.seed,
        render_events(&found.report.events)
    );
    // The fixed protocol survives the very same search, from every seed.
    let fixed = Scenario {
        deviation: None,
        ..target.scenario.clone()
    };
    for seed in SEEDS {
        let Some(found) = search(&fixed, &FailsOn::AnyViolation, seed, target.max_iterations)
        else {
            continue;
        };
        panic!(
            "the fixed protocol failed in run {} from seed {seed}: {}\n{}",
            found.iteration,
            found.message,
            render_events(&found.report.events)
        );
    }
}

/// Shuttle finds `delete-before-process`: a consumer deletes, then crashes before processing,
/// so the message is gone and its effect never happens. Property `NoMessageLost`.
#[test]
fn shuttle_finds_delete_before_process() {
    assert_finds(Deviation::DeleteBeforeProcess);
}

/// Shuttle finds `stale-receipt-delete`: a slow consumer's visibility timeout runs out,
/// another consumer receives and claims the message, the slow consumer's (discarded) write and
/// stale delete follow, and the delete, accepted, removes the copy the other consumer holds;
/// that consumer crashes. Property `NoMessageLost`.
#[test]
fn shuttle_finds_stale_receipt_delete() {
    assert_finds(Deviation::StaleReceiptDelete);
}

/// The committed counterexamples are exactly what the search produces now. With
/// `COORDLAB_BLESS=1`, (re)writes them instead.
#[test]
fn committed_counterexamples_are_current() {
    for target in targets() {
        let found = find(&target);
        let file = file_for(&target, &found);
        let dir = target_dir(target.deviation);
        let outputs = [
            (
                dir.join(format!("{}.json", target.property)),
                render_json(&file),
            ),
            (
                dir.join(format!("{}.md", target.property)),
                render_md(&file, target.deviation),
            ),
        ];
        for (path, contents) in outputs {
            shuttle_search::bless_or_compare(&path, &contents);
        }
    }
}

/// Every committed implementation counterexample replays: `shuttle::replay` of its schedule
/// reproduces the same violated property, the same violation and the same event log.
#[test]
fn committed_counterexamples_replay() {
    let files = shuttle_search::committed_files("queue", "json");
    assert!(
        files.len() >= 2,
        "expected the impl-* counterexamples, found {files:?}"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: CounterexampleFile = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: malformed counterexample: {e}", path.display()));
        assert_eq!(file.format, FORMAT, "{}: format version", path.display());
        let (message, report) = shuttle_search::replay(
            checked_run(file.scenario.clone(), FailsOn::AtEnd(file.property.clone())),
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
            report.events,
            file.events,
            "{}: the replay's event log differs",
            path.display()
        );
    }
}

/// Every committed counterexample `.json` has its `.md` twin, and the other way round.
#[test]
fn every_counterexample_has_json_and_md() {
    shuttle_search::assert_json_md_twins("queue");
}

/// How many runs each search needs, over 20 seeds, for the random and the PCT scheduler.
/// Informational: `cargo test ... -- --ignored --nocapture iterations_needed`.
#[test]
#[ignore]
fn iterations_needed() {
    for target in targets() {
        for scheduler in ["random", "pct"] {
            let mut needed = Vec::new();
            for seed in 1..=20u64 {
                let fails_on = target.fails_on();
                let n = match scheduler {
                    "random" => search(&target.scenario, &fails_on, seed, 100_000),
                    _ => search_pct(&target.scenario, &fails_on, seed, 100_000),
                }
                .map(|f| f.iteration);
                needed.push(n.unwrap_or(usize::MAX));
            }
            needed.sort_unstable();
            eprintln!(
                "{} {scheduler}: runs to first failure over 20 seeds: min {} median {} max {} ({needed:?})",
                target.deviation.id(),
                needed[0],
                needed[10],
                needed[19]
            );
        }
    }
}
