//! The coordlab checking engine: state-space exploration of the models, verdicts against
//! the check manifests, counterexample traces (JSON and Markdown), replay, and reports; and
//! where the models meet the implementations: implementation runs checked against the models
//! ([`conform`]) and model behaviours driven against the implementations ([`drive`]); and
//! the Raft key-value store served over TCP on localhost ([`kv`]).
//!
//! The `coordlab` binary (src/main.rs) is a thin CLI over these modules.
//!
//! ```no_run
//! use coordlab_checks::engine::{Budget, Exploration, Progress};
//! use coordlab_models::{Protocol, queue::{QueueConfig, QueueModel}};
//!
//! let model = QueueModel::new("stale-receipt-delete", QueueConfig::default()).unwrap();
//! let ex = Exploration::run(model, Budget::new(2, None), &Progress::default());
//! let lost = QueueModel::props().iter().position(|p| p.name == "NoMessageLost").unwrap();
//! let (init, steps) = ex.path_to(ex.first_hit(lost).expect("the bug is found"));
//! assert!(!steps.is_empty());
//! # let _ = init;
//! ```
//!
//! # What is not checked
//! - Only the bounds in the manifests (or given with `--set`): a property that holds for 1
//!   message and 2 consumers may fail for 3 consumers.
//! - Liveness (`eventually`, `leads-to`, `always-eventually`, `eventually-always`) is decided
//!   on the whole transition graph without symmetry reduction, under the fairness each model
//!   declares per class of actions ([`liveness`]); a behaviour that is unfair by those
//!   declarations is never reported.
//! - A check out of its `--timeout` budget decides nothing it had not reached: its
//!   remaining verdicts are `unknown`, and the run fails.
//! - Conformance and driving relate only what each protocol's mapping observes (see
//!   [`conform`] and [`drive`]), one sequential behaviour at a time: the implementations'
//!   races are their loom and shuttle suites' to find.

use std::io::Write;
use std::path::Path;

pub mod conform;
pub mod drive;
pub mod engine;
pub mod explorer;
pub mod kv;
pub mod liveness;
pub mod manifest;
pub mod registry;
pub mod report;
pub mod simulate;
pub mod trace;

/// Bad usage or bad input: reported on one line, exit code 2.
#[derive(Debug)]
pub struct Fault(String);

impl Fault {
    /// A fault in a file.
    pub fn new(file: &Path, msg: impl std::fmt::Display) -> Self {
        Fault(format!("{}: {msg}", file.display()))
    }

    /// A fault in the command line.
    pub fn usage(msg: String) -> Self {
        Fault(msg)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A serde or TOML error message in plain words, on one line: what was found, what was
/// expected, without serde's vocabulary ("unit variant", "struct variant", "map").
pub fn plain(msg: &str) -> String {
    let mut m = msg.trim().replace('\n', " ");
    // serde_json appends " at line L column C"; keep the position, in our words.
    let mut at = String::new();
    if let Some(i) = m.rfind(" at line ")
        && let Some(pos) = m[i + 9..].split_once(" column ")
        && pos.0.chars().all(|c| c.is_ascii_digit())
        && pos.1.chars().all(|c| c.is_ascii_digit())
    {
        at = format!(" (line {}, column {})", pos.0, pos.1);
        m.truncate(i);
    }
    let words = [
        ("unit variant", "a bare name"),
        ("newtype variant", "a name with one value"),
        ("tuple variant", "a name with values"),
        ("struct variant", "a name with fields ({\"name\": {...}})"),
        ("unit value", "null"),
        ("a map", "an object"),
        ("map", "object"),
        ("a sequence", "a list"),
        ("sequence", "list"),
        ("internally tagged enum", "tagged value"),
        ("variant identifier", "name"),
        ("field identifier", "field name"),
    ];
    for (jargon, word) in words {
        m = m.replace(jargon, word);
    }
    if let Some(rest) = m.strip_prefix("invalid type: ") {
        m = format!("found {rest}");
        m = m.replacen(", expected ", " where it expects ", 1);
    } else if let Some(rest) = m.strip_prefix("invalid value: ") {
        // "integer `300`, expected u8": the model's own check gives the range.
        m = match rest
            .strip_prefix("integer ")
            .and_then(|r| r.split_once(", expected "))
        {
            Some((n, ty)) if ty.starts_with('u') || ty.starts_with('i') => {
                format!("{n} is out of range")
            }
            _ => rest.replacen(", expected ", " is out of range: expected ", 1),
        };
    } else if let Some(rest) = m.strip_prefix("unknown variant ") {
        m = format!(
            "unknown name {}",
            rest.replacen(", expected ", " (known: ", 1)
        );
        if m.contains("(known: ") {
            m.push(')');
        }
    } else if let Some(rest) = m.strip_prefix("unknown field ") {
        m = format!(
            "unknown field {}",
            rest.replacen(", expected ", " (known: ", 1)
        );
        if m.contains("(known: ") {
            m.push(')');
        }
    }
    for ty in ["usize", "u64", "u32", "u16", "u8"] {
        m = m.replace(&format!("expects {ty}"), "expects a whole number");
    }
    format!("{m}{at}")
}

/// "1 check", "2 checks".
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Writes a file all at once: to a temporary file beside it, then renamed over it, so a
/// reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Fault> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Fault::new(dir, format!("cannot create directory: {e}")))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Fault::new(path, format!("cannot write: {e}"))
    })
}
