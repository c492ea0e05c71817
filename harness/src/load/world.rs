//! The embedded world of a load run on the WALL clock (as `serve` runs its providers): one
//! simulated provider holding the shard's citizens and the intake's Funktionspostfächer, and
//! the reference intake, pushed to over STARTTLS. A ticker posts the wall time to the
//! intake's test clock (its replies go out on a clock step) and retries due pushes.
//!
//! The intake runs with its embedded configuration, open around the clock, without
//! Bescheide, and with the profile's `processing_time` for every procedure: a load test
//! measures how fast the world answers, not office hours.
//!
//! With a target file (docs/sut.md) the provider listens where the target says, holds the
//! target's Funktionspostfächer with its credentials, and the system is started with the
//! target's `[start]` command (`{scenario}` is the profile) or is expected to run already;
//! pushes follow the target's `[receive]`, the ticker posts to its clock if it has one.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use demail_sim::clock::VirtualClock;
use demail_sim::intake::ReferenceIntake;
use demail_sim::intake::office_hours::OfficeHours;
use demail_sim::pki::TestPki;
use demail_sim::provider::delivery::push::{PushTarget, PushTls};
use demail_sim::provider::{AccountConfig, AccountKind, Provider};
use demail_sim::seed;
use demail_sim::trace::Trace;
use demail_sim::world::ProviderPlan;
use demail_sim::world::SystemUnderTest as _;

use super::profile::Profile;
use super::schedule::{PROVIDER_ID, Shard, User};

/// The system under test of a load: the reference intake in this process, or the system of
/// a target file.
pub enum Sut {
    Embedded(ReferenceIntake),
    External(Box<crate::target::external::External>),
}

impl Sut {
    fn get(&self) -> &dyn demail_sim::world::SystemUnderTest {
        match self {
            Self::Embedded(i) => i,
            Self::External(e) => e.as_ref(),
        }
    }
}

/// The running world of one shard.
pub struct EmbeddedWorld {
    pub providers: Arc<Vec<Provider>>,
    pub sut: Sut,
    pub pki: TestPki,
    /// Passwords per citizen index (only this shard's citizens have accounts).
    pub passwords: Arc<Vec<String>>,
    _hub: tokio::task::JoinHandle<()>,
}

/// Starts the provider and the intake for `shard`'s citizens.
pub async fn start(
    profile: &Profile,
    users: &[User],
    shard: Shard,
    out: &Path,
    clock: &VirtualClock,
    trace: &Trace,
) -> Result<EmbeddedWorld> {
    let pki = TestPki::generate(&format!("load-{}", profile.name))?;
    pki.write_ca(&out.join("pki"))?;
    let mut intake_file = demail_sim::intake::config::IntakeFile::default_dresden()
        .map_err(|e| anyhow::anyhow!("the embedded intake configuration: {e}"))?;
    intake_file.office_hours = OfficeHours::always();
    for p in &mut intake_file.procedures {
        p.reply_after = profile.world.processing_time;
        p.bescheid = None;
    }
    // Credentials from the seed, the same in every shard.
    let mut rng = seed::rng(profile.seed, "load-credentials");
    let intake_passwords: BTreeMap<String, String> = intake_file
        .mailboxes
        .iter()
        .map(|m| (m.address.clone(), seed::token(&mut rng)))
        .collect();
    let passwords: Vec<String> = users.iter().map(|_| seed::token(&mut rng)).collect();
    let mut accounts: Vec<AccountConfig> = intake_file
        .mailboxes
        .iter()
        .map(|m| AccountConfig {
            address: m.address.clone(),
            holder: m.name.clone(),
            kind: AccountKind::Institution,
            max_auth_level: demail_sim::demail::AuthLevel::High,
            password: intake_passwords[&m.address].clone(),
            api_token: None,
            access_opened: true,
            closes_after_first_submission: false,
        })
        .collect();
    accounts.extend(citizen_accounts(users, &passwords, shard));
    let plan = ProviderPlan {
        id: PROVIDER_ID.into(),
        name: "DMDA A (simuliert, Last)".into(),
        domain: profile.world.provider_domain.clone(),
        hosts: vec![intake_file.city.domain.clone()],
        trusted: true,
        accounts,
        listen: Default::default(),
    };
    // No message copies on disk: the store keeps every message (docs/serve.md, --no-messages).
    let wire_log = Arc::new(demail_sim::provider::WireLog::new(None));
    let (providers, hub) =
        demail_sim::world::start_providers(vec![plan], out, wire_log, clock, trace, &pki)
            .await
            .context("starting the simulated provider")?;
    let provider = &providers[0];
    let mailboxes: Vec<String> = intake_file
        .mailboxes
        .iter()
        .map(|m| m.address.clone())
        .collect();
    let intake = ReferenceIntake::start(crate::run::intake_config(
        crate::run::IntakeBehaviour {
            file: intake_file,
            outages: Vec::new(),
            reply_options: Vec::new(),
            flaws: Default::default(),
        },
        crate::run::IntakeWiring {
            passwords: intake_passwords,
            pull_tokens: None,
            provider_pop3: None,
            provider_submission: provider.submission_addr(),
            provider_http: format!("http://{}", provider.http_addr()),
            pki: &pki,
            tls_dir: out.join("pki"),
            dms_url: None,
            dms_outbox: None,
            smtp_listen: None,
            http_listen: None,
            // Closed cases leave memory: a long load keeps the intake flat (docs/load.md).
            archive: Some(out.join("intake-archive.sqlite")),
        },
    )?)
    .await
    .context("starting the reference intake")?;
    let push = intake
        .push_addr()
        .context("the reference intake takes pushes")?;
    for m in &mailboxes {
        provider.set_push_target_with(
            m,
            PushTarget {
                addr: push,
                tls: PushTls::default(),
            },
        )?;
    }
    Ok(EmbeddedWorld {
        providers: Arc::new(providers),
        sut: Sut::Embedded(intake),
        pki,
        passwords: Arc::new(passwords),
        _hub: hub,
    })
}

/// The accounts of `shard`'s citizens (their passwords parallel to `users`).
fn citizen_accounts(users: &[User], passwords: &[String], shard: Shard) -> Vec<AccountConfig> {
    users
        .iter()
        .zip(passwords)
        .enumerate()
        .filter(|(i, _)| shard.owns_citizen(*i))
        .map(|(_, (u, pw))| AccountConfig {
            address: u.address.clone(),
            holder: u.name.clone(),
            kind: u.kind,
            max_auth_level: u.level,
            password: pw.clone(),
            api_token: None,
            access_opened: u.access_opened,
            closes_after_first_submission: false,
        })
        .collect()
}

/// Starts the provider for `shard`'s citizens and the system of `target`.
pub async fn start_target(
    profile: &Profile,
    users: &[User],
    shard: Shard,
    out: &Path,
    clock: &VirtualClock,
    trace: &Trace,
    target: &crate::target::Target,
) -> Result<EmbeddedWorld> {
    use crate::model::ReceiveMode;
    // A PKI with its key in <out>/pki, so that the system can issue its listener's
    // certificate (docs/sut.md, `{pki}`), as `run --target` does.
    let pki_dir = out.join("pki");
    if pki_dir.exists() {
        std::fs::remove_dir_all(&pki_dir)
            .with_context(|| format!("clearing {}", pki_dir.display()))?;
    }
    let pki = TestPki::load_or_init(&pki_dir)?;
    crate::run::listener_certificate(&pki, &pki_dir, Some(target))?;
    // The same draws as the embedded world: one per Funktionspostfach, then per citizen.
    let mut rng = seed::rng(profile.seed, "load-credentials");
    for _ in &target.mailboxes {
        let _ = seed::token(&mut rng);
    }
    let passwords: Vec<String> = users.iter().map(|_| seed::token(&mut rng)).collect();
    let receive = target.receive.unwrap_or(ReceiveMode::Push);
    let mut accounts = Vec::new();
    for m in &target.mailboxes {
        let token = match (receive, &target.token) {
            (ReceiveMode::Pull, Some(t)) => Some(crate::target::token_of(t, m)),
            (ReceiveMode::Pull, None) => anyhow::bail!(
                "{}: [accounts] token is needed for a system that pulls",
                target.path.display()
            ),
            (ReceiveMode::Push | ReceiveMode::Pop3, _) => None,
        };
        accounts.push(AccountConfig {
            address: m.clone(),
            holder: format!("{} (system under test)", target.name),
            kind: AccountKind::Institution,
            max_auth_level: demail_sim::demail::AuthLevel::High,
            password: target.password.clone(),
            api_token: token,
            access_opened: true,
            closes_after_first_submission: false,
        });
    }
    accounts.extend(citizen_accounts(users, &passwords, shard));
    let hosts: Vec<String> = target
        .mailboxes
        .iter()
        .filter_map(|m| m.rsplit_once('@').map(|(_, d)| d.to_string()))
        .filter(|d| *d != profile.world.provider_domain)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let plan = ProviderPlan {
        id: PROVIDER_ID.into(),
        name: "DMDA A (simuliert, Last)".into(),
        domain: profile.world.provider_domain.clone(),
        hosts,
        trusted: true,
        accounts,
        listen: demail_sim::world::Listen {
            smtp: Some(target.submission),
            http: Some(target.gateway),
            pop3: target.pop3,
            pop3s: target.pop3s,
        },
    };
    let wire_log = Arc::new(demail_sim::provider::WireLog::new(None));
    let (providers, hub) =
        demail_sim::world::start_providers(vec![plan], out, wire_log, clock, trace, &pki)
            .await
            .context("starting the simulated provider")?;
    let provider = &providers[0];
    let external = crate::target::external::External::start(crate::target::external::Launch {
        target,
        scenario_file: &profile.path,
        run_dir: out,
        pki_dir: &pki_dir,
        submission: provider.submission_addr(),
        gateway: provider.http_addr(),
        pop3: provider.pop3_addr(),
        dms: None,
        seed: profile.seed,
    })
    .await
    .with_context(|| format!("system under test {:?}", target.name))?;
    if receive == ReceiveMode::Push
        && let Some(push) = demail_sim::world::SystemUnderTest::push_addr(&external)
    {
        crate::run::point_pushes(provider, &target.mailboxes, push, Some(target))?;
    }
    Ok(EmbeddedWorld {
        providers: Arc::new(providers),
        sut: Sut::External(Box::new(external)),
        pki,
        passwords: Arc::new(passwords),
        _hub: hub,
    })
}

impl EmbeddedWorld {
    /// Stops the providers and the system (an external process: SIGTERM, then SIGKILL).
    pub async fn stop(self) {
        for p in self.providers.iter() {
            p.shutdown();
        }
        if let Sut::External(mut e) = self.sut {
            e.stop().await;
        }
    }

    /// Posts the wall time to the intake's test clock every `tick` and retries due pushes,
    /// until `stop` is set. A failed post is logged and tried at the next tick.
    pub fn ticker(
        &self,
        tick: Duration,
        clock: VirtualClock,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> tokio::task::JoinHandle<()> {
        let url = self.sut.get().clock_url();
        let providers = self.providers.clone();
        tokio::spawn(async move {
            let http = match reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
            {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!("load: no HTTP client for the test clock: {e}");
                    return;
                }
            };
            let mut every = tokio::time::interval(tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                every.tick().await;
                demail_sim::provider::delivery::retry_due(&providers);
                // A system without a test clock (level 1) runs on its own time.
                if let Some(url) = &url
                    && let Err(e) =
                        demail_sim::world::clock_link::post_clock(&http, url, &clock.now()).await
                {
                    tracing::warn!("load: posting the clock to the system: {e:#}");
                }
            }
        })
    }
}
