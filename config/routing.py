from django.urls import path, re_path

from core.consumers import UserConsumer, not_found
from trading.realtime.consumers import CODE_PATTERN, PriceConsumer

websocket_urlpatterns = [
    path("ws/user/", UserConsumer.as_asgi()),
    re_path(rf"^ws/realtime/(?P<code>{CODE_PATTERN})/$", PriceConsumer.as_asgi()),
    re_path(r"", not_found),  # last: any other path is refused cleanly (4404), not a 500
]
