//! Criterion benchmark of one TLS handshake alone (issue #17: "state the handshake cost
//! measured alone"), as the provider's STARTTLS makes it for a simulated citizen: rustls with
//! aws-lc-rs on both ends, the provider's certificate issued by the test PKI (ECDSA P-256),
//! TLS 1.3, client and server in one thread over in-memory buffers (no sockets, no SMTP).
//!
//! - `handshake_tls13_full`: a new client and server session each time (no resumption), the
//!   CPU of both sides of one full handshake.
//! - `handshake_tls13_resumed`: the client keeps its session cache, so after the first
//!   handshake each one resumes with a ticket from the server (rustls's server defaults);
//!   what session resumption for simulated citizens would save.
//! - `handshake_tls13_full_stock_order`: as `handshake_tls13_full`, but the client has
//!   aws-lc-rs's stock suite order, so TLS13_AES_256_GCM_SHA384 is negotiated instead of our
//!   clients' TLS13_AES_128_GCM_SHA256 (`demail_sim::crypto_provider`): what that choice saves.
//!
//! Run with
//! `cargo bench -p demail-sim --bench tls_handshake -- --warm-up-time 1 --measurement-time 3`.
//! docs/serve.md compares the figure with the full STARTTLS + AUTH path of
//! `scripts/bench-smtp.sh`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

/// Moves bytes between the two sessions until neither wants to write.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection) {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let mut moved = false;
        while client.wants_write() {
            buf.clear();
            client.write_tls(&mut buf).unwrap();
            let mut rd = &buf[..];
            while !rd.is_empty() {
                server.read_tls(&mut rd).unwrap();
            }
            server.process_new_packets().unwrap();
            moved = true;
        }
        while server.wants_write() {
            buf.clear();
            server.write_tls(&mut buf).unwrap();
            let mut rd = &buf[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd).unwrap();
            }
            client.process_new_packets().unwrap();
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn handshake(client_config: &Arc<ClientConfig>, server_config: &Arc<ServerConfig>) {
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = ClientConnection::new(client_config.clone(), name).unwrap();
    let mut server = ServerConnection::new(server_config.clone()).unwrap();
    pump(&mut client, &mut server);
    assert!(!client.is_handshaking() && !server.is_handshaking());
    black_box((client, server));
}

fn bench(c: &mut Criterion) {
    demail_sim::init_crypto();
    let pki = demail_sim::pki::TestPki::generate("bench").unwrap();
    let id = pki.issue("localhost", &["localhost", "127.0.0.1"]).unwrap();
    let server_config = Arc::new(
        ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![id.cert_der.clone()],
                PrivateKeyDer::Pkcs8(id.key_der.clone().into()),
            )
            .unwrap(),
    );
    // A client of `provider`'s suite order, with its session cache or without.
    let client = |provider: rustls::crypto::CryptoProvider, resume: bool| {
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(pki.root_store().unwrap())
            .with_no_client_auth();
        if !resume {
            config.resumption = rustls::client::Resumption::disabled();
        }
        Arc::new(config)
    };
    let no_resumption = client(demail_sim::crypto_provider(), false);
    c.bench_function("handshake_tls13_full", |b| {
        b.iter(|| handshake(&no_resumption, &server_config))
    });
    let stock_order = client(rustls::crypto::aws_lc_rs::default_provider(), false);
    c.bench_function("handshake_tls13_full_stock_order", |b| {
        b.iter(|| handshake(&stock_order, &server_config))
    });
    let resuming = client(demail_sim::crypto_provider(), true);
    c.bench_function("handshake_tls13_resumed", |b| {
        b.iter(|| handshake(&resuming, &server_config))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
