//! The provider's signing key with its certificate: RSA (RSASSA-PKCS1-v1_5) or ECDSA P-256
//! (aws-lc-rs), as used by [`super::seal`] (PVD-IO §3.1.21).

use super::*;

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
    pub(super) fn public_point(&self) -> &[u8] {
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

    pub(super) fn sig_alg(&self) -> SigAlg {
        match self {
            Signer::Rsa { .. } => SigAlg::Rsa,
            Signer::EcdsaP256 { .. } => SigAlg::EcDsa,
        }
    }

    /// Fails unless the certificate holds this signer's public key, so that a seal can never
    /// name a certificate the verifier would reject.
    pub(super) fn check_certificate(&self) -> Result<(), IntegrityError> {
        // The answer depends on the certificate's and the key's bytes only: remembered per
        // pair (ECDSA; an RSA key's public half is computed, so RSA is checked every time).
        static KEY_MATCHES: known_good::KnownGood = known_good::KnownGood::new();
        let public = match self {
            Signer::EcdsaP256 { key, .. } => Some(key.public_point()),
            Signer::Rsa { .. } => None,
        };
        if let Some(p) = public
            && KEY_MATCHES.find(self.cert_der(), |k| k == p)
        {
            return Ok(());
        }
        self.check_certificate_uncached()?;
        if let Some(p) = public {
            KEY_MATCHES.remember(self.cert_der(), p);
        }
        Ok(())
    }

    fn check_certificate_uncached(&self) -> Result<(), IntegrityError> {
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

    pub(super) fn sign(&self, alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>, IntegrityError> {
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
