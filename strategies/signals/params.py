"""Parameter schemas of strategy types and their validation.

A strategy type declares its parameters as a list of :class:`Param`. :func:`validate` turns raw input
(a form, a JSON body, ``--param fast=10`` on the command line) into a dict of typed values, or raises
:class:`ParamError` carrying one message per field. Messages are English module constants (format
templates with named fields) so that tests assert on them and the Django layer can translate them.

Rules:
- a name not in the schema is an error on that name (:data:`UNKNOWN_PARAM`);
- a missing name takes the default; a name given as ``None`` or an empty string is an error
  (:data:`VALUE_REQUIRED`);
- ``int`` accepts ints, integral floats (``10.0``) and strings of those (``"10"``, ``" 10 "``),
  and rejects booleans, ``1.5``, ``"1.5"``, ``"abc"`` (:data:`NOT_AN_INTEGER`);
- ``float`` accepts ints, finite floats and numeric strings (``"2.5"``), and rejects booleans,
  NaN, infinities and ``"abc"`` (:data:`NOT_A_NUMBER`);
- ``bool`` accepts booleans, 0 and 1, and the strings true/false, 1/0, yes/no, on/off
  (:data:`NOT_A_BOOLEAN`);
- numbers outside ``[min, max]`` (inclusive) are errors (:data:`BELOW_MIN`, :data:`ABOVE_MAX`);
  ``step`` is a hint for form widgets, not validated;
- a field gets at most one message: the first failing rule;
- a strategy's cross-field ``check(params)`` runs only when every field passed on its own. By
  convention a contradiction between two fields is reported on the field declared second (``slow``
  for fast/slow, ``sell_above`` for buy_below/sell_above), with :data:`MUST_BE_GREATER`.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

UNKNOWN_PARAM = "Unknown parameter; known parameters: {known}."
VALUE_REQUIRED = "A value is required."
NOT_AN_INTEGER = "Enter a whole number."
NOT_A_NUMBER = "Enter a number."
NOT_A_BOOLEAN = "Enter true or false."
BELOW_MIN = "Must be at least {min}."
ABOVE_MAX = "Must be at most {max}."
MUST_BE_GREATER = "Must be greater than {other} ({value})."

ParamValue = int | float | bool
CrossCheck = Callable[[dict[str, Any]], dict[str, list[str]]]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_TYPE_NAMES = {int: "int", float: "float", bool: "bool"}


class ParamError(Exception):
    """Invalid parameters: ``errors`` maps a field name to its messages (one per field)."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors: dict[str, list[str]] = {name: list(msgs) for name, msgs in errors.items()}
        super().__init__("; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in self.errors.items()))


class InvalidParam(ValueError):
    """One field's failure (raised by :meth:`Param.parse`); carries the user-facing message."""


_Invalid = InvalidParam


def format_number(value: float | int) -> str:
    """How bounds and values appear in messages: ``10``, ``0.5``, ``2``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def must_be_greater(other: str, value: float | int) -> str:
    """The contradiction message put on the second field of an ordered pair."""
    return MUST_BE_GREATER.format(other=other, value=format_number(value))


@dataclass(frozen=True)
class Param:
    """One parameter of a strategy type.

    ``type`` is ``int``, ``float`` or ``bool``; ``min``/``max`` are inclusive bounds (ignored for
    bool); ``step`` is a widget hint. The default must itself be valid (checked at definition).
    """

    name: str
    type: type
    default: ParamValue
    min: float | int | None = None
    max: float | int | None = None
    step: float | int | None = None
    help_ko: str = ""
    help_en: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPE_NAMES:
            raise TypeError(f"Param {self.name!r}: type must be int, float or bool, not {self.type!r}")
        try:
            self.parse(self.default)
        except _Invalid as exc:
            raise ValueError(f"Param {self.name!r}: default {self.default!r} is invalid: {exc}") from None

    def parse(self, raw: Any) -> ParamValue:
        """The typed value of ``raw``; raises :class:`InvalidParam` with the field's message."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise _Invalid(VALUE_REQUIRED)
        if self.type is bool:
            return _parse_bool(raw)
        value: int | float = _parse_int(raw) if self.type is int else _parse_float(raw)
        if self.min is not None and value < self.min:
            raise _Invalid(BELOW_MIN.format(min=format_number(self.min)))
        if self.max is not None and value > self.max:
            raise _Invalid(ABOVE_MAX.format(max=format_number(self.max)))
        return value

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description for forms, the API and the admin."""
        return {
            "name": self.name,
            "type": _TYPE_NAMES[self.type],
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "help_ko": self.help_ko,
            "help_en": self.help_en,
        }


def validate(schema: Sequence[Param], raw: Mapping[str, Any], check: CrossCheck | None = None) -> dict[str, Any]:
    """Typed parameters for ``schema`` from ``raw``, defaults filled in, in schema order.

    Raises :class:`ParamError` listing every failing field (unknown names included). ``check``
    receives the complete typed dict when every field is valid and returns extra field errors.
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"parameters must be a mapping, not {type(raw).__name__}")
    by_name = {param.name: param for param in schema}
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for param in schema:
        if param.name not in raw:
            values[param.name] = param.default
            continue
        try:
            values[param.name] = param.parse(raw[param.name])
        except _Invalid as exc:
            errors[param.name] = [str(exc)]
    known = ", ".join(by_name) or "(none)"
    for name in raw:
        if name not in by_name:
            errors[str(name)] = [UNKNOWN_PARAM.format(known=known)]
    if not errors and check is not None:
        errors = {name: msgs for name, msgs in check(values).items() if msgs}
    if errors:
        raise ParamError(errors)
    return values


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool | np.bool_):
        raise _Invalid(NOT_AN_INTEGER)
    if isinstance(raw, int | np.integer):
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return int(text)
        except ValueError:
            raw = _float_or(text, NOT_AN_INTEGER)
    if isinstance(raw, float | np.floating | decimal.Decimal):
        number = float(raw)
        if math.isfinite(number) and number.is_integer():
            return int(number)
    raise _Invalid(NOT_AN_INTEGER)


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool | np.bool_):
        raise _Invalid(NOT_A_NUMBER)
    if isinstance(raw, str):
        number = _float_or(raw.strip(), NOT_A_NUMBER)
    elif isinstance(raw, int | float | np.integer | np.floating | decimal.Decimal):
        try:
            number = float(raw)
        except OverflowError:  # an int of hundreds of digits has no float
            raise _Invalid(NOT_A_NUMBER) from None
    else:
        raise _Invalid(NOT_A_NUMBER)
    if not math.isfinite(number):
        raise _Invalid(NOT_A_NUMBER)
    return number


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool | np.bool_):
        return bool(raw)
    if isinstance(raw, int | np.integer) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _Invalid(NOT_A_BOOLEAN)


def _float_or(text: str, message: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _Invalid(message) from None
