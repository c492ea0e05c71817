//! A message's header block as raw fields, read the way the TR prescribes.
//!
//! PVD-IO §3.1: header names are case-insensitive; when a field occurs more than once, the
//! first occurrence from the top counts (Tabelle 1 note, §3.1.21). Fields are kept raw (with
//! their folding) because the integrity hash and the confirmations' `OriginalHeader` need the
//! bytes as received. Unknown `X-de-mail-*` fields are kept, never dropped.

use std::fmt;

/// One header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The name as written (case preserved).
    pub name: String,
    /// The value as written after the colon, with folding line breaks (CRLF) kept.
    pub raw_value: String,
}

impl Field {
    /// The value unfolded and trimmed.
    pub fn value(&self) -> String {
        self.raw_value
            .replace("\r\n", "")
            .replace('\n', "")
            .trim()
            .to_string()
    }
}

/// A message split into header fields and body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMessage {
    /// Header fields from top to bottom.
    pub fields: Vec<Field>,
    /// Everything after the empty line, unchanged.
    pub body: Vec<u8>,
}

/// Why a header block could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderError {
    /// 1-based line of the message where reading failed.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "header line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for HeaderError {}

impl RawMessage {
    /// Splits `bytes` into header fields and body. Accepts CRLF and bare LF line ends.
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        let (head, body) = split_head_body(bytes);
        let head = String::from_utf8_lossy(head);
        let mut fields: Vec<Field> = Vec::new();
        for (i, line) in head.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                match fields.last_mut() {
                    Some(f) => {
                        f.raw_value.push_str("\r\n");
                        f.raw_value.push_str(line);
                    }
                    None => {
                        return Err(HeaderError {
                            line: i + 1,
                            reason: "continuation line before the first header field".into(),
                        });
                    }
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(HeaderError {
                    line: i + 1,
                    reason: format!("no ':' in header line {:?}", truncate(line, 60)),
                });
            };
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b)) {
                return Err(HeaderError {
                    line: i + 1,
                    reason: format!("invalid header name {:?}", truncate(name, 60)),
                });
            }
            fields.push(Field {
                name: name.to_string(),
                raw_value: value.to_string(),
            });
        }
        if fields.is_empty() {
            return Err(HeaderError {
                line: 1,
                reason: "the message has no header fields".into(),
            });
        }
        Ok(Self {
            fields,
            body: body.to_vec(),
        })
    }

    /// The unfolded value of the first field named `name` (case-insensitive).
    pub fn first(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(Field::value)
    }

    /// The first field named `name` (case-insensitive), as written.
    pub fn first_field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The Subject of the message: the first `Subject` field, unfolded, RFC 2047 encoded words
    /// decoded. Every reader of a message (provider, gateway, intake, inspect) takes the
    /// Subject from here, so all of them apply the TR's first-occurrence rule (PVD-IO
    /// Tabelle 1 note).
    pub fn subject(&self) -> Option<String> {
        let field = self.first_field("subject")?;
        let parsed = reparse(field)?;
        Some(match parsed.subject() {
            Some(s) => s.to_string(),
            // An empty or undecodable Subject reads as its raw text.
            None => field.value(),
        })
    }

    /// The addresses (lower case, without display names) of the first field named `name`
    /// (`from`, `to`, `cc`, `reply-to`, …), in order; groups are flattened. Empty when the
    /// field is missing or holds no address.
    pub fn addresses(&self, name: &str) -> Vec<String> {
        let Some(field) = self.first_field(name) else {
            return Vec::new();
        };
        let Some(parsed) = reparse(field) else {
            return Vec::new();
        };
        let list = match name.to_ascii_lowercase().as_str() {
            "from" => parsed.from(),
            "to" => parsed.to(),
            "cc" => parsed.cc(),
            "bcc" => parsed.bcc(),
            "reply-to" => parsed.reply_to(),
            "sender" => parsed.sender(),
            _ => None,
        };
        list.map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .map(super::normalize_address)
                .collect()
        })
        .unwrap_or_default()
    }

    /// The field of `names` whose second occurrence comes first in the message, with its
    /// count. RFC 5322 §3.6 allows the origination, destination and identification fields
    /// and Subject at most once each.
    pub fn repeated(&self, names: &[&str]) -> Option<(String, usize)> {
        // One pass (a message may carry a million header lines): count each name of `names`.
        let mut counts = vec![0usize; names.len()];
        let mut first_repeated: Option<(usize, String)> = None;
        for f in &self.fields {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(&f.name)) {
                counts[i] += 1;
                if counts[i] == 2 && first_repeated.is_none() {
                    first_repeated = Some((i, f.name.clone()));
                }
            }
        }
        first_repeated.map(|(i, name)| (name, counts[i]))
    }

    /// How many fields are named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Removes every field named `name`; returns how many were removed.
    pub fn remove_all(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| !f.name.eq_ignore_ascii_case(name));
        before - self.fields.len()
    }

    /// Replaces the value of the first field named `name`; returns whether one was found.
    pub fn set_first(&mut self, name: &str, value: &str) -> bool {
        match self
            .fields
            .iter_mut()
            .find(|f| f.name.eq_ignore_ascii_case(name))
        {
            Some(f) => {
                f.raw_value = format!(" {value}");
                true
            }
            None => false,
        }
    }

    /// Inserts fields at the top, in the given order.
    pub fn prepend(&mut self, fields: Vec<Field>) {
        let rest = std::mem::take(&mut self.fields);
        self.fields = fields;
        self.fields.extend(rest);
    }

    /// `X-de-mail-*` fields that PVD-IO Tabelle 1 does not define (e.g. the misspelt
    /// `X-de-mail-privat-id` a real sender wrote). Kept in the message and reported.
    pub fn unknown_demail_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.fields {
            let lower = f.name.to_ascii_lowercase();
            if lower.starts_with("x-de-mail-")
                && !super::table1::is_known_demail(&lower)
                && seen.insert(f.name.as_str())
            {
                out.push(f.name.clone());
            }
        }
        out
    }

    /// The message as bytes with CRLF line ends.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 64 * self.fields.len());
        for f in &self.fields {
            out.extend_from_slice(f.name.as_bytes());
            out.push(b':');
            out.extend_from_slice(f.raw_value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

impl Field {
    /// A new field `name: value` (one space after the colon).
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: name.to_string(),
            raw_value: format!(" {value}"),
        }
    }
}

/// Parses one field on its own with mail-parser (address lists, encoded words), so that only
/// the field this reader chose (the first occurrence) is read.
fn reparse(field: &Field) -> Option<mail_parser::Message<'static>> {
    let text = format!("{}:{}\r\n\r\n", field.name, field.raw_value);
    mail_parser::MessageParser::default()
        .parse_headers(text.as_bytes())
        .map(|m| m.into_owned())
}

/// RFC 5322 §3.6 (table in §3.6): fields that may occur at most once. `Date` is not here
/// because the provider replaces it anyway.
pub const AT_MOST_ONCE: [&str; 10] = [
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
];

/// The header block of a message as [`RawMessage::parse`] reads it: everything before the
/// first empty line (CRLF CRLF, or LF LF), without it.
pub fn header_block(bytes: &[u8]) -> &[u8] {
    split_head_body(bytes).0
}

fn split_head_body(bytes: &[u8]) -> (&[u8], &[u8]) {
    for i in 0..bytes.len() {
        if bytes[i..].starts_with(b"\r\n\r\n") {
            return (&bytes[..i], &bytes[i + 4..]);
        }
        if bytes[i..].starts_with(b"\n\n") {
            return (&bytes[..i], &bytes[i + 2..]);
        }
    }
    (bytes, &[])
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are case-insensitive and the first occurrence wins (PVD-IO Tabelle 1 note).
    #[test]
    fn first_occurrence_wins_case_insensitively() {
        let m = RawMessage::parse(
            b"X-DE-MAIL-AUTHORITATIVE: yes\r\nx-de-mail-authoritative: no\r\nSubject: a\r\n b\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(m.first("x-de-mail-authoritative").as_deref(), Some("yes"));
        assert_eq!(m.count("X-de-mail-Authoritative"), 2);
        assert_eq!(m.first("subject").as_deref(), Some("a b"));
        assert_eq!(m.body, b"body");
    }

    /// Unknown X-de-mail-* headers (a misspelt private-id) are reported, not dropped.
    #[test]
    fn unknown_demail_headers_are_kept_and_reported() {
        let m = RawMessage::parse(b"X-de-mail-privat-id: 42\r\nSubject: s\r\n\r\n").unwrap();
        assert_eq!(
            m.unknown_demail_fields(),
            vec!["X-de-mail-privat-id".to_string()]
        );
        assert!(String::from_utf8_lossy(&m.to_bytes()).contains("X-de-mail-privat-id: 42"));
    }

    /// A header line without a colon is an error with its line number, not a panic.
    #[test]
    fn malformed_header_line_is_an_error() {
        let err = RawMessage::parse(b"Subject: s\r\nthis is not a header\r\n\r\nx").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("no ':'"), "{err}");
        assert!(RawMessage::parse(b"").is_err());
        assert!(RawMessage::parse(b" folded first\r\n\r\n").is_err());
    }

    /// Parsing and rendering keeps the fields and the body byte for byte (CRLF input).
    #[test]
    fn round_trip_is_exact() {
        let input = b"From: a@b\r\nSubject: x\r\n\ty\r\n\r\nline1\r\nline2\r\n";
        assert_eq!(RawMessage::parse(input).unwrap().to_bytes(), input.to_vec());
    }
}
