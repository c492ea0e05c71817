//! Fiktionstage (fiction days): the day on which a document "gilt als bekannt
//! gegeben" (is deemed notified, Bekanntgabefiktion) or "gilt als zugestellt"
//! (is deemed served, Zustellungsfiktion), "am dritten/vierten Tag nach der
//! Absendung" (on the 3rd/4th day after sending).
//!
//! The number of days depends on the day of sending (see
//! [`super::regime::fiction_days`]): 3 until 2024-12-31, 4 from 2025-01-01.
//! The days are calendar days; holidays inside the count do not extend it.
//!
//! Disputed point: does the fiction day itself move to the next working day when
//! it falls on a Saturday, Sunday or holiday? [`FictionShift`] makes this an
//! explicit choice. Default: [`FictionShift::NoShift`], because
//! - § 41 Abs. 2 VwVfG and § 5a Abs. 4 VwZG fix a day ("gilt am vierten Tag …
//!   als bekannt gegeben"), a point in time (Termin), while § 31 Abs. 3 VwVfG
//!   and § 193 BGB move only "das Ende einer Frist" (the end of a period);
//! - demail-notes § 2.5 "Disputed point" recommends the shift as default only for
//!   the AO (tax code), where the BFH applies § 108 Abs. 3 AO; this module is
//!   for VwVfG/VwZG procedures, and the notes' "Worked example" uses no shift;
//! - no shift gives the earlier (or same) fiction day and hence the earlier
//!   deadline, so a party that keeps the computed deadline is on time under
//!   either view. (For an authority relying on the date of notification, e.g.
//!   for enforcement, the shift view gives the later, safer date: choose
//!   [`FictionShift::ShiftToWorkingDay`] there.)

use super::frist::next_working_day;
use super::holidays::{HolidayCalendar, add_days};
use super::land::Place;
use super::regime::{Provision, VWVFG_41_ELECTRONIC_FIRST_DAY, ensure_in_force, fiction_count};
use super::texts::dated;
use super::{LawError, Narrator, Quiet, Step, day_label, serde_iso};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Whether a fiction day on a Saturday, Sunday or holiday moves to the next
/// working day. Disputed; see the module documentation for the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FictionShift {
    /// The fiction day stays where it falls (default).
    #[default]
    NoShift,
    /// The fiction day moves to the next working day, applying § 31 Abs. 3
    /// VwVfG / § 193 BGB by analogy.
    ShiftToWorkingDay,
}

/// Which fiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FictionKind {
    /// § 41 Abs. 2 Satz 1 VwVfG: written VA (administrative act) sent by post in Germany.
    BekanntgabePost,
    /// § 41 Abs. 2 Satz 2 VwVfG: VA transmitted electronically (e.g. by De-Mail).
    BekanntgabeElektronisch,
    /// § 5 Abs. 7 Satz 2 VwZG: electronic service against Empfangsbekenntnis.
    ZustellungEmpfangsbekenntnis,
    /// § 5a Abs. 4 VwZG: De-Mail service against Abholbestätigung.
    ZustellungAbholung,
}

impl FictionKind {
    /// The provision with sentence, e.g. "§ 41 Abs. 2 Satz 2 VwVfG".
    pub fn citation(self) -> &'static str {
        match self {
            FictionKind::BekanntgabePost => "§ 41 Abs. 2 Satz 1 VwVfG",
            FictionKind::BekanntgabeElektronisch => "§ 41 Abs. 2 Satz 2 VwVfG",
            FictionKind::ZustellungEmpfangsbekenntnis => "§ 5 Abs. 7 Satz 2 VwZG",
            FictionKind::ZustellungAbholung => "§ 5a Abs. 4 Satz 1 VwZG",
        }
    }

    /// The provision that must be in force on the day of sending.
    fn provision(self) -> Provision {
        match self {
            FictionKind::BekanntgabePost | FictionKind::BekanntgabeElektronisch => {
                Provision::VwVfG41Abs2
            }
            FictionKind::ZustellungEmpfangsbekenntnis => Provision::VwZG5Abs7,
            FictionKind::ZustellungAbholung => Provision::VwZG5aAbs4,
        }
    }

    /// What the fiction makes of the document.
    fn effect(self) -> &'static str {
        match self {
            FictionKind::BekanntgabePost | FictionKind::BekanntgabeElektronisch => {
                "bekannt gegeben (deemed notified)"
            }
            _ => "zugestellt (deemed served)",
        }
    }

    /// The rebuttal clause.
    fn rebuttal(self) -> (&'static str, &'static str) {
        match self {
            FictionKind::BekanntgabePost | FictionKind::BekanntgabeElektronisch => (
                "rebuttable: does not apply if the document was not received or received \
                 later; in case of doubt the authority must prove receipt",
                "§ 41 Abs. 2 Satz 3 VwVfG",
            ),
            FictionKind::ZustellungEmpfangsbekenntnis => (
                "only if no Empfangsbekenntnis reaches the authority by that day; rebuttable \
                 by the recipient proving non-receipt or later receipt",
                "§ 5 Abs. 7 Satz 2, 3 VwZG",
            ),
            FictionKind::ZustellungAbholung => (
                "only if the recipient opened the De-Mail-Postfach as a Zugang and no \
                 Abholbestätigung reaches the authority by that day; rebuttable by the \
                 recipient proving non-receipt or later receipt",
                "§ 5a Abs. 4 Satz 1, 2 VwZG",
            ),
        }
    }
}

/// The computed fiction day with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FictionDay {
    /// Which fiction.
    pub kind: FictionKind,
    /// Day of sending (Absendung / Aufgabe zur Post).
    #[serde(with = "serde_iso")]
    pub sent: Date,
    /// 3 or 4.
    pub days: u8,
    /// The `days`-th calendar day after sending.
    #[serde(with = "serde_iso")]
    pub unshifted: Date,
    /// The fiction day after applying `shift`.
    #[serde(with = "serde_iso")]
    pub day: Date,
    /// The shift option used.
    pub shift: FictionShift,
    /// The explanation.
    pub steps: Vec<Step>,
}

/// Computes the fiction day for a document sent on `sent` to a recipient at
/// `place` (whose holidays matter only for [`FictionShift::ShiftToWorkingDay`]).
/// Errors if the fiction's provision is not in force on the day of sending.
pub fn fiction_day(
    kind: FictionKind,
    sent: Date,
    place: &Place,
    shift: FictionShift,
) -> Result<FictionDay, LawError> {
    let mut steps = Vec::new();
    let mut calendar = HolidayCalendar::new(place);
    let (days, unshifted, day) = fiction_with(kind, sent, &mut calendar, shift, &mut steps)?;
    Ok(FictionDay {
        kind,
        sent,
        days,
        unshifted,
        day,
        shift,
        steps,
    })
}

/// The day of [`fiction_day`] without the explanation: the same day and the
/// same errors.
pub fn fiction_day_date(
    kind: FictionKind,
    sent: Date,
    place: &Place,
    shift: FictionShift,
) -> Result<Date, LawError> {
    let mut calendar = HolidayCalendar::new(place);
    let (_, _, day) = fiction_with(kind, sent, &mut calendar, shift, &mut Quiet)?;
    Ok(day)
}

/// The computation of [`fiction_day`] and [`fiction_day_date`]: returns the
/// number of days, the unshifted and the final fiction day.
pub(crate) fn fiction_with<N: Narrator>(
    kind: FictionKind,
    sent: Date,
    calendar: &mut HolidayCalendar<'_>,
    shift: FictionShift,
    n: &mut N,
) -> Result<(u8, Date, Date), LawError> {
    ensure_in_force(kind.provision(), sent)?;
    if kind == FictionKind::BekanntgabeElektronisch && sent < VWVFG_41_ELECTRONIC_FIRST_DAY {
        return Err(LawError::NotInForce {
            provision: kind.citation().to_string(),
            date: sent,
            detail: format!(
                "electronic Bekanntgabe was added with effect from \
                 {VWVFG_41_ELECTRONIC_FIRST_DAY} by the 3. VwVfÄndG (from general knowledge)"
            ),
        });
    }
    let citation = || dated(kind.citation(), sent);
    let (days, days_source) = fiction_count(sent);
    n.step(|| {
        Step::new(
            format!(
                "sent on {}; the document gilt als {} on day {days} after sending",
                day_label(sent),
                kind.effect()
            ),
            format!("{}: {days_source}", citation()),
        )
    });
    let unshifted = add_days(sent, i64::from(days))?;
    n.step(|| {
        Step::new(
            format!(
                "day {days} after sending = {} (calendar days; holidays within the count do \
                 not extend it)",
                day_label(unshifted)
            ),
            citation(),
        )
    });
    let (moved, reasons) = next_working_day::<N>(calendar, unshifted)?;
    let place = calendar.place();
    let shift_source = || dated("§ 31 Abs. 3 VwVfG", sent);
    let day = if moved == unshifted {
        n.step(|| {
            Step::new(
                format!(
                    "{} is a working day in {place}, so the disputed shift question does not \
                     arise",
                    day_label(unshifted)
                ),
                shift_source(),
            )
        });
        unshifted
    } else {
        match shift {
            FictionShift::NoShift => {
                n.step(|| {
                    Step::new(
                        format!(
                            "{}: not moved (FictionShift::NoShift) — the fiction fixes a day, \
                             not the end of a period, so {} is not applied; disputed",
                            reasons.join(", "),
                            shift_source()
                        ),
                        "demail-notes § 2.5 \"Disputed point\" and \"Worked example\"; § 31 \
                         Abs. 3 VwVfG speaks of \"das Ende einer Frist\"",
                    )
                });
                unshifted
            }
            FictionShift::ShiftToWorkingDay => {
                n.step(|| {
                    Step::new(
                        format!(
                            "{} → moved to {} (FictionShift::ShiftToWorkingDay: § 31 Abs. 3 \
                             VwVfG applied to the fiction day; disputed)",
                            reasons.join(", "),
                            day_label(moved)
                        ),
                        format!(
                            "{}; demail-notes § 2.5 \"Disputed point\" (BFH view for § 122 AO \
                             with § 108 Abs. 3 AO)",
                            shift_source()
                        ),
                    )
                });
                moved
            }
        }
    };
    let (rebuttal, rebuttal_source) = kind.rebuttal();
    n.step(|| Step::new(rebuttal, dated(rebuttal_source, sent)));
    Ok((days, unshifted, day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::land::Land;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::constant(y, m, day)
    }

    #[test]
    fn worked_example_fiction_day() {
        // demail-notes § 2.5 "Worked example": sent Wed 29.10.2025 → day 4 = Sun 02.11.2025
        // without shift, Mon 03.11.2025 with shift (Fri 31.10. Reformationstag does not count).
        let dresden = Place::municipality(Land::Sachsen, "Dresden");
        let sent = d(2025, 10, 29);
        let kind = FictionKind::BekanntgabeElektronisch;
        let no = fiction_day(kind, sent, &dresden, FictionShift::default()).unwrap();
        assert_eq!((no.days, no.day), (4, d(2025, 11, 2)));
        let yes = fiction_day(kind, sent, &dresden, FictionShift::ShiftToWorkingDay).unwrap();
        assert_eq!(yes.day, d(2025, 11, 3));
        assert!(
            no.steps[0]
                .source
                .contains("§ 41 Abs. 2 Satz 2 VwVfG (Fassung 2025-01-20)")
        );
    }

    #[test]
    fn third_day_before_2025() {
        // VwVfG_excerpt_2024-01-01.md § 41 Abs. 2: "am dritten Tag nach der Absendung".
        // Sent Mon 30.12.2024 → day 3 = Thu 02.01.2025 (working day).
        let sn = Place::land(Land::Sachsen);
        let r = fiction_day(
            FictionKind::BekanntgabeElektronisch,
            d(2024, 12, 30),
            &sn,
            FictionShift::NoShift,
        )
        .unwrap();
        assert_eq!((r.days, r.day), (3, d(2025, 1, 2)));
        assert!(r.steps[0].source.contains("Fassung 2024-01-01"));
    }

    #[test]
    fn abholung_fiction_only_while_5a_in_force() {
        // VwZG_2026-07-19.md no longer has § 5a; REPEAL_DEMAIL_ROUTES = 2026-07-01 (assumed).
        let sn = Place::land(Land::Sachsen);
        let ok = fiction_day(
            FictionKind::ZustellungAbholung,
            d(2026, 5, 4),
            &sn,
            FictionShift::NoShift,
        );
        assert_eq!(ok.unwrap().day, d(2026, 5, 8));
        let err = fiction_day(
            FictionKind::ZustellungAbholung,
            d(2026, 8, 3),
            &sn,
            FictionShift::NoShift,
        )
        .unwrap_err();
        assert!(matches!(err, LawError::NotInForce { .. }), "{err}");
        // § 5 Abs. 7 VwZG stays (VwZG_2026-07-19.md): Mon 03.08.2026 + 4 = Fri 07.08.2026.
        let r = fiction_day(
            FictionKind::ZustellungEmpfangsbekenntnis,
            d(2026, 8, 3),
            &sn,
            FictionShift::NoShift,
        )
        .unwrap();
        assert_eq!(r.day, d(2026, 8, 7));
    }
}
