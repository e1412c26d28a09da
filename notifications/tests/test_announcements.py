"""Announcements: a banner on every page until dismissed or expired; publishing tells the affected
users; resolving an incident tells them it is over and the banner shows the resolution; the admin
publishes and resolves through the services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from core import events
from core.audit import Actor
from core.errors import ApplicationError
from core.models import AuditEntry
from notifications import announcement_selectors as selectors
from notifications import announcement_services as services
from notifications import announcement_tasks
from notifications.models import Announcement, AnnouncementDismissal

pytestmark = pytest.mark.django_db

STAFF = Actor.system("tests")


@pytest.fixture
def published(monkeypatch) -> list[events.Event]:
    seen: list[events.Event] = []
    monkeypatch.setattr(events, "ROUTES", [seen.append])
    return seen


@pytest.fixture
def worker(monkeypatch):
    """The tasks run at once, in this process (chunks of 2 users, to see the fan-out)."""
    monkeypatch.setattr(announcement_tasks, "CHUNK", 2)
    chunks: list[list[int]] = []

    def chunk(**kwargs):
        chunks.append(kwargs["user_ids"])
        announcement_tasks.announcement_notify_chunk.run(**kwargs)

    monkeypatch.setattr(announcement_tasks.announcement_notify_chunk, "delay", chunk)
    monkeypatch.setattr(announcement_tasks.announcement_notify, "delay",
                        lambda **kwargs: announcement_tasks.announcement_notify.run(**kwargs))
    return chunks


def announce(kind: str = "maintenance", *, title: str = "정기 점검", body: str = "02:00–04:00 서비스 중단",
             publish: bool = True, affected=(), **dates) -> Announcement:
    announcement = services.announcement_create(actor=STAFF, kind=kind, title=title, body=body,
                                                affected_users=affected, **dates)
    if publish:
        services.announcement_publish(actor=STAFF, announcement=announcement)
    return announcement


def banners(client, path: str = "/dashboard/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_a_published_announcement_shows_on_every_page_until_dismissed(client, user):
    announcement = announce(title="정기 점검 안내")
    client.force_login(user)
    for path in ("/dashboard/", "/settings/", "/notifications/webhooks/"):
        text = banners(client, path)
        assert 'data-testid="announcement-banner"' in text and "정기 점검 안내" in text
        assert "css/notif-announce.css" in text

    response = client.post(f"/notifications/announcements/{announcement.pk}/dismiss/", {"next": "/settings/"})
    assert response.status_code == 302 and response["Location"] == "/settings/"
    assert "정기 점검 안내" not in banners(client)
    assert "정기 점검 안내" not in banners(client, "/settings/")
    assert AnnouncementDismissal.objects.filter(announcement=announcement, user=user).count() == 1


def test_dismissing_with_htmx_answers_an_empty_banner(client, user):
    announcement = announce()
    client.force_login(user)
    response = client.post(f"/notifications/announcements/{announcement.pk}/dismiss/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response.content == b""
    assert selectors.active_announcements(user) == []


def test_dismissing_goes_back_only_to_our_own_pages(client, user):
    announcement = announce()
    client.force_login(user)
    response = client.post(f"/notifications/announcements/{announcement.pk}/dismiss/",
                           {"next": "https://evil.example.com/"})
    assert response["Location"] == "/dashboard/"


def test_a_draft_a_future_or_an_expired_announcement_shows_no_banner(client, user):
    now = timezone.now()
    announce(title="초안", publish=False)
    announce(title="다음 주 점검", starts_at=now + dt.timedelta(days=7))
    expired = announce(title="지난 점검", starts_at=now - dt.timedelta(days=2), expires_at=now + dt.timedelta(hours=1))
    client.force_login(user)
    assert "지난 점검" in banners(client)
    Announcement.objects.filter(pk=expired.pk).update(expires_at=now - dt.timedelta(seconds=1))
    selectors.banners_invalidate()
    text = banners(client)
    assert "초안" not in text and "다음 주 점검" not in text and "지난 점검" not in text
    assert 'data-testid="announcement-banner"' not in text


def test_banners_are_one_cached_query_and_publishing_shows_a_new_one_at_once(client, user,
                                                                              django_assert_num_queries,
                                                                              django_capture_on_commit_callbacks):
    announce(title="첫 공지")
    assert [a.title for a in selectors.active_announcements(user)] == ["첫 공지"]
    with django_assert_num_queries(0):
        assert [a.title for a in selectors.active_announcements(user)] == ["첫 공지"]
    with django_capture_on_commit_callbacks(execute=True):
        announce("release", title="새 기능")
    with django_assert_num_queries(1):
        assert {a.title for a in selectors.active_announcements(user)} == {"첫 공지", "새 기능"}


def test_a_targeted_announcement_shows_only_to_its_users(client, user, other_user):
    announce("incident", title="KIS 주문 지연", affected=[other_user])
    assert selectors.active_announcements(user) == []
    assert [a.title for a in selectors.active_announcements(other_user)] == ["KIS 주문 지연"]


def test_anonymous_visitors_see_maintenance_and_incidents_but_cannot_dismiss(client, user):
    announce("maintenance", title="점검 공지")
    incident = announce("incident", title="장애 공지")
    announce("release", title="릴리스 공지")
    text = banners(client, "/")
    assert "점검 공지" in text and "장애 공지" in text and "릴리스 공지" not in text
    assert 'data-testid="announcement-dismiss"' not in text
    response = client.post(f"/notifications/announcements/{incident.pk}/dismiss/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not AnnouncementDismissal.objects.exists()


def test_a_user_cannot_dismiss_what_is_not_shown_to_them(client, user, other_user):
    draft = announce(publish=False)
    theirs = announce("incident", affected=[other_user])
    client.force_login(user)
    for announcement in (draft, theirs):
        assert client.post(f"/notifications/announcements/{announcement.pk}/dismiss/").status_code == 404
    assert client.get(f"/notifications/announcements/{theirs.pk}/dismiss/").status_code == 405
    assert not AnnouncementDismissal.objects.exists()


def test_publishing_tells_every_active_user_in_chunks(user, other_user, published, worker,
                                                      django_capture_on_commit_callbacks):
    third = UserFactory(email="carol@example.com")
    UserFactory(email="gone@example.com", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        announcement = announce("release", title="v2.0 출시", body="새 기능 안내")
    told = [event for event in published if event.name == "announcement.published"]
    assert sorted(event.user_id for event in told) == sorted([user.pk, other_user.pk, third.pk])
    assert worker == [sorted([user.pk, other_user.pk, third.pk])[:2], sorted([user.pk, other_user.pk, third.pk])[2:]]
    assert told[0].payload == {"id": announcement.pk, "kind": "release", "title": "v2.0 출시", "body": "새 기능 안내",
                               "link": "/dashboard/"}
    assert AuditEntry.objects.filter(action="announcement.published", object_id=str(announcement.pk)).exists()


def test_publishing_a_targeted_announcement_tells_only_its_users(user, other_user, published, worker,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        announce("incident", title="KIS 접속 장애", affected=[other_user])
    assert [event.user_id for event in published] == [other_user.pk]


def test_publishing_twice_is_refused(user):
    announcement = announce()
    with pytest.raises(ApplicationError) as refused:
        services.announcement_publish(actor=STAFF, announcement=announcement)
    assert refused.value.message == str(services.ALREADY_PUBLISHED)


def test_resolving_an_incident_tells_the_affected_users_it_is_over(client, user, other_user, published, worker,
                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = announce("incident", title="주문 지연 장애", body="KIS 주문이 지연되고 있습니다.", affected=[user])
    client.force_login(user)
    client.post(f"/notifications/announcements/{incident.pk}/dismiss/")
    assert "주문 지연 장애" not in banners(client)
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.announcement_resolve(actor=STAFF, announcement=incident, resolution="14:20에 복구되었습니다.")
    (notice,) = published
    assert (notice.user_id, notice.name) == (user.pk, "announcement.resolved")
    assert notice.payload == {"id": incident.pk, "kind": "incident", "title": "주문 지연 장애",
                              "resolution": "14:20에 복구되었습니다.", "link": "/dashboard/"}
    text = banners(client)  # shown again, resolved: that is the news
    assert 'data-resolved="1"' in text and 'data-testid="announcement-resolution"' in text
    assert "14:20에 복구되었습니다." in text
    client.post(f"/notifications/announcements/{incident.pk}/dismiss/")
    assert "주문 지연 장애" not in banners(client)


@pytest.mark.parametrize("case", ["not_incident", "draft", "twice", "no_resolution"])
def test_resolving_refuses_what_cannot_be_resolved(user, case):
    announcement = announce("release" if case == "not_incident" else "incident", publish=case != "draft")
    if case == "twice":
        services.announcement_resolve(actor=STAFF, announcement=announcement, resolution="복구")
    with pytest.raises(ApplicationError):
        services.announcement_resolve(actor=STAFF, announcement=announcement,
                                      resolution="" if case == "no_resolution" else "복구")


def test_an_update_changes_the_banner_at_once_and_is_audited(client, user, django_capture_on_commit_callbacks):
    incident = announce("incident", title="장애", body="조사 중입니다.")
    client.force_login(user)
    assert "조사 중입니다." in banners(client)
    with django_capture_on_commit_callbacks(execute=True):
        services.announcement_update(actor=STAFF, announcement=incident, body="원인을 찾았습니다. 복구 중입니다.")
    assert "복구 중입니다." in banners(client)
    entry = AuditEntry.objects.get(action="announcement.updated")
    assert entry.after == {"body": "원인을 찾았습니다. 복구 중입니다."}
    with pytest.raises(ApplicationError):
        services.announcement_update(actor=STAFF, announcement=incident,
                                     expires_at=incident.starts_at - dt.timedelta(hours=1))


# --- admin -----------------------------------------------------------------------------------------
@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser(email="ops@example.com", password="x-very-long-1"))
    return client


def test_the_admin_creates_and_publishes_through_the_services(admin_client, user, published, worker,
                                                              django_capture_on_commit_callbacks):
    now = timezone.localtime()
    response = admin_client.post("/admin/notifications/announcement/add/", {
        "kind": "maintenance", "title": "서버 점검", "body": "잠시 중단됩니다.",
        "starts_at_0": now.strftime("%Y-%m-%d"), "starts_at_1": now.strftime("%H:%M:%S"),
        "expires_at_0": "", "expires_at_1": "", "affected_users": [user.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    announcement = Announcement.objects.get(title="서버 점검")
    assert list(announcement.affected_users.all()) == [user]
    assert AuditEntry.objects.filter(action="announcement.created", door="admin").exists()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/notifications/announcement/",
                          {"action": "publish_selected", "_selected_action": [announcement.pk]})
    announcement.refresh_from_db()
    assert announcement.published_at is not None
    assert [(event.user_id, event.name) for event in published] == [(user.pk, "announcement.published")]


def test_the_admin_resolves_an_incident_on_a_form_that_asks_for_the_resolution(admin_client, user, published, worker,
                                                                               django_capture_on_commit_callbacks):
    incident = announce("incident", title="체결 지연", affected=[user])
    response = admin_client.post("/admin/notifications/announcement/",
                                 {"action": "resolve_selected", "_selected_action": [incident.pk]})
    assert response.status_code == 302
    form_url = response["Location"]
    assert "체결 지연" in admin_client.get(form_url).content.decode()
    assert admin_client.post(form_url, {"resolution": ""}).status_code == 200  # required: the form again
    incident.refresh_from_db()
    assert incident.resolved_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(form_url, {"resolution": "복구 완료"}).status_code == 302
    incident.refresh_from_db()
    assert incident.resolution == "복구 완료" and incident.resolved_at is not None
    assert [(event.user_id, event.name) for event in published] == [(user.pk, "announcement.resolved")]


def test_publishing_and_resolving_leave_a_notification_in_the_centre(user, worker, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    """The real routes: the catalogue keeps both events as kind ``announcement``."""
    from notifications.models import Notification

    monkeypatch.setattr("core.realtime.group_send", lambda group, message: None)
    with django_capture_on_commit_callbacks(execute=True):
        incident = announce("incident", title="시세 지연", body="실시간 시세가 지연됩니다.")
    with django_capture_on_commit_callbacks(execute=True):
        services.announcement_resolve(actor=STAFF, announcement=incident, resolution="복구되었습니다.")
    kept = list(Notification.objects.filter(owner=user).order_by("id"))
    assert [(n.event, n.kind) for n in kept] == [("announcement.published", "announcement"),
                                                 ("announcement.resolved", "announcement")]
    assert "시세 지연" in kept[0].title + kept[0].body and "복구되었습니다." in kept[1].title + kept[1].body
