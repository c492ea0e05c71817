//! Unit tests of the store: durability across reopening, the retry schedule, the migration of
//! an old queue, the POP3 maildrop and the gateway's state.

use super::*;
use crate::AccountKind;
use demail_wire::AuthLevel;

fn account(address: &str) -> AccountConfig {
    AccountConfig {
        address: address.into(),
        holder: "H".into(),
        kind: AccountKind::Person,
        max_auth_level: AuthLevel::High,
        password: "pw".into(),
        api_token: None,
        access_opened: false,
        closes_after_first_submission: false,
    }
}

fn message(id: &str) -> StoredMessage {
    StoredMessage {
        mailbox: "a@x.de-mail.de".into(),
        message_id: id.into(),
        rfc_message_id: Some("<r@x>".into()),
        in_reply_to: None,
        message_type: MessageType::Normal,
        from: "b@x.de-mail.de".into(),
        subject: "Betreff".into(),
        private_id: Some("P".into()),
        stored_at: "2025-03-03T08:00:00Z".parse().unwrap(),
        raw: b"Subject: Betreff\r\n\r\nx".to_vec(),
    }
}

/// What is committed is there after reopening the file: messages, the id counter (never
/// reused), push targets and pending pushes; a second deposit of the same id is a no-op.
#[test]
fn committed_state_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("demail-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("store.sqlite");
    let accounts = [account("a@x.de-mail.de")];
    {
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        s.begin().unwrap();
        assert_eq!(
            s.next_message_id("x.de-mail.de").unwrap(),
            "m000001@x.de-mail.de"
        );
        assert!(s.deposit(&message("m1")).unwrap());
        assert!(
            !s.deposit(&message("m1")).unwrap(),
            "same id twice is a no-op"
        );
        s.set_push_target("a@x.de-mail.de", "127.0.0.1:2525".parse().unwrap())
            .unwrap();
        let q = s
            .enqueue(
                "127.0.0.1:2525".parse().unwrap(),
                "b@x",
                "a@x.de-mail.de",
                "m1",
                b"raw",
            )
            .unwrap();
        s.commit().unwrap();
        // An uncommitted transaction is lost.
        s.begin().unwrap();
        s.deposit(&message("m2")).unwrap();
        drop(s);
        let _ = q;
    }
    let mut s = Store::open(Some(&path), &accounts).unwrap();
    let m = s.mailbox("a@x.de-mail.de").unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0], message("m1"));
    assert_eq!(
        s.next_message_id("x.de-mail.de").unwrap(),
        "m000002@x.de-mail.de"
    );
    assert_eq!(
        s.account("a@x.de-mail.de").unwrap().push_target,
        Some(crate::delivery::PushTarget::starttls_test_ca(
            "127.0.0.1:2525".parse().unwrap()
        ))
    );
    let pending = s.pending_deliveries().unwrap();
    assert_eq!(pending.len(), 1);
    let at = "2025-03-03T08:00:00Z".parse().unwrap();
    s.record_attempt(pending[0].id, &AttemptOutcome::Delivered { at })
        .unwrap();
    assert!(s.pending_deliveries().unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A simulated world's store (`Durability::Scratch`): its journal is in memory and no
/// write-ahead log appears beside the file, a rolled-back transaction leaves nothing, another
/// connection cannot open the file while the store holds it, and after a clean end the file
/// is a plain SQLite database that a crash-safe store opens with everything committed.
#[test]
fn a_scratch_store_keeps_its_journal_in_memory() {
    let dir = std::env::temp_dir().join(format!("demail-store-scratch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("store.sqlite");
    let accounts = [account("a@x.de-mail.de")];
    {
        let mut s = Store::open_with(Some(&path), &accounts, Durability::Scratch).unwrap();
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "memory");
        s.begin().unwrap();
        assert!(s.deposit(&message("m1")).unwrap());
        s.commit().unwrap();
        s.begin().unwrap();
        assert!(s.deposit(&message("m2")).unwrap());
        s.rollback();
        assert_eq!(s.mailbox("a@x.de-mail.de").unwrap().len(), 1);
        assert!(!dir.join("store.sqlite-wal").exists());
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        assert!(
            other
                .query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
                .is_err(),
            "the file is locked while the store holds it"
        );
    }
    let s = Store::open(Some(&path), &accounts).unwrap();
    assert_eq!(s.mailbox("a@x.de-mail.de").unwrap(), vec![message("m1")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The retry schedule is durable: after reopening, jobs waiting for a retry are not
/// pending, come out only when due, ordered by (next_attempt_at, id), keep their attempts
/// and last error, and each undelivered job past its limit is reported once.
#[test]
fn retry_schedule_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("demail-store-retry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("store.sqlite");
    let accounts = [account("a@x.de-mail.de")];
    let t0: Timestamp = "2025-03-03T08:00:00Z".parse().unwrap();
    let at = |mins: i64| t0 + jiff::SignedDuration::from_mins(mins);
    let target: SocketAddr = "127.0.0.1:2525".parse().unwrap();
    let ids = {
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        let mut ids = Vec::new();
        for (n, retry_in) in [("m1", 5), ("m2", 5), ("m3", 2)] {
            let id = s
                .enqueue(target, "b@x", "a@x.de-mail.de", n, b"raw")
                .unwrap();
            assert!(s.mark_queued(id, t0, "provider-mailbox", at(480)).unwrap());
            assert!(
                !s.mark_queued(id, at(1), "provider-mailbox", at(481))
                    .unwrap(),
                "the first queue time stays"
            );
            s.record_attempt(
                id,
                &AttemptOutcome::Retry {
                    reason: "421 4.3.2 try later".into(),
                    next_attempt_at: at(retry_in),
                },
            )
            .unwrap();
            ids.push(id);
        }
        ids
    };
    let mut s = Store::open(Some(&path), &accounts).unwrap();
    assert!(
        s.pending_deliveries().unwrap().is_empty(),
        "none is due now"
    );
    assert_eq!(s.next_wakeup().unwrap(), Some(at(2)));
    assert!(s.take_due(at(1)).unwrap().is_empty());
    let r = s.delivery(ids[0]).unwrap().unwrap();
    assert_eq!(r.state, DeliveryState::Retry);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.last_error.as_deref(), Some("421 4.3.2 try later"));
    assert_eq!(r.queued_at, Some(t0));
    assert_eq!(r.due_at, Some(at(480)));
    assert_eq!(r.rule.as_deref(), Some("provider-mailbox"));
    assert_eq!(r.next_attempt_at, Some(at(5)));
    let due = s.take_due(at(5)).unwrap();
    assert_eq!(
        due.iter().map(|(t, q)| (*t, q.id)).collect::<Vec<_>>(),
        [(at(2), ids[2]), (at(5), ids[0]), (at(5), ids[1])],
        "ordered by (next_attempt_at, id)"
    );
    assert!(s.take_due(at(5)).unwrap().is_empty(), "handed out once");
    assert_eq!(s.pending_deliveries().unwrap().len(), 3);
    // The limit: on time at the limit itself, overdue one second later, reported once.
    assert_eq!(
        s.next_wakeup().unwrap(),
        Some(at(480) + jiff::SignedDuration::from_secs(1))
    );
    assert!(s.take_overdue(at(480)).unwrap().is_empty());
    s.record_attempt(ids[0], &AttemptOutcome::Delivered { at: at(6) })
        .unwrap();
    s.record_attempt(
        ids[1],
        &AttemptOutcome::Failed {
            reason: "550 5.1.1 no such user".into(),
        },
    )
    .unwrap();
    let late = at(480) + jiff::SignedDuration::from_secs(1);
    let overdue = s.take_overdue(late).unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].id, ids[2]);
    assert!(s.take_overdue(late).unwrap().is_empty());
    assert_eq!(s.next_wakeup().unwrap(), None);
    drop(s);
    let s = Store::open(Some(&path), &accounts).unwrap();
    let all = s.deliveries().unwrap();
    assert_eq!(
        all.iter().map(|r| r.state).collect::<Vec<_>>(),
        [
            DeliveryState::Delivered,
            DeliveryState::Failed,
            DeliveryState::Pending
        ]
    );
    assert_eq!(all[0].delivered_at, Some(at(6)));
    assert_eq!(all[0].attempts, 2);
    assert!(all[2].late_reported);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A queue written before the retry columns existed opens: the columns are added and its
/// pending job is still pending.
#[test]
fn old_delivery_queue_gains_the_retry_columns() {
    let dir = std::env::temp_dir().join(format!("demail-store-old-q-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE deliveries (
                id INTEGER PRIMARY KEY, target TEXT NOT NULL, envelope_from TEXT NOT NULL,
                mailbox TEXT NOT NULL, message_id TEXT NOT NULL, raw BLOB NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT);
             INSERT INTO deliveries (target, envelope_from, mailbox, message_id, raw)
             VALUES ('127.0.0.1:2525', 'b@x', 'a@x.de-mail.de', 'm1', x'00');",
        )
        .unwrap();
    }
    let mut s = Store::open(Some(&path), &[account("a@x.de-mail.de")]).unwrap();
    let pending = s.pending_deliveries().unwrap();
    assert_eq!(pending.len(), 1);
    let t0: Timestamp = "2025-03-03T08:00:00Z".parse().unwrap();
    assert!(
        s.mark_queued(pending[0].id, t0, "provider-mailbox", t0)
            .unwrap()
    );
    let r = s.delivery(pending[0].id).unwrap().unwrap();
    assert_eq!(
        (r.state, r.queued_at, r.late_reported),
        (DeliveryState::Pending, Some(t0), false)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The POP3 maildrop: unacknowledged messages outside the Papierkorb in Eingang order,
/// with their header blocks only; `acknowledge_all` acknowledges several at once, keeps a
/// first acknowledgement's time, and skips ids the mailbox does not hold.
#[test]
fn maildrop_and_acknowledging_several() {
    let mut s = Store::open(None, &[account("a@x.de-mail.de")]).unwrap();
    for id in ["m1", "m2", "m3", "m4"] {
        s.deposit(&message(id)).unwrap();
    }
    let mut no_body = message("m5");
    no_body.raw = b"Subject: ohne Leerzeile\r\n".to_vec();
    s.deposit(&no_body).unwrap();
    let t1: Timestamp = "2025-03-03T09:00:00Z".parse().unwrap();
    let t2: Timestamp = "2025-03-03T10:00:00Z".parse().unwrap();
    s.acknowledge("a@x.de-mail.de", "m1", t1).unwrap();
    s.trash("a@x.de-mail.de", "m3", t1).unwrap();
    let drop = s.maildrop("A@x.de-mail.de").unwrap();
    let ids: Vec<_> = drop.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids, ["m2", "m4", "m5"]);
    assert_eq!(drop[0].header, b"Subject: Betreff\r\n\r\n");
    assert_eq!(drop[0].size, message("m2").raw.len() as u64);
    assert_eq!(drop[2].header, no_body.raw);
    let n = s
        .acknowledge_all(
            "a@x.de-mail.de",
            &["m1".into(), "m2".into(), "nope".into()],
            t2,
        )
        .unwrap();
    assert_eq!(n, 1, "m1 was acknowledged before, nope does not exist");
    let all = s.message_summaries("a@x.de-mail.de", 0, 10, true).unwrap();
    assert_eq!(all[0].acknowledged_at, Some(t1), "the first time is kept");
    assert_eq!(all[1].acknowledged_at, Some(t2));
    let ids: Vec<_> = s
        .maildrop("a@x.de-mail.de")
        .unwrap()
        .into_iter()
        .map(|e| e.message_id)
        .collect();
    assert_eq!(ids, ["m4", "m5"]);
}

/// Gateway state: acknowledgements (first time kept, idempotent) and webhook URLs survive
/// reopening; paging by position skips acknowledged messages unless asked; a database
/// written before the gateway tables existed opens and gains them.
#[test]
fn gateway_state_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("demail-store-gw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.sqlite");
    // A database from before the gateway: only the original tables.
    {
        let conn = Connection::open(&path).unwrap();
        let old = SCHEMA.split("-- The gateway API").next().unwrap();
        conn.execute_batch(old).unwrap();
    }
    let mut accounts = vec![account("a@x.de-mail.de")];
    accounts[0].api_token = Some("secret".into());
    let t1: Timestamp = "2025-03-03T09:00:00Z".parse().unwrap();
    let t2: Timestamp = "2025-03-03T10:00:00Z".parse().unwrap();
    {
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        assert!(s.account_by_token("secret").is_some());
        assert!(s.account_by_token("secreT").is_none());
        assert!(s.account_by_token("").is_none());
        s.deposit(&message("m1")).unwrap();
        s.deposit(&message("m2")).unwrap();
        let all = s.message_summaries("a@x.de-mail.de", 0, 10, false).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].size, message("m1").raw.len() as u64);
        let a = s.acknowledge("a@x.de-mail.de", "m1", t1).unwrap().unwrap();
        assert_eq!(a.acknowledged_at, Some(t1));
        let again = s.acknowledge("a@x.de-mail.de", "m1", t2).unwrap().unwrap();
        assert_eq!(again, a, "a second acknowledgement changes nothing");
        assert!(
            s.acknowledge("a@x.de-mail.de", "nope", t1)
                .unwrap()
                .is_none()
        );
        s.set_webhook("a@x.de-mail.de", Some("http://127.0.0.1:9/h"))
            .unwrap();
    }
    let mut s = Store::open(Some(&path), &accounts).unwrap();
    let open = s.message_summaries("a@x.de-mail.de", 0, 10, false).unwrap();
    assert_eq!(
        open.iter()
            .map(|m| m.message_id.as_str())
            .collect::<Vec<_>>(),
        ["m2"]
    );
    let all = s.message_summaries("a@x.de-mail.de", 0, 10, true).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].acknowledged_at, Some(t1));
    let after = s
        .message_summaries("a@x.de-mail.de", all[0].seq, 10, true)
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(
        s.message_raw("a@x.de-mail.de", "m2").unwrap().unwrap(),
        message("m2").raw
    );
    assert_eq!(
        s.webhook("a@x.de-mail.de").unwrap().as_deref(),
        Some("http://127.0.0.1:9/h")
    );
    s.set_webhook("a@x.de-mail.de", None).unwrap();
    assert_eq!(s.webhook("a@x.de-mail.de").unwrap(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A push target's TLS settings survive reopening; an `accounts` table from before the TLS
/// columns gains them, and its push target reads as STARTTLS with the test CA and
/// "localhost", as it was pushed before.
#[test]
fn push_tls_survives_reopening_and_old_accounts_migrate() {
    use crate::delivery::{PushTarget, PushTls};
    let dir = std::env::temp_dir().join(format!("demail-store-push-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE accounts (address TEXT PRIMARY KEY, holder TEXT NOT NULL,
                 kind TEXT NOT NULL, max_level TEXT NOT NULL, push_target TEXT);
             INSERT INTO accounts VALUES ('a@x.de-mail.de', 'H', 'Person', 'high',
                 '127.0.0.1:2525');",
        )
        .unwrap();
    }
    let accounts = [account("a@x.de-mail.de"), account("b@x.de-mail.de")];
    let named = PushTarget {
        addr: "192.0.2.7:25".parse().unwrap(),
        tls: PushTls::StartTls {
            server_name: "intake.example".into(),
            ca_pem: Some("-----BEGIN CERTIFICATE-----\n…".into()),
        },
    };
    {
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        assert_eq!(
            s.account("a@x.de-mail.de").unwrap().push_target,
            Some(PushTarget::starttls_test_ca(
                "127.0.0.1:2525".parse().unwrap()
            ))
        );
        let plain = PushTarget {
            addr: "127.0.0.1:2526".parse().unwrap(),
            tls: PushTls::Plain,
        };
        s.set_push_target_with("a@x.de-mail.de", plain).unwrap();
        s.set_push_target_with("b@x.de-mail.de", named.clone())
            .unwrap();
        assert!(
            s.set_push_target_with("c@x.de-mail.de", named.clone())
                .is_err()
        );
    }
    let s = Store::open(Some(&path), &accounts).unwrap();
    let a = s.account("a@x.de-mail.de").unwrap().push_target.unwrap();
    assert_eq!((a.addr.port(), a.tls), (2526, PushTls::Plain));
    assert_eq!(
        s.account("b@x.de-mail.de").unwrap().push_target,
        Some(named)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `closed_at` answers from the database once any account was closed, also after reopening
/// (the store's "nothing closed" shortcut is read at open and set by `close_account`); a
/// closure rolled back leaves the account open.
#[test]
fn closures_are_seen_in_the_transaction_after_reopening_and_not_after_rollback() {
    let dir = std::env::temp_dir().join(format!("demail-store-closed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("store.sqlite");
    let accounts = [account("a@x.de-mail.de"), account("b@x.de-mail.de")];
    let at: Timestamp = "2025-03-03T08:00:00Z".parse().unwrap();
    {
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        assert_eq!(s.closed_at("a@x.de-mail.de").unwrap(), None);
        s.begin().unwrap();
        s.close_account("b@x.de-mail.de", at).unwrap();
        assert_eq!(s.closed_at("b@x.de-mail.de").unwrap(), Some(at));
        s.rollback();
        assert_eq!(s.closed_at("b@x.de-mail.de").unwrap(), None);
        s.begin().unwrap();
        s.close_account("a@x.de-mail.de", at).unwrap();
        s.commit().unwrap();
        assert_eq!(s.closed_at("a@x.de-mail.de").unwrap(), Some(at));
    }
    let s = Store::open(Some(&path), &accounts).unwrap();
    assert_eq!(s.closed_at("a@x.de-mail.de").unwrap(), Some(at));
    assert_eq!(s.closed_at("b@x.de-mail.de").unwrap(), None);
    let _ = std::fs::remove_dir_all(&dir);
}
