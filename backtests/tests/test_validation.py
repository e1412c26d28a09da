import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from backtests import validation
from coupons.tests.helpers import free_limits

D = dt.date


def check(**overrides):
    arguments = {
        "strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": "005930",
        "start": D(2020, 1, 1), "end": D(2024, 12, 31), "cash": 10_000_000,
    }
    arguments.update(overrides)
    return validation.backtest_spec_check(**arguments)


def errors_of(**overrides) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        check(**overrides)
    return caught.value.message_dict


def test_a_good_request_is_frozen_with_typed_params_markets_and_coverage(sample_market):
    spec = check(codes="005930, krw-btc", params={"fast": "5", "slow": "20"}, cash=100_000_000)
    assert spec.params == {"fast": 5, "slow": 20}
    assert spec.codes == ["005930", "KRW-BTC"]
    assert spec.markets == ["KOSPI", "CRYPTO"]
    assert spec.coverage["005930"]["first"] == "2020-01-02"  # the first trading day of 2020
    assert spec.coverage["005930"]["last"] == "2024-12-30"
    assert spec.coverage["KRW-BTC"]["first"] == "2021-01-01"  # the sample starts there; crypto trades daily


def test_unknown_symbol_is_named_on_the_codes_field(sample_market):
    assert errors_of(codes="005930 999999")["codes"] == ["Unknown symbol: 999999."]


def test_a_symbol_without_bars_in_the_period_is_named(sample_market):
    # Kakao's sample starts in 2021; the preferred share has no bars at all
    errors = errors_of(codes="005930 035720", start=D(2019, 1, 1), end=D(2020, 12, 31))
    assert errors["codes"] == ["No daily bars for 035720 between 2019-01-01 and 2020-12-31."]
    errors = errors_of(codes="005935")
    assert errors["codes"] == ["No daily bars for 005935 between 2020-01-01 and 2024-12-31."]


def test_end_before_start(sample_market):
    assert errors_of(start=D(2024, 1, 1), end=D(2023, 1, 1))["end"] == ["The end date is before the start date."]


def test_a_period_outside_the_data_says_where_the_data_is(sample_market):
    errors = errors_of(start=D(2030, 1, 1), end=D(2030, 12, 31))
    assert errors["start"] == ["The period is outside the data: bars exist from 2000-01-04 to 2026-03-17."]


def test_capital_too_small_to_buy_one_share(sample_market):
    # SK hynix opened 2026 near 700,000 KRW a share
    errors = errors_of(codes="000660", start=D(2026, 1, 1), end=D(2026, 3, 1), cash=100_000)
    assert errors["cash"][0].startswith("The capital is too small to buy one share of 000660")


def test_equal_weight_splits_the_capital_before_the_one_share_check(sample_market):
    options = {"sizing": "equal_weight", "max_positions": 10}
    errors = errors_of(codes="000660", start=D(2026, 1, 1), end=D(2026, 3, 1), cash=5_000_000, options=options)
    assert "cash" in errors
    check(codes="000660", start=D(2026, 1, 1), end=D(2026, 3, 1), cash=5_000_000)  # all-in buys one


def test_bad_parameters_are_reported_per_parameter(sample_market):
    errors = errors_of(params={"fast": 30, "slow": 10, "speed": 1})
    assert "params.speed" in errors
    errors = errors_of(params={"fast": 30, "slow": 10})
    assert list(errors) == ["params.slow"]


def test_unknown_type(sample_market):
    assert errors_of(strategy_type="astrology")["strategy_type"] == ["Unknown strategy type."]


def test_plan_limit_on_universe_size(sample_market, settings):
    settings.BACKTEST_MAX_SYMBOLS = 1
    errors = errors_of(codes="005930 000660")
    assert errors["codes"] == ["Your plan allows at most 1 symbols per backtest (you picked 2)."]


def test_the_universe_is_bounded_by_the_users_plan_and_the_message_names_the_plan_that_lifts_it(sample_market, user):
    free_limits(max_symbols_per_backtest=1)
    errors = errors_of(codes="005930 000660", user=user)
    assert errors["codes"] == ["Symbols per backtest: your plan Free allows 1. Pro allows 500. You picked 2."]


def test_bad_costs_and_risk_options_name_their_field(sample_market):
    assert "commission" in errors_of(commission=Decimal("1.5"))
    assert "stop_loss" in errors_of(options={"stop_loss": 1.5})


def test_crypto_runs_annualise_over_365_days(sample_market):
    assert check(codes="KRW-BTC", cash=100_000_000).engine_config().periods_per_year == 365
    assert check(codes="005930").engine_config().periods_per_year == 252


def test_risk_fields_in_percent_become_engine_fractions_and_back():
    options = validation.risk_options(sizing="pct_equity", sizing_value=Decimal("20"), max_positions=5,
                                      stop_loss_pct=Decimal("7.5"), take_profit_pct=None, trailing_stop_pct=Decimal("10"),
                                      max_holding_days=20)
    assert options == {"sizing": ["pct_equity", 0.2], "max_positions": 5, "stop_loss": 0.075, "take_profit": None,
                       "trailing_stop": 0.1, "max_holding_days": 20}
    back = validation.risk_fields(options)
    assert back["sizing_value"] == Decimal("20") and back["stop_loss_pct"] == Decimal("7.5")


def test_bad_risk_fields_are_reported_on_their_field():
    with pytest.raises(ValidationError) as caught:
        validation.risk_options(sizing="fixed_krw", sizing_value=None, stop_loss_pct=Decimal("120"))
    assert set(caught.value.message_dict) == {"sizing_value", "stop_loss_pct"}


def test_parameter_errors_are_translated_to_korean(sample_market):
    from django.utils import translation

    with translation.override("ko"):
        errors = errors_of(params={"fast": 30, "slow": 10})
    assert errors["params.slow"][0] != "Must be greater than fast (30)."
