//! The test PKI: a certificate authority generated at start and the leaf certificates of every
//! server in the simulated world.
//!
//! Real De-Mail uses certificates from the BSI's PKI (IT-BInfra-IO Tabelle 2); the test-bed
//! generates its own CA per run with rcgen, so nothing outside the machine is needed. The CA
//! certificate is written into the run folder (`pki/ca.pem`) so that an external intake can
//! be told to trust it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA's label in a persistent test PKI (`load_or_init`): its certificate's CN reads
/// "demail-testbed Test CA (persistent)".
const PERSISTENT_LABEL: &str = "persistent";

/// The file of the CA's private key in a persistent test PKI.
pub const CA_KEY_FILE: &str = "ca-key.pem";

/// The subject and constraints of a test CA (the same for a generated and a loaded one, so
/// that a loaded CA's leaves name the issuer its certificate names).
fn ca_params(label: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("demail-testbed Test CA ({label})"),
    );
    dn.push(DnType::OrganizationName, "demail-testbed");
    dn.push(DnType::CountryName, "DE");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// Writes a private key readable by its owner only (0600 on Unix).
fn write_private(path: &Path, pem: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The generated certificate authority.
pub struct TestPki {
    /// The CA certificate in PEM.
    ca_pem: String,
    /// The CA certificate in DER.
    ca_der: CertificateDer<'static>,
    /// Signs leaf certificates.
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate with its private key.
#[derive(Clone)]
pub struct Identity {
    /// Leaf certificate (PEM).
    pub cert_pem: String,
    /// Private key (PKCS#8 PEM).
    pub key_pem: String,
    /// Leaf certificate (DER).
    pub cert_der: CertificateDer<'static>,
    /// Private key (PKCS#8 DER).
    pub key_der: Vec<u8>,
}

impl TestPki {
    /// Generates a new CA named after the run.
    pub fn generate(run_label: &str) -> Result<Self> {
        let params = ca_params(run_label);
        let key = KeyPair::generate().context("generating the test CA key")?;
        let cert = params
            .self_signed(&key)
            .context("self-signing the test CA")?;
        Ok(Self {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The persistent test PKI in `dir` (`ca.pem`, `ca-key.pem`): loaded when it is there,
    /// made (and written, the key readable by its owner only) when it is not. An integrator
    /// installs `ca.pem` once; every `serve --pki DIR` then signs with the same CA.
    pub fn load_or_init(dir: &Path) -> Result<Self> {
        use rustls::pki_types::pem::PemObject as _;
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join(CA_KEY_FILE));
        if !cert_path.exists() && !key_path.exists() {
            let pki = Self::generate(PERSISTENT_LABEL)?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            write_private(&key_path, &pki.issuer.key().serialize_pem())?;
            std::fs::write(&cert_path, &pki.ca_pem)
                .with_context(|| format!("writing {}", cert_path.display()))?;
            return Ok(pki);
        }
        let ca_pem = std::fs::read_to_string(&cert_path)
            .with_context(|| format!("reading {} (the test CA)", cert_path.display()))?;
        let key_pem = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {} (the test CA's key)", key_path.display()))?;
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("{}: not a PKCS#8 private key", key_path.display()))?;
        let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| {
            anyhow::anyhow!("{}: not a PEM certificate: {e:?}", cert_path.display())
        })?;
        let pki = Self {
            ca_pem,
            ca_der,
            issuer: Issuer::new(ca_params(PERSISTENT_LABEL), key),
        };
        // The key must be the certificate's: a leaf it signs must verify under the CA.
        let probe = pki.issue("probe.localhost", &["localhost"])?;
        if !pki.verifies(&probe.cert_der) {
            anyhow::bail!(
                "{} and {} do not belong together (a CA of `demail-testbed pki init` is needed)",
                cert_path.display(),
                key_path.display()
            );
        }
        Ok(pki)
    }

    /// Whether `leaf` (DER) verifies as a server certificate for "localhost" under this CA.
    fn verifies(&self, leaf: &CertificateDer<'_>) -> bool {
        use rustls::client::danger::ServerCertVerifier as _;
        let Ok(roots) = self.root_store() else {
            return false;
        };
        let Ok(verifier) = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots)).build()
        else {
            return false;
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name");
        verifier
            .verify_server_cert(leaf, &[], &name, &[], rustls::pki_types::UnixTime::now())
            .is_ok()
    }

    /// The CA certificate in PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate in DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca_der.clone()
    }

    /// Issues a server/client certificate for `common_name` valid for the given DNS names and
    /// IP addresses. Key usage follows IT-BInfra-IO Tabelle 2 (digitalSignature,
    /// keyEncipherment; serverAuth, clientAuth).
    pub fn issue(&self, common_name: &str, subject_alt_names: &[&str]) -> Result<Identity> {
        self.issue_valid(common_name, subject_alt_names, false)
    }

    /// [`TestPki::issue`] with a validity that ended long ago (1 January 2000 to 1 January
    /// 2001): a certificate of this CA that every verifier refuses as expired, whatever its
    /// clock reads (RFC 5280 §4.1.2.5). The fault plan's relay action `cert-expired` presents
    /// one (docs/faults.md).
    pub fn issue_expired(&self, common_name: &str, subject_alt_names: &[&str]) -> Result<Identity> {
        self.issue_valid(common_name, subject_alt_names, true)
    }

    fn issue_valid(
        &self,
        common_name: &str,
        subject_alt_names: &[&str],
        expired: bool,
    ) -> Result<Identity> {
        let sans: Vec<String> = subject_alt_names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans)
            .with_context(|| format!("certificate parameters for {common_name}"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationalUnitName, "De-Mail");
        dn.push(DnType::CountryName, "DE");
        params.distinguished_name = dn;
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().context("generating a leaf key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .with_context(|| format!("signing the certificate of {common_name}"))?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// Issues a client certificate for the account `address` (a De-Mail address): subject
    /// CN = the address, one subjectAltName rfc822Name = the address (RFC 5280 §4.2.1.6), key
    /// usage digitalSignature, extended key usage clientAuth only. A message client presents it
    /// to the provider's POP3 face for a login at level high (`docs/serve.md`, "POP3"); the
    /// private key stands for the possession factor of ACM-FU's level "hoch".
    pub fn issue_client(&self, address: &str) -> Result<Identity> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, address);
        dn.push(DnType::OrganizationalUnitName, "De-Mail");
        dn.push(DnType::CountryName, "DE");
        params.distinguished_name = dn;
        let email = address
            .try_into()
            .with_context(|| format!("{address:?} is not an IA5 string (rfc822Name)"))?;
        params.subject_alt_names = vec![SanType::Rfc822Name(email)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().context("generating a client key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .with_context(|| format!("signing the client certificate of {address}"))?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// A rustls root store that trusts only this CA.
    pub fn root_store(&self) -> Result<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca_der())
            .context("adding the test CA to a root store")?;
        Ok(roots)
    }

    /// Writes `ca.pem` into `dir` and returns its path.
    pub fn write_ca(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Identity {
    /// A rustls server configuration presenting this identity, without client authentication.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .context("building a TLS server configuration")?;
        Ok(Arc::new(config))
    }

    /// A rustls server configuration presenting this identity and requiring a client
    /// certificate issued by one of `roots` (mutual TLS between providers, IT-BInfra-IO
    /// Tabelle 1: "Client-Authentisierung: muss").
    pub fn mutual_server_config(
        &self,
        roots: rustls::RootCertStore,
    ) -> Result<Arc<rustls::ServerConfig>> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .context("building the client-certificate verifier")?;
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.cert_der.clone()], key)
            .context("building a mutual-TLS server configuration")?;
        Ok(Arc::new(config))
    }

    /// A rustls server configuration presenting this identity that asks for a client
    /// certificate but does not require one: a client that presents one must present one
    /// issued by one of `roots` (else the handshake fails); a client without one connects
    /// as well. The provider's POP3 faces use it: a certificate of an account is a login at
    /// level high, a password without one a login at level normal.
    pub fn optional_client_server_config(
        &self,
        roots: rustls::RootCertStore,
    ) -> Result<Arc<rustls::ServerConfig>> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .allow_unauthenticated()
            .build()
            .context("building the optional client-certificate verifier")?;
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.cert_der.clone()], key)
            .context("building a TLS server configuration with optional client certificates")?;
        Ok(Arc::new(config))
    }

    /// Writes `<name>.crt` and `<name>.key` (PEM) into `dir`; returns both paths.
    pub fn write_pem(&self, dir: &Path, name: &str) -> Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem)
            .with_context(|| format!("writing {}", cert.display()))?;
        std::fs::write(&key, &self.key_pem)
            .with_context(|| format!("writing {}", key.display()))?;
        Ok((cert, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client certificate for an account chains to the test CA and passes rustls' client
    /// verification (which checks the clientAuth extended key usage); it names the account in
    /// the subject CN and as rfc822Name; an address that is not IA5 is an error, not a panic.
    #[test]
    fn client_certificate_for_an_account() {
        crate::init_crypto();
        let pki = TestPki::generate("unit").unwrap();
        let address = "erika.mustermann@dmda-a.de-mail.de";
        let id = pki.issue_client(address).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder(Arc::new(pki.root_store().unwrap()))
                .build()
                .unwrap();
        verifier
            .verify_client_cert(&id.cert_der, &[], rustls::pki_types::UnixTime::now())
            .unwrap();
        let der = id.cert_der.as_ref();
        let hits = der
            .windows(address.len())
            .filter(|w| *w == address.as_bytes())
            .count();
        assert_eq!(hits, 2, "CN and rfc822Name");
        assert!(pki.issue_client("jürgen@dmda-a.de-mail.de").is_err());
        let other = TestPki::generate("other").unwrap();
        let foreign = other.issue_client(address).unwrap();
        assert!(
            verifier
                .verify_client_cert(&foreign.cert_der, &[], rustls::pki_types::UnixTime::now())
                .is_err(),
            "a certificate of another CA is not accepted"
        );
        assert!(
            id.optional_client_server_config(pki.root_store().unwrap())
                .is_ok()
        );
    }

    /// A persistent PKI is made once and loaded after: the same CA, whose leaves verify under
    /// the first `ca.pem`; the key is written for its owner only; a key that is not the
    /// certificate's is refused.
    #[test]
    fn persistent_pki_is_made_once_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("demail-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = TestPki::load_or_init(&dir).unwrap();
        let again = TestPki::load_or_init(&dir).unwrap();
        assert_eq!(first.ca_pem(), again.ca_pem());
        let leaf = again.issue("intake.localhost", &["localhost"]).unwrap();
        assert!(first.verifies(&leaf.cert_der));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = std::env::temp_dir().join(format!("demail-pki-other-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&other);
        TestPki::load_or_init(&other).unwrap();
        std::fs::copy(other.join(CA_KEY_FILE), dir.join(CA_KEY_FILE)).unwrap();
        let e = TestPki::load_or_init(&dir)
            .err()
            .expect("a foreign key is refused")
            .to_string();
        assert!(e.contains("do not belong together"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&other).unwrap();
    }
}
