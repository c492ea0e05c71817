//! `X-de-mail-integrity`: the provider's hash or signature over a De-Mail's metadata and body
//! (PVD-IO §3.1.13, §3.1.14, §3.1.21).
//!
//! The TR builds on DKIM (RFC 6376) with these deviations, all encoded here:
//! - `c=simple/simple` only; `l=` is never written and ignored when read (PVD-IO §3.1.21).
//! - `a=` is `<hash>` (hashed only) or `<hash>/<sig>` (signed), hash ∈ sha256|sha384|sha512,
//!   sig ∈ rsa (RSASSA-PKCS1-v1_5) | ec-dsa | rsassa-pss (PVD-IO §3.1.21). This module signs
//!   with rsa and ec-dsa (P-256) and verifies all three (rsassa-pss with salt length = hash
//!   length, RFC 4056).
//! - `h=` is the TR's fixed list in its order (`TR_SIGNED_HEADERS`); X-de-mail-private-id only
//!   if present (PVD-IO §3.1.21). All other names are always listed, also when the field is
//!   absent (Reply-To, the option fields whose absence means "no"): RFC 6376 §5.4 hashes an
//!   absent field as the null string, so adding such a field later breaks the seal.
//! - When a name occurs several times, the FIRST field from the top is hashed and the others are
//!   ignored (PVD-IO §3.1.21, Tabelle 1 note) — unlike RFC 6376 §5.4.2, which goes bottom-up.
//! - `b=` is the signature when signed, otherwise the header hash itself, base64 (PVD-IO
//!   §3.1.21). `q=x-header/x-de-mail-signature-certificate` when signed; the key comes from the
//!   Base64 DER certificate in `X-de-mail-signature-certificate` (PVD-IO §3.1.14), never DNS.
//!
//! **Where the tag list sits (the one place this choice is documented).** PVD-IO §3.1.13 says the
//! field "X-de-mail-integrity" carries hash and signature and that "ein Header nach DKIM" must
//! be contained, while §3.1.14 speaks of "das Feld DKIM-Signature". We read this as: the DKIM
//! tag list is the value of `X-de-mail-integrity` (Tabelle 14: "mögliche Werte: gemäß RFC 6376"),
//! and that field plays the role of the DKIM-Signature field, i.e. it is hashed last with its
//! `b=` value emptied (RFC 6376 §3.7). [`seal`] writes that form. On input [`verify`] also
//! accepts a `DKIM-Signature` field carrying a TR-style tag list (`a=` starting with a bare
//! sha256/sha384/sha512, not DKIM's `rsa-sha256`), which is then the hashed signature field;
//! the first `X-de-mail-integrity` with a tag list wins over it.
//! [`SealOptions::carrier`] can write the DKIM-Signature form for interoperability tests.
//!
//! Further choices: ECDSA signatures in `b=` are DER `Ecdsa-Sig-Value` as in RFC 5754's CMS
//! use (raw 64-byte r‖s is also accepted); `d=` is the X-de-mail-originator-provider when present
//! and `s=` is not written (no DNS selector exists, PVD-IO §3.1.21); the optional RFC 6376 `z=`
//! copies ([`SealOptions::diagnostic_copies`]) let [`verify`] name the header that changed.
//! Header bytes are those `RawMessage` holds: it reads the header block as UTF-8 (lossy), so a
//! raw 8-bit, non-UTF-8 header byte would be hashed as U+FFFD (RFC 5322 headers are ASCII).
//!
//! Certificate checking (PVD-IO §3.1.21 "muss auf Gültigkeit geprüft werden") is deliberately
//! simple: with [`VerifyOptions::trusted_cas`] the certificate must be one of them or be signed
//! by one of them (issuer name = CA subject and the CA key verifies the certificate signature);
//! with [`VerifyOptions::at_unix`] notBefore/notAfter are checked against that (virtual) time.
//! NOT checked: chains longer than one step, CA basicConstraints/keyUsage, revocation
//! (CRL/OCSP), qualified status (TSL), name constraints, critical extensions.

use std::fmt;

use aws_lc_rs::signature::{self as lc_sig, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::Pkcs1v15Sign;
use rsa::pkcs8::DecodePublicKey as _;
use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};

use super::h;
use super::headers::{Field, RawMessage};

/// The header fields hashed, in the TR's order (PVD-IO §3.1.21), spelt as in the TR; the
/// sealed rows of [`super::table1::TABLE_1`]. X-de-mail-private-id is hashed only if present.
pub const TR_SIGNED_HEADERS: [&str; 20] = super::table1::SEALED;

/// The `q=` value required when signing (PVD-IO §3.1.21).
pub const Q_CERTIFICATE: &str = "x-header/x-de-mail-signature-certificate";

/// Name of the standard DKIM field, accepted on input as an alternative carrier.
const DKIM_SIGNATURE: &str = "DKIM-Signature";

// Signature algorithm OIDs used in certificates (RFC 4055, RFC 5758).
const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const OID_SHA512_RSA: &str = "1.2.840.113549.1.1.13";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// Hash algorithm of `a=` (PVD-IO §3.1.21, spelling per RFC 5754).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The spelling in `a=`.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// Parses the spelling in `a=` (exact, lower case as the TR writes it).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(HashAlg::Sha256),
            "sha384" => Some(HashAlg::Sha384),
            "sha512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Signature algorithm of `a=` (PVD-IO §3.1.21).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigAlg {
    /// RSASSA-PKCS1-v1_5 ("rsa").
    Rsa,
    /// ECDSA ("ec-dsa"); this module handles the P-256 curve.
    EcDsa,
    /// RSASSA-PSS ("rsassa-pss"), verified only.
    RsassaPss,
}

impl SigAlg {
    /// The spelling in `a=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigAlg::Rsa => "rsa",
            SigAlg::EcDsa => "ec-dsa",
            SigAlg::RsassaPss => "rsassa-pss",
        }
    }

    /// Parses the spelling in `a=`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa" => Some(SigAlg::Rsa),
            "ec-dsa" => Some(SigAlg::EcDsa),
            "rsassa-pss" => Some(SigAlg::RsassaPss),
            _ => None,
        }
    }
}

impl fmt::Display for SigAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which field carries the DKIM tag list (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Carrier {
    /// `X-de-mail-integrity` (this test-bed's reading of PVD-IO §3.1.13).
    #[default]
    Integrity,
    /// A `DKIM-Signature` field with a TR-style tag list (accepted on input).
    DkimSignature,
}

impl Carrier {
    fn field_name(self) -> &'static str {
        match self {
            Carrier::Integrity => "X-de-mail-integrity",
            Carrier::DkimSignature => DKIM_SIGNATURE,
        }
    }
}

/// Options for [`seal_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SealOptions {
    /// Field that carries the tag list; default `X-de-mail-integrity`.
    pub carrier: Carrier,
    /// Adds RFC 6376 `z=` copies of the hashed fields so that a verifier can name the field
    /// that changed. Not required by the TR; off by default.
    pub diagnostic_copies: bool,
}

/// Why a message could not be sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrityError {
    /// A field the seal needs is missing (From, RFC 6376 §5.4).
    MissingField(&'static str),
    /// The private key could not be read.
    Key(String),
    /// The certificate could not be read.
    Certificate(String),
    /// The certificate does not hold the signer's public key.
    KeyCertificateMismatch,
    /// The signature could not be made.
    Sign(String),
}

impl fmt::Display for IntegrityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntegrityError::MissingField(name) => {
                write!(
                    f,
                    "cannot seal: the message has no {name} field (RFC 6376 §5.4)"
                )
            }
            IntegrityError::Key(e) => write!(f, "cannot seal: {e}"),
            IntegrityError::Certificate(e) => write!(f, "cannot seal: certificate: {e}"),
            IntegrityError::KeyCertificateMismatch => f.write_str(
                "cannot seal: the certificate does not contain the public key of the signing key",
            ),
            IntegrityError::Sign(e) => write!(f, "cannot seal: {e}"),
        }
    }
}

impl std::error::Error for IntegrityError {}

/// What may be given to [`verify_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyOptions<'a> {
    /// Trusted CA certificates (DER). When given, a signing certificate must be one of them or
    /// be issued by one of them (one step; see the module doc for what is not checked).
    pub trusted_cas: Option<&'a [Vec<u8>]>,
    /// Unix time (seconds) at which the certificate must be valid (test-bed virtual clock);
    /// `None` skips the notBefore/notAfter check.
    pub at_unix: Option<i64>,
}

/// The result of checking a message's integrity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The hash is correct; the message is not signed (`a=<hash>`).
    Hashed { alg: HashAlg, carrier: Carrier },
    /// The signature verifies with the key of the certificate.
    Signed {
        alg: HashAlg,
        sig: SigAlg,
        /// Subject CN of the certificate (the whole subject if it has no CN).
        signer: String,
        carrier: Carrier,
        /// Whether the certificate was checked against [`VerifyOptions::trusted_cas`].
        trusted: bool,
    },
    /// The seal is missing, malformed or does not match the message.
    Invalid(Failure),
}

impl Verdict {
    /// Whether the message passed.
    pub fn is_valid(&self) -> bool {
        !matches!(self, Verdict::Invalid(_))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Hashed { alg, .. } => write!(f, "valid: hashed only ({alg}), not signed"),
            Verdict::Signed {
                alg,
                sig,
                signer,
                trusted,
                ..
            } => {
                let anchor = if *trusted {
                    "certificate issued by a trusted CA"
                } else {
                    "certificate not checked against a trust anchor"
                };
                write!(f, "valid: signed by {signer} ({alg}/{sig}), {anchor}")
            }
            Verdict::Invalid(reason) => write!(f, "invalid: {reason}"),
        }
    }
}

/// Why a message failed the check; `Display` gives a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Neither an X-de-mail-integrity field nor a TR-style DKIM-Signature field.
    NoIntegrityHeader,
    /// The tag list cannot be read.
    Malformed(String),
    /// `a=` names an algorithm the TR does not allow.
    UnknownAlgorithm(String),
    /// A tag deviates from the TR's profile (c=, q=, h=).
    Profile(String),
    /// `bh=` does not match the body.
    BodyHashMismatch { stated: String, computed: String },
    /// A hashed header field changed (named when `z=` copies allow it).
    HeaderChanged {
        field: Option<String>,
        detail: String,
    },
    /// Signed, but the certificate field is missing.
    NoCertificate,
    /// The certificate cannot be read or has an unsuitable key.
    BadCertificate(String),
    /// The signature does not verify with the key of the certificate.
    SignatureInvalid(String),
    /// The certificate is not one of, or not issued by, the trusted CAs.
    Untrusted(String),
    /// The certificate is not valid at the given time.
    CertificateNotValidAt(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoIntegrityHeader => f.write_str(
                "no X-de-mail-integrity header (every De-Mail must carry one, PVD-IO §3.1.13)",
            ),
            Failure::Malformed(e) => write!(f, "X-de-mail-integrity cannot be read: {e}"),
            Failure::UnknownAlgorithm(e) => write!(f, "unknown algorithm {e}"),
            Failure::Profile(e) => write!(f, "not the TR's DKIM profile: {e}"),
            Failure::BodyHashMismatch { stated, computed } => write!(
                f,
                "body hash mismatch: bh= says {stated}, the body hashes to {computed} \
                 (the body was changed after sealing)"
            ),
            Failure::HeaderChanged {
                field: Some(name),
                detail,
            } => {
                write!(f, "header {name} changed: {detail}")
            }
            Failure::HeaderChanged {
                field: None,
                detail,
            } => {
                write!(f, "header hash mismatch: {detail}")
            }
            Failure::NoCertificate => f.write_str(
                "a= says signed, but there is no X-de-mail-signature-certificate (PVD-IO §3.1.14)",
            ),
            Failure::BadCertificate(e) => {
                write!(f, "X-de-mail-signature-certificate unusable: {e}")
            }
            Failure::SignatureInvalid(e) => write!(
                f,
                "signature does not verify with the key of the certificate: {e}"
            ),
            Failure::Untrusted(e) => write!(f, "certificate not issued by a trusted CA: {e}"),
            Failure::CertificateNotValidAt(e) => write!(f, "certificate not valid: {e}"),
        }
    }
}

mod canon;
mod known_good;
mod seal;
mod signer;
mod verify;
mod x509;

use canon::*;
pub use seal::{seal, seal_with};
pub use signer::{EcdsaP256Key, Signer};
pub use verify::{seal_field, verify, verify_with};
use x509::*;

#[cfg(test)]
mod tests;
