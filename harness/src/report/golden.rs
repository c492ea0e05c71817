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

/// What a run produced for one golden file: a text in memory (the summary), or a trace file
/// that is compared and written a line at a time, with the scenario's redacted columns.
pub enum Output<'a> {
    Text(&'a str),
    TraceFile {
        path: &'a Path,
        redact: &'a [String],
    },
}

impl Output<'_> {
    /// [`compare`] or [`compare_trace_file`] against the golden file at `golden`.
    pub fn compare(&self, golden: &Path, kind: Kind) -> Result<Comparison> {
        match self {
            Output::Text(text) => compare(golden, text, kind),
            Output::TraceFile { path, redact } => compare_trace_file(golden, path, redact),
        }
    }

    /// [`bless`] or [`bless_trace_file`] into the golden file at `golden`.
    pub fn bless(&self, golden: &Path) -> Result<()> {
        match self {
            Output::Text(text) => bless(golden, text),
            Output::TraceFile { path, redact } => bless_trace_file(golden, path, redact),
        }
    }

    /// [`write_pending`] or [`write_pending_trace_file`] into `run_dir`.
    pub fn write_pending(&self, run_dir: &Path, kind: Kind) -> Result<PathBuf> {
        match self {
            Output::Text(text) => write_pending(run_dir, kind, text),
            Output::TraceFile { path, redact } => write_pending_trace_file(run_dir, path, redact),
        }
    }
}

/// One line of a trace (with its line end) with the values of `columns` redacted, as
/// [`redact`] does for a whole trace.
fn redact_line(line: String, columns: &[String]) -> String {
    columns.iter().fold(line, |l, c| redact_key(&l, c))
}

/// The lines of the file at `path`, each with its line end (the last one may lack it).
fn lines_of(path: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<String>>> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    Ok(std::iter::from_fn(move || {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(Ok(line)),
            Err(e) => Some(Err(e)),
        }
    }))
}

/// Compares the trace file at `actual`, with `columns` redacted, with the golden trace at
/// `path`, line by line: a long run's trace is never held in memory when the two are the
/// same. Anything else is decided by [`compare`] on both read whole (a difference, a golden
/// file without its header's end), so the verdict is always [`compare`]'s.
pub fn compare_trace_file(path: &Path, actual: &Path, columns: &[String]) -> Result<Comparison> {
    let mut golden = match lines_of(path) {
        Ok(lines) => lines,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Comparison::Missing),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut actual_lines =
        lines_of(actual).with_context(|| format!("reading {}", actual.display()))?;
    let mut first = golden.next().transpose().map_err(read(path))?;
    if first.as_deref() == Some("---\n") {
        // The snapshot's metadata header, up to its closing `---` line.
        loop {
            match golden.next().transpose().map_err(read(path))? {
                Some(l) if l == "---\n" => break,
                Some(_) => {}
                None => return compare_whole(path, actual, columns),
            }
        }
        first = golden.next().transpose().map_err(read(path))?;
    }
    let mut expected = first;
    loop {
        let got = actual_lines
            .next()
            .transpose()
            .map_err(read(actual))?
            .map(|l| redact_line(l, columns));
        match (expected, got) {
            (None, None) => return Ok(Comparison::Same),
            (Some(e), Some(g)) if e == g => {}
            _ => return compare_whole(path, actual, columns),
        }
        expected = golden.next().transpose().map_err(read(path))?;
    }
}

/// An I/O error reading `p`, with the file named.
fn read(p: &Path) -> impl Fn(std::io::Error) -> anyhow::Error + '_ {
    move |e| anyhow::Error::from(e).context(format!("reading {}", p.display()))
}

/// [`compare`] of the trace file at `actual`, read whole and redacted.
fn compare_whole(path: &Path, actual: &Path, columns: &[String]) -> Result<Comparison> {
    let text =
        std::fs::read_to_string(actual).with_context(|| format!("reading {}", actual.display()))?;
    compare(path, &redact(&text, columns), Kind::Trace)
}

/// Writes the trace file at `actual`, with `columns` redacted, as the golden file at `path`
/// (creating folders), line by line: what [`bless`] writes for the trace read whole.
pub fn bless_trace_file(path: &Path, actual: &Path, columns: &[String]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_snapshot_lines(path, actual, columns)
}

/// Writes the trace file at `actual`, with `columns` redacted, into the run folder as
/// `<run_dir>/trace.snap.new` (what [`write_pending`] writes for it read whole).
pub fn write_pending_trace_file(
    run_dir: &Path,
    actual: &Path,
    columns: &[String],
) -> Result<PathBuf> {
    let p = run_dir.join(format!("{}.snap.new", Kind::Trace.suffix()));
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    write_snapshot_lines(&p, actual, columns)?;
    Ok(p)
}

/// Writes the snapshot of the trace file at `actual` (redacted) to `path` a line at a time:
/// the header, the lines, trailing whitespace of the whole trimmed as [`render`] does.
fn write_snapshot_lines(path: &Path, actual: &Path, columns: &[String]) -> Result<()> {
    use std::io::Write;
    let write =
        |e: std::io::Error| anyhow::Error::from(e).context(format!("writing {}", path.display()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(write)?);
    out.write_all(snapshot_header().as_bytes()).map_err(write)?;
    // Whitespace-only lines are held back until a line with content follows, and the last
    // line with content is written without its trailing whitespace, plus one line end.
    let mut held: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    for line in lines_of(actual).with_context(|| format!("reading {}", actual.display()))? {
        let line = redact_line(
            line.with_context(|| format!("reading {}", actual.display()))?,
            columns,
        );
        if line.trim().is_empty() {
            held.push(line);
            continue;
        }
        if let Some(prev) = last.take() {
            out.write_all(prev.as_bytes()).map_err(write)?;
        }
        for h in held.drain(..) {
            out.write_all(h.as_bytes()).map_err(write)?;
        }
        last = Some(line);
    }
    if let Some(prev) = last {
        out.write_all(prev.trim_end().as_bytes()).map_err(write)?;
    }
    out.write_all(b"\n").map_err(write)?;
    out.flush().map_err(write)
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

    /// The trace-file forms read a line at a time and give what the text forms give for the
    /// file read whole and redacted: the same snapshot bytes (trailing blank lines and
    /// whitespace trimmed, blank lines inside kept), the same verdicts and the same diff.
    #[test]
    fn trace_file_forms_equal_the_whole_text_forms() {
        let dir = std::env::temp_dir().join(format!("demail-golden-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cols = vec!["reason".to_string()];
        let actual = dir.join("trace.jsonl");
        let golden_path = dir.join("g").join("t.trace.snap");
        let text_path = dir.join("t").join("t.trace.snap");
        for text in [
            "{\"seq\":1,\"reason\":\"x\"}\n{\"seq\":2}\n",
            "{\"seq\":1}\n\n{\"seq\":2}  \n \n\n",
            "",
            "no line end",
        ] {
            std::fs::write(&actual, text).unwrap();
            bless_trace_file(&golden_path, &actual, &cols).unwrap();
            bless(&text_path, &redact(text, &cols)).unwrap();
            assert_eq!(
                std::fs::read_to_string(&golden_path).unwrap(),
                std::fs::read_to_string(&text_path).unwrap(),
                "{text:?}"
            );
            assert_eq!(
                compare_trace_file(&golden_path, &actual, &cols).unwrap(),
                Comparison::Same,
                "{text:?}"
            );
            let pending = write_pending_trace_file(&dir.join("run"), &actual, &cols).unwrap();
            assert_eq!(
                std::fs::read_to_string(pending).unwrap(),
                std::fs::read_to_string(&golden_path).unwrap()
            );
        }
        // A changed line, a line more, a line less: compare's verdict and diff.
        let golden_text = "{\"seq\":1,\"reason\":\"x\"}\n{\"seq\":2,\"at\":\"a\"}\n";
        std::fs::write(&actual, golden_text).unwrap();
        bless_trace_file(&golden_path, &actual, &cols).unwrap();
        for changed in [
            "{\"seq\":1,\"reason\":\"y\"}\n{\"seq\":2,\"at\":\"b\"}\n",
            "{\"seq\":1,\"reason\":\"x\"}\n{\"seq\":2,\"at\":\"a\"}\n{\"seq\":3}\n",
            "{\"seq\":1,\"reason\":\"x\"}\n",
        ] {
            std::fs::write(&actual, changed).unwrap();
            let streamed = compare_trace_file(&golden_path, &actual, &cols).unwrap();
            assert!(matches!(streamed, Comparison::Different(_)), "{changed:?}");
            assert_eq!(
                streamed,
                compare(&golden_path, &redact(changed, &cols), Kind::Trace).unwrap()
            );
        }
        // Only a redacted value changed: the same.
        std::fs::write(&actual, golden_text.replace("\"x\"", "\"z\"")).unwrap();
        assert_eq!(
            compare_trace_file(&golden_path, &actual, &cols).unwrap(),
            Comparison::Same
        );
        assert_eq!(
            compare_trace_file(&dir.join("none.snap"), &actual, &cols).unwrap(),
            Comparison::Missing
        );
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
