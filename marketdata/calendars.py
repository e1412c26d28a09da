"""Trading calendars by market: the one source of trading days, sessions and settlement dates.

Pure (no Django): the backtest engine, the paper broker, the live runner and reconciliation all ask
here. ``calendar_for(market)`` gives the calendar of a market name (KOSPI, KOSDAQ, KONEX and KRX share
the Korea Exchange's; CRYPTO trades every day).

The KRX trading days come from the ``holidays`` library's XKRX financial calendar (statutory and
temporary public holidays, election days, substitute holidays, Labour Day and the year-end closure,
kept up to date by its maintainers; it starts in 2000, earlier years only close on weekends). What
it does not know, or gets wrong, goes into the corrections below, and only there:

- ``KRX_CLOSURES``: ad-hoc closures the library lacks (a weekday the exchange did not open);
- ``KRX_OPENINGS``: weekdays the library calls a holiday but the exchange traded;
- ``KRX_SPECIAL_SESSIONS``: days with other hours than 09:00-15:30 (the college entrance exam day
  opens and closes an hour late). The first trading day of each year opens at 10:00 by rule.

A trade dated on a closed day counts as made on the next trading day (for its settlement date).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays
import numpy as np

SEOUL = ZoneInfo("Asia/Seoul")

# Ad-hoc closures the library does not know: date -> reason. Add a day here (with its source) when
# the exchange announces a closure that the pinned ``holidays`` release lacks.
KRX_CLOSURES: dict[dt.date, str] = {}
# Weekdays the library lists as holidays on which the exchange nevertheless traded: date -> reason.
KRX_OPENINGS: dict[dt.date, str] = {}
# Days with other hours: date -> (open, close, reason). The college scholastic ability test (수능)
# delays the whole session by an hour (KRX notices each year; the dates through 2020 agree with
# exchange-calendars' XKRX list).
_CSAT = (dt.time(10, 0), dt.time(16, 30), "college entrance exam day (수능): the session starts an hour late")
KRX_SPECIAL_SESSIONS: dict[dt.date, tuple[dt.time, dt.time, str]] = {
    dt.date(2019, 11, 14): _CSAT,
    dt.date(2020, 12, 3): _CSAT,
    dt.date(2021, 11, 18): _CSAT,
    dt.date(2022, 11, 17): _CSAT,
    dt.date(2023, 11, 16): _CSAT,
    dt.date(2024, 11, 14): _CSAT,
    dt.date(2025, 11, 13): _CSAT,
    dt.date(2026, 11, 19): _CSAT,  # as announced for the 2027 exam
}
KRX_OPEN, KRX_CLOSE = dt.time(9, 0), dt.time(15, 30)
KRX_FIRST_DAY_OPEN = dt.time(10, 0)  # the first trading day of a year opens an hour late
KRX_SETTLEMENT_DAYS = 2  # T+2
LIBRARY_FIRST_YEAR = 2000  # the holidays library's XKRX calendar starts here

KRX_MARKETS = frozenset({"KRX", "XKRX", "KOSPI", "KOSDAQ", "KONEX"})
CRYPTO_MARKETS = frozenset({"CRYPTO"})

DayLike = dt.date | str | np.datetime64


def _day(value: DayLike) -> dt.date:
    """A calendar date from a date, an aware datetime (taken in Seoul), an ISO string or a datetime64."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(SEOUL) if value.tzinfo else value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]").astype(dt.date)
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise TypeError(f"expected a date, got {value!r}")


@dataclass(frozen=True)
class Session:
    """One trading day's session: aware open and close times in Asia/Seoul, and why it is special."""

    day: dt.date
    open: dt.datetime
    close: dt.datetime
    note: str = ""


class KrxCalendar:
    """The Korea Exchange's calendar: weekdays less the XKRX holidays, with the corrections."""

    market = "KRX"
    settlement_days = KRX_SETTLEMENT_DAYS

    def __init__(
        self,
        *,
        closures: Mapping[dt.date, str] | None = None,
        openings: Mapping[dt.date, str] | None = None,
        special_sessions: Mapping[dt.date, tuple[dt.time, dt.time, str]] | None = None,
    ) -> None:
        self.closures = dict(KRX_CLOSURES if closures is None else closures)
        self.openings = dict(KRX_OPENINGS if openings is None else openings)
        self.special_sessions = dict(KRX_SPECIAL_SESSIONS if special_sessions is None else special_sessions)
        self._years: dict[int, dict[dt.date, str]] = {}
        self._busday: dict[tuple[int, int], np.busdaycalendar] = {}
        self._lock = threading.Lock()

    # --- holidays -------------------------------------------------------------------------------
    def holidays(self, year: int) -> dict[dt.date, str]:
        """The weekdays of ``year`` on which the exchange is closed, with their names, in date order."""
        found = self._years.get(year)
        if found is None:
            days: dict[dt.date, str] = {}
            if year >= LIBRARY_FIRST_YEAR:
                days.update(holidays.financial_holidays("XKRX", years=year))
            days.update({day: reason for day, reason in self.closures.items() if day.year == year})
            for day in self.openings:
                days.pop(day, None)
            found = {day: days[day] for day in sorted(days) if day.weekday() < 5}
            with self._lock:
                self._years[year] = found
        return found

    def _holiday_array(self, first_year: int, last_year: int) -> np.busdaycalendar:
        key = (first_year, last_year)
        cal = self._busday.get(key)
        if cal is None:
            closed = [day for year in range(first_year, last_year + 1) for day in self.holidays(year)]
            cal = np.busdaycalendar(weekmask="1111100", holidays=np.array(closed, dtype="datetime64[D]"))
            with self._lock:
                self._busday[key] = cal
        return cal

    # --- the questions ----------------------------------------------------------------------------
    def is_trading_day(self, day: DayLike) -> bool:
        day = _day(day)
        return day.weekday() < 5 and day not in self.holidays(day.year)

    def next_trading_day(self, day: DayLike) -> dt.date:
        """The first trading day strictly after ``day``."""
        day = _day(day) + dt.timedelta(days=1)
        while not self.is_trading_day(day):
            day += dt.timedelta(days=1)
        return day

    def previous_trading_day(self, day: DayLike) -> dt.date:
        """The last trading day strictly before ``day``."""
        day = _day(day) - dt.timedelta(days=1)
        while not self.is_trading_day(day):
            day -= dt.timedelta(days=1)
        return day

    def trading_days(self, start: DayLike, end: DayLike) -> list[dt.date]:
        """Every trading day from ``start`` to ``end``, both included."""
        day, end = _day(start), _day(end)
        found = []
        while day <= end:
            if self.is_trading_day(day):
                found.append(day)
            day += dt.timedelta(days=1)
        return found

    def session(self, day: DayLike) -> Session:
        """The session of a trading day (ValueError on a closed day)."""
        day = _day(day)
        if not self.is_trading_day(day):
            raise ValueError(f"the exchange is closed on {day.isoformat()}")
        opens, closes, note = KRX_OPEN, KRX_CLOSE, ""
        if day in self.special_sessions:
            opens, closes, note = self.special_sessions[day]
        elif self.previous_trading_day(day).year < day.year:
            opens, note = KRX_FIRST_DAY_OPEN, "first trading day of the year: the session starts an hour late"
        return Session(day, dt.datetime.combine(day, opens, SEOUL), dt.datetime.combine(day, closes, SEOUL), note)

    def settlement_date(self, trade_date: DayLike) -> dt.date:
        """The day a trade settles: ``settlement_days`` trading days after the trade date."""
        return self.settlement_dates(np.array([_day(trade_date)], dtype="datetime64[D]"))[0].astype(dt.date)

    def settlement_dates(self, trade_dates: np.ndarray | Iterable[DayLike]) -> np.ndarray:
        """Settlement dates (``datetime64[D]``) of many trade dates at once (vectorised)."""
        days = np.asarray(trade_dates, dtype="datetime64[D]")
        if days.size == 0:
            return days.copy()
        years = days.astype("datetime64[Y]").astype(np.int64) + 1970
        cal = self._holiday_array(int(years.min()), int(years.max()) + 1)
        return np.busday_offset(days, self.settlement_days, roll="forward", busdaycal=cal)


class EveryDayCalendar:
    """A market open every day around the clock (KRW crypto pairs): trades settle the same day."""

    settlement_days = 0

    def __init__(self, market: str = "CRYPTO") -> None:
        self.market = market

    def holidays(self, year: int) -> dict[dt.date, str]:
        return {}

    def is_trading_day(self, day: DayLike) -> bool:
        _day(day)
        return True

    def next_trading_day(self, day: DayLike) -> dt.date:
        return _day(day) + dt.timedelta(days=1)

    def previous_trading_day(self, day: DayLike) -> dt.date:
        return _day(day) - dt.timedelta(days=1)

    def trading_days(self, start: DayLike, end: DayLike) -> list[dt.date]:
        first, last = _day(start), _day(end)
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    def session(self, day: DayLike) -> Session:
        day = _day(day)
        opens = dt.datetime.combine(day, dt.time(0, 0), SEOUL)
        return Session(day, opens, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), SEOUL))

    def settlement_date(self, trade_date: DayLike) -> dt.date:
        return _day(trade_date)

    def settlement_dates(self, trade_dates: np.ndarray | Iterable[DayLike]) -> np.ndarray:
        return np.array(np.asarray(trade_dates, dtype="datetime64[D]"), copy=True)


KRX = KrxCalendar()
CRYPTO = EveryDayCalendar()


def calendar_for(market: str) -> KrxCalendar | EveryDayCalendar:
    """The calendar of a market name (case-insensitive); ValueError for an unknown one."""
    name = str(market).upper()
    if name in KRX_MARKETS:
        return KRX
    if name in CRYPTO_MARKETS:
        return CRYPTO
    raise ValueError(f"unknown market {market!r}: expected one of {', '.join(sorted(KRX_MARKETS | CRYPTO_MARKETS))}")
