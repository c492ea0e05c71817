//! `summary.md`: a Markdown summary for merge-request comments and CI job summaries: a table
//! of scenarios, the failed checks with their details, errors, and how to reproduce each run.
//! Wall times are only in the `wall time (s)` column.

use std::fmt::Write as _;

use super::{ScenarioReport, secs3, totals};

/// The header row of the scenario table.
pub const TABLE_HEADER: &str =
    "| scenario | verdict | seed | checks passed | checks failed | golden | wall time (s) |";

/// Escapes text for a Markdown table cell or list item: ASCII punctuation that Markdown (or
/// the HTML it allows) would read is backslash-escaped, line breaks become spaces.
pub fn escape_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '&' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Renders `summary.md`.
pub(super) fn render(reports: &[&ScenarioReport]) -> String {
    let t = totals(reports);
    let mut md = String::new();
    md.push_str("# demail-testbed report\n\n");
    let _ = writeln!(
        md,
        "{} scenario(s): {} passed, {} failed, {} errored{}. Checks: {} passed, {} failed.\n",
        t.scenarios,
        t.passed,
        t.failed,
        t.errored,
        t.skipped_note(),
        t.checks_passed,
        t.checks_failed
    );
    md.push_str(TABLE_HEADER);
    md.push('\n');
    md.push_str("| --- | --- | ---: | ---: | ---: | --- | ---: |\n");
    for r in reports {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            escape_md(&r.name),
            r.verdict(),
            r.seed,
            r.checks_passed(),
            r.checks_failed(),
            escape_md(&r.golden),
            r.wall.map_or_else(|| "–".to_string(), secs3)
        );
    }
    md.push_str(
        "\nWall times are the only values that differ between two runs of the same input.\n",
    );

    md.push_str("\n## Failed checks\n\n");
    let mut any = false;
    for r in reports {
        let failed: Vec<_> = r.checks.iter().filter(|c| !c.passed).collect();
        if failed.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(md, "### {}\n", escape_md(&r.name));
        for c in failed {
            let _ = writeln!(md, "- **{}**: {}", escape_md(&c.id), escape_md(&c.detail));
        }
        md.push('\n');
    }
    if !any {
        md.push_str("None.\n\n");
    }

    let problems: Vec<_> = reports
        .iter()
        .filter(|r| r.error.is_some() || r.skipped.is_some() || !r.golden_ok())
        .collect();
    if !problems.is_empty() {
        md.push_str("## Errors and golden files\n\n");
        for r in problems {
            if let Some(why) = &r.skipped {
                let _ = writeln!(
                    md,
                    "- **{}**: skipped: {}",
                    escape_md(&r.name),
                    escape_md(why)
                );
                continue;
            }
            match &r.error {
                Some(e) => {
                    let _ = writeln!(md, "- **{}**: error: {}", escape_md(&r.name), escape_md(e));
                }
                None => {
                    let _ = writeln!(
                        md,
                        "- **{}**: golden files {} (review `trace.snap.new` and `summary.snap.new` in the run folder, accept with `--bless`)",
                        escape_md(&r.name),
                        escape_md(&r.golden)
                    );
                }
            }
        }
        md.push('\n');
    }

    md.push_str("## How to reproduce\n\n");
    md.push_str("Each scenario runs again, byte for byte, with its seed:\n\n```sh\n");
    let failing: Vec<&&ScenarioReport> = reports.iter().filter(|r| !r.passed()).collect();
    let passing: Vec<&&ScenarioReport> = reports.iter().filter(|r| r.passed()).collect();
    if !failing.is_empty() {
        md.push_str("# not passed\n");
        for r in &failing {
            let _ = writeln!(md, "{}", r.reproduce());
        }
    }
    if !passing.is_empty() {
        if !failing.is_empty() {
            md.push('\n');
        }
        md.push_str("# passed\n");
        for r in &passing {
            let _ = writeln!(md, "{}", r.reproduce());
        }
    }
    md.push_str("```\n");
    md
}
