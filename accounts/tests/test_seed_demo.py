import pytest
from django.core.management import call_command

from accounts.models import User
from marketdata.models import Instrument, Market

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_the_investor_a_strategy_on_the_sample_stocks_once():
    for code, name in (("005930", "삼성전자"), ("000660", "SK하이닉스")):
        Instrument.objects.create(code=code, name=name, market=Market.KOSPI)
    call_command("seed_demo")
    call_command("seed_demo")  # again: no second strategy, passwords reset
    investor = User.objects.get(email="demo@example.com")
    assert investor.check_password("demo-invest-2026")
    strategy = investor.strategies.get()
    assert strategy.strategy_type == "sma_cross"
    assert strategy.universe_codes() == ["000660", "005930"]
    assert User.objects.get(email="admin@example.com").is_staff


def test_seed_demo_without_instruments_still_creates_the_accounts(capsys):
    call_command("seed_demo")
    assert User.objects.filter(email="demo@example.com").exists()
    assert "No demo strategy" in capsys.readouterr().err
