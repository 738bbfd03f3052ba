//! Running the `coordlab` binary from the integration tests: the checkout's root, and the
//! command run there or in a scratch copy. Included by each test binary with `#[path]`; not
//! every binary uses every function.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The checkout's root (the workspace directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `coordlab` with `args` in the checkout's root.
pub fn coordlab(args: &[&str]) -> Output {
    coordlab_in(&root(), args)
}

/// Runs `coordlab` in `dir`, a scratch copy of a checkout: its own `checks/manifests/`, its
/// own `counterexamples/`.
pub fn coordlab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coordlab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("coordlab runs")
}
