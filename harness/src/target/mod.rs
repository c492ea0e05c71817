//! The target file: a system under test outside the test-bed's process, and how to reach,
//! start, stop and wait for it (format and contract: `docs/sut.md`).
//!
//! [`Target::load`] reads and validates the TOML; every error names the file, line and column.
//! [`external`] starts the system (if the file says how), waits until it is ready and
//! implements [`demail_sim::world::SystemUnderTest`] for it.

pub mod external;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::located::{Located, quoted};
pub use crate::model::Level;
use crate::model::ReceiveMode;

/// How the provider's push into the system is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushTls {
    /// STARTTLS, the certificate checked for `server_name` against the test CA or `ca_file`.
    StartTls {
        server_name: String,
        ca_file: Option<PathBuf>,
    },
    /// Plain SMTP: only to a loopback address, with a warning.
    Plain,
}

/// How the test-bed knows that the system has finished the work of an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Its answer to `POST /testbed/clock` (level 2 and up) and the provider's own signals.
    Answer,
    /// Nothing moved at the provider for this long (a system without a test clock).
    Quiet(Duration),
}

/// How the system is started per scenario and when it counts as ready.
#[derive(Clone, Debug)]
pub struct Start {
    /// Program and arguments, with `{placeholders}` (docs/sut.md).
    pub command: Vec<String>,
    /// `true`: wait for the ready file; `false`: wait until its addresses accept connections.
    pub ready_file: bool,
    pub ready_timeout: Duration,
    /// After SIGTERM, how long to wait before SIGKILL.
    pub stop_timeout: Duration,
}

/// A loaded target file.
#[derive(Clone, Debug)]
pub struct Target {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    pub level: Level,
    /// The system is started per scenario with the scenario file and applies its `[intake]`
    /// section (only the reference intake can).
    pub scenario_config: bool,
    /// Its Funktionspostfächer (empty with `scenario_config`: the scenario's).
    pub mailboxes: Vec<String>,
    pub password: String,
    pub token: Option<String>,
    /// Where the intake's provider listens (port 0: any free port).
    pub submission: SocketAddr,
    pub gateway: SocketAddr,
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
    /// How it receives; `None` with `scenario_config` means: as the scenario says.
    pub receive: Option<ReceiveMode>,
    /// Its SMTP listener (push), unless the ready file names it.
    pub push: Option<SocketAddr>,
    pub push_tls: PushTls,
    /// `POST` URL of its test clock (level 2), unless the ready file names it.
    pub clock: Option<String>,
    /// `GET` URLs of its observation endpoint (level 3), unless the ready file names them.
    pub events: Option<String>,
    pub cases: Option<String>,
    pub idle: Idle,
    /// Longest wait for the world (and the system) to settle at one instant.
    pub settle_limit: Duration,
    pub start: Option<Start>,
}

/// An error in a target file, at `FILE:LINE:COLUMN`.
pub type TargetError = crate::located::FileError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    system: RawSystem,
    accounts: RawAccounts,
    provider: RawProvider,
    receive: RawReceive,
    #[serde(default)]
    clock: Option<RawClock>,
    #[serde(default)]
    observe: Option<RawObserve>,
    #[serde(default)]
    start: Option<RawStart>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    name: String,
    #[serde(default)]
    version: String,
    level: Spanned<i64>,
    #[serde(default)]
    scenario_config: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccounts {
    #[serde(default)]
    mailboxes: Vec<Spanned<String>>,
    password: Spanned<String>,
    #[serde(default)]
    token: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    submission: Spanned<String>,
    http: Spanned<String>,
    #[serde(default)]
    pop3: Option<Spanned<String>>,
    #[serde(default)]
    pop3s: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceive {
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    push: Option<Spanned<String>>,
    #[serde(default)]
    tls: Option<Spanned<String>>,
    #[serde(default)]
    server_name: Option<Spanned<String>>,
    #[serde(default)]
    ca_file: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClock {
    #[serde(default)]
    url: Option<Spanned<String>>,
    #[serde(default)]
    idle: Option<Spanned<String>>,
    #[serde(default)]
    quiet_ms: Option<Spanned<u64>>,
    #[serde(default)]
    settle_limit_s: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObserve {
    #[serde(default)]
    events: Option<Spanned<String>>,
    #[serde(default)]
    cases: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStart {
    command: Spanned<Vec<String>>,
    #[serde(default)]
    ready: Option<Spanned<String>>,
    #[serde(default)]
    ready_timeout_s: Option<u64>,
    #[serde(default)]
    stop_timeout_s: Option<u64>,
}

impl Target {
    /// Reads and validates a target file.
    pub fn load(path: &Path) -> Result<Self, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|e| TargetError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the target file: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses target text (the path is for messages and for `ca_file`, relative to it).
    pub fn parse(text: &str, path: &Path) -> Result<Self, TargetError> {
        let at = |l: Located| TargetError::at(path, text, l);
        let raw: RawTarget = toml::from_str(text)
            .map_err(|e| at(Located::new(e.span().unwrap_or(0..0), e.message().trim())))?;
        validate(raw, path).map_err(at)
    }

    /// Where the system receives its De-Mail, for the given scenario's wish.
    pub fn receive_for(&self, scenario: ReceiveMode) -> ReceiveMode {
        self.receive.unwrap_or(scenario)
    }

    /// Why `scenario` cannot be run against this system (reported as skipped, never as
    /// passed), or `None` when it can.
    pub fn skip_reason(&self, scenario: &crate::scenario::Scenario) -> Option<String> {
        if scenario.level > self.level {
            return Some(format!(
                "needs {}; the system under test {:?} offers {}",
                scenario.level, self.name, self.level
            ));
        }
        if self.scenario_config {
            return None;
        }
        let settings = scenario.configures_intake();
        if !settings.is_empty() {
            return Some(format!(
                "configures the reference intake ({}); the system under test {:?} is not started with the scenario file (scenario_config = false)",
                settings.join(", "),
                self.name
            ));
        }
        if self.receive_for(scenario.receive) != scenario.receive {
            return Some(format!(
                "tests receiving by {:?}; the system under test receives by {:?}",
                scenario.receive,
                self.receive_for(scenario.receive)
            ));
        }
        if !self.mailboxes.contains(&scenario.intake_address) {
            return Some(format!(
                "addresses the Funktionspostfach {}, which the target file does not list (mailboxes: {})",
                scenario.intake_address,
                self.mailboxes.join(", ")
            ));
        }
        None
    }
}

/// The API token of Funktionspostfach `mailbox`: the target's `token` with `{mailbox}`
/// replaced by the address.
pub fn token_of(token: &str, mailbox: &str) -> String {
    token.replace("{mailbox}", mailbox)
}

fn socket(v: &Spanned<String>, key: &str) -> Result<SocketAddr, Located> {
    v.get_ref().parse().map_err(|_| {
        Located::new(
            v.span(),
            format!(
                "{key} {:?}: expected an IP address and port such as \"127.0.0.1:2525\" (port 0: any free port)",
                v.get_ref()
            ),
        )
    })
}

fn url(v: &Spanned<String>, key: &str) -> Result<String, Located> {
    let s = v.get_ref();
    if !(s.starts_with("http://") || s.starts_with("https://")) || s.contains(char::is_whitespace) {
        return Err(Located::new(
            v.span(),
            format!("{key} {s:?}: expected an http:// or https:// URL"),
        ));
    }
    Ok(s.trim_end_matches('/').to_string())
}

fn validate(raw: RawTarget, path: &Path) -> Result<Target, Located> {
    let level = Level::from_number(*raw.system.level.get_ref()).ok_or_else(|| {
        Located::new(
            raw.system.level.span(),
            format!(
                "level {}: expected 1 (wire only), 2 (test clock) or 3 (observation)",
                raw.system.level.get_ref()
            ),
        )
    })?;
    let mut mailboxes = Vec::new();
    for m in &raw.accounts.mailboxes {
        demail_sim::demail::address::validate(m.get_ref())
            .map_err(|e| Located::new(m.span(), format!("mailbox {:?}: {e}", m.get_ref())))?;
        mailboxes.push(demail_sim::demail::normalize_address(m.get_ref()));
    }
    if !raw.system.scenario_config && mailboxes.is_empty() {
        return Err(Located::new(
            raw.accounts.password.span(),
            "[accounts] mailboxes: name the system's Funktionspostfächer (or set [system] scenario_config = true for a system that takes the scenario's)",
        ));
    }
    if raw.accounts.password.get_ref().len() < 8 {
        return Err(Located::new(
            raw.accounts.password.span(),
            "password: at least 8 characters",
        ));
    }
    let receive = match &raw.receive.mode {
        None if raw.system.scenario_config => None,
        None => Some(ReceiveMode::Push),
        Some(m) => Some(
            ReceiveMode::from_name(m.get_ref())
                .filter(|r| *r != ReceiveMode::Pop3)
                .ok_or_else(|| {
                    Located::new(
                        m.span(),
                        format!("mode {:?}: expected \"push\" or \"pull\"", m.get_ref()),
                    )
                })?,
        ),
    };
    let push = raw
        .receive
        .push
        .as_ref()
        .map(|p| socket(p, "push"))
        .transpose()?;
    let push_tls = push_tls(&raw.receive, push, path)?;
    let (clock, idle, settle_limit) = clock(raw.clock.as_ref(), level, &raw.system.level)?;
    let (events, cases) = match &raw.observe {
        None => (None, None),
        Some(o) => (
            o.events.as_ref().map(|u| url(u, "events")).transpose()?,
            o.cases.as_ref().map(|u| url(u, "cases")).transpose()?,
        ),
    };
    let start = raw.start.as_ref().map(start).transpose()?;
    let ready_file = start.as_ref().is_some_and(|s| s.ready_file);
    // Without a ready file the addresses must be in the target itself.
    if !ready_file {
        if receive == Some(ReceiveMode::Push) && push.is_none() {
            return Err(Located::new(
                raw.system.level.span(),
                "[receive] push: the address of the system's SMTP listener is needed (or a [start] with ready = \"file\" that reports it)",
            ));
        }
        if level >= Level::TestClock && clock.is_none() {
            return Err(Located::new(
                raw.system.level.span(),
                "[clock] url: a level-2 system needs its test-clock URL (or a [start] with ready = \"file\" that reports it)",
            ));
        }
        if level >= Level::Observation && events.is_none() {
            return Err(Located::new(
                raw.system.level.span(),
                "[observe] events: a level-3 system needs its events URL (or a [start] with ready = \"file\" that reports it)",
            ));
        }
    }
    Ok(Target {
        path: path.to_path_buf(),
        name: raw.system.name,
        version: raw.system.version,
        level,
        scenario_config: raw.system.scenario_config,
        mailboxes,
        password: raw.accounts.password.into_inner(),
        token: raw.accounts.token.map(Spanned::into_inner),
        submission: socket(&raw.provider.submission, "submission")?,
        gateway: socket(&raw.provider.http, "http")?,
        pop3: raw
            .provider
            .pop3
            .as_ref()
            .map(|p| socket(p, "pop3"))
            .transpose()?,
        pop3s: raw
            .provider
            .pop3s
            .as_ref()
            .map(|p| socket(p, "pop3s"))
            .transpose()?,
        receive,
        push,
        push_tls,
        clock,
        events,
        cases,
        idle,
        settle_limit,
        start,
    })
}

fn push_tls(raw: &RawReceive, push: Option<SocketAddr>, path: &Path) -> Result<PushTls, Located> {
    let tls = raw.tls.as_ref().map(|t| t.get_ref().as_str());
    match tls {
        None | Some("starttls") => {
            let ca_file = raw.ca_file.as_ref().map(|c| {
                let p = PathBuf::from(c.get_ref());
                if p.is_absolute() {
                    p
                } else {
                    path.parent().unwrap_or(Path::new(".")).join(p)
                }
            });
            if let (Some(file), Some(raw_file)) = (&ca_file, &raw.ca_file)
                && !file.is_file()
            {
                return Err(Located::new(
                    raw_file.span(),
                    format!(
                        "ca_file {} does not exist (paths are relative to the target file)",
                        file.display()
                    ),
                ));
            }
            Ok(PushTls::StartTls {
                server_name: raw
                    .server_name
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_else(|| "localhost".into()),
                ca_file,
            })
        }
        Some("plain") => {
            let span = raw.tls.as_ref().map(Spanned::span).unwrap_or(0..0);
            if let Some(p) = push
                && !p.ip().is_loopback()
            {
                return Err(Located::new(
                    span,
                    format!(
                        "tls \"plain\": plain SMTP is allowed only to a loopback address, not {p}"
                    ),
                ));
            }
            Ok(PushTls::Plain)
        }
        Some(other) => Err(Located::new(
            raw.tls.as_ref().map(Spanned::span).unwrap_or(0..0),
            format!("tls {other:?}: expected \"starttls\" or \"plain\""),
        )),
    }
}

type ClockParts = (Option<String>, Idle, Duration);

fn clock(
    raw: Option<&RawClock>,
    level: Level,
    level_at: &Spanned<i64>,
) -> Result<ClockParts, Located> {
    let url_ = raw
        .and_then(|c| c.url.as_ref())
        .map(|u| url(u, "url"))
        .transpose()?;
    if level < Level::TestClock
        && let Some(u) = raw.and_then(|c| c.url.as_ref())
    {
        return Err(Located::new(
            u.span(),
            format!(
                "url: a test clock makes the system level 2; it says level {}",
                level_at.get_ref()
            ),
        ));
    }
    let quiet = raw
        .and_then(|c| c.quiet_ms.as_ref())
        .map(|q| Duration::from_millis(*q.get_ref()));
    let idle = match raw.and_then(|c| c.idle.as_ref()) {
        None if level >= Level::TestClock => Idle::Answer,
        None => Idle::Quiet(quiet.unwrap_or(Duration::from_millis(1000))),
        Some(i) => match i.get_ref().as_str() {
            "answer" if level >= Level::TestClock => Idle::Answer,
            "answer" => {
                return Err(Located::new(
                    i.span(),
                    "idle \"answer\" needs a test clock (level 2); a level-1 system is idle after a quiet window: idle = \"quiet\"",
                ));
            }
            "quiet" => Idle::Quiet(quiet.unwrap_or(Duration::from_millis(1000))),
            other => {
                return Err(Located::new(
                    i.span(),
                    format!("idle {other:?}: expected \"answer\" or \"quiet\""),
                ));
            }
        },
    };
    let limit = raw
        .and_then(|c| c.settle_limit_s.as_ref())
        .map(|s| Duration::from_secs(*s.get_ref()))
        .unwrap_or(Duration::from_secs(30));
    Ok((url_, idle, limit))
}

fn start(raw: &RawStart) -> Result<Start, Located> {
    if raw.command.get_ref().is_empty() || raw.command.get_ref()[0].trim().is_empty() {
        return Err(Located::new(
            raw.command.span(),
            "command: the program and its arguments, e.g. [\"./my-intake\", \"--config\", \"{run}/intake.toml\"]",
        ));
    }
    let ready_file = match raw.ready.as_ref().map(|r| r.get_ref().as_str()) {
        None | Some("connect") => false,
        Some("file") => true,
        Some(other) => {
            return Err(Located::new(
                raw.ready.as_ref().map(Spanned::span).unwrap_or(0..0),
                format!(
                    "ready {other:?}: expected \"file\" (the system writes {{ready}}) or \"connect\" (its addresses accept connections); known: {}",
                    quoted(&["file", "connect"])
                ),
            ));
        }
    };
    Ok(Start {
        command: raw.command.get_ref().clone(),
        ready_file,
        ready_timeout: Duration::from_secs(raw.ready_timeout_s.unwrap_or(30)),
        stop_timeout: Duration::from_secs(raw.stop_timeout_s.unwrap_or(5)),
    })
}

#[cfg(test)]
mod tests;
