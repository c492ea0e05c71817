//! The `Received` trace field (RFC 5321 §4.4, RFC 5322 §3.6.7): the time stamp a provider
//! prepends when one of its SMTP faces accepts a message, and the one reading of it a system
//! under test needs, the Eingang (the instant the message was laid into the recipient's
//! mailbox).
//!
//! Writing ([`Stamp::field`]): `from <EHLO name> ([<peer address>]) by <host> with <protocol>
//! id <<X-de-mail-message-id>> for <<recipient>>; <RFC 5322 date-time>`, folded before a
//! clause so that lines stay within 78 characters (RFC 5322 §2.1.1, §2.2.3). Everything in it
//! is deterministic: the date is the provider's virtual time, the id its message number. The
//! client's EHLO name is written only when it is a syntactic domain or address literal
//! (RFC 5321 §4.1.2), never as free text: a name with `;`, `(` or spaces could make a reader
//! take a client's text for the date or the `by` host.
//!
//! Reading ([`eingang`]): the topmost `Received` field, and only if its `by` host is the
//! recipient's provider. Fields below it may have been written by anybody (a client can put
//! a forged `Received: … by <provider>; <date>` into its submission); since every SMTP face of
//! the provider prepends its own field at acceptance, the provider's field is always above
//! them. `Received` is not in Tabelle 1 and not covered by the seal (PVD-IO §3.1.21), so
//! stamping never breaks `X-de-mail-integrity`.

use std::net::IpAddr;

use super::headers::{Field, RawMessage};

/// The `with` keyword of a stamp (RFC 3848 §1, RFC 5321 §4.4): how the message came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HELO, no TLS, no AUTH.
    Smtp,
    /// EHLO, no TLS, no AUTH (the trusted listener).
    Esmtp,
    /// ESMTP with STARTTLS or implicit TLS, no SMTP AUTH (the relay face: the peer is
    /// authenticated by its TLS client certificate, which is not SMTP AUTH).
    Esmtps,
    /// ESMTP with SMTP AUTH, without TLS.
    Esmtpa,
    /// ESMTP with TLS and SMTP AUTH (the submission face).
    Esmtpsa,
}

impl Protocol {
    /// The keyword for a session: EHLO used, TLS on, SMTP AUTH done (RFC 3848 §1: with TLS
    /// or AUTH the session is ESMTP, whatever greeting was used).
    pub fn of(ehlo: bool, tls: bool, auth: bool) -> Self {
        match (ehlo, tls, auth) {
            (_, true, true) => Protocol::Esmtpsa,
            (_, true, false) => Protocol::Esmtps,
            (_, false, true) => Protocol::Esmtpa,
            (true, false, false) => Protocol::Esmtp,
            (false, false, false) => Protocol::Smtp,
        }
    }

    /// The keyword as written after `with`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Smtp => "SMTP",
            Protocol::Esmtp => "ESMTP",
            Protocol::Esmtps => "ESMTPS",
            Protocol::Esmtpa => "ESMTPA",
            Protocol::Esmtpsa => "ESMTPSA",
        }
    }
}

/// What one stamp says.
#[derive(Clone, Debug)]
pub struct Stamp<'a> {
    /// The name the client gave in EHLO/HELO, as it gave it.
    pub helo: Option<&'a str>,
    /// The client's IP address.
    pub peer: Option<IpAddr>,
    /// The accepting host (`smtp.<provider domain>`).
    pub by: &'a str,
    pub protocol: Protocol,
    /// The provider's id of the message (its X-de-mail-message-id), written as a msg-id.
    pub id: &'a str,
    /// The recipient of this copy (`for`), if any.
    pub recipient: Option<&'a str>,
    /// The instant of acceptance as an RFC 5322 date-time (`clock::format_rfc5322`).
    pub date: &'a str,
}

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets; a longer recipient is left out of `for`.
const MAX_PATH: usize = 256;
/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
const MAX_DOMAIN: usize = 255;
/// RFC 5322 §2.1.1: lines should not be longer than 78 characters.
const LINE: usize = 78;

impl Stamp<'_> {
    /// The `Received` field, folded (RFC 5322 §2.2.3: a line break only before white space).
    pub fn field(&self) -> Field {
        let literal = self.peer.map(address_literal);
        let helo = self.helo.filter(|h| is_domain(h) || is_address_literal(h));
        let from = match (helo, &literal) {
            (Some(h), Some(l)) => format!("from {h} ({l})"),
            (Some(h), None) => format!("from {h}"),
            (None, Some(l)) => format!("from {l} ({l})"),
            (None, None) => "from unknown".to_string(),
        };
        let mut clauses = vec![
            from,
            format!("by {}", self.by),
            format!("with {}", self.protocol.as_str()),
            format!("id <{}>", self.id),
        ];
        if let Some(r) = self.recipient.filter(|r| r.len() + 2 <= MAX_PATH) {
            clauses.push(format!("for <{r}>"));
        }
        if let Some(last) = clauses.last_mut() {
            last.push(';');
        }
        clauses.push(self.date.to_string());
        Field {
            name: "Received".into(),
            raw_value: fold("Received:".len(), &clauses),
        }
    }
}

/// Joins `clauses` with a space, or with CRLF TAB where the line would pass [`LINE`]; `used`
/// is what the line holds before the first clause (the field name and colon).
fn fold(used: usize, clauses: &[String]) -> String {
    let mut out = String::new();
    let mut column = used;
    for (i, c) in clauses.iter().enumerate() {
        if i > 0 && column + 1 + c.len() > LINE {
            out.push_str("\r\n\t");
            column = 1;
        } else {
            out.push(' ');
            column += 1;
        }
        out.push_str(c);
        column += c.len();
    }
    out
}

/// An IP address as an RFC 5321 §4.1.3 address literal.
fn address_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    }
}

/// RFC 5321 §4.1.2 `Domain`: sub-domains of letters, digits and inner hyphens, dot-separated.
fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_DOMAIN
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// RFC 5321 §4.1.3 address literal, read loosely: `[` digits, hex, `.`, `:` and the `IPv6:`
/// tag `]`.
fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    let inner = inner.strip_prefix("IPv6:").unwrap_or(inner);
    !inner.is_empty()
        && inner.len() <= 45
        && inner
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
}

/// What a `Received` field says about where and when (RFC 5321 §4.4 `Stamp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    /// The `by` host, lower case.
    pub by: Option<String>,
    /// The date-time after the last `;`, trimmed.
    pub date: Option<String>,
}

/// Reads the `by` host and the date of a `Received` value (unfolded or not); comments
/// (RFC 5322 §3.2.2, nested) are skipped when looking for `by`.
pub fn read(value: &str) -> Reading {
    let (clauses, date) = match value.rsplit_once(';') {
        Some((c, d)) => (c, Some(d.trim_matches(|c: char| c.is_whitespace()))),
        None => (value, None),
    };
    let mut plain = String::with_capacity(clauses.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in clauses.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if depth > 0 => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                plain.push(' ');
            }
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let mut words = plain.split_whitespace();
    let mut by = None;
    while let Some(w) = words.next() {
        if w.eq_ignore_ascii_case("by") {
            by = words.next().map(|h| h.to_ascii_lowercase());
            break;
        }
    }
    Reading {
        by,
        date: date.filter(|d| !d.is_empty()).map(str::to_string),
    }
}

/// The Eingang a message's provider stamped: the date of the topmost `Received` field when
/// its `by` host is `host` (case-insensitive), else `None`. Never searches further down: the
/// fields below the provider's may be a client's forgeries (see the module documentation).
pub fn eingang(msg: &RawMessage, host: &str) -> Option<String> {
    let top = read(&msg.first_field("received")?.value());
    match top.by {
        Some(by) if by.eq_ignore_ascii_case(host) => top.date,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp<'a>(helo: Option<&'a str>, recipient: Option<&'a str>) -> Stamp<'a> {
        Stamp {
            helo,
            peer: Some("127.0.0.1".parse().unwrap()),
            by: "smtp.dmda-a.de-mail.de",
            protocol: Protocol::Esmtpsa,
            id: "m000001@dmda-a.de-mail.de",
            recipient,
            date: "Mon, 3 Mar 2025 09:00:00 +0100",
        }
    }

    /// The field as written: clauses in RFC 5321 §4.4 order, folded before a clause, no line
    /// over 78 characters, and it reads back.
    #[test]
    fn a_stamp_is_folded_and_reads_back() {
        let f = stamp(Some("client.example"), Some("amt@dresden.de-mail.de")).field();
        let text = format!("{}:{}", f.name, f.raw_value);
        assert_eq!(
            text,
            "Received: from client.example ([127.0.0.1]) by smtp.dmda-a.de-mail.de\r\n\
             \twith ESMTPSA id <m000001@dmda-a.de-mail.de> for <amt@dresden.de-mail.de>;\r\n\
             \tMon, 3 Mar 2025 09:00:00 +0100"
        );
        assert!(text.split("\r\n").all(|l| l.len() <= LINE), "{text}");
        let r = read(&f.value());
        assert_eq!(r.by.as_deref(), Some("smtp.dmda-a.de-mail.de"));
        assert_eq!(r.date.as_deref(), Some("Mon, 3 Mar 2025 09:00:00 +0100"));
    }

    /// A client's EHLO text that is not a domain or address literal is not written: it could
    /// carry a `;` or a `by` of its own. An over-long recipient is left out of `for`.
    #[test]
    fn hostile_ehlo_names_are_not_copied() {
        for helo in [
            "x; Mon, 1 Jan 2024 00:00:00 +0000",
            "a by smtp.dmda-a.de-mail.de",
            "(comment",
            "",
            "-bad-.example",
        ] {
            let f = stamp(Some(helo), None).field();
            assert!(
                f.value().starts_with("from [127.0.0.1] ([127.0.0.1]) by "),
                "{helo}: {f:?}"
            );
            assert_eq!(
                read(&f.value()).date.as_deref(),
                Some("Mon, 3 Mar 2025 09:00:00 +0100")
            );
        }
        let long = format!("{}@x.de", "a".repeat(300));
        let f = stamp(Some("[IPv6:::1]"), Some(&long)).field();
        assert!(!f.value().contains("for <"), "{f:?}");
        assert!(f.value().starts_with("from [IPv6:::1] ([127.0.0.1])"));
    }

    /// The Eingang is the topmost field's date, and only when the provider wrote it; a forged
    /// field below, or a topmost field of another host, gives nothing from further down.
    #[test]
    fn eingang_reads_only_the_topmost_field() {
        let msg = RawMessage::parse(
            b"Received: from a (b) by SMTP.dmda-a.de-mail.de with ESMTPSA id <m1@x>;\r\n\
              \tMon, 3 Mar 2025 10:00:00 +0100\r\n\
              Received: from x by smtp.dmda-a.de-mail.de (forged; by nobody); Sun, 2 Mar 2025 08:00:00 +0100\r\n\
              Subject: s\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(
            eingang(&msg, "smtp.dmda-a.de-mail.de").as_deref(),
            Some("Mon, 3 Mar 2025 10:00:00 +0100")
        );
        assert_eq!(eingang(&msg, "smtp.dmda-b.de-mail.de"), None);
        let second = read(&msg.fields[1].value());
        assert_eq!(second.by.as_deref(), Some("smtp.dmda-a.de-mail.de"));
        let none = RawMessage::parse(b"Subject: s\r\n\r\n").unwrap();
        assert_eq!(eingang(&none, "smtp.dmda-a.de-mail.de"), None);
    }

    /// RFC 3848: the keyword follows TLS and AUTH.
    #[test]
    fn protocol_keywords() {
        assert_eq!(Protocol::of(true, true, true).as_str(), "ESMTPSA");
        assert_eq!(Protocol::of(true, true, false).as_str(), "ESMTPS");
        assert_eq!(Protocol::of(true, false, false).as_str(), "ESMTP");
        assert_eq!(Protocol::of(false, false, false).as_str(), "SMTP");
        assert_eq!(Protocol::of(true, false, true).as_str(), "ESMTPA");
    }
}
