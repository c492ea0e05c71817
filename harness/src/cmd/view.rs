//! The `view` command: the run view of the web UI (docs/ui.md, "Run view"). It serves a run
//! folder (`runs/` by default, what `run --out` wrote) to a browser on this machine: the
//! scenarios with their verdicts, per scenario its checks with verdicts and evidence and its
//! trace as a timeline on virtual time, and every message the trace names opened in the same
//! De-Mail view as `serve --ui` (header panel, seal verdict against the run's test CA,
//! Acknowledge-Message, text).
//!
//! It reads the folder at every request, and the runner writes each scenario's trace event by
//! event, so a run in progress shows what has happened so far: the index and a scenario's page
//! follow the run without a reload (the provider UI's `live.js` asks `/changes…` for a stamp of
//! the files every two seconds and swaps the page's `<main>` when it moves). Read-only; answers
//! only a loopback peer with a loopback `Host` (as `serve --ui`); a path can name only files
//! below the run folder: scenario folders, `messages/NNNNNN.eml` and the PDF part of such a
//! message, nothing else.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use demail_sim::provider::ui::html::esc;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value;

/// Arguments of `view`.
#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// The run folder (`run --out`) [default: runs].
    #[arg(default_value = "runs")]
    pub runs: PathBuf,
    /// Where to listen; the view answers only on loopback.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
}

/// The Content-Security-Policy of the run view: this origin's stylesheet and live script (which
/// may ask this origin for the change stamp), frames of this origin (the PDF of a
/// confirmation), nothing else.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// At most this many trace events on one timeline page (`?from=N` pages on).
pub const TIMELINE_PAGE: usize = 1000;

/// `demail-testbed view`.
pub fn run(args: &ViewArgs) -> ExitCode {
    let root = match args.runs.canonicalize() {
        Ok(r) if r.is_dir() => r,
        Ok(r) => {
            eprintln!("error: {} is not a folder", r.display());
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "error: the run folder {}: {e} (run scenarios first: demail-testbed run --out {})",
                args.runs.display(),
                args.runs.display()
            );
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let listen = args.listen;
    match rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        let url = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            format!("http://127.0.0.1:{}/", addr.port())
        } else {
            format!("(unreachable: the view answers only on loopback, not on {addr})")
        };
        println!(
            "run view of {} at {url}  (loopback only, read-only; docs/ui.md)",
            root.display()
        );
        println!("Ctrl-C stops");
        serve(listener, root).await
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Serves the run view of `root` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, root: PathBuf) -> Result<()> {
    let app = router(Arc::new(root)).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the run view's HTTP server")
}

type Root = Arc<PathBuf>;

fn router(root: Root) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/run/{*name}", get(scenario))
        .route("/message/{*path}", get(message))
        .route("/pdf/{*path}", get(pdf))
        .route("/changes", get(index_stamp))
        .route("/changes/{*name}", get(scenario_stamp))
        .route(
            "/assets/live.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    demail_sim::provider::ui::LIVE_JS,
                )
            }),
        )
        .route(
            "/assets/ui.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    demail_sim::provider::ui::CSS,
                )
            }),
        )
        .fallback(|| async { page_error(StatusCode::NOT_FOUND, "No such page.") })
        .layer(axum::middleware::from_fn(guard))
        .with_state(root)
}

/// Loopback peer and loopback `Host` only; security headers on every answer.
async fn guard(request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let mut r = if !peer.is_some_and(|p| p.ip().is_loopback()) {
        (
            StatusCode::FORBIDDEN,
            "The run view answers only on the loopback interface (docs/ui.md).",
        )
            .into_response()
    } else if !demail_sim::provider::ui::is_loopback_host(host) {
        (
            StatusCode::FORBIDDEN,
            "The run view answers only to Host localhost, 127.0.0.1 or [::1] (docs/ui.md).",
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let h = r.headers_mut();
    // The run view's own policy (unless the answer set one: a PDF to be shown in a frame).
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    demail_sim::provider::ui::secure(h);
    r
}

/// The page frame of the run view.
fn frame(title: &str, main: &str) -> String {
    frame_live(title, main, None)
}

/// The page frame of a page that follows the run: `live` is the change-stamp URL and the stamp
/// the page was rendered at; the live script swaps `<main>` when the stamp moves.
fn frame_live(title: &str, main: &str, live: Option<(&str, &str)>) -> String {
    let (script, main_attrs, status) = match live {
        Some((url, stamp)) => (
            "<script src=\"/assets/live.js\" defer></script>\n",
            format!(
                " id=\"live\" data-changes=\"{}\" data-stamp=\"{}\"",
                esc(url),
                esc(stamp)
            ),
            "\n<span id=\"live-status\" class=\"live\" title=\"follows the run without reload\">live</span>",
        ),
        None => ("", String::new(), ""),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · demail-testbed run view</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/ui.css\">\n{script}</head>\n<body>\n\
         <header><a class=\"brand\" href=\"/\">demail-testbed</a> <span class=\"provider\">Lauf (run view)</span>\n\
         <nav><a href=\"/\">Szenarien (scenarios)</a></nav>{status}</header>\n\
         <main{main_attrs}>\n{main}\n</main>\n</body>\n</html>\n",
        title = esc(title),
    )
}

/// The length of a file, 0 when it is missing: the stamps are made of these.
fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The index's change stamp: the run's report and every scenario folder's trace length.
fn index_stamp_of(root: &Path) -> String {
    let mut stamp = format!("r{}", file_len(&root.join("report.json")));
    for name in scenario_folders(root) {
        let _ = write!(
            stamp,
            "|{name}:{}",
            file_len(&root.join(&name).join("trace.jsonl"))
        );
    }
    // Long runs have many folders: a digest keeps the stamp short.
    format!("{:016x}", demail_sim::seed::derive(0, &stamp))
}

/// A scenario page's change stamp: its trace's length and the run's report.
fn scenario_stamp_of(root: &Path, dir: &Path) -> String {
    format!(
        "t{}-r{}",
        file_len(&dir.join("trace.jsonl")),
        file_len(&root.join("report.json"))
    )
}

/// `GET /changes`: the index's change stamp (text).
async fn index_stamp(State(root): State<Root>) -> Response {
    stamp_answer(index_stamp_of(&root))
}

/// `GET /changes/{name}`: a scenario page's change stamp (text).
async fn scenario_stamp(
    State(root): State<Root>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match scenario_dir(&root, &name) {
        Some(dir) => stamp_answer(scenario_stamp_of(&root, &dir)),
        None => page_error(
            StatusCode::NOT_FOUND,
            "No such scenario folder in this run.",
        ),
    }
}

fn stamp_answer(stamp: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        stamp,
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn page_error(status: StatusCode, text: &str) -> Response {
    let main = format!(
        "<h1>{} {}</h1>\n<p>{}</p>\n<p><a href=\"/\">Szenarien (scenarios)</a></p>",
        status.as_u16(),
        esc(status.canonical_reason().unwrap_or("")),
        esc(text)
    );
    html(status, frame("Fehler (error)", &main))
}

/// A scenario's name as a relative path below the root: segments of letters, digits, `-`,
/// `_` and `.`, none empty, none starting with a dot. Anything else is no scenario.
fn scenario_dir(root: &Path, name: &str) -> Option<PathBuf> {
    let segments: Vec<&str> = name.trim_end_matches('/').split('/').collect();
    let fine = |s: &&str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if segments.is_empty() || segments.len() > 8 || !segments.iter().all(fine) {
        return None;
    }
    let dir = segments.iter().fold(root.to_path_buf(), |p, s| p.join(s));
    // The folder must really lie below the root (no symbolic link out of it).
    let real = dir.canonicalize().ok()?;
    (real.starts_with(root) && real.join("trace.jsonl").is_file()).then_some(real)
}

/// The run's `report.json`, if it has one: scenario name → its entry.
fn report(root: &Path) -> BTreeMap<String, Value> {
    let Ok(text) = std::fs::read_to_string(root.join("report.json")) else {
        return BTreeMap::new();
    };
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return BTreeMap::new();
    };
    v["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["name"].as_str()?.to_string(), s.clone())))
        .collect()
}

/// Scenario folders below `root` (those with a trace.jsonl), up to three levels deep.
fn scenario_folders(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) {
        if dir.join("trace.jsonl").is_file() {
            if let Ok(rel) = dir.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            walk(root, &d, depth - 1, out);
        }
    }
    let mut out = Vec::new();
    walk(root, root, 3, &mut out);
    out
}

fn verdict_cell(v: &Value) -> String {
    match v["passed"].as_bool() {
        Some(true) => "<span class=\"valid\">bestanden (passed)</span>".into(),
        Some(false) => "<span class=\"invalid\">nicht bestanden (failed)</span>".into(),
        None => "—".into(),
    }
}

/// `GET /`: the scenarios of the run folder.
async fn index(State(root): State<Root>) -> Response {
    let report = report(&root);
    let folders = scenario_folders(&root);
    let mut rows = String::new();
    for name in &folders {
        let entry = report.get(name).cloned().unwrap_or(Value::Null);
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"/run/{href}\">{name}</a></td><td>{verdict}</td>\
             <td class=\"num\">{passed}</td><td class=\"num\">{failed}</td><td>{start}</td><td>{end}</td><td>{error}</td></tr>",
            href = esc(name),
            name = esc(name),
            verdict = verdict_cell(&entry),
            passed = entry["checks_passed"]
                .as_u64()
                .map_or("—".into(), |n| n.to_string()),
            failed = entry["checks_failed"]
                .as_u64()
                .map_or("—".into(), |n| n.to_string()),
            start = esc(entry["virtual_start"].as_str().unwrap_or("—")),
            end = esc(entry["virtual_end"].as_str().unwrap_or("—")),
            error = esc(entry["error"].as_str().unwrap_or("")),
        );
    }
    let main = if folders.is_empty() {
        format!(
            "<h1>Szenarien (scenarios)</h1>\n<p>No scenario folder (one with a trace.jsonl) in {} yet.</p>",
            esc(&root.display().to_string())
        )
    } else {
        format!(
            "<h1>Szenarien (scenarios)</h1>\n<p class=\"muted\">{} · {} scenario folder(s){}</p>\n\
             <table id=\"scenarios\"><thead><tr><th>Szenario (scenario)</th><th>Ergebnis (verdict)</th>\
             <th>Prüfungen bestanden (checks passed)</th><th>nicht bestanden (failed)</th>\
             <th>virtueller Beginn (virtual start)</th><th>Ende (end)</th><th>Fehler (error)</th></tr></thead>\n<tbody>\n{rows}</tbody></table>",
            esc(&root.display().to_string()),
            folders.len(),
            if report.is_empty() {
                "; no report.json yet (the run may still be going)"
            } else {
                ""
            }
        )
    };
    // The page follows the run (new folders, growing traces, the report at the end).
    let stamp = index_stamp_of(&root);
    html(
        StatusCode::OK,
        frame_live("Szenarien (scenarios)", &main, Some(("/changes", &stamp))),
    )
}

/// The `?from=N` of a timeline page.
fn from_param(uri: &Uri) -> Result<usize, String> {
    let Some(q) = uri.query().filter(|q| !q.is_empty()) else {
        return Ok(0);
    };
    q.strip_prefix("from=")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("the only query parameter is from=<event number>, not {q:?}"))
}

/// `GET /run/{name}`: checks and the trace of one scenario.
async fn scenario(
    State(root): State<Root>,
    axum::extract::Path(name): axum::extract::Path<String>,
    uri: Uri,
) -> Response {
    let Some(dir) = scenario_dir(&root, &name) else {
        return page_error(
            StatusCode::NOT_FOUND,
            "No such scenario folder in this run.",
        );
    };
    let from = match from_param(&uri) {
        Ok(f) => f,
        Err(e) => return page_error(StatusCode::BAD_REQUEST, &e),
    };
    let trace = match std::fs::read_to_string(dir.join("trace.jsonl")) {
        Ok(t) => t,
        Err(e) => {
            return page_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("reading the trace: {e}"),
            );
        }
    };
    let stamp = scenario_stamp_of(&root, &dir);
    let entry = report(&root).remove(&name).unwrap_or(Value::Null);
    let finished = trace
        .lines()
        .next_back()
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .is_some_and(|e| e["kind"] == "run.finished");
    // While the scenario runs, report.json has no entry yet: its seed is in `run.started`.
    let seed = match &entry["seed"] {
        Value::Null => trace
            .lines()
            .find_map(|l| {
                let e = serde_json::from_str::<Value>(l).ok()?;
                (e["kind"] == "run.started").then(|| e["seed"].clone())
            })
            .unwrap_or(Value::Null),
        s => s.clone(),
    };
    let mut main = String::new();
    let _ = writeln!(
        main,
        "<h1>{}</h1>\n<dl class=\"facts\"><dt>Ergebnis (verdict)</dt><dd>{}</dd>\
         <dt>Seed</dt><dd>{}</dd><dt>Wiederholen (replay)</dt><dd><code>{}</code></dd>\
         <dt>Ordner (folder)</dt><dd>{}</dd></dl>",
        esc(&name),
        if entry.is_null() && !finished {
            "<span class=\"tag\" id=\"running\">läuft (running)</span>".to_string()
        } else {
            verdict_cell(&entry)
        },
        esc(&seed.to_string()),
        esc(entry["reproduce"].as_str().unwrap_or("—")),
        esc(&dir.display().to_string()),
    );
    if let Some(e) = entry["error"].as_str() {
        let _ = writeln!(main, "<div class=\"verdict invalid\">{}</div>", esc(e));
    }
    // Checks first: the failed ones lead.
    let mut checks: Vec<&Value> = entry["checks"].as_array().into_iter().flatten().collect();
    checks.sort_by_key(|c| c["passed"].as_bool() == Some(true));
    if checks.is_empty() {
        main.push_str("<p class=\"muted\">No checks in report.json (yet).</p>\n");
    } else {
        main.push_str(
            "<h2>Prüfungen (checks)</h2>\n<table id=\"checks\"><thead><tr><th>Prüfung (check)</th>\
             <th>Ergebnis (verdict)</th><th>Nachweis (evidence)</th></tr></thead>\n<tbody>\n",
        );
        for c in checks {
            let _ = writeln!(
                main,
                "<tr class=\"{class}\"><td><code>{id}</code></td><td>{verdict}</td><td>{detail}</td></tr>",
                class = if c["passed"].as_bool() == Some(true) {
                    "acked"
                } else {
                    "missing"
                },
                id = esc(c["id"].as_str().unwrap_or("?")),
                verdict = verdict_cell(c),
                detail = esc(c["detail"].as_str().unwrap_or("")),
            );
        }
        main.push_str("</tbody></table>\n");
    }
    timeline(&mut main, &name, &trace, from);
    let changes = format!("/changes/{name}");
    html(
        StatusCode::OK,
        frame_live(&name, &main, Some((&changes, &stamp))),
    )
}

/// The trace as a table on virtual time, [`TIMELINE_PAGE`] events from `from`; events that
/// name a message file link to its view, and so do later events about the same message id.
fn timeline(main: &mut String, name: &str, trace: &str, from: usize) {
    let events: Vec<Value> = trace
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // message id → its file, from the events that name one (`eml`).
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for e in &events {
        if let (Some(id), Some(eml)) = (e["message_id"].as_str(), e["eml"].as_str()) {
            files
                .entry(id.to_string())
                .or_insert_with(|| eml.to_string());
        }
    }
    let _ = writeln!(
        main,
        "<h2>Ablauf (timeline, virtual time)</h2>\n<p class=\"muted\">{} events{}</p>",
        events.len(),
        if events.len() > TIMELINE_PAGE {
            format!(
                "; {} to {} shown",
                from + 1,
                (from + TIMELINE_PAGE).min(events.len())
            )
        } else {
            String::new()
        }
    );
    main.push_str(
        "<table id=\"timeline\"><thead><tr><th>Nr.</th><th>Zeit (virtual time)</th>\
         <th>Ereignis (event)</th><th>Einzelheiten (details)</th><th>Nachricht (message)</th></tr></thead>\n<tbody>\n",
    );
    for e in events.iter().skip(from).take(TIMELINE_PAGE) {
        let kind = e["kind"].as_str().unwrap_or("?");
        let details: Vec<String> = e
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !matches!(k.as_str(), "seq" | "at" | "kind"))
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let v: String = v.chars().take(300).collect();
                format!("{k}: {v}")
            })
            .collect();
        let file = e["eml"].as_str().map(str::to_string).or_else(|| {
            ["message_id", "for_message_id"]
                .iter()
                .find_map(|k| e[*k].as_str().and_then(|id| files.get(id).cloned()))
        });
        let link = file.map_or_else(String::new, |f| {
            format!(
                "<a href=\"/message/{}/{}\">{}</a>",
                esc(name),
                esc(&f),
                esc(f.rsplit('/').next().unwrap_or(&f))
            )
        });
        let _ = writeln!(
            main,
            "<tr><td class=\"num\">{seq}</td><td>{at}</td><td><code>{kind}</code></td><td>{details}</td><td>{link}</td></tr>",
            seq = e["seq"].as_u64().map_or("—".into(), |n| n.to_string()),
            at = esc(e["at"].as_str().unwrap_or("")),
            kind = esc(kind),
            details = esc(&details.join(" · ")),
        );
    }
    main.push_str("</tbody></table>\n");
    let mut nav = Vec::new();
    if from > 0 {
        nav.push(format!(
            "<a href=\"/run/{}?from={}\">← earlier</a>",
            esc(name),
            from.saturating_sub(TIMELINE_PAGE)
        ));
    }
    if from + TIMELINE_PAGE < events.len() {
        nav.push(format!(
            "<a href=\"/run/{}?from={}\">later →</a>",
            esc(name),
            from + TIMELINE_PAGE
        ));
    }
    if !nav.is_empty() {
        let _ = writeln!(main, "<p>{}</p>", nav.join(" · "));
    }
}

/// A message file of the run named by `{scenario}/messages/{NNNNNN.eml}`: the scenario, the
/// file name, its folder and its bytes; anything else is no message of the run.
fn message_file(root: &Path, path: &str) -> Option<(String, String, PathBuf, Vec<u8>)> {
    let (scenario, file) = path.rsplit_once("/messages/")?;
    let numbered = file
        .strip_suffix(".eml")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let dir = scenario_dir(root, scenario).filter(|_| numbered)?;
    let bytes = std::fs::read(dir.join("messages").join(file)).ok()?;
    Some((scenario.to_string(), file.to_string(), dir, bytes))
}

/// `GET /pdf/{scenario}/messages/{NNNNNN.eml}`: the PDF part of a message of the run (a
/// confirmation's PDF, shown in a frame of its message page).
async fn pdf(
    State(root): State<Root>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    match message_file(&root, &path) {
        Some((_, _, _, bytes)) => match demail_sim::provider::ui::pdf_part(&bytes) {
            Some(pdf) => demail_sim::provider::ui::pdf_response(pdf),
            None => page_error(StatusCode::NOT_FOUND, "The message has no PDF part."),
        },
        None => page_error(StatusCode::NOT_FOUND, "No such message in this run."),
    }
}

/// `GET /message/{scenario}/messages/{NNNNNN.eml}`: one message of the run.
async fn message(
    State(root): State<Root>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    let Some((scenario, file, dir, bytes)) = message_file(&root, &path) else {
        return page_error(StatusCode::NOT_FOUND, "No such message in this run.");
    };
    let (scenario, file) = (scenario.as_str(), file.as_str());
    let ca = CertificateDer::from_pem_file(dir.join("pki").join("ca.pem")).ok();
    let mut main = format!(
        "<h1>{}</h1>\n<p class=\"muted\">{} bytes · <a href=\"/run/{}\">{}</a> · {}</p>\n",
        esc(file),
        bytes.len(),
        esc(scenario),
        esc(scenario),
        if ca.is_some() {
            "seal checked against the run's test CA (pki/ca.pem)"
        } else {
            "the run folder has no pki/ca.pem: the seal is checked without a trust anchor"
        }
    );
    main.push_str(&demail_sim::provider::ui::message_sections(
        &bytes,
        ca.as_ref().map(|c| c.as_ref()),
        &format!("/pdf/{path}"),
    ));
    html(StatusCode::OK, frame(file, &main))
}
