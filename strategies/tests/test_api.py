"""The strategies API: CRUD, clone, types, presets, watchlists, one error body, and ownership."""

from __future__ import annotations

import pytest
from django.utils import translation

from strategies import models, presets, services, signals
from strategies.models import Strategy, Watchlist
from strategies.signals import params as P
from strategies.tests.factories import StrategyFactory, WatchlistFactory, sample_instruments

pytestmark = pytest.mark.django_db

STRATEGIES = "/api/v1/strategies/"


@pytest.fixture(autouse=True)
def stocks(db):
    return sample_instruments()


@pytest.fixture
def english(api_client, user, settings):
    """Alice reads the API in English (the messages asserted below are the English constants).

    A request starts in the language of its cookie (the account's language is known only once DRF
    has authenticated it); the response then sets the cookie from the account.
    """
    user.language = "en"
    user.save(update_fields=["language"])
    api_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def body(**overrides) -> dict:
    return {"name": "골든크로스", "strategy_type": "sma_cross", "params": {"fast": 5, "slow": 20},
            "instruments": ["005930", "000660"], **overrides}  # fmt: skip


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    return error["fields"]


def test_create_returns_the_strategy_with_typed_params_and_its_universe(api_client, user):
    response = api_client.post(STRATEGIES, body(params={"fast": "5"}, stop_loss_pct="7.5"), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["params"] == {"fast": 5, "slow": 30}
    assert data["universe"] == ["000660", "005930"] and data["instruments"] == ["000660", "005930"]
    assert data["watchlist"] is None and data["sizing"] == "equal_weight" and data["stop_loss_pct"] == "7.50"
    assert data["strategy_type_label"] == "단순이동평균 교차"
    assert Strategy.objects.get(pk=data["id"]).owner == user


def test_parameter_errors_are_keyed_by_parameter(api_client, english):
    fields = fields_of(api_client.post(STRATEGIES, body(params={"fast": 30, "slow": 20, "foo": 1}), format="json"))
    assert fields == {"params.foo": [P.UNKNOWN_PARAM.format(known="fast, slow")]}  # cross-field checks wait
    fields = fields_of(api_client.post(STRATEGIES, body(params={"fast": 30, "slow": 20}), format="json"))
    assert fields == {"params.slow": ["Must be greater than Fast period (30)."]}
    fields = fields_of(api_client.post(STRATEGIES, body(params={"fast": True}), format="json"))
    assert fields == {"params.fast": [P.NOT_AN_INTEGER]}


def test_errors_are_in_korean_by_default(api_client):
    fields = fields_of(api_client.post(STRATEGIES, body(params={"fast": 0}), format="json"))
    with translation.override("ko"):
        assert fields == {"params.fast": ["1 이상이어야 합니다."]}


def test_universe_and_risk_errors_name_their_fields(api_client, english):
    fields = fields_of(api_client.post(STRATEGIES, body(instruments=["005930", "999999"], sizing="fixed_krw",
                                                        trailing_stop_pct=100), format="json"))  # fmt: skip
    with translation.override("en"):
        assert fields == {
            "instruments": [services.UNKNOWN_CODES.format(codes="999999")],
            "sizing_value": [str(models.SIZING_VALUE_REQUIRED)],
            "trailing_stop_pct": [str(models.PERCENT_OPEN_RANGE)],
        }
        assert fields_of(api_client.post(STRATEGIES, body(instruments=[]), format="json")) == {
            "instruments": [str(services.UNIVERSE_REQUIRED)]
        }
        assert fields_of(api_client.post(STRATEGIES, body(strategy_type="nope"), format="json")) == {
            "strategy_type": [services.UNKNOWN_TYPE.format(value="nope")]
        }


def test_the_list_is_mine_paginated_and_filtered_by_type(api_client, user, other_user):
    StrategyFactory(owner=user, name="a")
    StrategyFactory(owner=user, name="b", strategy_type="ema_cross", params={"fast": 12, "slow": 26})
    StrategyFactory(owner=other_user, name="bob's")
    data = api_client.get(STRATEGIES).json()
    assert data["count"] == 2 and {row["name"] for row in data["results"]} == {"a", "b"}
    filtered = api_client.get(STRATEGIES, {"strategy_type": "ema_cross"}).json()
    assert [row["name"] for row in filtered["results"]] == ["b"]
    assert api_client.get(STRATEGIES, {"strategy_type": "nope"}).status_code == 400


def test_get_patch_put_and_delete(api_client, user):
    strategy = StrategyFactory(owner=user, name="원래", params={"fast": 5, "slow": 20}, stop_loss_pct=5)
    url = f"{STRATEGIES}{strategy.pk}/"
    assert api_client.get(url).json()["name"] == "원래"
    patched = api_client.patch(url, {"params": {"slow": 60}, "max_positions": 3}, format="json").json()
    assert patched["params"] == {"fast": 5, "slow": 60} and patched["max_positions"] == 3
    assert patched["stop_loss_pct"] == "5.00" and patched["name"] == "원래"
    put = api_client.put(url, body(name="교체", params={"slow": 50}), format="json").json()
    assert put["name"] == "교체" and put["params"] == {"fast": 10, "slow": 50}
    assert put["stop_loss_pct"] is None and put["max_positions"] is None  # left out: back to defaults
    assert api_client.delete(url).status_code == 204
    assert not Strategy.objects.filter(pk=strategy.pk).exists()


def test_patch_switches_the_universe_to_a_watchlist(api_client, user):
    strategy = StrategyFactory(owner=user)
    watchlist = WatchlistFactory(owner=user, codes=["035720"])
    data = api_client.patch(f"{STRATEGIES}{strategy.pk}/", {"watchlist": watchlist.pk}, format="json").json()
    assert data["watchlist"] == watchlist.pk and data["universe"] == ["035720"] and data["instruments"] == []


def test_a_bad_patch_changes_nothing(api_client, user, english):
    strategy = StrategyFactory(owner=user, name="그대로")
    response = api_client.patch(f"{STRATEGIES}{strategy.pk}/", {"name": "바뀜", "params": {"fast": 0}}, format="json")
    assert fields_of(response) == {"params.fast": [P.BELOW_MIN.format(min=1)]}
    strategy.refresh_from_db()
    assert strategy.name == "그대로"


def test_clone(api_client, user):
    strategy = StrategyFactory(owner=user, name="원본")
    response = api_client.post(f"{STRATEGIES}{strategy.pk}/clone/", {}, format="json")
    assert response.status_code == 201 and response.json()["name"] == "원본 (사본)"
    named = api_client.post(f"{STRATEGIES}{strategy.pk}/clone/", {"name": "다른 이름"}, format="json")
    assert named.json()["name"] == "다른 이름"


def test_strategy_types_describe_every_parameter(api_client):
    data = api_client.get("/api/v1/strategy-types/").json()
    assert [row["name"] for row in data] == list(signals.REGISTRY)
    sma = next(row for row in data if row["name"] == "sma_cross")
    assert sma["label"] == "단순이동평균 교차" and sma["label_en"] == "SMA crossover"
    fast = sma["params"][0]
    assert fast | {"label": None} == {
        "name": "fast", "type": "int", "default": 10, "min": 1.0, "max": 250.0, "step": 1.0, "label": None,
        "label_ko": "짧은 기간", "label_en": "Fast period", "help": "짧은 이동평균의 기간(봉 수)",
        "help_ko": "짧은 이동평균의 기간(봉 수)", "help_en": "Bars in the fast moving average",
    }  # fmt: skip


def test_presets_are_listed_and_cloned(api_client, user):
    data = api_client.get("/api/v1/strategy-presets/").json()
    assert len(data) == len(presets.PRESETS)
    rsi = api_client.get("/api/v1/strategy-presets/", {"strategy_type": "rsi_reversion"}).json()
    assert {row["key"] for row in rsi} == {"rsi_reversion.default", "rsi_reversion.connors_2", "rsi_reversion.wide_14_25_75"}
    connors = next(row for row in rsi if row["key"] == "rsi_reversion.connors_2")
    assert connors["name"] == "2일 RSI (코너스식)" and connors["max_holding_days"] == 5
    created = api_client.post("/api/v1/strategy-presets/rsi_reversion.connors_2/clone/", {"instruments": ["005930"]}, format="json")
    assert created.status_code == 201
    assert created.json()["params"] == {"period": 2, "buy_below": 10.0, "sell_above": 70.0}
    assert created.json()["universe"] == ["005930"] and created.json()["preset_key"] == "rsi_reversion.connors_2"
    missing = api_client.post("/api/v1/strategy-presets/nope.default/clone/", {}, format="json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_watchlists_crud_and_in_use(api_client, user, english):
    created = api_client.post("/api/v1/watchlists/", {"name": "반도체", "instruments": ["005930", "000660"]}, format="json")
    assert created.status_code == 201 and created.json()["instruments"] == ["000660", "005930"]
    url = f"/api/v1/watchlists/{created.json()['id']}/"
    assert api_client.patch(url, {"instruments": ["005930"]}, format="json").json()["instruments"] == ["005930"]
    assert api_client.put(url, {"name": "대형주", "instruments": ["035420"]}, format="json").json()["name"] == "대형주"
    assert api_client.get("/api/v1/watchlists/").json()["count"] == 1
    with translation.override("en"):
        assert fields_of(api_client.post("/api/v1/watchlists/", {"name": "x", "instruments": ["404404"]}, format="json")) == {
            "instruments": [services.UNKNOWN_CODES.format(codes="404404")]
        }
    watchlist = Watchlist.objects.get(pk=created.json()["id"])
    StrategyFactory(owner=user, watchlist=watchlist, name="사용 중")
    refused = api_client.delete(url)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "watchlist_in_use"
    assert "사용 중" in refused.json()["error"]["message"]


def test_another_users_strategy_and_watchlist_are_404_everywhere(api_client, other_api_client, user):
    strategy = StrategyFactory(owner=user)
    watchlist = WatchlistFactory(owner=user)
    detail = f"{STRATEGIES}{strategy.pk}/"
    calls = [
        ("get", detail), ("patch", detail), ("put", detail), ("delete", detail), ("post", f"{detail}clone/"),
        ("get", f"/api/v1/watchlists/{watchlist.pk}/"), ("patch", f"/api/v1/watchlists/{watchlist.pk}/"),
        ("put", f"/api/v1/watchlists/{watchlist.pk}/"), ("delete", f"/api/v1/watchlists/{watchlist.pk}/"),
    ]  # fmt: skip
    for method, url in calls:
        response = getattr(other_api_client, method)(url, {"name": "x", "instruments": ["005930"]}, format="json")
        assert response.status_code == 404, (method, url)
        assert response.json()["error"]["code"] == "not_found"
    assert other_api_client.get(STRATEGIES).json()["count"] == 0
    assert other_api_client.get("/api/v1/watchlists/").json()["count"] == 0
    assert Strategy.objects.filter(pk=strategy.pk).exists() and Watchlist.objects.filter(pk=watchlist.pk).exists()


def test_another_users_watchlist_cannot_be_a_universe(other_api_client, user):
    watchlist = WatchlistFactory(owner=user)
    response = other_api_client.post(STRATEGIES, body(instruments=[], watchlist=watchlist.pk), format="json")
    assert set(fields_of(response)) == {"watchlist"}
    preset = other_api_client.post("/api/v1/strategy-presets/sma_cross.default/clone/", {"watchlist": watchlist.pk}, format="json")
    assert set(fields_of(preset)) == {"watchlist"}


def test_the_api_needs_authentication(anon_api_client):
    assert anon_api_client.get(STRATEGIES).status_code in (401, 403)


def test_the_schema_documents_the_endpoints(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in ("/api/v1/strategies/", "/api/v1/strategies/{id}/", "/api/v1/strategies/{id}/clone/",
                 "/api/v1/strategy-types/", "/api/v1/strategy-presets/", "/api/v1/strategy-presets/{key}/clone/",
                 "/api/v1/watchlists/", "/api/v1/watchlists/{id}/"):  # fmt: skip
        assert path in paths, path
    assert set(paths["/api/v1/strategies/{id}/"]) >= {"get", "put", "patch", "delete"}


def test_the_list_does_not_query_per_row(api_client, user, django_assert_max_num_queries):
    watchlist = WatchlistFactory(owner=user)
    for n in range(6):
        StrategyFactory(owner=user, name=f"전략 {n}", watchlist=watchlist if n % 2 else None)
    with django_assert_max_num_queries(8):
        data = api_client.get(STRATEGIES).json()
    assert data["count"] == 6 and all(row["universe"] for row in data["results"])
