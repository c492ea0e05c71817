//! What the HTTP gateway and the POP3 face read and write: message summaries and raw
//! messages per mailbox, acknowledgements, the POP3 maildrop, API tokens and webhook URLs.

use super::*;

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
pub(super) const SUMMARY_COLUMNS: &str =
    "m.id, m.mailbox, m.message_id, m.rfc_message_id, m.in_reply_to,
    m.message_type, m.from_addr, m.subject, m.private_id, m.stored_at, length(m.raw), a.acked_at
    FROM messages m LEFT JOIN gateway_acks a
    ON a.mailbox = m.mailbox AND a.message_id = m.message_id";

/// Reads one row selected with [`SUMMARY_COLUMNS`].
pub(super) fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
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
pub(super) struct SummaryRow {
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
    pub(super) fn parse(self) -> Result<MessageSummary> {
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

impl Store {
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
    pub(super) fn reload_webhooks(&mut self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT mailbox, url FROM gateway_webhooks")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        self.webhooks = rows.collect::<rusqlite::Result<_>>()?;
        Ok(())
    }
}
