from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from notifications import services

TEST_EVENT_QUEUED = _("A test notification is on its way: watch the live panel.")


@login_required
@require_POST
def send_test(request: HttpRequest) -> HttpResponse:
    services.test_event_request(user=request.user)
    if request.htmx:
        return HttpResponse(str(TEST_EVENT_QUEUED), status=202)
    messages.info(request, TEST_EVENT_QUEUED)
    return redirect("dashboard")
