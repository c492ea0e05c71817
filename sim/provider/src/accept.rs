//! What the provider does with a submitted message after DATA.
//!
//! 1. Read the header block (PVD-IO §3.1: names case-insensitive, first occurrence wins).
//! 2. Judge it: From must be the logged-in account, Subject present (PVD-IO Tabelle 1 Nr. 8
//!    and 25), option values "yes"/"no" (§3.1.2–3.1.6), absenderbestätigt and persönlich only
//!    at level high (PVD-FU §3.3).
//! 3. Set the provider's metadata (Tabelle 1) with the virtual time as `Date`.
//! 4. Lay a copy into every recipient's mailbox (the Eingang) with `Envelope-to`
//!    (§3.1.22); push it to the recipient's intake if the account has one.
//! 5. Seal every copy (X-de-mail-integrity, sha256 + ec-dsa, PVD-IO §3.1.21) and issue the
//!    Eingangsbestätigung when asked (PVD-FU §3.3: to the sender, copy to the recipient;
//!    multipart text + XML + PDF, signed, PVD-IO §3.4–3.5).
//!
//! A refusal is returned as an SMTP answer ([`Refusal`]); nothing is stored then.

use demail_core::clock::format_rfc5322;
use demail_core::trace::EventKind;
use demail_wire::acknowledge::AckKind;
use demail_wire::confirmation::{self, ConfirmationFacts};
use demail_wire::headers::{AT_MOST_ONCE, Field, RawMessage};
use demail_wire::integrity::{self, HashAlg};
use demail_wire::notification::{self, NotificationFacts, Undeliverable};
use demail_wire::table1;
use demail_wire::{
    AuthLevel, DeMailOption, MessageType, TR_VERSION, h, normalize_address, parse_option,
};

use super::smtp::Login;
use super::store::StoredMessage;
use super::{AccountKind, Shared, delivery, lock};

/// PVD-FU §3.1.1.1: messages a day at level normal.
pub const MAX_MESSAGES_NORMAL: u32 = 100;
/// PVD-FU §3.1.1.1: recipients a day, over all messages, at level normal.
pub const MAX_RECIPIENTS_NORMAL: u32 = 300;

/// An SMTP refusal: reply code, enhanced status (RFC 3463) and a text a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub enhanced: &'static str,
    pub text: String,
}

impl Refusal {
    pub fn new(code: u16, enhanced: &'static str, text: &str) -> Self {
        Self {
            code,
            enhanced,
            text: text.to_string(),
        }
    }
}

/// A message as it came in over SMTP.
pub(crate) struct Submission<'a> {
    pub login: &'a Login,
    pub recipients: &'a [String],
    pub data: &'a [u8],
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
    let head_end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(data.len());
    if let Some(at) = data[..head_end].iter().position(|&b| b >= 0x80) {
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
    let (holder, kind) = {
        let account = lock(&shared.store)
            .account(&sub.login.address)
            .ok_or_else(|| Refusal::new(451, "4.3.0", "Account vanished during the session"))?;
        (account.config.holder, account.config.kind)
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
    let result = stamp_and_deliver(&mut work, &sub, msg, &options, &subject, &holder);
    work.finish(result)
}

/// The store inside one transaction (a submission, a login), and the pushes to start after
/// commit.
pub(crate) struct Work<'a> {
    pub shared: &'a Shared,
    pub store: std::sync::MutexGuard<'a, super::store::Store>,
    jobs: Vec<delivery::Job>,
    /// (mailbox, message id) laid down in this transaction, for webhooks after commit.
    stored: Vec<(String, String)>,
}

/// A transaction that is neither committed nor rolled back when its `Work` goes away (an early
/// return, a panic in a bug) is rolled back here; otherwise BEGIN IMMEDIATE would stay open and
/// every later transaction of the provider would fail until a restart.
impl Drop for Work<'_> {
    fn drop(&mut self) {
        self.store.rollback();
    }
}

pub(crate) fn storage_refusal(e: anyhow::Error) -> Refusal {
    tracing::error!("storage failure: {e:#}");
    Refusal::new(
        451,
        "4.3.0",
        "Temporary storage failure; nothing was stored, please try again",
    )
}

impl<'a> Work<'a> {
    /// Locks the store and opens a transaction.
    pub fn begin(shared: &'a Shared) -> Result<Self, Refusal> {
        let mut work = Work {
            shared,
            store: lock(&shared.store),
            jobs: Vec::new(),
            stored: Vec::new(),
        };
        work.store.begin().map_err(storage_refusal)?;
        Ok(work)
    }

    /// Commits when `result` is Ok (then starts the queued pushes), rolls back otherwise.
    pub fn finish<T>(mut self, result: Result<T, Refusal>) -> Result<T, Refusal> {
        let shared = self.shared;
        match result.and_then(|v| self.store.commit().map(|()| v).map_err(storage_refusal)) {
            Ok(v) => {
                let jobs = std::mem::take(&mut self.jobs);
                let stored = std::mem::take(&mut self.stored);
                // The webhook URLs are held in memory by the store: read them under the lock
                // already held (nothing at all when no mailbox has one), post after release.
                let hooks: Vec<(String, &str, &str)> = if self.store.has_webhooks() {
                    stored
                        .iter()
                        .filter_map(|(mailbox, message_id)| match self.store.webhook(mailbox) {
                            Ok(Some(url)) => Some((url, mailbox.as_str(), message_id.as_str())),
                            Ok(None) => None,
                            Err(e) => {
                                tracing::error!("webhook of {mailbox}: cannot read the URL: {e:#}");
                                None
                            }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                // Releases the store's lock (the transaction is committed: nothing to undo).
                drop(self);
                for (url, mailbox, message_id) in hooks {
                    super::gateway::notify_stored(&url, mailbox, message_id);
                }
                for job in jobs {
                    shared.activity.delivery_queued();
                    if !shared.deliveries.send(shared, job) {
                        // The worker is gone only when the provider shuts down; the push stays
                        // queued in the database for the next start.
                        shared.activity.delivery_done();
                    }
                }
                Ok(v)
            }
            Err(refusal) => {
                self.store.rollback();
                Err(refusal)
            }
        }
    }

    pub fn next_id(&mut self) -> Result<String, Refusal> {
        let domain = self.shared.config.domain.clone();
        self.store.next_message_id(&domain).map_err(storage_refusal)
    }

    /// Lays a message into its mailbox, records the Eingang, and queues a push if the mailbox
    /// belongs to an intake; a foreign mailbox's message is handed to its provider. Returns
    /// false when the mailbox already held this message id (it is not laid down again).
    pub fn deposit(
        &mut self,
        message: StoredMessage,
        envelope_from: &str,
    ) -> Result<bool, Refusal> {
        if !self.shared.hosts(&message.mailbox) {
            return self.relay(message, envelope_from).map(|()| true);
        }
        if !self.store.deposit(&message).map_err(storage_refusal)? {
            return Ok(false);
        }
        self.shared.trace.emit(EventKind::ProviderStored {
            provider: self.shared.config.id.clone(),
            mailbox: message.mailbox.clone(),
            message_id: message.message_id.clone(),
            message_type: message.message_type.as_str().to_string(),
        });
        self.stored
            .push((message.mailbox.clone(), message.message_id.clone()));
        if let Some(target) = self
            .store
            .account(&message.mailbox)
            .and_then(|a| a.push_target)
        {
            self.queue(target, envelope_from, message)?;
        }
        Ok(true)
    }

    /// Hands a message for a foreign domain to its provider (relay face, mutual TLS); without
    /// a route it cannot leave, which is a refusal the sender sees.
    fn relay(&mut self, mut message: StoredMessage, envelope_from: &str) -> Result<(), Refusal> {
        let Some(route) = self.shared.route(&message.mailbox) else {
            return Err(Refusal::new(
                550,
                "5.1.2",
                &format!("no route to the De-Mail domain of <{}>", message.mailbox),
            ));
        };
        // The receiving provider sets its own Envelope-to (PVD-IO §3.1.22).
        if let Ok(mut raw) = RawMessage::parse(&message.raw) {
            raw.remove_all(h::ENVELOPE_TO);
            message.raw = raw.to_bytes();
        }
        self.queue(route.addr, envelope_from, message)
    }

    fn queue(
        &mut self,
        target: std::net::SocketAddr,
        envelope_from: &str,
        message: StoredMessage,
    ) -> Result<(), Refusal> {
        let queue_id = self
            .store
            .enqueue(
                target,
                envelope_from,
                &message.mailbox,
                &message.message_id,
                &message.raw,
            )
            .map_err(storage_refusal)?;
        self.jobs.push(delivery::Job {
            queue_id,
            target,
            envelope_from: envelope_from.to_string(),
            mailbox: message.mailbox,
            message_id: message.message_id,
            raw: message.raw,
        });
        Ok(())
    }
}

/// A message handed over by a trusted peer provider on the relay face (PVD-FU Schritt 41–45):
/// its seal must verify under the trust anchor; a normal message is checked for
/// deliverability per recipient (Meldung back to the sender otherwise), laid into the
/// mailbox at most once per X-de-mail-message-id, and confirmed with an Eingangsbestätigung
/// when asked; confirmations and Meldungen are laid into the addressee's mailbox.
pub(crate) fn accept_relayed(
    shared: &Shared,
    peer: &str,
    envelope_from: &str,
    recipients: &[String],
    data: &[u8],
) -> Result<String, Refusal> {
    let mut msg = read_submitted(data)?;
    msg.remove_all(h::ENVELOPE_TO);
    let anchors = [shared.ca_der.clone()];
    let verdict = integrity::verify_with(
        &msg,
        &integrity::VerifyOptions {
            trusted_cas: Some(&anchors),
            at_unix: Some(shared.clock.timestamp().as_second()),
        },
    );
    if !matches!(verdict, integrity::Verdict::Signed { trusted: true, .. }) {
        return Err(Refusal::new(
            554,
            "5.7.1",
            &format!(
                "X-de-mail-integrity of a message from {peer} does not hold: {verdict} (PVD-IO §3.1.21)"
            ),
        ));
    }
    let message_id = msg.first(h::MESSAGE_ID).ok_or_else(|| {
        Refusal::new(
            554,
            "5.6.0",
            "Missing x-de-mail-message-id (PVD-IO Tabelle 1 Nr. 14)",
        )
    })?;
    let kind = msg
        .first(h::MESSAGE_TYPE)
        .and_then(|t| MessageType::parse(&t))
        .ok_or_else(|| {
            Refusal::new(
                554,
                "5.6.0",
                "Missing or unknown x-de-mail-message-type (PVD-IO Tabelle 12)",
            )
        })?;
    let sender = msg
        .first(h::SENDER)
        .map(|s| normalize_address(&s))
        .unwrap_or_else(|| normalize_address(envelope_from));
    let subject = msg.subject().unwrap_or_default();
    shared.trace.emit(EventKind::ProviderReceived {
        provider: shared.config.id.clone(),
        from_provider: peer.to_string(),
        message_id: message_id.clone(),
        message_type: kind.as_str().to_string(),
        to: recipients.to_vec(),
    });
    let mut work = Work::begin(shared)?;
    let result = deliver_relayed(
        &mut work,
        &msg,
        &message_id,
        kind,
        &sender,
        &subject,
        recipients,
    );
    work.finish(result.map(|()| message_id))
}

fn deliver_relayed(
    work: &mut Work<'_>,
    msg: &RawMessage,
    message_id: &str,
    kind: MessageType,
    sender: &str,
    subject: &str,
    recipients: &[String],
) -> Result<(), Refusal> {
    let shared = work.shared;
    let now = shared.clock.now();
    let private_id = msg.first(h::PRIVATE_ID);
    let rfc_message_id = msg.first("message-id");
    let option = |o: DeMailOption| msg.first(o.header()).as_deref() == Some("yes");
    for rcpt in recipients {
        if kind == MessageType::Normal {
            let needs_high =
                option(DeMailOption::Private) || option(DeMailOption::ConfirmationOfRetrieve);
            let reason = match work.store.account(rcpt).map(|a| a.config.max_auth_level) {
                None => Some(Undeliverable::UnknownRecipient),
                Some(AuthLevel::Normal) if needs_high => Some(Undeliverable::CannotReadPrivate),
                _ => None,
            };
            if let Some(reason) = reason {
                let f = NotificationFacts {
                    provider_domain: shared.config.domain.clone(),
                    provider_name: shared.config.name.clone(),
                    message_id: work.next_id()?,
                    date: format_rfc5322(&now),
                    time: demail_core::clock::format_instant(&now),
                    to: msg
                        .first("reply-to")
                        .map(|r| normalize_address(&r))
                        .unwrap_or_else(|| sender.to_string()),
                    recipient: rcpt.clone(),
                    reason,
                    original_subject: subject.to_string(),
                    original_message_id: message_id.to_string(),
                    original_rfc_message_id: rfc_message_id.clone(),
                    original_private_id: private_id.clone(),
                };
                issue_notification(work, &f, sender)?;
                continue;
            }
        } else if work.store.account(rcpt).is_none() {
            // A confirmation or Meldung for nobody here is dropped (no Meldung about system
            // messages, PVD-FU Schritt 45).
            continue;
        }
        let mut copy = msg.clone();
        copy.prepend(vec![Field::new("Envelope-to", rcpt)]);
        let stored = StoredMessage {
            mailbox: rcpt.clone(),
            message_id: message_id.to_string(),
            rfc_message_id: rfc_message_id.clone(),
            in_reply_to: msg.first("in-reply-to"),
            message_type: kind,
            from: sender.to_string(),
            subject: subject.to_string(),
            private_id: private_id.clone(),
            stored_at: now.timestamp(),
            raw: copy.to_bytes(),
        };
        let new = work.deposit(stored, sender)?;
        // The recipient's Postfachdienst confirms the Eingang (PVD-FU §3.3), once.
        if kind == MessageType::Normal && option(DeMailOption::ConfirmationOfReceipt) && new {
            let f = ConfirmationFacts {
                provider_domain: shared.config.domain.clone(),
                provider_name: shared.config.name.clone(),
                message_id: work.next_id()?,
                date: format_rfc5322(&now),
                time: demail_core::clock::format_instant(&now),
                delivery_time: None,
                original_sender: sender.to_string(),
                original_recipient: rcpt.clone(),
                original_subject: subject.to_string(),
                original_rfc_message_id: rfc_message_id.clone(),
            };
            issue_confirmation(work, AckKind::Receipt, &f, msg, message_id, &private_id)?;
        }
    }
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
    for name in table1::provider_only() {
        msg.remove_all(name);
    }
    for o in DeMailOption::ALL {
        msg.remove_all(o.header());
    }
    msg.remove_all("message-id");
    // Metadata (Tabelle 1), in the table's order, at the top of the message.
    let mut stamp = vec![
        Field::new("Date", &date),
        Field::new("Message-ID", &rfc_message_id),
    ];
    for o in DeMailOption::ALL {
        let v = if options.contains(&o) { "yes" } else { "no" };
        stamp.push(Field::new(o.header(), v));
    }
    stamp.extend([
        Field::new(h::SENDER, &sub.login.address),
        Field::new(h::CHOSEN_RECIPIENT, &chosen),
        Field::new(h::AUTH_MECHANISM, sub.login.mechanism),
        Field::new(h::AUTH_LEVEL, sub.login.level.as_str()),
        Field::new(h::ORIGINATOR_PROVIDER, &format!("smtp.{domain}")),
        Field::new(h::MESSAGE_TYPE, MessageType::Normal.as_str()),
        Field::new(h::VERSION, TR_VERSION),
        Field::new(h::MESSAGE_ID, &message_id),
        Field::new(
            h::ACCOUNT_HOLDER,
            &demail_wire::compose::encode_unstructured(holder),
        ),
        Field::new(h::ACTUAL_RECIPIENT, &chosen),
    ]);
    msg.prepend(stamp);

    let eml = shared.wire_log.record(sub.data);
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

    for rcpt in sub.recipients {
        // PVD-IO §3.1.8: a Bcc recipient's copy names only that recipient in bcc=; the other
        // copies name no Bcc at all.
        let mut sealed = msg.clone();
        if !to_header.contains(rcpt) && !cc_header.contains(rcpt) {
            let with_bcc = if chosen.is_empty() {
                format!("bcc={rcpt}")
            } else {
                format!("{chosen};bcc={rcpt}")
            };
            sealed.set_first(h::CHOSEN_RECIPIENT, &with_bcc);
            sealed.set_first(h::ACTUAL_RECIPIENT, &with_bcc);
        }
        // PVD-IO §3.1.21: hash and signature are computed per copy, right before hand-over;
        // Envelope-to is set on receipt (§3.1.22) and is not covered by the seal.
        integrity::seal(&mut sealed, HashAlg::Sha256, Some(&shared.signer))
            .map_err(|e| Refusal::new(451, "4.3.0", &format!("cannot seal the message: {e}")))?;
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
        let needs_high = options.contains(&DeMailOption::Private)
            || options.contains(&DeMailOption::ConfirmationOfRetrieve);
        let foreign = !shared.hosts(rcpt);
        let reason = match work.store.account(rcpt).map(|a| a.config.max_auth_level) {
            // The recipient's provider checks deliverability of a foreign address.
            _ if foreign => None,
            None => Some(Undeliverable::UnknownRecipient),
            Some(AuthLevel::Normal) if needs_high => Some(Undeliverable::CannotReadPrivate),
            _ => None,
        };
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
        let mut copy = sealed.clone();
        copy.prepend(vec![Field::new("Envelope-to", rcpt)]);
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

/// Issues a confirmation to the sender, with a copy to the recipient except for the
/// Versandbestätigung (PVD-FU §3.3).
pub(crate) fn issue_confirmation(
    work: &mut Work<'_>,
    kind: AckKind,
    f: &ConfirmationFacts,
    original: &RawMessage,
    original_message_id: &str,
    private_id: &Option<String>,
) -> Result<(), Refusal> {
    let shared = work.shared;
    let built = confirmation::build(kind, f, original, Some(&shared.signer)).map_err(|e| {
        // The original was sealed by this provider a moment ago, so this is a provider bug.
        tracing::error!("cannot build the {kind:?} confirmation for {original_message_id}: {e}");
        Refusal::new(451, "4.3.0", &format!("cannot build the confirmation: {e}"))
    })?;
    let mailboxes: Vec<&String> = if kind == AckKind::Dispatch {
        vec![&f.original_sender]
    } else {
        vec![&f.original_sender, &f.original_recipient]
    };
    shared.trace.emit(EventKind::ConfirmationIssued {
        provider: shared.config.id.clone(),
        confirmation: kind.trace_name().to_string(),
        for_message_id: original_message_id.to_string(),
        message_id: f.message_id.clone(),
        from: built.from.clone(),
        to: mailboxes.iter().map(|m| m.to_string()).collect(),
        private_id: private_id.clone(),
    });
    let stamp = shared.clock.timestamp();
    for mailbox in mailboxes {
        let mut copy = RawMessage::parse(&built.raw).expect("confirmation we built parses");
        copy.prepend(vec![Field::new("Envelope-to", mailbox)]);
        work.deposit(
            StoredMessage {
                mailbox: mailbox.clone(),
                message_id: f.message_id.clone(),
                rfc_message_id: Some(format!("<{}>", f.message_id)),
                in_reply_to: f.original_rfc_message_id.clone(),
                message_type: kind.message_type(),
                from: built.from.clone(),
                subject: built.subject.clone(),
                private_id: private_id.clone(),
                stored_at: stamp,
                raw: copy.to_bytes(),
            },
            &built.from,
        )?;
    }
    Ok(())
}

/// Sends a Meldungsnachricht to the sender (PVD-FU Schritt 45) and records it.
pub(crate) fn issue_notification(
    work: &mut Work<'_>,
    f: &NotificationFacts,
    original_sender: &str,
) -> Result<(), Refusal> {
    let shared = work.shared;
    let Some(built) = notification::build(f, original_sender, Some(&shared.signer)) else {
        return Ok(());
    };
    shared.trace.emit(EventKind::NotificationIssued {
        provider: shared.config.id.clone(),
        notification_type: f.reason.notification_type().as_str().to_string(),
        for_message_id: f.original_message_id.clone(),
        message_id: f.message_id.clone(),
        to: f.to.clone(),
        recipient: f.recipient.clone(),
        reason: f.reason.text().to_string(),
        private_id: f.original_private_id.clone(),
    });
    let mut copy = RawMessage::parse(&built.raw).expect("Meldung we built parses");
    copy.prepend(vec![Field::new("Envelope-to", &f.to)]);
    work.deposit(
        StoredMessage {
            mailbox: f.to.clone(),
            message_id: f.message_id.clone(),
            rfc_message_id: Some(format!("<{}>", f.message_id)),
            in_reply_to: f.original_rfc_message_id.clone(),
            message_type: MessageType::Notification,
            from: built.from.clone(),
            subject: built.subject.clone(),
            private_id: f.original_private_id.clone(),
            stored_at: shared.clock.timestamp(),
            raw: copy.to_bytes(),
        },
        &built.from,
    )
    .map(|_| ())
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

    /// A panic inside an open transaction (a provider bug) rolls the transaction back: the
    /// next submission can open its own instead of failing with 451 until a restart.
    #[tokio::test]
    async fn a_panic_inside_a_transaction_rolls_it_back() {
        demail_core::init_crypto();
        let start = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let clock = demail_core::clock::VirtualClock::new(&start);
        let trace = demail_core::trace::Trace::new(clock.clone());
        let pki = demail_core::pki::TestPki::generate("test").unwrap();
        let provider = super::super::Provider::start(
            super::super::ProviderConfig {
                id: "dmda-a".into(),
                name: "DMDA A".into(),
                domain: "dmda-a.de-mail.de".into(),
                hosted_domains: Vec::new(),
                accounts: Vec::new(),
                message_dir: None,
                database: None,
                smtp_listen: None,
                http_listen: None,
                relay_listen: None,
                delivery_hub: None,
                wire_log: None,
                trusted_peers: Vec::new(),
            },
            clock,
            trace,
            &pki,
        )
        .await
        .unwrap();
        let shared = provider.shared.clone();
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut work = Work::begin(&shared).unwrap();
            work.next_id().unwrap();
            panic!("a bug inside the transaction");
        }));
        assert!(crashed.is_err());
        let mut work = Work::begin(&shared).expect("a new transaction after the panic");
        let id = work.next_id().unwrap();
        work.finish(Ok(())).unwrap();
        assert_eq!(
            id, "m000001@dmda-a.de-mail.de",
            "the panicked id was rolled back"
        );
    }
}
