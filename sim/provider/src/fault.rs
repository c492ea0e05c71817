//! Faults the test-bed's provider makes on purpose, so that a system under test can be shown
//! a message it must not trust (the certification catalogue's DM-SEAL cases, issue #16).
//!
//! A fault is armed for the next message one account submits ([`crate::Provider::arm_seal_fault`])
//! and spent by that submission; the harness arms it from a scenario's `seal = "broken"` or
//! `seal = "foreign"` send option (docs/scenarios.md). Every fault put into a message is a
//! `fault.injected` trace event, so a run says what was done on purpose.
//!
//! - [`SealFault::Broken`]: the copy is sealed as always and its body changed afterwards, so
//!   the body hash of X-de-mail-integrity no longer matches (PVD-IO §3.1.21: the seal proves
//!   the message is unchanged since the provider sealed it).
//! - [`SealFault::Foreign`]: the copy is sealed with a key whose certificate comes from a CA
//!   that no trust list carries (a new CA made once per provider): the signature verifies, the
//!   certificate does not chain to a trusted provider (PVD-IO §3.1.21, IT-BInfra-IO §7).

use std::sync::OnceLock;

use demail_core::pki::TestPki;
use demail_wire::headers::RawMessage;
use demail_wire::integrity::Signer;

/// A fault in the provider's seal of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SealFault {
    /// Body changed after sealing.
    Broken,
    /// Sealed under a CA nobody trusts.
    Foreign,
}

impl SealFault {
    /// Every fault, for help texts and validation.
    pub const ALL: [SealFault; 2] = [SealFault::Broken, SealFault::Foreign];

    /// The name in scenario files and trace events.
    pub const fn as_str(self) -> &'static str {
        match self {
            SealFault::Broken => "broken",
            SealFault::Foreign => "foreign",
        }
    }

    /// Parses a name of [`SealFault::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// What the fault does, for the trace.
    pub const fn detail(self) -> &'static str {
        match self {
            SealFault::Broken => {
                "body changed after sealing: X-de-mail-integrity does not verify (PVD-IO §3.1.21)"
            }
            SealFault::Foreign => {
                "sealed with a certificate of a CA no trust list carries (PVD-IO §3.1.21)"
            }
        }
    }
}

/// The line a broken seal's body gets after sealing.
const TAMPERED: &[u8] = b"\r\n[Nach der Versiegelung veraendert.]\r\n";

/// Changes `sealed`'s body after sealing ([`SealFault::Broken`]).
pub(crate) fn break_seal(sealed: &mut RawMessage) {
    sealed.body.extend_from_slice(TAMPERED);
}

/// The foreign signer, made once per provider on first use ([`SealFault::Foreign`]).
#[derive(Default)]
pub(crate) struct ForeignSigner(OnceLock<Result<Signer, String>>);

impl ForeignSigner {
    /// The signer of a CA of its own, named like the provider's real one.
    pub(crate) fn get(&self, domain: &str) -> Result<&Signer, String> {
        self.0
            .get_or_init(|| {
                let pki = TestPki::generate("foreign").map_err(|e| format!("foreign CA: {e}"))?;
                let id = pki
                    .issue(domain, &[domain])
                    .map_err(|e| format!("foreign certificate: {e}"))?;
                Signer::ecdsa_p256_from_pkcs8_der(&id.key_der, id.cert_der.to_vec())
                    .map_err(|e| format!("foreign signing key: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}
