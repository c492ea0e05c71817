//! Outgoing delivery: pushes into an institution's intake (SMTP with STARTTLS) and hand-overs
//! to peer providers (SMTP over implicit TLS with a client certificate), from the durable
//! queue of [`super::store`], with retries in virtual time and a report against the transport
//! limits of PVD-FU §4.2. Reference: `docs/delivery.md`.
//!
//! # Order
//!
//! One worker per world ([`DeliveryHub`]) makes one attempt at a time, in the order jobs were
//! handed to it: new jobs in queue (= causal) order, due retries ordered by
//! `(next_attempt_at, provider position, queue id)`. So intakes see messages in Eingang order
//! and the trace stays deterministic. The client is lettre. A push goes out as its mailbox's
//! [`PushTarget`] says ([`push`]: STARTTLS with a server name and CA, by default the test CA
//! and "localhost"; plain SMTP on loopback only); a hand-over's certificate must chain to the
//! run's test CA. Every failed attempt is logged at warn with mailbox, target and reason.
//!
//! # Retries (virtual time)
//!
//! Each attempt is one SMTP transaction. A temporary failure (4xx, connection refused, no
//! answer within [`SEND_TIMEOUT`], no route, a TLS failure) puts the job in state `retry` with
//! `next_attempt_at = now + `[`backoff`]`(attempts)`: 5, 10, 20, 40 minutes, then every 60
//! minutes, on the provider's [`demail_core::clock::VirtualClock`]. Nothing tries it again before
//! [`retry_due`] (or [`Provider::retry_due`]) is called at a virtual instant at or after that
//! time. A job whose next attempt would fall more than [`GIVE_UP_AFTER`] after it was queued
//! is given up: recorded as a permanent failure (at most 27 attempts, the last 23 h 15 min
//! after queueing). A 5xx (or an address lettre cannot use) is permanent at once.
//!
//! A job waiting for a retry is not "pending" in [`super::Activity`]: only jobs handed to the
//! worker count, so a runner settles while retries wait in the virtual future. The runner
//! calls [`retry_due`] at every instant and may jump to [`next_wakeup`]. A provider started
//! with a hub of its own (`serve`, tests) runs a wall-clock timer ([`RETRY_TIMER`]) that calls
//! the same entry point; it decides nothing itself, the due check reads the provider's clock
//! (in `serve` the wall-clock adapter, in tests the virtual clock).
//!
//! # Limits (PVD-FU §4.2)
//!
//! When the worker is handed a job it notes the queue time and the limit from
//! [`demail_calendar::compute`]: `provider-mailbox` (8 hours) for a push into the mailbox's intake,
//! the access path of the institution's mailbox, and `provider-transfer` (4 hours) for a
//! hand-over to a peer provider. A delivery after the limit emits `provider.late` with
//! `delivered_at`; a job still undelivered when the limit has passed emits `provider.late`
//! without it, once, with the reason of the last attempt.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use lettre::address::Envelope;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::mpsc;

pub mod push;

pub use push::{DEFAULT_SERVER_NAME, PushTarget, PushTls};

use super::store::{AttemptOutcome, DeliveryRecord, DeliveryState, QueuedDelivery};
use super::{Provider, Shared, lock};
use demail_core::clock::format_instant;
use demail_core::trace::EventKind;

/// A delivery that takes longer than this (wall clock: a network timeout) counts as a
/// temporary failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Pauses after the 1st, 2nd, 3rd and 4th failure; later ones wait [`RETRY_EVERY`].
pub const BACKOFF: [SignedDuration; 4] = [
    SignedDuration::from_mins(5),
    SignedDuration::from_mins(10),
    SignedDuration::from_mins(20),
    SignedDuration::from_mins(40),
];
/// The pause after the 5th and every later failure.
pub const RETRY_EVERY: SignedDuration = SignedDuration::from_hours(1);
/// A job is given up (permanent failure) when its next attempt would fall later than this
/// after it was queued.
pub const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(24);
/// How often a provider with a hub of its own looks for due retries (wall clock).
pub const RETRY_TIMER: Duration = Duration::from_secs(15);
/// The source of the limits, if `law::compute` cannot give it (De-Mail-G not in force on the
/// day; the simulation applies the TR's limits anyway). Same text as `law::procedure_rules`.
const PVD_FU_4_2: &str = "BSI TR 01201 Teil 3.1 (PVD-FU) Version 1.8, § 4.2 Transportzeiten";

/// The pause before the next attempt after `failures` failed attempts (1 = the first).
pub fn backoff(failures: u32) -> SignedDuration {
    let i = usize::try_from(failures.max(1) - 1).unwrap_or(usize::MAX);
    BACKOFF.get(i).copied().unwrap_or(RETRY_EVERY)
}

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

impl From<QueuedDelivery> for Job {
    fn from(q: QueuedDelivery) -> Self {
        Job {
            queue_id: q.id,
            target: q.target,
            envelope_from: q.envelope_from,
            mailbox: q.mailbox,
            message_id: q.message_id,
            raw: q.raw,
        }
    }
}

/// One delivery worker for a whole simulated world: every provider's pushes and relays go
/// through one queue, one attempt at a time, in the order they were handed over. Queue order
/// is causal order, so the trace stays deterministic when several providers hand mail to each
/// other (a worker per provider would race). A provider started alone gets a hub of its own.
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

    /// Hands a job of `shared`'s provider to the worker; false if the worker is gone. The
    /// first time a job is handed over, its queue time (the provider's clock, now) and its
    /// PVD-FU §4.2 limit are noted in the queue. Call it without holding the store's lock.
    pub(crate) fn send(&self, shared: &Shared, job: Job) -> bool {
        let now = shared.clock.timestamp();
        let rule = rule_for(shared, &job.mailbox);
        let due = due_of(shared, rule, now);
        if let Err(e) = lock(&shared.store).mark_queued(job.queue_id, now, rule, due) {
            tracing::error!("cannot note the queue time of {}: {e:#}", job.message_id);
        }
        let me = shared.me.get().cloned().unwrap_or_default();
        self.tx.send((me, job)).is_ok()
    }
}

/// The limit rule for a job to `mailbox`: into the mailbox's intake, or to a peer provider.
fn rule_for(shared: &Shared, mailbox: &str) -> &'static str {
    if shared.hosts(mailbox) {
        "provider-mailbox"
    } else {
        "provider-transfer"
    }
}

/// `t + d`, or the last representable instant (no panic on overflow).
fn later(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// The limit of `rule` for a job queued at `queued_at`: `law::compute_date` in the clock's
/// zone (civil local time, as the rule computes it). If the law gives none (De-Mail-G not in
/// force on that day), the TR's hours are added all the same.
fn due_of(shared: &Shared, rule: &str, queued_at: Timestamp) -> Timestamp {
    let tz = shared.clock.time_zone().clone();
    let hours = if rule == "provider-transfer" { 4 } else { 8 };
    let fallback = later(queued_at, SignedDuration::from_hours(hours));
    let civil = queued_at.to_zoned_datetime(tz.clone()).datetime();
    match demail_calendar::compute_date(
        rule,
        civil,
        &limit_place(),
        &demail_calendar::Options::default(),
    ) {
        Ok((_, demail_calendar::When::DateTime(dt))) => tz
            .to_zoned_datetime(dt)
            .map(|z| z.timestamp())
            .unwrap_or(fallback),
        Ok((_, demail_calendar::When::Date(_))) | Err(_) => fallback,
    }
}

/// The source of `rule`'s limit for a job queued at `queued_at`, as `law::compute` cites it.
fn source_of(shared: &Shared, rule: &str, queued_at: Timestamp) -> String {
    let civil = queued_at
        .to_zoned_datetime(shared.clock.time_zone().clone())
        .datetime();
    match demail_calendar::compute(
        rule,
        civil,
        &limit_place(),
        &demail_calendar::Options::default(),
    ) {
        Ok(d) => d
            .sources
            .first()
            .cloned()
            .unwrap_or_else(|| PVD_FU_4_2.to_string()),
        Err(e) => format!("{PVD_FU_4_2} (applied although: {e})"),
    }
}

/// The provider limits count clock hours; no holiday of any place moves them, so any place
/// will do for `law::compute`.
fn limit_place() -> demail_calendar::Place {
    demail_calendar::Place::land(demail_calendar::Land::Berlin)
}

/// Delivers jobs until the channel closes.
async fn run(mut jobs: mpsc::UnboundedReceiver<(Weak<Shared>, Job)>) {
    let mut pushes = Pushes::default();
    loop {
        // An open push session that has carried nothing for PUSH_IDLE (wall clock, a network
        // timeout like SEND_TIMEOUT) is closed with QUIT, as an SMTP client should not keep
        // an idle connection to someone else's server (RFC 5321 § 4.5.3.2).
        let next = if pushes.open.is_some() {
            match tokio::time::timeout(PUSH_IDLE, jobs.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    if let Some(mut open) = pushes.open.take() {
                        let _ = tokio::time::timeout(SEND_TIMEOUT, open.conn.quit()).await;
                    }
                    continue;
                }
            }
        } else {
            jobs.recv().await
        };
        let Some((shared, job)) = next else {
            break;
        };
        // A provider that was shut down keeps its queued pushes in its database.
        let Some(shared) = shared.upgrade() else {
            continue;
        };
        attempt(&shared, &job, &mut pushes).await;
        shared.activity.delivery_done();
    }
    if let Some(open) = pushes.open.take() {
        let mut conn = open.conn;
        conn.abort().await;
    }
}

/// How long an idle push session stays open (wall clock).
const PUSH_IDLE: Duration = Duration::from_secs(30);

/// The worker's push connections. The last push session stays open and carries the next
/// push by the same provider to the same intake listener (SMTP allows any number of
/// transactions per session, RFC 5321 § 3.3), so a push costs no new TCP and TLS handshake;
/// before reuse a NOOP checks that the intake has not closed it. A session whose transaction
/// failed is closed, never reused. The STARTTLS parameters (the target's CA as the only root)
/// are built once per provider and TLS setting, which also lets rustls resume TLS sessions.
#[derive(Default)]
struct Pushes {
    open: Option<PushSession>,
    tls: std::collections::HashMap<(String, PushTls), TlsParameters>,
}

struct PushSession {
    provider: String,
    target: SocketAddr,
    /// The TLS settings the session was opened with; a changed setting opens a new one.
    tls: PushTls,
    conn: AsyncSmtpConnection,
}

/// Makes one attempt at a job, records the outcome in the queue and the trace.
async fn attempt(shared: &Shared, job: &Job, pushes: &mut Pushes) {
    let read = lock(&shared.store).delivery(job.queue_id);
    let record = match read {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::error!("delivery {} is not in the queue", job.queue_id);
            return;
        }
        Err(e) => {
            tracing::error!("cannot read delivery {}: {e:#}", job.queue_id);
            return;
        }
    };
    if record.state != DeliveryState::Pending {
        // Delivered or failed meanwhile, or waiting for a retry: not this worker's turn.
        return;
    }
    shared.activity.bump();
    // A planned fault at the push face (docs/faults.md); hand-overs to peers are not a face.
    let hit = if shared.hosts(&job.mailbox) {
        shared.fault(
            crate::fault::Face::Push,
            None,
            Some(&job.mailbox),
            &job.message_id,
        )
    } else {
        None
    };
    let mut held_back = None;
    let outcome = match hit.as_ref().map(|h| (&h.id, &h.action)) {
        Some((id, crate::fault::Action::Delay(d))) => {
            held_back = Some(*d);
            Err((false, format!("held back {d:#} by planned fault {id:?}")))
        }
        Some((id, crate::fault::Action::Reorder)) => {
            let d = crate::fault::REORDER_HOLD;
            held_back = Some(d);
            Err((
                false,
                format!(
                    "held back {d:#} by planned fault {id:?} (reorder): what is pushed meanwhile overtakes it"
                ),
            ))
        }
        Some((id, crate::fault::Action::Drop)) => {
            let what = drop_in_data(shared, job).await;
            Err((false, format!("{what} (planned fault {id:?})")))
        }
        Some((id, crate::fault::Action::Duplicate)) => {
            let first = send_once(shared, job, pushes).await;
            if first.is_ok() {
                // The same message once more, as after a timeout that hid the first 250; a
                // delivered duplicate is a `provider.delivered` of its own.
                match send_once(shared, job, pushes).await {
                    Ok(()) => shared.trace.emit(EventKind::ProviderDelivered {
                        provider: shared.config.id.clone(),
                        mailbox: job.mailbox.clone(),
                        message_id: job.message_id.clone(),
                        attempt: record.attempts.saturating_add(1),
                        eml: shared.wire_log.record(&job.raw),
                    }),
                    Err((_, e)) => {
                        tracing::warn!("the duplicate of {} (fault {id:?}): {e}", job.message_id)
                    }
                }
            }
            first
        }
        _ => send_once(shared, job, pushes).await,
    };
    shared.activity.bump();
    let now = shared.clock.timestamp();
    let attempt = record.attempts.saturating_add(1);
    let queued_at = record.queued_at.unwrap_or(now);
    let (stored, event) = match outcome {
        Ok(()) => {
            let eml = shared.wire_log.record(&job.raw);
            (
                AttemptOutcome::Delivered { at: now },
                EventKind::ProviderDelivered {
                    provider: shared.config.id.clone(),
                    mailbox: job.mailbox.clone(),
                    message_id: job.message_id.clone(),
                    attempt,
                    eml,
                },
            )
        }
        Err((permanent, reason)) => {
            // Visible beyond the trace and the store: the operator's log names the mailbox,
            // the receiver and its reply (or the connection or TLS error).
            tracing::warn!(
                provider = %shared.config.id,
                mailbox = %job.mailbox,
                target = %job.target,
                attempt,
                permanent,
                "{} of {} failed: {reason}",
                if shared.hosts(&job.mailbox) { "push" } else { "hand-over" },
                job.message_id,
            );
            let next = later(now, held_back.unwrap_or_else(|| backoff(attempt)));
            let give_up = !permanent && next > later(queued_at, GIVE_UP_AFTER);
            let reason = if give_up {
                format!(
                    "{reason}; given up after {attempt} attempts, {} h after queueing",
                    GIVE_UP_AFTER.as_hours()
                )
            } else {
                reason
            };
            let retry = !permanent && !give_up;
            let stored = if retry {
                AttemptOutcome::Retry {
                    reason: reason.clone(),
                    next_attempt_at: next,
                }
            } else {
                AttemptOutcome::Failed {
                    reason: reason.clone(),
                }
            };
            (
                stored,
                EventKind::ProviderDeliveryFailed {
                    provider: shared.config.id.clone(),
                    mailbox: job.mailbox.clone(),
                    message_id: job.message_id.clone(),
                    attempt,
                    permanent: !retry,
                    reason,
                    retry_at: retry.then(|| instant(shared, next)),
                },
            )
        }
    };
    if let Err(e) = lock(&shared.store).record_attempt(job.queue_id, &stored) {
        tracing::error!("cannot record the delivery of {}: {e:#}", job.message_id);
    }
    shared.trace.emit(event);
    // A hand-over to a peer provider that failed for good: the message never reached the
    // recipient's provider, so its sender gets a Meldung. A push into an intake is different:
    // the message is in the Funktionspostfach already (Eingang), the intake can still fetch it
    // over the gateway API, and `provider.late` reports the missed limit.
    if let AttemptOutcome::Failed { reason } = &stored
        && !shared.hosts(&job.mailbox)
        && let Err(e) = notify_sender(shared, job, reason)
    {
        tracing::error!(
            "cannot send the Meldung about {}: {}",
            job.message_id,
            e.text
        );
    }
    if let AttemptOutcome::Delivered { at } = stored {
        let rule = record
            .rule
            .clone()
            .unwrap_or_else(|| rule_for(shared, &job.mailbox).to_string());
        let due = record
            .due_at
            .unwrap_or_else(|| due_of(shared, &rule, queued_at));
        if at > due {
            shared.trace.emit(EventKind::ProviderLate {
                provider: shared.config.id.clone(),
                mailbox: job.mailbox.clone(),
                message_id: job.message_id.clone(),
                source: source_of(shared, &rule, queued_at),
                rule,
                queued_at: instant(shared, queued_at),
                limit: instant(shared, due),
                delivered_at: Some(instant(shared, at)),
                attempts: attempt,
                reason: record.last_error.clone(),
            });
        }
    }
}

/// Lays a Meldung (type "other", PVD-IO Tabelle 22) into the mailbox of the sender of a message
/// whose hand-over to its recipient's provider failed for good (PVD-FU Schritt 45 by analogy;
/// RFC 5321 § 6.1). None about a message from a system address (no Meldung about a Meldung).
fn notify_sender(shared: &Shared, job: &Job, reason: &str) -> Result<(), super::accept::Refusal> {
    let parsed = demail_wire::headers::RawMessage::parse(&job.raw).ok();
    let header = |name: &str| parsed.as_ref().and_then(|m| m.first(name));
    let sender = demail_wire::normalize_address(&job.envelope_from);
    let now = shared.clock.now();
    let mut work = super::accept::Work::begin(shared)?;
    let result = (|| {
        let f = demail_wire::notification::NotificationFacts {
            provider_domain: shared.config.domain.clone(),
            provider_name: shared.config.name.clone(),
            message_id: work.next_id()?,
            date: demail_core::clock::format_rfc5322(&now),
            time: format_instant(&now),
            to: header("reply-to")
                .map(|r| demail_wire::normalize_address(&r))
                .unwrap_or_else(|| sender.clone()),
            recipient: job.mailbox.clone(),
            reason: demail_wire::notification::Undeliverable::TransferFailed,
            original_subject: header("subject").unwrap_or_default(),
            original_message_id: job.message_id.clone(),
            original_rfc_message_id: header("message-id"),
            original_private_id: header(demail_wire::h::PRIVATE_ID),
        };
        tracing::debug!("Meldung about {}: {reason}", job.message_id);
        super::accept::issue_notification(&mut work, &f, &sender)
    })();
    work.finish(result)
}

/// An instant for the trace, in the clock's zone.
fn instant(shared: &Shared, at: Timestamp) -> String {
    format_instant(&at.to_zoned_datetime(shared.clock.time_zone().clone()))
}

/// The world's entry point for the delivery queue, to be called at every virtual instant
/// (before settling): first reports, once, each job of `providers` still undelivered after
/// its PVD-FU §4.2 limit (`provider.late`, ordered by limit, provider position, queue id), then
/// hands every retry due at the providers' clock to the delivery worker, ordered by
/// `(next_attempt_at, provider position, queue id)`. Returns how many attempts it started;
/// they count as pending deliveries until made.
pub fn retry_due(providers: &[Provider]) -> usize {
    let shared: Vec<&Arc<Shared>> = providers.iter().map(|p| &p.shared).collect();
    retry_due_shared(&shared)
}

/// The earliest virtual instant at which [`retry_due`] has something to do for `providers`:
/// a retry falls due, or a limit passes undelivered. `None`: nothing waits. A runner that
/// advances its clock by ticks should not step over it.
pub fn next_wakeup(providers: &[Provider]) -> Option<Timestamp> {
    providers
        .iter()
        .filter_map(|p| next_wakeup_of(&p.shared))
        .min()
}

impl Provider {
    /// [`retry_due`] for this provider alone.
    pub fn retry_due(&self) -> usize {
        retry_due_shared(&[&self.shared])
    }

    /// [`next_wakeup`] for this provider alone.
    pub fn next_delivery_wakeup(&self) -> Option<Timestamp> {
        next_wakeup_of(&self.shared)
    }

    /// The provider's delivery queue in queue order, with attempts, state and virtual times.
    pub fn delivery_queue(&self) -> anyhow::Result<Vec<DeliveryRecord>> {
        lock(&self.shared.store).deliveries()
    }
}

fn next_wakeup_of(shared: &Shared) -> Option<Timestamp> {
    match lock(&shared.store).next_wakeup() {
        Ok(at) => at,
        Err(e) => {
            tracing::error!(
                "cannot read the delivery queue of {}: {e:#}",
                shared.config.id
            );
            None
        }
    }
}

fn retry_due_shared(providers: &[&Arc<Shared>]) -> usize {
    let mut overdue: Vec<(Timestamp, usize, DeliveryRecord)> = Vec::new();
    let mut due: Vec<(Timestamp, usize, QueuedDelivery)> = Vec::new();
    for (i, shared) in providers.iter().enumerate() {
        let now = shared.clock.timestamp();
        let mut store = lock(&shared.store);
        match store.take_overdue(now) {
            Ok(list) => overdue.extend(list.into_iter().map(|r| (r.due_at.unwrap_or(now), i, r))),
            Err(e) => tracing::error!(
                "cannot read the delivery queue of {}: {e:#}",
                shared.config.id
            ),
        }
        match store.take_due(now) {
            Ok(list) => due.extend(list.into_iter().map(|(at, q)| (at, i, q))),
            Err(e) => tracing::error!(
                "cannot read the delivery queue of {}: {e:#}",
                shared.config.id
            ),
        }
    }
    overdue.sort_by_key(|a| (a.0, a.1, a.2.id));
    for (_, i, r) in overdue {
        let shared = providers[i];
        let queued_at = r.queued_at.unwrap_or_else(|| shared.clock.timestamp());
        let rule = r
            .rule
            .clone()
            .unwrap_or_else(|| rule_for(shared, &r.mailbox).to_string());
        let due = r.due_at.unwrap_or_else(|| due_of(shared, &rule, queued_at));
        shared.trace.emit(EventKind::ProviderLate {
            provider: shared.config.id.clone(),
            mailbox: r.mailbox,
            message_id: r.message_id,
            source: source_of(shared, &rule, queued_at),
            rule,
            queued_at: instant(shared, queued_at),
            limit: instant(shared, due),
            delivered_at: None,
            attempts: r.attempts,
            reason: r.last_error,
        });
    }
    due.sort_by_key(|a| (a.0, a.1, a.2.id));
    let started = due.len();
    for (_, i, q) in due {
        let shared = providers[i];
        shared.activity.delivery_queued();
        if !shared.deliveries.send(shared, Job::from(q)) {
            // The worker is gone (shutdown); the job stays pending in the database.
            shared.activity.delivery_done();
        }
    }
    started
}

/// Calls [`Provider::retry_due`] for the provider behind `shared` every [`RETRY_TIMER`] until
/// the provider is gone. For a provider with a hub of its own (`serve`, tests); a runner calls
/// [`retry_due`] itself.
pub(crate) fn spawn_retry_timer(shared: Weak<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RETRY_TIMER);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            retry_due_shared(&[&shared]);
        }
    })
}

/// A push dropped in the middle of DATA ([`push::drop_in_data`]) to the job's target with its
/// mailbox's TLS settings.
async fn drop_in_data(shared: &Shared, job: &Job) -> String {
    let (Ok(from), Ok(to)) = (
        job.envelope_from.parse::<Address>(),
        job.mailbox.parse::<Address>(),
    ) else {
        return "unusable envelope".to_string();
    };
    let Ok(envelope) = Envelope::new(Some(from), vec![to]) else {
        return "unusable envelope".to_string();
    };
    let tls = match &push_tls_of(shared, job) {
        PushTls::Plain => None,
        PushTls::StartTls {
            server_name,
            ca_pem,
        } => match push::tls_parameters(server_name, ca_pem.as_deref().unwrap_or(&shared.ca_pem)) {
            Ok(t) => Some(t),
            Err(e) => return e,
        },
    };
    let hello = lettre::transport::smtp::extension::ClientId::Domain(format!(
        "smtp.{}",
        shared.config.domain
    ));
    push::drop_in_data(job.target, tls, &hello, &envelope, &job.raw).await
}

/// The TLS settings of the job's mailbox, if the job still goes to its target (the default
/// otherwise).
fn push_tls_of(shared: &Shared, job: &Job) -> PushTls {
    lock(&shared.store)
        .account(&job.mailbox)
        .and_then(|a| a.push_target)
        .filter(|t| t.addr == job.target)
        .map(|t| t.tls)
        .unwrap_or_default()
}

/// A TLS error's text without the wall-clock instant rustls checked a certificate's validity
/// at ("certificate expired: verification time … (UNIX), but certificate is not valid after
/// … (… seconds ago)"): the trace must not depend on the wall clock (ARCHITECTURE.md,
/// determinism). What stays says the certificate had expired.
fn without_wall_clock(reason: String) -> String {
    const EXPIRED: &str = "certificate expired";
    match reason.find(EXPIRED) {
        Some(i) if reason[i..].contains("verification time") => {
            format!("{}{EXPIRED}", &reason[..i])
        }
        _ => reason,
    }
}

/// One SMTP transaction; `Err((permanent, reason))` on failure.
async fn send_once(shared: &Shared, job: &Job, pushes: &mut Pushes) -> Result<(), (bool, String)> {
    let temp = |e: String| (false, e);
    let from: Address = job
        .envelope_from
        .parse()
        .map_err(|e| (true, format!("envelope sender {}: {e}", job.envelope_from)))?;
    let to: Address = job
        .mailbox
        .parse()
        .map_err(|e| (true, format!("recipient {}: {e}", job.mailbox)))?;
    let envelope = Envelope::new(Some(from), vec![to]).map_err(|e| (true, e.to_string()))?;
    let hello = lettre::transport::smtp::extension::ClientId::Domain(format!(
        "smtp.{}",
        shared.config.domain
    ));
    let smtp = |e: lettre::transport::smtp::Error| (e.is_permanent(), e.to_string());
    // A mailbox of this provider is pushed to its intake (STARTTLS); a foreign one goes to the
    // peer provider's relay face: implicit TLS, our certificate as client certificate, and the
    // peer's certificate must carry its provider domain (IT-BInfra-IO Tabelle 1).
    if !shared.hosts(&job.mailbox) {
        let relay = shared
            .route(&job.mailbox)
            .ok_or_else(|| temp(format!("no route to the domain of {}", job.mailbox)))?;
        let ca = Certificate::from_pem(shared.ca_pem.as_bytes())
            .map_err(|e| temp(format!("test CA: {e}")))?;
        // lettre 0.11.23's rustls path takes the certificate argument as DER despite the
        // name `from_pem` (it wraps the bytes unparsed); the key is parsed from PEM.
        let identity = lettre::transport::smtp::client::Identity::from_pem(
            shared.relay_identity.cert_der.as_ref(),
            shared.relay_identity.key_pem.as_bytes(),
        )
        .map_err(|e| temp(format!("client certificate: {e}")))?;
        let tls = TlsParameters::builder(relay.provider_domain.clone())
            .add_root_certificate(ca)
            .identify_with(identity)
            .build_rustls()
            .map_err(|e| temp(format!("TLS parameters: {e}")))?;
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(job.target.ip().to_string())
                .port(job.target.port())
                .tls(Tls::Wrapper(tls))
                .hello_name(hello)
                .timeout(Some(SEND_TIMEOUT))
                .build();
        return match tokio::time::timeout(SEND_TIMEOUT, transport.send_raw(&envelope, &job.raw))
            .await
        {
            Err(_) => Err(temp(format!(
                "no answer within {} s",
                SEND_TIMEOUT.as_secs()
            ))),
            Ok(r) => r
                .map(drop)
                .map_err(smtp)
                .map_err(|(p, e)| (p, without_wall_clock(e))),
        };
    }
    let provider = shared.config.id.clone();
    let target = job.target;
    let push_tls = push_tls_of(shared, job);
    let tls = match &push_tls {
        PushTls::Plain => None,
        PushTls::StartTls {
            server_name,
            ca_pem,
        } => {
            let key = (provider.clone(), push_tls.clone());
            match pushes.tls.get(&key) {
                Some(t) => Some(t.clone()),
                None => {
                    let t = push::tls_parameters(
                        server_name,
                        ca_pem.as_deref().unwrap_or(&shared.ca_pem),
                    )
                    .map_err(temp)?;
                    pushes.tls.insert(key, t.clone());
                    Some(t)
                }
            }
        }
    };
    let open = pushes.open.take();
    let transaction = async {
        let reused = match open {
            Some(mut s) if s.provider == provider && s.target == target && s.tls == push_tls => {
                if s.conn.test_connected().await {
                    Some(s.conn)
                } else {
                    s.conn.abort().await;
                    None
                }
            }
            Some(mut s) => {
                s.conn.abort().await;
                None
            }
            None => None,
        };
        let mut conn = match reused {
            Some(c) => c,
            None => push::connect(target, tls, &hello).await?,
        };
        match conn.send(&envelope, &job.raw).await {
            Ok(_) => Ok(conn),
            Err(e) => {
                conn.abort().await;
                Err(smtp(e))
            }
        }
    };
    match tokio::time::timeout(SEND_TIMEOUT, transaction).await {
        Err(_) => Err(temp(format!(
            "no answer within {} s",
            SEND_TIMEOUT.as_secs()
        ))),
        Ok(Ok(conn)) => {
            pushes.open = Some(PushSession {
                provider,
                target,
                tls: push_tls,
                conn,
            });
            Ok(())
        }
        Ok(Err(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An expired certificate's error keeps its kind and loses the wall-clock instant.
    #[test]
    fn certificate_errors_lose_the_wall_clock() {
        let e = "Connection error: invalid peer certificate: certificate expired: verification time 1796488190 (UNIX), but certificate is not valid after 978307200 (818180990 seconds ago)";
        assert_eq!(
            without_wall_clock(e.to_string()),
            "Connection error: invalid peer certificate: certificate expired"
        );
        let other = "Connection error: invalid peer certificate: UnknownIssuer";
        assert_eq!(without_wall_clock(other.to_string()), other);
    }

    /// 5, 10, 20, 40 minutes, then hourly; with the 24-hour horizon that makes 27 attempts,
    /// the last 23 h 15 min after queueing (docs/delivery.md).
    #[test]
    fn backoff_schedule_and_horizon() {
        let mins: Vec<i64> = (1..=7).map(|n| backoff(n).as_mins()).collect();
        assert_eq!(mins, [5, 10, 20, 40, 60, 60, 60]);
        assert_eq!(backoff(0).as_mins(), 5);
        assert_eq!(backoff(u32::MAX), RETRY_EVERY);
        let mut at = SignedDuration::ZERO;
        let mut attempts = 1;
        while at + backoff(attempts) <= GIVE_UP_AFTER {
            at += backoff(attempts);
            attempts += 1;
        }
        assert_eq!((attempts, at.as_mins()), (27, 23 * 60 + 15));
        assert_eq!(later(Timestamp::MAX, RETRY_EVERY), Timestamp::MAX);
    }
}
