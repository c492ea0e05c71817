//! The conformance catalogue (`scenarios/certification/catalogue.toml`): numbered cases with
//! their legal or TR sources, severity, the level of docs/sut.md they need, the behaviour
//! expected, and the scenario and `[[expect]]` ids that decide them; profiles group cases.
//!
//! Loading validates everything a user can get wrong with `FILE:LINE:COLUMN`: a duplicate or
//! unknown case id, an unknown scenario or expectation id, a level outside 1–3 or below what
//! the scenario needs, a severity or status of another spelling, a planned case without a
//! reason. Format: docs/certification.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::located::{FileError, Located};
use crate::model::Level;
use crate::scenario::{self, Scenario};

/// The catalogue this binary was built with (`verify-cert` compares a certificate's hash with
/// it).
pub const EMBEDDED: &str = include_str!("../../../scenarios/certification/catalogue.toml");

/// Where the catalogue lives in this repository, relative to its root.
pub const DEFAULT_PATH: &str = "scenarios/certification/catalogue.toml";

/// A catalogue that does not load, at `FILE:LINE:COLUMN` (the scenarios' and target files'
/// error).
pub type CatalogueError = FileError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    catalogue: Header,
    #[serde(default)]
    profile: Vec<RawProfile>,
    #[serde(default)]
    case: Vec<RawCase>,
}

/// `[catalogue]`: what the catalogue is.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub id: String,
    pub version: String,
    pub title: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: Spanned<String>,
    title: String,
    cases: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: Spanned<String>,
    title: String,
    severity: Spanned<String>,
    level: Spanned<i64>,
    expected: String,
    sources: Spanned<Vec<Spanned<Source>>>,
    scenario: Option<Spanned<String>>,
    #[serde(default)]
    expect: Vec<Spanned<String>>,
    status: Option<Spanned<String>>,
    reason: Option<String>,
}

/// A legal source (`law`, `paragraph`, `version`: the date of the text) or a part of the TR
/// (`tr`, `section`, optionally `version`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub law: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.law, &self.tr) {
            (Some(law), _) => write!(
                f,
                "{} {law} (Fassung {})",
                self.paragraph.as_deref().unwrap_or(""),
                self.version.as_deref().unwrap_or("?")
            ),
            (None, Some(tr)) => {
                write!(f, "{tr} {}", self.section.as_deref().unwrap_or(""))?;
                match &self.version {
                    Some(v) => write!(f, " (Version {v})"),
                    None => Ok(()),
                }
            }
            (None, None) => write!(f, "(no source)"),
        }
    }
}

/// `must` or `should`: only must-cases decide the exit code of `certify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Must,
    Should,
}

/// Whether a case is run, or listed for later with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Decided by these expectations of the scenario (its name below the catalogue's folder).
    Active {
        scenario: String,
        expect: Vec<String>,
    },
    /// Needs something the test-bed cannot do yet.
    Planned { reason: String },
}

/// One numbered case.
#[derive(Clone, Debug)]
pub struct Case {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub level: Level,
    pub expected: String,
    pub sources: Vec<Source>,
    pub status: Status,
}

/// The pseudo-profile of every case (`certify --profile all`).
pub const ALL: &str = "all";

/// A named group of cases.
#[derive(Clone, Debug)]
pub struct Profile {
    pub id: String,
    pub title: String,
    pub cases: Vec<String>,
}

/// A loaded, validated catalogue.
#[derive(Debug)]
pub struct Catalogue {
    pub header: Header,
    pub profiles: Vec<Profile>,
    pub cases: Vec<Case>,
    /// SHA-256 (hex) of the file's bytes.
    pub sha256: String,
    /// The scenarios active cases name, by their name below the catalogue's folder.
    pub scenarios: BTreeMap<String, Scenario>,
}

impl Catalogue {
    /// The case with this id.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The profile with this id.
    /// The profile `id`, or for [`ALL`] one of every case in catalogue order.
    pub fn profile(&self, id: &str) -> Option<Profile> {
        if id == ALL {
            return Some(Profile {
                id: ALL.to_string(),
                title: "Every case of the catalogue".to_string(),
                cases: self.cases.iter().map(|c| c.id.clone()).collect(),
            });
        }
        self.profiles.iter().find(|p| p.id == id).cloned()
    }
}

/// SHA-256 of a text, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and validates the catalogue at `path`; its scenarios lie beside it.
pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
    let text = std::fs::read_to_string(path).map_err(|e| CatalogueError {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the catalogue: {e}"),
    })?;
    parse(&text, path, path.parent().unwrap_or(Path::new(".")))
}

/// Only the `[catalogue]` header and the case ids of a catalogue text (no scenario is read);
/// for naming how two versions differ.
pub fn header_and_ids(text: &str) -> Option<(Header, Vec<String>)> {
    let raw: RawFile = toml::from_str(text).ok()?;
    let ids = raw.case.iter().map(|c| c.id.get_ref().clone()).collect();
    Some((raw.catalogue, ids))
}

/// Parses and validates catalogue text; `dir` is the folder its scenario names are below.
pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<Catalogue, CatalogueError> {
    let at = |l: Located| FileError::at(path, text, l);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        at(Located::new(
            e.span().unwrap_or(0..0),
            e.message().trim().to_string(),
        ))
    })?;
    let mut scenarios = BTreeMap::new();
    let mut cases = Vec::new();
    let mut seen = BTreeSet::new();
    for rc in &raw.case {
        if !seen.insert(rc.id.get_ref().clone()) {
            return Err(at(Located::new(
                rc.id.span(),
                format!("duplicate case id {:?}", rc.id.get_ref()),
            )));
        }
        cases.push(case(rc, dir, &mut scenarios).map_err(at)?);
    }
    let mut profiles = Vec::new();
    let mut profile_ids = BTreeSet::new();
    for rp in &raw.profile {
        if !profile_ids.insert(rp.id.get_ref().clone()) {
            return Err(at(Located::new(
                rp.id.span(),
                format!("duplicate profile id {:?}", rp.id.get_ref()),
            )));
        }
        if rp.id.get_ref() == ALL {
            return Err(at(Located::new(
                rp.id.span(),
                format!("profile id {ALL:?} is reserved for every case of the catalogue"),
            )));
        }
        for c in &rp.cases {
            if !seen.contains(c.get_ref()) {
                return Err(at(Located::new(
                    c.span(),
                    format!(
                        "unknown case {:?}; the catalogue defines {}",
                        c.get_ref(),
                        seen.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )));
            }
        }
        profiles.push(Profile {
            id: rp.id.get_ref().clone(),
            title: rp.title.clone(),
            cases: rp.cases.iter().map(|c| c.get_ref().clone()).collect(),
        });
    }
    Ok(Catalogue {
        header: raw.catalogue,
        profiles,
        cases,
        sha256: sha256_hex(text.as_bytes()),
        scenarios,
    })
}

/// Validates one case; loads its scenario into `scenarios` (once per name).
fn case(
    rc: &RawCase,
    dir: &Path,
    scenarios: &mut BTreeMap<String, Scenario>,
) -> Result<Case, Located> {
    let severity = match rc.severity.get_ref().as_str() {
        "must" => Severity::Must,
        "should" => Severity::Should,
        other => {
            return Err(Located::new(
                rc.severity.span(),
                format!("severity {other:?}: expected \"must\" or \"should\""),
            ));
        }
    };
    let level = Level::from_number(*rc.level.get_ref()).ok_or_else(|| {
        Located::new(
            rc.level.span(),
            format!(
                "level {}: expected 1 (wire only), 2 (test clock) or 3 (observation)",
                rc.level.get_ref()
            ),
        )
    })?;
    if rc.sources.get_ref().is_empty() {
        return Err(Located::new(
            rc.sources.span(),
            "a case needs at least one source",
        ));
    }
    for s in rc.sources.get_ref() {
        check_source(s)?;
    }
    let status = status(rc, level, dir, scenarios)?;
    Ok(Case {
        id: rc.id.get_ref().clone(),
        title: rc.title.clone(),
        severity,
        level,
        expected: rc.expected.clone(),
        sources: rc
            .sources
            .get_ref()
            .iter()
            .map(|s| s.get_ref().clone())
            .collect(),
        status,
    })
}

/// A source names a law with paragraph and version date, or a TR part with its section.
fn check_source(s: &Spanned<Source>) -> Result<(), Located> {
    let v = s.get_ref();
    let ok = match (&v.law, &v.tr) {
        (Some(_), None) => v.paragraph.is_some() && v.version.is_some() && v.section.is_none(),
        (None, Some(_)) => v.section.is_some() && v.paragraph.is_none(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Located::new(
            s.span(),
            "a source is { law, paragraph, version } (version: the date of the text) or { tr, section, version? }",
        ))
    }
}

/// The case's status: planned with a reason, or active with a scenario whose expectations exist
/// and whose level the case's level covers.
fn status(
    rc: &RawCase,
    level: Level,
    dir: &Path,
    scenarios: &mut BTreeMap<String, Scenario>,
) -> Result<Status, Located> {
    let planned = match &rc.status {
        None => false,
        Some(s) if s.get_ref() == "active" => false,
        Some(s) if s.get_ref() == "planned" => true,
        Some(s) => {
            return Err(Located::new(
                s.span(),
                format!(
                    "status {:?}: expected \"active\" or \"planned\"",
                    s.get_ref()
                ),
            ));
        }
    };
    if planned {
        return match &rc.reason {
            Some(reason) if !reason.trim().is_empty() => Ok(Status::Planned {
                reason: reason.clone(),
            }),
            _ => Err(Located::new(
                rc.id.span(),
                "a planned case needs a `reason`: what the test-bed cannot do yet",
            )),
        };
    }
    let Some(name) = &rc.scenario else {
        return Err(Located::new(
            rc.id.span(),
            "an active case needs `scenario` and `expect` (or status = \"planned\" with a reason)",
        ));
    };
    let scenario = scenario_named(name, dir, scenarios)?;
    if level < scenario.level {
        return Err(Located::new(
            rc.level.span(),
            format!(
                "level {}: the scenario {:?} needs {}; a case cannot need less than its scenario",
                level.number(),
                name.get_ref(),
                scenario.level
            ),
        ));
    }
    if rc.expect.is_empty() {
        return Err(Located::new(
            name.span(),
            "an active case needs `expect`: the [[expect]] ids that decide it",
        ));
    }
    let ids: Vec<&str> = scenario
        .expectations
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    for e in &rc.expect {
        if !ids.contains(&e.get_ref().as_str()) {
            return Err(Located::new(
                e.span(),
                format!(
                    "unknown expect id {:?} in scenario {:?}; it has {}",
                    e.get_ref(),
                    name.get_ref(),
                    crate::located::quoted(&ids)
                ),
            ));
        }
    }
    Ok(Status::Active {
        scenario: name.get_ref().clone(),
        expect: rc.expect.iter().map(|e| e.get_ref().clone()).collect(),
    })
}

/// The scenario `name` (below `dir`, without `.toml`), loaded once.
fn scenario_named<'a>(
    name: &Spanned<String>,
    dir: &Path,
    scenarios: &'a mut BTreeMap<String, Scenario>,
) -> Result<&'a Scenario, Located> {
    let key = name.get_ref().clone();
    if !scenarios.contains_key(&key) {
        let file = dir.join(format!("{key}.toml"));
        if key.contains("..") || !file.is_file() {
            return Err(Located::new(
                name.span(),
                format!(
                    "unknown scenario {key:?}: no file {} (names are below the catalogue's folder, without .toml)",
                    file.display()
                ),
            ));
        }
        let root = root_of(&file, dir);
        let s = scenario::load(&file, &root).map_err(|e| {
            Located::new(name.span(), format!("scenario {key:?} does not load: {e}"))
        })?;
        scenarios.insert(key.clone(), s);
    }
    scenarios
        .get(&key)
        .ok_or_else(|| Located::new(name.span(), "scenario vanished"))
}

/// The folder scenario names are relative to: the nearest ancestor called `scenarios`, else
/// the catalogue's folder (as `run` names them).
fn root_of(file: &Path, dir: &Path) -> PathBuf {
    file.ancestors()
        .skip(1)
        .find(|a| a.file_name().is_some_and(|n| n == "scenarios"))
        .map_or_else(|| dir.to_path_buf(), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/certification")
    }

    fn err(text: &str) -> String {
        match parse(text, Path::new("catalogue.toml"), &dir()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_shipped_catalogue_loads() {
        let c = parse(EMBEDDED, Path::new(DEFAULT_PATH), &dir()).unwrap();
        assert!(c.profile("kommune-basis").is_some());
        assert!(c.cases.len() >= 15);
    }

    #[test]
    fn errors_name_the_place() {
        let dup = EMBEDDED.replacen("id = \"DM-FORM-001\"", "id = \"DM-RCPT-001\"", 1);
        let e = err(&dup);
        assert!(e.contains("duplicate case id \"DM-RCPT-001\""), "{e}");
        assert!(e.starts_with("catalogue.toml:"), "{e}");
        let unknown = EMBEDDED.replacen("\"kommune-basis/empfang\"", "\"kommune-basis/nix\"", 1);
        assert!(err(&unknown).contains("unknown scenario \"kommune-basis/nix\""));
        let expect = EMBEDDED.replacen("[\"angenommen\",", "[\"angenommn\",", 1);
        let e = err(&expect);
        assert!(e.contains("unknown expect id \"angenommn\""), "{e}");
        let level = EMBEDDED.replacen("level = 1", "level = 4", 1);
        assert!(err(&level).contains("level 4: expected 1"));
        let low = EMBEDDED.replacen(
            "level = 3\nexpected = \"A Gewerbeanzeige sent absenderbestätigt",
            "level = 2\nexpected = \"A Gewerbeanzeige sent absenderbestätigt",
            1,
        );
        assert!(err(&low).contains("a case cannot need less than its scenario"));
    }

    #[test]
    fn a_located_error_has_line_and_column() {
        let level = EMBEDDED.replacen("level = 1", "level = 0", 1);
        let e = err(&level);
        let line = EMBEDDED
            .lines()
            .position(|l| l == "level = 1")
            .map(|i| i + 1)
            .unwrap();
        assert!(e.starts_with(&format!("catalogue.toml:{line}:9:")), "{e}");
    }
}
