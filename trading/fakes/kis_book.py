"""The business side of the fake KIS (``kis.py``): accounts, orders, fills, listings and their pages.

``KisBook.handle`` answers one request that already passed the gateway (key, rate, token, TR id).
Field names are those of KIS's samples (``examples_llm/domestic_stock/*/chk_*.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .server import Answer, Request

if TYPE_CHECKING:
    from .kis import FakeKis

MARKET_DIVISIONS = frozenset({"01", "13", "14"})
ORDER_DIVISIONS = frozenset({"00", "01", "11", "12", "13", "14"})
REAL_ONLY_DIVISIONS = frozenset({"11", "12", "13", "14"})
DIVISION_NAMES = {"00": "지정가", "01": "시장가", "11": "IOC지정가", "12": "FOK지정가", "13": "IOC시장가", "14": "FOK시장가"}
ORDER_FIELDS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR", "EXCG_ID_DVSN_CD")
REVISE_FIELDS = ("CANO", "ACNT_PRDT_CD", "KRX_FWDG_ORD_ORGNO", "ORGN_ODNO", "ORD_DVSN", "RVSE_CNCL_DVSN_CD",
                 "ORD_QTY", "ORD_UNPR", "QTY_ALL_ORD_YN", "EXCG_ID_DVSN_CD")
OK = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}
CHANGED = ("SYDB0050", "조회이후에 자료가 변경되었습니다.(다시 조회하세요)")


def _error(code: str, text: str, status: int = 200) -> Answer:
    return Answer(status, {"rt_cd": "1", "msg_cd": code, "msg1": text})


def _n(value: Decimal | int) -> str:
    return str(int(value)) if Decimal(value) == Decimal(value).to_integral_value() else f"{value:.4f}"


@dataclass
class FakeAccount:
    app_key: str
    app_secret: str
    account_no: str  # 10 digits
    hts_id: str
    environment: str  # "real" | "mock"
    cash: Decimal
    positions: dict[str, list[Decimal]] = field(default_factory=dict)  # symbol -> [qty, avg price]
    orders: list[FakeOrder] = field(default_factory=list)


@dataclass
class FakeOrder:
    odno: str
    org: str
    symbol: str
    side: str  # "01" sell, "02" buy
    quantity: Decimal
    price: Decimal
    division: str
    day: date
    time: str
    filled: Decimal = Decimal(0)
    filled_amount: Decimal = Decimal(0)
    cancelled: Decimal = Decimal(0)  # cnc_cfrm_qty: cancelled or moved to a revision
    original: str = ""
    cancel_row: bool = False  # the row a cancel itself makes (cncl_yn Y)

    @property
    def remaining(self) -> Decimal:
        return Decimal(0) if self.cancel_row else self.quantity - self.filled - self.cancelled


class KisBook:
    def __init__(self, server: FakeKis) -> None:
        self.server = server
        self.accounts: dict[str, FakeAccount] = {}
        self._sequence = 0
        self._handlers = {
            "order-cash": self._order, "order-rvsecncl": self._revise, "inquire-balance": self._balance,
            "inquire-daily-ccld": self._daily_ccld, "inquire-psbl-order": self._buyable,
            "inquire-psbl-sell": self._sellable, "inquire-psbl-rvsecncl": self._open_orders,
            "inquire-price": self._price, "inquire-daily-itemchartprice": self._chart, "chk-holiday": self._holidays,
        }

    def handle(self, request: Request, account: FakeAccount) -> Answer:
        params = request.body if request.method == "POST" else request.query
        if "/trading/" in request.path:
            if request.method == "POST":
                bad = [k for k in request.body if k != k.upper() or not isinstance(request.body[k], str)]
                if bad:
                    return _error("OPSQ2001", f"ERROR : INPUT_FIELD_NAME {bad[0]}")
            if params.get("CANO", "") + params.get("ACNT_PRDT_CD", "") != account.account_no:
                return _error("OPSQ2000", "ERROR : INPUT INVALID_CHECK_ACNO")
        return self._handlers[request.path.rsplit("/", 1)[-1]](request, account, params)

    # -- bookkeeping ---------------------------------------------------------------------------
    def orderable(self, account: FakeAccount) -> Decimal:
        return account.cash - sum((o.remaining * o.price for o in account.orders if o.side == "02"), Decimal(0))

    def sellable(self, account: FakeAccount, symbol: str) -> Decimal:
        held = account.positions.get(symbol, [Decimal(0)])[0]
        return held - sum((o.remaining for o in account.orders if o.side == "01" and o.symbol == symbol), Decimal(0))

    def _new_order(self, account: FakeAccount, **fields: Any) -> FakeOrder:
        self._sequence += 1
        now = self.server.kst()
        org = "06010" if account.environment == "real" else "00950"
        order = FakeOrder(odno=f"{self._sequence:010d}", org=org, day=now.date(), time=now.strftime("%H%M%S"), **fields)
        account.orders.append(order)
        return order

    def fill(self, order_no: str, quantity: Decimal, price: Decimal | None) -> None:
        account, order = next((a, o) for a in self.accounts.values() for o in a.orders if o.odno == order_no)
        if quantity <= 0 or quantity > order.remaining:
            raise ValueError(f"order {order_no} has {order.remaining} remaining, cannot fill {quantity}")
        price = price or order.price or self.server.listed[order.symbol].price
        order.filled += quantity
        order.filled_amount += quantity * price
        held = account.positions.setdefault(order.symbol, [Decimal(0), Decimal(0)])
        if order.side == "02":
            account.cash -= quantity * price
            held[1] = (held[0] * held[1] + quantity * price) / (held[0] + quantity)
            held[0] += quantity
        else:
            account.cash += quantity * price
            held[0] -= quantity

    def _answer(self, account: FakeAccount, order: FakeOrder, action: str) -> Answer:
        real = account.environment == "real"
        text = "주문 전송 완료 되었습니다." if real else f"모의투자 {action}주문이 완료 되었습니다."
        return Answer(200, {"rt_cd": "0", "msg_cd": "APBK0013" if real else "40600000", "msg1": text,
                            "output": {"KRX_FWDG_ORD_ORGNO": order.org, "ODNO": order.odno, "ORD_TMD": order.time}})

    def _execute(self, order: FakeOrder) -> None:
        """Market orders fill at the current price; IOC/FOK limits fill if marketable, else cancel."""
        current = self.server.listed[order.symbol].price
        marketable = order.price >= current if order.side == "02" else order.price <= current
        if order.division in MARKET_DIVISIONS or (order.division in ("11", "12") and marketable):
            self.fill(order.odno, order.remaining, current)
        elif order.division in ("11", "12"):
            order.cancelled += order.remaining

    # -- orders --------------------------------------------------------------------------------
    def _order(self, request: Request, account: FakeAccount, body: dict[str, Any]) -> Answer:
        missing = next((k for k in ORDER_FIELDS if k not in body), None)
        if missing:
            return _error("OPSQ2001", f"ERROR : INPUT_FIELD_NAME {missing}")
        refused = self._check_order(account, body["ORD_DVSN"], body["PDNO"])
        if refused:
            return refused
        side = "02" if request.header("tr_id").endswith("2U") else "01"  # 0012U/0802U buy, 0011U/0801U sell
        quantity, price = Decimal(body["ORD_QTY"]), Decimal(body["ORD_UNPR"])
        current = self.server.listed[body["PDNO"]].price
        if quantity <= 0 or (body["ORD_DVSN"] not in MARKET_DIVISIONS and price <= 0):
            return _error("FAKE0005", "ORD_QTY/ORD_UNPR out of range (the fake's own check)")
        cost = quantity * (current if body["ORD_DVSN"] in MARKET_DIVISIONS else price)
        if side == "02" and cost > self.orderable(account):
            return _error("APBK0952", "주문가능금액을 초과 했습니다")
        if side == "01" and quantity > self.sellable(account, body["PDNO"]):
            return _error("APBK0400", "주문가능수량을 초과했습니다.")
        order = self._new_order(account, symbol=body["PDNO"], side=side, quantity=quantity,
                                price=Decimal(0) if body["ORD_DVSN"] in MARKET_DIVISIONS else price,
                                division=body["ORD_DVSN"])
        self._execute(order)
        return self._answer(account, order, "매수" if side == "02" else "매도")

    def _check_order(self, account: FakeAccount, division: str, symbol: str) -> Answer | None:
        if not self.server.market_open:
            return _error("APBK0919", "장운영시간이 아닙니다.")
        if symbol not in self.server.listed:
            return _error("APBK0656", "해당 종목정보가 없습니다.")
        if division not in ORDER_DIVISIONS or (account.environment == "mock" and division in REAL_ONLY_DIVISIONS):
            return _error("FAKE0003", "ORD_DVSN not accepted here (the fake's own check)")
        return None

    def _revise(self, request: Request, account: FakeAccount, body: dict[str, Any]) -> Answer:
        missing = next((k for k in REVISE_FIELDS if k not in body), None)
        if missing:
            return _error("OPSQ2001", f"ERROR : INPUT_FIELD_NAME {missing}")
        original = next((o for o in account.orders if o.odno == body["ORGN_ODNO"]
                         and o.org == body["KRX_FWDG_ORD_ORGNO"] and not o.cancel_row), None)
        if original is None and self.server.market_open:
            return _error("FAKE0007", "원주문이 없습니다 (the fake's own code)")
        refused = self._check_order(account, body["ORD_DVSN"], original.symbol if original else "")
        if refused or original is None:
            return refused or _error("FAKE0007", "원주문이 없습니다 (the fake's own code)")
        quantity = original.remaining if body["QTY_ALL_ORD_YN"] == "Y" else Decimal(body["ORD_QTY"])
        if original.remaining <= 0 or quantity <= 0 or quantity > original.remaining:
            return _error("FAKE0004", "정정취소가능수량이 없습니다 (the fake's own code)")
        original.cancelled += quantity
        cancel = body["RVSE_CNCL_DVSN_CD"] == "02"
        order = self._new_order(account, symbol=original.symbol, side=original.side, quantity=quantity,
                                price=original.price if cancel else Decimal(body["ORD_UNPR"]),
                                division=original.division if cancel else body["ORD_DVSN"],
                                original=original.odno, cancel_row=cancel)
        if not cancel:
            self._execute(order)
        return self._answer(account, order, "취소" if cancel else "정정")

    # -- listings ------------------------------------------------------------------------------
    def _page(self, request: Request, rows: list[dict], kind: str, environment: str,
              keys: tuple[str, str] = ("CTX_AREA_FK100", "CTX_AREA_NK100")) -> tuple[list[dict], dict, dict] | Answer:
        """The page the request asks for, the ``ctx_area_*`` body fields and the ``tr_cont`` header."""
        params = request.query
        condition = hashlib.sha1(repr(sorted((k, v) for k, v in params.items() if k not in keys)).encode())
        fk = condition.hexdigest()[:20].ljust(100)
        offset = 0
        if request.header("tr_cont") == "N":
            nk = params.get(keys[1], "").strip()
            if params.get(keys[0], "").strip() != fk.strip() or not nk.isdigit():
                return _error("FAKE0006", "tr_cont N needs the ctx_area_* of the previous page (the fake's own check)")
            offset = int(nk)
        size = self.server.page_sizes[kind][environment]
        more = offset + size < len(rows)
        header = ("F" if offset == 0 else "M") if more else ("D" if offset == 0 else "E")
        ctx = {keys[0].lower(): fk, keys[1].lower(): str(offset + size if more else offset).ljust(100)}
        return rows[offset:offset + size], ctx, {"tr_cont": header}

    def _balance(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        rows = [self._position_row(account, symbol) for symbol in sorted(account.positions)]
        paged = self._page(request, rows, "balance", account.environment)
        if isinstance(paged, Answer):
            return paged
        page, ctx, headers = paged
        held = sum((Decimal(r["evlu_amt"]) for r in rows), Decimal(0))
        bought = sum((Decimal(r["pchs_amt"]) for r in rows), Decimal(0))
        cash = _n(account.cash)
        summary = {"dnca_tot_amt": cash, "nxdy_excc_amt": cash, "prvs_rcdl_excc_amt": cash, "cma_evlu_amt": "0",
                   "thdt_buy_amt": "0", "thdt_sll_amt": "0", "thdt_tlex_amt": "0", "scts_evlu_amt": _n(held),
                   "tot_evlu_amt": _n(account.cash + held), "nass_amt": _n(account.cash + held),
                   "pchs_amt_smtl_amt": _n(bought), "evlu_amt_smtl_amt": _n(held),
                   "evlu_pfls_smtl_amt": _n(held - bought), "bfdy_tot_asst_evlu_amt": _n(account.cash + held),
                   "asst_icdc_amt": "0", "asst_icdc_erng_rt": "0.00000000"}
        return Answer(200, {**ctx, "output1": page, "output2": [summary], **OK}, headers)

    def _position_row(self, account: FakeAccount, symbol: str) -> dict[str, str]:
        qty, avg = account.positions[symbol]
        listed = self.server.listed.get(symbol)
        current = listed.price if listed else avg
        value, cost = qty * current, qty * avg
        return {"pdno": symbol, "prdt_name": listed.name if listed else "", "trad_dvsn_name": "현금",
                "hldg_qty": _n(qty), "ord_psbl_qty": _n(self.sellable(account, symbol)),
                "pchs_avg_pric": f"{avg:.4f}", "pchs_amt": _n(cost), "prpr": _n(current), "evlu_amt": _n(value),
                "evlu_pfls_amt": _n(value - cost), "evlu_pfls_rt": f"{(value - cost) / cost * 100:.2f}" if cost else "0.00",
                "thdt_buyqty": "0", "thdt_sll_qty": "0", "bfdy_buy_qty": "0", "bfdy_sll_qty": "0", "fltt_rt": "0.00"}

    def _daily_ccld(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        if request.header("tr_cont") == "N" and self.server.change_between_pages:
            self.server.change_between_pages = int(self.server.change_between_pages) - 1
            return _error(*CHANGED)
        first, last = (datetime.strptime(params.get(k, ""), "%Y%m%d").date() for k in ("INQR_STRT_DT", "INQR_END_DT"))
        wanted = {"01": lambda o: o.filled > 0, "02": lambda o: o.remaining > 0}.get(params.get("CCLD_DVSN", "00"))
        side = {"01": "01", "02": "02"}.get(params.get("SLL_BUY_DVSN_CD", "00"))
        orders = [o for o in account.orders if first <= o.day <= last and (wanted is None or wanted(o))
                  and (side is None or o.side == side) and params.get("PDNO", "") in ("", o.symbol)
                  and params.get("ODNO", "") in ("", o.odno)]
        if params.get("INQR_DVSN", "00") == "00":
            orders.reverse()
        paged = self._page(request, [self._order_row(o) for o in orders], "ccld", account.environment)
        if isinstance(paged, Answer):
            return paged
        page, ctx, headers = paged
        filled = sum((o.filled for o in orders), Decimal(0))
        amount = sum((o.filled_amount for o in orders), Decimal(0))
        summary = {"tot_ord_qty": _n(sum((o.quantity for o in orders), Decimal(0))), "tot_ccld_qty": _n(filled),
                   "tot_ccld_amt": _n(amount), "prsm_tlex_smtl": "0",
                   "pchs_avg_pric": f"{amount / filled:.4f}" if filled else "0.0000"}
        return Answer(200, {**ctx, "output1": page, "output2": summary, **OK}, headers)

    def _order_row(self, order: FakeOrder) -> dict[str, str]:
        name = self.server.listed[order.symbol].name if order.symbol in self.server.listed else ""
        return {"ord_dt": order.day.strftime("%Y%m%d"), "ord_gno_brno": order.org, "odno": order.odno,
                "orgn_odno": order.original, "ord_dvsn_cd": order.division,
                "ord_dvsn_name": DIVISION_NAMES.get(order.division, ""), "sll_buy_dvsn_cd": order.side,
                "sll_buy_dvsn_cd_name": ("매도" if order.side == "01" else "매수") + (" 취소" if order.cancel_row else ""),
                "pdno": order.symbol, "prdt_name": name, "ord_qty": _n(order.quantity), "ord_unpr": _n(order.price),
                "ord_tmd": order.time, "tot_ccld_qty": _n(order.filled), "tot_ccld_amt": _n(order.filled_amount),
                "avg_prvs": _n(order.filled_amount / order.filled) if order.filled else "0",
                "cncl_yn": "Y" if order.cancel_row else "N", "cnc_cfrm_qty": _n(order.cancelled),
                "rmn_qty": _n(order.remaining), "rjct_qty": "0", "ccld_cndt_name": "없음", "infm_tmd": order.time,
                "excg_dvsn_cd": "02", "excg_id_dvsn_Cd": "KRX", "stpm_cndt_pric": "0"}

    def _open_orders(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        rows = []
        for order in account.orders:
            if order.remaining > 0:
                row = self._order_row(order)
                rows.append({**{k: row[k] for k in ("ord_gno_brno", "odno", "orgn_odno", "ord_dvsn_name", "pdno",
                                                      "prdt_name", "ord_qty", "ord_unpr", "ord_tmd", "tot_ccld_qty",
                                                      "tot_ccld_amt", "sll_buy_dvsn_cd", "ord_dvsn_cd")},
                             "psbl_qty": _n(order.remaining), "rvse_cncl_dvsn_name": "", "excg_id_dvsn_cd": "KRX"})
        paged = self._page(request, rows, "open", account.environment)
        if isinstance(paged, Answer):
            return paged
        page, ctx, headers = paged
        return Answer(200, {**ctx, "output": page, **OK}, headers)

    def _buyable(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        listed = self.server.listed.get(params.get("PDNO", ""))
        price = Decimal(params.get("ORD_UNPR") or 0) or (listed.price if listed else Decimal(0))
        cash = self.orderable(account)
        qty = int(cash // price) if price > 0 else 0
        return Answer(200, {**OK, "output": {
            "ord_psbl_cash": _n(cash), "ord_psbl_sbst": "0", "ruse_psbl_amt": "0", "psbl_qty_calc_unpr": _n(price),
            "nrcvb_buy_amt": _n(qty * price), "nrcvb_buy_qty": str(qty), "max_buy_amt": _n(qty * price),
            "max_buy_qty": str(qty), "cma_evlu_amt": "0"}})

    def _sellable(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        symbol = params.get("PDNO", "")
        qty, avg = account.positions.get(symbol, [Decimal(0), Decimal(0)])
        return Answer(200, {**OK, "output": {"pdno": symbol, "buy_qty": "0", "sll_qty": "0", "cblc_qty": _n(qty),
                                             "ord_psbl_qty": _n(self.sellable(account, symbol)),
                                             "pchs_avg_pric": f"{avg:.4f}"}})

    # -- quotations ----------------------------------------------------------------------------
    def _price(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        if params.get("FID_COND_MRKT_DIV_CODE") not in ("J", "NX", "UN"):
            return _error("OPSQ2001", "ERROR : INPUT_FIELD_NAME FID_COND_MRKT_DIV_CODE")
        return Answer(200, {**OK, "output": self.server.quote_output(params.get("FID_INPUT_ISCD", ""))})

    def _chart(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        names = ("FID_COND_MRKT_DIV_CODE", "FID_INPUT_ISCD", "FID_INPUT_DATE_1", "FID_INPUT_DATE_2",
                 "FID_PERIOD_DIV_CODE", "FID_ORG_ADJ_PRC")
        missing = next((k for k in names if k not in params), None)
        if missing or params["FID_PERIOD_DIV_CODE"] != "D":
            return _error("OPSQ2001", f"ERROR : INPUT_FIELD_NAME {missing or 'FID_PERIOD_DIV_CODE'}")
        symbol = params["FID_INPUT_ISCD"]
        first, last = (datetime.strptime(params[k], "%Y%m%d").date() for k in names[2:4])
        listed = self.server.listed.get(symbol)
        bars = [b for b in (listed.bars if listed else []) if first <= b[0] <= last][::-1][:100]
        rows = [{"stck_bsop_date": d.strftime("%Y%m%d"), "stck_oprc": str(o), "stck_hgpr": str(h), "stck_lwpr": str(lo),
                 "stck_clpr": str(c), "acml_vol": str(v), "acml_tr_pbmn": str(c * v), "flng_cls_code": "00",
                 "prtt_rate": "0.00", "mod_yn": "N", "prdy_vrss_sign": "3", "prdy_vrss": "0", "revl_issu_reas": ""}
                for d, o, h, lo, c, v in bars]
        head = {"hts_kor_isnm": listed.name if listed else "", "stck_shrn_iscd": symbol,
                "stck_prpr": str(listed.price) if listed else "0"}
        return Answer(200, {**OK, "output1": head, "output2": rows})

    def _holidays(self, request: Request, account: FakeAccount, params: dict[str, str]) -> Answer:
        start = datetime.strptime(params.get("BASS_DT", ""), "%Y%m%d").date()
        rows = []
        for offset in range(30):
            day = start + timedelta(days=offset)
            open_ = "Y" if day.weekday() < 5 and day not in self.server.holidays else "N"
            rows.append({"bass_dt": day.strftime("%Y%m%d"), "wday_dvsn_cd": f"{(day.weekday() + 1) % 7 + 1:02d}",
                         "bzdy_yn": open_, "tr_day_yn": open_, "opnd_yn": open_, "sttl_day_yn": open_})
        return Answer(200, {**OK, "ctx_area_fk": "".ljust(20), "ctx_area_nk": "".ljust(20), "output": rows},
                        {"tr_cont": "D"})
