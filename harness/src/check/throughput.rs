//! `throughput`: decided at the end: the intake replied to at least `per_day` of a traffic's
//! messages per day on average, from the first arrival to the end of the run.

use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;

pub const ENTRY: Entry = Entry::new::<Throughput>(Shape {
    name: "throughput",
    keys: &["traffic", "per_day"],
    about: About::Traffic,
    timing: Timing::AtEnd,
    level: Level::Wire,
});

/// Keys `traffic` and `per_day`.
#[derive(Clone, Debug)]
pub struct Throughput {
    traffic: String,
    per_day: u32,
}

impl Kind for Throughput {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let traffic = cx.traffic()?;
        let n = cx.need_as(&cx.spec.per_day, "per_day", " (a whole number, e.g. 20)")?;
        Ok(Self {
            traffic,
            per_day: n.into_inner(),
        })
    }

    fn finish(&mut self, cx: &Cx<'_>) -> Option<Verdict> {
        let (traffic, per_day) = (&self.traffic, self.per_day);
        let ledger = match cx.ledger(traffic) {
            Ok(l) => l,
            Err(e) => return Some(Verdict::fail(e)),
        };
        let Some(first) = ledger.first_sent() else {
            return Some(Verdict::fail(format!("traffic {traffic} sent nothing")));
        };
        let replied = ledger.replied().len();
        let secs = cx
            .obs
            .now
            .timestamp()
            .duration_since(first)
            .as_secs()
            .max(1);
        let days = (secs as f64 / 86_400.0).max(1.0);
        let rate = replied as f64 / days;
        let detail = format!(
            "{replied} replies to {traffic} over {days:.1} days from the first arrival: {rate:.1} per day (required {per_day}; {} accepted, {} refused)",
            ledger.accepted(),
            ledger.refused()
        );
        Some(Verdict::new(rate >= f64::from(per_day), detail))
    }
}
