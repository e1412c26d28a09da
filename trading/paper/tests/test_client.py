"""PaperClient through the BrokerClient protocol: what the platform sees of a paper account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from trading.brokers.base import (
    Balance,
    Broker,
    BrokerClient,
    BuyingPower,
    DailyBar,
    OrderAck,
    OrderRequest,
    OrderType,
    Quote,
    Refused,
    Side,
)
from trading.paper.book import paper_match
from trading.paper.client import PaperClient
from trading.paper.prices import set_quote_source

from .conftest import WEDNESDAY, open_paper_account, seoul

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(account, samsung, at) -> PaperClient:
    at(seoul(WEDNESDAY, 10))
    return PaperClient(account)


def buy(quantity: int, price: int | None = None) -> OrderRequest:
    return OrderRequest(symbol="005930", side=Side.BUY, quantity=Decimal(quantity),
                        order_type=OrderType.LIMIT if price else OrderType.MARKET,
                        price=Decimal(price) if price else None)


def test_it_speaks_the_broker_protocol_without_a_token(client):
    assert isinstance(client, BrokerClient)
    assert client.broker is Broker.PAPER
    client.ensure_token()
    client.revoke_token()


def test_order_numbers_count_per_account(client, other_user):
    first, second = client.place_order(buy(1, 70_000)), client.place_order(buy(1, 70_000))
    assert isinstance(first, OrderAck)
    assert (first.order_no, second.order_no, first.org_no) == ("0000000001", "0000000002", "")
    assert first.accepted_at == "100000"
    bobs = PaperClient(open_paper_account(other_user))
    assert bobs.place_order(buy(1, 70_000)).order_no == "0000000001"


def test_an_account_never_sees_or_touches_another_accounts_orders(client, other_user):
    alices = client.place_order(buy(1, 70_000))
    bobs = PaperClient(open_paper_account(other_user))
    assert bobs.open_orders() == [] and bobs.day_orders(WEDNESDAY) == []
    with pytest.raises(Refused) as caught:
        bobs.cancel_order(order_no=alices.order_no, org_no="", symbol="005930")
    assert caught.value.code == "unknown_order"
    assert [o.order_no for o in client.open_orders()] == [alices.order_no]


def test_day_orders_and_fills_describe_each_order(client, at):
    resting = client.place_order(buy(10, 70_000))
    filled = client.place_order(buy(3))
    at(seoul(WEDNESDAY, 10, 1))
    paper_match("005930", 69_000, volume=50)  # caps the resting order at 5
    records = {r.order_no: r for r in client.day_orders(WEDNESDAY)}
    assert (records[filled.order_no].filled_quantity, records[filled.order_no].average_price) == (3, 71_300)
    assert records[filled.order_no].order_type_code == "market" and records[filled.order_no].price == 0
    assert (records[resting.order_no].price, records[resting.order_no].filled_quantity,
            records[resting.order_no].remaining_quantity) == (70_000, 5, 5)
    assert records[resting.order_no].order_day == WEDNESDAY and records[resting.order_no].ordered_at == "100000"
    assert [r.order_no for r in client.day_orders(WEDNESDAY, open_only=True)] == [resting.order_no]
    fills = client.day_fills(WEDNESDAY)
    assert [(f.order_no, f.quantity, f.price, f.filled_at) for f in fills] == [
        (filled.order_no, 3, 71_300, "100000"), (resting.order_no, 5, 70_000, "100100")]
    assert client.day_fills(dt.date(2026, 3, 3)) == [] and client.day_orders(dt.date(2026, 3, 3)) == []


def test_the_balance_values_positions_at_the_newest_price(client, write_bar, at):
    client.place_order(buy(10))  # 713,000 + 106
    write_bar("005930", "KOSPI", "2026-03-04", 75_000)
    balance = client.balance()
    assert isinstance(balance, Balance)
    [position] = balance.positions
    assert (position.quantity, position.sellable_quantity, position.average_price, position.current_price) == (
        10, 10, 71_300, 75_000)
    assert (position.evaluation, position.profit_loss, position.profit_loss_rate) == (750_000, 37_000, Decimal("5.19"))
    assert balance.securities_evaluation == 750_000 and balance.profit_loss == 37_000
    assert balance.total_evaluation == 10_000_000 - 713_106 + 750_000


def test_buying_power_counts_commission_and_open_buys(client):
    power = client.buying_power("005930")
    assert isinstance(power, BuyingPower)
    # 140 x 71,300 = 9,982,000 + 1,498 commission fits in 10,000,000
    assert (power.price, power.orderable_cash, power.max_quantity) == (71_300, 10_000_000, 140)
    client.place_order(buy(100, 70_000))
    assert client.buying_power("005930", Decimal(50_000)).max_quantity == 59


def test_the_quote_has_the_daily_limits_and_the_tick(client):
    quote = client.quote("005930")
    assert isinstance(quote, Quote)
    assert (quote.price, quote.previous_close, quote.lower_limit, quote.upper_limit, quote.tick) == (
        71_300, 71_300, 49_950, 92_600, 100)
    assert quote.name == "삼성전자" and not quote.halted


def test_a_plugged_in_quote_source_is_the_newest_price(client):
    set_quote_source(lambda symbol: Quote(symbol=symbol, price=Decimal(72_000), previous_close=Decimal(71_300)))
    try:
        assert client.quote("005930").price == 72_000
        client.place_order(buy(1))
        assert client.day_fills(WEDNESDAY)[0].price == 72_000
    finally:
        set_quote_source(None)


def test_a_failing_quote_source_falls_back_to_the_bars(client):
    def broken(symbol):
        raise TimeoutError("quote server down")

    set_quote_source(broken)
    try:
        assert client.quote("005930").price == 71_300
    finally:
        set_quote_source(None)


def test_daily_bars_and_market_days_come_from_the_platform(client):
    bars = client.daily_bars("005930", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert [(b.day, b.close) for b in bars] == [(dt.date(2026, 3, 2), 70_000), (dt.date(2026, 3, 3), 71_300)]
    assert isinstance(bars[0], DailyBar)
    days = {d.day: d for d in client.market_days(dt.date(2025, 10, 1))}
    assert days[dt.date(2025, 10, 6)].business_day and not days[dt.date(2025, 10, 6)].open_day  # Chuseok
    assert days[dt.date(2025, 10, 10)].trading_day and not days[dt.date(2025, 10, 11)].business_day


def test_a_refusal_keeps_its_code_and_numbers_in_the_users_language(client):
    with translation.override("ko"), pytest.raises(Refused) as caught:
        client.place_order(buy(1, 71_350))
    assert caught.value.code == "off_tick" and "71,350" in caught.value.message


def test_nothing_about_the_account_leaks_into_the_clients_repr(client, account):
    assert repr(client) == f"PaperClient(account={account.pk})"


def test_with_market_data_keys_a_kis_quote_is_the_newest_price(client, settings):
    from django.core.cache import caches

    from trading.fakes.kis import FakeKis

    server = FakeKis(rate_limits={"real": 50})
    server.add_account("PSmarketdata" + "k" * 24, "market-data-secret-" + "s" * 161, "5555555501")
    server.set_price("005930", 72_500, prev_close=71_300, name="삼성전자")
    with server:
        settings.MARKET_DATA_KIS_BASE_URL = server.url
        settings.MARKET_DATA_KIS_APP_KEY = "PSmarketdata" + "k" * 24
        settings.MARKET_DATA_KIS_APP_SECRET = "market-data-secret-" + "s" * 161
        caches["brokers"].clear()
        client.place_order(buy(1))
        client.place_order(buy(2))
    fills = client.day_fills(WEDNESDAY)
    assert [fill.price for fill in fills] == [72_500, 72_500]
    assert server.count("/uapi/domestic-stock/v1/quotations/inquire-price") == 1  # one quote served both


def test_without_an_answer_from_kis_the_bars_stand_in(client, settings):
    settings.MARKET_DATA_KIS_BASE_URL = "http://127.0.0.1:9"
    settings.MARKET_DATA_KIS_APP_KEY, settings.MARKET_DATA_KIS_APP_SECRET = "PS" + "k" * 34, "s" * 180
    assert client.quote("005930").price == 71_300


def test_a_delisted_symbol_is_refused_as_no_longer_listed(client, samsung):
    from marketdata.models import ListingStatus

    samsung.status = ListingStatus.DELISTED
    samsung.save()
    with pytest.raises(Refused) as refused:
        client.place_order(buy(1))
    assert refused.value.code == "delisted"
