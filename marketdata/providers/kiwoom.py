"""Daily bars from the Kiwoom REST API (ka10081, 주식일봉차트).

Endpoints, headers and fields follow ../shared/docs/broker-apis.md Part B: token
``POST /oauth2/token`` (B3), bars ``POST /api/dostk/chart`` with header ``api-id: ka10081`` and body
``stk_cd``/``base_dt``/``upd_stkpc_tp`` (B6), paging with the ``cont-yn``/``next-key`` headers
(B2), errors in ``return_code``/``return_msg`` (B7). Prices carry a sign (direction versus the
previous close): the absolute value is the price. ``trde_prica`` is in millions of KRW (inferred
from published sample answers: 9,263,135 shares at ~70,100 → "648525").
Pure module: no Django imports.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx

from ._http import BrokerHttpProvider, Token, TokenCache, json_body, number, send
from .base import ProviderBars, ProviderError, redact

TOKEN_PATH = "/oauth2/token"
CHART_PATH = "/api/dostk/chart"
DAILY_BARS_API_ID = "ka10081"
TOKEN_API_ID = "au10001"
ROWS_KEY = "stk_dt_pole_chart_qry"
VALUE_UNIT = 1_000_000  # trde_prica is reported in millions of KRW

TOKEN_REFUSED_CODES = {8005, 8031, 8103}  # Kiwoom's own client reissues once on these (and on 401)
RATE_LIMIT_CODE = 1700
UNKNOWN_SYMBOL_CODES = {1901, 1902}
SERVER_ERROR_CODE = 1999
KST = timezone(timedelta(hours=9))

TOKENS = TokenCache()


class KiwoomProvider(BrokerHttpProvider):
    """Kiwoom daily bars for KRX stocks.

    ``adjusted`` sends ``upd_stkpc_tp`` ``1`` (adjusted) or ``0`` (raw); the mapping is unconfirmed
    (broker-apis.md B6). Calls are paced to ``requests_per_second`` (Kiwoom: assume ≤ 5/s).
    """

    name = "kiwoom"
    label = "KIWOOM"
    tokens = TOKENS
    token_refused_codes = TOKEN_REFUSED_CODES
    rate_limit_code = RATE_LIMIT_CODE

    default_requests_per_second = 4.0
    default_rate_limit_pause = 1.0

    def __init__(self, *args: Any, adjusted: bool = True, **kwargs: Any) -> None:
        """``BrokerHttpProvider``'s arguments, and ``adjusted``."""
        super().__init__(*args, **kwargs)
        self.adjusted = adjusted

    # -- bars -------------------------------------------------------------------------------
    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Asks from ``end`` backwards, following ``next-key`` until ``start`` is covered.

        Raises ``ProviderError`` (transient for timeouts, 5xx, rate limits and 1999; permanent for
        missing configuration, refused credentials, unknown symbols and other refusals).
        """
        self._check_configured()
        request = {"stk_cd": code, "base_dt": end.strftime("%Y%m%d"), "upd_stkpc_tp": "1" if self.adjusted else "0"}
        rows: dict[str, dict[str, Any]] = {}
        cont_yn, next_key = "N", ""
        for _ in range(self.max_calls):
            response, body = self._post(CHART_PATH, DAILY_BARS_API_ID, request, cont_yn=cont_yn, next_key=next_key)
            page = body.get(ROWS_KEY) or []
            if not isinstance(page, list):
                raise ProviderError(f"unreadable answer ({ROWS_KEY} is not a list)", permanent=False)
            dated = [row for row in page if isinstance(row, dict) and row.get("dt")]
            for row in dated:
                rows.setdefault(row["dt"], row)
            more = response.headers.get("cont-yn", "N") == "Y"
            next_key = response.headers.get("next-key", "")
            reached_start = any(row["dt"] <= start.strftime("%Y%m%d") for row in dated)
            if not dated or not more or not next_key or reached_start:
                break
            cont_yn = "Y"
        bars = self._bars(rows).between(start, end)
        if not len(bars):
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        return bars

    @staticmethod
    def _bars(rows: dict[str, dict[str, Any]]) -> ProviderBars:
        ordered = [rows[key] for key in sorted(rows)]
        return ProviderBars.build(
            [datetime.strptime(r["dt"], "%Y%m%d").date() for r in ordered],
            [number(r.get("open_pric")) for r in ordered],
            [number(r.get("high_pric")) for r in ordered],
            [number(r.get("low_pric")) for r in ordered],
            [number(r.get("cur_prc")) for r in ordered],
            [number(r.get("trde_qty")) for r in ordered],
            value=[number(r.get("trde_prica")) * VALUE_UNIT for r in ordered],
        )

    # -- transport --------------------------------------------------------------------------
    def _post(
        self, path: str, api_id: str, payload: dict[str, str], *, cont_yn: str, next_key: str
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """One POST with token handling: reissue once on 401/8005/8031/8103, back off on 1700/429."""
        def headers(token: str) -> dict[str, str]:
            return {
                "Content-Type": "application/json;charset=UTF-8",
                "authorization": f"Bearer {token}",
                "api-id": api_id,
                "cont-yn": cont_yn,
                "next-key": next_key,
            }

        response, body, code = self._authorized("POST", path, headers, json=payload)
        return response, self._checked(response, body, code)

    def _checked(self, response: httpx.Response, body: dict[str, Any], code: int | None) -> dict[str, Any]:
        self._check_http(response, body)
        if code in UNKNOWN_SYMBOL_CODES:
            raise ProviderError(f"unknown symbol{self._message(body)}", permanent=True)
        if code == SERVER_ERROR_CODE:
            raise ProviderError(f"server error{self._message(body)}", permanent=False)
        if code:
            raise ProviderError(f"refused{self._message(body)}", permanent=True)
        return body

    @staticmethod
    def _reply_code(body: dict[str, Any]) -> int | None:
        return _return_code(body)

    def _message(self, body: dict[str, Any]) -> str:
        parts = [str(body.get(k)).strip() for k in ("return_code", "return_msg") if body.get(k) not in (None, "")]
        return redact(": " + " ".join(parts), self._app_secret) if parts else ""

    # -- token ------------------------------------------------------------------------------
    def _issue_token(self) -> Token:
        response = send(
            self._client, "POST", self.base_url + TOKEN_PATH, timeout=self.timeout,
            headers={"Content-Type": "application/json;charset=UTF-8", "api-id": TOKEN_API_ID},
            json={"grant_type": "client_credentials", "appkey": self.app_key, "secretkey": self._app_secret},
        )
        body = json_body(response) or {}
        if response.status_code >= 500:
            raise ProviderError(f"token request failed: server error HTTP {response.status_code}", permanent=False)
        if _return_code(body) == RATE_LIMIT_CODE or response.status_code == 429:
            raise ProviderError("rate limited while issuing a token", permanent=False)
        token = body.get("token")
        if response.status_code != 200 or _return_code(body) or not token:
            raise ProviderError(f"token refused, check the app key and secret{self._message(body)}", permanent=True)
        return Token(str(token), _expiry(body.get("expires_dt")))


def _return_code(body: dict[str, Any]) -> int | None:
    """``return_code`` as an int; a throttle reply may say ``5`` with ``[1700:…]`` in the message."""
    raw = body.get("return_code")
    if raw is None:
        return None
    try:
        code = int(raw)
    except (TypeError, ValueError):
        return None
    bracketed = re.search(r"\[(\d{4})\s*:", str(body.get("return_msg") or ""))
    if code and bracketed:
        return int(bracketed.group(1))
    return code


def _expiry(expires_dt: Any) -> float:
    """``expires_dt`` (``YYYYMMDDHHMMSS`` KST) as epoch seconds; 24 h from now when missing."""
    try:
        return datetime.strptime(str(expires_dt), "%Y%m%d%H%M%S").replace(tzinfo=KST).timestamp()
    except ValueError:
        return time.time() + 86400
