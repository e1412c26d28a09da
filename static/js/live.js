// The user's live channel: one websocket to /ws/user/, reconnecting with backoff.
// Pages listen for "live:event" on document; the dashboard lists them.
(function () {
  "use strict";
  const body = document.body;
  const path = body.dataset.liveUrl;
  if (!path) return;
  const status = document.getElementById("live-status");
  const banner = document.getElementById("connection-banner");
  let delay = 1000;
  let socket = null;

  function setState(state, text) {
    if (status) { status.dataset.state = state; status.title = text || ""; }
    if (banner) {
      if (state === "open") { banner.hidden = true; }
      else if (state === "closed") { banner.hidden = false; banner.textContent = text; }
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + path);
    socket.addEventListener("open", function () {
      delay = 1000;
      setState("open", body.dataset.msgLive);
      document.dispatchEvent(new CustomEvent("live:open"));
    });
    socket.addEventListener("message", function (message) {
      let data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.event === "pong") return;
      document.dispatchEvent(new CustomEvent("live:event", { detail: data }));
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4401) { setState("closed", ""); return; } // signed out: do not retry
      setState("closed", navigator.onLine ? body.dataset.msgReconnecting : body.dataset.msgOffline);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  // Keep idle proxies from closing the socket.
  setInterval(function () {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
  }, 25000);
  window.addEventListener("online", function () { if (!socket || socket.readyState === WebSocket.CLOSED) connect(); });

  document.addEventListener("live:event", function (e) {
    const list = document.getElementById("live-events");
    if (!list) return;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const item = document.createElement("li");
    item.className = "new";
    item.dataset.event = e.detail.event;
    const payload = e.detail.payload || {};
    // Times show in the user's chosen zone (Asia/Seoul by default), not the device's.
    const time = new Date(e.detail.sent_at).toLocaleTimeString(document.documentElement.lang, { timeZone: body.dataset.timezone });
    const title = document.createElement("strong");
    title.textContent = payload.title || e.detail.event;
    const text = document.createElement("span");
    text.textContent = " " + (payload.body || "") + " ";
    const when = document.createElement("small");
    when.className = "muted";
    when.textContent = time;
    item.append(title, text, when);
    list.prepend(item);
  });

  connect();
})();
