// Copy buttons for the share link (run and compare pages).
import { byId } from "./dom.js";

export function setupShare() {
  const button = byId("copy-share");
  if (!button) return;
  button.addEventListener("click", async () => {
    const input = byId("share-link");
    const status = byId("copy-status");
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = "Copied.";
    } catch {
      input.select();
      status.textContent = "Press Ctrl+C to copy.";
    }
  });
}
