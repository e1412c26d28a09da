"""How many shares a deployment's entry buys: the backtest engine's shared-account sizing, in Python.

Pure (no Django). The same arithmetic as ``backtests.engine._kernels._buy`` on one shared account (the
deployment's capital bucket), in floats like the engine so that a paper deployment and the engine size
the same entry identically:

- the budget: ``all_in`` the cash; ``equal_weight`` min(cash, equity / divisor) with the divisor
  ``max_positions`` or else the number of the deployment's symbols; ``fixed_krw`` min(cash, N);
  ``pct_equity`` min(cash, equity x P);
- lots: floor(budget / (price x (1 + commission)) / lot), one lot less while value + commission
  would exceed the budget (rounding);
- nothing below one lot or below the symbol's minimum order value.

``equity`` is the bucket's equity at the last mark (the engine's previous close), ``cash`` what the
bucket holds after this decision's sells, ``price`` the expected fill price (the engine's open; the
runner passes the latest price).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

SIZINGS = ("all_in", "equal_weight", "fixed_krw", "pct_equity")


def sizing_of(option: Any) -> tuple[str, float]:
    """``(kind, value)`` of an engine ``sizing`` option (``"all_in"``, ``["fixed_krw", 1e6]``...);
    an unknown value sizes all-in, as the engine's default."""
    if isinstance(option, str) and option in ("all_in", "equal_weight"):
        return option, 0.0
    if isinstance(option, Sequence) and not isinstance(option, str) and len(option) == 2:
        kind, value = option
        if kind in ("fixed_krw", "pct_equity"):
            return str(kind), float(value)
    return "all_in", 0.0


def buy_budget(*, cash: float, equity: float, sizing: Any, max_positions: int | None, n_symbols: int) -> float:
    """The KRW an entry may spend (before lots and commission)."""
    kind, value = sizing_of(sizing)
    if kind == "equal_weight":
        return min(cash, equity / float(max_positions or max(n_symbols, 1)))
    if kind == "fixed_krw":
        return min(cash, value)
    if kind == "pct_equity":
        return min(cash, equity * value)
    return cash


def buy_lots(*, budget: float, price: float, lot: float, commission: float, min_value: float = 0.0) -> float:
    """The quantity (a multiple of ``lot``) ``budget`` buys at ``price`` with ``commission``; 0.0 when
    it is under one lot or under ``min_value``."""
    if not (price > 0.0 and budget > 0.0 and lot > 0.0) or not math.isfinite(price):
        return 0.0
    q = math.floor(budget / (price * (1.0 + commission)) / lot)
    value = q * lot * price
    while q > 0 and value + value * commission > budget:
        q -= 1
        value = q * lot * price
    if q <= 0 or value < min_value:
        return 0.0
    return q * lot


def buy_quantity(*, cash: float, equity: float, price: float, sizing: Any, max_positions: int | None,
                 n_symbols: int, lot: float = 1.0, min_value: float = 0.0, commission: float = 0.00015) -> float:
    """The engine's shared-account buy: the budget of ``sizing``, then whole lots within it."""
    budget = buy_budget(cash=cash, equity=equity, sizing=sizing, max_positions=max_positions, n_symbols=n_symbols)
    return buy_lots(budget=budget, price=price, lot=lot, commission=commission, min_value=min_value)


def buy_cost(quantity: float, price: float, commission: float) -> float:
    """Cash a buy of ``quantity`` at ``price`` takes, commission included."""
    value = quantity * price
    return value + value * commission


__all__ = ["SIZINGS", "buy_budget", "buy_cost", "buy_lots", "buy_quantity", "sizing_of"]
