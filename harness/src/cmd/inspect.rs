//! The `inspect` command: the De-Mail view of one message file, for vendors who want to see
//! what the test-bed sent, what their intake produced, or what a citizen's client is about to
//! submit (a client's submission is judged by the client's rules of PVD-IO Tabelle 1, see
//! `demail::inspect`). A confirmation's Acknowledge-Message is shown as its fields;
//! `--raw-xml` adds the XML. Documented in `docs/headers.md`, "Inspecting a message".
//!
//! Exit codes: 0 valid, 1 invalid (rule violations or a failing integrity check), 2 unreadable.

use std::path::PathBuf;
use std::process::ExitCode;

use demail_sim::demail::headers::RawMessage;
use demail_sim::demail::inspect::{Report, Side, inspect};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A message file (RFC 5322, e.g. runs/<scenario>/messages/000001.eml).
    pub file: PathBuf,
    /// CA certificate (PEM) to check signatures against, e.g. runs/<scenario>/pki/ca.pem.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Print JSON instead of text (with `file` and `verdict`).
    #[arg(long)]
    pub json: bool,
    /// Show a confirmation's Acknowledge-Message XML as it is, besides its fields.
    #[arg(long)]
    pub raw_xml: bool,
}

/// A value cut to fit a line: long values (seal, certificate) keep their start and say how
/// long they are; `--raw-xml` shows them whole.
fn short(value: &str) -> String {
    const MAX: usize = 96;
    let n = value.chars().count();
    if n <= MAX {
        value.to_string()
    } else {
        let head: String = value.chars().take(64).collect();
        format!("{head} … ({n} characters)")
    }
}

/// "valid" or "invalid".
fn verdict(report: &Report) -> &'static str {
    if report.is_valid() {
        "valid"
    } else {
        "invalid"
    }
}

/// The JSON document: the file name and the verdict, then the report's fields; the raw XML
/// (`acknowledge_xml`) only with `--raw-xml`, else null.
fn json(args: &InspectArgs, report: &Report) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        file: String,
        verdict: &'static str,
        #[serde(flatten)]
        report: &'a Report,
    }
    let mut shown = report.clone();
    if !args.raw_xml {
        shown.acknowledge_xml = None;
    }
    serde_json::to_string_pretty(&Out {
        file: args.file.display().to_string(),
        verdict: verdict(report),
        report: &shown,
    })
    .unwrap_or_default()
}

/// `demail-testbed inspect`.
pub fn run(args: &InspectArgs) -> ExitCode {
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let raw = match RawMessage::parse(&bytes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let anchors = match &args.ca {
        Some(path) => match CertificateDer::from_pem_file(path) {
            Ok(c) => Some(vec![c.to_vec()]),
            Err(e) => {
                eprintln!("error: --ca {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let report = inspect(&raw, &bytes, anchors.as_deref());
    if args.json {
        println!("{}", json(args, &report));
    } else {
        let show = |label: &str, v: &Option<String>| {
            if let Some(v) = v {
                println!("{label:<18}{v}");
            }
        };
        println!("file              {}", args.file.display());
        println!(
            "side              {}",
            match report.side {
                Side::Provider => "provider (as it travels from a provider)",
                Side::Client =>
                    "client submission (before the provider: judged by what a client may write, PVD-IO Tabelle 1)",
            }
        );
        show("message type", &report.message_type);
        show("from", &report.from);
        show("sender", &report.sender);
        show("chosen recipient", &report.chosen_recipient);
        show("actual recipient", &report.actual_recipient);
        show("subject", &report.subject);
        show("private-id", &report.private_id);
        show("message-id", &report.message_id);
        show("auth level", &report.auth_level);
        println!(
            "options           {}",
            if report.options.is_empty() {
                "(none)".to_string()
            } else {
                report.options.join(", ")
            }
        );
        println!("integrity         {}", report.integrity);
        if report.acknowledge_xml.is_some() || report.has_pdf {
            println!(
                "confirmation      XML {}, PDF {}",
                if report.acknowledge_xml.is_some() {
                    "present"
                } else {
                    "missing"
                },
                if report.has_pdf { "present" } else { "missing" }
            );
        }
        for u in &report.unknown_headers {
            println!("warning           unknown header {u} (kept; not in PVD-IO Tabelle 1)");
        }
        for n in &report.notes {
            println!("note              {n}");
        }
        for v in &report.violations {
            println!("violation         {v}");
        }
        if let Some(a) = &report.acknowledge {
            println!("\nAcknowledge-Message (PVD-IO Tabelle 23; --raw-xml for the XML)");
            for (label, value) in [
                ("sender", &a.sender),
                ("subject", &a.subject),
                ("time", &a.time),
                ("delivery time", &a.delivery_time),
                ("hash", &a.hash),
            ] {
                show(&format!("  {label}"), &value.as_deref().map(short));
            }
            for (name, value) in &a.metadata {
                println!("  metadate        {name}: {}", short(value));
            }
            if let Some(text) = &a.text {
                println!("  text");
                for line in text.lines() {
                    println!("    {}", short(line));
                }
            }
        }
        if args.raw_xml
            && let Some(xml) = &report.acknowledge_xml
        {
            println!("\n{xml}");
        }
        println!(
            "\nverdict           {}",
            if report.is_valid() {
                "valid"
            } else {
                "INVALID"
            }
        );
    }
    if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
