//! The scenario's side of setting up a world: the run's credentials drawn from the seed
//! (`Secrets`), each provider's accounts, the provider plans, and the reference intake's
//! configuration with its push targets (the mechanics are `demail_sim::world`).

use super::*;

/// The run's credentials, drawn from the seed so that a run is replayable; they never reach
/// the trace.
pub(super) struct Secrets {
    /// The system's Funktionspostfächer (address, holder), in configuration order: the
    /// scenario's, or the target file's.
    pub(super) intake_mailboxes: Vec<(String, String)>,
    /// One password per Funktionspostfach, in configuration order.
    pub(super) intake_passwords: BTreeMap<String, String>,
    /// Pull mode: one API token per Funktionspostfach for the gateway API.
    pub(super) intake_tokens: BTreeMap<String, String>,
    /// Per scripted citizen, in file order.
    pub(super) citizen_passwords: Vec<String>,
    /// Per generated De-Mail user, in population order.
    pub(super) generated_passwords: Vec<String>,
}

impl Secrets {
    pub(super) fn draw(scenario: &Scenario, master: u64, n_generated: usize) -> Self {
        let mut cred_rng = seed::rng(master, "credentials");
        let intake_passwords = scenario
            .intake
            .mailboxes
            .iter()
            .map(|m| (m.address.clone(), seed::token(&mut cred_rng)))
            .collect();
        let intake_tokens = if scenario.receive == ReceiveMode::Pull {
            scenario
                .intake
                .mailboxes
                .iter()
                .map(|m| (m.address.clone(), seed::token(&mut cred_rng)))
                .collect()
        } else {
            Default::default()
        };
        let citizen_passwords = (0..scenario.file.citizen.len())
            .map(|_| seed::token(&mut cred_rng))
            .collect();
        let mut pop_rng = seed::rng(master, "population-credentials");
        let generated_passwords = (0..n_generated)
            .map(|_| seed::token(&mut pop_rng))
            .collect();
        Self {
            intake_mailboxes: scenario
                .intake
                .mailboxes
                .iter()
                .map(|m| (m.address.clone(), m.name.clone()))
                .collect(),
            intake_passwords,
            intake_tokens,
            citizen_passwords,
            generated_passwords,
        }
    }
}

/// Starts every provider of the world with its accounts (parallel to `[[provider]]`), their
/// stores and the run's wire log in the run folder; `listen` fixes the addresses of one
/// provider (the intake's, for a target file).
pub(super) async fn start_providers(
    scenario: &Scenario,
    opts: &RunOptions,
    clock: &VirtualClock,
    trace: &Trace,
    pki: &TestPki,
    accounts: Vec<Vec<AccountConfig>>,
    listen: Option<(&String, &Listen)>,
) -> Result<(Vec<Provider>, tokio::task::JoinHandle<()>)> {
    let plans = scenario
        .file
        .provider
        .iter()
        .zip(accounts)
        .map(|(spec, accounts)| ProviderPlan {
            id: spec.id.clone(),
            name: spec.name.clone(),
            domain: spec.domain.clone(),
            hosts: spec.hosts.clone(),
            trusted: spec.trusted,
            accounts,
            listen: match listen {
                Some((id, l)) if *id == spec.id => *l,
                _ => Default::default(),
            },
        })
        .collect();
    let wire_log = Arc::new(demail_sim::provider::WireLog::new(
        opts.keep_messages.then(|| opts.out_dir.join("messages")),
    ));
    demail_sim::world::start_providers(plans, &opts.out_dir, wire_log, clock, trace, pki).await
}

/// The accounts of provider `provider_id`: its citizens; the intake's provider also hosts the
/// intake and the generated population's De-Mail users.
pub(super) fn accounts(
    scenario: &Scenario,
    secrets: &Secrets,
    provider_id: &str,
    hosts_intake: bool,
    generated: &[Generated],
) -> Vec<AccountConfig> {
    let mut accounts = Vec::new();
    if hosts_intake {
        for (address, holder) in &secrets.intake_mailboxes {
            accounts.push(AccountConfig {
                address: address.clone(),
                holder: holder.clone(),
                kind: AccountKind::Institution,
                max_auth_level: demail_sim::demail::AuthLevel::High,
                password: secrets.intake_passwords[address].clone(),
                api_token: secrets.intake_tokens.get(address).cloned(),
                access_opened: true,
                closes_after_first_submission: false,
            });
        }
    }
    for ((c, r), pw) in scenario
        .file
        .citizen
        .iter()
        .zip(&scenario.citizens)
        .zip(&secrets.citizen_passwords)
    {
        if *c.provider.get_ref() == provider_id {
            accounts.push(AccountConfig {
                address: c.address.clone(),
                holder: c.name.clone(),
                kind: AccountKind::Person,
                max_auth_level: r.max_level,
                password: pw.clone(),
                api_token: None,
                access_opened: r.access_opened,
                // docs/scenarios.md "Programmed citizens": account-closed.
                closes_after_first_submission: r
                    .programme
                    .as_ref()
                    .is_some_and(Programme::closes_account),
            });
        }
    }
    if hosts_intake {
        for (g, pw) in generated.iter().zip(&secrets.generated_passwords) {
            accounts.push(AccountConfig {
                address: g.address.to_string(),
                holder: g.name.clone(),
                kind: g.kind,
                max_auth_level: g.level,
                password: pw.clone(),
                api_token: None,
                access_opened: g.access_opened,
                closes_after_first_submission: false,
            });
        }
    }
    accounts
}

/// How the reference intake is wired: its credentials at the provider, where the provider
/// listens, its PKI and listeners, the DMS. The embedded run and the standalone
/// `demail-testbed intake` (docs/sut.md) fill it in.
pub struct IntakeWiring<'a> {
    /// Password per Funktionspostfach.
    pub passwords: BTreeMap<String, String>,
    /// Pull mode: API token per Funktionspostfach; `None`: pushes into its listener.
    pub pull_tokens: Option<BTreeMap<String, String>>,
    /// POP3 mode: the provider's POP3 address; `None`: no POP3.
    pub provider_pop3: Option<std::net::SocketAddr>,
    pub provider_submission: std::net::SocketAddr,
    /// Base URL of the provider's HTTP face.
    pub provider_http: String,
    pub pki: &'a TestPki,
    /// Where the listener's certificate files are written.
    pub tls_dir: PathBuf,
    pub dms_url: Option<String>,
    pub dms_outbox: Option<PathBuf>,
    pub smtp_listen: Option<std::net::SocketAddr>,
    pub http_listen: Option<std::net::SocketAddr>,
    /// The closed-case archive (SQLite; long runs keep memory flat); `None`: all in memory.
    pub archive: Option<PathBuf>,
}

/// What the reference intake is asked to be: its configuration file (Funktionspostfächer,
/// procedures), the outage windows of its listener and the options of its replies.
pub struct IntakeBehaviour {
    pub file: demail_sim::intake::config::IntakeFile,
    pub outages: Vec<(Timestamp, Timestamp)>,
    pub reply_options: Vec<DeMailOption>,
    /// Rules broken on purpose (`intake --flaw`, `certify --flaw`; docs/certification.md).
    pub flaws: demail_sim::intake::flaw::Flaws,
}

impl IntakeBehaviour {
    /// A scenario's `[intake]` section with its overrides.
    pub fn of_scenario(scenario: &Scenario) -> Result<Self> {
        Ok(Self {
            file: scenario.intake.clone(),
            outages: scenario
                .intake_outages
                .iter()
                .map(|(from, until)| {
                    let at = |s: &jiff::Span| scenario.start.checked_add(*s).map(|z| z.timestamp());
                    Ok((at(from)?, at(until)?))
                })
                .collect::<Result<_, jiff::Error>>()
                .context("intake outage out of range")?,
            reply_options: scenario
                .file
                .intake
                .reply_options
                .iter()
                .filter_map(|o| DeMailOption::from_name(o.get_ref()))
                .collect(),
            flaws: Default::default(),
        })
    }
}

/// The reference intake's configuration: what it is asked to be, wired as `w` says.
pub fn intake_config(b: IntakeBehaviour, w: IntakeWiring<'_>) -> Result<IntakeConfig> {
    Ok(IntakeConfig {
        file: b.file,
        passwords: w.passwords,
        provider_submission: w.provider_submission,
        provider_http: Some(w.provider_http),
        ca_pem: w.pki.ca_pem().to_string(),
        ca_der: w.pki.ca_der().to_vec(),
        identity: w
            .pki
            .issue("intake.localhost", &["localhost", "127.0.0.1"])?,
        tls_dir: w.tls_dir,
        dms_url: w.dms_url,
        dms_outbox: w.dms_outbox,
        pull_tokens: w.pull_tokens,
        provider_pop3: w.provider_pop3,
        outages: b.outages,
        reply_options: b.reply_options,
        smtp_listen: w.smtp_listen,
        http_listen: w.http_listen,
        flaws: b.flaws,
        archive: w.archive,
    })
}

/// Starts the reference intake against `provider` in the runner's process.
pub(super) async fn start_intake(
    scenario: &Scenario,
    opts: &RunOptions,
    provider: &Provider,
    pki: &TestPki,
    secrets: &Secrets,
    dms: Option<&crate::run::dms_mock::MockDms>,
) -> Result<ReferenceIntake> {
    let pull = scenario.receive == ReceiveMode::Pull;
    let mut behaviour = IntakeBehaviour::of_scenario(scenario)?;
    behaviour.flaws = opts.flaws.clone();
    ReferenceIntake::start(intake_config(
        behaviour,
        IntakeWiring {
            passwords: secrets.intake_passwords.clone(),
            pull_tokens: pull.then(|| secrets.intake_tokens.clone()),
            provider_pop3: (scenario.receive == ReceiveMode::Pop3).then(|| provider.pop3_addr()),
            provider_submission: provider.submission_addr(),
            provider_http: format!("http://{}", provider.http_addr()),
            pki,
            tls_dir: opts.out_dir.join("pki"),
            dms_url: dms.map(crate::run::dms_mock::MockDms::url),
            dms_outbox: Some(opts.out_dir.join("intake-dms.sqlite")),
            smtp_listen: None,
            http_listen: None,
            // Closed cases leave memory once enough have gathered (`intake::archive`), so that a
            // long run's memory does not grow with its arrivals (docs/benchmarks.md); the runner
            // reads the intake only through its events, which the archive does not change.
            archive: Some(opts.out_dir.join("intake-archive.sqlite")),
        },
    )?)
    .await
}

/// Points the provider's push for every Funktionspostfach of the system at `push`, with the
/// target file's TLS settings (STARTTLS with its server name and CA file, or plain SMTP on
/// loopback) or, for the embedded intake, STARTTLS against the run's CA.
pub(crate) fn point_pushes<'a>(
    provider: &Provider,
    mailboxes: impl IntoIterator<Item = &'a String>,
    push: std::net::SocketAddr,
    target: Option<&crate::target::Target>,
) -> Result<()> {
    use demail_sim::provider::delivery::push::{PushTarget, PushTls};
    let tls = match target.map(|t| &t.push_tls) {
        None => PushTls::default(),
        Some(crate::target::PushTls::Plain) => PushTls::Plain,
        Some(crate::target::PushTls::StartTls {
            server_name,
            ca_file,
        }) => PushTls::StartTls {
            server_name: server_name.clone(),
            ca_pem: match ca_file {
                None => None,
                Some(f) => Some(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("reading the push CA file {}", f.display()))?,
                ),
            },
        },
    };
    for m in mailboxes {
        provider.set_push_target_with(
            m,
            PushTarget {
                addr: push,
                tls: tls.clone(),
            },
        )?;
    }
    Ok(())
}
