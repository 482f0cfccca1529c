// migscope dashboard entry point (an ES module: deferred, no globals). Each module sets up
// the part of the page it owns, if the page has it.
import { drawCharts } from "./charts.js";
import { setupPresentation } from "./presentation.js";
import { setupStepper } from "./stepper.js";
import { setupTeaching } from "./teach.js";
import { setupShare } from "./share.js";
import { setupRunActions } from "./run-actions.js";
import { setupScenarioForm } from "./scenario-form.js";
import { setupUpload } from "./upload.js";
import { setupBranch } from "./branch.js";
import { setupPresent } from "./present.js";

async function start() {
  setupPresentation();
  setupStepper();
  setupShare();
  setupRunActions();
  setupScenarioForm();
  setupUpload();
  setupBranch();
  setupPresent();
  document.body.dataset.ready = "1";
  await drawCharts(document);
  setupTeaching();
  document.body.dataset.charts = "1";
}

document.addEventListener("htmx:afterSettle", (ev) => {
  drawCharts(ev.target);
  setupScenarioForm();
  setupUpload();
});

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
