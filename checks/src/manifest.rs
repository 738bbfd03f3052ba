//! Check manifests: which variants to check, at which bounds, and what each property is
//! expected to do there.
//!
//! ```toml
//! protocol = "queue"
//!
//! [[check]]
//! variant = "correct"
//! checker = "bfs"               # for the always and sometimes properties
//! liveness = "fair-cycles"      # for the liveness properties (eventually, leads-to, …)
//! unique-states = 1234          # the state space is pinned: a drift fails the check
//! bounds = { messages = 1, consumers = 2 }
//! expect = { NoMessageLost = "holds", EveryMessageResolved = "pending" }
//! suite = "deep"                # optional: "default" (the default) or "deep"
//! ```
//!
//! Every property of the model must have an expectation, so that no property goes
//! unchecked by omission. A check belongs to one suite: `coordlab check` runs the
//! `default` suite; the `deep` one holds the checks too long for every run (CI), and runs
//! with `coordlab check --suite deep`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The manifests built into the binary, used unless `--manifests DIR` is given.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "checks/manifests/queue.toml",
        include_str!("../manifests/queue.toml"),
    ),
    (
        "checks/manifests/election.toml",
        include_str!("../manifests/election.toml"),
    ),
    (
        "checks/manifests/deque.toml",
        include_str!("../manifests/deque.toml"),
    ),
    (
        "checks/manifests/stealing.toml",
        include_str!("../manifests/stealing.toml"),
    ),
    (
        "checks/manifests/raft.toml",
        include_str!("../manifests/raft.toml"),
    ),
];

/// What a property is expected to do in one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// `always`/`eventually`: no counterexample; `sometimes`: an example exists.
    Holds,
    /// `always`/`eventually`: a counterexample exists; `sometimes`: no example exists.
    Violated,
    /// Not checkable yet; reported, never counted as a failure.
    Pending,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Holds => "holds",
            Expect::Violated => "violated",
            Expect::Pending => "pending",
        }
    }
}

/// Which runs a check belongs to.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Suite {
    /// Run by `coordlab check` (and so by CI).
    #[default]
    Default,
    /// Too long for every run: run by `coordlab check --suite deep`.
    Deep,
}

impl Suite {
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Default => "default",
            Suite::Deep => "deep",
        }
    }
}

/// How the safety and reachability properties of a check are explored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckerKind {
    /// Exhaustive breadth-first search: shortest counterexamples.
    #[default]
    Bfs,
}

impl CheckerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckerKind::Bfs => "bfs",
        }
    }
}

/// How the liveness properties of a check are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LivenessKind {
    /// coordlab's checker: fair strongly connected components of the whole transition
    /// graph (`checks/src/liveness.rs`), lasso counterexamples.
    FairCycles,
}

impl LivenessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LivenessKind::FairCycles => "fair-cycles",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    protocol: String,
    check: Vec<RawCheck>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCheck {
    variant: String,
    /// Distinguishes two checks of one variant at different bounds.
    label: Option<String>,
    checker: CheckerKind,
    liveness: Option<LivenessKind>,
    unique_states: Option<usize>,
    liveness_states: Option<usize>,
    #[serde(default)]
    bounds: toml::Table,
    expect: BTreeMap<String, Expect>,
    #[serde(default)]
    suite: Suite,
}

/// One check, as read from a manifest (bounds not yet interpreted by the protocol).
#[derive(Clone, Debug, Default)]
pub struct CheckSpec {
    /// The manifest it came from, for error messages.
    pub file: PathBuf,
    pub protocol: String,
    pub variant: String,
    pub label: Option<String>,
    /// The checker of the `always` and `sometimes` properties.
    pub checker: CheckerKind,
    /// The checker of the liveness properties (`eventually`, `leads-to`,
    /// `always-eventually`, `eventually-always`); required when one of them
    /// is expected to hold or to be violated.
    pub liveness: Option<LivenessKind>,
    pub unique_states: Option<usize>,
    /// The pinned size of the graph liveness properties are checked on.
    pub liveness_states: Option<usize>,
    pub bounds: toml::Table,
    pub expect: BTreeMap<String, Expect>,
    /// The suite the check belongs to (`default` unless the manifest says `deep`).
    pub suite: Suite,
    /// Bounds changed on the command line (`--set KEY=VALUE`), sorted by key; already
    /// applied to `bounds`. A check with overrides is not compared with the pinned state
    /// counts, which describe the manifest's bounds.
    pub overrides: Vec<(String, toml::Value)>,
}

impl CheckSpec {
    /// `protocol/variant`, with the label if any: `election/correct[three-nodes]`, the
    /// form the command line selects it by.
    pub fn id(&self) -> String {
        match &self.label {
            Some(l) => format!("{}/{}[{l}]", self.protocol, self.variant),
            None => format!("{}/{}", self.protocol, self.variant),
        }
    }

    /// The id, then the overridden bounds if any: `queue/correct (consumers=4)`.
    pub fn display(&self) -> String {
        if self.overrides.is_empty() {
            self.id()
        } else {
            format!("{} ({})", self.id(), self.overrides_line(" "))
        }
    }

    /// Whether the state counts of this run can be compared with the manifest's pins.
    pub fn pinned(&self) -> bool {
        self.overrides.is_empty()
    }

    /// The overrides as `key=value` words, sorted by key.
    pub fn override_words(&self) -> Vec<String> {
        self.overrides
            .iter()
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect()
    }

    /// The overrides as `key=value` joined by `sep`.
    pub fn overrides_line(&self, sep: &str) -> String {
        self.override_words().join(sep)
    }

    /// The `--set` options that give these overrides again (empty when there are none),
    /// quoted for a shell, each with a leading space: for the commands written into traces.
    pub fn set_options(&self) -> String {
        self.override_words()
            .iter()
            .map(|w| format!(" --set {}", shell_word(w)))
            .collect()
    }

    /// Where this check's counterexamples go, below the output directory:
    /// `protocol/variant[/label][/key=value,...]`, so a run at changed bounds never
    /// overwrites the counterexamples of the manifest's bounds.
    pub fn trace_dir(&self) -> PathBuf {
        let mut p = PathBuf::from(&self.protocol).join(&self.variant);
        if let Some(l) = &self.label {
            p.push(l);
        }
        if !self.overrides.is_empty() {
            p.push(self.overrides_line(","));
        }
        p
    }

    /// Applies `--set` overrides to the bounds (a later value for a key wins).
    pub fn apply(&mut self, overrides: &[(String, toml::Value)]) {
        for (k, v) in overrides {
            self.bounds.insert(k.clone(), v.clone());
            self.overrides.retain(|(key, _)| key != k);
            self.overrides.push((k.clone(), v.clone()));
        }
        self.overrides.sort_by(|a, b| a.0.cmp(&b.0));
    }
}

/// A TOML value as a person writes it on the command line: strings bare.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses one `--set KEY=VALUE`. The value is read as TOML (`4`, `true`, `"text"`); a
/// value that is not TOML is taken as a bare string (`retry=immediate`).
pub fn parse_set(arg: &str) -> Result<(String, toml::Value), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("--set `{arg}`: expected KEY=VALUE, e.g. --set consumers=4"))?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "--set `{arg}`: the key must be a bound's kebab-case name, e.g. consumers"
        ));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("--set `{arg}`: no value after `=`"));
    }
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"));
    let value = match parsed {
        Some(v @ (toml::Value::Table(_) | toml::Value::Array(_))) => {
            return Err(format!(
                "--set `{arg}`: a bound is a number, a boolean or a word, not {}",
                v.type_str()
            ));
        }
        Some(v) => v,
        None => toml::Value::String(value.to_string()),
    };
    Ok((key.to_string(), value))
}

/// What a command-line target names: a protocol, a variant, or one labelled check:
/// `queue`, `queue/correct`, `election/correct[three-nodes]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub protocol: String,
    pub variant: Option<String>,
    pub label: Option<String>,
}

impl Target {
    /// Parses a target; only its shape is checked here.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}`: expected PROTO, PROTO/VARIANT or PROTO/VARIANT[LABEL] (e.g. election/correct[three-nodes])"
            )
        };
        let (path, label) = match s.split_once('[') {
            Some((path, rest)) => {
                let label = rest.strip_suffix(']').ok_or_else(bad)?;
                if label.is_empty() || label.contains(['[', ']']) {
                    return Err(bad());
                }
                (path, Some(label.to_string()))
            }
            None if s.contains(']') => return Err(bad()),
            None => (s, None),
        };
        let (protocol, variant) = match path.split_once('/') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (path, None),
        };
        if protocol.is_empty()
            || variant
                .as_deref()
                .is_some_and(|v| v.is_empty() || v.contains('/'))
            || (label.is_some() && variant.is_none())
        {
            return Err(bad());
        }
        Ok(Target {
            protocol: protocol.to_string(),
            variant,
            label,
        })
    }

    /// Whether the check is one this target names.
    pub fn selects(&self, spec: &CheckSpec) -> bool {
        spec.protocol == self.protocol
            && self.variant.as_ref().is_none_or(|v| *v == spec.variant)
            && self
                .label
                .as_ref()
                .is_none_or(|l| spec.label.as_ref() == Some(l))
    }
}

/// Where the manifests come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--manifests DIR`, as given.
    Explicit(PathBuf),
    /// `checks/manifests/` under the working directory (a checkout of coordlab).
    Found(PathBuf),
    /// The manifests compiled into the binary.
    Builtin,
}

/// The directory a checkout keeps its manifests in, relative to its root.
pub const DEFAULT_DIR: &str = "checks/manifests";

impl Source {
    /// `--manifests DIR` if given; else `checks/manifests/` under the working directory if
    /// it exists, so an edited manifest takes effect without a rebuild; else the built-in
    /// manifests.
    pub fn discover(explicit: Option<&Path>) -> Self {
        match explicit {
            Some(dir) => Source::Explicit(dir.to_path_buf()),
            None if Path::new(DEFAULT_DIR).is_dir() => Source::Found(PathBuf::from(DEFAULT_DIR)),
            None => Source::Builtin,
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        match self {
            Source::Explicit(d) | Source::Found(d) => Some(d),
            Source::Builtin => None,
        }
    }

    /// The note printed on stderr when the built-in manifests are used, so an edit of a
    /// manifest file elsewhere is not silently ignored.
    pub fn note(&self) -> Option<String> {
        match self {
            Source::Builtin => Some(format!(
                "coordlab: no {DEFAULT_DIR}/ in the working directory: using the manifests built into this binary (--manifests DIR reads others)"
            )),
            _ => None,
        }
    }

    /// The option that selects these manifests again, for the commands written into
    /// counterexamples: empty unless they were given with `--manifests`.
    pub fn option(&self) -> String {
        match self {
            Source::Explicit(d) => format!(" --manifests {}", shell_word(&d.to_string_lossy())),
            _ => String::new(),
        }
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A fault in a manifest: the file and what is wrong, on one line.
#[derive(Debug, thiserror::Error)]
#[error("{}: {msg}", file.display())]
pub struct ManifestError {
    pub file: PathBuf,
    pub msg: String,
}

/// Parses one manifest's text.
pub fn parse(file: &Path, text: &str) -> Result<Vec<CheckSpec>, ManifestError> {
    let fault = |msg: String| ManifestError {
        file: file.to_path_buf(),
        msg,
    };
    let raw: RawManifest = toml::from_str(text).map_err(|e| fault(toml_error(text, &e)))?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, c) in raw.check.into_iter().enumerate() {
        if let Some(l) = &c.label
            && (l.is_empty()
                || !l
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'))
        {
            return Err(fault(format!(
                "check {}: label `{l}` must be kebab-case",
                i + 1
            )));
        }
        if !seen.insert((c.variant.clone(), c.label.clone())) {
            return Err(fault(format!(
                "check {}: a second check of `{}` needs a distinct `label`",
                i + 1,
                c.variant
            )));
        }
        out.push(CheckSpec {
            file: file.to_path_buf(),
            protocol: raw.protocol.clone(),
            variant: c.variant,
            label: c.label,
            checker: c.checker,
            liveness: c.liveness,
            unique_states: c.unique_states,
            liveness_states: c.liveness_states,
            bounds: c.bounds,
            expect: c.expect,
            suite: c.suite,
            overrides: Vec::new(),
        });
    }
    Ok(out)
}

/// One line from a TOML error: its message and where.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = crate::plain(e.message());
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

/// Loads the built-in manifests, or every `*.toml` in `dir` (sorted by name).
pub fn load(dir: Option<&Path>) -> Result<Vec<CheckSpec>, ManifestError> {
    let mut out = Vec::new();
    match dir {
        None => {
            for (file, text) in BUILTIN {
                out.extend(parse(Path::new(file), text)?);
            }
        }
        Some(dir) => {
            let entries = std::fs::read_dir(dir).map_err(|e| ManifestError {
                file: dir.to_path_buf(),
                msg: format!("cannot read the manifest directory: {e}"),
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(ManifestError {
                    file: dir.to_path_buf(),
                    msg: "no *.toml manifests here".into(),
                });
            }
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| ManifestError {
                    file: f.clone(),
                    msg: format!("cannot read: {e}"),
                })?;
                out.extend(parse(&f, &text)?);
            }
        }
    }
    // One check per (protocol, variant, label), across files as within one: a second would
    // run twice and write the same counterexamples.
    for (i, c) in out.iter().enumerate() {
        if let Some(first) = out[..i]
            .iter()
            .find(|o| o.protocol == c.protocol && o.variant == c.variant && o.label == c.label)
        {
            return Err(ManifestError {
                file: c.file.clone(),
                msg: format!(
                    "a second check of `{}` (the first is in {}): give one a distinct `label`",
                    c.id(),
                    first.file.display()
                ),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifests_parse() {
        let checks = load(None).unwrap();
        assert!(
            checks
                .iter()
                .any(|c| c.protocol == "queue" && c.variant == "correct")
        );
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = parse(Path::new("m.toml"), "protocol = \"queue\"\n[[check]\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("m.toml: line 2, column"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let text = "protocol = \"queue\"\n[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nexpect = {}\ncolour = 1\n";
        let msg = parse(Path::new("m.toml"), text).unwrap_err().to_string();
        assert!(msg.contains("colour"), "{msg}");
    }

    #[test]
    fn duplicate_variant_needs_a_label() {
        let one = "[[check]]\nvariant = \"correct\"\nchecker = \"bfs\"\nexpect = {}\n";
        let text = format!("protocol = \"queue\"\n{one}{one}");
        let msg = parse(Path::new("m.toml"), &text).unwrap_err().to_string();
        assert!(msg.contains("distinct `label`"), "{msg}");
    }
}
