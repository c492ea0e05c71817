//! The provider's SMTP submission face: a tokio listener and one session state machine per
//! connection, with smtp-proto parsing the commands (sans-IO).
//!
//! Rules of this face (RFC 5321, RFC 3207, RFC 4954, RFC 3463 enhanced codes):
//! - STARTTLS is offered before AUTH; AUTH without TLS is refused with 538 5.7.11.
//! - MAIL needs a login (530 5.7.0) and the envelope sender must be the logged-in account
//!   (550 5.7.1).
//! - RCPT must name an account of this provider (550 5.1.1).
//! - DATA is limited to [`super::MAX_MESSAGE_BYTES`] (552 5.3.4); the message is then judged
//!   by [`super::accept`], which prepends the `Received` stamp of this session (EHLO name,
//!   client address, RFC 3848 keyword; RFC 5321 §4.4) to every copy it lays down.
//!
//! The trusted submission listener ([`serve_trusted`], off by default, loopback only) is the
//! one exception, like Postfix's `permit_mynetworks`: it offers neither STARTTLS nor AUTH, and
//! the envelope sender (MAIL FROM) names the account, which must exist at this provider (else
//! 550 5.7.1); the session then counts as logged in at that account's highest level, with
//! [`TRUSTED_MECHANISM`] as the mechanism. From there on (PVD rules, limits, sealing, the
//! durable commit before 250, trace events, confirmations) it is the same code as a normal
//! submission. It exists for load benchmarks with tools that speak plain SMTP
//! (`scripts/bench-smtp.sh`).
//!
//! A refusal is a protocol answer plus a `provider.refused` trace event, never an `Err`.

use std::sync::Arc;
use std::time::Duration;

use smtp_proto::Request;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::accept::{self, Arrival, Refusal, Submission};
use super::{MAX_MESSAGE_BYTES, Shared, lock};
use demail_core::trace::EventKind;
use demail_wire::{AuthLevel, normalize_address};

/// Longest command line accepted (RFC 5321 §4.5.3.1.4 says 512; AUTH lines may be longer).
const MAX_COMMAND_LINE: usize = 4096;
/// Longest text line accepted inside DATA (RFC 5321 says 1000; we are lenient).
const MAX_DATA_LINE: usize = 64 * 1024;
/// A session idle longer than this is closed with 421.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Recipients per message (RFC 5321 §4.5.3.1.8: a server must accept at least 100); beyond
/// it RCPT gets 452 4.5.3 and the client sends the rest in another transaction. Independent
/// of the daily limit at level normal (PVD-FU §3.1.1.1, [`super::accept::MAX_RECIPIENTS_NORMAL`]).
pub const MAX_RECIPIENTS_PER_MESSAGE: usize = 100;
/// Failed AUTH attempts in one session; the next failure is answered 421 4.7.0 and the
/// session is closed.
pub const MAX_AUTH_FAILURES_PER_SESSION: u32 = 3;
/// `X-de-mail-auth-mechanism` of a message that came in on the trusted submission listener:
/// nobody authenticated, the loopback interface was trusted.
pub const TRUSTED_MECHANISM: &str = "trusted-loopback";

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Runs a DATA's blocking work (PVD rules, seal, SQLite commit): on tokio's blocking pool on a
/// multi-threaded runtime (`serve`, `load`), so that the workers keep serving other sessions;
/// in place on a current-thread runtime (`run`, whose walk does one thing at a time and would
/// only wait for the pool's thread to wake up and hand back: a hand-off between threads per
/// message, docs/benchmarks.md). A panic inside `f` is caught in both cases and reported as
/// `Err`, so that the session answers 451 instead of dying.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::CurrentThread {
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .map_err(|_| "the work panicked".to_string());
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())
}

/// Accepts connections forever; each gets its own task.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        shared.activity.session_opened();
        tokio::spawn(async move {
            let activity = shared.activity.clone();
            let mut session = Session::new(shared, Box::new(stream));
            session.peer = Some(peer.ip());
            if let Err(e) = session.run().await {
                tracing::debug!("SMTP session ended with an I/O error: {e}");
            }
            activity.session_closed();
        });
    }
}

/// Accepts connections on the trusted submission listener: plain SMTP from the loopback
/// interface, no TLS, no AUTH; MAIL FROM names the account (see the module documentation).
/// A peer that is not on a loopback address is answered 554 5.7.1 and closed.
pub(crate) async fn serve_trusted(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        // Nagle would hold back the small replies of a pipelining client.
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        shared.activity.session_opened();
        tokio::spawn(async move {
            let activity = shared.activity.clone();
            let mut session = Session::new(shared, Box::new(stream));
            session.trusted = true;
            session.peer = Some(peer.ip());
            let result = if peer.ip().is_loopback() {
                session.run().await
            } else {
                session
                    .refuse(
                        "CONNECT",
                        Refusal::new(
                            554,
                            "5.7.1",
                            &format!("the trusted submission listener serves the loopback interface only, not {}", peer.ip()),
                        ),
                    )
                    .await
            };
            if let Err(e) = result {
                tracing::debug!("trusted SMTP session ended with an I/O error: {e}");
            }
            activity.session_closed();
        });
    }
}

/// The relay face's TLS configurations: its proper certificate, and the two the fault plan
/// presents instead for one connection (`cert-expired`, `cert-unknown`; docs/faults.md).
pub(crate) struct RelayTls {
    pub(crate) proper: Arc<rustls::ServerConfig>,
    /// A certificate of the run's test CA whose validity ended in 2001.
    pub(crate) expired: Arc<rustls::ServerConfig>,
    /// A certificate for the provider's domain from a CA no trust list carries.
    pub(crate) unknown: Arc<rustls::ServerConfig>,
}

/// Accepts provider-to-provider connections: implicit TLS with a client certificate from the
/// test PKI (mutual TLS), and the peer's certificate name must be on the trust list
/// (IT-BInfra-IO Tabelle 1 and §7). Anything else is answered 554 5.7.1 and closed.
///
/// Every connection is a candidate of the fault plan's relay certificate faults (before the
/// handshake, so no peer is known yet): a hit presents an expired certificate or one of an
/// unknown CA, and the peer, which must check the certificate of the provider it hands over
/// to (IT-BInfra-IO §7), refuses the handshake; nothing is handed over.
pub(crate) async fn serve_relay(listener: TcpListener, shared: Arc<Shared>, tls: RelayTls) {
    let proper = TlsAcceptor::from(tls.proper);
    let expired = TlsAcceptor::from(tls.expired);
    let unknown = TlsAcceptor::from(tls.unknown);
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let hit = shared.fault(crate::fault::Face::Relay, None, None, "");
        let planned = hit.is_some();
        let acceptor = match hit.map(|h| h.action) {
            Some(crate::fault::Action::Cert(crate::fault::CertFault::Expired)) => expired.clone(),
            Some(crate::fault::Action::Cert(crate::fault::CertFault::Unknown)) => unknown.clone(),
            _ => proper.clone(),
        };
        shared.activity.session_opened();
        tokio::spawn(async move {
            let activity = shared.activity.clone();
            match acceptor.accept(stream).await {
                // The handshake a planned certificate fault made fail: `fault.injected` has
                // said so, and the peer's `provider.delivery_failed` gives its reason. Not
                // traced again: the peer's alert reaches this side while the peer already
                // records its failure, so the order of the two events would be a race.
                Err(e) if planned => {
                    tracing::debug!("relay handshake failed as planned: {e}");
                }
                Err(e) => {
                    // A peer without a certificate of the test PKI never gets an SMTP word.
                    shared.trace.emit(EventKind::ProviderRefused {
                        provider: shared.config.id.clone(),
                        stage: "CONNECT".into(),
                        from: None,
                        code: 0,
                        enhanced: "5.7.1".into(),
                        reason: format!("TLS handshake on the relay face failed: {e}"),
                        eml: None,
                    });
                }
                Ok(tls) => {
                    let peer = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| certificate_cn(c.as_ref()));
                    let trusted = peer.as_ref().is_some_and(|p| {
                        shared
                            .config
                            .trusted_peers
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(p))
                    });
                    let mut session = Session::new(shared.clone(), Box::new(tls));
                    session.tls = true;
                    session.peer = Some(addr.ip());
                    if trusted {
                        session.relay_peer = peer;
                        if let Err(e) = session.run().await {
                            tracing::debug!("relay session ended with an I/O error: {e}");
                        }
                    } else {
                        let name = peer.unwrap_or_else(|| "(no name)".into());
                        let _ = session
                            .refuse(
                                "CONNECT",
                                Refusal::new(
                                    554,
                                    "5.7.1",
                                    &format!("peer {name} is not on the trust list of this provider (IT-BInfra-IO §7)"),
                                ),
                            )
                            .await;
                    }
                }
            }
            activity.session_closed();
        });
    }
}

/// The subject CN of a DER certificate.
fn certificate_cn(der: &[u8]) -> Option<String> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    match cert.tbs_certificate().subject().common_name() {
        Ok(Some(cn)) => Some(String::from(cn)),
        _ => None,
    }
}

/// A logged-in account.
#[derive(Clone, Debug)]
pub(crate) struct Login {
    pub address: String,
    pub level: AuthLevel,
    pub mechanism: &'static str,
}

enum Line {
    Text(Vec<u8>),
    /// A line over the limit (its bytes are dropped); whether it ended in CRLF.
    TooLong {
        crlf: bool,
    },
    Eof,
}

struct Session {
    shared: Arc<Shared>,
    io: Option<BufReader<Box<dyn Io>>>,
    tls: bool,
    greeted: bool,
    login: Option<Login>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
    /// On the relay face: the trusted peer provider's domain (then no AUTH is needed).
    relay_peer: Option<String>,
    /// On the trusted submission listener: no TLS, no AUTH, MAIL FROM names the account.
    trusted: bool,
    /// The client's address (for the AUTH throttle and the Received stamp); `None` when
    /// unknown.
    peer: Option<std::net::IpAddr>,
    /// The name the client gave in its last EHLO/HELO, and whether it was EHLO (for the
    /// Received stamp, RFC 5321 §4.4, RFC 3848).
    helo: Option<String>,
    ehlo: bool,
    /// Failed AUTH attempts in this session.
    auth_failures: u32,
}

mod auth;
mod data;
mod envelope;
mod session;

pub(crate) use auth::{AuthThrottle, b64_text, decode_plain};
use envelope::{oversized_size_parameter, parameter_on_bare_command};
