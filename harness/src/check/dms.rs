//! `dms`: the step's case reached the document management system (needs `[dms]`): the DMS
//! holds an evidence record for its Aktenzeichen that holds together, whose message matches
//! the one in the intake's mailbox, with the provider's seal (docs/dms.md).

use super::lookup::kinds::*;
use demail_sim::intake::dms::EvidenceRecord;
use demail_sim::trace::EventKind;

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Dms>(Shape {
    name: "dms",
    keys: &[],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Observation,
});

/// No keys; the scenario needs a `[dms]` section.
#[derive(Clone, Debug)]
pub struct Dms;

impl Kind for Dms {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        if !cx.known.has_dms {
            return Err(cx.at_kind("an expectation of kind \"dms\" needs a [dms] section".into()));
        }
        Ok(Self)
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let case = cx.intake_case(send)?;
        let dms = cx.obs.dms?;
        let doc = dms
            .documents()
            .into_iter()
            .find(|d| d["aktenzeichen"] == case.aktenzeichen.as_str())?;
        let record: Result<EvidenceRecord, _> = serde_json::from_value(doc.clone());
        let stored = cx.in_intake_mailbox(send).map(|s| s.raw);
        let confirmations = doc["confirmations"].as_array().map_or(0, Vec::len);
        let mut attempts = 0;
        cx.trace.for_each_of(&[INTAKE_DMS], |e| {
            if matches!(&e.kind, EventKind::IntakeDms { aktenzeichen, .. } if *aktenzeichen == case.aktenzeichen)
            {
                attempts += 1;
            }
        });
        let verdict = if let Err(e) = record
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|r| r.verify())
        {
            Err(format!("the evidence record does not hold together: {e}"))
        } else if stored.as_ref().is_some_and(|s| {
            let received = record
                .as_ref()
                .ok()
                .and_then(|r| r.raw().ok())
                .unwrap_or_default();
            without_trailing_empty_lines(s) != without_trailing_empty_lines(&received)
        }) {
            Err("the record's message differs from the one in the intake's mailbox".into())
        } else if doc["integrity"].as_str().is_none_or(str::is_empty) {
            Err("the record lacks the provider's X-de-mail-integrity value".into())
        } else {
            Ok(())
        };
        Some(match verdict {
            // The hash itself stays out of the trace: the seal is an ECDSA signature by a key
            // generated per run, so the bytes differ from run to run.
            Ok(()) => Verdict::pass(format!(
                "{} is in the DMS with its evidence record (SHA-256 matches the message in the mailbox, seal kept, {confirmations} confirmation(s)) after {attempts} hand-over attempt(s)",
                case.aktenzeichen
            )),
            Err(why) => Verdict::fail(format!("{}: {why}", case.aktenzeichen)),
        })
    }

    /// The hand-overs the intake reported for the case (`intake.dms`), when the DMS holds
    /// no record of it.
    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        let case = cx.intake_case(send)?;
        let mut attempts: Vec<(String, String)> = Vec::new();
        cx.trace.for_each_of(&[INTAKE_DMS], |e| {
            if let EventKind::IntakeDms {
                aktenzeichen,
                outcome,
                detail,
            } = &e.kind
                && *aktenzeichen == case.aktenzeichen
            {
                attempts.push((outcome.clone(), detail.clone()));
            }
        });
        Some(match attempts.last() {
            None => format!(
                "the intake reported no hand-over of {} to the DMS (no intake.dms)",
                case.aktenzeichen
            ),
            Some((outcome, detail)) => format!(
                "the DMS holds no record of {} after {} hand-over attempt(s), the last: {outcome}: {detail}",
                case.aktenzeichen,
                attempts.len()
            ),
        })
    }
}

/// The message up to trailing empty lines: the push client (lettre) ends DATA with an extra
/// CRLF, and the seal's simple body canonicalization ignores them (RFC 6376 §3.4.3), so they
/// carry no meaning.
fn without_trailing_empty_lines(b: &[u8]) -> Vec<u8> {
    let mut b = b.to_vec();
    while b.ends_with(b"\r\n\r\n") {
        b.truncate(b.len() - 2);
    }
    b
}
