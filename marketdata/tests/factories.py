from decimal import Decimal

import factory

from marketdata.models import Instrument, Market, TickRegime


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{900000 + n:06d}")
    name = factory.Sequence(lambda n: f"테스트종목{n}")
    market = Market.KOSPI
    tick_regime = TickRegime.KRX_STOCK


class CryptoInstrumentFactory(InstrumentFactory):
    code = "KRW-BTC"
    name = "비트코인"
    name_en = "Bitcoin"
    market = Market.CRYPTO
    tick_regime = TickRegime.UPBIT_KRW
    lot_size = Decimal("0.00000001")
