"""The paper broker's pure rules (trading/brokers/paper.py): no database."""

import datetime as dt
from decimal import Decimal

import pytest

from marketdata.calendars import SEOUL
from trading.brokers.base import OrderType, Refused, Side
from trading.brokers.paper import (
    InstrumentRules,
    PaperCosts,
    PaperRefused,
    Phase,
    affordable_quantity,
    check_limit_price,
    check_min_order_value,
    check_quantity,
    check_session,
    fill_amounts,
    market_moment,
    match_price,
    price_limits,
    volume_cap,
)

STOCK = InstrumentRules(symbol="005930", market="KOSPI")
BTC = InstrumentRules(symbol="KRW-BTC", market="CRYPTO", tick_regime="upbit_krw", lot_size=Decimal("0.00000001"),
                      min_order_value=Decimal(5000))


def seoul(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SEOUL)


def refusal(call, *args, **kwargs) -> PaperRefused:
    with pytest.raises(PaperRefused) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, Refused) and not caught.value.retryable
    return caught.value


# -- ticks (D2) and the daily price limit (D3) ----------------------------------------------------
def test_a_limit_price_off_the_tick_grid_is_refused_with_the_nearest_valid_prices():
    error = refusal(check_limit_price, STOCK, Decimal(71350), None)
    assert error.code == "off_tick"
    assert "71,300" in error.message and "71,400" in error.message and "100 KRW" in error.message


@pytest.mark.parametrize(("price", "valid"), [(1999, True), (2001, False), (2005, True), (49950, True),
                                              (49960, False), (50100, True), (500500, False), (501000, True)])
def test_each_price_band_has_its_own_tick(price, valid):
    if valid:
        check_limit_price(STOCK, Decimal(price), None)
    else:
        assert refusal(check_limit_price, STOCK, Decimal(price), None).code == "off_tick"


def test_the_daily_limits_are_thirty_percent_of_the_previous_close_on_the_tick_grid():
    # 71,300 x 1.3 = 92,690 -> down to its 100 tick; x 0.7 = 49,910 -> up to its 50 tick
    assert price_limits(STOCK, Decimal(71300)) == (Decimal(49950), Decimal(92600))
    assert price_limits(STOCK, Decimal(10000)) == (Decimal(7000), Decimal(13000))


def test_a_limit_price_beyond_the_daily_limit_is_refused_and_one_at_it_is_not():
    check_limit_price(STOCK, Decimal(13000), Decimal(10000))
    check_limit_price(STOCK, Decimal(7000), Decimal(10000))
    error = refusal(check_limit_price, STOCK, Decimal(13010), Decimal(10000))
    assert error.code == "outside_price_limit" and "7,000 to 13,000" in error.message
    assert refusal(check_limit_price, STOCK, Decimal(6990), Decimal(10000)).code == "outside_price_limit"


def test_crypto_has_no_daily_limit_but_follows_upbits_ticks():
    assert price_limits(BTC, Decimal(100_000_000)) is None
    check_limit_price(BTC, Decimal(200_000_000), Decimal(100_000_000))
    assert refusal(check_limit_price, BTC, Decimal(100_000_500), None).code == "off_tick"


def test_a_limit_order_needs_a_positive_price():
    assert refusal(check_limit_price, STOCK, None, None).code == "bad_price"
    assert refusal(check_limit_price, STOCK, Decimal(0), None).code == "bad_price"


# -- sessions (D1) --------------------------------------------------------------------------------
@pytest.mark.parametrize(("when", "phase"), [
    (seoul(2026, 3, 4, 8, 29), Phase.CLOSED),
    (seoul(2026, 3, 4, 8, 30), Phase.PRE_OPEN),
    (seoul(2026, 3, 4, 9, 0), Phase.CONTINUOUS),
    (seoul(2026, 3, 4, 15, 19, 59), Phase.CONTINUOUS),
    (seoul(2026, 3, 4, 15, 20), Phase.CLOSING_AUCTION),
    (seoul(2026, 3, 4, 15, 30), Phase.AFTER_CLOSE),
    (seoul(2026, 3, 7, 11, 0), Phase.CLOSED),  # Saturday
])
def test_a_krx_day_has_its_phases(when, phase):
    assert market_moment("KOSPI", when).phase is phase


def test_orders_are_refused_on_a_holiday_with_the_next_chance_named():
    # Chuseok 2025: 10-06 to 10-08, then Hangul day (10-09); the exchange opens again on 10-10
    error = refusal(check_session, STOCK, OrderType.LIMIT, seoul(2025, 10, 6, 10, 0))
    assert error.code == "market_closed"
    assert "08:30 to 15:30" in error.message and "2025-10-10 08:30" in error.message


def test_orders_are_refused_after_the_close_and_before_the_pre_open():
    assert refusal(check_session, STOCK, OrderType.MARKET, seoul(2026, 3, 4, 15, 30)).code == "market_closed"
    error = refusal(check_session, STOCK, OrderType.MARKET, seoul(2026, 3, 4, 7, 0))
    assert "2026-03-04 08:30" in error.message


def test_the_first_trading_day_opens_late_so_nine_fifteen_is_still_the_opening_auction():
    # 2026-01-02 is the first trading day of 2026: the session opens at 10:00
    assert check_session(STOCK, OrderType.MARKET, seoul(2026, 1, 2, 9, 15)).phase is Phase.PRE_OPEN
    assert market_moment("KOSPI", seoul(2026, 1, 2, 10, 0)).phase is Phase.CONTINUOUS
    assert market_moment("KOSPI", seoul(2026, 1, 5, 9, 15)).phase is Phase.CONTINUOUS


def test_ioc_and_fok_orders_need_continuous_trading():
    assert refusal(check_session, STOCK, OrderType.IOC_LIMIT, seoul(2026, 3, 4, 8, 45)).code == "not_continuous"
    assert check_session(STOCK, OrderType.FOK_MARKET, seoul(2026, 3, 4, 10, 0)).phase is Phase.CONTINUOUS


def test_crypto_trades_around_the_clock_every_day():
    saturday_night = seoul(2026, 3, 7, 3, 0)
    assert check_session(BTC, OrderType.MARKET, saturday_night).phase is Phase.CONTINUOUS
    assert check_session(BTC, OrderType.LIMIT, seoul(2025, 10, 6, 12, 0)).phase is Phase.CONTINUOUS


# -- lots and minimum order value ----------------------------------------------------------------
def test_stocks_trade_in_whole_shares():
    check_quantity(STOCK, Decimal(3))
    assert refusal(check_quantity, STOCK, Decimal("1.5")).code == "bad_lot"
    assert refusal(check_quantity, STOCK, Decimal(0)).code == "bad_lot"
    assert refusal(check_quantity, STOCK, Decimal(-1)).code == "bad_lot"


def test_crypto_trades_in_hundred_millionths_from_five_thousand_won():
    check_quantity(BTC, Decimal("0.00012345"))
    assert refusal(check_quantity, BTC, Decimal("0.000000015")).code == "bad_lot"
    error = refusal(check_min_order_value, BTC, Decimal("0.00004"), Decimal(100_000_000))
    assert error.code == "below_min_order_value" and "4,000 KRW" in error.message and "5,000 KRW" in error.message
    check_min_order_value(BTC, Decimal("0.00005"), Decimal(100_000_000))


# -- costs (D4), settlement (D5) -----------------------------------------------------------------
def test_the_sell_tax_follows_the_settlement_date_across_the_2026_change():
    costs = PaperCosts()
    # a sell on Friday 2025-12-26 settles on 12-30 (0.15 %); one on Monday 12-29 settles in 2026 (0.20 %)
    before = fill_amounts(STOCK, costs, Side.SELL, Decimal(100), Decimal(71300), dt.date(2025, 12, 26))
    after = fill_amounts(STOCK, costs, Side.SELL, Decimal(100), Decimal(71300), dt.date(2025, 12, 29))
    assert (before.tax, before.settles_on) == (Decimal(10695), dt.date(2025, 12, 30))
    assert (after.tax, after.settles_on) == (Decimal(14260), dt.date(2026, 1, 2))
    assert before.commission == Decimal(1069)  # 0.015 % of 7,130,000 = 1,069.5, truncated to the won
    assert before.net_cash == Decimal(7_130_000 - 1069 - 10695)


def test_a_buy_pays_commission_and_no_tax():
    buy = fill_amounts(STOCK, PaperCosts(), Side.BUY, Decimal(10), Decimal(71300), dt.date(2026, 3, 4))
    assert (buy.value, buy.commission, buy.tax, buy.net_cash) == (713_000, 106, 0, -713_106)
    assert buy.settles_on == dt.date(2026, 3, 6)


def test_crypto_pays_no_sell_tax_settles_the_same_day_and_keeps_fractions_of_a_won():
    sell = fill_amounts(BTC, PaperCosts(), Side.SELL, Decimal("0.00012345"), Decimal(98_765_000), dt.date(2026, 3, 7))
    assert sell.value == Decimal("12192.5393")  # 12,192.53925 rounded half up to 1/10,000 won
    assert sell.tax == 0 and sell.settles_on == dt.date(2026, 3, 7)
    assert sell.commission == Decimal("1.8288")


def test_the_cash_held_for_a_buy_covers_its_fill():
    costs = PaperCosts()
    for quantity, price in [(Decimal(14), Decimal(71300)), (Decimal("0.00012345"), Decimal(98_765_000))]:
        rules = STOCK if price == 71300 else BTC
        fill = fill_amounts(rules, costs, Side.BUY, quantity, price, dt.date(2026, 3, 4))
        assert costs.buy_reservation(rules, quantity, price) >= -fill.net_cash


def test_affordable_quantity_counts_the_commission():
    # 14 x 71,300 = 998,200 (+150 commission, rounded up) fits in 1,000,000; 15 would not
    assert affordable_quantity(STOCK, PaperCosts(), Decimal(1_000_000), Decimal(71300)) == 14
    assert affordable_quantity(STOCK, PaperCosts(), Decimal(998_349), Decimal(71300)) == 13
    assert affordable_quantity(BTC, PaperCosts(), Decimal(10_000), Decimal(100_000_000)) == Decimal("0.00009998")


# -- matching ------------------------------------------------------------------------------------
def test_a_market_order_takes_the_price():
    assert match_price(OrderType.MARKET, Side.BUY, None, Decimal(71300), at_market_price=False) == 71300


def test_a_resting_limit_fills_at_its_limit_when_the_price_crosses_it():
    assert match_price(OrderType.LIMIT, Side.BUY, Decimal(70000), Decimal(70100), at_market_price=False) is None
    assert match_price(OrderType.LIMIT, Side.BUY, Decimal(70000), Decimal(69500), at_market_price=False) == 70000
    assert match_price(OrderType.LIMIT, Side.SELL, Decimal(72000), Decimal(71900), at_market_price=False) is None
    assert match_price(OrderType.LIMIT, Side.SELL, Decimal(72000), Decimal(72500), at_market_price=False) == 72000


def test_a_marketable_limit_on_arrival_or_at_an_auction_takes_the_better_price():
    assert match_price(OrderType.LIMIT, Side.BUY, Decimal(72000), Decimal(71300), at_market_price=True) == 71300


def test_one_match_fills_at_most_a_share_of_the_volume_and_at_least_one_lot():
    assert volume_cap(STOCK, Decimal(1000), Decimal("0.1")) == 100
    assert volume_cap(STOCK, Decimal(5), Decimal("0.1")) == 1
    assert volume_cap(STOCK, None, Decimal("0.1")) is None
    assert volume_cap(STOCK, Decimal(1000), Decimal(0)) is None


# -- messages ------------------------------------------------------------------------------------
def test_a_refusal_can_be_shown_in_another_language_with_the_same_code():
    error = refusal(check_quantity, STOCK, Decimal("1.5"))
    shown = error.localized(lambda text: "수량 오류: " + text)
    assert shown.code == "bad_lot" and shown.message.startswith("수량 오류: 1.5 is not a valid quantity")


def test_the_rules_module_imports_nothing_from_django():
    import subprocess
    import sys

    code = "import sys, trading.brokers.paper; print(any(m.startswith('django') for m in sys.modules))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
