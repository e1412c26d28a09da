"""``{% telegram_link_section %}``: the Telegram part of the notification settings (linked or not,
the deep link once made, unlink). Reads the signed-in user's link itself, so any page can include
``notifications/telegram/_link_section.html`` with only ``request``/``user`` in its context."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from notifications.telegram_link import telegram_configured, telegram_link_get

register = template.Library()


def section_context(user: Any, *, deep_link: Any = None, error: str = "") -> dict[str, Any]:
    signed_in = bool(getattr(user, "is_authenticated", False))
    return {
        "telegram_configured": telegram_configured(),
        "telegram_link": telegram_link_get(user=user) if signed_in else None,
        "telegram_bot_username": getattr(settings, "TELEGRAM_BOT_USERNAME", ""),
        "deep_link": deep_link,
        "telegram_error": error,
        "signed_in": signed_in,
    }


@register.inclusion_tag("notifications/telegram/_link_body.html", takes_context=True)
def telegram_link_section(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    found = section_context(user, deep_link=context.get("deep_link"), error=context.get("telegram_error", ""))
    found["request"] = request
    found["csrf_token"] = context.get("csrf_token")
    return found
