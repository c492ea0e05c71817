//! Golden files: the expected trace and summary of each scenario, in insta's snapshot format
//! so that `cargo insta review` works on them from the tests.
//!
//! `golden/<group>/<name>.trace.snap` and `.summary.snap` hold a small metadata header
//! between `---` lines, then the content. The CLI compares the content the same way insta
//! does (trailing whitespace ignored), writes the new output beside a mismatching golden as
//! `.snap.new`, and prints a unified diff; `--bless` writes the golden instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use similar::TextDiff;

/// The `source:` insta records for snapshots asserted in `harness/tests/golden.rs`.
pub const SNAPSHOT_SOURCE: &str = "harness/tests/golden.rs";

/// Which golden file of a scenario.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Trace,
    Summary,
}

impl Kind {
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Trace => "trace",
            Kind::Summary => "summary",
        }
    }
}

/// The golden path of a scenario named `group/name` under `golden_root`.
pub fn path(golden_root: &Path, scenario: &str, kind: Kind) -> PathBuf {
    let (dir, base) = match scenario.rsplit_once('/') {
        Some((d, b)) => (golden_root.join(d), b),
        None => (golden_root.to_path_buf(), scenario),
    };
    dir.join(format!("{base}.{}.snap", kind.suffix()))
}

/// The result of comparing output with a golden file.
#[derive(Debug, PartialEq, Eq)]
pub enum Comparison {
    Same,
    /// The golden file does not exist.
    Missing,
    /// Different; the unified diff (golden → actual).
    Different(String),
}

/// The content of a snapshot file (after the metadata header).
pub fn content_of(snapshot: &str) -> &str {
    let Some(rest) = snapshot.strip_prefix("---\n") else {
        return snapshot;
    };
    match rest.find("\n---\n") {
        Some(i) => &rest[i + 5..],
        None => snapshot,
    }
}

/// Renders a snapshot file the way insta writes it.
pub fn render(content: &str) -> String {
    format!(
        "---\nsource: {SNAPSHOT_SOURCE}\n---\n{}\n",
        content.trim_end()
    )
}

/// Compares `actual` with the golden file at `path`.
pub fn compare(path: &Path, actual: &str) -> Result<Comparison> {
    let golden = match std::fs::read_to_string(path) {
        Ok(g) => g,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Comparison::Missing),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // Compared as insta does: trailing whitespace does not count.
    let expected = format!("{}\n", content_of(&golden).trim_end());
    let actual = format!("{}\n", actual.trim_end());
    if expected == actual {
        return Ok(Comparison::Same);
    }
    let diff = TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .context_radius(2)
        .header(&path.display().to_string(), "actual")
        .to_string();
    Ok(Comparison::Different(diff))
}

/// Writes the golden file (creating folders).
pub fn bless(path: &Path, actual: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, render(actual)).with_context(|| format!("writing {}", path.display()))
}

/// Writes the new output beside the golden as `<golden>.new` and returns its path.
pub fn write_pending(path: &Path, actual: &str) -> Result<PathBuf> {
    let mut p = path.as_os_str().to_owned();
    p.push(".new");
    let p = PathBuf::from(p);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&p, render(actual)).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A golden that differs in one line is reported with a diff naming the line; an equal
    /// one (up to trailing whitespace) is the same; a missing one is missing.
    #[test]
    fn compare_finds_changes_and_ignores_trailing_whitespace() {
        let dir = std::env::temp_dir().join(format!("demail-golden-test-{}", std::process::id()));
        let p = path(&dir, "gewerbe/x", Kind::Trace);
        assert_eq!(p, dir.join("gewerbe").join("x.trace.snap"));
        assert_eq!(compare(&p, "a\nb\n").unwrap(), Comparison::Missing);
        bless(&p, "a\nb\n").unwrap();
        assert_eq!(compare(&p, "a\nb").unwrap(), Comparison::Same);
        match compare(&p, "a\nc\n").unwrap() {
            Comparison::Different(d) => {
                assert!(d.contains("-b"), "{d}");
                assert!(d.contains("+c"), "{d}");
            }
            other => panic!("expected a difference, got {other:?}"),
        }
        let pending = write_pending(&p, "a\nc\n").unwrap();
        assert!(pending.to_string_lossy().ends_with(".trace.snap.new"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The content is what follows the metadata header.
    #[test]
    fn content_follows_the_header() {
        assert_eq!(content_of(&render("x\ny")), "x\ny\n");
        assert_eq!(content_of("no header"), "no header");
    }
}
