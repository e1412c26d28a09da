"""Daily bars from the Korea Investment & Securities (KIS) Open API.

Endpoints, headers and fields follow ../shared/docs/broker-apis.md Part A:
token ``POST /oauth2/tokenP`` (A2.1), bars ``GET .../inquire-daily-itemchartprice`` with
tr_id ``FHKST03010100`` (A5.9, at most 100 rows per call, no tr_cont paging: move the end date
before the oldest row returned), errors ``rt_cd``/``msg_cd``/``msg1`` (A7).
Pure module: no Django imports; ``chain.get_provider("kis")`` builds it from settings.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from ._http import BrokerHttpProvider, Token, TokenCache, json_body, number, send
from .base import ProviderBars, ProviderError, redact

TOKEN_PATH = "/oauth2/tokenP"
DAILY_BARS_PATH = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"
DAILY_BARS_TR_ID = "FHKST03010100"
ROWS_PER_CALL = 100

TOKEN_REFUSED_CODES = {"EGW00121", "EGW00123"}  # invalid / expired token: reissue once
RATE_LIMIT_CODE = "EGW00201"
TOKEN_TOO_OFTEN_CODE = "EGW00133"

TOKENS = TokenCache()


class KisProvider(BrokerHttpProvider):
    """KIS daily bars for KRX stocks (``FID_COND_MRKT_DIV_CODE=J``).

    ``org_adj_prc`` is sent as ``FID_ORG_ADJ_PRC``; this endpoint's docstring says ``0`` = adjusted
    prices, but the samples conflict (broker-apis.md A5.9) — verify with a real account.
    ``requests_per_second`` paces calls (real accounts allow 18/s, mock accounts 1/s).
    ``rate_limit_retries`` resends a call refused with EGW00201 after ``rate_limit_pause`` seconds.
    """

    name = "kis"
    label = "KIS"
    tokens = TOKENS
    token_refused_codes = TOKEN_REFUSED_CODES
    rate_limit_code = RATE_LIMIT_CODE
    default_requests_per_second = 15.0
    default_rate_limit_pause = 0.5

    def __init__(self, *args: Any, org_adj_prc: str = "0", **kwargs: Any) -> None:
        """``BrokerHttpProvider``'s arguments, and ``org_adj_prc``."""
        super().__init__(*args, **kwargs)
        self.org_adj_prc = org_adj_prc

    # -- bars -------------------------------------------------------------------------------
    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Pages backwards from ``end`` until ``start`` is reached or the server has no older rows.

        Raises ``ProviderError``: transient for timeouts, connection errors, HTTP 5xx and rate
        limits; permanent for missing configuration, refused credentials and business errors.
        """
        self._check_configured()
        rows: dict[str, dict[str, Any]] = {}
        call_end = end
        for _ in range(self.max_calls):
            page = self._daily_page(code, start, call_end)
            dated = [row for row in page if row.get("stck_bsop_date")]
            new = {row["stck_bsop_date"]: row for row in dated if row["stck_bsop_date"] not in rows}
            rows.update(new)
            if not new or len(dated) < ROWS_PER_CALL:
                break
            oldest = datetime.strptime(min(new), "%Y%m%d").date()
            if oldest <= start:
                break
            call_end = oldest - timedelta(days=1)
        if not rows:
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        ordered = [rows[key] for key in sorted(rows)]
        bars = ProviderBars.build(
            [datetime.strptime(r["stck_bsop_date"], "%Y%m%d").date() for r in ordered],
            [number(r.get("stck_oprc")) for r in ordered],
            [number(r.get("stck_hgpr")) for r in ordered],
            [number(r.get("stck_lwpr")) for r in ordered],
            [number(r.get("stck_clpr")) for r in ordered],
            [number(r.get("acml_vol")) for r in ordered],
            value=[number(r.get("acml_tr_pbmn")) for r in ordered],
        ).between(start, end)
        if not len(bars):
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        return bars

    def _daily_page(self, code: str, start: date, end: date) -> list[dict[str, Any]]:
        params = {
            "FID_COND_MRKT_DIV_CODE": "J",
            "FID_INPUT_ISCD": code,
            "FID_INPUT_DATE_1": start.strftime("%Y%m%d"),
            "FID_INPUT_DATE_2": end.strftime("%Y%m%d"),
            "FID_PERIOD_DIV_CODE": "D",
            "FID_ORG_ADJ_PRC": self.org_adj_prc,
        }
        body = self._get(DAILY_BARS_PATH, DAILY_BARS_TR_ID, params)
        output2 = body.get("output2") or []
        if not isinstance(output2, list):
            raise ProviderError("unreadable answer (output2 is not a list)", permanent=False)
        return [row for row in output2 if isinstance(row, dict)]

    # -- transport --------------------------------------------------------------------------
    def _get(self, path: str, tr_id: str, params: dict[str, str]) -> dict[str, Any]:
        """One GET with token handling: reissue once on EGW00121/EGW00123/401, back off on EGW00201."""
        response, body, _ = self._authorized(
            "GET", path, lambda token: self._headers(token, tr_id), params=params,
        )
        return self._checked(response, body)

    def _checked(self, response: httpx.Response, body: dict[str, Any]) -> dict[str, Any]:
        self._check_http(response, body)
        if str(body.get("rt_cd", "0")) != "0":
            raise ProviderError(f"refused{self._message(body)}", permanent=True)
        return body

    @staticmethod
    def _reply_code(body: dict[str, Any]) -> str:
        return str(body.get("msg_cd") or "")

    def _message(self, body: dict[str, Any]) -> str:
        code = body.get("msg_cd") or body.get("error_code") or ""
        text = body.get("msg1") or body.get("error_description") or ""
        detail = " ".join(str(part).strip() for part in (code, text) if part)
        return redact(f": {detail}", self._app_secret) if detail else ""

    def _headers(self, token: str, tr_id: str) -> dict[str, str]:
        return {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {token}",
            "appkey": self.app_key,
            "appsecret": self._app_secret,
            "tr_id": tr_id,
            "custtype": "P",
        }

    # -- token ------------------------------------------------------------------------------
    def _issue_token(self) -> Token:
        response = send(
            self._client, "POST", self.base_url + TOKEN_PATH, timeout=self.timeout,
            json={"grant_type": "client_credentials", "appkey": self.app_key, "appsecret": self._app_secret},
        )
        body = json_body(response) or {}
        code = str(body.get("msg_cd") or body.get("error_code") or "")
        if code == TOKEN_TOO_OFTEN_CODE:
            raise ProviderError(f"token issued too often, wait a minute{self._message(body)}", permanent=False)
        if response.status_code >= 500 and code not in {"EGW00103", "EGW00105"}:
            raise ProviderError(f"token request failed: server error HTTP {response.status_code}", permanent=False)
        access_token = body.get("access_token")
        if response.status_code != 200 or not access_token:
            raise ProviderError(f"token refused, check the app key and secret{self._message(body)}", permanent=True)
        expires_in = float(body.get("expires_in") or 86400)
        return Token(str(access_token), time.time() + expires_in)
