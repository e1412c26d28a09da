"""Writes to strategies and watchlists: every rule, every error on its field, nothing half-saved."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from marketdata.models import Instrument
from strategies import models, services
from strategies.models import Sizing, Strategy, Watchlist
from strategies.signals import params as P
from strategies.tests.factories import StrategyFactory, WatchlistFactory, sample_instruments

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def stocks():
    return sample_instruments()


def errors_of(call, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call(**kwargs)
    return caught.value.message_dict


def create(user, **overrides):
    fields = {"name": "골든크로스", "strategy_type": "sma_cross", "params": {"fast": 5, "slow": 20},
              "instruments": ["005930", "000660"]}  # fmt: skip
    return services.strategy_create(user=user, **{**fields, **overrides})


# --- create -------------------------------------------------------------------------------------
def test_create_stores_typed_parameters_with_defaults_filled_in(user, stocks):
    strategy = create(user, strategy_type="macd_cross", params={"fast": "8", "slow": 21.0})
    strategy.refresh_from_db()
    assert strategy.params == {"fast": 8, "slow": 21, "signal": 9}
    assert strategy.owner == user
    assert strategy.universe_codes() == ["000660", "005930"]


def test_codes_are_cleaned_up_before_they_are_looked_up(user, stocks):
    assert services.normalize_codes(" 005930, 000660 005930\tkrw-btc ") == ["005930", "000660", "KRW-BTC"]
    strategy = create(user, instruments=[" 005930", "005930", "035720 "])
    assert strategy.universe_codes() == ["005930", "035720"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"fast": "abc"}, "params.fast", P.NOT_AN_INTEGER),
        ({"fast": 1.5}, "params.fast", P.NOT_AN_INTEGER),
        ({"fast": 0}, "params.fast", P.BELOW_MIN.format(min=1)),
        ({"slow": 501}, "params.slow", P.ABOVE_MAX.format(max=500)),
        ({"fast": ""}, "params.fast", P.VALUE_REQUIRED),
        ({"fast": 20, "slow": 20}, "params.slow", "Must be greater than Fast period (20)."),
        ({"lookback": 3}, "params.lookback", P.UNKNOWN_PARAM.format(known="fast, slow")),
    ],
)
def test_each_bad_parameter_gets_its_message_on_its_own_key(user, stocks, params, field, message):
    assert errors_of(create, user=user, params=params) == {field: [message]}
    assert not Strategy.objects.exists()


def test_parameters_must_be_a_mapping(user, stocks):
    assert errors_of(create, user=user, params=[5, 20]) == {"params": [str(services.PARAMS_NOT_A_MAPPING)]}


def test_an_unknown_type_is_named(user, stocks):
    assert errors_of(create, user=user, strategy_type="martingale") == {
        "strategy_type": [services.UNKNOWN_TYPE.format(value="martingale")]
    }


def test_a_universe_is_required(user, stocks):
    assert errors_of(create, user=user, instruments=[]) == {"instruments": [str(services.UNIVERSE_REQUIRED)]}


def test_unknown_codes_are_named_and_nothing_is_saved(user, stocks):
    errors = errors_of(create, user=user, instruments=["005930", "999999", "ABCDEF"])
    assert errors == {"instruments": [services.UNKNOWN_CODES.format(codes="999999, ABCDEF")]}
    assert not Strategy.objects.exists()


def test_instruments_and_a_watchlist_together_are_refused(user, stocks):
    watchlist = WatchlistFactory(owner=user)
    assert errors_of(create, user=user, watchlist=watchlist) == {"watchlist": [str(services.UNIVERSE_BOTH)]}


def test_another_users_watchlist_is_refused(user, other_user, stocks):
    bobs = WatchlistFactory(owner=other_user)
    errors = errors_of(create, user=user, instruments=[], watchlist=bobs)
    assert errors == {"watchlist": [str(services.WATCHLIST_NOT_YOURS)]}


def test_an_empty_watchlist_is_refused(user, stocks):
    empty = WatchlistFactory(owner=user, codes=[])
    assert errors_of(create, user=user, instruments=[], watchlist=empty) == {"watchlist": [str(services.WATCHLIST_EMPTY)]}


def test_a_strategy_on_a_watchlist_has_no_instruments_of_its_own(user, stocks):
    watchlist = WatchlistFactory(owner=user, codes=["035420"])
    strategy = create(user, instruments=[], watchlist=watchlist)
    assert strategy.watchlist == watchlist and not strategy.instruments.exists()
    assert strategy.universe_codes() == ["035420"]


def test_names_are_required_and_unique_per_user(user, other_user, stocks):
    create(user, name="모멘텀")
    create(other_user, name="모멘텀")  # bob may use the same name
    assert errors_of(create, user=user, name=" 모멘텀 ") == {"name": [str(services.STRATEGY_NAME_TAKEN)]}
    assert errors_of(create, user=user, name="   ") == {"name": [str(services.NAME_REQUIRED)]}
    assert errors_of(create, user=user, name="가" * 101) == {"name": [str(services.NAME_TOO_LONG)]}


def test_risk_settings_are_checked_and_every_error_comes_at_once(user, stocks):
    errors = errors_of(
        create, user=user, name="", params={"fast": 0}, instruments=["999999"], sizing=Sizing.PCT_EQUITY,
        sizing_value=Decimal("120"), stop_loss_pct=Decimal("100"), take_profit_pct=Decimal("0"),
        trailing_stop_pct=Decimal("-5"), max_positions=0, max_holding_days=0,
    )  # fmt: skip
    assert errors == {
        "name": [str(services.NAME_REQUIRED)],
        "params.fast": [P.BELOW_MIN.format(min=1)],
        "instruments": [services.UNKNOWN_CODES.format(codes="999999")],
        "sizing_value": [str(models.PCT_EQUITY_RANGE)],
        "stop_loss_pct": [str(models.PERCENT_OPEN_RANGE)],
        "take_profit_pct": [str(models.MUST_BE_POSITIVE)],
        "trailing_stop_pct": [str(models.PERCENT_OPEN_RANGE)],
        "max_positions": [str(models.AT_LEAST_ONE)],
        "max_holding_days": [str(models.AT_LEAST_ONE)],
    }


def test_a_fixed_amount_needs_its_amount_and_other_sizings_drop_a_leftover_one(user, stocks):
    assert errors_of(create, user=user, sizing=Sizing.FIXED_KRW) == {"sizing_value": [str(models.SIZING_VALUE_REQUIRED)]}
    strategy = create(user, sizing=Sizing.ALL_IN, sizing_value=Decimal("500000"))
    assert strategy.sizing_value is None


# --- update ---------------------------------------------------------------------------------------
def test_update_merges_parameters_when_the_type_stays(user, stocks):
    strategy = create(user)
    updated = services.strategy_update(strategy=strategy, params={"slow": 60})
    assert updated.params == {"fast": 5, "slow": 60}


def test_update_with_replace_params_starts_from_the_defaults(user, stocks):
    strategy = create(user)
    updated = services.strategy_update(strategy=strategy, params={"slow": 60}, replace_params=True)
    assert updated.params == {"fast": 10, "slow": 60}


def test_a_new_type_starts_from_its_defaults(user, stocks):
    strategy = create(user)
    updated = services.strategy_update(strategy=strategy, strategy_type="rsi_reversion")
    assert updated.params == {"period": 14, "buy_below": 30.0, "sell_above": 70.0}


def test_a_failed_update_changes_nothing(user, stocks):
    strategy = create(user)
    errors = errors_of(services.strategy_update, strategy=strategy, name="새 이름", params={"fast": 50})
    assert errors == {"params.slow": ["Must be greater than Fast period (50)."]}
    strategy.refresh_from_db()
    assert strategy.name == "골든크로스" and strategy.params == {"fast": 5, "slow": 20}


def test_update_switches_the_universe_between_instruments_and_a_watchlist(user, stocks):
    strategy = create(user)
    watchlist = WatchlistFactory(owner=user, codes=["035720"])
    strategy = services.strategy_update(strategy=strategy, watchlist=watchlist)
    assert strategy.universe_codes() == ["035720"] and not strategy.instruments.exists()
    strategy = services.strategy_update(strategy=strategy, instruments=["005380"])
    assert strategy.watchlist is None and strategy.universe_codes() == ["005380"]
    strategy = services.strategy_update(strategy=strategy, name="이름만")  # the universe stays
    assert strategy.universe_codes() == ["005380"]


def test_update_keeps_its_own_name_free(user, stocks):
    strategy = create(user, name="같은 이름")
    assert services.strategy_update(strategy=strategy, name="같은 이름").name == "같은 이름"


def test_update_refuses_fields_it_does_not_know(user, stocks):
    with pytest.raises(TypeError):
        services.strategy_update(strategy=create(user), owner=user)


# --- clone and delete ---------------------------------------------------------------------------------
def test_clone_copies_everything_under_a_numbered_copy_name(user, stocks):
    strategy = create(user, stop_loss_pct=Decimal("5"), max_positions=3, description="메모")
    first = services.strategy_clone(strategy=strategy)
    second = services.strategy_clone(strategy=strategy)
    assert first.name == "골든크로스 (copy)" and second.name == "골든크로스 (copy 2)"
    assert first.params == strategy.params and first.universe_codes() == strategy.universe_codes()
    assert (first.stop_loss_pct, first.max_positions, first.description) == (Decimal("5"), 3, "메모")
    assert first.pk != strategy.pk and first.owner == user


def test_clone_names_are_korean_for_korean_users(user, stocks):
    strategy = create(user)
    with translation.override("ko"):
        assert services.strategy_clone(strategy=strategy).name == "골든크로스 (사본)"


def test_a_clone_of_a_long_name_still_fits(user, stocks):
    strategy = create(user, name="가" * 100)
    copy = services.strategy_clone(strategy=strategy)
    assert len(copy.name) <= 100 and copy.name.endswith("(copy)")


def test_clone_keeps_the_watchlist(user, stocks):
    watchlist = WatchlistFactory(owner=user)
    copy = services.strategy_clone(strategy=create(user, instruments=[], watchlist=watchlist))
    assert copy.watchlist == watchlist


def test_clone_with_a_taken_name_is_refused(user, stocks):
    strategy = create(user)
    assert errors_of(services.strategy_clone, strategy=strategy, name="골든크로스") == {
        "name": [str(services.STRATEGY_NAME_TAKEN)]
    }


def test_delete(user, stocks):
    services.strategy_delete(strategy=create(user))
    assert not Strategy.objects.exists()


# --- presets --------------------------------------------------------------------------------------
def test_a_preset_clone_gets_the_presets_settings_and_the_sample_universe(user, stocks):
    strategy = services.strategy_clone_preset(user=user, preset_key="rsi_reversion.connors_2")
    assert strategy.strategy_type == "rsi_reversion"
    assert strategy.params == {"period": 2, "buy_below": 10.0, "sell_above": 70.0}
    assert strategy.max_holding_days == 5 and strategy.name == "2-period RSI (Connors-style)"
    assert strategy.universe_codes() == ["000660", "005380", "005930", "035420", "035720"]
    again = services.strategy_clone_preset(user=user, preset_key="rsi_reversion.connors_2")
    assert again.name == "2-period RSI (Connors-style) (2)"


def test_a_preset_clone_takes_the_universe_it_is_given(user, stocks):
    strategy = services.strategy_clone_preset(user=user, preset_key="sma_cross.default", instruments=["035720"], name="카카오 추세")
    assert strategy.universe_codes() == ["035720"] and strategy.name == "카카오 추세"


def test_a_preset_clone_without_sample_stocks_asks_for_a_universe(user):
    Instrument.objects.create(code="900001", name="다른종목", market="KOSDAQ")
    errors = errors_of(services.strategy_clone_preset, user=user, preset_key="sma_cross.default")
    assert errors == {"instruments": [str(services.UNIVERSE_REQUIRED)]}


def test_an_unknown_preset_is_not_found(user, stocks):
    with pytest.raises(services.PresetNotFound) as caught:
        services.strategy_clone_preset(user=user, preset_key="sma_cross.nope")
    assert caught.value.message == services.UNKNOWN_PRESET.format(key="sma_cross.nope")


# --- watchlists ------------------------------------------------------------------------------------
def test_watchlists_are_created_updated_and_checked(user, stocks):
    watchlist = services.watchlist_create(user=user, name="반도체", instruments=["005930", "000660"])
    assert watchlist.codes() == ["000660", "005930"]
    watchlist = services.watchlist_update(watchlist=watchlist, instruments=["005930"])
    assert watchlist.codes() == ["005930"] and watchlist.name == "반도체"
    watchlist = services.watchlist_update(watchlist=watchlist, name="삼성")
    assert watchlist.codes() == ["005930"]
    assert errors_of(services.watchlist_create, user=user, name="삼성", instruments=[]) == {
        "name": [str(services.WATCHLIST_NAME_TAKEN)],
        "instruments": [str(services.WATCHLIST_INSTRUMENTS_REQUIRED)],
    }
    assert errors_of(services.watchlist_update, watchlist=watchlist, instruments=["005930", "000000"]) == {
        "instruments": [services.UNKNOWN_CODES.format(codes="000000")]
    }


def test_a_watchlist_in_use_is_not_deleted_and_the_strategies_are_named(user, stocks):
    watchlist = WatchlistFactory(owner=user)
    StrategyFactory(owner=user, watchlist=watchlist, name="B 전략")
    StrategyFactory(owner=user, watchlist=watchlist, name="A 전략")
    with pytest.raises(services.WatchlistInUse) as caught:
        services.watchlist_delete(watchlist=watchlist)
    assert caught.value.message == services.WATCHLIST_IN_USE.format(names="A 전략, B 전략")
    assert Watchlist.objects.filter(pk=watchlist.pk).exists()
    Strategy.objects.all().delete()
    services.watchlist_delete(watchlist=watchlist)
    assert not Watchlist.objects.exists()


def test_validate_reports_errors_and_writes_nothing(user, stocks):
    services.strategy_validate(user=user, name="시험", strategy_type="sma_cross", instruments=["005930"])
    assert not Strategy.objects.exists()
    with pytest.raises(ValidationError):
        services.strategy_validate(user=user, name="시험", strategy_type="sma_cross", instruments=[])


def test_the_plans_strategy_limit_names_the_plan_that_lifts_it_and_keeps_what_exists(user, stocks):
    from coupons.tests.helpers import free_limits

    free_limits(max_strategies=2)
    create(user, name="one")
    create(user, name="two")
    with pytest.raises(ValidationError) as error:
        create(user, name="three")
    assert "Free allows 2" in str(error.value) and "Pro allows" in str(error.value)
    assert Strategy.objects.filter(owner=user).count() == 2
