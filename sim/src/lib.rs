//! demail-sim: the simulated De-Mail world.
//!
//! Map of the crate:
//! - [`clock`]: virtual time shared by everything in the world (legal time is virtual time).
//! - [`trace`]: the typed event journal every run writes as `trace.jsonl`.
//! - [`seed`]: derivation of sub-seeds from the one master seed.
//! - [`pki`]: the test PKI (a CA generated at start, leaf certificates for every server).
//! - [`demail`]: the De-Mail wire profile (BSI TR 01201 PVD-IO): header names, options,
//!   message types, system addresses, confirmations, message composition.
//! - [`law`]: the legal calendar: holidays of all Länder, Fristberechnung, fiction days,
//!   legal regimes by date, named procedure rules with sources (pure functions).
//! - [`provider`]: the simulated accredited De-Mail provider (DMDA) with its SMTP face.
//! - [`intake`]: the reference municipal intake, a system under test that talks to the
//!   provider only over SMTP and HTTP on sockets.
//! - [`population`]: a seeded fake population of citizens and businesses (streamed).
//! - [`http_limit`]: the declared-body-size guard of the HTTP faces.

pub mod clock;
pub mod demail;
pub mod http_limit;
pub mod intake;
pub mod law;
pub mod pki;
pub mod population;
pub mod provider;
pub mod seed;
pub mod trace;

/// 1-based line and column (in characters) of a byte offset into `text`, for the
/// `FILE:LINE:COLUMN` of input errors (scenario and intake configuration files). An offset
/// past the end or inside a character is clamped to the text.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Installs aws-lc-rs as the process-wide rustls crypto provider.
///
/// mailin-embedded builds its rustls `ServerConfig` from the process default, so the default
/// must be set before any TLS server starts (see `../shared/crates.md`, trap 1). Calling this
/// more than once is harmless.
pub fn init_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
