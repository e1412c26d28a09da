// Backtest pages: live run and sweep progress, the signal viewer, the up/down colour toggle.
//
// Everything arrives over the user's websocket (live.js dispatches "live:event"); nothing polls.
// An event may be missed while the socket is down, so on every (re)connect ("live:open") a page
// fetches its run's or sweep's state once.
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }

  // A bar's first width comes from data-progress: the Content-Security-Policy blocks style attributes.
  document.querySelectorAll(".progress-bar[data-progress]").forEach((bar) => {
    bar.style.width = bar.dataset.progress + "%";
  });

  // -- one run: progress bar, status, then the results ------------------------------------------
  const runBox = $(".run-status[data-run-id]");
  if (runBox) {
    const runId = Number(runBox.dataset.runId);
    const finalStates = ["succeeded", "failed", "cancelled"];

    const apply = (state) => {
      if (!state || Number(state.id) !== runId) return;
      const bar = $("[role=progressbar]", runBox);
      if (bar && state.progress !== undefined && state.progress !== null) {
        bar.setAttribute("aria-valuenow", String(state.progress));
        $(".progress-bar", bar).style.width = state.progress + "%";
        const text = $("[data-testid=progress-text]", runBox);
        if (text) text.textContent = String(state.progress);
      }
      const label = $("[data-testid=status-label]", runBox);
      if (label && state.status_label) {
        label.textContent = state.status_label;
        label.className = "badge status-" + state.status;
      }
      const previous = runBox.dataset.status;
      runBox.dataset.status = state.status;
      if (finalStates.includes(state.status) && !finalStates.includes(previous)) {
        if (state.status !== "succeeded" && state.error) {
          const error = $("[data-testid=run-error]", runBox);
          if (error) { error.textContent = state.error; error.hidden = false; }
        }
        // The results page (or the re-run buttons) is the same URL rendered for the final state.
        window.location.reload();
      }
    };

    document.addEventListener("live:event", (e) => {
      const { event, payload } = e.detail || {};
      if (event === "backtest.progress" || event === "backtest.finished") apply(payload);
    });
    const recheck = () => {
      if (!runBox.dataset.detailUrl || finalStates.includes(runBox.dataset.status)) return;
      fetch(runBox.dataset.detailUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null)).then(apply).catch(() => {});
    };
    document.addEventListener("live:open", recheck);
    // the socket opened before this script listened: a run finished in between was announced to no one here
    if (document.body.dataset.liveOpen === "1") recheck();
  }

  // -- a sweep: progress, then the table and heatmap ----------------------------------------------
  const sweepBox = $("[data-sweep-id]");
  if (sweepBox) {
    const sweepId = Number(sweepBox.dataset.sweepId);
    const active = ["queued", "running"];
    const apply = (state) => {
      if (!state || Number(state.id) !== sweepId) return;
      const bar = $("[role=progressbar]", sweepBox);
      if (bar && state.progress !== undefined) {
        bar.setAttribute("aria-valuenow", String(state.progress));
        $(".progress-bar", bar).style.width = state.progress + "%";
      }
      const done = $("[data-testid=cells-done]", sweepBox);
      if (done && state.cells_done !== undefined) done.textContent = String(state.cells_done);
      const previous = sweepBox.dataset.status;
      sweepBox.dataset.status = state.status;
      if (active.includes(previous) && !active.includes(state.status)) window.location.reload();
      else if (window.htmx && $("#sweep-results")) {
        window.htmx.ajax("GET", window.location.href, { target: "#sweep-results", select: "#sweep-results", swap: "outerHTML" });
      }
    };
    document.addEventListener("live:event", (e) => {
      const { event, payload } = e.detail || {};
      if (event === "sweep.progress" || event === "sweep.finished") apply(payload);
    });
    const recheck = () => {
      if (!active.includes(sweepBox.dataset.status)) return;
      fetch(sweepBox.dataset.detailUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null)).then(apply).catch(() => {});
    };
    document.addEventListener("live:open", recheck);
    if (document.body.dataset.liveOpen === "1") recheck();
  }

  // -- the signal viewer: a finished run replaces the signals (unless another run is pinned) -----
  function reloadSignals(url) {
    if (!window.htmx) { window.location.reload(); return; }
    window.htmx.ajax("GET", url, { target: "#signals-panel", swap: "outerHTML" });
  }
  if ($("[data-testid=viewer]")) {
    document.addEventListener("live:event", (e) => {
      const { event, payload } = e.detail || {};
      if (event !== "backtest.finished" || !payload || payload.status !== "succeeded") return;
      const list = $("#viewer-runs");
      if (list && !list.querySelector(`li[data-run-id="${payload.id}"]`)) {
        const item = document.createElement("li");
        item.className = "new";
        item.dataset.runId = payload.id;
        const link = document.createElement("a");
        link.href = "?run=" + payload.id;
        link.textContent = "#" + payload.id + " " + (payload.title || "");
        const badge = document.createElement("span");
        badge.className = "badge status-" + payload.status;
        badge.textContent = payload.status_label || payload.status;
        item.append(link, " ", badge);
        list.prepend(item);
      }
      const panel = $("#signals-panel");
      if (panel && panel.dataset.pinned !== "1" && panel.dataset.runId !== String(payload.id)) {
        reloadSignals(panel.dataset.panelUrl.split("&")[0] + "&run=" + payload.id + "&follow=1");
      }
    });
    let opened = false;
    document.addEventListener("live:open", () => {
      // after a reconnect, catch up with a run that finished while the socket was down
      const panel = $("#signals-panel");
      if (opened && panel && panel.dataset.pinned !== "1") reloadSignals(panel.dataset.panelUrl);
      opened = true;
    });
  }

  // -- one click, one run: the server also dedupes by submission_key -------------------------------
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (!form.matches("form[data-once]") || e.submitter && e.submitter.name === "action") return;
    if (form.dataset.submitted === "1") { e.preventDefault(); return; }
    form.dataset.submitted = "1";
  });
})();
