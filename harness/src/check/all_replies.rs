//! `all-replies`: every message of a traffic that the provider accepted gets a reply from the
//! intake before the deadline of a legal rule. Decided once every arrival was sent and either
//! all replied or the last deadline passed, or at the end of the run; the detail gives counts,
//! p50/p95/max answer times, late and missing messages (refused ones are counted, not judged).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::lookup::human;
use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<AllReplies>(Shape {
    name: "all-replies",
    keys: &["traffic", "rule"],
    about: About::Traffic,
    timing: Timing::Observed,
    level: Level::Wire,
});

/// Keys `traffic` and `rule`, and what is known so far of the traffic's replies.
#[derive(Clone, Debug)]
pub struct AllReplies {
    traffic: String,
    /// A rule id of the legal calendar, as written (validated at load).
    rule: String,
    /// Per message (step id) the deadline and, once seen, the instant the reply reached the
    /// sender's mailbox. Both are fixed once known, so later instants read only the
    /// mailboxes of the messages still without reply.
    reply_seen: BTreeMap<String, (Timestamp, Option<Timestamp>)>,
    /// How many of the observation's sends were counted, and how many of them belong to the
    /// traffic: whether the traffic is complete is then cheap to know.
    sends_counted: usize,
    sent_so_far: usize,
}

/// Where the traffic's accepted messages stand at one instant.
#[derive(Default)]
struct Tally {
    in_time: usize,
    late: Vec<String>,
    missing: Vec<String>,
    open: Vec<String>,
    refused: usize,
    /// Seconds from sending to the reply, of the replies in time.
    latencies: Vec<i64>,
    last_due: Option<Timestamp>,
}

impl Kind for AllReplies {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let traffic = cx.traffic()?;
        let rule = cx.rule(cx.need(&cx.spec.rule, "rule")?)?;
        Ok(Self {
            traffic,
            rule,
            reply_seen: BTreeMap::new(),
            sends_counted: 0,
            sent_so_far: 0,
        })
    }

    fn observe_traffic(&mut self, cx: &Cx<'_>) -> Option<Verdict> {
        let prefix = format!("{}#", self.traffic);
        self.sent_so_far += cx
            .obs
            .sends
            .iter()
            .skip(self.sends_counted)
            .filter(|s| s.step_id.starts_with(&prefix))
            .count();
        self.sends_counted = cx.obs.sends.len();
        if self.sent_so_far < cx.obs.traffic_total(&self.traffic) {
            return None;
        }
        self.judge(cx, false)
    }

    fn finish(&mut self, cx: &Cx<'_>) -> Option<Verdict> {
        self.judge(cx, true)
    }
}

impl AllReplies {
    /// Judges the traffic once it is complete and settled, or whatever it is `at_end`.
    fn judge(&mut self, cx: &Cx<'_>, at_end: bool) -> Option<Verdict> {
        let prefix = format!("{}#", self.traffic);
        let sent: Vec<&SendOutcome> = cx
            .obs
            .sends
            .iter()
            .filter(|s| s.step_id.starts_with(&prefix))
            .collect();
        if !at_end && sent.len() < cx.obs.traffic_total(&self.traffic) {
            return None;
        }
        let t = match self.tally(cx, &sent) {
            Ok(t) => t,
            Err(why) => return Some(Verdict::fail(why)),
        };
        let all_settled =
            t.open.is_empty() || t.last_due.is_some_and(|d| cx.obs.now.timestamp() >= d);
        if !at_end && !all_settled {
            return None;
        }
        let accepted = sent.len() - t.refused;
        let passed = t.late.is_empty() && t.missing.is_empty() && t.open.is_empty() && accepted > 0;
        Some(Verdict::new(passed, self.detail(sent.len(), accepted, t)))
    }

    /// Sorts the traffic's messages into replied in time, late, missing and still open.
    fn tally(&mut self, cx: &Cx<'_>, sent: &[&SendOutcome]) -> Result<Tally, String> {
        let mut t = Tally::default();
        for s in sent {
            if s.refused.is_some() {
                t.refused += 1;
                continue;
            }
            let (due, seen) = match self.reply_seen.get(&s.step_id) {
                Some(known) => *known,
                None => match crate::check::due::due(&self.rule, &s.sent_at, cx.setting.place) {
                    Ok(d) => (d.due.timestamp(), None),
                    Err(e) => return Err(format!("deadline {}: {e}", self.rule)),
                },
            };
            t.last_due = t.last_due.max(Some(due));
            let reply_at = match seen {
                Some(at) => Some(at),
                None => {
                    let mailbox = cx
                        .obs
                        .world
                        .mailbox(&s.from)
                        .map_err(|e| format!("cannot read a mailbox: {e:#}"))?;
                    mailbox
                        .iter()
                        .find(|m| cx.is_reply(m, s))
                        .map(|m| m.stored_at)
                }
            };
            self.reply_seen.insert(s.step_id.clone(), (due, reply_at));
            match reply_at {
                Some(at) if at < due => {
                    t.in_time += 1;
                    t.latencies
                        .push(at.duration_since(s.sent_at.timestamp()).as_secs());
                }
                Some(_) => t.late.push(s.step_id.clone()),
                None if cx.obs.now.timestamp() < due => t.open.push(s.step_id.clone()),
                None => t.missing.push(s.step_id.clone()),
            }
        }
        Ok(t)
    }

    fn detail(&self, n_sent: usize, accepted: usize, mut t: Tally) -> String {
        t.latencies.sort_unstable();
        let latencies = &t.latencies;
        let pct = |p: usize| -> String {
            if latencies.is_empty() {
                return "-".into();
            }
            let idx = ((latencies.len() * p).div_ceil(100)).clamp(1, latencies.len()) - 1;
            human(SignedDuration::from_secs(latencies[idx]))
        };
        let listed = |ids: &[String]| {
            if ids.is_empty() {
                String::new()
            } else {
                format!(" ({})", ids.join(", "))
            }
        };
        format!(
            "{n_sent} sent, {accepted} accepted, {} refused by the provider; {} replied before the {} deadline (p50 {}, p95 {}, max {}), {} late{}, {} without reply{}{}",
            t.refused,
            t.in_time,
            self.rule,
            pct(50),
            pct(95),
            pct(100),
            t.late.len(),
            listed(&t.late),
            t.missing.len(),
            listed(&t.missing),
            if t.open.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} still open when the run ended before their deadline ({}); lengthen `duration` or shorten the traffic's `until`",
                    t.open.len(),
                    t.open.join(", ")
                )
            },
        )
    }
}
