//! The `population` command: writes a seeded fake population of citizens and businesses
//! (`demail_sim::population`) as CSV or JSON Lines, streamed, to stdout or a file.
//!
//! Exit codes: 0 written, 2 bad input (size 0, unknown city, unknown format, bad share or
//! provider) or an output file that cannot be written. A closed pipe (`| head`) ends quietly
//! with 0.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use demail_sim::population::export::{self, Format};
use demail_sim::population::{self, PopulationError, ProviderShare, Spec};

/// Arguments of `population`.
#[derive(Debug, clap::Args)]
pub struct PopulationArgs {
    /// Number of citizens (people and businesses), at least 1.
    #[arg(long)]
    pub size: u64,
    /// Master seed; the same seed gives a byte-identical output.
    #[arg(long)]
    pub seed: u64,
    /// City profile: Dresden, Leipzig, Chemnitz, Berlin or München.
    #[arg(long, default_value = "Dresden")]
    pub city: String,
    /// Output format: csv (header row, RFC 4180 quoting) or json (JSON Lines: one object per
    /// citizen and line).
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Output file [default: stdout].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Date ages are counted from (YYYY-MM-DD) [default: 2025-01-01].
    #[arg(long)]
    pub reference_date: Option<jiff::civil::Date>,
    /// Share of people with a De-Mail account [default: 0.10].
    #[arg(long)]
    pub demail_share: Option<f64>,
    /// Share of businesses among the citizens [default: 0.07].
    #[arg(long)]
    pub business_share: Option<f64>,
    /// A De-Mail provider as id:domain:share (repeat for several; replaces the default
    /// dmda-a/b/c with shares 0.5/0.3/0.2).
    #[arg(long = "provider", value_name = "ID:DOMAIN:SHARE")]
    pub providers: Vec<String>,
}

/// Builds the spec from the arguments.
fn spec(args: &PopulationArgs) -> Result<(Spec, Format), PopulationError> {
    let format: Format = args.format.parse()?;
    if args.size == 0 {
        return Err(PopulationError::ZeroSize);
    }
    let mut spec = Spec::new(args.seed, args.size, &args.city)?;
    if let Some(d) = args.reference_date {
        spec.reference_date = d;
    }
    if let Some(s) = args.demail_share {
        spec.adoption.person_share = s;
    }
    if let Some(s) = args.business_share {
        spec.business_share = s;
    }
    if !args.providers.is_empty() {
        spec.adoption.providers = args
            .providers
            .iter()
            .map(|p| ProviderShare::parse(p))
            .collect::<Result<_, _>>()?;
    }
    spec.validate()?;
    Ok((spec, format))
}

/// `demail-testbed population`.
pub fn run(args: &PopulationArgs) -> ExitCode {
    let (spec, format) = match spec(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let citizens = match population::generate(spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match &args.out {
        Some(path) => match File::create(path) {
            Ok(f) => {
                let mut w = BufWriter::with_capacity(1 << 20, f);
                export::write_all(format, citizens, &mut w)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        },
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
            match export::write_all(format, citizens, &mut w) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
                other => {
                    let _ = w.flush();
                    other.map_err(|e| format!("stdout: {e}"))
                }
            }
        }
    };
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the population: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: PopulationArgs,
    }

    fn parse(argv: &[&str]) -> PopulationArgs {
        Cli::try_parse_from(std::iter::once("population").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    /// Size 0, an unknown city and an unknown format are refused with a message naming the
    /// valid choices; providers and shares from the command line reach the spec.
    #[test]
    fn arguments_become_a_spec() {
        let e = |argv: &[&str]| spec(&parse(argv)).unwrap_err().to_string();
        assert!(e(&["--size", "0", "--seed", "1"]).contains("at least 1"));
        assert!(e(&["--size", "5", "--seed", "1", "--city", "Gotham"]).contains("Dresden"));
        assert!(e(&["--size", "5", "--seed", "1", "--format", "xml"]).contains("csv or json"));
        assert!(e(&["--size", "5", "--seed", "1", "--demail-share", "2"]).contains("share"));
        let (s, f) = spec(&parse(&[
            "--size",
            "5",
            "--seed",
            "1",
            "--city",
            "muenchen",
            "--format",
            "json",
            "--provider",
            "x:x.de-mail.de:1",
            "--reference-date",
            "2030-06-30",
        ]))
        .unwrap();
        assert_eq!(f, Format::JsonLines);
        assert_eq!(s.city.name, "München");
        assert_eq!(s.adoption.providers.len(), 1);
        assert_eq!(s.reference_date.to_string(), "2030-06-30");
    }
}
