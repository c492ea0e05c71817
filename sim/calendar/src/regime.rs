//! The legal regime by date: which De-Mail-related provisions are in force on a
//! given day, and how many days the Bekanntgabe-/Zustellungsfiktion (deemed
//! notification / service) counts.
//!
//! Facts, from the dated texts in `shared/reference/law/`:
//! - 3rd day ("am dritten Tag") in § 41 Abs. 2 VwVfG and §§ 4 Abs. 2, 5 Abs. 7,
//!   5a Abs. 4 VwZG in the texts of 2024-01-01; 4th day ("am vierten Tag") from
//!   the texts of 2025-01-20 on. The change is the Postrechtsmodernisierungsgesetz
//!   (PostModG, postal law modernisation act) of 15.07.2024, BGBl. 2024 I Nr. 236,
//!   in force 01.01.2025 (demail-notes § 2.3); it applies to documents sent from
//!   01.01.2025, so the day of sending decides.
//! - § 5a VwZG (service via De-Mail against Abholbestätigung, pick-up
//!   confirmation) and the De-Mail routes of § 3a Abs. 3 Nr. 2 lit. d and Nr. 3
//!   lit. b VwVfG (De-Mail replacing the written form) are in the texts of
//!   2026-05-04 and gone from the texts of 2026-07-19. The exact in-force date of
//!   the repeal is not in the texts: see [`REPEAL_DEMAIL_ROUTES`].
//! - § 5 Abs. 7 VwZG (electronic service against Empfangsbekenntnis, with a
//!   4th-day fiction) is still in the 2026-07-19 text: it is *not* repealed.
//! - De-Mail-G § 26 (text 2026-07-19): "Dieses Gesetz tritt mit Ablauf des
//!   31. Dezember 2026 außer Kraft" — last day in force 2026-12-31.

use super::texts::{dated, demail_g};
use super::{LawError, serde_iso};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::fmt;

/// First day on which § 5a VwZG and the De-Mail routes of § 3a VwVfG are no
/// longer in force.
///
/// NOT KNOWN EXACTLY. The consolidated texts show the provisions on 2026-05-04
/// ([`LAST_TEXT_WITH_DEMAIL_ROUTES`]) and no longer on 2026-07-19
/// ([`FIRST_TEXT_WITHOUT_DEMAIL_ROUTES`]); the amending act and its in-force
/// clause were not available (demail-notes § 6, first open question). We
/// assume 2026-07-01, the first day of a month inside that window, as German
/// amending acts often take effect on the first of a month. Change only this
/// constant when the real date is known.
pub const REPEAL_DEMAIL_ROUTES: Date = Date::constant(2026, 7, 1);

/// Date of the last consolidated text that still has § 5a VwZG / § 3a De-Mail routes.
pub const LAST_TEXT_WITH_DEMAIL_ROUTES: Date = Date::constant(2026, 5, 4);

/// Date of the first consolidated text without them.
pub const FIRST_TEXT_WITHOUT_DEMAIL_ROUTES: Date = Date::constant(2026, 7, 19);

/// In force from this day on: 4th day instead of 3rd (PostModG).
pub const POSTMODG_IN_FORCE: Date = Date::constant(2025, 1, 1);

/// Last day on which the De-Mail-G is in force (§ 26 De-Mail-G, "mit Ablauf
/// des 31. Dezember 2026").
pub const DEMAIL_G_LAST_DAY: Date = Date::constant(2026, 12, 31);

/// First day on which the De-Mail-G is no longer in force.
const DEMAIL_G_EXPIRED: Date = Date::constant(2027, 1, 1);

/// First day of the De-Mail-G and of § 5a VwZG: Art. 1 and 3 of the Gesetz vom
/// 28.04.2011 (BGBl. I S. 666), in force the day after promulgation on
/// 02.05.2011. From general knowledge (uncertain), not from a text at hand.
pub const DEMAIL_G_FIRST_DAY: Date = Date::constant(2011, 5, 3);

/// First day of § 41 Abs. 2 Satz 2 VwVfG (electronic Bekanntgabe): 3. VwVfÄndG
/// of 21.08.2002, in force 01.02.2003. From general knowledge (uncertain).
pub const VWVFG_41_ELECTRONIC_FIRST_DAY: Date = Date::constant(2003, 2, 1);

/// The earliest law text in the reference folder; provisions whose date of
/// introduction is not known are covered from here on only.
pub const COVERAGE_START: Date = Date::constant(2024, 1, 1);

/// A date-dependent provision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Provision {
    /// § 41 Abs. 2 VwVfG: Bekanntgabefiktion (deemed notification) by post
    /// (Satz 1) and electronically (Satz 2).
    VwVfG41Abs2,
    /// § 5 Abs. 7 Satz 2 VwZG: Zustellungsfiktion for electronic service
    /// against Empfangsbekenntnis (acknowledgement of receipt).
    VwZG5Abs7,
    /// § 5a Abs. 4 VwZG: Zustellungsfiktion for De-Mail service against
    /// Abholbestätigung (and § 5a as a whole).
    VwZG5aAbs4,
    /// § 3a Abs. 3 Nr. 2 lit. d and Nr. 3 lit. b VwVfG: De-Mail (absenderbestätigt,
    /// sender-confirmed) replaces the written form (Schriftform).
    VwVfG3aDeMail,
    /// De-Mail-Gesetz as a whole.
    DeMailG,
}

impl Provision {
    /// All provisions.
    pub const ALL: [Provision; 5] = [
        Provision::VwVfG41Abs2,
        Provision::VwZG5Abs7,
        Provision::VwZG5aAbs4,
        Provision::VwVfG3aDeMail,
        Provision::DeMailG,
    ];

    /// Short citation, e.g. "§ 5a Abs. 4 VwZG".
    pub fn citation(self) -> &'static str {
        match self {
            Provision::VwVfG41Abs2 => "§ 41 Abs. 2 VwVfG",
            Provision::VwZG5Abs7 => "§ 5 Abs. 7 Satz 2 VwZG",
            Provision::VwZG5aAbs4 => "§ 5a Abs. 4 VwZG",
            Provision::VwVfG3aDeMail => "§ 3a Abs. 3 Nr. 2 lit. d, Nr. 3 lit. b VwVfG (De-Mail)",
            Provision::DeMailG => "De-Mail-G",
        }
    }

    /// First day in force (or of coverage), with an explanation; `None` if in
    /// force before 1990.
    fn start(self) -> Option<(Date, &'static str)> {
        match self {
            // Satz 1 (post) dates from the VwVfG of 1976; Satz 2 is checked separately.
            Provision::VwVfG41Abs2 => None,
            Provision::VwZG5Abs7 => Some((
                COVERAGE_START,
                "covered only from 2024-01-01, the earliest VwZG text at hand; the date the \
                 electronic fiction was introduced is not modelled",
            )),
            Provision::VwZG5aAbs4 | Provision::DeMailG => Some((
                DEMAIL_G_FIRST_DAY,
                "enacted by the Gesetz vom 28.04.2011 (BGBl. I S. 666), in force from \
                 2011-05-03 (from general knowledge)",
            )),
            Provision::VwVfG3aDeMail => Some((
                COVERAGE_START,
                "covered only from 2024-01-01, the earliest VwVfG text at hand; the De-Mail \
                 route dates from the E-Government-Gesetz of 2013, exact date not modelled",
            )),
        }
    }

    /// First day *not* in force any more; `None` if not repealed.
    fn end_day(self) -> Option<Date> {
        match self {
            Provision::VwVfG41Abs2 | Provision::VwZG5Abs7 => None,
            Provision::VwZG5aAbs4 | Provision::VwVfG3aDeMail => Some(REPEAL_DEMAIL_ROUTES),
            Provision::DeMailG => Some(DEMAIL_G_EXPIRED),
        }
    }

    /// Why the provision is no longer in force from [`Provision::end_day`] on.
    fn end_reason(self) -> String {
        match self {
            Provision::DeMailG => format!(
                "expired after {DEMAIL_G_LAST_DAY} by § 26 De-Mail-G (Fassung \
                 {FIRST_TEXT_WITHOUT_DEMAIL_ROUTES})"
            ),
            _ => format!(
                "repealed with effect from {REPEAL_DEMAIL_ROUTES} — an assumed date: the \
                 consolidated texts still have it on {LAST_TEXT_WITH_DEMAIL_ROUTES} and no \
                 longer on {FIRST_TEXT_WITHOUT_DEMAIL_ROUTES}"
            ),
        }
    }
}

impl fmt::Display for Provision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.citation())
    }
}

/// Checks that `provision` is in force on `date`. On success, returns its
/// citation with the version of the text for that date.
pub fn check_in_force(provision: Provision, date: Date) -> Result<String, LawError> {
    ensure_in_force(provision, date)?;
    Ok(in_force_citation(provision, date))
}

/// The check of [`check_in_force`] without building the citation.
pub(crate) fn ensure_in_force(provision: Provision, date: Date) -> Result<(), LawError> {
    if let Some((first, why)) = provision.start()
        && date < first
    {
        return Err(LawError::NotInForce {
            provision: provision.citation().to_string(),
            date,
            detail: why.to_string(),
        });
    }
    if let Some(gone) = provision.end_day()
        && date >= gone
    {
        return Err(LawError::NotInForce {
            provision: provision.citation().to_string(),
            date,
            detail: provision.end_reason(),
        });
    }
    Ok(())
}

/// The citation that [`check_in_force`] returns for a provision in force.
pub(crate) fn in_force_citation(provision: Provision, date: Date) -> String {
    if provision == Provision::DeMailG {
        return demail_g(provision.citation(), date);
    }
    dated(provision.citation(), date)
}

/// The number of days of the Bekanntgabe-/Zustellungsfiktion for a document
/// sent on `sent`: 3 until 2024-12-31, 4 from 2025-01-01 (PostModG), with the
/// source of that number.
pub fn fiction_days(sent: Date) -> (u8, String) {
    let (days, source) = fiction_count(sent);
    (days, source.to_string())
}

/// [`fiction_days`] without allocating.
pub(crate) fn fiction_count(sent: Date) -> (u8, &'static str) {
    if sent < POSTMODG_IN_FORCE {
        (
            3,
            "\"am dritten Tag\" in the texts of 2024-01-01 (before the PostModG)",
        )
    } else {
        (
            4,
            "\"am vierten Tag\" since 2025-01-01: PostModG vom 15.07.2024 (BGBl. 2024 I \
             Nr. 236), for documents sent from 2025-01-01",
        )
    }
}

/// The status of one provision on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionStatus {
    /// The provision.
    pub provision: Provision,
    /// Whether it is in force.
    pub in_force: bool,
    /// Citation with text version if in force, else the reason why not.
    pub detail: String,
}

/// All date-dependent rules for one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regime {
    /// The day.
    #[serde(with = "serde_iso")]
    pub date: Date,
    /// Days of the Fiktion for a document sent that day (3 or 4).
    pub fiction_days: u8,
    /// Source of `fiction_days`.
    pub fiction_source: String,
    /// Every [`Provision`], in the order of [`Provision::ALL`].
    pub provisions: Vec<ProvisionStatus>,
}

impl Regime {
    /// Whether `provision` is in force on this regime's day.
    pub fn in_force(&self, provision: Provision) -> bool {
        self.provisions
            .iter()
            .any(|s| s.provision == provision && s.in_force)
    }
}

/// The legal regime on `date`.
pub fn regime(date: Date) -> Regime {
    let (fiction_days, fiction_source) = fiction_days(date);
    let provisions = Provision::ALL
        .iter()
        .map(|&provision| match check_in_force(provision, date) {
            Ok(citation) => ProvisionStatus {
                provision,
                in_force: true,
                detail: citation,
            },
            Err(err) => ProvisionStatus {
                provision,
                in_force: false,
                detail: err.to_string(),
            },
        })
        .collect();
    Regime {
        date,
        fiction_days,
        fiction_source,
        provisions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::constant(y, m, day)
    }

    #[test]
    fn fiction_days_by_date() {
        // VwVfG_excerpt_2024-01-01.md: "am dritten Tag"; _2025-01-20.md: "am vierten Tag".
        assert_eq!(fiction_days(d(2024, 12, 31)).0, 3);
        assert_eq!(fiction_days(d(2025, 1, 1)).0, 4);
        assert_eq!(regime(d(2026, 5, 4)).fiction_days, 4);
    }

    #[test]
    fn demail_routes_by_date() {
        // VwZG_2026-05-04.md has § 5a; VwZG_2026-07-19.md does not.
        let may = regime(LAST_TEXT_WITH_DEMAIL_ROUTES);
        assert!(may.in_force(Provision::VwZG5aAbs4));
        assert!(may.in_force(Provision::VwVfG3aDeMail));
        let july = regime(FIRST_TEXT_WITHOUT_DEMAIL_ROUTES);
        assert!(!july.in_force(Provision::VwZG5aAbs4));
        assert!(!july.in_force(Provision::VwVfG3aDeMail));
        // § 5 Abs. 7 VwZG is still in the 2026-07-19 text.
        assert!(july.in_force(Provision::VwZG5Abs7));
        // § 26 De-Mail-G (Fassung 2026-07-19): in force until the end of 2026-12-31.
        assert!(july.in_force(Provision::DeMailG));
        assert!(regime(d(2026, 12, 31)).in_force(Provision::DeMailG));
        assert!(!regime(d(2027, 1, 1)).in_force(Provision::DeMailG));
    }

    #[test]
    fn outside_period_is_an_error() {
        // Project brief: "§ 5a VwZG not in force on 2027-01-04 (repealed with effect from …)".
        let err = check_in_force(Provision::VwZG5aAbs4, d(2027, 1, 4)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "§ 5a Abs. 4 VwZG not in force on 2027-01-04 (repealed with effect from 2026-07-01"
            ),
            "{msg}"
        );
        let err = check_in_force(Provision::DeMailG, d(2027, 1, 4)).unwrap_err();
        assert!(
            err.to_string()
                .contains("§ 26 De-Mail-G (Fassung 2026-07-19)"),
            "{err}"
        );
        // Before coverage: an error, not a silent default.
        assert!(check_in_force(Provision::VwZG5Abs7, d(2020, 1, 1)).is_err());
        assert_eq!(
            check_in_force(Provision::VwZG5aAbs4, d(2025, 11, 3)),
            Ok("§ 5a Abs. 4 VwZG (Fassung 2025-01-20)".to_string())
        );
    }
}
