//! The subcommands besides `run` and `check` (which live in `cli.rs` with the pipeline):
//! `holidays`/`deadline` ([`calendar`]), `inspect`, `population` and `serve`.

pub mod calendar;
pub mod inspect;
pub mod population;
pub mod serve;
