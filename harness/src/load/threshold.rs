//! Thresholds: pass/fail criteria over the whole run, written as small expressions in the
//! profile (`p95("reply") < "30s"`, `rate("refused") < 0.001`, `dropped == 0`) and decided
//! once at the end, over the merged results of every shard.
//!
//! Grammar: `LEFT OP RIGHT` where LEFT is `pNN("metric")` (a percentile, `p99.9` allowed),
//! `max("metric")`, `mean("metric")`, `rate("counter")` (the counter per intended arrival),
//! or a bare counter name; OP is one of `<`, `<=`, `>`, `>=`, `==`, `!=`; RIGHT is a
//! duration in quotes for latencies (`"30s"`, `"250ms"`) or a number.

use std::fmt;

use serde::Serialize;

use super::results::Results;

/// One parsed threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The text as written in the profile.
    pub text: String,
    pub left: Left,
    pub op: Op,
    /// The bound; for latencies in microseconds.
    pub right: f64,
}

/// What a threshold looks at.
#[derive(Clone, Debug, PartialEq)]
pub enum Left {
    Percentile { q: f64, metric: String },
    Max { metric: String },
    Mean { metric: String },
    Rate { counter: String },
    Count { counter: String },
}

impl Left {
    /// The metric or counter the left side reads.
    pub fn subject(&self) -> &str {
        match self {
            Self::Percentile { metric, .. } | Self::Max { metric } | Self::Mean { metric } => {
                metric
            }
            Self::Rate { counter } | Self::Count { counter } => counter,
        }
    }
}

/// What a run against a sink (`load --sink`) cannot measure: nothing confirms, pushes or
/// replies there. Thresholds on these are left out of such a run (and said so).
pub const NOT_MEASURED_BY_A_SINK: [&str; 7] = [
    "receipt",
    "push",
    "reply",
    "receipts",
    "pushes",
    "replies",
    "unanswered",
];

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The latency metrics (histograms) a threshold may name, in report order.
pub const METRICS: [&str; 4] = ["submit", "receipt", "push", "reply"];

/// The counters a threshold may name, in report order.
pub const COUNTERS: [&str; 11] = [
    "arrivals",
    "started",
    "dropped",
    "interrupted",
    "accepted",
    "refused",
    "errors",
    "receipts",
    "pushes",
    "replies",
    "unanswered",
];

/// Parses one threshold expression.
pub fn parse(text: &str) -> Result<Threshold, String> {
    let t = text.trim();
    let ops = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let (at, op_text, op) = ops
        .iter()
        .filter_map(|(s, op)| t.find(s).map(|i| (i, *s, *op)))
        .min_by_key(|(i, s, _)| (*i, std::cmp::Reverse(s.len())))
        .ok_or("no comparison (<, <=, >, >=, ==, !=)")?;
    let left_text = t[..at].trim();
    let right_text = t[at + op_text.len()..].trim();
    let left = left(left_text)?;
    let right = match &left {
        Left::Percentile { .. } | Left::Max { .. } | Left::Mean { .. } => {
            latency_bound(right_text)?
        }
        Left::Rate { .. } | Left::Count { .. } => right_text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{right_text:?} is not a number"))?,
    };
    Ok(Threshold {
        text: t.to_string(),
        left,
        op,
        right,
    })
}

/// `"30s"` (quoted duration) as microseconds; a bare number is taken as milliseconds.
fn latency_bound(text: &str) -> Result<f64, String> {
    if let Some(inner) = text.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        let span = crate::located::parse_span(inner)?;
        let d = jiff::SignedDuration::try_from(span).map_err(|e| e.to_string())?;
        if d.is_negative() {
            return Err("a negative duration".into());
        }
        return Ok(d.as_secs_f64() * 1e6);
    }
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|ms| ms * 1000.0)
        .ok_or_else(|| format!("{text:?}: expected a duration in quotes, e.g. \"30s\""))
}

fn call<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(name)?.trim_start();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?.trim();
    Some(inner)
}

fn quoted_name(arg: &str) -> Result<String, String> {
    arg.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map(str::to_string)
        .ok_or_else(|| format!("{arg}: the name goes in double quotes"))
}

fn metric(arg: &str) -> Result<String, String> {
    let m = quoted_name(arg)?;
    if METRICS.contains(&m.as_str()) {
        Ok(m)
    } else {
        Err(format!(
            "unknown latency {m:?}; known: {}",
            METRICS.join(", ")
        ))
    }
}

fn counter(name: &str) -> Result<String, String> {
    if COUNTERS.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "unknown counter {name:?}; known: {}",
            COUNTERS.join(", ")
        ))
    }
}

fn left(text: &str) -> Result<Left, String> {
    if let Some(arg) = call(text, "max") {
        return Ok(Left::Max {
            metric: metric(arg)?,
        });
    }
    if let Some(arg) = call(text, "mean") {
        return Ok(Left::Mean {
            metric: metric(arg)?,
        });
    }
    if let Some(arg) = call(text, "rate") {
        return Ok(Left::Rate {
            counter: counter(&quoted_name(arg)?)?,
        });
    }
    if let Some(rest) = text.strip_prefix('p')
        && let Some(open) = rest.find('(')
        && let Ok(q) = rest[..open].trim().parse::<f64>()
    {
        if !(q > 0.0 && q <= 100.0) {
            return Err(format!("percentile p{q} is not in (0, 100]"));
        }
        let arg = call(&rest[open..], "").ok_or("expected pNN(\"metric\")")?;
        return Ok(Left::Percentile {
            q,
            metric: metric(arg)?,
        });
    }
    if text.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !text.is_empty() {
        return Ok(Left::Count {
            counter: counter(text)?,
        });
    }
    Err(format!(
        "{text:?}: expected pNN(\"metric\"), max(\"metric\"), mean(\"metric\"), rate(\"counter\") or a counter name"
    ))
}

/// How one threshold was decided.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    pub threshold: String,
    pub passed: bool,
    /// The observed value, in the unit of the threshold (seconds for latencies).
    pub observed: Option<f64>,
    pub detail: String,
}

/// Decides every threshold over `results`.
pub fn decide(thresholds: &[Threshold], results: &Results) -> Vec<Decision> {
    thresholds.iter().map(|t| decide_one(t, results)).collect()
}

fn decide_one(t: &Threshold, r: &Results) -> Decision {
    let latency = |metric: &str, f: &dyn Fn(&hdrhistogram::Histogram<u64>) -> f64| {
        r.histogram(metric).filter(|h| !h.is_empty()).map(f)
    };
    let (observed, unit_us) = match &t.left {
        Left::Percentile { q, metric } => (
            latency(metric, &|h| h.value_at_quantile(q / 100.0) as f64),
            true,
        ),
        Left::Max { metric } => (latency(metric, &|h| h.max() as f64), true),
        Left::Mean { metric } => (latency(metric, &|h| h.mean()), true),
        Left::Rate { counter } => {
            let n = r.count("arrivals");
            (
                Some(if n == 0 {
                    0.0
                } else {
                    r.count(counter) as f64 / n as f64
                }),
                false,
            )
        }
        Left::Count { counter } => (Some(r.count(counter) as f64), false),
    };
    match observed {
        None => Decision {
            threshold: t.text.clone(),
            passed: false,
            observed: None,
            detail: "no samples: the latency was never measured (a threshold needs data)".into(),
        },
        Some(v) => {
            let passed = t.op.holds(v, t.right);
            let (shown, detail) = if unit_us {
                (v / 1e6, format!("observed {:.3}s", v / 1e6))
            } else {
                (v, format!("observed {v}"))
            };
            Decision {
                threshold: t.text.clone(),
                passed,
                observed: Some(shown),
                detail,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forms of docs/load.md parse; mistakes say what was expected.
    #[test]
    fn parses_the_documented_forms() {
        let t = parse(r#"p95("reply") < "30s""#).unwrap();
        assert_eq!(
            t.left,
            Left::Percentile {
                q: 95.0,
                metric: "reply".into()
            }
        );
        assert_eq!((t.op, t.right), (Op::Lt, 30e6));
        let t = parse(r#"p99.9("submit") <= "250ms""#).unwrap();
        assert_eq!(
            t.left,
            Left::Percentile {
                q: 99.9,
                metric: "submit".into()
            }
        );
        assert_eq!(t.right, 250e3);
        let t = parse(r#"rate("refused") < 0.001"#).unwrap();
        assert_eq!(
            t.left,
            Left::Rate {
                counter: "refused".into()
            }
        );
        let t = parse("dropped == 0").unwrap();
        assert_eq!(
            (t.left, t.op, t.right),
            (
                Left::Count {
                    counter: "dropped".into()
                },
                Op::Eq,
                0.0
            )
        );
        assert!(
            parse(r#"p95("rply") < "1s""#)
                .unwrap_err()
                .contains("unknown latency")
        );
        assert!(parse("dropped").unwrap_err().contains("comparison"));
        assert!(
            parse("droped == 0")
                .unwrap_err()
                .contains("unknown counter")
        );
        assert!(parse(r#"p95("reply") < "soon""#).is_err());
        assert!(parse(r#"p0("reply") < "1s""#).is_err());
    }
}
