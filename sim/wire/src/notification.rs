//! Meldungsnachrichten (notifications) a provider sends when a message cannot be delivered
//! (PVD-FU Schritt 42–45; PVD-IO §3.1.20, §3.5.2).
//!
//! The sender is the provider's system address `Meldung@<domain>` (PVD-FU §4.3), the type is
//! one of Tabelle 22 in `X-de-mail-notification-type`, no sender options are set, the
//! original's `X-de-mail-private-id` is copied, and the text names the result of the check,
//! the recipient and the original message (Schritt 45). The body carries the text, the
//! `urn:de-mail` Notification-Message XML (PVD-IO §3.5.3: Subject, Text, Time, Sender) and a
//! PDF of the same content, like a confirmation; the message is sealed and signed.
//! No Meldung is sent about a message whose sender is a system address (Schritt 45: the
//! original is deleted), which prevents loops between providers.

use super::acknowledge::xml_escape;
use super::confirmation::{SystemMessage, seal_system_message};
use super::integrity::Signer;
use super::multipart::{Part, multipart_mixed};
use super::{MessageType, h, pdf, system_address};

/// The types of PVD-IO Tabelle 22.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationType {
    /// Unbekannter Empfänger.
    UnknownRecipient,
    /// Geschlossenes Konto.
    ClosedAccount,
    /// Ungültiges Format der De-Mail.
    InvalidFormat,
    /// Sonstige (the text says why).
    Other,
}

/// The header values of PVD-IO Tabelle 22, in the table's order.
pub const NOTIFICATION_TYPES: [&str; 4] = {
    let mut out = [""; 4];
    let mut i = 0;
    while i < out.len() {
        out[i] = NotificationType::ALL[i].as_str();
        i += 1;
    }
    out
};

impl NotificationType {
    /// Every type of Tabelle 22, in the table's order.
    pub const ALL: [NotificationType; 4] = [
        NotificationType::UnknownRecipient,
        NotificationType::ClosedAccount,
        NotificationType::InvalidFormat,
        NotificationType::Other,
    ];

    /// The header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            NotificationType::UnknownRecipient => "unknown-recipient",
            NotificationType::ClosedAccount => "closed-account",
            NotificationType::InvalidFormat => "invalid-format",
            NotificationType::Other => "other",
        }
    }
}

/// Why a message could not be delivered (PVD-FU Schritt 43) with the TR's wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undeliverable {
    /// "Empfänger unbekannt".
    UnknownRecipient,
    /// "Empfänger kann keine Nachrichten mit Versandoption 'Persönlich' abrufen" (also for
    /// Abholbestätigung, Schritt 42).
    CannotReadPrivate,
    /// "Empfänger-De-Mail-Konto vollständig gesperrt".
    AccountClosed,
    /// The sender's provider could not hand the message over to the recipient's provider and
    /// gave up (docs/delivery.md). Not one of the TR's check results (PVD-FU Schritt 43 is the
    /// recipient side's check); the text is ours. A provider that accepted a message and
    /// cannot deliver it must tell the sender (RFC 5321 § 6.1), and in De-Mail that is a
    /// Meldung of type "other" (PVD-IO Tabelle 22).
    TransferFailed,
}

impl Undeliverable {
    /// The TR's text of the check result (PVD-FU Schritt 43).
    pub fn text(self) -> &'static str {
        match self {
            Undeliverable::UnknownRecipient => "Empfänger unbekannt",
            Undeliverable::CannotReadPrivate => {
                "Empfänger kann keine Nachrichten mit Versandoption 'Persönlich' abrufen"
            }
            Undeliverable::AccountClosed => "Empfänger-De-Mail-Konto vollständig gesperrt",
            Undeliverable::TransferFailed => {
                "Nachricht konnte dem De-Mail-Anbieter des Empfängers nicht übermittelt werden"
            }
        }
    }

    /// The Tabelle 22 type that fits.
    pub fn notification_type(self) -> NotificationType {
        match self {
            Undeliverable::UnknownRecipient => NotificationType::UnknownRecipient,
            Undeliverable::CannotReadPrivate => NotificationType::Other,
            Undeliverable::AccountClosed => NotificationType::ClosedAccount,
            Undeliverable::TransferFailed => NotificationType::Other,
        }
    }
}

/// What a Meldung is about.
#[derive(Clone, Debug)]
pub struct NotificationFacts {
    pub provider_domain: String,
    /// Unique provider name (XML `Sender`, PVD-IO §3.5.3).
    pub provider_name: String,
    /// X-de-mail-message-id for the Meldung.
    pub message_id: String,
    /// RFC 5322 date (virtual time).
    pub date: String,
    /// xs:dateTime to the second with offset.
    pub time: String,
    /// Where the Meldung goes: the original's sender, or its Reply-To (Schritt 45).
    pub to: String,
    /// The recipient that could not be reached.
    pub recipient: String,
    pub reason: Undeliverable,
    /// The original message (for its subject, ids and private-id).
    pub original_subject: String,
    pub original_message_id: String,
    pub original_rfc_message_id: Option<String>,
    pub original_private_id: Option<String>,
}

/// A built Meldung.
#[derive(Clone, Debug)]
pub struct Built {
    pub raw: Vec<u8>,
    pub from: String,
    pub subject: String,
}

/// Builds a Meldungsnachricht, or `None` when the original came from a system address
/// (Schritt 45: no Meldung about a Meldung or confirmation).
pub fn build(
    f: &NotificationFacts,
    original_sender: &str,
    signer: Option<&Signer>,
) -> Option<Built> {
    if system_address::is_system(original_sender) {
        return None;
    }
    let from = system_address::at(system_address::MELDUNG, &f.provider_domain);
    let subject = format!(
        "Meldung: Nachricht nicht zustellbar: {}",
        f.original_subject
    );
    let text = format!(
        "Ihre Nachricht konnte nicht zugestellt werden.\n\n\
         Prüfergebnis:   {}\n\
         Empfänger:      {}\n\
         Betreff:        {}\n\
         Nachrichten-ID: {}\n\
         Zeitpunkt:      {}\n\
         De-Mail-Anbieter: {}\n",
        f.reason.text(),
        f.recipient,
        f.original_subject,
        f.original_message_id,
        f.time,
        f.provider_name,
    );
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Notification-Message xmlns=\"urn:de-mail\">\n  <Subject>{}</Subject>\n  <Text>{}</Text>\n  \
         <Time>{}</Time>\n  <Sender>{}</Sender>\n</Notification-Message>\n",
        xml_escape(&subject),
        xml_escape(&text),
        xml_escape(&f.time),
        xml_escape(&f.provider_name),
    );
    let lines: Vec<String> = std::iter::once(subject.clone())
        .chain(std::iter::once(String::new()))
        .chain(text.lines().map(str::to_string))
        .collect();
    let pdf = pdf::text_pdf(&subject, &lines);
    let body = multipart_mixed(
        &f.message_id,
        &[
            Part {
                content_type: "text/plain; charset=utf-8".into(),
                filename: None,
                data: text.clone().into_bytes(),
            },
            Part {
                content_type: "application/xml; charset=utf-8".into(),
                filename: Some("meldung.xml".into()),
                data: xml.into_bytes(),
            },
            Part {
                content_type: "application/pdf".into(),
                filename: Some("meldung.pdf".into()),
                data: pdf,
            },
        ],
    );
    let raw = seal_system_message(
        &SystemMessage {
            from: &from,
            to: &f.to,
            cc: None,
            subject: &subject,
            date: &f.date,
            message_id: &f.message_id,
            in_reply_to: f.original_rfc_message_id.as_deref(),
            provider_domain: &f.provider_domain,
            message_type: MessageType::Notification,
            extra: &[(h::NOTIFICATION_TYPE, f.reason.notification_type().as_str())],
            private_id: f.original_private_id.as_deref(),
            content_type: &body.content_type,
        },
        body.body,
        signer,
    );
    Some(Built { raw, from, subject })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::RawMessage;
    use crate::inspect::inspect;

    fn facts() -> NotificationFacts {
        NotificationFacts {
            provider_domain: "dmda-a.de-mail.de".into(),
            provider_name: "DMDA A".into(),
            message_id: "m000009@dmda-a.de-mail.de".into(),
            date: "Mon, 3 Mar 2025 09:00:00 +0100".into(),
            time: "2025-03-03T09:00:00+01:00".into(),
            to: "erika.mustermann@dmda-a.de-mail.de".into(),
            recipient: "max.normal@dmda-a.de-mail.de".into(),
            reason: Undeliverable::CannotReadPrivate,
            original_subject: "Bescheid".into(),
            original_message_id: "m000001@dmda-a.de-mail.de".into(),
            original_rfc_message_id: Some("<c1@x>".into()),
            original_private_id: Some("P-9".into()),
        }
    }

    /// A Meldung comes from Meldung@<domain>, carries type and text of the TR, copies the
    /// private-id, sets no options, and passes the Tabelle 1 rules for notifications
    /// (PVD-FU Schritt 45, PVD-IO §3.1.20, §3.5.2).
    #[test]
    fn meldung_has_the_tr_form() {
        let b = build(&facts(), "erika.mustermann@dmda-a.de-mail.de", None).unwrap();
        let m = RawMessage::parse(&b.raw).unwrap();
        assert_eq!(b.from, "Meldung@dmda-a.de-mail.de");
        assert_eq!(m.first(h::NOTIFICATION_TYPE).unwrap(), "other");
        assert_eq!(m.first(h::PRIVATE_ID).unwrap(), "P-9");
        assert!(m.first(h::AUTHORITATIVE).is_none());
        use mail_parser::MimeHeaders as _;
        let parsed = mail_parser::MessageParser::default().parse(&b.raw).unwrap();
        let xml = parsed
            .parts
            .iter()
            .find(|p| p.content_type().is_some_and(|c| c.subtype() == Some("xml")))
            .map(|p| String::from_utf8_lossy(p.contents()).into_owned())
            .expect("XML part present");
        assert!(
            xml.contains("<Notification-Message xmlns=\"urn:de-mail\">"),
            "{xml}"
        );
        assert!(xml.contains("Persönlich"), "{xml}");
        let report = inspect(&m, &b.raw, None);
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert!(report.integrity_valid, "{}", report.integrity);
    }

    /// No Meldung about a message from a system address (PVD-FU Schritt 45).
    #[test]
    fn no_meldung_about_system_messages() {
        assert!(build(&facts(), "Eingangsbestaetigung@dmda-b.de-mail.de", None).is_none());
    }
}
