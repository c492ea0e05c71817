//! POP3 mode: the intake takes its mail from the provider's POP3 face, as a local message
//! client does (PVD-FU §3.1.2 Fall b), instead of an SMTP push. On every clock step it opens
//! one session per Funktionspostfach: STLS (RFC 2595; the provider takes no login in the
//! clear, PVD-FU §3.2.2), USER/PASS, UIDL, then RETR of every message, processed exactly as a
//! pushed one (`inbound::receive`, the Eingang from the provider's `Received` stamp), and DELE
//! of every message taken over; QUIT commits the DELEs (RFC 1939 §6, UPDATE state), which the
//! provider records as acknowledgements.
//!
//! Nothing is lost when the session breaks: a DELE counts only after a completed QUIT, so a
//! message whose session ended otherwise (an `-ERR`, a dropped connection, a RETR cut short)
//! is offered again at the next step, and the intake, idempotent by X-de-mail-message-id
//! (PVD-IO §3.1.18), opens no second case for a message it had already taken
//! (`intake.duplicate`). A message refused with a 4xx (a temporary failure) is not deleted and
//! comes again; one refused for good (not a De-Mail) is deleted and reported as
//! `intake.refused`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Intake, inbound};
use demail_core::sync::lock;
use demail_core::trace::EventKind;

/// How long one answer may take (wall clock: a network timeout).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest message the intake takes over POP3 (the provider's SIZE limit is far below).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Polls every Funktionspostfach over POP3; returns how many messages were taken over. A
/// failed session is logged and retried at the next step.
pub(crate) async fn poll(intake: &Intake) -> usize {
    let Some(addr) = intake.config.provider_pop3 else {
        return 0;
    };
    let mut taken = 0;
    for (mailbox, password) in &intake.config.passwords {
        match poll_mailbox(intake, addr, mailbox, password).await {
            Ok(n) => taken += n,
            Err(e) => tracing::warn!("intake: POP3 of {mailbox}: {e:#}"),
        }
    }
    taken
}

/// One session: log in, take over every message, commit with QUIT.
async fn poll_mailbox(
    intake: &Intake,
    addr: SocketAddr,
    mailbox: &str,
    password: &str,
) -> anyhow::Result<usize> {
    let stream = tokio::time::timeout(ANSWER_TIMEOUT, TcpStream::connect(addr))
        .await
        .context("connecting: no answer")?
        .with_context(|| format!("connecting to {addr}"))?;
    let mut c = Client {
        io: BufReader::new(Box::new(stream)),
    };
    c.status("greeting").await?;
    c.command("STLS").await?;
    let plain = c.io.into_inner();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            intake.config.ca_der.clone(),
        ))
        .context("the provider's CA")?;
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The provider's POP3 certificate names "localhost" (the test PKI, docs/serve.md).
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name");
    let tls = tokio::time::timeout(
        ANSWER_TIMEOUT,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, plain),
    )
    .await
    .context("STLS: no answer")?
    .context("STLS handshake")?;
    let mut c = Client {
        io: BufReader::new(Box::new(tls)),
    };
    c.command(&format!("USER {mailbox}")).await?;
    c.command(&format!("PASS {password}")).await?;
    c.command("UIDL").await?;
    let listing = c.multi_line().await?;
    let numbers: Vec<u64> = String::from_utf8_lossy(&listing)
        .lines()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    let mut taken = 0;
    for n in numbers {
        c.command(&format!("RETR {n}")).await?;
        let raw = c.multi_line().await?;
        let delete = match inbound::receive(intake, mailbox, &raw) {
            Ok(()) => true,
            Err(r) if r.code >= 500 => {
                lock(&intake.state).events.push(EventKind::IntakeRefused {
                    mailbox: mailbox.to_string(),
                    code: r.code,
                    reason: r.status_text(),
                });
                true
            }
            Err(r) => {
                tracing::warn!(
                    "intake: message {n} of {mailbox} not taken over yet: {}",
                    r.status_text()
                );
                false
            }
        };
        if delete {
            c.command(&format!("DELE {n}")).await?;
            taken += 1;
        }
    }
    // Only now are the DELEs committed (RFC 1939 §6).
    c.command("QUIT").await?;
    Ok(taken)
}

/// The line-level client of one session.
struct Client {
    io: BufReader<Box<dyn Io>>,
}

impl Client {
    /// One line without its CRLF; an error when the server closed the connection.
    async fn line(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut line = Vec::new();
        let n = tokio::time::timeout(ANSWER_TIMEOUT, self.io.read_until(b'\n', &mut line))
            .await
            .context("no answer")??;
        if n == 0 {
            bail!("the provider closed the connection");
        }
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
        } else {
            bail!("the provider closed the connection in the middle of a line");
        }
        Ok(line)
    }

    /// A status line, which must be `+OK` (RFC 1939 §3).
    async fn status(&mut self, what: &str) -> anyhow::Result<()> {
        let line = self.line().await?;
        if !line.starts_with(b"+OK") {
            bail!("{what}: {}", String::from_utf8_lossy(&line));
        }
        Ok(())
    }

    /// Sends a command line and reads its status line. The command's name is what an error
    /// names (never PASS's argument).
    async fn command(&mut self, line: &str) -> anyhow::Result<()> {
        let io = self.io.get_mut();
        io.write_all(format!("{line}\r\n").as_bytes()).await?;
        io.flush().await?;
        let name = line.split(' ').next().unwrap_or_default();
        self.status(name).await
    }

    /// The lines of a multi-line answer up to its terminating `.`, dot-stuffing undone, each
    /// ending in CRLF (RFC 1939 §3).
    async fn multi_line(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let line = self.line().await?;
            if line == b"." {
                return Ok(out);
            }
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
            out.extend_from_slice(b"\r\n");
            if out.len() > MAX_MESSAGE {
                bail!("an answer of more than {MAX_MESSAGE} octets");
            }
        }
    }
}
