"""What every market-data provider promises, and the errors it may raise.

Pure module: no Django imports. A provider answers daily bars for one code and date range as
numpy arrays (the same columns as ``validation.ParsedBars.rows`` and ``BarStore.write``), or raises
``ProviderError``. ``chain.ProviderChain`` tries providers in order and falls back on errors.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

PRICE_COLUMNS = ("open", "high", "low", "close", "volume", "value")


class ProviderError(Exception):
    """A provider could not answer.

    ``reason`` is a short English sentence safe to log and show to staff (never a secret).
    ``permanent`` says whether asking again later can help: ``False`` for timeouts, HTTP 5xx and
    rate limits, ``True`` for missing configuration, unknown codes and refused credentials.
    """

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class AllProvidersFailed(ProviderError):
    """Every provider of a chain failed; ``failures`` holds (provider name, reason) in order tried."""

    def __init__(self, failures: Sequence[tuple[str, str]], *, subject: str = "", permanent: bool = False) -> None:
        self.failures = list(failures)
        head = f"no market-data provider could answer{' ' + subject if subject else ''}"
        lines = [f"  {name}: {reason}" for name, reason in self.failures] or ["  (no providers configured)"]
        super().__init__(head + ":\n" + "\n".join(lines), permanent=permanent)


@dataclass(frozen=True)
class ProviderBars:
    """Daily bars of one code, sorted by date, one row per date.

    ``date`` is ``datetime64[D]``; prices, volume and value are float64; ``value`` (traded value
    in KRW) is NaN where the provider does not report it.
    """

    date: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    value: np.ndarray

    @classmethod
    def build(
        cls,
        date: Iterable[Any],
        open: Iterable[float],
        high: Iterable[float],
        low: Iterable[float],
        close: Iterable[float],
        volume: Iterable[float],
        value: Iterable[float] | None = None,
    ) -> ProviderBars:
        """Make bars from columns in any order; sorts by date and keeps the last row of a repeated date."""
        dates = np.asarray(list(date) if not isinstance(date, np.ndarray) else date, dtype="datetime64[D]")
        columns = [np.asarray(list(c) if not isinstance(c, np.ndarray) else c, dtype=np.float64)
                   for c in (open, high, low, close, volume)]
        if value is None:
            values = np.full(len(dates), np.nan)
        else:
            values = np.asarray(list(value) if not isinstance(value, np.ndarray) else value, dtype=np.float64)
        for column in (*columns, values):
            if len(column) != len(dates):
                raise ValueError("bar columns differ in length")
        # Stable sort, then keep the last occurrence of each date ("new row wins", like the store).
        order = np.argsort(dates, kind="stable")
        dates = dates[order]
        keep = np.ones(len(dates), dtype=bool)
        if len(dates) > 1:
            keep[:-1] = dates[:-1] != dates[1:]
        picked = order[keep]
        return cls(dates[keep], *(c[picked] for c in columns), values[picked])

    @classmethod
    def empty(cls) -> ProviderBars:
        return cls.build([], [], [], [], [], [])

    def __len__(self) -> int:
        return len(self.date)

    def between(self, start: date | None, end: date | None) -> ProviderBars:
        """The rows with start <= date <= end (either bound may be None)."""
        mask = np.ones(len(self), dtype=bool)
        if start is not None:
            mask &= self.date >= np.datetime64(start, "D")
        if end is not None:
            mask &= self.date <= np.datetime64(end, "D")
        return ProviderBars(self.date[mask], *(getattr(self, c)[mask] for c in PRICE_COLUMNS))

    def columns(self) -> dict[str, np.ndarray]:
        """The arrays by name, ready for ``BarStore.write(code, market, **bars.columns())``."""
        return {"date": self.date, **{c: getattr(self, c) for c in PRICE_COLUMNS}}

    def to_payload(self) -> dict[str, list]:
        """Plain lists (ISO dates, floats, None for NaN): safe for pickle, JSON and any cache backend."""
        payload: dict[str, list] = {"date": [str(d) for d in self.date]}
        for c in PRICE_COLUMNS:
            payload[c] = [None if np.isnan(x) else float(x) for x in getattr(self, c)]
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, list]) -> ProviderBars:
        """Inverse of ``to_payload``."""
        value = [np.nan if x is None else x for x in payload["value"]]
        return cls.build(payload["date"], *(payload[c] for c in PRICE_COLUMNS[:-1]), value=value)


@dataclass(frozen=True)
class InstrumentRecord:
    """One instrument as a provider lists it; field names follow ``marketdata.models.Instrument``."""

    code: str
    name: str
    market: str
    name_en: str = ""
    sector: str = ""
    status: str = "listed"
    listed_on: date | None = None
    currency: str = "KRW"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


class DataProvider(abc.ABC):
    """One source of daily bars (and maybe of the instrument list).

    ``name`` is the key used in ``settings.MARKET_DATA_PROVIDERS``. ``cacheable`` says whether the
    chain may keep this provider's answers in the shared cache (remote sources: yes; local files:
    no, an import must show up at once).
    """

    name: str = "provider"
    cacheable: bool = True

    @abc.abstractmethod
    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Bars of ``code`` with start <= date <= end, sorted by date, never empty.

        Raises ``ProviderError`` when the provider cannot answer or has no rows in the range.
        """

    def instruments(self) -> list[InstrumentRecord]:
        """The instruments this provider knows. Raises ``ProviderError`` if it cannot list them."""
        raise ProviderError(f"{self.name} cannot list instruments", permanent=True)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (defence in depth for messages)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
