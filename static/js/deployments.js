// Deployment pages: the equity curve of a deployment (its bucket's equity at each close) against the
// same strategy's backtest over the same days, with TradingView lightweight-charts (v5) through
// window.QuantCharts (chart.js: formatters, colours, base options). The data is in the page
// (<script id="deployment-curve" type="application/json">: dates, equity, backtest or null). Sets
// data-chart-ready="1" on the container once drawn (browser tests wait on it).
//
// Everything else on these pages works without JavaScript: forms post, confirmations of the
// controls are orders.js's (data-confirm), the wizard's interval field shows by CSS alone.
(function () {
  "use strict";

  function line(dates, values) {
    const points = [];
    for (let i = 0; i < dates.length; i++) {
      if (values[i] !== null && values[i] !== undefined) points.push({ time: dates[i], value: values[i] });
    }
    return points;
  }

  async function drawCurve(el) {
    const LC = window.LightweightCharts;
    const QC = window.QuantCharts;
    const data = document.getElementById("deployment-curve");
    if (!LC || !QC || !data) return;
    await QC.fontsReady();
    const curve = JSON.parse(data.textContent);
    const c = QC.colors();
    const chart = LC.createChart(el, QC.baseOptions(c));
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

  function start() {
    const el = document.getElementById("deployment-chart");
    if (el) drawCurve(el).catch(() => { el.dataset.chartReady = "error"; });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
