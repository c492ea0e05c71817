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

/// The provider's signing key with its certificate (DER).
// One signer per provider: the size of the RSA variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Signer {
    /// RSA key, signs RSASSA-PKCS1-v1_5 (`a=<hash>/rsa`).
    Rsa {
        key: rsa::PrivateKey,
        cert_der: Vec<u8>,
    },
    /// ECDSA P-256 key (aws-lc), signs with a random nonce (`a=<hash>/ec-dsa`): sealing the
    /// same message twice gives two different, equally valid signatures.
    EcdsaP256 {
        key: EcdsaP256Key,
        cert_der: Vec<u8>,
    },
}

/// An ECDSA P-256 private key (aws-lc), shared between clones.
#[derive(Clone)]
pub struct EcdsaP256Key(std::sync::Arc<lc_sig::EcdsaKeyPair>);

impl EcdsaP256Key {
    /// The public key as an uncompressed SEC1 point (`04 || x || y`).
    fn public_point(&self) -> &[u8] {
        self.0.public_key().as_ref()
    }
}

impl fmt::Debug for EcdsaP256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaP256Key").finish_non_exhaustive()
    }
}

impl Signer {
    /// An RSA signer from a PKCS#8 DER private key and its certificate.
    pub fn rsa_from_pkcs8_der(key_der: &[u8], cert_der: Vec<u8>) -> Result<Self, IntegrityError> {
        use rsa::pkcs8::DecodePrivateKey as _;
        let key = rsa::PrivateKey::from_pkcs8_der(key_der)
            .map_err(|e| IntegrityError::Key(format!("not a PKCS#8 RSA private key: {e}")))?;
        Ok(Signer::Rsa { key, cert_der })
    }

    /// An ECDSA P-256 signer from a PKCS#8 DER private key and its certificate.
    pub fn ecdsa_p256_from_pkcs8_der(
        key_der: &[u8],
        cert_der: Vec<u8>,
    ) -> Result<Self, IntegrityError> {
        let key =
            lc_sig::EcdsaKeyPair::from_pkcs8(&lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING, key_der)
                .map_err(|e| IntegrityError::Key(format!("not a PKCS#8 P-256 private key: {e}")))?;
        Ok(Signer::EcdsaP256 {
            key: EcdsaP256Key(std::sync::Arc::new(key)),
            cert_der,
        })
    }

    /// The certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        match self {
            Signer::Rsa { cert_der, .. } | Signer::EcdsaP256 { cert_der, .. } => cert_der,
        }
    }

    fn sig_alg(&self) -> SigAlg {
        match self {
            Signer::Rsa { .. } => SigAlg::Rsa,
            Signer::EcdsaP256 { .. } => SigAlg::EcDsa,
        }
    }

    /// Fails unless the certificate holds this signer's public key, so that a seal can never
    /// name a certificate the verifier would reject.
    fn check_certificate(&self) -> Result<(), IntegrityError> {
        let cert = Certificate::from_der(self.cert_der())
            .map_err(|e| IntegrityError::Certificate(format!("not a DER certificate: {e}")))?;
        let key = public_key_of(&cert).map_err(IntegrityError::Certificate)?;
        let matches = match (self, &key) {
            (Signer::Rsa { key: k, .. }, PublicKey::Rsa(p)) => k.to_public_key() == *p,
            (Signer::EcdsaP256 { key: k, .. }, PublicKey::P256(p)) => k.public_point() == p,
            _ => false,
        };
        if matches {
            Ok(())
        } else {
            Err(IntegrityError::KeyCertificateMismatch)
        }
    }

    fn sign(&self, alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>, IntegrityError> {
        match self {
            Signer::Rsa { key, .. } => key
                .sign(pkcs1v15(alg), hash)
                .map_err(|e| IntegrityError::Sign(format!("RSA signing failed: {e}"))),
            Signer::EcdsaP256 { key, .. } => {
                let _ = alg;
                let digest = p256_digest(hash)
                    .map_err(|e| IntegrityError::Sign(format!("ECDSA signing failed: {e}")))?;
                let sig = key
                    .0
                    .sign_digest(&digest)
                    .map_err(|e| IntegrityError::Sign(format!("ECDSA signing failed: {e}")))?;
                // ECDSA_P256_SHA256_ASN1_SIGNING: DER Ecdsa-Sig-Value, as before.
                Ok(sig.as_ref().to_vec())
            }
        }
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

fn check(msg: &RawMessage, opts: &VerifyOptions<'_>) -> Result<Verdict, Failure> {
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
fn find_carrier(msg: &RawMessage) -> Result<(Carrier, &Field, Tags), Failure> {
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

fn parse_a(a: &str) -> Result<(HashAlg, Option<SigAlg>), Failure> {
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
fn check_h_list(msg: &RawMessage, names: &[String]) -> Result<(), Failure> {
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
fn header_change(msg: &RawMessage, tags: &Tags, names: &[&str]) -> Failure {
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

/// RFC 6376 §3.4.3 "simple" body canonicalization: trailing empty lines removed, one CRLF at
/// the end (an empty body becomes CRLF). The whole body counts: l= is ignored (PVD-IO §3.1.21).
fn canonical_body(body: &[u8]) -> Vec<u8> {
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
fn header_hash_input(msg: &RawMessage, names: &[&str], carrier: &Field) -> Vec<u8> {
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

fn first_field<'a>(msg: &'a RawMessage, name: &str) -> Option<&'a Field> {
    msg.fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Deletes the value of the b= tag, keeping everything else byte for byte (RFC 6376 §3.5).
fn strip_b_value(raw: &str) -> String {
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

fn is_fws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !is_fws(*c)).collect()
}

/// A DKIM tag list (RFC 6376 §3.2): duplicate tags make it invalid.
struct Tags(Vec<(String, String)>);

impl Tags {
    fn parse(raw: &str) -> Result<Self, String> {
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

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Folds a list joined by `sep` into lines of about 72 characters with CRLF SP.
fn fold_list<S: AsRef<str>>(items: &[S], sep: char, first_line_used: usize) -> String {
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
fn fold_base64(text: &str, first_line_used: usize) -> String {
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
fn fold_quoted_printable(text: &str, first_line_used: usize) -> String {
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

/// RFC 6376 §2.11 dkim-quoted-printable for `z=` (§3.5): everything but printable ASCII other
/// than ';', '|' and '=' becomes =XX.
fn dkim_quoted_printable(s: &str) -> String {
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

fn dkim_quoted_printable_decode(s: &str) -> Option<String> {
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

fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// Base64 DER certificate text of X-de-mail-signature-certificate (PVD-IO §3.1.14); folding
/// whitespace is removed and PEM armour tolerated.
fn decode_certificate_text(raw: &str) -> Result<Vec<u8>, String> {
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

enum PublicKey {
    Rsa(rsa::PublicKey),
    /// Uncompressed SEC1 point of a P-256 key, checked to lie on the curve.
    P256(Vec<u8>),
}

/// OID of the named curve P-256 (prime256v1, RFC 5480).
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// A hash as the 32-byte digest P-256 ECDSA signs: a longer hash is cut to its leftmost 256
/// bits, which is what ECDSA does with it anyway (SEC 1 §4.1.3 step 5, FIPS 186-5 §6.4.1), so
/// `a=sha384/ec-dsa` and `a=sha512/ec-dsa` keep their meaning.
fn p256_digest(hash: &[u8]) -> Result<aws_lc_rs::digest::Digest, String> {
    let cut = hash
        .get(..32)
        .ok_or_else(|| format!("a {}-byte hash is too short for ECDSA P-256", hash.len()))?;
    aws_lc_rs::digest::Digest::import_less_safe(cut, &aws_lc_rs::digest::SHA256)
        .map_err(|_| "cannot take the hash as a digest".to_string())
}

fn public_key_of(cert: &Certificate) -> Result<PublicKey, String> {
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
fn p256_point(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<Vec<u8>, String> {
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

fn pkcs1v15(alg: HashAlg) -> Pkcs1v15Sign {
    match alg {
        HashAlg::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
        HashAlg::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
        HashAlg::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
    }
}

fn verify_signature(
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

fn subject_name(cert: &Certificate) -> String {
    let subject = cert.tbs_certificate().subject();
    match subject.common_name() {
        Ok(Some(cn)) => String::from(cn),
        _ => subject.to_string(),
    }
}

fn check_validity(cert: &Certificate, at: i64) -> Result<(), Failure> {
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
fn check_trust(cert: &Certificate, cert_der: &[u8], cas: &[Vec<u8>]) -> Result<(), Failure> {
    if cas.iter().any(|c| c.as_slice() == cert_der) {
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
            Ok(()) => return Ok(()),
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

fn issuer_signature_ok(cert: &Certificate, ca: &Certificate) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
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
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
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
}
