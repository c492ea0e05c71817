//! `all-replies`: every message of a traffic that the provider accepted gets a reply from the
//! intake before the deadline of a legal rule. Decided once every arrival was sent and either
//! all replied or the last deadline passed, or at the end of the run; the detail gives counts,
//! p50/p95/max answer times, late and missing messages (refused ones are counted, not judged).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::lookup::human;
use super::replies::{self, Ledger, Replied, Seconds};
use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;

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
    /// Deadlines computed for messages still without reply (by index in the traffic's
    /// sends), so that each is computed once.
    due_of: BTreeMap<usize, Timestamp>,
    /// The replied messages: how many in time, their reply times, the late ones (index, step
    /// id) and the latest deadline among them.
    in_time: Seconds,
    late: BTreeMap<usize, String>,
    last_due: Option<Timestamp>,
    /// A deadline that could not be computed.
    error: Option<String>,
}

/// Where the traffic's messages without reply stand at one instant.
#[derive(Default)]
struct Waiting {
    missing: Vec<String>,
    open: Vec<String>,
    last_due: Option<Timestamp>,
}

impl Kind for AllReplies {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let traffic = cx.traffic()?;
        let rule = cx.rule(cx.need(&cx.spec.rule, "rule")?)?;
        Ok(Self {
            traffic,
            rule,
            due_of: BTreeMap::new(),
            in_time: Seconds::default(),
            late: BTreeMap::new(),
            last_due: None,
            error: None,
        })
    }

    fn replied(&mut self, cx: &Cx<'_>, r: &Replied) {
        let due = match self.due_of.remove(&r.message.index) {
            Some(due) => due,
            None => match self.due(cx, &r.message.sent_at) {
                Ok(due) => due,
                Err(why) => {
                    self.error.get_or_insert(why);
                    return;
                }
            },
        };
        self.last_due = self.last_due.max(Some(due));
        if r.reply_at < due {
            self.in_time.add(r.seconds());
        } else {
            self.late.insert(r.message.index, r.message.step_id.clone());
        }
    }

    fn observe_traffic(&mut self, cx: &Cx<'_>) -> Option<Verdict> {
        self.judge(cx, false)
    }

    fn finish(&mut self, cx: &Cx<'_>) -> Option<Verdict> {
        self.judge(cx, true)
    }
}

impl AllReplies {
    /// The deadline of a message sent at `sent_at`.
    fn due(&self, cx: &Cx<'_>, sent_at: &jiff::ZonedDateTime) -> Result<Timestamp, String> {
        crate::check::due::due(&self.rule, sent_at, cx.setting.place)
            .map(|d| d.due.timestamp())
            .map_err(|e| format!("deadline {}: {e}", self.rule))
    }

    /// Judges the traffic once it is complete and settled, or whatever it is `at_end`.
    fn judge(&mut self, cx: &Cx<'_>, at_end: bool) -> Option<Verdict> {
        let ledger = match cx.ledger(&self.traffic) {
            Ok(l) => l,
            Err(why) => return Some(Verdict::fail(why)),
        };
        if !at_end && ledger.sent() < cx.obs.traffic_total(&self.traffic) {
            return None;
        }
        if let Some(why) = &self.error {
            return Some(Verdict::fail(why.clone()));
        }
        let w = match self.waiting(cx, ledger.waiting()) {
            Ok(w) => w,
            Err(why) => return Some(Verdict::fail(why)),
        };
        let last_due = self.last_due.max(w.last_due);
        let all_settled =
            w.open.is_empty() || last_due.is_some_and(|d| cx.obs.now.timestamp() >= d);
        if !at_end && !all_settled {
            return None;
        }
        let passed = self.late.is_empty()
            && w.missing.is_empty()
            && w.open.is_empty()
            && ledger.accepted() > 0;
        Some(Verdict::new(passed, self.detail(ledger, w)))
    }

    /// Sorts the messages without reply into missing (their deadline passed) and still open.
    fn waiting(&mut self, cx: &Cx<'_>, waiting: &[replies::Waiting]) -> Result<Waiting, String> {
        let mut w = Waiting::default();
        for m in waiting {
            let due = match self.due_of.get(&m.index) {
                Some(due) => *due,
                None => {
                    let due = self.due(cx, &m.sent_at)?;
                    self.due_of.insert(m.index, due);
                    due
                }
            };
            w.last_due = w.last_due.max(Some(due));
            if cx.obs.now.timestamp() < due {
                w.open.push(m.step_id.clone());
            } else {
                w.missing.push(m.step_id.clone());
            }
        }
        Ok(w)
    }

    fn detail(&self, ledger: &Ledger, w: Waiting) -> String {
        let pct = |p: usize| -> String {
            self.in_time
                .percentile(p)
                .map_or_else(|| "-".into(), |s| human(SignedDuration::from_secs(s)))
        };
        let listed = |ids: &[&String]| {
            if ids.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    ids.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        };
        let late: Vec<&String> = self.late.values().collect();
        let missing: Vec<&String> = w.missing.iter().collect();
        format!(
            "{} sent, {} accepted, {} refused by the provider; {} replied before the {} deadline (p50 {}, p95 {}, max {}), {} late{}, {} without reply{}{}",
            ledger.sent(),
            ledger.accepted(),
            ledger.refused(),
            self.in_time.len(),
            self.rule,
            pct(50),
            pct(95),
            pct(100),
            late.len(),
            listed(&late),
            missing.len(),
            listed(&missing),
            if w.open.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} still open when the run ended before their deadline ({}); lengthen `duration` or shorten the traffic's `until`",
                    w.open.len(),
                    w.open.join(", ")
                )
            },
        )
    }
}
