//! The provider's POP3 face for a local message client ("lokaler Nachrichten-Client",
//! PVD-FU §3.1.2 Fall b): a stock POP3 client (Python's poplib, fetchmail, Thunderbird) reads
//! a De-Mail mailbox. Two listeners: the plain port with STLS and the implicit-TLS port
//! (POP3S); one session state machine per connection, tokio + tokio-rustls like the SMTP face.
//!
//! Rules of this face (reference: `docs/serve.md`, "POP3"):
//! - RFC 1939 commands (USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, UIDL, TOP),
//!   CAPA (RFC 2449), STLS (RFC 2595), AUTH PLAIN and EXTERNAL (RFC 5034, RFC 4616,
//!   RFC 4422 appendix A). No APOP.
//! - Logins only over TLS (PVD-FU §3.2.2: retrieval over a secure channel): USER, PASS and
//!   AUTH before STLS are answered `-ERR` telling the client to use STLS.
//! - A password (USER/PASS, AUTH PLAIN) is a login at level normal. A client certificate of
//!   the test PKI that names the account (CN or rfc822Name), presented in the TLS handshake
//!   (both ports ask for one and require none), followed by `AUTH EXTERNAL`, is a login at
//!   level high ([`super::login::login`]: the first one after a deposit issues the
//!   Abholbestätigungen due, PVD-FU §3.3.5). A certificate alone logs nobody in, and a
//!   certificate does not raise a password login.
//! - At level normal the maildrop does not show messages that need level high
//!   ([`super::login::needs_level_high`], PVD-FU §3.1.2.3).
//! - The maildrop is the mailbox's messages that are neither acknowledged nor in the
//!   Papierkorb. DELE marks a message; at QUIT (UPDATE state, RFC 1939 §6) the marked ones are
//!   acknowledged in one transaction, in the same state the gateway API's acknowledge uses
//!   ([`super::store::Store::acknowledge_all`]); nothing is purged (deletion has its own
//!   rules, [`super::delete`]). A session that ends otherwise acknowledges nothing.
//! - One POP3 session per mailbox at a time; another gets `-ERR [IN-USE]`.
//! - Refusals carry RFC 3206 response codes (`[AUTH]`, `[IN-USE]`, `[SYS/TEMP]`,
//!   `[SYS/PERM]`) and are `provider.refused` trace events (stage `POP3 <command>`, code 0,
//!   `enhanced` = the response code). Failed logins count against the per-address
//!   [`super::smtp::AuthThrottle`] the SMTP face uses (one budget for both faces) and the
//!   [`super::smtp::MAX_AUTH_FAILURES_PER_SESSION`]th failure ends the session.
//! - Limits: command lines [`MAX_COMMAND_LINE`] octets (RFC 2449 §4), SASL responses
//!   [`MAX_SASL_LINE`], status lines at most [`MAX_RESPONSE_LINE`] (RFC 2449 §4); a session
//!   idle for [`IDLE_TIMEOUT`] is closed without UPDATE (RFC 1939 §3). Lines end in CRLF, in
//!   both directions; multi-line responses are dot-stuffed (RFC 1939 §3); status lines are
//!   ASCII (no UTF8 capability, RFC 6856).
//!
//! Parts: [`command`] reads a command line (sans-IO); `session.rs` the line plumbing and the
//! command loop; `auth.rs` the logins; `maildrop.rs` the maildrop and its commands.

mod auth;
mod command;
mod maildrop;
mod session;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::{Shared, lock};
use demail_wire::{AuthLevel, normalize_address};

/// Longest command line, CRLF included (RFC 2449 §4: 255 octets).
pub const MAX_COMMAND_LINE: usize = 255;
/// Longest SASL client response line: RFC 5034 §4 holds the AUTH command line to the 255
/// octets of a command, which is why a longer initial response goes in a continuation line.
pub const MAX_SASL_LINE: usize = 4096;
/// Longest status line the server writes, CRLF included (RFC 2449 §4: 512 octets).
pub const MAX_RESPONSE_LINE: usize = 512;
/// A session idle this long is closed without entering UPDATE (RFC 1939 §3: an autologout
/// timer of at least 10 minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What both POP3 listeners share.
pub(crate) struct Face {
    shared: Arc<Shared>,
    /// TLS with an optional client certificate of the test CA (for STLS and POP3S).
    tls: Arc<rustls::ServerConfig>,
    /// Mailboxes with a POP3 session in TRANSACTION state.
    maildrops: Maildrops,
}

impl Face {
    pub(crate) fn new(shared: Arc<Shared>, tls: Arc<rustls::ServerConfig>) -> Arc<Self> {
        Arc::new(Self {
            shared,
            tls,
            maildrops: Maildrops::default(),
        })
    }
}

/// The mailboxes locked by a POP3 session (RFC 1939 §4: the server acquires an exclusive
/// lock on the maildrop when the session enters TRANSACTION state).
#[derive(Debug, Default)]
struct Maildrops {
    held: Mutex<BTreeSet<String>>,
}

/// Holds a mailbox's lock; releases it when dropped (the session ends).
struct MaildropLock {
    face: Arc<Face>,
    mailbox: String,
}

impl Maildrops {
    /// Locks `mailbox` for `face`'s session, or `None` when another session holds it.
    fn acquire(face: &Arc<Face>, mailbox: &str) -> Option<MaildropLock> {
        let mailbox = normalize_address(mailbox);
        lock(&face.maildrops.held)
            .insert(mailbox.clone())
            .then(|| MaildropLock {
                face: face.clone(),
                mailbox,
            })
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        lock(&self.face.maildrops.held).remove(&self.mailbox);
    }
}

/// Accepts connections on the plain port (STLS before any login).
pub(crate) async fn serve(listener: TcpListener, face: Arc<Face>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let face = face.clone();
        face.shared.activity.session_opened();
        tokio::spawn(async move {
            let activity = face.shared.activity.clone();
            let mut session = Session::new(face, Box::new(stream), Some(peer.ip()));
            if let Err(e) = session.run().await {
                tracing::debug!("POP3 session ended with an I/O error: {e}");
            }
            drop(session);
            activity.session_closed();
        });
    }
}

/// Accepts connections on the implicit-TLS port (POP3S): the TLS handshake comes first, and
/// asks for an optional client certificate.
pub(crate) async fn serve_tls(listener: TcpListener, face: Arc<Face>) {
    let acceptor = TlsAcceptor::from(face.tls.clone());
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let face = face.clone();
        let acceptor = acceptor.clone();
        face.shared.activity.session_opened();
        tokio::spawn(async move {
            let activity = face.shared.activity.clone();
            let handshake = tokio::time::timeout(IDLE_TIMEOUT, acceptor.accept(stream)).await;
            match handshake {
                Ok(Ok(tls)) => {
                    let accounts = certificate_accounts(&face.shared, tls.get_ref().1);
                    let mut session = Session::new(face, Box::new(tls), Some(peer.ip()));
                    session.tls = true;
                    session.cert_accounts = accounts;
                    if let Err(e) = session.run().await {
                        tracing::debug!("POP3S session ended with an I/O error: {e}");
                    }
                }
                Ok(Err(e)) => tracing::debug!("POP3S TLS handshake failed: {e}"),
                Err(_) => tracing::debug!("POP3S TLS handshake timed out"),
            }
            activity.session_closed();
        });
    }
}

/// The accounts of this provider that the client's certificate names (subject CN and
/// rfc822Name subjectAltNames), in that order, without repeats. The certificate was already
/// verified by the handshake (issued by the test CA, clientAuth).
fn certificate_accounts(shared: &Shared, tls: &rustls::ServerConnection) -> Vec<String> {
    let Some(der) = tls.peer_certificates().and_then(|c| c.first()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let store = lock(&shared.store);
    for name in certificate_names(der.as_ref()) {
        let address = normalize_address(&name);
        if store.account(&address).is_some() && !out.contains(&address) {
            out.push(address);
        }
    }
    out
}

/// Subject CN and rfc822Name subjectAltNames of a DER certificate (RFC 5280 §4.1.2.6,
/// §4.2.1.6); an unreadable certificate names nobody.
fn certificate_names(der: &[u8]) -> Vec<String> {
    use x509_cert::der::Decode as _;
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return Vec::new();
    };
    let tbs = cert.tbs_certificate();
    let mut names = Vec::new();
    if let Ok(Some(cn)) = tbs.subject().common_name() {
        names.push(String::from(cn));
    }
    if let Ok(Some((_, san))) = tbs.get_extension::<SubjectAltName>() {
        for n in san.0 {
            if let GeneralName::Rfc822Name(email) = n {
                names.push(email.to_string());
            }
        }
    }
    names
}

/// At most `max` bytes of `s`, cut at a character boundary, for echoing client input.
fn truncate(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

/// A logged-in session (TRANSACTION state).
struct Open {
    /// The account (normalised address).
    address: String,
    /// The maildrop as it was at login, with this session's DELE marks.
    maildrop: maildrop::Maildrop,
    /// The mailbox's lock, released when the session ends.
    _lock: MaildropLock,
}

/// A line read from the client.
enum Line {
    /// The line without its CRLF.
    Text(Vec<u8>),
    /// A line over the limit (its bytes are dropped).
    TooLong,
    /// A line that ended in a bare LF.
    BareLf,
    /// The client closed the connection, or the session was idle too long.
    Eof { idle: bool },
}

/// One POP3 connection.
struct Session {
    /// TRANSACTION state. Declared before `io` so that, when a session ends without QUIT,
    /// the mailbox's lock is released before the connection closes (fields drop in order).
    open: Option<Open>,
    face: Arc<Face>,
    io: Option<BufReader<Box<dyn Io>>>,
    /// Whether TLS is active (STLS done, or the implicit-TLS port).
    tls: bool,
    /// The client's address (for the AUTH throttle).
    peer: Option<IpAddr>,
    /// The accounts named by the client certificate presented in the TLS handshake.
    cert_accounts: Vec<String>,
    /// The name of a USER command waiting for its PASS.
    user: Option<String>,
    /// Failed logins in this session.
    auth_failures: u32,
}
