//! "Shuttle finds each bug", and the committed counterexamples it produces.
//!
//! For each of the `stealing` model's bug variants, a search runs the shuttle workload
//! (`shuttle_tests::scenario`) with the matching [`Deviation`] from fixed seeds until a run
//! violates the variant's property; the fixed workload must survive the same search from
//! every seed. The shortest failing run is written to
//! `counterexamples/stealing/impl-<variant>/<Property>.{json,md}` (the schedule
//! `shuttle::replay` takes, the seed, the shuttle version, the run's event log in the model's
//! vocabulary), and the tests check that the committed files are current and replay.
//! Regenerate with `COORDLAB_BLESS=1`.
//!
//! `no-last-searcher-wakeup` is not among them: its counterexample needs the last searcher
//! to stall in the very task it took while the next task waits on its queue and every other
//! worker sleeps, and neither the random scheduler (20,000 runs, the stall on the first or
//! the second-to-last task) nor PCT (depth 3, 20,000 runs) met that in this workload. `model.rs` drives the model's counterexample step by step on a
//! `SteppedPool` instead, with and without the deviation.

use std::fmt::Write as _;

use coordlab_diagram::{Arrow, SequenceDiagram};
use coordlab_impls::pool::{Deviation, Event, Placement};

use super::harness::{Mode, Report, Scenario, property, run};
use super::shuttle_tests::scenario;
use crate::impl_counterexamples::{
    self as ce, CounterexampleFile, ImplProtocol, Scheduler, Target,
};

struct Stealing;

impl ImplProtocol for Stealing {
    const ID: &'static str = "stealing";
    const TEST_BINARY: &'static str = "pool";
    type Scenario = Scenario;
    type Event = Event;
    type Report = Report;

    fn run(scenario: &Scenario) -> Report {
        run(scenario)
    }

    fn violation_of(report: &Report, property: &str) -> Option<String> {
        report.violation(property).map(ToString::to_string)
    }

    fn any_violation(report: &Report) -> Option<String> {
        report.violations.first().map(ToString::to_string)
    }

    fn events(report: &Report) -> &[Event] {
        &report.events
    }

    fn render_md(file: &CounterexampleFile<Stealing>, target: &Target<Stealing>) -> String {
        render_md(file, target)
    }
}

/// The searches' seeds.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=5;

fn target(
    deviation: Deviation,
    property: &'static str,
    test: &'static str,
    placement: Placement,
    producers: Vec<Mode>,
    scheduler: Scheduler,
    bug: &'static str,
) -> Target<Stealing> {
    let fixed = scenario(placement, producers);
    Target {
        variant: deviation.id(),
        bug,
        test,
        property,
        scenario: Scenario {
            deviation: Some(deviation),
            ..fixed.clone()
        },
        fixed,
        scheduler,
        seeds: SEEDS,
        max_iterations: 5_000,
        fixed_seeds: SEEDS,
        fixed_iterations: 300,
    }
}

fn targets() -> Vec<Target<Stealing>> {
    vec![
        target(
            Deviation::RoundRobinToStalledWorker,
            property::EVENTUALLY_RUNS,
            "shuttle_finds_round_robin_to_stalled_worker",
            Placement::RoundRobin,
            vec![Mode::Blocking],
            Scheduler::Random,
            "idle workers look only into their own queue: tasks placed on a stalled worker wait for it",
        ),
        target(
            Deviation::LostWakeup,
            property::EVENTUALLY_RUNS,
            "shuttle_finds_lost_wakeup",
            Placement::RoundRobin,
            vec![Mode::Blocking],
            Scheduler::Random,
            "a worker that found no work parks at once, without registering as a sleeper and checking again",
        ),
        target(
            Deviation::NoBackpressure,
            property::WITHIN_CAPACITY,
            "shuttle_finds_no_backpressure",
            Placement::RoundRobin,
            vec![Mode::Blocking, Mode::Blocking],
            Scheduler::Pct { depth: 3 },
            "the producer places a task whatever the length of the target queue",
        ),
        target(
            Deviation::StaleLoadInfo,
            property::BOUNDED_IMBALANCE,
            "shuttle_finds_stale_load_info",
            Placement::LeastLoaded,
            vec![Mode::Blocking],
            Scheduler::Random,
            "least-loaded placement chooses by the lengths it believed at its previous placement, never seeing a take",
        ),
    ]
}

fn assert_finds(variant: &str) {
    let target = targets()
        .into_iter()
        .find(|t| t.variant == variant)
        .expect("a target per variant");
    let found = ce::assert_finds(&target);
    eprintln!(
        "shuttle found `{variant}` ({}); shortest trace: run {} from seed {}:\n{}",
        found.message,
        found.iteration,
        found.seed,
        super::harness::render_events(&found.report.events)
    );
    assert!(
        found
            .message
            .starts_with(&format!("{} violated", target.property)),
        "{}",
        found.message
    );
}

/// Without stealing, a stalled worker's queue is never drained: the tasks round-robin placed
/// on it wait forever (the watchdog sees nothing move). `EveryTaskEventuallyRuns`.
#[test]
fn shuttle_finds_round_robin_to_stalled_worker() {
    assert_finds("round-robin-to-stalled-worker");
}

/// A worker that parks without registering and checking again sleeps through the task a
/// producer placed while it still counted as searching (tokio #1768). `EveryTaskEventuallyRuns`.
#[test]
fn shuttle_finds_lost_wakeup() {
    assert_finds("lost-wakeup");
}

/// Without backpressure a queue grows past its capacity (replayed on the log).
/// `QueueWithinCapacity`.
#[test]
fn shuttle_finds_no_backpressure() {
    assert_finds("no-backpressure");
}

/// Least-loaded placement on stale lengths joins a longer queue (replayed on the log).
/// `BoundedImbalance`.
#[test]
fn shuttle_finds_stale_load_info() {
    assert_finds("stale-load-info");
}

/// The committed counterexamples are exactly what the searches produce now. With
/// `COORDLAB_BLESS=1`, (re)writes them instead.
#[test]
fn committed_counterexamples_are_current() {
    ce::assert_committed_current(&targets());
}

/// Every committed counterexample replays: `shuttle::replay` of its schedule reproduces the
/// same violation and the same event log.
#[test]
fn committed_counterexamples_replay() {
    ce::assert_committed_replay(&targets());
}

fn mode_words(mode: Mode) -> &'static str {
    match mode {
        Mode::Blocking => "`submit` (waits for room)",
        Mode::Try => "`try_submit` (a refused task is dropped; the producer tries a new one)",
        Mode::Mixed => "alternately `submit` and `try_submit`",
    }
}

fn render_md(file: &CounterexampleFile<Stealing>, target: &Target<Stealing>) -> String {
    let s = &file.scenario;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# stealing / {}: {} violated (implementation, shuttle)\n",
        file.variant, file.property
    );
    let _ = writeln!(md, "**{}.**\n", file.violation);
    md.push_str(&ce::reproduce_section(target));
    let _ = writeln!(
        md,
        "Found by shuttle {} ({}): run {} of the search from seed {}, the shortest event log among the first failing runs from seeds {}..={}.\n",
        file.shuttle_version,
        match file.scheduler {
            Scheduler::Random => "random scheduler".to_owned(),
            Scheduler::Pct { depth } => format!("PCT scheduler, depth {depth}"),
        },
        file.iteration,
        file.seed,
        target.seeds.start(),
        target.seeds.end()
    );
    let _ = writeln!(md, "## Configuration\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| bug variant | `{}`: {} |", target.variant, target.bug);
    let _ = writeln!(
        md,
        "| workers | {} (worker 0 … worker {}) |",
        s.workers,
        s.workers - 1
    );
    let _ = writeln!(md, "| capacity | {} tasks per worker queue |", s.capacity);
    let _ = writeln!(
        md,
        "| placement | {} |",
        match s.placement {
            Placement::RoundRobin => "round-robin: the next worker in turn",
            Placement::LeastLoaded => "least-loaded: a shortest queue, the lowest index on a tie",
        }
    );
    for (p, &mode) in s.producers.iter().enumerate() {
        let _ = writeln!(
            md,
            "| producer {p} | {} tasks by {} |",
            s.tasks,
            mode_words(mode)
        );
    }
    if let Some(i) = s.stall {
        let _ = writeln!(
            md,
            "| stall | producer 0's task number {i} (counting from 0) blocks its worker until every other accepted task has run |"
        );
    }
    let _ = writeln!(
        md,
        "| watchdog | the test thread gives up after {} polls without a task accepted or finished, then shuts the pool down |",
        s.patience
    );
    let _ = writeln!(md, "\n## Steps\n");
    let _ = writeln!(
        md,
        "The pool's event log, in the `stealing` model's vocabulary (tasks are numbered in acceptance order):\n"
    );
    for (i, e) in file.events.iter().enumerate() {
        let _ = writeln!(md, "{}. {e}", i + 1);
    }
    let detail = violation_detail(file);
    let _ = writeln!(md, "\n**`{}` is violated:** {detail}.\n", file.property);
    let _ = writeln!(md, "## Sequence diagram\n");
    let _ = writeln!(md, "```mermaid\n{}```\n", mermaid(file, &detail));
    let _ = writeln!(md, "## Schedule\n");
    let _ = writeln!(md, "```text\n{}\n```", file.schedule);
    md
}

/// The violation without its leading `<Property> violated: `.
fn violation_detail(file: &CounterexampleFile<Stealing>) -> String {
    let prefix = format!("{} violated: ", file.property);
    file.violation
        .strip_prefix(&prefix)
        .unwrap_or(&file.violation)
        .to_owned()
}

/// The event log as a sequence diagram in the model's pictures (`models/src/stealing.rs`,
/// `arrows`): placements and wake-ups as arrows from the producer, steals between workers,
/// every other step a note over its worker; numbered like the steps, ending with a note that
/// states the violation.
fn mermaid(file: &CounterexampleFile<Stealing>, detail: &str) -> String {
    let worker = |w: usize| format!("Worker {w}");
    let producer = || "Producer".to_owned();
    let mut participants = vec![producer()];
    participants.extend((0..file.scenario.workers).map(worker));
    let mut d = SequenceDiagram::new(participants);
    for (i, e) in file.events.iter().enumerate() {
        let arrows = match *e {
            Event::Submit { task, worker: w } => {
                vec![Arrow::call(producer(), worker(w), format!("queue t{task}"))]
            }
            Event::Block { worker: w } => vec![Arrow::note(
                [producer()],
                format!("worker {w}'s queue full: waits"),
            )],
            Event::Refuse { worker: w } => vec![Arrow::note(
                [producer()],
                format!("try_submit: worker {w}'s queue full"),
            )],
            Event::Notify { woke: Some(w), .. } => {
                vec![Arrow::call(producer(), worker(w), "unpark")]
            }
            Event::Notify { woke: None, .. } => vec![Arrow::note([producer()], "wakes nobody")],
            Event::Take { worker: w, task } => {
                vec![Arrow::note([worker(w)], format!("takes t{task}"))]
            }
            Event::Steal {
                worker: w,
                victim,
                task,
            } => vec![
                Arrow::call(worker(w), worker(victim), "steal"),
                Arrow::reply(worker(victim), worker(w), format!("t{task}")),
            ],
            Event::StopSearching {
                worker: w,
                woke: Some(o),
            } => vec![Arrow::call(worker(w), worker(o), "unpark")],
            Event::StopSearching { worker: w, .. } => {
                vec![Arrow::note([worker(w)], "stops searching")]
            }
            Event::Finish { worker: w, task } => {
                vec![Arrow::note([worker(w)], format!("t{task} done"))]
            }
            Event::Search { worker: w } => vec![Arrow::note([worker(w)], "no work")],
            Event::Register { worker: w } => {
                vec![Arrow::note([worker(w)], "registers as sleeper")]
            }
            Event::Recheck {
                worker: w,
                found: true,
            } => vec![Arrow::note([worker(w)], "re-checks: work")],
            Event::Recheck { worker: w, .. } => {
                vec![Arrow::note([worker(w)], "re-checks: none, parks")]
            }
            Event::Park { worker: w } => vec![Arrow::note([worker(w)], "parks")],
        };
        d.step(i + 1, arrows);
    }
    d.push(Arrow::note(
        Vec::<String>::new(),
        format!("{} violated: {detail}", file.property),
    ));
    d.render()
}
