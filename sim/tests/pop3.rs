//! Transcript tests of the provider's POP3 faces on real loopback sockets (`docs/serve.md`,
//! "POP3"): exact bytes sent, exact replies expected. Mail is submitted over SMTP as a sender
//! would; the POP3 side is a line-level client over `TcpStream` and tokio-rustls, with a
//! client certificate of the test PKI where a test needs level high.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use demail_sim::demail::{AuthLevel, MessageType};
use demail_sim::pki::{Identity, TestPki};
use demail_sim::provider::AccountKind;
use demail_sim::trace::{EventKind, Trace};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common;

use common::{Client, PASSWORD, World, WorldBuilder};

/// A person who can log in at level high.
const CITIZEN: &str = "erika.mustermann@dmda-a.de-mail.de";
/// A person whose highest level is normal.
const NORMAL_CITIZEN: &str = "max.normal@dmda-a.de-mail.de";
/// An institution (may ask for an Abholbestätigung).
const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn start_world() -> World {
    WorldBuilder::new()
        .account(CITIZEN, AccountKind::Person, AuthLevel::High)
        .account(NORMAL_CITIZEN, AccountKind::Person, AuthLevel::Normal)
        .account(INTAKE, AccountKind::Institution, AuthLevel::High)
        .start()
        .await
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// TLS to the provider as "localhost", with `cert` as client certificate if given.
async fn tls_connect(pki: &TestPki, cert: Option<&Identity>, stream: Box<dyn Io>) -> Box<dyn Io> {
    let builder = rustls::ClientConfig::builder().with_root_certificates(pki.root_store().unwrap());
    let config = match cert {
        Some(id) => builder
            .with_client_auth_cert(
                vec![id.cert_der.clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(id.key_der.clone().into()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    Box::new(connector.connect(name, stream).await.unwrap())
}

/// A line-level POP3 client for transcripts.
struct Pop {
    io: BufReader<Box<dyn Io>>,
}

impl Pop {
    /// Connects to the plain port and checks the greeting.
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        Self::greeted(Box::new(stream)).await
    }

    /// Connects to the implicit-TLS port, presenting `cert` if given.
    async fn connect_tls(addr: SocketAddr, pki: &TestPki, cert: Option<&Identity>) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        Self::greeted(tls_connect(pki, cert, Box::new(stream)).await).await
    }

    async fn greeted(io: Box<dyn Io>) -> Self {
        let mut c = Pop {
            io: BufReader::new(io),
        };
        let greeting = c.line().await;
        assert_eq!(
            greeting,
            "+OK pop3.dmda-a.de-mail.de demail-testbed DMDA POP3 ready\r\n"
        );
        c
    }

    /// STLS on the plain port, presenting `cert` if given.
    async fn stls(mut self, pki: &TestPki, cert: Option<&Identity>) -> Self {
        assert_eq!(self.cmd("STLS").await, "+OK Begin TLS negotiation\r\n");
        Pop {
            io: BufReader::new(tls_connect(pki, cert, self.io.into_inner()).await),
        }
    }

    /// Plain port, STLS, USER/PASS as `user`: a login at level normal. Returns the client and
    /// the PASS answer.
    async fn login(addr: SocketAddr, pki: &TestPki, user: &str) -> (Self, String) {
        let mut c = Pop::connect(addr).await.stls(pki, None).await;
        assert_eq!(c.cmd(&format!("USER {user}")).await, "+OK Send PASS\r\n");
        let r = c.cmd(&format!("PASS {PASSWORD}")).await;
        assert!(r.starts_with("+OK "), "{r}");
        (c, r)
    }

    /// One line with its CRLF (bytes as text).
    async fn line(&mut self) -> String {
        String::from_utf8(self.line_bytes().await).unwrap()
    }

    async fn line_bytes(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            self.io.read_until(b'\n', &mut line),
        )
        .await
        .expect("the server answers")
        .unwrap();
        assert!(!line.is_empty(), "the server closed the connection");
        line
    }

    async fn send(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        io.write_all(bytes).await.unwrap();
        io.flush().await.unwrap();
    }

    /// Sends a command line and returns the status line.
    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.line().await
    }

    /// Sends a command whose answer is multi-line; returns the status line and every line
    /// after it up to and with the terminating `.` CRLF, exactly as sent.
    async fn multi(&mut self, line: &str) -> (String, Vec<u8>) {
        let status = self.cmd(line).await;
        assert!(status.starts_with("+OK"), "{line}: {status}");
        let mut body = Vec::new();
        loop {
            let l = self.line_bytes().await;
            body.extend_from_slice(&l);
            if l == b".\r\n" {
                return (status, body);
            }
        }
    }

    /// Whether the server closed the connection before sending anything more.
    async fn closed(&mut self) -> bool {
        let mut line = Vec::new();
        match tokio::time::timeout(
            Duration::from_secs(20),
            self.io.read_until(b'\n', &mut line),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) => {
                eprintln!("still open, got: {}", String::from_utf8_lossy(&line));
                false
            }
            Err(_) => false,
        }
    }
}

/// Undoes dot-stuffing (RFC 1939 §3): drops the terminating line and one leading "." of
/// every line that has one.
fn unstuff(body: &[u8]) -> Vec<u8> {
    let body = body.strip_suffix(b".\r\n").expect("terminated");
    let mut out = Vec::new();
    for line in body.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

/// The institution sends one message to `to` with the given option header lines; returns
/// its X-de-mail-message-id in `to`'s mailbox. Two lines of the body start with "." (sent
/// dot-stuffed, stored without the extra dot): ".Zeile mit Punkt" and ".".
async fn submit(w: &World, to: &str, private_id: &str, options: &str) -> String {
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, INTAKE).await;
    let text = format!(
        "From: <{INTAKE}>\nTo: <{to}>\nSubject: Bescheid {private_id}\n{options}\
         X-de-mail-private-id: {private_id}\nMessage-ID: <{private_id}@test>\n\n\
         Sehr geehrte Damen und Herren,\n..Zeile mit Punkt\n..\nMit freundlichen Gruessen\n"
    );
    let r = c.send(INTAKE, to, text.trim_end_matches('\n')).await;
    assert!(r.starts_with("250"), "{r}");
    w.provider
        .mailbox(to)
        .unwrap()
        .iter()
        .rev()
        .find(|m| m.private_id.as_deref() == Some(private_id))
        .expect("the message is in the mailbox")
        .message_id
        .clone()
}

/// Waits until the provider has no session open (a dropped client's session has ended).
async fn sessions_closed(w: &World) {
    let activity = w.provider.activity();
    tokio::time::timeout(Duration::from_secs(20), async {
        while activity.snapshot().open_sessions > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every session ends");
}

/// The POP3 refusals in the trace: (stage, response code).
fn refusals(trace: &Trace) -> Vec<(String, String)> {
    trace
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ProviderRefused {
                stage,
                code: 0,
                enhanced,
                ..
            } if stage.starts_with("POP3") => Some((stage, enhanced)),
            _ => None,
        })
        .collect()
}

/// The gateway API's view of `mailbox` (acknowledged ones included): (id, acknowledged).
async fn gateway_acks(w: &World, mailbox: &str) -> Vec<(String, bool)> {
    let url = format!(
        "http://{}/api/v1/messages?include=acknowledged",
        w.provider.http_addr()
    );
    let body: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(format!("token-{mailbox}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["acknowledged"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// CAPA (RFC 2449) before TLS offers STLS and no login; after STLS it offers USER and SASL
/// PLAIN, no STLS, and EXTERNAL only when a client certificate of an account was presented.
#[tokio::test]
async fn capa_before_and_after_stls() {
    let w = start_world().await;
    let mut c = Pop::connect(w.provider.pop3_addr()).await;
    let (status, body) = c.multi("CAPA").await;
    assert_eq!(status, "+OK Capability list follows\r\n");
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\nIMPLEMENTATION demail-testbed\r\n.\r\n"
    );
    let mut c = c.stls(&w.pki, None).await;
    let (_, body) = c.multi("CAPA").await;
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN\r\nIMPLEMENTATION demail-testbed\r\n.\r\n"
    );
    assert_eq!(
        c.cmd("STLS").await,
        "-ERR TLS is already active (RFC 2595 section 4)\r\n"
    );
    let cert = w.pki.issue_client(CITIZEN).unwrap();
    let mut c = Pop::connect(w.provider.pop3_addr())
        .await
        .stls(&w.pki, Some(&cert))
        .await;
    let (_, body) = c.multi("CAPA").await;
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("\r\nSASL PLAIN EXTERNAL\r\n")
    );
    let mut c = Pop::connect_tls(w.provider.pop3s_addr(), &w.pki, None).await;
    let (_, body) = c.multi("CAPA").await;
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("\r\nUSER\r\nSASL PLAIN\r\n")
    );
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
    assert!(c.closed().await);
}

/// Before TLS, USER, PASS and AUTH are refused with a text that says to use STLS (PVD-FU
/// §3.2.2: retrieval over a secure channel), each a traced refusal; APOP is not offered;
/// maildrop commands need a login.
#[tokio::test]
async fn logins_need_tls() {
    let w = start_world().await;
    let mut c = Pop::connect(w.provider.pop3_addr()).await;
    let stls = "-ERR Use STLS first: logins are accepted only over TLS (PVD-FU section 3.2.2, RFC 2595)\r\n";
    assert_eq!(c.cmd(&format!("USER {CITIZEN}")).await, stls);
    assert_eq!(c.cmd(&format!("PASS {PASSWORD}")).await, stls);
    let plain = B64.encode(format!("\0{CITIZEN}\0{PASSWORD}"));
    assert_eq!(c.cmd(&format!("AUTH PLAIN {plain}")).await, stls);
    assert_eq!(
        c.cmd("APOP erika c4c9334bac560ecc979e58001b3e22fb").await,
        "-ERR APOP is not offered; use USER/PASS or AUTH (after STLS)\r\n"
    );
    assert_eq!(
        c.cmd("STAT").await,
        "-ERR Log in first (USER/PASS or AUTH, after STLS)\r\n"
    );
    assert_eq!(
        refusals(&w.trace),
        [
            ("POP3 USER".into(), String::new()),
            ("POP3 PASS".into(), String::new()),
            ("POP3 AUTH".into(), String::new())
        ]
    );
    // The same session may still go on to STLS and log in.
    let mut c = c.stls(&w.pki, None).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {plain}")).await,
        format!("+OK {CITIZEN} logged in at level normal; maildrop has 0 messages (0 octets)\r\n")
    );
}

/// A message submitted over SMTP, read with USER/PASS: STAT, LIST, UIDL (= the
/// X-de-mail-message-id), TOP and RETR; RETR after un-stuffing is byte-identical to what the
/// store holds, and the lines starting with "." went out dot-stuffed (RFC 1939 §3).
#[tokio::test]
async fn retrieve_a_message_submitted_over_smtp() {
    let w = start_world().await;
    let id = submit(&w, CITIZEN, "P-1", "").await;
    let stored = w.provider.mailbox(CITIZEN).unwrap();
    assert_eq!(stored.len(), 1);
    let raw = stored[0].raw.clone();
    let size = raw.len();
    assert!(raw.windows(20).any(|l| l == b"\r\n.Zeile mit Punkt\r\n"));
    let (mut c, r) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    assert_eq!(
        r,
        format!(
            "+OK {CITIZEN} logged in at level normal; maildrop has 1 messages ({size} octets)\r\n"
        )
    );
    assert_eq!(c.cmd("STAT").await, format!("+OK 1 {size}\r\n"));
    let (status, body) = c.multi("LIST").await;
    assert_eq!(status, format!("+OK 1 messages ({size} octets)\r\n"));
    assert_eq!(body, format!("1 {size}\r\n.\r\n").into_bytes());
    assert_eq!(c.cmd("LIST 1").await, format!("+OK 1 {size}\r\n"));
    let (_, body) = c.multi("UIDL").await;
    assert_eq!(body, format!("1 {id}\r\n.\r\n").into_bytes());
    assert_eq!(c.cmd("UIDL 1").await, format!("+OK 1 {id}\r\n"));
    let (status, body) = c.multi("TOP 1 2").await;
    assert_eq!(status, "+OK top of message follows\r\n");
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut expected = raw[..head_end].to_vec();
    expected.extend_from_slice(b"Sehr geehrte Damen und Herren,\r\n..Zeile mit Punkt\r\n.\r\n");
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected)
    );
    let (status, body) = c.multi("RETR 1").await;
    assert_eq!(status, format!("+OK {size} octets\r\n"));
    assert!(
        body.ends_with(b"\r\n..Zeile mit Punkt\r\n..\r\nMit freundlichen Gruessen\r\n.\r\n"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(unstuff(&body), raw, "byte-identical to the store");
    assert_eq!(
        c.cmd("LIST 2").await,
        "-ERR No such message; the maildrop numbers its messages 1 to 1\r\n"
    );
    assert_eq!(c.cmd("NOOP").await, "+OK \r\n");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");
    assert!(c.closed().await);
}

/// PVD-FU §3.1.2.3: a password login is level normal and hides messages marked persönlich
/// or with an Abholbestätigung requested; a client certificate of the account + AUTH
/// EXTERNAL is level high, shows them, and (the first time after the deposit) issues the
/// Abholbestätigung, found in the sender's mailbox; a second level-high login issues none. A
/// password login on a connection with the certificate stays at level normal.
#[tokio::test]
async fn persoenlich_hidden_at_normal_and_shown_with_a_certificate() {
    let w = start_world().await;
    let plain = submit(&w, CITIZEN, "P-plain", "").await;
    let private = submit(&w, CITIZEN, "P-private", "X-de-mail-private: yes\n").await;
    let retrieve = submit(
        &w,
        CITIZEN,
        "P-retrieve",
        "X-de-mail-confirmation-of-retrieve: yes\n",
    )
    .await;
    let size = w.provider.mailbox(CITIZEN).unwrap()[0].raw.len();
    let (mut c, r) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    assert_eq!(
        r,
        format!(
            "+OK {CITIZEN} logged in at level normal; maildrop has 1 messages ({size} octets); 2 more need a login at level high (PVD-FU section 3.1.2.3)\r\n"
        )
    );
    let (_, body) = c.multi("UIDL").await;
    assert_eq!(body, format!("1 {plain}\r\n.\r\n").into_bytes());
    assert_eq!(c.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");
    assert!(
        !w.provider
            .mailbox(INTAKE)
            .unwrap()
            .iter()
            .any(|m| m.message_type == MessageType::ConfirmationOfRetrieve),
        "no Abholbestätigung at level normal"
    );

    // The certificate alone logs nobody in, and a password with it is still level normal.
    let cert = w.pki.issue_client(CITIZEN).unwrap();
    let mut c = Pop::connect_tls(w.provider.pop3s_addr(), &w.pki, Some(&cert)).await;
    assert_eq!(
        c.cmd("STAT").await,
        "-ERR Log in first (USER/PASS or AUTH, after STLS)\r\n"
    );
    assert_eq!(c.cmd(&format!("USER {CITIZEN}")).await, "+OK Send PASS\r\n");
    let r = c.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(
        r.contains("at level normal; maildrop has 1 messages"),
        "{r}"
    );
    assert_eq!(c.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");

    // Level high: AUTH EXTERNAL with the certificate (empty authorization identity).
    let mut c = Pop::connect_tls(w.provider.pop3s_addr(), &w.pki, Some(&cert)).await;
    let r = c.cmd("AUTH EXTERNAL =").await;
    assert!(
        r.starts_with(&format!(
            "+OK {CITIZEN} logged in at level high; maildrop has 4 messages ("
        )) && r.ends_with("; 1 Abholbestaetigung(en) issued (PVD-FU section 3.3.5)\r\n"),
        "{r}"
    );
    let (_, body) = c.multi("UIDL").await;
    let body = String::from_utf8(body).unwrap();
    let ids: Vec<&str> = body
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, id)| id))
        .collect();
    assert_eq!(
        ids[..3],
        [plain.as_str(), private.as_str(), retrieve.as_str()]
    );
    let (_, body) = c.multi("RETR 2").await;
    assert!(
        String::from_utf8_lossy(&body)
            .to_ascii_lowercase()
            .contains("\r\nx-de-mail-private: yes\r\n"),
        "the persönlich message is readable at level high"
    );
    assert_eq!(c.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");
    let confirmations: Vec<_> = w
        .provider
        .mailbox(INTAKE)
        .unwrap()
        .into_iter()
        .filter(|m| m.message_type == MessageType::ConfirmationOfRetrieve)
        .collect();
    assert_eq!(confirmations.len(), 1, "in the sender's mailbox");
    assert_eq!(
        confirmations[0].in_reply_to.as_deref(),
        Some("<P-retrieve@test>")
    );

    // Again, through STLS on the plain port and naming the account: nothing more is issued.
    let mut c = Pop::connect(w.provider.pop3_addr())
        .await
        .stls(&w.pki, Some(&cert))
        .await;
    let r = c
        .cmd(&format!("AUTH EXTERNAL {}", B64.encode(CITIZEN)))
        .await;
    assert!(
        r.contains("at level high; maildrop has 4 messages") && !r.contains("issued"),
        "{r}"
    );
    assert_eq!(c.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");
    assert_eq!(
        w.provider
            .mailbox(INTAKE)
            .unwrap()
            .iter()
            .filter(|m| m.message_type == MessageType::ConfirmationOfRetrieve)
            .count(),
        1
    );
}

/// AUTH EXTERNAL is refused ([AUTH]) without a certificate of an account and for an account
/// the certificate does not name; an account whose highest level is normal cannot log in at
/// level high ([SYS/PERM]). The continuation form (`+ `) works too. A client certificate of
/// another CA fails the TLS handshake: not a POP3 word is spoken.
#[tokio::test]
async fn external_needs_the_accounts_certificate() {
    let w = start_world().await;
    let foreign = TestPki::generate("foreign")
        .unwrap()
        .issue_client(CITIZEN)
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(w.pki.root_store().unwrap())
        .with_client_auth_cert(
            vec![foreign.cert_der.clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(foreign.key_der.clone().into()),
        )
        .unwrap();
    let stream = TcpStream::connect(w.provider.pop3s_addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    // With TLS 1.3 the client may finish its side before the server has judged the
    // certificate; the refusal then shows on the first read.
    if let Ok(tls) = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
    {
        let mut line = Vec::new();
        let read = BufReader::new(tls).read_until(b'\n', &mut line).await;
        assert!(read.is_err() || line.is_empty(), "{line:?}");
    }
    let mut c = Pop::connect_tls(w.provider.pop3s_addr(), &w.pki, None).await;
    assert_eq!(
        c.cmd("AUTH EXTERNAL =").await,
        "-ERR [AUTH] No client certificate naming an account of this provider was presented in the TLS handshake\r\n"
    );
    let cert = w.pki.issue_client(CITIZEN).unwrap();
    let mut c = Pop::connect_tls(w.provider.pop3s_addr(), &w.pki, Some(&cert)).await;
    assert_eq!(
        c.cmd(&format!("AUTH EXTERNAL {}", B64.encode(INTAKE)))
            .await,
        "-ERR [AUTH] The client certificate presented does not name this account\r\n"
    );
    assert_eq!(
        c.cmd("AUTH CRAM-MD5").await,
        "-ERR Unrecognized authentication mechanism; offered: PLAIN, EXTERNAL\r\n"
    );
    assert_eq!(c.cmd("AUTH EXTERNAL").await, "+ \r\n");
    assert_eq!(c.cmd("*").await, "-ERR Authentication cancelled\r\n");
    assert_eq!(c.cmd("AUTH EXTERNAL").await, "+ \r\n");
    let r = c.cmd("").await;
    assert!(
        r.starts_with(&format!("+OK {CITIZEN} logged in at level high")),
        "{r}"
    );
    let normal = w.pki.issue_client(NORMAL_CITIZEN).unwrap();
    let mut c = Pop::connect_tls(w.provider.pop3s_addr(), &w.pki, Some(&normal)).await;
    assert_eq!(
        c.cmd("AUTH EXTERNAL =").await,
        format!(
            "-ERR [SYS/PERM] {NORMAL_CITIZEN} cannot log in at level high (its highest level is normal); log in with its password at level normal\r\n"
        )
    );
    assert_eq!(
        refusals(&w.trace),
        [
            ("POP3 AUTH".into(), "AUTH".into()),
            ("POP3 AUTH".into(), "AUTH".into()),
            ("POP3 AUTH".into(), "SYS/PERM".into())
        ]
    );
}

/// DELE then QUIT acknowledges the message in the gateway API's state (RFC 1939 §6 UPDATE),
/// without purging it; DELE then RSET, or DELE and a session that ends without QUIT,
/// acknowledges nothing; an acknowledged message is no longer in the maildrop.
#[tokio::test]
async fn dele_and_quit_acknowledge_dele_and_rset_do_not() {
    let w = start_world().await;
    let first = submit(&w, CITIZEN, "P-1", "").await;
    let second = submit(&w, CITIZEN, "P-2", "").await;
    let none = vec![(first.clone(), false), (second.clone(), false)];

    let (mut c, _) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    assert_eq!(
        c.cmd("DELE 1").await,
        "+OK Message 1 deleted; it is acknowledged at QUIT, not purged\r\n"
    );
    assert_eq!(
        c.cmd("DELE 1").await,
        "-ERR Message 1 is already deleted\r\n"
    );
    assert_eq!(
        c.cmd("RETR 1").await,
        "-ERR Message 1 is already deleted\r\n"
    );
    let stat = c.cmd("STAT").await;
    assert!(stat.starts_with("+OK 1 "), "{stat}");
    let (_, body) = c.multi("UIDL").await;
    assert_eq!(body, format!("2 {second}\r\n.\r\n").into_bytes());
    let r = c.cmd("RSET").await;
    assert!(r.starts_with("+OK maildrop has 2 messages ("), "{r}");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");
    assert_eq!(gateway_acks(&w, CITIZEN).await, none);

    // A session that ends without QUIT does not enter UPDATE.
    let (mut c, _) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    c.cmd("DELE 1").await;
    drop(c);
    sessions_closed(&w).await;
    assert_eq!(gateway_acks(&w, CITIZEN).await, none);

    let (mut c, _) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    c.cmd("DELE 1").await;
    assert_eq!(
        c.cmd("QUIT").await,
        "+OK Bye; 1 messages acknowledged (they stay in the store)\r\n"
    );
    assert!(c.closed().await);
    assert_eq!(
        gateway_acks(&w, CITIZEN).await,
        [(first.clone(), true), (second.clone(), false)]
    );
    assert_eq!(w.provider.mailbox(CITIZEN).unwrap().len(), 2, "not purged");
    let (mut c, r) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    assert!(r.contains("maildrop has 1 messages"), "{r}");
    let (_, body) = c.multi("UIDL").await;
    assert_eq!(body, format!("1 {second}\r\n.\r\n").into_bytes());
}

/// One POP3 session per mailbox (RFC 1939 §4): a second login gets -ERR [IN-USE] and stays
/// in AUTHORIZATION state; once the first session has ended the mailbox is free again.
#[tokio::test]
async fn a_mailbox_in_use_answers_in_use() {
    let w = start_world().await;
    let (mut first, _) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    let mut second = Pop::connect_tls(w.provider.pop3s_addr(), &w.pki, None).await;
    assert_eq!(
        second.cmd(&format!("USER {CITIZEN}")).await,
        "+OK Send PASS\r\n"
    );
    assert_eq!(
        second.cmd(&format!("PASS {PASSWORD}")).await,
        format!(
            "-ERR [IN-USE] The mailbox {CITIZEN} is in use by another POP3 session; try again when it has ended\r\n"
        )
    );
    assert_eq!(
        second.cmd("STAT").await,
        "-ERR Log in first (USER/PASS or AUTH, after STLS)\r\n"
    );
    // Another mailbox is not affected.
    assert_eq!(
        second.cmd(&format!("USER {INTAKE}")).await,
        "+OK Send PASS\r\n"
    );
    let r = second.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with(&format!("+OK {INTAKE} logged in")), "{r}");
    assert_eq!(first.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");
    assert!(first.closed().await);
    let (_, r) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    assert!(r.starts_with(&format!("+OK {CITIZEN} logged in")), "{r}");
    assert_eq!(refusals(&w.trace), [("POP3 PASS".into(), "IN-USE".into())]);
}

/// A wrong password is -ERR [AUTH] (RFC 3206); the third failure in a session says so and
/// ends the session, as on the SMTP face.
#[tokio::test]
async fn wrong_password_thrice_ends_the_session() {
    let w = start_world().await;
    let mut c = Pop::connect(w.provider.pop3_addr())
        .await
        .stls(&w.pki, None)
        .await;
    for _ in 0..2 {
        assert_eq!(c.cmd(&format!("USER {CITIZEN}")).await, "+OK Send PASS\r\n");
        assert_eq!(
            c.cmd("PASS wrong").await,
            "-ERR [AUTH] Authentication credentials invalid\r\n"
        );
    }
    let bad = B64.encode(format!("\0{CITIZEN}\0wrong"));
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {bad}")).await,
        "-ERR [AUTH] Authentication credentials invalid. Too many failed authentication attempts (3) in this session; closing the connection\r\n"
    );
    assert!(c.closed().await);
    assert_eq!(
        refusals(&w.trace),
        [
            ("POP3 PASS".into(), "AUTH".into()),
            ("POP3 PASS".into(), "AUTH".into()),
            ("POP3 AUTH".into(), "AUTH".into())
        ]
    );
    // PASS without USER is a client error, not a failed login.
    let mut c = Pop::connect(w.provider.pop3_addr())
        .await
        .stls(&w.pki, None)
        .await;
    assert_eq!(c.cmd("PASS x").await, "-ERR Send USER first\r\n");
}

/// Over-long lines, bare LF, control bytes, invalid UTF-8, unknown commands and bad
/// arguments are answered -ERR and the session goes on, in both states; never a panic.
#[tokio::test]
async fn long_lines_and_garbage_are_answered() {
    let w = start_world().await;
    submit(&w, CITIZEN, "P-1", "").await;
    let mut c = Pop::connect(w.provider.pop3_addr()).await;
    let too_long = "-ERR Line too long: a command line has at most 255 octets with its CRLF (RFC 2449 section 4)\r\n";
    assert_eq!(c.cmd(&"X".repeat(300)).await, too_long);
    c.send(&vec![b'A'; 100_000]).await;
    assert_eq!(c.cmd("").await, too_long);
    assert_eq!(
        c.cmd(&"N".repeat(253)).await,
        "-ERR Unknown command \"NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN\"\r\n"
    );
    c.send(b"NOOP\n").await;
    assert_eq!(
        c.line().await,
        "-ERR Command lines end in CRLF, not in a bare LF (RFC 1939 section 3)\r\n"
    );
    c.send(b"NOOP\rQUIT\r\n").await;
    assert_eq!(
        c.line().await,
        "-ERR control character 0x0D in the command line; commands are text lines ending in CRLF (RFC 1939 section 3)\r\n"
    );
    c.send(b"USER \xff\xfe\r\n").await;
    assert_eq!(c.line().await, "-ERR the command line is not UTF-8\r\n");
    c.send(b"\0\0\0\r\n").await;
    assert!(c.line().await.starts_with("-ERR control character 0x00"));
    assert_eq!(c.cmd("HELO pop").await, "-ERR Unknown command \"HELO\"\r\n");
    assert_eq!(
        c.cmd("ÄPFEL").await,
        "-ERR Unknown command \"?PFEL\"\r\n",
        "status lines stay ASCII"
    );
    assert_eq!(c.cmd("").await, "-ERR Unknown command \"\"\r\n");
    assert_eq!(c.cmd("QUIT now").await, "-ERR QUIT takes no arguments\r\n");
    assert!(c.cmd("AUTH").await.starts_with("-ERR Use STLS first"));

    let mut c = c.stls(&w.pki, None).await;
    assert_eq!(
        c.cmd("AUTH").await,
        "-ERR AUTH needs a mechanism; CAPA lists them (SASL)\r\n"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN !!!").await,
        "-ERR AUTH PLAIN response is not valid base64 of authzid NUL authcid NUL password (RFC 4616)\r\n"
    );
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ \r\n");
    assert_eq!(
        c.cmd(&"x".repeat(5000)).await,
        "-ERR Authentication cancelled: the response line is too long\r\n"
    );
    assert_eq!(c.cmd(&format!("USER {CITIZEN}")).await, "+OK Send PASS\r\n");
    assert!(c.cmd(&format!("PASS {PASSWORD}")).await.starts_with("+OK"));
    for (line, answer) in [
        (
            "RETR 0",
            "-ERR No such message; the maildrop numbers its messages 1 to 1\r\n",
        ),
        (
            "RETR 99999999999999999999999999",
            "-ERR No such message; the maildrop numbers its messages 1 to 1\r\n",
        ),
        (
            "RETR one",
            "-ERR \"one\" is not a message number (a decimal number from 1)\r\n",
        ),
        (
            "TOP 1",
            "-ERR TOP takes two arguments: a message number and a line count\r\n",
        ),
        (
            "TOP 1 -1",
            "-ERR TOP's line count is a non-negative decimal number\r\n",
        ),
        (
            "LIST  1",
            "-ERR arguments are separated by a single space (RFC 1939 section 3)\r\n",
        ),
        ("DELE", "-ERR DELE takes one argument, a message number\r\n"),
        (
            "USER x",
            "-ERR Already logged in; the command belongs to the AUTHORIZATION state\r\n",
        ),
        (
            "STLS",
            "-ERR Already logged in; the command belongs to the AUTHORIZATION state\r\n",
        ),
    ] {
        assert_eq!(c.cmd(line).await, answer, "{line}");
    }
    assert_eq!(c.cmd(&"Y".repeat(256)).await, too_long);
    let (_, body) = c.multi("CAPA").await;
    assert!(!String::from_utf8(body).unwrap().contains("USER"));
    let (_, body) = c.multi("TOP 1 0").await;
    assert!(body.ends_with(b"\r\n\r\n.\r\n"));
    assert_eq!(c.cmd("QUIT").await, "+OK Bye; nothing acknowledged\r\n");
    assert!(c.closed().await);
}

/// Planned faults at the POP3 face (docs/faults.md, face `pop3`): a `-ERR [SYS/TEMP]` instead
/// of the greeting, a DELE answered `-ERR` (not marked), a RETR dropped in the middle of its
/// multi-line answer, a QUIT dropped before UPDATE. Whatever breaks, a DELE that no completed
/// QUIT committed acknowledges nothing (RFC 1939 §6): every message is offered again, and
/// the next clean session acknowledges both. Each hit is a `fault.injected` event naming the
/// point (and the message, for RETR and DELE).
#[tokio::test]
async fn planned_pop3_faults_lose_nothing() {
    use demail_sim::provider::fault::{Action, Face, FaultPlan, PlannedFault, Point, Select};
    let w = start_world().await;
    let first = submit(&w, CITIZEN, "P-1", "").await;
    let second = submit(&w, CITIZEN, "P-2", "").await;
    let none = vec![(first.clone(), false), (second.clone(), false)];
    let fault = |id: &str, point: Point, action: Action, nth: u32| PlannedFault {
        id: id.into(),
        face: Face::Pop3,
        point: Some(point),
        action,
        mailbox: (point != Point::Connect).then(|| CITIZEN.to_string()),
        select: Select::Nth(nth),
        limit: None,
    };
    let err = |text: &str| Action::Pop3Err(format!("-ERR [SYS/TEMP] {text}"));
    w.provider.set_fault_plan(Arc::new(FaultPlan::new(
        vec![
            fault("gruss", Point::Connect, err("Wartung"), 1),
            fault("loeschen", Point::Dele, err("Speicher voll"), 1),
            fault("abruf", Point::Retr, Action::Drop, 2),
            fault("ende", Point::Quit, Action::Drop, 1),
        ],
        1,
    )));

    // The first connection gets the planned -ERR instead of the greeting and is closed.
    let s = TcpStream::connect(w.provider.pop3_addr()).await.unwrap();
    let mut c = Pop {
        io: BufReader::new(Box::new(s)),
    };
    assert_eq!(c.line().await, "-ERR [SYS/TEMP] Wartung\r\n");
    assert!(c.closed().await);

    // RETR 1 whole; the first DELE refused; the second RETR dropped half-way.
    let (mut c, _) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    let (status, whole) = c.multi("RETR 1").await;
    assert!(status.starts_with("+OK "), "{status}");
    assert_eq!(c.cmd("DELE 1").await, "-ERR [SYS/TEMP] Speicher voll\r\n");
    assert!(c.cmd("STAT").await.starts_with("+OK 2 "), "not marked");
    assert!(c.cmd("DELE 1").await.starts_with("+OK Message 1 deleted"));
    let status = c.cmd("RETR 2").await;
    assert!(status.starts_with("+OK "), "{status}");
    let mut half = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(20), c.io.read_until(b'\n', &mut line))
            .await
            .expect("the server answers or closes")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        assert_ne!(line, b".\r\n", "the answer must break off before its end");
        half.extend_from_slice(&line);
    }
    assert!(
        !half.is_empty() && half.len() < whole.len(),
        "half a message"
    );
    sessions_closed(&w).await;
    assert_eq!(gateway_acks(&w, CITIZEN).await, none, "no QUIT, no UPDATE");

    // Both offered again; DELE both; QUIT dropped before UPDATE: still nothing acknowledged.
    let (mut c, r) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    assert!(r.contains("maildrop has 2 messages"), "{r}");
    let (_, body) = c.multi("UIDL").await;
    assert_eq!(
        body,
        format!("1 {first}\r\n2 {second}\r\n.\r\n").into_bytes()
    );
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    c.send(b"QUIT\r\n").await;
    assert!(c.closed().await, "QUIT dropped without an answer");
    sessions_closed(&w).await;
    assert_eq!(gateway_acks(&w, CITIZEN).await, none, "QUIT without UPDATE");

    // A clean session: both still there, acknowledged at its QUIT.
    let (mut c, r) = Pop::login(w.provider.pop3_addr(), &w.pki, CITIZEN).await;
    assert!(r.contains("maildrop has 2 messages"), "{r}");
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    assert_eq!(
        c.cmd("QUIT").await,
        "+OK Bye; 2 messages acknowledged (they stay in the store)\r\n"
    );
    assert_eq!(
        gateway_acks(&w, CITIZEN).await,
        [(first.clone(), true), (second.clone(), true)]
    );

    let injected: Vec<(String, String, String)> = w
        .trace
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::FaultInjected {
                face,
                fault,
                message_id,
                ..
            } => Some((face, fault, message_id)),
            _ => None,
        })
        .collect();
    let at = |p: &str| format!("provider:dmda-a pop3 {p}");
    assert_eq!(
        injected,
        [
            (at("connect"), "gruss: reply".into(), String::new()),
            (at("dele"), "loeschen: reply".into(), first.clone()),
            (at("retr"), "abruf: drop".into(), second.clone()),
            (at("quit"), "ende: drop".into(), String::new()),
        ]
    );
}
