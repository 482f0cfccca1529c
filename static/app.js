// migscope dashboard: charts (Plotly.react with a fixed uirevision), stepping, sharing,
// presentation mode and the scenario form. No framework; htmx does the partial swaps.
"use strict";

const MS = (window.MS = {});

/* ---------- presentation mode ---------- */
function applyPresentation(on) {
  document.body.classList.toggle("presentation", on);
  document.documentElement.classList.toggle("presentation", on);
  const button = document.getElementById("presentation-toggle");
  if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
  try { localStorage.setItem("migscope.presentation", on ? "1" : "0"); } catch (e) { /* private mode */ }
  for (const gd of document.querySelectorAll(".chart.js-plotly-plot")) {
    const fig = MS.figures[gd.id];
    const base = (fig && fig.baseHeight) || gd.layout.height || 360;
    Plotly.relayout(gd, { "font.size": on ? 16 : 13, height: on ? Math.round(base * 1.5) : base })
      .then(() => Plotly.Plots.resize(gd));
  }
}

/* ---------- charts ---------- */
MS.figures = {};

function readFigure(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

function drawCharts(root) {
  const big = document.body.classList.contains("presentation");
  for (const div of (root || document).querySelectorAll(".chart[data-figure]")) {
    const fig = readFigure(div.dataset.figure);
    if (!fig) continue;
    fig.baseHeight = fig.layout.height;
    fig.initialRange = fig.layout.xaxis && fig.layout.xaxis.range ? fig.layout.xaxis.range.slice() : null;
    if (big) {
      fig.layout.font = Object.assign({}, fig.layout.font, { size: 16 });
      fig.layout.height = Math.round((fig.layout.height || 360) * 1.5);
    }
    MS.figures[div.id] = fig;
    Plotly.react(div, fig.data, fig.layout, { responsive: true, displaylogo: false });
    div.classList.add("drawn");
    if (!div.dataset.zoomHooked && div.on) {
      div.dataset.zoomHooked = "1";
      div.on("plotly_relayout", (ev) => { onZoom(div, ev); syncTimeAxes(div, ev); });
    }
  }
}

function moveCursors(tMs) {
  const x = tMs / 1000;
  for (const [id, fig] of Object.entries(MS.figures)) {
    const shapes = fig.layout.shapes || [];
    const cursor = shapes.find((s) => s.name === "cursor");
    if (!cursor) continue;
    cursor.x0 = x; cursor.x1 = x;
    const gd = document.getElementById(id);
    // Keep the reader's zoom: uirevision is fixed, and we take the live axis ranges.
    Plotly.react(gd, gd.data, Object.assign({}, gd.layout, { shapes: shapes.slice() }));
  }
}

// A relayout event names the new x range either way: mouse zoom or Plotly.relayout({"xaxis.range": ...}).
function xRange(ev) {
  if (Array.isArray(ev["xaxis.range"])) return ev["xaxis.range"];
  return [ev["xaxis.range[0]"], ev["xaxis.range[1]"]];
}

// Every time chart of a page shares one time axis (on the compare page, both runs' charts too),
// so a zoom on one applies to all of them.
let syncing = false;
function syncTimeAxes(source, ev) {
  if (syncing || source.id === "chart-downtime") return;
  const [lo, hi] = xRange(ev);
  const auto = ev["xaxis.autorange"];
  if (lo === undefined && !auto) return;
  syncing = true;
  const initial = MS.figures[source.id].initialRange;
  const update = !auto ? { "xaxis.range": [lo, hi] } : initial ? { "xaxis.range": initial.slice() } : { "xaxis.autorange": true };
  const others = Object.keys(MS.figures).filter((id) => id !== source.id && id !== "chart-downtime");
  Promise.all(others.map((id) => Plotly.relayout(id, update))).finally(() => { syncing = false; });
}

// Zoom: ask the server for the series of the visible time range (downsampled there).
let zoomTimer = null;
function onZoom(div, ev) {
  const stepper = document.getElementById("stepper");
  const url = stepper && stepper.dataset.seriesUrl;
  if (!url || (div.id !== "chart-devices" && div.id !== "chart-ram")) return;
  const auto = ev["xaxis.autorange"];
  const [lo, hi] = xRange(ev);
  if (lo === undefined && !auto) return;
  clearTimeout(zoomTimer);
  zoomTimer = setTimeout(async () => {
    const q = auto ? "" : `from_ms=${Math.max(0, lo * 1000)}&to_ms=${hi * 1000}`;
    const resp = await fetch(url + (url.includes("?") ? "&" : "?") + q, { headers: { Accept: "application/json" } });
    if (!resp.ok) return;
    const figs = await resp.json();
    for (const [key, fig] of Object.entries(figs)) {
      const gd = document.getElementById("chart-" + key);
      if (!gd || !MS.figures[gd.id]) continue;
      MS.figures[gd.id].data = fig.data;
      Plotly.react(gd, fig.data, Object.assign({}, gd.layout));
    }
  }, 250);
}

/* ---------- stepping ---------- */
function setupStepper() {
  const box = document.getElementById("stepper");
  if (!box) return;
  const total = parseInt(box.dataset.steps, 10);
  const runUrl = box.dataset.runUrl;
  const scrubber = document.getElementById("scrubber");
  const number = document.getElementById("step-number");
  const speed = document.getElementById("speed");
  const playButton = box.querySelector('[data-action="play"]');
  const panel = document.getElementById("step-panel");
  let current = parseInt(box.dataset.step, 10);
  let timer = null;
  let inflight = null;
  const cache = new Map();

  function show(html, n) {
    panel.innerHTML = html;
    const art = panel.querySelector("[data-t-ms]");
    if (art) moveCursors(parseFloat(art.dataset.tMs));
    box.dataset.loaded = String(n);
  }

  async function load(n) {
    if (cache.has(n)) { show(cache.get(n), n); return; }
    if (inflight) inflight.abort();
    inflight = new AbortController();
    try {
      const resp = await fetch(`${runUrl}?step=${n}`, {
        headers: { "HX-Request": "true", "HX-Target": "step-panel" }, signal: inflight.signal,
      });
      if (!resp.ok) return;
      const html = await resp.text();
      if (cache.size > 500) cache.clear();
      cache.set(n, html);
      if (n === current) show(html, n);
    } catch (e) { /* aborted by a newer step */ }
  }

  function go(n) {
    n = Math.max(0, Math.min(total - 1, n));
    current = n;
    box.dataset.step = String(n);
    scrubber.value = String(n);
    number.textContent = String(n);
    const url = new URL(window.location.href);
    url.searchParams.set("step", String(n));
    history.replaceState(null, "", url);
    const share = document.getElementById("share-link");
    if (share) {
      const s = new URL(share.value, window.location.href);
      s.searchParams.set("step", String(n));
      share.value = s.toString();
    }
    document.dispatchEvent(new CustomEvent("migscope:step", { detail: { step: n } }));
    load(n);
  }

  function play() {
    if (timer) return pause();
    if (current >= total - 1) go(0);
    playButton.setAttribute("aria-pressed", "true");
    panel.setAttribute("aria-live", "off"); // no narration flood while playing
    playButton.textContent = "‖ Pause";
    playButton.setAttribute("aria-label", "Pause (Space)");
    const tick = () => {
      if (current >= total - 1) return pause();
      go(current + 1);
      timer = setTimeout(tick, 1000 / parseFloat(speed.value));
    };
    timer = setTimeout(tick, 1000 / parseFloat(speed.value));
  }
  function pause() {
    clearTimeout(timer); timer = null;
    panel.setAttribute("aria-live", "polite");
    playButton.setAttribute("aria-pressed", "false");
    playButton.textContent = "▶ Play";
    playButton.setAttribute("aria-label", "Play (Space)");
  }

  const actions = {
    first: () => go(0), back: () => go(current - 1), forward: () => go(current + 1),
    last: () => go(total - 1), play: play,
  };
  box.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-action]");
    if (b) actions[b.dataset.action]();
  });
  scrubber.addEventListener("input", () => go(parseInt(scrubber.value, 10)));
  document.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const t = ev.target;
    const typing = t.matches && t.matches("input:not([type=range]), textarea, select, [contenteditable]");
    if (typing) return;
    const onRange = t === scrubber;
    const map = { ArrowLeft: "back", ArrowRight: "forward", Home: "first", End: "last", " ": "play" };
    const action = map[ev.key];
    if (!action) return;
    if (ev.key === " " && t.matches && t.matches("button, a, summary")) {
      if (t.closest("#stepper") === null) return; // let Space press other buttons
    }
    ev.preventDefault();
    if (onRange && action !== "play") { actions[action](); return; }
    actions[action]();
  });
  MS.go = go;
  MS.step = () => current;
  const first = panel.querySelector("[data-t-ms]");
  if (first) moveCursors(parseFloat(first.dataset.tMs));
}

/* ---------- share link, simulate this ---------- */
function setupShare() {
  const button = document.getElementById("copy-share");
  if (!button) return;
  button.addEventListener("click", async () => {
    const input = document.getElementById("share-link");
    const status = document.getElementById("copy-status");
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = "Copied.";
    } catch (e) {
      input.select();
      status.textContent = "Press Ctrl+C to copy.";
    }
  });
}

function setupSimulateThis() {
  for (const form of document.querySelectorAll("form[data-simulate-this]")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      const status = document.createElement("span");
      status.setAttribute("role", "status");
      status.className = "progress";
      status.textContent = " simulating…";
      form.appendChild(status);
      const resp = await fetch(form.action, { method: "POST", headers: { Accept: "application/json" } });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        status.textContent = " " + (body.detail && body.detail.message ? body.detail.message : (body.message || body.detail || "failed"));
        button.disabled = false;
        return;
      }
      window.location.href = compareUrlFrom(body);
    });
  }
}

function compareUrlFrom(body) {
  if (typeof body.page === "string") return body.page;
  if (body.urls && body.urls.compare_page) return body.urls.compare_page;
  if (body.compare_url) return body.compare_url;
  const a = body.a && (body.a.id || body.a);
  const b = body.b && (body.b.id || body.b);
  return `/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
}
MS.compareUrlFrom = compareUrlFrom;

/* ---------- scenario form ---------- */
function setPath(obj, path, value) {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i], nextIsIndex = /^\d+$/.test(path[i + 1]);
    if (cur[key] === undefined) cur[key] = nextIsIndex ? [] : {};
    cur = cur[key];
  }
  cur[path[path.length - 1]] = value;
}

function formToScenario(form) {
  const doc = {};
  for (const el of form.querySelectorAll("[data-field]")) {
    if (el.disabled) continue;
    const path = el.name.split(".");
    let value;
    if (el.type === "checkbox" && el.dataset.kind === "cap") {
      if (!el.checked) continue;
      const list = path.slice(0, -1);
      const existing = list.reduce((o, k) => (o ? o[k] : undefined), doc);
      if (existing === undefined) setPath(doc, list, []);
      list.reduce((o, k) => o[k], doc).push(path[path.length - 1]);
      continue;
    } else if (el.type === "checkbox") {
      value = el.checked;
    } else {
      value = el.value.trim();
      if (value === "") continue; // empty: preset value or default
      if (el.dataset.kind === "number") {
        const n = Number(value);
        if (!Number.isNaN(n)) value = n;
      } else if (el.dataset.kind === "bytes" && /^\d+$/.test(value)) {
        value = Number(value);
      } else if (el.dataset.kind === "tristate") {
        if (value === "true") value = true; else if (value === "false") value = false; else continue;
      }
    }
    setPath(doc, path, value);
  }
  for (const kind of ["source", "destination"]) {
    doc.caps = doc.caps || {};
    if (!doc.caps[kind]) doc.caps[kind] = [];
  }
  if (doc.devices) doc.devices = doc.devices.filter((d) => d); // removed rows leave holes
  else doc.devices = [];
  return doc;
}
MS.formToScenario = formToScenario;

function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const box = form.querySelector(".form-errors");
  if (box) { box.innerHTML = ""; box.hidden = true; }
}

function errorPath(loc, form) {
  let parts = (loc || []).map(String);
  while (parts.length && ["body", "scenario", "overrides"].includes(parts[0])) parts = parts.slice(1);
  // Devices in the form may have holes (removed rows): map list index to the n-th row.
  if (parts[0] === "devices" && /^\d+$/.test(parts[1] || "")) {
    const rows = form.querySelectorAll(".device-row");
    const row = rows[parseInt(parts[1], 10)];
    if (row) parts[1] = row.dataset.index;
  }
  return parts.join(".");
}

function showErrors(form, detail) {
  const box = form.querySelector(".form-errors");
  const items = Array.isArray(detail) ? detail : (detail && detail.errors) || [{ loc: [], msg: (detail && detail.message) || String(detail) }];
  let firstField = null;
  for (const err of items) {
    const path = errorPath(err.loc, form);
    const msg = err.msg || err.message || "invalid";
    const field = path ? form.querySelector(`[name="${CSS.escape(path)}"]`) : null;
    const p = document.createElement("p");
    p.className = "field-error";
    p.textContent = msg;
    if (field) {
      p.id = "err-" + path.replace(/[^a-zA-Z0-9_-]/g, "-");
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", p.id);
      field.closest(".field, label, .device-row, fieldset").appendChild(p);
      firstField = firstField || field;
    } else {
      const li = document.createElement("li");
      li.textContent = (path ? path + ": " : "") + msg;
      box.appendChild(li);
      box.hidden = false;
    }
  }
  if (firstField) firstField.focus();
}

function setupScenarioForm() {
  const form = document.getElementById("scenario-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", (ev) => ev.preventDefault());
  form.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-submit]");
    if (b) { ev.preventDefault(); await submitScenario(form, b.dataset.submit); return; }
    const rm = ev.target.closest("button[data-remove-device]");
    if (rm) { ev.preventDefault(); const row = rm.closest(".device-row"); row.remove(); renumberDevices(form); }
  });
}

function renumberDevices(form) {
  const rows = form.querySelectorAll(".device-row");
  const count = form.querySelector("#device-count");
  if (count) count.textContent = String(rows.length);
}

async function submitScenario(form, action) {
  clearErrors(form);
  const buttons = form.querySelectorAll("button[data-submit]");
  buttons.forEach((b) => (b.disabled = true));
  try {
    const url = action === "compare" ? form.dataset.compareUrl : form.dataset.runUrl;
    await streamRun(url, formToScenario(form), document.getElementById("run-progress"), (detail) => showErrors(form, detail));
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// POST a scenario to a progress endpoint; show its progress lines; open the page it names.
async function streamRun(url, scenario, progress, onErrors) {
  const bar = progress.querySelector("progress");
  const label = progress.querySelector(".progress-text");
  progress.hidden = false;
  bar.value = 0;
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  label.textContent = "Simulating…";
  let done = false;
  try {
    const resp = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/x-ndjson, application/json" },
      body: JSON.stringify(scenario),
    });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({ detail: `error ${resp.status}` }));
      onErrors(body.detail !== undefined ? body.detail : body);
      return;
    }
    // One JSON object a line: {"progress": ...}, then {"done": ...} or {"error": ...}.
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line);
        if (msg.progress) {
          const p = msg.progress;
          bar.value = Math.min(1, (p.run - 1 + p.t_ms / p.max_time_ms) / p.runs);
          label.textContent = `${p.runs > 1 ? `run ${p.run} of ${p.runs}: ` : ""}simulated ${(p.t_ms / 1000).toFixed(1)} s ` +
            `(at most ${(p.max_time_ms / 1000).toFixed(0)} s), ${p.steps} steps, ${seconds()} s`;
        } else if (msg.error) {
          onErrors(msg.error.detail);
          return;
        } else if (msg.done) {
          done = true;
          bar.value = 1;
          label.textContent = "Done: opening…";
          window.location.href = msg.done.page;
          return;
        }
      }
      if (ended) break;
    }
    onErrors({ message: "the server stopped before the run was stored" });
  } catch (e) {
    onErrors({ message: `request failed: ${e}` });
  } finally {
    if (!done) progress.hidden = true;
  }
}

// Run page: "Compare switchover-ack on/off" runs this run's scenario twice.
function setupCompareThis() {
  const button = document.getElementById("compare-this");
  if (!button) return;
  button.addEventListener("click", async () => {
    const scenario = JSON.parse(document.getElementById("run-scenario").textContent);
    const status = document.getElementById("compare-this-status");
    button.disabled = true;
    await streamRun(button.dataset.url, scenario, document.getElementById("compare-this-progress"), (detail) => {
      const items = Array.isArray(detail) ? detail : [detail];
      status.textContent = items.map((e) => e.msg || e.message || String(e)).join("; ");
    });
    button.disabled = false;
  });
}

/* ---------- upload form ---------- */
function setupUpload() {
  const form = document.getElementById("upload-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = document.getElementById("upload-status");
    const limit = parseInt(form.dataset.maxBytes || "0", 10);
    for (const input of form.querySelectorAll("input[type=file]")) {
      for (const f of input.files) {
        if (limit && f.size > limit) {
          status.textContent = `${f.name} is ${f.size} bytes; the limit is ${limit} bytes per file.`;
          return;
        }
      }
    }
    clearErrors(form);
    status.textContent = "Uploading and importing…";
    const data = new FormData(form);
    for (const [key, value] of [...data.entries()]) {
      if (value === "" || (value instanceof File && !value.name)) data.delete(key); // leave blank fields out
    }
    const resp = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" } });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      status.textContent = "";
      showErrors(form, body.detail !== undefined ? body.detail : { message: body.message || `error ${resp.status}` });
      return;
    }
    status.textContent = "Imported: opening…";
    window.location.href = body.url || (body.urls && body.urls.page) || `/runs/${body.id}`;
  });
}

/* ---------- start ---------- */
function start() {
  let saved = false;
  try { saved = localStorage.getItem("migscope.presentation") === "1"; } catch (e) { /* ignore */ }
  if (saved) { document.body.classList.add("presentation"); document.documentElement.classList.add("presentation"); }
  const toggle = document.getElementById("presentation-toggle");
  if (toggle) {
    toggle.setAttribute("aria-pressed", saved ? "true" : "false");
    toggle.addEventListener("click", () => applyPresentation(!document.body.classList.contains("presentation")));
  }
  document.addEventListener("keydown", (ev) => {
    if ((ev.key === "p" || ev.key === "P") && !ev.ctrlKey && !ev.metaKey && !ev.altKey &&
        !(ev.target.matches && ev.target.matches("input, textarea, select, [contenteditable]"))) {
      applyPresentation(!document.body.classList.contains("presentation"));
    }
  });
  drawCharts(document);
  setupStepper();
  setupShare();
  setupSimulateThis();
  setupCompareThis();
  setupScenarioForm();
  setupUpload();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", start);
document.addEventListener("htmx:afterSettle", (ev) => {
  drawCharts(ev.target);
  setupScenarioForm();
  setupUpload();
});
