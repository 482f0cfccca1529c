// Presenter sessions: the teacher's run page sends every step change to the server; a class on
// /present/ID follows it over Server-Sent Events, may detach and rejoin, and is told when the
// presenter stops (or the stream goes away for good).
import { byId } from "./dom.js";
import { stepper } from "./stepper.js";

const KEY_PREFIX = "migscope.presenter.";

function stored(id) {
  try { return JSON.parse(sessionStorage.getItem(KEY_PREFIX + id) || "null"); } catch { return null; }
}

function setupPresenter(box) {
  const start = byId("present-start");
  const panel = byId("present-panel");
  const link = byId("present-link");
  const status = byId("present-status");
  let session = null; // { id, key, stepUrl }
  let sending = false;
  let pending = null;

  // One request at a time, always the newest step: a fast → → → never lands out of order.
  async function flush() {
    sending = true;
    while (pending !== null && session) {
      const n = pending;
      pending = null;
      try {
        const resp = await fetch(session.stepUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-Presenter-Key": session.key },
          body: JSON.stringify({ step: n }),
        });
        status.textContent = resp.ok ? `Class at step ${n}.` : `The class did not move (error ${resp.status}).`;
        if (resp.ok) box.dataset.sentStep = String(n);
      } catch {
        status.textContent = "The class did not move (network error).";
      }
    }
    sending = false;
  }
  function send(n) {
    pending = n;
    if (!sending) flush();
  }

  function activate(id, key, stepUrl, followUrl) {
    session = { id, key, stepUrl };
    box.dataset.session = id;
    link.value = followUrl;
    panel.hidden = false;
    start.hidden = true;
    const url = new URL(window.location.href);
    url.searchParams.set("present", id);
    history.replaceState(null, "", url);
  }

  start.addEventListener("click", async () => {
    start.disabled = true;
    status.textContent = "Starting…";
    const step = stepper.current();
    try {
      const resp = await fetch(box.dataset.createUrl, {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ step }),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) { status.textContent = `Could not start: ${body.message || resp.status}`; return; }
      // The key stays in this tab only (sessionStorage), never in a URL a class could see.
      const saved = { key: body.presenter_key, step_url: body.step_url, follow_url: body.follow_url };
      try { sessionStorage.setItem(KEY_PREFIX + body.session_id, JSON.stringify(saved)); } catch { /* private mode */ }
      activate(body.session_id, body.presenter_key, body.step_url, body.follow_url);
      box.dataset.sentStep = String(step);
      status.textContent = `Presenting: the class follows your steps (now ${step}).`;
      // Focus a button, not the link field: the arrow keys keep stepping (and the class with them).
      byId("present-copy").focus();
    } finally {
      start.disabled = false;
    }
  });

  byId("present-copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(link.value); status.textContent = "Copied."; } catch {
      link.select();
      status.textContent = "Press Ctrl+C to copy.";
    }
  });
  byId("present-stop").addEventListener("click", () => {
    if (session) {
      try { sessionStorage.removeItem(KEY_PREFIX + session.id); } catch { /* ignore */ }
      // Tell the class (the server marks the session ended, if it offers that).
      fetch(box.dataset.createUrl.replace(/\/runs\/[^/]+\/presentations$/, `/presentations/${session.id}`), {
        method: "DELETE", headers: { "X-Presenter-Key": session.key },
      }).catch(() => { /* older servers: the class just stays at the last step */ });
    }
    session = null;
    delete box.dataset.session;
    panel.hidden = true;
    start.hidden = false;
    const url = new URL(window.location.href);
    url.searchParams.delete("present");
    history.replaceState(null, "", url);
    status.textContent = "Stopped presenting.";
    start.focus();
  });

  document.addEventListener("migscope:step", (ev) => { if (session) send(ev.detail.step); });

  // A reload of the presenter's tab keeps presenting (same tab, same sessionStorage).
  const resumed = new URL(window.location.href).searchParams.get("present");
  const saved = resumed && stored(resumed);
  if (saved && saved.key) {
    activate(resumed, saved.key, saved.step_url, saved.follow_url);
    status.textContent = "Presenting: the class follows your steps.";
    send(stepper.current());
  }
}

function setupFollower(box) {
  const badge = byId("follow-status");
  const detachButton = byId("present-detach");
  const rejoinButton = byId("present-rejoin");
  let presenterStep = Number.parseInt(box.dataset.presenterStep, 10);
  let following = true;
  let ended = false;
  let applying = false; // true while this script moves the step (not the student)

  function render() {
    box.dataset.following = following ? "1" : "0";
    box.dataset.presenterStep = String(presenterStep);
    box.dataset.ended = ended ? "1" : "0";
    if (ended) badge.textContent = `the presenter stopped (last at step ${presenterStep}): step on your own`;
    else badge.textContent = following ? "following the presenter" : `detached (presenter at step ${presenterStep})`;
    detachButton.disabled = !following || ended;
    rejoinButton.disabled = following || ended;
  }
  function follow(n) {
    applying = true;
    try { stepper.go(n); } finally { applying = false; }
  }
  function detach() {
    if (!following) return;
    following = false;
    render();
  }

  document.addEventListener("migscope:step", () => { if (!applying) detach(); });
  detachButton.addEventListener("click", () => { detach(); rejoinButton.focus(); });
  rejoinButton.addEventListener("click", () => {
    following = true;
    render();
    follow(presenterStep);
    detachButton.focus();
  });

  // EventSource reconnects by itself when the server ends a stream, sending Last-Event-ID.
  const source = new EventSource(box.dataset.eventsUrl);
  source.addEventListener("message", (ev) => {
    const n = Number.parseInt(ev.lastEventId, 10);
    if (Number.isNaN(n)) return;
    presenterStep = n;
    if (following && stepper.current() !== n) follow(n);
    render();
  });
  const stop = () => {
    ended = true;
    following = false;
    source.close();
    render();
  };
  source.addEventListener("ended", stop);
  source.addEventListener("open", () => { box.dataset.connected = "1"; });
  source.addEventListener("error", () => {
    box.dataset.connected = "0";
    // CLOSED (not CONNECTING): the server refused the stream (the session is gone).
    if (source.readyState === EventSource.CLOSED) stop();
  });
  window.addEventListener("pagehide", () => source.close());
  render();
}

export function setupPresent() {
  const box = byId("present");
  if (!box || !stepper.go) return;
  if (box.dataset.mode === "follow") setupFollower(box);
  else setupPresenter(box);
}
