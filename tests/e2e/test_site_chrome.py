"""What every page shares, in a real browser: the web font, the not-found page, the connection banner."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

WEB_FONT = "Noto Sans KR Variable"


def test_pages_render_korean_in_the_self_hosted_web_font(page):
    """On a machine without a CJK font, Korean shows as boxes unless the site ships its own font."""
    fonts = []
    page.on("response", lambda r: fonts.append((r.url, r.status)) if r.url.endswith(".woff2") else None)
    page.goto("/accounts/login/")
    expect(page.locator("main h1")).to_have_text("로그인")

    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.split(",")[0].strip().strip("\"'") == WEB_FONT, family
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate(
        """(name) => [...document.fonts].filter(f => f.family.replace(/["']/g, '') === name && f.status === 'loaded').length""",
        WEB_FONT,
    )
    assert loaded >= 1, "no face of the web font was loaded"
    # Served by us (CSP font-src 'self'), only the slices this page needs.
    assert fonts, "no font file was fetched"
    assert all(status == 200 for _, status in fonts), fonts
    assert all(url.startswith(page.url.split("/accounts/")[0] + "/static/") for url, _ in fonts), fonts
    assert len(fonts) < 40, f"{len(fonts)} font files for one page: the subsets are not used"
    assert page.evaluate(f"document.fonts.check('16px \"{WEB_FONT}\"', '로그인')")
