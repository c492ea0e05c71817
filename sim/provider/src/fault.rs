//! Faults the test-bed's provider makes on purpose, so that a system under test can be shown
//! a message it must not trust (the certification catalogue's DM-SEAL cases, issue #16).
//!
//! A fault is armed for the next message one account submits ([`crate::Provider::arm_seal_fault`])
//! and spent by that submission; the harness arms it from a scenario's `seal = "broken"` or
//! `seal = "foreign"` send option (docs/scenarios.md). Every fault put into a message is a
//! `fault.injected` trace event, so a run says what was done on purpose.
//!
//! - [`SealFault::Broken`]: the copy is sealed as always and its body changed afterwards, so
//!   the body hash of X-de-mail-integrity no longer matches (PVD-IO §3.1.21: the seal proves
//!   the message is unchanged since the provider sealed it).
//! - [`SealFault::Foreign`]: the copy is sealed with a key whose certificate comes from a CA
//!   that no trust list carries (a new CA made once per provider): the signature verifies, the
//!   certificate does not chain to a trusted provider (PVD-IO §3.1.21, IT-BInfra-IO §7).

use std::sync::OnceLock;

use demail_core::pki::TestPki;
use demail_wire::headers::RawMessage;
use demail_wire::integrity::Signer;

/// A fault in the provider's seal of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SealFault {
    /// Body changed after sealing.
    Broken,
    /// Sealed under a CA nobody trusts.
    Foreign,
}

impl SealFault {
    /// Every fault, for help texts and validation.
    pub const ALL: [SealFault; 2] = [SealFault::Broken, SealFault::Foreign];

    /// The name in scenario files and trace events.
    pub const fn as_str(self) -> &'static str {
        match self {
            SealFault::Broken => "broken",
            SealFault::Foreign => "foreign",
        }
    }

    /// Parses a name of [`SealFault::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// What the fault does, for the trace.
    pub const fn detail(self) -> &'static str {
        match self {
            SealFault::Broken => {
                "body changed after sealing: X-de-mail-integrity does not verify (PVD-IO §3.1.21)"
            }
            SealFault::Foreign => {
                "sealed with a certificate of a CA no trust list carries (PVD-IO §3.1.21)"
            }
        }
    }
}

/// The line a broken seal's body gets after sealing.
const TAMPERED: &[u8] = b"\r\n[Nach der Versiegelung veraendert.]\r\n";

/// Changes `sealed`'s body after sealing ([`SealFault::Broken`]).
pub(crate) fn break_seal(sealed: &mut RawMessage) {
    sealed.body.extend_from_slice(TAMPERED);
}

/// The foreign signer, made once per provider on first use ([`SealFault::Foreign`]).
#[derive(Default)]
pub(crate) struct ForeignSigner(OnceLock<Result<Signer, String>>);

impl ForeignSigner {
    /// The signer of a CA of its own, named like the provider's real one.
    pub(crate) fn get(&self, domain: &str) -> Result<&Signer, String> {
        self.0
            .get_or_init(|| {
                let pki = TestPki::generate("foreign").map_err(|e| format!("foreign CA: {e}"))?;
                let id = pki
                    .issue(domain, &[domain])
                    .map_err(|e| format!("foreign certificate: {e}"))?;
                Signer::ecdsa_p256_from_pkcs8_der(&id.key_der, id.cert_der.to_vec())
                    .map_err(|e| format!("foreign signing key: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Where in the world a planned fault strikes (docs/faults.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// The provider's SMTP submission face, where citizens (and intakes) submit.
    Submission,
    /// The provider's push into a system under test.
    Push,
    /// The Abholbestätigung the provider issues at a login at level high.
    Retrieval,
    /// The provider's seal on a submitted message.
    Seal,
    /// The provider's relay face, where peer providers hand messages over.
    Relay,
    /// The directory look-up of the HTTP face (`/directory/v1/entries/…`).
    Directory,
    /// The document management system the intake hands cases to (`POST /documents`); not a
    /// face of the provider: the harness's DMS mock evaluates it (docs/dms.md).
    Dms,
    /// The provider's POP3 face for a message client (`pop3/`, PVD-FU §3.1.2 Fall b).
    Pop3,
}

impl Face {
    pub const ALL: [Face; 8] = [
        Face::Submission,
        Face::Push,
        Face::Retrieval,
        Face::Seal,
        Face::Relay,
        Face::Directory,
        Face::Dms,
        Face::Pop3,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Face::Submission => "submission",
            Face::Push => "push",
            Face::Retrieval => "retrieval",
            Face::Seal => "seal",
            Face::Relay => "relay",
            Face::Directory => "directory",
            Face::Dms => "dms",
            Face::Pop3 => "pop3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The command a submission, relay or POP3 fault answers instead of the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A new connection, before the greeting (a `reply` replaces the SMTP 220 or the POP3
    /// `+OK` greeting, and the connection is closed after it).
    Connect,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    /// After the message text, instead of accepting it (nothing is stored).
    AfterData,
    /// POP3: the login, PASS or AUTH (RFC 1939 §7, RFC 5034).
    Auth,
    /// POP3: STAT, LIST or UIDL (the maildrop's listing, RFC 1939 §5).
    List,
    /// POP3: RETR or TOP (a message's multi-line answer).
    Retr,
    /// POP3: DELE.
    Dele,
    /// POP3: QUIT in TRANSACTION state, which enters UPDATE (RFC 1939 §6).
    Quit,
}

impl Point {
    /// The SMTP points (faces submission and relay).
    pub const ALL: [Point; 6] = [
        Point::Connect,
        Point::Ehlo,
        Point::Mail,
        Point::Rcpt,
        Point::Data,
        Point::AfterData,
    ];

    /// The POP3 points (face pop3).
    pub const POP3: [Point; 6] = [
        Point::Connect,
        Point::Auth,
        Point::List,
        Point::Retr,
        Point::Dele,
        Point::Quit,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Point::Connect => "connect",
            Point::Ehlo => "ehlo",
            Point::Mail => "mail",
            Point::Rcpt => "rcpt",
            Point::Data => "data",
            Point::AfterData => "after-data",
            Point::Auth => "auth",
            Point::List => "list",
            Point::Retr => "retr",
            Point::Dele => "dele",
            Point::Quit => "quit",
        }
    }

    /// Parses an SMTP point ([`Point::ALL`]).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Parses a POP3 point ([`Point::POP3`]).
    pub fn parse_pop3(s: &str) -> Option<Self> {
        Self::POP3.into_iter().find(|p| p.as_str() == s)
    }
}

/// The certificate the relay face presents to a peer instead of its own
/// ([`Action::Cert`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertFault {
    /// Issued by the run's test CA with a validity that ended in 2001.
    Expired,
    /// Issued for the provider's domain by a CA that no trust list carries.
    Unknown,
}

/// What a planned fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Submission: this reply instead of the provider's.
    Reply {
        code: u16,
        enhanced: String,
        text: String,
    },
    /// Submission: the connection is closed without a reply. Push: the connection is dropped
    /// in the middle of the message text (a temporary failure; the push is retried).
    Drop,
    /// Push: the same message is pushed a second time after the first was accepted.
    Duplicate,
    /// Push: the attempt is held back this long (the job waits as for a retry).
    Delay(jiff::SignedDuration),
    /// Push: the attempt is held back [`REORDER_HOLD`], so that what the provider pushes to
    /// the same system meanwhile (at the same virtual instant) overtakes it: a confirmation
    /// arrives before a message that reached the mailbox earlier.
    Reorder,
    /// Retrieval: the Abholbestätigung is never issued.
    Withhold,
    /// Seal: a broken or foreign seal ([`SealFault`]).
    Seal(SealFault),
    /// Directory: 503 with a problem JSON instead of the entry.
    Unavailable,
    /// POP3: this `-ERR` line instead of the provider's answer (e.g. `-ERR [SYS/TEMP] …`,
    /// RFC 2449 §8, RFC 3206).
    Pop3Err(String),
    /// Relay: the TLS handshake of one connection is made with an expired or unknown
    /// certificate, so the peer refuses it (nothing is handed over; the peer retries).
    Cert(CertFault),
}

impl Action {
    /// The action's name in scenario files and trace events.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Reply { .. } => "reply",
            Action::Drop => "drop",
            Action::Duplicate => "duplicate",
            Action::Delay(_) => "delay",
            Action::Reorder => "reorder",
            Action::Withhold => "withhold",
            Action::Seal(SealFault::Broken) => "seal-broken",
            Action::Seal(SealFault::Foreign) => "seal-foreign",
            Action::Unavailable => "unavailable",
            Action::Pop3Err(_) => "reply",
            Action::Cert(CertFault::Expired) => "cert-expired",
            Action::Cert(CertFault::Unknown) => "cert-unknown",
        }
    }
}

/// How long [`Action::Reorder`] holds a push back: a minute of virtual time, so that every
/// push of the same instant goes first and the held one follows at the next instant.
pub const REORDER_HOLD: jiff::SignedDuration = jiff::SignedDuration::from_mins(1);

/// Which of the candidate events at the face a fault hits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Select {
    /// The n-th candidate (1-based).
    Nth(u32),
    /// Each candidate with this probability, drawn from the scenario's seed: the same seed
    /// hits the same candidates.
    Probability(f64),
    /// A rate limit: every candidate beyond `max` within the last `per_secs` seconds of the
    /// provider's clock (virtual time in a scenario), counting the candidates hit too.
    Above { max: u32, per_secs: i64 },
}

/// One fault of a scenario's plan (`[[fault]]`, docs/faults.md).
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedFault {
    pub id: String,
    pub face: Face,
    /// For [`Face::Submission`], [`Face::Relay`] and [`Face::Pop3`]: the command answered;
    /// `None` elsewhere and for the relay's certificate faults (they strike at the TLS
    /// handshake, before any command).
    pub point: Option<Point>,
    pub action: Action,
    /// Only events about this mailbox (normalised) are candidates: the pushed mailbox, the
    /// submitting account, the account logging in, the sealed message's sender, the address
    /// looked up; on the relay face the peer provider's domain.
    pub mailbox: Option<String>,
    pub select: Select,
    /// At most this many hits (default: 1 for [`Select::Nth`], unlimited otherwise).
    pub limit: Option<u32>,
}

/// A hit: the fault's id, its action, and the candidate's number at that fault.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: String,
    pub action: Action,
    pub candidate: u32,
}

/// A plan's faults with their counters. Candidates are counted per fault in the order the
/// provider meets them (deterministic in a scenario run: one arrival and one push at a
/// time), and a probability is decided by a number derived from the master seed, the fault's
/// id and the candidate's number, so the same seed hits the same candidates.
#[derive(Debug, Default)]
pub struct FaultPlan {
    master_seed: u64,
    faults: std::sync::Mutex<Vec<Counted>>,
}

/// A fault with its counters: candidates seen, hits, and the instants (seconds) of the recent
/// candidates for [`Select::Above`].
#[derive(Debug)]
struct Counted {
    fault: PlannedFault,
    seen: u32,
    hits: u32,
    recent: std::collections::VecDeque<i64>,
}

impl FaultPlan {
    pub fn new(faults: Vec<PlannedFault>, master_seed: u64) -> Self {
        Self {
            master_seed,
            faults: std::sync::Mutex::new(
                faults
                    .into_iter()
                    .map(|fault| Counted {
                        fault,
                        seen: 0,
                        hits: 0,
                        recent: Default::default(),
                    })
                    .collect(),
            ),
        }
    }

    /// Whether the plan has no fault.
    pub fn is_empty(&self) -> bool {
        demail_core::sync::lock(&self.faults).is_empty()
    }

    /// The first fault of the plan that hits this candidate event at `face` (and `point`)
    /// about `mailbox` at `now` (seconds of the provider's clock); every matching fault counts
    /// the candidate.
    pub fn hit(
        &self,
        face: Face,
        point: Option<Point>,
        mailbox: Option<&str>,
        now: i64,
    ) -> Option<Hit> {
        let mailbox = mailbox.map(demail_wire::normalize_address);
        let mut faults = demail_core::sync::lock(&self.faults);
        let mut first = None;
        for Counted {
            fault: f,
            seen,
            hits,
            recent,
        } in faults.iter_mut()
        {
            if f.face != face || f.point != point {
                continue;
            }
            if let Some(want) = &f.mailbox
                && mailbox.as_deref() != Some(want.as_str())
            {
                continue;
            }
            *seen += 1;
            let limit = f.limit.unwrap_or(match f.select {
                Select::Nth(_) => 1,
                Select::Probability(_) | Select::Above { .. } => u32::MAX,
            });
            let chosen = match f.select {
                Select::Nth(n) => *seen == n,
                Select::Above { max, per_secs } => {
                    while recent.front().is_some_and(|t| *t <= now - per_secs) {
                        recent.pop_front();
                    }
                    recent.push_back(now);
                    recent.len() > max as usize
                }
                Select::Probability(p) => {
                    let draw = demail_core::seed::derive(
                        self.master_seed,
                        &format!("fault:{}:{}", f.id, *seen),
                    );
                    (draw as f64 / u64::MAX as f64) < p
                }
            };
            if chosen && *hits < limit && first.is_none() {
                *hits += 1;
                first = Some(Hit {
                    id: f.id.clone(),
                    action: f.action.clone(),
                    candidate: *seen,
                });
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(id: &str, select: Select, limit: Option<u32>) -> PlannedFault {
        PlannedFault {
            id: id.into(),
            face: Face::Push,
            point: None,
            action: Action::Duplicate,
            mailbox: Some("a@b.de".into()),
            select,
            limit,
        }
    }

    #[test]
    fn nth_hits_once_and_only_its_mailbox_counts() {
        let plan = FaultPlan::new(vec![fault("x", Select::Nth(2), None)], 7);
        assert!(plan.hit(Face::Push, None, Some("A@b.de"), 0).is_none());
        assert!(plan.hit(Face::Push, None, Some("other@b.de"), 0).is_none());
        assert!(
            plan.hit(Face::Submission, None, Some("a@b.de"), 0)
                .is_none()
        );
        let h = plan.hit(Face::Push, None, Some("a@b.de"), 0).unwrap();
        assert_eq!((h.id.as_str(), h.candidate), ("x", 2));
        assert!(plan.hit(Face::Push, None, Some("a@b.de"), 0).is_none());
    }

    #[test]
    fn probability_is_a_function_of_the_seed_and_honours_the_limit() {
        let hits = |seed: u64, limit: Option<u32>| -> Vec<u32> {
            let plan = FaultPlan::new(vec![fault("p", Select::Probability(0.3), limit)], seed);
            (0..200)
                .filter_map(|_| plan.hit(Face::Push, None, Some("a@b.de"), 0))
                .map(|h| h.candidate)
                .collect()
        };
        let a = hits(1, None);
        assert_eq!(a, hits(1, None), "same seed, same candidates");
        assert_ne!(a, hits(2, None), "another seed, other candidates");
        assert!(
            (30..90).contains(&a.len()),
            "about 30 % of 200: {}",
            a.len()
        );
        assert_eq!(hits(1, Some(3)), a[..3].to_vec());
    }

    #[test]
    fn above_hits_what_exceeds_the_rate_in_a_sliding_window() {
        let plan = FaultPlan::new(
            vec![fault(
                "r",
                Select::Above {
                    max: 2,
                    per_secs: 60,
                },
                None,
            )],
            1,
        );
        let at = |t: i64| plan.hit(Face::Push, None, Some("a@b.de"), t).is_some();
        assert_eq!([at(0), at(10), at(20), at(30)], [false, false, true, true]);
        // At 70 the candidates of 0 and 10 have left the window; 20, 30, 70 are 3 > 2.
        assert!(at(70));
        // At 200 the window holds only this one.
        assert!(!at(200));
    }
}
