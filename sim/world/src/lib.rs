//! demail-world: the simulated world a scenario runs in, as the runner sees it: the providers
//! and their settle signal, the system under test behind one interface, the citizens' SMTP
//! client and the test-clock link. The harness's runner is the event loop on top of it.
//!
//! - [`World`]: the providers of a run; which one hosts an address.
//! - [`SystemUnderTest`]: what the runner needs of the intake, whichever it is: where to tell
//!   the time, where its events are, where pushes go. The reference intake
//!   ([`demail_intake::ReferenceIntake`]) implements it; an external system (a target file,
//!   issue [3/9]) is the second implementation.
//! - [`settle`]: waiting for idle on the providers' `Activity` signals; phase timings.
//! - [`clock_link`]: `POST /testbed/clock` and `GET /testbed/events`.
//! - [`submit`]: the citizens' SMTP client.
//!
//! Depends on the provider and the intake crates; neither depends on it.

pub mod clock_link;
pub mod settle;
pub mod submit;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use demail_core::clock::VirtualClock;
use demail_core::pki::TestPki;
use demail_core::trace::Trace;

use demail_intake::ReferenceIntake;
use demail_provider::{AccountConfig, Provider, ProviderConfig, WireLog};

/// What the runner needs of the system under test, by the levels of the contract
/// (docs/sut.md): pushes go to its SMTP listener unless it pulls (level 1); the runner tells
/// it the virtual time (level 2) and reads its events (level 3). The reference intake in the
/// runner's process and an external system of a target file (the harness's `target`) both
/// implement it.
pub trait SystemUnderTest {
    /// `POST` URL of its test clock (`…/testbed/clock`); `None` for a wire-only system.
    fn clock_url(&self) -> Option<String>;
    /// `GET` URL of its events (`…/testbed/events`); `None` below level 3.
    fn events_url(&self) -> Option<String>;
    /// Where the provider pushes its mailboxes' messages, if it takes pushes.
    fn push_addr(&self) -> Option<SocketAddr>;
}

impl SystemUnderTest for ReferenceIntake {
    fn clock_url(&self) -> Option<String> {
        Some(format!("{}/testbed/clock", self.base_url()))
    }
    fn events_url(&self) -> Option<String> {
        Some(format!("{}/testbed/events", self.base_url()))
    }
    fn push_addr(&self) -> Option<SocketAddr> {
        Some(self.smtp_addr())
    }
}

/// Fixed listen addresses of a provider (`None` each: a free port on 127.0.0.1), for a
/// system under test that must know them before it starts (a target file).
#[derive(Clone, Copy, Debug, Default)]
pub struct Listen {
    pub smtp: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
}

/// The providers of one run.
pub struct World<'a> {
    pub providers: &'a [Provider],
}

impl World<'_> {
    /// The provider hosting `address`'s domain.
    pub fn provider_of(&self, address: &str) -> Option<&Provider> {
        self.provider_index(address).map(|i| &self.providers[i])
    }

    /// The position of the provider hosting `address`'s domain.
    pub fn provider_index(&self, address: &str) -> Option<usize> {
        let domain = demail_wire::domain_of(address)?;
        // The most specific match wins (an institution's subdomain may be hosted elsewhere).
        self.providers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.domains()
                    .iter()
                    .filter(|d| demail_provider::domain_matches(&domain, d))
                    .map(|d| d.len())
                    .max()
                    .map(|len| (len, i))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, i)| i)
    }
}

/// One provider of a world: who it is, which domains it hosts, whether peers trust it, and its
/// accounts.
#[derive(Clone, Debug)]
pub struct ProviderPlan {
    pub id: String,
    pub name: String,
    pub domain: String,
    /// Further domains it hosts (institution subdomains).
    pub hosts: Vec<String>,
    /// Whether it is on the trust list of the world's providers (IT-BInfra-IO §7).
    pub trusted: bool,
    pub accounts: Vec<AccountConfig>,
    pub listen: Listen,
}

/// Starts the providers of `plans` with their stores (`<data_dir>/provider-<id>.sqlite`) and
/// one wire log, routes each one's mail for the others' domains to their relay faces, and
/// returns them with the task of their one delivery worker, which keeps cross-provider
/// hand-overs in causal order (ARCHITECTURE.md, "one delivery at a time per world").
pub async fn start_providers(
    plans: Vec<ProviderPlan>,
    data_dir: &Path,
    wire_log: Arc<WireLog>,
    clock: &VirtualClock,
    trace: &Trace,
    pki: &TestPki,
) -> Result<(Vec<Provider>, tokio::task::JoinHandle<()>)> {
    let trusted_peers: Vec<String> = plans
        .iter()
        .filter(|p| p.trusted)
        .map(|p| p.domain.clone())
        .collect();
    let (hub, hub_task) = demail_provider::delivery::DeliveryHub::start();
    let mut providers: Vec<Provider> = Vec::new();
    for plan in plans {
        let provider = Provider::start(
            ProviderConfig {
                database: Some(data_dir.join(format!("provider-{}.sqlite", plan.id))),
                // A simulated world's store: a crash makes the run worthless anyway.
                durability: demail_provider::store::Durability::Scratch,
                id: plan.id,
                name: plan.name,
                domain: plan.domain,
                hosted_domains: plan.hosts,
                accounts: plan.accounts,
                message_dir: None,
                wire_log: Some(wire_log.clone()),
                smtp_listen: plan.listen.smtp,
                http_listen: plan.listen.http,
                relay_listen: None,
                pop3_listen: plan.listen.pop3,
                pop3s_listen: plan.listen.pop3s,
                delivery_hub: Some(hub.clone()),
                trusted_peers: trusted_peers.clone(),
            },
            clock.clone(),
            trace.clone(),
            pki,
        )
        .await?;
        providers.push(provider);
    }
    demail_provider::connect_all(&providers);
    Ok((providers, hub_task))
}
