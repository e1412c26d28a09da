"""Which held positions a deployment's risk rules close at a decision: pure (no Django).

The strategy's rules are the engine's (``backtests.engine._kernels._risk_exit``), applied to a live
position at the decision's latest price instead of inside a daily bar:

- stop loss at entry x (1 - stop_loss) and trailing stop at peak x (1 - trailing_stop): the higher
  level wins; the position sells when the price is at or below it (reason ``stop_loss`` or
  ``trailing_stop``);
- take profit at entry x (1 + take_profit): sells when the price is at or above it;
- max holding days: sells once the position has been held ``max_holding_days`` bars (bars after
  the entry bar up to the last completed bar). At the close that is the engine's bar; at the open
  it is one session later than the engine, which sells at the previous close.

``peak`` is the highest price seen since the entry (highs of the completed bars after the entry, and
the latest price); the entry price is the average buy fill price of the position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Held:
    """A position of the deployment: quantity, average entry price, highest price since, bars held."""

    symbol: str
    quantity: float
    entry_price: float
    peak: float
    bars_held: int


def _fraction(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def risk_exit(held: Held, price: float, risk: dict[str, Any]) -> str | None:
    """The reason the rules in ``risk`` (engine options) close ``held`` at ``price``, else None."""
    if held.quantity <= 0 or not price > 0:
        return None
    stop_loss, trailing = _fraction(risk.get("stop_loss")), _fraction(risk.get("trailing_stop"))
    take_profit = _fraction(risk.get("take_profit"))
    stop, reason = -math.inf, None
    if stop_loss:
        stop, reason = held.entry_price * (1.0 - stop_loss), "stop_loss"
    if trailing:
        level = max(held.peak, price) * (1.0 - trailing)
        if level > stop:
            stop, reason = level, "trailing_stop"
    if reason is not None and price <= stop:
        return reason
    if take_profit and price >= held.entry_price * (1.0 + take_profit):
        return "take_profit"
    max_days = risk.get("max_holding_days")
    if max_days and held.bars_held >= int(max_days):
        return "max_holding"
    return None


__all__ = ["Held", "risk_exit"]
