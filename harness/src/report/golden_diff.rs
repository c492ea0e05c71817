//! The difference between a golden trace and a run's trace, field by field.
//!
//! A trace line is a JSON object of about a thousand characters; a unified diff of two such
//! lines does not show what changed. [`trace_diff`] aligns the two traces event by event
//! (ignoring `seq`, so that one inserted event does not make every later line differ), then
//! prints for each changed event its `seq` and `kind` and every field whose value differs,
//! old → new, with long strings cut to a window around the change; added and removed events
//! are printed short. Lines that are not JSON objects are compared as text. Used by
//! `golden::compare` for `.trace.snap` files; the summary keeps its unified diff.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use similar::{Algorithm, DiffOp, capture_diff_slices};

/// At most this many changed, added or removed events are printed.
const MAX_REPORTED: usize = 40;
/// Characters of context kept on each side of a change inside a long string.
const CONTEXT: usize = 30;
/// Longest value printed whole.
const LONG: usize = 120;

/// One trace line: its object (if it is one) and the key it is aligned by.
struct Line<'a> {
    text: &'a str,
    object: Option<Map<String, Value>>,
    key: String,
}

impl<'a> Line<'a> {
    fn new(text: &'a str) -> Self {
        let object = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        };
        let key = match &object {
            Some(m) => {
                let mut m = m.clone();
                m.remove("seq");
                Value::Object(m).to_string()
            }
            None => text.to_string(),
        };
        Self { text, object, key }
    }

    fn field(&self, name: &str) -> Option<&Value> {
        self.object.as_ref().and_then(|m| m.get(name))
    }

    /// `seq 12 (provider.accepted at 2025-03-03T09:00:00+01:00)`, or the line number.
    fn label(&self, line_no: usize) -> String {
        let Some(m) = &self.object else {
            return format!("line {line_no}");
        };
        let text = |k: &str| match m.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "?".to_string(),
        };
        format!("seq {} ({} at {})", text("seq"), text("kind"), text("at"))
    }

    /// The line in short: its label and the other fields, cut.
    fn short(&self, line_no: usize) -> String {
        match &self.object {
            Some(m) => {
                let mut rest = m.clone();
                for k in ["seq", "kind", "at"] {
                    rest.remove(k);
                }
                format!(
                    "{} {}",
                    self.label(line_no),
                    cut(&Value::Object(rest).to_string())
                )
            }
            None => format!("{}: {}", self.label(line_no), cut(self.text)),
        }
    }
}

/// The field-by-field difference between two traces (golden first), for the terminal.
pub fn trace_diff(expected: &str, actual: &str) -> String {
    let old: Vec<Line> = expected.lines().map(Line::new).collect();
    let new: Vec<Line> = actual.lines().map(Line::new).collect();
    let old_keys: Vec<&str> = old.iter().map(|l| l.key.as_str()).collect();
    let new_keys: Vec<&str> = new.iter().map(|l| l.key.as_str()).collect();
    let ops = capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys);
    let mut out = Vec::new();
    let (mut changed, mut added, mut removed, mut shifted) = (0usize, 0usize, 0usize, 0usize);
    for op in &ops {
        match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                shifted += (0..len)
                    .filter(|i| old[old_index + i].text != new[new_index + i].text)
                    .count();
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => removed += listed(&mut out, "- removed", &old, old_index, old_len),
            DiffOp::Insert {
                new_index, new_len, ..
            } => added += listed(&mut out, "+ added  ", &new, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                let paired = old_len.min(new_len);
                for k in 0..paired {
                    let (a, b) = (&old[old_index + k], &new[new_index + k]);
                    out.push(changed_line(a, b, new_index + k + 1));
                    changed += 1;
                }
                removed += listed(
                    &mut out,
                    "- removed",
                    &old,
                    old_index + paired,
                    old_len - paired,
                );
                added += listed(
                    &mut out,
                    "+ added  ",
                    &new,
                    new_index + paired,
                    new_len - paired,
                );
            }
        }
    }
    let mut text = format!(
        "trace: {changed} event(s) changed, {added} added, {removed} removed (golden → this run)"
    );
    if shifted > 0 {
        let _ = write!(
            text,
            "; {shifted} other event(s) differ only in seq, moved by the added or removed ones"
        );
    }
    text.push('\n');
    let total = out.len();
    for entry in out.into_iter().take(MAX_REPORTED) {
        text.push_str(&entry);
        text.push('\n');
    }
    if total > MAX_REPORTED {
        let _ = writeln!(
            text,
            "… and {} more; the whole new trace is in the .snap.new file",
            total - MAX_REPORTED
        );
    }
    text
}

/// Lists `len` lines from `from` in short, each after `mark`; returns how many.
fn listed(out: &mut Vec<String>, mark: &str, lines: &[Line], from: usize, len: usize) -> usize {
    for (k, l) in lines[from..from + len].iter().enumerate() {
        out.push(format!("{mark} {}", l.short(from + k + 1)));
    }
    len
}

/// `~ seq 5 (citizen.sent at …)` and one line per differing field, old → new.
fn changed_line(a: &Line, b: &Line, line_no: usize) -> String {
    let (Some(x), Some(y)) = (&a.object, &b.object) else {
        return format!(
            "~ line {line_no}\n    was: {}\n    now: {}",
            cut(a.text),
            cut(b.text)
        );
    };
    let mut s = format!("~ {}", b.label(line_no));
    let mut names: Vec<&String> = x.keys().chain(y.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        if name == "seq" {
            continue;
        }
        let (old, new) = (a.field(name), b.field(name));
        if old == new {
            continue;
        }
        let (o, n) = match (old, new) {
            (Some(Value::String(o)), Some(Value::String(n))) => around_change(o, n),
            (o, n) => (shown(o), shown(n)),
        };
        let _ = write!(s, "\n    {name}: {o} → {n}");
    }
    s
}

/// A value as JSON, cut; an absent one as `(absent)`.
fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "(absent)".to_string(), |v| cut(&v.to_string()))
}

/// Two strings as JSON strings, each cut to a window around where they differ.
fn around_change(old: &str, new: &str) -> (String, String) {
    let (o, n): (Vec<char>, Vec<char>) = (old.chars().collect(), new.chars().collect());
    if o.len() <= LONG && n.len() <= LONG {
        return (quoted(old), quoted(new));
    }
    let prefix = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
    let max_suffix = o.len().min(n.len()) - prefix;
    let suffix = o
        .iter()
        .rev()
        .zip(n.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let window = |c: &[char]| {
        let from = prefix.saturating_sub(CONTEXT);
        let to = (c.len() - suffix + CONTEXT).min(c.len());
        let middle: String = c[from..to].iter().collect();
        let middle = quoted(&middle);
        let inner = &middle[1..middle.len() - 1];
        format!(
            "\"{}{}{}\"",
            if from > 0 { "…" } else { "" },
            cut_plain(inner, 2 * LONG),
            if to < c.len() { "…" } else { "" }
        )
    };
    (window(&o), window(&n))
}

fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `s` cut to [`LONG`] characters with `…`.
fn cut(s: &str) -> String {
    cut_plain(s, LONG)
}

fn cut_plain(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(max).collect();
        c.push('…');
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A changed field is named with old and new value; an inserted event is "added" and the
    /// events after it, which differ only in seq, are not listed one by one.
    #[test]
    fn names_changed_fields_and_added_events() {
        let long = "x".repeat(300);
        let golden = format!(
            "{{\"seq\":1,\"at\":\"T1\",\"kind\":\"citizen.sent\",\"subject\":\"Bäckerei\",\"body\":\"{long}A{long}\"}}\n{{\"seq\":2,\"at\":\"T2\",\"kind\":\"run.finished\",\"passed\":2}}\n"
        );
        let run = format!(
            "{{\"seq\":1,\"at\":\"T1\",\"kind\":\"citizen.sent\",\"subject\":\"Konditorei\",\"body\":\"{long}B{long}\"}}\n{{\"seq\":2,\"at\":\"T1\",\"kind\":\"provider.accepted\",\"to\":[\"a\"]}}\n{{\"seq\":3,\"at\":\"T2\",\"kind\":\"run.finished\",\"passed\":2}}\n"
        );
        let d = trace_diff(&golden, &run);
        assert!(
            d.starts_with("trace: 1 event(s) changed, 1 added, 0 removed"),
            "{d}"
        );
        assert!(d.contains("1 other event(s) differ only in seq"), "{d}");
        assert!(d.contains("~ seq 1 (citizen.sent at T1)"), "{d}");
        assert!(
            d.contains("    subject: \"Bäckerei\" → \"Konditorei\""),
            "{d}"
        );
        let window = format!("{}A{}", "x".repeat(CONTEXT), "x".repeat(CONTEXT));
        assert!(d.contains(&format!("body: \"…{window}…\"")), "{d}");
        assert!(
            d.contains("+ added   seq 2 (provider.accepted at T1) {\"to\":[\"a\"]}"),
            "{d}"
        );
        assert!(!d.contains("run.finished"), "{d}");
        assert!(d.lines().all(|l| l.chars().count() < 2 * LONG + 40), "{d}");
    }

    /// Lines that are not JSON are shown as they were and are.
    #[test]
    fn text_lines_are_shown_whole() {
        let d = trace_diff("a\nb\n", "a\nc\n");
        assert!(d.contains("~ line 2\n    was: b\n    now: c"), "{d}");
    }
}
