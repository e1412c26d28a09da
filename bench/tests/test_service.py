"""The pure helpers of the service benchmark (no server, no timing): stats, the websocket frame codec,
wrk's figures, the verdicts."""

from __future__ import annotations

import base64
import struct

import pytest

from bench import load, service, stats, websocket


def test_percentile_interpolates_between_ranks():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 50) == 3.0
    assert stats.percentile(values, 100) == 5.0
    assert stats.percentile(values, 95) == pytest.approx(4.8)
    assert stats.percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [-1, 101])
def test_percentile_rejects_bad_input(q):
    with pytest.raises(ValueError):
        stats.percentile([1.0], q)
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_summarize():
    summary = stats.summarize([10.0, 20.0, 30.0, 40.0])
    assert summary["n"] == 4 and summary["median"] == 25.0 and summary["min"] == 10.0 and summary["max"] == 40.0
    assert stats.summarize([]) == {"n": 0}


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_frame_round_trip_at_every_length_encoding(size):
    payload = bytes(i % 251 for i in range(size))
    frame = websocket.ws_encode_frame(payload, websocket.OP_TEXT, mask_key=b"\x01\x02\x03\x04")
    assert frame[1] & 0x80  # clients mask
    fin, opcode, decoded, used = websocket.ws_parse_frame(frame + b"next")
    assert (fin, opcode, decoded, used) == (True, websocket.OP_TEXT, payload, len(frame))


def test_parse_unmasked_server_frames_and_partial_buffers():
    text = b'{"event": "backtest.finished"}'
    frame = bytes([0x81, len(text)]) + text
    assert websocket.ws_parse_frame(frame) == (True, websocket.OP_TEXT, text, len(frame))
    for cut in range(len(frame)):
        assert websocket.ws_parse_frame(frame[:cut]) is None
    big = b"x" * 300
    frame = bytes([0x81, 126]) + struct.pack("!H", 300) + big
    assert websocket.ws_parse_frame(frame[:3]) is None
    assert websocket.ws_parse_frame(frame)[2] == big
    ping = bytes([0x89, 0])
    assert websocket.ws_parse_frame(ping) == (True, websocket.OP_PING, b"", 2)
    continuation = bytes([0x01, 2]) + b"ab"  # fin bit clear
    assert websocket.ws_parse_frame(continuation)[:2] == (False, websocket.OP_TEXT)


def test_accept_key_matches_rfc6455_example():
    # RFC 6455 section 1.3
    assert websocket.ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert base64.b64decode(websocket.ws_accept_key("x"))


def test_verdicts_compare_against_the_targets():
    assert service.verdict("submit_1x1y_ms", 299.0) == "PASS"
    assert service.verdict("submit_1x1y_ms", 300.0) == "FAIL"
    assert service.verdict("peak_memory_mb", None) == "n/a"
    figures = service.figures({"submit_1x1y_ms": {"median": 1.0}, "memory": {"peak_mb": 3.0}})
    assert figures["submit_1x1y_ms"] == 1.0 and figures["peak_memory_mb"] == 3.0 and figures["api_p95_ms"] is None


def test_wrk_figures_become_milliseconds_and_name_their_errors():
    line = ('WRK_JSON {"requests": 1000, "duration_us": 2000000, "bytes": 5000000, "status_errors": 10, '
            '"connect_errors": 0, "read_errors": 2, "write_errors": 0, "timeouts": 1, "p50_us": 12500, '
            '"p95_us": 80250, "p99_us": 150000, "max_us": 300000}')  # fmt: skip
    figures = load.parse_wrk(f"Running 2s test\n{line}\n", connections=200)
    assert (figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]) == (12.5, 80.25, 150.0)
    assert figures["ok"] == 990 and figures["ok_rps"] == 495.0 and figures["throughput_rps"] == 500.0
    assert figures["errors"] == {"HTTP non-2xx/3xx": 10, "read": 2, "timeout": 1}
    assert figures["body_bytes"] == 5000 and figures["connections"] == 200
    with pytest.raises(RuntimeError, match="wrk printed no figures"):
        load.parse_wrk("connection refused", connections=1)


def test_the_wrk_script_prints_the_line_parse_wrk_reads():
    assert 'WRK_JSON {\\"requests\\": %d' in load.WRK_SCRIPT
    for key in ("p50_us", "p95_us", "p99_us", "timeouts", "status_errors"):
        assert f'\\"{key}\\"' in load.WRK_SCRIPT
