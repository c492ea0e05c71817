//! The `demail-testbed` command line.
//!
//! Exit codes: 0 all passed, 1 a check failed or a golden file differs, 2 usage or input
//! error (a scenario file that does not load, a missing path, a failure to start the world).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::report::golden::{self, Comparison, Kind};
use crate::run::{self, RunOptions};
use crate::scenario::{self, Scenario, ScenarioError};

/// A test-bed and simulator for De-Mail (BSI TR 01201) and municipal intakes.
#[derive(Debug, Parser)]
#[command(
    name = "demail-testbed",
    version,
    about = "A test-bed and simulator for De-Mail (BSI TR 01201) and municipal intakes",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against the embedded world and check them against their golden files.
    Run(RunArgs),
    /// Validate scenario files without running them.
    Check {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the public holidays of a Land (and municipality) in a year, with sources.
    Holidays(crate::cmd::calendar::HolidaysArgs),
    /// Compute a legal deadline and explain each step with its source.
    Deadline(crate::cmd::calendar::DeadlineArgs),
    /// Show the De-Mail view of a message file: type, options, addresses, rule violations,
    /// integrity verdict, confirmation content. Exit 0 valid, 1 invalid, 2 unreadable.
    Inspect(crate::cmd::inspect::InspectArgs),
    /// Write a seeded fake population of citizens and businesses as CSV or JSON Lines.
    Population(crate::cmd::population::PopulationArgs),
    /// Run simulated providers standalone (ports, accounts and tokens printed at start) for
    /// connecting an intake by hand; Ctrl-C or SIGTERM stops (exit 0).
    Serve(crate::cmd::serve::ServeArgs),
    /// Browse a run folder in a browser on this machine: scenarios, checks with their
    /// evidence, the trace as a timeline, each message in the De-Mail view (docs/ui.md).
    View(crate::cmd::view::ViewArgs),
    /// A persistent test PKI: `pki init DIR --host NAME --client ADDRESS` (for `serve --pki`).
    Pki(crate::cmd::pki::PkiArgs),
    /// The reference intake as a standalone process, configured by a target file (docs/sut.md);
    /// SIGTERM or Ctrl-C stops it.
    Intake(crate::cmd::intake::IntakeArgs),
    /// Run a profile of the conformance catalogue and issue a signed certificate
    /// (docs/certification.md). Exit 0 every must-case passed, 1 otherwise, 2 usage.
    Certify(crate::cmd::certify::CertifyArgs),
    /// Check a certificate offline: signature, catalogue hash, evidence digests (--run).
    /// Exit 0 valid, 1 invalid, 2 usage.
    VerifyCert(crate::cmd::verify_cert::VerifyArgs),
    /// Run a load profile (docs/load.md) against the embedded world on the wall clock.
    /// Exit 0 every threshold passed, 1 a threshold failed, 2 usage.
    Load(crate::load::LoadArgs),
    /// Merge the results of load shards (`load --shard I/N`) exactly and decide the
    /// thresholds over the whole run. Exit 0, 1 or 2 as `load`.
    Merge(crate::load::MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or folders [default: scenarios]
    pub paths: Vec<PathBuf>,
    /// Master seed for every scenario (default: each scenario's own seed). Golden files are
    /// compared only when the seed is the scenario's own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder for run results; each scenario gets `<out>/<name>/`.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Folder of the golden files [default: the `golden/` folder beside a `scenarios/` folder
    /// the scenario lies in, else beside the scenario file]. Against a target file whose
    /// system is not started with the scenario file (`scenario_config = false`), the shipped
    /// golden files record the reference intake, so they are compared only when --golden
    /// names a folder.
    #[arg(long)]
    pub golden: Option<PathBuf>,
    /// Write the golden files from this run instead of comparing.
    #[arg(long)]
    pub bless: bool,
    /// Fail a scenario whose golden files are missing instead of recording them on its first
    /// run (for CI, where every golden file must be committed).
    #[arg(long)]
    pub require_golden: bool,
    /// Print a JSON report on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// System under test: a target file (docs/sut.md), e.g. targets/reference.toml; "embedded"
    /// (the default) runs the reference intake inside the runner.
    #[arg(long, default_value = "embedded")]
    pub target: String,
    /// A persistent test PKI folder (`pki init`): the providers' certificates chain to its CA,
    /// so that a system under test installs the CA once [default: a new CA per run].
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Do not keep each message as it crossed the wire (`<out>/<name>/messages/*.eml`); for
    /// large runs. The trace names the files either way.
    #[arg(long)]
    pub no_messages: bool,
    /// Run every scenario twice with the same seed and fail on the first line where the two
    /// traces differ (the determinism invariant, checked against this machine and SUT).
    #[arg(long)]
    pub check_determinism: bool,
    /// Walk every scenario to the end of its `duration`, even after every check is decided,
    /// so that later behaviour reaches the trace. The golden files record the run that ends
    /// when everything is decided, so without --golden they are then not compared (unless the
    /// scenario itself sets `full_duration = true`)
    #[arg(long)]
    pub full_duration: bool,
    /// Extra quiet window (ms) after the world is idle between events; 0 settles on the idle
    /// signal alone (no SMTP session open, no delivery pending, the intake's clock answered)
    #[arg(long, default_value_t = 0)]
    pub settle_ms: u64,
    /// Serve the run view of the out folder at ADDR while the run goes (finished scenarios
    /// appear as they end; the index refreshes itself) and afterwards until Ctrl-C
    /// (docs/ui.md, "Run view"). Loopback only.
    #[arg(long, value_name = "ADDR")]
    pub ui: Option<std::net::SocketAddr>,
    /// Threads of the runner's async runtime. 1 (the default) runs the runner, the providers
    /// and the embedded intake's HTTP face on one thread, which is the fastest here: the
    /// walk is one chain of hand-offs, and every hand-off between threads costs a wake-up
    /// (docs/benchmarks.md). The trace does not depend on it (ARCHITECTURE.md, invariants).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Diagnostics on stderr, off unless RUST_LOG asks for them (e.g. RUST_LOG=debug).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Check { paths } => check(&paths),
        Command::Holidays(args) => crate::cmd::calendar::holidays(&args),
        Command::Deadline(args) => crate::cmd::calendar::deadline(&args),
        Command::Inspect(args) => crate::cmd::inspect::run(&args),
        Command::Population(args) => crate::cmd::population::run(&args),
        Command::Serve(args) => crate::cmd::serve::run(&args),
        Command::View(args) => crate::cmd::view::run(&args),
        Command::Pki(args) => crate::cmd::pki::run(&args),
        Command::Intake(args) => crate::cmd::intake::run(&args),
        Command::Certify(args) => crate::cmd::certify::run(&args),
        Command::VerifyCert(args) => crate::cmd::verify_cert::run(&args),
        Command::Load(args) => crate::load::run(&args),
        Command::Merge(args) => crate::load::merge(&args),
    }
}

/// Finds scenario files under the given paths, each with the folder its name is relative to
/// ([`root_of`]); `Err` names a path that does not exist.
fn collect(paths: &[PathBuf]) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = scenario::discover(p).map_err(|e| format!("{}: {e}", p.display()))?;
            files.extend(found.into_iter().map(|f| {
                let root = root_of(&f, p);
                (f, root)
            }));
        } else if p.is_file() {
            let root = root_of(p, p.parent().unwrap_or(Path::new("")));
            files.push((p.clone(), root));
        } else {
            return Err(format!(
                "{}: no such file or folder (run from the repository root, or name scenario files)",
                p.display()
            ));
        }
    }
    if files.is_empty() {
        return Err("no scenario files (*.toml) found".into());
    }
    Ok(files)
}

/// The folder scenario names are relative to: the nearest ancestor called `scenarios`, else
/// `named` (the folder named on the command line, so that its subfolders stay groups, or the
/// folder of a file named on its own).
fn root_of(file: &Path, named: &Path) -> PathBuf {
    file.ancestors()
        .skip(1)
        .find(|a| a.file_name().is_some_and(|n| n == "scenarios"))
        .map_or_else(|| named.to_path_buf(), Path::to_path_buf)
}

/// Loads every file; a scenario comes with the folder its name is relative to.
fn load_all(files: &[(PathBuf, PathBuf)]) -> Result<Vec<(Scenario, PathBuf)>, Vec<ScenarioError>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (f, root) in files {
        match scenario::load(f, root) {
            Ok(s) => ok.push((s, root.clone())),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

fn check(paths: &[PathBuf]) -> ExitCode {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut bad = false;
    for (f, root) in &files {
        match scenario::load(f, root) {
            Ok(s) => println!("ok    {} ({})", f.display(), s.name),
            Err(e) => {
                bad = true;
                println!("error {e}");
            }
        }
    }
    if bad {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Starts the run view (`cmd::view`) of `out` on `addr` in the background of `rt`.
fn start_run_view(
    rt: &tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
    out: &Path,
) -> anyhow::Result<std::net::SocketAddr> {
    use anyhow::Context as _;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let root = out
        .canonicalize()
        .with_context(|| format!("the out folder {}", out.display()))?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("binding {addr}"))?;
    let at = listener.local_addr()?;
    eprintln!("run view: http://{at}/  (loopback only; docs/ui.md)");
    rt.spawn(async move {
        if let Err(e) = crate::cmd::view::serve(listener, root).await {
            eprintln!("run view stopped: {e:#}");
        }
    });
    Ok(at)
}

fn run(args: RunArgs) -> ExitCode {
    let (scenarios, rt) = match prepare(&args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let target = match args.target.as_str() {
        "embedded" => None,
        path => match crate::target::Target::load(Path::new(path)) {
            Ok(t) => Some(std::sync::Arc::new(t)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    eprintln!(
        "demail-testbed {} · target {} · {} scenario(s)",
        env!("CARGO_PKG_VERSION"),
        target.as_ref().map_or_else(
            || "embedded reference intake".to_string(),
            |t| format!(
                "{} ({}, {})",
                [t.name.as_str(), t.version.as_str()].join(" ").trim(),
                args.target,
                t.level
            )
        ),
        scenarios.len()
    );
    tell_where_goldens_are(&args, &scenarios);
    let run_view = match args
        .ui
        .map(|addr| (addr, start_run_view(&rt, addr, &args.out)))
    {
        None => None,
        Some((_, Ok(at))) => Some(at),
        Some((addr, Err(e))) => {
            eprintln!("error: --ui {addr}: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut failed = 0usize;
    let mut skipped = 0usize;
    let mut infra_error = false;
    let mut scenario_reports = Vec::new();
    for (s, root) in &scenarios {
        let seed = args.seed.unwrap_or(s.file.scenario.seed);
        let seed_source = if args.seed.is_some() {
            "--seed"
        } else {
            "scenario"
        };
        if let Some(why) = target.as_ref().and_then(|t| t.skip_reason(s)) {
            eprintln!("▷ {} · SKIPPED: {why}", s.name);
            scenario_reports.push(
                crate::report::ScenarioReport::skipped(&s.name, seed, &why)
                    .with_path(&s.path)
                    .with_started(jiff::Timestamp::now()),
            );
            skipped += 1;
            continue;
        }
        eprintln!("▶ {} · seed={seed} (from {seed_source})", s.name);
        let mut opts = RunOptions::new(args.out.join(&s.name));
        opts.target = target.clone();
        opts.pki = args.pki.clone();
        opts.seed = args.seed;
        opts.keep_messages = !args.no_messages;
        opts.full_duration = args.full_duration;
        opts.settle_quiet = std::time::Duration::from_millis(args.settle_ms);
        opts.progress = Some(progress_bar(s));
        let started = jiff::Timestamp::now();
        let outcome = rt.block_on(run::run(s, &opts));
        if let Some(pb) = &opts.progress {
            pb.finish_and_clear();
        }
        let result = match outcome {
            Ok(r) => r,
            Err(e) => {
                eprintln!("  error: {e:#}");
                eprintln!(
                    "  reproduce with: demail-testbed run {} --seed {seed}",
                    s.path.display()
                );
                infra_error = true;
                scenario_reports.push(
                    crate::report::ScenarioReport::errored(&s.name, seed, &format!("{e:#}"))
                        .with_path(&s.path)
                        .with_started(started)
                        .with_run_folder(&opts.out_dir),
                );
                continue;
            }
        };
        let deterministic = !args.check_determinism || same_on_rerun(&rt, s, &opts, &result);
        for c in &result.checks {
            let verdict = if c.passed { "pass" } else { "FAIL" };
            eprintln!("  {verdict} {}: {}", c.id, c.detail);
        }
        let golden_status = golden_status(
            &args,
            s,
            root,
            target.as_ref().and_then(|t| golden_not_for(t)),
            &result,
            &opts.out_dir,
        );
        infra_error |= golden_status == "error";
        let ok = result.passed()
            && deterministic
            && matches!(golden_status, "same" | "recorded" | "blessed" | "skipped");
        eprintln!(
            "  {} {} · {} checks · golden {} · {:.1} s wall · run folder {}",
            if ok { "PASS" } else { "FAIL" },
            s.name,
            result.checks.len(),
            golden_status,
            result.wall.as_secs_f64(),
            opts.out_dir.display()
        );
        if !ok {
            failed += 1;
            eprintln!(
                "  reproduce with: demail-testbed run {} --seed {seed}",
                s.path.display()
            );
        }
        let mut scenario_report = crate::report::ScenarioReport::from(&result, golden_status)
            .with_path(&s.path)
            .with_check_kinds(s.expect_kinds())
            .with_started(started)
            .with_run_folder(&opts.out_dir);
        if !deterministic {
            // So that every report says FAIL where the terminal does.
            scenario_report.checks.push(crate::model::CheckOutcome {
                id: "determinism".to_string(),
                passed: false,
                detail: "a second run with the same seed gave another trace (--check-determinism; first difference above)".to_string(),
            });
        }
        scenario_reports.push(scenario_report);
    }
    infra_error |= !write_reports(&args, &scenario_reports);
    let passed = scenarios
        .len()
        .saturating_sub(failed + skipped + usize::from(infra_error));
    if skipped > 0 {
        eprintln!(
            "{passed} passed, {failed} failed, {skipped} skipped (not passed; the reasons are above)"
        );
    } else {
        eprintln!("{passed} passed, {failed} failed");
    }
    if let Some(at) = run_view {
        eprintln!("run view still at http://{at}/ ; Ctrl-C stops");
        let _ = rt.block_on(tokio::signal::ctrl_c());
    }
    if infra_error {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes the report files into `--out` and, with `--json`, prints report.json's content on
/// stdout (the same text, from the same function); `false` after an error (printed).
fn write_reports(args: &RunArgs, reports: &[crate::report::ScenarioReport]) -> bool {
    let mut ok = true;
    match crate::report::write_all(&args.out, reports) {
        Ok(paths) => {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            eprintln!("reports: {}", names.join(", "));
        }
        Err(e) => {
            eprintln!("error: writing reports: {e:#}");
            ok = false;
        }
    }
    if args.json {
        let stdout = std::io::BufWriter::new(std::io::stdout().lock());
        match crate::report::write_json(reports, stdout) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("error: rendering the JSON report: {e:#}");
                ok = false;
            }
        }
    }
    ok
}

/// `--check-determinism`: runs the scenario again into `determinism-rerun/` and compares the
/// traces line by line; prints the first difference.
fn same_on_rerun(
    rt: &tokio::runtime::Runtime,
    s: &Scenario,
    opts: &RunOptions,
    result: &run::RunResult,
) -> bool {
    let mut deterministic = true;
    let mut again = opts.clone();
    again.out_dir = opts.out_dir.join("determinism-rerun");
    match rt.block_on(run::run(s, &again)) {
        Ok(second) => match first_divergence(&result.trace_path, &second.trace_path) {
            Err(e) => {
                deterministic = false;
                eprintln!("  determinism: cannot compare the traces: {e:#}");
            }
            Ok(None) => eprintln!(
                "  determinism: second run gave an identical trace ({} events)",
                result.journal.last_seq()
            ),
            Ok(Some((line, a, b))) => {
                deterministic = false;
                eprintln!(
                    "  determinism FAILED: traces differ at line {line}\n    first:  {a}\n    second: {b}"
                );
            }
        },
        Err(e) => {
            deterministic = false;
            eprintln!("  determinism: the second run failed: {e:#}");
        }
    }
    deterministic
}

/// The scenarios named on the command line (default: `scenarios/`), loaded and validated, and
/// the async runtime; errors are printed and give exit code 2.
type Prepared = (Vec<(Scenario, PathBuf)>, tokio::runtime::Runtime);

fn prepare(args: &RunArgs) -> Result<Prepared, ExitCode> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        args.paths.clone()
    };
    let files = match collect(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(2));
        }
    };
    let scenarios = match load_all(&files) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            return Err(ExitCode::from(2));
        }
    };
    let built = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(n))
            .enable_all()
            .build(),
    };
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Err(ExitCode::from(2));
        }
    };
    Ok((scenarios, rt))
}

/// A bar over the scenario's virtual time; indicatif draws it only when stderr is a terminal,
/// so CI logs stay clean.
fn progress_bar(s: &Scenario) -> indicatif::ProgressBar {
    let total = s
        .start
        .checked_add(s.duration)
        .map(|end| {
            end.timestamp()
                .duration_since(s.start.timestamp())
                .as_secs()
                .max(1) as u64
        })
        .unwrap_or(1);
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr_with_hz(10),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "  {prefix} [{bar:30}] {percent:>3}% of the virtual time, {elapsed} wall",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(s.name.clone());
    pb
}

/// The first line (1-based) where two traces differ, with both lines.
fn first_divergence(a: &Path, b: &Path) -> anyhow::Result<Option<(usize, String, String)>> {
    use anyhow::Context as _;
    use std::io::BufRead;
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(|f| std::io::BufReader::new(f).lines())
            .with_context(|| format!("reading {}", p.display()))
    };
    let (mut la, mut lb) = (open(a)?, open(b)?);
    let mut i = 0;
    loop {
        i += 1;
        let x = la
            .next()
            .transpose()
            .with_context(|| format!("reading {}", a.display()))?;
        let y = lb
            .next()
            .transpose()
            .with_context(|| format!("reading {}", b.display()))?;
        if x.is_none() && y.is_none() {
            return Ok(None);
        }
        if x != y {
            let end = || "(end of trace)".to_string();
            return Ok(Some((i, x.unwrap_or_else(end), y.unwrap_or_else(end))));
        }
    }
}

/// Says once per scenario folder where scenario names and golden files come from, when that
/// is not this repository's layout (`scenarios/` with `golden/` beside it).
fn tell_where_goldens_are(args: &RunArgs, scenarios: &[(Scenario, PathBuf)]) {
    let mut told: Vec<&Path> = Vec::new();
    for (_, root) in scenarios {
        if told.contains(&root.as_path()) {
            continue;
        }
        told.push(root);
        let shown = if root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            root.as_path()
        };
        if root.file_name().is_none_or(|n| n != "scenarios") {
            eprintln!(
                "note: scenario names are relative to {} (no folder named scenarios/ above them)",
                shown.display()
            );
        }
        let place = golden::place(args.golden.as_deref(), root);
        if place.origin == golden::Origin::Beside {
            eprintln!(
                "note: golden files of the scenarios in {} live beside them (<name>.trace.snap, <name>.summary.snap); a first run records them, --golden DIR names another folder",
                shown.display()
            );
        }
    }
}

/// Why the shipped golden files do not fit a run against `target`, if they do not: they record
/// the reference intake configured by the scenario, with the observation events of level 3.
fn golden_not_for(target: &crate::target::Target) -> Option<&'static str> {
    if !target.scenario_config {
        Some("they record the reference intake")
    } else if target.level < crate::model::Level::Observation {
        Some("they hold the observation events of a level-3 system, and this one has a lower level")
    } else {
        None
    }
}

/// Whether the golden files of a run are compared, and the status: "skipped" (with the reason
/// printed) or what [`golden_step`] gives; "error" when it could not be done.
fn golden_status(
    args: &RunArgs,
    s: &Scenario,
    root: &Path,
    not_for_target: Option<&str>,
    result: &run::RunResult,
    run_dir: &Path,
) -> &'static str {
    if args.seed.is_some() && args.seed != Some(s.file.scenario.seed) {
        eprintln!("  golden files not compared: --seed differs from the scenario's seed");
        return "skipped";
    }
    if args.full_duration && !s.file.scenario.full_duration && args.golden.is_none() {
        eprintln!(
            "  golden files not compared: --full-duration walks past where they end (compare with --golden DIR of your own)"
        );
        return "skipped";
    }
    if let (None, Some(why)) = (&args.golden, not_for_target) {
        eprintln!(
            "  golden files not compared: {why}; name your own folder with --golden DIR (its first run records them)"
        );
        return "skipped";
    }
    let place = golden::place(args.golden.as_deref(), root);
    match golden_step(args, result, &s.redactions(), &place, run_dir) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("  error: {e:#}");
            "error"
        }
    }
}

/// Compares (or blesses) both golden files of a run under `place`; returns "same",
/// "recorded" (missing ones written on a first run), "blessed", "missing" (with
/// --require-golden) or "different". New output of a mismatch goes into the run folder.
fn golden_step(
    args: &RunArgs,
    result: &run::RunResult,
    redact: &[String],
    place: &golden::Place,
    run_dir: &Path,
) -> anyhow::Result<&'static str> {
    // The trace is compared and written from its file a line at a time (a long run's trace
    // is not held in memory), the summary as text.
    let trace = golden::Output::TraceFile {
        path: &result.trace_path,
        redact,
    };
    let files = [
        (Kind::Trace, trace),
        (Kind::Summary, golden::Output::Text(&result.summary)),
    ];
    if args.bless {
        for (kind, output) in files {
            let path = golden::path(&place.root, &result.name, kind);
            output.bless(&path)?;
            eprintln!("  blessed {}", path.display());
        }
        return Ok("blessed");
    }
    // The worst status of the two files wins.
    let rank = |s: &str| {
        ["same", "recorded", "missing", "different"]
            .iter()
            .position(|x| *x == s)
    };
    let mut status = "same";
    let mut recorded = Vec::new();
    for (kind, output) in files {
        let path = golden::path(&place.root, &result.name, kind);
        let pending = || output.write_pending(run_dir, kind);
        let this = match output.compare(&path, kind)? {
            Comparison::Same => "same",
            Comparison::Missing if !args.require_golden => {
                output.bless(&path)?;
                recorded.push(path.display().to_string());
                "recorded"
            }
            Comparison::Missing => {
                let pending = pending()?;
                eprintln!(
                    "  golden file {} is missing (--require-golden); new output in {} (record it with --bless, review, commit)",
                    path.display(),
                    pending.display()
                );
                "missing"
            }
            Comparison::Different(diff) => {
                let pending = pending()?;
                eprintln!(
                    "  golden mismatch in {}; new output in {} (accept with --bless):\n{diff}",
                    path.display(),
                    pending.display()
                );
                "different"
            }
        };
        if rank(this) > rank(status) {
            status = this;
        }
    }
    if !recorded.is_empty() {
        eprintln!(
            "  golden files recorded (first run, nothing to compare yet): {}; review them; later runs compare against them (--require-golden fails instead)",
            recorded.join(", ")
        );
    }
    Ok(status)
}
