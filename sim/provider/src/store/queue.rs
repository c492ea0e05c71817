//! The delivery queue (`deliveries`): pushes into intakes and hand-overs to peer providers,
//! with their state, attempts, last error and the virtual times that drive retries and the
//! PVD-FU §4.2 report; due jobs come out ordered by `(next_attempt_at, id)`.

use super::*;

/// A push waiting in the durable queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedDelivery {
    /// Queue position (SQLite rowid); pushes go out in this order.
    pub id: i64,
    pub target: SocketAddr,
    pub envelope_from: String,
    pub mailbox: String,
    pub message_id: String,
    pub raw: Vec<u8>,
}

/// Where a job of the delivery queue stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// To be tried now: queued, or due and handed to the delivery worker.
    Pending,
    /// Failed temporarily; waits for its `next_attempt_at`.
    Retry,
    /// A 2xx was answered.
    Delivered,
    /// Failed permanently (5xx, or given up after the retry horizon).
    Failed,
}

impl DeliveryState {
    /// The state's name in the store and on the HTTP face.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Retry => "retry",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state named `s` (as [`DeliveryState::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryState::Pending,
            DeliveryState::Retry,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A job of the delivery queue with its retry bookkeeping (times are virtual).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Queue position (SQLite rowid).
    pub id: i64,
    /// The receiver: an intake's SMTP listener (push) or a peer provider's relay face.
    pub target: String,
    pub mailbox: String,
    pub message_id: String,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Reason of the last failed attempt.
    pub last_error: Option<String>,
    /// When the delivery worker was handed the job (`None` before that).
    pub queued_at: Option<Timestamp>,
    /// The limit's rule id in `demail_calendar::rules` (`provider-mailbox`, `provider-transfer`).
    pub rule: Option<String>,
    /// The latest instant the limit allows.
    pub due_at: Option<Timestamp>,
    /// When a job in state [`DeliveryState::Retry`] is tried next.
    pub next_attempt_at: Option<Timestamp>,
    /// When the 2xx came.
    pub delivered_at: Option<Timestamp>,
    /// Whether the job was reported as undelivered past its limit.
    pub late_reported: bool,
}

/// What one delivery attempt came to, as recorded in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx at `at`.
    Delivered { at: Timestamp },
    /// A temporary failure; the next attempt is not before `next_attempt_at`.
    Retry {
        reason: String,
        next_attempt_at: Timestamp,
    },
    /// A permanent failure; the job is not tried again.
    Failed { reason: String },
}

/// Columns of [`DeliveryRecord`] in the `deliveries` table.
pub(super) const RECORD_COLUMNS: &str =
    "id, mailbox, message_id, state, attempts, last_error, queued_at,
    rule, due_at, next_attempt_at, delivered_at, late_reported, target FROM deliveries";

/// A [`DeliveryRecord`] row before its state and times are parsed.
pub(super) struct RecordRow {
    id: i64,
    target: String,
    mailbox: String,
    message_id: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    rule: Option<String>,
    /// queued_at, due_at, next_attempt_at, delivered_at.
    times: [Option<i64>; 4],
    late_reported: bool,
}

/// Reads one row selected with [`RECORD_COLUMNS`].
pub(super) fn record_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        id: r.get(0)?,
        target: r.get(12)?,
        mailbox: r.get(1)?,
        message_id: r.get(2)?,
        state: r.get(3)?,
        attempts: r.get(4)?,
        last_error: r.get(5)?,
        rule: r.get(7)?,
        times: [r.get(6)?, r.get(8)?, r.get(9)?, r.get(10)?],
        late_reported: r.get::<_, i64>(11)? != 0,
    })
}

/// Parses a row read by [`record_row`].
pub(super) fn parse_record(row: RecordRow) -> Result<DeliveryRecord> {
    let id = row.id;
    let [queued_at, due_at, next_attempt_at, delivered_at] =
        row.times.map(|t| t.map(unix).transpose());
    Ok(DeliveryRecord {
        id,
        target: row.target,
        mailbox: row.mailbox,
        message_id: row.message_id,
        state: DeliveryState::parse(&row.state)
            .ok_or_else(|| anyhow!("delivery {id}: unknown state {:?}", row.state))?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        last_error: row.last_error,
        queued_at: queued_at?,
        rule: row.rule,
        due_at: due_at?,
        next_attempt_at: next_attempt_at?,
        delivered_at: delivered_at?,
        late_reported: row.late_reported,
    })
}

/// A [`QueuedDelivery`] row before its target is parsed.
pub(super) type QueuedRow = (i64, String, String, String, String, Vec<u8>);

pub(super) fn queued_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

pub(super) fn parse_queued(row: QueuedRow) -> Result<QueuedDelivery> {
    let (id, target, envelope_from, mailbox, message_id, raw) = row;
    let target = target
        .parse()
        .with_context(|| format!("delivery {id}: bad target {target:?}"))?;
    Ok(QueuedDelivery {
        id,
        target,
        envelope_from,
        mailbox,
        message_id,
        raw,
    })
}

/// The columns the retry schedule added to `deliveries`, with their types.
pub(super) const RETRY_COLUMNS: [(&str, &str); 6] = [
    ("queued_at", "INTEGER"),
    ("rule", "TEXT"),
    ("due_at", "INTEGER"),
    ("next_attempt_at", "INTEGER"),
    ("delivered_at", "INTEGER"),
    ("late_reported", "INTEGER NOT NULL DEFAULT 0"),
];

/// Adds the retry columns to a `deliveries` table written before they existed (its pending
/// jobs are then tried at the next start and get their times then), and the index for due
/// jobs.
pub(super) fn migrate_deliveries(conn: &Connection) -> Result<()> {
    let present: Vec<String> = {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('deliveries')")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (name, ty) in RETRY_COLUMNS {
        if !present.iter().any(|p| p == name) {
            conn.execute_batch(&format!("ALTER TABLE deliveries ADD COLUMN {name} {ty}"))?;
        }
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at, id)",
    )?;
    Ok(())
}

impl Store {
    /// Queues a push of `raw` to `target`; returns its queue id.
    pub fn enqueue(
        &mut self,
        target: SocketAddr,
        envelope_from: &str,
        mailbox: &str,
        message_id: &str,
        raw: &[u8],
    ) -> Result<i64> {
        self.exec(
            "INSERT INTO deliveries (target, envelope_from, mailbox, message_id, raw)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![target.to_string(), envelope_from, mailbox, message_id, raw],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Notes when the delivery worker was handed job `id` and the limit it must meet; only the
    /// first call counts (a job queued again after a restart keeps its times). Returns whether
    /// this call set them.
    pub fn mark_queued(
        &mut self,
        id: i64,
        queued_at: Timestamp,
        rule: &str,
        due_at: Timestamp,
    ) -> Result<bool> {
        let n = self.exec(
            "UPDATE deliveries SET queued_at = ?2, rule = ?3, due_at = ?4
             WHERE id = ?1 AND queued_at IS NULL",
            params![id, queued_at.as_second(), rule, due_at.as_second()],
        )?;
        Ok(n == 1)
    }

    /// Records one attempt of job `id`: delivered, to be retried at a virtual instant, or
    /// failed for good.
    pub fn record_attempt(&mut self, id: i64, outcome: &AttemptOutcome) -> Result<()> {
        match outcome {
            AttemptOutcome::Delivered { at } => self.exec(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                     delivered_at = ?2, next_attempt_at = NULL WHERE id = ?1",
                params![id, at.as_second()],
            )?,
            AttemptOutcome::Retry {
                reason,
                next_attempt_at,
            } => self.exec(
                "UPDATE deliveries SET state = 'retry', attempts = attempts + 1, last_error = ?2,
                     next_attempt_at = ?3 WHERE id = ?1",
                params![id, reason, next_attempt_at.as_second()],
            )?,
            AttemptOutcome::Failed { reason } => self.exec(
                "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, last_error = ?2,
                     next_attempt_at = NULL WHERE id = ?1",
                params![id, reason],
            )?,
        };
        Ok(())
    }

    /// Job `id` of the delivery queue, if there is one.
    pub fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>> {
        self.row(
            &format!("SELECT {RECORD_COLUMNS} WHERE id = ?1"),
            params![id],
            record_row,
        )
        .optional()?
        .map(parse_record)
        .transpose()
    }

    /// The whole delivery queue in queue order (for inspection and tests).
    pub fn deliveries(&self) -> Result<Vec<DeliveryRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {RECORD_COLUMNS} ORDER BY id"))?;
        let rows = stmt.query_map([], record_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(parse_record(row?)?);
        }
        Ok(out)
    }

    /// Up to `limit` jobs after queue id `since`, in queue order, optionally only those in
    /// `state` (the HTTP face's `GET /testbed/deliveries`: one page at a time, so that a long
    /// running queue is never read whole).
    pub fn deliveries_page(
        &self,
        since: i64,
        limit: usize,
        state: Option<DeliveryState>,
    ) -> Result<Vec<DeliveryRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} WHERE id > ?1 AND (?2 IS NULL OR state = ?2)
             ORDER BY id LIMIT ?3"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![since, state.map(DeliveryState::as_str), limit],
            record_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(parse_record(row?)?);
        }
        Ok(out)
    }

    /// Takes the jobs waiting for a retry that is due at `now`, ordered by
    /// `(next_attempt_at, id)`, and sets them pending (handed to the worker). Each comes with
    /// its `next_attempt_at`.
    pub fn take_due(&mut self, now: Timestamp) -> Result<Vec<(Timestamp, QueuedDelivery)>> {
        let due: Vec<(i64, i64)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, next_attempt_at FROM deliveries
                 WHERE state = 'retry' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id",
            )?;
            let rows = stmt.query_map(params![now.as_second()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for (id, at) in due {
            self.exec(
                "UPDATE deliveries SET state = 'pending' WHERE id = ?1",
                params![id],
            )?;
            if let Some(q) = self.queued_delivery(id)? {
                out.push((unix(at)?, q));
            }
        }
        Ok(out)
    }

    /// Takes the jobs not yet delivered (pending or waiting for a retry) whose limit passed
    /// before `now` and that were not reported yet, ordered by `(due_at, id)`, and marks them
    /// reported: each is reported once.
    pub fn take_overdue(&mut self, now: Timestamp) -> Result<Vec<DeliveryRecord>> {
        let mut out = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} WHERE state IN ('pending', 'retry')
                 AND late_reported = 0 AND due_at < ?1 ORDER BY due_at, id"
            ))?;
            let rows = stmt.query_map(params![now.as_second()], record_row)?;
            for row in rows {
                out.push(parse_record(row?)?);
            }
        }
        for r in &mut out {
            self.exec(
                "UPDATE deliveries SET late_reported = 1 WHERE id = ?1",
                params![r.id],
            )?;
            r.late_reported = true;
        }
        Ok(out)
    }

    /// The next virtual instant at which the queue needs a look: the earliest retry, or the
    /// first second after the limit of a job not yet delivered and not yet reported.
    pub fn next_wakeup(&self) -> Result<Option<Timestamp>> {
        let at: Option<i64> = self.row(
            "SELECT MIN(t) FROM (
                 SELECT next_attempt_at AS t FROM deliveries WHERE state = 'retry'
                 UNION ALL
                 SELECT due_at + 1 AS t FROM deliveries
                 WHERE state IN ('pending', 'retry') AND late_reported = 0 AND due_at IS NOT NULL
             )",
            [],
            |r| r.get(0),
        )?;
        at.map(unix).transpose()
    }

    /// One job of the queue as the worker needs it.
    pub(super) fn queued_delivery(&self, id: i64) -> Result<Option<QueuedDelivery>> {
        let row = self
            .row(
                "SELECT id, target, envelope_from, mailbox, message_id, raw FROM deliveries
                 WHERE id = ?1",
                params![id],
                queued_row,
            )
            .optional()?;
        row.map(parse_queued).transpose()
    }

    /// Jobs to be tried now (state pending), in queue order, for a restarted provider. Jobs
    /// waiting for a retry are not among them: [`Store::take_due`] hands them out when due.
    pub fn pending_deliveries(&self) -> Result<Vec<QueuedDelivery>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, target, envelope_from, mailbox, message_id, raw FROM deliveries
             WHERE state = 'pending' ORDER BY id",
        )?;
        let rows = stmt.query_map([], queued_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(parse_queued(row?)?);
        }
        Ok(out)
    }
}
