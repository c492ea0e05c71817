//! Golden files: the expected trace and summary of each scenario, in insta's snapshot format
//! so that `cargo insta review` works on them from the tests.
//!
//! `golden/<group>/<name>.trace.snap` and `.summary.snap` hold a small metadata header
//! between `---` lines, then the content. The CLI compares the content the same way insta
//! does (trailing whitespace ignored), writes the new output of a mismatching golden into the
//! run folder as `trace.snap.new` / `summary.snap.new`, and prints what changed (a trace
//! field by field, `golden_diff`; a summary as a unified diff); `--bless` writes the golden
//! instead.
//!
//! Where a scenario's golden files live ([`place`], docs/scenarios.md "Golden files"): under
//! `--golden DIR` when named; in the project's `golden/` when the scenario lies in a folder
//! `scenarios/` that has a `golden/` beside it (this repository's layout); otherwise beside
//! the scenario file. A first run without golden files records them there.
//!
//! Redactions (`[scenario] redact = ["aktenzeichen"]`): the values of the named trace columns
//! are replaced by `"[redacted]"` in the trace that is compared and blessed, so an intake that
//! chooses its own file numbers or texts still matches. `trace.jsonl` in the run folder keeps
//! the real values.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use similar::TextDiff;

/// The `source:` insta records for snapshots asserted in `harness/tests/golden.rs`.
pub const SNAPSHOT_SOURCE: &str = "harness/tests/golden.rs";

/// Trace columns a scenario may redact: values an intake other than the reference one may
/// choose freely. Everything else (times, message ids, verdicts) stays compared.
pub const REDACTABLE: &[&str] = &[
    "aktenzeichen",
    "reason",
    "detail",
    "deadlines",
    "source",
    "subject",
    "eml",
];

/// The trace with the values of `columns` (top-level keys of each JSON line) replaced by
/// `"[redacted]"`. Lines that are not JSON objects are kept as they are.
pub fn redact<'a>(trace: &'a str, columns: &[String]) -> Cow<'a, str> {
    if columns.is_empty() {
        return Cow::Borrowed(trace);
    }
    let mut out = String::with_capacity(trace.len());
    for line in trace.split_inclusive('\n') {
        let mut l = line.to_string();
        for c in columns {
            l = redact_key(&l, c);
        }
        out.push_str(&l);
    }
    Cow::Owned(out)
}

/// Replaces the value of the top-level key `key` in one JSON line.
fn redact_key(line: &str, key: &str) -> String {
    let needle = format!("\"{key}\":");
    let bytes = line.as_bytes();
    let mut search = 0;
    while let Some(pos) = line[search..].find(&needle).map(|p| p + search) {
        // A key starts right after '{' or ','; inside a string '"' is escaped.
        let before = line[..pos].trim_end().chars().last();
        let start = pos + needle.len();
        if !matches!(before, Some('{' | ',')) {
            search = start;
            continue;
        }
        let Some(end) = value_end(bytes, start) else {
            return line.to_string();
        };
        return format!("{}\"[redacted]\"{}", &line[..start], &line[end..]);
    }
    line.to_string()
}

/// The byte index just after the JSON value starting at `start`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    let (mut i, mut depth, mut in_str, mut esc) = (start, 0i32, false, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => {
                    in_str = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                b',' | b'}' if depth == 0 => return Some(i),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

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

/// Where a run's golden files live, and why there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The folder the scenario names are resolved under (`<root>/<name>.trace.snap`).
    pub root: PathBuf,
    pub origin: Origin,
}

/// Why the golden files are where they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--golden DIR`.
    Named,
    /// The `golden/` folder beside the `scenarios/` folder the scenario lies in.
    Project,
    /// Beside the scenario file (no project layout around it).
    Beside,
}

/// Where the golden files of a scenario whose names are relative to `scenario_root` live:
/// `named` (`--golden DIR`) if given; the `golden/` folder beside `scenario_root` when that is a
/// folder called `scenarios` and `golden/` exists; else `scenario_root` itself, so that each
/// golden file lies beside its scenario file.
pub fn place(named: Option<&Path>, scenario_root: &Path) -> Place {
    if let Some(dir) = named {
        return Place {
            root: dir.to_path_buf(),
            origin: Origin::Named,
        };
    }
    if scenario_root.file_name().is_some_and(|n| n == "scenarios") {
        let project = scenario_root
            .parent()
            .unwrap_or(Path::new(""))
            .join("golden");
        if project.is_dir() {
            return Place {
                root: project,
                origin: Origin::Project,
            };
        }
    }
    Place {
        root: scenario_root.to_path_buf(),
        origin: Origin::Beside,
    }
}

/// The result of comparing output with a golden file.
#[derive(Debug, PartialEq, Eq)]
pub enum Comparison {
    Same,
    /// The golden file does not exist.
    Missing,
    /// Different; what changed (golden → actual): for a trace the changed events and fields
    /// (`golden_diff`), for a summary a unified diff.
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
    format!("{}{}\n", snapshot_header(), content.trim_end())
}

/// The metadata header insta writes before a snapshot's content.
fn snapshot_header() -> String {
    format!("---\nsource: {SNAPSHOT_SOURCE}\n---\n")
}

/// Compares `actual` with the golden file at `path`, a golden file of `kind`.
pub fn compare(path: &Path, actual: &str, kind: Kind) -> Result<Comparison> {
    let golden = match std::fs::read_to_string(path) {
        Ok(g) => g,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Comparison::Missing),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // Compared as insta does: trailing whitespace does not count. Compared in place: a long
    // run's trace is the largest thing it holds, so no copy is made unless they differ.
    let golden = content_of(&golden).trim_end();
    if golden == actual.trim_end() {
        return Ok(Comparison::Same);
    }
    let expected = format!("{golden}\n");
    let actual = format!("{}\n", actual.trim_end());
    if let Kind::Trace = kind {
        return Ok(Comparison::Different(super::golden_diff::trace_diff(
            &expected, &actual,
        )));
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
    write_snapshot(path, actual).with_context(|| format!("writing {}", path.display()))
}

/// Writes what [`render`] gives for `content` to `path`, without a copy of `content`.
fn write_snapshot(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(snapshot_header().as_bytes())?;
    out.write_all(content.trim_end().as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Writes the new output into the run folder as `<run_dir>/<kind>.snap.new` (never into the
/// golden folder) and returns its path.
pub fn write_pending(run_dir: &Path, kind: Kind, actual: &str) -> Result<PathBuf> {
    let p = run_dir.join(format!("{}.snap.new", kind.suffix()));
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    write_snapshot(&p, actual).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_only_top_level_values() {
        let line = r#"{"seq":1,"kind":"intake.received","aktenzeichen":"GA-2025-00001","binding":true,"reason":"a \"quoted\", text","deadlines":["x: 1","y"],"detail":"has \"aktenzeichen\":1 inside"}"#;
        let cols: Vec<String> = ["aktenzeichen", "reason", "deadlines"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let input = format!("{line}\n");
        let r = redact(&input, &cols);
        assert_eq!(
            r,
            "{\"seq\":1,\"kind\":\"intake.received\",\"aktenzeichen\":\"[redacted]\",\"binding\":true,\"reason\":\"[redacted]\",\"deadlines\":\"[redacted]\",\"detail\":\"has \\\"aktenzeichen\\\":1 inside\"}\n"
        );
        // Numbers at the end of an object, absent keys, and no columns at all.
        let r = redact(
            "{\"a\":1,\"seq\":22}\n",
            &["seq".to_string(), "zz".to_string()],
        );
        assert_eq!(r, "{\"a\":1,\"seq\":\"[redacted]\"}\n");
        assert_eq!(redact("x\n", &[]), "x\n");
    }

    /// A golden that differs in one line is reported with a diff naming the line; an equal
    /// one (up to trailing whitespace) is the same; a missing one is missing.
    #[test]
    fn compare_finds_changes_and_ignores_trailing_whitespace() {
        let dir = std::env::temp_dir().join(format!("demail-golden-test-{}", std::process::id()));
        let p = path(&dir, "gewerbe/x", Kind::Trace);
        assert_eq!(p, dir.join("gewerbe").join("x.trace.snap"));
        assert_eq!(
            compare(&p, "a\nb\n", Kind::Summary).unwrap(),
            Comparison::Missing
        );
        bless(&p, "a\nb\n").unwrap();
        assert_eq!(
            compare(&p, "a\nb", Kind::Summary).unwrap(),
            Comparison::Same
        );
        match compare(&p, "a\nc\n", Kind::Summary).unwrap() {
            Comparison::Different(d) => {
                assert!(d.contains("-b"), "{d}");
                assert!(d.contains("+c"), "{d}");
            }
            other => panic!("expected a difference, got {other:?}"),
        }
        let pending = write_pending(&dir.join("run"), Kind::Trace, "a\nc\n").unwrap();
        assert_eq!(pending, dir.join("run").join("trace.snap.new"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Golden files go under --golden, into a project's golden/ beside scenarios/, or beside
    /// the scenario.
    #[test]
    fn place_prefers_named_then_project_then_beside() {
        let dir = std::env::temp_dir().join(format!("demail-golden-place-{}", std::process::id()));
        let scenarios = dir.join("scenarios");
        std::fs::create_dir_all(&scenarios).unwrap();
        let named = dir.join("mine");
        assert_eq!(place(Some(&named), &scenarios).origin, Origin::Named);
        assert_eq!(place(Some(&named), &scenarios).root, named);
        assert_eq!(
            place(None, &scenarios),
            Place {
                root: scenarios.clone(),
                origin: Origin::Beside
            }
        );
        std::fs::create_dir_all(dir.join("golden")).unwrap();
        assert_eq!(
            place(None, &scenarios),
            Place {
                root: dir.join("golden"),
                origin: Origin::Project
            }
        );
        let other = dir.join("meine-szenarien");
        assert_eq!(place(None, &other).origin, Origin::Beside);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The content is what follows the metadata header.
    #[test]
    fn content_follows_the_header() {
        assert_eq!(content_of(&render("x\ny")), "x\ny\n");
        // Written to a file without a copy, the same bytes.
        let p = std::env::temp_dir().join(format!("demail-golden-render-{}", std::process::id()));
        write_snapshot(&p, "x\ny \n\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), render("x\ny \n\n"));
        std::fs::remove_file(&p).unwrap();
        assert_eq!(content_of("no header"), "no header");
    }
}
