"""Pages of users' webhooks: the list with the latest deliveries, create, choose events, rotate the
secret, enable again, send a test, delete. Doors only: parse, fetch through a selector (404 for what
is not yours), call a service, render. A new or rotated secret is shown once, in the answer to the
POST that made it (never stored for a later page)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.audit import Actor
from core.errors import ApplicationError
from notifications import webhook_selectors as selectors
from notifications import webhook_services as services
from notifications.webhooks import DEFAULT_TOLERANCE, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

CREATED = _("The webhook was created. Copy its secret now: it is not shown again.")
ROTATED = _("The secret was replaced. Copy it now: it is not shown again. Deliveries from now on are signed with it.")
SAVED = _("The webhook's events were saved.")
ENABLED = _("The webhook is enabled again.")
TEST_QUEUED = _("A test delivery is on its way: its status appears below in a moment.")
DELETED = _("The webhook to %(host)s was deleted.")


class WebhookForm(forms.Form):
    url = forms.CharField(label=_("URL"), max_length=500,
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/quantk"}),
                          help_text=_("Where the events are sent (HTTPS). Private and local addresses are refused."))
    events = forms.MultipleChoiceField(label=_("Events"), widget=forms.CheckboxSelectMultiple, required=False)

    def __init__(self, *args: Any, with_url: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = services.webhook_kinds()
        if not with_url:
            del self.fields["url"]


def _context(**extra: Any) -> dict[str, Any]:
    return {"page_title": _("Webhooks"), "nav": "notifications", "signature_header": SIGNATURE_HEADER,
            "timestamp_header": TIMESTAMP_HEADER, "delivery_header": DELIVERY_HEADER,
            "tolerance": DEFAULT_TOLERANCE, **extra}


def _form_error(form: forms.Form, error: ApplicationError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _secret_page(request: HttpRequest, endpoint, secret: str, message: Any) -> HttpResponse:
    response = render(request, "notifications/webhooks/secret.html",
                      _context(endpoint=endpoint, secret=secret, message=message))
    response["Cache-Control"] = "no-store"
    return response


@login_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(selectors.webhook_list(user=request.user))
    kinds = dict(services.webhook_kinds())
    for endpoint in endpoints:
        endpoint.kind_labels = [str(kinds.get(kind, kind)) for kind in endpoint.events]
    return render(request, "notifications/webhooks/list.html", _context(endpoints=endpoints))


@login_required
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.webhook_create(actor=Actor.from_request(request), owner=request.user,
                                                       **form.cleaned_data)
        except ApplicationError as error:
            _form_error(form, error)
        else:
            return _secret_page(request, endpoint, secret, CREATED)
    return render(request, "notifications/webhooks/form.html", _context(form=form))


@login_required
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.webhook_get(user=request.user, pk=pk)
    form = WebhookForm(request.POST or None, with_url=False, initial={"events": endpoint.events})
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_update(actor=Actor.from_request(request), endpoint=endpoint,
                                    events=form.cleaned_data["events"])
        except ApplicationError as error:
            _form_error(form, error)
        else:
            messages.success(request, SAVED)
            return redirect("notifications:webhook_detail", pk=endpoint.pk)
    return render(request, "notifications/webhooks/detail.html",
                  _context(endpoint=endpoint, form=form))


@login_required
@require_POST
def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.webhook_get(user=request.user, pk=pk)
    secret = services.webhook_secret_rotate(actor=Actor.from_request(request), endpoint=endpoint)
    return _secret_page(request, endpoint, secret, ROTATED)


@login_required
@require_POST
def webhook_enable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.webhook_get(user=request.user, pk=pk)
    services.webhook_enable(actor=Actor.from_request(request), endpoint=endpoint)
    messages.success(request, ENABLED)
    return redirect("notifications:webhook_detail", pk=endpoint.pk)


@login_required
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.webhook_get(user=request.user, pk=pk)
    try:
        services.webhook_test_send(actor=Actor.from_request(request), endpoint=endpoint)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, TEST_QUEUED)
    return redirect("notifications:webhook_detail", pk=endpoint.pk)


@login_required
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.webhook_get(user=request.user, pk=pk, deliveries=0)
    if request.method == "POST":
        host = endpoint.url
        services.webhook_delete(actor=Actor.from_request(request), endpoint=endpoint)
        messages.success(request, DELETED % {"host": host})
        return redirect("notifications:webhook_list")
    return render(request, "notifications/webhooks/delete.html", _context(endpoint=endpoint))
