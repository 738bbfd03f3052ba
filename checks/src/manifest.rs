//! Check manifests: which variants to check, at which bounds, and what each property is
//! expected to do there.
//!
//! ```toml
//! protocol = "queue"
//!
//! [[check]]
//! variant = "correct"
//! checker = "bfs"               # for the always and sometimes properties
//! liveness = "fair-cycles"      # for the eventually and leads-to properties
//! unique-states = 1234          # the state space is pinned: a drift fails the check
//! bounds = { messages = 1, consumers = 2 }
//! expect = { NoMessageLost = "holds", EveryMessageResolved = "pending" }
//! ```
//!
//! Every property of the model must have an expectation, so that no property goes
//! unchecked by omission.

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

/// How the safety and reachability properties of a check are explored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckerKind {
    /// Exhaustive breadth-first search: shortest counterexamples.
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
}

/// One check, as read from a manifest (bounds not yet interpreted by the protocol).
#[derive(Clone, Debug)]
pub struct CheckSpec {
    /// The manifest it came from, for error messages.
    pub file: PathBuf,
    pub protocol: String,
    pub variant: String,
    pub label: Option<String>,
    /// The checker of the `always` and `sometimes` properties.
    pub checker: CheckerKind,
    /// The checker of the `eventually` and `leads-to` properties; required when one of them
    /// is expected to hold or to be violated.
    pub liveness: Option<LivenessKind>,
    pub unique_states: Option<usize>,
    /// The pinned size of the graph liveness properties are checked on.
    pub liveness_states: Option<usize>,
    pub bounds: toml::Table,
    pub expect: BTreeMap<String, Expect>,
}

impl CheckSpec {
    /// `protocol/variant`, with the label if any.
    pub fn id(&self) -> String {
        match &self.label {
            Some(l) => format!("{}/{} [{l}]", self.protocol, self.variant),
            None => format!("{}/{}", self.protocol, self.variant),
        }
    }

    /// Where this check's counterexamples go, below the output directory.
    pub fn trace_dir(&self) -> PathBuf {
        let mut p = PathBuf::from(&self.protocol).join(&self.variant);
        if let Some(l) = &self.label {
            p.push(l);
        }
        p
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
        });
    }
    Ok(out)
}

/// One line from a TOML error: its message and where.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
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
