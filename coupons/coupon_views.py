"""쿠폰함 (the coupon box): enter a code, see the coupons redeemed and what each gave. Thin: the form
parses, ``coupon_redeem`` decides, the selector lists only the user's own redemptions."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from core.audit import Actor
from core.errors import ApplicationError
from coupons import codes, coupon_selectors, selectors
from coupons.redeem import coupon_redeem

REDEEMED = gettext_lazy("Coupon %(code)s redeemed: %(plan)s for %(days)s days, until %(until)s.")


class RedeemForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Coupon code"), max_length=64,
                           help_text=gettext_lazy("Upper or lower case, with or without dashes."),
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                         "spellcheck": "false", "placeholder": "ABCD-EFGH"}))


class Row:
    """One redeemed coupon as the page shows it: its code, and the plan, days and period it gave."""

    def __init__(self, redemption) -> None:
        self.redemption = redemption
        self.code = codes.display(redemption.coupon.code)
        self.kind = redemption.coupon.get_kind_display()
        self.plan = redemption.subscription.plan
        self.days = redemption.coupon.days
        self.subscription = redemption.subscription
        self.redeemed_at = redemption.redeemed_at


def _date(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT") if moment else "—"


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    form = RedeemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            redemption = coupon_redeem(actor=Actor.from_request(request), user=request.user,
                                       code=form.cleaned_data["code"])
        except ApplicationError as error:
            form.add_error("code" if error.field in (None, "code") else None, error.message)
        else:
            subscription = redemption.subscription
            messages.success(request, REDEEMED % {
                "code": codes.display(redemption.coupon.code), "plan": subscription.plan.name,
                "days": redemption.coupon.days, "until": _date(subscription.ends_at)})
            return redirect("coupons:index")
    current = selectors.subscription_current(user=request.user)
    context = {"page_title": _("My coupons"), "nav": "coupons", "form": form,
               "rows": [Row(redemption) for redemption in coupon_selectors.redemption_list(user=request.user)],
               "current": current, "current_plan": selectors.plan_of(current)}
    return render(request, "coupons/coupons/index.html", context, status=400 if form.errors else 200)
