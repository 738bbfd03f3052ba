//! `coordlab conform` on run logs of the real pool (`coordlab_impls::pool`), stepped without
//! threads (`SteppedPool`) so that a run is the same every time, committed under
//! `checks/tests/conform/` and regenerated here: a correct run conforms to
//! `stealing/correct` (exit 0) and not to `lost-wakeup` (exit 1 at the first `Register`, the
//! step that variant's workers skip); a run with the `stale-load-info` deviation conforms to
//! that variant and diverges from `correct` at the placement the stale view misplaces; a
//! run with more than one producer, or a malformed log, is input the model cannot check
//! (exit 2, one line naming the file).
//!
//! Regenerate the committed logs with `COORDLAB_BLESS=1 cargo test --release -p
//! coordlab-checks --test conform_stealing`.

use coordlab_checks::conform::stealing::{Placement, RunConfig, Submit};
use coordlab_checks::conform::{self, Verdict};
use coordlab_impls::pool::{Deviation, Event, Placement as PoolPlacement, Pool, Step};

#[path = "support/run.rs"]
mod run;
use run::root;

/// What `coordlab` said: the exit code, stdout, stderr.
struct Said {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn coordlab(args: &[&str]) -> Said {
    let o = run::coordlab(args);
    Said {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

const WORKERS: usize = 2;
const TASKS: usize = 5;

fn config(placement: Placement) -> RunConfig {
    RunConfig {
        workers: WORKERS,
        capacity: 1,
        placement,
        submit: Submit::Try,
        producers: 1,
    }
}

/// One producer `try_submit`s five tasks into two workers with queues of one, and the two
/// workers are stepped in turn, worker 1 twice as often: the producer's first burst is
/// refused at a full queue, workers search, register, check again, park and are woken, and
/// worker 1 steals. After the burst the producer tries once every third round; a refused
/// task is tried again.
fn stepped_run(placement: PoolPlacement, deviation: Option<Deviation>) -> Vec<Event> {
    let mut pool = Pool::builder()
        .workers(WORKERS)
        .capacity(1)
        .placement(placement)
        .record(true)
        .deviation(deviation)
        .build_stepped()
        .expect("valid settings");
    let mut accepted = 0;
    for round in 0..200 {
        // A burst of three first (two queues of one: the third is refused), then one try
        // every third round.
        let tries = match round {
            0 => 3,
            r if r % 3 == 0 => 1,
            _ => 0,
        };
        for _ in 0..tries {
            if accepted < TASKS && pool.try_submit(|| {}).is_ok() {
                accepted += 1;
            }
        }
        for w in [0, 1, 1] {
            let _: Step = pool.step(w);
        }
    }
    assert_eq!(accepted, TASKS, "every task accepted within the run");
    let events = pool.events();
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::Finish { .. }))
        .count();
    assert_eq!(finished, TASKS, "every task ran");
    events
}

fn log_json(config: &RunConfig, variant: &str, events: &[Event]) -> String {
    conform::run_log_json("stealing", config, variant, events)
}

/// The committed log `name` is exactly `text` (`COORDLAB_BLESS=1` rewrites it).
fn committed(name: &str, text: &str) -> std::path::PathBuf {
    let file = root().join("checks/tests/conform").join(name);
    if std::env::var_os("COORDLAB_BLESS").is_some() {
        std::fs::write(&file, text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with COORDLAB_BLESS=1)", file.display()));
    assert!(
        on_disk == text,
        "{} is stale: bless with COORDLAB_BLESS=1",
        file.display()
    );
    file
}

/// A correct run conforms to `stealing/correct`, and its workers took every step of the
/// sleep protocol; the same log is not a behaviour of `lost-wakeup`, whose workers never
/// register: it diverges at the first `Register`.
#[test]
fn a_correct_pool_run_conforms_and_relies_on_registering() {
    let events = stepped_run(PoolPlacement::RoundRobin, None);
    for step in ["Register", "Recheck", "Steal", "Refuse", "Notify"] {
        assert!(
            events.iter().any(|e| format!("{e:?}").starts_with(step)),
            "the run has a {step}"
        );
    }
    let file = committed(
        "stealing-correct.json",
        &log_json(&config(Placement::RoundRobin), "correct", &events),
    );
    let out = coordlab(&["conform", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("a behaviour of stealing/correct"),
        "{}",
        out.stdout
    );

    let register = events
        .iter()
        .position(|e| matches!(e, Event::Register { .. }))
        .unwrap();
    let out = coordlab(&[
        "conform",
        file.to_str().unwrap(),
        "--variant",
        "lost-wakeup",
    ]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("at step {}", register + 1)),
        "{}",
        out.stdout
    );
}

/// A run with the `stale-load-info` deviation (least-loaded by a view that counts
/// placements and never sees a take) conforms to that variant and diverges from `correct`
/// at the first placement where the two choices differ.
#[test]
fn a_stale_load_info_run_conforms_to_its_variant_only() {
    let events = stepped_run(PoolPlacement::LeastLoaded, Some(Deviation::StaleLoadInfo));
    let file = committed(
        "stealing-stale-load-info.json",
        &log_json(&config(Placement::LeastLoaded), "stale-load-info", &events),
    );
    let out = coordlab(&["conform", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let config = config(Placement::LeastLoaded);
    match conform::conform::<conform::stealing::StealingConformance>(&config, "correct", &events)
        .unwrap()
    {
        Verdict::Diverges(d) => {
            assert!(
                matches!(
                    events[d.step - 1],
                    Event::Submit { .. } | Event::Refuse { .. }
                ),
                "diverges at a placement: {d}"
            );
        }
        other => panic!("a stale-load-info run conforms to correct: {other:?}"),
    }
    let out = coordlab(&["conform", file.to_str().unwrap(), "--variant", "correct"]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
}

/// Input the model cannot check is exit 2 with one line naming the file: two producers, a
/// worker outside the pool.
#[test]
fn unmappable_or_malformed_pool_logs_are_bad_input() {
    let events = stepped_run(PoolPlacement::RoundRobin, None);
    let dir = tempfile::tempdir().unwrap();
    let two = RunConfig {
        producers: 2,
        ..config(Placement::RoundRobin)
    };
    let mut outside = events.clone();
    outside[0] = Event::Submit { task: 0, worker: 7 };
    for (name, text, says) in [
        (
            "two.json",
            log_json(&two, "correct", &events),
            "one producer",
        ),
        (
            "outside.json",
            log_json(&config(Placement::RoundRobin), "correct", &outside),
            "worker 7",
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = coordlab(&["conform", file.to_str().unwrap()]);
        assert_eq!(out.code, Some(2), "{name}: {}{}", out.stdout, out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.contains(name) && out.stderr.contains(says),
            "{}",
            out.stderr
        );
    }
}
