"""Factories of strategies and watchlists, and the instruments they need."""

from __future__ import annotations

import factory

from accounts.tests.factories import UserFactory
from marketdata.models import Instrument, Market
from strategies.models import Sizing, Strategy, Watchlist

# Big KOSPI names (the sample data's): (code, Korean name, English name).
SAMPLE_STOCKS = [
    ("005930", "삼성전자", "Samsung Electronics"),
    ("000660", "SK하이닉스", "SK hynix"),
    ("005380", "현대차", "Hyundai Motor"),
    ("035420", "NAVER", "NAVER"),
    ("035720", "카카오", "Kakao"),
]


def sample_instruments() -> list[Instrument]:
    """The five sample stocks as instrument rows (created when missing)."""
    return [
        Instrument.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en, "market": Market.KOSPI})[0]
        for code, name, name_en in SAMPLE_STOCKS
    ]


class WatchlistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Watchlist
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"관심종목 {n}")

    @factory.post_generation
    def codes(self, create, extracted, **kwargs):
        if create:
            codes = extracted if extracted is not None else ["005930", "000660"]
            instruments = {i.code: i for i in sample_instruments()}
            self.instruments.set([instruments.get(code) or Instrument.objects.get(code=code) for code in codes])


class StrategyFactory(factory.django.DjangoModelFactory):
    """A valid SMA cross on Samsung and SK hynix (pass ``codes=[...]`` or ``watchlist=...``)."""

    class Meta:
        model = Strategy
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"전략 {n}")
    strategy_type = "sma_cross"
    params = factory.LazyFunction(lambda: {"fast": 10, "slow": 30})
    sizing = Sizing.EQUAL_WEIGHT

    @factory.post_generation
    def codes(self, create, extracted, **kwargs):
        if create and self.watchlist_id is None:
            codes = extracted if extracted is not None else ["005930", "000660"]
            instruments = {i.code: i for i in sample_instruments()}
            self.instruments.set([instruments.get(code) or Instrument.objects.get(code=code) for code in codes])
