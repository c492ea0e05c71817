//! `certificate.html`: a printable page of a certificate, saying what it proves and what it
//! does not. Self-contained, no scripts; the signed statement is `certificate.jws`.

use super::Certificate;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for `cert`.
pub fn render(cert: &Certificate) -> String {
    let mut rows = String::new();
    for c in &cert.cases {
        let evidence = c.evidence.as_ref().map_or_else(String::new, |e| {
            format!("{}<br><code>{}</code>", esc(&e.run), esc(&e.sha256))
        });
        rows.push_str(&format!(
            "<tr class=\"{v}\"><td>{id}</td><td>{title}</td><td>{sev}</td><td>{lvl}</td><td><b>{v}</b><br>{detail}</td><td>{src}</td><td class=\"ev\">{evidence}</td></tr>\n",
            v = esc(&c.verdict),
            id = esc(&c.id),
            title = esc(&c.title),
            sev = esc(&c.severity),
            lvl = c.level,
            detail = esc(&c.detail),
            src = esc(&c.sources.join("; ")),
        ));
    }
    let t = &cert.totals;
    format!(
        r#"<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Certificate {profile} — {system}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.85em; }}
td, th {{ border: 1px solid #999; padding: 0.3em; vertical-align: top; text-align: left; }}
tr.pass td:nth-child(5) {{ background: #e3f5e3; }} tr.fail td:nth-child(5) {{ background: #f8d8d8; }}
tr.skipped td:nth-child(5), tr.planned td:nth-child(5) {{ background: #eee; }}
.ev {{ font-size: 0.8em; word-break: break-all; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>De-Mail conformance certificate: {verdict}</h1>
<p><b>{system}</b> {sysver} ({target}, level {level}) against profile <b>{profile}</b> ({ptitle})
of catalogue <b>{cat}</b> version {catver} (SHA-256 <code>{catsha}</code>).</p>
<p>Test-bed demail-testbed {tbver}, commit <code>{commit}</code>. Issued {issued} (wall clock);
virtual period {from} – {until}. Signing key <code>{key}</code>.</p>
<p>Cases: {cases}; passed {passed}, failed {failed}, skipped {skipped} (not passed), planned {planned}
(not run); must-cases passed {mp} of {mt}.</p>
<h2>What this certificate proves</h2>
<ul>
<li>That the named system, in the run recorded here, showed the expected behaviour of each case
marked <i>pass</i>, in scenarios on the test-bed's virtual time against its simulated De-Mail
provider and test PKI, with the seeds listed in <code>certificate.json</code>.</li>
<li>That the run's evidence (trace and every message as it crossed the wire) had the SHA-256
digests listed; <code>demail-testbed verify-cert certificate.jws --run DIR</code> checks them.</li>
<li>That whoever holds the signing key above issued this statement unchanged.</li>
</ul>
<h2>What it does not prove</h2>
<ul>
<li>No accreditation under the De-Mail-G and no BSI certification: the provider is simulated,
the PKI is a test PKI, the catalogue is this project's reading of the law and TR 01201.</li>
<li>Nothing about behaviour outside the scenarios, with other seeds, configurations or dates,
or against a real De-Mail provider; nothing about cases <i>skipped</i> or <i>planned</i>.</li>
<li>Nothing about who ran the test unless the signing key is known to belong to them.</li>
</ul>
<h2>Cases</h2>
<table><tr><th>id</th><th>title</th><th>severity</th><th>level</th><th>verdict</th><th>sources</th><th>evidence</th></tr>
{rows}</table>
</body></html>
"#,
        verdict = esc(&cert.verdict),
        system = esc(&cert.system.name),
        sysver = esc(&cert.system.version),
        target = esc(&cert.system.target),
        level = cert.system.level,
        profile = esc(&cert.profile.id),
        ptitle = esc(&cert.profile.title),
        cat = esc(&cert.catalogue.id),
        catver = esc(&cert.catalogue.version),
        catsha = esc(&cert.catalogue.sha256),
        tbver = esc(&cert.testbed.version),
        commit = esc(&cert.testbed.commit),
        issued = esc(&cert.issued_at),
        from = esc(cert.virtual_period.from.as_deref().unwrap_or("–")),
        until = esc(cert.virtual_period.until.as_deref().unwrap_or("–")),
        key = esc(&cert.key),
        cases = t.cases,
        passed = t.passed,
        failed = t.failed,
        skipped = t.skipped,
        planned = t.planned,
        mp = t.must_passed,
        mt = t.must_total,
    )
}
