//! Fristberechnung (computation of legal periods) per §§ 187–193 BGB, as applied
//! by § 31 VwVfG (administrative procedure) and § 57 Abs. 2 VwGO with § 222 ZPO
//! (court procedure).
//!
//! Rules implemented (texts in `shared/reference/law/BGB_186-193.md` and
//! `VwVfG_excerpt_*.md`):
//! - § 187 Abs. 1 BGB: the day of the event is not counted.
//! - § 188 Abs. 1 BGB: a period in days ends at the end of its last day.
//! - § 188 Abs. 2 BGB: a period in weeks, months or years ends on the day with
//!   the same weekday name or day number as the event day.
//! - § 188 Abs. 3 BGB: if that day number is missing in the last month, the
//!   period ends on the last day of that month (31 Jan + 1 month = 28/29 Feb).
//! - § 193 BGB, § 31 Abs. 3 VwVfG, § 222 Abs. 2 ZPO: an end on a Saturday,
//!   Sunday or holiday at the place moves to the next working day.
//!
//! Not implemented (see `calendar.md`): § 187 Abs. 2 (periods starting at the
//! beginning of a day), § 189 (half months), § 191 (non-continuous periods),
//! § 31 Abs. 6 VwVfG hour periods (see the provider rules in `procedure_rules.rs`).

use super::holidays::{HolidayCalendar, add_days, check_year, holidays_on, is_weekend};
use super::land::Place;
use super::texts::{dated, undated};
use super::{LawError, Narrator, Quiet, Step, day_label, serde_iso};
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The unit of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeriodUnit {
    /// Days (§ 188 Abs. 1 BGB).
    Days,
    /// Weeks (§ 188 Abs. 2 BGB).
    Weeks,
    /// Months (§ 188 Abs. 2, 3 BGB).
    Months,
    /// Years, counted as 12 months (§ 188 Abs. 2 BGB).
    Years,
}

/// A period (Frist) such as "1 month" or "3 days".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// How many units; at least 1.
    pub amount: u32,
    /// The unit.
    pub unit: PeriodUnit,
}

impl Period {
    /// `n` days.
    pub fn days(n: u32) -> Self {
        Period {
            amount: n,
            unit: PeriodUnit::Days,
        }
    }
    /// `n` weeks.
    pub fn weeks(n: u32) -> Self {
        Period {
            amount: n,
            unit: PeriodUnit::Weeks,
        }
    }
    /// `n` months.
    pub fn months(n: u32) -> Self {
        Period {
            amount: n,
            unit: PeriodUnit::Months,
        }
    }
    /// `n` years.
    pub fn years(n: u32) -> Self {
        Period {
            amount: n,
            unit: PeriodUnit::Years,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            PeriodUnit::Days => "day",
            PeriodUnit::Weeks => "week",
            PeriodUnit::Months => "month",
            PeriodUnit::Years => "year",
        };
        let plural = if self.amount == 1 { "" } else { "s" };
        write!(f, "{} {unit}{plural}", self.amount)
    }
}

/// Which procedural law applies the BGB rules, which decides the citations.
/// The arithmetic is the same for all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Basis {
    /// §§ 187–193 BGB directly.
    Bgb,
    /// Administrative procedure: § 31 Abs. 1 VwVfG applies §§ 187–188 BGB; the
    /// end moves by § 31 Abs. 3 VwVfG.
    VwVfG,
    /// Court procedure: § 57 Abs. 2 VwGO applies § 222 ZPO, which applies
    /// §§ 187–188 BGB; the end moves by § 222 Abs. 2 ZPO.
    VwGO,
}

impl Basis {
    /// Citation of a counting rule ("§ 187 Abs. 1 BGB") under this basis.
    fn counting(self, bgb: &str, on: Date) -> String {
        let bgb = undated(bgb, on);
        match self {
            Basis::Bgb => bgb,
            Basis::VwVfG => format!("{bgb} via {}", dated("§ 31 Abs. 1 VwVfG", on)),
            Basis::VwGO => format!(
                "{bgb} via {} and § 222 Abs. 1 ZPO (ZPO text not in reference folder)",
                undated("§ 57 Abs. 2 VwGO", on)
            ),
        }
    }

    /// Citation of the rule that moves an end off weekends and holidays.
    fn shifting(self, on: Date) -> String {
        match self {
            Basis::Bgb => undated("§ 193 BGB", on),
            Basis::VwVfG => dated("§ 31 Abs. 3 VwVfG", on),
            Basis::VwGO => format!(
                "§ 222 Abs. 2 ZPO (ZPO text not in reference folder) via {}",
                undated("§ 57 Abs. 2 VwGO", on)
            ),
        }
    }
}

/// The result of a Fristberechnung, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FristEnd {
    /// The event day (not counted).
    #[serde(with = "serde_iso")]
    pub event: Date,
    /// The period.
    pub period: Period,
    /// The end by §§ 187–188 BGB alone.
    #[serde(with = "serde_iso")]
    pub unshifted_end: Date,
    /// The end after moving off weekends and holidays (the same as
    /// `unshifted_end` for [`period_end`]). The period ends at 24:00 of this day.
    #[serde(with = "serde_iso")]
    pub end: Date,
    /// The explanation, one step per rule applied.
    pub steps: Vec<Step>,
}

/// Counts a period from an event by §§ 187–188 BGB, without moving the end
/// off weekends or holidays. Use this for waiting periods ("nicht vor Ablauf",
/// not before the expiry) and for periods § 193 BGB does not cover.
pub fn period_end(event: Date, period: Period, basis: Basis) -> Result<FristEnd, LawError> {
    let mut steps = Vec::new();
    let end = count_period(event, period, basis, &mut steps)?;
    Ok(FristEnd {
        event,
        period,
        unshifted_end: end,
        end,
        steps,
    })
}

/// The date of [`period_end`] without the explanation (the same for every [`Basis`]).
pub fn period_end_date(event: Date, period: Period) -> Result<Date, LawError> {
    count_period(event, period, Basis::Bgb, &mut Quiet)
}

/// §§ 187–188 BGB: the arithmetic of [`period_end`] and [`period_end_date`].
pub(crate) fn count_period<N: Narrator>(
    event: Date,
    period: Period,
    basis: Basis,
    n: &mut N,
) -> Result<Date, LawError> {
    if period.amount == 0 {
        return Err(LawError::InvalidPeriod {
            reason: format!(
                "a period of 0 {:?} has no end; give at least 1",
                period.unit
            ),
        });
    }
    check_year(i32::from(event.year()))?;
    n.step(|| {
        Step::new(
            format!("event {} not counted", day_label(event)),
            basis.counting("§ 187 Abs. 1 BGB", event),
        )
    });
    let amount = i64::from(period.amount);
    match period.unit {
        PeriodUnit::Days => {
            let end = add_days(event, amount)?;
            n.step(|| {
                Step::new(
                    format!("{period} after the event → last day {}", day_label(end)),
                    basis.counting("§ 188 Abs. 1 BGB", event),
                )
            });
            Ok(end)
        }
        PeriodUnit::Weeks => {
            let end = add_days(event, 7 * amount)?;
            n.step(|| {
                Step::new(
                    format!(
                        "{period} → the same weekday as the event: {}",
                        day_label(end)
                    ),
                    basis.counting("§ 188 Abs. 2 BGB", event),
                )
            });
            Ok(end)
        }
        PeriodUnit::Months | PeriodUnit::Years => {
            let months = if period.unit == PeriodUnit::Years {
                12 * amount
            } else {
                amount
            };
            add_months(event, months, period, basis, n)
        }
    }
}

/// § 188 Abs. 2 and 3 BGB for months (and years as 12 months).
fn add_months<N: Narrator>(
    event: Date,
    months: i64,
    period: Period,
    basis: Basis,
    n: &mut N,
) -> Result<Date, LawError> {
    let index = i64::from(event.year()) * 12 + i64::from(event.month() - 1) + months;
    let year = index.div_euclid(12);
    let month = (index.rem_euclid(12) + 1) as i8;
    let year = check_year(i32::try_from(year).unwrap_or(i32::MAX))?;
    let first = Date::new(year, month, 1)
        .map_err(|e| LawError::arithmetic(format!("{year}-{month}-01"), e))?;
    let wanted = event.day();
    let last = first.days_in_month();
    let label = || format!("{year:04}-{month:02}");
    if wanted <= last {
        let end = Date::new(year, month, wanted)
            .map_err(|e| LawError::arithmetic(format!("{year}-{month}-{wanted}"), e))?;
        n.step(|| {
            Step::new(
                format!(
                    "{period} → the day with the same number ({wanted}) in {}: {}",
                    label(),
                    day_label(end)
                ),
                basis.counting("§ 188 Abs. 2 BGB", event),
            )
        });
        Ok(end)
    } else {
        let end = first.last_of_month();
        n.step(|| {
            Step::new(
                format!(
                    "{period} → day {wanted} is missing in {}, so the period ends on the \
                     last day of that month: {}",
                    label(),
                    day_label(end)
                ),
                basis.counting("§ 188 Abs. 3 BGB", event),
            )
        });
        Ok(end)
    }
}

/// Why `date`, a day that is not a working day at the place of `calendar`, is
/// not one (`holiday`: whether it is a holiday there).
fn non_working_reason(
    calendar: &HolidayCalendar<'_>,
    date: Date,
    holiday: bool,
) -> Result<String, LawError> {
    let place = calendar.place();
    if holiday {
        let holidays = holidays_on(place, date)?;
        let names: Vec<&str> = holidays.iter().map(|h| h.name.as_str()).collect();
        return Ok(format!(
            "{} is a holiday in {place} ({})",
            day_label(date),
            names.join(", ")
        ));
    }
    Ok(match date.weekday() {
        Weekday::Saturday => format!("{date} is a Saturday"),
        _ => format!("{date} is a Sunday"),
    })
}

/// Moves `date` to the next working day at the place of `calendar`; returns
/// the new date and, if `N` explains, the reasons for each day skipped (empty
/// if `date` is a working day). Whether a day was moved is `new != date`.
pub(crate) fn next_working_day<N: Narrator>(
    calendar: &mut HolidayCalendar<'_>,
    date: Date,
) -> Result<(Date, Vec<String>), LawError> {
    let mut day = date;
    let mut reasons = Vec::new();
    // A run of non-working days is at most a few days long (e.g. Christmas
    // plus a weekend); the bound only guards against a logic error.
    for _ in 0..14 {
        let holiday = calendar.is_holiday(day)?;
        if !holiday && !is_weekend(day) {
            return Ok((day, reasons));
        }
        if N::EXPLAINS {
            reasons.push(non_working_reason(calendar, day, holiday)?);
        }
        day = add_days(day, 1)?;
    }
    Err(LawError::DateArithmetic {
        detail: format!(
            "no working day within 14 days after {date} in {}",
            calendar.place()
        ),
    })
}

/// Full Fristberechnung: counts the period (§§ 187–188 BGB) and moves an end on
/// a Saturday, Sunday or holiday at `place` to the next working day (§ 193 BGB,
/// § 31 Abs. 3 VwVfG, § 222 Abs. 2 ZPO, depending on `basis`).
pub fn frist_end(
    event: Date,
    period: Period,
    place: &Place,
    basis: Basis,
) -> Result<FristEnd, LawError> {
    let mut steps = Vec::new();
    let mut calendar = HolidayCalendar::new(place);
    let (unshifted_end, end) = shifted_end(event, period, &mut calendar, basis, &mut steps)?;
    Ok(FristEnd {
        event,
        period,
        unshifted_end,
        end,
        steps,
    })
}

/// The end date of [`frist_end`] without the explanation: the same date and the
/// same errors, several times faster. The [`Basis`] only changes citations, so
/// it is not needed here.
pub fn frist_end_date(event: Date, period: Period, place: &Place) -> Result<Date, LawError> {
    let mut calendar = HolidayCalendar::new(place);
    let (_, end) = shifted_end(event, period, &mut calendar, Basis::Bgb, &mut Quiet)?;
    Ok(end)
}

/// The Fristberechnung of [`frist_end`] and [`frist_end_date`]: returns the end
/// by §§ 187–188 BGB and the end moved to a working day.
pub(crate) fn shifted_end<N: Narrator>(
    event: Date,
    period: Period,
    calendar: &mut HolidayCalendar<'_>,
    basis: Basis,
    n: &mut N,
) -> Result<(Date, Date), LawError> {
    let unshifted = count_period(event, period, basis, n)?;
    let (end, reasons) = next_working_day::<N>(calendar, unshifted)?;
    n.step(|| {
        let place = calendar.place();
        let source = basis.shifting(event);
        if end == unshifted {
            Step::new(
                format!(
                    "{} is a working day in {place} → the period ends at 24:00 that day",
                    day_label(end)
                ),
                source,
            )
        } else {
            Step::new(
                format!(
                    "end {} → moved to {}; the period ends at 24:00 that day",
                    reasons.join(", "),
                    day_label(end)
                ),
                source,
            )
        }
    });
    Ok((unshifted, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::land::Land;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::constant(y, m, day)
    }

    #[test]
    fn month_end_rule() {
        // § 188 Abs. 3 BGB: 31 Jan + 1 month ends on the last day of February.
        let r = period_end(d(2025, 1, 31), Period::months(1), Basis::Bgb).unwrap();
        assert_eq!(r.end, d(2025, 2, 28));
        assert!(r.steps[1].source.starts_with("§ 188 Abs. 3 BGB"));
        let r = period_end(d(2024, 1, 31), Period::months(1), Basis::Bgb).unwrap();
        assert_eq!(r.end, d(2024, 2, 29), "2024 is a leap year");
        // § 188 Abs. 2 BGB: 31 Mar + 1 month → 30 Apr has no 31st → § 188 Abs. 3.
        let r = period_end(d(2025, 3, 31), Period::months(1), Basis::Bgb).unwrap();
        assert_eq!(r.end, d(2025, 4, 30));
        // Year across a leap day: 29 Feb 2024 + 1 year → 28 Feb 2025 (§ 188 Abs. 2, 3 BGB).
        let r = period_end(d(2024, 2, 29), Period::years(1), Basis::Bgb).unwrap();
        assert_eq!(r.end, d(2025, 2, 28));
    }

    #[test]
    fn days_and_weeks() {
        // § 188 Abs. 1 BGB: 3 days after Wed 29.10.2025 = Sat 01.11.2025.
        let r = period_end(d(2025, 10, 29), Period::days(3), Basis::Bgb).unwrap();
        assert_eq!(r.end, d(2025, 11, 1));
        // § 188 Abs. 2 BGB: 2 weeks after a Wednesday end on a Wednesday.
        let r = period_end(d(2025, 10, 29), Period::weeks(2), Basis::Bgb).unwrap();
        assert_eq!(r.end, d(2025, 11, 12));
        assert_eq!(r.end.weekday(), Weekday::Wednesday);
    }

    #[test]
    fn weekend_shift() {
        // § 31 Abs. 3 VwVfG: end Sat 01.11.2025 → Mon 03.11.2025 (no holiday on 3.11. in SN).
        let sn = Place::municipality(Land::Sachsen, "Dresden");
        let r = frist_end(d(2025, 10, 29), Period::days(3), &sn, Basis::VwVfG).unwrap();
        assert_eq!(r.unshifted_end, d(2025, 11, 1));
        assert_eq!(r.end, d(2025, 11, 3));
        let last = r.steps.last().unwrap();
        assert!(last.text.contains("2025-11-01 is a Saturday"), "{last}");
        assert!(last.text.contains("moved to 2025-11-03 (Mon)"), "{last}");
        assert_eq!(last.source, "§ 31 Abs. 3 VwVfG (Fassung 2025-01-20)");
        assert_eq!(r.steps[0].text, "event 2025-10-29 (Wed) not counted");
    }

    #[test]
    fn holiday_shift_across_christmas() {
        // § 193 BGB: end Thu 25.12.2025 (holiday), Fri 26.12. (holiday), Sat, Sun → Mon 29.12.
        let by = Place::land(Land::Bayern);
        let r = frist_end(d(2025, 11, 25), Period::months(1), &by, Basis::Bgb).unwrap();
        assert_eq!(r.unshifted_end, d(2025, 12, 25));
        assert_eq!(r.end, d(2025, 12, 29));
        assert!(r.steps.last().unwrap().text.contains("1. Weihnachtstag"));
    }

    #[test]
    fn reformationstag_shift_depends_on_land() {
        // § 1 SächsSFG: 31.10.2025 (Fri) is a holiday in SN, not in BY (Art. 1 FTG).
        let event = d(2025, 10, 28); // Tue + 3 days = Fri 31.10.
        let sn = frist_end(
            event,
            Period::days(3),
            &Place::land(Land::Sachsen),
            Basis::VwVfG,
        );
        assert_eq!(sn.unwrap().end, d(2025, 11, 3));
        let by = frist_end(
            event,
            Period::days(3),
            &Place::land(Land::Bayern),
            Basis::VwVfG,
        );
        assert_eq!(by.unwrap().end, d(2025, 10, 31));
    }

    #[test]
    fn bad_periods_are_errors() {
        // Project brief: bad input gives a typed error, never a panic.
        let sn = Place::land(Land::Sachsen);
        assert!(matches!(
            frist_end(d(2025, 1, 1), Period::days(0), &sn, Basis::Bgb),
            Err(LawError::InvalidPeriod { .. })
        ));
        assert!(matches!(
            frist_end(d(2025, 1, 1), Period::years(200), &sn, Basis::Bgb),
            Err(LawError::YearOutOfRange { .. })
        ));
        let huge = frist_end(d(2025, 1, 1), Period::days(u32::MAX), &sn, Basis::Bgb);
        assert!(
            matches!(huge, Err(LawError::DateArithmetic { .. })),
            "{huge:?}"
        );
    }
}
