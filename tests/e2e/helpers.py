"""What the browser tests do again and again: sign in and out, TOTP codes, reading the mailbox."""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import hashlib
import hmac
import re
import struct
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import expect

from marketdata.models import Instrument, Market


def totp_code(secret: str, at: float | None = None, *, period: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP (HMAC-SHA1) for a base32 secret."""
    counter = int((time.time() if at is None else at) // period)
    cleaned = secret.replace(" ", "").strip().upper()
    key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return f"{value:0{digits}d}"


def wait_for_next_totp_period(period: int = 30) -> None:
    """Sleep until a new period starts (+1 s): the server refuses a code twice in one period."""
    time.sleep(period - time.time() % period + 1)


def ensure_totp_time_left(min_seconds: float = 3, period: int = 30) -> None:
    """Do not hand a code to the server in the last seconds of its period."""
    if period - time.time() % period < min_seconds:
        wait_for_next_totp_period(period)


def submit_form_with(page, field_selector: str) -> None:
    """Click the submit button of the form in <main> holding `field_selector`.

    Buttons bound to another form (allauth's Cancel, form="logout-from-stage") are left out.
    """
    form = page.locator("main form").filter(has=page.locator(field_selector))
    form.locator("button[type=submit]:not([form])").first.click()


def login(page, email: str, password: str | None = None) -> None:
    from accounts.tests.factories import PASSWORD

    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password or PASSWORD)
    with page.expect_navigation():
        submit_form_with(page, "input[name=password]")


def logout(page) -> None:
    with page.expect_navigation():
        page.locator("[data-testid=logout]").click()
    if "/accounts/logout/" in page.url:  # allauth's "are you sure?" page
        with page.expect_navigation():
            page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


def _messages_in(path: Path) -> list[email.message.EmailMessage]:
    """Django's file backend writes each message followed by a line of 79 dashes."""
    raw = path.read_bytes()
    chunks = re.split(rb"\r?\n-{79}\r?\n", raw)
    return [email.message_from_bytes(chunk.lstrip(), policy=email.policy.default) for chunk in chunks if chunk.strip()]


def _text_of(message: email.message.EmailMessage) -> str:
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def wait_for_email(mailbox: Path, to: str, timeout: float = 15) -> tuple[email.message.EmailMessage, str]:
    """The newest message sent to `to` (and its text), waiting for it to be written."""
    deadline = time.monotonic() + timeout
    while True:
        files = sorted(mailbox.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
        for path in files:
            for message in reversed(_messages_in(path)):
                if to.lower() in str(message.get("To", "")).lower():
                    return message, _text_of(message)
        if time.monotonic() > deadline:
            names = [p.name for p in files]
            raise AssertionError(f"no email to {to} in {mailbox} within {timeout} s (files: {names})")
        time.sleep(0.2)


def choose_strategy_type(page, value: str) -> None:
    """Pick a strategy type and wait until htmx has swapped in its parameter fields.

    Filling a field before the swap lands types into the old field, which the swap then replaces
    (a test once sent fast=510): wait for the request, then for htmx to finish swapping.
    """
    with page.expect_response(lambda response: "/params/" in response.url):
        page.locator("[data-testid=strategy-type]").select_option(value)
    # (locator assertions, not wait_for_function: its polling evaluates a string, which the CSP forbids)
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


SAMPLE_BARS = Path(__file__).resolve().parents[2] / "marketdata" / "sample_data" / "bars"


def write_sample_market(store, samples: dict[str, tuple[str, str]]) -> None:
    """Put the shipped real daily bars of ``samples`` (code -> (Korean name, English name)) into the
    server's bar store, and their instruments into the master (as KOSPI stocks)."""
    for code, (name, name_en) in samples.items():
        with open(SAMPLE_BARS / f"{code}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        columns = {"date": np.array([row["date"] for row in rows], dtype="datetime64[D]")}
        for column in ("open", "high", "low", "close", "volume"):
            columns[column] = np.array([float(row[column]) for row in rows])
        store.write(code, "KOSPI", **columns)
        Instrument.objects.create(code=code, name=name, name_en=name_en, market=Market.KOSPI)


# where a blocked style or script came from, to find the culprit at once
PROBLEM_REPORT = """document.addEventListener("securitypolicyviolation", (e) =>
  window.reportProblem(`CSP ${e.violatedDirective} blocked ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber} ${location.pathname} ${e.sample}`));"""


def watch_problems(page, found: list[str], *, console: bool = False) -> list[str]:
    """Collect into ``found`` the tab's policy violations and script errors (and, with ``console``, its
    console errors other than failed loads: a refusal's 400 is expected)."""
    page.expose_function("reportProblem", lambda text: found.append(text))
    page.add_init_script(PROBLEM_REPORT)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    if console:
        page.on("console", lambda message: message.type == "error" and "Failed to load resource" not in message.text
                and found.append(f"console: {message.text}"))  # fmt: skip
    return found
