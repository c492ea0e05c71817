//! What the web UI (`crate::ui`, `docs/ui.md`) reads: the accounts, message counts per
//! mailbox, a page of a mailbox's messages with their bytes (newest first), the messages a
//! confirmation or Meldung refers to and back (by Message-ID and In-Reply-To), and the latest
//! jobs of the delivery queue. Read-only: nothing here writes.
//!
//! The look-ups by Message-ID and In-Reply-To use two indexes that [`Store::ensure_ui_indexes`]
//! makes when the UI is switched on (`serve --ui`), so that a provider without the UI pays
//! nothing for them at every submission.

use super::gateway_tables::{SUMMARY_COLUMNS, SummaryRow, summary_row};
use super::queue::{RECORD_COLUMNS, parse_record, record_row};
use super::*;

/// A message as the UI's lists show it: the summary and, when it is small enough, its bytes.
#[derive(Clone, Debug)]
pub struct UiMessage {
    pub summary: MessageSummary,
    /// The whole message when it has at most [`UI_LIST_RAW_BYTES`]; otherwise its header block
    /// only (then [`UiMessage::whole`] is false).
    pub raw: Vec<u8>,
    /// Whether [`UiMessage::raw`] is the whole message (the seal can be checked).
    pub whole: bool,
}

/// Messages larger than this are listed with their header block only (the seal is checked on
/// the message's own page), so a page of the list never reads more than
/// `limit × UI_LIST_RAW_BYTES` from the store.
pub const UI_LIST_RAW_BYTES: i64 = 1024 * 1024;

impl Store {
    /// Makes the indexes the UI's look-ups by Message-ID and In-Reply-To use (idempotent).
    pub fn ensure_ui_indexes(&self) -> Result<()> {
        self.conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS messages_rfc_message_id ON messages (rfc_message_id);
             CREATE INDEX IF NOT EXISTS messages_in_reply_to ON messages (in_reply_to);",
        )?;
        Ok(())
    }

    /// Every account, ordered by address.
    pub fn accounts(&self) -> Vec<Account> {
        self.accounts.values().cloned().collect()
    }

    /// Messages per mailbox (all, and those not acknowledged over the gateway API or POP3).
    pub fn mailbox_counts(&self) -> Result<BTreeMap<String, (u64, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.mailbox, count(*), sum(a.acked_at IS NULL)
             FROM messages m LEFT JOIN gateway_acks a
             ON a.mailbox = m.mailbox AND a.message_id = m.message_id
             GROUP BY m.mailbox",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (mailbox, all, open) = row?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            out.insert(mailbox, (n(all), n(open.unwrap_or(0))));
        }
        Ok(out)
    }

    /// The highest message position of the store (0 when empty): changes whenever a message is
    /// committed, which is what the UI's live view polls for.
    pub fn latest_message_seq(&self) -> Result<i64> {
        Ok(
            self.row("SELECT coalesce(max(id), 0) FROM messages", [], |r| {
                r.get(0)
            })?,
        )
    }

    /// A page of a mailbox's messages, newest first: those before position `before` (`None`:
    /// from the newest), at most `limit`, acknowledged ones included.
    pub fn ui_messages(
        &self,
        mailbox: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<UiMessage>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS_RAW}
             WHERE m.mailbox = ?1 AND m.id < ?2
             ORDER BY m.id DESC LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![
                normalize_address(mailbox),
                before.unwrap_or(i64::MAX),
                limit,
                UI_LIST_RAW_BYTES
            ],
            ui_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (summary, raw) = row?;
            let summary = summary.parse()?;
            let whole = summary.size <= UI_LIST_RAW_BYTES as u64;
            out.push(UiMessage {
                summary,
                raw,
                whole,
            });
        }
        Ok(out)
    }

    /// Every message of any mailbox whose `column` (`rfc_message_id` or `in_reply_to`) is
    /// `value`, in Eingang order, at most 100.
    fn summaries_where(&self, column: UiLink, value: &str) -> Result<Vec<MessageSummary>> {
        let column = match column {
            UiLink::MessageId => "m.rfc_message_id",
            UiLink::InReplyTo => "m.in_reply_to",
        };
        let sql = format!("SELECT {SUMMARY_COLUMNS} WHERE {column} = ?1 ORDER BY m.id LIMIT 100");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![value], summary_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.parse()?);
        }
        Ok(out)
    }

    /// The messages (in any mailbox) whose Message-ID is `rfc_message_id`: the copies of the
    /// message a confirmation or Meldung answers (its In-Reply-To).
    pub fn messages_with_id(&self, rfc_message_id: &str) -> Result<Vec<MessageSummary>> {
        self.summaries_where(UiLink::MessageId, rfc_message_id)
    }

    /// The messages (in any mailbox) whose In-Reply-To is `rfc_message_id`: the confirmations
    /// and Meldungen about that message (and replies to it).
    pub fn replies_to(&self, rfc_message_id: &str) -> Result<Vec<MessageSummary>> {
        self.summaries_where(UiLink::InReplyTo, rfc_message_id)
    }

    /// The latest `limit` jobs of the delivery queue, newest first.
    pub fn latest_deliveries(&self, limit: usize) -> Result<Vec<DeliveryRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} ORDER BY id DESC LIMIT ?1"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![limit], record_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(parse_record(row?)?);
        }
        Ok(out)
    }
}

/// Which header a link between messages follows.
#[derive(Clone, Copy)]
enum UiLink {
    MessageId,
    InReplyTo,
}

/// [`SUMMARY_COLUMNS`] with the message's bytes as column 12: the whole message up to
/// `?4` bytes, else its header block.
const SUMMARY_COLUMNS_RAW: &str = "m.id, m.mailbox, m.message_id, m.rfc_message_id, m.in_reply_to,
    m.message_type, m.from_addr, m.subject, m.private_id, m.stored_at, length(m.raw), a.acked_at,
    CASE WHEN length(m.raw) <= ?4 THEN m.raw
         WHEN instr(m.raw, X'0D0A0D0A') > 0 THEN substr(m.raw, 1, instr(m.raw, X'0D0A0D0A') + 3)
         ELSE substr(m.raw, 1, 65536) END
    FROM messages m LEFT JOIN gateway_acks a
    ON a.mailbox = m.mailbox AND a.message_id = m.message_id";

fn ui_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(SummaryRow, Vec<u8>)> {
    Ok((summary_row(r)?, r.get(12)?))
}
