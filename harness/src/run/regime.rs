//! A one-line description of the legal regime in force on a date, for the trace header,
//! from [`demail_sim::law::regime`]. `run.started` names the regime of the start date, with
//! the date; a document sent later under another regime carries its own in the sources of
//! its events (`intake.zustellung`, `deadline.computed`: the calendar cites by the day of
//! sending or of the event).

use demail_sim::law;
use jiff::civil::Date;

/// Describes the regime on `day`: the fiction day and which De-Mail provisions are in force.
pub fn describe(day: Date) -> String {
    let r = law::regime(day);
    let mut parts = vec![format!(
        "on {day}: Fiktion on day {} ({})",
        r.fiction_days, r.fiction_source
    )];
    for p in &r.provisions {
        let state = if p.in_force {
            "in force"
        } else {
            "not in force"
        };
        parts.push(format!("{} {state}", p.provision.citation()));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// The fiction day changes on 01.01.2025 (PostModG) and De-Mail-G ends after 31.12.2026.
    #[test]
    fn regimes_change_on_their_dates() {
        assert!(describe(date(2024, 12, 31)).contains("day 3"));
        assert!(describe(date(2025, 1, 1)).contains("day 4"));
        assert!(describe(date(2025, 3, 3)).contains("§ 5a Abs. 4 VwZG in force"));
        assert!(describe(date(2027, 1, 1)).contains("De-Mail-G not in force"));
        assert!(describe(date(2024, 12, 27)).starts_with("on 2024-12-27: Fiktion on day 3"));
    }
}
