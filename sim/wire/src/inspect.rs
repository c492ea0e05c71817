//! The De-Mail view of one message, as `demail-testbed inspect` prints it: message type,
//! options, addresses, private-id, violations of the header rules of PVD-IO Tabelle 1,
//! unknown `X-de-mail-*` headers, the integrity verdict, and a confirmation's content.
//!
//! Column rules of Tabelle 1 (N = normal message, B = Bestätigungsnachricht, M =
//! Meldungsnachricht): "XX" must be present, "X" may be, empty must not be; the rules come
//! from [`super::table1::TABLE_1`].

use serde::Serialize;

use super::headers::RawMessage;
use super::integrity::{self, Verdict, VerifyOptions};
use super::table1::Presence::{Must, MustNot};
use super::table1::TABLE_1;
use super::{DeMailOption, MessageType, h, parse_option};

/// Values of `X-de-mail-notification-type` (PVD-IO Tabelle 22), from the one list in
/// [`super::notification`].
pub use super::notification::NOTIFICATION_TYPES;

/// What `inspect` found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `X-de-mail-message-type` as written, if any.
    pub message_type: Option<String>,
    /// Options set to "yes".
    pub options: Vec<String>,
    pub from: Option<String>,
    pub sender: Option<String>,
    pub chosen_recipient: Option<String>,
    pub actual_recipient: Option<String>,
    pub subject: Option<String>,
    pub private_id: Option<String>,
    pub message_id: Option<String>,
    pub auth_level: Option<String>,
    /// Broken rules, each a sentence naming the header and the TR rule.
    pub violations: Vec<String>,
    /// Unknown X-de-mail-* headers (kept in the message; reported).
    pub unknown_headers: Vec<String>,
    /// Integrity verdict as a sentence.
    pub integrity: String,
    pub integrity_valid: bool,
    /// For a confirmation: the Acknowledge-Message XML found in the body.
    pub acknowledge_xml: Option<String>,
    /// Whether a PDF part is present (confirmations need one, PVD-IO §3.4.1).
    pub has_pdf: bool,
}

impl Report {
    /// Valid: no violation and the integrity verdict passed.
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty() && self.integrity_valid
    }
}

/// Inspects a message. `trusted_cas` (DER) are the trust anchors for signatures.
pub fn inspect(raw: &RawMessage, bytes: &[u8], trusted_cas: Option<&[Vec<u8>]>) -> Report {
    let mut violations = Vec::new();
    let message_type = raw.first(h::MESSAGE_TYPE);
    let column = match message_type.as_deref().map(MessageType::parse) {
        Some(Some(MessageType::Normal)) => Some(1),
        Some(Some(
            MessageType::ConfirmationOfDispatch
            | MessageType::ConfirmationOfReceipt
            | MessageType::ConfirmationOfRetrieve,
        )) => Some(2),
        Some(Some(MessageType::Notification)) => Some(3),
        Some(None) => {
            violations.push(format!(
                "X-de-mail-message-type {:?} is not a value of PVD-IO Tabelle 12",
                message_type.as_deref().unwrap_or_default()
            ));
            None
        }
        None => None,
    };
    if let Some(col) = column {
        let kind = ["normal message", "confirmation", "notification"][col - 1];
        for row in &TABLE_1 {
            let name = row.name;
            let present = raw.first(name).is_some();
            match (row.presence[col - 1], present) {
                (Must, false) => violations.push(format!(
                    "missing {name}: required in a {kind} (PVD-IO Tabelle 1)"
                )),
                (MustNot, true) => violations.push(format!(
                    "{name} must not appear in a {kind} (PVD-IO Tabelle 1)"
                )),
                _ => {}
            }
        }
    } else if message_type.is_none() {
        violations.push(
            "missing x-de-mail-message-type: not a De-Mail as it travels between providers \
             (PVD-IO Tabelle 1 Nr. 16); a client's submission carries only its options, the \
             provider adds the metadata"
                .into(),
        );
    }
    let mut options = Vec::new();
    for o in DeMailOption::ALL {
        match parse_option(o.header(), raw.first(o.header()).as_deref()) {
            Ok(true) => options.push(o.name().to_string()),
            Ok(false) => {}
            Err(e) => violations.push(e),
        }
    }
    if let Some(level) = raw.first(h::AUTH_LEVEL)
        && level != "normal"
        && level != "high"
    {
        violations.push(format!(
            "x-de-mail-auth-level {level:?} is neither \"normal\" nor \"high\" (PVD-IO §3.1.10)"
        ));
    }
    if let Some(t) = raw.first(h::NOTIFICATION_TYPE)
        && !NOTIFICATION_TYPES.contains(&t.as_str())
    {
        violations.push(format!(
            "x-de-mail-notification-type {t:?} is not one of {} (PVD-IO Tabelle 22)",
            NOTIFICATION_TYPES.join(", ")
        ));
    }
    for name in [h::CHOSEN_RECIPIENT, h::ACTUAL_RECIPIENT] {
        if let Some(v) = raw.first(name)
            && let Err(e) = check_recipient_syntax(&v)
        {
            violations.push(format!("{name}: {e} (PVD-IO §3.1.8)"));
        }
    }
    if let Some(pid) = raw.first(h::PRIVATE_ID)
        && pid.chars().count() > 1024
    {
        violations.push("x-de-mail-private-id longer than 1024 characters (PVD-IO §3.1.9)".into());
    }
    for name in [h::MESSAGE_TYPE, h::SENDER, h::MESSAGE_ID, h::INTEGRITY] {
        if raw.count(name) > 1 {
            violations.push(format!(
                "{name} occurs {} times; the first counts (PVD-IO Tabelle 1 note)",
                raw.count(name)
            ));
        }
    }
    let verdict = integrity::verify_with(
        raw,
        &VerifyOptions {
            trusted_cas,
            at_unix: None,
        },
    );
    let parsed = mail_parser::MessageParser::default().parse(bytes);
    let (acknowledge_xml, has_pdf) = match &parsed {
        Some(m) => {
            use mail_parser::MimeHeaders as _;
            let xml = m
                .parts
                .iter()
                .find(|p| p.content_type().is_some_and(|c| c.subtype() == Some("xml")))
                .map(|p| String::from_utf8_lossy(p.contents()).into_owned());
            let pdf = m
                .parts
                .iter()
                .any(|p| p.content_type().is_some_and(|c| c.subtype() == Some("pdf")));
            (xml, pdf)
        }
        None => (None, false),
    };
    if column == Some(2) {
        if acknowledge_xml.is_none() {
            violations.push(
                "confirmation without the urn:de-mail Acknowledge-Message XML (PVD-IO §3.4.1)"
                    .into(),
            );
        }
        if !has_pdf {
            violations
                .push("confirmation without a PDF of the same content (PVD-IO §3.4.1)".into());
        }
        if !matches!(verdict, Verdict::Signed { .. }) {
            violations
                .push("confirmation not signed by the issuing provider (PVD-IO §3.5.1)".into());
        }
    }
    Report {
        message_type,
        options,
        from: raw.first("from"),
        sender: raw.first(h::SENDER),
        chosen_recipient: raw.first(h::CHOSEN_RECIPIENT),
        actual_recipient: raw.first(h::ACTUAL_RECIPIENT),
        subject: raw.subject(),
        private_id: raw.first(h::PRIVATE_ID),
        message_id: raw.first(h::MESSAGE_ID),
        auth_level: raw.first(h::AUTH_LEVEL),
        violations,
        unknown_headers: raw.unknown_demail_fields(),
        integrity_valid: verdict.is_valid(),
        integrity: verdict.to_string(),
        acknowledge_xml,
        has_pdf,
    }
}

/// Checks `to=…;cc=…;bcc=…` (PVD-IO §3.1.8): known keys, each at most once, each with at least
/// one address.
pub fn check_recipient_syntax(value: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, list)) = part.split_once('=') else {
            return Err(format!("part {part:?} is not key=addresses"));
        };
        let key = key.trim();
        if !["to", "cc", "bcc"].contains(&key) {
            return Err(format!("unknown key {key:?}; expected to, cc or bcc"));
        }
        if seen.contains(&key) {
            return Err(format!("{key} appears more than once"));
        }
        seen.push(key);
        if !list.contains('@') {
            return Err(format!("{key} has no address"));
        }
    }
    if seen.is_empty() {
        return Err("no recipients".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain e-mail is reported as not a De-Mail; a confirmation missing its parts and
    /// signature is reported with the TR sections; bad values are named.
    #[test]
    fn violations_are_named() {
        let plain = b"From: a@b\r\nSubject: hi\r\n\r\nx";
        let r = inspect(&RawMessage::parse(plain).unwrap(), plain, None);
        assert!(!r.is_valid());
        assert!(
            r.violations.iter().any(|v| v.contains("not a De-Mail")),
            "{:?}",
            r.violations
        );
        let conf = b"From: <Eingangsbestaetigung@x.de-mail.de>\r\nx-de-mail-message-type: confirmation of receipt\r\n\
                     x-de-mail-authoritative: Yes\r\nx-de-mail-auth-level: hoch\r\nSubject: s\r\n\r\nx";
        let r = inspect(&RawMessage::parse(conf).unwrap(), conf, None);
        let all = r.violations.join("\n");
        assert!(
            all.contains("x-de-mail-authoritative must not appear in a confirmation"),
            "{all}"
        );
        assert!(all.contains("\"Yes\""), "{all}");
        assert!(all.contains("\"hoch\""), "{all}");
        assert!(all.contains("§3.4.1") && all.contains("§3.5.1"), "{all}");
        assert!(all.contains("missing x-de-mail-integrity"), "{all}");
    }

    /// The recipient syntax of §3.1.8.
    #[test]
    fn recipient_syntax() {
        assert!(check_recipient_syntax("to=a@x;cc=b@x").is_ok());
        assert!(
            check_recipient_syntax("to=a@x;to=b@x")
                .unwrap_err()
                .contains("more than once")
        );
        assert!(
            check_recipient_syntax("from=a@x")
                .unwrap_err()
                .contains("unknown key")
        );
        assert!(check_recipient_syntax("").is_err());
    }
}
