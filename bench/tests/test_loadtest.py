"""The pure parts of the load test (no stack, no locust): phases, figures, verdicts, the breaking point,
the steps, the table and the options. ``bench.loadtest`` never imports locust; the locustfile does,
and is only loaded by locust."""

from __future__ import annotations

import sys

import pytest

from bench import loadtest

T0 = 1_000.0


def records() -> list[list]:
    ramp = [[T0 + i, "POST", "login", 300.0 + i, None] for i in range(10)]
    steady = [[T0 + 20 + i, "GET", "dashboard", float(i + 1), None] for i in range(100)]
    steady += [[T0 + 20 + i, "GET", "results (kept)", 5.0, None] for i in range(50)]
    steady += [[T0 + 30, "POST", "new backtest (refused: plan limit)", 40.0, None]]
    steady += [[T0 + 120, "GET", "orders", 900.0, "submit answered 500"]]
    return ramp + steady


def test_records_split_at_the_moment_everyone_signed_in():
    phases = loadtest.split_phases(records(), T0 + 20)
    assert {r[2] for r in phases["ramp"]} == {"login"}
    assert len(phases["steady"]) == 152
    assert loadtest.split_phases(records(), None)["steady"] == []


def test_figures_give_percentiles_errors_and_throughput_per_page():
    result = loadtest.figures({"steady_since": T0 + 20, "records": records()})
    rows = {row["name"]: row for row in result["steady"]["rows"]}
    assert rows["dashboard"]["requests"] == 100 and rows["dashboard"]["errors"] == 0
    assert rows["dashboard"]["p50_ms"] == pytest.approx(50.5)
    assert rows["dashboard"]["p95_ms"] == pytest.approx(95.05)
    assert rows["dashboard"]["rps"] == pytest.approx(100 / 100)  # 100 requests over the phase's 100 s
    assert rows["orders"]["errors"] == 1 and rows["orders"]["error_kinds"] == ["submit answered 500"]
    total = result["steady"]["totals"]
    assert total["requests"] == 152 and total["errors"] == 1 and total["refused"] == 1
    assert total["error_rate"] == pytest.approx(1 / 152)
    assert result["ramp"]["totals"]["requests"] == 10


@pytest.mark.parametrize(("name", "target"), [
    ("dashboard", 500.0), ("results (Django)", 500.0), ("results (kept)", 100.0),
    ("new backtest (refused: plan limit)", None), ("live channel (open)", None),
])
def test_targets_by_page(name, target):
    assert loadtest.target_for(name) == target


def test_verdicts_fail_on_a_slow_p95_or_any_error():
    row = {"name": "results (kept)", "errors": 0, "p95_ms": 99.0}
    assert loadtest.verdict(row) == "PASS"
    assert loadtest.verdict({**row, "p95_ms": 100.0}) == "FAIL"
    assert loadtest.verdict({**row, "errors": 1}) == "FAIL"
    assert loadtest.verdict({**row, "name": "live channel (open)"}) == "-"


def test_the_breaking_point_is_errors_over_one_percent_or_a_slow_dashboard():
    good = loadtest.figures({"steady_since": T0 + 20, "records": records()[:-1]})
    assert loadtest.broke(good) is None
    erring = {"steady": {"rows": [{"name": "dashboard", "p95_ms": 10.0}],
                         "totals": {"error_rate": 0.02}}}
    assert "error rate" in loadtest.broke(erring)
    slow = {"steady": {"rows": [{"name": "dashboard", "p95_ms": 2500.0}], "totals": {"error_rate": 0.0}}}
    assert "dashboard p95" in loadtest.broke(slow)
    assert "no steady phase" in loadtest.broke({"steady": {"rows": [], "totals": {}}})


def test_steps_end_on_the_requested_users():
    assert loadtest.step_sizes(500, 100) == [100, 200, 300, 400, 500]
    assert loadtest.step_sizes(250, 100) == [100, 200, 250]
    assert loadtest.step_sizes(50, 100) == [50]
    with pytest.raises(ValueError):
        loadtest.step_sizes(500, 0)


def test_table_names_pages_targets_and_refusals():
    result = loadtest.figures({"steady_since": T0 + 20, "records": records()})
    text = loadtest.table(result["steady"]["rows"], result["steady"]["totals"])
    assert "GET results (kept)" in text and "p95<100 PASS" in text
    assert "error: submit answered 500" in text
    assert "1 submissions refused by a plan limit (not errors)" in text
    assert text.splitlines()[-2].endswith("FAIL")  # one error overall: the run misses "errors 0"
    ramp = loadtest.table(result["ramp"]["rows"], result["ramp"]["totals"], judged=False)
    assert "PASS" not in ramp and "FAIL" not in ramp


def test_options_without_locust_installed_say_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(loadtest, "LOCUST", tmp_path / "missing" / "locust")
    with pytest.raises(SystemExit) as stopped:
        loadtest.main(["--users", "10", "--step", "5"])
    assert stopped.value.code == 2
    assert "requirements-load.txt" in capsys.readouterr().err


def test_the_runner_does_not_import_locust():
    assert "locust" not in sys.modules and "bench.locustfile" not in sys.modules
