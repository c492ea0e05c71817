//! The citizens' SMTP client: one TLS client configuration per run (TLS sessions resumed),
//! sessions opened with `TCP_NODELAY` (lettre writes the message and the final `.` in two
//! writes; with Nagle's algorithm the second would wait for the delayed ACK of the first),
//! STARTTLS and AUTH PLAIN, then MAIL, RCPT, DATA.

use anyhow::{Context, Result};
use demail_core::pki::TestPki;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

/// The EHLO name of every simulated citizen's mail program. Fixed, not lettre's default (the
/// machine's host name): it reaches the provider's `Received` stamp in every stored message,
/// which must be the same on every machine.
pub const CITIZEN_EHLO: &str = "citizen.localhost";

/// The citizens' SMTP client: one TLS client configuration for the whole run (so TLS
/// sessions are resumed) and one fixed EHLO name, [`CITIZEN_EHLO`].
pub struct Submitter {
    tls: TlsParameters,
    hello: ClientId,
}

impl Submitter {
    pub fn new(pki: &TestPki) -> Result<Self> {
        let tls = TlsParameters::builder("localhost".to_string())
            .add_root_certificate(Certificate::from_pem(pki.ca_pem().as_bytes())?)
            .build_rustls()?;
        Ok(Self {
            tls,
            hello: ClientId::Domain(CITIZEN_EHLO.into()),
        })
    }

    /// Opens a citizen's session: connect (`TCP_NODELAY`), EHLO, STARTTLS, EHLO, AUTH PLAIN;
    /// what lettre's `AsyncSmtpTransport` does before MAIL, with Nagle's algorithm off
    /// (module documentation). `Err` for a socket failure, `Ok(Err)` for an SMTP answer.
    pub async fn open(
        &self,
        addr: std::net::SocketAddr,
        credentials: &Credentials,
    ) -> Result<SmtpResult<AsyncSmtpConnection>> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to the provider's submission face {addr}"))?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        Ok(self.login(stream, credentials).await)
    }

    async fn login(
        &self,
        stream: TcpStream,
        credentials: &Credentials,
    ) -> SmtpResult<AsyncSmtpConnection> {
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?;
        conn.starttls(self.tls.clone(), &self.hello).await?;
        conn.auth(&[Mechanism::Plain], credentials).await?;
        Ok(conn)
    }

    /// One message over an open session (MAIL, RCPT, DATA), then QUIT.
    pub async fn deliver(
        mut conn: AsyncSmtpConnection,
        envelope: &Envelope,
        raw: &[u8],
    ) -> SmtpResult<()> {
        conn.send(envelope, raw).await?;
        conn.abort().await;
        Ok(())
    }
}

/// An SMTP answer other than success (code, enhanced status and text inside).
pub type SmtpResult<T> = std::result::Result<T, lettre::transport::smtp::Error>;

/// Finds an enhanced status code (x.y.z) in an error text.
pub fn enhanced_of(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == ':')
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap_or("")
        .to_string()
}
