//! Build script: records the git commit the binary is built from as
//! `DEMAIL_TESTBED_GIT_COMMIT` (for certificates), or "unknown" without git. The variable of
//! the same name in the environment overrides it (builds from a source archive).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=DEMAIL_TESTBED_GIT_COMMIT");
    let commit = std::env::var("DEMAIL_TESTBED_GIT_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=DEMAIL_TESTBED_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves: the HEAD file, the branch's ref file (or packed-refs).
    if let Some(head) = git(&["rev-parse", "--path-format=absolute", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &branch])
    {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        } else if let Some(packed) = git(&[
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "packed-refs",
        ]) {
            println!("cargo:rerun-if-changed={packed}");
        }
    }
}
