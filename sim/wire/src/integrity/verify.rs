//! Checking a seal: [`verify`] and [`verify_with`] find the carrier field, check the `h=` list
//! against the TR's, recompute body and header hashes, verify the signature with the
//! certificate of `X-de-mail-signature-certificate`, and name what changed (PVD-IO §3.1.21).

use super::*;

/// Checks a message's seal (PVD-IO §3.1.21) without CA or time checks.
pub fn verify(msg: &RawMessage) -> Verdict {
    verify_with(msg, &VerifyOptions::default())
}

/// Checks a message's seal (PVD-IO §3.1.21).
pub fn verify_with(msg: &RawMessage, opts: &VerifyOptions<'_>) -> Verdict {
    match check(msg, opts) {
        Ok(v) => v,
        Err(f) => Verdict::Invalid(f),
    }
}

pub(super) fn check(msg: &RawMessage, opts: &VerifyOptions<'_>) -> Result<Verdict, Failure> {
    let (carrier_kind, carrier, tags) = find_carrier(msg)?;

    // a= (PVD-IO §3.1.21)
    let a = tags
        .get("a")
        .ok_or_else(|| Failure::Malformed("no a= tag".into()))?;
    let (hash_alg, sig_alg) = parse_a(a)?;

    // c= must be simple/simple; absent means simple/simple (RFC 6376 §3.5).
    // "c=simple" is the same (the body part defaults to simple).
    if let Some(c) = tags.get("c")
        && c != "simple/simple"
        && c != "simple"
    {
        return Err(Failure::Profile(format!(
            "c={c}, the TR requires c=simple/simple (PVD-IO §3.1.21)"
        )));
    }
    // q= when signed (PVD-IO §3.1.21).
    if sig_alg.is_some() {
        match tags.get("q") {
            Some(q) if q.eq_ignore_ascii_case(Q_CERTIFICATE) => {}
            Some(q) => {
                return Err(Failure::Profile(format!(
                    "q={q}, a signed seal must say q={Q_CERTIFICATE}; the key is never \
                     fetched from DNS (PVD-IO §3.1.21)"
                )));
            }
            None => {
                return Err(Failure::Profile(format!(
                    "no q= tag, a signed seal must say q={Q_CERTIFICATE} (PVD-IO §3.1.21)"
                )));
            }
        }
    }
    // l= is ignored (PVD-IO §3.1.21): the whole body is always hashed.

    let h_tag = tags
        .get("h")
        .ok_or_else(|| Failure::Malformed("no h= tag".into()))?;
    let names: Vec<String> = strip_ws(h_tag)
        .split(':')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    check_h_list(msg, &names)?;

    // Body first, as RFC 6376 §6.1.3 does.
    let stated_bh = strip_ws(
        tags.get("bh")
            .ok_or_else(|| Failure::Malformed("no bh= tag".into()))?,
    );
    let computed_bh = B64.encode(hash_alg.digest(&canonical_body(&msg.body)));
    if stated_bh != computed_bh {
        return Err(Failure::BodyHashMismatch {
            stated: stated_bh,
            computed: computed_bh,
        });
    }

    let b = B64
        .decode(strip_ws(
            tags.get("b")
                .ok_or_else(|| Failure::Malformed("no b= tag".into()))?,
        ))
        .map_err(|e| Failure::Malformed(format!("b= is not base64: {e}")))?;
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let header_hash = hash_alg.digest(&header_hash_input(msg, &name_refs, carrier));

    let Some(sig_alg) = sig_alg else {
        // Hashed only: b= is the header hash (PVD-IO §3.1.21).
        if b != header_hash {
            return Err(header_change(msg, &tags, &name_refs));
        }
        return Ok(Verdict::Hashed {
            alg: hash_alg,
            carrier: carrier_kind,
        });
    };

    let cert_field = first_field(msg, h::SIGNATURE_CERTIFICATE).ok_or(Failure::NoCertificate)?;
    let cert_der =
        decode_certificate_text(&cert_field.raw_value).map_err(Failure::BadCertificate)?;
    let cert = Certificate::from_der(&cert_der)
        .map_err(|e| Failure::BadCertificate(format!("not a DER X.509 certificate: {e}")))?;
    let key = public_key_of(&cert).map_err(Failure::BadCertificate)?;
    if let Err(e) = verify_signature(&key, sig_alg, hash_alg, &header_hash, &b) {
        // A changed header also breaks the signature; name it if z= allows.
        if let Failure::HeaderChanged { field: Some(_), .. } = header_change(msg, &tags, &name_refs)
        {
            return Err(header_change(msg, &tags, &name_refs));
        }
        return Err(Failure::SignatureInvalid(format!(
            "{e}; either a field listed in h= or the {} field was changed after signing, or the \
             certificate is not the one that signed",
            carrier.name
        )));
    }
    if let Some(at) = opts.at_unix {
        check_validity(&cert, at)?;
    }
    if let Some(cas) = opts.trusted_cas {
        check_trust(&cert, &cert_der, cas)?;
    }
    Ok(Verdict::Signed {
        alg: hash_alg,
        sig: sig_alg,
        signer: subject_name(&cert),
        carrier: carrier_kind,
        trusted: opts.trusted_cas.is_some(),
    })
}

/// The seal field of `msg` as a confirmation quotes it (PVD-IO §3.5.1 "vollständiger Inhalt
/// des Header-Feld x-de-mail-integrity"): the first X-de-mail-integrity whatever it holds,
/// else the TR-style DKIM-Signature that [`verify`] would use.
pub fn seal_field(msg: &RawMessage) -> Option<&Field> {
    first_field(msg, h::INTEGRITY).or_else(|| find_carrier(msg).ok().map(|(_, f, _)| f))
}

/// Picks the field with the tag list: the first X-de-mail-integrity holding one, else the first
/// DKIM-Signature with a TR-style `a=` (see the module doc).
pub(super) fn find_carrier(msg: &RawMessage) -> Result<(Carrier, &Field, Tags), Failure> {
    let integrity = first_field(msg, h::INTEGRITY);
    let integrity_err = match integrity.map(|f| (f, Tags::parse(&f.raw_value))) {
        Some((f, Ok(tags))) if tags.get("b").is_some() => {
            return Ok((Carrier::Integrity, f, tags));
        }
        Some((_, Ok(_))) => Some(Failure::Malformed("no b= tag".into())),
        Some((_, Err(e))) => Some(Failure::Malformed(e)),
        None => None,
    };
    for f in msg
        .fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(DKIM_SIGNATURE))
    {
        if let Ok(tags) = Tags::parse(&f.raw_value) {
            // TR style: the part before '/' is a bare hash name; "rsa-sha256" is plain DKIM.
            let tr_style = tags
                .get("a")
                .and_then(|a| a.split('/').next())
                .and_then(HashAlg::parse)
                .is_some();
            if tr_style {
                return Ok((Carrier::DkimSignature, f, tags));
            }
        }
    }
    Err(integrity_err.unwrap_or(Failure::NoIntegrityHeader))
}

pub(super) fn parse_a(a: &str) -> Result<(HashAlg, Option<SigAlg>), Failure> {
    let allowed = "allowed: sha256|sha384|sha512, optionally /rsa, /ec-dsa or /rsassa-pss \
                   (PVD-IO §3.1.21)";
    let (hash, sig) = match a.split_once('/') {
        Some((h, s)) => (h, Some(s)),
        None => (a, None),
    };
    let hash_alg = HashAlg::parse(hash).ok_or_else(|| {
        let hint = if a.contains('-') && !a.contains('/') {
            " (that is standard DKIM notation; the TR writes <hash>/<sig>)"
        } else {
            ""
        };
        Failure::UnknownAlgorithm(format!("a={a}{hint}; {allowed}"))
    })?;
    let sig_alg = match sig {
        None => None,
        Some(s) => Some(
            SigAlg::parse(s)
                .ok_or_else(|| Failure::UnknownAlgorithm(format!("a={a}; {allowed}")))?,
        ),
    };
    Ok((hash_alg, sig_alg))
}

/// h= must follow the TR's list and order; names of absent fields may be left out, but every
/// listed field the message contains must be covered (PVD-IO §3.1.21).
pub(super) fn check_h_list(msg: &RawMessage, names: &[String]) -> Result<(), Failure> {
    let mut pos = 0usize;
    for n in names {
        let Some(i) = TR_SIGNED_HEADERS
            .iter()
            .position(|t| t.eq_ignore_ascii_case(n))
        else {
            return Err(Failure::Profile(format!(
                "h= lists {n}, which is not in the TR's list (PVD-IO §3.1.21)"
            )));
        };
        if i < pos {
            return Err(Failure::Profile(format!(
                "h= lists {n} out of the TR's order or twice (PVD-IO §3.1.21)"
            )));
        }
        pos = i + 1;
    }
    for t in TR_SIGNED_HEADERS {
        if msg.count(t) > 0 && !names.iter().any(|n| n.eq_ignore_ascii_case(t)) {
            return Err(Failure::HeaderChanged {
                field: Some(t.to_string()),
                detail: format!(
                    "the message has a {t} field but h= does not cover it (added after sealing?)"
                ),
            });
        }
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case("From")) {
        return Err(Failure::Profile(
            "h= does not list From (RFC 6376 §5.4, PVD-IO §3.1.21)".into(),
        ));
    }
    Ok(())
}

/// Names the changed field from the `z=` copies if there are any.
pub(super) fn header_change(msg: &RawMessage, tags: &Tags, names: &[&str]) -> Failure {
    let generic = || Failure::HeaderChanged {
        field: None,
        detail: format!(
            "one of the fields in h= ({}) or the seal field itself was changed, re-folded or \
             added above the original after sealing; the seal has no z= copies to tell which",
            names.join(", ")
        ),
    };
    let Some(z) = tags.get("z") else {
        return generic();
    };
    let copies: Vec<(String, String)> = strip_ws(z)
        .split('|')
        .filter_map(|c| {
            let text = dkim_quoted_printable_decode(c)?;
            let (n, v) = text.split_once(':')?;
            Some((n.to_string(), v.to_string()))
        })
        .collect();
    for n in names {
        let sealed = copies.iter().find(|(cn, _)| cn.eq_ignore_ascii_case(n));
        let now = first_field(msg, n);
        match (sealed, now) {
            (Some((_, v)), Some(f)) if *v != f.raw_value => {
                return Failure::HeaderChanged {
                    field: Some((*n).to_string()),
                    detail: format!("sealed as {:?}, now {:?}", v.trim(), f.raw_value.trim()),
                };
            }
            (Some(_), None) => {
                return Failure::HeaderChanged {
                    field: Some((*n).to_string()),
                    detail: "the field was removed after sealing".into(),
                };
            }
            (None, Some(_)) => {
                return Failure::HeaderChanged {
                    field: Some((*n).to_string()),
                    detail: "the field was added after sealing".into(),
                };
            }
            _ => {}
        }
    }
    Failure::HeaderChanged {
        field: None,
        detail: "the hashed fields equal their z= copies, so the seal field itself was changed"
            .into(),
    }
}
