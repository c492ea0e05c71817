//! Unit tests of sealing and verification: TR profile, tampering, certificates, the DKIM
//! carrier form and diagnostics.

use super::seal::fold_base64;
use super::*;

const MESSAGE: &str = "From: Erika Mustermann <erika.mustermann@dmda-a.de-mail.de>\r\n\
    To: <gewerbe@dresden.de-mail.de>\r\n\
    Subject: Gewerbeanzeige\r\n\
    Date: Mon, 3 Mar 2025 09:00:00 +0100\r\n\
    Message-ID: <m000001@dmda-a.de-mail.de>\r\n\
    X-de-mail-sender: erika.mustermann@dmda-a.de-mail.de\r\n\
    X-de-mail-chosen-recipient: to=gewerbe@dresden.de-mail.de\r\n\
    X-de-mail-actual-recipient: to=gewerbe@dresden.de-mail.de\r\n\
    X-de-mail-authoritative: yes\r\n\
    X-de-mail-auth-level: high\r\n\
    X-de-mail-auth-mechanism: nPA\r\n\
    X-de-mail-originator-provider: dmda-a.de-mail.de\r\n\
    X-de-mail-message-type: normal\r\n\
    X-de-mail-message-id: m000001@dmda-a.de-mail.de\r\n\
    X-de-mail-version: 1.8\r\n\
    X-de-mail-private-id: GA-4711\r\n\
    X-de-mail-account-holder: Erika\r\n Mustermann\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    \r\n\
    Sehr geehrte Damen und Herren,\r\nanbei meine Gewerbeanzeige.\r\n\r\n";

fn message() -> RawMessage {
    RawMessage::parse(MESSAGE.as_bytes()).expect("test message parses")
}

fn ca() -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test-CA De-Mail");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert, rcgen::Issuer::new(params, key))
}

fn leaf_params(cn: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params
}

fn ecdsa_signer(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>) -> Signer {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = leaf_params("DMDA A Siegel")
        .signed_by(&key, issuer)
        .unwrap();
    Signer::ecdsa_p256_from_pkcs8_der(&key.serialize_der(), cert.der().to_vec()).unwrap()
}

fn rsa_signer(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>) -> Signer {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let cert = leaf_params("DMDA A RSA").signed_by(&key, issuer).unwrap();
    Signer::rsa_from_pkcs8_der(&key.serialize_der(), cert.der().to_vec()).unwrap()
}

fn reparse(m: &RawMessage) -> RawMessage {
    RawMessage::parse(&m.to_bytes()).unwrap()
}

fn set_first(m: &mut RawMessage, name: &str, raw_value: &str) {
    let f = m
        .fields
        .iter_mut()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .unwrap();
    f.raw_value = raw_value.to_string();
}

/// sha256-only round trip: a=sha256, no q=, no certificate, h= is the TR's list
/// (PVD-IO §3.1.21), the field sits after X-de-mail-message-type, lines ≤ 78.
#[test]
fn hash_only_round_trip() {
    for alg in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let mut m = message();
        seal(&mut m, alg, None).unwrap();
        let m = reparse(&m);
        assert_eq!(
            verify(&m),
            Verdict::Hashed {
                alg,
                carrier: Carrier::Integrity
            }
        );
        let integrity = m.first(h::INTEGRITY).unwrap();
        assert!(integrity.contains(&format!("a={alg};")), "{integrity}");
        assert!(!integrity.contains("q="), "{integrity}");
        assert!(integrity.contains("c=simple/simple"));
        assert_eq!(m.count(h::SIGNATURE_CERTIFICATE), 0);
        let after = m
            .fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(h::MESSAGE_TYPE))
            .unwrap();
        assert!(m.fields[after + 1].name.eq_ignore_ascii_case(h::INTEGRITY));
        let h_list = strip_ws(
            integrity
                .split("h=")
                .nth(1)
                .unwrap()
                .split(';')
                .next()
                .unwrap(),
        );
        assert_eq!(h_list, TR_SIGNED_HEADERS.join(":"));
        for line in String::from_utf8(m.to_bytes()).unwrap().split("\r\n") {
            assert!(line.len() <= 78, "line too long: {line}");
        }
    }
}

/// Without a private-id, h= leaves it out (PVD-IO §3.1.21 "falls vorhanden").
#[test]
fn private_id_only_listed_if_present() {
    let mut m = message();
    m.remove_all(h::PRIVATE_ID);
    seal(&mut m, HashAlg::Sha256, None).unwrap();
    let v = m.first(h::INTEGRITY).unwrap();
    assert!(!v.to_ascii_lowercase().contains("private-id"), "{v}");
    assert!(verify(&reparse(&m)).is_valid());
    // Adding one later is detected: it is present but not covered.
    let mut m = reparse(&m);
    m.fields.push(Field::new("X-de-mail-private-id", "forged"));
    let Verdict::Invalid(Failure::HeaderChanged { field, .. }) = verify(&m) else {
        panic!("expected a header failure");
    };
    assert_eq!(field.as_deref(), Some("X-de-mail-private-id"));
}

/// RSA and ECDSA seals verify with the certificate's key and name its CN; the certificate
/// is checked against the trusted CA; a foreign CA is reported.
#[test]
fn signed_round_trips() {
    let (ca_cert, issuer) = ca();
    let cas = vec![ca_cert.der().to_vec()];
    for (signer, sig, cn) in [
        (rsa_signer(&issuer), SigAlg::Rsa, "DMDA A RSA"),
        (ecdsa_signer(&issuer), SigAlg::EcDsa, "DMDA A Siegel"),
    ] {
        let mut m = message();
        seal(&mut m, HashAlg::Sha256, Some(&signer)).unwrap();
        let m = reparse(&m);
        let opts = VerifyOptions {
            trusted_cas: Some(&cas),
            at_unix: None,
        };
        let v = verify_with(&m, &opts);
        assert_eq!(
            v,
            Verdict::Signed {
                alg: HashAlg::Sha256,
                sig,
                signer: cn.to_string(),
                carrier: Carrier::Integrity,
                trusted: true,
            },
            "{v}"
        );
        assert!(v.to_string().contains(cn));
        assert!(
            v.to_string()
                .ends_with("certificate issued by a trusted CA"),
            "{v}"
        );
        let integrity = m.first(h::INTEGRITY).unwrap();
        assert!(integrity.contains(&format!("a=sha256/{sig};")));
        assert!(integrity.contains("q=x-header/x-de-mail-signature-certificate"));

        let (other_ca, _) = ca();
        let others = vec![other_ca.der().to_vec()];
        let v = verify_with(
            &m,
            &VerifyOptions {
                trusted_cas: Some(&others),
                at_unix: None,
            },
        );
        assert!(matches!(v, Verdict::Invalid(Failure::Untrusted(_))), "{v}");
        assert!(v.to_string().contains("not issued by a trusted CA"), "{v}");
    }
}

/// ECDSA with sha384/sha512 on P-256 (hash truncated, FIPS 186) also round-trips, and the
/// certificate's validity period is checked against the given time.
#[test]
fn ecdsa_other_hashes_and_validity() {
    let (_, issuer) = ca();
    let signer = ecdsa_signer(&issuer);
    for alg in [HashAlg::Sha384, HashAlg::Sha512] {
        let mut m = message();
        seal(&mut m, alg, Some(&signer)).unwrap();
        assert!(verify(&reparse(&m)).is_valid());
    }
    let mut m = message();
    seal(&mut m, HashAlg::Sha256, Some(&signer)).unwrap();
    // rcgen's default validity is 1975..4096; 1970 is before it.
    let v = verify_with(
        &m,
        &VerifyOptions {
            trusted_cas: None,
            at_unix: Some(0),
        },
    );
    assert!(
        matches!(v, Verdict::Invalid(Failure::CertificateNotValidAt(_))),
        "{v}"
    );
}

/// One changed body byte fails with the body-hash reason naming both values.
#[test]
fn changed_body_byte_fails_with_body_hash_reason() {
    let (_, issuer) = ca();
    for signer in [None, Some(ecdsa_signer(&issuer))] {
        let mut m = message();
        seal(&mut m, HashAlg::Sha256, signer.as_ref()).unwrap();
        let mut m = reparse(&m);
        m.body[3] ^= 0x01;
        let v = verify(&m);
        assert!(
            matches!(v, Verdict::Invalid(Failure::BodyHashMismatch { .. })),
            "{v}"
        );
        assert!(
            v.to_string()
                .starts_with("invalid: body hash mismatch: bh= says "),
            "{v}"
        );
    }
    // Trailing empty lines do not count (simple body canonicalization, RFC 6376 §3.4.3).
    let mut m = message();
    seal(&mut m, HashAlg::Sha256, None).unwrap();
    m.body.extend_from_slice(b"\r\n\r\n");
    assert!(verify(&m).is_valid());
}

/// A changed Subject fails with a header reason; with z= copies the field is named.
#[test]
fn changed_subject_fails_with_header_reason() {
    let mut m = message();
    seal(&mut m, HashAlg::Sha256, None).unwrap();
    set_first(&mut m, "Subject", " Gewerbeabmeldung");
    let v = verify(&m);
    assert!(
        matches!(
            v,
            Verdict::Invalid(Failure::HeaderChanged { field: None, .. })
        ),
        "{v}"
    );
    assert!(v.to_string().contains("header hash mismatch"), "{v}");

    let (_, issuer) = ca();
    for signer in [None, Some(ecdsa_signer(&issuer)), Some(rsa_signer(&issuer))] {
        let mut m = message();
        let opts = SealOptions {
            diagnostic_copies: true,
            ..SealOptions::default()
        };
        seal_with(&mut m, HashAlg::Sha256, signer.as_ref(), opts).unwrap();
        let mut m = reparse(&m);
        assert!(verify(&m).is_valid(), "{}", verify(&m));
        set_first(&mut m, "Subject", " Gewerbeabmeldung");
        let v = verify(&m);
        assert!(
            v.to_string()
                .contains("header Subject changed: sealed as \"Gewerbeanzeige\""),
            "{v}"
        );
    }

    // Signed without z=: the signature reason.
    let mut m = message();
    seal(&mut m, HashAlg::Sha256, Some(&ecdsa_signer(&issuer))).unwrap();
    set_first(&mut m, "Subject", " Gewerbeabmeldung");
    let v = verify(&m);
    assert!(
        matches!(v, Verdict::Invalid(Failure::SignatureInvalid(_))),
        "{v}"
    );
    assert!(
        v.to_string()
            .contains("signature does not verify with the key of the certificate"),
        "{v}"
    );
}

/// A second Subject below the first does not change the verdict; one above does
/// (first occurrence wins, PVD-IO §3.1.21).
#[test]
fn second_subject_below_is_ignored() {
    let (_, issuer) = ca();
    for signer in [None, Some(rsa_signer(&issuer))] {
        let mut m = message();
        seal(&mut m, HashAlg::Sha256, signer.as_ref()).unwrap();
        let before = verify(&m);
        assert!(before.is_valid());
        let mut below = m.clone();
        below.fields.push(Field::new("Subject", "Andere Sache"));
        assert_eq!(verify(&reparse(&below)), before);
        let mut above = m.clone();
        above.prepend(vec![Field::new("SUBJECT", "Andere Sache")]);
        assert!(!verify(&reparse(&above)).is_valid());
    }
}

/// The DKIM-Signature form is accepted on input, hashed and signed.
#[test]
fn dkim_signature_form_is_accepted() {
    let (_, issuer) = ca();
    for signer in [None, Some(ecdsa_signer(&issuer))] {
        let mut m = message();
        let opts = SealOptions {
            carrier: Carrier::DkimSignature,
            ..SealOptions::default()
        };
        seal_with(&mut m, HashAlg::Sha512, signer.as_ref(), opts).unwrap();
        let m = reparse(&m);
        assert_eq!(m.count(h::INTEGRITY), 0);
        assert_eq!(m.count("DKIM-Signature"), 1);
        let v = verify(&m);
        assert!(v.is_valid(), "{v}");
        assert!(matches!(
            v,
            Verdict::Hashed {
                carrier: Carrier::DkimSignature,
                ..
            } | Verdict::Signed {
                carrier: Carrier::DkimSignature,
                ..
            }
        ));
    }
    // An ordinary DKIM signature (a=rsa-sha256) is not taken for the TR's seal.
    let mut m = message();
    m.prepend(vec![Field::new(
        "DKIM-Signature",
        "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA",
    )]);
    assert_eq!(verify(&m), Verdict::Invalid(Failure::NoIntegrityHeader));
}

/// Missing header, garbage tags, unknown algorithms, bad certificates and key/certificate
/// mismatches give precise Invalid reasons or errors, never a panic.
#[test]
fn garbage_gives_invalid_not_panic() {
    let v = verify(&message());
    assert_eq!(v, Verdict::Invalid(Failure::NoIntegrityHeader));
    assert!(v.to_string().contains("no X-de-mail-integrity header"));

    let mut sealed = message();
    seal(&mut sealed, HashAlg::Sha256, None).unwrap();
    let garbage = [
        "",
        ";;;",
        "garbage",
        "=",
        "a=; b=; bh=; h=",
        "a=sha256; b=!!!; bh=x; h=From",
        "a=sha256; a=sha256; b=x",
        "a=md5; b=AAAA; bh=AAAA; h=From",
        "a=rsa-sha256; b=AAAA; bh=AAAA; h=From",
        "a=sha256/dsa; b=AAAA; bh=AAAA; h=From",
        "a=sha256/rsa; q=dns/txt; b=AAAA; bh=AAAA; h=From",
        "a=sha256/rsa; q=x-header/x-de-mail-signature-certificate; b=AAAA; bh=AAAA; h=From",
        "a=sha256; c=relaxed/relaxed; b=AAAA; bh=AAAA; h=From",
        "a=sha256; b=AAAA; bh=AAAA; h=Subject:From",
        "a=sha256; b=AAAA; bh=AAAA; h=From:X-Evil",
        "a=sha256; b=AAAA; bh=AAAA; h=Date",
        "a=sha256; b=AAAA; h=From",
        "v=1; a=sha256; z==ZZ|:; b=AAAA; bh=AAAA; h=From; l=5",
        "\u{00e4}=\u{00fc}; b=\u{00df}",
    ];
    for g in garbage {
        let mut m = sealed.clone();
        set_first(&mut m, h::INTEGRITY, g);
        let v = verify(&m);
        assert!(!v.is_valid(), "{g:?} gave {v}");
    }
    let mut m = message();
    m.prepend(vec![Field::new(
        "X-de-mail-integrity",
        "a=md5; b=AAAA; bh=AAAA; h=From",
    )]);
    assert!(verify(&m).to_string().contains("unknown algorithm a=md5"));

    // Signed seal with a broken or missing certificate.
    let (_, issuer) = ca();
    let mut signed = message();
    seal(&mut signed, HashAlg::Sha256, Some(&rsa_signer(&issuer))).unwrap();
    for cert in ["", " !!!", " AAAA", " LS0tLS1CRUdJTg=="] {
        let mut m = signed.clone();
        set_first(&mut m, h::SIGNATURE_CERTIFICATE, cert);
        let v = verify(&m);
        assert!(
            matches!(v, Verdict::Invalid(Failure::BadCertificate(_))),
            "{cert:?} {v}"
        );
    }
    let mut m = signed.clone();
    m.remove_all(h::SIGNATURE_CERTIFICATE);
    assert_eq!(verify(&m), Verdict::Invalid(Failure::NoCertificate));
    // Another valid certificate: the signature does not verify with its key.
    let other = ecdsa_signer(&issuer);
    let mut m = signed.clone();
    set_first(
        &mut m,
        h::SIGNATURE_CERTIFICATE,
        &format!(" {}", B64.encode(other.cert_der())),
    );
    assert!(!verify(&m).is_valid());

    // Seal errors: key and certificate that do not belong together; no From.
    let Signer::Rsa { key, .. } = rsa_signer(&issuer) else {
        unreachable!()
    };
    let wrong = Signer::Rsa {
        key,
        cert_der: other.cert_der().to_vec(),
    };
    assert_eq!(
        seal(&mut message(), HashAlg::Sha256, Some(&wrong)),
        Err(IntegrityError::KeyCertificateMismatch)
    );
    let mut no_from = message();
    no_from.remove_all("From");
    assert_eq!(
        seal(&mut no_from, HashAlg::Sha256, None),
        Err(IntegrityError::MissingField("From"))
    );
    assert!(Signer::rsa_from_pkcs8_der(b"junk", vec![]).is_err());
}

/// Sealing twice replaces the old seal (PVD-IO §3.1.8: a new hash per copy) and is
/// deterministic for the hash-only and RSA forms. ECDSA (aws-lc) uses a random nonce: the
/// second seal differs only in `b=`, and both verify.
#[test]
fn reseal_replaces_and_is_deterministic() {
    let (_, issuer) = ca();
    for signer in [None, Some(rsa_signer(&issuer))] {
        let mut a = message();
        seal(&mut a, HashAlg::Sha256, signer.as_ref()).unwrap();
        let mut b = a.clone();
        seal(&mut b, HashAlg::Sha256, signer.as_ref()).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.count(h::INTEGRITY), 1);
    }
    let signer = ecdsa_signer(&issuer);
    let mut a = message();
    seal(&mut a, HashAlg::Sha256, Some(&signer)).unwrap();
    let mut b = a.clone();
    seal(&mut b, HashAlg::Sha256, Some(&signer)).unwrap();
    assert_eq!(b.count(h::INTEGRITY), 1);
    assert!(verify(&reparse(&a)).is_valid());
    assert!(verify(&reparse(&b)).is_valid());
    let without_b = |m: &RawMessage| {
        let mut tags = Tags::parse(&seal_field(m).unwrap().raw_value).unwrap().0;
        tags.retain(|(name, _)| name != "b");
        tags
    };
    assert_eq!(without_b(&a), without_b(&b));
    let mut a_rest = a.clone();
    let mut b_rest = b.clone();
    a_rest.remove_all(h::INTEGRITY);
    b_rest.remove_all(h::INTEGRITY);
    assert_eq!(a_rest, b_rest);
}

/// RSASSA-PSS (a=<hash>/rsassa-pss) is verified too (PVD-IO §3.1.21: the DMDA must be able
/// to check all listed algorithms). The seal is made by hand since `seal` does not sign PSS.
#[test]
fn rsassa_pss_is_verified() {
    let (_, issuer) = ca();
    let signer = rsa_signer(&issuer);
    let Signer::Rsa { key, .. } = &signer else {
        unreachable!()
    };
    let mut m = message();
    seal(&mut m, HashAlg::Sha256, Some(&signer)).unwrap();
    let i = m
        .fields
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(h::INTEGRITY))
        .unwrap();
    let unsigned =
        strip_b_value(&m.fields[i].raw_value).replace("a=sha256/rsa;", "a=sha256/rsassa-pss;");
    m.fields[i].raw_value = unsigned.clone();
    let carrier = m.fields[i].clone();
    let names: Vec<&str> = TR_SIGNED_HEADERS.to_vec();
    let hash = HashAlg::Sha256.digest(&header_hash_input(&m, &names, &carrier));
    let sig = key.pss_sign_prehash::<sha2::Sha256>(&hash).unwrap();
    m.fields[i].raw_value = format!("{unsigned}{}", fold_base64(&B64.encode(sig), 3));
    let v = verify(&reparse(&m));
    assert!(
        matches!(
            v,
            Verdict::Signed {
                sig: SigAlg::RsassaPss,
                ..
            }
        ),
        "{v}"
    );
    // The same signature claimed as PKCS#1 v1.5 fails.
    let mut wrong = m.clone();
    wrong.fields[i].raw_value = wrong.fields[i].raw_value.replace("rsassa-pss", "rsa");
    assert!(!verify(&wrong).is_valid());
}

/// Flipping bytes anywhere in a signed, sealed message never panics; every flip in the
/// body gives Invalid.
#[test]
fn byte_flips_never_panic() {
    let (_, issuer) = ca();
    let mut m = message();
    let opts = SealOptions {
        diagnostic_copies: true,
        ..SealOptions::default()
    };
    seal_with(&mut m, HashAlg::Sha256, Some(&ecdsa_signer(&issuer)), opts).unwrap();
    let bytes = m.to_bytes();
    let body_start = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    for pos in (0..bytes.len()).step_by(5).chain(body_start..bytes.len()) {
        for flip in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[pos] ^= flip;
            if let Ok(parsed) = RawMessage::parse(&b) {
                let v = verify(&parsed);
                let _ = v.to_string();
                assert!(pos < body_start || !v.is_valid(), "flip at {pos}: {v}");
            }
        }
    }
}

/// The memo of certificates that hold their signer's key remembers pairs, not certificates:
/// after a good ECDSA seal, the same certificate with another key, and the same key with
/// another certificate, are still refused.
#[test]
fn ecdsa_key_certificate_mismatch_is_refused_after_a_good_seal() {
    let (_, issuer) = ca();
    let a = ecdsa_signer(&issuer);
    let b = ecdsa_signer(&issuer);
    seal(&mut message(), HashAlg::Sha256, Some(&a)).unwrap();
    seal(&mut message(), HashAlg::Sha256, Some(&b)).unwrap();
    let (Signer::EcdsaP256 { key: key_a, .. }, Signer::EcdsaP256 { key: key_b, .. }) =
        (a.clone(), b.clone())
    else {
        unreachable!()
    };
    for wrong in [
        Signer::EcdsaP256 {
            key: key_a,
            cert_der: b.cert_der().to_vec(),
        },
        Signer::EcdsaP256 {
            key: key_b,
            cert_der: a.cert_der().to_vec(),
        },
    ] {
        assert_eq!(
            seal(&mut message(), HashAlg::Sha256, Some(&wrong)),
            Err(IntegrityError::KeyCertificateMismatch)
        );
    }
    seal(&mut message(), HashAlg::Sha256, Some(&a)).unwrap();
}
