//! The `demail-testbed` binary as a user meets it: exit codes (0 passed, 1 check or golden
//! failure, 2 input error), located errors for broken scenario files, a readable diff for a
//! changed golden file, and the calendar commands' JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::bin_common;

use bin_common::{bin, stderr, workspace};

fn temp(label: &str) -> PathBuf {
    bin_common::temp(&format!("cli-{label}"))
}

/// Runs a scenario that must fail, with golden files blessed into and the run folder under
/// `tmp` (a fixture has no golden files of its own).
fn run_fixture(tmp: &Path, scenario: &str) -> Output {
    bin()
        .args(["run", scenario, "--bless", "--golden"])
        .arg(tmp.join("golden"))
        .arg("--out")
        .arg(tmp.join("runs"))
        .output()
        .unwrap()
}

/// A scenario with a misspelt key exits 2 and names file, line and column.
#[test]
fn broken_scenario_exits_2_with_location() {
    let dir = temp("broken").join("scenarios").join("x");
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(
        workspace().join("scenarios/gewerbe/anzeige-absenderbestaetigt.toml"),
    )
    .unwrap();
    let path = dir.join("typo.toml");
    std::fs::write(&path, good.replacen("processing_time", "procesing_time", 1)).unwrap();
    for args in [vec!["check"], vec!["run"]] {
        let o = bin().args(&args).arg(&path).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        let line = good
            .lines()
            .position(|l| l.starts_with("processing_time"))
            .unwrap()
            + 1;
        assert!(
            all.contains(&format!(
                "typo.toml:{line}:1: unknown field `procesing_time`"
            )),
            "{all}"
        );
    }
}

/// A golden file changed by one line makes `run` exit 1 and print a diff naming the line;
/// `--bless` then writes it back and the next run passes.
#[test]
fn changed_golden_fails_with_a_diff_and_bless_repairs_it() {
    let tmp = temp("golden");
    let golden = tmp.join("golden");
    let src = workspace().join("golden/gewerbe");
    std::fs::create_dir_all(golden.join("gewerbe")).unwrap();
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "snap") {
            std::fs::copy(&f, golden.join("gewerbe").join(f.file_name().unwrap())).unwrap();
        }
    }
    let summary = golden.join("gewerbe/anzeige-absenderbestaetigt.summary.snap");
    let text = std::fs::read_to_string(&summary).unwrap();
    // Change the event count by one, whatever it is.
    let line = text
        .lines()
        .find(|l| l.starts_with("events "))
        .expect("summary has an events line")
        .to_string();
    let n: u32 = line["events".len()..].trim().parse().unwrap();
    let changed = line.replace(&n.to_string(), &(n + 1).to_string());
    std::fs::write(&summary, text.replace(&line, &changed)).unwrap();
    let scenario = "scenarios/gewerbe/anzeige-absenderbestaetigt.toml";
    let run = |extra: &[&str]| {
        bin()
            .args(["run", scenario, "--golden"])
            .arg(&golden)
            .arg("--out")
            .arg(tmp.join("runs"))
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("-{changed}")) && err.contains(&format!("+{line}")),
        "{err}"
    );
    assert!(err.contains("reproduce with: demail-testbed run"), "{err}");
    // The new output goes into the run folder, never beside the golden file.
    let run_dir = tmp.join("runs/gewerbe/anzeige-absenderbestaetigt");
    assert!(run_dir.join("summary.snap.new").exists());
    assert!(!summary.with_extension("snap.new").exists());
    let o = run(&["--bless"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `holidays --json` gives {date, name, source} rows; Sachsen 2025 has Buß- und Bettag on
/// 19.11.2025 (Wednesday before 23 November, § 1 SächsSFG).
#[test]
fn holidays_json() {
    let o = bin()
        .args(["holidays", "--land", "SN", "--year", "2025", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["date"] == "2025-11-19" && r["name"] == "Buß- und Bettag")
    );
    assert!(
        rows.iter()
            .all(|r| r["source"].as_str().is_some_and(|s| !s.is_empty()))
    );
}

/// `deadline --json` explains itself; an unknown Land and a rule outside its period exit 2.
#[test]
fn deadline_json_and_errors() {
    let o = bin()
        .args([
            "deadline",
            "--land",
            "SN",
            "--rule",
            "widerspruch",
            "--from",
            "2025-11-02",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["end"], "2025-12-02");
    assert!(v["steps"].as_array().unwrap().len() >= 3);
    let o = bin()
        .args([
            "deadline",
            "--land",
            "XX",
            "--period",
            "1M",
            "--from",
            "2025-01-31",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SN"), "{}", stderr(&o));
    let o = bin()
        .args([
            "deadline",
            "--land",
            "SN",
            "--rule",
            "zustellung-abholung",
            "--from",
            "2027-01-04",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not in force on 2027-01-04"),
        "{}",
        stderr(&o)
    );
}

/// `inspect` says valid (exit 0) for a message as the provider pushed it, names the body-hash
/// failure (exit 1) when one byte of the body changes, and exits 2 for an unreadable file.
#[test]
fn inspect_exit_codes() {
    let tmp = temp("inspect");
    let o = bin()
        .args([
            "run",
            "scenarios/gewerbe/anzeige-absenderbestaetigt.toml",
            "--out",
        ])
        .arg(tmp.join("runs"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = tmp.join("runs/gewerbe/anzeige-absenderbestaetigt");
    let pushed = run.join("messages/000002.eml");
    let ca = run.join("pki/ca.pem");
    let o = bin()
        .arg("inspect")
        .arg(&pushed)
        .arg("--ca")
        .arg(&ca)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("certificate issued by a trusted CA"), "{out}");
    let mut bytes = std::fs::read(&pushed).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    let changed = tmp.join("changed.eml");
    std::fs::write(&changed, &bytes).unwrap();
    let o = bin()
        .arg("inspect")
        .arg(&changed)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["integrity"].as_str().unwrap().contains("body hash"),
        "{v}"
    );
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert_eq!(v["side"], "provider", "{v}");
    assert_eq!(v["file"], changed.display().to_string(), "{v}");
    let empty = tmp.join("empty.eml");
    std::fs::write(&empty, b"").unwrap();
    let o = bin().arg("inspect").arg(&empty).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = bin()
        .arg("inspect")
        .arg(tmp.join("missing.eml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `inspect --json` names the file and the verdict; a confirmation's Acknowledge-Message is
/// shown as its fields (the XML only with `--raw-xml`); a citizen's submission is judged by
/// the client's rules of PVD-IO Tabelle 1: valid (exit 0) without the provider's metadata,
/// invalid (exit 1) when it sets a field only the provider writes.
#[test]
fn inspect_json_confirmations_and_client_submissions() {
    let tmp = temp("inspect-client");
    let o = bin()
        .args([
            "run",
            "scenarios/gewerbe/anzeige-absenderbestaetigt.toml",
            "--out",
        ])
        .arg(tmp.join("runs"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = tmp.join("runs/gewerbe/anzeige-absenderbestaetigt");
    let pushed = run.join("messages/000002.eml");
    let ca = run.join("pki/ca.pem");
    let o = bin()
        .arg("inspect")
        .arg(&pushed)
        .arg("--ca")
        .arg(&ca)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["file"], pushed.display().to_string(), "{v}");
    assert_eq!(v["side"], "provider", "{v}");
    // The Eingangsbestätigung: fields by default, the XML on request.
    let confirmation = run.join("messages/000003.eml");
    let text = |extra: &[&str]| {
        let o = bin()
            .arg("inspect")
            .arg(&confirmation)
            .arg("--ca")
            .arg(&ca)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let folded = text(&[]);
    assert!(
        folded.contains("message type      confirmation of receipt"),
        "{folded}"
    );
    assert!(
        folded.contains("Acknowledge-Message (PVD-IO Tabelle 23"),
        "{folded}"
    );
    assert!(
        folded.contains("  subject         Eingangsbestätigung: Gewerbeanmeldung"),
        "{folded}"
    );
    assert!(
        folded.contains("  metadate        x-de-mail-message-id: m000001@dmda-a.de-mail.de"),
        "{folded}"
    );
    assert!(!folded.contains("<?xml"), "{folded}");
    let raw = text(&["--raw-xml"]);
    assert!(
        raw.contains("<Acknowledge-Message xmlns=\"urn:de-mail\">"),
        "{raw}"
    );
    let json = text(&["--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["acknowledge_xml"].is_null(), "{v}");
    assert_eq!(v["acknowledge"]["time"], "2025-03-03T09:00:00+01:00", "{v}");
    let v: serde_json::Value = serde_json::from_str(&text(&["--json", "--raw-xml"])).unwrap();
    assert!(
        v["acknowledge_xml"]
            .as_str()
            .unwrap()
            .contains("<Acknowledge-Message"),
        "{v}"
    );
    // A citizen's submission as a mail client writes it.
    let submission = "From: Erika Mustermann <erika.mustermann@dmda-a.de-mail.de>\r\n\
                      To: gewerbeangelegenheiten@dresden.de-mail.de\r\n\
                      Subject: Gewerbeanmeldung\r\n\
                      Date: Mon, 3 Mar 2025 09:00:00 +0100\r\n\
                      X-de-mail-confirmation-of-receipt: yes\r\n\
                      X-de-mail-private-id: GA-4712\r\n\r\nAnzeige nach § 14 GewO\r\n";
    let client = tmp.join("submission.eml");
    std::fs::write(&client, submission).unwrap();
    let o = bin().arg("inspect").arg(&client).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("side              client submission"), "{out}");
    assert!(
        out.contains("options           confirmation-of-receipt"),
        "{out}"
    );
    assert!(
        out.contains("note              Date: written anew by the provider"),
        "{out}"
    );
    assert!(out.contains("verdict           valid"), "{out}");
    let smuggled = tmp.join("smuggled.eml");
    std::fs::write(
        &smuggled,
        submission.replace("Subject:", "X-de-mail-auth-level: high\r\nSubject:"),
    )
    .unwrap();
    let o = bin()
        .arg("inspect")
        .arg(&smuggled)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["side"], "client", "{v}");
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert!(
        v["violations"][0].as_str().unwrap().starts_with(
            "X-de-mail-auth-level is the provider's metadata (PVD-IO Tabelle 1 Nr. 11)"
        ),
        "{v}"
    );
}

/// A scenario whose intake answers too late fails its deadline check with exit code 1 and a
/// detail naming the deadline and its legal source: the checks bite.
#[test]
fn a_late_answer_fails_the_run() {
    let tmp = temp("late");
    let o = run_fixture(
        &tmp,
        "harness/tests/fixtures/scenarios/gewerbe/zu-langsam.toml",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("FAIL empfangsbescheinigung"), "{err}");
    assert!(
        err.contains("after the last day Thu 06.03.2025")
            || err.contains("by the last day Thu 06.03.2025"),
        "{err}"
    );
    assert!(
        err.contains("§ 15 Abs. 1 GewO") || err.contains("gewerbe-empfang"),
        "{err}"
    );
    let junit = std::fs::read_to_string(tmp.join("runs/junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

/// A scenario that states a last day the calendar does not give fails the run (exit 1), and
/// the failure names both days: here the tester forgot that the end of § 15 Abs. 1 GewO on
/// Saturday 01.11.2025 moves to Monday 03.11.2025 (§ 31 Abs. 3 VwVfG).
#[test]
fn a_wrong_stated_last_day_fails_naming_both_days() {
    let tmp = temp("stated-day");
    let dir = tmp.join("scenarios").join("x");
    std::fs::create_dir_all(&dir).unwrap();
    let good =
        std::fs::read_to_string(workspace().join("scenarios/gewerbe/anzeige-vor-feiertag.toml"))
            .unwrap();
    assert!(good.contains("last_day = \"2025-11-03\""));
    let path = dir.join("falscher-tag.toml");
    std::fs::write(
        &path,
        good.replace("last_day = \"2025-11-03\"", "last_day = \"2025-11-01\""),
    )
    .unwrap();
    let o = run_fixture(&tmp, path.to_str().unwrap());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "FAIL empfangsbescheinigung-nach-wochenende: the scenario states the last day Sat 01.11.2025, but the calendar computes Mon 03.11.2025 (gewerbe-empfang"
        ),
        "{err}"
    );
    // A day that does not exist is an input error at its place in the file.
    std::fs::write(
        &path,
        good.replace("last_day = \"2025-11-03\"", "last_day = \"2025-11-31\""),
    )
    .unwrap();
    let o = bin().arg("check").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let line = good
        .lines()
        .position(|l| l.starts_with("last_day"))
        .unwrap()
        + 1;
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(
        all.contains(&format!(
            "falscher-tag.toml:{line}:12: last_day \"2025-11-31\" is not a date"
        )),
        "{all}"
    );
}

/// Latency and throughput thresholds bite: an intake that answers after 60 hours fails a p90
/// limit of 24 hours and a rate of 10 answers a day, and the failures name the figures.
#[test]
fn thresholds_fail_a_slow_intake() {
    let tmp = temp("thresholds");
    let o = run_fixture(
        &tmp,
        "harness/tests/fixtures/scenarios/traffic/zu-langsam-last.toml",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("FAIL antwortzeit-p90: p90 of the reply time"),
        "{err}"
    );
    assert!(err.contains("(limit 1d 0h 0m;"), "{err}");
    assert!(err.contains("FAIL durchsatz:"), "{err}");
    assert!(err.contains("(required 10;"), "{err}");
    // report.html lists both under "Thresholds", with their kinds.
    let html = std::fs::read_to_string(tmp.join("runs/report.html")).unwrap();
    let start = html.find("id=\"thresholds\"").unwrap();
    let end = html.find("id=\"run\"").unwrap();
    let thresholds = &html[start..end];
    for (check, kind) in [("antwortzeit-p90", "latency"), ("durchsatz", "throughput")] {
        assert!(
            thresholds.contains(&format!(
                "traffic/zu-langsam-last › {check}</a></td><td>{kind}</td><td class=\"FAIL\">FAIL</td>"
            )),
            "{thresholds}"
        );
    }
}

/// The delivery check bites: an intake that is down for ten hours gets the application only
/// after the 8 hours of PVD-FU § 4.2; the check fails with the attempts and the last failure,
/// and the trace reports the late push (`provider.late`, once at the limit and once delivered).
#[test]
fn a_push_after_the_transport_limit_fails() {
    let tmp = temp("push-late");
    let o = run_fixture(
        &tmp,
        "harness/tests/fixtures/scenarios/intake/zu-lange-down.toml",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("FAIL zugestellt-nach-wartung: m000001@dmda-a.de-mail.de not pushed into the intake within the limit of provider-mailbox"),
        "{err}"
    );
    assert!(
        err.contains("latest 2025-03-03T15:00:00+01:00; 11 failed attempts"),
        "{err}"
    );
    assert!(
        err.contains("4.3.2 intake down for maintenance until 2025-03-03T17:00:00+01:00"),
        "{err}"
    );
    // The application is not lost: it arrives after the window and is answered in time.
    assert!(err.contains("pass empfangsbescheinigung"), "{err}");
    let trace = std::fs::read_to_string(tmp.join("runs/intake/zu-lange-down/trace.jsonl")).unwrap();
    let late: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains(r#""kind":"provider.late""#))
        .collect();
    assert_eq!(late.len(), 2, "{trace}");
    assert!(!late[0].contains("delivered_at"), "{}", late[0]);
    assert!(
        late[1].contains(r#""delivered_at":"2025-03-03T17:15:00+01:00""#),
        "{}",
        late[1]
    );
}

/// `redact` replaces the named trace columns in the golden comparison: the blessed golden holds
/// `[redacted]` instead of the Aktenzeichen, a second run matches it, and trace.jsonl keeps the
/// real value. An unknown column is an input error with its position.
#[test]
fn redacted_columns_are_not_compared() {
    let tmp = temp("redact");
    let src = std::fs::read_to_string(
        workspace().join("scenarios/gewerbe/anzeige-absenderbestaetigt.toml"),
    )
    .unwrap();
    let scenario = tmp.join("redigiert.toml");
    std::fs::write(
        &scenario,
        src.replacen(
            "[scenario]\n",
            "[scenario]\nredact = [\"aktenzeichen\"]\n",
            1,
        ),
    )
    .unwrap();
    let run = || {
        bin()
            .arg("run")
            .arg(&scenario)
            .arg("--golden")
            .arg(tmp.join("golden"))
            .arg("--out")
            .arg(tmp.join("runs"))
            .arg("--bless")
            .output()
            .unwrap()
    };
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let golden = find(&tmp.join("golden"), ".trace.snap").expect("a trace golden was blessed");
    let text = std::fs::read_to_string(&golden).unwrap();
    assert!(text.contains(r#""aktenzeichen":"[redacted]""#), "{text}");
    assert!(!text.contains(r#""aktenzeichen":"GA-"#), "{text}");
    let raw = find(&tmp.join("runs"), "trace.jsonl").expect("trace.jsonl written");
    assert!(
        std::fs::read_to_string(raw)
            .unwrap()
            .contains(r#""aktenzeichen":"GA-2025-00001""#)
    );

    let bad = src.replacen("[scenario]\n", "[scenario]\nredact = [\"seq\"]\n", 1);
    let line = bad.lines().position(|l| l.starts_with("redact")).unwrap() + 1;
    std::fs::write(&scenario, &bad).unwrap();
    let o = bin().arg("check").arg(&scenario).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // `check` reports on stdout, one line per file.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("redigiert.toml:{line}:11:")), "{out}");
    assert!(out.contains("may be redacted"), "{out}");
}

/// The first file under `dir` (depth first) whose name ends with `suffix`.
fn find(dir: &Path, suffix: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let p = entry.ok()?.path();
        if p.is_dir() {
            if let Some(f) = find(&p, suffix) {
                return Some(f);
            }
        } else if p.to_string_lossy().ends_with(suffix) {
            return Some(p);
        }
    }
    None
}

/// `run --json` prints report.json's content byte for byte; junit.xml's suites carry
/// `timestamp` and `hostname`, its testcases `time`.
#[test]
fn json_on_stdout_is_report_json_and_junit_has_times() {
    let tmp = temp("json");
    let o = bin()
        .args([
            "run",
            "scenarios/gewerbe/anzeige-absenderbestaetigt.toml",
            "--json",
            "--out",
        ])
        .arg(tmp.join("runs"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let file = std::fs::read_to_string(tmp.join("runs/report.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), file);
    let v: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(v["format"], "demail-testbed-report/1");
    assert_eq!(v["scenarios"][0]["verdict"], "PASS");
    assert!(
        v["scenarios"][0]["run_folder"]
            .as_str()
            .is_some_and(|f| f.ends_with("gewerbe/anzeige-absenderbestaetigt")),
        "{v}"
    );
    let junit = std::fs::read_to_string(tmp.join("runs/junit.xml")).unwrap();
    let suite = junit
        .lines()
        .find(|l| l.trim_start().starts_with("<testsuite "))
        .expect("a testsuite");
    assert!(suite.contains(" timestamp=\"20"), "{suite}");
    assert!(suite.contains(" hostname=\""), "{suite}");
    assert_eq!(
        junit.matches("<testcase ").count(),
        junit.matches(" time=\"0.000\"").count(),
        "{junit}"
    );
}

/// `--full-duration` walks on to the end of the scenario's `duration` after every check is
/// decided: `run.finished` comes at start + duration instead of at the last decision (the
/// reference intake does nothing more in this scenario, so no other event is added). The
/// shipped golden files are then not compared.
#[test]
fn full_duration_walks_to_the_end() {
    let tmp = temp("full");
    let scenario = "scenarios/gewerbe/anzeige-absenderbestaetigt.toml";
    let finished = |out: &str, extra: &[&str]| {
        let o = bin()
            .args(["run", scenario, "--out"])
            .arg(tmp.join(out))
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let trace = std::fs::read_to_string(
            tmp.join(out)
                .join("gewerbe/anzeige-absenderbestaetigt/trace.jsonl"),
        )
        .unwrap();
        let last = trace.lines().last().unwrap().to_string();
        assert!(last.contains(r#""kind":"run.finished""#), "{last}");
        (trace.lines().count(), last, stderr(&o))
    };
    let (short, last, _) = finished("short", &[]);
    // The reply is due at 05:00 and goes out when the intake's office opens (docs/intake.md).
    assert!(
        last.contains(r#""at":"2025-03-04T08:00:00+01:00""#),
        "{last}"
    );
    let (long, last, err) = finished("long", &["--full-duration"]);
    // P7D from 2025-03-03T09:00+01:00.
    assert!(
        last.contains(r#""at":"2025-03-10T09:00:00+01:00""#),
        "{last}"
    );
    assert_eq!(long, short);
    assert!(err.contains("golden skipped"), "{err}");
    // The scenario key does the same for one scenario, and its golden files are compared.
    let src = std::fs::read_to_string(workspace().join(scenario)).unwrap();
    let own = tmp.join("bis-zum-ende.toml");
    std::fs::write(
        &own,
        src.replacen("[scenario]\n", "[scenario]\nfull_duration = true\n", 1),
    )
    .unwrap();
    let o = bin()
        .arg("run")
        .arg(&own)
        .arg("--golden")
        .arg(tmp.join("golden"))
        .arg("--out")
        .arg(tmp.join("own"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let trace = std::fs::read_to_string(tmp.join("own/bis-zum-ende/trace.jsonl")).unwrap();
    let last = trace.lines().last().unwrap();
    assert!(
        last.contains(r#""at":"2025-03-10T09:00:00+01:00""#),
        "{last}"
    );
}

/// Every file below `dir`, relative, sorted (to show that a run wrote nothing there).
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// What `git status` and the repository's golden/ and scenarios/ folders look like.
fn repository_state() -> (String, Vec<PathBuf>, Vec<PathBuf>) {
    let git = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(workspace())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    (
        git,
        listing(&workspace().join("golden")),
        listing(&workspace().join("scenarios")),
    )
}

/// A scenario of one's own, in a folder outside the repository that is not called
/// `scenarios/`: its first run passes and records its golden files beside it (saying where),
/// keeps its group name, and writes nothing into the repository; the second run compares and
/// passes; a changed subject then fails with a diff that names the event and the field; with
/// --require-golden a scenario without
/// golden files fails and nothing is recorded.
#[test]
fn a_scenario_of_your_own_records_its_golden_files_then_compares() {
    let tmp = temp("own");
    let mine = tmp.join("meine-tests");
    std::fs::create_dir_all(mine.join("gewerbe")).unwrap();
    let src = std::fs::read_to_string(
        workspace().join("scenarios/gewerbe/anzeige-absenderbestaetigt.toml"),
    )
    .unwrap();
    let file = mine.join("gewerbe/anzeige.toml");
    std::fs::write(&file, &src).unwrap();
    let before = repository_state();
    // Run from the temporary folder, as someone outside the repository would.
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
            .current_dir(&tmp)
            .args(["run", "meine-tests", "--out", "ergebnisse"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("▶ gewerbe/anzeige ·"), "{err}");
    assert!(
        err.contains("note: scenario names are relative to meine-tests"),
        "{err}"
    );
    assert!(
        err.contains("golden files recorded (first run, nothing to compare yet): meine-tests/gewerbe/anzeige.trace.snap, meine-tests/gewerbe/anzeige.summary.snap"),
        "{err}"
    );
    assert!(err.contains("golden recorded"), "{err}");
    assert!(mine.join("gewerbe/anzeige.trace.snap").is_file());
    assert!(mine.join("gewerbe/anzeige.summary.snap").is_file());
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("golden same"), "{}", stderr(&o));

    std::fs::write(
        &file,
        src.replace("Bäckerei Mustermann", "Konditorei Mustermann"),
    )
    .unwrap();
    let o = run(&[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("golden different"), "{err}");
    // The diff names the changed event and field, not a whole line of a thousand characters.
    assert!(
        err.contains("trace: 1 event(s) changed, 0 added, 0 removed"),
        "{err}"
    );
    assert!(
        err.contains("~ seq 2 (citizen.sent at 2025-03-03T09:00:00+01:00)"),
        "{err}"
    );
    assert!(
        err.contains("    subject: \"Gewerbeanmeldung: Bäckerei Mustermann, Dresden-Löbtau\" → \"Gewerbeanmeldung: Konditorei Mustermann, Dresden-Löbtau\""),
        "{err}"
    );
    assert!(err.lines().all(|l| l.chars().count() < 400), "{err}");
    assert!(
        tmp.join("ergebnisse/gewerbe/anzeige/trace.snap.new")
            .is_file()
    );
    assert!(!mine.join("gewerbe/anzeige.trace.snap.new").exists());

    std::fs::write(mine.join("gewerbe/neu.toml"), &src).unwrap();
    let o = run(&["--require-golden"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "golden file meine-tests/gewerbe/neu.trace.snap is missing (--require-golden)"
        ),
        "{err}"
    );
    assert!(!mine.join("gewerbe/neu.trace.snap").exists());
    assert!(tmp.join("ergebnisse/gewerbe/neu/trace.snap.new").is_file());
    assert_eq!(
        before,
        repository_state(),
        "the runs wrote into the repository"
    );
}

/// The trace does not depend on the runner's thread count (`--threads`): a month of
/// generated traffic and a scenario of seeded faults give the same bytes on one thread and on
/// three.
#[test]
fn traces_are_identical_across_thread_counts() {
    let tmp = temp("threads");
    let scenarios = ["traffic/gewerbe-monat", "faults/zufall"];
    let trace_of = |threads: &str| {
        let out = tmp.join(format!("runs-{threads}"));
        let o = bin()
            .current_dir(workspace())
            .args(["run", "--no-messages", "--threads", threads, "--out"])
            .arg(&out)
            .args(scenarios.map(|s| format!("scenarios/{s}.toml")))
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "--threads {threads}: {}",
            stderr(&o)
        );
        scenarios.map(|s| std::fs::read(out.join(s).join("trace.jsonl")).unwrap())
    };
    let one = trace_of("1");
    let three = trace_of("3");
    for (i, s) in scenarios.iter().enumerate() {
        assert!(
            one[i].len() > 1000,
            "{s}: a trace of {} bytes",
            one[i].len()
        );
        assert!(
            one[i] == three[i],
            "{s}: traces differ between 1 and 3 threads"
        );
    }
}

/// `--threads` outside 1..=64 is a usage error (exit 2) that names the option.
#[test]
fn threads_out_of_range_is_refused() {
    for bad in ["0", "65", "zwei"] {
        let o = bin()
            .current_dir(workspace())
            .args(["run", "--threads", bad, "scenarios/zustellung/fiktion.toml"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--threads {bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("--threads"), "{}", stderr(&o));
    }
}
