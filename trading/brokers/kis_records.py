"""KIS answer rows as our records (``base.py``): field names as KIS's samples print them
(``examples_llm/domestic_stock/*/chk_*.py``). Every number is a string at KIS; here a ``Decimal``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import Balance, DailyBar, MarketDay, OrderRecord, PositionRecord, Quote, Side


def number(text: Any) -> Decimal:
    """A KIS number string ("70100", "-1.5", "", None) as a Decimal; empty or unreadable is 0."""
    cleaned = str(text if text is not None else "").strip().replace(",", "")
    try:
        return Decimal(cleaned) if cleaned else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def day_of(text: Any) -> date | None:
    """``YYYYMMDD`` as a date (None when it is not one)."""
    try:
        return datetime.strptime(str(text).strip(), "%Y%m%d").date()
    except ValueError:
        return None


def rows(value: Any) -> list[dict[str, Any]]:
    """Output rows: KIS sends a list, sometimes one object, and ``[{}]`` when there is nothing."""
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return [row for row in items if isinstance(row, dict) and any(str(v).strip() for v in row.values())]


def _text(row: dict[str, Any], key: str) -> str:
    return str(row.get(key) or "").strip()


def quote_record(symbol: str, out: dict[str, Any]) -> Quote:
    """``inquire-price`` ``output``; ``previous_close`` is ``stck_sdpr`` (the base price)."""

    def optional(key: str) -> Decimal | None:
        return number(out.get(key)) or None

    return Quote(symbol=symbol, price=number(out.get("stck_prpr")), open=optional("stck_oprc"),
                 high=optional("stck_hgpr"), low=optional("stck_lwpr"),
                 previous_close=optional("stck_prdy_clpr") or optional("stck_sdpr"),
                 upper_limit=optional("stck_mxpr"), lower_limit=optional("stck_llam"), tick=optional("aspr_unit"),
                 volume=int(number(out.get("acml_vol"))), name=_text(out, "hts_kor_isnm"),
                 halted=_text(out, "temp_stop_yn") == "Y")


def daily_bar(day: date, row: dict[str, Any]) -> DailyBar:
    """An ``inquire-daily-itemchartprice`` ``output2`` row."""
    return DailyBar(day=day, open=number(row.get("stck_oprc")), high=number(row.get("stck_hgpr")),
                    low=number(row.get("stck_lwpr")), close=number(row.get("stck_clpr")),
                    volume=int(number(row.get("acml_vol"))), value=number(row.get("acml_tr_pbmn")) or None)


def order_record(row: dict[str, Any]) -> OrderRecord:
    """An ``inquire-daily-ccld`` ``output1`` row, or an ``inquire-psbl-rvsecncl`` row (remaining =
    ``psbl_qty``, no day)."""
    return OrderRecord(
        order_no=_text(row, "odno"), symbol=_text(row, "pdno"),
        side=Side.SELL if _text(row, "sll_buy_dvsn_cd") == "01" else Side.BUY,
        quantity=number(row.get("ord_qty")), price=number(row.get("ord_unpr")),
        filled_quantity=number(row.get("tot_ccld_qty")),
        remaining_quantity=number(row.get("rmn_qty", row.get("psbl_qty"))),
        average_price=number(row.get("avg_prvs")), filled_amount=number(row.get("tot_ccld_amt")),
        org_no=_text(row, "ord_gno_brno"), original_order_no=_text(row, "orgn_odno"),
        order_type_code=_text(row, "ord_dvsn_cd"), ordered_at=_text(row, "ord_tmd"),
        order_day=day_of(row.get("ord_dt")), cancelled=_text(row, "cncl_yn") == "Y",
        rejected_quantity=number(row.get("rjct_qty")), name=_text(row, "prdt_name"),
    )


def position_record(row: dict[str, Any]) -> PositionRecord:
    """An ``inquire-balance`` ``output1`` row."""
    return PositionRecord(symbol=_text(row, "pdno"), quantity=number(row.get("hldg_qty")),
                          sellable_quantity=number(row.get("ord_psbl_qty")),
                          average_price=number(row.get("pchs_avg_pric")), current_price=number(row.get("prpr")),
                          name=_text(row, "prdt_name"), evaluation=number(row.get("evlu_amt")),
                          profit_loss=number(row.get("evlu_pfls_amt")),
                          profit_loss_rate=number(row.get("evlu_pfls_rt")))


def balance_record(holdings: list[dict[str, Any]], summary: dict[str, Any]) -> Balance:
    """``inquire-balance`` rows of every page and the ``output2`` summary. Rows sold out today
    (``hldg_qty`` 0) are left out; ``orderable_cash`` is the D+2 deposit (``prvs_rcdl_excc_amt``)."""
    positions = {p.symbol: p for p in map(position_record, holdings) if p.quantity > 0}
    return Balance(deposit=number(summary.get("dnca_tot_amt")),
                   orderable_cash=number(summary.get("prvs_rcdl_excc_amt")),
                   settlement_d2=number(summary.get("prvs_rcdl_excc_amt")),
                   total_evaluation=number(summary.get("tot_evlu_amt")), positions=tuple(positions.values()),
                   settlement_d1=number(summary.get("nxdy_excc_amt")),
                   securities_evaluation=number(summary.get("scts_evlu_amt")),
                   profit_loss=number(summary.get("evlu_pfls_smtl_amt")))


def market_day(day: date, row: dict[str, Any]) -> MarketDay:
    """A ``chk-holiday`` row; ``open_day`` is ``opnd_yn`` (orders can be placed)."""
    return MarketDay(day=day, business_day=_text(row, "bzdy_yn") == "Y", trading_day=_text(row, "tr_day_yn") == "Y",
                     open_day=_text(row, "opnd_yn") == "Y", settlement_day=_text(row, "sttl_day_yn") == "Y")
