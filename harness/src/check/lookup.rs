//! What several kinds look up: the intake's reply to a message, the intake's case for it, the
//! provider's own message about it (a confirmation or Meldung), a traffic's ledger.

use demail_sim::demail::MessageType;
use demail_sim::provider::StoredMessage;
use demail_sim::trace::EventKind;
use jiff::civil::Date;
use jiff::{SignedDuration, Span};

use super::replies::Ledger;
use super::{Cx, Setting, Verdict};
use crate::model::SendOutcome;

/// The `kind` column of the events the checks look up in the trace, for
/// [`demail_sim::trace::Trace::find_map_of`] and `for_each_of` (which parse only these lines of
/// a long run's file). `harness/tests/golden.rs` checks that each is a kind of the golden traces.
pub mod kinds {
    pub const INTAKE_RECEIVED: &str = "intake.received";
    pub const INTAKE_DUPLICATE: &str = "intake.duplicate";
    pub const INTAKE_ZUSTELLUNG: &str = "intake.zustellung";
    pub const INTAKE_FALLBACK: &str = "intake.fallback";
    pub const INTAKE_DMS: &str = "intake.dms";
    pub const PROVIDER_DELIVERED: &str = "provider.delivered";
    pub const PROVIDER_DELIVERY_FAILED: &str = "provider.delivery_failed";
    pub const PROVIDER_REFUSED: &str = "provider.refused";
    pub const NOTIFICATION_ISSUED: &str = "notification.issued";
    /// All of the above.
    #[cfg(test)]
    pub const ALL: [&str; 9] = [
        INTAKE_RECEIVED,
        INTAKE_DUPLICATE,
        INTAKE_ZUSTELLUNG,
        INTAKE_FALLBACK,
        INTAKE_DMS,
        PROVIDER_DELIVERED,
        PROVIDER_DELIVERY_FAILED,
        PROVIDER_REFUSED,
        NOTIFICATION_ISSUED,
    ];
}

/// A case as the intake reported it (`intake.received`).
pub struct IntakeCase {
    pub aktenzeichen: String,
    pub procedure: String,
    pub binding: bool,
    pub reason: String,
}

impl Cx<'_> {
    /// Whether `m` is the intake's reply to `send`: from one of the intake's
    /// Funktionspostfächer, `In-Reply-To` the sent message.
    pub fn is_reply(&self, m: &StoredMessage, send: &SendOutcome) -> bool {
        is_reply_to(self.setting, m, &send.rfc_message_id)
    }

    /// The step's message as stored in one of the intake's mailboxes (matched by Message-ID).
    pub fn in_intake_mailbox(&self, send: &SendOutcome) -> Option<StoredMessage> {
        self.setting.intake.mailboxes.iter().find_map(|m| {
            self.obs
                .world
                .mailbox(&m.address)
                .ok()?
                .into_iter()
                .find(|s| s.rfc_message_id.as_deref() == Some(send.rfc_message_id.as_str()))
        })
    }

    /// The provider's message id (`X-de-mail-message-id`) of the step's message, as stored in
    /// one of the intake's mailboxes.
    pub fn intake_message_id(&self, send: &SendOutcome) -> Option<String> {
        self.in_intake_mailbox(send).map(|s| s.message_id)
    }

    /// The case the intake opened for the step's message: the message is found in one of
    /// the intake's mailboxes at the provider (by Message-ID), and its X-de-mail-message-id
    /// in the intake's `intake.received` events.
    pub fn intake_case(&self, send: &SendOutcome) -> Option<IntakeCase> {
        let message_id = self.intake_message_id(send)?;
        self.trace
            .find_map_of(&[kinds::INTAKE_RECEIVED], |e| match &e.kind {
                EventKind::IntakeReceived {
                    aktenzeichen,
                    procedure,
                    message_id: m,
                    binding,
                    reason,
                    ..
                } if *m == message_id => Some(IntakeCase {
                    aktenzeichen: aktenzeichen.clone(),
                    procedure: procedure.clone(),
                    binding: *binding,
                    reason: reason.clone(),
                }),
                _ => None,
            })
    }

    /// Judges a message the provider itself sends about the step's message (a confirmation or
    /// a Meldung): it must reach the sender's mailbox within `within`, copy the private-id
    /// (PVD-IO §3.1.9), be signed under the run's CA with XML and PDF parts (§3.4–3.5), and
    /// pass `extra`. `None` while it may still come.
    pub fn system_message(
        &self,
        send: &SendOutcome,
        (kind, label): (MessageType, &str),
        within: Span,
        extra: impl Fn(&StoredMessage) -> Result<(), String>,
    ) -> Option<Verdict> {
        let Ok(limit) = send.sent_at.checked_add(within) else {
            return Some(Verdict::fail("limit out of range".into()));
        };
        let mailbox = match self.obs.world.mailbox(&send.from) {
            Ok(m) => m,
            Err(e) => {
                return Some(Verdict::fail(format!(
                    "cannot read the sender's mailbox: {e:#}"
                )));
            }
        };
        let found = mailbox.into_iter().find(|m| {
            m.message_type == kind && m.in_reply_to.as_deref() == Some(send.rfc_message_id.as_str())
        });
        let Some(m) = found else {
            return (self.obs.now.timestamp() > limit.timestamp())
                .then(|| Verdict::fail(format!("no {label} within {within} of sending")));
        };
        let after = m.stored_at.duration_since(send.sent_at.timestamp());
        Some(if m.private_id != send.private_id {
            Verdict::fail(format!(
                "{label} {} does not carry the private-id {:?} (has {:?}); PVD-IO §3.1.9 requires it to be copied",
                m.message_id, send.private_id, m.private_id
            ))
        } else if m.stored_at > limit.timestamp() {
            Verdict::fail(format!(
                "{label} {} arrived {} after sending, later than {within}",
                m.message_id,
                human(after)
            ))
        } else {
            match confirmation_verdict(&m.raw, self.obs.trust_anchor, self.obs.now.timestamp())
                .and_then(|signed| extra(&m).map(|()| signed))
            {
                Ok(signed) => Verdict::pass(format!(
                    "{label} {} from {} in the sender's mailbox {} after sending (limit {within}), private-id copied, {signed}",
                    m.message_id,
                    m.from,
                    human(after)
                )),
                Err(why) => Verdict::fail(format!("{label} {} is not valid: {why}", m.message_id)),
            }
        })
    }

    /// "no {what} yet, and the scenario ends before the limit …": the reason a message
    /// limited to `within` after sending is undecided at the end, or `None` once it is over.
    pub fn ends_before(&self, send: &SendOutcome, what: &str, within: Span) -> Option<String> {
        let limit = send.sent_at.checked_add(within).ok()?;
        (self.obs.now.timestamp() <= limit.timestamp()).then(|| {
            format!(
                "no {what} yet, and the scenario ends before the limit of {within} after sending ({}) is over",
                demail_sim::clock::format_instant(&limit)
            )
        })
    }

    /// The ledger of a traffic a kind names: its sends and the replies found so far
    /// (`replies.rs`); the error a verdict fails with when a mailbox could not be read.
    pub fn ledger(&self, traffic: &str) -> Result<&Ledger, String> {
        let ledger = self
            .ledgers
            .get(traffic)
            .ok_or_else(|| format!("internal: no ledger for traffic {traffic}"))?;
        match ledger.error() {
            Some(e) => Err(e.to_string()),
            None => Ok(ledger),
        }
    }
}

/// Whether `m` is from one of the intake's Funktionspostfächer and `In-Reply-To` the message
/// whose `Message-ID` is `rfc_message_id`.
pub fn is_reply_to(setting: &Setting<'_>, m: &StoredMessage, rfc_message_id: &str) -> bool {
    setting.intake.mailbox(&m.from).is_some() && m.in_reply_to.as_deref() == Some(rfc_message_id)
}

/// Checks a confirmation or Meldung as the TR requires it (PVD-IO §3.4–3.5): signed by its provider
/// under the trust anchor, and carrying the Acknowledge-Message XML and a PDF. Returns a short
/// description of the signature, or why it fails.
fn confirmation_verdict(raw: &[u8], anchor: &[u8], now: jiff::Timestamp) -> Result<String, String> {
    use demail_sim::demail::headers::RawMessage;
    use demail_sim::demail::integrity::{Verdict, VerifyOptions, verify_with};
    let msg = RawMessage::parse(raw).map_err(|e| e.to_string())?;
    let anchors = [anchor.to_vec()];
    let verdict = verify_with(
        &msg,
        &VerifyOptions {
            trusted_cas: Some(&anchors),
            at_unix: Some(now.as_second()),
        },
    );
    let signer = match &verdict {
        Verdict::Signed {
            trusted: true,
            signer,
            alg,
            sig,
            ..
        } => format!("signed by {signer} ({alg}/{sig})"),
        other => return Err(format!("X-de-mail-integrity: {other}")),
    };
    let text = String::from_utf8_lossy(raw);
    if !text.contains("application/xml") || !text.contains("application/pdf") {
        return Err("the body lacks the urn:de-mail XML or the PDF (PVD-IO §3.4.1, §3.5)".into());
    }
    Ok(signer)
}

/// A legal day as people read it: "Thu 06.03.2025" (weekday, then the German day.month.year).
pub fn legal_day(d: Date) -> String {
    d.strftime("%a %d.%m.%Y").to_string()
}

/// "20h 0m", "3d 2h 5m", "0s".
pub fn human(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hours, rest) = (rest / 3600, rest % 3600);
    let minutes = rest / 60;
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days}d "));
    }
    out.push_str(&format!("{hours}h {minutes}m"));
    out
}
