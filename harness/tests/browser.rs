//! `report.html` in a real browser: a scenario that fails on purpose
//! (`harness/tests/fixtures/scenarios/gewerbe/zu-langsam.toml`) is run into a scratch folder and
//! its report is rendered by headless Chromium at 1280×800. The first screen shows the failed
//! check's reason, and its link leads to the check's row inside the scenario's folded section,
//! which the browser opens on following it.
//!
//! The report itself has no script. The test measures a copy with a probe script appended
//! before `</body>` (it changes nothing above it) and reads the probe's result from Chromium's
//! `--dump-dom`.
//!
//! Needs Debian's `chromium` (`apt-get install -y --no-install-recommends chromium`, as `.ci/run`
//! does). Without it the test prints "SKIPPED: chromium missing" and passes, unless the
//! environment variable CI is set: then it fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::bin_common;

use bin_common::{bin, chromium, stderr, temp};

/// Appended before `</body>` of a copy: measures the first failure's reason on the first screen,
/// looks up its link's target, follows the link and writes `key=value;…` into `data-probe`.
const PROBE: &str = r#"<script>
(function () {
  var out = {};
  out.vh = window.innerHeight;
  out.height = document.documentElement.scrollHeight;
  var reason = document.querySelector('li.failure .reason');
  var link = document.querySelector('li.failure a');
  if (reason) {
    var b = reason.getBoundingClientRect();
    out.reason_top = Math.round(b.top);
    out.reason_bottom = Math.round(b.bottom);
  }
  function done() {
    document.documentElement.setAttribute('data-probe',
      Object.keys(out).map(function (k) { return k + '=' + out[k]; }).join(';'));
  }
  if (!link) { done(); return; }
  var id = decodeURIComponent(link.getAttribute('href').slice(1));
  var target = document.getElementById(id);
  out.target = target ? 1 : 0;
  var section = target && target.closest('details.scenario');
  out.folded_before = section && !section.open ? 1 : 0;
  location.hash = link.getAttribute('href');
  setTimeout(function () {
    out.open_after = section && section.open ? 1 : 0;
    if (target) { out.target_top = Math.round(target.getBoundingClientRect().top); }
    done();
  }, 200);
})();
</script>
</body>"#;

/// Renders `page` in headless Chromium at 1280×800 and returns the probe's values.
fn probe(chromium: &str, page: &Path, scratch: &Path) -> BTreeMap<String, i64> {
    let html = std::fs::read_to_string(page).unwrap();
    let probed = scratch.join("probed.html");
    std::fs::write(&probed, html.replacen("</body>", PROBE, 1)).unwrap();
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1280,800",
            "--virtual-time-budget=5000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    let value = dom
        .split("data-probe=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no probe result in Chromium's DOM: {}", stderr(&o)));
    value
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(-1)))
        .collect()
}

/// A failing scenario's report, in Chromium: the failed check's reason is on the first screen,
/// its link's target exists inside the scenario's folded section, and following the link opens
/// that section and brings the check's row on screen.
#[test]
fn first_screen_shows_the_failure_and_its_link_leads_to_the_check() {
    let Some(chromium) = chromium("first_screen_shows_the_failure_and_its_link_leads_to_the_check")
    else {
        return;
    };
    let tmp = temp("browser");
    let o = bin()
        .args([
            "run",
            "harness/tests/fixtures/scenarios/gewerbe/zu-langsam.toml",
            "--bless",
            "--golden",
        ])
        .arg(tmp.join("golden"))
        .arg("--out")
        .arg(tmp.join("runs"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let page = tmp.join("runs/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "report.html has no script");
    assert!(
        html.contains("<span class=\"reason\">no reply from gewerbeangelegenheiten@dresden.de-mail.de by the last day Thu 06.03.2025"),
        "the failure's reason is in the failures list"
    );
    let p = probe(chromium, &page, &tmp);
    let get = |k: &str| {
        *p.get(k)
            .unwrap_or_else(|| panic!("probe has no {k}: {p:?}"))
    };
    assert!(get("vh") > 400, "{p:?}");
    assert!(get("reason_top") >= 0, "{p:?}");
    assert!(
        get("reason_bottom") <= get("vh"),
        "the reason ends below the first screen: {p:?}"
    );
    assert_eq!(get("target"), 1, "the link's target is in the page: {p:?}");
    assert_eq!(get("folded_before"), 1, "the section starts folded: {p:?}");
    assert_eq!(get("open_after"), 1, "following the link opens it: {p:?}");
    // Scrolled to the row (as far as the page's end lets the browser scroll).
    assert!(
        (0..get("vh")).contains(&get("target_top")),
        "the check's row is on screen after following the link: {p:?}"
    );
    eprintln!("report.html in Chromium: {p:?}");
}
