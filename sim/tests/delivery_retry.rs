//! Retries of pushes and hand-overs in virtual time, and the report against the transport
//! limits of PVD-FU §4.2 (docs/delivery.md). A provider on a virtual clock pushes into a small
//! SMTP sink with STARTTLS (test PKI) whose answer to RCPT the test sets: 250, 451 4.3.2 or
//! 550 5.1.1. Nothing is tried again before the virtual clock reaches the next attempt and
//! `retry_due` is called; a 5xx is never retried; a delivery after 8 hours is reported late; a
//! hand-over to an unreachable peer is reported after 4 hours and given up after 24.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use demail_sim::demail::AuthLevel;
use demail_sim::pki::TestPki;
use demail_sim::provider::delivery::{self, DeliveryHub};
use demail_sim::provider::store::DeliveryState;
use demail_sim::provider::{AccountKind, Route};
use demail_sim::trace::EventKind;
use jiff::{SignedDuration, Timestamp};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::common;

use common::WorldBuilder;

const CITIZEN: &str = "erika.mustermann@dmda-a.de-mail.de";
const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
const PEER: &str = "max.mustermann@dmda-b.de-mail.de";

/// How the sink answers RCPT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Accept,
    TryLater,
    NoSuchUser,
}

/// A minimal SMTP server with STARTTLS, standing in for an intake's listener.
struct Sink {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    /// RCPT commands seen (one per attempt).
    rcpts: Arc<Mutex<usize>>,
    /// Messages taken (after DATA).
    accepted: Arc<Mutex<Vec<String>>>,
    /// TCP connections accepted.
    connections: Arc<Mutex<usize>>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Sink {
    async fn start(pki: &TestPki, mode: Mode) -> Sink {
        let tls = pki
            .issue("localhost", &["localhost", "127.0.0.1"])
            .unwrap()
            .server_config()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Sink {
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(Mutex::new(mode)),
            rcpts: Arc::new(Mutex::new(0)),
            accepted: Arc::new(Mutex::new(Vec::new())),
            connections: Arc::new(Mutex::new(0)),
        };
        let (mode, rcpts, accepted, connections) = (
            sink.mode.clone(),
            sink.rcpts.clone(),
            sink.accepted.clone(),
            sink.connections.clone(),
        );
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *connections.lock().unwrap() += 1;
                let (tls, mode, rcpts, accepted) =
                    (tls.clone(), mode.clone(), rcpts.clone(), accepted.clone());
                tokio::spawn(async move {
                    let _ = session(Box::new(stream), tls, mode, rcpts, accepted).await;
                });
            }
        });
        sink
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn rcpts(&self) -> usize {
        *self.rcpts.lock().unwrap()
    }

    fn accepted(&self) -> Vec<String> {
        self.accepted.lock().unwrap().clone()
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

/// One SMTP session of the sink.
async fn session(
    stream: Box<dyn Io>,
    tls: Arc<rustls::ServerConfig>,
    mode: Arc<Mutex<Mode>>,
    rcpts: Arc<Mutex<usize>>,
    accepted: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    let mut secure = false;
    io.get_mut().write_all(b"220 sink ESMTP\r\n").await?;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if verb.starts_with("EHLO") {
            if secure {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else {
                b"250-sink\r\n250 STARTTLS\r\n"
            }
        } else if verb == "STARTTLS" {
            io.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await?;
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            let upgraded = acceptor.accept(io.into_inner()).await?;
            io = BufReader::new(Box::new(upgraded));
            secure = true;
            continue;
        } else if verb.starts_with("MAIL") || verb == "RSET" || verb == "NOOP" {
            b"250 2.0.0 ok\r\n"
        } else if verb.starts_with("RCPT") {
            *rcpts.lock().unwrap() += 1;
            let mode = *mode.lock().unwrap();
            match mode {
                Mode::Accept => b"250 2.1.5 ok\r\n",
                Mode::TryLater => b"451 4.3.2 try later\r\n",
                Mode::NoSuchUser => b"550 5.1.1 no such mailbox\r\n",
            }
        } else if verb == "DATA" {
            io.get_mut().write_all(b"354 go on\r\n").await?;
            let mut message = String::new();
            loop {
                let mut l = String::new();
                if io.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                message.push_str(&l);
            }
            accepted.lock().unwrap().push(message);
            b"250 2.0.0 taken\r\n"
        } else if verb == "QUIT" {
            io.get_mut().write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.1 not here\r\n"
        };
        io.get_mut().write_all(reply).await?;
        io.get_mut().flush().await?;
    }
}

/// The shared test world and the world's delivery worker.
struct World {
    world: common::World,
    _hub: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for World {
    type Target = common::World;
    fn deref(&self) -> &common::World {
        &self.world
    }
}

/// A provider on a virtual clock at 2025-03-03 09:00 (Berlin), with a world's hub (so no
/// retry timer: only the test calls `retry_due`).
async fn world() -> World {
    let (hub, task) = DeliveryHub::start();
    let world = WorldBuilder::new()
        .account(CITIZEN, AccountKind::Person, AuthLevel::High)
        .account(INTAKE, AccountKind::Institution, AuthLevel::High)
        .hub(&hub)
        .start()
        .await;
    World { world, _hub: task }
}

impl World {
    /// The citizen submits a message to `to` (250 expected).
    async fn submit(&self, to: &str, subject: &str) {
        let raw = format!(
            "From: <{CITIZEN}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
             Message-ID: <{subject}@test>\r\n\r\nHallo\r\n"
        );
        common::submit(
            self.provider.submission_addr(),
            &self.pki,
            CITIZEN,
            to,
            &raw,
        )
        .await;
    }

    /// Waits until no session is open, no delivery pending, and nothing moved for 50 ms.
    async fn settle(&self) {
        let activity = self.provider.activity();
        let started = Instant::now();
        let mut last = activity.snapshot();
        let mut quiet = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let s = activity.snapshot();
            if s != last {
                last = s;
                quiet = Instant::now();
            } else if s.is_idle() && quiet.elapsed() >= Duration::from_millis(50) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "never settled: {s:?}"
            );
        }
    }

    /// Moves the clock to `at`, calls the retry entry point and settles; returns how many
    /// attempts it started.
    async fn at(&self, at: &str) -> usize {
        self.clock.advance_to(ts(at));
        let n = self.provider.retry_due();
        self.settle().await;
        n
    }

    /// The failed attempts in the trace: (attempt, permanent, retry_at, reason).
    fn failures(&self) -> Vec<(u32, bool, Option<String>, String)> {
        self.trace
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::ProviderDeliveryFailed {
                    attempt,
                    permanent,
                    retry_at,
                    reason,
                    ..
                } => Some((attempt, permanent, retry_at, reason)),
                _ => None,
            })
            .collect()
    }

    /// (attempt, at) of every delivery in the trace.
    fn deliveries(&self) -> Vec<(u32, String)> {
        self.trace
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::ProviderDelivered { attempt, .. } => Some((attempt, e.at)),
                _ => None,
            })
            .collect()
    }

    /// The `provider.late` events with their trace time.
    fn late(&self) -> Vec<(String, EventKind)> {
        self.trace
            .events()
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::ProviderLate { .. }))
            .map(|e| (e.at, e.kind))
            .collect()
    }
}

fn ts(at: &str) -> Timestamp {
    at.parse().unwrap()
}

/// A 451 is retried only when the virtual clock reaches the backoff (5, then 10, 20 min) and
/// `retry_due` is called; a job waiting for a retry does not keep the provider busy. The
/// 8-hour limit passing undelivered is reported once, with the last reason; the delivery
/// after it happens exactly once and is reported late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_failure_waits_in_virtual_time_and_a_late_delivery_is_reported() {
    let w = world().await;
    let sink = Sink::start(&w.pki, Mode::TryLater).await;
    w.provider.set_push_target(INTAKE, sink.addr).unwrap();
    w.submit(INTAKE, "Gewerbeanzeige").await;
    w.settle().await;
    assert_eq!(sink.rcpts(), 1, "one attempt at once");
    let f = w.failures();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].0, f[0].1, f[0].2.as_deref()),
        (1, false, Some("2025-03-03T09:05:00+01:00"))
    );
    assert!(f[0].3.contains("4.3.2"), "{}", f[0].3);
    assert!(
        w.provider.activity().snapshot().is_idle(),
        "a waiting retry is not pending"
    );
    assert_eq!(
        w.provider.next_delivery_wakeup(),
        Some(ts("2025-03-03T09:05:00+01:00"))
    );
    let q = w.provider.delivery_queue().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].state, q[0].attempts), (DeliveryState::Retry, 1));
    assert_eq!(q[0].queued_at, Some(ts("2025-03-03T09:00:00+01:00")));
    assert_eq!(q[0].due_at, Some(ts("2025-03-03T17:00:00+01:00")));

    // Not before the backoff, however often the entry point is called.
    assert_eq!(w.at("2025-03-03T09:04:59+01:00").await, 0);
    assert_eq!(w.provider.retry_due(), 0);
    w.settle().await;
    assert_eq!(sink.rcpts(), 1, "no second attempt before 09:05 virtual");

    // At 09:05 the second attempt, which schedules the third 10 minutes later.
    assert_eq!(w.at("2025-03-03T09:05:00+01:00").await, 1);
    assert_eq!(sink.rcpts(), 2);
    assert_eq!(
        w.failures()[1].2.as_deref(),
        Some("2025-03-03T09:15:00+01:00")
    );
    assert_eq!(w.at("2025-03-03T09:14:00+01:00").await, 0);
    assert_eq!(sink.rcpts(), 2);
    assert!(w.late().is_empty());

    // The limit (17:00) passes undelivered: reported once, then the due retry is made.
    assert_eq!(w.at("2025-03-03T17:00:00+01:00").await, 1);
    assert!(w.late().is_empty(), "on time up to the limit itself");
    assert_eq!(
        w.provider.next_delivery_wakeup(),
        Some(ts("2025-03-03T17:00:01+01:00"))
    );
    assert_eq!(w.at("2025-03-03T17:00:01+01:00").await, 0);
    let late = w.late();
    assert_eq!(late.len(), 1);
    let (
        at,
        EventKind::ProviderLate {
            rule,
            queued_at,
            limit,
            delivered_at,
            attempts,
            reason,
            source,
            mailbox,
            ..
        },
    ) = &late[0]
    else {
        unreachable!()
    };
    assert_eq!(at, "2025-03-03T17:00:01+01:00");
    assert_eq!(rule, "provider-mailbox");
    assert_eq!(mailbox, INTAKE);
    assert_eq!(queued_at, "2025-03-03T09:00:00+01:00");
    assert_eq!(limit, "2025-03-03T17:00:00+01:00");
    assert_eq!(*delivered_at, None);
    assert_eq!(*attempts, 3);
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("4.3.2")),
        "{reason:?}"
    );
    assert!(
        source.contains("PVD-FU") && source.contains("4.2"),
        "{source}"
    );
    assert_eq!(w.at("2025-03-03T17:10:00+01:00").await, 0);
    assert_eq!(w.late().len(), 1, "reported once");

    // The intake takes mail again: the next due retry delivers, once, and is late.
    sink.set(Mode::Accept);
    let next = w.provider.next_delivery_wakeup().unwrap();
    assert_eq!(next, ts("2025-03-03T17:20:00+01:00"), "17:00 + 20 min");
    assert_eq!(w.at("2025-03-03T17:20:00+01:00").await, 1);
    assert_eq!(sink.accepted().len(), 1);
    assert!(sink.accepted()[0].contains("Subject: Gewerbeanzeige"));
    assert_eq!(
        w.deliveries(),
        [(4, "2025-03-03T17:20:00+01:00".to_string())]
    );
    let late = w.late();
    assert_eq!(late.len(), 2);
    let EventKind::ProviderLate {
        delivered_at,
        attempts,
        ..
    } = &late[1].1
    else {
        unreachable!()
    };
    assert_eq!(delivered_at.as_deref(), Some("2025-03-03T17:20:00+01:00"));
    assert_eq!(*attempts, 4);
    assert_eq!(w.provider.next_delivery_wakeup(), None);
    assert_eq!(w.at("2025-03-04T12:00:00+01:00").await, 0);
    assert_eq!(sink.accepted().len(), 1, "exactly one delivery");
    assert_eq!(
        w.provider.delivery_queue().unwrap()[0].state,
        DeliveryState::Delivered
    );
}

/// A delivery within the limit after retries is not late; due retries of several jobs go out
/// in queue order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_retries_go_out_in_queue_order_and_on_time_is_not_late() {
    let w = world().await;
    let sink = Sink::start(&w.pki, Mode::TryLater).await;
    w.provider.set_push_target(INTAKE, sink.addr).unwrap();
    w.submit(INTAKE, "Erste").await;
    w.submit(INTAKE, "Zweite").await;
    w.settle().await;
    assert_eq!(sink.rcpts(), 2);
    sink.set(Mode::Accept);
    assert_eq!(w.at("2025-03-03T09:05:00+01:00").await, 2);
    let taken = sink.accepted();
    assert_eq!(taken.len(), 2);
    assert!(taken[0].contains("Subject: Erste") && taken[1].contains("Subject: Zweite"));
    assert!(w.late().is_empty());
    assert_eq!(w.provider.next_delivery_wakeup(), None);
}

/// A 5xx is permanent: recorded failed, no retry is scheduled or made, nothing is reported
/// against the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_is_not_retried() {
    let w = world().await;
    let sink = Sink::start(&w.pki, Mode::NoSuchUser).await;
    w.provider.set_push_target(INTAKE, sink.addr).unwrap();
    w.submit(INTAKE, "Antrag").await;
    w.settle().await;
    let f = w.failures();
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].0, f[0].1, f[0].2.clone()), (1, true, None));
    assert!(f[0].3.contains("5.1.1"), "{}", f[0].3);
    assert_eq!(w.provider.next_delivery_wakeup(), None);
    sink.set(Mode::Accept);
    assert_eq!(w.at("2025-03-04T09:00:00+01:00").await, 0);
    assert_eq!(sink.rcpts(), 1, "never tried again");
    assert!(sink.accepted().is_empty());
    assert!(w.late().is_empty());
    let q = w.provider.delivery_queue().unwrap();
    assert_eq!((q[0].state, q[0].attempts), (DeliveryState::Failed, 1));
    // The message is in the Funktionspostfach (Eingang); a failed push is no Meldung.
    assert!(
        !w.trace
            .events()
            .iter()
            .any(|e| matches!(e.kind, EventKind::NotificationIssued { .. }))
    );
}

/// A hand-over to a peer provider that does not answer (connection refused) is retried on the
/// schedule, reported once when the 4-hour limit passes, and given up as permanent when the
/// next attempt would fall more than 24 hours after queueing (27 attempts); the sender then
/// gets a Meldung.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_peer_is_late_after_four_hours_and_given_up_after_a_day() {
    let w = world().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    w.provider.set_route(
        "dmda-b.de-mail.de",
        Route {
            addr: closed,
            provider_domain: "dmda-b.de-mail.de".into(),
        },
    );
    w.submit(PEER, "Weiterleitung").await;
    w.settle().await;
    let mut woken = Vec::new();
    while let Some(at) = delivery::next_wakeup(std::slice::from_ref(&w.provider)) {
        assert!(woken.len() < 100, "the schedule ends");
        w.clock.advance_to(at);
        delivery::retry_due(std::slice::from_ref(&w.provider));
        w.settle().await;
        woken.push(at);
    }
    let f = w.failures();
    assert_eq!(f.len(), 27, "{f:?}");
    assert!(
        f[..26]
            .iter()
            .all(|(_, permanent, retry_at, _)| !permanent && retry_at.is_some())
    );
    let (attempt, permanent, retry_at, reason) = &f[26];
    assert_eq!((*attempt, *permanent, retry_at.clone()), (27, true, None));
    assert!(reason.contains("given up after 27 attempts"), "{reason}");
    let start = ts("2025-03-03T09:00:00+01:00");
    let mins = |m: i64| start + SignedDuration::from_mins(m);
    assert_eq!(woken[..4], [mins(5), mins(15), mins(35), mins(75)]);
    assert_eq!(
        *woken.last().unwrap(),
        mins(1395),
        "23 h 15 min after queueing"
    );
    let late = w.late();
    assert_eq!(late.len(), 1);
    let (
        at,
        EventKind::ProviderLate {
            rule,
            limit,
            delivered_at,
            reason,
            ..
        },
    ) = &late[0]
    else {
        unreachable!()
    };
    assert_eq!(rule, "provider-transfer");
    assert_eq!(limit, "2025-03-03T13:00:00+01:00");
    assert_eq!(at, "2025-03-03T13:00:01+01:00");
    assert_eq!(*delivered_at, None);
    assert!(reason.is_some());
    let q = w.provider.delivery_queue().unwrap();
    assert_eq!((q[0].state, q[0].attempts), (DeliveryState::Failed, 27));
    // The message never reached the peer: its sender gets a Meldung (type "other") at the
    // give-up, exactly once, naming the recipient.
    let notes: Vec<(String, EventKind)> = w
        .trace
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::NotificationIssued { .. }))
        .map(|e| (e.at, e.kind))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (
        at,
        EventKind::NotificationIssued {
            notification_type,
            to,
            recipient,
            reason,
            ..
        },
    ) = &notes[0]
    else {
        unreachable!()
    };
    assert_eq!(at, "2025-03-04T08:15:00+01:00");
    assert_eq!(
        (notification_type.as_str(), to.as_str(), recipient.as_str()),
        ("other", CITIZEN, PEER)
    );
    assert!(reason.contains("nicht übermittelt"), "{reason}");
    let inbox = w.provider.mailbox(CITIZEN).unwrap();
    let meldung: Vec<_> = inbox
        .iter()
        .filter(|m| m.message_type == demail_sim::demail::MessageType::Notification)
        .collect();
    assert_eq!(meldung.len(), 1);
    assert_eq!(
        meldung[0].subject,
        "Meldung: Nachricht nicht zustellbar: Weiterleitung"
    );
    assert_eq!(
        meldung[0].in_reply_to.as_deref(),
        Some("<Weiterleitung@test>")
    );
}

/// Pushes share one SMTP session (RFC 5321 § 3.3: many transactions per session): three
/// messages in a row reach the intake over one connection. A transaction that fails (451)
/// closes the session, so the retry opens a new one, and later pushes reuse that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_reuse_one_session_until_a_transaction_fails() {
    let w = world().await;
    let sink = Sink::start(&w.pki, Mode::Accept).await;
    w.provider.set_push_target(INTAKE, sink.addr).unwrap();
    for subject in ["Eins", "Zwei", "Drei"] {
        w.submit(INTAKE, subject).await;
        w.settle().await;
    }
    assert_eq!(sink.accepted().len(), 3);
    assert_eq!(sink.connections(), 1, "three pushes, one session");

    sink.set(Mode::TryLater);
    w.submit(INTAKE, "Vier").await;
    w.settle().await;
    assert_eq!(w.failures().len(), 1);
    assert_eq!(
        sink.connections(),
        1,
        "the failed attempt used the open session"
    );

    sink.set(Mode::Accept);
    assert_eq!(w.at("2025-03-03T09:05:00+01:00").await, 1);
    w.submit(INTAKE, "Fuenf").await;
    w.settle().await;
    assert_eq!(sink.accepted().len(), 5);
    assert_eq!(
        sink.connections(),
        2,
        "the retry after the failed transaction opened a new session, the next push reused it"
    );
    assert_eq!(
        w.deliveries().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [1, 1, 1, 2, 1]
    );
}
