"""``manage.py backtest``: every strategy type on real sample bars, the report, the JSON, the trades
CSV and every bad-argument path (one line, exit status 1).

The real daily bars of ``marketdata/sample_data/bars`` go once into a temporary bar store; no database.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from backtests.management.commands import backtest as cli
from backtests.tests.conftest import read_sample
from marketdata.store import BarStore
from strategies.signals import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_BARS = ROOT / "marketdata" / "sample_data" / "bars"
SAMPLE_MARKETS = {"005930": "KOSPI", "000660": "KOSPI", "035720": "KOSPI", "KRW-BTC": "CRYPTO"}
JSON_KEYS = {"strategy", "params", "config", "source", "period", "symbols", "metrics", "final_equity", "per_symbol",
             "benchmark", "trades", "notes"}




@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """A bar store holding the real sample bars (read only by the tests, so shared by all)."""
    root = tmp_path_factory.mktemp("cli") / "marketdata"
    store = BarStore(root, fsync=False)
    for code, market in SAMPLE_MARKETS.items():
        store.write(code, market, **read_sample(code))
    return root


@pytest.fixture(autouse=True)
def _sample_store(settings, sample_root):
    settings.MARKET_DATA_ROOT = sample_root


def backtest(*args: str) -> str:
    out = StringIO()
    call_command("backtest", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def failure(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        backtest(*args)
    return str(caught.value)


# --- runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_strategy_type_runs_on_real_sample_bars(name):
    payload = json.loads(backtest("--codes", "005930,000660", "--start", "2015-01-01", "--strategy", name, "--json"))
    assert payload["strategy"] == name and payload["trades"] > 0
    assert [s["code"] for s in payload["symbols"]] == ["005930", "000660"]
    total = payload["final_equity"]["total"]
    assert total == payload["metrics"]["final_equity"] > 0
    assert sum(payload["final_equity"]["per_symbol"].values()) == pytest.approx(total)


def test_the_text_report_shows_period_metrics_benchmark_and_symbols():
    args = ("--codes", "005930,000660", "--start", "2020-01-01", "--end", "2024-12-31", "--strategy", "sma_cross",
            "--param", "fast=10", "--param", "slow=30")
    lines = backtest(*args).splitlines()
    payload = json.loads(backtest(*args, "--json"))
    metrics, bench = payload["metrics"], payload["benchmark"]
    assert lines[0] == "Backtest sma_cross (fast=10, slow=30)"
    assert lines[1] == "Period      2020-01-02 … 2024-12-30 (1,231 bars)"
    assert lines[2] == "Symbols     005930 (KOSPI), 000660 (KOSPI)"
    assert lines[3].startswith("Settings    cash 10,000,000 KRW, commission 0.015 %, sell tax by market and date")
    table = {line[:16].strip(): line[16:] for line in lines}

    def pct(value: float) -> str:
        return f"{value * 100:,.2f} %"

    assert table["Total return"].split() == [*pct(metrics["total_return"]).split(), *pct(bench["total_return"]).split()]
    assert pct(metrics["cagr"]) in table["CAGR"] and pct(bench["cagr"]) in table["CAGR"]
    assert pct(metrics["max_drawdown"]) in table["Max drawdown"]
    assert table["peak"].split() == [metrics["max_drawdown_peak"], bench["max_drawdown_peak"]]
    assert table["trough"].split() == [metrics["max_drawdown_trough"], bench["max_drawdown_trough"]]
    assert table["Sharpe"].split() == [f"{metrics['sharpe']:.2f}", f"{bench['sharpe']:.2f}"]
    assert table["Win rate"].strip() == pct(metrics["win_rate"])
    assert table["Trades"].strip() == f"{metrics['trades']} closed, {metrics['open_trades']} open"
    assert table["Final equity"].split()[0] == f"{metrics['final_equity']:,.0f}"
    assert table["Total costs"].strip() == f"{metrics['costs']['total']:,.0f} KRW"
    for code, equity in payload["final_equity"]["per_symbol"].items():
        (row,) = [line for line in lines if line.startswith(f"{code}      KOSPI")]
        assert row.endswith(f"{equity:,.0f} KRW")


def test_json_is_one_object_with_metrics_equity_breakdown_benchmark_and_inputs():
    out = backtest("--codes", "005930", "--start", "2024-01-01", "--end", "2024-12-31", "--strategy",
                   "buy_and_hold", "--accounts", "independent", "--sizing", "fixed_krw=5000000", "--json")
    payload = json.loads(out)  # the whole of stdout
    assert set(payload) == JSON_KEYS
    assert payload["params"] == {} and payload["source"] == {"codes": ["005930"]}
    assert payload["config"]["sizing"] == ["fixed_krw", 5000000.0]
    assert payload["config"]["costs"] == {"commission": 0.00015, "slippage_bps": 0.0, "sell_tax": None}
    assert payload["period"] == {"start": "2024-01-02", "end": "2024-12-30", "bars": 244}
    metrics = payload["metrics"]
    assert metrics["win_rate"] is None  # no closed trade: NaN becomes null
    assert metrics["max_drawdown_peak"] < metrics["max_drawdown_trough"]  # ISO dates compare as dates
    assert payload["trades"] == 1 and metrics["open_trades"] == 1
    assert payload["benchmark"] == metrics["benchmark"] and "total_return" in payload["benchmark"]
    (row,) = payload["per_symbol"]
    assert row["symbol"] == "005930" and row["market"] == "KOSPI"
    assert payload["final_equity"]["per_symbol"] == {"005930": row["final_equity"]}
    assert payload["final_equity"]["total"] == pytest.approx(row["final_equity"])


def test_crypto_only_runs_count_365_days_a_year():
    payload = json.loads(backtest("--codes", "krw-btc", "--strategy", "buy_and_hold", "--json"))
    assert payload["symbols"] == [{"code": "KRW-BTC", "market": "CRYPTO"}]
    assert payload["config"]["periods_per_year"] == 365


def test_csv_input_assumes_kospi_and_says_so(tmp_path):
    text = backtest("--csv", str(SAMPLE_BARS / "005930.csv"), "--start", "2024-01-01", "--strategy", "ema_cross")
    assert f"Note        {cli.KOSPI_ASSUMED}" in text.splitlines()
    payload = json.loads(backtest("--csv", str(SAMPLE_BARS / "005930.csv"), "--start", "2024-01-01",
                                  "--strategy", "ema_cross", "--json"))
    assert payload["notes"] == [cli.KOSPI_ASSUMED] and payload["symbols"] == [{"code": "005930", "market": "KOSPI"}]
    fixed = json.loads(backtest("--csv", str(SAMPLE_BARS / "005930.csv"), "--strategy", "ema_cross",
                                "--sell-tax", "0.002", "--json"))
    assert fixed["notes"] == [] and fixed["config"]["costs"]["sell_tax"] == 0.002


# --- the trades file -----------------------------------------------------------------------------


def test_trades_out_writes_the_header_and_hand_checked_rows(tmp_path):
    # fast=1, slow=2: the close against the average of the last two closes. It crosses above on
    # bar 3 (100 > 90), so the buy fills at bar 4's open 105; below on bar 5 (110 < 115), so the
    # sale fills at bar 6's open 100; the cross above on the last bar (95 > 92.5) is dropped.
    closes = [100, 90, 80, 100, 120, 110, 90, 95]
    opens = [100, 95, 85, 90, 105, 118, 100, 92]
    rows = "".join(f"2024-01-{day + 1:02d},{o},{max(o, c)},{min(o, c)},{c},1000\n"
                   for day, (o, c) in enumerate(zip(opens, closes, strict=True)))
    (tmp_path / "005930.csv").write_text("date,open,high,low,close,volume\n" + rows)
    out = tmp_path / "trades.csv"
    backtest("--csv", str(tmp_path / "005930.csv"), "--strategy", "sma_cross", "--param", "fast=1",
             "--param", "slow=2", "--cash", "1000000", "--trades-out", str(out))
    lines = out.read_text().splitlines()
    assert lines[0] == "symbol,entry_date,entry_price,shares,exit_date,exit_price,return_pct,exit_reason"
    # floor(1,000,000 / (105 * 1.00015)) = 9522 shares; paid 999,810 + 149.9715 commission;
    # received 952,200 - 142.83 commission - 1,713.96 tax (0.18 %, KOSPI 2024) = 950,343.21;
    # 950,343.21 / 999,959.9715 - 1 = -4.9619 %
    assert lines[1:] == ["005930,2024-01-05,105,9522,2024-01-07,100,-4.9619,signal"]


@pytest.mark.parametrize("code", ["=1+1", "@SUM(A1)", "+A1", "-2+3", "\tX"])
def test_trades_out_neutralises_a_symbol_a_spreadsheet_would_run(tmp_path, code):
    # Codes from files are checked (no such code reaches the file today); the writer holds anyway.
    from types import SimpleNamespace

    import datetime as dt

    trade = SimpleNamespace(symbol=code, entry_date=dt.date(2024, 1, 5), entry_price=105.0, shares=9522,
                            exit_date=dt.date(2024, 1, 7), exit_price=100.0, net_return=-0.049619,
                            exit_reason="signal")
    out = tmp_path / "trades.csv"
    cli._write_trades(SimpleNamespace(trades=[trade]), out)
    with out.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["symbol"] == "'" + code
    assert row["return_pct"] == "-4.9619"  # a negative number stays a number


def test_trades_out_lists_open_positions_with_an_empty_exit(tmp_path):
    out = tmp_path / "trades.csv"
    backtest("--codes", "005930", "--start", "2024-01-01", "--end", "2024-06-28", "--strategy", "buy_and_hold",
             "--trades-out", str(out))
    with out.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["entry_date"] == "2024-01-03" and row["exit_date"] == "" and row["exit_price"] == ""
    assert row["exit_reason"] == "open" and int(row["shares"]) > 0
    # the open position is valued at the last close without sell costs
    cash_out = int(row["shares"]) * float(row["entry_price"]) * 1.00015
    last_close = read_sample("005930")["close"][np.flatnonzero(read_sample("005930")["date"]
                                                               <= np.datetime64("2024-06-28"))[-1]]
    assert float(row["return_pct"]) == pytest.approx((int(row["shares"]) * last_close / cash_out - 1) * 100,
                                                      abs=1e-4)


# --- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "sma_cross"], cli.SOURCE_REQUIRED),
    (["--csv", "x.csv", "--codes", "005930", "--strategy", "sma_cross"], cli.SOURCE_BOTH),
    (["--codes", " , ", "--strategy", "sma_cross"], cli.NO_CODES),
    (["--codes", "005930"], cli.STRATEGY_REQUIRED.format(known=", ".join(REGISTRY))),
    (["--codes", "005930", "--strategy", "moon_phase"],
     f"Unknown strategy type 'moon_phase'; known types: {', '.join(REGISTRY)}."),
    (["--codes", "005930", "--strategy", "sma_cross", "--param", "fast"], cli.PARAM_SYNTAX.format(value="fast")),
    (["--codes", "005930", "--strategy", "sma_cross", "--param", "=3"], cli.PARAM_SYNTAX.format(value="=3")),
    (["--codes", "005930", "--strategy", "sma_cross", "--param", "fast=3", "--param", "fast=4"],
     cli.PARAM_TWICE.format(name="fast")),
    (["--codes", "005930", "--strategy", "sma_cross", "--param", "fast=30", "--param", "slow=10"],
     "Invalid --param for sma_cross: slow: Must be greater than fast (30)."),
    (["--codes", "005930", "--strategy", "sma_cross", "--param", "fast=1.5", "--param", "speed=2"],
     "Invalid --param for sma_cross: fast: Enter a whole number. speed: Unknown parameter; known parameters: "
     "fast, slow."),
    (["--codes", "005930", "--strategy", "sma_cross", "--param", "slow=9999"],
     "Invalid --param for sma_cross: slow: Must be at most 500."),
    (["--codes", "005930", "--strategy", "volatility_breakout", "--param", "k=much"],
     "Invalid --param for volatility_breakout: k: Enter a number."),
    (["--codes", "005930", "--start", "2024-02-30", "--strategy", "sma_cross"],
     cli.NOT_A_DATE.format(option="--start", value="2024-02-30")),
    (["--codes", "005930", "--start", "2024-02-01", "--end", "2024-01-31", "--strategy", "sma_cross"],
     cli.END_BEFORE_START.format(start="2024-02-01", end="2024-01-31")),
    (["--codes", "005930", "--strategy", "sma_cross", "--sizing", "half"], cli.BAD_SIZING.format(value="half")),
    (["--codes", "005930", "--strategy", "sma_cross", "--sizing", "fixed_krw=lots"],
     cli.BAD_SIZING.format(value="fixed_krw=lots")),
    (["--codes", "005930", "--strategy", "sma_cross", "--sizing", "pct_equity=10"],
     "Invalid setting: pct_equity is a fraction of equity in (0, 1] (10 % is 0.1), got 10.0."),
    (["--codes", "005930", "--strategy", "sma_cross", "--cash", "lots"],
     cli.NOT_A_NUMBER.format(option="--cash", value="lots")),
    (["--codes", "005930", "--strategy", "sma_cross", "--commission", "1.5"],
     "Invalid setting: commission must be a number in [0, 1), got 1.5."),
    (["--codes", "005930", "--strategy", "sma_cross", "--fill", "tomorrow"],
     cli.NOT_A_CHOICE.format(option="--fill", value="tomorrow", choices="next_open, close")),
    (["--codes", "005930", "--strategy", "sma_cross", "--accounts", "joint"],
     cli.NOT_A_CHOICE.format(option="--accounts", value="joint", choices="independent, shared")),
])
def test_bad_arguments_fail_with_one_line_naming_the_problem(args, message):
    assert failure(*args) == message


def test_codes_without_data_are_named(sample_root):
    assert failure("--codes", "005930,999999", "--strategy", "sma_cross") == cli.NO_DATA.format(
        error="unknown code 999999 (no bars in the bar store)", root=sample_root)
    assert failure("--codes", "035720,005930", "--end", "2020-12-31", "--strategy", "sma_cross") == \
        cli.NO_DATA.format(error="no bars up to 2020-12-31 for 035720", root=sample_root)
    assert failure("--codes", "../etc", "--strategy", "sma_cross") == "--codes: invalid instrument code '../ETC'."


@pytest.mark.parametrize(("text", "problem"), [
    ("date,open,high,low,volume\n2024-01-02,1,1,1,1\n",
     ": missing columns: close (header has: date, open, high, low, volume)"),
    ("date,open,high,low,close,volume\n02/01/2024,1,1,1,1,1\n",
     " row 2: date '02/01/2024' is not a date (expected YYYY-MM-DD)"),
    ("date,open,high,low,close,volume\n2024-01-02,1,1,1,one,1\n", " row 2: close 'one' is not a number"),
    ("date,open,high,low,close,volume\n", ": has no data rows"),
    ("date,open,high,low,close,volume\n2024-01-02,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n",
     " row 3: duplicate date 2024-01-02, already on row 2"),
])
def test_a_bad_csv_is_named_with_its_row_and_problem(tmp_path, text, problem):
    path = tmp_path / "005930.csv"
    path.write_text(text)
    assert failure("--csv", str(path), "--strategy", "sma_cross") == cli.BAD_CSV.format(error=f"{path}{problem}")


def test_an_unwritable_trades_file_is_named(tmp_path):
    target = tmp_path / "missing" / "trades.csv"
    message = failure("--codes", "005930", "--start", "2024-01-01", "--strategy", "sma_cross",
                      "--trades-out", str(target))
    assert message == cli.CANNOT_WRITE.format(path=target, error="No such file or directory")


# --- as a person runs it -----------------------------------------------------------------------


def manage(sample_root: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MARKET_DATA_ROOT": str(sample_root), "DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "backtest", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def test_from_the_shell_json_is_all_of_stdout_and_errors_are_one_line_with_status_1(sample_root, tmp_path):
    done = manage(sample_root, tmp_path, "--codes", "005930", "--start", "2023-01-01", "--strategy",
                  "volatility_breakout", "--param", "k=0.4", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["params"] == {"k": 0.4} and payload["trades"] > 0
    assert not any(isinstance(v, float) and math.isnan(v) for v in payload["metrics"].values())
    failed = manage(sample_root, tmp_path, "--codes", "005930", "--strategy", "sma_cross", "--param", "fast=x")
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.strip().splitlines() == ["CommandError: Invalid --param for sma_cross: fast: Enter a "
                                                  "whole number."]
