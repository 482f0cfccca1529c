// Stepping through a run: buttons, keys, scrubber, play, the key-event timeline and chart
// markers. A step change updates the URL and the share link, swaps the step panel (HTML from
// the server, cached, the next one prefetched) and moves the chart cursors; it dispatches
// "migscope:step" (detail.step) for the presenter, the branch panel and teaching mode.
import { byId, isTyping } from "./dom.js";
import { moveCursors, onMarkerPick } from "./charts.js";

/** Filled in by setupStepper: go(n) and the current step, for the other modules. */
export const stepper = { go: null, current: () => 0, applying: false };

export function setupStepper() {
  const box = byId("stepper");
  if (!box) return;
  const total = Number.parseInt(box.dataset.steps, 10);
  const runUrl = box.dataset.runUrl;
  const scrubber = byId("scrubber");
  const number = byId("step-number");
  const speed = byId("speed");
  const playButton = box.querySelector('[data-action="play"]');
  const panel = byId("step-panel");
  let current = Number.parseInt(box.dataset.step, 10);
  let timer = null;
  let inflight = null;
  const cache = new Map();

  function show(html, n) {
    panel.innerHTML = html;
    const art = panel.querySelector("[data-t-ms]");
    const moved = art ? moveCursors(Number.parseFloat(art.dataset.tMs)) : Promise.resolve();
    box.dataset.loaded = String(n);
    moved.then(() => {
      performance.mark(`migscope:shown:${n}`);
      try { performance.measure("migscope:step", `migscope:go:${n}`, `migscope:shown:${n}`); } catch { /* no start mark */ }
    });
    panel.dispatchEvent(new CustomEvent("migscope:panel", { bubbles: true, detail: { step: n } }));
  }

  async function fetchPanel(n) {
    const resp = await fetch(`${runUrl}?step=${n}`, {
      headers: { "HX-Request": "true", "HX-Target": "step-panel" }, signal: inflight ? inflight.signal : undefined,
    });
    if (!resp.ok) return null;
    const html = await resp.text();
    if (cache.size > 500) cache.clear();
    cache.set(n, html);
    return html;
  }

  const prefetching = new Map(); // step -> promise of its HTML (or null)
  function prefetch(n) {
    if (n < 0 || n >= total || cache.has(n) || prefetching.has(n)) return;
    const request = fetch(`${runUrl}?step=${n}`, { headers: { "HX-Request": "true", "HX-Target": "step-panel" } })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => { if (html !== null && !cache.has(n)) cache.set(n, html); return html; })
      .catch(() => null) // a prefetch may fail: the step loads when asked
      .finally(() => prefetching.delete(n));
    prefetching.set(n, request);
  }

  async function load(n) {
    if (!cache.has(n) && prefetching.has(n)) await prefetching.get(n);
    if (n !== current) return;
    if (cache.has(n)) { show(cache.get(n), n); prefetch(n + 1); prefetch(n - 1); return; }
    if (inflight) inflight.abort();
    inflight = new AbortController();
    try {
      const html = await fetchPanel(n);
      if (html !== null && n === current) { show(html, n); prefetch(n + 1); prefetch(n - 1); }
    } catch { /* aborted by a newer step */ }
  }

  function go(n) {
    const target = Math.max(0, Math.min(total - 1, n));
    current = target;
    performance.mark(`migscope:go:${target}`);
    box.dataset.step = String(target);
    scrubber.value = String(target);
    number.textContent = String(target);
    const url = new URL(window.location.href);
    url.searchParams.set("step", String(target));
    history.replaceState(null, "", url);
    const share = byId("share-link");
    if (share) {
      const link = new URL(share.value, window.location.href);
      link.searchParams.set("step", String(target));
      share.value = link.toString();
    }
    document.dispatchEvent(new CustomEvent("migscope:step", { detail: { step: target } }));
    load(target);
  }

  function pause() {
    clearTimeout(timer);
    timer = null;
    panel.setAttribute("aria-live", "polite");
    playButton.setAttribute("aria-pressed", "false");
    playButton.textContent = "▶ Play";
    playButton.setAttribute("aria-label", "Play (Space)");
  }
  function play() {
    if (timer) { pause(); return; }
    if (current >= total - 1) go(0);
    playButton.setAttribute("aria-pressed", "true");
    panel.setAttribute("aria-live", "off"); // no narration flood while playing
    playButton.textContent = "‖ Pause";
    playButton.setAttribute("aria-label", "Pause (Space)");
    const tick = () => {
      if (current >= total - 1) { pause(); return; }
      go(current + 1);
      timer = setTimeout(tick, 1000 / Number.parseFloat(speed.value));
    };
    timer = setTimeout(tick, 1000 / Number.parseFloat(speed.value));
  }

  const actions = {
    first: () => go(0), back: () => go(current - 1), forward: () => go(current + 1), last: () => go(total - 1), play,
  };
  box.addEventListener("click", (ev) => {
    const button = ev.target.closest("[data-action]");
    if (button) actions[button.dataset.action]();
  });
  document.addEventListener("click", (ev) => {
    const jump = ev.target.closest("[data-goto-step]");
    if (jump) go(Number.parseInt(jump.dataset.gotoStep, 10));
  });
  scrubber.addEventListener("input", () => go(Number.parseInt(scrubber.value, 10)));
  document.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || isTyping(ev.target)) return;
    const keys = { ArrowLeft: "back", ArrowRight: "forward", Home: "first", End: "last", " ": "play" };
    const action = keys[ev.key];
    if (!action) return;
    const t = ev.target;
    if (ev.key === " " && t.matches && t.matches("button, a, summary, input[type=checkbox]") && t.closest("#stepper") === null) {
      return; // let Space press other buttons
    }
    ev.preventDefault();
    actions[action]();
  });
  onMarkerPick((n) => go(n));
  stepper.go = go;
  stepper.current = () => current;
  // A ?step= the server corrected (out of range, not a number): the address bar says which.
  const url = new URL(window.location.href);
  if (url.searchParams.has("step") && url.searchParams.get("step") !== String(current)) {
    url.searchParams.set("step", String(current));
    history.replaceState(null, "", url);
  }
  const first = panel.querySelector("[data-t-ms]");
  if (first) moveCursors(Number.parseFloat(first.dataset.tMs));
  prefetch(current + 1);
}
