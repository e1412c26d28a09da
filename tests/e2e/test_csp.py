"""The pages work under the Content-Security-Policy: visiting the main pages in a real browser raises
no policy violation and no console error, the charts draw, and the phone menu still opens."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from tests.e2e.helpers import choose_strategy_type, login
from tests.e2e.test_backtests import sample_market  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

REPORT = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def watch(page) -> list[str]:
    """Every policy violation and console error of this tab, across its navigations."""
    problems: list[str] = []
    page.expose_function("reportViolation", lambda text: problems.append(f"CSP: {text} on {page.url}"))
    page.add_init_script(REPORT)
    page.on("console", lambda message: message.type == "error" and "Failed to load resource" not in message.text
            and problems.append(f"console: {message.text} on {page.url}"))  # fmt: skip
    page.on("response", lambda response: response.status >= 400 and problems.append(
        f"HTTP {response.status}: {response.url} on {page.url}"))  # fmt: skip
    page.on("pageerror", lambda error: problems.append(f"page error: {error} on {page.url}"))
    return problems


def visit(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # deferred scripts and their first requests


def test_the_main_pages_raise_no_policy_violation(new_page, sample_market):  # noqa: F811
    user = UserFactory(email="csp.user@example.com", language="en", is_staff=True, is_superuser=True)
    page = new_page()
    problems = watch(page)
    visit(page, "/")
    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    for path in ["/dashboard/", "/strategies/new/", "/strategies/", "/settings/", "/accounts/2fa/",
                 "/accounts/2fa/totp/activate/", "/markets/", "/backtests/", "/viewer/", "/admin/"]:  # fmt: skip
        visit(page, path)

    visit(page, "/markets/005930/")  # the candles: lightweight-charts and its attribution logo
    expect(page.locator("[data-testid=price-chart]")).not_to_have_attribute("data-bars-loaded", "")
    assert page.locator("[data-testid=price-chart] canvas").count() > 0
    assert page.locator("#tv-attr-logo").count() == 1

    visit(page, "/backtests/new/")  # the form (htmx parameter fields), then a run and its results
    choose_strategy_type(page, "sma_cross")
    expect(page.locator("input[name='params.fast']")).to_be_editable()
    page.locator("input[name='params.fast']").fill("5")
    page.locator("input[name='params.slow']").fill("20")
    page.locator("input[name=codes]").fill("005930")
    page.locator("input[name=start]").fill("2019-01-02")
    page.locator("input[name=end]").fill("2024-12-30")
    with page.expect_navigation():
        page.locator("[data-testid=run-backtest]").click()
    expect(page.locator("[data-testid=metric-cards]")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid=charts]")).to_have_attribute("data-chart-ready", "1")
    assert page.locator("[data-testid=equity-chart] canvas").count() > 0
    page.wait_for_timeout(300)

    visit(page, "/api/docs/")  # Swagger UI: its start-up script is a same-origin file
    expect(page.locator(".swagger-ui .info")).to_be_visible()

    assert problems == []


def test_the_phone_menu_opens_without_an_inline_handler(page):
    user = UserFactory(email="phone.user@example.com")
    problems = watch(page)
    page.set_viewport_size({"width": 390, "height": 800})
    login(page, user.email)
    toggle = page.locator("[data-testid=menu-toggle]")
    dashboard = page.locator("#main-nav a[href='/dashboard/']")
    expect(dashboard).to_be_hidden()
    toggle.click()
    expect(dashboard).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    expect(dashboard).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert problems == []
