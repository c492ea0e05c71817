//! Named legal deadlines the checks use, with their sources.
//!
//! This version counts plain calendar days per § 187 Abs. 1 and § 188 Abs. 1 BGB (the event
//! day is not counted; the period ends at the end of its last day). The legal calendar with
//! holidays, the weekend shift (§ 193 BGB, § 31 Abs. 3 VwVfG) and regimes by date is issue
//! [3/6] and will replace this table.

use jiff::{Span, ZonedDateTime};

/// A legal deadline in days after an event.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub id: &'static str,
    /// Length in calendar days.
    pub days: i64,
    /// The legal source, with the version date of the text used.
    pub source: &'static str,
}

const RULES: [Rule; 1] = [Rule {
    id: "gewerbe-empfang",
    days: 3,
    source: "§ 15 Abs. 1 GewO (Fassung in reference/law/GewO_14-15.md): \"Die Behörde bescheinigt innerhalb dreier Tage den Empfang der Anzeige.\"; count per §§ 187 Abs. 1, 188 Abs. 1 BGB",
}];

/// The rule with this id.
pub fn lookup(id: &str) -> Option<Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// Ids of all rules.
pub fn ids() -> Vec<&'static str> {
    RULES.iter().map(|r| r.id).collect()
}

impl Rule {
    /// The end of the period that starts with `event`: the end (24:00) of the `days`-th day
    /// after the event day, returned as the first instant after it.
    pub fn due(&self, event: &ZonedDateTime) -> Option<ZonedDateTime> {
        let last_day = event.date().checked_add(Span::new().days(self.days)).ok()?;
        let next = last_day.tomorrow().ok()?;
        next.to_zoned_datetime(event.time_zone().clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sent Monday 09:00 → the three days are Tue, Wed, Thu; due at the end of Thursday.
    #[test]
    fn three_days_end_at_midnight_after_the_third_day() {
        let sent: ZonedDateTime = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let due = lookup("gewerbe-empfang").unwrap().due(&sent).unwrap();
        assert_eq!(due.to_string(), "2025-03-07T00:00:00+01:00[Europe/Berlin]");
        assert!(lookup("nope").is_none());
    }
}
