//! Load driver for the provider's normal submission face: STARTTLS, AUTH PLAIN, then
//! MAIL/RCPT/DATA, from several sessions at once (lettre's connection API, rustls). It is the
//! full-path counterpart of Postfix's `smtp-source` against the trusted listener in
//! `scripts/bench-smtp.sh`, and sends the same kind of message (From, To, Date, Message-Id,
//! Subject, `--length` bytes of text). Exits non-zero at the first refusal.
//!
//! ```sh
//! cargo run --release -p demail-harness --example smtp_load -- --addr 127.0.0.1:2587 \
//!     --ca serve-data/pki/ca.pem --user erika.mustermann@dmda-a.de-mail.de --password erika \
//!     --to gewerbeangelegenheiten@dresden.de-mail.de --messages 1000 --sessions 10
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// Command-line settings.
#[derive(Clone, Debug)]
struct Settings {
    addr: SocketAddr,
    ca_pem: Vec<u8>,
    user: String,
    password: String,
    to: String,
    subject: String,
    messages: usize,
    sessions: usize,
    length: usize,
    per_session: usize,
}

fn parse_args() -> Result<Settings> {
    let mut args = std::env::args().skip(1);
    let mut get = std::collections::BTreeMap::new();
    while let Some(flag) = args.next() {
        let Some(name) = flag.strip_prefix("--") else {
            bail!("unexpected argument {flag:?}");
        };
        let value = args
            .next()
            .ok_or_else(|| anyhow!("--{name} needs a value"))?;
        get.insert(name.to_string(), value);
    }
    let mut take = |name: &str, default: Option<&str>| -> Result<String> {
        get.remove(name)
            .or_else(|| default.map(str::to_string))
            .ok_or_else(|| anyhow!("--{name} is required"))
    };
    let number = |text: String, name: &str| -> Result<usize> {
        match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("--{name} must be a whole number above 0, not {text:?}"),
        }
    };
    let ca = take("ca", None)?;
    let settings = Settings {
        addr: take("addr", None)?.parse().context("--addr")?,
        ca_pem: std::fs::read(&ca).with_context(|| format!("reading --ca {ca}"))?,
        user: take("user", None)?,
        password: take("password", None)?,
        to: take("to", None)?,
        subject: take("subject", Some("Benchmark"))?,
        messages: number(take("messages", Some("1000"))?, "messages")?,
        sessions: number(take("sessions", Some("10"))?, "sessions")?,
        length: number(take("length", Some("4096"))?, "length")?,
        per_session: number(take("per-session", Some("1"))?, "per-session")?,
    };
    if let Some(unknown) = get.keys().next() {
        bail!("unknown option --{unknown}");
    }
    Ok(settings)
}

/// A message like smtp-source's: the headers it writes, then `length` bytes in 80-byte lines.
fn message(s: &Settings, n: usize) -> Vec<u8> {
    let mut m = format!(
        "From: <{}>\r\nTo: <{}>\r\nDate: Mon, 3 Mar 2025 08:00:00 +0000 (UTC)\r\nMessage-Id: <{n}.{}@smtp-load>\r\nSubject: {}\r\n\r\n",
        s.user,
        s.to,
        std::process::id(),
        s.subject
    )
    .into_bytes();
    let mut left = s.length;
    while left > 0 {
        let line = left.min(78);
        m.extend(std::iter::repeat_n(b'X', line));
        m.extend_from_slice(b"\r\n");
        left -= line;
    }
    m
}

/// One session: connect, EHLO, STARTTLS, EHLO, AUTH PLAIN, then up to `per_session` messages.
async fn session(s: &Settings, next: &AtomicUsize) -> Result<usize> {
    let hello = ClientId::Domain("smtp-load.localhost".into());
    let tls = TlsParameters::builder("localhost".to_string())
        .add_root_certificate(Certificate::from_pem(&s.ca_pem).context("--ca")?)
        .build_rustls()
        .context("TLS parameters")?;
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        s.addr,
        Some(Duration::from_secs(30)),
        &hello,
        None,
        None,
    )
    .await
    .context("connect")?;
    conn.starttls(tls, &hello).await.context("STARTTLS")?;
    conn.auth(
        &[Mechanism::Plain],
        &Credentials::new(s.user.clone(), s.password.clone()),
    )
    .await
    .context("AUTH")?;
    let envelope = Envelope::new(
        Some(s.user.parse().context("--user")?),
        vec![s.to.parse().context("--to")?],
    )?;
    let mut sent = 0;
    while sent < s.per_session {
        let n = next.fetch_add(1, Ordering::SeqCst);
        if n >= s.messages {
            break;
        }
        conn.send(&envelope, &message(s, n))
            .await
            .with_context(|| format!("message {n}"))?;
        sent += 1;
    }
    let _ = conn.quit().await;
    Ok(sent)
}

async fn run(s: Settings) -> Result<usize> {
    let s = Arc::new(s);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..s.sessions {
        let (s, next) = (s.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut total = 0;
            while next.load(Ordering::SeqCst) < s.messages {
                total += session(&s, &next).await?;
            }
            Ok::<usize, anyhow::Error>(total)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.context("session task")??;
    }
    Ok(total)
}

fn main() -> ExitCode {
    demail_sim::init_crypto();
    let settings = match parse_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smtp_load: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smtp_load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    match rt.block_on(run(settings)) {
        Ok(n) => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "smtp_load: {n} messages in {secs:.2} s, {:.0} msg/s",
                n as f64 / secs
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smtp_load: {e:#}");
            ExitCode::FAILURE
        }
    }
}
