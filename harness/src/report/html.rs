//! `report.html`: one self-contained page (inline CSS, inline SVG, no script, no network)
//! with the scenario table, three charts drawn by hand, the latencies, the checks, and the
//! wall times in their own section at the end (the only part that is not deterministic).
//!
//! Charts (definitions in `docs/reports.md`):
//! - throughput: `provider.accepted` and `provider.stored` per virtual hour since the start,
//!   one row per scenario on a common axis;
//! - latency histogram: time from `citizen.sent` until each confirmation, Meldung and reply
//!   arrived, in fixed buckets, over all scenarios;
//! - deadline timeline: one bar per `deadline.computed` from `from` to `due`, the reply's
//!   arrival marked; green when met, red when missed, grey when still open.

use std::fmt::Write as _;

use super::analysis::human;
use super::{DeadlineStatus, LatencyKind, ScenarioReport, secs3, totals};

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

use escape_html as e;

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:980px;padding:0 1em;color:#1a202c;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #e2e8f0;padding-bottom:.2em}
p.def{color:#4a5568;font-size:.9em;margin-top:.2em}
table{border-collapse:collapse;width:100%;font-size:.88em;margin:.5em 0}
th,td{border:1px solid #e2e8f0;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.PASS{color:#276749;font-weight:600}.FAIL{color:#c53030;font-weight:600}.ERROR{color:#9b2c2c;font-weight:700}
code{font-size:.92em;background:#f7fafc;padding:0 .2em}
svg{display:block;width:100%;height:auto;margin:.5em 0;font-family:inherit}
svg text{font-size:11px;fill:#2d3748}svg text.title{font-size:12px;font-weight:600}
svg .axis{stroke:#a0aec0;stroke-width:1}svg .grid{stroke:#edf2f7;stroke-width:1}
.wall{background:#fffaf0;border:1px dashed #dd6b20;padding:.2em 1em;margin-top:2em}
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

/// Renders `report.html`.
pub(super) fn render(reports: &[&ScenarioReport]) -> String {
    let t = totals(reports);
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<title>demail-testbed report</title>\n<style>\n");
    h.push_str(CSS);
    h.push_str("</style>\n</head>\n<body>\n<h1>demail-testbed report</h1>\n");
    let _ = writeln!(
        h,
        "<p>{} scenario(s): {} passed, {} failed, {} errored{}. Checks: {} passed, {} failed.</p>",
        t.scenarios,
        t.passed,
        t.failed,
        t.errored,
        t.skipped_note(),
        t.checks_passed,
        t.checks_failed
    );

    h.push_str("<h2>Scenarios</h2>\n<table class=\"scenarios\">\n<tr><th>scenario</th><th>verdict</th><th>seed</th><th>checks passed</th><th>checks failed</th><th>golden</th><th>virtual time</th><th>reproduce</th></tr>\n");
    for r in reports {
        let span = match (&r.virtual_start, &r.virtual_end) {
            (Some(a), Some(b)) => format!("{} –<br>{}", e(a), e(b)),
            _ => "–".to_string(),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"{v}\">{v}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{span}</td><td><code>{}</code></td></tr>",
            e(&r.name),
            r.seed,
            r.checks_passed(),
            r.checks_failed(),
            e(&r.golden),
            e(&r.reproduce()),
            v = r.verdict()
        );
    }
    h.push_str("</table>\n");
    for r in reports {
        if let Some(err) = &r.error {
            let _ = writeln!(
                h,
                "<p class=\"ERROR\">{}: error before a result: {}</p>",
                e(&r.name),
                e(err)
            );
        }
        if let Some(why) = &r.skipped {
            let _ = writeln!(h, "<p>{}: skipped: {}</p>", e(&r.name), e(why));
        }
    }

    h.push_str("<h2>Throughput over virtual time</h2>\n<p class=\"def\">Messages accepted (<code>provider.accepted</code>) and stored into a mailbox (<code>provider.stored</code>) per virtual hour since the start of each run (<code>run.started</code>). All rows share the axes.</p>\n");
    h.push_str(&throughput_svg(reports));

    h.push_str("<h2>Latency of answers</h2>\n<p class=\"def\">For each <code>citizen.sent</code>: virtual time until each confirmation (<code>confirmation.issued</code> for its message), Meldung (<code>notification.issued</code>) and reply (the first later message from a recipient back to the citizen) arrived in the citizen's mailbox (<code>provider.stored</code>). All scenarios together.</p>\n");
    h.push_str(&latency_svg(reports));
    latency_table(&mut h, reports);

    h.push_str("<h2>Deadlines</h2>\n<p class=\"def\">Each <code>deadline.computed</code> as a bar from <code>from</code> (the sending) to <code>due</code>, the arrival of the reply marked with a dot. Green: the reply arrived before <code>due</code>; red: at or after <code>due</code>, or not at all; grey: no reply yet when the run ended before <code>due</code>.</p>\n");
    h.push_str(&deadline_svg(reports));

    h.push_str("<h2>Checks</h2>\n<table class=\"checks\">\n<tr><th>scenario</th><th>check</th><th>verdict</th><th>detail</th></tr>\n");
    for r in reports {
        for c in &r.checks {
            let v = if c.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"{v}\">{v}</td><td>{}</td></tr>",
                e(&r.name),
                e(&c.id),
                e(&c.detail)
            );
        }
    }
    h.push_str("</table>\n");

    h.push_str("<section class=\"wall\" id=\"wall-times\">\n<h2>Wall times (not deterministic)</h2>\n<p class=\"def\">Real time each run took on this machine. Everything above this section is the same for the same scenarios and seeds.</p>\n<table>\n<tr><th>scenario</th><th>wall time (s)</th></tr>\n");
    for r in reports {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            e(&r.name),
            r.wall.map_or_else(|| "–".to_string(), secs3)
        );
    }
    h.push_str("</table>\n</section>\n</body>\n</html>\n");
    h
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

fn throughput_svg(reports: &[&ScenarioReport]) -> String {
    const W: f64 = 880.0;
    const LEFT: f64 = 48.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 28.0;
    const ROW: f64 = 92.0;
    const PH: f64 = 50.0;
    let rows: Vec<&&ScenarioReport> = reports.iter().filter(|r| r.error.is_none()).collect();
    let hours = rows
        .iter()
        .flat_map(|r| r.throughput.iter().map(|c| c.hour + 1))
        .max()
        .unwrap_or(1)
        .max(1);
    let maxc = rows
        .iter()
        .flat_map(|r| r.throughput.iter().map(|c| c.accepted.max(c.stored)))
        .max()
        .unwrap_or(1)
        .max(1);
    let height = TOP + ROW * rows.len().max(1) as f64 + 4.0;
    let pw = W - LEFT - RIGHT;
    let sw = pw / hours as f64;
    let bw = (sw * 0.45).min(14.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"chart throughput\" viewBox=\"0 0 {W} {}\" role=\"img\" aria-label=\"messages accepted and stored per virtual hour\">",
        f(height)
    );
    legend(
        &mut s,
        LEFT,
        16.0,
        &[("accepted", C_ACCEPTED), ("stored", C_STORED)],
    );
    if rows.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{}\">no runs</text>",
            f(TOP + 20.0)
        );
    }
    let step = tick_step(
        hours as f64,
        &[
            1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0, 336.0, 720.0,
        ],
        12.0,
    );
    for (i, r) in rows.iter().enumerate() {
        let y0 = TOP + ROW * i as f64;
        let base = y0 + 18.0 + PH;
        let _ = writeln!(
            s,
            "<g class=\"row\"><text class=\"title\" x=\"{LEFT}\" y=\"{}\">{} (from {})</text>",
            f(y0 + 12.0),
            e(&r.name),
            e(r.virtual_start.as_deref().unwrap_or("?"))
        );
        let _ = writeln!(
            s,
            "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{LEFT}\" y1=\"{}\" x2=\"{LEFT}\" y2=\"{b}\"/>",
            f(LEFT + pw),
            f(base - PH),
            b = f(base)
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{maxc}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
            f(LEFT - 4.0),
            f(base - PH + 4.0),
            f(LEFT - 4.0),
            f(base)
        );
        let mut tick = 0.0;
        while tick <= hours as f64 + 1e-9 {
            let x = LEFT + tick * sw;
            let _ = writeln!(
                s,
                "<line class=\"axis\" x1=\"{x}\" y1=\"{b}\" x2=\"{x}\" y2=\"{}\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{} h</text>",
                f(base + 3.0),
                f(base + 14.0),
                tick as i64,
                x = f(x),
                b = f(base)
            );
            tick += step;
        }
        for c in &r.throughput {
            let cx = LEFT + c.hour as f64 * sw + sw / 2.0;
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
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{color}\"><title>hour {}: {n} {what}</title></rect>",
                    f(x),
                    f(base - bh),
                    f(bw),
                    f(bh),
                    c.hour
                );
            }
        }
        s.push_str("</g>\n");
    }
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

fn latency_svg(reports: &[&ScenarioReport]) -> String {
    const W: f64 = 880.0;
    const LEFT: f64 = 48.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 40.0;
    const PH: f64 = 180.0;
    const HEIGHT: f64 = TOP + PH + 36.0;
    let mut counts = [[0u64; 3]; BUCKETS.len()];
    for r in reports {
        for l in &r.latencies {
            let k = LatencyKind::ALL
                .iter()
                .position(|x| *x == l.kind)
                .unwrap_or(0);
            counts[bucket_of(l.seconds)][k] += 1;
        }
    }
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

fn latency_table(h: &mut String, reports: &[&ScenarioReport]) {
    if reports.iter().all(|r| r.latencies.is_empty()) {
        h.push_str("<p>No answers to citizens' messages in these runs.</p>\n");
        return;
    }
    h.push_str("<table class=\"latencies\">\n<tr><th>scenario</th><th>citizen · subject</th><th>message → answer</th><th>sent → arrived</th><th>latency</th></tr>\n");
    for r in reports {
        for l in &r.latencies {
            let what = if l.detail.is_empty() {
                l.kind.name().to_string()
            } else {
                format!("{} ({})", l.kind.name(), l.detail)
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{} · {}</td><td>{} → {} {}</td><td>{} →<br>{}</td><td class=\"num\">{}</td></tr>",
                e(&r.name),
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
    }
    h.push_str("</table>\n");
}

fn deadline_svg(reports: &[&ScenarioReport]) -> String {
    const W: f64 = 880.0;
    const LEFT: f64 = 16.0;
    const PW: f64 = 560.0;
    const TOP: f64 = 28.0;
    const ROW: f64 = 48.0;
    let rows: Vec<(&ScenarioReport, &super::DeadlineBar)> = reports
        .iter()
        .flat_map(|r| r.deadlines.iter().map(move |d| (*r, d)))
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
    for (i, (r, d)) in rows.iter().enumerate() {
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
            "<text class=\"title\" x=\"{LEFT}\" y=\"{}\">{} · {}{}</text>",
            f(y0 + 12.0),
            e(&r.name),
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
