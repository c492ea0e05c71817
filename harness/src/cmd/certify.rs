//! `demail-testbed certify`: runs a profile of the conformance catalogue against a system
//! under test with the ordinary runner, decides each case from its expectations, writes the
//! usual reports and a signed certificate (`certificate.json`, `certificate.jws`,
//! `public-key.pem`, `certificate.html`). Exit 0 when every must-case passed (skipped ones
//! are not passed), 1 otherwise, 2 on usage or input errors. Format: docs/certification.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::certify::catalogue::{self, Case, Catalogue, Severity, Status};
use crate::certify::sign::SigningKey;
use crate::certify::{self, CaseResult, Certificate, Evidence, Totals};
use crate::report::ScenarioReport;
use crate::run::{self, RunOptions};
use crate::target::Target;

#[derive(Debug, clap::Args)]
pub struct CertifyArgs {
    /// System under test: a target file (docs/sut.md) or "embedded" (the reference intake).
    #[arg(long, default_value = "embedded")]
    pub target: String,
    /// The catalogue profile to run (e.g. kommune-basis, zustellung, gewerbe), or "all" for
    /// every case.
    #[arg(long)]
    pub profile: String,
    /// With `--target embedded`: let the reference intake break this rule on purpose
    /// (repeatable; docs/certification.md "Flawed intakes"), to see which cases catch it. The
    /// certificate names the flaws. For a target, put `--flaw` into its start command.
    #[arg(long = "flaw", value_name = "NAME", value_parser = crate::cmd::intake::parse_flaw)]
    pub flaws: Vec<demail_sim::intake::flaw::Flaw>,
    /// Folder for the run folders, reports and the certificate.
    #[arg(long, default_value = "certification")]
    pub out: PathBuf,
    /// Signing key, PKCS#8 PEM (P-256) [default: a new key, written to <out>/signing-key.pem].
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The catalogue file.
    #[arg(long, default_value = catalogue::DEFAULT_PATH)]
    pub catalogue: PathBuf,
}

/// What became of one scenario of the profile.
enum Outcome {
    Ran {
        checks: Vec<crate::model::CheckOutcome>,
        evidence: Evidence,
    },
    Skipped(String),
    Errored(String),
}

/// Entry point of `certify`.
pub fn run(args: &CertifyArgs) -> ExitCode {
    match certify(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the profile; `Ok(true)` when every must-case passed.
fn certify(args: &CertifyArgs) -> Result<bool> {
    let cat = catalogue::load(&args.catalogue).map_err(|e| anyhow::anyhow!("{e}"))?;
    let profile = cat.profile(&args.profile).with_context(|| {
        let ids: Vec<&str> = cat
            .profiles
            .iter()
            .map(|p| p.id.as_str())
            .chain([catalogue::ALL])
            .collect();
        format!(
            "no profile {:?}; the catalogue has {}",
            args.profile,
            ids.join(", ")
        )
    })?;
    let target = match args.target.as_str() {
        "embedded" => None,
        path => Some(Arc::new(
            Target::load(Path::new(path)).map_err(|e| anyhow::anyhow!("{e}"))?,
        )),
    };
    if target.is_some() && !args.flaws.is_empty() {
        anyhow::bail!(
            "--flaw works with --target embedded; for a target file put \"--flaw\", \"NAME\" into its [start] command"
        );
    }
    let key = match &args.key {
        Some(p) => SigningKey::from_pem(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("{}", p.display()))?,
        None => SigningKey::generate()?,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let system = system_ref(args, target.as_deref());
    eprintln!(
        "demail-testbed {} certify · catalogue {} {} · profile {} · {} {}",
        env!("CARGO_PKG_VERSION"),
        cat.header.id,
        cat.header.version,
        profile.id,
        system.name,
        system.version
    );
    let names = scenarios_of(&cat, &profile.cases);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut outcomes = BTreeMap::new();
    let mut reports = Vec::new();
    for name in &names {
        let (outcome, report) = run_one(&rt, &cat, name, target.as_ref(), args)?;
        outcomes.insert(name.clone(), outcome);
        reports.push(report);
    }
    crate::report::write_all(&args.out, &reports)?;
    let cases: Vec<CaseResult> = profile
        .cases
        .iter()
        .filter_map(|id| cat.case(id))
        .map(|c| case_result(c, &outcomes))
        .collect();
    for c in &cases {
        eprintln!("  {:<7} {} ({}): {}", c.verdict, c.id, c.severity, c.detail);
    }
    let totals = Totals::of(&cases);
    let cert = Certificate {
        format: certify::FORMAT.to_string(),
        catalogue: certify::CatalogueRef {
            id: cat.header.id.clone(),
            version: cat.header.version.clone(),
            sha256: cat.sha256.clone(),
        },
        profile: certify::ProfileRef {
            id: profile.id.clone(),
            title: profile.title.clone(),
        },
        system,
        testbed: certify::TestbedRef {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: certify::GIT_COMMIT.to_string(),
        },
        issued_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)?
            .to_string(),
        virtual_period: period(&reports),
        seeds: reports
            .iter()
            .map(|r| certify::Seed {
                scenario: r.name.clone(),
                seed: r.seed,
            })
            .collect(),
        verdict: if totals.all_must_passed() {
            "PASS"
        } else {
            "FAIL"
        }
        .to_string(),
        totals,
        cases,
        key: certify::sign::fingerprint(key.public_point()),
    };
    write_certificate(&args.out, &cert, &key, args.key.is_none())?;
    let t = &cert.totals;
    eprintln!(
        "{}: {} of {} must-cases passed; {} passed, {} failed, {} skipped (not passed), {} planned (not run); certificate {}",
        cert.verdict,
        t.must_passed,
        t.must_total,
        t.passed,
        t.failed,
        t.skipped,
        t.planned,
        args.out.join("certificate.jws").display()
    );
    Ok(t.all_must_passed())
}

/// The system under test as the certificate names it.
fn system_ref(args: &CertifyArgs, target: Option<&Target>) -> certify::SystemRef {
    match target {
        Some(t) => certify::SystemRef {
            name: t.name.clone(),
            version: t.version.clone(),
            target: args.target.clone(),
            level: t.level.number(),
        },
        None if !args.flaws.is_empty() => certify::SystemRef {
            name: format!(
                "embedded reference intake, FLAWED ON PURPOSE: {}",
                args.flaws
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            version: env!("CARGO_PKG_VERSION").to_string(),
            target: "embedded".to_string(),
            level: crate::model::Level::Observation.number(),
        },
        None => certify::SystemRef {
            name: "embedded reference intake".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            target: "embedded".to_string(),
            level: crate::model::Level::Observation.number(),
        },
    }
}

/// The scenarios the profile's active cases name, in the order of first mention.
fn scenarios_of(cat: &Catalogue, case_ids: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for id in case_ids {
        if let Some(Case {
            status: Status::Active { scenario, .. },
            ..
        }) = cat.case(id)
            && !names.contains(scenario)
        {
            names.push(scenario.clone());
        }
    }
    names
}

/// Runs (or skips) one scenario into `<out>/<its name>/`; an infrastructure error is an
/// outcome (the case fails), not an error of the command.
fn run_one(
    rt: &tokio::runtime::Runtime,
    cat: &Catalogue,
    name: &str,
    target: Option<&Arc<Target>>,
    args: &CertifyArgs,
) -> Result<(Outcome, ScenarioReport)> {
    let out = &args.out;
    let s = cat
        .scenarios
        .get(name)
        .with_context(|| format!("scenario {name} not loaded"))?;
    let seed = s.file.scenario.seed;
    if let Some(why) = target.and_then(|t| t.skip_reason(s)) {
        eprintln!("▷ {} · SKIPPED: {why}", s.name);
        let report = ScenarioReport::skipped(&s.name, seed, &why).with_path(&s.path);
        return Ok((Outcome::Skipped(why), report));
    }
    eprintln!("▶ {} · seed={seed}", s.name);
    let mut opts = RunOptions::new(out.join(&s.name));
    opts.target = target.cloned();
    opts.flaws = demail_sim::intake::flaw::Flaws::of(args.flaws.iter().copied());
    let started = jiff::Timestamp::now();
    match rt.block_on(run::run(s, &opts)) {
        Ok(result) => {
            let (sha256, files) = certify::evidence::digest(&opts.out_dir)?;
            let report = ScenarioReport::from(&result, "skipped")
                .with_path(&s.path)
                .with_check_kinds(s.expect_kinds())
                .with_started(started)
                .with_run_folder(&opts.out_dir);
            let evidence = Evidence {
                run: s.name.clone(),
                sha256,
                files,
            };
            Ok((
                Outcome::Ran {
                    checks: result.checks,
                    evidence,
                },
                report,
            ))
        }
        Err(e) => {
            eprintln!("  error: {e:#}");
            let report = ScenarioReport::errored(&s.name, seed, &format!("{e:#}"))
                .with_path(&s.path)
                .with_run_folder(&opts.out_dir);
            Ok((Outcome::Errored(format!("{e:#}")), report))
        }
    }
}

/// A case's verdict from the outcome of its scenario.
fn case_result(c: &Case, outcomes: &BTreeMap<String, Outcome>) -> CaseResult {
    let (verdict, detail, evidence) = match &c.status {
        Status::Planned { reason } => ("planned", format!("not run: {reason}"), None),
        Status::Active { scenario, expect } => match outcomes.get(scenario) {
            Some(Outcome::Ran { checks, evidence }) => {
                let failed: Vec<String> = expect
                    .iter()
                    .filter_map(|id| match checks.iter().find(|k| &k.id == id) {
                        Some(k) if k.passed => None,
                        Some(k) => Some(format!("{}: {}", k.id, k.detail)),
                        None => Some(format!("{id}: not decided")),
                    })
                    .collect();
                if failed.is_empty() {
                    let detail = format!("{scenario}: {} passed", expect.join(", "));
                    ("pass", detail, Some(evidence.clone()))
                } else {
                    ("fail", failed.join("; "), Some(evidence.clone()))
                }
            }
            Some(Outcome::Skipped(why)) => ("skipped", why.clone(), None),
            Some(Outcome::Errored(e)) => ("fail", format!("the run failed: {e}"), None),
            None => ("fail", format!("{scenario} was not run"), None),
        },
    };
    CaseResult {
        id: c.id.clone(),
        title: c.title.clone(),
        severity: match c.severity {
            Severity::Must => "must",
            Severity::Should => "should",
        }
        .to_string(),
        level: c.level.number(),
        verdict: verdict.to_string(),
        detail,
        sources: c.sources.iter().map(|s| s.to_string()).collect(),
        evidence,
    }
}

/// The first and last virtual instant over the scenarios run (RFC 3339 strings of the same
/// zone compare by time only roughly, so they are compared as timestamps).
fn period(reports: &[ScenarioReport]) -> certify::Period {
    let parse = |s: &str| {
        s.parse::<jiff::Timestamp>()
            .ok()
            .map(|t| (t, s.to_string()))
    };
    let from = reports
        .iter()
        .filter_map(|r| r.virtual_start.as_deref().and_then(parse))
        .min_by_key(|(t, _)| *t)
        .map(|(_, s)| s);
    let until = reports
        .iter()
        .filter_map(|r| r.virtual_end.as_deref().and_then(parse))
        .max_by_key(|(t, _)| *t)
        .map(|(_, s)| s);
    certify::Period { from, until }
}

/// Writes `certificate.json` (the payload), `certificate.jws` (signed), `public-key.pem`,
/// `certificate.html`, and a generated key as `signing-key.pem`.
fn write_certificate(
    out: &Path,
    cert: &Certificate,
    key: &SigningKey,
    generated: bool,
) -> Result<()> {
    let mut json = serde_json::to_string_pretty(cert)?;
    json.push('\n');
    let jws = key.sign_compact(json.as_bytes())?;
    std::fs::write(out.join("certificate.json"), &json)?;
    std::fs::write(out.join("certificate.jws"), format!("{jws}\n"))?;
    std::fs::write(out.join("public-key.pem"), key.public_pem())?;
    std::fs::write(out.join("certificate.html"), certify::html::render(cert))?;
    if generated {
        std::fs::write(out.join("signing-key.pem"), key.private_pem())?;
        eprintln!(
            "  a new signing key was generated: {} (keep it private; public key {})",
            out.join("signing-key.pem").display(),
            out.join("public-key.pem").display()
        );
    }
    Ok(())
}
