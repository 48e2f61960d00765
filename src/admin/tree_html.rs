//! The live supervision tree as a self-contained page (`GET /monitor/<hash>/tree.html`).
//!
//! Inline CSS and JS, no external resources. The page fetches the sibling `tree` JSON route
//! (so the hash is never embedded in the page), renders each supervisor as a collapsible node with
//! its strategy, intensity, restart and child counts, and can refresh on demand or every 2 s.
//! Collapsed nodes stay collapsed across refreshes. Node text is set with `textContent` only.

/// The page.
pub const TREE_HTML: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hive supervision tree</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.3em; margin: 0 0 .5em; }
  #bar { display: flex; gap: 1em; align-items: center; margin-bottom: 1em; flex-wrap: wrap; }
  #status { color: #666; }
  #status.err { color: #b00; font-weight: bold; }
  ul { list-style: none; margin: 0; padding-left: 1.4em; border-left: 1px dotted #bbb; }
  details > summary { cursor: pointer; }
  .id { font-family: ui-monospace, monospace; font-weight: 600; }
  .badge { display: inline-block; font-size: .8em; padding: 0 .45em; margin-left: .35em;
           border-radius: .6em; background: #e4e8ef; color: #333; }
  .badge.strategy { background: #dbe9ff; }
  .badge.count { background: #e6f4e4; }
  .badge.hot { background: #ffd9d6; color: #900; }
  .status-running { color: #17702a; }
  .status-restarting { color: #a86400; }
  .status-stopped, .status-failed { color: #b00; }
  .worker { padding: 1px 0; }
  .more { color: #777; font-style: italic; }
</style>
</head>
<body>
<h1>Hive supervision tree</h1>
<div id="bar">
  <button id="refresh" type="button">Refresh</button>
  <label><input id="auto" type="checkbox"> auto-refresh (2 s)</label>
  <label><input id="all" type="checkbox"> list dynamic children</label>
  <button id="expand" type="button">Expand all</button>
  <button id="collapse" type="button">Collapse all</button>
  <span id="status">loading…</span>
</div>
<div id="tree"></div>
<script>
"use strict";
const closed = new Set();
let timer = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function badge(text, cls) { return el("span", "badge" + (cls ? " " + cls : ""), text); }

function supSummary(sup) {
  const s = el("summary");
  s.appendChild(el("span", "id", sup.id));
  s.append(" ", badge(sup.strategy, "strategy"));
  s.append(" ", badge(sup.intensity.max_restarts + "/" + sup.intensity.max_seconds + "s", "intensity"));
  s.append(" ", badge("restarts " + sup.restarts, sup.restarts > 0 ? "restarts hot" : "restarts"));
  let count = sup.child_count + (sup.child_count === 1 ? " child" : " children");
  if (sup.max_children !== null && sup.max_children !== undefined) count += " / max " + sup.max_children;
  s.append(" ", badge(count, "count"));
  return s;
}

function renderSup(sup, path, childInfo) {
  const d = el("details", "sup");
  d.dataset.path = path;
  d.open = !closed.has(path);
  d.addEventListener("toggle", () => { if (d.open) closed.delete(path); else closed.add(path); });
  const summary = supSummary(sup);
  if (childInfo && childInfo.status !== "running") summary.append(" ", badge(childInfo.status, "hot"));
  if (childInfo && childInfo.restarts > 0) summary.append(" ", badge("restarted " + childInfo.restarts + "x", "hot"));
  d.appendChild(summary);
  const ul = el("ul");
  for (const c of sup.children) {
    const li = el("li");
    if (c.supervisor) {
      li.appendChild(renderSup(c.supervisor, path + "/" + c.id, c));
    } else {
      li.className = "worker";
      li.appendChild(el("span", "id", c.id));
      li.append(" ", badge(c.kind));
      li.append(" ", badge(c.restart));
      li.append(" ", badge(c.status, "status-" + c.status));
      if (c.restarts > 0) li.append(" ", badge("restarts " + c.restarts, "hot"));
    }
    ul.appendChild(li);
  }
  const hidden = sup.child_count - sup.children.length;
  if (sup.children_truncated && hidden > 0) {
    ul.appendChild(el("li", "more", hidden + " more not listed" +
      (document.getElementById("all").checked ? "" : " (tick \"list dynamic children\")")));
  }
  d.appendChild(ul);
  return d;
}

async function load() {
  const status = document.getElementById("status");
  const base = location.pathname.replace(/\/tree\.html\/?$/, "/tree");
  const q = new URLSearchParams(document.getElementById("all").checked ? "children=all&limit=1000" : "");
  const node = new URLSearchParams(location.search).get("node");
  if (node) q.set("node", node);
  const url = base + (q.toString() ? "?" + q.toString() : "");
  try {
    const resp = await fetch(url, { cache: "no-store" });
    const body = await resp.json();
    if (!resp.ok) throw new Error(body.description || ("HTTP " + resp.status));
    const tree = document.getElementById("tree");
    tree.replaceChildren(renderSup(body, body.id, null));
    status.className = "";
    status.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    status.className = "err";
    status.textContent = "error: " + e.message;
  }
}

function setAll(open) {
  for (const d of document.querySelectorAll("details.sup")) d.open = open;
}

document.getElementById("refresh").addEventListener("click", load);
document.getElementById("all").addEventListener("change", load);
document.getElementById("expand").addEventListener("click", () => setAll(true));
document.getElementById("collapse").addEventListener("click", () => setAll(false));
document.getElementById("auto").addEventListener("change", (ev) => {
  if (timer) { clearInterval(timer); timer = null; }
  if (ev.target.checked) timer = setInterval(load, 2000);
});
load();
</script>
</body>
</html>
"##;
