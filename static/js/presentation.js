// Presentation mode (button or key P): large type for projectors, charts included: fonts,
// marker sizes and event labels scale with the page; the choice is remembered.
import { byId, isTyping, prefs } from "./dom.js";
import { scaleCharts } from "./charts.js";

export const isOn = () => document.documentElement.classList.contains("presentation");

function apply(on) {
  document.documentElement.classList.toggle("presentation", on);
  document.body.classList.toggle("presentation", on);
  const button = byId("presentation-toggle");
  if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
  prefs.set("presentation", on ? "1" : "0");
  scaleCharts(on);
}

export function setupPresentation() {
  const saved = prefs.get("presentation") === "1";
  document.documentElement.classList.toggle("presentation", saved);
  document.body.classList.toggle("presentation", saved);
  const button = byId("presentation-toggle");
  if (button) {
    button.setAttribute("aria-pressed", saved ? "true" : "false");
    button.addEventListener("click", () => apply(!isOn()));
  }
  document.addEventListener("keydown", (ev) => {
    if ((ev.key === "p" || ev.key === "P") && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !isTyping(ev.target)) {
      apply(!isOn());
    }
  });
}
