// demail-testbed load: the live page's script (docs/load.md, "Watching a run"). Polls
// /status.json every second and fills the page's tables with text (never HTML from data).
(function () {
  "use strict";
  var last = null;
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    row.appendChild(td);
    return td;
  }
  function fill(id, rows) {
    var body = document.querySelector("#" + id + " tbody");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      r(tr);
      body.appendChild(tr);
    });
  }
  function s(x) { return x === undefined ? "—" : x.toFixed(3); }
  function show(st) {
    document.getElementById("profile").textContent = st.profile + (st.shards > 1 ? " (shard " + st.shard + "/" + st.shards + ")" : "");
    var p = document.getElementById("progress");
    p.value = Math.min(1, st.elapsed_s / Math.max(st.duration_s, 0.001));
    document.getElementById("elapsed").textContent = st.elapsed_s.toFixed(0) + " s of " + st.duration_s.toFixed(0) + " s";
    document.getElementById("intended").textContent = (st.due / Math.max(st.elapsed_s, 0.001)).toFixed(1) + "/s";
    var achieved = "—";
    if (last) {
      var dt = st.elapsed_s - last.elapsed_s;
      if (dt > 0) { achieved = ((st.counters.started - last.counters.started) / dt).toFixed(1) + "/s"; }
    }
    document.getElementById("achieved").textContent = achieved;
    document.getElementById("in_flight").textContent = String(st.in_flight);
    document.getElementById("unanswered").textContent = String(st.unanswered);
    fill("counters", Object.keys(st.counters).map(function (k) {
      return function (tr) { cell(tr, k); cell(tr, String(st.counters[k]), "num"); };
    }));
    fill("latencies", Object.keys(st.latencies).map(function (k) {
      var l = st.latencies[k];
      return function (tr) {
        cell(tr, k); cell(tr, String(l.n), "num");
        cell(tr, s(l.p50_s), "num"); cell(tr, s(l.p95_s), "num"); cell(tr, s(l.p99_s), "num"); cell(tr, s(l.max_s), "num");
      };
    }));
    fill("thresholds", st.thresholds.map(function (d) {
      return function (tr) {
        cell(tr, d.passed ? "PASS" : "FAIL", d.passed ? "pass" : "fail");
        cell(tr, d.threshold); cell(tr, d.detail);
      };
    }));
    last = st;
  }
  function state(on) {
    var el = document.getElementById("state");
    el.className = "state " + (on ? "on" : "off");
    el.textContent = on ? "läuft (running)" : "keine Verbindung (run ended or unreachable)";
    document.documentElement.setAttribute("data-live", on ? "on" : "off");
  }
  function poll() {
    fetch("/status.json", { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (st) { show(st); state(true); })
      .catch(function () { state(false); });
  }
  poll();
  setInterval(poll, 1000);
})();
