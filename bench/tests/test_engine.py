"""The benchmark script on a tiny universe: its JSON contract, not its timings."""

import json

import pytest

from bench import engine as bench

KEYS = {
    "symbols", "years", "bars", "accounts", "sizing", "max_positions", "engine_s", "engine_runs", "signals_s", "run_s",
    "first_call_s", "floor_s", "peak_rss_mb", "baseline_rss_mb", "trades", "vectorbt_s", "vectorbt_portfolio_s",
    "vectorbt_peak_rss_mb", "backtesting_py_s", "backtesting_py_sample", "ratio_vs_vectorbt",
    "ratio_vs_backtesting_py", "trades_match", "vectorbt_trades_match_rate", "backtesting_py_trades_match_rate",
    "comparison_note", "targets", "targets_met",
}
COMPARISON_KEYS = ("vectorbt_s", "backtesting_py_s", "ratio_vs_vectorbt", "trades_match")


def test_json_holds_the_figures_and_null_comparisons_without_vectorbt(capsys, monkeypatch):
    monkeypatch.setattr(bench, "_installed", lambda module: False)  # as in the project venv

    returned = bench.main(["--symbols", "3", "--years", "1", "--runs", "1", "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(returned))
    assert KEYS <= printed.keys()
    assert (printed["symbols"], printed["years"]) == (3, 1)
    assert (printed["accounts"], printed["sizing"]) == ("independent", "all_in")
    assert printed["bars"] == 3 * 261  # Mon-Fri of 2015
    assert len(printed["engine_runs"]) == 1 and printed["engine_s"] > 0 and printed["peak_rss_mb"] > 0
    assert printed["trades"] > 0
    for key in COMPARISON_KEYS:
        assert printed[key] is None
    assert "not installed" in printed["comparison_note"]
    assert printed["targets"] == [] and printed["targets_met"] is None


def test_shared_accounts_default_to_equal_weight_with_ten_positions(capsys):
    figures = bench.main(["--symbols", "4", "--years", "1", "--runs", "1", "--accounts", "shared"])

    table = capsys.readouterr().out
    assert (figures["sizing"], figures["max_positions"]) == ("equal_weight", bench.SHARED_MAX_POSITIONS)
    assert "equal_weight, max 10 positions" in table
    assert figures["vectorbt_s"] is None and "independent accounts only" in figures["comparison_note"]


def test_one_by_one_sets_the_three_millisecond_target():
    figures = {"symbols": 1, "years": 1, "accounts": "independent", "engine_s": 0.002, "peak_rss_mb": 150.0,
               "ratio_vs_vectorbt": None}

    assert bench._targets(figures) == [{"name": "engine_s", "limit": 0.003, "value": 0.002, "pass": True}]


def test_max_positions_is_refused_for_independent_accounts():
    with pytest.raises(SystemExit):
        bench.main(["--symbols", "1", "--years", "1", "--max-positions", "5"])


def test_strict_crosses_agree_with_the_strategy_signals():
    import numpy as np

    from strategies.signals import crosses

    rng = np.random.default_rng(3)
    fast = rng.integers(0, 4, size=(5, 60)).astype(float)  # many exact ties
    slow = rng.integers(0, 4, size=(5, 60)).astype(float)
    fast[:, :3] = np.nan

    up, down = bench._strict_crosses(fast.T, slow.T)

    expected_up, expected_down = crosses(fast, slow)
    assert (up.T == expected_up).all() and (down.T == expected_down).all()
