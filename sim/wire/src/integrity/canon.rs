//! DKIM mechanics the TR builds on (RFC 6376): "simple" canonicalisation of body and header,
//! the header hash input with the first occurrence of each name, the tag list (`Tags`) and its
//! quoted-printable values.

use super::*;

/// RFC 6376 §3.4.3 "simple" body canonicalization: trailing empty lines removed, one CRLF at
/// the end (an empty body becomes CRLF). The whole body counts: l= is ignored (PVD-IO §3.1.21).
pub(super) fn canonical_body(body: &[u8]) -> Vec<u8> {
    let mut end = body.len();
    while end >= 2 && body.get(end - 2..end) == Some(b"\r\n".as_slice()) {
        end -= 2;
    }
    let mut out = body.get(..end).unwrap_or_default().to_vec();
    out.extend_from_slice(b"\r\n");
    out
}

/// The bytes hashed for the header hash (RFC 6376 §3.7 with "simple" header canonicalization):
/// each field of `names`, first occurrence from the top (PVD-IO §3.1.21), exactly as in the
/// message with CRLF; absent fields contribute nothing; then the carrier field with its b=
/// value emptied and without the final CRLF.
pub(super) fn header_hash_input(msg: &RawMessage, names: &[&str], carrier: &Field) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names {
        if let Some(f) = first_field(msg, n) {
            out.extend_from_slice(f.name.as_bytes());
            out.push(b':');
            out.extend_from_slice(f.raw_value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(carrier.name.as_bytes());
    out.push(b':');
    out.extend_from_slice(strip_b_value(&carrier.raw_value).as_bytes());
    out
}

pub(super) fn first_field<'a>(msg: &'a RawMessage, name: &str) -> Option<&'a Field> {
    msg.fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Deletes the value of the b= tag, keeping everything else byte for byte (RFC 6376 §3.5).
pub(super) fn strip_b_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, seg) in raw.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        match seg.split_once('=') {
            Some((name, _)) if name.trim_matches(is_fws) == "b" => {
                out.push_str(name);
                out.push('=');
            }
            _ => out.push_str(seg),
        }
    }
    out
}

pub(super) fn is_fws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

pub(super) fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !is_fws(*c)).collect()
}

/// A DKIM tag list (RFC 6376 §3.2): duplicate tags make it invalid.
pub(super) struct Tags(pub(super) Vec<(String, String)>);

impl Tags {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        let mut tags: Vec<(String, String)> = Vec::new();
        for seg in raw.split(';') {
            if seg.trim_matches(is_fws).is_empty() {
                continue;
            }
            let Some((name, value)) = seg.split_once('=') else {
                return Err(format!(
                    "{:?} is not a tag=value pair (RFC 6376 §3.2)",
                    seg.trim_matches(is_fws)
                        .chars()
                        .take(40)
                        .collect::<String>()
                ));
            };
            let name = name.trim_matches(is_fws);
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid tag name {name:?} (RFC 6376 §3.2)"));
            }
            if tags.iter().any(|(n, _)| n == name) {
                return Err(format!("tag {name}= occurs twice (RFC 6376 §3.2)"));
            }
            tags.push((name.to_string(), value.trim_matches(is_fws).to_string()));
        }
        Ok(Tags(tags))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 6376 §2.11 dkim-quoted-printable for `z=` (§3.5): everything but printable ASCII other
/// than ';', '|' and '=' becomes =XX.
pub(super) fn dkim_quoted_printable(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let keep = (0x21..=0x7e).contains(&b) && b != b';' && b != b'|' && b != b'=';
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

pub(super) fn dkim_quoted_printable_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'=' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(super) fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}
