//! The protocols coordlab knows, behind one object-safe interface so that the CLI can
//! dispatch on a protocol id read from the command line, a manifest or a trace file.
//! Adding a protocol is one line in [`protocols`].

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use coordlab_models::deque::DequeModel;
use coordlab_models::election::ElectionModel;
use coordlab_models::queue::QueueModel;
use coordlab_models::raft::RaftModel;
use coordlab_models::stealing::StealingModel;
use coordlab_models::{Kind, Protocol, Variant};
use serde::Serialize;

use crate::engine::{Budget, Exploration, Progress};
use crate::liveness;
use crate::manifest::{CheckSpec, Expect};
use crate::trace::{self, DecodeError, Format, Replay, TraceFile, Typed};

/// Every protocol, in the order `list` shows them.
pub fn protocols() -> Vec<Box<dyn Entry>> {
    vec![
        Box::new(Handle::<QueueModel>(PhantomData)),
        Box::new(Handle::<ElectionModel>(PhantomData)),
        Box::new(Handle::<DequeModel>(PhantomData)),
        Box::new(Handle::<StealingModel>(PhantomData)),
        Box::new(Handle::<RaftModel>(PhantomData)),
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
    /// The counterexample, for a violated `always`, `eventually` or `leads-to` property.
    #[serde(skip)]
    pub trace: Option<TraceFile>,
    /// Seconds spent by the search that decided it (the safety search, or the liveness
    /// graph and its check).
    pub seconds: f64,
}

impl PropResult {
    /// Whether the search ran out of budget before it could decide this property (an
    /// expectation that was not pending).
    pub fn undecided(&self) -> bool {
        self.verdict == Verdict::Unknown && self.expected != Expect::Pending
    }

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

/// Which search of a check ran out of its time budget, and how far it got.
#[derive(Clone, Debug, Serialize)]
pub struct OutOfBudget {
    /// `safety search` (the always and sometimes properties) or `liveness graph`.
    pub phase: &'static str,
    /// States it had stored when the budget ran out.
    pub states: usize,
    /// The BFS level it had reached.
    pub depth: usize,
    /// The budget of the whole check, in seconds (`--timeout`).
    pub budget_seconds: f64,
}

/// The outcome of one check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// `protocol/variant[label]`, as the command line selects it.
    pub id: String,
    /// Every bound of the model, defaults included, as `key=value` words.
    pub bounds: String,
    /// The same bounds as a JSON object, for programs.
    pub config: serde_json::Value,
    /// The bounds changed with `--set`, as `key=value` (empty when none): the state counts
    /// are then not compared with the manifest's pins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// States explored for the safety and reachability properties (symmetry-reduced).
    pub unique_states: usize,
    /// The manifest's pin, when it applies (not for overridden bounds).
    pub expected_unique_states: Option<usize>,
    /// States of the transition graph the liveness properties were checked on (without
    /// symmetry reduction); `None` when no graph was built (no liveness property to
    /// decide, or the safety search ran out of budget first).
    pub liveness_states: Option<usize>,
    pub expected_liveness_states: Option<usize>,
    /// The heap the safety search's state store held when it ended, in bytes: the states
    /// (tree-compressed where the model splits them), their hash indexes and parent links
    /// (`Exploration::store_bytes`).
    pub store_bytes: usize,
    /// `store_bytes` over `unique_states`, to one decimal.
    pub bytes_per_state: f64,
    pub max_depth: usize,
    pub complete: bool,
    /// Set when a search ran out of budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_budget: Option<OutOfBudget>,
    pub seconds: f64,
    pub threads: usize,
    pub properties: Vec<PropResult>,
}

/// One thing of a check that did not go as the manifest expects: the text report and the
/// JUnit report are both made from these, so they count the same failures.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The JUnit test case: `budget`, `unique-states`, `liveness-states` or a property.
    pub case: String,
    pub message: String,
}

impl CheckResult {
    pub fn state_count_matches(&self) -> bool {
        self.state_count_drift().is_empty()
    }

    /// How the explored state counts differ from the manifest's pins, per pinned count.
    pub fn state_count_drift(&self) -> Vec<Failure> {
        let mut out = Vec::new();
        if !self.complete {
            return out; // an unfinished search says nothing about the size
        }
        if let Some(n) = self.expected_unique_states
            && n != self.unique_states
        {
            out.push(Failure {
                case: "unique-states".into(),
                message: format!(
                    "explored {} unique states, the manifest pins {n} (unique-states): the model's state space changed (update the manifest if that was intended)",
                    self.unique_states
                ),
            });
        }
        if let Some(n) = self.expected_liveness_states
            && Some(n) != self.liveness_states
        {
            let got = self
                .liveness_states
                .map_or("no".to_string(), |g| g.to_string());
            out.push(Failure {
                case: "liveness-states".into(),
                message: format!(
                    "the liveness graph has {got} states, the manifest pins {n} (liveness-states): the model's state space changed (update the manifest if that was intended)"
                ),
            });
        }
        out
    }

    /// Everything that did not go as expected, in report order. A check out of budget is
    /// one failure, which names the properties it left undecided; those are not counted
    /// again one by one.
    pub fn failures(&self) -> Vec<Failure> {
        let mut out = Vec::new();
        if let Some(b) = &self.out_of_budget {
            let undecided: Vec<&str> = self
                .properties
                .iter()
                .filter(|p| p.undecided())
                .map(|p| p.property)
                .collect();
            out.push(Failure {
                case: "budget".into(),
                message: format!(
                    "the {} ran out of its budget of {} after {} states at depth {}; {}",
                    b.phase,
                    seconds(b.budget_seconds),
                    b.states,
                    b.depth,
                    if undecided.is_empty() {
                        "every expected verdict was reached before".to_string()
                    } else {
                        format!("undecided: {}", undecided.join(", "))
                    }
                ),
            });
        }
        out.extend(self.state_count_drift());
        for p in self
            .properties
            .iter()
            .filter(|p| !p.matches() && !p.undecided())
        {
            let mut message = format!(
                "{} expected {}, found {}",
                p.property,
                p.expected.as_str(),
                p.verdict.as_str()
            );
            if let Some(path) = &p.counterexample {
                message += &format!(" (counterexample: {path})");
            }
            out.push(Failure {
                case: p.property.to_string(),
                message,
            });
        }
        out
    }

    /// The id, then the bounds changed with `--set`: `queue/correct (consumers=4)`.
    pub fn display(&self) -> String {
        if self.overrides.is_empty() {
            self.id.clone()
        } else {
            format!("{} ({})", self.id, self.overrides.join(" "))
        }
    }

    /// Whether every verdict and the state count match the manifest.
    pub fn passed(&self) -> bool {
        self.complete && self.failures().is_empty()
    }
}

/// "1 second", "2.5 seconds".
fn seconds(s: f64) -> String {
    if s == 1.0 {
        "1 second".into()
    } else {
        format!("{s} seconds")
    }
}

/// A protocol, with its types erased.
pub trait Entry {
    fn id(&self) -> &'static str;
    fn variants(&self) -> &'static [Variant];
    fn props(&self) -> Vec<PropInfo>;
    /// The names of the bounds a manifest or `--set` may give, sorted.
    fn bound_names(&self) -> Vec<String>;
    /// The configuration a check's bounds give (defaults filled in), as JSON.
    fn config(&self, spec: &CheckSpec) -> Result<serde_json::Value, String>;
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
    /// Serves coordlab's explorer of the check's model on `listener` (already bound, so a
    /// busy port is reported before anything is printed) and runs the check for its
    /// verdicts meanwhile (see [`crate::explorer`]), until the process is stopped.
    fn explore(&self, spec: &CheckSpec, listener: std::net::TcpListener) -> Result<(), String>;
    /// Random walks of a check's model: one per seed in `seeds`, at most `depth` steps each.
    fn simulate(&self, spec: &CheckSpec, seeds: std::ops::Range<u64>, depth: usize) -> SimResult;
}

/// One property's row of a simulation.
pub struct SimRow {
    pub property: &'static str,
    pub kind: Kind,
    pub expected: Expect,
    /// What the walks saw, in words.
    pub outcome: String,
    /// The first walk (by seed) that falsified an `always` property or reached a
    /// `sometimes` one, and the step of it where it did.
    pub hit: Option<(u64, usize)>,
    pub matches: SimMark,
    /// The walk that falsified an `always` property.
    pub trace: Option<TraceFile>,
}

/// How a simulated property compares with the manifest's expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimMark {
    /// What the walks saw agrees with the expectation.
    Ok,
    /// The walks contradict the expectation (an unexpected violation or example), or did
    /// not find an expected violation (a known bug not caught).
    Mismatch,
    /// An expected example (`sometimes`) was not reached: walks prove nothing either way.
    NotFound,
    /// Expected `pending`: not compared.
    Pending,
    /// A liveness property: not simulated.
    NotSimulated,
}

impl SimMark {
    pub fn as_str(self) -> &'static str {
        match self {
            SimMark::Ok => "ok",
            SimMark::Mismatch => "MISMATCH",
            SimMark::NotFound => "not found",
            SimMark::Pending | SimMark::NotSimulated => "",
        }
    }
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
    let config: P::Config = toml::Value::Table(bounds.clone())
        .try_into()
        .map_err(|e: toml::de::Error| format!("bounds: {}", crate::plain(e.message())))?;
    P::new(variant, config).map_err(|e| e.to_string())
}

impl<P: Protocol> Handle<P> {
    fn model(&self, variant: &str, bounds: &toml::Table) -> Result<P, String> {
        model(variant, bounds)
    }
}

/// The names of a configuration's fields, sorted (as serde_json orders them): every field
/// its `Deserialize` reads, including knobs its default leaves out when it serialises
/// (the queue's `change-visibility`).
fn config_keys<C: Serialize + Default + serde::de::DeserializeOwned>() -> Vec<String> {
    let mut keys: Vec<String> = match serde_json::to_value(C::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut fields = None;
    let _ = C::deserialize(FieldNames(&mut fields));
    keys.extend(fields.unwrap_or_default().iter().map(|f| f.to_string()));
    keys.sort();
    keys.dedup();
    keys
}

/// A deserializer that only records the field names a struct's `Deserialize` asks for.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(serde::de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
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

    fn bound_names(&self) -> Vec<String> {
        config_keys::<P::Config>()
    }

    fn config(&self, spec: &CheckSpec) -> Result<serde_json::Value, String> {
        let model = self
            .model(&spec.variant, &spec.bounds)
            .map_err(|e| format!("{}: {e}", spec.id()))?;
        serde_json::to_value(model.config()).map_err(|e| e.to_string())
    }

    fn validate(&self, spec: &CheckSpec) -> Result<String, String> {
        let model = self
            .model(&spec.variant, &spec.bounds)
            .map_err(|e| format!("{}: {e}", spec.id()))?;
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
        let config = serde_json::to_value(model.config()).expect("config serialises");
        let bounds = bounds_line(&config);
        let props = P::props();
        // One deadline for the whole check, safety and liveness together.
        let budget = Budget::new(threads, timeout);
        let budget_seconds = timeout.map_or(0.0, |t| t.as_secs_f64());
        let needs_graph = spec.liveness.is_some()
            && props
                .iter()
                .any(|p| p.kind.is_liveness() && spec.expect[p.name] != Expect::Pending);
        let started = Instant::now();
        // Safety and reachability first, on the symmetry-reduced states; that search is
        // dropped before the liveness graph is built, so the two never share the memory.
        let liveness_model = P::new(model.variant(), model.config().clone()).expect("same model");
        let ex = Exploration::run(model, budget, progress);
        let safety_seconds = started.elapsed().as_secs_f64();
        let mut verdicts: Vec<(Verdict, Option<TraceFile>)> = props
            .iter()
            .enumerate()
            .map(|(i, p)| match (p.kind, ex.first_hit(i), ex.complete) {
                (k, _, _) if k.is_liveness() => (Verdict::Pending, None),
                (Kind::Always, Some(id), _) => {
                    let (init, steps) = ex.path_to(id);
                    let file = trace::encode(&ex.model, p.name, p.kind, &init, &steps, None);
                    (Verdict::Violated, Some(file))
                }
                (_, Some(_), _) => (Verdict::Holds, None),
                (_, None, false) => (Verdict::Unknown, None),
                (Kind::Always, None, true) => (Verdict::Holds, None),
                (_, None, true) => (Verdict::Violated, None),
            })
            .collect();
        let (unique_states, max_depth, safety_complete) =
            (ex.unique_states(), ex.max_depth(), ex.complete);
        let store_bytes = ex.store_bytes();
        let mut out_of_budget = (!safety_complete).then_some(OutOfBudget {
            phase: "safety search",
            states: unique_states,
            depth: max_depth,
            budget_seconds,
        });
        drop(ex);
        let mut liveness_states = None;
        let mut liveness_seconds = 0.0;
        if needs_graph {
            for (p, slot) in props.iter().zip(&mut verdicts) {
                if p.kind.is_liveness() && spec.expect[p.name] != Expect::Pending {
                    *slot = (Verdict::Unknown, None);
                }
            }
        }
        // The liveness graph is built only when the safety search finished within the
        // budget: what is left of the budget would not build it either.
        if needs_graph && safety_complete {
            let live_started = Instant::now();
            progress
                .states
                .store(0, std::sync::atomic::Ordering::Relaxed);
            let live = Exploration::run(
                liveness_model,
                Budget {
                    graph: true,
                    ..budget
                },
                progress,
            );
            if live.complete {
                liveness_states = Some(live.unique_states());
                for (p, slot) in props.iter().zip(&mut verdicts) {
                    if !p.kind.is_liveness() || spec.expect[p.name] == Expect::Pending {
                        continue;
                    }
                    *slot = match liveness::check(&live, p) {
                        None => (Verdict::Holds, None),
                        Some(l) => (
                            Verdict::Violated,
                            Some(trace::encode(
                                &live.model,
                                p.name,
                                p.kind,
                                &l.init,
                                &l.steps,
                                Some(l.cycle_start),
                            )),
                        ),
                    };
                }
            } else {
                out_of_budget = Some(OutOfBudget {
                    phase: "liveness graph",
                    states: live.unique_states(),
                    depth: live.max_depth(),
                    budget_seconds,
                });
            }
            liveness_seconds = live_started.elapsed().as_secs_f64();
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
                let mut trace = trace;
                if let Some(file) = &mut trace {
                    file.command =
                        format!("coordlab check {}", crate::manifest::shell_word(&spec.id()));
                }
                PropResult {
                    property: p.name,
                    kind: p.kind,
                    checker,
                    counterexample: None,
                    expected: spec.expect[p.name],
                    verdict,
                    trace,
                    seconds: if p.kind.is_liveness() {
                        liveness_seconds
                    } else {
                        safety_seconds
                    },
                }
            })
            .collect();
        let pinned = spec.pinned();
        CheckResult {
            id: spec.id(),
            bounds,
            config,
            overrides: spec.override_words(),
            unique_states,
            expected_unique_states: spec.unique_states.filter(|_| pinned),
            liveness_states,
            expected_liveness_states: spec.liveness_states.filter(|_| pinned),
            store_bytes,
            bytes_per_state: (store_bytes as f64 / unique_states.max(1) as f64 * 10.0).round()
                / 10.0,
            max_depth,
            complete: out_of_budget.is_none(),
            out_of_budget,
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
        // The verdicts come from the same run as `coordlab check`'s, on as many threads.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        crate::explorer::serve(model, spec, listener, |progress| {
            self.run(spec, threads, None, progress)
        })
    }

    fn simulate(&self, spec: &CheckSpec, seeds: std::ops::Range<u64>, depth: usize) -> SimResult {
        let model: P = self
            .model(&spec.variant, &spec.bounds)
            .expect("validated before running");
        let walks = crate::count((seeds.end - seeds.start) as usize, "walk", "walks");
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
                        hit: None,
                        matches: SimMark::NotSimulated,
                        trace: None,
                    };
                }
                let seen = f.hit.is_some();
                let hit = f.hit.as_ref().map(|(seed, _, steps)| (*seed, steps.len()));
                let outcome = match (&f.hit, p.kind) {
                    (Some((seed, _, steps)), Kind::Always) => {
                        format!("violated: seed {seed}, step {}", steps.len())
                    }
                    (Some((seed, _, steps)), _) => {
                        format!("reached: seed {seed}, step {}", steps.len())
                    }
                    (None, Kind::Always) => format!("no violation in {walks}"),
                    (None, _) => format!("not reached in {walks}"),
                };
                // A walk is evidence only of what it found: a violation, or an example. An
                // expected violation not found is a known bug not caught (a mismatch, as
                // in `check`); an expected example not found is only not found.
                let always = p.kind == Kind::Always;
                let matches = match (expected, always, seen) {
                    (Expect::Pending, _, _) => SimMark::Pending,
                    // always: holds and no violation seen; violated and one seen.
                    (Expect::Holds, true, false) | (Expect::Violated, true, true) => SimMark::Ok,
                    // sometimes: holds and an example seen; violated and none seen.
                    (Expect::Holds, false, true) | (Expect::Violated, false, false) => SimMark::Ok,
                    (Expect::Holds, false, false) => SimMark::NotFound,
                    (Expect::Holds, true, true)
                    | (Expect::Violated, true, false)
                    | (Expect::Violated, false, true) => SimMark::Mismatch,
                };
                let trace = match (f.hit, p.kind) {
                    (Some((seed, init, steps)), Kind::Always) => {
                        let mut file = trace::encode(&model, p.name, p.kind, &init, &steps, None);
                        file.command = format!(
                            "coordlab simulate {} --seed {seed} --depth {depth}",
                            crate::manifest::shell_word(&spec.id()),
                        );
                        Some(file)
                    }
                    _ => None,
                };
                SimRow {
                    property: p.name,
                    kind: p.kind,
                    expected,
                    outcome,
                    hit,
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

/// `key=value` pairs of a configuration, sorted by key (as serde_json orders them).
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
