//! The harness's side of the test-clock contract (docs/intake.md, DESIGN.md): telling the
//! system under test the virtual time (`POST /testbed/clock`, answered when its due work is
//! done) and reading its events (`GET /testbed/events?after=N`), of which only `intake.*`
//! kinds may reach the trace.

use anyhow::{Context, Result, bail};
use demail_core::clock::format_instant;
use demail_core::trace::{EventKind, Trace};
use jiff::ZonedDateTime;

/// The reader of the intake's `GET /testbed/events`: copies its `intake.*` events into the
/// trace, stamped with the current virtual time.
pub struct IntakeEvents {
    url: String,
    /// How many events were read so far.
    next: usize,
}

impl IntakeEvents {
    /// Reads `GET {url}?after=N` from the start.
    pub fn new(url: String) -> Self {
        Self { url, next: 0 }
    }
}

impl IntakeEvents {
    pub async fn drain(&mut self, http: &reqwest::Client, trace: &Trace) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Page {
            events: Vec<EventKind>,
            next: usize,
        }
        let url = format!("{}?after={}", self.url, self.next);
        let resp = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !resp.status().is_success() {
            bail!("the intake's events: GET {url} answered {}", resp.status());
        }
        let page: Page = resp
            .json()
            .await
            .with_context(|| format!("reading the answer of GET {url}"))?;
        for e in page.events {
            // Only intake events: the intake cannot write anything else into the trace.
            if matches!(
                e,
                EventKind::IntakeReceived { .. }
                    | EventKind::IntakeRefused { .. }
                    | EventKind::IntakeDuplicate { .. }
                    | EventKind::IntakeAcknowledged { .. }
                    | EventKind::IntakeBescheid { .. }
                    | EventKind::IntakeZustellung { .. }
                    | EventKind::IntakeFallback { .. }
                    | EventKind::IntakeDms { .. }
            ) {
                trace.emit(e);
            }
        }
        self.next = page.next;
        Ok(())
    }
}

/// Tells the intake the time (test-clock contract) and waits for its answer.
pub async fn post_clock(http: &reqwest::Client, url: &str, now: &ZonedDateTime) -> Result<()> {
    let body = serde_json::json!({ "now": format_instant(now) });
    let resp = http
        .post(url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        bail!("the intake refused the test clock: POST {url} answered {status}: {text}");
    }
    Ok(())
}
