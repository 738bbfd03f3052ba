//! Reports of a check run: the verdict table, JSON, JUnit XML, and live progress.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::engine::Progress;
use crate::registry::CheckResult;

/// The verdict table, then one line per mismatch saying what to look at.
pub fn table(results: &[CheckResult]) -> String {
    let header = [
        "check", "property", "kind", "checker", "expected", "verdict", "states", "B/state",
        "depth", "time", "",
    ];
    let mut rows: Vec<[String; 11]> = Vec::new();
    for r in results {
        let time = format!("{:.2}s", r.seconds);
        let drift = r.state_count_drift();
        let drifted = |case: &str| drift.iter().any(|f| f.case == case);
        let first_live = r.properties.iter().position(|p| p.kind.is_liveness());
        for (i, p) in r.properties.iter().enumerate() {
            // The check's figures go on its first row only.
            let first = |v: String| if i == 0 { v } else { String::new() };
            // A count that drifted from its pin shows the pin, and its row is a mismatch.
            let (states, count_drifted) = match (p.kind.is_liveness(), r.liveness_states) {
                // Liveness rows show the size of the graph they were checked on.
                (true, Some(n)) if Some(i) == first_live && drifted("liveness-states") => (
                    format!("{n} (pinned {})", r.expected_liveness_states.unwrap_or(0)),
                    true,
                ),
                (true, Some(n)) => (n.to_string(), false),
                _ if i == 0 && drifted("unique-states") => (
                    format!(
                        "{} (pinned {})",
                        r.unique_states,
                        r.expected_unique_states.unwrap_or(0)
                    ),
                    true,
                ),
                _ => (first(r.unique_states.to_string()), false),
            };
            rows.push([
                first(r.display()),
                p.property.to_string(),
                p.kind.as_str().to_string(),
                p.checker.to_string(),
                p.expected.as_str().to_string(),
                p.verdict.as_str().to_string(),
                states,
                first(format!("{:.1}", r.bytes_per_state)),
                first(r.max_depth.to_string()),
                first(time.clone()),
                if p.undecided() {
                    "OUT OF BUDGET".into()
                } else if p.matches() && !count_drifted {
                    "ok".into()
                } else {
                    "MISMATCH".into()
                },
            ]);
        }
    }
    let mut width = header.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            let right = (6..=9).contains(&i);
            if right {
                let _ = write!(l, "{cell:>w$}  ");
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(&mut s, &header);
    for row in &rows {
        line(&mut s, &row.each_ref().map(String::as_str));
    }
    s.push('\n');
    let mut failures = 0;
    for r in results {
        for f in r.failures() {
            failures += 1;
            let _ = writeln!(s, "{}: {}", r.display(), f.message);
        }
        if !r.overrides.is_empty() {
            let _ = writeln!(
                s,
                "{}: bounds changed with --set: state counts not compared with the manifest's pins",
                r.display()
            );
        }
    }
    for r in results {
        for p in r.properties.iter().filter(|p| p.matches()) {
            if let (Some(file), Some(path)) = (&p.trace, &p.counterexample) {
                let steps = file.steps.len() - 1;
                let shape = match file.cycle_start {
                    Some(k) if k == steps => format!("{steps} steps, then stuck forever"),
                    Some(k) => format!(
                        "lasso of {steps} steps, steps {}–{steps} repeat forever",
                        k + 1
                    ),
                    None => crate::count(steps, "step", "steps"),
                };
                let _ = writeln!(
                    s,
                    "{}: {} violated as expected: {shape}: {path}",
                    r.display(),
                    p.property
                );
            }
        }
    }
    let props: usize = results.iter().map(|r| r.properties.len()).sum();
    let _ = writeln!(
        s,
        "{}, {}: {}",
        crate::count(results.len(), "check", "checks"),
        crate::count(props, "property", "properties"),
        if failures == 0 {
            "every verdict as expected".to_string()
        } else {
            crate::count(failures, "mismatch", "mismatches")
        }
    );
    s
}

/// The results as JSON.
pub fn json(results: &[CheckResult]) -> String {
    let checks: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).expect("results serialise");
            v["passed"] = r.passed().into();
            v["failures"] = r
                .failures()
                .into_iter()
                .map(|f| serde_json::json!({"case": f.case, "message": f.message}))
                .collect();
            v
        })
        .collect();
    let value = serde_json::json!({
        "passed": results.iter().all(CheckResult::passed),
        "checks": checks,
    });
    serde_json::to_string_pretty(&value).expect("results serialise")
}

/// A JUnit XML report: one suite per check; one case per property, one per pinned state
/// count, and one for the budget. Every case has the check as its class name and the time
/// of the search that decided it; `pending` properties and unpinned counts are skipped. A
/// case fails exactly when the text report lists a mismatch for it.
pub fn junit(results: &[CheckResult]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("coordlab");
    for r in results {
        let mut suite = TestSuite::new(r.display());
        suite.set_time(Duration::from_secs_f64(r.seconds));
        let failures = r.failures();
        let safety_seconds = r
            .properties
            .iter()
            .find(|p| !p.kind.is_liveness())
            .map_or(r.seconds, |p| p.seconds);
        let live_seconds = r
            .properties
            .iter()
            .find(|p| p.kind.is_liveness())
            .map_or(0.0, |p| p.seconds);
        let status = |case: &str, skipped: Option<&str>| {
            if let Some(f) = failures.iter().find(|f| f.case == case) {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(f.message.clone());
                st
            } else if let Some(why) = skipped {
                let mut st = TestCaseStatus::skipped();
                st.set_message(why.to_string());
                st
            } else {
                TestCaseStatus::success()
            }
        };
        let add = |suite: &mut TestSuite, name: &str, st: TestCaseStatus, secs: f64| {
            let mut case = TestCase::new(name.to_string(), st);
            case.set_classname(r.display());
            case.set_time(Duration::from_secs_f64(secs));
            suite.add_test_case(case);
        };
        add(&mut suite, "budget", status("budget", None), r.seconds);
        let unpinned = (!r.overrides.is_empty())
            .then_some("bounds changed with --set: not compared with the pin");
        let incomplete = (!r.complete).then_some("the search did not finish");
        add(
            &mut suite,
            "unique-states",
            status(
                "unique-states",
                unpinned.or(incomplete).or(r
                    .expected_unique_states
                    .is_none()
                    .then_some("no pin in the manifest")),
            ),
            safety_seconds,
        );
        if r.liveness_states.is_some() || r.expected_liveness_states.is_some() {
            add(
                &mut suite,
                "liveness-states",
                status(
                    "liveness-states",
                    unpinned.or(incomplete).or(r
                        .expected_liveness_states
                        .is_none()
                        .then_some("no pin in the manifest")),
                ),
                live_seconds,
            );
        }
        for p in &r.properties {
            let pending = (p.expected == crate::manifest::Expect::Pending)
                .then_some("expected pending: not checked");
            add(
                &mut suite,
                p.property,
                status(p.property, pending),
                p.seconds,
            );
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("a JUnit report serialises")
}

/// Shows a spinner with states, states/s, depth and elapsed time once a check has run for
/// two seconds; returns when the check is done.
pub fn show_progress(id: &str, progress: &Progress) {
    let start = Instant::now();
    let tick = Duration::from_millis(100);
    while start.elapsed() < Duration::from_secs(2) {
        if progress.done.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(tick);
    }
    let bar = indicatif::ProgressBar::new_spinner();
    while !progress.done.load(Ordering::Relaxed) {
        let states = progress.states.load(Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        bar.set_message(format!(
            "{id}{}: {states} states, {:.0} states/s, depth {}, {:.0}s",
            if progress.graph.load(Ordering::Relaxed) {
                " (liveness graph)"
            } else {
                ""
            },
            states as f64 / secs,
            progress.depth.load(Ordering::Relaxed),
            secs
        ));
        bar.tick();
        std::thread::sleep(tick);
    }
    bar.finish_and_clear();
}
