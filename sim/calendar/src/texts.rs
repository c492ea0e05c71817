//! The law texts at hand in `shared/reference/law/` and how a source string names the
//! version (Fassung) of a provision in force on an event's date.
//!
//! A citation names the text that was in force on the event's date, never a later one
//! in disguise:
//! - "§ 31 Abs. 3 VwVfG (Fassung 2025-01-20)": the latest text at hand dated on or
//!   before the event, and no later text at hand is known to have changed the wording
//!   before the event.
//! - "§ 5a Abs. 4 Satz 1 VwZG (text of 2025-01-20; unchanged since 2025-01-01)": the
//!   event lies before that text's date, but its wording is known to be in force from
//!   an earlier day (here the PostModG, in force 2025-01-01). An assumed day says so.
//! - "§ 187 Abs. 1 BGB (later text of 2026-08-19; Fassung of 2025-03-03 not at hand)":
//!   only a text dated after the event is at hand and nothing is known about the
//!   wording on the event's day.
//!
//! What is known about when a wording took effect comes from comparing the dated texts:
//! the VwVfG and VwZG excerpts of 2024-01-01 and 2025-01-20 differ only by the PostModG's
//! "am vierten Tag" (in force 2025-01-01, demail-notes § 2.3); those of 2025-01-20 and
//! 2026-05-04 only by a footnote; the 2026-07-19 ones by the repeal of the De-Mail routes
//! ([`REPEAL_DEMAIL_ROUTES`], an assumed date). The BGB, GewO and VwGO files carry no
//! date; demail-notes §§ 2.1 and 2.5 date them ("HEAD") to 2026-08-19, and nothing at hand
//! says since when their wording holds.

use super::regime::{POSTMODG_IN_FORCE, REPEAL_DEMAIL_ROUTES};
use jiff::civil::Date;
use std::fmt;

/// One consolidated text at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// Date of the consolidated text (the date in the file name).
    pub date: Date,
    /// From when its wording is known to be in force, where that is before `date`.
    pub since: Option<Since>,
}

/// The day from which a text's wording is known (or assumed) to be in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since {
    /// The first day of the wording.
    pub day: Date,
    /// Whether the day is an assumption rather than a fact of the sources.
    pub assumed: bool,
}

/// The VwVfG and VwZG excerpts (`VwVfG_excerpt_<date>.md`, `VwZG_<date>.md`).
pub const VWVFG_VWZG: [Text; 4] = [
    Text {
        date: Date::constant(2024, 1, 1),
        since: None,
    },
    // Differs from the 2024-01-01 text only by the PostModG's fourth day.
    Text {
        date: Date::constant(2025, 1, 20),
        since: Some(Since {
            day: POSTMODG_IN_FORCE,
            assumed: false,
        }),
    },
    // The same wording as the 2025-01-20 text (one footnote added).
    Text {
        date: Date::constant(2026, 5, 4),
        since: None,
    },
    // Without the De-Mail routes, repealed on an assumed day.
    Text {
        date: Date::constant(2026, 7, 19),
        since: Some(Since {
            day: REPEAL_DEMAIL_ROUTES,
            assumed: true,
        }),
    },
];

/// The De-Mail-G texts (`De-Mail-G_<date>.md`). The 2026-07-19 text differs by § 17
/// Abs. 3, § 18 Abs. 3 Nr. 3 and § 26, whose in-force days are not at hand.
pub const DEMAIL_G: [Text; 2] = [
    Text {
        date: Date::constant(2025, 1, 20),
        since: None,
    },
    Text {
        date: Date::constant(2026, 7, 19),
        since: None,
    },
];

/// The undated texts (BGB §§ 186–193, GewO §§ 14–15, VwGO excerpt): the "HEAD" state
/// that demail-notes §§ 2.1 and 2.5 date to 2026-08-19.
pub const HEAD: [Text; 1] = [Text {
    date: Date::constant(2026, 8, 19),
    since: None,
}];

/// Which text a citation names for an event's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The latest text dated on or before the event: "Fassung D".
    InForce(Date),
    /// A text dated after the event whose wording held already on the event's date.
    UnchangedSince {
        /// Date of the text.
        text: Date,
        /// Since when its wording holds.
        since: Since,
    },
    /// Only a later text is at hand; the wording on the event's date is not known.
    LaterOnly {
        /// Date of the text.
        text: Date,
        /// The event's date.
        on: Date,
    },
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::InForce(d) => write!(f, "Fassung {d}"),
            Version::UnchangedSince { text, since } => {
                write!(f, "text of {text}; unchanged since {}", since.day)?;
                if since.assumed {
                    f.write_str(", an assumed date")?;
                }
                Ok(())
            }
            Version::LaterOnly { text, on } => {
                write!(f, "later text of {text}; Fassung of {on} not at hand")
            }
        }
    }
}

/// The version of `texts` (sorted by date) to cite for an event on `on`.
pub fn version_in(texts: &[Text], on: Date) -> Version {
    let latest = texts.iter().rev().find(|t| t.date <= on);
    let next = texts.iter().find(|t| t.date > on);
    // A later text whose wording took effect on or before the event, and after the
    // latest earlier text was dated, replaces that text.
    if let Some(n) = next
        && let Some(since) = n.since
        && since.day <= on
        && latest.is_none_or(|l| since.day > l.date)
    {
        return Version::UnchangedSince {
            text: n.date,
            since,
        };
    }
    match (latest, next) {
        (Some(l), _) => Version::InForce(l.date),
        (None, Some(n)) => Version::LaterOnly { text: n.date, on },
        // No text at all: cannot happen with the non-empty tables above.
        (None, None) => Version::LaterOnly { text: on, on },
    }
}

/// The version label of a VwVfG/VwZG provision for an event on `on`.
pub fn version_for(on: Date) -> String {
    version_in(&VWVFG_VWZG, on).to_string()
}

/// "§ 31 Abs. 3 VwVfG (Fassung 2025-01-20)" for a VwVfG/VwZG provision on `on`.
pub fn dated(provision: &str, on: Date) -> String {
    format!("{provision} ({})", version_for(on))
}

/// "De-Mail-G (Fassung 2025-01-20)" for a De-Mail-G provision on `on`.
pub fn demail_g(provision: &str, on: Date) -> String {
    format!("{provision} ({})", version_in(&DEMAIL_G, on))
}

/// "§ 188 Abs. 2 BGB (later text of 2026-08-19; Fassung of 2025-03-03 not at hand)" for
/// a BGB, GewO or VwGO provision on `on`.
pub fn undated(provision: &str, on: Date) -> String {
    format!("{provision} ({})", version_in(&HEAD, on))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::constant(y, m, day)
    }

    /// File names in shared/reference/law/: VwVfG_excerpt_<date>.md; the PostModG's
    /// wording holds from 2025-01-01, before the text of 2025-01-20.
    #[test]
    fn vwvfg_versions_follow_the_texts_and_the_postmodg() {
        assert_eq!(version_for(d(2024, 12, 23)), "Fassung 2024-01-01");
        assert_eq!(
            version_for(d(2025, 1, 3)),
            "text of 2025-01-20; unchanged since 2025-01-01"
        );
        assert_eq!(version_for(d(2025, 1, 20)), "Fassung 2025-01-20");
        assert_eq!(version_for(d(2025, 11, 3)), "Fassung 2025-01-20");
        assert_eq!(version_for(d(2026, 6, 30)), "Fassung 2026-05-04");
        assert_eq!(
            version_for(d(2026, 7, 1)),
            "text of 2026-07-19; unchanged since 2026-07-01, an assumed date"
        );
        assert_eq!(version_for(d(2026, 7, 19)), "Fassung 2026-07-19");
        assert_eq!(
            version_for(d(2023, 5, 1)),
            "later text of 2024-01-01; Fassung of 2023-05-01 not at hand"
        );
    }

    /// A De-Mail-G citation for an event in 2024 does not pass off the 2025 text as
    /// the version in force then (issue #15 item 9).
    #[test]
    fn demail_g_before_its_first_text_is_marked() {
        assert_eq!(
            demail_g("De-Mail-G", d(2024, 12, 23)),
            "De-Mail-G (later text of 2025-01-20; Fassung of 2024-12-23 not at hand)"
        );
        assert_eq!(
            demail_g("De-Mail-G", d(2026, 7, 18)),
            "De-Mail-G (Fassung 2025-01-20)"
        );
        assert_eq!(
            demail_g("§ 26 De-Mail-G", d(2027, 1, 4)),
            "§ 26 De-Mail-G (Fassung 2026-07-19)"
        );
    }

    /// BGB, GewO and VwGO have one text, of 2026-08-19: "Fassung" only from that day.
    #[test]
    fn head_texts_are_later_texts_before_2026_08_19() {
        assert_eq!(
            undated("§ 187 Abs. 1 BGB", d(2025, 3, 3)),
            "§ 187 Abs. 1 BGB (later text of 2026-08-19; Fassung of 2025-03-03 not at hand)"
        );
        assert_eq!(
            undated("§ 193 BGB", d(2026, 8, 19)),
            "§ 193 BGB (Fassung 2026-08-19)"
        );
    }
}
