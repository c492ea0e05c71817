//! `report.json`: everything machine-readable, one object per scenario. Field order is fixed
//! by the structs below; maps are sorted. The fields are listed in `docs/reports.md`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{DeadlineBar, HourCount, Latencies, ScenarioReport, totals};
use crate::model::CheckOutcome;

/// Version of the file's layout; raised when a field changes meaning or disappears.
pub const FORMAT: &str = "demail-testbed-report/1";

#[derive(Serialize)]
struct File<'a> {
    format: &'static str,
    totals: JsonTotals,
    scenarios: Vec<JsonScenario<'a>>,
}

#[derive(Serialize)]
struct JsonTotals {
    scenarios: usize,
    passed: usize,
    failed: usize,
    errored: usize,
    #[serde(skip_serializing_if = "is_zero")]
    skipped: usize,
    checks_passed: usize,
    checks_failed: usize,
}

#[derive(Serialize)]
struct JsonScenario<'a> {
    name: &'a str,
    seed: u64,
    path: Option<String>,
    reproduce: String,
    verdict: &'static str,
    passed: bool,
    error: Option<&'a str>,
    /// Why the scenario was not run (absent when it ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a str>,
    golden: &'a str,
    checks_passed: usize,
    checks_failed: usize,
    checks: &'a [CheckOutcome],
    event_counts: &'a BTreeMap<String, u64>,
    virtual_start: Option<&'a str>,
    virtual_end: Option<&'a str>,
    throughput: &'a [HourCount],
    latencies: &'a Latencies,
    deadlines: &'a [DeadlineBar],
    /// The scenario's run folder, null when it has none (a skipped scenario).
    run_folder: Option<String>,
    /// Not deterministic: the only field that differs between two runs of the same input.
    wall_ms: Option<u64>,
}

/// Writes `report.json` (pretty-printed, ending in a newline) to `out` as it is serialized:
/// a long run's latencies are never held a second time as text.
pub(super) fn write(
    reports: &[&ScenarioReport],
    mut out: impl std::io::Write,
) -> anyhow::Result<()> {
    let t = totals(reports);
    let file = File {
        format: FORMAT,
        totals: JsonTotals {
            scenarios: t.scenarios,
            passed: t.passed,
            failed: t.failed,
            errored: t.errored,
            skipped: t.skipped,
            checks_passed: t.checks_passed,
            checks_failed: t.checks_failed,
        },
        scenarios: reports
            .iter()
            .map(|r| JsonScenario {
                name: &r.name,
                seed: r.seed,
                path: r.path.as_ref().map(|p| p.display().to_string()),
                reproduce: r.reproduce(),
                verdict: r.verdict(),
                passed: r.passed(),
                error: r.error.as_deref(),
                skipped: r.skipped.as_deref(),
                golden: &r.golden,
                checks_passed: r.checks_passed(),
                checks_failed: r.checks_failed(),
                checks: &r.checks,
                event_counts: &r.event_counts,
                virtual_start: r.virtual_start.as_deref(),
                virtual_end: r.virtual_end.as_deref(),
                throughput: &r.throughput,
                latencies: &r.latencies,
                deadlines: &r.deadlines,
                run_folder: r.run_folder.as_ref().map(|p| p.display().to_string()),
                wall_ms: r.wall_ms(),
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut out, &file)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
