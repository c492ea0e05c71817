//! docs/certification.md lists every case of the catalogue: the block between its markers is
//! generated from `scenarios/certification/catalogue.toml` (`certify::markdown_cases`) and must
//! equal it. With `DEMAIL_UPDATE_DOCS=1` the test rewrites the block instead.

use std::path::Path;

use demail_harness::certify::{self, catalogue};

const BEGIN: &str = "<!-- cases:begin (generated from scenarios/certification/catalogue.toml; harness/tests/docs_certification.rs checks it) -->";
const END: &str = "<!-- cases:end -->";

#[test]
fn docs_certification_lists_the_catalogue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cat =
        catalogue::load(&root.join(catalogue::DEFAULT_PATH)).unwrap_or_else(|e| panic!("{e}"));
    let expected = certify::markdown_cases(&cat);
    let path = root.join("docs/certification.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len() + 1;
    let end = doc.find(END).expect("end marker");
    if std::env::var_os("DEMAIL_UPDATE_DOCS").is_some() {
        let updated = format!("{}{expected}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        doc[start..end] == expected,
        "docs/certification.md is out of date (DEMAIL_UPDATE_DOCS=1 cargo test --test integration -- docs_certification:: rewrites it); the block between the markers should read:\n{expected}"
    );
}
