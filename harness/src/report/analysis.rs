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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use demail_sim::trace::{Event, EventKind};
use jiff::Timestamp;
use serde::Serialize;

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
    pub citizen: Arc<str>,
    /// Subject of the citizen's message.
    pub subject: Arc<str>,
    /// `X-de-mail-message-id` of the citizen's message (from `provider.accepted`).
    pub message_id: Arc<str>,
    /// Virtual time of the `citizen.sent`.
    pub sent_at: Arc<str>,
    /// What answered.
    pub kind: LatencyKind,
    /// Confirmation type (dispatch/receipt/retrieve), notification type, or "" for a reply.
    pub detail: Arc<str>,
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
    pub latencies: Vec<Latency>,
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

/// One copy of each repeated string (addresses, citizen ids, subjects, kinds of answer): a
/// long run's sends and latencies share them instead of holding a copy each (the year's
/// analysis held 163,020 copies of the intake's address).
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

/// A citizen's message; its instant and message id are shared with its latencies.
struct Send {
    seq: u64,
    at: Arc<str>,
    citizen: Arc<str>,
    from: Arc<str>,
    to: Vec<Arc<str>>,
    subject: Arc<str>,
    answered: bool,
    message_id: Option<Arc<str>>,
    /// Reply message id and its `provider.accepted` time.
    reply: Option<(String, String)>,
    claimed_by_deadline: bool,
}

struct Answer {
    send: usize,
    seq: u64,
    kind: LatencyKind,
    detail: Arc<str>,
    id: String,
    at: String,
}

/// Analyses the events of one run (in any order; they are sorted by `seq`).
pub fn analyse(events: &[Event]) -> Analysis {
    let mut evs: Vec<&Event> = events.iter().collect();
    evs.sort_by_key(|e| e.seq);
    analyse_passes(|f| evs.iter().for_each(|e| f(e)))
}

/// Analyses the events of a run's trace (in `seq` order; a long run's are read back from its
/// file, twice, and never all held in memory).
pub fn analyse_trace(trace: &demail_sim::trace::Trace) -> Analysis {
    analyse_passes(|f| trace.for_each(f))
}

/// The analysis over two passes of `each`, which calls its argument with every event in `seq`
/// order.
fn analyse_passes(each: impl Fn(&mut dyn FnMut(&Event))) -> Analysis {
    let mut out = Analysis::default();
    let mut run_started = None;
    let mut first = None;
    // First arrival of each message in each citizen's mailbox: only a citizen who sent before
    // can be waiting for an answer, so what is stored elsewhere (the intake's mailboxes, a
    // citizen who has not sent yet) is never looked up and not kept.
    // Per mailbox (one shared copy of its address), per message id.
    let mut stored: HashMap<Arc<str>, HashMap<String, String>> = HashMap::new();
    let mut senders = Pool::default();
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
                if let Some(mailbox) = senders.find(&lower(mailbox)) {
                    stored
                        .entry(mailbox.clone())
                        .or_default()
                        .entry(message_id.clone())
                        .or_insert_with(|| e.at.clone());
                }
            }
            _ => {}
        }
    });
    for (name, n) in counts.into_values() {
        *out.event_counts.entry(name).or_insert(0) += n;
    }
    out.virtual_start = run_started.or(first);
    let start = out.virtual_start.as_deref().and_then(ts);

    let mut pairing = Pairing {
        pool: senders,
        ..Pairing::default()
    };
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
        pairing.feed(e);
    });
    out.throughput = hours
        .into_iter()
        .map(|(hour, (accepted, stored))| HourCount {
            hour,
            accepted,
            stored,
        })
        .collect();
    let arrival = |mailbox: &str, id: &str, fallback: &str| -> String {
        stored
            .get(mailbox)
            .and_then(|m| m.get(id))
            .cloned()
            .unwrap_or_else(|| fallback.to_string())
    };
    out.latencies = pairing.latencies(&arrival);
    let end = out.virtual_end.as_deref().and_then(ts);
    out.deadlines = pairing.deadline_bars(end, &arrival);
    out
}

/// Pairs sends with what answered them, in one pass over the events in `seq` order.
///
/// Indexes over `sends`, so that a run of tens of thousands of messages is analysed in
/// O(n log n): the unanswered sends (all, and per sender), the send of each message id, and
/// the sends that wait for a reply, per sender. Each keeps the sends in their order, so the
/// first match is the one a linear search from the front would find.
#[derive(Default)]
struct Pairing {
    sends: Vec<Send>,
    answers: Vec<Answer>,
    deadlines: Vec<(u64, String, String, String)>,
    unanswered: BTreeSet<usize>,
    unanswered_by_from: HashMap<Arc<str>, BTreeSet<usize>>,
    send_of_message: HashMap<Arc<str>, usize>,
    awaiting_reply: HashMap<Arc<str>, BTreeSet<usize>>,
    accepted_seq: HashMap<String, u64>,
    pool: Pool,
}

impl Pairing {
    fn feed(&mut self, e: &Event) {
        match &e.kind {
            EventKind::CitizenSent {
                citizen,
                from,
                to,
                subject,
                ..
            } => {
                let i = self.sends.len();
                let from = self.pool.get(&lower(from));
                self.unanswered.insert(i);
                self.unanswered_by_from
                    .entry(from.clone())
                    .or_default()
                    .insert(i);
                self.sends.push(Send {
                    seq: e.seq,
                    at: Arc::from(e.at.as_str()),
                    citizen: self.pool.get(citizen),
                    from,
                    to: to.iter().map(|t| self.pool.get(&lower(t))).collect(),
                    subject: self.pool.get(subject),
                    answered: false,
                    message_id: None,
                    reply: None,
                    claimed_by_deadline: false,
                });
            }
            EventKind::ProviderAccepted {
                message_id,
                from,
                to,
                ..
            } => self.accepted(e, message_id, from, to),
            EventKind::ProviderRefused { from, .. } => {
                let first = match from.as_deref().map(lower) {
                    Some(f) => self
                        .unanswered_by_from
                        .get_mut(f.as_str())
                        .and_then(|set| set.pop_first()),
                    None => self.unanswered.first().copied().inspect(|i| {
                        if let Some(set) = self.unanswered_by_from.get_mut(&self.sends[*i].from) {
                            set.remove(i);
                        }
                    }),
                };
                if let Some(i) = first {
                    self.unanswered.remove(&i);
                    self.sends[i].answered = true;
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
            ),
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
            ),
            EventKind::DeadlineComputed {
                rule, from, due, ..
            } => {
                self.deadlines
                    .push((e.seq, rule.clone(), from.clone(), due.clone()));
            }
            _ => {}
        }
    }

    /// The provider accepted `message_id`: it answers the sender's first unanswered send, and a
    /// message from one of a send's recipients back to its sender replies to the earliest such
    /// send still without reply.
    fn accepted(&mut self, e: &Event, message_id: &str, from: &str, to: &[String]) {
        let from = lower(from);
        let to: Vec<String> = to.iter().map(|t| lower(t)).collect();
        // The first acceptance of a message orders it as a reply; only a message to a sender
        // waiting for a reply can be one (a reply comes after the message it answers), so
        // the citizens' own messages are not kept here.
        if !self.accepted_seq.contains_key(message_id)
            && to
                .iter()
                .any(|t| self.awaiting_reply.contains_key(t.as_str()))
        {
            self.accepted_seq.insert(message_id.to_string(), e.seq);
        }
        let first = self
            .unanswered_by_from
            .get_mut(from.as_str())
            .and_then(|set| set.pop_first());
        if let Some(i) = first {
            self.unanswered.remove(&i);
            let s = &mut self.sends[i];
            s.answered = true;
            let id: Arc<str> = Arc::from(message_id);
            s.message_id = Some(id.clone());
            self.send_of_message.entry(id).or_insert(i);
            self.awaiting_reply
                .entry(s.from.clone())
                .or_default()
                .insert(i);
        }
        let sends = &self.sends;
        let reply_to = to
            .iter()
            .filter_map(|t| self.awaiting_reply.get(t.as_str()))
            .filter_map(|set| {
                set.iter().copied().find(|&i| {
                    let s = &sends[i];
                    s.message_id.as_deref().is_some_and(|m| m != message_id)
                        && s.to.iter().any(|t| **t == *from)
                })
            })
            .min();
        if let Some(i) = reply_to {
            let s = &mut self.sends[i];
            s.reply = Some((message_id.to_string(), e.at.clone()));
            if let Some(set) = self.awaiting_reply.get_mut(&s.from) {
                set.remove(&i);
            }
        }
    }

    /// A confirmation or Meldung about `for_message_id` answers its send.
    fn answer(
        &mut self,
        e: &Event,
        for_message_id: &str,
        kind: LatencyKind,
        detail: &str,
        id: &str,
    ) {
        if let Some(&i) = self.send_of_message.get(for_message_id) {
            self.answers.push(Answer {
                send: i,
                seq: e.seq,
                kind,
                detail: self.pool.get(detail),
                id: id.to_string(),
                at: e.at.clone(),
            });
        }
    }

    /// Confirmations, Meldungen and replies as latencies, ordered by send and then by the
    /// event that announced them.
    fn latencies(&self, arrival: &dyn Fn(&str, &str, &str) -> String) -> Vec<Latency> {
        let mut all: Vec<(u64, u64, Latency)> = Vec::new();
        for a in &self.answers {
            let s = &self.sends[a.send];
            let arrived_at = arrival(&s.from, &a.id, &a.at);
            all.push((
                s.seq,
                a.seq,
                latency(s, a.kind, a.detail.clone(), &a.id, arrived_at),
            ));
        }
        let no_detail: Arc<str> = Arc::from("");
        for s in &self.sends {
            if let Some((id, at)) = &s.reply {
                let arrived_at = arrival(&s.from, id, at);
                let seq = self
                    .accepted_seq
                    .get(id.as_str())
                    .copied()
                    .unwrap_or(u64::MAX);
                all.push((
                    s.seq,
                    seq,
                    latency(s, LatencyKind::Reply, no_detail.clone(), id, arrived_at),
                ));
            }
        }
        all.sort_by_key(|a| (a.0, a.1));
        all.into_iter().map(|(_, _, l)| l).collect()
    }

    /// Each computed deadline with the send it belongs to: the first unclaimed accepted send of
    /// its starting instant that came before it; met, missed or still open at `end`.
    fn deadline_bars(
        &mut self,
        end: Option<Timestamp>,
        arrival: &dyn Fn(&str, &str, &str) -> String,
    ) -> Vec<DeadlineBar> {
        let mut sends_at: HashMap<Timestamp, Vec<usize>> = HashMap::new();
        for (i, s) in self.sends.iter().enumerate() {
            if let Some(t) = ts(&s.at) {
                sends_at.entry(t).or_default().push(i);
            }
        }
        let mut bars = Vec::new();
        for (seq, rule, from, due) in &self.deadlines {
            let (seq, rule, from, due) = (*seq, rule.as_str(), from.as_str(), due.as_str());
            let sends = &self.sends;
            let found = ts(from).and_then(|t| sends_at.get(&t)).and_then(|list| {
                list.iter().copied().find(|&i| {
                    let s = &sends[i];
                    !s.claimed_by_deadline && s.message_id.is_some() && s.seq < seq
                })
            });
            let (message_id, subject, reply_at) = match found.map(|i| &mut self.sends[i]) {
                Some(s) => {
                    s.claimed_by_deadline = true;
                    let reply_at = s.reply.as_ref().map(|(id, at)| arrival(&s.from, id, at));
                    (
                        s.message_id.as_deref().map(str::to_string),
                        Some(s.subject.to_string()),
                        reply_at,
                    )
                }
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
        bars
    }
}

fn latency(s: &Send, kind: LatencyKind, detail: Arc<str>, id: &str, arrived_at: String) -> Latency {
    Latency {
        sent_seq: s.seq,
        citizen: s.citizen.clone(),
        subject: s.subject.clone(),
        message_id: s.message_id.clone().unwrap_or_else(|| Arc::from("")),
        sent_at: s.at.clone(),
        kind,
        detail,
        answer_id: id.to_string(),
        seconds: secs_between(&s.at, &arrived_at).unwrap_or(0),
        arrived_at,
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
        let r = analyse(&events);
        assert_eq!(r.latencies.len(), 2);
        assert_eq!(r.latencies[0].kind, LatencyKind::Confirmation);
        assert_eq!(r.latencies[0].seconds, 0);
        assert_eq!(r.latencies[1].kind, LatencyKind::Reply);
        assert_eq!(r.latencies[1].seconds, 25 * 3600);
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
        let r = analyse(&events);
        let got: Vec<(LatencyKind, &str, i64)> = r
            .latencies
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

    /// Durations read like the checks' details.
    #[test]
    fn human_durations() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(45), "45s");
        assert_eq!(human(72_000), "20h 0m");
        assert_eq!(human(5 * 86_400), "5d 0h 0m");
    }
}
