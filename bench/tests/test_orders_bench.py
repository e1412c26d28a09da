"""The order ledger's benchmark at toy size, on the test database and a real fake KIS process: every
part runs and reports what it promises (no timing is asserted)."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from bench import orders as bench
from core import clock


@pytest.fixture
def fake(settings):
    with bench.FakeBroker(bench.MORNING.timestamp()) as broker:
        settings.BROKER_KIS_REAL_URL = broker.url
        caches["brokers"].clear()
        yield broker
        caches["brokers"].clear()


@pytest.fixture
def morning(monkeypatch):
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    clock.set_to(bench.MORNING)
    yield
    clock.reset()


@pytest.mark.django_db(transaction=True)
def test_every_part_runs_at_toy_size_and_reports_its_figures(fake, morning, tmp_path, capsys):
    args = bench.parser().parse_args(["--accounts", "2", "--tickets", "3", "--acks", "2", "--concurrent", "4",
                                      "--pace", "4", "--workers", "0", "--threads", "2", "--reconcile", "150"])

    figures = bench.run(args, tmp_path, fake)
    bench.report({"mode": "test", "database": "the test database", **figures})

    assert len(figures["place_ms"]) == 3 and figures["ack"]["states"] == {"accepted": 2}
    concurrent = figures["concurrent"]
    assert (concurrent["orders"], concurrent["deliveries"], concurrent["claims_won"]) == (4, 8, 4)
    assert concurrent["states"] == {"accepted": 4} and concurrent["duplicates"] == 0
    assert concurrent["journal_minus_ledger"] == 0 and concurrent["numbers_unique"]
    assert [a["orders"] for a in concurrent["per_account"]] == [2, 2]
    assert figures["pace"]["states"] == {"accepted": 4} and len(figures["pace"]["per_account"]) == 1
    first, second, third = figures["reconcile"]["runs"]
    assert first["by_path"]["inquire-daily-ccld"] == third["by_path"]["inquire-daily-ccld"] == 2  # 100 a page
    assert (first["summary"]["external"], second["summary"]["external"], second["summary"]["fills"]) == (150, 0, 0)
    assert (third["summary"]["external"], third["summary"]["fills"]) == (0, 150 // bench.FILLED_SINCE)
    ledger = figures["reconcile"]["ledger"]
    assert ledger["external"] == 150
    assert ledger["fills"] == figures["reconcile"]["broker_fills"] == 113 + 150 // bench.FILLED_SINCE
    assert ledger["mismatched"] == 0
    printed = capsys.readouterr().out
    for part in ("(1) ticket to order persisted", "(2) ticket to broker acknowledgement", "(3) 4 orders over 2",
                 "(3b) 4 orders at once on one account", "(4) reconcile 150 orders, first run",
                 "(4) reconcile 150 orders, third run (7 orders filled since)"):
        assert part in printed


def test_each_order_is_delivered_twice_in_two_lanes():
    lanes = bench._deliveries(list(range(1, 11)), 3)

    assert sorted(i for lane in lanes for i in lane) == sorted(list(range(1, 11)) * 2)
    assert all(len(lane) == len(set(lane)) for lane in lanes)
