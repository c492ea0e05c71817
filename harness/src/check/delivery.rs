//! `delivery`: the provider pushed the step's message into the intake's listener
//! (`provider.delivered`) by `within` after sending, or without `within` by the limit of TR
//! 01201 PVD-FU § 4.2 (rule `provider-mailbox`: 8 hours). Decided at the push, or failed once
//! the limit has passed without one, naming the failed attempts and the last failure. Push
//! mode only.

use super::lookup::kinds::*;
use demail_sim::clock::format_instant;
use demail_sim::trace::EventKind;
use jiff::Span;

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::check::due::RuleId;
use crate::located::Located;
use crate::model::{ReceiveMode, SendOutcome};

pub const ENTRY: Entry = Entry::new::<Delivery>(Shape {
    name: "delivery",
    keys: &["within"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Key `within`, optional.
#[derive(Clone, Debug)]
pub struct Delivery {
    within: Option<Span>,
}

impl Kind for Delivery {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        if cx.known.receive != ReceiveMode::Push {
            return Err(cx.at_kind(
                "an expectation of kind \"delivery\" judges the provider's push into the intake, which a pulling intake ([intake] receive = \"pull\" or \"pop3\") does not get".into(),
            ));
        }
        let within = cx.spec.within.as_ref();
        Ok(Self {
            within: within.map(|w| cx.duration(w, "within")).transpose()?,
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let (limit, what) = match self.within {
            Some(w) => match send.sent_at.checked_add(w) {
                Ok(l) => (l, format!("within {w}")),
                Err(e) => return Some(Verdict::fail(format!("limit out of range: {e}"))),
            },
            None => {
                let rule = RuleId::PROVIDER_MAILBOX;
                match crate::check::due::due(rule.as_str(), &send.sent_at, cx.setting.place) {
                    Ok(d) => (
                        d.due,
                        format!("within the limit of {} ({})", d.rule, d.sources),
                    ),
                    Err(e) => return Some(Verdict::fail(format!("deadline {rule}: {e}"))),
                }
            }
        };
        let message_id = cx.intake_message_id(send)?;
        let mut failures: Vec<String> = Vec::new();
        cx.trace.for_each_of(&[PROVIDER_DELIVERY_FAILED], |e| {
            if let EventKind::ProviderDeliveryFailed {
                message_id: m,
                reason,
                ..
            } = &e.kind
                && *m == message_id
            {
                failures.push(format!("{}: {reason}", e.at));
            }
        });
        let delivered = cx
            .trace
            .find_map_of(&[PROVIDER_DELIVERED], |e| match &e.kind {
                EventKind::ProviderDelivered {
                    message_id: m,
                    attempt,
                    ..
                } if *m == message_id => Some((e.at.clone(), *attempt)),
                _ => None,
            });
        let limit_text = format_instant(&limit);
        let last_failure = failures
            .last()
            .map(|f| format!("; last failure {f}"))
            .unwrap_or_default();
        match delivered {
            Some((at, attempt)) => {
                let on_time = at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|t| t <= limit.timestamp());
                let detail = format!(
                    "{message_id} pushed into the intake at {at} at attempt {attempt} ({} failed before), {what}: latest {limit_text}{last_failure}",
                    failures.len()
                );
                Some(if on_time {
                    Verdict::pass(detail)
                } else {
                    Verdict::fail(format!("late: {detail}"))
                })
            }
            None if cx.obs.now.timestamp() > limit.timestamp() => Some(Verdict::fail(format!(
                "{message_id} not pushed into the intake {what}: latest {limit_text}; {} failed attempts{last_failure}",
                failures.len()
            ))),
            None => None,
        }
    }

    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        let within = match self.within {
            Some(w) => w,
            None => {
                let due = crate::check::due::due(
                    RuleId::PROVIDER_MAILBOX.as_str(),
                    &send.sent_at,
                    cx.setting.place,
                )
                .ok()?;
                send.sent_at.until(&due.due).ok()?
            }
        };
        cx.ends_before(send, "push into the intake", within)
    }
}
