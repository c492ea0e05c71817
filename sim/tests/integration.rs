//! The integration tests of demail-sim, one module per file under tests/, built as one binary.
//! Run one file's tests with `cargo test -p demail-sim --test integration -- smtp_faces::`.

mod common;

mod calendar;
mod closed_account;
mod delivery_retry;
mod dms;
mod docs_headers;
mod docs_intake;
mod fuzz_sessions;
mod fuzz_wire;
mod gateway;
mod intake_http;
mod pop3;
mod population;
mod received;
mod relay;
mod smtp_faces;
mod trusted_submission;
mod ui;
