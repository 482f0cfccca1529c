// "What if? Branch from this step": follows the step shown (the step panel carries the
// parameters in force there, formatted by the server), POSTs /api/runs/{id}/branch, shows a
// 422 next to its field and opens the comparison of the original (A) and the branch (B).
import { byId } from "./dom.js";

export function setupBranch() {
  const form = byId("branch-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  const kind = byId("branch-kind");
  const params = byId("branch-params");
  const status = byId("branch-status");
  const submit = byId("branch-submit");
  const errors = byId("branch-errors");
  // The parameters are the panel's inputs (templates/_branch.html, one per parameter of
  // app.engine.branch.PARAMETER_FIELDS): no second list of names here.
  const FIELDS = [...params.querySelectorAll('input[name^="action."]')].map((el) => el.name.slice("action.".length));

  function showStep(now) {
    form.dataset.step = String(now.step);
    form.dataset.atMs = String(now.at_ms);
    byId("branch-step").textContent = String(now.step);
    byId("branch-at").textContent = now.at;
    for (const key of FIELDS) {
      form.querySelector(`[name="action.${key}"]`).placeholder = now.placeholders[key];
      form.querySelector(`[data-now="${key}"]`).textContent = now.now[key];
    }
    byId("branch-late").hidden = !now.late;
  }

  function showKind() {
    const withParams = kind.value === "set_parameters";
    params.hidden = !withParams;
    for (const input of params.querySelectorAll("input")) input.disabled = !withParams;
  }

  function clearErrors() {
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.setAttribute("aria-describedby", `branch-h-${el.name.split(".").pop()}`);
    }
    errors.replaceChildren();
    errors.hidden = true;
  }

  function showErrors(detail) {
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
        p.id = `branch-err-${path.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
        p.textContent = msg; // text: whatever the server echoes stays text
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", p.id);
        field.closest(".field").appendChild(p);
        first = first || field;
      } else {
        const li = document.createElement("li");
        li.textContent = (path && path !== "action" ? `${path}: ` : "") + msg;
        errors.appendChild(li);
        errors.hidden = false;
      }
    }
    if (first) first.focus();
  }

  function actionFromForm() {
    const action = { kind: kind.value };
    if (kind.value !== "set_parameters") return action;
    for (const key of FIELDS) {
      const value = form.querySelector(`[name="action.${key}"]`).value.trim();
      if (value === "") continue;
      // Plain numbers go as numbers; "1 GiB" and the like as the text the API parses.
      action[key] = /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    }
    return action;
  }

  kind.addEventListener("change", () => { clearErrors(); showKind(); });
  showKind();
  // The stepper swaps the step panel: its article carries this step's parameters.
  document.addEventListener("migscope:panel", () => {
    const art = document.querySelector("#step-panel article[data-branch]");
    if (art) showStep(JSON.parse(art.dataset.branch));
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    submit.disabled = true;
    status.textContent = "Simulating the branch…";
    try {
      const resp = await fetch(form.dataset.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ at_step: Number.parseInt(form.dataset.step, 10), action: actionFromForm() }),
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
