"""Content-Security-Policy: every page forbids inline script, and no template relies on any (nor on
inline event handlers, javascript: URLs or style attributes the policy would block)."""

import base64
import hashlib
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
ANONYMOUS_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/settings/",
                   "/api/docs/", "/no-such-page/"]  # fmt: skip
SIGNED_IN_PAGES = ["/dashboard/", "/strategies/", "/strategies/new/", "/backtests/", "/backtests/new/", "/viewer/",
                   "/markets/", "/settings/", "/accounts/2fa/", "/accounts/2fa/totp/activate/", "/notifications/",
                   "/trading/", "/trading/orders/", "/trading/orders/new/", "/trading/positions/", "/plans/", "/plans/me/",
                   "/coupons/", "/accounts/invites/", "/admin/", "/feedback/", "/feedback/new/",
                   "/notifications/preferences/", "/notifications/telegram/", "/notifications/webhooks/"]  # fmt: skip


def directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def assert_forbids_inline_script(response) -> None:
    policy = directives(response)
    script = policy.get("script-src", policy.get("default-src"))
    assert script == ["'self'"], policy
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in policy.get("style-src", [])


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_every_page_forbids_inline_script(db, path):
    response = Client().get(path)
    assert response.status_code in (200, 302, 404)
    assert_forbids_inline_script(response)


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_every_signed_in_page_forbids_inline_script(user, path):
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code in (200, 302), path
    assert_forbids_inline_script(response)


def test_the_api_docs_run_no_inline_script(db):
    """Swagger UI's start-up script is a separate same-origin request, not inline."""
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
    assert "<style" not in html and 'style="' not in html
    script_url = re.search(r'<script src="([^"]*script=[^"]*)"', html).group(1).replace("&amp;", "&")
    script = Client().get(script_url)
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def _templates() -> list[Path]:
    """Templates of pages. Emails are not pages: mail clients need their styles inline, and no
    Content-Security-Policy applies to them."""
    roots = [ROOT / "templates", *ROOT.glob("*/templates")]
    return sorted(path for root in roots for path in root.rglob("*.html") if "email" not in path.parent.parts)


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\b(src|type=\"application/json\")\b)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "htmx inline handler": re.compile(r"\shx-on", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "style element": re.compile(r"<style[\s>]", re.I),
}


@pytest.mark.parametrize("kind", INLINE)
def test_no_template_relies_on_what_the_policy_blocks(kind):
    found = [f"{path.relative_to(ROOT)}:{number}" for path in _templates()
             for number, line in enumerate(path.read_text().splitlines(), 1) if INLINE[kind].search(line)]  # fmt: skip
    assert found == [], f"{kind} in {found}"


def test_htmx_neither_injects_styles_nor_evaluates_code(db):
    html = Client().get("/").content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', html)
    assert config, "no htmx-config meta"
    assert '"includeIndicatorStyles":false' in config.group(1).replace(" ", "")
    assert '"allowEval":false' in config.group(1).replace(" ", "")


def test_the_one_allowed_style_element_is_lightweight_charts_attribution():
    """lightweight-charts inserts one <style> for its TradingView attribution logo (its licence asks
    for it); the policy allows exactly that text by hash. An upgrade that changes it fails here."""
    bundle = ROOT / "node_modules" / "lightweight-charts" / "dist" / "lightweight-charts.standalone.production.js"
    if not bundle.exists():
        pytest.skip("lightweight-charts is not installed (./dev installs it from package-lock.json)")
    texts = re.findall(r'createElement\("style"\),this\.\w+\.innerText="([^"]*)"', bundle.read_text())
    assert len(texts) == 1
    digest = base64.b64encode(hashlib.sha256(texts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]
