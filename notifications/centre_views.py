"""Pages of the notification centre: the list (filters, mark read) and the preferences grid."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core import limits
from core.audit import Actor
from core.errors import ApplicationError
from notifications import catalog, centre_selectors, centre_services

PAGE_SIZE = 30
SAVED = _("Your notification settings are saved.")
ALL_MARKED = _("Marked %(count)d notifications read.")


class FilterForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), required=False,
                                 choices=[("", _("All categories")), *catalog.CATEGORIES.items()])
    unread = forms.BooleanField(label=_("Unread only"), required=False)


class SettingsForm(forms.Form):
    quiet_start = forms.TimeField(label=_("Quiet hours from"), required=False,
                                  widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    quiet_end = forms.TimeField(label=_("Quiet hours until"), required=False,
                                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    digest_daily = forms.BooleanField(label=_("Send me a daily digest by email"), required=False)
    digest_hour = forms.TypedChoiceField(label=_("Digest hour"), coerce=int,
                                         choices=[(h, f"{h:02d}:00") for h in range(24)])


def _back(request: HttpRequest, default: str = "notifications:index") -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET or None)
    form.is_valid()  # an unknown category shows its error and filters nothing
    data = getattr(form, "cleaned_data", {})
    rows = centre_selectors.notification_list(user=request.user, unread=bool(data.get("unread")),
                                              category=data.get("category") or "")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "notifications/centre/list.html", {
        "page_title": _("Notifications"), "nav": "notifications", "form": form, "page_obj": page,
        "query": query.urlencode(), "filtered": bool(data.get("unread") or data.get("category")),
        "unread": centre_selectors.unread_count(user=request.user),
        "categories": catalog.CATEGORIES,
    })


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = centre_selectors.notification_get(user=request.user, pk=min(pk, limits.MAX_ID))
    centre_services.notification_mark_read(user=request.user, notification=notification)
    if request.POST.get("open") and notification.link.startswith("/"):
        return redirect(notification.link)
    return _back(request)


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    category = request.POST.get("category", "")
    count = centre_services.notifications_mark_all_read(
        user=request.user, category=category if category in catalog.CATEGORIES else "")
    messages.success(request, ALL_MARKED % {"count": count})
    return _back(request)


def _grid(request: HttpRequest, choices: list[centre_selectors.Choice]) -> list[dict]:
    by_kind = {c.kind.key: c for c in choices}
    return [{"key": key, "label": label,
             "rows": [by_kind[k.key] for k in kinds]} for key, label, kinds in catalog.kinds_by_category()]


def _posted_choices(request: HttpRequest) -> dict[str, dict[str, bool]]:
    # an unchecked box sends nothing: every kind of the grid is saved with what was (not) checked
    return {key: {channel: f"{key}__{channel}" in request.POST for channel in catalog.CHANNELS}
            for key in catalog.KINDS}


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    row = centre_selectors.settings_get(user=request.user)
    initial = {"quiet_start": row.quiet_start, "quiet_end": row.quiet_end, "digest_daily": row.digest_daily,
               "digest_hour": row.digest_hour}
    form = SettingsForm(request.POST or None, initial=initial)
    choices = centre_selectors.preference_list(user=request.user)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        data = form.cleaned_data
        try:
            with transaction.atomic():
                centre_services.preferences_save(actor=actor, user=request.user, choices=_posted_choices(request))
                centre_services.settings_save(actor=actor, user=request.user, quiet_start=data["quiet_start"],
                                              quiet_end=data["quiet_end"], digest_daily=data["digest_daily"],
                                              digest_hour=data["digest_hour"])
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, SAVED)
            return redirect("notifications:preferences")
    if request.method == "POST":  # show what was ticked, not what is saved
        posted = _posted_choices(request)
        choices = [centre_selectors.Choice(kind=c.kind, saved=c.saved, **posted[c.kind.key]) for c in choices]
    from notifications.models import TelegramLink

    return render(request, "notifications/centre/preferences.html", {
        "page_title": _("Notification settings"), "nav": "notifications", "form": form,
        "grid": _grid(request, choices), "channels": catalog.CHANNEL_LABELS,
        "telegram_linked": TelegramLink.objects.filter(owner=request.user).exists(),
        "time_zone": request.user.timezone,
    })
