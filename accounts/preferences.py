"""Where a request's theme, language, time zone and price colours come from.

A logged-in user's saved choice wins; otherwise the visitor's cookies; otherwise
the defaults (system theme, Korean, Asia/Seoul, colours following the language).
Cookies follow the user's saved choice, so the look survives logout too.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from django.conf import settings

from accounts.models import DEFAULT_TIMEZONE, Language, PriceColors, Theme, red_up

THEME_COOKIE = "theme"
TIMEZONE_COOKIE = "tz"
PRICE_COLORS_COOKIE = "updown"
COOKIE_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class Preferences:
    theme: str = Theme.SYSTEM.value
    language: str = Language.KOREAN.value
    timezone: str = DEFAULT_TIMEZONE
    price_colors: str = PriceColors.AUTO.value

    @property
    def red_up(self) -> bool:
        """Rises in red and falls in blue (Korean), else green and red: the class on <html>."""
        return red_up(self.price_colors, self.language)

    def cookies(self) -> dict[str, str]:
        return {
            THEME_COOKIE: self.theme,
            settings.LANGUAGE_COOKIE_NAME: self.language,
            TIMEZONE_COOKIE: self.timezone,
            PRICE_COLORS_COOKIE: self.price_colors,
        }


def clean_theme(value: str | None) -> str | None:
    return value if value in Theme.values else None


def clean_language(value: str | None) -> str | None:
    return value if value in Language.values else None


def clean_price_colors(value: str | None) -> str | None:
    return value if value in PriceColors.values else None


def clean_timezone(value: str | None) -> str | None:
    return value if value and value in zoneinfo.available_timezones() else None


def from_cookies(cookies: dict[str, str]) -> Preferences:
    default = Preferences()
    return Preferences(
        theme=clean_theme(cookies.get(THEME_COOKIE)) or default.theme,
        language=clean_language(cookies.get(settings.LANGUAGE_COOKIE_NAME)) or default.language,
        timezone=clean_timezone(cookies.get(TIMEZONE_COOKIE)) or default.timezone,
        price_colors=clean_price_colors(cookies.get(PRICE_COLORS_COOKIE)) or default.price_colors,
    )


def for_request(request) -> Preferences:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return of_user(user)
    return from_cookies(request.COOKIES)


def activate(preferences: Preferences) -> None:
    """Make ``preferences`` the language and time zone of the rest of this request."""
    from django.utils import timezone, translation

    translation.activate(preferences.language)
    timezone.activate(zoneinfo.ZoneInfo(preferences.timezone))


def of_user(user) -> Preferences:
    return Preferences(
        theme=user.theme, language=user.language, timezone=user.timezone, price_colors=user.price_colors
    )


def set_cookies(response, preferences: Preferences, *, current: dict[str, str]) -> None:
    for name, value in preferences.cookies().items():
        if current.get(name) != value and name not in response.cookies:
            response.set_cookie(
                name,
                value,
                max_age=COOKIE_AGE,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
