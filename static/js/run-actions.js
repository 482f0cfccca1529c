// Run page buttons that start new runs: "Compare switchover-ack on/off" (this run's scenario
// twice, with progress) and "Simulate this" (an imported run: derive, simulate, compare).
import { byId, readJson } from "./dom.js";
import { streamRun } from "./progress.js";

function compareUrlFrom(body) {
  if (typeof body.page === "string") return body.page;
  if (body.urls && body.urls.compare_page) return body.urls.compare_page;
  if (body.compare_url) return body.compare_url;
  const a = body.a && (body.a.id || body.a);
  const b = body.b && (body.b.id || body.b);
  return `/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
}

function setupCompareThis() {
  const button = byId("compare-this");
  if (!button) return;
  button.addEventListener("click", async () => {
    const status = byId("compare-this-status");
    button.disabled = true;
    await streamRun(button.dataset.url, readJson("run-scenario"), byId("compare-this-progress"), (detail) => {
      const items = Array.isArray(detail) ? detail : [detail];
      status.textContent = items.map((e) => e.msg || e.message || String(e)).join("; ");
    });
    button.disabled = false;
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
        const detail = body.detail && body.detail.message ? body.detail.message : (body.message || body.detail || "failed");
        status.textContent = ` ${detail}`;
        button.disabled = false;
        return;
      }
      window.location.href = compareUrlFrom(body);
    });
  }
}

export function setupRunActions() {
  setupCompareThis();
  setupSimulateThis();
}
