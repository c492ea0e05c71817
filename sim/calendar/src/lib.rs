//! Legal calendar for the De-Mail test-bed: Länder and municipalities, statutory
//! holidays (Feiertage), Fristberechnung (computation of legal periods) per
//! §§ 187–193 BGB and § 31 VwVfG, the date-dependent legal regime around De-Mail
//! (Bekanntgabefiktion = deemed notification on the 3rd/4th day, § 5a VwZG,
//! § 3a VwVfG, De-Mail-G expiry), and named procedure rules with their sources.
//!
//! Everything here is a pure function of its arguments: no clock, no I/O, no
//! hash maps. Bad input gives a [`LawError`], never a panic. Every holiday,
//! period and rule carries its legal source ("§ 31 Abs. 3 VwVfG (Fassung
//! 2025-01-20)"), and computed periods explain themselves step by step.
//!
//! Entry points:
//! - [`Land`], [`Place`], [`LocalHoliday`]: where a deadline runs (§ 193 BGB
//!   looks at the holidays of the Erklärungs- oder Leistungsort).
//! - [`holidays()`], [`is_holiday`], [`is_working_day`], [`easter_sunday`];
//!   [`holiday_days`] (a [`DaySet`] without names) and [`HolidayCalendar`] (a
//!   small per-place cache of those sets) for the fast path.
//! - [`frist_end`] with [`Period`] and [`Basis`]: the Fristberechnung.
//! - [`fiction_day`] with [`FictionKind`] and [`FictionShift`]: Bekanntgabe-/
//!   Zustellungsfiktion.
//! - [`regime()`], [`check_in_force`], [`Provision`], [`REPEAL_DEMAIL_ROUTES`]:
//!   which rules are in force on a date.
//! - [`compute`] with rule ids from [`RULE_IDS`]: named procedure rules.
//! - [`texts`]: the law texts at hand and the version a citation names for an
//!   event's date ("Fassung …", or a marked later text).
//! - Fast path without explanations: [`frist_end_date`], [`period_end_date`],
//!   [`fiction_day_date`], [`compute_date`]. They run the same code as the
//!   explaining functions (a crate-private `Narrator`) and return the same dates and errors.
//!
//! The reference doc is `docs/calendar.md`.

pub mod error;
#[cfg(test)]
mod fast_tests;
pub mod fiction;
pub mod frist;
pub mod holidays;
pub mod land;
pub mod procedure_rules;
pub mod regime;
pub mod texts;

pub use error::LawError;
pub use fiction::{FictionDay, FictionKind, FictionShift, fiction_day, fiction_day_date};
pub use frist::{Basis, FristEnd, Period, PeriodUnit, frist_end, frist_end_date, period_end_date};
pub use holidays::{
    DaySet, Holiday, HolidayCalendar, MAX_YEAR, MIN_YEAR, buss_und_bettag, easter_sunday,
    holiday_days, holidays, holidays_on, is_holiday, is_working_day,
};
pub use land::{Land, LocalHoliday, Observance, ObservanceBasis, Place};
pub use procedure_rules::{
    Deadline, DeadlineKind, Event, Options, RULE_IDS, When, compute, compute_date,
};
pub use regime::{
    DEMAIL_G_LAST_DAY, FIRST_TEXT_WITHOUT_DEMAIL_ROUTES, LAST_TEXT_WITH_DEMAIL_ROUTES,
    POSTMODG_IN_FORCE, Provision, ProvisionStatus, REPEAL_DEMAIL_ROUTES, Regime, check_in_force,
    fiction_days, regime,
};

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

/// One step of an explanation: a sentence in plain English and its legal source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What was done, e.g. "event 2025-10-29 (Wed) not counted".
    pub text: String,
    /// The legal source with the version in force on the event's date (see [`texts`]),
    /// e.g. "§ 31 Abs. 3 VwVfG (Fassung 2025-01-20)".
    pub source: String,
}

impl Step {
    pub(crate) fn new(text: impl Into<String>, source: impl Into<String>) -> Self {
        Step {
            text: text.into(),
            source: source.into(),
        }
    }
}

/// Receives the explanation steps of a computation. Each computation is
/// written once, generic over its narrator: with a `Vec<Step>` it collects the
/// steps (the explaining API, e.g. [`frist_end`]); with [`Quiet`] the steps are
/// never built (the fast API, e.g. [`frist_end_date`]). Decisions must depend
/// only on dates, never on the narrator, so both give the same result.
pub(crate) trait Narrator: Sized {
    /// Whether steps are kept (false: the closures given to `step` never run).
    const EXPLAINS: bool;
    /// Adds the step that `make` builds.
    fn step(&mut self, make: impl FnOnce() -> Step);
    /// An empty narrator of the same kind, for steps kept only under a condition.
    fn fresh(&self) -> Self;
    /// Appends the steps of a narrator from [`Narrator::fresh`].
    fn append(&mut self, other: Self);
}

impl Narrator for Vec<Step> {
    const EXPLAINS: bool = true;
    fn step(&mut self, make: impl FnOnce() -> Step) {
        self.push(make());
    }
    fn fresh(&self) -> Self {
        Vec::new()
    }
    fn append(&mut self, mut other: Self) {
        Vec::append(self, &mut other);
    }
}

/// The narrator of the fast path: keeps no steps and builds none.
pub(crate) struct Quiet;

impl Narrator for Quiet {
    const EXPLAINS: bool = false;
    fn step(&mut self, _make: impl FnOnce() -> Step) {}
    fn fresh(&self) -> Self {
        Quiet
    }
    fn append(&mut self, _other: Self) {}
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {}", self.text, self.source)
    }
}

/// Formats a date with its English weekday abbreviation: "2025-10-29 (Wed)".
pub fn day_label(date: Date) -> String {
    format!("{date} ({})", weekday_abbr(date.weekday()))
}

/// English three-letter weekday abbreviation.
pub fn weekday_abbr(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

/// Serde helpers that write jiff civil values as ISO 8601 strings
/// ("2025-10-29", "2025-10-29T14:30:00"), so that this module does not need
/// jiff's own `serde` feature.
pub mod serde_iso {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
    use std::fmt::Display;
    use std::str::FromStr;

    /// Serializes any `Display` value as a string.
    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    /// Deserializes any `FromStr` value from a string.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }

    /// The same for `Option<T>`.
    pub mod option {
        use super::*;

        /// Serializes `Some(v)` as a string and `None` as null.
        pub fn serialize<T: Display, S: Serializer>(
            value: &Option<T>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        /// Deserializes an optional string.
        pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            match Option::<String>::deserialize(d)? {
                Some(text) => text.parse().map(Some).map_err(D::Error::custom),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_label_shows_weekday() {
        // 2025-10-29 is a Wednesday (demail-notes "Worked example": "Wed 29.10.2025").
        assert_eq!(day_label(Date::constant(2025, 10, 29)), "2025-10-29 (Wed)");
    }
}
