//! Named legal deadlines for checks, computed by the legal calendar in
//! [`demail_sim::law`] (holidays of the scenario's Land and municipality, §§ 187–193 BGB,
//! § 31 VwVfG, regimes by date) and turned into an instant in virtual time.

use demail_sim::law::{self, Deadline, DeadlineKind, Options, Place, When};
use jiff::ZonedDateTime;
use jiff::civil::Date;

/// A deadline as the judge uses it.
#[derive(Clone, Debug)]
pub struct Due {
    /// The rule id.
    pub rule: String,
    /// The first instant after the period (the end of the last day, 24:00), or the exact
    /// instant for hour-based limits.
    pub due: ZonedDateTime,
    /// The legal last day of a period counted in days, weeks, months or years (§ 188 BGB,
    /// moved by § 193 BGB / § 31 Abs. 3 VwVfG); `None` for hour-based limits.
    pub last_day: Option<Date>,
    /// The legal sources, joined with "; ".
    pub sources: String,
    /// The explanation, one line per step: "text (source)".
    pub steps: Vec<String>,
}

/// Ids of the rules.
pub fn ids() -> Vec<&'static str> {
    law::RULE_IDS.to_vec()
}

/// A rule id of the legal calendar ([`law::RULE_IDS`]) that the harness names itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleId(&'static str);

impl RuleId {
    /// Transport into the recipient's mailbox within 8 hours (TR 01201 PVD-FU § 4.2).
    pub const PROVIDER_MAILBOX: RuleId = RuleId("provider-mailbox");
    /// The day of Zustellung by Abholbestätigung or fiction (§ 5a VwZG).
    pub const ZUSTELLUNG_ABHOLUNG: RuleId = RuleId("zustellung-abholung");
    /// Widerspruchsfrist with a Rechtsbehelfsbelehrung (§ 70 VwGO).
    pub const WIDERSPRUCH: RuleId = RuleId("widerspruch");
    /// The year for a remedy without a Rechtsbehelfsbelehrung (§ 58 Abs. 2 VwGO).
    pub const OHNE_BELEHRUNG: RuleId = RuleId("ohne-belehrung");

    /// The id as the calendar knows it.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Computes `rule` for an event at `event` in `place`. Only rules that give a latest day or
/// time can be deadlines of a check; others are an error that says so.
pub fn due(rule: &str, event: &ZonedDateTime, place: &Place) -> Result<Due, String> {
    let event_dt = event.datetime();
    let deadline: Deadline = if rule.starts_with("provider-") {
        law::compute(rule, event_dt, place, &Options::default())
    } else {
        law::compute(rule, event.date(), place, &Options::default())
    }
    .map_err(|e| e.to_string())?;
    if deadline.kind != DeadlineKind::Latest {
        return Err(format!(
            "rule {rule:?} gives {:?} ({}), not a latest day; it cannot be a deadline",
            deadline.kind, deadline.title
        ));
    }
    let tz = event.time_zone().clone();
    let (due, last_day) = match deadline.when {
        When::Date(d) => (
            d.tomorrow()
                .and_then(|next| next.to_zoned_datetime(tz))
                .map_err(|e| e.to_string())?,
            Some(d),
        ),
        When::DateTime(dt) => (dt.to_zoned_datetime(tz).map_err(|e| e.to_string())?, None),
    };
    Ok(Due {
        rule: deadline.rule.clone(),
        due,
        last_day,
        sources: deadline.sources.join("; "),
        steps: deadline
            .steps
            .iter()
            .map(|s| format!("{} ({})", s.text, s.source))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use demail_sim::law::Land;

    /// The ids the harness names are ids of the calendar.
    #[test]
    fn named_rule_ids_exist() {
        for id in [
            RuleId::PROVIDER_MAILBOX,
            RuleId::ZUSTELLUNG_ABHOLUNG,
            RuleId::WIDERSPRUCH,
            RuleId::OHNE_BELEHRUNG,
        ] {
            assert!(law::RULE_IDS.contains(&id.as_str()), "{id}");
        }
    }

    /// Sent Monday 09:00 in Dresden → Tue, Wed, Thu; due at the end of Thursday.
    #[test]
    fn gewerbe_empfang_in_a_plain_week() {
        let sent: ZonedDateTime = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let d = due(
            "gewerbe-empfang",
            &sent,
            &Place::municipality(Land::Sachsen, "Dresden"),
        )
        .unwrap();
        assert_eq!(
            d.due.to_string(),
            "2025-03-07T00:00:00+01:00[Europe/Berlin]"
        );
        assert_eq!(
            d.last_day.map(|d| d.to_string()).as_deref(),
            Some("2025-03-06")
        );
        assert!(d.sources.contains("§ 15 Abs. 1 GewO"), "{}", d.sources);
    }

    /// Sent Wednesday 29.10.2025 in Dresden: day 3 is Sat 01.11.; Sun 02.11. → Mon 03.11.
    /// (§ 31 Abs. 3 VwVfG). Reformationstag 31.10. is a holiday in Sachsen but lies inside
    /// the period and does not extend it.
    #[test]
    fn gewerbe_empfang_moves_off_the_weekend() {
        let sent: ZonedDateTime = "2025-10-29T10:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let d = due(
            "gewerbe-empfang",
            &sent,
            &Place::municipality(Land::Sachsen, "Dresden"),
        )
        .unwrap();
        assert_eq!(d.due.date().to_string(), "2025-11-04");
        assert!(
            d.steps.iter().any(|s| s.contains("Saturday")),
            "{:?}",
            d.steps
        );
    }

    /// A rule that yields an earliest day is not a deadline; an unknown rule lists the known.
    #[test]
    fn non_deadlines_and_unknown_rules_are_errors() {
        let sent: ZonedDateTime = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let place = Place::land(Land::Sachsen);
        assert!(
            due("untaetigkeit", &sent, &place)
                .unwrap_err()
                .contains("not a latest day")
        );
        assert!(
            due("nope", &sent, &place)
                .unwrap_err()
                .contains("gewerbe-empfang")
        );
    }
}
