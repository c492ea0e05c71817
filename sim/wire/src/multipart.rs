//! The `multipart/mixed` body of a Bestätigungsnachricht: text, XML and PDF in one MIME entity
//! (PVD-IO §3.4.1), which is then sealed with X-de-mail-integrity (PVD-IO §3.1.21).
//!
//! The boundary is derived from a caller-given seed (e.g. the confirmation's
//! X-de-mail-message-id) by SHA-256, never from the clock or OS randomness, so the same
//! confirmation always has the same bytes (and the same body hash). Parts are in the order
//! text/plain (the TR's suggested text and table, PVD-IO §3.5.1), application/xml
//! (Acknowledge-Message, §3.5.3), application/pdf. Binary and non-ASCII content is base64 with
//! 76-character lines (RFC 2045 §6.8); text is normalised to CRLF first (RFC 2049 canonical
//! form, PVD-IO §3.1.21 condition 5).
//!
//! To assemble a confirmation: put `MIME-Version: 1.0` and `Content-Type: <content_type>` in
//! the header, the body bytes after the empty line, then `integrity::seal` the message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::Digest as _;

/// One body part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Full Content-Type value, e.g. `application/xml; charset=utf-8`.
    pub content_type: String,
    /// File name for `Content-Disposition: attachment` (ASCII; other characters become `_`);
    /// `None` for an inline part.
    pub filename: Option<String>,
    /// Content; text parts are UTF-8.
    pub data: Vec<u8>,
}

/// A finished multipart body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Multipart {
    /// Value for the message's Content-Type header.
    pub content_type: String,
    /// The boundary used.
    pub boundary: String,
    /// Body bytes (CRLF line ends), to follow the header's empty line.
    pub body: Vec<u8>,
}

/// The body of a confirmation: suggested text, Acknowledge-Message XML and PDF (PVD-IO §3.4.1).
/// `file_stem` names the attachments (`<stem>.xml`, `<stem>.pdf`), e.g.
/// `Eingangsbestaetigung`.
pub fn confirmation_body(
    seed: &str,
    text: &str,
    xml: &str,
    pdf: &[u8],
    file_stem: &str,
) -> Multipart {
    multipart_mixed(
        seed,
        &[
            Part {
                content_type: "text/plain; charset=utf-8".into(),
                filename: None,
                data: text.as_bytes().to_vec(),
            },
            Part {
                content_type: "application/xml; charset=utf-8".into(),
                filename: Some(format!("{file_stem}.xml")),
                data: xml.as_bytes().to_vec(),
            },
            Part {
                content_type: "application/pdf".into(),
                filename: Some(format!("{file_stem}.pdf")),
                data: pdf.to_vec(),
            },
        ],
    )
}

/// A `multipart/mixed` body of `parts` with a boundary derived from `seed`.
pub fn multipart_mixed(seed: &str, parts: &[Part]) -> Multipart {
    let encoded: Vec<Vec<u8>> = parts.iter().map(encode_part).collect();
    // A boundary must not occur in the content (RFC 2046 §5.1.1); base64 cannot contain '-',
    // but 7bit text might, so a colliding candidate is replaced by the next attempt.
    let mut attempt = 0u32;
    let boundary = loop {
        let candidate = boundary_for(seed, attempt);
        let delimiter = format!("--{candidate}");
        if attempt == u32::MAX || !encoded.iter().any(|p| contains(p, delimiter.as_bytes())) {
            break candidate;
        }
        attempt += 1;
    };
    let mut body = b"This is a multi-part message in MIME format.\r\n".to_vec();
    for part in &encoded {
        body.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        body.extend_from_slice(part);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Multipart {
        content_type: format!("multipart/mixed; boundary=\"{boundary}\""),
        boundary,
        body,
    }
}

/// `demail-` followed by 32 hex digits of SHA-256 over the seed and attempt number: valid
/// boundary characters (RFC 2046 §5.1.1), 39 characters, deterministic.
pub fn boundary_for(seed: &str, attempt: u32) -> String {
    let mut h = sha2::Sha256::new();
    h.update(b"demail-testbed multipart boundary\0");
    h.update(seed.as_bytes());
    h.update(b"\0");
    h.update(attempt.to_be_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("demail-{hex}")
}

/// Base64 with CRLF after every 76 characters and at the end (RFC 2045 §6.8).
pub fn base64_lines(data: &[u8]) -> String {
    let encoded = B64.encode(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// Part header and content; the delimiter that follows starts with its own CRLF.
fn encode_part(part: &Part) -> Vec<u8> {
    let is_text = part.content_type.to_ascii_lowercase().starts_with("text/");
    let data = if is_text {
        normalize_crlf(&part.data)
    } else {
        part.data.clone()
    };
    let seven_bit = is_text
        && data.is_ascii()
        && data.split(|b| *b == b'\n').all(|l| l.len() <= 998)
        && !data.contains(&0);
    let mut out = format!("Content-Type: {}\r\n", part.content_type);
    match &part.filename {
        Some(name) => out.push_str(&format!(
            "Content-Disposition: attachment; filename=\"{}\"\r\n",
            ascii_filename(name)
        )),
        None => out.push_str("Content-Disposition: inline\r\n"),
    }
    if seven_bit {
        out.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&data);
        bytes
    } else {
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        out.push_str(&base64_lines(&data));
        let mut bytes = out.into_bytes();
        // The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1); the
        // last base64 line's CRLF can serve, text keeps its own final CRLF.
        bytes.truncate(bytes.len().saturating_sub(2));
        bytes
    }
}

fn ascii_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every line end as CRLF, and a final CRLF.
fn normalize_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acknowledge::{self, AckFacts, AckKind};
    use crate::headers::{Field, RawMessage};
    use crate::integrity::{self, HashAlg, Signer, Verdict};
    use crate::{h, pdf};

    /// Splits a body at the boundary and decodes each part's content.
    fn decode_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
        let text = String::from_utf8(body.to_vec()).unwrap();
        let delimiter = format!("\r\n--{boundary}");
        let close = format!("--{boundary}--\r\n");
        assert!(text.ends_with(&close));
        text.split(&delimiter)
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|p| {
                let p = p.strip_prefix("\r\n").unwrap();
                let (head, content) = p.split_once("\r\n\r\n").unwrap();
                let data = if head.contains("base64") {
                    for line in content.split("\r\n") {
                        assert!(line.len() <= 76, "{line}");
                    }
                    B64.decode(content.replace("\r\n", "")).unwrap()
                } else {
                    content.as_bytes().to_vec()
                };
                (head.to_string(), data)
            })
            .collect()
    }

    /// Three parts in order, base64 lines of 76, boundary from the seed only, deterministic.
    #[test]
    fn confirmation_body_has_three_parts() {
        let pdf_bytes = pdf::text_pdf("t", &["Grüße".to_string()]);
        let m = confirmation_body(
            "m2@x",
            "Prüfsumme: x\nZeile 2",
            "<a>ä</a>\n",
            &pdf_bytes,
            "Eingangsbestaetigung",
        );
        assert_eq!(
            m,
            confirmation_body(
                "m2@x",
                "Prüfsumme: x\nZeile 2",
                "<a>ä</a>\n",
                &pdf_bytes,
                "Eingangsbestaetigung"
            )
        );
        assert_ne!(
            m.boundary,
            confirmation_body("m3@x", "", "", &[], "x").boundary
        );
        assert_eq!(m.boundary, boundary_for("m2@x", 0));
        assert_eq!(
            m.content_type,
            format!("multipart/mixed; boundary=\"{}\"", m.boundary)
        );
        let parts = decode_parts(&m.body, &m.boundary);
        assert_eq!(parts.len(), 3);
        assert!(
            parts[0]
                .0
                .starts_with("Content-Type: text/plain; charset=utf-8\r\n")
        );
        assert_eq!(parts[0].1, "Prüfsumme: x\r\nZeile 2\r\n".as_bytes());
        assert!(parts[1].0.contains("application/xml"));
        assert!(parts[1].0.contains("filename=\"Eingangsbestaetigung.xml\""));
        assert_eq!(parts[1].1, "<a>ä</a>\n".as_bytes());
        assert!(parts[2].0.starts_with("Content-Type: application/pdf\r\n"));
        assert_eq!(parts[2].1, pdf_bytes);
    }

    /// ASCII text goes 7bit; a text containing the first boundary candidate gets another one.
    #[test]
    fn seven_bit_text_and_boundary_collision() {
        let first = boundary_for("seed", 0);
        let text = format!("line\n--{first}\n");
        let m = multipart_mixed(
            "seed",
            &[Part {
                content_type: "text/plain; charset=us-ascii".into(),
                filename: None,
                data: text.into_bytes(),
            }],
        );
        assert_eq!(m.boundary, boundary_for("seed", 1));
        let parts = decode_parts(&m.body, &m.boundary);
        assert!(parts[0].0.contains("7bit"));
        assert_eq!(parts[0].1, format!("line\r\n--{first}\r\n").as_bytes());
    }

    /// End to end: an original sealed by DMDA A, an Eingangsbestätigung with text, XML and
    /// PDF built from it, sealed and signed by DMDA B, verifies; the XML's Hash is the
    /// original's integrity value (PVD-IO §3.4.1, §3.5.1, §3.1.21).
    #[test]
    fn end_to_end_confirmation() {
        let mut original = RawMessage::parse(
            b"From: <erika.mustermann@dmda-a.de-mail.de>\r\n\
              To: <gewerbe@dresden.de-mail.de>\r\n\
              Subject: Gewerbeanzeige\r\n\
              Date: Mon, 3 Mar 2025 09:00:00 +0100\r\n\
              Message-ID: <m1@dmda-a.de-mail.de>\r\n\
              X-de-mail-sender: erika.mustermann@dmda-a.de-mail.de\r\n\
              X-de-mail-chosen-recipient: to=gewerbe@dresden.de-mail.de\r\n\
              X-de-mail-confirmation-of-receipt: yes\r\n\
              X-de-mail-message-type: normal\r\n\
              X-de-mail-message-id: m1@dmda-a.de-mail.de\r\n\
              X-de-mail-version: 1.8\r\n\
              \r\n\
              Antrag\r\n",
        )
        .unwrap();
        integrity::seal(&mut original, HashAlg::Sha256, None).unwrap();

        let facts = AckFacts {
            kind: AckKind::Receipt,
            sender: "Eingangsbestaetigung@dresden.de-mail.de",
            provider_name: "DMDA B",
            provider_link: None,
            original_sender: "erika.mustermann@dmda-a.de-mail.de",
            original_recipient: "gewerbe@dresden.de-mail.de",
            original_subject: "Gewerbeanzeige",
            time: "2025-03-03T09:00:05+01:00",
            delivery_time: None,
        };
        let text = acknowledge::suggested_text(&facts, &original).unwrap();
        let xml = acknowledge::acknowledge_xml(&facts, &original).unwrap();
        let lines = acknowledge::pdf_lines(&facts, &original).unwrap();
        let pdf_bytes = pdf::text_pdf(&AckKind::Receipt.xml_subject("Gewerbeanzeige"), &lines);
        let body = confirmation_body(
            "c1@dresden.de-mail.de",
            &text,
            &xml,
            &pdf_bytes,
            "Eingangsbestaetigung",
        );

        let subject = format!(
            "=?UTF-8?B?{}?=",
            B64.encode(AckKind::Receipt.message_subject("Gewerbeanzeige"))
        );
        let mut confirmation = RawMessage {
            fields: vec![
                Field::new("From", "<Eingangsbestaetigung@dresden.de-mail.de>"),
                Field::new("To", "<erika.mustermann@dmda-a.de-mail.de>"),
                Field::new("Subject", &subject),
                Field::new("Date", "Mon, 3 Mar 2025 09:00:05 +0100"),
                Field::new("Message-ID", "<c1@dresden.de-mail.de>"),
                Field::new(h::SENDER, "Eingangsbestaetigung@dresden.de-mail.de"),
                Field::new(h::MESSAGE_TYPE, AckKind::Receipt.message_type().as_str()),
                Field::new(h::MESSAGE_ID, "c1@dresden.de-mail.de"),
                Field::new(h::VERSION, "1.8"),
                Field::new("MIME-Version", "1.0"),
                Field::new("Content-Type", &body.content_type),
            ],
            body: body.body.clone(),
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "DMDA B Bestätigungen");
        let cert = params.self_signed(&key).unwrap();
        let signer =
            Signer::ecdsa_p256_from_pkcs8_der(&key.serialize_der(), cert.der().to_vec()).unwrap();
        integrity::seal(&mut confirmation, HashAlg::Sha256, Some(&signer)).unwrap();

        let received = RawMessage::parse(&confirmation.to_bytes()).unwrap();
        let verdict = integrity::verify(&received);
        assert!(
            matches!(&verdict, Verdict::Signed { signer, .. } if signer == "DMDA B Bestätigungen"),
            "{verdict}"
        );
        let parts = decode_parts(&received.body, &body.boundary);
        let xml_back = String::from_utf8(parts[1].1.clone()).unwrap();
        assert_eq!(xml_back, xml);
        let hash = original.first(h::INTEGRITY).unwrap();
        assert!(xml_back.contains(&format!("<Hash>{hash}</Hash>")));
        assert_eq!(parts[2].1, pdf_bytes);
    }
}
