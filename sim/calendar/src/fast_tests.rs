//! The fast path ([`frist_end_date`], [`period_end_date`], [`fiction_day_date`],
//! [`compute_date`], [`holiday_days`], [`HolidayCalendar`]) gives exactly the
//! results and errors of the explaining functions, for any date, place and rule.

use super::*;
use jiff::civil::{DateTime, Time};
use proptest::prelude::*;

const FIRST: Date = Date::constant(1989, 12, 1);
const LAST: Date = Date::constant(2101, 1, 31);

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2048,
        // A failure prints its minimal input instead of writing a file.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn plus_days(date: Date, n: i64) -> Date {
    date.checked_add(jiff::Span::new().days(n)).unwrap()
}

/// Any day from December 1989 to January 2101 (both ends outside the range).
fn any_date() -> impl Strategy<Value = Date> {
    let span = FIRST.until(LAST).unwrap().get_days();
    (0..=i64::from(span)).prop_map(|n| plus_days(FIRST, n))
}

/// Länder, municipalities from the table (spelled in several ways), unknown
/// ones, overrides, and overrides that `Place::validate` rejects.
fn places() -> Vec<Place> {
    let mut places: Vec<Place> = Land::ALL.into_iter().map(Place::land).collect();
    places.extend([
        Place::municipality(Land::Sachsen, "Dresden"),
        Place::municipality(Land::Sachsen, "Bautzen"),
        Place::municipality(Land::Sachsen, "BAUTZEN").with_ortsteil(" salzenforst"),
        Place::municipality(Land::Sachsen, "Bautzen").with_ortsteil("Bolbritz"),
        Place::municipality(Land::Sachsen, "Bautzen").with_ortsteil("Kleinwelka"),
        Place::municipality(Land::Sachsen, "Nebelschuetz"),
        Place::municipality(Land::Sachsen, "Panschwitz Kuckau"),
        Place::municipality(Land::Sachsen, "Musterdorf")
            .with_local_holiday(LocalHoliday::Fronleichnam, true),
        Place::municipality(Land::Bayern, "München"),
        Place::municipality(Land::Bayern, "muenchen"),
        Place::municipality(Land::Bayern, "Augsburg"),
        Place::municipality(Land::Bayern, "Augsburg")
            .with_local_holiday(LocalHoliday::AugsburgerFriedensfest, false),
        Place::municipality(Land::Bayern, "Nürnberg"),
        Place::municipality(Land::Bayern, "Irgendwo"),
        Place::municipality(Land::Thueringen, "Heilbad Heiligenstadt")
            .with_local_holiday(LocalHoliday::Fronleichnam, true),
        Place::land(Land::Saarland).with_local_holiday(LocalHoliday::MariaeHimmelfahrt, true),
        // Rejected by Place::validate: the error must be the same on both paths.
        Place::land(Land::NordrheinWestfalen).with_local_holiday(LocalHoliday::Fronleichnam, false),
        Place::land(Land::Niedersachsen).with_local_holiday(LocalHoliday::Fronleichnam, true),
    ]);
    places
}

fn any_place() -> impl Strategy<Value = Place> {
    prop::sample::select(places())
}

/// Ordinary periods, plus a zero period and ones that leave the supported range.
fn any_period() -> impl Strategy<Value = Period> {
    prop_oneof![
        8 => (1u32..=60).prop_map(Period::days),
        4 => (1u32..=8).prop_map(Period::weeks),
        8 => (1u32..=24).prop_map(Period::months),
        4 => (1u32..=3).prop_map(Period::years),
        1 => Just(Period::days(0)),
        1 => Just(Period::years(200)),
        1 => Just(Period::days(u32::MAX)),
        1 => Just(Period::months(u32::MAX)),
    ]
}

fn any_basis() -> impl Strategy<Value = Basis> {
    prop::sample::select(vec![Basis::Bgb, Basis::VwVfG, Basis::VwGO])
}

fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any_date().prop_map(Event::Date),
        (any_date(), 0i8..24, 0i8..60).prop_map(|(d, h, m)| {
            Event::DateTime(DateTime::from_parts(d, Time::constant(h, m, 0, 0)))
        }),
    ]
}

/// Rule ids, also in other spellings and unknown ones.
fn any_rule() -> impl Strategy<Value = String> {
    let mut ids: Vec<String> = RULE_IDS.iter().map(|id| id.to_string()).collect();
    ids.extend([" Widerspruch ".to_string(), "einspruch".to_string()]);
    prop::sample::select(ids)
}

/// Options, including ones a rule rejects and pick-up days around the event.
fn any_options() -> impl Strategy<Value = Options> {
    let shift = prop::option::of(prop::sample::select(vec![
        FictionShift::NoShift,
        FictionShift::ShiftToWorkingDay,
    ]));
    (shift, prop::option::of(-2i64..10)).prop_map(|(fiction_shift, collected)| Options {
        fiction_shift,
        collected_on: collected.map(|n| plus_days(Date::constant(2025, 1, 1), n)),
    })
}

fn any_kind() -> impl Strategy<Value = FictionKind> {
    prop::sample::select(vec![
        FictionKind::BekanntgabePost,
        FictionKind::BekanntgabeElektronisch,
        FictionKind::ZustellungEmpfangsbekenntnis,
        FictionKind::ZustellungAbholung,
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn frist_end_date_equals_frist_end(
        event in any_date(),
        period in any_period(),
        place in any_place(),
        basis in any_basis(),
    ) {
        let slow = frist_end(event, period, &place, basis).map(|f| f.end);
        prop_assert_eq!(frist_end_date(event, period, &place), slow);
        let slow = frist::period_end(event, period, basis).map(|f| f.end);
        prop_assert_eq!(period_end_date(event, period), slow);
    }

    #[test]
    fn fiction_day_date_equals_fiction_day(
        sent in any_date(),
        kind in any_kind(),
        place in any_place(),
        shift in prop::sample::select(vec![FictionShift::NoShift, FictionShift::ShiftToWorkingDay]),
    ) {
        let slow = fiction_day(kind, sent, &place, shift).map(|f| f.day);
        prop_assert_eq!(fiction_day_date(kind, sent, &place, shift), slow);
    }

    #[test]
    fn compute_date_equals_compute(
        rule in any_rule(),
        event in any_event(),
        place in any_place(),
        options in any_options(),
    ) {
        let slow = compute(&rule, event, &place, &options).map(|d| (d.kind, d.when));
        prop_assert_eq!(compute_date(&rule, event, &place, &options), slow);
    }

    /// Events 2024–2027, where all rules are in force, so that the results
    /// (not only the errors) are compared for every rule.
    #[test]
    fn compute_date_equals_compute_while_in_force(
        rule in any_rule(),
        offset in 0i64..(3 * 366),
        hour in 0i8..24,
        place in any_place(),
        options in any_options(),
    ) {
        let day = plus_days(Date::constant(2024, 1, 1), offset);
        let events = [
            Event::Date(day),
            Event::DateTime(DateTime::from_parts(day, Time::constant(hour, 5, 0, 0))),
        ];
        for event in events {
            let slow = compute(&rule, event, &place, &options).map(|d| (d.kind, d.when));
            prop_assert_eq!(compute_date(&rule, event, &place, &options), slow);
        }
    }

    #[test]
    fn holiday_day_sets_equal_the_lists(year in 1988i32..=2102, place in any_place()) {
        let slow = holidays(&place, year).map(|list| {
            let mut dates: Vec<Date> = list.into_iter().map(|h| h.date).collect();
            dates.dedup();
            dates
        });
        let fast = holiday_days(&place, year);
        let fast_dates = fast.clone().map(|s| s.dates().collect::<Vec<_>>());
        prop_assert_eq!(fast_dates, slow.clone());
        let cached = HolidayCalendar::new(&place).days(year);
        prop_assert_eq!(&cached, &fast);
        if let Ok(set) = fast {
            prop_assert_eq!(set.year(), year);
            prop_assert_eq!(set.len(), slow.map(|d| d.len()).unwrap_or_default());
        }
    }

    #[test]
    fn calendar_answers_like_the_free_functions(date in any_date(), place in any_place()) {
        let mut calendar = HolidayCalendar::new(&place);
        prop_assert_eq!(calendar.is_holiday(date), is_holiday(&place, date));
        prop_assert_eq!(calendar.is_working_day(date), is_working_day(&place, date));
        let on = holidays_on(&place, date).map(|list| !list.is_empty());
        prop_assert_eq!(is_holiday(&place, date), on);
    }
}

/// Every year 1990–2100 at every test place: the day set is the list's dates.
#[test]
fn day_sets_equal_the_lists_for_all_years() {
    for place in places().iter().filter(|p| p.validate().is_ok()) {
        let mut calendar = HolidayCalendar::new(place);
        for year in i32::from(MIN_YEAR)..=i32::from(MAX_YEAR) {
            let mut dates: Vec<Date> = holidays(place, year)
                .unwrap()
                .into_iter()
                .map(|h| h.date)
                .collect();
            dates.dedup();
            let set = holiday_days(place, year).unwrap();
            assert_eq!(set.dates().collect::<Vec<_>>(), dates, "{place} {year}");
            assert_eq!(calendar.days(year).unwrap(), set, "{place} {year}");
            assert!(!set.contains(Date::constant(year as i16 - 1, 12, 25)));
        }
    }
}

#[test]
fn local_holiday_indexes() {
    for (i, h) in LocalHoliday::ALL.into_iter().enumerate() {
        assert_eq!(h as usize, i);
    }
}
