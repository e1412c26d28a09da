"""The user's live channel (``/ws/user/``)."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core import realtime
from core.metrics import series as metrics

# Close code sent to a socket that is not logged in (4000-4999 are ours).
CLOSE_UNAUTHENTICATED = 4401
# Close code sent to a socket opened on a path no consumer serves (before the handshake completes,
# so servers answer the upgrade with 403).
CLOSE_NOT_FOUND = 4404


class UserConsumer(AsyncJsonWebsocketConsumer):
    group_name: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept, then close with our code: a socket refused during the handshake reaches the
            # browser as an HTTP 403 and close code 1006, which looks like a server that is down, so
            # the page would keep "reconnecting" instead of saying the session has ended.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        realtime.remember_server_loop()
        self.group_name = realtime.user_group(user.pk)
        metrics.websocket_opened("user")  # paired with disconnect's, which sees self.group_name
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            metrics.websocket_closed("user")
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The channel is server-to-client; a ping keeps proxies from idling it out.
        if content.get("type") == "ping":
            await self.send_json({"event": "pong"})

    async def user_event(self, message: dict) -> None:
        await self.send_json(
            {"event": message["event"], "payload": message["payload"], "sent_at": message["sent_at"]}
        )


async def not_found(scope, receive, send) -> None:
    """Every websocket path no consumer serves: refused with ``CLOSE_NOT_FOUND`` instead of the
    router's ``ValueError`` (which servers answer with HTTP 500). A plain ASGI app rather than a
    consumer: a refused socket needs no channel of the channel layer."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": CLOSE_NOT_FOUND})
