//! The web UI (`serve --ui`, docs/ui.md) in a real browser: `serve` runs as its own process, a
//! citizen submits a De-Mail over SMTP, and headless Chromium opens the intake's mailbox. The
//! list shows the message; a message submitted after the page was opened appears without a
//! reload (a marker set in the page survives); the message's page shows the De-Mail header
//! panel and a valid seal.
//!
//! Chromium is driven over its DevTools protocol with the minimal client of `cdp_common`.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it). Without it the test prints "SKIPPED:
//! chromium missing" and passes, unless the environment variable CI is set: then it fails.

use crate::bin_common;
use crate::cdp_common;
use crate::serve_common;

use cdp_common::open;

use bin_common::chromium;
use serde_json::json;
use serve_common::{ERIKA_AND_GEWERBEAMT, scratch, start_with, submit};

const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";

/// The UI lists a message submitted over SMTP; one submitted after the page was opened
/// appears without a reload; the message's page shows the De-Mail headers and a valid seal.
#[test]
fn the_ui_shows_submitted_mail_live_with_headers_and_seal() {
    let Some(chromium) = chromium("the_ui_shows_submitted_mail_live_with_headers_and_seal") else {
        return;
    };
    let (tmp, config) = scratch("ui-browser", ERIKA_AND_GEWERBEAMT);
    let data = tmp.join("data");
    let served = start_with(&config, &data, &["--ui".as_ref()]);
    let ca = data.join("pki/ca.pem");
    submit(served.smtp, &ca, "Gewerbeanmeldung Eins");

    let url = format!("http://{}/ui/mailbox/{INTAKE}", served.http);
    let (_browser, mut page) = open(chromium, &url, &tmp.join("profile"));
    page.wait_for(
        "document.readyState === 'complete' && document.documentElement.dataset.live === 'on'",
        "the page to load and its live script to reach /ui/changes",
    );
    let rows = page.eval("document.querySelector('#messages tbody').innerText");
    let rows = rows.as_str().unwrap_or_default().to_string();
    assert!(rows.contains("Gewerbeanmeldung Eins"), "{rows}");
    assert!(rows.contains("gültig (valid)"), "the seal column: {rows}");

    // A marker in the page: a reload would wipe it.
    page.eval("window.__stayed = 42; true");
    submit(served.smtp, &ca, "Gewerbeanmeldung Zwei");
    page.wait_for(
        "document.querySelector('#messages tbody').innerText.includes('Gewerbeanmeldung Zwei')",
        "the second message to appear without a reload",
    );
    assert_eq!(
        page.eval("window.__stayed"),
        json!(42),
        "the page was not reloaded"
    );

    // The first message's page: the De-Mail header panel and a valid seal.
    let href = page.eval(
        "Array.from(document.querySelectorAll('#messages a')).find(a => a.textContent === 'Gewerbeanmeldung Eins').getAttribute('href')",
    );
    let href = href
        .as_str()
        .expect("a link to the first message")
        .to_string();
    page.eval(&format!("location.assign({}); true", json!(href)));
    page.wait_for(
        "document.readyState === 'complete' && !!document.getElementById('integrity')",
        "the message's page",
    );
    let verdict = page.eval("document.getElementById('integrity').innerText");
    let verdict = verdict.as_str().unwrap_or_default();
    assert!(verdict.contains("gültig (valid)"), "{verdict}");
    assert!(verdict.contains("signed by dmda-a.de-mail.de"), "{verdict}");
    let panel = page.eval("document.getElementById('demail-headers').innerText");
    let panel = panel.as_str().unwrap_or_default();
    for want in [
        "X-de-mail-message-type",
        "Nachrichtentyp (message type)",
        "X-de-mail-auth-level",
        "high",
        "X-de-mail-sender",
        "erika.mustermann@dmda-a.de-mail.de",
    ] {
        assert!(
            panel.contains(want),
            "{want} missing in the header panel: {panel}"
        );
    }
    // The CSP let the page's own script run and nothing inline was needed.
    assert_eq!(
        page.eval("document.querySelectorAll('script:not([src])').length"),
        json!(0)
    );
    drop(served);
    let _ = std::fs::remove_dir_all(&tmp);
}
