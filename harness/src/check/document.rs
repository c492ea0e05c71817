//! `document`: the intake's document in reply to the step's message (a Bescheid, found by
//! `subject_contains`) went out with the named De-Mail options set to "yes", e.g. "persönlich"
//! (`private`) and Abholbestätigung (`confirmation-of-retrieve`) for a förmliche Zustellung
//! (§ 5a Abs. 1 Satz 2 VwZG with § 5 Abs. 4, Abs. 9 De-Mail-G, Fassung 2025-01-20). The
//! options are read from the provider's own metadata of the copy in the citizen's mailbox
//! (PVD-IO §3.1.2–3.1.6: the provider writes every option field as "yes" or "no"), so a
//! system at level 1 can be judged.

use demail_sim::demail::DeMailOption;
use demail_sim::demail::headers::RawMessage;

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::{Located, quoted};
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Document>(Shape {
    name: "document",
    keys: &["subject_contains", "options"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Keys `subject_contains` (which reply is the document) and `options` (De-Mail option names
/// that must be "yes" on it).
#[derive(Clone, Debug)]
pub struct Document {
    subject_contains: String,
    options: Vec<DeMailOption>,
}

impl Kind for Document {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let subject = cx.need(&cx.spec.subject_contains, "subject_contains")?;
        let names = cx.need_as(&cx.spec.options, "options", " (a list of De-Mail options)")?;
        let mut options = Vec::new();
        for name in names.get_ref() {
            let Some(o) = DeMailOption::from_name(name) else {
                let known: Vec<&str> = DeMailOption::ALL.iter().map(|o| o.name()).collect();
                return Err(Located::new(
                    names.span(),
                    format!(
                        "unknown De-Mail option {name:?}; expected some of: {}",
                        quoted(&known)
                    ),
                ));
            };
            options.push(o);
        }
        if options.is_empty() {
            return Err(Located::new(
                names.span(),
                "options: name at least one De-Mail option",
            ));
        }
        Ok(Self {
            subject_contains: subject.into_inner(),
            options,
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let mailbox = cx.obs.world.mailbox(&send.from).ok()?;
        let doc = mailbox
            .iter()
            .find(|m| cx.is_reply(m, send) && m.subject.contains(&self.subject_contains))?;
        let raw = match RawMessage::parse(&doc.raw) {
            Ok(r) => r,
            Err(e) => {
                return Some(Verdict::fail(format!(
                    "{}: the document cannot be read: {e}",
                    doc.message_id
                )));
            }
        };
        let missing: Vec<&str> = self
            .options
            .iter()
            .filter(|o| raw.first(o.header()).as_deref() != Some("yes"))
            .map(|o| o.name())
            .collect();
        let wanted: Vec<&str> = self.options.iter().map(|o| o.name()).collect();
        Some(if missing.is_empty() {
            Verdict::pass(format!(
                "{} {:?} went out with {}",
                doc.message_id,
                doc.subject,
                wanted.join(", ")
            ))
        } else {
            Verdict::fail(format!(
                "{} {:?} went out without {} (needs {})",
                doc.message_id,
                doc.subject,
                missing.join(", "),
                wanted.join(", ")
            ))
        })
    }

    fn unmet(&self, _cx: &Cx<'_>, _send: &SendOutcome) -> Option<String> {
        Some(format!(
            "the intake sent no reply whose subject contains {:?}",
            self.subject_contains
        ))
    }
}
