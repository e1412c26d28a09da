"""How backtest numbers read on the pages: fractions as signed percents, a colour class by sign."""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.formats import number_format

register = template.Library()
DASH = "—"


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and not math.isfinite(value))


@register.filter
def pct(value: Any, decimals: int = 2) -> str:
    """0.1234 -> "+12.34%"; None or NaN -> "—"."""
    if _missing(value):
        return DASH
    percent = float(value) * 100
    sign = "+" if percent > 0 else ""
    return f"{sign}{number_format(percent, decimal_pos=int(decimals))}%"


@register.filter
def metric(value: Any, kind: str = "ratio") -> str:
    """A metric in its format: ``pct`` (fraction), ``int`` or ``ratio`` (two decimals)."""
    if _missing(value):
        return DASH
    if kind == "pct":
        return pct(value)
    if kind == "int":
        return intcomma(int(value))
    return number_format(float(value), decimal_pos=2)


@register.filter
def updown(value: Any) -> str:
    """The colour class of a signed number: "up", "down" or ""."""
    if _missing(value):
        return ""
    return "up" if float(value) > 0 else "down" if float(value) < 0 else ""


@register.filter
def price(value: Any) -> str:
    if _missing(value):
        return DASH
    number = float(value)
    return intcomma(int(number)) if number.is_integer() else number_format(number, decimal_pos=2, force_grouping=True)


@register.filter
def get(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None
