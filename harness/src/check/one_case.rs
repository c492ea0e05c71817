//! `one-case`: the step's message reached the intake more than once (two or more
//! `provider.delivered`, e.g. a planned duplicate delivery, docs/faults.md; or, for an intake
//! that fetches its mail, an `intake.duplicate`: the message was offered again, as after a
//! POP3 QUIT that failed) and the intake opened exactly one case for it: an intake must be idempotent by X-de-mail-message-id
//! (PVD-IO §3.1.18: unique per message), or one application becomes two cases with two
//! Aktenzeichen and two Empfangsbescheinigungen.

use super::lookup::kinds::*;
use demail_sim::trace::EventKind;

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<OneCase>(Shape {
    name: "one-case",
    keys: &[],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Observation,
});

/// No keys.
#[derive(Clone, Debug)]
pub struct OneCase;

/// How often the provider delivered the message, which cases the intake opened for it, and
/// how often the intake reported it as a duplicate.
fn counts(cx: &Cx<'_>, message_id: &str) -> (usize, Vec<String>, usize) {
    let mut delivered = 0;
    let mut cases = Vec::new();
    let mut duplicates = 0;
    cx.trace.for_each_of(
        &[PROVIDER_DELIVERED, INTAKE_DUPLICATE, INTAKE_RECEIVED],
        |e| match &e.kind {
            EventKind::ProviderDelivered { message_id: m, .. } if m == message_id => delivered += 1,
            EventKind::IntakeDuplicate { message_id: m, .. } if m == message_id => duplicates += 1,
            EventKind::IntakeReceived {
                message_id: m,
                aktenzeichen,
                ..
            } if m == message_id => cases.push(aktenzeichen.clone()),
            _ => {}
        },
    );
    (delivered, cases, duplicates)
}

impl Kind for OneCase {
    fn parse(_cx: &ParseCx<'_>) -> Result<Self, Located> {
        Ok(Self)
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let message_id = cx.intake_message_id(send)?;
        let (delivered, cases, duplicates) = counts(cx, &message_id);
        if cases.len() > 1 {
            return Some(Verdict::fail(format!(
                "{message_id} was delivered {delivered} times and the intake opened {} cases for it: {}",
                cases.len(),
                cases.join(", ")
            )));
        }
        if cases.len() != 1 {
            return None;
        }
        if delivered >= 2 {
            return Some(Verdict::pass(format!(
                "{message_id} was delivered {delivered} times; the intake opened one case, {}",
                cases[0]
            )));
        }
        // A fetching intake: the provider offered it again (POP3 or gateway API).
        (duplicates >= 1).then(|| {
            Verdict::pass(format!(
                "{message_id} reached the intake {} times ({duplicates} intake.duplicate); the intake opened one case, {}",
                duplicates + 1,
                cases[0]
            ))
        })
    }

    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        let message_id = cx.intake_message_id(send)?;
        let (delivered, cases, _) = counts(cx, &message_id);
        Some(format!(
            "{message_id} was delivered {delivered} time(s) (a duplicate needs two) and the intake opened {} case(s)",
            cases.len()
        ))
    }
}
