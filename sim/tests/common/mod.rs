//! The test world the sim test files share: one provider on a virtual clock with a fresh test
//! PKI and trace, built by [`WorldBuilder`], and [`submit`], a citizen's submission over real
//! SMTP (STARTTLS + AUTH PLAIN, lettre), and [`Client`], a line-level SMTP client for
//! transcripts (exact bytes sent, exact replies read). Each test file includes it with `mod common;`; not
//! every file uses every part.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use demail_sim::clock::VirtualClock;
use demail_sim::demail::AuthLevel;
use demail_sim::pki::TestPki;
use demail_sim::provider::delivery::DeliveryHub;
use demail_sim::provider::{AccountConfig, AccountKind, Provider, ProviderConfig};
use demail_sim::trace::Trace;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The password of every test account.
pub const PASSWORD: &str = "pw";

/// The instant every test world starts at: Monday 3 March 2025, 09:00 in Berlin.
pub const START: &str = "2025-03-03T09:00:00+01:00[Europe/Berlin]";

/// An account with [`PASSWORD`], the API token `token-<address>` and access opened.
pub fn account(address: &str, kind: AccountKind, level: AuthLevel) -> AccountConfig {
    AccountConfig {
        address: address.into(),
        holder: "Test Holder".into(),
        kind,
        max_auth_level: level,
        password: PASSWORD.into(),
        api_token: Some(format!("token-{address}")),
        access_opened: true,
        closes_after_first_submission: false,
    }
}

/// A provider with its clock, trace and PKI.
pub struct World {
    pub pki: TestPki,
    pub trace: Trace,
    pub clock: VirtualClock,
    pub provider: Provider,
    /// The data folder of a durable world, removed when the world is dropped.
    pub dir: Option<PathBuf>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Builds a [`World`]: provider `dmda-a` (domain `dmda-a.de-mail.de`, hosting
/// `dresden.de-mail.de`) unless told otherwise.
pub struct WorldBuilder {
    id: String,
    hosted: Vec<String>,
    accounts: Vec<AccountConfig>,
    trusted_peers: Vec<String>,
    durable: Option<String>,
    hub: Option<DeliveryHub>,
    clock: Option<(VirtualClock, Trace)>,
}

impl WorldBuilder {
    pub fn new() -> Self {
        Self {
            id: "dmda-a".into(),
            hosted: vec!["dresden.de-mail.de".into()],
            accounts: Vec::new(),
            trusted_peers: Vec::new(),
            durable: None,
            hub: None,
            clock: None,
        }
    }

    /// Provider id; the domain is `<id>.de-mail.de`.
    pub fn id(mut self, id: &str) -> Self {
        self.id = id.into();
        self
    }

    /// Domains hosted besides the provider's own (default: `dresden.de-mail.de`).
    pub fn hosted(mut self, domains: &[&str]) -> Self {
        self.hosted = domains.iter().map(|d| d.to_string()).collect();
        self
    }

    pub fn account(mut self, address: &str, kind: AccountKind, level: AuthLevel) -> Self {
        self.accounts.push(account(address, kind, level));
        self
    }

    pub fn accounts(mut self, accounts: impl IntoIterator<Item = AccountConfig>) -> Self {
        self.accounts.extend(accounts);
        self
    }

    /// Provider domains on the relay face's trust list.
    pub fn trusted_peers(mut self, peers: &[&str]) -> Self {
        self.trusted_peers = peers.iter().map(|p| p.to_string()).collect();
        self
    }

    /// A durable store and message copies in a temporary folder named after `name`.
    pub fn durable(mut self, name: &str) -> Self {
        self.durable = Some(name.into());
        self
    }

    /// A shared delivery worker (several providers, or no retry timer: only the test calls
    /// `retry_due`).
    pub fn hub(mut self, hub: &DeliveryHub) -> Self {
        self.hub = Some(hub.clone());
        self
    }

    /// The clock and trace of another world (several providers in one world; give them the
    /// same PKI in [`WorldBuilder::start_provider`]).
    pub fn sharing(mut self, clock: &VirtualClock, trace: &Trace) -> Self {
        self.clock = Some((clock.clone(), trace.clone()));
        self
    }

    /// A world of its own: a new test PKI, clock and trace (unless [`WorldBuilder::sharing`]).
    pub async fn start(self) -> World {
        let pki = TestPki::generate("test").unwrap();
        let (provider, clock, trace, dir) = self.build(&pki).await;
        World {
            pki,
            trace,
            clock,
            provider,
            dir,
        }
    }

    /// Only the provider, with certificates from `pki` (for several providers in one world).
    pub async fn start_provider(self, pki: &TestPki) -> Provider {
        self.build(pki).await.0
    }

    async fn build(self, pki: &TestPki) -> (Provider, VirtualClock, Trace, Option<PathBuf>) {
        demail_sim::init_crypto();
        let (clock, trace) = self.clock.unwrap_or_else(|| {
            let clock = VirtualClock::new(&START.parse().unwrap());
            let trace = Trace::new(clock.clone());
            (clock, trace)
        });
        let dir = self.durable.map(|name| {
            let dir = std::env::temp_dir().join(format!(
                "demail-test-{name}-{}-{}",
                self.id,
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            dir
        });
        let provider = Provider::start(
            ProviderConfig {
                id: self.id.clone(),
                name: self.id.to_uppercase(),
                domain: format!("{}.de-mail.de", self.id),
                hosted_domains: self.hosted,
                accounts: self.accounts,
                message_dir: dir.as_ref().map(|d| d.join("messages")),
                database: dir.as_ref().map(|d| d.join("store.sqlite")),
                durability: Default::default(),
                smtp_listen: None,
                http_listen: None,
                relay_listen: None,
                pop3_listen: None,
                pop3s_listen: None,
                delivery_hub: self.hub,
                wire_log: None,
                trusted_peers: self.trusted_peers,
            },
            clock.clone(),
            trace.clone(),
            pki,
        )
        .await
        .unwrap();
        (provider, clock, trace, dir)
    }
}

impl Default for WorldBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Submits `raw` from `from` to `to` at `addr` over STARTTLS + AUTH PLAIN with [`PASSWORD`]
/// (lettre, EHLO `citizen.localhost`); panics unless the provider answers 250.
pub async fn submit(addr: SocketAddr, pki: &TestPki, from: &str, to: &str, raw: &str) {
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap())
        .build_rustls()
        .unwrap();
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::Required(tls))
        .credentials(Credentials::new(from.into(), PASSWORD.into()))
        .authentication(vec![Mechanism::Plain])
        .hello_name(ClientId::Domain("citizen.localhost".into()))
        .build();
    let env = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
    mailer
        .send_raw(&env, raw.as_bytes())
        .await
        .expect("250 from the sender's provider");
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A line-level SMTP client for transcripts.
pub struct Client {
    pub io: BufReader<Box<dyn Io>>,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut c = Client {
            io: BufReader::new(Box::new(stream)),
        };
        let greeting = c.read_reply().await;
        assert!(greeting.starts_with("220"), "{greeting}");
        c
    }

    pub async fn read_reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.io.read_line(&mut line).await.unwrap();
            assert!(!line.is_empty(), "connection closed; so far: {all}");
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return all;
            }
        }
    }

    /// Sends a command line and returns the whole reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        let io = self.io.get_mut();
        io.write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        io.flush().await.unwrap();
        self.read_reply().await
    }

    pub async fn starttls(self, pki: &TestPki) -> Self {
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(pki.root_store().unwrap())
            .with_no_client_auth();
        self.starttls_with(config).await.0
    }

    /// STARTTLS with the client configuration `config`; also returns the negotiated suite.
    pub async fn starttls_with(
        self,
        config: rustls::ClientConfig,
    ) -> (Self, Option<rustls::CipherSuite>) {
        let mut c = self;
        let r = c.cmd("STARTTLS").await;
        assert!(r.starts_with("220"), "{r}");
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, c.io.into_inner()).await.unwrap();
        let suite = tls.get_ref().1.negotiated_cipher_suite().map(|s| s.suite());
        let c = Client {
            io: BufReader::new(Box::new(tls)),
        };
        (c, suite)
    }

    /// A session on `w`'s relay face as the peer provider `peer` (implicit TLS with a client
    /// certificate of the test CA for `peer`), after the greeting.
    pub async fn relay(w: &World, peer: &str) -> Self {
        let id = w.pki.issue(peer, &[peer]).unwrap();
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(w.pki.root_store().unwrap())
            .with_client_auth_cert(
                vec![id.cert_der.clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(id.key_der.clone().into()),
            )
            .unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("dmda-a.de-mail.de").unwrap();
        let tcp = TcpStream::connect(w.provider.relay_addr()).await.unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let mut c = Client {
            io: BufReader::new(Box::new(tls)),
        };
        let greeting = c.read_reply().await;
        assert!(greeting.starts_with("220"), "{greeting}");
        c
    }

    /// EHLO, STARTTLS, EHLO, AUTH PLAIN as `user`.
    pub async fn login(addr: std::net::SocketAddr, pki: &TestPki, user: &str) -> Self {
        let mut c = Client::connect(addr).await;
        c.cmd("EHLO test").await;
        let mut c = c.starttls(pki).await;
        let ehlo = c.cmd("EHLO test").await;
        assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
        use base64::Engine as _;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{PASSWORD}"));
        let r = c.cmd(&format!("AUTH PLAIN {token}")).await;
        assert!(r.starts_with("235 2.7.0"), "{r}");
        c
    }

    /// Sends raw bytes as they are (no line end added) and returns the next reply.
    pub async fn raw(&mut self, bytes: &[u8]) -> String {
        let io = self.io.get_mut();
        io.write_all(bytes).await.unwrap();
        io.flush().await.unwrap();
        self.read_reply().await
    }

    /// Whether the server closed the connection (EOF) before sending anything more.
    pub async fn closed(&mut self) -> bool {
        let mut line = String::new();
        match tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.io.read_line(&mut line),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) => {
                eprintln!("still open, got: {line}");
                false
            }
            Err(_) => false,
        }
    }

    /// MAIL, RCPT, DATA with `message`; returns the final reply.
    pub async fn send(&mut self, from: &str, to: &str, message: &str) -> String {
        let r = self.cmd(&format!("MAIL FROM:<{from}>")).await;
        assert!(r.starts_with("250"), "{r}");
        let r = self.cmd(&format!("RCPT TO:<{to}>")).await;
        assert!(r.starts_with("250"), "{r}");
        let r = self.cmd("DATA").await;
        assert!(r.starts_with("354"), "{r}");
        let body = message.replace('\n', "\r\n");
        self.cmd(&format!("{body}\r\n.")).await
    }
}
