"""The arena's page, style and script (served by :mod:`reports.arena_app`; no inline script or style, so
the page's Content-Security-Policy can forbid them). Texts from the suite reach the page only through
``textContent``; the page never learns which pipeline is on which side.

Keys: 1 or ← left is better, 2 or → right is better, 3 or T tie, 4 or B both bad (ignored while typing
in a text box). ``document.body.dataset.state`` is ``ready`` once both outputs have loaded (votes are
accepted only then), ``sending`` while a vote is being written, ``done`` when the rater judged every pair.
"""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>editbench arena</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/app.css"><script src="/app.js" defer></script></head>
<body data-state="idle">
<header>
  <b>editbench arena</b> · blind side-by-side
  <label>Your name <input id="rater" autocomplete="name" maxlength="120" placeholder="name"></label>
  <span id="count"></span>
</header>
<main>
  <section id="task">
    <div class="meta"><span id="taskid"></span></div>
    <p id="text"></p>
    <figure id="sourcebox"><img id="source" alt="source with the edit region outlined">
      <figcaption>source · magenta line: the region to edit</figcaption></figure>
  </section>
  <section id="pair">
    <figure><img id="left" alt="left output"><figcaption>Left</figcaption></figure>
    <figure><img id="right" alt="right output"><figcaption>Right</figcaption></figure>
  </section>
  <section id="controls">
    <button id="vote-left" data-answer="left" disabled>&larr; Left is better <kbd>1</kbd></button>
    <button id="vote-tie" data-answer="tie" disabled>Tie <kbd>3</kbd></button>
    <button id="vote-both_bad" data-answer="both_bad" disabled>Both bad <kbd>4</kbd></button>
    <button id="vote-right" data-answer="right" disabled>Right is better &rarr; <kbd>2</kbd></button>
    <input id="reason" maxlength="2000" placeholder="reason (optional)">
  </section>
  <p id="status" role="status"></p>
</main>
</body></html>
"""

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:10px 18px;background:#fff;border-bottom:1px solid #ddd;display:flex;gap:18px;align-items:center}
main{padding:12px 18px;max-width:1500px;margin:auto}
#text{white-space:pre-wrap;word-break:break-word;font-size:16px;margin:6px 0 10px;max-width:1000px}
.meta{color:#666;font-size:12px}
figure{margin:0;text-align:center;font-size:12px;color:#555}
#sourcebox img{height:min(240px,28vh);max-width:100%;object-fit:contain;border:1px solid #ccc}
#pair{display:flex;gap:16px;justify-content:center;margin-top:12px}
#pair figure{flex:1;max-width:700px}
#pair img{width:100%;max-height:62vh;object-fit:contain;border:1px solid #bbb;background:#fff}
#controls{display:flex;gap:10px;justify-content:center;flex-wrap:wrap;margin:14px 0}
button{font-size:16px;padding:9px 16px;border:1px solid #888;border-radius:6px;background:#fff;cursor:pointer}
button:disabled{opacity:.45;cursor:default} button:not(:disabled):hover{background:#eef}
kbd{font-size:11px;border:1px solid #aaa;border-radius:3px;padding:0 4px;margin-left:4px;color:#555}
#reason{font-size:14px;padding:8px;min-width:280px}
#status{text-align:center;color:#444;min-height:1.4em} .error{color:#b00020}
"""

APP_JS = r"""
"use strict";
const $ = (id) => document.getElementById(id);
let token = null, pending = 0;

function setState(s) { document.body.dataset.state = s; }
function enable(on) { document.querySelectorAll("button[data-answer]").forEach((b) => { b.disabled = !on; }); }
function say(text, error) { const s = $("status"); s.textContent = text; s.className = error ? "error" : ""; }
function rater() { return $("rater").value.trim(); }

async function load() {
  token = null; enable(false); setState("loading");
  if (!rater()) { setState("idle"); say("Type your name to start."); $("rater").focus(); return; }
  let data;
  try {
    const r = await fetch("/api/next?rater=" + encodeURIComponent(rater()));
    data = await r.json();
    if (!r.ok) { say(data.error || "the server refused", true); setState("idle"); return; }
  } catch (e) { say("cannot reach the arena server; retrying…", true); setTimeout(load, 1500); return; }
  $("count").textContent = data.votes + " votes by you";
  if (data.done) {
    setState("done"); say("You have judged every pair. Thank you!");
    ["left", "right", "source"].forEach((k) => $(k).removeAttribute("src")); return;
  }
  token = data.token;
  $("taskid").textContent = "task " + data.task_id + " · seed " + data.seed + (data.kind ? " · " + data.kind : "");
  $("text").textContent = data.text || "";
  $("sourcebox").hidden = !data.has_source;
  if (data.has_source) { $("source").src = "/img/" + token + "/source"; }
  pending = 2; say("loading…");
  for (const k of ["left", "right"]) { $(k).src = "/img/" + token + "/" + k; }
}

function loaded() {
  pending -= 1;
  if (pending === 0 && token) {
    // keys vote only outside text boxes: leave an empty reason box (where Tab from the name lands)
    const r = $("reason");
    if (document.activeElement === r && !r.value) { r.blur(); }
    enable(true); setState("ready"); say("Which output is the better edit?");
  }
}

async function vote(answer) {
  if (!token || document.body.dataset.state !== "ready") { return; }
  enable(false); setState("sending");
  const body = {token: token, rater: rater(), answer: answer, reason: $("reason").value};
  try {
    const r = await fetch("/api/vote", {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify(body)});
    const data = await r.json();
    if (r.ok || r.status === 409) {
      $("reason").value = "";
      if (!r.ok) { say(data.error, true); }
      load(); return;
    }
    say(data.error || "the vote was refused", true); enable(true); setState("ready");
  } catch (e) { say("the vote did not reach the server; try again", true); enable(true); setState("ready"); }
}

const KEYS = {"1": "left", "ArrowLeft": "left", "2": "right", "ArrowRight": "right",
              "3": "tie", "t": "tie", "T": "tie", "4": "both_bad", "b": "both_bad", "B": "both_bad"};

document.addEventListener("DOMContentLoaded", () => {
  $("rater").value = localStorage.getItem("editbench-rater") || "";
  $("rater").addEventListener("change", () => { localStorage.setItem("editbench-rater", rater()); load(); });
  $("left").addEventListener("load", loaded); $("right").addEventListener("load", loaded);
  $("left").addEventListener("error", () => say("an output failed to load", true));
  $("right").addEventListener("error", () => say("an output failed to load", true));
  document.querySelectorAll("button[data-answer]").forEach(
    (b) => b.addEventListener("click", () => vote(b.dataset.answer)));
  document.addEventListener("keydown", (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    const answer = KEYS[e.key];
    if (answer) { e.preventDefault(); vote(answer); }
  });
  load();
});
"""
