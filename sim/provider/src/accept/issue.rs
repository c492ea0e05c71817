//! Confirmations (Bestätigungen, PVD-FU §3.3) and Meldungen (PVD-FU Schritt 45) the provider
//! issues and lays into the mailboxes they are for.

use demail_wire::{confirmation, notification};

use super::*;

/// Issues a confirmation to the sender, with a copy to the recipient except for the
/// Versandbestätigung (PVD-FU §3.3).
pub(crate) fn issue_confirmation(
    work: &mut Work<'_>,
    kind: AckKind,
    f: &ConfirmationFacts,
    original: &RawMessage,
    original_message_id: &str,
    private_id: &Option<String>,
) -> Result<(), Refusal> {
    let shared = work.shared;
    let built = confirmation::build(kind, f, original, Some(&shared.signer)).map_err(|e| {
        // The original was sealed by this provider a moment ago, so this is a provider bug.
        tracing::error!("cannot build the {kind:?} confirmation for {original_message_id}: {e}");
        Refusal::new(451, "4.3.0", &format!("cannot build the confirmation: {e}"))
    })?;
    let mailboxes: Vec<&String> = if kind == AckKind::Dispatch {
        vec![&f.original_sender]
    } else {
        vec![&f.original_sender, &f.original_recipient]
    };
    shared.trace.emit(EventKind::ConfirmationIssued {
        provider: shared.config.id.clone(),
        confirmation: kind.trace_name().to_string(),
        for_message_id: original_message_id.to_string(),
        message_id: f.message_id.clone(),
        from: built.from.clone(),
        to: mailboxes.iter().map(|m| m.to_string()).collect(),
        private_id: private_id.clone(),
    });
    let stamp = shared.clock.timestamp();
    for mailbox in mailboxes {
        let mut copy = RawMessage::parse(&built.raw).expect("confirmation we built parses");
        copy.prepend(vec![Field::new("Envelope-to", mailbox)]);
        work.deposit(
            StoredMessage {
                mailbox: mailbox.clone(),
                message_id: f.message_id.clone(),
                rfc_message_id: Some(format!("<{}>", f.message_id)),
                in_reply_to: f.original_rfc_message_id.clone(),
                message_type: kind.message_type(),
                from: built.from.clone(),
                subject: built.subject.clone(),
                private_id: private_id.clone(),
                stored_at: stamp,
                raw: copy.to_bytes(),
            },
            &built.from,
        )?;
    }
    Ok(())
}

/// Sends a Meldungsnachricht to the sender (PVD-FU Schritt 45) and records it.
pub(crate) fn issue_notification(
    work: &mut Work<'_>,
    f: &NotificationFacts,
    original_sender: &str,
) -> Result<(), Refusal> {
    let shared = work.shared;
    let Some(built) = notification::build(f, original_sender, Some(&shared.signer)) else {
        return Ok(());
    };
    shared.trace.emit(EventKind::NotificationIssued {
        provider: shared.config.id.clone(),
        notification_type: f.reason.notification_type().as_str().to_string(),
        for_message_id: f.original_message_id.clone(),
        message_id: f.message_id.clone(),
        to: f.to.clone(),
        recipient: f.recipient.clone(),
        reason: f.reason.text().to_string(),
        private_id: f.original_private_id.clone(),
    });
    let mut copy = RawMessage::parse(&built.raw).expect("Meldung we built parses");
    copy.prepend(vec![Field::new("Envelope-to", &f.to)]);
    work.deposit(
        StoredMessage {
            mailbox: f.to.clone(),
            message_id: f.message_id.clone(),
            rfc_message_id: Some(format!("<{}>", f.message_id)),
            in_reply_to: f.original_rfc_message_id.clone(),
            message_type: MessageType::Notification,
            from: built.from.clone(),
            subject: built.subject.clone(),
            private_id: f.original_private_id.clone(),
            stored_at: shared.clock.timestamp(),
            raw: copy.to_bytes(),
        },
        &built.from,
    )
    .map(|_| ())
}
