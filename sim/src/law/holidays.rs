//! Statutory holidays (gesetzliche Feiertage) per Land and municipality, 1990–2100,
//! and the working-day test used by § 193 BGB and § 31 Abs. 3 VwVfG.
//!
//! Holidays are set by each Land's Feiertagsgesetz (holiday law), except the
//! Tag der Deutschen Einheit (3 October), which the Einigungsvertrag (unification
//! treaty) fixed federally. The Land laws are not in the reference folder, so
//! their sources name the law and paragraph and the year a holiday was
//! introduced; facts from general knowledge that could not be checked against a
//! text are marked "uncertain" in comments here and in `calendar.md`.
//!
//! Working day (Werktag for the end of a period): Monday to Friday and not a
//! holiday at the place. § 193 BGB and § 31 Abs. 3 VwVfG both name the
//! "Sonnabend" (Saturday) next to Sunday and holidays as a day on which a period
//! cannot end, so a Saturday is never the end of a period.

use super::land::{Land, LocalHoliday, ObservanceBasis, Place};
use super::{LawError, serde_iso};
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

/// First year for which holidays are modelled.
pub const MIN_YEAR: i16 = 1990;
/// Last year for which holidays are modelled.
pub const MAX_YEAR: i16 = 2100;

/// One statutory holiday at a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    /// The date.
    #[serde(with = "serde_iso")]
    pub date: Date,
    /// German name, e.g. "Buß- und Bettag".
    pub name: String,
    /// Legal source, e.g. "§ 1 Abs. 1 SächsSFG (…)".
    pub source: String,
}

/// Checks the supported year range and converts to jiff's year type.
pub(crate) fn check_year(year: i32) -> Result<i16, LawError> {
    if (i32::from(MIN_YEAR)..=i32::from(MAX_YEAR)).contains(&year) {
        // In range, so it fits into i16.
        Ok(year as i16)
    } else {
        Err(LawError::YearOutOfRange {
            year,
            min: MIN_YEAR,
            max: MAX_YEAR,
        })
    }
}

/// Adds a number of days; only fails for dates far outside the supported range.
pub(crate) fn add_days(date: Date, days: i64) -> Result<Date, LawError> {
    let what = || format!("{date} + {days} days");
    let span = jiff::Span::new()
        .try_days(days)
        .map_err(|e| LawError::arithmetic(what(), e))?;
    date.checked_add(span)
        .map_err(|e| LawError::arithmetic(what(), e))
}

fn ymd(year: i16, month: i8, day: i8) -> Result<Date, LawError> {
    Date::new(year, month, day)
        .map_err(|e| LawError::arithmetic(format!("date {year}-{month}-{day}"), e))
}

/// Easter Sunday (Ostersonntag) of a year in 1990–2100, by the Gregorian
/// computus (the "anonymous Gregorian algorithm", Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> Result<Date, LawError> {
    let y = check_year(year)?;
    let yy = i32::from(y);
    let a = yy % 19;
    let b = yy / 100;
    let c = yy % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 by construction of the algorithm.
    ymd(y, month as i8, day as i8)
}

/// Buß- und Bettag (Day of Repentance and Prayer): the Wednesday before 23 November.
pub fn buss_und_bettag(year: i32) -> Result<Date, LawError> {
    let y = check_year(year)?;
    let nov22 = ymd(y, 11, 22)?;
    let back = (nov22.weekday().to_monday_zero_offset()
        - Weekday::Wednesday.to_monday_zero_offset())
    .rem_euclid(7);
    add_days(nov22, -i64::from(back))
}

/// Citation of the holiday list of a Land's Feiertagsgesetz. None of these texts
/// is in the reference folder; paragraph numbers are from general knowledge.
fn land_law(land: Land) -> &'static str {
    match land {
        Land::BadenWuerttemberg => "§ 1 FTG (Baden-Württemberg)",
        Land::Bayern => "Art. 1 Abs. 1 FTG (Bayern)",
        Land::Berlin => "§ 1 FeiertG (Berlin)",
        Land::Brandenburg => "§ 2 Abs. 1 FTG (Brandenburg)",
        Land::Bremen => "§ 1 FeiertagsG (Bremen)",
        Land::Hamburg => "§ 1 FeiertagsG (Hamburg)",
        Land::Hessen => "§ 1 HFeiertagsG (Hessen)",
        Land::MecklenburgVorpommern => "§ 2 Abs. 1 FTG M-V",
        Land::Niedersachsen => "§ 2 Abs. 1 NFeiertagsG",
        Land::NordrheinWestfalen => "§ 2 Abs. 1 FeiertagsG NW",
        Land::RheinlandPfalz => "§ 2 Abs. 1 LFtG (Rheinland-Pfalz)",
        Land::Saarland => "§ 2 Abs. 1 FTG (Saarland)",
        Land::Sachsen => "§ 1 Abs. 1 SächsSFG",
        Land::SachsenAnhalt => "§ 2 FeiertG LSA",
        Land::SchleswigHolstein => "§ 2 Abs. 1 SFTG (Schleswig-Holstein)",
        Land::Thueringen => "§ 2 Abs. 1 ThürFtG",
    }
}

const NO_TEXT: &str = "Land law, text not in reference folder";

/// Collects the holidays of one place and year.
struct Collector<'a> {
    place: &'a Place,
    year: i16,
    list: Vec<Holiday>,
}

impl Collector<'_> {
    fn push(&mut self, date: Date, name: &str, source: String) {
        self.list.push(Holiday {
            date,
            name: name.to_string(),
            source,
        });
    }

    /// A holiday of the Land's own list; `since` describes its history.
    fn land(&mut self, date: Date, name: &str, since: &str) {
        let source = format!("{} ({NO_TEXT}; {since})", land_law(self.place.land));
        self.push(date, name, source);
    }

    fn fixed(&mut self, month: i8, day: i8, name: &str, since: &str) -> Result<(), LawError> {
        let date = ymd(self.year, month, day)?;
        self.land(date, name, since);
        Ok(())
    }

    fn local(&mut self, date: Date, holiday: LocalHoliday) -> Result<(), LawError> {
        let obs = self.place.observes(holiday)?;
        if obs.observed {
            let source = match obs.basis {
                ObservanceBasis::Statewide => format!(
                    "{} ({NO_TEXT}; statewide, before 1990)",
                    land_law(self.place.land)
                ),
                // The observance names the municipal legal basis and the table
                // row or override.
                _ => obs.source,
            };
            self.push(date, holiday.name(), source);
        }
        Ok(())
    }
}

/// All statutory holidays at `place` in `year` (1990–2100), sorted by date
/// (and by name for two holidays on one day, e.g. 1 May 2008 = Christi Himmelfahrt).
pub fn holidays(place: &Place, year: i32) -> Result<Vec<Holiday>, LawError> {
    use Land::*;
    let y = check_year(year)?;
    place.validate()?;
    let land = place.land;
    let easter = easter_sunday(year)?;
    let e = |offset: i64| add_days(easter, offset);
    let mut c = Collector {
        place,
        year: y,
        list: Vec::new(),
    };
    let all = "in all Länder";

    c.fixed(1, 1, "Neujahr", all)?;
    if matches!(land, BadenWuerttemberg | Bayern) {
        c.fixed(1, 6, "Heilige Drei Könige", "before 1990")?;
    }
    // Uncertain: Sachsen-Anhalt's first Feiertagsgesetz is taken as of 1991.
    if land == SachsenAnhalt && y >= 1991 {
        c.fixed(1, 6, "Heilige Drei Könige", "since 1991 (year uncertain)")?;
    }
    if (land == Berlin && y >= 2019) || (land == MecklenburgVorpommern && y >= 2023) {
        let since = if land == Berlin {
            "since 2019"
        } else {
            "since 2023"
        };
        c.fixed(3, 8, "Internationaler Frauentag", since)?;
    }
    c.land(e(-2)?, "Karfreitag", all);
    // Brandenburg lists Ostersonntag and Pfingstsonntag; Hessen too (uncertain,
    // from memory). Both are Sundays, so they never change a computation.
    let with_sundays = matches!(land, Brandenburg | Hessen);
    if with_sundays {
        c.land(
            easter,
            "Ostersonntag",
            "listed in the Land law (HE: uncertain)",
        );
    }
    c.land(e(1)?, "Ostermontag", all);
    c.fixed(5, 1, "Tag der Arbeit", all)?;
    // Berlin one-offs: 75th (2020) and 80th (2025) anniversary of the end of the war.
    // 2025 is from memory of the Berlin law of 2024 (uncertain, verify).
    if land == Berlin && (y == 2020 || y == 2025) {
        c.fixed(
            5,
            8,
            "Tag der Befreiung",
            "one-off holiday in this year only",
        )?;
    }
    c.land(e(39)?, "Christi Himmelfahrt", all);
    if with_sundays {
        c.land(
            e(49)?,
            "Pfingstsonntag",
            "listed in the Land law (HE: uncertain)",
        );
    }
    c.land(e(50)?, "Pfingstmontag", all);
    c.local(e(60)?, LocalHoliday::Fronleichnam)?;
    // 17 June was the West German "Tag der deutschen Einheit" until 1990 (a Sunday
    // in 1990; West Berlin only, the Place model cannot tell East from West Berlin).
    let west = !land.is_new_land();
    if y == 1990 && west {
        c.push(
            ymd(y, 6, 17)?,
            "Tag der deutschen Einheit (17. Juni)",
            "Gesetz über den Tag der deutschen Einheit vom 04.08.1953 (federal; last observed \
             1990, replaced by 3 October through Art. 2 Abs. 2 Einigungsvertrag vom 31.08.1990)"
                .to_string(),
        );
    }
    c.local(ymd(y, 8, 8)?, LocalHoliday::AugsburgerFriedensfest)?;
    c.local(ymd(y, 8, 15)?, LocalHoliday::MariaeHimmelfahrt)?;
    if land == Thueringen && y >= 2019 {
        c.fixed(9, 20, "Weltkindertag", "since 2019")?;
    }
    c.push(
        ymd(y, 10, 3)?,
        "Tag der Deutschen Einheit",
        "Art. 2 Abs. 2 Einigungsvertrag vom 31.08.1990 (federal; since 1990)".to_string(),
    );
    // Reformationstag: in the new Länder since 1990 (uncertain for 1990 itself:
    // reintroduced by the GDR in 1990 before the Länder laws of 1991/92); in
    // HB, HH, NI, SH since 2018; 2017 one-off (500 years of the Reformation) everywhere.
    if land.is_new_land() {
        c.fixed(10, 31, "Reformationstag", "since 1990/91 (1990 uncertain)")?;
    } else if matches!(land, Bremen | Hamburg | Niedersachsen | SchleswigHolstein) && y >= 2018 {
        c.fixed(10, 31, "Reformationstag", "since 2018")?;
    } else if y == 2017 {
        c.fixed(
            10,
            31,
            "Reformationstag",
            "one-off 2017 for the 500th anniversary of the Reformation, in all Länder",
        )?;
    }
    if matches!(
        land,
        BadenWuerttemberg | Bayern | NordrheinWestfalen | RheinlandPfalz | Saarland
    ) {
        c.fixed(11, 1, "Allerheiligen", "before 1990")?;
    }
    // Buß- und Bettag: abolished from 1995 everywhere except Sachsen (to fund the
    // Pflegeversicherung, long-term care insurance). Before 1995 in all Länder
    // (uncertain for Bayern before 1995 and the new Länder in 1990).
    if land == Sachsen || y <= 1994 {
        let since = if land == Sachsen {
            "in Sachsen also after 1995; the only Land that kept it"
        } else {
            "until 1994; abolished from 1995"
        };
        c.land(buss_und_bettag(year)?, "Buß- und Bettag", since);
    }
    c.fixed(12, 25, "1. Weihnachtstag", all)?;
    c.fixed(12, 26, "2. Weihnachtstag", all)?;

    let mut list = c.list;
    list.sort_by(|a, b| (a.date, &a.name).cmp(&(b.date, &b.name)));
    Ok(list)
}

/// The holidays at `place` that fall on `date` (usually none or one).
pub fn holidays_on(place: &Place, date: Date) -> Result<Vec<Holiday>, LawError> {
    Ok(holidays(place, i32::from(date.year()))?
        .into_iter()
        .filter(|h| h.date == date)
        .collect())
}

/// Whether `date` is a statutory holiday at `place`.
pub fn is_holiday(place: &Place, date: Date) -> Result<bool, LawError> {
    Ok(!holidays_on(place, date)?.is_empty())
}

/// Whether `date` is a working day at `place`: Monday–Friday and not a holiday.
/// Saturday is not a working day for § 193 BGB / § 31 Abs. 3 VwVfG.
pub fn is_working_day(place: &Place, date: Date) -> Result<bool, LawError> {
    let weekend = matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
    Ok(!weekend && !is_holiday(place, date)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::constant(y, m, day)
    }

    fn names(place: &Place, year: i32) -> Vec<(Date, String)> {
        holidays(place, year)
            .unwrap()
            .into_iter()
            .map(|h| (h.date, h.name))
            .collect()
    }

    #[test]
    fn easter_dates() {
        // Known Easter Sundays (project brief; church calendars).
        assert_eq!(easter_sunday(2024), Ok(d(2024, 3, 31)));
        assert_eq!(easter_sunday(2025), Ok(d(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Ok(d(2026, 4, 5)));
        assert_eq!(easter_sunday(2038), Ok(d(2038, 4, 25)));
        assert_eq!(easter_sunday(2000), Ok(d(2000, 4, 23)));
        // 2008 had the earliest Easter in the range (23 March).
        assert_eq!(easter_sunday(2008), Ok(d(2008, 3, 23)));
        assert_eq!(easter_sunday(1990), Ok(d(1990, 4, 15)));
    }

    #[test]
    fn year_range_is_enforced() {
        // Supported range is 1990–2100 (project brief).
        assert!(matches!(
            easter_sunday(1989),
            Err(LawError::YearOutOfRange { year: 1989, .. })
        ));
        let err = holidays(&Place::land(Land::Sachsen), 2101).unwrap_err();
        assert!(err.to_string().contains("1990–2100"), "{err}");
    }

    #[test]
    fn buss_und_bettag_dates() {
        // demail-notes § 2.4: 20.11.2024, 19.11.2025, 18.11.2026.
        assert_eq!(buss_und_bettag(2024), Ok(d(2024, 11, 20)));
        assert_eq!(buss_und_bettag(2025), Ok(d(2025, 11, 19)));
        assert_eq!(buss_und_bettag(2026), Ok(d(2026, 11, 18)));
        // 22 Nov 2023 was itself a Wednesday: the Wednesday *before* 23 Nov is the 22nd.
        assert_eq!(buss_und_bettag(2023), Ok(d(2023, 11, 22)));
    }

    #[test]
    fn sachsen_2025_complete() {
        // § 1 Abs. 1 SächsSFG as summarised in demail-notes § 2.4; Easter 2025 = 20 April.
        let dresden = Place::municipality(Land::Sachsen, "Dresden");
        let expected = [
            (d(2025, 1, 1), "Neujahr"),
            (d(2025, 4, 18), "Karfreitag"),
            (d(2025, 4, 21), "Ostermontag"),
            (d(2025, 5, 1), "Tag der Arbeit"),
            (d(2025, 5, 29), "Christi Himmelfahrt"),
            (d(2025, 6, 9), "Pfingstmontag"),
            (d(2025, 10, 3), "Tag der Deutschen Einheit"),
            (d(2025, 10, 31), "Reformationstag"),
            (d(2025, 11, 19), "Buß- und Bettag"),
            (d(2025, 12, 25), "1. Weihnachtstag"),
            (d(2025, 12, 26), "2. Weihnachtstag"),
        ];
        let got = names(&dresden, 2025);
        let want: Vec<(Date, String)> = expected.iter().map(|(d, n)| (*d, n.to_string())).collect();
        assert_eq!(
            got, want,
            "Dresden has no Fronleichnam (demail-notes § 2.4)"
        );

        // Bautzen OT Salzenforst is in the FronleichnamsVO: 19.06.2025 = Easter + 60.
        let salzenforst =
            Place::municipality(Land::Sachsen, "Bautzen").with_ortsteil("Salzenforst");
        let got = names(&salzenforst, 2025);
        assert_eq!(got.len(), 12);
        assert!(got.contains(&(d(2025, 6, 19), "Fronleichnam".to_string())));
        assert!(is_holiday(&salzenforst, d(2025, 6, 19)).unwrap());
        assert!(!is_holiday(&dresden, d(2025, 6, 19)).unwrap());
    }

    #[test]
    fn every_holiday_has_a_source() {
        // Project brief: every holiday carries its legal source.
        for land in Land::ALL {
            for h in holidays(&Place::land(land), 2025).unwrap() {
                assert!(h.source.contains('§') || h.source.contains("Art."), "{h:?}");
            }
        }
    }

    #[test]
    fn reformationstag_niedersachsen() {
        // NFeiertagsG: one-off 2017 (all Länder), not 2016, permanent since 2018.
        let ni = Place::land(Land::Niedersachsen);
        assert!(!is_holiday(&ni, d(2016, 10, 31)).unwrap());
        assert!(is_holiday(&ni, d(2017, 10, 31)).unwrap());
        assert!(is_holiday(&ni, d(2018, 10, 31)).unwrap());
        // Bayern: only the 2017 one-off.
        let by = Place::land(Land::Bayern);
        assert!(is_holiday(&by, d(2017, 10, 31)).unwrap());
        assert!(!is_holiday(&by, d(2018, 10, 31)).unwrap());
    }

    #[test]
    fn berlin_frauentag_and_one_offs() {
        // FeiertG Berlin: Frauentag since 2019; 8 May 2020 one-off (75 years).
        let be = Place::land(Land::Berlin);
        assert!(!is_holiday(&be, d(2018, 3, 8)).unwrap());
        assert!(is_holiday(&be, d(2019, 3, 8)).unwrap());
        assert!(is_holiday(&be, d(2020, 5, 8)).unwrap());
        assert!(!is_holiday(&be, d(2021, 5, 8)).unwrap());
        // FTG M-V: Frauentag since 2023.
        let mv = Place::land(Land::MecklenburgVorpommern);
        assert!(!is_holiday(&mv, d(2022, 3, 8)).unwrap());
        assert!(is_holiday(&mv, d(2023, 3, 8)).unwrap());
    }

    #[test]
    fn other_land_specifics() {
        // ThürFtG: Weltkindertag since 2019.
        let th = Place::land(Land::Thueringen);
        assert!(is_holiday(&th, d(2019, 9, 20)).unwrap());
        assert!(!is_holiday(&th, d(2018, 9, 20)).unwrap());
        // Buß- und Bettag after 1995 only in Sachsen (§ 1 SächsSFG); 1994 everywhere.
        assert!(!is_holiday(&th, d(2025, 11, 19)).unwrap());
        assert!(is_holiday(&Place::land(Land::Hamburg), d(1994, 11, 16)).unwrap());
        // Art. 1 FTG Bayern: Augsburger Friedensfest only in Augsburg.
        let augsburg = Place::municipality(Land::Bayern, "Augsburg");
        assert!(is_holiday(&augsburg, d(2025, 8, 8)).unwrap());
        assert!(!is_holiday(&Place::municipality(Land::Bayern, "München"), d(2025, 8, 8)).unwrap());
        // § 2 FTG Saarland: Mariä Himmelfahrt statewide.
        assert!(is_holiday(&Place::land(Land::Saarland), d(2025, 8, 15)).unwrap());
        // Einigungsvertrag: 3 October since 1990; 17 June only until 1990.
        assert!(is_holiday(&Place::land(Land::Hessen), d(1990, 10, 3)).unwrap());
        assert!(is_holiday(&Place::land(Land::Hessen), d(1990, 6, 17)).unwrap());
        assert!(!is_holiday(&Place::land(Land::Hessen), d(1991, 6, 17)).unwrap());
    }

    #[test]
    fn working_days() {
        // § 193 BGB / § 31 Abs. 3 VwVfG: Saturday, Sunday and holidays are not working days.
        let sn = Place::land(Land::Sachsen);
        assert!(is_working_day(&sn, d(2025, 11, 3)).unwrap()); // Monday
        assert!(!is_working_day(&sn, d(2025, 11, 1)).unwrap()); // Saturday
        assert!(!is_working_day(&sn, d(2025, 11, 2)).unwrap()); // Sunday
        assert!(!is_working_day(&sn, d(2025, 10, 31)).unwrap()); // Reformationstag (Friday)
        assert!(is_working_day(&Place::land(Land::Bayern), d(2025, 10, 31)).unwrap());
    }
}
