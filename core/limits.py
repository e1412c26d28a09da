"""The bounds of money, counts, ids and dates: one place, used by models, forms, serializers and services.

The databases could hold more than a user ever needs (a bigint, the year 9999) but not the same
more: SQLite's integers are 64-bit and overflow in Python before the query, PostgreSQL's ``integer``
is 32-bit. So every door refuses a value outside these bounds with a message naming the field,
the same on SQLite and PostgreSQL, before the database ever sees it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

MAX_MONEY_KRW = 10**13  # 10조 원: capital, amounts per position, order values
MAX_POSITIONS = 1_000
MAX_HOLDING_DAYS = 10_000
MAX_ID = 2**63 - 1  # the largest bigint primary key: no row has an id beyond it
MIN_DATE = dt.date(1990, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)



def max_symbols(user: Any = None) -> int:
    """Symbols in one universe (a backtest's, a strategy's, a watchlist's): the symbols-per-backtest
    limit of ``user``'s plan (no user: the default plan's), read at call time through the one owner
    of limits, ``coupons.selectors.plan_limits``."""
    from coupons.selectors import plan_limits  # coupons' models import core: read at call time

    return plan_limits(user=user).max_symbols_per_backtest


MONEY_TOO_LARGE = _("Enter at most %(limit)s KRW.")
COUNT_TOO_LARGE = _("Enter at most %(limit)s.")
DATE_OUT_OF_RANGE = _("Enter a date between %(first)s and %(last)s.")
NOT_AN_ID = _("Enter an id: a whole number of at least 1.")


def grouped(value: int) -> str:
    """``10,000,000,000,000``: a limit as people read it (the active locale's separators)."""
    return number_format(value, force_grouping=True)


@deconstructible
class AtMost:
    """A validator: the value is at most ``limit`` (None passes: "not given" is another rule's)."""

    limit: int = 0
    message = COUNT_TOO_LARGE

    def __call__(self, value: Any) -> None:
        if value is not None and value > self.limit:
            raise ValidationError(self.message, code="max_value", params={"limit": grouped(self.limit)})

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class MaxMoney(AtMost):
    limit = MAX_MONEY_KRW
    message = MONEY_TOO_LARGE


class MaxPositions(AtMost):
    limit = MAX_POSITIONS


class MaxHoldingDays(AtMost):
    limit = MAX_HOLDING_DAYS


@deconstructible
class DateInRange:
    """A validator: the date is within :data:`MIN_DATE` .. :data:`MAX_DATE`."""

    def __call__(self, value: dt.date | None) -> None:
        if value is not None and not MIN_DATE <= value <= MAX_DATE:
            raise ValidationError(DATE_OUT_OF_RANGE, code="date_range",
                                  params={"first": MIN_DATE.isoformat(), "last": MAX_DATE.isoformat()})

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


@deconstructible
class IsId:
    """A validator: a whole number a primary key can be (1 .. :data:`MAX_ID`)."""

    def __call__(self, value: int | None) -> None:
        if value is not None and not 1 <= value <= MAX_ID:
            raise ValidationError(NOT_AN_ID, code="not_an_id")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


validate_money = MaxMoney()
validate_positions = MaxPositions()
validate_holding_days = MaxHoldingDays()
validate_date = DateInRange()
validate_id = IsId()


def errors_of(value: Any, validator, field: str, errors: dict[str, list[str]]) -> None:
    """Run ``validator`` on ``value`` for a service that gathers every field's errors at once."""
    try:
        validator(value)
    except ValidationError as error:
        errors.setdefault(field, []).extend(error.messages)


def id_or_none(value: Any) -> int | None:
    """``value`` as an id a database can look up, or None (not a whole number, or out of range)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None


# -- form fields ----------------------------------------------------------------------------------
class IdField(forms.IntegerField):
    """An id typed or passed in a query string: refused when it is not one, never sent to the database."""

    default_validators = [validate_id]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"invalid": NOT_AN_ID})
        super().__init__(**kwargs)


class DateField(forms.DateField):
    """A date within the supported years; the browser's date picker is bounded too."""

    default_validators = [validate_date]

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {**super().widget_attrs(widget), "min": MIN_DATE.isoformat(), "max": MAX_DATE.isoformat()}
