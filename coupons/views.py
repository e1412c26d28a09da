"""요금제 pages: the plans compared side by side, and the user's own subscription, usage and history.

No prices and no buy button: payments do not exist yet; a plan comes from a coupon, an invite reward
or an admin.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from coupons import selectors


@login_required
@require_safe
def plans(request: HttpRequest) -> HttpResponse:
    """Every public plan's limits side by side; the user's current plan is marked."""
    plan_rows = list(selectors.plan_list())
    current = selectors.current_plan(user=request.user)
    rows = [(label, [getattr(plan, field) for plan in plan_rows])
            for field, label in ((f, selectors.limit_label(f)) for f in selectors.LIMIT_FIELDS)]
    return render(request, "coupons/plans.html", {
        "page_title": _("Plans"), "nav": "plans", "plans": plan_rows, "rows": rows,
        "current": current,
    })


@login_required
@require_safe
def me(request: HttpRequest) -> HttpResponse:
    """My plan: the active subscription, usage against each limit (bars), what is scheduled, history."""
    subscription = selectors.subscription_current(user=request.user)
    limits = selectors.limits_of(selectors.plan_of(subscription))  # the subscription read once
    return render(request, "coupons/me.html", {
        "page_title": _("My plan"), "nav": "plans", "subscription": subscription, "limits": limits,
        "usage": selectors.usage(user=request.user, limits=limits),
        "history": selectors.subscription_history(user=request.user)[:50],
    })
