//! Expectation kinds: what a scenario's `[[expect]]` tables may ask, and how each is judged
//! against what crossed the wire.
//!
//! One file per kind holds its TOML keys ([`Shape`]), their validation with the messages a
//! user sees, and its judging, behind the [`Kind`] trait; [`KINDS`] is the registry. Adding a
//! kind is one new file, one line in [`KINDS`] and its row in `docs/scenarios.md` (and a field
//! in [`ExpectSpec`] plus a line in [`ExpectSpec::kind_keys`] only if it brings a new key).
//!
//! The [`Judge`] decides each expectation once, at the virtual instant it becomes certain (the
//! confirmation or reply arrived, or its deadline passed), and records it as `check.passed` or
//! `check.failed` in the trace. It reads the providers' mailboxes, the intake's `intake.*`
//! events and the mock DMS through [`crate::model`]; it never looks inside the intake, and
//! nothing here names the runner or the scenario loader.

pub mod due;
mod judge;
mod lookup;
mod replies;
mod unmet;

mod all_replies;
mod case;
mod confirmation;
mod delivery;
mod dms;
mod document;
mod fallback;
mod latency;
mod notification;
mod one_case;
mod refused;
mod reply;
mod throughput;
mod zustellung;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;

use demail_sim::law::Place;
use jiff::civil::Date;
use jiff::{Span, ZonedDateTime};
use serde::Deserialize;
use toml::Spanned;

pub use judge::{Judge, Setting};
pub use lookup::human;
pub use replies::Seconds;

use crate::located::{self, Located, quoted};
pub use crate::model::Level;
use crate::model::{Observation, ReceiveMode, SendOutcome};

/// The expectation kinds, in the order the "unknown expectation kind" error lists them.
pub static KINDS: &[Entry] = &[
    confirmation::ENTRY,
    reply::ENTRY,
    refused::ENTRY,
    notification::ENTRY,
    zustellung::ENTRY,
    document::ENTRY,
    all_replies::ENTRY,
    case::ENTRY,
    fallback::ENTRY,
    one_case::ENTRY,
    dms::ENTRY,
    delivery::ENTRY,
    latency::ENTRY,
    throughput::ENTRY,
];

/// `[[expect]]`: what must happen. Which keys apply depends on `kind` (each kind's [`Shape`]);
/// the field order is the order the TOML reader lists them in an "unknown field" error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    pub id: String,
    /// Which step's message the expectation is about (kinds about a message).
    #[serde(default)]
    pub step: Option<Spanned<String>>,
    /// The name of a kind in [`KINDS`].
    pub kind: Spanned<String>,
    #[serde(default)]
    pub confirmation: Option<Spanned<String>>,
    #[serde(default)]
    pub within: Option<Spanned<String>>,
    #[serde(default)]
    pub rule: Option<Spanned<String>>,
    /// The legal last day of the rule's deadline as the tester computed it (`reply`).
    #[serde(default)]
    pub last_day: Option<Spanned<String>>,
    #[serde(default)]
    pub subject_contains: Option<Spanned<String>>,
    #[serde(default)]
    pub code: Option<Spanned<u16>>,
    #[serde(default)]
    pub enhanced: Option<Spanned<String>>,
    #[serde(default)]
    pub notification_type: Option<Spanned<String>>,
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    /// The day of Zustellung as the tester computed it (`zustellung`).
    #[serde(default)]
    pub served_on: Option<Spanned<String>>,
    /// The last day for a Widerspruch against a served Bescheid as the tester computed it
    /// (`zustellung`).
    #[serde(default)]
    pub widerspruch_last_day: Option<Spanned<String>>,
    #[serde(default)]
    pub traffic: Option<Spanned<String>>,
    #[serde(default)]
    pub procedure: Option<Spanned<String>>,
    #[serde(default)]
    pub binding: Option<Spanned<bool>>,
    #[serde(default)]
    pub percentile: Option<Spanned<u8>>,
    #[serde(default)]
    pub per_day: Option<Spanned<u32>>,
    /// De-Mail option names a document must carry as "yes" (`document`).
    #[serde(default)]
    pub options: Option<Spanned<Vec<String>>>,
}

impl ExpectSpec {
    /// The kind-specific keys with the span of their value when present, in the order a key
    /// that does not apply is reported.
    pub fn kind_keys(&self) -> [(&'static str, Option<Range<usize>>); 17] {
        fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
            v.as_ref().map(Spanned::span)
        }
        [
            ("confirmation", at(&self.confirmation)),
            ("within", at(&self.within)),
            ("rule", at(&self.rule)),
            ("last_day", at(&self.last_day)),
            ("subject_contains", at(&self.subject_contains)),
            ("code", at(&self.code)),
            ("enhanced", at(&self.enhanced)),
            ("notification_type", at(&self.notification_type)),
            ("procedure", at(&self.procedure)),
            ("binding", at(&self.binding)),
            ("mode", at(&self.mode)),
            ("served_on", at(&self.served_on)),
            ("widerspruch_last_day", at(&self.widerspruch_last_day)),
            ("traffic", at(&self.traffic)),
            ("percentile", at(&self.percentile)),
            ("per_day", at(&self.per_day)),
            ("options", at(&self.options)),
        ]
    }
}

/// What a kind looks like in a scenario file, and when the judge asks it.
#[derive(Debug)]
pub struct Shape {
    /// The value of `kind`.
    pub name: &'static str,
    /// The keys it takes besides `id`, `step` and `kind`, in the order an error lists them.
    pub keys: &'static [&'static str],
    pub about: About,
    pub timing: Timing,
    /// The least a system under test must offer for this kind to be judged (docs/sut.md):
    /// kinds that read the intake's own record (its events) need observation (level 3);
    /// kinds that read only what reached the provider's mailboxes need the wire (level 1).
    pub level: Level,
}

/// What an expectation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    /// The step's message once the provider accepted it: the judge fails the expectation
    /// when the provider refused the message, without asking the kind.
    AcceptedMessage,
    /// The step's message, accepted or refused: the kind judges a refusal itself.
    Message,
    /// A whole traffic (key `traffic`, no `step`).
    Traffic,
}

/// When the judge asks a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// At every instant until decided ([`Kind::observe`] or [`Kind::observe_traffic`]), and
    /// once more at the end ([`Kind::finish`]).
    Observed,
    /// Only at the end ([`Kind::finish`]), before the observed kinds get their last call.
    AtEnd,
}

/// One expectation kind: reading its keys and judging it. A value holds the validated keys
/// and, inside a [`Judge`], the kind's judging state for one run (each run clones the values
/// the scenario holds).
pub trait Kind: fmt::Debug + Send + Sync + BoxClone {
    /// Reads and validates the kind's keys of one `[[expect]]` table; errors point at the
    /// value (or at `kind` for a missing key) and say what was expected.
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located>
    where
        Self: Sized;

    /// Judges the step's message at this instant (kinds about a message): `None` while
    /// undecided.
    fn observe(&mut self, _cx: &Cx<'_>, _send: &SendOutcome) -> Option<Verdict> {
        None
    }

    /// Judges at this instant (kinds about a traffic): `None` while undecided.
    fn observe_traffic(&mut self, _cx: &Cx<'_>) -> Option<Verdict> {
        None
    }

    /// One of the traffic's messages whose reply a sweep found (kinds about a traffic), once
    /// per message, in send order within a sweep, before the kind is asked at that instant.
    fn replied(&mut self, _cx: &Cx<'_>, _r: &replies::Replied) {}

    /// The last call at the end of the run, while undecided; `None` fails the expectation as
    /// "not observed by the end of the scenario", with the reasons of [`unmet`].
    fn finish(&mut self, _cx: &Cx<'_>) -> Option<Verdict> {
        None
    }

    /// Why the step's message is still undecided at the end, when the kind knows (e.g. the
    /// scenario ends before its deadline); the general reasons of [`unmet`] follow it.
    fn unmet(&self, _cx: &Cx<'_>, _send: &SendOutcome) -> Option<String> {
        None
    }
}

/// Clones a boxed [`Kind`] (implemented for every `Kind + Clone`).
pub trait BoxClone {
    fn box_clone(&self) -> Box<dyn Kind>;
}

impl<K: Kind + Clone + 'static> BoxClone for K {
    fn box_clone(&self) -> Box<dyn Kind> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Kind> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// A registry row: a kind's shape and its reader.
pub struct Entry {
    pub shape: Shape,
    parse: fn(&ParseCx<'_>) -> Result<Box<dyn Kind>, Located>,
}

impl Entry {
    /// The row of kind `K`.
    pub const fn new<K: Kind + 'static>(shape: Shape) -> Self {
        Self {
            shape,
            parse: parse_boxed::<K>,
        }
    }
}

fn parse_boxed<K: Kind + 'static>(cx: &ParseCx<'_>) -> Result<Box<dyn Kind>, Located> {
    Ok(Box::new(K::parse(cx)?))
}

/// A decision on one expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    /// The evidence as people read it: the console, `summary.txt` and the reports.
    pub detail: String,
    /// The evidence as the trace keeps it, when it differs from `detail`: a deadline as the
    /// instant the period ends (e.g. `2025-03-07T00:00:00+01:00`) where the console names
    /// the legal last day (`last day Thu 06.03.2025`), so the trace stays precise and stable.
    pub trace: Option<String>,
}

impl Verdict {
    pub fn new(passed: bool, detail: String) -> Self {
        Self {
            passed,
            detail,
            trace: None,
        }
    }

    /// The same verdict with another text for the trace.
    pub fn traced_as(mut self, trace: String) -> Self {
        if trace != self.detail {
            self.trace = Some(trace);
        }
        self
    }

    pub fn pass(detail: String) -> Self {
        Self::new(true, detail)
    }

    pub fn fail(detail: String) -> Self {
        Self::new(false, detail)
    }
}

/// A validated expectation of a scenario.
#[derive(Clone, Debug)]
pub struct Expectation {
    pub id: String,
    /// The step whose message it is about (kinds about a message).
    pub step: Option<String>,
    /// The traffic it is about (kinds about a traffic).
    pub traffic: Option<String>,
    pub shape: &'static Shape,
    /// The kind's validated keys (and, in a judge, its judging state).
    pub kind: Box<dyn Kind>,
}

/// What the rest of the scenario file defines, which an expectation may refer to.
pub struct Known<'a> {
    pub start: &'a ZonedDateTime,
    pub place: &'a Place,
    pub step_ids: &'a [&'a str],
    pub traffic_ids: &'a [&'a str],
    /// Procedure ids of the intake configuration.
    pub procedures: &'a [&'a str],
    pub has_dms: bool,
    pub receive: ReceiveMode,
}

/// What a kind's [`Kind::parse`] reads: its table and what the file defines.
pub struct ParseCx<'a> {
    pub known: &'a Known<'a>,
    pub spec: &'a ExpectSpec,
}

impl ParseCx<'_> {
    /// The value of a key the kind requires.
    pub fn need<T: Clone>(
        &self,
        value: &Option<Spanned<T>>,
        key: &str,
    ) -> Result<Spanned<T>, Located> {
        self.need_as(value, key, "")
    }

    /// The value of a key the kind requires; `hint` follows the key in the error.
    pub fn need_as<T: Clone>(
        &self,
        value: &Option<Spanned<T>>,
        key: &str,
        hint: &str,
    ) -> Result<Spanned<T>, Located> {
        value.clone().ok_or_else(|| {
            self.at_kind(format!(
                "expectation {:?} of kind {:?} needs the key `{key}`{hint}",
                self.spec.id,
                self.spec.kind.get_ref()
            ))
        })
    }

    /// An error that points at the table's `kind`.
    pub fn at_kind(&self, message: String) -> Located {
        Located::new(self.spec.kind.span(), message)
    }

    /// A duration value.
    pub fn duration(&self, value: &Spanned<String>, what: &str) -> Result<Span, Located> {
        located::duration(value, what)
    }

    /// An optional date value (`YYYY-MM-DD`) of key `key`, a day the tester computed by hand.
    pub fn date(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
    ) -> Result<Option<Date>, Located> {
        let Some(value) = value else {
            return Ok(None);
        };
        value
            .get_ref()
            .trim()
            .parse::<Date>()
            .map(Some)
            .map_err(|e| {
                Located::new(
                    value.span(),
                    format!(
                        "{key} {:?} is not a date: {e}; expected a day such as \"2025-12-22\"",
                        value.get_ref()
                    ),
                )
            })
    }

    /// The required key `traffic`, naming a traffic of the file.
    pub fn traffic(&self) -> Result<String, Located> {
        let traffic = self.need(&self.spec.traffic, "traffic")?;
        if !self.known.traffic_ids.contains(&traffic.get_ref().as_str()) {
            return Err(Located::new(
                traffic.span(),
                format!(
                    "unknown traffic {:?}; the file defines: {}",
                    traffic.get_ref(),
                    quoted(self.known.traffic_ids)
                ),
            ));
        }
        Ok(traffic.into_inner())
    }

    /// A legal rule that gives a deadline, as written. Computing it for the start proves that
    /// it exists, is in force on that date, and yields a deadline; the error says which of
    /// these failed. The text is kept as written (not as a [`crate::check::due::RuleId`]): the
    /// calendar reads it (trimmed, any case) and the details quote it.
    pub fn rule(&self, rule: Spanned<String>) -> Result<String, Located> {
        crate::check::due::due(rule.get_ref(), self.known.start, self.known.place)
            .map_err(|e| Located::new(rule.span(), format!("rule {:?}: {e}", rule.get_ref())))?;
        Ok(rule.into_inner())
    }
}

/// Validates the `[[expect]]` tables, in file order.
pub fn parse_all(specs: &[ExpectSpec], known: &Known<'_>) -> Result<Vec<Expectation>, Located> {
    specs.iter().map(|spec| parse_one(spec, known)).collect()
}

/// Validates one table: its subject (`step` or `traffic`), its kind and which keys apply,
/// then the kind's own keys.
fn parse_one(spec: &ExpectSpec, known: &Known<'_>) -> Result<Expectation, Located> {
    let kind_name = spec.kind.get_ref();
    let entry = KINDS.iter().find(|k| k.shape.name == kind_name);
    let about_traffic = entry.is_some_and(|k| k.shape.about == About::Traffic);
    match (&spec.step, about_traffic) {
        (Some(step), true) => {
            return Err(Located::new(
                step.span(),
                format!(
                    "an expectation of kind {kind_name:?} is about a whole traffic: give `traffic`, not `step`"
                ),
            ));
        }
        (None, true) => {}
        (None, false) => {
            return Err(Located::new(
                spec.kind.span(),
                format!("expectation {:?} needs the key `step`", spec.id),
            ));
        }
        (Some(step), false) => {
            if !known.step_ids.contains(&step.get_ref().as_str()) {
                return Err(Located::new(
                    step.span(),
                    format!(
                        "unknown step {:?}; the file defines: {}",
                        step.get_ref(),
                        quoted(known.step_ids)
                    ),
                ));
            }
        }
    }
    let Some(entry) = entry else {
        let names: Vec<&str> = KINDS.iter().map(|k| k.shape.name).collect();
        return Err(Located::new(
            spec.kind.span(),
            format!(
                "unknown expectation kind {kind_name:?}; expected one of: {}",
                quoted(&names)
            ),
        ));
    };
    let keys = entry.shape.keys;
    for (key, span) in spec.kind_keys() {
        if let Some(span) = span
            && !keys.contains(&key)
        {
            return Err(Located::new(
                span,
                format!(
                    "key `{key}` does not apply to an expectation of kind {kind_name:?}; it takes: {}",
                    keys.join(", ")
                ),
            ));
        }
    }
    let kind = (entry.parse)(&ParseCx { known, spec })?;
    Ok(Expectation {
        id: spec.id.clone(),
        step: spec.step.as_ref().map(|s| s.get_ref().clone()),
        traffic: spec
            .traffic
            .as_ref()
            .filter(|_| entry.shape.about == About::Traffic)
            .map(|t| t.get_ref().clone()),
        shape: &entry.shape,
        kind,
    })
}

/// What a kind's judging reads at one instant.
pub struct Cx<'a> {
    pub obs: &'a Observation<'a>,
    pub setting: &'a Setting<'a>,
    /// The run's trace: the intake's `intake.*` events and the provider's delivery events
    /// are read from it, and a kind may add events (a deadline, a Zustellung) before its
    /// verdict.
    pub trace: &'a demail_sim::trace::Trace,
    /// The traffics' sends and replies, one ledger per traffic a kind names.
    pub ledgers: &'a std::collections::BTreeMap<String, replies::Ledger>,
}
