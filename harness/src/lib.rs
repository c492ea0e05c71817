//! demail-harness: scenarios, the runner, checks, golden files and reports.
//!
//! Map of the crate, in the order of the pipeline:
//! - [`scenario`]: the TOML scenario format, loading and located errors.
//! - [`run`]: drives the world (`demail_sim::world`) on virtual time for a scenario; the mock
//!   DMS and the legal regime of the trace header live there too.
//! - [`check`]: the expectation kinds, one file each (keys, validation, judging), the judge
//!   that decides them against what crossed the wire, and the named legal deadlines (`due`).
//! - [`report`]: the run summary, golden files in insta's snapshot format, and report files for
//!   people and CI (JSON, JUnit XML, Markdown, HTML with charts).
//! - [`model`]: what runner and judge share (sends, observations, verdicts); a leaf.
//! - [`located`]: errors at a byte span of a TOML text, and value readers; a leaf.
//! - [`cli`]: the `demail-testbed` command line (`run`, `check`).
//! - [`certify`]: the conformance catalogue, certificates and their signature (issue #16).
//! - [`load`]: `load` and `merge`: load profiles on the wall clock, thresholds, shards.
//! - [`cmd`]: the other subcommands (`holidays`/`deadline`, `inspect`, `population`, `serve`).

pub mod certify;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod load;
pub mod located;
pub mod model;
pub mod report;
pub mod run;
pub mod scenario;
pub mod target;
