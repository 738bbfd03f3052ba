//! Counterexample traces: the JSON machine form, its readable renderings, and replay.
//!
//! A trace file is protocol-neutral JSON (states and actions as the model serialises them);
//! [`Typed`] decodes it against one protocol's types. Renderings show, per step, the
//! action in plain words and only the fields it changed; after the last step, the violation
//! in the property's own terms with the fields that show it ([`Protocol::violation`]); then
//! a Mermaid sequence diagram (drawn with `coordlab-diagram`) that ends with the same
//! statement.

use std::fmt::Write as _;

use coordlab_diagram::{Arrow, SequenceDiagram};
use coordlab_models::{Kind, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the trace JSON layout; bumped on any incompatible change.
pub const FORMAT: u32 = 1;

/// The JSON form of a counterexample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceFile {
    pub format: u32,
    pub protocol: String,
    pub variant: String,
    pub property: String,
    /// The property's kind, as [`Kind::as_str`] writes it (`always`, `eventually`, …).
    pub kind: String,
    /// The model configuration the trace was found with.
    pub config: Value,
    /// The command that finds this trace again.
    pub command: String,
    /// Step 0 is the initial state (no action); each later step is an action and the state
    /// it produced.
    pub steps: Vec<StepJson>,
    /// For a liveness lasso: the step at which the repeating cycle starts; the last step's
    /// state equals the state of this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle_start: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Value>,
    pub state: Value,
}

impl TraceFile {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a trace serialises");
        s.push('\n');
        s
    }
}

/// A trace decoded against protocol `P`.
pub struct Typed<P: Protocol> {
    pub model: P,
    pub init: P::State,
    pub steps: Vec<(P::Action, P::State)>,
    /// The path as a person reads it ([`Protocol::display_path`]): states, initial state
    /// first, and actions. Computed when first rendered — after replay has shown every step
    /// to be the model's, so that the model never steps from a state a file made up.
    shown: std::sync::OnceLock<Shown<P>>,
}

/// Why a trace could not be decoded: the file is not a valid trace for its protocol.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("format {0} is not supported (this coordlab reads format {FORMAT})")]
    Format(u32),
    #[error("{0}")]
    Model(#[from] coordlab_models::ModelError),
    #[error("config: {}", crate::plain(&.0.to_string()))]
    Config(serde_json::Error),
    #[error("unknown property `{0}` for {1}")]
    Property(String, String),
    #[error("the trace has no steps")]
    Empty,
    #[error("step 0 must be the initial state, without an action")]
    InitAction,
    #[error("step {0}: no action")]
    MissingAction(usize),
    #[error("step {0}: {msg}", msg = crate::plain(&.1.to_string()))]
    Step(usize, serde_json::Error),
    #[error("cycle_start {0} is outside the trace")]
    Cycle(usize),
}

/// A path as a person reads it: its states, initial state first, and its actions.
type Shown<P> = (
    Vec<<P as stateright::Model>::State>,
    Vec<<P as stateright::Model>::Action>,
);

impl<P: Protocol> Typed<P> {
    /// Decodes `file` for variant `variant` of `P` (normally the file's own variant).
    pub fn decode(file: &TraceFile, variant: &str) -> Result<Self, DecodeError> {
        if file.format != FORMAT {
            return Err(DecodeError::Format(file.format));
        }
        let config: P::Config =
            serde_json::from_value(file.config.clone()).map_err(DecodeError::Config)?;
        let model = P::new(variant, config)?;
        if P::prop(&file.property).is_none() {
            return Err(DecodeError::Property(
                file.property.clone(),
                format!("{}/{}", file.protocol, file.variant),
            ));
        }
        let (first, rest) = file.steps.split_first().ok_or(DecodeError::Empty)?;
        if first.action.is_some() {
            return Err(DecodeError::InitAction);
        }
        let init =
            serde_json::from_value(first.state.clone()).map_err(|e| DecodeError::Step(0, e))?;
        let mut steps = Vec::with_capacity(rest.len());
        for (i, step) in rest.iter().enumerate() {
            let n = i + 1;
            let action = step.action.clone().ok_or(DecodeError::MissingAction(n))?;
            let action = serde_json::from_value(action).map_err(|e| DecodeError::Step(n, e))?;
            let state =
                serde_json::from_value(step.state.clone()).map_err(|e| DecodeError::Step(n, e))?;
            steps.push((action, state));
        }
        if let Some(c) = file.cycle_start
            && c >= file.steps.len()
        {
            return Err(DecodeError::Cycle(c));
        }
        Ok(Typed::new(model, init, steps))
    }

    /// A behaviour of `model`: its initial state and its steps.
    pub fn new(model: P, init: P::State, steps: Vec<(P::Action, P::State)>) -> Self {
        Typed {
            model,
            init,
            steps,
            shown: std::sync::OnceLock::new(),
        }
    }

    fn display(&self) -> &Shown<P> {
        self.shown.get_or_init(|| {
            let (first, rest) = self.model.display_path(&self.init, &self.steps);
            let (actions, rest): (Vec<_>, Vec<_>) = rest.into_iter().unzip();
            (std::iter::once(first).chain(rest).collect(), actions)
        })
    }

    /// Action `i` (0-based) as a person reads it.
    pub fn shown_action(&self, i: usize) -> &P::Action {
        &self.display().1[i]
    }

    /// The state after step `i` as a person reads it (step 0 is the initial state).
    pub fn shown(&self, i: usize) -> &P::State {
        &self.display().0[i]
    }

    /// The state after step `i` (step 0 is the initial state).
    pub fn state(&self, i: usize) -> &P::State {
        if i == 0 {
            &self.init
        } else {
            &self.steps[i - 1].1
        }
    }
}

/// Builds the JSON form of a path found by a check.
pub fn encode<P: Protocol>(
    model: &P,
    property: &str,
    kind: Kind,
    init: &P::State,
    steps: &[(P::Action, P::State)],
    cycle_start: Option<usize>,
) -> TraceFile {
    fn to_value<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).expect("model types serialise")
    }
    let mut json_steps = vec![StepJson {
        action: None,
        state: to_value(init),
    }];
    json_steps.extend(steps.iter().map(|(a, s)| StepJson {
        action: Some(to_value(a)),
        state: to_value(s),
    }));
    TraceFile {
        format: FORMAT,
        protocol: P::ID.to_string(),
        variant: model.variant().to_string(),
        property: property.to_string(),
        kind: kind.as_str().to_string(),
        config: serde_json::to_value(model.config()).expect("a config serialises"),
        command: format!("coordlab check {}/{}", P::ID, model.variant()),
        steps: json_steps,
        cycle_start,
    }
}

/// How `show` renders a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Mermaid,
    Json,
}

/// The ticks elapsed before each step (step 0 included).
pub(crate) fn times<P: Protocol>(t: &Typed<P>) -> Vec<usize> {
    let mut now = 0;
    let mut out = vec![0];
    for (a, _) in &t.steps {
        if t.model.is_tick(a) {
            now += 1;
        }
        out.push(now);
    }
    out
}

/// Fields that differ between two states, as `name: old → new`.
pub(crate) fn changes<P: Protocol>(
    model: &P,
    before: &P::State,
    after: &P::State,
) -> Vec<(String, String, String)> {
    let old = model.fields(before);
    let new = model.fields(after);
    if old.len() == new.len() && old.iter().zip(&new).all(|(o, n)| o.0 == n.0) {
        return old
            .into_iter()
            .zip(new)
            .filter(|(o, n)| o.1 != n.1)
            .map(|((name, o), (_, n))| (name, o, n))
            .collect();
    }
    // States of different shapes (a trace's made-up state): match the fields by name.
    let absent = || "(absent)".to_string();
    let mut out: Vec<(String, String, String)> = old
        .iter()
        .map(|(name, o)| {
            let n = new
                .iter()
                .find(|(m, _)| m == name)
                .map_or_else(absent, |x| x.1.clone());
            (name.clone(), o.clone(), n)
        })
        .collect();
    out.extend(
        new.iter()
            .filter(|(name, _)| !old.iter().any(|(m, _)| m == name))
            .map(|(name, n)| (name.clone(), absent(), n.clone())),
    );
    out.retain(|(_, o, n)| o != n);
    out
}

fn property_line<P: Protocol>(file: &TraceFile) -> String {
    let doc = P::prop(&file.property).map(|p| p.doc).unwrap_or("");
    format!("`{}`: {doc}", file.property)
}

/// The readable Markdown form: what goes wrong, the steps, the sequence diagram.
pub fn markdown<P: Protocol>(file: &TraceFile, t: &Typed<P>, path: Option<&str>) -> String {
    let mut md = String::new();
    let id = format!("{}/{}", file.protocol, file.variant);
    let last = t.shown(t.steps.len());
    let _ = writeln!(md, "# `{id}` violates `{}`\n", file.property);
    let _ = writeln!(md, "> {}\n", property_line::<P>(file));
    let _ = writeln!(
        md,
        "**What goes wrong:** {}\n",
        t.model.explain(&file.property, last)
    );
    let _ = writeln!(md, "Find it again: `{}`  ", file.command);
    match path {
        Some(p) => {
            let _ = writeln!(md, "Replay this file: `coordlab replay {p}`\n");
        }
        None => md.push('\n'),
    }
    let _ = writeln!(
        md,
        "## Configuration\n\nVariant `{}`: {}.\n",
        file.variant,
        variant_summary::<P>(&file.variant)
    );
    md.push_str("| bound | value | meaning |\n|---|---|---|\n");
    if let Value::Object(map) = &file.config {
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let doc = t.model.bound_doc(k).unwrap_or_default();
            let _ = writeln!(md, "| {k} | {v} | {} |", doc.replace('|', "\\|"));
        }
    }
    md.push('\n');
    if let Some(k) = file.cycle_start {
        md.push_str(&lasso_paragraph(file, t, k));
    }
    md.push_str("## Steps\n\n");
    md.push_str(&steps_text::<P>(file, t, true));
    md.push_str("\n## Sequence diagram\n\n```mermaid\n");
    md.push_str(&mermaid(file, t));
    md.push_str("```\n");
    md
}

/// The violation as the end of a trace states it: the model's statement, and for a lasso
/// why it lasts forever.
fn violation_sentence<P: Protocol>(file: &TraceFile, t: &Typed<P>) -> String {
    let n = t.steps.len();
    let statement = t.model.violation(&file.property, t.shown(n)).statement;
    match file.cycle_start {
        None => statement,
        Some(k) if k == n => {
            format!("{statement}, and nothing changes any more after step {n}")
        }
        Some(k) => format!(
            "{statement}, and steps {}–{n} repeat forever: after step {n} the system is back in the state it had after step {k}",
            k + 1
        ),
    }
}

/// How to read a lasso: what repeats, why it never ends, and why that is a fair behaviour,
/// one a real system can show.
fn lasso_paragraph<P: Protocol>(file: &TraceFile, t: &Typed<P>, k: usize) -> String {
    let n = t.steps.len();
    let f = cycle_fairness(t, k);
    let statement = t.model.violation(&file.property, t.shown(n)).statement;
    let mut s = String::from("## Why it never ends\n\n");
    let mut bullets = Vec::new();
    // What the loop means for the properties that are about what happens infinitely often.
    let name = &file.property;
    let recurrence = match P::prop(name).map(|p| p.kind) {
        Some(Kind::AlwaysEventually) if k == n => Some(format!(
            "`{name}` does not hold there, so after step {k} it never holds again."
        )),
        Some(Kind::AlwaysEventually) => Some(format!(
            "`{name}` holds in none of the states of the loop, so after step {k} it never holds again."
        )),
        Some(Kind::EventuallyAlways) if k == n => Some(format!(
            "`{name}` does not hold there, so it never comes to hold for good."
        )),
        Some(Kind::EventuallyAlways) => Some(format!(
            "`{name}` fails in the state after step {k}, which every round of the loop returns to, so it never comes to hold for good."
        )),
        _ => None,
    };
    let place = if k == n {
        let _ = writeln!(
            s,
            "After step {k} nothing changes any more, ever: {statement}.\n"
        );
        if let Some(line) = &recurrence {
            let _ = writeln!(s, "{line}\n");
        }
        "there"
    } else {
        let lead = if k == 0 {
            "From the start,".to_string()
        } else {
            if k == 1 {
                "Step 1 leads into a loop:".to_string()
            } else {
                format!("Steps 1–{k} lead into a loop:")
            }
        };
        let _ = writeln!(
            s,
            "{lead} steps {}–{n} bring the system back to exactly the state it had after step {k}, so they can repeat forever, and each time round {statement}.\n",
            k + 1
        );
        let round: Vec<String> = (k..n)
            .map(|i| t.model.describe(t.shown(i), t.shown_action(i)))
            .collect();
        let _ = writeln!(s, "Each round: {}.\n", round.join(" → "));
        if let Some(line) = &recurrence {
            let _ = writeln!(s, "{line}\n");
        }
        bullets.push(format!(
            "every round of the loop has steps by {}",
            join_and(&f.taken, " and by ")
        ));
        "in the loop"
    };
    let strong = t
        .model
        .classes()
        .iter()
        .any(|c| c.fairness == coordlab_models::Fairness::Strong);
    let _ = writeln!(
        s,
        "That is a fair behaviour, one a real system can show, not one in which a part that could act is simply never scheduled. (Fairness insists only that a part that can act all the time eventually does{}; it never insists on a fault.)\n",
        if strong {
            ", and that a strongly fair part that can act again and again eventually does"
        } else {
            ""
        }
    );
    if !f.excused.is_empty() {
        let (verb, it, each) = if f.excused.len() == 1 {
            ("takes", "it", "it has")
        } else {
            ("take", "them", "each of them has")
        };
        bullets.push(format!(
            "{} {verb} no step {place}, and fairness does not ask {it} to: {each} nothing to do at some point of every round",
            join_and(&f.excused, " and ")
        ));
    }
    if !f.idle.is_empty() {
        bullets.push(format!(
            "{} never {} anything to do {place}",
            join_and(&f.idle, " and "),
            if f.idle.len() == 1 { "has" } else { "have" }
        ));
    }
    if !f.unfair.is_empty() {
        bullets.push(format!(
            "{} never happen {place}: they may happen, but nothing makes them",
            join_and(&f.unfair, " and ")
        ));
    }
    if bullets.is_empty() {
        bullets.push(format!("no part has anything to do {place}"));
    }
    let _ = writeln!(s, "- {}.\n", bullets.join(";\n- "));
    s
}

/// "a", "a and b", "a, b and c" (with `last` before the last item).
fn join_and(items: &[String], last: &str) -> String {
    match items {
        [] => "no part".to_string(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{}{last}{tail}", init.join(", ")),
    }
}

fn variant_summary<P: Protocol>(variant: &str) -> &'static str {
    P::variants()
        .iter()
        .find(|v| v.id == variant)
        .map(|v| v.summary)
        .unwrap_or("unknown variant")
}

/// Numbered steps, each with only the fields it changed, then the violation and the fields
/// that show it. `markdown` selects list syntax.
pub fn steps_text<P: Protocol>(file: &TraceFile, t: &Typed<P>, markdown: bool) -> String {
    let mut out = String::new();
    let times = times(t);
    // The action's name after a step's sentence: in code in Markdown, in brackets in text
    // (so that it does not read as the sentence's last word).
    let (bold, code, end) = if markdown {
        ("**", "`", "`")
    } else {
        ("", "[", "]")
    };
    let tick = if markdown { "`" } else { "" };
    // " (t=3; clocks: …)" after a step's title; nothing for a model without time.
    let clock = |state: &P::State, now: usize| match t.model.local_times(state, now) {
        _ if !P::TIMED => String::new(),
        Some(local) => format!(" (t={now}; {local})"),
        None => format!(" (t={now})"),
    };
    let _ = writeln!(
        out,
        "{bold}0. Initial state{bold}{}",
        clock(t.shown(0), times[0])
    );
    let first = t.model.matrix(t.shown(0));
    for (name, value) in t.model.fields(t.shown(0)) {
        if first.as_ref().is_none_or(|m| !m.covers.contains(&name)) {
            let _ = writeln!(out, "   - {name}: {value}");
        }
    }
    if let Some(m) = first {
        if !m.legend.is_empty() {
            let _ = writeln!(out, "\n{}", m.legend);
        }
        out.push_str(&matrix_text(&m, markdown));
    }
    for (i, (action, _)) in t.steps.iter().enumerate() {
        let n = i + 1;
        let before = t.shown(i);
        let after = t.shown(n);
        let shown_action = t.shown_action(i);
        if file.cycle_start == Some(n - 1) {
            let _ = writeln!(
                out,
                "\n{bold}From step {n} on, steps {n}–{} repeat forever.{bold}",
                t.steps.len()
            );
        }
        let _ = writeln!(
            out,
            "\n{bold}{n}. {}{bold}{} {code}{}{end}",
            t.model.describe(before, shown_action),
            clock(after, times[n]),
            action_name(action)
        );
        for (name, old, new) in changes(&t.model, before, after) {
            let _ = writeln!(out, "   - {name}: {old} → {new}");
        }
        if let Some(m) = t.model.matrix(after) {
            out.push_str(&matrix_text(&m, markdown));
        }
    }
    let last = t.shown(t.steps.len());
    let v = t.model.violation(&file.property, last);
    let _ = writeln!(
        out,
        "\n{bold}{tick}{}{tick} is violated:{bold} {}.",
        file.property,
        violation_sentence(file, t)
    );
    let fields = t.model.fields(last);
    for name in &v.fields {
        if let Some((_, value)) = fields.iter().find(|(f, _)| f == name) {
            let _ = writeln!(out, "   - {name}: {value}");
        }
    }
    out
}

/// A [`Matrix`](coordlab_models::Matrix) after a blank line: a Markdown table, or for text
/// columns aligned with spaces and indented like a step's changes.
fn matrix_text(m: &coordlab_models::Matrix, markdown: bool) -> String {
    let mut out = String::from("\n");
    if markdown {
        let row = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
            format!("| {} |\n", cells.join(" | "))
        };
        out.push_str(&row(&m.columns));
        let _ = writeln!(out, "|{}", "---|".repeat(m.columns.len()));
        for r in &m.rows {
            out.push_str(&row(r));
        }
    } else {
        let widths: Vec<usize> = (0..m.columns.len())
            .map(|c| {
                std::iter::once(&m.columns)
                    .chain(&m.rows)
                    .map(|r| r.get(c).map_or(0, |x| x.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for r in std::iter::once(&m.columns).chain(&m.rows) {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(x, &w)| format!("{x:<w$}"))
                .collect();
            let _ = writeln!(out, "   {}", cells.join("  ").trim_end());
        }
    }
    out
}

/// The action's variant name as serde writes it (`receive`, `delete`, …).
pub(crate) fn action_name<A: Serialize>(action: &A) -> String {
    match serde_json::to_value(action) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(m)) => m.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A Mermaid `sequenceDiagram` of the trace: the model's arrows, numbered by step, a note
/// where a lasso's cycle starts, and a last note stating the violation over the
/// participants it concerns.
pub fn mermaid<P: Protocol>(file: &TraceFile, t: &Typed<P>) -> String {
    let mut d = SequenceDiagram::new(t.model.participants());
    for i in 0..t.steps.len() {
        let n = i + 1;
        if file.cycle_start == Some(i) {
            d.push(Arrow::note(
                Vec::<String>::new(),
                format!("from step {n} on, this repeats forever"),
            ));
        }
        d.step(n, t.model.arrows(t.shown(i), t.shown_action(i), t.shown(n)));
    }
    let v = t.model.violation(&file.property, t.shown(t.steps.len()));
    d.push(Arrow::note(
        v.participants,
        format!(
            "{} violated: {}",
            file.property,
            violation_sentence(file, t)
        ),
    ));
    d.render()
}

/// Plain text for a terminal.
pub fn text<P: Protocol>(file: &TraceFile, t: &Typed<P>) -> String {
    let mut out = String::new();
    let last = t.shown(t.steps.len());
    let _ = writeln!(
        out,
        "{}/{} violates {}",
        file.protocol, file.variant, file.property
    );
    let _ = writeln!(
        out,
        "  {}",
        P::prop(&file.property).map(|p| p.doc).unwrap_or("")
    );
    let _ = writeln!(
        out,
        "  what goes wrong: {}",
        t.model.explain(&file.property, last)
    );
    let _ = writeln!(out, "  find it again: {}", file.command);
    if let Some(k) = file.cycle_start {
        let n = t.steps.len();
        let f = cycle_fairness(t, k);
        if k == n {
            let _ = writeln!(
                out,
                "  lasso: after step {k} nothing changes any more, and no part that could act is kept from acting"
            );
        } else {
            let _ = writeln!(
                out,
                "  lasso: steps {}–{n} repeat forever, a fair behaviour: every round has steps by {}",
                k + 1,
                join_and(&f.taken, " and by ")
            );
        }
    }
    out.push('\n');
    out.push_str(&steps_text::<P>(file, t, false));
    out
}

/// How a replay went.
#[derive(Debug, PartialEq, Eq)]
pub enum Replay {
    /// Every step enabled and producing the recorded state, and the property fails.
    Reproduced,
    /// The trace does not reproduce: why, naming the step.
    Diverged(String),
}

/// Re-executes a decoded trace on its model.
pub fn replay<P: Protocol>(file: &TraceFile, t: &Typed<P>) -> Replay {
    let model = &t.model;
    if !model.init_states().contains(&t.init) {
        return Replay::Diverged("step 0: not an initial state of the model".into());
    }
    for (i, (action, recorded)) in t.steps.iter().enumerate() {
        let n = i + 1;
        let before = t.state(i);
        let mut enabled = Vec::new();
        model.actions(before, &mut enabled);
        if !enabled.contains(action) {
            return Replay::Diverged(format!(
                "step {n}: `{}` is not enabled here",
                action_name(action)
            ));
        }
        match model.next_state(before, action.clone()) {
            Some(next) if !model.within_boundary(&next) => {
                return Replay::Diverged(format!(
                    "step {n}: `{}` leaves the bounds of the configuration",
                    action_name(action)
                ));
            }
            Some(next) if &next == recorded => {}
            Some(next) => {
                let diff: Vec<String> = changes(model, recorded, &next)
                    .into_iter()
                    .map(|(name, rec, got)| format!("{name} is `{got}`, trace says `{rec}`"))
                    .collect();
                return Replay::Diverged(format!(
                    "step {n}: `{}` produces a different state: {}",
                    action_name(action),
                    diff.join("; ")
                ));
            }
            None => {
                return Replay::Diverged(format!(
                    "step {n}: `{}` does not change the state",
                    action_name(action)
                ));
            }
        }
    }
    match violation(file, t) {
        Ok(()) => Replay::Reproduced,
        Err(why) => Replay::Diverged(why),
    }
}

/// Whether the states of `t` violate the trace's property the way `file` says: the last
/// state falsifies an `always` property; for a lasso, the cycle returns to its first state,
/// is fair, and the property fails where its kind needs it to (see `replay_lasso`). `Err`
/// says why not. The steps' transitions are not checked (see [`replay`]).
pub(crate) fn violation<P: Protocol>(file: &TraceFile, t: &Typed<P>) -> Result<(), String> {
    let model = &t.model;
    let prop =
        P::prop(&file.property).ok_or_else(|| format!("unknown property `{}`", file.property))?;
    match (prop.kind, file.cycle_start) {
        (Kind::Always, None) => {
            if (prop.condition)(model, t.state(t.steps.len())) {
                Err(format!("the last state satisfies {}", prop.name))
            } else {
                Ok(())
            }
        }
        (kind, Some(k)) if kind.is_liveness() => replay_lasso(t, &prop, k),
        (kind, _) => Err(format!(
            "{} {} property has no counterexample of this shape",
            if kind == Kind::Always { "an" } else { "a" },
            kind.as_str()
        )),
    }
}

/// The fairness of a lasso's cycle, as `replay` checks it and the Markdown explains it.
pub struct CycleFairness {
    /// Names of the classes the cycle takes.
    pub taken: Vec<String>,
    /// Fair classes not taken, enabled somewhere on the cycle but disabled somewhere on it
    /// (weak fairness does not require them).
    pub excused: Vec<String>,
    /// Fair classes never enabled anywhere on the cycle.
    pub idle: Vec<String>,
    /// Unfair classes the cycle never takes.
    pub unfair: Vec<String>,
    /// Why the cycle is not fair, if it is not.
    pub unfair_because: Option<String>,
}

/// Examines the cycle from step `k` to the end (a stutter when `k` is the last step).
pub fn cycle_fairness<P: Protocol>(t: &Typed<P>, k: usize) -> CycleFairness {
    let model = &t.model;
    let classes = model.classes();
    let n = t.steps.len();
    let enabled = |s: &P::State| -> u64 {
        let mut actions = Vec::new();
        model.actions(s, &mut actions);
        actions
            .into_iter()
            .filter(|a| {
                model
                    .next_state(s, a.clone())
                    .is_some_and(|next| &next != s)
            })
            .fold(0, |m, a| m | 1 << model.class_of(&a))
    };
    let cycle_states: Vec<&P::State> = if k == n {
        vec![t.state(n)]
    } else {
        (k + 1..=n).map(|i| t.state(i)).collect()
    };
    let masks: Vec<u64> = cycle_states.iter().map(|s| enabled(s)).collect();
    let taken = t.steps[k..]
        .iter()
        .fold(0u64, |m, (a, _)| m | 1 << model.class_of(a));
    let en_all = masks.iter().fold(u64::MAX, |m, e| m & e);
    let en_any = masks.iter().fold(0, |m, e| m | e);
    let mut out = CycleFairness {
        taken: Vec::new(),
        excused: Vec::new(),
        idle: Vec::new(),
        unfair: Vec::new(),
        unfair_because: None,
    };
    for (i, c) in classes.iter().enumerate() {
        let bit = 1u64 << i;
        let name = c.name.clone();
        if taken & bit != 0 {
            out.taken.push(name);
            continue;
        }
        match c.fairness {
            coordlab_models::Fairness::Unfair => out.unfair.push(name),
            coordlab_models::Fairness::Weak if en_all & bit != 0 => {
                out.unfair_because.get_or_insert(format!(
                    "the cycle is not fair: `{name}` is weakly fair and enabled in every state of the cycle, but never taken"
                ));
            }
            coordlab_models::Fairness::Strong if en_any & bit != 0 => {
                out.unfair_because.get_or_insert(format!(
                    "the cycle is not fair: `{name}` is strongly fair and enabled on the cycle, but never taken"
                ));
            }
            _ if en_any & bit == 0 => out.idle.push(name),
            _ => out.excused.push(name),
        }
    }
    out
}

/// Checks a lasso: the cycle returns to its first state, the property fails where its kind
/// needs it to, and the cycle is fair. `eventually` and `leads-to`: the goal fails from the
/// first state where it is owed on; `always-eventually`: in every state of the cycle (or the
/// state it stutters in); `eventually-always`: in some state of the cycle, and the cycle
/// starts and ends in one (the state the trace explains).
fn replay_lasso<P: Protocol>(
    t: &Typed<P>,
    prop: &coordlab_models::Prop<P>,
    k: usize,
) -> Result<(), String> {
    let n = t.steps.len();
    if k < n && t.state(n) != t.state(k) {
        return Err(format!(
            "the cycle (steps {}–{n}) does not return to the state of step {k}",
            k + 1
        ));
    }
    let goal = |i: usize| (prop.condition)(&t.model, t.state(i));
    match prop.kind {
        Kind::AlwaysEventually => {
            if let Some(i) = (k..=n).find(|&i| goal(i)) {
                return Err(format!(
                    "the state after step {i}, in the cycle, satisfies {}",
                    prop.name
                ));
            }
        }
        Kind::EventuallyAlways => {
            if (k..=n).all(goal) {
                return Err(if k == n {
                    format!(
                        "the state after step {k}, repeated forever, satisfies {}",
                        prop.name
                    )
                } else {
                    format!(
                        "every state of the cycle (steps {}–{n}) satisfies {}",
                        k + 1,
                        prop.name
                    )
                });
            }
            if goal(k) {
                return Err(format!(
                    "the cycle returns to the state after step {k}, where {} holds: a counterexample to an eventually-always property returns to a state where it fails",
                    prop.name
                ));
            }
        }
        Kind::Always | Kind::Sometimes => {
            return Err(format!("{} is not a liveness property", prop.name));
        }
        Kind::Eventually | Kind::LeadsTo => {
            // Where the property starts to be owed: the first state for `eventually`, the
            // first state where the premise holds without the goal for `leads-to`.
            let from = match prop.premise {
                None => 0,
                Some(premise) => (0..=k)
                    .find(|&i| premise(&t.model, t.state(i)) && !goal(i))
                    .ok_or_else(|| {
                        format!(
                            "no state before the cycle satisfies the premise of {} without its goal",
                            prop.name
                        )
                    })?,
            };
            if let Some(i) = (from..=n).find(|&i| goal(i)) {
                return Err(format!("the state after step {i} satisfies {}", prop.name));
            }
        }
    }
    match cycle_fairness(t, k).unfair_because {
        Some(why) => Err(why),
        None => Ok(()),
    }
}
