//! The signing certificate (PVD-IO §3.1.14): decoding its Base64 text, its public key, the
//! signature check with RSA, RSASSA-PSS or ECDSA, and the deliberately simple validity and
//! trust checks described in the parent module.

use super::*;

/// Base64 DER certificate text of X-de-mail-signature-certificate (PVD-IO §3.1.14); folding
/// whitespace is removed and PEM armour tolerated.
pub(super) fn decode_certificate_text(raw: &str) -> Result<Vec<u8>, String> {
    let mut text = raw.to_string();
    if let Some(start) = text.find("-----BEGIN") {
        let after = text.get(start + 10..).unwrap_or_default();
        let body_start = after.find("-----").map_or(after.len(), |i| i + 5);
        let body = after.get(body_start..).unwrap_or_default();
        let body_end = body.find("-----END").unwrap_or(body.len());
        text = body.get(..body_end).unwrap_or_default().to_string();
    }
    let clean = strip_ws(&text);
    if clean.is_empty() {
        return Err("the field is empty".into());
    }
    B64.decode(clean).map_err(|e| format!("not base64: {e}"))
}

pub(super) enum PublicKey {
    Rsa(rsa::PublicKey),
    /// Uncompressed SEC1 point of a P-256 key, checked to lie on the curve.
    P256(Vec<u8>),
}

/// OID of the named curve P-256 (prime256v1, RFC 5480).
pub(super) const OID_P256: &str = "1.2.840.10045.3.1.7";

/// A hash as the 32-byte digest P-256 ECDSA signs: a longer hash is cut to its leftmost 256
/// bits, which is what ECDSA does with it anyway (SEC 1 §4.1.3 step 5, FIPS 186-5 §6.4.1), so
/// `a=sha384/ec-dsa` and `a=sha512/ec-dsa` keep their meaning.
pub(super) fn p256_digest(hash: &[u8]) -> Result<aws_lc_rs::digest::Digest, String> {
    let cut = hash
        .get(..32)
        .ok_or_else(|| format!("a {}-byte hash is too short for ECDSA P-256", hash.len()))?;
    aws_lc_rs::digest::Digest::import_less_safe(cut, &aws_lc_rs::digest::SHA256)
        .map_err(|_| "cannot take the hash as a digest".to_string())
}

pub(super) fn public_key_of(cert: &Certificate) -> Result<PublicKey, String> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let der = spki
        .to_der()
        .map_err(|e| format!("cannot encode the public key: {e}"))?;
    match spki.algorithm.oid.to_string().as_str() {
        OID_RSA_ENCRYPTION => rsa::PublicKey::from_public_key_der(&der)
            .map(PublicKey::Rsa)
            .map_err(|e| format!("bad RSA public key: {e}")),
        OID_EC_PUBLIC_KEY => p256_point(spki)
            .map(PublicKey::P256)
            .map_err(|e| format!("EC key is not a valid P-256 key (only P-256 is supported): {e}")),
        other => Err(format!(
            "public key algorithm {other} is neither RSA nor EC (PVD-IO §3.1.21)"
        )),
    }
}

/// The public point of a P-256 key in a certificate; the curve must be P-256 and the point
/// must lie on it.
pub(super) fn p256_point(
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
) -> Result<Vec<u8>, String> {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .ok_or("the EC key names no curve")?
        .decode_as::<x509_cert::der::asn1::ObjectIdentifier>()
        .map_err(|e| format!("the EC key's curve is not a named curve: {e}"))?;
    if curve.to_string() != OID_P256 {
        return Err(format!("curve {curve} is not P-256"));
    }
    let point = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the public key is not a whole number of bytes")?;
    lc_sig::ParsedPublicKey::new(&lc_sig::ECDSA_P256_SHA256_ASN1, point)
        .map_err(|e| format!("not a point on the curve: {e}"))?;
    Ok(point.to_vec())
}

pub(super) fn pkcs1v15(alg: HashAlg) -> Pkcs1v15Sign {
    match alg {
        HashAlg::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
        HashAlg::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
        HashAlg::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
    }
}

pub(super) fn verify_signature(
    key: &PublicKey,
    sig_alg: SigAlg,
    hash_alg: HashAlg,
    hash: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    match (key, sig_alg) {
        (PublicKey::Rsa(k), SigAlg::Rsa) => k
            .verify(pkcs1v15(hash_alg), hash, sig)
            .map_err(|_| "RSASSA-PKCS1-v1_5 check failed".to_string()),
        (PublicKey::Rsa(k), SigAlg::RsassaPss) => match hash_alg {
            HashAlg::Sha256 => k.pss_verify_prehash::<sha2::Sha256>(hash, sig),
            HashAlg::Sha384 => k.pss_verify_prehash::<sha2::Sha384>(hash, sig),
            HashAlg::Sha512 => k.pss_verify_prehash::<sha2::Sha512>(hash, sig),
        }
        .map_err(|_| "RSASSA-PSS check failed".to_string()),
        (PublicKey::P256(k), SigAlg::EcDsa) => {
            // DER Ecdsa-Sig-Value (a SEQUENCE), or raw 64-byte r||s.
            let form = if sig.first() == Some(&0x30) {
                &lc_sig::ECDSA_P256_SHA256_ASN1
            } else if sig.len() == 64 {
                &lc_sig::ECDSA_P256_SHA256_FIXED
            } else {
                return Err("b= is neither a DER nor a raw r||s ECDSA signature".to_string());
            };
            let digest = p256_digest(hash)?;
            lc_sig::UnparsedPublicKey::new(form, k)
                .verify_digest(&digest, sig)
                .map_err(|_| "ECDSA check failed".to_string())
        }
        (PublicKey::Rsa(_), SigAlg::EcDsa) => {
            Err("a= says ec-dsa but the certificate holds an RSA key".into())
        }
        (PublicKey::P256(_), _) => Err(format!(
            "a= says {sig_alg} but the certificate holds an EC key"
        )),
    }
}

pub(super) fn subject_name(cert: &Certificate) -> String {
    let subject = cert.tbs_certificate().subject();
    match subject.common_name() {
        Ok(Some(cn)) => String::from(cn),
        _ => subject.to_string(),
    }
}

pub(super) fn check_validity(cert: &Certificate, at: i64) -> Result<(), Failure> {
    let v = cert.tbs_certificate().validity();
    let secs = |t: x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs());
    let (Ok(from), Ok(to)) = (secs(v.not_before), secs(v.not_after)) else {
        return Err(Failure::CertificateNotValidAt(
            "validity dates out of range".into(),
        ));
    };
    if at < from {
        return Err(Failure::CertificateNotValidAt(format!(
            "not yet valid (notBefore {}, checked at unix time {at})",
            v.not_before
        )));
    }
    if at > to {
        return Err(Failure::CertificateNotValidAt(format!(
            "expired (notAfter {}, checked at unix time {at})",
            v.not_after
        )));
    }
    Ok(())
}

/// One-step trust check: the certificate is a trusted one, or a trusted CA's subject is its
/// issuer and the CA key verifies its signature.
pub(super) fn check_trust(
    cert: &Certificate,
    cert_der: &[u8],
    cas: &[Vec<u8>],
) -> Result<(), Failure> {
    // Whether a CA's key verifies the certificate depends on the two DER strings only:
    // remembered per (certificate, CA) pair that passed.
    static ISSUED_BY: known_good::KnownGood = known_good::KnownGood::new();
    if cas.iter().any(|c| c.as_slice() == cert_der) {
        return Ok(());
    }
    if ISSUED_BY.find(cert_der, |ca| cas.iter().any(|c| c.as_slice() == ca)) {
        return Ok(());
    }
    let issuer = cert.tbs_certificate().issuer();
    let mut tried = Vec::new();
    for ca_der in cas {
        let Ok(ca) = Certificate::from_der(ca_der) else {
            continue;
        };
        if ca.tbs_certificate().subject() != issuer {
            continue;
        }
        match issuer_signature_ok(cert, &ca) {
            Ok(()) => {
                ISSUED_BY.remember(cert_der, ca_der);
                return Ok(());
            }
            Err(e) => tried.push(e),
        }
    }
    let detail = if tried.is_empty() {
        format!("issuer {issuer} is none of the {} trusted CAs", cas.len())
    } else {
        format!("issuer {issuer}: {}", tried.join("; "))
    };
    Err(Failure::Untrusted(detail))
}

pub(super) fn issuer_signature_ok(cert: &Certificate, ca: &Certificate) -> Result<(), String> {
    let tbs = cert
        .tbs_certificate()
        .to_der()
        .map_err(|e| format!("cannot encode the certificate: {e}"))?;
    let sig = cert.signature().raw_bytes();
    let oid = cert.signature_algorithm().oid.to_string();
    let (alg, sig_alg) = match oid.as_str() {
        OID_SHA256_RSA => (HashAlg::Sha256, SigAlg::Rsa),
        OID_SHA384_RSA => (HashAlg::Sha384, SigAlg::Rsa),
        OID_SHA512_RSA => (HashAlg::Sha512, SigAlg::Rsa),
        OID_ECDSA_SHA256 => (HashAlg::Sha256, SigAlg::EcDsa),
        OID_ECDSA_SHA384 => (HashAlg::Sha384, SigAlg::EcDsa),
        OID_ECDSA_SHA512 => (HashAlg::Sha512, SigAlg::EcDsa),
        other => {
            return Err(format!(
                "certificate signature algorithm {other} not supported"
            ));
        }
    };
    let key = public_key_of(ca).map_err(|e| format!("CA key: {e}"))?;
    verify_signature(&key, sig_alg, alg, &alg.digest(&tbs), sig)
        .map_err(|e| format!("the CA's key does not verify the certificate ({e})"))
}
