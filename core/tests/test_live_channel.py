"""The live channel: /ws/user/ joins the user's group; anonymous sockets are refused."""

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from config.routing import websocket_urlpatterns
from core import events
from core.consumers import CLOSE_UNAUTHENTICATED

application = URLRouter(websocket_urlpatterns)


def in_worker_thread(function, **kwargs):
    """Run sync code in a thread as a worker would, giving its DB connection back after."""

    def run():
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    return sync_to_async(run)()


def communicator_for(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/user/")
    communicator.scope["user"] = user
    return communicator


@pytest.mark.asyncio
async def test_an_anonymous_socket_is_closed_with_the_unauthenticated_code():
    # Accepted only to be closed with a code the browser sees (a refused handshake reads as 1006).
    communicator = communicator_for(AnonymousUser())
    connected, _ = await communicator.connect()
    assert connected is True
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_pushed_event_reaches_only_its_user(user, other_user):
    alice, bob = communicator_for(user), communicator_for(other_user)
    assert (await alice.connect())[0] and (await bob.connect())[0]

    await in_worker_thread(events.publish, user_id=user.pk, event="order.filled", payload={"code": "005930"})

    message = await alice.receive_json_from(timeout=2)
    assert message["event"] == "order.filled"
    assert message["payload"] == {"code": "005930"}
    assert await bob.receive_nothing(timeout=0.3)
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_nothing_is_announced_when_the_transaction_rolls_back(user):
    from django.db import transaction

    alice = communicator_for(user)
    await alice.connect()

    def push_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish(user_id=user.pk, event="order.filled")
            raise RuntimeError("broker refused")

    await in_worker_thread(push_then_fail)
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()


@pytest.mark.asyncio
async def test_the_socket_answers_a_ping(db, user):
    alice = communicator_for(user)
    await alice.connect()
    await alice.send_json_to({"type": "ping"})
    assert await alice.receive_json_from(timeout=1) == {"event": "pong"}
    await alice.disconnect()


def test_the_asgi_app_checks_the_session_user():
    # The real router wraps the consumer in the session/auth stack and an origin check.
    from config import asgi

    websocket_app = asgi.application.application_mapping["websocket"]
    assert type(websocket_app).__name__ == "OriginValidator"
    assert isinstance(websocket_app.application, type(AuthMiddlewareStack(application)))
