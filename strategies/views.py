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
            "page_title": _("Strategies"),
            "nav": "strategies",
            "empty_title": _("No strategies yet"),
            "empty_text": _("Define a strategy from a library of types (moving-average cross, RSI, breakout...) and tune its parameters and risk settings."),
        },
    )
