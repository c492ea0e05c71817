//! The closed-case archive: where a long-running intake (a `load` or soak run) puts what it
//! no longer needs in memory, so that its memory stays flat however many applications
//! arrive (docs/reliability.md, soak).
//!
//! With an archive configured (`IntakeConfig::archive`), at the end of every clock step the
//! intake moves out of memory:
//!
//! - every closed case: replied, no Bescheid still due, and no förmliche Zustellung tracked
//!   under its Aktenzeichen (those stay in memory until the process ends);
//! - every handled piece of evidence;
//! - the trace events beyond the last [`EVENTS_KEPT`] (`GET /testbed/events` then starts at
//!   the oldest one kept; its `next` keeps counting every event).
//!
//! The archive is a SQLite file (WAL, `synchronous=NORMAL`: losing the last step on a power
//! cut costs a duplicate check, not a case, since a case's reply has already gone out). It
//! still answers the two questions that can come after a case closed: is a pushed message a
//! duplicate of a closed case (idempotency by X-de-mail-message-id, PVD-IO §3.1.13), and
//! which case does a confirmation carrying an Aktenzeichen as private-id belong to.
//!
//! Without an archive (scenario runs) everything stays in memory: the checks and
//! `GET /testbed/cases` read it.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Case, Evidence, IntakeState};

/// How many trace events an intake with an archive keeps in memory.
pub const EVENTS_KEPT: usize = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS closed_cases (
    mailbox      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    aktenzeichen TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (mailbox, message_id)
);
CREATE INDEX IF NOT EXISTS closed_cases_aktenzeichen ON closed_cases (aktenzeichen);
CREATE TABLE IF NOT EXISTS handled_evidence (
    id     INTEGER PRIMARY KEY,
    record TEXT NOT NULL
);
";

/// The SQLite file of closed cases and handled evidence.
pub struct Archive {
    conn: Connection,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive").finish_non_exhaustive()
    }
}

impl Archive {
    /// Opens (or creates) the archive at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening the case archive {}", path.display()))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .context("setting the case archive's SQLite pragmas")?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("creating the case archive's tables in {}", path.display()))?;
        Ok(Self { conn })
    }

    /// The Aktenzeichen of the closed case opened for `message_id` in `mailbox`.
    pub fn duplicate_of(&self, mailbox: &str, message_id: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached(
                "SELECT aktenzeichen FROM closed_cases WHERE mailbox = ?1 AND message_id = ?2",
            )?
            .query_row(params![mailbox, message_id], |r| r.get(0))
            .optional()
            .context("looking up a closed case")
    }

    /// The X-de-mail-message-id of the closed case with `aktenzeichen`.
    pub fn message_id_of(&self, aktenzeichen: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT message_id FROM closed_cases WHERE aktenzeichen = ?1")?
            .query_row(params![aktenzeichen], |r| r.get(0))
            .optional()
            .context("looking up a closed case by Aktenzeichen")
    }

    /// The Aktenzeichen of the closed case opened for `message_id` in any mailbox.
    pub fn aktenzeichen_of(&self, message_id: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT aktenzeichen FROM closed_cases WHERE message_id = ?1")?
            .query_row(params![message_id], |r| r.get(0))
            .optional()
            .context("looking up a closed case by message id")
    }

    /// How many closed cases the archive holds.
    pub fn closed_cases(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM closed_cases", [], |r| r.get(0))
            .context("counting closed cases")
    }

    /// Moves what `state` no longer needs into the archive, in one transaction. Returns how
    /// many cases moved. Nothing leaves memory unless it was written.
    pub fn sweep(&mut self, state: &mut IntakeState) -> Result<usize> {
        let (closed, open): (Vec<Case>, Vec<Case>) = state
            .cases
            .take()
            .into_iter()
            .partition(|c| is_closed(c, state));
        let (handled, pending): (Vec<Evidence>, Vec<Evidence>) =
            std::mem::take(&mut state.evidence)
                .into_iter()
                .partition(|e| e.handled);
        let written = self.write(&closed, &handled);
        state.cases.replace(open);
        state.evidence = pending;
        if let Err(e) = written {
            // Keep everything in memory; the next step tries again.
            let mut all = state.cases.take();
            all.extend(closed);
            state.cases.replace(all);
            state.evidence.extend(handled);
            return Err(e);
        }
        if state.events.len() > EVENTS_KEPT {
            let drop = state.events.len() - EVENTS_KEPT;
            state.events.drain(..drop);
            state.events_dropped += drop;
        }
        Ok(closed.len())
    }

    fn write(&mut self, cases: &[Case], evidence: &[Evidence]) -> Result<()> {
        if cases.is_empty() && evidence.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction()
            .context("opening an archive transaction")?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO closed_cases (mailbox, message_id, aktenzeichen, record) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for c in cases {
                let record = serde_json::to_string(c).context("a closed case as JSON")?;
                put.execute(params![
                    c.mailbox,
                    c.demail_message_id,
                    c.aktenzeichen,
                    record
                ])
                .context("archiving a closed case")?;
            }
            let mut put = tx.prepare_cached("INSERT INTO handled_evidence (record) VALUES (?1)")?;
            for e in evidence {
                let record = serde_json::to_string(e).context("evidence as JSON")?;
                put.execute(params![record])
                    .context("archiving handled evidence")?;
            }
        }
        tx.commit().context("committing the archive transaction")
    }
}

/// Whether `case` needs nothing more: replied, no Bescheid due, no förmliche Zustellung
/// tracked under its Aktenzeichen.
fn is_closed(case: &Case, state: &IntakeState) -> bool {
    case.replied
        && (case.bescheid_due.is_none() || case.bescheid_sent)
        && !state
            .services
            .iter()
            .any(|s| s.aktenzeichen == case.aktenzeichen)
}
