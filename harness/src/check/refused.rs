//! `refused`: the provider refuses the step's message with this SMTP code and enhanced status.

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Refused>(Shape {
    name: "refused",
    keys: &["code", "enhanced"],
    about: About::Message,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Keys `code` (e.g. 550) and `enhanced` (e.g. "5.7.1").
#[derive(Clone, Debug)]
pub struct Refused {
    code: u16,
    enhanced: String,
}

impl Kind for Refused {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        Ok(Self {
            code: cx.need(&cx.spec.code, "code")?.into_inner(),
            enhanced: cx.need(&cx.spec.enhanced, "enhanced")?.into_inner(),
        })
    }

    fn observe(&mut self, _cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let (code, enhanced) = (self.code, &self.enhanced);
        Some(match &send.refused {
            Some(r) if r.code == code && r.enhanced == enhanced.as_str() => {
                Verdict::pass(format!("refused as expected: {}", r.text))
            }
            Some(r) => Verdict::fail(format!(
                "expected a refusal {code} {enhanced}, got: {}",
                r.text
            )),
            None => Verdict::fail(format!(
                "expected a refusal {code} {enhanced}, but the provider accepted the message"
            )),
        })
    }
}
