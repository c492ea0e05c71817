//! The `intake` command: the reference intake as a standalone process, a system under test
//! like any other (docs/sut.md, "The reference intake as a target"). It is configured only by
//! the target file (its credentials, listen addresses, the provider's addresses) and an intake
//! configuration: a scenario file's `[intake]` section (`--scenario`) or an intake
//! configuration file (`--config`, docs/intake.md). It talks to the provider only over the
//! wire, writes a ready file when its listeners are up, and stops on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use demail_sim::intake::ReferenceIntake;
use demail_sim::intake::config::IntakeFile;
use demail_sim::intake::flaw::{Flaw, Flaws};
use demail_sim::pki::TestPki;

use crate::model::ReceiveMode;
use crate::run::{IntakeBehaviour, IntakeWiring, intake_config};
use crate::target::Target;

/// Arguments of `intake`.
#[derive(Debug, clap::Args)]
pub struct IntakeArgs {
    /// The target file (docs/sut.md): credentials, listen addresses, the provider's addresses.
    #[arg(long)]
    pub target: PathBuf,
    /// Take the intake configuration from this scenario's `[intake]` section (with its
    /// overrides, outage windows and reply options).
    #[arg(long, conflicts_with = "config")]
    pub scenario: Option<PathBuf>,
    /// Take the intake configuration from this file (docs/intake.md) [default: the embedded
    /// Dresden-like configuration].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The provider's SMTP submission address [default: the target's `[provider] submission`].
    #[arg(long)]
    pub submission: Option<SocketAddr>,
    /// Base URL of the provider's HTTP face [default: from the target's `[provider] http`].
    #[arg(long)]
    pub gateway: Option<String>,
    /// The provider's POP3 address (plain port, STLS), for a scenario whose intake receives
    /// by POP3 (`[intake] receive = "pop3"`) [default: the target's `[provider] pop3`].
    #[arg(long)]
    pub pop3: Option<SocketAddr>,
    /// The test PKI folder (`pki init`; its CA key is needed to issue the listener's
    /// certificate) [default: a new one in the data folder].
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Base URL of the DMS for the hand-over (docs/dms.md); empty: no hand-over.
    #[arg(long)]
    pub dms: Option<String>,
    /// Write `{"push": ADDR, "http": URL}` here once the listeners are up.
    #[arg(long)]
    pub ready: Option<PathBuf>,
    /// Break this rule on purpose (repeatable; docs/certification.md "Flawed intakes"): one of
    /// accepts-unconfirmed, accepts-broken-seal, trusts-foreign-seal, fiction-third-day,
    /// no-access-check, ignores-meldungen, late-empfangsbescheinigung,
    /// bescheid-not-persoenlich, one-month-without-belehrung.
    #[arg(long = "flaw", value_name = "NAME", value_parser = parse_flaw)]
    pub flaws: Vec<Flaw>,
    /// Folder for the intake's files (TLS files, DMS outbox) [default: intake-data].
    #[arg(long, default_value = "intake-data")]
    pub data: PathBuf,
    /// Move closed cases out of memory into this SQLite file at the end of a clock step once
    /// the cases in memory have more than doubled since the last move, so that a long load
    /// keeps the intake's memory flat; `GET /testbed/cases` then lists the open cases and at
    /// most as many closed ones (docs/sut.md) [default: everything stays in memory].
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,
}

/// `demail-testbed intake`.
pub fn run(args: &IntakeArgs) -> ExitCode {
    demail_sim::init_crypto();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What the intake is asked to be, and how the scenario (if any) wants it to receive.
fn behaviour(args: &IntakeArgs) -> Result<(IntakeBehaviour, Option<ReceiveMode>)> {
    if let Some(path) = &args.scenario {
        let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let scenario = crate::scenario::load(path, &root).map_err(anyhow::Error::new)?;
        return Ok((
            IntakeBehaviour::of_scenario(&scenario)?,
            Some(scenario.receive),
        ));
    }
    let file = match &args.config {
        None => IntakeFile::default_dresden(),
        Some(p) => IntakeFile::load(p),
    }
    .map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: {}",
            e.path.display(),
            e.line,
            e.column,
            e.message
        )
    })?;
    let b = IntakeBehaviour {
        file,
        outages: Vec::new(),
        reply_options: Vec::new(),
        flaws: Default::default(),
    };
    Ok((b, None))
}

async fn serve(args: &IntakeArgs) -> Result<()> {
    let target = Target::load(&args.target).map_err(anyhow::Error::new)?;
    let (mut behaviour, wish) = behaviour(args)?;
    behaviour.flaws = Flaws::of(args.flaws.iter().copied());
    let receive = target.receive_for(wish.unwrap_or(ReceiveMode::Push));
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let pki_dir = args.pki.clone().unwrap_or_else(|| args.data.join("pki"));
    let pki = TestPki::load_or_init(&pki_dir)
        .with_context(|| format!("the test PKI in {}", pki_dir.display()))?;
    let mailboxes: Vec<String> = behaviour
        .file
        .mailboxes
        .iter()
        .map(|m| m.address.clone())
        .collect();
    let pull_tokens = match (receive, &target.token) {
        (ReceiveMode::Push, _) => None,
        (ReceiveMode::Pop3, _) => None,
        (ReceiveMode::Pull, Some(t)) => Some(
            mailboxes
                .iter()
                .map(|m| (m.clone(), crate::target::token_of(t, m)))
                .collect(),
        ),
        (ReceiveMode::Pull, None) => bail!(
            "{}: [accounts] token is needed for an intake that pulls",
            target.path.display()
        ),
    };
    let http_listen = match &target.clock {
        Some(url) => Some(listen_of(url)?),
        None => None,
    };
    let config = intake_config(
        behaviour,
        IntakeWiring {
            passwords: mailboxes
                .iter()
                .map(|m| (m.clone(), target.password.clone()))
                .collect(),
            pull_tokens,
            provider_pop3: match receive {
                ReceiveMode::Pop3 => Some(args.pop3.or(target.pop3).with_context(|| {
                    format!(
                        "{}: the provider's POP3 address is needed for an intake that receives by POP3 (--pop3 or [provider] pop3)",
                        target.path.display()
                    )
                })?),
                _ => None,
            },
            provider_submission: args.submission.unwrap_or(target.submission),
            provider_http: args
                .gateway
                .clone()
                .unwrap_or_else(|| format!("http://{}", target.gateway)),
            pki: &pki,
            tls_dir: args.data.join("tls"),
            dms_url: args.dms.clone().filter(|d| !d.is_empty()),
            dms_outbox: Some(args.data.join("intake-dms.sqlite")),
            smtp_listen: target.push,
            http_listen,
            archive: args.archive.clone(),
        },
    )?;
    let intake = ReferenceIntake::start(config).await?;
    let ready = serde_json::json!({
        "push": intake.smtp_addr().to_string(),
        "http": intake.base_url(),
    });
    println!(
        "reference intake: SMTP {} (STARTTLS), HTTP {} ({} Funktionspostfächer, {}){}",
        intake.smtp_addr(),
        intake.base_url(),
        mailboxes.len(),
        match receive {
            ReceiveMode::Push => "receives by push",
            ReceiveMode::Pull => "pulls from the gateway API",
            ReceiveMode::Pop3 => "takes its mail over POP3",
        },
        flaw_note(&args.flaws)
    );
    if let Some(path) = &args.ready {
        // Written whole, then renamed: a reader never sees half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&ready)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut signals = crate::cmd::serve::StopSignals::install()?;
    let signal = signals.next().await;
    println!("reference intake: {signal}, stopping");
    drop(intake);
    Ok(())
}

/// Parses a `--flaw` name.
pub fn parse_flaw(s: &str) -> Result<Flaw, String> {
    Flaw::parse(s)
}

/// ", FLAWED ON PURPOSE: …" for the start line, or nothing.
fn flaw_note(flaws: &[Flaw]) -> String {
    if flaws.is_empty() {
        return String::new();
    }
    let list: Vec<String> = flaws
        .iter()
        .map(|f| format!("{} ({})", f.name(), f.wrong()))
        .collect();
    format!(", FLAWED ON PURPOSE: {}", list.join("; "))
}

/// The socket address of an http URL's authority (`http://127.0.0.1:0/testbed/clock`).
fn listen_of(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url}: the reference intake serves plain http"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .parse()
        .with_context(|| format!("{url}: expected http://IP:PORT/…"))
}
