//! Outgoing delivery: pushes into an institution's intake (SMTP with STARTTLS) and hand-overs
//! to peer providers (SMTP over implicit TLS with a client certificate).
//!
//! One worker per world ([`DeliveryHub`]) delivers jobs in the order they were queued, so
//! intakes see messages in Eingang order and the trace stays deterministic. The client is
//! lettre; certificates must chain to the run's test CA. A 4xx answer or a connection failure
//! is retried a few times; a 5xx is permanent. Both are recorded in the trace, and the outcome
//! in the durable queue. Still missing: backoff in virtual time and a report against the TR's
//! 8-hour (mailbox) and 4-hour (between providers) limits (PVD-FU §4.2).

use std::net::SocketAddr;
use std::sync::Weak;
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

/// One delivery worker for a whole simulated world: every provider's pushes and relays go
/// through one queue, one at a time, in the order they were queued. Queue order is causal
/// order, so the trace stays deterministic when several providers hand mail to each other
/// (a worker per provider would race). A provider started alone gets a hub of its own.
#[derive(Clone)]
pub struct DeliveryHub {
    tx: mpsc::UnboundedSender<(Weak<Shared>, Job)>,
}

impl std::fmt::Debug for DeliveryHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryHub")
    }
}

impl DeliveryHub {
    /// Starts the worker (needs a tokio runtime); abort the handle to stop it.
    pub fn start() -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, tokio::spawn(run(rx)))
    }

    /// Queues a job of `shared`'s provider; false if the worker is gone.
    pub(crate) fn send(&self, shared: &Shared, job: Job) -> bool {
        let me = shared.me.get().cloned().unwrap_or_default();
        self.tx.send((me, job)).is_ok()
    }
}

/// Delivers jobs until the channel closes.
async fn run(mut jobs: mpsc::UnboundedReceiver<(Weak<Shared>, Job)>) {
    while let Some((shared, job)) = jobs.recv().await {
        // A provider that was shut down keeps its queued pushes in its database.
        let Some(shared) = shared.upgrade() else {
            continue;
        };
        let outcome = deliver(&shared, &job).await;
        if let Err(e) = super::lock(&shared.store).delivery_result(job.queue_id, outcome) {
            tracing::error!("cannot record the push of {}: {e:#}", job.message_id);
        }
        shared.activity.delivery_done();
    }
}

/// Tries a push up to [`MAX_ATTEMPTS`] times; the last outcome is returned for the queue.
async fn deliver(shared: &Shared, job: &Job) -> Result<(), (bool, String)> {
    for attempt in 1..=MAX_ATTEMPTS {
        shared.activity.bump();
        let outcome = send_once(shared, job).await;
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
async fn send_once(shared: &Shared, job: &Job) -> Result<(), (bool, String)> {
    let temp = |e: String| (false, e);
    // A mailbox of this provider is pushed to its intake (STARTTLS); a foreign one goes to the
    // peer provider's relay face: implicit TLS, our certificate as client certificate, and the
    // peer's certificate must carry its provider domain (IT-BInfra-IO Tabelle 1).
    let relay = if shared.hosts(&job.mailbox) {
        None
    } else {
        Some(
            shared
                .route(&job.mailbox)
                .ok_or_else(|| temp(format!("no route to the domain of {}", job.mailbox)))?,
        )
    };
    let server_name = relay
        .as_ref()
        .map_or_else(|| "localhost".to_string(), |r| r.provider_domain.clone());
    let ca = Certificate::from_pem(shared.ca_pem.as_bytes())
        .map_err(|e| temp(format!("test CA: {e}")))?;
    let mut tls = TlsParameters::builder(server_name).add_root_certificate(ca);
    if relay.is_some() {
        // lettre 0.11.23's rustls path takes the certificate argument as DER despite the
        // name `from_pem` (it wraps the bytes unparsed); the key is parsed from PEM.
        let identity = lettre::transport::smtp::client::Identity::from_pem(
            shared.relay_identity.cert_der.as_ref(),
            shared.relay_identity.key_pem.as_bytes(),
        )
        .map_err(|e| temp(format!("client certificate: {e}")))?;
        tls = tls.identify_with(identity);
    }
    let tls = tls
        .build_rustls()
        .map_err(|e| temp(format!("TLS parameters: {e}")))?;
    let tls = if relay.is_some() {
        Tls::Wrapper(tls)
    } else {
        Tls::Required(tls)
    };
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(job.target.ip().to_string())
            .port(job.target.port())
            .tls(tls)
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
