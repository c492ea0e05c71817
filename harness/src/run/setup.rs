//! The scenario's side of setting up a world: the run's credentials drawn from the seed
//! (`Secrets`), each provider's accounts, the provider plans, and the reference intake's
//! configuration with its push targets (the mechanics are `demail_sim::world`).

use super::*;

/// The run's credentials, drawn from the seed so that a run is replayable; they never reach
/// the trace.
pub(super) struct Secrets {
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
            intake_passwords,
            intake_tokens,
            citizen_passwords,
            generated_passwords,
        }
    }
}

/// Starts every provider of the world with its accounts (parallel to `[[provider]]`), their
/// stores and the run's wire log in the run folder.
pub(super) async fn start_providers(
    scenario: &Scenario,
    opts: &RunOptions,
    clock: &VirtualClock,
    trace: &Trace,
    pki: &TestPki,
    accounts: Vec<Vec<AccountConfig>>,
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
        for m in &scenario.intake.mailboxes {
            accounts.push(AccountConfig {
                address: m.address.clone(),
                holder: m.name.clone(),
                kind: AccountKind::Institution,
                max_auth_level: demail_sim::demail::AuthLevel::High,
                password: secrets.intake_passwords[&m.address].clone(),
                api_token: secrets.intake_tokens.get(&m.address).cloned(),
                access_opened: true,
            });
        }
    }
    for (c, pw) in scenario.file.citizen.iter().zip(&secrets.citizen_passwords) {
        if *c.provider.get_ref() == provider_id {
            accounts.push(AccountConfig {
                address: c.address.clone(),
                holder: c.name.clone(),
                kind: AccountKind::Person,
                max_auth_level: c.auth_level,
                password: pw.clone(),
                api_token: None,
                access_opened: c.access_opened,
            });
        }
    }
    if hosts_intake {
        for (g, pw) in generated.iter().zip(&secrets.generated_passwords) {
            accounts.push(AccountConfig {
                address: g.address.clone(),
                holder: g.name.clone(),
                kind: g.kind,
                max_auth_level: g.level,
                password: pw.clone(),
                api_token: None,
                access_opened: g.access_opened,
            });
        }
    }
    accounts
}

/// Starts the reference intake against `provider` and, in push mode, points the provider's
/// push for every Funktionspostfach at it.
pub(super) async fn start_intake(
    scenario: &Scenario,
    opts: &RunOptions,
    provider: &Provider,
    pki: &TestPki,
    secrets: &Secrets,
    dms: Option<&crate::run::dms_mock::MockDms>,
) -> Result<ReferenceIntake> {
    let pull = scenario.receive == ReceiveMode::Pull;
    let intake = ReferenceIntake::start(IntakeConfig {
        file: scenario.intake.clone(),
        passwords: secrets.intake_passwords.clone(),
        provider_submission: provider.submission_addr(),
        provider_http: Some(format!("http://{}", provider.http_addr())),
        ca_pem: pki.ca_pem().to_string(),
        ca_der: pki.ca_der().to_vec(),
        identity: pki.issue("intake.localhost", &["localhost", "127.0.0.1"])?,
        tls_dir: opts.out_dir.join("pki"),
        dms_url: dms.map(crate::run::dms_mock::MockDms::url),
        dms_outbox: Some(opts.out_dir.join("intake-dms.sqlite")),
        pull_tokens: pull.then(|| secrets.intake_tokens.clone()),
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
    })
    .await?;
    if !pull && let Some(push) = SystemUnderTest::push_addr(&intake) {
        for m in &scenario.intake.mailboxes {
            provider.set_push_target(&m.address, push)?;
        }
    }
    Ok(intake)
}
