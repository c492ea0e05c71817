//! `reply`: the intake's reply (`In-Reply-To` the step's message, from one of its
//! Funktionspostfächer) reaches the sender's mailbox before the deadline of a legal rule, and
//! its subject contains a text. The deadline is traced (`deadline.computed`) once.

use demail_sim::clock::format_instant;
use demail_sim::trace::EventKind;

use super::due::Due;
use super::lookup::{human, legal_day};
use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Reply>(Shape {
    name: "reply",
    keys: &["rule", "subject_contains"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Keys `rule` and `subject_contains`.
#[derive(Clone, Debug)]
pub struct Reply {
    /// A rule id of the legal calendar, as written (validated at load).
    rule: String,
    subject_contains: String,
    /// Whether the deadline was traced already.
    deadline_noted: bool,
}

impl Kind for Reply {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        Ok(Self {
            rule: cx.rule(cx.need(&cx.spec.rule, "rule")?)?,
            subject_contains: cx
                .need(&cx.spec.subject_contains, "subject_contains")?
                .into_inner(),
            deadline_noted: false,
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let due = match crate::check::due::due(&self.rule, &send.sent_at, cx.setting.place) {
            Ok(d) => d,
            Err(e) => {
                return Some(Verdict::fail(format!("deadline {}: {e}", self.rule)));
            }
        };
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
        let (console, traced) = named(&due);
        let (rule_id, sources, last_day) = (due.rule.as_str(), due.sources.as_str(), due.last_day);
        let due = &due.due;
        let mailbox = match cx.obs.world.mailbox(&send.from) {
            Ok(m) => m,
            Err(e) => {
                return Some(Verdict::fail(format!(
                    "cannot read the sender's mailbox: {e:#}"
                )));
            }
        };
        // Replies come from any of the intake's Funktionspostfächer; a case may get several
        // (Empfangsbescheinigung, Bescheid): the one with the expected subject counts, else
        // the first.
        let wanted = self.subject_contains.as_str();
        let replies: Vec<_> = mailbox.iter().filter(|m| cx.is_reply(m, send)).collect();
        let found = replies
            .iter()
            .find(|m| m.subject.contains(wanted))
            .or(replies.first());
        match found {
            Some(m) if !m.subject.contains(wanted) => Some(Verdict::fail(format!(
                "the intake's reply has subject {:?}, which does not contain {:?}",
                m.subject, self.subject_contains
            ))),
            Some(m) if m.stored_at < due.timestamp() => {
                let after = human(m.stored_at.duration_since(send.sent_at.timestamp()));
                let by = if last_day.is_some() { "by" } else { "before" };
                Some(
                    Verdict::pass(format!(
                        "reply {:?} in the sender's mailbox {after} after sending, {by} {console} ({rule_id})",
                        m.subject
                    ))
                    .traced_as(format!(
                        "reply {:?} in the sender's mailbox {after} after sending, before {traced} ({rule_id})",
                        m.subject
                    )),
                )
            }
            Some(m) => Some(
                Verdict::fail(format!(
                    "reply {:?} arrived {}, after {console} ({rule_id})",
                    m.subject,
                    format_instant(&m.stored_at.to_zoned_datetime(due.time_zone().clone()))
                ))
                .traced_as(format!(
                    "reply {:?} arrived {}, after {traced} ({rule_id})",
                    m.subject, m.stored_at
                )),
            ),
            None if cx.obs.now.timestamp() >= due.timestamp() => Some(
                Verdict::fail(format!(
                    "no reply from {} by {console} ({rule_id}: {sources})",
                    cx.obs.intake_address
                ))
                .traced_as(format!(
                    "no reply from {} by {traced} ({rule_id}: {sources})",
                    cx.obs.intake_address
                )),
            ),
            None => None,
        }
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
