//! Analysis of a run's events for the reports: counts per kind, throughput per virtual hour,
//! latencies from a citizen's message to its confirmations, Meldungen and reply, and the
//! deadlines with the reply they waited for.
//!
//! Pairing, from the trace alone (the same rules are in `docs/reports.md`):
//! - A `citizen.sent` is answered by the next `provider.accepted` (or `provider.refused`) with
//!   the same `from` address; the accepted `message_id` names the citizen's message. The runner
//!   settles after each send, so the answer always follows its `citizen.sent`.
//! - A confirmation or Meldung belongs to the message its `for_message_id` names; it arrived
//!   when the `provider.stored` of its `message_id` into the sender's mailbox happened (or at
//!   `confirmation.issued` / `notification.issued` if it was never stored).
//! - A reply is the first later `provider.accepted` whose `from` is a recipient of the
//!   citizen's message and whose `to` contains the citizen; the oldest unanswered message wins
//!   (first in, first out). It arrived at its `provider.stored` into the citizen's mailbox.
//! - A `deadline.computed` belongs to the first not yet paired accepted message whose
//!   `citizen.sent` happened at the deadline's `from` instant (the judge counts from the
//!   sending). It is met when the reply arrived before `due`, missed when the reply came at or
//!   after `due` or never came while the run reached `due`, and open otherwise.
//!
//! Memory: the trace is read twice from its file, and what grows with the run's length (first
//! arrivals, accepted sends, latencies) goes to a temporary SQLite database (`spill.rs`); in
//! memory stay the sends something may still pair with.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use anyhow::{Context, Result};
use demail_sim::trace::{Event, EventKind};
use jiff::Timestamp;
use serde::Serialize;

use super::spill::{Latencies, Spill};

/// What answered a citizen's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyKind {
    /// A Bestätigungsnachricht (`confirmation.issued`).
    Confirmation,
    /// A Meldungsnachricht (`notification.issued`).
    Notification,
    /// A message from a recipient back to the citizen (e.g. the intake's Empfangsbescheinigung).
    Reply,
}

impl LatencyKind {
    /// All kinds, in chart order.
    pub const ALL: [LatencyKind; 3] = [Self::Confirmation, Self::Notification, Self::Reply];

    /// The position in [`LatencyKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The lowercase name used in the files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Notification => "notification",
            Self::Reply => "reply",
        }
    }
}

/// The virtual time from a `citizen.sent` until one answer arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// `seq` of the `citizen.sent` event.
    pub sent_seq: u64,
    /// Citizen id.
    pub citizen: String,
    /// Subject of the citizen's message.
    pub subject: String,
    /// `X-de-mail-message-id` of the citizen's message (from `provider.accepted`).
    pub message_id: String,
    /// Virtual time of the `citizen.sent`.
    pub sent_at: String,
    /// What answered.
    pub kind: LatencyKind,
    /// Confirmation type (dispatch/receipt/retrieve), notification type, or "" for a reply.
    pub detail: String,
    /// `message_id` of the answer.
    pub answer_id: String,
    /// Virtual time the answer arrived in the citizen's mailbox.
    pub arrived_at: String,
    /// `arrived_at - sent_at` in seconds.
    pub seconds: i64,
}

/// How a deadline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadlineStatus {
    /// The reply arrived before `due`.
    Met,
    /// The reply arrived at or after `due`, or not at all while the run reached `due`.
    Missed,
    /// No reply, and the run ended before `due`.
    Open,
}

impl DeadlineStatus {
    /// The lowercase name used in the files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::Open => "open",
        }
    }
}

/// One `deadline.computed` with the reply it waited for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadlineBar {
    /// `seq` of the `deadline.computed` event.
    pub seq: u64,
    pub rule: String,
    pub from: String,
    pub due: String,
    /// The citizen's message the deadline was paired with.
    pub message_id: Option<String>,
    /// Its subject.
    pub subject: Option<String>,
    /// When the reply arrived in the citizen's mailbox.
    pub reply_at: Option<String>,
    pub status: DeadlineStatus,
    /// `due - from` in seconds.
    pub due_seconds: i64,
    /// `reply_at - from` in seconds.
    pub reply_seconds: Option<i64>,
}

/// Messages accepted and stored in one virtual hour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HourCount {
    /// Whole hours since the start of the run (the `run.started` event).
    pub hour: i64,
    /// `provider.accepted` events in that hour.
    pub accepted: u64,
    /// `provider.stored` events in that hour.
    pub stored: u64,
}

/// Everything derived from one run's events.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub event_counts: BTreeMap<String, u64>,
    pub virtual_start: Option<String>,
    pub virtual_end: Option<String>,
    /// In the analysis's database (`spill.rs`), read in report order.
    pub latencies: Latencies,
    pub deadlines: Vec<DeadlineBar>,
    pub throughput: Vec<HourCount>,
}

/// The dotted `kind` name of an event, as in the trace.
pub fn kind_name(kind: &EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn ts(at: &str) -> Option<Timestamp> {
    at.parse().ok()
}

fn secs_between(from: &str, to: &str) -> Option<i64> {
    Some(ts(to)?.duration_since(ts(from)?).as_secs())
}

fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// One copy of each address: the senders (whose mailboxes' arrivals are recorded) and the
/// indexes of the sends in memory share them.
#[derive(Default)]
struct Pool(HashSet<Arc<str>>);

impl Pool {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }

    /// The copy of `s`, if the pool has one.
    fn find(&self, s: &str) -> Option<&Arc<str>> {
        self.0.get(s)
    }
}

/// A citizen's message while something may still pair with it in memory: until the provider
/// answered it (refused: forgotten) and, once accepted, until its reply came. What an answer
/// needs later is in the analysis's database (`spill.rs`).
struct Active {
    seq: u64,
    at: String,
    citizen: String,
    from: Arc<str>,
    to: Vec<Arc<str>>,
    subject: String,
    message_id: Option<String>,
}

/// Analyses the events of one run (in any order; they are sorted by `seq`).
pub fn analyse(events: &[Event]) -> Result<Analysis> {
    let mut evs: Vec<&Event> = events.iter().collect();
    evs.sort_by_key(|e| e.seq);
    analyse_passes(|f| evs.iter().for_each(|e| f(e)))
}

/// Analyses the events of a run's trace (in `seq` order; a long run's are read back from its
/// file, twice, and never all held in memory). What grows with the run's length goes to a
/// temporary database (`spill.rs`).
pub fn analyse_trace(trace: &demail_sim::trace::Trace) -> Result<Analysis> {
    analyse_passes(|f| trace.for_each(f))
}

/// The analysis over two passes of `each`, which calls its argument with every event in `seq`
/// order.
fn analyse_passes(each: impl Fn(&mut dyn FnMut(&Event))) -> Result<Analysis> {
    let spill = Spill::create()?;
    let mut out = Analysis::default();
    let mut run_started = None;
    let mut first = None;
    // First arrival of each message in each citizen's mailbox: only a citizen who sent before
    // can be waiting for an answer, so what is stored elsewhere (the intake's mailboxes, a
    // citizen who has not sent yet) is never looked up and not kept.
    let mut senders = Pool::default();
    let mut failed: Option<anyhow::Error> = None;
    // Counted per variant, named once per variant (naming serializes the whole event).
    let mut counts: HashMap<std::mem::Discriminant<EventKind>, (String, u64)> = HashMap::new();
    each(&mut |e| {
        counts
            .entry(std::mem::discriminant(&e.kind))
            .or_insert_with(|| (kind_name(&e.kind), 0))
            .1 += 1;
        if first.is_none() {
            first = Some(e.at.clone());
        }
        if run_started.is_none() && matches!(e.kind, EventKind::RunStarted { .. }) {
            run_started = Some(e.at.clone());
        }
        if out.virtual_end.as_deref() != Some(e.at.as_str()) {
            out.virtual_end = Some(e.at.clone());
        }
        match &e.kind {
            EventKind::CitizenSent { from, .. } => {
                senders.get(&lower(from));
            }
            EventKind::ProviderStored {
                mailbox,
                message_id,
                ..
            } => {
                if failed.is_none()
                    && let Some(mailbox) = senders.find(&lower(mailbox))
                    && let Err(err) = spill.stored(mailbox, message_id, &e.at)
                {
                    failed = Some(err);
                }
            }
            _ => {}
        }
    });
    if let Some(err) = failed {
        return Err(err.context("the reports' analysis"));
    }
    for (name, n) in counts.into_values() {
        *out.event_counts.entry(name).or_insert(0) += n;
    }
    out.virtual_start = run_started.or(first);
    let start = out.virtual_start.as_deref().and_then(ts);

    let mut pairing = Pairing::new(&spill, senders);
    let mut hours: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let hour_of = |at: &str| -> Option<i64> {
        Some(ts(at)?.duration_since(start?).as_secs().div_euclid(3600))
    };
    each(&mut |e| {
        match &e.kind {
            EventKind::ProviderAccepted { .. } => {
                if let Some(h) = hour_of(&e.at) {
                    hours.entry(h).or_default().0 += 1;
                }
            }
            EventKind::ProviderStored { .. } => {
                if let Some(h) = hour_of(&e.at) {
                    hours.entry(h).or_default().1 += 1;
                }
            }
            _ => {}
        }
        if pairing.failed.is_none()
            && let Err(err) = pairing.feed(e)
        {
            pairing.failed = Some(err);
        }
    });
    if let Some(err) = pairing.failed.take() {
        return Err(err.context("the reports' analysis"));
    }
    out.throughput = hours
        .into_iter()
        .map(|(hour, (accepted, stored))| HourCount {
            hour,
            accepted,
            stored,
        })
        .collect();
    let end = out.virtual_end.as_deref().and_then(ts);
    out.deadlines = pairing
        .deadline_bars(end)
        .context("the reports' analysis")?;
    drop(pairing);
    spill.commit()?;
    out.latencies = Latencies::of(Arc::new(spill))?;
    Ok(out)
}

/// Pairs sends with what answered them, in one pass over the events in `seq` order.
///
/// In memory only the sends something may still pair with (module documentation of
/// `spill.rs` for the rest): the unanswered sends (all, and per sender) and those that wait
/// for a reply, per sender. Each index keeps the sends in their order, so the first match is
/// the one a linear search from the front would find. Latencies go to the database as they
/// are found.
struct Pairing<'s> {
    spill: &'s Spill,
    /// Sends still unanswered by the provider or waiting for a reply, by send index.
    active: HashMap<usize, Active>,
    /// Sends so far (the next send's index).
    sent: usize,
    /// Latencies recorded so far (orders answers announced by the same event).
    tie: u64,
    unanswered: BTreeSet<usize>,
    unanswered_by_from: HashMap<Arc<str>, BTreeSet<usize>>,
    /// Per sender ever accepted, the sends waiting for a reply (an emptied set stays: it marks
    /// a sender whose later messages' acceptances order replies).
    awaiting_reply: HashMap<Arc<str>, BTreeSet<usize>>,
    deadlines: Vec<(u64, String, String, String)>,
    /// Accepted sends so far (the order of the first acceptance of a message id).
    accepted: u64,
    pool: Pool,
    failed: Option<anyhow::Error>,
}

impl<'s> Pairing<'s> {
    /// A pairing that writes to `spill` and shares the strings of `pool`.
    fn new(spill: &'s Spill, pool: Pool) -> Self {
        Self {
            spill,
            active: HashMap::new(),
            sent: 0,
            tie: 0,
            unanswered: BTreeSet::new(),
            unanswered_by_from: HashMap::new(),
            awaiting_reply: HashMap::new(),
            deadlines: Vec::new(),
            accepted: 0,
            pool,
            failed: None,
        }
    }

    fn feed(&mut self, e: &Event) -> Result<()> {
        match &e.kind {
            EventKind::CitizenSent {
                citizen,
                from,
                to,
                subject,
                ..
            } => {
                let i = self.sent;
                self.sent += 1;
                let from = self.pool.get(&lower(from));
                self.unanswered.insert(i);
                self.unanswered_by_from
                    .entry(from.clone())
                    .or_default()
                    .insert(i);
                let active = Active {
                    seq: e.seq,
                    at: e.at.clone(),
                    citizen: citizen.clone(),
                    from,
                    to: to.iter().map(|t| self.pool.get(&lower(t))).collect(),
                    subject: subject.clone(),
                    message_id: None,
                };
                self.active.insert(i, active);
            }
            EventKind::ProviderAccepted {
                message_id,
                from,
                to,
                ..
            } => self.accepted(e, message_id, from, to)?,
            EventKind::ProviderRefused { from, .. } => {
                let first = match from.as_deref().map(lower) {
                    Some(f) => self
                        .unanswered_by_from
                        .get_mut(f.as_str())
                        .and_then(|set| set.pop_first()),
                    None => self.unanswered.first().copied().inspect(|i| {
                        let from = self.active.get(i).map(|s| s.from.clone());
                        if let Some(set) = from.and_then(|f| self.unanswered_by_from.get_mut(&f)) {
                            set.remove(i);
                        }
                    }),
                };
                if let Some(i) = first {
                    // A refused message gets no message id: nothing pairs with it any more.
                    self.unanswered.remove(&i);
                    self.active.remove(&i);
                }
            }
            EventKind::ConfirmationIssued {
                confirmation,
                for_message_id,
                message_id,
                ..
            } => self.answer(
                e,
                for_message_id,
                LatencyKind::Confirmation,
                confirmation,
                message_id,
            )?,
            EventKind::NotificationIssued {
                notification_type,
                for_message_id,
                message_id,
                ..
            } => self.answer(
                e,
                for_message_id,
                LatencyKind::Notification,
                notification_type,
                message_id,
            )?,
            EventKind::DeadlineComputed {
                rule, from, due, ..
            } => {
                self.deadlines
                    .push((e.seq, rule.clone(), from.clone(), due.clone()));
            }
            _ => {}
        }
        Ok(())
    }

    /// The provider accepted `message_id`: it answers the sender's first unanswered send, and a
    /// message from one of a send's recipients back to its sender replies to the earliest such
    /// send still without reply.
    fn accepted(&mut self, e: &Event, message_id: &str, from: &str, to: &[String]) -> Result<()> {
        let from = lower(from);
        let to: Vec<String> = to.iter().map(|t| lower(t)).collect();
        // The first acceptance of a message orders it as a reply; only a message to a sender
        // who was accepted before can be one (a reply comes after the message it answers).
        if to
            .iter()
            .any(|t| self.awaiting_reply.contains_key(t.as_str()))
        {
            self.spill.first_accept(message_id, e.seq)?;
        }
        let first = self
            .unanswered_by_from
            .get_mut(from.as_str())
            .and_then(|set| set.pop_first());
        if let Some(i) = first {
            self.unanswered.remove(&i);
            if let Some(s) = self.active.get_mut(&i) {
                s.message_id = Some(message_id.to_string());
                self.accepted += 1;
                self.spill.accepted_send(
                    s.seq,
                    self.accepted,
                    &s.at,
                    ts(&s.at),
                    &s.citizen,
                    &s.from,
                    &s.subject,
                    message_id,
                )?;
                self.awaiting_reply
                    .entry(s.from.clone())
                    .or_default()
                    .insert(i);
            }
        }
        let active = &self.active;
        let reply_to = to
            .iter()
            .filter_map(|t| self.awaiting_reply.get(t.as_str()))
            .filter_map(|set| {
                set.iter().copied().find(|i| {
                    active.get(i).is_some_and(|s| {
                        s.message_id.as_deref().is_some_and(|m| m != message_id)
                            && s.to.iter().any(|t| **t == *from)
                    })
                })
            })
            .min();
        if let Some(s) = reply_to.and_then(|i| self.active.remove(&i).map(|s| (i, s))) {
            let (i, s) = s;
            if let Some(set) = self.awaiting_reply.get_mut(&s.from) {
                set.remove(&i);
            }
            let arrival = self
                .spill
                .arrival(&s.from, message_id)?
                .unwrap_or_else(|| e.at.clone());
            let answer_seq = self.spill.first_accept_of(message_id)?.unwrap_or(u64::MAX);
            self.record(
                s.seq,
                answer_seq,
                LatencyKind::Reply,
                "",
                message_id,
                &s.at,
                &arrival,
            )?;
            self.spill.replied(s.seq, message_id, &arrival)?;
        }
        Ok(())
    }

    /// A confirmation or Meldung about `for_message_id` answers its send.
    fn answer(
        &mut self,
        e: &Event,
        for_message_id: &str,
        kind: LatencyKind,
        detail: &str,
        id: &str,
    ) -> Result<()> {
        if let Some((send_seq, sent_at, sender)) = self.spill.send_of_message(for_message_id)? {
            let arrival = self
                .spill
                .arrival(&sender, id)?
                .unwrap_or_else(|| e.at.clone());
            self.record(send_seq, e.seq, kind, detail, id, &sent_at, &arrival)?;
        }
        Ok(())
    }

    /// Records a latency (ordered by send, then by `answer_seq`, the event that announced it).
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        send_seq: u64,
        answer_seq: u64,
        kind: LatencyKind,
        detail: &str,
        id: &str,
        sent_at: &str,
        arrived_at: &str,
    ) -> Result<()> {
        self.tie += 1;
        let seconds = secs_between(sent_at, arrived_at).unwrap_or(0);
        self.spill.latency(
            send_seq, answer_seq, self.tie, kind, detail, id, arrived_at, seconds,
        )
    }

    /// Each computed deadline with the send it belongs to: the first unclaimed accepted send of
    /// its starting instant that came before it; met, missed or still open at `end`.
    fn deadline_bars(&mut self, end: Option<Timestamp>) -> Result<Vec<DeadlineBar>> {
        let mut bars = Vec::new();
        for (seq, rule, from, due) in &self.deadlines {
            let (seq, rule, from, due) = (*seq, rule.as_str(), from.as_str(), due.as_str());
            let found = match ts(from) {
                Some(t) => self.spill.claim_send_at(t, seq)?,
                None => None,
            };
            let (message_id, subject, reply_at) = match found {
                Some(s) => (Some(s.message_id), Some(s.subject), s.reply_arrival),
                None => (None, None, None),
            };
            let due_ts = ts(due);
            let status = match (&reply_at, due_ts) {
                (Some(r), Some(d)) if ts(r).is_some_and(|r| r < d) => DeadlineStatus::Met,
                (Some(_), _) => DeadlineStatus::Missed,
                (None, Some(d)) if end.is_some_and(|e| e >= d) => DeadlineStatus::Missed,
                (None, _) => DeadlineStatus::Open,
            };
            bars.push(DeadlineBar {
                seq,
                rule: rule.to_string(),
                from: from.to_string(),
                due: due.to_string(),
                message_id,
                subject,
                reply_seconds: reply_at.as_deref().and_then(|r| secs_between(from, r)),
                reply_at,
                status,
                due_seconds: secs_between(from, due).unwrap_or(0),
            });
        }
        Ok(bars)
    }
}

/// "0s", "45s", "20h 0m", "5d 0h 0m" (like the checks' wording).
pub fn human(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    if s < 60 {
        return format!("{sign}{s}s");
    }
    let (days, rest) = (s / 86_400, s % 86_400);
    let (hours, minutes) = (rest / 3600, rest % 3600 / 60);
    if days > 0 {
        format!("{sign}{days}d {hours}h {minutes}m")
    } else {
        format!("{sign}{hours}h {minutes}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, at: &str, kind: EventKind) -> Event {
        Event {
            seq,
            at: at.to_string(),
            kind,
        }
    }

    fn sent(seq: u64, at: &str, from: &str, to: &str) -> Event {
        ev(
            seq,
            at,
            EventKind::CitizenSent {
                citizen: "a".into(),
                from: from.into(),
                to: vec![to.into()],
                subject: "S".into(),
                private_id: None,
                options: vec![],
            },
        )
    }

    fn accepted(seq: u64, at: &str, id: &str, from: &str, to: &str) -> Event {
        ev(
            seq,
            at,
            EventKind::ProviderAccepted {
                provider: "p".into(),
                message_id: id.into(),
                from: from.into(),
                to: vec![to.into()],
                auth_level: "high".into(),
                options: vec![],
                eml: String::new(),
            },
        )
    }

    fn stored(seq: u64, at: &str, mailbox: &str, id: &str) -> Event {
        ev(
            seq,
            at,
            EventKind::ProviderStored {
                provider: "p".into(),
                mailbox: mailbox.into(),
                message_id: id.into(),
                message_type: "normal".into(),
            },
        )
    }

    /// A confirmation of `kind` about `for_id`, issued as `id` to `to`.
    fn confirmation(seq: u64, at: &str, kind: &str, for_id: &str, id: &str, to: &str) -> Event {
        ev(
            seq,
            at,
            EventKind::ConfirmationIssued {
                provider: "p".into(),
                confirmation: kind.into(),
                for_message_id: for_id.into(),
                message_id: id.into(),
                from: "E@p".into(),
                to: vec![to.into()],
                private_id: None,
            },
        )
    }

    /// A send, its receipt confirmation and a late reply pair up; the deadline is missed.
    #[test]
    fn pairs_confirmation_reply_and_deadline() {
        let a = "a@x.de";
        let i = "amt@y.de";
        let events = vec![
            ev(
                1,
                "2025-03-03T09:00:00+01:00",
                EventKind::RunStarted {
                    scenario: "s".into(),
                    seed: 1,
                    regime: String::new(),
                },
            ),
            sent(2, "2025-03-03T09:00:00+01:00", a, i),
            accepted(3, "2025-03-03T09:00:00+01:00", "m1", a, i),
            confirmation(4, "2025-03-03T09:00:00+01:00", "receipt", "m1", "m2", a),
            ev(
                5,
                "2025-03-03T09:00:00+01:00",
                EventKind::DeadlineComputed {
                    rule: "r".into(),
                    source: String::new(),
                    from: "2025-03-03T09:00:00+01:00".into(),
                    due: "2025-03-04T00:00:00+01:00".into(),
                    steps: vec![],
                },
            ),
            accepted(6, "2025-03-04T10:00:00+01:00", "m3", i, a),
            stored(7, "2025-03-04T10:00:00+01:00", a, "m3"),
        ];
        let r = analyse(&events).unwrap();
        let latencies = r.latencies.to_vec().unwrap();
        assert_eq!(latencies.len(), 2);
        assert_eq!(latencies[0].kind, LatencyKind::Confirmation);
        assert_eq!(latencies[0].seconds, 0);
        assert_eq!(latencies[1].kind, LatencyKind::Reply);
        assert_eq!(latencies[1].seconds, 25 * 3600);
        assert_eq!(r.deadlines.len(), 1);
        assert_eq!(r.deadlines[0].status, DeadlineStatus::Missed);
        assert_eq!(r.deadlines[0].message_id.as_deref(), Some("m1"));
        assert_eq!(
            r.throughput,
            vec![
                HourCount {
                    hour: 0,
                    accepted: 1,
                    stored: 0
                },
                HourCount {
                    hour: 25,
                    accepted: 1,
                    stored: 1
                }
            ]
        );
        assert_eq!(r.event_counts["provider.accepted"], 2);
    }

    /// An answer arrives when it is stored into the sender's mailbox, not when it was issued
    /// or accepted; what is stored in other mailboxes does not count. A send's answers are
    /// ordered by the event that announced them (a reply by its first acceptance).
    #[test]
    fn an_answer_arrives_when_stored_in_the_senders_mailbox() {
        let (a, i) = ("a@x.de", "amt@y.de");
        let events = vec![
            sent(1, "2025-03-03T09:00:00+01:00", a, i),
            accepted(2, "2025-03-03T09:00:00+01:00", "m1", a, i),
            stored(3, "2025-03-03T09:00:00+01:00", i, "m1"),
            confirmation(4, "2025-03-03T09:00:00+01:00", "receipt", "m1", "m2", a),
            // The reply, stored first (in this test) into another mailbox, then into the
            // citizen's after a retry.
            accepted(5, "2025-03-03T12:00:00+01:00", "m3", i, a),
            stored(6, "2025-03-03T12:00:00+01:00", i, "m3"),
            stored(7, "2025-03-03T09:01:00+01:00", a, "m2"),
            stored(8, "2025-03-03T12:05:00+01:00", a, "m3"),
            stored(9, "2025-03-03T12:06:00+01:00", a, "m3"),
            // A confirmation after the reply comes after it (ordered by the reply's first
            // acceptance).
            confirmation(10, "2025-03-03T13:00:00+01:00", "retrieve", "m1", "m4", a),
            stored(11, "2025-03-03T13:00:00+01:00", a, "m4"),
        ];
        let r = analyse(&events).unwrap();
        let latencies = r.latencies.to_vec().unwrap();
        let got: Vec<(LatencyKind, &str, i64)> = latencies
            .iter()
            .map(|l| (l.kind, l.arrived_at.as_str(), l.seconds))
            .collect();
        assert_eq!(
            got,
            vec![
                (LatencyKind::Confirmation, "2025-03-03T09:01:00+01:00", 60),
                (
                    LatencyKind::Reply,
                    "2025-03-03T12:05:00+01:00",
                    3 * 3600 + 300
                ),
                (
                    LatencyKind::Confirmation,
                    "2025-03-03T13:00:00+01:00",
                    4 * 3600
                ),
            ]
        );
    }

    /// Latencies come back in report order (by send, then by the event that announced the
    /// answer) however they were found: a later send's confirmation is found before an
    /// earlier send's reply.
    #[test]
    fn latencies_read_back_in_report_order() {
        let (a, b, i) = ("a@x.de", "b@x.de", "amt@y.de");
        let events = vec![
            sent(1, "2025-03-03T09:00:00+01:00", a, i),
            accepted(2, "2025-03-03T09:00:00+01:00", "m1", a, i),
            sent(3, "2025-03-03T10:00:00+01:00", b, i),
            accepted(4, "2025-03-03T10:00:00+01:00", "m2", b, i),
            confirmation(5, "2025-03-03T10:00:00+01:00", "receipt", "m2", "c2", b),
            accepted(6, "2025-03-03T11:00:00+01:00", "r1", i, a),
            confirmation(7, "2025-03-03T11:30:00+01:00", "receipt", "m1", "c1", a),
        ];
        let r = analyse(&events).unwrap();
        let got: Vec<(u64, String)> = r
            .latencies
            .to_vec()
            .unwrap()
            .into_iter()
            .map(|l| (l.sent_seq, l.answer_id))
            .collect();
        let want = [(1, "r1"), (1, "c1"), (3, "c2")].map(|(s, id)| (s, id.to_string()));
        assert_eq!(got, want);
        assert_eq!(r.latencies.first(1).unwrap()[0].answer_id, "r1");
    }

    /// Hostile strings in the trace (quotes, SQL, a NUL byte, a long value) go through the
    /// analysis's database as values and come back unchanged.
    #[test]
    fn hostile_strings_round_trip_through_the_database() {
        let (a, i) = ("a@x.de", "amt@y.de");
        let hostile = format!("x'); DROP TABLE sends; --\"\0{}", "ü".repeat(100_000));
        let mut send = sent(1, "2025-03-03T09:00:00+01:00", a, i);
        if let EventKind::CitizenSent {
            citizen, subject, ..
        } = &mut send.kind
        {
            citizen.clone_from(&hostile);
            subject.clone_from(&hostile);
        }
        let events = vec![
            send,
            accepted(2, "2025-03-03T09:00:00+01:00", &hostile, a, i),
            confirmation(
                3,
                "2025-03-03T09:00:00+01:00",
                "receipt",
                &hostile,
                "c'1",
                a,
            ),
            stored(4, "2025-03-03T09:00:05+01:00", a, "c'1"),
        ];
        let r = analyse(&events).unwrap();
        let l = &r.latencies.to_vec().unwrap()[0];
        assert_eq!(l.citizen, hostile);
        assert_eq!(l.subject, hostile);
        assert_eq!(l.message_id, hostile);
        assert_eq!(l.answer_id, "c'1");
        assert_eq!(l.seconds, 5);
    }

    /// The pairing keeps in memory only the sends something may still pair with: a thousand
    /// answered and replied messages leave nothing behind, and all their latencies are in the
    /// database.
    #[test]
    fn the_pairing_forgets_replied_sends() {
        let spill = Spill::create().unwrap();
        let mut pairing = Pairing::new(&spill, Pool::default());
        let i = "amt@y.de";
        let at = "2025-03-03T09:00:00+01:00";
        let mut seq = 0;
        let mut next = || {
            seq += 1;
            seq
        };
        for n in 0..1_000 {
            let citizen = format!("c{}@x.de", n % 37);
            pairing.feed(&sent(next(), at, &citizen, i)).unwrap();
            pairing
                .feed(&accepted(next(), at, &format!("m{n}"), &citizen, i))
                .unwrap();
            pairing
                .feed(&accepted(next(), at, &format!("r{n}"), i, &citizen))
                .unwrap();
            assert!(pairing.active.is_empty(), "after message {n}");
        }
        assert!(pairing.unanswered.is_empty());
        drop(pairing);
        spill.commit().unwrap();
        assert_eq!(Latencies::of(Arc::new(spill)).unwrap().len(), 1_000);
    }

    /// Durations read like the checks' details.
    #[test]
    fn human_durations() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(45), "45s");
        assert_eq!(human(72_000), "20h 0m");
        assert_eq!(human(5 * 86_400), "5d 0h 0m");
    }
}
