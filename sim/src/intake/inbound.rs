//! The intake's SMTP listener handler (mailin-embedded): receives pushed De-Mails.
//!
//! A message without the metadata a provider sets on every De-Mail (PVD-IO Tabelle 1) is
//! refused with 554 and the list of what is missing: the intake accepts De-Mail only.
//! Confirmations are kept as evidence; normal messages open a case.

use std::net::IpAddr;
use std::sync::Arc;

use mailin_embedded::response::{OK, Response};

use super::{Case, Evidence, Intake, Verdict};
use crate::demail::headers::RawMessage;
use crate::demail::integrity::{self, Verdict as Integrity, VerifyOptions};
use crate::demail::{MessageType, h, normalize_address};
use crate::provider::lock;

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
    for_us: bool,
}

impl Handler {
    pub(crate) fn new(intake: Arc<Intake>) -> Self {
        Self {
            intake,
            data: Vec::new(),
            for_us: false,
        }
    }
}

impl mailin_embedded::Handler for Handler {
    fn rcpt(&mut self, to: &str) -> Response {
        if normalize_address(to) == normalize_address(&self.intake.config.address) {
            OK
        } else {
            Response::custom(550, format!("5.1.1 <{to}> is not a mailbox of this intake"))
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.data.clear();
        self.for_us = to
            .iter()
            .any(|t| normalize_address(t) == normalize_address(&self.intake.config.address));
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let data = std::mem::take(&mut self.data);
        if !self.for_us {
            return Response::custom(554, "5.1.1 no recipient of this intake".into());
        }
        match receive(&self.intake, &data) {
            Ok(()) => OK,
            Err((code, text)) => Response::custom(code, text),
        }
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }
}

/// Judges and records one pushed message; `Err((code, "x.y.z text"))` refuses it.
pub(crate) fn receive(intake: &Intake, data: &[u8]) -> Result<(), (u16, String)> {
    let msg =
        RawMessage::parse(data).map_err(|e| (554, format!("5.6.0 unreadable message: {e}")))?;
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| msg.first(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err((
            554,
            format!(
                "5.6.0 not a De-Mail: missing {} (PVD-IO Tabelle 1)",
                missing.join(", ")
            ),
        ));
    }
    let message_type = msg.first(h::MESSAGE_TYPE).unwrap_or_default();
    let Some(kind) = MessageType::parse(&message_type) else {
        return Err((
            554,
            format!("5.6.0 unknown X-de-mail-message-type {message_type:?} (PVD-IO Tabelle 12)"),
        ));
    };
    let demail_message_id = msg.first(h::MESSAGE_ID).unwrap_or_default();
    let private_id = msg.first(h::PRIVATE_ID);
    let mut state = lock(&intake.state);
    let now = match state.now {
        Some(t) => t,
        None => return Err((451, "4.3.0 intake test clock not set yet; try again".into())),
    };
    if kind != MessageType::Normal {
        state.evidence.push(Evidence {
            message_type,
            demail_message_id,
            private_id,
            received_at: now,
        });
        return Ok(());
    }
    let parsed = mail_parser::MessageParser::default().parse_headers(data);
    let subject = parsed
        .as_ref()
        .and_then(|m| m.subject())
        .unwrap_or_default()
        .to_string();
    let authoritative = msg.first(h::AUTHORITATIVE).as_deref() == Some("yes");
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
    let level = msg.first(h::AUTH_LEVEL).unwrap_or_default();
    // The intake's procedure rule: the Gewerbeanzeige is accepted by De-Mail only as an
    // absenderbestätigte De-Mail sent at level high: the Schriftform route of § 3a Abs. 3
    // Nr. 2 Buchst. d VwVfG (Fassung 2025-01-20) with § 5 Abs. 5 De-Mail-G (Versandart
    // absenderbestätigt). The reference intake applies this rule to every case.
    let verdict = if !integrity.is_valid() {
        Verdict::FormDefect(format!("X-de-mail-integrity does not verify ({integrity})"))
    } else if authoritative && !matches!(integrity, Integrity::Signed { trusted: true, .. }) {
        Verdict::FormDefect(format!(
            "absenderbestätigt, but not signed by a trusted provider ({integrity})"
        ))
    } else if !authoritative {
        Verdict::FormDefect("X-de-mail-authoritative is not \"yes\" (not absenderbestätigt)".into())
    } else if level != "high" {
        Verdict::FormDefect(format!("X-de-mail-auth-level is {level:?}, not \"high\""))
    } else {
        Verdict::Accepted
    };
    let aktenzeichen = state.next_aktenzeichen(&intake.config.aktenzeichen_prefix, now);
    let reply_due = now
        .checked_add(intake.config.processing_time)
        .unwrap_or(now);
    state.cases.push(Case {
        aktenzeichen,
        received_at: now,
        citizen: msg
            .first(h::SENDER)
            .map(|s| normalize_address(&s))
            .unwrap_or_default(),
        subject,
        demail_message_id,
        rfc_message_id: msg.first("message-id"),
        private_id,
        integrity: integrity.to_string(),
        verdict,
        reply_due,
        replied: false,
        last_error: None,
    });
    Ok(())
}
