"""The realtime benchmark's own parts, at toy size and without a server: its websocket client reads
a handshake and frames however the bytes are split, answers pings, keeps the close code; the figures
it reports. (Its servers and clients against a real stack run in trading/realtime/tests/test_fanout_processes.py.)"""

from __future__ import annotations

import asyncio
import json
import struct

import pytest

from bench import realtime
from bench.websocket import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, ws_parse_frame


class Transport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def server_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    return bytes([0x80 | opcode, len(payload)]) + payload  # servers do not mask; small payloads


def test_the_client_times_each_tick_by_price_however_the_bytes_arrive():
    async def scenario():
        client = realtime.TickClient()
        client.connection_made(Transport())
        tick = json.dumps({"symbol": "005930", "price": "71200", "delayed": False}).encode()
        stream = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + server_frame(b"ping!", OP_PING) \
            + server_frame(tick) + server_frame(struct.pack("!H", 4404), OP_CLOSE)
        for start in range(0, len(stream), 7):  # seven bytes at a time
            client.data_received(stream[start:start + 7])
        client.drain()
        return client

    client = asyncio.run(scenario())
    assert client.opened.done() and client.opened.exception() is None
    assert list(client.arrivals) == ["71200"]
    assert client.messages == [{"symbol": "005930", "price": "71200", "delayed": False}]
    fin, opcode, payload, _ = ws_parse_frame(client.transport.written)
    assert (opcode, payload) == (OP_PONG, b"ping!")  # a server's ping is answered (daphne's keepalive)
    assert client.close_code == 4404 and client.transport.closed


def test_a_refused_handshake_fails_the_client():
    async def scenario():
        client = realtime.TickClient()
        client.connection_made(Transport())
        client.data_received(b"HTTP/1.1 403 Forbidden\r\n\r\n")
        return client

    client = asyncio.run(scenario())
    with pytest.raises(ConnectionError, match="403"):
        client.opened.result()


def test_the_figures_count_deliveries_and_misses():
    result = realtime.FanOut(clients=3, ticks=2, latencies_ms=[10.0, 20.0, 30.0, 40.0, 50.0], missing=1)
    figures = result.figures()
    assert (figures["deliveries"], figures["missing"], figures["p50_ms"], figures["max_ms"]) == (5, 1, 30.0, 50.0)
    assert figures["p99_ms"] == pytest.approx(49.6)
    assert "p99_ms" not in realtime.FanOut(clients=1, ticks=1, missing=1).figures()
