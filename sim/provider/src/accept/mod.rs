//! What the provider does with a submitted message after DATA.
//!
//! 1. Read the header block (PVD-IO §3.1: names case-insensitive, first occurrence wins).
//! 2. Judge it: From must be the logged-in account, Subject present (PVD-IO Tabelle 1 Nr. 8
//!    and 25), option values "yes"/"no" (§3.1.2–3.1.6), absenderbestätigt and persönlich only
//!    at level high (PVD-FU §3.3).
//! 3. Set the provider's metadata (Tabelle 1) with the virtual time as `Date`.
//! 4. Lay a copy into every recipient's mailbox (the Eingang) with `Envelope-to`
//!    (§3.1.22) and the provider's `Received` stamp of the acceptance (RFC 5321 §4.4,
//!    [`Arrival`]; the same virtual instant as `Date` and the Eingang); push it to the
//!    recipient's intake if the account has one. A copy for another provider's mailbox carries
//!    the stamp too, and the receiving provider prepends its own (`relayed.rs`).
//! 5. Seal every copy (X-de-mail-integrity, sha256 + ec-dsa, PVD-IO §3.1.21) and issue the
//!    Eingangsbestätigung when asked (PVD-FU §3.3: to the sender, copy to the recipient;
//!    multipart text + XML + PDF, signed, PVD-IO §3.4–3.5).
//!
//! A refusal is returned as an SMTP answer ([`Refusal`]); nothing is stored then.

use demail_core::clock::format_rfc5322;
use demail_core::trace::EventKind;
use demail_wire::acknowledge::AckKind;
use demail_wire::confirmation::ConfirmationFacts;
use demail_wire::headers::{self, AT_MOST_ONCE, Field, RawMessage};
use demail_wire::integrity::{self, HashAlg};
use demail_wire::notification::{NotificationFacts, Undeliverable};
use demail_wire::received;
use demail_wire::table1;
use demail_wire::{
    AuthLevel, DeMailOption, MessageType, TR_VERSION, h, normalize_address, parse_option,
};

use super::fault::SealFault;
use super::smtp::Login;
use super::store::StoredMessage;
use super::{AccountKind, Shared, delivery, lock};

/// PVD-FU §3.1.1.1: messages a day at level normal.
pub const MAX_MESSAGES_NORMAL: u32 = 100;
/// PVD-FU §3.1.1.1: recipients a day, over all messages, at level normal.
pub const MAX_RECIPIENTS_NORMAL: u32 = 300;

/// The one refusal type of the world (`demail_core::Refusal`).
pub use demail_core::Refusal;

/// A message as it came in over SMTP.
pub(crate) struct Submission<'a> {
    pub login: &'a Login,
    pub arrival: &'a Arrival,
    pub recipients: &'a [String],
    pub data: &'a [u8],
}

/// How a message came in over one of the provider's SMTP faces: what its `Received` stamp
/// says (RFC 5321 §4.4; protocol keyword RFC 3848).
pub(crate) struct Arrival {
    /// The client's EHLO/HELO name as given (written only if it is a domain or an address
    /// literal, `demail_wire::received`).
    pub helo: Option<String>,
    pub peer: Option<std::net::IpAddr>,
    pub protocol: received::Protocol,
}

impl Arrival {
    /// The `Received` field for the copy of `message_id` laid down for `rcpt` at `date` (the
    /// virtual instant of the acceptance, RFC 5322 date-time), `by` this provider's SMTP host.
    /// Prepended above every field a client wrote, so a client's forged `Received` always
    /// stays below it (RFC 5321 §4.4: trace fields are prepended, never changed). Not sealed:
    /// `Received` is not in the seal's `h=` list (PVD-IO §3.1.21).
    pub(crate) fn received(
        &self,
        shared: &Shared,
        message_id: &str,
        rcpt: &str,
        date: &str,
    ) -> Field {
        // The host the SMTP faces greet with (smtp/session.rs), as X-de-mail-originator-provider.
        let host = format!("smtp.{}", shared.config.domain);
        received::Stamp {
            helo: self.helo.as_deref(),
            peer: self.peer,
            by: &host,
            protocol: self.protocol,
            id: message_id,
            recipient: Some(rcpt),
            date,
        }
        .field()
    }

    /// The copy of `msg` laid down for `rcpt`: `Envelope-to` (PVD-IO §3.1.22), then this
    /// provider's `Received`, above every older trace field (the order of a final delivery's
    /// Return-Path and Received, RFC 5321 §4.4).
    pub(crate) fn copy_for(
        &self,
        shared: &Shared,
        msg: &RawMessage,
        message_id: &str,
        rcpt: &str,
        date: &str,
    ) -> RawMessage {
        let mut copy = msg.clone();
        copy.prepend(vec![
            Field::new("Envelope-to", rcpt),
            self.received(shared, message_id, rcpt, date),
        ]);
        copy
    }
}

/// Reads a message as it came in over SMTP (a submission or a hand-over from a peer), refusing
/// bytes that a reader could take in two ways: a NUL anywhere (no BINARYMIME is offered;
/// RFC 2045 §2.8 and RFC 6152 forbid NUL in 8bit data) and undeclared 8-bit bytes in the
/// header block (only 8BITMIME is offered, which covers the body; RFC 6532 headers need
/// SMTPUTF8, which this provider does not offer). The bytes are never rewritten: what the
/// provider stores is what it was given plus its own fields.
fn read_submitted(data: &[u8]) -> Result<RawMessage, Refusal> {
    if let Some(at) = data.iter().position(|&b| b == 0) {
        let line = data[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(Refusal::new(
            554,
            "5.6.0",
            &format!(
                "NUL byte in line {line} of the message; NUL is not allowed in mail (RFC 5321 §4.1.4, RFC 6152)"
            ),
        ));
    }
    if let Some(at) = headers::header_block(data).iter().position(|&b| b >= 0x80) {
        let line = data[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(Refusal::new(
            554,
            "5.6.0",
            &format!(
                "8-bit byte 0x{:02X} in header line {line}; header fields must be ASCII with RFC 2047 encoded words (SMTPUTF8 is not offered)",
                data[at]
            ),
        ));
    }
    RawMessage::parse(data)
        .map_err(|e| Refusal::new(554, "5.6.0", &format!("Message header unreadable: {e}")))
}

/// The `X-de-mail-*` fields of PVD-IO Tabelle 1 that the sender writes: the options
/// (Nr. 1–5) and the private-id (Nr. 9); the sender's other fields (From, Subject, Reply-To,
/// Message-ID) are in [`AT_MOST_ONCE`].
static SENDER_DEMAIL_FIELDS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| {
        table1::TABLE_1
            .iter()
            .filter(|r| r.origin != table1::Origin::Provider && r.name.starts_with("x-de-mail-"))
            .map(|r| r.name)
            .collect()
    });

/// The origin fields of a submission: every field RFC 5322 §3.6 allows once occurs at most
/// once (the TR reads the first occurrence, other readers the last: a second From would let a
/// citizen make a message look as if another account sent it); From names exactly one
/// mailbox, the logged-in account (PVD-IO Tabelle 1 Nr. 25); a Sender field, if any, names
/// the same account.
fn check_origin(msg: &RawMessage, account: &str) -> Result<(), Refusal> {
    if let Some((name, n)) = msg.repeated(&AT_MOST_ONCE) {
        return Err(Refusal::new(
            550,
            "5.7.1",
            &format!("Header field {name} occurs {n} times; RFC 5322 §3.6 allows it once"),
        ));
    }
    // The De-Mail fields the sender writes (PVD-IO Tabelle 1: the options Nr. 1–5 and the
    // private-id Nr. 9) carry one value each; with two, the seal would cover one of them and a
    // reader might take the other, or the provider would have to choose an option silently.
    if let Some((name, n)) = msg.repeated(SENDER_DEMAIL_FIELDS.as_slice()) {
        return Err(Refusal::new(
            550,
            "5.7.1",
            &format!("Header field {name} occurs {n} times; PVD-IO Tabelle 1 gives it one value"),
        ));
    }
    let from = msg.addresses("from");
    match from.as_slice() {
        [] => Err(Refusal::new(
            554,
            "5.6.0",
            "Missing or unreadable From header (PVD-IO Tabelle 1 Nr. 25)",
        )),
        [one] if one == account => Ok(()),
        [one] => Err(Refusal::new(
            550,
            "5.7.1",
            &format!("From <{one}> is not the logged-in account <{account}>"),
        )),
        more => Err(Refusal::new(
            550,
            "5.7.1",
            &format!(
                "From names {} mailboxes; a De-Mail has exactly one sender, the logged-in account <{account}> (PVD-IO Tabelle 1 Nr. 25)",
                more.len()
            ),
        )),
    }?;
    if msg.first_field("sender").is_some() {
        let sender = msg.addresses("sender");
        if sender.as_slice() != [account.to_string()] {
            return Err(Refusal::new(
                550,
                "5.7.1",
                &format!(
                    "Sender field {:?} is not the logged-in account <{account}>",
                    msg.first("sender").unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// Judges and processes a submission; returns the X-de-mail-message-id on success.
pub(crate) fn accept(shared: &Shared, sub: Submission<'_>) -> Result<String, Refusal> {
    let msg = read_submitted(sub.data)?;
    check_origin(&msg, &sub.login.address)?;
    // Subject (Tabelle 1 Nr. 8) is required on every De-Mail.
    let subject = msg.subject().ok_or_else(|| {
        Refusal::new(
            554,
            "5.6.0",
            "Missing Subject header (PVD-IO Tabelle 1 Nr. 8)",
        )
    })?;

    // Options: "yes"/"no", case-sensitive, missing = "no".
    let mut options = Vec::new();
    for o in DeMailOption::ALL {
        let set = parse_option(o.header(), msg.first(o.header()).as_deref())
            .map_err(|e| Refusal::new(554, "5.6.0", &e))?;
        if set {
            options.push(o);
        }
    }
    let (holder, kind, closes) = {
        let store = lock(&shared.store);
        let account = store
            .account(&sub.login.address)
            .ok_or_else(|| Refusal::new(451, "4.3.0", "Account vanished during the session"))?;
        // A session opened before the account was closed cannot send after it.
        if store
            .closed_at(&sub.login.address)
            .map_err(storage_refusal)?
            .is_some()
        {
            return Err(closed_refusal(550, &sub.login.address));
        }
        (
            account.config.holder,
            account.config.kind,
            account.config.closes_after_first_submission,
        )
    };
    for o in &options {
        let needs_high = matches!(
            o,
            DeMailOption::Authoritative
                | DeMailOption::Private
                | DeMailOption::ConfirmationOfRetrieve
        );
        if needs_high && sub.login.level != AuthLevel::High {
            return Err(Refusal::new(
                550,
                "5.7.1",
                &format!(
                    "Option {} needs a login at level high, this session is at level {} (PVD-FU §3.3)",
                    o.name(),
                    sub.login.level
                ),
            ));
        }
    }
    // PVD-FU §3.3: absenderbestätigt is not allowed from a pseudonymous address.
    if options.contains(&DeMailOption::Authoritative)
        && sub
            .login
            .address
            .split('@')
            .next()
            .is_some_and(|l| l.starts_with("pn_"))
    {
        return Err(Refusal::new(
            550,
            "5.7.1",
            "Option authoritative (absenderbestätigt) is not allowed from a pseudonymous address (PVD-FU §3.3)",
        ));
    }
    if options.contains(&DeMailOption::ConfirmationOfRetrieve) && kind != AccountKind::Institution {
        return Err(Refusal::new(
            550,
            "5.7.1",
            "Abholbestätigung may be requested only by public bodies entitled to formal service (PVD-FU §3.3, ACM-FU)",
        ));
    }

    // Everything this submission causes is written in one transaction; the 250 goes out only
    // after it committed (store.rs: a 250 is durable).
    let mut work = Work::begin(shared)?;
    // PVD-FU §3.1.1.1: at level normal at most 100 messages a day with 300 recipients in all
    // (a day of the provider's legal time zone).
    if sub.login.level == AuthLevel::Normal {
        let day = shared.clock.now().date().to_string();
        let (messages, recipients) = work
            .store
            .sent_on(&sub.login.address, &day)
            .map_err(storage_refusal)?;
        let more = sub.recipients.len() as u32;
        if messages >= MAX_MESSAGES_NORMAL || recipients + more > MAX_RECIPIENTS_NORMAL {
            work.store.rollback();
            return Err(Refusal::new(
                550,
                "5.7.1",
                &format!(
                    "Daily limit at level normal reached: {messages} messages and {recipients} recipients sent on {day}; at most {MAX_MESSAGES_NORMAL} messages with {MAX_RECIPIENTS_NORMAL} recipients in all (PVD-FU §3.1.1.1). Log in at level high to send more."
                ),
            ));
        }
        work.store
            .record_sent(&sub.login.address, &day, more)
            .map_err(storage_refusal)?;
    }
    let mut result = stamp_and_deliver(&mut work, &sub, msg, &options, &subject, &holder);
    if closes && result.is_ok() {
        result = close_after_submission(&mut work, &sub.login.address).and(result);
    }
    work.finish(result)
}

/// A programmed account closes once its holder's first submission is accepted, in the same
/// transaction (docs/scenarios.md, "Programmed citizens"); `provider.account_closed` says so.
fn close_after_submission(work: &mut Work<'_>, address: &str) -> Result<(), Refusal> {
    let now = work.shared.clock.timestamp();
    work.store
        .close_account(address, now)
        .map_err(storage_refusal)?;
    work.shared.trace.emit(EventKind::ProviderAccountClosed {
        provider: work.shared.config.id.clone(),
        address: address.to_string(),
        reason: "programmed: closed after the holder's first submission; every later message \
                 gets the Meldung \"Empfänger-De-Mail-Konto vollständig gesperrt\" \
                 (PVD-FU Schritt 43, PVD-IO Tabelle 22 closed-account)"
            .to_string(),
    });
    Ok(())
}

/// Metadata (Tabelle 1), sealing, deliverability, Eingang and confirmations for one accepted
/// submission; returns its X-de-mail-message-id.
fn stamp_and_deliver(
    work: &mut Work<'_>,
    sub: &Submission<'_>,
    mut msg: RawMessage,
    options: &[DeMailOption],
    subject: &str,
    holder: &str,
) -> Result<String, Refusal> {
    let shared = work.shared;
    // One instant for Date, Received, Eingang and confirmations (docs/headers.md).
    let now = shared.clock.now();
    let date = format_rfc5322(&now);
    let domain = shared.config.domain.clone();
    let message_id = work.next_id()?;
    let to_header: Vec<String> = msg.addresses("to");
    let cc_header: Vec<String> = msg.addresses("cc");
    let chosen = chosen_recipient(&to_header, &cc_header);
    let rfc_message_id = msg
        .first("message-id")
        .unwrap_or_else(|| format!("<{message_id}>"));
    let private_id = msg.first(h::PRIVATE_ID);
    let in_reply_to = msg.first("in-reply-to");
    let reply_to = msg.addresses("reply-to").into_iter().next();
    stamp_metadata(
        &mut msg,
        &Stamp {
            date: &date,
            rfc_message_id: &rfc_message_id,
            options,
            login: sub.login,
            chosen: &chosen,
            domain: &domain,
            message_id: &message_id,
            holder,
        },
    );

    let eml = work.keep_copy(sub.data);
    shared.trace.emit(EventKind::ProviderAccepted {
        provider: shared.config.id.clone(),
        message_id: message_id.clone(),
        from: sub.login.address.clone(),
        to: sub.recipients.to_vec(),
        auth_level: sub.login.level.as_str().to_string(),
        options: options.iter().map(|o| o.name().to_string()).collect(),
        eml,
    });
    let unknown = msg.unknown_demail_fields();
    if !unknown.is_empty() {
        shared.trace.emit(EventKind::ProviderWarning {
            provider: shared.config.id.clone(),
            message_id: message_id.clone(),
            warning: format!(
                "unknown header(s) {} kept unchanged; PVD-IO Tabelle 1 does not define them (a misspelt De-Mail header?)",
                unknown.join(", ")
            ),
        });
    }

    // A fault armed for this sender is spent by this submission (`crate::fault`).
    let armed = lock(&shared.seal_faults).remove(&normalize_address(&sub.login.address));
    let planned = || match shared.fault(
        crate::fault::Face::Seal,
        None,
        Some(&sub.login.address),
        &message_id,
    ) {
        Some(crate::fault::Hit {
            action: crate::fault::Action::Seal(f),
            ..
        }) => Some(f),
        _ => None,
    };
    let seal_fault = match armed {
        Some(f) => {
            shared.trace.emit(EventKind::FaultInjected {
                face: format!("provider:{} seal", shared.config.id),
                fault: f.as_str().to_string(),
                message_id: message_id.clone(),
                detail: f.detail().to_string(),
            });
            Some(f)
        }
        None => planned(),
    };
    let signer = match seal_fault {
        Some(SealFault::Foreign) => shared
            .foreign_signer
            .get(&domain)
            .map_err(|e| Refusal::new(451, "4.3.0", &format!("cannot seal the message: {e}")))?,
        _ => &shared.signer,
    };
    for rcpt in sub.recipients {
        let mut sealed = sealed_copy(&msg, rcpt, &to_header, &cc_header, &chosen, signer)?;
        if seal_fault == Some(SealFault::Broken) {
            crate::fault::break_seal(&mut sealed);
        }
        let facts = |work: &mut Work<'_>| -> Result<ConfirmationFacts, Refusal> {
            Ok(ConfirmationFacts {
                provider_domain: domain.clone(),
                provider_name: shared.config.name.clone(),
                message_id: work.next_id()?,
                date: date.clone(),
                time: demail_core::clock::format_instant(&now),
                delivery_time: None,
                original_sender: sub.login.address.clone(),
                original_recipient: rcpt.clone(),
                original_subject: subject.to_string(),
                original_rfc_message_id: Some(rfc_message_id.clone()),
            })
        };
        // The sender's Versanddienst confirms the dispatch when it hands the copy over, before
        // the recipient's side checks deliverability (PVD-FU §3.3).
        if options.contains(&DeMailOption::ConfirmationOfDispatch) {
            let f = facts(work)?;
            issue_confirmation(
                work,
                AckKind::Dispatch,
                &f,
                &sealed,
                &message_id,
                &private_id,
            )?;
        }
        // PVD-FU Schritt 42: "persönlich" and Abholbestätigung need a recipient who can log in
        // at level high; otherwise the message is not laid down and the sender (or its
        // Reply-To) gets a Meldung (Schritt 45).
        let foreign = !shared.hosts(rcpt);
        let reason = undeliverable(work, rcpt, options, foreign)?;
        if let Some(reason) = reason {
            let f = NotificationFacts {
                provider_domain: domain.clone(),
                provider_name: shared.config.name.clone(),
                message_id: work.next_id()?,
                date: date.clone(),
                time: demail_core::clock::format_instant(&now),
                to: reply_to
                    .clone()
                    .unwrap_or_else(|| sub.login.address.clone()),
                recipient: rcpt.clone(),
                reason,
                original_subject: subject.to_string(),
                original_message_id: message_id.clone(),
                original_rfc_message_id: Some(rfc_message_id.clone()),
                original_private_id: private_id.clone(),
            };
            issue_notification(work, &f, &sub.login.address)?;
            continue;
        }
        let copy = sub
            .arrival
            .copy_for(shared, &sealed, &message_id, rcpt, &date);
        work.deposit(
            StoredMessage {
                mailbox: rcpt.clone(),
                message_id: message_id.clone(),
                rfc_message_id: Some(rfc_message_id.clone()),
                in_reply_to: in_reply_to.clone(),
                message_type: MessageType::Normal,
                from: sub.login.address.clone(),
                subject: subject.to_string(),
                private_id: private_id.clone(),
                stored_at: now.timestamp(),
                raw: copy.to_bytes(),
            },
            &sub.login.address,
        )?;
        // The recipient's Postfachdienst confirms the Eingang once the copy is stored (PVD-FU
        // §3.3); for a foreign recipient that is the other provider.
        if options.contains(&DeMailOption::ConfirmationOfReceipt) && !foreign {
            let f = facts(work)?;
            issue_confirmation(
                work,
                AckKind::Receipt,
                &f,
                &sealed,
                &message_id,
                &private_id,
            )?;
        }
    }
    Ok(message_id)
}

/// The copy for `rcpt`, sealed (PVD-IO §3.1.21: hash and signature per copy, right before
/// hand-over; Envelope-to is set on receipt, §3.1.22, and is not covered). PVD-IO §3.1.8: a
/// Bcc recipient's copy names only that recipient in bcc=; the other copies name no Bcc.
fn sealed_copy(
    msg: &RawMessage,
    rcpt: &String,
    to: &[String],
    cc: &[String],
    chosen: &str,
    signer: &integrity::Signer,
) -> Result<RawMessage, Refusal> {
    let mut sealed = msg.clone();
    if !to.contains(rcpt) && !cc.contains(rcpt) {
        let with_bcc = if chosen.is_empty() {
            format!("bcc={rcpt}")
        } else {
            format!("{chosen};bcc={rcpt}")
        };
        sealed.set_first(h::CHOSEN_RECIPIENT, &with_bcc);
        sealed.set_first(h::ACTUAL_RECIPIENT, &with_bcc);
    }
    integrity::seal(&mut sealed, HashAlg::Sha256, Some(signer))
        .map_err(|e| Refusal::new(451, "4.3.0", &format!("cannot seal the message: {e}")))?;
    Ok(sealed)
}

/// PVD-FU Schritt 42: why the message cannot be laid into `rcpt`'s mailbox, if it cannot:
/// unknown here, or "persönlich"/Abholbestätigung to a recipient who cannot log in at level
/// high. A foreign recipient's provider checks that itself.
fn undeliverable(
    work: &Work<'_>,
    rcpt: &str,
    options: &[DeMailOption],
    foreign: bool,
) -> Result<Option<Undeliverable>, Refusal> {
    if foreign {
        return Ok(None);
    }
    let needs_high = options.contains(&DeMailOption::Private)
        || options.contains(&DeMailOption::ConfirmationOfRetrieve);
    recipient_check(&work.store, rcpt, needs_high)
}

/// The recipient side's check of PVD-FU Schritt 42/43 for a message to `rcpt` at this
/// provider (a submission or a hand-over), with its result in the TR's words: unknown here
/// ("Empfänger unbekannt"), the account closed ("Empfänger-De-Mail-Konto vollständig
/// gesperrt", type `closed-account` of PVD-IO Tabelle 22; a programmed account closes after
/// its holder's first submission, [`crate::AccountConfig::closes_after_first_submission`]),
/// or "persönlich"/Abholbestätigung (`needs_high`) to a recipient who cannot log in at level
/// high. `None`: it can be laid down.
pub(crate) fn recipient_check(
    store: &crate::store::Store,
    rcpt: &str,
    needs_high: bool,
) -> Result<Option<Undeliverable>, Refusal> {
    let Some(account) = store.account(rcpt) else {
        return Ok(Some(Undeliverable::UnknownRecipient));
    };
    if store.closed_at(rcpt).map_err(storage_refusal)?.is_some() {
        return Ok(Some(Undeliverable::AccountClosed));
    }
    if account.config.max_auth_level == AuthLevel::Normal && needs_high {
        return Ok(Some(Undeliverable::CannotReadPrivate));
    }
    Ok(None)
}

/// The refusal for a holder of a closed account ("vollständig gesperrt", PVD-FU Schritt 43)
/// who tries to log in or submit: `code` 525 at AUTH/login, 550 for a message, with the
/// enhanced status 5.7.13 "User Account Disabled" (RFC 5248 registry, RFC 7372 §2; it is
/// meant for a correct login to a disabled account).
pub(crate) fn closed_refusal(code: u16, address: &str) -> Refusal {
    Refusal::new(
        code,
        "5.7.13",
        &format!(
            "The De-Mail account {address} is closed (vollständig gesperrt): it can neither log in nor send"
        ),
    )
}

/// The provider's metadata for one accepted submission (PVD-IO Tabelle 1).
struct Stamp<'a> {
    date: &'a str,
    rfc_message_id: &'a str,
    options: &'a [DeMailOption],
    login: &'a Login,
    chosen: &'a str,
    domain: &'a str,
    message_id: &'a str,
    holder: &'a str,
}

/// Removes every field only the provider may write (the `Provider` rows of Tabelle 1), the
/// client's option fields and Message-ID, and puts the provider's values at the top, in the
/// table's order; the options are written anew as "yes"/"no" (PVD-IO §3.1.2–3.1.6).
fn stamp_metadata(msg: &mut RawMessage, s: &Stamp<'_>) {
    for name in table1::provider_only() {
        msg.remove_all(name);
    }
    for o in DeMailOption::ALL {
        msg.remove_all(o.header());
    }
    msg.remove_all("message-id");
    // Metadata (Tabelle 1), in the table's order, at the top of the message.
    let mut stamp = vec![
        Field::new("Date", s.date),
        Field::new("Message-ID", s.rfc_message_id),
    ];
    for o in DeMailOption::ALL {
        let v = if s.options.contains(&o) { "yes" } else { "no" };
        stamp.push(Field::new(o.header(), v));
    }
    stamp.extend([
        Field::new(h::SENDER, &s.login.address),
        Field::new(h::CHOSEN_RECIPIENT, s.chosen),
        Field::new(h::AUTH_MECHANISM, s.login.mechanism),
        Field::new(h::AUTH_LEVEL, s.login.level.as_str()),
        Field::new(h::ORIGINATOR_PROVIDER, &format!("smtp.{}", s.domain)),
        Field::new(h::MESSAGE_TYPE, MessageType::Normal.as_str()),
        Field::new(h::VERSION, TR_VERSION),
        Field::new(h::MESSAGE_ID, s.message_id),
        Field::new(
            h::ACCOUNT_HOLDER,
            &demail_wire::compose::encode_unstructured(s.holder),
        ),
        Field::new(h::ACTUAL_RECIPIENT, s.chosen),
    ]);
    msg.prepend(stamp);
}

/// Builds `X-de-mail-chosen-recipient` (PVD-IO §3.1.8): `to=…;cc=…`, empty parts left out.
/// Bcc recipients are added per copy by the caller.
fn chosen_recipient(to: &[String], cc: &[String]) -> String {
    let mut parts = Vec::new();
    if !to.is_empty() {
        parts.push(format!("to={}", to.join(",")));
    }
    if !cc.is_empty() {
        parts.push(format!("cc={}", cc.join(",")));
    }
    parts.join(";")
}

mod issue;
mod relayed;
mod work;

pub(crate) use issue::{issue_confirmation, issue_notification};
pub(crate) use relayed::accept_relayed;
pub(crate) use work::{Work, storage_refusal};

#[cfg(test)]
mod tests {
    use super::*;

    /// to/cc come from the headers; empty parts are left out (PVD-IO §3.1.8).
    #[test]
    fn chosen_recipient_syntax() {
        let to = vec!["a@x".to_string()];
        let cc = vec!["b@x".to_string()];
        assert_eq!(chosen_recipient(&to, &cc), "to=a@x;cc=b@x");
        assert_eq!(chosen_recipient(&to, &[]), "to=a@x");
        assert_eq!(chosen_recipient(&[], &[]), "");
    }
}
