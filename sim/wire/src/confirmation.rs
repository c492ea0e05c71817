//! Bestätigungsnachrichten (confirmations) as a provider issues them.
//!
//! PVD-IO §3.4–3.5: the sender is the issuing provider's system address (PVD-FU §4.3), the
//! subject follows the template `*Eingangsbestätigung* [Betreff]`, the sender's
//! `X-de-mail-private-id` is copied unchanged (PVD-IO §3.1.9), and the body is one
//! multipart/mixed entity with the TR's text, the `urn:de-mail` Acknowledge-Message XML and a
//! PDF of the same content (§3.4.1, §3.5.3). The whole message is sealed and signed by the
//! issuing provider (§3.5.1) with a key of the test PKI ([`super::integrity`]).

use super::acknowledge::{self, AckError, AckFacts, AckKind};
use super::compose::{Draft, mailbox};
use super::headers::RawMessage;
use super::integrity::{self, HashAlg, Signer};
use super::{MessageType, TR_VERSION, h, multipart, pdf};

/// The facts a confirmation states that are not in the original message.
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
    /// Same instant as xs:dateTime with offset (`2025-03-03T09:00:00+01:00`).
    pub time: String,
    /// Abholbestätigung only: when the original reached the mailbox (xs:dateTime).
    pub delivery_time: Option<String>,
    /// Sender of the original.
    pub original_sender: String,
    /// Recipient whose mailbox received the original.
    pub original_recipient: String,
    /// Subject of the original, decoded.
    pub original_subject: String,
    /// Message-ID of the original (for In-Reply-To).
    pub original_rfc_message_id: Option<String>,
}

/// A built confirmation.
#[derive(Clone, Debug)]
pub struct Built {
    /// The message bytes (sealed).
    pub raw: Vec<u8>,
    /// The system address it comes from.
    pub from: String,
    /// Its subject.
    pub subject: String,
}

/// The header block of a message the provider itself issues (confirmation, Meldung): From the
/// system address, the TR metadata of PVD-IO Tabelle 1 for that type, the original's
/// private-id copied (§3.1.9), and the provider's seal over it all (§3.1.21, §3.5.1).
pub(crate) struct SystemMessage<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub cc: Option<&'a str>,
    pub subject: &'a str,
    pub date: &'a str,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub provider_domain: &'a str,
    pub message_type: MessageType,
    /// Further header fields after X-de-mail-actual-recipient (e.g. the notification type).
    pub extra: &'a [(&'a str, &'a str)],
    pub private_id: Option<&'a str>,
    pub content_type: &'a str,
}

/// Composes a [`SystemMessage`] with its MIME body and seals it; returns the bytes.
pub(crate) fn seal_system_message(
    m: &SystemMessage<'_>,
    body: Vec<u8>,
    signer: Option<&Signer>,
) -> Vec<u8> {
    let recipients = match m.cc {
        Some(cc) => format!("to={};cc={cc}", m.to),
        None => format!("to={}", m.to),
    };
    let mut d = Draft::new()
        .header_raw("From", &mailbox("", m.from))
        .header_raw("To", &format!("<{}>", m.to));
    if let Some(cc) = m.cc {
        d = d.header_raw("Cc", &format!("<{cc}>"));
    }
    d = d
        .header("Subject", m.subject)
        .header_raw("Date", m.date)
        .header_raw("Message-ID", &format!("<{}>", m.message_id));
    if let Some(id) = m.in_reply_to {
        d = d.header_raw("In-Reply-To", id);
    }
    d = d
        .header_raw(h::SENDER, m.from)
        .header_raw(h::CHOSEN_RECIPIENT, &recipients)
        .header_raw(
            h::ORIGINATOR_PROVIDER,
            &format!("smtp.{}", m.provider_domain),
        )
        .header_raw(h::MESSAGE_TYPE, m.message_type.as_str())
        .header_raw(h::VERSION, TR_VERSION)
        .header_raw(h::MESSAGE_ID, m.message_id)
        .header_raw(h::ACTUAL_RECIPIENT, &recipients);
    for (name, value) in m.extra {
        d = d.header_raw(name, value);
    }
    if let Some(pid) = m.private_id {
        d = d.header_raw(h::PRIVATE_ID, pid);
    }
    let bytes = d.mime_body(m.content_type, body).to_bytes();
    let mut msg = RawMessage::parse(&bytes).expect("a system message we composed parses");
    // A signer whose certificate does not hold its key is a set-up bug, not input.
    integrity::seal(&mut msg, HashAlg::Sha256, signer)
        .expect("the provider's signer matches its certificate");
    msg.to_bytes()
}

/// Builds a confirmation of `kind` for `original` (the message as it was sealed for this
/// recipient), To the original's sender with a copy to the recipient (PVD-FU §3.3).
pub fn build(
    kind: AckKind,
    f: &ConfirmationFacts,
    original: &RawMessage,
    signer: Option<&Signer>,
) -> Result<Built, AckError> {
    let from = super::system_address::at(kind.system_local_part(), &f.provider_domain);
    let facts = AckFacts {
        kind,
        sender: &from,
        provider_name: &f.provider_name,
        provider_link: None,
        original_sender: &f.original_sender,
        original_recipient: &f.original_recipient,
        original_subject: &f.original_subject,
        time: &f.time,
        delivery_time: f.delivery_time.as_deref(),
    };
    let text = acknowledge::suggested_text(&facts, original)?;
    let xml = acknowledge::acknowledge_xml(&facts, original)?;
    let pdf = pdf::text_pdf(
        &kind.xml_subject(&f.original_subject),
        &acknowledge::pdf_lines(&facts, original)?,
    );
    let body =
        multipart::confirmation_body(&f.message_id, &text, &xml, &pdf, kind.system_local_part());
    let subject = kind.message_subject(&f.original_subject);
    // The Versandbestätigung goes to the sender only; Eingangs- and Abholbestätigung go to
    // the sender with a copy to the recipient (PVD-FU §3.3, §7.1).
    let copy_to_recipient = kind != AckKind::Dispatch;
    let raw = seal_system_message(
        &SystemMessage {
            from: &from,
            to: &f.original_sender,
            cc: copy_to_recipient.then_some(f.original_recipient.as_str()),
            subject: &subject,
            date: &f.date,
            message_id: &f.message_id,
            in_reply_to: f.original_rfc_message_id.as_deref(),
            provider_domain: &f.provider_domain,
            message_type: kind.message_type(),
            extra: &[],
            private_id: original.first(h::PRIVATE_ID).as_deref(),
            content_type: &body.content_type,
        },
        body.body,
        signer,
    );
    Ok(Built { raw, from, subject })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{Verdict, VerifyOptions, verify_with};
    use mail_parser::MimeHeaders as _;

    fn original() -> RawMessage {
        let raw = "From: <erika.mustermann@dmda-a.de-mail.de>\r\nTo: <gewerbeangelegenheiten@dresden.de-mail.de>\r\n\
                   Subject: Gewerbeanzeige\r\nDate: Mon, 3 Mar 2025 09:00:00 +0100\r\nMessage-ID: <c1@example>\r\n\
                   X-de-mail-sender: erika.mustermann@dmda-a.de-mail.de\r\nX-de-mail-message-type: normal\r\n\
                   X-de-mail-message-id: m000001@dmda-a.de-mail.de\r\nX-de-mail-private-id: GA-4711\r\n\r\nHallo\r\n";
        let mut m = RawMessage::parse(raw.as_bytes()).unwrap();
        integrity::seal(&mut m, HashAlg::Sha256, None).unwrap();
        m
    }

    fn facts() -> ConfirmationFacts {
        ConfirmationFacts {
            provider_domain: "dmda-a.de-mail.de".into(),
            provider_name: "DMDA A (simuliert)".into(),
            message_id: "m000002@dmda-a.de-mail.de".into(),
            date: "Mon, 3 Mar 2025 09:00:00 +0100".into(),
            time: "2025-03-03T09:00:00+01:00".into(),
            delivery_time: None,
            original_sender: "erika.mustermann@dmda-a.de-mail.de".into(),
            original_recipient: "gewerbeangelegenheiten@dresden.de-mail.de".into(),
            original_subject: "Gewerbeanzeige".into(),
            original_rfc_message_id: Some("<c1@example>".into()),
        }
    }

    /// Subject template, system sender, type, recipients, copied private-id (PVD-IO §3.4,
    /// PVD-FU §3.3/§4.3), a multipart body with text, XML and PDF (§3.4.1), and a seal that
    /// verifies (§3.5.1).
    #[test]
    fn eingangsbestaetigung_has_the_tr_form() {
        let orig = original();
        let built = build(AckKind::Receipt, &facts(), &orig, None).unwrap();
        let m = RawMessage::parse(&built.raw).unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(&built.raw)
            .unwrap();
        assert_eq!(
            parsed.subject().unwrap(),
            "*Eingangsbestätigung* Gewerbeanzeige"
        );
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
        let types: Vec<String> = parsed
            .parts
            .iter()
            .filter_map(|p| p.content_type())
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
            .collect();
        assert!(types.contains(&"application/xml".to_string()), "{types:?}");
        assert!(types.contains(&"application/pdf".to_string()), "{types:?}");
        let xml = parsed
            .parts
            .iter()
            .find(|p| p.content_type().is_some_and(|c| c.subtype() == Some("xml")))
            .map(|p| String::from_utf8_lossy(p.contents()).into_owned())
            .unwrap();
        assert!(xml.contains("urn:de-mail"), "{xml}");
        assert!(
            xml.contains(&orig.first(h::INTEGRITY).unwrap()[..20]),
            "hash of the original"
        );
        assert!(matches!(
            verify_with(&m, &VerifyOptions::default()),
            Verdict::Hashed { .. }
        ));
    }
}
