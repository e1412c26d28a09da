"""A minimal blocking websocket client (text frames; answers pings) and its frame codec (RFC 6455).

The service benchmark listens on /ws/user/ with it for ``backtest.finished``; the codec is unit-tested.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def ws_encode_frame(payload: bytes, opcode: int = OP_TEXT, mask_key: bytes | None = None) -> bytes:
    """One final frame; clients must mask (RFC 6455 5.3), so ``mask_key`` defaults to random bytes."""
    mask_key = os.urandom(4) if mask_key is None else mask_key
    if len(mask_key) != 4:
        raise ValueError("the mask key is 4 bytes")
    head = bytes([0x80 | opcode])
    length = len(payload)
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return head + mask_key + masked


def ws_parse_frame(buffer: bytes | bytearray) -> tuple[bool, int, bytes, int] | None:
    """Parse one frame from the start of ``buffer``: ``(fin, opcode, payload, bytes used)``,
    or None when the buffer does not hold a whole frame yet. Unmasks masked frames."""
    if len(buffer) < 2:
        return None
    first, second = buffer[0], buffer[1]
    fin, opcode = bool(first & 0x80), first & 0x0F
    masked, length = bool(second & 0x80), second & 0x7F
    offset = 2
    if length == 126:
        if len(buffer) < offset + 2:
            return None
        (length,) = struct.unpack("!H", bytes(buffer[offset : offset + 2]))
        offset += 2
    elif length == 127:
        if len(buffer) < offset + 8:
            return None
        (length,) = struct.unpack("!Q", bytes(buffer[offset : offset + 8]))
        offset += 8
    mask_key = b""
    if masked:
        if len(buffer) < offset + 4:
            return None
        mask_key = bytes(buffer[offset : offset + 4])
        offset += 4
    if len(buffer) < offset + length:
        return None
    payload = bytes(buffer[offset : offset + length])
    if masked:
        payload = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return fin, opcode, payload, offset + length


def ws_accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer to ``key``."""
    import hashlib

    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


class WebSocket:
    def __init__(self, host: str, port: int, path: str, headers: dict[str, str], timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = bytearray()
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"websocket handshake: connection closed ({bytes(self.buffer)[:200]!r})")
            self.buffer += chunk
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        self.buffer = bytearray(rest)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"websocket handshake refused: {status!r}")
        if ws_accept_key(key).encode() not in head:
            raise ConnectionError("websocket handshake: bad Sec-WebSocket-Accept")

    def recv_text(self, timeout: float) -> str | None:
        """The next text message, or None after ``timeout`` seconds without one."""
        deadline = time.monotonic() + timeout
        message = b""
        while True:
            frame = ws_parse_frame(self.buffer)
            if frame is not None:
                fin, opcode, payload, used = frame
                del self.buffer[:used]
                if opcode == OP_PING:
                    self.sock.sendall(ws_encode_frame(payload, OP_PONG))
                elif opcode == OP_CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    raise ConnectionError(f"websocket closed by the server (code {code})")
                elif opcode in (OP_TEXT, OP_CONT, OP_BINARY):
                    message += payload
                    if fin:
                        return message.decode()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("websocket: connection closed")
            self.buffer += chunk

    def close(self) -> None:
        try:
            self.sock.sendall(ws_encode_frame(struct.pack("!H", 1000), OP_CLOSE))
        except OSError:
            pass
        self.sock.close()
