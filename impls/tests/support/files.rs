//! Files the test binaries share (`#[path]`-included by each): the workspace's root, a
//! package's locked version, and committed files compared or rewritten (`COORDLAB_BLESS=1`).
//! Engine-agnostic: the shuttle searches and the loom counterexamples both use it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("impls/ has a parent")
        .to_path_buf()
}

/// The version of `package` in the workspace's Cargo.lock.
pub fn locked_version(package: &str) -> String {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .expect("read the workspace Cargo.lock");
    let mut lines = lock.lines();
    let name = format!("name = \"{package}\"");
    while let Some(line) = lines.next() {
        if line == name {
            let version = lines.next().expect("a version line after the name");
            return version
                .trim_start_matches("version = \"")
                .trim_end_matches('"')
                .to_owned();
        }
    }
    panic!("no {package} package in Cargo.lock");
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, then a
/// rename over the target, so no half-written file is ever left.
fn write_atomically(path: &Path, contents: &str) {
    let dir = path.parent().expect("a file path has a parent");
    std::fs::create_dir_all(dir).expect("create the counterexample directory");
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, contents).expect("write the temporary file");
    std::fs::rename(&tmp, path).expect("rename the temporary file into place");
}

/// With `COORDLAB_BLESS=1`, (re)writes `path`; otherwise asserts that the committed file holds
/// exactly `contents`.
pub fn bless_or_compare(path: &Path, contents: &str) {
    if std::env::var_os("COORDLAB_BLESS").is_some_and(|v| v == "1") {
        write_atomically(path, contents);
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}; regenerate with COORDLAB_BLESS=1", path.display()));
    assert!(
        committed == contents,
        "{} differs from what the test produces now; regenerate with COORDLAB_BLESS=1",
        path.display()
    );
}
