//! The `coordlab` command line, end to end: the verdicts of the suite, the committed
//! counterexamples (regenerated and replayed), exit codes, and bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/run.rs"]
mod run;
use run::{coordlab, coordlab_in, root};

/// How many properties the queue model has (each check of it reports them all).
fn queue_props() -> usize {
    use coordlab_models::Protocol;
    coordlab_models::queue::QueueModel::props().len()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit code 2 with exactly one line on stderr containing `needle`.
fn assert_bad_input(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stderr: {err}\nstdout: {}",
        stdout(o)
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Every file below `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(base).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// The committed model counterexamples (the `impl-*` folders hold shuttle schedules of the
/// implementations, checked by the impls crate's own tests).
fn committed_model_traces() -> BTreeMap<PathBuf, Vec<u8>> {
    files(&root().join("counterexamples"))
        .into_iter()
        .filter(|(p, _)| {
            !p.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with("impl-"))
        })
        .collect()
}

fn write_manifest(dir: &Path, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("queue.toml"), text).unwrap();
}

const EXPECT_CORRECT: &str = "expect = { NoMessageLost = \"holds\", DeadLetterOnlyAfterMaxReceives = \"holds\", DeadLetterOnlyAfterFailures = \"holds\", EffectAtMostOnce = \"holds\", HeartbeatKeepsDelivery = \"holds\", EveryMessageResolved = \"pending\", MessageRedelivered = \"holds\", MessageDeadLettered = \"holds\", ProcessedMessageDeadLettered = \"holds\", MessageDeleted = \"holds\", VisibilityExtended = \"violated\", HeartbeatOvertaken = \"violated\" }";

/// A scratch directory laid out like a checkout: the committed manifests under
/// `checks/manifests/`, nothing else.
fn scratch_checkout() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("checks/manifests");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(root().join("checks/manifests")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    tmp
}

/// The default suite passes, writes exactly the committed counterexamples, byte for byte
/// (their commands included: run where the committed ones were, with the default
/// `--out`), and the same bytes on one thread as on two.
#[test]
fn suite_passes_and_regenerates_the_committed_counterexamples() {
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let tmp = scratch_checkout();
        let o = coordlab_in(tmp.path(), &["check", "--threads", threads]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        assert!(
            stdout(&o).contains("every verdict as expected"),
            "{}",
            stdout(&o)
        );
        assert!(stderr(&o).is_empty(), "{}", stderr(&o));
        outputs.push(files(&tmp.path().join("counterexamples")));
    }
    assert_eq!(
        outputs[0], outputs[1],
        "counterexamples differ between 1 and 2 threads"
    );
    let committed = committed_model_traces();
    let generated = &outputs[0];
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(generated),
        "committed counterexamples differ from the generated set: run `cargo run --release -- check` and commit counterexamples/"
    );
    for (path, bytes) in generated {
        assert!(
            committed[path] == *bytes,
            "counterexamples/{} is stale: run `cargo run --release -- check` and commit it",
            path.display()
        );
    }
}

/// `coordlab check FILTER --json` into a fresh directory; must exit 0.
fn check_json(filter: &str) -> serde_json::Value {
    let out = tempfile::tempdir().unwrap();
    let o = coordlab(&[
        "check",
        filter,
        "--json",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The verdict of `prop` in check `check` of a `--json` report.
fn verdict_in(report: &serde_json::Value, check: &str, prop: &str) -> String {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == check)
        .unwrap();
    let p = c["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["property"] == prop)
        .unwrap();
    p["verdict"].as_str().unwrap().to_string()
}

/// Each bug variant is caught by the property it breaks, and the correct variant holds
/// them all.
#[test]
fn each_bug_variant_is_caught_by_its_property() {
    let report = check_json("queue");
    let verdict = |check: &str, prop: &str| verdict_in(&report, check, prop);
    for (variant, prop) in [
        ("delete-before-process", "NoMessageLost"),
        ("stale-receipt-delete", "NoMessageLost"),
        ("no-idempotency", "EffectAtMostOnce"),
        ("duplicate-not-deleted", "DeadLetterOnlyAfterFailures"),
        ("heartbeat-stops", "HeartbeatKeepsDelivery"),
        ("no-idempotency[heartbeats]", "EffectAtMostOnce"),
    ] {
        assert_eq!(
            verdict(&format!("queue/{variant}"), prop),
            "violated",
            "{variant}"
        );
        assert_eq!(verdict("queue/correct", prop), "holds", "correct");
        assert_eq!(
            verdict("queue/correct[heartbeats]", prop),
            "holds",
            "correct with heartbeats"
        );
    }
    assert_eq!(
        verdict("queue/no-dead-letter", "MessageDeadLettered"),
        "violated"
    );
    assert_eq!(verdict("queue/correct", "MessageDeadLettered"), "holds");
    // The poison message cycles forever without a redrive policy: a liveness violation
    // that only a cycle can show.
    assert_eq!(
        verdict("queue/no-dead-letter", "EveryMessageResolved"),
        "violated"
    );
    for check in [
        "queue/correct",
        "queue/correct[immediate-retry]",
        "queue/correct[requeue-on-expiry]",
    ] {
        assert_eq!(verdict(check, "EveryMessageResolved"), "holds", "{check}");
    }
    // Election: each bug breaks the property it is meant to; correct holds everything,
    // liveness included, at two and three nodes.
    let election = check_json("election");
    let verdict = |check: &str, prop: &str| verdict_in(&election, check, prop);
    for (variant, prop) in [
        ("no-fencing", "StaleTokenWriteRejected"),
        ("no-clock-margin", "AtMostOneLeader"),
        ("check-then-set", "AtMostOneLeader"),
        ("check-then-set", "FencingTokensMonotonic"),
    ] {
        assert_eq!(
            verdict(&format!("election/{variant}"), prop),
            "violated",
            "{variant}"
        );
        assert_eq!(verdict("election/correct", prop), "holds");
        assert_eq!(verdict("election/correct[three-nodes]", prop), "holds");
    }
    for prop in ["LeaderEventuallyElected", "CrashedLeaderReplaced"] {
        assert_eq!(verdict("election/correct", prop), "holds");
        assert_eq!(verdict("election/correct[three-nodes]", prop), "holds");
    }
    // A lock without a timeout: a crashed holder is never replaced (a liveness violation).
    assert_eq!(
        verdict("election/no-lease-expiry", "CrashedLeaderReplaced"),
        "violated"
    );
}

#[test]
fn every_committed_counterexample_replays() {
    let traces: Vec<PathBuf> = committed_model_traces()
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert!(
        traces.len() >= 3,
        "expected the queue counterexamples, found {traces:?}"
    );
    for t in traces {
        let path = Path::new("counterexamples").join(&t);
        let o = coordlab(&["replay", path.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}{}",
            t.display(),
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).starts_with("reproduced"), "{}", stdout(&o));
    }
}

const STALE: &str = "counterexamples/queue/stale-receipt-delete/NoMessageLost.json";

/// Every committed counterexample, model and implementation, safety trace and lasso, ends
/// by stating its violation in its property's terms: in the steps, and as the last element
/// of its sequence diagram, a note over the parts it concerns.
#[test]
fn every_counterexample_states_its_violation_last() {
    let mds: Vec<(PathBuf, String)> = files(&root().join("counterexamples"))
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "md"))
        .map(|(p, bytes)| (p, String::from_utf8(bytes).unwrap()))
        .collect();
    assert!(
        mds.len() >= 13,
        "expected every model and implementation counterexample, found {}",
        mds.len()
    );
    for (path, md) in mds {
        let property = path.file_stem().unwrap().to_string_lossy().into_owned();
        let (steps, diagram) = md
            .split_once("```mermaid\n")
            .unwrap_or_else(|| panic!("{}: no sequence diagram", path.display()));
        let steps = steps
            .split_once("## Steps")
            .unwrap_or_else(|| panic!("{}: no steps", path.display()))
            .1;
        assert!(
            steps.contains(&format!("`{property}` is violated:**")),
            "{}: the steps do not end with the violation",
            path.display()
        );
        let diagram = diagram.split("```").next().unwrap();
        // As drawn: the breaks coordlab-diagram makes in long lines are spaces in the text.
        let last = diagram
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .replace("<br/>", " ");
        assert!(
            last.starts_with("    Note over ") && last.contains(&format!(": {property} violated")),
            "{}: the diagram ends with `{last}`",
            path.display()
        );
    }
}

/// The split-brain trace shows the split brain: the old leader still trusting its lease
/// beside the new one, in the steps and as the diagram's last note over both; and the
/// margin this variant does not use is not shown as if it applied.
#[test]
fn the_split_brain_trace_shows_both_leaders() {
    let md = std::fs::read_to_string(
        root().join("counterexamples/election/no-clock-margin/AtMostOneLeader.md"),
    )
    .unwrap();
    assert!(
        md.contains("| margin | 1 | not used by this variant: a leader trusts its lease until its own clock says it has run out |"),
        "{md}"
    );
    let after = md
        .split_once("**`AtMostOneLeader` is violated:** ")
        .unwrap_or_else(|| panic!("no violation after the last step: {md}"))
        .1;
    assert!(
        after.starts_with("two leaders at once: node 0 with token 1 (its clock, 1 tick slow, says 1 tick left) and node 1 with token 2 (its clock says 3 ticks left).\n"),
        "{after}"
    );
    assert!(
        after.contains(
            "   - node 0: leader with token 1; its clock says 1 tick left (trusts its lease)\n"
        ),
        "{after}"
    );
    assert!(
        after.contains(
            "   - node 1: leader with token 2; its clock says 3 ticks left (trusts its lease)\n"
        ),
        "{after}"
    );
    assert!(
        md.replace("<br/>", " ").contains("    Note over Node0,Node1: AtMostOneLeader violated: two leaders at once: node 0 with token 1 (its clock, 1 tick slow, says 1 tick left) and node 1 with token 2 (its clock says 3 ticks left)\n```"),
        "{md}"
    );
}

/// The fixed protocol does not allow the bug's behaviour: replayed on `correct`, the
/// stale-receipt trace diverges at the step where the broker would have deleted.
#[test]
fn a_bug_trace_does_not_reproduce_on_the_correct_variant() {
    let o = coordlab(&["replay", STALE, "--on", "queue/correct"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("not reproduced on queue/correct: step 7"),
        "{out}"
    );
}

#[test]
fn truncated_trace_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(STALE)).unwrap();
    let cut = tmp.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let o = coordlab(&["replay", cut.to_str().unwrap()]);
    assert_bad_input(&o, "cut.json: malformed trace: EOF while parsing");
    let o = coordlab(&["show", cut.to_str().unwrap()]);
    assert_bad_input(&o, "cut.json: malformed trace");
}

#[test]
fn trace_faults_are_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(STALE)).unwrap()).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: [(&str, Edit, &str); 5] = [
        (
            "proto.json",
            Box::new(|v| v["protocol"] = "paxos".into()),
            "unknown protocol `paxos`",
        ),
        (
            "variant.json",
            Box::new(|v| v["variant"] = "sloppy".into()),
            "unknown variant `queue/sloppy`",
        ),
        (
            "prop.json",
            Box::new(|v| v["property"] = "Nope".into()),
            "unknown property `Nope`",
        ),
        (
            "format.json",
            Box::new(|v| v["format"] = 99.into()),
            "format 99 is not supported",
        ),
        (
            "state.json",
            Box::new(|v| v["steps"][2]["state"]["ledger"] = "x".into()),
            "step 2",
        ),
    ];
    for (name, edit, needle) in cases {
        let mut v = original.clone();
        edit(&mut v);
        let path = tmp.path().join(name);
        std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
        let o = coordlab(&["replay", path.to_str().unwrap()]);
        assert_bad_input(&o, needle);
    }
    // A trace filed under another variant's folder.
    let wrong = tmp
        .path()
        .join("counterexamples/queue/correct/NoMessageLost.json");
    std::fs::create_dir_all(wrong.parent().unwrap()).unwrap();
    std::fs::copy(root().join(STALE), &wrong).unwrap();
    let o = coordlab(&["replay", wrong.to_str().unwrap()]);
    assert_bad_input(
        &o,
        "the trace is for queue/stale-receipt-delete but is filed under queue/correct",
    );
    // Replayed on another protocol.
    let o = coordlab(&["replay", STALE, "--on", "raft/correct"]);
    assert_bad_input(&o, "the trace is for protocol `queue`, not `raft`");
    let o = coordlab(&[
        "replay",
        "counterexamples/queue/impl-stale-receipt-delete/NoMessageLost.json",
    ]);
    assert_bad_input(
        &o,
        "a shuttle schedule of the implementation, not a model trace",
    );
    let o = coordlab(&["replay", "no/such/file.json"]);
    assert_bad_input(&o, "no/such/file.json: cannot read");
}

#[test]
fn unknown_protocol_or_variant_is_bad_usage() {
    assert_bad_input(
        &coordlab(&["check", "paxos"]),
        "unknown protocol `paxos` (known: queue, election, deque, stealing, raft)",
    );
    assert_bad_input(
        &coordlab(&["check", "queue/sloppy"]),
        "unknown variant `queue/sloppy`",
    );
    assert_bad_input(
        &coordlab(&["explore", "queue/sloppy"]),
        "unknown variant `queue/sloppy`",
    );
    assert_bad_input(&coordlab(&["check", "--shard", "3/2"]), "--shard `3/2`");
}

#[test]
fn malformed_manifests_are_bad_input_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let d = dir.to_str().unwrap();
    let cases = [
        (
            "protocol = \"queue\"\n[[check]\nvariant = 1\n",
            "queue.toml: line 2, column",
        ),
        (
            "protocol = \"paxos\"\n[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nexpect = {}\n",
            "unknown protocol `paxos`",
        ),
        (
            "protocol = \"queue\"\n[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nexpect = { NoMessageLost = \"holds\" }\n",
            "no expectation for property `DeadLetterOnlyAfterMaxReceives`",
        ),
        (
            "protocol = \"queue\"\n[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nbounds = { consumers = 0 }\nexpect = {}\n",
            "consumers must be 1..=8",
        ),
        (
            "protocol = \"queue\"\n[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nbounds = { consumer = 2 }\nexpect = {}\n",
            "unknown field `consumer`",
        ),
        (
            "protocol = \"queue\"\n[[check]]\nvariant = \"correct\"\nchecker = \"dfs-please\"\nexpect = {}\n",
            "dfs-please",
        ),
        (
            "protocol = \"queue\"\n[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nexpect = { NoMessageLost = \"holds\", DeadLetterOnlyAfterMaxReceives = \"holds\", DeadLetterOnlyAfterFailures = \"holds\", EffectAtMostOnce = \"holds\", HeartbeatKeepsDelivery = \"holds\", EveryMessageResolved = \"holds\", MessageRedelivered = \"holds\", MessageDeadLettered = \"holds\", ProcessedMessageDeadLettered = \"holds\", MessageDeleted = \"holds\", VisibilityExtended = \"violated\", HeartbeatOvertaken = \"violated\" }\n",
            "`EveryMessageResolved` is a liveness property (eventually): name its checker with `liveness = \"fair-cycles\"`",
        ),
    ];
    for (text, needle) in cases {
        write_manifest(&dir, text);
        assert_bad_input(&coordlab(&["check", "--manifests", d]), needle);
        assert!(stderr(&coordlab(&["check", "--manifests", d])).contains("queue.toml"));
    }
}

/// CI must go red when a known bug stops being caught, when the fixed protocol breaks, and
/// when the state space drifts from its pinned size.
#[test]
fn mismatches_exit_1_and_say_what_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let d = dir.to_str().unwrap();
    let out = tmp.path().join("out");
    let o_ = out.to_str().unwrap();

    // A bug variant expected to hold: the checker finds the violation anyway.
    let text = format!(
        "protocol = \"queue\"\n[[check]]\nvariant = \"stale-receipt-delete\"\nchecker = \"bfs\"\nbounds = {{ messages = 1 }}\n{EXPECT_CORRECT}\n"
    );
    write_manifest(&dir, &text);
    let o = coordlab(&["check", "--manifests", d, "--out", o_]);
    assert_eq!(o.status.code(), Some(1));
    let s = stdout(&o);
    assert!(
        s.contains("queue/stale-receipt-delete: NoMessageLost expected holds, found violated"),
        "{s}"
    );
    assert!(s.contains("MISMATCH"), "{s}");
    assert!(
        out.join("queue/stale-receipt-delete/NoMessageLost.md")
            .exists()
    );

    // The correct variant expected to violate: the checker finds no counterexample.
    let text = text
        .replace("stale-receipt-delete", "correct")
        .replace("NoMessageLost = \"holds\"", "NoMessageLost = \"violated\"");
    write_manifest(&dir, &text);
    let o = coordlab(&["check", "--manifests", d, "--out", o_]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("queue/correct: NoMessageLost expected violated, found holds"),
        "{}",
        stdout(&o)
    );

    // A pinned state count that no longer matches.
    let text = format!(
        "protocol = \"queue\"\n[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nunique-states = 7\nbounds = {{ messages = 1 }}\n{EXPECT_CORRECT}\n"
    );
    write_manifest(&dir, &text);
    let o = coordlab(&["check", "--manifests", d, "--out", o_]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("the manifest pins 7"), "{}", stdout(&o));

    // Out of budget is a failure, not a pass.
    let o = coordlab(&[
        "check",
        "queue/correct",
        "--timeout",
        "0.000001",
        "--out",
        o_,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("the safety search ran out of its budget"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn list_shows_the_variants_and_properties() {
    let o = coordlab(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let s = stdout(&o);
    for v in [
        "correct",
        "delete-before-process",
        "no-idempotency",
        "stale-receipt-delete",
        "no-dead-letter",
    ] {
        assert!(s.contains(&format!("    {v} ")), "{v} missing:\n{s}");
    }
    for p in [
        "NoMessageLost",
        "DeadLetterOnlyAfterMaxReceives",
        "EffectAtMostOnce",
        "EveryMessageResolved",
        "MessageRedelivered",
        "MessageDeadLettered",
        "MessageDeleted",
    ] {
        assert!(s.contains(p), "{p} missing:\n{s}");
    }
}

#[test]
fn show_renders_every_format() {
    let md = coordlab(&["show", STALE, "--format", "markdown"]);
    assert_eq!(md.status.code(), Some(0));
    let committed = std::fs::read_to_string(root().join(STALE.replace(".json", ".md"))).unwrap();
    assert_eq!(
        stdout(&md),
        committed,
        "show --format markdown differs from the committed .md"
    );
    let mermaid = stdout(&coordlab(&["show", STALE, "--format", "mermaid"]));
    assert!(mermaid.starts_with("sequenceDiagram\n"), "{mermaid}");
    assert!(
        mermaid.contains("Consumer0->>Broker: 7. delete m0 (stale receipt)"),
        "{mermaid}"
    );
    let text = stdout(&coordlab(&["show", STALE]));
    assert!(
        text.contains(
            "7. consumer 0 deletes m0 with a stale receipt: the broker deletes it anyway"
        ),
        "{text}"
    );
    let json = stdout(&coordlab(&["show", STALE, "--format", "json"]));
    assert_eq!(json, std::fs::read_to_string(root().join(STALE)).unwrap());
}

#[test]
fn reports_json_junit_and_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let junit = tmp.path().join("reports/junit.xml");
    let o = coordlab(&[
        "check",
        "queue/no-idempotency",
        "--json",
        "--junit",
        junit.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["checks"][0]["id"], "queue/no-idempotency");
    assert_eq!(report["checks"][0]["passed"], true);
    assert_eq!(report["checks"][0]["failures"], serde_json::json!([]));
    assert_eq!(report["checks"][0]["config"]["consumers"], 3);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"queue/no-idempotency\""),
        "{xml}"
    );
    assert!(xml.contains("EffectAtMostOnce"), "{xml}");

    // Two shards split the suite: together they run every check, each once.
    let ids = |shard: &str| -> Vec<String> {
        let o = coordlab(&[
            "check",
            "--shard",
            shard,
            "--json",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (ids("1/2"), ids("2/2"));
    let all = ids("1/1");
    assert!(!a.is_empty() && !b.is_empty());
    assert!(a.iter().all(|x| !b.contains(x)), "{a:?} {b:?}");
    let mut union = [a, b].concat();
    union.sort();
    let mut all_sorted = all.clone();
    all_sorted.sort();
    assert_eq!(union, all_sorted);
}

const LASSO: &str = "counterexamples/queue/no-dead-letter/EveryMessageResolved.json";

/// The poison-message lasso replays; cut short it does not, nor on the correct variant.
#[test]
fn the_liveness_lasso_replays_and_a_broken_one_does_not() {
    let o = coordlab(&["replay", LASSO]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let md = std::fs::read_to_string(root().join(LASSO.replace(".json", ".md"))).unwrap();
    assert!(md.contains("repeat forever"), "{md}");
    // What repeats, why it never ends, and why that is fair, in plain words.
    assert!(
        md.contains("Steps 1–5 lead into a loop: steps 6–10 bring the system back to exactly the state it had after step 5"),
        "{md}"
    );
    assert!(
        md.contains("Each round: one tick passes → consumer 0 fails to process m0 and releases it"),
        "{md}"
    );
    assert!(
        md.contains("- every round of the loop has steps by the clock and by consumer 0;"),
        "{md}"
    );
    assert!(
        md.contains(
            "- the producer and the dead-letter redrive never have anything to do in the loop;"
        ),
        "{md}"
    );
    // The receive count is exact where it is shown: two receives read "2", not "2 or more".
    assert!(
        md.contains("m0.receives: 1 → 2 (the model counts no higher)"),
        "{md}"
    );
    assert!(!md.contains("or more"), "{md}");
    assert!(
        md.contains("| max-receives | 2 | not used by this variant: it has no dead-letter queue |"),
        "{md}"
    );
    // Drop the last step: the cycle no longer returns to its first state.
    let text = std::fs::read_to_string(root().join(LASSO)).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["steps"].as_array_mut().unwrap().pop();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    let o = coordlab(&["replay", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("does not return to the state of step"),
        "{}",
        stdout(&o)
    );
    // On the correct variant the poison message goes to the dead-letter queue instead.
    let o = coordlab(&["replay", LASSO, "--on", "queue/correct"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

/// A running `coordlab explore TARGET --port 0`, stopped when dropped.
struct Explorer {
    child: std::process::Child,
    /// `127.0.0.1:PORT`, as printed.
    address: String,
}

impl Explorer {
    fn start(target: &str) -> Self {
        Self::start_with(&[target])
    }

    /// `coordlab explore ARGS... --port 0`.
    fn start_with(args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_coordlab"))
            .arg("explore")
            .args(args)
            .args(["--port", "0"])
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("coordlab runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in `{line}`"))
            .to_string();
        assert!(address.starts_with("127.0.0.1:"), "{line}");
        Explorer { child, address }
    }

    /// A raw HTTP/1.0 request: the status code and the body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.address).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.address
        )
        .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
        (status, body.to_string())
    }

    /// GET `path`, expecting `status`; the body as JSON.
    fn get(&self, path: &str, status: u16) -> serde_json::Value {
        let (got, body) = self.request("GET", path);
        assert_eq!(got, status, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Polls `/api/verdicts` until the background check is over.
    fn verdicts(&self) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            let v = self.get("/api/verdicts", 200);
            if v["status"] != "running" {
                return v;
            }
            assert_eq!(
                v["phase"]
                    .as_str()
                    .map(|p| p == "safety" || p == "liveness-graph"),
                Some(true),
                "{v}"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "the check never ended: {v}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Explorer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `explore` serves coordlab's explorer on 127.0.0.1: the variant, its bounds, every
/// property with its expectation; states as the model's fields and actions in the model's
/// words, the same words as the committed counterexample; bad paths are 400, not a crash.
#[test]
fn explore_serves_the_check_and_its_states_in_coordlab_words() {
    let ex = Explorer::start("queue/stale-receipt-delete");
    let check = ex.get("/api/check", 200);
    assert_eq!(check["protocol"], "queue");
    assert_eq!(check["variant"], "stale-receipt-delete");
    assert_eq!(
        check["summary"],
        "the broker accepts a delete carrying the receipt of an earlier delivery"
    );
    assert_eq!(check["check"], "queue/stale-receipt-delete");
    let bounds: Vec<String> = check["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            format!(
                "{}={}",
                b["name"].as_str().unwrap(),
                b["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        bounds.join(" "),
        "backoff-base=1 backoff-cap=2 consumers=3 heartbeat=0 max-crashes=1 max-pauses=0 max-receives=2 messages=2 retry=exponential-backoff visibility-timeout=2"
    );
    // Each bound's meaning is the "meaning" column of the trace's Configuration table, row
    // for row; no bound was changed with --set.
    let dir = root().join("counterexamples/queue/stale-receipt-delete");
    let md = std::fs::read_to_string(dir.join("NoMessageLost.md")).unwrap();
    for b in check["bounds"].as_array().unwrap() {
        let meaning = b["meaning"].as_str().unwrap_or_else(|| panic!("{b}"));
        assert!(!meaning.is_empty(), "{b}");
        let row = format!(
            "| {} | {} | {} |",
            b["name"].as_str().unwrap(),
            b["value"].as_str().unwrap(),
            meaning.replace('|', "\\|")
        );
        assert!(md.contains(&row), "`{row}` not in the trace:\n{md}");
        assert_eq!(b["overridden"], false, "{b}");
    }
    assert_eq!(check["overrides"], serde_json::json!([]));
    let props = check["properties"].as_array().unwrap();
    assert_eq!(props.len(), queue_props());
    let live = props
        .iter()
        .find(|p| p["name"] == "EveryMessageResolved")
        .unwrap();
    assert_eq!(live["kind"], "eventually");
    assert_eq!(live["expected"], "holds");
    assert_eq!(
        live["doc"],
        "Every message is eventually deleted or dead-lettered."
    );

    let init = ex.get("/api/state/0", 200);
    assert_eq!(
        init["fields"][0],
        serde_json::json!({"name": "m0", "value": "not sent"})
    );
    assert_eq!(init["time"], 0);
    assert_eq!(init["actions"][0]["description"], "producer sends m0");
    assert_eq!(init["actions"][0]["action"], "send");
    let one = ex.get("/api/state/0/0/", 200);
    assert_eq!(one["steps"][0]["description"], "producer sends m0");
    assert_eq!(
        one["steps"][0]["changes"],
        serde_json::json!([{"name": "m0", "before": "not sent", "after": "visible"}])
    );

    // Bad paths: 400 naming the fault (and, for an index out of range, the longest prefix
    // that names a state); other addresses and methods refused; still serving.
    let error = |path: &str| ex.get(path, 400)["error"].as_str().unwrap().to_string();
    let valid_prefix = |path: &str| ex.get(path, 400)["valid_prefix"].clone();
    assert_eq!(valid_prefix("/api/state/0/99"), serde_json::json!([0]));
    assert_eq!(
        valid_prefix("/api/state/0/0/99/0"),
        serde_json::json!([0, 0])
    );
    assert_eq!(valid_prefix("/api/state/1"), serde_json::Value::Null);
    assert_eq!(valid_prefix("/api/state/0/x"), serde_json::Value::Null);
    assert_eq!(
        error("/api/state/0/99"),
        "step 1: action 99 is out of range: 1 action is enabled in the initial state (0 to 0)"
    );
    let n = one["actions"].as_array().unwrap().len();
    assert!(n > 1);
    assert_eq!(
        error(&format!("/api/state/0/0/{n}")),
        format!(
            "step 2: action {n} is out of range: {n} actions are enabled after step 1 (0 to {})",
            n - 1
        )
    );
    assert_eq!(
        error("/api/state/0/0/x"),
        "step 2: `x` is not an index (0, 1, 2, …)"
    );
    assert!(error("/api/state").contains("the path is empty"));
    assert_eq!(
        error("/api/state/1"),
        "the initial state: index 1 is out of range: the model has 1 initial state (0 to 0)"
    );
    assert!(
        error(&"/0".repeat(10_002).replacen("/0", "/api/state/0", 1)).contains("at most 10000")
    );
    assert_eq!(ex.request("GET", "/nowhere").0, 404);
    assert_eq!(ex.request("POST", "/api/check").0, 405);
    assert_eq!(ex.get("/api/check", 200), check);

    // The verdicts of the same check as `coordlab check`, liveness included.
    let run = ex.verdicts();
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["passed"], true, "{run}");
    assert_eq!(run["overrides"], serde_json::json!([]), "{run}");
    assert!(run["expected_unique_states"].is_u64(), "{run}");
    assert_eq!(run["unique_states"], run["expected_unique_states"], "{run}");
    let verdicts = run["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), queue_props());
    for v in verdicts {
        assert_eq!(v["matches"], true, "{v}");
    }
    let verdict = |name: &str| verdicts.iter().find(|v| v["property"] == name).unwrap();
    let live = verdict("EveryMessageResolved");
    assert_eq!(
        (&live["verdict"], &live["checker"]),
        (&"holds".into(), &"fair-cycles".into())
    );
    let lost = verdict("NoMessageLost");
    assert_eq!(lost["verdict"], "violated");
    let cex = &lost["counterexample"];
    assert_eq!(
        cex["file"],
        "counterexamples/queue/stale-receipt-delete/NoMessageLost.json"
    );

    // Walking it: the committed counterexample, step by step, in the same words.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("NoMessageLost.json")).unwrap()).unwrap();
    let steps = json["steps"].as_array().unwrap().len() - 1;
    assert_eq!(cex["steps"], steps);
    let path: Vec<String> = cex["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    assert_eq!(path.len(), steps + 1);
    let end = ex.get(&format!("/api/state/{}", path.join("/")), 200);
    for s in end["steps"].as_array().unwrap() {
        let header = format!(
            "**{}. {}** (t={}) `{}`",
            s["number"],
            s["description"].as_str().unwrap(),
            s["time"],
            s["action"].as_str().unwrap()
        );
        assert!(md.contains(&header), "`{header}` not in the trace:\n{md}");
        for c in s["changes"].as_array().unwrap() {
            let line = format!(
                "   - {}: {} → {}",
                c["name"].as_str().unwrap(),
                c["before"].as_str().unwrap(),
                c["after"].as_str().unwrap()
            );
            assert!(md.contains(&line), "`{line}` not in the trace:\n{md}");
        }
    }
    let here = end["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "NoMessageLost")
        .unwrap();
    assert_eq!(here["holds_here"], false);
    let why = here["why"].as_str().unwrap();
    assert!(md.contains(&format!("**What goes wrong:** {why}")), "{why}");
}

/// A liveness counterexample walks as a lasso: after its last step the explorer is back in
/// the state of the step where the cycle starts.
#[test]
fn explore_walks_a_lasso_back_to_where_its_cycle_starts() {
    let ex = Explorer::start("queue/no-dead-letter");
    let run = ex.verdicts();
    let verdicts = run["verdicts"].as_array().unwrap();
    let v = verdicts
        .iter()
        .find(|v| v["property"] == "EveryMessageResolved")
        .unwrap();
    assert_eq!(
        (&v["verdict"], &v["matches"]),
        (&"violated".into(), &true.into())
    );
    let cex = &v["counterexample"];
    assert_eq!(
        (&cex["steps"], &cex["cycle_start"]),
        (&10.into(), &5.into())
    );
    let path: Vec<String> = cex["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    let at = |n: usize| ex.get(&format!("/api/state/{}", path[..=n].join("/")), 200);
    let (start, end) = (at(5), at(10));
    assert_eq!(start["fields"], end["fields"]);
    assert_ne!(at(7)["fields"], end["fields"]);
    // A `sometimes` property that no state satisfies has no counterexample to walk.
    let dead = verdicts
        .iter()
        .find(|v| v["property"] == "MessageDeadLettered")
        .unwrap();
    assert_eq!(
        (&dead["verdict"], &dead["counterexample"]),
        (&"violated".into(), &serde_json::Value::Null)
    );
}

/// `explore` serves the check it is asked for: a labelled check with its own bounds, and
/// bounds changed with `--set`, marked as changed, whose state counts are then not
/// compared with the manifest's pins (as `coordlab check` does); and it answers only to
/// loopback names (a page that a browser was tricked into sending here by DNS rebinding
/// carries another Host).
#[test]
fn explore_serves_the_labelled_check_at_its_bounds() {
    let bound = |v: &serde_json::Value, name: &str| -> String {
        v["bounds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("no bound {name}: {v}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let e = Explorer::start("election/correct[three-nodes]");
    let check = e.get("/api/check", 200);
    assert_eq!(check["check"], "election/correct[three-nodes]", "{check}");
    assert_eq!(bound(&check, "nodes"), "3");
    drop(e);
    let e = Explorer::start_with(&["queue/no-dead-letter", "--set", "consumers=3"]);
    let check = e.get("/api/check", 200);
    assert_eq!(check["check"], "queue/no-dead-letter", "{check}");
    assert_eq!(bound(&check, "consumers"), "3");
    assert_eq!(
        check["overrides"],
        serde_json::json!([{"name": "consumers", "value": "3"}])
    );
    let overridden: Vec<&str> = check["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["overridden"] == true)
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(overridden, ["consumers"]);
    let run = e.verdicts();
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(
        run["overrides"],
        serde_json::json!(["consumers=3"]),
        "{run}"
    );
    assert_eq!(run["expected_unique_states"], serde_json::Value::Null);
    assert_eq!(run["expected_liveness_states"], serde_json::Value::Null);
    assert_eq!(run["drift"], serde_json::json!([]));
    assert_eq!(run["passed"], true, "{run}");
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&e.address).unwrap();
    let port = e.address.rsplit(':').next().unwrap();
    write!(
        s,
        "GET /api/check HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 421"), "{response}");
}

/// A busy port is bad usage naming the port, before anything is served.
#[test]
fn explore_on_a_busy_port_is_bad_usage() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    assert_bad_input(
        &coordlab(&["explore", "queue/correct", "--port", &port]),
        &format!("--port {port}: cannot listen on 127.0.0.1:{port}"),
    );
}

/// Asked about one variant, `check` prints its counterexamples in full: for the missing
/// dead-letter queue, the poison-message lasso. The violation is expected, so it exits 0.
#[test]
fn checking_one_variant_prints_its_lasso() {
    let tmp = tempfile::tempdir().unwrap();
    let o = coordlab(&[
        "check",
        "queue/no-dead-letter",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("EveryMessageResolved violated as expected: lasso of 10 steps, steps 6–10 repeat forever"), "{s}");
    assert!(
        s.contains("queue/no-dead-letter violates EveryMessageResolved"),
        "{s}"
    );
    assert!(
        s.contains(
            "lasso: steps 6–10 repeat forever, a fair behaviour: every round has steps by the clock and by consumer 0"
        ),
        "{s}"
    );
    assert!(
        s.contains("EveryMessageResolved is violated: m0 is still neither deleted nor dead-lettered, and steps 6–10 repeat forever"),
        "{s}"
    );
    assert!(
        s.contains("From step 6 on, steps 6–10 repeat forever."),
        "{s}"
    );
}

/// `simulate` finds the stale-receipt bug by random walks, reproducibly, and the walk it
/// writes replays; on the correct variant it finds nothing and says that proves nothing.
#[test]
fn simulate_finds_violations_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let run = || {
        coordlab(&[
            "simulate",
            "queue/stale-receipt-delete",
            "--seeds",
            "300",
            "--out",
            out,
        ])
    };
    let (a, b) = (run(), run());
    assert_eq!(a.status.code(), Some(0), "{}{}", stdout(&a), stderr(&a));
    assert_eq!(stdout(&a), stdout(&b), "the same seeds walk the same way");
    let s = stdout(&a);
    assert!(
        s.contains("NoMessageLost") && s.contains("violated: seed"),
        "{s}"
    );
    let trace = tmp
        .path()
        .join("queue/stale-receipt-delete/NoMessageLost.json");
    let o = coordlab(&["replay", trace.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // The command written into the trace runs the one walk that found it, and finds it.
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let command = file["command"].as_str().unwrap().to_string();
    assert!(command.contains(" --seed "), "{command}");
    let args: Vec<&str> = command.split(' ').skip(1).collect();
    let again = coordlab(&args);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{command}: {}",
        stdout(&again)
    );
    assert!(
        stdout(&again).contains("the walk with seed"),
        "{}",
        stdout(&again)
    );
    assert!(
        stdout(&again).contains("violated: seed"),
        "{}",
        stdout(&again)
    );

    let o = coordlab(&["simulate", "queue/correct", "--seeds", "100"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("a walk that finds nothing proves nothing"),
        "{}",
        stdout(&o)
    );
    // Walks too short to reach the bug: the expected violation is not found, exit 1.
    let o = coordlab(&[
        "simulate",
        "queue/stale-receipt-delete",
        "--seeds",
        "5",
        "--depth",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("no violation in 5 walks"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("MISMATCH"), "{}", stdout(&o));
    assert_bad_input(
        &coordlab(&["simulate", "queue/sloppy"]),
        "unknown variant `queue/sloppy`",
    );
    assert_bad_input(
        &coordlab(&["simulate", "queue/correct", "--seeds", "0"]),
        "--seeds 0: expected 1 to 1000000000 walks",
    );
}

/// `--set` changes a bound of the selected check: the check runs at the new bounds,
/// reports its state counts as unpinned (not as a drift), files its counterexamples apart
/// from the manifest's, and writes the command that finds them again.
#[test]
fn set_changes_bounds_and_unpins_the_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = coordlab(&[
        "check",
        "queue/stale-receipt-delete",
        "--set",
        "messages=1",
        "--set",
        "consumers=2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains(
            "queue/stale-receipt-delete (consumers=2 messages=1): bounds changed with --set: state counts not compared with the manifest's pins"
        ),
        "{s}"
    );
    assert!(!s.contains("state space changed"), "{s}");
    // Both checks of the variant: without and with `change-visibility`.
    assert!(
        s.contains(&format!(
            "2 checks, {} properties: every verdict as expected",
            2 * queue_props()
        )),
        "{s}"
    );
    let dir = out.join("queue/stale-receipt-delete/consumers=2,messages=1");
    let md = std::fs::read_to_string(dir.join("NoMessageLost.md")).unwrap();
    assert!(
        md.contains(
            "`coordlab check queue/stale-receipt-delete --set consumers=2 --set messages=1 --out "
        ),
        "{md}"
    );
    let o = coordlab(&["replay", dir.join("NoMessageLost.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // The JSON says the counts are unpinned.
    let o = coordlab(&[
        "check",
        "queue/no-dead-letter",
        "--set",
        "max-crashes=0",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["checks"][0]["overrides"][0], "max-crashes=0");
    assert!(v["checks"][0]["expected_unique_states"].is_null());
    assert_ne!(v["checks"][0]["unique_states"], 111);
    // Faults name the option.
    for (set, needle) in [
        (
            "consumerz=4",
            "--set consumerz=4: `consumerz` is not a bound of queue",
        ),
        (
            "consumers=40",
            "--set consumers=40: queue/no-dead-letter: bad configuration: consumers must be 1..=8",
        ),
        (
            "consumers=-1",
            "--set consumers=-1: queue/no-dead-letter: bounds:",
        ),
        ("consumers", "--set `consumers`: expected KEY=VALUE"),
        (
            "retry=sideways",
            "--set retry=sideways: queue/no-dead-letter: bounds: unknown name `sideways`",
        ),
    ] {
        assert_bad_input(
            &coordlab(&["check", "queue/no-dead-letter", "--set", set]),
            needle,
        );
    }
    assert_bad_input(
        &coordlab(&["check", "election/correct", "--set", "retry=immediate"]),
        "`retry` is not a bound of election",
    );
    assert_bad_input(
        &coordlab(&[
            "check",
            "queue/no-dead-letter",
            "--set",
            "consumers=1",
            "--set",
            "consumers=2",
        ]),
        "--set consumers=2: `consumers` is already set by --set consumers=1",
    );
    // A bound set to the value it has is no change: the pins still apply.
    let o = coordlab(&[
        "check",
        "queue/no-dead-letter",
        "--set",
        "consumers=2",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["checks"][0]["expected_unique_states"], 111, "{v}");
    assert!(v["checks"][0].get("overrides").is_none(), "{v}");
}

/// `proto/variant[label]` selects one labelled check in `check`, `simulate` and
/// `explore`; a bare variant with several checks takes its unlabelled one and says which
/// others there are; an unknown label is bad usage.
#[test]
fn a_label_selects_one_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let o = coordlab(&[
        "check",
        "queue/correct[immediate-retry]",
        "--json",
        "--out",
        out,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["queue/correct[immediate-retry]"]);
    assert!(
        v["checks"][0]["bounds"]
            .as_str()
            .unwrap()
            .contains("retry=immediate")
    );

    let o = coordlab(&[
        "simulate",
        "queue/correct[immediate-retry]",
        "--seeds",
        "20",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("queue/correct[immediate-retry]: 20 walks"),
        "{}",
        stdout(&o)
    );
    let o = coordlab(&["simulate", "queue/correct", "--seeds", "20"]);
    assert!(
        stdout(&o).starts_with("queue/correct (the other checks of this variant: queue/correct[immediate-retry], queue/correct[requeue-on-expiry], queue/correct[two-messages], queue/correct[one-message], queue/correct[heartbeats], queue/correct[heartbeats-one-message], queue/correct[heartbeats-no-crashes], queue/correct[change-visibility], queue/correct[heartbeats-change-visibility]; select one with its label)"),
        "{}",
        stdout(&o)
    );
    assert_bad_input(
        &coordlab(&["check", "queue/correct[sideways]"]),
        "no check `queue/correct[sideways]` (the checks of this variant: queue/correct, queue/correct[immediate-retry], queue/correct[requeue-on-expiry], queue/correct[two-messages], queue/correct[one-message], queue/correct[heartbeats], queue/correct[heartbeats-one-message], queue/correct[heartbeats-no-crashes], queue/correct[change-visibility], queue/correct[heartbeats-change-visibility])",
    );
    assert_bad_input(
        &coordlab(&["check", "queue/correct[oops"]),
        "expected PROTO, PROTO/VARIANT or PROTO/VARIANT[LABEL]",
    );
    assert_bad_input(
        &coordlab(&["simulate", "queue"]),
        "`queue`: expected PROTO/VARIANT",
    );
}

/// Out of the checkout, the built-in manifests are used and stderr says so; in a checkout,
/// an edit of `checks/manifests/` takes effect without a rebuild.
#[test]
fn an_edited_manifest_takes_effect_and_builtins_are_announced() {
    let bare = tempfile::tempdir().unwrap();
    let o = coordlab_in(bare.path(), &["list"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o)
            .contains("using the manifests built into this binary (--manifests DIR reads others)"),
        "{}",
        stderr(&o)
    );
    let tmp = scratch_checkout();
    let manifest = tmp.path().join("checks/manifests/queue.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let edited = text.replace("unique-states = 111\n", "unique-states = 112\n");
    assert_ne!(
        text, edited,
        "the no-dead-letter pin moved: update this test"
    );
    std::fs::write(&manifest, edited).unwrap();
    let o = coordlab_in(tmp.path(), &["check", "queue/no-dead-letter"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("explored 111 unique states, the manifest pins 112"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // The drifted count is flagged in its row, not only below the table.
    let first_row = stdout(&o).lines().nth(1).unwrap().to_string();
    assert!(
        first_row.contains("111 (pinned 112)") && first_row.ends_with("MISMATCH"),
        "{first_row}"
    );
    // The same check in two manifest files is refused, naming both.
    std::fs::copy(
        &manifest,
        tmp.path().join("checks/manifests/queue-again.toml"),
    )
    .unwrap();
    assert_bad_input(
        &coordlab_in(tmp.path(), &["list"]),
        "queue.toml: a second check of `queue/correct` (the first is in checks/manifests/queue-again.toml): give one a distinct `label`",
    );
}

/// A bad `--out` or `--junit` is found before any check runs: a file where a folder should
/// be, a folder where a counterexample would be written, a directory given as a file.
#[test]
fn outputs_are_checked_before_any_check_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let o = coordlab(&["check", "--out", file.to_str().unwrap()]);
    assert_bad_input(&o, "is not a directory");
    assert!(stdout(&o).is_empty(), "no check ran: {}", stdout(&o));
    let o = coordlab(&["check", "--junit", tmp.path().to_str().unwrap()]);
    assert_bad_input(&o, "is a directory, not a file");
    let o = coordlab(&["check", "--junit", file.join("x.xml").to_str().unwrap()]);
    assert_bad_input(&o, "is not a directory");
    // `out/queue` is a file: queue's counterexamples could not be written below it.
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("queue"), "").unwrap();
    let o = coordlab(&[
        "check",
        "queue/stale-receipt-delete",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_bad_input(&o, "out/queue is not a directory");
    assert!(stdout(&o).is_empty(), "no check ran: {}", stdout(&o));
    // A directory where a counterexample's Markdown would go.
    std::fs::remove_file(out.join("queue")).unwrap();
    let md = out.join("queue/stale-receipt-delete/NoMessageLost.md");
    std::fs::create_dir_all(&md).unwrap();
    let o = coordlab(&[
        "check",
        "queue/stale-receipt-delete",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_bad_input(
        &o,
        "NoMessageLost.md is a directory, where a counterexample would be written",
    );
    assert!(
        !out.join("queue/stale-receipt-delete/NoMessageLost.json")
            .exists(),
        "nothing written"
    );
}

/// A search out of budget says which phase ran out, how far it got and the budget; the
/// liveness graph is not reported when it never started.
#[test]
fn timeout_names_the_phase() {
    let tmp = tempfile::tempdir().unwrap();
    let o = coordlab(&[
        "check",
        "queue/correct",
        "--timeout",
        "0.000001",
        "--json",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for c in v["checks"].as_array().unwrap() {
        assert_eq!(c["out_of_budget"]["phase"], "safety search", "{c}");
        assert_eq!(c["out_of_budget"]["budget_seconds"], 0.000001, "{c}");
        assert!(c["liveness_states"].is_null(), "{c}");
    }
    let o = coordlab(&[
        "check",
        "queue/no-dead-letter",
        "--timeout",
        "0.000001",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).contains("queue/no-dead-letter: the safety search ran out of its budget of 0.000001 seconds after "),
        "{}",
        stdout(&o)
    );
    for (bad, shown) in [
        ("0", "0"),
        ("-1", "-1"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("1e20", "1e20"),
        ("soon", "soon"),
    ] {
        assert_bad_input(
            &coordlab(&["check", "--timeout", bad]),
            &format!("--timeout {shown}: expected a number of seconds"),
        );
    }
}

/// The JUnit report: every case has a class name and a time; `pending` is skipped; it
/// counts as many failures as the text report counts mismatches.
#[test]
fn junit_cases_match_the_text_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let junit = tmp.path().join("junit.xml");
    // One mismatch (a bug expected to hold), one pending property, one drifted pin.
    let text = format!(
        "protocol = \"queue\"\n[[check]]\nvariant = \"stale-receipt-delete\"\nchecker = \"bfs\"\nunique-states = 7\nbounds = {{ messages = 1 }}\n{EXPECT_CORRECT}\n"
    );
    write_manifest(&dir, &text);
    let o = coordlab(&[
        "check",
        "--manifests",
        dir.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--out",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "1 check, {} properties: 2 mismatches",
            queue_props()
        )),
        "{}",
        stdout(&o)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(xml.contains("skipped=\"1\""), "{xml}");
    let cases: Vec<&str> = xml.split("<testcase ").skip(1).collect();
    assert_eq!(
        cases.len(),
        2 + queue_props(),
        "budget, unique-states and every property: {xml}"
    );
    for c in cases {
        let head = c.split('>').next().unwrap();
        assert!(
            head.contains("classname=\"queue/stale-receipt-delete\""),
            "{head}"
        );
        assert!(head.contains("time=\""), "{head}");
    }
}

/// `show` and `replay` given the Markdown beside a trace point to the JSON.
#[test]
fn a_markdown_trace_points_to_its_json() {
    for cmd in ["show", "replay"] {
        assert_bad_input(
            &coordlab(&[cmd, &STALE.replace(".json", ".md")]),
            "the Markdown rendering of a trace, not the trace: give the JSON beside it (counterexamples/queue/stale-receipt-delete/NoMessageLost.json)",
        );
    }
}

/// A trace action of the wrong shape is reported in plain words, not serde's.
#[test]
fn trace_faults_speak_plainly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("counterexamples/election/no-fencing/StaleTokenWriteRejected.json"),
        )
        .unwrap(),
    )
    .unwrap();
    v["steps"][1]["action"] = "tick".into();
    let path = tmp.path().join("t.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    for cmd in ["show", "replay"] {
        let o = coordlab(&[cmd, path.to_str().unwrap()]);
        assert_bad_input(
            &o,
            "step 1: found a bare name where it expects a name with fields",
        );
        assert!(!stderr(&o).contains("variant"), "{}", stderr(&o));
    }
}

/// A trace's `command` is printed as its "Find it again" line, so it must be one `coordlab`
/// command line: a command with a line break or a backquote (Markdown a reader would take
/// for the trace's own), or that is not `coordlab`'s, is bad input for `show` and `replay`,
/// one line naming the file.
#[test]
fn a_trace_whose_command_is_not_one_coordlab_line_is_bad_input() {
    let committed =
        root().join("counterexamples/stealing/lost-wakeup/EveryTaskEventuallyRuns.json");
    let text = std::fs::read_to_string(&committed).unwrap();
    let mut trace: serde_json::Value = serde_json::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, command) in [
        ("newline.json", "coordlab check x\n\n## Injected heading"),
        ("backquote.json", "coordlab check `reboot`"),
        ("other.json", "rm -rf /"),
    ] {
        trace["command"] = serde_json::Value::from(command);
        let file = dir.path().join(name);
        std::fs::write(&file, serde_json::to_string(&trace).unwrap()).unwrap();
        for verb in ["show", "replay"] {
            let o = coordlab(&[verb, file.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert_eq!(o.status.code(), Some(2), "{verb} {name}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(name) && err.contains("`command`"), "{err}");
            assert!(o.stdout.is_empty(), "{verb} {name} printed something");
        }
    }
}

/// The loom counterexamples of the deque are not model traces: `show`, `replay` and `drive`
/// of the checkpoint, or of the Markdown beside it, say what the file is and how it is
/// replayed (exit 2, one line).
#[test]
fn loom_counterexamples_are_named_for_what_they_are() {
    for file in [
        "counterexamples/deque/impl-pop-without-cas/NoTaskLostOrDuplicated.loom",
        "counterexamples/deque/impl-pop-without-cas/NoTaskLostOrDuplicated.md",
    ] {
        for verb in ["show", "replay", "drive"] {
            let o = coordlab(&[verb, file]);
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert_eq!(o.status.code(), Some(2), "{verb} {file}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains("loom") && err.contains("committed_loom_counterexamples_replay"),
                "{err}"
            );
        }
    }
}

/// A check marked `suite = "deep"` runs only with `--suite deep` (or `all`); the default
/// suite leaves it out; `list` names each check's suite; a deep check named without
/// `--suite`, a bad `suite` in a manifest and a bad `--suite` are bad input.
#[test]
fn suites_select_their_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let d = dir.to_str().unwrap();
    let out = tmp.path().join("out");
    let o_ = out.to_str().unwrap();
    let manifest = std::fs::read_to_string(root().join("checks/manifests/queue.toml")).unwrap();
    // Two small checks of the committed manifest: no-dead-letter stays in the default
    // suite, correct[one-message] moves to the deep one.
    let check = |variant: &str, label: Option<&str>| -> String {
        manifest
            .split("[[check]]")
            .find(|c| {
                c.contains(&format!("variant = \"{variant}\""))
                    && match label {
                        Some(l) => c.contains(&format!("label = \"{l}\"")),
                        None => !c.contains("label = "),
                    }
            })
            .unwrap_or_else(|| panic!("no {variant} {label:?} check in queue.toml"))
            .trim()
            .to_string()
    };
    let default = check("no-dead-letter", None);
    let deep = check("correct", Some("one-message"));
    write_manifest(
        &dir,
        &format!(
            "protocol = \"queue\"\n[[check]]\n{default}\n\n[[check]]\nsuite = \"deep\"\n{deep}\n"
        ),
    );
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["check", "--manifests", d, "--out", o_, "--json"];
        all.extend_from_slice(args);
        let o = coordlab(&all);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (plain, deep_id) = ("queue/no-dead-letter", "queue/correct[one-message]");
    assert_eq!(ids(&[]), [plain]);
    assert_eq!(ids(&["--suite", "default"]), [plain]);
    assert_eq!(ids(&["--suite", "deep"]), [deep_id]);
    assert_eq!(ids(&["--suite", "all"]), [plain, deep_id]);
    assert_eq!(ids(&["--suite", "deep", "queue"]), [deep_id]);
    assert_eq!(ids(&["--suite", "all", "--shard", "2/2"]).len(), 1);

    let o = coordlab(&["list", "--manifests", d]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = |id: &str| -> String {
        stdout(&o)
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} not listed:\n{}", stdout(&o)))
            .to_string()
    };
    assert!(line(plain).contains(" default "), "{}", line(plain));
    assert!(line(deep_id).contains(" deep "), "{}", line(deep_id));

    assert_bad_input(
        &coordlab(&["check", "--manifests", d, "--out", o_, deep_id]),
        "its checks are in the deep suite, not the default one (add --suite deep, or --suite all)",
    );
    assert_bad_input(
        &coordlab(&["check", "--manifests", d, "--suite", "shallow"]),
        "--suite",
    );
    write_manifest(
        &dir,
        &format!("protocol = \"queue\"\n[[check]]\nsuite = \"deeper\"\n{default}\n"),
    );
    assert_bad_input(&coordlab(&["list", "--manifests", d]), "queue.toml");
    assert_bad_input(&coordlab(&["check", "--manifests", d]), "deeper");
}

/// `simulate --shard I/N`: shards 1 to N run every seed of `--seeds` exactly once, in
/// contiguous runs, and their JSON reports combine as `coordlab simulate --help` says
/// (walks and steps add up; each property's hit is the one of smallest seed, with that
/// shard's trace file; a known bug no shard caught is a mismatch) into the unsharded
/// report, trace files byte for byte.
#[test]
fn simulate_shards_combine_into_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    // (seeds, depth): walks that find the bug, and walks too short to.
    for (seeds, depth, found) in [("300", "100", true), ("6", "3", false)] {
        // Each run in a folder of its own with `--out out`, so the commands written into
        // the traces are the same whichever run wrote them.
        let run = |name: &str, extra: &[&str]| {
            let dir = tmp.path().join(format!("{seeds}-{depth}-{name}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut args = vec![
                "simulate",
                "queue/stale-receipt-delete",
                "--seeds",
                seeds,
                "--depth",
                depth,
                "--json",
                "--out",
                "out",
            ];
            args.extend_from_slice(extra);
            let o = coordlab_in(&dir, &args);
            let report: serde_json::Value = serde_json::from_str(&stdout(&o))
                .unwrap_or_else(|e| panic!("{extra:?}: {e}: {}", stderr(&o)));
            let code = if report["passed"] == true { 0 } else { 1 };
            assert_eq!(o.status.code(), Some(code), "{extra:?}: {}", stderr(&o));
            (report, files(&dir.join("out")))
        };
        let (whole, whole_files) = run("whole", &[]);
        let props = whole["properties"].as_array().unwrap();
        let lost = props
            .iter()
            .find(|p| p["property"] == "NoMessageLost")
            .unwrap();
        assert_eq!(!lost["hit"].is_null(), found, "{whole}");
        assert_eq!(whole["passed"], found, "{whole}");
        let total: u64 = seeds.parse().unwrap();
        for n in [2usize, 3, 7] {
            let shards: Vec<_> = (1..=n)
                .map(|i| run(&format!("{i}-of-{n}"), &["--shard", &format!("{i}/{n}")]))
                .collect();
            // Contiguous, in order, covering the seeds once.
            let mut next = 0;
            for (report, _) in &shards {
                assert_eq!(report["seeds"]["start"], next, "{report}");
                next = report["seeds"]["end"].as_u64().unwrap();
                assert_eq!(
                    report["walks"].as_u64().unwrap(),
                    next - report["seeds"]["start"].as_u64().unwrap()
                );
            }
            assert_eq!(next, total);
            let sum =
                |key: &str| -> u64 { shards.iter().map(|(r, _)| r[key].as_u64().unwrap()).sum() };
            assert_eq!(sum("walks"), total, "{n} shards");
            assert_eq!(sum("steps"), whole["steps"].as_u64().unwrap(), "{n} shards");
            let mut union_files = BTreeMap::new();
            for (k, p) in props.iter().enumerate() {
                let name = p["property"].as_str().unwrap();
                let first = shards
                    .iter()
                    .filter(|(r, _)| !r["properties"][k]["hit"].is_null())
                    .min_by_key(|(r, _)| r["properties"][k]["hit"]["seed"].as_u64().unwrap());
                match first {
                    Some((r, files)) => {
                        let row = &r["properties"][k];
                        assert_eq!(row["hit"], p["hit"], "{n} shards: {name}");
                        assert_eq!(row["mark"], p["mark"], "{n} shards: {name}");
                        union_files.extend(
                            files
                                .iter()
                                .filter(|(f, _)| f.file_stem().unwrap() == name)
                                .map(|(f, b)| (f.clone(), b.clone())),
                        );
                    }
                    None => {
                        assert!(p["hit"].is_null(), "{n} shards: {name} hit only unsharded");
                        // A known bug no shard caught is a mismatch of the combination;
                        // each shard says only that it did not find it.
                        for (r, _) in &shards {
                            let mark = &r["properties"][k]["mark"];
                            if p["mark"] == "mismatch" {
                                assert_eq!(mark, "not-found", "{n} shards: {name}");
                            } else {
                                assert_eq!(*mark, p["mark"], "{n} shards: {name}");
                            }
                        }
                    }
                }
            }
            assert_eq!(union_files, whole_files, "{n} shards: the traces");
        }
    }
    assert_bad_input(
        &coordlab(&["simulate", "queue/correct", "--shard", "4/3"]),
        "--shard `4/3`: expected I/N with 1 <= I <= N",
    );
    assert_bad_input(
        &coordlab(&["simulate", "queue/correct", "--seed", "3", "--shard", "1/2"]),
        "--shard",
    );
}

/// A Raft trace whose action names a server the cluster does not have, or whose state has
/// lost a server, is refused — `show` with exit 2 and one line, `replay` as not reproduced —
/// and the model never steps from the made-up state (no panic): the display of a trace in
/// absolute terms is computed only after replay accepted every step.
#[test]
fn a_made_up_raft_trace_is_refused_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let path = "counterexamples/raft/forget-voted-for/ElectionSafety.json";
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(path)).unwrap()).unwrap();
    let mut server = original.clone();
    server["steps"][1]["action"] = serde_json::json!({"Timeout": {"server": 9}});
    let mut shape = original.clone();
    let servers = shape["steps"][1]["state"]["servers"].as_array().unwrap()[..1].to_vec();
    shape["steps"][1]["state"]["servers"] = serde_json::Value::Array(servers);
    for (name, trace, why) in [
        (
            "server.json",
            server,
            "step 1: `Timeout` is not enabled here",
        ),
        (
            "shape.json",
            shape,
            "step 1: `Timeout` produces a different state",
        ),
    ] {
        let file = tmp.path().join(name);
        std::fs::write(&file, trace.to_string()).unwrap();
        let o = coordlab(&["show", file.to_str().unwrap()]);
        assert_bad_input(&o, why);
        let o = coordlab(&["replay", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains(why), "{}", stdout(&o));
    }
}
