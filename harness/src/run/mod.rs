//! The runner: builds the embedded world for a scenario and drives it on virtual time.
//!
//! It is a discrete-event loop. At each instant (a step's time or a clock tick) it moves the
//! virtual clock, tells the intake the time (test-clock contract, DESIGN.md), runs the steps
//! due, and waits for the world to settle after each of them. Then it judges the
//! expectations. Between instants nothing happens, so the trace does not depend on thread
//! timing.
//!
//! Settling is an explicit idle signal, not a quiet window: the world is settled when no
//! provider has an SMTP session open or a delivery queued or in flight ([`Activity`]), and
//! the intake is idle when its `POST /testbed/clock` has answered (the contract says it
//! answers only then). Every piece of work is counted before the work that caused it is
//! answered (a push is queued before the 250 of the submission that caused it, a relay's
//! session opens before the sending provider's delivery is done), so "idle" cannot be seen
//! while work is still on its way. The runner waits on [`Activity::changed`] instead of
//! polling; `RunOptions::settle_quiet` adds an optional quiet window on top (0 by default).
//!
//! Citizens submit over real SMTP (STARTTLS + AUTH PLAIN), one connection per message, with
//! `TCP_NODELAY` set: lettre writes the message and the final `.` in two writes, and with
//! Nagle's algorithm the second waits for the delayed ACK of the first (40 ms on Linux).
//! One TLS client configuration per run lets the connections resume TLS sessions.
//!
//! The one overlap: while the world settles after a traffic arrival, the runner already opens
//! the next arrival's session (connect, STARTTLS, AUTH) and holds it, idle before MAIL, until
//! that arrival's instant ([`Held`]); settling then counts that session as the runner's own. A
//! successful login emits no event, so the trace is the one of a session opened at the arrival.
//! Scripted steps open their sessions at their instant (their logins may be meant to fail).
//!
//! Where the wall time goes is logged at debug level at the end of a run (`RUST_LOG=
//! demail_harness::run=debug`): see `docs/benchmarks.md`.
//!
//! Architecture invariant: the harness talks to the intake only over HTTP (the clock) and
//! sees its behaviour only through the provider (what reached which mailbox when).

pub mod dms_mock;
pub mod regime;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use demail_sim::clock::VirtualClock;
use demail_sim::demail::compose::{Draft, mailbox};
use demail_sim::demail::{DeMailOption, h};
use demail_sim::intake::{IntakeConfig, ReferenceIntake};
use demail_sim::pki::TestPki;
use demail_sim::provider::{AccountConfig, AccountKind, Provider, StoredMessage};
use demail_sim::seed;
use demail_sim::trace::{EventKind, Trace};
use jiff::{Timestamp, ZonedDateTime};
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::AsyncSmtpConnection;

use demail_sim::world::clock_link::{IntakeEvents, post_clock};
use demail_sim::world::settle::{Phases, SettleLimits, Settler};
use demail_sim::world::submit::{Submitter, enhanced_of};
use demail_sim::world::{ProviderPlan, SystemUnderTest, World};

use crate::check;
use crate::model::{CheckOutcome, DmsRecords, Mailboxes, Observation, ReceiveMode, SendOutcome};
use crate::scenario::Scenario;

/// How a run is carried out.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// The run folder for this scenario (created).
    pub out_dir: PathBuf,
    /// Extra quiet window after the world is idle (0: settle on the idle signal alone).
    pub settle_quiet: Duration,
    /// Longest wait for the world to settle at one instant.
    pub settle_limit: Duration,
    /// Keep every message as it crossed the wire in `<out>/messages/NNNNNN.eml`.
    pub keep_messages: bool,
    /// Progress over virtual time (drawn only on a terminal).
    pub progress: Option<indicatif::ProgressBar>,
}

impl RunOptions {
    /// Defaults with the given run folder.
    pub fn new(out_dir: PathBuf) -> Self {
        Self {
            seed: None,
            out_dir,
            settle_quiet: Duration::ZERO,
            settle_limit: Duration::from_secs(30),
            keep_messages: true,
            progress: None,
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    pub name: String,
    pub seed: u64,
    /// `trace.jsonl` content.
    pub trace: String,
    /// Summary text (deterministic; no wall times).
    pub summary: String,
    pub checks: Vec<CheckOutcome>,
    /// The events of the trace, typed (the same as `trace`).
    pub events: Vec<demail_sim::trace::Event>,
    /// Wall time of the run (reported on the terminal only).
    pub wall: Duration,
}

impl RunResult {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// Runs one scenario against the embedded world (simulated provider + reference intake).
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> Result<RunResult> {
    let wall_start = Instant::now();
    demail_sim::init_crypto();
    let master = opts.seed.unwrap_or(scenario.file.scenario.seed);
    clear_run_folder(opts)?;
    let clock = VirtualClock::new(&scenario.start);
    let trace = Trace::new(clock.clone());
    let pki = TestPki::generate(&scenario.name)?;
    pki.write_ca(&opts.out_dir.join("pki"))?;

    let file = &scenario.file;
    let intake_provider = file
        .provider
        .iter()
        .position(|p| p.id == *file.intake.provider.get_ref())
        .context("intake provider defined")?;
    let generated = generate_population(scenario, master, &file.provider[intake_provider])?;
    let secrets = Secrets::draw(scenario, master, generated.len());
    // Every provider of the world gets the accounts of its citizens; the intake's provider also
    // the intake and the generated population's De-Mail users.
    let accounts = file
        .provider
        .iter()
        .enumerate()
        .map(|(pi, spec)| {
            accounts(
                scenario,
                &secrets,
                &spec.id,
                pi == intake_provider,
                &generated,
            )
        })
        .collect();
    let (providers, hub_task) =
        start_providers(scenario, opts, &clock, &trace, &pki, accounts).await?;
    let world = World {
        providers: &providers,
    };
    // The DMS of the intake's hand-over: a mock with the scenario's outage windows.
    let dms = match &file.dms {
        Some(_) => Some(crate::run::dms_mock::MockDms::start().await?),
        None => None,
    };
    let intake = start_intake(
        scenario,
        opts,
        &providers[intake_provider],
        &pki,
        &secrets,
        dms.as_ref(),
    )
    .await?;

    if !demail_sim::law::regime(scenario.start.date()).in_force(demail_sim::law::Provision::DeMailG)
    {
        eprintln!(
            "  WARNING: De-Mail-G is not in force on {} (§ 26 De-Mail-G): De-Mail ends after 31.12.2026; this scenario simulates it anyway",
            scenario.start.date()
        );
    }
    trace.emit(EventKind::RunStarted {
        scenario: scenario.name.clone(),
        seed: master,
        regime: crate::run::regime::describe(scenario.start.date()),
    });

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("HTTP client")?;
    let end = scenario
        .start
        .checked_add(scenario.duration)
        .context("start + duration out of range")?;
    let arrivals = plan_arrivals(
        scenario,
        master,
        &end,
        &generated,
        &secrets.generated_passwords,
    )?;
    let traffic_totals = traffic_totals(scenario, &arrivals);
    let ca_der = pki.ca_der();
    let sut: &dyn SystemUnderTest = &intake;
    let mut walk = Walk {
        scenario,
        clock: &clock,
        trace: &trace,
        world,
        dms: dms.as_ref(),
        clock_url: format!("{}/testbed/clock", sut.base_url()),
        settler: Settler {
            held: vec![0; providers.len()],
            activity: providers.iter().map(Provider::activity).collect(),
            limits: SettleLimits {
                quiet: opts.settle_quiet,
                limit: opts.settle_limit,
            },
            http: http.clone(),
            trace: trace.clone(),
            intake_events: IntakeEvents::new(format!("{}/testbed/events", sut.base_url())),
            phases: Phases::default(),
        },
        http,
        submitter: Submitter::new(&pki)?,
        citizen_passwords: &secrets.citizen_passwords,
        msg_rng: seed::rng(master, "messages"),
        step_times: step_times(scenario)?,
        next_step: 0,
        arrivals,
        next_arrival: 0,
        held: None,
        tick_at: scenario.start.clone(),
        end,
        sends: Vec::new(),
    };
    let mut judge = check::Judge::new(&scenario.expectations, scenario.setting(), &trace);
    let observed = (ca_der.as_ref(), traffic_totals.as_slice());
    walk.until_done(&mut judge, opts.progress.as_ref(), observed)
        .await?;
    judge.finish(&walk.observation(observed));
    tracing::debug!(
        "{}: {}",
        scenario.name,
        walk.settler.phases.report(wall_start.elapsed())
    );
    let result = conclude(scenario, opts, master, &trace, judge.outcomes(), wall_start)?;
    drop(intake);
    for p in &providers {
        p.shutdown();
    }
    hub_task.abort();
    Ok(result)
}

/// Records the end of the run in the trace and writes `trace.jsonl` and `summary.txt`.
fn conclude(
    scenario: &Scenario,
    opts: &RunOptions,
    master: u64,
    trace: &Trace,
    checks: Vec<CheckOutcome>,
    wall_start: Instant,
) -> Result<RunResult> {
    let passed = checks.iter().filter(|c| c.passed).count() as u32;
    trace.emit(EventKind::RunFinished {
        passed,
        failed: checks.len() as u32 - passed,
    });
    let events = trace.events();
    let summary = crate::report::summary::summary(scenario, master, &events, &checks);
    let result = RunResult {
        name: scenario.name.clone(),
        seed: master,
        trace: trace.to_jsonl(),
        summary,
        checks,
        events,
        wall: wall_start.elapsed(),
    };
    std::fs::write(opts.out_dir.join("trace.jsonl"), &result.trace)?;
    std::fs::write(opts.out_dir.join("summary.txt"), &result.summary)?;
    Ok(result)
}

/// The scripted steps' instants with their index, in time order; steps at the same instant
/// run in file order (stable sort).
fn step_times(scenario: &Scenario) -> Result<Vec<(Timestamp, usize)>> {
    let mut step_times: Vec<(Timestamp, usize)> = Vec::new();
    for (i, off) in scenario.step_offsets.iter().enumerate() {
        let t = scenario
            .start
            .checked_add(*off)
            .with_context(|| format!("step {} time out of range", scenario.file.step[i].id))?;
        step_times.push((t.timestamp(), i));
    }
    step_times.sort_by_key(|(t, _)| *t);
    Ok(step_times)
}

/// How many arrivals each traffic has in all (id, count), in file order.
fn traffic_totals(scenario: &Scenario, arrivals: &[(Timestamp, Outgoing)]) -> Vec<(String, usize)> {
    scenario
        .file
        .traffic
        .iter()
        .map(|t| {
            let n = arrivals
                .iter()
                .filter(|(_, o)| o.step_id.starts_with(&format!("{}#", t.id)))
                .count();
            (t.id.clone(), n)
        })
        .collect()
}

/// Creates the run folder and clears what an earlier run in it left: its messages and
/// databases would mix with this run's.
fn clear_run_folder(opts: &RunOptions) -> Result<()> {
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("creating run folder {}", opts.out_dir.display()))?;
    let messages = opts.out_dir.join("messages");
    if messages.exists() {
        std::fs::remove_dir_all(&messages)
            .with_context(|| format!("clearing {}", messages.display()))?;
    }
    for entry in std::fs::read_dir(&opts.out_dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if (name.starts_with("provider-") || name.starts_with("intake-dms"))
            && name.contains(".sqlite")
        {
            std::fs::remove_file(&path).with_context(|| format!("clearing {}", path.display()))?;
        }
    }
    Ok(())
}

/// The run's credentials, drawn from the seed so that a run is replayable; they never reach
/// the trace.
struct Secrets {
    /// One password per Funktionspostfach, in configuration order.
    intake_passwords: BTreeMap<String, String>,
    /// Pull mode: one API token per Funktionspostfach for the gateway API.
    intake_tokens: BTreeMap<String, String>,
    /// Per scripted citizen, in file order.
    citizen_passwords: Vec<String>,
    /// Per generated De-Mail user, in population order.
    generated_passwords: Vec<String>,
}

impl Secrets {
    fn draw(scenario: &Scenario, master: u64, n_generated: usize) -> Self {
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
async fn start_providers(
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
fn accounts(
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
async fn start_intake(
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

/// What the judge sees beside the world: the run's CA (DER) and each traffic's arrivals in all.
type Observed<'a> = (&'a [u8], &'a [(String, usize)]);

/// The discrete-event loop's state: the world it walks, what is due, and what was sent.
struct Walk<'a> {
    scenario: &'a Scenario,
    clock: &'a VirtualClock,
    trace: &'a Trace,
    world: World<'a>,
    dms: Option<&'a crate::run::dms_mock::MockDms>,
    http: reqwest::Client,
    clock_url: String,
    settler: Settler,
    submitter: Submitter,
    citizen_passwords: &'a [String],
    /// Draws the Message-ID tokens.
    msg_rng: rand_chacha::ChaCha8Rng,
    /// Scripted steps in time order (stable: file order at the same instant), and the next.
    step_times: Vec<(Timestamp, usize)>,
    next_step: usize,
    /// Traffic arrivals in time order, and the next.
    arrivals: Vec<(Timestamp, Outgoing)>,
    next_arrival: usize,
    /// The session opened ahead for the next arrival.
    held: Option<Held>,
    /// The next clock tick (on the grid start + k × tick).
    tick_at: ZonedDateTime,
    end: ZonedDateTime,
    sends: Vec<SendOutcome>,
}

impl Walk<'_> {
    /// Starts an instant: pushes and hand-overs whose retry is due and limits passed
    /// undelivered (docs/delivery.md) first, settled before the intake hears the time, so
    /// that the retried deliveries never race the intake's replies in the trace; then the
    /// DMS's outage state, then the intake's clock, settled.
    async fn tell_the_time(&mut self, now: Timestamp) -> Result<()> {
        let t = Instant::now();
        let retried = demail_sim::provider::delivery::retry_due(self.world.providers);
        self.settler.phases.clock += t.elapsed();
        if retried > 0 {
            tracing::debug!("instant {now}: {retried} delivery retries due");
            self.settler.settle_and_drain().await?;
        }
        if let Some(dms) = self.dms {
            let scenario = self.scenario;
            let down = scenario.dms_outages.iter().any(|(from, until)| {
                let at = |s: &jiff::Span| scenario.start.checked_add(*s).map(|z| z.timestamp());
                matches!((at(from), at(until)), (Ok(a), Ok(b)) if a <= now && now < b)
            });
            dms.set_available(!down);
        }
        tracing::trace!("instant {now}: posting the clock");
        let t = Instant::now();
        post_clock(&self.http, &self.clock_url, &self.clock.now()).await?;
        self.settler.phases.clock += t.elapsed();
        self.settler.phases.instants += 1;
        self.settler.settle_and_drain().await
    }

    /// Runs the scripted steps due at `now`, settling after each.
    async fn run_steps(&mut self, now: Timestamp) -> Result<()> {
        let file = &self.scenario.file;
        while self.next_step < self.step_times.len() && self.step_times[self.next_step].0 <= now {
            let i = self.step_times[self.next_step].1;
            let step = &file.step[i];
            let ci = file
                .citizen
                .iter()
                .position(|c| c.id == *step.citizen.get_ref())
                .context("citizen validated at load")?;
            tracing::debug!("instant {now}: step {}", step.id);
            let citizen = &file.citizen[ci];
            if let Some(level) = step.login {
                self.trace.emit(EventKind::CitizenLogin {
                    citizen: citizen.id.clone(),
                    address: citizen.address.clone(),
                    level: level.as_str().to_string(),
                });
                self.world
                    .provider_of(&citizen.address)
                    .context("citizen's provider")?
                    .login(&citizen.address, level)
                    .with_context(|| format!("step {}: login of {}", step.id, citizen.id))?;
                self.settler.settle_and_drain().await?;
                self.next_step += 1;
                continue;
            }
            let out = outgoing_of_step(self.scenario, step, ci, &self.citizen_passwords[ci])?;
            let t = Instant::now();
            let token = seed::token(&mut self.msg_rng);
            let outcome = send(
                &self.world,
                &self.submitter,
                self.trace,
                self.clock,
                &out,
                &token,
                None,
            )
            .await?;
            self.settler.phases.send += t.elapsed();
            self.settler.phases.sends += 1;
            self.sends.push(outcome);
            self.settler.settle_and_drain().await?;
            self.next_step += 1;
        }
        Ok(())
    }

    /// Sends the traffic arrivals due at `now`; while each one's pushes are made, opens the
    /// next arrival's session, and settles.
    async fn run_arrivals(&mut self, now: Timestamp) -> Result<()> {
        while self.next_arrival < self.arrivals.len() && self.arrivals[self.next_arrival].0 <= now {
            let next_arrival = self.next_arrival;
            tracing::trace!(
                "instant {now}: traffic {}",
                self.arrivals[next_arrival].1.step_id
            );
            let conn = match self.held.take() {
                Some(h) if h.arrival == next_arrival => {
                    self.settler.held[h.provider] -= 1;
                    Some(h.conn)
                }
                Some(h) => bail!(
                    "internal: a session was held for arrival {} but arrival {next_arrival} came",
                    h.arrival
                ),
                None => None,
            };
            let t = Instant::now();
            let token = seed::token(&mut self.msg_rng);
            let outcome = send(
                &self.world,
                &self.submitter,
                self.trace,
                self.clock,
                &self.arrivals[next_arrival].1,
                &token,
                conn,
            )
            .await?;
            self.settler.phases.send += t.elapsed();
            self.settler.phases.sends += 1;
            self.sends.push(outcome);
            let t = Instant::now();
            self.hold_next_arrival().await?;
            self.settler.phases.settle += t.elapsed();
            self.settler.settle_and_drain().await?;
            self.next_arrival += 1;
        }
        Ok(())
    }

    /// Opens the session of the arrival after the current one while the current one's
    /// pushes are made; the world is then settled with that session counted as the
    /// runner's own.
    async fn hold_next_arrival(&mut self) -> Result<()> {
        let Some((_, ahead)) = self.arrivals.get(self.next_arrival + 1) else {
            return Ok(());
        };
        let provider = self
            .world
            .provider_index(&ahead.address)
            .context("the sender's provider")?;
        let addr = self.world.providers[provider].submission_addr();
        let credentials = Credentials::new(ahead.address.clone(), ahead.password.clone());
        let (opened, done) = tokio::join!(
            self.submitter.open(addr, &credentials),
            self.settler.deliveries_done()
        );
        done?;
        match opened? {
            Ok(conn) => {
                self.settler.held[provider] += 1;
                self.held = Some(Held {
                    arrival: self.next_arrival + 1,
                    provider,
                    conn,
                });
                Ok(())
            }
            // Traffic credentials are right by construction: a refused login is a fault of
            // the world (and would put its event at the wrong place).
            Err(e) => bail!(
                "the provider refused the login of {} ahead of its arrival: {e}",
                ahead.step_id
            ),
        }
    }

    /// Walks instant by instant until every step and arrival is done and every expectation
    /// decided, or the scenario's duration is over; the judge observes after each instant.
    async fn until_done(
        &mut self,
        judge: &mut check::Judge<'_>,
        progress: Option<&indicatif::ProgressBar>,
        observed: Observed<'_>,
    ) -> Result<()> {
        loop {
            let now = self.clock.timestamp();
            self.tell_the_time(now).await?;
            self.run_steps(now).await?;
            self.run_arrivals(now).await?;
            let t = Instant::now();
            judge.observe(&self.observation(observed));
            self.settler.phases.judge += t.elapsed();
            if let Some(pb) = progress {
                let done = self
                    .clock
                    .timestamp()
                    .duration_since(self.scenario.start.timestamp());
                pb.set_position(done.as_secs().max(0) as u64);
            }
            if !self.steps_left() && judge.all_decided() {
                return Ok(());
            }
            match self.next_instant(now)? {
                Some(next) => self.clock.advance_to(next),
                None => return Ok(()),
            }
        }
    }

    /// What the judge may look at now.
    fn observation<'s>(&'s self, (trust_anchor, traffic_totals): Observed<'s>) -> Observation<'s> {
        Observation {
            now: self.clock.now(),
            sends: &self.sends,
            world: &self.world,
            intake_address: &self.scenario.intake_address,
            trust_anchor,
            traffic_totals,
            dms: self.dms.map(|d| d as &dyn DmsRecords),
        }
    }

    /// Whether scripted steps or arrivals are still to come.
    fn steps_left(&self) -> bool {
        self.next_step < self.step_times.len() || self.next_arrival < self.arrivals.len()
    }

    /// The next instant: the next tick, step, arrival or delivery retry, whichever is
    /// earliest; `None` past the end. Ticks stay on their own grid (start + k × tick): an
    /// instant of a step or a retry in between does not move the next tick.
    fn next_instant(&mut self, now: Timestamp) -> Result<Option<Timestamp>> {
        while self.tick_at.timestamp() <= now {
            self.tick_at = self
                .tick_at
                .checked_add(self.scenario.tick)
                .context("tick out of range")?;
        }
        let mut next = self.tick_at.timestamp();
        if let Some((t, _)) = self.step_times.get(self.next_step) {
            next = next.min(*t);
        }
        if let Some((t, _)) = self.arrivals.get(self.next_arrival) {
            next = next.min(*t);
        }
        // Never step over a delivery retry or a transport limit (docs/delivery.md).
        if let Some(t) = demail_sim::provider::delivery::next_wakeup(self.world.providers)
            && t > now
        {
            next = next.min(t);
        }
        Ok((next <= self.end.timestamp()).then_some(next))
    }
}

impl Mailboxes for World<'_> {
    /// The mailbox of `address` at its provider.
    fn mailbox(&self, address: &str) -> Result<Vec<StoredMessage>> {
        match self.provider_of(address) {
            Some(p) => p.mailbox(address),
            None => bail!("no provider of this world hosts {address}"),
        }
    }
}

/// A generated citizen with a De-Mail account at the scenario's provider.
struct Generated {
    id: String,
    name: String,
    address: String,
    kind: AccountKind,
    level: demail_sim::demail::AuthLevel,
    access_opened: bool,
    errors: demail_sim::population::behaviour::ErrorRates,
}

/// Generates the scenario's population (if any) and keeps the De-Mail users at `provider`.
fn generate_population(
    scenario: &Scenario,
    master: u64,
    provider: &crate::scenario::ProviderSpec,
) -> Result<Vec<Generated>> {
    use demail_sim::population::{self, Kind, ProviderShare, Spec};
    let Some(p) = &scenario.file.population else {
        return Ok(Vec::new());
    };
    let mut spec = Spec::new(
        master,
        p.size,
        scenario.file.scenario.municipality.get_ref(),
    )
    .map_err(|e| anyhow::anyhow!("population: {e}"))?;
    spec.reference_date = scenario.start.date();
    spec.adoption.providers = vec![ProviderShare {
        id: provider.id.clone(),
        domain: provider.domain.clone(),
        share: 1.0,
    }];
    if let Some(share) = p.demail_share {
        spec.adoption.person_share = share;
    }
    if let Some(share) = p.high_share {
        spec.adoption.person_high_share = share;
        spec.adoption.business_high_share = share;
    }
    let mut out = Vec::new();
    for c in population::generate(spec).map_err(|e| anyhow::anyhow!("population: {e}"))? {
        let Some(account) = &c.demail else { continue };
        if account.provider != provider.id {
            continue;
        }
        let name = match &c.business {
            Some(b) => b.name.clone(),
            None => format!("{} {}", c.first_names, c.surname),
        };
        out.push(Generated {
            id: c.id.clone(),
            name,
            address: account.address.clone(),
            kind: if c.kind == Kind::Business {
                AccountKind::Institution
            } else {
                AccountKind::Person
            },
            level: account.auth_level,
            access_opened: account.access_opened,
            errors: c.behaviour.errors,
        });
    }
    Ok(out)
}

/// Plans every traffic arrival of the run: `per_day` messages on each working day of the
/// place (not Saturday, Sunday or a holiday, § 193 BGB's notion), at times drawn uniformly in
/// the office-hour window, from citizens drawn uniformly among the generated De-Mail users.
/// Error habits (population behaviour model) are applied per message: a missing
/// absenderbestätigt drops that option, a misspelt header replaces it by a wrong name.
fn plan_arrivals(
    scenario: &Scenario,
    master: u64,
    end: &ZonedDateTime,
    generated: &[Generated],
    passwords: &[String],
) -> Result<Vec<(Timestamp, Outgoing)>> {
    use rand_core::Rng as _;
    let file = &scenario.file;
    let mut out: Vec<(Timestamp, Outgoing)> = Vec::new();
    if file.traffic.is_empty() {
        return Ok(out);
    }
    let intake_name = scenario
        .intake
        .mailbox(&scenario.intake_address)
        .map_or(String::new(), |m| m.name.clone());
    if generated.is_empty() {
        bail!("the population has no De-Mail users at the intake's provider to send traffic");
    }
    let mut rng = seed::rng(master, "arrivals");
    let mut uniform = |n: u64| -> u64 { rng.next_u64() % n.max(1) };
    let tz = scenario.start.time_zone().clone();
    for ((t, (from_s, to_s)), until) in file
        .traffic
        .iter()
        .zip(&scenario.office_hours)
        .zip(&scenario.traffic_until)
    {
        let stop = scenario
            .start
            .checked_add(*until)
            .context("traffic `until` out of range")?;
        let stop = if stop < *end { stop } else { end.clone() };
        let mut options = Vec::new();
        for o in &t.options {
            options.push(DeMailOption::from_name(o.get_ref()).context("option validated at load")?);
        }
        let mut n = 0usize;
        let mut day = scenario.start.date();
        while day <= end.date() {
            if demail_sim::law::is_working_day(&scenario.place, day)
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                let midnight = day
                    .to_zoned_datetime(tz.clone())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let mut times: Vec<u64> = (0..t.per_day)
                    .map(|_| u64::from(*from_s) + uniform(u64::from(to_s - from_s)))
                    .collect();
                times.sort_unstable();
                for secs in times {
                    let at = midnight
                        .checked_add(jiff::SignedDuration::from_secs(secs as i64))
                        .context("arrival time out of range")?;
                    if at < scenario.start || at >= stop {
                        continue;
                    }
                    let who = uniform(generated.len() as u64) as usize;
                    let g = &generated[who];
                    // Error habits: probabilities per message, drawn in a fixed order.
                    let mut opts = options.clone();
                    let mut headers = std::collections::BTreeMap::new();
                    let draw = |p: f64, r: u64| (r % 1_000_000) < (p * 1_000_000.0) as u64;
                    if draw(g.errors.missing_absenderbestaetigt, uniform(1_000_000)) {
                        opts.retain(|o| *o != DeMailOption::Authoritative);
                    }
                    if draw(g.errors.misspelt_header, uniform(1_000_000))
                        && opts.contains(&DeMailOption::Authoritative)
                    {
                        opts.retain(|o| *o != DeMailOption::Authoritative);
                        headers
                            .insert("X-de-mail-absenderbestaetig".to_string(), "yes".to_string());
                    }
                    n += 1;
                    out.push((
                        at.timestamp(),
                        Outgoing {
                            step_id: format!("{}#{n}", t.id),
                            citizen_id: g.id.clone(),
                            name: g.name.clone(),
                            address: g.address.clone(),
                            password: passwords[who].clone(),
                            to_address: scenario.intake_address.clone(),
                            to_name: intake_name.clone(),
                            subject: t.subject.clone(),
                            body: t.body.clone(),
                            options: opts,
                            private_id: Some(format!("{}-{n}", t.id.to_uppercase())),
                            headers,
                        },
                    ));
                }
            }
            day = day.tomorrow().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    // Stable: arrivals at the same instant keep their traffic and draw order.
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// One message a simulated citizen submits (from a scripted step or from traffic).
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Step id, or `<traffic id>#<n>` for traffic.
    pub step_id: String,
    pub citizen_id: String,
    pub name: String,
    pub address: String,
    pub password: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub body: String,
    pub options: Vec<DeMailOption>,
    pub private_id: Option<String>,
    pub headers: std::collections::BTreeMap<String, String>,
}

/// The [`Outgoing`] of a scripted send step.
fn outgoing_of_step(
    scenario: &Scenario,
    step: &crate::scenario::StepSpec,
    citizen_index: usize,
    password: &str,
) -> Result<Outgoing> {
    let file = &scenario.file;
    let citizen = &file.citizen[citizen_index];
    let spec = step.send.as_ref().context("a send step")?;
    let (to_address, to_name) = if spec.to == "intake" {
        let name = scenario
            .intake
            .mailbox(&scenario.intake_address)
            .map_or(String::new(), |m| m.name.clone());
        (scenario.intake_address.clone(), name)
    } else if let Some(m) = scenario.intake.mailbox(&spec.to) {
        (m.address.clone(), m.name.clone())
    } else {
        let name = file
            .citizen
            .iter()
            .find(|c| c.address == spec.to)
            .map_or(String::new(), |c| c.name.clone());
        (spec.to.clone(), name)
    };
    let mut options = Vec::new();
    for o in &spec.options {
        options.push(DeMailOption::from_name(o.get_ref()).context("option validated at load")?);
    }
    Ok(Outgoing {
        step_id: step.id.clone(),
        citizen_id: citizen.id.clone(),
        name: citizen.name.clone(),
        address: citizen.address.clone(),
        password: password.to_string(),
        to_address,
        to_name,
        subject: spec.subject.clone(),
        body: spec.body.clone(),
        options,
        private_id: spec.private_id.clone(),
        headers: spec.headers.clone(),
    })
}

/// A citizen's session the runner opened ahead of the citizen's arrival, while the world
/// settled from the previous one (STARTTLS and AUTH done, waiting before MAIL): the TLS
/// handshake is then off the arrival's critical path. A provider emits nothing for a
/// successful login, so the trace is the same as with a session opened at the arrival; the
/// runner opens one ahead only for traffic, whose credentials are right by construction.
struct Held {
    /// Index of the arrival it is for.
    arrival: usize,
    /// Index of the provider it is open at.
    provider: usize,
    conn: AsyncSmtpConnection,
}

/// Composes a citizen's message and submits it over SMTP (STARTTLS + AUTH PLAIN).
async fn send(
    world: &World<'_>,
    submitter: &Submitter,
    trace: &Trace,
    clock: &VirtualClock,
    out: &Outgoing,
    token: &str,
    held: Option<AsyncSmtpConnection>,
) -> Result<SendOutcome> {
    let domain = out.address.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let rfc_message_id = format!("<{token}@{domain}>");
    let now = clock.now();
    let mut draft = Draft::new()
        .header_raw("From", &mailbox(&out.name, &out.address))
        .header_raw("To", &mailbox(&out.to_name, &out.to_address))
        .header("Subject", &out.subject)
        .header_raw("Date", &demail_sim::clock::format_rfc5322(&now))
        .header_raw("Message-ID", &rfc_message_id);
    for opt in &out.options {
        draft = draft.header_raw(opt.header(), "yes");
    }
    if let Some(pid) = &out.private_id {
        draft = draft.header_raw(h::PRIVATE_ID, pid);
    }
    for (name, value) in &out.headers {
        draft = draft.header(name, value);
    }
    let raw = draft.text_body(&out.body).to_bytes();
    trace.emit(EventKind::CitizenSent {
        citizen: out.citizen_id.clone(),
        from: out.address.clone(),
        to: vec![out.to_address.clone()],
        subject: out.subject.clone(),
        private_id: out.private_id.clone(),
        options: out.options.iter().map(|o| o.name().to_string()).collect(),
    });
    let addr = world
        .provider_of(&out.address)
        .context("the sender's provider")?
        .submission_addr();
    let from: Address = out.address.parse().context("citizen address")?;
    let to: Address = out.to_address.parse().context("recipient address")?;
    let envelope = Envelope::new(Some(from), vec![to])?;
    let submission = async {
        let conn = match held {
            Some(conn) => conn,
            None => {
                let credentials = Credentials::new(out.address.clone(), out.password.clone());
                match submitter.open(addr, &credentials).await? {
                    Ok(conn) => conn,
                    Err(e) => return Ok(Err(e)),
                }
            }
        };
        anyhow::Ok(Submitter::deliver(conn, &envelope, &raw).await)
    };
    let refused = match tokio::time::timeout(Duration::from_secs(60), submission)
        .await
        .context("the provider did not answer within 60 s")??
    {
        Ok(()) => None,
        Err(e) => match e.status() {
            Some(code) => Some((u16::from(code), enhanced_of(&e.to_string()), e.to_string())),
            None => return Err(anyhow::Error::new(e).context("submitting to the provider")),
        },
    };
    Ok(SendOutcome {
        step_id: out.step_id.clone(),
        citizen: out.citizen_id.clone(),
        from: out.address.clone(),
        sent_at: now,
        rfc_message_id,
        private_id: out.private_id.clone(),
        refused,
    })
}
