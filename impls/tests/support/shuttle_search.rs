//! Shuttle searches shared by the protocols' test binaries (`#[path]`-included): run a
//! scenario under a seeded scheduler until a run fails, keep that run's schedule (the string
//! `shuttle::replay` takes) and report, replay a schedule, and keep committed
//! counterexample files current.
//!
//! A *run* is a closure that executes one scenario and returns its report together with the
//! failure message if the run counts as failing. The search makes shuttle see that failure as
//! a panic, which is how shuttle stops and reports a schedule.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::rc::Rc;

use shuttle::scheduler::{PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId};
use shuttle::{Config, Runner};

/// What a search found.
pub struct Found<R> {
    /// The search's seed.
    pub seed: u64,
    /// 1-based: the failing run was the search's `iteration`-th.
    pub iteration: usize,
    /// `shuttle::replay`'s schedule string.
    pub schedule: String,
    /// The failure message.
    pub message: String,
    /// The failing run's report.
    pub report: R,
}

/// A scheduler wrapper that records the current execution's schedule, exactly as shuttle does
/// for its own failure report (every task choice and every random draw), so the failing
/// schedule is available to the test and not only printed on stderr.
struct Recording<S> {
    inner: S,
    state: Rc<RefCell<(usize, Schedule)>>,
}

impl<S: Scheduler> Scheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let schedule = self.inner.new_execution()?;
        let mut state = self.state.borrow_mut();
        state.0 += 1;
        state.1 = schedule.clone();
        Some(schedule)
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let next = self.inner.next_task(runnable, current, is_yielding);
        if let Some(task) = next {
            self.state.borrow_mut().1.push_task(task);
        }
        next
    }

    fn next_u64(&mut self) -> u64 {
        self.state.borrow_mut().1.push_random();
        self.inner.next_u64()
    }
}

thread_local! {
    /// The report of the last run on this thread (shuttle runs every task of an execution on
    /// the test's own thread, so the run can leave its report here).
    static LAST_REPORT: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// The closure shuttle runs: `run`, leaving its report behind, then a panic with the failure
/// message if the run counts as failing.
fn checked<R: 'static>(
    run: impl Fn() -> (R, Option<String>) + Send + Sync + 'static,
) -> impl Fn() + Send + Sync + 'static {
    move || {
        let (report, failure) = run();
        LAST_REPORT.with(|r| *r.borrow_mut() = Some(Box::new(report)));
        if let Some(message) = failure {
            panic!("{message}");
        }
    }
}

fn take_report<R: 'static>() -> R {
    let report = LAST_REPORT
        .with(|r| r.borrow_mut().take())
        .expect("a run leaves its report");
    *report.downcast().expect("the report type of this search")
}

/// A panic payload as text.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "non-string panic".to_owned())
}

/// Shuttle's configuration for the searches.
pub fn shuttle_config() -> Config {
    let mut config = Config::new();
    // The only atomics are the harnesses' manual clocks; shuttle's warning about its atomics
    // is noise here.
    config.silence_warnings = true;
    config
}

/// Runs `run` under shuttle's random scheduler from `seed` for up to `max_iterations` runs;
/// returns the first failing run, if any.
pub fn search_random<R: 'static>(
    run: impl Fn() -> (R, Option<String>) + Send + Sync + 'static,
    seed: u64,
    max_iterations: usize,
) -> Option<Found<R>> {
    search_with(
        run,
        seed,
        RandomScheduler::new_from_seed(seed, max_iterations),
    )
}

/// As [`search_random`], with PCT at `depth`.
pub fn search_pct<R: 'static>(
    run: impl Fn() -> (R, Option<String>) + Send + Sync + 'static,
    seed: u64,
    depth: usize,
    max_iterations: usize,
) -> Option<Found<R>> {
    search_with(
        run,
        seed,
        PctScheduler::new_from_seed(seed, depth, max_iterations),
    )
}

fn search_with<R: 'static>(
    run: impl Fn() -> (R, Option<String>) + Send + Sync + 'static,
    seed: u64,
    scheduler: impl Scheduler + 'static,
) -> Option<Found<R>> {
    let state = Rc::new(RefCell::new((0, Schedule::new(0))));
    let scheduler = Recording {
        inner: scheduler,
        state: Rc::clone(&state),
    };
    let runner = Runner::new(scheduler, shuttle_config());
    let f = checked(run);
    let payload = catch_unwind(AssertUnwindSafe(|| runner.run(f))).err()?;
    let (iteration, schedule) = state.borrow().clone();
    Some(Found {
        seed,
        iteration,
        schedule: shuttle_engine::scheduler::serialization::serialize_schedule(&schedule)
            .replace('\n', ""),
        message: panic_message(&*payload),
        report: take_report(),
    })
}

/// Replays `schedule` on `run`; returns the failure message (if the replay failed) and the
/// run's report.
pub fn replay<R: 'static>(
    run: impl Fn() -> (R, Option<String>) + Send + Sync + 'static,
    schedule: &str,
) -> (Option<String>, R) {
    let f = checked(run);
    let outcome = catch_unwind(AssertUnwindSafe(|| shuttle::replay(f, schedule)));
    let report = take_report();
    (outcome.err().map(|p| panic_message(&*p)), report)
}

pub use crate::files::{bless_or_compare, workspace_root};

/// The shuttle version in the workspace's Cargo.lock.
pub fn shuttle_version() -> String {
    crate::files::locked_version("shuttle")
}

/// The committed implementation counterexamples of `protocol` with extension `ext`
/// (`counterexamples/<protocol>/impl-*/*.<ext>`), sorted.
pub fn committed_files(protocol: &str, ext: &str) -> Vec<PathBuf> {
    let root = workspace_root().join("counterexamples").join(protocol);
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let dir = dir.unwrap().path();
        if !dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("impl-"))
        {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == ext) {
                files.push(file);
            }
        }
    }
    files.sort();
    files
}

/// Asserts that every committed `.json` has its `.md` twin, and the other way round.
pub fn assert_json_md_twins(protocol: &str) {
    let stems = |ext| -> Vec<PathBuf> {
        committed_files(protocol, ext)
            .into_iter()
            .map(|p| p.with_extension(""))
            .collect()
    };
    let json = stems("json");
    assert!(
        !json.is_empty(),
        "no {protocol} implementation counterexamples"
    );
    assert_eq!(json, stems("md"));
}
