//! The replies to a traffic's messages, as the kinds about a traffic (`all-replies`,
//! `latency`, `throughput`) need them, in memory bounded by the messages still without a reply
//! rather than by the length of the run.
//!
//! The judge keeps one [`Ledger`] per traffic that such a kind names. Each send of the traffic
//! enters the ledger once, at the observation after it was made; a refused one is only counted.
//! An accepted one waits in the ledger until a sweep finds its reply in the sender's mailbox
//! (the first message from one of the intake's Funktionspostfächer whose `In-Reply-To` names
//! it). The sweep hands it to the kinds once ([`Kind::replied`](super::Kind::replied)), adds
//! its reply time to the ledger's exact histogram, and forgets it.
//!
//! A sweep reads one mailbox per sender, so the judge sweeps only when the waiting messages
//! have doubled since the last sweep (at least [`SWEEP_AT_LEAST`]), at every observation
//! once a traffic is complete while a kind observed at each instant still waits on it, and
//! before the kinds' last call at the end. A reply's arrival is the Eingang (`stored_at`) the
//! mailbox recorded, so when a sweep finds it does not change what the kinds see.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{Timestamp, ZonedDateTime};

use crate::model::{Mailboxes, SendOutcome};
use demail_sim::provider::StoredMessage;

/// No sweep before this many messages wait (a sweep reads a mailbox per sender).
pub const SWEEP_AT_LEAST: usize = 64;

/// An accepted message of a traffic whose reply has not been seen yet.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// Position among the traffic's sends, refused ones included (0-based): send order.
    pub index: usize,
    pub step_id: String,
    pub from: Arc<str>,
    pub sent_at: ZonedDateTime,
    /// The citizen's `Message-ID`, which the reply's `In-Reply-To` names.
    pub rfc_message_id: String,
}

/// A message whose reply a sweep found; handed to each kind of the traffic once.
#[derive(Clone, Debug)]
pub struct Replied {
    pub message: Waiting,
    /// The reply's Eingang in the sender's mailbox.
    pub reply_at: Timestamp,
}

impl Replied {
    /// Seconds from sending to the reply's arrival.
    pub fn seconds(&self) -> i64 {
        self.reply_at
            .duration_since(self.message.sent_at.timestamp())
            .as_secs()
    }
}

/// An exact histogram of whole seconds: the same percentiles as the sorted list of values,
/// in memory bounded by the distinct values.
#[derive(Clone, Debug, Default)]
pub struct Seconds {
    counts: BTreeMap<i64, usize>,
    len: usize,
}

impl Seconds {
    pub fn add(&mut self, secs: i64) {
        *self.counts.entry(secs).or_default() += 1;
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of 1-based `rank` in ascending order; `None` past the last.
    pub fn at_rank(&self, rank: usize) -> Option<i64> {
        let mut seen = 0;
        for (&v, &n) in &self.counts {
            seen += n;
            if seen >= rank {
                return Some(v);
            }
        }
        None
    }

    /// The nearest-rank `p`-th percentile (1 to 100); `None` when empty.
    pub fn percentile(&self, p: usize) -> Option<i64> {
        if self.len == 0 {
            return None;
        }
        self.at_rank((self.len * p).div_ceil(100).clamp(1, self.len))
    }
}

/// One traffic's sends as the kinds about it need them.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    sent: usize,
    refused: usize,
    first_sent: Option<Timestamp>,
    /// Accepted messages without a reply seen yet, in send order.
    waiting: Vec<Waiting>,
    /// How many waited after the last sweep.
    left: usize,
    /// Reply times of the replied messages.
    replied: Seconds,
    /// The first mailbox that could not be read; every later verdict fails with it.
    error: Option<String>,
}

impl Ledger {
    /// Takes in one send of the traffic.
    pub fn absorb(&mut self, s: &SendOutcome) {
        let at = s.sent_at.timestamp();
        self.first_sent = Some(self.first_sent.map_or(at, |f| f.min(at)));
        let index = self.sent;
        self.sent += 1;
        if s.refused.is_some() {
            self.refused += 1;
            return;
        }
        self.waiting.push(Waiting {
            index,
            step_id: s.step_id.clone(),
            from: s.from.clone(),
            sent_at: s.sent_at.clone(),
            rfc_message_id: s.rfc_message_id.clone(),
        });
    }

    /// Whether the waiting messages have doubled since the last sweep.
    pub fn wants_sweep(&self) -> bool {
        self.waiting.len() >= (2 * self.left).max(SWEEP_AT_LEAST)
    }

    /// Looks for the replies of the waiting messages (`is_reply(message, rfc_message_id)`),
    /// one mailbox read per sender; returns the replied ones in send order and forgets them.
    pub fn sweep(
        &mut self,
        world: &dyn Mailboxes,
        is_reply: impl Fn(&StoredMessage, &str) -> bool,
    ) -> Vec<Replied> {
        let mut mailboxes: BTreeMap<Arc<str>, Vec<StoredMessage>> = BTreeMap::new();
        let mut replied = Vec::new();
        let mut still = Vec::with_capacity(self.waiting.len());
        for w in std::mem::take(&mut self.waiting) {
            if self.error.is_some() {
                still.push(w);
                continue;
            }
            let mailbox = match mailboxes.get(&w.from) {
                Some(m) => m,
                None => match world.mailbox(&w.from) {
                    Ok(m) => mailboxes.entry(w.from.clone()).or_insert(m),
                    Err(e) => {
                        self.error = Some(format!("cannot read a mailbox: {e:#}"));
                        still.push(w);
                        continue;
                    }
                },
            };
            match mailbox.iter().find(|m| is_reply(m, &w.rfc_message_id)) {
                Some(m) => {
                    let r = Replied {
                        message: w,
                        reply_at: m.stored_at,
                    };
                    self.replied.add(r.seconds());
                    replied.push(r);
                }
                None => still.push(w),
            }
        }
        self.waiting = still;
        self.left = self.waiting.len();
        replied
    }

    /// Sends of the traffic so far, refused ones included.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Sends the provider refused.
    pub fn refused(&self) -> usize {
        self.refused
    }

    /// Sends the provider accepted.
    pub fn accepted(&self) -> usize {
        self.sent - self.refused
    }

    /// The earliest send's instant.
    pub fn first_sent(&self) -> Option<Timestamp> {
        self.first_sent
    }

    /// Accepted messages without a reply as of the last sweep, in send order.
    pub fn waiting(&self) -> &[Waiting] {
        &self.waiting
    }

    /// Reply times of the messages replied so far.
    pub fn replied(&self) -> &Seconds {
        &self.replied
    }

    /// Why the replies cannot be known (a mailbox could not be read).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use demail_sim::demail::MessageType;

    use super::*;

    /// Mailboxes as a map; counts the reads.
    #[derive(Default)]
    struct Boxes {
        messages: BTreeMap<String, Vec<StoredMessage>>,
        reads: RefCell<usize>,
    }

    impl Mailboxes for Boxes {
        fn mailbox(&self, address: &str) -> anyhow::Result<Vec<StoredMessage>> {
            *self.reads.borrow_mut() += 1;
            Ok(self.messages.get(address).cloned().unwrap_or_default())
        }
    }

    fn send(n: usize, at: &ZonedDateTime) -> SendOutcome {
        SendOutcome {
            step_id: format!("t#{n}"),
            citizen: format!("c{n}").into(),
            from: format!("c{}@example", n % 50).into(),
            sent_at: at.clone(),
            rfc_message_id: format!("<m{n}@example>"),
            private_id: None,
            refused: None,
        }
    }

    /// A long traffic whose every tenth message gets no reply: what the ledger holds stays
    /// within twice the unanswered messages (or [`SWEEP_AT_LEAST`]), not the traffic's length.
    #[test]
    fn the_ledger_holds_what_waits_not_what_was_sent() {
        let start: ZonedDateTime = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let mut world = Boxes::default();
        let mut ledger = Ledger::default();
        let mut found = 0;
        let mut unanswered = 0;
        for n in 0..5_000 {
            let at = start.checked_add(jiff::Span::new().minutes(n)).unwrap();
            let s = send(n as usize, &at);
            ledger.absorb(&s);
            if n % 10 == 9 {
                unanswered += 1;
            } else {
                world
                    .messages
                    .entry(s.from.to_string())
                    .or_default()
                    .push(StoredMessage {
                        mailbox: s.from.to_string(),
                        message_id: format!("r{n}"),
                        rfc_message_id: None,
                        in_reply_to: Some(s.rfc_message_id.clone()),
                        message_type: MessageType::Normal,
                        from: "intake@example".into(),
                        subject: String::new(),
                        private_id: None,
                        stored_at: at.timestamp() + jiff::SignedDuration::from_secs(n % 7 * 60),
                        raw: Vec::new(),
                    });
            }
            if ledger.wants_sweep() {
                found += ledger
                    .sweep(&world, |m, id| m.in_reply_to.as_deref() == Some(id))
                    .len();
            }
            assert!(
                ledger.waiting().len() <= (2 * unanswered).max(SWEEP_AT_LEAST),
                "after {n}: {} waiting, {unanswered} unanswered",
                ledger.waiting().len()
            );
        }
        found += ledger
            .sweep(&world, |m, id| m.in_reply_to.as_deref() == Some(id))
            .len();
        assert_eq!(found, 4_500);
        assert_eq!(ledger.replied().len(), 4_500);
        assert_eq!(ledger.waiting().len(), 500);
        assert!(ledger.waiting().windows(2).all(|w| w[0].index < w[1].index));
        assert_eq!(ledger.replied().at_rank(1), Some(0));
        assert_eq!(ledger.replied().percentile(100), Some(6 * 60));
        // One read per sender and sweep, not one per message.
        assert!(
            *world.reads.borrow() < 5_000,
            "{} reads",
            world.reads.borrow()
        );
    }

    #[test]
    fn the_histogram_gives_the_sorted_lists_percentiles() {
        let values = [7, 3, 3, 10, 1, 3, 8, 2, 9, 10, 4];
        let mut h = Seconds::default();
        for v in values {
            h.add(v);
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        for p in 1..=100 {
            let idx = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len()) - 1;
            assert_eq!(h.percentile(p), Some(sorted[idx]), "p{p}");
        }
        assert_eq!(h.at_rank(12), None);
        assert_eq!(Seconds::default().percentile(50), None);
    }
}
