"""KiwoomClient against the fake Kiwoom over real local HTTP: every api-id, paging, the error
families, Korean-time token expiry, signed prices, and that no secret reaches a message or a log."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from trading.brokers.base import (
    BrokerError, Credentials, NotSupported, OrderRequest, OrderType, RateLimited, Refused, Side, TokenExpired,
    UnknownOutcome,
)
from trading.brokers.kiwoom import KST, KiwoomClient, kiwoom_expiry
from trading.fakes.kiwoom import FakeKiwoom
from trading.fakes.server import Answer

KEY = "alice-kiwoom-app-key-" + "k" * 20
SECRET = "alice-kiwoom-secret-DO-NOT-LEAK-" + "s" * 20
ACCOUNT = "5012345611"
ORDERS, ACCOUNTS, STOCKS, CHART = "/api/dostk/ordr", "/api/dostk/acnt", "/api/dostk/stkinfo", "/api/dostk/chart"
MONDAY = datetime(2025, 3, 3, 10, 0, tzinfo=KST)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta).total_seconds()


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def fake(clock):
    server = FakeKiwoom(clock=clock, requests_per_second=1000)
    server.add_account(KEY, SECRET, ACCOUNT, cash=10_000_000, positions={"005930": (10, 70_000)})
    server.set_price("005930", 68_000, previous_close=69_000, name="삼성전자")
    server.set_price("000660", 200_000, previous_close=190_000, name="SK하이닉스")
    with server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client_for(server: FakeKiwoom, clock: Clock, sleeps: list[float], *, secret: str = SECRET,
               key: str = KEY, url: str | None = None) -> KiwoomClient:
    return KiwoomClient(Credentials(key, secret, account_no=ACCOUNT), base_url=url or server.url,
                        requests_per_second=200, timeout=httpx.Timeout(1.0), clock=clock, sleep=sleeps.append)


@pytest.fixture
def client(fake, clock, sleeps) -> KiwoomClient:
    return client_for(fake, clock, sleeps)


def sent(server: FakeKiwoom, api_id: str) -> list:
    return [r for r in server.requests if r.header("api-id") == api_id]


def buy(symbol: str, quantity: int, order_type: OrderType = OrderType.LIMIT, price: int | None = None) -> OrderRequest:
    return OrderRequest(symbol, Side.BUY, Decimal(quantity), order_type, None if price is None else Decimal(price))


# -- token ---------------------------------------------------------------------------------------
def test_expires_dt_is_korean_time():
    assert kiwoom_expiry("20250304090000") == datetime(2025, 3, 4, 0, 0, tzinfo=UTC).timestamp()


def test_a_token_past_its_korean_expiry_is_renewed_before_use(client, fake, clock):
    client.quote("005930")
    clock.advance(hours=24, minutes=1)  # read as UTC, the token would still look valid for 9 hours

    client.quote("005930")

    assert fake.token_issuances(KEY) == 2
    assert fake.token_refusals == 0  # never sent with the expired token
    assert len(sent(fake, "ka10001")) == 2


def test_the_token_is_renewed_ten_minutes_early_and_reused_until_then(client, fake, clock):
    client.quote("005930")
    clock.advance(hours=23, minutes=45)
    client.quote("005930")
    assert fake.token_issuances(KEY) == 1
    clock.advance(minutes=10)
    client.quote("005930")
    assert fake.token_issuances(KEY) == 2


def test_a_refused_token_is_reissued_once(client, fake):
    client.quote("005930")
    fake.expire_tokens()  # Kiwoom answers 8005

    assert client.quote("005930").price == Decimal(68_000)
    assert fake.token_issuances(KEY) == 2


def test_a_token_refused_again_after_reissue_is_token_expired(fake, clock, sleeps):
    fake.token_lifetime = 0  # every token is dead on arrival
    with pytest.raises(TokenExpired) as caught:
        client_for(fake, clock, sleeps).quote("005930")
    assert caught.value.code == "8005"
    assert fake.token_issuances(KEY) == 2


def test_a_wrong_secret_is_a_final_refusal_that_names_no_secret(fake, clock, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Refused) as caught:
        client_for(fake, clock, sleeps, secret="wrong-" + SECRET).balance()
    assert (caught.value.code, caught.value.retryable) == ("8002", False)
    assert "app key or secret key" in str(caught.value)
    assert SECRET not in str(caught.value) + caught.value.broker_message + caplog.text


def test_a_key_of_the_other_environment_is_named_as_such(fake, clock, sleeps):
    fake.add_account("bob-mock-key", "bob-mock-secret", "5099999911", environment="mock")
    with pytest.raises(Refused) as caught:
        client_for(fake, clock, sleeps, key="bob-mock-key", secret="bob-mock-secret").quote("005930")
    assert caught.value.code == "8030" and "other Kiwoom environment" in str(caught.value)
    assert not caught.value.retryable


def test_revoke_forgets_the_token_at_kiwoom(client, fake):
    client.ensure_token()
    assert len(fake.tokens) == 1
    client.revoke_token()
    assert fake.tokens == {} and client.tokens.get(client.token_key) is None


# -- account ---------------------------------------------------------------------------------------
def test_verify_account_accepts_the_keys_own_account(client):
    assert client.verify_account() == "****3456-11"


def test_verify_account_refuses_another_account_and_masks_both(fake, clock, sleeps):
    other = KiwoomClient(Credentials(KEY, SECRET, account_no="5077777711"), base_url=fake.url,
                         requests_per_second=200, clock=clock, sleep=sleeps.append)
    with pytest.raises(Refused) as caught:
        other.verify_account()
    assert caught.value.code == "account_mismatch"
    assert "****3456-11" in str(caught.value) and "****7777-11" in str(caught.value)
    assert ACCOUNT not in str(caught.value) and "5077777711" not in str(caught.value)


def test_balance_combines_cash_and_every_page_of_positions(client, fake):
    account = fake.accounts[KEY]
    for i in range(44):
        symbol = f"{100000 + i}"
        fake.set_price(symbol, 10_000 + i, name=f"stock {i}")
        account.positions[symbol] = [i + 1, 9_000]

    balance = client.balance()

    assert len(balance.positions) == 45  # kt00018 pages of 20: three calls
    pages = sent(fake, "kt00018")
    assert [r.header("cont-yn") for r in pages] == ["N", "Y", "Y"]
    assert pages[1].header("next-key") == "20" and pages[0].body == {"qry_tp": "1", "dmst_stex_tp": "KRX"}
    assert sent(fake, "kt00001")[0].body == {"qry_tp": "3"}
    samsung = next(p for p in balance.positions if p.symbol == "005930")  # "A005930" in the answer
    assert (samsung.quantity, samsung.sellable_quantity, samsung.average_price) == (10, 10, 70_000)
    assert samsung.current_price == 68_000 and samsung.profit_loss == -20_000  # a loss keeps its sign
    assert balance.deposit == balance.orderable_cash == 10_000_000
    assert balance.securities_evaluation == sum(p.evaluation for p in balance.positions)
    assert balance.total_evaluation == balance.deposit + balance.securities_evaluation


def test_a_listing_longer_than_the_page_cap_is_an_error_not_a_silent_cut(client, fake):
    fake.page_sizes["kt00018"] = 1
    for i in range(25):
        fake.accounts[KEY].positions[f"{200000 + i}"] = [1, 1_000]
    with pytest.raises(BrokerError) as caught:
        client.balance()
    assert caught.value.code == "too_many_pages"


def test_sellable_quantity_excludes_shares_in_open_sell_orders(client, fake):
    client.place_order(OrderRequest("005930", Side.SELL, Decimal(4), OrderType.LIMIT, Decimal(75_000)))
    assert client.sellable_quantity("005930") == 6
    assert client.sellable_quantity("000660") == 0


def test_buying_power_is_cash_only_quantity_at_the_price(client, fake):
    power = client.buying_power("000660", Decimal(200_000))
    assert (power.max_quantity, power.orderable_cash) == (50, 10_000_000)
    assert sent(fake, "kt00011")[0].body == {"stk_cd": "000660", "uv": "200000"}
    assert client.buying_power("000660").price == 200_000  # the current price when none is given


def test_evaluation_reads_kt00004_totals(client):
    evaluation = client.evaluation()
    assert evaluation.deposit == 10_000_000 and evaluation.securities_evaluation == 680_000
    assert "김키움" not in repr(evaluation)  # the holder's name is not kept


# -- quotes ------------------------------------------------------------------------------------------
def test_quote_prices_are_absolute_although_kiwoom_signs_them(client, fake):
    quote = client.quote("005930")
    assert fake.requests[-1].body == {"stk_cd": "005930"}
    assert (quote.price, quote.previous_close, quote.name) == (68_000, 69_000, "삼성전자")
    assert quote.upper_limit == 89_700 and quote.lower_limit == 48_301


def test_an_unknown_symbol_is_refused_for_good(client):
    with pytest.raises(Refused) as caught:
        client.quote("999999")
    assert caught.value.code == "1902" and not caught.value.retryable


def test_daily_bars_page_back_until_the_start_and_stop_there(client, fake):
    first = date(2024, 1, 1)
    fake.set_bars("005930", [(first + timedelta(days=i), 70_000 + i, 71_000 + i, 69_000 - i, 70_000 - i * (-1) ** i,
                               1_000_000 + i) for i in range(250)])

    bars = client.daily_bars("005930", date(2024, 5, 1), date(2024, 8, 31))

    assert [b.day for b in bars] == [date(2024, 5, 1) + timedelta(days=i) for i in range(123)]
    calls = sent(fake, "ka10081")
    assert len(calls) == 2  # 100 rows a page from 2024-08-31 back; the second page reaches May
    assert calls[0].body == {"stk_cd": "005930", "base_dt": "20240831", "upd_stkpc_tp": "1"}
    assert calls[1].header("cont-yn") == "Y"
    low_day = next(b for b in bars if b.day == date(2024, 5, 2))
    assert low_day.low == 69_000 - 122 and low_day.close > 0  # "-68878" in the answer
    assert low_day.value == Decimal(round(low_day.close * low_day.volume / 1_000_000)) * 1_000_000


def test_market_days_are_not_offered(client):
    with pytest.raises(NotSupported):
        client.market_days(date(2025, 3, 3))


# -- orders ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("order_type", "price", "trde_tp", "ord_uv"), [
    (OrderType.LIMIT, 67_000, "0", "67000"), (OrderType.MARKET, None, "3", ""),
    (OrderType.IOC_LIMIT, 60_000, "10", "60000"), (OrderType.FOK_LIMIT, 60_000, "20", "60000"),
    (OrderType.IOC_MARKET, None, "13", ""), (OrderType.FOK_MARKET, None, "23", ""),
])
def test_each_order_type_is_sent_with_kiwooms_trade_type(client, fake, order_type, price, trde_tp, ord_uv):
    ack = client.place_order(buy("005930", 2, order_type, price))

    request = sent(fake, "kt10000")[0]
    assert request.path == ORDERS
    assert request.body == {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "2", "ord_uv": ord_uv,
                            "trde_tp": trde_tp, "cond_uv": ""}
    assert ack.order_no == "0000001" and ack.org_no == ""


def test_a_market_buy_fills_at_the_price_and_a_limit_buy_rests(client, fake):
    client.place_order(buy("005930", 3, OrderType.MARKET))
    resting = client.place_order(buy("000660", 2, price=190_000))

    assert [(o.order_no, o.remaining_quantity, o.side) for o in client.open_orders()] == [(resting.order_no, 2, Side.BUY)]
    fills = client.day_fills(date(2025, 3, 3))
    assert [(f.symbol, f.quantity, f.price) for f in fills] == [("005930", 3, 68_000)]
    assert client.balance().orderable_cash == 10_000_000 - 3 * 68_000 - 2 * 190_000


def test_a_sell_goes_to_kt10001(client, fake):
    client.place_order(OrderRequest("005930", Side.SELL, Decimal(1), OrderType.MARKET))
    assert sent(fake, "kt10001")[0].body["trde_tp"] == "3"
    assert client.sellable_quantity("005930") == 9


def test_partial_fill_revise_and_cancel(client, fake):
    placed = client.place_order(buy("005930", 5, price=66_000))
    fake.fill(placed.order_no, 2, 66_000)

    [open_order] = client.open_orders()
    assert (open_order.filled_quantity, open_order.remaining_quantity, open_order.average_price) == (2, 3, 66_000)

    revised = client.revise_order(order_no=placed.order_no, org_no="", symbol="005930", quantity=None,
                                  price=Decimal(67_000))
    assert sent(fake, "kt10002")[0].body == {"dmst_stex_tp": "KRX", "orig_ord_no": placed.order_no,
                                              "stk_cd": "005930", "mdfy_qty": "0", "mdfy_uv": "67000",
                                              "mdfy_cond_uv": ""}
    [moved] = client.open_orders()
    assert (moved.order_no, moved.original_order_no, moved.price, moved.quantity) == (revised.order_no, placed.order_no,
                                                                                     67_000, 3)

    cancel = client.cancel_order(order_no=revised.order_no, org_no="", symbol="005930")
    assert sent(fake, "kt10003")[0].body == {"dmst_stex_tp": "KRX", "orig_ord_no": revised.order_no,
                                              "stk_cd": "005930", "cncl_qty": "0"}
    assert client.open_orders() == []

    orders = {o.order_no: o for o in client.day_orders(date(2025, 3, 3))}
    assert list(orders) == [placed.order_no, revised.order_no, cancel.order_no]
    assert (orders[placed.order_no].filled_quantity, orders[placed.order_no].cancelled) == (2, False)
    assert orders[revised.order_no].cancelled and orders[cancel.order_no].original_order_no == revised.order_no
    assert sent(fake, "kt00007")[0].body["qry_tp"] == "1"


def test_revising_anything_but_a_limit_order_is_not_supported(client, fake):
    with pytest.raises(NotSupported):
        client.revise_order(order_no="0000001", org_no="", symbol="005930", quantity=None, price=Decimal(1),
                            order_type=OrderType.MARKET)
    assert fake.count(ORDERS) == 0


def test_a_broken_order_is_refused_before_anything_is_sent(client, fake):
    with pytest.raises(Refused) as caught:
        client.place_order(buy("005930", 1, price=None))
    assert caught.value.code == "no_price"
    with pytest.raises(Refused):
        client.place_order(OrderRequest("005930", Side.BUY, Decimal("1.5"), OrderType.MARKET))
    assert fake.count(ORDERS) == 0


def test_a_buy_beyond_the_cash_is_refused_with_kiwooms_words(client, fake):
    with pytest.raises(Refused) as caught:
        client.place_order(buy("000660", 1_000, OrderType.MARKET))
    assert not caught.value.retryable and "주문가능금액" in caught.value.broker_message


def test_open_only_day_orders_ask_kiwoom_for_unfilled(client, fake):
    resting = client.place_order(buy("005930", 1, price=60_000))
    client.place_order(buy("005930", 1, OrderType.MARKET))
    assert [o.order_no for o in client.day_orders(date(2025, 3, 3), open_only=True)] == [resting.order_no]
    assert sent(fake, "kt00007")[0].body == {"ord_dt": "20250303", "qry_tp": "3", "stk_bond_tp": "1", "sell_tp": "0",
                                             "stk_cd": "", "fr_ord_no": "", "dmst_stex_tp": "%"}


def test_day_orders_read_every_page(client, fake):
    for _ in range(25):
        client.place_order(buy("005930", 1, price=50_000))
    assert len(client.day_orders(date(2025, 3, 3))) == 25
    assert len(sent(fake, "kt00007")) == 2


def test_a_listing_that_moves_between_pages_is_read_again(client, fake):
    for _ in range(25):
        client.place_order(buy("005930", 1, price=50_000))
    listing, calls = fake._kt00007, []

    def moving(account, body):
        answer, rows_key = listing(account, body)
        calls.append(body)
        if len(calls) == 2:  # an order slipped in before page 2: its first row was already on page 1
            answer[rows_key] = answer[rows_key][:1] + answer[rows_key]
        return answer, rows_key

    fake._kt00007 = moving
    orders = client.day_orders(date(2025, 3, 3))

    assert len(calls) == 4 and len(orders) == len({o.order_no for o in orders}) == 25


def test_todays_fills_come_from_ka10076_and_older_ones_from_kt00007(client, fake, clock):
    client.place_order(buy("005930", 2, OrderType.MARKET))
    [today] = client.day_fills(date(2025, 3, 3))
    assert (today.quantity, today.price, today.commission) == (2, 68_000, 0)
    clock.advance(days=1)

    [earlier] = client.day_fills(date(2025, 3, 3))

    assert (earlier.order_no, earlier.quantity, earlier.price, earlier.filled_at) == (today.order_no, 2, 68_000,
                                                                                      today.filled_at)
    assert len(sent(fake, "ka10076")) == 1 and sent(fake, "kt00007")[0].body["qry_tp"] == "4"


# -- error families ----------------------------------------------------------------------------------
def test_a_closed_port_is_a_retryable_refusal(fake, clock, sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Refused) as caught:
        client_for(fake, clock, sleeps, url=f"http://127.0.0.1:{port}").quote("005930")
    assert caught.value.retryable and caught.value.code == "unreachable"


def test_an_order_without_an_answer_is_unknown_and_not_sent_again(client, fake):
    client.ensure_token()
    fake.fail_next(ORDERS, "timeout")
    with pytest.raises(UnknownOutcome) as caught:
        client.place_order(buy("005930", 1, OrderType.MARKET))
    assert caught.value.code == "timeout"
    assert fake.count(ORDERS) == 1


def test_a_reset_connection_after_an_order_is_unknown(client, fake):
    client.ensure_token()
    fake.fail_next(ORDERS, "reset")
    with pytest.raises(UnknownOutcome):
        client.place_order(buy("005930", 1, OrderType.MARKET))
    assert fake.count(ORDERS) == 1


@pytest.mark.parametrize("answer", [
    Answer(500, "Internal Server Error"),
    Answer(200, {"return_code": 1999, "return_msg": "[1999:예기치 못한 에러가 발생했습니다]"}),
    Answer(200, {"return_code": 0, "return_msg": "정상적으로 처리되었습니다"}),  # no ord_no
])
def test_an_order_answer_that_leaves_the_outcome_open_is_unknown(client, fake, answer):
    client.ensure_token()
    fake.fail_next(ORDERS, answer)
    with pytest.raises(UnknownOutcome):
        client.place_order(buy("005930", 1, OrderType.MARKET))
    assert fake.count(ORDERS) == 1


def test_kiwooms_throttle_answer_is_retried(client, fake, sleeps):
    throttle = Answer(200, {"return_code": 5, "return_msg": "[1700:허용된 요청 개수를 초과하였습니다. API ID=kt10000]"})
    client.ensure_token()
    fake.fail_next(ORDERS, throttle, times=2)

    ack = client.place_order(buy("005930", 1, OrderType.MARKET))

    assert ack.order_no and fake.count(ORDERS) == 3 and sleeps == [0.2, 0.4]


def test_a_throttle_that_does_not_end_is_rate_limited(client, fake):
    client.ensure_token()
    fake.fail_next(STOCKS, Answer(429, ""), times=4)
    with pytest.raises(RateLimited):
        client.quote("005930")
    assert fake.count(STOCKS) == 4


def test_the_fakes_own_rate_limit_is_absorbed_by_retries(fake, clock):
    fake.requests_per_second = 3
    import time

    real = KiwoomClient(Credentials(KEY, SECRET), base_url=fake.url, requests_per_second=100, clock=clock,
                        sleep=time.sleep)
    for _ in range(5):
        real.quote("005930")
    refused = [r for r in fake.requests if r.path == STOCKS]
    assert len(refused) > 5  # some were answered 1700 and sent again after a pause


def test_a_token_of_the_other_environment_is_a_configuration_error_after_one_reissue(client, fake):
    client.ensure_token()
    mismatch = Answer(200, {"return_code": 8031, "return_msg": "[8031:투자구분(실전/모의)이 다릅니다]"})
    fake.fail_next(STOCKS, mismatch, times=2)
    with pytest.raises(Refused) as caught:
        client.quote("005930")
    assert caught.value.code == "8031" and "other Kiwoom environment" in str(caught.value)
    assert fake.token_issuances(KEY) == 2


@pytest.mark.parametrize(("code", "words"), [
    (8010, "IP address"), (8050, "terminal authentication"), (1511, "malformed"),
])
def test_configuration_refusals_say_what_to_fix(client, fake, code, words):
    client.ensure_token()
    fake.fail_next(STOCKS, Answer(200, {"return_code": code, "return_msg": f"[{code}:거부]"}))
    with pytest.raises(Refused) as caught:
        client.quote("005930")
    assert words in str(caught.value) and not caught.value.retryable


# -- secrets -------------------------------------------------------------------------------------------
def test_no_secret_token_or_account_number_in_messages_logs_or_reprs(client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    client.verify_account()
    client.place_order(buy("005930", 1, price=60_000))
    records = client.open_orders()  # ka10075 rows carry the full account number
    errors = []
    for fault in ("timeout", Answer(500, "x"), Answer(200, {"return_code": 8002, "return_msg": f"[8002:{SECRET}]"})):
        fake.fail_next(ORDERS, fault)
        with pytest.raises(BrokerError) as caught:
            client.place_order(buy("005930", 1, OrderType.MARKET))
        errors.append(caught.value)
    token = next(iter(fake.tokens))

    shown = caplog.text + repr(client) + repr(client.credentials) + repr(records) + repr(client.tokens.get(client.token_key))
    shown += "".join(f"{e} {e.broker_message} {e!r}" for e in errors)
    for secret in (SECRET, KEY, token, ACCOUNT):
        assert secret not in shown
