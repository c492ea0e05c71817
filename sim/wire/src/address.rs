//! De-Mail addresses (TR 01201 ACM-FU §2.1): syntax, length limits, and how an address is
//! formed from a person's name, with the ICAO Doc 9303 transliteration the TR makes mandatory
//! (ACM-FU §2.1.3).
//!
//! - Natural persons: `<vorname(n)>.<nachname>[.<nummer>]`; parts of a name separated by a
//!   space in the identity document are joined by `_`, a hyphen is kept (§2.1.3); a surname
//!   longer than 62 characters is cut after the 62nd and the first letter of the first name
//!   with a dot is put in front (§2.1.1).
//! - Pseudonyms: `pn_<bezeichnung>` without "." and not a system address name (§2.1.1).
//! - Institutions: free local part, but on their own 3rd-level domain (§2.1.2).
//! - Letters are lower case; local part ≤ 64, domain ≤ 189, whole address ≤ 253 (§2.1.3).
//! - System addresses (`Eingangsbestaetigung@…`) are exempt from these rules (§2.1.4).

use std::collections::BTreeSet;
use std::fmt;

use super::system_address;

/// Limits of ACM-FU §2.1.3.
pub const MAX_LOCAL: usize = 64;
pub const MAX_DOMAIN: usize = 189;
pub const MAX_ADDRESS: usize = 253;

/// What kind of account an address belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// A natural person's primary address.
    Person,
    /// A natural person's pseudonymous address (`pn_…`).
    Pseudonym,
    /// An institution's address.
    Institution,
    /// A provider's system address (exempt from the format rules).
    System,
}

/// Why an address is not a valid De-Mail address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressError {
    pub address: String,
    pub reason: String,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a valid De-Mail address: {}",
            self.address, self.reason
        )
    }
}

impl std::error::Error for AddressError {}

fn err(address: &str, reason: impl Into<String>) -> AddressError {
    AddressError {
        address: address.to_string(),
        reason: reason.into(),
    }
}

/// Checks `address` against ACM-FU §2.1 and says what kind it is.
pub fn validate(address: &str) -> Result<AddressKind, AddressError> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(err(
            address,
            "no '@' (expected Nutzer-Teil@Domänen-Teil, ACM-FU §2.1)",
        ));
    };
    if local.is_empty() || domain.is_empty() {
        return Err(err(address, "empty local part or domain"));
    }
    if system_address::is_system(address) {
        return Ok(AddressKind::System);
    }
    if address.len() > MAX_ADDRESS {
        return Err(err(
            address,
            format!("longer than {MAX_ADDRESS} characters (ACM-FU §2.1.3)"),
        ));
    }
    if local.len() > MAX_LOCAL {
        return Err(err(
            address,
            format!("local part longer than {MAX_LOCAL} characters (ACM-FU §2.1.3)"),
        ));
    }
    if domain.len() > MAX_DOMAIN {
        return Err(err(
            address,
            format!("domain longer than {MAX_DOMAIN} characters (ACM-FU §2.1.3)"),
        ));
    }
    if address.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(err(
            address,
            "upper-case letters; De-Mail addresses are lower case (ACM-FU §2.1.3)",
        ));
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(err(
                address,
                format!("domain label {label:?} is not a valid DNS label"),
            ));
        }
    }
    if domain.split('.').count() < 3 {
        return Err(err(
            address,
            "the domain needs at least three levels (e.g. dmda-a.de-mail.de, ACM-FU §2.1.2)",
        ));
    }
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !local_ok {
        return Err(err(
            address,
            "the local part may hold only a–z, 0–9, '.', '_' and '-' (ICAO transliteration, ACM-FU §2.1.3)",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(err(
            address,
            "a dot at the start, at the end or twice in a row",
        ));
    }
    if let Some(label) = local.strip_prefix("pn_") {
        if label.is_empty() {
            return Err(err(address, "pseudonym without a name after pn_"));
        }
        if label.contains('.') {
            return Err(err(
                address,
                "a pseudonym must not contain '.' (ACM-FU §2.1.1)",
            ));
        }
        return Ok(AddressKind::Pseudonym);
    }
    // A person's address has "<vornamen>.<nachname>" and optionally ".<nummer>"; an address
    // without a dot is a single surname or an institution's function mailbox.
    if local.contains('.') {
        Ok(AddressKind::Person)
    } else {
        Ok(AddressKind::Institution)
    }
}

/// Transliterates text to lower-case ASCII per ICAO Doc 9303 Part 3 (the table the TR makes
/// mandatory, applied to lower case): ä→ae, ö→oe, ü→ue, ß→ss, å→aa, æ→ae, ø→oe, œ→oe, þ→th,
/// diacritics dropped from other Latin letters; apostrophes are removed.
pub fn transliterate_icao(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let lower: String = c.to_lowercase().collect();
        for l in lower.chars() {
            let t: &str = match l {
                'ä' => "ae",
                'ö' => "oe",
                'ü' => "ue",
                'ß' | 'ẞ' => "ss",
                'å' => "aa",
                'æ' => "ae",
                'ø' => "oe",
                'œ' => "oe",
                'þ' => "th",
                'ð' | 'đ' | 'ď' => "d",
                'à' | 'á' | 'â' | 'ã' | 'ā' | 'ă' | 'ą' => "a",
                'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
                'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
                'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
                'ĥ' | 'ħ' => "h",
                'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
                'ĵ' => "j",
                'ķ' => "k",
                'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
                'ñ' | 'ń' | 'ņ' | 'ň' => "n",
                'ò' | 'ó' | 'ô' | 'õ' | 'ō' | 'ŏ' | 'ő' => "o",
                'ŕ' | 'ŗ' | 'ř' => "r",
                'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
                'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
                'ù' | 'ú' | 'û' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
                'ŵ' => "w",
                'ý' | 'ÿ' | 'ŷ' => "y",
                'ź' | 'ż' | 'ž' => "z",
                '\'' | '’' | '`' | '´' => "",
                other => {
                    out.push(other);
                    continue;
                }
            };
            out.push_str(t);
        }
    }
    out
}

/// Normalises one name field: ICAO transliteration, parts separated by spaces joined with
/// `_`, hyphens kept, anything else outside a–z/0–9 dropped.
fn name_part(name: &str) -> String {
    let t = transliterate_icao(name.trim());
    let mut out = String::new();
    for word in t.split_whitespace() {
        let w: String = word
            .chars()
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&w);
    }
    out
}

/// Forms the local part of a person's primary address (ACM-FU §2.1.1):
/// `<vornamen>.<nachname>[.<nummer>]`, or `<nachname>[.<nummer>]` without a first name.
pub fn person_local_part(
    first_names: &str,
    surname: &str,
    number: Option<u32>,
) -> Result<String, AddressError> {
    let first = name_part(first_names);
    let mut last = name_part(surname);
    if last.is_empty() {
        return Err(err(
            surname,
            "the surname is required in a person's address (ACM-FU §2.1.1)",
        ));
    }
    let suffix = number.map(|n| format!(".{n}")).unwrap_or_default();
    let mut prefix = if first.is_empty() {
        String::new()
    } else {
        format!("{first}.")
    };
    // §2.1.1: a surname over 62 characters is cut after the 62nd and only the first letter
    // of the first name is kept; a number shortens the surname further.
    if last.chars().count() > 62 {
        last = last.chars().take(62).collect();
        prefix = first
            .chars()
            .next()
            .map(|c| format!("{c}."))
            .unwrap_or_default();
    }
    let budget = MAX_LOCAL.saturating_sub(suffix.len());
    if prefix.len() + last.len() > budget {
        let first_initial = first
            .chars()
            .next()
            .map(|c| format!("{c}."))
            .unwrap_or_default();
        prefix = first_initial;
        let keep = budget.saturating_sub(prefix.len());
        last = last.chars().take(keep).collect();
    }
    Ok(format!("{prefix}{last}{suffix}"))
}

/// Gives `local@domain`, numbered `.1`, `.2`, … when the plain form is already in `taken`
/// (ACM-FU §2.1.1: a number is required when the same name is assigned more than once).
/// The chosen address is added to `taken`.
pub fn allocate(
    first_names: &str,
    surname: &str,
    domain: &str,
    taken: &mut BTreeSet<String>,
) -> Result<String, AddressError> {
    let mut n = None;
    loop {
        let local = person_local_part(first_names, surname, n)?;
        let address = format!("{local}@{domain}");
        if !taken.contains(&address) {
            validate(&address)?;
            taken.insert(address.clone());
            return Ok(address);
        }
        n = Some(n.map_or(1, |k| k + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// German umlauts and ß follow ICAO Doc 9303 (ä→ae, ö→oe, ü→ue, ß→ss); other Latin
    /// letters lose their diacritics; spaces join with '_', hyphens stay (ACM-FU §2.1.3).
    #[test]
    fn names_become_ascii_local_parts() {
        assert_eq!(
            person_local_part("Jürgen", "Weiß", None).unwrap(),
            "juergen.weiss"
        );
        assert_eq!(
            person_local_part("Wilhelm Joachim", "Müller-Lüdenscheidt", None).unwrap(),
            "wilhelm_joachim.mueller-luedenscheidt"
        );
        assert_eq!(
            person_local_part("Zoë", "Ørsted", Some(2)).unwrap(),
            "zoe.oersted.2"
        );
        assert_eq!(person_local_part("", "Çelik", None).unwrap(), "celik");
        assert_eq!(
            person_local_part("Seán", "O'Brien", None).unwrap(),
            "sean.obrien"
        );
        assert!(person_local_part("Erika", "  ", None).is_err());
    }

    /// A surname over 62 characters is cut after the 62nd and only the first initial is kept;
    /// the result never exceeds 64 characters (ACM-FU §2.1.1, §2.1.3).
    #[test]
    fn long_names_are_cut() {
        let long = "a".repeat(80);
        let l = person_local_part("Erika", &long, None).unwrap();
        assert_eq!(l, format!("e.{}", "a".repeat(62)));
        let l = person_local_part("Erika", &long, Some(12)).unwrap();
        assert!(
            l.len() <= MAX_LOCAL && l.ends_with(".12") && l.starts_with("e."),
            "{l}"
        );
    }

    /// Collisions are numbered .1, .2, … and every result is valid.
    #[test]
    fn collisions_are_numbered() {
        let mut taken = BTreeSet::new();
        let d = "dmda-a.de-mail.de";
        assert_eq!(
            allocate("Erika", "Mustermann", d, &mut taken).unwrap(),
            "erika.mustermann@dmda-a.de-mail.de"
        );
        assert_eq!(
            allocate("Erika", "Mustermann", d, &mut taken).unwrap(),
            "erika.mustermann.1@dmda-a.de-mail.de"
        );
        assert_eq!(
            allocate("Erika", "Mustermann", d, &mut taken).unwrap(),
            "erika.mustermann.2@dmda-a.de-mail.de"
        );
    }

    /// Validation knows persons, pseudonyms, institutions and system addresses and names the
    /// broken rule otherwise.
    #[test]
    fn validation_rules() {
        assert_eq!(
            validate("erika.mustermann@dmda-a.de-mail.de"),
            Ok(AddressKind::Person)
        );
        assert_eq!(
            validate("pn_kaninchen@dmda-a.de-mail.de"),
            Ok(AddressKind::Pseudonym)
        );
        assert_eq!(
            validate("poststelle@dresden.de-mail.de"),
            Ok(AddressKind::Institution)
        );
        assert_eq!(
            validate("Eingangsbestaetigung@dmda-a.de-mail.de"),
            Ok(AddressKind::System)
        );
        let e = |a: &str| validate(a).unwrap_err().reason;
        assert!(e("Erika.Mustermann@dmda-a.de-mail.de").contains("lower case"));
        assert!(e("pn_a.b@dmda-a.de-mail.de").contains("'.'"));
        assert!(e("jürgen.weiß@dmda-a.de-mail.de").contains("a–z"));
        assert!(e(&format!("{}@dmda-a.de-mail.de", "a".repeat(65))).contains("64"));
        assert!(e("erika@de-mail.de").contains("three levels"));
        assert!(e("no-at-sign").contains("'@'"));
    }
}
