"""Fake KIS and Kiwoom servers for provider tests: real HTTP on 127.0.0.1, same paths, headers and JSON.

Each server issues tokens, checks the headers the real API requires (KIS ``tr_id``/``appkey``/
``appsecret``/``custtype``/``authorization``; Kiwoom ``api-id``/``authorization``), serves daily bars
from a sample CSV (``date,open,high,low,close,volume``) and pages like the real one. Set ``mode`` to
make chart calls fail:

    "http500"     HTTP 500 with a plain-text body
    "http429"     HTTP 429
    "rate_limit"  the broker's own throttle answer (KIS EGW00201, Kiwoom [1700])
    "slow"        sleep ``slow_seconds`` before answering (longer than the client timeout)
    "empty"       a successful answer without rows

``fail_times`` limits the failure to that many chart calls (None: until ``mode`` is reset).
Use as a context manager; ``chart_calls`` and ``token_calls`` count what the server received.
"""

from __future__ import annotations

import csv
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SAMPLE_BARS_DIR = Path(__file__).resolve().parents[1] / "sample_data" / "bars"
KST = timezone(timedelta(hours=9))

KIS_TOKEN_PATH = "/oauth2/tokenP"
KIS_DAILY_PATH = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"
KIS_DAILY_TR_ID = "FHKST03010100"
KIS_ROWS_PER_CALL = 100
KIS_DAILY_PARAMS = ("FID_COND_MRKT_DIV_CODE", "FID_INPUT_ISCD", "FID_INPUT_DATE_1", "FID_INPUT_DATE_2",
                    "FID_PERIOD_DIV_CODE", "FID_ORG_ADJ_PRC")
KIWOOM_TOKEN_PATH = "/oauth2/token"
KIWOOM_CHART_PATH = "/api/dostk/chart"


@dataclass(frozen=True)
class SampleBar:
    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int


def load_sample_bars(code: str, folder: Path = SAMPLE_BARS_DIR) -> list[SampleBar]:
    """Rows of ``folder/<code>.csv`` oldest first; empty when the file does not exist."""
    path = folder / f"{code}.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        fields = ("open", "high", "low", "close", "volume")
        return [
            SampleBar(date.fromisoformat(row["date"]), *(int(float(row[k])) for k in fields))
            for row in csv.DictReader(handle)
        ]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    broker: FakeBroker

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out closed the socket: expected in the "slow" mode


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.broker.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.broker.handle(self, "POST")

    def read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        content_type = "text/plain" if isinstance(body, bytes) else "application/json;charset=UTF-8"
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class FakeBroker:
    """Common machinery: the server thread, tokens, counters and failure modes."""

    chart_path = ""
    token_path = ""

    def __init__(self, app_key: str = "test-app-key", app_secret: str = "test-app-secret-DO-NOT-LEAK",
                 *, bars_dir: Path = SAMPLE_BARS_DIR) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.bars_dir = bars_dir
        self.mode: str | None = None
        self.fail_times: int | None = None
        self.slow_seconds = 3.0
        self.requests: list[tuple[str, str]] = []
        self.tokens: set[str] = set()
        self._bars: dict[str, list[SampleBar]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.broker = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True
        )

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> FakeBroker:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- counters -----------------------------------------------------------------------------
    @property
    def chart_calls(self) -> int:
        return sum(1 for _, path in self.requests if path == self.chart_path)

    @property
    def token_calls(self) -> int:
        return sum(1 for _, path in self.requests if path == self.token_path)

    def expire_tokens(self) -> None:
        """Forget every token issued so far, as the broker does when they expire."""
        with self._lock:
            self.tokens.clear()

    # -- helpers for subclasses ---------------------------------------------------------------
    def bars(self, code: str) -> list[SampleBar]:
        with self._lock:
            if code not in self._bars:
                self._bars[code] = load_sample_bars(code, self.bars_dir)
            return self._bars[code]

    def new_token(self, prefix: str) -> str:
        token = f"{prefix}-{uuid.uuid4().hex}"
        with self._lock:
            self.tokens.add(token)
        return token

    def bearer_ok(self, handler: _Handler) -> bool:
        auth = handler.headers.get("authorization") or ""
        return auth.startswith("Bearer ") and auth[len("Bearer "):] in self.tokens

    def failure(self) -> str | None:
        """The failure mode for this chart call (consumes one of ``fail_times``)."""
        with self._lock:
            if self.mode is None:
                return None
            if self.fail_times is not None:
                if self.fail_times <= 0:
                    return None
                self.fail_times -= 1
            return self.mode

    def generic_failure(self, handler: _Handler, mode: str | None) -> bool:
        """Answer HTTP 500 / 429 / a slow answer; False when the mode is for the subclass to play."""
        if mode == "http500":
            handler.answer(500, b"Internal Server Error")
            return True
        if mode == "http429":
            handler.answer(429, b"Too Many Requests")
            return True
        if mode == "slow":
            self._stopping.wait(self.slow_seconds)
        return False

    def handle(self, handler: _Handler, method: str) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            self.requests.append((method, path))
        self.route(handler, method, path)

    def route(self, handler: _Handler, method: str, path: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class FakeKis(FakeBroker):
    """KIS: ``POST /oauth2/tokenP`` and ``GET .../inquire-daily-itemchartprice`` (FHKST03010100)."""

    chart_path = KIS_DAILY_PATH
    token_path = KIS_TOKEN_PATH
    rate_limit_status = 500  # KIS gateway errors are seen as HTTP 200 and as 500; test the harder one

    def route(self, handler: _Handler, method: str, path: str) -> None:
        if method == "POST" and path == KIS_TOKEN_PATH:
            return self.token(handler)
        if method == "GET" and path == KIS_DAILY_PATH:
            return self.daily(handler)
        handler.answer(404, {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "no such API"})

    def token(self, handler: _Handler) -> None:
        body = handler.read_json()
        if (body.get("grant_type") != "client_credentials" or body.get("appkey") != self.app_key
                or body.get("appsecret") != self.app_secret):
            return handler.answer(403, {"error_code": "EGW00103", "error_description": "유효하지 않은 AppKey입니다."})
        expires = (datetime.now(KST) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
        handler.answer(200, {"access_token": self.new_token("kis"), "token_type": "Bearer", "expires_in": 86400,
                             "access_token_token_expired": expires})

    @staticmethod
    def refuse(handler: _Handler, status: int, msg_cd: str, msg1: str) -> None:
        handler.answer(status, {"rt_cd": "1", "msg_cd": msg_cd, "msg1": msg1})

    def daily(self, handler: _Handler) -> None:
        h = handler.headers
        if h.get("tr_id") != KIS_DAILY_TR_ID:
            return self.refuse(handler, 500, "EGW00205", "tr_id 가 잘못되었습니다.")
        if h.get("appkey") != self.app_key or h.get("appsecret") != self.app_secret or h.get("custtype") != "P":
            return self.refuse(handler, 500, "EGW00103", "유효하지 않은 AppKey입니다.")
        if not self.bearer_ok(handler):
            return self.refuse(handler, 500, "EGW00123", "기간이 만료된 token 입니다.")
        mode = self.failure()
        if self.generic_failure(handler, mode):
            return None
        if mode == "rate_limit":
            return self.refuse(handler, self.rate_limit_status, "EGW00201", "초당 거래건수를 초과하였습니다.")
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query, keep_blank_values=True).items()}
        missing = [name for name in KIS_DAILY_PARAMS if name not in query]
        if missing or query["FID_PERIOD_DIV_CODE"] != "D" or query["FID_COND_MRKT_DIV_CODE"] != "J":
            return self.refuse(handler, 200, "OPSQ2001", f"ERROR : INPUT_FIELD_NAME {','.join(missing) or 'FID'}")
        code = query["FID_INPUT_ISCD"]
        first = datetime.strptime(query["FID_INPUT_DATE_1"], "%Y%m%d").date()
        last = datetime.strptime(query["FID_INPUT_DATE_2"], "%Y%m%d").date()
        rows = [] if mode == "empty" else [b for b in self.bars(code) if first <= b.day <= last]
        newest_first = list(reversed(rows))[:KIS_ROWS_PER_CALL]
        handler.answer(200, {
            "rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.",
            "output1": {"hts_kor_isnm": "삼성전자", "stck_shrn_iscd": code},
            "output2": [self.kis_row(b) for b in newest_first],
        })

    @staticmethod
    def kis_row(bar: SampleBar) -> dict[str, str]:
        return {
            "stck_bsop_date": bar.day.strftime("%Y%m%d"), "stck_oprc": str(bar.open), "stck_hgpr": str(bar.high),
            "stck_lwpr": str(bar.low), "stck_clpr": str(bar.close), "acml_vol": str(bar.volume),
            "acml_tr_pbmn": str(bar.close * bar.volume), "flng_cls_code": "00", "prtt_rate": "0.00",
            "mod_yn": "N", "prdy_vrss_sign": "3", "prdy_vrss": "0", "revl_issu_reas": "",
        }


class FakeKiwoom(FakeBroker):
    """Kiwoom: ``POST /oauth2/token`` and ``POST /api/dostk/chart`` with ``api-id: ka10081``."""

    chart_path = KIWOOM_CHART_PATH
    token_path = KIWOOM_TOKEN_PATH
    page_size = 100  # the real service sends more rows per call; small pages exercise next-key

    def route(self, handler: _Handler, method: str, path: str) -> None:
        if method == "POST" and path == KIWOOM_TOKEN_PATH:
            return self.token(handler)
        if method == "POST" and path == KIWOOM_CHART_PATH:
            return self.chart(handler)
        handler.answer(404, {"return_code": 1505, "return_msg": "[1505:URI 오류]"})

    def token(self, handler: _Handler) -> None:
        body = handler.read_json()
        if (body.get("grant_type") != "client_credentials" or body.get("appkey") != self.app_key
                or body.get("secretkey") != self.app_secret):
            return handler.answer(200, {"return_code": 8002, "return_msg": "[8002:앱키와 시크릿키 검증에 실패했습니다]"})
        expires = (datetime.now(KST) + timedelta(days=1)).strftime("%Y%m%d%H%M%S")
        handler.answer(200, {"expires_dt": expires, "token_type": "bearer", "token": self.new_token("kiwoom"),
                             "return_code": 0, "return_msg": "정상적으로 처리되었습니다"})

    def chart(self, handler: _Handler) -> None:
        h = handler.headers
        body = handler.read_json()
        if h.get("api-id") != "ka10081":
            return handler.answer(200, {"return_code": 1504, "return_msg": "[1504:해당 URI에서는 지원하는 API ID가 아닙니다]"})
        if not self.bearer_ok(handler):
            return handler.answer(401, {"return_code": 8005, "return_msg": "[8005:Token이 유효하지 않습니다]"})
        mode = self.failure()
        if self.generic_failure(handler, mode):
            return None
        if mode == "rate_limit":
            return handler.answer(200, {"return_code": 5, "return_msg": "[1700:허용된 요청 개수를 초과하였습니다. API ID=ka10081]"})
        if not body.get("stk_cd") or not body.get("base_dt") or body.get("upd_stkpc_tp") not in ("0", "1"):
            return handler.answer(200, {"return_code": 1511, "return_msg": "[1511:필수 입력 값에 값이 존재하지 않습니다]"})
        code, base = body["stk_cd"], datetime.strptime(body["base_dt"], "%Y%m%d").date()
        offset = 0
        if h.get("cont-yn") == "Y":
            key = h.get("next-key") or ""
            if not key.startswith(f"{code}:{body['base_dt']}:"):
                return handler.answer(200, {"return_code": 1511, "return_msg": "[1511:연속조회키가 잘못되었습니다]"})
            offset = int(key.rsplit(":", 1)[1])
        history = self.bars(code)
        newest_first = [] if mode == "empty" else [i for i in reversed(range(len(history))) if history[i].day <= base]
        page = newest_first[offset:offset + self.page_size]
        more = offset + self.page_size < len(newest_first)
        headers = {"api-id": "ka10081", "cont-yn": "Y" if more else "N",
                   "next-key": f"{code}:{body['base_dt']}:{offset + self.page_size}" if more else ""}
        handler.answer(200, {"stk_cd": code, "stk_dt_pole_chart_qry": [self.kiwoom_row(history, i) for i in page],
                             "return_code": 0, "return_msg": "정상적으로 처리되었습니다"}, headers)

    @staticmethod
    def kiwoom_row(history: list[SampleBar], i: int) -> dict[str, str]:
        bar = history[i]
        previous = history[i - 1].close if i else bar.close

        def signed(price: int) -> str:  # Kiwoom: the sign says up/down versus the previous close
            return ("+" if price > previous else "-" if price < previous else "") + str(price)

        return {
            "dt": bar.day.strftime("%Y%m%d"), "open_pric": signed(bar.open), "high_pric": signed(bar.high),
            "low_pric": signed(bar.low), "cur_prc": signed(bar.close), "trde_qty": str(bar.volume),
            "trde_prica": str(round(bar.close * bar.volume / 1_000_000)), "pred_pre": f"{bar.close - previous:+d}",
            "pred_pre_sig": "2" if bar.close > previous else "5" if bar.close < previous else "3",
            "trde_tern_rt": "+0.10",
        }
