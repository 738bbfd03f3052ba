//! `coordlab conform` end to end, on run logs of the real queue (`coordlab_impls::queue`,
//! on a `ManualClock`), committed under `checks/tests/conform/` and regenerated here:
//! a correct run conforms to `queue/correct` (exit 0) and not to the bug variant whose
//! guard it relies on (exit 1, at that step); a consumer bug the harness's hand checks miss
//! diverges (exit 1) with the step, the event, the field and the actions the model had
//! enabled; bad input exits 2 with one line naming the file. A one-off `change_visibility`
//! maps to the model's `ChangeVisibility`: accepted and refused as the model's broker does,
//! and an acceptance the model refuses is caught.
//!
//! Regenerate the committed logs with `COORDLAB_BLESS=1 cargo test --release -p
//! coordlab-checks --test conform`.

use std::time::Duration;

use coordlab_checks::conform::Verdict;
use coordlab_checks::conform::queue::{self, Retry, RunConfig};
use coordlab_impls::clock::{Instant, ManualClock};
use coordlab_impls::queue::{
    ApplyOutcome, ConsumerId, Event, EventRecord, IdempotencyLedger, MessageId, ProcessOutcome,
    QueueConfig, ReceiptOperation, RetryPolicy, RetryQueue,
};

#[path = "support/run.rs"]
mod run;
use run::{coordlab, root};

const TIMEOUT: Duration = Duration::from_millis(10);

fn config() -> RunConfig {
    RunConfig {
        visibility_timeout_ms: 10,
        retry: Retry::Immediate,
        max_receives: Some(2),
        idempotent: true,
    }
}

fn new_queue(clock: &ManualClock) -> RetryQueue<u32, ManualClock> {
    RetryQueue::new(
        QueueConfig::default()
            .with_event_log(true)
            .with_retry_policy(RetryPolicy::Immediate)
            .with_max_receives(2),
        clock.clone(),
    )
}

/// Two idempotent consumers, two messages. m0: c0's delivery lapses while it works, c1
/// receives m0 again, c0 applies the effect and its delete is refused as stale, c1 finds
/// the effect in the ledger and deletes. m1: both fail to process it and release it; after
/// two receives it is dead-lettered.
fn correct_run(off_by_one: bool) -> Vec<EventRecord> {
    let clock = ManualClock::new();
    let q = new_queue(&clock);
    let ledger: IdempotencyLedger<MessageId> = IdempotencyLedger::new();
    let process = |c: &coordlab_impls::queue::Consumer<'_, u32, ManualClock>,
                   d: &coordlab_impls::queue::Delivery<u32>| {
        let outcome = match ledger.apply_once(d.message, || ()) {
            ApplyOutcome::Applied(()) => ProcessOutcome::Applied,
            ApplyOutcome::Duplicate => ProcessOutcome::Duplicate,
        };
        c.record_process(&d.receipt, outcome);
    };
    let (c0, c1) = (q.consumer(ConsumerId(0)), q.consumer(ConsumerId(1)));
    q.send(0);
    // The bug: c0 asks for 1 ms more than the configured visibility timeout.
    let slow = c0
        .receive(if off_by_one {
            TIMEOUT + Duration::from_millis(1)
        } else {
            TIMEOUT
        })
        .unwrap();
    clock.advance(TIMEOUT + Duration::from_millis(1));
    let fast = c1.receive(TIMEOUT).unwrap();
    assert_eq!(fast.message, MessageId::new(0), "c1 receives m0 again");
    process(&c0, &slow);
    assert!(c0.delete(&slow.receipt).is_err(), "stale");
    process(&c1, &fast);
    c1.delete(&fast.receipt).unwrap();
    q.send(1);
    for c in [&c0, &c1] {
        let d = c.receive(TIMEOUT).unwrap();
        assert_eq!(d.message, MessageId::new(1));
        c.release(&d.receipt).unwrap();
    }
    assert_eq!(q.counts().dead_lettered, 1);
    q.events()
}

fn logs() -> Vec<(&'static str, String)> {
    vec![
        (
            "queue-correct.json",
            queue::to_json(&config(), "correct", &correct_run(false)),
        ),
        (
            "queue-deadline-off-by-one.json",
            queue::to_json(&config(), "correct", &correct_run(true)),
        ),
    ]
}

fn path(name: &str) -> String {
    format!("checks/tests/conform/{name}")
}

/// The committed run logs are what the runs write now (`COORDLAB_BLESS=1` rewrites them).
#[test]
fn committed_run_logs_are_current() {
    for (name, json) in logs() {
        let file = root().join(path(name));
        if std::env::var_os("COORDLAB_BLESS").is_some() {
            std::fs::write(&file, &json).unwrap();
        }
        let committed = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with COORDLAB_BLESS=1)", file.display()));
        assert_eq!(
            committed,
            json,
            "{} is stale: bless with COORDLAB_BLESS=1",
            file.display()
        );
    }
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// A correct run conforms to `queue/correct`: exit 0.
#[test]
fn a_correct_run_conforms() {
    let o = coordlab(&["conform", &path("queue-correct.json")]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert_eq!(
        text(&o.stdout),
        "conforms: the run is a behaviour of queue/correct (15 steps of the implementation, 23 actions of the model)\n"
    );
    assert!(o.stderr.is_empty());
}

/// The same run is not a behaviour of `stale-receipt-delete`: there the broker accepts c0's
/// stale delete, which the real queue refused. Exit 1, at that step.
#[test]
fn a_correct_run_leaves_the_bug_variant_where_the_guard_acts() {
    let o = coordlab(&[
        "conform",
        &path("queue-correct.json"),
        "--variant",
        "stale-receipt-delete",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    assert!(
        out.starts_with("the run diverges from queue/stale-receipt-delete at step 7: [11ms] the queue rejects c0's delete of m0 (delivery #1): stale receipt, the newest delivery is #2\n"),
        "{out}"
    );
    assert!(
        out.contains("  field:          delete of m0\n  model:          accepted\n"),
        "{out}"
    );
}

/// A consumer that asks for 1 ms more than the visibility timeout diverges at its receive,
/// with the field, both sides and the model actions enabled there.
#[test]
fn a_deadline_off_by_one_diverges_readably() {
    let o = coordlab(&["conform", &path("queue-deadline-off-by-one.json")]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert_eq!(
        text(&o.stdout),
        "the run diverges from queue/correct at step 2: [0ms] c0 receives m0 (delivery #1, invisible until 11ms)\n\
         \x20 field:          m0 visibility deadline\n\
         \x20 model:          in flight, visible again in 10 ticks\n\
         \x20 implementation: invisible for 11 ms (until 11ms)\n\
         \x20 enabled in the model there:\n\
         \x20   - producer sends m1\n\
         \x20   - consumer 0 receives m0 (delivery 1); it is hidden for 10 ticks\n\
         \x20   - consumer 1 receives m0 (delivery 1); it is hidden for 10 ticks\n"
    );
}

/// Bad input: exit 2, one line on stderr naming the file and the fault.
#[test]
fn bad_run_logs_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let good: serde_json::Value = serde_json::from_str(&logs()[0].1).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("not-json", "{".into(), "malformed run log"),
        ("no-protocol", "{}".into(), "no `protocol` field"),
        (
            "unknown-protocol",
            with(&|v| v["protocol"] = "paxos".into()),
            "no conformance mapping for protocol `paxos`",
        ),
        (
            "unknown-variant",
            with(&|v| v["variant"] = "no-such-bug".into()),
            "no-such-bug",
        ),
        (
            "events-not-a-list",
            with(&|v| v["events"] = 3.into()),
            "malformed queue run log",
        ),
        (
            "unknown-field",
            with(&|v| v["extra"] = 1.into()),
            "malformed queue run log",
        ),
        (
            "time-backwards",
            with(&|v| v["events"][5]["at"] = 99.into()),
            "recorded at 99 ms",
        ),
        (
            "huge-timeout",
            with(&|v| v["config"]["visibility-timeout-ms"] = 100000.into()),
            "at most 255 ticks",
        ),
        (
            "no-consumer",
            with(&|v| {
                v["events"][1]["event"]
                    .as_object_mut()
                    .unwrap()
                    .remove("consumer")
                    .map(|_| ())
                    .unwrap()
            }),
            "names no consumer",
        ),
        (
            "no-sends",
            with(&|v| v["events"] = serde_json::json!([])),
            "0 messages sent",
        ),
    ];
    for (name, body, needle) in cases {
        let file = tmp.path().join(format!("{name}.json"));
        std::fs::write(&file, body).unwrap();
        let f = file.to_str().unwrap();
        let o = coordlab(&["conform", f]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}{}", text(&o.stdout));
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(f) && err.contains(needle), "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}");
    }
    for (name, args) in [
        ("missing", vec!["conform", "no/such/log.json"]),
        (
            "bad-variant-option",
            vec![
                "conform",
                "checks/tests/conform/queue-correct.json",
                "--variant",
                "nope",
            ],
        ),
    ] {
        let o = coordlab(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(args[1]), "{name}: {err}");
    }
}

/// c0 receives m0 (10 ms), the clock moves `wait` ms, c0 calls `change_visibility(length)`
/// (accepted or refused, as the queue decides), and, if it was accepted, processes and
/// deletes m0. With `other`, c1 receives m0 in between (after the deadline passed).
fn change_visibility_run(wait: u64, length: u64, other: bool) -> Vec<EventRecord> {
    let clock = ManualClock::new();
    let q = new_queue(&clock);
    let (c0, c1) = (q.consumer(ConsumerId(0)), q.consumer(ConsumerId(1)));
    q.send(0);
    let d = c0.receive(TIMEOUT).unwrap();
    clock.advance(Duration::from_millis(wait));
    if other {
        c1.receive(TIMEOUT).unwrap();
    }
    if c0
        .change_visibility(&d.receipt, Duration::from_millis(length))
        .is_ok()
    {
        c0.record_process(&d.receipt, ProcessOutcome::Applied);
        c0.delete(&d.receipt).unwrap();
    }
    q.events()
}

fn check_correct(events: &[EventRecord]) -> Verdict {
    queue::check(&config(), "correct", events).unwrap()
}

/// A consumer that changes its delivery's visibility once, some time after receiving it
/// (the harness's consumer does this before processing, whenever it gets to it): accepted,
/// the deadline moves to the visibility timeout from the call, and the run is a behaviour of
/// the model with `change-visibility` on, the change its `ChangeVisibility`; refused after
/// the deadline (`MessageNotInflight`) or once another consumer has the message (stale),
/// the model's broker refuses it too.
#[test]
fn a_change_visibility_that_moves_the_deadline_conforms() {
    // Send, receive, tick to 6 ms, the change (deadline 16 ms), process, delete.
    let events = change_visibility_run(6, 10, false);
    assert!(
        matches!(
            events[3].event,
            Event::ChangeVisibility { visible_at, .. } if visible_at.as_millis() == 16
        ),
        "{events:?}"
    );
    assert_eq!(
        check_correct(&events),
        Verdict::Conforms {
            model: "queue/correct".into(),
            steps: 6,
            // 6 ticks, and send, receive, change, process, delete.
            actions: 11,
        }
    );
    // Too late, and stale: refused by both.
    for other in [false, true] {
        let events = change_visibility_run(10, 10, other);
        let refused = events.iter().any(|r| {
            matches!(
                r.event,
                Event::Reject {
                    operation: ReceiptOperation::ChangeVisibility,
                    ..
                }
            )
        });
        assert!(refused, "{events:?}");
        assert!(
            matches!(check_correct(&events), Verdict::Conforms { .. }),
            "{:?}",
            check_correct(&events)
        );
    }
}

/// The model's change sets the visibility timeout: a consumer that extends its delivery by
/// another length (here 20 ms where the timeout is 10) diverges at the change, on the
/// deadline.
#[test]
fn a_change_of_another_length_diverges_at_its_deadline() {
    let events = change_visibility_run(6, 20, false);
    let Verdict::Diverges(d) = check_correct(&events) else {
        panic!("conforms: {events:?}");
    };
    assert_eq!(d.step, 4, "{d}");
    assert_eq!(d.mismatch.field, "m0 visibility deadline", "{d}");
    assert_eq!(
        d.mismatch.model, "in flight, visible again in 10 ticks",
        "{d}"
    );
    assert_eq!(
        d.mismatch.implementation, "invisible for 20 ms (until 26ms)",
        "{d}"
    );
}

/// A queue that accepts a change the model refuses is caught at that step: the run of
/// `change_visibility_run` whose change the real queue refused, with the refusal replaced
/// by an accepted change that moves the deadline (the bug: a lapsed delivery, or a stale
/// receipt, extends the message), diverges there, the model saying why it refuses.
#[test]
fn a_change_the_model_refuses_is_caught() {
    for (other, why) in [
        (
            false,
            "refused: not in flight, the delivery's visibility timeout has run out",
        ),
        (true, "refused: stale receipt, the newest delivery is #2"),
    ] {
        let mut events = change_visibility_run(10, 10, other);
        let at = events
            .iter()
            .position(|r| matches!(r.event, Event::Reject { .. }))
            .expect("the real queue refuses");
        let Event::Reject {
            message,
            delivery,
            consumer,
            ..
        } = events[at].event
        else {
            unreachable!()
        };
        events[at].event = Event::ChangeVisibility {
            message,
            delivery,
            consumer,
            visible_at: Instant::from_millis(20),
        };
        let Verdict::Diverges(d) = check_correct(&events) else {
            panic!("conforms: {events:?}");
        };
        assert_eq!(d.step, at + 1, "{d}");
        assert_eq!(d.mismatch.field, "change_visibility of m0", "{d}");
        assert_eq!(d.mismatch.model, why, "{d}");
        assert_eq!(d.mismatch.implementation, "accepted", "{d}");
    }
}
