"""The 친구 초대 page: the user's invite link (copy button, QR code), who joined, rewards earned."""

from __future__ import annotations

import segno
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from accounts import invites


def qr_svg(link: str) -> SafeString:
    """The link as an inline SVG QR code: dark on a white quiet zone (readable in the dark theme too),
    with presentation attributes only (the Content-Security-Policy forbids inline styles)."""
    code = segno.make(link, error="m")
    # segno writes the title as given: escape it (the link itself is ours, URL-safe characters only)
    svg = code.svg_inline(scale=4, dark="#000", light="#fff", title=escape(_("QR code of your invite link")))
    return mark_safe(svg.replace("<svg ", '<svg role="img" data-testid="invite-qr" ', 1))  # noqa: S308


@login_required
def invites_page(request: HttpRequest) -> HttpResponse:
    overview = invites.invite_overview(user=request.user, fingerprint=invites.Fingerprint.of_request(request))
    return render(request, "accounts/invites.html",
                  {"overview": overview, "qr": qr_svg(overview.link), "nav": "invites"})
