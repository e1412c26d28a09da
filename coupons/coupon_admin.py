"""Coupons and redemptions in the operators' console.

- Coupons: create one (its code canonicalised and checked; audited), generate a batch with unique
  readable codes (``generate/``), export the selected ones or a whole campaign as CSV (``export/``,
  formula-safe cells), deactivate (an action), and each coupon's redemptions inline.
- Campaigns (``campaigns/``): per campaign the coupons, active ones, redemptions and what remains, with
  links to its coupons, its redemptions and its CSV.
- Redemptions: read-only, filterable by campaign.

Every write goes through ``coupons.coupon_services`` with the admin as actor. Nothing here offers a
discount: the kinds are free days of a plan and upgrades.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from core.admin import ReadOnlyAdmin
from core.audit import Actor, audit_record
from core.csvfile import csv_bytes
from core.errors import ApplicationError
from coupons import codes, coupon_selectors
from coupons.coupon_services import (CouponTerms, code_check, coupon_batch_create, coupon_deactivate, coupon_saved,
                                     terms_check)
from coupons.models import Coupon, CouponKind, Plan, Redemption

CSV_HEADER = ["code", "kind", "plan", "days", "campaign", "valid_from", "valid_until", "max_redemptions",
              "max_per_user", "new_users_only", "new_user_days", "from_plans", "redeemed", "remaining", "active",
              "created_at"]


def admin_actor(request: HttpRequest) -> Actor:
    """The admin acting (audit rows: actor the admin, kind admin), named on timelines."""
    return dataclasses.replace(Actor.from_request(request, door="admin"), label=f"admin {request.user.email}")


def _iso(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def coupon_csv(coupons: QuerySet[Coupon]) -> bytes:
    """The coupons as a CSV file (UTF-8 with BOM; a campaign name never runs as a formula)."""
    rows = []
    for coupon in coupons.select_related("plan").prefetch_related("from_plans").order_by("campaign", "code"):
        remaining = "" if coupon.max_redemptions is None else max(0, coupon.max_redemptions - coupon.redeemed_count)
        rows.append([codes.display(coupon.code), coupon.kind, coupon.plan.code, coupon.days, coupon.campaign,
                     _iso(coupon.valid_from), _iso(coupon.valid_until), coupon.max_redemptions or "",
                     coupon.max_per_user, int(coupon.new_users_only), coupon.new_user_days,
                     " ".join(sorted(plan.code for plan in coupon.from_plans.all())), coupon.redeemed_count,
                     remaining, int(coupon.active), _iso(coupon.created_at)])
    return csv_bytes(CSV_HEADER, rows)


class CampaignFilter(admin.SimpleListFilter):
    title = gettext_lazy("campaign")
    parameter_name = "campaign"
    field = "campaign"

    def lookups(self, request, model_admin):
        names = Coupon.objects.order_by("campaign").values_list("campaign", flat=True).distinct()
        return [(name, name or _("(no campaign)")) for name in names]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.field: self.value()})


class RedemptionCampaignFilter(CampaignFilter):
    field = "coupon__campaign"


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, plan: Plan) -> str:
        return f"{plan.name} ({plan.code})"


def _plan_fields(form: forms.Form) -> None:
    form.fields["plan"].queryset = Plan.objects.filter(is_default=False).order_by("rank")
    form.fields["from_plans"].widget = forms.CheckboxSelectMultiple()
    form.fields["from_plans"].queryset = Plan.objects.order_by("rank")  # fills the new widget's choices


class CouponAdminForm(forms.ModelForm):
    class Meta:
        model = Coupon
        fields = ["code", "kind", "plan", "days", "campaign", "valid_from", "valid_until", "max_redemptions",
                  "max_per_user", "new_users_only", "new_user_days", "from_plans", "active"]
        help_texts = {"code": gettext_lazy("Letters and digits; spaces and dashes are dropped, and it is "
                                           "compared in any case (stored in capitals).")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "plan" in self.fields:
            _plan_fields(self)

    def clean_code(self) -> str:
        try:
            return code_check(code=self.cleaned_data.get("code", ""), exclude_pk=self.instance.pk)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            terms_check(plan=data.get("plan"), valid_from=data.get("valid_from"), valid_until=data.get("valid_until"))
        except ApplicationError as error:
            self.add_error(error.field, error.message)
        if data.get("max_redemptions") is not None and data["max_redemptions"] < self.instance.redeemed_count:
            self.add_error("max_redemptions", _("It has been redeemed %(count)s times already.")
                           % {"count": self.instance.redeemed_count})
        return data


class BatchForm(forms.Form):
    count = forms.IntegerField(label=gettext_lazy("Number of coupons"), min_value=1, max_value=10_000, initial=100)
    campaign = forms.CharField(label=gettext_lazy("Campaign"), max_length=60,
                               help_text=gettext_lazy("Names the batch in the statistics, filters and exports."))
    prefix = forms.CharField(label=gettext_lazy("Code prefix"), max_length=8, required=False,
                             help_text=gettext_lazy("Optional, before the random part (no 0, 1, I, L or O)."))
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=CouponKind.choices)
    plan = PlanChoiceField(label=gettext_lazy("Plan given"), queryset=Plan.objects.none())
    days = forms.IntegerField(label=pgettext_lazy("length of a plan", "Days"), min_value=1, max_value=3650, initial=14)
    valid_from = forms.DateTimeField(label=gettext_lazy("Valid from"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    valid_until = forms.DateTimeField(label=gettext_lazy("Valid until"), required=False,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    max_redemptions = forms.IntegerField(label=gettext_lazy("Most redemptions of each code"), min_value=1,
                                         required=False, initial=1, help_text=gettext_lazy("Empty: no cap."))
    max_per_user = forms.IntegerField(label=gettext_lazy("Most redemptions per user"), min_value=1, max_value=100,
                                      initial=1)
    new_users_only = forms.BooleanField(label=gettext_lazy("New users only"), required=False)
    new_user_days = forms.IntegerField(label=gettext_lazy("New user window (days)"), min_value=1, max_value=3650,
                                       initial=30)
    from_plans = forms.ModelMultipleChoiceField(label=gettext_lazy("Redeemable from plans"), required=False,
                                                queryset=Plan.objects.none(),
                                                help_text=gettext_lazy("None ticked: from any lower plan."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plan_fields(self)

    def terms(self) -> CouponTerms:
        data = self.cleaned_data
        return CouponTerms(kind=data["kind"], plan=data["plan"], days=data["days"], campaign=data["campaign"],
                           valid_from=data["valid_from"], valid_until=data["valid_until"],
                           max_redemptions=data["max_redemptions"], max_per_user=data["max_per_user"],
                           new_users_only=data["new_users_only"], new_user_days=data["new_user_days"],
                           from_plans=tuple(data["from_plans"]))


class RedemptionInline(admin.TabularInline):
    model = Redemption
    extra = 0
    can_delete = False
    fields = ["redeemed_at", "user", "plan_given", "period", "status"]
    readonly_fields = fields
    ordering = ["-redeemed_at"]
    verbose_name_plural = gettext_lazy("redemptions")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "subscription__plan")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("plan given"))
    def plan_given(self, redemption: Redemption) -> str:
        return redemption.subscription.plan.name

    @admin.display(description=gettext_lazy("period"))
    def period(self, redemption: Redemption) -> str:
        return _period(redemption)

    @admin.display(description=gettext_lazy("status"))
    def status(self, redemption: Redemption) -> str:
        return redemption.subscription.get_status_display()


def _period(redemption: Redemption) -> str:
    subscription = redemption.subscription
    start = timezone.localtime(subscription.starts_at).strftime("%Y-%m-%d")
    end = timezone.localtime(subscription.ends_at).strftime("%Y-%m-%d") if subscription.ends_at else "…"
    return f"{start} – {end}"


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponAdminForm
    list_display = ["code_display", "kind", "plan", "days", "campaign", "valid_from", "valid_until", "usage",
                    "active", "created_at"]
    list_filter = ["active", "kind", "plan", CampaignFilter, "new_users_only", "valid_until"]
    search_fields = ["code", "campaign"]
    list_select_related = ["plan"]
    readonly_fields = ["redeemed_count", "created_by", "created_at", "updated_at"]
    inlines = [RedemptionInline]
    actions = ["deactivate_selected", "export_selected"]
    change_list_template = "admin/coupons/coupon/change_list.html"
    date_hierarchy = "created_at"

    def has_delete_permission(self, request: HttpRequest, obj: Coupon | None = None) -> bool:
        return False  # deactivate instead: redemptions keep pointing at their coupon

    def get_search_results(self, request, queryset, search_term):
        """A code is found however it was typed (ABCD-EFGH, abcd efgh)."""
        results, duplicates = super().get_search_results(request, queryset, search_term)
        canonical = codes.normalize(search_term)
        if canonical and canonical != search_term:
            results = results | queryset.filter(code__icontains=canonical)
        return results, duplicates

    @admin.display(description=gettext_lazy("code"), ordering="code")
    def code_display(self, coupon: Coupon) -> str:
        return codes.display(coupon.code)

    @admin.display(description=gettext_lazy("redeemed"), ordering="redeemed_count")
    def usage(self, coupon: Coupon) -> str:
        if coupon.max_redemptions is None:
            return f"{coupon.redeemed_count} / ∞"
        return f"{coupon.redeemed_count} / {coupon.max_redemptions}"

    def save_model(self, request: HttpRequest, obj: Coupon, form, change: bool) -> None:
        coupon_saved(actor=admin_actor(request), coupon=obj, created=not change, changed=form.changed_data,
                     from_plans=form.cleaned_data.get("from_plans"))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("generate/", view(self.generate_view), name="coupons_coupon_generate"),
                path("export/", view(self.export_view), name="coupons_coupon_export"),
                path("campaigns/", view(self.campaigns_view), name="coupons_coupon_campaigns"),
                *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        campaign = request.GET.get("campaign")
        context = {"can_generate": self.has_add_permission(request), "campaign": campaign,
                   "export_url": (f"{reverse('admin:coupons_coupon_export')}?{urlencode({'campaign': campaign})}"
                                  if campaign is not None else ""),
                   **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.action(description=gettext_lazy("Deactivate the selected coupons"), permissions=["change"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        turned = coupon_deactivate(actor=admin_actor(request), coupons=list(queryset),
                                   reason=_("deactivated in the admin"))
        self.message_user(request, ngettext("%(count)d coupon deactivated.", "%(count)d coupons deactivated.",
                                            turned) % {"count": turned}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Export the selected coupons as CSV"), permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> HttpResponse:
        return self._csv_response(request, queryset, name="selected")

    def _csv_response(self, request: HttpRequest, queryset: QuerySet[Coupon], *, name: str) -> HttpResponse:
        count = queryset.count()
        audit_record(actor=admin_actor(request), action="coupon.export", owner=None, object_type="coupons.coupon",
                     object_id=name[:64], after={"count": count})
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        safe_name = "".join(char if char.isalnum() or char in "-_" else "-" for char in name)[:40] or "coupons"
        response = HttpResponse(coupon_csv(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="coupons-{safe_name}-{stamp}.csv"'
        return response

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """A whole campaign as CSV (``?campaign=``; empty: the coupons of no campaign)."""
        if not self.has_view_permission(request) or "campaign" not in request.GET:
            raise PermissionDenied
        campaign = request.GET["campaign"]
        return self._csv_response(request, Coupon.objects.filter(campaign=campaign), name=campaign or "none")

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        """The batch form: N coupons with the same terms and unique codes, then the campaign's list."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                made = coupon_batch_create(actor=admin_actor(request), count=form.cleaned_data["count"],
                                           terms=form.terms(), prefix=form.cleaned_data["prefix"])
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                campaign = form.cleaned_data["campaign"].strip()
                self.message_user(request, ngettext(
                    "%(count)d coupon generated in campaign %(campaign)s.",
                    "%(count)d coupons generated in campaign %(campaign)s.", len(made)) % {
                        "count": len(made), "campaign": campaign}, messages.SUCCESS)
                changelist = reverse("admin:coupons_coupon_changelist")
                return HttpResponseRedirect(f"{changelist}?{urlencode({'campaign': campaign})}")
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": _("Generate a batch of coupons")}
        return TemplateResponse(request, "admin/coupons/coupon/generate.html", context,
                                status=400 if form.errors else 200)

    def campaigns_view(self, request: HttpRequest) -> HttpResponse:
        """Per campaign: coupons, active ones, redemptions, what remains."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = []
        for stats in coupon_selectors.campaign_stats():
            query = urlencode({"campaign": stats.campaign})
            rows.append({"stats": stats, "coupons_url": f"{reverse('admin:coupons_coupon_changelist')}?{query}",
                         "redemptions_url": f"{reverse('admin:coupons_redemption_changelist')}?{query}",
                         "export_url": f"{reverse('admin:coupons_coupon_export')}?{query}"})
        context = {**self.admin_site.each_context(request), "opts": self.opts, "rows": rows,
                   "title": _("Coupon campaigns")}
        return TemplateResponse(request, "admin/coupons/coupon/campaigns.html", context)


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["redeemed_at", "coupon_code", "campaign", "user", "plan_given", "period"]
    list_filter = [RedemptionCampaignFilter, "coupon__kind", ("subscription__plan", admin.RelatedOnlyFieldListFilter),
                   "redeemed_at"]
    search_fields = ["user__email", "coupon__code", "coupon__campaign"]
    list_select_related = ["coupon", "user", "subscription__plan"]
    date_hierarchy = "redeemed_at"

    @admin.display(description=gettext_lazy("code"), ordering="coupon__code")
    def coupon_code(self, redemption: Redemption) -> str:
        return codes.display(redemption.coupon.code)

    @admin.display(description=gettext_lazy("campaign"), ordering="coupon__campaign")
    def campaign(self, redemption: Redemption) -> str:
        return redemption.coupon.campaign

    @admin.display(description=gettext_lazy("plan given"))
    def plan_given(self, redemption: Redemption) -> str:
        return redemption.subscription.plan.name

    @admin.display(description=gettext_lazy("period"))
    def period(self, redemption: Redemption) -> str:
        return _period(redemption)
