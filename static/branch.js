// "What if? Branch from this step" on the run page: follow the current step, show the
// parameters in force there as placeholders, POST /api/runs/{id}/branch, show a 422 next to
// its field, and open the comparison of the original (a) and the branch (b).
"use strict";

(function () {
  const FIELDS = ["downtime_limit_ms", "max_bandwidth_bytes_per_s", "avail_switchover_bandwidth_bytes_per_s"];

  // The same binary units as app.engine.units.format_bytes (QEMU's HMP style).
  function fmtBytes(n) {
    const units = [["TiB", 1024 ** 4], ["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]];
    for (const [unit, size] of units) {
      if (n >= size) {
        const v = n / size;
        return `${v < 100 ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
      }
    }
    return `${Math.round(n)} B`;
  }
  function fmtMs(ms) {
    if (Math.abs(ms) >= 10000) return `${(ms / 1000).toFixed(2)} s`;
    if (Math.abs(ms) >= 100) return `${ms.toFixed(0)} ms`;
    return `${ms.toFixed(1)} ms`;
  }

  // Parameters in force when an action at atMs applies: the scenario's, changed by its own
  // earlier set_parameters actions (the rule of app.web.api_branch.params_at).
  function paramsAt(state, atMs) {
    const now = Object.assign({}, state.base || state.params);
    const actions = (state.actions || []).slice().sort((x, y) => x.at_ms - y.at_ms);
    for (const a of actions) {
      if (a.at_ms > atMs) break;
      for (const key of FIELDS) if (a[key] !== null && a[key] !== undefined) now[key] = a[key];
    }
    return now;
  }

  function setup() {
    const form = document.getElementById("branch-form");
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    const state = JSON.parse(document.getElementById("branch-state").textContent);
    const kind = document.getElementById("branch-kind");
    const params = document.getElementById("branch-params");
    const late = document.getElementById("branch-late");
    const status = document.getElementById("branch-status");
    const submit = document.getElementById("branch-submit");
    const untilMs = form.dataset.untilMs === "" ? null : parseFloat(form.dataset.untilMs);

    function showStep(step, atMs) {
      form.dataset.step = String(step);
      form.dataset.atMs = String(atMs);
      document.getElementById("branch-step").textContent = String(step);
      document.getElementById("branch-at").textContent = fmtMs(atMs);
      const now = paramsAt(state, atMs);
      const text = {
        downtime_limit_ms: fmtMs(now.downtime_limit_ms),
        max_bandwidth_bytes_per_s: now.max_bandwidth_bytes_per_s ? `${fmtBytes(now.max_bandwidth_bytes_per_s)}/s` : "no limit",
        avail_switchover_bandwidth_bytes_per_s: now.avail_switchover_bandwidth_bytes_per_s
          ? `${fmtBytes(now.avail_switchover_bandwidth_bytes_per_s)}/s` : "0 (the measured bandwidth is used)",
      };
      for (const key of FIELDS) {
        const input = form.querySelector(`[name="action.${key}"]`);
        input.placeholder = key === "downtime_limit_ms" ? String(now[key]) : fmtBytes(now[key]);
        form.querySelector(`[data-now="${key}"]`).textContent = text[key];
      }
      // A hint only: the API decides from the stored phases (and says so in a 422).
      late.hidden = !(untilMs !== null && atMs >= untilMs);
    }

    function showKind() {
      const withParams = kind.value === "set_parameters";
      params.hidden = !withParams;
      for (const input of params.querySelectorAll("input")) input.disabled = !withParams;
    }
    kind.addEventListener("change", () => { clearErrors(); showKind(); });
    showKind();
    showStep(parseInt(form.dataset.step, 10), parseFloat(form.dataset.atMs));

    // The stepper swaps the step panel in place: follow the step it shows.
    const panel = document.getElementById("step-panel");
    if (panel) {
      new MutationObserver(() => {
        const art = panel.querySelector("article[data-step]");
        if (art) showStep(parseInt(art.dataset.step, 10), parseFloat(art.dataset.tMs));
      }).observe(panel, { childList: true });
    }

    function clearErrors() {
      for (const el of form.querySelectorAll(".field-error")) el.remove();
      for (const el of form.querySelectorAll("[aria-invalid]")) {
        el.removeAttribute("aria-invalid");
        el.setAttribute("aria-describedby", `branch-h-${el.name.split(".").pop()}`);
      }
      const box = document.getElementById("branch-errors");
      box.replaceChildren();
      box.hidden = true;
    }

    function showErrors(detail) {
      const box = document.getElementById("branch-errors");
      const items = Array.isArray(detail) ? detail : [{ loc: [], msg: (detail && (detail.message || detail)) || "failed" }];
      let first = null;
      for (const err of items) {
        const loc = (err.loc || []).map(String);
        const path = loc[0] === "body" ? loc.slice(1).join(".") : "";
        const field = path ? form.querySelector(`[name="${CSS.escape(path)}"]`) : null;
        const msg = String(err.msg || err.message || "invalid");
        if (field && !field.disabled) {
          const p = document.createElement("p");
          p.className = "field-error";
          p.id = "branch-err-" + path.replace(/[^a-zA-Z0-9_-]/g, "-");
          p.textContent = msg; // textContent: whatever the server echoes stays text
          field.setAttribute("aria-invalid", "true");
          field.setAttribute("aria-describedby", p.id);
          field.closest(".field").appendChild(p);
          first = first || field;
        } else {
          const li = document.createElement("li");
          li.textContent = (path && path !== "action" ? path + ": " : "") + msg;
          box.appendChild(li);
          box.hidden = false;
        }
      }
      if (first) first.focus();
    }

    function actionFromForm() {
      const action = { kind: kind.value };
      if (kind.value !== "set_parameters") return action;
      for (const key of FIELDS) {
        const input = form.querySelector(`[name="action.${key}"]`);
        const value = input.value.trim();
        if (value === "") continue;
        // Plain numbers go as numbers; "1 GiB" and the like as the text the API parses.
        action[key] = /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      }
      return action;
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors();
      submit.disabled = true;
      status.textContent = "Simulating the branch…";
      try {
        const resp = await fetch(form.dataset.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ at_step: parseInt(form.dataset.step, 10), action: actionFromForm() }),
        });
        const body = await resp.json().catch(() => ({ detail: `error ${resp.status}` }));
        if (!resp.ok) {
          status.textContent = "";
          showErrors(body.detail !== undefined ? body.detail : body);
          return;
        }
        status.textContent = "Done: opening the comparison…";
        window.location.href = body.compare;
      } catch (e) {
        status.textContent = "";
        showErrors({ message: `request failed: ${e}` });
      } finally {
        submit.disabled = false;
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
