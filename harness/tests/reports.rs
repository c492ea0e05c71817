//! The report files (`report.json`, `junit.xml`, `summary.md`, `report.html`) written from real
//! runs: well-formed, complete, escaped, self-contained and deterministic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use demail_harness::model::CheckOutcome;
use demail_harness::report::{self, DeadlineStatus, LatencyKind, ScenarioReport};
use demail_harness::run::{self, RunOptions, RunResult};
use demail_harness::scenario;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn temp(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "demail-test-reports-{label}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

const SCENARIO: &str = "gewerbe/anzeige-absenderbestaetigt";

/// One real run of the Gewerbe scenario, shared by the tests (a run starts a whole world).
fn real_run() -> &'static RunResult {
    static RUN: OnceLock<RunResult> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = workspace().join("scenarios");
        let s = scenario::load(&root.join(format!("{SCENARIO}.toml")), &root)
            .unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run::run(&s, &RunOptions::new(temp("run"))))
            .unwrap_or_else(|e| panic!("{}: run failed: {e:#}", s.name))
    })
}

fn real_report() -> ScenarioReport {
    ScenarioReport::from(real_run(), "same").with_path(format!("scenarios/{SCENARIO}.toml"))
}

const NASTY: &str = "reply \"<Empfang>\" & 'more' missing";

/// A made-up failing scenario whose check detail holds characters every format must escape.
fn failing_report() -> ScenarioReport {
    let mut r = real_report();
    r.name = "zz/failing".to_string();
    r.path = None;
    r.golden = "different".to_string();
    r.checks.push(CheckOutcome {
        id: "kaputt".to_string(),
        passed: false,
        detail: NASTY.to_string(),
    });
    r
}

fn write(label: &str, reports: &[ScenarioReport]) -> (PathBuf, Vec<PathBuf>) {
    let dir = temp(label);
    let files = report::write_all(&dir, reports).unwrap();
    (dir, files)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// A minimal XML well-formedness check: one prolog, balanced and properly nested tags, quoted
/// attributes, and only the five predefined entities or numeric character references.
/// Returns the element names in document order (start tags only).
fn parse_xml(xml: &str) -> Vec<String> {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = body;
    let check_entities = |text: &str| {
        let mut t = text;
        while let Some(i) = t.find('&') {
            let end = t[i..].find(';').expect("entity ends with ;") + i;
            let name = &t[i + 1..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || (name.starts_with('#') && name[1..].bytes().all(|b| b.is_ascii_digit()));
            assert!(ok, "bad entity &{name};");
            t = &t[end + 1..];
        }
    };
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert!(!text.contains('>'), "raw > in text: {text:?}");
        check_entities(text);
        if !text.trim().is_empty() {
            assert!(!stack.is_empty(), "text outside the root element");
        }
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "< inside a tag: {tag:?}");
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().expect("closing tag without opening");
            assert_eq!(top, name.trim(), "tags nest");
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "element name {name:?}"
            );
            // Attributes: name="value" pairs, values without raw < or ".
            let mut a = attrs.trim();
            while !a.is_empty() {
                let eq = a.find("=\"").expect("attribute has =\"");
                let v_end = a[eq + 2..].find('"').expect("attribute value closes") + eq + 2;
                check_entities(&a[eq + 2..v_end]);
                a = a[v_end + 1..].trim_start();
            }
            if stack.is_empty() {
                assert!(seen.is_empty(), "a second root element {name}");
            }
            seen.push(name.to_string());
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        rest = &rest[close + 1..];
    }
    assert!(rest.trim().is_empty(), "trailing text");
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
    seen
}

/// `write_all` writes exactly the four files, and `report.json` parses and carries the
/// scenario's checks, event counts, latencies (confirmation and reply) and a met deadline.
#[test]
fn json_parses_and_has_the_checks() {
    let report = real_report();
    let (dir, files) = write("json", std::slice::from_ref(&report));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["report.json", "junit.xml", "summary.md", "report.html"]
    );
    let v: serde_json::Value = serde_json::from_str(&read(&dir, "report.json")).unwrap();
    assert_eq!(v["format"], "demail-testbed-report/1");
    assert_eq!(v["totals"]["passed"], 1);
    let s = &v["scenarios"][0];
    assert_eq!(s["name"], SCENARIO);
    assert_eq!(s["seed"], real_run().seed);
    assert_eq!(s["passed"], true);
    assert_eq!(s["golden"], "same");
    let checks = s["checks"].as_array().unwrap();
    assert_eq!(checks.len(), real_run().checks.len());
    for (c, want) in checks.iter().zip(&real_run().checks) {
        assert_eq!(c["id"], want.id.as_str());
        assert_eq!(c["passed"], want.passed);
        assert_eq!(c["detail"], want.detail.as_str());
    }
    assert_eq!(s["event_counts"]["citizen.sent"], 1);
    assert_eq!(s["event_counts"]["run.finished"], 1);
    assert!(s["wall_ms"].is_u64());
    let kinds: Vec<&str> = s["latencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["confirmation", "reply"]);
    // Due 20 hours after sending (05:00), sent when the intake's office opens at 08:00.
    assert_eq!(s["latencies"][1]["seconds"], 23 * 3600);
    assert_eq!(s["deadlines"][0]["status"], "met");
    assert_eq!(
        s["reproduce"],
        format!(
            "demail-testbed run scenarios/{SCENARIO}.toml --seed {}",
            real_run().seed
        )
    );
}

/// The analysis pairs the real run's events as `docs/reports.md` says: the Eingangsbestätigung
/// arrives at once, the Empfangsbescheinigung 20 h later, before the deadline.
#[test]
fn analysis_of_a_real_run() {
    let r = real_report();
    assert_eq!(r.latencies.len(), 2);
    let latencies = r.latencies.to_vec().unwrap();
    assert_eq!(latencies[0].kind, LatencyKind::Confirmation);
    assert_eq!(&*latencies[0].detail, "receipt");
    assert_eq!(latencies[0].seconds, 0);
    assert_eq!(latencies[1].kind, LatencyKind::Reply);
    assert_eq!(&*latencies[1].message_id, "m000001@dmda-a.de-mail.de");
    assert_eq!(r.deadlines.len(), 1);
    let d = &r.deadlines[0];
    assert_eq!(d.status, DeadlineStatus::Met);
    assert_eq!(d.message_id.as_deref(), Some("m000001@dmda-a.de-mail.de"));
    assert!(d.reply_seconds.unwrap() < d.due_seconds);
    let accepted: u64 = r.throughput.iter().map(|h| h.accepted).sum();
    assert_eq!(accepted, r.event_counts["provider.accepted"]);
}

/// `junit.xml` is well-formed and has one testcase per check plus one "golden files" testcase
/// per scenario, inside one testsuite per scenario.
#[test]
fn junit_is_well_formed_with_a_testcase_per_check_and_golden() {
    let report = real_report().with_started(jiff::Timestamp::from_second(1_741_000_000).unwrap());
    let (dir, _) = write("junit", std::slice::from_ref(&report));
    let xml = read(&dir, "junit.xml");
    let elements = parse_xml(&xml);
    assert_eq!(elements[0], "testsuites");
    assert_eq!(elements.iter().filter(|e| *e == "testsuite").count(), 1);
    assert_eq!(
        elements.iter().filter(|e| *e == "testcase").count(),
        report.checks.len() + 1
    );
    for c in &report.checks {
        assert!(xml.contains(&format!("<testcase name=\"{}\"", c.id)));
    }
    assert!(xml.contains(
        "<testcase name=\"golden files\" classname=\"gewerbe.anzeige-absenderbestaetigt\" time=\"0.000\"/>"
    ));
    assert!(!xml.contains("<failure"));
    assert!(xml.contains(&format!(
        "tests=\"{}\" failures=\"0\" errors=\"0\"",
        report.checks.len() + 1
    )));
    // The suite's wall-clock start (UTC, no zone, as the JUnit schema has it) and host name;
    // every testcase has a time.
    assert!(
        xml.contains(&format!(
            "<testsuite name=\"{SCENARIO}\" timestamp=\"2025-03-03T11:06:40\" hostname=\""
        )),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<testcase ").count(),
        xml.matches(" time=\"0.000\"").count()
    );
}

/// A failing check becomes `<failure>` with its detail escaped (`<&>"'`), a golden mismatch a
/// second `<failure>`, and a scenario that errored before a result an `<error>`; the file
/// stays well-formed.
#[test]
fn junit_failure_and_error_are_escaped() {
    let errored = ScenarioReport::errored(
        "aa/broken",
        7,
        "the world did not settle: <1 & 2>\nsecond line",
    );
    let (dir, _) = write("junit-fail", &[failing_report(), errored, real_report()]);
    let xml = read(&dir, "junit.xml");
    let elements = parse_xml(&xml);
    assert_eq!(elements.iter().filter(|e| *e == "testsuite").count(), 3);
    let escaped_attr = "reply &quot;&lt;Empfang&gt;&quot; &amp; &apos;more&apos; missing";
    let escaped_text = "reply \"&lt;Empfang&gt;\" &amp; 'more' missing";
    assert!(
        xml.contains(&format!(
            "<testcase name=\"kaputt\" classname=\"zz.failing\" time=\"0.000\">\n      <failure message=\"{escaped_attr}\" type=\"check.failed\">{escaped_text}</failure>"
        )),
        "{xml}"
    );
    assert!(!xml.contains(NASTY));
    assert!(xml.contains("type=\"golden\">golden status: different</failure>"));
    assert!(xml.contains(
        "<error message=\"the world did not settle: &lt;1 &amp; 2&gt;\" type=\"infrastructure\">the world did not settle: &lt;1 &amp; 2&gt;\nsecond line</error>"
    ));
    // Sorted by name: the errored scenario comes first.
    let first = xml.find("<testsuite name=\"aa/broken\"").unwrap();
    let second = xml
        .find(&format!("<testsuite name=\"{SCENARIO}\""))
        .unwrap();
    assert!(first < second);
    assert_eq!(elements.iter().filter(|e| *e == "failure").count(), 2);
    assert_eq!(elements.iter().filter(|e| *e == "error").count(), 1);
}

/// XML escaping also keeps characters XML 1.0 forbids out of the file.
#[test]
fn junit_escapes_control_characters() {
    let mut r = failing_report();
    r.checks.last_mut().unwrap().detail = "bell \u{7} tab\tend".to_string();
    let (dir, _) = write("junit-ctl", &[r]);
    let xml = read(&dir, "junit.xml");
    parse_xml(&xml);
    assert!(!xml.contains('\u{7}'));
    assert!(xml.contains("bell \\u{7} tab&#9;end"));
}

/// `summary.md` has the scenario table header, a row per scenario, the failed check with its
/// detail escaped for Markdown, and the reproduce command.
#[test]
fn summary_has_table_failures_and_reproduce_line() {
    let (dir, _) = write("md", &[real_report(), failing_report()]);
    let md = read(&dir, "summary.md");
    assert!(md.contains(
        "| scenario | verdict | seed | checks passed | checks failed | golden | wall time (s) |\n| --- |"
    ));
    assert!(md.contains(&format!(
        "| {SCENARIO} | PASS | {} | 2 | 0 | same |",
        real_run().seed
    )));
    assert!(md.contains("| zz/failing | FAIL |"));
    assert!(md.contains("## Failed checks\n\n### zz/failing\n\n- **kaputt**: reply \"\\<Empfang\\>\" \\& 'more' missing\n"));
    assert!(md.contains(&format!(
        "demail-testbed run scenarios/{SCENARIO}.toml --seed {}\n",
        real_run().seed
    )));
    assert!(md.contains(&format!(
        "# not passed\ndemail-testbed run scenarios/zz/failing.toml --seed {}\n",
        real_run().seed
    )));
}

/// `report.html` is self-contained (no URL, no script, no external resource), marks the met
/// deadline as met, escapes the failing detail, and reads from the top: the verdict, then the
/// failures with their reasons, each linked to its row in the scenario's folded section.
#[test]
fn html_is_self_contained_and_failures_come_first() {
    let (dir, _) = write("html", &[real_report(), failing_report()]);
    let html = read(&dir, "report.html");
    for banned in ["http://", "https://", "<script", "<link", "src=", "url("] {
        assert!(!html.contains(banned), "report.html contains {banned:?}");
    }
    assert!(html.contains("<g class=\"deadline met\" data-status=\"met\">"));
    assert!(!html.contains("class=\"deadline missed\""));
    assert!(html.contains("met: reply after 23h 0m"));
    let escaped = "reply &quot;&lt;Empfang&gt;&quot; &amp; &#39;more&#39; missing";
    assert!(html.contains(escaped));
    assert!(!html.contains(NASTY));
    // The order of the page: verdict, failures, thresholds, run, percentiles, scenarios.
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    assert!(at("id=\"verdict\"") < at("id=\"failures\""));
    assert!(at("id=\"failures\"") < at("id=\"thresholds\""));
    assert!(at("id=\"thresholds\"") < at("id=\"run\""));
    assert!(at("id=\"run\"") < at("id=\"percentiles\""));
    assert!(at("id=\"percentiles\"") < at("id=\"scenarios\""));
    assert!(html.contains("<p class=\"banner FAIL\" id=\"verdict\"><strong>FAIL</strong>"));
    // The failure's reason is in the failures list, and its link leads to the check's row.
    let failures = &html[at("id=\"failures\"")..at("id=\"thresholds\"")];
    assert!(failures.contains(escaped), "{failures}");
    let href = failures
        .split("href=\"#")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(
        href.contains("zz-failing") && href.ends_with("kaputt"),
        "{href}"
    );
    let row = format!("<tr id=\"{href}\">");
    assert!(at(&row) > at("id=\"scenarios\""));
    // One folded section per scenario; the run's metadata.
    assert_eq!(html.matches("<details class=\"scenario\"").count(), 2);
    assert!(!html.contains("<details open"));
    assert!(html.contains("<dt>git commit</dt>"));
    assert!(html.contains(&format!(
        "<dt>testbed version</dt><dd>{}</dd>",
        env!("CARGO_PKG_VERSION")
    )));
    // Percentiles per latency kind, over all scenarios and per scenario.
    assert!(html.contains(
        "<tr class=\"reply\"><td>reply</td><td class=\"num\">2</td><td class=\"num\">23h 0m</td>"
    ));
    // Too few events for a throughput chart or a histogram: only the deadline charts.
    assert_eq!(html.matches("<svg class=\"chart deadlines\"").count(), 2);
    assert_eq!(html.matches("<svg").count(), 2);
    // Wall times only in their own section, at the end.
    let wall = at("id=\"wall-times\"");
    assert!(!html[..wall].contains("wall time"));
}

/// A scenario with enough events gets its throughput chart and latency histogram, on its own
/// time axis (bins that fit its span), and a long latency table is folded and capped.
#[test]
fn html_charts_only_with_enough_events() {
    let mut r = real_report();
    let one = r.latencies.to_vec().unwrap()[1].clone();
    let list: Vec<report::Latency> = (0..250)
        .map(|i| {
            let mut l = one.clone();
            l.seconds = i64::from(i) * 60;
            l
        })
        .collect();
    r.latencies = report::Latencies::from_list(&list).unwrap();
    r.throughput = (0..30)
        .map(|d| report::HourCount {
            hour: d * 24 + 9,
            accepted: 3,
            stored: 6,
        })
        .collect();
    let (dir, _) = write("html-charts", &[r]);
    let html = read(&dir, "report.html");
    for chart in ["chart throughput", "chart latency", "chart deadlines"] {
        assert_eq!(
            html.matches(&format!("<svg class=\"{chart}\"")).count(),
            1,
            "{chart}"
        );
    }
    // 30 days of hours in bins of 12 hours (at most 72 bins).
    assert!(html.contains("per 12 hours since"), "{html}");
    assert!(html.contains("all answers: first 200 of 250 (every one in report.json)"));
    assert_eq!(html.matches("<tr><td>erika").count(), 200);
}

/// The same reports give byte-identical files, whatever their order; only wall times differ.
#[test]
fn output_is_deterministic() {
    let a = real_report();
    let b = failing_report();
    let (d1, _) = write("det-1", &[a.clone(), b.clone()]);
    let mut a2 = a;
    let mut b2 = b;
    a2.wall = Some(Duration::from_millis(1));
    b2.wall = Some(Duration::from_millis(2));
    let (d2, _) = write("det-2", &[b2.clone(), a2.clone()]);
    let (d3, _) = write("det-3", &[a2, b2]);
    for name in report::FILES {
        assert_eq!(
            read(&d2, name),
            read(&d3, name),
            "{name} depends on input order"
        );
    }
    assert_eq!(
        read(&d1, "report.html").split("id=\"wall-times\"").next(),
        read(&d2, "report.html").split("id=\"wall-times\"").next()
    );
    let strip = |s: String| {
        let mut v: serde_json::Value = serde_json::from_str(&s).unwrap();
        for sc in v["scenarios"].as_array_mut().unwrap() {
            sc["wall_ms"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(
        strip(read(&d1, "report.json")),
        strip(read(&d2, "report.json"))
    );
}
