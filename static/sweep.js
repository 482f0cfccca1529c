// The sweep page: points from the API drawn as a line (1 field), a heat map (2) or small
// multiples (3), with the output the user picks; hover shows the numbers; a contour marks
// where the ack saves more than the chosen ms; a click opens the point as stored runs.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("sweep-config").textContent);
  const holder = document.getElementById("sweep-charts");
  const picker = document.getElementById("sweep-output");
  const threshold = document.getElementById("sweep-threshold");
  const MAX_PANELS = 12;
  let points = new Map();

  function value(p, key) {
    if (!p) return null;
    if (key === "converged") {
      if (p.status === "invalid" || p.status === "error") return null;
      return p.status === "completed" && (p.off_status === null || p.off_status === "completed") ? 1 : 0;
    }
    return p[key];
  }

  function fmt(v, unit) {
    if (v === null || v === undefined) return "—";
    return unit === "ms" ? `${Math.round(v * 10) / 10} ms` : String(v);
  }

  function hoverText(p) {
    if (!p) return "not run yet";
    const where = config.axes.map((a, i) => `${a.path} = ${a.labels[a.values.indexOf(p.values[i])]}`).join("<br>");
    const lines = [where, `status: ${p.status}${p.off_status ? " (ack off: " + p.off_status + ")" : ""}`,
      `downtime with ack: ${fmt(p.downtime_ms, "ms")}`];
    if (config.compare_ack) {
      lines.push(`downtime without: ${fmt(p.off_downtime_ms, "ms")}`, `ack saves: ${fmt(p.ack_saves_ms, "ms")}`);
    }
    lines.push(`total time: ${fmt(p.total_time_ms, "ms")}`, `dirty syncs: ${p.dirty_sync_count ?? "—"}`);
    if (p.status === "invalid") lines.push(p.reason);
    return lines.join("<br>");
  }

  // Point index from coordinates: row-major, the first axis slowest (as app/sweeps/plan.py).
  function indexOf(coords) {
    let index = 0;
    config.axes.forEach((a, i) => { index = index * a.values.length + coords[i]; });
    return index;
  }

  function ticks(axis) {
    const n = axis.values.length;
    const every = Math.max(1, Math.ceil(n / 12));
    const vals = [...Array(n).keys()].filter((i) => i % every === 0 || i === n - 1);
    return { tickvals: vals, ticktext: vals.map((i) => axis.labels[i]), title: { text: axis.path } };
  }

  function grid(key, fixed) {
    // z[row][col]: rows = the second-to-last axis, columns = the last axis.
    const [ya, xa] = config.axes.slice(-2);
    const z = [], text = [], saves = [], ids = [];
    for (let r = 0; r < ya.values.length; r++) {
      z.push([]); text.push([]); saves.push([]); ids.push([]);
      for (let c = 0; c < xa.values.length; c++) {
        const index = indexOf([...fixed, r, c]);
        const p = points.get(index);
        z[r].push(value(p, key)); text[r].push(hoverText(p)); saves[r].push(p ? p.ack_saves_ms : null); ids[r].push(index);
      }
    }
    return { z, text, saves, ids, xa, ya };
  }

  function heatmap(div, key, fixed, title) {
    const g = grid(key, fixed);
    const data = [{
      type: "heatmap", z: g.z, text: g.text, customdata: g.ids, hoverinfo: "text", hoverongaps: false,
      colorscale: key === "ack_saves_ms" ? "RdBu" : "Viridis", zmid: key === "ack_saves_ms" ? 0 : undefined,
      colorbar: { title: { text: key === "converged" ? "" : "ms" } },
    }];
    if (threshold && config.compare_ack) {
      const level = Number(threshold.value) || 0;
      data.push({
        type: "contour", z: g.saves, hoverinfo: "skip", showscale: false, name: `ack saves > ${level} ms`,
        contours: { start: level, end: level, size: 1, coloring: "none", showlabels: true },
        line: { color: "#000", width: 2, dash: "dot" },
      });
    }
    const layout = {
      title: { text: title }, height: fixed.length ? 320 : 520, margin: { t: 40, l: 90, r: 20, b: 70 },
      xaxis: ticks(g.xa), yaxis: ticks(g.ya),
    };
    Plotly.react(div, data, layout, { responsive: true, displaylogo: false });
    div.removeAllListeners && div.removeAllListeners("plotly_click");
    div.on("plotly_click", (ev) => {
      const pt = ev.points && ev.points.find((q) => q.data.type === "heatmap");
      if (pt) openPoint(g.ids[pt.pointIndex[0]][pt.pointIndex[1]]);
    });
  }

  function line(div, key) {
    const a = config.axes[0];
    const idx = [...a.values.keys()];
    const ps = idx.map((i) => points.get(i));
    const data = [{
      type: "scatter", mode: "lines+markers", x: idx, y: ps.map((p) => value(p, key)), text: ps.map(hoverText),
      customdata: idx, hoverinfo: "text", name: key,
    }];
    const layout = { height: 460, margin: { t: 30, l: 80, r: 20, b: 70 }, xaxis: ticks(a),
      yaxis: { title: { text: key === "converged" ? "converged" : "ms" } } };
    Plotly.react(div, data, layout, { responsive: true, displaylogo: false });
    div.removeAllListeners && div.removeAllListeners("plotly_click");
    div.on("plotly_click", (ev) => { if (ev.points && ev.points.length) openPoint(ev.points[0].customdata); });
  }

  async function openPoint(index) {
    if (!points.has(index)) return;
    const everyPass = document.getElementById("sweep-every-pass");
    if (!everyPass || !everyPass.checked) {
      window.location.href = config.point_url + index; // the point's own (permalink) runs
      return;
    }
    // Ticked: new runs with one step per pass, made by a POST (a GET never stores anything
    // new); the point's own runs stay collapsed.
    const status = document.getElementById("sweep-every-pass-status");
    status.textContent = "Simulating every pass of the point…";
    const resp = await fetch(config.point_run_url_prefix + index + "/run", {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ every_pass: true }),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      status.textContent = body.message || `The point could not be opened (HTTP ${resp.status}).`;
      return;
    }
    window.location.href = body.compare || body.run;
  }

  function draw() {
    const key = picker.value;
    document.getElementById("sweep-empty").hidden = points.size > 0;
    if (config.axes.length === 1) {
      const div = panel(0);
      line(div, key);
    } else if (config.axes.length === 2) {
      heatmap(panel(0), key, [], "");
    } else {
      const first = config.axes[0];
      const shown = Math.min(first.values.length, MAX_PANELS);
      const note = document.getElementById("sweep-panels-note");
      note.hidden = first.values.length <= MAX_PANELS;
      note.textContent = `The first ${MAX_PANELS} of ${first.values.length} values of ${first.path} are drawn; the CSV has every point.`;
      for (let i = 0; i < shown; i++) heatmap(panel(i), key, [i], `${first.path} = ${first.labels[i]}`);
    }
  }

  function panel(i) {
    let div = document.getElementById(`sweep-chart-${i}`);
    if (!div) {
      div = document.createElement("div");
      div.id = `sweep-chart-${i}`;
      div.className = "chart sweep-chart";
      holder.appendChild(div);
    }
    return div;
  }

  async function load() {
    const resp = await fetch(config.points_url, { headers: { Accept: "application/json" } });
    if (!resp.ok) return;
    const body = await resp.json();
    points = new Map(body.items.map((p) => [p.index, p]));
    draw();
    holder.dataset.loaded = String(points.size);
  }

  function follow() {
    if (!["queued", "running"].includes(config.status) || !window.EventSource) return;
    const source = new EventSource(config.events_url);
    let last = 0;
    source.onmessage = (ev) => {
      const state = JSON.parse(ev.data);
      document.getElementById("sweep-done").textContent = state.done_count;
      document.getElementById("sweep-progress").value = state.done_count;
      const badge = document.getElementById("sweep-status");
      badge.textContent = state.status;
      badge.dataset.status = state.status;
      const finished = !["queued", "running"].includes(state.status);
      if (finished) { source.close(); const c = document.getElementById("sweep-cancel"); if (c) c.hidden = true; }
      if (finished || Date.now() - last > 2000) { last = Date.now(); load(); }
    };
  }

  const cancel = document.getElementById("sweep-cancel");
  if (cancel) {
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      await fetch(cancel.dataset.url, { method: "POST", headers: { Accept: "application/json" } });
    });
  }
  picker.addEventListener("change", draw);
  if (threshold) threshold.addEventListener("change", draw);
  load().then(follow);
})();
