//! The intake's HTTP endpoint: the test-clock contract of DESIGN.md.
//!
//! - `POST /testbed/clock` with `{"now": "<RFC 3339>"}`: sets the intake's time, submits all
//!   replies due by then, answers `{"now", "idle": true, "replies_sent", "events_from",
//!   "events", "next"}` once they went out; the last three are what `GET /testbed/events?after=
//!   <events_from>` would answer then, `events_from` being the count of events before the step,
//!   so that the runner needs no second request when nothing happens after the answer
//!   (docs/sut.md "Events in the clock answer").
//! - `GET /testbed/events?after=N`: what the intake did, as `intake.*` trace events
//!   (`{"events": [...], "next": M}`; pass `next` as `after` to read on). The runner copies
//!   them into the trace after each settled step.
//! - `GET /testbed/cases`: the intake's cases, evidence and services as JSON (diagnostics).
//!
//! Bad requests get a JSON problem (RFC 9457) with status 400 or 409; a body over
//! [`MAX_BODY_BYTES`] gets 413, at once when `Content-Length` declares it.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{Intake, outbound, service};
use demail_core::sync::lock;

/// Largest request body the endpoint takes (64 KiB; a clock request is a few dozen bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub(crate) fn router(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/testbed/clock", post(set_clock))
        .route("/testbed/cases", get(cases))
        .route("/testbed/events", get(events))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .with_state(intake)
}

/// Answers 413 at once when `Content-Length` declares more than [`MAX_BODY_BYTES`], before
/// any of the body is read (the connection is closed after the answer).
async fn refuse_declared_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match demail_core::http_limit::declared_length(request.headers()) {
        Some(declared) if declared > MAX_BODY_BYTES as u64 => {
            let mut r = problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
                format!(
                    "the request declares a body of {declared} bytes (Content-Length); this endpoint takes at most {MAX_BODY_BYTES} bytes"
                ),
            );
            r.headers_mut().insert(
                header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            r
        }
        _ => next.run(request).await,
    }
}

#[derive(Deserialize)]
struct ClockRequest {
    now: String,
}

fn problem(status: StatusCode, title: &str, detail: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail})),
    )
        .into_response()
}

async fn set_clock(
    State(intake): State<Arc<Intake>>,
    body: Result<Json<ClockRequest>, JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
                format!(
                    "the request body is larger than the {MAX_BODY_BYTES} bytes this endpoint takes"
                ),
            );
        }
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad clock request",
                format!("{e}; expected {{\"now\": \"2025-03-03T09:00:00+01:00\"}}"),
            );
        }
    };
    let now: Timestamp = match req.now.parse() {
        Ok(t) => t,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad clock request",
                format!("\"now\" is not an RFC 3339 time: {e}"),
            );
        }
    };
    // One step at a time: the step's work keeps case indices across awaits.
    let _step = intake.step.lock().await;
    let events_from = {
        let mut state = lock(&intake.state);
        if let Some(before) = state.now
            && now < before
        {
            return problem(
                StatusCode::CONFLICT,
                "Clock moved backwards",
                format!("the intake's clock is at {before}, refusing {now}"),
            );
        }
        state.now = Some(now);
        // What happened before this step has been read (the runner drains the events after
        // every settle, and posts the clock only then): older events may leave memory.
        crate::archive::trim_events(&mut state);
        state.events_dropped + state.events.len()
    };
    super::pull::poll(&intake).await;
    super::pop3::poll(&intake).await;
    let sent = outbound::send_due(&intake, now).await;
    service::run_due(&intake, now).await;
    // The provider counts an open session as activity: the step's session ends here.
    outbound::end_session(&intake).await;
    dms_flush(&intake, now).await;
    if let Some(archive) = &intake.archive {
        let mut state = lock(&intake.state);
        if let Err(e) = lock(archive).sweep(&mut state) {
            tracing::warn!("intake: case archive: {e:#}; the cases stay in memory");
        }
    }
    // The step's events, as `GET /testbed/events?after=<events_from>` would give them now.
    let state = lock(&intake.state);
    let (events_from, events, next) = events_after(&state, events_from);
    Json(json!({
        "now": now.to_string(),
        "idle": true,
        "replies_sent": sent,
        "events_from": events_from,
        "events": events,
        "next": next,
    }))
    .into_response()
}

/// The events from the `after`-th on as far as they are still in memory: (the number of the
/// first one given, the events, the count so far). With an archive the oldest events may
/// have left memory; `after` counts every event.
fn events_after(
    state: &super::IntakeState,
    after: usize,
) -> (usize, &[demail_core::trace::EventKind], usize) {
    let total = state.events_dropped + state.events.len();
    let from = after.clamp(state.events_dropped, total) - state.events_dropped;
    (state.events_dropped + from, &state.events[from..], total)
}

async fn cases(State(intake): State<Arc<Intake>>) -> Response {
    let state = lock(&intake.state);
    let mut body = json!({
        "now": state.now.map(|t| t.to_string()),
        "cases": state.cases,
        "evidence": state.evidence,
        "services": state.services,
    });
    // With an archive the closed cases are counted, not listed (`archive`).
    if let Some(archive) = &intake.archive {
        body["archived_cases"] = json!(lock(archive).closed_cases().ok());
    }
    Json(body).into_response()
}

/// Reads `after=N` (the only parameter); no query means 0.
fn parse_after(query: Option<&str>) -> Result<usize, String> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(0);
    };
    match query.split_once('=') {
        Some(("after", n)) => n
            .parse()
            .map_err(|_| format!("after={n:?} is not a number")),
        _ => Err(format!("unknown query {query:?}")),
    }
}

async fn events(State(intake): State<Arc<Intake>>, RawQuery(query): RawQuery) -> Response {
    let after = match parse_after(query.as_deref()) {
        Ok(n) => n,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad events request",
                format!("{e}; expected ?after=N with N the number of events already read"),
            );
        }
    };
    let state = lock(&intake.state);
    let (_, events, next) = events_after(&state, after);
    Json(json!({"events": events, "next": next})).into_response()
}

/// Hands due evidence records to the DMS and reports each attempt as an `intake.dms` event.
async fn dms_flush(intake: &Intake, now: Timestamp) {
    use super::dms::{FlushOutcome, flush};
    let Some((outbox, client)) = &intake.dms else {
        return;
    };
    let report = flush(outbox, client, now).await;
    let mut state = lock(&intake.state);
    for entry in report.entries {
        let aktenzeichen = state
            .cases
            .by_message_id(&entry.key)
            .next()
            .map(|c| c.aktenzeichen.clone())
            .or_else(|| {
                let archive = intake.archive.as_ref()?;
                lock(archive).aktenzeichen_of(&entry.key).ok().flatten()
            })
            .unwrap_or_else(|| entry.key.clone());
        let (outcome, detail) = match entry.outcome {
            FlushOutcome::Delivered { already_stored } => (
                "stored",
                if already_stored {
                    "the DMS already had it (409)".to_string()
                } else {
                    "stored with its evidence record".to_string()
                },
            ),
            FlushOutcome::Failed {
                reason,
                permanent: false,
                retry_at,
                ..
            } => (
                "retry",
                format!(
                    "{reason}; next attempt {}",
                    retry_at.map_or_else(
                        || "not scheduled".to_string(),
                        |t| demail_core::clock::format_instant(
                            &t.to_zoned_datetime(super::berlin())
                        )
                    )
                ),
            ),
            FlushOutcome::Failed { reason, .. } => ("rejected", reason),
            FlushOutcome::NotRecorded { result, error } => {
                ("retry", format!("{result}; not recorded: {error}"))
            }
        };
        state.events.push(demail_core::trace::EventKind::IntakeDms {
            aktenzeichen,
            outcome: outcome.into(),
            detail,
        });
    }
    for e in report.errors {
        tracing::warn!("intake: DMS outbox: {e}");
    }
}
