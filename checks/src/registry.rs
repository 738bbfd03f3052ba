//! The protocols coordlab knows, behind one object-safe interface so that the CLI can
//! dispatch on a protocol id read from the command line, a manifest or a trace file.
//! Adding a protocol is one line in [`protocols`].

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use coordlab_models::election::ElectionModel;
use coordlab_models::queue::QueueModel;
use coordlab_models::{Kind, Protocol, Variant};
use serde::Serialize;

use crate::engine::{Budget, Exploration, Progress, Steps};
use crate::liveness;
use crate::manifest::{CheckSpec, Expect};
use crate::trace::{self, DecodeError, Format, Replay, TraceFile, Typed};

/// Every protocol, in the order `list` shows them.
pub fn protocols() -> Vec<Box<dyn Entry>> {
    vec![
        Box::new(Handle::<QueueModel>(PhantomData)),
        Box::new(Handle::<ElectionModel>(PhantomData)),
    ]
}

/// Looks up a protocol by id.
pub fn find(id: &str) -> Option<Box<dyn Entry>> {
    protocols().into_iter().find(|p| p.id() == id)
}

/// A property as `list` shows it.
pub struct PropInfo {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

/// The verdict of one property in one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Holds,
    Violated,
    /// Not checked by this version (a liveness property before the liveness checker).
    Pending,
    /// The search ran out of time before it could decide.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Pending => "pending",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One row of the verdict table.
#[derive(Clone, Debug, Serialize)]
pub struct PropResult {
    pub property: &'static str,
    pub kind: Kind,
    /// The checker that decided it (`bfs`, `fair-cycles`), `-` when pending.
    pub checker: &'static str,
    pub expected: Expect,
    pub verdict: Verdict,
    /// Where the counterexample was written (set by the caller that writes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<String>,
    /// The counterexample, for a violated `always` property.
    #[serde(skip)]
    pub trace: Option<(TraceFile, String)>,
}

impl PropResult {
    /// Whether the verdict is what the manifest expects.
    pub fn matches(&self) -> bool {
        matches!(
            (self.expected, self.verdict),
            (Expect::Pending, _)
                | (Expect::Holds, Verdict::Holds)
                | (Expect::Violated, Verdict::Violated)
        )
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub bounds: String,
    /// States explored for the safety and reachability properties (symmetry-reduced).
    pub unique_states: usize,
    pub expected_unique_states: Option<usize>,
    /// States of the transition graph the liveness properties were checked on (without
    /// symmetry reduction), if any were.
    pub liveness_states: Option<usize>,
    pub expected_liveness_states: Option<usize>,
    pub max_depth: usize,
    pub complete: bool,
    pub seconds: f64,
    pub threads: usize,
    pub properties: Vec<PropResult>,
}

impl CheckResult {
    pub fn state_count_matches(&self) -> bool {
        self.state_count_drift().is_empty()
    }

    /// How the explored state counts differ from the manifest's pins.
    pub fn state_count_drift(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.complete {
            return out; // an unfinished search says nothing about the size
        }
        if let Some(n) = self.expected_unique_states
            && n != self.unique_states
        {
            out.push(format!(
                "explored {} unique states, the manifest pins {n} (unique-states)",
                self.unique_states
            ));
        }
        if let Some(n) = self.expected_liveness_states
            && Some(n) != self.liveness_states
        {
            let got = self
                .liveness_states
                .map_or("no".to_string(), |g| g.to_string());
            out.push(format!(
                "the liveness graph has {got} states, the manifest pins {n} (liveness-states)"
            ));
        }
        out
    }

    /// Whether every verdict and the state count match the manifest.
    pub fn passed(&self) -> bool {
        self.complete
            && self.state_count_matches()
            && self.properties.iter().all(PropResult::matches)
    }
}

/// A protocol, with its types erased.
pub trait Entry {
    fn id(&self) -> &'static str;
    fn variants(&self) -> &'static [Variant];
    fn props(&self) -> Vec<PropInfo>;
    /// Checks that a manifest entry builds a model and names every property; returns the
    /// bounds as one line.
    fn validate(&self, spec: &CheckSpec) -> Result<String, String>;
    fn run(
        &self,
        spec: &CheckSpec,
        threads: usize,
        timeout: Option<Duration>,
        progress: &Progress,
    ) -> CheckResult;
    fn render(
        &self,
        file: &TraceFile,
        format: Format,
        path: Option<&str>,
    ) -> Result<String, DecodeError>;
    fn replay(&self, file: &TraceFile, variant: &str) -> Result<Replay, DecodeError>;
    /// Serves an explorer of the check's model on `listener` (already bound, so a busy
    /// port is reported before anything is printed); returns when the server stops.
    fn explore(&self, spec: &CheckSpec, listener: std::net::TcpListener) -> Result<(), String>;
    /// Random walks of a check's model: seeds `0..seeds`, at most `depth` steps each.
    fn simulate(&self, spec: &CheckSpec, seeds: u64, depth: usize) -> SimResult;
}

/// One property's row of a simulation.
pub struct SimRow {
    pub property: &'static str,
    pub kind: Kind,
    pub expected: Expect,
    /// What the walks saw, in words.
    pub outcome: String,
    /// `None` for liveness properties, which are not simulated.
    pub matches: Option<bool>,
    /// The walk that falsified an `always` property: JSON and its text rendering.
    pub trace: Option<(TraceFile, String, String)>,
}

/// The outcome of `simulate`.
pub struct SimResult {
    pub id: String,
    pub steps: u64,
    pub rows: Vec<SimRow>,
}

struct Handle<P>(PhantomData<fn() -> P>);

/// Builds the model of a variant at the bounds of a manifest entry.
pub fn model<P: Protocol>(variant: &str, bounds: &toml::Table) -> Result<P, String> {
    let config: P::Config =
        toml::Value::Table(bounds.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                format!("bounds: {}", e.message().trim().replace('\n', " "))
            })?;
    P::new(variant, config).map_err(|e| e.to_string())
}

impl<P: Protocol> Handle<P> {
    fn model(&self, variant: &str, bounds: &toml::Table) -> Result<P, String> {
        model(variant, bounds)
    }
}

impl<P: Protocol> Entry for Handle<P> {
    fn id(&self) -> &'static str {
        P::ID
    }

    fn variants(&self) -> &'static [Variant] {
        P::variants()
    }

    fn props(&self) -> Vec<PropInfo> {
        P::props()
            .into_iter()
            .map(|p| PropInfo {
                name: p.name,
                kind: p.kind,
                doc: p.doc,
            })
            .collect()
    }

    fn validate(&self, spec: &CheckSpec) -> Result<String, String> {
        let model = self.model(&spec.variant, &spec.bounds)?;
        let props = P::props();
        for name in spec.expect.keys() {
            if !props.iter().any(|p| p.name == name) {
                let known: Vec<&str> = props.iter().map(|p| p.name).collect();
                return Err(format!(
                    "{}: unknown property `{name}` (known: {})",
                    spec.id(),
                    known.join(", ")
                ));
            }
        }
        if let Some(p) = props.iter().find(|p| !spec.expect.contains_key(p.name)) {
            return Err(format!(
                "{}: no expectation for property `{}`",
                spec.id(),
                p.name
            ));
        }
        let live = props
            .iter()
            .find(|p| p.kind.is_liveness() && spec.expect[p.name] != Expect::Pending);
        if let Some(p) = live
            && spec.liveness.is_none()
        {
            return Err(format!(
                "{}: `{}` is a liveness property ({}): name its checker with `liveness = \"fair-cycles\"`",
                spec.id(),
                p.name,
                p.kind.as_str()
            ));
        }
        Ok(bounds_line(
            &serde_json::to_value(model.config()).expect("config serialises"),
        ))
    }

    fn run(
        &self,
        spec: &CheckSpec,
        threads: usize,
        timeout: Option<Duration>,
        progress: &Progress,
    ) -> CheckResult {
        let model = self
            .model(&spec.variant, &spec.bounds)
            .expect("validated before running");
        let bounds = bounds_line(&serde_json::to_value(model.config()).expect("config serialises"));
        let props = P::props();
        // One deadline for the whole check, safety and liveness together.
        let budget = Budget::new(threads, timeout);
        let needs_graph = spec.liveness.is_some()
            && props
                .iter()
                .any(|p| p.kind.is_liveness() && spec.expect[p.name] != Expect::Pending);
        let started = Instant::now();
        let encode = |m: &P,
                      p: &coordlab_models::Prop<P>,
                      init: P::State,
                      steps: Steps<P>,
                      cycle: Option<usize>| {
            let file = trace::encode(m, p.name, p.kind, &init, &steps, cycle);
            let typed = Typed {
                model: P::new(m.variant(), m.config().clone()).expect("same model"),
                init,
                steps,
            };
            let md = trace::markdown(&file, &typed, Some(&canonical_path(spec, p.name)));
            (file, md)
        };
        // Safety and reachability first, on the symmetry-reduced states; that search is
        // dropped before the liveness graph is built, so the two never share the memory.
        let liveness_model = P::new(model.variant(), model.config().clone()).expect("same model");
        let ex = Exploration::run(model, budget, progress);
        let mut verdicts: Vec<(Verdict, Option<(TraceFile, String)>)> = props
            .iter()
            .enumerate()
            .map(|(i, p)| match (p.kind, ex.first_hit(i), ex.complete) {
                (k, _, _) if k.is_liveness() => (Verdict::Pending, None),
                (Kind::Always, Some(id), _) => {
                    let (init, steps) = ex.path_to(id);
                    (
                        Verdict::Violated,
                        Some(encode(&ex.model, p, init, steps, None)),
                    )
                }
                (_, Some(_), _) => (Verdict::Holds, None),
                (_, None, false) => (Verdict::Unknown, None),
                (Kind::Always, None, true) => (Verdict::Holds, None),
                (_, None, true) => (Verdict::Violated, None),
            })
            .collect();
        let (unique_states, max_depth, safety_complete) =
            (ex.unique_states(), ex.max_depth(), ex.complete);
        drop(ex);
        let mut liveness_states = None;
        let mut liveness_complete = true;
        if needs_graph {
            let live = Exploration::run(
                liveness_model,
                Budget {
                    graph: true,
                    ..budget
                },
                progress,
            );
            liveness_states = Some(live.unique_states());
            liveness_complete = live.complete;
            for (p, slot) in props.iter().zip(&mut verdicts) {
                if !p.kind.is_liveness() {
                    continue;
                }
                *slot = if !live.complete {
                    (Verdict::Unknown, None)
                } else {
                    match liveness::check(&live, p) {
                        None => (Verdict::Holds, None),
                        Some(l) => (
                            Verdict::Violated,
                            Some(encode(&live.model, p, l.init, l.steps, Some(l.cycle_start))),
                        ),
                    }
                };
            }
        }
        progress
            .done
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let properties = props
            .iter()
            .zip(verdicts)
            .map(|(p, (verdict, trace))| {
                let checker = match (p.kind.is_liveness(), spec.liveness) {
                    (false, _) => spec.checker.as_str(),
                    (true, Some(l)) if verdict != Verdict::Pending => l.as_str(),
                    (true, _) => "-",
                };
                PropResult {
                    property: p.name,
                    kind: p.kind,
                    checker,
                    counterexample: None,
                    expected: spec.expect[p.name],
                    verdict,
                    trace,
                }
            })
            .collect();
        CheckResult {
            id: spec.id(),
            bounds,
            unique_states,
            expected_unique_states: spec.unique_states,
            liveness_states,
            expected_liveness_states: spec.liveness_states,
            max_depth,
            complete: safety_complete && liveness_complete,
            seconds: started.elapsed().as_secs_f64(),
            threads,
            properties,
        }
    }

    fn render(
        &self,
        file: &TraceFile,
        format: Format,
        path: Option<&str>,
    ) -> Result<String, DecodeError> {
        let typed = Typed::<P>::decode(file, &file.variant)?;
        Ok(match format {
            Format::Text => trace::text(file, &typed),
            Format::Markdown => trace::markdown(file, &typed, path),
            Format::Mermaid => trace::mermaid(file, &typed),
            Format::Json => file.to_json(),
        })
    }

    fn replay(&self, file: &TraceFile, variant: &str) -> Result<Replay, DecodeError> {
        let typed = Typed::<P>::decode(file, variant)?;
        Ok(trace::replay(file, &typed))
    }

    fn explore(&self, spec: &CheckSpec, listener: std::net::TcpListener) -> Result<(), String> {
        let model = self.model(&spec.variant, &spec.bounds)?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        // stateright binds the address itself: hand it over.
        drop(listener);
        model.checker().serve(address);
        Ok(())
    }

    fn simulate(&self, spec: &CheckSpec, seeds: u64, depth: usize) -> SimResult {
        let model: P = self
            .model(&spec.variant, &spec.bounds)
            .expect("validated before running");
        let sim = crate::simulate::run(&model, seeds, depth);
        let rows = P::props()
            .iter()
            .zip(sim.found)
            .map(|(p, f)| {
                let expected = spec.expect[p.name];
                if p.kind.is_liveness() {
                    return SimRow {
                        property: p.name,
                        kind: p.kind,
                        expected,
                        outcome: "not simulated (liveness)".into(),
                        matches: None,
                        trace: None,
                    };
                }
                let seen = f.hit.is_some();
                let outcome = match (&f.hit, p.kind) {
                    (Some((seed, _, steps)), Kind::Always) => {
                        format!("violated: seed {seed}, step {}", steps.len())
                    }
                    (Some((seed, _, steps)), _) => {
                        format!("reached: seed {seed}, step {}", steps.len())
                    }
                    (None, Kind::Always) => format!("no violation in {seeds} walks"),
                    (None, _) => format!("not reached in {seeds} walks"),
                };
                let verdict_holds = match p.kind {
                    Kind::Always => !seen,
                    _ => seen,
                };
                let matches = match expected {
                    Expect::Pending => None,
                    Expect::Holds => Some(verdict_holds),
                    Expect::Violated => Some(!verdict_holds),
                };
                let trace = match (f.hit, p.kind) {
                    (Some((seed, init, steps)), Kind::Always) => {
                        let mut file = trace::encode(&model, p.name, p.kind, &init, &steps, None);
                        file.command = format!(
                            "coordlab simulate {}/{} --seeds {} --depth {depth}",
                            P::ID,
                            model.variant(),
                            seed + 1
                        );
                        let typed = Typed {
                            model: P::new(model.variant(), model.config().clone())
                                .expect("same model"),
                            init,
                            steps,
                        };
                        let text = trace::text(&file, &typed);
                        let md = trace::markdown(&file, &typed, None);
                        Some((file, md, text))
                    }
                    _ => None,
                };
                SimRow {
                    property: p.name,
                    kind: p.kind,
                    expected,
                    outcome,
                    matches,
                    trace,
                }
            })
            .collect();
        SimResult {
            id: spec.id(),
            steps: sim.steps,
            rows,
        }
    }
}

/// The committed location of a counterexample, as the Markdown names it (never a machine
/// path: the same bytes wherever the check runs).
pub fn canonical_path(spec: &CheckSpec, property: &str) -> String {
    let dir = spec.trace_dir();
    let dir = dir.to_string_lossy().replace('\\', "/");
    format!("counterexamples/{dir}/{property}.json")
}

/// `key=value` pairs of a configuration, in its declared order.
fn bounds_line(config: &serde_json::Value) -> String {
    match config {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}
