//! `report.html`: one self-contained page for people (inline CSS, inline SVG, no script, no
//! network), built to be read from the top: the verdict, the failures with their reasons
//! (each linked to its place in its scenario's section), the threshold checks, the run's
//! metadata and the latency percentiles come first; then one folded section (`<details>`) per
//! scenario with its checks, its own percentiles and charts on its own time axis; the wall
//! times close the page (the only part besides the host name and command line that is not
//! deterministic).
//!
//! Charts (definitions in `docs/reports.md`), per scenario and only where it has enough events
//! to draw ([`MIN_CHART_EVENTS`]):
//! - throughput: `provider.accepted` and `provider.stored` per time bin since the scenario's
//!   start, the bin chosen so that the scenario's span fills the axis;
//! - latency histogram: time from `citizen.sent` until each confirmation, Meldung and reply
//!   arrived, in fixed buckets;
//! - deadline timeline: one bar per `deadline.computed` from `from` to `due` (at most
//!   [`MAX_DEADLINE_ROWS`], the missed ones first), the reply's arrival marked; green when
//!   met, red when missed, grey when still open.
//!
//! Long tables (latencies) are folded and capped at [`MAX_TABLE_ROWS`]; `report.json` holds
//! every row.

use std::fmt::Write as _;

use super::analysis::human;
use super::{
    DeadlineBar, DeadlineStatus, HourCount, Latencies, LatencyKind, RunMeta, ScenarioReport, secs3,
    totals,
};
use crate::check::Seconds;

/// A scenario's throughput chart and latency histogram are drawn when it has at least this
/// many accepted messages (throughput) or answers (latencies); below, a table says it better.
pub const MIN_CHART_EVENTS: usize = 10;
/// At most this many rows in a scenario's deadline chart.
pub const MAX_DEADLINE_ROWS: usize = 30;
/// At most this many rows in a folded latency table.
pub const MAX_TABLE_ROWS: usize = 200;

/// Escapes text for HTML content and attribute values (the web UI's escaping: control
/// characters other than tab and line ends show as U+FFFD).
pub fn escape_html(s: &str) -> String {
    demail_sim::provider::ui::html::esc(s)
}

use escape_html as e;

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.2em auto;max-width:1040px;padding:0 1em;color:#1a202c;background:#fff;line-height:1.35}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.2em 0 .3em;border-bottom:1px solid #e2e8f0;padding-bottom:.15em}
h3{font-size:1em;margin:.9em 0 .2em}
p{margin:.35em 0}p.def{color:#4a5568;font-size:.88em;margin-top:.1em}
nav{font-size:.9em;margin:.3em 0 .6em}nav a{margin-right:1em}
a{color:#2b6cb0}
table{border-collapse:collapse;width:100%;font-size:.86em;margin:.4em 0}
th,td{border:1px solid #e2e8f0;padding:.2em .45em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f7fafc}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.PASS{color:#276749;font-weight:600}.FAIL{color:#c53030;font-weight:600}.ERROR{color:#9b2c2c;font-weight:700}.SKIPPED{color:#718096;font-weight:600}
.banner{font-size:1.15em;padding:.45em .8em;border-radius:4px;margin:.3em 0}
.banner.PASS{background:#f0fff4;border:1px solid #9ae6b4}.banner.FAIL,.banner.ERROR{background:#fff5f5;border:1px solid #feb2b2}
ul.failures{margin:.3em 0;padding-left:1.2em}ul.failures li{margin:.25em 0}
.reason{color:#742a2a}
code{font-size:.92em;background:#f7fafc;padding:0 .2em;overflow-wrap:anywhere}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;font-size:.9em;margin:.3em 0}
dl.meta dt{color:#4a5568}dl.meta dd{margin:0;overflow-wrap:anywhere}
details{margin:0;border-bottom:1px solid #edf2f7}
details>summary{cursor:pointer;padding:.2em .2em;list-style-position:outside}
details.scenario>summary{display:grid;grid-template-columns:1em minmax(0,1fr) 5.5em 6.5em 8.5em 8.5em;gap:.6em;align-items:baseline;font-size:.92em}
details.scenario>summary::before{content:'▸';color:#718096}details[open].scenario>summary::before{content:'▾'}
details.scenario>summary .name{font-weight:600;overflow-wrap:anywhere}
details.scenario>summary .facts{color:#4a5568;white-space:nowrap;font-variant-numeric:tabular-nums}
table.thresholds td:first-child,table.checks td:first-child{width:24%}table.checks :is(td,th):nth-child(2),table.thresholds :is(td,th):nth-child(2),table.thresholds :is(td,th):nth-child(3){white-space:nowrap;width:1%}
details[open].scenario{background:#fcfcfd}details .body{padding:.2em .6em .8em 1.2em}
details.fold>summary{font-size:.88em;color:#2b6cb0}
tr:target,li:target{background:#fefcbf}
svg{display:block;width:100%;height:auto;margin:.4em 0;font-family:inherit}
svg text{font-size:11px;fill:#2d3748}svg text.title{font-size:12px;font-weight:600}
svg .axis{stroke:#a0aec0;stroke-width:1}svg .grid{stroke:#edf2f7;stroke-width:1}
.wall{background:#fffaf0;border:1px dashed #dd6b20;padding:.2em 1em;margin-top:1.5em}
";

const C_ACCEPTED: &str = "#2b6cb0";
const C_STORED: &str = "#90cdf4";
const C_MET: &str = "#2f855a";
const C_MISSED: &str = "#c53030";
const C_OPEN: &str = "#718096";

fn kind_color(k: LatencyKind) -> &'static str {
    match k {
        LatencyKind::Confirmation => "#2b6cb0",
        LatencyKind::Notification => "#d69e2e",
        LatencyKind::Reply => "#6b46c1",
    }
}

fn status_color(s: DeadlineStatus) -> &'static str {
    match s {
        DeadlineStatus::Met => C_MET,
        DeadlineStatus::Missed => C_MISSED,
        DeadlineStatus::Open => C_OPEN,
    }
}

/// Fixed-precision coordinate.
fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// An `id` fragment from free text: ASCII letters, digits, `-` and `_` kept, the rest `-`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The `id` of scenario number `i`'s section.
fn scenario_id(i: usize, r: &ScenarioReport) -> String {
    format!("s{}-{}", i + 1, slug(&r.name))
}

/// The `id` of check number `j` of scenario number `i` (its row in the section's table).
fn check_id(i: usize, r: &ScenarioReport, j: usize) -> String {
    format!(
        "{}-check-{}-{}",
        scenario_id(i, r),
        j + 1,
        slug(&r.checks[j].id)
    )
}

/// The percentiles of the table, in its column order.
const PERCENTILES: [u32; 4] = [50, 90, 95, 99];

/// Answer times per latency kind (in [`LatencyKind::ALL`] order) as exact histograms: the
/// same nearest-rank percentiles as the sorted lists, in memory bounded by distinct values.
type Spread = [Seconds; 3];

/// Adds `latencies` (read back from the analysis's database) to `spread`.
fn add_to_spread(spread: &mut Spread, latencies: &Latencies) -> anyhow::Result<()> {
    latencies.for_each(|l| spread[l.kind.index()].add(l.seconds))
}

/// Writes a percentile table (p50/p90/p95/p99/max per latency kind) of `spread`.
fn percentile_table(h: &mut String, spread: &Spread) {
    h.push_str("<table class=\"percentiles\">\n<tr><th>answer</th><th class=\"num\">n</th>");
    for p in PERCENTILES {
        let _ = write!(h, "<th class=\"num\">p{p}</th>");
    }
    h.push_str("<th class=\"num\">max</th></tr>\n");
    for (kind, v) in LatencyKind::ALL.iter().zip(spread) {
        if v.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<tr class=\"{k}\"><td>{k}</td><td class=\"num\">{}</td>",
            v.len(),
            k = kind.name()
        );
        for p in PERCENTILES.into_iter().chain([100]) {
            let _ = write!(
                h,
                "<td class=\"num\">{}</td>",
                v.percentile(p as usize)
                    .map_or_else(|| "–".to_string(), human)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// The percentile table of `latencies`, or what kept them from being read back.
fn latency_percentiles<'a>(h: &mut String, latencies: impl Iterator<Item = &'a Latencies>) {
    let mut spread = Spread::default();
    match latencies
        .into_iter()
        .try_for_each(|l| add_to_spread(&mut spread, l))
    {
        Ok(()) => percentile_table(h, &spread),
        Err(err) => {
            let _ = writeln!(
                h,
                "<p>The latencies could not be read back: {}</p>",
                e(&format!("{err:#}"))
            );
        }
    }
}

/// Renders `report.html`.
pub(super) fn render(reports: &[&ScenarioReport], meta: &RunMeta) -> String {
    let t = totals(reports);
    let overall = if t.errored > 0 {
        "ERROR"
    } else if t.failed > 0 || t.skipped > 0 || t.scenarios == 0 {
        "FAIL"
    } else {
        "PASS"
    };
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        h,
        "<title>{overall} · demail-testbed report</title>\n<style>"
    );
    h.push_str(CSS);
    h.push_str("</style>\n</head>\n<body>\n<h1>demail-testbed report</h1>\n");
    let _ = writeln!(
        h,
        "<p class=\"banner {overall}\" id=\"verdict\"><strong>{overall}</strong> · {} scenario(s): {} passed, {} failed, {} errored{}. Checks: {} passed, {} failed.</p>",
        t.scenarios,
        t.passed,
        t.failed,
        t.errored,
        t.skipped_note(),
        t.checks_passed,
        t.checks_failed
    );
    h.push_str("<nav><a href=\"#failures\">Failures</a><a href=\"#thresholds\">Thresholds</a><a href=\"#run\">Run</a><a href=\"#percentiles\">Latency percentiles</a><a href=\"#scenarios\">Scenarios</a><a href=\"#wall-times\">Wall times</a></nav>\n");

    failures(&mut h, reports);
    thresholds(&mut h, reports);
    run_meta(&mut h, reports, meta);

    h.push_str("<h2 id=\"percentiles\">Latency percentiles</h2>\n<p class=\"def\">Virtual time from a citizen's <code>citizen.sent</code> until each answer arrived in the citizen's mailbox, over all scenarios (nearest rank). Per scenario in its section.</p>\n");
    if reports.iter().all(|r| r.latencies.is_empty()) {
        h.push_str("<p>No answers to citizens' messages in these runs.</p>\n");
    } else {
        latency_percentiles(&mut h, reports.iter().map(|r| &r.latencies));
    }

    let _ = writeln!(
        h,
        "<h2 id=\"scenarios\">Scenarios ({})</h2>\n<p class=\"def\">One folded section per scenario: open it for its checks, latencies, deadlines and charts. Each line: verdict, checks passed/total, golden status, seed.</p>",
        reports.len()
    );
    for (i, r) in reports.iter().enumerate() {
        scenario_section(&mut h, i, r);
    }

    h.push_str("<section class=\"wall\" id=\"wall-times\">\n<h2>Wall times (not deterministic)</h2>\n<p class=\"def\">Real time each run took on this machine. Everything above this section except the host name and command line is the same for the same scenarios and seeds.</p>\n<details class=\"fold\"><summary>");
    let total: std::time::Duration = reports.iter().filter_map(|r| r.wall).sum();
    let _ = write!(
        h,
        "{} s in all; per scenario</summary>\n<table>\n<tr><th>scenario</th><th class=\"num\">wall time (s)</th></tr>\n",
        secs3(total)
    );
    for r in reports {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            e(&r.name),
            r.wall.map_or_else(|| "–".to_string(), secs3)
        );
    }
    h.push_str("</table>\n</details>\n</section>\n</body>\n</html>\n");
    h
}

/// The "Failures" section: every failed check with its reason, linked to its row in its
/// scenario's section; errors, golden mismatches and skipped scenarios.
fn failures(h: &mut String, reports: &[&ScenarioReport]) {
    h.push_str("<h2 id=\"failures\">Failures</h2>\n");
    let mut items = String::new();
    for (i, r) in reports.iter().enumerate() {
        let sid = scenario_id(i, r);
        for (j, c) in r.checks.iter().enumerate().filter(|(_, c)| !c.passed) {
            let _ = writeln!(
                items,
                "<li class=\"failure\"><a href=\"#{}\">{} › {}</a>: <span class=\"reason\">{}</span></li>",
                e(&check_id(i, r, j)),
                e(&r.name),
                e(&c.id),
                e(&c.detail)
            );
        }
        if let Some(err) = &r.error {
            let _ = writeln!(
                items,
                "<li class=\"failure error\"><a href=\"#{}\">{}</a>: <span class=\"reason\">run failed: {}</span></li>",
                e(&sid),
                e(&r.name),
                e(err)
            );
        } else if let Some(why) = &r.skipped {
            let _ = writeln!(
                items,
                "<li class=\"failure skipped\"><a href=\"#{}\">{}</a>: <span class=\"reason\">skipped: {}</span></li>",
                e(&sid),
                e(&r.name),
                e(why)
            );
        } else if !r.golden_ok() {
            let _ = writeln!(
                items,
                "<li class=\"failure golden\"><a href=\"#{}\">{}</a>: <span class=\"reason\">golden files {}</span> (the new output is in the run folder)</li>",
                e(&sid),
                e(&r.name),
                e(&r.golden)
            );
        }
    }
    if items.is_empty() {
        h.push_str("<p>None: every check passed and every golden file matched.</p>\n");
    } else {
        h.push_str("<ul class=\"failures\">\n");
        h.push_str(&items);
        h.push_str("</ul>\n");
        let repro: Vec<String> = reports
            .iter()
            .filter(|r| !r.passed())
            .map(|r| r.reproduce())
            .collect();
        let _ = writeln!(
            h,
            "<details class=\"fold\"><summary>reproduce ({})</summary><pre><code>{}</code></pre></details>",
            repro.len(),
            e(&repro.join("\n"))
        );
    }
}

/// The "Thresholds" section: the checks that judge a measured figure against a limit.
fn thresholds(h: &mut String, reports: &[&ScenarioReport]) {
    h.push_str("<h2 id=\"thresholds\">Thresholds</h2>\n<p class=\"def\">Checks that hold a measured figure against a limit (kinds latency, throughput, delivery).</p>\n");
    let mut rows = String::new();
    for (i, r) in reports.iter().enumerate() {
        for (j, c) in r.checks.iter().enumerate() {
            if !r.is_threshold(&c.id) {
                continue;
            }
            let v = if c.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(
                rows,
                "<tr><td><a href=\"#{}\">{} › {}</a></td><td>{}</td><td class=\"{v}\">{v}</td><td>{}</td></tr>",
                e(&check_id(i, r, j)),
                e(&r.name),
                e(&c.id),
                e(r.check_kinds.get(&c.id).map_or("", String::as_str)),
                e(&c.detail)
            );
        }
    }
    if rows.is_empty() {
        h.push_str("<p>No threshold checks in these scenarios.</p>\n");
    } else {
        h.push_str("<table class=\"thresholds\">\n<tr><th>check</th><th>kind</th><th>verdict</th><th>figure and limit</th></tr>\n");
        h.push_str(&rows);
        h.push_str("</table>\n");
    }
}

/// The "Run" section: test-bed version, commit, host, command line and seeds.
fn run_meta(h: &mut String, reports: &[&ScenarioReport], meta: &RunMeta) {
    h.push_str("<h2 id=\"run\">Run</h2>\n<dl class=\"meta\">\n");
    let mut seeds: Vec<u64> = reports.iter().map(|r| r.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let seeds_text = match seeds.as_slice() {
        [] => "–".to_string(),
        [one] => format!("{one} (every scenario)"),
        _ => format!(
            "{} different, each scenario's in its section line and its reproduce command",
            seeds.len()
        ),
    };
    let span = {
        let starts: Vec<&str> = reports
            .iter()
            .filter_map(|r| r.virtual_start.as_deref())
            .collect();
        let ends: Vec<&str> = reports
            .iter()
            .filter_map(|r| r.virtual_end.as_deref())
            .collect();
        match (starts.iter().min(), ends.iter().max()) {
            (Some(a), Some(b)) => format!("{a} – {b} (earliest start, latest end)"),
            _ => "–".to_string(),
        }
    };
    for (k, v) in [
        ("testbed version", meta.version.as_str()),
        ("git commit", meta.git_commit.as_str()),
        ("host", meta.host.as_str()),
        ("command line", meta.command_line.as_str()),
        ("seeds", seeds_text.as_str()),
        ("virtual time", span.as_str()),
    ] {
        let v = if k == "command line" || k == "git commit" {
            format!("<code>{}</code>", e(v))
        } else {
            e(v)
        };
        let _ = writeln!(h, "<dt>{k}</dt><dd>{v}</dd>");
    }
    h.push_str("</dl>\n");
}

/// One scenario's folded section.
fn scenario_section(h: &mut String, i: usize, r: &ScenarioReport) {
    let v = r.verdict();
    let _ = writeln!(
        h,
        "<details class=\"scenario\" data-verdict=\"{v}\" id=\"{}\"><summary><span class=\"name\">{}</span><span class=\"{v}\">{v}</span><span class=\"facts\">{}/{} checks</span><span class=\"facts\">golden {}</span><span class=\"facts\">seed {}</span></summary>\n<div class=\"body\">",
        e(&scenario_id(i, r)),
        e(&r.name),
        r.checks_passed(),
        r.checks.len(),
        e(&r.golden),
        r.seed
    );
    let span = match (&r.virtual_start, &r.virtual_end) {
        (Some(a), Some(b)) => format!("{} – {}", e(a), e(b)),
        _ => "–".to_string(),
    };
    let _ = writeln!(
        h,
        "<p>Virtual time {span}. Reproduce: <code>{}</code></p>",
        e(&r.reproduce())
    );
    if let Some(err) = &r.error {
        let _ = writeln!(
            h,
            "<p class=\"ERROR\">Run failed before a result:</p><pre>{}</pre>",
            e(err)
        );
    }
    if let Some(why) = &r.skipped {
        let _ = writeln!(h, "<p class=\"SKIPPED\">Not run: {}</p>", e(why));
    }
    if !r.checks.is_empty() {
        h.push_str(
            "<table class=\"checks\">\n<tr><th>check</th><th>verdict</th><th>detail</th></tr>\n",
        );
        for (j, c) in r.checks.iter().enumerate() {
            let cv = if c.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(
                h,
                "<tr id=\"{}\"><td>{}</td><td class=\"{cv}\">{cv}</td><td>{}</td></tr>",
                e(&check_id(i, r, j)),
                e(&c.id),
                e(&c.detail)
            );
        }
        h.push_str("</table>\n");
    }
    if !r.latencies.is_empty() {
        h.push_str("<h3>Latencies</h3>\n");
        latency_percentiles(h, std::iter::once(&r.latencies));
        if r.latencies.len() >= MIN_CHART_EVENTS {
            h.push_str(&latency_svg(&r.latencies));
        }
        latency_table(h, r);
    }
    if !r.deadlines.is_empty() {
        let count = |s: DeadlineStatus| r.deadlines.iter().filter(|d| d.status == s).count();
        let _ = writeln!(
            h,
            "<h3>Deadlines</h3>\n<p>{} met, {} missed, {} open.</p>",
            count(DeadlineStatus::Met),
            count(DeadlineStatus::Missed),
            count(DeadlineStatus::Open)
        );
        h.push_str(&deadline_svg(r));
        if r.deadlines.len() > MAX_DEADLINE_ROWS {
            let _ = writeln!(
                h,
                "<p class=\"def\">The chart shows {MAX_DEADLINE_ROWS} of {} deadlines, the missed ones first; every one is in report.json.</p>",
                r.deadlines.len()
            );
        }
    }
    let accepted: u64 = r.throughput.iter().map(|c| c.accepted).sum();
    if accepted as usize >= MIN_CHART_EVENTS {
        h.push_str("<h3>Throughput</h3>\n");
        h.push_str(&throughput_svg(r));
    }
    if !r.event_counts.is_empty() {
        let counts: Vec<String> = r
            .event_counts
            .iter()
            .map(|(k, n)| format!("{} {n}", e(k)))
            .collect();
        let _ = writeln!(
            h,
            "<details class=\"fold\"><summary>trace events ({})</summary><p>{}</p></details>",
            r.event_counts.values().sum::<u64>(),
            counts.join(" · ")
        );
    }
    h.push_str("</div></details>\n");
}

/// A scenario's latencies, folded, at most [`MAX_TABLE_ROWS`] rows.
fn latency_table(h: &mut String, r: &ScenarioReport) {
    let n = r.latencies.len();
    let shown = n.min(MAX_TABLE_ROWS);
    let label = if shown < n {
        format!("all answers: first {shown} of {n} (every one in report.json)")
    } else {
        format!("all answers ({n})")
    };
    let _ = writeln!(
        h,
        "<details class=\"fold\"><summary>{}</summary>\n<table class=\"latencies\">\n<tr><th>citizen · subject</th><th>message → answer</th><th>sent → arrived</th><th class=\"num\">latency</th></tr>",
        e(&label)
    );
    // A scratch database that cannot be read back leaves the table empty; the percentile
    // table above says why.
    for l in r.latencies.first(shown).unwrap_or_default() {
        let what = if l.detail.is_empty() {
            l.kind.name().to_string()
        } else {
            format!("{} ({})", l.kind.name(), l.detail)
        };
        let _ = writeln!(
            h,
            "<tr><td>{} · {}</td><td>{} → {} {}</td><td>{} →<br>{}</td><td class=\"num\">{}</td></tr>",
            e(&l.citizen),
            e(&l.subject),
            e(&l.message_id),
            e(&what),
            e(&l.answer_id),
            e(&l.sent_at),
            e(&l.arrived_at),
            e(&human(l.seconds))
        );
    }
    h.push_str("</table>\n</details>\n");
}

/// Tick step from `candidates` so that `span / step` stays at most `max_ticks`.
fn tick_step(span: f64, candidates: &[f64], max_ticks: f64) -> f64 {
    for &c in candidates {
        if span / c <= max_ticks {
            return c;
        }
    }
    let last = candidates.last().copied().unwrap_or(1.0);
    (span / max_ticks / last).ceil() * last
}

/// Bin widths in hours for the throughput chart.
const BIN_HOURS: [i64; 9] = [1, 2, 3, 6, 12, 24, 48, 168, 720];
/// At most this many bins on a throughput axis.
const MAX_BINS: i64 = 72;

/// `a / b` rounded up, for positive `a` and `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b.max(1)
}

/// The scenario's hourly counts in bins of a width that fits its span into [`MAX_BINS`].
fn binned(counts: &[HourCount]) -> (i64, Vec<HourCount>) {
    let hours = counts.iter().map(|c| c.hour + 1).max().unwrap_or(1).max(1);
    let width = BIN_HOURS
        .iter()
        .copied()
        .find(|w| ceil_div(hours, *w) <= MAX_BINS)
        .unwrap_or_else(|| ceil_div(hours, MAX_BINS));
    let mut bins: Vec<HourCount> = (0..ceil_div(hours, width))
        .map(|b| HourCount {
            hour: b * width,
            accepted: 0,
            stored: 0,
        })
        .collect();
    for c in counts {
        if let Some(b) = usize::try_from(c.hour.max(0) / width)
            .ok()
            .and_then(|i| bins.get_mut(i))
        {
            b.accepted += c.accepted;
            b.stored += c.stored;
        }
    }
    (width, bins)
}

fn throughput_svg(r: &ScenarioReport) -> String {
    const W: f64 = 880.0;
    const LEFT: f64 = 48.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 28.0;
    const PH: f64 = 90.0;
    let (width, bins) = binned(&r.throughput);
    let n_bins = bins.len().max(1) as f64;
    let span_h = n_bins * width as f64;
    let maxc = bins
        .iter()
        .map(|c| c.accepted.max(c.stored))
        .max()
        .unwrap_or(1)
        .max(1);
    let height = TOP + PH + 34.0;
    let pw = W - LEFT - RIGHT;
    let sw = pw / n_bins;
    let bw = (sw * 0.45).min(14.0);
    let base = TOP + PH;
    let unit = if width == 1 {
        "hour".to_string()
    } else {
        format!("{width} hours")
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"chart throughput\" viewBox=\"0 0 {W} {}\" role=\"img\" aria-label=\"messages accepted and stored per {unit}\">",
        f(height)
    );
    legend(
        &mut s,
        LEFT,
        16.0,
        &[("accepted", C_ACCEPTED), ("stored", C_STORED)],
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"16\" text-anchor=\"end\">per {unit} since {}</text>",
        f(W - RIGHT),
        e(r.virtual_start.as_deref().unwrap_or("?"))
    );
    let _ = writeln!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{LEFT}\" y1=\"{}\" x2=\"{LEFT}\" y2=\"{b}\"/>",
        f(LEFT + pw),
        f(TOP),
        b = f(base)
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{maxc}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        f(LEFT - 4.0),
        f(TOP + 4.0),
        f(LEFT - 4.0),
        f(base)
    );
    let step = tick_step(
        span_h,
        &[
            1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0, 336.0, 720.0,
        ],
        12.0,
    );
    let mut tick = 0.0;
    while tick <= span_h + 1e-9 {
        let x = LEFT + tick / width as f64 * sw;
        let label = if step >= 24.0 && (tick as i64) % 24 == 0 {
            format!("{} d", tick as i64 / 24)
        } else {
            format!("{} h", tick as i64)
        };
        let _ = writeln!(
            s,
            "<line class=\"axis\" x1=\"{x}\" y1=\"{b}\" x2=\"{x}\" y2=\"{}\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            f(base + 3.0),
            f(base + 14.0),
            x = f(x),
            b = f(base)
        );
        tick += step;
    }
    for (i, c) in bins.iter().enumerate() {
        let cx = LEFT + i as f64 * sw + sw / 2.0;
        for (n, color, x, what) in [
            (c.accepted, C_ACCEPTED, cx - bw, "accepted"),
            (c.stored, C_STORED, cx, "stored"),
        ] {
            if n == 0 {
                continue;
            }
            let bh = n as f64 / maxc as f64 * PH;
            let _ = writeln!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{color}\"><title>hours {}–{}: {n} {what}</title></rect>",
                f(x),
                f(base - bh),
                f(bw),
                f(bh),
                c.hour,
                c.hour + width
            );
        }
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">virtual time since the start</text>",
        f(LEFT + pw / 2.0),
        f(base + 30.0)
    );
    s.push_str("</svg>\n");
    s
}

/// Buckets of the latency histogram: label and inclusive upper bound in seconds.
pub const BUCKETS: [(&str, i64); 8] = [
    ("0 s", 0),
    ("≤ 1 min", 60),
    ("≤ 1 h", 3_600),
    ("≤ 8 h", 28_800),
    ("≤ 1 d", 86_400),
    ("≤ 3 d", 259_200),
    ("≤ 7 d", 604_800),
    ("> 7 d", i64::MAX),
];

fn bucket_of(secs: i64) -> usize {
    BUCKETS
        .iter()
        .position(|(_, max)| secs <= *max)
        .unwrap_or(BUCKETS.len() - 1)
}

fn latency_svg(latencies: &Latencies) -> String {
    const W: f64 = 880.0;
    const LEFT: f64 = 48.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 40.0;
    const PH: f64 = 140.0;
    const HEIGHT: f64 = TOP + PH + 36.0;
    let mut counts = [[0u64; 3]; BUCKETS.len()];
    // Unreadable latencies leave the chart empty; the percentile table above says why.
    let _ = latencies.for_each(|l| {
        counts[bucket_of(l.seconds)][l.kind.index()] += 1;
    });
    let maxc = counts
        .iter()
        .flat_map(|b| b.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let step = tick_step(maxc as f64, &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0], 5.0) as u64;
    let top = maxc.div_ceil(step) * step;
    let pw = W - LEFT - RIGHT;
    let gw = pw / BUCKETS.len() as f64;
    let bw = gw * 0.26;
    let base = TOP + PH;
    let y = |n: u64| base - n as f64 / top as f64 * PH;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"chart latency\" viewBox=\"0 0 {W} {HEIGHT}\" role=\"img\" aria-label=\"histogram of answer latencies\">"
    );
    let items: Vec<(&str, &str)> = LatencyKind::ALL
        .iter()
        .map(|k| (k.name(), kind_color(*k)))
        .collect();
    legend(&mut s, LEFT, 16.0, &items);
    let mut tick = 0;
    while tick <= top {
        let _ = writeln!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{tick}</text>",
            f(LEFT + pw),
            f(LEFT - 4.0),
            f(y(tick) + 4.0),
            yy = f(y(tick))
        );
        tick += step;
    }
    let _ = writeln!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{LEFT}\" y1=\"{}\" x2=\"{LEFT}\" y2=\"{b}\"/>",
        f(LEFT + pw),
        f(TOP),
        b = f(base)
    );
    for (i, (label, _)) in BUCKETS.iter().enumerate() {
        let gx = LEFT + gw * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            f(gx + gw / 2.0),
            f(base + 16.0),
            e(label)
        );
        for (k, kind) in LatencyKind::ALL.iter().enumerate() {
            let n = counts[i][k];
            if n == 0 {
                continue;
            }
            let x = gx + gw / 2.0 - 1.5 * bw + k as f64 * bw;
            let _ = writeln!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {n} {}</title></rect><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text>",
                f(x),
                f(y(n)),
                f(bw - 1.0),
                f(base - y(n)),
                kind_color(*kind),
                e(label),
                kind.name(),
                f(x + bw / 2.0),
                f(y(n) - 3.0)
            );
        }
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">virtual time from citizen.sent to arrival</text>",
        f(LEFT + pw / 2.0),
        f(base + 32.0)
    );
    s.push_str("</svg>\n");
    s
}

fn deadline_svg(r: &ScenarioReport) -> String {
    const W: f64 = 880.0;
    const LEFT: f64 = 16.0;
    const PW: f64 = 560.0;
    const TOP: f64 = 28.0;
    const ROW: f64 = 48.0;
    // The missed ones first, then the others in trace order, at most MAX_DEADLINE_ROWS.
    let rows: Vec<(&ScenarioReport, &DeadlineBar)> = r
        .deadlines
        .iter()
        .filter(|d| d.status == DeadlineStatus::Missed)
        .chain(
            r.deadlines
                .iter()
                .filter(|d| d.status != DeadlineStatus::Missed),
        )
        .take(MAX_DEADLINE_ROWS)
        .map(|d| (r, d))
        .collect();
    let span = rows
        .iter()
        .map(|(_, d)| d.due_seconds.max(d.reply_seconds.unwrap_or(0)))
        .max()
        .unwrap_or(86_400)
        .max(3_600) as f64
        * 1.04;
    let height = TOP + ROW * rows.len().max(1) as f64 + 22.0;
    let x = |secs: i64| LEFT + (secs.max(0) as f64 / span) * PW;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"chart deadlines\" viewBox=\"0 0 {W} {}\" role=\"img\" aria-label=\"deadline timeline\">",
        f(height)
    );
    legend(
        &mut s,
        LEFT,
        16.0,
        &[("met", C_MET), ("missed", C_MISSED), ("open", C_OPEN)],
    );
    if rows.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{}\">no deadline.computed events in these runs</text>",
            f(TOP + 20.0)
        );
    }
    let bottom = TOP + ROW * rows.len().max(1) as f64;
    let step = tick_step(
        span / 3_600.0,
        &[
            1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0, 72.0, 168.0, 336.0, 720.0,
        ],
        10.0,
    );
    let mut tick = 0.0;
    while tick * 3_600.0 <= span {
        let tx = x((tick * 3_600.0) as i64);
        let label = if step >= 24.0 {
            format!("+{} d", (tick / 24.0) as i64)
        } else {
            format!("+{} h", tick as i64)
        };
        let _ = writeln!(
            s,
            "<line class=\"grid\" x1=\"{tx}\" y1=\"{}\" x2=\"{tx}\" y2=\"{}\"/><text x=\"{tx}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            f(TOP),
            f(bottom),
            f(bottom + 14.0),
            tx = f(tx)
        );
        tick += step;
    }
    for (i, (_, d)) in rows.iter().enumerate() {
        let y0 = TOP + ROW * i as f64;
        let color = status_color(d.status);
        let status = d.status.name();
        let _ = writeln!(
            s,
            "<g class=\"deadline {status}\" data-status=\"{status}\">"
        );
        let subject = d
            .subject
            .as_deref()
            .map(|t| format!(" · {t}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<text class=\"title\" x=\"{LEFT}\" y=\"{}\">{}{}</text>",
            f(y0 + 12.0),
            e(&d.rule),
            e(&subject)
        );
        let bx = x(0);
        let bar_w = (x(d.due_seconds) - bx).max(1.0);
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"14\" fill=\"{color}\" fill-opacity=\"0.3\" stroke=\"{color}\"><title>{} → {} ({})</title></rect>",
            f(bx),
            f(y0 + 18.0),
            f(bar_w),
            e(&d.from),
            e(&d.due),
            e(&d.rule)
        );
        let dx = f(x(d.due_seconds));
        let _ = writeln!(
            s,
            "<line x1=\"{dx}\" y1=\"{}\" x2=\"{dx}\" y2=\"{}\" stroke=\"#1a202c\" stroke-width=\"2\"/>",
            f(y0 + 15.0),
            f(y0 + 35.0)
        );
        let text = match (d.reply_seconds, &d.reply_at) {
            (Some(rs), Some(at)) => {
                let _ = writeln!(
                    s,
                    "<circle class=\"reply\" cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{color}\" stroke=\"#fff\" stroke-width=\"1\"><title>reply arrived {} ({} after sending)</title></circle>",
                    f(x(rs)),
                    f(y0 + 25.0),
                    e(at),
                    e(&human(rs))
                );
                let margin = d.due_seconds - rs;
                if margin > 0 {
                    format!(
                        "{status}: reply after {}, {} before due",
                        human(rs),
                        human(margin)
                    )
                } else {
                    format!(
                        "{status}: reply after {}, {} late",
                        human(rs),
                        human(-margin)
                    )
                }
            }
            _ => format!("{status}: no reply; due after {}", human(d.due_seconds)),
        };
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" style=\"fill:{color}\">{}</text>\n</g>",
            f(LEFT + PW + 16.0),
            f(y0 + 29.0),
            e(&text)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn legend(s: &mut String, x0: f64, y: f64, items: &[(&str, &str)]) {
    let mut x = x0;
    for (label, color) in items {
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            f(x),
            f(y - 9.0),
            f(x + 14.0),
            f(y),
            e(label)
        );
        x += 24.0 + 7.0 * label.chars().count() as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest rank: p50 of 1..=10 is 5, p90 is 9, p95 and p99 are 10; nothing for no values.
    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v = Seconds::default();
        for s in (1..=10).rev() {
            v.add(s);
        }
        let got: Vec<Option<i64>> = [50, 90, 95, 99, 100]
            .iter()
            .map(|p| v.percentile(*p))
            .collect();
        assert_eq!(got, [Some(5), Some(9), Some(10), Some(10), Some(10)]);
        let mut one = Seconds::default();
        one.add(7);
        assert_eq!(one.percentile(0), Some(7));
        assert_eq!(Seconds::default().percentile(50), None);
    }

    /// A week fits in 3-hour bins, a month in 12-hour bins; counts land in their bin.
    #[test]
    fn throughput_bins_fit_the_span() {
        let c = |hour, accepted| HourCount {
            hour,
            accepted,
            stored: 0,
        };
        let (w, bins) = binned(&[c(0, 1), c(167, 2)]);
        assert_eq!((w, bins.len()), (3, 56));
        assert_eq!(bins[55].accepted, 2);
        let (w, bins) = binned(&[c(5, 1), c(719, 4), c(718, 1)]);
        assert_eq!((w, bins.len()), (12, 60));
        assert_eq!(bins.last().map(|b| b.accepted), Some(5));
        assert_eq!(binned(&[]).1.len(), 1);
    }
}
