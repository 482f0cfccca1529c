// Charts: drawn once with Plotly.react (fixed uirevision keeps the reader's zoom); stepping
// moves the cursor (and teaching mode's curtain) with Plotly.relayout on those shapes only,
// never re-rendering the traces. Time charts share one x axis; a zoom re-asks the server for
// the series of the visible range and merges it with what is drawn; a marker click jumps to
// its step.
import { byId, readJson } from "./dom.js";

const Plotly = () => window.Plotly;
const charts = new Map(); // chart div id -> { fig, cursor, curtain, base }
let revealing = false;
let cursorSeconds = 0;
let onPick = null; // set by the stepper: (step) => go(step)
const SCALE = 1.4;
const TIME_CHART = (id) => !id.startsWith("chart-downtime");

/** Called by the stepper: where a marker click should take the reader. */
export function onMarkerPick(fn) { onPick = fn; }

function shapeIndex(fig, name) {
  return (fig.layout.shapes || []).findIndex((s) => s.name === name);
}

// The sizes at normal scale, so presentation mode can scale them and scale back.
function baseSizes(fig) {
  return {
    height: fig.layout.height || 360,
    font: (fig.layout.font && fig.layout.font.size) || 13,
    annotations: (fig.layout.annotations || []).map((a) => (a.font && a.font.size) || 12),
    shifts: (fig.layout.annotations || []).map((a) => a.yshift || 0),
    markers: fig.data.map((t) => (t.marker && typeof t.marker.size === "number" ? t.marker.size : null)),
  };
}

function scaled(base, on) {
  const k = on ? SCALE : 1;
  // width null + autosize: the chart takes its container's width (Plotly would pin the old one).
  const layout = {
    "font.size": Math.round(base.font * k), height: Math.round(base.height * (on ? 1.25 : 1)), width: null, autosize: true,
  };
  base.annotations.forEach((size, i) => { layout[`annotations[${i}].font.size`] = Math.round(size * k); });
  base.shifts.forEach((shift, i) => { if (shift) layout[`annotations[${i}].yshift`] = Math.round(shift * k); });
  layout["margin.t"] = Math.round(40 * k);
  const traces = [];
  const sizes = [];
  base.markers.forEach((size, i) => { if (size !== null) { traces.push(i); sizes.push(Math.round(size * k)); } });
  return { layout, traces, sizes };
}

function applyScale(gd, base, on) {
  const { layout, traces, sizes } = scaled(base, on);
  const plotly = Plotly();
  const done = plotly.relayout(gd, layout);
  const restyled = traces.length ? done.then(() => plotly.restyle(gd, { "marker.size": sizes }, traces)) : done;
  // The page's grid changes with the type size: fit the chart to its new width.
  return restyled.then(() => plotly.Plots.resize(gd));
}

/** Presentation mode on or off: every chart's fonts, labels and markers. */
export function scaleCharts(on) {
  for (const [id, entry] of charts) {
    const gd = byId(id);
    if (gd) applyScale(gd, entry.base, on);
  }
}

function narrow() { return window.matchMedia("(max-width: 700px)").matches; }

/** Draw every chart under root whose figure JSON is on the page. */
export function drawCharts(root = document) {
  const plotly = Plotly();
  const divs = root.querySelectorAll(".chart[data-figure]");
  if (!divs.length || !plotly) return Promise.resolve();
  const big = document.documentElement.classList.contains("presentation");
  const drawn = [];
  for (const div of divs) {
    const fig = readJson(div.dataset.figure);
    if (!fig) continue;
    // The title goes above the chart as text: it wraps on a phone and the toolbar never covers it.
    const title = fig.layout.title && fig.layout.title.text;
    if (title && !div.previousElementSibling?.classList.contains("chart-title")) {
      const heading = document.createElement("p");
      heading.className = "chart-title";
      heading.textContent = title.replace(/<[^>]*>/g, "");
      div.before(heading);
    }
    if (title) {
      fig.layout.title = { text: "" };
      fig.layout.margin = { ...(fig.layout.margin || {}), t: 40 };
    }
    if (narrow()) {
      // Phones: the legend goes under the plot at its full height (the chart grows by a line per
      // entry), never with an inner scrollbar; fewer ticks; the right axis keeps its room.
      const entries = fig.data.filter((t) => t.showlegend !== false).length;
      fig.layout.legend = { ...(fig.layout.legend || {}), orientation: "h", font: { size: 11 } };
      fig.layout.height = (fig.layout.height || 360) + 22 * entries;
      const rightAxis = fig.layout.yaxis2 && fig.layout.yaxis2.side === "right";
      fig.layout.margin = { ...(fig.layout.margin || {}), l: 48, r: rightAxis ? 52 : 16 };
      fig.layout.xaxis = { ...(fig.layout.xaxis || {}), nticks: 5 };
    }
    const base = baseSizes(fig);
    // No toolbar: it covered titles and labels; drag zooms, a double click or "Whole run" resets.
    const config = { responsive: true, displaylogo: false, displayModeBar: false };
    const initial = fig.layout.xaxis && fig.layout.xaxis.range ? fig.layout.xaxis.range.slice() : null;
    const entry = { fig, base, initial, cursor: shapeIndex(fig, "cursor"), curtain: shapeIndex(fig, "curtain") };
    charts.set(div.id, entry);
    const p = plotly.react(div, fig.data, fig.layout, config).then(() => {
      div.classList.add("drawn");
      if (big) return applyScale(div, base, true);
      return null;
    });
    drawn.push(p);
    if (!div.dataset.hooked) {
      div.dataset.hooked = "1";
      div.on("plotly_relayout", (ev) => { onZoom(div, ev); syncTimeAxes(div, ev); });
      div.on("plotly_click", (ev) => {
        const point = (ev.points || []).find((pt) => Number.isInteger(pt.customdata));
        if (point && onPick) onPick(point.customdata);
      });
    }
  }
  return Promise.all(drawn);
}

function cursorUpdate(entry) {
  const update = {};
  if (entry.cursor >= 0) {
    update[`shapes[${entry.cursor}].x0`] = cursorSeconds;
    update[`shapes[${entry.cursor}].x1`] = cursorSeconds;
  }
  if (entry.curtain >= 0) {
    update[`shapes[${entry.curtain}].x0`] = cursorSeconds;
    update[`shapes[${entry.curtain}].visible`] = revealing;
  }
  return update;
}

// The SVG path Plotly drew for shape k (shapes carry data-index), or null.
function shapePath(gd, k) {
  return gd.querySelector(`.shapelayer path[data-index="${k}"]`);
}

// Move the cursor and curtain paths in place: Plotly.relayout on a shape redraws every shape
// and the range slider (~40 ms a chart); here the layout is updated quietly (a later redraw,
// such as a zoom, draws them where they are now) and only the two paths' geometry changes.
function moveInPlace(gd, entry) {
  const full = gd._fullLayout;
  const cursor = entry.cursor >= 0 ? shapePath(gd, entry.cursor) : null;
  const needsCurtain = entry.curtain >= 0 && revealing;
  const curtain = needsCurtain ? shapePath(gd, entry.curtain) : null;
  if (!full || !full.xaxis || (entry.cursor >= 0 && !cursor) || (needsCurtain && !curtain)) return false;
  if (entry.curtain >= 0 && !revealing && gd.layout.shapes[entry.curtain].visible) return false;
  const xa = full.xaxis;
  const { t, h } = full._size;
  const px = Math.max(xa._offset, Math.min(xa._offset + xa._length, xa._offset + xa.l2p(cursorSeconds)));
  const setX = (shapes, k, x0, x1) => {
    if (!shapes || !shapes[k]) return;
    shapes[k].x0 = x0;
    if (x1 !== undefined) shapes[k].x1 = x1;
  };
  if (cursor) {
    setX(gd.layout.shapes, entry.cursor, cursorSeconds, cursorSeconds);
    setX(full.shapes, entry.cursor, cursorSeconds, cursorSeconds);
    cursor.setAttribute("d", `M${px},${t + h}L${px},${t}`);
  }
  if (curtain) {
    setX(gd.layout.shapes, entry.curtain, cursorSeconds);
    setX(full.shapes, entry.curtain, cursorSeconds);
    const right = xa._offset + xa._length;
    curtain.setAttribute("d", `M${px},${t + h}H${Math.max(px, right)}V${t}H${px}Z`);
  }
  return true;
}

/** Move every chart's cursor (and the curtain, when revealing) to a time in ms. */
export function moveCursors(tMs) {
  cursorSeconds = tMs / 1000;
  const plotly = Plotly();
  if (!plotly) return Promise.resolve();
  const moves = [];
  for (const [id, entry] of charts) {
    const gd = byId(id);
    if (!gd || !gd.layout || moveInPlace(gd, entry)) continue;
    const update = cursorUpdate(entry);
    if (Object.keys(update).length) moves.push(plotly.relayout(gd, update));
  }
  return Promise.all(moves);
}

/** Teaching mode: hide what comes after the cursor (the overview strip still shows the run). */
export function setReveal(on) {
  revealing = on;
  const moves = [];
  for (const [id, entry] of charts) {
    const gd = byId(id);
    if (gd && gd.layout) moves.push(Plotly().relayout(gd, cursorUpdate(entry)));
  }
  return Promise.all(moves);
}

// A relayout event names the new x range either way: mouse zoom or Plotly.relayout({"xaxis.range": ...}).
function xRange(ev) {
  if (Array.isArray(ev["xaxis.range"])) return ev["xaxis.range"];
  return [ev["xaxis.range[0]"], ev["xaxis.range[1]"]];
}

let syncing = false;
function syncTimeAxes(source, ev) {
  if (syncing || !TIME_CHART(source.id)) return;
  const [lo, hi] = xRange(ev);
  const auto = ev["xaxis.autorange"];
  if (lo === undefined && !auto) return;
  const entry = charts.get(source.id);
  const whole = entry.fig.whole_range || entry.initial;
  const update = !auto ? { "xaxis.range": [lo, hi] } : whole ? { "xaxis.range": whole.slice() } : { "xaxis.autorange": true };
  syncing = true;
  const others = [...charts.keys()].filter((id) => id !== source.id && TIME_CHART(id));
  Promise.all(others.map((id) => Plotly().relayout(id, update))).finally(() => { syncing = false; });
}

/** Zoom every time chart to "story" (where the decisions happen) or "whole" (the whole run). */
export function showRange(which) {
  const first = [...charts.entries()].find(([id]) => TIME_CHART(id));
  if (!first) return null;
  const range = which === "story" ? first[1].fig.story_range : first[1].fig.whole_range;
  if (!range) return null;
  return Plotly().relayout(first[0], { "xaxis.range": range.slice() });
}

// Keep the points drawn outside the fetched window, take the fetched ones inside it.
function merge(old, fresh, lo, hi) {
  if (!old || !Array.isArray(old.x) || !Array.isArray(fresh.x) || old.x.includes(null)) return fresh;
  const pts = [];
  old.x.forEach((x, i) => { if (x < lo || x > hi) pts.push([x, old.y[i]]); });
  fresh.x.forEach((x, i) => pts.push([x, fresh.y[i]]));
  pts.sort((p, q) => p[0] - q[0]);
  return { ...fresh, x: pts.map((p) => p[0]), y: pts.map((p) => p[1]) };
}

let zoomTimer = null;
function onZoom(div, ev) {
  const stepper = byId("stepper");
  const url = stepper && stepper.dataset.seriesUrl;
  if (!url || (div.id !== "chart-devices" && div.id !== "chart-ram")) return;
  const auto = ev["xaxis.autorange"];
  const [lo, hi] = xRange(ev);
  if (lo === undefined && !auto) return;
  clearTimeout(zoomTimer);
  zoomTimer = setTimeout(async () => {
    const query = auto ? "" : `from_ms=${Math.max(0, lo * 1000)}&to_ms=${hi * 1000}`;
    const resp = await fetch(url + (url.includes("?") ? "&" : "?") + query, { headers: { Accept: "application/json" } });
    if (!resp.ok) return;
    const figs = await resp.json();
    for (const [key, fig] of Object.entries(figs)) {
      const gd = byId(`chart-${key}`);
      if (!gd || !charts.has(gd.id)) continue;
      const data = auto ? fig.data : fig.data.map((trace, i) => merge(gd.data[i], trace, lo, hi));
      Plotly().react(gd, data, gd.layout);
    }
  }, 250);
}
