"""What every page shares, in a real browser: the web font, the not-found page, the connection banner."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from tests.e2e.helpers import login

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


def test_an_unknown_url_shows_the_sites_not_found_page_in_debug_mode(page):
    """The server here runs like `./dev run` (DEBUG on): still the site's page, not Django's debug one."""
    response = page.goto("/no-such-page/at/all/")
    assert response.status == 404
    expect(page.locator("[data-testid=not-found] h1")).to_have_text("페이지를 찾을 수 없습니다")
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Using the URLconf")
    expect(page.locator("[data-testid=not-found] a.button")).to_have_attribute("href", "/")
    # The API keeps its JSON error body.
    api = page.request.get("/api/v1/no-such-endpoint/")
    assert api.status == 404
    assert api.json()["error"]["code"] == "not_found"


def test_a_request_to_a_stopped_server_says_so(page):
    user = UserFactory(email="stopped.server@example.com")
    login(page, user.email)
    page.goto("/markets/")
    expect(page.locator("#live-status[data-state=open]")).to_be_attached()
    # The server is gone: every request fails at the network level, the socket drops.
    page.route("**/markets/search/**", lambda route: route.abort("connectionrefused"))
    page.locator("[data-testid=instrument-search]").fill("삼성")
    banner = page.locator("#connection-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("서버에 연결할 수 없어")


def test_a_page_whose_session_ended_offers_to_sign_in_again(page):
    from django.contrib.sessions.models import Session

    user = UserFactory(email="session.ended@example.com")
    sockets = []

    def relay(ws):
        server = ws.connect_to_server()
        sockets.append((ws, server))

    page.route_web_socket(re.compile(r".*/ws/user/$"), relay)
    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.locator("#live-status[data-state=open]")).to_be_attached()

    # Signed out elsewhere (or the session expired), then the connection drops: the reconnect is
    # refused for want of a session, and retrying forever would never help.
    Session.objects.all().delete()
    sockets[-1][0].close(code=1001)
    banner = page.locator("#connection-banner")
    expect(banner).to_contain_text("로그인 세션이 끝났습니다.")
    link = banner.locator("[data-testid=sign-in-again]")
    expect(link).to_have_text("다시 로그인")
    with page.expect_navigation():
        link.click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=%2Fdashboard%2F$"))
