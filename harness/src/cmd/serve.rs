//! The `serve` command: simulated De-Mail providers standalone, for pointing an intake at them
//! by hand. Ports, accounts, passwords and API tokens come from a TOML file (format in
//! `docs/serve.md`) or a built-in demo world, and are printed at start. The data directory
//! holds each provider's SQLite store, so a restart on the same directory resumes queued
//! pushes. Ctrl-C (SIGINT) and SIGTERM shut down cleanly: the listeners close, open SMTP
//! sessions get [`SHUTDOWN_GRACE`] to finish, the exit status is 0.
//!
//! The trace is streamed to `<data>/trace.jsonl` (appended; only a window stays in memory),
//! so memory stays bounded however long it runs.
//!
//! Time is wall-clock time here (the clock's wall adapter); scenario runs never use it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use demail_sim::clock::VirtualClock;
use demail_sim::demail::AuthLevel;
use demail_sim::pki::TestPki;
use demail_sim::provider::delivery::{PushTarget, PushTls};
use demail_sim::provider::{AccountConfig, AccountKind, Provider, ProviderConfig};
use demail_sim::trace::Trace;
use serde::Deserialize;
use toml::Spanned;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (TOML, see docs/serve.md); without it a demo world is served.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory: SQLite stores, messages, the test CA.
    #[arg(long, default_value = "serve-data")]
    pub data: PathBuf,
    /// Do not keep each message as it crossed the wire (`<data>/<provider>/messages/*.eml`);
    /// the store keeps every message either way. For load tests: on some file systems the
    /// file per message costs more than the rest of the submission.
    #[arg(long)]
    pub no_messages: bool,
    /// A persistent test PKI (made by `demail-testbed pki init DIR`, or made here when the
    /// folder has none): the same CA at every start, so a client installs its `ca.pem` once.
    /// Without it a new CA is generated at every start.
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Switch on the web UI on each provider's HTTP face (`http://127.0.0.1:<port>/ui/`,
    /// docs/ui.md): every mailbox, readable from loopback only, without a token.
    #[arg(long)]
    pub ui: bool,
}

/// The configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    #[serde(default)]
    pub provider: Vec<ProviderEntry>,
}

/// `[[provider]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    pub id: String,
    pub name: String,
    pub domain: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    /// SMTP submission address, e.g. "127.0.0.1:2587" (default: an ephemeral port).
    #[serde(default)]
    pub smtp: Option<SocketAddr>,
    /// HTTP face address, e.g. "127.0.0.1:8080" (default: an ephemeral port).
    #[serde(default)]
    pub http: Option<SocketAddr>,
    /// Provider-to-provider face (implicit TLS, mutual TLS), e.g. "127.0.0.1:1465".
    #[serde(default)]
    pub relay: Option<SocketAddr>,
    /// POP3 face for a local message client (STLS before any login), e.g. "127.0.0.1:2110"
    /// (default: an ephemeral port).
    #[serde(default)]
    pub pop3: Option<SocketAddr>,
    /// POP3S face (implicit TLS, optional client certificate), e.g. "127.0.0.1:2995"
    /// (default: an ephemeral port).
    #[serde(default)]
    pub pop3s: Option<SocketAddr>,
    /// Trusted submission listener (plain SMTP, no TLS, no AUTH; MAIL FROM names the account),
    /// loopback only, off by default; for benchmarks (`scripts/bench-smtp.sh`).
    #[serde(default)]
    pub trusted_smtp: Option<toml::Spanned<SocketAddr>>,
    #[serde(default)]
    pub account: Vec<AccountEntry>,
}

/// `[[provider.account]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub address: String,
    pub holder: String,
    pub kind: AccountKind,
    pub auth_level: AuthLevel,
    pub password: String,
    #[serde(default)]
    pub api_token: Option<String>,
    #[serde(default)]
    pub access_opened: bool,
    /// The account is "vollständig gesperrt" once its first submission is accepted (the
    /// programmed `account-closed` citizen of docs/scenarios.md, for manual tests of an intake).
    #[serde(default)]
    pub closes_after_first_submission: bool,
    /// `host:port` of the SMTP listener this mailbox is pushed to (an intake).
    #[serde(default)]
    pub push: Option<Spanned<String>>,
    /// `"starttls"` (default) or `"plain"` (loopback only).
    #[serde(default)]
    pub push_tls: Option<Spanned<String>>,
    /// The name the receiver's certificate must carry (default: the host of `push`, or
    /// "localhost" for an IP address).
    #[serde(default)]
    pub push_server_name: Option<Spanned<String>>,
    /// A CA file (PEM) trusted for the push instead of the test CA in `<data>/pki/ca.pem`;
    /// relative to the configuration file's folder.
    #[serde(default)]
    pub push_ca: Option<Spanned<String>>,
    /// The push target the four keys describe, filled in by [`parse_config`]
    /// (`cmd::serve_push`).
    #[serde(skip)]
    pub push_target: Option<PushTarget>,
}

/// The demo world served without `--config`.
pub const DEMO_CONFIG: &str = r#"
[[provider]]
id = "dmda-a"
name = "DMDA A (simuliert)"
domain = "dmda-a.de-mail.de"
hosts = ["dresden.de-mail.de"]
smtp = "127.0.0.1:2587"
http = "127.0.0.1:8025"

[[provider.account]]
address = "erika.mustermann@dmda-a.de-mail.de"
holder = "Erika Mustermann"
kind = "person"
auth_level = "high"
password = "erika"
api_token = "token-erika"

[[provider.account]]
address = "gewerbeangelegenheiten@dresden.de-mail.de"
holder = "Landeshauptstadt Dresden, Gewerbeamt"
kind = "institution"
auth_level = "high"
password = "gewerbeamt"
api_token = "token-gewerbeamt"
access_opened = true
"#;

/// `FILE:LINE:COLUMN` of a byte offset into `text`.
pub(super) fn locate(text: &str, path: &Path, offset: usize) -> String {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{}:{line}:{column}", path.display())
}

/// Parses a configuration with `FILE:LINE:COLUMN` errors.
pub fn parse_config(text: &str, path: &Path) -> Result<ServeConfig> {
    let mut config: ServeConfig = toml::from_str(text).map_err(|e| {
        let at = locate(text, path, e.span().map_or(0, |s| s.start));
        anyhow::anyhow!("{at}: {}", e.message().trim())
    })?;
    if config.provider.is_empty() {
        bail!("{}: no [[provider]] defined", path.display());
    }
    let src = super::serve_push::Source { text, path };
    for p in &mut config.provider {
        for a in &mut p.account {
            a.push_target = super::serve_push::target(a, &src)?;
        }
    }
    for p in &config.provider {
        if let Some(t) = &p.trusted_smtp
            && !t.get_ref().ip().is_loopback()
        {
            bail!(
                "{}: trusted_smtp {} of provider {:?} is not a loopback address; the trusted submission listener (no TLS, no AUTH) may listen only on 127.0.0.0/8 or ::1",
                locate(text, path, t.span().start),
                t.get_ref(),
                p.id
            );
        }
        for a in &p.account {
            demail_sim::demail::address::validate(&a.address)
                .with_context(|| format!("{}: provider {:?}", path.display(), p.id))?;
        }
    }
    Ok(config)
}

/// `demail-testbed serve`.
pub fn run(args: &ServeArgs) -> ExitCode {
    let (text, path) = match &args.config {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => (t, p.clone()),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => (DEMO_CONFIG.to_string(), PathBuf::from("<built-in demo>")),
    };
    let config = match parse_config(&text, &path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    // Tokio's blocking pool (one job per submission: the PVD rules and the SQLite commit)
    // may grow to 512 threads, and under steady load it kept adding threads (each keeps its
    // stack's pages); the store's lock serializes the commits anyway, so a few threads carry
    // any load, and memory stays bounded.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(serve(
        config,
        &args.data,
        !args.no_messages,
        args.pki.as_deref(),
        args.ui,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(
    config: ServeConfig,
    data: &Path,
    keep_messages: bool,
    pki_dir: Option<&Path>,
    ui: bool,
) -> Result<()> {
    demail_sim::init_crypto();
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let clock = VirtualClock::wall();
    // The trace goes to a file as it happens; only a window stays in memory (docs/serve.md,
    // "Memory"). A restart appends and continues the sequence numbers.
    let trace_path = data.join("trace.jsonl");
    let last_seq = demail_sim::trace::last_seq_in(&trace_path)
        .with_context(|| format!("reading {}", trace_path.display()))?;
    let trace_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&trace_path)
        .with_context(|| format!("opening {}", trace_path.display()))?;
    let trace = Trace::streaming(clock.clone(), trace_file, last_seq);
    let pki = match pki_dir {
        Some(dir) => TestPki::load_or_init(dir)
            .with_context(|| format!("the test PKI in {}", dir.display()))?,
        None => TestPki::generate("serve")?,
    };
    let ca = pki.write_ca(&data.join("pki"))?;
    println!(
        "demail-testbed serve · data {} · test CA {}",
        data.display(),
        ca.display()
    );
    match pki_dir {
        Some(dir) => println!(
            "(the persistent test CA of {}: the same at every start)",
            dir.display()
        ),
        None => println!(
            "(the CA is generated anew at every start: clients must trust the current ca.pem; --pki DIR keeps one)"
        ),
    }
    println!(
        "trace {} (appended, one JSON line per event)",
        trace_path.display()
    );
    if !keep_messages {
        println!("(--no-messages: no messages/NNNNNN.eml copies; the store keeps every message)");
    }
    let mut providers: Vec<Provider> = Vec::new();
    let trusted: Vec<String> = config.provider.iter().map(|p| p.domain.clone()).collect();
    let mut described = Vec::new();
    for p in config.provider {
        let (provider, about) = start_provider(
            p,
            data,
            Switches { keep_messages, ui },
            &trusted,
            &clock,
            &trace,
            &pki,
        )
        .await?;
        providers.push(provider);
        described.push(about);
    }
    demail_sim::provider::connect_all(&providers);
    let listing = data.join("serve.json");
    write_listing(&listing, data, &ca, &trace_path, described)?;
    println!(
        "addresses, accounts, passwords and tokens for scripts: {}",
        listing.display()
    );
    // The handlers are installed before "ready": a stop signal from then on is never the
    // default action (termination with status 143 for SIGTERM).
    let mut stop = StopSignals::install()?;
    println!("ready; Ctrl-C or SIGTERM stops");
    let signal = stop.next().await;
    let _ = writeln!(std::io::stderr(), "serve: {signal} received, stopping");
    for p in &mut providers {
        p.stop().await;
    }
    // Printed once the listeners are closed: from here on no connection is accepted.
    say("stopping");
    // The listeners are closed; sessions already open may finish their transactions (a
    // commit before 250 is never cut). Whatever is still open after the grace period, or
    // after a second signal, ends with the process.
    let open = open_sessions(&providers);
    if open > 0 {
        say(&format!(
            "waiting up to {} s for {open} open SMTP session(s); a second Ctrl-C or SIGTERM stops at once",
            SHUTDOWN_GRACE.as_secs()
        ));
        let idle = async {
            while open_sessions(&providers) > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            () = idle => {}
            () = tokio::time::sleep(SHUTDOWN_GRACE) => {
                say(&format!("{} SMTP session(s) still open after {} s; closing them", open_sessions(&providers), SHUTDOWN_GRACE.as_secs()));
            }
            s = stop.next() => say(&format!("{s} received again; closing the open sessions")),
        }
    }
    say("stopped");
    Ok(())
}

/// What `serve`'s flags switch on or off for every provider.
#[derive(Clone, Copy)]
struct Switches {
    /// Write a copy of every message (`--no-messages` switches it off).
    keep_messages: bool,
    /// The web UI (`--ui`).
    ui: bool,
}

/// Starts one `[[provider]]` of the configuration (its message copies continue an earlier
/// run's numbering), sets its push targets and opens its trusted listener if asked, and prints
/// its faces and accounts.
async fn start_provider(
    p: ProviderEntry,
    data: &Path,
    switches: Switches,
    trusted: &[String],
    clock: &VirtualClock,
    trace: &Trace,
    pki: &TestPki,
) -> Result<(Provider, serde_json::Value)> {
    let accounts: Vec<AccountConfig> = p
        .account
        .iter()
        .map(|a| AccountConfig {
            address: a.address.clone(),
            holder: a.holder.clone(),
            kind: a.kind,
            max_auth_level: a.auth_level,
            password: a.password.clone(),
            api_token: a.api_token.clone(),
            access_opened: a.access_opened,
            closes_after_first_submission: a.closes_after_first_submission,
        })
        .collect();
    // Continue the numbering of `messages/NNNNNN.eml` after an earlier run on this data
    // directory, so that no copy is overwritten.
    let Switches { keep_messages, ui } = switches;
    let message_dir = keep_messages.then(|| data.join(&p.id).join("messages"));
    let wire_log = demail_sim::provider::WireLog::resuming(message_dir.clone())
        .with_context(|| format!("reading the message copies of provider {:?}", p.id))?;
    let mut provider = Provider::start(
        ProviderConfig {
            id: p.id.clone(),
            name: p.name.clone(),
            domain: p.domain.clone(),
            hosted_domains: p.hosts.clone(),
            accounts,
            message_dir,
            database: Some(data.join(&p.id).join("store.sqlite")),
            // `serve` promises that an acknowledged message survives kill -9 (docs/serve.md).
            durability: demail_sim::provider::store::Durability::Crash,
            smtp_listen: p.smtp,
            http_listen: p.http,
            relay_listen: p.relay,
            pop3_listen: p.pop3,
            pop3s_listen: p.pop3s,
            delivery_hub: None,
            wire_log: Some(std::sync::Arc::new(wire_log)),
            trusted_peers: trusted.to_vec(),
        },
        clock.clone(),
        trace.clone(),
        pki,
    )
    .await
    .with_context(|| format!("starting provider {:?}", p.id))?;
    for a in &p.account {
        if let Some(target) = &a.push_target {
            provider.set_push_target_with(&a.address, target.clone())?;
            if target.tls == PushTls::Plain {
                eprintln!(
                    "warning: provider {}: pushes of {} to {} are unencrypted (push_tls = \"plain\", loopback only)",
                    p.id, a.address, target.addr
                );
            }
        }
    }
    let trusted_at = match &p.trusted_smtp {
        Some(t) => Some(
            provider
                .open_trusted_submission(*t.get_ref())
                .await
                .with_context(|| format!("provider {:?}", p.id))?,
        ),
        None => None,
    };
    println!("provider {} ({})", p.id, p.domain);
    println!(
        "  SMTP submission  {}  (STARTTLS required before AUTH PLAIN/LOGIN)",
        provider.submission_addr()
    );
    if let Some(at) = trusted_at {
        println!(
            "  trusted SMTP     {at}  (WARNING: no TLS, no AUTH; MAIL FROM names the account; for benchmarks on loopback only)"
        );
        eprintln!(
            "warning: provider {}: trusted submission listener on {at} accepts mail for any account of this provider without TLS or AUTH; use it for benchmarks on loopback only",
            p.id
        );
    }
    println!(
        "  HTTP             http://{}  (gateway API /api/v1, directory /directory/v1, /openapi.json)",
        provider.http_addr()
    );
    let ui_url = if ui {
        provider
            .enable_ui()
            .with_context(|| format!("switching on the web UI of provider {:?}", p.id))?;
        let url = ui_url(provider.http_addr());
        match &url {
            Some(url) => println!(
                "  web UI           {url}  (every mailbox, loopback only, read-only; docs/ui.md)"
            ),
            None => println!(
                "  web UI           unreachable: the HTTP face listens on {}, not on loopback, and the UI answers only on loopback (docs/ui.md)",
                provider.http_addr()
            ),
        }
        url
    } else {
        None
    };
    println!(
        "  relay            {}  (provider to provider: implicit TLS, client certificate required)",
        provider.relay_addr()
    );
    println!(
        "  POP3             {}  (STLS required before USER/PASS or AUTH PLAIN: level normal)",
        provider.pop3_addr()
    );
    println!(
        "  POP3S            {}  (implicit TLS; a client certificate of the account + AUTH EXTERNAL: level high)",
        provider.pop3s_addr()
    );
    for a in &p.account {
        let push = a.push_target.as_ref().map(push_label).unwrap_or_default();
        let token = a.api_token.as_deref().unwrap_or("-");
        println!(
            "  account {}  {:?} {}  password={}  token={}{push}",
            a.address, a.kind, a.auth_level, a.password, token
        );
    }
    let accounts: Vec<serde_json::Value> = p
        .account
        .iter()
        .map(|a| {
            serde_json::json!({
                "address": a.address,
                "holder": a.holder,
                "kind": a.kind,
                "auth_level": a.auth_level,
                "password": a.password,
                "api_token": a.api_token,
                "access_opened": a.access_opened,
                "push": a.push_target.as_ref().map(|t| t.addr.to_string()),
                "push_tls": a.push_target.as_ref().map(|t| t.tls.mode()),
            })
        })
        .collect();
    let about = serde_json::json!({
        "id": p.id,
        "domain": p.domain,
        "smtp_submission": provider.submission_addr().to_string(),
        "trusted_smtp": trusted_at.map(|a| a.to_string()),
        "http": format!("http://{}", provider.http_addr()),
        "ui": ui_url,
        "relay": provider.relay_addr().to_string(),
        "pop3": provider.pop3_addr().to_string(),
        "pop3s": provider.pop3s_addr().to_string(),
        "accounts": accounts,
    });
    Ok((provider, about))
}

/// The web UI's address for a browser on this machine: the HTTP face's own address when it
/// is a loopback one, `127.0.0.1` (or `[::1]`) with its port when it listens on every
/// interface, `None` when it listens on another interface only (the UI answers only on
/// loopback).
fn ui_url(http: SocketAddr) -> Option<String> {
    let ip = http.ip();
    if ip.is_loopback() {
        Some(format!("http://{http}/ui/"))
    } else if ip.is_unspecified() {
        let local = if ip.is_ipv4() { "127.0.0.1" } else { "[::1]" };
        Some(format!("http://{local}:{}/ui/", http.port()))
    } else {
        None
    }
}

/// How `serve` prints a push target: `  push → ADDR (STARTTLS, server name N, CA …)`.
fn push_label(t: &PushTarget) -> String {
    let how = match &t.tls {
        PushTls::StartTls {
            server_name,
            ca_pem,
        } => format!(
            "STARTTLS, server name {server_name}, {}",
            if ca_pem.is_some() {
                "push_ca"
            } else {
                "the test CA"
            }
        ),
        PushTls::Plain => "PLAIN SMTP, unencrypted".to_string(),
    };
    format!("  push → {} ({how})", t.addr)
}

/// Writes `serve.json`: every address, account, password and token of this start, and the
/// paths of the test CA and the trace, for scripts (docs/serve.md). Written anew at every
/// start; it holds the passwords, like the configuration file it comes from.
fn write_listing(
    path: &Path,
    data: &Path,
    ca: &Path,
    trace: &Path,
    providers: Vec<serde_json::Value>,
) -> Result<()> {
    let listing = serde_json::json!({
        "data": data.display().to_string(),
        "ca_pem": ca.display().to_string(),
        "trace": trace.display().to_string(),
        "providers": providers,
    });
    let text = serde_json::to_string_pretty(&listing).context("serve.json")?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Prints a line on stdout, ignoring a closed stdout (`serve | head`, a supervisor that went
/// away): stopping must not fail on it.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Threads of the tokio blocking pool in `serve` (tokio's default is 512).
pub const BLOCKING_THREADS: usize = 8;

/// How long `serve` waits after a stop signal for open SMTP sessions to end (systemd waits
/// 90 s before SIGKILL by default, Kubernetes 30 s).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// SMTP sessions open on all providers (submission, trusted and relay faces).
fn open_sessions(providers: &[Provider]) -> usize {
    providers
        .iter()
        .map(|p| p.activity().snapshot().open_sessions)
        .sum()
}

/// The signals that stop `serve`: SIGINT (Ctrl-C) and SIGTERM (systemd, Kubernetes, `kill`).
pub(crate) struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers (from now on the signals no longer end the process by default).
    pub(crate) fn install() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())
                    .context("installing the SIGINT handler")?,
                terminate: signal(SignalKind::terminate())
                    .context("installing the SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next stop signal and names it.
    pub(crate) async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT (Ctrl-C)",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo configuration parses; a typo is located; an invalid address is refused.
    #[test]
    fn config_parsing() {
        let c = parse_config(DEMO_CONFIG, Path::new("demo")).unwrap();
        assert_eq!(c.provider[0].account.len(), 2);
        let bad = DEMO_CONFIG.replacen("holder =", "holdr =", 1);
        let e = parse_config(&bad, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:") && e.contains("holdr"), "{e}");
        let bad = DEMO_CONFIG.replacen("erika.mustermann@", "Erika.Mustermann@", 1);
        let e = format!("{:#}", parse_config(&bad, Path::new("x.toml")).unwrap_err());
        assert!(e.contains("lower case"), "{e}");
    }

    /// trusted_smtp is off by default, accepted on loopback, and refused elsewhere with the
    /// location of the value.
    #[test]
    fn trusted_smtp_must_be_loopback() {
        let c = parse_config(DEMO_CONFIG, Path::new("demo")).unwrap();
        assert!(c.provider[0].trusted_smtp.is_none());
        let ok = DEMO_CONFIG.replacen(
            "http = \"127.0.0.1:8025\"",
            "http = \"127.0.0.1:8025\"\ntrusted_smtp = \"127.0.0.1:2526\"",
            1,
        );
        let c = parse_config(&ok, Path::new("x.toml")).unwrap();
        assert_eq!(
            *c.provider[0].trusted_smtp.as_ref().unwrap().get_ref(),
            "127.0.0.1:2526".parse::<SocketAddr>().unwrap()
        );
        let v6 = ok.replacen("127.0.0.1:2526", "[::1]:2526", 1);
        assert!(parse_config(&v6, Path::new("x.toml")).is_ok());
        let bad = ok.replacen("127.0.0.1:2526", "0.0.0.0:2526", 1);
        let e = parse_config(&bad, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        let line = bad
            .lines()
            .position(|l| l.starts_with("trusted_smtp"))
            .unwrap()
            + 1;
        assert!(
            e.starts_with(&format!("x.toml:{line}:16: ")) && e.contains("loopback"),
            "{e}"
        );
    }
}
