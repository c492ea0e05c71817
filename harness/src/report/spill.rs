//! Where the reports' analysis keeps what grows with a run's length, so that the analysis of a
//! year holds no more in memory than that of a day: SQLite's private temporary database (an
//! empty file name; its pages stay in a small cache and spill to a file in the temporary
//! directory that SQLite deletes when the connection closes, i.e. with the last report that
//! reads it).
//!
//! Four tables: the first arrival of each message in the mailbox of a citizen who sent
//! (`stored`), the first acceptance of each message to a sender waiting for a reply
//! (`first_accept`), the citizens' accepted messages with their reply (`sends`), and the
//! latencies (`latencies`), read back in report order (send, then the event that announced
//! the answer) through [`Latencies`].

use std::fmt;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

use super::analysis::{Latency, LatencyKind};

const SCHEMA: &str = "
CREATE TABLE stored (mailbox TEXT NOT NULL, message_id TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (mailbox, message_id)) WITHOUT ROWID;
CREATE TABLE first_accept (message_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE sends (seq INTEGER PRIMARY KEY, accepted INTEGER NOT NULL, at TEXT NOT NULL, at_ns INTEGER,
    citizen TEXT NOT NULL, sender TEXT NOT NULL, subject TEXT NOT NULL, message_id TEXT NOT NULL,
    reply_id TEXT, reply_arrival TEXT, claimed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX sends_by_message ON sends (message_id, accepted);
CREATE INDEX sends_by_instant ON sends (at_ns, seq);
CREATE TABLE latencies (send_seq INTEGER NOT NULL, answer_seq INTEGER NOT NULL,
    tie INTEGER NOT NULL, kind INTEGER NOT NULL, detail TEXT NOT NULL, answer_id TEXT NOT NULL,
    arrived_at TEXT NOT NULL, seconds INTEGER NOT NULL,
    PRIMARY KEY (send_seq, answer_seq, tie)) WITHOUT ROWID;
";

/// An accepted citizen's message as the deadlines need it.
pub struct StoredSend {
    pub seq: u64,
    pub message_id: String,
    pub subject: String,
    /// The reply's arrival in the citizen's mailbox, if it came.
    pub reply_arrival: Option<String>,
}

/// The analysis's database.
pub struct Spill {
    conn: Mutex<Connection>,
}

/// Stored nanoseconds of an instant (virtual instants of 1678 to 2262 fit).
fn nanos(t: jiff::Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

/// A sequence number as SQLite stores it.
fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Spill {
    /// A fresh private temporary database.
    pub fn create() -> Result<Self> {
        let conn = Connection::open("").context("creating a temporary SQLite database")?;
        // Scratch data: nothing to recover after a crash, so no journal and no syncs; a
        // cache of 4 MiB, beyond which pages go to the temporary file.
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096;",
        )?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch("BEGIN")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the writing (one transaction for the whole analysis).
    pub fn commit(&self) -> Result<()> {
        let conn = self.conn();
        conn.execute_batch("COMMIT")?;
        let bytes: i64 = conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
            [],
            |r| r.get(0),
        )?;
        tracing::debug!(
            "reports' analysis: temporary database of {:.1} MB",
            bytes as f64 / 1e6
        );
        Ok(())
    }

    /// Records a message's arrival in a mailbox; the first one counts.
    pub fn stored(&self, mailbox: &str, message_id: &str, at: &str) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT OR IGNORE INTO stored VALUES (?1, ?2, ?3)")?
            .execute(params![mailbox, message_id, at])?;
        Ok(())
    }

    /// The first arrival of `message_id` in `mailbox`.
    pub fn arrival(&self, mailbox: &str, message_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT at FROM stored WHERE mailbox = ?1 AND message_id = ?2")?
            .query_row(params![mailbox, message_id], |r| r.get(0))
            .optional()?)
    }

    /// Records the first acceptance of `message_id` (the first one counts).
    pub fn first_accept(&self, message_id: &str, at_seq: u64) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT OR IGNORE INTO first_accept VALUES (?1, ?2)")?
            .execute(params![message_id, seq(at_seq)])?;
        Ok(())
    }

    /// The sequence number of `message_id`'s first recorded acceptance.
    pub fn first_accept_of(&self, message_id: &str) -> Result<Option<u64>> {
        let n: Option<i64> = self
            .conn()
            .prepare_cached("SELECT seq FROM first_accept WHERE message_id = ?1")?
            .query_row(params![message_id], |r| r.get(0))
            .optional()?;
        Ok(n.map(|n| n as u64))
    }

    /// Records a citizen's message the provider accepted, the `accepted`-th.
    #[allow(clippy::too_many_arguments)]
    pub fn accepted_send(
        &self,
        send_seq: u64,
        accepted: u64,
        at: &str,
        at_ts: Option<jiff::Timestamp>,
        citizen: &str,
        sender: &str,
        subject: &str,
        message_id: &str,
    ) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO sends (seq, accepted, at, at_ns, citizen, sender, subject, message_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                seq(send_seq),
                seq(accepted),
                at,
                at_ts.map(nanos),
                citizen,
                sender,
                subject,
                message_id
            ])?;
        Ok(())
    }

    /// The send first accepted as `message_id`: its seq, instant and sender.
    pub fn send_of_message(&self, message_id: &str) -> Result<Option<(u64, String, String)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT seq, at, sender FROM sends WHERE message_id = ?1 ORDER BY accepted LIMIT 1",
            )?
            .query_row(params![message_id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }

    /// Records the reply to a send and when it arrived.
    pub fn replied(&self, send_seq: u64, reply_id: &str, arrival: &str) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE sends SET reply_id = ?2, reply_arrival = ?3 WHERE seq = ?1")?
            .execute(params![seq(send_seq), reply_id, arrival])?;
        Ok(())
    }

    /// Claims the first unclaimed accepted send of instant `at` made before event `before`.
    pub fn claim_send_at(&self, at: jiff::Timestamp, before: u64) -> Result<Option<StoredSend>> {
        let conn = self.conn();
        let found = conn
            .prepare_cached(
                "SELECT seq, message_id, subject, reply_arrival FROM sends
                 WHERE at_ns = ?1 AND claimed = 0 AND seq < ?2 ORDER BY seq LIMIT 1",
            )?
            .query_row(params![nanos(at), seq(before)], |r| {
                Ok(StoredSend {
                    seq: r.get::<_, i64>(0)? as u64,
                    message_id: r.get(1)?,
                    subject: r.get(2)?,
                    reply_arrival: r.get(3)?,
                })
            })
            .optional()?;
        if let Some(s) = &found {
            conn.prepare_cached("UPDATE sends SET claimed = 1 WHERE seq = ?1")?
                .execute(params![seq(s.seq)])?;
        }
        Ok(found)
    }

    /// Records one latency; `tie` orders answers announced by the same event.
    #[allow(clippy::too_many_arguments)]
    pub fn latency(
        &self,
        send_seq: u64,
        answer_seq: u64,
        tie: u64,
        kind: LatencyKind,
        detail: &str,
        answer_id: &str,
        arrived_at: &str,
        seconds: i64,
    ) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT INTO latencies VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
            .execute(params![
                seq(send_seq),
                seq(answer_seq),
                seq(tie),
                kind.index() as i64,
                detail,
                answer_id,
                arrived_at,
                seconds
            ])?;
        Ok(())
    }

    fn latency_count(&self) -> Result<usize> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM latencies", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Calls `f` with the latencies in report order, at most `limit`.
    fn each_latency(&self, limit: Option<usize>, mut f: impl FnMut(Latency)) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT l.send_seq, s.citizen, s.subject, s.message_id, s.at, l.kind, l.detail,
                    l.answer_id, l.arrived_at, l.seconds
             FROM latencies l JOIN sends s ON s.seq = l.send_seq
             ORDER BY l.send_seq, l.answer_seq, l.tie LIMIT ?1",
        )?;
        let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut rows = stmt.query(params![limit])?;
        while let Some(r) = rows.next()? {
            let kind = usize::try_from(r.get::<_, i64>(5)?)
                .ok()
                .and_then(|k| LatencyKind::ALL.get(k).copied())
                .unwrap_or(LatencyKind::Reply);
            f(Latency {
                sent_seq: r.get::<_, i64>(0)? as u64,
                citizen: r.get(1)?,
                subject: r.get(2)?,
                message_id: r.get(3)?,
                sent_at: r.get(4)?,
                kind,
                detail: r.get(6)?,
                answer_id: r.get(7)?,
                arrived_at: r.get(8)?,
                seconds: r.get(9)?,
            });
        }
        Ok(())
    }
}

/// A run's latencies, in report order, read from the analysis's database each time they are
/// walked: a long run's list is never held in memory.
#[derive(Clone, Default)]
pub struct Latencies {
    spill: Option<Arc<Spill>>,
    len: usize,
}

impl fmt::Debug for Latencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Latencies({})", self.len)
    }
}

impl Latencies {
    /// The latencies recorded in `spill`.
    pub fn of(spill: Arc<Spill>) -> Result<Self> {
        let len = spill.latency_count()?;
        Ok(Self {
            spill: Some(spill),
            len,
        })
    }

    /// Latencies given by hand (tests, reports built without a run), kept in the order of
    /// their send and then of the list.
    pub fn from_list(list: &[Latency]) -> Result<Self> {
        let spill = Spill::create()?;
        for (i, l) in list.iter().enumerate() {
            let i = i as u64;
            spill
                .conn()
                .prepare_cached(
                    "INSERT OR IGNORE INTO sends (seq, accepted, at, citizen, sender, subject, message_id)
                     VALUES (?1, ?2, ?3, ?4, '', ?5, ?6)",
                )?
                .execute(params![
                    seq(l.sent_seq),
                    seq(i),
                    l.sent_at,
                    l.citizen,
                    l.subject,
                    l.message_id
                ])?;
            spill.latency(
                l.sent_seq,
                i,
                i,
                l.kind,
                &l.detail,
                &l.answer_id,
                &l.arrived_at,
                l.seconds,
            )?;
        }
        spill.commit()?;
        Self::of(Arc::new(spill))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f` with each latency in report order.
    pub fn for_each(&self, f: impl FnMut(Latency)) -> Result<()> {
        match &self.spill {
            Some(s) => s.each_latency(None, f),
            None => Ok(()),
        }
    }

    /// The first `n` latencies in report order.
    pub fn first(&self, n: usize) -> Result<Vec<Latency>> {
        let mut out = Vec::new();
        if let Some(s) = &self.spill {
            s.each_latency(Some(n), |l| out.push(l))?;
        }
        Ok(out)
    }

    /// All latencies, in memory (tests and small runs).
    pub fn to_vec(&self) -> Result<Vec<Latency>> {
        self.first(self.len)
    }
}

impl Serialize for Latencies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        let mut failed = None;
        let read = self.for_each(|l| {
            if failed.is_none()
                && let Err(e) = seq.serialize_element(&l)
            {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| S::Error::custom(format!("reading the latencies back: {e:#}")))?;
        seq.end()
    }
}
