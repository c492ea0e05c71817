//! `reply`: the intake's reply (`In-Reply-To` the step's message, from one of its
//! Funktionspostfächer) reaches the sender's mailbox in time, and its subject contains a text.
//! In time means before the end of the last day of a legal rule's deadline (`rule`, traced
//! once as `deadline.computed`), or, for a procedure without a statutory deadline (petition,
//! general request), within a time after sending (`within`). A `last_day` the tester computed
//! by hand is compared with the calendar's: a disagreement fails on its own, naming both days.

use demail_sim::clock::format_instant;
use demail_sim::provider::StoredMessage;
use demail_sim::trace::EventKind;
use jiff::Span;
use jiff::civil::Date;

use super::due::Due;
use super::lookup::{human, legal_day};
use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Reply>(Shape {
    name: "reply",
    keys: &["rule", "within", "last_day", "subject_contains"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Keys `rule` (optionally with `last_day`) or `within`, and `subject_contains`.
#[derive(Clone, Debug)]
pub struct Reply {
    limit: Limit,
    subject_contains: String,
    /// Whether the deadline was traced already.
    deadline_noted: bool,
}

/// What "in time" means for a reply.
#[derive(Clone, Debug)]
enum Limit {
    /// Before the end of a legal rule's deadline.
    Rule {
        /// A rule id of the legal calendar, as written (validated at load).
        rule: String,
        /// The last day as the scenario states it, compared with the calendar's.
        stated: Option<Date>,
    },
    /// At most this long after sending (no statutory deadline).
    Within(Span),
}

impl Kind for Reply {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let spec = cx.spec;
        let limit = match (&spec.rule, &spec.within) {
            (Some(rule), None) => {
                let rule = cx.rule(rule.clone())?;
                let stated = cx.date(&spec.last_day, "last_day")?;
                if let (Some(v), Some(_)) = (&spec.last_day, stated) {
                    let due = crate::check::due::due(&rule, cx.known.start, cx.known.place)
                        .map_err(|e| Located::new(v.span(), e))?;
                    if due.last_day.is_none() {
                        return Err(Located::new(
                            v.span(),
                            format!(
                                "`last_day` does not apply: rule {rule:?} gives a limit in hours, not a last day"
                            ),
                        ));
                    }
                }
                Limit::Rule { rule, stated }
            }
            (None, Some(within)) => {
                if let Some(v) = &spec.last_day {
                    return Err(Located::new(
                        v.span(),
                        "`last_day` needs a `rule` whose deadline has a last day; with `within` the limit is a time after sending",
                    ));
                }
                Limit::Within(cx.duration(within, "within")?)
            }
            (Some(_), Some(within)) => {
                return Err(Located::new(
                    within.span(),
                    "give either `rule` (a legal deadline) or `within` (a time after sending, for a procedure without a statutory deadline), not both",
                ));
            }
            (None, None) => {
                return Err(cx.at_kind(format!(
                    "expectation {:?} of kind \"reply\" needs the key `rule` (a legal deadline, e.g. \"gewerbe-empfang\") or `within` (a time after sending, e.g. \"P3D\", for a procedure without a statutory deadline such as a petition)",
                    spec.id
                )));
            }
        };
        Ok(Self {
            limit,
            subject_contains: cx
                .need(&spec.subject_contains, "subject_contains")?
                .into_inner(),
            deadline_noted: false,
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let outcome = match self.limit.clone() {
            Limit::Rule { rule, stated } => {
                self.due(cx, send, &rule, stated)
                    .and_then(|(due, as_stated)| {
                        let found = self.reply(cx, send)?;
                        Ok(by_rule(cx, send, found, &due, as_stated))
                    })
            }
            Limit::Within(within) => self
                .reply(cx, send)
                .map(|found| within_verdict(cx, send, found, within)),
        };
        outcome.unwrap_or_else(Some)
    }

    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        match &self.limit {
            Limit::Rule { rule, .. } => {
                let due = crate::check::due::due(rule, &send.sent_at, cx.setting.place).ok()?;
                (cx.obs.now.timestamp() < due.due.timestamp()).then(|| {
                    format!(
                        "no reply yet, and the scenario ends before {} ({}) is over",
                        named(&due).0,
                        due.rule
                    )
                })
            }
            Limit::Within(within) => cx.ends_before(send, "reply", *within),
        }
    }
}

impl Reply {
    /// The intake's reply to the step's message in the sender's mailbox, if any. Replies
    /// come from any of the intake's Funktionspostfächer; a case may get several
    /// (Empfangsbescheinigung, Bescheid): the one with the expected subject counts, else the
    /// first, which fails for its subject.
    fn reply(&self, cx: &Cx<'_>, send: &SendOutcome) -> Result<Option<StoredMessage>, Verdict> {
        let mailbox = cx
            .obs
            .world
            .mailbox(&send.from)
            .map_err(|e| Verdict::fail(format!("cannot read the sender's mailbox: {e:#}")))?;
        let wanted = self.subject_contains.as_str();
        let replies: Vec<_> = mailbox
            .into_iter()
            .filter(|m| cx.is_reply(m, send))
            .collect();
        let found = replies
            .iter()
            .find(|m| m.subject.contains(wanted))
            .or(replies.first())
            .cloned();
        match found {
            Some(m) if !m.subject.contains(wanted) => Err(Verdict::fail(format!(
                "the intake's reply has subject {:?}, which does not contain {:?}",
                m.subject, self.subject_contains
            ))),
            found => Ok(found),
        }
    }

    /// The rule's deadline for the step's message, traced once (`deadline.computed`), and
    /// the note for a stated last day that agrees with the calendar's; a stated day that
    /// disagrees fails, naming both.
    fn due(
        &mut self,
        cx: &Cx<'_>,
        send: &SendOutcome,
        rule: &str,
        stated: Option<Date>,
    ) -> Result<(Due, &'static str), Verdict> {
        let due = crate::check::due::due(rule, &send.sent_at, cx.setting.place)
            .map_err(|e| Verdict::fail(format!("deadline {rule}: {e}")))?;
        if !self.deadline_noted {
            self.deadline_noted = true;
            cx.trace.emit(EventKind::DeadlineComputed {
                rule: due.rule.clone(),
                source: due.sources.clone(),
                from: format_instant(&send.sent_at),
                due: format_instant(&due.due),
                steps: due.steps.clone(),
            });
        }
        match (stated, due.last_day) {
            (Some(s), Some(computed)) if s != computed => Err(Verdict::fail(format!(
                "the scenario states the last day {}, but the calendar computes {} ({}: {})",
                legal_day(s),
                legal_day(computed),
                due.rule,
                due.sources
            ))),
            (Some(_), _) => Ok((due, ", as stated")),
            (None, _) => Ok((due, "")),
        }
    }
}

/// Judges against a legal rule's deadline.
fn by_rule(
    cx: &Cx<'_>,
    send: &SendOutcome,
    found: Option<StoredMessage>,
    due: &Due,
    as_stated: &str,
) -> Option<Verdict> {
    let (rule_id, sources) = (due.rule.as_str(), due.sources.as_str());
    let (console, traced) = named(due);
    let due = &due.due;
    match found {
        Some(m) if m.stored_at < due.timestamp() => {
            let after = human(m.stored_at.duration_since(send.sent_at.timestamp()));
            let by = if traced == console { "before" } else { "by" };
            Some(
                    Verdict::pass(format!(
                        "reply {:?} in the sender's mailbox {after} after sending, {by} {console} ({rule_id}){as_stated}",
                        m.subject
                    ))
                    .traced_as(format!(
                        "reply {:?} in the sender's mailbox {after} after sending, before {traced} ({rule_id}){as_stated}",
                        m.subject
                    )),
                )
        }
        Some(m) => Some(
            Verdict::fail(format!(
                "reply {:?} arrived {}, after {console} ({rule_id}){as_stated}",
                m.subject,
                format_instant(&m.stored_at.to_zoned_datetime(due.time_zone().clone()))
            ))
            .traced_as(format!(
                "reply {:?} arrived {}, after {traced} ({rule_id}){as_stated}",
                m.subject, m.stored_at
            )),
        ),
        None if cx.obs.now.timestamp() >= due.timestamp() => Some(
            Verdict::fail(format!(
                "no reply from {} by {console} ({rule_id}: {sources}){as_stated}",
                cx.obs.intake_address
            ))
            .traced_as(format!(
                "no reply from {} by {traced} ({rule_id}: {sources}){as_stated}",
                cx.obs.intake_address
            )),
        ),
        None => None,
    }
}

/// Judges against a time after sending: the reply must be in the sender's mailbox at most
/// `within` after sending.
fn within_verdict(
    cx: &Cx<'_>,
    send: &SendOutcome,
    found: Option<StoredMessage>,
    within: Span,
) -> Option<Verdict> {
    let limit = match send.sent_at.checked_add(within) {
        Ok(l) => l,
        Err(e) => return Some(Verdict::fail(format!("limit out of range: {e}"))),
    };
    match found {
        Some(m) => {
            let after = human(m.stored_at.duration_since(send.sent_at.timestamp()));
            Some(if m.stored_at <= limit.timestamp() {
                Verdict::pass(format!(
                    "reply {:?} in the sender's mailbox {after} after sending (limit {within})",
                    m.subject
                ))
            } else {
                Verdict::fail(format!(
                    "reply {:?} arrived {after} after sending, later than {within}",
                    m.subject
                ))
            })
        }
        None if cx.obs.now.timestamp() > limit.timestamp() => Some(Verdict::fail(format!(
            "no reply from {} within {within} of sending (by {})",
            cx.obs.intake_address,
            format_instant(&limit)
        ))),
        None => None,
    }
}

/// How a deadline is named: on the console by its legal last day ("the last day Thu
/// 06.03.2025"), in the trace by the first instant after the period ("the deadline
/// 2025-03-07T00:00:00+01:00"), which people misread as one day late; an hour-based limit is
/// named by its instant in both.
fn named(due: &Due) -> (String, String) {
    let instant = format!("the deadline {}", format_instant(&due.due));
    match due.last_day {
        Some(day) => (format!("the last day {}", legal_day(day)), instant),
        None => (instant.clone(), instant),
    }
}
