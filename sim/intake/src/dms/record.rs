//! The evidence record handed to the DMS: the message as received with its SHA-256, the
//! provider's seal and the confirmations that belong to it (docs/dms.md).

use super::*;

/// What the intake hands to the DMS for one received De-Mail: the message as received, its
/// hash, the provider's integrity seal and the confirmations that belong to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// The Aktenzeichen (file number) the intake assigned, e.g. `GA-2025-00001`.
    pub aktenzeichen: String,
    /// The administrative procedure the message belongs to, e.g. `gewerbeanzeige`.
    pub procedure: String,
    /// The Funktionspostfach (the authority's functional mailbox) that received the message.
    pub mailbox: String,
    /// When the intake received the message (its virtual clock), RFC 3339 in UTC.
    pub received_at: String,
    /// The message's `X-de-mail-message-id` (PVD-IO Tabelle 1); also the `Idempotency-Key`.
    pub demail_message_id: String,
    /// Lower-case hex SHA-256 of the raw message bytes (the bytes `raw_base64` decodes to).
    pub message_sha256: String,
    /// The provider's `X-de-mail-integrity` header value as received (PVD-IO §3.1.21), if any.
    pub integrity: Option<String>,
    /// The raw message exactly as received (RFC 5322, CRLF), base64 with padding (RFC 4648 §4).
    pub raw_base64: String,
    /// Confirmations (Versand-, Eingangs-, Abholbestätigung) that belong to this message, in
    /// the order they were added.
    #[serde(default)]
    pub confirmations: Vec<ConfirmationEvidence>,
}

/// One confirmation kept with a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationEvidence {
    /// The confirmation's `X-de-mail-message-type`, e.g. `confirmation of receipt`.
    pub message_type: String,
    /// The confirmation's own `X-de-mail-message-id`.
    pub demail_message_id: String,
    /// Lower-case hex SHA-256 of the confirmation's raw bytes.
    pub sha256: String,
    /// The confirmation exactly as received, base64 with padding.
    pub raw_base64: String,
}

/// Why an [`EvidenceRecord`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The header block could not be read.
    #[error("the message's header block is unreadable: {0}")]
    Headers(String),
    /// A De-Mail always carries `X-de-mail-message-id` (PVD-IO Tabelle 1); without it there is
    /// no idempotency key.
    #[error("the message has no X-de-mail-message-id")]
    MissingMessageId,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl EvidenceRecord {
    /// Builds the record of a received message: reads its `X-de-mail-message-id` (first
    /// occurrence, PVD-IO §3.1) and computes the SHA-256 of `raw`.
    pub fn new(
        aktenzeichen: impl Into<String>,
        procedure: impl Into<String>,
        mailbox: impl Into<String>,
        received_at: Timestamp,
        raw: &[u8],
        integrity: Option<String>,
    ) -> Result<Self, RecordError> {
        let headers = RawMessage::parse(raw).map_err(|e| RecordError::Headers(e.to_string()))?;
        let demail_message_id = headers
            .first(h::MESSAGE_ID)
            .filter(|id| !id.is_empty())
            .ok_or(RecordError::MissingMessageId)?;
        Ok(Self {
            aktenzeichen: aktenzeichen.into(),
            procedure: procedure.into(),
            mailbox: mailbox.into(),
            received_at: received_at.to_string(),
            demail_message_id,
            message_sha256: sha256_hex(raw),
            integrity,
            raw_base64: B64.encode(raw),
            confirmations: Vec::new(),
        })
    }

    /// Attaches a confirmation. A confirmation whose `demail_message_id` is already attached is
    /// not added twice (the first one wins); returns whether it was added.
    pub fn add_confirmation(
        &mut self,
        message_type: impl Into<String>,
        demail_message_id: impl Into<String>,
        raw: &[u8],
    ) -> bool {
        let demail_message_id = demail_message_id.into();
        if self
            .confirmations
            .iter()
            .any(|c| c.demail_message_id == demail_message_id)
        {
            return false;
        }
        self.confirmations.push(ConfirmationEvidence {
            message_type: message_type.into(),
            demail_message_id,
            sha256: sha256_hex(raw),
            raw_base64: B64.encode(raw),
        });
        true
    }

    /// The raw message bytes.
    pub fn raw(&self) -> Result<Vec<u8>, base64::DecodeError> {
        B64.decode(&self.raw_base64)
    }

    /// Checks the record's internal consistency: the id is set, `received_at` is RFC 3339,
    /// every base64 field decodes and every hash matches its bytes. Returns the first problem.
    pub fn verify(&self) -> Result<(), String> {
        if self.demail_message_id.trim().is_empty() {
            return Err("demail_message_id is empty".into());
        }
        if let Err(e) = self.received_at.parse::<Timestamp>() {
            return Err(format!(
                "received_at {:?} is not RFC 3339: {e}",
                self.received_at
            ));
        }
        check_blob(
            "raw_base64",
            &self.raw_base64,
            "message_sha256",
            &self.message_sha256,
        )?;
        for (i, c) in self.confirmations.iter().enumerate() {
            if c.demail_message_id.trim().is_empty() {
                return Err(format!("confirmations[{i}].demail_message_id is empty"));
            }
            check_blob(
                &format!("confirmations[{i}].raw_base64"),
                &c.raw_base64,
                &format!("confirmations[{i}].sha256"),
                &c.sha256,
            )?;
        }
        Ok(())
    }
}

pub(super) fn check_blob(
    blob_name: &str,
    blob: &str,
    hash_name: &str,
    hash: &str,
) -> Result<(), String> {
    let bytes = B64
        .decode(blob)
        .map_err(|e| format!("{blob_name} is not base64: {e}"))?;
    let actual = sha256_hex(&bytes);
    if !actual.eq_ignore_ascii_case(hash) {
        return Err(format!(
            "{hash_name} is {hash:?}, but the SHA-256 of {blob_name} is {actual}"
        ));
    }
    Ok(())
}
