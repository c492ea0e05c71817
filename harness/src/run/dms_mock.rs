//! An in-process mock document management system (DMS) for scenario runs and tests.
//!
//! It implements the server side of the DMS wire contract (`docs/dms.md`,
//! `demail_sim::intake::dms`): `POST /documents` with an `Idempotency-Key` header and an
//! evidence record as JSON body. It listens on `127.0.0.1:0` (axum) and answers:
//!
//! - 503 with a problem JSON while switched off with [`MockDms::set_available`]`(false)`;
//! - 400 with a problem JSON if the `Idempotency-Key` is missing, the body is not an
//!   `EvidenceRecord`, the record is inconsistent (`EvidenceRecord::verify`: base64 and
//!   SHA-256 must agree), or the key is not the record's `demail_message_id`;
//! - 409 if a document with this key was already stored (the first one is kept);
//! - 413 for a body over [`BODY_LIMIT`] (256 MiB);
//! - 201 with `{"document": n, "message_sha256": ...}` otherwise; the body is kept and returned
//!   by [`MockDms::documents`] in arrival order.
//!
//! All state is in memory; the server task stops when the [`MockDms`] is dropped.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use demail_sim::intake::dms::EvidenceRecord;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Problem types the mock answers with (RFC 9457 `type`).
pub mod problem_type {
    /// 503: the DMS is switched off.
    pub const UNAVAILABLE: &str = "urn:demail-testbed:dms:unavailable";
    /// 400: no or unusable `Idempotency-Key`.
    pub const IDEMPOTENCY_KEY: &str = "urn:demail-testbed:dms:idempotency-key";
    /// 400: the body is not a consistent evidence record.
    pub const INVALID_RECORD: &str = "urn:demail-testbed:dms:invalid-record";
    /// 409: a document with this key is already stored.
    pub const ALREADY_STORED: &str = "urn:demail-testbed:dms:already-stored";
}

/// Largest request body the mock accepts (413 above): 256 MiB.
pub const BODY_LIMIT: usize = 256 * 1024 * 1024;

/// A fault plan with a `dms` face, and where its hits are traced.
struct Faults {
    plan: Arc<demail_sim::provider::fault::FaultPlan>,
    trace: demail_sim::trace::Trace,
    clock: demail_sim::clock::VirtualClock,
}

#[derive(Default)]
struct MockState {
    available: bool,
    faults: Option<Faults>,
    keys: BTreeSet<String>,
    documents: Vec<Value>,
    requests: usize,
}

type Shared = Arc<Mutex<MockState>>;

fn lock(m: &Mutex<MockState>) -> MutexGuard<'_, MockState> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running mock DMS.
pub struct MockDms {
    addr: SocketAddr,
    state: Shared,
    task: JoinHandle<()>,
}

impl MockDms {
    /// Starts the mock on `127.0.0.1:0`, available.
    pub async fn start() -> Result<Self> {
        let state: Shared = Arc::new(Mutex::new(MockState {
            available: true,
            ..MockState::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the mock DMS")?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .route("/documents", post(store))
            // axum's default of 2 MB is below the size of a De-Mail with attachments.
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("mock DMS stopped: {e}");
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The base URL (`http://127.0.0.1:PORT`); documents go to `{url}/documents`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Plans faults at the `dms` face (docs/faults.md): a request the plan hits is answered
    /// 503 like an outage, and the hit is a `fault.injected` event in `trace`.
    pub fn set_faults(
        &self,
        plan: Arc<demail_sim::provider::fault::FaultPlan>,
        trace: demail_sim::trace::Trace,
        clock: demail_sim::clock::VirtualClock,
    ) {
        lock(&self.state).faults = Some(Faults { plan, trace, clock });
    }

    /// Switches the DMS on or off; while off every request is answered 503.
    pub fn set_available(&self, available: bool) {
        lock(&self.state).available = available;
    }

    /// The stored documents (request bodies as JSON) in arrival order.
    pub fn documents(&self) -> Vec<Value> {
        lock(&self.state).documents.clone()
    }

    /// Number of `POST /documents` requests received, whatever the answer.
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }
}

impl crate::model::DmsRecords for MockDms {
    fn documents(&self) -> Vec<Value> {
        MockDms::documents(self)
    }
}

impl Drop for MockDms {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn problem(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": kind,
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

async fn store(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&state);
    s.requests += 1;
    if let Some(f) = &s.faults
        && let Some(hit) = f.plan.hit(
            demail_sim::provider::fault::Face::Dms,
            None,
            None,
            f.clock.timestamp().as_second(),
        )
    {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        f.trace.emit(demail_sim::trace::EventKind::FaultInjected {
            face: "dms".into(),
            fault: format!("{}: {}", hit.id, hit.action.name()),
            message_id: key,
            detail: format!(
                "planned fault {:?} hit candidate {} at this face: 503",
                hit.id, hit.candidate
            ),
        });
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            problem_type::UNAVAILABLE,
            "DMS unavailable",
            format!(
                "planned fault {:?}: the document management system is unavailable; try again later",
                hit.id
            ),
        );
    }
    if !s.available {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            problem_type::UNAVAILABLE,
            "DMS unavailable",
            "the document management system is switched off; try again later",
        );
    }
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        Some(Ok(k)) if !k.trim().is_empty() => k.trim().to_string(),
        Some(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                problem_type::IDEMPOTENCY_KEY,
                "Unusable Idempotency-Key",
                "the Idempotency-Key header is empty or not visible ASCII",
            );
        }
        None => {
            return problem(
                StatusCode::BAD_REQUEST,
                problem_type::IDEMPOTENCY_KEY,
                "Missing Idempotency-Key",
                "send the record's demail_message_id in the Idempotency-Key header",
            );
        }
    };
    let record: EvidenceRecord = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                problem_type::INVALID_RECORD,
                "Invalid evidence record",
                format!("the body is not an evidence record: {e}"),
            );
        }
    };
    if let Err(e) = record.verify() {
        return problem(
            StatusCode::BAD_REQUEST,
            problem_type::INVALID_RECORD,
            "Invalid evidence record",
            e,
        );
    }
    if record.demail_message_id.trim() != key {
        return problem(
            StatusCode::BAD_REQUEST,
            problem_type::IDEMPOTENCY_KEY,
            "Idempotency-Key does not match",
            format!(
                "Idempotency-Key {key:?} differs from demail_message_id {:?}",
                record.demail_message_id
            ),
        );
    }
    if s.keys.contains(&key) {
        return problem(
            StatusCode::CONFLICT,
            problem_type::ALREADY_STORED,
            "Already stored",
            format!("a document with Idempotency-Key {key:?} is already stored"),
        );
    }
    // The record parsed, so the body is JSON.
    let value = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    s.keys.insert(key);
    s.documents.push(value);
    let number = s.documents.len();
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"document": number, "message_sha256": record.message_sha256}).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use demail_sim::intake::dms::{DmsClient, DmsOutbox, FlushOutcome, OutboxState, flush};
    use jiff::{SignedDuration, Timestamp};

    use super::*;

    fn record(id: &str) -> EvidenceRecord {
        let raw = format!(
            "X-de-mail-message-id: {id}\r\nX-de-mail-message-type: normal\r\n\
             Subject: Gewerbeanmeldung\r\n\r\nText\r\n"
        );
        let mut r = EvidenceRecord::new(
            "GA-2025-00001",
            "gewerbeanzeige",
            "gewerbeangelegenheiten@dresden.de-mail.de",
            "2025-03-03T08:00:00Z".parse().unwrap(),
            raw.as_bytes(),
            Some("v=1; a=sha256".into()),
        )
        .unwrap();
        r.add_confirmation("confirmation of receipt", "<c@p>", b"Eingang");
        r
    }

    async fn post(
        http: &reqwest::Client,
        dms: &MockDms,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = http
            .post(format!("{}/documents", dms.url()))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    #[tokio::test]
    async fn stores_dedups_validates_and_goes_down_on_request() {
        let dms = MockDms::start().await.unwrap();
        let http = reqwest::Client::new();
        let r = record("<1@p>");
        let body = serde_json::to_vec(&r).unwrap();

        let (status, answer) = post(&http, &dms, Some("<1@p>"), body.clone()).await;
        assert_eq!(status, 201);
        assert_eq!(answer["message_sha256"], r.message_sha256.as_str());
        let (status, answer) = post(&http, &dms, Some("<1@p>"), body.clone()).await;
        assert_eq!(status, 409);
        assert_eq!(answer["type"], problem_type::ALREADY_STORED);

        let (status, answer) = post(&http, &dms, None, body.clone()).await;
        assert_eq!(
            (status, answer["title"].as_str()),
            (400, Some("Missing Idempotency-Key"))
        );
        let (status, _) = post(&http, &dms, Some("<other@p>"), body.clone()).await;
        assert_eq!(status, 400);
        let (status, answer) = post(&http, &dms, Some("<2@p>"), b"{\"x\":1}".to_vec()).await;
        assert_eq!(status, 400);
        assert_eq!(answer["type"], problem_type::INVALID_RECORD);
        let mut bad = record("<3@p>");
        bad.message_sha256 = "00".repeat(32);
        let (status, answer) = post(
            &http,
            &dms,
            Some("<3@p>"),
            serde_json::to_vec(&bad).unwrap(),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            answer["detail"]
                .as_str()
                .unwrap()
                .contains("message_sha256")
        );

        dms.set_available(false);
        let (status, answer) = post(
            &http,
            &dms,
            Some("<4@p>"),
            serde_json::to_vec(&record("<4@p>")).unwrap(),
        )
        .await;
        assert_eq!(status, 503);
        assert_eq!(answer["type"], problem_type::UNAVAILABLE);
        dms.set_available(true);
        let (status, _) = post(
            &http,
            &dms,
            Some("<4@p>"),
            serde_json::to_vec(&record("<4@p>")).unwrap(),
        )
        .await;
        assert_eq!(status, 201);

        let docs = dms.documents();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["demail_message_id"], "<1@p>");
        assert_eq!(docs[1]["demail_message_id"], "<4@p>");
        assert_eq!(docs[0], serde_json::to_value(&r).unwrap());
        assert_eq!(dms.requests(), 8);
    }

    #[tokio::test]
    async fn accepts_a_record_larger_than_axums_default_limit() {
        let dms = MockDms::start().await.unwrap();
        let raw = format!(
            "X-de-mail-message-id: <big@p>\r\nSubject: x\r\n\r\n{}\r\n",
            "A".repeat(4 * 1024 * 1024)
        );
        let r = EvidenceRecord::new("GA", "p", "m", Timestamp::UNIX_EPOCH, raw.as_bytes(), None)
            .unwrap();
        let client = DmsClient::new(&dms.url()).unwrap();
        assert_eq!(
            client.store(&r).await,
            Ok(demail_sim::intake::dms::Stored::Created)
        );
        assert_eq!(dms.documents().len(), 1);
    }

    #[tokio::test]
    async fn the_outbox_delivers_to_the_mock_once_it_is_back() {
        let dms = MockDms::start().await.unwrap();
        dms.set_available(false);
        let client = DmsClient::new(&dms.url()).unwrap();
        let t0: Timestamp = "2025-03-03T08:00:00Z".parse().unwrap();
        let mut ob = DmsOutbox::open(None).unwrap();
        ob.enqueue(&record("<1@p>"), t0).unwrap();
        let outbox = Mutex::new(ob);

        let report = flush(&outbox, &client, t0).await;
        assert!(matches!(
            &report.entries[0].outcome,
            FlushOutcome::Failed { status: Some(503), permanent: false, retry_at: Some(_), reason }
                if reason.contains("DMS unavailable")
        ));
        dms.set_available(true);
        let report = flush(&outbox, &client, t0 + SignedDuration::from_secs(60)).await;
        assert_eq!(
            report.entries[0].outcome,
            FlushOutcome::Delivered {
                already_stored: false
            }
        );
        assert_eq!(dms.documents().len(), 1);
        assert_eq!(
            outbox.lock().unwrap().list().unwrap()[0].state,
            OutboxState::Delivered
        );
    }
}
