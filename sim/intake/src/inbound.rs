//! The intake's SMTP listener handler (mailin-embedded): receives pushed De-Mails.
//!
//! A message without the metadata a provider sets on every De-Mail (PVD-IO Tabelle 1) is
//! refused with 554 and the list of what is missing: the intake accepts De-Mail only, so plain
//! e-mail is never binding. Confirmations and Meldungen are kept as evidence (the service
//! module acts on them); normal messages are classified into a procedure, judged by the form
//! rule (`form_rule.rs`) and open a case with the deadlines receipt starts.

use std::net::IpAddr;
use std::sync::Arc;

use mailin_embedded::response::{OK, Response};

use super::flaw::{Flaw, Flaws};
use super::form_rule::{FormFacts, judge};
use super::{Case, CaseDeadline, Evidence, Intake, IntakeState, Verdict, berlin};
use demail_core::refusal::Refusal;
use demail_core::sync::lock;
use demail_core::trace::EventKind;
use demail_wire::headers::RawMessage;
use demail_wire::integrity::{self, VerifyOptions};
use demail_wire::{MessageType, h, normalize_address};

/// Headers every De-Mail carries when it leaves a provider (PVD-IO Tabelle 1, XX in all
/// columns).
const REQUIRED: [&str; 5] = [
    h::SENDER,
    h::MESSAGE_ID,
    h::MESSAGE_TYPE,
    h::ORIGINATOR_PROVIDER,
    h::VERSION,
];

/// One SMTP session's handler; mailin-embedded clones it per session.
#[derive(Clone)]
pub struct Handler {
    intake: Arc<Intake>,
    data: Vec<u8>,
    /// The first recipient that is a mailbox of this intake.
    mailbox: Option<String>,
    /// Lines of the current DATA so far, and the first one with a bare LF or bare CR.
    lines: usize,
    bare_line_end: Option<usize>,
}

impl Handler {
    pub(crate) fn new(intake: Arc<Intake>) -> Self {
        Self {
            intake,
            data: Vec::new(),
            mailbox: None,
            lines: 0,
            bare_line_end: None,
        }
    }

    /// The answer to every command once the intake was dropped (its listener lives on).
    fn stopped(&self) -> Option<Response> {
        self.intake
            .stopped
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| Response::custom(421, "4.3.2 this intake has stopped".into()))
    }
}

impl mailin_embedded::Handler for Handler {
    fn rcpt(&mut self, to: &str) -> Response {
        if let Some(r) = self.stopped() {
            return r;
        }
        let now = lock(&self.intake.state).now;
        if let Some(now) = now
            && let Some((_, until)) = self
                .intake
                .config
                .outages
                .iter()
                .find(|(from, until)| *from <= now && now < *until)
        {
            return Response::custom(
                451,
                format!(
                    "4.3.2 intake down for maintenance until {}; try again later",
                    demail_core::clock::format_instant(&until.to_zoned_datetime(super::berlin()))
                ),
            );
        }
        if self.intake.config.file.mailbox(to).is_some() {
            OK
        } else {
            Response::custom(550, format!("5.1.1 <{to}> is not a mailbox of this intake"))
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.data.clear();
        self.lines = 0;
        self.bare_line_end = None;
        self.mailbox = to
            .iter()
            .find(|t| self.intake.config.file.mailbox(t).is_some())
            .map(|t| normalize_address(t));
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // mailin hands over one line at a time, split at LF: a line that does not end in CRLF,
        // or a CR elsewhere, is a bare line end (RFC 5321 §2.3.8).
        self.lines += 1;
        if self.bare_line_end.is_none() && has_bare_line_end(buf) {
            self.bare_line_end = Some(self.lines);
        }
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let data = std::mem::take(&mut self.data);
        self.lines = 0;
        if let Some(line) = self.bare_line_end.take() {
            // mailin ends DATA at any line ".\r\n", also one after a bare LF (`\n.\r\n`), so
            // what follows may be a smuggled second transaction (SMTP smuggling). Refuse the
            // message and close the session, so that nothing after it is read as a command.
            let mut refusal = Response::custom(
                554,
                format!(
                    "5.6.0 bare LF or bare CR in line {line} of the message; lines end in CRLF only (RFC 5321 §2.3.8); closing the session"
                ),
            );
            refusal.action = mailin_embedded::response::Action::Close;
            if let Some(mailbox) = self.mailbox.clone() {
                lock(&self.intake.state)
                    .events
                    .push(EventKind::IntakeRefused {
                        mailbox,
                        code: 554,
                        reason: format!("bare LF or bare CR in line {line} (RFC 5321 §2.3.8)"),
                    });
            }
            return refusal;
        }
        let Some(mailbox) = self.mailbox.clone() else {
            // Closed after the reply, as below.
            let mut refusal = Response::custom(554, "5.1.1 no recipient of this intake".into());
            refusal.action = mailin_embedded::response::Action::Close;
            return refusal;
        };
        match receive(&self.intake, &mailbox, &data) {
            Ok(()) => OK,
            Err(r) => {
                if r.code >= 500 {
                    lock(&self.intake.state)
                        .events
                        .push(EventKind::IntakeRefused {
                            mailbox,
                            code: r.code,
                            reason: r.status_text(),
                        });
                }
                // mailin 0.6.5 keeps the DATA state after an error reply to the end of DATA
                // (fsm.rs, `transform_state` keeps the current state on `is_error`), so the
                // client's next command (QUIT, or the next MAIL) would be read as message text
                // and never answered. The session is closed after the reply instead.
                let mut refusal = Response::custom(r.code, r.status_text());
                refusal.action = mailin_embedded::response::Action::Close;
                refusal
            }
        }
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        if let Some(r) = self.stopped() {
            return r;
        }
        OK
    }
}

/// Whether a DATA line (with its line end) ends in anything but CRLF or holds a CR that is not
/// part of its final CRLF.
fn has_bare_line_end(line: &[u8]) -> bool {
    let body = match line.strip_suffix(b"\r\n") {
        Some(b) => b,
        None => return true,
    };
    body.contains(&b'\r') || body.contains(&b'\n')
}

/// Judges and records one pushed message to `mailbox`; `Err` refuses it. The time of receipt
/// is the Eingang the provider stamped on top of the message (docs/sut.md "Legal time",
/// docs/headers.md "Time on the wire"): when a push comes late (the listener was down), the
/// message still reached the Funktionspostfach at its Eingang. Without a stamp (a message the
/// provider made itself) the intake's clock is the time.
pub(crate) fn receive(intake: &Intake, mailbox: &str, data: &[u8]) -> Result<(), Refusal> {
    receive_at(intake, mailbox, data, stamped_eingang(data))
}

/// The date of the topmost `Received` field. Only the top one: a client's own `Received`
/// fields lie below the provider's (RFC 5321 §4.4: trace fields are prepended).
fn stamped_eingang(data: &[u8]) -> Option<jiff::Timestamp> {
    let msg = demail_wire::headers::RawMessage::parse(data).ok()?;
    let date = demail_wire::received::read(&msg.first_field("received")?.value()).date?;
    jiff::fmt::rfc2822::parse(&date).ok().map(|z| z.timestamp())
}

/// The `Date` field of a message, as an instant.
fn message_date(msg: &RawMessage) -> Option<jiff::Timestamp> {
    let date = msg.first("date")?;
    jiff::fmt::rfc2822::parse(date.trim())
        .ok()
        .map(|z| z.timestamp())
}

/// The checks every pushed message passes first: readable, the metadata every De-Mail carries
/// (PVD-IO Tabelle 1), a known message type (Tabelle 12).
fn read_demail(data: &[u8]) -> Result<(RawMessage, MessageType, String), Refusal> {
    let msg = RawMessage::parse(data)
        .map_err(|e| Refusal::new(554, "5.6.0", &format!("unreadable message: {e}")))?;
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| msg.first(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::new(
            554,
            "5.6.0",
            &format!(
                "not a De-Mail: missing {} (PVD-IO Tabelle 1)",
                missing.join(", ")
            ),
        ));
    }
    let message_type = msg.first(h::MESSAGE_TYPE).unwrap_or_default();
    let Some(kind) = MessageType::parse(&message_type) else {
        return Err(Refusal::new(
            554,
            "5.6.0",
            &format!("unknown X-de-mail-message-type {message_type:?} (PVD-IO Tabelle 12)"),
        ));
    };
    Ok((msg, kind, message_type))
}

/// A confirmation or Meldung: kept as evidence, acted on by the service module, and added to
/// the DMS record of the case whose Aktenzeichen it carries as private-id.
fn file_system_message(
    intake: &Intake,
    state: &mut IntakeState,
    msg: &RawMessage,
    message_type: &str,
    data: &[u8],
    now: jiff::Timestamp,
) -> Result<(), Refusal> {
    let demail_message_id = msg.first(h::MESSAGE_ID).unwrap_or_default();
    let private_id = msg.first(h::PRIVATE_ID);
    state.evidence.push(Evidence {
        message_type: message_type.to_string(),
        demail_message_id: demail_message_id.clone(),
        private_id,
        in_reply_to: msg.first("in-reply-to").map(|s| s.trim().to_string()),
        notification_type: msg.first(h::NOTIFICATION_TYPE),
        received_at: now,
        handled: false,
    });
    super::service::file_evidence(state, &intake.config.file.city.place, &intake.config.flaws);
    // The confirmation belongs to the case whose Aktenzeichen it carries as private-id
    // (the intake sets it on everything it sends); it joins the case's evidence record.
    let case_key = msg.first(h::PRIVATE_ID).and_then(|az| {
        state
            .cases
            .by_aktenzeichen(&az)
            .map(|c| c.demail_message_id.clone())
            .or_else(|| {
                let archive = intake.archive.as_ref()?;
                lock(archive).message_id_of(&az).ok().flatten()
            })
    });
    if let (Some(key), Some((outbox, _))) = (case_key, &intake.dms) {
        dms_add_confirmation(outbox, &key, message_type, &demail_message_id, data, now).map_err(
            |e| {
                Refusal::new(
                    451,
                    "4.3.0",
                    &format!("cannot file the confirmation: {e:#}"),
                )
            },
        )?;
    }
    Ok(())
}

/// [`receive`] with the time of receipt: `Some(Eingang)` when the intake pulls a message that
/// reached its mailbox earlier (the Eingang in the mailbox is the receipt, not the poll), `None`
/// for the intake's clock (push).
pub(crate) fn receive_at(
    intake: &Intake,
    mailbox: &str,
    data: &[u8],
    at: Option<jiff::Timestamp>,
) -> Result<(), Refusal> {
    let (msg, kind, message_type) = read_demail(data)?;
    let demail_message_id = msg.first(h::MESSAGE_ID).unwrap_or_default();
    let private_id = msg.first(h::PRIVATE_ID);
    let mut state = lock(&intake.state);
    // Legal time comes from the provider's stamps (docs/sut.md "Legal time"); a message the
    // provider made itself carries none, so the test clock dates it, and without a test clock
    // (a level-1 run, docs/sut.md "Levels") the provider's own Date field does: it is covered
    // by the provider's seal (PVD-IO §3.1.21), unlike a citizen's Date.
    let unstamped = || {
        (kind != MessageType::Normal)
            .then(|| message_date(&msg))
            .flatten()
    };
    let now = match (at, state.now) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => match unstamped() {
            Some(t) => t,
            None => {
                return Err(Refusal::new(
                    451,
                    "4.3.0",
                    "intake test clock not set yet and the message carries no Received stamp; try again",
                ));
            }
        },
    };
    if kind != MessageType::Normal {
        return file_system_message(intake, &mut state, &msg, &message_type, data, now);
    }
    // Idempotent by X-de-mail-message-id (PVD-IO §3.1.18, unique per message): a message
    // delivered again (a push repeated after a lost 250) is accepted and opens no second case.
    if !demail_message_id.is_empty()
        && let Some(aktenzeichen) = opened_for(intake, &state, mailbox, &demail_message_id)
            .map_err(|e| {
                Refusal::new(
                    451,
                    "4.3.0",
                    &format!("cannot check for a duplicate: {e:#}"),
                )
            })?
    {
        state.events.push(EventKind::IntakeDuplicate {
            mailbox: mailbox.to_string(),
            aktenzeichen,
            message_id: demail_message_id,
        });
        return Ok(());
    }
    // One header reader for every face: the first Subject counts (PVD-IO Tabelle 1 note).
    let subject = msg.subject().unwrap_or_default();
    // The provider's seal must verify against the trust anchor (PVD-IO §3.1.21: the key comes
    // from X-de-mail-signature-certificate, which must chain to a trusted CA).
    let anchors = [intake.config.ca_der.clone()];
    let integrity = integrity::verify_with(
        &msg,
        &VerifyOptions {
            trusted_cas: Some(&anchors),
            at_unix: Some(now.as_second()),
        },
    );
    let flaws = &intake.config.flaws;
    let integrity = flawed_integrity(integrity, flaws);
    let level = msg.first(h::AUTH_LEVEL).unwrap_or_default();
    let file = &intake.config.file;
    let procedure = file.classify(mailbox, &subject);
    let today = now.to_zoned_datetime(berlin()).date();
    let decision = judge(
        procedure,
        &FormFacts {
            authoritative: msg.first(h::AUTHORITATIVE).as_deref() == Some("yes")
                || flaws.has(Flaw::AcceptsUnconfirmed),
            auth_level: &level,
            integrity: &integrity,
            received_on: today,
        },
    );
    let citizen = msg
        .first(h::SENDER)
        .map(|s| normalize_address(&s))
        .unwrap_or_default();
    let aktenzeichen = state.next_aktenzeichen(&procedure.prefix, now);
    let zoned = now.to_zoned_datetime(berlin());
    let (deadlines, reply_due, bescheid_due) = timing(
        file,
        procedure,
        decision.binding,
        &zoned,
        &aktenzeichen,
        flaws,
    );
    // Beweiswertsicherung: the message as received, its hash and the provider's seal go into
    // the DMS outbox before the 250, so a DMS outage loses nothing (docs/dms.md).
    if let Some((outbox, _)) = &intake.dms {
        let record = super::dms::EvidenceRecord::new(
            aktenzeichen.clone(),
            procedure.id.clone(),
            mailbox,
            now,
            data,
            msg.first(h::INTEGRITY),
        )
        .map_err(|e| {
            Refusal::new(
                554,
                "5.6.0",
                &format!("cannot build the evidence record: {e}"),
            )
        })?;
        lock(outbox).enqueue(&record, now).map_err(|e| {
            Refusal::new(
                451,
                "4.3.0",
                &format!("cannot store the evidence record: {e:#}"),
            )
        })?;
    }
    state.events.push(EventKind::IntakeReceived {
        mailbox: mailbox.to_string(),
        aktenzeichen: aktenzeichen.clone(),
        procedure: procedure.id.clone(),
        message_id: demail_message_id.clone(),
        citizen: citizen.clone(),
        binding: decision.binding,
        reason: decision.reason.clone(),
    });
    state.cases.push(Case {
        aktenzeichen,
        mailbox: mailbox.to_string(),
        procedure: procedure.id.clone(),
        received_at: now,
        citizen,
        subject,
        demail_message_id,
        rfc_message_id: msg.first("message-id"),
        private_id,
        integrity: integrity.to_string(),
        verdict: if decision.binding {
            Verdict::Accepted
        } else {
            Verdict::FormDefect {
                reason: decision.reason.clone(),
                remedy: decision.remedy.unwrap_or_default(),
            }
        },
        deadlines,
        reply_due,
        replied: false,
        bescheid_due,
        bescheid_sent: false,
        last_error: None,
    });
    Ok(())
}

/// What receipt starts for a case: its deadlines (only a binding case: a defective one is no
/// application yet), when the reply goes out and when the Bescheid does, both moved into the
/// office hours (`office_hours.rs`), the reply never past its receipt rule's last day.
fn timing(
    file: &super::config::IntakeFile,
    procedure: &super::config::Procedure,
    binding: bool,
    zoned: &jiff::ZonedDateTime,
    aktenzeichen: &str,
    flaws: &Flaws,
) -> (Vec<CaseDeadline>, jiff::Timestamp, Option<jiff::Timestamp>) {
    // Deadlines start only for a binding case: a defective one is no application yet.
    let mut deadlines = Vec::new();
    // The end of the receipt rule's last day: the reply must go out before it, office hours
    // or not (`office_hours::OfficeHours::schedule`).
    let mut reply_latest = None;
    if binding {
        for rule in procedure.receipt_rule.iter().chain(&procedure.deadlines) {
            match demail_calendar::compute(
                rule,
                zoned.date(),
                &file.city.place,
                &demail_calendar::Options::default(),
            ) {
                Ok(d) => {
                    if Some(rule) == procedure.receipt_rule.as_ref()
                        && d.kind == demail_calendar::DeadlineKind::Latest
                    {
                        reply_latest = d
                            .date()
                            .tomorrow()
                            .and_then(|next| next.to_zoned_datetime(berlin()))
                            .ok()
                            .map(|z| z.timestamp());
                    }
                    deadlines.push(CaseDeadline::from_law(&d));
                }
                Err(e) => tracing::warn!("intake: deadline {rule} for {aktenzeichen}: {e}"),
            }
        }
    }
    let office = &file.office_hours;
    let place = &file.city.place;
    let now = zoned.timestamp();
    let planned_reply = zoned
        .checked_add(procedure.reply_after)
        .map_or(now, |z| z.timestamp());
    let reply_due = if binding && flaws.has(Flaw::LateEmpfangsbescheinigung) {
        // Flawed on purpose: the Empfangsbescheinigung of a binding case a week later,
        // whatever the receipt rule says (a defect notice still goes out in time).
        let late = zoned
            .checked_add(jiff::Span::new().days(7))
            .map_or(now, |z| z.timestamp());
        office.next_open(late, place, &berlin())
    } else {
        office.schedule(planned_reply, reply_latest, place, &berlin())
    };
    let bescheid_due = match (&procedure.bescheid, binding) {
        (Some(b), true) => zoned
            .checked_add(b.after)
            .ok()
            .map(|z| office.next_open(z.timestamp(), place, &berlin())),
        _ => None,
    };
    (deadlines, reply_due, bescheid_due)
}

/// The seal's verdict as a flawed intake reads it ([`Flaw::AcceptsBrokenSeal`],
/// [`Flaw::TrustsForeignSeal`]): the failure it overlooks counts as a trusted signature.
fn flawed_integrity(integrity: integrity::Verdict, flaws: &Flaws) -> integrity::Verdict {
    use integrity::{Carrier, Failure, HashAlg, SigAlg, Verdict};
    let overlooked = match &integrity {
        Verdict::Invalid(
            Failure::BodyHashMismatch { .. }
            | Failure::HeaderChanged { .. }
            | Failure::SignatureInvalid(_),
        ) => flaws.has(Flaw::AcceptsBrokenSeal),
        Verdict::Invalid(Failure::Untrusted(_)) => flaws.has(Flaw::TrustsForeignSeal),
        _ => false,
    };
    if overlooked {
        Verdict::Signed {
            alg: HashAlg::Sha256,
            sig: SigAlg::EcDsa,
            signer: "(not checked)".into(),
            carrier: Carrier::Integrity,
            trusted: true,
        }
    } else {
        integrity
    }
}

/// Adds a confirmation to the evidence record of the case with DMS key `key`.
fn dms_add_confirmation(
    outbox: &std::sync::Mutex<super::dms::DmsOutbox>,
    key: &str,
    message_type: &str,
    demail_message_id: &str,
    raw: &[u8],
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let mut outbox = lock(outbox);
    let Some(entry) = outbox.entry_by_key(key)? else {
        return Ok(());
    };
    let Some(mut record) = outbox.record(entry.id)? else {
        return Ok(());
    };
    record.add_confirmation(message_type, demail_message_id, raw);
    outbox.enqueue(&record, now)?;
    Ok(())
}

/// The Aktenzeichen of the case already opened for `message_id` in `mailbox`: an open one in
/// memory, or a closed one in the archive.
fn opened_for(
    intake: &Intake,
    state: &IntakeState,
    mailbox: &str,
    message_id: &str,
) -> anyhow::Result<Option<String>> {
    if let Some(case) = state
        .cases
        .by_message_id(message_id)
        .find(|c| c.mailbox == mailbox)
    {
        return Ok(Some(case.aktenzeichen.clone()));
    }
    match &intake.archive {
        Some(archive) => lock(archive).duplicate_of(mailbox, message_id),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Eingang is the topmost stamp's date; a forged stamp below it does not count; a
    /// message without a stamp has none (the intake's clock is used).
    #[test]
    fn the_eingang_is_the_topmost_received_stamp() {
        let msg = b"Received: from citizen.localhost ([127.0.0.1]) by smtp.dmda-a.de-mail.de\r\n\
            \twith ESMTPSA id <m000001@dmda-a.de-mail.de>;\r\n\
            \tMon, 3 Mar 2025 09:00:00 +0100\r\n\
            Received: from x by smtp.dmda-a.de-mail.de; Sun, 2 Mar 2025 09:00:00 +0100\r\n\
            Subject: s\r\n\r\nbody\r\n";
        let at = stamped_eingang(msg).expect("a stamp");
        assert_eq!(at.to_string(), "2025-03-03T08:00:00Z");
        assert_eq!(stamped_eingang(b"Subject: s\r\n\r\nbody\r\n"), None);
        assert_eq!(
            stamped_eingang(b"Received: garbage\r\nSubject: s\r\n\r\nbody\r\n"),
            None
        );
    }

    /// Without a test clock a provider-made message is dated by its Date field; a missing or
    /// unreadable Date gives none (the push is then refused 451 and retried).
    #[test]
    fn a_provider_message_is_dated_by_its_date_field() {
        let msg =
            RawMessage::parse(b"Date: Mon, 3 Mar 2025 09:00:00 +0100\r\nSubject: s\r\n\r\nb\r\n")
                .unwrap();
        assert_eq!(
            message_date(&msg).map(|t| t.to_string()),
            Some("2025-03-03T08:00:00Z".to_string())
        );
        let msg = RawMessage::parse(b"Date: yesterday\r\nSubject: s\r\n\r\nb\r\n").unwrap();
        assert_eq!(message_date(&msg), None);
        let msg = RawMessage::parse(b"Subject: s\r\n\r\nb\r\n").unwrap();
        assert_eq!(message_date(&msg), None);
    }
}
