//! Names of people (from the `fake` crate's German locale) and of businesses (built here from
//! surnames, a trade word and a legal form).
//!
//! The name lists are read directly from `fake::locales::DE_DE` (`NAME_FIRST_NAME`,
//! `NAME_LAST_NAME`: the most common German first names and surnames plus the specimen names
//! of the German and EU identity cards, umlauts and diacritics included) and picked with our
//! own ChaCha8 stream. We do not call `fake`'s `Fake::fake_with_rng`: its choice algorithm
//! belongs to `rand`'s `IndexedRandom` and may change with a `rand` release, while an index
//! into a fixed array drawn by [`Draw`] stays the same. So only the content of the two arrays
//! (pinned with `fake = "=5.1.0"`) decides the names.

use fake::locales::{DE_DE, Data};

use super::draw::Draw;

/// First names of the German locale.
pub fn first_names() -> &'static [&'static str] {
    <DE_DE as Data>::NAME_FIRST_NAME
}

/// Surnames of the German locale.
pub fn surnames() -> &'static [&'static str] {
    <DE_DE as Data>::NAME_LAST_NAME
}

/// The two blocks of the locale list with one sex each: the 50 most common female first
/// names (from "Ursula" to "Beate") and the 50 most common male ones (from "Peter" to
/// "Matthias"). A second given name is taken from the block of the first, so that nobody is
/// called "Rudolf Erika". `None` if the list ever changes shape.
fn same_sex_block(name: &str) -> Option<&'static [&'static str]> {
    let all = first_names();
    let pos = |n: &str| all.iter().position(|x| *x == n);
    for (from, to) in [("Ursula", "Beate"), ("Peter", "Matthias")] {
        let (Some(a), Some(b)) = (pos(from), pos(to)) else {
            continue;
        };
        let block = &all[a..=b.max(a)];
        if block.contains(&name) {
            return Some(block);
        }
    }
    None
}

/// A person's given names: one name, or for 8 % two different ones of the same sex block
/// ("Monika Petra").
pub(crate) fn person_first_names(draw: &mut Draw) -> String {
    let all = first_names();
    let first = all[draw.below(all.len())];
    // Always draw both, so the stream's position does not depend on the outcome.
    let double = draw.chance(0.08);
    let k = draw.unit();
    if double && let Some(block) = same_sex_block(first) {
        let second = block[((k * block.len() as f64) as usize).min(block.len() - 1)];
        if second != first {
            return format!("{first} {second}");
        }
    }
    first.to_string()
}

/// A surname.
pub(crate) fn surname(draw: &mut Draw) -> &'static str {
    let all = surnames();
    all[draw.below(all.len())]
}

/// Legal forms of the businesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum LegalForm {
    /// Gesellschaft mit beschränkter Haftung.
    #[serde(rename = "GmbH")]
    Gmbh,
    /// Unternehmergesellschaft (haftungsbeschränkt), § 5a GmbHG.
    #[serde(rename = "UG (haftungsbeschränkt)")]
    Ug,
    /// Eingetragener Kaufmann, § 19 Abs. 1 Nr. 1 HGB.
    #[serde(rename = "e.K.")]
    Ek,
    /// Gesellschaft bürgerlichen Rechts.
    #[serde(rename = "GbR")]
    Gbr,
}

impl LegalForm {
    /// As written after the firm name.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalForm::Gmbh => "GmbH",
            LegalForm::Ug => "UG (haftungsbeschränkt)",
            LegalForm::Ek => "e.K.",
            LegalForm::Gbr => "GbR",
        }
    }
}

/// Legal forms with weights (roughly the mix of small businesses registering a Gewerbe:
/// many e.K. and GbR, GmbH frequent, UG less so).
pub const LEGAL_FORMS: &[(LegalForm, f64)] = &[
    (LegalForm::Gmbh, 0.35),
    (LegalForm::Ug, 0.10),
    (LegalForm::Ek, 0.30),
    (LegalForm::Gbr, 0.25),
];

/// A kind of Gewerbe: id (stable, for data), description (as on a Gewerbeanmeldung), and the
/// word used in firm names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gewerbe {
    pub id: &'static str,
    pub description: &'static str,
    pub firm_word: &'static str,
}

/// The Gewerbe types.
pub const GEWERBE: &[Gewerbe] = &[
    Gewerbe {
        id: "elektro",
        description: "Elektroinstallation",
        firm_word: "Elektrotechnik",
    },
    Gewerbe {
        id: "baeckerei",
        description: "Bäckerei und Konditorei",
        firm_word: "Bäckerei",
    },
    Gewerbe {
        id: "gastronomie",
        description: "Gaststätte",
        firm_word: "Gastronomie",
    },
    Gewerbe {
        id: "einzelhandel",
        description: "Einzelhandel mit Waren aller Art",
        firm_word: "Handel",
    },
    Gewerbe {
        id: "it",
        description: "IT-Dienstleistungen und Softwareentwicklung",
        firm_word: "IT-Service",
    },
    Gewerbe {
        id: "bau",
        description: "Hoch- und Tiefbau",
        firm_word: "Bau",
    },
    Gewerbe {
        id: "friseur",
        description: "Friseurhandwerk",
        firm_word: "Friseursalon",
    },
    Gewerbe {
        id: "kfz",
        description: "Kfz-Reparatur und -Handel",
        firm_word: "Autoservice",
    },
    Gewerbe {
        id: "reinigung",
        description: "Gebäudereinigung",
        firm_word: "Gebäudereinigung",
    },
    Gewerbe {
        id: "transport",
        description: "Güterbeförderung und Logistik",
        firm_word: "Transporte",
    },
    Gewerbe {
        id: "beratung",
        description: "Unternehmensberatung",
        firm_word: "Consulting",
    },
    Gewerbe {
        id: "immobilien",
        description: "Immobilienvermittlung und -verwaltung (§ 34c GewO)",
        firm_word: "Immobilien",
    },
    Gewerbe {
        id: "maler",
        description: "Maler- und Lackiererhandwerk",
        firm_word: "Malerbetrieb",
    },
    Gewerbe {
        id: "pflege",
        description: "Ambulanter Pflegedienst",
        firm_word: "Pflegedienst",
    },
];

/// A firm name for a business owned by `surname` (`partner` is a second surname for a GbR):
/// "Krause Elektrotechnik GmbH", "Bäckerei Krause e.K.", "Krause & Vogel GbR",
/// "Krause IT-Service UG (haftungsbeschränkt)". Returns (full name, name without the legal
/// form).
pub(crate) fn firm_name(
    draw: &mut Draw,
    surname: &str,
    first_name: &str,
    partner: &str,
    form: LegalForm,
    gewerbe: &Gewerbe,
) -> (String, String) {
    let core = match form {
        LegalForm::Gbr if partner != surname => format!("{surname} & {partner}"),
        LegalForm::Gbr => format!("{surname} {}", gewerbe.firm_word),
        LegalForm::Ek => {
            if draw.chance(0.5) {
                format!("{} {first_name} {surname}", gewerbe.firm_word)
            } else {
                format!("{} {surname}", gewerbe.firm_word)
            }
        }
        LegalForm::Gmbh | LegalForm::Ug => format!("{surname} {}", gewerbe.firm_word),
    };
    (format!("{core} {}", form.as_str()), core)
}

/// A DNS label from a firm name: ICAO transliteration, ASCII outside a–z/0–9 becomes one
/// hyphen (leftover non-ASCII marks are dropped), at most 40 characters, no hyphen at either end.
pub fn slug(name: &str) -> String {
    let t = demail_wire::address::transliterate_icao(name);
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if c.is_ascii() && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        // Non-ASCII left after transliteration (combining marks) is dropped.
    }
    out.truncate(40);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("firma");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The locale lists are German (umlaut names present) and slugs are DNS labels.
    #[test]
    fn names_and_slugs() {
        assert!(surnames().contains(&"Müller"));
        assert!(first_names().contains(&"Jürgen"));
        assert_eq!(slug("Bäckerei Krause"), "baeckerei-krause");
        assert_eq!(slug("Weiß & Groß"), "weiss-gross");
        assert_eq!(slug("Özm̂en IT-Service"), "oezmen-it-service");
        assert_eq!(slug("&&"), "firma");
        assert!(same_sex_block("Monika").unwrap().contains(&"Beate"));
        assert!(!same_sex_block("Monika").unwrap().contains(&"Peter"));
        assert!(same_sex_block("Michael").unwrap().contains(&"Matthias"));
        assert!(same_sex_block("Paddy").is_none());
        assert!(slug(&"Schwarzenberg ".repeat(10)).len() <= 40);
    }
}
