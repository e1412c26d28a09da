// Results and compare charts with TradingView lightweight-charts (v5): equity vs buy and hold,
// drawdown, the distribution of trade returns, candles per symbol with buy/sell markers, and the
// overlaid equity curves of a comparison. Formatters, colours and base options come from
// window.QuantCharts (chart.js, loaded first). Sets data-chart-ready="1" on the container once
// drawn (browser tests wait on it), "error" when the data could not be loaded.
(function () {
  "use strict";

  const QC = () => window.QuantCharts;

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
    const chart = LC.createChart(el, QC().baseOptions(c));
    const money = QC().amountFormat();
    const equity = chart.addSeries(LC.LineSeries, { color: c.accent, lineWidth: 2, title: labels.equity, priceFormat: money });
    const bench = chart.addSeries(LC.LineSeries, {
      color: c.muted, lineWidth: 1, lineStyle: LC.LineStyle.Dashed, title: labels.benchmark, priceFormat: money,
    });
    equity.setData(line(series.dates, series.equity));
    bench.setData(line(series.dates, series.benchmark));
    chart.timeScale().fitContent();
    return chart;
  }

  function drawDrawdown(el, series, c) {
    const LC = window.LightweightCharts;
    const chart = LC.createChart(el, QC().baseOptions(c));
    const area = chart.addSeries(LC.AreaSeries, {
      lineColor: c.down, topColor: c.down, bottomColor: c.background, lineWidth: 1, priceFormat: QC().percentFormat(1),
    });
    area.setData(line(series.dates, series.drawdown.map((v) => (v === null ? null : v * 100))));
    chart.timeScale().fitContent();
    return chart;
  }

  // Labels of the histogram's buckets: each bar is labelled with its centre, with as many decimals
  // as the bucket width needs (a narrow distribution must not read "11% … 11%").
  function bucketLabels(edges, locale) {
    const pct = edges.map((e) => e * 100);
    const width = pct.length > 1 ? Math.abs(pct[1] - pct[0]) : 1;
    const decimals = Math.max(0, Math.min(3, Math.ceil(-Math.log10(width || 1))));
    const f = (v) => QC().formatPercent(v, decimals, locale);
    const centres = [], ranges = [];
    for (let i = 0; i + 1 < pct.length; i++) {
      centres.push(f((pct[i] + pct[i + 1]) / 2));
      ranges.push(f(pct[i]) + " – " + f(pct[i + 1]));
    }
    return { centres, ranges, decimals };
  }

  // Trade returns per bucket: bars on a category axis (the bucket's number as "time", 1..n, with an
  // empty slot each side so that no edge label is cut off).
  function drawHistogram(el, histogram, c) {
    const LC = window.LightweightCharts;
    const counts = histogram.counts || [];
    if (!counts.length) return null;
    const labels = bucketLabels(histogram.edges || [], document.documentElement.lang || "ko");
    el.dataset.bucketLabels = JSON.stringify(labels.centres);
    const chart = LC.createChart(el, QC().baseOptions(c, {
      timeScale: { tickMarkFormatter: (t) => labels.centres[t - 1] || "" },
      localization: { locale: document.documentElement.lang || "ko", timeFormatter: (t) => labels.ranges[t - 1] || "" },
    }));
    const bars = chart.addSeries(LC.HistogramSeries, {
      priceFormat: { type: "custom", minMove: 1, formatter: (v) => QC().formatAmount(v), tickmarksFormatter: (vs) => QC().countTicks(vs) },
    });
    const edges = histogram.edges;
    bars.setData([{ time: 0 }].concat(counts.map((n, i) => ({
      time: i + 1, value: n, color: (edges[i] + edges[i + 1]) / 2 >= 0 ? c.up : c.down,
    })), [{ time: counts.length + 1 }]));
    chart.timeScale().fitContent();
    return chart;
  }

  // The legend above the candles: the day under the crosshair, its close, and the trades of that
  // day (the markers themselves are bare arrows: their text would overlap on long runs).
  function legend(el) {
    const box = document.createElement("p");
    box.className = "chart-legend";
    box.dataset.testid = "candle-legend";
    box.setAttribute("aria-live", "off");
    el.before(box);
    return box;
  }

  function legendLine(box, parts) {
    box.replaceChildren();
    parts.forEach((part, i) => {
      if (i) box.append(" · ");
      const span = document.createElement("span");
      if (part.className) span.className = part.className;
      span.textContent = part.text;
      box.append(span);
    });
  }

  function drawCandles(el, markersBySymbol, c, labels) {
    const LC = window.LightweightCharts;
    const chart = LC.createChart(el, QC().baseOptions(c));
    const candles = chart.addSeries(LC.CandlestickSeries, {
      upColor: c.up, downColor: c.down, borderVisible: false, wickUpColor: c.up, wickDownColor: c.down,
      priceFormat: QC().priceFormat(0),
    });
    const markerLayer = LC.createSeriesMarkers(candles, []);
    const box = legend(el);
    let trades = [], byTime = new Map(), indexOf = new Map(), closes = new Map();

    const tradeText = (m) => (m.side === "buy" ? "▲ " + labels.buy : "▼ " + labels.sell) + " " + QC().formatAmount(m.price)
      + (m.ret !== undefined && m.ret !== null ? " (" + QC().formatPercent(m.ret * 100, 1) + ")" : "");
    const describe = (time) => {
      const parts = [{ text: QC().dateLabel(time) }];
      if (closes.has(time)) parts.push({ text: QC().formatAmount(closes.get(time)) });
      (byTime.get(time) || []).forEach((m) => parts.push({ text: tradeText(m), className: m.side === "buy" ? "up" : "down" }));
      legendLine(box, parts);
    };
    const thin = () => {
      const spacing = chart.timeScale().options().barSpacing;
      const kept = QC().thinMarkers(trades, (t) => indexOf.get(t), spacing, 12);
      markerLayer.setMarkers(kept.map((m) => (m.side === "buy"
        ? { time: m.time, position: "belowBar", color: c.up, shape: "arrowUp", size: 0.8 }
        : { time: m.time, position: "aboveBar", color: c.down, shape: "arrowDown", size: 0.8 })));
      el.dataset.markersShown = String(kept.length);
    };
    chart.timeScale().subscribeVisibleLogicalRangeChange(thin);
    chart.subscribeCrosshairMove((param) => {
      if (param.time !== undefined) describe(param.time);
      else if (trades.length) describe(trades[trades.length - 1].time);
    });

    const load = (symbol) => {
      const url = el.dataset.barsUrlTemplate.replace("__code__", encodeURIComponent(symbol));
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then((body) => {
          const bars = body.bars;
          candles.setData(bars.map((b) => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close })));
          indexOf = new Map(bars.map((b, i) => [b.time, i]));
          closes = new Map(bars.map((b) => [b.time, b.close]));
          trades = markersBySymbol[symbol] || [];
          byTime = new Map();
          trades.forEach((m) => { if (!byTime.has(m.time)) byTime.set(m.time, []); byTime.get(m.time).push(m); });
          chart.timeScale().fitContent();
          thin();
          if (trades.length) describe(trades[trades.length - 1].time);
          el.dataset.symbol = symbol;
          el.dataset.markers = String(trades.length);
        });
    };
    const picker = document.getElementById("candle-symbol");
    if (picker) picker.addEventListener("change", () => { load(picker.value); });
    return load(el.dataset.symbol).then(() => chart);
  }

  async function results(box) {
    await QC().fontsReady();
    const c = QC().colors();
    const labels = { equity: box.dataset.msgEquity, benchmark: box.dataset.msgBenchmark, buy: box.dataset.msgBuy, sell: box.dataset.msgSell };
    try {
      const response = await fetch(box.dataset.resultsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      const charts = {
        equity: drawEquity(document.getElementById("equity-chart"), body.series, c, labels),
        drawdown: drawDrawdown(document.getElementById("drawdown-chart"), body.series, c),
        histogram: drawHistogram(document.getElementById("histogram-chart"), body.histogram, c),
      };
      const markers = JSON.parse(document.getElementById("trade-markers").textContent);
      charts.candles = await drawCandles(document.getElementById("candle-chart"), markers, c, labels);
      window.QuantCharts.drawn = charts; // browser tests read the options the charts were made with
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

  async function compare(el) {
    const LC = window.LightweightCharts;
    await QC().fontsReady();
    const curves = JSON.parse(document.getElementById("compare-curves").textContent);
    const chart = LC.createChart(el, QC().baseOptions(QC().colors()));
    // The curves are indexed to 100 at the start: plain numbers, one decimal.
    const indexFormat = {
      type: "custom", minMove: 0.01, formatter: (v) => QC().formatAmount(v, undefined, 1),
      tickmarksFormatter: (vs) => vs.map((v) => QC().formatAmount(v, undefined, Math.min(QC().stepDecimals(Math.abs(vs[1] - vs[0]) || 1), 2))),
    };
    curves.forEach((curve, i) => {
      const series = chart.addSeries(LC.LineSeries, {
        color: PALETTE[i % PALETTE.length], lineWidth: 2, title: curve.title, priceFormat: indexFormat,
      });
      series.setData(line(curve.dates, curve.values));
    });
    chart.timeScale().fitContent();
    el.dataset.chartReady = "1";
  }

  function start() {
    if (!window.LightweightCharts || !window.QuantCharts) return;
    const box = document.querySelector("[data-results-url]");
    if (box) results(box);
    const comparison = document.getElementById("compare-chart");
    if (comparison) compare(comparison);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
