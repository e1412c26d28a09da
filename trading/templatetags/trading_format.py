"""Money and quantities on the trading pages: KRW with thousands separators, quantities with the
decimals their lot needs (whole shares; crypto to its step), signed P&L with its direction class."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def krw(value: Any) -> str:
    number = _decimal(value)
    return "–" if number is None else f"{number.quantize(Decimal(1)):,}"


@register.filter
def signed_krw(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return "–"
    return ("+" if number > 0 else "") + f"{number.quantize(Decimal(1)):,}"


@register.filter
def quantity(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return "–"
    text = f"{number.normalize():,f}"
    return text


@register.filter
def percent(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return "–"
    return ("+" if number > 0 else "") + f"{number.quantize(Decimal('0.01'))}%"


@register.filter
def direction(value: Any) -> str:
    """``up``, ``down`` or ``flat``: the class that colours a change (the user's price colours)."""
    number = _decimal(value)
    if not number:
        return "flat"
    return "up" if number > 0 else "down"
