//! Logins of account holders and what a login at level high triggers: the Abholbestätigung
//! (confirmation of retrieval).
//!
//! PVD-FU §7.1 (Funktion 1): at the first login at level "hoch" after a message was laid into
//! the mailbox, the recipient's Postfachdienst creates an Abholbestätigung for every message
//! that asked for one (`X-de-mail-confirmation-of-retrieve: yes`) and has none yet, except
//! auto-forwarded ones. It goes to the sender (or Reply-To) with a copy to the recipient,
//! from the system address `Abholbestaetigung@<domain>`, copies the private-id, and states
//! the Eingang (DeliveryTime) and the time of the login (PVD-IO §3.4–3.5). A login at level
//! "normal" triggers nothing: such a session cannot even open these messages (PVD-FU §3.1.2.3).
//!
//! Simulated citizens log in through [`super::Provider::login`] (the citizen is part of the
//! simulated world; the intake never uses this); a local message client logs in over the
//! POP3 face ([`super::pop3`]), which calls [`login`] at level high as well.
//!
//! A closed account (a programmed `account-closed` citizen after its first submission,
//! docs/scenarios.md "Programmed citizens") cannot log in: 525 5.7.13 (RFC 5248 "User Account
//! Disabled").
//!
//! [`needs_level_high`] is the one place that decides which messages a session at level
//! "normal" must not access (PVD-FU §3.1.2.3); the POP3 face hides them and deletion
//! ([`super::delete`]) refuses them at level normal.

use demail_core::clock::{format_instant, format_rfc5322};
use demail_wire::acknowledge::AckKind;
use demail_wire::confirmation::ConfirmationFacts;
use demail_wire::headers::RawMessage;
use demail_wire::{AuthLevel, DeMailOption, MessageType, h, normalize_address};

use super::accept::{Refusal, Work, issue_confirmation, storage_refusal};
use super::{Shared, lock};

/// Whether a message can be accessed (read, deleted) only by a login at level high:
/// PVD-FU §3.1.2.3 for messages with the option "persönlich" (`X-de-mail-private: yes`) or
/// "Abholbestätigung" (`X-de-mail-confirmation-of-retrieve: yes`), and an Abholbestätigung
/// itself, which carries "persönlich" (PVD-FU §3.3.5, §3.1.3.9). A stored message whose
/// header block cannot be read counts as one that needs level high (fail closed).
pub(crate) fn needs_level_high(message_type: MessageType, raw: &[u8]) -> bool {
    if message_type == MessageType::ConfirmationOfRetrieve {
        return true;
    }
    let Ok(raw) = RawMessage::parse(raw) else {
        return true;
    };
    [DeMailOption::Private, DeMailOption::ConfirmationOfRetrieve]
        .iter()
        .any(|o| raw.first(o.header()).as_deref() == Some("yes"))
}

/// Logs `address` in at `level`; returns the X-de-mail-message-ids of the Abholbestätigungen
/// this login issued.
pub(crate) fn login(
    shared: &Shared,
    address: &str,
    level: AuthLevel,
) -> Result<Vec<String>, Refusal> {
    let address = normalize_address(address);
    let account = super::lock(&shared.store)
        .account(&address)
        .ok_or_else(|| Refusal::new(535, "5.7.8", &format!("no account {address}")))?;
    // A closed account ("vollständig gesperrt", PVD-FU Schritt 43) cannot log in at all.
    if super::lock(&shared.store)
        .closed_at(&address)
        .map_err(super::accept::storage_refusal)?
        .is_some()
    {
        return Err(super::accept::closed_refusal(525, &address));
    }
    if level > account.config.max_auth_level {
        return Err(Refusal::new(
            535,
            "5.7.8",
            &format!(
                "{address} cannot log in at level {level}; its highest level is {}",
                account.config.max_auth_level
            ),
        ));
    }
    if level != AuthLevel::High {
        return Ok(Vec::new());
    }
    let mut work = Work::begin(shared)?;
    let result = issue_retrievals(&mut work, &address);
    work.finish(result)
}

fn issue_retrievals(work: &mut Work<'_>, address: &str) -> Result<Vec<String>, Refusal> {
    let shared = work.shared;
    let mailbox = work.store.mailbox(address).map_err(storage_refusal)?;
    let already: Vec<Option<String>> = mailbox
        .iter()
        .filter(|m| m.message_type == MessageType::ConfirmationOfRetrieve)
        .map(|m| m.in_reply_to.clone())
        .collect();
    let now = shared.clock.now();
    let mut issued = Vec::new();
    for m in &mailbox {
        if m.message_type != MessageType::Normal || already.contains(&m.rfc_message_id) {
            continue;
        }
        let Ok(mut raw) = RawMessage::parse(&m.raw) else {
            continue;
        };
        if raw
            .first(DeMailOption::ConfirmationOfRetrieve.header())
            .as_deref()
            != Some("yes")
        {
            continue;
        }
        // Auto-forwarded messages get none (PVD-FU §7.1).
        if raw.first("resent-from").is_some() {
            continue;
        }
        // A planned fault may withhold it for good (docs/faults.md, face "retrieval").
        if lock(&shared.withheld).contains(&m.message_id) {
            continue;
        }
        if let Some(hit) = shared.fault(
            crate::fault::Face::Retrieval,
            None,
            Some(address),
            &m.message_id,
        ) && hit.action == crate::fault::Action::Withhold
        {
            lock(&shared.withheld).insert(m.message_id.clone());
            continue;
        }
        // The stored copy carries Envelope-to above the sealed part; the confirmation's
        // Metadata reproduce the message as sealed.
        raw.remove_all(h::ENVELOPE_TO);
        let reply_to = raw.first("reply-to").map(|r| normalize_address(&r));
        let facts = ConfirmationFacts {
            provider_domain: shared.config.domain.clone(),
            provider_name: shared.config.name.clone(),
            message_id: work.next_id()?,
            date: format_rfc5322(&now),
            time: format_instant(&now),
            delivery_time: Some(format_instant(
                &m.stored_at.to_zoned_datetime(now.time_zone().clone()),
            )),
            original_sender: reply_to.unwrap_or_else(|| m.from.clone()),
            original_recipient: address.to_string(),
            original_subject: m.subject.clone(),
            original_rfc_message_id: m.rfc_message_id.clone(),
        };
        issue_confirmation(
            work,
            AckKind::Retrieve,
            &facts,
            &raw,
            &m.message_id,
            &m.private_id,
        )?;
        issued.push(facts.message_id);
    }
    Ok(issued)
}
