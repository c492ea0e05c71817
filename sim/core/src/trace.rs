//! The trace: a typed journal of everything that happened in a run, in virtual time.
//!
//! Every run writes it as `trace.jsonl`, one event per line in (virtual time, sequence)
//! order. The format is documented column by column in `docs/trace.md`.
//!
//! Architecture invariant: nothing nondeterministic reaches an event (no port numbers, no wall
//! times, no ids drawn from the OS), so the same scenario and seed give a byte-identical trace
//! against the reference intake.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::clock::{VirtualClock, format_instant};

/// One line of `trace.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

/// The shared sink that stamps events with virtual time and sequence numbers.
#[derive(Clone, Debug)]
pub struct Trace {
    clock: VirtualClock,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Trace {
    /// A new, empty trace stamped from `clock`.
    pub fn new(clock: VirtualClock) -> Self {
        Self {
            clock,
            events: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Appends an event at the current virtual time.
    pub fn emit(&self, kind: EventKind) {
        let at = format_instant(&self.clock.now());
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let seq = events.len() as u64 + 1;
        events.push(Event { seq, at, kind });
    }

    /// A copy of all events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The trace as JSON lines, each ending in `\n`.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for e in self.events() {
            // Serializing a struct of strings and integers cannot fail.
            out.push_str(&serde_json::to_string(&e).expect("event serializes"));
            out.push('\n');
        }
        out
    }
}
