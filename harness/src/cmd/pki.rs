//! The `pki` command: a persistent test PKI that an integrator installs once (docs/serve.md,
//! "A persistent test PKI"). `pki init DIR` makes the CA (or keeps the one in DIR) and issues
//! a server certificate for each `--host` of the system under test and a client certificate
//! for each `--client` De-Mail account (POP3 at level high, docs/serve.md "POP3").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use demail_sim::pki::{CA_KEY_FILE, Identity, TestPki};

/// Arguments of `pki`.
#[derive(Debug, clap::Args)]
pub struct PkiArgs {
    #[command(subcommand)]
    pub command: PkiCommand,
}

/// `pki` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PkiCommand {
    /// Make (or keep) the test CA in DIR and issue certificates from it.
    Init {
        /// The folder of the PKI (`ca.pem`, `ca-key.pem`, and the certificates issued).
        dir: PathBuf,
        /// A host name (or IP address) of the system under test: a server certificate with
        /// this name, `<name>.pem` and `<name>-key.pem`.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// A De-Mail account: a client certificate for it, `client-<address>.pem` and
        /// `client-<address>-key.pem`.
        #[arg(long = "client")]
        clients: Vec<String>,
    },
}

/// `demail-testbed pki`.
pub fn run(args: &PkiArgs) -> ExitCode {
    let PkiCommand::Init {
        dir,
        hosts,
        clients,
    } = &args.command;
    demail_sim::init_crypto();
    match init(dir, hosts, clients) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init(dir: &Path, hosts: &[String], clients: &[String]) -> Result<()> {
    let existed = dir.join("ca.pem").exists();
    let pki = TestPki::load_or_init(dir)?;
    println!(
        "{} the test CA {} (key {}; keep it private)",
        if existed { "kept" } else { "made" },
        dir.join("ca.pem").display(),
        dir.join(CA_KEY_FILE).display()
    );
    for host in hosts {
        let id = pki
            .issue(host, &[host.as_str()])
            .with_context(|| format!("a server certificate for {host}"))?;
        let (cert, key) = write_identity(dir, host, &id)?;
        println!(
            "server certificate for {host}: {} (key {})",
            cert.display(),
            key.display()
        );
    }
    for address in clients {
        demail_sim::demail::address::validate(address)
            .with_context(|| format!("--client {address}"))?;
        let id = pki
            .issue_client(address)
            .with_context(|| format!("a client certificate for {address}"))?;
        let (cert, key) = write_identity(dir, &format!("client-{address}"), &id)?;
        println!(
            "client certificate for {address}: {} (key {})",
            cert.display(),
            key.display()
        );
    }
    Ok(())
}

/// Writes `<name>.pem` and `<name>-key.pem` (the key 0600; replacing earlier ones of the same
/// name).
pub(crate) fn write_identity(dir: &Path, name: &str, id: &Identity) -> Result<(PathBuf, PathBuf)> {
    if name.contains(['/', '\\']) || name.starts_with('.') {
        anyhow::bail!("{name:?} cannot be a file name");
    }
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&cert, &id.cert_pem).with_context(|| format!("writing {}", cert.display()))?;
    write_key(&key, &id.key_pem)?;
    Ok((cert, key))
}

/// Writes a private key readable by its owner only (0600 on Unix).
fn write_key(path: &Path, pem: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(pem.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}
