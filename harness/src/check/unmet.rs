//! Why an expectation is still undecided at the end of a run: instead of only "not observed
//! by the end of the scenario", the judge says what the trace and the mailboxes know about the
//! step's message. The kind's own reason comes first ([`super::Kind::unmet`]: e.g. the scenario ends
//! before the last day of the deadline or before the fiction day), then what any kind may
//! meet: the step sent nothing or was refused, a Meldung came back, the provider could not
//! push it to the intake, the intake opened no case, chose the postal fallback
//! (`intake.fallback`), or had its own message refused by the provider (`provider.refused`).

use super::lookup::kinds::*;
use demail_sim::demail::MessageType;
use demail_sim::trace::{EventKind, Trace};
use jiff::Timestamp;

use super::{Cx, Expectation, Level};
use crate::model::SendOutcome;

/// The reasons, most specific first; empty when nothing is known.
pub fn reasons(cx: &Cx<'_>, e: &Expectation) -> Vec<String> {
    let Some(step) = e.step.as_deref() else {
        return Vec::new();
    };
    let Some(send) = cx.obs.steps.iter().find(|s| s.step_id == step) else {
        return vec![format!("step {step:?} sent no message before the end")];
    };
    if let Some(r) = &send.refused {
        return vec![format!("the provider refused the message: {}", r.text)];
    }
    let events = cx.trace;
    let mut out: Vec<String> = e.kind.unmet(cx, send).into_iter().collect();
    out.extend(meldung(cx, send, events));
    match cx.intake_message_id(send) {
        None => out.push(format!(
            "the message is in none of the intake's mailboxes ({})",
            cx.obs.intake_address
        )),
        Some(message_id) => {
            out.extend(push_failures(&message_id, events));
            match cx.intake_case(send) {
                None if e.shape.level == Level::Observation => out.push(format!(
                    "the intake reported no case for {message_id} (no intake.received)"
                )),
                None => {}
                Some(case) => out.extend(fallback(&case.aktenzeichen, events)),
            }
        }
    }
    out.extend(intake_refused(cx, send, events));
    out
}

/// A Meldung about the step's message in the sender's mailbox: the provider could not lay it
/// into the recipient's mailbox (PVD-FU Schritt 45).
fn meldung(cx: &Cx<'_>, send: &SendOutcome, events: &Trace) -> Option<String> {
    let mailbox = cx.obs.world.mailbox(&send.from).ok()?;
    let m = mailbox.into_iter().find(|m| {
        m.message_type == MessageType::Notification
            && m.in_reply_to.as_deref() == Some(send.rfc_message_id.as_str())
    })?;
    let issued = events.find_map_of(&[NOTIFICATION_ISSUED], |e| match &e.kind {
        EventKind::NotificationIssued {
            message_id,
            notification_type,
            reason,
            ..
        } if *message_id == m.message_id => Some(format!("{notification_type}: {reason}")),
        _ => None,
    });
    Some(format!(
        "a Meldung came back ({})",
        issued.unwrap_or(m.subject)
    ))
}

/// The provider's failed pushes of the message to the intake, when it never got through.
fn push_failures(message_id: &str, events: &Trace) -> Option<String> {
    let mine = |m: &str| m == message_id;
    if events
        .find_map_of(&[PROVIDER_DELIVERED], |e| {
            matches!(&e.kind, EventKind::ProviderDelivered { message_id: m, .. } if mine(m))
                .then_some(())
        })
        .is_some()
    {
        return None;
    }
    let mut failures: Vec<(String, bool)> = Vec::new();
    events.for_each_of(&[PROVIDER_DELIVERY_FAILED], |e| {
        if let EventKind::ProviderDeliveryFailed {
            message_id: m,
            permanent,
            reason,
            ..
        } = &e.kind
            && mine(m)
        {
            failures.push((reason.clone(), *permanent));
        }
    });
    let (last, permanent) = failures.last()?;
    Some(format!(
        "the provider could not push {message_id} to the intake: {} failed attempt(s){}, the last: {last}",
        failures.len(),
        if *permanent { ", given up" } else { "" }
    ))
}

/// The intake's fallback for the case (`intake.fallback`): it chose another channel.
fn fallback(aktenzeichen: &str, events: &Trace) -> Option<String> {
    events.find_map_of(&[INTAKE_FALLBACK], |e| match &e.kind {
        EventKind::IntakeFallback {
            aktenzeichen: a,
            channel,
            reason,
        } if a == aktenzeichen => Some(format!(
            "the intake chose the {channel} fallback for {aktenzeichen}: {reason}"
        )),
        _ => None,
    })
}

/// Refusals of messages the intake submitted from one of its Funktionspostfächer after the
/// step's message was sent (a reply or Bescheid the provider did not take).
fn intake_refused(cx: &Cx<'_>, send: &SendOutcome, events: &Trace) -> Vec<String> {
    let since = send.sent_at.timestamp();
    let mut out = Vec::new();
    events.for_each_of(&[PROVIDER_REFUSED], |e| {
        if let EventKind::ProviderRefused {
            stage,
            from: Some(from),
            code,
            enhanced,
            reason,
            ..
        } = &e.kind
            && cx.setting.intake.mailbox(from).is_some()
            && e.at.parse::<Timestamp>().is_ok_and(|at| at >= since)
        {
            out.push(format!(
                "the provider refused a message from the intake's {from} at {stage}: {code} {enhanced} {reason}"
            ));
        }
    });
    out
}
