// The instrument page's daily chart: candles with volume below, TradingView lightweight-charts (v5).
//
// Reads its container's data attributes: data-bars-url (the bars API), data-range (the range shown
// first) and data-msg-* (status texts, translated by the server). Fetches every bar once; the
// range buttons only move the visible window, so panning back in time needs no new request.
// Sets data-bars-loaded="<number of bars>" once drawn (browser tests wait on it).
(function () {
  "use strict";

  const DAY_MS = 24 * 3600 * 1000;

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function withAlpha(color, alpha) {
    const hex = /^#([0-9a-f]{6})$/i.exec(color);
    if (!hex) return color;
    const n = parseInt(hex[1], 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function theme() {
    return {
      background: cssVar("--surface", "#ffffff"),
      text: cssVar("--text", "#17202a"),
      muted: cssVar("--muted", "#5d6b7a"),
      border: cssVar("--border", "#dde2e8"),
      up: cssVar("--up", "#1b7f3b"),
      down: cssVar("--down", "#c62828"),
    };
  }

  function chartOptions(colors, decimals) {
    const LC = window.LightweightCharts;
    const locale = document.documentElement.lang || "ko";
    const prices = new Intl.NumberFormat(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    return {
      autoSize: true,
      layout: {
        background: { type: LC.ColorType.Solid, color: colors.background },
        textColor: colors.text,
        attributionLogo: true, // TradingView's licence asks for the attribution: keep it visible
      },
      grid: {
        vertLines: { color: withAlpha(colors.border, 0.6) },
        horzLines: { color: withAlpha(colors.border, 0.6) },
      },
      rightPriceScale: { borderColor: colors.border },
      // Small enough for "All" to fit decades of daily bars on one screen (the default is 0.5 px).
      timeScale: { borderColor: colors.border, minBarSpacing: 0.05 },
      crosshair: { mode: LC.CrosshairMode.Normal },
      localization: { locale, priceFormatter: (price) => prices.format(price) },
    };
  }

  function candleOptions(colors) {
    return {
      upColor: colors.up, downColor: colors.down, borderVisible: false,
      wickUpColor: colors.up, wickDownColor: colors.down,
    };
  }

  function volumeData(bars, colors) {
    const up = withAlpha(colors.up, 0.45);
    const down = withAlpha(colors.down, 0.45);
    return bars.map((bar) => ({ time: bar.time, value: bar.volume, color: bar.close >= bar.open ? up : down }));
  }

  function dayBefore(isoDay, days) {
    return new Date(Date.parse(isoDay + "T00:00:00Z") - days * DAY_MS).toISOString().slice(0, 10);
  }

  function showRange(chart, bars, days) {
    if (!bars.length) return;
    const last = bars[bars.length - 1].time;
    if (!days || dayBefore(last, days) <= bars[0].time) {
      chart.timeScale().fitContent();
      return;
    }
    chart.timeScale().setVisibleRange({ from: dayBefore(last, days), to: last });
  }

  // KRW stock prices are whole won; coins and other currencies may have decimals.
  function priceDecimals(bars) {
    return bars.every((bar) => Number.isInteger(bar.open) && Number.isInteger(bar.close)) ? 0 : 2;
  }

  async function render(container) {
    const status = container.querySelector(".chart-status");
    const say = (text) => { if (status) status.textContent = text || ""; };
    const LC = window.LightweightCharts;
    if (!LC) { say(container.dataset.msgError); return; }
    say(container.dataset.msgLoading);

    let bars;
    try {
      const response = await fetch(container.dataset.barsUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      bars = (await response.json()).bars;
    } catch (error) {
      say(container.dataset.msgError);
      container.dataset.barsLoaded = "error";
      return;
    }
    if (!bars.length) {
      say(container.dataset.msgEmpty);
      container.dataset.barsLoaded = "0";
      return;
    }

    let colors = theme();
    const decimals = priceDecimals(bars);
    const chart = LC.createChart(container, chartOptions(colors, decimals));
    const candles = chart.addSeries(LC.CandlestickSeries, {
      ...candleOptions(colors),
      priceFormat: { type: "price", precision: decimals, minMove: 1 / 10 ** decimals },
    });
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    const volume = chart.addSeries(LC.HistogramSeries, {
      priceFormat: { type: "volume" }, priceScaleId: "", lastValueVisible: false, priceLineVisible: false,
    });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

    candles.setData(bars.map((b) => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close })));
    volume.setData(volumeData(bars, colors));
    say("");

    const buttons = document.querySelectorAll("[data-testid=chart-ranges] button[data-range]");
    const select = (button) => {
      buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      container.dataset.range = button.dataset.range;
      showRange(chart, bars, Number(button.dataset.days) || 0);
    };
    buttons.forEach((button) => button.addEventListener("click", () => select(button)));
    const initial = Array.from(buttons).find((b) => b.dataset.range === container.dataset.range);
    if (initial) select(initial); else chart.timeScale().fitContent();

    // "Follow the system" theme changes without a reload: repaint with the new variables.
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
      colors = theme();
      chart.applyOptions(chartOptions(colors, decimals));
      candles.applyOptions(candleOptions(colors));
      volume.setData(volumeData(bars, colors));
    });
    container.dataset.barsLoaded = String(bars.length);
  }

  function start() {
    document.querySelectorAll("[data-bars-url]").forEach(render);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
