//! `load --metrics ADDR`: the live results as a Prometheus endpoint (`GET /metrics`, text
//! exposition format 0.0.4), so that a running load is watched in Grafana or scraped by a
//! Prometheus beside other dashboards. Counters per outcome, the sessions in flight, and
//! each latency (from the intended time) as a histogram with fixed buckets read from the
//! HDR histogram.

use std::fmt::Write as _;

use super::observe::{Shared, lock};
use super::results::Results;
use super::threshold::{COUNTERS, METRICS};

/// Bucket bounds (seconds) of the exposed latency histograms.
pub const BUCKETS_S: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The exposition text of `r` with `in_flight` sessions open.
pub fn render(r: &Results, in_flight: usize, shard: (u32, u32)) -> String {
    let mut s = String::new();
    let labels = format!("shard=\"{}/{}\"", shard.0, shard.1);
    let _ = writeln!(
        s,
        "# HELP demail_load_events_total Arrivals and their outcomes so far (arrivals counts the whole schedule of the shard)."
    );
    let _ = writeln!(s, "# TYPE demail_load_events_total counter");
    for c in COUNTERS {
        let _ = writeln!(
            s,
            "demail_load_events_total{{{labels},outcome=\"{c}\"}} {}",
            r.count(c)
        );
    }
    let _ = writeln!(
        s,
        "# HELP demail_load_refusals_total Refusals by reply code, and errors without an SMTP answer."
    );
    let _ = writeln!(s, "# TYPE demail_load_refusals_total counter");
    for (k, v) in &r.refusals {
        let reply = k
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', " ");
        let _ = writeln!(
            s,
            "demail_load_refusals_total{{{labels},reply=\"{reply}\"}} {v}"
        );
    }
    let _ = writeln!(s, "# HELP demail_load_in_flight SMTP sessions open now.");
    let _ = writeln!(s, "# TYPE demail_load_in_flight gauge");
    let _ = writeln!(s, "demail_load_in_flight{{{labels}}} {in_flight}");
    let _ = writeln!(
        s,
        "# HELP demail_load_latency_seconds Latency from the intended send time (coordinated-omission free)."
    );
    let _ = writeln!(s, "# TYPE demail_load_latency_seconds histogram");
    for m in METRICS {
        let Some(h) = r.histogram(m) else { continue };
        for b in BUCKETS_S {
            let n = h.count_between(0, (b * 1e6) as u64);
            let _ = writeln!(
                s,
                "demail_load_latency_seconds_bucket{{{labels},metric=\"{m}\",le=\"{b}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "demail_load_latency_seconds_bucket{{{labels},metric=\"{m}\",le=\"+Inf\"}} {}",
            h.len()
        );
        let sum = h.mean() * h.len() as f64 / 1e6;
        let _ = writeln!(
            s,
            "demail_load_latency_seconds_sum{{{labels},metric=\"{m}\"}} {sum}"
        );
        let _ = writeln!(
            s,
            "demail_load_latency_seconds_count{{{labels},metric=\"{m}\"}} {}",
            h.len()
        );
    }
    s
}

/// What the live page needs besides the live state: the thresholds and the planned duration
/// (the start is the live state's: set once the world runs, or by `--start-at`).
pub struct PageContext {
    pub thresholds: Vec<super::threshold::Threshold>,
    pub duration: std::time::Duration,
}

/// Serves `GET /metrics` and the live page (`/`, `/status.json`, `/live.js`, `/live.css`;
/// [`super::live_page`]) on `listener` until the task is aborted.
pub fn serve(
    listener: tokio::net::TcpListener,
    live: Shared,
    shard: (u32, u32),
    page: PageContext,
) -> tokio::task::JoinHandle<()> {
    use super::live_page::{self, CSP, PAGE, SCRIPT, STYLE};
    use axum::http::header;
    use axum::routing::get;
    let page = std::sync::Arc::new(page);
    let status_live = live.clone();
    let secure = |content_type: &'static str, body: String| {
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
    };
    let app = axum::Router::new()
        .route(
            "/",
            get(move || async move { secure("text/html; charset=utf-8", PAGE.to_string()) }),
        )
        .route(
            "/live.js",
            get(
                move || async move { secure("text/javascript; charset=utf-8", SCRIPT.to_string()) },
            ),
        )
        .route(
            "/live.css",
            get(move || async move { secure("text/css; charset=utf-8", STYLE.to_string()) }),
        )
        .route(
            "/status.json",
            get(move || {
                let (live, page) = (status_live.clone(), page.clone());
                async move {
                    let v = {
                        let l = lock(&live);
                        live_page::status(
                            &l,
                            &page.thresholds,
                            l.start,
                            page.duration,
                            std::time::Instant::now(),
                        )
                    };
                    secure("application/json", v.to_string())
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let live = live.clone();
                async move {
                    let text = {
                        let l = lock(&live);
                        render(&l.results, l.in_flight, shard)
                    };
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("load: the metrics endpoint stopped: {e}");
        }
    })
}
