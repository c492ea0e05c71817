//! `load --sink`: an SMTP sink in place of the world, to measure the load generator's own
//! ceiling (issue #17: "state the load generator's own ceiling on this machine (against a
//! sink), so a user knows when the generator is the bottleneck").
//!
//! The sink answers the submission dialogue the generator speaks (EHLO, STARTTLS with a
//! certificate of the run's test PKI, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) with a
//! success at once, accepts every login and every message, and keeps nothing: no store, no
//! seal, no confirmation, no push. What remains of a session's cost is the generator's
//! (scheduling, composing, the TLS client, the SMTP client, the histograms) plus the sink's
//! TLS server side and line parsing, on the same cores (docs/load.md, "The generator's
//! ceiling").
//!
//! It listens on loopback only, on a port the system picks. Lines longer than
//! [`MAX_LINE`] end the session (`500 5.5.2`), a session idle for [`IDLE`] is closed, and
//! commands pipelined behind STARTTLS are refused (`554 5.5.1`) rather than carried into
//! the TLS session (RFC 3207 §4.2; the plaintext-injection attack). Nothing a client sends
//! can make it panic: every read and write error ends that session only.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use demail_sim::pki::TestPki;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The longest command or message line the sink reads (RFC 5321 §4.5.3.1.6 allows 1000
/// octets for a text line; a little more for lenient clients).
pub const MAX_LINE: u64 = 4096;

/// A session that sends nothing for this long is closed.
pub const IDLE: Duration = Duration::from_secs(60);

/// The running sink.
pub struct Sink {
    pub addr: SocketAddr,
    pub pki: TestPki,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Binds 127.0.0.1 on a free port and serves sessions until [`Sink::stop`].
    pub async fn start(run_label: &str) -> Result<Self> {
        let pki = TestPki::generate(run_label)?;
        let tls = pki
            .issue("localhost", &["localhost"])?
            .server_config()
            .context("the sink's TLS configuration")?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the sink on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(tls);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // EMFILE and the like: wait a little instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let _ = session(stream, acceptor).await;
                });
            }
        });
        Ok(Self { addr, pki, task })
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// How a phase of the dialogue ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Quit,
    StartTls,
}

/// One session: the plaintext phase, and after STARTTLS the TLS phase.
async fn session(stream: TcpStream, acceptor: TlsAcceptor) -> Result<()> {
    let mut plain = BufReader::new(stream);
    plain.get_mut().write_all(b"220 sink ESMTP\r\n").await?;
    if dialogue(&mut plain, false).await? == End::Quit {
        return Ok(());
    }
    if !plain.buffer().is_empty() {
        plain
            .get_mut()
            .write_all(b"554 5.5.1 Commands pipelined behind STARTTLS\r\n")
            .await?;
        return Ok(());
    }
    let tls = acceptor.accept(plain.into_inner()).await?;
    let mut tls = BufReader::new(tls);
    dialogue(&mut tls, true).await?;
    Ok(())
}

/// Answers commands until QUIT, STARTTLS (plaintext phase only), an error or idleness.
async fn dialogue<S>(io: &mut BufReader<S>, secure: bool) -> Result<End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut line = Vec::with_capacity(128);
    let mut accepted = 0u64;
    loop {
        let Some(n) = read_line(io, &mut line).await? else {
            return Ok(End::Quit);
        };
        if line.last() != Some(&b'\n') {
            // Longer than MAX_LINE (or cut off): end the session.
            io.get_mut()
                .write_all(b"500 5.5.2 Line too long\r\n")
                .await?;
            return Ok(End::Quit);
        }
        let verb = line[..n.min(10)]
            .split(|b| *b == b' ' || *b == b'\r' || *b == b'\n')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer: &[u8] = match verb.as_slice() {
            b"EHLO" if secure => b"250-sink\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n",
            b"EHLO" => b"250-sink\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
            b"HELO" => b"250 sink\r\n",
            b"STARTTLS" if !secure => {
                io.get_mut()
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await?;
                return Ok(End::StartTls);
            }
            b"AUTH" if secure => b"235 2.7.0 Authentication succeeded\r\n",
            b"MAIL" => b"250 2.1.0 Ok\r\n",
            b"RCPT" => b"250 2.1.5 Ok\r\n",
            b"DATA" => {
                io.get_mut()
                    .write_all(b"354 End data with <CRLF>.<CRLF>\r\n")
                    .await?;
                if !skip_data(io, &mut line).await? {
                    return Ok(End::Quit);
                }
                accepted += 1;
                let ok = format!("250 2.0.0 Ok: queued as sink-{accepted}\r\n");
                io.get_mut().write_all(ok.as_bytes()).await?;
                continue;
            }
            b"RSET" | b"NOOP" => b"250 2.0.0 Ok\r\n",
            b"QUIT" => {
                io.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(End::Quit);
            }
            _ => b"500 5.5.2 Command not recognised\r\n",
        };
        io.get_mut().write_all(answer).await?;
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes into `line`; `None` at end of stream or
/// after [`IDLE`] without a byte.
async fn read_line<S>(io: &mut BufReader<S>, line: &mut Vec<u8>) -> Result<Option<usize>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    line.clear();
    let mut limited = (&mut *io).take(MAX_LINE);
    match tokio::time::timeout(IDLE, limited.read_until(b'\n', line)).await {
        Ok(Ok(0)) | Err(_) => Ok(None),
        Ok(Ok(n)) => Ok(Some(n)),
        Ok(Err(e)) => Err(e.into()),
    }
}

/// Reads and forgets the message up to the lone `.` line; `false` if the client went away
/// or sent a line longer than [`MAX_LINE`].
async fn skip_data<S>(io: &mut BufReader<S>, line: &mut Vec<u8>) -> Result<bool>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match read_line(io, line).await? {
            None => return Ok(false),
            Some(_) if line.last() != Some(&b'\n') => {
                io.get_mut()
                    .write_all(b"500 5.5.2 Line too long\r\n")
                    .await?;
                return Ok(false);
            }
            Some(_) if line.as_slice() == b".\r\n" => return Ok(true),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use demail_sim::world::submit::Submitter;
    use lettre::address::Envelope;
    use lettre::transport::smtp::authentication::Credentials;

    /// The generator's own client completes its dialogue against the sink, several times
    /// over one sink; the 250 names a queue id.
    #[tokio::test]
    async fn the_generators_client_completes_against_the_sink() {
        demail_sim::init_crypto();
        let sink = Sink::start("sink-test").await.unwrap();
        let submitter = Submitter::new(&sink.pki).unwrap();
        let credentials = Credentials::new("a@b.de-mail.de".into(), String::new());
        let envelope = Envelope::new(
            Some("a@b.de-mail.de".parse().unwrap()),
            vec!["c@d.de-mail.de".parse().unwrap()],
        )
        .unwrap();
        for _ in 0..3 {
            let mut conn = submitter
                .open(sink.addr, &credentials)
                .await
                .unwrap()
                .unwrap();
            let resp = conn
                .send(&envelope, b"Subject: x\r\n\r\nbody\r\n.. dot\r\n")
                .await
                .unwrap();
            let last = resp.message().last().unwrap().to_string();
            assert!(last.contains("queued as sink-1"), "{last}");
            conn.abort().await;
        }
        sink.stop();
    }

    async fn transcript(addr: SocketAddr, send: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(send).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Hostile input ends the session with a clear reply and leaves the sink serving.
    #[tokio::test]
    async fn hostile_input_ends_the_session_only() {
        demail_sim::init_crypto();
        let sink = Sink::start("sink-test").await.unwrap();
        // Commands pipelined behind STARTTLS are not carried into the TLS session.
        let t = transcript(sink.addr, b"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\n").await;
        assert!(t.contains("554 5.5.1"), "{t}");
        // An overlong line without a line end.
        let mut long = b"EHLO ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 10_000));
        let t = transcript(sink.addr, &long).await;
        assert!(t.contains("500 5.5.2 Line too long"), "{t}");
        // NUL bytes, bare LF and an unknown verb get a refusal; AUTH before TLS is refused.
        let t = transcript(sink.addr, b"\0\0\nAUTH PLAIN AGEAYg==\r\nQUIT\r\n").await;
        assert_eq!(
            t.matches("500 5.5.2 Command not recognised").count(),
            2,
            "{t}"
        );
        assert!(t.ends_with("221 2.0.0 Bye\r\n"), "{t}");
        // Still serving.
        let t = transcript(sink.addr, b"QUIT\r\n").await;
        assert_eq!(t, "220 sink ESMTP\r\n221 2.0.0 Bye\r\n");
        sink.stop();
    }
}
