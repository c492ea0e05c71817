//! A programmed `account-closed` account (docs/scenarios.md, "Programmed citizens"): after the
//! holder's first accepted submission the account is "vollständig gesperrt". Later messages
//! to it get the Meldung of type `closed-account` (PVD-FU Schritt 43, PVD-IO Tabelle 22), and
//! its holder can neither log in nor submit (5.7.13, RFC 5248 "User Account Disabled").

use demail_sim::demail::{AuthLevel, MessageType};
use demail_sim::provider::AccountKind;
use demail_sim::trace::{EventKind, Trace};

use crate::common;

use common::{Client, PASSWORD, WorldBuilder, account};

const CLOSING: &str = "klara.gesperrt@dmda-a.de-mail.de";
const INTAKE: &str = "wohnen@dresden.de-mail.de";

fn message(from: &str, to: &str, subject: &str, extra: &str) -> String {
    format!(
        "From: <{from}>\nTo: <{to}>\nSubject: {subject}\n{extra}Message-ID: <{subject}@test>\n\nHallo\n"
    )
}

fn refusals(trace: &Trace) -> Vec<(String, u16, String)> {
    trace
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ProviderRefused {
                stage,
                code,
                enhanced,
                ..
            } => Some((stage, code, enhanced)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn closed_after_first_submission_meldung_and_refusals() {
    let mut closing = account(CLOSING, AccountKind::Person, AuthLevel::High);
    closing.closes_after_first_submission = true;
    let w = WorldBuilder::new()
        .hosted(&["dresden.de-mail.de"])
        .accounts([closing])
        .account(INTAKE, AccountKind::Institution, AuthLevel::High)
        .start()
        .await;

    // Before its first submission the account is open: a message to it is laid down.
    let mut intake = Client::login(w.provider.submission_addr(), &w.pki, INTAKE).await;
    let r = intake
        .send(INTAKE, CLOSING, &message(INTAKE, CLOSING, "vorher", ""))
        .await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(w.provider.mailbox(CLOSING).unwrap().len(), 1);

    // The first submission is accepted, and closes the account in the same transaction.
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CLOSING).await;
    let r = c
        .send(CLOSING, INTAKE, &message(CLOSING, INTAKE, "antrag", ""))
        .await;
    assert!(r.starts_with("250"), "{r}");
    let closed: Vec<String> = w
        .trace
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ProviderAccountClosed { address, .. } => Some(address),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![CLOSING.to_string()]);

    // A second message in the same session: 550 5.7.13.
    let r = c
        .send(
            CLOSING,
            INTAKE,
            &message(CLOSING, INTAKE, "nachreichung", ""),
        )
        .await;
    assert!(r.starts_with("550 5.7.13"), "{r}");
    assert!(r.contains("vollständig gesperrt"), "{r}");

    // A new session with the right password: 525 5.7.13; a wrong one stays 535 5.7.8 (the
    // closure is told only to the holder).
    use base64::Engine as _;
    let b64 =
        |pw: &str| base64::engine::general_purpose::STANDARD.encode(format!("\0{CLOSING}\0{pw}"));
    let mut s = Client::connect(w.provider.submission_addr()).await;
    s.cmd("EHLO test").await;
    let mut s = s.starttls(&w.pki).await;
    s.cmd("EHLO test").await;
    let r = s.cmd(&format!("AUTH PLAIN {}", b64("wrong"))).await;
    assert!(r.starts_with("535 5.7.8"), "{r}");
    let r = s.cmd(&format!("AUTH PLAIN {}", b64(PASSWORD))).await;
    assert!(r.starts_with("525 5.7.13"), "{r}");

    // A simulated login (the runner's `citizen.login`): refused and traced at stage LOGIN.
    let e = w.provider.login(CLOSING, AuthLevel::High).unwrap_err();
    assert_eq!((e.code, &*e.enhanced), (525, "5.7.13"));

    // Every later message to it gets the closed-account Meldung instead of the Eingang, also
    // a "persönlich" one with Abholbestätigung (the closure is checked first).
    let r = intake
        .send(
            INTAKE,
            CLOSING,
            &message(
                INTAKE,
                CLOSING,
                "bescheid",
                "X-de-mail-private: yes\nX-de-mail-confirmation-of-retrieve: yes\n",
            ),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        w.provider.mailbox(CLOSING).unwrap().len(),
        1,
        "nothing laid down"
    );
    let meldungen: Vec<String> = w
        .provider
        .mailbox(INTAKE)
        .unwrap()
        .into_iter()
        .filter(|m| m.message_type == MessageType::Notification)
        .map(|m| String::from_utf8_lossy(&m.raw).to_lowercase())
        .collect();
    assert_eq!(meldungen.len(), 1, "{meldungen:?}");
    assert!(
        meldungen[0].contains("x-de-mail-notification-type: closed-account"),
        "{}",
        meldungen[0]
    );
    let notified: Vec<(String, String)> = w
        .trace
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::NotificationIssued {
                notification_type,
                reason,
                ..
            } => Some((notification_type, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        notified,
        vec![(
            "closed-account".to_string(),
            "Empfänger-De-Mail-Konto vollständig gesperrt".to_string()
        )]
    );

    assert_eq!(
        refusals(&w.trace),
        vec![
            ("DATA".to_string(), 550, "5.7.13".to_string()),
            ("AUTH".to_string(), 535, "5.7.8".to_string()),
            ("AUTH".to_string(), 525, "5.7.13".to_string()),
            ("LOGIN".to_string(), 525, "5.7.13".to_string()),
        ]
    );
}
