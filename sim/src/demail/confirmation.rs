//! Bestätigungsnachrichten (confirmations) issued by a provider, first version.
//!
//! PVD-IO §3.4: sender is the system address of the issuing provider (PVD-FU §4.3), the
//! subject follows the template `*Eingangsbestätigung* [Betreff]`, and the sender's
//! `X-de-mail-private-id` is copied unchanged (PVD-IO §3.1.9). The body is the TR's suggested
//! text and table as plain text. Still missing (issue [2/6]): the `urn:de-mail`
//! Acknowledge-Message XML, the PDF, and the provider's signature.

use super::compose::{Draft, mailbox};
use super::{MessageType, TR_VERSION, h, system_address};

/// The facts a confirmation states (PVD-IO §3.4.1: sender, recipient, time, provider name,
/// hash of the original).
#[derive(Clone, Debug)]
pub struct ConfirmationFacts {
    /// Provider domain (for the system address and originator).
    pub provider_domain: String,
    /// Provider display name.
    pub provider_name: String,
    /// X-de-mail-message-id to give the confirmation.
    pub message_id: String,
    /// RFC 5322 date of issue (virtual time).
    pub date: String,
    /// Same instant, human-readable for the body.
    pub time_text: String,
    /// Sender of the original.
    pub original_sender: String,
    /// Recipient whose mailbox received the original.
    pub original_recipient: String,
    /// Subject of the original, decoded.
    pub original_subject: String,
    /// X-de-mail-message-id of the original.
    pub original_message_id: String,
    /// Message-ID of the original (for In-Reply-To).
    pub original_rfc_message_id: Option<String>,
    /// X-de-mail-private-id of the original, copied unchanged.
    pub private_id: Option<String>,
    /// Content of the original's X-de-mail-integrity (empty until issue [2/6]).
    pub integrity: Option<String>,
}

/// Builds an Eingangsbestätigung: to the sender, copy to the recipient (PVD-FU §3.3).
pub fn eingangsbestaetigung(f: &ConfirmationFacts) -> Vec<u8> {
    let from = system_address::eingang(&f.provider_domain);
    let subject = format!("*Eingangsbestätigung* {}", f.original_subject);
    let body = format!(
        "Hiermit wird bestätigt, dass die Nachricht mit den folgenden Angaben im Postfach des \
         Empfängers abgelegt wurde.\n\n\
         Absender:       {}\n\
         Empfänger:      {}\n\
         Datum:          {}\n\
         Betreff:        {}\n\
         Nachrichten-ID: {}\n\
         Prüfsumme:      {}\n\
         De-Mail-Anbieter: {}\n",
        f.original_sender,
        f.original_recipient,
        f.time_text,
        f.original_subject,
        f.original_message_id,
        f.integrity.as_deref().unwrap_or("(noch nicht berechnet)"),
        f.provider_name,
    );
    let mut d = Draft::new()
        .header_raw("From", &mailbox("", &from))
        .header_raw("To", &format!("<{}>", f.original_sender))
        .header_raw("Cc", &format!("<{}>", f.original_recipient))
        .header("Subject", &subject)
        .header_raw("Date", &f.date)
        .header_raw("Message-ID", &format!("<{}>", f.message_id));
    if let Some(id) = &f.original_rfc_message_id {
        d = d.header_raw("In-Reply-To", id);
    }
    d = d
        .header_raw(h::SENDER, &from)
        .header_raw(
            h::CHOSEN_RECIPIENT,
            &format!("to={};cc={}", f.original_sender, f.original_recipient),
        )
        .header_raw(
            h::ACTUAL_RECIPIENT,
            &format!("to={};cc={}", f.original_sender, f.original_recipient),
        )
        .header_raw(h::ORIGINATOR_PROVIDER, &f.provider_domain)
        .header_raw(h::MESSAGE_TYPE, MessageType::ConfirmationOfReceipt.as_str())
        .header_raw(h::MESSAGE_ID, &f.message_id)
        .header_raw(h::VERSION, TR_VERSION);
    if let Some(pid) = &f.private_id {
        d = d.header_raw(h::PRIVATE_ID, pid);
    }
    d.text_body(&body).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demail::headers::RawMessage;

    fn facts() -> ConfirmationFacts {
        ConfirmationFacts {
            provider_domain: "dmda-a.de-mail.de".into(),
            provider_name: "DMDA A (simuliert)".into(),
            message_id: "m000002@dmda-a.de-mail.de".into(),
            date: "Mon, 3 Mar 2025 09:00:00 +0100".into(),
            time_text: "03.03.2025 09:00:00 +01:00".into(),
            original_sender: "erika.mustermann@dmda-a.de-mail.de".into(),
            original_recipient: "gewerbeangelegenheiten@dresden.de-mail.de".into(),
            original_subject: "Gewerbeanzeige".into(),
            original_message_id: "m000001@dmda-a.de-mail.de".into(),
            original_rfc_message_id: Some("<c1@example>".into()),
            private_id: Some("GA-4711".into()),
            integrity: None,
        }
    }

    /// Subject template, system sender, type, recipients and copied private-id follow
    /// PVD-IO §3.4 and PVD-FU §3.3/§4.3.
    #[test]
    fn eingangsbestaetigung_has_the_tr_form() {
        let m = RawMessage::parse(&eingangsbestaetigung(&facts())).unwrap();
        let subject = mail_parser::MessageParser::default()
            .parse(&m.to_bytes())
            .unwrap()
            .subject()
            .unwrap()
            .to_string();
        assert_eq!(subject, "*Eingangsbestätigung* Gewerbeanzeige");
        assert_eq!(
            m.first("From").unwrap(),
            "<Eingangsbestaetigung@dmda-a.de-mail.de>"
        );
        assert_eq!(m.first(h::MESSAGE_TYPE).unwrap(), "confirmation of receipt");
        assert_eq!(m.first(h::PRIVATE_ID).unwrap(), "GA-4711");
        assert_eq!(
            m.first(h::CHOSEN_RECIPIENT).unwrap(),
            "to=erika.mustermann@dmda-a.de-mail.de;cc=gewerbeangelegenheiten@dresden.de-mail.de"
        );
    }
}
