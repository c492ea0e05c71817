//! The reference municipal intake: a system under test shipped with the test-bed.
//!
//! It plays a Gewerbeamt's Funktionspostfach (e.g. `gewerbeangelegenheiten@dresden.de-mail.de`):
//! it receives pushed De-Mails on its own SMTP listener (mailin-embedded, STARTTLS with a
//! certificate of the test PKI), checks that a Gewerbeanzeige is absenderbestätigt at level
//! high, assigns an Aktenzeichen (file number), and answers with an Empfangsbescheinigung
//! (§ 15 Abs. 1 GewO, Fassung 2025-01-20 in `reference/law/GewO_14-15.md`) submitted to its
//! provider over SMTP submission (STARTTLS + AUTH PLAIN).
//!
//! It implements the test-clock contract of DESIGN.md: `POST /testbed/clock {"now": RFC 3339}`
//! sets its time; replies due by then are submitted before the request is answered, so the
//! runner knows the intake is idle when the answer comes.
//!
//! Submodules: [`inbound`] (the SMTP listener's handler), [`outbound`] (replies),
//! [`http`] (the test-clock endpoint).
//!
//! Architecture invariant: the intake talks to the provider only over sockets. It shares no
//! memory with the provider or the harness; everything it knows came over the wire.

pub mod dms;
pub mod http;
pub mod inbound;
pub mod outbound;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::pki::Identity;

/// Configuration of the reference intake.
#[derive(Clone)]
pub struct IntakeConfig {
    /// The Funktionspostfach address.
    pub address: String,
    /// Display name used in From.
    pub display_name: String,
    /// SMTP AUTH password at the provider.
    pub password: String,
    /// The provider's SMTP submission address.
    pub provider_submission: SocketAddr,
    /// PEM of the CA that signed the provider's certificate.
    pub ca_pem: String,
    /// The same CA in DER: trust anchor for X-de-mail-signature-certificate.
    pub ca_der: Vec<u8>,
    /// The intake listener's certificate.
    pub identity: Identity,
    /// Where the listener's PEM files are written (mailin-embedded reads files).
    pub tls_dir: PathBuf,
    /// How long after receipt the Empfangsbescheinigung goes out.
    pub processing_time: SignedDuration,
    /// Prefix of Aktenzeichen, e.g. "GA".
    pub aktenzeichen_prefix: String,
    /// De-Mail options set on the replies, e.g. Abholbestätigung and persönlich for a
    /// förmliche Zustellung (§ 5a VwZG).
    pub reply_options: Vec<crate::demail::DeMailOption>,
}

/// What the intake decided about an application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Form requirements met: an Empfangsbescheinigung goes out.
    Accepted,
    /// Form requirement not met: a notice naming the defect goes out.
    FormDefect(String),
}

/// An application the intake received.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    pub aktenzeichen: String,
    /// Intake's test-clock time at receipt.
    pub received_at: Timestamp,
    pub citizen: String,
    pub subject: String,
    pub demail_message_id: String,
    pub rfc_message_id: Option<String>,
    pub private_id: Option<String>,
    /// The X-de-mail-integrity verdict (PVD-IO §3.1.21) as text.
    pub integrity: String,
    pub verdict: Verdict,
    pub reply_due: Timestamp,
    pub replied: bool,
    /// Last error submitting the reply, if any.
    pub last_error: Option<String>,
}

/// A confirmation or notification the intake keeps as evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub message_type: String,
    pub demail_message_id: String,
    pub private_id: Option<String>,
    pub received_at: Timestamp,
}

/// Mutable state of the intake.
#[derive(Debug, Default, Serialize)]
pub struct IntakeState {
    /// The test clock; `None` until the runner posts a time.
    pub now: Option<Timestamp>,
    pub cases: Vec<Case>,
    pub evidence: Vec<Evidence>,
    next_number: u32,
}

impl IntakeState {
    fn next_aktenzeichen(&mut self, prefix: &str, at: Timestamp) -> String {
        self.next_number += 1;
        let year = at.to_zoned_datetime(berlin()).year();
        format!("{prefix}-{year}-{:05}", self.next_number)
    }
}

fn berlin() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(crate::clock::LEGAL_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Shared by the listener threads and the HTTP task.
pub(crate) struct Intake {
    pub config: IntakeConfig,
    pub state: Mutex<IntakeState>,
}

/// A running reference intake.
pub struct ReferenceIntake {
    inner: Arc<Intake>,
    smtp_addr: SocketAddr,
    http_addr: SocketAddr,
    http_task: JoinHandle<()>,
}

impl ReferenceIntake {
    /// Starts the SMTP listener (a mailin-embedded thread pool) and the HTTP endpoint.
    pub async fn start(config: IntakeConfig) -> Result<Self> {
        let (cert, key) = config.identity.write_pem(&config.tls_dir, "intake")?;
        let inner = Arc::new(Intake {
            config,
            state: Mutex::new(IntakeState::default()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("binding the intake's SMTP listener")?;
        let smtp_addr = listener.local_addr()?;
        let mut server = mailin_embedded::Server::new(inbound::Handler::new(inner.clone()));
        server
            .with_name("intake.localhost")
            .with_num_threads(4)
            .with_tcp_listener(listener)
            .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                cert_path: cert.display().to_string(),
                key_path: key.display().to_string(),
            })
            .map_err(|e| anyhow::anyhow!("intake TLS set-up: {e}"))?;
        // mailin-embedded's serve() never returns and has no shutdown (crates.md trap 3):
        // the thread lives until the process ends.
        std::thread::Builder::new()
            .name("intake-smtp".into())
            .spawn(move || {
                if let Err(e) = server.serve() {
                    tracing::error!("intake SMTP listener stopped: {e}");
                }
            })
            .context("starting the intake's SMTP thread")?;
        let http = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the intake's HTTP endpoint")?;
        let http_addr = http.local_addr()?;
        let router = http::router(inner.clone());
        let http_task = tokio::spawn(async move {
            if let Err(e) = axum::serve(http, router).await {
                tracing::error!("intake HTTP endpoint stopped: {e}");
            }
        });
        Ok(Self {
            inner,
            smtp_addr,
            http_addr,
            http_task,
        })
    }

    /// Where the provider pushes mail to.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    /// Base URL of the HTTP endpoint (test clock).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// A copy of the cases (for diagnostics only; checks use what crossed the wire).
    pub fn cases(&self) -> Vec<Case> {
        crate::provider::lock(&self.inner.state).cases.clone()
    }
}

impl Drop for ReferenceIntake {
    fn drop(&mut self) {
        self.http_task.abort();
    }
}
