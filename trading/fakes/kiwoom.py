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

Orders and account inquiries live in ``kiwoom_book.py`` (mixed in). Unknown symbols answer ``1902``
(unconfirmed shape).

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
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .kiwoom_book import KST, OK, Account, KiwoomBook, Stock, refusal, signed
from .server import Answer, FakeServer, Request

ROUTES = {
    "/api/dostk/ordr": {"kt10000", "kt10001", "kt10002", "kt10003"},
    "/api/dostk/acnt": {"ka00001", "kt00001", "kt00004", "kt00007", "kt00011", "kt00018", "ka10075", "ka10076"},
    "/api/dostk/stkinfo": {"ka10001"},
    "/api/dostk/chart": {"ka10081"},
}
PAGE_SIZES = {"kt00018": 20, "kt00007": 20, "ka10075": 20, "ka10076": 20, "ka10081": 100}
SAMPLE_BARS = Path(__file__).resolve().parents[2] / "marketdata" / "sample_data" / "bars"


class FakeKiwoom(KiwoomBook, FakeServer):
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
        self._demo: list[str] = []
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

    def demo_lines(self) -> list[str]:
        """What ``python -m trading.fakes kiwoom --demo`` prints (demo keys only; call after ``start``)."""
        return [line.format(url=self.url) for line in self._demo]

    def token_issuances(self, app_key: str) -> int:
        return self.issued[app_key]

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

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
    setting = f"BROKER_KIWOOM_{environment.upper()}_URL"
    server._demo = [f"{setting}={{url}}", "app key: {app_key}  secret: {app_secret}  account: {account_no}".format(
        **DEMO_ACCOUNT), "10,000,000 KRW and 10 shares of 005930; prices from the shipped sample bars"]
    return server


__all__ = ["DEMO_ACCOUNT", "FakeKiwoom", "build_demo", "read_bars"]
