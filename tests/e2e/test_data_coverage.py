"""Search says which instruments have price data, and for which days, before the user opens one."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from marketdata.models import Instrument, Market
from tests.e2e.helpers import login
from tests.e2e.test_marketdata import _store_samsung_bars, bar_store  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def test_search_results_show_which_instruments_have_data_and_its_range(page, bar_store):  # noqa: F811
    Instrument.objects.create(code="005930", name="삼성전자", name_en="Samsung Electronics", market=Market.KOSPI)
    Instrument.objects.create(code="005935", name="삼성전자우", name_en="Samsung Electronics Pref", market=Market.KOSPI)
    _store_samsung_bars(bar_store)
    user = UserFactory(email="coverage@example.com")

    login(page, user.email)
    page.goto("/markets/")
    page.locator("[data-testid=instrument-search]").press_sequentially("삼성전자", delay=30)
    with_data = page.locator("[data-testid=search-result][data-code='005930'] [data-testid=data-span]")
    expect(with_data).to_contain_text("2000-01-04 – 2026-03-17")
    expect(with_data).to_have_attribute("data-last", "2026-03-17")
    without = page.locator("[data-testid=search-result][data-code='005935'] [data-testid=data-span]")
    expect(without).to_have_text("가격 데이터 없음")

    page.goto("/markets/005935/")
    expect(page.locator("[data-testid=instrument-data-badge]")).to_contain_text("가격 데이터 없음")
