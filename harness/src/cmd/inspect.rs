//! The `inspect` command: the De-Mail view of one message file, for vendors who want to see
//! what the test-bed sent or what their intake produced.
//!
//! Exit codes: 0 valid, 1 invalid (rule violations or a failing integrity check), 2 unreadable.

use std::path::PathBuf;
use std::process::ExitCode;

use demail_sim::demail::headers::RawMessage;
use demail_sim::demail::inspect::inspect;
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
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
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
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        let show = |label: &str, v: &Option<String>| {
            if let Some(v) = v {
                println!("{label:<18}{v}");
            }
        };
        println!("file              {}", args.file.display());
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
        for v in &report.violations {
            println!("violation         {v}");
        }
        println!(
            "verdict           {}",
            if report.is_valid() {
                "valid"
            } else {
                "INVALID"
            }
        );
        if let Some(xml) = &report.acknowledge_xml {
            println!("\n{xml}");
        }
    }
    if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
