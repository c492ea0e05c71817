//! The results of a load run or of one shard: counters, refusals by reply code, a latency
//! histogram per metric (HDR, microseconds) and a time series per interval. Saved as
//! `result.json` in the shard's `--out` folder with every histogram in HdrHistogram's V2
//! serialization (base64), so that `merge` adds them bucket by bucket: the merged
//! percentiles are those of one run over the union of the shards' samples, not averages.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use super::threshold::{COUNTERS, METRICS};

/// Highest latency a histogram holds (one hour, in microseconds); longer ones are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Format version of `result.json`.
pub const FORMAT: u32 = 1;

/// A new latency histogram: 1 µs to one hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; failing here is a programming error.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// One interval of the time series (by intended time from the start).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub intended: u64,
    pub started: u64,
    pub dropped: u64,
    pub accepted: u64,
    pub refused: u64,
    pub errors: u64,
    /// Submission latency (intended time to 250) of the accepted arrivals: sum and maximum.
    pub submit_sum_us: u64,
    pub submit_max_us: u64,
    /// Replies whose arrival was intended in this interval.
    pub replies: u64,
    pub reply_sum_us: u64,
    pub reply_max_us: u64,
}

impl Interval {
    fn add(&mut self, o: &Interval) {
        self.intended += o.intended;
        self.started += o.started;
        self.dropped += o.dropped;
        self.accepted += o.accepted;
        self.refused += o.refused;
        self.errors += o.errors;
        self.submit_sum_us += o.submit_sum_us;
        self.submit_max_us = self.submit_max_us.max(o.submit_max_us);
        self.replies += o.replies;
        self.reply_sum_us += o.reply_sum_us;
        self.reply_max_us = self.reply_max_us.max(o.reply_max_us);
    }
}

/// Which run a result belongs to; shards of one run agree on all of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    pub profile: String,
    /// SHA-256 of the profile text.
    pub profile_digest: String,
    pub seed: u64,
    /// Number of shards of the run (1 unsharded).
    pub shards: u32,
    pub duration_ms: u64,
    pub interval_ms: u64,
    /// The profile's thresholds as written; `merge` decides them again over all shards.
    pub thresholds: Vec<String>,
    /// Run against a sink (`load --sink`): the generator's ceiling, not a world's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sink: bool,
}

/// Counters, refusals, histograms and time series of a run or shard.
#[derive(Clone, Debug)]
pub struct Results {
    pub run: RunId,
    /// The shard indexes these results cover (all of `0..shards` once merged).
    pub covers: Vec<u32>,
    pub counts: BTreeMap<String, u64>,
    /// Refusals by reply ("550 5.7.1"), errors by kind ("error: timeout").
    pub refusals: BTreeMap<String, u64>,
    pub histograms: BTreeMap<String, Histogram<u64>>,
    pub intervals: Vec<Interval>,
    /// Wall seconds each shard ran (informative; not part of any decision).
    pub wall_seconds: Vec<f64>,
}

/// `result.json`.
#[derive(Serialize, Deserialize)]
struct Saved {
    format: u32,
    run: RunId,
    covers: Vec<u32>,
    counts: BTreeMap<String, u64>,
    refusals: BTreeMap<String, u64>,
    /// HdrHistogram V2 serialization, base64.
    histograms: BTreeMap<String, String>,
    intervals: Vec<Interval>,
    wall_seconds: Vec<f64>,
}

impl Results {
    /// Empty results of shard `shard` of `run`.
    pub fn new(run: RunId, shard: u32) -> Self {
        let n_intervals = run.duration_ms.div_ceil(run.interval_ms.max(1)) as usize;
        Self {
            run,
            covers: vec![shard],
            counts: COUNTERS.iter().map(|c| (c.to_string(), 0)).collect(),
            refusals: BTreeMap::new(),
            histograms: METRICS
                .iter()
                .map(|m| (m.to_string(), new_histogram()))
                .collect(),
            intervals: vec![Interval::default(); n_intervals.max(1)],
            wall_seconds: Vec::new(),
        }
    }

    pub fn count(&self, counter: &str) -> u64 {
        self.counts.get(counter).copied().unwrap_or(0)
    }

    pub fn bump(&mut self, counter: &str, by: u64) {
        *self.counts.entry(counter.to_string()).or_insert(0) += by;
    }

    pub fn histogram(&self, metric: &str) -> Option<&Histogram<u64>> {
        self.histograms.get(metric)
    }

    /// Records a latency (µs, clamped into the histogram's range).
    pub fn record(&mut self, metric: &str, us: u64) {
        if let Some(h) = self.histograms.get_mut(metric) {
            h.saturating_record(us.clamp(1, MAX_LATENCY_US));
        }
    }

    /// The interval an intended offset falls in (the last one for anything later).
    pub fn interval_mut(&mut self, offset_us: u64) -> &mut Interval {
        let i = (offset_us / (self.run.interval_ms.max(1) * 1000)) as usize;
        let last = self.intervals.len() - 1;
        &mut self.intervals[i.min(last)]
    }

    /// The JSON of `result.json`.
    pub fn to_json(&self) -> Result<String> {
        let mut histograms = BTreeMap::new();
        for (name, h) in &self.histograms {
            let mut bytes = Vec::new();
            V2Serializer::new()
                .serialize(h, &mut bytes)
                .map_err(|e| anyhow::anyhow!("serializing histogram {name}: {e:?}"))?;
            histograms.insert(
                name.clone(),
                base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
        let saved = Saved {
            format: FORMAT,
            run: self.run.clone(),
            covers: self.covers.clone(),
            counts: self.counts.clone(),
            refusals: self.refusals.clone(),
            histograms,
            intervals: self.intervals.clone(),
            wall_seconds: self.wall_seconds.clone(),
        };
        Ok(serde_json::to_string_pretty(&saved)? + "\n")
    }

    /// Reads `result.json`.
    pub fn from_json(text: &str) -> Result<Self> {
        let saved: Saved = serde_json::from_str(text).context("not a load result.json")?;
        if saved.format != FORMAT {
            bail!(
                "result.json format {} (this demail-testbed reads {FORMAT})",
                saved.format
            );
        }
        let mut histograms = BTreeMap::new();
        for (name, b64) in saved.histograms {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .with_context(|| format!("histogram {name}: not base64"))?;
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| anyhow::anyhow!("histogram {name}: {e:?}"))?;
            histograms.insert(name, h);
        }
        Ok(Self {
            run: saved.run,
            covers: saved.covers,
            counts: saved.counts,
            refusals: saved.refusals,
            histograms,
            intervals: saved.intervals,
            wall_seconds: saved.wall_seconds,
        })
    }

    /// Adds `other` (another shard of the same run): counters and refusals summed,
    /// histograms added bucket by bucket, intervals added.
    pub fn merge(&mut self, other: &Results) -> Result<()> {
        if other.run != self.run {
            bail!(
                "the results belong to different runs (profile, seed, shard count, duration or interval differ): {:?} vs {:?}",
                self.run,
                other.run
            );
        }
        for s in &other.covers {
            if self.covers.contains(s) {
                bail!("shard {s} is given twice");
            }
        }
        self.covers.extend(&other.covers);
        self.covers.sort_unstable();
        for (k, v) in &other.counts {
            *self.counts.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &other.refusals {
            *self.refusals.entry(k.clone()).or_insert(0) += v;
        }
        for (k, h) in &other.histograms {
            match self.histograms.get_mut(k) {
                Some(mine) => mine
                    .add(h)
                    .map_err(|e| anyhow::anyhow!("histogram {k}: {e:?}"))?,
                None => {
                    self.histograms.insert(k.clone(), h.clone());
                }
            }
        }
        if other.intervals.len() > self.intervals.len() {
            self.intervals
                .resize(other.intervals.len(), Interval::default());
        }
        for (mine, theirs) in self.intervals.iter_mut().zip(&other.intervals) {
            mine.add(theirs);
        }
        self.wall_seconds.extend(&other.wall_seconds);
        Ok(())
    }

    /// The shards missing for a whole run.
    pub fn missing_shards(&self) -> Vec<u32> {
        (0..self.run.shards)
            .filter(|s| !self.covers.contains(s))
            .collect()
    }
}
