"""Admin of notifications: announcement. Imported by notifications/admin.py.

The admin is a door: saving the form creates or updates through the services (audited, banners'
cache invalidated); "publish" and "resolve incident" are actions that call the services, the latter
on an intermediate form asking for the resolution (the affected users read it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import Actor
from core.errors import ApplicationError
from notifications import announcement_services as services
from notifications.models import Announcement


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request, door="admin")


class ResolveForm(forms.Form):
    resolution = forms.CharField(label=gettext_lazy("Resolution"), widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
                                 help_text=gettext_lazy("What happened and that it is over: shown on the banner and "
                                                        "sent to the affected users."))


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "state", "starts_at", "expires_at", "published_at", "resolved_at"]
    list_filter = ["kind", ("published_at", admin.EmptyFieldListFilter), ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body", "resolution"]
    fields = ["kind", "title", "body", "starts_at", "expires_at", "affected_users", "published_at", "resolved_at",
              "resolution", "created_by"]
    readonly_fields = ["published_at", "resolved_at", "resolution", "created_by"]
    autocomplete_fields = ["affected_users"]
    actions = ["publish_selected", "resolve_selected"]
    date_hierarchy = "starts_at"

    @admin.display(description=gettext_lazy("state"))
    def state(self, announcement: Announcement) -> str:
        if announcement.resolved_at:
            return _("resolved")
        return _("published") if announcement.published_at else _("draft")

    # --- saving through the services --------------------------------------------------------------
    def save_model(self, request: HttpRequest, obj: Announcement, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in ("kind", "title", "body", "starts_at", "expires_at")
                if name in form.cleaned_data}
        affected = list(form.cleaned_data.get("affected_users") or [])
        if change:
            services.announcement_update(actor=_actor(request), announcement=obj, affected_users=affected, **data)
            return
        created = services.announcement_create(actor=_actor(request), affected_users=affected, **data)
        obj.pk, obj.created_by, obj._state.adding = created.pk, created.created_by, False

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        pass  # the services set the affected users

    # --- actions ------------------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("Publish the selected announcements (banner and notification)"),
                  permissions=["change"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        for announcement in queryset.order_by("pk"):
            try:
                services.announcement_publish(actor=_actor(request), announcement=announcement)
            except ApplicationError as error:
                self.message_user(request, f"{announcement}: {error.message}", messages.WARNING)
            else:
                self.message_user(request, _("Published: %(title)s.") % {"title": announcement.title},
                                  messages.SUCCESS)

    @admin.action(description=gettext_lazy("Resolve the selected incidents…"), permissions=["change"])
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> HttpResponseRedirect:
        ids = ",".join(str(pk) for pk in queryset.order_by("pk").values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:notifications_announcement_resolve')}?{urlencode({'ids': ids})}")

    def get_urls(self):
        resolve = path("resolve/", self.admin_site.admin_view(self.resolve_view),
                       name="notifications_announcement_resolve")
        return [resolve, *super().get_urls()]

    def resolve_view(self, request: HttpRequest) -> HttpResponse:
        """Ask for the resolution, then resolve each selected incident through the service."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        ids = [int(part) for part in request.GET.get("ids", "").split(",") if part.strip().isdigit()]
        incidents = list(Announcement.objects.filter(pk__in=ids).order_by("pk"))
        if not incidents:
            self.message_user(request, _("None of the selected announcements exists any more."), messages.WARNING)
            return redirect("admin:notifications_announcement_changelist")
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            for incident in incidents:
                try:
                    services.announcement_resolve(actor=_actor(request), announcement=incident,
                                                  resolution=form.cleaned_data["resolution"])
                except ApplicationError as error:
                    self.message_user(request, f"{incident}: {error.message}", messages.ERROR)
                else:
                    self.message_user(request, _("Resolved: %(title)s. The affected users are told.")
                                      % {"title": incident.title}, messages.SUCCESS)
            return redirect("admin:notifications_announcement_changelist")
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": _("Resolve incidents"),
                   "form": form, "incidents": incidents}
        return TemplateResponse(request, "admin/notifications/announcement/resolve.html", context)
