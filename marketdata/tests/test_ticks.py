"""Tick sizes and rounding at every band boundary."""

from __future__ import annotations

import numpy as np
import pytest

from marketdata.ticks import TICK_TABLES, is_on_tick, round_to_tick, tick_size

KRX_BOUNDARIES = [(2_000, 1, 5), (5_000, 5, 10), (20_000, 10, 50), (50_000, 50, 100), (200_000, 100, 500),
                  (500_000, 500, 1_000)]


@pytest.mark.parametrize(("boundary", "below", "at"), KRX_BOUNDARIES)
def test_krx_tick_changes_exactly_at_each_band_boundary(boundary, below, at):
    np.testing.assert_array_equal(tick_size(np.array([boundary - 0.5, boundary, boundary + 1])), [below, at, at])


def test_krx_ticks_from_one_krw_to_a_million():
    prices = np.array([1, 1_999, 2_000, 4_995, 5_000, 19_990, 20_000, 49_950, 50_000, 199_900, 200_000, 499_500,
                       500_000, 1_000_000])
    expected = [1, 1, 5, 5, 10, 10, 50, 50, 100, 100, 500, 500, 1_000, 1_000]
    np.testing.assert_array_equal(tick_size(prices, "krx_stock"), expected)


def test_rounding_directions():
    prices = np.array([1_234.4, 2_002, 2_003, 20_020, 199_950, 499_999])
    np.testing.assert_array_equal(round_to_tick(prices, "krx_stock", "down"), [1_234, 2_000, 2_000, 20_000, 199_900, 499_500])
    np.testing.assert_array_equal(round_to_tick(prices, "krx_stock", "up"), [1_235, 2_005, 2_005, 20_050, 200_000, 500_000])
    np.testing.assert_array_equal(round_to_tick(prices, "krx_stock", "nearest"), [1_234, 2_000, 2_005, 20_000, 200_000, 500_000])


def test_prices_on_tick_are_unchanged_and_rounding_lands_on_tick():
    on = np.array([1_999, 2_000, 4_995, 5_000, 123_400, 500_000, 1_234_000], dtype=float)
    for direction in ("nearest", "down", "up"):
        np.testing.assert_array_equal(round_to_tick(on, "krx_stock", direction), on)
    random = np.random.default_rng(0).uniform(1, 2_000_000, 10_000)
    for direction in ("nearest", "down", "up"):
        assert is_on_tick(round_to_tick(random, "krx_stock", direction)).all()


@pytest.mark.parametrize(
    ("price", "tick"),
    [(2_000_000, 1_000), (1_999_999, 1_000), (1_000_000, 1_000), (999_999, 500), (500_000, 500), (499_999, 100),
     (100_000, 100), (99_999, 50), (50_000, 50), (49_999, 10), (10_000, 10), (9_999, 5), (5_000, 5), (4_999, 1),
     (1_000, 1), (100, 1), (99.99, 0.01), (10, 0.01), (9.999, 0.001)],
)
def test_upbit_krw_ticks(price, tick):
    assert tick_size(np.array([price]), "upbit_krw")[0] == pytest.approx(tick)


def test_fractional_ticks_round_cleanly():
    np.testing.assert_array_equal(round_to_tick(np.array([12.345, 0.123456]), "upbit_krw", "down"), [12.34, 0.1234])
    np.testing.assert_array_equal(round_to_tick(np.array([12.341]), "upbit_krw", "up"), [12.35])


def test_etf_ticks_are_flat_five_krw():
    np.testing.assert_array_equal(round_to_tick(np.array([10_002, 10_003]), "krx_etf"), [10_000, 10_005])


def test_unknown_regime_and_direction_are_rejected():
    with pytest.raises(ValueError, match="unknown tick regime"):
        tick_size(np.array([1.0]), "nyse")
    with pytest.raises(ValueError, match="unknown rounding direction"):
        round_to_tick(np.array([1.0]), "krx_stock", "sideways")


def test_band_boundaries_are_multiples_of_the_next_tick():
    for bands in TICK_TABLES.values():
        for (_, _), (bound, tick) in zip(bands, bands[1:]):
            assert abs(round(bound / tick) * tick - bound) < 1e-12
