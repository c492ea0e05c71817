//! Unit tests of the evidence record, the outbox and the flush against a mock DMS.

use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn raw(id: &str, body: &str) -> Vec<u8> {
    format!(
        "X-de-mail-message-id: {id}\r\nX-de-mail-message-type: normal\r\n\
         Subject: Gewerbeanmeldung\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn record(id: &str) -> EvidenceRecord {
    EvidenceRecord::new(
        "GA-2025-00001",
        "gewerbeanzeige",
        "gewerbeangelegenheiten@dresden.de-mail.de",
        t("2025-03-03T08:00:00Z"),
        &raw(id, "Anmeldung"),
        Some("v=1; a=sha256".into()),
    )
    .unwrap()
}

fn temp_db(name: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir()
        .join(format!("demail-dms-{}-{name}-{n}", std::process::id()))
        .join("outbox.sqlite")
}

#[test]
fn record_hashes_the_raw_message_and_reads_the_id() {
    let r = record("<1@p.de-mail.de>");
    assert_eq!(r.demail_message_id, "<1@p.de-mail.de>");
    assert_eq!(
        r.message_sha256,
        sha256_hex(&raw("<1@p.de-mail.de>", "Anmeldung"))
    );
    assert_eq!(r.raw().unwrap(), raw("<1@p.de-mail.de>", "Anmeldung"));
    assert_eq!(r.received_at, "2025-03-03T08:00:00Z");
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(r.verify(), Ok(()));
}

#[test]
fn record_without_message_id_is_an_error() {
    let e = EvidenceRecord::new(
        "A",
        "p",
        "m",
        t("2025-01-01T00:00:00Z"),
        b"Subject: x\r\n\r\n",
        None,
    );
    assert_eq!(e, Err(RecordError::MissingMessageId));
    let e = EvidenceRecord::new("A", "p", "m", t("2025-01-01T00:00:00Z"), b"", None);
    assert!(matches!(e, Err(RecordError::Headers(_))));
}

#[test]
fn confirmations_are_added_once_and_verified() {
    let mut r = record("<1@p>");
    assert!(r.add_confirmation("confirmation of receipt", "<c1@p>", b"conf 1"));
    assert!(!r.add_confirmation("confirmation of receipt", "<c1@p>", b"other"));
    assert_eq!(r.confirmations.len(), 1);
    assert_eq!(r.confirmations[0].sha256, sha256_hex(b"conf 1"));
    assert_eq!(r.verify(), Ok(()));
    r.confirmations[0].raw_base64 = B64.encode(b"tampered");
    assert!(r.verify().unwrap_err().contains("confirmations[0].sha256"));
    let mut r = record("<1@p>");
    r.raw_base64 = "***".into();
    assert!(r.verify().unwrap_err().contains("not base64"));
}

#[test]
fn backoff_doubles_from_one_minute_and_is_capped_at_one_hour() {
    let secs: Vec<i64> = (0..=9).map(|a| backoff(a).as_secs()).collect();
    assert_eq!(secs, [60, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    assert_eq!(backoff(u32::MAX).as_secs(), 3600);
}

#[test]
fn enqueue_is_idempotent_and_merges_confirmations_while_pending() {
    let mut ob = DmsOutbox::open(None).unwrap();
    let now = t("2025-03-03T08:00:00Z");
    let r = record("<1@p>");
    let id = match ob.enqueue(&r, now).unwrap() {
        EnqueueOutcome::Added { id } => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ob.enqueue(&r, now).unwrap(),
        EnqueueOutcome::Merged {
            id,
            new_confirmations: 0
        }
    );
    let mut with = r.clone();
    with.add_confirmation("confirmation of dispatch", "<c1@p>", b"c1");
    with.add_confirmation("confirmation of receipt", "<c2@p>", b"c2");
    assert_eq!(
        ob.enqueue(&with, now).unwrap(),
        EnqueueOutcome::Merged {
            id,
            new_confirmations: 2
        }
    );
    // Only the new one is appended; order is kept.
    let mut again = r.clone();
    again.add_confirmation("confirmation of receipt", "<c2@p>", b"c2");
    again.add_confirmation("confirmation of retrieve", "<c3@p>", b"c3");
    assert_eq!(
        ob.enqueue(&again, now).unwrap(),
        EnqueueOutcome::Merged {
            id,
            new_confirmations: 1
        }
    );
    let stored = ob.record(id).unwrap().unwrap();
    let ids: Vec<&str> = stored
        .confirmations
        .iter()
        .map(|c| c.demail_message_id.as_str())
        .collect();
    assert_eq!(ids, ["<c1@p>", "<c2@p>", "<c3@p>"]);
    assert_eq!(ob.list().unwrap().len(), 1);
    assert_eq!(
        ob.counts().unwrap(),
        OutboxCounts {
            pending: 1,
            delivered: 0,
            rejected: 0
        }
    );
}

#[test]
fn enqueue_after_delivery_changes_nothing_and_names_the_unsent() {
    let mut ob = DmsOutbox::open(None).unwrap();
    let now = t("2025-03-03T08:00:00Z");
    let r = record("<1@p>");
    let id = ob.enqueue(&r, now).unwrap().id();
    ob.mark_delivered(id, now).unwrap();
    let mut later = r.clone();
    later.add_confirmation("confirmation of retrieve", "<c9@p>", b"c9");
    assert_eq!(
        ob.enqueue(&later, now).unwrap(),
        EnqueueOutcome::Final {
            id,
            state: OutboxState::Delivered,
            unsent_confirmations: vec!["<c9@p>".into()]
        }
    );
    assert!(ob.record(id).unwrap().unwrap().confirmations.is_empty());
}

#[test]
fn same_key_with_another_message_is_a_conflict() {
    let mut ob = DmsOutbox::open(None).unwrap();
    let now = t("2025-03-03T08:00:00Z");
    let id = ob.enqueue(&record("<1@p>"), now).unwrap().id();
    let other = EvidenceRecord::new(
        "GA-2025-00002",
        "gewerbeanzeige",
        "m",
        now,
        &raw("<1@p>", "something else"),
        None,
    )
    .unwrap();
    assert!(matches!(
        ob.enqueue(&other, now).unwrap(),
        EnqueueOutcome::Conflict { id: i, .. } if i == id
    ));
    assert_eq!(ob.record(id).unwrap().unwrap(), record("<1@p>"));
    let mut empty = record("<1@p>");
    empty.demail_message_id.clear();
    assert!(ob.enqueue(&empty, now).is_err());
}

#[test]
fn failures_schedule_retries_in_virtual_time() {
    let mut ob = DmsOutbox::open(None).unwrap();
    let t0 = t("2025-03-03T08:00:00Z");
    let id = ob.enqueue(&record("<1@p>"), t0).unwrap().id();
    assert!(
        ob.due(t0 - jiff::SignedDuration::from_secs(1))
            .unwrap()
            .is_empty()
    );
    assert_eq!(ob.due(t0).unwrap().len(), 1);

    let mut now = t0;
    let mut delays = Vec::new();
    for _ in 0..9 {
        let at = ob.mark_failed(id, now, "HTTP 503", false).unwrap().unwrap();
        delays.push((at - now).as_secs());
        // Not due a second early, due on the dot.
        assert!(
            ob.due(at - jiff::SignedDuration::from_secs(1))
                .unwrap()
                .is_empty()
        );
        assert_eq!(ob.due(at).unwrap()[0].0, id);
        now = at;
    }
    assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    let entry = &ob.list().unwrap()[0];
    assert_eq!(entry.attempts, 9);
    assert_eq!(entry.state, OutboxState::Pending);
    assert_eq!(entry.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(entry.created_at, t0);

    ob.mark_delivered(id, now).unwrap();
    let entry = &ob.list().unwrap()[0];
    assert_eq!((entry.state, entry.attempts), (OutboxState::Delivered, 10));
    assert!(
        ob.due(now + jiff::SignedDuration::from_hours(100))
            .unwrap()
            .is_empty()
    );
    // A late failure report does not undo a delivery.
    assert_eq!(ob.mark_failed(id, now, "late", false).unwrap(), None);
    assert_eq!(ob.list().unwrap()[0].state, OutboxState::Delivered);
    assert!(ob.mark_delivered(999, now).is_err());
    assert!(ob.mark_failed(999, now, "x", true).is_err());
}

#[test]
fn permanent_failure_rejects_keeps_the_reason_and_can_be_requeued() {
    let mut ob = DmsOutbox::open(None).unwrap();
    let t0 = t("2025-03-03T08:00:00Z");
    let id = ob.enqueue(&record("<1@p>"), t0).unwrap().id();
    assert_eq!(
        ob.mark_failed(id, t0, "HTTP 400: bad record", true)
            .unwrap(),
        None
    );
    assert!(
        ob.due(t0 + jiff::SignedDuration::from_hours(24))
            .unwrap()
            .is_empty()
    );
    let e = &ob.list().unwrap()[0];
    assert_eq!(e.state, OutboxState::Rejected);
    assert_eq!(e.last_error.as_deref(), Some("HTTP 400: bad record"));
    assert_eq!(
        ob.counts().unwrap(),
        OutboxCounts {
            pending: 0,
            delivered: 0,
            rejected: 1
        }
    );
    let t1 = t0 + jiff::SignedDuration::from_hours(1);
    assert!(ob.requeue(id, t1).unwrap());
    assert!(!ob.requeue(id, t1).unwrap());
    assert_eq!(ob.due(t1).unwrap().len(), 1);
}

#[test]
fn due_is_in_id_order() {
    let mut ob = DmsOutbox::open(None).unwrap();
    let t0 = t("2025-03-03T08:00:00Z");
    for i in 0..5 {
        ob.enqueue(&record(&format!("<{i}@p>")), t0).unwrap();
    }
    let first = ob.due(t0).unwrap()[0].0;
    ob.mark_failed(first, t0, "x", false).unwrap();
    let keys: Vec<String> = ob
        .due(t0 + jiff::SignedDuration::from_hours(1))
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.demail_message_id)
        .collect();
    assert_eq!(keys, ["<0@p>", "<1@p>", "<2@p>", "<3@p>", "<4@p>"]);
}

#[test]
fn the_outbox_survives_reopening_the_file() {
    let path = temp_db("reopen");
    let t0 = t("2025-03-03T08:00:00Z");
    let (a, b) = {
        let mut ob = DmsOutbox::open(Some(&path)).unwrap();
        let mut r = record("<a@p>");
        r.add_confirmation("confirmation of receipt", "<c@p>", b"c");
        let a = ob.enqueue(&r, t0).unwrap().id();
        let b = ob.enqueue(&record("<b@p>"), t0).unwrap().id();
        ob.mark_failed(a, t0, "HTTP 503", false).unwrap();
        ob.mark_delivered(b, t0).unwrap();
        (a, b)
    };
    let mut ob = DmsOutbox::open(Some(&path)).unwrap();
    let list = ob.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, a);
    assert_eq!(list[0].state, OutboxState::Pending);
    assert_eq!(
        list[0].next_attempt_at,
        t0 + jiff::SignedDuration::from_secs(60)
    );
    assert_eq!(list[1].id, b);
    assert_eq!(list[1].state, OutboxState::Delivered);
    assert_eq!(ob.record(a).unwrap().unwrap().confirmations.len(), 1);
    assert_eq!(
        ob.entry_by_key("<b@p>").unwrap().map(|e| e.state),
        Some(OutboxState::Delivered)
    );
    assert_eq!(
        ob.due(t0 + jiff::SignedDuration::from_secs(60)).unwrap()[0].0,
        a
    );
    drop(ob);
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn an_unreadable_row_is_rejected_not_returned() {
    let mut ob = DmsOutbox::open(None).unwrap();
    let t0 = t("2025-03-03T08:00:00Z");
    let id = ob.enqueue(&record("<1@p>"), t0).unwrap().id();
    ob.conn
        .execute(
            "UPDATE dms_outbox SET body = '{' WHERE id = ?1",
            params![id],
        )
        .unwrap();
    assert!(ob.due(t0).unwrap().is_empty());
    let e = &ob.list().unwrap()[0];
    assert_eq!(e.state, OutboxState::Rejected);
    assert!(e.last_error.as_deref().unwrap().contains("cannot be read"));
}

#[test]
fn statuses_are_classified_by_the_contract() {
    assert_eq!(classify(200, b""), Ok(Stored::Created));
    assert_eq!(classify(201, b"{}"), Ok(Stored::Created));
    assert_eq!(classify(409, b""), Ok(Stored::AlreadyStored));
    for s in [408, 429, 500, 502, 503, 504, 202, 204, 301, 100] {
        assert!(
            matches!(classify(s, b""), Err(DmsError::Temporary { status: Some(x), .. }) if x == s),
            "{s}"
        );
    }
    for s in [400, 401, 403, 404, 413, 415, 422] {
        assert!(classify(s, b"").unwrap_err().is_permanent(), "{s}");
    }
    let e = classify(
        400,
        br#"{"type":"about:blank","title":"Bad record","detail":"aktenzeichen missing"}"#,
    )
    .unwrap_err();
    assert_eq!(
        e,
        DmsError::Permanent {
            status: Some(400),
            problem: "HTTP 400: Bad record: aktenzeichen missing".into()
        }
    );
}

#[test]
fn problem_text_never_panics_and_is_bounded() {
    assert_eq!(problem_text(404, b""), "Not Found");
    assert_eq!(problem_text(499, b""), "no reason given");
    assert_eq!(problem_text(400, b"  plain\n text "), "plain text");
    assert_eq!(problem_text(400, b"\xff\xfe"), "\u{fffd}\u{fffd}");
    assert_eq!(problem_text(400, br#"{"title": 5}"#), r#"{"title": 5}"#);
    let long = "ä".repeat(2000);
    let p = problem_text(400, long.as_bytes());
    assert_eq!(p.chars().count(), PROBLEM_MAX_CHARS + 1);
}

/// The intake calls `flush` from an axum handler or a spawned task: the future must be
/// `Send` (no `MutexGuard` held across an await).
#[test]
fn flush_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let outbox = Mutex::new(DmsOutbox::open(None).unwrap());
    let client = DmsClient::new("http://127.0.0.1:1").unwrap();
    let future = flush(&outbox, &client, Timestamp::UNIX_EPOCH);
    is_send(&future);
}

#[test]
fn client_accepts_only_http_urls() {
    assert!(DmsClient::new("http://127.0.0.1:1/dms/").is_ok());
    assert_eq!(
        DmsClient::new("http://127.0.0.1:1/dms/")
            .unwrap()
            .documents_url(),
        "http://127.0.0.1:1/dms/documents"
    );
    assert!(DmsClient::new("https://dms.example").is_err());
    assert!(DmsClient::new("not a url").is_err());
}
