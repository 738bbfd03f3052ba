//! Model behaviours driven against the implementations (`coordlab_checks::drive`): every
//! committed model counterexample reproduces its violation on the implementation with the
//! matching deviation and is refused by the correct one, at a step the test names; seeded
//! random walks of the correct model are followed step for step by the correct
//! implementation; `coordlab drive` exits 0, 1 and 2 as documented.

use std::path::PathBuf;

use coordlab_checks::drive::{
    self, election::ElectionDriver, queue::QueueDriver, raft::RaftDriver, stealing::StealingDriver,
};
use coordlab_checks::trace::{TraceFile, Typed};
use coordlab_checks::{manifest, registry};
use coordlab_models::queue::QueueModel;

#[path = "support/run.rs"]
mod run;
use run::root;

/// Every committed model counterexample of `protocol`, labelled checks' included (not the
/// `impl-*` shuttle schedules).
fn traces(protocol: &str) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("impl-")
                {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let dir = root().join("counterexamples").join(protocol);
    let mut out = Vec::new();
    walk(&dir, &mut out);
    out.sort();
    assert!(
        !out.is_empty(),
        "no committed counterexamples under {}",
        dir.display()
    );
    out
}

/// Drives every committed counterexample of `protocol`; returns the reports that are not as
/// expected.
fn drive_all<D: drive::Driver>(protocol: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for path in traces(protocol) {
        let file: TraceFile =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let typed = Typed::<D::Model>::decode(&file, &file.variant).unwrap();
        let report = drive::counterexample::<D>(&file, &typed).unwrap();
        println!("{}\n{report}\n", path.display());
        if !report.as_expected() {
            failures.push(format!("{}:\n{report}", path.display()));
        }
    }
    failures
}

/// With its deviation, every queue counterexample's property fails on the queue's own
/// states; the correct queue (and its consumers' discipline) stops it exactly at the first
/// step the correct model does not take alike.
#[test]
fn every_queue_counterexample_reproduces_with_its_deviation_and_is_refused_without() {
    let failures = drive_all::<QueueDriver>("queue");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same for election: the store's check-then-set, storage without fencing, an elector
/// without a clock margin and a store whose leases never expire reproduce their violations;
/// the correct parts refuse the step the bug needs (the separate read, the stale write) or,
/// where the correct model takes every step too (a leader's trust in its lease, the clock's
/// fairness), take them all without the violation.
#[test]
fn every_election_counterexample_reproduces_with_its_deviation_and_is_refused_without() {
    let failures = drive_all::<ElectionDriver>("election");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same for the pool: each of the five pool bugs reproduces on the stepped pool with its
/// deviation; the correct pool refuses the step the bug needs (a placement on a full queue,
/// a park without a second look, an idle worker that does not steal, a placement by stale
/// loads) or departs from the trace there (the last searcher wakes the sleeper).
#[test]
fn every_stealing_counterexample_reproduces_with_its_deviation_and_is_refused_without() {
    let failures = drive_all::<StealingDriver>("stealing");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same for Raft, on the core in raft.tla's profile: `figure8-commit`, `forget-voted-for`,
/// `no-up-to-date-check` and `truncate-without-conflict` reproduce with their deviations;
/// the correct core refuses the old-term commit (at the answer that would allow it), keeps
/// its vote across the restart, refuses the vote, keeps its entries. The correct protocol's
/// own lassos (split votes under weak fairness, leader churn) are followed by the correct
/// core too, whose property fails the same way.
#[test]
fn every_raft_counterexample_reproduces_with_its_deviation_and_is_refused_without() {
    let failures = drive_all::<RaftDriver>("raft");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Walks per correct check of the manifests, and their depth.
const WALKS: u64 = 2_000;
const DEPTH: usize = 60;

/// Random walks of every correct check of `protocol` in the manifests, driven against the
/// correct implementation: every step is taken and every state agrees with the model's.
fn walk_every_correct_check<D: drive::Driver>(protocol: &str) {
    let checks: Vec<_> = manifest::load(None)
        .unwrap()
        .into_iter()
        .filter(|c| c.protocol == protocol && c.variant == "correct")
        .collect();
    assert!(
        !checks.is_empty(),
        "the manifests hold no correct {protocol} check"
    );
    let mut total = 0;
    for check in &checks {
        let model: D::Model = registry::model("correct", &check.bounds).unwrap();
        let walks = drive::walks::<D>(&model, 0..WALKS, DEPTH).unwrap();
        println!(
            "{}: {} walks, {} steps",
            check.id(),
            walks.walks,
            walks.steps
        );
        if let Some((seed, outcome)) = &walks.failure {
            panic!("{}: walk {seed} left the model: {outcome}", check.id());
        }
        assert_eq!(walks.walks, WALKS);
        // Walks that stop at once prove nothing: most steps must have been taken.
        assert!(
            walks.steps > WALKS * 5,
            "{}: only {} steps",
            check.id(),
            walks.steps
        );
        total += walks.steps;
    }
    println!("{} checks, {total} steps", checks.len());
}

/// Every correct queue check (each retry policy, heartbeats and pauses, several messages and
/// consumers) against the correct queue.
#[test]
fn random_walks_of_the_correct_queue_model_are_followed_by_the_queue() {
    walk_every_correct_check::<QueueDriver>("queue");
}

/// Every correct election check (slow clocks, pauses, crashes and restarts) against the
/// correct store, electors and storage.
#[test]
fn random_walks_of_the_correct_election_model_are_followed_by_the_election() {
    walk_every_correct_check::<ElectionDriver>("election");
}

/// Every correct pool check (both placements, submit and try_submit, three workers) against
/// the stepped pool.
#[test]
fn random_walks_of_the_correct_stealing_model_are_followed_by_the_pool() {
    walk_every_correct_check::<StealingDriver>("stealing");
}

/// Every correct Raft check (three servers; restarts, drops and duplicates; any-time and
/// timely timeouts; randomized-timeout fairness) against the correct core: every step of the
/// model — each message handler on the state the walk reached — is taken by the core with
/// the same next state.
#[test]
fn random_walks_of_the_correct_raft_model_are_followed_by_the_core() {
    walk_every_correct_check::<RaftDriver>("raft");
}

/// Every deviation of the implementations is a bug variant of its protocol's model, under
/// the same id: what `coordlab drive` and the counterexample directories rely on.
#[test]
fn every_implementation_deviation_is_a_model_variant() {
    use coordlab_models::Protocol;
    use coordlab_models::election::ElectionModel;
    for d in coordlab_impls::queue::Deviation::ALL {
        QueueModel::new(d.id(), Default::default())
            .unwrap_or_else(|e| panic!("queue deviation {d:?}: {e}"));
    }
    let election = coordlab_impls::election::Deviation::ALL
        .into_iter()
        .chain(coordlab_impls::election::Deviation::LIVENESS);
    for d in election {
        ElectionModel::new(d.id(), Default::default())
            .unwrap_or_else(|e| panic!("election deviation {d:?}: {e}"));
    }
    for d in coordlab_impls::raft::Deviation::ALL {
        coordlab_models::raft::RaftModel::new(d.id(), Default::default())
            .unwrap_or_else(|e| panic!("raft deviation {d:?}: {e}"));
    }
    for d in coordlab_impls::pool::Deviation::ALL {
        coordlab_models::stealing::StealingModel::new(d.id(), Default::default())
            .unwrap_or_else(|e| panic!("pool deviation {d:?}: {e}"));
    }
}

/// `coordlab drive` from the command line: 0 as expected, with the step the correct queue
/// stops at and what stopped it; 1 for a trace whose choice the queue does not make (a walk
/// found by `coordlab simulate queue/duplicate-not-deleted --seed 39` receives m1 while m0
/// has been visible longer); 2 with one line naming the file for what is not a model trace
/// it can drive.
#[test]
fn coordlab_drive_exits_0_1_and_2() {
    let ok = run::coordlab(&[
        "drive",
        "counterexamples/queue/stale-receipt-delete/NoMessageLost.json",
    ]);
    let text = String::from_utf8(ok.stdout).unwrap();
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.contains("step 7 (consumer 0 deletes m0 with a stale receipt")
            && text.contains("refused by the queue: receipt ")
            && text.contains("is stale: m0 has since been received again (delivery #2)"),
        "{text}"
    );

    let choice = run::coordlab(&["drive", "checks/tests/drive/receive-order.json"]);
    let text = String::from_utf8(choice.stdout).unwrap();
    assert_eq!(choice.status.code(), Some(1), "{text}");
    assert!(
        text.contains("its receive delivers m0 (visible longest) where the model receives m1")
            && text.ends_with("NOT as expected\n"),
        "{text}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let edited = scratch.path().join("edited.json");
    let committed = std::fs::read_to_string(
        root().join("counterexamples/queue/stale-receipt-delete/NoMessageLost.json"),
    )
    .unwrap();
    // The same steps claimed for the correct variant: they do not replay there.
    std::fs::write(
        &edited,
        committed.replace(
            "\"variant\": \"stale-receipt-delete\"",
            "\"variant\": \"correct\"",
        ),
    )
    .unwrap();
    let edited = edited.to_str().unwrap();
    for (args, fault) in [
        (
            vec![
                "drive",
                "counterexamples/queue/stale-receipt-delete/NoMessageLost.md",
            ],
            "the Markdown rendering of a trace",
        ),
        (
            vec![
                "drive",
                "counterexamples/queue/impl-stale-receipt-delete/NoMessageLost.json",
            ],
            "a shuttle schedule of the implementation",
        ),
        (
            vec!["drive", edited],
            "does not reproduce on its own model (queue/correct)",
        ),
        (vec!["drive", "no-such-file.json"], "cannot read"),
    ] {
        let o = run::coordlab(&args);
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(args[1]) && err.contains(fault),
            "{args:?}: {err}"
        );
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}
