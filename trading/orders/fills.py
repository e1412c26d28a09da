"""Fills from cumulative reports, and what a fill does to a holding (pure: no Django).

KIS reports no per-fill id: its listing (``inquire-daily-ccld``) and its execution notices give, per
order, the cumulative filled quantity (and the cumulative amount or average price). So a fill is
derived, never taken as sent:

- its key is the order number and the cumulative quantity it brings the order to
  (``fill_key``): a replayed or duplicated report yields the same key;
- a report whose cumulative quantity is at or below what is already known adds nothing (a
  duplicate, a replay, or an older report arriving after a newer one);
- the fill is the difference, at the price the report gives for it; when only cumulative amounts
  are known (a listing row), the increment's price is derived from them:
  (amount now − amount known) / (quantity now − quantity known);
- nothing beyond the order's quantity is ever counted (``capped`` says a report claimed more).

The same rules hold whether the order was acknowledged yet or not: a fill before the
acknowledgement is counted once, and the late acknowledgement only adds the order number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
PRICE_UNIT = Decimal("0.00000001")  # the ledger's price precision (8 places: Upbit's lots)
MONEY_UNIT = Decimal("0.0001")


@dataclass(frozen=True)
class FillReport:
    """What a broker said about one order's fills so far. ``price`` is the price of the newest fill
    (an execution notice); ``cumulative_amount`` / ``cumulative_average`` describe everything filled
    so far (a listing row). At least one of the three is needed to price a fill."""

    order_no: str
    cumulative_quantity: Decimal
    price: Decimal | None = None
    cumulative_amount: Decimal | None = None
    cumulative_average: Decimal | None = None
    commission: Decimal | None = None  # of this increment, when the broker reports it
    tax: Decimal | None = None


@dataclass(frozen=True)
class FillIncrement:
    key: str
    quantity: Decimal
    price: Decimal
    cumulative_quantity: Decimal
    capped: bool = False  # the report claimed more than the order's quantity


def canonical(quantity: Decimal) -> str:
    """``Decimal('3.00000000')`` → ``'3'``: one spelling per number, for keys."""
    text = f"{quantity.normalize():f}"
    return text if text != "-0" else "0"


def fill_key(order_no: str, cumulative_quantity: Decimal) -> str:
    """The deterministic key of the fill that brings order ``order_no`` to ``cumulative_quantity``."""
    return f"{order_no or '-'}:{canonical(cumulative_quantity)}"


def _increment_price(report: FillReport, known_quantity: Decimal, known_amount: Decimal,
                     cumulative: Decimal) -> Decimal:
    if report.price is not None and report.price > 0:
        return report.price
    amount = report.cumulative_amount
    if (amount is None or amount <= 0) and report.cumulative_average:
        amount = report.cumulative_average * report.cumulative_quantity
    if amount is None or amount <= 0 or report.cumulative_quantity <= 0:
        raise ValueError(f"a fill report of order {report.order_no} carries no price")
    average = amount / report.cumulative_quantity
    if cumulative < report.cumulative_quantity:  # capped: the amount covers more than we count
        amount = average * cumulative
    derived = (amount - known_amount) / (cumulative - known_quantity)
    # amounts known from other reports (notices at their own prices) can disagree with the
    # broker's cumulative figures; a non-positive derived price would be nonsense
    return derived if derived > 0 else average


def fill_increment(*, order_quantity: Decimal, known_quantity: Decimal, known_amount: Decimal,
                   report: FillReport) -> FillIncrement | None:
    """The new fill ``report`` proves, or None when it proves nothing new.

    ``known_quantity`` / ``known_amount`` are what the ledger already counted for the order. Raises
    ``ValueError`` when a new fill has no way to be priced.
    """
    cumulative = min(report.cumulative_quantity, order_quantity)
    capped = report.cumulative_quantity > order_quantity
    if cumulative <= known_quantity:
        return None
    price = _increment_price(report, known_quantity, known_amount, cumulative)
    return FillIncrement(key=fill_key(report.order_no, cumulative), quantity=cumulative - known_quantity,
                         price=price.quantize(PRICE_UNIT, rounding=ROUND_HALF_UP),
                         cumulative_quantity=cumulative, capped=capped)


# -- holdings ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Holding:
    """A position as the ledger counts it.

    ``cost`` is what the held quantity was bought for at fill prices (no commission, as the
    brokers' purchase amount, so the average compares with theirs). ``realized_pnl`` is net of
    every commission and tax: sells add proceeds less the average cost of what they sold; buys'
    and sells' commission and sells' tax are subtracted when paid.
    """

    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    commission: Decimal = ZERO
    tax: Decimal = ZERO

    @property
    def average_cost(self) -> Decimal:
        return self.cost / self.quantity if self.quantity > 0 else ZERO


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_UNIT, rounding=ROUND_HALF_UP)


def holding_after_fill(holding: Holding, *, buy: bool, quantity: Decimal, price: Decimal,
                       commission: Decimal = ZERO, tax: Decimal = ZERO) -> Holding:
    """``holding`` after one fill. A sell beyond the held quantity leaves a negative quantity (the
    reconciliation with the broker's balance then reports the difference); only the held part
    carries a cost basis."""
    value = _money(quantity * price)
    paid = replace(holding, commission=holding.commission + commission, tax=holding.tax + tax)
    if buy:
        return replace(paid, quantity=holding.quantity + quantity, cost=holding.cost + value,
                       realized_pnl=holding.realized_pnl - commission - tax)
    held = max(min(quantity, holding.quantity), ZERO)
    basis = _money(holding.average_cost * held)
    remaining = holding.quantity - quantity
    return replace(paid, quantity=remaining, cost=holding.cost - basis if remaining > 0 else ZERO,
                   realized_pnl=holding.realized_pnl + value - basis - commission - tax)
