// Results and compare charts with TradingView lightweight-charts (v5): equity vs buy and hold,
// drawdown, the distribution of trade returns, candles per symbol with buy/sell markers, and the
// overlaid equity curves of a comparison. Sets data-chart-ready="1" on the container once drawn
// (browser tests wait on it), "error" when the data could not be loaded.
(function () {
  "use strict";

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function colors() {
    return {
      background: cssVar("--surface", "#ffffff"), text: cssVar("--text", "#17202a"), border: cssVar("--border", "#dde2e8"),
      accent: cssVar("--accent", "#2457d6"), muted: cssVar("--muted", "#5d6b7a"),
      up: cssVar("--up", "#1b7f3b"), down: cssVar("--down", "#c62828"),
    };
  }

  function options(c, extra) {
    const LC = window.LightweightCharts;
    const locale = document.documentElement.lang || "ko";
    return Object.assign({
      autoSize: true,
      layout: { background: { type: LC.ColorType.Solid, color: c.background }, textColor: c.text, attributionLogo: true },
      grid: { vertLines: { color: c.border }, horzLines: { color: c.border } },
      rightPriceScale: { borderColor: c.border },
      timeScale: { borderColor: c.border, minBarSpacing: 0.05 },
      localization: { locale },
    }, extra || {});
  }

  function line(dates, values) {
    const points = [];
    for (let i = 0; i < dates.length; i++) {
      if (values[i] !== null && values[i] !== undefined) points.push({ time: dates[i], value: values[i] });
    }
    return points;
  }

  const PALETTE = ["#2457d6", "#e07b00", "#8e44ad", "#16a085", "#c0392b", "#7f8c8d", "#d35400", "#2c3e50"];

  function drawEquity(el, series, c, labels) {
    const LC = window.LightweightCharts;
    const chart = LC.createChart(el, options(c));
    const equity = chart.addSeries(LC.LineSeries, { color: c.accent, lineWidth: 2, title: labels.equity });
    const bench = chart.addSeries(LC.LineSeries, { color: c.muted, lineWidth: 1, lineStyle: LC.LineStyle.Dashed, title: labels.benchmark });
    equity.setData(line(series.dates, series.equity));
    bench.setData(line(series.dates, series.benchmark));
    chart.timeScale().fitContent();
  }

  function drawDrawdown(el, series, c) {
    const LC = window.LightweightCharts;
    const chart = LC.createChart(el, options(c));
    const area = chart.addSeries(LC.AreaSeries, {
      lineColor: c.down, topColor: c.down, bottomColor: c.background, lineWidth: 1,
      priceFormat: { type: "percent", precision: 1, minMove: 0.1 },
    });
    area.setData(line(series.dates, series.drawdown.map((v) => (v === null ? null : v * 100))));
    chart.timeScale().fitContent();
  }

  // Trade returns per bucket: bars on a category axis (the bucket index as "time").
  function drawHistogram(el, histogram, c) {
    const LC = window.LightweightCharts;
    const counts = histogram.counts || [];
    if (!counts.length) return;
    const edges = histogram.edges || [];
    const label = (i) => ((edges[i] * 100).toFixed(1) + "%…" + (edges[i + 1] * 100).toFixed(1) + "%");
    const chart = LC.createChart(el, options(c, {
      timeScale: { borderColor: c.border, tickMarkFormatter: (t) => (edges.length ? (edges[t] * 100).toFixed(0) + "%" : "") },
      localization: { timeFormatter: (t) => label(t) },
    }));
    const bars = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: "volume" } });
    bars.setData(counts.map((n, i) => ({
      time: i, value: n, color: (edges[i] + edges[i + 1]) / 2 >= 0 ? c.up : c.down,
    })));
    chart.timeScale().fitContent();
  }

  function drawCandles(el, markersBySymbol, c, labels) {
    const LC = window.LightweightCharts;
    const chart = LC.createChart(el, options(c));
    const candles = chart.addSeries(LC.CandlestickSeries, {
      upColor: c.up, downColor: c.down, borderVisible: false, wickUpColor: c.up, wickDownColor: c.down,
    });
    const markers = LC.createSeriesMarkers(candles, []);
    const load = (symbol) => {
      const url = el.dataset.barsUrlTemplate.replace("__code__", encodeURIComponent(symbol));
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then((body) => {
          candles.setData(body.bars.map((b) => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close })));
          markers.setMarkers((markersBySymbol[symbol] || []).map((m) => (m.side === "buy"
            ? { time: m.time, position: "belowBar", color: c.up, shape: "arrowUp", text: labels.buy }
            : { time: m.time, position: "aboveBar", color: c.down, shape: "arrowDown", text: labels.sell })));
          chart.timeScale().fitContent();
          el.dataset.symbol = symbol;
          el.dataset.markers = String((markersBySymbol[symbol] || []).length);
        });
    };
    const picker = document.getElementById("candle-symbol");
    if (picker) picker.addEventListener("change", () => { load(picker.value); });
    return load(el.dataset.symbol);
  }

  async function results(box) {
    const c = colors();
    const labels = { equity: box.dataset.msgEquity, benchmark: box.dataset.msgBenchmark, buy: box.dataset.msgBuy, sell: box.dataset.msgSell };
    try {
      const response = await fetch(box.dataset.resultsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      drawEquity(document.getElementById("equity-chart"), body.series, c, labels);
      drawDrawdown(document.getElementById("drawdown-chart"), body.series, c);
      drawHistogram(document.getElementById("histogram-chart"), body.histogram, c);
      const markers = JSON.parse(document.getElementById("trade-markers").textContent);
      await drawCandles(document.getElementById("candle-chart"), markers, c, labels);
      box.dataset.chartReady = "1";
    } catch (error) {
      box.dataset.chartReady = "error";
      const note = document.createElement("p");
      note.className = "form-errors";
      note.setAttribute("role", "alert");
      note.textContent = box.dataset.msgError;
      box.prepend(note);
    }
  }

  function compare(el) {
    const LC = window.LightweightCharts;
    const curves = JSON.parse(document.getElementById("compare-curves").textContent);
    const chart = LC.createChart(el, options(colors()));
    curves.forEach((curve, i) => {
      const series = chart.addSeries(LC.LineSeries, { color: PALETTE[i % PALETTE.length], lineWidth: 2, title: curve.title });
      series.setData(line(curve.dates, curve.values));
    });
    chart.timeScale().fitContent();
    el.dataset.chartReady = "1";
  }

  function start() {
    if (!window.LightweightCharts) return;
    const box = document.querySelector("[data-results-url]");
    if (box) results(box);
    const comparison = document.getElementById("compare-chart");
    if (comparison) compare(comparison);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
