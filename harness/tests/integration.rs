//! The integration tests of demail-harness, one module per file under tests/, built as one
//! binary. Run one file's tests with `cargo test -p demail-harness --test integration -- cli::`.

mod bin_common;
mod cdp_common;
mod serve_common;

mod browser;
mod certify;
mod cli;
mod deploy;
mod docs_certification;
mod flaws;
mod fuzz_files;
mod golden;
mod load;
mod load_browser;
mod programmed;
mod push_stock;
mod reports;
mod serve;
mod target;
mod tidy;
mod ui_browser;
mod view;
mod view_browser;
