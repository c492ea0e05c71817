//! The `demail-testbed` binary; everything lives in the library's [`demail_harness::cli`].

fn main() -> std::process::ExitCode {
    demail_harness::cli::main()
}
