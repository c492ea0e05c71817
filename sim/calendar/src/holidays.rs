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
    let (month, day) = easter_month_day(y);
    ymd(y, month, day)
}

/// Month and day of Easter Sunday (the computus behind [`easter_sunday`]).
fn easter_month_day(y: i16) -> (i8, i8) {
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
    (month as i8, day as i8)
}

/// Buß- und Bettag (Day of Repentance and Prayer): the Wednesday before 23 November.
pub fn buss_und_bettag(year: i32) -> Result<Date, LawError> {
    let y = check_year(year)?;
    ymd(y, 11, buss_und_bettag_day(y)?)
}

/// The day in November of Buß- und Bettag (16..=22).
fn buss_und_bettag_day(y: i16) -> Result<i8, LawError> {
    let nov22 = ymd(y, 11, 22)?;
    let back = (nov22.weekday().to_monday_zero_offset()
        - Weekday::Wednesday.to_monday_zero_offset())
    .rem_euclid(7);
    Ok(22 - back)
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
        Land::Hessen => "§ 1 Abs. 1 HFeiertagsG (Hessen)",
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

/// Berlin's one-off holidays of 8 May 2025 and 17 June 2028, decided together. Neither
/// the amending act nor press material is in the reference folder; what is not verified
/// is said in the source itself.
const BERLIN_2025_2028: &str = "one-off holiday in this year only, by the amendment that \
     added the one-off holidays of 8 May 2025 and 17 June 2028 together; that amending act \
     (its title, date and GVBl. citation) and the paragraph it amended are not in the \
     reference material and are unverified";

/// When in the year a holiday falls.
#[derive(Debug, Clone, Copy)]
enum On {
    /// A fixed month and day.
    Fixed(i8, i8),
    /// Easter Sunday plus this many days.
    Easter(i8),
    /// The Wednesday before 23 November.
    BussUndBettag,
}

/// Where a holiday comes from, which decides its source (and for a local
/// holiday, whether it holds at the place).
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The Land's own list; the text describes its history ("since 2019").
    Land(&'static str),
    /// A holiday that depends on the municipality.
    Local(LocalHoliday),
    /// A federal holiday with its full source.
    Federal(&'static str),
}

/// Receives the holidays of [`holiday_rules`]: either the full list with names
/// and sources ([`Collector`]) or just the days ([`DaySetBuilder`]).
trait Sink {
    fn add(&mut self, on: On, name: &'static str, origin: Origin) -> Result<(), LawError>;
}

/// The holiday rules: the one place where the holidays of every Land are
/// written down. Both [`holidays()`] and [`holiday_days`] run them.
fn holiday_rules(land: Land, y: i16, c: &mut impl Sink) -> Result<(), LawError> {
    use Land::*;
    use On::*;
    use Origin::Land as L;
    let all = L("in all Länder");

    c.add(Fixed(1, 1), "Neujahr", all)?;
    if matches!(land, BadenWuerttemberg | Bayern) {
        c.add(Fixed(1, 6), "Heilige Drei Könige", L("before 1990"))?;
    }
    // Uncertain: Sachsen-Anhalt's first Feiertagsgesetz is taken as of 1991.
    if land == SachsenAnhalt && y >= 1991 {
        c.add(
            Fixed(1, 6),
            "Heilige Drei Könige",
            L("since 1991 (year uncertain)"),
        )?;
    }
    if (land == Berlin && y >= 2019) || (land == MecklenburgVorpommern && y >= 2023) {
        let since = if land == Berlin {
            "since 2019"
        } else {
            "since 2023"
        };
        c.add(Fixed(3, 8), "Internationaler Frauentag", L(since))?;
    }
    c.add(Easter(-2), "Karfreitag", all)?;
    // Ostersonntag and Pfingstsonntag: § 2 Abs. 1 FTG Brandenburg names both in its
    // list. § 1 Abs. 1 HFeiertagsG (Hessen) reads "Gesetzliche Feiertage sind die
    // Sonntage sowie …": there both are holidays as Sundays, not by name (wording as
    // quoted by the independent cross-check of issue #15; the text is not in the
    // reference folder). Both are Sundays, so they never change a computation.
    let with_sundays = matches!(land, Brandenburg | Hessen);
    let sundays = if land == Hessen {
        L(
            "a holiday as a Sunday, not by name: \"Gesetzliche Feiertage sind die Sonntage \
           sowie …\"",
        )
    } else {
        L("named in the list")
    };
    if with_sundays {
        c.add(Easter(0), "Ostersonntag", sundays)?;
    }
    c.add(Easter(1), "Ostermontag", all)?;
    c.add(Fixed(5, 1), "Tag der Arbeit", all)?;
    // Berlin one-offs by law: 75th (2020) and 80th (2025) anniversary of the end
    // of the Second World War; 17 June 2028 below.
    if land == Berlin && y == 2020 {
        c.add(
            Fixed(5, 8),
            "Tag der Befreiung",
            L("one-off holiday in this year only"),
        )?;
    }
    if land == Berlin && y == 2025 {
        c.add(Fixed(5, 8), "Tag der Befreiung", L(BERLIN_2025_2028))?;
    }
    c.add(Easter(39), "Christi Himmelfahrt", all)?;
    if with_sundays {
        c.add(Easter(49), "Pfingstsonntag", sundays)?;
    }
    c.add(Easter(50), "Pfingstmontag", all)?;
    c.add(
        Easter(60),
        LocalHoliday::Fronleichnam.name(),
        Origin::Local(LocalHoliday::Fronleichnam),
    )?;
    // 17 June was the West German "Tag der deutschen Einheit" until 1990 (a Sunday
    // in 1990; West Berlin only, the Place model cannot tell East from West Berlin).
    let west = !land.is_new_land();
    if y == 1990 && west {
        c.add(
            Fixed(6, 17),
            "Tag der deutschen Einheit (17. Juni)",
            Origin::Federal(
                "Gesetz über den Tag der deutschen Einheit vom 04.08.1953 (federal; last \
                 observed 1990, replaced by 3 October through Art. 2 Abs. 2 Einigungsvertrag \
                 vom 31.08.1990)",
            ),
        )?;
    }
    // Berlin: 75th anniversary of the uprising of 17 June 1953, a Saturday in 2028
    // (so it never moves the end of a period).
    if land == Berlin && y == 2028 {
        c.add(
            Fixed(6, 17),
            "75. Jahrestag des Volksaufstandes vom 17. Juni 1953",
            L(BERLIN_2025_2028),
        )?;
    }
    for (on, holiday) in [
        (Fixed(8, 8), LocalHoliday::AugsburgerFriedensfest),
        (Fixed(8, 15), LocalHoliday::MariaeHimmelfahrt),
    ] {
        c.add(on, holiday.name(), Origin::Local(holiday))?;
    }
    if land == Thueringen && y >= 2019 {
        c.add(Fixed(9, 20), "Weltkindertag", L("since 2019"))?;
    }
    c.add(
        Fixed(10, 3),
        "Tag der Deutschen Einheit",
        Origin::Federal("Art. 2 Abs. 2 Einigungsvertrag vom 31.08.1990 (federal; since 1990)"),
    )?;
    // Reformationstag: in the new Länder since 1990 (uncertain for 1990 itself:
    // reintroduced by the GDR in 1990 before the Länder laws of 1991/92); in
    // HB, HH, NI, SH since 2018; 2017 one-off (500 years of the Reformation) everywhere.
    if land.is_new_land() {
        c.add(
            Fixed(10, 31),
            "Reformationstag",
            L("since 1990/91 (1990 uncertain)"),
        )?;
    } else if matches!(land, Bremen | Hamburg | Niedersachsen | SchleswigHolstein) && y >= 2018 {
        c.add(Fixed(10, 31), "Reformationstag", L("since 2018"))?;
    } else if y == 2017 {
        c.add(
            Fixed(10, 31),
            "Reformationstag",
            L("one-off 2017 for the 500th anniversary of the Reformation, in all Länder"),
        )?;
    }
    if matches!(
        land,
        BadenWuerttemberg | Bayern | NordrheinWestfalen | RheinlandPfalz | Saarland
    ) {
        c.add(Fixed(11, 1), "Allerheiligen", L("before 1990"))?;
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
        c.add(BussUndBettag, "Buß- und Bettag", L(since))?;
    }
    c.add(Fixed(12, 25), "1. Weihnachtstag", all)?;
    c.add(Fixed(12, 26), "2. Weihnachtstag", all)?;
    Ok(())
}

/// Collects the holidays of one place and year with names and sources.
struct Collector<'a> {
    place: &'a Place,
    year: i16,
    easter: Date,
    list: Vec<Holiday>,
}

impl Sink for Collector<'_> {
    fn add(&mut self, on: On, name: &'static str, origin: Origin) -> Result<(), LawError> {
        let date = match on {
            On::Fixed(month, day) => ymd(self.year, month, day)?,
            On::Easter(offset) => add_days(self.easter, i64::from(offset))?,
            On::BussUndBettag => buss_und_bettag(i32::from(self.year))?,
        };
        let land_source =
            |since: &str| format!("{} ({NO_TEXT}; {since})", land_law(self.place.land));
        let source = match origin {
            Origin::Land(since) => land_source(since),
            Origin::Federal(source) => source.to_string(),
            Origin::Local(holiday) => {
                let obs = self.place.observes(holiday)?;
                if !obs.observed {
                    return Ok(());
                }
                match obs.basis {
                    ObservanceBasis::Statewide => land_source("statewide, before 1990"),
                    // The observance names the municipal legal basis and the table
                    // row or override.
                    _ => obs.source,
                }
            }
        };
        self.list.push(Holiday {
            date,
            name: name.to_string(),
            source,
        });
        Ok(())
    }
}

/// All statutory holidays at `place` in `year` (1990–2100), sorted by date
/// (and by name for two holidays on one day, e.g. 1 May 2008 = Christi Himmelfahrt).
pub fn holidays(place: &Place, year: i32) -> Result<Vec<Holiday>, LawError> {
    let y = check_year(year)?;
    place.validate()?;
    let mut c = Collector {
        place,
        year: y,
        easter: easter_sunday(year)?,
        list: Vec::new(),
    };
    holiday_rules(place.land, y, &mut c)?;
    let mut list = c.list;
    list.sort_by(|a, b| (a.date, &a.name).cmp(&(b.date, &b.name)));
    Ok(list)
}

/// The holidays at `place` that fall on `date` (usually none or one).
pub fn holidays_on(place: &Place, date: Date) -> Result<Vec<Holiday>, LawError> {
    if !holiday_days(place, i32::from(date.year()))?.contains(date) {
        return Ok(Vec::new());
    }
    Ok(holidays(place, i32::from(date.year()))?
        .into_iter()
        .filter(|h| h.date == date)
        .collect())
}

/// Whether `date` is a statutory holiday at `place`.
pub fn is_holiday(place: &Place, date: Date) -> Result<bool, LawError> {
    Ok(holiday_days(place, i32::from(date.year()))?.contains(date))
}

/// Whether `date` is a working day at `place`: Monday–Friday and not a holiday.
/// Saturday is not a working day for § 193 BGB / § 31 Abs. 3 VwVfG.
pub fn is_working_day(place: &Place, date: Date) -> Result<bool, LawError> {
    let weekend = is_weekend(date);
    Ok(!weekend && !is_holiday(place, date)?)
}

/// Saturday or Sunday.
pub(crate) fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The holidays of one place and year as a set of days of the year: the same
/// rules as [`holidays()`], without names and sources, in 48 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySet {
    year: i16,
    /// Bit `n` is day `n + 1` of the year (1 January = bit 0).
    bits: [u64; 6],
}

impl DaySet {
    fn empty(year: i16) -> Self {
        DaySet { year, bits: [0; 6] }
    }

    fn insert_ordinal(&mut self, day_of_year: i16) {
        let i = (day_of_year - 1) as usize;
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// The year of the set.
    pub fn year(&self) -> i32 {
        i32::from(self.year)
    }

    /// Whether `date` is in the set (always false for a date of another year).
    pub fn contains(&self, date: Date) -> bool {
        if date.year() != self.year {
            return false;
        }
        let i = (date.day_of_year() - 1) as usize;
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    /// The number of distinct holiday days.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set has no day (never the case for a real year).
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The days in the set, in ascending order.
    pub fn dates(&self) -> impl Iterator<Item = Date> + '_ {
        let first = Date::new(self.year, 1, 1).ok();
        (0..366i64).filter_map(move |i| {
            let bit = self.bits[i as usize / 64] & (1 << (i % 64)) != 0;
            if bit { add_days(first?, i).ok() } else { None }
        })
    }
}

/// Whether each [`LocalHoliday`] holds at a place (indexed by `LocalHoliday as usize`).
type LocalFlags = [bool; 3];

fn local_flags(place: &Place) -> LocalFlags {
    LocalHoliday::ALL.map(|h| place.observed_unchecked(h))
}

/// Day of the year (1-based) of a month and day.
fn ordinal(leap: bool, month: i8, day: i8) -> i16 {
    const BEFORE: [i16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_day = i16::from(leap && month > 2);
    BEFORE[(month - 1) as usize] + i16::from(day) + leap_day
}

/// Collects just the days, by integer arithmetic on days of the year.
struct DaySetBuilder {
    local: LocalFlags,
    leap: bool,
    easter: i16,
    set: DaySet,
}

impl Sink for DaySetBuilder {
    fn add(&mut self, on: On, _name: &'static str, origin: Origin) -> Result<(), LawError> {
        if let Origin::Local(holiday) = origin
            && !self.local[holiday as usize]
        {
            return Ok(());
        }
        let day = match on {
            On::Fixed(month, day) => ordinal(self.leap, month, day),
            On::Easter(offset) => self.easter + i16::from(offset),
            On::BussUndBettag => ordinal(self.leap, 11, buss_und_bettag_day(self.set.year)?),
        };
        self.set.insert_ordinal(day);
        Ok(())
    }
}

/// The days of [`holiday_rules`] for a checked year and a validated place.
fn build_day_set(land: Land, y: i16, local: LocalFlags) -> Result<DaySet, LawError> {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let (month, day) = easter_month_day(y);
    let mut b = DaySetBuilder {
        local,
        leap,
        easter: ordinal(leap, month, day),
        set: DaySet::empty(y),
    };
    holiday_rules(land, y, &mut b)?;
    Ok(b.set)
}

/// The holiday days at `place` in `year` (1990–2100): the same days as
/// [`holidays()`], without building names and sources. Errors as [`holidays()`].
pub fn holiday_days(place: &Place, year: i32) -> Result<DaySet, LawError> {
    let y = check_year(year)?;
    place.validate()?;
    build_day_set(place.land, y, local_flags(place))
}

/// A small cache of [`DaySet`]s for one place, passed explicitly: each year's
/// set is built once, and the place is validated once. A deadline computation
/// needs one or two years (a weekend shift can cross New Year).
#[derive(Debug, Clone)]
pub struct HolidayCalendar<'p> {
    place: &'p Place,
    /// The local holidays, once the place is validated.
    local: Option<LocalFlags>,
    /// The two most recently used years.
    years: [Option<DaySet>; 2],
}

impl<'p> HolidayCalendar<'p> {
    /// An empty cache for `place`. Nothing is checked until the first question.
    pub fn new(place: &'p Place) -> Self {
        HolidayCalendar {
            place,
            local: None,
            years: [None, None],
        }
    }

    /// The place.
    pub fn place(&self) -> &'p Place {
        self.place
    }

    /// The holiday days of `year`; the same as [`holiday_days`].
    pub fn days(&mut self, year: i32) -> Result<DaySet, LawError> {
        for set in self.years.iter().flatten() {
            if set.year() == year {
                return Ok(*set);
            }
        }
        let y = check_year(year)?;
        let local = match self.local {
            Some(local) => local,
            None => {
                self.place.validate()?;
                *self.local.insert(local_flags(self.place))
            }
        };
        let set = build_day_set(self.place.land, y, local)?;
        self.years = [Some(set), self.years[0]];
        Ok(set)
    }

    /// The same as [`is_holiday`].
    pub fn is_holiday(&mut self, date: Date) -> Result<bool, LawError> {
        Ok(self.days(i32::from(date.year()))?.contains(date))
    }

    /// The same as [`is_working_day`].
    pub fn is_working_day(&mut self, date: Date) -> Result<bool, LawError> {
        Ok(!is_weekend(date) && !self.is_holiday(date)?)
    }
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
