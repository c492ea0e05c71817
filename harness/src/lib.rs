//! demail-harness: scenarios, the runner, checks, golden files and reports.
//!
//! Map of the crate:
//! - [`scenario`]: the TOML scenario format, loading and located errors.
//! - [`runner`]: builds the embedded world and drives it on virtual time.
//! - [`model`]: what runner and judge share (sends, observations, verdicts); a leaf.
//! - [`check`]: the expectation kinds, one file each (keys, validation, judging), and the
//!   judge that decides them against what crossed the wire.
//! - [`located`]: errors at a byte span of a TOML text, and value readers.
//! - [`rules`]: named legal deadlines with their sources.
//! - [`regime`]: which legal regime holds on a date.
//! - [`golden`]: golden files in insta's snapshot format.
//! - [`report`]: the run summary.
//! - [`reports`]: report files for people and CI (JSON, JUnit XML, Markdown, HTML with charts).
//! - [`cli`]: the `demail-testbed` command line.
//! - [`calendar_cmd`]: the `holidays` and `deadline` commands.
//! - [`inspect_cmd`]: the `inspect` command.
//! - [`population_cmd`]: the `population` command.
//! - [`serve_cmd`]: the `serve` command.

pub mod check;
pub mod cli;
pub mod cmd;
pub mod located;
pub mod model;
pub mod report;
pub mod run;
pub mod scenario;
