"""The checks before an order (trading/risk.py): pure, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from marketdata.calendars import SEOUL
from trading.brokers.base import OrderType, Refused, Side
from trading.brokers.paper import PaperRefused, check_quantity
from trading.risk import (
    DEFAULT_MAX_ORDER_VALUE,
    MESSAGES,
    AccountState,
    CheckResult,
    InstrumentRules,
    KillSwitches,
    Limits,
    MarketState,
    OrderIntent,
    Phase,
    RecentOrder,
    RiskRefused,
    check_order,
    refuse_first,
)

STOCK = InstrumentRules(symbol="005930", market="KOSPI")
BTC = InstrumentRules(symbol="KRW-BTC", market="CRYPTO", tick_regime="upbit_krw", lot_size=Decimal("0.00000001"),
                      min_order_value=Decimal(5000))
SAMSUNG = MarketState(previous_close=Decimal(71300), last_price=Decimal(71300))  # limits 49,950 .. 92,600
BITCOIN = MarketState(previous_close=None, last_price=Decimal(100_000_000))
RICH = AccountState(cash=Decimal(1_000_000_000))


def seoul(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SEOUL)


WEDNESDAY = seoul(2026, 3, 4, 10, 0)  # continuous trading on a normal KRX day


def buy(quantity, price=71300, order_type=OrderType.LIMIT, symbol="005930") -> OrderIntent:
    return OrderIntent(symbol, Side.BUY, quantity, order_type, price)


def sell(quantity, price=71300, order_type=OrderType.LIMIT, symbol="005930") -> OrderIntent:
    return OrderIntent(symbol, Side.SELL, quantity, order_type, price)


def check(intent: OrderIntent, *, instrument: InstrumentRules | None = STOCK, market: MarketState = SAMSUNG,
          account: AccountState = RICH, now: dt.datetime = WEDNESDAY, **options) -> CheckResult:
    result = check_order(intent, instrument=instrument, market=market, account=account, now=now, **options)
    for failure in result.failures:
        assert failure.message  # every template gets its numbers
    return result


def only(result: CheckResult):
    assert len(result.failures) == 1, result.codes
    return result.failures[0]


def test_a_sound_order_passes_and_knows_its_market_moment():
    result = check(buy(10))
    assert result.ok and result.codes == () and not result.needs_confirmation
    assert result.moment.phase is Phase.CONTINUOUS and result.moment.day == dt.date(2026, 3, 4)


# -- sessions (D1) ----------------------------------------------------------------------------------
def test_a_holiday_refuses_the_order_and_names_the_next_chance():
    # Seollal 2026: 02-16 to 02-18; the exchange opens again on Thursday 02-19
    failure = only(check(buy(10), now=seoul(2026, 2, 17, 10, 0)))
    assert (failure.code, failure.field) == ("market_closed", "symbol")
    assert "08:30 to 15:30" in failure.message and "2026-02-19 08:30" in failure.message


@pytest.mark.parametrize(("when", "accepted"), [
    (seoul(2026, 3, 4, 8, 29, 59), False), (seoul(2026, 3, 4, 8, 30), True),
    (seoul(2026, 3, 4, 15, 29, 59), True), (seoul(2026, 3, 4, 15, 30), False),
])
def test_krx_takes_orders_from_the_pre_open_to_the_close(when, accepted):
    assert check(buy(10), now=when).ok is accepted


def test_the_first_trading_day_opens_late_so_ioc_waits_for_ten_oclock():
    # 2026-01-02 opens at 10:00: 09:30 is still the opening auction
    late = seoul(2026, 1, 2, 9, 30)
    assert check(buy(10), now=late).moment.phase is Phase.PRE_OPEN
    failure = only(check(buy(10, order_type=OrderType.IOC_LIMIT), now=late))
    assert (failure.code, failure.field) == ("not_continuous", "order_type")
    assert "10:00 to 15:20" in failure.message
    assert check(buy(10, order_type=OrderType.IOC_LIMIT), now=seoul(2026, 1, 2, 10, 0)).ok


def test_the_exam_day_session_runs_an_hour_late_until_sixteen_thirty():
    assert check(buy(10), now=seoul(2025, 11, 13, 16, 25)).moment.phase is Phase.CLOSING_AUCTION
    failure = only(check(buy(10), now=seoul(2025, 11, 13, 16, 30)))
    assert failure.code == "market_closed" and "08:30 to 16:30" in failure.message
    assert "2025-11-14 08:30" in failure.message


def test_krw_crypto_trades_on_a_saturday_night_and_on_a_krx_holiday():
    for when in (seoul(2026, 3, 7, 3, 0), seoul(2026, 2, 17, 12, 0)):
        result = check(buy("0.001", 100_000_000, symbol="KRW-BTC"), instrument=BTC, market=BITCOIN, now=when)
        assert result.ok and result.moment.phase is Phase.CONTINUOUS


# -- the instrument ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("instrument", "code"), [
    (None, "unknown_symbol"),
    (InstrumentRules(symbol="005930", market="KOSPI", listed=False), "delisted"),
    (InstrumentRules(symbol="005930", market="KOSPI", halted=True), "halted"),
])
def test_an_unknown_delisted_or_suspended_instrument_is_refused(instrument, code):
    failure = only(check(buy(10), instrument=instrument))
    assert (failure.code, failure.field) == (code, "symbol") and "005930" in failure.message


# -- prices (D2, D3) --------------------------------------------------------------------------------
@pytest.mark.parametrize(("price", "codes"), [
    (71300, ()), (71350, ("off_tick",)),
    (92600, ()), (92700, ("outside_price_limit",)), (92650, ("off_tick", "outside_price_limit")),
    (49950, ()), (49900, ("outside_price_limit",)),
    (0, ("bad_price",)), (None, ("bad_price",)),
])
def test_a_limit_price_sits_on_the_tick_grid_inside_the_daily_limits(price, codes):
    result = check(buy(1, price))
    assert result.codes == codes
    assert all(failure.field == "price" for failure in result.failures)


def test_price_messages_name_the_rule_and_the_numbers():
    off_tick, outside = check(buy(1, 92650)).failures
    assert "steps of 100 KRW" in off_tick.message and "92,600 and 92,700" in off_tick.message
    assert "49,950 to 92,600 KRW" in outside.message and "71,300 KRW" in outside.message


def test_crypto_follows_upbits_ticks_and_has_no_daily_limit():
    ok = check(buy("0.0001", 300_000_000, symbol="KRW-BTC"), instrument=BTC, market=BITCOIN)
    assert ok.ok
    off = check(buy("0.0001", 100_000_500, symbol="KRW-BTC"), instrument=BTC, market=BITCOIN)
    assert off.codes == ("off_tick",)


# -- quantities -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("quantity", "codes"), [(1, ()), ("1.5", ("bad_lot",)), (0, ("bad_lot",)),
                                                 (-3, ("bad_lot",))])
def test_stocks_trade_in_whole_shares(quantity, codes):
    result = check(buy(quantity))
    assert result.codes == codes and all(f.field == "quantity" for f in result.failures)


def test_crypto_needs_five_thousand_won_an_order_in_hundred_millionths():
    btc = {"instrument": BTC, "market": BITCOIN}
    assert check(buy("0.00005", 100_000_000, symbol="KRW-BTC"), **btc).ok  # 5,000 KRW
    failure = only(check(buy("0.00004", 100_000_000, symbol="KRW-BTC"), **btc))
    assert failure.code == "below_min_order_value" and "4,000 KRW" in failure.message
    assert check(buy("0.00000005", 100_000_000, symbol="KRW-BTC"), **btc).codes == ("below_min_order_value",)
    # 1.5 hundred-millionths: off the lot, and worth 1.5 KRW
    assert check(buy("0.000000015", 100_000_000, symbol="KRW-BTC"), **btc).codes == ("bad_lot",
                                                                                    "below_min_order_value")


# -- buying power and sellable quantity -------------------------------------------------------------
def test_buying_power_counts_the_commission_rounded_up():
    # 10 x 71,300 = 713,000 + 0.015 % (106.95 -> 107) = 713,107
    assert check(buy(10), account=AccountState(cash=Decimal(713_107))).ok
    failure = only(check(buy(10), account=AccountState(cash=Decimal(713_106))))
    assert (failure.code, failure.field) == ("insufficient_cash", "quantity")
    assert "713,107 KRW including commission" in failure.message and "713,106 KRW is available" in failure.message


def test_buying_power_counts_what_open_buys_hold():
    cash = Decimal(1_000_000)
    assert check(buy(10), account=AccountState(cash=cash, open_buys_reserved=Decimal(286_893))).ok
    held = check(buy(10), account=AccountState(cash=cash, open_buys_reserved=Decimal(286_894)))
    assert held.codes == ("insufficient_cash",)


def test_buying_power_uses_the_accounts_commission_rate():
    free = AccountState(cash=Decimal(713_000), commission_rate=Decimal(0))
    assert check(buy(10), account=free).ok
    assert check(buy(10), account=AccountState(cash=Decimal(713_000))).codes == ("insufficient_cash",)


def test_a_market_buy_is_held_at_the_upper_price_limit():
    # 10 x 92,600 = 926,000 + 138.9 -> 139
    market_buy = buy(10, None, OrderType.MARKET)
    assert check(market_buy, account=AccountState(cash=Decimal(926_139))).ok
    assert check(market_buy, account=AccountState(cash=Decimal(926_138))).codes == ("insufficient_cash",)


def test_a_market_crypto_buy_is_held_at_the_newest_price():
    order = buy("0.01", None, OrderType.MARKET, symbol="KRW-BTC")  # 1,000,000 + 150
    btc = {"instrument": BTC, "market": BITCOIN}
    assert check(order, account=AccountState(cash=Decimal(1_000_150)), **btc).ok
    assert check(order, account=AccountState(cash=Decimal("1000149.9999")), **btc).codes == ("insufficient_cash",)


def test_a_market_order_without_any_price_is_refused_and_not_valued():
    failure = only(check(buy(10, None, OrderType.MARKET), market=MarketState(), account=AccountState(cash=Decimal(0))))
    assert (failure.code, failure.field) == ("no_market_price", "order_type")
    assert check(buy(10), market=MarketState(), account=RICH).ok  # a limit order carries its own price


def test_the_sellable_quantity_leaves_out_what_open_sells_cover():
    account = AccountState(cash=Decimal(0), holdings={"005930": Decimal(10)}, open_sells={"005930": Decimal(4)})
    assert check(sell(6), account=account).ok
    failure = only(check(sell(7), account=account))
    assert (failure.code, failure.field) == ("insufficient_quantity", "quantity")
    assert "6 can be sold, the order is for 7" in failure.message
    hynix = InstrumentRules(symbol="000660", market="KOSPI")
    assert check(sell(1, symbol="000660"), instrument=hynix, account=account).codes == ("insufficient_quantity",)
    with pytest.raises(ValueError):
        check(sell(1, symbol="000660"), account=account)  # the rules of another symbol


# -- the account's caps -----------------------------------------------------------------------------
def test_the_default_maximum_order_value_is_a_hundred_million_won():
    assert DEFAULT_MAX_ORDER_VALUE == 100_000_000
    assert check(buy(1402)).ok  # 99,962,600
    failure = only(check(buy(1403)))  # 100,033,900
    assert (failure.code, failure.field) == ("above_max_order_value", "quantity")
    assert "100,033,900 KRW" in failure.message and "100,000,000 KRW per order" in failure.message


def test_a_user_can_lower_the_maximum_order_value_but_not_raise_it_and_it_covers_sells():
    limits = Limits.for_user(max_order_value=Decimal(1_000_000))
    assert check(buy(14), limits=limits).ok  # 998,200
    assert check(buy(15), limits=limits).codes == ("above_max_order_value",)  # 1,069,500
    seller = AccountState(cash=Decimal(0), holdings={"005930": Decimal(100)})
    assert check(sell(15), account=seller, limits=limits).codes == ("above_max_order_value",)
    assert Limits.for_user(max_order_value=Decimal(500_000_000)).max_order_value == DEFAULT_MAX_ORDER_VALUE


def test_a_market_order_is_valued_at_the_newest_price_for_the_maximum():
    limits = Limits.for_user(max_order_value=Decimal(1_000_000))
    market = MarketState(previous_close=Decimal(71300), last_price=Decimal(66000))
    assert check(buy(15, None, OrderType.MARKET), market=market, limits=limits).ok  # 990,000
    assert check(buy(16, None, OrderType.MARKET), market=market, limits=limits).codes == ("above_max_order_value",)


def test_a_buy_may_not_push_a_position_over_its_share_of_the_account():
    limits = Limits.for_user(max_position_share=Decimal("0.2"))
    account = AccountState(cash=Decimal(10_000_000))  # 20 % = 2,000,000
    assert check(buy(28), account=account, limits=limits).ok  # 1,996,400
    failure = only(check(buy(29), account=account, limits=limits))  # 2,067,700
    assert (failure.code, failure.field) == ("above_max_position_share", "quantity")
    assert "20.7 % of this account (2,067,700 of 10,000,000 KRW)" in failure.message
    assert "maximum of 20 % per position" in failure.message


def test_the_position_share_counts_what_is_already_held_and_never_stops_a_sell():
    limits = Limits.for_user(max_position_share=Decimal("0.5"))
    account = AccountState(cash=Decimal(4_000_000), holdings={"005930": Decimal(84)},
                           position_values={"005930": Decimal(5_989_200)})  # 59.9 % already
    assert check(buy(1), account=account, limits=limits).codes == ("above_max_position_share",)
    assert check(sell(10), account=account, limits=limits).ok


def test_the_default_position_share_is_no_cap_and_limits_are_validated():
    account = AccountState(cash=Decimal(1_000_000), position_values={"005930": Decimal(9_000_000)})
    assert check(buy(10), account=account).ok
    with pytest.raises(ValueError):
        Limits(max_position_share=Decimal("1.5"))
    with pytest.raises(ValueError):
        Limits(max_order_value=Decimal(0))


# -- duplicate-looking orders -----------------------------------------------------------------------
def recent(seconds_ago: float, *, side=Side.BUY, quantity=10, price=71300) -> RecentOrder:
    return RecentOrder("005930", side, Decimal(quantity), None if price is None else Decimal(price),
                       WEDNESDAY - dt.timedelta(seconds=seconds_ago))


def test_the_same_order_within_ten_seconds_needs_a_confirmation():
    result = check(buy(10), recent_orders=[recent(10)])
    failure = only(result)
    assert (failure.code, failure.field, failure.overridable) == ("duplicate_order", None, True)
    assert result.needs_confirmation and not result.ok
    assert "10 005930" in failure.message and "10 seconds ago" in failure.message
    assert check(buy(10), recent_orders=[recent(11)]).ok


def test_a_confirmed_duplicate_passes():
    assert check(buy(10), recent_orders=[recent(3)], confirm=True).ok


@pytest.mark.parametrize("other", [
    {"side": Side.SELL}, {"quantity": 11}, {"price": 71400}, {"price": None},
])
def test_an_order_that_differs_in_side_quantity_or_price_is_no_duplicate(other):
    assert check(buy(10), recent_orders=[recent(3, **other)]).ok


def test_two_market_orders_alike_are_duplicates_and_the_newest_is_named():
    result = check(buy(10, None, OrderType.MARKET), recent_orders=[recent(8, price=None), recent(2, price=None)])
    assert result.codes == ("duplicate_order",) and "2 seconds ago" in result.failures[0].message


def test_a_duplicate_beside_a_refusal_cannot_be_confirmed_away():
    result = check(buy(10), account=AccountState(cash=Decimal(0)), recent_orders=[recent(3)])
    assert result.codes == ("insufficient_cash", "duplicate_order") and not result.needs_confirmation


def test_the_duplicate_window_is_a_limit_of_its_own():
    limits = Limits(duplicate_window=dt.timedelta(seconds=30))
    assert check(buy(10), recent_orders=[recent(25)], limits=limits).codes == ("duplicate_order",)


# -- kill switches ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("switches", "code", "words"), [
    (KillSwitches(account=True), "kill_switch_account", "this broker account"),
    (KillSwitches(user=True), "kill_switch_user", "all your accounts"),
    (KillSwitches(platform=True), "kill_switch_global", "administrators"),
])
def test_each_kill_switch_stops_new_orders_with_its_own_message(switches, code, words):
    failure = only(check(buy(10), kill_switches=switches))
    assert (failure.code, failure.field, failure.overridable) == (code, None, False)
    assert words in failure.message


def test_every_switch_that_is_on_is_listed_widest_first_and_confirm_does_not_lift_them():
    result = check(buy(10), kill_switches=KillSwitches(account=True, user=True, platform=True), confirm=True)
    assert result.codes == ("kill_switch_global", "kill_switch_user", "kill_switch_account")


# -- every failure at once --------------------------------------------------------------------------
def test_every_failed_check_is_listed_not_just_the_first():
    account = AccountState(cash=Decimal(1000))
    result = check(buy("1.5", 92650), account=account, now=seoul(2026, 2, 17, 10, 0),
                   kill_switches=KillSwitches(user=True), recent_orders=[RecentOrder(
                       "005930", Side.BUY, Decimal("1.5"), Decimal(92650), seoul(2026, 2, 17, 9, 59, 55))])
    assert result.codes == ("kill_switch_user", "market_closed", "bad_lot", "off_tick", "outside_price_limit",
                            "insufficient_cash", "duplicate_order")
    assert [f.code for f in result.on("price")] == ["off_tick", "outside_price_limit"]
    assert [f.code for f in result.on(None)] == ["kill_switch_user", "duplicate_order"]


def test_an_unknown_symbol_still_meets_the_switches_and_the_duplicate_check():
    result = check(buy(10), instrument=None, kill_switches=KillSwitches(account=True), recent_orders=[recent(1)])
    assert result.codes == ("kill_switch_account", "unknown_symbol", "duplicate_order") and result.moment is None


# -- the Refused helper and the messages ------------------------------------------------------------
def test_the_first_failure_is_raised_as_a_refusal_that_keeps_its_field():
    result = check(buy("1.5", 71350))
    with pytest.raises(RiskRefused) as caught:
        result.raise_first()
    error = caught.value
    assert isinstance(error, Refused) and not error.retryable
    assert (error.code, error.field) == ("bad_lot", "quantity") and error.message == result.failures[0].message
    check(buy(10)).raise_first()  # a passing order raises nothing
    refuse_first([])


def test_a_refusal_and_a_failure_can_be_shown_in_another_language():
    failure = check(buy(10), recent_orders=[recent(1)]).failures[0]
    assert failure.message_in(lambda text: "중복: " + text).startswith("중복: An identical order")
    with pytest.raises(RiskRefused) as caught:
        refuse_first([failure])
    shown = caught.value.localized(lambda text: "중복: " + text)
    assert shown.code == "duplicate_order" and shown.overridable and shown.message.startswith("중복: ")


def test_the_paper_broker_raises_the_same_rules_as_its_own_refusal():
    with pytest.raises(PaperRefused) as caught:
        check_quantity(STOCK, Decimal("1.5"))
    assert isinstance(caught.value, RiskRefused) and caught.value.code == "bad_lot"
    assert caught.value.message == check(buy("1.5")).failures[0].message


def test_every_code_has_a_message_and_amounts_refuse_floats():
    assert {"duplicate_order", "kill_switch_global", "above_max_position_share", "delisted"} <= MESSAGES.keys()
    with pytest.raises(TypeError):
        OrderIntent("005930", Side.BUY, 1.5)
    assert OrderIntent("005930", "sell", "2", "market", "71300") == OrderIntent("005930", Side.SELL, Decimal(2),
                                                                              OrderType.MARKET, None)


def test_the_risk_module_imports_nothing_from_django():
    import subprocess
    import sys

    code = "import sys, trading.risk; print(any(m.startswith('django') for m in sys.modules))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
