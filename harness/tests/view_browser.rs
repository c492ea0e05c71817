//! The run view (`demail-testbed view`, docs/ui.md "Run view") in a real browser. A scenario is
//! run into a scratch folder with the binary; a second folder holds the first part of its trace
//! as a scenario still running. Headless Chromium opens the running scenario's page: it is
//! marked as running and shows the events so far; when the rest of the trace is written, the
//! timeline grows to every event and the running mark goes, without a reload (a marker set in
//! the page survives). Then a message of the finished scenario: the De-Mail header panel, the
//! valid seal, and the Eingangsbestätigung's PDF in its frame, loaded by the browser under the
//! page's CSP.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it); skipped loudly without it, failed on CI.

use crate::bin_common;
use crate::cdp_common;

use std::path::Path;

use bin_common::{bin, chromium, temp};
use cdp_common::open;
use serde_json::json;

const SCENARIO: &str = "gewerbe/anzeige-absenderbestaetigt";

/// Copies the files of `from` into `to` (one level of subfolders: `messages/`, `pki/`).
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_folder(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn the_run_view_follows_a_running_scenario_and_shows_a_confirmations_pdf() {
    let Some(chromium) =
        chromium("the_run_view_follows_a_running_scenario_and_shows_a_confirmations_pdf")
    else {
        return;
    };
    let tmp = temp("view-browser");
    let out = tmp.join("runs");
    let status = bin()
        .args(["run", &format!("scenarios/{SCENARIO}.toml"), "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the scenario run failed");

    // A copy of the scenario's folder whose trace stops early: a scenario still running.
    let finished = out.join(SCENARIO);
    let running = out.join("laufend/kopie");
    copy_folder(&finished, &running);
    let trace = std::fs::read_to_string(finished.join("trace.jsonl")).unwrap();
    let lines: Vec<&str> = trace.lines().collect();
    assert!(lines.len() >= 6, "a trace of some length: {trace}");
    let first = lines.len() / 2;
    std::fs::write(
        running.join("trace.jsonl"),
        lines[..first]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(demail_harness::cmd::view::serve(
        listener,
        out.canonicalize().unwrap(),
    ));

    let url = format!("http://{addr}/run/laufend/kopie");
    let (_browser, mut page) = open(chromium, &url, &tmp.join("profile"));
    page.wait_for(
        "document.readyState === 'complete' && document.documentElement.dataset.live === 'on'",
        "the page and its live script",
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#timeline tbody tr').length"),
        json!(first),
        "the events written so far"
    );
    assert_eq!(
        page.eval("!!document.getElementById('running')"),
        json!(true),
        "marked as running"
    );
    page.eval("window.__marker = 42; true");

    // The rest of the trace arrives: the page follows without a reload.
    std::fs::write(running.join("trace.jsonl"), &trace).unwrap();
    page.wait_for(
        &format!(
            "document.querySelectorAll('#timeline tbody tr').length === {}",
            lines.len()
        ),
        "every event of the trace in the timeline",
    );
    assert_eq!(
        page.eval("!!document.getElementById('running')"),
        json!(false),
        "no longer running once run.finished is written"
    );
    assert_eq!(
        page.eval("window.__marker"),
        json!(42),
        "the page was not reloaded"
    );

    // The finished scenario's Eingangsbestätigung (the first message with a PDF part).
    let messages = finished.join("messages");
    let mut names: Vec<String> = std::fs::read_dir(&messages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let confirmation = names
        .iter()
        .find(|n| {
            std::fs::read_to_string(messages.join(n))
                .unwrap()
                .contains("application/pdf")
        })
        .expect("the run kept a confirmation with a PDF");
    let href = format!("/message/{SCENARIO}/messages/{confirmation}");
    page.eval(&format!("location.assign({}); true", json!(href)));
    page.wait_for(
        "location.pathname.startsWith('/message/') && document.readyState === 'complete' \
         && !!document.getElementById('pdf')",
        "the confirmation's page with its PDF frame",
    );
    assert_eq!(
        page.eval("!!document.getElementById('demail-headers')"),
        json!(true),
        "the De-Mail header panel"
    );
    let integrity = page.eval("document.getElementById('integrity').textContent");
    assert!(
        integrity
            .as_str()
            .is_some_and(|t| t.contains("gültig (valid)")),
        "{integrity}"
    );
    // The browser shows the PDF in the frame (the page's CSP allows frames of this origin; a
    // blocked frame would show Chromium's error page instead).
    let pdf_path = format!("/pdf/{SCENARIO}/messages/{confirmation}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let tree = page.call("Page.getFrameTree", json!({}));
        let shown = tree["frameTree"]["childFrames"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| {
                c["frame"]["name"] == "pdf"
                    && c["frame"]["mimeType"] == "application/pdf"
                    && c["frame"]["url"]
                        .as_str()
                        .is_some_and(|u| u.ends_with(&pdf_path))
            });
        if shown {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the PDF is not shown in its frame: {tree}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if let Ok(path) = std::env::var("VIEW_SCREENSHOT") {
        use base64::Engine as _;
        page.eval("document.getElementById('pdf').scrollIntoView(); true");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let shot = page.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
    // What it loaded is the message's PDF part.
    page.eval(&format!(
        "window.__pdf = null; fetch({}).then(r => r.arrayBuffer().then(b => \
         window.__pdf = [r.headers.get('content-type'), \
         String.fromCharCode(...new Uint8Array(b).slice(0, 5))])); true",
        json!(pdf_path)
    ));
    page.wait_for("window.__pdf !== null", "the PDF fetched");
    assert_eq!(
        page.eval("window.__pdf"),
        json!(["application/pdf", "%PDF-"])
    );

    drop(rt);
    let _ = std::fs::remove_dir_all(&tmp);
}
