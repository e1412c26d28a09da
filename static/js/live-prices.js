// Live prices: every element marked data-live-price="<code>" shows that instrument's last trade,
// pushed over /ws/realtime/<code>/ (one socket per code, however many elements show it; reconnecting
// with back-off). An element marked data-live-change="<code>" shows the change against the previous
// close ("▲ 1,200 (+1.74%)"). Both take the classes up / down / flat, which colour them in the
// user's price colours (html.updown-kr: red up, blue down). A delayed tick (polled, not streamed)
// puts a badge after the price: its text is the script tag's data-msg-delayed ("지연").
// Elements that appear later (a region swapped in by orders.js, htmx) are picked up and shown the
// last tick at once. Signed out (no data-live-url on <body>), nothing connects.
(function () {
  "use strict";

  const script = document.currentScript;
  const msgDelayed = (script && script.dataset.msgDelayed) || "Delayed";
  const msgDelayedTitle = (script && script.dataset.msgDelayedTitle) || "";
  if (!document.body.dataset.liveUrl) return;

  const PRICE = "data-live-price";
  const CHANGE = "data-live-change";
  const MAX_DELAY = 30000;
  // 4401: signed out; 4404: no such instrument. Retrying cannot help either.
  const FINAL_CODES = [4401, 4404];
  const feeds = new Map(); // code -> {socket, delay, last, stopped}
  const number = new Intl.NumberFormat("ko-KR", { maximumFractionDigits: 2 });
  const percent = new Intl.NumberFormat("ko-KR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function direction(value) {
    if (!value || value === 0) return "flat";
    return value > 0 ? "up" : "down";
  }

  function setDirection(element, value) {
    element.classList.remove("up", "down", "flat");
    element.classList.add(direction(value));
  }

  function formatChange(tick) {
    const change = tick.change === null ? null : Number(tick.change);
    if (change === null || Number.isNaN(change)) return "";
    const arrow = change > 0 ? "▲ " : change < 0 ? "▼ " : "";
    let text = arrow + number.format(Math.abs(change));
    const rate = tick.change_rate === null ? NaN : Number(tick.change_rate);
    if (!Number.isNaN(rate)) text += " (" + (rate > 0 ? "+" : "") + percent.format(rate) + "%)";
    return text;
  }

  // Added and removed rather than hidden: .badge sets display, which would beat the hidden attribute.
  // After the price, or inside it when it is a table cell (a row holds cells only).
  function markDelayed(element, delayed) {
    const inside = element.tagName === "TD" || element.tagName === "TH";
    const next = inside ? element.lastElementChild : element.nextElementSibling;
    const badge = next && next.hasAttribute("data-live-delayed") ? next : null;
    if (!delayed) {
      if (badge) {
        if (badge.previousSibling && badge.previousSibling.nodeValue === " ") badge.previousSibling.remove();
        badge.remove();
      }
      return;
    }
    if (badge) return;
    const created = document.createElement("span");
    created.className = "badge warn live-delayed";
    created.setAttribute("data-live-delayed", "");
    created.dataset.testid = "live-delayed";
    created.textContent = msgDelayed;
    if (msgDelayedTitle) created.title = msgDelayedTitle;
    if (inside) element.append(" ", created);
    else element.after(" ", created);
  }

  function show(code, tick) {
    const change = tick.change === null ? 0 : Number(tick.change);
    document.querySelectorAll("[" + PRICE + '="' + CSS.escape(code) + '"]').forEach(function (element) {
      element.textContent = number.format(Number(tick.price));
      element.dataset.liveAt = tick.at;
      setDirection(element, change);
      markDelayed(element, tick.delayed);
    });
    document.querySelectorAll("[" + CHANGE + '="' + CSS.escape(code) + '"]').forEach(function (element) {
      element.textContent = formatChange(tick);
      setDirection(element, change);
    });
  }

  function connect(code) {
    const feed = feeds.get(code);
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/realtime/" + encodeURIComponent(code) + "/");
    feed.socket = socket;
    socket.addEventListener("open", function () { feed.delay = 1000; });
    socket.addEventListener("message", function (message) {
      let tick;
      try { tick = JSON.parse(message.data); } catch (e) { return; }
      if (!tick || tick.symbol !== code || tick.price === undefined) return;
      feed.last = tick;
      show(code, tick);
    });
    socket.addEventListener("close", function (event) {
      if (feed.stopped || FINAL_CODES.includes(event.code)) { feed.stopped = true; return; }
      // back-off with jitter: a restarted server is not met by every page at the same instant
      const wait = feed.delay * (0.75 + Math.random() / 2);
      feed.delay = Math.min(feed.delay * 2, MAX_DELAY);
      setTimeout(function () { connect(code); }, wait);
    });
  }

  function scan() {
    document.querySelectorAll("[" + PRICE + "],[" + CHANGE + "]").forEach(function (element) {
      const code = element.getAttribute(PRICE) || element.getAttribute(CHANGE);
      if (!code) return;
      const feed = feeds.get(code);
      if (!feed) {
        feeds.set(code, { socket: null, delay: 1000, last: null, stopped: false });
        connect(code);
      } else if (feed.last) {
        show(code, feed.last);  // an element swapped in shows the price at once, not the page's old one
      }
    });
  }

  let pending = false;
  new MutationObserver(function (records) {
    if (pending) return;
    // only nodes added by someone else: show() changes text, which adds text nodes, not elements
    const added = records.some(function (record) {
      return Array.from(record.addedNodes).some(function (node) {
        return node.nodeType === 1 && !node.hasAttribute("data-live-delayed");
      });
    });
    if (!added) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; scan(); });
  }).observe(document.body, { childList: true, subtree: true });

  // a page restored from the back-forward cache keeps its closed sockets: open them again
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    feeds.forEach(function (feed, code) {
      if (!feed.stopped && (!feed.socket || feed.socket.readyState > 1)) connect(code);
    });
  });

  scan();
})();
