"""Readable chart axes (KRW with separators and 만/억, percentages, dates, thinned bare markers) and
the price-colours preference (red up in Korean until chosen) across pages, in a real browser.

The charts draw on canvas, so the formatters are read where the page keeps them
(window.QuantCharts, static/js/chart.js) and the drawn charts are checked to use them.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from tests.e2e.helpers import login
from tests.e2e.test_backtests import fill_form, sample_market  # noqa: F401 (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

GREEN, RED, BLUE = "rgb(27, 127, 59)", "rgb(211, 47, 47)", "rgb(21, 101, 192)"  # light theme --up/--down


def run_backtest(page) -> None:
    fill_form(page, start="2015-01-02")
    with page.expect_navigation():
        page.locator("[data-testid=run-backtest]").click()
    expect(page.locator("[data-testid=charts]")).to_have_attribute("data-chart-ready", "1", timeout=30_000)


def js(page, expression: str):
    return page.evaluate(f"() => {expression}")


def test_the_results_charts_format_their_axes_and_thin_their_markers(new_page, sample_market):  # noqa: F811
    user = UserFactory(email="axes@example.com", language="ko")
    page = new_page()
    login(page, user.email)
    run_backtest(page)

    # amounts: separators, and 만/억 on the axis in Korean; K/M in English; the crosshair in full
    assert js(page, "QuantCharts.amountTicks([0, 25e6, 50e6, 75e6, 100e6, 125e6], 'ko')") == [
        "0", "2,500만", "5,000만", "7,500만", "1억", "1억 2,500만"]
    assert js(page, "QuantCharts.amountTicks([-200000, -100000, 0, 90000000], 'ko')") == [
        "\u221220만", "\u221210만", "0", "9,000만"]
    assert js(page, "QuantCharts.amountTicks([10.5e6, 11e6, 11.5e6], 'en')") == ["10.5M", "11M", "11.5M"]
    assert js(page, "QuantCharts.formatAmount(90000000)") == "90,000,000"
    # percentages; a narrow distribution keeps its ticks apart
    assert js(page, "QuantCharts.percentTicks([-20, -10, 0, 10])") == ["\u221220%", "\u221210%", "0%", "10%"]
    assert js(page, "QuantCharts.percentTicks([10.5, 10.75, 11])") == ["10.50%", "10.75%", "11.00%"]
    # prices: whole won, and no tick below zero where the scale's margin reaches
    assert js(page, "QuantCharts.priceFormat(0).tickmarksFormatter([-200000, 0, 200000])") == ["", "0", "200,000"]
    # dates: year, month, day ticks and the crosshair's date
    assert js(page, "[0, 1, 2].map((t) => QuantCharts.dateTick('2024-04-15', t, 'ko'))") == ["2024", "4월", "15일"]
    assert js(page, "QuantCharts.dateTick('2024-04-15', 1, 'en')") == "Apr"
    assert js(page, "QuantCharts.dateLabel('2024-04-05', 'ko')") == "2024.04.05"

    # the drawn charts use them
    drawn = js(page, """(() => {
        const d = QuantCharts.drawn, equity = d.equity.panes()[0].getSeries()[0].options().priceFormat;
        const drawdown = d.drawdown.panes()[0].getSeries()[0].options().priceFormat;
        return {
          equity: [equity.type, equity.formatter(90000000), equity.tickmarksFormatter([5e7, 1e8]).join('|')],
          drawdown: [drawdown.formatter(-12.34), drawdown.tickmarksFormatter([-20, 0]).join('|')],
          dateTicks: d.equity.options().timeScale.tickMarkFormatter === QuantCharts.dateTick,
          // the library keeps the edge date labels inside the axis only when the edges are fixed
          edgesFixed: ['equity', 'drawdown', 'candles'].every((name) => {
            const t = d[name].options().timeScale; return t.fixLeftEdge && t.fixRightEdge; }),
        };
    })()""")
    assert drawn == {
        "equity": ["custom", "90,000,000", "5,000만|1억"],
        "drawdown": ["\u221212.3%", "\u221220%|0%"],
        "dateTicks": True,
        "edgesFixed": True,
    }
    labels = page.locator("[data-testid=histogram-chart]").get_attribute("data-bucket-labels")
    buckets = js(page, f"JSON.parse({labels!r})")
    assert buckets and len(set(buckets)) == len(buckets) and all(b.endswith("%") for b in buckets)

    # markers are bare arrows, thinned while zoomed out; their text is in the legend
    candles = page.locator("[data-testid=candle-chart]")
    total, shown = int(candles.get_attribute("data-markers")), int(candles.get_attribute("data-markers-shown"))
    assert 0 < shown < total
    assert js(page, "QuantCharts.thinMarkers([{time: 'a'}, {time: 'b'}, {time: 'c'}], (t) => ({a: 0, b: 3, c: 30}[t]), 1, 12)") == [
        {"time": "a"}, {"time": "c"}]
    assert js(page, "QuantCharts.thinMarkers([{time: 'a'}, {time: 'b'}], (t) => ({a: 0, b: 3}[t]), 20, 12).length") == 2
    expect(page.locator("[data-testid=candle-legend]")).to_contain_text(re.compile("매수|매도"))
    box = candles.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("[data-testid=candle-legend]")).to_contain_text(re.compile(r"\d{4}\.\d{2}\.\d{2}"))


def up_and_down_colours(page) -> list[tuple[str, str]]:
    return [tuple(pair) for pair in page.locator("td.up, td.down").evaluate_all(
        "cells => cells.map(c => [c.classList.contains('up') ? 'up' : 'down', getComputedStyle(c).color])")]


def test_the_price_colours_follow_the_preference_on_every_page(new_page, sample_market):  # noqa: F811
    # a Korean visitor sees red up without choosing anything
    visitor = new_page()
    visitor.goto("/")
    expect(visitor.locator("html")).to_have_class(re.compile("updown-kr"))

    user = UserFactory(email="colours@example.com", language="en")  # English: green up until chosen
    page = new_page()
    login(page, user.email)
    with page.expect_navigation():
        page.locator("[data-testid=theme-light]").click()
    run_backtest(page)
    results_url = page.url
    expect(page.locator("html")).not_to_have_class(re.compile("updown-kr"))
    assert ("up", GREEN) in up_and_down_colours(page)
    assert js(page, "QuantCharts.drawn.candles.panes()[0].getSeries()[0].options().upColor") == "#1b7f3b"

    page.goto("/settings/")
    page.locator("#price-colors input[value=kr]").check()
    with page.expect_navigation():
        page.locator("[data-testid=save-preferences]").click()
    expect(page.locator("#price-colors input[value=kr]")).to_be_checked()

    # the results page: tables and the charts
    page.goto(results_url)
    expect(page.locator("[data-testid=charts]")).to_have_attribute("data-chart-ready", "1")
    colours = up_and_down_colours(page)
    assert ("up", RED) in colours and ("down", BLUE) in colours and ("up", GREEN) not in colours
    assert js(page, "QuantCharts.drawn.candles.panes()[0].getSeries()[0].options().upColor") == "#d32f2f"
    # the history page
    page.goto("/backtests/")
    colours = up_and_down_colours(page)
    assert colours and all(colour == (RED if kind == "up" else BLUE) for kind, colour in colours)
