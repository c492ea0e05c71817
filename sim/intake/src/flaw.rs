//! Flawed variants of the reference intake (`demail-testbed intake --flaw NAME`, issue #16):
//! each breaks one legal rule on purpose, so that the certification catalogue can be shown to
//! catch real mistakes. A flawed intake must fail exactly the catalogue cases that test the
//! rule it breaks (harness/tests/flaws.rs keeps that table), and the unflawed intake passes
//! them all. docs/certification.md ("Flawed intakes") lists them for users.
//!
//! A flaw is never on unless asked for by name; the intake's start line and its
//! `/testbed/cases` answer say which flaws it runs with.

use std::fmt;

/// One rule the intake breaks on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flaw {
    /// Takes a Schriftform application without absenderbestätigt as binding (breaks § 3a
    /// Abs. 3 Nr. 2 lit. d VwVfG with § 5 Abs. 5 De-Mail-G).
    AcceptsUnconfirmed,
    /// Takes a message whose seal does not match it (body or a sealed field changed, a bad
    /// signature) as if the seal verified (breaks PVD-IO §3.1.21).
    AcceptsBrokenSeal,
    /// Takes a seal under a certificate of an untrusted CA as a trusted provider's (breaks
    /// PVD-IO §3.1.21, IT-BInfra-IO §7).
    TrustsForeignSeal,
    /// Applies the Zustellungsfiktion on the third day also to documents sent from
    /// 01.01.2025 (breaks § 5a Abs. 4 Satz 1 VwZG, Fassung 2025-01-20: the fourth day).
    FictionThirdDay,
    /// Serves förmlich by De-Mail without looking up whether the recipient opened access
    /// (breaks § 5 Abs. 5 Satz 1 with § 5a Abs. 1 VwZG).
    NoAccessCheck,
    /// Ignores Meldungen (PVD-IO Tabelle 22): a document that did not arrive is not sent on
    /// another way.
    IgnoresMeldungen,
    /// Sends the Empfangsbescheinigung a week after receipt, past the three days of § 15
    /// Abs. 1 GewO.
    LateEmpfangsbescheinigung,
    /// Sends a Bescheid for förmliche Zustellung without "persönlich", only with
    /// Abholbestätigung (breaks § 5a Abs. 1 Satz 2 VwZG with § 5 Abs. 4 De-Mail-G).
    BescheidNotPersoenlich,
    /// Records a one-month Widerspruchsfrist also for a Bescheid without
    /// Rechtsbehelfsbelehrung (breaks § 58 Abs. 2 VwGO: one year).
    OneMonthWithoutBelehrung,
}

impl Flaw {
    /// Every flaw, in this order in help texts and docs.
    pub const ALL: [Flaw; 9] = [
        Flaw::AcceptsUnconfirmed,
        Flaw::AcceptsBrokenSeal,
        Flaw::TrustsForeignSeal,
        Flaw::FictionThirdDay,
        Flaw::NoAccessCheck,
        Flaw::IgnoresMeldungen,
        Flaw::LateEmpfangsbescheinigung,
        Flaw::BescheidNotPersoenlich,
        Flaw::OneMonthWithoutBelehrung,
    ];

    /// The name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Flaw::AcceptsUnconfirmed => "accepts-unconfirmed",
            Flaw::AcceptsBrokenSeal => "accepts-broken-seal",
            Flaw::TrustsForeignSeal => "trusts-foreign-seal",
            Flaw::FictionThirdDay => "fiction-third-day",
            Flaw::NoAccessCheck => "no-access-check",
            Flaw::IgnoresMeldungen => "ignores-meldungen",
            Flaw::LateEmpfangsbescheinigung => "late-empfangsbescheinigung",
            Flaw::BescheidNotPersoenlich => "bescheid-not-persoenlich",
            Flaw::OneMonthWithoutBelehrung => "one-month-without-belehrung",
        }
    }

    /// What the flawed intake does wrong, one line.
    pub const fn wrong(self) -> &'static str {
        match self {
            Flaw::AcceptsUnconfirmed => {
                "treats a Schriftform application without absenderbestätigt as binding"
            }
            Flaw::AcceptsBrokenSeal => "treats a message whose seal does not verify as sealed",
            Flaw::TrustsForeignSeal => "trusts a seal under a certificate of an unknown CA",
            Flaw::FictionThirdDay => "applies the fiction on the 3rd day also from 2025",
            Flaw::NoAccessCheck => "serves förmlich without the directory look-up",
            Flaw::IgnoresMeldungen => "ignores Meldungen (no other channel)",
            Flaw::LateEmpfangsbescheinigung => "sends the Empfangsbescheinigung after a week",
            Flaw::BescheidNotPersoenlich => "sends a Bescheid without \"persönlich\"",
            Flaw::OneMonthWithoutBelehrung => {
                "records one month for the Widerspruch also without Rechtsbehelfsbelehrung"
            }
        }
    }

    /// The rule it breaks, with the source.
    pub const fn breaks(self) -> &'static str {
        match self {
            Flaw::AcceptsUnconfirmed => {
                "§ 3a Abs. 3 Nr. 2 lit. d VwVfG (Fassung 2025-01-20) with § 5 Abs. 5 De-Mail-G"
            }
            Flaw::AcceptsBrokenSeal => "BSI TR 01201 PVD-IO §3.1.21",
            Flaw::TrustsForeignSeal => "BSI TR 01201 PVD-IO §3.1.21, IT-BInfra-IO §7",
            Flaw::FictionThirdDay => "§ 5a Abs. 4 Satz 1 VwZG (Fassung 2025-01-20)",
            Flaw::NoAccessCheck => "§ 5 Abs. 5 Satz 1, § 5a Abs. 1 VwZG (Fassung 2025-01-20)",
            Flaw::IgnoresMeldungen => "PVD-IO Tabelle 22; § 5 Abs. 5, § 5a Abs. 1 VwZG",
            Flaw::LateEmpfangsbescheinigung => "§ 15 Abs. 1 GewO (Fassung 2026-08-19)",
            Flaw::BescheidNotPersoenlich => {
                "§ 5a Abs. 1 Satz 2 VwZG (Fassung 2025-01-20) with § 5 Abs. 4 De-Mail-G"
            }
            Flaw::OneMonthWithoutBelehrung => "§ 58 Abs. 2 VwGO (Fassung 2026-08-19)",
        }
    }

    /// Parses a name of [`Flaw::name`]; the error lists the names.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                format!("unknown flaw {s:?}; expected one of: {}", names.join(", "))
            })
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flaws an intake runs with (empty: the reference behaviour).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flaws(std::collections::BTreeSet<Flaw>);

impl Flaws {
    /// The set of `flaws`.
    pub fn of(flaws: impl IntoIterator<Item = Flaw>) -> Self {
        Self(flaws.into_iter().collect())
    }

    /// Whether `flaw` is on.
    pub fn has(&self, flaw: Flaw) -> bool {
        self.0.contains(&flaw)
    }

    /// Whether none is on.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, in [`Flaw`] order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_an_unknown_name_lists_the_known_ones() {
        for f in Flaw::ALL {
            assert_eq!(Flaw::parse(f.name()), Ok(f));
        }
        let e = Flaw::parse("accepts-everything").unwrap_err();
        assert!(e.contains("accepts-unconfirmed"), "{e}");
        assert!(e.contains("one-month-without-belehrung"), "{e}");
    }
}
