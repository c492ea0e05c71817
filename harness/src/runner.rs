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
//! demail_harness::runner=debug`): see `docs/benchmarks.md`.
//!
//! Architecture invariant: the harness talks to the intake only over HTTP (the clock) and
//! sees its behaviour only through the provider (what reached which mailbox when).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use demail_sim::clock::{VirtualClock, format_instant};
use demail_sim::demail::compose::{Draft, mailbox};
use demail_sim::demail::{DeMailOption, h};
use demail_sim::intake::{IntakeConfig, ReferenceIntake};
use demail_sim::pki::TestPki;
use demail_sim::provider::{
    AccountConfig, AccountKind, Activity, ActivitySnapshot, Provider, ProviderConfig, StoredMessage,
};
use demail_sim::seed;
use demail_sim::trace::{EventKind, Trace};
use jiff::{Timestamp, ZonedDateTime};
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

use crate::checks::{self, CheckOutcome, Observation};
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

/// Outcome of a citizen's send step.
#[derive(Clone, Debug)]
pub struct SendOutcome {
    pub step_id: String,
    pub citizen: String,
    pub from: String,
    pub sent_at: ZonedDateTime,
    pub rfc_message_id: String,
    pub private_id: Option<String>,
    /// SMTP refusal (code, enhanced status, text) if the provider refused.
    pub refused: Option<(u16, String, String)>,
}

/// Runs one scenario against the embedded world (simulated provider + reference intake).
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> Result<RunResult> {
    let wall_start = Instant::now();
    demail_sim::init_crypto();
    let master = opts.seed.unwrap_or(scenario.file.scenario.seed);
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("creating run folder {}", opts.out_dir.display()))?;
    // Messages and databases of an earlier run in the same folder would mix with this run's.
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
    let clock = VirtualClock::new(&scenario.start);
    let trace = Trace::new(clock.clone());
    let pki = TestPki::generate(&scenario.name)?;
    let pki_dir = opts.out_dir.join("pki");
    pki.write_ca(&pki_dir)?;

    // Credentials are drawn from the seed so that a run is replayable; they never reach the trace.
    let mut cred_rng = seed::rng(master, "credentials");
    let file = &scenario.file;
    // One password per Funktionspostfach, in configuration order.
    let intake_passwords: std::collections::BTreeMap<String, String> = scenario
        .intake
        .mailboxes
        .iter()
        .map(|m| (m.address.clone(), seed::token(&mut cred_rng)))
        .collect();
    let pull = file
        .intake
        .receive
        .as_ref()
        .is_some_and(|r| r.get_ref() == "pull");
    // Pull mode: one API token per Funktionspostfach for the gateway API.
    let intake_tokens: std::collections::BTreeMap<String, String> = if pull {
        scenario
            .intake
            .mailboxes
            .iter()
            .map(|m| (m.address.clone(), seed::token(&mut cred_rng)))
            .collect()
    } else {
        Default::default()
    };
    let mut citizen_passwords = Vec::new();
    for _ in &file.citizen {
        citizen_passwords.push(seed::token(&mut cred_rng));
    }

    // Every provider of the world gets the accounts of its citizens; the intake's provider also
    // the intake and the generated population's De-Mail users.
    let intake_provider = file
        .provider
        .iter()
        .position(|p| p.id == *file.intake.provider.get_ref())
        .context("intake provider defined")?;
    let generated = generate_population(scenario, master, &file.provider[intake_provider])?;
    let mut pop_rng = seed::rng(master, "population-credentials");
    let mut generated_passwords = Vec::new();
    for _ in &generated {
        generated_passwords.push(seed::token(&mut pop_rng));
    }
    let trusted_peers: Vec<String> = file
        .provider
        .iter()
        .filter(|p| p.trusted)
        .map(|p| p.domain.clone())
        .collect();
    let wire_log = Arc::new(demail_sim::provider::WireLog::new(
        opts.keep_messages.then(|| opts.out_dir.join("messages")),
    ));
    // One delivery worker for the world keeps cross-provider hand-overs in causal order.
    let (hub, hub_task) = demail_sim::provider::delivery::DeliveryHub::start();
    let mut providers: Vec<Provider> = Vec::new();
    for (pi, spec) in file.provider.iter().enumerate() {
        let mut accounts = Vec::new();
        if pi == intake_provider {
            for m in &scenario.intake.mailboxes {
                accounts.push(AccountConfig {
                    address: m.address.clone(),
                    holder: m.name.clone(),
                    kind: AccountKind::Institution,
                    max_auth_level: demail_sim::demail::AuthLevel::High,
                    password: intake_passwords[&m.address].clone(),
                    api_token: intake_tokens.get(&m.address).cloned(),
                    access_opened: true,
                });
            }
        }
        for (c, pw) in file.citizen.iter().zip(&citizen_passwords) {
            if *c.provider.get_ref() == spec.id {
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
        if pi == intake_provider {
            for (g, pw) in generated.iter().zip(&generated_passwords) {
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
        let provider = Provider::start(
            ProviderConfig {
                id: spec.id.clone(),
                name: spec.name.clone(),
                domain: spec.domain.clone(),
                hosted_domains: spec.hosts.clone(),
                accounts,
                message_dir: None,
                wire_log: Some(wire_log.clone()),
                database: Some(opts.out_dir.join(format!("provider-{}.sqlite", spec.id))),
                smtp_listen: None,
                http_listen: None,
                relay_listen: None,
                pop3_listen: None,
                pop3s_listen: None,
                delivery_hub: Some(hub.clone()),
                trusted_peers: trusted_peers.clone(),
            },
            clock.clone(),
            trace.clone(),
            &pki,
        )
        .await?;
        providers.push(provider);
    }
    demail_sim::provider::connect_all(&providers);
    let provider = &providers[intake_provider];
    let world = World {
        providers: &providers,
    };
    // The DMS of the intake's hand-over: a mock with the scenario's outage windows.
    let dms = match &file.dms {
        Some(_) => Some(crate::dms_mock::MockDms::start().await?),
        None => None,
    };
    let intake = ReferenceIntake::start(IntakeConfig {
        file: scenario.intake.clone(),
        passwords: intake_passwords,
        provider_submission: provider.submission_addr(),
        provider_http: Some(format!("http://{}", provider.http_addr())),
        ca_pem: pki.ca_pem().to_string(),
        ca_der: pki.ca_der().to_vec(),
        identity: pki.issue("intake.localhost", &["localhost", "127.0.0.1"])?,
        tls_dir: pki_dir.clone(),
        dms_url: dms.as_ref().map(crate::dms_mock::MockDms::url),
        dms_outbox: Some(opts.out_dir.join("intake-dms.sqlite")),
        pull_tokens: pull.then(|| intake_tokens.clone()),
        outages: scenario
            .intake_outages
            .iter()
            .map(|(from, until)| {
                let at = |s: &jiff::Span| scenario.start.checked_add(*s).map(|z| z.timestamp());
                Ok((at(from)?, at(until)?))
            })
            .collect::<Result<_, jiff::Error>>()
            .context("intake outage out of range")?,
        reply_options: file
            .intake
            .reply_options
            .iter()
            .filter_map(|o| DeMailOption::from_name(o.get_ref()))
            .collect(),
    })
    .await?;
    if !pull {
        for m in &scenario.intake.mailboxes {
            provider.set_push_target(&m.address, intake.smtp_addr())?;
        }
    }

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
        regime: crate::regime::describe(scenario.start.date()),
    });

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("HTTP client")?;
    let clock_url = format!("{}/testbed/clock", intake.base_url());
    let intake_events = IntakeEvents {
        url: format!("{}/testbed/events", intake.base_url()),
        next: 0,
    };
    let activity: Vec<Arc<Activity>> = providers.iter().map(Provider::activity).collect();
    let end = scenario
        .start
        .checked_add(scenario.duration)
        .context("start + duration out of range")?;
    let mut step_times: Vec<(Timestamp, usize)> = Vec::new();
    for (i, off) in scenario.step_offsets.iter().enumerate() {
        let t = scenario
            .start
            .checked_add(*off)
            .with_context(|| format!("step {} time out of range", file.step[i].id))?;
        step_times.push((t.timestamp(), i));
    }
    let arrivals = plan_arrivals(scenario, master, &end, &generated, &generated_passwords)?;
    let traffic_totals: Vec<(String, usize)> = file
        .traffic
        .iter()
        .map(|t| {
            let n = arrivals
                .iter()
                .filter(|(_, o)| o.step_id.starts_with(&format!("{}#", t.id)))
                .count();
            (t.id.clone(), n)
        })
        .collect();
    // Stable sort: steps at the same instant run in file order.
    step_times.sort_by_key(|(t, _)| *t);
    let mut next_arrival = 0;

    let ca_der = pki.ca_der();
    let submitter = Submitter::new(&pki)?;
    let mut settler = Settler {
        held: vec![0; activity.len()],
        activity,
        opts,
        http: http.clone(),
        trace: trace.clone(),
        intake_events,
        phases: Phases::default(),
    };
    let mut msg_rng = seed::rng(master, "messages");
    let mut sends: Vec<SendOutcome> = Vec::new();
    let mut judge = checks::Judge::new(scenario, &trace);
    let mut next_step = 0;
    let mut held: Option<Held> = None;
    let mut tick_at = scenario.start.clone();
    loop {
        let now = clock.timestamp();
        // Pushes and hand-overs whose retry is due at this instant, and limits passed
        // undelivered (docs/delivery.md): first, and settled before the intake hears the time,
        // so that the retried deliveries never race the intake's replies in the trace.
        let t = Instant::now();
        let retried = demail_sim::provider::delivery::retry_due(&providers);
        settler.phases.clock += t.elapsed();
        if retried > 0 {
            tracing::debug!("instant {now}: {retried} delivery retries due");
            settler.settle_and_drain().await?;
        }
        if let Some(dms) = &dms {
            let down = scenario.dms_outages.iter().any(|(from, until)| {
                let at = |s: &jiff::Span| scenario.start.checked_add(*s).map(|z| z.timestamp());
                matches!((at(from), at(until)), (Ok(a), Ok(b)) if a <= now && now < b)
            });
            dms.set_available(!down);
        }
        tracing::trace!("instant {now}: posting the clock");
        let t = Instant::now();
        post_clock(&http, &clock_url, &clock.now()).await?;
        settler.phases.clock += t.elapsed();
        settler.phases.instants += 1;
        settler.settle_and_drain().await?;
        while next_step < step_times.len() && step_times[next_step].0 <= now {
            let i = step_times[next_step].1;
            let step = &file.step[i];
            let ci = file
                .citizen
                .iter()
                .position(|c| c.id == *step.citizen.get_ref())
                .context("citizen validated at load")?;
            tracing::debug!("instant {now}: step {}", step.id);
            let citizen = &file.citizen[ci];
            if let Some(level) = step.login {
                trace.emit(EventKind::CitizenLogin {
                    citizen: citizen.id.clone(),
                    address: citizen.address.clone(),
                    level: level.as_str().to_string(),
                });
                world
                    .provider_of(&citizen.address)
                    .context("citizen's provider")?
                    .login(&citizen.address, level)
                    .with_context(|| format!("step {}: login of {}", step.id, citizen.id))?;
                settler.settle_and_drain().await?;
                next_step += 1;
                continue;
            }
            let out = outgoing_of_step(scenario, step, ci, &citizen_passwords[ci])?;
            let t = Instant::now();
            let outcome = send(
                &world,
                &submitter,
                &trace,
                &clock,
                &out,
                &seed::token(&mut msg_rng),
                None,
            )
            .await?;
            settler.phases.send += t.elapsed();
            settler.phases.sends += 1;
            sends.push(outcome);
            settler.settle_and_drain().await?;
            next_step += 1;
        }
        while next_arrival < arrivals.len() && arrivals[next_arrival].0 <= now {
            let out = &arrivals[next_arrival].1;
            tracing::trace!("instant {now}: traffic {}", out.step_id);
            let conn = match held.take() {
                Some(h) if h.arrival == next_arrival => {
                    settler.held[h.provider] -= 1;
                    Some(h.conn)
                }
                Some(h) => bail!(
                    "internal: a session was held for arrival {} but arrival {next_arrival} came",
                    h.arrival
                ),
                None => None,
            };
            let t = Instant::now();
            let outcome = send(
                &world,
                &submitter,
                &trace,
                &clock,
                out,
                &seed::token(&mut msg_rng),
                conn,
            )
            .await?;
            settler.phases.send += t.elapsed();
            settler.phases.sends += 1;
            sends.push(outcome);
            // The next arrival's session opens while this one's pushes are made; the world
            // is then settled with that session counted as the runner's own.
            let t = Instant::now();
            if let Some((_, ahead)) = arrivals.get(next_arrival + 1) {
                let provider = world
                    .provider_index(&ahead.address)
                    .context("the sender's provider")?;
                let addr = providers[provider].submission_addr();
                let credentials = Credentials::new(ahead.address.clone(), ahead.password.clone());
                let (opened, done) = tokio::join!(
                    submitter.open(addr, &credentials),
                    settler.deliveries_done()
                );
                done?;
                match opened? {
                    Ok(conn) => {
                        settler.held[provider] += 1;
                        held = Some(Held {
                            arrival: next_arrival + 1,
                            provider,
                            conn,
                        });
                    }
                    // Traffic credentials are right by construction: a refused login is a
                    // fault of the world (and would put its event at the wrong place).
                    Err(e) => bail!(
                        "the provider refused the login of {} ahead of its arrival: {e}",
                        ahead.step_id
                    ),
                }
            }
            settler.phases.settle += t.elapsed();
            settler.settle_and_drain().await?;
            next_arrival += 1;
        }
        let observation = Observation {
            now: clock.now(),
            sends: &sends,
            world: &world,
            intake_address: &scenario.intake_address,
            trust_anchor: ca_der.as_ref(),
            traffic_totals: &traffic_totals,
            dms: dms.as_ref(),
        };
        let t = Instant::now();
        judge.observe(&observation);
        settler.phases.judge += t.elapsed();
        if let Some(pb) = &opts.progress {
            let done = clock.timestamp().duration_since(scenario.start.timestamp());
            pb.set_position(done.as_secs().max(0) as u64);
        }
        let steps_left = next_step < step_times.len() || next_arrival < arrivals.len();
        if !steps_left && judge.all_decided() {
            break;
        }
        // Next instant: the next tick or the next step, whichever is earlier, never past end.
        // Ticks stay on their own grid (start + k × tick): an instant of a step or a retry
        // in between does not move the next tick.
        while tick_at.timestamp() <= now {
            tick_at = tick_at
                .checked_add(scenario.tick)
                .context("tick out of range")?;
        }
        let mut next = tick_at.timestamp();
        if let Some((t, _)) = step_times.get(next_step) {
            next = next.min(*t);
        }
        if let Some((t, _)) = arrivals.get(next_arrival) {
            next = next.min(*t);
        }
        // Never step over a delivery retry or a transport limit (docs/delivery.md).
        if let Some(t) = demail_sim::provider::delivery::next_wakeup(&providers)
            && t > now
        {
            next = next.min(t);
        }
        if next > end.timestamp() {
            break;
        }
        clock.advance_to(next);
    }
    judge.finish(
        &clock.now(),
        &Observation {
            now: clock.now(),
            sends: &sends,
            world: &world,
            intake_address: &scenario.intake_address,
            trust_anchor: ca_der.as_ref(),
            traffic_totals: &traffic_totals,
            dms: dms.as_ref(),
        },
    );
    tracing::debug!(
        "{}: {}",
        scenario.name,
        settler.phases.report(wall_start.elapsed())
    );
    let checks = judge.outcomes();
    let passed = checks.iter().filter(|c| c.passed).count() as u32;
    trace.emit(EventKind::RunFinished {
        passed,
        failed: checks.len() as u32 - passed,
    });
    let events = trace.events();
    let summary = crate::report::summary(scenario, master, &events, &checks);
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
    drop(intake);
    for p in &providers {
        p.shutdown();
    }
    hub_task.abort();
    Ok(result)
}

/// The reader of the intake's `GET /testbed/events`: copies its `intake.*` events into the
/// trace, stamped with the current virtual time.
struct IntakeEvents {
    url: String,
    /// How many events were read so far.
    next: usize,
}

impl IntakeEvents {
    async fn drain(&mut self, http: &reqwest::Client, trace: &Trace) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Page {
            events: Vec<EventKind>,
            next: usize,
        }
        let url = format!("{}?after={}", self.url, self.next);
        let resp = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !resp.status().is_success() {
            bail!("the intake's events: GET {url} answered {}", resp.status());
        }
        let page: Page = resp
            .json()
            .await
            .with_context(|| format!("reading the answer of GET {url}"))?;
        for e in page.events {
            // Only intake events: the intake cannot write anything else into the trace.
            if matches!(
                e,
                EventKind::IntakeReceived { .. }
                    | EventKind::IntakeRefused { .. }
                    | EventKind::IntakeAcknowledged { .. }
                    | EventKind::IntakeBescheid { .. }
                    | EventKind::IntakeZustellung { .. }
                    | EventKind::IntakeFallback { .. }
                    | EventKind::IntakeDms { .. }
            ) {
                trace.emit(e);
            }
        }
        self.next = page.next;
        Ok(())
    }
}

/// Tells the intake the time (test-clock contract) and waits for its answer.
async fn post_clock(http: &reqwest::Client, url: &str, now: &ZonedDateTime) -> Result<()> {
    let body = serde_json::json!({ "now": format_instant(now) });
    let resp = http
        .post(url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        bail!("the intake refused the test clock: POST {url} answered {status}: {text}");
    }
    Ok(())
}

/// Waits for the world to settle and copies the intake's events into the trace. Knows the
/// SMTP sessions the runner itself holds open ahead of an arrival (`held`, per provider):
/// those are idle by construction and do not count as activity.
struct Settler<'a> {
    activity: Vec<Arc<Activity>>,
    /// Sessions the runner holds open, per provider (in `activity` order).
    held: Vec<usize>,
    opts: &'a RunOptions,
    http: reqwest::Client,
    trace: Trace,
    intake_events: IntakeEvents,
    phases: Phases,
}

impl Settler<'_> {
    /// Whether provider `i`'s reading shows no activity but the runner's own held sessions.
    fn idle(&self, i: usize, s: &ActivitySnapshot) -> bool {
        s.pending_deliveries == 0 && s.open_sessions == self.held[i]
    }

    fn read(&self) -> Vec<ActivitySnapshot> {
        self.activity.iter().map(|a| a.snapshot()).collect()
    }

    /// Waits until the world is idle: no provider has an SMTP session open (other than the
    /// runner's held ones) or a delivery queued or in flight (module documentation). With
    /// several providers, idle must be read twice in a row with the same generations, so that
    /// no hand-over between two readings is missed. Then waits `settle_quiet` more if asked,
    /// and starts over if anything moved meanwhile.
    async fn settle(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            // Registered before reading: a wake-up between reading and waiting is not lost.
            let wakeups: Vec<_> = self.activity.iter().map(|a| a.changed()).collect();
            let first = self.read();
            let busy = first.iter().enumerate().position(|(i, s)| !self.idle(i, s));
            let Some(busy) = busy else {
                if (self.activity.len() > 1 && self.read() != first)
                    || (!self.opts.settle_quiet.is_zero() && !self.quiet_for(&first).await)
                {
                    continue;
                }
                return Ok(());
            };
            // A busy provider becomes idle only after one of its own sessions closes or one of
            // its own deliveries is done, so waiting for its wake-up suffices.
            self.wait(started, wakeups.into_iter().nth(busy)).await?;
        }
    }

    /// Waits until no provider has a delivery queued or in flight (sessions may be open).
    async fn deliveries_done(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            let wakeups: Vec<_> = self.activity.iter().map(|a| a.changed()).collect();
            let busy = self.read().iter().position(|s| s.pending_deliveries > 0);
            let Some(busy) = busy else {
                return Ok(());
            };
            self.wait(started, wakeups.into_iter().nth(busy)).await?;
        }
    }

    /// Waits for `wakeup`, or fails when the settle limit since `started` has passed.
    async fn wait(
        &self,
        started: Instant,
        wakeup: Option<tokio::sync::futures::Notified<'_>>,
    ) -> Result<()> {
        let wakeup = wakeup.context("one wake-up per provider")?;
        let left = self.opts.settle_limit.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, wakeup).await.is_err() {
            let s = self.read();
            bail!(
                "the world did not settle within {} s: {} SMTP sessions open ({} of them the runner's, waiting for their arrival), {} deliveries pending",
                self.opts.settle_limit.as_secs(),
                s.iter().map(|s| s.open_sessions).sum::<usize>(),
                self.held.iter().sum::<usize>(),
                s.iter().map(|s| s.pending_deliveries).sum::<usize>()
            );
        }
        Ok(())
    }

    /// Whether nothing moved (same generations) for the quiet window after `idle` was read.
    async fn quiet_for(&self, idle: &[ActivitySnapshot]) -> bool {
        tokio::time::sleep(self.opts.settle_quiet).await;
        self.read() == idle
    }

    /// Settles, then copies what the intake did into the trace (at the current virtual time).
    async fn settle_and_drain(&mut self) -> Result<()> {
        let t = Instant::now();
        self.settle().await?;
        let settled = Instant::now();
        self.intake_events.drain(&self.http, &self.trace).await?;
        self.phases.settle += settled - t;
        self.phases.drain += settled.elapsed();
        Ok(())
    }
}

/// Wall time of the runner's phases, for the debug log at the end of a run: where the time
/// of a run goes (docs/benchmarks.md). Never reaches the trace.
#[derive(Default)]
struct Phases {
    instants: u64,
    sends: u64,
    /// `POST /testbed/clock` until answered (the intake's due work).
    clock: Duration,
    /// Citizen submissions until the provider's answer.
    send: Duration,
    /// Waiting for idle after a clock post or a send (pushes into the intake and the like).
    settle: Duration,
    /// `GET /testbed/events`.
    drain: Duration,
    /// The judge's observations.
    judge: Duration,
}

impl Phases {
    fn report(&self, wall: Duration) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let accounted = self.clock + self.send + self.settle + self.drain + self.judge;
        format!(
            "wall {:.0} ms over {} instants and {} sends: clock {:.0} ms, send {:.0} ms, settle {:.0} ms, drain {:.0} ms, judge {:.0} ms, rest (set-up, planning, report) {:.0} ms",
            ms(wall),
            self.instants,
            self.sends,
            ms(self.clock),
            ms(self.send),
            ms(self.settle),
            ms(self.drain),
            ms(self.judge),
            ms(wall.saturating_sub(accounted)),
        )
    }
}

/// The providers of one run.
pub struct World<'a> {
    pub providers: &'a [Provider],
}

impl World<'_> {
    /// The provider hosting `address`'s domain.
    pub fn provider_of(&self, address: &str) -> Option<&Provider> {
        self.provider_index(address).map(|i| &self.providers[i])
    }

    /// The position of the provider hosting `address`'s domain.
    pub fn provider_index(&self, address: &str) -> Option<usize> {
        let domain = demail_sim::demail::domain_of(address)?;
        // The most specific match wins (an institution's subdomain may be hosted elsewhere).
        self.providers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.domains()
                    .iter()
                    .filter(|d| demail_sim::provider::domain_matches(&domain, d))
                    .map(|d| d.len())
                    .max()
                    .map(|len| (len, i))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, i)| i)
    }

    /// The mailbox of `address` at its provider.
    pub fn mailbox(&self, address: &str) -> Result<Vec<StoredMessage>> {
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

/// The citizens' SMTP client: one TLS client configuration for the whole run (so TLS
/// sessions are resumed) and the EHLO name lettre would use.
struct Submitter {
    tls: TlsParameters,
    hello: ClientId,
}

impl Submitter {
    fn new(pki: &TestPki) -> Result<Self> {
        let tls = TlsParameters::builder("localhost".to_string())
            .add_root_certificate(Certificate::from_pem(pki.ca_pem().as_bytes())?)
            .build_rustls()?;
        Ok(Self {
            tls,
            hello: ClientId::default(),
        })
    }

    /// Opens a citizen's session: connect (`TCP_NODELAY`), EHLO, STARTTLS, EHLO, AUTH PLAIN;
    /// what lettre's `AsyncSmtpTransport` does before MAIL, with Nagle's algorithm off
    /// (module documentation). `Err` for a socket failure, `Ok(Err)` for an SMTP answer.
    async fn open(
        &self,
        addr: std::net::SocketAddr,
        credentials: &Credentials,
    ) -> Result<SmtpResult<AsyncSmtpConnection>> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to the provider's submission face {addr}"))?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        Ok(self.login(stream, credentials).await)
    }

    async fn login(
        &self,
        stream: TcpStream,
        credentials: &Credentials,
    ) -> SmtpResult<AsyncSmtpConnection> {
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?;
        conn.starttls(self.tls.clone(), &self.hello).await?;
        conn.auth(&[Mechanism::Plain], credentials).await?;
        Ok(conn)
    }

    /// One message over an open session (MAIL, RCPT, DATA), then QUIT.
    async fn deliver(
        mut conn: AsyncSmtpConnection,
        envelope: &Envelope,
        raw: &[u8],
    ) -> SmtpResult<()> {
        conn.send(envelope, raw).await?;
        conn.abort().await;
        Ok(())
    }
}

/// An SMTP answer other than success (code, enhanced status and text inside).
type SmtpResult<T> = std::result::Result<T, lettre::transport::smtp::Error>;

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

/// Finds an enhanced status code (x.y.z) in an error text.
fn enhanced_of(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == ':')
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap_or("")
        .to_string()
}
