"""Korea Investment & Securities (KIS) Open API: one account, every call of ``BrokerClient``.

Paths, TR ids, fields and codes follow /work/shared/docs/broker-apis.md Part A, checked against the
official samples (``koreainvestment/open-trading-api`` ``examples_llm/domestic_stock/*``,
``kis_auth.py``). ``HttpBroker`` does the sending, the shared token, pacing and error sorting; this
module is the KIS envelope: headers, TR ids (mock: the first letter ``T``/``J``/``C`` becomes
``V``), ``tr_cont`` + ``CTX_AREA_*`` paging, and the mapping of answers to our records.

Money and quantities are ``Decimal``. No message, log line or repr holds the app key, the secret,
a token or the account number.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .base import (
    AccessToken,
    Balance,
    Broker,
    BuyingPower,
    DailyBar,
    Environment,
    FillRecord,
    MarketDay,
    NotSupported,
    OrderAck,
    OrderRecord,
    OrderRequest,
    OrderType,
    Quote,
    Refused,
    Side,
    UnknownOutcome,
    pages,
    redact,
)
from .http import HttpBroker, Reply
from .kis_records import (
    balance_record,
    daily_bar,
    day_of,
    market_day,
    number,
    order_record,
    quote_record,
    rows,
)

logger = logging.getLogger("trading.brokers.kis")

KST = timezone(timedelta(hours=9))

TOKEN_PATH = "/oauth2/tokenP"
REVOKE_PATH = "/oauth2/revokeP"
HASHKEY_PATH = "/uapi/hashkey"
TRADING = "/uapi/domestic-stock/v1/trading/"
QUOTATIONS = "/uapi/domestic-stock/v1/quotations/"
ORDER_PATH = TRADING + "order-cash"
REVISE_PATH = TRADING + "order-rvsecncl"
BALANCE_PATH = TRADING + "inquire-balance"
DAILY_ORDERS_PATH = TRADING + "inquire-daily-ccld"
BUYABLE_PATH = TRADING + "inquire-psbl-order"
SELLABLE_PATH = TRADING + "inquire-psbl-sell"
OPEN_ORDERS_PATH = TRADING + "inquire-psbl-rvsecncl"
PRICE_PATH = QUOTATIONS + "inquire-price"
DAILY_BARS_PATH = QUOTATIONS + "inquire-daily-itemchartprice"
HOLIDAY_PATH = QUOTATIONS + "chk-holiday"

# TR ids as the real environment names them; ``_tr`` turns them into the mock ones.
TR_BUY, TR_SELL, TR_REVISE = "TTTC0012U", "TTTC0011U", "TTTC0013U"
TR_BALANCE, TR_BUYABLE, TR_SELLABLE = "TTTC8434R", "TTTC8908R", "TTTC8408R"
TR_DAILY_ORDERS, TR_DAILY_ORDERS_OLD, TR_OPEN_ORDERS = "TTTC0081R", "CTSC9215R", "TTTC0084R"
TR_PRICE, TR_DAILY_BARS, TR_HOLIDAY = "FHKST01010100", "FHKST03010100", "CTCA0903R"

ORDER_DIVISIONS = {
    OrderType.LIMIT: "00",
    OrderType.MARKET: "01",
    OrderType.IOC_LIMIT: "11",
    OrderType.FOK_LIMIT: "12",
    OrderType.IOC_MARKET: "13",
    OrderType.FOK_MARKET: "14",
}
REAL_ONLY_ORDER_TYPES = frozenset(ORDER_DIVISIONS) - {OrderType.LIMIT, OrderType.MARKET}

TOKEN_TOO_OFTEN = "EGW00133"  # "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)", HTTP 403
TOKEN_RETRY_AFTER = 60.0
LISTING_CHANGED = "SYDB0050"  # "조회이후에 자료가 변경되었습니다.(다시 조회하세요)"
LISTING_CHANGED_TEXT = "조회이후에 자료가 변경"
MORE_PAGES = frozenset({"F", "M"})  # response header tr_cont; "D"/"E" mean the last page

REFUSAL_MESSAGES = {
    "APBK0919": "the market is not open for orders now",
    "APBK0656": "no such symbol at KIS",
    "APBK0952": "the order exceeds the orderable amount",
    "OPSQ2000": "this account number is not linked to the app key (check the number and real/mock)",
    "EGW00103": "KIS refused the app key or secret",
    "EGW00105": "KIS refused the app key or secret",
    LISTING_CHANGED: "the listing changed while it was read",
}
RETRYABLE_REFUSALS = frozenset({LISTING_CHANGED})
CREDENTIAL_CODES = frozenset({"EGW00103", "EGW00105"})  # unknown app key / app secret

ROWS_PER_CHART_CALL = 100
MAX_CHART_CALLS = 200
MAX_PAGES = 100
LISTING_RESTARTS = 2


def _whole(quantity: Decimal) -> str:
    if quantity <= 0 or quantity != quantity.to_integral_value():
        raise Refused("a KIS order quantity must be a positive whole number of shares", code="invalid_order")
    return str(int(quantity))


def _price(price: Decimal | None, order_type: OrderType) -> str:
    if not order_type.needs_price:
        return "0"
    if price is None or price <= 0 or price != price.to_integral_value():
        raise Refused("a limit order needs a positive price in whole won", code="invalid_order")
    return str(int(price))


class KisClient(HttpBroker):
    """A KIS account (real or mock: ``credentials.environment`` picks TR ids; ``base_url`` the host).

    ``hashkey`` (constructor keyword or class attribute ``use_hashkey``) adds the optional ``hashkey``
    header to orders; off by default, as in KIS's own ``kis_auth.py``. ``org_adj_prc`` is the chart's
    ``FID_ORG_ADJ_PRC`` (``0`` adjusted prices per the endpoint's docstring; see A5.9).
    """

    broker = Broker.KIS
    token_refused_codes = frozenset({"EGW00123", "EGW00121"})
    rate_limit_codes = frozenset({"EGW00201"})
    definite_refusal_codes = CREDENTIAL_CODES  # the gateway sends them with HTTP 500
    use_hashkey = False
    org_adj_prc = "0"
    listing_restarts = LISTING_RESTARTS

    def __init__(self, *args: Any, hashkey: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if hashkey is not None:
            self.use_hashkey = hashkey

    # -- envelope ---------------------------------------------------------------------------
    @property
    def mock(self) -> bool:
        return self.environment == Environment.MOCK

    def _tr(self, tr_id: str) -> str:
        return "V" + tr_id[1:] if self.mock and tr_id[0] in "TJC" else tr_id

    def _reply_code(self, body: dict[str, Any]) -> str:
        return str(body.get("msg_cd") or body.get("error_code") or "").strip()

    def _broker_message(self, body: dict[str, Any]) -> str:
        text = str(body.get("msg1") or body.get("error_description") or body.get("message") or "").strip()
        return redact(self._safe(text), self._cano)

    def _is_success(self, reply: Reply) -> bool:
        return reply.status == 200 and str(reply.body.get("rt_cd", "")).strip() == "0"

    def _refusal(self, reply: Reply) -> Refused:
        if not reply.code and "rt_cd" not in reply.body:
            # not a KIS answer at all: whatever it was, it may have been carried out
            raise UnknownOutcome(f"the broker's answer was unreadable (HTTP {reply.status})",
                                 code=f"http_{reply.status}")
        return Refused(REFUSAL_MESSAGES.get(reply.code, "refused by KIS"), code=reply.code,
                       broker_message=self._broker_message(reply.body), retryable=reply.code in RETRYABLE_REFUSALS)

    def _auth_headers(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}", "appkey": self.credentials.app_key,
                "appsecret": self.credentials.app_secret}

    @staticmethod
    def _headers(tr_id: str, tr_cont: str = "") -> dict[str, str]:
        return {"content-type": "application/json; charset=utf-8", "tr_id": tr_id, "custtype": "P", "tr_cont": tr_cont}

    # -- account -----------------------------------------------------------------------------
    @property
    def _digits(self) -> str:
        return "".join(ch for ch in self.credentials.account_no if ch.isdigit())

    @property
    def _cano(self) -> str:
        return self._digits[:8]

    def _account(self) -> dict[str, str]:
        """``CANO`` and ``ACNT_PRDT_CD`` (8 + 2 digits; 8 digits alone mean product ``01``)."""
        digits = self._digits
        if len(digits) == 8:
            digits += "01"
        if len(digits) != 10:
            raise Refused("a KIS account number has 10 digits (8 + 2)", code="invalid_account")
        return {"CANO": digits[:8], "ACNT_PRDT_CD": digits[8:]}

    def _real_only(self, what: str) -> None:
        if self.mock:
            raise NotSupported(f"KIS offers {what} on real accounts only, not on mock accounts",
                               code="mock_unsupported")

    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock(), KST).date()

    # -- token -------------------------------------------------------------------------------
    def _token_request(self, path: str, body: dict[str, str]) -> Reply:
        try:
            return self._send("POST", path, headers={"content-type": "application/json; charset=utf-8"}, json=body)
        except UnknownOutcome as exc:  # a token request changes nothing at the broker: safe to ask again
            raise Refused(f"KIS did not answer the token request ({exc.code})", code=exc.code, retryable=True) from None

    def _issue(self) -> AccessToken:
        reply = self._token_request(TOKEN_PATH, {"grant_type": "client_credentials", "appkey": self.credentials.app_key,
                                                  "appsecret": self.credentials.app_secret})
        token = reply.body.get("access_token")
        if reply.status == 200 and token:
            return AccessToken(str(token), self._expiry(reply.body))
        code, message = reply.code or f"http_{reply.status}", self._broker_message(reply.body)
        if reply.code == TOKEN_TOO_OFTEN:
            error = Refused("KIS allows one token a minute per app key; asking again after a minute",
                            code=code, broker_message=message, retryable=True)
            error.retry_after = TOKEN_RETRY_AFTER  # type: ignore[attr-defined]
            raise error
        if reply.status >= 500 and reply.code not in CREDENTIAL_CODES:
            raise Refused("KIS could not issue a token now", code=code, broker_message=message, retryable=True)
        raise Refused("KIS refused the app key or secret", code=code, broker_message=message)

    def _expiry(self, body: dict[str, Any]) -> float:
        """``expires_in`` seconds from now (our clock); the KST ``access_token_token_expired`` only
        when that is missing (it assumes our clock agrees with KIS's)."""
        try:
            return self.clock() + float(body["expires_in"])
        except (KeyError, TypeError, ValueError):
            pass
        try:
            expired = datetime.strptime(str(body["access_token_token_expired"]), "%Y-%m-%d %H:%M:%S")
            return expired.replace(tzinfo=KST).timestamp()
        except (KeyError, ValueError):
            return self.clock() + 86400.0

    def _revoke(self, token: str) -> None:
        reply = self._token_request(REVOKE_PATH, {"appkey": self.credentials.app_key,
                                                   "appsecret": self.credentials.app_secret, "token": token})
        if reply.status != 200:
            raise Refused("KIS did not revoke the token", code=reply.code or f"http_{reply.status}",
                          broker_message=self._broker_message(reply.body))

    def _hashkey(self, body: dict[str, str]) -> str:
        headers = {"content-type": "application/json; charset=utf-8", "appkey": self.credentials.app_key,
                   "appsecret": self.credentials.app_secret}
        try:
            reply = self._send("POST", HASHKEY_PATH, headers=headers, json=body)
        except UnknownOutcome as exc:  # the order itself was not sent yet
            raise Refused(f"KIS did not answer the hashkey request ({exc.code})", code=exc.code,
                          retryable=True) from None
        if reply.status != 200 or not reply.body.get("HASH"):
            raise Refused("KIS gave no hashkey for the order", code=reply.code or f"http_{reply.status}",
                          retryable=True)
        return str(reply.body["HASH"])

    # -- sending -----------------------------------------------------------------------------
    def _get(self, path: str, tr_id: str, params: dict[str, str], *, tr_cont: str = "") -> Reply:
        return self.call("GET", path, self._headers(self._tr(tr_id), tr_cont), params=params)

    def _post_order(self, path: str, tr_id: str, body: dict[str, str]) -> OrderAck:
        """Send an order-type POST (budget priority); its answer as an ``OrderAck``."""
        headers = self._headers(self._tr(tr_id))
        if self.use_hashkey:
            headers["hashkey"] = self._hashkey(body)
        reply = self.call("POST", path, headers, priority=True, json=body)
        output = reply.body.get("output") if isinstance(reply.body.get("output"), dict) else {}
        order_no = str(output.get("ODNO") or "").strip()
        if not order_no:
            raise UnknownOutcome("KIS accepted the order but sent no order number", code="no_order_number",
                                 broker_message=self._broker_message(reply.body))
        return OrderAck(order_no=order_no, org_no=str(output.get("KRX_FWDG_ORD_ORGNO") or "").strip(),
                        accepted_at=str(output.get("ORD_TMD") or "").strip(), message=self._broker_message(reply.body))

    def _listing(self, path: str, tr_id: str, params: dict[str, str], rows_key: str,
                 ctx: tuple[str, str] = ("CTX_AREA_FK100", "CTX_AREA_NK100")) -> tuple[list[dict[str, Any]], dict]:
        """Every row of a paged inquiry and the last page's body. KIS saying the listing changed
        between pages (SYDB0050) restarts it from the first page, ``listing_restarts`` times."""
        for attempt in range(self.listing_restarts + 1):
            try:
                return self._read_pages(path, tr_id, params, rows_key, ctx)
            except Refused as exc:
                if exc.code != LISTING_CHANGED and LISTING_CHANGED_TEXT not in exc.broker_message:
                    raise
                logger.info("KIS listing %s changed while read; restart %d", path.rsplit("/", 1)[-1], attempt + 1)
        raise Refused("the listing kept changing while it was read; try again shortly", code=LISTING_CHANGED,
                      retryable=True)

    def _read_pages(self, path: str, tr_id: str, params: dict[str, str], rows_key: str,
                    ctx: tuple[str, str]) -> tuple[list[dict[str, Any]], dict]:
        last: dict[str, Any] = {}

        def fetch(cursor: dict[str, str]) -> tuple[list, dict[str, str] | None]:
            nonlocal last
            query = {**params, ctx[0]: cursor.get("fk", ""), ctx[1]: cursor.get("nk", "")}
            reply = self._get(path, tr_id, query, tr_cont=cursor.get("tr_cont", ""))
            last = reply.body
            more = reply.headers.get("tr_cont", "").strip() in MORE_PAGES
            following = {"tr_cont": "N", "fk": str(last.get(ctx[0].lower(), "")),
                         "nk": str(last.get(ctx[1].lower(), ""))}
            return rows(last.get(rows_key)), following if more else None

        return [row for page in pages(fetch, max_pages=MAX_PAGES) for row in page], last

    # -- quotes ------------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote:
        reply = self._get(PRICE_PATH, TR_PRICE, {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbol})
        quote = quote_record(symbol, (rows(reply.body.get("output")) or [{}])[0])
        if quote.price <= 0:  # KIS answers zeros for a code it does not know
            raise Refused(f"KIS has no price for {symbol}", code="no_price",
                          broker_message=self._broker_message(reply.body))
        return quote

    def daily_bars(self, symbol: str, start: date, end: date) -> list[DailyBar]:
        """Daily bars, oldest first. KIS answers at most 100 rows a call: each next call ends the
        day before the oldest row received, until ``start`` or no older rows."""
        found: dict[date, dict[str, Any]] = {}
        call_end = end
        for _ in range(MAX_CHART_CALLS):
            reply = self._get(DAILY_BARS_PATH, TR_DAILY_BARS, {
                "FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbol,
                "FID_INPUT_DATE_1": start.strftime("%Y%m%d"), "FID_INPUT_DATE_2": call_end.strftime("%Y%m%d"),
                "FID_PERIOD_DIV_CODE": "D", "FID_ORG_ADJ_PRC": self.org_adj_prc,
            })
            received = rows(reply.body.get("output2"))
            new = {day: row for row in received
                   if (day := day_of(row.get("stck_bsop_date"))) and start <= day <= end and day not in found}
            found.update(new)
            if not new or len(received) < ROWS_PER_CHART_CALL or min(new) <= start:
                break
            call_end = min(new) - timedelta(days=1)
        return [daily_bar(day, row) for day, row in sorted(found.items())]

    # -- orders ------------------------------------------------------------------------------
    def _division(self, order_type: OrderType) -> str:
        if self.mock and order_type in REAL_ONLY_ORDER_TYPES:
            raise NotSupported(f"KIS mock accounts do not take {order_type.value} orders", code="mock_unsupported")
        return ORDER_DIVISIONS[order_type]

    def place_order(self, order: OrderRequest) -> OrderAck:
        body = {**self._account(), "PDNO": order.symbol, "ORD_DVSN": self._division(order.order_type),
                "ORD_QTY": _whole(order.quantity), "ORD_UNPR": _price(order.price, order.order_type),
                "EXCG_ID_DVSN_CD": "KRX", "SLL_TYPE": "01" if order.side == Side.SELL else "", "CNDT_PRIC": ""}
        ack = self._post_order(ORDER_PATH, TR_SELL if order.side == Side.SELL else TR_BUY, body)
        logger.info("KIS %s order %s %s accepted as %s", order.side, order.symbol, order.quantity, ack.order_no)
        return ack

    def _revise_or_cancel(self, action: str, *, order_no: str, org_no: str, quantity: Decimal | None,
                          price: str, division: str) -> OrderAck:
        body = {**self._account(), "KRX_FWDG_ORD_ORGNO": org_no, "ORGN_ODNO": order_no, "ORD_DVSN": division,
                "RVSE_CNCL_DVSN_CD": action, "ORD_QTY": "0" if quantity is None else _whole(quantity),
                "ORD_UNPR": price, "QTY_ALL_ORD_YN": "Y" if quantity is None else "N", "EXCG_ID_DVSN_CD": "KRX"}
        return self._post_order(REVISE_PATH, TR_REVISE, body)

    def revise_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None,
                     price: Decimal, order_type: OrderType = OrderType.LIMIT) -> OrderAck:
        """Revise (``RVSE_CNCL_DVSN_CD 01``); the answer carries the new order number KIS assigns."""
        return self._revise_or_cancel("01", order_no=order_no, org_no=org_no, quantity=quantity,
                                      price=_price(price, order_type), division=self._division(order_type))

    def cancel_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None = None) -> OrderAck:
        """Cancel (``RVSE_CNCL_DVSN_CD 02``); ``None`` cancels everything remaining (``QTY_ALL_ORD_YN Y``)."""
        return self._revise_or_cancel("02", order_no=order_no, org_no=org_no, quantity=quantity, price="0",
                                      division="00")

    # -- the day's orders and fills ----------------------------------------------------------
    def day_orders(self, day: date, *, open_only: bool = False) -> list[OrderRecord]:
        """``inquire-daily-ccld`` for one day (the >3-months TR for older days), every page."""
        tr_id = TR_DAILY_ORDERS_OLD if (self._today() - day).days > 90 else TR_DAILY_ORDERS
        params = {**self._account(), "INQR_STRT_DT": day.strftime("%Y%m%d"), "INQR_END_DT": day.strftime("%Y%m%d"),
                  "SLL_BUY_DVSN_CD": "00", "INQR_DVSN": "00", "PDNO": "", "CCLD_DVSN": "02" if open_only else "00",
                  "ORD_GNO_BRNO": "", "ODNO": "", "INQR_DVSN_3": "00", "INQR_DVSN_1": "", "EXCG_ID_DVSN_CD": "KRX"}
        found, _ = self._listing(DAILY_ORDERS_PATH, tr_id, params, "output1")
        records = {record.order_no: record for record in map(order_record, found)}
        return sorted(records.values(), key=lambda r: (r.ordered_at, r.order_no))

    def day_fills(self, day: date) -> list[FillRecord]:
        """One record per order with fills: KIS lists cumulative quantities and average prices per
        order, no single fills (``quantity`` = ``cumulative_quantity``)."""
        return [FillRecord(order_no=o.order_no, symbol=o.symbol, side=o.side, quantity=o.filled_quantity,
                           price=o.average_price, cumulative_quantity=o.filled_quantity)
                for o in self.day_orders(day) if o.filled_quantity > 0]

    def open_orders(self) -> list[OrderRecord]:
        """Real: ``inquire-psbl-rvsecncl`` (remaining = ``psbl_qty``). Mock has no such TR: today's
        unfilled orders from ``inquire-daily-ccld`` (``CCLD_DVSN 02``)."""
        if self.mock:
            return [o for o in self.day_orders(self._today(), open_only=True)
                    if o.remaining_quantity > 0 and not o.cancelled]
        params = {**self._account(), "INQR_DVSN_1": "0", "INQR_DVSN_2": "0"}
        found, _ = self._listing(OPEN_ORDERS_PATH, TR_OPEN_ORDERS, params, "output")
        today = self._today()
        return [replace(record, order_day=today) for record in map(order_record, found)]

    # -- cash and holdings -------------------------------------------------------------------
    def balance(self) -> Balance:
        """Cash and every position with shares, all pages (see ``kis_records.balance_record``)."""
        params = {**self._account(), "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "02", "UNPR_DVSN": "01",
                  "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "PRCS_DVSN": "00"}
        holdings, last = self._listing(BALANCE_PATH, TR_BALANCE, params, "output1")
        return balance_record(holdings, (rows(last.get("output2")) or [{}])[0])

    def buying_power(self, symbol: str, price: Decimal | None = None) -> BuyingPower:
        """``inquire-psbl-order`` with ``ORD_DVSN 01`` (the only way the stock's margin rate is
        applied, per KIS); ``max_quantity`` is ``nrcvb_buy_qty`` (cash only, no 미수)."""
        if price is None:
            price = self.quote(symbol).price
        params = {**self._account(), "PDNO": symbol, "ORD_UNPR": str(int(price)), "ORD_DVSN": "01",
                  "CMA_EVLU_AMT_ICLD_YN": "N", "OVRS_ICLD_YN": "N"}
        out = (rows(self._get(BUYABLE_PATH, TR_BUYABLE, params).body.get("output")) or [{}])[0]
        return BuyingPower(symbol=symbol, price=number(out.get("psbl_qty_calc_unpr")) or price,
                           orderable_cash=number(out.get("ord_psbl_cash")),
                           max_quantity=number(out.get("nrcvb_buy_qty")))

    def sellable_quantity(self, symbol: str) -> Decimal:
        """Real: ``inquire-psbl-sell``. Mock (no such TR): ``ord_psbl_qty`` of the balance row."""
        if self.mock:
            return next((p.sellable_quantity for p in self.balance().positions if p.symbol == symbol), Decimal(0))
        reply = self._get(SELLABLE_PATH, TR_SELLABLE, {**self._account(), "PDNO": symbol})
        row = next((r for r in rows(reply.body.get("output")) if str(r.get("pdno", symbol)).strip() == symbol), {})
        return number(row.get("ord_psbl_qty"))

    def market_days(self, day: date) -> list[MarketDay]:
        """``chk-holiday`` from ``day`` on (one page: KIS asks for about one call a day; cache it)."""
        self._real_only("the holiday calendar (chk-holiday)")
        reply = self._get(HOLIDAY_PATH, TR_HOLIDAY, {"BASS_DT": day.strftime("%Y%m%d"), "CTX_AREA_FK": "",
                                                      "CTX_AREA_NK": ""})
        return [market_day(listed, row) for row in rows(reply.body.get("output"))
                if (listed := day_of(row.get("bass_dt")))]


__all__ = ["KisClient"]
