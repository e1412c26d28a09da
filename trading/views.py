from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/empty_state.html",
        {
            "page_title": _("Trading"),
            "nav": "trading",
            "empty_title": _("No broker connected"),
            "empty_text": _("Connect your KIS or Kiwoom account to run strategies live or on paper, with orders that are never lost or doubled."),
        },
    )
