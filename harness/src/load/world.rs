//! The embedded world of a load run on the WALL clock (as `serve` runs its providers): one
//! simulated provider holding the shard's citizens and the intake's Funktionspostfächer, and
//! the reference intake, pushed to over STARTTLS. A ticker posts the wall time to the
//! intake's test clock (its replies go out on a clock step) and retries due pushes.
//!
//! The intake runs with its embedded configuration, open around the clock, without
//! Bescheide, and with the profile's `processing_time` for every procedure: a load test
//! measures how fast the world answers, not office hours.

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

/// The running world of one shard.
pub struct EmbeddedWorld {
    pub providers: Arc<Vec<Provider>>,
    pub intake: ReferenceIntake,
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
    for (i, (u, pw)) in users.iter().zip(&passwords).enumerate() {
        if shard.owns_citizen(i) {
            accounts.push(AccountConfig {
                address: u.address.clone(),
                holder: u.name.clone(),
                kind: u.kind,
                max_auth_level: u.level,
                password: pw.clone(),
                api_token: None,
                access_opened: u.access_opened,
                closes_after_first_submission: false,
            });
        }
    }
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
            provider_submission: provider.submission_addr(),
            provider_http: format!("http://{}", provider.http_addr()),
            pki: &pki,
            tls_dir: out.join("pki"),
            dms_url: None,
            dms_outbox: None,
            smtp_listen: None,
            http_listen: None,
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
        intake,
        pki,
        passwords: Arc::new(passwords),
        _hub: hub,
    })
}

impl EmbeddedWorld {
    /// Posts the wall time to the intake's test clock every `tick` and retries due pushes,
    /// until `stop` is set. A failed post is logged and tried at the next tick.
    pub fn ticker(
        &self,
        tick: Duration,
        clock: VirtualClock,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> tokio::task::JoinHandle<()> {
        let url = self.intake.clock_url();
        let providers = self.providers.clone();
        tokio::spawn(async move {
            let Some(url) = url else { return };
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
                if let Err(e) =
                    demail_sim::world::clock_link::post_clock(&http, &url, &clock.now()).await
                {
                    tracing::warn!("load: posting the clock to the intake: {e:#}");
                }
            }
        })
    }
}
