"""One tick reaches every browser on every web process: real daphne processes on the Redis channel
layer (full stack only), 50 websocket clients spread over two of them, one upstream subscription."""

from __future__ import annotations

import asyncio
import os

import pytest
from django.conf import settings as django_settings

from bench import realtime as bench
from trading.realtime.interest import interest_symbols

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fullstack,
    pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs the Redis channel layer (full stack)"),
]

CLIENTS = 50


@pytest.fixture
def servers(tmp_path):
    from django.db import connection

    from tests.e2e.conftest import _database_url

    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_BROKER_URL"}}
    env.update(DATABASE_URL=_database_url(connection.settings_dict), REDIS_URL=django_settings.REDIS_URL,
               DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")  # fmt: skip
    started = bench.start_servers(2, env, tmp_path)
    yield started
    bench.stop_servers(started)


def test_one_published_tick_reaches_every_client_on_both_processes(servers):
    cookie = bench.viewer_cookie(symbol="005930")
    ports = [server.port for server in servers]

    async def scenario():
        loop = asyncio.get_running_loop()
        clients = await bench.open_clients(ports, CLIENTS, "/ws/realtime/005930/", cookie, batch=25)
        watched = await loop.run_in_executor(None, interest_symbols)
        members = await loop.run_in_executor(None, bench.group_members, django_settings.REDIS_URL)
        result = await bench.fan_out(clients, symbol="005930", ticks=1, interval=0, first_price=71_200)
        for client in clients:
            client.close()
        left = await wait_until(lambda: not interest_symbols() and not bench.group_members(django_settings.REDIS_URL))
        return clients, watched, members, result, left

    clients, watched, members, result, left = asyncio.run(scenario())

    logs = "\n".join(server.output() for server in servers)
    assert result.missing == 0, logs
    assert len(result.latencies_ms) == CLIENTS
    assert watched == ["005930"]  # 50 viewers on two processes: one upstream subscription
    assert members == 2  # one channel per process in the symbol's group, not one per socket
    tick = clients[0].messages[-1]
    assert (tick["symbol"], tick["price"], tick["source"], tick["delayed"]) == ("005930", "71200", "bench", False)
    assert all(client.messages[-1] == tick for client in clients)
    assert left, "the symbol is still watched or subscribed after every viewer left\n" + logs


async def wait_until(condition, timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await loop.run_in_executor(None, condition):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
