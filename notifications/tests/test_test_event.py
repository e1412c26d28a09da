"""The test notification: a page asks, the worker pushes, the user's socket receives."""

import pytest
from channels.layers import get_channel_layer
from asgiref.sync import async_to_sync

from core.realtime import user_group
from notifications import services, tasks


@pytest.fixture
def alice_inbox(user):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user.pk), channel)
    return lambda: async_to_sync(layer.receive)(channel)


@pytest.mark.django_db(transaction=True)
def test_the_task_pushes_a_notification_in_the_users_language(user, alice_inbox):
    user.language = "en"
    user.save()
    tasks.send_test_event.run(user_id=user.pk)
    message = alice_inbox()
    assert message["event"] == services.EVENT_TEST
    assert message["payload"]["title"] == "Test notification"


@pytest.mark.django_db(transaction=True)
def test_korean_users_get_it_in_korean(user, alice_inbox):
    tasks.send_test_event.run(user_id=user.pk)
    assert alice_inbox()["payload"]["title"] != "Test notification"


def test_the_button_enqueues_the_task_for_the_logged_in_user(client, user, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.send_test_event, "delay", lambda **kwargs: sent.append(kwargs))
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/notifications/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 202
    assert sent == [{"user_id": user.pk}]


def test_anonymous_visitors_cannot_send(client, db):
    assert client.post("/notifications/test/").status_code == 302
