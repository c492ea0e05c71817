//! Time on the wire: every SMTP face of the provider prepends a `Received` field (RFC 5321
//! §4.4) stamped with the virtual time of the acceptance, which for a mailbox of the provider
//! is the Eingang. Transcripts on the submission face, the trusted listener and the relay face
//! (two providers): one provider stamp on top with the virtual instant and the RFC 3848
//! keyword, the seal still holding, a client's forged stamp kept below, and a hand-over
//! carrying both providers' stamps, newest on top. The push into an intake and the gateway's
//! raw fetch hand out exactly the stored bytes (`gateway.rs` `raw_is_exactly_what_the_mailbox_holds`;
//! the delivery queue takes the deposited copy).

use std::time::Duration;

use demail_sim::clock::{VirtualClock, format_rfc5322};
use demail_sim::demail::headers::RawMessage;
use demail_sim::demail::integrity::{self, Verdict, VerifyOptions};
use demail_sim::demail::received::{self, read};
use demail_sim::demail::{AuthLevel, MessageType};
use demail_sim::pki::TestPki;
use demail_sim::provider::delivery::DeliveryHub;
use demail_sim::provider::{AccountKind, connect_all};
use demail_sim::trace::Trace;
use jiff::SignedDuration;

use crate::common;

use common::{Client, WorldBuilder};

const CITIZEN: &str = "erika.mustermann@dmda-a.de-mail.de";
const AMT: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
const HOST_A: &str = "smtp.dmda-a.de-mail.de";
const HOST_B: &str = "smtp.dmda-b.de-mail.de";

/// A forged stamp a citizen puts on top of the message: it names the provider's host and a
/// date a day before the real one.
const FORGED: &str = "Received: from evil.example by smtp.dmda-a.de-mail.de with ESMTPSA id <x@y>;\n\
                      \tSun, 2 Mar 2025 08:00:00 +0100\n";

/// A message with LF line ends (`Client::send` sends them as CRLF).
fn message(from: &str, to: &str, subject: &str, top: &str) -> String {
    format!(
        "{top}From: <{from}>\nTo: <{to}>\nSubject: {subject}\n\
         X-de-mail-confirmation-of-receipt: yes\n\nHallo"
    )
}

/// White space collapsed to single spaces (folding is checked separately).
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The seal holds under the test CA (the `Received` and `Envelope-to` above it are not
/// covered, PVD-IO §3.1.21).
fn assert_sealed(msg: &RawMessage, pki: &TestPki) {
    let anchors = [pki.ca_der().to_vec()];
    let verdict = integrity::verify_with(
        msg,
        &VerifyOptions {
            trusted_cas: Some(&anchors),
            at_unix: None,
        },
    );
    assert!(
        matches!(verdict, Verdict::Signed { trusted: true, .. }),
        "{verdict:?}"
    );
}

/// The `Received` fields of `msg`, top to bottom, unfolded.
fn stamps(msg: &RawMessage) -> Vec<String> {
    msg.fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("received"))
        .map(|f| f.value())
        .collect()
}

/// Submission face: the copy in the Funktionspostfach has `Envelope-to` first and then the
/// provider's stamp (`from test ([127.0.0.1]) by smtp.dmda-a.de-mail.de with ESMTPSA id
/// <m…> for <…>`) at the virtual instant, equal to `Date`, the Eingang (`stored_at`) and the
/// Eingangsbestätigung's `Date`. The clock moved 1 h 30 min 7 s between two submissions moves
/// the stamp by exactly that. The citizen's forged stamp stays below, unchanged; the seal holds.
#[tokio::test]
async fn submission_face_stamps_the_virtual_time_above_a_forged_stamp() {
    let w = WorldBuilder::new()
        .account(CITIZEN, AccountKind::Person, AuthLevel::High)
        .account(AMT, AccountKind::Institution, AuthLevel::High)
        .start()
        .await;
    let addr = w.provider.submission_addr();
    let mut c = Client::login(addr, &w.pki, CITIZEN).await;
    let r = c
        .send(CITIZEN, AMT, &message(CITIZEN, AMT, "Erster", FORGED))
        .await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let first_at = w.clock.now();
    w.clock
        .advance_to(w.clock.timestamp() + SignedDuration::from_secs(90 * 60 + 7));
    let r = c
        .send(CITIZEN, AMT, &message(CITIZEN, AMT, "Zweiter", ""))
        .await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let second_at = w.clock.now();

    let mailbox = w.provider.mailbox(AMT).unwrap();
    let normal: Vec<_> = mailbox
        .iter()
        .filter(|m| m.message_type == MessageType::Normal)
        .collect();
    assert_eq!(normal.len(), 2);
    for (stored, at, forged) in [(normal[0], &first_at, true), (normal[1], &second_at, false)] {
        let msg = RawMessage::parse(&stored.raw).unwrap();
        let date = format_rfc5322(at);
        assert_eq!(msg.fields[0].name, "Envelope-to");
        assert_eq!(
            msg.fields[1].name, "Received",
            "the stamp is the topmost trace field"
        );
        assert_eq!(
            squash(&msg.fields[1].value()),
            format!(
                "from test ([127.0.0.1]) by {HOST_A} with ESMTPSA id <{}> for <{AMT}>; {date}",
                stored.message_id
            )
        );
        let raw = String::from_utf8_lossy(&stored.raw);
        assert!(raw.lines().all(|l| l.len() <= 78), "folded to 78:\n{raw}");
        assert_eq!(received::eingang(&msg, HOST_A), Some(date.clone()));
        assert_eq!(msg.first("date"), Some(date.clone()), "Date = Eingang here");
        let parsed = jiff::fmt::rfc2822::parse(&date).unwrap();
        assert_eq!(parsed.timestamp(), stored.stored_at, "stamp = stored_at");
        assert_sealed(&msg, &w.pki);
        let all = stamps(&msg);
        if forged {
            assert_eq!(all.len(), 2, "{all:?}");
            assert_eq!(
                read(&all[1]).date.as_deref(),
                Some("Sun, 2 Mar 2025 08:00:00 +0100")
            );
        } else {
            assert_eq!(all.len(), 1, "{all:?}");
        }
    }
    assert_eq!(
        received::eingang(&RawMessage::parse(&normal[1].raw).unwrap(), HOST_A),
        Some("Mon, 3 Mar 2025 10:30:07 +0100".to_string())
    );
    // The Eingangsbestätigung states the same instant (PVD-IO §3.5.1 "Datum und Zeit ... des
    // Eingangs"): its Date is the time of the Eingang it confirms.
    let confirmations: Vec<_> = mailbox
        .iter()
        .filter(|m| m.message_type == MessageType::ConfirmationOfReceipt)
        .collect();
    assert_eq!(confirmations.len(), 2);
    for (conf, at) in confirmations.iter().zip([&first_at, &second_at]) {
        let msg = RawMessage::parse(&conf.raw).unwrap();
        assert_eq!(msg.first("date"), Some(format_rfc5322(at)));
        assert_eq!(
            stamps(&msg).len(),
            0,
            "a confirmation the provider made itself crossed no SMTP face"
        );
    }
}

/// Trusted listener: no TLS, no AUTH, so the keyword is ESMTP (HELO: SMTP); an EHLO name
/// that is not a domain is replaced by the address literal.
#[tokio::test]
async fn trusted_listener_stamps_esmtp_and_never_copies_a_hostile_ehlo() {
    let mut w = WorldBuilder::new()
        .account(CITIZEN, AccountKind::Person, AuthLevel::High)
        .account(AMT, AccountKind::Institution, AuthLevel::High)
        .start()
        .await;
    let trusted = w
        .provider
        .open_trusted_submission("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for (greeting, keyword, from) in [
        ("EHLO bench.example", "ESMTP", "bench.example"),
        ("HELO bench.example", "SMTP", "bench.example"),
        ("EHLO x;by=smtp.dmda-a.de-mail.de", "ESMTP", "[127.0.0.1]"),
    ] {
        let mut c = Client::connect(trusted).await;
        let r = c.cmd(greeting).await;
        assert!(r.starts_with("250"), "{greeting}: {r}");
        let r = c
            .send(CITIZEN, AMT, &message(CITIZEN, AMT, keyword, ""))
            .await;
        assert!(r.starts_with("250 2.0.0"), "{r}");
        let last = w
            .provider
            .mailbox(AMT)
            .unwrap()
            .into_iter()
            .rfind(|m| m.message_type == MessageType::Normal)
            .unwrap();
        let msg = RawMessage::parse(&last.raw).unwrap();
        let top = stamps(&msg);
        assert_eq!(top.len(), 1, "{top:?}");
        assert!(
            squash(&top[0]).starts_with(&format!(
                "from {from} ([127.0.0.1]) by {HOST_A} with {keyword} id <"
            )),
            "{greeting}: {}",
            top[0]
        );
        assert_sealed(&msg, &w.pki);
    }
}

/// Relay face: a citizen of dmda-a writes to dmda-b. The copy in dmda-b's mailbox carries
/// dmda-b's stamp (ESMTPS: implicit TLS, the peer authenticated by its certificate) above
/// dmda-a's (ESMTPSA), both naming the same X-de-mail-message-id; the seal made at dmda-a
/// still holds; the Eingang read from the copy is dmda-b's stamp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_over_carries_both_stamps_newest_on_top() {
    let trusted = ["dmda-a.de-mail.de", "dmda-b.de-mail.de"];
    demail_sim::init_crypto();
    let pki = TestPki::generate("received-test").unwrap();
    let clock = VirtualClock::new(&common::START.parse().unwrap());
    let trace = Trace::new(clock.clone());
    let (hub, _task) = DeliveryHub::start();
    let provider = |id: &str, hosted: &[&str], account: &str, kind: AccountKind| {
        WorldBuilder::new()
            .id(id)
            .hosted(hosted)
            .account(account, kind, AuthLevel::High)
            .trusted_peers(&trusted)
            .hub(&hub)
            .sharing(&clock, &trace)
    };
    let a = provider("dmda-a", &[], CITIZEN, AccountKind::Person)
        .start_provider(&pki)
        .await;
    let b = provider(
        "dmda-b",
        &["dresden.de-mail.de"],
        AMT,
        AccountKind::Institution,
    )
    .start_provider(&pki)
    .await;
    let providers = [a, b];
    connect_all(&providers);
    let raw = message(CITIZEN, AMT, "Grenze", FORGED).replace('\n', "\r\n");
    common::submit(providers[0].submission_addr(), &pki, CITIZEN, AMT, &raw).await;
    let activity: Vec<_> = providers.iter().map(|p| p.activity()).collect();
    assert!(demail_sim::provider::settle(&activity, Duration::from_secs(20)).await);

    let stored = providers[1]
        .mailbox(AMT)
        .unwrap()
        .into_iter()
        .find(|m| m.message_type == MessageType::Normal)
        .expect("the message reached dmda-b");
    let msg = RawMessage::parse(&stored.raw).unwrap();
    let all = stamps(&msg);
    assert_eq!(all.len(), 3, "{all:?}");
    let date = format_rfc5322(&clock.now());
    let id = &stored.message_id;
    assert_eq!(
        squash(&all[0]),
        format!(
            "from {HOST_A} ([127.0.0.1]) by {HOST_B} with ESMTPS id <{id}> for <{AMT}>; {date}"
        )
    );
    assert_eq!(
        squash(&all[1]),
        format!(
            "from citizen.localhost ([127.0.0.1]) by {HOST_A} with ESMTPSA id <{id}> for <{AMT}>; {date}"
        ),
        "dmda-a's stamp, below"
    );
    assert_eq!(
        read(&all[2]).date.as_deref(),
        Some("Sun, 2 Mar 2025 08:00:00 +0100")
    );
    assert_eq!(msg.fields[0].name, "Envelope-to");
    assert_eq!(msg.fields[1].name, "Received");
    assert_eq!(received::eingang(&msg, HOST_B), Some(date));
    assert_eq!(
        received::eingang(&msg, HOST_A),
        None,
        "not the recipient's provider"
    );
    assert_sealed(&msg, &pki);
}
