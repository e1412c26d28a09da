"""A user's own risk settings: the page /trading/risk-settings/ and GET/PATCH /api/v1/risk-settings/,
both through ``risk_settings_update`` (checked, audited, always the user's own row)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from core.audit import Actor
from core.errors import NotFound
from core.models import AuditEntry
from trading.live.models import RiskSettings
from trading.live.risk_settings import PERCENT_INVALID, SYMBOLS_INVALID, risk_settings_update
from trading.paper.tests.conftest import open_paper_account
from trading.risk import SpreadRules

pytestmark = pytest.mark.django_db
URL, API = "/trading/risk-settings/", "/api/v1/risk-settings/"
EMPTY = {"max_symbol_share": "", "max_sector_share": "", "max_symbols": "", "daily_loss_limit": ""}


@pytest.fixture
def alice(client: Client, user) -> Client:
    client.force_login(user)
    return client


def test_the_page_saves_the_settings_and_the_audit_log_records_them(alice, user):
    page = alice.get(URL)
    assert page.status_code == 200
    assert b"a larger buy is trimmed to fit" in page.content  # each rule explained
    response = alice.post(URL, {**EMPTY, "max_symbol_share": "20", "max_symbols": "8", "daily_loss_limit": "3"})
    assert response.status_code == 302 and response["Location"] == URL
    row = RiskSettings.objects.get(user=user)
    assert SpreadRules.of(row) == SpreadRules(max_symbol_share=Decimal(20), max_symbols=8,
                                              daily_loss_limit=Decimal(3))
    entry = AuditEntry.objects.get(action="risk_settings.update")
    assert (entry.actor, entry.owner, entry.after) == (user, user, {"max_symbol_share": "20", "max_symbols": 8,
                                                                    "daily_loss_limit": "3"})
    assert b'value="20.00"' in alice.get(URL).content

    alice.post(URL, {**EMPTY, "max_symbols": "8"})  # emptied: no limit
    row.refresh_from_db()
    assert (row.max_symbol_share, row.daily_loss_limit, row.max_symbols) == (None, None, 8)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("max_symbol_share", "0", PERCENT_INVALID), ("max_sector_share", "100.5", PERCENT_INVALID),
    ("daily_loss_limit", "2.555", PERCENT_INVALID), ("max_symbols", "0", SYMBOLS_INVALID),
])
def test_the_page_shows_a_bad_value_on_its_field_and_saves_nothing(alice, user, field, value, message):
    response = alice.post(URL, {**EMPTY, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [str(message)]}
    assert not RiskSettings.objects.filter(user=user).exists()


def test_the_trading_page_links_to_the_risk_settings(alice, user):
    open_paper_account(user)
    assert f'href="{URL}"'.encode() in alice.get("/trading/").content


def test_the_page_needs_a_login(client):
    assert client.get(URL).status_code == 302


def test_the_api_reads_and_patches_only_the_callers_row(api_client, other_api_client, user, other_user):
    assert api_client.get(API).json()["max_symbol_share"] is None  # nothing saved: no limits
    response = api_client.patch(API, {"max_sector_share": "30", "max_symbols": 5}, format="json")
    assert response.status_code == 200
    assert (response.json()["max_sector_share"], response.json()["max_symbols"]) == ("30.00", 5)
    response = api_client.patch(API, {"max_symbols": None}, format="json")  # null clears; the rest stays
    assert (response.json()["max_sector_share"], response.json()["max_symbols"]) == ("30.00", None)

    assert other_api_client.get(API).json()["max_sector_share"] is None  # bob sees his own (empty) row
    other_api_client.patch(API, {"max_sector_share": "10"}, format="json")
    assert RiskSettings.objects.get(user=user).max_sector_share == 30
    assert RiskSettings.objects.get(user=other_user).max_sector_share == 10


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"max_symbol_share": "150"}, "max_symbol_share", PERCENT_INVALID),
    ({"daily_loss_limit": "-1"}, "daily_loss_limit", PERCENT_INVALID),
    ({"max_symbols": 1001}, "max_symbols", SYMBOLS_INVALID),
    ({"max_symbol_share": "lots"}, "max_symbol_share", None),
])
def test_the_api_answers_400_with_the_message_on_the_field(api_client, user, body, field, message):
    response = api_client.patch(API, body, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == [field]
    if message is not None:
        assert fields[field] == [str(message)]
    assert not RiskSettings.objects.filter(user=user).exists()


def test_no_one_changes_another_users_settings_as_themselves(user, other_user):
    from django.utils import translation

    with pytest.raises(NotFound):
        risk_settings_update(actor=Actor.of_user(other_user), user=user, max_symbols=3)
    with translation.override("en"), pytest.raises(Exception, match="not risk settings"):
        risk_settings_update(actor=Actor.of_user(user), user=user, max_order_value=3)
