"""Serve a fake broker by hand: ``python -m trading.fakes kis --port 18443 --ws-port 18444 --demo``.

``--demo`` loads demo accounts (their fake keys and account numbers are printed), prices and the
sample bars, and streams moving prices over the websocket. Point ``BROKER_KIS_REAL_URL`` /
``BROKER_KIS_MOCK_URL`` (or the Kiwoom ones) at the printed URL and ``BROKER_KIS_*_WS_URL`` at the
printed websocket URL. Each broker is one entry of ``FAKES``: a module with
``build_demo(port) -> server`` (not started) and the server class for an empty one; a demo server
may offer ``demo_lines()`` to print; its websocket is the entry of ``WEBSOCKETS``.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import threading

# broker name -> (module, class of an empty server)
FAKES: dict[str, tuple[str, str]] = {
    "kis": ("trading.fakes.kis", "FakeKis"),
    "kiwoom": ("trading.fakes.kiwoom", "FakeKiwoom"),
}
# broker name -> (module, class) of its websocket, served beside it
WEBSOCKETS: dict[str, tuple[str, str]] = {
    "kis": ("trading.fakes.kis_ws", "FakeKisWs"),
    "kiwoom": ("trading.fakes.kiwoom_ws", "FakeKiwoomWs"),
}


def build(name: str, port: int, demo: bool):  # -> FakeServer
    module_name, class_name = FAKES[name]
    module = importlib.import_module(module_name)
    return module.build_demo(port) if demo else getattr(module, class_name)(port=port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trading.fakes", description="Serve a fake broker API.")
    parser.add_argument("broker", choices=sorted(FAKES))
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--demo", action="store_true", help="load demo accounts, prices and sample bars")
    parser.add_argument("--ws-port", type=int, default=0, help="the websocket's port (0: any free port)")
    args = parser.parse_args(argv)
    server = build(args.broker, args.port, args.demo).start()
    print(f"fake {args.broker} serving on {server.url}", flush=True)
    module_name, class_name = WEBSOCKETS[args.broker]
    websocket = getattr(importlib.import_module(module_name), class_name)(server, port=args.ws_port).start()
    if args.demo:
        websocket.tick_demo()
    for line in getattr(server, "demo_lines", lambda: [])():
        print(line, flush=True)
    # BROKER_<BROKER>_REAL_WS_URL / _MOCK_WS_URL
    print(f"fake {args.broker} websocket on {websocket.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        websocket.stop()
        server.stop()


if __name__ == "__main__":
    main()
