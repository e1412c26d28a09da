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


def test_seeding_again_keeps_the_demo_users_signed_in(client):
    call_command("seed_demo")
    client.login(email="demo@example.com", password="demo-invest-2026")
    assert client.get("/accounts/email/").status_code == 200  # signed in: the page, not a redirect to log in

    call_command("seed_demo")  # `./dev run` again

    assert client.get("/accounts/email/").status_code == 200


def test_seeding_restores_a_demo_password_that_was_changed():
    call_command("seed_demo")
    investor = User.objects.get(email="demo@example.com")
    investor.set_password("something-else-2026")
    investor.save()

    call_command("seed_demo")

    assert User.objects.get(email="demo@example.com").check_password("demo-invest-2026")
