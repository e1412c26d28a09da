"""Bad input to strategies and watchlists is a 400 naming the field, never a 500 (issue 10):
counts and amounts above the caps of ``core.limits`` (the same on SQLite and PostgreSQL), universes
of thousands of symbols, parameters too large for a float."""

from __future__ import annotations

import pytest

from core import limits
from marketdata.models import Instrument, Market
from strategies import services
from strategies.models import Strategy, Watchlist
from strategies.tests.factories import sample_instruments

pytestmark = pytest.mark.django_db

STRATEGIES = "/api/v1/strategies/"
WATCHLISTS = "/api/v1/watchlists/"
TOO_LARGE = [("max_positions", 10**12), ("max_positions", limits.MAX_POSITIONS + 1),
             ("max_holding_days", limits.MAX_HOLDING_DAYS + 1), ("max_holding_days", 2**63),
             ("max_holding_days", 2**31), ("sizing_value", "10000000000000.01")]


@pytest.fixture(autouse=True)
def stocks(db):
    return sample_instruments()


@pytest.fixture
def many_codes(settings) -> list[str]:
    """One instrument more than a universe may hold, all real."""
    count = limits.max_symbols() + 1
    Instrument.objects.bulk_create(Instrument(code=f"9{i:05d}", name=f"종목{i}", market=Market.KOSDAQ)
                                   for i in range(count))
    return [f"9{i:05d}" for i in range(count)]


def body(**overrides) -> dict:
    return {"name": "골든크로스", "strategy_type": "sma_cross", "params": {"fast": 5, "slow": 20},
            "instruments": ["005930", "000660"], **overrides}


def error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


@pytest.mark.parametrize("name, value", TOO_LARGE)
def test_the_api_refuses_counts_and_amounts_above_their_caps(api_client, name, value):
    sizing = {"sizing": "fixed_krw"} if name == "sizing_value" else {}
    assert name in error_fields(api_client.post(STRATEGIES, body(**sizing, **{name: value}), format="json"))
    assert not Strategy.objects.exists()


@pytest.mark.parametrize("name, value", TOO_LARGE)
def test_the_form_refuses_counts_and_amounts_above_their_caps(client, user, name, value):
    client.force_login(user)
    data = {"name": "골든크로스", "description": "", "strategy_type": "sma_cross", "params.fast": "5",
            "params.slow": "20", "universe_source": "instruments", "instruments": "005930", "watchlist": "",
            "sizing": "fixed_krw" if name == "sizing_value" else "equal_weight", "sizing_value": "",
            "max_positions": "", "stop_loss_pct": "", "take_profit_pct": "", "trailing_stop_pct": "",
            "max_holding_days": "", name: str(value)}
    response = client.post("/strategies/new/", data)
    assert response.status_code == 400
    assert name in response.context["form"].errors
    assert not Strategy.objects.exists()


@pytest.mark.parametrize("name, value", [(n, v) for n, v in TOO_LARGE if n != "sizing_value"])
def test_the_service_refuses_counts_above_their_caps(user, name, value):
    with pytest.raises(services.ValidationError) as raised:
        services.strategy_create(user=user, name="x", strategy_type="sma_cross", instruments=["005930"],
                                 **{name: value})
    assert name in raised.value.message_dict


def test_the_caps_themselves_are_accepted(api_client):
    response = api_client.post(STRATEGIES, body(max_positions=limits.MAX_POSITIONS,
                                                max_holding_days=limits.MAX_HOLDING_DAYS, sizing="fixed_krw",
                                                sizing_value="9999999999999.99"), format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("value", [10**400, 10**309, -(10**400)], ids=["1e400", "1e309", "-1e400"])
def test_a_float_parameter_too_large_for_a_float_is_a_400(api_client, value):
    fields = error_fields(api_client.post(STRATEGIES, body(strategy_type="bollinger_reversion",
                                                           params={"width": value}), format="json"))
    assert "params.width" in fields


# --- universes ------------------------------------------------------------------------------------
def test_the_api_refuses_a_strategy_of_too_many_symbols(api_client, many_codes):
    fields = error_fields(api_client.post(STRATEGIES, body(instruments=many_codes), format="json"))
    assert fields["instruments"] == [services.TOO_MANY_SYMBOLS.format(limit=limits.max_symbols(),
                                                                      count=len(many_codes))]


def test_the_api_refuses_a_watchlist_of_too_many_symbols(api_client, many_codes):
    fields = error_fields(api_client.post(WATCHLISTS, {"name": "all", "instruments": many_codes}, format="json"))
    assert list(fields) == ["instruments"]
    assert not Watchlist.objects.exists()


def test_the_api_refuses_ten_thousand_symbols_without_looking_them_up(api_client, django_assert_max_num_queries):
    codes = [f"X{i:05d}" for i in range(10_000)]
    with django_assert_max_num_queries(10):
        fields = error_fields(api_client.post(WATCHLISTS, {"name": "all", "instruments": codes}, format="json"))
    assert "instruments" in fields


def test_the_pages_refuse_too_many_symbols(client, user, many_codes):
    client.force_login(user)
    response = client.post("/strategies/watchlists/new/", {"name": "all", "instruments": " ".join(many_codes)})
    assert response.status_code == 400
    assert "instruments" in response.context["form"].errors
    data = {"name": "골든크로스", "description": "", "strategy_type": "sma_cross", "params.fast": "5",
            "params.slow": "20", "universe_source": "instruments", "instruments": " ".join(many_codes),
            "watchlist": "", "sizing": "equal_weight", "sizing_value": "", "max_positions": "",
            "stop_loss_pct": "", "take_profit_pct": "", "trailing_stop_pct": "", "max_holding_days": ""}
    response = client.post("/strategies/new/", data)
    assert response.status_code == 400
    assert "instruments" in response.context["form"].errors
    assert not Strategy.objects.exists() and not Watchlist.objects.exists()


def test_an_update_to_too_many_symbols_is_refused(user, many_codes):
    watchlist = services.watchlist_create(user=user, name="small", instruments=["005930"])
    with pytest.raises(services.ValidationError) as raised:
        services.watchlist_update(watchlist=watchlist, instruments=many_codes)
    assert "instruments" in raised.value.message_dict
    assert watchlist.codes() == ["005930"]
