// The user's live channel: one websocket to /ws/user/, reconnecting with backoff.
// Pages listen for "live:event" on document; the dashboard lists them.
// The banner under the top bar says what is wrong with the connection: reconnecting, offline,
// the session has ended (with a link to sign in again), or an htmx request that failed.
(function () {
  "use strict";
  const body = document.body;
  const path = body.dataset.liveUrl;
  const status = document.getElementById("live-status");
  const banner = document.getElementById("connection-banner");
  let delay = 1000;
  let socket = null;
  let sessionEnded = false;

  function showBanner(kind, text, link) {
    if (!banner) return;
    banner.dataset.kind = kind;
    banner.replaceChildren(document.createTextNode(text));
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      a.dataset.testid = "sign-in-again";
      banner.append(" ", a);
    }
    banner.hidden = false;
  }

  function hideBanner(kind) {
    if (banner && !sessionEnded && (!kind || banner.dataset.kind === kind)) banner.hidden = true;
  }

  function setState(state, text) {
    if (status) { status.dataset.state = state; status.title = text || ""; }
  }

  function endSession() {
    sessionEnded = true;
    setState("closed", body.dataset.msgSessionEnded);
    const next = location.pathname + location.search;
    showBanner("session", body.dataset.msgSessionEnded, {
      href: body.dataset.loginUrl + "?next=" + encodeURIComponent(next),
      text: body.dataset.msgSignInAgain,
    });
  }

  // htmx requests (search, clicks that load part of a page): a failure must not be silent.
  document.addEventListener("htmx:sendError", function () {
    if (!sessionEnded) showBanner("request", body.dataset.msgSendError);
  });
  document.addEventListener("htmx:responseError", function (e) {
    const code = e.detail && e.detail.xhr ? e.detail.xhr.status : 0;
    if (code === 401 || (code === 403 && path)) { endSession(); return; }
    if (!sessionEnded) showBanner("request", body.dataset.msgResponseError + (code ? " (" + code + ")" : ""));
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail && e.detail.successful) hideBanner("request");
  });

  if (!path) return;

  function connect() {
    if (sessionEnded) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + path);
    socket.addEventListener("open", function () {
      delay = 1000;
      setState("open", body.dataset.msgLive);
      hideBanner();
      // Pages whose script runs after this (deferred scripts, stylesheets before them) read the flag:
      // the "live:open" below may have fired before they listened.
      body.dataset.liveOpen = "1";
      document.dispatchEvent(new CustomEvent("live:open"));
    });
    socket.addEventListener("message", function (message) {
      let data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.event === "pong") return;
      document.dispatchEvent(new CustomEvent("live:event", { detail: data }));
    });
    socket.addEventListener("close", function (event) {
      delete body.dataset.liveOpen;
      // 4401: the server no longer knows this browser's session (signed out elsewhere, expired,
      // or the server was reset): retrying cannot help, signing in again can.
      if (event.code === 4401) { endSession(); return; }
      const text = navigator.onLine ? body.dataset.msgReconnecting : body.dataset.msgOffline;
      setState("closed", text);
      showBanner("connection", text);
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
    // the bell's count (and the dashboard's latest notifications) follow this one: not an event of its own
    if (!list || e.detail.event === "notifications.unread") return;
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
