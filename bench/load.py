"""HTTP load on one URL: wrk when installed (a C program, so the figures are the server's), else a
Python generator (httpx, asyncio) that shares the CPUs with the server. Both report the same shape."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.stats import percentile


async def _hammer(url: str, headers: dict[str, str], connections: int, total: int) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []  # every answer, errors too (throughput)
    ok_latencies: list[float] = []  # 200s only (the percentiles: a fast 500 is no success)
    errors: dict[str, int] = {}
    sizes: list[int] = []
    remaining = total

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client:

        async def one_connection() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                began = time.perf_counter()
                try:
                    response = await client.get(url)
                    body = response.content
                except httpx.HTTPError as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    continue
                elapsed = time.perf_counter() - began
                latencies.append(elapsed)
                if response.status_code != 200:
                    errors[f"HTTP {response.status_code}"] = errors.get(f"HTTP {response.status_code}", 0) + 1
                else:
                    ok_latencies.append(elapsed)
                    sizes.append(len(body))

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        wall = time.perf_counter() - started

    ms = [value * 1000 for value in ok_latencies]
    return {
        "requests": total,
        "connections": connections,
        "ok": len(sizes),
        "errors": errors,
        "latency_of": "200 responses only",
        "p50_ms": percentile(ms, 50) if ms else None,
        "p95_ms": percentile(ms, 95) if ms else None,
        "p99_ms": percentile(ms, 99) if ms else None,
        "max_ms": max(ms) if ms else None,
        "throughput_rps": len(latencies) / wall if wall else None,  # answers per second, errors included
        "ok_rps": len(ok_latencies) / wall if wall else None,
        "body_bytes": int(statistics.median(sizes)) if sizes else None,
        "wall_s": wall,
    }


def hammer(url: str, headers: dict[str, str], connections: int, total: int) -> dict[str, Any]:
    import httpx

    with httpx.Client(headers=headers, timeout=60) as client:  # warm-up (caches, connections to the DB)
        for _ in range(5):
            client.get(url)
    return asyncio.run(_hammer(url, headers, connections, total))


WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  io.write(string.format("WRK_JSON {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, " ..
    "\"status_errors\": %d, \"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, " ..
    "\"timeouts\": %d, \"p50_us\": %d, \"p95_us\": %d, \"p99_us\": %d, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def parse_wrk(output: str, connections: int) -> dict[str, Any]:
    """wrk's figures (the ``done`` hook of :data:`WRK_SCRIPT`) in the shape of :func:`_hammer`'s."""
    line = next((line for line in output.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{output[-2000:]}")
    w = json.loads(line.split(" ", 1)[1])
    wall = w["duration_us"] / 1e6
    errors = {name: w[key] for name, key in (("HTTP non-2xx/3xx", "status_errors"), ("connect", "connect_errors"),
                                              ("read", "read_errors"), ("write", "write_errors"),
                                              ("timeout", "timeouts")) if w[key]}  # fmt: skip
    ok = w["requests"] - w["status_errors"]
    return {
        "generator": "wrk",
        "requests": w["requests"],
        "connections": connections,
        "ok": ok,
        "errors": errors,
        "latency_of": "every answer (wrk)",
        "p50_ms": w["p50_us"] / 1000,
        "p95_ms": w["p95_us"] / 1000,
        "p99_ms": w["p99_us"] / 1000,
        "max_ms": w["max_us"] / 1000,
        "throughput_rps": w["requests"] / wall if wall else None,
        "ok_rps": ok / wall if wall else None,
        "body_bytes": int(w["bytes"] / w["requests"]) if w["requests"] else None,
        "wall_s": wall,
    }


def browser_headers(url: str, headers: dict[str, str]) -> tuple[dict[str, str], float]:
    """A browser's first visit (through Django; its milliseconds are returned too), and the headers
    it sends from then on: the cookies the server set (CSRF, language, theme, time zone) next to
    the ones it was given, and gzip in Accept-Encoding."""
    import httpx

    with httpx.Client(headers=headers, timeout=60) as client:
        began = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - began) * 1000
        cookies = dict(response.cookies)
    given = headers.get("Cookie", "")
    extra = "; ".join(f"{name}={value}" for name, value in cookies.items() if f"{name}=" not in given)
    out = {**headers, "Accept-Encoding": "gzip"}
    if given or extra:
        out["Cookie"] = "; ".join(part for part in (given, extra) if part)
    return out, elapsed


def hammer_wrk(wrk: str, url: str, headers: dict[str, str], connections: int, seconds: float,
               workdir: Path) -> dict[str, Any]:  # fmt: skip
    script = workdir / "latency.lua"
    script.write_text(WRK_SCRIPT)
    command = [wrk, "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    return parse_wrk(done.stdout, connections)


def first_answer_ms(url: str, headers: dict[str, str]) -> tuple[float, str]:
    """One request's time and its X-Edge-Cache header."""
    import httpx

    with httpx.Client(headers=headers, timeout=60) as client:
        began = time.perf_counter()
        response = client.get(url)
        return (time.perf_counter() - began) * 1000, response.headers.get("X-Edge-Cache", "miss")
