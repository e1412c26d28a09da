// Shared chart code (TradingView lightweight-charts v5) and the instrument page's daily chart.
//
// window.QuantCharts: the formatters every chart of the site uses (amounts in KRW with thousands
// separators, 만/억 on long Korean axes and K/M/B in English; percentages; date ticks; thinning
// of trade markers), the colours read from the CSS variables (--up/--down follow the user's
// price-colours preference, a class on <html>), and the base chart options. Pure functions, so
// browser tests call them directly.
//
// The instrument chart reads its container's data attributes: data-bars-url (the bars API),
// data-range (the range shown first) and data-msg-* (status texts, translated by the server).
// Fetches every bar once; the range buttons only move the visible window. Sets
// data-bars-loaded="<number of bars>" once drawn (browser tests wait on it).
(function () {
  "use strict";

  const DAY_MS = 24 * 3600 * 1000;
  const MINUS = "\u2212"; // the chart library's own minus sign: the same glyph on every axis

  // -- numbers -------------------------------------------------------------------------------------
  function pageLocale() {
    return document.documentElement.lang || "ko";
  }

  function isKorean(locale) {
    return String(locale || "").toLowerCase().startsWith("ko");
  }

  const numberFormats = new Map();
  function grouped(value, decimals, locale) {
    const key = locale + "|" + decimals;
    if (!numberFormats.has(key)) {
      numberFormats.set(key, new Intl.NumberFormat(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals }));
    }
    return numberFormats.get(key).format(value);
  }

  function signed(value, text) {
    return value < 0 && text.replace(/[0.,]/g, "") !== "" ? MINUS + text : text;
  }

  // The fewest decimals (0..4) that show ``step`` exactly: ticks 0.25 apart need 2.
  function stepDecimals(step) {
    if (!(step > 0) || !Number.isFinite(step)) return 0;
    for (let d = 0; d < 4; d++) {
      const scaled = step * 10 ** d;
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
    }
    return 4;
  }

  // The smallest gap between distinct values (tick marks are evenly spaced).
  function smallestStep(values) {
    const sorted = Array.from(new Set(values.filter(Number.isFinite))).sort((a, b) => a - b);
    let step = Infinity;
    for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i] - sorted[i - 1]);
    return Number.isFinite(step) ? step : 0;
  }

  // An amount in full: "91,668,701" (whole won unless decimals are asked for).
  function formatAmount(value, locale, decimals) {
    const d = decimals || 0;
    return signed(value, grouped(Math.abs(value), d, locale || pageLocale()));
  }

  function trimZeros(text) {
    return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
  }

  // 125,000,000 -> "1억 2,500만", 90,000,000 -> "9,000만", 200,000 -> "20만" (how Korean brokers write sums).
  function koreanAmount(abs, step, locale) {
    if (abs < 1e5) return grouped(abs, Math.min(stepDecimals(step), 2), locale);
    const manDecimals = Math.min(stepDecimals(step / 1e4), 2);
    let eok = Math.floor(abs / 1e8);
    let man = Number(((abs - eok * 1e8) / 1e4).toFixed(manDecimals));
    if (man >= 1e4) { eok += 1; man = 0; }
    const parts = [];
    if (eok) parts.push(grouped(eok, 0, locale) + "억");
    if (man) parts.push(trimZeros(grouped(man, manDecimals, locale)) + "만");
    return parts.join(" ") || "0";
  }

  // 10,500,000 -> "10.5M", 950,000 -> "950K", 1,250,000,000 -> "1.25B".
  function englishAmount(abs, step, locale) {
    const units = [[1e9, "B"], [1e6, "M"], [1e5, "K"]];
    for (const [size, suffix] of units) {
      if (abs >= size) {
        const unit = suffix === "K" ? 1e3 : size;
        return trimZeros(grouped(abs / unit, Math.min(stepDecimals(step / unit), 3), locale)) + suffix;
      }
    }
    return grouped(abs, Math.min(stepDecimals(step), 2), locale);
  }

  // Price-axis labels of an amount axis: short, and never two alike (precision follows the step).
  function amountTicks(values, locale) {
    const loc = locale || pageLocale();
    const step = smallestStep(values);
    return values.map((v) => signed(v, (isKorean(loc) ? koreanAmount : englishAmount)(Math.abs(v), step, loc)));
  }

  // ``value`` is already in percent: 12.345 -> "12.3%", -20 -> "−20%".
  function formatPercent(value, decimals, locale) {
    return signed(value, grouped(Math.abs(value), decimals === undefined ? 1 : decimals, locale || pageLocale())) + "%";
  }

  function percentTicks(values, locale) {
    const d = Math.min(stepDecimals(smallestStep(values)), 2);
    return values.map((v) => formatPercent(v, d, locale));
  }

  // Counts (the histogram): integers only.
  function countTicks(values, locale) {
    return values.map((v) => (Number.isInteger(v) ? grouped(v, 0, locale || pageLocale()) : ""));
  }

  // Series priceFormat objects (the library's custom format: one formatter, one for the ticks).
  function amountFormat() {
    return { type: "custom", minMove: 1, formatter: (v) => formatAmount(v), tickmarksFormatter: (vs) => amountTicks(vs) };
  }

  function percentFormat(decimals) {
    return {
      type: "custom", minMove: 0.01,
      formatter: (v) => formatPercent(v, decimals), tickmarksFormatter: (vs) => percentTicks(vs),
    };
  }

  // Instrument prices: whole won for KRW stocks, decimals where the data has them; no 만 (prices are read exactly).
  function priceFormat(decimals) {
    return {
      type: "custom", minMove: 1 / 10 ** decimals,
      formatter: (v) => formatAmount(v, pageLocale(), decimals),
      // A price is never below zero: the scale's bottom margin may reach there, its ticks stay blank.
      tickmarksFormatter: (vs) => vs.map((v) => (v < 0 ? ""
        : formatAmount(v, pageLocale(), Math.max(decimals, Math.min(stepDecimals(smallestStep(vs)), 4))))),
    };
  }

  // -- dates ----------------------------------------------------------------------------------------
  function dayParts(time) {
    if (typeof time === "string") {
      const [y, m, d] = time.split("-").map(Number);
      return { year: y, month: m, day: d };
    }
    if (typeof time === "number") {
      const date = new Date(time * 1000);
      return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
    }
    return { year: time.year, month: time.month, day: time.day };
  }

  // Time-axis labels (TickMarkType: 0 year, 1 month, 2 day): "2024", "4월"/"Apr", "15일"/"15".
  function dateTick(time, tickMarkType, locale) {
    const loc = locale || pageLocale();
    const { year, month, day } = dayParts(time);
    if (tickMarkType === 0) return String(year);
    if (tickMarkType === 1) {
      return isKorean(loc) ? month + "월" : new Date(Date.UTC(year, month - 1, 1)).toLocaleString(loc, { month: "short", timeZone: "UTC" });
    }
    return isKorean(loc) ? day + "일" : String(day);
  }

  // The crosshair's date: "2024.04.15" in Korean, "Apr 15, 2024" in English.
  function dateLabel(time, locale) {
    const loc = locale || pageLocale();
    const { year, month, day } = dayParts(time);
    if (isKorean(loc)) return `${year}.${String(month).padStart(2, "0")}.${String(day).padStart(2, "0")}`;
    return new Date(Date.UTC(year, month - 1, day)).toLocaleDateString(loc, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
  }

  // -- trade markers --------------------------------------------------------------------------------
  // Keep one marker per ``minGapPx`` of screen: markers closer than that to the last one kept are
  // dropped (zoomed out, hundreds of arrows would melt into one smear). ``indexOf`` maps a marker's
  // time to its bar index. Zoom in and they all come back.
  function thinMarkers(markers, indexOf, barSpacing, minGapPx) {
    const gapBars = (minGapPx || 12) / Math.max(barSpacing, 1e-6);
    if (gapBars <= 1) return markers.slice();
    const kept = [];
    let last = -Infinity;
    for (const marker of markers) {
      const index = indexOf(marker.time);
      if (index === undefined) continue;
      if (index - last >= gapBars) {
        kept.push(marker);
        last = index;
      }
    }
    return kept;
  }

  // -- colours and options ----------------------------------------------------------------------------
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

  // Up and down follow the price-colours preference (html.updown-kr switches the variables).
  function colors() {
    return {
      background: cssVar("--surface", "#ffffff"), text: cssVar("--text", "#17202a"),
      muted: cssVar("--muted", "#5d6b7a"), border: cssVar("--border", "#dde2e8"), accent: cssVar("--accent", "#2457d6"),
      up: cssVar("--up", "#1b7f3b"), down: cssVar("--down", "#c62828"),
    };
  }

  // Options every chart starts from. The canvas draws with the page's own font (the web font),
  // so Korean labels are never boxes.
  function baseOptions(c, extra) {
    const LC = window.LightweightCharts;
    const locale = pageLocale();
    const base = {
      autoSize: true,
      layout: {
        background: { type: LC.ColorType.Solid, color: c.background }, textColor: c.text,
        fontFamily: getComputedStyle(document.body).fontFamily,
        attributionLogo: true, // TradingView's licence asks for the attribution: keep it visible
      },
      grid: { vertLines: { color: withAlpha(c.border, 0.6) }, horzLines: { color: withAlpha(c.border, 0.6) } },
      rightPriceScale: { borderColor: c.border },
      // Small enough for "All" to fit decades of daily bars on one screen (the default is 0.5 px).
      // Fixed edges: no scrolling into empty time, and the library then slides the first and last
      // date labels inside the axis instead of centring them on the edge ("2008" read "008").
      timeScale: { borderColor: c.border, minBarSpacing: 0.05, tickMarkFormatter: dateTick,
                   fixLeftEdge: true, fixRightEdge: true },
      crosshair: { mode: LC.CrosshairMode.Normal },
      localization: { locale, timeFormatter: (t) => dateLabel(t, locale) },
    };
    for (const [key, value] of Object.entries(extra || {})) {
      base[key] = value && typeof value === "object" && !Array.isArray(value) && typeof value !== "function"
        ? Object.assign({}, base[key], value) : value;
    }
    return base;
  }

  // Charts are drawn once the web font is there (a canvas does not redraw when it arrives).
  function fontsReady() {
    return document.fonts && document.fonts.ready ? document.fonts.ready.catch(() => undefined) : Promise.resolve();
  }

  window.QuantCharts = {
    formatAmount, amountTicks, formatPercent, percentTicks, countTicks, amountFormat, percentFormat, priceFormat,
    dateTick, dateLabel, thinMarkers, stepDecimals, colors, withAlpha, baseOptions, fontsReady,
  };

  // -- the instrument page's daily chart -------------------------------------------------------------
  function candleOptions(c) {
    return { upColor: c.up, downColor: c.down, borderVisible: false, wickUpColor: c.up, wickDownColor: c.down };
  }

  function volumeData(bars, c) {
    const up = withAlpha(c.up, 0.45);
    const down = withAlpha(c.down, 0.45);
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
    await fontsReady();

    let c = colors();
    const decimals = priceDecimals(bars);
    const chart = LC.createChart(container, baseOptions(c));
    const candles = chart.addSeries(LC.CandlestickSeries, { ...candleOptions(c), priceFormat: priceFormat(decimals) });
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    const volume = chart.addSeries(LC.HistogramSeries, {
      priceFormat: { type: "volume" }, priceScaleId: "", lastValueVisible: false, priceLineVisible: false,
    });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

    candles.setData(bars.map((b) => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close })));
    volume.setData(volumeData(bars, c));
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
      c = colors();
      chart.applyOptions(baseOptions(c));
      candles.applyOptions(candleOptions(c));
      volume.setData(volumeData(bars, c));
    });
    container.dataset.barsLoaded = String(bars.length);
  }

  function start() {
    document.querySelectorAll("[data-bars-url]").forEach(render);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
