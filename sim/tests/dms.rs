//! The DMS hand-over (`sim::intake::dms`) against a wiremock DMS: status codes, retries in
//! virtual time, idempotency key, and the evidence record on the wire.

use std::sync::Mutex;

use base64::Engine as _;
use demail_sim::intake::dms::{
    DmsClient, DmsError, DmsOutbox, EvidenceRecord, FlushOutcome, OutboxState, flush, sha256_hex,
};
use jiff::{SignedDuration, Timestamp};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ID: &str = "<20250303080000.4711@provider.de-mail.de>";

fn t0() -> Timestamp {
    "2025-03-03T08:00:00Z".parse().unwrap()
}

fn raw_message() -> Vec<u8> {
    format!(
        "X-de-mail-message-id: {ID}\r\n\
         X-de-mail-message-type: normal\r\n\
         X-de-mail-integrity: v=1; a=sha256; h=abc\r\n\
         From: Max Muster <max.muster@example.de-mail.de>\r\n\
         Subject: Gewerbeanmeldung\r\n\
         \r\n\
         Hiermit melde ich mein Gewerbe an. \u{e4}\u{f6}\u{fc}\r\n"
    )
    .into_bytes()
}

fn record() -> EvidenceRecord {
    let mut r = EvidenceRecord::new(
        "GA-2025-00001",
        "gewerbeanzeige",
        "gewerbeangelegenheiten@dresden.de-mail.de",
        t0(),
        &raw_message(),
        Some("v=1; a=sha256; h=abc".into()),
    )
    .unwrap();
    r.add_confirmation(
        "confirmation of receipt",
        "<conf-1@provider.de-mail.de>",
        b"X-de-mail-message-type: confirmation of receipt\r\n\r\nEingang\r\n",
    );
    r
}

fn outbox_with_record() -> Mutex<DmsOutbox> {
    let mut ob = DmsOutbox::open(None).unwrap();
    ob.enqueue(&record(), t0()).unwrap();
    Mutex::new(ob)
}

fn client(server: &MockServer) -> DmsClient {
    DmsClient::new(&server.uri()).unwrap()
}

async fn posts(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap_or_default()
}

#[tokio::test]
async fn delivered_on_201_with_the_record_and_the_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/documents"))
        .and(header("Idempotency-Key", ID))
        .and(header("Content-Type", "application/json"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let outbox = outbox_with_record();
    let report = flush(&outbox, &client(&server), t0()).await;
    assert_eq!(report.entries.len(), 1, "{report:?}");
    assert_eq!(report.entries[0].key, ID);
    assert_eq!(
        report.entries[0].outcome,
        FlushOutcome::Delivered {
            already_stored: false
        }
    );
    assert!(report.errors.is_empty());

    let requests = posts(&server).await;
    assert_eq!(requests.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["aktenzeichen"], "GA-2025-00001");
    assert_eq!(body["procedure"], "gewerbeanzeige");
    assert_eq!(body["mailbox"], "gewerbeangelegenheiten@dresden.de-mail.de");
    assert_eq!(body["received_at"], "2025-03-03T08:00:00Z");
    assert_eq!(body["demail_message_id"], ID);
    assert_eq!(body["integrity"], "v=1; a=sha256; h=abc");
    assert_eq!(body["message_sha256"], sha256_hex(&raw_message()));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body["raw_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, raw_message());
    let conf = &body["confirmations"][0];
    assert_eq!(conf["message_type"], "confirmation of receipt");
    assert_eq!(conf["demail_message_id"], "<conf-1@provider.de-mail.de>");
    assert_eq!(
        conf["sha256"],
        sha256_hex(b"X-de-mail-message-type: confirmation of receipt\r\n\r\nEingang\r\n")
    );
    // The body is exactly a record, and a consistent one.
    let parsed: EvidenceRecord = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(parsed, record());
    assert_eq!(parsed.verify(), Ok(()));

    let entry = outbox.lock().unwrap().list().unwrap().remove(0);
    assert_eq!((entry.state, entry.attempts), (OutboxState::Delivered, 1));
    // Nothing is due any more: a later flush sends nothing.
    let later = flush(
        &outbox,
        &client(&server),
        t0() + SignedDuration::from_hours(5),
    )
    .await;
    assert!(later.is_empty());
    assert_eq!(posts(&server).await.len(), 1);
}

#[tokio::test]
async fn body_hash_equals_sha256_of_the_raw_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let outbox = outbox_with_record();
    flush(&outbox, &client(&server), t0()).await;
    let requests = posts(&server).await;
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body["raw_base64"].as_str().unwrap())
        .unwrap();
    // Independent of the module's helper: sha2 directly.
    use sha2::Digest as _;
    let expected: String = sha2::Sha256::digest(&raw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(body["message_sha256"].as_str().unwrap(), expected);
    assert_eq!(raw, raw_message());
}

#[tokio::test]
async fn a_503_is_retried_after_the_backoff_and_delivered_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/documents"))
        .respond_with(ResponseTemplate::new(503).set_body_raw(
            r#"{"title":"DMS in maintenance"}"#,
            "application/problem+json",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/documents"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let outbox = outbox_with_record();
    let c = client(&server);

    let first = flush(&outbox, &c, t0()).await;
    let retry_at = t0() + SignedDuration::from_secs(60);
    assert_eq!(
        first.entries[0].outcome,
        FlushOutcome::Failed {
            status: Some(503),
            reason: "HTTP 503: DMS in maintenance".into(),
            permanent: false,
            retry_at: Some(retry_at),
        }
    );
    // Before the backoff has passed (virtual time) nothing is sent.
    let early = flush(&outbox, &c, retry_at - SignedDuration::from_secs(1)).await;
    assert!(early.is_empty(), "{early:?}");
    assert_eq!(posts(&server).await.len(), 1);

    let second = flush(&outbox, &c, retry_at).await;
    assert_eq!(
        second.entries[0].outcome,
        FlushOutcome::Delivered {
            already_stored: false
        }
    );
    let third = flush(&outbox, &c, retry_at + SignedDuration::from_hours(3)).await;
    assert!(third.is_empty());
    let requests = posts(&server).await;
    assert_eq!(requests.len(), 2, "one failed and one successful POST");
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry sends the same record"
    );

    let ob = outbox.lock().unwrap();
    let entry = &ob.list().unwrap()[0];
    assert_eq!(entry.state, OutboxState::Delivered);
    assert_eq!(entry.attempts, 2);
    assert_eq!(
        entry.last_error.as_deref(),
        Some("HTTP 503: DMS in maintenance")
    );
    assert_eq!(ob.counts().unwrap().delivered, 1);
}

#[tokio::test]
async fn a_409_counts_as_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409))
        .expect(1)
        .mount(&server)
        .await;
    let outbox = outbox_with_record();
    let report = flush(&outbox, &client(&server), t0()).await;
    assert_eq!(
        report.entries[0].outcome,
        FlushOutcome::Delivered {
            already_stored: true
        }
    );
    assert_eq!(
        outbox.lock().unwrap().list().unwrap()[0].state,
        OutboxState::Delivered
    );
}

#[tokio::test]
async fn a_400_rejects_permanently_and_keeps_the_record_with_the_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"type":"about:blank","title":"Invalid evidence record","detail":"procedure unknown"}"#,
            "application/problem+json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let outbox = outbox_with_record();
    let c = client(&server);
    let report = flush(&outbox, &c, t0()).await;
    let reason = "HTTP 400: Invalid evidence record: procedure unknown".to_string();
    assert_eq!(
        report.entries[0].outcome,
        FlushOutcome::Failed {
            status: Some(400),
            reason: reason.clone(),
            permanent: true,
            retry_at: None,
        }
    );
    // Never retried, never deleted.
    let later = flush(&outbox, &c, t0() + SignedDuration::from_hours(48)).await;
    assert!(later.is_empty());
    let ob = outbox.lock().unwrap();
    let entry = &ob.list().unwrap()[0];
    assert_eq!(entry.state, OutboxState::Rejected);
    assert_eq!(entry.last_error.as_deref(), Some(reason.as_str()));
    assert_eq!(ob.record(entry.id).unwrap().unwrap(), record());
    assert_eq!(ob.counts().unwrap().rejected, 1);
}

#[tokio::test]
async fn store_classifies_answers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_string("slow down"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(
        c.store(&record()).await,
        Err(DmsError::Temporary {
            status: Some(429),
            reason: "HTTP 429: slow down".into()
        })
    );
    assert_eq!(
        c.store(&record()).await,
        Err(DmsError::Permanent {
            status: Some(403),
            problem: "HTTP 403: Forbidden".into()
        })
    );
}

#[tokio::test]
async fn connection_refused_is_temporary_and_retried_later() {
    // Bind a port, then free it: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = DmsClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let outbox = outbox_with_record();
    let report = flush(&outbox, &c, t0()).await;
    match &report.entries[0].outcome {
        FlushOutcome::Failed {
            status,
            reason,
            permanent,
            retry_at,
        } => {
            assert_eq!(*status, None);
            assert!(!permanent);
            assert!(reason.contains("cannot connect"), "{reason}");
            assert_eq!(*retry_at, Some(t0() + SignedDuration::from_secs(60)));
        }
        other => panic!("{other:?}"),
    }
    // Second failure: 2 minutes later.
    let at = t0() + SignedDuration::from_secs(60);
    let report = flush(&outbox, &c, at).await;
    assert!(matches!(
        report.entries[0].outcome,
        FlushOutcome::Failed { retry_at: Some(r), permanent: false, .. }
            if r == at + SignedDuration::from_secs(120)
    ));
    // The DMS comes back (a server on a fresh port; the client is re-pointed).
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let report = flush(
        &outbox,
        &client(&server),
        at + SignedDuration::from_secs(120),
    )
    .await;
    assert!(matches!(
        report.entries[0].outcome,
        FlushOutcome::Delivered { .. }
    ));
    let ob = outbox.lock().unwrap();
    let entry = &ob.list().unwrap()[0];
    assert_eq!((entry.state, entry.attempts), (OutboxState::Delivered, 3));
}

#[tokio::test]
async fn several_records_are_flushed_in_id_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let mut ob = DmsOutbox::open(None).unwrap();
    let mut expected = Vec::new();
    for i in 0..4 {
        let raw = format!("X-de-mail-message-id: <{i}@p>\r\nSubject: {i}\r\n\r\nx\r\n");
        let r = EvidenceRecord::new("GA", "p", "m", t0(), raw.as_bytes(), None).unwrap();
        ob.enqueue(&r, t0()).unwrap();
        expected.push(format!("<{i}@p>"));
    }
    let outbox = Mutex::new(ob);
    let report = flush(&outbox, &client(&server), t0()).await;
    let keys: Vec<String> = report.entries.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, expected);
    let sent: Vec<String> = posts(&server)
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("Idempotency-Key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(sent, expected);
}
