//! Accounts and mailboxes of the provider.
//!
//! In memory in this version, in ordered maps so that iteration order never depends on
//! hashing. The durable SQLite store (a 250 survives kill -9) is issue [4/6].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use anyhow::{Result, bail};
use jiff::Timestamp;

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

/// All accounts and mailboxes of one provider.
#[derive(Debug)]
pub struct Store {
    accounts: BTreeMap<String, Account>,
    mailboxes: BTreeMap<String, Vec<StoredMessage>>,
    next_message: u64,
}

impl Store {
    /// A store with the given accounts and empty mailboxes.
    pub fn new(accounts: &[AccountConfig]) -> Self {
        let mut map = BTreeMap::new();
        for a in accounts {
            map.insert(
                normalize_address(&a.address),
                Account {
                    config: a.clone(),
                    push_target: None,
                },
            );
        }
        Self {
            accounts: map,
            mailboxes: BTreeMap::new(),
            next_message: 0,
        }
    }

    /// The account with this address.
    pub fn account(&self, address: &str) -> Option<&Account> {
        self.accounts.get(&normalize_address(address))
    }

    /// Sets an account's push target.
    pub fn set_push_target(&mut self, mailbox: &str, target: SocketAddr) -> Result<()> {
        match self.accounts.get_mut(&normalize_address(mailbox)) {
            Some(a) => {
                a.push_target = Some(target);
                Ok(())
            }
            None => bail!("no account {mailbox} to push to"),
        }
    }

    /// Allocates the next X-de-mail-message-id: a per-provider sequence, so ids are
    /// deterministic for a given order of submissions.
    pub fn next_message_id(&mut self, provider_domain: &str) -> String {
        self.next_message += 1;
        format!("m{:06}@{provider_domain}", self.next_message)
    }

    /// Lays a message into its mailbox.
    pub fn deposit(&mut self, message: StoredMessage) {
        self.mailboxes
            .entry(normalize_address(&message.mailbox))
            .or_default()
            .push(message);
    }

    /// A copy of a mailbox's messages in Eingang order.
    pub fn mailbox(&self, address: &str) -> Vec<StoredMessage> {
        self.mailboxes
            .get(&normalize_address(address))
            .cloned()
            .unwrap_or_default()
    }
}
