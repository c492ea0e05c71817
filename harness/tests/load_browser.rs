//! The load's live page (docs/load.md, "Watching a run") in a real browser: a short load runs
//! with `--metrics`, and headless Chromium opens its page while it runs. Under the page's CSP
//! its script must reach `/status.json` and fill the tables: the live mark is on, the
//! counters name the arrivals, the latency table has the submission row, and the thresholds
//! so far are listed.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it); skipped loudly without it, failed on CI.

use std::io::BufRead;
use std::process::{Command, Stdio};

use crate::bin_common;

use bin_common::{bin, chromium, temp};

const PROFILE: &str = r#"[load]
name = "browser"
seed = 5
duration = "8s"
interval = "1s"
drain = "20s"
thresholds = ['dropped == 0', 'p95("submit") < "10s"']

[rate]
shape = "constant"
per_second = 4

[population]
size = 300
demail_share = 0.5

[[mix]]
name = "anfrage"
weight = 1
to = "stadtverwaltung@dresden.de-mail.de"
senders = "person"
subject = "Anfrage"
options = ["confirmation-of-receipt"]
"#;

#[test]
fn the_live_page_fills_itself_in_a_browser() {
    let Some(chromium) = chromium("the_live_page_fills_itself_in_a_browser") else {
        return;
    };
    let dir = temp("load-browser");
    let profile = dir.join("browser.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let mut child = bin()
        .args(["load", profile.to_str().unwrap(), "--out"])
        .arg(dir.join("out"))
        .args(["--metrics", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut page = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("live page: ") {
            page = Some(url.trim().to_string());
        }
        // Open the page once the run is under way.
        if line.trim_start().starts_with("t=2s") {
            break;
        }
    }
    let page = page.expect("the live page's address printed");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(&page)
        .output()
        .unwrap();
    // Let the load finish (its output is read to the end).
    for _ in lines.by_ref() {}
    let status = child.wait().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(status.success(), "the load failed: {status:?}");
    assert!(
        dom.contains("data-live=\"on\""),
        "the script did not reach /status.json: {dom}"
    );
    assert!(
        dom.contains("<td>arrivals</td>"),
        "counters not filled: {dom}"
    );
    assert!(
        dom.contains("<td>submit</td>"),
        "latencies not filled: {dom}"
    );
    assert!(dom.contains("dropped == 0"), "thresholds not listed: {dom}");
    assert!(dom.contains("class=\"pass\""), "no verdict so far: {dom}");
    let _ = std::fs::remove_dir_all(&dir);
}
