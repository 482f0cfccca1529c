// The New run form: builds the same JSON document POST /api/runs takes, runs or compares it
// with progress, shows 422s inline; devices are added (htmx) and removed in place.
import { byId } from "./dom.js";
import { clearErrors, showErrors } from "./errors.js";
import { streamRun } from "./progress.js";

function setPath(obj, path, value) {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i += 1) {
    const key = path[i];
    if (cur[key] === undefined) cur[key] = /^\d+$/.test(path[i + 1]) ? [] : {};
    cur = cur[key];
  }
  cur[path[path.length - 1]] = value;
}

function fieldValue(el) {
  const value = el.value.trim();
  if (value === "") return undefined; // empty: preset value or default
  const kind = el.dataset.kind;
  if (kind === "number") {
    const n = Number(value);
    return Number.isNaN(n) ? value : n;
  }
  if (kind === "bytes" && /^\d+$/.test(value)) return Number(value);
  if (kind === "tristate") return value === "true" ? true : value === "false" ? false : undefined;
  return value;
}

export function formToScenario(form) {
  const doc = { caps: {} };
  for (const el of form.querySelectorAll("[data-field]")) {
    if (el.disabled) continue;
    const path = el.name.split(".");
    if (el.type === "checkbox" && el.dataset.kind === "cap") {
      if (!el.checked) continue;
      const [, side, cap] = path;
      (doc.caps[side] = doc.caps[side] || []).push(cap);
      continue;
    }
    const value = el.type === "checkbox" ? el.checked : fieldValue(el);
    if (value !== undefined) setPath(doc, path, value);
  }
  for (const side of ["source", "destination"]) doc.caps[side] = doc.caps[side] || [];
  doc.devices = (doc.devices || []).filter((d) => d); // removed rows leave holes
  return doc;
}

// The run request: the scenario plus how its steps are stored (not a scenario field, so the
// sweep starter, which sends formToScenario alone, never sends it).
export function runRequest(form) {
  const everyPass = form.querySelector("#every-pass");
  return { ...formToScenario(form), every_pass: Boolean(everyPass && everyPass.checked) };
}

function nextDeviceIndex() {
  const rows = [...document.querySelectorAll(".device-row")];
  return rows.length ? Math.max(...rows.map((r) => Number(r.dataset.index))) + 1 : 0;
}

async function submitScenario(form, action) {
  clearErrors(form);
  const buttons = form.querySelectorAll("button[data-submit]");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const url = action === "compare" ? form.dataset.compareUrl : form.dataset.runUrl;
    await streamRun(url, runRequest(form), byId("run-progress"), (detail) => showErrors(form, detail));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

export function setupScenarioForm() {
  const form = byId("scenario-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", (ev) => ev.preventDefault());
  form.addEventListener("click", async (ev) => {
    const submit = ev.target.closest("button[data-submit]");
    if (submit) {
      ev.preventDefault();
      await submitScenario(form, submit.dataset.submit);
      return;
    }
    const remove = ev.target.closest("button[data-remove-device]");
    if (remove) {
      ev.preventDefault();
      remove.closest(".device-row").remove();
      const count = byId("device-count");
      if (count) count.textContent = String(form.querySelectorAll(".device-row").length);
    }
  });
}

// "Add a device" asks for the row with the next free index (no inline script: the CSP forbids it).
document.addEventListener("htmx:configRequest", (ev) => {
  if (ev.detail.elt && ev.detail.elt.matches("[data-add-device]")) ev.detail.parameters.index = nextDeviceIndex();
});
document.addEventListener("htmx:afterSettle", () => {
  const form = byId("scenario-form");
  const count = byId("device-count");
  if (form && count) count.textContent = String(form.querySelectorAll(".device-row").length);
});
