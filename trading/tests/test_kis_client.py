"""KisClient against the fake KIS (real local HTTP): every call, both paging protocols, each error family."""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from trading.brokers.base import (
    BrokerClient,
    Credentials,
    Environment,
    NotSupported,
    OrderRequest,
    OrderType,
    Refused,
    Side,
    TokenExpired,
    UnknownOutcome,
)
from trading.brokers.http import MemoryTokenStore
from trading.brokers.kis import KisClient
from trading.fakes.kis import FakeKis
from trading.fakes.server import Answer

REAL_KEY, MOCK_KEY = "PSrealKEY" + "r" * 27, "PSmockKEY" + "m" * 27
REAL_SECRET, MOCK_SECRET = "real-SECRET-" + "s" * 168, "mock-SECRET-" + "t" * 168
REAL_ACCOUNT, MOCK_ACCOUNT = "12345678-01", "87654321-01"
T = "/uapi/domestic-stock/v1/trading/"
Q = "/uapi/domestic-stock/v1/quotations/"
ORDER, BALANCE, CCLD = T + "order-cash", T + "inquire-balance", T + "inquire-daily-ccld"


class Sleeps:
    """The client's ``sleep``: records the pause and moves the fake's clock instead of waiting."""

    def __init__(self, fake: FakeKis) -> None:
        self.fake, self.calls = fake, []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.fake.advance(seconds)


@pytest.fixture
def fake():
    server = FakeKis(rate_limits={"real": 200, "mock": 200})
    server.add_account(REAL_KEY, REAL_SECRET, REAL_ACCOUNT, hts_id="alice", environment="real", cash=10_000_000,
                       positions={"005930": (10, 65000)})
    server.add_account(MOCK_KEY, MOCK_SECRET, MOCK_ACCOUNT, hts_id="alice", environment="mock", cash=100_000_000)
    server.set_price("005930", 70100, prev_close=70000, name="삼성전자")
    server.set_price("000660", 182000, prev_close=180000, name="SK하이닉스")
    with server:
        yield server


def client(fake: FakeKis, environment: str = "real", *, account: str | None = None, **options) -> KisClient:
    real = environment == "real"
    credentials = Credentials(REAL_KEY if real else MOCK_KEY, REAL_SECRET if real else MOCK_SECRET,
                              account or (REAL_ACCOUNT if real else MOCK_ACCOUNT), environment=Environment(environment))
    options = {"requests_per_second": 200, "timeout": httpx.Timeout(1.0), "clock": fake.now,
               "sleep": Sleeps(fake), **options}
    return KisClient(credentials, base_url=fake.url, **options)


def sent(fake: FakeKis, path: str):
    return [r for r in fake.requests if r.path == path]


def buy(symbol="005930", qty=1, price=None, order_type=OrderType.LIMIT, side=Side.BUY) -> OrderRequest:
    price = Decimal(price) if price is not None else (Decimal(69000) if order_type.needs_price else None)
    return OrderRequest(symbol, side, Decimal(qty), order_type, price)


# -- tokens --------------------------------------------------------------------------------------
def test_it_is_a_broker_client_and_shares_one_token_per_app_key(fake):
    store = MemoryTokenStore()
    first, second = client(fake, tokens=store), client(fake, tokens=store)

    first.quote("005930")
    second.quote("000660")

    assert isinstance(first, BrokerClient)
    assert fake.token_issuances(REAL_KEY) == 1
    token_request = sent(fake, "/oauth2/tokenP")[0]
    assert token_request.body == {"grant_type": "client_credentials", "appkey": REAL_KEY, "appsecret": REAL_SECRET}


def test_an_expired_token_is_reissued_once(fake):
    kis = client(fake)
    kis.quote("005930")
    fake.advance(61)
    fake.expire_tokens(REAL_KEY)  # KIS now answers EGW00123 to the token our store still holds

    assert kis.quote("005930").price == Decimal(70100)
    assert fake.token_issuances(REAL_KEY) == 2


def test_a_token_past_its_day_at_kis_is_refused_and_replaced(fake):
    kis = client(fake, clock=time.time)  # our clock says the token is fresh
    kis.quote("005930")
    fake.advance(86400 + 1)  # KIS's clock: a day later

    kis.quote("005930")

    assert fake.token_issuances(REAL_KEY) == 2
    assert [r.path for r in fake.requests].count(Q + "inquire-price") == 3  # refused once with EGW00123


def test_a_token_refused_after_a_fresh_issuance_raises_token_expired(fake):
    kis = client(fake)
    kis.ensure_token()
    fake.advance(61)
    expired = Answer(500, {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."})
    fake.fail_next(Q + "inquire-price", expired, times=2)

    with pytest.raises(TokenExpired) as caught:
        kis.quote("005930")

    assert caught.value.code == "EGW00123"
    assert fake.token_issuances(REAL_KEY) == 2


def test_token_too_often_stores_a_cooldown_and_waits_instead_of_asking_again(fake):
    client(fake).ensure_token()  # another process took the minute's token
    sleeps = Sleeps(fake)
    kis = client(fake, tokens=MemoryTokenStore(), sleep=sleeps)

    with pytest.raises(Refused) as caught:
        kis.ensure_token()

    assert (caught.value.code, caught.value.retryable, caught.value.retry_after) == ("EGW00133", True, 60)
    assert kis.tokens.cooldown_until(kis.token_key) == pytest.approx(fake.now() + 60, abs=2)
    assert fake.count("/oauth2/tokenP") == 2

    kis.ensure_token()  # waits the minute out (on the fake clock), then one request

    assert fake.count("/oauth2/tokenP") == 3
    assert sleeps.calls and sleeps.calls[0] == pytest.approx(60, abs=2)
    assert fake.token_issuances(REAL_KEY) == 2


def test_an_unknown_app_key_is_refused_for_good(fake):
    kis = KisClient(Credentials("PSunknown" + "x" * 27, REAL_SECRET, REAL_ACCOUNT), base_url=fake.url,
                    timeout=httpx.Timeout(1.0))

    with pytest.raises(Refused) as caught:
        kis.quote("005930")

    assert (caught.value.code, caught.value.retryable) == ("EGW00103", False)
    assert caught.value.message == "KIS refused the app key or secret"
    assert caught.value.broker_message == "유효하지 않은 AppKey입니다."


def test_a_secret_rotated_at_kis_is_a_definite_refusal_not_an_unknown_outcome(fake):
    kis = client(fake)
    kis.ensure_token()
    fake.book.accounts[REAL_KEY].app_secret = "rotated-" + REAL_SECRET  # KIS answers HTTP 500 EGW00105

    with pytest.raises(Refused) as caught:
        kis.place_order(buy())

    assert (caught.value.code, caught.value.message) == ("EGW00105", "KIS refused the app key or secret")
    assert not isinstance(caught.value, UnknownOutcome) and fake.orders(REAL_KEY) == []


def test_revoke_drops_the_token_at_kis(fake):
    kis = client(fake)
    kis.ensure_token()
    token = kis.tokens.get(kis.token_key).value

    kis.revoke_token()

    assert sent(fake, "/oauth2/revokeP")[0].body == {"appkey": REAL_KEY, "appsecret": REAL_SECRET, "token": token}
    assert kis.tokens.get(kis.token_key) is None


# -- orders --------------------------------------------------------------------------------------
def test_a_limit_buy_is_sent_as_kis_expects_and_rests(fake):
    ack = client(fake).place_order(buy(qty=3, price=69000))

    request = sent(fake, ORDER)[0]
    assert request.header("tr_id") == "TTTC0012U" and request.header("custtype") == "P"
    assert request.body == {"CANO": "12345678", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "00",
                            "ORD_QTY": "3", "ORD_UNPR": "69000", "EXCG_ID_DVSN_CD": "KRX", "SLL_TYPE": "",
                            "CNDT_PRIC": ""}
    assert (len(ack.order_no), ack.org_no, len(ack.accepted_at)) == (10, "06010", 6)
    assert ack.message == "주문 전송 완료 되었습니다."
    assert "hashkey" not in request.headers
    [order] = fake.orders(REAL_KEY)
    assert (order.odno, order.remaining, order.filled) == (ack.order_no, 3, 0)


def test_a_market_sell_fills_at_the_price_and_shows_in_the_fills(fake):
    kis = client(fake)
    ack = kis.place_order(buy(qty=4, order_type=OrderType.MARKET, side=Side.SELL))

    request = sent(fake, ORDER)[0]
    assert (request.header("tr_id"), request.body["ORD_DVSN"], request.body["ORD_UNPR"]) == ("TTTC0011U", "01", "0")
    assert request.body["SLL_TYPE"] == "01"
    [fill] = kis.day_fills(fake.kst().date())
    assert (fill.order_no, fill.side, fill.quantity, fill.price) == (ack.order_no, Side.SELL, 4, 70100)
    assert kis.sellable_quantity("005930") == 6


@pytest.mark.parametrize(("order_type", "code"), [(OrderType.IOC_LIMIT, "11"), (OrderType.FOK_LIMIT, "12"),
                                                  (OrderType.IOC_MARKET, "13"), (OrderType.FOK_MARKET, "14")])
def test_ioc_and_fok_are_real_only(fake, order_type, code):
    client(fake).place_order(buy(order_type=order_type, price=71000 if order_type.needs_price else None))
    assert sent(fake, ORDER)[0].body["ORD_DVSN"] == code

    with pytest.raises(NotSupported):
        client(fake, "mock").place_order(buy(order_type=order_type))
    assert len(sent(fake, ORDER)) == 1  # nothing sent for the mock account


def test_mock_accounts_use_v_tr_ids_and_their_own_answer(fake):
    kis = client(fake, "mock")
    ack = kis.place_order(buy(qty=2))
    kis.balance()

    assert sent(fake, ORDER)[0].header("tr_id") == "VTTC0012U"
    assert sent(fake, BALANCE)[0].header("tr_id") == "VTTC8434R"
    assert (ack.org_no, ack.message) == ("00950", "모의투자 매수주문이 완료 되었습니다.")


@pytest.mark.parametrize(("setup", "order", "code", "message"), [
    (lambda f: setattr(f, "market_open", False), buy(), "APBK0919", "the market is not open for orders now"),
    (lambda f: None, buy(symbol="999999"), "APBK0656", "no such symbol at KIS"),
    (lambda f: None, buy(qty=1000), "APBK0952", "the order exceeds the orderable amount"),
    (lambda f: None, buy(qty=11, side=Side.SELL), "APBK0400", "refused by KIS"),
])
def test_refusals_say_why_in_english_and_keep_the_kis_code_and_text(fake, setup, order, code, message):
    setup(fake)

    with pytest.raises(Refused) as caught:
        client(fake).place_order(order)

    assert (caught.value.code, caught.value.message, caught.value.retryable) == (code, message, False)
    assert caught.value.broker_message
    assert fake.orders(REAL_KEY) == []


def test_revise_and_cancel_name_the_original_order(fake):
    kis = client(fake)
    ack = kis.place_order(buy(qty=5, price=69000))

    revised = kis.revise_order(order_no=ack.order_no, org_no=ack.org_no, symbol="005930", quantity=None,
                               price=Decimal(69500))
    partly = kis.cancel_order(order_no=revised.order_no, org_no=revised.org_no, symbol="005930", quantity=Decimal(2))
    rest = kis.cancel_order(order_no=revised.order_no, org_no=revised.org_no, symbol="005930")

    bodies = [r.body for r in sent(fake, T + "order-rvsecncl")]
    assert [(b["RVSE_CNCL_DVSN_CD"], b["ORD_QTY"], b["ORD_UNPR"], b["QTY_ALL_ORD_YN"]) for b in bodies] == [
        ("01", "0", "69500", "Y"), ("02", "2", "0", "N"), ("02", "0", "0", "Y")]
    assert bodies[0]["ORGN_ODNO"] == ack.order_no and bodies[0]["KRX_FWDG_ORD_ORGNO"] == "06010"
    assert sent(fake, T + "order-rvsecncl")[0].header("tr_id") == "TTTC0013U"
    orders = {o.order_no: o for o in kis.day_orders(fake.kst().date())}
    assert orders[revised.order_no].original_order_no == ack.order_no
    assert orders[revised.order_no].remaining_quantity == 0
    assert orders[partly.order_no].cancelled and orders[rest.order_no].quantity == 3
    assert kis.open_orders() == []


def test_partial_fills_are_listed_with_cumulative_quantities(fake):
    kis = client(fake)
    ack = kis.place_order(buy(qty=10, price=69000))
    fake.fill(ack.order_no, 3, 69000)
    first = kis.day_fills(fake.kst().date())
    fake.fill(ack.order_no, 2, 68900)

    [again] = kis.day_fills(fake.kst().date())

    assert [(f.cumulative_quantity, f.price) for f in first] == [(3, 69000)]
    assert (again.cumulative_quantity, again.price) == (5, Decimal(69000 * 3 + 68900 * 2) / 5)
    [open_order] = kis.open_orders()
    assert (open_order.remaining_quantity, open_order.filled_quantity) == (5, 5)


def test_orders_take_the_budget_first(fake):
    class Budget:
        def __init__(self):
            self.calls = []

        def acquire(self, key, *, per_second, priority=False):
            self.calls.append(priority)

    budget = Budget()
    kis = client(fake, budget=budget)
    kis.quote("005930")
    kis.place_order(buy())

    assert budget.calls == [False, False, True]  # token, quote, order


def test_the_optional_hashkey_goes_with_the_order(fake):
    client(fake, hashkey=True).place_order(buy())

    [hash_request] = sent(fake, "/uapi/hashkey")
    assert hash_request.body["PDNO"] == "005930"
    assert sent(fake, ORDER)[0].header("hashkey")


# -- listings and paging -------------------------------------------------------------------------
@pytest.mark.parametrize(("environment", "per_page"), [("real", 50), ("mock", 20)])
def test_balance_reads_every_page(fake, environment, per_page):
    key = REAL_KEY if environment == "real" else MOCK_KEY
    for n in range(120):
        fake.book.accounts[key].positions[f"{100000 + n}"] = [Decimal(1), Decimal(1000)]

    balance = client(fake, environment).balance()

    requests = sent(fake, BALANCE)
    assert len(balance.positions) == 120 + (environment == "real")
    assert len(requests) == -(-len(balance.positions) // per_page)
    assert [r.header("tr_cont") for r in requests] == [""] + ["N"] * (len(requests) - 1)
    assert requests[1].query["CTX_AREA_NK100"].strip() == str(per_page)
    assert balance.deposit == (10_000_000 if environment == "real" else 100_000_000)


def test_balance_maps_cash_and_positions(fake):
    balance = client(fake).balance()

    [position] = balance.positions
    assert (position.symbol, position.quantity, position.sellable_quantity) == ("005930", 10, 10)
    assert (position.average_price, position.current_price, position.profit_loss) == (65000, 70100, 51000)
    assert (balance.orderable_cash, balance.securities_evaluation, balance.total_evaluation) == (
        10_000_000, 701000, 10_701_000)
    assert isinstance(balance.deposit, Decimal)


def _many_orders(fake, kis, count):
    key = REAL_KEY if kis.environment == "real" else MOCK_KEY
    for n in range(count):
        fake.add_order(key, "000660", 1, 1000 + n)


@pytest.mark.parametrize(("environment", "per_page", "count"), [("real", 100, 230), ("mock", 15, 40)])
def test_daily_orders_read_every_page(fake, environment, per_page, count):
    kis = client(fake, environment)
    _many_orders(fake, kis, count)

    orders = kis.day_orders(fake.kst().date())

    assert len(orders) == count == len({o.order_no for o in orders})
    requests = sent(fake, CCLD)
    assert len(requests) == -(-count // per_page)
    assert requests[0].header("tr_id") == ("TTTC0081R" if environment == "real" else "VTTC0081R")
    assert requests[-1].header("tr_cont") == "N" and requests[-1].query["CTX_AREA_FK100"].strip()


def test_a_listing_that_changes_between_pages_is_read_again_from_the_start(fake, caplog):
    kis = client(fake)
    _many_orders(fake, kis, 150)
    fake.change_between_pages = True

    orders = kis.day_orders(fake.kst().date())

    assert len({o.order_no for o in orders}) == len(orders) == 150
    assert [r.header("tr_cont") for r in sent(fake, CCLD)] == ["", "N", "", "N"]
    assert "changed while read" in caplog.text


def test_a_listing_that_keeps_changing_is_a_retryable_refusal(fake):
    kis = client(fake)
    _many_orders(fake, kis, 150)
    fake.change_between_pages = 10

    with pytest.raises(Refused) as caught:
        kis.day_orders(fake.kst().date())

    assert (caught.value.code, caught.value.retryable) == ("SYDB0050", True)
    assert len(sent(fake, CCLD)) == 6  # three tries of two pages each


def test_orders_older_than_three_months_use_the_old_listing(fake):
    client(fake).day_orders(fake.kst().date() - timedelta(days=120))

    assert sent(fake, CCLD)[0].header("tr_id") == "CTSC9215R"


def test_open_orders_real_ask_the_revisable_listing_mock_the_unfilled_ones(fake):
    for environment in ("real", "mock"):
        kis = client(fake, environment)
        ack = kis.place_order(buy(qty=2))
        [record] = kis.open_orders()
        assert (record.order_no, record.remaining_quantity, record.org_no) == (ack.order_no, 2, ack.org_no)

    assert [r.header("tr_id") for r in sent(fake, T + "inquire-psbl-rvsecncl")] == ["TTTC0084R"]
    assert [r.query["CCLD_DVSN"] for r in sent(fake, CCLD)] == ["02"]


def test_buying_power_asks_with_the_market_order_division(fake):
    power = client(fake).buying_power("005930", Decimal(70000))

    request = sent(fake, T + "inquire-psbl-order")[0]
    assert (request.query["ORD_DVSN"], request.query["ORD_UNPR"], request.header("tr_id")) == ("01", "70000",
                                                                                               "TTTC8908R")
    assert (power.orderable_cash, power.max_quantity, power.price) == (10_000_000, 142, 70000)


def test_sellable_quantity_real_asks_kis_mock_reads_the_balance(fake):
    fake.book.accounts[MOCK_KEY].positions["005930"] = [Decimal(7), Decimal(60000)]

    assert client(fake).sellable_quantity("005930") == 10
    assert client(fake, "mock").sellable_quantity("005930") == 7
    assert len(sent(fake, T + "inquire-psbl-sell")) == 1
    assert sent(fake, BALANCE)[0].header("tr_id") == "VTTC8434R"


# -- quotations ----------------------------------------------------------------------------------
def test_a_quote_has_the_limits_the_tick_and_the_halt_flag(fake):
    fake.set_price("005930", 70100, prev_close=70000, halted=True)

    quote = client(fake, "mock").quote("005930")

    request = sent(fake, Q + "inquire-price")[0]
    assert (request.header("tr_id"), request.query) == ("FHKST01010100",
                                                        {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"})
    assert (quote.price, quote.previous_close, quote.upper_limit, quote.lower_limit, quote.tick) == (
        70100, 70000, 91000, 49000, 100)
    assert quote.halted


def test_a_quote_for_an_unknown_code_is_refused(fake):
    with pytest.raises(Refused, match="no price for 999999"):
        client(fake).quote("999999")


def test_daily_bars_move_the_end_date_back_100_rows_at_a_time(fake):
    days = [date(2023, 1, 2) + timedelta(days=n) for n in range(400)]
    trading_days = [d for d in days if d.weekday() < 5]
    fake.set_bars("005930", [(d, 100 + i, 110 + i, 90 + i, 105 + i, 1000 + i) for i, d in enumerate(trading_days)])

    bars = client(fake).daily_bars("005930", date(2023, 1, 2), date(2024, 1, 31))

    trading_days = [d for d in trading_days if d <= date(2024, 1, 31)]
    assert [b.day for b in bars] == trading_days
    calls = sent(fake, Q + "inquire-daily-itemchartprice")
    assert len(calls) == 3
    assert calls[1].query["FID_INPUT_DATE_2"] == (trading_days[-100] - timedelta(days=1)).strftime("%Y%m%d")
    assert (bars[0].open, bars[0].close, bars[0].volume, bars[0].value) == (100, 105, 1000, 105 * 1000)
    assert isinstance(bars[0].close, Decimal)


def test_market_days_come_from_chk_holiday_on_real_accounts_only(fake):
    fake.holidays.add(date(2025, 1, 1))

    days = client(fake).market_days(date(2024, 12, 30))

    assert sent(fake, Q + "chk-holiday")[0].header("tr_id") == "CTCA0903R"
    by_day = {d.day: d for d in days}
    assert by_day[date(2024, 12, 31)].open_day and not by_day[date(2025, 1, 1)].open_day
    assert not by_day[date(2025, 1, 4)].trading_day  # a Saturday
    with pytest.raises(NotSupported, match="real accounts only"):
        client(fake, "mock").market_days(date(2024, 12, 30))
    assert len(sent(fake, Q + "chk-holiday")) == 1


# -- transport failures --------------------------------------------------------------------------
def test_a_broker_that_cannot_be_reached_is_a_retryable_refusal():
    with FakeKis() as server:
        url = server.url
    kis = KisClient(Credentials(REAL_KEY, REAL_SECRET, REAL_ACCOUNT), base_url=url, timeout=httpx.Timeout(1.0))

    with pytest.raises(Refused) as caught:
        kis.place_order(buy())

    assert caught.value.retryable and caught.value.code == "unreachable"


@pytest.mark.parametrize("fault", ["timeout", "reset", Answer(500, "Internal Server Error"),
                                   Answer(200, "<html>maintenance</html>")])
def test_an_order_whose_answer_is_lost_is_an_unknown_outcome_and_is_not_resent(fake, fault):
    kis = client(fake)
    kis.ensure_token()
    fake.fail_next(ORDER, fault)

    with pytest.raises(UnknownOutcome):
        kis.place_order(buy())

    assert len(sent(fake, ORDER)) == 1


def test_an_order_carried_out_but_unanswered_is_found_in_the_listing(fake):
    kis = client(fake)
    kis.ensure_token()
    fake.lose_answer_next(ORDER)

    with pytest.raises(UnknownOutcome):
        kis.place_order(buy(qty=2))

    [order] = kis.day_orders(fake.kst().date())
    assert (order.quantity, len(sent(fake, ORDER))) == (2, 1)


def test_a_rate_limited_order_is_sent_again_and_succeeds(fake):
    kis = client(fake)
    kis.ensure_token()
    fake.fail_next(ORDER, Answer(500, {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}))

    ack = kis.place_order(buy())

    assert len(sent(fake, ORDER)) == 2 and len(fake.orders(REAL_KEY)) == 1
    assert ack.order_no == fake.orders(REAL_KEY)[0].odno


def test_the_fake_answers_over_the_rate_as_kis_does(fake):
    fake.rate_limits["mock"] = 1
    kis = client(fake, "mock")
    kis.rate_limit_retries = 0
    kis.ensure_token()
    kis.quote("005930")

    with pytest.raises(Refused) as caught:
        kis.quote("005930")

    assert (caught.value.code, caught.value.retryable) == ("EGW00201", True)


def test_a_token_request_that_times_out_refuses_the_order_without_sending_it(fake):
    fake.fail_next("/oauth2/tokenP", "timeout")

    with pytest.raises(Refused) as caught:
        client(fake).place_order(buy())

    assert caught.value.retryable and sent(fake, ORDER) == []


def test_a_mock_key_with_a_real_account_number_is_refused_as_kis_does(fake):
    with pytest.raises(Refused) as caught:
        client(fake, "mock", account=REAL_ACCOUNT).balance()

    assert caught.value.code == "OPSQ2000"
    assert "not linked to the app key" in caught.value.message


def test_the_demo_fake_serves_a_real_and_a_mock_account():
    from trading.fakes.kis import DEMO_ACCOUNTS, build_demo

    with build_demo() as server:
        for account in DEMO_ACCOUNTS:
            credentials = Credentials(account["app_key"], account["app_secret"], account["account_no"],
                                      environment=Environment(account["environment"]))
            kis = KisClient(credentials, base_url=server.url, timeout=httpx.Timeout(1.0),
                            requests_per_second=server.rate_limits[account["environment"]])
            kis.place_order(buy(qty=1, order_type=OrderType.MARKET))
            assert kis.balance().positions[0].symbol == "005930"
            server.advance(61)
        lines = server.demo_lines()

    assert len(lines) == 2 and DEMO_ACCOUNTS[1]["app_key"] in lines[1]


# -- secrets -------------------------------------------------------------------------------------
def test_no_message_log_or_repr_shows_the_secret_the_token_or_the_account(fake, caplog):
    caplog.set_level(logging.DEBUG)
    kis = client(fake)
    kis.place_order(buy())
    kis.balance()
    kis.day_orders(fake.kst().date())
    token = kis.tokens.get(kis.token_key).value
    echo = Answer(200, {"rt_cd": "1", "msg_cd": "APBK9999",
                        "msg1": f"계좌 12345678 / {REAL_ACCOUNT} / 1234567801 키 {REAL_KEY} {REAL_SECRET}"})
    fake.fail_next(ORDER, echo)
    fake.fail_next(ORDER, "timeout")
    errors = []
    for _ in range(2):
        with pytest.raises((Refused, UnknownOutcome)) as caught:
            kis.place_order(buy())
        errors.append(caught.value)
    with pytest.raises(Refused) as bad_key:
        KisClient(Credentials(REAL_KEY, "wrong-" + REAL_SECRET, REAL_ACCOUNT), base_url=fake.url).ensure_token()
    errors.append(bad_key.value)

    shown = "\n".join([caplog.text, repr(kis), repr(kis.credentials)]
                      + [f"{e!s} {e!r} {e.broker_message}" for e in errors])
    for secret in (REAL_SECRET, token, "12345678", "1234567801", REAL_KEY):
        assert secret not in shown
    assert errors[0].code == "APBK9999" and errors[0].broker_message.startswith("계좌 *** / ")
