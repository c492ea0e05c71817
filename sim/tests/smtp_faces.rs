//! Transcript tests of the SMTP faces on real loopback sockets: the provider's submission face
//! and the reference intake's listener. Each test names the rule it proves; every refusal must
//! carry an SMTP code and an enhanced status code (RFC 3463) with a reason.

use std::sync::Arc;

use demail_sim::demail::AuthLevel;
use demail_sim::intake::{IntakeConfig, ReferenceIntake};
use demail_sim::provider::AccountKind;
use demail_sim::trace::{EventKind, Trace};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common;

use common::{Client, PASSWORD, World, WorldBuilder};

const CITIZEN: &str = "erika.mustermann@dmda-a.de-mail.de";
const NORMAL_CITIZEN: &str = "max.normal@dmda-a.de-mail.de";
const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
const PSEUDONYM: &str = "pn_kaninchen@dmda-a.de-mail.de";

async fn start_world() -> World {
    start_world_with(&[], &[]).await
}

/// A world with `extra` accounts (persons at level high) besides the usual four, and the
/// provider domains of `trusted_peers` on the relay face's trust list.
async fn start_world_with(extra: &[String], trusted_peers: &[&str]) -> World {
    let mut world = WorldBuilder::new()
        .account(CITIZEN, AccountKind::Person, AuthLevel::High)
        .account(NORMAL_CITIZEN, AccountKind::Person, AuthLevel::Normal)
        .account(INTAKE, AccountKind::Institution, AuthLevel::High)
        .account(PSEUDONYM, AccountKind::Person, AuthLevel::High)
        .trusted_peers(trusted_peers);
    for a in extra {
        world = world.account(a, AccountKind::Person, AuthLevel::High);
    }
    world.start().await
}

fn message(from: &str, extra: &str) -> String {
    format!(
        "From: <{from}>\nTo: <{INTAKE}>\nSubject: Gewerbeanzeige\n{extra}Message-ID: <t1@test>\n\nHallo\n"
    )
}

fn refusals(trace: &Trace) -> Vec<(u16, String, String)> {
    trace
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ProviderRefused {
                code,
                enhanced,
                stage,
                ..
            } => Some((code, enhanced, stage)),
            _ => None,
        })
        .collect()
}

/// AUTH before STARTTLS is refused with 538 5.7.11 (RFC 4954 §4) and traced; the EHLO before
/// TLS offers STARTTLS but no AUTH.
#[tokio::test]
async fn auth_requires_tls() {
    let w = start_world().await;
    let mut c = Client::connect(w.provider.submission_addr()).await;
    let ehlo = c.cmd("EHLO test").await;
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    let r = c.cmd("AUTH PLAIN AGEAYg==").await;
    assert!(r.starts_with("538 5.7.11"), "{r}");
    assert_eq!(
        refusals(&w.trace),
        vec![(538, "5.7.11".into(), "AUTH".into())]
    );
}

/// Wrong password: 535 5.7.8; MAIL without login: 530 5.7.0.
#[tokio::test]
async fn bad_credentials_and_missing_login() {
    let w = start_world().await;
    let c = Client::connect(w.provider.submission_addr()).await;
    let mut c = c.starttls(&w.pki).await;
    c.cmd("EHLO test").await;
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{CITIZEN}\0wrong"));
    let r = c.cmd(&format!("AUTH PLAIN {token}")).await;
    assert!(r.starts_with("535 5.7.8"), "{r}");
    let r = c.cmd(&format!("MAIL FROM:<{CITIZEN}>")).await;
    assert!(r.starts_with("530 5.7.0"), "{r}");
}

/// Envelope sender other than the logged-in account: 550 5.7.1; unknown recipient: 550 5.1.1.
#[tokio::test]
async fn sender_must_be_the_account_and_recipient_must_exist() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let r = c.cmd("MAIL FROM:<someone.else@dmda-a.de-mail.de>").await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    let r = c.cmd(&format!("MAIL FROM:<{CITIZEN}>")).await;
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd("RCPT TO:<nobody@dmda-a.de-mail.de>").await;
    assert!(r.starts_with("550 5.1.1"), "{r}");
    assert!(r.contains("nobody@dmda-a.de-mail.de"), "{r}");
}

/// A message without Subject (PVD-IO Tabelle 1 Nr. 8) gets 554 5.6.0 naming the header, and
/// nothing is stored.
#[tokio::test]
async fn missing_subject_is_refused() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let msg = format!("From: <{CITIZEN}>\nTo: <{INTAKE}>\nMessage-ID: <t2@test>\n\nHallo\n");
    let r = c.send(CITIZEN, INTAKE, &msg).await;
    assert!(r.starts_with("554 5.6.0"), "{r}");
    assert!(r.contains("Subject"), "{r}");
    assert!(w.provider.mailbox(INTAKE).unwrap().is_empty());
}

/// Option values are case-sensitive "yes"/"no" (PVD-IO §3.1.2): "Yes" is refused with
/// 554 5.6.0 naming the header and the value.
#[tokio::test]
async fn option_value_must_be_lower_case_yes_or_no() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let r = c
        .send(
            CITIZEN,
            INTAKE,
            &message(CITIZEN, "X-de-mail-authoritative: Yes\n"),
        )
        .await;
    assert!(r.starts_with("554 5.6.0"), "{r}");
    assert!(
        r.contains("x-de-mail-authoritative") && r.contains("\"Yes\""),
        "{r}"
    );
}

/// Absenderbestätigt needs the sender at level high (PVD-FU §3.3): a normal-level account
/// gets 550 5.7.1.
#[tokio::test]
async fn authoritative_needs_level_high() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, NORMAL_CITIZEN).await;
    let r = c
        .send(
            NORMAL_CITIZEN,
            INTAKE,
            &message(NORMAL_CITIZEN, "X-de-mail-authoritative: yes\n"),
        )
        .await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    assert!(r.contains("level high"), "{r}");
}

/// An accepted message is stamped with the provider's metadata (PVD-IO Tabelle 1), the
/// client's own copies of provider fields are dropped (the provider's come first), an
/// unknown X-de-mail header is kept, and the Eingangsbestätigung lands in the sender's
/// mailbox with the private-id copied.
#[tokio::test]
async fn accepted_message_is_stamped_and_confirmed() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let extra = "X-de-mail-confirmation-of-receipt: yes\nX-de-mail-private-id: P-1\n\
                 X-de-mail-sender: forged@dmda-a.de-mail.de\nX-de-mail-privat-id: typo\n";
    let r = c.send(CITIZEN, INTAKE, &message(CITIZEN, extra)).await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let stored = w.provider.mailbox(INTAKE).unwrap();
    assert_eq!(stored.len(), 2, "message and the Eingangsbestätigung copy");
    let raw = demail_sim::demail::headers::RawMessage::parse(&stored[0].raw).unwrap();
    assert_eq!(raw.first("x-de-mail-sender").unwrap(), CITIZEN);
    assert_eq!(raw.count("x-de-mail-sender"), 1);
    assert_eq!(raw.first("x-de-mail-auth-level").unwrap(), "high");
    assert_eq!(raw.first("x-de-mail-message-type").unwrap(), "normal");
    assert_eq!(raw.first("x-de-mail-authoritative").unwrap(), "no");
    assert_eq!(raw.first("x-de-mail-private-id").unwrap(), "P-1");
    assert_eq!(raw.first("date").unwrap(), "Mon, 3 Mar 2025 09:00:00 +0100");
    assert_eq!(raw.first("envelope-to").unwrap(), INTAKE);
    assert_eq!(raw.first("x-de-mail-privat-id").unwrap(), "typo");
    let sender_box = w.provider.mailbox(CITIZEN).unwrap();
    assert_eq!(sender_box.len(), 1);
    assert_eq!(sender_box[0].from, "Eingangsbestaetigung@dmda-a.de-mail.de");
    assert_eq!(sender_box[0].private_id.as_deref(), Some("P-1"));
    assert!(sender_box[0].subject.starts_with("*Eingangsbestätigung* "));
}

/// An oversized line inside DATA is refused with 552 5.3.4 and the session stays usable.
#[tokio::test]
async fn oversized_line_is_refused_and_session_continues() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let long = "x".repeat(70 * 1024);
    let r = c
        .send(
            CITIZEN,
            INTAKE,
            &message(CITIZEN, &format!("X-Long: {long}\n")),
        )
        .await;
    assert!(r.starts_with("552 5.3.4"), "{r}");
    let r = c.cmd("NOOP").await;
    assert!(r.starts_with("250"), "{r}");
}

/// Garbage commands get 500 5.5.1 and never end the session.
#[tokio::test]
async fn unknown_command_is_answered() {
    let w = start_world().await;
    let mut c = Client::connect(w.provider.submission_addr()).await;
    let r = c.cmd("HELLO?\u{7f}").await;
    assert!(
        r.starts_with("500 5.5.1") || r.starts_with("501 5.5.4"),
        "{r}"
    );
    let r = c.cmd("NOOP").await;
    assert!(r.starts_with("250"), "{r}");
}

/// Found by `sim/tests/fuzz_sessions.rs`: a reply line that echoes what the client sent
/// carries no control character but its CRLF (RFC 5321 §4.2). `EHLO a<NUL>b` was answered
/// `250-… greets a<NUL>b`; the odd name is still greeted, with `?` for each control
/// character, and the session goes on.
#[tokio::test]
async fn ehlo_reply_echoes_no_control_characters() {
    let w = start_world().await;
    let mut c = Client::connect(w.provider.submission_addr()).await;
    for (line, greeted) in [
        (
            &b"EHLO a\0b\r\n"[..],
            "250-smtp.dmda-a.de-mail.de greets a?b\r\n",
        ),
        (
            b"HELO \x1b[2J\x01\r\n",
            "250-smtp.dmda-a.de-mail.de greets ?[2J?\r\n",
        ),
    ] {
        let r = c.raw(line).await;
        assert!(r.starts_with(greeted), "{r:?}");
        assert!(
            r.split_inclusive("\r\n").all(|l| l.ends_with("\r\n")
                && !l[..l.len() - 2].chars().any(|ch| ch.is_control())),
            "{r:?}"
        );
    }
    let r = c.cmd("NOOP").await;
    assert!(r.starts_with("250"), "{r}");
}

/// The reference intake refuses a message that lacks the provider's De-Mail metadata with
/// 554 5.6.0 and lists what is missing (it accepts De-Mail only).
#[tokio::test]
async fn intake_refuses_plain_mail() {
    let w = start_world().await;
    let intake = start_intake(&w).await;
    let mut c = Client::connect(intake.smtp_addr()).await;
    c.cmd("EHLO test").await;
    let mut c = c.starttls(&w.pki).await;
    c.cmd("EHLO test").await;
    let r = c
        .send(
            "someone@example.org",
            INTAKE,
            "From: <someone@example.org>\nSubject: hi\n\nplain mail\n",
        )
        .await;
    assert!(r.starts_with("554"), "{r}");
    assert!(r.contains("5.6.0") && r.contains("x-de-mail-sender"), "{r}");
    // A mailbox the configuration does not have is refused at RCPT.
    let mut c = Client::connect(intake.smtp_addr()).await;
    c.cmd("EHLO test").await;
    let mut c = c.starttls(&w.pki).await;
    c.cmd("EHLO test").await;
    let r = c.cmd("MAIL FROM:<someone@example.org>").await;
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd("RCPT TO:<wohngeld@dresden.de-mail.de>").await;
    assert!(r.starts_with("550") && r.contains("5.1.1"), "{r}");
    // The refusal is reported as an intake event for the trace; a bad query is a problem.
    let events = http_get(&intake.base_url(), "/testbed/events?after=0").await;
    assert!(events.starts_with("HTTP/1.1 200"), "{events}");
    assert!(events.contains(r#""kind":"intake.refused""#), "{events}");
    assert!(events.contains(r#""code":554"#), "{events}");
    let later = http_get(&intake.base_url(), "/testbed/events?after=1").await;
    assert!(later.contains(r#""events":[]"#), "{later}");
    let bad = http_get(&intake.base_url(), "/testbed/events?after=x").await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("application/problem+json"), "{bad}");
    // A bad clock request is a JSON problem, not a crash.
    let bad = reqwest_like_post(&intake.base_url(), r#"{"now":"yesterday"}"#).await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("application/problem+json"), "{bad}");
}

/// A minimal HTTP/1.1 GET; returns the raw response.
async fn http_get(base: &str, path: &str) -> String {
    use tokio::io::AsyncReadExt;
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// A minimal HTTP/1.1 POST to `/testbed/clock`; returns the raw response.
async fn reqwest_like_post(base: &str, body: &str) -> String {
    use tokio::io::AsyncReadExt;
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /testbed/clock HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// At level normal an account may send at most 100 messages a day (PVD-FU §3.1.1.1): the 101st
/// is refused with 550 5.7.1 naming the limit, and nothing of it is stored.
#[tokio::test]
async fn daily_limit_at_level_normal() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, NORMAL_CITIZEN).await;
    for i in 0..100 {
        let r = c
            .send(
                NORMAL_CITIZEN,
                CITIZEN,
                &message(NORMAL_CITIZEN, &format!("X-N: {i}\n")),
            )
            .await;
        assert!(r.starts_with("250"), "message {i}: {r}");
    }
    let r = c
        .send(
            NORMAL_CITIZEN,
            CITIZEN,
            &message(NORMAL_CITIZEN, "X-N: 100\n"),
        )
        .await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    assert!(r.contains("PVD-FU §3.1.1.1"), "{r}");
    assert_eq!(w.provider.mailbox(CITIZEN).unwrap().len(), 100);
}

/// Absenderbestätigt is refused for a pseudonymous address even at level high (PVD-FU §3.3).
#[tokio::test]
async fn authoritative_refused_for_pseudonyms() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, PSEUDONYM).await;
    let r = c
        .send(
            PSEUDONYM,
            INTAKE,
            &message(PSEUDONYM, "X-de-mail-authoritative: yes\n"),
        )
        .await;
    assert!(r.starts_with("550 5.7.1") && r.contains("pseudonym"), "{r}");
    let r = c.send(PSEUDONYM, INTAKE, &message(PSEUDONYM, "")).await;
    assert!(
        r.starts_with("250"),
        "without the option the pseudonym may send: {r}"
    );
}

/// Deletion (PVD-FU §3.1.3.9, Funktion 13): a message with an Eingangsbestätigung cannot be
/// moved to the Papierkorb at level normal before 90 days after its Eingang, can at level high,
/// and can at level normal after 90 days; a "persönlich" message only at level high; purging
/// needs the Papierkorb first.
#[tokio::test]
async fn deletion_locks() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let r = c
        .send(
            CITIZEN,
            INTAKE,
            &message(CITIZEN, "X-de-mail-confirmation-of-receipt: yes\n"),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
    let r = c
        .send(
            CITIZEN,
            INTAKE,
            &message(CITIZEN, "X-de-mail-private: yes\n"),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
    let inbox = w.provider.mailbox(INTAKE).unwrap();
    let confirmed = inbox[0].message_id.clone();
    let private = inbox
        .iter()
        .rev()
        .find(|m| m.message_type == demail_sim::demail::MessageType::Normal)
        .unwrap()
        .message_id
        .clone();
    let e = w
        .provider
        .delete(INTAKE, &confirmed, AuthLevel::Normal)
        .unwrap_err()
        .to_string();
    assert!(e.contains("90 days") && e.contains("5.7.1"), "{e}");
    let e = w
        .provider
        .delete(INTAKE, &private, AuthLevel::Normal)
        .unwrap_err()
        .to_string();
    assert!(e.contains("only at level high"), "{e}");
    w.provider
        .delete(INTAKE, &private, AuthLevel::High)
        .unwrap();
    let e = w
        .provider
        .purge(INTAKE, &confirmed)
        .unwrap_err()
        .to_string();
    assert!(e.contains("Papierkorb"), "{e}");
    w.clock
        .advance_to(w.clock.timestamp() + jiff::SignedDuration::from_hours(91 * 24));
    w.provider
        .delete(INTAKE, &confirmed, AuthLevel::Normal)
        .unwrap();
    w.provider.purge(INTAKE, &confirmed).unwrap();
    assert!(
        w.provider
            .mailbox(INTAKE)
            .unwrap()
            .iter()
            .all(|m| m.message_id != confirmed)
    );
}

// ---------------------------------------------------------------------------------------------
// Regression tests of the attack campaign against `serve` (issue #12). Each names its item.

/// #12 item 1, sender forgery: a second From (the first naming the Gewerbeamt) is refused with
/// 550 5.7.1 naming the field, as are a From with two mailboxes, a second Sender or Reply-To,
/// and a Sender that is not the logged-in account (RFC 5322 §3.6). Nothing is sealed or stored.
#[tokio::test]
async fn repeated_or_multiple_origin_fields_are_refused() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let rest = format!("To: <{INTAKE}>\nSubject: Gewerbeanzeige\n\nHallo\n");
    let cases = [
        (
            format!("From: <{INTAKE}>\nFrom: <{CITIZEN}>\n{rest}"),
            "From occurs 2 times",
        ),
        (
            format!("From: <{CITIZEN}>, <{INTAKE}>\n{rest}"),
            "From names 2 mailboxes",
        ),
        (
            format!("From: <{CITIZEN}>\nSender: <{CITIZEN}>\nSender: <{INTAKE}>\n{rest}"),
            "Sender occurs 2 times",
        ),
        (
            format!("From: <{CITIZEN}>\nReply-To: <{CITIZEN}>\nReply-To: <{INTAKE}>\n{rest}"),
            "Reply-To occurs 2 times",
        ),
        (
            format!("From: <{CITIZEN}>\nSender: <{INTAKE}>\n{rest}"),
            "Sender field",
        ),
    ];
    for (msg, expected) in cases {
        let r = c.send(CITIZEN, INTAKE, &msg).await;
        assert!(
            r.starts_with("550 5.7.1") && r.contains(expected),
            "{msg:?} → {r}"
        );
    }
    assert!(w.provider.mailbox(INTAKE).unwrap().is_empty());
    assert!(w.provider.mailbox(CITIZEN).unwrap().is_empty());
}

/// The De-Mail fields the sender writes (PVD-IO Tabelle 1 Nr. 1–5, the options, and Nr. 9,
/// X-de-mail-private-id) carry one value each: a repeated one is refused with 550 5.7.1 naming
/// it, as a repeated Subject is, and nothing is stored. Found by the bad-input campaign on the
/// trusted listener: two X-de-mail-private-id were accepted and kept, the seal covering one of
/// them and the confirmations copying the other; two options with "yes" and "no" were
/// accepted and one of them silently chosen.
#[tokio::test]
async fn repeated_demail_fields_of_the_sender_are_refused() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let cases = [
        (
            "X-de-mail-private-id: A-1\nX-de-mail-private-id: B-2\n",
            "x-de-mail-private-id",
        ),
        (
            "X-de-mail-private: yes\nX-de-mail-private: no\n",
            "x-de-mail-private",
        ),
        (
            "X-de-mail-confirmation-of-receipt: no\nX-de-mail-confirmation-of-receipt: yes\n",
            "x-de-mail-confirmation-of-receipt",
        ),
        (
            "X-de-mail-authoritative: no\nx-de-mail-authoritative: no\n",
            "x-de-mail-authoritative",
        ),
    ];
    for (fields, name) in cases {
        let r = c.send(CITIZEN, INTAKE, &message(CITIZEN, fields)).await;
        assert!(
            r.starts_with("550 5.7.1")
                && r.to_ascii_lowercase()
                    .contains(&format!("{name} occurs 2 times")),
            "{fields:?} → {r}"
        );
    }
    assert!(w.provider.mailbox(INTAKE).unwrap().is_empty());
    // One of each is accepted.
    let r = c
        .send(
            CITIZEN,
            INTAKE,
            &message(
                CITIZEN,
                "X-de-mail-private-id: A-1\nX-de-mail-private: yes\n",
            ),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
}

/// #12 item 2: a client's copy of every field that only the provider writes (derived from the
/// one table of PVD-IO Tabelle 1) is removed, among them X-de-mail-notification-type and
/// X-de-mail-signature; the message is accepted and carries only the provider's values.
#[tokio::test]
async fn client_copies_of_provider_fields_are_removed() {
    use demail_sim::demail::table1;
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let forged: String = table1::provider_only()
        .map(|name| format!("{name}: forged\n"))
        .collect();
    assert!(forged.contains("x-de-mail-notification-type: forged"));
    assert!(forged.contains("x-de-mail-signature: forged"));
    let r = c.send(CITIZEN, INTAKE, &message(CITIZEN, &forged)).await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let stored = w.provider.mailbox(INTAKE).unwrap();
    let raw = demail_sim::demail::headers::RawMessage::parse(&stored[0].raw).unwrap();
    for f in &raw.fields {
        assert!(
            !f.value().contains("forged"),
            "{} kept the client's value",
            f.name
        );
    }
    assert_eq!(raw.count("x-de-mail-notification-type"), 0);
    assert_eq!(raw.count("x-de-mail-signature"), 0);
    assert_eq!(raw.count("x-de-mail-sender"), 1);
}

/// The three smuggling patterns of #12 item 3: a bare LF before or after the dot.
const SMUGGLE_PATTERNS: [&str; 3] = ["\n.\r\n", "\r\n.\n", "\n.\n"];

/// DATA whose body hides a second transaction behind `pattern`.
fn smuggling_data(pattern: &str, from: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: <{INTAKE}>\r\nSubject: first\r\n\r\nhello{pattern}\
         MAIL FROM:<{from}>\r\nRCPT TO:<{INTAKE}>\r\nDATA\r\n\
         From: <{from}>\r\nTo: <{INTAKE}>\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"
    )
}

/// Sends one smuggling attempt on a session that has MAIL and RCPT to do; the provider must
/// answer exactly once, 554 5.6.0, and stay in step (NOOP → 250).
async fn smuggle(c: &mut Client, pattern: &str, from: &str) {
    let r = c.cmd(&format!("MAIL FROM:<{from}>")).await;
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd(&format!("RCPT TO:<{INTAKE}>")).await;
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd("DATA").await;
    assert!(r.starts_with("354"), "{r}");
    let r = c.raw(smuggling_data(pattern, from).as_bytes()).await;
    assert!(
        r.starts_with("554 5.6.0") && r.contains("Bare LF"),
        "{pattern:?} → {r}"
    );
    let r = c.cmd("NOOP").await;
    assert!(r.starts_with("250 "), "{pattern:?}: out of step: {r}");
}

/// #12 item 3, SMTP smuggling on the submission face and the trusted listener: DATA ends only
/// at CRLF.CRLF; a bare LF is never a line end, the message is refused with 554 5.6.0 and no
/// second message is made of its body (RFC 5321 §2.3.8).
#[tokio::test]
async fn smuggled_end_of_data_is_not_a_line_end() {
    let mut w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    for pattern in SMUGGLE_PATTERNS {
        smuggle(&mut c, pattern, CITIZEN).await;
    }
    let trusted = w
        .provider
        .open_trusted_submission("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = Client::connect(trusted).await;
    c.cmd("EHLO test").await;
    for pattern in SMUGGLE_PATTERNS {
        smuggle(&mut c, pattern, CITIZEN).await;
    }
    assert!(w.provider.mailbox(INTAKE).unwrap().is_empty());
}

/// #12 item 3 on the relay face (provider to provider, mutual TLS): the same DATA rules as
/// on submission; a trusted peer's smuggling attempt is one refused message.
#[tokio::test]
async fn relay_face_does_not_split_on_bare_line_ends() {
    let w = start_world_with(&[], &["dmda-b.de-mail.de"]).await;
    let mut c = Client::relay(&w, "dmda-b.de-mail.de").await;
    c.cmd("EHLO dmda-b.de-mail.de").await;
    for pattern in SMUGGLE_PATTERNS {
        smuggle(&mut c, pattern, "max.muster@dmda-b.de-mail.de").await;
    }
    assert!(w.provider.mailbox(INTAKE).unwrap().is_empty());
    // No account login on the relay face: the peer is authenticated by its certificate.
    let r = c.cmd("AUTH PLAIN AGVyaWthAGVyaWth").await;
    assert!(
        r.starts_with("503 5.5.1") && r.contains("relay face"),
        "{r}"
    );
    let r = c.cmd("AUTH LOGIN").await;
    assert!(r.starts_with("503 5.5.1"), "{r}");
}

/// Starts the reference intake against the test world's provider.
async fn start_intake(w: &World) -> ReferenceIntake {
    start_intake_archived(w, None).await
}

/// Starts the reference intake with a closed-case archive (`None`: everything in memory).
async fn start_intake_archived(w: &World, archive: Option<std::path::PathBuf>) -> ReferenceIntake {
    let dir = std::env::temp_dir().join(format!(
        "demail-intake-test-{}-{}",
        std::process::id(),
        w.provider.submission_addr().port()
    ));
    let intake = ReferenceIntake::start(IntakeConfig {
        file: demail_sim::intake::config::IntakeFile::default_dresden().unwrap(),
        passwords: [(INTAKE.to_string(), PASSWORD.to_string())].into(),
        provider_submission: w.provider.submission_addr(),
        provider_http: None,
        ca_pem: w.pki.ca_pem().into(),
        ca_der: w.pki.ca_der().to_vec(),
        identity: w
            .pki
            .issue("intake.localhost", &["localhost", "127.0.0.1"])
            .unwrap(),
        tls_dir: dir,
        reply_options: Vec::new(),
        dms_url: None,
        dms_outbox: None,
        pull_tokens: None,
        provider_pop3: None,
        outages: Vec::new(),
        smtp_listen: None,
        http_listen: None,
        flaws: Default::default(),
        archive,
    })
    .await
    .unwrap();
    let http =
        reqwest_like_post(&intake.base_url(), r#"{"now":"2025-03-03T09:00:00+01:00"}"#).await;
    assert!(http.starts_with("HTTP/1.1 200"), "{http}");
    intake
}

/// #12 item 3 at the reference intake's listener (mailin-embedded ends DATA at any ".\r\n"
/// line, also one after a bare LF): a message with a bare LF or bare CR is refused with
/// 554 5.6.0 and the session is closed, so a smuggled second transaction is never read as
/// commands.
#[tokio::test]
async fn intake_listener_closes_on_bare_line_ends() {
    let w = start_world().await;
    let intake = start_intake(&w).await;
    for pattern in SMUGGLE_PATTERNS {
        let mut c = Client::connect(intake.smtp_addr()).await;
        c.cmd("EHLO test").await;
        let mut c = c.starttls(&w.pki).await;
        c.cmd("EHLO test").await;
        let r = c.cmd(&format!("MAIL FROM:<{CITIZEN}>")).await;
        assert!(r.starts_with("250"), "{r}");
        let r = c.cmd(&format!("RCPT TO:<{INTAKE}>")).await;
        assert!(r.starts_with("250"), "{r}");
        let r = c.cmd("DATA").await;
        assert!(r.starts_with("354"), "{r}");
        let r = c.raw(smuggling_data(pattern, CITIZEN).as_bytes()).await;
        assert!(
            r.starts_with("554 5.6.0") && r.contains("bare LF"),
            "{pattern:?} → {r}"
        );
        assert!(c.closed().await, "{pattern:?}: the session must be closed");
    }
}

/// A plain e-mail at the intake's listener is refused 554 5.6.0 naming the missing De-Mail
/// fields, and the session is closed after the reply: mailin 0.6.5 would otherwise stay in
/// DATA and read the client's QUIT as message text, so the client would wait for an answer
/// forever (found by certification case DM-FORM-004).
#[tokio::test]
async fn intake_listener_refuses_plain_mail_and_closes() {
    let w = start_world().await;
    let intake = start_intake(&w).await;
    let mut c = Client::connect(intake.smtp_addr()).await;
    c.cmd("EHLO mail.example.net").await;
    let mut c = c.starttls(&w.pki).await;
    c.cmd("EHLO mail.example.net").await;
    assert!(
        c.cmd(&format!("MAIL FROM:<{CITIZEN}>"))
            .await
            .starts_with("250")
    );
    assert!(
        c.cmd(&format!("RCPT TO:<{INTAKE}>"))
            .await
            .starts_with("250")
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    let plain = format!(
        "From: <{CITIZEN}>\r\nTo: <{INTAKE}>\r\nSubject: Gewerbeanmeldung\r\n\r\nHallo.\r\n.\r\n"
    );
    let r = c.raw(plain.as_bytes()).await;
    assert!(
        r.starts_with("554 5.6.0") && r.contains("not a De-Mail") && r.contains("x-de-mail-sender"),
        "{r}"
    );
    assert!(
        c.closed().await,
        "the session must be closed after the refusal"
    );
}

/// #12 item 4: wrong passwords are answered 535 5.7.8 twice; the third failure in a session is
/// answered 421 4.7.0 and the connection is closed. (The per-address slow-down is tested on
/// `AuthThrottle` itself, without waiting.)
#[tokio::test]
async fn failed_logins_end_the_session() {
    let w = start_world().await;
    let c = Client::connect(w.provider.submission_addr()).await;
    let mut c = c.starttls(&w.pki).await;
    c.cmd("EHLO test").await;
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{CITIZEN}\0wrong"));
    for _ in 0..2 {
        let r = c.cmd(&format!("AUTH PLAIN {token}")).await;
        assert!(r.starts_with("535 5.7.8"), "{r}");
    }
    let r = c.cmd(&format!("AUTH PLAIN {token}")).await;
    assert!(r.starts_with("421 4.7.0"), "{r}");
    assert!(c.closed().await);
}

/// #12 item 5: every SIZE above the limit is 552 5.3.4, also numbers too long for 64 bits
/// (RFC 1870); a small SIZE is accepted.
#[tokio::test]
async fn size_parameter_over_the_limit_is_refused() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    for size in [
        "99999999999999999999999",
        "18446744073709551616",
        "20971521",
    ] {
        let r = c.cmd(&format!("MAIL FROM:<{CITIZEN}> SIZE={size}")).await;
        assert!(r.starts_with("552 5.3.4"), "SIZE={size} → {r}");
    }
    let r = c.cmd(&format!("MAIL FROM:<{CITIZEN}> SIZE=1000")).await;
    assert!(r.starts_with("250"), "{r}");
}

/// #12 item 6: a NUL byte or an undeclared 8-bit byte in the header block is refused with
/// 554 5.6.0 (nothing stored); 8-bit text in the body (8BITMIME) is stored byte for byte.
#[tokio::test]
async fn nul_and_8bit_header_bytes_are_refused() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let head = format!("From: <{CITIZEN}>\r\nTo: <{INTAKE}>\r\n");
    let cases: [(Vec<u8>, &str); 2] = [
        (
            [head.as_bytes(), b"Subject: a\0b\r\n\r\nx\r\n.\r\n"].concat(),
            "NUL byte in line 3",
        ),
        (
            [
                head.as_bytes(),
                b"Subject: Gr\xc3\xbc\xc3\x9fe\r\n\r\nx\r\n.\r\n",
            ]
            .concat(),
            "8-bit byte 0xC3 in header line 3",
        ),
    ];
    for (data, expected) in cases {
        c.cmd(&format!("MAIL FROM:<{CITIZEN}>")).await;
        c.cmd(&format!("RCPT TO:<{INTAKE}>")).await;
        let r = c.cmd("DATA").await;
        assert!(r.starts_with("354"), "{r}");
        let r = c.raw(&data).await;
        assert!(r.starts_with("554 5.6.0") && r.contains(expected), "{r}");
    }
    assert!(w.provider.mailbox(INTAKE).unwrap().is_empty());
    c.cmd(&format!("MAIL FROM:<{CITIZEN}>")).await;
    c.cmd(&format!("RCPT TO:<{INTAKE}>")).await;
    c.cmd("DATA").await;
    let body = b"Gr\xc3\xbc\xc3\x9fe aus Dresden\r\n";
    let r = c
        .raw(&[head.as_bytes(), b"Subject: ok\r\n\r\n", body, b".\r\n"].concat())
        .await;
    assert!(r.starts_with("250"), "{r}");
    let stored = &w.provider.mailbox(INTAKE).unwrap()[0].raw;
    assert!(stored.ends_with(body), "body rewritten");
}

/// #12 item 7: `STARTTLS now` is 501 5.5.4 (RFC 3207 §4: no parameters); plain STARTTLS
/// still works afterwards.
#[tokio::test]
async fn starttls_with_a_parameter_is_refused() {
    let w = start_world().await;
    let mut c = Client::connect(w.provider.submission_addr()).await;
    c.cmd("EHLO test").await;
    let r = c.cmd("STARTTLS now").await;
    assert!(r.starts_with("501 5.5.4"), "{r}");
    let r = c.cmd("DATA x").await;
    assert!(r.starts_with("501 5.5.4"), "{r}");
    let mut c = c.starttls(&w.pki).await;
    let r = c.cmd("EHLO test").await;
    assert!(r.contains("AUTH PLAIN"), "{r}");
}

/// #12 item 8: at most 100 recipients per message (RFC 5321 §4.5.3.1.8); the 101st distinct
/// recipient is 452 4.5.3, a repeated one is still 250, and the message goes to the first 100.
#[tokio::test]
async fn recipients_per_message_are_limited() {
    let extra: Vec<String> = (0..101)
        .map(|i| format!("person{i}.test@dmda-a.de-mail.de"))
        .collect();
    let w = start_world_with(&extra, &[]).await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let r = c.cmd(&format!("MAIL FROM:<{CITIZEN}>")).await;
    assert!(r.starts_with("250"), "{r}");
    for a in &extra[..100] {
        let r = c.cmd(&format!("RCPT TO:<{a}>")).await;
        assert!(r.starts_with("250"), "{a}: {r}");
    }
    let r = c.cmd(&format!("RCPT TO:<{}>", extra[100])).await;
    assert!(r.starts_with("452 4.5.3"), "{r}");
    let r = c.cmd(&format!("RCPT TO:<{}>", extra[0])).await;
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd("DATA").await;
    assert!(r.starts_with("354"), "{r}");
    let r = c
        .cmd(&format!(
            "From: <{CITIZEN}>\r\nTo: <{}>\r\nSubject: many\r\n\r\nx\r\n.",
            extra[0]
        ))
        .await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(w.provider.mailbox(&extra[99]).unwrap().len(), 1);
    assert!(w.provider.mailbox(&extra[100]).unwrap().is_empty());
}

/// #12 item 12: every reader takes the first Subject. A submission with two Subject fields is
/// refused (RFC 5322 §3.6), so the gateway, the intake and the De-Mail rule cannot disagree;
/// `inspect`, which reads messages from anywhere, shows the first.
#[tokio::test]
async fn readers_agree_on_the_first_subject() {
    let w = start_world().await;
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let msg = format!(
        "From: <{CITIZEN}>\nTo: <{INTAKE}>\nSubject: Gewerbeanzeige\nSubject: Widerruf\n\nx\n"
    );
    let r = c.send(CITIZEN, INTAKE, &msg).await;
    assert!(
        r.starts_with("550 5.7.1") && r.contains("Subject occurs 2 times"),
        "{r}"
    );
    let bytes = msg.replace('\n', "\r\n").into_bytes();
    let raw = demail_sim::demail::headers::RawMessage::parse(&bytes).unwrap();
    assert_eq!(raw.subject().as_deref(), Some("Gewerbeanzeige"));
    let report = demail_sim::demail::inspect::inspect(&raw, &bytes, None);
    assert_eq!(report.subject.as_deref(), Some("Gewerbeanzeige"));
}

/// Planned faults at connect and EHLO (docs/faults.md): the first connection gets the
/// planned 421 instead of the greeting and is closed, the next one is greeted; the first EHLO
/// gets the planned reply, the second the provider's. Both hits are `fault.injected`.
#[tokio::test]
async fn planned_faults_at_connect_and_ehlo() {
    use demail_sim::provider::fault::{Action, Face, FaultPlan, PlannedFault, Point, Select};
    let w = start_world().await;
    let fault = |id: &str, point: Point, code: u16, enhanced: &str| PlannedFault {
        id: id.into(),
        face: Face::Submission,
        point: Some(point),
        action: Action::Reply {
            code,
            enhanced: enhanced.into(),
            text: "Testfehler".into(),
        },
        mailbox: None,
        select: Select::Nth(1),
        limit: None,
    };
    w.provider.set_fault_plan(Arc::new(FaultPlan::new(
        vec![
            fault("gruss", Point::Connect, 421, "4.3.2"),
            fault("hallo", Point::Ehlo, 550, "5.7.1"),
        ],
        1,
    )));
    let s = TcpStream::connect(w.provider.submission_addr())
        .await
        .unwrap();
    let mut io = BufReader::new(s);
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut io, &mut line)
        .await
        .unwrap();
    assert!(line.starts_with("421 4.3.2 Testfehler"), "{line}");
    line.clear();
    let n = tokio::io::AsyncBufReadExt::read_line(&mut io, &mut line)
        .await
        .unwrap_or(0);
    assert_eq!(n, 0, "closed after the planned greeting: {line}");
    let mut c = Client::connect(w.provider.submission_addr()).await;
    assert!(c.cmd("EHLO test").await.starts_with("550 5.7.1 Testfehler"));
    assert!(c.cmd("EHLO test").await.starts_with("250"));
    let faults = w
        .trace
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::FaultInjected { .. }))
        .count();
    assert_eq!(faults, 2);
}

/// Pushes `raw` into the intake's listener as the provider would (STARTTLS, dot-stuffed);
/// returns the reply to the end of DATA.
async fn push_to_intake(w: &World, intake: &ReferenceIntake, raw: &[u8]) -> String {
    let mut c = Client::connect(intake.smtp_addr()).await;
    c.cmd("EHLO dmda-a.de-mail.de").await;
    let mut c = c.starttls(&w.pki).await;
    c.cmd("EHLO dmda-a.de-mail.de").await;
    assert!(
        c.cmd(&format!("MAIL FROM:<{CITIZEN}>"))
            .await
            .starts_with("250")
    );
    assert!(
        c.cmd(&format!("RCPT TO:<{INTAKE}>"))
            .await
            .starts_with("250")
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    let mut data = Vec::new();
    for line in raw.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    data.extend_from_slice(b".\r\n");
    c.raw(&data).await
}

/// A citizen submits a De-Mail to the intake's mailbox (250), and its sealed copy is pushed to
/// the intake (250); returns the sealed copy.
async fn submit_and_push(w: &World, intake: &ReferenceIntake) -> Vec<u8> {
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let r = c.send(CITIZEN, INTAKE, &message(CITIZEN, "")).await;
    assert!(r.starts_with("250"), "{r}");
    let sealed = w.provider.mailbox(INTAKE).unwrap()[0].raw.clone();
    let r = push_to_intake(w, intake, &sealed).await;
    assert!(r.starts_with("250"), "{r}");
    sealed
}

/// With a closed-case archive (load runs; `intake::archive`) a replied case leaves memory
/// at the end of the clock step, and the same message pushed again afterwards is still
/// recognised as a duplicate of the archived case (PVD-IO §3.1.18: X-de-mail-message-id is
/// unique): 250, an `intake.duplicate` event naming the archived Aktenzeichen, no second case.
#[tokio::test]
async fn archived_case_still_catches_a_duplicate() {
    let w = start_world().await;
    let archive = std::env::temp_dir().join(format!(
        "demail-archive-test-{}-{}.sqlite",
        std::process::id(),
        w.provider.submission_addr().port()
    ));
    let _ = std::fs::remove_file(&archive);
    let intake = start_intake_archived(&w, Some(archive.clone())).await;
    let sealed = submit_and_push(&w, &intake).await;
    // A step far enough on for the reply (Thursday morning, office hours).
    let step = r#"{"now":"2025-03-06T10:00:00+01:00"}"#;
    let http = reqwest_like_post(&intake.base_url(), step).await;
    assert!(http.contains(r#""replies_sent":1"#), "{http}");
    let cases = http_get(&intake.base_url(), "/testbed/cases").await;
    assert!(
        cases.contains(r#""cases":[]"#) && cases.contains(r#""archived_cases":1"#),
        "the replied case left memory for the archive: {cases}"
    );
    let events = http_get(&intake.base_url(), "/testbed/events").await;
    let aktenzeichen = events
        .split(r#""aktenzeichen":""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no Aktenzeichen in {events}"))
        .to_string();
    // The same message again, after its case closed.
    let r = push_to_intake(&w, &intake, &sealed).await;
    assert!(r.starts_with("250"), "a duplicate is accepted: {r}");
    let http =
        reqwest_like_post(&intake.base_url(), r#"{"now":"2025-03-06T11:00:00+01:00"}"#).await;
    assert!(
        http.contains(r#""replies_sent":0"#),
        "no second reply: {http}"
    );
    let cases = http_get(&intake.base_url(), "/testbed/cases").await;
    assert!(
        cases.contains(r#""cases":[]"#) && cases.contains(r#""archived_cases":1"#),
        "no second case: {cases}"
    );
    let events = http_get(&intake.base_url(), "/testbed/events").await;
    assert!(
        events.contains(r#""kind":"intake.duplicate""#)
            && events.matches(&aktenzeichen).count() >= 3,
        "the duplicate names the archived case {aktenzeichen}: {events}"
    );
    assert_eq!(
        events.matches(r#""kind":"intake.received""#).count(),
        1,
        "{events}"
    );
    let _ = std::fs::remove_file(&archive);
}

/// The body of a raw HTTP response as JSON.
fn json_body(http: &str) -> serde_json::Value {
    let body = http.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {http}"))
}

/// The clock answer carries the step's events (docs/sut.md "Events in the clock answer"):
/// `events_from`, `events` and `next` are what `GET /testbed/events?after=<events_from>`
/// answers then. A step that does nothing carries none and starts where the last one ended.
#[tokio::test]
async fn the_clock_answer_carries_the_steps_events() {
    let w = start_world().await;
    let intake = start_intake(&w).await;
    submit_and_push(&w, &intake).await;
    // The push's intake.received is event 0; the step at reply time adds intake.acknowledged.
    let answer = json_body(
        &reqwest_like_post(&intake.base_url(), r#"{"now":"2025-03-06T10:00:00+01:00"}"#).await,
    );
    assert_eq!(answer["replies_sent"], 1, "{answer}");
    assert_eq!(answer["events_from"], 1, "{answer}");
    assert_eq!(answer["next"], 2, "{answer}");
    assert_eq!(
        answer["events"][0]["kind"], "intake.acknowledged",
        "{answer}"
    );
    let got = json_body(&http_get(&intake.base_url(), "/testbed/events?after=1").await);
    assert_eq!(got["events"], answer["events"]);
    assert_eq!(got["next"], answer["next"]);
    let quiet = json_body(
        &reqwest_like_post(&intake.base_url(), r#"{"now":"2025-03-06T11:00:00+01:00"}"#).await,
    );
    assert_eq!(
        (&quiet["events_from"], &quiet["events"], &quiet["next"]),
        (
            &serde_json::json!(2),
            &serde_json::json!([]),
            &serde_json::json!(2)
        ),
        "{quiet}"
    );
}

/// A dropped intake's SMTP listener lives on (mailin-embedded has no shutdown), but it
/// refuses every later session with 421, and the intake's state is gone with the drop.
#[tokio::test]
async fn a_dropped_intake_refuses_sessions() {
    let w = start_world().await;
    let intake = start_intake(&w).await;
    let addr = intake.smtp_addr();
    let mut c = Client::connect(addr).await;
    assert!(c.cmd("EHLO dmda-a.de-mail.de").await.starts_with("250"));
    let r = c.cmd(&format!("MAIL FROM:<{CITIZEN}>")).await;
    assert!(r.starts_with("250"), "{r}");
    drop(intake);
    let r = c.cmd(&format!("RCPT TO:<{INTAKE}>")).await;
    assert!(r.starts_with("421 4.3.2"), "an open session: {r}");
    let mut c = Client::connect(addr).await;
    let r = c.cmd("EHLO dmda-a.de-mail.de").await;
    assert!(r.starts_with("421 4.3.2"), "a new session: {r}");
}

/// The client chooses the TLS 1.3 cipher suite: our own clients (the simulated citizens, built
/// from the process default `demail_sim::crypto_provider`) get `TLS13_AES_128_GCM_SHA256`, and
/// a client with aws-lc-rs's stock order, as a vendor's may be, still gets
/// `TLS13_AES_256_GCM_SHA384` from the same submission face.
#[tokio::test]
async fn the_client_chooses_the_cipher_suite() {
    use rustls::CipherSuite::{TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384};

    let w = start_world().await;
    let ours = Arc::new(demail_sim::crypto_provider());
    let stock = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    for (provider, expected) in [
        (ours, TLS13_AES_128_GCM_SHA256),
        (stock, TLS13_AES_256_GCM_SHA384),
    ] {
        let mut c = Client::connect(w.provider.submission_addr()).await;
        let ehlo = c.cmd("EHLO test").await;
        assert!(ehlo.starts_with('2'), "{ehlo}");
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(w.pki.root_store().unwrap())
            .with_no_client_auth();
        let (mut c, suite) = c.starttls_with(config).await;
        assert_eq!(suite, Some(expected));
        let quit = c.cmd("QUIT").await;
        assert!(!quit.is_empty());
    }
}
