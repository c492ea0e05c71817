//! The trace: a typed journal of everything that happened in a run, in virtual time.
//!
//! Every run writes it as `trace.jsonl`, one event per line in (virtual time, sequence)
//! order. The format is documented column by column in `docs/trace.md`. Scenario runs keep
//! the whole trace in memory and also write each event to `<run>/trace.jsonl` as it happens,
//! so the run view can follow a scenario while it runs ([`Trace::recording`]); `serve`
//! streams it to `<data>/trace.jsonl` and keeps only a window ([`Trace::streaming`]).
//!
//! Architecture invariant: nothing nondeterministic reaches an event (no port numbers, no wall
//! times, no ids drawn from the OS), so the same scenario and seed give a byte-identical trace
//! against the reference intake.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::clock::{VirtualClock, format_instant};

/// One line of `trace.jsonl`. `Deserialize` reads a line back ([`Trace::for_each`] on a
/// trace whose older events are only in its file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// 1-based position in the trace; ties in `at` are ordered by it.
    pub seq: u64,
    /// Virtual time of the event, RFC 3339 with local offset.
    pub at: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of events. The `kind` column holds the dotted name.
///
/// `Deserialize` lets the reference intake report its `intake.*` events over HTTP in the same
/// form (`GET /testbed/events`), which the runner copies into the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum EventKind {
    /// The scenario started.
    #[serde(rename = "run.started")]
    RunStarted {
        scenario: String,
        seed: u64,
        /// Legal regime in force at the start date (e.g. "4th-day fiction, De-Mail-G in force").
        regime: String,
    },
    /// A simulated citizen handed a message to its provider (before the provider answers).
    #[serde(rename = "citizen.sent")]
    CitizenSent {
        citizen: String,
        from: String,
        to: Vec<String>,
        subject: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        private_id: Option<String>,
        /// De-Mail options set to "yes", e.g. "authoritative", "confirmation-of-receipt".
        options: Vec<String>,
    },
    /// The provider accepted a message (250 after DATA).
    #[serde(rename = "provider.accepted")]
    ProviderAccepted {
        provider: String,
        message_id: String,
        from: String,
        to: Vec<String>,
        auth_level: String,
        options: Vec<String>,
        /// The message as submitted, kept in the run folder (`messages/NNNNNN.eml`).
        eml: String,
    },
    /// The provider refused a command or message with an SMTP reply.
    #[serde(rename = "provider.refused")]
    ProviderRefused {
        provider: String,
        /// SMTP stage: AUTH, MAIL, RCPT, DATA.
        stage: String,
        /// Sender account, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        code: u16,
        enhanced: String,
        reason: String,
        /// The refused message, when the refusal came after DATA (`messages/NNNNNN.eml`).
        #[serde(skip_serializing_if = "Option::is_none")]
        eml: Option<String>,
    },
    /// The provider closed an account ("vollständig gesperrt", PVD-FU Schritt 43): a
    /// programmed account after its holder's first submission (docs/scenarios.md,
    /// "Programmed citizens").
    #[serde(rename = "provider.account_closed")]
    ProviderAccountClosed {
        provider: String,
        address: String,
        reason: String,
    },
    /// A message came in from a peer provider on the relay face (mutual TLS).
    #[serde(rename = "provider.received")]
    ProviderReceived {
        provider: String,
        /// The peer provider's domain, from its certificate.
        from_provider: String,
        message_id: String,
        message_type: String,
        to: Vec<String>,
    },
    /// A message was laid into a mailbox (the Eingang, PVD-FU §3.3).
    #[serde(rename = "provider.stored")]
    ProviderStored {
        provider: String,
        mailbox: String,
        message_id: String,
        message_type: String,
    },
    /// The provider issued a confirmation (Versand-, Eingangs-, Abholbestätigung).
    #[serde(rename = "confirmation.issued")]
    ConfirmationIssued {
        provider: String,
        /// "dispatch", "receipt" or "retrieve".
        confirmation: String,
        /// X-de-mail-message-id of the confirmed message.
        for_message_id: String,
        /// X-de-mail-message-id of the confirmation itself.
        message_id: String,
        from: String,
        to: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        private_id: Option<String>,
    },
    /// The provider sent a Meldungsnachricht because a message could not be delivered
    /// (PVD-FU Schritt 45).
    #[serde(rename = "notification.issued")]
    NotificationIssued {
        provider: String,
        /// X-de-mail-notification-type (PVD-IO Tabelle 22).
        notification_type: String,
        for_message_id: String,
        message_id: String,
        to: String,
        /// The recipient that could not be reached.
        recipient: String,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        private_id: Option<String>,
    },
    /// Something about an accepted message that a person should know, e.g. an unknown
    /// X-de-mail-* header (kept in the message).
    #[serde(rename = "provider.warning")]
    ProviderWarning {
        provider: String,
        message_id: String,
        warning: String,
    },
    /// The test-bed made a fault on purpose (e.g. a broken or foreign seal on one message,
    /// `demail_provider::fault`): where, what, and which message it hit.
    #[serde(rename = "fault.injected")]
    FaultInjected {
        /// The face or part that made it, e.g. "provider:dmda-a seal".
        face: String,
        fault: String,
        message_id: String,
        detail: String,
    },
    /// The provider pushed a message to an institution's intake over SMTP and got a 2xx.
    #[serde(rename = "provider.delivered")]
    ProviderDelivered {
        provider: String,
        mailbox: String,
        message_id: String,
        attempt: u32,
        /// The message as pushed, kept in the run folder (`messages/NNNNNN.eml`).
        eml: String,
    },
    /// A push to an intake failed (the intake answered an error or was unreachable).
    #[serde(rename = "provider.delivery_failed")]
    ProviderDeliveryFailed {
        provider: String,
        mailbox: String,
        message_id: String,
        attempt: u32,
        permanent: bool,
        reason: String,
        /// When a temporary failure is tried next (virtual time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<String>,
    },
    /// A push or hand-over missed its limit (PVD-FU §4.2): delivered after it, or still
    /// undelivered when it passed (reported once).
    #[serde(rename = "provider.late")]
    ProviderLate {
        provider: String,
        mailbox: String,
        message_id: String,
        /// `provider-mailbox` (push into the intake, 8 h) or `provider-transfer` (hand-over to
        /// the recipient's provider, 4 h), the rule ids of `sim::law::rules`.
        rule: String,
        queued_at: String,
        /// The latest instant the rule allows.
        limit: String,
        /// When it was delivered; absent while still undelivered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivered_at: Option<String>,
        /// Attempts made so far.
        attempts: u32,
        /// The reason of the last failed attempt.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        source: String,
    },
    /// A simulated account holder logged in (at level high this may issue Abholbestätigungen).
    #[serde(rename = "citizen.login")]
    CitizenLogin {
        citizen: String,
        address: String,
        level: String,
    },
    /// A document was served by Abholbestätigung (§ 5a VwZG).
    #[serde(rename = "zustellung.abholung")]
    ZustellungAbholung {
        /// X-de-mail-message-id of the served document.
        message_id: String,
        /// The day of Zustellung.
        date: String,
        source: String,
    },
    /// A document counts as served by the fiction of § 5a Abs. 4 VwZG (no Abholbestätigung).
    #[serde(rename = "zustellung.fiktion")]
    ZustellungFiktion {
        message_id: String,
        date: String,
        source: String,
    },
    /// A deadline was computed for a check.
    #[serde(rename = "deadline.computed")]
    DeadlineComputed {
        rule: String,
        source: String,
        from: String,
        due: String,
        /// The explanation, one line per step with its source.
        steps: Vec<String>,
    },
    /// The intake received a De-Mail in a Funktionspostfach and opened a case.
    #[serde(rename = "intake.received")]
    IntakeReceived {
        mailbox: String,
        aktenzeichen: String,
        /// Procedure id from the intake's configuration, e.g. "gewerbeanzeige".
        procedure: String,
        message_id: String,
        citizen: String,
        /// Whether the case is binding (form requirements met).
        binding: bool,
        /// Why (the form rule applied, with its source).
        reason: String,
    },
    /// The intake refused a message at its SMTP listener (e.g. plain e-mail, not a De-Mail).
    #[serde(rename = "intake.refused")]
    IntakeRefused {
        mailbox: String,
        code: u16,
        reason: String,
    },
    /// The intake received a message it had received before (the same X-de-mail-message-id
    /// in the same Funktionspostfach, e.g. a duplicate delivery after a timeout) and opened no
    /// second case.
    #[serde(rename = "intake.duplicate")]
    IntakeDuplicate {
        mailbox: String,
        aktenzeichen: String,
        message_id: String,
    },
    /// The intake sent its reply to a case (Empfangsbescheinigung or a notice of a form defect)
    /// with the deadlines the case started.
    #[serde(rename = "intake.acknowledged")]
    IntakeAcknowledged {
        aktenzeichen: String,
        /// "empfangsbescheinigung", "formmangel" (form defect) or "eingangsmitteilung".
        reply: String,
        /// "rule: date (kind)" per deadline started by receipt.
        deadlines: Vec<String>,
    },
    /// The intake sent a Bescheid for förmliche Zustellung (§ 5a VwZG) and noted the time and
    /// mailbox in the file (§ 5a Abs. 4 Satz 4 VwZG).
    #[serde(rename = "intake.bescheid")]
    IntakeBescheid {
        aktenzeichen: String,
        recipient: String,
        options: Vec<String>,
    },
    /// The intake recorded the day of Zustellung and the Widerspruchsfrist it starts.
    #[serde(rename = "intake.zustellung")]
    IntakeZustellung {
        aktenzeichen: String,
        /// "abholung" or "fiktion".
        mode: String,
        date: String,
        /// Last day of the Widerspruchsfrist (§ 70 VwGO) or of the year (§ 58 Abs. 2 VwGO).
        rechtsbehelf_until: String,
        source: String,
    },
    /// The intake chose another channel (recorded as postal) for a document it could not
    /// serve by De-Mail.
    #[serde(rename = "intake.fallback")]
    IntakeFallback {
        aktenzeichen: String,
        channel: String,
        reason: String,
    },
    /// The intake's hand-over of a case to the document management system.
    #[serde(rename = "intake.dms")]
    IntakeDms {
        aktenzeichen: String,
        /// "stored", "retry" or "rejected".
        outcome: String,
        detail: String,
    },
    /// A check of the scenario passed.
    #[serde(rename = "check.passed")]
    CheckPassed { check: String, detail: String },
    /// A check of the scenario failed.
    #[serde(rename = "check.failed")]
    CheckFailed { check: String, detail: String },
    /// The scenario ended.
    #[serde(rename = "run.finished")]
    RunFinished { passed: u32, failed: u32 },
}

/// How many of the latest events a streaming trace ([`Trace::streaming`]) keeps in memory.
pub const STREAM_WINDOW: usize = 1024;

/// How many of the latest events a recording trace with a file ([`Trace::recording_file`])
/// keeps in memory; the older ones are read back from the file. Every shipped scenario's
/// trace is shorter (the longest golden trace has under 2,000 events), so they are judged
/// from memory alone; a long run (a month of a city) reads its file.
pub const RECORD_WINDOW: usize = 8192;

/// The shared sink that stamps events with virtual time and sequence numbers.
///
/// Four modes:
/// - [`Trace::new`] (tests): every event stays in memory ([`Trace::to_jsonl`]).
/// - [`Trace::recording`]: every event stays in memory and is also written as one JSON line
///   to a writer when it is emitted.
/// - [`Trace::recording_file`] (scenario runs): each event is written as one JSON line to a
///   file (the run's `trace.jsonl`) when it is emitted, and the latest [`RECORD_WINDOW`] stay
///   in memory; [`Trace::for_each`] and [`Trace::find_map`] still see every event, the older
///   ones read back from the file. Memory stays bounded however long the run.
/// - [`Trace::streaming`] (`serve`, a long-running provider): each event is written as one
///   JSON line to a writer (`<data>/trace.jsonl`) when it is emitted, and only the latest
///   [`STREAM_WINDOW`] stay in memory, so memory stays bounded however long it runs. The
///   sequence numbers keep counting.
#[derive(Clone, Debug)]
pub struct Trace {
    clock: VirtualClock,
    inner: Arc<Mutex<Inner>>,
}

/// The events in memory and, when streaming, where every event goes.
struct Inner {
    /// In memory: all events, or the latest `window` when streaming.
    events: VecDeque<Event>,
    /// The `seq` of the last event emitted.
    last_seq: u64,
    sink: Option<Sink>,
    /// The file every event is written to, to read back the events no longer in memory
    /// (a recording trace with a file); `None` when the dropped ones are gone (streaming).
    replay: Option<PathBuf>,
    /// Whether an event was dropped from memory.
    dropped: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("in_memory", &self.events.len())
            .field("last_seq", &self.last_seq)
            .field("streaming", &self.sink.is_some())
            .finish()
    }
}

/// A streaming trace's writer and window.
struct Sink {
    writer: Box<dyn Write + Send>,
    window: usize,
    /// Whether a write failed already (reported once, then counted silently).
    failed: bool,
}

impl Trace {
    /// A new, empty trace stamped from `clock` that keeps every event in memory.
    pub fn new(clock: VirtualClock) -> Self {
        Self {
            clock,
            inner: Arc::new(Mutex::new(Inner {
                events: VecDeque::new(),
                last_seq: 0,
                sink: None,
                replay: None,
                dropped: false,
            })),
        }
    }

    /// A trace that writes each event as one JSON line (the format of [`Trace::to_jsonl`]) to
    /// `writer` as it is emitted and keeps only the latest [`STREAM_WINDOW`] events in memory.
    /// The first event gets `seq` `last_seq + 1` (0 for a new file; see [`last_seq_in`] to
    /// continue a file). Each line goes to `writer` in one `write_all`; give it an unbuffered
    /// file so that every event emitted before a kill -9 is in the file. A write error is
    /// logged once and does not stop the provider.
    pub fn streaming(
        clock: VirtualClock,
        writer: impl Write + Send + 'static,
        last_seq: u64,
    ) -> Self {
        Self {
            clock,
            inner: Arc::new(Mutex::new(Inner {
                events: VecDeque::new(),
                last_seq,
                sink: Some(Sink {
                    writer: Box::new(writer),
                    window: STREAM_WINDOW,
                    failed: false,
                }),
                replay: None,
                dropped: false,
            })),
        }
    }

    /// A trace that keeps every event in memory, as [`Trace::new`], and also writes each as one
    /// JSON line (the format of [`Trace::to_jsonl`]) to `writer` when it is emitted, so that a
    /// reader of the file (the run view, `demail-testbed view`) sees the run as it goes. A
    /// write error is logged once; the events in memory stay complete.
    pub fn recording(clock: VirtualClock, writer: impl Write + Send + 'static) -> Self {
        Self {
            clock,
            inner: Arc::new(Mutex::new(Inner {
                events: VecDeque::new(),
                last_seq: 0,
                sink: Some(Sink {
                    writer: Box::new(writer),
                    window: usize::MAX,
                    failed: false,
                }),
                replay: None,
                dropped: false,
            })),
        }
    }

    /// A trace that writes each event as one JSON line to a new file at `path` when it is
    /// emitted (unbuffered, so a reader of the file sees the run as it goes) and keeps the
    /// latest [`RECORD_WINDOW`] events in memory; [`Trace::for_each`] and
    /// [`Trace::find_map`] read the older ones back from the file. After a failed write the
    /// file is no longer complete, so from then on every event stays in memory (logged once).
    pub fn recording_file(clock: VirtualClock, path: &Path) -> std::io::Result<Self> {
        Self::recording_file_with_window(clock, path, RECORD_WINDOW)
    }

    /// [`Trace::recording_file`] keeping the latest `window` events in memory (at least 1).
    pub fn recording_file_with_window(
        clock: VirtualClock,
        path: &Path,
        window: usize,
    ) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        Ok(Self {
            clock,
            inner: Arc::new(Mutex::new(Inner {
                events: VecDeque::new(),
                last_seq: 0,
                sink: Some(Sink {
                    writer: Box::new(file),
                    window: window.max(1),
                    failed: false,
                }),
                replay: Some(path.to_path_buf()),
                dropped: false,
            })),
        })
    }

    /// Appends an event at the current virtual time.
    pub fn emit(&self, kind: EventKind) {
        let at = format_instant(&self.clock.now());
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.last_seq += 1;
        let event = Event {
            seq: inner.last_seq,
            at,
            kind,
        };
        let replays = inner.replay.is_some();
        if let Some(sink) = inner.sink.as_mut() {
            let mut line = json_line(&event);
            line.push('\n');
            if let Err(e) = sink.writer.write_all(line.as_bytes())
                && !sink.failed
            {
                sink.failed = true;
                tracing::warn!("cannot write the trace (event {}): {e}", event.seq);
            }
            // A trace that reads dropped events back from its file drops none once the file
            // missed one.
            let window = if sink.failed && replays {
                usize::MAX
            } else {
                sink.window
            };
            while inner.events.len() >= window {
                inner.events.pop_front();
                inner.dropped = true;
            }
        }
        inner.events.push_back(event);
    }

    /// A copy of the events in memory: all of them, or the latest [`STREAM_WINDOW`] of a
    /// streaming trace.
    pub fn events(&self) -> Vec<Event> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .iter()
            .cloned()
            .collect()
    }

    /// Calls `f` with every event of the trace in `seq` order: those in memory, and for a
    /// recording trace with a file ([`Trace::recording_file`]) first those read back from the
    /// file. For a streaming trace only the window in memory. `f` must not emit into this
    /// trace (the trace is locked while it runs).
    pub fn for_each(&self, mut f: impl FnMut(&Event)) {
        self.try_for_each(|e| {
            f(e);
            ControlFlow::Continue(())
        });
    }

    /// The first `Some` that `f` gives for the events in `seq` order (as [`Trace::for_each`]
    /// sees them); reading stops there.
    pub fn find_map<T>(&self, mut f: impl FnMut(&Event) -> Option<T>) -> Option<T> {
        let mut found = None;
        self.try_for_each(|e| match f(e) {
            Some(t) => {
                found = Some(t);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        });
        found
    }

    /// [`Trace::for_each`] for the events of the kinds named (the `kind` column, e.g.
    /// `"intake.received"`): the events read back from the file are only parsed when their
    /// line names one of them, so a look-up in a long run reads its file at the speed of a
    /// text search. `f` may still see events of other kinds (those in memory), and must check.
    pub fn for_each_of(&self, kinds: &[&str], mut f: impl FnMut(&Event)) {
        self.try_for_each_of(Some(kinds), |e| {
            f(e);
            ControlFlow::Continue(())
        });
    }

    /// [`Trace::find_map`] over the events of the kinds named (as [`Trace::for_each_of`]).
    pub fn find_map_of<T>(
        &self,
        kinds: &[&str],
        mut f: impl FnMut(&Event) -> Option<T>,
    ) -> Option<T> {
        let mut found = None;
        self.try_for_each_of(Some(kinds), |e| match f(e) {
            Some(t) => {
                found = Some(t);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        });
        found
    }

    /// How many events were emitted into this trace (for a new trace: its last `seq`).
    pub fn last_seq(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_seq
    }

    fn try_for_each(&self, f: impl FnMut(&Event) -> ControlFlow<()>) {
        self.try_for_each_of(None, f);
    }

    fn try_for_each_of(
        &self,
        kinds: Option<&[&str]>,
        mut f: impl FnMut(&Event) -> ControlFlow<()>,
    ) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let (true, Some(path)) = (inner.dropped, inner.replay.as_ref()) {
            let first_kept = inner.events.front().map_or(u64::MAX, |e| e.seq);
            let needles: Option<Vec<String>> =
                kinds.map(|ks| ks.iter().map(|k| format!("\"kind\":\"{k}\"")).collect());
            if read_back(path, first_kept, needles.as_deref(), &mut f).is_break() {
                return;
            }
        }
        for e in &inner.events {
            if f(e).is_break() {
                return;
            }
        }
    }

    /// Whether every event emitted so far reached the writer (no write failed). A recording
    /// trace's file is then complete.
    pub fn all_written(&self) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sink.as_ref().is_none_or(|s| !s.failed)
    }

    /// The events in memory as JSON lines, each ending in `\n`.
    pub fn to_jsonl(&self) -> String {
        lines(
            self.inner
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .events
                .iter(),
        )
    }
}

/// Calls `f` with the events of the trace file at `path` whose `seq` is below `until`, in
/// file order, until `f` breaks; with `needles`, only the lines holding one of them are
/// parsed (a string value holding `"kind":"…"` is escaped in JSON, so only the column matches). A file that cannot be read or a line that does not parse is
/// logged: the file is the run's own, written by this trace, so either is a broken disk.
fn read_back(
    path: &Path,
    until: u64,
    needles: Option<&[String]>,
    f: &mut impl FnMut(&Event) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            tracing::error!("cannot read the trace back from {}: {e}", path.display());
            return ControlFlow::Continue(());
        }
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return ControlFlow::Continue(()),
            Ok(_) => {}
            Err(e) => {
                tracing::error!("cannot read the trace back from {}: {e}", path.display());
                return ControlFlow::Continue(());
            }
        }
        if needles.is_some_and(|ns| !ns.iter().any(|n| line.contains(n.as_str()))) {
            continue;
        }
        match serde_json::from_str::<Event>(line.trim_end()) {
            Ok(e) if e.seq >= until => return ControlFlow::Continue(()),
            Ok(e) => f(&e)?,
            Err(e) => {
                tracing::error!(
                    "a line of {} does not read back as an event: {e}",
                    path.display()
                );
            }
        }
    }
}

fn lines<'a>(events: impl IntoIterator<Item = &'a Event>) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&json_line(e));
        out.push('\n');
    }
    out
}

/// One event as JSON, without the line end.
fn json_line(e: &Event) -> String {
    // Serializing a struct of strings and integers cannot fail.
    serde_json::to_string(e).expect("event serializes")
}

/// The `seq` of the last event in the trace file at `path`, to continue it after a restart
/// (0 when the file does not exist or holds no event). Reads only the file's tail. When the
/// file does not end with a line end (a write cut by a crash), one is appended so that the next
/// event starts a line of its own; the cut line is left as it is.
pub fn last_seq_in(path: &Path) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    // An event is far shorter than this; a few of them fit.
    const TAIL: u64 = 256 * 1024;
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    if tail.last().is_some_and(|b| *b != b'\n') {
        file.write_all(b"\n")?;
    }
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    Ok(tail
        .split(|b| *b == b'\n')
        .rev()
        .find_map(|line| serde_json::from_slice::<Seq>(line).ok())
        .map_or(0, |s| s.seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> VirtualClock {
        VirtualClock::new(&"2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap())
    }

    fn finished(n: u32) -> EventKind {
        EventKind::RunFinished {
            passed: n,
            failed: 0,
        }
    }

    /// A shared in-memory writer.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A streaming trace writes every event at once, in the format of `to_jsonl`, keeps only
    /// the latest STREAM_WINDOW in memory, and keeps counting `seq` (from `last_seq + 1`).
    #[test]
    fn streaming_writes_every_event_and_keeps_a_window() {
        let n = STREAM_WINDOW as u32 * 3 + 7;
        let kept = Trace::new(clock());
        let out = Shared::default();
        let streamed = Trace::streaming(clock(), out.clone(), 0);
        for i in 0..n {
            kept.emit(finished(i));
            streamed.emit(finished(i));
        }
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            written,
            kept.to_jsonl(),
            "same lines as a trace kept in memory"
        );
        let window = streamed.events();
        assert_eq!(window.len(), STREAM_WINDOW);
        assert_eq!(window.last().unwrap().seq, u64::from(n));
        assert_eq!(window[0].seq, u64::from(n) - STREAM_WINDOW as u64 + 1);
        assert_eq!(
            kept.events().len(),
            n as usize,
            "the in-memory mode keeps all"
        );

        let out = Shared::default();
        let recorded = Trace::recording(clock(), out.clone());
        for i in 0..n {
            recorded.emit(finished(i));
        }
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            kept.to_jsonl(),
            "a recording trace writes the same lines as it goes"
        );
        assert_eq!(
            recorded.to_jsonl(),
            kept.to_jsonl(),
            "and keeps every event in memory"
        );

        let resumed = Trace::streaming(clock(), Shared::default(), 41);
        resumed.emit(finished(0));
        assert_eq!(resumed.events()[0].seq, 42);
    }

    /// An empty folder of this test process under the temporary folder.
    fn fresh_dir(label: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("demail-trace-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A recording trace with a file keeps only its window in memory, yet `for_each` and
    /// `find_map` see every event in order (the older ones read back from the file), and the
    /// file holds the same lines as a trace kept in memory.
    #[test]
    fn recording_file_reads_dropped_events_back() {
        let dir = fresh_dir("rec");
        let path = dir.join("trace.jsonl");
        let kept = Trace::new(clock());
        let recorded = Trace::recording_file_with_window(clock(), &path, 10).unwrap();
        for i in 0..25 {
            kept.emit(finished(i));
            recorded.emit(finished(i));
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), kept.to_jsonl());
        assert_eq!(recorded.events().len(), 10, "only the window in memory");
        let mut all = Vec::new();
        recorded.for_each(|e| all.push(e.clone()));
        assert_eq!(all, kept.events(), "every event, in seq order");
        assert_eq!(recorded.last_seq(), 25);
        // The first match wins, from the file and from memory.
        let passed = |n: u32| {
            move |e: &Event| match e.kind {
                EventKind::RunFinished { passed, .. } if passed >= n => Some(e.seq),
                _ => None,
            }
        };
        assert_eq!(recorded.find_map(passed(3)), Some(4));
        assert_eq!(recorded.find_map(passed(20)), Some(21));
        assert_eq!(recorded.find_map(passed(99)), None);
        // Filtered by kind: the file's lines of other kinds are not parsed; those in memory
        // (seq 16..=25) are all offered.
        assert_eq!(recorded.find_map_of(&["run.finished"], passed(3)), Some(4));
        assert_eq!(
            recorded.find_map_of(&["intake.received"], passed(3)),
            Some(16)
        );
        let mut seen = Vec::new();
        recorded.for_each_of(&["intake.received", "run.finished"], |e| seen.push(e.seq));
        assert_eq!(seen, (1..=25).collect::<Vec<u64>>());
        // A damaged file (a cut line, NUL bytes, a bare LF, a line that is not an event) does
        // not panic: the damaged lines are logged and skipped, the good ones still read.
        let text = std::fs::read_to_string(&path).unwrap();
        let mut damaged: Vec<String> = text.lines().map(str::to_string).collect();
        damaged[1] = damaged[1][..10].to_string();
        damaged[2] = "\0\0{\"seq\":3".to_string();
        damaged.insert(4, String::new());
        damaged.insert(5, "[1,2,3]".to_string());
        std::fs::write(&path, damaged.join("\n") + "\n").unwrap();
        let mut read = Vec::new();
        recorded.for_each(|e| read.push(e.seq));
        let expected: Vec<u64> = [1].into_iter().chain(4..=25).collect();
        assert_eq!(read, expected);
        // A short run stays in memory alone: the file is not read.
        let short =
            Trace::recording_file_with_window(clock(), &dir.join("short.jsonl"), 10).unwrap();
        short.emit(finished(1));
        std::fs::remove_file(dir.join("short.jsonl")).unwrap();
        assert_eq!(short.find_map(passed(1)), Some(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `last_seq_in` finds the last event's seq in a file, is 0 for a missing or empty file,
    /// and ends a line cut by a crash so that the next event starts a new line.
    #[test]
    fn last_seq_of_a_trace_file() {
        let dir = fresh_dir("seq");
        let path = dir.join("trace.jsonl");
        assert_eq!(last_seq_in(&path).unwrap(), 0);
        std::fs::write(&path, "").unwrap();
        assert_eq!(last_seq_in(&path).unwrap(), 0);
        let t = Trace::new(clock());
        for i in 0..5 {
            t.emit(finished(i));
        }
        std::fs::write(&path, t.to_jsonl()).unwrap();
        assert_eq!(last_seq_in(&path).unwrap(), 5);
        let cut = format!("{}{{\"seq\":6,\"at\":\"2025", t.to_jsonl());
        std::fs::write(&path, &cut).unwrap();
        assert_eq!(last_seq_in(&path).unwrap(), 5);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{cut}\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
