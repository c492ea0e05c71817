//! One transaction of the provider's store (a submission, a hand-over, a login) and what it
//! lays down: deposits into mailboxes, hand-overs to peers, queued pushes, started after the
//! commit. A `Work` dropped uncommitted rolls back.

use super::*;

/// The store inside one transaction (a submission, a login), and the pushes to start after
/// commit.
pub(crate) struct Work<'a> {
    pub shared: &'a Shared,
    pub store: std::sync::MutexGuard<'a, crate::store::Store>,
    jobs: Vec<delivery::Job>,
    /// (mailbox, message id) laid down in this transaction, for webhooks after commit.
    stored: Vec<(String, String)>,
    /// Wire-log copies named in this transaction, written once the store's lock is released
    /// (also when the transaction is refused: the trace names them either way).
    copies: Vec<(crate::KeptCopy, Vec<u8>)>,
}

/// A transaction that is neither committed nor rolled back when its `Work` goes away (an early
/// return, a panic in a bug) is rolled back here; otherwise BEGIN IMMEDIATE would stay open and
/// every later transaction of the provider would fail until a restart.
impl Drop for Work<'_> {
    fn drop(&mut self) {
        self.store.rollback();
        // Only after a panic are copies still here (`finish` takes them): write them anyway.
        for (copy, raw) in std::mem::take(&mut self.copies) {
            copy.write(&raw);
        }
    }
}

pub(crate) fn storage_refusal(e: anyhow::Error) -> Refusal {
    tracing::error!("storage failure: {e:#}");
    Refusal::new(
        451,
        "4.3.0",
        "Temporary storage failure; nothing was stored, please try again",
    )
}

impl<'a> Work<'a> {
    /// Locks the store and opens a transaction.
    pub fn begin(shared: &'a Shared) -> Result<Self, Refusal> {
        let mut work = Work {
            shared,
            store: lock(&shared.store),
            jobs: Vec::new(),
            stored: Vec::new(),
            copies: Vec::new(),
        };
        work.store.begin().map_err(storage_refusal)?;
        Ok(work)
    }

    /// Commits when `result` is Ok (then starts the queued pushes), rolls back otherwise.
    pub fn finish<T>(mut self, result: Result<T, Refusal>) -> Result<T, Refusal> {
        let shared = self.shared;
        match result.and_then(|v| self.store.commit().map(|()| v).map_err(storage_refusal)) {
            Ok(v) => {
                let jobs = std::mem::take(&mut self.jobs);
                let stored = std::mem::take(&mut self.stored);
                // The webhook URLs are held in memory by the store: read them under the lock
                // already held (nothing at all when no mailbox has one), post after release.
                let hooks: Vec<(String, &str, &str)> = if self.store.has_webhooks() {
                    stored
                        .iter()
                        .filter_map(|(mailbox, message_id)| match self.store.webhook(mailbox) {
                            Ok(Some(url)) => Some((url, mailbox.as_str(), message_id.as_str())),
                            Ok(None) => None,
                            Err(e) => {
                                tracing::error!("webhook of {mailbox}: cannot read the URL: {e:#}");
                                None
                            }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let copies = std::mem::take(&mut self.copies);
                // Releases the store's lock (the transaction is committed: nothing to undo).
                drop(self);
                for (copy, raw) in copies {
                    copy.write(&raw);
                }
                for (url, mailbox, message_id) in hooks {
                    crate::gateway::notify_stored(&url, mailbox, message_id);
                }
                for job in jobs {
                    shared.activity.delivery_queued();
                    if !shared.deliveries.send(shared, job) {
                        // The worker is gone only when the provider shuts down; the push stays
                        // queued in the database for the next start.
                        shared.activity.delivery_done();
                    }
                }
                Ok(v)
            }
            Err(refusal) => {
                self.store.rollback();
                let copies = std::mem::take(&mut self.copies);
                drop(self);
                for (copy, raw) in copies {
                    copy.write(&raw);
                }
                Err(refusal)
            }
        }
    }

    /// Names the wire-log copy of `raw` now (the trace needs the name inside the transaction)
    /// and writes it when the transaction ends, after the store's lock is released.
    pub fn keep_copy(&mut self, raw: &[u8]) -> String {
        let copy = self.shared.wire_log.reserve();
        let name = copy.name.clone();
        self.copies.push((copy, raw.to_vec()));
        name
    }

    pub fn next_id(&mut self) -> Result<String, Refusal> {
        let domain = self.shared.config.domain.clone();
        self.store.next_message_id(&domain).map_err(storage_refusal)
    }

    /// Lays a message into its mailbox, records the Eingang, and queues a push if the mailbox
    /// belongs to an intake; a foreign mailbox's message is handed to its provider. Returns
    /// false when the mailbox already held this message id (it is not laid down again).
    pub fn deposit(
        &mut self,
        message: StoredMessage,
        envelope_from: &str,
    ) -> Result<bool, Refusal> {
        if !self.shared.hosts(&message.mailbox) {
            return self.relay(message, envelope_from).map(|()| true);
        }
        if !self.store.deposit(&message).map_err(storage_refusal)? {
            return Ok(false);
        }
        self.shared.trace.emit(EventKind::ProviderStored {
            provider: self.shared.config.id.clone(),
            mailbox: message.mailbox.clone(),
            message_id: message.message_id.clone(),
            message_type: message.message_type.as_str().to_string(),
        });
        self.stored
            .push((message.mailbox.clone(), message.message_id.clone()));
        if let Some(target) = self
            .store
            .account(&message.mailbox)
            .and_then(|a| a.push_target)
            .map(|t| t.addr)
        {
            self.queue(target, envelope_from, message)?;
        }
        Ok(true)
    }

    /// Hands a message for a foreign domain to its provider (relay face, mutual TLS); without
    /// a route it cannot leave, which is a refusal the sender sees.
    fn relay(&mut self, mut message: StoredMessage, envelope_from: &str) -> Result<(), Refusal> {
        let Some(route) = self.shared.route(&message.mailbox) else {
            return Err(Refusal::new(
                550,
                "5.1.2",
                &format!("no route to the De-Mail domain of <{}>", message.mailbox),
            ));
        };
        // The receiving provider sets its own Envelope-to (PVD-IO §3.1.22).
        if let Ok(mut raw) = RawMessage::parse(&message.raw) {
            raw.remove_all(h::ENVELOPE_TO);
            message.raw = raw.to_bytes();
        }
        self.queue(route.addr, envelope_from, message)
    }

    fn queue(
        &mut self,
        target: std::net::SocketAddr,
        envelope_from: &str,
        message: StoredMessage,
    ) -> Result<(), Refusal> {
        let queue_id = self
            .store
            .enqueue(
                target,
                envelope_from,
                &message.mailbox,
                &message.message_id,
                &message.raw,
            )
            .map_err(storage_refusal)?;
        self.jobs.push(delivery::Job {
            queue_id,
            target,
            envelope_from: envelope_from.to_string(),
            mailbox: message.mailbox,
            message_id: message.message_id,
            raw: message.raw,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside an open transaction (a provider bug) rolls the transaction back: the
    /// next submission can open its own instead of failing with 451 until a restart.
    #[tokio::test]
    async fn a_panic_inside_a_transaction_rolls_it_back() {
        demail_core::init_crypto();
        let start = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let clock = demail_core::clock::VirtualClock::new(&start);
        let trace = demail_core::trace::Trace::new(clock.clone());
        let pki = demail_core::pki::TestPki::generate("test").unwrap();
        let provider = crate::Provider::start(
            crate::ProviderConfig {
                id: "dmda-a".into(),
                name: "DMDA A".into(),
                domain: "dmda-a.de-mail.de".into(),
                hosted_domains: Vec::new(),
                accounts: Vec::new(),
                message_dir: None,
                database: None,
                durability: Default::default(),
                smtp_listen: None,
                http_listen: None,
                relay_listen: None,
                pop3_listen: None,
                pop3s_listen: None,
                delivery_hub: None,
                wire_log: None,
                trusted_peers: Vec::new(),
            },
            clock,
            trace,
            &pki,
        )
        .await
        .unwrap();
        let shared = provider.shared.clone();
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut work = Work::begin(&shared).unwrap();
            work.next_id().unwrap();
            panic!("a bug inside the transaction");
        }));
        assert!(crashed.is_err());
        let mut work = Work::begin(&shared).expect("a new transaction after the panic");
        let id = work.next_id().unwrap();
        work.finish(Ok(())).unwrap();
        assert_eq!(
            id, "m000001@dmda-a.de-mail.de",
            "the panicked id was rolled back"
        );
    }
}
