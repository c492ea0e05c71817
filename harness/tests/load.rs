//! `load` and `merge` (docs/load.md): the seeded schedule and its shards, the exact merge
//! of shard results, thresholds passing and failing, a short load against the embedded
//! world (counts and report shape, never speed: machines are noisy), the Prometheus
//! endpoint read by an independent parser (`prometheus-parse`), and located profile errors.

use crate::bin_common;

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bin_common::{bin, stderr, temp};
use demail_harness::load::results::{Results, RunId};
use demail_harness::load::{profile, schedule};
use rand_core::Rng as _;

/// A small profile: `rate` is the `[rate]` body, `thresholds` the list's items.
fn profile_text(name: &str, seconds: u32, rate: &str, thresholds: &[&str]) -> String {
    let thresholds: Vec<String> = thresholds.iter().map(|t| format!("'{t}'")).collect();
    format!(
        r#"[load]
name = "{name}"
seed = 11
duration = "{seconds}s"
interval = "1s"
drain = "30s"
thresholds = [{}]

[rate]
{rate}

[population]
size = 400
demail_share = 0.5

[[mix]]
name = "gewerbeanzeige"
weight = 2
to = "gewerbeangelegenheiten@dresden.de-mail.de"
senders = "business"
subject = "Gewerbeanmeldung"
options = ["authoritative", "confirmation-of-receipt"]

[[mix]]
name = "anfrage"
weight = 1
to = "stadtverwaltung@dresden.de-mail.de"
senders = "person"
subject = "Anfrage"
options = ["confirmation-of-receipt"]
"#,
        thresholds.join(", ")
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `demail-testbed load PROFILE --out OUT`; more arguments may follow.
fn load_cmd(profile: &Path, out: &Path) -> std::process::Command {
    let mut c = bin();
    c.args([
        "load",
        profile.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    c
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// For a fixed seed and each rate shape, the arrivals of n shards are disjoint, their union
/// is the unsharded schedule, no citizen sends in two shards, and the schedule is the same
/// when computed again.
#[test]
fn shards_partition_the_schedule() {
    let shapes = [
        "shape = \"constant\"\nper_second = 7.5",
        "shape = \"ramp\"\nstart = 1\nstages = [{ duration = \"10s\", target = 20 }, { duration = \"10s\", target = 0 }]",
        "shape = \"office-hours\"\nper_day = 500\ncompress = 2880",
    ];
    for (i, rate) in shapes.iter().enumerate() {
        for spacing in ["even", "poisson"] {
            let text = profile_text("p", 30, rate, &[])
                .replace("drain = \"30s\"", &format!("arrivals = \"{spacing}\""));
            let p = profile::parse(&text, Path::new("p.toml")).unwrap();
            let users = schedule::users(&p).unwrap();
            let all = schedule::schedule(&p, &users).unwrap();
            assert!(all.len() > 50, "shape {i}: {} arrivals", all.len());
            assert_eq!(all, schedule::schedule(&p, &users).unwrap());
            assert!(all.windows(2).all(|w| w[0].offset_us <= w[1].offset_us));
            for n in 1..=4u32 {
                let shards: Vec<Vec<schedule::Arrival>> = (0..n)
                    .map(|index| schedule::Shard { index, count: n }.arrivals(&all))
                    .collect();
                let mut union: Vec<schedule::Arrival> = shards.concat();
                assert_eq!(union.len(), all.len(), "shape {i} n={n}: disjoint");
                union.sort_by_key(|a| a.index);
                assert_eq!(union, all, "shape {i} n={n}: union");
                for (s, arrivals) in shards.iter().enumerate() {
                    for t in shards.iter().skip(s + 1) {
                        assert!(
                            arrivals
                                .iter()
                                .all(|a| t.iter().all(|b| b.citizen != a.citizen)),
                            "a citizen in two shards"
                        );
                    }
                }
            }
        }
    }
    // Even spacing: exactly rate × duration arrivals, the first at the start.
    let p = profile::parse(
        &profile_text("c", 4, "shape = \"constant\"\nper_second = 3", &[]),
        Path::new("c.toml"),
    )
    .unwrap();
    let offsets = schedule::offsets(&p).unwrap();
    assert_eq!(offsets.len(), 12);
    assert_eq!(offsets[0], 0);
    assert_eq!(offsets[1], 333_333);
}

/// Merged histograms equal the histogram of the union of the shards' raw samples, bucket by
/// bucket, after a round trip through result.json; counts are summed; a shard given twice
/// or from another run is refused.
#[test]
fn merge_is_exact() {
    let run = RunId {
        sink: false,
        profile: "m".into(),
        profile_digest: "d".into(),
        seed: 1,
        shards: 3,
        duration_ms: 10_000,
        interval_ms: 1000,
        thresholds: vec![],
    };
    let mut whole = Results::new(run.clone(), 0);
    let mut shards: Vec<Results> = (0..3).map(|i| Results::new(run.clone(), i)).collect();
    let mut rng = demail_sim::seed::rng(5, "merge-test");
    for k in 0..20_000u64 {
        // Latencies from 1 µs to about 20 minutes, spread over the orders of magnitude.
        let us = 1 + (rng.next_u64() % 1_000_000) * (1 + k % 1200);
        let metric = ["submit", "reply"][(k % 2) as usize];
        let s = (rng.next_u64() % 3) as usize;
        shards[s].record(metric, us);
        shards[s].bump("accepted", 1);
        whole.record(metric, us);
        whole.bump("accepted", 1);
    }
    let read: Vec<Results> = shards
        .iter()
        .map(|r| Results::from_json(&r.to_json().unwrap()).unwrap())
        .collect();
    let mut merged = read[2].clone();
    merged.merge(&read[0]).unwrap();
    merged.merge(&read[1]).unwrap();
    assert_eq!(merged.covers, vec![0, 1, 2]);
    assert!(merged.missing_shards().is_empty());
    assert_eq!(merged.count("accepted"), 20_000);
    for m in ["submit", "reply", "receipt", "push"] {
        let (a, b) = (merged.histogram(m).unwrap(), whole.histogram(m).unwrap());
        assert_eq!(a.len(), b.len(), "{m}");
        let buckets = |h: &hdrhistogram::Histogram<u64>| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect::<Vec<_>>()
        };
        assert_eq!(buckets(a), buckets(b), "{m}: bucket by bucket");
        for q in [0.5, 0.95, 0.99, 0.999] {
            assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "{m} q={q}");
        }
    }
    assert!(
        merged
            .merge(&read[0])
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    let mut other = run.clone();
    other.seed = 2;
    assert!(
        merged
            .merge(&Results::new(other, 0))
            .unwrap_err()
            .to_string()
            .contains("different runs")
    );
}

/// A plain HTTP GET of the Prometheus text on loopback (the test needs no HTTP client crate).
fn get(addr: &str, path: &str) -> String {
    let (head, body) = get_any(addr, path);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body
}

/// A plain HTTP GET on loopback: the head (lower case) and the body.
fn get_any(addr: &str, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_string())
}

/// A short load against the embedded world (4 s at 2/s): every arrival is accounted for,
/// the thresholds pass (exit 0) and come first in the report, report.json/html and
/// result.json have their shape, and the Prometheus endpoint parses with an independent
/// parser while the run goes on.
#[test]
fn short_load_against_the_embedded_world() {
    let dir = temp("load-short");
    let profile = write(
        &dir,
        "short.toml",
        &profile_text(
            "short",
            4,
            "shape = \"constant\"\nper_second = 2",
            &[
                "dropped == 0",
                "rate(\"errors\") == 0",
                "p99(\"submit\") < \"1h\"",
            ],
        ),
    );
    let out = dir.join("out");
    let mut child = load_cmd(&profile, &out)
        .args(["--metrics", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    let mut scraped = None;
    let mut page = None;
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("metrics: http://") {
            addr = rest.strip_suffix("/metrics").map(str::to_string);
        }
        // Scrape once the run is under way (its first progress line).
        if line.trim_start().starts_with("t=") && scraped.is_none() {
            let at = addr.as_deref().expect("metrics address printed");
            scraped = Some(get(at, "/metrics"));
            page = Some((
                get_any(at, "/"),
                get_any(at, "/status.json"),
                get_any(at, "/live.js"),
            ));
        }
        printed.push(line);
    }
    let status = child.wait().unwrap();
    let printed = printed.join("\n");
    assert!(status.success(), "{status:?}\n{printed}");
    // Plain progress lines (stdout is not a terminal) and the thresholds first.
    let summary = printed.split_once("thresholds:\n").expect(&printed).1;
    assert!(summary.starts_with("  PASS dropped == 0"), "{summary}");
    assert!(printed.contains("live page: http://"), "{printed}");

    // The live page on the same address: the page, its script, the status so far.
    let ((head, html), (status_head, status), (js_head, js)) = page.expect("read during the run");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{head}"
    );
    assert!(
        html.contains("<script src=\"/live.js\" defer></script>"),
        "{html}"
    );
    assert!(
        js_head.contains("text/javascript") && js.contains("/status.json"),
        "{js_head}"
    );
    assert!(status_head.contains("application/json"), "{status_head}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["profile"], "short");
    assert_eq!(status["counters"]["arrivals"], 8, "{status}");
    assert_eq!(status["duration_s"], 4.0, "{status}");
    let thresholds = status["thresholds"].as_array().expect("thresholds so far");
    assert_eq!(thresholds.len(), 3, "{status}");
    assert_eq!(thresholds[0]["threshold"], "dropped == 0");
    assert!(status["latencies"]["submit"]["n"].is_u64(), "{status}");

    let scrape = prometheus_parse::Scrape::parse(
        scraped
            .expect("scraped during the run")
            .lines()
            .map(|l| Ok(l.to_string())),
    )
    .unwrap();
    let value = |outcome: &str| {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "demail_load_events_total" && s.labels.get("outcome") == Some(outcome)
            })
            .map(|s| s.value.clone())
    };
    assert_eq!(
        value("arrivals"),
        Some(prometheus_parse::Value::Counter(8.0))
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "demail_load_in_flight"
                && matches!(s.value, prometheus_parse::Value::Gauge(_))),
        "{:?}",
        scrape.samples
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.labels.get("metric") == Some("submit")
                && matches!(&s.value, prometheus_parse::Value::Histogram(b) if b.len() == 15)),
        "{:?}",
        scrape.samples
    );

    // The thresholds come first in the file (serde_json's Value would sort the keys).
    let raw = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(
        raw.starts_with("{\n  \"passed\": true,\n  \"thresholds\": ["),
        "{raw}"
    );
    let report = json(&out.join("report.json"));
    assert_eq!(report["passed"], true);
    let c = &report["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    assert_eq!(n("arrivals"), 8);
    assert_eq!(
        n("started") + n("dropped") + n("interrupted"),
        n("arrivals")
    );
    assert_eq!(n("interrupted"), 0);
    assert_eq!(n("accepted") + n("refused") + n("errors"), n("started"));
    assert_eq!(n("replies") + n("unanswered"), n("accepted"));
    assert_eq!(n("errors"), 0);
    assert!(n("accepted") > 0);
    assert_eq!(report["latencies"]["submit"]["count"], n("accepted"));
    assert!(report["latencies"]["reply"]["p95_s"].is_number() || n("replies") == 0);
    assert_eq!(report["intervals"].as_array().unwrap().len(), 4);
    assert_eq!(report["rates"]["intended_per_s"], 2.0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Thresholds") && !html.contains("<script"));
    let result =
        Results::from_json(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(result.count("arrivals"), 8);
    assert!(out.join("trace.jsonl").exists());
    let _ = stderr;
}

/// Two shards of one profile run side by side; `merge` adds them up to the whole schedule
/// and decides the thresholds again: a failing threshold fails each shard and the merge
/// (exit 1, FAIL printed first); a merge without every shard is a usage error (exit 2).
#[test]
fn shards_merge_and_a_failing_threshold_exits_1() {
    let dir = temp("load-shards");
    let text = profile_text(
        "shards",
        3,
        "shape = \"constant\"\nper_second = 4",
        &["accepted > 1000000", "dropped == 0"],
    );
    let profile = write(&dir, "shards.toml", &text);
    let whole = {
        let p = profile::parse(&text, &profile).unwrap();
        let users = schedule::users(&p).unwrap();
        schedule::schedule(&p, &users).unwrap().len() as u64
    };
    let outs: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("shard-{i}"))).collect();
    let children: Vec<_> = outs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            load_cmd(&profile, out)
                .args(["--shard", &format!("{i}/2")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            text.contains("thresholds:\n  FAIL accepted > 1000000"),
            "{text}"
        );
    }
    let merged = dir.join("merged");
    let o = bin()
        .args([
            "merge",
            outs[0].to_str().unwrap(),
            outs[1].to_str().unwrap(),
        ])
        .args(["--out", merged.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&merged.join("report.json"));
    assert_eq!(report["counts"]["arrivals"], whole);
    assert_eq!(report["covers"], serde_json::json!([0, 1]));
    assert_eq!(report["thresholds"][0]["passed"], false);
    assert_eq!(report["thresholds"][1]["passed"], true);
    let a = json(&outs[0].join("report.json"));
    let b = json(&outs[1].join("report.json"));
    for k in ["arrivals", "accepted", "replies"] {
        assert_eq!(
            report["counts"][k].as_u64().unwrap(),
            a["counts"][k].as_u64().unwrap() + b["counts"][k].as_u64().unwrap(),
            "{k}"
        );
    }
    let o = bin()
        .args(["merge", outs[0].to_str().unwrap()])
        .args(["--out", dir.join("partial").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
}

/// Profile mistakes are usage errors (exit 2) at FILE:LINE:COLUMN; so are a bad --shard,
/// a missing target file, and a mix addressed to a mailbox the target does not list.
#[test]
fn usage_errors_exit_2_with_a_location() {
    let dir = temp("load-usage");
    let good = profile_text(
        "u",
        2,
        "shape = \"constant\"\nper_second = 1",
        &["dropped == 0"],
    );
    let cases = [
        (
            good.replace("per_second = 1", "per_second = -1"),
            "per_second must be",
        ),
        (
            good.replace("shape = \"constant\"", "shape = \"steady\""),
            "expected \"constant\"",
        ),
        (
            good.replace("'dropped == 0'", "'droped == 0'"),
            "unknown counter",
        ),
        (
            good.replace("duration = \"2s\"", "duration = \"soon\""),
            "duration",
        ),
        (
            good.replace("stadtverwaltung@", "rathaus@"),
            "not a Funktionspostfach",
        ),
        (
            good.replace("seed = 11", "seed = 11\nsede = 1"),
            "unknown field",
        ),
    ];
    for (text, needle) in cases {
        let p = write(&dir, "bad.toml", &text);
        let o = bin().args(["load", p.to_str().unwrap()]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{needle}: {}", stderr(&o));
        let e = stderr(&o);
        let located = format!("error: {}:", p.display());
        assert!(
            e.starts_with(&located) && e.contains(needle),
            "{needle}: {e}"
        );
        let rest = &e[located.len()..];
        let mut parts = rest.splitn(3, ':');
        assert!(parts.next().unwrap().parse::<usize>().unwrap() > 0, "{e}");
        assert!(parts.next().unwrap().parse::<usize>().unwrap() > 0, "{e}");
    }
    let p = write(&dir, "good.toml", &good);
    for extra in [
        ["--shard", "2/2"],
        ["--target", "targets/no-such-target.toml"],
    ] {
        let o = bin()
            .args(["load", p.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
    }
}

/// `load --target`: the same short load against the reference intake as its own process
/// (targets/reference-load.toml), driven only over the wire; the profile's mailboxes are
/// checked against the target's.
#[test]
fn short_load_against_a_target_file() {
    let dir = temp("load-target");
    let text = profile_text(
        "target",
        2,
        "shape = \"constant\"\nper_second = 2",
        &["dropped == 0"],
    );
    let profile = write(&dir, "target.toml", &text);
    let out = dir.join("out");
    let o = load_cmd(&profile, &out)
        .args(["--target", "targets/reference-load.toml"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{printed}\n{}", stderr(&o));
    let report = json(&out.join("report.json"));
    let n = |k: &str| report["counts"][k].as_u64().unwrap();
    assert_eq!(n("arrivals"), 4);
    assert_eq!(n("accepted") + n("refused") + n("errors"), n("started"));
    assert_eq!(n("replies") + n("unanswered"), n("accepted"));
    assert!(n("pushes") > 0, "{printed}");
    assert!(
        std::fs::read_to_string(out.join("sut.log"))
            .unwrap()
            .contains("reference intake")
    );
    // A mix addressed to a mailbox the target does not list: located, exit 2.
    let other = write(
        &dir,
        "other.toml",
        &text.replace("stadtverwaltung@dresden", "poststelle@dresden"),
    );
    let o = bin()
        .args([
            "load",
            other.to_str().unwrap(),
            "--target",
            "targets/reference-load.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("system under test"), "{}", stderr(&o));
}

/// `--sink`: every arrival is accepted by the sink, nothing waits for a reply, thresholds
/// on what a sink cannot measure are left out (and said so), the reports say it ran against
/// a sink; `--sink` with `--target` is a usage error.
#[test]
fn short_load_against_a_sink() {
    let dir = temp("load-sink");
    let text = profile_text(
        "sink",
        2,
        "shape = \"constant\"\nper_second = 20",
        &[
            "dropped == 0",
            r#"p99("submit") < "30s""#,
            r#"p95("reply") < "1s""#,
            "unanswered == 0",
        ],
    );
    let profile = write(&dir, "sink.toml", &text);
    let out = dir.join("out");
    let o = load_cmd(&profile, &out).arg("--sink").output().unwrap();
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{printed}\n{}", stderr(&o));
    assert!(
        printed.contains("threshold left out (a sink confirms, pushes and replies nothing): p95(\"reply\") < \"1s\""),
        "{printed}"
    );
    assert!(printed.contains("the generator's own ceiling"), "{printed}");
    let report = json(&out.join("report.json"));
    let n = |k: &str| report["counts"][k].as_u64().unwrap_or(0);
    assert_eq!(n("arrivals"), 40);
    assert_eq!(n("accepted"), n("started"), "{report}");
    assert_eq!(n("started") + n("dropped"), 40);
    assert_eq!(
        n("replies") + n("receipts") + n("pushes") + n("unanswered"),
        0
    );
    assert_eq!(report["against_sink"], true);
    assert_eq!(
        report["latencies"]["submit"]["count"].as_u64(),
        Some(n("accepted"))
    );
    let kept: Vec<&str> = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["threshold"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["dropped == 0", r#"p99("submit") < "30s""#]);
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("Against an SMTP sink")
    );
    // --start-at: the schedule waits for the instant; a past or malformed one is exit 2.
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let o = load_cmd(&profile, &dir.join("later"))
        .arg("--sink")
        .args(["--start-at", &soon.to_string()])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{printed}\n{}", stderr(&o));
    assert!(printed.contains("the schedule starts in"), "{printed}");
    assert!(
        jiff::Timestamp::now() >= soon + jiff::SignedDuration::from_secs(2),
        "the 2-s schedule cannot end before its start plus its duration"
    );
    for (bad, says) in [
        ("2020-01-01T00:00:00Z", "that instant passed"),
        ("tomorrow", "expected an RFC 3339 instant"),
    ] {
        let o = load_cmd(&profile, &dir.join("bad"))
            .arg("--sink")
            .args(["--start-at", bad])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains(says), "{bad}: {}", stderr(&o));
    }
    let o = bin()
        .args(["load", profile.to_str().unwrap(), "--sink"])
        .args(["--target", "targets/reference-load.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sink"), "{}", stderr(&o));
}

/// SIGINT stops the schedule early: the arrivals never started count as `interrupted`, the
/// reports cover what ran, and the run fails (exit 1) whatever its thresholds say.
#[test]
fn sigint_stops_early_and_fails() {
    let dir = temp("load-sigint");
    let profile = write(
        &dir,
        "long.toml",
        &profile_text(
            "long",
            60,
            "shape = \"constant\"\nper_second = 2",
            &["dropped == 0"],
        ),
    );
    let out = dir.join("out");
    let mut child = load_cmd(&profile, &out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // The first progress line: the schedule runs and the signal handlers are installed.
    for line in lines.by_ref() {
        if line.unwrap().trim_start().starts_with("t=") {
            break;
        }
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{}", rest.join("\n"));
    let report = json(&out.join("report.json"));
    let n = |k: &str| report["counts"][k].as_u64().unwrap();
    assert!(n("interrupted") > 0);
    assert_eq!(
        n("started") + n("dropped") + n("interrupted"),
        n("arrivals")
    );
    assert_eq!(report["thresholds"][0]["passed"], false);
    assert_eq!(report["thresholds"][1]["passed"], true);
}

/// Every shipped profile under `loads/` loads, and the example's schedule is a day of about
/// `per_day` arrivals drawn from its population.
#[test]
fn shipped_profiles_load() {
    let dir = bin_common::workspace().join("loads");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            profile::load(&path, None).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n > 0, "no profiles in {}", dir.display());
    let p = profile::load(&dir.join("gewerbeamt-montag.toml"), None).unwrap();
    let users = schedule::users(&p).unwrap();
    let all = schedule::schedule(&p, &users).unwrap();
    assert!((500..700).contains(&all.len()), "{}", all.len());
}
