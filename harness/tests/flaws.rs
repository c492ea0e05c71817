//! The catalogue bites (issue #16): each flawed variant of the reference intake
//! (`--flaw NAME`, docs/certification.md "Flawed intakes") fails exactly the catalogue cases
//! that test the rule it breaks, named by id, and the reference intake passes every active
//! case. The embedded intake runs the whole catalogue (`--profile all`) once per flaw; one
//! flaw also runs as its own process through a target file (`intake --flaw`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use crate::bin_common;

use bin_common::{bin, temp, workspace};

/// Flaw → the cases it must fail, no more and no fewer.
const TABLE: &[(&str, &[&str])] = &[
    ("accepts-unconfirmed", &["DM-FORM-002"]),
    ("accepts-broken-seal", &["DM-SEAL-001"]),
    ("trusts-foreign-seal", &["DM-SEAL-002"]),
    ("fiction-third-day", &["DM-ZUST-003", "DM-ZUST-007"]),
    ("no-access-check", &["DM-ZUST-004", "DM-ZUST-007"]),
    ("ignores-meldungen", &["DM-MELD-001", "DM-ZUST-007"]),
    (
        "late-empfangsbescheinigung",
        // Every case that waits for an Empfangsbescheinigung of a binding case.
        &["DM-EMPF-001", "DM-CLASS-002", "DM-GEWO-001", "DM-GEWO-002"],
    ),
    ("bescheid-not-persoenlich", &["DM-ZUST-006"]),
    ("one-month-without-belehrung", &["DM-ZUST-008"]),
];

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The certificate's cases with the verdict `verdict`.
fn cases_with(out: &Path, verdict: &str) -> BTreeSet<String> {
    let cert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("certificate.json")).unwrap())
            .unwrap();
    cert["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == verdict)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn certify_embedded(profile: &str, flaw: Option<&str>, out: &Path) -> Output {
    let mut c = bin();
    c.args(["certify", "--profile", profile, "--out"]).arg(out);
    if let Some(f) = flaw {
        c.args(["--flaw", f]);
    }
    c.output().unwrap()
}

#[test]
fn each_flaw_fails_exactly_its_cases_and_the_reference_passes_them_all() {
    let out = temp("reference");
    let o = certify_embedded("all", None, &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(cases_with(&out, "fail").is_empty(), "{}", text(&o));
    let passed = cases_with(&out, "pass");
    let _ = std::fs::remove_dir_all(&out);

    let mut wrong = Vec::new();
    for (flaw, expected) in TABLE {
        let out = temp(flaw);
        let o = certify_embedded("all", Some(flaw), &out);
        assert_eq!(o.status.code(), Some(1), "{flaw}: {}", text(&o));
        let failed = cases_with(&out, "fail");
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        // A case the table names must be one the reference passes, or the table proves
        // nothing about it.
        assert!(
            expected.is_subset(&passed),
            "{flaw}: {expected:?} not all passed by the reference"
        );
        if failed != expected {
            wrong.push(format!(
                "{flaw}: failed {failed:?}, expected {expected:?}\n{}",
                text(&o)
            ));
        }
        let cert: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("certificate.json")).unwrap())
                .unwrap();
        let system = cert["system"]["name"].as_str().unwrap();
        assert!(
            system.contains("FLAWED ON PURPOSE") && system.contains(flaw),
            "{flaw}: the certificate must name the flaw: {system}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn every_flaw_is_in_the_table_and_an_unknown_one_is_a_usage_error() {
    let o = bin().args(["intake", "--help"]).output().unwrap();
    let help = text(&o);
    for (flaw, _) in TABLE {
        assert!(help.contains(flaw), "intake --help lacks {flaw}:\n{help}");
    }
    let o = bin()
        .args([
            "certify",
            "--profile",
            "all",
            "--flaw",
            "accepts-everything",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("accepts-unconfirmed"), "{}", text(&o));
}

#[test]
fn a_flawed_intake_process_fails_its_case_through_a_target_file() {
    let dir = temp("process");
    let source = std::fs::read_to_string(workspace().join("targets/reference.toml")).unwrap();
    let flawed = source
        .replace(
            "name = \"demail-testbed reference intake\"",
            "name = \"reference intake, flawed: accepts-broken-seal\"",
        )
        .replace(
            "  \"--data\", \"{run}/sut\",\n]",
            "  \"--data\", \"{run}/sut\",\n  \"--flaw\", \"accepts-broken-seal\",\n]",
        );
    assert_ne!(flawed, source, "targets/reference.toml changed its shape");
    let target = dir.join("flawed.toml");
    std::fs::write(&target, flawed).unwrap();
    let out = dir.join("out");
    let o = bin()
        .args(["certify", "--profile", "kommune-basis", "--target"])
        .arg(&target)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        cases_with(&out, "fail"),
        BTreeSet::from(["DM-SEAL-001".to_string()]),
        "{}",
        text(&o)
    );
    // --flaw is for the embedded intake; a target's process is flawed by its start command.
    let o = bin()
        .args(["certify", "--profile", "kommune-basis", "--target"])
        .arg(&target)
        .args(["--flaw", "no-access-check", "--out"])
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
