"""Coupons in the browser: an operator generates a batch in the admin, a user redeems one code on
쿠폰함, and their plan and its limits change at once on /plans/me/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from coupons import codes
from coupons.models import Coupon
from coupons.tests.coupon_helpers import plans
from tests.e2e.helpers import login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def test_a_batch_generated_in_the_admin_and_one_code_redeemed_by_a_user(page, new_page):
    plans()  # seeded by migration; again after a transactional test emptied the tables
    operator = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    login(page, operator.email)
    page.goto("/admin/coupons/coupon/")
    page.get_by_test_id("generate-batch").click()
    form = page.get_by_test_id("batch-form")
    form.locator("input[name=count]").fill("3")
    form.locator("input[name=campaign]").fill("e2e-launch")
    form.locator("select[name=kind]").select_option("trial_days")
    form.locator("select[name=plan]").select_option(label="Pro (pro)")
    form.locator("input[name=days]").fill("14")
    page.get_by_test_id("batch-submit").click()
    expect(page).to_have_url(re.compile(r"/admin/coupons/coupon/\?campaign=e2e-launch$"))
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("export-campaign")).to_be_visible()

    code = Coupon.objects.filter(campaign="e2e-launch").order_by("code").first().code
    member = new_page()
    login(member, UserFactory(email="member@example.com").email)
    member.goto("/coupons/")
    member.locator("input[name=code]").fill(codes.display(code).lower())
    member.get_by_test_id("redeem-submit").click()
    expect(member.get_by_test_id("redemption")).to_have_count(1)
    expect(member.get_by_test_id("redemption-plan")).to_contain_text("Pro")

    member.goto("/plans/me/")
    expect(member.get_by_test_id("current-subscription").locator("h2")).to_have_text("Pro")
    expect(member.get_by_test_id("usage-max_symbols_per_backtest")).to_contain_text("500")
