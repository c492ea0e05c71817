//! Accounts, mailboxes and the delivery queue of the provider, durable in SQLite.
//!
//! Architecture invariant: a message the provider acknowledged (250 after DATA) is durable. The
//! SMTP face answers only after [`Store::commit`] returned, and everything one submission
//! causes (the copies, the confirmations, the Meldungen, the queued pushes, the message
//! counter) is written in one transaction. SQLite runs in WAL mode with `synchronous=NORMAL`,
//! which keeps committed transactions across a crash of the process (kill -9); only a crash of
//! the operating system or power may lose the last transactions (SQLite documentation, "WAL
//! mode", "PRAGMA synchronous").
//!
//! Exactly-once: a mailbox holds a message id at most once (`UNIQUE(mailbox, message_id)`), so
//! delivering the same X-de-mail-message-id again is a no-op ([`Store::deposit`] says so).
//!
//! Accounts come from configuration; they are kept in memory (in an ordered map) and mirrored
//! into the database together with each mailbox's push target, so that a restarted provider
//! resumes queued pushes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::{Context, Result, anyhow};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::AccountConfig;
use crate::demail::{MessageType, normalize_address};

/// Locks a mutex, recovering the data if a holder panicked (the data stays usable).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One account with its mailbox.
#[derive(Clone, Debug)]
pub struct Account {
    pub config: AccountConfig,
    /// Where the mailbox's messages are pushed (an institution's intake), if anywhere.
    pub push_target: Option<SocketAddr>,
}

/// A message laid into a mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// The mailbox (account address).
    pub mailbox: String,
    /// X-de-mail-message-id.
    pub message_id: String,
    /// Message-ID header, with angle brackets.
    pub rfc_message_id: Option<String>,
    /// In-Reply-To header, with angle brackets.
    pub in_reply_to: Option<String>,
    /// X-de-mail-message-type.
    pub message_type: MessageType,
    /// Sender address.
    pub from: String,
    /// Decoded subject.
    pub subject: String,
    /// X-de-mail-private-id.
    pub private_id: Option<String>,
    /// The Eingang: virtual time the message was laid into the mailbox.
    pub stored_at: Timestamp,
    /// The message as stored.
    pub raw: Vec<u8>,
}

/// What the gateway API shows of a stored message (everything but the bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSummary {
    /// Position in the store (SQLite rowid): increases with the Eingang, never reused; the
    /// gateway's paging cursor.
    pub seq: i64,
    /// The mailbox (account address).
    pub mailbox: String,
    /// X-de-mail-message-id.
    pub message_id: String,
    /// Message-ID header, with angle brackets.
    pub rfc_message_id: Option<String>,
    /// In-Reply-To header, with angle brackets.
    pub in_reply_to: Option<String>,
    /// X-de-mail-message-type.
    pub message_type: MessageType,
    /// Sender address.
    pub from: String,
    /// Decoded subject.
    pub subject: String,
    /// X-de-mail-private-id.
    pub private_id: Option<String>,
    /// The Eingang (virtual time).
    pub stored_at: Timestamp,
    /// Size of the stored message in bytes.
    pub size: u64,
    /// When the mailbox's holder first acknowledged it over the gateway API (virtual time).
    pub acknowledged_at: Option<Timestamp>,
}

/// Columns of [`MessageSummary`], for `messages m LEFT JOIN gateway_acks a`.
const SUMMARY_COLUMNS: &str = "m.id, m.mailbox, m.message_id, m.rfc_message_id, m.in_reply_to,
    m.message_type, m.from_addr, m.subject, m.private_id, m.stored_at, length(m.raw), a.acked_at
    FROM messages m LEFT JOIN gateway_acks a
    ON a.mailbox = m.mailbox AND a.message_id = m.message_id";

/// Reads one row selected with [`SUMMARY_COLUMNS`].
fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        seq: r.get(0)?,
        mailbox: r.get(1)?,
        message_id: r.get(2)?,
        rfc_message_id: r.get(3)?,
        in_reply_to: r.get(4)?,
        message_type: r.get(5)?,
        from: r.get(6)?,
        subject: r.get(7)?,
        private_id: r.get(8)?,
        stored_at: r.get(9)?,
        size: r.get(10)?,
        acked_at: r.get(11)?,
    })
}

/// A [`MessageSummary`] row before its text columns are parsed.
struct SummaryRow {
    seq: i64,
    mailbox: String,
    message_id: String,
    rfc_message_id: Option<String>,
    in_reply_to: Option<String>,
    message_type: String,
    from: String,
    subject: String,
    private_id: Option<String>,
    stored_at: String,
    size: i64,
    acked_at: Option<String>,
}

impl SummaryRow {
    fn parse(self) -> Result<MessageSummary> {
        let message_type = MessageType::parse(&self.message_type)
            .ok_or_else(|| anyhow!("stored message type {:?} unknown", self.message_type))?;
        let stored_at = self
            .stored_at
            .parse()
            .with_context(|| format!("stored time {:?} unreadable", self.stored_at))?;
        let acknowledged_at = match self.acked_at {
            Some(at) => Some(
                at.parse()
                    .with_context(|| format!("acknowledgement time {at:?} unreadable"))?,
            ),
            None => None,
        };
        Ok(MessageSummary {
            seq: self.seq,
            mailbox: self.mailbox,
            message_id: self.message_id,
            rfc_message_id: self.rfc_message_id,
            in_reply_to: self.in_reply_to,
            message_type,
            from: self.from,
            subject: self.subject,
            private_id: self.private_id,
            stored_at,
            size: u64::try_from(self.size).unwrap_or(0),
            acknowledged_at,
        })
    }
}

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

/// All accounts and mailboxes of one provider.
pub struct Store {
    conn: Connection,
    accounts: BTreeMap<String, Account>,
    /// Whether a transaction is open.
    in_transaction: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("accounts", &self.accounts.len())
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    address     TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    max_level   TEXT NOT NULL,
    push_target TEXT
);
CREATE TABLE IF NOT EXISTS messages (
    id             INTEGER PRIMARY KEY,
    mailbox        TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    rfc_message_id TEXT,
    in_reply_to    TEXT,
    message_type   TEXT NOT NULL,
    from_addr      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    private_id     TEXT,
    stored_at      TEXT NOT NULL,
    raw            BLOB NOT NULL,
    UNIQUE (mailbox, message_id)
);
CREATE TABLE IF NOT EXISTS trash (
    mailbox    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    trashed_at TEXT NOT NULL,
    PRIMARY KEY (mailbox, message_id)
);
CREATE TABLE IF NOT EXISTS send_log (
    account    TEXT NOT NULL,
    day        TEXT NOT NULL,
    messages   INTEGER NOT NULL,
    recipients INTEGER NOT NULL,
    PRIMARY KEY (account, day)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id            INTEGER PRIMARY KEY,
    target        TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    mailbox       TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    raw           BLOB NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT
);
-- The gateway API (gateway.rs): acknowledgements of an institution's intake and webhook URLs.
-- Separate tables, so that a database from before the gateway opens unchanged.
CREATE TABLE IF NOT EXISTS gateway_acks (
    mailbox    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    acked_at   TEXT NOT NULL,
    PRIMARY KEY (mailbox, message_id)
);
CREATE TABLE IF NOT EXISTS gateway_webhooks (
    mailbox TEXT PRIMARY KEY,
    url     TEXT NOT NULL
);
";

impl Store {
    /// Opens (or creates) the store at `path`, or an in-memory one for `None`, and registers
    /// the configured accounts.
    pub fn open(path: Option<&Path>, accounts: &[AccountConfig]) -> Result<Self> {
        let conn = match path {
            Some(p) => {
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                Connection::open(p).with_context(|| format!("opening {}", p.display()))?
            }
            None => Connection::open_in_memory().context("opening an in-memory store")?,
        };
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .context("setting SQLite pragmas")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA).context("creating the schema")?;
        let mut store = Self {
            conn,
            accounts: BTreeMap::new(),
            in_transaction: false,
        };
        for a in accounts {
            store.register(a)?;
        }
        Ok(store)
    }

    fn register(&mut self, a: &AccountConfig) -> Result<()> {
        let address = normalize_address(&a.address);
        let push: Option<String> = self
            .conn
            .query_row(
                "SELECT push_target FROM accounts WHERE address = ?1",
                params![address],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        self.conn.execute(
            "INSERT INTO accounts (address, holder, kind, max_level) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(address) DO UPDATE SET holder = ?2, kind = ?3, max_level = ?4",
            params![
                address,
                a.holder,
                format!("{:?}", a.kind),
                a.max_auth_level.as_str()
            ],
        )?;
        self.accounts.insert(
            address,
            Account {
                config: a.clone(),
                push_target: push.and_then(|p| p.parse().ok()),
            },
        );
        Ok(())
    }

    /// The account with this address.
    pub fn account(&self, address: &str) -> Option<Account> {
        self.accounts.get(&normalize_address(address)).cloned()
    }

    /// Sets an account's push target (kept across restarts).
    pub fn set_push_target(&mut self, mailbox: &str, target: SocketAddr) -> Result<()> {
        let address = normalize_address(mailbox);
        let Some(a) = self.accounts.get_mut(&address) else {
            return Err(anyhow!("no account {mailbox} to push to"));
        };
        a.push_target = Some(target);
        self.conn.execute(
            "UPDATE accounts SET push_target = ?2 WHERE address = ?1",
            params![address, target.to_string()],
        )?;
        Ok(())
    }

    /// Opens a transaction; everything until [`Store::commit`] is written together or not at
    /// all.
    pub fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.in_transaction = true;
        Ok(())
    }

    /// Commits the open transaction (durable when it returns).
    pub fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.in_transaction = false;
        Ok(())
    }

    /// Rolls the open transaction back, if any.
    pub fn rollback(&mut self) {
        if self.in_transaction {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.in_transaction = false;
        }
    }

    /// Allocates the next X-de-mail-message-id: a per-provider sequence kept in the database,
    /// so ids are deterministic for a given order of submissions and never reused after a
    /// restart.
    pub fn next_message_id(&mut self, provider_domain: &str) -> Result<String> {
        self.conn.execute(
            "INSERT INTO meta (name, value) VALUES ('next_message', 1)
             ON CONFLICT(name) DO UPDATE SET value = value + 1",
            [],
        )?;
        let n: i64 = self.conn.query_row(
            "SELECT value FROM meta WHERE name = 'next_message'",
            [],
            |r| r.get(0),
        )?;
        Ok(format!("m{n:06}@{provider_domain}"))
    }

    /// Lays a message into its mailbox. Returns `false` when the mailbox already holds this
    /// X-de-mail-message-id (delivered before: exactly once).
    pub fn deposit(&mut self, m: &StoredMessage) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO messages
             (mailbox, message_id, rfc_message_id, in_reply_to, message_type, from_addr, subject,
              private_id, stored_at, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                normalize_address(&m.mailbox),
                m.message_id,
                m.rfc_message_id,
                m.in_reply_to,
                m.message_type.as_str(),
                m.from,
                m.subject,
                m.private_id,
                m.stored_at.to_string(),
                m.raw,
            ],
        )?;
        Ok(n == 1)
    }

    /// Moves a message into the mailbox's Papierkorb (first stage of deletion, PVD-FU Funktion
    /// 13); false if it was there already.
    pub fn trash(&mut self, mailbox: &str, message_id: &str, at: Timestamp) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO trash (mailbox, message_id, trashed_at) VALUES (?1, ?2, ?3)",
            params![normalize_address(mailbox), message_id, at.to_string()],
        )?;
        Ok(n == 1)
    }

    /// Whether the message is in the mailbox's Papierkorb.
    pub fn is_trashed(&self, mailbox: &str, message_id: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM trash WHERE mailbox = ?1 AND message_id = ?2",
                params![normalize_address(mailbox), message_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Deletes a message from the Papierkorb for good (second stage); false if it was not
    /// in the Papierkorb.
    pub fn purge(&mut self, mailbox: &str, message_id: &str) -> Result<bool> {
        let mailbox = normalize_address(mailbox);
        let n = self.conn.execute(
            "DELETE FROM trash WHERE mailbox = ?1 AND message_id = ?2",
            params![mailbox, message_id],
        )?;
        if n == 0 {
            return Ok(false);
        }
        self.conn.execute(
            "DELETE FROM messages WHERE mailbox = ?1 AND message_id = ?2",
            params![mailbox, message_id],
        )?;
        Ok(true)
    }

    /// Whether any mailbox of this provider holds `message_id`.
    pub fn message_id_exists(&self, message_id: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM messages WHERE message_id = ?1 LIMIT 1",
                params![message_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Messages and recipients `account` sent on `day` (YYYY-MM-DD) while logged in at level
    /// normal (PVD-FU §3.1.1.1 counts those).
    pub fn sent_on(&self, account: &str, day: &str) -> Result<(u32, u32)> {
        Ok(self
            .conn
            .query_row(
                "SELECT messages, recipients FROM send_log WHERE account = ?1 AND day = ?2",
                params![normalize_address(account), day],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, 0)))
    }

    /// Counts one message to `recipients` recipients for `account` on `day`.
    pub fn record_sent(&mut self, account: &str, day: &str, recipients: u32) -> Result<()> {
        self.conn.execute(
            "INSERT INTO send_log (account, day, messages, recipients) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT(account, day) DO UPDATE SET messages = messages + 1,
                 recipients = recipients + ?3",
            params![normalize_address(account), day, recipients],
        )?;
        Ok(())
    }

    /// Queues a push of `raw` to `target`; returns its queue id.
    pub fn enqueue(
        &mut self,
        target: SocketAddr,
        envelope_from: &str,
        mailbox: &str,
        message_id: &str,
        raw: &[u8],
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO deliveries (target, envelope_from, mailbox, message_id, raw)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![target.to_string(), envelope_from, mailbox, message_id, raw],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the outcome of a push: `Ok` = delivered, `Err((permanent, reason))` = failed.
    pub fn delivery_result(&mut self, id: i64, outcome: Result<(), (bool, String)>) -> Result<()> {
        match outcome {
            Ok(()) => self.conn.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1 WHERE id = ?1",
                params![id],
            )?,
            Err((permanent, reason)) => self.conn.execute(
                "UPDATE deliveries SET state = ?2, attempts = attempts + 1, last_error = ?3
                 WHERE id = ?1",
                params![id, if permanent { "failed" } else { "pending" }, reason],
            )?,
        };
        Ok(())
    }

    /// Pushes still pending, in queue order (for a restarted provider).
    pub fn pending_deliveries(&self) -> Result<Vec<QueuedDelivery>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, target, envelope_from, mailbox, message_id, raw FROM deliveries
             WHERE state = 'pending' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Vec<u8>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, target, envelope_from, mailbox, message_id, raw) = row?;
            let target = target
                .parse()
                .with_context(|| format!("delivery {id}: bad target {target:?}"))?;
            out.push(QueuedDelivery {
                id,
                target,
                envelope_from,
                mailbox,
                message_id,
                raw,
            });
        }
        Ok(out)
    }

    /// A mailbox's messages in Eingang order.
    pub fn mailbox(&self, address: &str) -> Result<Vec<StoredMessage>> {
        let mut stmt = self.conn.prepare(
            "SELECT mailbox, message_id, rfc_message_id, in_reply_to, message_type, from_addr,
                    subject, private_id, stored_at, raw
             FROM messages WHERE mailbox = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![normalize_address(address)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, Vec<u8>>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mailbox, message_id, rfc, irt, mtype, from, subject, pid, at, raw) = row?;
            out.push(StoredMessage {
                mailbox,
                message_id,
                rfc_message_id: rfc,
                in_reply_to: irt,
                message_type: MessageType::parse(&mtype)
                    .ok_or_else(|| anyhow!("stored message type {mtype:?} unknown"))?,
                from,
                subject,
                private_id: pid,
                stored_at: at
                    .parse()
                    .with_context(|| format!("stored time {at:?} unreadable"))?,
                raw,
            });
        }
        Ok(out)
    }

    /// The account whose gateway API token is `token` (`api_token`; accounts without a token,
    /// or with an empty one, have no API access). Compares in constant time per account.
    pub fn account_by_token(&self, token: &str) -> Option<Account> {
        if token.is_empty() {
            return None;
        }
        self.accounts
            .values()
            .find(|a| {
                a.config.api_token.as_deref().is_some_and(|t| {
                    !t.is_empty() && constant_time_eq(t.as_bytes(), token.as_bytes())
                })
            })
            .cloned()
    }

    /// A page of a mailbox's messages for the gateway API, in Eingang order: those after
    /// position `after` ([`MessageSummary::seq`]), at most `limit`, acknowledged ones only if
    /// asked.
    pub fn message_summaries(
        &self,
        mailbox: &str,
        after: i64,
        limit: usize,
        include_acknowledged: bool,
    ) -> Result<Vec<MessageSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}
             WHERE m.mailbox = ?1 AND m.id > ?2 AND (?3 OR a.acked_at IS NULL)
             ORDER BY m.id LIMIT ?4"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![
                normalize_address(mailbox),
                after,
                include_acknowledged,
                limit
            ],
            summary_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.parse()?);
        }
        Ok(out)
    }

    /// One message of a mailbox for the gateway API, if the mailbox holds it.
    pub fn message_summary(
        &self,
        mailbox: &str,
        message_id: &str,
    ) -> Result<Option<MessageSummary>> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} WHERE m.mailbox = ?1 AND m.message_id = ?2");
        self.conn
            .query_row(
                &sql,
                params![normalize_address(mailbox), message_id],
                summary_row,
            )
            .optional()?
            .map(SummaryRow::parse)
            .transpose()
    }

    /// The bytes of one message of a mailbox exactly as stored, if the mailbox holds it.
    pub fn message_raw(&self, mailbox: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT raw FROM messages WHERE mailbox = ?1 AND message_id = ?2",
                params![normalize_address(mailbox), message_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Marks a message of a mailbox as acknowledged by its holder at `at`. Idempotent: the
    /// first acknowledgement's time is kept. Returns the message, or `None` when the mailbox
    /// does not hold it.
    pub fn acknowledge(
        &mut self,
        mailbox: &str,
        message_id: &str,
        at: Timestamp,
    ) -> Result<Option<MessageSummary>> {
        let mailbox = normalize_address(mailbox);
        if self.message_summary(&mailbox, message_id)?.is_none() {
            return Ok(None);
        }
        self.conn.execute(
            "INSERT OR IGNORE INTO gateway_acks (mailbox, message_id, acked_at) VALUES (?1, ?2, ?3)",
            params![mailbox, message_id, at.to_string()],
        )?;
        self.message_summary(&mailbox, message_id)
    }

    /// Sets (`Some`) or removes (`None`) a mailbox's webhook URL (kept across restarts).
    pub fn set_webhook(&mut self, mailbox: &str, url: Option<&str>) -> Result<()> {
        let mailbox = normalize_address(mailbox);
        match url {
            Some(url) => self.conn.execute(
                "INSERT INTO gateway_webhooks (mailbox, url) VALUES (?1, ?2)
                 ON CONFLICT(mailbox) DO UPDATE SET url = ?2",
                params![mailbox, url],
            )?,
            None => self.conn.execute(
                "DELETE FROM gateway_webhooks WHERE mailbox = ?1",
                params![mailbox],
            )?,
        };
        Ok(())
    }

    /// A mailbox's webhook URL, if one is set.
    pub fn webhook(&self, mailbox: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT url FROM gateway_webhooks WHERE mailbox = ?1",
                params![normalize_address(mailbox)],
                |r| r.get(0),
            )
            .optional()?)
    }
}

/// Byte-wise equality whose running time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demail::AuthLevel;
    use crate::provider::AccountKind;

    fn account(address: &str) -> AccountConfig {
        AccountConfig {
            address: address.into(),
            holder: "H".into(),
            kind: AccountKind::Person,
            max_auth_level: AuthLevel::High,
            password: "pw".into(),
            api_token: None,
            access_opened: false,
        }
    }

    fn message(id: &str) -> StoredMessage {
        StoredMessage {
            mailbox: "a@x.de-mail.de".into(),
            message_id: id.into(),
            rfc_message_id: Some("<r@x>".into()),
            in_reply_to: None,
            message_type: MessageType::Normal,
            from: "b@x.de-mail.de".into(),
            subject: "Betreff".into(),
            private_id: Some("P".into()),
            stored_at: "2025-03-03T08:00:00Z".parse().unwrap(),
            raw: b"Subject: Betreff\r\n\r\nx".to_vec(),
        }
    }

    /// What is committed is there after reopening the file: messages, the id counter (never
    /// reused), push targets and pending pushes; a second deposit of the same id is a no-op.
    #[test]
    fn committed_state_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("demail-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("store.sqlite");
        let accounts = [account("a@x.de-mail.de")];
        {
            let mut s = Store::open(Some(&path), &accounts).unwrap();
            s.begin().unwrap();
            assert_eq!(
                s.next_message_id("x.de-mail.de").unwrap(),
                "m000001@x.de-mail.de"
            );
            assert!(s.deposit(&message("m1")).unwrap());
            assert!(
                !s.deposit(&message("m1")).unwrap(),
                "same id twice is a no-op"
            );
            s.set_push_target("a@x.de-mail.de", "127.0.0.1:2525".parse().unwrap())
                .unwrap();
            let q = s
                .enqueue(
                    "127.0.0.1:2525".parse().unwrap(),
                    "b@x",
                    "a@x.de-mail.de",
                    "m1",
                    b"raw",
                )
                .unwrap();
            s.commit().unwrap();
            // An uncommitted transaction is lost.
            s.begin().unwrap();
            s.deposit(&message("m2")).unwrap();
            drop(s);
            let _ = q;
        }
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        let m = s.mailbox("a@x.de-mail.de").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0], message("m1"));
        assert_eq!(
            s.next_message_id("x.de-mail.de").unwrap(),
            "m000002@x.de-mail.de"
        );
        assert_eq!(
            s.account("a@x.de-mail.de").unwrap().push_target,
            Some("127.0.0.1:2525".parse().unwrap())
        );
        let pending = s.pending_deliveries().unwrap();
        assert_eq!(pending.len(), 1);
        s.delivery_result(pending[0].id, Ok(())).unwrap();
        assert!(s.pending_deliveries().unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Gateway state: acknowledgements (first time kept, idempotent) and webhook URLs survive
    /// reopening; paging by position skips acknowledged messages unless asked; a database
    /// written before the gateway tables existed opens and gains them.
    #[test]
    fn gateway_state_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("demail-store-gw-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.sqlite");
        // A database from before the gateway: only the original tables.
        {
            let conn = Connection::open(&path).unwrap();
            let old = SCHEMA.split("-- The gateway API").next().unwrap();
            conn.execute_batch(old).unwrap();
        }
        let mut accounts = vec![account("a@x.de-mail.de")];
        accounts[0].api_token = Some("secret".into());
        let t1: Timestamp = "2025-03-03T09:00:00Z".parse().unwrap();
        let t2: Timestamp = "2025-03-03T10:00:00Z".parse().unwrap();
        {
            let mut s = Store::open(Some(&path), &accounts).unwrap();
            assert!(s.account_by_token("secret").is_some());
            assert!(s.account_by_token("secreT").is_none());
            assert!(s.account_by_token("").is_none());
            s.deposit(&message("m1")).unwrap();
            s.deposit(&message("m2")).unwrap();
            let all = s.message_summaries("a@x.de-mail.de", 0, 10, false).unwrap();
            assert_eq!(all.len(), 2);
            assert_eq!(all[0].size, message("m1").raw.len() as u64);
            let a = s.acknowledge("a@x.de-mail.de", "m1", t1).unwrap().unwrap();
            assert_eq!(a.acknowledged_at, Some(t1));
            let again = s.acknowledge("a@x.de-mail.de", "m1", t2).unwrap().unwrap();
            assert_eq!(again, a, "a second acknowledgement changes nothing");
            assert!(
                s.acknowledge("a@x.de-mail.de", "nope", t1)
                    .unwrap()
                    .is_none()
            );
            s.set_webhook("a@x.de-mail.de", Some("http://127.0.0.1:9/h"))
                .unwrap();
        }
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        let open = s.message_summaries("a@x.de-mail.de", 0, 10, false).unwrap();
        assert_eq!(
            open.iter()
                .map(|m| m.message_id.as_str())
                .collect::<Vec<_>>(),
            ["m2"]
        );
        let all = s.message_summaries("a@x.de-mail.de", 0, 10, true).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].acknowledged_at, Some(t1));
        let after = s
            .message_summaries("a@x.de-mail.de", all[0].seq, 10, true)
            .unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(
            s.message_raw("a@x.de-mail.de", "m2").unwrap().unwrap(),
            message("m2").raw
        );
        assert_eq!(
            s.webhook("a@x.de-mail.de").unwrap().as_deref(),
            Some("http://127.0.0.1:9/h")
        );
        s.set_webhook("a@x.de-mail.de", None).unwrap();
        assert_eq!(s.webhook("a@x.de-mail.de").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
