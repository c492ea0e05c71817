//! The open-model driver: arrivals start on their intended wall instant whether or not
//! earlier ones have finished (k6's arrival-rate executors). An arrival that cannot start
//! on time because `max_in_flight` sessions are open is counted as dropped, never delayed.
//! An arrival whose task starts late (a busy machine) still counts its latencies from the
//! intended instant, so a stall shows in the percentiles (coordinated omission, wrk2).
//!
//! Each arrival is one citizen's SMTP session: connect, STARTTLS, AUTH PLAIN, MAIL, RCPT,
//! DATA with a message composed from the `[[mix]]` entry, QUIT.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use demail_sim::demail::compose::{Draft, mailbox};
use demail_sim::demail::{DeMailOption, h};
use demail_sim::world::submit::{Submitter, enhanced_of};
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;

use super::observe::{Outcome, Shared, lock};
use super::profile::{MixEntry, Profile};
use super::schedule::{Arrival, Habit, User};

/// What an arrival's task needs, shared by all of them.
pub struct Ctx {
    pub profile: Arc<Profile>,
    pub users: Arc<Vec<User>>,
    pub passwords: Arc<Vec<String>>,
    pub submitter: Arc<Submitter>,
    pub submission: std::net::SocketAddr,
    pub live: Shared,
    pub clock: demail_sim::clock::VirtualClock,
}

/// Runs the schedule: starts every arrival at `live.start + offset` (or drops it), then
/// waits for the open sessions and, up to `drain`, for the outstanding replies. `stop`
/// turning true (SIGINT, SIGTERM) ends the schedule early; what ran is reported.
pub async fn drive(
    ctx: Arc<Ctx>,
    arrivals: Arc<Vec<Arrival>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let start = lock(&ctx.live).start;
    let permits = Arc::new(tokio::sync::Semaphore::new(ctx.profile.max_in_flight));
    for (i, a) in arrivals.iter().enumerate() {
        let at = tokio::time::sleep_until((start + Duration::from_micros(a.offset_us)).into());
        tokio::select! {
            () = at => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        if *stop.borrow() {
            // Stopped by a signal: the rest never ran (neither started nor dropped).
            lock(&ctx.live)
                .results
                .bump("interrupted", (arrivals.len() - i) as u64);
            break;
        }
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                lock(&ctx.live).started(a);
                let ctx = ctx.clone();
                let a = a.clone();
                tokio::spawn(async move {
                    let (outcome, at) = submit(&ctx, &a).await;
                    lock(&ctx.live).finished(&a, outcome, at);
                    drop(permit);
                });
            }
            Err(_) => lock(&ctx.live).dropped(a),
        }
    }
    // Every session ends within its timeout; wait for the last ones.
    let all = ctx.profile.max_in_flight as u32;
    let _ = tokio::time::timeout(
        ctx.profile.timeout + Duration::from_secs(5),
        permits.acquire_many(all),
    )
    .await;
    let drain_until = Instant::now() + ctx.profile.drain;
    while Instant::now() < drain_until && !*stop.borrow() {
        if lock(&ctx.live).unanswered() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One citizen's submission and the instant of its answer (the 250 or the refusal, before
/// QUIT); never panics on the answer.
async fn submit(ctx: &Ctx, a: &Arrival) -> (Outcome, Instant) {
    let work = async {
        let user = ctx.users.get(a.citizen).context("citizen index")?;
        let mix = ctx.profile.mix.get(a.mix).context("mix index")?;
        let raw = compose(ctx, a, user, mix);
        let from: Address = user.address.parse().context("citizen address")?;
        let to: Address = mix.to.parse().context("recipient address")?;
        let envelope = Envelope::new(Some(from), vec![to])?;
        let password = ctx.passwords.get(a.citizen).cloned().unwrap_or_default();
        let credentials = Credentials::new(user.address.clone(), password);
        let conn = match ctx.submitter.open(ctx.submission, &credentials).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return anyhow::Ok((smtp_error(&e), Instant::now())),
            Err(_) => {
                let error = Outcome::Error {
                    kind: "connect".into(),
                };
                return Ok((error, Instant::now()));
            }
        };
        let mut conn = conn;
        let sent = conn.send(&envelope, &raw).await;
        let answered = Instant::now();
        let outcome = match sent {
            Ok(resp) => Outcome::Accepted {
                message_id: resp
                    .message()
                    .last()
                    .and_then(|l| l.split_whitespace().last())
                    .map(str::to_string),
            },
            Err(e) => smtp_error(&e),
        };
        conn.abort().await;
        Ok((outcome, answered))
    };
    match tokio::time::timeout(ctx.profile.timeout, work).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => (
            Outcome::Error {
                kind: format!("{e:#}"),
            },
            Instant::now(),
        ),
        Err(_) => (
            Outcome::Error {
                kind: "timeout".into(),
            },
            Instant::now(),
        ),
    }
}

/// A refusal keyed by its reply ("550 5.7.1"), or an error without an SMTP answer.
fn smtp_error(e: &lettre::transport::smtp::Error) -> Outcome {
    match e.status() {
        Some(code) => {
            let enhanced = enhanced_of(&e.to_string());
            Outcome::Refused {
                reply: format!("{} {enhanced}", u16::from(code)).trim().to_string(),
            }
        }
        None => Outcome::Error {
            kind: if e.is_timeout() {
                "timeout".into()
            } else {
                "smtp".into()
            },
        },
    }
}

/// The message of arrival `a`: the mix entry's subject, body and options, the citizen's
/// habit applied, private id `LOAD-<index>` (copied into its confirmations).
fn compose(ctx: &Ctx, a: &Arrival, user: &User, mix: &MixEntry) -> Vec<u8> {
    let domain = user
        .address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let now = ctx.clock.now();
    let mut options = mix.options.clone();
    let mut misspelt = false;
    match a.habit {
        Habit::None => {}
        Habit::MissingAuthoritative => options.retain(|o| *o != DeMailOption::Authoritative),
        Habit::MisspeltHeader => {
            if options.contains(&DeMailOption::Authoritative) {
                options.retain(|o| *o != DeMailOption::Authoritative);
                misspelt = true;
            }
        }
    }
    let mut draft = Draft::new()
        .header_raw("From", &mailbox(&user.name, &user.address))
        .header_raw("To", &format!("<{}>", mix.to))
        .header("Subject", &mix.subject)
        .header_raw("Date", &demail_sim::clock::format_rfc5322(&now))
        .header_raw(
            "Message-ID",
            &format!("<load-{}-{}@{domain}>", ctx.profile.seed, a.index),
        );
    for opt in &options {
        draft = draft.header_raw(opt.header(), "yes");
    }
    if misspelt {
        draft = draft.header("X-de-mail-absenderbestaetig", "yes");
    }
    draft = draft.header_raw(h::PRIVATE_ID, &format!("LOAD-{}", a.index));
    draft.text_body(&mix.body).to_bytes()
}
