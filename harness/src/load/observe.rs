//! What a load run sees, as it happens: the outcome of each submission (from the arrival's
//! task) and the provider's events (from a tap on the streamed trace), paired into latencies
//! measured from each arrival's INTENDED time (coordinated-omission free, as wrk2).
//!
//! Pairing:
//! - `submit`: the 250 after DATA (or the refusal, counted by reply code).
//! - `receipt`: the Eingangsbestätigung stored in the sender's mailbox: the
//!   `confirmation.issued` of type receipt carrying the arrival's private id `LOAD-<index>`,
//!   then the `provider.stored` of that confirmation.
//! - `push`: the provider's push accepted by the system under test (`provider.delivered` of
//!   the message id the 250 named).
//! - `reply`: the first `normal` message stored into the sender's mailbox after its
//!   submission; per citizen first in, first out (an intake answering one citizen's two
//!   messages out of order swaps their reply latencies, not the counts).
//!
//! The wall instant of an event is taken when the trace writes it (inside the provider's
//! transaction), not from the trace's second-resolution stamp.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::results::Results;
use super::schedule::Arrival;

/// How one submission ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// 250; the provider's message id when its answer named one.
    Accepted { message_id: Option<String> },
    /// A refusal: "550 5.7.1".
    Refused { reply: String },
    /// No SMTP answer: a socket error or the timeout ("timeout", "connect", …).
    Error { kind: String },
}

/// The shared state of a running load: results so far and what still waits for pairing.
pub struct Live {
    pub start: Instant,
    pub results: Results,
    /// This shard's arrivals, sorted by index (looked up by index).
    arrivals: Arc<Vec<Arrival>>,
    /// Sender address per citizen index.
    addresses: Arc<Vec<String>>,
    /// The addresses of this shard's senders.
    senders: std::collections::BTreeSet<String>,
    /// Eingangsbestätigung message id → arrival index, until it is stored.
    receipts_pending: HashMap<String, u64>,
    /// The citizen's message id → arrival index, until its push is accepted.
    pushes_pending: HashMap<String, u64>,
    /// Pushes seen before the 250 reached the arrival's task.
    pushes_early: HashMap<String, Instant>,
    /// Per sender address: accepted arrivals waiting for a reply, oldest first.
    awaiting: HashMap<String, VecDeque<u64>>,
    /// Replies stored before the 250 reached the arrival's task.
    replies_early: HashMap<String, VecDeque<Instant>>,
    /// Sessions started and not yet finished.
    pub in_flight: usize,
    /// How long an early push or reply waits for its 250 before it is forgotten: a push or
    /// reply cannot precede its 250 by more than the submission's timeout. Without this the
    /// pushes nobody waits for (the Eingangsbestätigung copies pushed to the intake) would
    /// pile up for the whole run (the soak found it).
    early_ttl: std::time::Duration,
    /// Trace events seen (the early maps are swept every [`SWEEP_EVERY`]).
    events_seen: u64,
    /// False against a sink (`load --sink`): nothing will confirm, push or reply, so an
    /// accepted submission waits for nothing.
    expects_answers: bool,
}

/// How often (in trace events) [`Live`] forgets early pushes and replies past their time.
const SWEEP_EVERY: u64 = 4096;

/// A handle to the live state, shared by the scheduler, the arrival tasks, the trace tap,
/// the progress line and the metrics endpoint.
pub type Shared = Arc<Mutex<Live>>;

pub fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Live> {
    demail_sim::sync::lock(s)
}

impl Live {
    pub fn new(
        start: Instant,
        results: Results,
        arrivals: Arc<Vec<Arrival>>,
        addresses: Arc<Vec<String>>,
    ) -> Self {
        let senders = arrivals
            .iter()
            .filter_map(|a| addresses.get(a.citizen).cloned())
            .collect();
        Self {
            start,
            results,
            arrivals,
            addresses,
            senders,
            receipts_pending: HashMap::new(),
            pushes_pending: HashMap::new(),
            pushes_early: HashMap::new(),
            awaiting: HashMap::new(),
            replies_early: HashMap::new(),
            in_flight: 0,
            early_ttl: std::time::Duration::from_secs(90),
            events_seen: 0,
            expects_answers: true,
        }
    }

    /// Against a sink: accepted submissions wait for no push and no reply.
    pub fn expecting_no_answers(mut self) -> Self {
        self.expects_answers = false;
        self
    }

    /// Forgets early pushes and replies `ttl` after they were seen (the submission timeout
    /// and a margin; default 90 s).
    pub fn forget_early_after(mut self, ttl: std::time::Duration) -> Self {
        self.early_ttl = ttl;
        self
    }

    /// Early pushes and replies still waiting for their 250 (for tests and diagnostics).
    pub fn early(&self) -> usize {
        self.pushes_early.len()
            + self
                .replies_early
                .values()
                .map(VecDeque::len)
                .sum::<usize>()
    }

    fn sweep_early(&mut self, now: Instant) {
        let ttl = self.early_ttl;
        let fresh = |t: &Instant| now.saturating_duration_since(*t) < ttl;
        self.pushes_early.retain(|_, t| fresh(t));
        self.replies_early.retain(|_, q| {
            q.retain(fresh);
            !q.is_empty()
        });
    }

    fn arrival(&self, index: u64) -> Option<&Arrival> {
        self.arrivals
            .binary_search_by_key(&index, |a| a.index)
            .ok()
            .map(|i| &self.arrivals[i])
    }

    /// µs from the arrival's intended time to `at` (0 if `at` is earlier).
    fn since_intended(&self, offset_us: u64, at: Instant) -> u64 {
        let intended = self.start + std::time::Duration::from_micros(offset_us);
        at.saturating_duration_since(intended).as_micros() as u64
    }

    /// Arrivals of this shard intended up to `elapsed` after the start.
    pub fn due(&self, elapsed: std::time::Duration) -> usize {
        let us = elapsed.as_micros() as u64;
        self.arrivals.partition_point(|a| a.offset_us <= us)
    }

    /// Accepted arrivals still waiting for their reply.
    pub fn unanswered(&self) -> u64 {
        self.awaiting.values().map(|q| q.len() as u64).sum()
    }

    /// An arrival started on time.
    pub fn started(&mut self, a: &Arrival) {
        self.in_flight += 1;
        self.results.bump("started", 1);
        self.results.interval_mut(a.offset_us).started += 1;
    }

    /// An arrival could not start (max_in_flight reached): dropped, never delayed.
    pub fn dropped(&mut self, a: &Arrival) {
        self.results.bump("dropped", 1);
        self.results.interval_mut(a.offset_us).dropped += 1;
    }

    /// A submission ended at `at`.
    pub fn finished(&mut self, a: &Arrival, outcome: Outcome, at: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Accepted { message_id } => {
                let us = self.since_intended(a.offset_us, at);
                self.results.bump("accepted", 1);
                self.results.record("submit", us);
                let iv = self.results.interval_mut(a.offset_us);
                iv.accepted += 1;
                iv.submit_sum_us += us;
                iv.submit_max_us = iv.submit_max_us.max(us);
                if !self.expects_answers {
                    return;
                }
                if let Some(id) = message_id {
                    self.push_known(id, a.index);
                }
                let address = self.addresses.get(a.citizen).cloned().unwrap_or_default();
                match self
                    .replies_early
                    .get_mut(&address)
                    .and_then(VecDeque::pop_front)
                {
                    Some(reply_at) => self.reply(a.index, reply_at),
                    None => self.awaiting.entry(address).or_default().push_back(a.index),
                }
            }
            Outcome::Refused { reply } => {
                self.results.bump("refused", 1);
                self.results.interval_mut(a.offset_us).refused += 1;
                *self.results.refusals.entry(reply).or_insert(0) += 1;
            }
            Outcome::Error { kind } => {
                self.results.bump("errors", 1);
                self.results.interval_mut(a.offset_us).errors += 1;
                *self
                    .results
                    .refusals
                    .entry(format!("error: {kind}"))
                    .or_insert(0) += 1;
            }
        }
    }

    fn push_known(&mut self, message_id: String, index: u64) {
        if let Some(at) = self.pushes_early.remove(&message_id) {
            self.push(index, at);
        } else {
            self.pushes_pending.insert(message_id, index);
        }
    }

    fn push(&mut self, index: u64, at: Instant) {
        if let Some(offset) = self.arrival(index).map(|a| a.offset_us) {
            let us = self.since_intended(offset, at);
            self.results.bump("pushes", 1);
            self.results.record("push", us);
        }
    }

    fn reply(&mut self, index: u64, at: Instant) {
        if let Some(offset) = self.arrival(index).map(|a| a.offset_us) {
            let us = self.since_intended(offset, at);
            self.results.bump("replies", 1);
            self.results.record("reply", us);
            let iv = self.results.interval_mut(offset);
            iv.replies += 1;
            iv.reply_sum_us += us;
            iv.reply_max_us = iv.reply_max_us.max(us);
        }
    }

    /// One event line of the trace, written at `at`.
    fn event(&mut self, line: &str, at: Instant) {
        self.events_seen += 1;
        if self.events_seen.is_multiple_of(SWEEP_EVERY) {
            self.sweep_early(at);
        }
        // Only three kinds matter; skip the others without parsing them.
        let kind = if line.contains("\"kind\":\"provider.stored\"") {
            "stored"
        } else if line.contains("\"kind\":\"confirmation.issued\"") {
            "confirmation"
        } else if line.contains("\"kind\":\"provider.delivered\"") {
            "delivered"
        } else {
            return;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return;
        };
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
        match kind {
            "confirmation" => {
                if field("confirmation") != "receipt" {
                    return;
                }
                let Some(index) = field("private_id")
                    .strip_prefix("LOAD-")
                    .and_then(|n| n.parse::<u64>().ok())
                else {
                    return;
                };
                if self.arrival(index).is_none() {
                    return;
                }
                self.receipts_pending
                    .insert(field("message_id").to_string(), index);
                // The confirmed message's id also names the push to wait for.
                let confirmed = field("for_message_id").to_string();
                if !confirmed.is_empty() && !self.pushes_pending.contains_key(&confirmed) {
                    self.push_known(confirmed, index);
                }
            }
            "stored" => {
                let id = field("message_id");
                if let Some(index) = self.receipts_pending.remove(id) {
                    if let Some(offset) = self.arrival(index).map(|a| a.offset_us) {
                        let us = self.since_intended(offset, at);
                        self.results.bump("receipts", 1);
                        self.results.record("receipt", us);
                    }
                    return;
                }
                if field("message_type") != "normal" {
                    return;
                }
                let mailbox = field("mailbox").to_string();
                let waiting = self.awaiting.get_mut(&mailbox);
                match waiting.and_then(VecDeque::pop_front) {
                    Some(index) => self.reply(index, at),
                    // Not a sender of this shard (the intake's own mailboxes receive the
                    // citizens' messages): ignored; a sender whose 250 is still on its way
                    // gets it when the 250 arrives.
                    None if self.senders.contains(&mailbox) => {
                        self.replies_early.entry(mailbox).or_default().push_back(at)
                    }
                    None => {}
                }
            }
            _ => {
                let id = field("message_id").to_string();
                match self.pushes_pending.remove(&id) {
                    Some(index) => self.push(index, at),
                    None => {
                        self.pushes_early.insert(id, at);
                    }
                }
            }
        }
    }
}

/// The writer behind the streamed trace: every event line goes to the file and, with its
/// wall instant, to the pairing in [`Live`].
pub struct Tap {
    /// `<out>/trace.jsonl`, flushed by the driver at the end.
    pub file: Arc<Mutex<std::io::BufWriter<std::fs::File>>>,
    pub live: Shared,
}

impl Write for Tap {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let at = Instant::now();
        if let Ok(line) = std::str::from_utf8(buf) {
            lock(&self.live).event(line.trim_end(), at);
        }
        demail_sim::sync::lock(&self.file).write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        demail_sim::sync::lock(&self.file).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::results::RunId;
    use crate::load::schedule::Habit;

    fn live() -> Live {
        let run = RunId {
            sink: false,
            profile: "t".into(),
            profile_digest: "d".into(),
            seed: 1,
            shards: 1,
            duration_ms: 2000,
            interval_ms: 1000,
            thresholds: vec![],
        };
        let arrival = |index: u64, citizen: usize| Arrival {
            index,
            offset_us: index * 500_000,
            mix: 0,
            citizen,
            habit: Habit::None,
        };
        Live::new(
            Instant::now(),
            Results::new(run, 0),
            Arc::new(vec![arrival(0, 0), arrival(1, 1)]),
            Arc::new(vec!["a@x.de".into(), "b@x.de".into()]),
        )
    }

    /// Receipts pair by private id, pushes by message id, replies by sender (first in,
    /// first out), whichever comes first: the provider's event or the 250 at the client.
    #[test]
    fn pairs_in_either_order() {
        let mut l = live();
        let now = Instant::now();
        let [a0, a1] = [l.arrivals[0].clone(), l.arrivals[1].clone()];
        l.started(&a0);
        l.started(&a1);
        l.finished(
            &a0,
            Outcome::Accepted {
                message_id: Some("m0".into()),
            },
            now,
        );
        l.event(r#"{"seq":1,"at":"x","kind":"confirmation.issued","provider":"p","confirmation":"receipt","for_message_id":"m0","message_id":"c0","from":"s","to":["a@x.de"],"private_id":"LOAD-0"}"#, now);
        l.event(r#"{"seq":2,"at":"x","kind":"provider.stored","provider":"p","mailbox":"a@x.de","message_id":"c0","message_type":"confirmation of receipt"}"#, now);
        l.event(r#"{"seq":3,"at":"x","kind":"provider.delivered","provider":"p","mailbox":"i@x.de","message_id":"m0","attempt":1,"eml":""}"#, now);
        // The second arrival's push and reply are seen before its 250 reaches the client.
        l.event(r#"{"seq":4,"at":"x","kind":"provider.delivered","provider":"p","mailbox":"i@x.de","message_id":"m1","attempt":1,"eml":""}"#, now);
        l.event(r#"{"seq":5,"at":"x","kind":"provider.stored","provider":"p","mailbox":"b@x.de","message_id":"r1","message_type":"normal"}"#, now);
        // A message into the intake's mailbox is not a reply.
        l.event(r#"{"seq":6,"at":"x","kind":"provider.stored","provider":"p","mailbox":"i@x.de","message_id":"m1","message_type":"normal"}"#, now);
        assert_eq!(l.unanswered(), 1);
        l.finished(
            &a1,
            Outcome::Accepted {
                message_id: Some("m1".into()),
            },
            now,
        );
        l.event(r#"{"seq":7,"at":"x","kind":"provider.stored","provider":"p","mailbox":"a@x.de","message_id":"r0","message_type":"normal"}"#, now);
        let r = &l.results;
        assert_eq!(
            ["accepted", "receipts", "pushes", "replies"].map(|c| r.count(c)),
            [2, 1, 2, 2]
        );
        assert_eq!(l.unanswered(), 0);
        assert_eq!(l.in_flight, 0);
        assert_eq!(r.histogram("reply").unwrap().len(), 2);
    }

    /// Pushes nobody waits for (the Eingangsbestätigung copies pushed to the intake) are
    /// forgotten once they are older than the submission timeout; fresh ones are kept.
    #[test]
    fn early_pushes_nobody_waits_for_are_forgotten() {
        let ttl = std::time::Duration::from_secs(35);
        let mut l = live().forget_early_after(ttl);
        let t0 = Instant::now();
        let push = |n: u64| {
            format!(
                r#"{{"seq":{n},"at":"x","kind":"provider.delivered","provider":"p","mailbox":"i@x.de","message_id":"copy{n}","attempt":1,"eml":""}}"#
            )
        };
        for n in 0..100 {
            l.event(&push(n), t0);
        }
        assert_eq!(l.early(), 100);
        // Later events: the sweep at the next multiple of SWEEP_EVERY drops the old ones.
        let later = t0 + ttl + std::time::Duration::from_secs(1);
        for _ in 100..SWEEP_EVERY {
            l.event(r#"{"seq":0,"at":"x","kind":"intake.other"}"#, later);
        }
        l.event(&push(SWEEP_EVERY), later);
        assert_eq!(l.early(), 1, "only the push seen after the sweep is left");
    }
}
