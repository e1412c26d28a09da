// Order pages: live regions (the order list, an order's page, positions, kill switches), confirmations,
// and the order ticket (symbol search, ± tick buttons on the KRX tick grid, the amount's quantity).
//
// Events arrive over the user's websocket (live.js dispatches "live:event"). A region marked
// data-live-refresh="order." is fetched again (the same URL, so the same filters) when an event
// whose name starts with that prefix arrives, and swapped in place; rows whose state changed flash.
// An event may be missed while the socket is down, so every (re)connect refreshes once. A region
// whose form the user has typed into is left alone (the action reloads the page anyway). Everything
// here works without JavaScript too: forms post, the pages render the same content.
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  // -- confirmations and single submits ---------------------------------------------------------
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const text = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
    if (text && !window.confirm(text)) { event.preventDefault(); return; }
    if (form.hasAttribute("data-once")) {
      // the order's intent id already makes a second submit the same order; this spares the request
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
    }
  });

  // -- live regions ------------------------------------------------------------------------------
  const regionIds = $$("[data-live-refresh]").map((region) => region.id).filter(Boolean);
  const pending = new Set();
  let timer = null;

  function states(root) {
    const seen = {};
    $$("[data-order-id][data-state]", root).forEach((row) => { seen[row.dataset.orderId] = row.dataset.state; });
    return seen;
  }

  function flush() {
    const ids = Array.from(pending);
    pending.clear();
    if (!ids.length) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then((response) => (response.ok ? response.text() : null))
      .then((html) => {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html");
        ids.forEach((id) => {
          const old = document.getElementById(id);
          const next = fresh.getElementById(id);
          // never throw away what the user is typing in a region's form (a reason, a date range)
          if (!old || !next || old.dataset.dirty) return;
          const before = states(old);
          const adopted = document.importNode(next, true);
          old.replaceWith(adopted);
          $$("[data-order-id][data-state]", adopted).forEach((row) => {
            if (before[row.dataset.orderId] !== row.dataset.state) row.classList.add("flash");
          });
          if (window.htmx) window.htmx.process(adopted);
        });
      })
      .catch(() => {});
  }

  function refresh(id) {
    pending.add(id);
    clearTimeout(timer);
    timer = setTimeout(flush, 120);
  }

  if (regionIds.length) {
    document.addEventListener("input", (event) => {
      const region = event.target.closest && event.target.closest("[data-live-refresh]");
      if (region) region.dataset.dirty = "1";
    });
    document.addEventListener("live:event", (event) => {
      const name = (event.detail && event.detail.event) || "";
      const payload = (event.detail && event.detail.payload) || {};
      regionIds.forEach((id) => {
        const region = document.getElementById(id);
        if (!region || !name.startsWith(region.dataset.liveRefresh)) return;
        const only = region.dataset.liveOrder;
        if (only && String(payload.id) !== only) return;
        refresh(id);
      });
    });
    // Events sent between this page's rendering and its socket opening (a redirect right after an
    // action) or while it was down are not replayed: fetch the regions once the socket is open.
    document.addEventListener("live:open", () => regionIds.forEach(refresh));
    if (document.body.dataset.liveOpen === "1") regionIds.forEach(refresh);  // opened before we listened
  }

  // -- the order ticket --------------------------------------------------------------------------
  const ticket = $("[data-testid=ticket-form]");
  if (!ticket) return;
  const symbolInput = $("[data-symbol-input]", ticket);
  const priceInput = $("input[name=price]", ticket);
  const amountInput = $("input[name=amount]", ticket);
  const panel = $("#symbol-panel");
  const initial = $("#symbol-info");
  let info = initial ? JSON.parse(initial.textContent) : null;
  const lang = document.documentElement.lang || "ko";

  const number = (text) => (text === null || text === undefined || text === "" ? NaN : Number(text));
  const checked = (name) => { const input = $(`input[name=${name}]:checked`, ticket); return input ? input.value : ""; };
  const format = (value) => (Number.isFinite(value) ? value.toLocaleString(lang, { maximumFractionDigits: 8 }) : "–");
  const decimalsOf = (tick) => { const part = tick.toFixed(10).replace(/0+$/, "").split(".")[1]; return part ? part.length : 0; };

  function tickOf(price) {
    let tick = info.ticks[0][1];
    info.ticks.forEach(([bound, size]) => { if (price >= bound) tick = size; });
    return tick;
  }

  function direction(value) { return value > 0 ? "up" : value < 0 ? "down" : "flat"; }

  function showPanel(data) {
    if (!panel) return;
    if (!data) { panel.setAttribute("data-empty", ""); return; }
    panel.removeAttribute("data-empty");
    const last = number(data.last);
    const previous = number(data.previous_close);
    const change = Number.isFinite(last) && previous ? ((last - previous) / previous) * 100 : NaN;
    const text = {
      name: data.name || data.symbol, symbol: data.symbol, last: format(last), previous_close: format(previous),
      tick: format(number(data.tick)), lower: format(number(data.lower)), upper: format(number(data.upper)),
      change: Number.isFinite(change) ? (change > 0 ? "+" : "") + change.toFixed(2) + "%" : "–",
    };
    Object.entries(text).forEach(([key, value]) => {
      $$(`[data-info=${key}]`, panel).forEach((element) => { element.textContent = value; });
    });
    ["last", "change"].forEach((key) => {
      const element = $(`[data-info=${key}]`, panel);
      if (element) { element.classList.remove("up", "down", "flat"); element.classList.add(direction(change || 0)); }
    });
  }

  function showTick() {
    const help = $("[data-tick-help]", ticket);
    if (!help) return;
    const price = number(priceInput.value) || number(info && (info.last || info.previous_close));
    help.textContent = info && info.ticks.length && price > 0
      ? ticket.dataset.msgTick.replace("{tick}", format(tickOf(price))) : "";
  }

  function showAmountQuantity() {
    const out = $("[data-amount-quantity]", ticket);
    if (!out) return;
    const amount = number(amountInput.value);
    const price = checked("order_type") === "market" ? number(info && (info.last || info.previous_close))
      : number(priceInput.value);
    if (!info || !(amount > 0) || !(price > 0)) { out.textContent = ""; return; }
    const lot = number(info.lot) || 1;
    const rate = checked("side") === "buy" ? number(info.commission_rate) || 0 : 0;
    const quantity = Math.floor(amount / (price * (1 + rate)) / lot + 1e-9) * lot;
    out.textContent = ticket.dataset.msgAbout.replace("{quantity}", format(quantity)).replace("{price}", format(price));
  }

  let loading = 0;  // only the newest lookup counts (a blur's "change" may race a picked result)
  function load(symbol, setPrice) {
    const lookup = ++loading;
    if (!symbol) { info = null; showPanel(null); return; }
    fetch(ticket.dataset.symbolUrl + "?symbol=" + encodeURIComponent(symbol), {
      credentials: "same-origin", headers: { Accept: "application/json" },
    })
      .then((response) => response.json())
      .then((data) => {
        if (lookup !== loading) return;
        info = data.error ? null : data;
        showPanel(info);
        if (info && setPrice && (info.last || info.previous_close)) priceInput.value = info.last || info.previous_close;
        showTick();
        showAmountQuantity();
      })
      .catch(() => {});
  }

  function step(sign) {
    if (!info || !info.ticks.length) return;
    let price = number(priceInput.value);
    if (!(price > 0)) {
      price = number(info.last || info.previous_close);
      if (price > 0) priceInput.value = String(price);
      showTick();
      return;
    }
    const tick = tickOf(price);
    // an off-tick price first snaps to the grid, in the direction asked
    const snapped = sign > 0 ? Math.ceil(price / tick - 1e-9) * tick : Math.floor(price / tick + 1e-9) * tick;
    let next = Math.abs(snapped - price) > 1e-9 ? snapped
      : sign > 0 ? price + tick : price - tickOf(price - Math.min(tick, 1e-9));
    const lower = number(info.lower);
    const upper = number(info.upper);
    if (upper > 0 && next > upper) next = upper;
    if (lower > 0 && next < lower) next = lower;
    if (next <= 0) return;
    priceInput.value = next.toFixed(decimalsOf(tickOf(next)));
    priceInput.dispatchEvent(new Event("input", { bubbles: true }));
  }

  ticket.addEventListener("click", (event) => {
    const pick = event.target.closest("[data-pick-symbol]");
    if (pick) {
      symbolInput.value = pick.dataset.pickSymbol;
      $("#symbol-results").replaceChildren();
      load(symbolInput.value, true);
      return;
    }
    const button = event.target.closest("[data-tick]");
    if (button) step(Number(button.dataset.tick));
  });
  symbolInput.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();  // Enter picks the first match, it never submits half an order
    const first = $("[data-pick-symbol]", ticket);
    if (first) first.click();
  });
  symbolInput.addEventListener("change", () => {
    // a typed code (005930, KRW-BTC) loads its prices; a name being searched waits for a pick
    const symbol = symbolInput.value.trim().toUpperCase();
    if (/^[0-9A-Z][0-9A-Z-]{2,19}$/.test(symbol) && (!info || info.symbol !== symbol)) load(symbol, !priceInput.value);
  });
  ticket.addEventListener("input", (event) => {
    if (event.target === priceInput) showTick();
    if (event.target !== symbolInput) showAmountQuantity();
  });
  ticket.addEventListener("change", showAmountQuantity);
  showPanel(info);
  showTick();
  showAmountQuantity();
})();
