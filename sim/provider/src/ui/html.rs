//! HTML building blocks of the web UI: escaping (every value from a message is attacker
//! controlled), path segments for links, the page frame, times in the provider's time zone,
//! and the German labels with English glosses of PVD-IO Tabelle 1's fields, the message types
//! and the delivery states.

use std::fmt::Write as _;

use demail_wire::{MessageType, h};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Escapes text for an HTML element or a double-quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and line ends show as the replacement
            // character: they have no business in a page and some confuse a reader.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment: everything but RFC 3986's unreserved characters and `@`.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// The link to a mailbox's message list.
pub fn mailbox_href(mailbox: &str) -> String {
    format!("/ui/mailbox/{}", seg(mailbox))
}

/// The link to one message of a mailbox.
pub fn message_href(mailbox: &str, message_id: &str) -> String {
    format!("/ui/message/{}/{}", seg(mailbox), seg(message_id))
}

/// A time in the provider's time zone, German order (`05.12.2026 10:03:12 CET`).
pub fn time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned_datetime(tz.clone())
        .strftime("%d.%m.%Y %H:%M:%S %Z")
        .to_string()
}

/// A whole page: the frame with the navigation, `title` (text) and `main` (HTML); `stamp` is
/// the change stamp it was rendered at (`/ui/changes`). The
/// stylesheet and the live script come from `/ui/assets/` (the CSP allows only this origin).
pub fn page(provider: &str, stamp: &str, title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · {provider} · demail-testbed</title>\n\
         <link rel=\"stylesheet\" href=\"/ui/assets/ui.css\">\n\
         <script src=\"/ui/assets/live.js\" defer></script>\n</head>\n<body>\n\
         <header><a class=\"brand\" href=\"/ui/\">demail-testbed</a> <span class=\"provider\">{provider}</span>\n\
         <nav><a href=\"/ui/\">Konten (accounts)</a> <a href=\"/ui/deliveries\">Zustellwarteschlange (push queue)</a></nav>\n\
         <span id=\"live-status\" class=\"live\" title=\"new messages appear without reload\">live</span></header>\n\
         <main id=\"live\" data-stamp=\"{stamp}\">\n{main}\n</main>\n</body>\n</html>\n",
        title = esc(title),
        provider = esc(provider),
        stamp = esc(stamp),
    )
}

/// The German term of a message type with its English gloss (PVD-IO Tabelle 12).
pub fn message_type_label(t: MessageType) -> &'static str {
    match t {
        MessageType::Normal => "De-Mail (normal message)",
        MessageType::ConfirmationOfDispatch => "Versandbestätigung (confirmation of dispatch)",
        MessageType::ConfirmationOfReceipt => "Eingangsbestätigung (confirmation of receipt)",
        MessageType::ConfirmationOfRetrieve => "Abholbestätigung (confirmation of retrieval)",
        MessageType::Notification => "Meldung (notification)",
    }
}

/// A short German name of a message type, for the lists.
pub fn message_type_short(t: MessageType) -> &'static str {
    match t {
        MessageType::Normal => "De-Mail",
        MessageType::ConfirmationOfDispatch => "Versandbestätigung",
        MessageType::ConfirmationOfReceipt => "Eingangsbestätigung",
        MessageType::ConfirmationOfRetrieve => "Abholbestätigung",
        MessageType::Notification => "Meldung",
    }
}

/// The short German name of a sender option (PVD-IO Tabelle 1 Nr. 1–5), by its header name.
pub fn option_short(header: &str) -> &'static str {
    match header {
        h::CONFIRMATION_OF_DISPATCH => "Versandbest.",
        h::CONFIRMATION_OF_RECEIPT => "Eingangsbest.",
        h::CONFIRMATION_OF_RETRIEVE => "Abholbest.",
        h::AUTHORITATIVE => "absenderbestätigt",
        h::PRIVATE => "persönlich",
        _ => "?",
    }
}

/// The German term of a field of PVD-IO Tabelle 1 with its English gloss, by the row's
/// lower-case name (`demail_wire::table1::Row::name`); every row has one (a unit test holds
/// this to the table).
pub fn field_label(name: &str) -> Option<&'static str> {
    Some(match name {
        h::CONFIRMATION_OF_DISPATCH => "Versandbestätigung angefordert (confirmation of dispatch)",
        h::CONFIRMATION_OF_RECEIPT => "Eingangsbestätigung angefordert (confirmation of receipt)",
        h::CONFIRMATION_OF_RETRIEVE => "Abholbestätigung angefordert (confirmation of retrieval)",
        h::AUTHORITATIVE => "Absenderbestätigt (sender authenticated at level high)",
        h::PRIVATE => "Persönlich (personal: only at level high)",
        h::SENDER => "Absender (sender)",
        h::CHOSEN_RECIPIENT => "Gewählte Empfänger (chosen recipients)",
        "subject" => "Betreff (subject)",
        h::PRIVATE_ID => "Private Kennung (sender's own reference, private-id)",
        "reply-to" => "Antwortadresse (reply to)",
        h::AUTH_LEVEL => "Authentisierungsniveau (authentication level)",
        h::AUTH_MECHANISM => "Authentisierungsmechanismus (authentication mechanism)",
        "date" => "Datum (date)",
        h::MESSAGE_ID => "De-Mail-Nachrichtenkennung (De-Mail message id)",
        h::ORIGINATOR_PROVIDER => "Absender-DMDA (originating provider)",
        h::MESSAGE_TYPE => "Nachrichtentyp (message type)",
        h::INTEGRITY => "Integritätssicherung (integrity seal)",
        h::SIGNATURE_CERTIFICATE => "Signaturzertifikat (signature certificate)",
        h::ACTUAL_RECIPIENT => "Tatsächlicher Empfänger (actual recipient)",
        "resent-to" => "Weitergeleitet an (resent to)",
        "resent-from" => "Weitergeleitet von (resent from)",
        "resent-date" => "Weiterleitungsdatum (resent date)",
        "resent-message-id" => "Kennung der Weiterleitung (resent message id)",
        h::ENVELOPE_TO => "Umschlagempfänger (envelope recipient)",
        h::VERSION => "Version der TR (TR version)",
        h::ACCOUNT_HOLDER => "Kontoinhaber (account holder)",
        h::NOTIFICATION_TYPE => "Meldungstyp (notification type, Tabelle 22)",
        "from" => "Von (from)",
        "message-id" => "Nachrichten-ID (RFC 5322 Message-ID)",
        "x-de-mail-signature" => "reserviert (reserved: not a field of the TR)",
        _ => return None,
    })
}

/// A value for a table cell: escaped; a long one (a seal, a certificate) folded after its
/// first 80 characters.
pub fn value_cell(v: &str) -> String {
    if v.chars().count() <= 160 {
        return format!("<code>{}</code>", esc(v));
    }
    let head: String = v.chars().take(80).collect();
    format!(
        "<details class=\"long\"><summary><code>{}…</code></summary><code>{}</code></details>",
        esc(&head),
        esc(v)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every markup character is escaped, so a hostile subject stays text.
    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert(1)</script> & \"x\" 'y'"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;"
        );
        assert_eq!(esc("a\u{1b}b\u{0}"), "a\u{fffd}b\u{fffd}");
        assert_eq!(seg("m1@x/../\"<>"), "m1@x%2F..%2F%22%3C%3E");
    }

    /// Every row of PVD-IO Tabelle 1 has a German label.
    #[test]
    fn every_table1_row_has_a_label() {
        for row in &demail_wire::table1::TABLE_1 {
            assert!(field_label(row.name).is_some(), "{} has no label", row.name);
        }
    }
}
