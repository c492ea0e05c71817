//! The vocabulary the runner and the judge share: what a citizen sent, what the judge may look
//! at at one instant, and its verdicts.
//!
//! A leaf of the crate: it names nothing of the runner, the checks or the scenario format, so
//! both sides import it and neither imports the other. The judge reads the world only through
//! the [`Mailboxes`] and [`DmsRecords`] traits: the runner lends it the live providers and the
//! mock DMS, a test lends it messages recorded by hand.

use demail_sim::provider::StoredMessage;
use jiff::ZonedDateTime;
use serde::Serialize;

/// Outcome of a citizen's send step (or of a traffic arrival, named `<traffic>#<n>`).
#[derive(Clone, Debug)]
pub struct SendOutcome {
    pub step_id: String,
    /// The citizen's id and address: one copy per citizen, shared by all of its sends.
    pub citizen: std::sync::Arc<str>,
    pub from: std::sync::Arc<str>,
    pub sent_at: ZonedDateTime,
    pub rfc_message_id: String,
    pub private_id: Option<String>,
    /// The provider's refusal, if it refused (`text`: the whole reply as the client saw it);
    /// boxed, since most sends have none.
    pub refused: Option<Box<demail_sim::refusal::Refusal>>,
}

/// The verdict on one expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    pub id: String,
    pub passed: bool,
    pub detail: String,
}

/// The mailboxes of the simulated providers, as the judge reads them.
pub trait Mailboxes {
    /// The messages in `address`'s mailbox, in the order they were laid in; an error when no
    /// provider of the world hosts the address or its store cannot be read.
    fn mailbox(&self, address: &str) -> anyhow::Result<Vec<StoredMessage>>;
}

/// The documents a document management system holds (the mock DMS of `docs/dms.md`).
pub trait DmsRecords {
    /// Every stored document (evidence record as JSON), in the order received.
    fn documents(&self) -> Vec<serde_json::Value>;
}

/// What the judge may look at, at one instant.
pub struct Observation<'a> {
    pub now: ZonedDateTime,
    /// The scripted steps' sends so far (a scenario file's worth).
    pub steps: &'a [SendOutcome],
    /// The traffic arrivals' sends since the previous observation: the judge takes each in
    /// once (`check/replies.rs`), so a long run does not keep them.
    pub fresh: &'a [SendOutcome],
    /// The providers' mailboxes.
    pub world: &'a dyn Mailboxes,
    pub intake_address: &'a str,
    /// The run's CA (DER): confirmations must be signed under it.
    pub trust_anchor: &'a [u8],
    /// How many arrivals each traffic has in all (id, count).
    pub traffic_totals: &'a [(String, usize)],
    /// The mock DMS, if the scenario has one.
    pub dms: Option<&'a dyn DmsRecords>,
}

impl Observation<'_> {
    /// The number of arrivals of a traffic over the whole run.
    pub fn traffic_total(&self, traffic: &str) -> usize {
        self.traffic_totals
            .iter()
            .find(|(id, _)| id == traffic)
            .map_or(0, |(_, n)| *n)
    }
}

/// How mail reaches the intake (`[intake] receive`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReceiveMode {
    /// The provider pushes each message to the intake's SMTP listener.
    #[default]
    Push,
    /// The intake polls the provider's gateway API on every clock step.
    Pull,
    /// The intake takes its mail from the provider's POP3 face on every clock step (the
    /// embedded reference intake only; docs/faults.md).
    Pop3,
}

impl ReceiveMode {
    /// The value of `[intake] receive`, or `None` for another text.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "push" => Some(Self::Push),
            "pull" => Some(Self::Pull),
            "pop3" => Some(Self::Pop3),
            _ => None,
        }
    }
}

/// What a system under test offers the test-bed (docs/sut.md, "Levels"). Each level includes
/// the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 1: wire only. It receives by SMTP push or pulls, and sends by SMTP submission.
    Wire = 1,
    /// 2: also the test clock (`POST /testbed/clock`): time-driven duties on virtual time.
    TestClock = 2,
    /// 3: also observation (`GET /testbed/events`, `GET /testbed/cases`): its legal record.
    Observation = 3,
}

impl Level {
    /// The level with number `n` (1–3).
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(Self::Wire),
            2 => Some(Self::TestClock),
            3 => Some(Self::Observation),
            _ => None,
        }
    }

    /// 1, 2 or 3.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// What the level adds, in a few words.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wire => "wire only",
            Self::TestClock => "test clock",
            Self::Observation => "observation",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "level {} ({})", self.number(), self.name())
    }
}
