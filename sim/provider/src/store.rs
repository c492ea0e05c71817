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
//!
//! The delivery queue (`deliveries`) keeps, per push or hand-over, its state, the number of
//! attempts, the last error, and the virtual times that drive retries and the PVD-FU §4.2
//! report: `queued_at`, `due_at` (the TR limit), `next_attempt_at`, `delivered_at` (unix
//! seconds of the provider's [`demail_core::clock::VirtualClock`]). The policy (backoff, give-up,
//! limits) lives in [`super::delivery`]; this module only records it, so a restarted provider
//! keeps its retry schedule. Due jobs come out ordered by `(next_attempt_at, id)`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::AccountConfig;
use demail_wire::{MessageType, normalize_address};

pub use demail_core::sync::lock;

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

/// What the POP3 face needs of a message before it is retrieved: its id, type and size, and
/// its header block (to decide the level it needs), not the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaildropEntry {
    /// X-de-mail-message-id.
    pub message_id: String,
    /// X-de-mail-message-type.
    pub message_type: MessageType,
    /// Size of the stored message in bytes.
    pub size: u64,
    /// The header block up to and with the empty line (the whole message if it has none).
    pub header: Vec<u8>,
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

/// Prepared statements kept per connection (rusqlite's default is 16; the submission path,
/// the delivery queue and the gateway use more than that).
const STATEMENT_CACHE: usize = 64;

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
    fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Retry => "retry",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
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
const RECORD_COLUMNS: &str = "id, mailbox, message_id, state, attempts, last_error, queued_at,
    rule, due_at, next_attempt_at, delivered_at, late_reported FROM deliveries";

/// A [`DeliveryRecord`] row before its state and times are parsed.
struct RecordRow {
    id: i64,
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
fn record_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        id: r.get(0)?,
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
fn parse_record(row: RecordRow) -> Result<DeliveryRecord> {
    let id = row.id;
    let [queued_at, due_at, next_attempt_at, delivered_at] =
        row.times.map(|t| t.map(unix).transpose());
    Ok(DeliveryRecord {
        id,
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

/// A stored unix second as a timestamp.
fn unix(s: i64) -> Result<Timestamp> {
    Timestamp::from_second(s).with_context(|| format!("stored time {s} out of range"))
}

/// All accounts and mailboxes of one provider.
pub struct Store {
    conn: Connection,
    accounts: BTreeMap<String, Account>,
    /// The webhook URLs of `gateway_webhooks` (mailbox → URL), kept in memory so that a
    /// deposit needs no query to learn that nobody is to be notified.
    webhooks: BTreeMap<String, String>,
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
-- The delivery queue (delivery.rs). state: 'pending' (to be tried now: queued, or due and
-- handed to the worker), 'retry' (waiting for next_attempt_at), 'delivered', 'failed'. Times
-- are virtual unix seconds; the columns after last_error are added to older databases by
-- `migrate_deliveries`.
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY,
    target          TEXT NOT NULL,
    envelope_from   TEXT NOT NULL,
    mailbox         TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    raw             BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    queued_at       INTEGER,
    rule            TEXT,
    due_at          INTEGER,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    late_reported   INTEGER NOT NULL DEFAULT 0
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
        migrate_deliveries(&conn).context("adding the retry columns to the delivery queue")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let webhooks = {
            let mut stmt = conn.prepare("SELECT mailbox, url FROM gateway_webhooks")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut store = Self {
            conn,
            accounts: BTreeMap::new(),
            webhooks,
            in_transaction: false,
        };
        store
            .register_all(accounts)
            .context("registering the configured accounts")?;
        Ok(store)
    }

    /// Registers the configured accounts in one transaction with one cached statement (a
    /// population of 100,000 citizens would otherwise cost one commit each), keeping each
    /// mailbox's push target from the database.
    fn register_all(&mut self, accounts: &[AccountConfig]) -> Result<()> {
        let push_targets: BTreeMap<String, String> = {
            let mut stmt = self.conn.prepare(
                "SELECT address, push_target FROM accounts WHERE push_target IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO accounts (address, holder, kind, max_level) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(address) DO UPDATE SET holder = ?2, kind = ?3, max_level = ?4",
            )?;
            for a in accounts {
                let address = normalize_address(&a.address);
                insert.execute(params![
                    address,
                    a.holder,
                    format!("{:?}", a.kind),
                    a.max_auth_level.as_str()
                ])?;
                let push_target = push_targets.get(&address).and_then(|p| p.parse().ok());
                self.accounts.insert(
                    address,
                    Account {
                        config: a.clone(),
                        push_target,
                    },
                );
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs one statement through the connection's statement cache (prepared once).
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// Reads one row through the connection's statement cache (prepared once).
    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, f)
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
        self.exec(
            "UPDATE accounts SET push_target = ?2 WHERE address = ?1",
            params![address, target.to_string()],
        )?;
        Ok(())
    }

    /// Opens a transaction; everything until [`Store::commit`] is written together or not at
    /// all.
    pub fn begin(&mut self) -> Result<()> {
        self.exec("BEGIN IMMEDIATE", [])?;
        self.in_transaction = true;
        Ok(())
    }

    /// Commits the open transaction (durable when it returns).
    pub fn commit(&mut self) -> Result<()> {
        self.exec("COMMIT", [])?;
        self.in_transaction = false;
        Ok(())
    }

    /// Rolls the open transaction back, if any.
    pub fn rollback(&mut self) {
        if self.in_transaction {
            let _ = self.exec("ROLLBACK", []);
            self.in_transaction = false;
            if let Err(e) = self.reload_webhooks() {
                tracing::error!("reading the webhook URLs after a rollback: {e:#}");
            }
        }
    }

    /// Allocates the next X-de-mail-message-id: a per-provider sequence kept in the database,
    /// so ids are deterministic for a given order of submissions and never reused after a
    /// restart.
    pub fn next_message_id(&mut self, provider_domain: &str) -> Result<String> {
        let n: i64 = self.row(
            "INSERT INTO meta (name, value) VALUES ('next_message', 1)
             ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
            [],
            |r| r.get(0),
        )?;
        Ok(format!("m{n:06}@{provider_domain}"))
    }

    /// Lays a message into its mailbox. Returns `false` when the mailbox already holds this
    /// X-de-mail-message-id (delivered before: exactly once).
    pub fn deposit(&mut self, m: &StoredMessage) -> Result<bool> {
        let n = self.exec(
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
        let n = self.exec(
            "INSERT OR IGNORE INTO trash (mailbox, message_id, trashed_at) VALUES (?1, ?2, ?3)",
            params![normalize_address(mailbox), message_id, at.to_string()],
        )?;
        Ok(n == 1)
    }

    /// Whether the message is in the mailbox's Papierkorb.
    pub fn is_trashed(&self, mailbox: &str, message_id: &str) -> Result<bool> {
        Ok(self
            .row(
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
        let n = self.exec(
            "DELETE FROM trash WHERE mailbox = ?1 AND message_id = ?2",
            params![mailbox, message_id],
        )?;
        if n == 0 {
            return Ok(false);
        }
        self.exec(
            "DELETE FROM messages WHERE mailbox = ?1 AND message_id = ?2",
            params![mailbox, message_id],
        )?;
        Ok(true)
    }

    /// Whether any mailbox of this provider holds `message_id`.
    pub fn message_id_exists(&self, message_id: &str) -> Result<bool> {
        Ok(self
            .row(
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
            .row(
                "SELECT messages, recipients FROM send_log WHERE account = ?1 AND day = ?2",
                params![normalize_address(account), day],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, 0)))
    }

    /// Counts one message to `recipients` recipients for `account` on `day`.
    pub fn record_sent(&mut self, account: &str, day: &str, recipients: u32) -> Result<()> {
        self.exec(
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
    fn queued_delivery(&self, id: i64) -> Result<Option<QueuedDelivery>> {
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

    /// A mailbox's messages in Eingang order.
    pub fn mailbox(&self, address: &str) -> Result<Vec<StoredMessage>> {
        let mut stmt = self.conn.prepare_cached(
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
        let mut stmt = self.conn.prepare_cached(&sql)?;
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
        self.row(
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
            .row(
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
        self.exec(
            "INSERT OR IGNORE INTO gateway_acks (mailbox, message_id, acked_at) VALUES (?1, ?2, ?3)",
            params![mailbox, message_id, at.to_string()],
        )?;
        self.message_summary(&mailbox, message_id)
    }

    /// The messages of a mailbox that are neither acknowledged ([`Store::acknowledge`]) nor in
    /// the Papierkorb, in Eingang order, without their bodies: the maildrop the POP3 face
    /// starts a session with. Only the header blocks are read from the database.
    pub fn maildrop(&self, mailbox: &str) -> Result<Vec<MaildropEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.message_id, m.message_type, length(m.raw),
                    CASE WHEN instr(m.raw, X'0D0A0D0A') > 0
                         THEN substr(m.raw, 1, instr(m.raw, X'0D0A0D0A') + 3)
                         ELSE m.raw END
             FROM messages m
             WHERE m.mailbox = ?1
               AND NOT EXISTS (SELECT 1 FROM gateway_acks a
                               WHERE a.mailbox = m.mailbox AND a.message_id = m.message_id)
               AND NOT EXISTS (SELECT 1 FROM trash t
                               WHERE t.mailbox = m.mailbox AND t.message_id = m.message_id)
             ORDER BY m.id",
        )?;
        let rows = stmt.query_map(params![normalize_address(mailbox)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (message_id, mtype, size, header) = row?;
            out.push(MaildropEntry {
                message_id,
                message_type: MessageType::parse(&mtype)
                    .ok_or_else(|| anyhow!("stored message type {mtype:?} unknown"))?,
                size: u64::try_from(size).unwrap_or(0),
                header,
            });
        }
        Ok(out)
    }

    /// Acknowledges several messages of a mailbox at `at` in one transaction (all or none), as
    /// [`Store::acknowledge`] does one: the first acknowledgement's time is kept, ids the
    /// mailbox does not hold are skipped. Returns how many were newly acknowledged.
    pub fn acknowledge_all(
        &mut self,
        mailbox: &str,
        message_ids: &[String],
        at: Timestamp,
    ) -> Result<usize> {
        let mailbox = normalize_address(mailbox);
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO gateway_acks (mailbox, message_id, acked_at)
                 SELECT ?1, ?2, ?3 WHERE EXISTS
                   (SELECT 1 FROM messages WHERE mailbox = ?1 AND message_id = ?2)",
            )?;
            for id in message_ids {
                n += insert.execute(params![mailbox, id, at.to_string()])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Sets (`Some`) or removes (`None`) a mailbox's webhook URL (kept across restarts).
    pub fn set_webhook(&mut self, mailbox: &str, url: Option<&str>) -> Result<()> {
        let mailbox = normalize_address(mailbox);
        match url {
            Some(url) => {
                self.exec(
                    "INSERT INTO gateway_webhooks (mailbox, url) VALUES (?1, ?2)
                     ON CONFLICT(mailbox) DO UPDATE SET url = ?2",
                    params![mailbox, url],
                )?;
                self.webhooks.insert(mailbox, url.to_string());
            }
            None => {
                self.exec(
                    "DELETE FROM gateway_webhooks WHERE mailbox = ?1",
                    params![mailbox],
                )?;
                self.webhooks.remove(&mailbox);
            }
        };
        Ok(())
    }

    /// A mailbox's webhook URL, if one is set (from memory; the table is read at open and
    /// after a rollback).
    pub fn webhook(&self, mailbox: &str) -> Result<Option<String>> {
        Ok(self.webhooks.get(&normalize_address(mailbox)).cloned())
    }

    /// Whether any mailbox has a webhook URL.
    pub fn has_webhooks(&self) -> bool {
        !self.webhooks.is_empty()
    }

    /// Reads the webhook URLs from the table again (after a rollback, which may have undone a
    /// [`Store::set_webhook`]).
    fn reload_webhooks(&mut self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT mailbox, url FROM gateway_webhooks")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        self.webhooks = rows.collect::<rusqlite::Result<_>>()?;
        Ok(())
    }
}

/// A [`QueuedDelivery`] row before its target is parsed.
type QueuedRow = (i64, String, String, String, String, Vec<u8>);

fn queued_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn parse_queued(row: QueuedRow) -> Result<QueuedDelivery> {
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
const RETRY_COLUMNS: [(&str, &str); 6] = [
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
fn migrate_deliveries(conn: &Connection) -> Result<()> {
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
    use crate::AccountKind;
    use demail_wire::AuthLevel;

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
        let at = "2025-03-03T08:00:00Z".parse().unwrap();
        s.record_attempt(pending[0].id, &AttemptOutcome::Delivered { at })
            .unwrap();
        assert!(s.pending_deliveries().unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The retry schedule is durable: after reopening, jobs waiting for a retry are not
    /// pending, come out only when due, ordered by (next_attempt_at, id), keep their attempts
    /// and last error, and each undelivered job past its limit is reported once.
    #[test]
    fn retry_schedule_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("demail-store-retry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("store.sqlite");
        let accounts = [account("a@x.de-mail.de")];
        let t0: Timestamp = "2025-03-03T08:00:00Z".parse().unwrap();
        let at = |mins: i64| t0 + jiff::SignedDuration::from_mins(mins);
        let target: SocketAddr = "127.0.0.1:2525".parse().unwrap();
        let ids = {
            let mut s = Store::open(Some(&path), &accounts).unwrap();
            let mut ids = Vec::new();
            for (n, retry_in) in [("m1", 5), ("m2", 5), ("m3", 2)] {
                let id = s
                    .enqueue(target, "b@x", "a@x.de-mail.de", n, b"raw")
                    .unwrap();
                assert!(s.mark_queued(id, t0, "provider-mailbox", at(480)).unwrap());
                assert!(
                    !s.mark_queued(id, at(1), "provider-mailbox", at(481))
                        .unwrap(),
                    "the first queue time stays"
                );
                s.record_attempt(
                    id,
                    &AttemptOutcome::Retry {
                        reason: "421 4.3.2 try later".into(),
                        next_attempt_at: at(retry_in),
                    },
                )
                .unwrap();
                ids.push(id);
            }
            ids
        };
        let mut s = Store::open(Some(&path), &accounts).unwrap();
        assert!(
            s.pending_deliveries().unwrap().is_empty(),
            "none is due now"
        );
        assert_eq!(s.next_wakeup().unwrap(), Some(at(2)));
        assert!(s.take_due(at(1)).unwrap().is_empty());
        let r = s.delivery(ids[0]).unwrap().unwrap();
        assert_eq!(r.state, DeliveryState::Retry);
        assert_eq!(r.attempts, 1);
        assert_eq!(r.last_error.as_deref(), Some("421 4.3.2 try later"));
        assert_eq!(r.queued_at, Some(t0));
        assert_eq!(r.due_at, Some(at(480)));
        assert_eq!(r.rule.as_deref(), Some("provider-mailbox"));
        assert_eq!(r.next_attempt_at, Some(at(5)));
        let due = s.take_due(at(5)).unwrap();
        assert_eq!(
            due.iter().map(|(t, q)| (*t, q.id)).collect::<Vec<_>>(),
            [(at(2), ids[2]), (at(5), ids[0]), (at(5), ids[1])],
            "ordered by (next_attempt_at, id)"
        );
        assert!(s.take_due(at(5)).unwrap().is_empty(), "handed out once");
        assert_eq!(s.pending_deliveries().unwrap().len(), 3);
        // The limit: on time at the limit itself, overdue one second later, reported once.
        assert_eq!(
            s.next_wakeup().unwrap(),
            Some(at(480) + jiff::SignedDuration::from_secs(1))
        );
        assert!(s.take_overdue(at(480)).unwrap().is_empty());
        s.record_attempt(ids[0], &AttemptOutcome::Delivered { at: at(6) })
            .unwrap();
        s.record_attempt(
            ids[1],
            &AttemptOutcome::Failed {
                reason: "550 5.1.1 no such user".into(),
            },
        )
        .unwrap();
        let late = at(480) + jiff::SignedDuration::from_secs(1);
        let overdue = s.take_overdue(late).unwrap();
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0].id, ids[2]);
        assert!(s.take_overdue(late).unwrap().is_empty());
        assert_eq!(s.next_wakeup().unwrap(), None);
        drop(s);
        let s = Store::open(Some(&path), &accounts).unwrap();
        let all = s.deliveries().unwrap();
        assert_eq!(
            all.iter().map(|r| r.state).collect::<Vec<_>>(),
            [
                DeliveryState::Delivered,
                DeliveryState::Failed,
                DeliveryState::Pending
            ]
        );
        assert_eq!(all[0].delivered_at, Some(at(6)));
        assert_eq!(all[0].attempts, 2);
        assert!(all[2].late_reported);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A queue written before the retry columns existed opens: the columns are added and its
    /// pending job is still pending.
    #[test]
    fn old_delivery_queue_gains_the_retry_columns() {
        let dir = std::env::temp_dir().join(format!("demail-store-old-q-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY, target TEXT NOT NULL, envelope_from TEXT NOT NULL,
                    mailbox TEXT NOT NULL, message_id TEXT NOT NULL, raw BLOB NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT);
                 INSERT INTO deliveries (target, envelope_from, mailbox, message_id, raw)
                 VALUES ('127.0.0.1:2525', 'b@x', 'a@x.de-mail.de', 'm1', x'00');",
            )
            .unwrap();
        }
        let mut s = Store::open(Some(&path), &[account("a@x.de-mail.de")]).unwrap();
        let pending = s.pending_deliveries().unwrap();
        assert_eq!(pending.len(), 1);
        let t0: Timestamp = "2025-03-03T08:00:00Z".parse().unwrap();
        assert!(
            s.mark_queued(pending[0].id, t0, "provider-mailbox", t0)
                .unwrap()
        );
        let r = s.delivery(pending[0].id).unwrap().unwrap();
        assert_eq!(
            (r.state, r.queued_at, r.late_reported),
            (DeliveryState::Pending, Some(t0), false)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The POP3 maildrop: unacknowledged messages outside the Papierkorb in Eingang order,
    /// with their header blocks only; `acknowledge_all` acknowledges several at once, keeps a
    /// first acknowledgement's time, and skips ids the mailbox does not hold.
    #[test]
    fn maildrop_and_acknowledging_several() {
        let mut s = Store::open(None, &[account("a@x.de-mail.de")]).unwrap();
        for id in ["m1", "m2", "m3", "m4"] {
            s.deposit(&message(id)).unwrap();
        }
        let mut no_body = message("m5");
        no_body.raw = b"Subject: ohne Leerzeile\r\n".to_vec();
        s.deposit(&no_body).unwrap();
        let t1: Timestamp = "2025-03-03T09:00:00Z".parse().unwrap();
        let t2: Timestamp = "2025-03-03T10:00:00Z".parse().unwrap();
        s.acknowledge("a@x.de-mail.de", "m1", t1).unwrap();
        s.trash("a@x.de-mail.de", "m3", t1).unwrap();
        let drop = s.maildrop("A@x.de-mail.de").unwrap();
        let ids: Vec<_> = drop.iter().map(|e| e.message_id.as_str()).collect();
        assert_eq!(ids, ["m2", "m4", "m5"]);
        assert_eq!(drop[0].header, b"Subject: Betreff\r\n\r\n");
        assert_eq!(drop[0].size, message("m2").raw.len() as u64);
        assert_eq!(drop[2].header, no_body.raw);
        let n = s
            .acknowledge_all(
                "a@x.de-mail.de",
                &["m1".into(), "m2".into(), "nope".into()],
                t2,
            )
            .unwrap();
        assert_eq!(n, 1, "m1 was acknowledged before, nope does not exist");
        let all = s.message_summaries("a@x.de-mail.de", 0, 10, true).unwrap();
        assert_eq!(all[0].acknowledged_at, Some(t1), "the first time is kept");
        assert_eq!(all[1].acknowledged_at, Some(t2));
        let ids: Vec<_> = s
            .maildrop("a@x.de-mail.de")
            .unwrap()
            .into_iter()
            .map(|e| e.message_id)
            .collect();
        assert_eq!(ids, ["m4", "m5"]);
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
