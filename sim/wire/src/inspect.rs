//! The De-Mail view of one message, as `demail-testbed inspect` prints it: which side of the
//! provider it is ([`Side`]), message type, options, addresses, private-id, violations of the
//! header rules of PVD-IO Tabelle 1, unknown `X-de-mail-*` headers, the integrity verdict, and
//! a confirmation's content (the Acknowledge-Message's fields, and its XML).
//!
//! A message as it travels between providers is judged by the column rules of Tabelle 1
//! (N = normal message, B = Bestätigungsnachricht, M = Meldungsnachricht): "XX" must be
//! present, "X" may be, empty must not be. A client's submission (a De-Mail-shaped From, none
//! of the provider's metadata) is judged by what a client may write: the rows of
//! [`super::table1::TABLE_1`] whose [`Origin`] is the client's or an option; the provider's
//! `X-de-mail-*` rows are not the client's to set, and Date, Envelope-to and Resent-* are
//! written anew by the provider (noted, not a violation).

use serde::Serialize;

use super::acknowledge::{AckFields, read_fields};
use super::headers::RawMessage;
use super::integrity::{self, Verdict, VerifyOptions};
use super::table1::Presence::{Must, MustNot};
use super::table1::{Origin, TABLE_1};
use super::{DeMailOption, MessageType, address, h, parse_option};

/// Values of `X-de-mail-notification-type` (PVD-IO Tabelle 22), from the one list in
/// [`super::notification`].
pub use super::notification::NOTIFICATION_TYPES;

/// Which side of the provider a message is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// As it travels from a provider: stamped with the provider's metadata and sealed.
    Provider,
    /// A citizen's submission before the provider: a De-Mail-shaped From and none of the
    /// provider's metadata (`X-de-mail-message-type`, `-message-id`, `-integrity`).
    Client,
}

/// What `inspect` found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Provider's message or client's submission; the rules differ.
    pub side: Side,
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
    /// For a confirmation: the fields of its Acknowledge-Message (PVD-IO Tabelle 23/24).
    pub acknowledge: Option<AckFields>,
    /// What the provider will do to a client's submission (fields it writes anew); not
    /// violations.
    pub notes: Vec<String>,
    /// Whether a PDF part is present (confirmations need one, PVD-IO §3.4.1).
    pub has_pdf: bool,
}

impl Report {
    /// Valid: no violation and, for a provider's message, the integrity verdict passed (a
    /// client's submission is sealed only by its provider).
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty() && (self.side == Side::Client || self.integrity_valid)
    }
}

/// The provider's metadata whose presence makes a message the provider's (PVD-IO Tabelle 1
/// Nr. 14, 16, 17): a client's submission carries none of them.
const PROVIDER_MARKS: [&str; 3] = [h::MESSAGE_TYPE, h::MESSAGE_ID, h::INTEGRITY];

/// Whether `raw` is a client's submission: none of [`PROVIDER_MARKS`] and a From that is a
/// De-Mail address of a person or an institution (ACM-FU §2.1).
pub fn is_client_submission(raw: &RawMessage) -> bool {
    PROVIDER_MARKS.iter().all(|n| raw.first(n).is_none())
        && raw.addresses("from").first().is_some_and(|a| {
            matches!(
                address::validate(a),
                Ok(address::AddressKind::Person
                    | address::AddressKind::Pseudonym
                    | address::AddressKind::Institution)
            )
        })
}

/// The rules of Tabelle 1 for a client's submission: the client's own rows that a normal
/// message must carry (From, Subject); the provider's `X-de-mail-*` rows must not be set
/// (the provider removes them); the provider's other rows are written anew (notes).
fn client_rules(raw: &RawMessage, violations: &mut Vec<String>, notes: &mut Vec<String>) {
    for row in &TABLE_1 {
        let present = raw.first(row.name).is_some();
        let nr = row
            .nr
            .map_or_else(|| "reserved".to_string(), |n| format!("Nr. {n}"));
        match row.origin {
            Origin::Client => {
                // Message-ID is the client's, but the provider makes one when it is missing.
                if !present && row.presence[0] == Must && row.name != "message-id" {
                    violations.push(format!(
                        "missing {}: the client writes it (PVD-IO Tabelle 1 {nr})",
                        row.spelled
                    ));
                }
            }
            Origin::Option => {}
            Origin::Provider if present && row.name.starts_with("x-de-mail-") => {
                violations.push(format!(
                    "{} is the provider's metadata (PVD-IO Tabelle 1 {nr}): a client must not set it; the provider removes it at submission",
                    row.spelled
                ));
            }
            Origin::Provider if present => notes.push(format!(
                "{}: written anew by the provider at submission (PVD-IO Tabelle 1 {nr}); the client's value is replaced",
                row.spelled
            )),
            Origin::Provider => {}
        }
    }
}

/// Inspects a message. `trusted_cas` (DER) are the trust anchors for signatures.
pub fn inspect(raw: &RawMessage, bytes: &[u8], trusted_cas: Option<&[Vec<u8>]>) -> Report {
    let mut violations = Vec::new();
    let mut notes = Vec::new();
    let side = if is_client_submission(raw) {
        client_rules(raw, &mut violations, &mut notes);
        Side::Client
    } else {
        Side::Provider
    };
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
    } else if message_type.is_none() && side == Side::Provider {
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
    let acknowledge = acknowledge_xml.as_deref().and_then(read_fields);
    Report {
        side,
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
        integrity: if side == Side::Client && raw.first(h::INTEGRITY).is_none() {
            "not sealed yet: the provider seals a submission (PVD-IO §3.1.21)".to_string()
        } else {
            verdict.to_string()
        },
        acknowledge_xml,
        acknowledge,
        notes,
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

    /// A citizen's submission (De-Mail From, none of the provider's metadata) is judged by the
    /// client's rules: valid without a seal; the provider's `X-de-mail-*` fields are violations,
    /// its Date a note; a missing Subject is the client's to write. A From that is no De-Mail
    /// address keeps the provider's rules.
    #[test]
    fn client_submission_has_its_own_rules() {
        let ok = b"From: Erika <erika.mustermann@dmda-a.de-mail.de>\r\nTo: gewerbeangelegenheiten@dresden.de-mail.de\r\n\
                   Subject: Gewerbeanmeldung\r\nDate: Mon, 3 Mar 2025 09:00:00 +0100\r\n\
                   X-de-mail-confirmation-of-receipt: yes\r\nX-de-mail-private-id: GA-1\r\n\r\nAnzeige";
        let r = inspect(&RawMessage::parse(ok).unwrap(), ok, None);
        assert_eq!(r.side, Side::Client);
        assert!(r.is_valid(), "{:?}", r.violations);
        assert_eq!(r.options, ["confirmation-of-receipt"]);
        assert!(
            r.notes.iter().any(|n| n.starts_with("Date: written anew")),
            "{:?}",
            r.notes
        );
        let bad = b"From: erika.mustermann@dmda-a.de-mail.de\r\nX-de-mail-sender: someone@x.de-mail.de\r\n\
                    X-de-mail-authoritative: vielleicht\r\n\r\nx";
        let r = inspect(&RawMessage::parse(bad).unwrap(), bad, None);
        assert_eq!(r.side, Side::Client);
        let all = r.violations.join("\n");
        assert!(
            all.contains("X-de-mail-sender is the provider's metadata (PVD-IO Tabelle 1 Nr. 6)"),
            "{all}"
        );
        assert!(
            all.contains("missing Subject: the client writes it (PVD-IO Tabelle 1 Nr. 8)"),
            "{all}"
        );
        assert!(all.contains("\"vielleicht\""), "{all}");
        assert!(!all.contains("not a De-Mail"), "{all}");
        let foreign = b"From: someone@example.org\r\nSubject: s\r\n\r\nx";
        let r = inspect(&RawMessage::parse(foreign).unwrap(), foreign, None);
        assert_eq!(r.side, Side::Provider);
        assert!(!r.is_valid());
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
