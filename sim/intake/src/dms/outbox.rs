//! The durable DMS outbox (SQLite, WAL, `synchronous=FULL`): one row per De-Mail, backoff in
//! virtual time, never deleted (see the parent module's retry policy).

use super::*;

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

pub(super) const SCHEMA: &str = "
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
    pub(super) conn: Connection,
}

impl fmt::Debug for DmsOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmsOutbox")
            .field("path", &self.conn.path())
            .finish()
    }
}

pub(super) fn ts(secs: i64) -> Timestamp {
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
