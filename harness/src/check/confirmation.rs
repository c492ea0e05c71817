//! `confirmation`: the provider lays an Eingangsbestätigung (receipt) or Versandbestätigung
//! (dispatch) for the step's message into the sender's mailbox within `within`; it copies the
//! sender's `X-de-mail-private-id`, is signed by the provider under the run's CA and carries
//! the XML and PDF parts (PVD-IO §3.1.9, §3.4–3.5).

use demail_sim::demail::MessageType;
use jiff::Span;

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Confirmation>(Shape {
    name: "confirmation",
    keys: &["confirmation", "within"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Keys `confirmation = "receipt" | "dispatch"` and `within`.
#[derive(Clone, Debug)]
pub struct Confirmation {
    which: Which,
    within: Span,
}

/// Which confirmation is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    /// Eingangsbestätigung: the message reached the recipient's mailbox.
    Receipt,
    /// Versandbestätigung: the sender's provider sent the message on.
    Dispatch,
}

impl Which {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "receipt" => Some(Self::Receipt),
            "dispatch" => Some(Self::Dispatch),
            _ => None,
        }
    }

    /// The message type of the confirmation and its German name for the detail.
    fn message(self) -> (MessageType, &'static str) {
        match self {
            Self::Receipt => (MessageType::ConfirmationOfReceipt, "Eingangsbestätigung"),
            Self::Dispatch => (MessageType::ConfirmationOfDispatch, "Versandbestätigung"),
        }
    }
}

impl Kind for Confirmation {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let confirmation = cx.need(&cx.spec.confirmation, "confirmation")?;
        let Some(which) = Which::from_name(confirmation.get_ref()) else {
            return Err(Located::new(
                confirmation.span(),
                format!(
                    "confirmation {:?} is not supported; expected \"receipt\" (Eingangsbestätigung) or \"dispatch\" (Versandbestätigung); for the Abholbestätigung use a `login` step and the `zustellung` expectation",
                    confirmation.get_ref()
                ),
            ));
        };
        let within = cx.need(&cx.spec.within, "within")?;
        Ok(Self {
            which,
            within: cx.duration(&within, "within")?,
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        cx.system_message(send, self.which.message(), self.within, |_| Ok(()))
    }

    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        cx.ends_before(send, self.which.message().1, self.within)
    }
}
