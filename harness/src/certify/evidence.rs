//! The digest of a scenario run's evidence: its `trace.jsonl` and every message kept in
//! `messages/` (as it crossed the wire).
//!
//! The digest is the SHA-256 of a manifest with one line per file, `<path> <sha256 hex>\n`,
//! `trace.jsonl` first, then `messages/NNNNNN.eml` in name order (paths relative to the run
//! folder, `/`-separated). Anyone can recompute it from a run folder (docs/certification.md).

use std::path::Path;

use anyhow::{Context, Result};

use super::catalogue::sha256_hex;

/// The evidence digest of the run folder `dir`, and the number of files it covers.
pub fn digest(dir: &Path) -> Result<(String, usize)> {
    let manifest = manifest(dir)?;
    Ok((sha256_hex(manifest.as_bytes()), manifest.lines().count()))
}

/// The manifest the digest is taken over.
pub fn manifest(dir: &Path) -> Result<String> {
    let trace = dir.join("trace.jsonl");
    let bytes = std::fs::read(&trace).with_context(|| format!("reading {}", trace.display()))?;
    let mut out = format!("trace.jsonl {}\n", sha256_hex(&bytes));
    let messages = dir.join("messages");
    if messages.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&messages)
            .with_context(|| format!("reading {}", messages.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let path = messages.join(&n);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            out.push_str(&format!("messages/{n} {}\n", sha256_hex(&bytes)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_message_changes_the_digest() {
        let dir = std::env::temp_dir().join(format!("demail-evidence-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("messages")).unwrap();
        std::fs::write(dir.join("trace.jsonl"), "{}\n").unwrap();
        std::fs::write(dir.join("messages/000001.eml"), "a").unwrap();
        let (a, n) = digest(&dir).unwrap();
        assert_eq!(n, 2);
        std::fs::write(dir.join("messages/000001.eml"), "b").unwrap();
        assert_ne!(digest(&dir).unwrap().0, a);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
