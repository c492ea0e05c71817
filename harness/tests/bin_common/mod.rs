//! What the tests that run the `demail-testbed` binary share (`cli.rs`, `target.rs`): the
//! binary started in the workspace root, a scratch folder per test, stderr as text, and the
//! Chromium of the browser tests.

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

/// The Chromium binary, if one is installed; without one the test is skipped loudly, or fails
/// on CI.
pub fn chromium(test: &str) -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new(name)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: chromium is not installed; install it with `apt-get install -y --no-install-recommends chromium` (.ci/run does)"
        );
        eprintln!(
            "\n*** SKIPPED: chromium missing: {test} needs `apt-get install -y --no-install-recommends chromium` ***\n"
        );
    }
    found
}
