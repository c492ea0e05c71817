//! demail-sim: the simulated De-Mail world, one crate that re-exports its parts so that the
//! harness and the tests name them in one place (`demail_sim::provider::…`).
//!
//! The parts are crates of their own, so that the compiler keeps the architecture's rules
//! (ARCHITECTURE.md, "Crate graph"):
//! - `demail-core` ([`clock`], [`trace`], [`seed`], [`pki`], [`sync`], [`line_col`],
//!   [`init_crypto`]): what every part shares.
//! - `demail-wire` ([`demail`]): the De-Mail wire profile (BSI TR 01201 PVD-IO): header names,
//!   options, message types, system addresses, confirmations, sealing; no I/O.
//! - `demail-calendar` ([`law`]): the legal calendar: holidays of all Länder, Fristberechnung,
//!   fiction days, legal regimes by date, named procedure rules with sources; pure functions,
//!   depends on nothing of ours.
//! - `demail-provider` ([`provider`]): the simulated accredited De-Mail provider (DMDA).
//! - `demail-intake` ([`intake`]): the reference municipal intake, a system under test that
//!   talks to the provider only over SMTP and HTTP on sockets; it does not depend on the
//!   provider crate.
//! - `demail-population` ([`population`]): a seeded fake population of citizens and
//!   businesses (streamed).
//! - `demail-world` ([`world`]): the world as the runner sees it: the providers and their
//!   settle signal, the system under test behind one interface, the citizens' SMTP client.

pub use demail_calendar as law;
pub use demail_core::{
    clock, crypto_provider, http_limit, init_crypto, line_col, pki, refusal, seed, sync, trace,
};
pub use demail_intake as intake;
pub use demail_population as population;
pub use demail_provider as provider;
pub use demail_wire as demail;
pub use demail_world as world;
