"""거래 (Trading) in the browser: open a paper account and see its cash; connect a (fake) KIS mock
account, see its balance, rotate its key, delete it; the audit rows of each action in the admin."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from tests.e2e.helpers import login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

KEY, SECRET = "PSe2e0key" + "a" * 27, "e2e-secret-" + "b" * 169
NEW_KEY, NEW_SECRET = "PSe2e1key" + "c" * 27, "e2e-secret-" + "d" * 169
ACCOUNT = "70000001-01"


def test_paper_account_starts_with_its_virtual_cash(page):
    user = UserFactory(email="paper.trader@example.com")
    login(page, user.email)
    page.goto("/trading/")
    expect(page.get_by_test_id("no-accounts")).to_be_visible()
    page.get_by_test_id("open-paper").click()
    page.locator("input[name=nickname]").fill("연습 계좌")
    page.locator("input[name=cash]").fill("25000000")
    page.get_by_test_id("paper-submit").click()
    expect(page.locator("h1")).to_have_text("연습 계좌")
    expect(page.get_by_test_id("balance-cash")).to_have_text("25,000,000")
    expect(page.get_by_test_id("balance-orderable")).to_have_text("25,000,000")
    expect(page.get_by_test_id("no-positions")).to_be_visible()


def test_connect_a_kis_mock_account_see_the_balance_rotate_and_delete(page, new_page, fake_kis_server):
    fake_kis_server.add_account(KEY, SECRET, ACCOUNT, hts_id="e2ehts", environment="mock", cash=3_000_000,
                                positions={"005930": (7, 60_000)})
    fake_kis_server.add_account(NEW_KEY, NEW_SECRET, ACCOUNT, hts_id="e2ehts", environment="mock",
                                cash=3_000_000, positions={"005930": (7, 60_000)})
    fake_kis_server.set_price("005930", 70_100, prev_close=69_000, name="삼성전자")
    user = UserFactory(email="kis.trader@example.com")
    login(page, user.email)

    page.goto("/trading/accounts/new/")
    page.locator("select[name=broker]").select_option("kis")
    page.locator("select[name=environment]").select_option("mock")
    page.locator("input[name=nickname]").fill("한투 모의")
    page.locator("input[name=account_no]").fill(ACCOUNT)
    page.locator("input[name=app_key]").fill(KEY)
    page.locator("input[name=app_secret]").fill("wrong" + SECRET[5:])
    page.get_by_test_id("connect-submit").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("앱 키")  # the broker refused: nothing saved
    page.locator("input[name=app_secret]").fill(SECRET)
    page.get_by_test_id("connect-submit").click()

    expect(page.locator("h1")).to_have_text("한투 모의")
    expect(page.get_by_test_id("account-status")).to_have_text("확인됨")
    expect(page.get_by_test_id("account-no")).to_have_text(ACCOUNT)
    expect(page.get_by_test_id("balance-cash")).to_have_text("3,000,000")
    row = page.locator("[data-testid=position][data-symbol='005930']")
    expect(row).to_contain_text("7")
    expect(row.locator("td.up").first).to_be_visible()  # a gain, in the Korean colour
    assert SECRET not in page.content() and KEY not in page.content()

    page.get_by_test_id("rotate-keys").click()
    page.locator("input[name=app_key]").fill(NEW_KEY)
    page.locator("input[name=app_secret]").fill(NEW_SECRET)
    page.get_by_test_id("rotate-submit").click()
    expect(page.get_by_test_id("app-key")).to_have_text("…cccc")

    page.get_by_test_id("delete-account").click()
    page.get_by_test_id("confirm-delete-button").click()
    expect(page).to_have_url(re.compile(r"/trading/$"))
    expect(page.get_by_test_id("no-accounts")).to_be_visible()

    admin = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    admin_page = new_page()
    login(admin_page, admin.email)
    admin_page.goto(f"/admin/core/auditentry/?owner__id__exact={user.pk}")
    table = admin_page.locator("#result_list")
    for action in ("broker_account.connect", "broker_account.rotate_keys", "broker_account.delete"):
        expect(table).to_contain_text(action)
