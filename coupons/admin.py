"""Plans and subscriptions in the operators' console.

- Plans: every limit editable (the live value every service reads through ``plan_limits``).
- Subscriptions: listed and filtered (status, source, plan); read-only rows, because a change of plan
  goes through ``subscription_grant`` (the queue of scheduled plans, the audit row, the event): the
  "Grant a plan" page (``grant/``) does that with the admin as actor.

Coupons and redemptions are registered in ``coupons.coupon_admin`` (imported at the bottom).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.audit import Actor
from core.errors import ApplicationError
from coupons import selectors, services
from coupons.models import Plan, Subscription, SubscriptionSource

GRANTED = gettext_lazy("%(plan)s for %(days)s days granted to %(email)s (%(status)s).")
NO_SUCH_USER = gettext_lazy("No user has this email address.")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "rank", "is_default", "is_public", "max_strategies", "max_symbols_per_backtest",
                    "max_concurrent_backtests", "max_sweep_cells", "max_backtests_per_day", "api_requests_per_minute",
                    "invite_reward_days"]
    list_editable = ["is_public"]
    ordering = ["rank"]
    fieldsets = [
        (None, {"fields": ["code", "name", "rank", "is_default", "is_public", "description", "invite_reward_days"]}),
        (gettext_lazy("Limits"), {"fields": list(selectors.LIMIT_FIELDS)}),
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Plan | None = None) -> bool:
        # a plan with subscriptions is protected by the database anyway; the default plan must stay
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_default)


class GrantForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("User's email"))
    plan = forms.ModelChoiceField(Plan.objects.filter(is_default=False).order_by("rank"), label=gettext_lazy("Plan"))
    days = forms.IntegerField(label=gettext_lazy("Days of the plan"), min_value=1, max_value=services.MAX_GRANT_DAYS)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=300, required=False)

    def clean_email(self) -> User:
        user = User.objects.filter(email__iexact=self.cleaned_data["email"].strip()).first()
        if user is None:
            raise forms.ValidationError(NO_SUCH_USER)
        return user


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "plan", "source", "status", "starts_at", "ends_at", "ended_at", "granted_by"]
    list_filter = ["status", "source", "plan"]
    search_fields = ["user__email"]
    list_select_related = ["user", "plan", "granted_by"]
    date_hierarchy = "starts_at"
    readonly_fields = ["user", "plan", "source", "status", "starts_at", "ends_at", "ended_at", "warned_7d_at",
                       "warned_1d_at", "note", "granted_by"]
    change_list_template = "admin/coupons/subscription/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the grant page instead: the queue and the audit row

    def has_delete_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return False

    def get_urls(self):
        grant = self.admin_site.admin_view(self.grant_view)
        return [path("grant/", grant, name="coupons_subscription_grant"), *super().get_urls()]

    def grant_view(self, request: HttpRequest) -> HttpResponse:
        """Grant a plan for N days to a user, through ``subscription_grant`` with the admin as actor."""
        if not request.user.has_perm("coupons.change_subscription"):
            raise PermissionDenied
        form = GrantForm(request.POST or None, initial={"email": request.GET.get("email", "")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                granted = services.subscription_grant(
                    actor=Actor.from_request(request, door="admin"), user=data["email"], plan=data["plan"],
                    days=data["days"], source=SubscriptionSource.ADMIN, note=data["note"], granted_by=request.user)
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(request, GRANTED % {
                    "plan": data["plan"].name, "days": data["days"], "email": data["email"].email,
                    "status": granted.get_status_display()}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:coupons_subscription_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": _("Grant a plan")}
        return TemplateResponse(request, "admin/coupons/subscription/grant.html", context)


try:  # Coupon and Redemption admin (helper "coupons")
    from coupons import coupon_admin  # noqa: F401, E402
except ImportError:  # pragma: no cover - until it exists
    pass
