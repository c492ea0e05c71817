//! The closed-case archive: where a long-running intake (a `load` or soak run) puts what it
//! no longer needs in memory, so that its memory stays flat however many applications
//! arrive (docs/reliability.md, soak).
//!
//! With an archive configured (`IntakeConfig::archive`), at the end of a clock step the intake
//! moves out of memory:
//!
//! - every closed case: replied, no Bescheid still due, and no förmliche Zustellung tracked
//!   under its Aktenzeichen (those stay in memory until the process ends);
//! - every handled piece of evidence.
//!
//! It does so once the cases and evidence in memory are more than twice what the last sweep
//! left there (the first step with any does). A sweep is a pass over everything in memory and
//! rebuilds the case indices: sweeping at every step cost a month of 26,400 arrivals 30 % of
//! its wall time (docs/benchmarks.md); this way a sweep's cost is spread over as many new
//! cases as it leaves open (amortized constant per case), and memory stays within about twice
//! the open cases.
//!
//! With or without an archive, at the start of a clock step the events beyond the last
//! [`EVENTS_KEPT`] leave memory once [`TRIM_BATCH`] more have gathered ([`trim_events`];
//! `GET /testbed/events` then starts at the oldest one kept, its `next` keeps counting every
//! event).
//!
//! The archive is a SQLite file (WAL, `synchronous=NORMAL`: losing the last step on a power
//! cut costs a duplicate check, not a case, since a case's reply has already gone out). It
//! still answers the two questions that can come after a case closed: is a pushed message a
//! duplicate of a closed case (idempotency by X-de-mail-message-id, PVD-IO §3.1.18), and
//! which case does a confirmation carrying an Aktenzeichen as private-id belong to.
//!
//! Without an archive (scenario runs) cases and evidence stay in memory: `GET /testbed/cases`
//! lists them all.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Case, Evidence, IntakeState};

/// How many of its latest trace events the intake keeps at least (with or without an
/// archive; at most [`TRIM_BATCH`] more): the runner drains them after every settle, so a
/// window this long loses nothing it reads.
pub const EVENTS_KEPT: usize = 10_000;

/// How many events beyond [`EVENTS_KEPT`] gather before they are trimmed. Trimming at every
/// step moved the whole window each time (3 % of a simulated year's CPU, docs/benchmarks.md);
/// a batch as large as the window let memory grow for minutes of a load (the soak saw +11 %
/// after its warm-up): a fifth of it moves the window once per 2,000 events and reaches its
/// size early.
pub const TRIM_BATCH: usize = EVENTS_KEPT / 5;

/// Forgets all but the last [`EVENTS_KEPT`] events once [`TRIM_BATCH`] more have gathered
/// (start of a clock step).
pub(crate) fn trim_events(state: &mut IntakeState) {
    if state.events.len() >= EVENTS_KEPT + TRIM_BATCH {
        let drop = state.events.len() - EVENTS_KEPT;
        state.events.drain(..drop);
        state.events_dropped += drop;
    }
}

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
    /// Cases and evidence the last sweep left in memory.
    left_in_memory: usize,
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
        Ok(Self {
            conn,
            left_in_memory: 0,
        })
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

    /// Moves what `state` no longer needs into the archive, in one transaction, once what is
    /// in memory has more than doubled since the last sweep (module documentation). Returns
    /// how many cases moved. Nothing leaves memory unless it was written; after a failed
    /// write the next step tries again.
    pub fn sweep(&mut self, state: &mut IntakeState) -> Result<usize> {
        if state.cases.len() + state.evidence.len() <= 2 * self.left_in_memory {
            return Ok(0);
        }
        let served: std::collections::HashSet<String> = state
            .services
            .iter()
            .map(|s| s.aktenzeichen.clone())
            .collect();
        let (closed, open): (Vec<Case>, Vec<Case>) = state
            .cases
            .take()
            .into_iter()
            .partition(|c| is_closed(c, &served));
        let (handled, pending): (Vec<Evidence>, Vec<Evidence>) =
            std::mem::take(&mut state.evidence)
                .into_iter()
                .partition(|e| e.handled);
        let written = self.write(&closed, &handled);
        let left = open.len() + pending.len();
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
        self.left_in_memory = left;
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
fn is_closed(case: &Case, served: &std::collections::HashSet<String>) -> bool {
    case.replied
        && (case.bescheid_due.is_none() || case.bescheid_sent)
        && !served.contains(&case.aktenzeichen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use demail_core::trace::EventKind;

    /// Without an archive too, the last EVENTS_KEPT events stay once TRIM_BATCH more have
    /// gathered, and the count of those gone keeps `GET /testbed/events` numbering every event.
    #[test]
    fn trim_keeps_the_last_events_and_counts_the_rest() {
        let mut state = IntakeState::default();
        let event = |i: usize| EventKind::IntakeFallback {
            aktenzeichen: format!("A-{i}"),
            channel: "postal".into(),
            reason: String::new(),
        };
        state.events = (0..EVENTS_KEPT + TRIM_BATCH - 1).map(event).collect();
        trim_events(&mut state);
        assert_eq!(
            state.events_dropped, 0,
            "fewer than a batch beyond the window: kept"
        );
        state.events.push(event(EVENTS_KEPT + TRIM_BATCH - 1));
        state.events.push(event(EVENTS_KEPT + TRIM_BATCH));
        trim_events(&mut state);
        assert_eq!(state.events.len(), EVENTS_KEPT);
        assert_eq!(state.events_dropped, TRIM_BATCH + 1);
        let first = format!("A-{}", TRIM_BATCH + 1);
        assert!(matches!(&state.events[0],
            EventKind::IntakeFallback { aktenzeichen, .. } if *aktenzeichen == first));
        trim_events(&mut state);
        assert_eq!(state.events_dropped, TRIM_BATCH + 1, "nothing more to trim");
    }

    /// A sweep moves the closed cases only once what is in memory has more than doubled
    /// since the last one (amortized cost), and what it moved still answers as a duplicate.
    #[test]
    fn sweeps_when_memory_has_doubled() {
        use crate::cases::case_for_test as case;
        let path = std::env::temp_dir().join(format!(
            "demail-archive-sweep-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let mut archive = Archive::open(&path).unwrap();
        let mut state = IntakeState::default();
        state.cases.push(case("A-1", "m1", "x@", false, false));
        assert_eq!(archive.sweep(&mut state).unwrap(), 0, "nothing closed yet");
        // One open case left: two in memory are not more than twice that.
        state.cases.push(case("A-2", "m2", "x@", true, false));
        assert_eq!(archive.sweep(&mut state).unwrap(), 0, "not yet doubled");
        assert_eq!(state.cases.len(), 2);
        // A Bescheid still due keeps a replied case open.
        state.cases.push(case("A-3", "m3", "x@", true, true));
        assert_eq!(archive.sweep(&mut state).unwrap(), 1, "doubled: A-2 moves");
        assert_eq!(state.cases.len(), 2, "A-1 and A-3 stay");
        assert_eq!(archive.closed_cases().unwrap(), 1);
        assert_eq!(
            archive.duplicate_of("x@", "m2").unwrap().as_deref(),
            Some("A-2")
        );
        // Two left: the next sweep comes with more than four in memory.
        for i in 4..=5 {
            let az = format!("A-{i}");
            state
                .cases
                .push(case(&az, &format!("m{i}"), "x@", true, false));
        }
        assert_eq!(archive.sweep(&mut state).unwrap(), 0, "four: not yet");
        assert_eq!(state.cases.len(), 4);
        state.cases.push(case("A-6", "m6", "x@", true, false));
        assert_eq!(
            archive.sweep(&mut state).unwrap(),
            3,
            "five: A-4 to A-6 move"
        );
        assert_eq!(archive.closed_cases().unwrap(), 4);
        let _ = std::fs::remove_file(&path);
    }
}
