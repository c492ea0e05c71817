//! The certificate's signature: a compact JWS (RFC 7515) with ES256 (ECDSA P-256, SHA-256,
//! fixed-size r‖s, RFC 7518 §3.4), made and checked with aws-lc-rs; keys as PEM (PKCS#8
//! private key, SubjectPublicKeyInfo public key).
//!
//! The protected header carries the public key as a JWK (`jwk`) and its SHA-256 fingerprint
//! (`kid`), so that a certificate can be checked for integrity alone; who signed it is only
//! proven against a public key obtained another way (`verify-cert --key`).

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The DER prefix of a P-256 SubjectPublicKeyInfo before the 65-byte uncompressed point
/// (RFC 5480: id-ecPublicKey, prime256v1).
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A signing key with its PKCS#8 document.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl SigningKey {
    /// A fresh P-256 key.
    pub fn generate() -> Result<Self> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow!("cannot generate a P-256 key"))?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// The key of a PKCS#8 PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        Self::from_pkcs8(&der)
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| anyhow!("not a PKCS#8 P-256 private key: {e}"))?;
        Ok(Self {
            pair,
            pkcs8: der.to_vec(),
        })
    }

    /// The private key as PKCS#8 PEM.
    pub fn private_pem(&self) -> String {
        pem_encode(&self.pkcs8, "PRIVATE KEY")
    }

    /// The uncompressed public point (65 bytes).
    pub fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The public key as SubjectPublicKeyInfo PEM.
    pub fn public_pem(&self) -> String {
        public_pem(self.public_point())
    }

    /// The compact JWS over `payload`.
    pub fn sign_compact(&self, payload: &[u8]) -> Result<String> {
        let header = serde_json::json!({
            "alg": "ES256",
            "typ": "demail-testbed-certificate+jws",
            "kid": fingerprint(self.public_point()),
            "jwk": jwk(self.public_point())?,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| anyhow!("signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }
}

/// SHA-256 of the public point, hex: the key's name in the certificate.
pub fn fingerprint(point: &[u8]) -> String {
    super::catalogue::sha256_hex(point)
}

/// The JWK (RFC 7518 §6.2) of an uncompressed P-256 point.
fn jwk(point: &[u8]) -> Result<serde_json::Value> {
    if point.len() != 65 || point[0] != 4 {
        bail!("not an uncompressed P-256 point");
    }
    Ok(serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }))
}

/// The public point of a SubjectPublicKeyInfo PEM text.
pub fn public_point_from_pem(pem: &str) -> Result<Vec<u8>> {
    let der = pem_decode(pem, "PUBLIC KEY")?;
    match der.strip_prefix(&SPKI_P256_PREFIX[..]) {
        Some(point) if point.len() == 65 => Ok(point.to_vec()),
        _ => bail!("not a P-256 public key (SubjectPublicKeyInfo)"),
    }
}

/// A public point as SubjectPublicKeyInfo PEM.
pub fn public_pem(point: &[u8]) -> String {
    let mut der = SPKI_P256_PREFIX.to_vec();
    der.extend_from_slice(point);
    pem_encode(&der, "PUBLIC KEY")
}

/// A checked compact JWS: its payload and the public point that verified it.
pub struct Verified {
    pub payload: Vec<u8>,
    pub point: Vec<u8>,
}

/// Checks a compact JWS: ES256, the signature against `key` (a public point) or, without one,
/// against the header's own `jwk`. `Err` says what is wrong.
pub fn verify_compact(jws: &str, key: Option<&[u8]>) -> Result<Verified> {
    let parts: Vec<&str> = jws.trim().split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        bail!("not a compact JWS (three base64url parts separated by dots)");
    };
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(h)
            .context("the JWS header is not base64url")?,
    )
    .context("the JWS header is not JSON")?;
    if header["alg"] != "ES256" {
        bail!("alg {} is not ES256", header["alg"]);
    }
    let point = match key {
        Some(k) => k.to_vec(),
        None => point_of_jwk(&header["jwk"])?,
    };
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .context("the JWS payload is not base64url")?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .context("the JWS signature is not base64url")?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| {
            anyhow!(
                "the signature does not verify with key {}",
                fingerprint(&point)
            )
        })?;
    Ok(Verified { payload, point })
}

/// The uncompressed point of a P-256 JWK.
fn point_of_jwk(jwk: &serde_json::Value) -> Result<Vec<u8>> {
    let coord = |name: &str| -> Result<Vec<u8>> {
        let v = jwk[name]
            .as_str()
            .with_context(|| format!("the JWS header has no jwk.{name}"))?;
        let b = URL_SAFE_NO_PAD
            .decode(v)
            .with_context(|| format!("jwk.{name} is not base64url"))?;
        if b.len() != 32 {
            bail!("jwk.{name} is not 32 bytes");
        }
        Ok(b)
    };
    if jwk["crv"] != "P-256" {
        bail!("the JWS header's jwk is not a P-256 key");
    }
    let mut point = vec![4u8];
    point.extend(coord("x")?);
    point.extend(coord("y")?);
    Ok(point)
}

fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(pem: &str, label: &str) -> Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .with_context(|| format!("no {begin} line"))?;
    let rest = &pem[start + begin.len()..];
    let stop = rest.find(&end).with_context(|| format!("no {end} line"))?;
    let b64: String = rest[..stop].split_whitespace().collect();
    STANDARD.decode(b64).context("the PEM body is not base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip_and_a_changed_byte_fails() {
        let k = SigningKey::generate().unwrap();
        let jws = k.sign_compact(b"{\"a\":1}").unwrap();
        let v = verify_compact(&jws, None).unwrap();
        assert_eq!(v.payload, b"{\"a\":1}");
        let pub_point = public_point_from_pem(&k.public_pem()).unwrap();
        assert!(verify_compact(&jws, Some(&pub_point)).is_ok());
        let again = SigningKey::from_pem(&k.private_pem()).unwrap();
        assert_eq!(again.public_point(), k.public_point());
        let other = SigningKey::generate().unwrap();
        assert!(verify_compact(&jws, Some(other.public_point())).is_err());
        let mut bad = jws.clone().into_bytes();
        let i = jws.find('.').unwrap() + 3;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        assert!(verify_compact(&String::from_utf8(bad).unwrap(), None).is_err());
    }
}
