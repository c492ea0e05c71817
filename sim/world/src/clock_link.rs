//! The harness's side of the test-clock contract (docs/intake.md, DESIGN.md): telling the
//! system under test the virtual time (`POST /testbed/clock`, answered when its due work is
//! done) and reading its events (`GET /testbed/events?after=N`, or the same page carried by
//! the clock answer), of which only `intake.*` kinds may reach the trace.

use anyhow::{Context, Result, bail};
use demail_core::clock::format_instant;
use demail_core::trace::{EventKind, Trace};
use jiff::ZonedDateTime;

/// The most of a clock answer's body the harness reads for the events it may carry (4 MiB);
/// a longer body is not read on, and the events are read with `GET` instead.
pub const CLOCK_ANSWER_LIMIT: usize = 4 << 20;

/// A page of the system's events: what `GET {events}?after=N` answered, or the same carried
/// by a clock answer (`events_from`, `events`, `next`; docs/sut.md "Events in the clock answer").
#[derive(Debug, serde::Deserialize)]
pub struct EventsPage {
    /// The count of events before the first one here: a clock answer's `events_from` (a `GET`
    /// answer has none; the reader knows its `after`).
    #[serde(default, rename = "events_from")]
    pub from: Option<usize>,
    pub events: Vec<EventKind>,
    /// The count of events so far, the `after` of the next read.
    pub next: usize,
}

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

    /// How many events were read so far: the `after` of the next read.
    #[cfg(test)]
    fn cursor(&self) -> usize {
        self.next
    }

    /// Reads the events not read yet with `GET {url}?after=N` and copies them into the trace.
    pub async fn drain(&mut self, http: &reqwest::Client, trace: &Trace) -> Result<()> {
        let url = format!("{}?after={}", self.url, self.next);
        let resp = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !resp.status().is_success() {
            bail!("the intake's events: GET {url} answered {}", resp.status());
        }
        let page: EventsPage = resp
            .json()
            .await
            .with_context(|| format!("reading the answer of GET {url}"))?;
        self.copy(page.events, page.next, trace);
        Ok(())
    }

    /// Copies a page that a clock answer carried, when it starts where the reading stands;
    /// `false` (nothing copied) when it does not, and the events must be read with `GET`.
    pub fn take(&mut self, page: EventsPage, trace: &Trace) -> bool {
        if page.from != Some(self.next) {
            return false;
        }
        self.copy(page.events, page.next, trace);
        true
    }

    /// Copies the `intake.*` events into the trace and moves the reading to `next`.
    fn copy(&mut self, events: Vec<EventKind>, next: usize, trace: &Trace) {
        for e in events {
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
        self.next = next;
    }
}

/// Tells the intake the time (test-clock contract) and waits for its answer. Returns the
/// events the answer carries (`events_from`, `events`, `next`), if it carries them whole and
/// consistent (`next - events_from` events) as JSON within [`CLOCK_ANSWER_LIMIT`]. Any other
/// body, none, or one that breaks off or stalls (until the client's timeout) is no error:
/// the events are then read with `GET`, as when the body was not read at all.
pub async fn post_clock(
    http: &reqwest::Client,
    url: &str,
    now: &ZonedDateTime,
) -> Result<Option<EventsPage>> {
    let body = serde_json::json!({ "now": format_instant(now) });
    let mut resp = http
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
    let json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let declared_too_long = resp
        .content_length()
        .is_some_and(|n| n > CLOCK_ANSWER_LIMIT as u64);
    if !json || declared_too_long {
        return Ok(None);
    }
    let mut answer = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) if answer.len() + chunk.len() <= CLOCK_ANSWER_LIMIT => {
                answer.extend_from_slice(&chunk);
            }
            Ok(Some(_)) => return Ok(None),
            Ok(None) => return Ok(events_of_clock_answer(&answer)),
            Err(e) => {
                tracing::debug!("the clock answer's body of POST {url}: {e}; reading GET");
                return Ok(None);
            }
        }
    }
}

/// The events a clock answer carries, if it carries them whole and consistent.
fn events_of_clock_answer(body: &[u8]) -> Option<EventsPage> {
    let page: EventsPage = serde_json::from_slice(body).ok()?;
    (page.next.checked_sub(page.from?)? == page.events.len()).then_some(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acknowledged(az: &str) -> String {
        format!(
            r#"{{"kind":"intake.acknowledged","aktenzeichen":"{az}","reply":"empfangsbescheinigung","deadlines":[]}}"#
        )
    }

    /// A clock answer's events are taken only when they are whole and consistent: a body of
    /// another system (the reference intake's older answer, an empty one, not JSON) or a count
    /// that does not add up gives `None`, so the events are read with `GET` as before.
    #[test]
    fn a_clock_answer_carries_events_only_when_consistent() {
        let one = acknowledged("GEW-2025-000001");
        let body =
            format!(r#"{{"now":"x","idle":true,"events_from":7,"events":[{one}],"next":8}}"#);
        let page = events_of_clock_answer(body.as_bytes()).expect("consistent");
        assert_eq!((page.from, page.events.len(), page.next), (Some(7), 1, 8));
        let empty = r#"{"events_from":3,"events":[],"next":3}"#;
        assert_eq!(events_of_clock_answer(empty.as_bytes()).unwrap().next, 3);
        for foreign in [
            r#"{"now":"2025-03-03T09:00:00+01:00","idle":true}"#.to_string(),
            String::new(),
            "ok".to_string(),
            format!(r#"{{"events_from":7,"events":[{one}],"next":9}}"#),
            format!(r#"{{"events_from":9,"events":[{one}],"next":8}}"#),
            r#"{"events_from":0,"events":[{"kind":"provider.stored"}],"next":1}"#.to_string(),
            "{\"events_from\":0,\"events\":[],\"next\":0,\"x\":\"\0\"".to_string(),
        ] {
            assert!(
                events_of_clock_answer(foreign.as_bytes()).is_none(),
                "{foreign:?}"
            );
        }
    }

    /// A clock answer from a hostile or broken system: a body that stalls after its first
    /// bytes, one that declares more than the limit, one that is not JSON. Each is answered
    /// `Ok(None)` (read the events with `GET`), the stall within the client's timeout.
    #[tokio::test]
    async fn a_stalled_or_foreign_clock_answer_falls_back_to_get() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let answers = [
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"events_from\":0,".to_string(),
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{}}",
                CLOCK_ANSWER_LIMIT + 1
            ),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\n{\"events_from\":0,\"events\":[],\"next\":0}".to_string(),
        ];
        for answer in answers {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/testbed/clock", listener.local_addr().unwrap());
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                s.write_all(answer.as_bytes()).await.unwrap();
                // Never closes nor finishes the body.
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_millis(500))
                .build()
                .unwrap();
            let now = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
            let got = post_clock(&http, &url, &now).await.expect("no error");
            assert!(got.is_none());
            server.abort();
        }
    }

    /// A page is taken only where the reading stands, and the reading then moves on to its
    /// `next`.
    #[test]
    fn a_page_is_taken_where_the_reading_stands() {
        let clock = demail_core::clock::VirtualClock::new(
            &"2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap(),
        );
        let trace = Trace::new(clock);
        let mut reader = IntakeEvents::new("http://127.0.0.1:9/testbed/events".into());
        let page = |from: usize| {
            let body = format!(
                r#"{{"events_from":{from},"events":[{}],"next":{}}}"#,
                acknowledged("GEW-1"),
                from + 1
            );
            events_of_clock_answer(body.as_bytes()).unwrap()
        };
        assert!(!reader.take(page(1), &trace), "the reading stands at 0");
        assert!(trace.events().is_empty());
        assert_eq!(reader.cursor(), 0);
        assert!(reader.take(page(0), &trace));
        assert_eq!(reader.cursor(), 1);
        assert_eq!(trace.events().len(), 1);
        assert!(!reader.take(page(0), &trace), "the same page twice");
        assert_eq!(trace.events().len(), 1);
    }
}
