//! The 16 Länder (federal states) and places (Land + optional municipality).
//!
//! A [`Place`] decides which local holidays apply. Most Feiertage (public
//! holidays) hold for a whole Land, but three depend on the municipality:
//! Fronleichnam (Corpus Christi) in Sachsen and Thüringen, Mariä Himmelfahrt
//! (Assumption, 15 Aug) in Bayern, and the Augsburger Hohes Friedensfest
//! (8 Aug, city of Augsburg only). A small built-in table knows some
//! municipalities; a scenario can set any of these explicitly with
//! [`Place::with_local_holiday`]. Unknown municipalities do *not* observe a
//! municipality-dependent holiday: this never extends a deadline by mistake.

use super::LawError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A German Land (federal state). Serialized as its two-letter code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Land {
    /// BW
    #[serde(rename = "BW")]
    BadenWuerttemberg,
    /// BY
    #[serde(rename = "BY")]
    Bayern,
    /// BE
    #[serde(rename = "BE")]
    Berlin,
    /// BB
    #[serde(rename = "BB")]
    Brandenburg,
    /// HB
    #[serde(rename = "HB")]
    Bremen,
    /// HH
    #[serde(rename = "HH")]
    Hamburg,
    /// HE
    #[serde(rename = "HE")]
    Hessen,
    /// MV
    #[serde(rename = "MV")]
    MecklenburgVorpommern,
    /// NI
    #[serde(rename = "NI")]
    Niedersachsen,
    /// NW
    #[serde(rename = "NW")]
    NordrheinWestfalen,
    /// RP
    #[serde(rename = "RP")]
    RheinlandPfalz,
    /// SL
    #[serde(rename = "SL")]
    Saarland,
    /// SN
    #[serde(rename = "SN")]
    Sachsen,
    /// ST
    #[serde(rename = "ST")]
    SachsenAnhalt,
    /// SH
    #[serde(rename = "SH")]
    SchleswigHolstein,
    /// TH
    #[serde(rename = "TH")]
    Thueringen,
}

impl Land {
    /// All 16 Länder in the order of their usual listing.
    pub const ALL: [Land; 16] = [
        Land::BadenWuerttemberg,
        Land::Bayern,
        Land::Berlin,
        Land::Brandenburg,
        Land::Bremen,
        Land::Hamburg,
        Land::Hessen,
        Land::MecklenburgVorpommern,
        Land::Niedersachsen,
        Land::NordrheinWestfalen,
        Land::RheinlandPfalz,
        Land::Saarland,
        Land::Sachsen,
        Land::SachsenAnhalt,
        Land::SchleswigHolstein,
        Land::Thueringen,
    ];

    /// The two-letter code (ISO 3166-2:DE without "DE-"), e.g. "SN".
    pub fn code(self) -> &'static str {
        match self {
            Land::BadenWuerttemberg => "BW",
            Land::Bayern => "BY",
            Land::Berlin => "BE",
            Land::Brandenburg => "BB",
            Land::Bremen => "HB",
            Land::Hamburg => "HH",
            Land::Hessen => "HE",
            Land::MecklenburgVorpommern => "MV",
            Land::Niedersachsen => "NI",
            Land::NordrheinWestfalen => "NW",
            Land::RheinlandPfalz => "RP",
            Land::Saarland => "SL",
            Land::Sachsen => "SN",
            Land::SachsenAnhalt => "ST",
            Land::SchleswigHolstein => "SH",
            Land::Thueringen => "TH",
        }
    }

    /// The German name, e.g. "Sachsen".
    pub fn name(self) -> &'static str {
        match self {
            Land::BadenWuerttemberg => "Baden-Württemberg",
            Land::Bayern => "Bayern",
            Land::Berlin => "Berlin",
            Land::Brandenburg => "Brandenburg",
            Land::Bremen => "Bremen",
            Land::Hamburg => "Hamburg",
            Land::Hessen => "Hessen",
            Land::MecklenburgVorpommern => "Mecklenburg-Vorpommern",
            Land::Niedersachsen => "Niedersachsen",
            Land::NordrheinWestfalen => "Nordrhein-Westfalen",
            Land::RheinlandPfalz => "Rheinland-Pfalz",
            Land::Saarland => "Saarland",
            Land::Sachsen => "Sachsen",
            Land::SachsenAnhalt => "Sachsen-Anhalt",
            Land::SchleswigHolstein => "Schleswig-Holstein",
            Land::Thueringen => "Thüringen",
        }
    }

    /// Common English name, also accepted by the parser.
    fn english_name(self) -> &'static str {
        match self {
            Land::BadenWuerttemberg => "Baden-Wuerttemberg",
            Land::Bayern => "Bavaria",
            Land::Berlin => "Berlin",
            Land::Brandenburg => "Brandenburg",
            Land::Bremen => "Bremen",
            Land::Hamburg => "Hamburg",
            Land::Hessen => "Hesse",
            Land::MecklenburgVorpommern => "Mecklenburg-Western Pomerania",
            Land::Niedersachsen => "Lower Saxony",
            Land::NordrheinWestfalen => "North Rhine-Westphalia",
            Land::RheinlandPfalz => "Rhineland-Palatinate",
            Land::Saarland => "Saarland",
            Land::Sachsen => "Saxony",
            Land::SachsenAnhalt => "Saxony-Anhalt",
            Land::SchleswigHolstein => "Schleswig-Holstein",
            Land::Thueringen => "Thuringia",
        }
    }

    /// Whether the Land is one of the five "new" Länder of the former GDR.
    /// Berlin is not counted: its holiday law followed West Berlin's.
    pub(crate) fn is_new_land(self) -> bool {
        matches!(
            self,
            Land::Brandenburg
                | Land::MecklenburgVorpommern
                | Land::Sachsen
                | Land::SachsenAnhalt
                | Land::Thueringen
        )
    }
}

impl fmt::Display for Land {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Lower-cases and folds umlauts, ß, spaces and hyphens so that "Thüringen",
/// "thueringen" and "THÜRINGEN" compare equal.
pub(crate) fn fold(text: &str) -> String {
    fold_chars(text).collect()
}

/// The characters of [`fold`]`(text)`, without allocating.
fn fold_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    text.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .flat_map(|ch| {
            let (first, second) = match ch {
                'ä' => (Some('a'), Some('e')),
                'ö' => (Some('o'), Some('e')),
                'ü' => (Some('u'), Some('e')),
                'ß' => (Some('s'), Some('s')),
                ' ' | '-' | '_' | '.' => (None, None),
                c => (Some(c), None),
            };
            first.into_iter().chain(second)
        })
}

impl FromStr for Land {
    type Err = LawError;

    /// Parses a two-letter code ("SN", "sn", also "DE-SN") or a German or
    /// English full name ("Sachsen", "Saxony", "Thueringen").
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let folded = fold(input);
        let key = folded.strip_prefix("de").filter(|rest| rest.len() == 2);
        let key = key.unwrap_or(&folded);
        for land in Land::ALL {
            if key == land.code().to_ascii_lowercase()
                || key == fold(land.name())
                || key == fold(land.english_name())
            {
                return Ok(land);
            }
        }
        Err(LawError::UnknownLand {
            input: input.to_string(),
            codes: Land::ALL.map(Land::code).join(", "),
        })
    }
}

/// A holiday that, depending on the Land, holds statewide, only in some
/// municipalities, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LocalHoliday {
    /// Fronleichnam (Corpus Christi), Easter Sunday + 60 days.
    Fronleichnam,
    /// Mariä Himmelfahrt (Assumption of Mary), 15 August.
    MariaeHimmelfahrt,
    /// Augsburger Hohes Friedensfest (Augsburg Peace Festival), 8 August.
    AugsburgerFriedensfest,
}

impl LocalHoliday {
    /// All three, in declaration order (so `ALL[h as usize] == h`).
    pub const ALL: [LocalHoliday; 3] = [
        LocalHoliday::Fronleichnam,
        LocalHoliday::MariaeHimmelfahrt,
        LocalHoliday::AugsburgerFriedensfest,
    ];

    /// German name as used in the holiday list.
    pub fn name(self) -> &'static str {
        match self {
            LocalHoliday::Fronleichnam => "Fronleichnam",
            LocalHoliday::MariaeHimmelfahrt => "Mariä Himmelfahrt",
            LocalHoliday::AugsburgerFriedensfest => "Augsburger Hohes Friedensfest",
        }
    }

    /// How the holiday holds in `land` by the Land's law.
    fn scope_in(self, land: Land) -> Scope {
        use Land::*;
        match (self, land) {
            (
                LocalHoliday::Fronleichnam,
                BadenWuerttemberg | Bayern | Hessen | NordrheinWestfalen | RheinlandPfalz
                | Saarland,
            ) => Scope::Statewide,
            (LocalHoliday::Fronleichnam, Sachsen) => Scope::Municipal(
                "§ 1 Abs. 2 SächsSFG i.V.m. FronleichnamsVO vom 04.05.1993 (only the listed \
                 Sorbian-Catholic municipalities and Ortsteile; Absatz number as given in the \
                 project brief, text not in reference folder)",
            ),
            (LocalHoliday::Fronleichnam, Thueringen) => Scope::Municipal(
                "§ 2 Abs. 2 ThürFtG i.V.m. Thüringer Fronleichnamsverordnung (municipalities \
                 with a predominantly Catholic population, mainly Eichsfeld; text not in \
                 reference folder, paragraph uncertain)",
            ),
            (LocalHoliday::MariaeHimmelfahrt, Saarland) => Scope::Statewide,
            (LocalHoliday::MariaeHimmelfahrt, Bayern) => Scope::Municipal(
                "Art. 1 FTG (Bayern) (municipalities with a predominantly Catholic population \
                 as determined from the census; text not in reference folder)",
            ),
            (LocalHoliday::AugsburgerFriedensfest, Bayern) => Scope::Municipal(
                "Art. 1 Abs. 2 FTG (Bayern) (city of Augsburg only; text not in reference \
                 folder)",
            ),
            _ => Scope::Absent,
        }
    }
}

impl fmt::Display for LocalHoliday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a [`LocalHoliday`] holds in a Land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Everywhere in the Land.
    Statewide,
    /// Only in some municipalities; the text names the legal basis.
    Municipal(&'static str),
    /// Nowhere in the Land.
    Absent,
}

/// Why a local holiday does or does not hold at a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObservanceBasis {
    /// The Land's law makes it a holiday everywhere.
    Statewide,
    /// The Land's law does not have this holiday.
    NotInLand,
    /// Looked up in the built-in municipality table.
    Table,
    /// Set by the scenario with [`Place::with_local_holiday`].
    Override,
    /// Municipality unknown to the table: assumed not observed.
    DefaultNotObserved,
}

/// Whether a local holiday holds at a place, why, and on what legal basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observance {
    /// The holiday.
    pub holiday: LocalHoliday,
    /// Whether it holds.
    pub observed: bool,
    /// How this was decided.
    pub basis: ObservanceBasis,
    /// Legal source and explanation.
    pub source: String,
}

/// A place: the Land plus optionally the municipality (Gemeinde) and Ortsteil
/// (part of a municipality), plus scenario overrides for local holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// The Land.
    pub land: Land,
    /// The municipality, e.g. "Bautzen".
    pub municipality: Option<String>,
    /// The Ortsteil, e.g. "Salzenforst" (some holidays hold only in parts of a town).
    pub ortsteil: Option<String>,
    /// Explicit scenario settings, which win over the built-in table.
    pub overrides: Vec<(LocalHoliday, bool)>,
}

/// One row of the built-in municipality table.
struct KnownMunicipality {
    land: Land,
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the readable name; lookups use the key, a test checks both"
        )
    )]
    municipality: &'static str,
    /// `municipality` after [`fold`] (checked by a test), so that a lookup
    /// does not fold the table.
    municipality_key: &'static str,
    /// `None`: the whole municipality (or its core, if Ortsteil rows exist).
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the readable name; lookups use the key, a test checks both"
        )
    )]
    ortsteil: Option<&'static str>,
    /// `ortsteil` after [`fold`] (checked by a test).
    ortsteil_key: Option<&'static str>,
    holiday: LocalHoliday,
    observed: bool,
    note: &'static str,
}

const FRONLEICHNAM_VO_SN: &str = "listed in the Sächsische FronleichnamsVO of 04.05.1993 \
     (SächsGVBl. S. 417), per demail-notes § 2.4 (secondary: revosax.sachsen.de/vorschrift/4142)";

/// Built-in table of municipalities. Keep it small and sourced; a scenario can
/// override anything with [`Place::with_local_holiday`].
const KNOWN: &[KnownMunicipality] = &[
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Dresden",
        municipality_key: "dresden",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: false,
        note: "Dresden is not listed in the Sächsische FronleichnamsVO (demail-notes § 2.4: \
               \"Not Dresden.\")",
    },
    // The FronleichnamsVO lists only the Ortsteile Bolbritz and Salzenforst of the
    // city of Bautzen, not the city itself (demail-notes § 2.4). The project brief
    // says "Bautzen: Fronleichnam"; we keep the finer, sourced statement.
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Bautzen",
        municipality_key: "bautzen",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: false,
        note: "the FronleichnamsVO lists only the Bautzen Ortsteile Bolbritz and Salzenforst, \
               not the city core (demail-notes § 2.4); set the Ortsteil or an override",
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Bautzen",
        municipality_key: "bautzen",
        ortsteil: Some("Bolbritz"),
        ortsteil_key: Some("bolbritz"),
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Bautzen",
        municipality_key: "bautzen",
        ortsteil: Some("Salzenforst"),
        ortsteil_key: Some("salzenforst"),
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Crostwitz",
        municipality_key: "crostwitz",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Nebelschütz",
        municipality_key: "nebelschuetz",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Panschwitz-Kuckau",
        municipality_key: "panschwitzkuckau",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Räckelwitz",
        municipality_key: "raeckelwitz",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Ralbitz-Rosenthal",
        municipality_key: "ralbitzrosenthal",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Radibor",
        municipality_key: "radibor",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Sachsen,
        municipality: "Wittichenau",
        municipality_key: "wittichenau",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::Fronleichnam,
        observed: true,
        note: FRONLEICHNAM_VO_SN,
    },
    KnownMunicipality {
        land: Land::Bayern,
        municipality: "München",
        municipality_key: "muenchen",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::MariaeHimmelfahrt,
        observed: true,
        note: "München has a predominantly Catholic population (well known; the Bavarian \
               Landesamt für Statistik list was not read here)",
    },
    KnownMunicipality {
        land: Land::Bayern,
        municipality: "Augsburg",
        municipality_key: "augsburg",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::MariaeHimmelfahrt,
        observed: true,
        note: "Augsburg has a predominantly Catholic population (well known; the Bavarian \
               Landesamt für Statistik list was not read here)",
    },
    KnownMunicipality {
        land: Land::Bayern,
        municipality: "Augsburg",
        municipality_key: "augsburg",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::AugsburgerFriedensfest,
        observed: true,
        note: "the Hohes Friedensfest is a statutory holiday in the city of Augsburg only",
    },
    // Uncertain (from general knowledge): Nürnberg is the usual example of a large
    // Bavarian city without Mariä Himmelfahrt as a holiday.
    KnownMunicipality {
        land: Land::Bayern,
        municipality: "Nürnberg",
        municipality_key: "nuernberg",
        ortsteil: None,
        ortsteil_key: None,
        holiday: LocalHoliday::MariaeHimmelfahrt,
        observed: false,
        note: "Nürnberg does not have a predominantly Catholic population (general knowledge, \
               uncertain; the Landesamt list was not read here)",
    },
];

impl Place {
    /// A place known only by its Land (no municipal holidays unless overridden).
    pub fn land(land: Land) -> Self {
        Place {
            land,
            municipality: None,
            ortsteil: None,
            overrides: Vec::new(),
        }
    }

    /// A municipality in a Land, e.g. `Place::municipality(Land::Sachsen, "Dresden")`.
    pub fn municipality(land: Land, name: impl Into<String>) -> Self {
        Place {
            municipality: Some(name.into()),
            ..Place::land(land)
        }
    }

    /// Sets the Ortsteil (part of the municipality).
    pub fn with_ortsteil(mut self, ortsteil: impl Into<String>) -> Self {
        self.ortsteil = Some(ortsteil.into());
        self
    }

    /// Scenario override: "this municipality has (or has not) this holiday".
    /// A later override of the same holiday replaces an earlier one.
    /// [`Place::validate`] rejects overrides that contradict the Land's law.
    pub fn with_local_holiday(mut self, holiday: LocalHoliday, observed: bool) -> Self {
        self.overrides.retain(|(h, _)| *h != holiday);
        self.overrides.push((holiday, observed));
        self
    }

    /// Checks the overrides against the Land's law: a statewide holiday cannot
    /// be switched off, and a holiday the Land does not have cannot be switched on.
    pub fn validate(&self) -> Result<(), LawError> {
        for &(holiday, observed) in &self.overrides {
            let reason = match (holiday.scope_in(self.land), observed) {
                (Scope::Statewide, false) => Some(format!(
                    "{holiday} is a statewide holiday in {}",
                    self.land.name()
                )),
                (Scope::Absent, true) => Some(format!(
                    "{holiday} is not a statutory holiday anywhere in {}",
                    self.land.name()
                )),
                _ => None,
            };
            if let Some(reason) = reason {
                return Err(LawError::OverrideNotApplicable {
                    holiday: holiday.name().to_string(),
                    observed,
                    land: self.land.code().to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Whether `holiday` holds at this place, and why. Year-independent: the
    /// years in which a holiday exists at all are handled by [`super::holidays()`].
    pub fn observes(&self, holiday: LocalHoliday) -> Result<Observance, LawError> {
        self.validate()?;
        let decision = self.decide(holiday);
        let make = |basis, source: String| Observance {
            holiday,
            observed: decision.observed(),
            basis,
            source,
        };
        Ok(match decision {
            Decision::Statewide => make(
                ObservanceBasis::Statewide,
                format!("statewide holiday in {}", self.land.name()),
            ),
            Decision::NotInLand => make(
                ObservanceBasis::NotInLand,
                format!("not a statutory holiday in {}", self.land.name()),
            ),
            Decision::Override(_, legal_basis) => make(
                ObservanceBasis::Override,
                format!("{legal_basis}; set explicitly by the scenario"),
            ),
            Decision::Table(row, legal_basis) => make(
                ObservanceBasis::Table,
                format!("{legal_basis}; {}", row.note),
            ),
            Decision::Default(legal_basis) => {
                let at = self
                    .municipality
                    .as_deref()
                    .unwrap_or("(no municipality given)");
                make(
                    ObservanceBasis::DefaultNotObserved,
                    format!(
                        "{legal_basis}; {at} is not in the built-in table, so it is assumed \
                         not to observe {holiday} (set an override if it does)"
                    ),
                )
            }
        })
    }

    /// Whether `holiday` holds at this place, without the explanation and
    /// without allocating. The same decision as [`Place::observes`]; the caller
    /// must have run [`Place::validate`].
    pub(crate) fn observed_unchecked(&self, holiday: LocalHoliday) -> bool {
        self.decide(holiday).observed()
    }

    /// The one decision behind [`Place::observes`] and [`Place::observed_unchecked`].
    fn decide(&self, holiday: LocalHoliday) -> Decision {
        let legal_basis = match holiday.scope_in(self.land) {
            Scope::Statewide => return Decision::Statewide,
            Scope::Absent => return Decision::NotInLand,
            Scope::Municipal(basis) => basis,
        };
        if let Some(&(_, observed)) = self.overrides.iter().find(|(h, _)| *h == holiday) {
            return Decision::Override(observed, legal_basis);
        }
        match self.lookup(holiday) {
            Some(row) => Decision::Table(row, legal_basis),
            None => Decision::Default(legal_basis),
        }
    }

    /// The most specific table row: Ortsteil row first, then the municipality row.
    /// Names are compared after [`fold`], with the table's pre-folded keys and
    /// without allocating.
    fn lookup(&self, holiday: LocalHoliday) -> Option<&'static KnownMunicipality> {
        let municipality = FoldedName::new(self.municipality.as_deref()?);
        let ortsteil = self.ortsteil.as_deref().map(FoldedName::new);
        let rows = KNOWN.iter().filter(|row| {
            row.land == self.land && row.holiday == holiday && municipality.is(row.municipality_key)
        });
        let mut whole = None;
        for row in rows {
            match (row.ortsteil_key, &ortsteil) {
                (Some(key), Some(given)) if given.is(key) => return Some(row),
                (None, _) => whole = Some(row),
                _ => {}
            }
        }
        whole
    }
}

/// A name after [`fold`], kept on the stack. A name whose folded form does not
/// fit is longer than every table key (checked by a test), so it matches none.
struct FoldedName {
    bytes: [u8; FoldedName::CAPACITY],
    /// `None` if the folded name does not fit.
    len: Option<usize>,
}

impl FoldedName {
    const CAPACITY: usize = 64;

    fn new(text: &str) -> Self {
        let mut name = FoldedName {
            bytes: [0; Self::CAPACITY],
            len: Some(0),
        };
        let mut len = 0;
        for ch in fold_chars(text) {
            let end = len + ch.len_utf8();
            if end > Self::CAPACITY {
                name.len = None;
                return name;
            }
            ch.encode_utf8(&mut name.bytes[len..end]);
            len = end;
        }
        name.len = Some(len);
        name
    }

    /// Whether the folded name equals `key` (a folded table key).
    fn is(&self, key: &str) -> bool {
        self.len
            .is_some_and(|len| &self.bytes[..len] == key.as_bytes())
    }
}

/// How [`Place::decide`] settled a local holiday; the legal basis is kept for
/// the explanation.
#[derive(Clone, Copy)]
enum Decision {
    Statewide,
    NotInLand,
    Override(bool, &'static str),
    Table(&'static KnownMunicipality, &'static str),
    Default(&'static str),
}

impl Decision {
    fn observed(self) -> bool {
        match self {
            Decision::Statewide => true,
            Decision::NotInLand | Decision::Default(_) => false,
            Decision::Override(observed, _) => observed,
            Decision::Table(row, _) => row.observed,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.municipality, &self.ortsteil) {
            (Some(m), Some(o)) => write!(f, "{m} (Ortsteil {o}), {}", self.land.name()),
            (Some(m), None) => write!(f, "{m}, {}", self.land.name()),
            _ => f.write_str(self.land.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_case_insensitively() {
        // Codes as listed in the project brief (ISO 3166-2:DE).
        assert_eq!("SN".parse::<Land>(), Ok(Land::Sachsen));
        assert_eq!("sn".parse::<Land>(), Ok(Land::Sachsen));
        assert_eq!("Nw".parse::<Land>(), Ok(Land::NordrheinWestfalen));
        assert_eq!("DE-BY".parse::<Land>(), Ok(Land::Bayern));
        for land in Land::ALL {
            assert_eq!(land.code().parse::<Land>(), Ok(land));
            assert_eq!(land.name().parse::<Land>(), Ok(land));
        }
    }

    #[test]
    fn parses_full_names() {
        assert_eq!("Thüringen".parse::<Land>(), Ok(Land::Thueringen));
        assert_eq!("thueringen".parse::<Land>(), Ok(Land::Thueringen));
        assert_eq!(
            "Baden-Württemberg".parse::<Land>(),
            Ok(Land::BadenWuerttemberg)
        );
        assert_eq!("Saxony".parse::<Land>(), Ok(Land::Sachsen));
        assert_eq!(" sachsen-anhalt ".parse::<Land>(), Ok(Land::SachsenAnhalt));
    }

    #[test]
    fn unknown_land_lists_codes() {
        let err = "XX".parse::<Land>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"XX\""), "{msg}");
        assert!(msg.contains("BW, BY, BE, BB, HB, HH, HE, MV, NI, NW, RP, SL, SN, ST, SH, TH"));
    }

    #[test]
    fn dresden_and_bautzen_fronleichnam() {
        // demail-notes § 2.4: FronleichnamsVO lists Bautzen OT Bolbritz, Salzenforst; "Not Dresden."
        let dresden = Place::municipality(Land::Sachsen, "Dresden");
        assert!(
            !dresden
                .observes(LocalHoliday::Fronleichnam)
                .unwrap()
                .observed
        );
        let salzenforst =
            Place::municipality(Land::Sachsen, "Bautzen").with_ortsteil("Salzenforst");
        let obs = salzenforst.observes(LocalHoliday::Fronleichnam).unwrap();
        assert!(obs.observed);
        assert_eq!(obs.basis, ObservanceBasis::Table);
        let core = Place::municipality(Land::Sachsen, "bautzen");
        assert!(!core.observes(LocalHoliday::Fronleichnam).unwrap().observed);
    }

    #[test]
    fn override_and_its_limits() {
        // § 1 SächsSFG: Fronleichnam is municipal in SN, so a scenario may switch it on.
        let p = Place::municipality(Land::Sachsen, "Musterdorf")
            .with_local_holiday(LocalHoliday::Fronleichnam, true);
        let obs = p.observes(LocalHoliday::Fronleichnam).unwrap();
        assert_eq!((obs.observed, obs.basis), (true, ObservanceBasis::Override));
        // Fronleichnam is statewide in NW (§ 2 FeiertagsG NW): cannot be switched off.
        let bad = Place::land(Land::NordrheinWestfalen)
            .with_local_holiday(LocalHoliday::Fronleichnam, false);
        assert!(matches!(
            bad.validate(),
            Err(LawError::OverrideNotApplicable { .. })
        ));
        // Niedersachsen has no Fronleichnam at all (§ 2 NFeiertagsG).
        let bad =
            Place::land(Land::Niedersachsen).with_local_holiday(LocalHoliday::Fronleichnam, true);
        assert!(bad.validate().is_err());
    }

    #[test]
    fn table_keys_are_folded_names() {
        for row in KNOWN {
            assert_eq!(fold(row.municipality), row.municipality_key);
            assert_eq!(row.ortsteil.map(fold).as_deref(), row.ortsteil_key);
            assert!(row.ortsteil.is_none() || row.ortsteil_key.is_some());
            assert!(row.municipality_key.len() <= FoldedName::CAPACITY);
            assert!(
                row.ortsteil_key
                    .is_none_or(|k| k.len() <= FoldedName::CAPACITY)
            );
        }
        let long = "Bautzen".repeat(20);
        assert!(!FoldedName::new(&long).is("bautzen"));
        assert!(FoldedName::new(" Nebel-Schütz ").is("nebelschuetz"));
    }

    #[test]
    fn unknown_municipality_defaults_to_not_observed() {
        // Documented default (module doc): never extend a deadline by guessing.
        let p = Place::municipality(Land::Bayern, "Irgendwo");
        let obs = p.observes(LocalHoliday::MariaeHimmelfahrt).unwrap();
        assert_eq!(
            (obs.observed, obs.basis),
            (false, ObservanceBasis::DefaultNotObserved)
        );
        let muc = Place::municipality(Land::Bayern, "Muenchen");
        assert!(
            muc.observes(LocalHoliday::MariaeHimmelfahrt)
                .unwrap()
                .observed
        );
    }
}
