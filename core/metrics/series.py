"""Every metric the platform's processes record (one module, so names never drift).

Names start with ``quantk_``. Gauges that processes add up (websocket connections) use the
``livesum`` multi-process mode: a dead process's sockets stop counting once it is marked dead.
What the database knows (orders by state, unknown orders, reconciliation) and the queue depth are
not recorded here: ``core.metrics.collectors`` reads them at scrape time.
"""

from __future__ import annotations

from core.metrics.setup import multiproc_dir

multiproc_dir()  # the multi-process directory, before prometheus_client loads (core.metrics does it too)

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402

# request latencies: 2 s is the plans' p95 threshold, so it is a bucket bound
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0)
ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

# -- HTTP (core.metrics.middleware) --------------------------------------------------------------
http_requests = Counter("quantk_http_requests", "HTTP requests answered, by view, method and status.",
                        ["view", "method", "status"])
http_latency = Histogram("quantk_http_request_duration_seconds", "Server time of a request, by view.",
                         ["view"], buckets=LATENCY_BUCKETS)
http_errors = Counter("quantk_http_errors", "HTTP answers with a 5xx status, by view.", ["view"])

# -- Celery (core.metrics.tasks) -----------------------------------------------------------------
task_duration = Histogram("quantk_celery_task_duration_seconds", "Run time of a Celery task, by task.",
                          ["task"], buckets=TASK_BUCKETS)
task_runs = Counter("quantk_celery_tasks", "Celery tasks finished, by task and outcome (success, failure, retry).",
                    ["task", "outcome"])
task_failures = Counter("quantk_celery_task_failures", "Celery tasks that raised, by task.", ["task"])
backtest_duration = Histogram("quantk_backtest_duration_seconds", "Run time of a backtest, by final status.",
                              ["status"], buckets=TASK_BUCKETS)

# -- websockets (core/consumers.py, trading/realtime/consumers.py) -------------------------------
websockets = Gauge("quantk_websocket_connections", "Open websocket connections, by consumer.", ["consumer"],
                   multiprocess_mode="livesum")

# -- orders and brokers ---------------------------------------------------------------------------
order_ack_latency = Histogram("quantk_order_ack_latency_seconds",
                              "From sending an order to the broker's acknowledgement.", buckets=ACK_BUCKETS)
broker_requests = Counter("quantk_broker_requests", "Requests to a broker's REST API, by broker and outcome "
                          "(ok, refused, rate_limited, token_refused, error, unreachable).", ["broker", "outcome"])
broker_tokens = Counter("quantk_broker_token_issuances", "Access tokens issued by a broker, by broker.", ["broker"])


# -- hooks (one line at each call site) ------------------------------------------------------------
def broker_request(broker: object, outcome: str) -> None:
    broker_requests.labels(broker=str(broker), outcome=outcome).inc()


def broker_token_issued(broker: object) -> None:
    broker_tokens.labels(broker=str(broker)).inc()


def order_acknowledged(submitted_at, now) -> None:
    """An order's acknowledgement arrived at ``now``; it was sent at ``submitted_at`` (may be None)."""
    if submitted_at is not None:
        order_ack_latency.observe(max((now - submitted_at).total_seconds(), 0.0))


def websocket_opened(consumer: str) -> None:
    websockets.labels(consumer=consumer).inc()


def websocket_closed(consumer: str) -> None:
    websockets.labels(consumer=consumer).dec()


# Known label values start at 0 in every process, so rate() and the dashboard have series before
# the first event (a broker's first error is then an increase, not a new series).
BROKERS = ("kis", "kiwoom", "paper")
BROKER_OUTCOMES = ("ok", "refused", "rate_limited", "token_refused", "error", "unreachable")
for _broker in BROKERS:
    broker_tokens.labels(broker=_broker)
    for _outcome in BROKER_OUTCOMES:
        broker_requests.labels(broker=_broker, outcome=_outcome)
for _consumer in ("user", "prices"):
    websockets.labels(consumer=_consumer)
