//! `notification`: the provider sends the sender a Meldungsnachricht of a type of PVD-IO
//! Tabelle 22 about the step's message within `within`, private-id copied, signed, with XML
//! and PDF parts.

use demail_sim::demail::MessageType;
use demail_sim::demail::notification::{NOTIFICATION_TYPES, NotificationType};
use jiff::Span;

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Notification>(Shape {
    name: "notification",
    keys: &["notification_type", "within"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Keys `notification_type` and `within`.
#[derive(Clone, Debug)]
pub struct Notification {
    notification_type: NotificationType,
    within: Span,
}

impl Kind for Notification {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let t = cx.need(&cx.spec.notification_type, "notification_type")?;
        let Some(notification_type) = NotificationType::ALL
            .into_iter()
            .find(|n| n.as_str() == t.get_ref())
        else {
            return Err(Located::new(
                t.span(),
                format!(
                    "notification_type {:?} is not one of PVD-IO Tabelle 22: {}",
                    t.get_ref(),
                    NOTIFICATION_TYPES.join(", ")
                ),
            ));
        };
        let within = cx.need(&cx.spec.within, "within")?;
        Ok(Self {
            notification_type,
            within: cx.duration(&within, "within")?,
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        let wanted = self.notification_type.as_str();
        cx.system_message(
            send,
            (MessageType::Notification, "Meldung"),
            self.within,
            |m| {
                let raw = demail_sim::demail::headers::RawMessage::parse(&m.raw)
                    .map_err(|e| e.to_string())?;
                match raw.first(demail_sim::demail::h::NOTIFICATION_TYPE) {
                    Some(t) if t == wanted => Ok(()),
                    other => Err(format!(
                        "x-de-mail-notification-type is {other:?}, expected {wanted:?}"
                    )),
                }
            },
        )
    }

    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        cx.ends_before(send, "Meldung", self.within)
    }
}
