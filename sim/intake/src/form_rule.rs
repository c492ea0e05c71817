//! The intake's form rule: when a De-Mail makes a case binding.
//!
//! - A message whose provider seal does not verify is never binding (PVD-IO §3.1.21: the
//!   integrity of a De-Mail is what the seal proves).
//! - A procedure without a written-form requirement is binding as any De-Mail.
//! - A Schriftform (written-form) procedure is binding by De-Mail only as an
//!   absenderbestätigte De-Mail (sender-confirmed; the sender logged in at level high), signed
//!   by a trusted provider: § 3a Abs. 3 Nr. 2 lit. d VwVfG with § 5 Abs. 5 De-Mail-G, and only
//!   while that route is in force (`law::Provision::VwVfG3aDeMail`; its 2026 repeal is dated in
//!   `law/regime.rs`). Afterwards De-Mail no longer replaces the written form.
//! - Plain e-mail never reaches this rule: the intake's listener refuses a message without
//!   the De-Mail metadata (PVD-IO Tabelle 1).
//!
//! Each decision carries its reason with the source, and a defect the remedy the reply names.

use jiff::civil::Date;

use super::config::Procedure;
use demail_calendar::{Provision, check_in_force};
use demail_wire::integrity::Verdict as Integrity;

/// What the intake knows about a message when it judges the form.
#[derive(Debug, Clone)]
pub struct FormFacts<'a> {
    /// X-de-mail-authoritative is "yes".
    pub authoritative: bool,
    /// X-de-mail-auth-level as received.
    pub auth_level: &'a str,
    /// The seal's verdict against the intake's trust anchors.
    pub integrity: &'a Integrity,
    /// The day of receipt (decides the legal regime).
    pub received_on: Date,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormDecision {
    pub binding: bool,
    /// Why, with the source.
    pub reason: String,
    /// For a defect: what the sender must do.
    pub remedy: Option<String>,
}

fn defect(reason: String, remedy: &str) -> FormDecision {
    FormDecision {
        binding: false,
        reason,
        remedy: Some(remedy.to_string()),
    }
}

const RESEND: &str = "Bitte melden Sie sich bei Ihrem De-Mail-Anbieter mit hohem \
                      Authentisierungsniveau an und senden Sie die Nachricht erneut als \
                      absenderbestätigte De-Mail.";
const BY_POST: &str = "Bitte reichen Sie den Antrag schriftlich mit eigenhändiger Unterschrift \
                       oder elektronisch mit qualifizierter elektronischer Signatur ein \
                       (§ 3a Abs. 2 VwVfG).";

/// Judges the form of a message for `procedure`.
pub fn judge(procedure: &Procedure, facts: &FormFacts<'_>) -> FormDecision {
    if !facts.integrity.is_valid() {
        return defect(
            format!(
                "X-de-mail-integrity does not verify ({}); PVD-IO §3.1.21",
                facts.integrity
            ),
            "Bitte senden Sie die Nachricht erneut über Ihren De-Mail-Anbieter.",
        );
    }
    if !procedure.schriftform {
        return FormDecision {
            binding: true,
            reason: format!(
                "{}: no written form required ({})",
                procedure.title, procedure.legal_basis
            ),
            remedy: None,
        };
    }
    let route = match check_in_force(Provision::VwVfG3aDeMail, facts.received_on) {
        Ok(citation) => citation,
        Err(e) => {
            return defect(
                format!(
                    "{} needs the written form, and De-Mail no longer replaces it: {e}",
                    procedure.title
                ),
                BY_POST,
            );
        }
    };
    if !facts.authoritative {
        return defect(
            format!(
                "{} needs the written form; a De-Mail replaces it only absenderbestätigt \
                 (X-de-mail-authoritative is not \"yes\"): {route} with § 5 Abs. 5 De-Mail-G",
                procedure.title
            ),
            RESEND,
        );
    }
    if !matches!(facts.integrity, Integrity::Signed { trusted: true, .. }) {
        return defect(
            format!(
                "absenderbestätigt, but not signed by a trusted provider ({}): {route}",
                facts.integrity
            ),
            RESEND,
        );
    }
    if facts.auth_level != "high" {
        return defect(
            format!(
                "X-de-mail-auth-level is {:?}, not \"high\": absenderbestätigt needs a sichere \
                 Anmeldung (§ 5 Abs. 5 De-Mail-G; {route})",
                facts.auth_level
            ),
            RESEND,
        );
    }
    FormDecision {
        binding: true,
        reason: format!(
            "{}: absenderbestätigte De-Mail at level high replaces the written form: {route} \
             with § 5 Abs. 5 De-Mail-G",
            procedure.title
        ),
        remedy: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IntakeFile;
    use demail_wire::integrity::{Carrier, HashAlg, SigAlg};

    fn signed(trusted: bool) -> Integrity {
        Integrity::Signed {
            alg: HashAlg::Sha256,
            sig: SigAlg::EcDsa,
            signer: "dmda-a".into(),
            carrier: Carrier::Integrity,
            trusted,
        }
    }

    fn facts<'a>(auth: bool, level: &'a str, integrity: &'a Integrity, on: Date) -> FormFacts<'a> {
        FormFacts {
            authoritative: auth,
            auth_level: level,
            integrity,
            received_on: on,
        }
    }

    #[test]
    fn schriftform_needs_absenderbestaetigt_high_trusted_and_the_route_in_force() {
        let file = IntakeFile::default_dresden().unwrap();
        let gewerbe = file.procedure("gewerbeanzeige").unwrap();
        let petition = file.procedure("petition").unwrap();
        let ok = signed(true);
        let day = Date::constant(2025, 3, 3);

        let d = judge(gewerbe, &facts(true, "high", &ok, day));
        assert!(d.binding, "{d:?}");
        assert!(d.reason.contains("§ 3a Abs. 3"), "{d:?}");

        let d = judge(gewerbe, &facts(false, "high", &ok, day));
        assert!(!d.binding);
        assert!(d.reason.contains("absenderbestätigt"), "{d:?}");
        assert_eq!(d.remedy.as_deref(), Some(RESEND));

        let d = judge(gewerbe, &facts(true, "normal", &ok, day));
        assert!(!d.binding);
        assert!(d.reason.contains("\"normal\""), "{d:?}");

        let d = judge(gewerbe, &facts(true, "high", &signed(false), day));
        assert!(!d.binding);
        assert!(d.reason.contains("trusted"), "{d:?}");

        // Without a written-form requirement any valid De-Mail is binding.
        assert!(judge(petition, &facts(false, "normal", &ok, day)).binding);

        // After the repeal of the De-Mail route the written form needs another way.
        let later = demail_calendar::REPEAL_DEMAIL_ROUTES;
        let d = judge(gewerbe, &facts(true, "high", &ok, later));
        assert!(!d.binding);
        assert!(d.reason.contains("no longer replaces"), "{d:?}");
        assert_eq!(d.remedy.as_deref(), Some(BY_POST));
        assert!(judge(petition, &facts(true, "high", &ok, later)).binding);
    }

    #[test]
    fn a_broken_seal_is_never_binding() {
        let file = IntakeFile::default_dresden().unwrap();
        let petition = file.procedure("petition").unwrap();
        let bad = Integrity::Invalid(demail_wire::integrity::Failure::NoIntegrityHeader);
        let d = judge(
            petition,
            &facts(true, "high", &bad, Date::constant(2025, 3, 3)),
        );
        assert!(!d.binding);
        assert!(d.reason.contains("PVD-IO §3.1.21"));
    }
}
