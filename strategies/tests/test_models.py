"""Strategy rows: the universe, the engine options the backtests read, and the database's own checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError

from backtests.engine import EngineConfig
from strategies import models
from strategies.models import Sizing, Strategy, Watchlist
from strategies.tests.factories import StrategyFactory, WatchlistFactory

pytestmark = pytest.mark.django_db


def test_the_universe_is_the_strategys_own_instruments_sorted_by_code(user):
    strategy = StrategyFactory(owner=user, codes=["035720", "005930", "000660"])
    assert strategy.universe_codes() == ["000660", "005930", "035720"]


def test_the_universe_of_a_strategy_on_a_watchlist_follows_the_watchlist(user):
    watchlist = WatchlistFactory(owner=user, codes=["005380", "005930"])
    strategy = StrategyFactory(owner=user, watchlist=watchlist)
    assert strategy.universe_codes() == ["005380", "005930"]
    watchlist.instruments.remove(watchlist.instruments.get(code="005380"))
    assert Strategy.objects.get(pk=strategy.pk).universe_codes() == ["005930"]


@pytest.mark.parametrize(
    ("sizing", "value", "expected"),
    [
        (Sizing.ALL_IN, None, "all_in"),
        (Sizing.EQUAL_WEIGHT, None, "equal_weight"),
        (Sizing.FIXED_KRW, Decimal("1000000"), ("fixed_krw", 1_000_000.0)),
        (Sizing.PCT_EQUITY, Decimal("12.5"), ("pct_equity", 0.125)),
    ],
)
def test_engine_options_turn_the_sizing_into_the_engines_form(user, sizing, value, expected):
    strategy = StrategyFactory(owner=user, sizing=sizing, sizing_value=value)
    options = strategy.engine_options()
    assert options["sizing"] == expected
    assert EngineConfig(**options).sizing == expected  # the engine takes them as they are


def test_engine_options_give_risk_settings_as_fractions_and_none_when_off(user):
    strategy = StrategyFactory(
        owner=user, max_positions=5, stop_loss_pct=Decimal("7.5"), take_profit_pct=Decimal("20"),
        trailing_stop_pct=Decimal("12"), max_holding_days=30,
    )  # fmt: skip
    assert strategy.engine_options() == {
        "sizing": "equal_weight",
        "max_positions": 5,
        "stop_loss": 0.075,
        "take_profit": 0.2,
        "trailing_stop": 0.12,
        "max_holding_days": 30,
    }
    bare = StrategyFactory(owner=user)
    options = bare.engine_options()
    assert [options[k] for k in ("max_positions", "stop_loss", "take_profit", "trailing_stop", "max_holding_days")] == [None] * 5
    config = EngineConfig(**options)
    assert config.stop_loss is None and config.max_positions is None


def test_the_type_label_follows_the_active_language(user):
    from django.utils import translation

    strategy = StrategyFactory(owner=user, strategy_type="rsi_reversion", params={"period": 14, "buy_below": 30.0, "sell_above": 70.0})
    with translation.override("ko"):
        assert strategy.strategy_type_label == "RSI 역추세"
    with translation.override("en"):
        assert strategy.strategy_type_label == "RSI mean reversion"


def test_clean_puts_each_risk_error_on_its_field(user):
    strategy = StrategyFactory.build(
        owner=user, sizing=Sizing.FIXED_KRW, sizing_value=None, stop_loss_pct=Decimal("100"),
        trailing_stop_pct=Decimal("0"), take_profit_pct=Decimal("-1"),
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        strategy.clean()
    assert caught.value.message_dict == {
        "sizing_value": [str(models.SIZING_VALUE_REQUIRED)],
        "stop_loss_pct": [str(models.PERCENT_OPEN_RANGE)],
        "trailing_stop_pct": [str(models.PERCENT_OPEN_RANGE)],
        "take_profit_pct": [str(models.MUST_BE_POSITIVE)],
    }


def test_clean_refuses_a_percentage_of_equity_above_100_and_an_unused_amount(user):
    with pytest.raises(ValidationError) as caught:
        StrategyFactory.build(owner=user, sizing=Sizing.PCT_EQUITY, sizing_value=Decimal("150")).clean()
    assert caught.value.message_dict == {"sizing_value": [str(models.PCT_EQUITY_RANGE)]}
    with pytest.raises(ValidationError) as caught:
        StrategyFactory.build(owner=user, sizing=Sizing.ALL_IN, sizing_value=Decimal("5")).clean()
    assert caught.value.message_dict == {"sizing_value": [str(models.SIZING_VALUE_NOT_USED)]}


def test_the_type_must_be_one_the_registry_knows(user):
    strategy = StrategyFactory.build(owner=user, strategy_type="martingale")
    with pytest.raises(ValidationError) as caught:
        strategy.full_clean(exclude=["owner"])
    assert "strategy_type" in caught.value.message_dict


@pytest.mark.parametrize(
    "fields",
    [
        {"stop_loss_pct": Decimal("0")},
        {"stop_loss_pct": Decimal("100")},
        {"trailing_stop_pct": Decimal("100")},
        {"take_profit_pct": Decimal("0")},
        {"max_positions": 0},
        {"max_holding_days": 0},
        {"sizing": Sizing.FIXED_KRW, "sizing_value": None},
        {"sizing": Sizing.PCT_EQUITY, "sizing_value": Decimal("100.01")},
        {"sizing": Sizing.EQUAL_WEIGHT, "sizing_value": Decimal("10")},
    ],
)
def test_the_database_refuses_risk_settings_out_of_range(user, fields):
    strategy = StrategyFactory(owner=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Strategy.objects.filter(pk=strategy.pk).update(**fields)


def test_names_are_unique_per_owner_not_across_owners(user, other_user):
    StrategyFactory(owner=user, name="모멘텀")
    StrategyFactory(owner=other_user, name="모멘텀")
    with pytest.raises(IntegrityError), transaction.atomic():
        StrategyFactory(owner=user, name="모멘텀")


def test_a_watchlist_a_strategy_trades_cannot_be_deleted(user):
    watchlist = WatchlistFactory(owner=user)
    StrategyFactory(owner=user, watchlist=watchlist)
    with pytest.raises(RestrictedError):
        watchlist.delete()


def test_deleting_a_user_deletes_their_strategies_and_watchlists_even_when_linked(user):
    watchlist = WatchlistFactory(owner=user)
    StrategyFactory(owner=user, watchlist=watchlist)
    user.delete()
    assert not Strategy.objects.exists()
    assert not Watchlist.objects.exists()
