//! `run --target`: the reference intake as an external process passes every shipped scenario
//! with the embedded run's checks and golden files; a system of a lower level than a scenario
//! needs gets the scenario reported as skipped (JUnit `<skipped>`), never as passed; a system
//! that does not start is an error that shows its log.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::bin_common;

/// The shipped scenario most tests here run.
const GEWERBE: &str = "scenarios/gewerbe/anzeige-absenderbestaetigt.toml";

use bin_common::{bin, stderr, workspace};

fn temp(label: &str) -> PathBuf {
    bin_common::temp(&format!("target-{label}"))
}

/// Every shipped scenario against `targets/reference.toml`: exit 0, every scenario PASS with
/// golden "same", and each run really went through a separate process (its log and ready
/// file are in the run folder).
#[test]
fn the_reference_intake_as_a_process_passes_every_shipped_scenario() {
    let out = temp("reference");
    let o = bin()
        .args(["run", "--target", "targets/reference.toml", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let shipped = count_scenarios(&workspace().join("scenarios"));
    assert!(shipped >= 20, "{shipped} scenarios found");
    assert_eq!(
        err.matches("  PASS ").count(),
        shipped,
        "every scenario passes: {err}"
    );
    assert_eq!(err.matches("golden same").count(), shipped, "{err}");
    let one = out.join("gewerbe/anzeige-absenderbestaetigt");
    let log = std::fs::read_to_string(one.join("sut.log")).unwrap();
    assert!(log.contains("reference intake: SMTP"), "{log}");
    assert!(
        log.contains("SIGTERM, stopping"),
        "stopped by SIGTERM: {log}"
    );
    let ready: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("sut-ready.json")).unwrap())
            .unwrap();
    assert!(
        ready["push"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:"))
    );
}

fn count_scenarios(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += count_scenarios(&p);
        } else if p.extension().is_some_and(|x| x == "toml")
            && p.file_name().is_some_and(|f| f != "catalogue.toml")
        {
            n += 1;
        }
    }
    n
}

/// `targets/reference.toml` with `edits` (pairs of text and replacement) written to
/// `dir/name`.
fn reference_variant(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(workspace().join("targets/reference.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is in targets/reference.toml");
        text = text.replace(from, to);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `run ARGS --target TARGET --out DIR/runs`.
fn run_against(target: &Path, args: &[&Path], dir: &Path) -> Output {
    bin()
        .arg("run")
        .args(args)
        .arg("--target")
        .arg(target)
        .arg("--out")
        .arg(dir.join("runs"))
        .output()
        .unwrap()
}

/// The reference target rewritten as level 1 (no clock, no events).
fn level_one_target(dir: &Path) -> PathBuf {
    reference_variant(
        dir,
        "level1.toml",
        &[
            ("level = 3", "level = 1"),
            (
                "url = \"http://127.0.0.1:0/testbed/clock\"\nidle = \"answer\"",
                "idle = \"quiet\"\nquiet_ms = 200",
            ),
        ],
    )
}

/// A level-3 scenario against a level-1 system is skipped with the reason, in the console and
/// in junit.xml and report.json; the run exits 0 and counts it as skipped, not passed.
#[test]
fn a_scenario_above_the_systems_level_is_skipped_not_passed() {
    let dir = temp("skip");
    let target = level_one_target(&dir);
    let o = run_against(
        &target,
        &[Path::new("scenarios/intake/wbs-abholung.toml")],
        &dir,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("SKIPPED: needs level 3 (observation)") && err.contains("offers level 1"),
        "{err}"
    );
    assert!(err.contains("0 passed, 0 failed, 1 skipped"), "{err}");
    let junit = std::fs::read_to_string(dir.join("runs/junit.xml")).unwrap();
    assert!(
        junit.contains("<skipped message=\"needs level 3 (observation); the system under test"),
        "{junit}"
    );
    assert!(junit.contains("skipped=\"1\""), "{junit}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["totals"]["passed"], 0);
    assert_eq!(report["totals"]["skipped"], 1);
    assert_eq!(report["scenarios"][0]["verdict"], "SKIPPED");
    assert_eq!(report["scenarios"][0]["passed"], false);
}

/// A system that is not started with the scenario file cannot run a scenario that configures
/// the reference intake; one whose Funktionspostfächer do not include the scenario's is
/// skipped too. Both name the reason.
#[test]
fn scenarios_a_vendor_system_cannot_take_are_skipped_with_the_reason() {
    let dir = temp("vendor");
    let target = reference_variant(
        &dir,
        "vendor.toml",
        &[
            ("scenario_config = true", "scenario_config = false"),
            (
                "\n[accounts]\n",
                "\n[accounts]\nmailboxes = [\"poststelle@dresden.de-mail.de\"]\n",
            ),
            ("\n[receive]\n", "\n[receive]\nmode = \"push\"\n"),
        ],
    );
    // The shipped scenario without its settings for the reference intake.
    let shipped = std::fs::read_to_string(workspace().join(GEWERBE)).unwrap();
    let plain: String = shipped
        .lines()
        .filter(|l| !l.starts_with("processing_time") && !l.starts_with("aktenzeichen_prefix"))
        .map(|l| format!("{l}\n"))
        .collect();
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(scenarios.join("plain.toml"), plain).unwrap();
    let o = run_against(
        &target,
        &[Path::new(GEWERBE), &scenarios.join("plain.toml")],
        &dir,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("configures the reference intake ([intake] processing_time"),
        "{err}"
    );
    assert!(
        err.contains(
            "which the target file does not list (mailboxes: poststelle@dresden.de-mail.de)"
        ),
        "{err}"
    );
}

/// A start command that fails is an error (exit 2) that shows the system's own output.
#[test]
fn a_system_that_does_not_start_is_an_error_with_its_log() {
    let dir = temp("broken");
    let target = reference_variant(
        &dir,
        "broken.toml",
        &[(
            "\"--scenario\", \"{scenario}\",",
            "\"--scenario\", \"/nonexistent.toml\",",
        )],
    );
    let o = run_against(&target, &[Path::new(GEWERBE)], &dir);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("exited"), "{err}");
    assert!(
        err.contains("nonexistent.toml"),
        "the log's last lines: {err}"
    );
}

/// A target file with a mistake is refused before anything starts, located.
#[test]
fn a_broken_target_file_is_a_located_error() {
    let dir = temp("typo");
    let target = reference_variant(&dir, "typo.toml", &[("level = 3", "levle = 3")]);
    let o = bin()
        .args(["run", "--target"])
        .arg(&target)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("typo.toml:") && err.contains("levle"), "{err}");
}

/// Whether Python's aiosmtpd is there; in CI (`CI` set) its absence fails the test.
fn have_aiosmtpd() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with aiosmtpd is needed: python3 -m pip install aiosmtpd (.ci/run does)"
        );
        eprintln!("SKIPPED: python3 with aiosmtpd is missing (python3 -m pip install aiosmtpd)");
    }
    ok
}

/// An intake written in Python outside the test-bed's code, from docs/sut.md alone
/// (examples/python-intake), passes the example scenario: pushes over STARTTLS with the
/// listener certificate the test-bed wrote into the PKI, its reply over SMTP submission. The
/// shipped golden files are not compared against it.
#[test]
fn a_python_intake_connected_by_the_contract_passes() {
    if !have_aiosmtpd() {
        return;
    }
    let out = temp("python");
    let o = bin()
        .args([
            "run",
            "--target",
            "examples/python-intake/target.toml",
            "examples/python-intake/scenarios",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("pass empfangsbescheinigung: reply \"Empfangsbescheinigung: Gewerbeanmeldung"),
        "{err}"
    );
    assert!(err.contains("golden skipped"), "{err}");
    let run = out.join("anzeige");
    let log = std::fs::read_to_string(run.join("sut.log")).unwrap();
    assert!(log.contains("python intake: SMTP"), "{log}");
    // The pushed message it stored carries the provider's Received stamp on top.
    let stored = std::fs::read_to_string(run.join("python-intake/000001.eml")).unwrap();
    let first_received = stored
        .lines()
        .find(|l| l.starts_with("Received:"))
        .unwrap_or_default();
    assert!(
        first_received.contains("by smtp.dmda-a.de-mail.de"),
        "{first_received}"
    );
}

/// `run --pki DIR`: the providers and the system under test use the persistent CA (made once,
/// the same bytes after a second run), and the test-bed writes the listener certificate the
/// target names into it.
#[test]
fn a_persistent_pki_is_reused_across_runs() {
    let dir = temp("pki");
    let pki = dir.join("pki");
    let run = || {
        let o = bin()
            .args([
                "run",
                "scenarios/gewerbe/anzeige-absenderbestaetigt.toml",
                "--target",
                "targets/reference.toml",
                "--pki",
            ])
            .arg(&pki)
            .arg("--out")
            .arg(dir.join("runs"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    };
    run();
    let ca = std::fs::read(pki.join("ca.pem")).unwrap();
    assert!(pki.join("localhost.pem").exists());
    assert!(pki.join("localhost-key.pem").exists());
    run();
    assert_eq!(
        std::fs::read(pki.join("ca.pem")).unwrap(),
        ca,
        "the CA is kept"
    );
    // The run folder has no CA of its own: the system used the persistent one.
    assert!(
        !dir.join("runs/gewerbe/anzeige-absenderbestaetigt/pki/ca-key.pem")
            .exists()
    );
}

/// `tls = "plain"` in a target file pushes without STARTTLS to a loopback listener, with a
/// warning on stderr (no colour codes when stderr is not a terminal); the run still passes.
#[test]
fn a_plain_push_target_works_on_loopback_with_a_warning() {
    let dir = temp("plain");
    let target = reference_variant(
        &dir,
        "plain.toml",
        &[("tls = \"starttls\"", "tls = \"plain\"")],
    );
    let o = run_against(&target, &[Path::new(GEWERBE)], &dir);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("gewerbeangelegenheiten@dresden.de-mail.de to 127.0.0.1:")
            && err.contains("are UNENCRYPTED"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no ANSI colour codes in a pipe: {err}"
    );
}

/// Four free loopback ports (bound and released; another process could take one in between,
/// which this test accepts).
fn free_ports() -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A system that is already running (no `[start]`): the target names fixed addresses, the
/// test-bed waits until they accept connections and drives the scenario against it; the system
/// keeps running afterwards.
#[test]
fn an_already_running_system_is_driven_without_a_start_command() {
    let dir = temp("running");
    let p = free_ports();
    let target = dir.join("running.toml");
    std::fs::write(
        &target,
        format!(
            r#"[system]
name = "reference intake, started by hand"
level = 3
scenario_config = true
[accounts]
password = "reference-intake-password"
[provider]
submission = "127.0.0.1:{}"
http = "127.0.0.1:{}"
[receive]
push = "127.0.0.1:{}"
[clock]
url = "http://127.0.0.1:{}/testbed/clock"
[observe]
events = "http://127.0.0.1:{}/testbed/events"
"#,
            p[0], p[1], p[2], p[3], p[3]
        ),
    )
    .unwrap();
    let scenario = GEWERBE;
    // The PKI first (`pki init`), as an integrator does, so that the two processes load it.
    let pki = dir.join("pki");
    let init = bin().args(["pki", "init"]).arg(&pki).output().unwrap();
    assert!(init.status.success());
    let mut intake = bin()
        .args(["intake", "--target"])
        .arg(&target)
        .args(["--scenario", scenario, "--pki"])
        .arg(&pki)
        .arg("--data")
        .arg(dir.join("intake"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let o = bin()
        .args(["run", scenario, "--target"])
        .arg(&target)
        .arg("--pki")
        .arg(&pki)
        .arg("--out")
        .arg(dir.join("runs"))
        .output()
        .unwrap();
    let still_running = intake.try_wait().unwrap().is_none();
    let _ = intake.kill();
    let _ = intake.wait();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("golden same"), "{err}");
    assert!(
        still_running,
        "the test-bed does not stop a system it did not start"
    );
}
