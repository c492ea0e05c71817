//! Certification (issue #16): the numbered conformance catalogue ([`catalogue`]), the
//! certificate a `certify` run issues ([`Certificate`]), its signature ([`sign`]), the digest
//! of a run's evidence ([`evidence`]) and the printable page ([`html`]).
//!
//! The commands are `crate::cmd::certify` (`certify`) and `crate::cmd::verify_cert`
//! (`verify-cert`); the format is docs/certification.md.

pub mod catalogue;
pub mod evidence;
pub mod html;
pub mod sign;

use serde::{Deserialize, Serialize};

/// The `format` of a certificate; changes when a field changes meaning or disappears.
pub const FORMAT: &str = "demail-testbed-certificate/1";

/// The git commit this binary was built from (`build.rs`), or "unknown".
pub const GIT_COMMIT: &str = env!("DEMAIL_TESTBED_GIT_COMMIT");

/// What a certificate states (`certificate.json`; signed as the payload of
/// `certificate.jws`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Certificate {
    pub format: String,
    pub catalogue: CatalogueRef,
    pub profile: ProfileRef,
    pub system: SystemRef,
    pub testbed: TestbedRef,
    /// Wall-clock instant of issue (RFC 3339, UTC).
    pub issued_at: String,
    /// First and last virtual instant of the scenarios run.
    pub virtual_period: Period,
    /// The seed of each scenario run (or skipped).
    pub seeds: Vec<Seed>,
    pub cases: Vec<CaseResult>,
    pub totals: Totals,
    /// "PASS" when every must-case passed, else "FAIL".
    pub verdict: String,
    /// SHA-256 of the signing key's public point (the JWS `kid`).
    pub key: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CatalogueRef {
    pub id: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileRef {
    pub id: String,
    pub title: String,
}

/// The system under test: a target file's `[system]`, or the embedded reference intake.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SystemRef {
    pub name: String,
    pub version: String,
    /// "embedded" or the target file as given.
    pub target: String,
    /// The level it offers (1–3).
    pub level: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestbedRef {
    pub version: String,
    pub commit: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Period {
    pub from: Option<String>,
    pub until: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Seed {
    pub scenario: String,
    pub seed: u64,
}

/// The verdict on one case.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub level: u8,
    /// "pass", "fail", "skipped" (the system's level or set-up; never passed) or "planned"
    /// (not run: the test-bed cannot test it yet).
    pub verdict: String,
    pub detail: String,
    pub sources: Vec<String>,
    /// The scenario run that decided it, with the digest of its evidence.
    pub evidence: Option<Evidence>,
}

/// The evidence of a case: the run folder (relative to the certificate's folder) and the
/// digest of its trace and messages ([`evidence::digest`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evidence {
    pub run: String,
    pub sha256: String,
    pub files: usize,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Totals {
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub planned: usize,
    pub must_passed: usize,
    pub must_total: usize,
}

impl Totals {
    /// Counts the verdicts of `cases`; planned cases are not in `must_total`.
    pub fn of(cases: &[CaseResult]) -> Self {
        let mut t = Self {
            cases: cases.len(),
            ..Self::default()
        };
        for c in cases {
            match c.verdict.as_str() {
                "pass" => t.passed += 1,
                "fail" => t.failed += 1,
                "skipped" => t.skipped += 1,
                _ => t.planned += 1,
            }
            if c.severity == "must" && c.verdict != "planned" {
                t.must_total += 1;
                if c.verdict == "pass" {
                    t.must_passed += 1;
                }
            }
        }
        t
    }

    /// Every must-case that was run or skipped passed.
    pub fn all_must_passed(&self) -> bool {
        self.must_passed == self.must_total
    }
}

/// The case list of docs/certification.md (between its markers), from a catalogue: one table
/// per profile, then every case with its sources and what decides it.
pub fn markdown_cases(cat: &catalogue::Catalogue) -> String {
    let mut out = format!(
        "Catalogue `{}` version {} — {}.\n\n",
        cat.header.id, cat.header.version, cat.header.title
    );
    for p in &cat.profiles {
        out.push_str(&format!("### Profile `{}`\n\n{}\n\n", p.id, p.title));
        out.push_str(
            "| case | title | severity | level | decided by |\n| --- | --- | --- | --- | --- |\n",
        );
        for c in p.cases.iter().filter_map(|id| cat.case(id)) {
            let decided = match &c.status {
                catalogue::Status::Active { scenario, expect } => format!(
                    "`{scenario}`: {}",
                    expect
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                catalogue::Status::Planned { .. } => "planned".to_string(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {decided} |\n",
                c.id,
                c.title,
                match c.severity {
                    catalogue::Severity::Must => "must",
                    catalogue::Severity::Should => "should",
                },
                c.level.number()
            ));
        }
        out.push('\n');
    }
    out.push_str("### Cases\n\n");
    for c in &cat.cases {
        out.push_str(&format!("**{}** {}. {}\n", c.id, c.title, c.expected));
        for s in &c.sources {
            out.push_str(&format!("- Source: {s}\n"));
        }
        if let catalogue::Status::Planned { reason } = &c.status {
            out.push_str(&format!("- Planned, not run: {reason}\n"));
        }
        out.push('\n');
    }
    out
}
