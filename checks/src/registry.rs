//! The protocols coordlab knows, behind one object-safe interface so that the CLI can
//! dispatch on a protocol id read from the command line, a manifest or a trace file.
//! Adding a protocol is one line in [`protocols`].

use std::marker::PhantomData;
use std::time::Duration;

use coordlab_models::queue::QueueModel;
use coordlab_models::{Kind, Protocol, Variant};
use serde::Serialize;

use crate::engine::{Budget, Exploration, Progress};
use crate::manifest::{CheckSpec, Expect};
use crate::trace::{self, DecodeError, Format, Replay, TraceFile, Typed};

/// Every protocol, in the order `list` shows them.
pub fn protocols() -> Vec<Box<dyn Entry>> {
    vec![Box::new(Handle::<QueueModel>(PhantomData))]
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
    pub expected: Expect,
    pub verdict: Verdict,
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
    pub unique_states: usize,
    pub expected_unique_states: Option<usize>,
    pub max_depth: usize,
    pub complete: bool,
    pub seconds: f64,
    pub threads: usize,
    pub properties: Vec<PropResult>,
}

impl CheckResult {
    pub fn state_count_matches(&self) -> bool {
        !self.complete
            || self
                .expected_unique_states
                .is_none_or(|n| n == self.unique_states)
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
    fn explore(&self, variant: &str, bounds: &toml::Table, address: &str) -> Result<(), String>;
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
        for p in &props {
            match spec.expect.get(p.name) {
                None => {
                    return Err(format!(
                        "{}: no expectation for property `{}`",
                        spec.id(),
                        p.name
                    ));
                }
                Some(Expect::Holds | Expect::Violated) if p.kind == Kind::Eventually => {
                    return Err(format!(
                        "{}: `{}` is a liveness property and this coordlab has no liveness checker yet; expect `pending`",
                        spec.id(),
                        p.name
                    ));
                }
                Some(_) => {}
            }
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
        let ex = Exploration::run(model, Budget::new(threads, timeout), progress);
        let properties = P::props()
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let expected = spec.expect[p.name];
                let hit = ex.first_hit(i);
                let verdict = match (p.kind, hit, ex.complete) {
                    (Kind::Eventually, _, _) => Verdict::Pending,
                    (Kind::Always, Some(_), _) => Verdict::Violated,
                    (Kind::Sometimes, Some(_), _) => Verdict::Holds,
                    (_, None, false) => Verdict::Unknown,
                    (Kind::Always, None, true) => Verdict::Holds,
                    (Kind::Sometimes, None, true) => Verdict::Violated,
                };
                let trace = match (p.kind, hit) {
                    (Kind::Always, Some(id)) => {
                        let (init, steps) = ex.path_to(id);
                        let file = trace::encode(&ex.model, p.name, p.kind, &init, &steps, None);
                        let typed = Typed {
                            model: P::new(ex.model.variant(), ex.model.config().clone())
                                .expect("same model"),
                            init,
                            steps,
                        };
                        let path = canonical_path(spec, p.name);
                        let md = trace::markdown(&file, &typed, Some(&path));
                        Some((file, md))
                    }
                    _ => None,
                };
                PropResult {
                    property: p.name,
                    kind: p.kind,
                    expected,
                    verdict,
                    trace,
                }
            })
            .collect();
        CheckResult {
            id: spec.id(),
            bounds,
            unique_states: ex.unique_states(),
            expected_unique_states: spec.unique_states,
            max_depth: ex.max_depth(),
            complete: ex.complete,
            seconds: ex.elapsed.as_secs_f64(),
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
            Format::Mermaid => trace::mermaid(&typed, file.cycle_start),
            Format::Json => file.to_json(),
        })
    }

    fn replay(&self, file: &TraceFile, variant: &str) -> Result<Replay, DecodeError> {
        let typed = Typed::<P>::decode(file, variant)?;
        Ok(trace::replay(file, &typed))
    }

    fn explore(&self, variant: &str, bounds: &toml::Table, address: &str) -> Result<(), String> {
        let model = self.model(variant, bounds)?;
        model.checker().serve(address);
        Ok(())
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
