"""The paper book: fills, resting orders, cash, holdings, sessions and expiry, through the client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trading.brokers.base import OrderRequest, OrderType, Side
from trading.brokers.paper import PaperRefused
from trading.paper.book import paper_match, paper_match_all
from trading.paper.client import PaperClient
from trading.paper.models import PaperOrder, PaperOrderStatus, PaperPosition

from .conftest import WEDNESDAY, seoul

pytestmark = pytest.mark.django_db
CASH = Decimal(10_000_000)


def order(side: Side, quantity, price=None, symbol: str = "005930",
          order_type: OrderType | None = None) -> OrderRequest:
    kind = order_type or (OrderType.LIMIT if price is not None else OrderType.MARKET)
    return OrderRequest(symbol=symbol, side=side, quantity=Decimal(str(quantity)), order_type=kind,
                        price=None if price is None else Decimal(str(price)))


def refused(call, *args, **kwargs) -> PaperRefused:
    with pytest.raises(PaperRefused) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def client(account, samsung, at) -> PaperClient:
    at(seoul(WEDNESDAY, 10))
    return PaperClient(account)


def the_order(order_no: str) -> PaperOrder:
    return PaperOrder.objects.get(order_no=order_no)


# -- fills ----------------------------------------------------------------------------------------
def test_a_market_buy_fills_at_once_at_the_latest_price(client):
    ack = client.place_order(order(Side.BUY, 10))
    fills = client.day_fills(WEDNESDAY)
    assert [(f.order_no, f.quantity, f.price) for f in fills] == [(ack.order_no, 10, 71300)]
    assert fills[0].commission == 106  # 0.015 % of 713,000, truncated
    balance = client.balance()
    assert balance.settlement_d2 == CASH - 713_000 - 106
    assert [(p.symbol, p.quantity, p.average_price) for p in balance.positions] == [("005930", 10, 71300)]


def test_a_limit_buy_rests_and_fills_at_its_limit_when_a_newer_price_crosses(client, at):
    ack = client.place_order(order(Side.BUY, 10, 70_000))
    assert client.day_fills(WEDNESDAY) == []
    assert [o.order_no for o in client.open_orders()] == [ack.order_no]
    at(seoul(WEDNESDAY, 10, 1))
    assert paper_match("005930", 70_500) == []
    assert paper_match("005930", 69_900) == []  # a price of the same instant is not newer
    at(seoul(WEDNESDAY, 10, 2))
    fills = paper_match("005930", 69_900)
    assert [(f.quantity, f.price) for f in fills] == [(10, 70_000)]
    assert client.open_orders() == []
    assert client.balance().settlement_d2 == CASH - 700_000 - 105


def test_the_periodic_match_fills_a_resting_limit_from_a_newer_bar(client, write_bar, at):
    client.place_order(order(Side.BUY, 10, 70_000))
    assert paper_match_all() == []  # the same bar that did not cross at placement
    write_bar("005930", "KOSPI", "2026-03-04", 69_000)
    at(seoul(WEDNESDAY, 10, 5))
    assert [(f.quantity, f.price) for f in paper_match_all()] == [(10, 70_000)]


def test_a_match_fills_part_of_an_order_when_the_volume_behind_the_price_is_small(client, settings, at):
    settings.PAPER_MAX_FILL_VOLUME_SHARE = "0.1"
    ack = client.place_order(order(Side.BUY, 100, 70_000))
    at(seoul(WEDNESDAY, 10, 1))
    paper_match("005930", 69_900, volume=300)
    at(seoul(WEDNESDAY, 10, 2))
    paper_match("005930", 69_800, volume=500)
    [record] = client.day_orders(WEDNESDAY)
    assert (record.filled_quantity, record.remaining_quantity) == (80, 20)
    assert [f.cumulative_quantity for f in client.day_fills(WEDNESDAY)] == [30, 80]
    # only what is still open stays reserved: 20 x 70,000 + commission
    assert the_order(ack.order_no).reserved_cash == 1_400_000 + 210
    assert client.balance().orderable_cash == CASH - 5_600_000 - 840 - 1_400_210


# -- cash and holdings ----------------------------------------------------------------------------
def test_orderable_cash_is_net_of_open_buys_and_a_buy_beyond_it_is_refused(client):
    client.place_order(order(Side.BUY, 100, 70_000))  # holds 7,001,050
    assert client.balance().orderable_cash == CASH - 7_001_050
    assert client.balance().deposit == CASH  # nothing spent yet
    error = refused(client.place_order, order(Side.BUY, 50, 70_000))
    assert error.code == "insufficient_cash"
    assert "3,500,525" in error.message and "2,998,950" in error.message


def test_cancelling_a_resting_buy_releases_its_cash(client):
    ack = client.place_order(order(Side.BUY, 100, 70_000))
    client.cancel_order(order_no=ack.order_no, org_no="", symbol="005930")
    assert client.balance().orderable_cash == CASH
    [record] = client.day_orders(WEDNESDAY)
    assert record.cancelled and record.remaining_quantity == 0
    again = refused(client.cancel_order, order_no=ack.order_no, org_no="", symbol="005930")
    assert again.code == "order_closed"


def test_cancelling_part_of_an_order_keeps_the_rest_open(client):
    ack = client.place_order(order(Side.BUY, 10, 70_000))
    client.cancel_order(order_no=ack.order_no, org_no="", symbol="005930", quantity=Decimal(4))
    [record] = client.open_orders()
    assert record.remaining_quantity == 6
    assert client.balance().orderable_cash == CASH - 420_000 - 63
    assert refused(client.cancel_order, order_no=ack.order_no, org_no="", symbol="005930",
                   quantity=Decimal(7)).code == "bad_revision"


def test_selling_more_than_is_held_or_already_offered_is_refused(client):
    client.place_order(order(Side.BUY, 10))
    assert refused(client.place_order, order(Side.SELL, 11)).code == "insufficient_quantity"
    client.place_order(order(Side.SELL, 6, 75_000))  # rests above the price
    assert client.sellable_quantity("005930") == 4
    error = refused(client.place_order, order(Side.SELL, 5, 75_000))
    assert error.code == "insufficient_quantity" and "4 can be sold" in error.message
    client.place_order(order(Side.SELL, 4))  # what is left sells at the market
    assert client.sellable_quantity("005930") == 0


def test_a_sell_realises_profit_after_commission_and_the_sell_tax(client, at):
    client.place_order(order(Side.BUY, 10))  # 713,000 + 106
    client.place_order(order(Side.SELL, 10, 75_000))
    at(seoul(WEDNESDAY, 10, 1))
    [fill] = paper_match("005930", 75_200)
    # 750,000 - 112 commission - 1,500 tax (0.20 % since 2026) - 713,000 cost
    assert (fill.price, fill.commission, fill.tax, fill.realized_pnl) == (75_000, 112, 1_500, 35_388)
    assert PaperPosition.objects.get(symbol="005930").realized_pnl == 35_388
    assert client.balance().positions == ()
    assert client.balance().settlement_d2 == CASH - 713_106 + 750_000 - 112 - 1_500


def test_sale_proceeds_are_orderable_at_once_and_settle_two_trading_days_later(client, at):
    client.place_order(order(Side.BUY, 100))  # Wednesday: 7,130,000 + 1,069
    balance = client.balance()
    assert balance.deposit == CASH and balance.settlement_d2 == CASH - 7_131_069
    client.place_order(order(Side.SELL, 100, 71_300))  # fills at once: 7,130,000 - 1,069 - 14,260
    balance = client.balance()
    assert balance.orderable_cash == balance.settlement_d2 == CASH - 7_131_069 + 7_114_671
    assert balance.deposit == CASH  # both settle on Friday
    assert balance.settlement_d1 == CASH
    at(seoul(dt.date(2026, 3, 5), 10))  # Thursday: D+1 sees Friday's settlement
    assert client.balance().settlement_d1 == CASH - 7_131_069 + 7_114_671
    at(seoul(dt.date(2026, 3, 6), 10))
    assert client.balance().deposit == CASH - 7_131_069 + 7_114_671


# -- sessions -------------------------------------------------------------------------------------
def test_a_market_order_in_the_opening_auction_fills_at_the_open(client, at):
    at(seoul(WEDNESDAY, 8, 45))
    ack = client.place_order(order(Side.BUY, 10))
    assert client.day_fills(WEDNESDAY) == []
    assert paper_match_all() == []  # still the auction
    at(seoul(WEDNESDAY, 9, 0, 30))
    [fill] = paper_match_all()
    assert (fill.order.order_no, fill.price) == (ack.order_no, 71_300)


def test_an_order_in_the_closing_auction_fills_at_the_close_and_the_days_rest_expires(client, at):
    resting = client.place_order(order(Side.BUY, 10, 60_000))
    at(seoul(WEDNESDAY, 15, 25))
    closing = client.place_order(order(Side.BUY, 5))
    assert paper_match("005930", 71_000) == []  # the closing auction collects
    at(seoul(WEDNESDAY, 15, 31))
    [fill] = paper_match("005930", 71_200)
    assert (fill.order.order_no, fill.price, fill.quantity) == (closing.order_no, 71_200, 5)
    assert the_order(resting.order_no).status == PaperOrderStatus.EXPIRED
    assert client.balance().orderable_cash == client.balance().settlement_d2 == CASH - 356_000 - 53


def test_orders_left_from_an_earlier_day_expire_before_anything_else(client, at):
    ack = client.place_order(order(Side.BUY, 100, 70_000))
    at(seoul(dt.date(2026, 3, 5), 8, 0))  # no match ran after Wednesday's close
    assert client.open_orders() == []
    assert the_order(ack.order_no).status == PaperOrderStatus.EXPIRED
    assert client.balance().orderable_cash == CASH


def test_orders_are_refused_when_the_exchange_is_closed(client, at):
    at(seoul(WEDNESDAY, 16, 0))
    error = refused(client.place_order, order(Side.BUY, 1))
    assert error.code == "market_closed" and "2026-03-05 08:30" in error.message


def test_a_limit_beyond_todays_price_limit_or_off_the_tick_is_refused(client):
    assert refused(client.place_order, order(Side.BUY, 1, 92_700)).code == "outside_price_limit"
    assert refused(client.place_order, order(Side.BUY, 1, 71_350)).code == "off_tick"
    client.place_order(order(Side.BUY, 1, 92_600))  # the upper limit itself


def test_a_symbol_without_a_price_or_outside_the_master_is_refused(client):
    from marketdata.tests.factories import InstrumentFactory

    InstrumentFactory(code="000660", name="SK하이닉스")
    assert refused(client.place_order, order(Side.BUY, 1, symbol="000660")).code == "no_price"
    assert refused(client.place_order, order(Side.BUY, 1, symbol="999999")).code == "unknown_symbol"


# -- revise, IOC, FOK -----------------------------------------------------------------------------
def test_a_revision_is_a_new_order_that_may_fill_at_once(client):
    first = client.place_order(order(Side.BUY, 10, 70_000))
    revised = client.revise_order(order_no=first.order_no, org_no="", symbol="005930", quantity=None,
                                  price=Decimal(71_500))
    assert revised.order_no != first.order_no
    assert the_order(first.order_no).status == PaperOrderStatus.REVISED
    [fill] = client.day_fills(WEDNESDAY)
    assert (fill.order_no, fill.price, fill.quantity) == (revised.order_no, 71_300, 10)
    assert the_order(revised.order_no).original_order_no == first.order_no


def test_a_revision_needing_more_cash_than_there_is_changes_nothing(client):
    first = client.place_order(order(Side.BUY, 130, 70_000))  # holds 9,101,365
    error = refused(client.revise_order, order_no=first.order_no, org_no="", symbol="005930", quantity=None,
                    price=Decimal(77_000))
    assert error.code == "insufficient_cash"
    assert the_order(first.order_no).is_open and the_order(first.order_no).remaining == 130


def test_an_ioc_order_drops_what_does_not_fill_and_a_fok_fills_all_or_nothing(client, settings):
    settings.PAPER_MAX_FILL_VOLUME_SHARE = "0.00001"  # 10 shares of the bar's 1,000,000
    ioc = client.place_order(order(Side.BUY, 15, 72_000, order_type=OrderType.IOC_LIMIT))
    fok = client.place_order(order(Side.BUY, 15, 72_000, order_type=OrderType.FOK_LIMIT))
    records = {r.order_no: r for r in client.day_orders(WEDNESDAY)}
    assert (records[ioc.order_no].filled_quantity, records[ioc.order_no].cancelled) == (10, True)
    assert (records[fok.order_no].filled_quantity, records[fok.order_no].cancelled) == (0, True)
    assert client.open_orders() == []


# -- crypto ---------------------------------------------------------------------------------------
def test_crypto_trades_fractions_on_a_saturday(account, bitcoin, at):
    at(seoul(dt.date(2026, 3, 7), 3, 0))  # Saturday night
    client = PaperClient(account)
    client.place_order(order(Side.BUY, "0.00012345", symbol="KRW-BTC"))
    [fill] = client.day_fills(dt.date(2026, 3, 7))
    assert (fill.quantity, fill.price, fill.tax) == (Decimal("0.00012345"), 100_000_000, 0)
    assert client.sellable_quantity("KRW-BTC") == Decimal("0.00012345")
    balance = client.balance()
    assert balance.deposit == balance.settlement_d2 == CASH - Decimal(12345) - Decimal("1.8517")
    assert refused(client.place_order, order(Side.SELL, "0.00004", symbol="KRW-BTC")).code == "below_min_order_value"
    assert refused(client.place_order, order(Side.BUY, "0.000000015", symbol="KRW-BTC")).code == "bad_lot"


def test_a_resting_crypto_order_stays_open_across_days(account, bitcoin, at):
    at(seoul(dt.date(2026, 3, 7), 3, 0))
    client = PaperClient(account)
    ack = client.place_order(order(Side.BUY, "0.001", 90_000_000, symbol="KRW-BTC"))
    at(seoul(dt.date(2026, 3, 9), 3, 0))
    assert [o.order_no for o in client.open_orders()] == [ack.order_no]
    [fill] = paper_match("KRW-BTC", 89_000_000)
    assert fill.price == 90_000_000


def test_the_periodic_task_matches_and_reports_the_fills(client, at):
    from trading.paper.tasks import paper_match_open_orders

    at(seoul(WEDNESDAY, 8, 45))
    client.place_order(order(Side.BUY, 10))
    assert paper_match_open_orders.apply().get() == 0  # the opening auction still collects
    at(seoul(WEDNESDAY, 9, 1))
    assert paper_match_open_orders.apply().get() == 1
    assert client.open_orders() == []


def test_on_the_first_trading_day_the_opening_auction_lasts_until_ten(account, samsung, write_bar, at):
    write_bar("005930", "KOSPI", "2025-12-30", 53_000)
    at(seoul(dt.date(2026, 1, 2), 9, 30))
    client = PaperClient(account)
    client.place_order(order(Side.BUY, 10))
    at(seoul(dt.date(2026, 1, 2), 9, 59))
    assert paper_match_all() == []
    at(seoul(dt.date(2026, 1, 2), 10, 0, 30))
    [fill] = paper_match_all()
    assert (fill.price, fill.trade_day, fill.settles_on) == (53_000, dt.date(2026, 1, 2), dt.date(2026, 1, 6))
