//! docs/headers.md shows PVD-IO Tabelle 1 as the code holds it (`demail::table1`): this test
//! renders the table from the code and compares it with the block between the markers in the
//! document, so the integrators' reference cannot drift from what the provider does.

use demail_sim::demail::table1::{Origin, Presence, TABLE_1};

const BEGIN: &str = "<!-- table1:begin (generated from sim/wire/src/table1.rs; sim/tests/docs_headers.rs checks it) -->";
const END: &str = "<!-- table1:end -->";

fn presence(p: Presence) -> &'static str {
    match p {
        Presence::Must => "XX",
        Presence::May => "X",
        Presence::MustNot => "–",
    }
}

fn render() -> String {
    let mut out = String::from(
        "| Nr. | field | written by | N | B | M | in the seal's `h=` |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in &TABLE_1 {
        let nr = r.nr.map_or("–".to_string(), |n| n.to_string());
        let origin = match r.origin {
            Origin::Client => "client (kept as written)",
            Origin::Option => "client option, written anew as `yes`/`no` by the provider",
            Origin::Provider => "provider only (a client's copy is removed)",
        };
        let sealed = r.sealed.map_or("–".to_string(), |i| format!("{}.", i + 1));
        out.push_str(&format!(
            "| {nr} | `{}` | {origin} | {} | {} | {} | {sealed} |\n",
            r.spelled,
            presence(r.presence[0]),
            presence(r.presence[1]),
            presence(r.presence[2]),
        ));
    }
    out
}

/// The generated block of docs/headers.md equals the table rendered from the code.
#[test]
fn docs_headers_table_is_the_codes_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/headers.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len() + 1;
    let end = doc.find(END).expect("end marker");
    let expected = render();
    assert!(
        doc[start..end] == expected,
        "docs/headers.md is out of date; the block between the markers should read:\n{expected}"
    );
}
