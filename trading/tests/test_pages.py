"""Pages never promise what the platform does not do yet."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_landing_page_does_not_promise_trading_yet(client):
    client.cookies["lang"] = "en"
    body = client.get("/").content.decode()
    assert "Backtest Korean stocks and crypto" in body
    assert "then run them live or on paper" not in body and "is being built" in body


def test_the_trading_page_connects_accounts_and_leads_to_the_order_pages(client, django_user_model):
    user = django_user_model.objects.create_user(email="new@example.com", password="pw-123456789", language="en")
    client.force_login(user)
    body = client.get("/trading/").content.decode()
    assert "Connect a broker account" in body and "Open a paper account" in body
    assert "Placing orders from the platform comes next" not in body
    assert 'href="/trading/orders/new/' not in body  # nothing to order with yet
    from core.audit import Actor
    from trading.services import broker_account_open_paper

    broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname="Paper")
    body = client.get("/trading/").content.decode()
    for page in ("/trading/orders/", "/trading/orders/new/", "/trading/positions/"):
        assert f'href="{page}' in body
