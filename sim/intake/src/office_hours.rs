//! The intake's office hours (Dienstzeiten): when it sends replies, Bescheide and notices.
//!
//! Work that falls due outside them waits for the next opening. No statute sets office hours
//! for sending by De-Mail; the days and hours are a modelling choice of the configuration
//! (`[office_hours]` in `dresden.toml`, `docs/intake.md`). Two rules of law shape them:
//!
//! - § 5 Abs. 3 VwZG keeps a Zustellung by the authority itself "zur Nachtzeit, an Sonntagen
//!   und allgemeinen Feiertagen" to exceptions. It applies to a hand-over under § 5 Abs. 1 and 2
//!   VwZG, not to De-Mail (§ 5a VwZG); the reference intake follows its spirit by sending
//!   Bescheide only on working days.
//! - A deadline the law sets for the authority wins over its office hours: a reply that would
//!   wait past the last day of its receipt rule (e.g. § 15 Abs. 1 GewO, three days) goes out
//!   when it is due ([`OfficeHours::schedule`]).
//!
//! Times are local legal time (Europe/Berlin); holidays are those of the city's Land and
//! municipality (`demail_calendar::is_holiday`).

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use demail_calendar::{Place, is_holiday};

/// Weekdays in order, Monday first, with their short names in the configuration.
const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Monday, "Mon"),
    (Weekday::Tuesday, "Tue"),
    (Weekday::Wednesday, "Wed"),
    (Weekday::Thursday, "Thu"),
    (Weekday::Friday, "Fri"),
    (Weekday::Saturday, "Sat"),
    (Weekday::Sunday, "Sun"),
];

/// How far [`OfficeHours::next_open`] looks ahead for an opening (no real office is closed
/// that long; a configuration that never opens falls back to working around the clock).
const LOOK_AHEAD_DAYS: i32 = 31;

/// When the intake works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours {
    /// Open days, Monday first.
    days: [bool; 7],
    /// Opening time (inclusive).
    open: Time,
    /// Closing time (exclusive).
    close: Time,
    /// Closed on the public holidays of the city's Land and municipality.
    closed_on_holidays: bool,
}

impl OfficeHours {
    /// Around the clock, every day: a configuration without `[office_hours]`.
    pub fn always() -> Self {
        Self {
            days: [true; 7],
            open: Time::midnight(),
            close: Time::MAX,
            closed_on_holidays: false,
        }
    }

    /// Reads `days` ("Mon-Fri", or a list "Mon,Tue,Thu"), `hours` ("08:00-16:00") and whether
    /// the office is closed on holidays. Errors name what was expected; the caller locates them.
    pub fn parse(days: &str, hours: &str, closed_on_holidays: bool) -> Result<Self, OfficeError> {
        let days = parse_days(days).map_err(OfficeError::Days)?;
        let (open, close) = parse_hours(hours).map_err(OfficeError::Hours)?;
        Ok(Self {
            days,
            open,
            close,
            closed_on_holidays,
        })
    }

    /// Whether the office works around the clock on every day.
    pub fn is_always(&self) -> bool {
        self.days == [true; 7]
            && self.open == Time::midnight()
            && self.close == Time::MAX
            && !self.closed_on_holidays
    }

    fn open_on(&self, date: Date, place: &Place) -> bool {
        let index = date.weekday().to_monday_zero_offset() as usize;
        // A year outside the calendar's range counts as no holiday (never a panic on input).
        self.days[index] && !(self.closed_on_holidays && is_holiday(place, date).unwrap_or(false))
    }

    /// The first instant at or after `t` at which the office is open (`t` itself when open).
    pub fn next_open(&self, t: Timestamp, place: &Place, tz: &TimeZone) -> Timestamp {
        if self.is_always() {
            return t;
        }
        let local = t.to_zoned_datetime(tz.clone());
        let mut date = local.date();
        let time = local.time();
        for day in 0..LOOK_AHEAD_DAYS {
            if self.open_on(date, place) {
                if day == 0 && time >= self.open && time < self.close {
                    return t;
                }
                if day > 0 || time < self.open {
                    return date
                        .to_datetime(self.open)
                        .to_zoned_datetime(tz.clone())
                        .map_or(t, |z| z.timestamp());
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => return t,
            }
        }
        t
    }

    /// When work planned for `planned` is done: at the next opening, unless that is at or
    /// after `latest` (the end of a legal deadline) while `planned` is before it; then at
    /// `planned`, outside office hours, since the deadline wins.
    pub fn schedule(
        &self,
        planned: Timestamp,
        latest: Option<Timestamp>,
        place: &Place,
        tz: &TimeZone,
    ) -> Timestamp {
        let opening = self.next_open(planned, place, tz);
        match latest {
            Some(end) if opening >= end && planned < end => planned,
            _ => opening,
        }
    }
}

impl fmt::Display for OfficeHours {
    /// "Mon–Fri 08:00–16:00, not on holidays", or "around the clock".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_always() {
            return f.write_str("around the clock");
        }
        let mut runs: Vec<String> = Vec::new();
        let mut i = 0;
        while i < 7 {
            if !self.days[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < 7 && self.days[i + 1] {
                i += 1;
            }
            runs.push(match i - start {
                0 => WEEKDAYS[start].1.to_string(),
                1 => format!("{},{}", WEEKDAYS[start].1, WEEKDAYS[i].1),
                _ => format!("{}–{}", WEEKDAYS[start].1, WEEKDAYS[i].1),
            });
            i += 1;
        }
        let close = if self.close == Time::MAX {
            "24:00".to_string()
        } else {
            self.close.strftime("%H:%M").to_string()
        };
        write!(
            f,
            "{} {}–{close}",
            runs.join(","),
            self.open.strftime("%H:%M")
        )?;
        if self.closed_on_holidays {
            f.write_str(", not on holidays")?;
        }
        Ok(())
    }
}

/// What is wrong with an `[office_hours]` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficeError {
    Days(String),
    Hours(String),
}

fn weekday(name: &str) -> Result<usize, String> {
    WEEKDAYS
        .iter()
        .position(|(_, n)| n.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            format!("{name:?} is not a weekday; expected one of Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        })
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for item in text.split(',') {
        match item.split_once('-') {
            Some((from, until)) => {
                let (from, until) = (weekday(from)?, weekday(until)?);
                if from > until {
                    return Err(format!(
                        "{item:?}: a range runs from Monday towards Sunday, e.g. \"Mon-Fri\""
                    ));
                }
                days[from..=until].iter_mut().for_each(|d| *d = true);
            }
            None => days[weekday(item)?] = true,
        }
    }
    Ok(days)
}

fn parse_hours(text: &str) -> Result<(Time, Time), String> {
    let expected = "expected \"HH:MM-HH:MM\", e.g. \"08:00-16:00\"";
    let (from, until) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?}: {expected}"))?;
    let time = |s: &str| -> Result<Time, String> {
        match s.trim() {
            "24:00" => Ok(Time::MAX),
            t => t
                .parse::<Time>()
                .map_err(|e| format!("{t:?}: {e}; {expected}")),
        }
    };
    let (open, close) = (time(from)?, time(until)?);
    if open >= close {
        return Err(format!("{text:?}: the office must open before it closes"));
    }
    Ok((open, close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use demail_calendar::Land;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn dresden() -> (OfficeHours, Place) {
        (
            OfficeHours::parse("Mon-Fri", "08:00-16:00", true).unwrap(),
            Place::municipality(Land::Sachsen, "Dresden"),
        )
    }

    #[test]
    fn work_due_outside_waits_for_the_next_opening() {
        let (o, place) = dresden();
        let tz = berlin();
        let next = |s: &str| o.next_open(at(s), &place, &tz).to_string();
        // Inside: at once.
        assert_eq!(next("2025-03-04T09:30:00+01:00"), "2025-03-04T08:30:00Z");
        // Before opening: 08:00 the same day.
        assert_eq!(next("2025-03-04T05:00:00+01:00"), "2025-03-04T07:00:00Z");
        // At closing: the next morning.
        assert_eq!(next("2025-03-04T16:00:00+01:00"), "2025-03-05T07:00:00Z");
        // Sunday 09:00 → Monday 08:00.
        assert_eq!(next("2025-03-09T09:00:00+01:00"), "2025-03-10T07:00:00Z");
        // Friday 31.10.2025 is Reformationstag in Sachsen: Saturday → Monday 03.11.
        assert_eq!(next("2025-10-30T17:00:00+01:00"), "2025-11-03T07:00:00Z");
        // Karfreitag and Ostermontag 2025: Thursday evening → Tuesday 22.04.
        assert_eq!(next("2025-04-17T18:00:00+02:00"), "2025-04-22T06:00:00Z");
    }

    #[test]
    fn a_deadline_wins_over_office_hours() {
        let (o, place) = dresden();
        let tz = berlin();
        let planned = at("2025-03-08T10:00:00+01:00"); // Saturday
        let end = at("2025-03-09T00:00:00+01:00");
        assert_eq!(o.schedule(planned, Some(end), &place, &tz), planned);
        let later = at("2025-03-11T00:00:00+01:00");
        assert_eq!(
            o.schedule(planned, Some(later), &place, &tz),
            at("2025-03-10T08:00:00+01:00")
        );
        // Already late: office hours as usual (the check will call it late).
        let early_end = at("2025-03-07T00:00:00+01:00");
        assert_eq!(
            o.schedule(planned, Some(early_end), &place, &tz),
            at("2025-03-10T08:00:00+01:00")
        );
    }

    #[test]
    fn parses_and_describes() {
        let (o, _) = dresden();
        assert_eq!(o.to_string(), "Mon–Fri 08:00–16:00, not on holidays");
        let o = OfficeHours::parse("mon,wed-thu,sun", "07:30-24:00", false).unwrap();
        assert_eq!(o.to_string(), "Mon,Wed,Thu,Sun 07:30–24:00");
        assert_eq!(OfficeHours::always().to_string(), "around the clock");
        assert!(
            OfficeHours::parse("Mon-Sun", "00:00-24:00", false)
                .unwrap()
                .is_always()
        );
        assert!(matches!(
            OfficeHours::parse("Fri-Mon", "08:00-16:00", true),
            Err(OfficeError::Days(_))
        ));
        assert!(matches!(
            OfficeHours::parse("Mo-Fr", "08:00-16:00", true),
            Err(OfficeError::Days(_))
        ));
        assert!(matches!(
            OfficeHours::parse("Mon", "16:00-08:00", true),
            Err(OfficeError::Hours(_))
        ));
        assert!(matches!(
            OfficeHours::parse("Mon", "8 bis 16", true),
            Err(OfficeError::Hours(_))
        ));
    }
}
