//! `fallback`: the intake could not serve the step's case by De-Mail (access not opened, a
//! Meldung came back, § 5a VwZG repealed) and recorded a postal fallback (`intake.fallback`).

use super::lookup::kinds::*;
use demail_sim::trace::EventKind;

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Fallback>(Shape {
    name: "fallback",
    keys: &[],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Observation,
});

/// No keys.
#[derive(Clone, Debug)]
pub struct Fallback;

impl Kind for Fallback {
    fn parse(_cx: &ParseCx<'_>) -> Result<Self, Located> {
        Ok(Self)
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let case = cx.intake_case(send)?;
        let (channel, reason) = cx
            .trace
            .find_map_of(&[INTAKE_FALLBACK], |e| match &e.kind {
                EventKind::IntakeFallback {
                    aktenzeichen,
                    channel,
                    reason,
                } if *aktenzeichen == case.aktenzeichen => Some((channel.clone(), reason.clone())),
                _ => None,
            })?;
        Some(Verdict::pass(format!(
            "{}: {channel} fallback: {reason}",
            case.aktenzeichen
        )))
    }

    /// The intake served the case by De-Mail instead (`intake.zustellung`), when it did.
    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        let case = cx.intake_case(send)?;
        cx.trace.find_map_of(&[INTAKE_ZUSTELLUNG], |e| match &e.kind {
            EventKind::IntakeZustellung {
                aktenzeichen,
                mode,
                date,
                ..
            } if *aktenzeichen == case.aktenzeichen => Some(format!(
                "the intake recorded no fallback: it served {aktenzeichen} by De-Mail ({mode} on {date})"
            )),
            _ => None,
        })
    }
}
