// demail-testbed web UI (docs/ui.md): new messages and queue changes appear without a reload.
// Every 2 s it asks /ui/changes (or the URL in <main data-changes>, as the run view's pages
// give) for the change stamp; when the stamp moves, it
// fetches the current page again and swaps the <main id="live"> element for the new one.
// The page comes from this origin and is server-rendered with every value escaped; the
// Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var main = document.getElementById("live");
  // The stamp the page was rendered at, so that a change between rendering and the first
  // poll is not missed.
  var stamp = main ? main.getAttribute("data-stamp") : null;
  // Where to ask for the stamp: the provider UI's /ui/changes, or the page's own (run view).
  var changes = (main && main.getAttribute("data-changes")) || "/ui/changes";
  var busy = false;
  function mark(ok) {
    if (status) { status.className = "live " + (ok ? "on" : "off"); }
    document.documentElement.setAttribute("data-live", ok ? "on" : "off");
  }
  function refresh() {
    return fetch(location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("live");
        var old = document.getElementById("live");
        if (!fresh || !old) { return; }
        var open = {};
        old.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
        old.replaceWith(document.importNode(fresh, true));
        document.querySelectorAll("#live details[id]").forEach(function (d) {
          if (d.id in open) { d.open = open[d.id]; }
        });
        document.title = doc.title;
        var n = Number(document.documentElement.getAttribute("data-refreshes") || "0") + 1;
        document.documentElement.setAttribute("data-refreshes", String(n));
      });
  }
  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(changes, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (s) {
        mark(true);
        var changed = s !== stamp;
        stamp = s;
        return changed ? refresh() : null;
      })
      .catch(function () { mark(false); })
      .then(function () { busy = false; });
  }
  poll();
  setInterval(poll, 2000);
})();
