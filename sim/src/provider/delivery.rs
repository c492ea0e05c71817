//! Push delivery into an institution's intake over SMTP with STARTTLS.
//!
//! One worker delivers jobs in the order they were queued, so the intake sees messages in
//! Eingang order and the trace stays deterministic. The client is lettre; the intake's
//! certificate must chain to the run's test CA. A 4xx answer or a connection failure is
//! retried a few times; a 5xx is permanent. Both are recorded in the trace.
//! Still missing (issue [4/6]): a durable queue and backoff in virtual time with the TR's
//! 8-hour limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::mpsc;

use super::Shared;
use crate::trace::EventKind;

/// How often a temporary failure is tried in all.
const MAX_ATTEMPTS: u32 = 3;
/// Wall-clock pause between tries (the intake runs on loopback).
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// A delivery that takes longer than this counts as a temporary failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// One message to push.
pub(crate) struct Job {
    /// Position in the durable queue (the store's deliveries table).
    pub queue_id: i64,
    pub target: SocketAddr,
    pub envelope_from: String,
    pub mailbox: String,
    pub message_id: String,
    pub raw: Vec<u8>,
}

/// Delivers jobs until the channel closes.
pub(crate) async fn run(
    mut jobs: mpsc::UnboundedReceiver<Job>,
    shared: Arc<Shared>,
    ca_pem: String,
) {
    while let Some(job) = jobs.recv().await {
        let outcome = deliver(&shared, &job, Some(ca_pem.as_bytes())).await;
        if let Err(e) = super::lock(&shared.store).delivery_result(job.queue_id, outcome) {
            tracing::error!("cannot record the push of {}: {e:#}", job.message_id);
        }
        shared.activity.delivery_done();
    }
}

/// Tries a push up to [`MAX_ATTEMPTS`] times; the last outcome is returned for the queue.
async fn deliver(shared: &Shared, job: &Job, ca_pem: Option<&[u8]>) -> Result<(), (bool, String)> {
    for attempt in 1..=MAX_ATTEMPTS {
        shared.activity.bump();
        let outcome = send_once(shared, job, ca_pem).await;
        shared.activity.bump();
        match outcome {
            Ok(()) => {
                let eml = shared.wire_log.record(&job.raw);
                shared.trace.emit(EventKind::ProviderDelivered {
                    provider: shared.config.id.clone(),
                    mailbox: job.mailbox.clone(),
                    message_id: job.message_id.clone(),
                    attempt,
                    eml,
                });
                return Ok(());
            }
            Err((permanent, reason)) => {
                let last = permanent || attempt == MAX_ATTEMPTS;
                shared.trace.emit(EventKind::ProviderDeliveryFailed {
                    provider: shared.config.id.clone(),
                    mailbox: job.mailbox.clone(),
                    message_id: job.message_id.clone(),
                    attempt,
                    permanent: last,
                    reason: reason.clone(),
                });
                if last {
                    return Err((permanent, reason));
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
    Err((false, "no attempt made".into()))
}

/// One SMTP transaction; `Err((permanent, reason))` on failure.
async fn send_once(
    shared: &Shared,
    job: &Job,
    ca_pem: Option<&[u8]>,
) -> Result<(), (bool, String)> {
    let temp = |e: String| (false, e);
    let mut tls = TlsParameters::builder("localhost".to_string());
    if let Some(pem) = ca_pem {
        let cert = Certificate::from_pem(pem).map_err(|e| temp(format!("test CA: {e}")))?;
        tls = tls.add_root_certificate(cert);
    }
    let tls = tls
        .build_rustls()
        .map_err(|e| temp(format!("TLS parameters: {e}")))?;
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(job.target.ip().to_string())
            .port(job.target.port())
            .tls(Tls::Required(tls))
            .hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                format!("smtp.{}", shared.config.domain),
            ))
            .timeout(Some(SEND_TIMEOUT))
            .build();
    let from: Address = job
        .envelope_from
        .parse()
        .map_err(|e| (true, format!("envelope sender {}: {e}", job.envelope_from)))?;
    let to: Address = job
        .mailbox
        .parse()
        .map_err(|e| (true, format!("recipient {}: {e}", job.mailbox)))?;
    let envelope = Envelope::new(Some(from), vec![to]).map_err(|e| (true, e.to_string()))?;
    match tokio::time::timeout(SEND_TIMEOUT, transport.send_raw(&envelope, &job.raw)).await {
        Err(_) => Err(temp(format!(
            "no answer within {} s",
            SEND_TIMEOUT.as_secs()
        ))),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err((e.is_permanent(), e.to_string())),
    }
}
