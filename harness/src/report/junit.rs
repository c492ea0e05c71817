//! `junit.xml`: the JUnit XML dialect that GitLab, Jenkins and GitHub test reporters read.
//!
//! One `<testsuite>` per scenario, one `<testcase>` per check (a failed check is a
//! `<failure>` with the detail as message and text), one `<testcase name="golden files">`
//! (`<failure>` for "different"/"missing", `<error>` for "error", `<skipped>` for "skipped"),
//! and for a scenario that errored before producing a result a single `<testcase name="run">`
//! with an `<error>`; a scenario not run (a system under test below its level, docs/sut.md)
//! is a single `<testcase name="run">` with `<skipped message="reason"/>`. `classname` is the scenario name with `/` read as a package separator
//! (`gewerbe.anzeige-absenderbestaetigt`), so Jenkins groups scenarios by folder.
//!
//! Hand-written rather than with the `quick-junit` crate: the format needs a dozen elements,
//! and quick-junit would bring chrono, uuid, newtype-uuid, quick-xml and strip-ansi-escapes
//! into a build that runs on two cores. The one subtle part, escaping, is [`escape_text`] and
//! [`escape_attr`]. What is not deterministic is only in the `time` attributes (a suite's:
//! the scenario's wall time; a testcase's: `0.000`, since every check is judged inside the one
//! run), the suite's `timestamp` (the wall-clock start of the run, UTC, without zone as the
//! JUnit schema has it) and `hostname` (this machine's).

use std::fmt::Write as _;

use super::{ScenarioReport, secs3};

/// Escapes text content: `&`, `<`, `>`; characters XML 1.0 forbids even as references
/// (control characters other than tab, newline, carriage return; U+FFFE, U+FFFF) become
/// a visible `\u{..}`.
pub fn escape_text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value: as [`escape_text`], plus quotes, and tab, newline and carriage
/// return as character references (so that attribute-value normalisation keeps them).
pub fn escape_attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\'' if attr => out.push_str("&apos;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Renders `junit.xml`.
pub(super) fn render(reports: &[&ScenarioReport]) -> String {
    let tests: usize = reports.iter().map(|r| n_cases(r)).sum();
    let failures: usize = reports.iter().map(|r| n_failures(r)).sum();
    let errors: usize = reports.iter().map(|r| n_errors(r)).sum();
    let skipped: usize = reports.iter().map(|r| n_skipped(r)).sum();
    let wall: std::time::Duration = reports.iter().filter_map(|r| r.wall).sum();
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"demail-testbed\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\">",
        secs3(wall)
    );
    let host = escape_attr(&super::hostname());
    for r in reports {
        let classname = escape_attr(&r.name.replace('/', "."));
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\"{} hostname=\"{host}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            escape_attr(&r.name),
            r.started.map_or_else(String::new, |t| format!(
                " timestamp=\"{}\"",
                t.strftime("%Y-%m-%dT%H:%M:%S")
            )),
            n_cases(r),
            n_failures(r),
            n_errors(r),
            n_skipped(r),
            r.wall.map_or_else(|| "0.000".to_string(), secs3)
        );
        x.push_str("    <properties>\n");
        for (name, value) in [
            ("seed", r.seed.to_string()),
            ("golden", r.golden.clone()),
            ("verdict", r.verdict().to_string()),
            ("reproduce", r.reproduce()),
        ] {
            let _ = writeln!(
                x,
                "      <property name=\"{name}\" value=\"{}\"/>",
                escape_attr(&value)
            );
        }
        x.push_str("    </properties>\n");
        if let Some(why) = &r.skipped {
            let _ = writeln!(
                x,
                "    <testcase name=\"run\" classname=\"{classname}\" time=\"0.000\">\n      <skipped message=\"{}\"/>\n    </testcase>",
                escape_attr(why)
            );
        } else if let Some(err) = &r.error {
            let _ = writeln!(
                x,
                "    <testcase name=\"run\" classname=\"{classname}\" time=\"0.000\">\n      <error message=\"{}\" type=\"infrastructure\">{}</error>\n    </testcase>",
                escape_attr(first_line(err)),
                escape_text(err)
            );
        } else {
            for c in &r.checks {
                let name = escape_attr(&c.id);
                if c.passed {
                    let _ = writeln!(
                        x,
                        "    <testcase name=\"{name}\" classname=\"{classname}\" time=\"0.000\">\n      <system-out>{}</system-out>\n    </testcase>",
                        escape_text(&c.detail)
                    );
                } else {
                    let _ = writeln!(
                        x,
                        "    <testcase name=\"{name}\" classname=\"{classname}\" time=\"0.000\">\n      <failure message=\"{}\" type=\"check.failed\">{}</failure>\n    </testcase>",
                        escape_attr(&c.detail),
                        escape_text(&c.detail)
                    );
                }
            }
            let golden = escape_attr(&r.golden);
            let body = match r.golden.as_str() {
                "same" | "recorded" | "blessed" => String::new(),
                "skipped" => "\n      <skipped message=\"golden files not compared (another seed than the scenario&apos;s, or an external system without --golden)\"/>\n    "
                    .to_string(),
                "error" => format!(
                    "\n      <error message=\"golden files could not be compared: {golden}\" type=\"golden\"/>\n    "
                ),
                _ => format!(
                    "\n      <failure message=\"golden files {golden}; accept with --bless after review\" type=\"golden\">golden status: {golden}</failure>\n    "
                ),
            };
            if body.is_empty() {
                let _ = writeln!(
                    x,
                    "    <testcase name=\"golden files\" classname=\"{classname}\" time=\"0.000\"/>"
                );
            } else {
                let _ = writeln!(
                    x,
                    "    <testcase name=\"golden files\" classname=\"{classname}\" time=\"0.000\">{body}</testcase>"
                );
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn n_cases(r: &ScenarioReport) -> usize {
    if r.error.is_some() || r.skipped.is_some() {
        1
    } else {
        r.checks.len() + 1
    }
}

fn n_failures(r: &ScenarioReport) -> usize {
    if r.error.is_some() || r.skipped.is_some() {
        return 0;
    }
    r.checks_failed()
        + usize::from(!matches!(
            r.golden.as_str(),
            "same" | "recorded" | "blessed" | "skipped" | "error"
        ))
}

fn n_errors(r: &ScenarioReport) -> usize {
    usize::from(r.error.is_some() || r.golden == "error")
}

fn n_skipped(r: &ScenarioReport) -> usize {
    usize::from(r.skipped.is_some() || (r.error.is_none() && r.golden == "skipped"))
}
