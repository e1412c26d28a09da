"""How backtest numbers and codes read on the pages.

Returns and P&L are signed ("+12.34%", "+1,200,000"), fractions of a whole (win rate, exposure)
are not ("55.00%"); stock prices are whole won, crypto prices keep their decimals; the engine's
codes (exit reasons, sizing names) show as their translated labels (``backtests.labels``).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.formats import get_format, number_format
from django.utils.translation import get_language

from backtests import labels
from strategies import schema

register = template.Library()
DASH = "—"
# Crypto pairs are Upbit market codes ("KRW-BTC"); KRX codes never hold a dash.
CRYPTO_CODE_PREFIX = "KRW-"


def _missing(value: Any) -> bool:
    if value is None or value == "":
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


_SEPARATORS: dict[str | None, tuple[str, Any, str]] = {}
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(11)}
_PLAIN_LIMIT = Decimal(10) ** 15  # below it Python's "," grouping is number_format's, digit for digit


@receiver(setting_changed)
def _forget_separators(*, setting: str, **kwargs: Any) -> None:
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "USE_L10N", "USE_THOUSAND_SEPARATOR", "THOUSAND_SEPARATOR",
                   "DECIMAL_SEPARATOR", "NUMBER_GROUPING", "FORMAT_MODULE_PATH"}:
        _SEPARATORS.clear()


def _separators() -> tuple[str, Any, str]:
    """(decimal separator, grouping, thousands separator) of the active language, as ``number_format``
    reads them (looked up once per language: they cost more than the formatting itself)."""
    language = get_language()
    found = _SEPARATORS.get(language)
    if found is None:
        found = _SEPARATORS[language] = (get_format("DECIMAL_SEPARATOR", language, use_l10n=True),
                                         get_format("NUMBER_GROUPING", language, use_l10n=True),
                                         get_format("THOUSAND_SEPARATOR", language, use_l10n=True))
    return found


def _grouped(number: float, decimals: int = 0) -> str:
    """Thousands separators, ``decimals`` places rounded half up (not to even: 0.5 won -> 1)."""
    try:
        quantum = _QUANTUM.get(decimals) or Decimal(1).scaleb(-decimals)
        rounded = Decimal(repr(float(number))).quantize(quantum, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # beyond Decimal's precision: no place anyone reads anyway
        return number_format(number, decimal_pos=decimals, force_grouping=True)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0"
    point, grouping, thousands = _separators()
    if grouping == 3 and decimals >= 0 and abs(rounded) < _PLAIN_LIMIT:
        # number_format(rounded, decimal_pos=decimals, force_grouping=True), without its per-call lookups
        text = f"{rounded:,f}"
        if point != "." or thousands != ",":
            text = text.replace(",", "\0").replace(".", point).replace("\0", thousands)
        return text
    return number_format(rounded, decimal_pos=decimals, force_grouping=True)


def _plus(text: str, number: float) -> str:
    """``text`` with a "+" for a positive number that does not round to zero."""
    return f"+{text}" if number > 0 and any(digit in text for digit in "123456789") else text


@register.filter
def pct(value: Any, decimals: int = 2) -> str:
    """A return: 0.1234 -> "+12.34%", -0.05 -> "-5.00%"; None or NaN -> "—"."""
    if _missing(value):
        return DASH
    percent = float(value) * 100
    return _plus(f"{_grouped(percent, int(decimals))}%", percent)


@register.filter
def share(value: Any, decimals: int = 2) -> str:
    """A fraction of a whole (win rate, exposure), never signed: 0.5 -> "50.00%"."""
    if _missing(value):
        return DASH
    return f"{_grouped(float(value) * 100, int(decimals))}%"


@register.filter
def krw(value: Any, signed: str = "") -> str:
    """An amount of won, whole: 1234567.4 -> "1,234,567"; ``krw:"signed"`` -> "+1,234,567" (P&L)."""
    if _missing(value):
        return DASH
    text = _grouped(float(value))
    return _plus(text, float(value)) if signed else text


@register.filter
def metric(value: Any, kind: str = "ratio") -> str:
    """A metric in its format: ``pct`` (a signed return), ``share`` (an unsigned fraction), ``int``
    or ``ratio`` (two decimals)."""
    if _missing(value):
        return DASH
    if kind == "pct":
        return pct(value)
    if kind == "share":
        return share(value)
    if kind == "int":
        return _grouped(float(value))
    return _grouped(float(value), 2)


@register.filter
def updown(value: Any) -> str:
    """The colour class of a signed number: "up", "down" or ""."""
    if _missing(value):
        return ""
    return "up" if float(value) > 0 else "down" if float(value) < 0 else ""


def is_crypto(code: Any) -> bool:
    return isinstance(code, str) and code.upper().startswith(CRYPTO_CODE_PREFIX)


@register.filter
def price(value: Any, code: Any = "") -> str:
    """A price of the instrument ``code``: whole won for stocks (a fill with slippage is not a price
    anyone quotes), two decimals for crypto (more below 1 KRW)."""
    if _missing(value):
        return DASH
    number = float(value)
    if not is_crypto(code):
        return _grouped(number)
    if number.is_integer():
        return _grouped(number)
    if abs(number) >= 1:
        return _grouped(number, 2)
    return _grouped(number, 8).rstrip("0")  # 0.00123 KRW, not 0.00123000


@register.filter
def quantity(value: Any, decimals: Any = 0) -> str:
    """A traded quantity with the decimals its lot needs: "1,234" shares, "0.09876543" BTC."""
    if _missing(value):
        return DASH
    try:
        places = max(0, min(10, int(decimals or 0)))
    except (TypeError, ValueError):
        places = 0
    return _grouped(float(value), places)


@register.filter
def code_label(code: Any, kind: str) -> str:
    """The translated label of an engine code: ``{{ trade.exit_reason|code_label:"exit_reason" }}``."""
    return labels.code_label(code, kind)


@register.filter
def get(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def param_label(name: Any, strategy_type: str) -> str:
    """The readable name of a strategy parameter: ``{{ sweep.x_param|param_label:sweep.strategy_type }}``."""
    return schema.param_label(strategy_type, name) if isinstance(name, str) else ""
