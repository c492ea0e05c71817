//! Export of a population as CSV (RFC 4180, header row) or JSON Lines (one object per line),
//! streamed: each citizen is written as soon as it is generated.
//!
//! The columns are listed in [`CSV_COLUMNS`] and explained in `docs/population.md`. CSV fields
//! are quoted only when they contain a comma, a double quote, CR or LF (quotes doubled);
//! absent values are empty; records end with CRLF as RFC 4180 says. JSON Lines holds the
//! [`Citizen`] structure as serde writes it (nested `business`, `demail`, `behaviour`
//! objects; absent values are `null`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::str::FromStr;

use super::{Citizen, PopulationError};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// JSON Lines: one JSON object per citizen and line.
    JsonLines,
}

impl FromStr for Format {
    type Err = PopulationError;

    /// `csv`, or `json` / `jsonl` for JSON Lines (case-insensitive).
    fn from_str(s: &str) -> Result<Format, PopulationError> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" | "jsonl" => Ok(Format::JsonLines),
            _ => Err(PopulationError::UnknownFormat(s.to_string())),
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "index",
    "id",
    "kind",
    "first_names",
    "surname",
    "birth_date",
    "business_name",
    "legal_form",
    "gewerbe",
    "street",
    "house_number",
    "postcode",
    "city",
    "phone",
    "demail_address",
    "demail_provider",
    "auth_level",
    "access_opened",
    "login_interval_days",
    "response_median_hours",
    "response_sigma",
    "err_plain_email",
    "err_missing_absenderbestaetigt",
    "err_wrong_funktionspostfach",
    "err_oversized_attachment",
    "err_malformed_message",
    "err_misspelt_header",
];

/// One CSV field, quoted if needed (RFC 4180 §2.6–2.7).
pub fn csv_field(value: &str) -> Cow<'_, str> {
    if needs_quotes(value) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(value)
    }
}

fn needs_quotes(value: &str) -> bool {
    value
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// The header row (with CRLF).
pub fn csv_header() -> String {
    let mut s = CSV_COLUMNS.join(",");
    s.push_str("\r\n");
    s
}

/// Appends `value` as a CSV field and a comma.
fn push_field(line: &mut String, value: &str) {
    if needs_quotes(value) {
        line.push('"');
        line.push_str(&value.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(value);
    }
    line.push(',');
}

/// Appends a number that was rounded to `decimals` places (≤ 4) and a comma, written as its
/// shortest decimal form (`4`, `0.05`, `12.5`): the same text as `f64`'s `Display` for such a
/// number, without the cost of the general float formatter.
fn push_fixed(line: &mut String, value: f64, decimals: u32) {
    let scale = 10i64.pow(decimals);
    let k = (value * scale as f64).round() as i64;
    if k < 0 {
        line.push('-');
    }
    let k = k.unsigned_abs();
    let scale = scale.unsigned_abs();
    push_uint(line, k / scale, 1);
    let mut frac = k % scale;
    if frac != 0 {
        let mut width = decimals as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        line.push('.');
        push_uint(line, frac, width);
    }
    line.push(',');
}

/// Appends `n` in decimal, zero-padded to at least `width` digits (faster than `write!`).
fn push_uint(line: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n > 0 || buf.len() - i < width.max(1) {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    line.extend(buf[i..].iter().map(|&b| char::from(b)));
}

/// Appends one citizen's CSV record (with CRLF) to `line`.
pub fn csv_record(c: &Citizen, line: &mut String) {
    let b = c.business.as_ref();
    let d = c.demail.as_ref();
    let bh = &c.behaviour;
    push_uint(line, c.index, 1);
    line.push(',');
    push_field(line, &c.id);
    push_field(line, c.kind.as_str());
    push_field(line, &c.first_names);
    push_field(line, &c.surname);
    match c.birth_date {
        Some(date) => {
            let _ = write!(line, "{date},");
        }
        None => line.push(','),
    }
    push_field(line, b.map_or("", |b| b.name.as_str()));
    push_field(line, b.map_or("", |b| b.legal_form.as_str()));
    push_field(line, b.map_or("", |b| b.gewerbe));
    push_field(line, &c.street);
    push_field(line, &c.house_number);
    push_field(line, c.postcode);
    push_field(line, c.city);
    push_field(line, &c.phone);
    push_field(line, d.map_or("", |d| d.address.as_str()));
    push_field(line, d.map_or("", |d| d.provider.as_str()));
    push_field(line, d.map_or("", |d| d.auth_level.as_str()));
    push_field(
        line,
        d.map_or("", |d| if d.access_opened { "true" } else { "false" }),
    );
    // Decimals as rounded by `behaviour::draw`.
    push_fixed(line, bh.login_interval_days, 1);
    push_fixed(line, bh.response_median_hours, 1);
    push_fixed(line, bh.response_sigma, 2);
    for (_, v) in bh.errors.named() {
        push_fixed(line, v, 4);
    }
    line.pop();
    line.push_str("\r\n");
}

/// Writes one citizen as a JSON Lines record.
pub fn write_json_line(out: &mut impl Write, c: &Citizen) -> io::Result<()> {
    serde_json::to_writer(&mut *out, c).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// Writes all `citizens` to `out` in `format` (CSV with its header row); returns how many.
/// `out` should be buffered.
pub fn write_all(
    format: Format,
    citizens: impl Iterator<Item = Citizen>,
    out: &mut impl Write,
) -> io::Result<u64> {
    let mut n = 0u64;
    match format {
        Format::Csv => {
            out.write_all(csv_header().as_bytes())?;
            let mut line = String::with_capacity(512);
            for c in citizens {
                line.clear();
                csv_record(&c, &mut line);
                out.write_all(line.as_bytes())?;
                n += 1;
            }
        }
        Format::JsonLines => {
            for c in citizens {
                write_json_line(out, &c)?;
                n += 1;
            }
        }
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields with separators, quotes or line breaks are quoted and quotes doubled; others
    /// are written as they are.
    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("Müller"), "Müller");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("x\ny"), "\"x\ny\"");
        assert_eq!(csv_field(""), "");
        assert_eq!("csv".parse::<Format>(), Ok(Format::Csv));
        assert_eq!("JSON".parse::<Format>(), Ok(Format::JsonLines));
        assert!(
            "xml"
                .parse::<Format>()
                .unwrap_err()
                .to_string()
                .contains("csv or json")
        );
    }
}
