//! Every scenario under `scenarios/` runs against the embedded world and must match its
//! golden files under `golden/` (insta snapshots; `cargo insta review` updates them), and a
//! scenario run twice with the same seed must give a byte-identical trace.

use std::path::{Path, PathBuf};

use demail_harness::report::golden::{self, Kind};
use demail_harness::run::{self, RunOptions};
use demail_harness::scenario;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run_once(s: &scenario::Scenario, out: &Path) -> run::RunResult {
    run_with(s, RunOptions::new(out.to_path_buf()))
}

fn run_with(s: &scenario::Scenario, opts: RunOptions) -> run::RunResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run::run(s, &opts))
        .unwrap_or_else(|e| panic!("{}: run failed: {e:#}", s.name))
}

fn out_dir(label: &str) -> PathBuf {
    std::env::temp_dir().join(format!("demail-test-{label}-{}", std::process::id()))
}

/// Each shipped scenario passes its checks and matches its golden trace and summary, judged
/// with only the latest event in memory: the checks and the summary read the rest back
/// from `trace.jsonl`, as a long run's do (`demail-testbed run` in CI judges the same
/// scenarios from memory, its default window being longer than any of them).
#[test]
fn scenarios_match_their_golden_files() {
    let root = workspace().join("scenarios");
    let files = scenario::discover(&root).unwrap();
    assert!(
        !files.is_empty(),
        "no scenarios found under {}",
        root.display()
    );
    for f in files {
        let s = scenario::load(&f, &root).unwrap_or_else(|e| panic!("{e}"));
        let mut opts = RunOptions::new(out_dir(&s.name.replace('/', "-")));
        opts.trace_window = 1;
        let result = run_with(&s, opts);
        for c in &result.checks {
            assert!(c.passed, "{}: check {} failed: {}", s.name, c.id, c.detail);
        }
        let redact = s.redactions();
        let text = result.trace_text().unwrap();
        let trace = golden::redact(&text, &redact);
        for (kind, content) in [
            (Kind::Trace, &*trace),
            (Kind::Summary, result.summary.as_str()),
        ] {
            let path = golden::path(&workspace().join("golden"), &s.name, kind);
            let dir = path.parent().unwrap().to_path_buf();
            let name = path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".snap")
                .to_string();
            insta::with_settings!({
                snapshot_path => dir,
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(name, content);
            });
        }
    }
}

/// Same scenario, same seed: the two traces are byte-identical (DESIGN.md invariant).
#[test]
fn same_seed_gives_identical_trace() {
    let root = workspace().join("scenarios");
    let path = root.join("gewerbe/anzeige-absenderbestaetigt.toml");
    let s = scenario::load(&path, &root).unwrap();
    let a = run_once(&s, &out_dir("det-a"));
    let b = run_once(&s, &out_dir("det-b"));
    let (a, b) = (a.trace_text().unwrap(), b.trace_text().unwrap());
    assert!(a.lines().count() > 5);
    assert_eq!(a.lines().count(), b.lines().count());
    if let Some((i, (x, y))) = a
        .lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
    {
        panic!(
            "traces diverge at line {}:\n  first:  {x}\n  second: {y}",
            i + 1
        );
    }
    assert_eq!(a, b);
}
