//! `case`: the intake opened a case for the step's message in this procedure, binding or not
//! by its form rule (`intake.received`).

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::{Located, quoted};
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Case>(Shape {
    name: "case",
    keys: &["procedure", "binding"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Observation,
});

/// Keys `procedure` (an id of the intake configuration) and `binding`.
#[derive(Clone, Debug)]
pub struct Case {
    procedure: String,
    binding: bool,
}

fn binding_text(binding: bool) -> &'static str {
    if binding { "binding" } else { "not binding" }
}

impl Kind for Case {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let procedure = cx.need(&cx.spec.procedure, "procedure")?;
        if !cx.known.procedures.contains(&procedure.get_ref().as_str()) {
            return Err(Located::new(
                procedure.span(),
                format!(
                    "unknown procedure {:?}; the intake configuration has: {}",
                    procedure.get_ref(),
                    quoted(cx.known.procedures)
                ),
            ));
        }
        let binding = cx.need_as(&cx.spec.binding, "binding", " (true or false)")?;
        Ok(Self {
            procedure: procedure.into_inner(),
            binding: binding.into_inner(),
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let case = cx.intake_case(send)?;
        let detail = format!(
            "the intake opened {} as {} ({}): {}",
            case.aktenzeichen,
            case.procedure,
            binding_text(case.binding),
            case.reason
        );
        Some(
            if case.procedure == self.procedure && case.binding == self.binding {
                Verdict::pass(detail)
            } else {
                Verdict::fail(format!(
                    "expected procedure {} {}, but {detail}",
                    self.procedure,
                    binding_text(self.binding)
                ))
            },
        )
    }
}
