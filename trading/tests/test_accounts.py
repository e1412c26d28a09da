"""Broker accounts through their doors: connect (verified before saving), verify, rotate, rename,
delete, ownership, audit rows and events, against a fake KIS that speaks KIS's API."""

from __future__ import annotations

import logging

import pytest
from django.core import mail

from core import events
from core.audit import Actor
from core.models import AuditEntry
from trading import services
from trading.models import AccountStatus, BrokerAccount
from trading.tests.conftest import ACCOUNT, ACCOUNT_DIGITS, KEY, SECRET

pytestmark = pytest.mark.django_db


def _form(**changes):
    data = {"broker": "kis", "environment": "mock", "nickname": "모의 계좌", "account_no": ACCOUNT,
            "hts_id": "alicehts", "app_key": KEY, "app_secret": SECRET}
    data.update(changes)
    return data


@pytest.fixture
def published(monkeypatch):
    seen = []
    monkeypatch.setattr(events, "ROUTES", [seen.append])
    return seen


def _connect(user):
    return services.broker_account_connect(actor=Actor.of_user(user), owner=user, **_form())


def test_connecting_verifies_with_the_broker_then_saves_the_account_encrypted(client, user, fake_kis, published,
                                                                              django_capture_on_commit_callbacks):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/trading/accounts/new/", _form())
    account = BrokerAccount.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == f"/trading/accounts/{account.pk}/"
    assert account.status == AccountStatus.VERIFIED and account.account_no == ACCOUNT_DIGITS
    assert KEY not in account.app_key_encrypted and SECRET not in account.app_secret_encrypted
    assert account.credentials().app_secret == SECRET and account.masked_app_key == "…kkkk"
    assert account.balance_snapshot["deposit"] == "5000000"
    assert [p["symbol"] for p in account.balance_snapshot["positions"]] == ["005930"]
    entry = AuditEntry.objects.get(action="broker_account.connect")
    assert entry.actor == user and entry.owner == user and entry.door == "web"
    assert SECRET not in str(entry.after) and KEY not in str(entry.after)
    assert [event.name for event in published] == ["broker.verified"]
    assert fake_kis.server.token_issuances(KEY) == 1


def test_a_refused_secret_is_a_clear_form_error_and_nothing_is_saved(client, user, fake_kis):
    client.force_login(user)
    client.cookies["lang"] = "en"
    response = client.post("/trading/accounts/new/", _form(app_secret="x" * 180), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "The broker refused the app key or secret" in response.content.decode()
    assert not BrokerAccount.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("app_key", "short", "36 characters"),
    ("app_secret", "s" * 179, "180 characters"),
    ("account_no", "1234-5678", "10-digit account number"),
])
def test_formats_are_checked_before_the_broker_is_asked(client, user, fake_kis, field, value, message):
    client.force_login(user)
    client.cookies["lang"] = "en"
    response = client.post("/trading/accounts/new/", _form(**{field: value}))
    assert message in response.content.decode()
    assert fake_kis.server.count() == 0 and not BrokerAccount.objects.exists()


def test_the_same_account_cannot_be_connected_twice(user, fake_kis):
    _connect(user)
    with pytest.raises(services.ApplicationError) as refused:
        _connect(user)
    assert refused.value.field == "account_no"


def test_verify_again_reissues_an_expired_token_once_and_audits(client, user, fake_kis):
    account = _connect(user)
    fake_kis.server.advance(25 * 3600)  # a day later: the token has expired, a new one may be issued
    client.force_login(user)
    response = client.post(f"/trading/accounts/{account.pk}/verify/")
    account.refresh_from_db()
    assert response.status_code == 302 and account.status == AccountStatus.VERIFIED
    assert fake_kis.server.token_issuances(KEY) == 2
    assert AuditEntry.objects.filter(action="broker_account.verify", actor=user).count() == 1


def test_a_failed_check_marks_the_account_and_tells_the_user(user, fake_kis, published,
                                                             django_capture_on_commit_callbacks):
    account = _connect(user)
    fake_kis.server.book.accounts[KEY].app_secret = "changed-at-the-broker"
    fake_kis.server.advance(25 * 3600)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.broker_account_verify(actor=Actor.system("connection check"), account=account,
                                                 audit_always=False)
    account.refresh_from_db()
    assert not outcome.ok and account.status == AccountStatus.FAILED
    assert "refused the app key or secret" in account.status_reason
    assert published[-1].name == "broker.verification_failed"
    assert len(mail.outbox) == 1 and account.nickname in mail.outbox[0].subject
    entry = AuditEntry.objects.get(action="broker_account.verify")
    assert entry.actor is None and entry.actor_label == "connection check"
    assert (entry.before["status"], entry.after["status"]) == ("verified", "failed")


def test_rotating_keys_verifies_the_new_ones_and_revokes_the_old_token(user, fake_kis,
                                                                       django_capture_on_commit_callbacks):
    account = _connect(user)
    new_key, new_secret = "PSalice1key" + "n" * 25, "new-secret-" + "t" * 169
    fake_kis.server.add_account(new_key, new_secret, ACCOUNT, environment="mock", cash=5_000_000)
    with django_capture_on_commit_callbacks(execute=True):
        services.broker_account_rotate_keys(actor=Actor.of_user(user), account=account, app_key=new_key,
                                            app_secret=new_secret)
    account.refresh_from_db()
    assert account.credentials().app_key == new_key and account.masked_app_key == "…nnnn"
    assert fake_kis.server.count("/oauth2/revokeP") == 1
    entry = AuditEntry.objects.get(action="broker_account.rotate_keys")
    assert (entry.before["app_key"], entry.after["app_key"]) == ("…kkkk", "…nnnn")


def test_keys_that_fail_leave_the_old_ones_in_place(user, fake_kis):
    account = _connect(user)
    with pytest.raises(services.BrokerRefused):
        services.broker_account_rotate_keys(actor=Actor.of_user(user), account=account,
                                            app_key="PSunknown" + "u" * 27, app_secret="v" * 180)
    account.refresh_from_db()
    assert account.credentials().app_key == KEY and not AuditEntry.objects.filter(action__contains="rotate").exists()


def test_deleting_revokes_the_token_and_keeps_the_audit_row(client, user, fake_kis,
                                                           django_capture_on_commit_callbacks):
    account = _connect(user)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/trading/accounts/{account.pk}/delete/")
    assert response.status_code == 302 and not BrokerAccount.objects.exists()
    assert fake_kis.server.count("/oauth2/revokeP") == 1
    entry = AuditEntry.objects.get(action="broker_account.delete")
    assert entry.owner == user and entry.before["account_no"] == "****3456-01"


def test_renaming_is_audited(client, user, fake_kis):
    account = _connect(user)
    client.force_login(user)
    client.post(f"/trading/accounts/{account.pk}/rename/", {"nickname": "연금 계좌"})
    account.refresh_from_db()
    entry = AuditEntry.objects.get(action="broker_account.rename")
    assert account.nickname == "연금 계좌" and entry.after == {"nickname": "연금 계좌"}


@pytest.mark.parametrize("path", ["", "verify/", "rotate/", "rename/", "delete/"])
def test_another_users_account_does_not_exist_for_bob(client, user, other_user, fake_kis, path):
    account = _connect(user)
    client.force_login(other_user)
    assert client.get(f"/trading/accounts/{account.pk}/{path}").status_code in (404, 405)
    assert client.post(f"/trading/accounts/{account.pk}/{path}", {"nickname": "x"}).status_code == 404
    account.refresh_from_db()
    assert account.nickname == "모의 계좌"


def test_no_page_admin_view_or_log_line_shows_a_secret(client, admin_client, user, fake_kis, caplog):
    caplog.set_level(logging.DEBUG)
    account = _connect(user)
    services.broker_account_verify(actor=Actor.of_user(user), account=account)
    token = fake_kis.server._latest[KEY].value
    client.force_login(user)
    pages = {
        "list": client.get("/trading/").content.decode(),
        "account": client.get(f"/trading/accounts/{account.pk}/").content.decode(),
        "rotate": client.get(f"/trading/accounts/{account.pk}/rotate/").content.decode(),
        "api list": client.get("/api/v1/broker-accounts/").content.decode(),
        "api detail": client.get(f"/api/v1/broker-accounts/{account.pk}/").content.decode(),
        "admin list": admin_client.get("/admin/trading/brokeraccount/").content.decode(),
        "admin view": admin_client.get(f"/admin/trading/brokeraccount/{account.pk}/change/").content.decode(),
        "audit": admin_client.get("/admin/core/auditentry/").content.decode(),
        "logs": caplog.text,
    }
    for name, text in pages.items():
        for secret in (SECRET, KEY, token):
            assert secret not in text, f"{name} shows a secret"
    for name in ("list", "api list", "admin list", "admin view", "logs"):
        assert ACCOUNT_DIGITS not in pages[name] and ACCOUNT not in pages[name], f"{name} shows the account number"
    assert ACCOUNT in pages["account"]  # the owner's own account page shows it whole
    assert "****3456-01" in pages["list"]


def test_the_admin_verify_action_records_the_admin_not_the_owner(admin_client, admin_user, user, fake_kis):
    account = _connect(user)
    admin_client.post("/admin/trading/brokeraccount/", {"action": "verify", "_selected_action": [account.pk]})
    entry = AuditEntry.objects.get(action="broker_account.verify")
    assert entry.actor == admin_user and entry.owner == user and entry.actor_kind == "admin"
    listing = admin_client.get("/admin/core/auditentry/?action=broker_account.verify")
    assert [row.action for row in listing.context["cl"].result_list] == ["broker_account.verify"]
    assert admin_client.post(f"/admin/core/auditentry/{entry.pk}/delete/").status_code == 403  # read-only


def test_field_keys_rotate_without_losing_a_secret(user, fake_kis, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    account = _connect(user)
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    call_command("rotate_field_keys", verbosity=0)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key dropped
    account.refresh_from_db()
    assert account.credentials().app_secret == SECRET


def test_a_kiwoom_mock_account_connects_and_shows_its_balance(user, settings, django_capture_on_commit_callbacks):
    from trading.fakes.kiwoom import FakeKiwoom

    key, secret = "kiwoom-app-key-0001", "kiwoom-secret-key-0001"
    server = FakeKiwoom(environment="mock", requests_per_second=50)
    server.add_account(key, secret, "8012345611", environment="mock", cash=2_000_000,
                       positions={"000660": (3, 150_000)})
    server.set_price("000660", 182_000, name="SK하이닉스", previous_close=180_000)
    with server:
        settings.BROKER_KIWOOM_MOCK_URL = server.url
        settings.BROKER_KIWOOM_MOCK_REQUESTS_PER_SECOND = 40
        with django_capture_on_commit_callbacks(execute=True):
            account = services.broker_account_connect(
                actor=Actor.of_user(user), owner=user, broker="kiwoom", environment="mock",
                account_no="8012345611", app_key=key, app_secret=secret, nickname="키움 모의")
        assert account.status == AccountStatus.VERIFIED
        assert account.balance_snapshot["positions"][0]["symbol"] == "000660"
        assert account.balance_snapshot["orderable_cash"] is not None
        with pytest.raises(services.BrokerRefused):  # the token's account is not the one typed
            services.broker_account_connect(
                actor=Actor.of_user(user), owner=user, broker="kiwoom", environment="mock",
                account_no="8099999911", app_key=key, app_secret=secret, nickname="남의 계좌")
        with django_capture_on_commit_callbacks(execute=True):
            services.broker_account_delete(actor=Actor.of_user(user), account=account)
        assert server.count("/oauth2/revoke") == 1


def test_a_paper_account_opens_with_its_cash_and_needs_no_keys(client, user):
    client.force_login(user)
    client.cookies["lang"] = "en"
    response = client.post("/trading/accounts/new/paper/", {"nickname": "연습", "cash": "30000000"})
    account = BrokerAccount.objects.get(owner=user)
    assert response.status_code == 302 and account.is_paper and account.status == AccountStatus.VERIFIED
    client.post(f"/trading/accounts/{account.pk}/verify/")  # reads the paper book's balance
    page = client.get(f"/trading/accounts/{account.pk}/").content.decode()
    assert "30,000,000" in page and "Rotate keys" not in page
    assert AuditEntry.objects.filter(action="broker_account.open_paper", actor=user).exists()
    too_much = client.post("/trading/accounts/new/paper/", {"nickname": "x", "cash": "99999999999999"})
    assert "between 1,000,000 and 10,000,000,000" in too_much.content.decode()
    client.post(f"/trading/accounts/{account.pk}/delete/")
    from trading.paper.models import PaperBook

    assert not BrokerAccount.objects.exists() and not PaperBook.objects.exists()


@pytest.mark.parametrize("model", ["brokeraccount", "paperorder", "paperfill", "paperposition"])
def test_the_admin_lists_open_for_operators(admin_client, model):
    assert admin_client.get(f"/admin/trading/{model}/").status_code == 200


@pytest.mark.parametrize("model", ["order", "position"])
def test_the_ledger_admin_lists_open_for_operators(admin_client, model):
    assert admin_client.get(f"/admin/trading/{model}/").status_code == 200


def test_an_account_with_an_unsettled_order_cannot_be_deleted(client, user):
    from trading.orders.models import Order

    client.force_login(user)
    client.post("/trading/accounts/new/paper/", {"nickname": "연습", "cash": "10000000"})
    account = BrokerAccount.objects.get(owner=user)
    Order.objects.create(owner=user, account=account, symbol="005930", side="buy", quantity=1,
                         order_type="limit", price=70_000, state="unknown", order_day="2026-03-04")
    response = client.post(f"/trading/accounts/{account.pk}/delete/", follow=True)
    assert BrokerAccount.objects.filter(pk=account.pk).exists()
    assert "still has 1 open or unsettled orders" in response.content.decode()
