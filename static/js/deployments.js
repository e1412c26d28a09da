// Deployment pages: the equity curve of a deployment (its bucket's equity at each close) against the
// same strategy's backtest over the same days, with TradingView lightweight-charts (v5) through
// window.QuantCharts (chart.js: formatters, colours, base options). The data is in the page
// (<script id="deployment-curve" type="application/json">: dates, equity, backtest or null). Sets
// data-chart-ready="1" on the container once drawn (browser tests wait on it).
//
// When the deployment's own event arrives on the user's websocket (live.js dispatches "live:event":
// deployment.<what> with its id; a replay sends one per replayed day), the equity section is
// fetched again and redrawn. The rest of the page's live regions are orders.js's; confirmations of
// the controls too (data-confirm). Everything works without JavaScript: forms post, the wizard's
// interval field shows by CSS alone.
(function () {
  "use strict";

  const SECTION = "[data-testid=equity-section]";
  let chart = null;
  let timer = null;

  function line(dates, values) {
    const points = [];
    for (let i = 0; i < dates.length; i++) {
      if (values[i] !== null && values[i] !== undefined) points.push({ time: dates[i], value: values[i] });
    }
    return points;
  }

  async function draw() {
    const LC = window.LightweightCharts;
    const QC = window.QuantCharts;
    const el = document.getElementById("deployment-chart");
    const data = document.getElementById("deployment-curve");
    if (!LC || !QC || !el || !data) return;
    await QC.fontsReady();
    const curve = JSON.parse(data.textContent);
    const c = QC.colors();
    if (chart) chart.remove();
    chart = LC.createChart(el, QC.baseOptions(c));
    const money = QC.amountFormat();
    const live = chart.addSeries(LC.LineSeries, {
      color: c.accent, lineWidth: 2, title: el.dataset.msgLive, priceFormat: money,
    });
    live.setData(line(curve.dates, curve.equity));
    if (curve.backtest) {
      const backtest = chart.addSeries(LC.LineSeries, {
        color: c.muted, lineWidth: 1, lineStyle: LC.LineStyle.Dashed, title: el.dataset.msgBacktest, priceFormat: money,
      });
      backtest.setData(line(curve.dates, curve.backtest));
    }
    chart.timeScale().fitContent();
    el.dataset.chartReady = "1";
  }

  function redraw() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then((response) => (response.ok ? response.text() : null))
      .then((html) => {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html").querySelector(SECTION);
        const old = document.querySelector(SECTION);
        if (!fresh || !old) return;
        if (chart) { chart.remove(); chart = null; }
        old.replaceWith(document.importNode(fresh, true));
        return draw();
      })
      .catch(() => {});
  }

  function start() {
    const section = document.querySelector(SECTION);
    if (!section) return;
    draw().catch(() => {
      const el = document.getElementById("deployment-chart");
      if (el) el.dataset.chartReady = "error";
    });
    const id = section.dataset.deploymentId;
    document.addEventListener("live:event", (event) => {
      const name = (event.detail && event.detail.event) || "";
      const payload = (event.detail && event.detail.payload) || {};
      if (!name.startsWith("deployment.") || String(payload.id) !== id) return;
      clearTimeout(timer);
      timer = setTimeout(redraw, 200);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
