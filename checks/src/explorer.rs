//! `coordlab explore`: a page on 127.0.0.1 that walks one check's model step by step, in
//! the words of the counterexample traces.
//!
//! The page shows the protocol, the variant and what it changes, the check's bounds (the
//! Configuration table of a trace), and every property — `always`, `sometimes` and the
//! liveness kinds — with its one-sentence doc, the manifest's expectation and the
//! verdict of the check, which runs in a background thread from startup by the same code
//! as `coordlab check` (liveness included). A state is shown as the model's fields, with
//! the real time and each process's own clock; the path to it as numbered steps, each the
//! action's description and only the fields it changed; the enabled actions with the
//! fields each would change. A violated property's counterexample can be walked.
//!
//! # Why not stateright's Explorer
//! stateright's Explorer shows a state as its Rust `Debug` form and an action as
//! `Model::format_action(&action)`, which does not see the state, so it cannot say "granted
//! with token 2"; its property list is `Model::properties()`, which leaves out coordlab's
//! liveness properties (stateright's `eventually` ignores cycles, so coordlab checks them
//! itself) and has no room for the variant, the bounds or the manifest's expectations; and
//! it binds its own address, so it cannot serve a port that `explore` already bound.
//!
//! # The HTTP API
//! Stateless, like stateright's: a state is addressed by its path, replayed on the model
//! for every request. Answers are JSON (UTF-8) with their fields in a fixed order.
//!
//! - `GET /api/check`: the check: `protocol`, `variant`, `summary` (what the variant
//!   changes), `check` (its id, `proto/variant[label]`), `overrides` (`[{name, value}]`:
//!   the bounds changed with `--set`, by name; empty when none), `checker`, `liveness`,
//!   `bounds` (`[{name, value, meaning, overridden}]`, in the traces' order: `meaning` is
//!   the "meaning" column of a trace's Configuration table, or null; `overridden` whether
//!   `--set` changed it), `initial_states` (how many), `properties` (`[{name, kind, doc,
//!   expected}]`).
//! - `GET /api/verdicts`: the background check: `{"status": "running", phase, states,
//!   depth}` while it runs (`phase` is `safety` or `liveness-graph`), then `{"status":
//!   "done", complete, passed, …, verdicts}` with `overrides` (`["key=value"]`, as in
//!   `coordlab check --json`: when not empty, the state counts are not compared with the
//!   manifest's pins and the `expected_…_states` are null) and, per property, `verdict`,
//!   `matches` (the manifest's expectation) and, for a counterexample, its `path` (as
//!   below), `steps` and `cycle_start` (for a lasso: steps after it repeat forever).
//! - `GET /api/state/I/A1/A2/…`: the state reached from initial state `I` (an index into
//!   `Model::init_states`) by taking action `A1`, then `A2`, …, where an action index counts
//!   the *enabled* actions of the state it is taken in: those that change the state, in the
//!   order of `Model::actions`. The answer: `path`, `time` (ticks of real time; null for a model without time),
//!   `local_times` (each process's clock, or null; `initial_local_times` at step 0),
//!   `fields` (`[{name, value}]`),
//!   `properties` (`[{name, kind, holds_here, premise_here, why}]`: the property's
//!   predicate at this state — for a liveness property its goal; `premise_here` for
//!   `leads-to`; `why` for a failing `always`), `steps` (`[{number, action, description,
//!   time, local_times, changes}]`, `changes` being `[{name, before, after}]`) and
//!   `actions` (`[{index, action, description, tick, changes}]`).
//!
//! A malformed or out-of-range path gets HTTP 400 and `{"error": "…"}` naming the step and
//! the fault; when the path is well formed and only an index is out of range, also
//! `valid_prefix`: the longest prefix of the path that names a state (at least the
//! initial state's index). An unknown address gets 404; a method other than GET 405. A
//! request handler that panicked answers 500 and the server goes on.

use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Duration;

use coordlab_models::{Kind, Protocol};
use serde::Serialize;
use tiny_http::{Header, Method, Response, Server};

use crate::engine::Progress;
use crate::manifest::{CheckSpec, Expect, value_text};
use crate::registry::{CheckResult, PropResult, Verdict};
use crate::trace::{self, TraceFile, Typed};

const INDEX_HTML: &str = include_str!("explorer/index.html");
const APP_JS: &str = include_str!("explorer/app.js");
const APP_CSS: &str = include_str!("explorer/app.css");

/// The most steps a path may have. Each request replays its path on the model, so this
/// bounds the work one request can ask for.
pub const MAX_STEPS: usize = 10_000;

/// Threads answering requests: the page asks for a state and the verdicts at once, and
/// neither waits for the background check.
const WORKERS: usize = 4;

/// Serves the explorer of `model` (built from `spec`) on `listener` until the process is
/// stopped and, meanwhile, runs the check by `run` (the same code as `coordlab check`) for
/// its verdicts. Fails only if the server cannot start.
pub fn serve<P: Protocol>(
    model: P,
    spec: &CheckSpec,
    listener: TcpListener,
    run: impl FnOnce(&Progress) -> CheckResult + Send,
) -> Result<(), String> {
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let server = Server::from_listener(listener, None).map_err(|e| e.to_string())?;
    let explorer = Explorer::new(model, spec);
    std::thread::scope(|scope| {
        scope.spawn(|| explorer.run_check(spec, run));
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    match server.recv() {
                        Ok(rq) => explorer.answer(rq, port),
                        // A failed accept (say, out of file descriptors): go on serving.
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            });
        }
    });
    Ok(())
}

/// The check, as `/api/check` shows it.
#[derive(Serialize)]
struct CheckView {
    protocol: &'static str,
    variant: &'static str,
    summary: &'static str,
    check: String,
    /// The bounds changed with `--set`, sorted by name.
    overrides: Vec<Field>,
    checker: &'static str,
    liveness: Option<&'static str>,
    bounds: Vec<BoundView>,
    initial_states: usize,
    properties: Vec<PropView>,
}

#[derive(Serialize)]
struct PropView {
    name: &'static str,
    kind: Kind,
    doc: &'static str,
    expected: Expect,
}

/// One row of the Configuration table.
#[derive(Serialize)]
struct BoundView {
    name: String,
    value: String,
    /// What the bound means for this model and variant, in the words of a trace's
    /// Configuration table (`Protocol::bound_doc`).
    meaning: Option<String>,
    /// Whether `--set` changed it.
    overridden: bool,
}

#[derive(Serialize)]
struct Field {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct Change {
    name: String,
    before: String,
    after: String,
}

/// The background check, as `/api/verdicts` shows it.
#[derive(Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
enum RunView {
    Running {
        /// `safety` (the symmetry-reduced search) or `liveness-graph`.
        phase: &'static str,
        states: usize,
        depth: usize,
    },
    Done(ResultView),
    /// The check itself failed (a bug in coordlab): the message.
    Failed {
        error: String,
    },
}

#[derive(Clone, Serialize)]
struct ResultView {
    /// Whether every search finished (no budget ran out).
    complete: bool,
    /// Whether every verdict and state count matches the manifest (`coordlab check`'s exit 0).
    passed: bool,
    seconds: f64,
    threads: usize,
    /// The bounds changed with `--set`, as `key=value`: then the state counts are not
    /// compared with the manifest's pins (which describe its bounds).
    overrides: Vec<String>,
    unique_states: usize,
    expected_unique_states: Option<usize>,
    liveness_states: Option<usize>,
    expected_liveness_states: Option<usize>,
    /// How the state counts differ from the manifest's pins, in words.
    drift: Vec<String>,
    verdicts: Vec<VerdictView>,
}

#[derive(Clone, Serialize)]
struct VerdictView {
    property: &'static str,
    kind: Kind,
    checker: &'static str,
    expected: Expect,
    verdict: Verdict,
    matches: bool,
    counterexample: Option<CounterexampleView>,
}

#[derive(Clone, Serialize)]
struct CounterexampleView {
    /// Where `coordlab check` writes it.
    file: String,
    /// The explorer path of its last state (the initial state's index, then action indices).
    path: Vec<usize>,
    steps: usize,
    cycle_start: Option<usize>,
}

/// One state, as `/api/state/…` shows it.
#[derive(Serialize)]
struct StateView {
    path: Vec<usize>,
    /// `null` for a model without time.
    time: Option<usize>,
    local_times: Option<String>,
    /// The clocks at step 0, as the traces show them.
    initial_local_times: Option<String>,
    fields: Vec<Field>,
    properties: Vec<PropHere>,
    steps: Vec<StepView>,
    actions: Vec<ActionView>,
}

#[derive(Serialize)]
struct PropHere {
    name: &'static str,
    kind: Kind,
    /// The predicate at this state: for `always` and `sometimes` the property's, for a
    /// liveness property the goal's.
    holds_here: bool,
    /// For `leads-to`: whether the premise holds at this state.
    premise_here: Option<bool>,
    /// For an `always` property false here: why, in the model's words.
    why: Option<String>,
}

#[derive(Serialize)]
struct StepView {
    number: usize,
    action: String,
    description: String,
    /// `null` for a model without time.
    time: Option<usize>,
    local_times: Option<String>,
    changes: Vec<Change>,
}

#[derive(Serialize)]
struct ActionView {
    index: usize,
    action: String,
    description: String,
    /// Whether the action lets one tick of real time pass.
    tick: bool,
    changes: Vec<Change>,
}

/// An HTTP answer.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json<T: Serialize>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status: 200,
                content_type: "application/json; charset=utf-8",
                body,
            },
            Err(e) => Reply::error(500, format!("cannot encode the answer: {e}")),
        }
    }

    fn error(status: u16, message: String) -> Self {
        Self::path_error(
            status,
            PathError {
                message,
                valid_prefix: None,
            },
        )
    }

    fn path_error(status: u16, e: PathError) -> Self {
        #[derive(Serialize)]
        struct Error {
            error: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            valid_prefix: Option<Vec<usize>>,
        }
        let error = Error {
            error: e.message,
            valid_prefix: e.valid_prefix,
        };
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: serde_json::to_vec(&error).unwrap_or_default(),
        }
    }

    fn asset(content_type: &'static str, text: &'static str) -> Self {
        Reply {
            status: 200,
            content_type,
            body: text.as_bytes().to_vec(),
        }
    }
}

/// Why a path names no state.
struct PathError {
    message: String,
    /// The longest prefix of the path that names a state, when there is one.
    valid_prefix: Option<Vec<usize>>,
}

impl From<String> for PathError {
    fn from(message: String) -> Self {
        PathError {
            message,
            valid_prefix: None,
        }
    }
}

struct Explorer<P: Protocol> {
    model: P,
    check: CheckView,
    progress: Progress,
    /// `None` while the background check runs; then its verdicts, or why it failed.
    outcome: Mutex<Option<Result<ResultView, String>>>,
}

/// Each action that changes `state`, with the state it leads to, in the order of
/// `Model::actions`: the index of one in this list is its index in an explorer path.
fn enabled<P: Protocol>(model: &P, state: &P::State) -> Vec<(P::Action, P::State)> {
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    actions
        .into_iter()
        .filter_map(|a| {
            let next = model.next_state(state, a.clone())?;
            (next != *state && model.within_boundary(&next)).then_some((a, next))
        })
        .collect()
}

fn changes<P: Protocol>(model: &P, before: &P::State, after: &P::State) -> Vec<Change> {
    trace::changes(model, before, after)
        .into_iter()
        .map(|(name, before, after)| Change {
            name,
            before,
            after,
        })
        .collect()
}

/// "1 action is", "3 actions are".
fn actions_are(n: usize) -> String {
    match n {
        1 => "1 action is".to_string(),
        n => format!("{n} actions are"),
    }
}

/// The indices of a path: `/0/3/1` (a trailing `/` is allowed).
fn parse_path(text: &str) -> Result<Vec<usize>, String> {
    let text = text.strip_suffix('/').unwrap_or(text);
    if text.is_empty() {
        return Err(
            "the path is empty: it starts with the index of an initial state, as in /api/state/0"
                .to_string(),
        );
    }
    let Some(text) = text.strip_prefix('/') else {
        return Err(format!(
            "`{text}` is not a path: expected /I/A1/A2/…, indices separated by /"
        ));
    };
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() > MAX_STEPS + 1 {
        return Err(format!(
            "the path has {} steps; at most {MAX_STEPS} are explored",
            parts.len() - 1
        ));
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let what = match i {
                0 => "the initial state".to_string(),
                i => format!("step {i}"),
            };
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{what}: `{part}` is not an index (0, 1, 2, …)"));
            }
            part.parse::<usize>()
                .map_err(|_| format!("{what}: `{part}` is too large to be an index"))
        })
        .collect()
}

impl<P: Protocol> Explorer<P> {
    fn new(model: P, spec: &CheckSpec) -> Self {
        let variant = model.variant();
        let summary = P::variants()
            .iter()
            .find(|v| v.id == variant)
            .map_or("", |v| v.summary);
        let bounds = match serde_json::to_value(model.config()) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .map(|(name, v)| BoundView {
                    meaning: model.bound_doc(&name),
                    overridden: spec.overrides.iter().any(|(k, _)| *k == name),
                    value: match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    },
                    name,
                })
                .collect(),
            _ => Vec::new(),
        };
        let properties = P::props()
            .into_iter()
            .map(|p| PropView {
                name: p.name,
                kind: p.kind,
                doc: p.doc,
                expected: spec.expect.get(p.name).copied().unwrap_or(Expect::Pending),
            })
            .collect();
        let check = CheckView {
            protocol: P::ID,
            variant,
            summary,
            check: spec.id(),
            overrides: spec
                .overrides
                .iter()
                .map(|(name, value)| Field {
                    name: name.clone(),
                    value: value_text(value),
                })
                .collect(),
            checker: spec.checker.as_str(),
            liveness: spec.liveness.map(|l| l.as_str()),
            bounds,
            initial_states: model.init_states().len(),
            properties,
        };
        Explorer {
            model,
            check,
            progress: Progress::default(),
            outcome: Mutex::new(None),
        }
    }

    /// Runs the check and keeps its verdicts for `/api/verdicts`.
    fn run_check(&self, spec: &CheckSpec, run: impl FnOnce(&Progress) -> CheckResult) {
        let outcome = match catch_unwind(AssertUnwindSafe(|| run(&self.progress))) {
            Ok(result) => Ok(self.result_view(spec, &result)),
            Err(panic) => Err(format!("the check failed: {}", panic_message(&*panic))),
        };
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }

    fn result_view(&self, spec: &CheckSpec, result: &CheckResult) -> ResultView {
        let verdict = |p: &PropResult| VerdictView {
            property: p.property,
            kind: p.kind,
            checker: p.checker,
            expected: p.expected,
            verdict: p.verdict,
            matches: p.matches(),
            counterexample: p.trace.as_ref().and_then(|file| {
                Some(CounterexampleView {
                    // Where `coordlab check` files it, from the checkout's root.
                    file: format!(
                        "counterexamples/{}/{}.json",
                        spec.trace_dir().to_string_lossy().replace('\\', "/"),
                        p.property
                    ),
                    // A counterexample is a real path of the model, so it maps; if it did
                    // not, the page would offer no walk rather than a wrong one.
                    path: self.counterexample_path(file).ok()?,
                    steps: file.steps.len() - 1,
                    cycle_start: file.cycle_start,
                })
            }),
        };
        ResultView {
            complete: result.complete,
            passed: result.passed(),
            seconds: result.seconds,
            threads: result.threads,
            overrides: result.overrides.clone(),
            unique_states: result.unique_states,
            expected_unique_states: result.expected_unique_states,
            liveness_states: result.liveness_states,
            expected_liveness_states: result.expected_liveness_states,
            drift: result
                .state_count_drift()
                .into_iter()
                .map(|f| f.message)
                .collect(),
            verdicts: result.properties.iter().map(verdict).collect(),
        }
    }

    /// The explorer path of a counterexample: each of its actions as an index among the
    /// actions enabled where it is taken.
    fn counterexample_path(&self, file: &TraceFile) -> Result<Vec<usize>, String> {
        let t = Typed::<P>::decode(file, &file.variant).map_err(|e| e.to_string())?;
        let first = self
            .model
            .init_states()
            .iter()
            .position(|s| *s == t.init)
            .ok_or("its first state is not an initial state")?;
        let mut path = vec![first];
        for (i, (action, after)) in t.steps.iter().enumerate() {
            let index = enabled(&self.model, t.state(i))
                .iter()
                .position(|(a, s)| a == action && s == after)
                .ok_or_else(|| format!("step {}: not an enabled action", i + 1))?;
            path.push(index);
        }
        Ok(path)
    }

    fn answer(&self, rq: tiny_http::Request, port: u16) {
        let host = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Host"))
            .map(|h| h.value.as_str().to_ascii_lowercase());
        let reply = match rq.method() {
            // A page of another site that a browser was tricked into sending here (DNS
            // rebinding) carries that site's name as its Host: only loopback names are
            // served.
            _ if host.as_deref().is_some_and(|h| !is_loopback_host(h, port)) => Reply::error(
                421,
                format!(
                    "this explorer answers only to 127.0.0.1:{port} or localhost:{port}, not `{}`",
                    host.unwrap_or_default()
                ),
            ),
            Method::Get | Method::Head => {
                let url = rq.url().split(['?', '#']).next().unwrap_or("");
                catch_unwind(AssertUnwindSafe(|| self.route(url))).unwrap_or_else(|panic| {
                    Reply::error(500, format!("internal error: {}", panic_message(&*panic)))
                })
            }
            other => Reply::error(405, format!("{other} is not served: only GET")),
        };
        let mut response = Response::from_data(reply.body).with_status_code(reply.status);
        for (name, value) in [
            ("Content-Type", reply.content_type),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ] {
            if let Ok(h) = Header::from_bytes(name, value) {
                response.add_header(h);
            }
        }
        // The browser may have gone away; there is nobody to tell.
        let _ = rq.respond(response);
    }

    fn route(&self, url: &str) -> Reply {
        match url {
            "/" | "/index.html" => Reply::asset("text/html; charset=utf-8", INDEX_HTML),
            "/app.js" => Reply::asset("text/javascript; charset=utf-8", APP_JS),
            "/app.css" => Reply::asset("text/css; charset=utf-8", APP_CSS),
            "/api/check" => Reply::json(&self.check),
            "/api/verdicts" => Reply::json(&self.verdicts()),
            _ => match url.strip_prefix("/api/state") {
                Some(path) if path.is_empty() || path.starts_with('/') => match self.state(path) {
                    Ok(view) => Reply::json(&view),
                    Err(e) => Reply::path_error(400, e),
                },
                _ => Reply::error(404, format!("nothing is served at `{url}`")),
            },
        }
    }

    fn verdicts(&self) -> RunView {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(outcome) = &*self.outcome.lock().unwrap_or_else(|e| e.into_inner()) {
            return match outcome {
                Ok(result) => RunView::Done(result.clone()),
                Err(error) => RunView::Failed {
                    error: error.clone(),
                },
            };
        }
        RunView::Running {
            phase: if self.progress.graph.load(Relaxed) {
                "liveness-graph"
            } else {
                "safety"
            },
            states: self.progress.states.load(Relaxed),
            depth: self.progress.depth.load(Relaxed),
        }
    }

    /// Replays `path` (`/I/A1/…`) and describes the state it reaches.
    fn state(&self, path: &str) -> Result<StateView, PathError> {
        let indices = parse_path(path)?;
        let model = &self.model;
        let inits = model.init_states();
        let init = inits.get(indices[0]).cloned().ok_or_else(|| {
            format!(
                "the initial state: index {} is out of range: the model has {} (0 to {})",
                indices[0],
                match inits.len() {
                    1 => "1 initial state".to_string(),
                    n => format!("{n} initial states"),
                },
                inits.len().saturating_sub(1)
            )
        })?;
        let mut steps: Vec<(P::Action, P::State)> = Vec::with_capacity(indices.len() - 1);
        let mut state = init.clone();
        for (i, &index) in indices[1..].iter().enumerate() {
            let mut options = enabled(model, &state);
            if index >= options.len() {
                let at = match i {
                    0 => "in the initial state".to_string(),
                    i => format!("after step {i}"),
                };
                let message = match options.len() {
                    0 => format!(
                        "step {}: action {index} does not exist: no action is enabled {at}",
                        i + 1
                    ),
                    n => format!(
                        "step {}: action {index} is out of range: {} enabled {at} (0 to {})",
                        i + 1,
                        actions_are(n),
                        n - 1
                    ),
                };
                return Err(PathError {
                    message,
                    valid_prefix: Some(indices[..=i].to_vec()),
                });
            }
            let (action, next) = options.swap_remove(index);
            state = next.clone();
            steps.push((action, next));
        }
        let t = Typed::new(
            P::new(model.variant(), model.config().clone()).map_err(|e| e.to_string())?,
            init,
            steps,
        );
        let times = trace::times(&t);
        let now = times[t.steps.len()];
        let steps = t
            .steps
            .iter()
            .enumerate()
            .map(|(i, (action, _))| StepView {
                number: i + 1,
                action: trace::action_name(action),
                description: model.describe(t.shown(i), t.shown_action(i)),
                time: P::TIMED.then_some(times[i + 1]),
                local_times: model.local_times(t.shown(i + 1), times[i + 1]),
                changes: changes(model, t.shown(i), t.shown(i + 1)),
            })
            .collect();
        let properties = P::props()
            .into_iter()
            .map(|p| {
                let holds = (p.condition)(model, &state);
                PropHere {
                    name: p.name,
                    kind: p.kind,
                    holds_here: holds,
                    premise_here: p.premise.map(|premise| premise(model, &state)),
                    why: (p.kind == Kind::Always && !holds).then(|| model.explain(p.name, &state)),
                }
            })
            .collect();
        let actions = enabled(model, &state)
            .into_iter()
            .enumerate()
            .map(|(index, (action, next))| ActionView {
                index,
                action: trace::action_name(&action),
                description: model.describe(&state, &action),
                tick: model.is_tick(&action),
                changes: changes(model, &state, &next),
            })
            .collect();
        Ok(StateView {
            path: indices,
            time: P::TIMED.then_some(now),
            local_times: model.local_times(&state, now),
            initial_local_times: model.local_times(&t.init, 0),
            fields: model
                .fields(&state)
                .into_iter()
                .map(|(name, value)| Field { name, value })
                .collect(),
            properties,
            steps,
            actions,
        })
    }
}

/// Whether a Host header names this server by a loopback name.
fn is_loopback_host(host: &str, port: u16) -> bool {
    let (name, p) = match host.rsplit_once(':') {
        Some((n, p)) => (n, p.parse::<u16>().ok()),
        None => (host, Some(80)),
    };
    p == Some(port) && matches!(name, "127.0.0.1" | "localhost")
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

#[cfg(test)]
mod tests {
    use super::{is_loopback_host, parse_path};

    /// Only loopback names at the served port pass (a DNS-rebinding page carries its own
    /// site's name).
    #[test]
    fn only_loopback_hosts_are_served() {
        assert!(is_loopback_host("127.0.0.1:3000", 3000));
        assert!(is_loopback_host("localhost:3000", 3000));
        assert!(is_loopback_host("localhost", 80));
        assert!(!is_loopback_host("localhost:3001", 3000));
        assert!(!is_loopback_host("evil.example:3000", 3000));
        assert!(!is_loopback_host("127.0.0.1.evil.example:3000", 3000));
        assert!(!is_loopback_host("localhost:x", 3000));
    }

    #[test]
    fn paths_parse_or_say_which_step_is_wrong() {
        assert_eq!(parse_path("/0"), Ok(vec![0]));
        assert_eq!(parse_path("/0/3/1/"), Ok(vec![0, 3, 1]));
        assert!(parse_path("").unwrap_err().contains("the path is empty"));
        assert!(parse_path("/").unwrap_err().contains("the path is empty"));
        assert_eq!(
            parse_path("/0/x/1").unwrap_err(),
            "step 1: `x` is not an index (0, 1, 2, …)"
        );
        assert_eq!(
            parse_path("/0//1").unwrap_err(),
            "step 1: `` is not an index (0, 1, 2, …)"
        );
        assert_eq!(
            parse_path("/-1").unwrap_err(),
            "the initial state: `-1` is not an index (0, 1, 2, …)"
        );
        assert!(
            parse_path("/0/99999999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        let long = "/0".repeat(super::MAX_STEPS + 2);
        assert!(parse_path(&long).unwrap_err().contains("at most 10000"));
    }
}
