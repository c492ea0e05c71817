//! The `holidays` and `deadline` commands: the legal calendar of [`demail_sim::law`] for
//! people, with every step and source printed.

use std::process::ExitCode;

use demail_sim::law::{self, Basis, FictionShift, Land, Options, Period, Place, When};
use jiff::civil::Date;
use serde_json::json;

/// Arguments of `holidays`.
#[derive(Debug, clap::Args)]
pub struct HolidaysArgs {
    /// Land: ISO 3166-2:DE code (BW, BY, BE, BB, HB, HH, HE, MV, NI, NW, RP, SL, SN, ST, SH, TH).
    #[arg(long)]
    pub land: String,
    /// Year (1990–2100).
    #[arg(long)]
    pub year: i32,
    /// Municipality, for holidays that hold only in some (Fronleichnam, Mariä Himmelfahrt).
    #[arg(long)]
    pub municipality: Option<String>,
    /// Print JSON: an array of {"date","name","source"}.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `deadline`.
#[derive(Debug, clap::Args)]
pub struct DeadlineArgs {
    /// Land: ISO 3166-2:DE code, e.g. SN.
    #[arg(long)]
    pub land: String,
    /// Municipality (its holidays count for the weekend/holiday shift).
    #[arg(long)]
    pub municipality: Option<String>,
    /// The event day (YYYY-MM-DD): receipt, Bekanntgabe, sending…
    #[arg(long)]
    pub from: String,
    /// A named rule (see the list in `--help` of the rule ids below).
    #[arg(long, conflicts_with = "period", required_unless_present = "period",
          value_parser = clap::builder::PossibleValuesParser::new(law::RULE_IDS))]
    pub rule: Option<String>,
    /// A plain period instead of a rule: 3D, 2W, 1M, 1Y (days, weeks, months, years).
    #[arg(long)]
    pub period: Option<String>,
    /// For the fiction rules: move a fiction day that falls on Sa/Su/holiday (disputed; the
    /// default is not to move it, see docs/calendar.md).
    #[arg(long)]
    pub fiction_shift: bool,
    /// Print JSON: {"end","kind","steps":[{"text","source"}],"sources":[…]}.
    #[arg(long)]
    pub json: bool,
}

fn place(land: &str, municipality: Option<&str>) -> Result<Place, String> {
    let land: Land = land.parse().map_err(|e: law::LawError| e.to_string())?;
    let place = match municipality {
        Some(m) => Place::municipality(land, m),
        None => Place::land(land),
    };
    place.validate().map_err(|e| e.to_string())?;
    Ok(place)
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// `demail-testbed holidays`.
pub fn holidays(args: &HolidaysArgs) -> ExitCode {
    let place = match place(&args.land, args.municipality.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let list = match law::holidays(&place, args.year) {
        Ok(l) => l,
        Err(e) => return fail(&e.to_string()),
    };
    if args.json {
        let rows: Vec<_> = list
            .iter()
            .map(|h| json!({"date": h.date.to_string(), "name": h.name, "source": h.source}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        for h in &list {
            println!(
                "{}  {}  {:<28} {}",
                h.date,
                law::weekday_abbr(h.date.weekday()),
                h.name,
                h.source
            );
        }
    }
    ExitCode::SUCCESS
}

/// Parses `3D`, `2W`, `1M`, `1Y` (case-insensitive).
pub fn parse_period(text: &str) -> Result<Period, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.len().saturating_sub(1));
    let n: u32 = num.parse().map_err(|_| {
        format!("period {text:?}: expected a number and a unit, e.g. 3D, 2W, 1M, 1Y")
    })?;
    match unit.to_ascii_uppercase().as_str() {
        "D" => Ok(Period::days(n)),
        "W" => Ok(Period::weeks(n)),
        "M" => Ok(Period::months(n)),
        "Y" | "J" => Ok(Period::years(n)),
        _ => Err(format!("period {text:?}: unit must be D, W, M or Y")),
    }
}

/// `demail-testbed deadline`.
pub fn deadline(args: &DeadlineArgs) -> ExitCode {
    let place = match place(&args.land, args.municipality.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let from: Date = match args.from.parse() {
        Ok(d) => d,
        Err(e) => return fail(&format!("--from {:?}: {e}; expected YYYY-MM-DD", args.from)),
    };
    let (end, kind, steps, sources) = if let Some(p) = &args.period {
        let period = match parse_period(p) {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        match law::frist_end(from, period, &place, Basis::VwVfG) {
            Ok(f) => {
                let mut sources: Vec<String> = Vec::new();
                for s in &f.steps {
                    if !sources.contains(&s.source) {
                        sources.push(s.source.clone());
                    }
                }
                (f.end.to_string(), "latest".to_string(), f.steps, sources)
            }
            Err(e) => return fail(&e.to_string()),
        }
    } else {
        let rule = args.rule.as_deref().unwrap_or_default();
        let options = Options {
            fiction_shift: args
                .fiction_shift
                .then_some(FictionShift::ShiftToWorkingDay),
            ..Options::default()
        };
        let result = if rule.starts_with("provider-") {
            law::compute(
                rule,
                from.to_datetime(jiff::civil::Time::midnight()),
                &place,
                &options,
            )
        } else {
            law::compute(rule, from, &place, &options)
        };
        match result {
            Ok(d) => {
                let end = match d.when {
                    When::Date(x) => x.to_string(),
                    When::DateTime(x) => x.to_string(),
                };
                let kind = format!("{:?}", d.kind).to_lowercase();
                (end, kind, d.steps, d.sources)
            }
            Err(e) => return fail(&e.to_string()),
        }
    };
    if args.json {
        let steps: Vec<_> = steps
            .iter()
            .map(|s| json!({"text": s.text, "source": s.source}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"end": end, "kind": kind, "steps": steps, "sources": sources})
            )
            .unwrap_or_default()
        );
    } else {
        println!("end: {end} ({kind})");
        for (i, s) in steps.iter().enumerate() {
            println!("  {}. {}\n     — {}", i + 1, s.text, s.source);
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Periods parse in both cases and bad ones say what is expected.
    #[test]
    fn period_syntax() {
        assert_eq!(parse_period("1M").unwrap(), Period::months(1));
        assert_eq!(parse_period("3d").unwrap(), Period::days(3));
        assert!(parse_period("M").unwrap_err().contains("expected a number"));
        assert!(parse_period("3X").unwrap_err().contains("D, W, M or Y"));
    }
}
