"""The broker accounts API: the same services as the pages, secrets write-only, 404 for others."""

from __future__ import annotations

import pytest

from core.models import AuditEntry
from trading.models import BrokerAccount
from trading.tests.conftest import ACCOUNT, KEY, SECRET

pytestmark = pytest.mark.django_db

CONNECT = {"broker": "kis", "environment": "mock", "nickname": "앱 계좌", "account_no": ACCOUNT,
           "hts_id": "alicehts", "app_key": KEY, "app_secret": SECRET}


def test_connect_list_detail_rename_verify_delete(api_client, user, fake_kis):
    created = api_client.post("/api/v1/broker-accounts/", CONNECT, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "verified" and body["account_no"] == ACCOUNT and body["app_key_masked"] == "…kkkk"
    assert body["balance"]["deposit"] == "5000000" and body["balance"]["positions"][0]["symbol"] == "005930"
    assert "app_secret" not in body and SECRET not in created.content.decode()
    pk = body["id"]

    listed = api_client.get("/api/v1/broker-accounts/").json()
    assert [a["account_no_masked"] for a in listed] == ["****3456-01"] and "account_no" not in listed[0]

    renamed = api_client.patch(f"/api/v1/broker-accounts/{pk}/", {"nickname": "새 이름"}, format="json")
    assert renamed.json()["nickname"] == "새 이름"
    verified = api_client.post(f"/api/v1/broker-accounts/{pk}/verify/").json()
    assert verified["verified"] is True and verified["account"]["status"] == "verified"
    assert api_client.delete(f"/api/v1/broker-accounts/{pk}/").status_code == 204
    assert not BrokerAccount.objects.exists()
    doors = set(AuditEntry.objects.values_list("door", flat=True))
    assert doors == {"api"}


def test_a_broker_refusal_is_a_400_with_a_clear_message(api_client, fake_kis):
    api_client.cookies["lang"] = "en"
    response = api_client.post("/api/v1/broker-accounts/", {**CONNECT, "app_secret": "z" * 180}, format="json",
                               HTTP_ACCEPT_LANGUAGE="en")
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "broker_refused"
    assert "refused the app key or secret" in error["message"]


def test_bad_formats_name_their_field(api_client, fake_kis):
    response = api_client.post("/api/v1/broker-accounts/", {**CONNECT, "app_key": "abc"}, format="json")
    assert response.status_code == 400 and "app_key" in response.json()["error"]["fields"]
    response = api_client.post("/api/v1/broker-accounts/", {**CONNECT, "broker": "paper"}, format="json")
    assert response.status_code == 400 and "broker" in response.json()["error"]["fields"]


def test_bob_gets_404_for_alices_account(api_client, other_api_client, fake_kis):
    pk = api_client.post("/api/v1/broker-accounts/", CONNECT, format="json").json()["id"]
    for method, path in (("get", ""), ("patch", ""), ("delete", ""), ("post", "verify/"), ("post", "rotate-keys/")):
        response = getattr(other_api_client, method)(f"/api/v1/broker-accounts/{pk}/{path}",
                                                     {"nickname": "x", "app_key": KEY, "app_secret": SECRET},
                                                     format="json")
        assert response.status_code == 404, (method, path)
    assert other_api_client.get("/api/v1/broker-accounts/").json() == []
    assert BrokerAccount.objects.get(pk=pk).nickname == "앱 계좌"
