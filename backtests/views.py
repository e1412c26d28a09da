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
            "page_title": _("Backtests"),
            "nav": "backtests",
            "empty_title": _("No backtests yet"),
            "empty_text": _("Run a strategy on years of KOSPI/KOSDAQ and crypto prices, with Korean costs and taxes, and compare the results."),
        },
    )
