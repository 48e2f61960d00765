//! The monitor's dashboard (`GET /monitor/<hash>/dashboard`): one self-contained page.
//!
//! Inline CSS and JS, no external resource; charts are drawn by hand on `<canvas>`. The page only
//! fetches sibling routes (`dashboard/series`, `tree`, `actors`, `sessions/<sid>`, `channels`), so
//! the hash is never embedded in it. It shows the charts of the last 15 minutes (sessions,
//! messages in and out per second, deliveries per second, hook p99 per event, pool utilisation,
//! RSS), the live tree (click an actor for its figures and a kill button), the top-N actors and
//! session and channel lookups; disconnect, send and kill ask for a confirmation first. All text
//! from the node is set with `textContent`.

/// The page.
pub const DASHBOARD_HTML: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hive dashboard</title>
<style>
  * { box-sizing: border-box; }
  body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f3f5f8; }
  header { display: flex; gap: 1.5em; align-items: baseline; padding: .6em 1.2em; background: #1d2330; color: #fff; }
  header h1 { font-size: 1.15em; margin: 0; }
  header .k { color: #9fb0c8; margin-right: .3em; }
  #status.err { color: #ff8a80; font-weight: bold; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: .8em; padding: .8em 1.2em; }
  section { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: .6em .8em; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 1em; margin: 0 0 .4em; color: #34405a; }
  #charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: .6em; }
  .chart { border: 1px solid #eef0f4; border-radius: 4px; padding: .3em; }
  .chart .title { font-weight: 600; font-size: .9em; }
  .chart .now { float: right; color: #555; font-family: ui-monospace, monospace; }
  .chart canvas { width: 100%; height: 110px; display: block; }
  .legend span { margin-right: .8em; font-size: .85em; }
  .legend i { display: inline-block; width: .8em; height: .8em; margin-right: .25em; vertical-align: -1px; }
  #tree { max-height: 420px; overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; }
  #tree ul { list-style: none; margin: 0; padding-left: 1.1em; border-left: 1px dotted #c5cbd6; }
  #tree .node { cursor: pointer; padding: 0 .2em; border-radius: 3px; }
  #tree .node:hover, #tree .node.sel { background: #dbe9ff; }
  #tree .meta { color: #778; }
  #actor { margin-top: .5em; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th, td { text-align: left; padding: .15em .4em; border-bottom: 1px solid #eef0f4; white-space: nowrap; }
  th { color: #556; font-weight: 600; }
  td.n, th.n { text-align: right; font-family: ui-monospace, monospace; }
  tr.click { cursor: pointer; } tr.click:hover { background: #f0f5ff; }
  input[type=text] { font: inherit; padding: .2em .35em; border: 1px solid #c5cbd6; border-radius: 3px; }
  button { font: inherit; padding: .15em .6em; border: 1px solid #9aa6b8; border-radius: 3px; background: #f6f8fb; cursor: pointer; }
  button.danger { border-color: #c62828; color: #b71c1c; background: #fff5f5; }
  .row { display: flex; gap: .4em; align-items: center; flex-wrap: wrap; margin-bottom: .4em; }
  pre { background: #f6f8fb; padding: .4em; margin: .3em 0; max-height: 220px; overflow: auto; font-size: 12px; }
  .msg { color: #2e7d32; } .msg.err { color: #b71c1c; }
  dialog { border: 1px solid #9aa6b8; border-radius: 6px; }
</style>
</head>
<body>
<header>
  <h1>Hive dashboard</h1>
  <span><span class="k">sessions</span><b id="h-sessions">-</b></span>
  <span><span class="k">actors</span><b id="h-actors">-</b></span>
  <span><span class="k">RSS</span><b id="h-rss">-</b></span>
  <span id="status">loading</span>
</header>
<main>
  <section class="wide">
    <h2>Last 15 minutes</h2>
    <div id="charts"></div>
  </section>
  <section>
    <h2>Supervision tree <button id="tree-refresh" type="button">Refresh</button></h2>
    <div id="tree"></div>
    <div id="actor"></div>
  </section>
  <section>
    <h2>Top actors
      <select id="sort"><option>mailbox</option><option>rate</option><option>queued</option><option>age</option></select>
    </h2>
    <table id="top"><thead><tr><th>id</th><th>kind</th><th class="n">mailbox</th><th class="n">rate/s</th>
      <th class="n">queued</th><th class="n">age s</th><th class="n">restarts</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Session</h2>
    <div class="row"><input id="sid" type="text" placeholder="sid" size="42"><button id="sid-go" type="button">Look up</button></div>
    <div id="session"></div>
  </section>
  <section>
    <h2>Channels</h2>
    <div class="row"><input id="prefix" type="text" placeholder="prefix (empty: all)" size="30"><button id="ch-go" type="button">List</button></div>
    <table id="channels"><thead><tr><th>cid</th><th class="n">subscribers</th><th class="n">published</th><th class="n">rate/s</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<dialog id="confirm"><p id="confirm-text"></p>
  <form method="dialog" class="row"><button value="no">Cancel</button><button id="confirm-yes" class="danger" value="yes">Confirm</button></form></dialog>
<script>
"use strict";
const base = location.pathname.replace(/\/dashboard\/?$/, "/");
const $ = (id) => document.getElementById(id);
const COLORS = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457"];

// `?node=<name>` of the page is passed on to every fetch (another node's dashboard, relayed).
const node = new URLSearchParams(location.search).get("node");
const withNode = (p) => node ? p + (p.includes("?") ? "&" : "?") + "node=" + encodeURIComponent(node) : p;

async function api(path, opts) {
  const r = await fetch(base + withNode(path), Object.assign({ cache: "no-store" }, opts || {}));
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!r.ok) throw new Error((body && body.description) || ("HTTP " + r.status));
  return body;
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function status(text, err) { const s = $("status"); s.textContent = text; s.className = err ? "err" : ""; }
function confirmThen(text, action) {
  const d = $("confirm");
  $("confirm-text").textContent = text;
  d.onclose = () => { if (d.returnValue === "yes") action(); };
  d.returnValue = "";
  d.showModal();
}
function fmtBytes(b) { return b >= 1048576 ? (b / 1048576).toFixed(1) + " MB" : (b / 1024).toFixed(0) + " KB"; }

// ---- charts (canvas, drawn by hand) ----
const charts = [
  { key: "sessions", title: "Sessions", lines: (s) => ({ sessions: s.sessions }) },
  { key: "msgs", title: "Messages / s", lines: (s) => ({ in: s.msgs_in, out: s.msgs_out }) },
  { key: "deliveries", title: "Deliveries / s", lines: (s) => ({ deliveries: s.deliveries }) },
  { key: "hooks", title: "Hook p99 (ms)", lines: (s) => mapCols(s.hook_p99_us, (v) => v === null ? null : v / 1000) },
  { key: "pools", title: "Pool utilisation (%)", lines: (s) => mapCols(s.pools, (v) => v === null ? null : v * 100), max: 100 },
  { key: "rss", title: "RSS (MB)", lines: (s) => ({ rss: s.rss.map((v) => v / 1048576) }) },
];
function mapCols(obj, f) { const out = {}; for (const k of Object.keys(obj || {})) out[k] = obj[k].map(f); return out; }
function setupCharts() {
  const host = $("charts");
  for (const c of charts) {
    const box = el("div", null, "chart");
    box.dataset.chart = c.key;
    const t = el("div", null, "title");
    t.append(el("span", c.title));
    c.now = el("span", "", "now");
    t.append(c.now);
    c.canvas = el("canvas");
    c.legend = el("div", null, "legend");
    box.append(t, c.canvas, c.legend);
    host.append(box);
  }
}
function draw(c, t, lines) {
  const cv = c.canvas, dpr = window.devicePixelRatio || 1;
  const w = cv.clientWidth || 300, h = cv.clientHeight || 110;
  cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
  const g = cv.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const padL = 38, padB = 14, padT = 4, pw = w - padL - 4, ph = h - padB - padT;
  let max = c.max || 0;
  const names = Object.keys(lines);
  for (const n of names) for (const v of lines[n]) if (v !== null && v > max) max = v;
  if (max <= 0) max = 1;
  if (!c.max) max *= 1.1;
  g.strokeStyle = "#e3e7ee"; g.fillStyle = "#778"; g.font = "10px system-ui"; g.lineWidth = 1;
  for (let i = 0; i <= 2; i++) {
    const y = padT + ph - (ph * i) / 2;
    g.beginPath(); g.moveTo(padL, y); g.lineTo(padL + pw, y); g.stroke();
    const v = (max * i) / 2;
    g.fillText(v >= 100 ? v.toFixed(0) : v.toFixed(1), 2, y + 3);
  }
  const t1 = t.length ? t[t.length - 1] : Date.now(), t0 = t1 - 15 * 60 * 1000;
  g.fillText("-15 min", padL, h - 2); g.fillText("now", padL + pw - 18, h - 2);
  const x = (ts) => padL + (pw * (ts - t0)) / (t1 - t0);
  c.legend.textContent = "";
  let nowText = [];
  names.forEach((n, i) => {
    const color = COLORS[i % COLORS.length], ys = lines[n];
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    let pen = false;
    for (let k = 0; k < ys.length; k++) {
      if (ys[k] === null || t[k] < t0) { pen = false; continue; }
      const px = x(t[k]), py = padT + ph - (ph * ys[k]) / max;
      if (pen) g.lineTo(px, py); else { g.moveTo(px, py); pen = true; }
    }
    g.stroke();
    const sw = el("span"); const dot = el("i"); dot.style.background = color; sw.append(dot, n); c.legend.append(sw);
    const last = ys.length ? ys[ys.length - 1] : null;
    if (last !== null) nowText.push(Number(last).toFixed(last >= 100 ? 0 : 1));
  });
  c.now.textContent = nowText.join(" / ");
  c.canvas.dataset.drawn = String(t.length);
}
async function refreshCharts() {
  const s = await api("dashboard/series");
  for (const c of charts) draw(c, s.t, c.lines(s));
  const n = s.len;
  $("h-sessions").textContent = n ? s.sessions[n - 1] : "-";
  $("h-rss").textContent = n ? fmtBytes(s.rss[n - 1]) : "-";
}

// ---- tree ----
const collapsed = new Set();
function treeNode(entry, path) {
  const li = el("li");
  const sup = entry.supervisor;
  const id = entry.id;
  const key = entry.actor_id || id;
  const span = el("span", id, "node");
  span.dataset.id = key;
  span.dataset.name = id;
  span.onclick = (ev) => { ev.stopPropagation(); showActor(key, span); };
  li.append(span);
  const meta = [];
  if (sup) meta.push(sup.strategy, "restarts " + sup.restarts, sup.child_count + " children");
  else meta.push(entry.kind || "worker", entry.status || "");
  if (entry.restarts) meta.push("restarts " + entry.restarts);
  li.append(el("span", " " + meta.join(", "), "meta"));
  if (sup && sup.children && sup.children.length) {
    const ul = el("ul");
    for (const ch of sup.children) ul.append(treeNode(ch, path + "/" + ch.id));
    li.append(ul);
  }
  return li;
}
async function refreshTree() {
  const r = await api("tree?children=all&limit=200");
  const root = { id: r.id, supervisor: r, kind: "supervisor" };
  const ul = el("ul");
  ul.append(treeNode(root, r.id));
  const host = $("tree");
  const keep = host.scrollTop;
  host.textContent = "";
  host.append(ul);
  host.scrollTop = keep;
  if (selected) { const s = host.querySelector('.node[data-id="' + CSS.escape(selected) + '"]'); if (s) s.classList.add("sel"); }
}
let selected = null;
async function showActor(id, span) {
  selected = id;
  document.querySelectorAll("#tree .node.sel").forEach((n) => n.classList.remove("sel"));
  if (span) span.classList.add("sel");
  const box = $("actor");
  box.textContent = "";
  try {
    const a = await api("actors/" + encodeURIComponent(id));
    const t = el("table"); t.id = "actor-figures";
    const rows = [["id", a.id], ["actor id", a.actor_id], ["kind", a.kind], ["path", a.path.join(" / ")],
      ["status", a.status], ["mailbox", a.mailbox], ["handled", a.handled], ["rate / s", a.rate],
      ["age", (a.age_ms / 1000).toFixed(1) + " s"], ["restarts", a.restarts]];
    if (a.queued !== undefined) rows.push(["queued", a.queued], ["queued bytes", a.queued_bytes]);
    if (a.supervisor) rows.push(["strategy", a.supervisor.strategy], ["restarts performed", a.supervisor.restarts], ["children", a.supervisor.child_count]);
    for (const [k, v] of rows) { const tr = el("tr"); tr.append(el("th", k), el("td", v)); t.append(tr); }
    const kill = el("button", "Kill " + a.id, "danger"); kill.id = "kill";
    const msg = el("span", "", "msg");
    kill.onclick = () => confirmThen("Kill " + a.id + " (" + a.actor_id + ")? Its supervisor applies its strategy.", async () => {
      try { await api("actors/" + encodeURIComponent(a.actor_id) + "/kill", { method: "POST", body: JSON.stringify({ reason: "dashboard" }) });
        msg.textContent = " killed"; msg.className = "msg"; setTimeout(refreshTree, 300);
      } catch (e) { msg.textContent = " " + e.message; msg.className = "msg err"; }
    });
    box.append(t, kill, msg);
  } catch (e) { box.append(el("span", e.message, "msg err")); }
}

// ---- top actors ----
async function refreshTop() {
  const r = await api("actors?sort=" + $("sort").value + "&limit=12");
  $("h-actors").textContent = r.total;
  const tb = $("top").tBodies[0];
  tb.textContent = "";
  for (const a of r.actors) {
    const tr = el("tr", null, "click");
    tr.append(el("td", a.id), el("td", a.kind), el("td", a.mailbox, "n"), el("td", a.rate, "n"),
      el("td", a.queued === undefined ? "" : a.queued, "n"), el("td", (a.age_ms / 1000).toFixed(0), "n"), el("td", a.restarts, "n"));
    tr.onclick = () => showActor(a.actor_id, null);
    tb.append(tr);
  }
}

// ---- sessions ----
async function lookupSession() {
  const sid = $("sid").value.trim();
  const box = $("session");
  box.textContent = "";
  if (!sid) return;
  try {
    const s = await api("sessions/" + encodeURIComponent(sid));
    box.append(el("pre", JSON.stringify(s, null, 1)));
    const row = el("div", null, "row");
    const name = el("input"); name.type = "text"; name.id = "ev-name"; name.placeholder = "event name"; name.size = 12;
    const args = el("input"); args.type = "text"; args.id = "ev-args"; args.placeholder = '[args as JSON]'; args.size = 24;
    const send = el("button", "Send event"); send.id = "send";
    const disc = el("button", "Disconnect", "danger"); disc.id = "disconnect";
    const msg = el("span", "", "msg"); msg.id = "session-msg";
    const say = (t, err) => { msg.textContent = " " + t; msg.className = err ? "msg err" : "msg"; };
    send.onclick = () => {
      let a;
      try { a = args.value.trim() ? JSON.parse(args.value) : []; } catch (e) { say("args: " + e.message, true); return; }
      confirmThen("Send event \"" + name.value + "\" to session " + sid + "?", async () => {
        try { await api("sessions/" + encodeURIComponent(sid) + "/events", { method: "POST", body: JSON.stringify({ name: name.value, args: a }) }); say("sent"); }
        catch (e) { say(e.message, true); }
      });
    };
    disc.onclick = () => confirmThen("Disconnect session " + sid + "? Its disconnect hooks run.", async () => {
      try { await api("sessions/" + encodeURIComponent(sid), { method: "DELETE" }); say("disconnected"); }
      catch (e) { say(e.message, true); }
    });
    row.append(name, args, send, disc, msg);
    box.append(row);
  } catch (e) { box.append(el("span", e.message, "msg err")); }
}

// ---- channels ----
async function listChannels() {
  const r = await api("channels?prefix=" + encodeURIComponent($("prefix").value.trim()));
  const tb = $("channels").tBodies[0];
  tb.textContent = "";
  for (const c of r.channels) {
    const tr = el("tr");
    tr.append(el("td", c.cid), el("td", c.subscribers, "n"), el("td", c.published, "n"), el("td", c.rate, "n"));
    tb.append(tr);
  }
}

async function tick() {
  try {
    await Promise.all([refreshCharts(), refreshTop()]);
    status("updated " + new Date().toLocaleTimeString());
  } catch (e) { status(e.message, true); }
}
setupCharts();
$("sid-go").onclick = lookupSession;
$("sid").onkeydown = (e) => { if (e.key === "Enter") lookupSession(); };
$("ch-go").onclick = () => listChannels().catch((e) => status(e.message, true));
$("tree-refresh").onclick = () => refreshTree().catch((e) => status(e.message, true));
$("sort").onchange = () => refreshTop().catch((e) => status(e.message, true));
refreshTree().catch((e) => status(e.message, true));
listChannels().catch(() => {});
tick();
setInterval(tick, 2000);
setInterval(() => refreshTree().catch(() => {}), 10000);
window.addEventListener("resize", () => refreshCharts().catch(() => {}));
</script>
</body>
</html>
"##;
