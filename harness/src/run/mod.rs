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

mod arrivals;
pub mod dms_mock;
pub mod regime;
mod send;
mod setup;
mod sut;
mod walk;

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
use demail_sim::provider::fault::SealFault;
use demail_sim::provider::{AccountConfig, AccountKind, Provider, StoredMessage};
use demail_sim::seed;
use demail_sim::trace::{EventKind, Trace};
use jiff::{Timestamp, ZonedDateTime};
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::AsyncSmtpConnection;

use demail_sim::refusal::Refusal;
use demail_sim::world::clock_link::{IntakeEvents, post_clock};
use demail_sim::world::settle::{Phases, SettleLimits, Settler};
use demail_sim::world::submit::{Submitter, enhanced_of};
use demail_sim::world::{Listen, ProviderPlan, SystemUnderTest, World};

use crate::check;
use crate::model::{CheckOutcome, DmsRecords, Mailboxes, Observation, ReceiveMode, SendOutcome};
use crate::scenario::{Programme, Scenario};

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
    /// The system under test from a target file; `None`: the embedded reference intake.
    pub target: Option<Arc<crate::target::Target>>,
    /// A persistent test PKI folder (`pki init`); `None`: a CA of the run's own.
    pub pki: Option<PathBuf>,
    /// Walk to the end of the scenario's `duration` even when every expectation is decided
    /// (`--full-duration`; a scenario asks for it with `[scenario] full_duration = true`).
    pub full_duration: bool,
    /// Rules the embedded reference intake breaks on purpose (`certify --flaw`,
    /// docs/certification.md "Flawed intakes"); ignored with a target (whose process is
    /// started with `intake --flaw` in its start command instead).
    pub flaws: demail_sim::intake::flaw::Flaws,
    /// How many of the latest trace events stay in memory ([`demail_sim::trace::RECORD_WINDOW`]);
    /// the judge and the reports read the older ones back from `trace.jsonl`. The golden
    /// test sets a small one so that every shipped scenario is judged through the file too.
    pub trace_window: usize,
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
            target: None,
            pki: None,
            full_duration: false,
            flaws: Default::default(),
            trace_window: demail_sim::trace::RECORD_WINDOW,
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    pub name: String,
    pub seed: u64,
    /// The run's `trace.jsonl` (complete when the run returns; [`RunResult::trace_text`]).
    pub trace_path: PathBuf,
    /// Summary text (deterministic; no wall times).
    pub summary: String,
    pub checks: Vec<CheckOutcome>,
    /// The run's trace, typed: the latest events in memory, the older ones read back from
    /// `trace.jsonl` ([`Trace::for_each`]); [`RunResult::events`] collects them all.
    pub journal: Trace,
    /// Wall time of the run (reported on the terminal only).
    pub wall: Duration,
}

impl RunResult {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The content of `trace.jsonl`, read whole (for tests and short runs).
    pub fn trace_text(&self) -> Result<String> {
        std::fs::read_to_string(&self.trace_path)
            .with_context(|| format!("reading {}", self.trace_path.display()))
    }

    /// Every event of the trace, in `seq` order (for tests and short runs: a long run's
    /// events are better visited with `journal.for_each`).
    pub fn events(&self) -> Vec<demail_sim::trace::Event> {
        let mut all = Vec::new();
        self.journal.for_each(|e| all.push(e.clone()));
        all
    }
}

/// Runs one scenario against the embedded world (simulated provider + reference intake).
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> Result<RunResult> {
    let wall_start = Instant::now();
    demail_sim::init_crypto();
    let master = opts.seed.unwrap_or(scenario.file.scenario.seed);
    clear_run_folder(opts)?;
    let clock = VirtualClock::new(&scenario.start);
    // The trace goes to `<out>/trace.jsonl` event by event (unbuffered: the run view follows
    // the file while the scenario runs); only its latest events stay in memory, the judge and
    // the reports read the older ones back from the file, so memory does not grow with the
    // run's length (ARCHITECTURE.md, "Invariants").
    let trace_path = opts.out_dir.join("trace.jsonl");
    let trace = Trace::recording_file_with_window(clock.clone(), &trace_path, opts.trace_window)
        .with_context(|| format!("creating {}", trace_path.display()))?;
    let (pki, pki_dir) = run_pki(scenario, opts)?;
    let target = opts.target.as_deref();

    let file = &scenario.file;
    let intake_provider = file
        .provider
        .iter()
        .position(|p| p.id == *file.intake.provider.get_ref())
        .context("intake provider defined")?;
    let generated = generate_population(scenario, master, &file.provider[intake_provider])?;
    let mut secrets = Secrets::draw(scenario, master, generated.len());
    let receive = target.map_or(scenario.receive, |t| t.receive_for(scenario.receive));
    if let Some(t) = target {
        secrets.for_target(t, receive)?;
    }
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
    let listen = target.map(|t| demail_sim::world::Listen {
        smtp: Some(t.submission),
        http: Some(t.gateway),
        pop3: t.pop3,
        pop3s: t.pop3s,
    });
    let (providers, hub_task) = start_providers(
        scenario,
        opts,
        &clock,
        &trace,
        &pki,
        accounts,
        listen
            .as_ref()
            .map(|l| (&file.provider[intake_provider].id, l)),
    )
    .await?;
    // The fault plan goes to the intake's provider and, for the `dms` face, to the DMS mock
    // (docs/faults.md).
    let plan = (!scenario.faults.is_empty()).then(|| {
        Arc::new(demail_sim::provider::fault::FaultPlan::new(
            scenario.faults.clone(),
            master,
        ))
    });
    if let Some(plan) = &plan {
        providers[intake_provider].set_fault_plan(plan.clone());
    }
    let world = World {
        providers: &providers,
    };
    // The DMS of the intake's hand-over: a mock with the scenario's outage windows.
    let dms = match &file.dms {
        Some(_) => Some(crate::run::dms_mock::MockDms::start().await?),
        None => None,
    };
    if let (Some(dms), Some(plan)) = (&dms, &plan) {
        dms.set_faults(plan.clone(), trace.clone(), clock.clone());
    }
    let sut = Sut::start(SutParts {
        scenario,
        opts,
        provider: &providers[intake_provider],
        pki: &pki,
        pki_dir: &pki_dir,
        secrets: &secrets,
        dms: dms.as_ref(),
        master,
    })
    .await?;
    if receive == ReceiveMode::Push
        && let Some(push) = sut.get().push_addr()
    {
        point_pushes(
            &providers[intake_provider],
            secrets.intake_mailboxes.iter().map(|(a, _)| a),
            push,
            target,
        )?;
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
    let arrivals = Arrivals::plan(
        scenario,
        master,
        &end,
        &generated,
        &secrets.generated_passwords,
    )?;
    let traffic_totals = arrivals.totals().to_vec();
    let ca_der = pki.ca_der();
    let (quiet, limit) = match target.map(|t| (t.idle, t.settle_limit)) {
        Some((crate::target::Idle::Quiet(q), limit)) => (q.max(opts.settle_quiet), limit),
        Some((crate::target::Idle::Answer, limit)) => (opts.settle_quiet, limit),
        None => (opts.settle_quiet, opts.settle_limit),
    };
    let mut walk = Walk {
        scenario,
        clock: &clock,
        trace: &trace,
        world,
        dms: dms.as_ref(),
        clock_url: sut.get().clock_url(),
        settler: Settler {
            held: vec![0; providers.len()],
            activity: providers.iter().map(Provider::activity).collect(),
            limits: SettleLimits { quiet, limit },
            http: http.clone(),
            trace: trace.clone(),
            intake_events: sut.get().events_url().map(IntakeEvents::new),
            phases: Phases::default(),
        },
        http,
        submitter: Submitter::new(&pki)?,
        citizen_passwords: &secrets.citizen_passwords,
        msg_rng: seed::rng(master, "messages"),
        step_times: step_times(scenario)?,
        next_step: 0,
        arrivals,
        held: None,
        tick_at: scenario.start.clone(),
        end,
        full_duration: opts.full_duration || scenario.file.scenario.full_duration,
        steps_sent: Vec::new(),
        fresh: Vec::new(),
        seen: Default::default(),
        logins_due: Default::default(),
    };
    let mut judge = check::Judge::new(&scenario.expectations, scenario.setting(), &trace);
    let observed = (ca_der.as_ref(), traffic_totals.as_slice());
    walk.until_done(&mut judge, opts.progress.as_ref(), observed)
        .await?;
    walk.settler.phases.rss_after_walk_kb = demail_sim::world::settle::vm_rss_kb();
    judge.finish(&walk.observation(observed));
    tracing::debug!(
        "{}: {}",
        scenario.name,
        walk.settler.phases.report(wall_start.elapsed())
    );
    let result = conclude(scenario, opts, master, &trace, judge.outcomes(), wall_start)?;
    sut.stop().await;
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
    let summary = crate::report::summary::summary(scenario, master, trace, &checks);
    // Every event is in `trace.jsonl` already (written as it was emitted), unless a write
    // failed (logged then): a run with an incomplete trace has no result.
    let trace_path = opts.out_dir.join("trace.jsonl");
    anyhow::ensure!(
        trace.all_written(),
        "{} misses events of the run: a write failed (see the log)",
        trace_path.display()
    );
    let result = RunResult {
        name: scenario.name.clone(),
        seed: master,
        trace_path,
        summary,
        checks,
        journal: trace.clone(),
        wall: wall_start.elapsed(),
    };
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
        if (name.starts_with("provider-")
            || name.starts_with("intake-dms")
            || name.starts_with("intake-archive"))
            && name.contains(".sqlite")
        {
            std::fs::remove_file(&path).with_context(|| format!("clearing {}", path.display()))?;
        }
    }
    Ok(())
}

pub use arrivals::Outgoing;
use arrivals::*;
use send::*;
pub(crate) use setup::point_pushes;
use setup::*;
pub use setup::{IntakeBehaviour, IntakeWiring, intake_config};
pub(crate) use sut::listener_certificate;
use sut::*;
use walk::*;
