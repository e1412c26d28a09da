"""The audit log, the one event publish and the trading clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import transaction

from core import clock, events
from core.audit import Actor, audit_record, changes
from core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_an_audit_row_records_who_acted_for_whom_on_what(user, other_user, rf):
    request = rf.post("/", REMOTE_ADDR="203.0.113.7")
    request.user = other_user
    entry = audit_record(actor=Actor.from_request(request, door="admin"), action="broker_account.verify",
                         owner=user, object_type="trading.brokeraccount", object_id="7",
                         before={"status": "failed"}, after={"status": "verified"})
    entry.refresh_from_db()
    assert entry.owner == user and entry.actor == other_user and entry.actor_kind == "admin"
    assert entry.door == "admin" and entry.ip_address == "203.0.113.7"
    assert (entry.before, entry.after) == ({"status": "failed"}, {"status": "verified"})


def test_a_system_actor_has_a_label_and_no_user(user):
    entry = audit_record(actor=Actor.system("connection check"), action="x", owner=user)
    assert entry.actor is None and entry.actor_kind == "system" and entry.actor_label == "connection check"


def test_an_audit_row_rolls_back_with_the_action(user):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=Actor.of_user(user), action="x", owner=user)
        raise RuntimeError
    assert not AuditEntry.objects.exists()


def test_changes_keeps_only_what_differs():
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ({"b": 2}, {"b": 3})


def test_publish_delivers_on_commit_through_every_route(user, monkeypatch, django_capture_on_commit_callbacks):
    seen = []
    monkeypatch.setattr(events, "ROUTES", [seen.append])
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(user_id=user.pk, event="broker.verified", payload={"account_id": 1})
        assert seen == []  # nothing leaves before the commit
    assert [(e.user_id, e.name, e.payload) for e in seen] == [(user.pk, "broker.verified", {"account_id": 1})]


def test_a_rolled_back_event_is_never_delivered(user, monkeypatch):
    seen = []
    monkeypatch.setattr(events, "ROUTES", [seen.append])
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish(user_id=user.pk, event="order.filled")
        raise RuntimeError
    assert seen == []


def test_a_broken_route_does_not_silence_the_others(user, monkeypatch):
    seen = []

    def broken(event):
        raise ValueError("down")

    monkeypatch.setattr(events, "ROUTES", [broken, seen.append])
    events.deliver(events.Event(user_id=user.pk, name="x"))
    assert len(seen) == 1


def test_the_clock_travels_in_process():
    target = datetime(2027, 1, 4, 0, 30, tzinfo=UTC)
    with clock.travel(target, tick=False):
        assert clock.now() == target
    assert abs(clock.timestamp() - datetime.now(UTC).timestamp()) < 5


def test_the_clock_file_moves_every_process_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "clock.json"
    monkeypatch.setenv("CLOCK_FILE", str(path))
    target = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    with clock.travel(target, tick=False):
        assert json.loads(path.read_text()) == {"frozen": target.timestamp()}
        assert clock.now() == target
    assert abs(clock.timestamp() - datetime.now(UTC).timestamp()) < 5
