//! Fuzzing the file readers on the stable toolchain (issue #18, docs/reliability.md): the
//! shipped scenario files, target files and the certification catalogue, changed by seeded
//! mutations (bytes flipped, inserted, deleted, lines doubled or dropped, the file cut short,
//! NUL and 8-bit bytes), are read again. The property: no mutation makes a reader panic, and
//! every error is located inside the file (line 1 to its last line + 1, column ≥ 1) with a
//! message.
//!
//! `FUZZ_ITERATIONS` sets the mutations per file (default 40 in CI) and `FUZZ_SEED` the seed;
//! `scripts/fuzz.sh` runs them for a set time with changing seeds.

use std::path::{Path, PathBuf};

use demail_harness::located::FileError;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

/// The start and end (after its LF) of the line holding byte `at`.
fn line_around(bytes: &[u8], at: usize) -> (usize, usize) {
    let start = bytes[..at]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |p| p + 1);
    let end = bytes[at..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(bytes.len(), |p| at + p + 1);
    (start, end)
}

/// A seeded mutation of `text`.
fn mutate(text: &str, seed: u64, n: u64) -> String {
    let r = |k: u64| demail_sim::seed::derive(seed, &format!("fuzz-files:{n}:{k}"));
    let mut bytes = text.as_bytes().to_vec();
    for k in 0..1 + r(0) % 4 {
        if bytes.is_empty() {
            break;
        }
        let at = (r(10 + k) % bytes.len() as u64) as usize;
        const NASTY: &[u8] = b"\0\r\n\"'[]{}=#\\\xff\xc3ta1.-";
        let b = NASTY[(r(20 + k) % NASTY.len() as u64) as usize];
        match r(30 + k) % 7 {
            0 => bytes[at] = b,
            1 => bytes.insert(at, b),
            2 => {
                bytes.remove(at);
            }
            3 => bytes.truncate(at),
            4 => {
                // Double the line at `at`.
                let (start, end) = line_around(&bytes, at);
                let line = bytes[start..end].to_vec();
                bytes.splice(end..end, line);
            }
            5 => {
                // Drop the line at `at`.
                let (start, end) = line_around(&bytes, at);
                bytes.drain(start..end);
            }
            _ => bytes
                .splice(at..at, "9".repeat(40).into_bytes())
                .for_each(drop),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// An error is inside the (mutated) file and says something.
fn located_inside(e: &FileError, text: &str, what: &str) -> Result<(), String> {
    let lines = text.lines().count().max(1) + 1;
    if e.line < 1 || e.line > lines || e.column < 1 || e.message.trim().is_empty() {
        return Err(format!(
            "{what}: error outside the file ({lines} lines): {e}"
        ));
    }
    Ok(())
}

#[test]
fn mutated_files_are_refused_with_located_errors_and_never_panic() {
    let iterations = env("FUZZ_ITERATIONS", 40);
    let seed = env("FUZZ_SEED", 18);
    let root = workspace();
    let mut scenarios = Vec::new();
    files(&root.join("scenarios"), &mut scenarios);
    let mut targets = Vec::new();
    files(&root.join("targets"), &mut targets);
    let mut problems = Vec::new();
    let (mut tried, mut refused) = (0, 0);
    for path in scenarios.iter().chain(&targets) {
        let text = std::fs::read_to_string(path).unwrap();
        let is_catalogue = path.file_name().is_some_and(|n| n == "catalogue.toml");
        let is_target = targets.contains(path);
        for n in 0..iterations {
            let changed = mutate(&text, seed, n);
            tried += 1;
            let what = format!("{} mutation {n} (FUZZ_SEED={seed})", path.display());
            let result = std::panic::catch_unwind(|| {
                let dir = path.parent().unwrap();
                if is_catalogue {
                    demail_harness::certify::catalogue::parse(&changed, path, dir)
                        .err()
                        .map(|e| located_inside(&e, &changed, &what))
                } else if is_target {
                    demail_harness::target::Target::parse(&changed, path)
                        .err()
                        .map(|e| located_inside(&e, &changed, &what))
                } else {
                    demail_harness::scenario::parse(&changed, path, &root)
                        .err()
                        .map(|e| located_inside(&e, &changed, &what))
                }
            });
            match result {
                Err(_) => problems.push(format!("{what}: panicked")),
                Ok(Some(Err(p))) => problems.push(p),
                Ok(Some(Ok(()))) => refused += 1,
                Ok(None) => {}
            }
        }
    }
    println!(
        "file fuzzing, seed {seed}: {tried} mutated files ({} scenario, target and catalogue files), {refused} refused with a located error, {} problems",
        scenarios.len() + targets.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
