"""The instrument admin: search, filters, the bar-store coverage view and the re-import action."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from marketdata import refresh
from marketdata.models import Instrument, ListingStatus, Market
from marketdata.providers.base import DataProvider, ProviderBars, ProviderError
from marketdata.providers.chain import ProviderChain
from marketdata.store import BarStore

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:marketdata_instrument_changelist"
COVERAGE = "admin:marketdata_instrument_coverage"


@pytest.fixture
def store(settings, tmp_path) -> BarStore:
    settings.MARKET_DATA_ROOT = tmp_path / "marketdata"
    return BarStore(settings.MARKET_DATA_ROOT)


@pytest.fixture
def instruments():
    return [
        Instrument.objects.create(
            code="005930", name="삼성전자", name_en="Samsung Electronics", market=Market.KOSPI, sector="전자부품"
        ),
        Instrument.objects.create(code="035720", name="카카오", name_en="Kakao", market=Market.KOSPI, sector="자료처리업"),
        Instrument.objects.create(code="091990", name="셀트리온헬스케어", market=Market.KOSDAQ, status=ListingStatus.DELISTED),
    ]


def _bars(days: list[str], close: float = 100.0) -> dict[str, np.ndarray]:
    n = len(days)
    prices = np.full(n, close)
    return {"date": np.array(days, dtype="datetime64[D]"), "open": prices, "high": prices + 1, "low": prices - 1,
            "close": prices, "volume": np.full(n, 1000.0)}  # fmt: skip


def _rows(response) -> str:
    return response.content.decode()


def test_search_by_code_korean_and_english_name(admin_client, instruments):
    url = reverse(CHANGELIST)
    assert "카카오" in _rows(admin_client.get(url, {"q": "035720"}))
    by_korean = _rows(admin_client.get(url, {"q": "삼성"}))
    assert "삼성전자" in by_korean and "카카오" not in by_korean
    assert "카카오" in _rows(admin_client.get(url, {"q": "kakao"}))


def test_filters_by_market_and_status(admin_client, instruments):
    url = reverse(CHANGELIST)
    kosdaq = _rows(admin_client.get(url, {"market__exact": "KOSDAQ"}))
    assert "셀트리온헬스케어" in kosdaq and "삼성전자" not in kosdaq
    listed = _rows(admin_client.get(url, {"status__exact": "listed"}))
    assert "삼성전자" in listed and "셀트리온헬스케어" not in listed


def test_the_changelist_links_to_the_coverage_view(admin_client, instruments):
    assert reverse(COVERAGE) in _rows(admin_client.get(reverse(CHANGELIST)))


def test_the_coverage_view_lists_every_stored_code(admin_client, store, instruments):
    store.write("005930", "KOSPI", **_bars(["2026-03-02", "2026-03-03", "2026-03-16"]))  # one gap of 12 days
    store.write("KRW-ETH", "CRYPTO", **_bars(["2026-03-01", "2026-03-02"]))
    response = admin_client.get(reverse(COVERAGE))
    assert response.status_code == 200
    rows = {row["coverage"].code: row for row in response.context["rows"]}
    assert set(rows) == {"005930", "KRW-ETH"}
    samsung = rows["005930"]
    assert (samsung["coverage"].first, samsung["coverage"].last) == (dt.date(2026, 3, 2), dt.date(2026, 3, 16))
    assert samsung["coverage"].rows == 3 and samsung["coverage"].gaps == 1
    assert samsung["name"] == "삼성전자"
    assert rows["KRW-ETH"]["name"] is None  # stored bars the master does not know: shown as such
    html = _rows(response)
    assert "2026-03-16" in html and "삼성전자" in html


def test_the_coverage_view_of_an_empty_store(admin_client, store):
    response = admin_client.get(reverse(COVERAGE))
    assert response.status_code == 200
    assert response.context["rows"] == []


def test_the_coverage_view_is_for_staff_only(client, user):
    client.force_login(user)
    response = client.get(reverse(COVERAGE))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


class FakeProvider(DataProvider):
    def __init__(self, name: str, bars: ProviderBars | None = None, reason: str = "") -> None:
        self.name = name
        self.bars = bars
        self.reason = reason
        self.calls: list[tuple[str, dt.date, dt.date]] = []

    def daily_bars(self, code, start, end):
        self.calls.append((code, start, end))
        if self.bars is None:
            raise ProviderError(self.reason)
        return self.bars.between(start, end)


def _use_chain(monkeypatch, *providers: DataProvider) -> None:
    monkeypatch.setattr(refresh, "default_chain", lambda: ProviderChain(list(providers), cache_seconds=0))


def _reimport(admin_client, *codes: str):
    ids = [str(pk) for pk in Instrument.objects.filter(code__in=codes).values_list("pk", flat=True)]
    return admin_client.post(
        reverse(CHANGELIST), {"action": "reimport_bars", "_selected_action": ids}, follow=True
    )


def test_reimport_writes_what_the_chain_answers_and_skips_the_local_store(
    admin_client, monkeypatch, store, instruments
):
    store.write("005930", "KOSPI", **_bars(["2026-03-02", "2026-03-03"], close=100))
    local = FakeProvider("local", reason="must not be asked")
    remote = FakeProvider("pykrx", ProviderBars.build(**_bars(["2026-03-03", "2026-03-04"], close=200)))
    _use_chain(monkeypatch, local, remote)

    response = _reimport(admin_client, "005930")

    assert local.calls == []
    assert remote.calls[0][:2] == ("005930", dt.date(2026, 3, 2))  # from the first stored day
    bars = store.read_one("005930")
    assert bars.date.astype(str).tolist() == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert bars.close.tolist() == [100, 200, 200]  # the provider's row wins on 03-03
    messages = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert len(messages) == 1
    level, text = messages[0]
    assert level == "success" and text.startswith("005930:") and "pykrx" in text


def test_reimport_reports_each_instrument_on_its_own(admin_client, monkeypatch, store, instruments):
    class PicksByCode(FakeProvider):
        def daily_bars(self, code, start, end):
            if code == "035720":
                raise ProviderError("no such code at pykrx", permanent=True)
            return ProviderBars.build(**_bars(["2026-03-04"]))

    _use_chain(monkeypatch, PicksByCode("pykrx"))
    response = _reimport(admin_client, "005930", "035720")

    messages = {str(m).split(":")[0]: (m.level_tag, str(m)) for m in get_messages(response.wsgi_request)}
    assert messages["005930"][0] == "success"
    assert messages["035720"][0] == "error"
    assert "no such code at pykrx" in messages["035720"][1]
    assert len(store.read_one("005930")) == 1
    assert len(store.read_one("035720")) == 0


def test_bars_refresh_starts_at_the_default_for_an_empty_store(monkeypatch, store, instruments):
    remote = FakeProvider("csv", ProviderBars.build(**_bars(["2026-03-04"])))
    _use_chain(monkeypatch, remote)
    refresh.bars_refresh(code="035720", end=dt.date(2026, 3, 5))
    assert remote.calls == [("035720", refresh.DEFAULT_HISTORY_START, dt.date(2026, 3, 5))]
    assert BarStore(store.root).read_one("035720").date.astype(str).tolist() == ["2026-03-04"]
