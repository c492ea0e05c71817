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
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use demail_wire::h;
use demail_wire::headers::RawMessage;

mod client;
mod outbox;
mod record;

pub use client::*;
pub use outbox::*;
pub use record::*;

use demail_core::sync::lock;

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
mod tests;
