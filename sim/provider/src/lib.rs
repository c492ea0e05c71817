//! The simulated accredited De-Mail provider (DMDA, De-Mail-Diensteanbieter).
//!
//! What it does: accounts with a highest authentication level, mailboxes, an SMTP submission
//! face (STARTTLS + AUTH PLAIN/LOGIN, enhanced status codes, size limit), a POP3 face for a
//! local message client (STLS and implicit TLS, levels normal and high), the PVD rules,
//! confirmations and Meldungen, push delivery of an institution's mail to its intake over SMTP
//! with STARTTLS, an HTTP face, and a relay face to other providers (SMTP over implicit TLS
//! with mutual TLS and a trust list, IT-BInfra-IO Tabelle 1 and §7).
//!
//! Submodules:
//! - [`store`]: accounts, mailboxes and the push queue, durable in SQLite (WAL).
//! - [`smtp`]: the SMTP listener and session state machine.
//! - [`pop3`]: the POP3 listeners (STLS, POP3S) for a local message client.
//! - [`accept`]: what happens to a message after DATA: PVD checks, metadata, Eingang,
//!   confirmations.
//! - [`delivery`]: the push queue into an institution's intake.
//! - [`login`]: logins and the Abholbestätigung at the first login at level high.
//! - [`delete`]: two-stage deletion with the 90-day lock and the level-high rules.
//! - [`fault`]: faults made on purpose (a broken or foreign seal on one message).
//! - [`gateway`]: the HTTP face: gateway API (list, fetch, acknowledge), directory (ÖVD)
//!   look-up, OpenAPI document.
//! - [`ui`]: the web UI on the HTTP face (`/ui/`, off unless [`Provider::enable_ui`]).
//!
//! Architecture invariant: the provider talks to an intake only over sockets; it never calls
//! intake code.

pub mod accept;
pub mod delete;
pub mod delivery;
pub mod fault;
pub mod gateway;
pub mod login;
pub mod pop3;
pub mod smtp;
pub mod store;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use demail_core::clock::VirtualClock;
use demail_core::pki::TestPki;
use demail_core::trace::Trace;
use demail_wire::AuthLevel;

pub use demail_core::Refusal;
pub use store::{StoredMessage, lock};

/// An ephemeral port on the loopback interface.
const LOOPBACK_ANY: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    0,
));

/// PVD-FU §4.1: messages of 20 MiB net must pass between providers; the submission face
/// accepts that much message text.
pub const MAX_MESSAGE_BYTES: usize = 20 * 1024 * 1024;

/// What kind of account holder an account has (ACM-FU §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A natural person.
    Person,
    /// An institution (Behörde, company) with Funktionspostfächer.
    Institution,
}

/// One account of the provider.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    /// The De-Mail address (lower case).
    pub address: String,
    /// Full name or institution name (X-de-mail-account-holder).
    pub holder: String,
    /// Person or institution.
    pub kind: AccountKind,
    /// The highest level this account can log in at.
    pub max_auth_level: AuthLevel,
    /// SMTP AUTH password.
    pub password: String,
    /// Bearer token for the HTTP gateway API (`None`: no API access).
    pub api_token: Option<String>,
    /// Whether the holder opened access for legally binding mail (Zugang eröffnet, § 7 Abs. 3
    /// De-Mail-G); published in the directory as `demailAccessOpening`.
    pub access_opened: bool,
    /// A programmed account (docs/scenarios.md, "Programmed citizens"): once the provider has
    /// accepted the holder's first submission, the account is "vollständig gesperrt" (fully
    /// blocked; the state is kept in the store, [`store::Store::close_account`]). From then on
    /// every message to it gets the Meldung "Empfänger-De-Mail-Konto vollständig gesperrt"
    /// (PVD-FU Schritt 43, type `closed-account` of PVD-IO Tabelle 22), and the holder can
    /// neither log in nor submit (525/550 5.7.13, RFC 5248 "User Account Disabled").
    pub closes_after_first_submission: bool,
}

/// Static configuration of one provider.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Short id used in traces ("dmda-a").
    pub id: String,
    /// Display name used in confirmations.
    pub name: String,
    /// The provider's own De-Mail domain; system addresses live here (PVD-FU §4.3).
    pub domain: String,
    /// Further domains whose accounts this provider hosts (institution subdomains).
    pub hosted_domains: Vec<String>,
    /// Accounts.
    pub accounts: Vec<AccountConfig>,
    /// Folder for `NNNNNN.eml` copies of every message on the wire (`None`: do not keep).
    pub message_dir: Option<std::path::PathBuf>,
    /// The SQLite database file (`None`: in memory, gone with the process).
    pub database: Option<std::path::PathBuf>,
    /// What that file must survive: a crash of the process (`serve`), or nothing but a clean
    /// end (a simulated world's store, `store::Durability`).
    pub durability: store::Durability,
    /// Where the SMTP submission face listens (`None`: an ephemeral port on 127.0.0.1).
    pub smtp_listen: Option<SocketAddr>,
    /// Where the HTTP face listens (`None`: an ephemeral port on 127.0.0.1).
    pub http_listen: Option<SocketAddr>,
    /// Where the provider-to-provider face listens: SMTP over implicit TLS with mutual TLS
    /// (IT-BInfra-IO Tabelle 1, port 1465 in the TR; `None`: an ephemeral port on 127.0.0.1).
    pub relay_listen: Option<SocketAddr>,
    /// Where the POP3 face listens: plain POP3 with STLS (RFC 2595; `None`: an ephemeral port
    /// on 127.0.0.1).
    pub pop3_listen: Option<SocketAddr>,
    /// Where the POP3S face listens: POP3 over implicit TLS (RFC 8314; `None`: an ephemeral
    /// port on 127.0.0.1).
    pub pop3s_listen: Option<SocketAddr>,
    /// A wire log shared with other providers of the same world (one numbering in trace
    /// order); `None`: this provider keeps its own in `message_dir`.
    pub wire_log: Option<Arc<WireLog>>,
    /// The world's delivery worker (`None`: the provider starts its own).
    pub delivery_hub: Option<delivery::DeliveryHub>,
    /// The trust list: provider domains whose certificates this provider accepts on its
    /// relay face (IT-BInfra-IO §7; the TR takes it from the BSI's TSL).
    pub trusted_peers: Vec<String>,
}

/// Where mail for a foreign domain goes: the peer provider's relay face and the name its
/// certificate must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub addr: SocketAddr,
    /// The peer provider's domain (TLS server name, certificate CN).
    pub provider_domain: String,
}

/// Counters the runner reads to decide that the world has settled.
#[derive(Debug, Default)]
pub struct Activity {
    /// SMTP and POP3 sessions currently open.
    open_sessions: AtomicUsize,
    /// Deliveries queued or in flight.
    pending_deliveries: AtomicUsize,
    /// Bumped on every command, delivery step and session change.
    generation: AtomicU64,
    /// Woken when a session closes or a delivery is done: the changes that can make the
    /// provider idle ([`Activity::changed`]).
    changed: tokio::sync::Notify,
}

/// A point-in-time reading of [`Activity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivitySnapshot {
    pub open_sessions: usize,
    pub pending_deliveries: usize,
    pub generation: u64,
}

impl ActivitySnapshot {
    /// No session open and no delivery pending.
    pub fn is_idle(&self) -> bool {
        self.open_sessions == 0 && self.pending_deliveries == 0
    }
}

impl Activity {
    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
    pub(crate) fn session_opened(&self) {
        self.open_sessions.fetch_add(1, Ordering::SeqCst);
        self.bump();
    }
    pub(crate) fn session_closed(&self) {
        self.open_sessions.fetch_sub(1, Ordering::SeqCst);
        self.bump();
        self.changed.notify_waiters();
    }
    pub(crate) fn delivery_queued(&self) {
        self.pending_deliveries.fetch_add(1, Ordering::SeqCst);
        self.bump();
    }
    pub(crate) fn delivery_done(&self) {
        self.pending_deliveries.fetch_sub(1, Ordering::SeqCst);
        self.bump();
        self.changed.notify_waiters();
    }
    /// Resolves at the next session close or finished delivery, the only changes after which
    /// the provider can be idle. Create it before reading [`Activity::snapshot`]: a
    /// `Notified` receives every wake-up from the moment it exists, so none is lost in
    /// between (the runner waits for idle this way instead of polling).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
    /// Reads the counters.
    pub fn snapshot(&self) -> ActivitySnapshot {
        ActivitySnapshot {
            open_sessions: self.open_sessions.load(Ordering::SeqCst),
            pending_deliveries: self.pending_deliveries.load(Ordering::SeqCst),
            generation: self.generation.load(Ordering::SeqCst),
        }
    }
}

/// Waits until every provider of `activity` is idle at once (no session open, no delivery
/// pending), woken by [`Activity::changed`] instead of polling; gives up after `limit` (wall
/// clock, a network timeout) and returns whether the world settled. A delivery is counted as
/// pending from before the 250 of the transaction that queued it, so there is no idle gap
/// between a hand-over and the work it causes at the peer.
pub async fn settle(activity: &[Arc<Activity>], limit: std::time::Duration) -> bool {
    wait_idle(activity, &vec![0; activity.len()], limit)
        .await
        .is_ok()
}

/// [`settle`] for a caller that holds `held[i]` idle sessions of its own open at provider `i`
/// (they do not count as activity). Returns the idle readings, or the last readings when
/// `limit` has passed. With several providers idle must be read twice in a row with the same
/// generations, so that no hand-over between two readings is missed. A busy provider becomes
/// idle only after one of its own sessions closes or deliveries ends, so waiting for its
/// wake-up suffices.
pub async fn wait_idle(
    activity: &[Arc<Activity>],
    held: &[usize],
    limit: std::time::Duration,
) -> Result<Vec<ActivitySnapshot>, Vec<ActivitySnapshot>> {
    let deadline = tokio::time::Instant::now() + limit;
    let read = || activity.iter().map(|a| a.snapshot()).collect::<Vec<_>>();
    loop {
        // Registered before reading: a wake-up between reading and waiting is not lost.
        let wakeups: Vec<_> = activity.iter().map(|a| a.changed()).collect();
        let first = read();
        let busy = first
            .iter()
            .zip(held)
            .position(|(s, &h)| s.pending_deliveries != 0 || s.open_sessions != h);
        let Some(busy) = busy else {
            if activity.len() > 1 && read() != first {
                continue;
            }
            return Ok(first);
        };
        let Some(wakeup) = wakeups.into_iter().nth(busy) else {
            return Err(first);
        };
        if tokio::time::timeout_at(deadline, wakeup).await.is_err() {
            return Err(read());
        }
    }
}

/// State shared by the provider's tasks.
pub(crate) struct Shared {
    pub config: ProviderConfig,
    pub clock: VirtualClock,
    pub trace: Trace,
    pub tls: Arc<rustls::ServerConfig>,
    pub store: std::sync::Mutex<store::Store>,
    pub deliveries: delivery::DeliveryHub,
    /// This provider's own `Arc` (weak), for queueing deliveries from `&Shared`.
    pub me: std::sync::OnceLock<std::sync::Weak<Shared>>,
    pub activity: Arc<Activity>,
    /// Signs X-de-mail-integrity and confirmations (PVD-IO §3.1.21, §3.5.1): an ECDSA P-256
    /// key with a certificate from the test PKI.
    pub signer: demail_wire::integrity::Signer,
    /// Keeps every message as it crossed the wire, if asked to.
    pub wire_log: Arc<WireLog>,
    /// Routing table: foreign De-Mail domain → peer provider (the TR uses DNS SRV records).
    pub routes: std::sync::Mutex<std::collections::BTreeMap<String, Route>>,
    /// Certificate and key (PEM) presented to peers and on the relay face.
    pub relay_identity: demail_core::pki::Identity,
    /// The test CA (PEM and DER): trust anchor for peers and for X-de-mail-signature-certificate.
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    /// Failed AUTH attempts per client address (submission face).
    pub auth_throttle: smtp::AuthThrottle,
    /// Seal faults armed for an account's next submission (normalised address; [`fault`]).
    pub seal_faults: std::sync::Mutex<std::collections::BTreeMap<String, fault::SealFault>>,
    /// The key of a CA nobody trusts, for [`fault::SealFault::Foreign`].
    pub foreign_signer: fault::ForeignSigner,
    /// The scenario's fault plan (`[[fault]]`, docs/faults.md); empty by default.
    pub fault_plan: std::sync::Mutex<Arc<fault::FaultPlan>>,
    /// Messages whose Abholbestätigung a fault withholds for good.
    pub withheld: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Whether the web UI answers ([`Provider::enable_ui`]; off by default).
    pub ui_enabled: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Asks the fault plan about one candidate event ([`fault::FaultPlan::hit`]); a hit is
    /// traced as `fault.injected` about `message_id` (empty when there is none yet).
    pub fn fault(
        &self,
        face: fault::Face,
        point: Option<fault::Point>,
        mailbox: Option<&str>,
        message_id: &str,
    ) -> Option<fault::Hit> {
        let plan = lock(&self.fault_plan).clone();
        let hit = plan.hit(face, point, mailbox, self.clock.timestamp().as_second())?;
        self.trace
            .emit(demail_core::trace::EventKind::FaultInjected {
                face: match point {
                    Some(p) => format!(
                        "provider:{} {} {}",
                        self.config.id,
                        face.as_str(),
                        p.as_str()
                    ),
                    None => format!("provider:{} {}", self.config.id, face.as_str()),
                },
                fault: format!("{}: {}", hit.id, hit.action.name()),
                message_id: message_id.to_string(),
                detail: format!(
                    "planned fault {:?} hit candidate {} at this face{}",
                    hit.id,
                    hit.candidate,
                    mailbox.map_or(String::new(), |m| format!(" ({m})"))
                ),
            });
        Some(hit)
    }

    /// Whether `address` belongs to a domain this provider hosts.
    pub fn hosts(&self, address: &str) -> bool {
        let Some(domain) = demail_wire::domain_of(address) else {
            return false;
        };
        std::iter::once(&self.config.domain)
            .chain(&self.config.hosted_domains)
            .any(|base| domain_matches(&domain, base))
    }

    /// The peer provider for a foreign address, if there is a route (for the domain or a
    /// parent domain: institutions have their own subdomains, ACM-FU §2.1.2).
    pub fn route(&self, address: &str) -> Option<Route> {
        let domain = demail_wire::domain_of(address)?;
        lock(&self.routes)
            .iter()
            .filter(|(base, _)| domain_matches(&domain, base))
            .max_by_key(|(base, _)| base.len())
            .map(|(_, r)| r.clone())
    }
}

/// Routes every provider's mail for the others' domains to their relay faces (the TR uses
/// DNS SRV records for this, IT-BInfra-IO §5).
pub fn connect_all(providers: &[Provider]) {
    for p in providers {
        for q in providers {
            if p.id() == q.id() {
                continue;
            }
            for d in q.domains() {
                p.set_route(
                    &d,
                    Route {
                        addr: q.relay_addr(),
                        provider_domain: q.domain().to_string(),
                    },
                );
            }
        }
    }
}

/// Whether `domain` is `base` or a subdomain of it (case-insensitive).
pub fn domain_matches(domain: &str, base: &str) -> bool {
    let (d, b) = (domain.to_ascii_lowercase(), base.to_ascii_lowercase());
    d == b || d.ends_with(&format!(".{b}"))
}

/// Writes each message that crosses the provider's wire to `<dir>/NNNNNN.eml`, numbered in
/// trace order. The number is handed out even when writing is off, so the trace is the same
/// either way.
#[derive(Debug)]
pub struct WireLog {
    dir: Option<std::path::PathBuf>,
    next: std::sync::atomic::AtomicU64,
}

impl WireLog {
    /// A log writing into `dir`, or only numbering when `None`.
    pub fn new(dir: Option<std::path::PathBuf>) -> Self {
        Self {
            dir,
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A log writing into `dir` that continues after the highest `NNNNNN.eml` already there,
    /// so that a restart of a long-running provider (`serve`) never overwrites the copies of
    /// an earlier run. A missing folder starts at 1 like [`WireLog::new`]; `None` only numbers,
    /// from 1. Scenario runs use [`WireLog::new`]: their run folder starts empty.
    pub fn resuming(dir: Option<std::path::PathBuf>) -> std::io::Result<Self> {
        let last = match &dir {
            Some(d) => highest_kept(d)?,
            None => 0,
        };
        Ok(Self {
            dir,
            next: std::sync::atomic::AtomicU64::new(last),
        })
    }

    /// Records `raw` and returns its name relative to the run folder (`messages/000001.eml`).
    /// The file is written before this returns (into the page cache: it survives kill -9).
    pub fn record(&self, raw: &[u8]) -> String {
        let copy = self.reserve();
        copy.write(raw);
        copy.name
    }

    /// Hands out the next name (and number) without writing yet: the caller writes the copy
    /// with [`KeptCopy::write`] when it suits it. A submission reserves its copy inside the
    /// store's transaction and writes it after the lock is released (`accept::Work`), because
    /// creating one file per message costs on some file systems as much as the rest of the
    /// transaction; still before the 250.
    pub fn reserve(&self) -> KeptCopy {
        let n = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let file = format!("{n:06}.eml");
        KeptCopy {
            path: self.dir.as_ref().map(|d| d.join(&file)),
            name: format!("messages/{file}"),
        }
    }
}

/// A wire-log name handed out by [`WireLog::reserve`], and where its file goes.
#[derive(Clone, Debug)]
pub struct KeptCopy {
    /// The name relative to the run folder (`messages/000001.eml`), as the trace names it.
    pub name: String,
    /// The file, or `None` when the log only numbers (`--no-messages`).
    path: Option<std::path::PathBuf>,
}

impl KeptCopy {
    /// Writes the copy (nothing when the log only numbers).
    pub fn write(&self, raw: &[u8]) {
        if let Some(path) = &self.path {
            write_kept(path, raw);
        }
    }
}

/// The highest number `n` of a file `<n>.eml` (digits only) in `dir`; 0 when there is none or
/// the folder does not exist.
fn highest_kept(dir: &std::path::Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut highest = 0;
    for entry in entries {
        let name = entry?.file_name();
        let n = name
            .to_str()
            .and_then(|n| n.strip_suffix(".eml"))
            .filter(|stem| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(n) = n {
            highest = highest.max(n);
        }
    }
    Ok(highest)
}

/// Writes one wire-log file; the folder is made when the write finds it missing (the first
/// message), so that a message costs one file creation and not a mkdir and a stat more.
fn write_kept(path: &std::path::Path, raw: &[u8]) {
    let written = match std::fs::write(path, raw) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(path, raw)),
        other => other,
    };
    if let Err(e) = written {
        tracing::warn!("cannot keep {}: {e}", path.display());
    }
}

/// A running provider.
pub struct Provider {
    shared: Arc<Shared>,
    submission_addr: SocketAddr,
    http_addr: SocketAddr,
    relay_addr: SocketAddr,
    pop3_addr: SocketAddr,
    pop3s_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Provider {
    /// Binds the SMTP submission face on `127.0.0.1:0` and starts the delivery worker.
    pub async fn start(
        config: ProviderConfig,
        clock: VirtualClock,
        trace: Trace,
        pki: &TestPki,
    ) -> Result<Self> {
        let identity = pki.issue(
            &format!("smtp.{}", config.domain),
            &["localhost", "127.0.0.1", &format!("smtp.{}", config.domain)],
        )?;
        let tls = identity.server_config()?;
        // IT-BInfra-IO Tabelle 2 names provider certificates CN=<DMDA domain>, OU=De-Mail.
        let signing = pki.issue(&config.domain, &[&config.domain])?;
        let signer = demail_wire::integrity::Signer::ecdsa_p256_from_pkcs8_der(
            &signing.key_der,
            signing.cert_der.to_vec(),
        )
        .map_err(|e| anyhow::anyhow!("provider signing key: {e}"))?;
        let wire_log = config
            .wire_log
            .clone()
            .unwrap_or_else(|| Arc::new(WireLog::new(config.message_dir.clone())));
        let relay_identity =
            pki.issue(&config.domain, &[&config.domain, "localhost", "127.0.0.1"])?;
        let relay_tls = smtp::RelayTls {
            proper: relay_identity.mutual_server_config(pki.root_store()?)?,
            // For the fault plan's `cert-expired` and `cert-unknown` (docs/faults.md): the
            // same names, once with a validity long over, once from a CA of its own.
            expired: pki
                .issue_expired(&config.domain, &[&config.domain, "localhost", "127.0.0.1"])?
                .mutual_server_config(pki.root_store()?)?,
            unknown: TestPki::generate("unknown to every trust list")?
                .issue(&config.domain, &[&config.domain, "localhost", "127.0.0.1"])?
                .mutual_server_config(pki.root_store()?)?,
        };
        // The POP3 faces ask for a client certificate of the test CA and require none: a
        // certificate of an account is how a message client logs in at level high.
        let pop3_identity = pki.issue(
            &format!("pop3.{}", config.domain),
            &["localhost", "127.0.0.1", &format!("pop3.{}", config.domain)],
        )?;
        let pop3_tls = pop3_identity.optional_client_server_config(pki.root_store()?)?;
        let store = store::Store::open_with(
            config.database.as_deref(),
            &config.accounts,
            config.durability,
        )?;
        let pending = store.pending_deliveries()?;
        let (hub, own_worker) = match &config.delivery_hub {
            Some(h) => (h.clone(), None),
            None => {
                let (h, task) = delivery::DeliveryHub::start();
                (h, Some(task))
            }
        };
        let shared = Arc::new(Shared {
            config,
            clock,
            trace,
            tls,
            store: std::sync::Mutex::new(store),
            deliveries: hub,
            me: std::sync::OnceLock::new(),
            activity: Arc::new(Activity::default()),
            signer,
            wire_log,
            routes: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            relay_identity,
            ca_pem: pki.ca_pem().to_string(),
            ca_der: pki.ca_der().to_vec(),
            auth_throttle: smtp::AuthThrottle::default(),
            seal_faults: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            foreign_signer: fault::ForeignSigner::default(),
            fault_plan: std::sync::Mutex::new(Arc::new(fault::FaultPlan::default())),
            withheld: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            ui_enabled: std::sync::atomic::AtomicBool::new(false),
        });
        let smtp_at = shared.config.smtp_listen.unwrap_or(LOOPBACK_ANY);
        let listener = TcpListener::bind(smtp_at)
            .await
            .with_context(|| format!("binding the provider's SMTP submission port {smtp_at}"))?;
        let submission_addr = listener.local_addr()?;
        let _ = shared.me.set(Arc::downgrade(&shared));
        // Pushes left in the queue by an earlier run of this provider go out first, in order.
        for q in pending {
            shared.activity.delivery_queued();
            let job = delivery::Job {
                queue_id: q.id,
                target: q.target,
                envelope_from: q.envelope_from,
                mailbox: q.mailbox,
                message_id: q.message_id,
                raw: q.raw,
            };
            if !shared.deliveries.send(&shared, job) {
                shared.activity.delivery_done();
            }
        }
        let accept_task = tokio::spawn(smtp::serve(listener, shared.clone()));
        let relay_at = shared.config.relay_listen.unwrap_or(LOOPBACK_ANY);
        let relay_listener = TcpListener::bind(relay_at)
            .await
            .with_context(|| format!("binding the provider's relay port {relay_at}"))?;
        let relay_addr = relay_listener.local_addr()?;
        let relay_task = tokio::spawn(smtp::serve_relay(relay_listener, shared.clone(), relay_tls));
        let http_at = shared.config.http_listen.unwrap_or(LOOPBACK_ANY);
        let http = TcpListener::bind(http_at)
            .await
            .with_context(|| format!("binding the provider's HTTP port {http_at}"))?;
        let http_addr = http.local_addr()?;
        let router = gateway::router(shared.clone());
        let http_task = tokio::spawn(async move {
            // The peer's address reaches the handlers: the web UI answers only on loopback.
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(http, service).await {
                tracing::error!("provider HTTP face stopped: {e}");
            }
        });
        let pop3 = pop3::Face::new(shared.clone(), pop3_tls);
        let pop3_at = shared.config.pop3_listen.unwrap_or(LOOPBACK_ANY);
        let pop3_listener = TcpListener::bind(pop3_at)
            .await
            .with_context(|| format!("binding the provider's POP3 port {pop3_at}"))?;
        let pop3_addr = pop3_listener.local_addr()?;
        let pop3s_at = shared.config.pop3s_listen.unwrap_or(LOOPBACK_ANY);
        let pop3s_listener = TcpListener::bind(pop3s_at)
            .await
            .with_context(|| format!("binding the provider's POP3S port {pop3s_at}"))?;
        let pop3s_addr = pop3s_listener.local_addr()?;
        let pop3_task = tokio::spawn(pop3::serve(pop3_listener, pop3.clone()));
        let pop3s_task = tokio::spawn(pop3::serve_tls(pop3s_listener, pop3));
        let mut tasks = vec![accept_task, http_task, relay_task, pop3_task, pop3s_task];
        if let Some(worker) = own_worker {
            // Alone (serve, tests) nobody else calls `delivery::retry_due`: a timer does.
            tasks.push(worker);
            tasks.push(delivery::spawn_retry_timer(Arc::downgrade(&shared)));
        }
        Ok(Self {
            shared,
            submission_addr,
            http_addr,
            relay_addr,
            pop3_addr,
            pop3s_addr,
            tasks,
        })
    }

    /// The SMTP submission address (STARTTLS, AUTH).
    pub fn submission_addr(&self) -> SocketAddr {
        self.submission_addr
    }

    /// Opens the trusted submission listener on `addr` (a loopback address; port 0 picks one)
    /// and returns where it listens: plain SMTP without TLS or AUTH, the envelope sender names
    /// the account (like Postfix's `permit_mynetworks`). Off unless this is called; meant for
    /// load benchmarks on one machine (`scripts/bench-smtp.sh`). What happens after MAIL FROM
    /// is the normal submission path ([`smtp`] module documentation).
    pub async fn open_trusted_submission(&mut self, addr: SocketAddr) -> Result<SocketAddr> {
        if !addr.ip().is_loopback() {
            anyhow::bail!(
                "the trusted submission listener must be on a loopback address, not {addr}"
            );
        }
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the provider's trusted submission port {addr}"))?;
        let local = listener.local_addr()?;
        self.tasks.push(tokio::spawn(smtp::serve_trusted(
            listener,
            self.shared.clone(),
        )));
        Ok(local)
    }

    /// Switches the web UI on (`http://<http_addr>/ui/`, `docs/ui.md`): it then answers
    /// requests from loopback peers with a loopback `Host`. Makes the store's indexes for
    /// its look-ups by Message-ID and In-Reply-To.
    pub fn enable_ui(&self) -> Result<()> {
        lock(&self.shared.store).ensure_ui_indexes()?;
        self.shared.ui_enabled.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The HTTP face: gateway API and directory (`http://<addr>/`).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The provider-to-provider face (implicit TLS, mutual TLS).
    pub fn relay_addr(&self) -> SocketAddr {
        self.relay_addr
    }

    /// The POP3 face for a local message client: plain POP3, STLS before any login.
    pub fn pop3_addr(&self) -> SocketAddr {
        self.pop3_addr
    }

    /// The POP3S face: POP3 over implicit TLS, with an optional client certificate.
    pub fn pop3s_addr(&self) -> SocketAddr {
        self.pop3s_addr
    }

    /// The provider's domain.
    pub fn domain(&self) -> &str {
        &self.shared.config.domain
    }

    /// Domains this provider hosts (its own and its institutions').
    pub fn domains(&self) -> Vec<String> {
        let mut d = vec![self.shared.config.domain.clone()];
        d.extend(self.shared.config.hosted_domains.iter().cloned());
        d
    }

    /// Routes mail for `domain` to a peer provider.
    pub fn set_route(&self, domain: &str, route: Route) {
        lock(&self.shared.routes).insert(domain.to_ascii_lowercase(), route);
    }

    /// The provider's id.
    pub fn id(&self) -> &str {
        &self.shared.config.id
    }

    /// Logs a (simulated) account holder in at `level`. At level high this issues the
    /// Abholbestätigungen due (PVD-FU §7.1); their X-de-mail-message-ids are returned.
    ///
    /// A refused login (a level above the account's, a closed account: 525 5.7.13) is a
    /// protocol answer like any other: it is also traced as `provider.refused` at stage
    /// `LOGIN`.
    pub fn login(&self, address: &str, level: AuthLevel) -> Result<Vec<String>, Refusal> {
        let result = login::login(&self.shared, address, level);
        if let Err(r) = &result {
            self.shared
                .trace
                .emit(demail_core::trace::EventKind::ProviderRefused {
                    provider: self.shared.config.id.clone(),
                    stage: "LOGIN".to_string(),
                    from: Some(demail_wire::normalize_address(address)),
                    code: r.code,
                    enhanced: r.enhanced.to_string(),
                    reason: r.text.clone(),
                    eml: None,
                });
        }
        result
    }

    /// Arms a seal fault for the next message `address` submits (any face); that submission
    /// spends it ([`fault`]). Arming again replaces the fault; [`Provider::disarm_seal_fault`]
    /// takes it back when the submission did not happen.
    pub fn arm_seal_fault(&self, address: &str, fault: fault::SealFault) {
        lock(&self.shared.seal_faults).insert(demail_wire::normalize_address(address), fault);
    }

    /// Sets the fault plan of a scenario (docs/faults.md); replaces an earlier one.
    pub fn set_fault_plan(&self, plan: Arc<fault::FaultPlan>) {
        *lock(&self.shared.fault_plan) = plan;
    }

    /// Takes back a seal fault that no submission spent; returns whether one was armed.
    pub fn disarm_seal_fault(&self, address: &str) -> bool {
        lock(&self.shared.seal_faults)
            .remove(&demail_wire::normalize_address(address))
            .is_some()
    }

    /// Moves a message into the holder's Papierkorb, if the rules allow it at `level`
    /// (PVD-FU §3.1.3.9); the error names the rule.
    pub fn delete(&self, address: &str, message_id: &str, level: AuthLevel) -> Result<(), Refusal> {
        delete::trash(&self.shared, address, message_id, level)
    }

    /// Deletes a message from the Papierkorb for good.
    pub fn purge(&self, address: &str, message_id: &str) -> Result<(), Refusal> {
        delete::purge(&self.shared, address, message_id)
    }

    /// The messages in a mailbox, in Eingang order.
    pub fn mailbox(&self, address: &str) -> Result<Vec<StoredMessage>> {
        lock(&self.shared.store).mailbox(address)
    }

    /// Activity counters for settling.
    pub fn activity(&self) -> Arc<Activity> {
        self.shared.activity.clone()
    }

    /// Stops the listener and the delivery worker.
    pub fn shutdown(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Like [`Provider::shutdown`], and returns when the listeners are closed (their tasks
    /// are gone, so a new connection is refused). SMTP sessions already open go on: watch
    /// [`Provider::activity`] for them to end.
    pub async fn stop(&mut self) {
        self.shutdown();
        for t in self.tasks.drain(..) {
            // Cancelled (the usual outcome) or finished: either way the task is gone.
            let _ = t.await;
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire log numbers at once; a reserved copy's file appears only when it is written,
    /// a recorded one at once; a missing folder is made.
    #[test]
    fn wire_log_reserves_and_writes() {
        let dir = std::env::temp_dir().join(format!("demail-wirelog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = WireLog::new(Some(dir.join("messages")));
        assert_eq!(log.record(b"one"), "messages/000001.eml");
        assert_eq!(
            std::fs::read(dir.join("messages/000001.eml")).unwrap(),
            b"one"
        );
        let copy = log.reserve();
        assert_eq!(copy.name, "messages/000002.eml");
        assert!(!dir.join("messages/000002.eml").exists(), "not yet written");
        assert_eq!(log.record(b"three"), "messages/000003.eml");
        copy.write(b"two");
        assert_eq!(
            std::fs::read(dir.join("messages/000002.eml")).unwrap(),
            b"two"
        );
        let counting = WireLog::new(None);
        let c = counting.reserve();
        c.write(b"nothing");
        assert_eq!(c.name, "messages/000001.eml");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A resuming log continues after the highest `NNNNNN.eml` in its folder and ignores other
    /// names; a missing folder and an only-numbering log start at 1.
    #[test]
    fn wire_log_resumes_after_the_highest_copy() {
        let dir = std::env::temp_dir().join(format!("demail-wirelog-r-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = WireLog::resuming(Some(dir.clone())).unwrap();
        assert_eq!(log.record(b"one"), "messages/000001.eml");
        for name in ["000007.eml", "1234567.eml", "x12.eml", "000099.txt", ".eml"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        std::fs::remove_file(dir.join("1234567.eml")).unwrap();
        let log = WireLog::resuming(Some(dir.clone())).unwrap();
        assert_eq!(log.record(b"eight"), "messages/000008.eml");
        assert_eq!(std::fs::read(dir.join("000001.eml")).unwrap(), b"one");
        assert_eq!(std::fs::read(dir.join("000007.eml")).unwrap(), b"x");
        let counting = WireLog::resuming(None).unwrap();
        assert_eq!(counting.record(b"-"), "messages/000001.eml");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
