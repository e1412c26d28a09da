"""The pages' benchmark at toy size on the test database: the investor's world is built, a few pages
are requested twice each, and the table is printed with each page's figures (no timing asserted)."""

from __future__ import annotations

import pytest

from bench import pages as bench


@pytest.mark.django_db
def test_the_pages_are_measured_and_the_table_printed(settings, capsys):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""
    args = bench.parser().parse_args(["--repeat", "2", "--backtests", "1", "--orders", "6",
                                      "--only", "settings/", "trading/orders/", "backtests/"])
    figures = bench.run(args)
    bench.report({"mode": "test", "database": "the test database", **figures})

    measured = {row["page"]: row for row in figures["pages"]}
    assert {"/settings/", "/trading/orders/", "/backtests/", "/backtests/new/"} <= set(measured)
    assert all(row["queries"] > 0 and row["p90_ms"] >= row["median_ms"] > 0 for row in measured.values())
    assert measured["/settings/"]["kb"] > 1 and measured["/trading/orders/"]["kb"] > 1
    # the investor's own objects fill the parameters: the run's page is measured, not refused
    assert any(page.startswith("/backtests/") and page.rstrip("/").split("/")[-1].isdigit() for page in measured)
    # an action's GET is listed as skipped with its answer, never measured
    assert any(row["route"] == "/trading/orders/<int:pk>/cancel/" and "405" in row["reason"]
               for row in figures["skipped"])
    out = capsys.readouterr().out
    assert "median ms" in out and "/settings/" in out and "pages over 10 ms" in out
