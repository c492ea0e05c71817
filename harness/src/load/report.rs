//! The reports of a load run or of merged shards, from [`Results`] and the decided
//! thresholds, which come first in each: `report.json`, a self-contained `report.html`
//! (time series per interval as inline SVG, percentile table) and the summary on the
//! terminal. Format of `report.json`: `docs/load.md`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{Value, json};

use super::results::Results;
use super::threshold::{Decision, METRICS};

/// The percentiles every report lists.
pub const PERCENTILES: [f64; 6] = [50.0, 90.0, 95.0, 99.0, 99.9, 100.0];

/// Seconds of the run's intended duration.
fn duration_s(r: &Results) -> f64 {
    r.run.duration_ms as f64 / 1000.0
}

/// The latency table of one metric: count and percentiles in seconds.
fn latency(r: &Results, metric: &str) -> Value {
    let Some(h) = r.histogram(metric).filter(|h| !h.is_empty()) else {
        return json!({ "count": 0 });
    };
    let mut v = json!({
        "count": h.len(),
        "min_s": h.min() as f64 / 1e6,
        "mean_s": h.mean() / 1e6,
        "max_s": h.max() as f64 / 1e6,
    });
    for p in PERCENTILES {
        v[pname(p)] = json!(h.value_at_quantile(p / 100.0) as f64 / 1e6);
    }
    v
}

fn pname(p: f64) -> String {
    format!("p{}_s", p.to_string().replace('.', ""))
}

/// `report.json`: a struct, so that its fields keep this order (thresholds first).
#[derive(Serialize)]
pub struct Report<'a> {
    pub passed: bool,
    pub thresholds: &'a [Decision],
    pub profile: &'a str,
    pub profile_digest: &'a str,
    pub seed: u64,
    pub shards: u32,
    pub covers: &'a [u32],
    /// Run with `--sink`: the generator against an SMTP sink, not a world.
    pub against_sink: bool,
    pub duration_s: f64,
    pub interval_s: f64,
    pub counts: &'a std::collections::BTreeMap<String, u64>,
    pub rates: Value,
    pub refusals: &'a std::collections::BTreeMap<String, u64>,
    pub latencies: serde_json::Map<String, Value>,
    pub intervals: Vec<Value>,
    pub wall_seconds: &'a [f64],
}

/// `report.json`'s content.
pub fn json<'a>(r: &'a Results, decisions: &'a [Decision]) -> Report<'a> {
    let d = duration_s(r).max(1e-9);
    let intervals: Vec<Value> = r
        .intervals
        .iter()
        .enumerate()
        .map(|(i, iv)| {
            let mut v = serde_json::to_value(iv).unwrap_or(Value::Null);
            v["from_s"] = json!(i as f64 * r.run.interval_ms as f64 / 1000.0);
            v
        })
        .collect();
    Report {
        passed: decisions.iter().all(|d| d.passed),
        thresholds: decisions,
        profile: &r.run.profile,
        profile_digest: &r.run.profile_digest,
        seed: r.run.seed,
        shards: r.run.shards,
        covers: &r.covers,
        against_sink: r.run.sink,
        duration_s: duration_s(r),
        interval_s: r.run.interval_ms as f64 / 1000.0,
        counts: &r.counts,
        rates: json!({
            "intended_per_s": r.count("arrivals") as f64 / d,
            "achieved_per_s": r.count("started") as f64 / d,
            "accepted_per_s": r.count("accepted") as f64 / d,
        }),
        refusals: &r.refusals,
        latencies: METRICS
            .iter()
            .map(|m| (m.to_string(), latency(r, m)))
            .collect(),
        intervals,
        wall_seconds: &r.wall_seconds,
    }
}

/// The summary for the terminal, thresholds first.
pub fn summary(r: &Results, decisions: &[Decision]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "thresholds:");
    if decisions.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for d in decisions {
        let _ = writeln!(
            s,
            "  {} {}  ({})",
            if d.passed { "PASS" } else { "FAIL" },
            d.threshold,
            d.detail
        );
    }
    let d = duration_s(r).max(1e-9);
    let _ = writeln!(
        s,
        "load {} seed={} shards {:?} of {} · {:.0}s intended",
        r.run.profile,
        r.run.seed,
        r.covers,
        r.run.shards,
        duration_s(r)
    );
    if r.run.sink {
        let _ = writeln!(
            s,
            "  against an SMTP sink (--sink): the generator's own ceiling, no world"
        );
    }
    let _ = writeln!(
        s,
        "  arrivals {} (intended {:.2}/s) · started {} (achieved {:.2}/s) · dropped {} · accepted {} · refused {} · errors {}",
        r.count("arrivals"),
        r.count("arrivals") as f64 / d,
        r.count("started"),
        r.count("started") as f64 / d,
        r.count("dropped"),
        r.count("accepted"),
        r.count("refused"),
        r.count("errors"),
    );
    let _ = writeln!(
        s,
        "  receipts {} · pushes {} · replies {} · unanswered {}",
        r.count("receipts"),
        r.count("pushes"),
        r.count("replies"),
        r.count("unanswered"),
    );
    if r.count("interrupted") > 0 {
        let _ = writeln!(
            s,
            "  interrupted {} (stopped early: never started)",
            r.count("interrupted")
        );
    }
    for (k, v) in &r.refusals {
        let _ = writeln!(s, "  refused/failed {k}: {v}");
    }
    let _ = writeln!(
        s,
        "  latency from the intended time (s)    n      p50      p95      p99      max"
    );
    for m in METRICS {
        match r.histogram(m).filter(|h| !h.is_empty()) {
            None => {
                let _ = writeln!(s, "    {m:<34} 0");
            }
            Some(h) => {
                let q = |p: f64| h.value_at_quantile(p) as f64 / 1e6;
                let _ = writeln!(
                    s,
                    "    {m:<34} {:<6} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                    h.len(),
                    q(0.5),
                    q(0.95),
                    q(0.99),
                    h.max() as f64 / 1e6
                );
            }
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart of several series over the intervals, as inline SVG.
fn chart(title: &str, unit: &str, series: &[(&str, &str, Vec<f64>)]) -> String {
    let (w, h, pad) = (720.0, 200.0, 40.0);
    let n = series.iter().map(|s| s.2.len()).max().unwrap_or(0).max(2);
    let top = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\">",
        esc(title),
        h + pad,
        h + pad
    );
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#888\"/><line x1=\"{pad}\" y1=\"0\" x2=\"{pad}\" y2=\"{h}\" stroke=\"#888\"/><text x=\"2\" y=\"12\" font-size=\"11\">{top:.3} {}</text><text x=\"2\" y=\"{h}\" font-size=\"11\">0</text>",
        esc(unit)
    );
    for (i, (name, color, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(x, y)| {
                let px = pad + (w - pad) * x as f64 / (n - 1) as f64;
                let py = h - (h - 10.0) * y / top;
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{color}\">{}</text>",
            points.join(" "),
            pad + 10.0 + 120.0 * i as f64,
            h + 25.0,
            esc(name)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// `report.html`: self-contained (no scripts, no fetched resources).
pub fn html(r: &Results, decisions: &[Decision]) -> String {
    let mut s = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>load report</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td.text{text-align:left}.fail{color:#b00}.pass{color:#070}</style></head><body>",
    );
    let _ = write!(
        s,
        "<h1>Load: {}</h1><p>seed {} · shards {:?} of {} · {:.0} s intended · interval {} ms</p>",
        esc(&r.run.profile),
        r.run.seed,
        r.covers,
        r.run.shards,
        duration_s(r),
        r.run.interval_ms
    );
    if r.run.sink {
        s.push_str("<p><strong>Against an SMTP sink (<code>--sink</code>)</strong>: the generator's own ceiling, no world.</p>");
    }
    s.push_str(
        "<h2>Thresholds</h2><table><tr><th>result</th><th>threshold</th><th>detail</th></tr>",
    );
    for d in decisions {
        let _ = write!(
            s,
            "<tr><td class=\"{}\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
            if d.passed { "pass" } else { "fail" },
            if d.passed { "PASS" } else { "FAIL" },
            esc(&d.threshold),
            esc(&d.detail)
        );
    }
    s.push_str("</table><h2>Counts</h2><table>");
    for (k, v) in &r.counts {
        let _ = write!(s, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    for (k, v) in &r.refusals {
        let _ = write!(s, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    s.push_str(
        "</table><h2>Latency from the intended time (s)</h2><table><tr><th>metric</th><th>n</th>",
    );
    for p in PERCENTILES {
        let _ = write!(s, "<th>p{p}</th>");
    }
    s.push_str("</tr>");
    for m in METRICS {
        let _ = write!(s, "<tr><th>{m}</th>");
        match r.histogram(m).filter(|h| !h.is_empty()) {
            None => s.push_str("<td>0</td>"),
            Some(h) => {
                let _ = write!(s, "<td>{}</td>", h.len());
                for p in PERCENTILES {
                    let _ = write!(
                        s,
                        "<td>{:.3}</td>",
                        h.value_at_quantile(p / 100.0) as f64 / 1e6
                    );
                }
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</table><h2>Per interval</h2>");
    let per_s = r.run.interval_ms as f64 / 1000.0;
    let col = |f: &dyn Fn(&super::results::Interval) -> f64| -> Vec<f64> {
        r.intervals.iter().map(f).collect()
    };
    s.push_str(&chart(
        "arrivals per second: intended, started, accepted",
        "/s",
        &[
            ("intended", "#888", col(&|i| i.intended as f64 / per_s)),
            ("started", "#06c", col(&|i| i.started as f64 / per_s)),
            ("accepted", "#070", col(&|i| i.accepted as f64 / per_s)),
            ("dropped", "#b00", col(&|i| i.dropped as f64 / per_s)),
        ],
    ));
    let mean = |sum: u64, n: u64| {
        if n == 0 {
            0.0
        } else {
            sum as f64 / n as f64 / 1e6
        }
    };
    s.push_str(&chart(
        "latency by intended interval: mean and max (s)",
        "s",
        &[
            (
                "submit mean",
                "#06c",
                col(&|i| mean(i.submit_sum_us, i.accepted)),
            ),
            ("submit max", "#69c", col(&|i| i.submit_max_us as f64 / 1e6)),
            (
                "reply mean",
                "#070",
                col(&|i| mean(i.reply_sum_us, i.replies)),
            ),
            ("reply max", "#7a7", col(&|i| i.reply_max_us as f64 / 1e6)),
        ],
    ));
    s.push_str("</body></html>\n");
    s
}

/// Writes `report.json` and `report.html` into `out`.
pub fn write(out: &Path, r: &Results, decisions: &[Decision]) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let j = serde_json::to_string_pretty(&json(r, decisions))? + "\n";
    std::fs::write(out.join("report.json"), j)
        .with_context(|| format!("writing {}", out.join("report.json").display()))?;
    std::fs::write(out.join("report.html"), html(r, decisions))
        .with_context(|| format!("writing {}", out.join("report.html").display()))?;
    Ok(())
}
