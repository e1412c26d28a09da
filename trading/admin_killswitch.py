"""The kill switches in the operators' console: every switch (global, per account, per user) listed,
the global one on top of the list; pulled and released only through ``trading.killswitch`` on a
form that asks why (audited with the admin as actor). Operating a switch needs the change
permission of kill switches; the service itself lets only staff touch the global one.

The form (``operate/``) takes its targets from the query: ``ids`` (switches of the list),
``scope=global``, ``scope=account&account=1,2`` (from the broker accounts' list) or
``scope=user&user=3``; with none of them it asks for the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.admin import ReadOnlyAdmin
from core.errors import ApplicationError
from trading.admin import GREEN, GREY, RED, Styled, admin_actor, badge
from trading.killswitch import kill_switch_pull, kill_switch_release
from trading.models import BrokerAccount
from trading.orders.models import KillSwitch, KillSwitchScope

PULL, RELEASE = "pull", "release"


@dataclass(frozen=True)
class Target:
    scope: str
    account: BrokerAccount | None = None
    user: Any = None

    @property
    def label(self) -> str:
        if self.scope == KillSwitchScope.GLOBAL:
            return _("the whole platform")
        if self.account is not None:
            return f"{self.account} · {self.account.owner.email}"
        return self.user.email


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


def targets_of(query: QueryDict) -> list[Target] | None:
    """The switches the query names; None when it names none (the form asks)."""
    if query.get("ids"):
        switches = KillSwitch.objects.filter(pk__in=_ids(query["ids"])).select_related("account__owner", "user")
        return [Target(s.scope, s.account, s.user) for s in switches.order_by("pk")]
    scope = query.get("scope")
    if scope == KillSwitchScope.GLOBAL:
        return [Target(KillSwitchScope.GLOBAL)]
    if scope == KillSwitchScope.ACCOUNT and query.get("account"):
        accounts = BrokerAccount.objects.filter(pk__in=_ids(query["account"])).select_related("owner").order_by("pk")
        return [Target(KillSwitchScope.ACCOUNT, account=account) for account in accounts]
    if scope == KillSwitchScope.USER and query.get("user"):
        users = get_user_model().objects.filter(pk__in=_ids(query["user"])).order_by("pk")
        return [Target(KillSwitchScope.USER, user=user) for user in users]
    return None


class KillSwitchForm(forms.Form):
    scope = forms.ChoiceField(label=gettext_lazy("Scope"), choices=KillSwitchScope.choices)
    account = forms.IntegerField(label=gettext_lazy("Broker account id"), required=False, min_value=1,
                                 help_text=gettext_lazy("For an account's switch."))
    user_email = forms.EmailField(label=gettext_lazy("User's email"), required=False,
                                  help_text=gettext_lazy("For a user's switch (every account of theirs)."))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Kept in the audit log; the affected user sees it."))
    cancel_open_orders = forms.BooleanField(
        label=gettext_lazy("Also cancel the open orders it covers"), required=False,
        help_text=gettext_lazy("Orders placed outside the platform are never cancelled."))

    def __init__(self, *args: Any, op: str, choose_target: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target: Target | None = None
        if not choose_target:
            for name in ("scope", "account", "user_email"):
                del self.fields[name]
        if op != PULL:
            del self.fields["cancel_open_orders"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "scope" not in self.fields or self.errors:
            return data
        scope = data["scope"]
        if scope == KillSwitchScope.ACCOUNT:
            account = BrokerAccount.objects.filter(pk=data.get("account")).select_related("owner").first()
            if account is None:
                self.add_error("account", _("No broker account has this id."))
            self.target = Target(scope, account=account)
        elif scope == KillSwitchScope.USER:
            user = get_user_model().objects.filter(email__iexact=data.get("user_email") or "").first()
            if user is None:
                self.add_error("user_email", _("No user has this email."))
            self.target = Target(scope, user=user)
        else:
            self.target = Target(KillSwitchScope.GLOBAL)
        return data


@admin.register(KillSwitch)
class KillSwitchAdmin(Styled, ReadOnlyAdmin):
    list_display = ["scope", "target", "state", "reason", "cancel_open_orders", "pulled_by", "pulled_at",
                    "released_by", "released_at"]
    list_filter = ["on", "scope"]
    search_fields = ["reason", "user__email", "account__owner__email", "account__nickname"]
    list_select_related = ["account__owner", "user", "pulled_by", "released_by"]
    actions = ["pull_selected", "release_selected"]
    change_list_template = "admin/trading/killswitch/change_list.html"

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("trading.change_killswitch")

    def get_urls(self):
        operate = path("operate/", self.admin_site.admin_view(self.operate_view), name="trading_killswitch_operate")
        return [operate, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {"global_switch": KillSwitch.objects.filter(scope=KillSwitchScope.GLOBAL).select_related(
            "pulled_by", "released_by").first(), "can_operate": self.has_operate_permission(request),
            "operate_url": reverse("admin:trading_killswitch_operate"), **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.display(description=gettext_lazy("target"))
    def target(self, switch: KillSwitch) -> str:
        return Target(switch.scope, switch.account, switch.user).label

    @admin.display(description=gettext_lazy("state"), ordering="on")
    def state(self, switch: KillSwitch) -> str:
        if switch.on:
            return badge(_("on: trading stopped"), RED)
        return badge(_("off"), GREEN if switch.pulled_at else GREY)

    @admin.action(description=gettext_lazy("Pull the selected kill switches…"), permissions=["operate"])
    def pull_selected(self, request: HttpRequest, queryset: QuerySet[KillSwitch]) -> HttpResponseRedirect:
        return self._to_form(PULL, queryset)

    @admin.action(description=gettext_lazy("Release the selected kill switches…"), permissions=["operate"])
    def release_selected(self, request: HttpRequest, queryset: QuerySet[KillSwitch]) -> HttpResponseRedirect:
        return self._to_form(RELEASE, queryset)

    def _to_form(self, op: str, queryset: QuerySet[KillSwitch]) -> HttpResponseRedirect:
        ids = ",".join(str(pk) for pk in queryset.order_by("pk").values_list("pk", flat=True))
        query = urlencode({"op": op, "ids": ids})
        return HttpResponseRedirect(f"{reverse('admin:trading_killswitch_operate')}?{query}")

    def operate_view(self, request: HttpRequest) -> HttpResponse:
        """Ask why, then pull or release each target through the service (one message per outcome)."""
        if not self.has_operate_permission(request):
            raise PermissionDenied
        op = request.GET.get("op")
        if op not in (PULL, RELEASE):
            op = PULL
        targets = targets_of(request.GET)
        if targets == []:
            self.message_user(request, _("None of the selected targets exists any more."), messages.WARNING)
            return redirect("admin:trading_killswitch_changelist")
        form = KillSwitchForm(request.POST or None, op=op, choose_target=targets is None)
        if request.method == "POST" and form.is_valid():
            self._operate(request, op, targets or [form.target], form.cleaned_data)
            return redirect("admin:trading_killswitch_changelist")
        title = _("Pull kill switches") if op == PULL else _("Release kill switches")
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": title, "form": form,
                   "targets": targets, "op": op}
        return TemplateResponse(request, "admin/trading/killswitch/operate.html", context)

    def _operate(self, request: HttpRequest, op: str, targets: list[Target], data: dict[str, Any]) -> None:
        actor = admin_actor(request)
        done = []
        for target in targets:
            try:
                if op == PULL:
                    kill_switch_pull(actor=actor, scope=target.scope, account=target.account, user=target.user,
                                     reason=data["reason"], cancel_open_orders=data.get("cancel_open_orders", False))
                else:
                    kill_switch_release(actor=actor, scope=target.scope, account=target.account, user=target.user,
                                        reason=data["reason"])
            except ApplicationError as error:
                self.message_user(request, f"{target.label}: {error.message}", messages.ERROR)
            else:
                done.append(target.label)
        if done:
            message = _("Kill switch pulled: %(targets)s.") if op == PULL else _("Kill switch released: %(targets)s.")
            self.message_user(request, message % {"targets": "; ".join(done)}, messages.SUCCESS)
