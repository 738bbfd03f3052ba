//! The scenarios on std threads: many tasks, both placements, every submission mode, a
//! stalled worker, and a shutdown while producers are still submitting.

use coordlab_checks::conform::{self, Verdict, stealing::StealingConformance};
use coordlab_impls::pool::{BuildError, Event, Placement, Pool};

use super::harness::{Mode, Report, Scenario, run};

fn scenario(placement: Placement, producers: Vec<Mode>) -> Scenario {
    Scenario {
        workers: 4,
        capacity: 8,
        placement,
        producers,
        tasks: 5_000,
        stall: Some(0),
        deviation: None,
        // 1 ms polls: 10 s without any task accepted or finished.
        patience: 10_000,
        shutdown_at: None,
    }
}

fn assert_clean(report: &Report, accepted: usize) {
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.accepted, accepted);
    assert_eq!(report.ran + report.returned, accepted);
}

/// Every accepted task runs exactly once, refused ones never, nothing after shutdown; one
/// worker is stalled in a task that waits until every other task has run, so the tasks
/// round-robin keeps placing on it must be stolen. Both placements, every submission mode.
#[test]
fn every_accepted_task_runs_once_while_a_worker_stalls() {
    for placement in [Placement::RoundRobin, Placement::LeastLoaded] {
        for producers in [
            vec![Mode::Blocking],
            vec![Mode::Blocking, Mode::Try],
            vec![Mode::Mixed, Mode::Mixed],
        ] {
            let s = scenario(placement, producers.clone());
            let report = run(&s);
            assert_clean(&report, s.tasks * producers.len());
            assert_eq!(report.returned, 0, "{placement:?} {producers:?}");
            assert!(
                report
                    .events
                    .iter()
                    .any(|e| matches!(e, coordlab_impls::pool::Event::Steal { .. })),
                "the stalled worker's queue was drained by stealing"
            );
        }
    }
}

/// `try_submit` is refused when the chosen queue is full, and a refused task never runs.
#[test]
fn try_submit_refuses_at_a_full_queue() {
    let s = Scenario {
        capacity: 1,
        tasks: 2_000,
        ..scenario(Placement::RoundRobin, vec![Mode::Try, Mode::Try])
    };
    let report = run(&s);
    assert_clean(&report, 4_000);
    assert!(
        report.refused > 0,
        "capacity 1 with two producers refuses some"
    );
}

/// A shutdown while producers still submit: every accepted task ran or came back, never
/// both; no task started after `shutdown` returned; producers get their tasks back.
#[test]
fn shutdown_returns_exactly_the_unstarted_tasks() {
    for placement in [Placement::RoundRobin, Placement::LeastLoaded] {
        let s = Scenario {
            shutdown_at: Some(3_000),
            ..scenario(placement, vec![Mode::Blocking, Mode::Mixed])
        };
        let report = run(&s);
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert!(report.accepted >= 3_000 && report.accepted < 10_000);
        assert_eq!(report.ran + report.returned, report.accepted);
    }
}

/// `shutdown` waits for the task a worker runs, and returns the tasks queued behind it,
/// which never run: one worker, blocked in t0 until a helper opens its gate.
#[test]
fn shutdown_waits_for_the_running_task_and_returns_the_queued_ones() {
    use coordlab_impls::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
        thread,
    };
    let pool = Pool::builder().workers(1).capacity(8).build().unwrap();
    let (started_tx, started_rx) = crossbeam_channel::bounded(1);
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    pool.submit(move || {
        started_tx.send(()).unwrap();
        gate_rx.recv().unwrap();
        r.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    started_rx.recv().unwrap();
    for _ in 0..3 {
        let r = Arc::clone(&ran);
        pool.submit(move || {
            r.fetch_add(100, Ordering::SeqCst);
        })
        .unwrap();
    }
    let opener = thread::spawn(move || {
        thread::sleep(std::time::Duration::from_millis(50));
        gate_tx.send(()).unwrap();
    });
    let returned = pool.shutdown();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "t0 finished before shutdown returned"
    );
    assert_eq!(returned.len(), 3);
    opener.join().unwrap();
    for task in returned {
        task();
    }
    assert_eq!(ran.load(Ordering::SeqCst), 301);
}

/// Settings out of range are refused with a typed error.
#[test]
fn bad_settings_are_refused() {
    assert_eq!(
        Pool::builder().workers(0).build().unwrap_err(),
        BuildError::Workers {
            workers: 0,
            max: coordlab_impls::pool::MAX_WORKERS
        }
    );
    assert_eq!(
        Pool::builder()
            .workers(5000)
            .build()
            .unwrap_err()
            .to_string(),
        "workers must be 1..=1024, not 5000"
    );
    assert_eq!(
        Pool::builder().capacity(0).build().unwrap_err(),
        BuildError::ZeroCapacity
    );
}

/// A task that panics does not take its worker down; the pool counts it.
#[test]
fn a_panicking_task_is_counted_and_the_worker_goes_on() {
    let pool = Pool::builder().workers(1).capacity(4).build().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    pool.submit(|| panic!("a task panics")).unwrap();
    pool.submit(move || tx.send(()).unwrap()).unwrap();
    rx.recv().unwrap();
    assert_eq!(pool.panicked(), 1);
    assert!(pool.shutdown().is_empty());
    assert!(
        pool.shutdown().is_empty(),
        "a second shutdown returns nothing"
    );
    assert!(matches!(
        pool.try_submit(|| {}),
        Err(coordlab_impls::pool::TrySubmitError::ShutDown(_))
    ));
}

/// Every run the `stealing` model can express — one producer, 4 workers, queues of 2, 40
/// tasks, a stalled worker — is one of the model's behaviours: its event log, replayed on
/// the model (`ConformsToModel`, checked by `harness::run` on every such run), takes only
/// enabled actions and agrees at every step. Both placements, `submit` and `try_submit`, 25
/// runs each.
#[test]
fn single_producer_runs_conform_to_the_model() {
    for placement in [Placement::RoundRobin, Placement::LeastLoaded] {
        for mode in [Mode::Blocking, Mode::Try] {
            let s = Scenario {
                capacity: 2,
                tasks: 40,
                ..scenario(placement, vec![mode])
            };
            assert!(
                super::harness::conformance_config(&s).is_some(),
                "the model expresses {placement:?} {mode:?}"
            );
            let mut last = None;
            for _ in 0..25 {
                let report = run(&s);
                assert_clean(&report, 40);
                assert!(report.events.len() > 80, "{} events", report.events.len());
                last = Some(report);
            }
            // The check has teeth: the last log conforms step for step, and the same log with
            // its first placement moved to another worker diverges exactly there.
            let events = last.expect("runs").events;
            let config = super::harness::conformance_config(&s).expect("expressible");
            let check = |events: &[Event]| {
                conform::conform::<StealingConformance>(&config, "correct", events).unwrap()
            };
            assert!(
                matches!(check(&events), Verdict::Conforms { steps, .. } if steps == events.len())
            );
            let mut moved = events.clone();
            let at = moved
                .iter()
                .position(|e| matches!(e, Event::Submit { .. }))
                .expect("a placement");
            if let Event::Submit { worker, .. } = &mut moved[at] {
                *worker = (*worker + 1) % s.workers;
            }
            match check(&moved) {
                Verdict::Diverges(d) => assert_eq!(d.step, at + 1, "{d}"),
                other => panic!("a moved placement conforms: {other:?}"),
            }
        }
    }
}
