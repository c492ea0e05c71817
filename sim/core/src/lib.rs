//! demail-core: what every part of the simulated world shares: virtual time, the trace, seeds,
//! the test PKI, the mutex helper, located input errors and the TLS crypto provider.
//!
//! - [`clock`]: virtual time shared by everything in the world (legal time is virtual time).
//! - [`trace`]: the typed event journal every run writes as `trace.jsonl`.
//! - [`seed`]: derivation of sub-seeds from the one master seed.
//! - [`pki`]: the test PKI (a CA generated at start, leaf certificates for every server).
//! - [`sync`]: the mutex helper every part shares.
//! - [`http_limit`]: the declared-body-size guard of the HTTP faces.
//! - [`refusal`]: the one shape of a refusal (SMTP code, enhanced status, text).

pub mod clock;
pub mod http_limit;
pub mod pki;
pub mod refusal;
pub mod seed;
pub mod sync;
pub mod trace;

pub use refusal::Refusal;

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

/// Installs [`crypto_provider`] as the process-wide rustls crypto provider.
///
/// mailin-embedded builds its rustls `ServerConfig` from the process default, so the default
/// must be set before any TLS server starts (see `../shared/crates.md`, trap 1). Calling this
/// more than once is harmless.
pub fn init_crypto() {
    let _ = crypto_provider().install_default();
}

/// aws-lc-rs with the same cipher suites as its default, but `TLS13_AES_128_GCM_SHA256` put
/// first. Our servers follow the client's order (rustls's default), so this changes only
/// what our own clients ask for: the simulated citizens (lettre takes the process default),
/// the intake's POP3 client and the provider's pushes. A vendor's client keeps its own
/// choice. TR 01201 asks for TLS on every connection to a DMDA and names no suite
/// (IT-Binfra_IO § 2); for cryptography it points to BSI TR-02102, whose part 2 recommends
/// both suites for TLS 1.3 (it is not among ../shared/reference). Why: the TLS 1.3 key
/// schedule hashes with the suite's hash, and SHA-384 runs in software while SHA-256 uses the
/// CPU's SHA extensions; in a profile of the realistic month SHA-384 was 4.5 to 5.3 % of the
/// CPU (docs/serve.md, "The TLS handshake alone").
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    // A stable sort: the other suites keep aws-lc-rs's order.
    provider
        .cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    provider
}
