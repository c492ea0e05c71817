//! `certify` and `verify-cert` (issue #16): the reference intake, embedded and as a process
//! (`targets/reference.toml`), passes the kommune-basis profile and its certificate verifies;
//! one changed byte of the certificate or of the evidence makes it invalid; a level-1 system
//! gets the level-2/3 cases as skipped (never passed, exit 1). Only kommune-basis runs here,
//! to keep CI short.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_demail-testbed"));
    c.current_dir(workspace());
    c
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn temp(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("demail-certify-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn certify(target: &str, out: &Path) -> Output {
    bin()
        .args([
            "certify",
            "--profile",
            "kommune-basis",
            "--target",
            target,
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap()
}

fn verify(args: &[&Path]) -> Output {
    let mut c = bin();
    c.arg("verify-cert");
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn certificate(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("certificate.json")).unwrap()).unwrap()
}

#[test]
fn the_embedded_reference_intake_is_certified_and_tampering_is_found() {
    let out = temp("embedded");
    let o = certify("embedded", &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cert = certificate(&out);
    assert_eq!(cert["verdict"], "PASS");
    assert_eq!(cert["system"]["name"], "embedded reference intake");
    assert_eq!(cert["totals"]["failed"], 0);
    // Every case of kommune-basis runs now (DM-FORM-004 and the DM-SEAL cases were planned
    // until the test-bed could make plain e-mail and broken or foreign seals).
    assert_eq!(cert["totals"]["planned"], 0);
    assert_eq!(
        cert["totals"]["passed"],
        cert["cases"].as_array().unwrap().len()
    );
    for f in [
        "certificate.jws",
        "certificate.html",
        "public-key.pem",
        "report.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let jws = out.join("certificate.jws");
    let key = out.join("public-key.pem");
    let o = verify(&[&jws, Path::new("--key"), &key, Path::new("--run"), &out]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("case digest(s) match"), "{}", text(&o));

    // One byte of the signed certificate changed: invalid.
    let original = std::fs::read(&jws).unwrap();
    let mut bad = original.clone();
    let i = original.len() / 2;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(&jws, &bad).unwrap();
    let o = verify(&[&jws, Path::new("--key"), &key]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("INVALID"), "{}", text(&o));
    std::fs::write(&jws, &original).unwrap();

    // The readable JSON changed by one byte no longer equals the signed payload.
    let json = out.join("certificate.json");
    let j = std::fs::read_to_string(&json).unwrap();
    std::fs::write(&json, j.replacen("\"PASS\"", "\"PASs\"", 1)).unwrap();
    let o = verify(&[&json]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    std::fs::write(&json, j).unwrap();

    // A changed evidence file fails with --run, naming the case.
    let run = cert["cases"][0]["evidence"]["run"].as_str().unwrap();
    let eml = out.join(run).join("messages/000001.eml");
    let mut m = std::fs::read(&eml).unwrap();
    m.push(b' ');
    std::fs::write(&eml, m).unwrap();
    let o = verify(&[&jws, Path::new("--run"), &out]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("DM-RCPT-001: the evidence"),
        "{}",
        text(&o)
    );

    // A wrong key is not the signer's.
    let other = temp("other-key");
    let o2 = certify("embedded", &other);
    assert_eq!(o2.status.code(), Some(0), "{}", text(&o2));
    let o = verify(&[&jws, Path::new("--key"), &other.join("public-key.pem")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(verify(&[]).status.code(), Some(2));
}

#[test]
fn the_reference_intake_as_a_process_is_certified_with_a_given_key() {
    let out = temp("process");
    let keys = temp("keys");
    let o = certify("embedded", &keys);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = bin()
        .args([
            "certify",
            "--profile",
            "kommune-basis",
            "--target",
            "targets/reference.toml",
            "--key",
        ])
        .arg(keys.join("signing-key.pem"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !out.join("signing-key.pem").exists(),
        "a given key is not written"
    );
    let cert = certificate(&out);
    assert_eq!(cert["system"]["name"], "demail-testbed reference intake");
    let o = verify(&[
        &out.join("certificate.jws"),
        Path::new("--key"),
        &keys.join("public-key.pem"),
        Path::new("--run"),
        &out,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_level_one_system_gets_the_higher_cases_skipped_not_passed() {
    let dir = temp("level1");
    let source = std::fs::read_to_string(workspace().join("targets/reference.toml")).unwrap();
    let level1 = source.replace("level = 3", "level = 1").replace(
        "url = \"http://127.0.0.1:0/testbed/clock\"\nidle = \"answer\"",
        "idle = \"quiet\"\nquiet_ms = 200\nsettle_limit_s = 5",
    );
    assert_ne!(level1, source);
    let target = dir.join("level1.toml");
    std::fs::write(&target, level1).unwrap();
    let out = dir.join("out");
    let o = certify(target.to_str().unwrap(), &out);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let cert = certificate(&out);
    assert_eq!(cert["verdict"], "FAIL");
    for c in cert["cases"].as_array().unwrap() {
        match (c["verdict"].as_str().unwrap(), c["level"].as_u64().unwrap()) {
            ("planned", _) => {}
            // The level-1 case is run and passes: the reference intake without a test clock
            // dates pushes by the provider's Received stamp and the provider's own messages by
            // their sealed Date.
            (v, 1) => assert_eq!(v, "pass", "{c}"),
            (v, _) => {
                assert_eq!(v, "skipped", "{c}");
                let detail = c["detail"].as_str().unwrap();
                assert!(detail.contains("offers level 1"), "{c}");
            }
        }
    }
    assert!(cert["totals"]["skipped"].as_u64().unwrap() >= 5);
}
