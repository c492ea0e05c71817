//! Hand-over of received De-Mails to a document management system (DMS), with an evidence
//! record for Beweiswertsicherung (preserving the evidential value of what was received).
//!
//! The intake keeps a received message, byte for byte, together with the confirmations that
//! belong to it (Versand-, Eingangs-, Abholbestätigung) and hands both to the authority's DMS
//! over HTTP. A DMS that is down or slow must never cost a message: records wait in a durable
//! outbox until the DMS has taken them.
//!
//! # API
//!
//! - [`EvidenceRecord`]: what is handed over. [`EvidenceRecord::new`] takes the raw message,
//!   reads its `X-de-mail-message-id` and computes the SHA-256;
//!   [`EvidenceRecord::add_confirmation`] attaches a confirmation; [`EvidenceRecord::verify`]
//!   checks that hashes and base64 agree (a DMS or a mock can use it).
//! - [`DmsOutbox`]: the durable queue (SQLite, WAL, `synchronous=FULL`). One row per
//!   `demail_message_id`; [`DmsOutbox::enqueue`] is idempotent and merges confirmations into a
//!   record that is still pending. Rows are never deleted. All times are passed in (virtual
//!   time); the outbox never reads the wall clock.
//! - [`DmsClient`]: one HTTP attempt, [`DmsClient::store`], classified as stored, already
//!   stored, [`DmsError::Temporary`] or [`DmsError::Permanent`].
//! - [`flush`]: tries every due record once and reports, in id order, what happened.
//!
//! The intake calls [`DmsOutbox::enqueue`] in the same step in which it accepts a message
//! (before answering the provider's SMTP DATA), enqueues again whenever a confirmation for it
//! arrives, and calls [`flush`] whenever its test clock moves (`POST /testbed/clock`).
//!
//! # Retry policy
//!
//! A temporary failure (no connection, no answer within [`DmsClient::TIMEOUT`] = 10 s, 408,
//! 429, 5xx, or any status not listed below) schedules the next attempt after
//! [`backoff`]`(attempts)`: 1 min after the first failure, then 2, 4, 8, 16, 32 min, then
//! every 60 min, forever, measured on the virtual clock. A permanent failure (any other 4xx, or
//! a record that cannot be sent at all) marks the record `rejected`: it stays in the outbox with
//! the DMS's problem text and is not retried until someone calls [`DmsOutbox::requeue`].
//! 200 and 201 mean stored; 409 means the DMS already has a document with this
//! `Idempotency-Key` and counts as delivered.
//!
//! # Wire format
//!
//! `POST {base}/documents` with `Content-Type: application/json`,
//! `Idempotency-Key: <demail_message_id>` and the [`EvidenceRecord`] as JSON body:
//!
//! ```json
//! {
//!   "aktenzeichen": "GA-2025-00001",
//!   "procedure": "gewerbeanzeige",
//!   "mailbox": "gewerbeangelegenheiten@dresden.de-mail.de",
//!   "received_at": "2025-03-03T08:00:00Z",
//!   "demail_message_id": "<4711@provider.de-mail.de>",
//!   "message_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
//!   "integrity": "v=1; a=sha256; ...",
//!   "raw_base64": "WC1kZS1tYWlsLW1lc3NhZ2UtaWQ6IC4uLg==",
//!   "confirmations": [
//!     {"message_type": "confirmation of receipt", "demail_message_id": "<4712@...>",
//!      "sha256": "...", "raw_base64": "..."}
//!   ]
//! }
//! ```
//!
//! The full contract for DMS vendors is `docs/dms.md`.

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::demail::h;
use crate::demail::headers::RawMessage;

// ---------------------------------------------------------------------------------------------
// Evidence record
// ---------------------------------------------------------------------------------------------

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

fn check_blob(blob_name: &str, blob: &str, hash_name: &str, hash: &str) -> Result<(), String> {
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

// ---------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------

/// Delay before the first retry.
pub const BACKOFF_BASE_SECS: i64 = 60;
/// Longest delay between two attempts.
pub const BACKOFF_CAP_SECS: i64 = 3600;

/// Delay before the next attempt after `attempts` failed attempts (1 ⇒ 1 min, 2 ⇒ 2 min, 3 ⇒ 4
/// min, … capped at 1 h). `0` is treated like `1`.
pub fn backoff(attempts: u32) -> jiff::SignedDuration {
    let exp = attempts.saturating_sub(1).min(16);
    let secs = BACKOFF_BASE_SECS
        .saturating_mul(1i64 << exp)
        .min(BACKOFF_CAP_SECS);
    jiff::SignedDuration::from_secs(secs)
}

/// Where a record is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for (another) attempt.
    Pending,
    /// The DMS has it (200, 201 or 409).
    Delivered,
    /// The DMS refused it permanently; kept with the reason, not retried.
    Rejected,
}

impl OutboxState {
    /// The value stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(OutboxState::Pending),
            "delivered" => Some(OutboxState::Delivered),
            "rejected" => Some(OutboxState::Rejected),
            _ => None,
        }
    }
}

impl fmt::Display for OutboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`DmsOutbox::enqueue`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum EnqueueOutcome {
    /// A new row.
    Added { id: i64 },
    /// The key was known and still pending: confirmations not yet in the stored record were
    /// appended (`new_confirmations` may be 0). The stored message fields are kept.
    Merged { id: i64, new_confirmations: usize },
    /// The key was known and already delivered or rejected: nothing changed. The DMS answers
    /// a repeat with 409, so `unsent_confirmations` (ids of confirmations the stored record
    /// lacks) will not reach it through this outbox.
    Final {
        id: i64,
        state: OutboxState,
        unsent_confirmations: Vec<String>,
    },
    /// The key was known with a different message (other SHA-256) or the stored row cannot be
    /// read: nothing changed.
    Conflict { id: i64, reason: String },
}

impl EnqueueOutcome {
    /// The row id.
    pub fn id(&self) -> i64 {
        match self {
            EnqueueOutcome::Added { id }
            | EnqueueOutcome::Merged { id, .. }
            | EnqueueOutcome::Final { id, .. }
            | EnqueueOutcome::Conflict { id, .. } => *id,
        }
    }
}

/// One row of the outbox, without the body (for diagnostics).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    /// The `demail_message_id`.
    pub key: String,
    pub state: OutboxState,
    /// Attempts made so far (successful or not).
    pub attempts: u32,
    /// Earliest virtual time of the next attempt (meaningful while pending).
    pub next_attempt_at: Timestamp,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Virtual time the row was created.
    pub created_at: Timestamp,
    /// Virtual time of the last change.
    pub updated_at: Timestamp,
}

/// Number of rows per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub rejected: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dms_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT    NOT NULL UNIQUE,
    body            TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'rejected')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dms_outbox_due ON dms_outbox (state, next_attempt_at, id);
";

/// The durable queue of evidence records waiting for the DMS (SQLite).
///
/// Times are unix seconds of the virtual clock, passed in by the caller. Rows are never
/// deleted: a delivered row is the intake's own proof of what it handed over and when.
pub struct DmsOutbox {
    conn: Connection,
}

impl fmt::Debug for DmsOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmsOutbox")
            .field("path", &self.conn.path())
            .finish()
    }
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl DmsOutbox {
    /// Opens (or creates) the outbox at `path`, or an in-memory one for `None`.
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let conn = match path {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                Connection::open(p).with_context(|| format!("opening {}", p.display()))?
            }
            None => Connection::open_in_memory().context("opening an in-memory DMS outbox")?,
        };
        // FULL rather than NORMAL: an enqueued record must survive a power cut, not only a
        // crash of the process, because the intake has already answered 250 for it.
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
            .context("setting SQLite pragmas")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)
            .context("creating the DMS outbox schema")?;
        Ok(Self { conn })
    }

    /// Queues `record` under its `demail_message_id`, due at `now`. Idempotent: a known key
    /// keeps its row; see [`EnqueueOutcome`] for what happens to its confirmations.
    pub fn enqueue(&mut self, record: &EvidenceRecord, now: Timestamp) -> Result<EnqueueOutcome> {
        let key = record.demail_message_id.as_str();
        if key.trim().is_empty() {
            bail!("an evidence record without demail_message_id cannot be queued");
        }
        let now_s = now.as_second();
        let tx = self.conn.transaction()?;
        let existing: Option<(i64, String, String)> = tx
            .query_row(
                "SELECT id, state, body FROM dms_outbox WHERE key = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let outcome = match existing {
            None => {
                let body = serde_json::to_string(record)?;
                tx.execute(
                    "INSERT INTO dms_outbox (key, body, attempts, next_attempt_at, state, \
                     created_at, updated_at) VALUES (?1, ?2, 0, ?3, 'pending', ?3, ?3)",
                    params![key, body, now_s],
                )?;
                EnqueueOutcome::Added {
                    id: tx.last_insert_rowid(),
                }
            }
            Some((id, state, body)) => {
                let stored: EvidenceRecord = match serde_json::from_str(&body) {
                    Ok(r) => r,
                    Err(e) => {
                        return Ok(EnqueueOutcome::Conflict {
                            id,
                            reason: format!("the stored record cannot be read: {e}"),
                        });
                    }
                };
                let state = OutboxState::parse(&state).unwrap_or(OutboxState::Rejected);
                if !stored
                    .message_sha256
                    .eq_ignore_ascii_case(&record.message_sha256)
                {
                    return Ok(EnqueueOutcome::Conflict {
                        id,
                        reason: format!(
                            "a different message (SHA-256 {}) is already queued under this \
                             key (SHA-256 {})",
                            record.message_sha256, stored.message_sha256
                        ),
                    });
                }
                let new: Vec<&ConfirmationEvidence> = record
                    .confirmations
                    .iter()
                    .filter(|c| {
                        !stored
                            .confirmations
                            .iter()
                            .any(|s| s.demail_message_id == c.demail_message_id)
                    })
                    .collect();
                match state {
                    OutboxState::Pending => {
                        let n = new.len();
                        if n > 0 {
                            let mut merged = stored.clone();
                            for c in new {
                                // Duplicates within `record` itself are skipped too.
                                if !merged
                                    .confirmations
                                    .iter()
                                    .any(|s| s.demail_message_id == c.demail_message_id)
                                {
                                    merged.confirmations.push(c.clone());
                                }
                            }
                            let added = merged.confirmations.len() - stored.confirmations.len();
                            tx.execute(
                                "UPDATE dms_outbox SET body = ?1, updated_at = ?2 WHERE id = ?3",
                                params![serde_json::to_string(&merged)?, now_s, id],
                            )?;
                            EnqueueOutcome::Merged {
                                id,
                                new_confirmations: added,
                            }
                        } else {
                            EnqueueOutcome::Merged {
                                id,
                                new_confirmations: 0,
                            }
                        }
                    }
                    OutboxState::Delivered | OutboxState::Rejected => EnqueueOutcome::Final {
                        id,
                        state,
                        unsent_confirmations: new
                            .iter()
                            .map(|c| c.demail_message_id.clone())
                            .collect(),
                    },
                }
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Pending records whose next attempt is at or before `now`, by id. A row whose body
    /// cannot be read (only possible if the file was edited by hand) is marked rejected with
    /// the reason instead of being returned.
    pub fn due(&mut self, now: Timestamp) -> Result<Vec<(i64, EvidenceRecord)>> {
        let now_s = now.as_second();
        let rows: Vec<(i64, String)> = {
            let mut stmt = self.conn.prepare(
                "SELECT id, body FROM dms_outbox WHERE state = 'pending' AND next_attempt_at <= ?1 \
                 ORDER BY id",
            )?;
            stmt.query_map(params![now_s], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, body) in rows {
            match serde_json::from_str::<EvidenceRecord>(&body) {
                Ok(r) => out.push((id, r)),
                Err(e) => {
                    self.conn.execute(
                        "UPDATE dms_outbox SET state = 'rejected', last_error = ?1, \
                         updated_at = ?2 WHERE id = ?3",
                        params![format!("the stored record cannot be read: {e}"), now_s, id],
                    )?;
                }
            }
        }
        Ok(out)
    }

    /// Records a successful hand-over (200, 201 or 409). A row that is no longer pending is
    /// left as it is. Unknown ids are an error.
    pub fn mark_delivered(&mut self, id: i64, now: Timestamp) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE dms_outbox SET state = 'delivered', attempts = attempts + 1, \
             updated_at = ?1 WHERE id = ?2 AND state = 'pending'",
            params![now.as_second(), id],
        )?;
        if n == 0 {
            self.require(id)?;
        }
        Ok(())
    }

    /// Records a failed attempt. Permanent: the row becomes `rejected` and `None` is returned.
    /// Temporary: the next attempt is scheduled at `now + backoff(attempts)` and that instant
    /// is returned. A row that is no longer pending is left as it is (`None`). Unknown ids are
    /// an error.
    pub fn mark_failed(
        &mut self,
        id: i64,
        now: Timestamp,
        error: &str,
        permanent: bool,
    ) -> Result<Option<Timestamp>> {
        let tx = self.conn.transaction()?;
        let row: Option<(String, i64)> = tx
            .query_row(
                "SELECT state, attempts FROM dms_outbox WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((state, attempts)) = row else {
            bail!("no DMS outbox record with id {id}");
        };
        if state != OutboxState::Pending.as_str() {
            return Ok(None);
        }
        let attempts = u32::try_from(attempts.max(0))
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let now_s = now.as_second();
        let next = if permanent {
            tx.execute(
                "UPDATE dms_outbox SET state = 'rejected', attempts = ?1, last_error = ?2, \
                 updated_at = ?3 WHERE id = ?4",
                params![attempts, error, now_s, id],
            )?;
            None
        } else {
            let at = now_s.saturating_add(backoff(attempts).as_secs());
            tx.execute(
                "UPDATE dms_outbox SET attempts = ?1, last_error = ?2, next_attempt_at = ?3, \
                 updated_at = ?4 WHERE id = ?5",
                params![attempts, error, at, now_s, id],
            )?;
            Some(ts(at))
        };
        tx.commit()?;
        Ok(next)
    }

    /// Puts a rejected record back into the queue, due at `now` (after the cause was fixed,
    /// e.g. the DMS's credentials). Attempts and the last error are kept. Returns whether the
    /// row was rejected.
    pub fn requeue(&mut self, id: i64, now: Timestamp) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE dms_outbox SET state = 'pending', next_attempt_at = ?1, updated_at = ?1 \
             WHERE id = ?2 AND state = 'rejected'",
            params![now.as_second(), id],
        )?;
        if n == 0 {
            self.require(id)?;
        }
        Ok(n > 0)
    }

    fn require(&self, id: i64) -> Result<()> {
        let found: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM dms_outbox WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        match found {
            Some(_) => Ok(()),
            None => bail!("no DMS outbox record with id {id}"),
        }
    }

    /// Rows per state.
    pub fn counts(&self) -> Result<OutboxCounts> {
        let mut counts = OutboxCounts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM dms_outbox GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            let n = u64::try_from(n).unwrap_or(0);
            match OutboxState::parse(&state) {
                Some(OutboxState::Pending) => counts.pending += n,
                Some(OutboxState::Delivered) => counts.delivered += n,
                Some(OutboxState::Rejected) | None => counts.rejected += n,
            }
        }
        Ok(counts)
    }

    /// Every row without its body, by id.
    pub fn list(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, key, state, attempts, next_attempt_at, last_error, created_at, \
             updated_at FROM dms_outbox ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OutboxEntry {
                id: r.get(0)?,
                key: r.get(1)?,
                state: OutboxState::parse(&r.get::<_, String>(2)?).unwrap_or(OutboxState::Rejected),
                attempts: u32::try_from(r.get::<_, i64>(3)?.max(0)).unwrap_or(u32::MAX),
                next_attempt_at: ts(r.get(4)?),
                last_error: r.get(5)?,
                created_at: ts(r.get(6)?),
                updated_at: ts(r.get(7)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stored record of row `id`, if the row exists.
    pub fn record(&self, id: i64) -> Result<Option<EvidenceRecord>> {
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM dms_outbox WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        match body {
            Some(b) => Ok(Some(
                serde_json::from_str(&b).context("the stored record cannot be read")?,
            )),
            None => Ok(None),
        }
    }

    /// The row stored under `key` (a `demail_message_id`), if any.
    pub fn entry_by_key(&self, key: &str) -> Result<Option<OutboxEntry>> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM dms_outbox WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        Ok(self.list()?.into_iter().find(|e| e.id == id))
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------------

/// Why a hand-over failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DmsError {
    /// Try again later: no connection, no answer in time, 408, 429, 5xx or an unexpected status.
    #[error("temporary failure: {reason}")]
    Temporary {
        /// The HTTP status, if the DMS answered.
        status: Option<u16>,
        reason: String,
    },
    /// The DMS refused this record (a 4xx other than 408, 409 and 429), or the record cannot
    /// be sent at all. Retrying the same request will not help.
    #[error("refused: {problem}")]
    Permanent {
        /// The HTTP status, if the DMS answered.
        status: Option<u16>,
        /// The DMS's problem text (RFC 9457 `title: detail`, or the body).
        problem: String,
    },
}

impl DmsError {
    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, DmsError::Permanent { .. })
    }

    /// The HTTP status, if the DMS answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DmsError::Temporary { status, .. } | DmsError::Permanent { status, .. } => *status,
        }
    }
}

/// A successful hand-over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// 200 or 201: the DMS stored the document now.
    Created,
    /// 409: the DMS already had a document with this `Idempotency-Key`.
    AlreadyStored,
}

/// Longest problem text kept from a DMS answer, in characters.
const PROBLEM_MAX_CHARS: usize = 500;
/// Longest answer body read, in bytes.
const BODY_MAX_BYTES: usize = 64 * 1024;

/// The DMS's HTTP face: `POST {base}/documents`.
#[derive(Clone, Debug)]
pub struct DmsClient {
    base_url: String,
    http: reqwest::Client,
}

impl DmsClient {
    /// Time limit for one attempt (connect, send, answer), wall-clock: a network timeout, not
    /// legal time.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    /// A client for the DMS at `base_url` (e.g. `http://127.0.0.1:8080/dms`) with the 10 s
    /// timeout and no redirects.
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Self::TIMEOUT)
            .connect_timeout(Self::TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the DMS HTTP client")?;
        Self::with_client(base_url, http)
    }

    /// A client using the caller's `reqwest::Client` (its timeout applies).
    pub fn with_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        let url = reqwest::Url::parse(base_url)
            .with_context(|| format!("DMS base URL {base_url:?} is not a URL"))?;
        if url.scheme() != "http" {
            bail!(
                "DMS base URL {base_url:?}: only http:// is supported (this build has no TLS in \
                 its HTTP client)"
            );
        }
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `{base}/documents`.
    pub fn documents_url(&self) -> String {
        format!("{}/documents", self.base_url)
    }

    /// One attempt to hand `record` over.
    pub async fn store(&self, record: &EvidenceRecord) -> Result<Stored, DmsError> {
        let key = record.demail_message_id.trim();
        if key.is_empty() {
            return Err(DmsError::Permanent {
                status: None,
                problem: "the record has no demail_message_id (the Idempotency-Key)".into(),
            });
        }
        let key = reqwest::header::HeaderValue::from_str(key).map_err(|_| DmsError::Permanent {
            status: None,
            problem: format!(
                "demail_message_id {:?} cannot be sent as an Idempotency-Key header",
                truncate(key, 80)
            ),
        })?;
        let body = serde_json::to_vec(record).map_err(|e| DmsError::Permanent {
            status: None,
            problem: format!("the record cannot be serialised: {e}"),
        })?;
        let url = self.documents_url();
        let response = self
            .http
            .post(&url)
            .header("Idempotency-Key", key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/problem+json",
            )
            .body(body)
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                return Err(DmsError::Temporary {
                    status: None,
                    reason: describe_transport_error(&url, &e),
                });
            }
        };
        let status = response.status().as_u16();
        // Read (a bounded amount of) the answer; a broken body does not change the verdict.
        let mut body = Vec::new();
        while body.len() < BODY_MAX_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        classify(status, &body)
    }
}

/// Turns a status and answer body into the verdict of the wire contract.
fn classify(status: u16, body: &[u8]) -> Result<Stored, DmsError> {
    match status {
        200 | 201 => Ok(Stored::Created),
        409 => Ok(Stored::AlreadyStored),
        408 | 429 | 500..=599 => Err(DmsError::Temporary {
            status: Some(status),
            reason: format!("HTTP {status}: {}", problem_text(status, body)),
        }),
        400..=499 => Err(DmsError::Permanent {
            status: Some(status),
            problem: format!("HTTP {status}: {}", problem_text(status, body)),
        }),
        _ => Err(DmsError::Temporary {
            status: Some(status),
            reason: format!(
                "unexpected HTTP {status} (only 200, 201 and 409 mean stored): {}",
                problem_text(status, body)
            ),
        }),
    }
}

/// The problem text of an answer: RFC 9457 `title: detail` if the body is a problem JSON,
/// otherwise the body's text, otherwise the status's reason phrase. Bounded in length.
fn problem_text(status: u16, body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |k: &str| {
            map.get(k)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let text = match (field("title"), field("detail")) {
            (Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (Some(t), None) => Some(t.to_string()),
            (None, Some(d)) => Some(d.to_string()),
            (None, None) => field("error").or(field("message")).map(str::to_string),
        };
        if let Some(text) = text {
            return truncate(&text, PROBLEM_MAX_CHARS);
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        return truncate(&text, PROBLEM_MAX_CHARS);
    }
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("no reason given")
        .to_string()
}

fn describe_transport_error(url: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        format!(
            "no answer from {url} within {} s",
            DmsClient::TIMEOUT.as_secs()
        )
    } else if e.is_connect() {
        format!("cannot connect to {url}")
    } else {
        format!("request to {url} failed")
    };
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = s.source();
    }
    truncate(&format!("{what}: {}", chain.join(": ")), PROBLEM_MAX_CHARS)
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Flush
// ---------------------------------------------------------------------------------------------

/// What happened to one due record in a [`flush`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum FlushOutcome {
    /// The DMS has it; `already_stored` for a 409.
    Delivered { already_stored: bool },
    /// The attempt failed. `retry_at` is the scheduled next attempt (virtual time); `None`
    /// when the failure was permanent (the record is now rejected) or the row had meanwhile
    /// left the pending state.
    Failed {
        status: Option<u16>,
        reason: String,
        permanent: bool,
        retry_at: Option<Timestamp>,
    },
    /// The attempt's result could not be written to the outbox; the row stays as it was and
    /// is tried again (a repeat after a success is answered 409 = delivered).
    NotRecorded { result: String, error: String },
}

/// One due record and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlushEntry {
    /// Outbox row id.
    pub id: i64,
    /// The `demail_message_id`.
    pub key: String,
    pub outcome: FlushOutcome,
}

/// The result of a [`flush`], entries by outbox id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    pub entries: Vec<FlushEntry>,
    /// Outbox failures not tied to one record (e.g. the due query failed).
    pub errors: Vec<String>,
}

impl FlushReport {
    /// Entries delivered in this flush.
    pub fn delivered(&self) -> impl Iterator<Item = &FlushEntry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.outcome, FlushOutcome::Delivered { .. }))
    }

    /// Entries that failed (temporarily or permanently) or could not be recorded.
    pub fn failed(&self) -> impl Iterator<Item = &FlushEntry> {
        self.entries
            .iter()
            .filter(|e| !matches!(e.outcome, FlushOutcome::Delivered { .. }))
    }

    /// Nothing was due and nothing went wrong.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.errors.is_empty()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tries every record due at `now` once, in id order, one at a time, and records each result
/// in the outbox. The mutex is held only between the HTTP requests, never across one.
pub async fn flush(outbox: &Mutex<DmsOutbox>, client: &DmsClient, now: Timestamp) -> FlushReport {
    let mut report = FlushReport::default();
    let due = {
        let mut guard = lock(outbox);
        guard.due(now)
    };
    let due = match due {
        Ok(d) => d,
        Err(e) => {
            report
                .errors
                .push(format!("reading the due DMS records: {e:#}"));
            return report;
        }
    };
    for (id, record) in due {
        let result = client.store(&record).await;
        let outcome = {
            let mut guard = lock(outbox);
            match &result {
                Ok(stored) => match guard.mark_delivered(id, now) {
                    Ok(()) => FlushOutcome::Delivered {
                        already_stored: *stored == Stored::AlreadyStored,
                    },
                    Err(e) => FlushOutcome::NotRecorded {
                        result: format!("{stored:?}"),
                        error: format!("{e:#}"),
                    },
                },
                Err(err) => {
                    let reason = match err {
                        DmsError::Temporary { reason, .. } => reason.clone(),
                        DmsError::Permanent { problem, .. } => problem.clone(),
                    };
                    match guard.mark_failed(id, now, &reason, err.is_permanent()) {
                        Ok(retry_at) => FlushOutcome::Failed {
                            status: err.status(),
                            reason,
                            permanent: err.is_permanent(),
                            retry_at,
                        },
                        Err(e) => FlushOutcome::NotRecorded {
                            result: err.to_string(),
                            error: format!("{e:#}"),
                        },
                    }
                }
            }
        };
        report.entries.push(FlushEntry {
            id,
            key: record.demail_message_id,
            outcome,
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn raw(id: &str, body: &str) -> Vec<u8> {
        format!(
            "X-de-mail-message-id: {id}\r\nX-de-mail-message-type: normal\r\n\
             Subject: Gewerbeanmeldung\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    }

    fn record(id: &str) -> EvidenceRecord {
        EvidenceRecord::new(
            "GA-2025-00001",
            "gewerbeanzeige",
            "gewerbeangelegenheiten@dresden.de-mail.de",
            t("2025-03-03T08:00:00Z"),
            &raw(id, "Anmeldung"),
            Some("v=1; a=sha256".into()),
        )
        .unwrap()
    }

    fn temp_db(name: &str) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::env::temp_dir()
            .join(format!("demail-dms-{}-{name}-{n}", std::process::id()))
            .join("outbox.sqlite")
    }

    #[test]
    fn record_hashes_the_raw_message_and_reads_the_id() {
        let r = record("<1@p.de-mail.de>");
        assert_eq!(r.demail_message_id, "<1@p.de-mail.de>");
        assert_eq!(
            r.message_sha256,
            sha256_hex(&raw("<1@p.de-mail.de>", "Anmeldung"))
        );
        assert_eq!(r.raw().unwrap(), raw("<1@p.de-mail.de>", "Anmeldung"));
        assert_eq!(r.received_at, "2025-03-03T08:00:00Z");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(r.verify(), Ok(()));
    }

    #[test]
    fn record_without_message_id_is_an_error() {
        let e = EvidenceRecord::new(
            "A",
            "p",
            "m",
            t("2025-01-01T00:00:00Z"),
            b"Subject: x\r\n\r\n",
            None,
        );
        assert_eq!(e, Err(RecordError::MissingMessageId));
        let e = EvidenceRecord::new("A", "p", "m", t("2025-01-01T00:00:00Z"), b"", None);
        assert!(matches!(e, Err(RecordError::Headers(_))));
    }

    #[test]
    fn confirmations_are_added_once_and_verified() {
        let mut r = record("<1@p>");
        assert!(r.add_confirmation("confirmation of receipt", "<c1@p>", b"conf 1"));
        assert!(!r.add_confirmation("confirmation of receipt", "<c1@p>", b"other"));
        assert_eq!(r.confirmations.len(), 1);
        assert_eq!(r.confirmations[0].sha256, sha256_hex(b"conf 1"));
        assert_eq!(r.verify(), Ok(()));
        r.confirmations[0].raw_base64 = B64.encode(b"tampered");
        assert!(r.verify().unwrap_err().contains("confirmations[0].sha256"));
        let mut r = record("<1@p>");
        r.raw_base64 = "***".into();
        assert!(r.verify().unwrap_err().contains("not base64"));
    }

    #[test]
    fn backoff_doubles_from_one_minute_and_is_capped_at_one_hour() {
        let secs: Vec<i64> = (0..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [60, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(u32::MAX).as_secs(), 3600);
    }

    #[test]
    fn enqueue_is_idempotent_and_merges_confirmations_while_pending() {
        let mut ob = DmsOutbox::open(None).unwrap();
        let now = t("2025-03-03T08:00:00Z");
        let r = record("<1@p>");
        let id = match ob.enqueue(&r, now).unwrap() {
            EnqueueOutcome::Added { id } => id,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            ob.enqueue(&r, now).unwrap(),
            EnqueueOutcome::Merged {
                id,
                new_confirmations: 0
            }
        );
        let mut with = r.clone();
        with.add_confirmation("confirmation of dispatch", "<c1@p>", b"c1");
        with.add_confirmation("confirmation of receipt", "<c2@p>", b"c2");
        assert_eq!(
            ob.enqueue(&with, now).unwrap(),
            EnqueueOutcome::Merged {
                id,
                new_confirmations: 2
            }
        );
        // Only the new one is appended; order is kept.
        let mut again = r.clone();
        again.add_confirmation("confirmation of receipt", "<c2@p>", b"c2");
        again.add_confirmation("confirmation of retrieve", "<c3@p>", b"c3");
        assert_eq!(
            ob.enqueue(&again, now).unwrap(),
            EnqueueOutcome::Merged {
                id,
                new_confirmations: 1
            }
        );
        let stored = ob.record(id).unwrap().unwrap();
        let ids: Vec<&str> = stored
            .confirmations
            .iter()
            .map(|c| c.demail_message_id.as_str())
            .collect();
        assert_eq!(ids, ["<c1@p>", "<c2@p>", "<c3@p>"]);
        assert_eq!(ob.list().unwrap().len(), 1);
        assert_eq!(
            ob.counts().unwrap(),
            OutboxCounts {
                pending: 1,
                delivered: 0,
                rejected: 0
            }
        );
    }

    #[test]
    fn enqueue_after_delivery_changes_nothing_and_names_the_unsent() {
        let mut ob = DmsOutbox::open(None).unwrap();
        let now = t("2025-03-03T08:00:00Z");
        let r = record("<1@p>");
        let id = ob.enqueue(&r, now).unwrap().id();
        ob.mark_delivered(id, now).unwrap();
        let mut later = r.clone();
        later.add_confirmation("confirmation of retrieve", "<c9@p>", b"c9");
        assert_eq!(
            ob.enqueue(&later, now).unwrap(),
            EnqueueOutcome::Final {
                id,
                state: OutboxState::Delivered,
                unsent_confirmations: vec!["<c9@p>".into()]
            }
        );
        assert!(ob.record(id).unwrap().unwrap().confirmations.is_empty());
    }

    #[test]
    fn same_key_with_another_message_is_a_conflict() {
        let mut ob = DmsOutbox::open(None).unwrap();
        let now = t("2025-03-03T08:00:00Z");
        let id = ob.enqueue(&record("<1@p>"), now).unwrap().id();
        let other = EvidenceRecord::new(
            "GA-2025-00002",
            "gewerbeanzeige",
            "m",
            now,
            &raw("<1@p>", "something else"),
            None,
        )
        .unwrap();
        assert!(matches!(
            ob.enqueue(&other, now).unwrap(),
            EnqueueOutcome::Conflict { id: i, .. } if i == id
        ));
        assert_eq!(ob.record(id).unwrap().unwrap(), record("<1@p>"));
        let mut empty = record("<1@p>");
        empty.demail_message_id.clear();
        assert!(ob.enqueue(&empty, now).is_err());
    }

    #[test]
    fn failures_schedule_retries_in_virtual_time() {
        let mut ob = DmsOutbox::open(None).unwrap();
        let t0 = t("2025-03-03T08:00:00Z");
        let id = ob.enqueue(&record("<1@p>"), t0).unwrap().id();
        assert!(
            ob.due(t0 - jiff::SignedDuration::from_secs(1))
                .unwrap()
                .is_empty()
        );
        assert_eq!(ob.due(t0).unwrap().len(), 1);

        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..9 {
            let at = ob.mark_failed(id, now, "HTTP 503", false).unwrap().unwrap();
            delays.push((at - now).as_secs());
            // Not due a second early, due on the dot.
            assert!(
                ob.due(at - jiff::SignedDuration::from_secs(1))
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(ob.due(at).unwrap()[0].0, id);
            now = at;
        }
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        let entry = &ob.list().unwrap()[0];
        assert_eq!(entry.attempts, 9);
        assert_eq!(entry.state, OutboxState::Pending);
        assert_eq!(entry.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(entry.created_at, t0);

        ob.mark_delivered(id, now).unwrap();
        let entry = &ob.list().unwrap()[0];
        assert_eq!((entry.state, entry.attempts), (OutboxState::Delivered, 10));
        assert!(
            ob.due(now + jiff::SignedDuration::from_hours(100))
                .unwrap()
                .is_empty()
        );
        // A late failure report does not undo a delivery.
        assert_eq!(ob.mark_failed(id, now, "late", false).unwrap(), None);
        assert_eq!(ob.list().unwrap()[0].state, OutboxState::Delivered);
        assert!(ob.mark_delivered(999, now).is_err());
        assert!(ob.mark_failed(999, now, "x", true).is_err());
    }

    #[test]
    fn permanent_failure_rejects_keeps_the_reason_and_can_be_requeued() {
        let mut ob = DmsOutbox::open(None).unwrap();
        let t0 = t("2025-03-03T08:00:00Z");
        let id = ob.enqueue(&record("<1@p>"), t0).unwrap().id();
        assert_eq!(
            ob.mark_failed(id, t0, "HTTP 400: bad record", true)
                .unwrap(),
            None
        );
        assert!(
            ob.due(t0 + jiff::SignedDuration::from_hours(24))
                .unwrap()
                .is_empty()
        );
        let e = &ob.list().unwrap()[0];
        assert_eq!(e.state, OutboxState::Rejected);
        assert_eq!(e.last_error.as_deref(), Some("HTTP 400: bad record"));
        assert_eq!(
            ob.counts().unwrap(),
            OutboxCounts {
                pending: 0,
                delivered: 0,
                rejected: 1
            }
        );
        let t1 = t0 + jiff::SignedDuration::from_hours(1);
        assert!(ob.requeue(id, t1).unwrap());
        assert!(!ob.requeue(id, t1).unwrap());
        assert_eq!(ob.due(t1).unwrap().len(), 1);
    }

    #[test]
    fn due_is_in_id_order() {
        let mut ob = DmsOutbox::open(None).unwrap();
        let t0 = t("2025-03-03T08:00:00Z");
        for i in 0..5 {
            ob.enqueue(&record(&format!("<{i}@p>")), t0).unwrap();
        }
        let first = ob.due(t0).unwrap()[0].0;
        ob.mark_failed(first, t0, "x", false).unwrap();
        let keys: Vec<String> = ob
            .due(t0 + jiff::SignedDuration::from_hours(1))
            .unwrap()
            .into_iter()
            .map(|(_, r)| r.demail_message_id)
            .collect();
        assert_eq!(keys, ["<0@p>", "<1@p>", "<2@p>", "<3@p>", "<4@p>"]);
    }

    #[test]
    fn the_outbox_survives_reopening_the_file() {
        let path = temp_db("reopen");
        let t0 = t("2025-03-03T08:00:00Z");
        let (a, b) = {
            let mut ob = DmsOutbox::open(Some(&path)).unwrap();
            let mut r = record("<a@p>");
            r.add_confirmation("confirmation of receipt", "<c@p>", b"c");
            let a = ob.enqueue(&r, t0).unwrap().id();
            let b = ob.enqueue(&record("<b@p>"), t0).unwrap().id();
            ob.mark_failed(a, t0, "HTTP 503", false).unwrap();
            ob.mark_delivered(b, t0).unwrap();
            (a, b)
        };
        let mut ob = DmsOutbox::open(Some(&path)).unwrap();
        let list = ob.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].id, a);
        assert_eq!(list[0].state, OutboxState::Pending);
        assert_eq!(
            list[0].next_attempt_at,
            t0 + jiff::SignedDuration::from_secs(60)
        );
        assert_eq!(list[1].id, b);
        assert_eq!(list[1].state, OutboxState::Delivered);
        assert_eq!(ob.record(a).unwrap().unwrap().confirmations.len(), 1);
        assert_eq!(
            ob.entry_by_key("<b@p>").unwrap().map(|e| e.state),
            Some(OutboxState::Delivered)
        );
        assert_eq!(
            ob.due(t0 + jiff::SignedDuration::from_secs(60)).unwrap()[0].0,
            a
        );
        drop(ob);
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn an_unreadable_row_is_rejected_not_returned() {
        let mut ob = DmsOutbox::open(None).unwrap();
        let t0 = t("2025-03-03T08:00:00Z");
        let id = ob.enqueue(&record("<1@p>"), t0).unwrap().id();
        ob.conn
            .execute(
                "UPDATE dms_outbox SET body = '{' WHERE id = ?1",
                params![id],
            )
            .unwrap();
        assert!(ob.due(t0).unwrap().is_empty());
        let e = &ob.list().unwrap()[0];
        assert_eq!(e.state, OutboxState::Rejected);
        assert!(e.last_error.as_deref().unwrap().contains("cannot be read"));
    }

    #[test]
    fn statuses_are_classified_by_the_contract() {
        assert_eq!(classify(200, b""), Ok(Stored::Created));
        assert_eq!(classify(201, b"{}"), Ok(Stored::Created));
        assert_eq!(classify(409, b""), Ok(Stored::AlreadyStored));
        for s in [408, 429, 500, 502, 503, 504, 202, 204, 301, 100] {
            assert!(
                matches!(classify(s, b""), Err(DmsError::Temporary { status: Some(x), .. }) if x == s),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 413, 415, 422] {
            assert!(classify(s, b"").unwrap_err().is_permanent(), "{s}");
        }
        let e = classify(
            400,
            br#"{"type":"about:blank","title":"Bad record","detail":"aktenzeichen missing"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            DmsError::Permanent {
                status: Some(400),
                problem: "HTTP 400: Bad record: aktenzeichen missing".into()
            }
        );
    }

    #[test]
    fn problem_text_never_panics_and_is_bounded() {
        assert_eq!(problem_text(404, b""), "Not Found");
        assert_eq!(problem_text(499, b""), "no reason given");
        assert_eq!(problem_text(400, b"  plain\n text "), "plain text");
        assert_eq!(problem_text(400, b"\xff\xfe"), "\u{fffd}\u{fffd}");
        assert_eq!(problem_text(400, br#"{"title": 5}"#), r#"{"title": 5}"#);
        let long = "ä".repeat(2000);
        let p = problem_text(400, long.as_bytes());
        assert_eq!(p.chars().count(), PROBLEM_MAX_CHARS + 1);
    }

    /// The intake calls `flush` from an axum handler or a spawned task: the future must be
    /// `Send` (no `MutexGuard` held across an await).
    #[test]
    fn flush_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let outbox = Mutex::new(DmsOutbox::open(None).unwrap());
        let client = DmsClient::new("http://127.0.0.1:1").unwrap();
        let future = flush(&outbox, &client, Timestamp::UNIX_EPOCH);
        is_send(&future);
    }

    #[test]
    fn client_accepts_only_http_urls() {
        assert!(DmsClient::new("http://127.0.0.1:1/dms/").is_ok());
        assert_eq!(
            DmsClient::new("http://127.0.0.1:1/dms/")
                .unwrap()
                .documents_url(),
            "http://127.0.0.1:1/dms/documents"
        );
        assert!(DmsClient::new("https://dms.example").is_err());
        assert!(DmsClient::new("not a url").is_err());
    }
}
