//! The load profile: a TOML file (format in `docs/load.md`) read into a checked [`Profile`].
//! Every error names `FILE:LINE:COLUMN` ([`crate::located::FileError`]), like scenario files.
//!
//! The profile says how arrivals come on the wall clock (`[rate]`: constant, ramp stages, or
//! the office-hours curve of a day compressed by a factor), what is sent by whom (`[[mix]]`
//! over the seeded population of `[population]`), how the embedded world behaves
//! (`[world]`), and what must hold at the end (`[load] thresholds`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use demail_sim::demail::DeMailOption;
use serde::Deserialize;
use toml::Spanned;

use super::threshold::Threshold;
use crate::located::{FileError, Located, parse_span};

/// A checked load profile.
#[derive(Clone, Debug)]
pub struct Profile {
    pub path: PathBuf,
    /// SHA-256 of the profile text: shards of one run must share it (`merge` checks).
    pub digest: String,
    pub name: String,
    /// The master seed every draw derives from (population, arrivals, mix, credentials).
    pub seed: u64,
    /// How long arrivals are scheduled.
    pub duration: Duration,
    /// Width of one interval of the time series.
    pub interval: Duration,
    /// Sessions open at once at most; an arrival beyond it is dropped (never delayed).
    pub max_in_flight: usize,
    /// Longest wait for one submission (connect to the 250 or the refusal).
    pub timeout: Duration,
    /// How long after the last arrival the run waits for outstanding replies.
    pub drain: Duration,
    pub spacing: Spacing,
    pub rate: RateShape,
    pub population: PopulationSpec,
    pub world: WorldSpec,
    pub mix: Vec<MixEntry>,
    pub thresholds: Vec<Threshold>,
}

/// How arrivals are placed along the intended rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// Evenly: arrival k where the cumulative intended count reaches k (k6's arrival-rate
    /// executors).
    Even,
    /// A Poisson process with the intended rate (seeded exponential gaps).
    Poisson,
}

/// The intended arrival rate over the run (arrivals per wall second).
#[derive(Clone, Debug, PartialEq)]
pub enum RateShape {
    Constant {
        per_second: f64,
    },
    /// Linear stages from `start` (k6's ramping-arrival-rate); after the last stage the last
    /// target holds.
    Ramp {
        start: f64,
        stages: Vec<(Duration, f64)>,
    },
    /// A day's curve of hourly weights, `per_day` arrivals over 24 compressed hours: one
    /// day lasts `86400 / compress` wall seconds, beginning at `start_hour`.
    OfficeHours {
        per_day: f64,
        compress: f64,
        start_hour: u32,
        weights: [f64; 24],
    },
}

/// The default office-hours curve (weights per hour of a Monday at a Gewerbeamt): quiet at
/// night, a morning peak 9–11, a smaller one after lunch. A modelling choice, not a statistic.
pub const OFFICE_DAY: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 1.0, 3.0, 8.0, 12.0, 12.0, 10.0, 6.0, 8.0, 9.0, 7.0, 4.0, 2.5,
    2.0, 1.5, 1.2, 0.8, 0.5, 0.3,
];

/// `[population]`.
#[derive(Clone, Debug)]
pub struct PopulationSpec {
    pub size: u64,
    pub municipality: String,
    /// Share of people with a De-Mail account (population default if `None`); businesses
    /// keep the population's share.
    pub demail_share: Option<f64>,
}

/// `[world]`: the embedded world.
#[derive(Clone, Debug)]
pub struct WorldSpec {
    /// Domain of the simulated provider the citizens and the intake are at.
    pub provider_domain: String,
    /// How often the wall time is posted to the intake's test clock (its replies go out on
    /// a clock step).
    pub tick: Duration,
    /// The intake's time from receipt to its reply, for every procedure (overrides the
    /// configuration's `reply_after`, e.g. `PT20H`, which would not fit a load test).
    pub processing_time: jiff::Span,
}

/// Who may send a message of a mix entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Senders {
    Any,
    Person,
    Business,
}

/// `[[mix]]`: one kind of message, drawn with its weight.
#[derive(Clone, Debug)]
pub struct MixEntry {
    pub name: String,
    pub weight: f64,
    /// A Funktionspostfach of the intake.
    pub to: String,
    pub senders: Senders,
    pub subject: String,
    pub body: String,
    pub options: Vec<DeMailOption>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    load: LoadSection,
    rate: RateSection,
    #[serde(default)]
    population: Option<PopulationSection>,
    #[serde(default)]
    world: Option<WorldSection>,
    #[serde(default)]
    mix: Vec<Spanned<MixSection>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadSection {
    name: String,
    seed: u64,
    duration: Spanned<String>,
    #[serde(default)]
    interval: Option<Spanned<String>>,
    #[serde(default)]
    max_in_flight: Option<Spanned<i64>>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    drain: Option<Spanned<String>>,
    #[serde(default)]
    arrivals: Option<Spanned<String>>,
    #[serde(default)]
    thresholds: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSection {
    shape: Spanned<String>,
    #[serde(default)]
    per_second: Option<Spanned<f64>>,
    #[serde(default)]
    start: Option<Spanned<f64>>,
    #[serde(default)]
    stages: Vec<Spanned<Stage>>,
    #[serde(default)]
    per_day: Option<Spanned<f64>>,
    #[serde(default)]
    compress: Option<Spanned<f64>>,
    #[serde(default)]
    start_hour: Option<Spanned<i64>>,
    #[serde(default)]
    weights: Option<Spanned<Vec<f64>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stage {
    duration: Spanned<String>,
    target: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationSection {
    size: Spanned<i64>,
    #[serde(default)]
    municipality: Option<Spanned<String>>,
    #[serde(default)]
    demail_share: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldSection {
    #[serde(default)]
    provider_domain: Option<Spanned<String>>,
    #[serde(default)]
    tick: Option<Spanned<String>>,
    #[serde(default)]
    processing_time: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MixSection {
    name: String,
    weight: Spanned<f64>,
    to: Spanned<String>,
    #[serde(default)]
    senders: Option<Spanned<String>>,
    subject: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    options: Vec<Spanned<String>>,
}

/// Reads and checks a profile file; `[[mix]] to` must name a Funktionspostfach of
/// `mailboxes` (a target file's), or of the embedded intake when `None`.
pub fn load(path: &Path, mailboxes: Option<&[String]>) -> Result<Profile, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the load profile: {e}"),
    })?;
    parse_for(&text, path, mailboxes)
}

/// Checks a profile text for the embedded world (`path` names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<Profile, FileError> {
    parse_for(text, path, None)
}

/// Checks a profile text; `mailboxes` as for [`load`].
pub fn parse_for(
    text: &str,
    path: &Path,
    mailboxes: Option<&[String]>,
) -> Result<Profile, FileError> {
    parse_located(text, path, mailboxes).map_err(|l| FileError::at(path, text, l))
}

/// A duration of the wall clock: ISO 8601 (`PT30S`) or jiff's friendly form (`30s`, `250ms`).
pub fn wall_duration(value: &Spanned<String>, what: &str) -> Result<Duration, Located> {
    let bad = |why: String| {
        Located::new(
            value.span(),
            format!("{what}: {why}; expected a duration such as \"30s\", \"250ms\", \"PT2M\""),
        )
    };
    let span = parse_span(value.get_ref()).map_err(bad)?;
    let signed = jiff::SignedDuration::try_from(span)
        .map_err(|e| bad(format!("{e} (days and longer are not wall durations here)")))?;
    Duration::try_from(signed).map_err(|_| bad("a negative duration".into()))
}

fn positive(value: &Spanned<f64>, what: &str) -> Result<f64, Located> {
    let v = *value.get_ref();
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Located::new(
            value.span(),
            format!("{what} must be a number above 0, not {v}"),
        ))
    }
}

fn non_negative(value: &Spanned<f64>, what: &str) -> Result<f64, Located> {
    let v = *value.get_ref();
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Located::new(
            value.span(),
            format!("{what} must be a number of at least 0, not {v}"),
        ))
    }
}

fn parse_located(
    text: &str,
    path: &Path,
    mailboxes: Option<&[String]>,
) -> Result<Profile, Located> {
    let file: File = toml::from_str(text)
        .map_err(|e| Located::new(e.span().unwrap_or(0..0), e.message().trim().to_string()))?;
    let load = &file.load;
    let duration = wall_duration(&load.duration, "duration")?;
    if duration.is_zero() {
        return Err(Located::new(
            load.duration.span(),
            "duration must be above 0",
        ));
    }
    let opt_dur = |v: &Option<Spanned<String>>, what: &str, default: Duration| {
        v.as_ref().map_or(Ok(default), |v| wall_duration(v, what))
    };
    let interval = opt_dur(&load.interval, "interval", Duration::from_secs(1))?;
    if interval < Duration::from_millis(100) {
        let span = load.interval.as_ref().map_or(0..0, Spanned::span);
        return Err(Located::new(span, "interval must be at least 100ms"));
    }
    let timeout = opt_dur(&load.timeout, "timeout", Duration::from_secs(60))?;
    let drain = opt_dur(&load.drain, "drain", Duration::from_secs(60))?;
    let max_in_flight = match &load.max_in_flight {
        None => 1000,
        Some(v) if *v.get_ref() >= 1 && *v.get_ref() <= 1_000_000 => *v.get_ref() as usize,
        Some(v) => {
            return Err(Located::new(
                v.span(),
                format!("max_in_flight must be 1 to 1000000, not {}", v.get_ref()),
            ));
        }
    };
    let spacing = match load
        .arrivals
        .as_ref()
        .map(|s| (s.get_ref().as_str(), s.span()))
    {
        None | Some(("even", _)) => Spacing::Even,
        Some(("poisson", _)) => Spacing::Poisson,
        Some((other, span)) => {
            return Err(Located::new(
                span,
                format!("arrivals = {other:?}: expected \"even\" or \"poisson\""),
            ));
        }
    };
    if duration > MAX_DURATION {
        return Err(Located::new(
            load.duration.span(),
            format!(
                "duration must be at most {} days",
                MAX_DURATION.as_secs() / 86_400
            ),
        ));
    }
    if duration.as_millis() / interval.as_millis().max(1) > MAX_INTERVALS {
        let span = load
            .interval
            .as_ref()
            .map_or(load.duration.span(), Spanned::span);
        return Err(Located::new(
            span,
            format!(
                "duration / interval must be at most {MAX_INTERVALS} intervals; choose a longer interval"
            ),
        ));
    }
    let rate = rate(&file.rate)?;
    if let RateShape::OfficeHours { compress, .. } = &rate
        && duration.as_secs_f64() * compress / 3600.0 > MAX_COMPRESSED_HOURS
    {
        let span = file.rate.compress.as_ref().map_or(0..0, Spanned::span);
        return Err(Located::new(
            span,
            format!(
                "duration × compress must cover at most {MAX_COMPRESSED_HOURS} compressed hours"
            ),
        ));
    }
    let population = match &file.population {
        None => PopulationSpec {
            size: 2000,
            municipality: "Dresden".into(),
            demail_share: None,
        },
        Some(p) => PopulationSpec {
            size: match *p.size.get_ref() {
                n @ 1..=10_000_000 => n as u64,
                n => {
                    return Err(Located::new(
                        p.size.span(),
                        format!("size must be 1 to 10000000, not {n}"),
                    ));
                }
            },
            municipality: p
                .municipality
                .as_ref()
                .map_or("Dresden".into(), |m| m.get_ref().clone()),
            demail_share: match &p.demail_share {
                None => None,
                Some(s) if (0.0..=1.0).contains(s.get_ref()) && *s.get_ref() > 0.0 => {
                    Some(*s.get_ref())
                }
                Some(s) => {
                    return Err(Located::new(
                        s.span(),
                        "demail_share must be above 0 and at most 1",
                    ));
                }
            },
        },
    };
    if let Some(p) = &file.population
        && let Some(m) = &p.municipality
        && demail_sim::population::city::find(m.get_ref()).is_none()
    {
        return Err(Located::new(
            m.span(),
            format!(
                "unknown municipality {:?}; known: {}",
                m.get_ref(),
                demail_sim::population::city::known_names()
            ),
        ));
    }
    let world = match &file.world {
        None => WorldSpec {
            provider_domain: DEFAULT_PROVIDER_DOMAIN.into(),
            tick: Duration::from_millis(250),
            processing_time: jiff::Span::new(),
        },
        Some(w) => WorldSpec {
            provider_domain: w
                .provider_domain
                .as_ref()
                .map_or(DEFAULT_PROVIDER_DOMAIN.into(), |d| d.get_ref().clone()),
            tick: {
                let t = opt_dur(&w.tick, "tick", Duration::from_millis(250))?;
                if t < Duration::from_millis(10) {
                    let span = w.tick.as_ref().map_or(0..0, Spanned::span);
                    return Err(Located::new(span, "tick must be at least 10ms"));
                }
                t
            },
            processing_time: match &w.processing_time {
                None => jiff::Span::new(),
                Some(p) => crate::located::duration(p, "processing_time")?,
            },
        },
    };
    if file.mix.is_empty() {
        return Err(Located::new(
            0..0,
            "no [[mix]] entry: say what the citizens send (docs/load.md)",
        ));
    }
    let known: Vec<String> = match mailboxes {
        Some(m) => m.iter().map(|a| a.to_ascii_lowercase()).collect(),
        None => demail_sim::intake::config::IntakeFile::default_dresden()
            .map_err(|e| Located::new(0..0, format!("the embedded intake configuration: {e}")))?
            .mailboxes
            .iter()
            .map(|b| b.address.clone())
            .collect(),
    };
    let mut mix = Vec::new();
    for m in &file.mix {
        let span = m.span();
        let m = m.get_ref();
        let weight = positive(&m.weight, "weight")?;
        let to = m.to.get_ref().to_ascii_lowercase();
        if !known.contains(&to) {
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            return Err(Located::new(
                m.to.span(),
                format!(
                    "to = {:?} is not a Funktionspostfach of the {}; known: {}",
                    m.to.get_ref(),
                    if mailboxes.is_some() {
                        "system under test (the target file's [accounts] mailboxes)"
                    } else {
                        "embedded intake"
                    },
                    crate::located::quoted(&names)
                ),
            ));
        }
        let senders = match m.senders.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("any", _)) => Senders::Any,
            Some(("person", _)) => Senders::Person,
            Some(("business", _)) => Senders::Business,
            Some((other, span)) => {
                return Err(Located::new(
                    span,
                    format!("senders = {other:?}: expected \"any\", \"person\" or \"business\""),
                ));
            }
        };
        let mut options = Vec::new();
        for o in &m.options {
            match DeMailOption::from_name(o.get_ref()) {
                Some(opt) => options.push(opt),
                None => {
                    return Err(Located::new(
                        o.span(),
                        format!("unknown De-Mail option {:?}", o.get_ref()),
                    ));
                }
            }
        }
        if m.name.trim().is_empty() {
            return Err(Located::new(span, "a [[mix]] entry needs a name"));
        }
        mix.push(MixEntry {
            name: m.name.clone(),
            weight,
            to,
            senders,
            subject: m.subject.clone(),
            body: m
                .body
                .clone()
                .unwrap_or_else(|| format!("{}\n\nMit freundlichen Grüßen\n", m.subject)),
            options,
        });
    }
    let mut thresholds = Vec::new();
    for t in &load.thresholds {
        let parsed = super::threshold::parse(t.get_ref())
            .map_err(|e| Located::new(t.span(), format!("threshold {:?}: {e}", t.get_ref())))?;
        thresholds.push(parsed);
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Profile {
        path: path.to_path_buf(),
        digest,
        name: load.name.clone(),
        seed: load.seed,
        duration,
        interval,
        max_in_flight,
        timeout,
        drain,
        spacing,
        rate,
        population,
        world,
        mix,
        thresholds,
    })
}

/// The longest `duration` of a profile.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 86_400);

/// Most intervals of the time series (`duration / interval`).
pub const MAX_INTERVALS: u128 = 100_000;

/// Most compressed hours of an office-hours curve (`duration × compress / 3600`).
pub const MAX_COMPRESSED_HOURS: f64 = 1_000_000.0;

/// The provider domain of the embedded world unless `[world] provider_domain` says otherwise.
pub const DEFAULT_PROVIDER_DOMAIN: &str = "dmda-a.de-mail.de";

fn rate(r: &RateSection) -> Result<RateShape, Located> {
    let need = |v: &Option<Spanned<f64>>, key: &str| {
        v.clone().ok_or_else(|| {
            Located::new(
                r.shape.span(),
                format!("shape = {:?} needs `{key}`", r.shape.get_ref()),
            )
        })
    };
    match r.shape.get_ref().as_str() {
        "constant" => Ok(RateShape::Constant {
            per_second: positive(&need(&r.per_second, "per_second")?, "per_second")?,
        }),
        "ramp" => {
            let start = match &r.start {
                Some(s) => non_negative(s, "start")?,
                None => 0.0,
            };
            if r.stages.is_empty() {
                return Err(Located::new(
                    r.shape.span(),
                    "shape = \"ramp\" needs `stages = [{ duration = \"30s\", target = 10.0 }, …]`",
                ));
            }
            let mut stages = Vec::new();
            for s in &r.stages {
                let s = s.get_ref();
                stages.push((
                    wall_duration(&s.duration, "stage duration")?,
                    non_negative(&s.target, "target")?,
                ));
            }
            Ok(RateShape::Ramp { start, stages })
        }
        "office-hours" => {
            let weights = match &r.weights {
                None => OFFICE_DAY,
                Some(w) => {
                    let ok = w.get_ref().len() == 24
                        && w.get_ref().iter().all(|x| x.is_finite() && *x >= 0.0)
                        && w.get_ref().iter().sum::<f64>() > 0.0;
                    if !ok {
                        return Err(Located::new(
                            w.span(),
                            "weights must be 24 numbers of at least 0 (one per hour), not all 0",
                        ));
                    }
                    let mut a = [0.0; 24];
                    a.copy_from_slice(w.get_ref());
                    a
                }
            };
            let start_hour = match &r.start_hour {
                None => 0,
                Some(h) if (0..24).contains(h.get_ref()) => *h.get_ref() as u32,
                Some(h) => {
                    return Err(Located::new(h.span(), "start_hour must be 0 to 23"));
                }
            };
            Ok(RateShape::OfficeHours {
                per_day: positive(&need(&r.per_day, "per_day")?, "per_day")?,
                compress: positive(&need(&r.compress, "compress")?, "compress")?,
                start_hour,
                weights,
            })
        }
        other => Err(Located::new(
            r.shape.span(),
            format!("shape = {other:?}: expected \"constant\", \"ramp\" or \"office-hours\""),
        )),
    }
}
