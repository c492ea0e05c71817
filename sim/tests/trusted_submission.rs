//! Transcript tests of the trusted submission listener (`Provider::open_trusted_submission`):
//! plain SMTP on loopback without TLS or AUTH, where MAIL FROM names the account, like
//! Postfix's `permit_mynetworks`. It exists for load benchmarks (`scripts/bench-smtp.sh`); the
//! tests prove that it takes the normal submission path after MAIL FROM, refuses unknown
//! senders, is refused on a non-loopback address, and leaves the normal submission face as
//! strict as before.

use demail_sim::demail::AuthLevel;
use demail_sim::demail::headers::RawMessage;
use demail_sim::provider::AccountKind;
use demail_sim::trace::EventKind;

use crate::common;

use common::{Client, WorldBuilder};

const SENDER: &str = "poststelle@dresden.de-mail.de";
const RECIPIENT: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
const NORMAL_CITIZEN: &str = "max.normal@dmda-a.de-mail.de";

/// The shared test world with the trusted listener open.
struct World {
    world: common::World,
    trusted: std::net::SocketAddr,
}

impl std::ops::Deref for World {
    type Target = common::World;
    fn deref(&self) -> &common::World {
        &self.world
    }
}

impl std::ops::DerefMut for World {
    fn deref_mut(&mut self) -> &mut common::World {
        &mut self.world
    }
}

/// A provider with a durable store in a temporary folder and the trusted listener open.
async fn start_world(name: &str) -> World {
    let mut world = WorldBuilder::new()
        .account(SENDER, AccountKind::Institution, AuthLevel::High)
        .account(RECIPIENT, AccountKind::Institution, AuthLevel::High)
        .account(NORMAL_CITIZEN, AccountKind::Person, AuthLevel::Normal)
        .durable(&format!("trusted-{name}"))
        .start()
        .await;
    let trusted = world
        .provider
        .open_trusted_submission("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    World { world, trusted }
}

/// What smtp-source sends (Postfix 3.7), with a Subject as `-S` adds it.
fn message(from: &str, to: &str, n: u32) -> String {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nDate: Mon, 3 Mar 2025 08:00:00 +0000 (UTC)\r\n\
         Message-Id: <{n}.0001@bench>\r\nSubject: Bench {n}\r\n\r\n1XXXXXXXX\r\n.\r\n"
    )
}

/// The trusted listener offers neither STARTTLS nor AUTH; a message from an existing account
/// is answered 250 after the durable commit, lies in the recipient's mailbox (read back from
/// the SQLite store), carries the account's highest level and the trusted mechanism, and is
/// traced as `provider.accepted` like any submission. Two transactions on one connection may
/// name different accounts.
#[tokio::test]
async fn existing_account_is_accepted_and_stored() {
    let w = start_world("accept").await;
    let mut c = Client::connect(w.trusted).await;
    let ehlo = c.cmd("EHLO bench").await;
    assert!(ehlo.starts_with("250"), "{ehlo}");
    assert!(
        !ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    let r = c.cmd(&format!("MAIL FROM:<{SENDER}>")).await;
    assert!(r.starts_with("250 2.1.0"), "{r}");
    let r = c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await;
    assert!(r.starts_with("250 2.1.5"), "{r}");
    let r = c.cmd("DATA").await;
    assert!(r.starts_with("354"), "{r}");
    let r = c
        .cmd(message(SENDER, RECIPIENT, 1).trim_end_matches("\r\n"))
        .await;
    assert!(r.starts_with("250 2.0.0"), "{r}");

    let inbox = w.provider.mailbox(RECIPIENT).unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].from, SENDER);
    assert_eq!(inbox[0].subject, "Bench 1");
    let raw = RawMessage::parse(&inbox[0].raw).unwrap();
    assert_eq!(raw.first("x-de-mail-sender").unwrap(), SENDER);
    assert_eq!(raw.first("x-de-mail-auth-level").unwrap(), "high");
    assert_eq!(
        raw.first("x-de-mail-auth-mechanism").unwrap(),
        demail_sim::provider::smtp::TRUSTED_MECHANISM
    );
    assert!(raw.first("x-de-mail-integrity").is_some(), "sealed");
    assert!(r.contains(&inbox[0].message_id), "{r}");

    // The next transaction on the same connection names another account: the session logs
    // in again, at that account's level (normal), and the daily limit applies to it.
    let r = c.cmd(&format!("MAIL FROM:<{NORMAL_CITIZEN}>")).await;
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await;
    assert!(r.starts_with("250"), "{r}");
    c.cmd("DATA").await;
    let r = c
        .cmd(message(NORMAL_CITIZEN, RECIPIENT, 2).trim_end_matches("\r\n"))
        .await;
    assert!(r.starts_with("250"), "{r}");
    let inbox = w.provider.mailbox(RECIPIENT).unwrap();
    assert_eq!(inbox.len(), 2);
    let raw = RawMessage::parse(&inbox[1].raw).unwrap();
    assert_eq!(raw.first("x-de-mail-sender").unwrap(), NORMAL_CITIZEN);
    assert_eq!(raw.first("x-de-mail-auth-level").unwrap(), "normal");

    // The PVD rules after DATA are the normal ones: a From other than the account is refused.
    let r = c.cmd(&format!("MAIL FROM:<{SENDER}>")).await;
    assert!(r.starts_with("250"), "{r}");
    c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await;
    c.cmd("DATA").await;
    let r = c
        .cmd(message(NORMAL_CITIZEN, RECIPIENT, 3).trim_end_matches("\r\n"))
        .await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    assert_eq!(w.provider.mailbox(RECIPIENT).unwrap().len(), 2);
    let r = c.cmd("QUIT").await;
    assert!(r.starts_with("221"), "{r}");

    let accepted = w
        .trace
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::ProviderAccepted { .. }))
        .count();
    assert_eq!(accepted, 2);
}

/// An envelope sender that is no account of this provider gets 550 5.7.1 with a reason, traced
/// as a refusal at MAIL; RCPT without a sender is then 503. STARTTLS and AUTH are not offered.
#[tokio::test]
async fn unknown_sender_is_refused() {
    let w = start_world("unknown").await;
    let mut c = Client::connect(w.trusted).await;
    c.cmd("EHLO bench").await;
    let r = c.cmd("MAIL FROM:<nobody@dmda-a.de-mail.de>").await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    assert!(
        r.contains("nobody@dmda-a.de-mail.de") && r.contains("not an account"),
        "{r}"
    );
    let r = c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await;
    assert!(r.starts_with("503"), "{r}");
    let r = c.cmd("STARTTLS").await;
    assert!(r.starts_with("502 5.5.1"), "{r}");
    let r = c.cmd("AUTH PLAIN AGEAYg==").await;
    assert!(r.starts_with("503 5.5.1"), "{r}");
    let refused: Vec<(String, u16, String)> = w
        .trace
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
        .collect();
    assert_eq!(refused, vec![("MAIL".into(), 550, "5.7.1".into())]);
    assert!(w.provider.mailbox(RECIPIENT).unwrap().is_empty());
}

/// Opening the trusted listener makes the normal submission face no weaker: MAIL without AUTH
/// is still refused with 530 5.7.0, and the face still offers STARTTLS, not AUTH, before TLS.
#[tokio::test]
async fn normal_submission_face_still_needs_auth() {
    let w = start_world("normal").await;
    let mut c = Client::connect(w.provider.submission_addr()).await;
    let ehlo = c.cmd("EHLO bench").await;
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    let r = c.cmd(&format!("MAIL FROM:<{SENDER}>")).await;
    assert!(r.starts_with("530 5.7.0"), "{r}");
    assert!(w.provider.mailbox(RECIPIENT).unwrap().is_empty());
}

/// The listener refuses to open on an address other than loopback.
#[tokio::test]
async fn only_loopback() {
    let mut w = start_world("loopback").await;
    let e = w
        .provider
        .open_trusted_submission("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("loopback"), "{e}");
}
