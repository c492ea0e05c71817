//! The live page of a running load (docs/load.md, "Watching a run"): on the `--metrics`
//! address, `GET /` is a page that polls `GET /status.json` every second and shows the run's
//! progress, the achieved against the intended rate, the counters, the sessions in flight,
//! the latency percentiles so far (from the intended time) and every threshold decided over
//! the results so far. No data leaves the machine but these aggregates; the page's script and
//! stylesheet are served from the same address (`/live.js`, `/live.css`) under a strict CSP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::observe::Live;
use super::threshold::{self, METRICS, Threshold};

/// The Content-Security-Policy of the page: its own script and nothing else.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What `/status.json` says: the live state of `l` at `now`.
pub fn status(
    l: &Live,
    thresholds: &[Threshold],
    started: Instant,
    duration: Duration,
    now: Instant,
) -> Value {
    let r = &l.results;
    let elapsed = now.saturating_duration_since(started).as_secs_f64();
    let due = l.due(now.saturating_duration_since(started));
    let latencies: serde_json::Map<String, Value> = METRICS
        .iter()
        .map(|m| {
            let v = match r.histogram(m).filter(|h| !h.is_empty()) {
                Some(h) => json!({
                    "n": h.len(),
                    "p50_s": h.value_at_quantile(0.50) as f64 / 1e6,
                    "p95_s": h.value_at_quantile(0.95) as f64 / 1e6,
                    "p99_s": h.value_at_quantile(0.99) as f64 / 1e6,
                    "max_s": h.max() as f64 / 1e6,
                }),
                None => json!({"n": 0}),
            };
            (m.to_string(), v)
        })
        .collect();
    let counters: serde_json::Map<String, Value> = [
        "arrivals", "started", "dropped", "accepted", "refused", "errors", "receipts", "pushes",
        "replies",
    ]
    .iter()
    .map(|c| (c.to_string(), json!(r.count(c))))
    .collect();
    let decisions = threshold::decide(thresholds, r);
    json!({
        "profile": r.run.profile,
        "shard": r.covers.first().copied().unwrap_or(0),
        "shards": r.run.shards,
        "elapsed_s": elapsed,
        "duration_s": duration.as_secs_f64(),
        "due": due,
        "in_flight": l.in_flight,
        "unanswered": l.unanswered(),
        "counters": counters,
        "latencies": latencies,
        "thresholds": decisions,
    })
}

/// The page (static; `/live.js` fills it).
pub const PAGE: &str = include_str!("assets/live.html");

/// The page's stylesheet.
pub const STYLE: &str = include_str!("assets/live.css");

/// The page's script: polls `/status.json` every second and fills the tables (text only,
/// never HTML from the data).
pub const SCRIPT: &str = include_str!("assets/live.js");
