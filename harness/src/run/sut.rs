//! The system under test of one run: the reference intake in the runner's process, or an
//! external system from a target file (`crate::target`, docs/sut.md); the run's PKI; the
//! credentials a target file gives its Funktionspostfächer.

use super::*;
use crate::target::Target;
use crate::target::external::{External, Launch};

/// The system under test of one run.
pub(super) enum Sut {
    Embedded(ReferenceIntake),
    External(Box<External>),
}

/// What starting the system needs.
pub(super) struct SutParts<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) opts: &'a RunOptions,
    /// The provider hosting the system's Funktionspostfächer.
    pub(super) provider: &'a Provider,
    pub(super) pki: &'a TestPki,
    pub(super) pki_dir: &'a std::path::Path,
    pub(super) secrets: &'a Secrets,
    pub(super) dms: Option<&'a crate::run::dms_mock::MockDms>,
    pub(super) master: u64,
}

impl Sut {
    /// Starts the embedded reference intake, or the target's system (and waits until ready).
    pub(super) async fn start(p: SutParts<'_>) -> Result<Self> {
        let Some(target) = p.opts.target.as_deref() else {
            return Ok(Self::Embedded(
                start_intake(p.scenario, p.opts, p.provider, p.pki, p.secrets, p.dms).await?,
            ));
        };
        let external = External::start(Launch {
            target,
            scenario_file: &p.scenario.path,
            run_dir: &p.opts.out_dir,
            pki_dir: p.pki_dir,
            submission: p.provider.submission_addr(),
            gateway: p.provider.http_addr(),
            pop3: p.provider.pop3_addr(),
            dms: p.dms.map(crate::run::dms_mock::MockDms::url),
            seed: p.master,
        })
        .await
        .with_context(|| format!("system under test {:?}", target.name))?;
        Ok(Self::External(Box::new(external)))
    }

    pub(super) fn get(&self) -> &dyn SystemUnderTest {
        match self {
            Self::Embedded(i) => i,
            Self::External(e) => e.as_ref(),
        }
    }

    /// Stops it (an external process: SIGTERM, then SIGKILL).
    pub(super) async fn stop(self) {
        match self {
            Self::Embedded(i) => drop(i),
            Self::External(mut e) => e.stop().await,
        }
    }
}

/// The run's test PKI and the folder holding it: the persistent one of `--pki`, a fresh one in
/// `<run>/pki` (with its key, so that an external system can issue its listener's
/// certificate) for a target, or a CA of the run's own whose certificate is written there.
pub(super) fn run_pki(scenario: &Scenario, opts: &RunOptions) -> Result<(TestPki, PathBuf)> {
    if let Some(dir) = &opts.pki {
        let pki = TestPki::load_or_init(dir)
            .with_context(|| format!("the test PKI in {}", dir.display()))?;
        listener_certificate(&pki, dir, opts.target.as_deref())?;
        return Ok((pki, dir.clone()));
    }
    let dir = opts.out_dir.join("pki");
    if opts.target.is_some() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        let pki = TestPki::load_or_init(&dir)?;
        listener_certificate(&pki, &dir, opts.target.as_deref())?;
        return Ok((pki, dir));
    }
    let pki = TestPki::generate(&scenario.name)?;
    pki.write_ca(&dir)?;
    Ok((pki, dir))
}

/// Writes `<server_name>.pem` and `<server_name>-key.pem` into the PKI folder for the
/// system's SMTP listener (the name the push checks, docs/sut.md), unless they are there: a
/// system that cannot issue certificates itself takes them from `{pki}`.
pub(crate) fn listener_certificate(
    pki: &TestPki,
    dir: &std::path::Path,
    target: Option<&Target>,
) -> Result<()> {
    let Some(crate::target::PushTls::StartTls {
        server_name,
        ca_file: None,
    }) = target.map(|t| &t.push_tls)
    else {
        return Ok(());
    };
    if dir.join(format!("{server_name}.pem")).exists() {
        return Ok(());
    }
    let mut names = vec![server_name.as_str()];
    if server_name == "localhost" {
        names.push("127.0.0.1");
    }
    let id = pki
        .issue(server_name, &names)
        .with_context(|| format!("a server certificate for {server_name}"))?;
    crate::cmd::pki::write_identity(dir, server_name, &id)?;
    Ok(())
}

impl Secrets {
    /// The target's Funktionspostfächer and credentials replace the scenario's (a system
    /// started with the scenario file keeps the scenario's mailboxes).
    pub(super) fn for_target(&mut self, target: &Target, receive: ReceiveMode) -> Result<()> {
        if !target.scenario_config {
            self.intake_mailboxes = target
                .mailboxes
                .iter()
                .map(|a| (a.clone(), format!("{} (system under test)", target.name)))
                .collect();
        }
        self.intake_passwords = self
            .intake_mailboxes
            .iter()
            .map(|(a, _)| (a.clone(), target.password.clone()))
            .collect();
        self.intake_tokens = if receive == ReceiveMode::Pull {
            let token = target.token.clone().with_context(|| {
                format!(
                    "{}: [accounts] token is needed for a system that pulls",
                    target.path.display()
                )
            })?;
            if self.intake_mailboxes.len() > 1 && !token.contains("{mailbox}") {
                bail!(
                    "{}: [accounts] token must contain {{mailbox}} when the system has several Funktionspostfächer ({}): a token names one account",
                    target.path.display(),
                    self.intake_mailboxes.len()
                );
            }
            self.intake_mailboxes
                .iter()
                .map(|(a, _)| (a.clone(), crate::target::token_of(&token, a)))
                .collect()
        } else {
            Default::default()
        };
        Ok(())
    }
}
