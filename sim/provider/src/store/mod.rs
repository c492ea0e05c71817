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
//! A simulated world's store (`run`, `load`: [`Durability::Scratch`]) keeps its rollback
//! journal in memory with `synchronous=OFF` and an exclusive lock instead: the run's folder
//! holds a plain SQLite file to read after the run, but a crash of the process may leave it
//! unreadable, which costs nothing there (the run is repeated from its seed) and saves the
//! write-ahead log's second copy of every page, the checkpoints' `fsync` and the locking
//! calls of every transaction (docs/benchmarks.md, "SQLite of a simulated world").
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
use super::delivery::{PushTarget, PushTls};
use demail_wire::{MessageType, normalize_address};

pub use demail_core::sync::lock;

/// One account with its mailbox.
#[derive(Clone, Debug)]
pub struct Account {
    pub config: AccountConfig,
    /// Where the mailbox's messages are pushed (an institution's intake) and how, if anywhere.
    pub push_target: Option<PushTarget>,
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

/// Prepared statements kept per connection (rusqlite's default is 16; the submission path,
/// the delivery queue and the gateway use more than that).
const STATEMENT_CACHE: usize = 64;

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
    /// False while no account of this store has ever been closed: then [`Store::closed_at`]
    /// answers without a query (it is asked for the sender, every recipient and every login).
    /// Read from the database at open; set by [`Store::close_account`] and never cleared, so
    /// a closure rolled back only costs the queries again.
    any_closed: bool,
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
-- The push target's TLS (delivery/push.rs): push_tls 'starttls' or 'plain', the server name
-- and the CA (PEM; NULL: the provider's test CA). NULL push_tls (a database from before these
-- columns, added by `migrate_accounts`) means STARTTLS, the test CA and localhost. closed_at:
-- when the account was closed (vollständig gesperrt, `Store::close_account`), NULL if open.
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

/// What a store's file must survive (module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// A committed transaction survives a crash of the process (kill -9): WAL,
    /// `synchronous=NORMAL`. `serve`, and the default.
    #[default]
    Crash,
    /// Nothing but a clean end: journal in memory, `synchronous=OFF`, exclusive lock. The
    /// stores of a simulated world (`run`, `load`), which a crash makes worthless anyway.
    Scratch,
}

impl Durability {
    fn pragmas(self) -> &'static str {
        match self {
            Durability::Crash => {
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            }
            Durability::Scratch => {
                "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; \
                 PRAGMA synchronous=OFF; PRAGMA foreign_keys=ON;"
            }
        }
    }
}

impl Store {
    /// Opens (or creates) the store at `path`, or an in-memory one for `None`, and registers
    /// the configured accounts; crash-safe ([`Durability::Crash`]).
    pub fn open(path: Option<&Path>, accounts: &[AccountConfig]) -> Result<Self> {
        Self::open_with(path, accounts, Durability::Crash)
    }

    /// [`Store::open`] with the given durability.
    pub fn open_with(
        path: Option<&Path>,
        accounts: &[AccountConfig],
        durability: Durability,
    ) -> Result<Self> {
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
        conn.execute_batch(durability.pragmas())
            .context("setting SQLite pragmas")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA).context("creating the schema")?;
        migrate_deliveries(&conn).context("adding the retry columns to the delivery queue")?;
        migrate_accounts(&conn)
            .context("adding the push TLS and closing columns to the accounts")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let webhooks = {
            let mut stmt = conn.prepare("SELECT mailbox, url FROM gateway_webhooks")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let any_closed = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM accounts WHERE closed_at IS NOT NULL)",
                [],
                |r| r.get(0),
            )
            .context("reading whether an account is closed")?;
        let mut store = Self {
            conn,
            accounts: BTreeMap::new(),
            webhooks,
            any_closed,
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
        let push_targets: BTreeMap<String, PushRow> = {
            let mut stmt = self.conn.prepare(
                "SELECT address, push_target, push_tls, push_server_name, push_ca FROM accounts
                 WHERE push_target IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            })?;
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
                let push_target = push_targets.get(&address).and_then(parse_push_row);
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

    /// Sets an account's push target: STARTTLS, the test CA, server name "localhost" (kept
    /// across restarts).
    pub fn set_push_target(&mut self, mailbox: &str, target: SocketAddr) -> Result<()> {
        self.set_push_target_with(mailbox, PushTarget::starttls_test_ca(target))
    }

    /// Sets an account's push target with its TLS settings (kept across restarts). The caller
    /// checks the target ([`PushTarget::check`]); the store only records it.
    pub fn set_push_target_with(&mut self, mailbox: &str, target: PushTarget) -> Result<()> {
        let address = normalize_address(mailbox);
        let Some(a) = self.accounts.get_mut(&address) else {
            return Err(anyhow!("no account {mailbox} to push to"));
        };
        let (server_name, ca_pem) = match &target.tls {
            PushTls::StartTls {
                server_name,
                ca_pem,
            } => (Some(server_name.clone()), ca_pem.clone()),
            PushTls::Plain => (None, None),
        };
        let mode = target.tls.mode();
        let addr = target.addr.to_string();
        a.push_target = Some(target);
        self.exec(
            "UPDATE accounts SET push_target = ?2, push_tls = ?3, push_server_name = ?4,
                 push_ca = ?5 WHERE address = ?1",
            params![address, addr, mode, server_name, ca_pem],
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

    /// Commits the open transaction (durable when it returns, as far as the store's
    /// [`Durability`] goes).
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

    /// When `address`'s account was closed ("vollständig gesperrt", PVD-FU Schritt 43), if it
    /// was. Kept in the database, so a closure survives a restart.
    pub fn closed_at(&self, address: &str) -> Result<Option<Timestamp>> {
        if !self.any_closed {
            return Ok(None);
        }
        let at: Option<Option<String>> = self
            .row(
                "SELECT closed_at FROM accounts WHERE address = ?1",
                params![normalize_address(address)],
                |r| r.get(0),
            )
            .optional()?;
        match at.flatten() {
            None => Ok(None),
            Some(s) => {
                let secs: i64 = s
                    .parse()
                    .with_context(|| format!("stored closing time {s:?} is not a number"))?;
                Ok(Some(unix(secs)?))
            }
        }
    }

    /// Closes `address`'s account at `at` (an account already closed keeps its first time);
    /// part of the open transaction, if any.
    pub fn close_account(&mut self, address: &str, at: Timestamp) -> Result<()> {
        self.any_closed = true;
        self.exec(
            "UPDATE accounts SET closed_at = ?2 WHERE address = ?1 AND closed_at IS NULL",
            params![normalize_address(address), at.as_second().to_string()],
        )?;
        Ok(())
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
}

/// Byte-wise equality whose running time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

mod gateway_tables;
mod queue;
mod ui_tables;

pub use gateway_tables::{MaildropEntry, MessageSummary};
use queue::migrate_deliveries;

/// An account's push columns: target, TLS mode, server name, CA (PEM).
type PushRow = (String, Option<String>, Option<String>, Option<String>);

/// A stored push target; `None` for an address that does not parse (logged) or an unknown
/// TLS mode. A row from before the TLS columns is STARTTLS with the test CA and "localhost".
fn parse_push_row(row: &PushRow) -> Option<PushTarget> {
    let (addr, mode, server_name, ca_pem) = row;
    let Ok(addr) = addr.parse() else {
        tracing::error!("stored push target {addr:?} is not a socket address; ignored");
        return None;
    };
    let tls = match mode.as_deref() {
        None => PushTls::default(),
        Some("starttls") => PushTls::StartTls {
            server_name: server_name
                .clone()
                .unwrap_or_else(|| super::delivery::DEFAULT_SERVER_NAME.to_string()),
            ca_pem: ca_pem.clone(),
        },
        Some("plain") => PushTls::Plain,
        Some(other) => {
            tracing::error!("stored push TLS mode {other:?} is not known; target ignored");
            return None;
        }
    };
    Some(PushTarget { addr, tls })
}

/// The push TLS columns of `accounts` and `closed_at` (when the account was closed, unix
/// seconds as text; NULL: open), added to a database written before they existed.
const PUSH_COLUMNS: [&str; 4] = ["push_tls", "push_server_name", "push_ca", "closed_at"];

/// Adds [`PUSH_COLUMNS`] (all TEXT, NULL by default) to an older `accounts` table.
fn migrate_accounts(conn: &Connection) -> Result<()> {
    let present: Vec<String> = {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('accounts')")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for name in PUSH_COLUMNS {
        if !present.iter().any(|p| p == name) {
            conn.execute_batch(&format!("ALTER TABLE accounts ADD COLUMN {name} TEXT"))?;
        }
    }
    Ok(())
}
pub use queue::{AttemptOutcome, DeliveryRecord, DeliveryState, QueuedDelivery};
pub use ui_tables::{UI_LIST_RAW_BYTES, UiMessage};

#[cfg(test)]
mod tests;
