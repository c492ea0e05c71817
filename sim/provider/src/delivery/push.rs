//! Push targets and their transport: where an institution's mailbox is pushed (an intake's SMTP
//! listener) and how the connection is protected, per target. Reference: `docs/delivery.md`,
//! "Push targets and TLS".
//!
//! - [`PushTls::StartTls`] (the default): STARTTLS is required (RFC 3207); the receiver's
//!   certificate must chain to the named CA (by default the provider's test CA) and carry the
//!   configured server name. A receiver that offers no STARTTLS, or whose certificate does not
//!   verify, fails the attempt temporarily (it is retried like a 4xx).
//! - [`PushTls::Plain`]: plain SMTP, for a receiver on the loopback interface only
//!   ([`PushTarget::check`] refuses any other address); setting it logs a warning that the push
//!   is unencrypted.
//!
//! The worker in [`super`] reads the mailbox's target from the store at each attempt; a job
//! queued for an address that is no longer the mailbox's target is pushed with the default
//! ([`PushTls::default`]).

use std::net::SocketAddr;

use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// The server name a push target's certificate must carry when none is configured (the
/// reference intake's certificate names it).
pub const DEFAULT_SERVER_NAME: &str = "localhost";

/// How a push connection is protected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PushTls {
    /// STARTTLS required; the receiver's certificate is checked.
    StartTls {
        /// The name the receiver's certificate must carry (SAN, DNS name or IP address).
        server_name: String,
        /// The trust anchor (PEM); `None`: the provider's test CA.
        ca_pem: Option<String>,
    },
    /// Plain SMTP, no TLS: only to a loopback address.
    Plain,
}

impl Default for PushTls {
    /// STARTTLS, the provider's test CA, server name [`DEFAULT_SERVER_NAME`]: what every push
    /// used before push targets had TLS settings.
    fn default() -> Self {
        PushTls::StartTls {
            server_name: DEFAULT_SERVER_NAME.to_string(),
            ca_pem: None,
        }
    }
}

impl PushTls {
    /// `"starttls"` or `"plain"` (the store's column and the `serve` key `push_tls`).
    pub fn mode(&self) -> &'static str {
        match self {
            PushTls::StartTls { .. } => "starttls",
            PushTls::Plain => "plain",
        }
    }
}

/// Where a mailbox is pushed and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    /// The receiver's SMTP listener.
    pub addr: SocketAddr,
    /// How the connection is protected.
    pub tls: PushTls,
}

impl PushTarget {
    /// STARTTLS to `addr` with the provider's test CA and server name "localhost".
    pub fn starttls_test_ca(addr: SocketAddr) -> Self {
        Self {
            addr,
            tls: PushTls::default(),
        }
    }

    /// Refuses a target the worker could not or must not use: plain SMTP to an address that is
    /// not loopback, a server name rustls does not take, a CA file without a certificate.
    /// `test_ca_pem` is the provider's own CA, used when the target names none.
    pub fn check(&self, test_ca_pem: &str) -> Result<(), String> {
        match &self.tls {
            PushTls::Plain if !self.addr.ip().is_loopback() => Err(format!(
                "plain SMTP push to {} refused: without TLS a push may go only to a loopback address (127.0.0.0/8 or ::1); use STARTTLS",
                self.addr
            )),
            PushTls::Plain => Ok(()),
            PushTls::StartTls {
                server_name,
                ca_pem,
            } => tls_parameters(server_name, ca_pem.as_deref().unwrap_or(test_ca_pem)).map(drop),
        }
    }
}

/// The STARTTLS parameters: `ca_pem`'s certificates as the only roots, `server_name` checked.
pub(super) fn tls_parameters(server_name: &str, ca_pem: &str) -> Result<TlsParameters, String> {
    if rustls::pki_types::ServerName::try_from(server_name).is_err() {
        return Err(format!(
            "server name {server_name:?} is neither a DNS name nor an IP address"
        ));
    }
    let mut builder = TlsParameters::builder(server_name.to_string());
    let mut n_certs = 0;
    for block in pem_certificates(ca_pem) {
        let cert = Certificate::from_pem(block.as_bytes()).map_err(|e| format!("CA: {e}"))?;
        builder = builder.add_root_certificate(cert);
        n_certs += 1;
    }
    if n_certs == 0 {
        return Err("the CA file holds no PEM certificate (BEGIN CERTIFICATE)".to_string());
    }
    builder
        .build_rustls()
        .map_err(|e| format!("TLS parameters for server name {server_name:?}: {e}"))
}

/// The `CERTIFICATE` blocks of a PEM text, each with its BEGIN and END lines (a CA file may
/// hold a chain; lettre takes one certificate at a time).
fn pem_certificates(pem: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    out
}

/// Opens a push session to `target`: TCP (`TCP_NODELAY`: the small SMTP commands must not wait
/// for the peer's delayed ACK, docs/benchmarks.md), EHLO, and STARTTLS when `tls` is given.
/// `Err((permanent, reason))`; every failure to connect is temporary.
pub(super) async fn connect(
    target: SocketAddr,
    tls: Option<TlsParameters>,
    hello: &ClientId,
) -> Result<AsyncSmtpConnection, (bool, String)> {
    let stream = tokio::net::TcpStream::connect(target)
        .await
        .map_err(|e| (false, format!("connecting to {target}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), hello)
        .await
        .map_err(|e| (e.is_permanent(), e.to_string()))?;
    if let Some(tls) = tls {
        // A receiver that does not offer STARTTLS is a temporary failure: the push never goes
        // out in the clear to a target configured for TLS.
        conn.starttls(tls, hello)
            .await
            .map_err(|e| (e.is_permanent(), format!("STARTTLS with {target}: {e}")))?;
    }
    Ok(conn)
}

/// The first half of a message's lines, written as if it were a command (lettre writes a
/// command's text as it is and then waits for a reply).
struct HalfMessage(String);

impl std::fmt::Display for HalfMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A planned fault (docs/faults.md, push `drop`): opens a push session like [`connect`],
/// sends MAIL, RCPT and DATA, writes the first half of the message's lines, and drops the
/// TCP connection without the final CRLF.CRLF. The receiver must store nothing of it.
/// Returns what happened, for the attempt's reason.
pub(super) async fn drop_in_data(
    target: SocketAddr,
    tls: Option<TlsParameters>,
    hello: &ClientId,
    envelope: &lettre::address::Envelope,
    raw: &[u8],
) -> String {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    let mut conn = match connect(target, tls, hello).await {
        Ok(c) => c,
        Err((_, e)) => return e,
    };
    let steps = async {
        conn.command(Mail::new(envelope.from().cloned(), vec![]))
            .await?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![])).await?;
        }
        conn.command(Data).await
    }
    .await;
    if let Err(e) = steps {
        return format!("{e} (before the message text)");
    }
    let text = String::from_utf8_lossy(raw);
    let lines: Vec<&str> = text.split_inclusive("\r\n").collect();
    let half: String = lines[..lines.len() / 2].concat();
    // The write completes, then lettre waits for a reply that never comes: the wait is cut
    // short and the connection dropped in the middle of DATA.
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        conn.command(HalfMessage(half)),
    )
    .await;
    drop(conn);
    // Not the line count: a confirmation's signature (and so its length) differs per run.
    "connection dropped in the middle of the message text (after half of its lines)".to_string()
}

/// What became of a plain message handed to a push target ([`crate::Provider::push_plain`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlainOutcome {
    /// The receiver answered 250 after DATA.
    Accepted,
    /// The receiver refused it: the reply code and the whole reply as lettre renders it.
    Refused { code: u16, text: String },
}

impl crate::Provider {
    /// Hands `raw` as it is, a plain e-mail and no De-Mail (no provider metadata, no seal; not
    /// stored, not queued, no confirmation), to the push target of `mailbox`, with that
    /// target's TLS settings: what an intake's listener must do with mail that did not come
    /// from its provider (certification case DM-FORM-004; the scenario's `plain = true`).
    /// Traced as `fault.injected` (fault "plain-email"). `Err` when the target cannot be
    /// reached or the message not even offered.
    pub async fn push_plain(
        &self,
        mailbox: &str,
        envelope_from: &str,
        raw: &[u8],
    ) -> Result<PlainOutcome, String> {
        let shared = &self.shared;
        let target = crate::lock(&shared.store)
            .account(mailbox)
            .and_then(|a| a.push_target)
            .ok_or_else(|| format!("{mailbox} has no push target"))?;
        let tls = match &target.tls {
            PushTls::Plain => None,
            PushTls::StartTls {
                server_name,
                ca_pem,
            } => Some(tls_parameters(
                server_name,
                ca_pem.as_deref().unwrap_or(&shared.ca_pem),
            )?),
        };
        let message_id = demail_wire::headers::RawMessage::parse(raw)
            .ok()
            .and_then(|m| m.first("message-id"))
            .unwrap_or_default();
        shared.trace.emit(demail_core::trace::EventKind::FaultInjected {
            face: format!("provider:{} push", shared.config.id),
            fault: "plain-email".to_string(),
            message_id,
            detail: format!(
                "a plain e-mail from {envelope_from} (no De-Mail metadata, no seal) handed straight to the listener of {mailbox}"
            ),
        });
        let parse = |a: &str| {
            a.parse::<lettre::Address>()
                .map_err(|e| format!("address {a:?}: {e}"))
        };
        let envelope =
            lettre::address::Envelope::new(Some(parse(envelope_from)?), vec![parse(mailbox)?])
                .map_err(|e| e.to_string())?;
        // A sender from the open internet, not this provider.
        let hello = ClientId::Domain("mail.example.net".to_string());
        let mut conn = connect(target.addr, tls, &hello)
            .await
            .map_err(|(_, e)| e)?;
        let answer = conn.send(&envelope, raw).await;
        let _ = conn.quit().await;
        match answer {
            Ok(_) => Ok(PlainOutcome::Accepted),
            Err(e) => match e.status() {
                Some(code) => Ok(PlainOutcome::Refused {
                    code: u16::from(code),
                    text: e.to_string(),
                }),
                None => Err(format!("pushing to {}: {e}", target.addr)),
            },
        }
    }

    /// Sets the SMTP address that messages for `mailbox` are pushed to (an intake listener):
    /// STARTTLS, the provider's test CA, server name "localhost".
    pub fn set_push_target(&self, mailbox: &str, target: SocketAddr) -> anyhow::Result<()> {
        self.set_push_target_with(mailbox, PushTarget::starttls_test_ca(target))
    }

    /// Sets where and how messages for `mailbox` are pushed, kept in the store across
    /// restarts. Refuses what [`PushTarget::check`] refuses (plain SMTP beyond loopback, an
    /// unusable CA or server name); a plain target is logged as a warning.
    pub fn set_push_target_with(&self, mailbox: &str, target: PushTarget) -> anyhow::Result<()> {
        target
            .check(&self.shared.ca_pem)
            .map_err(|e| anyhow::anyhow!("push target of {mailbox}: {e}"))?;
        if target.tls == PushTls::Plain {
            tracing::warn!(
                provider = %self.shared.config.id,
                mailbox,
                target = %target.addr,
                "pushes of {mailbox} to {} are UNENCRYPTED (plain SMTP, no STARTTLS; allowed on loopback only)",
                target.addr
            );
        }
        crate::lock(&self.shared.store).set_push_target_with(mailbox, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain SMTP only to loopback; a bad CA text or server name is refused with a reason.
    #[test]
    fn targets_are_checked() {
        demail_core::init_crypto();
        let pki = demail_core::pki::TestPki::generate("push").unwrap();
        let ca = pki.ca_pem().to_string();
        let plain = |a: &str| PushTarget {
            addr: a.parse().unwrap(),
            tls: PushTls::Plain,
        };
        assert!(plain("127.0.0.1:25").check(&ca).is_ok());
        assert!(plain("[::1]:25").check(&ca).is_ok());
        let e = plain("192.0.2.1:25").check(&ca).unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        let ok = PushTarget::starttls_test_ca("192.0.2.1:25".parse().unwrap());
        assert!(ok.check(&ca).is_ok());
        let bad_ca = PushTarget {
            tls: PushTls::StartTls {
                server_name: "intake.example".into(),
                ca_pem: Some("not a certificate".into()),
            },
            ..ok.clone()
        };
        assert!(
            bad_ca
                .check(&ca)
                .unwrap_err()
                .contains("no PEM certificate")
        );
        let bad_name = PushTarget {
            tls: PushTls::StartTls {
                server_name: "bad name!".into(),
                ca_pem: None,
            },
            ..ok
        };
        assert!(bad_name.check(&ca).is_err());
        assert_eq!(pem_certificates(&format!("{ca}{ca}")).len(), 2);
    }
}
