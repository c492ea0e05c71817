//! The seeded population (issue [5/6]): determinism, shares, De-Mail addresses, names,
//! postcodes, telephone numbers, birth dates and the export formats.

use std::collections::BTreeSet;

use demail_sim::demail::AuthLevel;
use demail_sim::demail::address::{self, AddressKind};
use demail_sim::population::export::{self, CSV_COLUMNS, Format};
use demail_sim::population::phone::{self, PhoneKind};
use demail_sim::population::{Citizen, Kind, PopulationError, Spec, city, generate};

fn population(seed: u64, size: u64, city: &str) -> Vec<Citizen> {
    generate(Spec::new(seed, size, city).unwrap())
        .unwrap()
        .collect()
}

fn export(seed: u64, size: u64, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    let pop = generate(Spec::new(seed, size, "Dresden").unwrap()).unwrap();
    export::write_all(format, pop, &mut out).unwrap();
    out
}

/// Splits one CSV record (RFC 4180, without the line end) into fields.
fn csv_split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// The same seed gives a byte-identical export in both formats; another seed gives another
/// population.
#[test]
fn same_seed_gives_byte_identical_export() {
    for format in [Format::Csv, Format::JsonLines] {
        let a = export(42, 2_000, format);
        let b = export(42, 2_000, format);
        assert!(a == b, "{format:?} export differs between two runs");
        assert_ne!(a, export(43, 2_000, format), "{format:?}");
    }
}

/// Citizen i does not depend on the population size: a small population is a prefix of a
/// larger one with the same seed (addresses included, since numbering only looks back).
#[test]
fn citizen_i_does_not_depend_on_size() {
    let small = population(7, 300, "Leipzig");
    let large = population(7, 1_000, "Leipzig");
    assert_eq!(small[..], large[..300]);
    assert_eq!(large[999].index, 999);
    assert_eq!(large[999].id, "c999");
}

/// Over 10,000 citizens the generated shares match the spec within tolerance: businesses,
/// De-Mail adoption of people and businesses, providers, login level high, access opened,
/// mobile phones, and the mean error rates equal the configured rates.
#[test]
fn shares_within_tolerance_for_10000() {
    let spec = Spec::new(2025, 10_000, "Dresden").unwrap();
    let a = spec.adoption.clone();
    let rates = spec.error_rates;
    let pop: Vec<Citizen> = generate(spec.clone()).unwrap().collect();
    let share = |n: usize, of: usize| n as f64 / of.max(1) as f64;
    let close = |what: &str, got: f64, want: f64, tol: f64| {
        assert!(
            (got - want).abs() <= tol,
            "{what}: got {got:.4}, want {want} ± {tol}"
        );
    };
    let people: Vec<&Citizen> = pop.iter().filter(|c| c.kind == Kind::Person).collect();
    let firms: Vec<&Citizen> = pop.iter().filter(|c| c.kind == Kind::Business).collect();
    close(
        "business share",
        share(firms.len(), pop.len()),
        spec.business_share,
        0.012,
    );
    let holders: Vec<&Citizen> = people
        .iter()
        .copied()
        .filter(|c| c.demail.is_some())
        .collect();
    close(
        "De-Mail share of people",
        share(holders.len(), people.len()),
        a.person_share,
        0.015,
    );
    let firm_holders = firms.iter().filter(|c| c.demail.is_some()).count();
    close(
        "De-Mail share of businesses",
        share(firm_holders, firms.len()),
        a.business_share,
        0.06,
    );
    let total: f64 = a.providers.iter().map(|p| p.share).sum();
    let accounts: Vec<_> = pop.iter().filter_map(|c| c.demail.as_ref()).collect();
    for p in &a.providers {
        let n = accounts.iter().filter(|d| d.provider == p.id).count();
        close(
            &format!("provider {}", p.id),
            share(n, accounts.len()),
            p.share / total,
            0.05,
        );
        assert!(
            accounts
                .iter()
                .filter(|d| d.provider == p.id)
                .all(|d| d.address.ends_with(&format!(".{}", p.domain))
                    || d.address.ends_with(&format!("@{}", p.domain)))
        );
    }
    let high = holders
        .iter()
        .filter(|c| c.demail.as_ref().unwrap().auth_level == AuthLevel::High)
        .count();
    close(
        "login level high",
        share(high, holders.len()),
        a.person_high_share,
        0.05,
    );
    let opened = holders
        .iter()
        .filter(|c| c.demail.as_ref().unwrap().access_opened)
        .count();
    close(
        "access opened",
        share(opened, holders.len()),
        a.person_access_opened_share,
        0.05,
    );
    let mobiles = people
        .iter()
        .filter(|c| matches!(phone::check(&c.phone), Ok(PhoneKind::Mobile { .. })))
        .count();
    close(
        "mobile phones",
        share(mobiles, people.len()),
        demail_sim::population::MOBILE_SHARE,
        0.02,
    );
    for (k, (name, want)) in rates.named().into_iter().enumerate() {
        let mean = pop
            .iter()
            .map(|c| c.behaviour.errors.named()[k].1)
            .sum::<f64>()
            / pop.len() as f64;
        close(&format!("mean {name}"), mean, want, want * 0.08);
    }
    let fast = pop
        .iter()
        .filter(|c| c.behaviour.login_interval_days < 3.0)
        .count();
    let want = demail_sim::population::behaviour::LOGIN_INTERVAL_DAYS.cdf(3.0);
    close(
        "logins more often than every 3 days",
        share(fast, pop.len()),
        want,
        0.02,
    );
}

/// Every De-Mail address passes `address::validate` (people's as person addresses,
/// businesses' as institution addresses) and no address is given twice.
#[test]
fn addresses_are_valid_and_unique() {
    let pop = population(99, 20_000, "Dresden");
    let mut seen = BTreeSet::new();
    let mut numbered = 0;
    for c in &pop {
        let Some(d) = &c.demail else { continue };
        let kind =
            address::validate(&d.address).unwrap_or_else(|e| panic!("citizen {}: {e}", c.index));
        let want = match c.kind {
            Kind::Person => AddressKind::Person,
            Kind::Business => AddressKind::Institution,
        };
        assert_eq!(kind, want, "{}", d.address);
        assert!(seen.insert(d.address.clone()), "duplicate {}", d.address);
        let local = d.address.split('@').next().unwrap();
        if local
            .rsplit('.')
            .next()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
        {
            numbered += 1;
        }
    }
    assert!(seen.len() > 1_500, "only {} accounts", seen.len());
    assert!(numbered > 0, "no name collisions were numbered");
}

/// Umlauts and other diacritics in names are transliterated per ICAO (Müller → mueller,
/// Jürgen → juergen, Weiß → weiss), and each person's address is formed from their name.
#[test]
fn umlaut_names_are_transliterated() {
    let pop = population(5, 20_000, "Dresden");
    let mut mueller = 0;
    let mut others = 0;
    for c in pop.iter().filter(|c| c.kind == Kind::Person) {
        let Some(d) = &c.demail else { continue };
        let local = d.address.split('@').next().unwrap();
        let plain = address::person_local_part(&c.first_names, &c.surname, None).unwrap();
        assert!(
            local == plain || local.starts_with(&format!("{plain}.")),
            "{local} is not formed from {} {}",
            c.first_names,
            c.surname
        );
        if c.surname == "Müller" {
            assert!(local.contains(".mueller"), "{local}");
            mueller += 1;
        }
        if c.first_names.starts_with("Jürgen") {
            assert!(local.starts_with("juergen"), "{local}");
            others += 1;
        }
        if c.surname == "Weiß" {
            assert!(local.contains(".weiss"), "{local}");
        }
    }
    assert!(
        mueller > 0 && others > 0,
        "no Müller or Jürgen with De-Mail"
    );
}

/// Every postcode is one of the city's real postcodes (Dresden's all in 01067–01328), and
/// the city name is the profile's.
#[test]
fn postcodes_are_in_the_city_list() {
    for name in ["Dresden", "Leipzig", "Chemnitz", "Berlin", "München"] {
        let profile = city::find(name).unwrap();
        let pop = population(11, 2_000, name);
        let used: BTreeSet<&str> = pop.iter().map(|c| c.postcode).collect();
        for c in &pop {
            assert!(profile.postcodes.contains(&c.postcode), "{}", c.postcode);
            assert_eq!(c.city, profile.name);
        }
        assert!(
            used.len() > profile.postcodes.len() / 2,
            "{name}: few postcodes used"
        );
    }
    for p in city::find("Dresden").unwrap().postcodes {
        let n: u32 = p.parse().unwrap();
        assert!((1067..=1328).contains(&n), "{p}");
    }
}

/// Every telephone number passes the regex-free checker; landlines carry the city's area
/// code (+49 351 … in Dresden, +49 30 … in Berlin), businesses have landlines.
#[test]
fn phone_numbers_have_german_formats() {
    for (name, code) in [("Dresden", "351"), ("Berlin", "30"), ("München", "89")] {
        let pop = population(3, 3_000, name);
        let (mut land, mut mobile) = (0, 0);
        for c in &pop {
            match phone::check(&c.phone) {
                Ok(PhoneKind::Landline { area_code }) => {
                    assert_eq!(area_code, code, "{}", c.phone);
                    land += 1;
                }
                Ok(PhoneKind::Mobile { prefix }) => {
                    assert_eq!(c.kind, Kind::Person, "{}", c.phone);
                    assert!(phone::MOBILE_PREFIXES.iter().any(|(p, _)| *p == prefix));
                    mobile += 1;
                }
                Err(e) => panic!("citizen {}: {e}", c.index),
            }
        }
        assert!(
            land > 0 && mobile > 0,
            "{name}: {land} landlines, {mobile} mobiles"
        );
    }
}

/// People are 18 to 90 years old on the reference date (both ends reached over 10,000
/// citizens); businesses have no birth date but firm details with a legal form.
#[test]
fn birth_dates_are_adult_ages() {
    let spec = Spec::new(8, 10_000, "Chemnitz").unwrap();
    let r = spec.reference_date;
    let age = |b: jiff::civil::Date| {
        let mut a = r.year() - b.year();
        if (r.month(), r.day()) < (b.month(), b.day()) {
            a -= 1;
        }
        a
    };
    let mut ages = BTreeSet::new();
    for c in generate(spec).unwrap() {
        match c.kind {
            Kind::Person => {
                let a = age(c.birth_date.expect("a person has a birth date"));
                assert!((18..=90).contains(&a), "age {a}");
                ages.insert(a);
                assert!(c.business.is_none());
            }
            Kind::Business => {
                assert!(c.birth_date.is_none());
                let b = c.business.as_ref().expect("a business has firm details");
                assert!(b.name.ends_with(b.legal_form.as_str()), "{}", b.name);
            }
        }
    }
    assert_eq!(ages.first(), Some(&18));
    assert_eq!(ages.last(), Some(&90));
}

/// The CSV export has the documented header and one record per citizen with as many fields
/// as columns; JSON Lines has one parseable object per citizen.
#[test]
fn export_formats_are_well_formed() {
    let csv = String::from_utf8(export(1, 500, Format::Csv)).unwrap();
    let mut lines = csv.split("\r\n");
    assert_eq!(lines.next().unwrap(), CSV_COLUMNS.join(","));
    let records: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    assert_eq!(records.len(), 500);
    for r in &records {
        assert_eq!(csv_split(r).len(), CSV_COLUMNS.len(), "{r}");
    }
    let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let mut firms = 0;
    for r in &records {
        let f = csv_split(r);
        if f[col("kind")] == "business" {
            assert!(
                f[col("business_name")].ends_with(&f[col("legal_form")]),
                "{r}"
            );
            firms += 1;
        } else {
            assert!(f[col("business_name")].is_empty() && !f[col("birth_date")].is_empty());
        }
    }
    assert!(firms > 0);
    let json = String::from_utf8(export(1, 500, Format::JsonLines)).unwrap();
    let objects: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 500);
    assert_eq!(objects[0]["id"], "c0");
    assert!(objects[0]["behaviour"]["errors"]["plain_email"].is_number());
}

/// Bad input is refused with a clear message: size 0, an unknown city (listing the known
/// ones), an unknown format.
#[test]
fn bad_input_is_refused() {
    assert_eq!(
        Spec::new(1, 0, "Dresden").unwrap_err(),
        PopulationError::ZeroSize
    );
    let e = Spec::new(1, 10, "Atlantis").unwrap_err().to_string();
    assert!(
        e.contains("Atlantis") && e.contains("Dresden") && e.contains("München"),
        "{e}"
    );
    let e = "yaml".parse::<Format>().unwrap_err().to_string();
    assert!(e.contains("csv or json"), "{e}");
}
