"""The maintenance banner's context (core.system.context.maintenance) reads the system settings only when
a template uses it: every page's banner does, the htmx fragments rendered with the same processors do not."""

from __future__ import annotations

from types import SimpleNamespace

from django.test import RequestFactory

from core.system import context as system_context


def test_the_settings_are_read_only_when_a_template_uses_them(monkeypatch):
    reads = []
    row = SimpleNamespace(maintenance_mode=True, maintenance_message="Back at 9")
    monkeypatch.setattr(system_context, "system_settings_for", lambda request: reads.append(request) or row)
    request = RequestFactory().get("/")
    context = system_context.maintenance(request)
    assert reads == []
    assert context["maintenance"]["message"] == "Back at 9" and reads == [request]


def test_no_banner_outside_maintenance(monkeypatch):
    row = SimpleNamespace(maintenance_mode=False, maintenance_message="")
    monkeypatch.setattr(system_context, "system_settings_for", lambda request: row)
    assert not system_context.maintenance(RequestFactory().get("/"))["maintenance"]
