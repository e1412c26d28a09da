"""The live runner's benchmark at toy size on the test database: the world is built, every deployment
decides at the open, the guard judges every intent, and the figures are reported (no timing asserted)."""

from __future__ import annotations

import pytest

from bench import live as bench
from core import clock


@pytest.fixture
def at_the_open(monkeypatch, settings):
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""
    clock.set_to(bench.SLOT, tick=False)
    yield
    clock.reset()


@pytest.mark.django_db
def test_every_deployment_decides_at_the_open_and_the_figures_are_reported(at_the_open, capsys):
    from trading.live.models import DeploymentSignal

    args = bench.parser().parse_args(["--deployments", "24", "--symbols", "40", "--per", "5"])
    figures = bench.run(args)
    bench.report({"mode": "test", "database": "the test database", **figures})

    assert figures["deployments_decided"] == 24 and figures["stale"] == 0
    assert 0 < figures["intents"] == DeploymentSignal.objects.count() == figures["buys"] + figures["sells"]
    assert sum(figures["verdicts"].values()) == figures["intents"]
    assert "decide to all intents persisted" in capsys.readouterr().out
