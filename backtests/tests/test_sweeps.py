import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from backtests import sweeps, validation
from backtests.models import BacktestRun, RunStatus
from coupons.tests.helpers import free_limits

D = dt.date


@pytest.fixture
def chunks(monkeypatch):
    queued = []
    monkeypatch.setattr(sweeps, "_enqueue", lambda sweep_id, parts: queued.append((sweep_id, parts)))
    return queued


def base_spec():
    return validation.backtest_spec_check(strategy_type="sma_cross", params={"fast": 10, "slow": 30},
                                          codes="005930", start=D(2016, 1, 1), end=D(2024, 12, 31), cash=10_000_000)


def start(user, capture, **grid):
    with capture(execute=True):
        return sweeps.sweep_start(user=user, spec=base_spec(), title="grid", **grid)


def test_parse_values_accepts_lists_and_ranges():
    assert sweeps.parse_values("5, 10 20") == [5, 10, 20]
    assert sweeps.parse_values("5:20:5") == [5, 10, 15, 20]
    assert sweeps.parse_values("0.5:1.0:0.25") == [0.5, 0.75, 1]
    for bad in ("a, b", "5:1:1", "1:5:0", "nan"):
        with pytest.raises(ValueError):
            sweeps.parse_values(bad)


def test_a_two_axis_sweep_runs_in_chunks_and_marks_the_best_cell(user, sample_market, chunks, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    monkeypatch.setattr(sweeps, "CELLS_PER_CHUNK", 3)
    sweep = start(user, django_capture_on_commit_callbacks, x_param="fast", x_values="5:20:5",
                  y_param="slow", y_values=[20, 40], metric="total_return")
    assert sweep.cells_total == 8
    (sweep_id, parts), = chunks
    assert [len(part) for part in parts] == [3, 3, 2]
    for part in parts:
        sweeps.sweep_execute_chunk(sweep_id=sweep_id, cell_ids=part)
    sweep.refresh_from_db()
    assert sweep.status == RunStatus.SUCCEEDED and sweep.cells_done == 8
    cells = list(sweep.cells.all())
    contradictory = [c for c in cells if c.params["fast"] >= c.params["slow"]]
    assert [c.params for c in contradictory] == [{"fast": 20, "slow": 20}]
    assert contradictory[0].error and contradictory[0].metrics == {}
    best = sweeps.sweep_best(sweep)
    valid = [c.metrics["total_return"] for c in cells if c.metrics]
    assert best.metrics["total_return"] == max(valid)


def test_a_cell_opens_as_a_full_run_with_its_parameters(user, sample_market, chunks, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    monkeypatch.setattr("backtests.services._enqueue", lambda run_id: None)
    sweep = start(user, django_capture_on_commit_callbacks, x_param="fast", x_values=[5, 10])
    cell = sweep.cells.get(x_index=1)
    run = sweeps.sweep_cell_run(user=user, sweep=sweep, cell=cell)
    assert run.params == {"fast": 10, "slow": 30} and run.sweep_id == sweep.pk
    assert BacktestRun.objects.filter(owner=user).count() == 1


def test_bad_grids_name_their_field(user, sample_market, chunks, settings, django_capture_on_commit_callbacks):
    with pytest.raises(ValidationError) as caught:
        start(user, django_capture_on_commit_callbacks, x_param="speed", x_values="1,2")
    assert list(caught.value.message_dict) == ["x_param"]
    with pytest.raises(ValidationError) as caught:
        start(user, django_capture_on_commit_callbacks, x_param="fast", x_values="2.5, 3")
    assert list(caught.value.message_dict) == ["x_values"]
    with pytest.raises(ValidationError) as caught:
        start(user, django_capture_on_commit_callbacks, x_param="fast", x_values="1", y_param="fast", y_values="2")
    assert list(caught.value.message_dict) == ["y_param"]
    free_limits(max_sweep_cells=10)
    with pytest.raises(ValidationError) as caught:
        start(user, django_capture_on_commit_callbacks, x_param="fast", x_values="1:11:1")
    assert "11 combinations" in caught.value.message_dict["x_values"][0]


def test_a_cancelled_sweep_stops_running_cells(user, sample_market, chunks, django_capture_on_commit_callbacks):
    sweep = start(user, django_capture_on_commit_callbacks, x_param="fast", x_values=[5, 10])
    sweeps.sweep_cancel(user=user, sweep=sweep)
    (sweep_id, parts), = chunks
    sweeps.sweep_execute_chunk(sweep_id=sweep_id, cell_ids=parts[0])
    sweep.refresh_from_db()
    assert sweep.status == RunStatus.CANCELLED and sweep.cells_done == 0


def test_sweep_api_and_ownership(api_client, other_api_client, sample_market, chunks,
                                 django_capture_on_commit_callbacks):
    body = {"strategy_type": "sma_cross", "codes": ["005930"], "start": "2016-01-01", "end": "2024-12-31",
            "cash": 10_000_000, "x_param": "fast", "x_values": "5,10", "metric": "sharpe"}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/backtest-sweeps/", body, format="json")
    assert response.status_code == 201, response.json()
    sweep_id = response.json()["id"]
    (_, parts), = chunks
    for part in parts:
        sweeps.sweep_execute_chunk(sweep_id=sweep_id, cell_ids=part)
    detail = api_client.get(f"/api/v1/backtest-sweeps/{sweep_id}/").json()
    assert detail["status"] == "succeeded" and len(detail["cells"]) == 2 and detail["best_cell"] is not None
    assert other_api_client.get(f"/api/v1/backtest-sweeps/{sweep_id}/").status_code == 404
    cell_url = f"/api/v1/backtest-sweeps/{sweep_id}/cells/{detail['best_cell']}/run/"
    assert other_api_client.post(cell_url).status_code == 404
    bad = api_client.post("/api/v1/backtest-sweeps/", {**body, "x_values": "a,b"}, format="json")
    assert bad.status_code == 400 and "x_values" in bad.json()["error"]["fields"]
