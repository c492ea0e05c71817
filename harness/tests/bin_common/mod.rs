//! What the tests that run the `demail-testbed` binary share (`cli.rs`, `target.rs`): the
//! binary started in the workspace root, a scratch folder per test, stderr as text.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary, started in the workspace root (so that `scenarios/`, `targets/` resolve).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_demail-testbed"));
    c.current_dir(workspace());
    c
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh, empty scratch folder for one test (named after the test binary's process).
pub fn temp(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("demail-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
