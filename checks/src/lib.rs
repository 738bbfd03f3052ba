//! The coordlab checking engine: state-space exploration of the models, verdicts against
//! the check manifests, counterexample traces (JSON and Markdown), replay, and reports.
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
//! - Only the bounds in the manifests: a property that holds for 1 message and 2 consumers
//!   may fail for 3 consumers.
//! - Liveness (`eventually`) properties are reported `pending` until coordlab's liveness
//!   checker lands; stateright's `eventually` is not used because it ignores cycles.

use std::io::Write;
use std::path::Path;

pub mod engine;
pub mod explorer;
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
