//! Built-in city profiles (postcodes, telephone area code, Land) and the street-address
//! generator.
//!
//! Postcodes are real postcodes of each city (Deutsche Post's PLZ of the city area; for
//! Berlin and München a large real subset). Streets are built from common real German
//! street-name stems plus a suffix (`Goethestraße`, `Lindenweg`, `Marktplatz`) or, for a few
//! real city-specific names, an adjective form (`Bautzner Straße`). House numbers are 1–120,
//! small numbers more often, with an occasional letter (`12a`).

use super::draw::Draw;

/// One city the population can live in.
#[derive(Debug, PartialEq, Eq)]
pub struct CityProfile {
    /// Name as written in addresses (`Dresden`, `München`).
    pub name: &'static str,
    /// Further spellings accepted by [`find`] (ASCII, English).
    pub aliases: &'static [&'static str],
    /// Land code as used by the legal calendar (`SN`, `BE`, `BY`).
    pub land: &'static str,
    /// Telephone area code without the trunk prefix 0 (`351` for Dresden).
    pub area_code: &'static str,
    /// Length of local subscriber numbers (digits after the area code).
    pub subscriber_digits: u32,
    /// Real postcodes of the city.
    pub postcodes: &'static [&'static str],
    /// Real street names typical of the city, in adjective form ("Bautzner" → "Bautzner
    /// Straße").
    pub local_streets: &'static [&'static str],
}

/// The built-in profiles.
pub static CITIES: &[CityProfile] = &[
    CityProfile {
        name: "Dresden",
        aliases: &["dresden"],
        land: "SN",
        area_code: "351",
        subscriber_digits: 7,
        postcodes: &[
            "01067", "01069", "01097", "01099", "01108", "01109", "01127", "01129", "01139",
            "01156", "01157", "01159", "01169", "01187", "01189", "01217", "01219", "01237",
            "01239", "01257", "01259", "01277", "01279", "01307", "01309", "01324", "01326",
            "01328",
        ],
        local_streets: &[
            "Bautzner",
            "Königsbrücker",
            "Pillnitzer",
            "Meißner",
            "Kesselsdorfer",
            "Tharandter",
            "Großenhainer",
            "Leipziger",
            "Prager",
            "Pirnaer",
            "Löbtauer",
            "Radeberger",
        ],
    },
    CityProfile {
        name: "Leipzig",
        aliases: &["leipzig"],
        land: "SN",
        area_code: "341",
        subscriber_digits: 7,
        postcodes: &[
            "04103", "04105", "04107", "04109", "04129", "04155", "04157", "04158", "04159",
            "04177", "04178", "04179", "04205", "04207", "04209", "04229", "04249", "04275",
            "04277", "04279", "04288", "04289", "04299", "04315", "04316", "04317", "04318",
            "04319", "04328", "04329", "04347", "04349", "04356", "04357",
        ],
        local_streets: &[
            "Zschortauer",
            "Dresdner",
            "Delitzscher",
            "Merseburger",
            "Lützner",
            "Prager",
            "Zschochersche",
            "Wurzner",
            "Hallesche",
            "Georg-Schwarz-",
        ],
    },
    CityProfile {
        name: "Chemnitz",
        aliases: &["chemnitz"],
        land: "SN",
        area_code: "371",
        subscriber_digits: 7,
        postcodes: &[
            "09111", "09112", "09113", "09114", "09116", "09117", "09119", "09120", "09122",
            "09123", "09124", "09125", "09126", "09127", "09128", "09130", "09131", "09224",
            "09228", "09247",
        ],
        local_streets: &[
            "Zwickauer",
            "Annaberger",
            "Leipziger",
            "Dresdner",
            "Augustusburger",
            "Limbacher",
            "Zschopauer",
            "Hainichener",
            "Frankenberger",
        ],
    },
    CityProfile {
        name: "Berlin",
        aliases: &["berlin"],
        land: "BE",
        area_code: "30",
        subscriber_digits: 8,
        postcodes: &[
            "10115", "10117", "10119", "10178", "10179", "10243", "10245", "10247", "10249",
            "10315", "10317", "10318", "10319", "10365", "10367", "10369", "10405", "10407",
            "10409", "10435", "10437", "10439", "10551", "10553", "10555", "10557", "10559",
            "10585", "10587", "10589", "10623", "10625", "10627", "10629", "10707", "10709",
            "10711", "10713", "10715", "10717", "10719", "10777", "10779", "10781", "10783",
            "10785", "10787", "10789", "10823", "10825", "10827", "10829", "10961", "10963",
            "10965", "10967", "10969", "10997", "10999", "12043", "12045", "12047", "12049",
            "12051", "12053", "12055", "12057", "12059", "12099", "12101", "12103", "12105",
            "12107", "12109", "12157", "12159", "12161", "12163", "12165", "12167", "12169",
            "12203", "12205", "12207", "12209", "12247", "12249", "12277", "12279", "12305",
            "12307", "12309", "12347", "12349", "12351", "12353", "12355", "12357", "12359",
            "12435", "12437", "12439", "12459", "12487", "12489", "12524", "12526", "12527",
            "12555", "12557", "12559", "12587", "12589", "12619", "12621", "12623", "12627",
            "12629", "12679", "12681", "12683", "12685", "12687", "12689", "13051", "13053",
            "13055", "13057", "13059", "13086", "13088", "13089", "13125", "13127", "13129",
            "13156", "13158", "13159", "13187", "13189", "13347", "13349", "13351", "13353",
            "13355", "13357", "13359", "13403", "13405", "13407", "13409", "13435", "13437",
            "13439", "13465", "13467", "13469", "13503", "13505", "13507", "13509", "13581",
            "13583", "13585", "13587", "13589", "13591", "13593", "13595", "13597", "13599",
            "13627", "13629", "14050", "14052", "14053", "14055", "14057", "14059", "14089",
            "14109", "14129", "14163", "14165", "14167", "14169", "14193", "14195", "14197",
            "14199",
        ],
        local_streets: &[
            "Frankfurter",
            "Landsberger",
            "Potsdamer",
            "Prenzlauer",
            "Schönhauser",
            "Greifswalder",
            "Oranienburger",
            "Spandauer",
            "Köpenicker",
            "Brandenburgische",
        ],
    },
    CityProfile {
        name: "München",
        aliases: &["muenchen", "munchen", "munich"],
        land: "BY",
        area_code: "89",
        subscriber_digits: 8,
        postcodes: &[
            "80331", "80333", "80335", "80336", "80337", "80339", "80469", "80538", "80539",
            "80634", "80636", "80637", "80638", "80639", "80686", "80687", "80689", "80796",
            "80797", "80798", "80799", "80801", "80802", "80803", "80804", "80805", "80807",
            "80809", "80933", "80935", "80937", "80939", "80992", "80993", "80995", "80997",
            "80999", "81241", "81243", "81245", "81247", "81249", "81369", "81371", "81373",
            "81375", "81377", "81379", "81475", "81476", "81477", "81479", "81539", "81541",
            "81543", "81545", "81547", "81549", "81667", "81669", "81671", "81673", "81675",
            "81677", "81679", "81735", "81737", "81739", "81825", "81827", "81829", "81925",
            "81927", "81929",
        ],
        local_streets: &[
            "Landshuter",
            "Landsberger",
            "Rosenheimer",
            "Dachauer",
            "Ingolstädter",
            "Wasserburger",
            "Tegernseer",
            "Nymphenburger",
            "Schleißheimer",
            "Fürstenrieder",
        ],
    },
];

/// Finds a built-in profile by name (case-insensitive; `Muenchen`/`Munich` work too).
pub fn find(name: &str) -> Option<&'static CityProfile> {
    let wanted = name.trim().to_lowercase();
    CITIES
        .iter()
        .find(|c| c.name.to_lowercase() == wanted || c.aliases.contains(&wanted.as_str()))
}

/// The names of the built-in profiles, comma-separated (for error messages).
pub fn known_names() -> String {
    CITIES.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Common real German street-name stems, compounded with a suffix.
const STEMS: &[&str] = &[
    "Haupt",
    "Bahnhof",
    "Schul",
    "Garten",
    "Dorf",
    "Berg",
    "Wald",
    "Kirch",
    "Linden",
    "Birken",
    "Eichen",
    "Buchen",
    "Ahorn",
    "Kastanien",
    "Tannen",
    "Rosen",
    "Tulpen",
    "Nelken",
    "Wiesen",
    "Feld",
    "Mühlen",
    "Brunnen",
    "Markt",
    "Post",
    "Park",
    "Friedhof",
    "Sonnen",
    "Amsel",
    "Finken",
    "Lerchen",
    "Meisen",
    "Goethe",
    "Schiller",
    "Lessing",
    "Herder",
    "Heine",
    "Uhland",
    "Körner",
    "Fontane",
    "Mozart",
    "Beethoven",
    "Bach",
    "Händel",
    "Schubert",
    "Luther",
    "Kant",
    "Humboldt",
    "Bismarck",
    "Friedrich-Ebert-",
    "Karl-Marx-",
    "Rathaus",
    "Industrie",
    "Jahn",
    "Kurt-Schumacher-",
    "Albert-Schweitzer-",
    "Blumen",
    "Erlen",
    "Weiden",
    "Ulmen",
    "Holunder",
];

/// Suffixes with their weights (straße dominates real street names).
const SUFFIXES: &[(&str, f64)] = &[
    ("straße", 0.62),
    ("weg", 0.16),
    ("allee", 0.05),
    ("platz", 0.04),
    ("ring", 0.05),
    ("gasse", 0.04),
    ("steig", 0.02),
    ("damm", 0.02),
];

/// The words that follow an adjective-form stem ("Bautzner Straße").
const ADJECTIVE_SUFFIXES: &[(&str, f64)] = &[("Straße", 0.8), ("Platz", 0.1), ("Weg", 0.1)];

/// A street address in `city`: (street, house number).
pub(crate) fn street_address(draw: &mut Draw, city: &CityProfile) -> (String, String) {
    let street = if !city.local_streets.is_empty() && draw.chance(0.2) {
        let stem = draw.pick(city.local_streets);
        let w: Vec<f64> = ADJECTIVE_SUFFIXES.iter().map(|s| s.1).collect();
        let suffix = ADJECTIVE_SUFFIXES[draw.weighted(&w)].0;
        if stem.ends_with('-') {
            format!("{stem}{suffix}")
        } else {
            format!("{stem} {suffix}")
        }
    } else {
        let stem = draw.pick(STEMS);
        let w: Vec<f64> = SUFFIXES.iter().map(|s| s.1).collect();
        let suffix = SUFFIXES[draw.weighted(&w)].0;
        if stem.ends_with('-') {
            // "Karl-Marx-" + "Straße": hyphenated names keep the capital.
            let mut s = String::from(*stem);
            let mut cs = suffix.chars();
            if let Some(first) = cs.next() {
                s.extend(first.to_uppercase());
                s.push_str(cs.as_str());
            }
            s
        } else {
            format!("{stem}{suffix}")
        }
    };
    // Small numbers are more common: the square of a uniform number, scaled to 1..=120.
    let u = draw.unit();
    let n = 1 + (u * u * 120.0) as u32;
    let number = if draw.chance(0.06) {
        let letter = *draw.pick(&['a', 'b', 'c']);
        format!("{n}{letter}")
    } else {
        n.to_string()
    };
    (street, number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every profile has plausible data: five-digit postcodes without duplicates, an area code
    /// that does not start with 0 or 1, and the lookup finds each name case-insensitively.
    #[test]
    fn profiles_are_consistent() {
        for c in CITIES {
            assert!(!c.postcodes.is_empty(), "{}", c.name);
            let mut seen = std::collections::BTreeSet::new();
            for p in c.postcodes {
                assert!(p.len() == 5 && p.bytes().all(|b| b.is_ascii_digit()), "{p}");
                assert!(seen.insert(p), "duplicate {p} in {}", c.name);
            }
            assert!(!c.area_code.starts_with(['0', '1']));
            assert_eq!(find(&c.name.to_uppercase()), Some(c));
        }
        assert_eq!(find("Munich").map(|c| c.name), Some("München"));
        assert!(find("Gotham").is_none());
        assert!(known_names().contains("Dresden, Leipzig"));
    }

    /// Hyphenated stems keep their capital ("Karl-Marx-Straße"), others compound
    /// ("Goethestraße"); house numbers stay within 1–120 with an optional letter.
    #[test]
    fn streets_look_german() {
        let city = find("Dresden").unwrap();
        for i in 0..2000 {
            let mut d = Draw::for_citizen(3, i);
            let (street, number) = street_address(&mut d, city);
            assert!(!street.contains("-straße"), "{street}");
            assert!(street.chars().next().unwrap().is_uppercase(), "{street}");
            let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
            let n: u32 = digits.parse().unwrap();
            assert!((1..=120).contains(&n), "{number}");
            assert!(number.len() - digits.len() <= 1);
        }
    }
}
