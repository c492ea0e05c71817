//! Checks: the scenario's expectations judged against what crossed the wire.
//!
//! Each expectation is decided once, at the virtual instant it becomes certain (the
//! confirmation or reply arrived, or its deadline passed), and recorded as `check.passed` or
//! `check.failed` in the trace. The judge reads mailboxes of the simulated provider only; it
//! never looks inside the intake.

use std::collections::HashMap;

use demail_sim::clock::format_instant;
use demail_sim::demail::{MessageType, normalize_address};
use demail_sim::trace::{EventKind, Trace};
use jiff::{SignedDuration, Timestamp, ZonedDateTime};

use crate::model::{CheckOutcome, Observation, SendOutcome};
use crate::scenario::{Expectation, Scenario};

/// Reply times of a traffic: (step id, seconds to the reply or `None`) per accepted message,
/// and the number of refused ones.
type ReplyTimes = (Vec<(String, Option<i64>)>, usize);

/// A case as the intake reported it (`intake.received`).
struct IntakeCase {
    aktenzeichen: String,
    procedure: String,
    binding: bool,
    reason: String,
}

/// Judges the expectations of one scenario over the run.
pub struct Judge<'a> {
    scenario: &'a Scenario,
    trace: &'a Trace,
    verdicts: Vec<Option<CheckOutcome>>,
    deadline_noted: Vec<bool>,
    /// `all-replies`: per (expectation, step) the deadline and, once seen, the instant the
    /// reply reached the sender's mailbox. Both are fixed once known, so later observations
    /// read only the mailboxes of the messages still without reply.
    reply_seen: HashMap<(usize, String), (Timestamp, Option<Timestamp>)>,
    /// Sends per traffic so far, counted incrementally (`sends_counted` of `obs.sends`), so
    /// that `all-replies` knows cheaply whether its traffic is complete.
    sent_per_traffic: HashMap<String, usize>,
    sends_counted: usize,
}

impl<'a> Judge<'a> {
    pub fn new(scenario: &'a Scenario, trace: &'a Trace) -> Self {
        let n = scenario.file.expect.len();
        Self {
            scenario,
            trace,
            verdicts: vec![None; n],
            deadline_noted: vec![false; n],
            reply_seen: HashMap::new(),
            sent_per_traffic: HashMap::new(),
            sends_counted: 0,
        }
    }

    /// Whether every expectation is decided.
    pub fn all_decided(&self) -> bool {
        self.verdicts.iter().all(Option::is_some)
    }

    fn decide(&mut self, i: usize, passed: bool, detail: String) {
        let id = self.scenario.file.expect[i].id.clone();
        self.trace.emit(if passed {
            EventKind::CheckPassed {
                check: id.clone(),
                detail: detail.clone(),
            }
        } else {
            EventKind::CheckFailed {
                check: id.clone(),
                detail: detail.clone(),
            }
        });
        self.verdicts[i] = Some(CheckOutcome { id, passed, detail });
    }

    /// Decides what can be decided at this instant.
    pub fn observe(&mut self, obs: &Observation<'_>) {
        for s in obs.sends.iter().skip(self.sends_counted) {
            for (traffic, _) in obs.traffic_totals {
                if s.step_id
                    .strip_prefix(traffic.as_str())
                    .is_some_and(|rest| rest.starts_with('#'))
                {
                    *self.sent_per_traffic.entry(traffic.clone()).or_default() += 1;
                }
            }
        }
        self.sends_counted = obs.sends.len();
        for i in 0..self.verdicts.len() {
            if self.verdicts[i].is_some() {
                continue;
            }
            if let Expectation::AllReplies { traffic, rule } = &self.scenario.expectations[i] {
                let (traffic, rule) = (traffic.clone(), rule.clone());
                self.all_replies(i, obs, &traffic, &rule, false);
                continue;
            }
            let Some(step) = self.scenario.file.expect[i]
                .step
                .as_ref()
                .map(|s| s.get_ref())
            else {
                continue;
            };
            let Some(send) = obs.sends.iter().find(|s| s.step_id == *step) else {
                continue;
            };
            match &self.scenario.expectations[i] {
                Expectation::Refused { code, enhanced } => match &send.refused {
                    Some((c, e, text)) if c == code && e == enhanced => {
                        self.decide(i, true, format!("refused as expected: {text}"));
                    }
                    Some((_, _, text)) => self.decide(
                        i,
                        false,
                        format!("expected a refusal {code} {enhanced}, got: {text}"),
                    ),
                    None => self.decide(
                        i,
                        false,
                        format!("expected a refusal {code} {enhanced}, but the provider accepted the message"),
                    ),
                },
                _ if send.refused.is_some() => {
                    let (_, _, text) = send.refused.as_ref().expect("checked");
                    self.decide(i, false, format!("the provider refused the message: {text}"));
                }
                Expectation::Confirmation { confirmation, within } => {
                    let (kind, label) = match confirmation.as_str() {
                        "dispatch" => (MessageType::ConfirmationOfDispatch, "Versandbestätigung"),
                        _ => (MessageType::ConfirmationOfReceipt, "Eingangsbestätigung"),
                    };
                    self.system_message(i, obs, send, kind, label, *within, |_| Ok(()));
                }
                Expectation::Notification {
                    notification_type,
                    within,
                } => {
                    let wanted = notification_type.clone();
                    self.system_message(i, obs, send, MessageType::Notification, "Meldung", *within, |m| {
                        let raw = demail_sim::demail::headers::RawMessage::parse(&m.raw).map_err(|e| e.to_string())?;
                        match raw.first(demail_sim::demail::h::NOTIFICATION_TYPE) {
                            Some(t) if t == wanted => Ok(()),
                            other => Err(format!(
                                "x-de-mail-notification-type is {other:?}, expected {wanted:?}"
                            )),
                        }
                    });
                }
                // Judged above, before looking for a step, or at the end.
                Expectation::AllReplies { .. }
                | Expectation::Latency { .. }
                | Expectation::Throughput { .. } => {}
                Expectation::Case { procedure, binding } => {
                    let (procedure, binding) = (procedure.clone(), *binding);
                    if let Some(case) = self.intake_case(obs, send) {
                        let ok = case.procedure == procedure && case.binding == binding;
                        let detail = format!(
                            "the intake opened {} as {} ({}): {}",
                            case.aktenzeichen,
                            case.procedure,
                            if case.binding { "binding" } else { "not binding" },
                            case.reason
                        );
                        if ok {
                            self.decide(i, true, detail);
                        } else {
                            self.decide(
                                i,
                                false,
                                format!(
                                    "expected procedure {procedure} {}, but {detail}",
                                    if binding { "binding" } else { "not binding" }
                                ),
                            );
                        }
                    }
                }
                Expectation::Dms => {
                    if let Some(case) = self.intake_case(obs, send) {
                        self.dms(i, obs, send, &case);
                    }
                }
                Expectation::Delivery { within } => {
                    let within = *within;
                    self.delivery(i, obs, send, within);
                }
                Expectation::Fallback => {
                    if let Some(case) = self.intake_case(obs, send) {
                        let fallback = self.trace.events().into_iter().find_map(|e| match e.kind {
                            EventKind::IntakeFallback {
                                aktenzeichen,
                                channel,
                                reason,
                            } if aktenzeichen == case.aktenzeichen => Some((channel, reason)),
                            _ => None,
                        });
                        if let Some((channel, reason)) = fallback {
                            self.decide(
                                i,
                                true,
                                format!("{}: {channel} fallback: {reason}", case.aktenzeichen),
                            );
                        }
                    }
                }
                Expectation::Zustellung { mode } => {
                    let mode = mode.clone();
                    self.zustellung(i, obs, send, &mode);
                }
                Expectation::Reply {
                    rule,
                    subject_contains,
                } => {
                    let due = match crate::rules::due(rule, &send.sent_at, &self.scenario.place) {
                        Ok(d) => d,
                        Err(e) => {
                            self.decide(i, false, format!("deadline {rule}: {e}"));
                            continue;
                        }
                    };
                    if !self.deadline_noted[i] {
                        self.deadline_noted[i] = true;
                        self.trace.emit(EventKind::DeadlineComputed {
                            rule: due.rule.clone(),
                            source: due.sources.clone(),
                            from: format_instant(&send.sent_at),
                            due: format_instant(&due.due),
                            steps: due.steps.clone(),
                        });
                    }
                    let rule_id = due.rule.as_str();
                    let sources = due.sources.as_str();
                    let due = due.due;
                    let mailbox = match obs.world.mailbox(&send.from) {
                        Ok(m) => m,
                        Err(e) => {
                            self.decide(i, false, format!("cannot read the sender's mailbox: {e:#}"));
                            continue;
                        }
                    };
                    // Replies come from any of the intake's Funktionspostfächer; a case may get
                    // several (Empfangsbescheinigung, Bescheid): the one with the expected
                    // subject counts, else the first.
                    let replies: Vec<_> = mailbox
                        .into_iter()
                        .filter(|m| {
                            self.scenario.intake.mailbox(&m.from).is_some()
                                && m.in_reply_to.as_deref() == Some(send.rfc_message_id.as_str())
                        })
                        .collect();
                    let found = replies
                        .iter()
                        .find(|m| m.subject.contains(subject_contains.as_str()))
                        .or(replies.first())
                        .cloned();
                    match found {
                        Some(m) if !m.subject.contains(subject_contains.as_str()) => self.decide(
                            i,
                            false,
                            format!(
                                "the intake's reply has subject {:?}, which does not contain {:?}",
                                m.subject, subject_contains
                            ),
                        ),
                        Some(m) if m.stored_at < due.timestamp() => self.decide(
                            i,
                            true,
                            format!(
                                "reply {:?} in the sender's mailbox {} after sending, before the deadline {} ({})",
                                m.subject,
                                human(m.stored_at.duration_since(send.sent_at.timestamp())),
                                format_instant(&due),
                                rule_id
                            ),
                        ),
                        Some(m) => self.decide(
                            i,
                            false,
                            format!(
                                "reply {:?} arrived {}, after the deadline {} ({})",
                                m.subject,
                                m.stored_at,
                                format_instant(&due),
                                rule_id
                            ),
                        ),
                        None if obs.now.timestamp() >= due.timestamp() => self.decide(
                            i,
                            false,
                            format!(
                                "no reply from {} by the deadline {} ({}: {})",
                                obs.intake_address,
                                format_instant(&due),
                                rule_id,
                                sources
                            ),
                        ),
                        None => {}
                    }
                }
            }
        }
    }

    /// Judges a message the provider itself sends about the step's message (a confirmation or
    /// a Meldung): it must reach the sender's mailbox within `within`, copy the private-id
    /// (PVD-IO §3.1.9), be signed under the run's CA with XML and PDF parts (§3.4–3.5), and
    /// pass `extra`.
    #[allow(clippy::too_many_arguments)]
    fn system_message(
        &mut self,
        i: usize,
        obs: &Observation<'_>,
        send: &SendOutcome,
        kind: MessageType,
        label: &str,
        within: jiff::Span,
        extra: impl Fn(&demail_sim::provider::StoredMessage) -> Result<(), String>,
    ) {
        let Ok(limit) = send.sent_at.checked_add(within) else {
            self.decide(i, false, "limit out of range".into());
            return;
        };
        let mailbox = match obs.world.mailbox(&send.from) {
            Ok(m) => m,
            Err(e) => {
                self.decide(i, false, format!("cannot read the sender's mailbox: {e:#}"));
                return;
            }
        };
        let found = mailbox.into_iter().find(|m| {
            m.message_type == kind && m.in_reply_to.as_deref() == Some(send.rfc_message_id.as_str())
        });
        let Some(m) = found else {
            if obs.now.timestamp() > limit.timestamp() {
                self.decide(i, false, format!("no {label} within {within} of sending"));
            }
            return;
        };
        let after = m.stored_at.duration_since(send.sent_at.timestamp());
        if m.private_id != send.private_id {
            self.decide(
                i,
                false,
                format!(
                    "{label} {} does not carry the private-id {:?} (has {:?}); PVD-IO §3.1.9 requires it to be copied",
                    m.message_id, send.private_id, m.private_id
                ),
            );
        } else if m.stored_at > limit.timestamp() {
            self.decide(
                i,
                false,
                format!(
                    "{label} {} arrived {} after sending, later than {within}",
                    m.message_id,
                    human(after)
                ),
            );
        } else {
            match confirmation_verdict(&m.raw, obs.trust_anchor, obs.now.timestamp()).and_then(|signed| extra(&m).map(|()| signed)) {
                Ok(signed) => self.decide(
                    i,
                    true,
                    format!(
                        "{label} {} from {} in the sender's mailbox {} after sending (limit {within}), private-id copied, {signed}",
                        m.message_id,
                        m.from,
                        human(after)
                    ),
                ),
                Err(why) => self.decide(i, false, format!("{label} {} is not valid: {why}", m.message_id)),
            }
        }
    }

    /// The case the intake opened for the step's message: the message is found in one of
    /// the intake's mailboxes at the provider (by Message-ID), and its X-de-mail-message-id
    /// in the intake's `intake.received` events.
    /// The provider's message id (`X-de-mail-message-id`) of the step's message, as stored in
    /// one of the intake's mailboxes.
    fn intake_message_id(&self, obs: &Observation<'_>, send: &SendOutcome) -> Option<String> {
        self.scenario.intake.mailboxes.iter().find_map(|m| {
            obs.world
                .mailbox(&m.address)
                .ok()?
                .into_iter()
                .find_map(|s| {
                    (s.rfc_message_id.as_deref() == Some(send.rfc_message_id.as_str()))
                        .then_some(s.message_id)
                })
        })
    }

    /// Judges the provider's push of the step's message into the intake: delivered by
    /// `within` after sending, or by the PVD-FU § 4.2 limit (rule `provider-mailbox`).
    /// Decided at the delivery, or failed once the limit has passed without one.
    fn delivery(
        &mut self,
        i: usize,
        obs: &Observation<'_>,
        send: &SendOutcome,
        within: Option<jiff::Span>,
    ) {
        let (limit, what) = match within {
            Some(w) => match send.sent_at.checked_add(w) {
                Ok(l) => (l, format!("within {w}")),
                Err(e) => return self.decide(i, false, format!("limit out of range: {e}")),
            },
            None => {
                match crate::rules::due("provider-mailbox", &send.sent_at, &self.scenario.place) {
                    Ok(d) => (
                        d.due,
                        format!("within the limit of {} ({})", d.rule, d.sources),
                    ),
                    Err(e) => {
                        return self.decide(i, false, format!("deadline provider-mailbox: {e}"));
                    }
                }
            }
        };
        let Some(message_id) = self.intake_message_id(obs, send) else {
            return;
        };
        let events = self.trace.events();
        let failures: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ProviderDeliveryFailed {
                    message_id: m,
                    reason,
                    ..
                } if *m == message_id => Some(format!("{}: {reason}", e.at)),
                _ => None,
            })
            .collect();
        let delivered = events.iter().find_map(|e| match &e.kind {
            EventKind::ProviderDelivered {
                message_id: m,
                attempt,
                ..
            } if *m == message_id => Some((e.at.clone(), *attempt)),
            _ => None,
        });
        let limit_text = format_instant(&limit);
        let last_failure = failures
            .last()
            .map(|f| format!("; last failure {f}"))
            .unwrap_or_default();
        match delivered {
            Some((at, attempt)) => {
                let on_time = at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|t| t <= limit.timestamp());
                let detail = format!(
                    "{message_id} pushed into the intake at {at} at attempt {attempt} ({} failed before), {what}: latest {limit_text}{last_failure}",
                    failures.len()
                );
                if on_time {
                    self.decide(i, true, detail);
                } else {
                    self.decide(i, false, format!("late: {detail}"));
                }
            }
            None if obs.now.timestamp() > limit.timestamp() => self.decide(
                i,
                false,
                format!(
                    "{message_id} not pushed into the intake {what}: latest {limit_text}; {} failed attempts{last_failure}",
                    failures.len()
                ),
            ),
            None => {}
        }
    }

    fn intake_case(&self, obs: &Observation<'_>, send: &SendOutcome) -> Option<IntakeCase> {
        let message_id = self.intake_message_id(obs, send)?;
        self.trace.events().into_iter().find_map(|e| match e.kind {
            EventKind::IntakeReceived {
                aktenzeichen,
                procedure,
                message_id: m,
                binding,
                reason,
                ..
            } if m == message_id => Some(IntakeCase {
                aktenzeichen,
                procedure,
                binding,
                reason,
            }),
            _ => None,
        })
    }

    /// Judges the DMS hand-over of a case: the mock DMS holds a record for it whose message
    /// hash matches its bytes and the message as stored in the intake's mailbox.
    fn dms(&mut self, i: usize, obs: &Observation<'_>, send: &SendOutcome, case: &IntakeCase) {
        use demail_sim::intake::dms::EvidenceRecord;
        let Some(dms) = obs.dms else {
            return;
        };
        let Some(doc) = dms
            .documents()
            .into_iter()
            .find(|d| d["aktenzeichen"] == case.aktenzeichen.as_str())
        else {
            return;
        };
        let record: Result<EvidenceRecord, _> = serde_json::from_value(doc.clone());
        let stored = self.scenario.intake.mailboxes.iter().find_map(|m| {
            obs.world
                .mailbox(&m.address)
                .ok()?
                .into_iter()
                .find_map(|s| {
                    (s.rfc_message_id.as_deref() == Some(send.rfc_message_id.as_str()))
                        .then_some(s.raw)
                })
        });
        let confirmations = doc["confirmations"].as_array().map_or(0, Vec::len);
        let attempts = self
            .trace
            .events()
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::IntakeDms { aktenzeichen, .. } if *aktenzeichen == case.aktenzeichen))
            .count();
        let verdict = if let Err(e) = record
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|r| r.verify())
        {
            Err(format!("the evidence record does not hold together: {e}"))
        } else if stored.as_ref().is_some_and(|s| {
            // Equal up to trailing empty lines: the push client (lettre) ends DATA with an
            // extra CRLF, and the seal's simple body canonicalization ignores them
            // (RFC 6376 §3.4.3), so they carry no meaning.
            let trim = |b: &[u8]| {
                let mut b = b.to_vec();
                while b.ends_with(b"\r\n\r\n") {
                    b.truncate(b.len() - 2);
                }
                b
            };
            let received = record
                .as_ref()
                .ok()
                .and_then(|r| r.raw().ok())
                .unwrap_or_default();
            trim(s) != trim(&received)
        }) {
            Err("the record's message differs from the one in the intake's mailbox".into())
        } else if doc["integrity"].as_str().is_none_or(str::is_empty) {
            Err("the record lacks the provider's X-de-mail-integrity value".into())
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => self.decide(
                i,
                true,
                // The hash itself stays out of the trace: the seal is an ECDSA signature by
                // a key generated per run, so the bytes differ from run to run.
                format!(
                    "{} is in the DMS with its evidence record (SHA-256 matches the message in the mailbox, seal kept, {confirmations} confirmation(s)) after {attempts} hand-over attempt(s)",
                    case.aktenzeichen
                ),
            ),
            Err(why) => self.decide(i, false, format!("{}: {why}", case.aktenzeichen)),
        }
    }

    /// Judges the Zustellung (service) of the intake's reply to the step's message under
    /// § 5a VwZG: by Abholbestätigung, or by the fiction on the 4th day after sending when no
    /// Abholbestätigung came by then and the recipient has opened access (Abs. 4 Satz 1).
    fn zustellung(&mut self, i: usize, obs: &Observation<'_>, send: &SendOutcome, expected: &str) {
        use demail_sim::law::{self, Options, When};
        let mailbox = match obs.world.mailbox(&send.from) {
            Ok(m) => m,
            Err(e) => {
                self.decide(i, false, format!("cannot read the sender's mailbox: {e:#}"));
                return;
            }
        };
        // The served document: the intake's message in reply to the step's message that asks
        // for an Abholbestätigung (a Bescheid, or a reply sent with that option).
        let Some(reply) = mailbox.iter().find(|m| {
            self.scenario.intake.mailbox(&m.from).is_some()
                && m.in_reply_to.as_deref() == Some(send.rfc_message_id.as_str())
                && demail_sim::demail::headers::RawMessage::parse(&m.raw).is_ok_and(|r| {
                    r.first(demail_sim::demail::h::CONFIRMATION_OF_RETRIEVE)
                        .as_deref()
                        == Some("yes")
                })
        }) else {
            return;
        };
        let tz = obs.now.time_zone().clone();
        let sent = reply.stored_at.to_zoned_datetime(tz.clone());
        let retrieval = mailbox.iter().find(|m| {
            m.message_type == MessageType::ConfirmationOfRetrieve
                && m.in_reply_to.is_some()
                && m.in_reply_to == reply.rfc_message_id
        });
        let collected_on = retrieval.map(|r| r.stored_at.to_zoned_datetime(tz.clone()).date());
        let options = Options {
            collected_on,
            ..Options::default()
        };
        let served = match law::compute(
            "zustellung-abholung",
            sent.date(),
            &self.scenario.place,
            &options,
        ) {
            Ok(d) => d,
            Err(e) => {
                self.decide(i, false, format!("zustellung-abholung: {e}"));
                return;
            }
        };
        let day = match served.when {
            When::Date(d) => d,
            When::DateTime(dt) => dt.date(),
        };
        let source = served.sources.join("; ");
        let by_retrieval = collected_on.is_some_and(|c| c <= day) && retrieval.is_some();
        if !by_retrieval {
            // Without an Abholbestätigung the fiction holds only once its day is over, and only
            // for a recipient who opened access (§ 5a Abs. 4 Satz 1 VwZG).
            let Ok(end) = day.tomorrow().and_then(|d| d.to_zoned_datetime(tz)) else {
                return;
            };
            if obs.now.timestamp() < end.timestamp() {
                return;
            }
            let opened = self
                .scenario
                .file
                .citizen
                .iter()
                .find(|c| normalize_address(&c.address) == normalize_address(&send.from))
                .is_some_and(|c| c.access_opened);
            if !opened {
                self.decide(
                    i,
                    false,
                    format!(
                        "no Zustellung of {}: no Abholbestätigung, and {} has not opened access, so the fiction of § 5a Abs. 4 Satz 1 VwZG does not apply",
                        reply.message_id, send.from
                    ),
                );
                return;
            }
        }
        let mode = if by_retrieval { "abholung" } else { "fiktion" };
        // The intake must have recorded the same day and mode in its file (its
        // `intake.zustellung` for the case the document belongs to).
        let case = self.intake_case(obs, send);
        let recorded = case.as_ref().and_then(|c| {
            self.trace.events().into_iter().find_map(|e| match e.kind {
                EventKind::IntakeZustellung {
                    aktenzeichen,
                    mode,
                    date,
                    rechtsbehelf_until,
                    ..
                } if aktenzeichen == c.aktenzeichen => Some((mode, date, rechtsbehelf_until)),
                _ => None,
            })
        });
        // For a Bescheid the intake must also have computed the period for a remedy from the
        // day of Zustellung: § 70 VwGO with a Rechtsbehelfsbelehrung, § 58 Abs. 2 VwGO without.
        let remedy = case
            .as_ref()
            .and_then(|c| self.scenario.intake.procedure(&c.procedure))
            .and_then(|p| p.bescheid.as_ref())
            .map(|b| {
                let rule = if b.rechtsbehelfsbelehrung {
                    "widerspruch"
                } else {
                    "ohne-belehrung"
                };
                match law::compute_date(rule, day, &self.scenario.place, &Options::default()) {
                    Ok((_, When::Date(d))) => format!("{d} ({rule})"),
                    Ok((_, When::DateTime(d))) => format!("{} ({rule})", d.date()),
                    Err(e) => format!("not computable: {e}"),
                }
            })
            .unwrap_or_default();
        let intake_note = match &recorded {
            Some((m, d, until)) if m == mode && *d == day.to_string() && *until == remedy => {
                if until.is_empty() {
                    format!("; the intake recorded the same ({m}, {d})")
                } else {
                    format!(
                        "; the intake recorded the same ({m}, {d}) and a remedy period until {until}"
                    )
                }
            }
            Some((m, d, until)) if m == mode && *d == day.to_string() => {
                self.decide(
                    i,
                    false,
                    format!(
                        "{} is served on {day} by {mode}, as the intake recorded, but the intake computed the remedy period until {until:?} instead of {remedy:?}",
                        reply.message_id
                    ),
                );
                return;
            }
            Some((m, d, _)) => {
                self.decide(
                    i,
                    false,
                    format!(
                        "{} is served on {day} by {mode} under § 5a VwZG, but the intake recorded {m} on {d}",
                        reply.message_id
                    ),
                );
                return;
            }
            // Not (yet) recorded: an intake that pulls its mail sees the Abholbestätigung
            // only at its next poll. Undecided until then; at the end it fails as "not
            // observed".
            None => return,
        };
        self.trace.emit(if by_retrieval {
            EventKind::ZustellungAbholung {
                message_id: reply.message_id.clone(),
                date: day.to_string(),
                source: source.clone(),
            }
        } else {
            EventKind::ZustellungFiktion {
                message_id: reply.message_id.clone(),
                date: day.to_string(),
                source: source.clone(),
            }
        });
        let detail = format!(
            "{} served on {day} by {} (sent {}){intake_note}; {}",
            reply.message_id,
            if by_retrieval {
                "Abholbestätigung"
            } else {
                "Zustellungsfiktion"
            },
            sent.date(),
            source
        );
        if mode == expected {
            self.decide(i, true, detail);
        } else {
            self.decide(
                i,
                false,
                format!("expected Zustellung by {expected}, but: {detail}"),
            );
        }
    }

    /// Judges a whole traffic: every accepted message must have a reply from the intake before
    /// the rule's deadline. Decided once every arrival was sent and either all replied or the
    /// last deadline passed, or at the end of the run (`at_end`).
    fn all_replies(
        &mut self,
        i: usize,
        obs: &Observation<'_>,
        traffic: &str,
        rule: &str,
        at_end: bool,
    ) {
        let so_far = self.sent_per_traffic.get(traffic).copied().unwrap_or(0);
        if !at_end && so_far < obs.traffic_total(traffic) {
            return;
        }
        let prefix = format!("{traffic}#");
        let sent: Vec<&SendOutcome> = obs
            .sends
            .iter()
            .filter(|s| s.step_id.starts_with(&prefix))
            .collect();
        if !at_end && sent.len() < obs.traffic_total(traffic) {
            return;
        }
        let mut open = Vec::new();
        let (mut in_time, mut late, mut missing, mut refused) =
            (0usize, Vec::new(), Vec::new(), 0usize);
        let mut latencies: Vec<i64> = Vec::new();
        let mut last_due = None;
        for s in &sent {
            if s.refused.is_some() {
                refused += 1;
                continue;
            }
            let key = (i, s.step_id.clone());
            let (due, seen) = match self.reply_seen.get(&key) {
                Some(known) => *known,
                None => match crate::rules::due(rule, &s.sent_at, &self.scenario.place) {
                    Ok(d) => (d.due.timestamp(), None),
                    Err(e) => {
                        self.decide(i, false, format!("deadline {rule}: {e}"));
                        return;
                    }
                },
            };
            last_due = last_due.max(Some(due));
            let reply_at = match seen {
                Some(at) => Some(at),
                None => {
                    let mailbox = match obs.world.mailbox(&s.from) {
                        Ok(m) => m,
                        Err(e) => {
                            self.decide(i, false, format!("cannot read a mailbox: {e:#}"));
                            return;
                        }
                    };
                    mailbox
                        .iter()
                        .find(|m| {
                            self.scenario.intake.mailbox(&m.from).is_some()
                                && m.in_reply_to.as_deref() == Some(s.rfc_message_id.as_str())
                        })
                        .map(|m| m.stored_at)
                }
            };
            self.reply_seen.insert(key, (due, reply_at));
            match reply_at {
                Some(at) if at < due => {
                    in_time += 1;
                    latencies.push(at.duration_since(s.sent_at.timestamp()).as_secs());
                }
                Some(_) => late.push(s.step_id.clone()),
                None if obs.now.timestamp() < due => open.push(s.step_id.clone()),
                None => missing.push(s.step_id.clone()),
            }
        }
        let all_settled = open.is_empty() || last_due.is_some_and(|d| obs.now.timestamp() >= d);
        if !at_end && !all_settled {
            return;
        }
        latencies.sort_unstable();
        let pct = |p: usize| -> String {
            if latencies.is_empty() {
                return "-".into();
            }
            let idx = ((latencies.len() * p).div_ceil(100)).clamp(1, latencies.len()) - 1;
            human(SignedDuration::from_secs(latencies[idx]))
        };
        let accepted = sent.len() - refused;
        let detail = format!(
            "{} sent, {accepted} accepted, {refused} refused by the provider; {in_time} replied before the {rule} deadline (p50 {}, p95 {}, max {}), {} late{}, {} without reply{}{}",
            sent.len(),
            pct(50),
            pct(95),
            pct(100),
            late.len(),
            if late.is_empty() {
                String::new()
            } else {
                format!(" ({})", late.join(", "))
            },
            missing.len(),
            if missing.is_empty() {
                String::new()
            } else {
                format!(" ({})", missing.join(", "))
            },
            if open.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} still open when the run ended before their deadline ({}); lengthen `duration` or shorten the traffic's `until`",
                    open.len(),
                    open.join(", ")
                )
            },
        );
        let passed = late.is_empty() && missing.is_empty() && open.is_empty() && accepted > 0;
        self.decide(i, passed, detail);
    }

    /// Reply times of a traffic's accepted messages: (step id, seconds from sending to the
    /// intake's reply in the sender's mailbox, or `None` without reply), and how many the
    /// provider refused.
    fn reply_times(&self, obs: &Observation<'_>, traffic: &str) -> Result<ReplyTimes, String> {
        let prefix = format!("{traffic}#");
        let mut out = Vec::new();
        let mut refused = 0;
        for s in obs.sends.iter().filter(|s| s.step_id.starts_with(&prefix)) {
            if s.refused.is_some() {
                refused += 1;
                continue;
            }
            let mailbox = obs
                .world
                .mailbox(&s.from)
                .map_err(|e| format!("cannot read a mailbox: {e:#}"))?;
            let reply = mailbox.iter().find(|m| {
                self.scenario.intake.mailbox(&m.from).is_some()
                    && m.in_reply_to.as_deref() == Some(s.rfc_message_id.as_str())
            });
            out.push((
                s.step_id.clone(),
                reply.map(|m| m.stored_at.duration_since(s.sent_at.timestamp()).as_secs()),
            ));
        }
        Ok((out, refused))
    }

    /// Judges a latency threshold at the end of the run.
    fn latency(
        &mut self,
        i: usize,
        obs: &Observation<'_>,
        traffic: &str,
        p: u8,
        within: jiff::Span,
    ) {
        let (times, refused) = match self.reply_times(obs, traffic) {
            Ok(t) => t,
            Err(e) => return self.decide(i, false, e),
        };
        if times.is_empty() {
            return self.decide(
                i,
                false,
                format!("traffic {traffic} has no accepted message ({refused} refused)"),
            );
        }
        let limit = match within.to_duration(&obs.now) {
            Ok(d) => d.as_secs(),
            Err(e) => return self.decide(i, false, format!("within: {e}")),
        };
        // Nearest-rank percentile; a message without reply sorts last (infinitely late).
        let mut sorted: Vec<Option<i64>> = times.iter().map(|(_, t)| *t).collect();
        sorted.sort_by_key(|t| t.unwrap_or(i64::MAX));
        let rank = (sorted.len() * usize::from(p))
            .div_ceil(100)
            .clamp(1, sorted.len());
        let value = sorted[rank - 1];
        let missing = times.iter().filter(|(_, t)| t.is_none()).count();
        let shown = value.map_or_else(
            || "no reply".to_string(),
            |v| human(SignedDuration::from_secs(v)),
        );
        let detail = format!(
            "p{p} of the reply time over {} accepted messages of {traffic} is {shown} (limit {}; {missing} without reply, {refused} refused)",
            sorted.len(),
            human(SignedDuration::from_secs(limit))
        );
        let passed = value.is_some_and(|v| v <= limit);
        self.decide(i, passed, detail);
    }

    /// Judges a throughput threshold at the end of the run.
    fn throughput(&mut self, i: usize, obs: &Observation<'_>, traffic: &str, per_day: u32) {
        let (times, refused) = match self.reply_times(obs, traffic) {
            Ok(t) => t,
            Err(e) => return self.decide(i, false, e),
        };
        let prefix = format!("{traffic}#");
        let Some(first) = obs
            .sends
            .iter()
            .filter(|s| s.step_id.starts_with(&prefix))
            .map(|s| s.sent_at.timestamp())
            .min()
        else {
            return self.decide(i, false, format!("traffic {traffic} sent nothing"));
        };
        let replied = times.iter().filter(|(_, t)| t.is_some()).count();
        let secs = obs.now.timestamp().duration_since(first).as_secs().max(1);
        let days = (secs as f64 / 86_400.0).max(1.0);
        let rate = replied as f64 / days;
        let detail = format!(
            "{replied} replies to {traffic} over {days:.1} days from the first arrival: {rate:.1} per day (required {per_day}; {} accepted, {refused} refused)",
            times.len()
        );
        self.decide(i, rate >= f64::from(per_day), detail);
    }

    /// Fails whatever is still undecided at the end of the scenario.
    pub fn finish(&mut self, now: &ZonedDateTime, obs: &Observation<'_>) {
        for i in 0..self.verdicts.len() {
            if self.verdicts[i].is_some() {
                continue;
            }
            match self.scenario.expectations[i].clone() {
                Expectation::Latency {
                    traffic,
                    percentile,
                    within,
                } => self.latency(i, obs, &traffic, percentile, within),
                Expectation::Throughput { traffic, per_day } => {
                    self.throughput(i, obs, &traffic, per_day);
                }
                _ => {}
            }
        }
        for i in 0..self.verdicts.len() {
            if self.verdicts[i].is_none()
                && let Expectation::AllReplies { traffic, rule } = &self.scenario.expectations[i]
            {
                let (traffic, rule) = (traffic.clone(), rule.clone());
                self.all_replies(i, obs, &traffic, &rule, true);
            }
        }
        for i in 0..self.verdicts.len() {
            if self.verdicts[i].is_none() {
                self.decide(
                    i,
                    false,
                    format!(
                        "not observed by the end of the scenario at {}",
                        format_instant(now)
                    ),
                );
            }
        }
    }

    /// The verdicts in the order of the file.
    pub fn outcomes(&self) -> Vec<CheckOutcome> {
        self.verdicts.iter().flatten().cloned().collect()
    }
}

/// Checks a confirmation or Meldung as the TR requires it (PVD-IO §3.4–3.5): signed by its provider
/// under the trust anchor, and carrying the Acknowledge-Message XML and a PDF. Returns a short
/// description of the signature, or why it fails.
fn confirmation_verdict(raw: &[u8], anchor: &[u8], now: jiff::Timestamp) -> Result<String, String> {
    use demail_sim::demail::headers::RawMessage;
    use demail_sim::demail::integrity::{Verdict, VerifyOptions, verify_with};
    let msg = RawMessage::parse(raw).map_err(|e| e.to_string())?;
    let anchors = [anchor.to_vec()];
    let verdict = verify_with(
        &msg,
        &VerifyOptions {
            trusted_cas: Some(&anchors),
            at_unix: Some(now.as_second()),
        },
    );
    let signer = match &verdict {
        Verdict::Signed {
            trusted: true,
            signer,
            alg,
            sig,
            ..
        } => format!("signed by {signer} ({alg}/{sig})"),
        other => return Err(format!("X-de-mail-integrity: {other}")),
    };
    let text = String::from_utf8_lossy(raw);
    if !text.contains("application/xml") || !text.contains("application/pdf") {
        return Err("the body lacks the urn:de-mail XML or the PDF (PVD-IO §3.4.1, §3.5)".into());
    }
    Ok(signer)
}

/// "20h 0m", "3d 2h 5m", "0s".
pub fn human(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hours, rest) = (rest / 3600, rest % 3600);
    let minutes = rest / 60;
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days}d "));
    }
    out.push_str(&format!("{hours}h {minutes}m"));
    out
}
