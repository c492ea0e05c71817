//! The reference municipal intake: a system under test shipped with the test-bed.
//!
//! It plays a city's Funktionspostfächer (functional mailboxes; the default is Dresden-like:
//! stadtverwaltung@, gewerbeangelegenheiten@, wohnen@ and petition@ on
//! `dresden.de-mail.de`, see `dresden.toml` and `docs/intake.md`). De-Mails arrive pushed on
//! its own SMTP listener (mailin-embedded, STARTTLS with a certificate of the test PKI) or, in
//! pull mode, from the provider's gateway API ([`pull`]). For each message it:
//!
//! 1. classifies it into a procedure (the mailbox's procedure, or keywords in the subject for a
//!    general mailbox): Gewerbeanzeige, Antrag auf Wohnberechtigungsschein, Petition, general
//!    request ([`config`]);
//! 2. applies the form rule ([`form_rule`]): a Schriftform procedure is binding only as an
//!    absenderbestätigte De-Mail at level high with a valid seal, and only while § 3a Abs. 3
//!    VwVfG still lets De-Mail replace the written form;
//! 3. opens a case with an Aktenzeichen (file number), computes the deadlines receipt starts
//!    (`law::compute`), and answers with an Empfangsbescheinigung (certificate of receipt)
//!    that carries them in a JSON attachment, or with a notice naming the form defect and the
//!    remedy ([`outbound`]);
//! 4. for procedures that end with a Bescheid (decision), serves it förmlich by De-Mail
//!    against Abholbestätigung (§ 5a VwZG), records the day of Zustellung from the
//!    Abholbestätigung or by the fiction of § 5a Abs. 4 VwZG, tells the recipient of the
//!    fiction, and computes the Widerspruchsfrist; where De-Mail service is impossible
//!    (no access opened, § 5a repealed, a Meldung came back) it records a postal fallback
//!    ([`service`]).
//!
//! It sends replies, Bescheide and notices only in its office hours ([`office_hours`]); work
//! due outside waits for the next opening, unless a reply's legal deadline would pass.
//!
//! It implements the test-clock contract of DESIGN.md: `POST /testbed/clock {"now": RFC 3339}`
//! sets its time; everything due by then is done before the request is answered, so the
//! runner knows the intake is idle when the answer comes. `GET /testbed/events` lists what it
//! did as `intake.*` trace events ([`http`]).
//!
//! Architecture invariant: the intake talks to the provider only over sockets. It shares no
//! memory with the provider or the harness; everything it knows came over the wire.

pub mod archive;
pub mod cases;
pub mod config;
pub mod dms;
pub mod flaw;
pub mod form_rule;
pub mod http;
pub mod inbound;
pub mod office_hours;
pub mod outbound;
pub mod pop3;
pub mod pull;
pub mod service;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde::Serialize;
use tokio::task::JoinHandle;

use demail_core::pki::Identity;
use demail_core::trace::EventKind;

/// Runtime configuration of the reference intake: the configuration file plus what the
/// world it runs in provides (sockets, credentials, certificates).
#[derive(Clone)]
pub struct IntakeConfig {
    /// City, Funktionspostfächer and procedures (`config.rs`, `docs/intake.md`).
    pub file: config::IntakeFile,
    /// SMTP AUTH password at the provider, per mailbox address (normalised).
    pub passwords: BTreeMap<String, String>,
    /// The provider's SMTP submission address.
    pub provider_submission: SocketAddr,
    /// Base URL of the provider's HTTP face (directory look-ups before a förmliche Zustellung).
    pub provider_http: Option<String>,
    /// PEM of the CA that signed the provider's certificate.
    pub ca_pem: String,
    /// The same CA in DER: trust anchor for X-de-mail-signature-certificate.
    pub ca_der: Vec<u8>,
    /// The intake listener's certificate.
    pub identity: Identity,
    /// Where the listener's PEM files are written (mailin-embedded reads files).
    pub tls_dir: PathBuf,
    /// De-Mail options set on the replies to cases, e.g. Abholbestätigung and persönlich
    /// (then the reply itself is served förmlich and tracked like a Bescheid).
    pub reply_options: Vec<demail_wire::DeMailOption>,
    /// Base URL of the document management system (`docs/dms.md`); `None`: no hand-over.
    pub dms_url: Option<String>,
    /// The DMS outbox's SQLite file; `None`: in memory (lives as long as the intake).
    pub dms_outbox: Option<PathBuf>,
    /// Pull mode: API token per mailbox for the provider's gateway API (`pull.rs`); `None`:
    /// the provider pushes to the intake's SMTP listener.
    pub pull_tokens: Option<BTreeMap<String, String>>,
    /// POP3 mode: the provider's POP3 address (plain port, STLS before the login;
    /// `pop3.rs`), logging in with `passwords`; `None`: no POP3.
    pub provider_pop3: Option<SocketAddr>,
    /// Windows of the intake's own clock in which its SMTP listener is down for maintenance:
    /// it answers 451 4.3.2, so the provider must retry (scenario `[intake] outages`).
    pub outages: Vec<(Timestamp, Timestamp)>,
    /// Where the SMTP listener binds; `None`: a free port on 127.0.0.1.
    pub smtp_listen: Option<SocketAddr>,
    /// Where the HTTP endpoint (test clock, events, cases) binds; `None`: a free port on
    /// 127.0.0.1.
    pub http_listen: Option<SocketAddr>,
    /// Rules broken on purpose ([`flaw`]; empty: the reference behaviour).
    pub flaws: flaw::Flaws,
    /// The closed-case archive's SQLite file ([`archive`]): with one, closed cases and handled
    /// evidence leave memory at the end of a clock step once what is in memory has more than
    /// doubled since the last sweep (load and scenario runs); `None`: everything stays in
    /// memory (`GET /testbed/cases` lists every case).
    pub archive: Option<PathBuf>,
}

/// What the intake decided about an application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Form requirements met (or none): the case is binding; an Empfangsbescheinigung goes out.
    Accepted,
    /// Form requirement not met: a notice naming the defect and the remedy goes out.
    FormDefect { reason: String, remedy: String },
}

/// A deadline the intake computed for a case, with its sources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseDeadline {
    pub rule: String,
    pub title: String,
    /// "latest", "earliest" or "effective".
    pub kind: String,
    pub date: String,
    pub sources: Vec<String>,
}

impl CaseDeadline {
    fn from_law(d: &demail_calendar::Deadline) -> Self {
        Self {
            rule: d.rule.clone(),
            title: d.title.clone(),
            kind: match d.kind {
                demail_calendar::DeadlineKind::Latest => "latest",
                demail_calendar::DeadlineKind::Earliest => "earliest",
                demail_calendar::DeadlineKind::Effective => "effective",
            }
            .into(),
            date: d.date().to_string(),
            sources: d.sources.clone(),
        }
    }

    /// "rule: date (kind)".
    pub fn label(&self) -> String {
        format!("{}: {} ({})", self.rule, self.date, self.kind)
    }
}

/// An application the intake received.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    pub aktenzeichen: String,
    /// The Funktionspostfach it arrived in.
    pub mailbox: String,
    /// Procedure id (configuration).
    pub procedure: String,
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
    /// Deadlines started by receipt (only for a binding case).
    pub deadlines: Vec<CaseDeadline>,
    pub reply_due: Timestamp,
    pub replied: bool,
    /// When the Bescheid is due (procedures that end with one, binding cases only).
    pub bescheid_due: Option<Timestamp>,
    pub bescheid_sent: bool,
    /// Last error submitting a reply, if any.
    pub last_error: Option<String>,
}

/// How a document sent for förmliche Zustellung stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ServiceStatus {
    /// Sent; neither Abholbestätigung nor the fiction day yet.
    Sent,
    /// Served on `date` (by Abholbestätigung or fiction).
    Served { mode: String, date: String },
    /// Not served by De-Mail; another channel (post) was chosen.
    Fallback { reason: String },
}

/// A document the intake serves förmlich (§ 5a VwZG): a Bescheid, or a reply sent with
/// Abholbestätigung.
#[derive(Clone, Debug, Serialize)]
pub struct Service {
    pub aktenzeichen: String,
    pub recipient: String,
    /// RFC 5322 Message-ID of the document (Abholbestätigung and Meldungen refer to it).
    pub rfc_message_id: String,
    pub sent_at: Timestamp,
    /// For a Verwaltungsakt: whether it carries a Rechtsbehelfsbelehrung (decides the
    /// Widerspruchsfrist); `None` for other documents.
    pub rechtsbehelfsbelehrung: Option<bool>,
    pub status: ServiceStatus,
    /// Whether the recipient was told of the fiction (§ 5a Abs. 4 Satz 5 VwZG).
    pub fiction_notice_sent: bool,
    /// When that notice goes out: the first opening of the office hours after the intake
    /// recorded the fiction.
    pub fiction_notice_due: Option<Timestamp>,
}

/// A confirmation or notification the intake keeps as evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub message_type: String,
    pub demail_message_id: String,
    pub private_id: Option<String>,
    /// The In-Reply-To of the confirmation: the original's Message-ID.
    pub in_reply_to: Option<String>,
    /// For a Meldung: its type (PVD-IO Tabelle 22).
    pub notification_type: Option<String>,
    pub received_at: Timestamp,
    /// Whether the intake has acted on it.
    pub handled: bool,
}

/// Mutable state of the intake.
#[derive(Debug, Default, Serialize)]
pub struct IntakeState {
    /// The test clock; `None` until the runner posts a time.
    pub now: Option<Timestamp>,
    pub cases: cases::Cases,
    pub evidence: Vec<Evidence>,
    pub services: Vec<Service>,
    /// Everything the intake did, for `GET /testbed/events` (the runner copies it into the
    /// trace).
    pub events: Vec<EventKind>,
    /// Aktenzeichen counters per prefix.
    numbers: BTreeMap<String, u32>,
    /// How many events left memory ([`archive::EVENTS_KEPT`]): `events[0]`
    /// is event number `events_dropped` of `GET /testbed/events`.
    #[serde(skip)]
    pub events_dropped: usize,
}

impl IntakeState {
    fn next_aktenzeichen(&mut self, prefix: &str, at: Timestamp) -> String {
        let n = self.numbers.entry(prefix.to_string()).or_insert(0);
        *n += 1;
        let year = at.to_zoned_datetime(berlin()).year();
        format!("{prefix}-{year}-{:05}", *n)
    }
}

fn berlin() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(demail_core::clock::LEGAL_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Shared by the listener threads and the HTTP task.
pub(crate) struct Intake {
    pub config: IntakeConfig,
    pub state: Mutex<IntakeState>,
    /// The DMS hand-over, if configured: durable outbox and client.
    pub dms: Option<(Mutex<dms::DmsOutbox>, dms::DmsClient)>,
    /// The open submission session of the current clock step (`outbound::submit`).
    pub session: tokio::sync::Mutex<Option<outbound::Session>>,
    /// STARTTLS parameters for submission (the provider's CA as the only root), built once.
    pub submission_tls: std::sync::OnceLock<lettre::transport::smtp::client::TlsParameters>,
    /// The closed-case archive, if configured.
    pub archive: Option<Mutex<archive::Archive>>,
    /// The HTTP client for the provider's directory and gateway (look-ups before a
    /// förmliche Zustellung, pull mode), built once: a new client per request cost a
    /// client's set-up each time. It keeps no idle connections.
    pub provider_http_client: reqwest::Client,
    /// Held through a whole clock step: the step's work keeps indices into `state.cases`
    /// across awaits, and only the step's end (the archive sweep) removes cases.
    pub step: tokio::sync::Mutex<()>,
    /// Set when the [`ReferenceIntake`] is dropped: the SMTP listener's thread cannot be
    /// stopped (crates.md trap 3) and holds this `Intake`, so the state is emptied then and
    /// the listener refuses every later session.
    pub stopped: std::sync::atomic::AtomicBool,
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
        let dms = match &config.dms_url {
            None => None,
            Some(url) => Some((
                Mutex::new(
                    dms::DmsOutbox::open(config.dms_outbox.as_deref())
                        .context("opening the DMS outbox")?,
                ),
                dms::DmsClient::new(url).with_context(|| format!("DMS URL {url}"))?,
            )),
        };
        let archive = match &config.archive {
            Some(path) => Some(Mutex::new(archive::Archive::open(path)?)),
            None => None,
        };
        // No idle connections kept: each request opens its own, as a client per request did
        // (a provider restarted by a scenario never meets a stale pooled connection).
        let provider_http_client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .context("building the HTTP client for the provider")?;
        let inner = Arc::new(Intake {
            config,
            state: Mutex::new(IntakeState::default()),
            dms,
            session: tokio::sync::Mutex::new(None),
            submission_tls: std::sync::OnceLock::new(),
            archive,
            provider_http_client,
            step: tokio::sync::Mutex::new(()),
            stopped: Default::default(),
        });
        // TCP_NODELAY on the listening socket is inherited by the accepted ones (Linux), so
        // mailin-embedded's replies are not held back by Nagle's algorithm.
        let smtp_listen = inner
            .config
            .smtp_listen
            .unwrap_or(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)));
        let sock = if smtp_listen.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .context("the intake's SMTP socket")?;
        sock.set_nodelay(true)?;
        sock.set_reuseaddr(true)?;
        sock.bind(smtp_listen)
            .with_context(|| format!("binding the intake's SMTP listener to {smtp_listen}"))?;
        let listener = sock.listen(128)?.into_std()?;
        listener.set_nonblocking(false)?;
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
        let http_listen = inner
            .config
            .http_listen
            .unwrap_or(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)));
        let http = tokio::net::TcpListener::bind(http_listen)
            .await
            .with_context(|| format!("binding the intake's HTTP endpoint to {http_listen}"))?;
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
        demail_core::sync::lock(&self.inner.state).cases.to_vec()
    }
}

impl Drop for ReferenceIntake {
    /// Stops the HTTP endpoint and empties the state: the SMTP listener's thread lives on
    /// (it has no shutdown), and without this it kept every case and the events of the run
    /// until the process ended (each scenario's, in a run of many).
    fn drop(&mut self) {
        self.http_task.abort();
        self.inner
            .stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let state = std::mem::take(&mut *demail_core::sync::lock(&self.inner.state));
        drop(state);
    }
}
