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
            # Honest until the brokers issue lands: nothing here can be connected yet.
            "empty_title": _("Live and paper trading are not available yet"),
            "empty_text": _("Connecting a KIS or Kiwoom account is being built. Until then, test your strategies with backtests."),
        },
    )
