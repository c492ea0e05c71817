//! Named procedure rules, addressable by id, and [`compute`], which turns an
//! event (a date, or a date and time for the provider rules) into a
//! [`Deadline`] with its kind, explanation steps and sources.
//!
//! | id | rule | kind |
//! |---|---|---|
//! | `gewerbe-empfang` | § 15 Abs. 1 GewO: receipt of a Gewerbeanzeige certified "innerhalb dreier Tage" | latest |
//! | `genehmigungsfiktion` | § 42a Abs. 2 VwVfG: 3 months from the complete documents | latest (decision), then deemed granted |
//! | `widerspruch` | § 70 Abs. 1 VwGO: 1 month after Bekanntgabe | latest |
//! | `ohne-belehrung` | § 58 Abs. 2 VwGO: 1 year if the Rechtsbehelfsbelehrung is missing or wrong | latest |
//! | `untaetigkeit` | § 75 Satz 2 VwGO: Untätigkeitsklage not before 3 months | earliest |
//! | `bekanntgabe-elektronisch` | § 41 Abs. 2 Satz 2 VwVfG: deemed notified on day 3/4 | effective |
//! | `zustellung-abholung` | § 5a Abs. 4 VwZG: deemed served on day 3/4 unless picked up | effective |
//! | `provider-mailbox` | TR 01201 PVD-FU § 4.2: in the recipient's mailbox ≤ 8 hours after sending | latest (date and time) |
//! | `provider-transfer` | TR 01201 PVD-FU § 4.2: handed to the recipient's provider ≤ 4 hours | latest (date and time) |
//!
//! Decision for `gewerbe-empfang`: "innerhalb dreier Tage" is read as three
//! calendar days (the text says "Tage", not "Werktage"), the day of receipt not
//! counted (§ 187 Abs. 1 BGB via § 31 Abs. 1 VwVfG), and an end on a Saturday,
//! Sunday or holiday moves to the next working day (§ 31 Abs. 3 VwVfG). It is an
//! Ordnungsvorschrift (a duty of the authority without a sanction).
//!
//! Decision for `untaetigkeit`: "nicht vor Ablauf von drei Monaten" is a waiting
//! period. The result is the earliest day to file (the day after the 3 months),
//! and it is not moved off weekends or holidays: § 193 BGB / § 222 Abs. 2 ZPO
//! protect a party that must act *by* a deadline and do not lengthen a waiting
//! period.

use super::fiction::{FictionKind, FictionShift, fiction_with};
use super::frist::{Basis, Period, count_period, shifted_end};
use super::holidays::{HolidayCalendar, add_days};
use super::land::Place;
use super::regime::{Provision, ensure_in_force, in_force_citation};
use super::texts::{dated, undated};
use super::{LawError, Narrator, Quiet, Step, day_label, serde_iso};
use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The known rule ids, in the order of the table in the module documentation.
pub const RULE_IDS: [&str; 9] = [
    "gewerbe-empfang",
    "genehmigungsfiktion",
    "widerspruch",
    "ohne-belehrung",
    "untaetigkeit",
    "bekanntgabe-elektronisch",
    "zustellung-abholung",
    "provider-mailbox",
    "provider-transfer",
];

/// Source of the provider transport limits.
const TR_PVD_FU: &str = "BSI TR 01201 Teil 3.1 (PVD-FU) Version 1.8, § 4.2 Transportzeiten";

/// The event that starts a rule: a day, or a day and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A day (e.g. the day of sending, receipt or Bekanntgabe).
    Date(#[serde(with = "serde_iso")] Date),
    /// A civil (local wall-clock) date and time.
    DateTime(#[serde(with = "serde_iso")] DateTime),
}

impl Event {
    /// The day of the event.
    pub fn date(self) -> Date {
        match self {
            Event::Date(d) => d,
            Event::DateTime(dt) => dt.date(),
        }
    }
}

impl From<Date> for Event {
    fn from(d: Date) -> Self {
        Event::Date(d)
    }
}

impl From<DateTime> for Event {
    fn from(dt: DateTime) -> Self {
        Event::DateTime(dt)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Date(d) => write!(f, "the date {d}"),
            Event::DateTime(dt) => write!(f, "the date and time {dt}"),
        }
    }
}

/// Options for [`compute`]. Every option that is set must apply to the rule:
/// an option a rule does not use is an error, never silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// For the fiction rules (`bekanntgabe-elektronisch`, `zustellung-abholung`):
    /// whether a fiction day on a Saturday, Sunday or holiday moves. `None`
    /// means the default, [`FictionShift::NoShift`] (see `fiction.rs`).
    pub fiction_shift: Option<FictionShift>,
    /// For `zustellung-abholung`: the day on which the recipient picked the
    /// message up (sichere Anmeldung shown in the Abholbestätigung).
    #[serde(with = "serde_iso::option", default)]
    pub collected_on: Option<Date>,
}

/// Whether the result is a latest day, an earliest day, or the day a legal
/// effect occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadlineKind {
    /// The act must be done by the end of the day (24:00), or by the given time.
    Latest,
    /// The act is allowed from the start of the day (00:00), not before.
    Earliest,
    /// A legal effect (Bekanntgabe, Zustellung) occurs on that day.
    Effective,
}

/// The result's point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum When {
    /// A whole day.
    Date(#[serde(with = "serde_iso")] Date),
    /// A civil date and time (provider limits).
    DateTime(#[serde(with = "serde_iso")] DateTime),
}

/// A computed deadline with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The rule id, e.g. "widerspruch".
    pub rule: String,
    /// What the rule is about, in English with the German term.
    pub title: String,
    /// Latest, earliest or effective.
    pub kind: DeadlineKind,
    /// The result.
    pub when: When,
    /// The explanation, in order.
    pub steps: Vec<Step>,
    /// The distinct sources of the steps, in order of first use.
    pub sources: Vec<String>,
}

impl Deadline {
    /// The day of the result (also for a date and time).
    pub fn date(&self) -> Date {
        match self.when {
            When::Date(d) => d,
            When::DateTime(dt) => dt.date(),
        }
    }

    fn new(rule: &str, title: &str, kind: DeadlineKind, when: When, steps: Vec<Step>) -> Self {
        let mut sources: Vec<String> = Vec::new();
        for step in &steps {
            if !sources.contains(&step.source) {
                sources.push(step.source.clone());
            }
        }
        Deadline {
            rule: rule.to_string(),
            title: title.to_string(),
            kind,
            when,
            steps,
            sources,
        }
    }
}

/// Computes rule `rule_id` for `event` at `place` (whose holidays decide
/// weekend/holiday shifts). See [`RULE_IDS`] and the module documentation.
pub fn compute(
    rule_id: &str,
    event: impl Into<Event>,
    place: &Place,
    options: &Options,
) -> Result<Deadline, LawError> {
    let mut steps = Vec::new();
    let r = compute_with(rule_id, event.into(), place, options, &mut steps)?;
    Ok(Deadline::new(r.rule, r.title, r.kind, r.when, steps))
}

/// The result of [`compute`] without the explanation: the same kind and point
/// in time, and the same errors, several times faster.
pub fn compute_date(
    rule_id: &str,
    event: impl Into<Event>,
    place: &Place,
    options: &Options,
) -> Result<(DeadlineKind, When), LawError> {
    let r = compute_with(rule_id, event.into(), place, options, &mut Quiet)?;
    Ok((r.kind, r.when))
}

/// What [`compute_with`] found, apart from the steps.
struct Computed {
    rule: &'static str,
    title: &'static str,
    kind: DeadlineKind,
    when: When,
}

impl Computed {
    fn new(rule: &'static str, title: &'static str, kind: DeadlineKind, when: When) -> Self {
        Computed {
            rule,
            title,
            kind,
            when,
        }
    }
}

/// The computation of [`compute`] and [`compute_date`].
fn compute_with<N: Narrator>(
    rule_id: &str,
    event: Event,
    place: &Place,
    options: &Options,
    n: &mut N,
) -> Result<Computed, LawError> {
    let id = rule_id.trim();
    // RULE_IDS are lower-case ASCII, so this is `id.to_ascii_lowercase() == r`.
    let Some(&rule) = RULE_IDS.iter().find(|&&r| id.eq_ignore_ascii_case(r)) else {
        return Err(LawError::UnknownRule {
            id: rule_id.to_string(),
            known: RULE_IDS.join(", "),
        });
    };
    let uses_fiction_shift = matches!(rule, "bekanntgabe-elektronisch" | "zustellung-abholung");
    if options.fiction_shift.is_some() && !uses_fiction_shift {
        return Err(LawError::InvalidOption {
            option: "fiction_shift".into(),
            rule: rule.into(),
            reason: "only the fiction rules (bekanntgabe-elektronisch, zustellung-abholung) use \
                     it; compute the fiction day first and pass that day as the event"
                .into(),
        });
    }
    if options.collected_on.is_some() && rule != "zustellung-abholung" {
        return Err(LawError::InvalidOption {
            option: "collected_on".into(),
            rule: rule.into(),
            reason: "only zustellung-abholung (§ 5a VwZG) uses the pick-up day".into(),
        });
    }
    match rule {
        "provider-mailbox" => provider(rule, event, 8, "in the recipient's mailbox", n),
        "provider-transfer" => provider(rule, event, 4, "handed to the recipient's provider", n),
        _ => {
            let day = match event {
                Event::Date(d) => d,
                Event::DateTime(dt) => {
                    n.step(|| {
                        Step::new(
                            format!(
                                "event at {dt}: only its day {} counts",
                                day_label(dt.date())
                            ),
                            undated("§ 187 Abs. 1 BGB", dt.date()),
                        )
                    });
                    dt.date()
                }
            };
            let mut calendar = HolidayCalendar::new(place);
            dated_rule(rule, day, &mut calendar, options, n)
        }
    }
}

/// The rules that work on days.
fn dated_rule<N: Narrator>(
    rule: &'static str,
    day: Date,
    calendar: &mut HolidayCalendar<'_>,
    options: &Options,
    n: &mut N,
) -> Result<Computed, LawError> {
    let latest = |title: &'static str, end: Date| {
        Computed::new(rule, title, DeadlineKind::Latest, When::Date(end))
    };
    match rule {
        "gewerbe-empfang" => {
            n.step(|| {
                Step::new(
                    "the authority certifies receipt of a Gewerbeanzeige (trade notification) \
                     \"innerhalb dreier Tage\": read as 3 calendar days (the text says Tage, \
                     not Werktage), counted by § 31 VwVfG with §§ 187 ff. BGB",
                    undated("§ 15 Abs. 1 GewO", day),
                )
            });
            let (_, end) = shifted_end(day, Period::days(3), calendar, Basis::VwVfG, n)?;
            Ok(latest(
                "Empfangsbescheinigung (certificate of receipt) for a Gewerbeanzeige",
                end,
            ))
        }
        "genehmigungsfiktion" => {
            n.step(|| {
                Step::new(
                    "the decision period is 3 months from receipt of the complete documents, \
                     unless a Rechtsvorschrift says otherwise; it can be extended once",
                    dated("§ 42a Abs. 2 Satz 1–3 VwVfG", day),
                )
            });
            let (_, end) = shifted_end(day, Period::months(3), calendar, Basis::VwVfG, n)?;
            let after = add_days(end, 1)?;
            n.step(|| {
                Step::new(
                    format!(
                        "without a decision by then the Genehmigung gilt als erteilt (is deemed \
                         granted) from {} — only where a Rechtsvorschrift orders the \
                         Genehmigungsfiktion and the application is hinreichend bestimmt",
                        day_label(after)
                    ),
                    dated("§ 42a Abs. 1 Satz 1 VwVfG", day),
                )
            });
            Ok(latest(
                "Genehmigungsfiktion (deemed approval): last day for the decision",
                end,
            ))
        }
        "widerspruch" => {
            n.step(|| {
                Step::new(
                    format!(
                        "Widerspruch (objection) within one month after the Bekanntgabe \
                         (notification) on {}; the period runs only with a correct \
                         Rechtsbehelfsbelehrung (otherwise see rule ohne-belehrung)",
                        day_label(day)
                    ),
                    format!(
                        "{} with {}",
                        undated("§ 70 Abs. 1 Satz 1 VwGO", day),
                        undated("§ 70 Abs. 2, § 58 Abs. 1 VwGO", day)
                    ),
                )
            });
            n.step(|| {
                Step::new(
                    "the Widerspruchsverfahren is an administrative procedure: counted by \
                     § 79, § 31 VwVfG (same result via § 57 Abs. 2 VwGO, § 222 ZPO)",
                    "§ 79 VwVfG (not in the reference excerpt)",
                )
            });
            let (_, end) = shifted_end(day, Period::months(1), calendar, Basis::VwVfG, n)?;
            Ok(latest("Widerspruchsfrist (objection period)", end))
        }
        "ohne-belehrung" => {
            n.step(|| {
                Step::new(
                    format!(
                        "Rechtsbehelfsbelehrung (instructions on remedies) missing or wrong: \
                         the remedy is admissible within one year from Zustellung, Eröffnung \
                         or Verkündung on {} (except höhere Gewalt)",
                        day_label(day)
                    ),
                    undated("§ 58 Abs. 2 Satz 1 VwGO", day),
                )
            });
            let (_, end) = shifted_end(day, Period::years(1), calendar, Basis::VwGO, n)?;
            Ok(latest(
                "Jahresfrist (one-year period) without Rechtsbehelfsbelehrung",
                end,
            ))
        }
        "untaetigkeit" => {
            n.step(|| {
                Step::new(
                    format!(
                        "Untätigkeitsklage (action for failure to act) \"nicht vor Ablauf von \
                         drei Monaten\" since the Widerspruch or application on {}: a waiting \
                         period, so the result is the earliest day to file (earlier only if \
                         special circumstances require it)",
                        day_label(day)
                    ),
                    undated("§ 75 Satz 2 VwGO", day),
                )
            });
            let end = count_period(day, Period::months(3), Basis::VwGO, n)?;
            let earliest = add_days(end, 1)?;
            n.step(|| {
                Step::new(
                    format!(
                        "the 3 months expire at 24:00 on {} → the action may be filed from {}; \
                         not moved off weekends or holidays, as § 193 BGB / § 222 Abs. 2 ZPO \
                         do not lengthen a waiting period",
                        day_label(end),
                        day_label(earliest)
                    ),
                    undated("§ 75 Satz 2 VwGO", day),
                )
            });
            Ok(Computed::new(
                rule,
                "Untätigkeitsklage: earliest day to file",
                DeadlineKind::Earliest,
                When::Date(earliest),
            ))
        }
        "bekanntgabe-elektronisch" => {
            let shift = options.fiction_shift.unwrap_or_default();
            let kind = FictionKind::BekanntgabeElektronisch;
            let (_, _, fiction) = fiction_with(kind, day, calendar, shift, n)?;
            Ok(Computed::new(
                rule,
                "Bekanntgabefiktion (deemed notification) of an electronic VA",
                DeadlineKind::Effective,
                When::Date(fiction),
            ))
        }
        "zustellung-abholung" => zustellung_abholung(rule, day, calendar, options, n),
        // RULE_IDS and this match are kept in step by the tests.
        other => Err(LawError::UnknownRule {
            id: other.to_string(),
            known: RULE_IDS.join(", "),
        }),
    }
}

/// § 5a VwZG: served when picked up (Abholbestätigung), or by fiction on day 3/4.
fn zustellung_abholung<N: Narrator>(
    rule: &'static str,
    sent: Date,
    calendar: &mut HolidayCalendar<'_>,
    options: &Options,
    n: &mut N,
) -> Result<Computed, LawError> {
    ensure_in_force(Provision::DeMailG, sent)?;
    let shift = options.fiction_shift.unwrap_or_default();
    // The fiction's steps are kept only if the fiction decides the result.
    let mut fiction_steps = n.fresh();
    let kind = FictionKind::ZustellungAbholung;
    let (_, _, fiction) = fiction_with(kind, sent, calendar, shift, &mut fiction_steps)?;
    let title = "Zustellung (service) via De-Mail against Abholbestätigung";
    n.step(|| {
        Step::new(
            format!("sent via De-Mail on {}", day_label(sent)),
            format!(
                "{} with {}",
                dated("§ 5a Abs. 1 VwZG", sent),
                in_force_citation(Provision::DeMailG, sent)
            ),
        )
    });
    let mut served = fiction;
    if let Some(collected) = options.collected_on {
        if collected < sent {
            return Err(LawError::InvalidOption {
                option: "collected_on".into(),
                rule: rule.into(),
                reason: format!("the pick-up day {collected} is before the sending day {sent}"),
            });
        }
        if collected <= fiction {
            n.step(|| {
                Step::new(
                    format!(
                        "the Abholbestätigung shows pick-up on {} (by the fiction day {}), so \
                         the document is served on the pick-up day and the fiction does not \
                         apply",
                        day_label(collected),
                        day_label(fiction)
                    ),
                    dated("§ 5a Abs. 1 Satz 2, Abs. 3 and Abs. 4 Satz 1 VwZG", sent),
                )
            });
            served = collected;
        } else {
            n.append(fiction_steps);
            n.step(|| {
                Step::new(
                    format!(
                        "pick-up on {} is after the fiction day: the fiction already applied",
                        day_label(collected)
                    ),
                    dated("§ 5a Abs. 4 Satz 1 VwZG", sent),
                )
            });
        }
    } else {
        n.append(fiction_steps);
    }
    Ok(Computed::new(
        rule,
        title,
        DeadlineKind::Effective,
        When::Date(served),
    ))
}

/// The provider transport limits: plain clock hours, not calendar Fristen.
fn provider<N: Narrator>(
    rule: &'static str,
    event: Event,
    hours: i64,
    what: &str,
    n: &mut N,
) -> Result<Computed, LawError> {
    let Event::DateTime(sent) = event else {
        return Err(LawError::WrongEvent {
            rule: rule.to_string(),
            expected: "a date and time (e.g. 2025-10-29T14:30), as the limit is in hours"
                .to_string(),
            got: event.to_string(),
        });
    };
    ensure_in_force(Provision::DeMailG, sent.date())?;
    let sum = || format!("{sent} + {hours} hours");
    let span = jiff::Span::new()
        .try_hours(hours)
        .map_err(|e| LawError::arithmetic(sum(), e))?;
    let due = sent
        .checked_add(span)
        .map_err(|e| LawError::arithmetic(sum(), e))?;
    n.step(|| {
        Step::new(
            format!(
                "sent at {sent}; the message must be {what} at the latest {hours} hours later: \
                 {due}"
            ),
            TR_PVD_FU.to_string(),
        )
    });
    n.step(|| {
        Step::new(
            "a technical service level in clock hours, not a Frist: nights, weekends and \
             holidays count (as for hour periods in § 31 Abs. 6 VwVfG); civil local time, \
             daylight-saving changes not modelled",
            TR_PVD_FU.to_string(),
        )
    });
    n.step(|| {
        Step::new(
            "the De-Mail-G is in force on the day of sending",
            in_force_citation(Provision::DeMailG, sent.date()),
        )
    });
    let title = if hours == 8 {
        "provider limit: message in the recipient's mailbox"
    } else {
        "provider limit: transfer between De-Mail providers"
    };
    Ok(Computed::new(
        rule,
        title,
        DeadlineKind::Latest,
        When::DateTime(due),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::land::Land;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::constant(y, m, day)
    }

    fn dresden() -> Place {
        Place::municipality(Land::Sachsen, "Dresden")
    }

    #[test]
    fn worked_example() {
        // demail-notes § 2.5 "Worked example": sent Wed 29.10.2025 → bekannt gegeben
        // Sun 02.11.2025 (no shift) → Widerspruchsfrist ends Tue 02.12.2025, 24:00.
        let b = compute(
            "bekanntgabe-elektronisch",
            d(2025, 10, 29),
            &dresden(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(
            (b.kind, b.when),
            (DeadlineKind::Effective, When::Date(d(2025, 11, 2)))
        );
        let w = compute("widerspruch", b.date(), &dresden(), &Options::default()).unwrap();
        assert_eq!(
            (w.kind, w.when),
            (DeadlineKind::Latest, When::Date(d(2025, 12, 2)))
        );
        assert!(
            w.sources
                .iter()
                .any(|s| s.starts_with("§ 70 Abs. 1 Satz 1 VwGO"))
        );
        assert!(
            w.sources
                .iter()
                .any(|s| s == "§ 31 Abs. 3 VwVfG (Fassung 2025-01-20)")
        );
        // With the shift view: Mon 03.11.2025 → Wed 03.12.2025.
        let shifted = Options {
            fiction_shift: Some(FictionShift::ShiftToWorkingDay),
            ..Options::default()
        };
        let b = compute(
            "bekanntgabe-elektronisch",
            d(2025, 10, 29),
            &dresden(),
            &shifted,
        )
        .unwrap();
        assert_eq!(b.date(), d(2025, 11, 3));
        let w = compute("widerspruch", b.date(), &dresden(), &Options::default()).unwrap();
        assert_eq!(w.date(), d(2025, 12, 3));
        // demail-notes: without Rechtsbehelfsbelehrung one year (02.11.2026 is a Monday).
        let o = compute(
            "ohne-belehrung",
            d(2025, 11, 2),
            &dresden(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(o.date(), d(2026, 11, 2));
    }

    #[test]
    fn gewerbe_empfang_three_calendar_days_with_shift() {
        // § 15 Abs. 1 GewO + § 31 Abs. 3 VwVfG: received Wed 29.10.2025 → Sat 01.11. → Mon 03.11.
        let r = compute(
            "gewerbe-empfang",
            d(2025, 10, 29),
            &dresden(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(r.date(), d(2025, 11, 3));
        assert_eq!(r.kind, DeadlineKind::Latest);
        // Received Mon 03.11.2025 → Thu 06.11.2025 (no shift needed).
        let dt = DateTime::constant(2025, 11, 3, 9, 15, 0, 0);
        let r = compute("gewerbe-empfang", dt, &dresden(), &Options::default()).unwrap();
        assert_eq!(r.date(), d(2025, 11, 6));
    }

    #[test]
    fn genehmigungsfiktion_and_untaetigkeit() {
        // § 42a Abs. 2 VwVfG: 3 months from 31.03.2025 → 30.06.2025 (§ 188 Abs. 3 BGB), a Monday.
        let r = compute(
            "genehmigungsfiktion",
            d(2025, 3, 31),
            &dresden(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(r.date(), d(2025, 6, 30));
        // § 75 Satz 2 VwGO: Widerspruch 02.12.2025 → 3 months expire 02.03.2026 → earliest 03.03.2026.
        let u = compute(
            "untaetigkeit",
            d(2025, 12, 2),
            &dresden(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!((u.kind, u.date()), (DeadlineKind::Earliest, d(2026, 3, 3)));
        // Not moved off weekends: 29.11.2025 + 3 months = 28.02.2026 (§ 188 Abs. 3 BGB), a Saturday → earliest Sun 01.03.2026.
        let u = compute(
            "untaetigkeit",
            d(2025, 11, 29),
            &dresden(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(u.date(), d(2026, 3, 1));
    }

    #[test]
    fn zustellung_abholung_with_and_without_pickup() {
        // § 5a Abs. 4 VwZG (Fassung 2025-01-20): fiction on day 4; pick-up earlier wins.
        let sent = d(2025, 11, 3); // Monday → day 4 = Fri 07.11.2025
        let r = compute("zustellung-abholung", sent, &dresden(), &Options::default()).unwrap();
        assert_eq!(r.date(), d(2025, 11, 7));
        let picked = Options {
            collected_on: Some(d(2025, 11, 5)),
            ..Options::default()
        };
        let r = compute("zustellung-abholung", sent, &dresden(), &picked).unwrap();
        assert_eq!(r.date(), d(2025, 11, 5));
        let late = Options {
            collected_on: Some(d(2025, 11, 10)),
            ..Options::default()
        };
        let r = compute("zustellung-abholung", sent, &dresden(), &late).unwrap();
        assert_eq!(r.date(), d(2025, 11, 7));
    }

    #[test]
    fn rule_outside_its_period() {
        // VwZG_2026-07-19.md: § 5a gone; De-Mail-G § 26: expired after 31.12.2026.
        let err = compute(
            "zustellung-abholung",
            d(2027, 1, 4),
            &dresden(),
            &Options::default(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not in force on 2027-01-04"), "{msg}");
        assert!(matches!(err, LawError::NotInForce { .. }));
        let dt = DateTime::constant(2027, 1, 4, 10, 0, 0, 0);
        let err = compute("provider-mailbox", dt, &dresden(), &Options::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("De-Mail-G not in force on 2027-01-04"),
            "{err}"
        );
    }

    #[test]
    fn unknown_rule_lists_known_ids() {
        // Project brief: unknown ids give an error listing the known ones.
        let err = compute("einspruch", d(2025, 1, 2), &dresden(), &Options::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"einspruch\""), "{msg}");
        for id in RULE_IDS {
            assert!(msg.contains(id), "{msg}");
        }
    }

    #[test]
    fn every_rule_id_is_implemented() {
        // Keeps RULE_IDS and the dispatch in step.
        for id in RULE_IDS {
            let event: Event = if id.starts_with("provider-") {
                DateTime::constant(2025, 11, 3, 9, 0, 0, 0).into()
            } else {
                d(2025, 11, 3).into()
            };
            let r = compute(id, event, &dresden(), &Options::default());
            let r = r.unwrap_or_else(|e| panic!("{id}: {e}"));
            assert!(!r.steps.is_empty() && !r.sources.is_empty(), "{id}");
        }
    }

    #[test]
    fn provider_limits_in_hours() {
        // TR 01201 PVD-FU § 4.2: ≤ 8 hours into the mailbox, ≤ 4 hours between providers.
        let sent = DateTime::constant(2025, 10, 31, 20, 30, 0, 0); // Friday evening, holiday in SN
        let m = compute("provider-mailbox", sent, &dresden(), &Options::default()).unwrap();
        assert_eq!(
            m.when,
            When::DateTime(DateTime::constant(2025, 11, 1, 4, 30, 0, 0))
        );
        let t = compute("provider-transfer", sent, &dresden(), &Options::default()).unwrap();
        assert_eq!(
            t.when,
            When::DateTime(DateTime::constant(2025, 11, 1, 0, 30, 0, 0))
        );
        // A date alone is not enough for an hour limit.
        let err = compute(
            "provider-mailbox",
            d(2025, 10, 31),
            &dresden(),
            &Options::default(),
        );
        assert!(matches!(err, Err(LawError::WrongEvent { .. })));
    }

    #[test]
    fn options_that_do_not_apply_are_errors() {
        // Brief: never a silent default.
        let o = Options {
            fiction_shift: Some(FictionShift::NoShift),
            ..Options::default()
        };
        let err = compute("widerspruch", d(2025, 11, 2), &dresden(), &o).unwrap_err();
        assert!(matches!(err, LawError::InvalidOption { .. }));
        let o = Options {
            collected_on: Some(d(2025, 11, 1)),
            ..Options::default()
        };
        let err = compute("zustellung-abholung", d(2025, 11, 3), &dresden(), &o).unwrap_err();
        assert!(err.to_string().contains("before the sending day"), "{err}");
    }
}
