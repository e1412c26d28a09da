"""The book of the fake Kiwoom: accounts, orders (place, fill, revise, cancel) and the account
inquiries (``ka00001``, ``kt00001``, ``kt00004``, ``kt00007``, ``kt00011``, ``kt00018``, ``ka10075``,
``ka10076``) in Kiwoom's answer shapes (``kiwoom/_data/kiwoom_api_spec.json`` of
``Kiwoom-Securities/Kiwoom-REST-API``): zero-padded signed amounts, ``A``-prefixed codes in account
listings, ``HH:MM:SS`` times in ``kt00007``, ``+매수``/``-매도`` order kinds in ``ka10075``/``ka10076``.
``FakeKiwoom`` (``kiwoom.py``) mixes it in and owns tokens, pacing, paging and quotes.

Unconfirmed shapes (no public sample): order rejections (not enough cash/shares, nothing left to
revise or cancel) are answered ``return_code 20`` with a Korean message.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .server import Answer

KST = timezone(timedelta(hours=9))
OK = "정상적으로 처리되었습니다"
TRADE_TYPES = {"0": "보통", "3": "시장가", "10": "보통(IOC)", "13": "시장가(IOC)", "20": "보통(FOK)", "23": "시장가(FOK)"}
MARKET_TYPES = {"3", "13", "23"}
IMMEDIATE = {"10", "13", "20", "23"}  # IOC / FOK: whatever does not fill now is cancelled


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


class KiwoomBook:
    """Orders and account inquiries; the host class provides ``accounts``, ``stocks``, ``environment``,
    ``clock`` and ``lock``. Handlers take (account, request body) and return an ``Answer``, a body, or
    (body, the key of its paged rows)."""

    accounts: dict[str, Account]
    stocks: dict[str, Stock]
    environment: str
    clock: Callable[[], float]
    _numbers: itertools.count

    def fill(self, ord_no: str, quantity: int, price: int | None = None) -> None:
        """Fill ``quantity`` of a resting order at ``price`` (the order's price when None)."""
        with self.lock:
            account, order = self._find(ord_no)
            if order is None or order.remaining < quantity:
                raise ValueError(f"order {ord_no} has less than {quantity} open")
            self._execute(account, order, quantity, int(price or order.price))

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
