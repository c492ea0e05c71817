//! Builds RFC 5322 messages byte for byte.
//!
//! The test-bed writes its own messages instead of using a builder crate because the bytes
//! must be deterministic (mail-builder derives MIME boundaries from the wall clock) and the
//! De-Mail headers must appear exactly where the TR wants them. Non-ASCII header text is
//! encoded as RFC 2047 encoded words, non-ASCII bodies as base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// A message under construction: header fields in order, then a text body.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    fields: Vec<(String, String)>,
    body: String,
    /// A ready-made MIME body (Content-Type value, body bytes) instead of the text body.
    mime: Option<(String, Vec<u8>)>,
}

impl Draft {
    /// An empty draft.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an unstructured header field; non-ASCII text becomes encoded words.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.fields
            .push((name.to_string(), encode_unstructured(value)));
        self
    }

    /// Appends a header field whose value is already in wire form (addresses, ids).
    pub fn header_raw(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the text body (UTF-8).
    pub fn text_body(mut self, text: &str) -> Self {
        self.body = text.to_string();
        self
    }

    /// Sets a ready-made MIME body (e.g. multipart/mixed) with its Content-Type value; the
    /// body must already use CRLF line ends and 7-bit transfer encodings.
    pub fn mime_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.mime = Some((content_type.to_string(), body));
        self
    }

    /// The message bytes with CRLF line ends and MIME headers for the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        for (name, value) in &self.fields {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("MIME-Version: 1.0\r\n");
        if let Some((content_type, body)) = &self.mime {
            out.push_str(&format!("Content-Type: {content_type}\r\n\r\n"));
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(body);
            return bytes;
        }
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
        let body = normalize_crlf(&self.body);
        if body.is_ascii() {
            out.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
            out.push_str(&body);
        } else {
            out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
            let encoded = B64.encode(body.as_bytes());
            for chunk in encoded.as_bytes().chunks(76) {
                out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                out.push_str("\r\n");
            }
        }
        if !out.ends_with("\r\n") {
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

/// `Name <address>` with the display name encoded or quoted as needed.
pub fn mailbox(name: &str, address: &str) -> String {
    if name.is_empty() {
        return format!("<{address}>");
    }
    if !name.is_ascii() {
        return format!("{} <{address}>", encode_words(name));
    }
    let needs_quotes = name.chars().any(|c| "()<>[]:;@\\,.\"".contains(c));
    if needs_quotes {
        format!(
            "\"{}\" <{address}>",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        )
    } else {
        format!("{name} <{address}>")
    }
}

/// Encodes unstructured header text: ASCII stays, anything else becomes encoded words.
pub fn encode_unstructured(value: &str) -> String {
    if value.is_ascii() {
        value.to_string()
    } else {
        encode_words(value)
    }
}

/// RFC 2047 "B" encoded words of at most 75 characters, split at character boundaries and
/// joined by folding whitespace.
fn encode_words(text: &str) -> String {
    // 45 bytes of UTF-8 encode to 60 base64 characters; with "=?UTF-8?B?" and "?=" that is 72.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

fn normalize_crlf(text: &str) -> String {
    let unix = text.replace("\r\n", "\n");
    let mut out = unix.replace('\n', "\r\n");
    if !out.is_empty() && !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A composed message parses back with mail-parser to the same subject, names and body,
    /// umlauts included, and composing twice gives the same bytes.
    #[test]
    fn composed_message_round_trips_through_a_parser() {
        let draft = Draft::new()
            .header_raw(
                "From",
                &mailbox("Jürgen Müller", "juergen.mueller@dmda-a.de-mail.de"),
            )
            .header(
                "Subject",
                "Gewerbeanmeldung für die Bäckerei Müller in Dresden-Löbtau, Antrag vom März",
            )
            .text_body("Sehr geehrte Damen und Herren,\nanbei meine Gewerbeanzeige.\n");
        let bytes = draft.to_bytes();
        assert_eq!(bytes, draft.to_bytes());
        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Gewerbeanmeldung für die Bäckerei Müller in Dresden-Löbtau, Antrag vom März")
        );
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Jürgen Müller"));
        assert_eq!(from.address(), Some("juergen.mueller@dmda-a.de-mail.de"));
        assert_eq!(
            parsed.body_text(0).unwrap().replace("\r\n", "\n"),
            "Sehr geehrte Damen und Herren,\nanbei meine Gewerbeanzeige.\n"
        );
        for line in String::from_utf8(bytes).unwrap().split("\r\n") {
            assert!(line.len() <= 998, "line too long: {line}");
        }
    }

    /// Display names with specials are quoted.
    #[test]
    fn mailbox_quotes_specials() {
        assert_eq!(
            mailbox("Stadt Dresden, Gewerbeamt", "g@d.de-mail.de"),
            "\"Stadt Dresden, Gewerbeamt\" <g@d.de-mail.de>"
        );
        assert_eq!(mailbox("", "a@b"), "<a@b>");
    }
}
