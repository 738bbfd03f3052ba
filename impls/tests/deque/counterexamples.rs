//! The committed loom counterexamples: for each deviation, the first execution of its
//! scenario that loom finds failing, saved as
//! `counterexamples/deque/impl-<deviation>/<Property>.{md,loom}`:
//!
//! - `.loom`: loom's checkpoint file (its execution path as JSON, loom's `checkpoint`
//!   feature). A `loom::model::Builder` given it as `checkpoint_file` starts its exploration
//!   with exactly that execution. The file is tied to the deque's exact sequence of accesses,
//!   to the scenario and to loom's version: a change to any of them must re-bless it (the
//!   replay test then fails, saying so). Not `.json`, so the CLI's trace readers do not take
//!   it for a model trace.
//! - `.md`: the execution for a person: every shared-memory access in the order loom ran them,
//!   with its thread, value and ordering, and each operation's result; the violation marked;
//!   and the same as a Mermaid sequence diagram (threads and memory), ending with the
//!   violation.
//!
//! `loom_finds_*` (in `loom_tests`) find each and compare both files with the committed ones
//! byte for byte (`COORDLAB_BLESS=1` rewrites them instead); `committed_loom_counterexamples_replay`
//! re-runs every committed checkpoint as a single execution and asserts that it fails the same
//! way and logs the same steps.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use coordlab_diagram::{Arrow, SequenceDiagram};
use coordlab_impls::deque::{Access, Deviation};

use super::harness::{
    Event, NO_TASK_LOST_OR_DUPLICATED, Report, Scenario, TAKEN_ONLY_AFTER_PUSHED, Violation, Who,
    describe, run, scenarios,
};
use super::loom_tests::{builder, executions};

/// One deviation, the scenario and bound that loom finds it in, and the property it breaks.
pub struct Target {
    pub deviation: Deviation,
    pub scenario: Scenario,
    pub preemptions: Option<usize>,
    pub property: &'static str,
    /// The test that finds it (and blesses its files).
    pub test: &'static str,
}

pub fn targets() -> Vec<Target> {
    vec![
        Target {
            deviation: Deviation::PopWithoutCas,
            scenario: scenarios::LAST_TASK_RACE,
            preemptions: None,
            property: NO_TASK_LOST_OR_DUPLICATED,
            test: "loom_finds_pop_without_cas",
        },
        Target {
            deviation: Deviation::StealReadAfterCas,
            scenario: scenarios::WRAP_AROUND_SLOW_THIEF,
            preemptions: None,
            property: NO_TASK_LOST_OR_DUPLICATED,
            test: "loom_finds_steal_read_after_cas",
        },
        Target {
            deviation: Deviation::NoRestoreAfterLostRace,
            scenario: scenarios::LOST_RACE_THEN_PUSH,
            preemptions: None,
            property: NO_TASK_LOST_OR_DUPLICATED,
            test: "loom_finds_no_restore_after_lost_race",
        },
        Target {
            deviation: Deviation::RelaxedPublish,
            scenario: scenarios::TWO_TASKS_TWO_STEALS,
            preemptions: None,
            property: TAKEN_ONLY_AFTER_PUSHED,
            test: "loom_finds_relaxed_publish",
        },
        Target {
            deviation: Deviation::NoSeqcstFence,
            scenario: scenarios::TWO_TASKS_TWO_STEALS,
            preemptions: None,
            property: NO_TASK_LOST_OR_DUPLICATED,
            test: "loom_finds_no_seqcst_fence",
        },
    ]
}

pub fn target(deviation: Deviation) -> Target {
    targets()
        .into_iter()
        .find(|t| t.deviation == deviation)
        .expect("every deviation has a target")
}

/// A failing execution.
pub struct Found {
    pub violation: Violation,
    pub report: Report,
    /// loom's checkpoint of it.
    pub checkpoint: String,
    /// Its number in the exploration (1-based).
    pub execution: u64,
}

thread_local! {
    /// The failing execution's violation and report (the model closure leaves them here
    /// before it panics).
    static FAILED: RefCell<Option<(Violation, Report)>> = const { RefCell::new(None) };
}

/// A fresh checkpoint path for this process and deviation.
fn scratch(deviation: Deviation, what: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "coordlab-deque-{}-{what}-{}.loom",
        deviation.id(),
        std::process::id()
    ))
}

/// Runs `builder` on `scenario`, leaving the first failing execution's violation and report
/// in `FAILED` and panicking with the violation. `Err(message)` if it panicked.
fn check(builder: &loom::model::Builder, scenario: Scenario) -> Result<(), String> {
    FAILED.with(|f| f.borrow_mut().take());
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        super::loom_tests::count_executions(builder, move || {
            let report = run(&scenario);
            if let Err(v) = report.check() {
                let message = v.to_string();
                FAILED.with(|f| *f.borrow_mut() = Some((v, report)));
                panic!("{message}");
            }
        });
    }));
    outcome.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Explores the target's scenario with its deviation, writing loom's checkpoint before every
/// execution, and returns the first failing one. Panics if loom finds none.
pub fn find(target: &Target) -> Found {
    let path = scratch(target.deviation, "find");
    let _ = std::fs::remove_file(&path);
    let mut builder = builder(target.preemptions);
    builder.checkpoint_file = Some(path.clone());
    builder.checkpoint_interval = 1;
    let scenario = target.scenario.with(target.deviation);
    let outcome = check(&builder, scenario);
    let execution = executions();
    let message = outcome.expect_err("loom explored every interleaving and found no violation");
    let (violation, report) = FAILED
        .with(|f| f.borrow_mut().take())
        .unwrap_or_else(|| panic!("a failure that was not a violation: {message}"));
    let checkpoint = std::fs::read_to_string(&path).expect("loom wrote its checkpoint");
    let _ = std::fs::remove_file(&path);
    eprintln!(
        "loom {}: {violation} (execution {execution})",
        target.deviation.id()
    );
    Found {
        violation,
        report,
        checkpoint,
        execution,
    }
}

/// Runs exactly the execution `checkpoint` describes; returns its violation (if it failed),
/// its report and how many executions ran.
pub fn replay(target: &Target, checkpoint: &str) -> (Option<(Violation, Report)>, u64) {
    let path = scratch(target.deviation, "replay");
    std::fs::write(&path, checkpoint).expect("write the checkpoint to a scratch file");
    let mut builder = builder(target.preemptions);
    builder.checkpoint_file = Some(path.clone());
    builder.checkpoint_interval = 1;
    // loom stops before its second execution.
    builder.max_permutations = Some(2);
    let outcome = check(&builder, target.scenario.with(target.deviation));
    let _ = std::fs::remove_file(&path);
    let failed = FAILED.with(|f| f.borrow_mut().take());
    assert_eq!(
        outcome.is_err(),
        failed.is_some(),
        "the replay panicked without a violation: {outcome:?}"
    );
    (failed, executions())
}

/// `counterexamples/deque/impl-<deviation>/<Property>` (without extension).
fn stem(target: &Target) -> PathBuf {
    crate::files::workspace_root()
        .join("counterexamples/deque")
        .join(format!("impl-{}", target.deviation.id()))
        .join(target.property)
}

/// Writes (`COORDLAB_BLESS=1`) or compares the target's two files.
pub fn bless_or_compare(target: &Target, found: &Found) {
    let stem = stem(target);
    crate::files::bless_or_compare(&stem.with_extension("loom"), &found.checkpoint);
    crate::files::bless_or_compare(
        &stem.with_extension("md"),
        &markdown(target, &found.violation, &found.report, found.execution),
    );
}

fn property_sentence(property: &str) -> &'static str {
    match property {
        NO_TASK_LOST_OR_DUPLICATED => {
            "every task whose push succeeded is taken exactly once, by a pop or a steal: none twice, none lost"
        }
        TAKEN_ONLY_AFTER_PUSHED => {
            "every task a pop or a steal returns is one whose push had completed (stored `bottom`) by then; a slot no push wrote never comes out"
        }
        other => panic!("no sentence for {other}"),
    }
}

fn bug(deviation: Deviation) -> &'static str {
    match deviation {
        Deviation::PopWithoutCas => {
            "the owner takes the last task without the compare-and-swap on `top`, as it takes any other, and leaves `bottom` where it put it"
        }
        Deviation::StealReadAfterCas => {
            "the thief claims index `t` with its CAS on `top` and only then reads slot `t mod 2`"
        }
        Deviation::NoRestoreAfterLostRace => {
            "the owner, losing the CAS for the last task, returns `None` without storing `bottom` back to `top`"
        }
        Deviation::RelaxedPublish => {
            "push stores `bottom` with `Relaxed` instead of `Release`, so seeing the new `bottom` does not make the slot written before it visible"
        }
        Deviation::NoSeqcstFence => {
            "the `fence(SeqCst)` between pop's `bottom` store and `top` load, and the one between steal's `top` and `bottom` loads, are gone"
        }
    }
}

/// The Markdown of a failing execution.
pub fn markdown(target: &Target, violation: &Violation, report: &Report, execution: u64) -> String {
    let id = target.deviation.id();
    let property = target.property;
    let ring = target.scenario.capacity.max(1).next_power_of_two();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# deque / impl-{id}: {property} violated (implementation, loom)\n"
    );
    let _ = writeln!(
        md,
        "> `{property}` (the deque model's): {}.\n",
        property_sentence(property)
    );
    let _ = writeln!(md, "**What goes wrong:** {violation}.\n");
    let _ = writeln!(
        md,
        "The bug (`{id}`): {}. {}\n",
        bug(target.deviation),
        if target.deviation.in_model() {
            "The `deque` model has the same bug variant; this is the implementation doing it under loom."
        } else {
            "It exists only at the level of the memory model (every access sequentially consistent, as the model and shuttle run them, hides it), so only loom shows it."
        }
    );
    let _ = writeln!(md, "## Reproduce\n");
    let _ = writeln!(
        md,
        "Replay exactly this execution from loom's checkpoint `{property}.loom` beside this file \
         (loom's `checkpoint` feature):\n"
    );
    let cmd = "RUSTFLAGS=\"--cfg loom\" cargo test -p coordlab-impls --release --target-dir target/loom --test deque --";
    let _ = writeln!(
        md,
        "```sh\n{cmd} committed_loom_counterexamples_replay\n```\n"
    );
    let _ = writeln!(
        md,
        "Find it again from scratch (and regenerate both files):\n"
    );
    let _ = writeln!(
        md,
        "```sh\n{cmd} {test}\nCOORDLAB_BLESS=1 {cmd} {test}\n```\n",
        test = target.test
    );
    let _ = writeln!(
        md,
        "Found by loom {} at execution {execution} of its exploration (depth-first, in loom's \
         order). The checkpoint is tied to the deque's exact sequence of accesses, to the \
         scenario and to loom's version: a change to any of them must regenerate it.\n",
        crate::files::locked_version("loom")
    );
    let _ = writeln!(md, "## Configuration\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| deviation | `{id}` |");
    let _ = writeln!(md, "| scenario | {} |", target.scenario.describe());
    let _ = writeln!(
        md,
        "| ring | {ring} slots: index `i` lives in slot `i mod {ring}` |"
    );
    let _ = writeln!(
        md,
        "| tasks | `usize` ids from 1; every slot starts as word 0 |"
    );
    let _ = writeln!(
        md,
        "| preemption bound | {} |",
        match target.preemptions {
            Some(n) => n.to_string(),
            None => "none (exhaustive)".to_owned(),
        }
    );
    let _ = writeln!(md);
    let _ = writeln!(md, "## Steps\n");
    let _ = writeln!(
        md,
        "Every shared-memory access of the deque, in the order loom ran them (each thread's \
         accesses through its handle's recording hook), and each operation's result in \
         italics. A load's value is the one loom chose for it among those the memory model \
         allows, so a load may return an older store than the last one listed above it (the \
         list is the order the threads ran in, not the order their stores became visible); \
         `top` and `bottom` are unmasked indices.\n"
    );
    let _ = writeln!(md, "| # | thread | access | value | ordering |");
    let _ = writeln!(md, "|---:|---|---|---|---|");
    for (i, step) in report.steps.iter().enumerate() {
        let n = i + 1;
        let (access, value, ordering) = describe(step.event);
        let access = if ordering.is_empty() {
            format!("*{access}*")
        } else {
            access
        };
        let mark = if violation.step == Some(n) {
            " **← violation**"
        } else {
            ""
        };
        let _ = writeln!(
            md,
            "| {n} | {} | {access}{mark} | {value} | {ordering} |",
            step.who
        );
    }
    let _ = writeln!(md);
    if violation.step.is_none() {
        let _ = writeln!(
            md,
            "**At the end of the run, `{property}` is violated:** {}.",
            violation.message
        );
    } else {
        let _ = writeln!(
            md,
            "**At step {}, `{property}` is violated:** {}.",
            violation.step.unwrap_or_default(),
            violation.message
        );
    }
    let _ = writeln!(md, "\n## Sequence\n");
    let _ = write!(
        md,
        "```mermaid\n{}```\n",
        mermaid(target.scenario, violation, report)
    );
    md
}

/// The steps as a sequence diagram: each access an arrow from its thread to `memory`, each
/// fence and result a note over its thread, numbered like the steps, ending with a note that
/// states the violation.
fn mermaid(scenario: Scenario, violation: &Violation, report: &Report) -> String {
    let memory = || "memory".to_owned();
    let mut participants = vec![Who::Owner.to_string()];
    participants.extend((0..scenario.thieves.len()).map(|i| Who::Thief(i).to_string()));
    participants.push(memory());
    let mut d = SequenceDiagram::new(participants);
    for (i, step) in report.steps.iter().enumerate() {
        let who = step.who.to_string();
        let (access, value, ordering) = describe(step.event);
        let plain = |s: &str| s.replace('`', "");
        let arrow = match step.event {
            Event::Access(Access::Fence { .. }) => Arrow::note([who], format!("fence {ordering}")),
            Event::Access(_) => Arrow::call(
                who,
                memory(),
                format!("{} {} ({ordering})", plain(&access), plain(&value)),
            ),
            _ => Arrow::note([who], plain(&access)),
        };
        d.step(i + 1, [arrow]);
    }
    d.push(Arrow::note(
        Vec::<String>::new(),
        format!("{} violated: {}", violation.property, violation.message),
    ));
    d.render()
}

/// Asserts the committed loom counterexamples are exactly the targets' (one directory each,
/// `<Property>.md` and `<Property>.loom` and nothing else).
fn assert_committed_files_are_the_targets() {
    let root = crate::files::workspace_root().join("counterexamples/deque");
    let mut committed = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("impl-") {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            committed.push(file.strip_prefix(&root).unwrap().to_path_buf());
        }
    }
    committed.sort();
    let mut expected: Vec<PathBuf> = targets()
        .iter()
        .flat_map(|t| {
            let stem = stem(t);
            let stem = stem.strip_prefix(&root).unwrap().to_path_buf();
            [stem.with_extension("loom"), stem.with_extension("md")]
        })
        .collect();
    expected.sort();
    assert_eq!(committed, expected, "counterexamples/deque/impl-*");
}

/// Every committed loom counterexample replays: loom, started from the committed checkpoint,
/// runs one execution, and it fails with the same violation and logs the same steps (its
/// Markdown is byte-identical to the committed one). A change to the deque's accesses, to the
/// scenario or to loom makes this fail; regenerate with the `loom_finds_*` tests and
/// `COORDLAB_BLESS=1`.
#[test]
fn committed_loom_counterexamples_replay() {
    assert_committed_files_are_the_targets();
    for target in targets() {
        let stem = stem(&target);
        let checkpoint = std::fs::read_to_string(stem.with_extension("loom"))
            .unwrap_or_else(|e| panic!("{}: {e}", stem.display()));
        let committed_md = std::fs::read_to_string(stem.with_extension("md")).unwrap();
        let (failed, ran) = replay(&target, &checkpoint);
        let (violation, report) = failed.unwrap_or_else(|| {
            panic!(
                "{}: the committed execution no longer fails; regenerate with COORDLAB_BLESS=1 \
                 and `{}`",
                target.deviation.id(),
                target.test
            )
        });
        assert_eq!(
            ran,
            1,
            "{}: loom ran more than the committed execution",
            target.deviation.id()
        );
        assert_eq!(
            violation.property,
            target.property,
            "{}",
            target.deviation.id()
        );
        // The execution number is the exploration's, not the replay's: take it from the file.
        let execution: u64 = committed_md
            .split("at execution ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("the committed Markdown names its execution");
        assert!(
            markdown(&target, &violation, &report, execution) == committed_md,
            "{}: the replayed execution logs other steps than the committed {}",
            target.deviation.id(),
            stem.with_extension("md").display()
        );
    }
}
