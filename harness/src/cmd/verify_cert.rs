//! `demail-testbed verify-cert CERT [--key PUB] [--run DIR]`: checks a certificate offline.
//!
//! CERT is `certificate.jws`, or `certificate.json` with its `certificate.jws` beside it (the
//! JSON must then be exactly the signed payload). Checks: the ES256 signature (against
//! `--key`, else the key in the JWS header, which proves integrity but not who signed), the
//! catalogue's SHA-256 against the catalogue embedded in this binary (a difference names both
//! versions and the cases added or removed), and with `--run` each case's evidence digest
//! recomputed from the run folder. Exit 0 valid, 1 invalid, 2 usage or unreadable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::certify::catalogue::{self, sha256_hex};
use crate::certify::{Certificate, evidence, sign};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// certificate.jws, or certificate.json with certificate.jws beside it.
    pub cert: PathBuf,
    /// The signer's public key (SubjectPublicKeyInfo PEM), e.g. <out>/public-key.pem.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The certify output folder: recompute every case's evidence digest from its run folder.
    #[arg(long)]
    pub run: Option<PathBuf>,
}

/// Entry point of `verify-cert`.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let (jws, json) = match read_cert(&args.cert) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let key = match &args.key {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(anyhow::Error::from)
            .and_then(|t| sign::public_point_from_pem(&t))
        {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("error: {}: {e:#}", p.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let problems = verify(&jws, json.as_deref(), key.as_deref(), args.run.as_deref());
    if problems.is_empty() {
        println!("VALID {}", args.cert.display());
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            println!("INVALID: {p}");
        }
        ExitCode::from(1)
    }
}

/// The JWS text and, when CERT is the JSON, its bytes.
fn read_cert(path: &Path) -> Result<(String, Option<Vec<u8>>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.first() == Some(&b'{') {
        let jws_path = path.with_extension("jws");
        let jws = std::fs::read_to_string(&jws_path).map_err(|e| {
            format!(
                "{}: {e} (a certificate.json is checked against the certificate.jws beside it)",
                jws_path.display()
            )
        })?;
        Ok((jws, Some(bytes)))
    } else {
        let jws = String::from_utf8(bytes).map_err(|_| format!("{}: not text", path.display()))?;
        Ok((jws, None))
    }
}

/// Every reason the certificate is invalid (empty: valid); what holds is printed.
fn verify(jws: &str, json: Option<&[u8]>, key: Option<&[u8]>, run: Option<&Path>) -> Vec<String> {
    let mut problems = Vec::new();
    let verified = match sign::verify_compact(jws, key) {
        Ok(v) => v,
        Err(e) => return vec![format!("signature: {e:#}")],
    };
    println!(
        "signature: ES256 valid, key {}{}",
        sign::fingerprint(&verified.point),
        if key.is_some() {
            " (the key given with --key)"
        } else {
            " (the key in the certificate itself: proves it is unchanged, not who signed; pass --key)"
        }
    );
    if json.is_some_and(|j| j != verified.payload.as_slice()) {
        problems.push("certificate.json differs from the payload signed in certificate.jws".into());
    }
    let cert: Certificate = match serde_json::from_slice(&verified.payload) {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("the signed payload is not a certificate: {e}"));
            return problems;
        }
    };
    if cert.key != sign::fingerprint(&verified.point) {
        problems.push("the certificate names another key than the one that signed it".into());
    }
    if let Some(p) = catalogue_difference(&cert) {
        problems.push(p);
    } else {
        println!(
            "catalogue: {} {} (SHA-256 {}) is the one in this binary",
            cert.catalogue.id, cert.catalogue.version, cert.catalogue.sha256
        );
    }
    if let Some(dir) = run {
        problems.extend(evidence_problems(&cert, dir));
    }
    println!(
        "{}: {} {} · profile {} · {} of {} must-cases passed",
        cert.verdict,
        cert.system.name,
        cert.system.version,
        cert.profile.id,
        cert.totals.must_passed,
        cert.totals.must_total
    );
    problems
}

/// How the certificate's catalogue differs from the embedded one, if it does.
fn catalogue_difference(cert: &Certificate) -> Option<String> {
    let embedded = sha256_hex(catalogue::EMBEDDED.as_bytes());
    if cert.catalogue.sha256 == embedded {
        return None;
    }
    let Some((header, ids)) = catalogue::header_and_ids(catalogue::EMBEDDED) else {
        return Some("the embedded catalogue does not parse".into());
    };
    let mut text = format!(
        "catalogue: the certificate was made with {} {} (SHA-256 {}), this binary embeds {} {} (SHA-256 {embedded})",
        cert.catalogue.id, cert.catalogue.version, cert.catalogue.sha256, header.id, header.version
    );
    if cert.catalogue.version == header.version {
        text.push_str(
            "; same version but other content: the catalogue was changed without a new version",
        );
    }
    let unknown: Vec<&str> = cert
        .cases
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| !ids.iter().any(|x| x == id))
        .collect();
    if !unknown.is_empty() {
        text.push_str(&format!(
            "; cases not in the embedded catalogue: {}",
            unknown.join(", ")
        ));
    }
    Some(text)
}

/// Cases whose evidence digest differs from the run folder under `dir`.
fn evidence_problems(cert: &Certificate, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut checked = 0usize;
    for c in &cert.cases {
        let Some(e) = &c.evidence else { continue };
        if e.run.contains("..") {
            problems.push(format!(
                "{}: evidence path {:?} leaves the run folder",
                c.id, e.run
            ));
            continue;
        }
        match evidence::digest(&dir.join(&e.run)) {
            Ok((sha, _)) if sha == e.sha256 => checked += 1,
            Ok((sha, _)) => problems.push(format!(
                "{}: the evidence in {} has SHA-256 {sha}, the certificate states {}",
                c.id,
                dir.join(&e.run).display(),
                e.sha256
            )),
            Err(err) => problems.push(format!("{}: evidence: {err:#}", c.id)),
        }
    }
    if problems.is_empty() {
        println!("evidence: {checked} case digest(s) match the run folder");
    }
    problems
}
