//! Writing the seal: [`seal`] and [`seal_with`] add `X-de-mail-integrity` (and the signing
//! certificate) to a final message, with the tag list folded to 78-character lines
//! (PVD-IO §3.1.21).

use super::*;

/// Seals `msg` per PVD-IO §3.1.21: adds `X-de-mail-integrity` (and, when signing,
/// `X-de-mail-signature-certificate`), replacing any existing ones, since the hash must be made
/// anew for each copy sent (PVD-IO §3.1.8 BCC rule). They are inserted directly after the first
/// `X-de-mail-message-type` field (Tabelle 1 order: Nr. 16, 17, 18), or at the top if there is
/// none. The message must be final: every later change to a hashed field or the body breaks it.
pub fn seal(
    msg: &mut RawMessage,
    alg: HashAlg,
    signer: Option<&Signer>,
) -> Result<(), IntegrityError> {
    seal_with(msg, alg, signer, SealOptions::default())
}

/// [`seal`] with options (carrier field, diagnostic `z=` copies).
pub fn seal_with(
    msg: &mut RawMessage,
    alg: HashAlg,
    signer: Option<&Signer>,
    opts: SealOptions,
) -> Result<(), IntegrityError> {
    if msg.count("From") == 0 {
        return Err(IntegrityError::MissingField("From"));
    }
    if let Some(s) = signer {
        s.check_certificate()?;
    }
    msg.remove_all(h::INTEGRITY);
    msg.remove_all(h::SIGNATURE_CERTIFICATE);
    if opts.carrier == Carrier::DkimSignature {
        msg.remove_all(DKIM_SIGNATURE);
    }

    let names: Vec<&str> = TR_SIGNED_HEADERS
        .iter()
        .copied()
        .filter(|n| !n.eq_ignore_ascii_case(h::PRIVATE_ID) || msg.count(n) > 0)
        .collect();
    let body_hash = B64.encode(alg.digest(&canonical_body(&msg.body)));
    let a = match signer {
        Some(s) => format!("{alg}/{}", s.sig_alg()),
        None => alg.to_string(),
    };

    let mut value = format!(" v=1; a={a}; c=simple/simple;");
    if let Some(d) = msg.first(h::ORIGINATOR_PROVIDER).filter(|d| is_domain(d)) {
        value.push_str(&format!("\r\n d={d};"));
    }
    if signer.is_some() {
        value.push_str(&format!("\r\n q={Q_CERTIFICATE};"));
    }
    value.push_str("\r\n h=");
    value.push_str(&fold_list(&names, ':', 3));
    value.push(';');
    value.push_str("\r\n bh=");
    value.push_str(&fold_base64(&body_hash, 4));
    value.push(';');
    if opts.diagnostic_copies {
        let copies: Vec<String> = names
            .iter()
            .filter_map(|n| first_field(msg, n))
            .map(|f| dkim_quoted_printable(&format!("{}:{}", f.name, f.raw_value)))
            .collect();
        value.push_str("\r\n z=");
        value.push_str(&fold_quoted_printable(&copies.join("|"), 3));
        value.push(';');
    }
    value.push_str("\r\n b=");

    let carrier = Field {
        name: opts.carrier.field_name().to_string(),
        raw_value: value.clone(),
    };
    let header_hash = alg.digest(&header_hash_input(msg, &names, &carrier));
    let b = match signer {
        Some(s) => s.sign(alg, &header_hash)?,
        None => header_hash,
    };
    value.push_str(&fold_base64(&B64.encode(b), 3));

    let mut new_fields = vec![Field {
        name: opts.carrier.field_name().to_string(),
        raw_value: value,
    }];
    if let Some(s) = signer {
        new_fields.push(Field {
            name: "X-de-mail-signature-certificate".to_string(),
            // "X-de-mail-signature-certificate: " takes 33 characters of the first line.
            raw_value: format!(" {}", fold_base64(&B64.encode(s.cert_der()), 33)),
        });
    }
    let at = msg
        .fields
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(h::MESSAGE_TYPE))
        .map_or(0, |i| i + 1);
    msg.fields.splice(at..at, new_fields);
    Ok(())
}

/// Folds a list joined by `sep` into lines of about 72 characters with CRLF SP.
pub(super) fn fold_list<S: AsRef<str>>(items: &[S], sep: char, first_line_used: usize) -> String {
    let mut out = String::new();
    let mut line = first_line_used;
    for (i, item) in items.iter().enumerate() {
        let item = item.as_ref();
        if i > 0 {
            out.push(sep);
            line += 1;
            if line + item.len() > 72 {
                out.push_str("\r\n ");
                line = 1;
            }
        }
        out.push_str(item);
        line += item.len();
    }
    out
}

/// Folds base64 text into lines of at most 76 characters with CRLF SP (RFC 2822 line length;
/// FWS inside base64 tag values is allowed by RFC 6376 §2.4).
pub(super) fn fold_base64(text: &str, first_line_used: usize) -> String {
    let first = 76usize.saturating_sub(first_line_used).max(1);
    let mut out = String::new();
    let (head, mut rest) = text.split_at(first.min(text.len()));
    out.push_str(head);
    while !rest.is_empty() {
        let (chunk, r) = rest.split_at(75.min(rest.len()));
        out.push_str("\r\n ");
        out.push_str(chunk);
        rest = r;
    }
    out
}

/// Folds dkim-quoted-printable text at about 72 characters without splitting an `=XX`
/// (FWS may appear anywhere in it, RFC 6376 §2.11).
pub(super) fn fold_quoted_printable(text: &str, first_line_used: usize) -> String {
    let mut out = String::new();
    let mut line = first_line_used;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let mut unit = c.to_string();
        if c == '=' {
            unit.extend(chars.by_ref().take(2));
        }
        if line + unit.len() > 72 {
            out.push_str("\r\n ");
            line = 1;
        }
        line += unit.len();
        out.push_str(&unit);
    }
    out
}
