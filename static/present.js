// migscope presenter sessions: the teacher's run page sends every step change to the server;
// a class on /present/ID follows it over Server-Sent Events, and may detach and rejoin.
// Listens to app.js's "migscope:step" event (detail.step) and drives it through MS.go.
"use strict";

(function () {
  const KEY_PREFIX = "migscope.presenter.";

  /* ---------- presenter ---------- */
  function setupPresenter(box) {
    const start = document.getElementById("present-start");
    const panel = document.getElementById("present-panel");
    const link = document.getElementById("present-link");
    const status = document.getElementById("present-status");
    let session = null; // { id, key, stepUrl }
    let sending = false;
    let pending = null;

    // {key, step_url, follow_url} of a session this tab started, or null.
    function stored(id) {
      try { return JSON.parse(sessionStorage.getItem(KEY_PREFIX + id) || "null"); } catch (e) { return null; }
    }

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
        } catch (e) {
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
      const step = window.MS && MS.step ? MS.step() : 0;
      try {
        const resp = await fetch(box.dataset.createUrl, {
          method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ step }),
        });
        const body = await resp.json().catch(() => ({}));
        if (!resp.ok) { status.textContent = `Could not start: ${body.message || resp.status}`; return; }
        // The key stays in this tab only (sessionStorage), never in a URL a class could see.
        const saved = { key: body.presenter_key, step_url: body.step_url, follow_url: body.follow_url };
        try { sessionStorage.setItem(KEY_PREFIX + body.session_id, JSON.stringify(saved)); } catch (e) { /* private mode */ }
        activate(body.session_id, body.presenter_key, body.step_url, body.follow_url);
        box.dataset.sentStep = String(step);
        status.textContent = `Presenting: the class follows your steps (now ${step}).`;
        // Focus a button, not the link field: the arrow keys keep stepping (and the class with them).
        document.getElementById("present-copy").focus();
      } finally {
        start.disabled = false;
      }
    });

    document.getElementById("present-copy").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(link.value); status.textContent = "Copied."; }
      catch (e) { link.select(); status.textContent = "Press Ctrl+C to copy."; }
    });
    document.getElementById("present-stop").addEventListener("click", () => {
      if (session) { try { sessionStorage.removeItem(KEY_PREFIX + session.id); } catch (e) { /* ignore */ } }
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
      if (window.MS && MS.step) send(MS.step());
    }
  }

  /* ---------- follower ---------- */
  function setupFollower(box) {
    const badge = document.getElementById("follow-status");
    const detachButton = document.getElementById("present-detach");
    const rejoinButton = document.getElementById("present-rejoin");
    let presenterStep = parseInt(box.dataset.presenterStep, 10);
    let following = true;
    let applying = false; // true while this script moves the step (not the student)

    function render() {
      box.dataset.following = following ? "1" : "0";
      box.dataset.presenterStep = String(presenterStep);
      badge.textContent = following ? "following the presenter" : `detached (presenter at step ${presenterStep})`;
      detachButton.disabled = !following;
      rejoinButton.disabled = following;
    }
    function follow(n) {
      applying = true;
      try { MS.go(n); } finally { applying = false; }
    }
    function detach() {
      if (!following) return;
      following = false;
      render();
    }
    function rejoin() {
      following = true;
      render();
      follow(presenterStep);
    }

    // Any step the student takes (keys, buttons, scrubber, play) detaches them.
    document.addEventListener("migscope:step", () => { if (!applying) detach(); });
    detachButton.addEventListener("click", () => { detach(); rejoinButton.focus(); });
    rejoinButton.addEventListener("click", () => { rejoin(); detachButton.focus(); });

    // EventSource reconnects by itself when the server ends a stream, sending Last-Event-ID.
    const source = new EventSource(box.dataset.eventsUrl);
    source.addEventListener("message", (ev) => {
      const n = parseInt(ev.lastEventId, 10);
      if (Number.isNaN(n)) return;
      presenterStep = n;
      if (following && (!window.MS.step || MS.step() !== n)) follow(n);
      render();
    });
    source.addEventListener("open", () => { box.dataset.connected = "1"; });
    source.addEventListener("error", () => { box.dataset.connected = "0"; });
    window.addEventListener("pagehide", () => source.close());
    render();
  }

  function start() {
    const box = document.getElementById("present");
    if (!box || !window.MS || !MS.go) return;
    if (box.dataset.mode === "follow") setupFollower(box);
    else setupPresenter(box);
  }
  document.addEventListener("DOMContentLoaded", start);
})();
