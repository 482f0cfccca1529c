// Field errors next to their field (a 422's `loc`), or listed above the form.

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const box = form.querySelector(".form-errors");
  if (box) { box.replaceChildren(); box.hidden = true; }
}

function errorPath(loc, form) {
  let parts = (loc || []).map(String);
  while (parts.length && ["body", "scenario", "overrides"].includes(parts[0])) parts = parts.slice(1);
  // Devices in the form may have holes (removed rows): map the list index to the n-th row.
  if (parts[0] === "devices" && /^\d+$/.test(parts[1] || "")) {
    const row = form.querySelectorAll(".device-row")[Number.parseInt(parts[1], 10)];
    if (row) parts[1] = row.dataset.index;
  }
  return parts.join(".");
}

export function showErrors(form, detail) {
  const box = form.querySelector(".form-errors");
  const items = Array.isArray(detail) ? detail
    : (detail && detail.errors) || [{ loc: [], msg: (detail && detail.message) || String(detail) }];
  let firstField = null;
  for (const err of items) {
    const path = errorPath(err.loc, form);
    const msg = String(err.msg || err.message || "invalid");
    const field = path ? form.querySelector(`[name="${CSS.escape(path)}"]`) : null;
    if (field) {
      const p = document.createElement("p");
      p.className = "field-error";
      p.textContent = msg; // text, never HTML: the server may echo what the user typed
      p.id = `err-${path.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", p.id);
      field.closest(".field, label, .device-row, fieldset").appendChild(p);
      firstField = firstField || field;
    } else if (box) {
      const li = document.createElement("li");
      li.textContent = (path ? `${path}: ` : "") + msg;
      box.appendChild(li);
      box.hidden = false;
    }
  }
  if (firstField) firstField.focus();
}
