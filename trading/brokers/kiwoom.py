"""Kiwoom (키움) REST client: ``BrokerClient`` over ``HttpBroker`` (broker-apis.md Part B and C).

Every call is ``POST`` with a JSON body and the headers ``api-id`` (the TR code), ``authorization:
Bearer``, ``cont-yn`` and ``next-key``; answers carry ``return_code`` (int, 0 = success) and
``return_msg``. Listings page with the response headers ``cont-yn: Y`` + ``next-key``. Field names and
formats follow Kiwoom's own spec dump (``Kiwoom-Securities/Kiwoom-REST-API``,
``kiwoom/_data/kiwoom_api_spec.json``): account amounts are zero-padded signed strings
(``"-00000000196888"``), listing codes carry a type prefix (``"A005930"``), quote prices carry the
direction versus the previous close as a sign (``"-160400"``: the price is the absolute value).

Choices (documented because Kiwoom offers more than one way):
- ``day_fills(today)`` reads ``ka10076`` (today's fills with commission and tax); any other day reads
  ``kt00007`` with ``qry_tp 4`` (fills only). Both list cumulative fills per order, not single fills.
- ``day_orders`` reads ``kt00007`` (``qry_tp 1``; ``3`` = unfilled when ``open_only``).
- ``market_days`` raises ``NotSupported``: Kiwoom has no holiday call.
- ``trde_prica`` of ``ka10081`` is in millions of KRW; ``DailyBar.value`` is it times 1,000,000.

Pure module: no Django imports. Nothing here puts the app key, secret, token or full account number
in a message, a log line or a repr.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import (
    AccessToken, Balance, Broker, BrokerError, BuyingPower, DailyBar, FillRecord, MarketDay, NotSupported,
    OrderAck, OrderRecord, OrderRequest, OrderType, PositionRecord, Quote, RateLimited, Refused, Side,
    TokenExpired, UnknownOutcome, masked_account, pages,
)
from .http import HttpBroker, Reply

KST = timezone(timedelta(hours=9))
JSON = "application/json;charset=UTF-8"
TOKEN_PATH, REVOKE_PATH = "/oauth2/token", "/oauth2/revoke"
ORDER_PATH, ACCOUNT_PATH = "/api/dostk/ordr", "/api/dostk/acnt"
STOCK_INFO_PATH, CHART_PATH = "/api/dostk/stkinfo", "/api/dostk/chart"
EXCHANGE = "KRX"  # mock supports KRX only; real orders go to KRX too
MAX_PAGES = 20  # the official examples stop at 10 pages; account listings are short
MAX_BAR_PAGES = 100
BAR_VALUE_UNIT = Decimal(1_000_000)  # ka10081 trde_prica is in millions of KRW

TRADE_TYPES = {  # trde_tp (매매구분), B4
    OrderType.LIMIT: "0", OrderType.MARKET: "3", OrderType.IOC_LIMIT: "10",
    OrderType.FOK_LIMIT: "20", OrderType.IOC_MARKET: "13", OrderType.FOK_MARKET: "23",
}
TOKEN_REFUSED = frozenset({"8005", "8031", "8103"})  # the official client reissues once on these
BAD_KEY = frozenset({"8001", "8002", "8011", "8012"})
MODE_MISMATCH = frozenset({"8030", "8031"})
IP_NOT_REGISTERED = frozenset({"8010"})
UNKNOWN_SYMBOL = frozenset({"1901", "1902"})
BAD_REQUEST = frozenset({"1501", "1504", "1505", "1511", "1512", "1513", "1514", "1515", "1516", "1517",
                         "1687", "8020"})
TOKEN_TROUBLE = frozenset({"8003", "8006", "8009", "8015", "8016"})
DEVICE_AUTH = frozenset({"8040", "8050"})
SERVER_ERROR = "1999"

MSG_BAD_KEY = "Kiwoom refused the app key or secret key; check both (and that they are not swapped)"
MSG_MODE_MISMATCH = ("the app key belongs to the other Kiwoom environment (real vs mock); "
                     "use the key issued for this environment")
MSG_IP = "Kiwoom refused this server's IP address; register it with the app key at Kiwoom"
MSG_UNKNOWN_SYMBOL = "Kiwoom does not know this symbol or market"
MSG_BAD_REQUEST = "Kiwoom rejected the request as malformed"
MSG_TOKEN_TROUBLE = "Kiwoom could not use the access token; try again shortly"
MSG_DEVICE = "Kiwoom refused the terminal authentication of this app key"
MSG_SERVER = "Kiwoom reported an unexpected server error; try again later"
MSG_ACCOUNT_MISMATCH = "the app key belongs to account {actual}, not to the account {expected} entered"
MSG_NO_CALENDAR = "Kiwoom offers no market-calendar call; use the exchange calendar instead"
MSG_NO_ORDER_NO = "Kiwoom answered without an order number"


def kiwoom_expiry(expires_dt: str) -> float:
    """``expires_dt`` (``YYYYMMDDHHMMSS``, Korean time) as epoch seconds. Raises ``ValueError``."""
    return datetime.strptime(expires_dt.strip(), "%Y%m%d%H%M%S").replace(tzinfo=KST).timestamp()


def number(value: Any) -> Decimal:
    """A Kiwoom number string as Decimal, sign kept: ``"-00000000196888"``, ``"+74100"``, ``"20%"``,
    ``"--335"`` (seen in the spec's own examples). Empty or unreadable: 0."""
    text = str(value if value is not None else "").strip().replace(",", "").rstrip("%")
    if text.startswith("--"):
        text = text[1:]
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def price_of(value: Any) -> Decimal:
    """A price: the sign only says up/down versus the previous close."""
    return abs(number(value))


def symbol_of(code: Any) -> str:
    """``"A005930"`` / ``"005930_NX"`` → ``"005930"`` (the 6-character short code)."""
    text = str(code or "").strip().split("_")[0]
    return text[1:] if len(text) == 7 and text[0] in "AJQ" else text


def side_of(order_kind: Any) -> Side:
    """``io_tp_nm`` (``"+매수"``, ``"-매도"``, ``"현금매도"``, ``"현금매수취소"`` …) → side."""
    return Side.SELL if "매도" in str(order_kind or "") else Side.BUY


def _hhmmss(text: Any) -> str:
    return str(text or "").replace(":", "").strip()[:6]


def _order_no(value: Any) -> str:
    text = str(value or "").strip()
    return "" if not text.strip("0") else text


@dataclass(frozen=True)
class AccountEvaluation:
    """``kt00004`` (계좌평가현황): the account's totals as Kiwoom computes them."""

    deposit: Decimal
    settlement_d2: Decimal
    securities_evaluation: Decimal
    asset_evaluation: Decimal
    estimated_assets: Decimal
    purchase_total: Decimal
    today_profit_loss: Decimal
    cumulative_profit_loss: Decimal


class KiwoomClient(HttpBroker):
    """One Kiwoom account (the account of the app key). See the module docstring for choices."""

    broker = Broker.KIWOOM
    token_refused_codes = TOKEN_REFUSED
    rate_limit_codes = frozenset({"1700"})
    adjusted_prices = True  # ka10081 upd_stkpc_tp "1" (mapping unconfirmed, broker-apis.md B6)
    max_bar_pages = MAX_BAR_PAGES

    # -- envelope --------------------------------------------------------------------------------
    def _reply_code(self, body: dict[str, Any]) -> str:
        """``return_code`` as text; a throttle may say ``5`` with ``[1700:…]`` in the message, so a
        bracketed code in the message wins over a non-zero ``return_code``."""
        raw = body.get("return_code")
        if raw is None or raw == "":
            return ""
        try:
            code = int(raw)
        except (TypeError, ValueError):
            return str(raw)
        bracketed = re.search(r"\[(\d{4})\s*:", str(body.get("return_msg") or ""))
        return bracketed.group(1) if code and bracketed else str(code)

    def _broker_message(self, body: dict[str, Any]) -> str:
        return self._safe(str(body.get("return_msg") or "").strip())[:200]

    def _is_success(self, reply: Reply) -> bool:
        return reply.status < 300 and bool(reply.body) and reply.code in ("0", "")

    def _auth_headers(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    def _refusal(self, reply: Reply) -> Refused:
        code, said = reply.code, self._broker_message(reply.body)
        for codes, message, retryable in (
            (BAD_KEY, MSG_BAD_KEY, False), (MODE_MISMATCH, MSG_MODE_MISMATCH, False),
            (IP_NOT_REGISTERED, MSG_IP, False), (UNKNOWN_SYMBOL, MSG_UNKNOWN_SYMBOL, False),
            (BAD_REQUEST, MSG_BAD_REQUEST, False), (TOKEN_TROUBLE, MSG_TOKEN_TROUBLE, True),
            (DEVICE_AUTH, MSG_DEVICE, False), (frozenset({SERVER_ERROR}), MSG_SERVER, True),
        ):
            if code in codes:
                return Refused(f"{message} (Kiwoom {code})", code=code, broker_message=said, retryable=retryable)
        return Refused(f"refused by Kiwoom ({code or reply.status})", code=code, broker_message=said)

    # -- token -----------------------------------------------------------------------------------
    def _issue(self) -> AccessToken:
        """``au10001``. A timeout here is a plain retryable refusal: no order was involved."""
        body = {"grant_type": "client_credentials", "appkey": self.credentials.app_key,
                "secretkey": self.credentials.app_secret}
        try:
            reply = self._send("POST", TOKEN_PATH, headers={"Content-Type": JSON, "api-id": "au10001"}, json=body)
        except UnknownOutcome as exc:
            raise Refused(f"no token from Kiwoom: {exc.message}", code=exc.code, retryable=True) from None
        if reply.code in self.rate_limit_codes or reply.status == 429:
            limited = RateLimited("Kiwoom limits token requests; try again shortly", code=reply.code or "429")
            limited.retry_after = 1.0  # type: ignore[attr-defined]
            raise limited
        if reply.status >= 500 or not reply.body:
            raise Refused(f"Kiwoom could not issue a token (HTTP {reply.status})", code=f"http_{reply.status}",
                          retryable=True)
        if not self._is_success(reply):
            raise self._refusal(reply)
        token, expires = reply.body.get("token"), str(reply.body.get("expires_dt") or "")
        try:
            expires_at = kiwoom_expiry(expires)
        except ValueError:
            expires_at = 0.0
        if not token or not expires_at:
            raise Refused("Kiwoom's token answer was incomplete", code="bad_token_answer", retryable=True)
        return AccessToken(str(token), expires_at)

    def _revoke(self, token: str) -> None:
        """``au10002``. A token Kiwoom no longer knows counts as revoked."""
        body = {"appkey": self.credentials.app_key, "secretkey": self.credentials.app_secret, "token": token}
        reply = self._send("POST", REVOKE_PATH, headers={"Content-Type": JSON, "api-id": "au10002"}, json=body)
        if not self._is_success(reply) and reply.code not in TOKEN_REFUSED | TOKEN_TROUBLE:
            raise self._refusal(reply)

    # -- sending ---------------------------------------------------------------------------------
    def _post(self, path: str, api_id: str, body: dict[str, Any], *, cursor: dict[str, str] | None = None,
              priority: bool = False) -> Reply:
        """One authorised call; a token refused again as the other environment's (8031) is a
        configuration error, not an expiry."""
        cursor = cursor or {}
        headers = {"Content-Type": JSON, "api-id": api_id, "cont-yn": cursor.get("cont-yn", "N"),
                   "next-key": cursor.get("next-key", "")}
        try:
            return self.call("POST", path, headers, priority=priority, json=body)
        except TokenExpired as exc:
            if exc.code in MODE_MISMATCH:
                raise Refused(f"{MSG_MODE_MISMATCH} (Kiwoom {exc.code})", code=exc.code,
                              broker_message=exc.broker_message) from None
            raise

    def _pages(self, path: str, api_id: str, body: dict[str, Any], rows_key: str, *,
               max_pages: int = MAX_PAGES, first: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``rows_key`` rows (``first`` receives the first page's scalar fields)."""
        def fetch(cursor: dict[str, str]) -> tuple[list, dict[str, str] | None]:
            reply = self._post(path, api_id, body, cursor=cursor)
            if first is not None and not first:
                first.update({k: v for k, v in reply.body.items() if not isinstance(v, list)})
            rows = reply.body.get(rows_key) or []
            if not isinstance(rows, list):
                raise BrokerError(f"unreadable {api_id} answer ({rows_key} is not a list)", code="bad_answer")
            more, key = reply.headers.get("cont-yn", "N") == "Y", reply.headers.get("next-key", "")
            cursor_next = {"cont-yn": "Y", "next-key": key} if more and key else None
            return [r for r in rows if isinstance(r, dict)], cursor_next

        return pages(fetch, max_pages=max_pages)

    def _listing(self, path: str, api_id: str, body: dict[str, Any], rows_key: str, *, key: str = "ord_no",
                 first: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every row of a paged listing; restarted (at most twice) when a row repeats across pages,
        i.e. the listing moved while it was read."""
        for _attempt in range(3):
            rows: list[dict[str, Any]] = []
            seen: set[str] = set()
            moved = False
            for page in self._pages(path, api_id, body, rows_key, first=first):
                ids = [str(r.get(key) or "") for r in page]
                moved = moved or any(i and i in seen for i in ids)
                seen.update(ids)
                rows.extend(page)
            if not moved:
                return rows
            if first is not None:
                first.clear()
        return list({str(r.get(key)): r for r in rows}.values())

    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock(), KST).date()

    # -- account ---------------------------------------------------------------------------------
    def account_number(self) -> str:
        """``ka00001``: the account of the app key (10 digits; keep it out of messages and logs)."""
        reply = self._post(ACCOUNT_PATH, "ka00001", {})
        return "".join(ch for ch in str(reply.body.get("acctNo") or "") if ch.isdigit())

    def verify_account(self) -> str:
        """Check that the app key acts for ``credentials.account_no`` (when one was entered; 8 digits
        compare with the first 8). Returns the masked account; raises ``Refused`` on a mismatch."""
        actual = self.account_number()
        expected = "".join(ch for ch in self.credentials.account_no if ch.isdigit())
        if expected and not (actual == expected or (len(expected) == 8 and actual[:8] == expected)):
            raise Refused(MSG_ACCOUNT_MISMATCH.format(actual=masked_account(actual), expected=masked_account(expected)),
                          code="account_mismatch")
        return masked_account(actual)

    def _positions(self, first: dict[str, Any] | None = None) -> list[PositionRecord]:
        rows = self._listing(ACCOUNT_PATH, "kt00018", {"qry_tp": "1", "dmst_stex_tp": EXCHANGE},
                             "acnt_evlt_remn_indv_tot", key="stk_cd", first=first)
        positions = [
            PositionRecord(
                symbol=symbol_of(r.get("stk_cd")), quantity=number(r.get("rmnd_qty")),
                sellable_quantity=number(r.get("trde_able_qty")), average_price=price_of(r.get("pur_pric")),
                current_price=price_of(r.get("cur_prc")), name=str(r.get("stk_nm") or "").strip(),
                evaluation=number(r.get("evlt_amt")), profit_loss=number(r.get("evltv_prft")),
                profit_loss_rate=number(r.get("prft_rt")),
            )
            for r in rows if symbol_of(r.get("stk_cd"))
        ]
        return [p for p in positions if p.quantity or p.sellable_quantity]

    def balance(self) -> Balance:
        """``kt00001`` (cash, ``qry_tp 3`` = estimated) + every page of ``kt00018`` (positions)."""
        cash = self._post(ACCOUNT_PATH, "kt00001", {"qry_tp": "3"}).body
        summary: dict[str, Any] = {}
        positions = self._positions(summary)
        return Balance(
            deposit=number(cash.get("entr")), orderable_cash=number(cash.get("ord_alow_amt")),
            settlement_d2=number(cash.get("d2_entra")), settlement_d1=number(cash.get("d1_entra")),
            total_evaluation=number(summary.get("prsm_dpst_aset_amt")),
            securities_evaluation=number(summary.get("tot_evlt_amt")),
            profit_loss=number(summary.get("tot_evlt_pl")), positions=tuple(positions),
        )

    def evaluation(self) -> AccountEvaluation:
        """``kt00004`` totals (the holder's name it also returns is dropped)."""
        body = self._post(ACCOUNT_PATH, "kt00004", {"qry_tp": "0", "dmst_stex_tp": EXCHANGE}).body
        fields = ("entr", "d2_entra", "tot_est_amt", "aset_evlt_amt", "prsm_dpst_aset_amt", "tot_pur_amt",
                  "tdy_lspft", "lspft")
        return AccountEvaluation(*(number(body.get(f)) for f in fields))

    def sellable_quantity(self, symbol: str) -> Decimal:
        """``trde_able_qty`` of ``kt00018`` (0 when not held)."""
        return next((p.sellable_quantity for p in self._positions() if p.symbol == symbol), Decimal(0))

    def buying_power(self, symbol: str, price: Decimal | None = None) -> BuyingPower:
        """``kt00011``: ``min_ord_alowq`` (cash only, no 미수) at ``price`` (the current price when None)."""
        at = price if price is not None else self.quote(symbol).price
        body = self._post(ACCOUNT_PATH, "kt00011", {"stk_cd": symbol, "uv": _whole(at, "price")}).body
        return BuyingPower(symbol=symbol, price=at, orderable_cash=number(body.get("ord_alowa")),
                           max_quantity=number(body.get("min_ord_alowq")))

    # -- quotes ----------------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote:
        """``ka10001``; signed prices become absolute."""
        b = self._post(STOCK_INFO_PATH, "ka10001", {"stk_cd": symbol}).body
        optional = {k: (price_of(b[f]) if str(b.get(f) or "").strip() else None) for k, f in (
            ("open", "open_pric"), ("high", "high_pric"), ("low", "low_pric"), ("previous_close", "base_pric"),
            ("upper_limit", "upl_pric"), ("lower_limit", "lst_pric"))}
        return Quote(symbol=symbol, price=price_of(b.get("cur_prc")), volume=int(abs(number(b.get("trde_qty")))),
                     name=str(b.get("stk_nm") or "").strip(), **optional)

    def daily_bars(self, symbol: str, start: date, end: date) -> list[DailyBar]:
        """``ka10081`` from ``end`` back in time (``cont-yn`` paging) until ``start`` is covered; oldest first."""
        body = {"stk_cd": symbol, "base_dt": end.strftime("%Y%m%d"),
                "upd_stkpc_tp": "1" if self.adjusted_prices else "0"}
        bars: dict[date, DailyBar] = {}
        for page in self._pages(CHART_PATH, "ka10081", body, "stk_dt_pole_chart_qry", max_pages=self.max_bar_pages):
            days = [self._bar(row) for row in page if str(row.get("dt") or "").strip()]
            bars.update({bar.day: bar for bar in days if start <= bar.day <= end and bar.day not in bars})
            if not days or min(bar.day for bar in days) <= start:
                break
        return [bars[day] for day in sorted(bars)]

    @staticmethod
    def _bar(row: dict[str, Any]) -> DailyBar:
        return DailyBar(
            day=datetime.strptime(str(row["dt"]).strip(), "%Y%m%d").date(), open=price_of(row.get("open_pric")),
            high=price_of(row.get("high_pric")), low=price_of(row.get("low_pric")), close=price_of(row.get("cur_prc")),
            volume=int(abs(number(row.get("trde_qty")))), value=abs(number(row.get("trde_prica"))) * BAR_VALUE_UNIT,
        )

    def market_days(self, day: date) -> list[MarketDay]:
        raise NotSupported(MSG_NO_CALENDAR, code="not_supported")

    # -- orders ----------------------------------------------------------------------------------
    def _order(self, api_id: str, body: dict[str, Any]) -> OrderAck:
        """One order call (budget priority). Kiwoom's 1999 after sending is an unknown outcome."""
        try:
            reply = self._post(ORDER_PATH, api_id, body, priority=True)
        except Refused as exc:
            if exc.code == SERVER_ERROR:
                raise UnknownOutcome(MSG_SERVER, code=exc.code, broker_message=exc.broker_message) from None
            raise
        order_no = _order_no(reply.body.get("ord_no"))
        if not order_no:
            raise UnknownOutcome(MSG_NO_ORDER_NO, code="no_order_no", broker_message=self._broker_message(reply.body))
        return OrderAck(order_no=order_no, org_no="", message=self._broker_message(reply.body))

    def place_order(self, order: OrderRequest) -> OrderAck:
        """``kt10000`` buy / ``kt10001`` sell on KRX. Checked before sending (``Refused``, not sent)."""
        quantity = _whole(order.quantity, "quantity", positive=True)
        if order.order_type.needs_price and order.price is None:
            raise Refused(f"a {order.order_type} order needs a price", code="no_price")
        unit_price = _whole(order.price, "price", positive=True) if order.order_type.needs_price else ""
        body = {"dmst_stex_tp": EXCHANGE, "stk_cd": order.symbol, "ord_qty": quantity, "ord_uv": unit_price,
                "trde_tp": TRADE_TYPES[order.order_type], "cond_uv": ""}
        return self._order("kt10000" if order.side == Side.BUY else "kt10001", body)

    def revise_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None,
                     price: Decimal, order_type: OrderType = OrderType.LIMIT) -> OrderAck:
        """``kt10002`` (quantity None or 0 = all remaining). Kiwoom revises price/quantity of a limit
        order only: other types raise ``NotSupported``."""
        if order_type != OrderType.LIMIT:
            raise NotSupported("Kiwoom revises limit orders only; cancel and place a new order", code="not_supported")
        body = {"dmst_stex_tp": EXCHANGE, "orig_ord_no": order_no, "stk_cd": symbol,
                "mdfy_qty": "0" if not quantity else _whole(quantity, "quantity", positive=True),
                "mdfy_uv": _whole(price, "price", positive=True), "mdfy_cond_uv": ""}
        return self._order("kt10002", body)

    def cancel_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None = None) -> OrderAck:
        """``kt10003`` (``cncl_qty "0"`` = all remaining)."""
        body = {"dmst_stex_tp": EXCHANGE, "orig_ord_no": order_no, "stk_cd": symbol,
                "cncl_qty": "0" if not quantity else _whole(quantity, "quantity", positive=True)}
        return self._order("kt10003", body)

    # -- order and fill listings ------------------------------------------------------------------
    def open_orders(self) -> list[OrderRecord]:
        """``ka10075`` (미체결), every page."""
        body = {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0", "stk_cd": ""}
        today = self._today()
        rows = self._listing(ACCOUNT_PATH, "ka10075", body, "oso")
        return [_open_order(r, today) for r in rows if _order_no(r.get("ord_no"))]

    def day_orders(self, day: date, *, open_only: bool = False) -> list[OrderRecord]:
        """``kt00007`` for ``day`` (order sequence; ``qry_tp 3`` unfilled when ``open_only``). An order
        a cancel row points to is marked cancelled."""
        rows = [r for r in self._kt00007(day, "3" if open_only else "1") if _order_no(r.get("ord_no"))]
        cancelled = {_order_no(r.get("ori_ord")) for r in rows if "취소" in f"{r.get('io_tp_nm')}{r.get('mdfy_cncl')}"}
        return [_day_order(r, day, cancelled) for r in rows]

    def day_fills(self, day: date) -> list[FillRecord]:
        """Today: ``ka10076``; other days: ``kt00007 qry_tp 4``. Cumulative per order."""
        if day == self._today():
            body = {"stk_cd": "", "qry_tp": "0", "sell_tp": "0", "ord_no": "", "stex_tp": "0"}
            rows = self._listing(ACCOUNT_PATH, "ka10076", body, "cntr")
            return [_fill(r, "cntr_pric", "ord_tm", costs=True) for r in rows if number(r.get("cntr_qty")) > 0]
        rows = self._kt00007(day, "4")
        return [_fill(r, "cntr_uv", "ord_tm", costs=False) for r in rows if number(r.get("cntr_qty")) > 0]

    def _kt00007(self, day: date, query: str) -> list[dict[str, Any]]:
        body = {"ord_dt": day.strftime("%Y%m%d"), "qry_tp": query, "stk_bond_tp": "1", "sell_tp": "0",
                "stk_cd": "", "fr_ord_no": "", "dmst_stex_tp": "%"}
        return self._listing(ACCOUNT_PATH, "kt00007", body, "acnt_ord_cntr_prps_dtl")


# -- row parsers --------------------------------------------------------------------------------
def _whole(value: Decimal | None, what: str, *, positive: bool = False) -> str:
    """A whole number as Kiwoom wants it (``"70000"``); ``Refused`` (nothing sent) otherwise."""
    if value is None:
        return ""
    if value != value.to_integral_value() or (positive and value <= 0):
        raise Refused(f"the {what} must be a whole positive number", code=f"bad_{what}")
    return str(int(value))


def _open_order(r: dict[str, Any], today: date) -> OrderRecord:
    quantity, remaining = number(r.get("ord_qty")), number(r.get("oso_qty"))
    filled, amount = quantity - remaining, number(r.get("cntr_tot_amt"))
    return OrderRecord(
        order_no=_order_no(r.get("ord_no")), symbol=symbol_of(r.get("stk_cd")), side=side_of(r.get("io_tp_nm")),
        quantity=quantity, price=price_of(r.get("ord_pric")), filled_quantity=filled, remaining_quantity=remaining,
        average_price=(amount / filled).quantize(Decimal("0.01")) if filled else Decimal(0), filled_amount=amount,
        original_order_no=_order_no(r.get("orig_ord_no")), order_type_code=str(r.get("trde_tp") or ""),
        ordered_at=_hhmmss(r.get("tm")), order_day=today, name=str(r.get("stk_nm") or "").strip(),
    )


def _day_order(r: dict[str, Any], day: date, cancelled: set[str]) -> OrderRecord:
    order_no, filled, average = _order_no(r.get("ord_no")), number(r.get("cntr_qty")), price_of(r.get("cntr_uv"))
    kind = f"{r.get('io_tp_nm') or ''}{r.get('mdfy_cncl') or ''}"
    return OrderRecord(
        order_no=order_no, symbol=symbol_of(r.get("stk_cd")), side=side_of(r.get("io_tp_nm")),
        quantity=number(r.get("ord_qty")), price=price_of(r.get("ord_uv")), filled_quantity=filled,
        remaining_quantity=number(r.get("ord_remnq")), average_price=average, filled_amount=filled * average,
        original_order_no=_order_no(r.get("ori_ord")), order_type_code=str(r.get("trde_tp") or ""),
        ordered_at=_hhmmss(r.get("ord_tm")), order_day=day, cancelled=order_no in cancelled or "취소" in kind,
        name=str(r.get("stk_nm") or "").strip(),
    )


def _fill(r: dict[str, Any], price_field: str, time_field: str, *, costs: bool) -> FillRecord:
    quantity = number(r.get("cntr_qty"))
    return FillRecord(
        order_no=_order_no(r.get("ord_no")), symbol=symbol_of(r.get("stk_cd")), side=side_of(r.get("io_tp_nm")),
        quantity=quantity, price=price_of(r.get(price_field)), cumulative_quantity=quantity,
        filled_at=_hhmmss(r.get(time_field)),
        commission=number(r.get("tdy_trde_cmsn")) if costs else None,
        tax=number(r.get("tdy_trde_tax")) if costs else None,
    )


__all__ = ["AccountEvaluation", "KiwoomClient", "kiwoom_expiry", "number", "price_of", "side_of", "symbol_of"]
