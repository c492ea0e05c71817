//! The reference intake's configuration file: the city, its Funktionspostfächer (functional
//! mailboxes) and its procedures with their form rules and deadlines.
//!
//! The format is documented in `docs/intake.md`; the default, a Dresden-like city, is
//! `dresden.toml` beside this file (embedded in the binary). Every error names the file, line
//! and column and what was expected; unknown keys are errors.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::Span;
use serde::Deserialize;
use toml::Spanned;

use demail_calendar::{Land, Place, RULE_IDS};
use demail_wire::address;

use crate::office_hours::{OfficeError, OfficeHours};

/// The embedded default (Dresden-like).
pub const DEFAULT_TOML: &str = include_str!("dresden.toml");
/// The name under which errors in the default are reported.
pub const DEFAULT_NAME: &str = "<embedded dresden.toml>";

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    city: RawCity,
    mailbox: Vec<RawMailbox>,
    procedure: Vec<RawProcedure>,
    #[serde(default)]
    office_hours: Option<RawOfficeHours>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOfficeHours {
    days: Spanned<String>,
    hours: Spanned<String>,
    #[serde(default = "yes")]
    closed_on_holidays: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCity {
    name: String,
    land: Spanned<String>,
    municipality: String,
    domain: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    address: Spanned<String>,
    name: String,
    #[serde(default)]
    procedure: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcedure {
    id: Spanned<String>,
    title: String,
    prefix: Spanned<String>,
    #[serde(default)]
    keywords: Vec<String>,
    legal_basis: String,
    schriftform: bool,
    reply_after: Spanned<String>,
    #[serde(default)]
    receipt_rule: Option<Spanned<String>>,
    #[serde(default)]
    deadlines: Vec<Spanned<String>>,
    #[serde(default)]
    bescheid: Option<RawBescheid>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBescheid {
    after: Spanned<String>,
    subject: String,
    #[serde(default = "yes")]
    rechtsbehelfsbelehrung: bool,
}

fn yes() -> bool {
    true
}

/// The city the intake works for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct City {
    pub name: String,
    /// Land and municipality: their holidays decide deadline shifts.
    pub place: Place,
    /// The city's De-Mail domain.
    pub domain: String,
}

/// One Funktionspostfach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Normalised address.
    pub address: String,
    /// Display name in From of the replies.
    pub name: String,
    /// The procedure of every message to this mailbox; `None`: classify by keywords.
    pub procedure: Option<String>,
}

/// A Bescheid (administrative decision) the procedure ends with, served förmlich by De-Mail
/// against Abholbestätigung (§ 5a VwZG).
#[derive(Debug, Clone)]
pub struct BescheidConfig {
    /// Time from receipt of the application to sending the Bescheid.
    pub after: Span,
    pub subject: String,
    /// Whether the Bescheid carries a Rechtsbehelfsbelehrung (instructions on remedies): the
    /// Widerspruchsfrist is then one month (§ 70 VwGO), else one year (§ 58 Abs. 2 VwGO).
    pub rechtsbehelfsbelehrung: bool,
}

/// One procedure (Verfahren).
#[derive(Debug, Clone)]
pub struct Procedure {
    pub id: String,
    pub title: String,
    /// Aktenzeichen prefix, e.g. "GA".
    pub prefix: String,
    /// Lower-case keywords that classify a message to a mailbox without fixed procedure.
    pub keywords: Vec<String>,
    /// The legal basis named in replies.
    pub legal_basis: String,
    /// Whether the procedure needs the written form (Schriftform), which De-Mail replaces only
    /// as absenderbestätigte De-Mail (§ 3a Abs. 3 Nr. 2 lit. d VwVfG, while in force).
    pub schriftform: bool,
    /// Time from receipt to the Empfangsbescheinigung (or other reply).
    pub reply_after: Span,
    /// Rule (see `law::RULE_IDS`) by which the reply is due, e.g. "gewerbe-empfang".
    pub receipt_rule: Option<String>,
    /// Further deadlines that receipt starts, e.g. "untaetigkeit".
    pub deadlines: Vec<String>,
    pub bescheid: Option<BescheidConfig>,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct IntakeFile {
    pub city: City,
    pub mailboxes: Vec<Mailbox>,
    pub procedures: Vec<Procedure>,
    /// When the intake sends replies, Bescheide and notices; without `[office_hours]`
    /// around the clock.
    pub office_hours: OfficeHours,
}

/// An error in a configuration file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// The fallback procedure id for messages that match no keyword.
pub const GENERAL: &str = "allgemein";

impl IntakeFile {
    /// The embedded default.
    pub fn default_dresden() -> Result<Self, ConfigError> {
        Self::parse(DEFAULT_TOML, Path::new(DEFAULT_NAME))
    }

    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks `text`; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let locator = Locator { text, path };
        let at = |span: Option<Range<usize>>, message: String| locator.at(span, message);
        let raw: RawFile = toml::from_str(text).map_err(|e| at(e.span(), e.message().into()))?;
        let land: Land = raw.city.land.get_ref().parse().map_err(|e| {
            at(
                Some(raw.city.land.span()),
                format!("land: {e}; expected a code like \"SN\""),
            )
        })?;
        let place = Place::municipality(land, raw.city.municipality.clone());
        place
            .validate()
            .map_err(|e| at(Some(raw.city.land.span()), format!("{e}")))?;
        let domain = raw.city.domain.get_ref().trim().to_ascii_lowercase();
        if domain.split('.').count() < 3 {
            return Err(at(
                Some(raw.city.domain.span()),
                format!(
                    "domain {domain:?}: a De-Mail domain has at least three levels (ACM-FU §2.1), e.g. \"dresden.de-mail.de\""
                ),
            ));
        }
        let mut procedures = Vec::new();
        for p in &raw.procedure {
            let procedure = parse_procedure(p, &procedures, &locator)?;
            procedures.push(procedure);
        }
        if !procedures.iter().any(|p| p.id == GENERAL) {
            return Err(at(
                None,
                format!(
                    "no procedure with id {GENERAL:?}: messages that fit no procedure need one"
                ),
            ));
        }
        let mut mailboxes: Vec<Mailbox> = Vec::new();
        for m in &raw.mailbox {
            let addr = demail_wire::normalize_address(m.address.get_ref());
            address::validate(&addr).map_err(|e| {
                at(
                    Some(m.address.span()),
                    format!("mailbox address {addr:?}: {e}"),
                )
            })?;
            if !addr.ends_with(&format!("@{domain}")) {
                return Err(at(
                    Some(m.address.span()),
                    format!("mailbox {addr:?} is not on the city's domain {domain:?}"),
                ));
            }
            if mailboxes.iter().any(|x| x.address == addr) {
                return Err(at(
                    Some(m.address.span()),
                    format!("mailbox {addr:?} is listed twice"),
                ));
            }
            let procedure = match &m.procedure {
                None => None,
                Some(p) if procedures.iter().any(|q| q.id == *p.get_ref()) => {
                    Some(p.get_ref().clone())
                }
                Some(p) => {
                    return Err(at(
                        Some(p.span()),
                        format!(
                            "unknown procedure {:?}; expected one of {}",
                            p.get_ref(),
                            procedures
                                .iter()
                                .map(|q| q.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            };
            mailboxes.push(Mailbox {
                address: addr,
                name: m.name.clone(),
                procedure,
            });
        }
        if mailboxes.is_empty() {
            return Err(at(
                None,
                "no [[mailbox]]: the intake needs at least one".into(),
            ));
        }
        let office_hours = match &raw.office_hours {
            None => OfficeHours::always(),
            Some(o) => {
                OfficeHours::parse(o.days.get_ref(), o.hours.get_ref(), o.closed_on_holidays)
                    .map_err(|e| match e {
                        OfficeError::Days(m) => {
                            at(Some(o.days.span()), format!("office_hours.days: {m}"))
                        }
                        OfficeError::Hours(m) => {
                            at(Some(o.hours.span()), format!("office_hours.hours: {m}"))
                        }
                    })?
            }
        };
        Ok(IntakeFile {
            city: City {
                name: raw.city.name,
                place,
                domain,
            },
            mailboxes,
            procedures,
            office_hours,
        })
    }

    /// The mailbox with this address.
    pub fn mailbox(&self, address: &str) -> Option<&Mailbox> {
        let address = demail_wire::normalize_address(address);
        self.mailboxes.iter().find(|m| m.address == address)
    }

    /// The procedure with this id.
    pub fn procedure(&self, id: &str) -> Option<&Procedure> {
        self.procedures.iter().find(|p| p.id == id)
    }

    /// Classifies a message to `mailbox` with `subject`: the mailbox's procedure if it has
    /// one, else the first procedure (in file order) with a keyword in the subject, else
    /// [`GENERAL`].
    pub fn classify(&self, mailbox: &str, subject: &str) -> &Procedure {
        let fixed = self
            .mailbox(mailbox)
            .and_then(|m| m.procedure.as_deref())
            .and_then(|id| self.procedure(id));
        if let Some(p) = fixed {
            return p;
        }
        let subject = subject.to_lowercase();
        let words: Vec<&str> = subject
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let hit = self.procedures.iter().find(|p| {
            p.keywords
                .iter()
                .any(|k| words.iter().any(|w| w.starts_with(k.as_str())))
        });
        hit.or_else(|| self.procedure(GENERAL))
            .unwrap_or(&self.procedures[0])
    }
}

fn span(s: &Spanned<String>) -> Result<Span, String> {
    let text = s.get_ref().trim();
    let parsed: Span = text.parse().map_err(|e| {
        format!("{text:?} is not a duration ({e}); expected e.g. \"PT20H\" or \"P7D\"")
    })?;
    if parsed.is_negative() || parsed.is_zero() {
        return Err(format!("{text:?}: expected a positive duration"));
    }
    Ok(parsed)
}

/// Checks that a Bescheid due `after` receipt comes after the reply due `reply_after`: the
/// reply (Empfangsbescheinigung) carries the Belehrung that § 5a Abs. 4 Satz 3 VwZG requires
/// "vor der Übermittlung" of the document. Spans with months are not compared (their length
/// depends on the date).
pub fn bescheid_after_reply(after: Span, reply_after: Span) -> Result<(), String> {
    let seconds = |s: Span| {
        s.total((
            jiff::Unit::Second,
            jiff::SpanRelativeTo::days_are_24_hours(),
        ))
        .ok()
    };
    match (seconds(after), seconds(reply_after)) {
        (Some(a), Some(r)) if a <= r => Err(format!(
            "the Bescheid after {after:#} would not come after the reply after {reply_after:#}: \
             the reply carries the Belehrung that § 5a Abs. 4 Satz 3 VwZG requires before the \
             Bescheid is sent; expected a longer duration"
        )),
        _ => Ok(()),
    }
}

/// Turns `FILE:LINE:COLUMN` spans of the configuration text into [`ConfigError`]s.
struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Locator<'_> {
    fn at(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        let (line, column) = span.map_or((0, 0), |s| demail_core::line_col(self.text, s.start));
        ConfigError {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

/// One `[[procedure]]`, checked against the ones before it (ids unique).
fn parse_procedure(
    p: &RawProcedure,
    procedures: &[Procedure],
    locator: &Locator<'_>,
) -> Result<Procedure, ConfigError> {
    let at = |span: Option<Range<usize>>, message: String| locator.at(span, message);
    let id = p.id.get_ref().trim().to_string();
    if id.is_empty() || procedures.iter().any(|q: &Procedure| q.id == id) {
        return Err(at(
            Some(p.id.span()),
            format!("procedure id {id:?} is empty or used twice"),
        ));
    }
    let prefix = p.prefix.get_ref().trim().to_string();
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(at(
            Some(p.prefix.span()),
            format!("prefix {prefix:?}: expected letters and digits, e.g. \"GA\""),
        ));
    }
    let reply_after = span(&p.reply_after).map_err(|m| at(Some(p.reply_after.span()), m))?;
    let rule = |r: &Spanned<String>| -> Result<String, ConfigError> {
        if RULE_IDS.contains(&r.get_ref().as_str()) {
            Ok(r.get_ref().clone())
        } else {
            Err(at(
                Some(r.span()),
                format!(
                    "unknown rule {:?}; expected one of {}",
                    r.get_ref(),
                    RULE_IDS.join(", ")
                ),
            ))
        }
    };
    let receipt_rule = p.receipt_rule.as_ref().map(rule).transpose()?;
    let deadlines = p
        .deadlines
        .iter()
        .map(rule)
        .collect::<Result<Vec<_>, _>>()?;
    let bescheid = match &p.bescheid {
        None => None,
        Some(b) => {
            let after = span(&b.after).map_err(|m| at(Some(b.after.span()), m))?;
            bescheid_after_reply(after, reply_after).map_err(|m| at(Some(b.after.span()), m))?;
            Some(BescheidConfig {
                after,
                subject: b.subject.clone(),
                rechtsbehelfsbelehrung: b.rechtsbehelfsbelehrung,
            })
        }
    };
    Ok(Procedure {
        id,
        title: p.title.clone(),
        prefix,
        keywords: p.keywords.iter().map(|k| k.to_lowercase()).collect(),
        legal_basis: p.legal_basis.clone(),
        schriftform: p.schriftform,
        reply_after,
        receipt_rule,
        deadlines,
        bescheid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_loads_and_classifies() {
        let f = IntakeFile::default_dresden().unwrap();
        assert_eq!(f.mailboxes.len(), 4);
        assert_eq!(
            f.classify("gewerbeangelegenheiten@dresden.de-mail.de", "Hallo")
                .id,
            "gewerbeanzeige"
        );
        let general = "stadtverwaltung@dresden.de-mail.de";
        assert_eq!(
            f.classify(general, "Antrag auf Wohnberechtigungsschein").id,
            "wohnberechtigungsschein"
        );
        assert_eq!(
            f.classify(general, "WBS-Antrag").id,
            "wohnberechtigungsschein"
        );
        assert_eq!(f.classify(general, "Gewerbeanmeldung").id, "gewerbeanzeige");
        assert_eq!(f.classify(general, "Petition Radweg").id, "petition");
        assert_eq!(f.classify(general, "Öffnungszeiten?").id, GENERAL);
        // A keyword inside a word does not count ("abwbs" is not "wbs").
        assert_eq!(f.classify(general, "abwbs").id, GENERAL);
        let wbs = f.procedure("wohnberechtigungsschein").unwrap();
        assert!(wbs.bescheid.as_ref().unwrap().rechtsbehelfsbelehrung);
        assert!(wbs.schriftform);
    }

    fn err(text: &str) -> String {
        IntakeFile::parse(text, Path::new("x.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_line_column_and_expectation() {
        let unknown_key = DEFAULT_TOML.replace(
            "schriftform = false\nreply_after",
            "schriftfrom = false\nreply_after",
        );
        let e = err(&unknown_key);
        assert!(e.starts_with("x.toml:"), "{e}");
        assert!(e.contains("schriftfrom"), "{e}");

        let bad_rule = DEFAULT_TOML.replace("\"untaetigkeit\"", "\"untätigkeit\"");
        let e = err(&bad_rule);
        let line = bad_rule
            .lines()
            .position(|l| l.contains("untätigkeit"))
            .unwrap()
            + 1;
        assert!(e.starts_with(&format!("x.toml:{line}:")), "{e}");
        assert!(e.contains("expected one of"), "{e}");

        let bad_proc = DEFAULT_TOML.replace("procedure = \"petition\"", "procedure = \"petiton\"");
        assert!(err(&bad_proc).contains("unknown procedure \"petiton\""));

        let bad_span = DEFAULT_TOML.replace("after = \"P7D\"", "after = \"seven days\"");
        assert!(err(&bad_span).contains("not a duration"));

        let off_domain =
            DEFAULT_TOML.replace("petition@dresden.de-mail.de", "petition@leipzig.de-mail.de");
        assert!(err(&off_domain).contains("not on the city's domain"));

        let no_general = DEFAULT_TOML.replace("id = \"allgemein\"", "id = \"sonstiges\"");
        assert!(err(&no_general).contains("no procedure with id \"allgemein\""));

        assert!(err("city = 3").contains("x.toml:1:"));

        let bad_days = DEFAULT_TOML.replace("days = \"Mon-Fri\"", "days = \"Mo-Fr\"");
        let e = err(&bad_days);
        let line = bad_days.lines().position(|l| l.contains("Mo-Fr")).unwrap() + 1;
        assert!(e.starts_with(&format!("x.toml:{line}:")), "{e}");
        assert!(
            e.contains("office_hours.days") && e.contains("Mon, Tue"),
            "{e}"
        );
        let bad_hours = DEFAULT_TOML.replace("\"08:00-16:00\"", "\"16:00-08:00\"");
        assert!(err(&bad_hours).contains("office_hours.hours"));

        let early = DEFAULT_TOML.replace("after = \"P7D\"", "after = \"PT10H\"");
        assert!(err(&early).contains("§ 5a Abs. 4 Satz 3 VwZG"));
    }

    #[test]
    fn office_hours_default_and_absent() {
        let f = IntakeFile::default_dresden().unwrap();
        assert_eq!(
            f.office_hours.to_string(),
            "Mon–Fri 08:00–16:00, not on holidays"
        );
        let start = DEFAULT_TOML.find("[office_hours]").unwrap();
        let end = DEFAULT_TOML[start..].find("\n\n").unwrap() + start;
        let without = format!("{}{}", &DEFAULT_TOML[..start], &DEFAULT_TOML[end..]);
        let f = IntakeFile::parse(&without, Path::new("x.toml")).unwrap();
        assert!(f.office_hours.is_always());
    }
}
