//! Property-based fuzzing on the stable toolchain (issue #18, docs/reliability.md) of the
//! readers every face shares: the header reader (`RawMessage` and its accessors), the seal
//! verification (`integrity::verify_with`) on arbitrary bytes and on mutated sealed messages,
//! the De-Mail view of `inspect`, the address syntax, the `Received` reader and the option
//! values. The property: no input makes them panic, and a sealed message whose bytes changed
//! inside its sealed part does not verify as unchanged.
//!
//! `FUZZ_CASES` sets the cases per property (default 256 in CI); `scripts/fuzz.sh` runs them
//! for a set time with changing seeds (`PROPTEST_RNG_SEED`).

use demail_sim::demail::headers::RawMessage;
use demail_sim::demail::integrity::{self, HashAlg, Signer, VerifyOptions};
use demail_sim::demail::{address, inspect, parse_option, received};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

/// Bytes mail parsers meet: mostly header-like text, with CR, LF, NUL, 8-bit and colons.
fn mailish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(b"abcXYZ-: \t;=<>@.,".to_vec()),
            2 => Just(b'\r'),
            2 => Just(b'\n'),
            1 => Just(0u8),
            1 => any::<u8>(),
        ],
        0..2048,
    )
}

/// A message sealed by a provider of a fresh test PKI, and that PKI's CA (DER).
fn sealed() -> (Vec<u8>, Vec<u8>) {
    demail_sim::init_crypto();
    let pki = demail_sim::pki::TestPki::generate("fuzz").unwrap();
    let id = pki
        .issue("dmda-a.de-mail.de", &["dmda-a.de-mail.de"])
        .unwrap();
    let signer = Signer::ecdsa_p256_from_pkcs8_der(&id.key_der, id.cert_der.to_vec()).unwrap();
    let mut msg = RawMessage::parse(
        b"From: <erika.mustermann@dmda-a.de-mail.de>\r\nTo: <gewerbeangelegenheiten@dresden.de-mail.de>\r\nSubject: Gewerbeanmeldung\r\nX-de-mail-sender: erika.mustermann@dmda-a.de-mail.de\r\nX-de-mail-message-id: m000001@dmda-a.de-mail.de\r\n\r\nHiermit zeige ich den Beginn meines Gewerbes an.\r\n",
    )
    .unwrap();
    integrity::seal(&mut msg, HashAlg::Sha256, Some(&signer)).unwrap();
    (msg.to_bytes(), pki.ca_der().to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any bytes: the header reader, its accessors, the seal check and inspect never panic.
    #[test]
    fn readers_take_any_bytes(bytes in mailish()) {
        if let Ok(msg) = RawMessage::parse(&bytes) {
            let _ = msg.subject();
            let _ = msg.addresses("to");
            let _ = msg.addresses("from");
            let _ = msg.repeated(&["from", "subject", "x-de-mail-sender"]);
            let _ = msg.unknown_demail_fields();
            let _ = msg.to_bytes();
            let _ = integrity::verify(&msg);
            let _ = inspect::inspect(&msg, &bytes, None);
            let _ = received::eingang(&msg, "smtp.dmda-a.de-mail.de");
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = address::validate(&text);
        let _ = received::read(&text);
        let _ = parse_option("x-de-mail-authoritative", Some(&text));
        let _ = demail_sim::demail::normalize_address(&text);
        let _ = demail_sim::demail::domain_of(&text);
    }

    /// A sealed message with one byte of its body changed (not whitespace, which relaxed
    /// canonicalisation folds, RFC 6376 §3.4.4), or its body cut short, never
    /// verifies as valid; no mutation makes the verification panic.
    #[test]
    fn a_changed_sealed_message_does_not_verify(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let (bytes, ca) = sealed();
        let anchors = [ca];
        let opts = VerifyOptions { trusted_cas: Some(&anchors), at_unix: None };
        let original = RawMessage::parse(&bytes).unwrap();
        prop_assert!(integrity::verify_with(&original, &opts).is_valid());
        // The body, whose hash the seal carries (bh=).
        let body_start = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let i = body_start + at.index(bytes.len() - body_start);
        let mut changed = bytes.clone();
        if cut {
            changed.truncate(i);
        } else {
            prop_assume!(changed[i] != byte && byte != b'\r' && byte != b'\n' && changed[i] != b'\r' && changed[i] != b'\n');
            prop_assume!(!(changed[i] == b' ' || byte == b' ' || changed[i] == b'\t' || byte == b'\t'));
            changed[i] = byte;
        }
        prop_assume!(changed != bytes);
        if let Ok(msg) = RawMessage::parse(&changed) {
            let verdict = integrity::verify_with(&msg, &opts);
            // A body cut only at its trailing empty lines is the same body (DKIM relaxed
            // canonicalisation ignores them); anything else must fail.
            let same_body = cut && bytes[i..].iter().all(|b| *b == b'\r' || *b == b'\n');
            prop_assert!(same_body || !verdict.is_valid(), "changed at {i}: {verdict}");
        }
    }
}
