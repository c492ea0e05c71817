//! The subcommands besides `run` and `check` (which live in `cli.rs` with the pipeline):
//! `holidays`/`deadline` ([`calendar`]), `inspect`, `intake` (the reference intake as a process), `pki`, `population`, `serve`, `certify` and `verify-cert`.

pub mod calendar;
pub mod certify;
pub mod inspect;
pub mod intake;
pub mod pki;
pub mod population;
pub mod serve;
pub mod serve_push;
pub mod verify_cert;
pub mod view;
