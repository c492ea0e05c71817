//! Deleting messages from a mailbox, in two stages, with the TR's locks (PVD-FU §3.1.3.9 and
//! Funktion 13).
//!
//! Stage 1 moves a message into the Papierkorb (trash), stage 2 deletes it from there for good.
//! The rules decide at stage 1, by the level of the login that asks:
//! - a message marked "persönlich", an Abholbestätigung, and a message for which an
//!   Abholbestätigung was requested: only at level high (FC-01, FC-02, FC-03);
//! - a Versand- or Eingangsbestätigung, and a message for which one was issued: at level high,
//!   or at level normal once it is older than 90 days since its Eingang (FC-02, FC-03);
//! - anything else: at either level.
//!
//! Which messages are "level high only" is decided in one place for reading and deleting,
//! [`super::login::needs_level_high`].
//!
//! Simulated account holders call this through [`super::Provider::delete`] and
//! [`super::Provider::purge`]; the age is measured on the virtual clock.

use jiff::SignedDuration;

use super::Shared;
use super::accept::{Refusal, storage_refusal};
use demail_wire::headers::RawMessage;
use demail_wire::{AuthLevel, DeMailOption, MessageType};

/// The 90 days of PVD-FU §3.1.3.9.
pub const LOCK: SignedDuration = SignedDuration::from_hours(90 * 24);

/// Stage 1: moves `message_id` of `mailbox` into the Papierkorb if the rules allow it at
/// `level`.
pub(crate) fn trash(
    shared: &Shared,
    mailbox: &str,
    message_id: &str,
    level: AuthLevel,
) -> Result<(), Refusal> {
    let mut store = super::lock(&shared.store);
    let messages = store.mailbox(mailbox).map_err(storage_refusal)?;
    let Some(m) = messages.iter().find(|m| m.message_id == message_id) else {
        return Err(Refusal::new(
            550,
            "5.1.1",
            &format!("no message {message_id} in {mailbox}"),
        ));
    };
    let raw = RawMessage::parse(&m.raw).ok();
    let yes =
        |o: DeMailOption| raw.as_ref().and_then(|r| r.first(o.header())).as_deref() == Some("yes");
    let high_only = super::login::needs_level_high(m.message_type, &m.raw);
    let confirmed = matches!(
        m.message_type,
        MessageType::ConfirmationOfDispatch | MessageType::ConfirmationOfReceipt
    ) || yes(DeMailOption::ConfirmationOfDispatch)
        || yes(DeMailOption::ConfirmationOfReceipt);
    let now = shared.clock.timestamp();
    let age = now.duration_since(m.stored_at);
    if level != AuthLevel::High {
        if high_only {
            return Err(Refusal::new(
                550,
                "5.7.1",
                "this message (persönlich, Abholbestätigung, or Abholbestätigung requested) can be deleted only at level high (PVD-FU §3.1.3.9, Funktion 13 FC-01/FC-02)",
            ));
        }
        if confirmed && age < LOCK {
            return Err(Refusal::new(
                550,
                "5.7.1",
                &format!(
                    "a confirmed message or confirmation can be deleted at level normal only 90 days after its Eingang ({} days have passed; PVD-FU §3.1.3.9, Funktion 13 FC-02/FC-03)",
                    age.as_hours() / 24
                ),
            ));
        }
    }
    store
        .trash(mailbox, message_id, now)
        .map_err(storage_refusal)?;
    Ok(())
}

/// Stage 2: deletes a message from the Papierkorb for good.
pub(crate) fn purge(shared: &Shared, mailbox: &str, message_id: &str) -> Result<(), Refusal> {
    let mut store = super::lock(&shared.store);
    if store.purge(mailbox, message_id).map_err(storage_refusal)? {
        Ok(())
    } else {
        Err(Refusal::new(
            550,
            "5.1.1",
            &format!("{message_id} is not in the Papierkorb of {mailbox}; delete it first"),
        ))
    }
}
