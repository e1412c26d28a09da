"""A finished run's results page and results API through the ASGI app with its edge cache
(core.edge): the owner's repeat requests are answered without Django, nobody else ever is, and
what changes (logout, a revoked token, a deleted run, a new language) reaches the next answer."""

from __future__ import annotations

import asyncio
import gzip
import json
import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.core.asgi import get_asgi_application
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from accounts import preferences
from accounts.services import api_token_create, api_token_revoke
from backtests import results, services, validation
from backtests.models import BacktestRun
from core import edge

# the ASGI app runs the views in asgiref's threads: the data must be committed to be seen there
pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "A" * 16 + "b" * 16  # a CSRF cookie secret as the browser holds it (32 allowed chars)
TOKEN_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
RERUN_KEY = re.compile(rb'name="submission_key" value="([0-9a-f]{32})"')


@pytest.fixture(autouse=True)
def _fresh_caches():
    edge.clear()
    results._CACHE.clear()
    yield
    edge.clear()
    results._CACHE.clear()


class CountingApp:
    """The Django ASGI app, counting the requests that reach it."""

    def __init__(self) -> None:
        self.django = get_asgi_application()
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await self.django(scope, receive, send)


@pytest.fixture
def django_app() -> CountingApp:
    return CountingApp()


@pytest.fixture
def app(django_app) -> edge.EdgeCache:
    return edge.EdgeCache(django_app)


def finish_run(user, django_capture_on_commit_callbacks) -> BacktestRun:
    fields = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": "005930 000660",
              "start": validation.dt.date(2018, 1, 1), "end": validation.dt.date(2024, 12, 31),
              "cash": 10_000_000, "title": "SMA 10/30"}  # fmt: skip
    checked = validation.backtest_request_check(user=user, fields=fields)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.backtest_start(user=user, spec=checked.spec, title=checked.title)
    return services.backtest_execute(run_id=run.pk)


@pytest.fixture
def finished(user, sample_market, media, no_worker, django_capture_on_commit_callbacks) -> BacktestRun:
    return finish_run(user, django_capture_on_commit_callbacks)


def asgi_headers(headers: dict[str, str] | None) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]


async def finish(communicator: HttpCommunicator) -> dict:
    """The response, once the application has run to its end (as under daphne): Django closes the
    request's database connection after the body has left."""
    response = await communicator.get_response(timeout=60)
    await communicator.wait(timeout=60)
    return response


def get(app, path: str, headers: dict[str, str] | None = None) -> dict:
    async def call():
        communicator = HttpCommunicator(app, "GET", path, headers=asgi_headers(headers))
        return await finish(communicator)

    response = async_to_sync(call)()
    raw = response["headers"]
    response["headers"] = {name.decode().lower(): value.decode() for name, value in raw}
    response["cookies_set"] = [value.decode() for name, value in raw if name.lower() == b"set-cookie"]
    return response


def hit(response: dict) -> bool:
    return response["headers"].get("x-edge-cache") == "hit"


def token_of(user) -> str:
    return api_token_create(user=user, name="edge test")[1]


def browser_cookies(user) -> str:
    """What a browser sends after its first visit: the session, the CSRF secret, the look cookies."""
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    look = "; ".join(f'{name}="{value}"' if "/" in value else f"{name}={value}"
                     for name, value in preferences.of_user(user).cookies().items())
    return f"sessionid={session}; csrftoken={SECRET}; {look}"


# ---------------------------------------------------------------------------------------------------
# The results API
# ---------------------------------------------------------------------------------------------------
def test_the_results_api_is_answered_at_the_edge_once_django_has_served_it(app, django_app, user, finished):
    path = f"/api/v1/backtests/{finished.pk}/results/"
    auth = {"Authorization": f"Token {token_of(user)}"}
    first = get(app, path, auth)
    assert first["status"] == 200 and not hit(first)
    second = get(app, path, auth)
    assert second["status"] == 200 and hit(second) and django_app.calls == 1
    assert second["body"] == first["body"] and json.loads(second["body"])["series"]["equity"]
    assert second["headers"]["etag"] == first["headers"]["etag"]
    assert second["headers"]["x-frame-options"] == "DENY"  # Django's security headers are kept

    zipped = get(app, path, {**auth, "Accept-Encoding": "gzip, deflate, br"})
    assert zipped["headers"]["content-encoding"] == "gzip" and gzip.decompress(zipped["body"]) == first["body"]
    assert len(zipped["body"]) < len(first["body"]) / 2
    unchanged = get(app, path, {**auth, "If-None-Match": first["headers"]["etag"]})
    assert unchanged["status"] == 304 and unchanged["body"] == b"" and hit(unchanged)
    assert django_app.calls == 1


def test_another_user_never_gets_the_kept_answer(app, user, other_user, finished):
    path = f"/api/v1/backtests/{finished.pk}/results/"
    assert hit(get(app, path, {"Authorization": f"Token {token_of(user)}"})) is False
    assert get(app, path, {"Authorization": f"Token {token_of(user)}"})["status"] == 200
    bob = {"Authorization": f"Token {token_of(other_user)}"}
    for _ in range(2):  # bob's own request was authenticated by Django: still not alice's answer
        answer = get(app, path, bob)
        assert answer["status"] == 404 and not hit(answer)
    assert get(app, path, {"Authorization": "Token not-a-token"})["status"] == 401
    assert get(app, path)["status"] in (401, 403)


def test_bobs_own_finished_run_is_kept_for_him_and_alices_stays_hers(app, user, other_user, finished,
                                                                   django_capture_on_commit_callbacks):
    bobs = finish_run(other_user, django_capture_on_commit_callbacks)
    alice, bob = {"Authorization": f"Token {token_of(user)}"}, {"Authorization": f"Token {token_of(other_user)}"}
    for _ in range(2):
        get(app, f"/api/v1/backtests/{finished.pk}/results/", alice)
        get(app, f"/api/v1/backtests/{bobs.pk}/results/", bob)
    assert hit(get(app, f"/api/v1/backtests/{bobs.pk}/results/", bob))
    assert get(app, f"/api/v1/backtests/{finished.pk}/results/", bob)["status"] == 404
    assert get(app, f"/api/v1/backtests/{bobs.pk}/results/", alice)["status"] == 404


def test_a_revoked_token_is_refused_at_once(app, user, finished):
    path = f"/api/v1/backtests/{finished.pk}/results/"
    token, key = api_token_create(user=user, name="phone")
    auth = {"Authorization": f"Token {key}"}
    get(app, path, auth)
    assert hit(get(app, path, auth))
    api_token_revoke(token=token)
    refused = get(app, path, auth)
    assert refused["status"] == 401 and not hit(refused)


def test_a_deleted_run_is_gone_from_the_edge(app, user, finished):
    path = f"/api/v1/backtests/{finished.pk}/results/"
    auth = {"Authorization": f"Token {token_of(user)}"}
    get(app, path, auth)
    assert hit(get(app, path, auth))
    services.backtest_delete(user=user, run=finished)
    assert get(app, path, auth)["status"] == 404


def test_entries_live_only_edge_cache_seconds(app, django_app, user, finished, settings):
    settings.EDGE_CACHE_SECONDS = 0
    path = f"/api/v1/backtests/{finished.pk}/results/"
    auth = {"Authorization": f"Token {token_of(user)}"}
    for _ in range(3):
        assert not hit(get(app, path, auth))
    assert django_app.calls == 3


def test_concurrent_misses_reach_django_once(app, django_app, user, finished):
    path = f"/api/v1/backtests/{finished.pk}/results/"
    headers = asgi_headers({"Authorization": f"Token {token_of(user)}"})

    async def many():
        communicators = [HttpCommunicator(app, "GET", path, headers=headers) for _ in range(6)]
        return await asyncio.gather(*(finish(c) for c in communicators))

    answers = async_to_sync(many)()
    assert [answer["status"] for answer in answers] == [200] * 6
    assert len({answer["body"] for answer in answers}) == 1
    assert django_app.calls == 1


def test_an_entry_near_its_end_is_renewed_by_one_request_while_the_rest_are_answered(app, django_app, user,
                                                                                     finished, monkeypatch):
    path = f"/api/v1/backtests/{finished.pk}/results/"
    auth = {"Authorization": f"Token {token_of(user)}"}
    clock = [1000.0]
    monkeypatch.setattr(edge, "_now", lambda: clock[0])
    get(app, path, auth)
    clock[0] += edge._ttl() * 0.8  # in the last third of its life
    renewing = get(app, path, auth)
    assert not hit(renewing) and django_app.calls == 2
    clock[0] += edge._ttl() * 0.5  # past the first entry's end: the renewed one answers
    assert hit(get(app, path, auth)) and django_app.calls == 2


# ---------------------------------------------------------------------------------------------------
# The results page
# ---------------------------------------------------------------------------------------------------
def test_the_page_is_kept_with_fresh_csrf_tokens_and_submission_keys(app, django_app, user, finished):
    path = f"/backtests/{finished.pk}/"
    cookies = {"Cookie": browser_cookies(user)}
    first = get(app, path, cookies)
    assert first["status"] == 200 and not hit(first)
    second, third = get(app, path, cookies), get(app, path, cookies)
    assert hit(second) and hit(third) and django_app.calls == 1
    assert "set-cookie" not in second["headers"]
    for answer in (first, second, third):
        tokens = set(TOKEN_INPUT.findall(answer["body"]))
        assert len(tokens) == 1  # one token per answer, in every form of the page
        assert _unmask_cipher_token(tokens.pop().decode()) == SECRET
        assert b"edge-hole" not in answer["body"]
    assert TOKEN_INPUT.search(second["body"])[1] != TOKEN_INPUT.search(third["body"])[1]
    assert RERUN_KEY.search(second["body"])[1] != RERUN_KEY.search(third["body"])[1]
    # apart from its holes, the kept page is the page Django rendered
    strip = lambda body: RERUN_KEY.sub(b"", TOKEN_INPUT.sub(b"", re.sub(rb'"X-CSRFToken": "\w+"', b"", body)))  # noqa: E731
    assert strip(second["body"]) == strip(first["body"])
    assert "총수익률".encode() in second["body"]  # the metric cards, in the user's Korean


def test_a_kept_pages_csrf_token_is_accepted_by_django(app, user, finished, django_capture_on_commit_callbacks):
    path = f"/backtests/{finished.pk}/"
    cookies = browser_cookies(user)
    get(app, path, {"Cookie": cookies})
    kept = get(app, path, {"Cookie": cookies})
    assert hit(kept)
    client = Client(enforce_csrf_checks=True)
    for part in cookies.split("; "):
        name, value = part.split("=", 1)
        client.cookies[name] = value.strip('"')
    token, key = TOKEN_INPUT.search(kept["body"])[1].decode(), RERUN_KEY.search(kept["body"])[1].decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/backtests/{finished.pk}/rerun/", {"csrfmiddlewaretoken": token, "submission_key": key})
    assert response.status_code == 302
    assert BacktestRun.objects.filter(owner=user).count() == 2


def test_signing_out_or_another_user_gets_django_not_the_kept_page(app, user, other_user, finished):
    path = f"/backtests/{finished.pk}/"
    cookies = browser_cookies(user)
    get(app, path, {"Cookie": cookies})
    assert hit(get(app, path, {"Cookie": cookies}))
    bob = get(app, path, {"Cookie": browser_cookies(other_user)})
    assert bob["status"] == 404 and not hit(bob)
    anonymous = get(app, path, {"Cookie": f"csrftoken={SECRET}; lang=ko; theme=system"})
    assert anonymous["status"] == 302 and "/accounts/login/" in anonymous["headers"]["location"]

    session = cookies.split(";")[0].split("=", 1)[1]
    browser = Client()
    browser.cookies["sessionid"] = session
    assert browser.post("/accounts/logout/").status_code == 302  # user_logged_out: forgotten here at once
    gone = get(app, path, {"Cookie": cookies})
    assert gone["status"] == 302 and not hit(gone)


def test_the_look_is_part_of_the_key_and_a_change_of_preferences_is_seen(app, django_app, user, finished):
    path = f"/backtests/{finished.pk}/"
    user.language = "en"
    user.save()
    english = browser_cookies(user)
    get(app, path, {"Cookie": english})
    page = get(app, path, {"Cookie": english})
    assert hit(page) and b'<html lang="en"' in page["body"]
    user.language = "ko"
    user.save()  # the receiver forgets the user's credentials: Django renders the next one
    stale_cookies = get(app, path, {"Cookie": english})
    assert not hit(stale_cookies) and b'<html lang="ko"' in stale_cookies["body"]
    assert any(c.startswith("lang=ko;") for c in stale_cookies["cookies_set"])  # the cookies follow the account
    korean = english.replace("lang=en", "lang=ko")
    get(app, path, {"Cookie": korean})
    assert hit(get(app, path, {"Cookie": korean}))
    assert not hit(get(app, path, {"Cookie": english}))  # cookies out of step go to Django


def test_a_pending_message_or_a_query_string_goes_to_django(app, user, finished):
    path = f"/backtests/{finished.pk}/"
    cookies = browser_cookies(user)
    get(app, path, {"Cookie": cookies})
    assert hit(get(app, path, {"Cookie": cookies}))
    assert not hit(get(app, path, {"Cookie": cookies + "; messages=abc"}))

    async def with_query():
        communicator = HttpCommunicator(app, "GET", f"{path}?sort=-net_return", headers=asgi_headers({"Cookie": cookies}))
        return await finish(communicator)

    sorted_page = async_to_sync(with_query)()
    assert sorted_page["status"] == 200 and (b"x-edge-cache", b"hit") not in sorted_page["headers"]


def test_an_unfinished_run_is_never_kept(app, django_app, user, sample_market, media, no_worker,
                                         django_capture_on_commit_callbacks):
    fields = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": "005930",
              "start": validation.dt.date(2018, 1, 1), "end": validation.dt.date(2024, 12, 31), "cash": 10_000_000}
    checked = validation.backtest_request_check(user=user, fields=fields)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.backtest_start(user=user, spec=checked.spec, title="queued")
    cookies = {"Cookie": browser_cookies(user)}
    auth = {"Authorization": f"Token {token_of(user)}"}
    for _ in range(2):
        assert not hit(get(app, f"/backtests/{run.pk}/", cookies))
        assert get(app, f"/api/v1/backtests/{run.pk}/results/", auth)["status"] == 409
    assert django_app.calls == 4


def test_the_declared_routes_match_the_url_conf(finished):
    from django.urls import reverse

    assert edge._match(reverse("backtests:detail", args=[finished.pk])).kind == edge.PAGE
    assert edge._match(f"/api/v1/backtests/{finished.pk}/results/").kind == edge.API
    assert edge._match(reverse("backtests:index")) is None


def test_mask_csrf_secret_gives_tokens_django_unmasks():
    tokens = {edge.mask_csrf_secret(SECRET) for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(token) == 64 and _unmask_cipher_token(token) == SECRET for token in tokens)



def test_kept_answers_are_bounded_in_bytes_oldest_first(app, user, finished, settings,
                                                        django_capture_on_commit_callbacks):
    second = finish_run(user, django_capture_on_commit_callbacks)
    auth = {"Authorization": f"Token {token_of(user)}"}
    first_path, second_path = (f"/api/v1/backtests/{run.pk}/results/" for run in (finished, second))
    get(app, first_path, auth)
    settings.EDGE_CACHE_MAX_BYTES = edge._tables.size + 1  # room for one answer only
    get(app, second_path, auth)
    assert hit(get(app, second_path, auth))
    assert not hit(get(app, first_path, auth))  # the oldest made room
    assert set(edge._tables.by_tag) == {f"backtest:{finished.pk}"}  # and the evicted one's tag went with it


def test_user_text_that_looks_like_a_hole_stays_text(app, user, finished):
    BacktestRun.objects.filter(pk=finished.pk).update(title="<edge-hole:csrf> <edge-hole:once>")
    path = f"/backtests/{finished.pk}/"
    cookies = {"Cookie": browser_cookies(user)}
    get(app, path, cookies)
    kept = get(app, path, cookies)
    assert hit(kept)
    assert b"&lt;edge-hole:csrf&gt; &lt;edge-hole:once&gt;" in kept["body"]  # escaped, not filled
