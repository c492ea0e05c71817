//! Provider-to-provider transport on loopback (IT-BInfra-IO Tabelle 1 and §7): SMTP over
//! implicit TLS with mutual TLS, certificates from the test PKI, and a trust list. A trusted
//! peer's sealed message is laid into the recipient's mailbox and confirmed back across; a
//! peer missing from the trust list, or with a certificate of another PKI, is refused.

use std::time::Duration;

use demail_sim::clock::VirtualClock;
use demail_sim::demail::{AuthLevel, MessageType};
use demail_sim::pki::TestPki;
use demail_sim::provider::delivery::DeliveryHub;
use demail_sim::provider::{AccountKind, Provider, Route};
use demail_sim::trace::{EventKind, Trace};

use crate::common;

use common::WorldBuilder;

const AMT: &str = "poststelle@amt.dmda-a.de-mail.de";
const BUERGER: &str = "erika.mustermann@dmda-b.de-mail.de";

/// A provider of the world with one account; `trusted` is its trust list.
async fn provider(
    id: &str,
    account: &str,
    kind: AccountKind,
    trusted: &[&str],
    world: (&TestPki, &Trace, &VirtualClock, &DeliveryHub),
) -> Provider {
    let (pki, trace, clock, hub) = world;
    WorldBuilder::new()
        .id(id)
        .hosted(&[])
        .account(account, kind, AuthLevel::High)
        .trusted_peers(trusted)
        .hub(hub)
        .sharing(clock, trace)
        .start_provider(pki)
        .await
}

fn connect(a: &Provider, b: &Provider) {
    for (from, to) in [(a, b), (b, a)] {
        for d in to.domains() {
            from.set_route(
                &d,
                Route {
                    addr: to.relay_addr(),
                    provider_domain: to.domain().to_string(),
                },
            );
        }
    }
}

async fn submit(p: &Provider, pki: &TestPki, from: &str, to: &str) {
    let raw = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Antrag\r\nMessage-ID: <r1@test>\r\n\
         X-de-mail-confirmation-of-receipt: yes\r\nX-de-mail-private-id: P-7\r\n\r\nHallo\r\n"
    );
    common::submit(p.submission_addr(), pki, from, to, &raw).await;
}

/// Waits on the providers' idle signal (no polling): the hand-overs run in the background.
async fn settled(providers: &[&Provider]) {
    let activity: Vec<_> = providers.iter().map(|p| p.activity()).collect();
    assert!(
        demail_sim::provider::settle(&activity, Duration::from_secs(20)).await,
        "the providers did not settle"
    );
}

fn setup() -> (TestPki, Trace, VirtualClock) {
    demail_sim::init_crypto();
    let start = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
    let clock = VirtualClock::new(&start);
    (
        TestPki::generate("relay-test").unwrap(),
        Trace::new(clock.clone()),
        clock,
    )
}

/// Trusted peers: the message crosses with mutual TLS, is laid into the institution's
/// subdomain mailbox at dmda-a, and dmda-a's Eingangsbestätigung reaches the sender at dmda-b
/// with the private-id copied (PVD-FU §3.3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_peers_exchange_mail_and_confirmations() {
    let (pki, trace, clock) = setup();
    let (hub, _task) = DeliveryHub::start();
    let trusted = ["dmda-a.de-mail.de", "dmda-b.de-mail.de"];
    let a = provider(
        "dmda-a",
        AMT,
        AccountKind::Institution,
        &trusted,
        (&pki, &trace, &clock, &hub),
    )
    .await;
    let b = provider(
        "dmda-b",
        BUERGER,
        AccountKind::Person,
        &trusted,
        (&pki, &trace, &clock, &hub),
    )
    .await;
    connect(&a, &b);
    submit(&b, &pki, BUERGER, AMT).await;
    settled(&[&a, &b]).await;
    assert!(
        !a.mailbox(AMT).unwrap().is_empty(),
        "message reached dmda-a"
    );
    assert!(
        b.mailbox(BUERGER)
            .unwrap()
            .iter()
            .any(|m| m.message_type == MessageType::ConfirmationOfReceipt),
        "Eingangsbestätigung reached dmda-b"
    );
    let conf = b
        .mailbox(BUERGER)
        .unwrap()
        .into_iter()
        .find(|m| m.message_type == MessageType::ConfirmationOfReceipt)
        .unwrap();
    // One spelling everywhere, also after the relay: PVD-FU §4.3 Tabelle 1's.
    assert_eq!(conf.from, "Eingangsbestaetigung@dmda-a.de-mail.de");
    assert_eq!(conf.private_id.as_deref(), Some("P-7"));
    let received = trace.events().into_iter().any(|e| {
        matches!(e.kind, EventKind::ProviderReceived { ref provider, ref from_provider, .. }
            if provider == "dmda-a" && from_provider == "dmda-b.de-mail.de")
    });
    assert!(received, "dmda-a recorded the peer from its certificate");
}

/// A peer that is not on the receiver's trust list is refused with 554 5.7.1 and nothing is
/// laid down; a peer whose certificate comes from another PKI fails the TLS handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_and_foreign_peers_are_refused() {
    let (pki, trace, clock) = setup();
    let (hub, _task) = DeliveryHub::start();
    // dmda-a trusts only itself.
    let a = provider(
        "dmda-a",
        AMT,
        AccountKind::Institution,
        &["dmda-a.de-mail.de"],
        (&pki, &trace, &clock, &hub),
    )
    .await;
    let b = provider(
        "dmda-b",
        BUERGER,
        AccountKind::Person,
        &["dmda-a.de-mail.de", "dmda-b.de-mail.de"],
        (&pki, &trace, &clock, &hub),
    )
    .await;
    connect(&a, &b);
    submit(&b, &pki, BUERGER, AMT).await;
    let refused = |stage_code: u16| {
        trace.events().into_iter().any(|e| {
            matches!(e.kind, EventKind::ProviderRefused { ref provider, ref stage, code, .. }
                if provider == "dmda-a" && stage == "CONNECT" && code == stage_code)
        })
    };
    settled(&[&a, &b]).await;
    assert!(refused(554), "dmda-a refused the untrusted peer");
    assert!(a.mailbox(AMT).unwrap().is_empty());

    // A provider with certificates from another CA.
    let other = TestPki::generate("foreign").unwrap();
    let c = provider(
        "dmda-c",
        "max.muster@dmda-c.de-mail.de",
        AccountKind::Person,
        &["dmda-a.de-mail.de", "dmda-c.de-mail.de"],
        (&other, &trace, &clock, &hub),
    )
    .await;
    connect(&a, &c);
    submit(&c, &other, "max.muster@dmda-c.de-mail.de", AMT).await;
    settled(&[&a, &c]).await;
    assert!(refused(0), "the TLS handshake with a foreign PKI failed");
    assert!(a.mailbox(AMT).unwrap().is_empty());
}
