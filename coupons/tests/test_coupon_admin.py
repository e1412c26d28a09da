"""Coupons in the operators' console: readable unique codes, one coupon or a batch, CSV, deactivation,
redemptions per coupon and per campaign; every write audited with the admin as actor."""

from __future__ import annotations

import csv
import io
import re
from importlib import import_module

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import translation

from accounts.tests.factories import UserFactory
from core.audit import Actor
from core.models import AuditEntry
from coupons import codes
from coupons.coupon_services import CouponTerms, coupon_batch_create
from coupons.models import Coupon, CouponKind
from coupons.redeem import coupon_redeem

from .coupon_helpers import coupon, plans

import_module("coupons.coupon_admin")  # registers the admin (coupons.admin imports it too)
pytestmark = pytest.mark.django_db
COUPONS = "/admin/coupons/coupon/"
GENERATE = "/admin/coupons/coupon/generate/"
AMBIGUOUS = set("0O1IL")


@pytest.fixture(autouse=True)
def _english(settings):
    settings.ADMIN_REQUIRE_2FA = False
    with translation.override("en"):
        yield


@pytest.fixture
def seeded(db):
    return plans()


@pytest.fixture
def operator(db):
    return UserFactory(email="ops@example.com", is_staff=True, is_superuser=True, language="en")


@pytest.fixture
def ops(operator) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operator)
    return client


# -- codes ---------------------------------------------------------------------------------------------------


def test_the_alphabet_has_31_characters_none_of_them_ambiguous():
    assert len(codes.ALPHABET) == len(set(codes.ALPHABET)) == 31
    assert not AMBIGUOUS & set(codes.ALPHABET)


def test_a_generated_code_reads_in_groups_of_four():
    code = codes.generate()
    assert re.fullmatch(f"[{codes.ALPHABET}]{{8}}", code)
    assert re.fullmatch(f"[{codes.ALPHABET}]{{4}}-[{codes.ALPHABET}]{{4}}", codes.display(code))
    assert codes.display("WELCOME2026") == "WELCOME2026"  # an operator's own code stays as typed


def test_codes_drawn_again_until_none_is_taken(monkeypatch):
    drawn = iter(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB", "CCCCCCCC", "DDDDDDDD"])
    monkeypatch.setattr(codes, "generate", lambda **_: next(drawn))
    assert codes.generate_unique(2, taken=lambda candidates: {"BBBBBBBB"} & set(candidates)) == [
        "AAAAAAAA", "CCCCCCCC"]


def test_a_batch_has_unique_readable_codes_and_the_same_terms(seeded, operator):
    coupon("ABCDEFGH")
    made = coupon_batch_create(actor=Actor.of_admin(operator), count=300, prefix="SP", terms=CouponTerms(
        kind=CouponKind.UPGRADE, plan=seeded["premium"], days=7, campaign="spring", max_redemptions=1,
        from_plans=(seeded["pro"],)))
    stored = list(Coupon.objects.filter(campaign="spring"))
    assert len(made) == len(stored) == 300 and len({c.code for c in stored}) == 300
    assert all(c.code.startswith("SP") and not AMBIGUOUS & set(c.code) for c in stored)
    assert {(c.kind, c.plan.code, c.days, c.max_redemptions, c.created_by_id) for c in stored} == {
        ("upgrade", "premium", 7, 1, operator.pk)}
    assert [p.code for p in stored[0].from_plans.all()] == ["pro"]
    entry = AuditEntry.objects.get(action="coupon.batch_create")
    assert entry.actor == operator and entry.after["count"] == 300 and len(entry.after["codes"]) == 300


def test_a_batch_never_reuses_an_existing_code(seeded, operator, monkeypatch):
    coupon("AAAAAAAA")
    drawn = iter(["AAAAAAAA", "BBBBBBBB", "CCCCCCCC"])
    monkeypatch.setattr(codes, "generate", lambda **_: next(drawn))
    made = coupon_batch_create(actor=Actor.of_admin(operator), count=2,
                               terms=CouponTerms(kind=CouponKind.TRIAL_DAYS, plan=seeded["pro"], days=7))
    assert sorted(c.code for c in made) == ["BBBBBBBB", "CCCCCCCC"]


# -- the console ---------------------------------------------------------------------------------------------


def batch_form(seeded, **changes) -> dict:
    return {"count": "5", "campaign": "launch", "prefix": "", "kind": "trial_days", "plan": seeded["pro"].pk,
            "days": "14", "valid_from": "", "valid_until": "2099-01-01T00:00", "max_redemptions": "1",
            "max_per_user": "1", "new_user_days": "30", **changes}


def test_an_admin_generates_a_batch_and_lands_on_its_campaign(ops, operator, seeded):
    response = ops.post(GENERATE, batch_form(seeded))
    assert response.status_code == 302 and response["Location"] == f"{COUPONS}?campaign=launch"
    assert Coupon.objects.filter(campaign="launch", kind="trial_days", days=14).count() == 5
    entry = AuditEntry.objects.get(action="coupon.batch_create")
    assert entry.actor == operator and entry.actor_kind == "admin" and entry.door == "admin"
    page = ops.get(response["Location"]).content.decode()
    assert "5 coupons generated in campaign launch." in page and 'data-testid="export-campaign"' in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"count": "0"}, "count", "Ensure this value is greater than or equal to 1."),
    ({"prefix": "L0L"}, "prefix", "Use letters and digits of the code alphabet only (no 0, 1, I, L or O), at most 8."),
    ({"valid_from": "2099-02-01T00:00"}, "valid_until", "The end of the validity must come after its start."),
])
def test_a_bad_batch_is_explained_on_its_field(ops, seeded, changes, field, message):
    response = ops.post(GENERATE, batch_form(seeded, **changes))
    assert response.status_code == 400 and not Coupon.objects.exists()
    assert message in response.content.decode()
    assert field in response.context["form"].errors


def test_the_default_plan_is_not_offered_as_a_coupons_plan(ops, seeded):
    response = ops.post(GENERATE, batch_form(seeded, plan=seeded["free"].pk))
    assert response.status_code == 400 and "plan" in response.context["form"].errors


def test_an_admin_creates_one_coupon_with_its_code_in_capitals(ops, operator, seeded):
    response = ops.post(f"{COUPONS}add/", {
        "code": "welcome-2026", "kind": "upgrade", "plan": seeded["premium"].pk, "days": "30", "campaign": "",
        "max_per_user": "1", "new_user_days": "30", "active": "on", "from_plans": [seeded["pro"].pk],
        "redemptions-TOTAL_FORMS": "0", "redemptions-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Coupon.objects.get()
    assert created.code == "WELCOME2026" and created.created_by == operator
    entry = AuditEntry.objects.get(action="coupon.create")
    assert entry.actor == operator and entry.object_id == str(created.pk)
    assert entry.after["code"] == "WELCOME2026" and entry.after["from_plans"] == ["pro"]
    assert [plan.code for plan in created.from_plans.all()] == ["pro"]


def test_an_edit_of_a_coupon_is_audited_with_what_changed(ops, operator, seeded):
    made = coupon("WELCOME2026", kind=CouponKind.UPGRADE, plan="premium", days=30)
    response = ops.post(f"{COUPONS}{made.pk}/change/", {
        "code": "WELCOME2026", "kind": "upgrade", "plan": seeded["premium"].pk, "days": "60",
        "max_per_user": "1", "new_user_days": "30", "active": "on", "redemptions-TOTAL_FORMS": "0",
        "redemptions-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="coupon.update")
    assert entry.actor == operator and entry.before == {"days": 30} and entry.after == {"days": 60}


def test_a_code_taken_in_another_case_or_grouping_is_refused(ops, seeded):
    coupon("WELCOME2026")
    response = ops.post(f"{COUPONS}add/", {
        "code": "Welcome 2026", "kind": "upgrade", "plan": seeded["premium"].pk, "days": "30",
        "max_per_user": "1", "new_user_days": "30", "redemptions-TOTAL_FORMS": "0",
        "redemptions-INITIAL_FORMS": "0"})
    assert response.status_code == 200 and "Another coupon already has this code." in response.content.decode()


def test_deactivating_coupons_is_audited_per_coupon(ops, operator, seeded):
    first, second, off = coupon("AAAAAAAA"), coupon("BBBBBBBB"), coupon("CCCCCCCC", active=False)
    response = ops.post(COUPONS, {"action": "deactivate_selected", "_selected_action": [first.pk, second.pk, off.pk]},
                        follow=True)
    assert "2 coupons deactivated." in response.content.decode()
    assert not Coupon.objects.filter(active=True).exists()
    entries = AuditEntry.objects.filter(action="coupon.deactivate")
    assert sorted(int(e.object_id) for e in entries) == [first.pk, second.pk]
    assert {e.actor_id for e in entries} == {operator.pk}


def read_csv(response) -> list[dict]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_selected_coupons_export_as_formula_safe_csv(ops, operator, seeded):
    picked = coupon("ABCDEFGH", campaign="=HYPERLINK(\"http://evil\")", max_redemptions=10, redeemed_count=3)
    coupon("ZZZZZZZZ")
    response = ops.post(COUPONS, {"action": "export_selected", "_selected_action": [picked.pk]})
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 1 and rows[0]["code"] == "ABCD-EFGH" and rows[0]["plan"] == "pro"
    assert rows[0]["campaign"].startswith("'=") and rows[0]["redeemed"] == "3" and rows[0]["remaining"] == "7"
    assert AuditEntry.objects.get(action="coupon.export").actor == operator


def test_a_campaign_exports_all_its_coupons(ops, seeded):
    for code in ("AAAAAAAA", "BBBBBBBB"):
        coupon(code, campaign="autumn")
    coupon("CCCCCCCC", campaign="other")
    rows = read_csv(ops.get(f"{COUPONS}export/?campaign=autumn"))
    assert [row["code"] for row in rows] == ["AAAA-AAAA", "BBBB-BBBB"]


def test_campaign_statistics_count_coupons_redemptions_and_what_remains(ops, user, other_user, seeded):
    coupon("AAAAAAAA", campaign="spring", max_redemptions=2)
    coupon("BBBBBBBB", campaign="spring", max_redemptions=1, active=False)
    coupon("CCCCCCCC", campaign="open")  # no cap
    coupon_redeem(actor=Actor.of_user(user), user=user, code="AAAAAAAA")
    coupon_redeem(actor=Actor.of_user(other_user), user=other_user, code="AAAAAAAA")
    page = ops.get(f"{COUPONS}campaigns/").content.decode()
    spring = re.search(r'data-campaign="spring">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", spring, re.S)
    assert cells[:4] == ["2", "1", "2", "1"]  # coupons, active, redeemed, remaining
    assert "no cap" in re.search(r'data-campaign="open">(.*?)</tr>', page, re.S).group(1)


def test_a_coupons_redemptions_are_shown_with_it_and_per_campaign(ops, user, seeded):
    made = coupon("AAAAAAAA", campaign="spring")
    coupon("BBBBBBBB", campaign="other")
    coupon_redeem(actor=Actor.of_user(user), user=user, code="AAAAAAAA")
    assert "alice@example.com" in ops.get(f"{COUPONS}{made.pk}/change/").content.decode()
    listing = ops.get("/admin/coupons/redemption/?campaign=spring")
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    assert ops.get("/admin/coupons/redemption/?campaign=other").context["cl"].result_count == 0


def test_a_code_is_found_however_it_is_typed(ops, seeded):
    coupon("ABCDEFGH")
    coupon("ZZZZZZZZ")
    assert ops.get(f"{COUPONS}?q=abcd-efgh").context["cl"].result_count == 1


def test_staff_who_may_only_view_cannot_generate_or_deactivate(seeded):
    clerk = UserFactory(email="clerk@example.com", is_staff=True, language="en")
    clerk.user_permissions.set(Permission.objects.filter(content_type__app_label="coupons",
                                                         codename__in=["view_coupon", "view_redemption"]))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(clerk)
    made = coupon("AAAAAAAA")
    assert client.get(GENERATE).status_code == 403
    client.post(COUPONS, {"action": "deactivate_selected", "_selected_action": [made.pk]})
    assert Coupon.objects.get().active and not AuditEntry.objects.filter(action="coupon.deactivate").exists()
