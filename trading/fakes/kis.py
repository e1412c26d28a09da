"""A fake KIS Open API: the paths, headers, JSON, paging and error answers of the real one.

Shapes come from KIS's own samples (``koreainvestment/open-trading-api`` ``examples_llm``,
``kis_auth.py``) and from answers other projects recorded from the real service:

- ``/oauth2/tokenP`` errors are HTTP 403 ``{"error_code", "error_description"}`` (EGW00103 unknown
  app key, EGW00105 wrong secret, EGW00133 a second request within a minute); the same token comes
  back within 6 hours; every issuance is counted (KIS sends the holder an alert each time).
- gateway errors (EGW00201 rate, EGW00121/EGW00123 token) are HTTP 500 ``{"rt_cd": "1", "msg_cd", "msg1"}``;
  business refusals are HTTP 200 with ``rt_cd "1"``; an account the key does not own is ``OPSQ2000``.
- ``tr_cont`` paging: answer header ``F``/``M`` = more, ``D``/``E`` = last; the next request sends
  ``tr_cont: N`` and the ``ctx_area_*`` it got (space padded to 100, like the real cursors).

Codes the fake needs but no public source shows start with ``FAKE`` (a client bug, never KIS).
``APBK0400`` (sell above sellable) is a third-party report; the ``msg1`` texts of APBK0919 (market
closed) and APBK0656 (unknown symbol) are our wording (the codes are python-kis's); an unknown code
at ``inquire-price`` answering zeros is an assumption.
The clock (token life, order times) is the fake's own: ``advance(seconds)`` moves it; rate windows
use real time, as KIS does. Fills: market orders fill at ``set_price``; limit orders rest until
``fill(order_no, qty, price)``; no fees or taxes, cash settles at once.
"""

from __future__ import annotations

import csv
import hashlib
import secrets
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from .kis_book import FakeAccount, FakeOrder, KisBook
from .server import Answer, FakeServer, Request

KST = timezone(timedelta(hours=9))
TOKEN_LIFE = 86400.0
SAME_TOKEN_WITHIN = 6 * 3600.0
TOKEN_INTERVAL = 60.0
DEFAULT_RATES = {"real": 18, "mock": 1}
DEFAULT_PAGES = {"balance": {"real": 50, "mock": 20}, "ccld": {"real": 100, "mock": 15}, "open": {"real": 50, "mock": 50}}

Q = "/uapi/domestic-stock/v1/quotations/"
T = "/uapi/domestic-stock/v1/trading/"
# path -> (real TR ids, offered on mock)
TR_IDS: dict[str, tuple[frozenset[str], bool]] = {
    T + "order-cash": (frozenset({"TTTC0012U", "TTTC0011U", "TTTC0802U", "TTTC0801U"}), True),
    T + "order-rvsecncl": (frozenset({"TTTC0013U", "TTTC0803U"}), True),
    T + "inquire-balance": (frozenset({"TTTC8434R"}), True),
    T + "inquire-daily-ccld": (frozenset({"TTTC0081R", "CTSC9215R", "TTTC8001R", "CTSC9115R"}), True),
    T + "inquire-psbl-order": (frozenset({"TTTC8908R"}), True),
    T + "inquire-psbl-sell": (frozenset({"TTTC8408R"}), False),
    T + "inquire-psbl-rvsecncl": (frozenset({"TTTC0084R", "TTTC8036R"}), False),
    Q + "inquire-price": (frozenset({"FHKST01010100"}), True),
    Q + "inquire-daily-itemchartprice": (frozenset({"FHKST03010100"}), True),
    Q + "chk-holiday": (frozenset({"CTCA0903R"}), False),
}


def _mock_tr(tr_id: str) -> str:
    return "V" + tr_id[1:] if tr_id[0] in "TJC" else tr_id


def kis_error(code: str, text: str, status: int = 200) -> Answer:
    return Answer(status, {"rt_cd": "1", "msg_cd": code, "msg1": text})


def token_error(code: str, text: str) -> Answer:
    return Answer(403, {"error_description": text, "error_code": code})


def tick_size(price: Decimal) -> Decimal:
    """KRX tick since 2023-01-25 (broker-apis.md D2)."""
    for bound, tick in ((2000, 1), (5000, 5), (20000, 10), (50000, 50), (200000, 100), (500000, 500)):
        if price < bound:
            return Decimal(tick)
    return Decimal(1000)


def _to_tick(value: Decimal, rounding: str) -> Decimal:
    tick = tick_size(value)
    return (value / tick).to_integral_value(rounding=rounding) * tick


@dataclass
class IssuedToken:
    value: str
    app_key: str
    issued_at: float
    expires_at: float


@dataclass
class Listed:
    """A symbol's quote; ``bars`` are (day, open, high, low, close, volume), oldest first."""

    price: Decimal
    prev_close: Decimal
    name: str = ""
    halted: bool = False
    bars: list[tuple[date, int, int, int, int, int]] = field(default_factory=list)


class FakeKis(FakeServer):
    """Serve a fake KIS on 127.0.0.1. ``rate_limits`` / ``page_sizes`` override the defaults;
    ``market_open`` (default True) lets orders in; ``change_between_pages`` (bool or count) makes
    that many continued daily-ccld reads answer SYDB0050 "조회이후에 자료가 변경되었습니다"."""

    def __init__(self, port: int = 0, *, rate_limits: dict[str, int] | None = None,
                 page_sizes: dict[str, dict[str, int]] | None = None) -> None:
        super().__init__(port)
        self.rate_limits = {**DEFAULT_RATES, **(rate_limits or {})}
        self.page_sizes = {k: {**v, **(page_sizes or {}).get(k, {})} for k, v in DEFAULT_PAGES.items()}
        self.market_open = True
        self.change_between_pages: int | bool = 0
        self.holidays: set[date] = set()
        self.listed: dict[str, Listed] = {}
        self.book = KisBook(self)
        self._offset = 0.0
        self._tokens: dict[str, IssuedToken] = {}
        self._latest: dict[str, IssuedToken] = {}
        self._last_issue: dict[str, float] = {}
        self._issuances: Counter[str] = Counter()
        self._windows: dict[str, deque[float]] = {}
        self._lose: Counter[str] = Counter()
        self.route("POST", "/oauth2/tokenP", self._token)
        self.route("POST", "/oauth2/revokeP", self._revoke)
        self.route("POST", "/uapi/hashkey", self._hashkey)
        for path in TR_IDS:
            self.route("POST" if path.endswith(("order-cash", "order-rvsecncl")) else "GET", path, self._guarded)

    # -- set-up ---------------------------------------------------------------------------
    def add_account(self, app_key: str, app_secret: str, account_no: str, *, hts_id: str = "",
                    environment: str = "real", cash: Any = 0,
                    positions: dict[str, tuple[Any, Any]] | None = None) -> FakeAccount:
        """One app key acting for one account (KIS binds each key to an account)."""
        digits = "".join(ch for ch in account_no if ch.isdigit())
        digits += "01" if len(digits) == 8 else ""
        account = FakeAccount(app_key, app_secret, digits, hts_id, environment, Decimal(str(cash)))
        for symbol, (qty, avg) in (positions or {}).items():
            account.positions[symbol] = [Decimal(str(qty)), Decimal(str(avg))]
        with self.lock:
            self.book.accounts[app_key] = account
        return account

    def set_price(self, symbol: str, price: Any, *, prev_close: Any = None, name: str = "",
                  halted: bool = False) -> None:
        with self.lock:
            old = self.listed.get(symbol)
            price = Decimal(str(price))
            previous = Decimal(str(prev_close)) if prev_close is not None else (old.prev_close if old else price)
            self.listed[symbol] = Listed(price, previous, name or (old.name if old else ""), halted,
                                         old.bars if old else [])

    def set_bars(self, symbol: str, bars: Iterable[tuple[date, Any, Any, Any, Any, Any]]) -> None:
        rows = sorted((day, *(int(float(v)) for v in rest)) for day, *rest in bars)
        with self.lock:
            if symbol not in self.listed and rows:
                self.set_price(symbol, rows[-1][4], prev_close=rows[-2][4] if len(rows) > 1 else rows[-1][4])
            self.listed[symbol].bars = rows  # type: ignore[assignment]

    def load_bars(self, symbol: str, path: Path) -> None:
        """Bars from a ``date,open,high,low,close,volume`` CSV (``marketdata/sample_data/bars``)."""
        with path.open(newline="", encoding="utf-8") as handle:
            self.set_bars(symbol, [(date.fromisoformat(r["date"]), r["open"], r["high"], r["low"], r["close"],
                                    r["volume"]) for r in csv.DictReader(handle)])

    def fill(self, order_no: str, quantity: Any, price: Any = None) -> None:
        """Fill ``quantity`` of an open order at ``price`` (default: its limit or the current price)."""
        with self.lock:
            self.book.fill(order_no, Decimal(str(quantity)), None if price is None else Decimal(str(price)))

    def add_order(self, app_key: str, symbol: str, quantity: Any, price: Any, *, side: str = "buy") -> FakeOrder:
        """A resting limit order placed outside the API (as from HTS/MTS), without checks."""
        with self.lock:
            return self.book._new_order(self.book.accounts[app_key], symbol=symbol, side="02" if side == "buy" else "01",
                                        quantity=Decimal(str(quantity)), price=Decimal(str(price)), division="00")

    def lose_answer_next(self, path: str, times: int = 1) -> None:
        """Carry out the next request to ``path``, then send no answer (the client times out)."""
        with self.lock:
            self._lose[path] += times

    # -- clock and tokens -----------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self._offset += seconds

    def kst(self) -> datetime:
        return datetime.fromtimestamp(self.now(), KST)

    def token_issuances(self, app_key: str) -> int:
        with self.lock:
            return self._issuances[app_key]

    def expire_tokens(self, app_key: str | None = None) -> None:
        """Let tokens (of one key, or all) expire now, whatever the clock says."""
        with self.lock:
            for token in self._tokens.values():
                if app_key is None or token.app_key == app_key:
                    token.expires_at = min(token.expires_at, self.now() - 1)

    def orders(self, app_key: str) -> list[FakeOrder]:
        with self.lock:
            return list(self.book.accounts[app_key].orders)

    def _token(self, request: Request) -> Answer:
        body = request.body
        account = self.book.accounts.get(str(body.get("appkey", "")))
        if account is None:
            return token_error("EGW00103", "유효하지 않은 AppKey입니다.")
        if body.get("appsecret") != account.app_secret:
            return token_error("EGW00105", "유효하지 않은 AppSecret입니다.")
        if body.get("grant_type") != "client_credentials":
            return token_error("FAKE0001", "grant_type must be client_credentials (the fake's own check)")
        now = self.now()
        if now - self._last_issue.get(account.app_key, -1e12) < TOKEN_INTERVAL:
            return token_error("EGW00133", "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)")
        token = self._latest.get(account.app_key)
        if token is None or now - token.issued_at >= SAME_TOKEN_WITHIN or token.expires_at <= now:
            token = IssuedToken(secrets.token_urlsafe(256), account.app_key, now, now + TOKEN_LIFE)
            self._tokens[token.value] = self._latest[account.app_key] = token
        self._last_issue[account.app_key] = now
        self._issuances[account.app_key] += 1
        expires = datetime.fromtimestamp(token.expires_at, KST).strftime("%Y-%m-%d %H:%M:%S")
        return Answer(200, {"access_token": token.value, "access_token_token_expired": expires,
                            "token_type": "Bearer", "expires_in": int(token.expires_at - now)})

    def _revoke(self, request: Request) -> Answer:
        body = request.body
        account = self.book.accounts.get(str(body.get("appkey", "")))
        token = self._tokens.get(str(body.get("token", "")))
        if account is None or body.get("appsecret") != account.app_secret or token is None \
                or token.app_key != account.app_key:
            return token_error("EGW00121", "유효하지 않은 token 입니다.")
        del self._tokens[token.value]
        self._latest.pop(account.app_key, None)
        return Answer(200, {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"})

    def _hashkey(self, request: Request) -> Answer:
        account = self.book.accounts.get(request.header("appkey"))
        if account is None or request.header("appsecret") != account.app_secret:
            return kis_error("EGW00103", "유효하지 않은 AppKey입니다.", 500)
        digest = hashlib.sha256(repr(sorted(request.body.items())).encode()).hexdigest()
        return Answer(200, {"JsonBody": request.body, "HASH": digest})

    # -- the gateway: key, rate, token, TR id, account ------------------------------------
    def _guarded(self, request: Request) -> Answer | str:
        account = self.book.accounts.get(request.header("appkey"))
        if account is None:
            return kis_error("EGW00103", "유효하지 않은 AppKey입니다.", 500)
        if request.header("appsecret") != account.app_secret:
            return kis_error("EGW00105", "유효하지 않은 AppSecret입니다.", 500)
        if not self._within_rate(account):
            return kis_error("EGW00201", "초당 거래건수를 초과하였습니다.", 500)
        refused = self._check_token(request, account) or self._check_tr(request, account)
        if refused is not None:
            return refused
        answer = self.book.handle(request, account)
        if self._lose[request.path] > 0:
            self._lose[request.path] -= 1
            return "timeout"
        return answer

    def _within_rate(self, account: FakeAccount) -> bool:
        now = time.monotonic()
        window = self._windows.setdefault(account.app_key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.rate_limits[account.environment]:
            return False
        window.append(now)
        return True

    def _check_token(self, request: Request, account: FakeAccount) -> Answer | None:
        auth = request.header("authorization")
        token = self._tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if token is None or token.app_key != account.app_key:
            return kis_error("EGW00121", "유효하지 않은 token 입니다.", 500)
        if token.expires_at <= self.now():
            return kis_error("EGW00123", "기간이 만료된 token 입니다.", 500)
        return None

    def _check_tr(self, request: Request, account: FakeAccount) -> Answer | None:
        real_ids, on_mock = TR_IDS[request.path]
        allowed = real_ids if account.environment == "real" else \
            frozenset(map(_mock_tr, real_ids)) if on_mock else frozenset()
        if request.header("tr_id") not in allowed or request.header("custtype") != "P":
            return kis_error("FAKE0002", "tr_id or custtype does not fit this path and environment "
                                         "(the fake's own check)")
        return None

    # -- quotations ---------------------------------------------------------------------------
    def quote_output(self, symbol: str) -> dict[str, str]:
        listed = self.listed.get(symbol)
        if listed is None:  # KIS answers rt_cd 0 with zeros for a code it does not know (assumed)
            return {"stck_prpr": "0", "stck_mxpr": "0", "stck_llam": "0", "aspr_unit": "1", "temp_stop_yn": "N"}
        base = listed.prev_close
        bars_today = [b for b in listed.bars if b[0] == self.kst().date()]
        return {
            "stck_prpr": str(listed.price), "prdy_vrss": str(listed.price - base),
            "prdy_vrss_sign": "2" if listed.price > base else "5" if listed.price < base else "3",
            "prdy_ctrt": f"{(listed.price - base) / base * 100:.2f}" if base else "0.00",
            "stck_oprc": str(bars_today[0][1] if bars_today else listed.price),
            "stck_hgpr": str(max(listed.price, *(b[2] for b in bars_today)) if bars_today else listed.price),
            "stck_lwpr": str(min(listed.price, *(b[3] for b in bars_today)) if bars_today else listed.price),
            "stck_mxpr": str(_to_tick(base * Decimal("1.3"), ROUND_FLOOR)),
            "stck_llam": str(_to_tick(base * Decimal("0.7"), ROUND_CEILING)),
            "stck_sdpr": str(base), "aspr_unit": str(tick_size(listed.price)),
            "acml_vol": str(bars_today[0][5] if bars_today else 0), "temp_stop_yn": "Y" if listed.halted else "N",
            "iscd_stat_cls_code": "55", "mrkt_warn_cls_code": "00", "vi_cls_code": "N",
        }


def build_demo(port: int = 0, bars_dir: Path | None = None) -> FakeKis:
    """A fake KIS (not started) with one real and one mock demo account, prices and sample bars."""
    server = FakeKis(port)
    for account in DEMO_ACCOUNTS:
        server.add_account(**account)
    for symbol, price, name in (("005930", 70100, "삼성전자"), ("000660", 182000, "SK하이닉스"),
                                ("035720", 41250, "카카오")):
        server.set_price(symbol, price, prev_close=price, name=name)
    folder = bars_dir or Path(__file__).resolve().parents[2] / "marketdata" / "sample_data" / "bars"
    for symbol in ("005930", "000660", "035720"):
        if (folder / f"{symbol}.csv").is_file():
            server.load_bars(symbol, folder / f"{symbol}.csv")
    server.demo_lines = lambda: [  # type: ignore[attr-defined]
        f"  {a['environment']:4}  account {a['account_no']}  app key {a['app_key']}  app secret {a['app_secret']}"
        for a in DEMO_ACCOUNTS]
    return server


DEMO_ACCOUNTS: list[dict[str, Any]] = [
    {"app_key": "PSdemoREALkey" + "0" * 23, "app_secret": "demo-real-secret-" + "r" * 163,
     "account_no": "50000001-01", "hts_id": "demoreal", "environment": "real", "cash": 10_000_000,
     "positions": {"005930": (10, 65000)}},
    {"app_key": "PSdemoMOCKkey" + "0" * 23, "app_secret": "demo-mock-secret-" + "m" * 163,
     "account_no": "50000002-01", "hts_id": "demomock", "environment": "mock", "cash": 100_000_000,
     "positions": {}},
]
