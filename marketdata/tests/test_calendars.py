"""The trading calendars: KRX trading days 2024-2026, sessions, settlement dates, corrections, crypto."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from marketdata import calendars
from marketdata.calendars import KRX, KrxCalendar, calendar_for

D = dt.date

# Every weekday the Korea Exchange is closed, 2024-2026 (the exchange's yearly notice).
KRX_CLOSED = {
    D(2024, 1, 1): "신정 New Year's Day",
    D(2024, 2, 9): "설날 전날 the day before Korean New Year",
    D(2024, 2, 12): "설날 대체공휴일 substitute holiday for Korean New Year",
    D(2024, 3, 1): "삼일절 Independence Movement Day",
    D(2024, 4, 10): "국회의원 선거일 National Assembly election",
    D(2024, 5, 1): "근로자의 날 Labour Day",
    D(2024, 5, 6): "어린이날 대체공휴일 substitute holiday for Children's Day",
    D(2024, 5, 15): "부처님오신날 Buddha's Birthday",
    D(2024, 6, 6): "현충일 Memorial Day",
    D(2024, 8, 15): "광복절 Liberation Day",
    D(2024, 9, 16): "추석 연휴 Chuseok",
    D(2024, 9, 17): "추석 Chuseok",
    D(2024, 9, 18): "추석 연휴 Chuseok",
    D(2024, 10, 1): "국군의 날 임시공휴일 Armed Forces Day (temporary holiday)",
    D(2024, 10, 3): "개천절 National Foundation Day",
    D(2024, 10, 9): "한글날 Hangul Day",
    D(2024, 12, 25): "성탄절 Christmas",
    D(2024, 12, 31): "연말 휴장일 year-end closure",
    D(2025, 1, 1): "신정 New Year's Day",
    D(2025, 1, 27): "임시공휴일 temporary holiday",
    D(2025, 1, 28): "설날 연휴 Korean New Year",
    D(2025, 1, 29): "설날 Korean New Year",
    D(2025, 1, 30): "설날 연휴 Korean New Year",
    D(2025, 3, 3): "삼일절 대체공휴일 substitute holiday for Independence Movement Day",
    D(2025, 5, 1): "근로자의 날 Labour Day",
    D(2025, 5, 5): "어린이날, 부처님오신날 Children's Day and Buddha's Birthday",
    D(2025, 5, 6): "대체공휴일 substitute holiday",
    D(2025, 6, 3): "대통령 선거일 presidential election",
    D(2025, 6, 6): "현충일 Memorial Day",
    D(2025, 8, 15): "광복절 Liberation Day",
    D(2025, 10, 3): "개천절 National Foundation Day",
    D(2025, 10, 6): "추석 Chuseok",
    D(2025, 10, 7): "추석 연휴 Chuseok",
    D(2025, 10, 8): "추석 대체공휴일 substitute holiday for Chuseok",
    D(2025, 10, 9): "한글날 Hangul Day",
    D(2025, 12, 25): "성탄절 Christmas",
    D(2025, 12, 31): "연말 휴장일 year-end closure",
    D(2026, 1, 1): "신정 New Year's Day",
    D(2026, 2, 16): "설날 연휴 Korean New Year",
    D(2026, 2, 17): "설날 Korean New Year",
    D(2026, 2, 18): "설날 연휴 Korean New Year",
    D(2026, 3, 2): "삼일절 대체공휴일 substitute holiday for Independence Movement Day",
    D(2026, 5, 1): "노동절 Labour Day",
    D(2026, 5, 5): "어린이날 Children's Day",
    D(2026, 5, 25): "부처님오신날 대체공휴일 substitute holiday for Buddha's Birthday",
    D(2026, 6, 3): "지방선거일 local elections",
    D(2026, 7, 17): "제헌절 Constitution Day (a public holiday again from 2026)",
    D(2026, 8, 17): "광복절 대체공휴일 substitute holiday for Liberation Day",
    D(2026, 9, 24): "추석 연휴 Chuseok",
    D(2026, 9, 25): "추석 Chuseok",
    D(2026, 10, 5): "개천절 대체공휴일 substitute holiday for National Foundation Day",
    D(2026, 10, 9): "한글날 Hangul Day",
    D(2026, 12, 25): "성탄절 Christmas",
    D(2026, 12, 31): "연말 휴장일 year-end closure",
}


def weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5]


def test_krx_trading_days_2024_to_2026_are_the_weekdays_less_the_named_closures():
    expected = [day for day in weekdays(D(2024, 1, 1), D(2026, 12, 31)) if day not in KRX_CLOSED]
    assert KRX.trading_days(D(2024, 1, 1), D(2026, 12, 31)) == expected
    for year in (2024, 2025, 2026):
        assert set(KRX.holidays(year)) == {day for day in KRX_CLOSED if day.year == year}, year
    assert len(KRX.trading_days("2024-01-01", "2024-12-31")) == 244
    assert not KRX.is_trading_day(D(2024, 10, 1)) and KRX.is_trading_day(D(2024, 10, 2))
    assert not KRX.is_trading_day(D(2024, 12, 28))  # a Saturday


def test_next_and_previous_trading_days_skip_weekends_and_holidays():
    assert KRX.next_trading_day(D(2024, 9, 13)) == D(2024, 9, 19)  # Friday -> past the weekend and Chuseok
    assert KRX.previous_trading_day(D(2024, 9, 19)) == D(2024, 9, 13)
    assert KRX.next_trading_day(D(2024, 12, 30)) == D(2025, 1, 2)  # past the year-end closure and New Year
    assert KRX.previous_trading_day(D(2025, 1, 2)) == D(2024, 12, 30)


@pytest.mark.parametrize(("trade", "settled"), [
    (D(2024, 6, 3), D(2024, 6, 5)),  # an ordinary Monday: T+2
    (D(2024, 6, 5), D(2024, 6, 10)),  # Wednesday: Memorial Day (Thursday 6th) and the weekend in between
    (D(2024, 9, 13), D(2024, 9, 20)),  # across the weekend and the three Chuseok days
    (D(2024, 9, 30), D(2024, 10, 4)),  # across the 2024-10-01 temporary holiday and 10-03
    (D(2024, 12, 26), D(2024, 12, 30)),  # the last sell settled in 2024
    (D(2024, 12, 27), D(2025, 1, 2)),  # across the year-end closure and New Year's Day
    (D(2024, 12, 30), D(2025, 1, 3)),
    (D(2024, 12, 28), D(2025, 1, 3)),  # a Saturday counts as the next trading day (Monday 30th)
    (D(2025, 12, 26), D(2025, 12, 30)),
    (D(2025, 12, 29), D(2026, 1, 2)),
])
def test_settlement_is_two_krx_trading_days_after_the_trade(trade, settled):
    assert KRX.settlement_date(trade) == settled
    vectorised = calendar_for("KOSDAQ").settlement_dates(np.array([trade], dtype="datetime64[D]"))
    assert vectorised[0] == np.datetime64(settled)


def test_settlement_dates_are_vectorised_over_many_years():
    trades = np.arange(np.datetime64("2015-01-01"), np.datetime64("2026-12-01"))
    settled = KRX.settlement_dates(trades)
    assert settled.dtype == np.dtype("datetime64[D]") and settled.shape == trades.shape
    sample = range(0, trades.size, 97)
    assert [settled[i].astype(dt.date) for i in sample] == [KRX.settlement_date(trades[i]) for i in sample]
    assert KRX.settlement_dates(np.array([], dtype="datetime64[D]")).size == 0


def test_sessions_regular_first_day_of_the_year_and_exam_day():
    regular = KRX.session(D(2024, 6, 3))
    assert (regular.open.isoformat(), regular.close.isoformat()) == (
        "2024-06-03T09:00:00+09:00", "2024-06-03T15:30:00+09:00")
    first = KRX.session(D(2025, 1, 2))
    assert (first.open.time(), first.close.time()) == (dt.time(10), dt.time(15, 30)) and "first" in first.note
    exam = KRX.session(D(2024, 11, 14))
    assert (exam.open.time(), exam.close.time()) == (dt.time(10), dt.time(16, 30))
    with pytest.raises(ValueError, match="closed on 2024-12-31"):
        KRX.session(D(2024, 12, 31))


def test_a_manual_closure_in_the_corrections_table_closes_the_day_everywhere(monkeypatch):
    closure = D(2024, 7, 10)  # an ordinary Wednesday
    assert KRX.is_trading_day(closure) and KRX.settlement_date(D(2024, 7, 9)) == D(2024, 7, 11)
    monkeypatch.setitem(calendars.KRX_CLOSURES, closure, "ad-hoc closure (test)")
    corrected = KrxCalendar()
    assert not corrected.is_trading_day(closure)
    assert corrected.holidays(2024)[closure] == "ad-hoc closure (test)"
    assert corrected.next_trading_day(D(2024, 7, 9)) == D(2024, 7, 11)
    assert corrected.settlement_date(D(2024, 7, 9)) == D(2024, 7, 12)
    with pytest.raises(ValueError):
        corrected.session(closure)
    reopened = KrxCalendar(openings={D(2024, 10, 1): "traded after all (test)"})
    assert reopened.is_trading_day(D(2024, 10, 1)) and reopened.settlement_date(D(2024, 9, 30)) == D(2024, 10, 2)


def test_crypto_trades_every_day_and_settles_the_same_day():
    crypto = calendar_for("crypto")
    saturday = D(2024, 12, 28)
    assert crypto.is_trading_day(saturday) and crypto.is_trading_day(D(2025, 1, 1))
    assert crypto.next_trading_day(saturday) == D(2024, 12, 29)
    assert len(crypto.trading_days(D(2024, 1, 1), D(2024, 12, 31))) == 366
    assert crypto.settlement_date(saturday) == saturday
    session = crypto.session(saturday)
    assert (session.open.isoformat(), session.close.isoformat()) == (
        "2024-12-28T00:00:00+09:00", "2024-12-29T00:00:00+09:00")


def test_markets_map_to_their_calendar():
    assert calendar_for("KOSPI") is calendar_for("kosdaq") is calendar_for("KONEX") is KRX
    with pytest.raises(ValueError, match="unknown market"):
        calendar_for("NYSE")
