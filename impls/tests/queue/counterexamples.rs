//! "Shuttle finds each bug", and the committed counterexamples it produces.
//!
//! For each of the model's bug variants that the implementation can show, a search runs the
//! variant's workload under shuttle's random scheduler from fixed seeds until a run violates
//! the property. The variants are the implementation's deviations (`delete-before-process`,
//! `stale-receipt-delete`) and `no-idempotency`, which is the consumers writing their effects
//! without the idempotency ledger (fenced writes only). The failing run is written to
//! `counterexamples/queue/impl-<variant>/<Property>.{json,md}`: the JSON holds the encoded
//! schedule that `shuttle::replay` takes, the seed, the shuttle version and the run's event log;
//! the Markdown renders it for a person.
//!
//! - `shuttle_finds_*`: the search finds the bug, exactly the violation the test names (the
//!   seeds are fixed), and the fixed workload survives the same search from every seed. These
//!   are the property checks; the committed files below are drift alarms, which any change to
//!   the harness's or the queue's locking trips.
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
    Conformance, Deviation, EffectMode, Faults, Report, Retry, Scenario, Seen, Violation, property,
    render_events, run,
};
use crate::shuttle_search::{self, Found};

/// Version of the counterexample JSON layout.
const FORMAT: u32 = 1;

/// One bug variant to find.
struct Target {
    /// The model's variant id; the files go to `counterexamples/queue/impl-<variant>/`.
    variant: &'static str,
    /// What the bug is, in one phrase (the Markdown's configuration table).
    bug: &'static str,
    /// The test that finds it.
    test: &'static str,
    property: &'static str,
    /// The workload with the bug switched on.
    scenario: Scenario,
    /// The same workload, fixed: it must survive the same search from every seed.
    fixed: Scenario,
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

    /// A target whose bug is a [`Deviation`] (the fixed workload switches it off).
    fn deviation(deviation: Deviation, property: &'static str, test: &'static str) -> Target {
        let scenario = Scenario {
            deviation: Some(deviation),
            ..search_scenario()
        };
        Target {
            variant: deviation.id(),
            bug: what_the_bug_is(deviation),
            test,
            property,
            fixed: Scenario {
                deviation: None,
                ..scenario.clone()
            },
            scenario,
            max_iterations: 10_000,
        }
    }
}

fn targets() -> Vec<Target> {
    vec![
        Target::deviation(
            Deviation::DeleteBeforeProcess,
            property::NO_MESSAGE_LOST,
            "shuttle_finds_delete_before_process",
        ),
        Target::deviation(
            Deviation::StaleReceiptDelete,
            property::NO_MESSAGE_LOST,
            "shuttle_finds_stale_receipt_delete",
        ),
        // The model's `no-idempotency`: consumers write their effects without the ledger
        // (fenced writes only), and the fixed consumers go through it.
        Target {
            variant: "no-idempotency",
            bug: "consumers apply the effect without the idempotency ledger (fenced writes only: the store drops a write from a delivery older than the newest claim, but not one that lands first)",
            test: "shuttle_finds_duplicate_effect_without_ledger",
            property: property::EFFECT_AT_MOST_ONCE,
            scenario: Scenario {
                effects: EffectMode::Fenced,
                check_effect_at_most_once: true,
                ..search_scenario()
            },
            fixed: Scenario {
                effects: EffectMode::Idempotent,
                check_effect_at_most_once: true,
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
                target.variant, target.max_iterations,
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

fn target_dir(target: &Target) -> PathBuf {
    shuttle_search::workspace_root()
        .join("counterexamples/queue")
        .join(format!("impl-{}", target.variant))
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
        variant: format!("impl-{}", target.variant),
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

/// What the property means and how the run checks it, and the steps that broke it where the
/// check is made step by step.
fn property_words(file: &CounterexampleFile, at_step: &[&Violation]) -> String {
    let mut out = String::new();
    if file.property == property::EFFECT_AT_MOST_ONCE {
        let _ = writeln!(
            out,
            "\n\n`{}` (the queue model's definition): each message's effect is applied at most once, however often it is delivered. The implementation counts, at the end of the run, how many times the store applied each message's effect.\n",
            file.property
        );
        return out;
    }
    let _ = writeln!(
        out,
        "\n\n`{}` (the queue model's definition): a message is deleted only after its work is done: its effect has happened and no consumer still holds its newest delivery unprocessed. The implementation checks it on the event log below at every delete, and checks for the loss itself at the end of the run. The deletes that broke it:\n",
        file.property
    );
    for v in at_step {
        if let Seen::AtStep(n) = v.seen {
            let _ = writeln!(out, "- step {n}: {}", v.detail);
        }
    }
    let _ = writeln!(out);
    out
}

fn render_md(file: &CounterexampleFile, target: &Target) -> String {
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
    md.push_str(&property_words(file, &at_step));
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
        target.test
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
    let _ = writeln!(md, "| bug variant | `{}`: {} |", target.variant, target.bug);
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

/// Searches for `variant`'s bug from every seed and asserts that the shortest failing run
/// violates its property exactly as `expected` says (the seeds are fixed, so the run found is
/// always the same: the committed counterexample); then runs the fixed workload through the
/// same search, from every seed, and asserts that no run violates anything.
fn assert_finds(variant: &str, expected: &str) {
    let target = targets()
        .into_iter()
        .find(|t| t.variant == variant)
        .expect("a target per variant");
    let found = find(&target);
    eprintln!(
        "shuttle found `{variant}` ({}); shortest trace: run {} from seed {}:\n{}",
        found.message,
        found.iteration,
        found.seed,
        render_events(&found.report.events)
    );
    assert_eq!(
        found.message,
        format!(
            "{} violated at the end of the run: {expected}",
            target.property
        ),
        "the violation found"
    );
    // The run found is a behaviour of the bug variant's model (else `ConformsToModel` would
    // have failed it) and leaves `correct` at the step where the bug acts.
    if target.scenario.deviation.is_some() {
        let left = match &found.report.conformance {
            Conformance::Conforms {
                leaves_correct_at: Some(step),
            } => *step,
            other => {
                panic!("the run found should leave queue/correct where its bug acts: {other:?}")
            }
        };
        eprintln!(
            "it leaves queue/correct at step {left}: {}",
            found.report.events[left - 1]
        );
    }
    for seed in SEEDS {
        let Some(found) = search(
            &target.fixed,
            &FailsOn::AnyViolation,
            seed,
            target.max_iterations,
        ) else {
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
    assert_finds(
        "delete-before-process",
        "m0 was deleted, but its effect never happened and it is not in the dead-letter queue",
    );
}

/// Shuttle finds `stale-receipt-delete`: a slow consumer's visibility timeout runs out,
/// another consumer receives and claims the message, the slow consumer's (discarded) write and
/// stale delete follow, and the delete, accepted, removes the copy the other consumer holds;
/// that consumer crashes. Property `NoMessageLost`.
#[test]
fn shuttle_finds_stale_receipt_delete() {
    assert_finds(
        "stale-receipt-delete",
        "m0 was deleted, but its effect never happened and it is not in the dead-letter queue",
    );
}

/// Without the idempotency ledger (fenced writes only), shuttle finds a run in which a slow
/// consumer's effect and its message's redelivery's effect both happen: `EffectAtMostOnce`
/// needs the ledger (the model's `no-idempotency` variant). The same workload with the ledger
/// survives the same search from every seed.
#[test]
fn shuttle_finds_duplicate_effect_without_ledger() {
    assert_finds("no-idempotency", "m0's effect happened 2 times");
}

/// The committed counterexamples are exactly what the search produces now. With
/// `COORDLAB_BLESS=1`, (re)writes them instead.
#[test]
fn committed_counterexamples_are_current() {
    for target in targets() {
        let found = find(&target);
        let file = file_for(&target, &found);
        let dir = target_dir(&target);
        let outputs = [
            (
                dir.join(format!("{}.json", target.property)),
                render_json(&file),
            ),
            (
                dir.join(format!("{}.md", target.property)),
                render_md(&file, &target),
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
    assert_eq!(
        files.len(),
        targets().len(),
        "one committed counterexample per target: {files:?}"
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
