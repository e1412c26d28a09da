"""Per-account order limits: the owner lowers them on the account page or through the API, every
order placed afterwards is checked against them, and the refusal names the limit and the numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from core.audit import Actor
from core.models import AuditEntry
from trading.models import BrokerAccount
from trading.orders.models import Order
from trading.orders.place import OrderRefused, order_place
from trading.orders.tests.conftest import morning, no_jobs, paper_account  # noqa: F401 - fixtures
from trading.paper.tests.conftest import samsung, store, write_bar  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _bars_only(settings):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""


@pytest.fixture
def alice(client: Client, user) -> Client:
    client.force_login(user)
    return client


def buy(account: BrokerAccount, quantity: int) -> Order:
    """A limit buy of 005930 at 71,300 (its last close)."""
    with translation.override("en"):
        return order_place(actor=Actor.of_user(account.owner), account=account, symbol="005930", side="buy",
                           quantity=D(quantity), order_type="limit", price=D(71_300))


def refusal(account: BrokerAccount, quantity: int) -> OrderRefused:
    with pytest.raises(OrderRefused) as caught:
        buy(account, quantity)
    return caught.value


def test_a_lowered_order_value_refuses_a_larger_order_naming_the_limit(alice, paper_account, no_jobs):
    response = alice.post(f"/trading/accounts/{paper_account.pk}/limits/", {"max_order_value": "1000000",
                                                                            "max_position_share": ""})
    assert response.status_code == 302
    paper_account.refresh_from_db()
    assert (paper_account.max_order_value, paper_account.max_position_share) == (1_000_000, None)
    entry = AuditEntry.objects.get(action="broker_account.limits")
    assert (entry.actor, entry.owner, entry.before["max_order_value"], entry.after["max_order_value"]) == (
        paper_account.owner, paper_account.owner, None, "1000000")

    error = refusal(paper_account, 15)  # 15 × 71,300 = 1,069,500 KRW
    [failure] = error.failures
    assert failure["code"] == "above_max_order_value" and failure["field"] == "quantity"
    assert "1,069,500" in failure["message"] and "maximum of 1,000,000 KRW per order" in failure["message"]
    assert not Order.objects.exists()
    assert buy(paper_account, 14).state == "new"  # 998,200 KRW passes


def test_the_page_shows_the_limits_and_a_cleared_limit_is_the_platforms_again(alice, paper_account, no_jobs):
    alice.post(f"/trading/accounts/{paper_account.pk}/limits/", {"max_order_value": "1000000"})
    page = alice.get(f"/trading/accounts/{paper_account.pk}/").content.decode()
    assert 'name="max_order_value" value="1000000"' in page and "100,000,000 KRW" in page
    alice.post(f"/trading/accounts/{paper_account.pk}/limits/", {"max_order_value": ""})
    paper_account.refresh_from_db()
    assert paper_account.max_order_value is None
    assert buy(paper_account, 15).state == "new"


def test_a_position_share_cap_refuses_a_buy_that_would_exceed_it(paper_account, no_jobs):
    from trading import services

    services.broker_account_limits_set(actor=Actor.of_user(paper_account.owner), account=paper_account,
                                       max_order_value=None, max_position_share=D("10"))
    error = refusal(paper_account, 20)  # 1,426,000 KRW of a 10,000,000 KRW account
    assert error.codes == ["above_max_position_share"]
    assert "maximum of 10 % per position" in error.message
    assert buy(paper_account, 10).state == "new"  # 713,000 KRW: 7.13 %


@pytest.mark.parametrize("data, field", [
    ({"max_order_value": "200000000"}, "max_order_value"),  # above the platform's limit
    ({"max_order_value": "0"}, "max_order_value"),
    ({"max_order_value": "-5"}, "max_order_value"),
    ({"max_order_value": "a lot"}, "max_order_value"),
    ({"max_position_share": "0"}, "max_position_share"),
    ({"max_position_share": "150"}, "max_position_share"),
])
def test_bad_input_is_a_form_error_on_its_field(alice, paper_account, data, field):
    response = alice.post(f"/trading/accounts/{paper_account.pk}/limits/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    form = response.context["limits_form"]
    assert list(form.errors) == [field]
    assert 'data-testid="field-error"' in response.content.decode()
    paper_account.refresh_from_db()
    assert (paper_account.max_order_value, paper_account.max_position_share) == (None, None)
    assert not AuditEntry.objects.filter(action="broker_account.limits").exists()


def test_the_error_names_the_platforms_limit(alice, paper_account):
    response = alice.post(f"/trading/accounts/{paper_account.pk}/limits/", {"max_order_value": "200000000"})
    assert "at most 100,000,000 KRW" in " ".join(response.context["limits_form"].errors["max_order_value"])


def test_another_users_account_is_not_found(client, other_user, paper_account, other_api_client):
    client.force_login(other_user)
    response = client.post(f"/trading/accounts/{paper_account.pk}/limits/", {"max_order_value": "1000"})
    assert response.status_code == 404
    response = other_api_client.post(f"/api/v1/broker-accounts/{paper_account.pk}/limits/",
                                     {"max_order_value": 1000}, format="json")
    assert response.status_code == 404
    paper_account.refresh_from_db()
    assert paper_account.max_order_value is None


def test_the_api_sets_limits_leaves_omitted_ones_and_refuses_bad_ones(api_client, paper_account, no_jobs):
    url = f"/api/v1/broker-accounts/{paper_account.pk}/limits/"
    response = api_client.post(url, {"max_order_value": 1_000_000, "max_position_share": "25.5"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["max_order_value"], body["max_position_share"]) == ("1000000", "25.50")
    assert api_client.post(url, {"max_position_share": None}, format="json").json()["max_order_value"] == "1000000"

    bad = api_client.post(url, {"max_order_value": 500_000_000}, format="json")
    assert bad.status_code == 400 and "max_order_value" in bad.json()["error"]["fields"]
    bad = api_client.post(url, {"max_position_share": "abc"}, format="json")
    assert bad.status_code == 400 and "max_position_share" in bad.json()["error"]["fields"]
    paper_account.refresh_from_db()
    assert (paper_account.max_order_value, paper_account.max_position_share) == (1_000_000, None)
    assert set(AuditEntry.objects.filter(action="broker_account.limits").values_list("door", flat=True)) == {"api"}
    assert refusal(paper_account, 15).codes == ["above_max_order_value"]
