//! `demail-testbed load PROFILE` and `demail-testbed merge DIR...` (issue #17, docs/load.md):
//! an open-model load against the embedded world on the wall clock, measured from each
//! arrival's intended time, with thresholds decided at the end; sharded runs merged exactly.
//!
//! Map of the module, in the order of a run:
//! - [`profile`]: the TOML load profile with located errors.
//! - [`schedule`]: the seeded population, the arrival schedule and its shards.
//! - [`world`]: the simulated provider and the reference intake on the wall clock.
//! - [`driver`]: starts arrivals on time (or drops them), one SMTP session each.
//! - [`observe`]: pairs submissions and the provider's events into latencies.
//! - [`results`]: counters, HDR histograms, time series; `result.json` and merging.
//! - [`threshold`]: the threshold expressions and their decision.
//! - [`report`]: `report.json`, `report.html`, the terminal summary.
//! - [`exposition`]: the Prometheus endpoint of `--metrics`, and on the same address
//!   [`live_page`], a page in the browser that follows the run.
//! - [`sink`]: with `--sink`, an SMTP sink in place of the world, for the generator's own
//!   ceiling.
//!
//! Exit codes: 0 every threshold passed, 1 a threshold failed, 2 usage or input error (a
//! profile that does not load, a bad `--shard`, a world that does not start).

pub mod driver;
pub mod exposition;
pub mod live_page;
pub mod observe;
pub mod profile;
pub mod report;
pub mod results;
pub mod schedule;
pub mod sink;
pub mod threshold;
pub mod world;

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use observe::{Live, Shared, lock};
use profile::Profile;
use results::{Results, RunId};
use schedule::Shard;

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The load profile (TOML, docs/load.md), e.g. loads/gewerbeamt-montag.toml.
    pub profile: PathBuf,
    /// System under test: a target file (docs/sut.md) [default: the embedded reference
    /// intake]; its Funktionspostfächer are what `[[mix]] to` may name.
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Folder for result.json, report.json, report.html and trace.jsonl.
    #[arg(long, default_value = "load-out")]
    pub out: PathBuf,
    /// Run slice I of N (0-based): a disjoint part of the arrivals and citizens; `merge`
    /// adds the shards' results up.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Serve the live results in the Prometheus text format at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Submit to an SMTP sink in this process instead of the world: it accepts every
    /// session at once and keeps nothing, so the run shows the generator's own ceiling
    /// (only `submit` is measured; thresholds on receipts, pushes and replies are left out).
    #[arg(long, conflicts_with = "target")]
    pub sink: bool,
    /// Start the schedule at this wall instant (RFC 3339, e.g. 2026-12-07T08:00:00Z) instead
    /// of as soon as the world runs: give every shard the same one, so that their time
    /// series line up when merged. An instant more than a second past is an error.
    #[arg(long, value_name = "INSTANT")]
    pub start_at: Option<String>,
}

/// Arguments of `merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The `--out` folders of the shards (each holds a result.json).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the merged result.json, report.json and report.html.
    #[arg(long, default_value = "load-merged")]
    pub out: PathBuf,
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// `demail-testbed load`.
pub fn run(args: &LoadArgs) -> ExitCode {
    let target = match args
        .target
        .as_deref()
        .map(crate::target::Target::load)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let profile = match profile::load(&args.profile, target.as_ref().map(|t| &t.mailboxes[..])) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s.unwrap_or(Shard::WHOLE),
        Err(e) => return usage(format!("{e:#}")),
    };
    let metrics = match args
        .metrics
        .as_deref()
        .map(str::parse::<SocketAddr>)
        .transpose()
    {
        Ok(m) => m,
        Err(e) => {
            return usage(format!(
                "--metrics: {e}; expected an address such as 127.0.0.1:9464"
            ));
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(crate::cmd::serve::BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(format!("cannot start the async runtime: {e}")),
    };
    let start_at = match args
        .start_at
        .as_deref()
        .map(str::parse::<jiff::Timestamp>)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => {
            return usage(format!(
                "--start-at: {e}; expected an RFC 3339 instant such as 2026-12-07T08:00:00Z"
            ));
        }
    };
    let against = match &target {
        Some(t) => Against::Target(t),
        None if args.sink => Against::Sink,
        None => Against::World,
    };
    let options = Options {
        out: &args.out,
        metrics,
        against,
        start_at,
    };
    match rt.block_on(load(profile, shard, options)) {
        Ok(passed) => {
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => usage(format!("{e:#}")),
    }
}

/// What a load submits to.
#[derive(Clone, Copy)]
pub enum Against<'a> {
    /// The embedded world: the simulated provider and the reference intake.
    World,
    /// The simulated provider and the system under test of a target file.
    Target(&'a crate::target::Target),
    /// An SMTP sink ([`sink`]): the generator's own ceiling.
    Sink,
}

/// How a load runs besides its profile and shard.
pub struct Options<'a> {
    /// The folder for the results and reports.
    pub out: &'a Path,
    /// Where to serve the Prometheus endpoint and the live page.
    pub metrics: Option<SocketAddr>,
    /// What the arrivals submit to.
    pub against: Against<'a>,
    /// The wall instant of the schedule's start (`--start-at`); none: once the world runs.
    pub start_at: Option<jiff::Timestamp>,
}

/// Runs a load; `Ok(false)` when a threshold failed.
pub async fn load(mut profile: Profile, shard: Shard, options: Options<'_>) -> Result<bool> {
    let Options {
        out,
        metrics,
        against,
        start_at,
    } = options;
    demail_sim::init_crypto();
    let sink = matches!(against, Against::Sink);
    if sink {
        let (kept, left_out): (Vec<_>, Vec<_>) = std::mem::take(&mut profile.thresholds)
            .into_iter()
            .partition(|t| !threshold::NOT_MEASURED_BY_A_SINK.contains(&t.left.subject()));
        for t in &left_out {
            println!(
                "--sink: threshold left out (a sink confirms, pushes and replies nothing): {}",
                t.text
            );
        }
        profile.thresholds = kept;
    }
    let profile = Arc::new(profile);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    clear_out(out)?;
    let users = Arc::new(schedule::users(&profile)?);
    let all = schedule::schedule(&profile, &users)?;
    let mine = Arc::new(shard.arrivals(&all));
    println!(
        "load {} · seed={} · shard {}/{} · {} of {} arrivals over {:?} · {} De-Mail users · out {}",
        profile.name,
        profile.seed,
        shard.index,
        shard.count,
        mine.len(),
        all.len(),
        profile.duration,
        users.len(),
        out.display()
    );
    drop(all);
    let run = RunId {
        profile: profile.name.clone(),
        profile_digest: profile.digest.clone(),
        seed: profile.seed,
        shards: shard.count,
        duration_ms: profile.duration.as_millis() as u64,
        interval_ms: profile.interval.as_millis() as u64,
        thresholds: profile.thresholds.iter().map(|t| t.text.clone()).collect(),
        sink,
    };
    let mut results = Results::new(run, shard.index);
    results.bump("arrivals", mine.len() as u64);
    for a in mine.iter() {
        results.interval_mut(a.offset_us).intended += 1;
    }
    let addresses = Arc::new(users.iter().map(|u| u.address.clone()).collect::<Vec<_>>());
    let mut live = Live::new(Instant::now(), results, mine.clone(), addresses)
        .forget_early_after(profile.timeout + std::time::Duration::from_secs(5));
    if sink {
        live = live.expecting_no_answers();
    }
    let live: Shared = Arc::new(Mutex::new(live));
    let metrics_task = match metrics {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics {addr}: cannot listen"))?;
            let at = listener.local_addr()?;
            println!("metrics: http://{at}/metrics");
            println!("live page: http://{at}/");
            Some(exposition::serve(
                listener,
                live.clone(),
                (shard.index, shard.count),
                exposition::PageContext {
                    thresholds: profile.thresholds.clone(),
                    duration: profile.duration,
                },
            ))
        }
        None => None,
    };
    // The trace streams to <out>/trace.jsonl through the tap that pairs the events.
    let clock = demail_sim::clock::VirtualClock::wall();
    let trace_path = out.join("trace.jsonl");
    let trace_file = Arc::new(Mutex::new(std::io::BufWriter::new(
        std::fs::File::create(&trace_path)
            .with_context(|| format!("creating {}", trace_path.display()))?,
    )));
    let trace = demail_sim::trace::Trace::streaming(
        clock.clone(),
        observe::Tap {
            file: trace_file.clone(),
            live: live.clone(),
        },
        0,
    );
    let facing = match against {
        Against::World => {
            Facing::World(world::start(&profile, &users, shard, out, &clock, &trace).await?)
        }
        Against::Target(t) => Facing::World(
            world::start_target(&profile, &users, shard, out, &clock, &trace, t).await?,
        ),
        Against::Sink => {
            let s = sink::Sink::start(&format!("load-{}", profile.name)).await?;
            println!(
                "--sink: submitting to an SMTP sink at {} (the generator's own ceiling)",
                s.addr
            );
            Facing::Sink(s)
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (ticker, passwords, pki, submission) = match &facing {
        Facing::World(world) => (
            Some(world.ticker(profile.world.tick, clock.clone(), stop.clone())),
            world.passwords.clone(),
            &world.pki,
            world.providers[0].submission_addr(),
        ),
        // The sink takes any password.
        Facing::Sink(s) => (None, Arc::new(Vec::new()), &s.pki, s.addr),
    };
    let ctx = Arc::new(driver::Ctx {
        profile: profile.clone(),
        users: users.clone(),
        passwords,
        submitter: Arc::new(demail_sim::world::submit::Submitter::new(pki)?),
        submission,
        live: live.clone(),
        clock: clock.clone(),
    });
    // A short lead so that the first arrival is not late by the set-up of the loop, or the
    // instant of --start-at. The wall time reported counts from there (not the wait for it).
    let start = schedule_start(start_at, jiff::Timestamp::now(), Instant::now())?;
    lock(&live).start = start;
    let wall = start;
    let progress = progress(live.clone(), stop.clone(), profile.duration);
    // SIGINT or SIGTERM ends the schedule early; the reports cover what ran.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut signals = crate::cmd::serve::StopSignals::install()?;
    let signal_task = tokio::spawn(async move {
        let signal = signals.next().await;
        eprintln!("load: {signal} received, stopping the schedule; the reports cover what ran");
        let _ = stop_tx.send(true);
    });
    driver::drive(ctx, mine, stop_rx).await;
    signal_task.abort();
    stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    if let Some(ticker) = ticker {
        let _ = tokio::time::timeout(Duration::from_secs(5), ticker).await;
    }
    let mut results = {
        let mut l = lock(&live);
        let unanswered = l.unanswered();
        l.results.bump("unanswered", unanswered);
        l.results.clone()
    };
    results.wall_seconds = vec![Instant::now().saturating_duration_since(wall).as_secs_f64()];
    if let Some(t) = metrics_task {
        t.abort();
    }
    match facing {
        Facing::World(world) => world.stop().await,
        Facing::Sink(s) => s.stop(),
    }
    {
        use std::io::Write as _;
        let _ = demail_sim::sync::lock(&trace_file).flush();
    }
    finish(&profile.thresholds, &results, out)
}

/// The `Instant` at which the schedule starts: 100 ms from `now`, or `start_at` (given on
/// the wall clock, read as `wall_now` at `now`). An instant more than a second past is an
/// error: the first arrivals would all be late (dropped or counted late), and shards
/// started that way would not line up.
fn schedule_start(
    start_at: Option<jiff::Timestamp>,
    wall_now: jiff::Timestamp,
    now: Instant,
) -> Result<Instant> {
    let Some(at) = start_at else {
        return Ok(now + Duration::from_millis(100));
    };
    let wait = at.duration_since(wall_now);
    if wait < jiff::SignedDuration::from_secs(-1) {
        anyhow::bail!(
            "--start-at {at}: that instant passed {:.1} s ago (the world was ready at {wall_now}); give a later one",
            -wait.as_secs_f64()
        );
    }
    let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
    if wait > Duration::from_secs(1) {
        println!(
            "--start-at {at}: the schedule starts in {:.1} s",
            wait.as_secs_f64()
        );
    }
    Ok(now + wait)
}

/// What the driver submits to, while the run lasts.
enum Facing {
    World(world::EmbeddedWorld),
    Sink(sink::Sink),
}

/// Removes what an earlier load left in `out` (the provider's store would otherwise carry
/// its accounts and messages into this run); other files are left alone.
fn clear_out(out: &Path) -> Result<()> {
    let store = format!("provider-{}.sqlite", schedule::PROVIDER_ID);
    for name in [
        store.clone(),
        format!("{store}-wal"),
        format!("{store}-shm"),
        "result.json".into(),
        "report.json".into(),
        "report.html".into(),
        "trace.jsonl".into(),
        "sut.log".into(),
    ] {
        let path = out.join(&name);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing {} of an earlier run", path.display()))?;
        }
    }
    Ok(())
}

/// Decides the thresholds, writes result.json and the reports, prints the summary.
fn finish(thresholds: &[threshold::Threshold], results: &Results, out: &Path) -> Result<bool> {
    let mut decisions = threshold::decide(thresholds, results);
    // A run stopped early decided its thresholds over part of the schedule: it cannot pass.
    let interrupted = results.count("interrupted");
    if interrupted > 0 {
        decisions.insert(
            0,
            threshold::Decision {
                threshold: "interrupted == 0 (implicit: the whole schedule ran)".into(),
                passed: false,
                observed: Some(interrupted as f64),
                detail: format!("observed {interrupted}: stopped early by a signal"),
            },
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("result.json"), results.to_json()?)
        .with_context(|| format!("writing {}", out.join("result.json").display()))?;
    report::write(out, results, &decisions)?;
    print!("{}", report::summary(results, &decisions));
    println!(
        "reports: {} {}",
        out.join("report.json").display(),
        out.join("report.html").display()
    );
    Ok(decisions.iter().all(|d| d.passed))
}

/// The progress line once a second: a spinner on a terminal, plain lines otherwise.
fn progress(
    live: Shared,
    stop: Arc<AtomicBool>,
    duration: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = std::io::stdout().is_terminal().then(|| {
            let pb = indicatif::ProgressBar::with_draw_target(
                Some(duration.as_secs().max(1)),
                indicatif::ProgressDrawTarget::stdout_with_hz(4),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("  [{bar:20}] {pos}/{len}s {msg}")
            {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        });
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        // Counts at the previous line: the rates shown are those of the last second.
        let (mut last_due, mut last_started, mut last_t) = (0u64, 0u64, 0.0f64);
        while !stop.load(Ordering::Relaxed) {
            every.tick().await;
            let line = {
                let l = lock(&live);
                let t = l.start.elapsed().as_secs_f64().max(1e-3);
                let p95 = |m: &str| {
                    l.results
                        .histogram(m)
                        .filter(|h| !h.is_empty())
                        .map_or("-".to_string(), |h| {
                            format!("{:.3}s", h.value_at_quantile(0.95) as f64 / 1e6)
                        })
                };
                let due = l.due(l.start.elapsed()) as u64;
                let started = l.results.count("started");
                let dt = (t - last_t).max(1e-3);
                let line = format!(
                    "t={t:.0}s rate {:.1}/s (intended {:.1}/s) in flight {} accepted {} dropped {} refused {} errors {} p95 submit {} reply {}",
                    (started - last_started) as f64 / dt,
                    due.saturating_sub(last_due) as f64 / dt,
                    l.in_flight,
                    l.results.count("accepted"),
                    l.results.count("dropped"),
                    l.results.count("refused"),
                    l.results.count("errors"),
                    p95("submit"),
                    p95("reply"),
                );
                (last_due, last_started, last_t) = (due, started, t);
                line
            };
            match &bar {
                Some(pb) => {
                    pb.set_position(every_secs(&live).min(duration.as_secs()));
                    pb.set_message(line);
                }
                None => println!("  {line}"),
            }
        }
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
    })
}

fn every_secs(live: &Shared) -> u64 {
    lock(live).start.elapsed().as_secs()
}

/// `demail-testbed merge`.
pub fn merge(args: &MergeArgs) -> ExitCode {
    match merge_dirs(&args.dirs, &args.out) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => usage(format!("{e:#}")),
    }
}

/// Merges the shards' `result.json`; `Ok(false)` when a threshold failed.
pub fn merge_dirs(dirs: &[PathBuf], out: &Path) -> Result<bool> {
    let merged = merge_results(dirs)?;
    let missing = merged.missing_shards();
    if !missing.is_empty() {
        anyhow::bail!(
            "shards {missing:?} of {} are missing: merge needs the result of every shard",
            merged.run.shards
        );
    }
    let thresholds = merged
        .run
        .thresholds
        .iter()
        .map(|t| threshold::parse(t).map_err(|e| anyhow::anyhow!("threshold {t:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    finish(&thresholds, &merged, out)
}

/// The sum of the results in `dirs`.
pub fn merge_results(dirs: &[PathBuf]) -> Result<Results> {
    let mut merged: Option<Results> = None;
    for d in dirs {
        let path = d.join("result.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let r = Results::from_json(&text).with_context(|| path.display().to_string())?;
        match &mut merged {
            None => merged = Some(r),
            Some(m) => m.merge(&r).with_context(|| path.display().to_string())?,
        }
    }
    merged.context("no folders given")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    /// Without `--start-at` the schedule starts 100 ms from now; with it, at the instant given
    /// (read on the wall clock), up to a second late; earlier is an error that names it.
    #[test]
    fn schedule_start_follows_start_at() {
        let now = Instant::now();
        let wall = at("2026-12-07T08:00:00Z");
        assert_eq!(
            schedule_start(None, wall, now).unwrap(),
            now + Duration::from_millis(100)
        );
        assert_eq!(
            schedule_start(Some(at("2026-12-07T08:00:05.5Z")), wall, now).unwrap(),
            now + Duration::from_millis(5500)
        );
        assert_eq!(
            schedule_start(Some(at("2026-12-07T07:59:59.5Z")), wall, now).unwrap(),
            now,
            "half a second late starts at once"
        );
        let e = schedule_start(Some(at("2026-12-07T07:59:50Z")), wall, now).unwrap_err();
        assert!(
            e.to_string()
                .contains("--start-at 2026-12-07T07:59:50Z: that instant passed 10.0 s ago"),
            "{e}"
        );
    }
}
