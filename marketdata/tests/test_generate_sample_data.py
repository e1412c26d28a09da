"""Synthetic bars: deterministic, valid bars on KRX ticks; the command writes them to the store."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from marketdata.models import Instrument
from marketdata.store import BarStore
from marketdata.synthetic import business_days, generate_universe, synthetic_code
from marketdata.ticks import is_on_tick

PRICE_FIELDS = ("open", "high", "low", "close", "volume", "value")


def universe(seed: int, symbols: int = 5, years: int = 2):
    return list(generate_universe(symbols, years, seed, dt.date(2020, 1, 1)))


def test_same_seed_gives_identical_arrays_and_another_seed_differs():
    first, again, other = universe(7), universe(7), universe(8)
    for a, b, c in zip(first, again, other):
        assert a.code == b.code == c.code
        for name in PRICE_FIELDS:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(a.close, c.close)


def test_a_symbol_does_not_depend_on_how_many_are_generated():
    np.testing.assert_array_equal(universe(7, symbols=2)[1].close, universe(7, symbols=5)[1].close)


def test_bars_are_valid_and_on_krx_ticks():
    for bars in universe(3, symbols=20, years=3):
        assert (bars.high >= np.maximum(bars.open, bars.close)).all()
        assert (bars.low <= np.minimum(bars.open, bars.close)).all()
        assert (bars.low >= 1).all() and (bars.volume > 0).all()
        for name in ("open", "high", "low", "close"):
            assert is_on_tick(getattr(bars, name), "krx_stock").all(), name
        assert np.is_busday(bars.date).all() and (np.diff(bars.date.astype(np.int64)) > 0).all()
        assert bars.code.startswith("9") and len(bars.code) == 6


def test_starting_prices_span_realistic_krw_levels():
    starts = np.array([bars.open[0] for bars in universe(1, symbols=200, years=1)])
    assert 800 < starts.min() < 3_000 and 100_000 < starts.max() < 700_000


def test_codes_and_calendar():
    assert synthetic_code(0) == "900001" and synthetic_code(99_998) == "999999"
    with pytest.raises(ValueError):
        synthetic_code(99_999)
    days = business_days(dt.date(2024, 1, 1), 1)
    assert days[0] == np.datetime64("2024-01-01") and days[-1] == np.datetime64("2024-12-31") and days.size == 262


@pytest.mark.django_db
def test_command_writes_the_store_and_optionally_instruments(tmp_path):
    out = StringIO()
    args = ["--symbols", "3", "--years", "1", "--seed", "5", "--start", "2024-01-01", "--root", str(tmp_path)]
    call_command("generate_sample_data", *args, "--market", "KOSDAQ", stdout=out, verbosity=0)
    assert "Generated 3 symbols, 786 rows, 2024-01-01 to 2024-12-31" in out.getvalue()
    store = BarStore(tmp_path)
    assert store.codes("KOSDAQ") == ["900001", "900002", "900003"]
    expected = list(generate_universe(3, 1, 5, dt.date(2024, 1, 1)))
    np.testing.assert_array_equal(store.read_one("900002").close, expected[1].close)
    assert not Instrument.objects.exists()

    call_command("generate_sample_data", *args, "--market", "KOSDAQ", "--with-instruments", stdout=out, verbosity=0)
    assert len(store.read_one("900002")) == 262  # re-running replaces rows, never duplicates them
    sample = Instrument.objects.get(code="900001")
    assert (sample.name, sample.market) == ("샘플 900001", "KOSDAQ")
    assert Instrument.objects.filter(code__startswith="9").count() == 3
