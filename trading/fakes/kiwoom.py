"""A fake Kiwoom REST server: Kiwoom's paths, headers, JSON shapes, paging and error codes.

Shapes follow Kiwoom's own spec dump (``Kiwoom-Securities/Kiwoom-REST-API``,
``kiwoom/_data/kiwoom_api_spec.json``) and client (``kiwoom/core/{client,auth,errors}.py``): every call
is ``POST`` with ``api-id``/``authorization``/``cont-yn``/``next-key`` headers, answers carry
``return_code`` (int) and ``return_msg`` ("[code:text]" for errors), listings page with the
``cont-yn``/``next-key`` response headers, account amounts are zero-padded signed strings and account
listings prefix codes with ``A``. Tokens: ``expires_dt`` is Korean time; expiry follows ``clock`` (the
trading clock by default, so ``CLOCK_FILE`` moves it) and answers ``8005``. A key of the other
environment gets ``8030``. Per app key at most ``requests_per_second`` (5) calls in any second, else
``return_code 5`` with ``[1700:…]`` at HTTP 200 (as third-party clients report).

Unconfirmed shapes (no public sample): order rejections (not enough cash/shares, nothing to revise)
are answered ``return_code 20`` with a Korean message; unknown symbols ``1902``.

Kiwoom sends the app key only when a token is issued, so each request is counted under the key its
token belongs to: ``dispatch`` writes it into the ``x-fake-app-key`` header that ``max_per_window``
reads. Tests: ``add_account``, ``set_price``/``set_bars``, ``fill``, ``token_issuances``,
``expire_tokens``; ``build_demo`` serves a ready account for local runs.
"""

from __future__ import annotations

import csv
import itertools
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from .server import Answer, FakeServer, Request

KST = timezone(timedelta(hours=9))
OK = "정상적으로 처리되었습니다"
TRADE_TYPES = {"0": "보통", "3": "시장가", "10": "보통(IOC)", "13": "시장가(IOC)", "20": "보통(FOK)", "23": "시장가(FOK)"}
MARKET_TYPES = {"3", "13", "23"}
IMMEDIATE = {"10", "13", "20", "23"}  # IOC / FOK: whatever does not fill now is cancelled
ROUTES = {
    "/api/dostk/ordr": {"kt10000", "kt10001", "kt10002", "kt10003"},
    "/api/dostk/acnt": {"ka00001", "kt00001", "kt00004", "kt00007", "kt00011", "kt00018", "ka10075", "ka10076"},
    "/api/dostk/stkinfo": {"ka10001"},
    "/api/dostk/chart": {"ka10081"},
}
PAGE_SIZES = {"kt00018": 20, "kt00007": 20, "ka10075": 20, "ka10076": 20, "ka10081": 100}
SAMPLE_BARS = Path(__file__).resolve().parents[2] / "marketdata" / "sample_data" / "bars"


def refusal(code: int, text: str, status: int = 200) -> Answer:
    return Answer(status, {"return_code": code, "return_msg": f"[{code}:{text}]"})


def padded(value: float | int, width: int) -> str:
    """Kiwoom's ``"000000000124500"`` / ``"-00000000196888"`` (sign inside the width)."""
    number = int(round(value))
    return ("-" if number < 0 else "") + str(abs(number)).zfill(width - (1 if number < 0 else 0))


def signed(value: float | int, base: float | int) -> str:
    """A quote price with its direction versus ``base`` as sign (``"+74100"``, ``"-69000"``, ``"70000"``)."""
    return ("+" if value > base else "-" if value < base else "") + str(int(value))


@dataclass
class Stock:
    name: str
    price: int
    base: int  # previous close
    volume: int = 0
    bars: list[tuple[date, int, int, int, int, int]] = field(default_factory=list)  # oldest first


@dataclass
class Order:
    ord_no: str
    symbol: str
    side: str  # "buy" / "sell"
    quantity: int
    price: int  # 0 for market orders
    trade_type: str
    day: date
    at: str  # HHMMSS
    kind: str = ""  # "", "정정", "취소"
    orig: str = "0000000"
    filled: int = 0
    amount: int = 0
    closed: int = 0  # cancelled / replaced quantity

    @property
    def remaining(self) -> int:
        return 0 if self.kind == "취소" else self.quantity - self.filled - self.closed

    def io_name(self, style: str) -> str:
        word = "매도" if self.side == "sell" else "매수"
        return (f"{'-' if self.side == 'sell' else '+'}{word}" if style == "short" else f"현금{word}") + self.kind


@dataclass
class Account:
    app_key: str
    app_secret: str
    account_no: str
    environment: str
    cash: int
    positions: dict[str, list[int]]  # symbol: [quantity, average price]
    orders: list[Order] = field(default_factory=list)


class FakeKiwoom(FakeServer):
    """One Kiwoom host (``environment`` real or mock). See the module docstring."""

    app_key_header = "x-fake-app-key"

    def __init__(self, port: int = 0, *, environment: str = "real", clock: Callable[[], float] | None = None,
                 requests_per_second: int = 5, token_lifetime: float = 86400.0) -> None:
        super().__init__(port)
        if clock is None:
            from core.clock import timestamp as clock
        self.environment, self.clock = environment, clock
        self.requests_per_second, self.token_lifetime = requests_per_second, token_lifetime
        self.page_sizes = dict(PAGE_SIZES)
        self.accounts: dict[str, Account] = {}
        self.stocks: dict[str, Stock] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token: (app key, expires at)
        self.issued: Counter[str] = Counter()
        self.token_refusals = 0
        self._windows: dict[str, deque[float]] = {}
        self._numbers = itertools.count(1)
        for path in ROUTES:
            self.route("POST", path, self._api)
        self.route("POST", "/oauth2/token", self._token)
        self.route("POST", "/oauth2/revoke", self._revoke)

    # -- set-up and inspection --------------------------------------------------------------------
    def add_account(self, app_key: str, app_secret: str, account_no: str, *, environment: str = "real",
                    cash: int = 10_000_000, positions: dict[str, tuple[int, int]] | None = None) -> Account:
        with self.lock:
            account = Account(app_key, app_secret, account_no, environment, int(cash),
                              {s: [int(q), int(p)] for s, (q, p) in (positions or {}).items()})
            self.accounts[app_key] = account
            return account

    def set_price(self, symbol: str, price: int, *, name: str = "", previous_close: int | None = None,
                  volume: int = 0) -> None:
        with self.lock:
            stock = self.stocks.setdefault(symbol, Stock(name or symbol, int(price), int(price)))
            stock.price, stock.volume = int(price), int(volume)
            stock.base = int(previous_close if previous_close is not None else stock.base)
            stock.name = name or stock.name

    def set_bars(self, symbol: str, bars: list[tuple[date, int, int, int, int, int]]) -> None:
        """Daily ``(day, open, high, low, close, volume)`` rows; the last close becomes the price."""
        ordered = sorted(bars)
        with self.lock:
            previous = ordered[-2][4] if len(ordered) > 1 else ordered[-1][4]
            self.set_price(symbol, ordered[-1][4], previous_close=previous, volume=ordered[-1][5])
            self.stocks[symbol].bars = ordered

    def token_issuances(self, app_key: str) -> int:
        return self.issued[app_key]

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def fill(self, ord_no: str, quantity: int, price: int | None = None) -> None:
        """Fill ``quantity`` of a resting order at ``price`` (the order's price when None)."""
        with self.lock:
            account, order = self._find(ord_no)
            if order is None or order.remaining < quantity:
                raise ValueError(f"order {ord_no} has less than {quantity} open")
            self._execute(account, order, quantity, int(price or order.price))

    # -- dispatch: the app key behind each request, the per-key window ------------------------------
    def dispatch(self, request: Request) -> Answer | str:
        with self.lock:
            token = request.header("authorization").removeprefix("Bearer ").strip()
            key = request.body.get("appkey") or self.tokens.get(token, ("", 0.0))[0]
            request.headers[self.app_key_header] = str(key)
        return super().dispatch(request)

    def _over_limit(self, key: str) -> bool:
        now = time.monotonic()
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.requests_per_second:
            return True
        window.append(now)
        return False

    def _limited(self, request: Request) -> Answer | None:
        if self._over_limit(request.header(self.app_key_header)):
            api_id = request.header("api-id")
            return Answer(200, {"return_code": 5, "return_msg": f"[1700:허용된 요청 개수를 초과하였습니다. API ID={api_id}]"})
        return None

    # -- tokens -------------------------------------------------------------------------------------
    def _token(self, request: Request) -> Answer:
        limited = self._limited(request)
        if limited:
            return limited
        body = request.body
        account = self.accounts.get(str(body.get("appkey") or ""))
        if body.get("grant_type") != "client_credentials" or account is None:
            return refusal(8001, "App Key와 Secret Key 검증에 실패했습니다")
        if body.get("secretkey") != account.app_secret:
            return refusal(8002, "App Key와 Secret Key 검증에 실패했습니다")
        if account.environment != self.environment:
            return refusal(8030, "투자구분(실전/모의)이 달라서 인증에 실패했습니다")
        token = uuid.uuid4().hex + uuid.uuid4().hex
        expires = self.clock() + self.token_lifetime
        self.tokens[token] = (account.app_key, expires)
        self.issued[account.app_key] += 1
        expires_dt = datetime.fromtimestamp(expires, KST).strftime("%Y%m%d%H%M%S")
        return Answer(200, {"expires_dt": expires_dt, "token_type": "bearer", "token": token,
                            "return_code": 0, "return_msg": OK})

    def _revoke(self, request: Request) -> Answer:
        body = request.body
        account = self.accounts.get(str(body.get("appkey") or ""))
        if account is None or body.get("secretkey") != account.app_secret:
            return refusal(8002, "App Key와 Secret Key 검증에 실패했습니다")
        if self.tokens.get(str(body.get("token") or ""), ("",))[0] != account.app_key:
            return refusal(8005, "Token이 유효하지 않습니다")
        del self.tokens[str(body["token"])]
        return Answer(200, {"return_code": 0, "return_msg": OK})

    def _account_of(self, request: Request) -> Account | None:
        token = request.header("authorization").removeprefix("Bearer ").strip()
        key, expires = self.tokens.get(token, ("", 0.0))
        return self.accounts.get(key) if key and self.clock() < expires else None

    # -- the API ------------------------------------------------------------------------------------
    def _api(self, request: Request) -> Answer:
        limited = self._limited(request)
        if limited:
            return limited
        api_id = request.header("api-id")
        if api_id not in ROUTES[request.path]:
            return refusal(1504, "해당 URI에서는 지원하는 API ID가 아닙니다")
        account = self._account_of(request)
        if account is None:
            self.token_refusals += 1
            return refusal(8005, "Token이 유효하지 않습니다")
        answer = getattr(self, f"_{api_id}")(account, request.body)
        if isinstance(answer, Answer):
            return answer
        body, rows_key = answer if isinstance(answer, tuple) else (answer, "")
        return self._page(request, api_id, body, rows_key)

    def _page(self, request: Request, api_id: str, body: dict[str, Any], rows_key: str) -> Answer:
        """Cut ``body[rows_key]`` at ``next-key`` (an offset) into one page; headers say if more."""
        headers = {"api-id": api_id, "cont-yn": "N", "next-key": ""}
        if rows_key:
            offset = 0
            if request.header("cont-yn") == "Y":
                key = request.header("next-key")
                if not key.isdigit():
                    return refusal(1511, "연속조회키가 올바르지 않습니다")
                offset = int(key)
            size, rows = self.page_sizes.get(api_id, 100), body[rows_key]
            body = {**body, rows_key: rows[offset:offset + size]}
            if offset + size < len(rows):
                headers.update({"cont-yn": "Y", "next-key": str(offset + size)})
        return Answer(200, {**body, "return_code": 0, "return_msg": OK}, headers)

    # -- orders ---------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), KST)

    def _find(self, ord_no: str) -> tuple[Account | None, Order | None]:
        for account in self.accounts.values():
            for order in account.orders:
                if order.ord_no == ord_no:
                    return account, order
        return None, None

    def _new_order(self, account: Account, **fields: Any) -> Order:
        now = self._now()
        order = Order(ord_no=f"{next(self._numbers):07d}", day=now.date(), at=now.strftime("%H%M%S"), **fields)
        account.orders.append(order)
        return order

    def _orderable(self, account: Account) -> int:
        reserved = sum(o.remaining * o.price for o in account.orders if o.side == "buy" and o.remaining)
        return account.cash - reserved

    def _sellable(self, account: Account, symbol: str) -> int:
        held = account.positions.get(symbol, [0, 0])[0]
        return held - sum(o.remaining for o in account.orders if o.side == "sell" and o.symbol == symbol)

    def _execute(self, account: Account, order: Order, quantity: int, price: int) -> None:
        order.filled += quantity
        order.amount += quantity * price
        held = account.positions.setdefault(order.symbol, [0, 0])
        if order.side == "buy":
            held[1] = (held[0] * held[1] + quantity * price) // (held[0] + quantity)
            held[0] += quantity
            account.cash -= quantity * price
        else:
            held[0] -= quantity
            account.cash += quantity * price
        if not held[0]:
            del account.positions[order.symbol]

    def _order_checks(self, account: Account, body: dict[str, Any]) -> Answer | None:
        if body.get("dmst_stex_tp") not in ("KRX", "NXT", "SOR"):
            return refusal(1511, "필수 입력 값에 값이 존재하지 않습니다(dmst_stex_tp)")
        if self.environment == "mock" and body.get("dmst_stex_tp") != "KRX":
            return Answer(200, {"return_code": 20, "return_msg": "모의투자에서는 KRX만 주문 가능합니다"})
        if str(body.get("stk_cd") or "") not in self.stocks:
            return refusal(1902, "종목 정보가 없습니다")
        return None

    def _place(self, account: Account, body: dict[str, Any], side: str) -> Answer:
        refused = self._order_checks(account, body)
        if refused:
            return refused
        kind, qty, unit = str(body.get("trde_tp") or ""), str(body.get("ord_qty") or ""), str(body.get("ord_uv") or "")
        priced = kind in MARKET_TYPES or unit.isdigit()
        if kind not in TRADE_TYPES or not qty.isdigit() or int(qty) <= 0 or not priced:
            return refusal(1511, "필수 입력 값에 값이 존재하지 않습니다")
        stock, quantity = self.stocks[body["stk_cd"]], int(qty)
        limit = 0 if kind in MARKET_TYPES else int(unit)
        if side == "buy" and quantity * (limit or stock.price) > self._orderable(account):
            return Answer(200, {"return_code": 20, "return_msg": "주문가능금액을 초과합니다"})
        if side == "sell" and quantity > self._sellable(account, body["stk_cd"]):
            return Answer(200, {"return_code": 20, "return_msg": "매도가능수량을 초과합니다"})
        order = self._new_order(account, symbol=body["stk_cd"], side=side, quantity=quantity, price=limit,
                                trade_type=kind)
        marketable = not limit or (limit >= stock.price if side == "buy" else limit <= stock.price)
        if kind in MARKET_TYPES or (kind in IMMEDIATE and marketable):
            self._execute(account, order, quantity, stock.price)
        elif kind in IMMEDIATE:
            order.closed = quantity
        word = "매수" if side == "buy" else "매도"
        return Answer(200, {"ord_no": order.ord_no, "dmst_stex_tp": body["dmst_stex_tp"], "return_code": 0,
                            "return_msg": f"{word}주문이 완료되었습니다."}, {"api-id": "kt10000" if side == "buy" else "kt10001"})

    def _kt10000(self, account: Account, body: dict[str, Any]) -> Answer:
        return self._place(account, body, "buy")

    def _kt10001(self, account: Account, body: dict[str, Any]) -> Answer:
        return self._place(account, body, "sell")

    def _change(self, account: Account, body: dict[str, Any], kind: str) -> Answer:
        refused = self._order_checks(account, body)
        if refused:
            return refused
        field_name = "mdfy_qty" if kind == "정정" else "cncl_qty"
        owner, original = self._find(str(body.get("orig_ord_no") or ""))
        qty = str(body.get(field_name) or "")
        if owner is not account or original is None or original.symbol != body["stk_cd"] or not qty.isdigit():
            return refusal(1511, "원주문번호가 올바르지 않습니다")
        quantity = int(qty) or original.remaining
        if not original.remaining or quantity > original.remaining:
            return Answer(200, {"return_code": 20, "return_msg": f"{kind}가능수량이 없습니다"})
        new_price = str(body.get("mdfy_uv") or "")
        if kind == "정정" and not new_price.isdigit():
            return refusal(1511, "필수 입력 값에 값이 존재하지 않습니다(mdfy_uv)")
        original.closed += quantity
        order = self._new_order(account, symbol=original.symbol, side=original.side, quantity=quantity,
                                price=int(new_price) if kind == "정정" else original.price,
                                trade_type=original.trade_type, kind=kind, orig=original.ord_no)
        word = "매도" if original.side == "sell" else "매수"
        return Answer(200, {"ord_no": order.ord_no, "base_orig_ord_no": original.ord_no,
                            field_name: padded(quantity, 12),
                            "dmst_stex_tp": body["dmst_stex_tp"], "return_code": 0,
                            "return_msg": f"{word}{kind} 주문입력이 완료되었습니다"})

    def _kt10002(self, account: Account, body: dict[str, Any]) -> Answer:
        return self._change(account, body, "정정")

    def _kt10003(self, account: Account, body: dict[str, Any]) -> Answer:
        return self._change(account, body, "취소")

    # -- account inquiries ------------------------------------------------------------------------------
    def _ka00001(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        return {"acctNo": account.account_no}

    def _evaluated(self, account: Account) -> list[tuple[str, Stock | None, int, int]]:
        return [(s, self.stocks.get(s), q, p) for s, (q, p) in sorted(account.positions.items())]

    def _kt00001(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        orderable, cash = self._orderable(account), account.cash
        fields = {"entr": cash, "ord_alow_amt": orderable, "pymn_alow_amt": cash, "d1_entra": cash, "d2_entra": cash,
                  **{f"{rate}stk_ord_alow_amt": orderable for rate in (20, 30, 40, 50, 60, 100)}, "ch_uncla": 0}
        return {k: padded(v, 15) for k, v in fields.items()} | {"stk_entr_prst": []}

    def _kt00018(self, account: Account, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        rows, bought, worth = [], 0, 0
        for symbol, stock, qty, avg in self._evaluated(account):
            now = stock.price if stock else avg
            bought, worth = bought + qty * avg, worth + qty * now
            rows.append({
                "stk_cd": "A" + symbol, "stk_nm": stock.name if stock else symbol,
                "evltv_prft": padded(qty * (now - avg), 15), "prft_rt": f"{(now - avg) / avg * 100 if avg else 0:.2f}",
                "pur_pric": padded(avg, 15), "pred_close_pric": padded(stock.base if stock else avg, 12),
                "rmnd_qty": padded(qty, 15), "trde_able_qty": padded(self._sellable(account, symbol), 15),
                "cur_prc": padded(now, 12), "pur_amt": padded(qty * avg, 15), "evlt_amt": padded(qty * now, 15),
                "pred_buyq": padded(0, 15), "pred_sellq": padded(0, 15), "tdy_buyq": padded(0, 15),
                "tdy_sellq": padded(0, 15), "pur_cmsn": padded(0, 15), "sell_cmsn": padded(0, 15),
                "tax": padded(0, 15), "sum_cmsn": padded(0, 15), "poss_rt": "0.00", "crd_tp": "00",
                "crd_tp_nm": "", "crd_loan_dt": "",
            })
        summary = {"tot_pur_amt": bought, "tot_evlt_amt": worth, "tot_evlt_pl": worth - bought,
                   "prsm_dpst_aset_amt": account.cash + worth, "tot_loan_amt": 0, "tot_crd_loan_amt": 0,
                   "tot_crd_ls_amt": 0}
        body = {k: padded(v, 15) for k, v in summary.items()}
        body["tot_prft_rt"] = f"{(worth - bought) / bought * 100 if bought else 0:.2f}"
        return {**body, "acnt_evlt_remn_indv_tot": rows}, "acnt_evlt_remn_indv_tot"

    def _kt00004(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        worth = sum(q * (s.price if s else p) for _, s, q, p in self._evaluated(account))
        bought = sum(q * p for _, _, q, p in self._evaluated(account))
        fields = {"entr": account.cash, "d2_entra": account.cash, "tot_est_amt": worth,
                  "aset_evlt_amt": account.cash + worth,
                  "tot_pur_amt": bought, "prsm_dpst_aset_amt": account.cash + worth, "tdy_lspft": 0, "lspft": 0}
        return {"acnt_nm": "김키움", "brch_nm": "키움은행", **{k: padded(v, 12) for k, v in fields.items()},
                "tdy_lspft_rt": "0.00", "lspft_rt": "0.00", "stk_acnt_evlt_prst": []}

    def _kt00011(self, account: Account, body: dict[str, Any]) -> dict[str, Any] | Answer:
        stock = self.stocks.get(str(body.get("stk_cd") or ""))
        if stock is None:
            return refusal(1902, "종목 정보가 없습니다")
        unit = int(body["uv"]) if str(body.get("uv") or "").isdigit() else stock.price
        orderable = self._orderable(account)
        return {"stk_profa_rt": "20%", "profa_rt": "100%", "aplc_rt": "100%", "min_ord_alow_amt": padded(orderable, 12),
                "min_ord_alowq": padded(orderable // unit if unit else 0, 12), "entr": padded(account.cash, 12),
                "ord_alowa": padded(orderable, 12)}

    def _today_orders(self, account: Account) -> list[Order]:
        return [o for o in account.orders if o.day == self._now().date()]

    def _ka10075(self, account: Account, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        rows = [{
            "acnt_no": account.account_no, "ord_no": o.ord_no, "stk_cd": o.symbol,
            "ord_stt": "체결" if o.filled else "접수",
            "stk_nm": self.stocks[o.symbol].name, "ord_qty": str(o.quantity), "ord_pric": str(o.price),
            "oso_qty": str(o.remaining), "cntr_tot_amt": str(o.amount), "orig_ord_no": o.orig,
            "io_tp_nm": o.io_name("short"), "trde_tp": TRADE_TYPES[o.trade_type], "tm": o.at, "cntr_no": "",
            "cntr_pric": str(o.amount // o.filled if o.filled else 0), "cntr_qty": str(o.filled),
            "cur_prc": signed(self.stocks[o.symbol].price, self.stocks[o.symbol].base), "stex_tp": "1",
            "stex_tp_txt": "KRX", "sor_yn": "N",
        } for o in self._today_orders(account) if o.remaining]
        return {"oso": rows}, "oso"

    def _ka10076(self, account: Account, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        rows = [{
            "ord_no": o.ord_no, "stk_nm": self.stocks[o.symbol].name, "io_tp_nm": o.io_name("short"),
            "ord_pric": str(o.price), "ord_qty": str(o.quantity), "cntr_pric": str(o.amount // o.filled),
            "cntr_qty": str(o.filled), "oso_qty": str(o.remaining), "tdy_trde_cmsn": "0", "tdy_trde_tax": "0",
            "ord_stt": "체결", "trde_tp": TRADE_TYPES[o.trade_type], "orig_ord_no": o.orig, "ord_tm": o.at,
            "stk_cd": o.symbol, "stex_tp": "1", "stex_tp_txt": "KRX", "sor_yn": "N",
        } for o in reversed(self._today_orders(account)) if o.filled]
        return {"cntr": rows}, "cntr"

    def _kt00007(self, account: Account, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        raw = str(body.get("ord_dt") or "")
        day = datetime.strptime(raw, "%Y%m%d").date() if raw else self._now().date()
        query = str(body.get("qry_tp") or "1")
        orders = [o for o in account.orders if o.day == day and
                  (query != "3" or o.remaining) and (query != "4" or o.filled)]
        rows = [{
            "ord_no": o.ord_no, "stk_cd": "A" + o.symbol, "trde_tp": TRADE_TYPES[o.trade_type], "crd_tp": "보통매매",
            "ord_qty": padded(o.quantity, 10), "ord_uv": padded(o.price, 10),
            "cnfm_qty": padded(o.quantity if o.kind else 0, 10), "acpt_tp": "확인" if o.kind else "접수",
            "rsrv_tp": "", "ord_tm": f"{o.at[:2]}:{o.at[2:4]}:{o.at[4:]}", "ori_ord": o.orig,
            "stk_nm": self.stocks[o.symbol].name, "io_tp_nm": o.io_name("long"), "loan_dt": "",
            "cntr_qty": padded(o.filled, 10), "cntr_uv": padded(o.amount // o.filled if o.filled else 0, 10),
            "ord_remnq": padded(o.remaining, 10), "comm_ord_tp": "REST API", "mdfy_cncl": o.kind, "cnfm_tm": "",
            "dmst_stex_tp": "KRX", "cond_uv": padded(0, 10),
        } for o in (reversed(orders) if query == "2" else orders)]
        return {"acnt_ord_cntr_prps_dtl": rows}, "acnt_ord_cntr_prps_dtl"

    # -- quotes ---------------------------------------------------------------------------------------
    def _ka10001(self, account: Account, body: dict[str, Any]) -> dict[str, Any] | Answer:
        code = str(body.get("stk_cd") or "")
        stock = self.stocks.get(code.split("_")[0])
        if stock is None:
            return refusal(1902, "종목 정보가 없습니다")
        p, base = stock.price, stock.base
        day = stock.bars[-1] if stock.bars else (None, p, p, p, p, stock.volume)
        return {"stk_cd": code, "stk_nm": stock.name, "cur_prc": signed(p, base),
                "pred_pre": f"{p - base:+d}" if p != base else "0",
                "flu_rt": f"{(p - base) / base * 100 if base else 0:+.2f}", "trde_qty": str(stock.volume),
                "open_pric": signed(day[1], base), "high_pric": signed(day[2], base), "low_pric": signed(day[3], base),
                "upl_pric": signed(base * 13 // 10, base), "lst_pric": signed(base * 7 // 10 + 1, base),
                "base_pric": str(base)}

    def _ka10081(self, account: Account, body: dict[str, Any]) -> tuple[dict[str, Any], str] | Answer:
        code = str(body.get("stk_cd") or "")
        stock = self.stocks.get(code)
        if not str(body.get("base_dt") or "").isdigit() or body.get("upd_stkpc_tp") not in ("0", "1"):
            return refusal(1511, "필수 입력 값에 값이 존재하지 않습니다")
        if stock is None:
            return refusal(1902, "종목 정보가 없습니다")
        base_day = datetime.strptime(body["base_dt"], "%Y%m%d").date()
        bars = [b for b in stock.bars if b[0] <= base_day]
        rows = []
        for i in range(len(bars) - 1, -1, -1):
            day, o, h, low, c, v = bars[i]
            before = bars[i - 1][4] if i else c
            rows.append({"cur_prc": signed(c, before), "trde_qty": str(v), "trde_prica": str(round(c * v / 1_000_000)),
                         "dt": day.strftime("%Y%m%d"), "open_pric": signed(o, before), "high_pric": signed(h, before),
                         "low_pric": signed(low, before), "pred_pre": f"{c - before:+d}" if c != before else "0",
                         "pred_pre_sig": "2" if c > before else "5" if c < before else "3", "trde_tern_rt": "+0.10"})
        return {"stk_cd": code, "stk_dt_pole_chart_qry": rows}, "stk_dt_pole_chart_qry"


# -- a ready server for local runs ----------------------------------------------------------------
DEMO_ACCOUNT = {"app_key": "demo-kiwoom-app-key", "app_secret": "demo-kiwoom-app-secret", "account_no": "5012345611"}
DEMO_NAMES = {"005930": "삼성전자", "000660": "SK하이닉스", "005380": "현대차", "035420": "NAVER", "035720": "카카오"}


def read_bars(path: Path) -> list[tuple[date, int, int, int, int, int]]:
    """A ``date,open,high,low,close,volume`` CSV as fake bars."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [(date.fromisoformat(r["date"]), *(int(float(r[k])) for k in ("open", "high", "low", "close", "volume")))
                for r in csv.DictReader(handle)]


def build_demo(port: int = 0, *, environment: str = "real") -> FakeKiwoom:
    """A fake (not started) with ``DEMO_ACCOUNT`` (10,000,000 KRW, 10 shares of 005930) and the
    shipped sample bars as prices."""
    server = FakeKiwoom(port, environment=environment)
    for symbol, name in DEMO_NAMES.items():
        path = SAMPLE_BARS / f"{symbol}.csv"
        if path.is_file():
            server.set_bars(symbol, read_bars(path))
            server.set_price(symbol, server.stocks[symbol].price, name=name)
        else:
            server.set_price(symbol, 10_000, name=name)
    server.add_account(**DEMO_ACCOUNT, environment=environment, positions={"005930": (10, 70_000)})
    return server


__all__ = ["DEMO_ACCOUNT", "FakeKiwoom", "build_demo", "padded", "read_bars", "signed"]
