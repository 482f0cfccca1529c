// The upload form for real QEMU logs: size check before sending, 422s inline.
import { byId } from "./dom.js";
import { clearErrors, showErrors } from "./errors.js";

export function setupUpload() {
  const form = byId("upload-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = byId("upload-status");
    for (const input of form.querySelectorAll("input[type=file]")) {
      // A migscope trace has a limit of its own (data-max-bytes on its input).
      const limit = Number.parseInt(input.dataset.maxBytes || form.dataset.maxBytes || "0", 10);
      for (const f of input.files) {
        if (limit && f.size > limit) {
          const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;
          // Name the field, as the server's 413 does (loc body.<field>).
          const label = form.querySelector(`label[for="${input.id}"]`);
          const field = label ? label.textContent.trim() : input.name;
          status.textContent = `${field}: ${f.name} is ${mib(f.size)}; the limit for this field is ${mib(limit)}.`;
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
