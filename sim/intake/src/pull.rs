//! Pull mode: the intake takes its mail from the provider's HTTP gateway API instead of an
//! SMTP push (docs/gateway.md): on every clock step it lists each Funktionspostfach's
//! unacknowledged messages (`GET /api/v1/messages`), fetches each one raw, processes it exactly
//! as a pushed one (`inbound::receive_at`, with the Eingang as time of receipt), and then
//! acknowledges it (`POST /api/v1/messages/{id}/ack`). A message whose processing failed
//! temporarily is not acknowledged and comes again at the next step; one the intake refuses
//! permanently (not a De-Mail) is acknowledged and reported as `intake.refused`.

use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;

use super::{Intake, inbound};
use demail_core::sync::lock;
use demail_core::trace::EventKind;

#[derive(Deserialize)]
struct Page {
    messages: Vec<Listed>,
    next_cursor: String,
    has_more: bool,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    stored_at: String,
}

/// Polls every mailbox that has a token; returns how many messages were taken over.
pub(crate) async fn poll(intake: &Intake) -> usize {
    let (Some(base), Some(tokens)) = (&intake.config.provider_http, &intake.config.pull_tokens)
    else {
        return 0;
    };
    let http = &intake.provider_http_client;
    let mut taken = 0;
    for (mailbox, token) in tokens {
        match poll_mailbox(intake, http, base, mailbox, token).await {
            Ok(n) => taken += n,
            Err(e) => tracing::warn!("intake: pulling {mailbox}: {e:#}"),
        }
    }
    taken
}

async fn poll_mailbox(
    intake: &Intake,
    http: &reqwest::Client,
    base: &str,
    mailbox: &str,
    token: &str,
) -> anyhow::Result<usize> {
    use anyhow::Context as _;
    let mut since = "0".to_string();
    let mut taken = 0;
    loop {
        let page: Page = http
            .get(format!("{base}/api/v1/messages?since={since}&limit=100"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .context("listing")?
            .error_for_status()
            .context("listing")?
            .json()
            .await
            .context("reading the list")?;
        for m in &page.messages {
            let id = &m.id;
            let raw = http
                .get(format!("{base}/api/v1/messages/{id}/raw"))
                .bearer_auth(token)
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .with_context(|| format!("fetching {id}"))?
                .bytes()
                .await
                .with_context(|| format!("fetching {id}"))?;
            let eingang: Option<Timestamp> = m.stored_at.parse().ok();
            let take = match inbound::receive_at(intake, mailbox, &raw, eingang) {
                Ok(()) => true,
                Err(r) if r.code >= 500 => {
                    lock(&intake.state).events.push(EventKind::IntakeRefused {
                        mailbox: mailbox.to_string(),
                        code: r.code,
                        reason: r.status_text(),
                    });
                    true
                }
                Err(r) => {
                    let reason = r.status_text();
                    tracing::warn!("intake: {id} in {mailbox} not taken over yet: {reason}");
                    false
                }
            };
            if take {
                http.post(format!("{base}/api/v1/messages/{id}/ack"))
                    .bearer_auth(token)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .with_context(|| format!("acknowledging {id}"))?;
                taken += 1;
            }
        }
        if !page.has_more {
            return Ok(taken);
        }
        since = page.next_cursor;
    }
}
