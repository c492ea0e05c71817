//! The `urn:de-mail` `Acknowledge-Message` XML of a Bestätigungsnachricht (PVD-IO §3.5.1,
//! Tabelle 23/24, schema §3.5.3) for Versand-, Eingangs- and Abholbestätigung, plus the TR's
//! suggested text with its table (PVD-IO §3.5.1) and the lines for the content-equal PDF
//! (PVD-IO §3.4.1).
//!
//! Choices:
//! - `ds:Signature` is left out and an XML comment marks its place: XML-DSig is out of scope
//!   here; the whole multipart body, XML included, is covered by the message's
//!   X-de-mail-integrity signature (PVD-IO §3.4.1, §3.1.21). Until XML-DSig is added, the XML
//!   does not validate against §3.5.3, where `ds:Signature` is mandatory.
//! - `Metadata` holds one `Metadate` per Tabelle 1 header of the original (PVD-IO Tabelle 24),
//!   first occurrence of each name (Tabelle 1 note), in the original's order. Misspelt or
//!   unknown `X-de-mail-*` fields are not Tabelle 1 headers and are left out.
//! - `Value` is the value unfolded as RFC 5322 §2.2.3 does it (the folding CRLFs removed, the
//!   following whitespace kept) and trimmed.
//! - `OriginalHeader` is `name:raw value` exactly as received, folding CRLFs included, no final
//!   CRLF; the CR is written as `&#xD;` so that XML line-end normalisation cannot drop it.
//! - The XML `Subject` follows Tabelle 23 ("\[Bestätigungsart\]: Betreff"), the message Subject
//!   header the §3.5.1 template ("*Eingangsbestätigung* Betreff"); both are offered.
//! - `Hash` is the unfolded content of the original's first X-de-mail-integrity (or, if the
//!   original carries the DKIM-Signature form, of that field), PVD-IO §3.5.1.
//! - Characters XML 1.0 cannot carry (control characters other than TAB, LF, CR) become U+FFFD.
//! - Output is deterministic: same input, same bytes; LF line ends, two-space indentation.

use std::fmt;

use super::MessageType;
use super::headers::{Field, RawMessage};

/// The XML namespace of PVD-IO §3.5.3.
pub const NAMESPACE: &str = "urn:de-mail";

/// The three kinds of Bestätigung (PVD-FU §3.3.3–3.3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckKind {
    /// Versandbestätigung.
    Dispatch,
    /// Eingangsbestätigung.
    Receipt,
    /// Abholbestätigung.
    Retrieve,
}

impl AckKind {
    /// The German name ("Versandbestätigung", ...).
    pub fn label(self) -> &'static str {
        match self {
            AckKind::Dispatch => "Versandbestätigung",
            AckKind::Receipt => "Eingangsbestätigung",
            AckKind::Retrieve => "Abholbestätigung",
        }
    }

    /// Subject header of the confirmation: `*Versandbestätigung* [Betreff]` (PVD-IO §3.5.1).
    pub fn message_subject(self, original_subject: &str) -> String {
        format!("*{}* {original_subject}", self.label())
    }

    /// The XML `Subject`: "\[Bestätigungsart\]: Betreff" (PVD-IO Tabelle 23).
    pub fn xml_subject(self, original_subject: &str) -> String {
        format!("{}: {original_subject}", self.label())
    }

    /// Short name in traces: "dispatch", "receipt", "retrieve".
    pub fn trace_name(self) -> &'static str {
        match self {
            AckKind::Dispatch => "dispatch",
            AckKind::Receipt => "receipt",
            AckKind::Retrieve => "retrieve",
        }
    }

    /// Local part of the issuing system address, spelt as in PVD-FU §4.3 Tabelle 1.
    pub fn system_local_part(self) -> &'static str {
        match self {
            AckKind::Dispatch => super::system_address::VERSAND,
            AckKind::Receipt => super::system_address::EINGANG,
            AckKind::Retrieve => super::system_address::ABHOL,
        }
    }

    /// X-de-mail-message-type of the confirmation (PVD-IO §3.5.1, Tabelle 12).
    pub fn message_type(self) -> MessageType {
        match self {
            AckKind::Dispatch => MessageType::ConfirmationOfDispatch,
            AckKind::Receipt => MessageType::ConfirmationOfReceipt,
            AckKind::Retrieve => MessageType::ConfirmationOfRetrieve,
        }
    }
}

/// What a confirmation states besides the original's metadata (PVD-IO §3.5.1).
#[derive(Clone, Debug)]
pub struct AckFacts<'a> {
    pub kind: AckKind,
    /// Issuing system address, e.g. `Eingangsbestaetigung@dmda-b.de-mail.de` (XML `Sender`).
    pub sender: &'a str,
    /// Name of the DMDA ("Die Bestätigung erfolgte durch ...").
    pub provider_name: &'a str,
    /// Link to the provider's page, if any.
    pub provider_link: Option<&'a str>,
    /// De-Mail address of the original's sender.
    pub original_sender: &'a str,
    /// De-Mail address of the recipient concerned.
    pub original_recipient: &'a str,
    /// Subject of the original, decoded (RFC 2047 words resolved).
    pub original_subject: &'a str,
    /// Creation time of the confirmation, `xs:dateTime` with offset, e.g.
    /// `2025-03-03T09:00:00+01:00` (XML `Time`; "Datum" in the table). For Versand- and
    /// Eingangsbestätigung it is the time of Versand or Eingang.
    pub time: &'a str,
    /// Abholbestätigung only: when the original reached the mailbox (XML `DeliveryTime`).
    pub delivery_time: Option<&'a str>,
}

/// One `Metadate` (PVD-IO Tabelle 24).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadate {
    /// Header name as written in the original.
    pub name: String,
    /// Value with folding whitespace removed.
    pub value: String,
    /// `name:raw value` as received, folding included.
    pub original_header: String,
}

/// Why a confirmation cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckError {
    /// A time is not an `xs:dateTime` with explicit offset.
    BadTime {
        element: &'static str,
        value: String,
    },
    /// DeliveryTime given for a Versand-/Eingangsbestätigung or missing for an Abholbestätigung.
    DeliveryTime(AckKind),
    /// The original has no X-de-mail-integrity (nor a TR-style DKIM-Signature).
    NoIntegrity,
    /// The original has no X-de-mail-message-id.
    NoMessageId,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AckError::BadTime { element, value } => write!(
                f,
                "{element} {value:?} is not an xs:dateTime with offset like \
                 2025-03-03T09:00:00+01:00 (PVD-IO §3.5.3)"
            ),
            AckError::DeliveryTime(AckKind::Retrieve) => f.write_str(
                "an Abholbestätigung needs the time the message reached the mailbox \
                 (DeliveryTime, PVD-IO Tabelle 23)",
            ),
            AckError::DeliveryTime(kind) => write!(
                f,
                "DeliveryTime is only set for an Abholbestätigung, not a {} (PVD-IO Tabelle 23)",
                kind.label()
            ),
            AckError::NoIntegrity => f.write_str(
                "the original has no X-de-mail-integrity, so there is no hash to confirm \
                 (PVD-IO §3.5.1)",
            ),
            AckError::NoMessageId => f.write_str(
                "the original has no X-de-mail-message-id (PVD-IO §3.5.1 table, §3.1.18)",
            ),
        }
    }
}

impl std::error::Error for AckError {}

/// Whether `name` is a header of PVD-IO Tabelle 1.
pub fn is_table1_header(name: &str) -> bool {
    super::table1::is_table1(name)
}

/// The original's metadata: first occurrence of every Tabelle 1 header, in message order
/// (PVD-IO Tabelle 24).
pub fn metadata(original: &RawMessage) -> Vec<Metadate> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for f in &original.fields {
        let lower = f.name.to_ascii_lowercase();
        if !is_table1_header(&lower) || seen.contains(&lower) {
            continue;
        }
        seen.push(lower);
        out.push(Metadate {
            name: f.name.clone(),
            value: f.value(),
            original_header: original_header(f),
        });
    }
    out
}

/// The content of the original's seal field, unfolded (PVD-IO §3.5.1 "vollständiger Inhalt des
/// Header-Feld x-de-mail-integrity").
pub fn integrity_value(original: &RawMessage) -> Result<String, AckError> {
    super::integrity::seal_field(original)
        .map(Field::value)
        .ok_or(AckError::NoIntegrity)
}

/// The TR's suggested confirmation text with its table (PVD-IO §3.5.1), LF line ends.
pub fn suggested_text(f: &AckFacts<'_>, original: &RawMessage) -> Result<String, AckError> {
    check_times(f)?;
    let integrity = integrity_value(original)?;
    let message_id = original
        .first(super::h::MESSAGE_ID)
        .ok_or(AckError::NoMessageId)?;
    let date = german_date(f.time).unwrap_or_default();
    let mut rows: Vec<(&str, String)> = Vec::new();
    let intro = match f.kind {
        AckKind::Dispatch => {
            "Hiermit wird bestätigt, dass die Nachricht mit den folgenden Angaben an den \
             Empfänger versandt wurde."
        }
        AckKind::Receipt => {
            "Hiermit wird bestätigt, dass die Nachricht mit den folgenden Angaben im Postfach \
             des Empfängers abgelegt wurde."
        }
        AckKind::Retrieve => {
            "Hiermit wird bestätigt, dass sich der Empfänger der Nachricht mit den folgenden \
             Angaben an seinem De-Mail-Konto sicher angemeldet hat."
        }
    };
    // The Abholbestätigung's table adds the time of Eingang and writes "Uhr" (PVD-IO §3.5.1).
    let uhr = if f.kind == AckKind::Retrieve {
        " Uhr"
    } else {
        ""
    };
    if f.kind == AckKind::Retrieve {
        let delivered = f.delivery_time.and_then(german_date).unwrap_or_default();
        rows.push((
            "Zeitpunkt des Eingangs der Nachricht:",
            format!("{delivered} Uhr"),
        ));
    }
    rows.push(("Absender:", f.original_sender.to_string()));
    rows.push(("Empfänger:", f.original_recipient.to_string()));
    rows.push(("Datum:", format!("{date}{uhr}")));
    rows.push(("Betreff:", f.original_subject.to_string()));
    rows.push(("Nachrichten-ID:", message_id));
    rows.push(("Prüfsumme:", integrity));
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("{intro}\n\n");
    for (k, v) in rows {
        let pad = width - k.chars().count() + 1;
        out.push_str(&format!("{k}{}{v}\n", " ".repeat(pad)));
    }
    out.push_str(&format!(
        "\nDie Bestätigung erfolgte durch {}",
        f.provider_name
    ));
    if let Some(link) = f.provider_link {
        out.push_str(&format!(" {link}"));
    }
    out.push('\n');
    Ok(out)
}

/// The `Acknowledge-Message` document (PVD-IO §3.5.3), UTF-8 with XML declaration.
pub fn acknowledge_xml(f: &AckFacts<'_>, original: &RawMessage) -> Result<String, AckError> {
    check_times(f)?;
    let text = suggested_text(f, original)?;
    let hash = integrity_value(original)?;
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!("<Acknowledge-Message xmlns=\"{NAMESPACE}\">\n"));
    element(&mut x, 1, "Sender", f.sender);
    x.push_str("  <Metadata>\n");
    for m in metadata(original) {
        x.push_str("    <Metadate>\n");
        element(&mut x, 3, "Name", &m.name);
        element(&mut x, 3, "Value", &m.value);
        element(&mut x, 3, "OriginalHeader", &m.original_header);
        x.push_str("    </Metadate>\n");
    }
    x.push_str("  </Metadata>\n");
    element(
        &mut x,
        1,
        "Subject",
        &f.kind.xml_subject(f.original_subject),
    );
    element(&mut x, 1, "Text", &text);
    element(&mut x, 1, "Hash", &hash);
    element(&mut x, 1, "Time", f.time);
    if let Some(t) = f.delivery_time {
        element(&mut x, 1, "DeliveryTime", t);
    }
    x.push_str(
        "  <!-- ds:Signature (PVD-IO Tabelle 23) not produced: XML-DSig is out of scope; the \
         message's X-de-mail-integrity signature covers this document (PVD-IO §3.4.1) -->\n",
    );
    x.push_str("</Acknowledge-Message>\n");
    Ok(x)
}

/// The lines of the PDF with the same content as the XML (PVD-IO §3.4.1): heading, the
/// suggested text, then the metadata, hash, times and issuer.
pub fn pdf_lines(f: &AckFacts<'_>, original: &RawMessage) -> Result<Vec<String>, AckError> {
    let text = suggested_text(f, original)?;
    let mut lines = vec![f.kind.xml_subject(f.original_subject), String::new()];
    lines.extend(text.lines().map(str::to_string));
    lines.push(String::new());
    lines.push("Metadaten der Nachricht:".to_string());
    for m in metadata(original) {
        lines.push(format!("{}: {}", m.name, m.value));
    }
    lines.push(String::new());
    lines.push(format!("Zeitpunkt der Erstellung: {}", f.time));
    if let Some(t) = f.delivery_time {
        lines.push(format!("Zeitpunkt des Eingangs: {t}"));
    }
    lines.push(format!("Aussteller: {}", f.sender));
    Ok(lines)
}

fn check_times(f: &AckFacts<'_>) -> Result<(), AckError> {
    if !is_xs_date_time(f.time) {
        return Err(AckError::BadTime {
            element: "Time",
            value: f.time.to_string(),
        });
    }
    match (f.kind, f.delivery_time) {
        (AckKind::Retrieve, None) | (AckKind::Dispatch | AckKind::Receipt, Some(_)) => {
            Err(AckError::DeliveryTime(f.kind))
        }
        (_, Some(t)) if !is_xs_date_time(t) => Err(AckError::BadTime {
            element: "DeliveryTime",
            value: t.to_string(),
        }),
        _ => Ok(()),
    }
}

/// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`: the xs:dateTime lexical form with a required
/// offset, so the instant is unambiguous (the TR's evidence times are instants).
pub fn is_xs_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19))
    {
        return false;
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok()).unwrap_or(99);
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 59
    {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            digits(i + 1..i + 3) && at(i + 3, b':') && digits(i + 4..i + 6) && i + 6 == b.len()
        }
        _ => false,
    }
}

/// `[Tag].[Monat].[Jahr] [Stunde]:[Minute]` from an xs:dateTime, local time as written
/// (PVD-IO §3.5.1 table).
fn german_date(xs: &str) -> Option<String> {
    if !is_xs_date_time(xs) {
        return None;
    }
    Some(format!(
        "{}.{}.{} {}:{}",
        xs.get(8..10)?,
        xs.get(5..7)?,
        xs.get(0..4)?,
        xs.get(11..13)?,
        xs.get(14..16)?
    ))
}

fn element(out: &mut String, depth: usize, name: &str, text: &str) {
    out.push_str(&"  ".repeat(depth));
    out.push_str(&format!("<{name}>{}</{name}>\n", xml_escape(text)));
}

/// Escapes text for XML element content: `&`, `<`, `>` as entities, CR as `&#xD;` (kept
/// through parsing), characters XML 1.0 forbids as U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The fields of an `Acknowledge-Message` as `inspect` shows them by default (PVD-IO
/// Tabelle 23/24): read back from the XML this module writes, tolerant of anything else (a
/// missing element is `None`, never a panic).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AckFields {
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub hash: Option<String>,
    pub time: Option<String>,
    pub delivery_time: Option<String>,
    /// `Metadate` entries: name and value, in the document's order.
    pub metadata: Vec<(String, String)>,
}

/// Reads the fields of an `Acknowledge-Message`; `None` when `xml` has no such element.
pub fn read_fields(xml: &str) -> Option<AckFields> {
    let root = inner(xml, "Acknowledge-Message")?;
    let (head, rest) = match root.find("<Metadata>") {
        Some(i) => root.split_at(i),
        None => (root, ""),
    };
    let metadata_block = inner(rest, "Metadata").unwrap_or("");
    let after = rest
        .find("</Metadata>")
        .and_then(|i| rest.get(i + "</Metadata>".len()..))
        .unwrap_or(rest);
    let get = |name: &str| {
        inner(after, name)
            .or_else(|| inner(head, name))
            .map(xml_unescape)
    };
    let mut metadata = Vec::new();
    let mut block = metadata_block;
    while let Some(m) = inner(block, "Metadate") {
        metadata.push((
            inner(m, "Name").map(xml_unescape).unwrap_or_default(),
            inner(m, "Value").map(xml_unescape).unwrap_or_default(),
        ));
        block = block
            .find("</Metadate>")
            .and_then(|i| block.get(i + "</Metadate>".len()..))
            .unwrap_or("");
    }
    Some(AckFields {
        sender: inner(head, "Sender").map(xml_unescape),
        subject: get("Subject"),
        text: get("Text"),
        hash: get("Hash"),
        time: get("Time"),
        delivery_time: get("DeliveryTime"),
        metadata,
    })
}

/// The text between the first `<name …>` and the next `</name>` in `xml`.
fn inner<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let mut from = 0;
    let start = loop {
        let i = from + xml.get(from..)?.find(&open)?;
        let after = i + open.len();
        match xml.as_bytes().get(after) {
            Some(b'>') => break after + 1,
            Some(b' ' | b'\t' | b'\n' | b'\r') => break after + xml.get(after..)?.find('>')? + 1,
            _ => from = after,
        }
    };
    let end = start + xml.get(start..)?.find(&format!("</{name}>"))?;
    xml.get(start..end)
}

/// Undoes [`xml_escape`] and the other predefined and numeric references.
fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let name = &tail[1..end];
        let c = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A field as it appears in `OriginalHeader` (exposed for callers that list single fields).
pub fn original_header(field: &Field) -> String {
    format!("{}:{}", field.name, field.raw_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = "From: Erika Mustermann <erika.mustermann@dmda-a.de-mail.de>\r\n\
        Subject: =?UTF-8?B?R2V3ZXJiZWFuemVpZ2UgQsOkY2tlcmVp?=\r\n\
        Date: Mon, 3 Mar 2025 09:00:00 +0100\r\n\
        Message-ID: <m000001@dmda-a.de-mail.de>\r\n\
        X-Mailer: test & <friends>\r\n\
        X-de-mail-sender: erika.mustermann@dmda-a.de-mail.de\r\n\
        X-de-mail-chosen-recipient: to=gewerbe@dresden.de-mail.de;\r\n\tcc=amt@dresden.de-mail.de\r\n\
        X-de-mail-message-id: m000001@dmda-a.de-mail.de\r\n\
        X-de-mail-privat-id: misspelt\r\n\
        X-de-mail-private-id: A&B <1>\r\n\
        X-de-mail-integrity: v=1; a=sha256; c=simple/simple;\r\n h=From:Date; bh=AAAA; b=BBBB\r\n\
        Subject: second subject is ignored\r\n\
        \r\n\
        body\r\n";

    fn original() -> RawMessage {
        RawMessage::parse(ORIGINAL.as_bytes()).unwrap()
    }

    fn facts(kind: AckKind) -> AckFacts<'static> {
        AckFacts {
            kind,
            sender: "Eingangsbestaetigung@dresden.de-mail.de",
            provider_name: "DMDA B (simuliert)",
            provider_link: Some("https://dmda-b.example/"),
            original_sender: "erika.mustermann@dmda-a.de-mail.de",
            original_recipient: "gewerbe@dresden.de-mail.de",
            original_subject: "Gewerbeanzeige Bäckerei",
            time: "2025-03-03T09:00:05+01:00",
            delivery_time: (kind == AckKind::Retrieve).then_some("2025-03-03T09:00:01+01:00"),
        }
    }

    /// Element order and content follow the schema (PVD-IO §3.5.3); escaping is correct;
    /// OriginalHeader keeps the folding CRLF; first occurrence only; unknown fields left out.
    #[test]
    fn receipt_xml_has_the_schema_order_and_escaping() {
        let xml = acknowledge_xml(&facts(AckKind::Receipt), &original()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Acknowledge-Message xmlns=\"urn:de-mail\">\n"));
        let order = [
            "<Sender>",
            "<Metadata>",
            "</Metadata>",
            "<Subject>",
            "<Text>",
            "<Hash>",
            "<Time>",
            "</Acknowledge-Message>",
        ];
        let pos: Vec<usize> = order.iter().map(|t| xml.find(t).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{xml}");
        assert!(!xml.contains("<DeliveryTime>"));
        assert!(xml.contains("<Value>A&amp;B &lt;1&gt;</Value>"), "{xml}");
        assert!(xml.contains(
            "<OriginalHeader>X-de-mail-chosen-recipient: to=gewerbe@dresden.de-mail.de;&#xD;\n\tcc=amt@dresden.de-mail.de</OriginalHeader>"
        ), "{xml}");
        assert!(
            xml.contains(
                "<Value>to=gewerbe@dresden.de-mail.de;\tcc=amt@dresden.de-mail.de</Value>"
            )
        );
        assert!(xml.contains("<Subject>Eingangsbestätigung: Gewerbeanzeige Bäckerei</Subject>"));
        assert!(
            xml.contains(
                "<Hash>v=1; a=sha256; c=simple/simple; h=From:Date; bh=AAAA; b=BBBB</Hash>"
            )
        );
        assert!(xml.contains("<Time>2025-03-03T09:00:05+01:00</Time>"));
        assert_eq!(xml.matches("<Name>Subject</Name>").count(), 1);
        assert!(!xml.contains("second subject"));
        assert!(!xml.contains("privat-id"));
        assert!(!xml.contains("X-Mailer"));
        assert_eq!(xml.matches("<Metadate>").count(), 9);
        assert!(xml.contains("ds:Signature"));
        assert_eq!(
            xml,
            acknowledge_xml(&facts(AckKind::Receipt), &original()).unwrap()
        );
    }

    /// DeliveryTime only for the Abholbestätigung, after Time (PVD-IO Tabelle 23, §3.5.3).
    #[test]
    fn delivery_time_only_for_retrieve() {
        let xml = acknowledge_xml(&facts(AckKind::Retrieve), &original()).unwrap();
        let t = xml.find("<Time>").unwrap();
        let d = xml
            .find("<DeliveryTime>2025-03-03T09:00:01+01:00</DeliveryTime>")
            .unwrap();
        assert!(t < d);
        let mut f = facts(AckKind::Retrieve);
        f.delivery_time = None;
        assert_eq!(
            acknowledge_xml(&f, &original()),
            Err(AckError::DeliveryTime(AckKind::Retrieve))
        );
        let mut f = facts(AckKind::Dispatch);
        f.delivery_time = Some("2025-03-03T09:00:01+01:00");
        assert!(acknowledge_xml(&f, &original()).is_err());
        let mut f = facts(AckKind::Dispatch);
        f.time = "03.03.2025 09:00";
        let err = acknowledge_xml(&f, &original()).unwrap_err();
        assert!(err.to_string().contains("xs:dateTime"), "{err}");
    }

    /// The text follows the TR's suggestion; the Abholbestätigung has the Eingang row and "Uhr".
    #[test]
    fn suggested_texts() {
        let t = suggested_text(&facts(AckKind::Dispatch), &original()).unwrap();
        assert!(t.starts_with("Hiermit wird bestätigt, dass die Nachricht mit den folgenden Angaben an den Empfänger versandt wurde.\n\n"), "{t}");
        assert!(t.contains("Datum:          03.03.2025 09:00\n"), "{t}");
        assert!(t.contains("Nachrichten-ID: m000001@dmda-a.de-mail.de\n"));
        assert!(t.contains("Prüfsumme:      v=1; a=sha256;"));
        assert!(t.ends_with(
            "Die Bestätigung erfolgte durch DMDA B (simuliert) https://dmda-b.example/\n"
        ));
        let r = suggested_text(&facts(AckKind::Retrieve), &original()).unwrap();
        assert!(r.contains("sicher angemeldet hat."));
        assert!(
            r.contains("Zeitpunkt des Eingangs der Nachricht: 03.03.2025 09:00 Uhr\n"),
            "{r}"
        );
        assert!(
            r.contains("Datum:                                03.03.2025 09:00 Uhr\n"),
            "{r}"
        );
        let e = suggested_text(&facts(AckKind::Receipt), &original()).unwrap();
        assert!(e.contains("im Postfach des Empfängers abgelegt wurde."));
        assert_eq!(
            AckKind::Receipt.message_subject("Gewerbeanzeige"),
            "*Eingangsbestätigung* Gewerbeanzeige"
        );
    }

    /// Missing integrity or message id are errors, not panics.
    #[test]
    fn missing_fields_are_errors() {
        let mut m = original();
        m.remove_all("x-de-mail-integrity");
        assert_eq!(
            acknowledge_xml(&facts(AckKind::Receipt), &m),
            Err(AckError::NoIntegrity)
        );
        let mut m = original();
        m.remove_all("x-de-mail-message-id");
        assert_eq!(
            suggested_text(&facts(AckKind::Receipt), &m),
            Err(AckError::NoMessageId)
        );
    }

    /// Escaping covers the XML specials and forbidden control characters.
    #[test]
    fn escaping() {
        assert_eq!(
            xml_escape("a<b>&\"'\r\n\t\u{1}"),
            "a&lt;b&gt;&amp;\"'&#xD;\n\t\u{FFFD}"
        );
        assert!(is_xs_date_time("2025-03-03T09:00:00Z"));
        assert!(is_xs_date_time("2025-03-03T09:00:00.123-05:00"));
        assert!(!is_xs_date_time("2025-03-03T09:00:00"));
        assert!(!is_xs_date_time("2025-13-03T09:00:00Z"));
        assert!(!is_xs_date_time("2025-03-03T09:00:00+0100"));
        assert!(!is_xs_date_time("ä"));
    }

    /// `read_fields` gives back what `acknowledge_xml` wrote, and never panics on other text.
    #[test]
    fn fields_read_back() {
        let xml = acknowledge_xml(&facts(AckKind::Receipt), &original()).unwrap();
        let f = read_fields(&xml).unwrap();
        assert!(
            f.subject
                .as_deref()
                .unwrap()
                .starts_with("Eingangsbestätigung: "),
            "{f:?}"
        );
        assert!(
            f.time.is_some() && f.hash.is_some() && f.sender.is_some(),
            "{f:?}"
        );
        assert!(
            f.metadata
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("subject")),
            "{f:?}"
        );
        for junk in [
            "",
            "<Acknowledge-Message>",
            "<Acknowledge-Message x=\"1\"><Text>a &amp; &#xD;&bogus; &#99999999;</Text></Acknowledge-Message>",
            "<Acknowledge-Messagex></Acknowledge-Messagex>",
            "&&&;<<>>",
        ] {
            let _ = read_fields(junk);
        }
        let f = read_fields(
            "<Acknowledge-Message x=\"1\"><Text>a &amp; &#xD;&bogus;</Text></Acknowledge-Message>",
        )
        .unwrap();
        assert_eq!(f.text.as_deref(), Some("a & \r&bogus;"));
    }
}
