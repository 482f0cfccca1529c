// New run page: "Start a sweep from this scenario" posts the form's scenario and the fields to
// vary to the sweeps API, then opens the sweep's page (its 422 is shown beside the fields).
const button = document.getElementById("sweep-start-button");

async function scenarioOf(form) {
  // The scenario form's own reader, so a sweep starts from exactly what Run would send.
  const module = await import("./js/scenario-form.js");
  return module.formToScenario(form);
}

if (button) {
  button.addEventListener("click", async () => {
    const error = document.getElementById("sweep-start-error");
    const vary = document.getElementById("sweep-vary");
    error.hidden = true;
    button.disabled = true;
    try {
      const body = {
        scenario: await scenarioOf(document.getElementById("scenario-form")),
        vary: vary.value.split("\n").map((s) => s.trim()).filter((s) => s),
        compare_ack: document.getElementById("sweep-compare").checked,
      };
      const resp = await fetch(vary.dataset.api, {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await resp.json();
      if (resp.status === 202) {
        window.location.href = answer.urls.page;
        return;
      }
      error.textContent = answer.message || `error ${resp.status}`;
      error.hidden = false;
      vary.setAttribute("aria-invalid", "true");
    } finally {
      button.disabled = false;
    }
  });
}
