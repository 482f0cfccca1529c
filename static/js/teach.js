// Teaching mode on the run page: "reveal as you step" hides the charts after the cursor; "ask
// what happens next?" shows a question before a pass whose decision changes (the next step
// answers it); two buttons zoom to the decision window or the whole run.
import { byId, prefs } from "./dom.js";
import { setReveal, showRange } from "./charts.js";

export function setupTeaching() {
  const reveal = byId("reveal");
  const ask = byId("ask-next");
  if (reveal) {
    reveal.checked = prefs.get("reveal") === "1";
    if (reveal.checked) setReveal(true);
    reveal.addEventListener("change", () => {
      prefs.set("reveal", reveal.checked ? "1" : "0");
      setReveal(reveal.checked);
    });
  }
  if (ask) {
    const applyAsk = () => document.documentElement.classList.toggle("ask-next", ask.checked);
    ask.checked = prefs.get("ask-next") === "1";
    applyAsk();
    ask.addEventListener("change", () => { prefs.set("ask-next", ask.checked ? "1" : "0"); applyAsk(); });
  }
  const story = byId("story-window");
  const whole = byId("whole-run");
  if (story) story.addEventListener("click", () => showRange("story"));
  if (whole) whole.addEventListener("click", () => showRange("whole"));
}
