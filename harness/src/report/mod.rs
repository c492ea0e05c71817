//! Run reports for people and CI: `report.json`, `junit.xml`, `summary.md` and a
//! self-contained `report.html` with hand-written SVG charts, all written by [`write_all`].
//!
//! A [`ScenarioReport`] is built once per scenario from the runner's [`RunResult`] (or from
//! an error, when the run produced none) and the golden-file status. The analysis of the
//! events (which reply answers which message, how long a confirmation took, which deadline
//! was met) lives in [`analysis`]; each file format has its own submodule. The format of every
//! file is documented in `docs/reports.md`.
//!
//! Every file is a pure function of the reports: scenarios are sorted by name and seed, maps
//! are `BTreeMap`s, numbers are formatted with fixed precision. The only values that differ
//! between two runs of the same input are the wall times, which each file keeps in one
//! clearly named place (`wall_ms` in JSON, `time` attributes in JUnit, the `wall time` column
//! in Markdown, the "Wall times" section in HTML).

pub mod analysis;
pub mod golden;
pub mod golden_diff;
mod html;
mod json;
mod junit;
mod markdown;
mod spill;
pub mod summary;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::model::CheckOutcome;
use crate::run::RunResult;

pub use analysis::{DeadlineBar, DeadlineStatus, HourCount, Latency, LatencyKind};
pub use spill::Latencies;

/// The file names [`write_all`] writes, in the order it writes them.
pub const FILES: [&str; 4] = ["report.json", "junit.xml", "summary.md", "report.html"];

/// Everything the reports say about one scenario.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    /// Scenario name, e.g. `gewerbe/anzeige-absenderbestaetigt`.
    pub name: String,
    /// The master seed the scenario ran with.
    pub seed: u64,
    /// The scenario file, for the reproduce command; `None` falls back to
    /// `scenarios/<name>.toml`.
    pub path: Option<PathBuf>,
    /// Golden-file status: "same", "different", "missing", "recorded", "blessed", "skipped"
    /// or "error".
    pub golden: String,
    /// Set when the scenario failed before producing a result (infrastructure error).
    pub error: Option<String>,
    /// Set when the scenario was not run, with the reason (a system under test below the
    /// scenario's level, docs/sut.md). Never counts as passed.
    pub skipped: Option<String>,
    /// The checks in the order of the scenario file.
    pub checks: Vec<CheckOutcome>,
    /// Number of events per `kind` (the dotted name of the trace).
    pub event_counts: BTreeMap<String, u64>,
    /// Virtual time of the first and the last event (RFC 3339, local offset).
    pub virtual_start: Option<String>,
    pub virtual_end: Option<String>,
    /// Per sent message, the time until each confirmation, Meldung and reply arrived (read
    /// back from the analysis's database, `spill.rs`).
    pub latencies: Latencies,
    /// Every `deadline.computed` with the reply it waited for.
    pub deadlines: Vec<DeadlineBar>,
    /// Messages accepted and stored per virtual hour since the start (hours with activity).
    pub throughput: Vec<HourCount>,
    /// Wall time of the run (not deterministic); `None` for an errored scenario.
    pub wall: Option<Duration>,
    /// Wall-clock instant the run started (not deterministic): JUnit's `timestamp`.
    pub started: Option<jiff::Timestamp>,
    /// The scenario's run folder (`<out>/<name>/`), if it has one.
    pub run_folder: Option<PathBuf>,
    /// The expectation kind of each check id (`latency`, `reply`, …), when the caller knows
    /// the scenario; `report.html` lists the threshold kinds ([`THRESHOLD_KINDS`]) first.
    pub check_kinds: BTreeMap<String, String>,
}

/// Expectation kinds that judge a measured figure against a limit: `report.html` shows their
/// checks in its "Thresholds" section, passed or not.
pub const THRESHOLD_KINDS: [&str; 3] = ["latency", "throughput", "delivery"];

impl ScenarioReport {
    /// The report of a finished run with its golden-file status.
    pub fn from(result: &RunResult, golden: &str) -> Self {
        let (a, error) = match analysis::analyse_trace(&result.journal) {
            Ok(a) => (a, None),
            Err(e) => (analysis::Analysis::default(), Some(format!("{e:#}"))),
        };
        Self {
            name: result.name.clone(),
            seed: result.seed,
            path: None,
            golden: golden.to_string(),
            error,
            skipped: None,
            checks: result.checks.clone(),
            event_counts: a.event_counts,
            virtual_start: a.virtual_start,
            virtual_end: a.virtual_end,
            latencies: a.latencies,
            deadlines: a.deadlines,
            throughput: a.throughput,
            wall: Some(result.wall),
            started: None,
            run_folder: None,
            check_kinds: BTreeMap::new(),
        }
    }

    /// The report of a scenario whose run failed before producing a result.
    pub fn errored(name: &str, seed: u64, error: &str) -> Self {
        Self {
            name: name.to_string(),
            seed,
            path: None,
            golden: "error".to_string(),
            error: Some(error.to_string()),
            skipped: None,
            checks: Vec::new(),
            event_counts: BTreeMap::new(),
            virtual_start: None,
            virtual_end: None,
            latencies: Latencies::default(),
            deadlines: Vec::new(),
            throughput: Vec::new(),
            wall: None,
            started: None,
            run_folder: None,
            check_kinds: BTreeMap::new(),
        }
    }

    /// The report of a scenario that was not run, with the reason.
    pub fn skipped(name: &str, seed: u64, reason: &str) -> Self {
        let mut r = Self::errored(name, seed, "");
        r.error = None;
        r.golden = "skipped".to_string();
        r.skipped = Some(reason.to_string());
        r
    }

    /// Names the scenario file, for the reproduce command.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Names the wall-clock instant the run started (JUnit's `timestamp`).
    pub fn with_started(mut self, started: jiff::Timestamp) -> Self {
        self.started = Some(started);
        self
    }

    /// Names the expectation kind of each check id (for the "Thresholds" of `report.html`).
    pub fn with_check_kinds<'a>(
        mut self,
        kinds: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        self.check_kinds = kinds
            .into_iter()
            .map(|(id, kind)| (id.to_string(), kind.to_string()))
            .collect();
        self
    }

    /// Whether the check `id` judges a figure against a limit ([`THRESHOLD_KINDS`]).
    pub fn is_threshold(&self, id: &str) -> bool {
        self.check_kinds
            .get(id)
            .is_some_and(|k| THRESHOLD_KINDS.contains(&k.as_str()))
    }

    /// Names the run folder (`run_folder` in `report.json`).
    pub fn with_run_folder(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_folder = Some(dir.into());
        self
    }

    /// Whether the golden status counts as a pass ("same", "recorded", "blessed", "skipped").
    pub fn golden_ok(&self) -> bool {
        matches!(
            self.golden.as_str(),
            "same" | "recorded" | "blessed" | "skipped"
        )
    }

    /// The verdict: no error, every check passed and the golden files are fine.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.skipped.is_none()
            && self.checks.iter().all(|c| c.passed)
            && self.golden_ok()
    }

    /// Number of passed checks.
    pub fn checks_passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    /// Number of failed checks.
    pub fn checks_failed(&self) -> usize {
        self.checks.len() - self.checks_passed()
    }

    /// "PASS", "FAIL", "ERROR" or "SKIPPED".
    pub fn verdict(&self) -> &'static str {
        if self.error.is_some() {
            "ERROR"
        } else if self.skipped.is_some() {
            "SKIPPED"
        } else if self.passed() {
            "PASS"
        } else {
            "FAIL"
        }
    }

    /// The command that runs this scenario again with the same seed.
    pub fn reproduce(&self) -> String {
        let path = match &self.path {
            Some(p) => p.display().to_string(),
            None => format!("scenarios/{}.toml", self.name),
        };
        format!("demail-testbed run {path} --seed {}", self.seed)
    }

    /// Wall time in milliseconds, if known.
    pub fn wall_ms(&self) -> Option<u64> {
        self.wall
            .map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX))
    }
}

/// What `report.html` says about the run as a whole: which test-bed, which commit, where and
/// how it was started. The host name and the command line differ between machines; they are
/// the only values of `report.html` besides the wall times that are not a function of the
/// scenarios.
#[derive(Clone, Debug)]
pub struct RunMeta {
    /// `CARGO_PKG_VERSION` of the harness.
    pub version: String,
    /// The git commit the binary was built from (`certify::GIT_COMMIT`, "unknown" outside git).
    pub git_commit: String,
    /// This machine's host name.
    pub host: String,
    /// The command line, arguments quoted for a POSIX shell where needed.
    pub command_line: String,
}

impl RunMeta {
    /// The metadata of this process.
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: crate::certify::GIT_COMMIT.to_string(),
            host: hostname(),
            command_line: std::env::args()
                .map(|a| shell_quote(&a))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// `arg` as a POSIX shell reads it back: unchanged when it holds only safe characters, else in
/// single quotes.
fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// This machine's host name: the kernel's, else `$HOSTNAME`, else `localhost`.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .find(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Writes `report.json`, `junit.xml`, `summary.md` and `report.html` into `dir` (created if
/// missing) and returns their paths in that order. Scenarios appear sorted by name and seed.
/// `report.html`'s run metadata is this process's ([`RunMeta::current`]).
pub fn write_all(dir: &Path, reports: &[ScenarioReport]) -> anyhow::Result<Vec<PathBuf>> {
    write_all_with(dir, reports, &RunMeta::current())
}

/// [`write_all`] with the run metadata given.
pub fn write_all_with(
    dir: &Path,
    reports: &[ScenarioReport],
    meta: &RunMeta,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let sorted = sorted(reports);
    // One file at a time, report.json streamed: a long run's report is never held whole as
    // text, nor four of them at once.
    type Render = fn(&[&ScenarioReport], &RunMeta, &mut dyn Write) -> anyhow::Result<()>;
    let renders: [Render; 4] = [
        |r, _, out| json::write(r, out),
        |r, _, out| Ok(out.write_all(junit::render(r).as_bytes())?),
        |r, _, out| Ok(out.write_all(markdown::render(r).as_bytes())?),
        |r, meta, out| Ok(out.write_all(html::render(r, meta).as_bytes())?),
    ];
    let mut written = Vec::new();
    for (name, render) in FILES.iter().zip(renders) {
        let path = dir.join(name);
        let wrote = || -> anyhow::Result<()> {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            render(&sorted, meta, &mut out)?;
            Ok(out.flush()?)
        };
        wrote().with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes the content of `report.json` for these reports to `out`: what `run --json` prints
/// on stdout, byte for byte the file [`write_all`] writes.
pub fn write_json(reports: &[ScenarioReport], out: impl std::io::Write) -> anyhow::Result<()> {
    json::write(&sorted(reports), out)
}

/// The content of `report.json` for these reports, as text.
pub fn json(reports: &[ScenarioReport]) -> anyhow::Result<String> {
    let mut out = Vec::new();
    write_json(reports, &mut out)?;
    Ok(String::from_utf8(out)?)
}

/// The reports sorted by name, then seed: the order of every file.
fn sorted(reports: &[ScenarioReport]) -> Vec<&ScenarioReport> {
    let mut sorted: Vec<&ScenarioReport> = reports.iter().collect();
    sorted.sort_by(|a, b| (&a.name, a.seed).cmp(&(&b.name, b.seed)));
    sorted
}

/// Totals over all scenarios, shared by the file formats.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    scenarios: usize,
    passed: usize,
    failed: usize,
    errored: usize,
    skipped: usize,
    checks_passed: usize,
    checks_failed: usize,
}

fn totals(reports: &[&ScenarioReport]) -> Totals {
    let mut t = Totals {
        scenarios: reports.len(),
        ..Totals::default()
    };
    for r in reports {
        if r.error.is_some() {
            t.errored += 1;
        } else if r.skipped.is_some() {
            t.skipped += 1;
        } else if r.passed() {
            t.passed += 1;
        } else {
            t.failed += 1;
        }
        t.checks_passed += r.checks_passed();
        t.checks_failed += r.checks_failed();
    }
    t
}

impl Totals {
    /// ", N skipped" when scenarios were skipped, else nothing (the line stays as before).
    fn skipped_note(&self) -> String {
        if self.skipped == 0 {
            String::new()
        } else {
            format!(", {} skipped", self.skipped)
        }
    }
}

/// Seconds with millisecond precision, e.g. "1.234".
fn secs3(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}
