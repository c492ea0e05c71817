//! A message handed over by a trusted peer provider on the relay face (PVD-FU Schritt 41–45):
//! seal check, deliverability per recipient, Eingang with this provider's `Received` stamp
//! above the sender's provider's (RFC 5321 §4.4), Eingangsbestätigung.

use super::*;

/// A message handed over by a trusted peer provider on the relay face (PVD-FU Schritt 41–45):
/// its seal must verify under the trust anchor; a normal message is checked for
/// deliverability per recipient (Meldung back to the sender otherwise), laid into the
/// mailbox at most once per X-de-mail-message-id, and confirmed with an Eingangsbestätigung
/// when asked; confirmations and Meldungen are laid into the addressee's mailbox.
pub(crate) fn accept_relayed(
    shared: &Shared,
    peer: &str,
    arrival: &Arrival,
    envelope_from: &str,
    recipients: &[String],
    data: &[u8],
) -> Result<String, Refusal> {
    let mut msg = read_submitted(data)?;
    msg.remove_all(h::ENVELOPE_TO);
    let anchors = [shared.ca_der.clone()];
    let verdict = integrity::verify_with(
        &msg,
        &integrity::VerifyOptions {
            trusted_cas: Some(&anchors),
            at_unix: Some(shared.clock.timestamp().as_second()),
        },
    );
    if !matches!(verdict, integrity::Verdict::Signed { trusted: true, .. }) {
        return Err(Refusal::new(
            554,
            "5.7.1",
            &format!(
                "X-de-mail-integrity of a message from {peer} does not hold: {verdict} (PVD-IO §3.1.21)"
            ),
        ));
    }
    let message_id = msg.first(h::MESSAGE_ID).ok_or_else(|| {
        Refusal::new(
            554,
            "5.6.0",
            "Missing x-de-mail-message-id (PVD-IO Tabelle 1 Nr. 14)",
        )
    })?;
    let kind = msg
        .first(h::MESSAGE_TYPE)
        .and_then(|t| MessageType::parse(&t))
        .ok_or_else(|| {
            Refusal::new(
                554,
                "5.6.0",
                "Missing or unknown x-de-mail-message-type (PVD-IO Tabelle 12)",
            )
        })?;
    let sender = msg
        .first(h::SENDER)
        .map(|s| normalize_address(&s))
        .unwrap_or_else(|| normalize_address(envelope_from));
    shared.trace.emit(EventKind::ProviderReceived {
        provider: shared.config.id.clone(),
        from_provider: peer.to_string(),
        message_id: message_id.clone(),
        message_type: kind.as_str().to_string(),
        to: recipients.to_vec(),
    });
    let mut work = Work::begin(shared)?;
    let result = deliver_relayed(
        &mut work,
        arrival,
        &msg,
        &message_id,
        kind,
        &sender,
        recipients,
    );
    work.finish(result.map(|()| message_id))
}

pub(super) fn deliver_relayed(
    work: &mut Work<'_>,
    arrival: &Arrival,
    msg: &RawMessage,
    message_id: &str,
    kind: MessageType,
    sender: &str,
    recipients: &[String],
) -> Result<(), Refusal> {
    let shared = work.shared;
    // One instant for the Received stamp, the Eingang (`stored_at`) and the
    // Eingangsbestätigung, so that they agree to the second (docs/headers.md).
    let now = shared.clock.now();
    let date = format_rfc5322(&now);
    let subject = msg.subject().unwrap_or_default();
    let private_id = msg.first(h::PRIVATE_ID);
    let rfc_message_id = msg.first("message-id");
    let option = |o: DeMailOption| msg.first(o.header()).as_deref() == Some("yes");
    for rcpt in recipients {
        if kind == MessageType::Normal {
            let needs_high =
                option(DeMailOption::Private) || option(DeMailOption::ConfirmationOfRetrieve);
            let reason = super::recipient_check(&work.store, rcpt, needs_high)?;
            if let Some(reason) = reason {
                let f = NotificationFacts {
                    provider_domain: shared.config.domain.clone(),
                    provider_name: shared.config.name.clone(),
                    message_id: work.next_id()?,
                    date: date.clone(),
                    time: demail_core::clock::format_instant(&now),
                    to: msg
                        .first("reply-to")
                        .map(|r| normalize_address(&r))
                        .unwrap_or_else(|| sender.to_string()),
                    recipient: rcpt.clone(),
                    reason,
                    original_subject: subject.to_string(),
                    original_message_id: message_id.to_string(),
                    original_rfc_message_id: rfc_message_id.clone(),
                    original_private_id: private_id.clone(),
                };
                issue_notification(work, &f, sender)?;
                continue;
            }
        } else if work.store.account(rcpt).is_none() {
            // A confirmation or Meldung for nobody here is dropped (no Meldung about system
            // messages, PVD-FU Schritt 45).
            continue;
        }
        // Our stamp goes above the sending provider's (RFC 5321 §4.4: newest on top).
        let copy = arrival.copy_for(shared, msg, message_id, rcpt, &date);
        let stored = StoredMessage {
            mailbox: rcpt.clone(),
            message_id: message_id.to_string(),
            rfc_message_id: rfc_message_id.clone(),
            in_reply_to: msg.first("in-reply-to"),
            message_type: kind,
            from: sender.to_string(),
            subject: subject.to_string(),
            private_id: private_id.clone(),
            stored_at: now.timestamp(),
            raw: copy.to_bytes(),
        };
        let new = work.deposit(stored, sender)?;
        // The recipient's Postfachdienst confirms the Eingang (PVD-FU §3.3), once.
        if kind == MessageType::Normal && option(DeMailOption::ConfirmationOfReceipt) && new {
            let f = ConfirmationFacts {
                provider_domain: shared.config.domain.clone(),
                provider_name: shared.config.name.clone(),
                message_id: work.next_id()?,
                date: date.clone(),
                time: demail_core::clock::format_instant(&now),
                delivery_time: None,
                original_sender: sender.to_string(),
                original_recipient: rcpt.clone(),
                original_subject: subject.to_string(),
                original_rfc_message_id: rfc_message_id.clone(),
            };
            issue_confirmation(work, AckKind::Receipt, &f, msg, message_id, &private_id)?;
        }
    }
    Ok(())
}
