//! Scenario files: the TOML model, loading, and validation with file, line and column.
//!
//! The format is documented in `docs/scenarios.md`. Every error a user can make in a file is
//! reported as `FILE:LINE:COLUMN: message` with what was expected; unknown keys are errors
//! (a typo must not be ignored silently).

use std::path::{Path, PathBuf};

use demail_sim::demail::{AuthLevel, DeMailOption};
use demail_sim::law::Place;
use demail_sim::provider::fault::SealFault;
use jiff::{Span, ZonedDateTime};
use serde::Deserialize;
use toml::Spanned;

use crate::check::{ExpectSpec, Expectation, Known, Setting};
pub use crate::located::parse_span;
use crate::located::{Located, duration, quoted};
use crate::model::{Level, ReceiveMode};

pub mod fault;
mod intake;
pub use intake::IntakeSpec;
use intake::intake;
pub mod programme;
pub use programme::{Citizen, Programme};

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenario: Header,
    #[serde(default)]
    pub provider: Vec<ProviderSpec>,
    pub intake: IntakeSpec,
    #[serde(default)]
    pub citizen: Vec<CitizenSpec>,
    #[serde(default)]
    pub step: Vec<StepSpec>,
    /// A generated population (its De-Mail users at the intake's provider become accounts).
    #[serde(default)]
    pub population: Option<PopulationSpec>,
    /// Arrival processes: generated citizens sending to the intake.
    #[serde(default)]
    pub traffic: Vec<TrafficSpec>,
    /// A document management system for the intake's hand-over (a mock with outages).
    #[serde(default)]
    pub dms: Option<DmsSpec>,
    /// Expectations; the kinds and their keys are in [`crate::check`].
    #[serde(default)]
    pub expect: Vec<ExpectSpec>,
    /// The fault plan (docs/faults.md): faults the intake's provider makes on purpose.
    #[serde(default)]
    pub fault: Vec<fault::FaultSpec>,
}

/// `[dms]`: the run starts a mock DMS (docs/dms.md) and the intake hands every case to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DmsSpec {
    /// Windows (offsets from the start) in which the DMS answers 503.
    #[serde(default)]
    pub outages: Vec<OutageSpec>,
}

/// One outage window: `{ from = "PT1H", until = "PT6H" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageSpec {
    pub from: Spanned<String>,
    pub until: Spanned<String>,
}

/// `[scenario]`: what the run is and when it happens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub title: String,
    /// Master seed; `--seed` overrides it.
    pub seed: u64,
    /// Start, an RFC 9557 date-time with zone, e.g. `2025-03-03T09:00:00+01:00[Europe/Berlin]`.
    pub start: Spanned<String>,
    /// Land (two-letter code), for the legal calendar.
    pub land: Spanned<String>,
    /// Municipality, for municipal holidays.
    pub municipality: Spanned<String>,
    /// How long the scenario may run in virtual time (ISO 8601 duration or `7d`).
    pub duration: Spanned<String>,
    /// Step of the virtual clock between settles (default one hour).
    #[serde(default)]
    pub tick: Option<Spanned<String>>,
    /// Trace columns whose values are replaced by `[redacted]` before the golden comparison
    /// (what an external intake may choose freely, e.g. its Aktenzeichen).
    #[serde(default)]
    pub redact: Vec<Spanned<String>>,
    /// The least a system under test must offer (1 wire only, 2 test clock, 3 observation;
    /// docs/sut.md). Default: what the expectations need; a lower value than that is an error.
    #[serde(default)]
    pub level: Option<Spanned<i64>>,
    /// Walk on to the end of `duration` even when every expectation is decided early, so
    /// that later behaviour reaches the trace (`run --full-duration` for every scenario).
    #[serde(default)]
    pub full_duration: bool,
}

/// `[[provider]]`: a simulated DMDA.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub id: String,
    pub name: String,
    pub domain: String,
    /// Further domains hosted (institution subdomains such as `dresden.de-mail.de`).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Whether the other providers' trust lists carry this provider (default true); an
    /// untrusted provider's relay connections are refused (IT-BInfra-IO §7).
    #[serde(default = "yes")]
    pub trusted: bool,
}

fn yes() -> bool {
    true
}

/// `[[citizen]]`: a named citizen for scripted stories.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenSpec {
    pub id: String,
    pub name: String,
    pub address: String,
    pub provider: Spanned<String>,
    /// The highest level the account can log in at; required unless a `programme` implies it.
    #[serde(default)]
    pub auth_level: Option<Spanned<AuthLevel>>,
    /// Zugang eröffnet (§ 7 Abs. 3 De-Mail-G); needed for the Zustellungsfiktion of § 5a
    /// Abs. 4 VwZG. Default false, or what the `programme` implies.
    #[serde(default)]
    pub access_opened: Option<Spanned<bool>>,
    /// A fixed behaviour on receiving documents ([`programme`], docs/scenarios.md
    /// "Programmed citizens"), e.g. "never-logs-in" or "high-after:P2D".
    #[serde(default)]
    pub programme: Option<Spanned<String>>,
}

/// `[population]`: a seeded fake population of the scenario's municipality.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// Number of citizens and businesses.
    pub size: u64,
    /// Share of people with a De-Mail account (default: the population module's).
    #[serde(default)]
    pub demail_share: Option<f64>,
    /// Share of De-Mail users who can log in at level high (default: the module's).
    #[serde(default)]
    pub high_share: Option<f64>,
}

/// `[[traffic]]`: generated citizens with De-Mail send to the intake on working days.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    pub id: String,
    /// Messages per working day (Monday to Friday, not on holidays of the place).
    pub per_day: u32,
    /// Window in which they arrive, local time, e.g. "08:00-18:00" (default).
    #[serde(default)]
    pub office_hours: Option<Spanned<String>>,
    /// Arrivals stop this long after the start (default: the scenario's duration); the rest
    /// of the run lets the answers come in.
    #[serde(default)]
    pub until: Option<Spanned<String>>,
    pub subject: String,
    pub body: String,
    /// De-Mail options the citizens mean to set (their error habits may drop some).
    #[serde(default)]
    pub options: Vec<Spanned<String>>,
}

/// `[[step]]`: something a citizen does at a time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Step id, referenced by expectations.
    pub id: String,
    /// Offset from the start (ISO 8601 duration or `2h`).
    pub at: Spanned<String>,
    pub citizen: Spanned<String>,
    /// The citizen sends a message …
    #[serde(default)]
    pub send: Option<SendSpec>,
    /// … or logs in at this level ("normal" or "high").
    #[serde(default)]
    pub login: Option<AuthLevel>,
}

/// What a citizen sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendSpec {
    /// `"intake"` or a De-Mail address.
    pub to: String,
    pub subject: String,
    pub body: String,
    #[serde(default)]
    pub private_id: Option<String>,
    /// De-Mail options set to "yes".
    #[serde(default)]
    pub options: Vec<Spanned<String>>,
    /// Extra header fields written as given, e.g. a misspelt `X-de-mail-privat-id` as real
    /// senders write it (a table of name = value).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// A fault the sender's provider puts into this message's seal on purpose: "broken" (body
    /// changed after sealing) or "foreign" (sealed under a CA nobody trusts); docs/scenarios.md.
    #[serde(default)]
    pub seal: Option<Spanned<String>>,
    /// Send it as a plain e-mail, not a De-Mail: handed by the intake's provider straight to
    /// the intake's listener without metadata or seal (docs/scenarios.md; DM-FORM-004).
    #[serde(default)]
    pub plain: Option<Spanned<bool>>,
}

/// A scenario that loaded and validated.
#[derive(Debug)]
pub struct Scenario {
    /// Path of the file.
    pub path: PathBuf,
    /// Name used for goldens and run folders: the path below `scenarios/` without `.toml`.
    pub name: String,
    pub file: ScenarioFile,
    pub start: ZonedDateTime,
    pub duration: Span,
    pub tick: Span,
    /// Step offsets, parallel to `file.step`.
    pub step_offsets: Vec<Span>,
    /// The citizens' accounts and programmes, parallel to `file.citizen`.
    pub citizens: Vec<Citizen>,
    /// The validated `[[fault]]` plan, for the intake's provider.
    pub faults: Vec<demail_sim::provider::fault::PlannedFault>,
    /// The intake configuration with the scenario's overrides.
    pub intake: demail_sim::intake::config::IntakeFile,
    /// The (normalised) Funktionspostfach that `to = "intake"` means.
    pub intake_address: String,
    /// DMS outage windows as offsets from the start (from, until).
    pub dms_outages: Vec<(Span, Span)>,
    /// Outage windows of the intake's SMTP listener (from, until).
    pub intake_outages: Vec<(Span, Span)>,
    /// How mail reaches the intake (`[intake] receive`).
    pub receive: ReceiveMode,
    /// Validated expectations, parallel to `file.expect`.
    pub expectations: Vec<Expectation>,
    /// Where the scenario's deadlines run (Land and municipality, for holidays).
    pub place: demail_sim::law::Place,
    /// Office-hour windows of the traffics (seconds after midnight), parallel to `file.traffic`.
    pub office_hours: Vec<(u32, u32)>,
    /// When each traffic's arrivals stop (offset from start), parallel to `file.traffic`.
    pub traffic_until: Vec<Span>,
    /// The least a system under test must offer (`[scenario] level`, or what the
    /// expectations need).
    pub level: Level,
}

impl Scenario {
    /// The `[intake]` and `[dms]` settings that configure the reference intake's behaviour
    /// (only a system started with the scenario file applies them, docs/sut.md).
    pub fn configures_intake(&self) -> Vec<&'static str> {
        let i = &self.file.intake;
        [
            ("[intake] config", i.config.is_some()),
            ("[intake] processing_time", i.processing_time.is_some()),
            ("[intake] bescheid_after", i.bescheid_after.is_some()),
            (
                "[intake] rechtsbehelfsbelehrung",
                i.rechtsbehelfsbelehrung.is_some(),
            ),
            (
                "[intake] aktenzeichen_prefix",
                i.aktenzeichen_prefix.is_some(),
            ),
            ("[intake] reply_options", !i.reply_options.is_empty()),
            ("[intake] outages", !i.outages.is_empty()),
            ("[dms]", self.file.dms.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }
}

/// A problem in a scenario file, located (`FILE:LINE:COLUMN: message`).
pub type ScenarioError = crate::located::FileError;

/// Loads and validates a scenario file. `root` is the scenarios folder used to name it.
pub fn load(path: &Path, root: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
    })?;
    parse(&text, path, root)
}

/// Parses and validates scenario text (the path is for messages and the name).
pub fn parse(text: &str, path: &Path, root: &Path) -> Result<Scenario, ScenarioError> {
    let at = |problem: Problem| match problem {
        Problem::Here(located) => ScenarioError::at(path, text, located),
        Problem::Elsewhere(e) => e,
    };
    let file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at(Located::new(span, e.message().trim()).into())
    })?;
    validate(file, path, root).map_err(at)
}

/// A problem in the scenario file (located by span) or in a file it names (located there).
enum Problem {
    Here(Located),
    Elsewhere(ScenarioError),
}

impl From<Located> for Problem {
    fn from(l: Located) -> Self {
        Problem::Here(l)
    }
}

/// Validates a file section by section, in the order a user reads it, and reports the first
/// problem.
fn validate(file: ScenarioFile, path: &Path, root: &Path) -> Result<Scenario, Problem> {
    let (start, duration, tick) = timing(&file.scenario)?;
    let (intake, intake_address, receive) = intake(&file.intake, path)?;
    let place = place(&file.scenario)?;
    world(&file, &intake_address)?;
    let citizens = citizens(&file)?;
    let step_offsets = steps(&file, &citizens, &intake)?;
    let faults = fault::plan(&file.fault)?;
    // A fault at the DMS needs the scenario's DMS (`[dms]`), else it would never strike.
    if file.dms.is_none()
        && let Some(f) = file.fault.iter().find(|f| f.face.get_ref() == "dms")
    {
        return Err(Located::new(
            f.face.span(),
            "a fault at the \"dms\" face needs a [dms] section (docs/dms.md)".to_string(),
        )
        .into());
    }
    if let Some(m) = file
        .fault
        .iter()
        .filter(|f| f.face.get_ref() == "dms")
        .find_map(|f| f.mailbox.as_ref())
    {
        return Err(Located::new(
            m.span(),
            "`mailbox` does not apply at the \"dms\" face (every hand-over is a candidate)"
                .to_string(),
        )
        .into());
    }
    let (office_hours, traffic_until) = traffic(&file, duration)?;
    if let Some(p) = &file.population
        && (p.size == 0 || p.size > 1_000_000)
    {
        return Err(Located::new(
            0..0,
            format!("population size {} must be 1 to 1,000,000", p.size),
        )
        .into());
    }
    for r in &file.scenario.redact {
        if !crate::report::golden::REDACTABLE.contains(&r.get_ref().as_str()) {
            return Err(Located::new(
                r.span(),
                format!(
                    "redact: {:?} is not a trace column that may be redacted; expected one of: {}",
                    r.get_ref(),
                    quoted(crate::report::golden::REDACTABLE)
                ),
            )
            .into());
        }
    }
    let intake_outages = outages(&file.intake.outages, &start)?;
    if !intake_outages.is_empty() && receive != ReceiveMode::Push {
        return Err(Located::new(
            file.intake.provider.span(),
            "[intake] outages stop the SMTP listener, which a pulling intake does not use",
        )
        .into());
    }
    let dms_outages = outages(file.dms.as_ref().map_or(&[][..], |d| &d.outages), &start)?;
    let step_ids: Vec<&str> = file.step.iter().map(|s| s.id.as_str()).collect();
    let traffic_ids: Vec<&str> = file.traffic.iter().map(|t| t.id.as_str()).collect();
    let procedures: Vec<&str> = intake.procedures.iter().map(|p| p.id.as_str()).collect();
    let expectations = crate::check::parse_all(
        &file.expect,
        &Known {
            start: &start,
            place: &place,
            step_ids: &step_ids,
            traffic_ids: &traffic_ids,
            procedures: &procedures,
            has_dms: file.dms.is_some(),
            receive,
        },
    )?;
    let level = level(&file.scenario, &expectations)?;
    Ok(Scenario {
        level,
        name: scenario_name(path, root),
        path: path.to_path_buf(),
        file,
        start,
        duration,
        tick,
        step_offsets,
        citizens,
        faults,
        intake,
        intake_address,
        dms_outages,
        intake_outages,
        receive,
        expectations,
        place,
        office_hours,
        traffic_until,
    })
}

/// The scenario's level: the highest its expectations need, or the declared one if higher.
fn level(h: &Header, expectations: &[Expectation]) -> Result<Level, Located> {
    let needed = expectations
        .iter()
        .map(|e| e.shape.level)
        .max()
        .unwrap_or(Level::Wire);
    let Some(declared) = &h.level else {
        return Ok(needed);
    };
    let Some(level) = Level::from_number(*declared.get_ref()) else {
        return Err(Located::new(
            declared.span(),
            format!(
                "level {}: expected 1 (wire only), 2 (test clock) or 3 (observation)",
                declared.get_ref()
            ),
        ));
    };
    if level < needed {
        let which = expectations
            .iter()
            .find(|e| e.shape.level == needed)
            .map(|e| format!("expectation {:?} (kind {})", e.id, e.shape.name))
            .unwrap_or_default();
        return Err(Located::new(
            declared.span(),
            format!("level {level} is too low: {which} needs {needed}"),
        ));
    }
    Ok(level)
}

/// `start`, `duration` and `tick` of `[scenario]`.
fn timing(h: &Header) -> Result<(ZonedDateTime, Span, Span), Located> {
    let start: ZonedDateTime = h.start.get_ref().parse().map_err(|e| {
        Located::new(
            h.start.span(),
            format!(
                "start: {e}; expected a date-time with zone such as \"2025-03-03T09:00:00+01:00[Europe/Berlin]\""
            ),
        )
    })?;
    let run = duration(&h.duration, "duration")?;
    let tick = match &h.tick {
        None => Span::new().hours(1),
        Some(t) => {
            let tick = duration(t, "tick")?;
            if tick.get_hours() == 0
                && tick.get_minutes() == 0
                && tick.get_days() == 0
                && tick.get_seconds() == 0
            {
                return Err(Located::new(t.span(), "tick must be longer than zero"));
            }
            tick
        }
    };
    Ok((start, run, tick))
}

/// `land` and `municipality` of `[scenario]`: where deadlines run.
fn place(h: &Header) -> Result<Place, Located> {
    let land: demail_sim::law::Land =
        h.land
            .get_ref()
            .parse()
            .map_err(|e: demail_sim::law::LawError| {
                Located::new(h.land.span(), format!("land: {e}"))
            })?;
    let place = Place::municipality(land, h.municipality.get_ref().clone());
    place
        .validate()
        .map_err(|e| Located::new(h.municipality.span(), format!("municipality: {e}")))?;
    Ok(place)
}

/// Providers, citizens and the intake's address and reply options.
fn world(file: &ScenarioFile, intake_address: &str) -> Result<(), Located> {
    let provider_ids: Vec<&str> = file.provider.iter().map(|p| p.id.as_str()).collect();
    let known_provider = |p: &Spanned<String>| -> Result<(), Located> {
        if provider_ids.contains(&p.get_ref().as_str()) {
            Ok(())
        } else {
            Err(Located::new(
                p.span(),
                format!(
                    "unknown provider {:?}; the file defines: {}",
                    p.get_ref(),
                    quoted(&provider_ids)
                ),
            ))
        }
    };
    if file.provider.is_empty() {
        return Err(Located::new(
            0..0,
            "no [[provider]] defined; a scenario needs at least one",
        ));
    }
    known_provider(&file.intake.provider)?;
    for c in &file.citizen {
        known_provider(&c.provider)?;
    }
    // Addresses must follow ACM-FU §2.1; a citizen's must be a person's or a pseudonym.
    for c in &file.citizen {
        use demail_sim::demail::address::{AddressKind, validate};
        match validate(&c.address) {
            Ok(AddressKind::Person | AddressKind::Pseudonym) => {}
            Ok(kind) => {
                return Err(Located::new(
                    c.provider.span(),
                    format!(
                        "citizen {:?}: {:?} is a {kind:?} address, not a person's",
                        c.id, c.address
                    ),
                ));
            }
            Err(e) => {
                return Err(Located::new(
                    c.provider.span(),
                    format!("citizen {:?}: {e}", c.id),
                ));
            }
        }
    }
    known_options(&file.intake.reply_options)?;
    if let Err(e) = demail_sim::demail::address::validate(intake_address) {
        return Err(Located::new(
            file.intake.address.span(),
            format!("intake: {e}"),
        ));
    }
    Ok(())
}

/// Each citizen's account and programme: a `programme` implies `auth_level` and
/// `access_opened` (stating them is allowed when they agree); without one, `auth_level` is
/// required.
fn citizens(file: &ScenarioFile) -> Result<Vec<Citizen>, Located> {
    let mut out = Vec::new();
    for c in &file.citizen {
        let programme = match &c.programme {
            None => None,
            Some(p) => Some(
                Programme::parse(p.get_ref())
                    .map_err(|e| Located::new(p.span(), format!("citizen {:?}: {e}", c.id)))?,
            ),
        };
        let citizen = match (&programme, &c.auth_level) {
            (None, None) => {
                return Err(Located::new(
                    c.provider.span(),
                    format!(
                        "citizen {:?} needs `auth_level` (\"normal\" or \"high\") or a `programme`",
                        c.id
                    ),
                ));
            }
            (None, Some(level)) => Citizen {
                max_level: *level.get_ref(),
                access_opened: c.access_opened.as_ref().is_some_and(|a| *a.get_ref()),
                programme: None,
            },
            (Some(p), _) => {
                let name = c
                    .programme
                    .as_ref()
                    .map(|p| p.get_ref().as_str())
                    .unwrap_or("");
                if let Some(level) = &c.auth_level
                    && *level.get_ref() != p.max_level()
                {
                    return Err(Located::new(
                        level.span(),
                        format!(
                            "citizen {:?}: programme {name:?} means auth_level {:?}, not {:?}; leave auth_level out",
                            c.id,
                            p.max_level().as_str(),
                            level.get_ref().as_str()
                        ),
                    ));
                }
                if let Some(opened) = &c.access_opened
                    && *opened.get_ref() != p.access_opened()
                {
                    return Err(Located::new(
                        opened.span(),
                        format!(
                            "citizen {:?}: programme {name:?} means access_opened = {}; leave access_opened out",
                            c.id,
                            p.access_opened()
                        ),
                    ));
                }
                Citizen {
                    max_level: p.max_level(),
                    access_opened: p.access_opened(),
                    programme: Some(p.clone()),
                }
            }
        };
        out.push(citizen);
    }
    Ok(out)
}

/// `[[step]]`: who acts, what, and when (the offsets, parallel to the steps).
fn steps(
    file: &ScenarioFile,
    citizens: &[Citizen],
    intake: &demail_sim::intake::config::IntakeFile,
) -> Result<Vec<Span>, Located> {
    let citizen_ids: Vec<&str> = file.citizen.iter().map(|c| c.id.as_str()).collect();
    let mut step_offsets = Vec::new();
    for s in &file.step {
        if !citizen_ids.contains(&s.citizen.get_ref().as_str()) {
            return Err(Located::new(
                s.citizen.span(),
                format!(
                    "unknown citizen {:?}; the file defines: {}",
                    s.citizen.get_ref(),
                    quoted(&citizen_ids)
                ),
            ));
        }
        let programmed = file
            .citizen
            .iter()
            .position(|c| c.id == *s.citizen.get_ref())
            .and_then(|i| citizens[i].programme.as_ref());
        if s.login.is_some()
            && let Some(p) = programmed
            && p.never_logs_in()
        {
            return Err(Located::new(
                s.citizen.span(),
                format!(
                    "step {:?}: citizen {:?} is programmed \"never-logs-in\" and cannot have a login step",
                    s.id,
                    s.citizen.get_ref()
                ),
            ));
        }
        let send = match (&s.send, &s.login) {
            (Some(send), None) => Some(send),
            (None, Some(_)) => None,
            _ => {
                return Err(Located::new(
                    s.at.span(),
                    format!("step {:?} needs exactly one of `send` or `login`", s.id),
                ));
            }
        };
        known_options(send.map(|x| x.options.as_slice()).unwrap_or_default())?;
        if let Some(seal) = send.and_then(|x| x.seal.as_ref())
            && SealFault::parse(seal.get_ref()).is_none()
        {
            let names: Vec<&str> = SealFault::ALL.iter().map(|f| f.as_str()).collect();
            return Err(Located::new(
                seal.span(),
                format!(
                    "unknown seal fault {:?}; expected one of: {}",
                    seal.get_ref(),
                    quoted(&names)
                ),
            ));
        }
        if let Some(send) = send
            && let Some(plain) = send.plain.as_ref().filter(|p| *p.get_ref())
        {
            let conflict = if !send.options.is_empty() {
                Some("De-Mail options")
            } else if send.seal.is_some() {
                Some("a seal fault")
            } else if send.private_id.is_some() {
                Some("a private_id")
            } else {
                None
            };
            if let Some(what) = conflict {
                return Err(Located::new(
                    plain.span(),
                    format!(
                        "step {:?}: a plain e-mail is no De-Mail and cannot have {what}",
                        s.id
                    ),
                ));
            }
            if send.to != "intake" && intake.mailbox(&send.to).is_none() {
                return Err(Located::new(
                    plain.span(),
                    format!(
                        "step {:?}: a plain e-mail goes to the intake's listener; `to` must be \"intake\" or one of its Funktionspostfächer, not {:?}",
                        s.id, send.to
                    ),
                ));
            }
        }
        for name in send
            .map(|x| x.headers.keys().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                return Err(Located::new(
                    s.at.span(),
                    format!(
                        "step {:?}: header name {name:?} is not a valid field name (RFC 5322 §3.6.8)",
                        s.id
                    ),
                ));
            }
        }
        step_offsets.push(duration(&s.at, "at")?);
    }
    Ok(step_offsets)
}

/// `[[traffic]]`: office-hour windows and when arrivals stop, parallel to the traffics.
fn traffic(file: &ScenarioFile, run: Span) -> Result<(Vec<Window>, Vec<Span>), Located> {
    let mut office_hours = Vec::new();
    let mut traffic_until = Vec::new();
    for t in &file.traffic {
        if file.population.is_none() {
            return Err(Located::new(
                0..0,
                format!(
                    "traffic {:?} needs a [population] to draw its senders from",
                    t.id
                ),
            ));
        }
        known_options(&t.options)?;
        let window = match &t.office_hours {
            None => (8 * 3600, 18 * 3600),
            Some(h) => parse_hours(h.get_ref())
                .map_err(|e| Located::new(h.span(), format!("office_hours: {e}")))?,
        };
        office_hours.push(window);
        traffic_until.push(match &t.until {
            Some(u) => duration(u, "until")?,
            None => run,
        });
    }
    Ok((office_hours, traffic_until))
}

/// Outage windows as offsets from the start: each must end after it begins.
fn outages(list: &[OutageSpec], start: &ZonedDateTime) -> Result<Vec<(Span, Span)>, Located> {
    let mut out = Vec::new();
    for o in list {
        let from = duration(&o.from, "from")?;
        let until = duration(&o.until, "until")?;
        let (Ok(a), Ok(b)) = (start.checked_add(from), start.checked_add(until)) else {
            return Err(Located::new(o.from.span(), "outage out of range"));
        };
        if b <= a {
            return Err(Located::new(
                o.until.span(),
                "until must be later than from, e.g. { from = \"PT1H\", until = \"PT6H\" }",
            ));
        }
        out.push((from, until));
    }
    Ok(out)
}

/// An office-hour window: (from, until) in seconds after midnight.
type Window = (u32, u32);

/// Every name is a De-Mail option.
fn known_options(options: &[Spanned<String>]) -> Result<(), Located> {
    for o in options {
        if DeMailOption::from_name(o.get_ref()).is_none() {
            let names: Vec<&str> = DeMailOption::ALL.iter().map(|o| o.name()).collect();
            return Err(Located::new(
                o.span(),
                format!(
                    "unknown De-Mail option {:?}; expected one of: {}",
                    o.get_ref(),
                    quoted(&names)
                ),
            ));
        }
    }
    Ok(())
}

/// Parses "HH:MM-HH:MM" into seconds after midnight.
fn parse_hours(text: &str) -> Result<(u32, u32), String> {
    let hm = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some((h * 60 + m) * 60)
    };
    let expected = "expected \"HH:MM-HH:MM\" such as \"08:00-18:00\"";
    let (a, b) = text.split_once('-').ok_or_else(|| expected.to_string())?;
    match (hm(a), hm(b)) {
        (Some(a), Some(b)) if a < b => Ok((a, b)),
        (Some(_), Some(_)) => Err(format!("the window must end after it starts; {expected}")),
        _ => Err(expected.to_string()),
    }
}

impl Scenario {
    /// Each expectation's id with the name of its kind, in file order (for the reports'
    /// "Thresholds", `ScenarioReport::with_check_kinds`).
    pub fn expect_kinds(&self) -> impl Iterator<Item = (&str, &str)> {
        self.file
            .expect
            .iter()
            .map(|x| (x.id.as_str(), x.kind.get_ref().as_str()))
    }

    /// What the judge needs to know of the scenario beyond its expectations.
    pub fn setting(&self) -> Setting<'_> {
        Setting {
            place: &self.place,
            intake: &self.intake,
            citizens: self
                .file
                .citizen
                .iter()
                .zip(&self.citizens)
                .map(|(c, r)| (c.address.clone(), r.access_opened))
                .collect(),
        }
    }

    /// The trace columns `[scenario] redact` names, replaced by `"[redacted]"` in the golden
    /// comparison (`golden::redact`).
    pub fn redactions(&self) -> Vec<String> {
        self.file
            .scenario
            .redact
            .iter()
            .map(|r| r.get_ref().clone())
            .collect()
    }
}

/// The scenario's name: its path below `root` without the extension, with `/` separators.
pub fn scenario_name(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.last_mut()
        && let Some(stem) = last.strip_suffix(".toml")
    {
        *last = stem.to_string();
    }
    parts.join("/")
}

/// The file name of a certification catalogue (docs/certification.md); [`discover`] passes
/// over it, since it lies among scenarios but is none.
pub const CATALOGUE_FILE: &str = "catalogue.toml";

/// All `*.toml` files under `dir` except certification catalogues, sorted by path.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "toml")
                && p.file_name().is_none_or(|n| n != CATALOGUE_FILE)
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use demail_sim::provider::fault::{Action, CertFault, Point};

    const GOOD: &str = include_str!("../../../scenarios/gewerbe/anzeige-absenderbestaetigt.toml");

    fn parse_str(text: &str) -> Result<Scenario, ScenarioError> {
        parse(
            text,
            Path::new("scenarios/x/y.toml"),
            Path::new("scenarios"),
        )
    }

    /// The shipped scenario parses and is named after its path.
    #[test]
    fn shipped_scenario_parses() {
        let s = parse_str(GOOD).unwrap();
        assert_eq!(s.name, "x/y");
        assert_eq!(s.file.step.len(), 1);
    }

    /// A misspelt key is an error at its line and column, naming the expected keys.
    #[test]
    fn typo_in_key_has_line_and_column() {
        let text = GOOD.replacen("subject =", "subjcet =", 1);
        let err = parse_str(&text).unwrap_err();
        let line = text.lines().position(|l| l.contains("subjcet")).unwrap() + 1;
        assert_eq!(err.line, line, "{err}");
        assert!(err.message.contains("subjcet"), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("scenarios/x/y.toml:{line}:")),
            "{err}"
        );
    }

    /// A send step's `seal` fault is one of the known ones; a wrong one points at the value.
    #[test]
    fn seal_faults_are_checked_and_located() {
        let anchor = "\noptions = [";
        assert!(GOOD.contains(anchor));
        let broken = GOOD.replacen(anchor, "\nseal = \"broken\"\noptions = [", 1);
        assert!(parse_str(&broken).is_ok());
        let text = GOOD.replacen(anchor, "\nseal = \"cracked\"\noptions = [", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message.contains("unknown seal fault \"cracked\""),
            "{err}"
        );
        assert!(err.message.contains("\"broken\", \"foreign\""), "{err}");
        let line = text.lines().position(|l| l.contains("cracked")).unwrap() + 1;
        assert_eq!((err.line, err.column), (line, 8), "{err}");
    }

    /// A plain e-mail is no De-Mail: no options, seal or private-id, and only to the intake.
    #[test]
    fn plain_sends_are_checked_and_located() {
        let anchor = "\noptions = [";
        let plain = GOOD
            .replacen("\nprivate_id = \"GA-ANZ-2025-0001\"", "", 1)
            .replacen(
                "\noptions = [\"authoritative\", \"confirmation-of-receipt\"]",
                "\nplain = true",
                1,
            );
        assert!(plain.contains("plain = true"));
        assert!(parse_str(&plain).is_ok(), "{:?}", parse_str(&plain).err());
        let text = GOOD.replacen(anchor, "\nplain = true\noptions = [", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message
                .contains("a plain e-mail is no De-Mail and cannot have De-Mail options"),
            "{err}"
        );
        let line = text.lines().position(|l| l == "plain = true").unwrap() + 1;
        assert_eq!((err.line, err.column), (line, 9), "{err}");
        let text = plain.replacen("to = \"intake\"", "to = \"max@dmda-a.de-mail.de\"", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(err.message.contains("`to` must be \"intake\""), "{err}");
    }

    /// `[[fault]]` tables: every mistake points at its value and says what was expected.
    #[test]
    fn fault_plans_are_checked_and_located() {
        let ok = "\n[[fault]]\nid = \"f\"\nface = \"submission\"\npoint = \"rcpt\"\naction = \"reply\"\nreply = \"451 4.3.0 Testfehler\"\nnth = 1\n";
        let s = parse_str(&format!("{GOOD}{ok}")).unwrap();
        assert_eq!(s.faults.len(), 1);
        let cases: &[(&str, &str, &str)] = &[
            (ok, "face = \"submission\"", "face = \"smtp\""),
            (ok, "point = \"rcpt\"", "point = \"helo\""),
            (ok, "action = \"reply\"", "action = \"duplicate\""),
            (
                ok,
                "reply = \"451 4.3.0 Testfehler\"",
                "reply = \"451 5.3.0 Testfehler\"",
            ),
            (ok, "nth = 1", "nth = 0"),
            (ok, "nth = 1", "probability = 1.5"),
        ];
        let wanted = [
            "unknown face \"smtp\"",
            "unknown point \"helo\"",
            "face \"submission\" takes the actions \"reply\", \"drop\", not \"duplicate\"",
            "the enhanced status must follow the code's class",
            "nth: expected 1 or more",
            "probability 1.5: expected more than 0 and at most 1",
        ];
        for ((base, from, to), want) in cases.iter().zip(wanted) {
            let text = format!("{GOOD}{}", base.replacen(from, to, 1));
            let err = parse_str(&text).unwrap_err();
            assert!(err.message.contains(want), "{to}: {err}");
            let value = to.split(" = ").nth(1).unwrap();
            let line = text.lines().position(|l| l == *to).unwrap() + 1;
            let column = text.lines().nth(line - 1).unwrap().find(value).unwrap() + 1;
            assert_eq!((err.line, err.column), (line, column), "{to}: {err}");
        }
        // Neither nth nor probability, or a key that does not apply.
        let e = parse_str(&format!("{GOOD}{}", ok.replacen("nth = 1\n", "", 1))).unwrap_err();
        assert!(e.message.contains("exactly one of `nth`"), "{e}");
        let e = parse_str(&format!(
            "{GOOD}{}",
            ok.replacen("nth = 1", "nth = 1\ndelay = \"PT1H\"", 1)
        ))
        .unwrap_err();
        assert!(e.message.contains("`delay` does not apply"), "{e}");
        let twice = format!("{GOOD}{ok}{ok}");
        assert!(
            parse_str(&twice)
                .unwrap_err()
                .message
                .contains("duplicate fault id")
        );
        // The DMS face needs the scenario's DMS, and takes no `mailbox`.
        let dms = "\n[[fault]]\nid = \"d\"\nface = \"dms\"\naction = \"unavailable\"\nnth = 1\n";
        let e = parse_str(&format!("{GOOD}{dms}")).unwrap_err();
        assert!(e.message.contains("needs a [dms] section"), "{e}");
        let text = format!("{GOOD}{dms}");
        let line = text.lines().position(|l| l == "face = \"dms\"").unwrap() + 1;
        assert_eq!((e.line, e.column), (line, 8), "{e}");
        let with_dms = format!("{GOOD}\n[dms]\n{dms}");
        assert_eq!(parse_str(&with_dms).unwrap().faults.len(), 1);
        let e = parse_str(&format!("{with_dms}mailbox = \"a@b.de\"\n")).unwrap_err();
        assert!(e.message.contains("`mailbox` does not apply"), "{e}");
    }

    /// The pop3 face and the relay's certificate faults (docs/faults.md): their points,
    /// actions and keys, each mistake at its value.
    #[test]
    fn pop3_and_certificate_faults_are_checked_and_located() {
        let pop3 = "\n[[fault]]\nid = \"p\"\nface = \"pop3\"\npoint = \"retr\"\naction = \"reply\"\nreply = \"-ERR [SYS/TEMP] Testfehler\"\nnth = 1\n";
        let s = parse_str(&format!("{GOOD}{pop3}")).unwrap();
        assert_eq!(
            s.faults[0].action,
            Action::Pop3Err("-ERR [SYS/TEMP] Testfehler".into())
        );
        assert_eq!(s.faults[0].point, Some(Point::Retr));
        let cert =
            "\n[[fault]]\nid = \"c\"\nface = \"relay\"\naction = \"cert-expired\"\nnth = 1\n";
        let s = parse_str(&format!("{GOOD}{cert}")).unwrap();
        assert_eq!(s.faults[0].action, Action::Cert(CertFault::Expired));
        assert_eq!(s.faults[0].point, None);
        let unknown = cert.replacen("cert-expired", "cert-unknown", 1);
        let s = parse_str(&format!("{GOOD}{unknown}")).unwrap();
        assert_eq!(s.faults[0].action, Action::Cert(CertFault::Unknown));
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                pop3,
                "point = \"retr\"",
                "point = \"rcpt\"",
                "unknown point \"rcpt\"; expected one of: \"connect\", \"auth\", \"list\", \"retr\", \"dele\", \"quit\"",
            ),
            (
                pop3,
                "action = \"reply\"",
                "action = \"cert-expired\"",
                "face \"pop3\" takes the actions \"reply\", \"drop\", not \"cert-expired\"",
            ),
            (
                pop3,
                "reply = \"-ERR [SYS/TEMP] Testfehler\"",
                "reply = \"451 4.3.0 Testfehler\"",
                "starts \"-ERR \"",
            ),
            (
                pop3,
                "reply = \"-ERR [SYS/TEMP] Testfehler\"",
                "reply = \"-ERR [SYS/LATER] Testfehler\"",
                "unknown response code \"SYS/LATER\"",
            ),
            (
                pop3,
                "reply = \"-ERR [SYS/TEMP] Testfehler\"",
                "reply = \"-ERR [SYS/TEMP]\"",
                "the text must not be empty",
            ),
            (
                cert,
                "action = \"cert-expired\"",
                "action = \"cert-revoked\"",
                "face \"relay\" takes the actions \"reply\", \"drop\", \"cert-expired\", \"cert-unknown\", not \"cert-revoked\"",
            ),
            (
                cert,
                "nth = 1",
                "point = \"connect\"",
                "action \"cert-expired\" strikes at the TLS handshake and takes no `point`",
            ),
        ];
        for (base, from, to, want) in cases {
            let mut text = format!("{GOOD}{}", base.replacen(from, to, 1));
            if *from == "nth = 1" {
                text.push_str("nth = 1\n");
            }
            let err = parse_str(&text).unwrap_err();
            assert!(err.message.contains(want), "{to}: {err}");
            let value = to.split(" = ").nth(1).unwrap();
            let line = text.lines().position(|l| l == *to).unwrap() + 1;
            let column = text.lines().nth(line - 1).unwrap().find(value).unwrap() + 1;
            assert_eq!((err.line, err.column), (line, column), "{to}: {err}");
        }
        // The pop3 face needs a point; a certificate fault takes no mailbox (no peer is
        // known before the handshake).
        let e = parse_str(&format!(
            "{GOOD}{}",
            pop3.replacen("point = \"retr\"\n", "", 1)
        ))
        .unwrap_err();
        assert!(e.message.contains("face \"pop3\" needs a `point`"), "{e}");
        let e = parse_str(&format!("{GOOD}{cert}mailbox = \"dmda-b.de-mail.de\"\n")).unwrap_err();
        assert!(e.message.contains("`mailbox` does not apply"), "{e}");
        // The push face's reorder takes no point and no delay.
        let reorder = "\n[[fault]]\nid = \"o\"\nface = \"push\"\naction = \"reorder\"\nnth = 3\n";
        let s = parse_str(&format!("{GOOD}{reorder}")).unwrap();
        assert_eq!(s.faults[0].action, Action::Reorder);
        let e = parse_str(&format!("{GOOD}{reorder}delay = \"PT1H\"\n")).unwrap_err();
        assert!(e.message.contains("`delay` does not apply"), "{e}");
        let e = parse_str(&format!("{GOOD}{reorder}point = \"data\"\n")).unwrap_err();
        assert!(e.message.contains("`point` applies to faces"), "{e}");
        // The relay's reply and drop still need their point.
        let relay = "\n[[fault]]\nid = \"r\"\nface = \"relay\"\naction = \"drop\"\nnth = 1\n";
        let e = parse_str(&format!("{GOOD}{relay}")).unwrap_err();
        assert!(e.message.contains("face \"relay\" needs a `point`"), "{e}");
    }

    /// A reference to an unknown citizen points at the value and lists the known ids.
    #[test]
    fn unknown_reference_is_located() {
        let text = GOOD.replacen("citizen = \"erika\"", "citizen = \"erica\"", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(err.message.contains("unknown citizen \"erica\""), "{err}");
        assert!(err.message.contains("\"erika\""), "{err}");
        let line = text.lines().position(|l| l.contains("\"erica\"")).unwrap() + 1;
        assert_eq!(err.line, line);
        assert_eq!(
            err.column,
            text.lines()
                .nth(line - 1)
                .unwrap()
                .find("\"erica\"")
                .unwrap()
                + 1
        );
    }

    /// Traffic needs a population, a valid office-hour window, and an `all-replies`
    /// expectation names a traffic, not a step.
    #[test]
    fn traffic_rules_are_checked() {
        let traffic = include_str!("../../../scenarios/traffic/gewerbe-woche.toml");
        assert!(parse_str(traffic).is_ok());
        let e = parse_str(&traffic.replacen("[population]\nsize = 400", "[unused]\nsize = 400", 1))
            .unwrap_err();
        assert!(
            e.message.contains("unknown field") || e.message.contains("needs a [population]"),
            "{e}"
        );
        let no_pop = traffic
            .replacen("[population]\n", "", 1)
            .replacen("size = 400\n", "", 1)
            .replacen("demail_share = 0.5\n", "", 1)
            .replacen("high_share = 0.9\n", "", 1);
        let e = parse_str(&no_pop).unwrap_err();
        assert!(e.message.contains("needs a [population]"), "{e}");
        let e = parse_str(&traffic.replacen("\"08:00-18:00\"", "\"18:00-08:00\"", 1)).unwrap_err();
        assert!(
            e.message.contains("office_hours") && e.message.contains("end after it starts"),
            "{e}"
        );
        let e = parse_str(&traffic.replacen(
            "traffic = \"gewerbe\"",
            "traffic = \"gewerbe\"\nstep = \"x\"",
            1,
        ))
        .unwrap_err();
        assert!(e.message.contains("give `traffic`, not `step`"), "{e}");
        let e = parse_str(&traffic.replacen("traffic = \"gewerbe\"", "traffic = \"wohnen\"", 1))
            .unwrap_err();
        assert!(e.message.contains("unknown traffic \"wohnen\""), "{e}");
    }

    /// A programme: an unknown value is an error at its line and column listing the
    /// programmes; a programme implies the level and access, and contradictions, a missing
    /// level without a programme and a login step of a citizen who never logs in are located.
    #[test]
    fn programmes_are_checked_and_located() {
        let with = |programme: &str| {
            GOOD.replacen(
                "auth_level = \"high\"\n",
                &format!("programme = \"{programme}\"\n"),
                1,
            )
        };
        let s = parse_str(&with("high-after:P2D")).unwrap();
        assert_eq!(s.citizens[0].max_level, AuthLevel::High);
        assert!(s.citizens[0].access_opened);
        let after = s.citizens[0]
            .programme
            .as_ref()
            .and_then(Programme::login_after);
        assert_eq!(after.map(|d| d.get_days()), Some(2));
        let s = parse_str(&with("normal-only")).unwrap();
        assert_eq!(s.citizens[0].max_level, AuthLevel::Normal);
        let s = parse_str(&with("access-not-opened")).unwrap();
        assert!(!s.citizens[0].access_opened);

        let text = with("sometimes-logs-in");
        let err = parse_str(&text).unwrap_err();
        let line = text
            .lines()
            .position(|l| l.contains("sometimes-logs-in"))
            .unwrap()
            + 1;
        assert_eq!((err.line, err.column), (line, 13), "{err}");
        assert!(
            err.to_string().starts_with(&format!(
                "scenarios/x/y.toml:{line}:13: citizen \"erika\": programme \"sometimes-logs-in\" is unknown; expected one of: \"never-logs-in\", \"normal-only\", \"high-after:"
            )),
            "{err}"
        );
        let err = parse_str(&with("high-after:two days")).unwrap_err();
        assert!(err.message.contains("high-after:P2D"), "{err}");
        assert_eq!(err.line, line, "{err}");

        let text = GOOD.replacen(
            "auth_level = \"high\"\n",
            "programme = \"normal-only\"\nauth_level = \"high\"\n",
            1,
        );
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message
                .contains("programme \"normal-only\" means auth_level \"normal\""),
            "{err}"
        );
        assert_eq!(err.line, line + 1, "{err}");

        let err = parse_str(&GOOD.replacen("auth_level = \"high\"\n", "", 1)).unwrap_err();
        assert!(
            err.message.contains("needs `auth_level`") && err.message.contains("`programme`"),
            "{err}"
        );

        let text = format!(
            "{}\n[[step]]\nid = \"anmeldung\"\nat = \"P1D\"\ncitizen = \"erika\"\nlogin = \"high\"\n",
            with("never-logs-in")
        );
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message.contains("programmed \"never-logs-in\""),
            "{err}"
        );
    }

    /// Bad dates and durations say what form was expected.
    #[test]
    fn bad_values_say_what_was_expected() {
        let text = GOOD.replacen("start = \"2025-", "start = \"2025-13-", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message.contains("expected a date-time with zone"),
            "{err}"
        );
        let text = GOOD.replacen("duration = \"P7D\"", "duration = \"seven days\"", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message.contains("expected an ISO 8601 duration"),
            "{err}"
        );
        let text = GOOD.replacen("land = \"SN\"", "land = \"XX\"", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message.contains("land:") && err.message.contains("SN"),
            "{err}"
        );
        let text = GOOD.replacen("rule = \"gewerbe-empfang\"", "rule = \"gewerbe\"", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(err.message.contains("gewerbe-empfang"), "{err}");
        let text = GOOD.replacen("\"authoritative\"", "\"authorative\"", 1);
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.message
                .contains("unknown De-Mail option \"authorative\""),
            "{err}"
        );
    }

    const A: &str = GOOD;
    const W2: &str = include_str!("../../../scenarios/traffic/gewerbe-woche.toml");
    const PULL: &str = include_str!("../../../scenarios/intake/wbs-abruf-api.toml");

    /// (scenario, `[[expect]]` table appended to it, the error in full).
    const EXPECTATION_ERRORS: &[(&str, &str, &str)] = &[
        // no-step
        (
            A,
            "\n[[expect]]\nid = \"x\"\nkind = \"fallback\"\n",
            "scenarios/x/y.toml:71:8: expectation \"x\" needs the key `step`",
        ),
        // no-step-unknown-kind
        (
            A,
            "\n[[expect]]\nid = \"x\"\nkind = \"bogus\"\n",
            "scenarios/x/y.toml:71:8: expectation \"x\" needs the key `step`",
        ),
        // unknown-kind
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"bogus\"\n",
            "scenarios/x/y.toml:72:8: unknown expectation kind \"bogus\"; expected one of: \"confirmation\", \"reply\", \"refused\", \"notification\", \"zustellung\", \"document\", \"all-replies\", \"case\", \"fallback\", \"one-case\", \"dms\", \"delivery\", \"latency\", \"throughput\"",
        ),
        // unknown-step
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeig\"\nkind = \"fallback\"\n",
            "scenarios/x/y.toml:71:8: unknown step \"anzeig\"; the file defines: \"anzeige\"",
        ),
        // traffic-with-step
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"latency\"\n",
            "scenarios/x/y.toml:71:8: an expectation of kind \"latency\" is about a whole traffic: give `traffic`, not `step`",
        ),
        // key-not-applying
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"fallback\"\nwithin = \"PT1H\"\nmode = \"x\"\n",
            "scenarios/x/y.toml:73:10: key `within` does not apply to an expectation of kind \"fallback\"; it takes: ",
        ),
        // key-not-applying2
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"confirmation\"\nper_day = 3\n",
            "scenarios/x/y.toml:73:11: key `per_day` does not apply to an expectation of kind \"confirmation\"; it takes: confirmation, within",
        ),
        // key-not-applying-dms
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"dms\"\ncode = 3\n",
            "scenarios/x/y.toml:73:8: key `code` does not apply to an expectation of kind \"dms\"; it takes: ",
        ),
        // conf-missing
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"confirmation\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"confirmation\" needs the key `confirmation`",
        ),
        // conf-bad
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"confirmation\"\nconfirmation = \"retrieve\"\nwithin = \"PT1H\"\n",
            "scenarios/x/y.toml:73:16: confirmation \"retrieve\" is not supported; expected \"receipt\" (Eingangsbestätigung) or \"dispatch\" (Versandbestätigung); for the Abholbestätigung use a `login` step and the `zustellung` expectation",
        ),
        // conf-no-within
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"confirmation\"\nconfirmation = \"receipt\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"confirmation\" needs the key `within`",
        ),
        // conf-bad-within
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"confirmation\"\nconfirmation = \"receipt\"\nwithin = \"soon\"\n",
            "scenarios/x/y.toml:74:10: within: failed to parse input in the \"friendly\" duration format: expected duration to start with a unit value (a decimal integer) after an optional sign, but no integer was found; expected an ISO 8601 duration such as \"P3D\" or \"PT20H\", or \"3d\", \"20h\"",
        ),
        // reply-no-rule
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"reply\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"reply\" needs the key `rule` (a legal deadline, e.g. \"gewerbe-empfang\") or `within` (a time after sending, e.g. \"P3D\", for a procedure without a statutory deadline such as a petition)",
        ),
        // reply-bad-rule
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"reply\"\nrule = \"gewerbe\"\nsubject_contains = \"x\"\n",
            "scenarios/x/y.toml:73:8: rule \"gewerbe\": unknown rule id \"gewerbe\"; known rule ids: gewerbe-empfang, genehmigungsfiktion, widerspruch, ohne-belehrung, untaetigkeit, bekanntgabe-elektronisch, zustellung-abholung, provider-mailbox, provider-transfer",
        ),
        // reply-rule-not-latest
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"reply\"\nrule = \"zustellung-abholung\"\nsubject_contains = \"x\"\n",
            "scenarios/x/y.toml:73:8: rule \"zustellung-abholung\": rule \"zustellung-abholung\" gives Effective (Zustellung (service) via De-Mail against Abholbestätigung), not a latest day; it cannot be a deadline",
        ),
        // reply-no-subject
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"reply\"\nrule = \"gewerbe-empfang\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"reply\" needs the key `subject_contains`",
        ),
        // refused-no-code
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"refused\"\nenhanced = \"5.7.1\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"refused\" needs the key `code`",
        ),
        // refused-no-enh
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"refused\"\ncode = 550\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"refused\" needs the key `enhanced`",
        ),
        // notif-missing
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"notification\"\nwithin = \"PT1H\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"notification\" needs the key `notification_type`",
        ),
        // notif-bad
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"notification\"\nnotification_type = \"Other\"\nwithin = \"PT1H\"\n",
            "scenarios/x/y.toml:73:21: notification_type \"Other\" is not one of PVD-IO Tabelle 22: unknown-recipient, closed-account, invalid-format, other",
        ),
        // notif-no-within
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"notification\"\nnotification_type = \"other\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"notification\" needs the key `within`",
        ),
        // zust-missing
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"zustellung\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"zustellung\" needs the key `mode`",
        ),
        // zust-bad
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"zustellung\"\nmode = \"Abholung\"\n",
            "scenarios/x/y.toml:73:8: mode \"Abholung\": expected \"abholung\" or \"fiktion\"",
        ),
        // case-no-proc
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"case\"\nbinding = true\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"case\" needs the key `procedure`",
        ),
        // case-bad-proc
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"case\"\nprocedure = \"gewerbe\"\nbinding = true\n",
            "scenarios/x/y.toml:73:13: unknown procedure \"gewerbe\"; the intake configuration has: \"gewerbeanzeige\", \"wohnberechtigungsschein\", \"petition\", \"allgemein\"",
        ),
        // case-no-binding
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"case\"\nprocedure = \"gewerbeanzeige\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"case\" needs the key `binding` (true or false)",
        ),
        // dms-no-section
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"dms\"\n",
            "scenarios/x/y.toml:72:8: an expectation of kind \"dms\" needs a [dms] section",
        ),
        // delivery-bad-within
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"delivery\"\nwithin = \"x\"\n",
            "scenarios/x/y.toml:73:10: within: failed to parse input in the \"friendly\" duration format: expected duration to start with a unit value (a decimal integer) after an optional sign, but no integer was found; expected an ISO 8601 duration such as \"P3D\" or \"PT20H\", or \"3d\", \"20h\"",
        ),
        // delivery-pull
        (
            PULL,
            "\n[[expect]]\nid = \"x\"\nstep = \"antrag\"\nkind = \"delivery\"\n",
            "scenarios/x/y.toml:81:8: an expectation of kind \"delivery\" judges the provider's push into the intake, which a pulling intake ([intake] receive = \"pull\" or \"pop3\") does not get",
        ),
        // ar-no-traffic
        (
            A,
            "\n[[expect]]\nid = \"x\"\nkind = \"all-replies\"\n",
            "scenarios/x/y.toml:71:8: expectation \"x\" of kind \"all-replies\" needs the key `traffic`",
        ),
        // ar-unknown-traffic
        (
            A,
            "\n[[expect]]\nid = \"x\"\nkind = \"all-replies\"\ntraffic = \"t\"\nrule = \"gewerbe-empfang\"\n",
            "scenarios/x/y.toml:72:11: unknown traffic \"t\"; the file defines: (none)",
        ),
        // lat-unknown-traffic
        (
            A,
            "\n[[expect]]\nid = \"x\"\nkind = \"latency\"\ntraffic = \"t\"\n",
            "scenarios/x/y.toml:72:11: unknown traffic \"t\"; the file defines: (none)",
        ),
        // thr-no-traffic
        (
            A,
            "\n[[expect]]\nid = \"x\"\nkind = \"throughput\"\nper_day = 3\n",
            "scenarios/x/y.toml:71:8: expectation \"x\" of kind \"throughput\" needs the key `traffic`",
        ),
        // ar-no-rule
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"all-replies\"\ntraffic = \"gewerbe\"\n",
            "scenarios/x/y.toml:52:8: expectation \"x\" of kind \"all-replies\" needs the key `rule`",
        ),
        // ar-bad-rule
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"all-replies\"\ntraffic = \"gewerbe\"\nrule = \"nix\"\n",
            "scenarios/x/y.toml:54:8: rule \"nix\": unknown rule id \"nix\"; known rule ids: gewerbe-empfang, genehmigungsfiktion, widerspruch, ohne-belehrung, untaetigkeit, bekanntgabe-elektronisch, zustellung-abholung, provider-mailbox, provider-transfer",
        ),
        // lat-no-pct
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"latency\"\ntraffic = \"gewerbe\"\nwithin = \"PT1H\"\n",
            "scenarios/x/y.toml:52:8: expectation \"x\" of kind \"latency\" needs the key `percentile` (1 to 100, e.g. 95)",
        ),
        // lat-bad-pct
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"latency\"\ntraffic = \"gewerbe\"\npercentile = 0\nwithin = \"PT1H\"\n",
            "scenarios/x/y.toml:54:14: percentile 0: expected 1 to 100, e.g. 95",
        ),
        // lat-big-pct
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"latency\"\ntraffic = \"gewerbe\"\npercentile = 101\nwithin = \"PT1H\"\n",
            "scenarios/x/y.toml:54:14: percentile 101: expected 1 to 100, e.g. 95",
        ),
        // lat-no-within
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"latency\"\ntraffic = \"gewerbe\"\npercentile = 50\n",
            "scenarios/x/y.toml:52:8: expectation \"x\" of kind \"latency\" needs the key `within`",
        ),
        // lat-bad-within
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"latency\"\ntraffic = \"gewerbe\"\npercentile = 50\nwithin = \"y\"\n",
            "scenarios/x/y.toml:55:10: within: failed to parse input in the \"friendly\" duration format: expected duration to start with a unit value (a decimal integer) after an optional sign, but no integer was found; expected an ISO 8601 duration such as \"P3D\" or \"PT20H\", or \"3d\", \"20h\"",
        ),
        // doc-no-options
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"document\"\nsubject_contains = \"Bescheid\"\n",
            "scenarios/x/y.toml:72:8: expectation \"x\" of kind \"document\" needs the key `options` (a list of De-Mail options)",
        ),
        // doc-unknown-option
        (
            A,
            "\n[[expect]]\nid = \"x\"\nstep = \"anzeige\"\nkind = \"document\"\nsubject_contains = \"Bescheid\"\noptions = [\"privat\"]\n",
            "scenarios/x/y.toml:74:11: unknown De-Mail option \"privat\"; expected some of: \"confirmation-of-dispatch\", \"confirmation-of-receipt\", \"confirmation-of-retrieve\", \"authoritative\", \"private\"",
        ),
        // thr-no-per-day
        (
            W2,
            "\n[[expect]]\nid = \"x\"\nkind = \"throughput\"\ntraffic = \"gewerbe\"\n",
            "scenarios/x/y.toml:52:8: expectation \"x\" of kind \"throughput\" needs the key `per_day` (a whole number, e.g. 20)",
        ),
    ];

    /// Every validation error of an `[[expect]]` table, byte for byte with its line and
    /// column: the messages are the user interface of the expectation kinds.
    #[test]
    fn expectation_errors_are_located_and_say_what_was_expected() {
        for (base, appended, expected) in EXPECTATION_ERRORS {
            let err = parse_str(&format!("{base}{appended}")).unwrap_err();
            assert_eq!(err.to_string(), *expected, "{appended}");
        }
    }
}
