//! A system under test outside the test-bed's process: started per scenario by the target
//! file's `[start] command` (or already running), waited for until it is ready, stopped at the
//! end (SIGTERM, then SIGKILL after `stop_timeout_s`). Its standard output and error go to
//! `<run>/sut.log`. Contract: `docs/sut.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use demail_sim::world::SystemUnderTest;

use super::{Level, Target};

/// Where the system is reached, as started for one scenario.
pub struct External {
    child: Option<tokio::process::Child>,
    push: Option<SocketAddr>,
    clock: Option<String>,
    events: Option<String>,
    stop_timeout: Duration,
}

/// What the start command is told (placeholders and `DEMAIL_TESTBED_*` variables, docs/sut.md).
pub struct Launch<'a> {
    pub target: &'a Target,
    pub scenario_file: &'a Path,
    pub run_dir: &'a Path,
    pub pki_dir: &'a Path,
    /// Where the intake's provider listens.
    pub submission: SocketAddr,
    pub gateway: SocketAddr,
    /// Its POP3 face (plain port with STLS).
    pub pop3: SocketAddr,
    /// The DMS the scenario provides, if any.
    pub dms: Option<String>,
    pub seed: u64,
}

/// The ready file's content: where the system listens (every key optional; `http` is the
/// base of `…/testbed/clock`, `…/testbed/events` and `…/testbed/cases`).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Ready {
    push: Option<SocketAddr>,
    http: Option<String>,
    clock: Option<String>,
    events: Option<String>,
    cases: Option<String>,
}

impl Launch<'_> {
    /// The placeholders of the start command with their values.
    fn values(&self) -> Result<Vec<(&'static str, String)>> {
        let abs = |p: &Path| -> Result<String> {
            Ok(std::path::absolute(p)
                .with_context(|| format!("absolute path of {}", p.display()))?
                .display()
                .to_string())
        };
        let testbed = std::env::current_exe().context("the path of demail-testbed")?;
        Ok(vec![
            ("testbed", testbed.display().to_string()),
            ("target", abs(&self.target.path)?),
            ("scenario", abs(self.scenario_file)?),
            ("run", abs(self.run_dir)?),
            ("pki", abs(self.pki_dir)?),
            ("ready", abs(&self.ready_path())?),
            ("submission", self.submission.to_string()),
            ("gateway", format!("http://{}", self.gateway)),
            ("pop3", self.pop3.to_string()),
            ("dms", self.dms.clone().unwrap_or_default()),
            ("seed", self.seed.to_string()),
        ])
    }

    fn ready_path(&self) -> PathBuf {
        self.run_dir.join("sut-ready.json")
    }
}

/// Replaces every `{name}` of `values` in `arg`.
pub fn substitute(arg: &str, values: &[(&'static str, String)]) -> String {
    let mut out = arg.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

impl External {
    /// Starts the system if the target says how, and waits until it is ready.
    pub async fn start(launch: Launch<'_>) -> Result<Self> {
        let target = launch.target;
        let mut me = Self {
            child: None,
            push: target.push,
            clock: target.clock.clone(),
            events: target.events.clone(),
            stop_timeout: Duration::from_secs(5),
        };
        let Some(start) = &target.start else {
            me.wait_connectable(Duration::from_secs(10)).await?;
            return Ok(me);
        };
        me.stop_timeout = start.stop_timeout;
        let values = launch.values()?;
        let args: Vec<String> = start
            .command
            .iter()
            .map(|a| substitute(a, &values))
            .collect();
        let ready = launch.ready_path();
        let _ = std::fs::remove_file(&ready);
        let log_path = launch.run_dir.join("sut.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut cmd = tokio::process::Command::new(&args[0]);
        cmd.args(&args[1..])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        for (name, value) in &values {
            cmd.env(
                format!("DEMAIL_TESTBED_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting the system under test: {}", args.join(" ")))?;
        me.child = Some(child);
        let started = Instant::now();
        if start.ready_file {
            let r = me
                .wait_ready_file(&ready, start.ready_timeout, &log_path)
                .await?;
            me.take_ready(r, target.level)?;
        }
        let left = start.ready_timeout.saturating_sub(started.elapsed());
        me.wait_connectable(left)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}{}", log_tail(&log_path)))?;
        Ok(me)
    }

    /// Takes the addresses the ready file reports, by the target's level.
    fn take_ready(&mut self, r: Ready, level: Level) -> Result<()> {
        let base = r.http.map(|h| h.trim_end_matches('/').to_string());
        if let Some(p) = r.push {
            self.push = Some(p);
        }
        let at = |explicit: Option<String>, path: &str| {
            explicit.or_else(|| base.as_ref().map(|b| format!("{b}{path}")))
        };
        if level >= Level::TestClock {
            self.clock = at(r.clock, "/testbed/clock").or(self.clock.take());
        }
        if level >= Level::Observation {
            self.events = at(r.events, "/testbed/events").or(self.events.take());
        }
        let _ = r.cases;
        Ok(())
    }

    /// Waits for the ready file (written whole: it must parse), watching the process.
    async fn wait_ready_file(
        &mut self,
        path: &Path,
        timeout: Duration,
        log: &Path,
    ) -> Result<Ready> {
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(path)
                && let Ok(r) = serde_json::from_str::<Ready>(&text)
            {
                return Ok(r);
            }
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "the system under test exited ({status}) before it was ready{}",
                    log_tail(log)
                );
            }
            if started.elapsed() > timeout {
                bail!(
                    "the system under test did not write its ready file {} within {} s{}",
                    path.display(),
                    timeout.as_secs(),
                    log_tail(log)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until its push listener and test clock accept TCP connections.
    async fn wait_connectable(&self, timeout: Duration) -> Result<()> {
        let mut addrs: Vec<String> = self.push.iter().map(ToString::to_string).collect();
        if let Some(c) = &self.clock {
            addrs.push(host_port(c)?);
        }
        let started = Instant::now();
        for addr in addrs {
            loop {
                if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                    break;
                }
                if started.elapsed() > timeout {
                    bail!(
                        "the system under test does not accept connections at {addr} (waited {} s)",
                        timeout.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Stops the process it started: SIGTERM, then SIGKILL after the stop timeout.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(self.stop_timeout, child.wait())
                .await
                .is_ok()
            {
                return;
            }
            tracing::warn!(
                "the system under test did not stop within {} s of SIGTERM; killing it",
                self.stop_timeout.as_secs()
            );
        }
        let _ = child.kill().await;
    }
}

impl SystemUnderTest for External {
    fn clock_url(&self) -> Option<String> {
        self.clock.clone()
    }
    fn events_url(&self) -> Option<String> {
        self.events.clone()
    }
    fn push_addr(&self) -> Option<SocketAddr> {
        self.push
    }
}

/// `host:port` of an http URL.
fn host_port(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .map(|r| (r, 80))
        .or_else(|| url.strip_prefix("https://").map(|r| (r, 443)));
    let Some((rest, default)) = rest else {
        bail!("{url}: not an http URL");
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    Ok(
        if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:{default}")
        },
    )
}

/// The last lines of the system's log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(15)..];
    if tail.is_empty() {
        format!(" (its log {} is empty)", path.display())
    } else {
        format!(
            "\n  last lines of {}:\n    {}",
            path.display(),
            tail.join("\n    ")
        )
    }
}
