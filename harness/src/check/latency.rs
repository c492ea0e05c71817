//! `latency`: decided at the end: the percentile (nearest rank) of the time from sending to
//! the intake's reply in the sender's mailbox, over a traffic's accepted messages, is at most
//! `within`; a message without reply counts as infinitely late.

use jiff::{SignedDuration, Span};

use super::lookup::human;
use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::located::Located;

pub const ENTRY: Entry = Entry::new::<Latency>(Shape {
    name: "latency",
    keys: &["traffic", "percentile", "within"],
    about: About::Traffic,
    timing: Timing::AtEnd,
    level: Level::Wire,
});

/// Keys `traffic`, `percentile` (1 to 100) and `within`.
#[derive(Clone, Debug)]
pub struct Latency {
    traffic: String,
    percentile: u8,
    within: Span,
}

impl Kind for Latency {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let traffic = cx.traffic()?;
        let p = cx.need_as(&cx.spec.percentile, "percentile", " (1 to 100, e.g. 95)")?;
        if !(1..=100).contains(p.get_ref()) {
            return Err(Located::new(
                p.span(),
                format!("percentile {}: expected 1 to 100, e.g. 95", p.get_ref()),
            ));
        }
        let within = cx.need(&cx.spec.within, "within")?;
        Ok(Self {
            traffic,
            percentile: p.into_inner(),
            within: cx.duration(&within, "within")?,
        })
    }

    fn finish(&mut self, cx: &Cx<'_>) -> Option<Verdict> {
        let (traffic, p) = (&self.traffic, self.percentile);
        let ledger = match cx.ledger(traffic) {
            Ok(l) => l,
            Err(e) => return Some(Verdict::fail(e)),
        };
        let (accepted, refused) = (ledger.accepted(), ledger.refused());
        if accepted == 0 {
            return Some(Verdict::fail(format!(
                "traffic {traffic} has no accepted message ({refused} refused)"
            )));
        }
        let limit = match self.within.to_duration(&cx.obs.now) {
            Ok(d) => d.as_secs(),
            Err(e) => return Some(Verdict::fail(format!("within: {e}"))),
        };
        // Nearest-rank percentile; a message without reply sorts last (infinitely late).
        let rank = (accepted * usize::from(p)).div_ceil(100).clamp(1, accepted);
        let value = ledger.replied().at_rank(rank);
        let missing = ledger.waiting().len();
        let shown = value.map_or_else(
            || "no reply".to_string(),
            |v| human(SignedDuration::from_secs(v)),
        );
        let detail = format!(
            "p{p} of the reply time over {accepted} accepted messages of {traffic} is {shown} (limit {}; {missing} without reply, {refused} refused)",
            human(SignedDuration::from_secs(limit))
        );
        Some(Verdict::new(value.is_some_and(|v| v <= limit), detail))
    }
}
