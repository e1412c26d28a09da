"""The catalogue: which events are kept, as which kind, and how they read in each language."""

import pytest

from notifications import catalog

ORDER = {"id": 7, "symbol": "005930", "side": "buy", "quantity": "10", "filled_quantity": "10",
         "average_fill_price": "71000", "state": "filled", "reason": ""}


@pytest.mark.parametrize(("event", "payload", "kind"), [
    ("order.filled", ORDER, "order_filled"),
    ("order.partially_filled", ORDER, "order_filled"),
    ("order.fill", ORDER, "order_filled"),
    ("order.rejected", ORDER, "order_rejected"),
    ("order.not_placed", ORDER, "order_rejected"),
    ("order.unknown", ORDER, "order_unknown"),
    ("position.mismatch", {"symbol": "005930", "note": "x"}, "position_mismatch"),
    ("killswitch.pulled", {"reason": "panic"}, "killswitch"),
    ("deployment.halted", {"id": 1, "name": "A", "state_code": "daily_loss"}, "deployment_halted"),
    ("deployment.paused", {"id": 1, "name": "A", "state_code": "daily_loss"}, "deployment_paused"),
    ("backtest.finished", {"id": 1, "status": "succeeded"}, "backtest_finished"),
    ("backtest.finished", {"id": 1, "status": "failed"}, "backtest_failed"),
    ("sweep.finished", {"id": 1, "status": "succeeded"}, "sweep_finished"),
    ("sweep.finished", {"id": 1, "status": "failed"}, "sweep_finished"),
    ("broker.verification_failed", {"account_id": 1, "nickname": "KIS"}, "broker_failed"),
    ("broker.verification_failed", {"account_id": 1, "status_code": "TokenExpired"}, "token_problem"),
    ("coupon.redeemed", {"plan": "pro", "days": 30}, "coupon_applied"),
    ("subscription.changed", {"plan": "pro", "mode": "advance"}, "plan_changed"),
    ("subscription.ending", {"plan": "pro", "ends_at": "2026-12-31T00:00:00+00:00"}, "plan_changed"),
    ("feedback.resolved", {"id": 1, "summary": "s", "answer": "a", "link": "/feedback/1/"}, "feedback_answered"),
    ("announcement.published", {"id": 1, "title": "t", "body": "b"}, "announcement"),
    ("announcement.resolved", {"id": 1, "title": "t", "resolution": "r"}, "announcement"),
    ("webhook.disabled", {"id": 1, "url_host": "example.com", "reason": "HTTP 500"}, "webhook_disabled"),
    ("telegram.linked", {"username": "alice"}, "telegram_link"),
])
def test_kept_events_map_to_their_kind(event, payload, kind):
    assert catalog.kind_for(event, payload).key == kind


@pytest.mark.parametrize(("event", "payload"), [
    ("order.submitting", ORDER), ("order.new", ORDER), ("order.accepted", ORDER), ("order.cancelled", ORDER),
    ("backtest.progress", {"status": "running"}), ("backtest.finished", {"status": "cancelled"}),
    ("sweep.finished", {"status": "cancelled"}), ("deployment.paused", {"state_code": ""}),
    ("deployment.started", {}), ("broker.verified", {}), ("notification.test", {}), ("tick", {}),
    ("subscription.changed", {"plan": "pro", "source": "coupon"}),
])
def test_events_not_worth_keeping_map_to_none(event, payload):
    assert catalog.kind_for(event, payload) is None


def test_the_critical_kinds_are_the_issues_five_plus_the_token():
    critical = {k.key for k in catalog.KINDS.values() if k.critical}
    assert critical == {"killswitch", "position_mismatch", "order_unknown", "deployment_halted", "broker_failed",
                        "token_problem"}
    for key in critical - {"broker_failed", "token_problem"}:
        assert catalog.KINDS[key].channels == frozenset(catalog.CHANNELS)
    # the account service already emails the owner when a verified account stops verifying: not twice
    for key in ("broker_failed", "token_problem"):
        assert catalog.KINDS[key].channels == {catalog.IN_APP, catalog.TELEGRAM}


def test_default_channels_fills_to_telegram_backtests_in_app_only():
    assert catalog.KINDS["order_filled"].channels == {catalog.IN_APP, catalog.TELEGRAM}
    assert catalog.KINDS["order_filled"].coalesce_key == catalog.FILLS
    for key in ("backtest_finished", "backtest_failed", "sweep_finished"):
        assert catalog.KINDS[key].channels == {catalog.IN_APP}


def test_every_kind_has_a_category_and_a_renderer():
    for kind in catalog.KINDS.values():
        assert kind.category in catalog.CATEGORIES
        assert kind.key in catalog._RENDERERS


def test_a_fill_reads_in_english_and_korean():
    kind = catalog.kind_for("order.filled", ORDER)
    english = catalog.render(kind, "order.filled", ORDER, language="en")
    assert english.title == "Order filled: 005930"
    assert "10 of 10 filled" in english.body
    assert english.link == "/trading/orders/7/"
    korean = catalog.render(kind, "order.filled", ORDER, language="ko")
    # "Buy" is already translated in the project's catalogue; the new strings follow when the lead compiles
    assert korean.body.startswith("매수 005930") and "005930" in korean.title


def test_times_are_shown_in_the_users_time_zone():
    payload = {"plan": "pro", "ends_at": "2026-12-31T15:30:00+00:00"}
    kind = catalog.kind_for("subscription.ending", payload)
    seoul = catalog.render(kind, "subscription.ending", payload, language="en", time_zone="Asia/Seoul")
    london = catalog.render(kind, "subscription.ending", payload, language="en", time_zone="Europe/London")
    assert "12:30" in seoul.body or "0:30" in seoul.body  # 00:30 on the 1st of January in Seoul
    assert "Jan" in seoul.body and "Dec" in london.body


def test_a_released_kill_switch_is_not_critical_but_a_pulled_one_is():
    kind = catalog.KINDS["killswitch"]
    assert catalog.render(kind, "killswitch.pulled", {"reason": "x"}, language="en").critical
    released = catalog.render(kind, "killswitch.released", {}, language="en")
    assert not released.critical and released.level == catalog.INFO


@pytest.mark.parametrize("event", sorted(catalog._BY_EVENT))
def test_every_mapped_event_renders_with_an_empty_payload(event):
    kind = catalog.kind_for(event, {})
    for language in ("en", "ko"):
        message = catalog.render(kind, event, {}, language=language)
        assert message.title
