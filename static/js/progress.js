// POST a scenario to a progress endpoint (NDJSON: {"progress"}, then {"done"} or {"error"}),
// show the simulated time as it runs, then "storing", and open the page it names.
const secondsSince = (t0) => ((performance.now() - t0) / 1000).toFixed(1);

function describe(p, t0) {
  const run = p.runs > 1 ? `run ${p.run} of ${p.runs}: ` : "";
  if (p.storing || p.stage === "storing") return `${run}storing ${p.steps} steps… (${secondsSince(t0)} s)`;
  const simulated = (p.t_ms / 1000).toFixed(1);
  const limit = (p.max_time_ms / 1000).toFixed(0);
  return `${run}simulated ${simulated} s of at most ${limit} s, ${p.steps} steps (${secondsSince(t0)} s)`;
}

export async function streamRun(url, scenario, progress, onErrors) {
  const bar = progress.querySelector("progress");
  const label = progress.querySelector(".progress-text");
  progress.hidden = false;
  bar.removeAttribute("value"); // indeterminate until the first line
  const started = performance.now();
  label.textContent = "Simulating…";
  let done = false;
  let last = null;
  // Between lines (storing a long run takes a while) the seconds keep counting.
  const ticker = setInterval(() => {
    if (last && !done) label.textContent = describe(last, started);
  }, 500);
  try {
    const resp = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/x-ndjson, application/json" },
      body: JSON.stringify(scenario),
    });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({ detail: `error ${resp.status}` }));
      onErrors(body.detail !== undefined ? body.detail : body);
      return;
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf("\n");
        if (!line) continue;
        const msg = JSON.parse(line);
        if (msg.progress) {
          const p = msg.progress;
          // The simulated time of the scenario's limit; a run usually ends well before it, so
          // the text says how far it got, and "storing" once the engine is done.
          const finished = p.t_ms >= p.max_time_ms || p.storing || p.stage === "storing" || p.done;
          last = finished ? { ...p, storing: true } : p;
          bar.value = Math.min(1, (p.run - 1 + (finished ? 1 : p.t_ms / p.max_time_ms)) / p.runs);
          label.textContent = describe(last, started);
        } else if (msg.error) {
          onErrors(msg.error.detail);
          return;
        } else if (msg.done) {
          done = true;
          bar.value = 1;
          label.textContent = "Stored: opening…";
          window.location.href = msg.done.page;
          return;
        }
      }
      if (ended) break;
    }
    onErrors({ message: "the server stopped before the run was stored" });
  } catch (e) {
    onErrors({ message: `request failed: ${e}` });
  } finally {
    clearInterval(ticker);
    if (!done) progress.hidden = true;
  }
}
