"""Orders through real Celery worker processes that die, and a task broker that loses its queue.

Full stack only (PostgreSQL + Redis): each test starts ``celery -A config worker --pool solo``
processes on this test's database and Redis, against the fake KIS served by the test process. The
fake holds a request where a worker must be caught (``FakeServer.hold_next``): its token request
(the order is claimed, nothing sent yet) or its order request after the broker carried it out (the
answer not yet read); then the worker is killed with SIGKILL. A second worker and reconciliation
must leave every intent accepted (one broker order) or not placed (none), in the fake's journal.

Every process reads one trading clock (``core.clock``'s ``CLOCK_FILE``), pinned to a Wednesday
morning session; the test moves it past a short submit lease instead of waiting for it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core import clock
from trading.models import BrokerAccount
from trading.orders import reconcile, tasks
from trading.orders.models import Fill, Order, Position
from trading.orders.states import UNRESOLVED

from .conftest import ACCOUNT, ACCOUNT_DIGITS, KEY, MORNING, ORDER_PATH, SECRET, FaultyKis, new_order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fullstack,
    pytest.mark.skipif(django_settings.CELERY_EMBEDDED,
                       reason="needs a task broker shared with worker processes (full stack)"),
]

ROOT = Path(__file__).resolve().parents[3]
TOKEN_PATH = "/oauth2/tokenP"
SYMBOL = "005930"
PRICE = 70_000
# short enough to move past, longer than one request (trading.checks): connect 1 + read 5 + 2 < 12
LEASE = 12.0
TIMING = {
    "BROKER_HTTP_CONNECT_TIMEOUT": 1.0, "BROKER_HTTP_READ_TIMEOUT": 5.0, "ORDER_SUBMIT_LEASE_SECONDS": LEASE,
    "ORDER_RECONCILE_FOLLOW_UP_SECONDS": 1.0, "ORDER_NOT_PLACED_AFTER_SECONDS": 2.0, "ORDER_NOT_PLACED_MISSES": 3,
    "BROKER_KIS_MOCK_REQUESTS_PER_SECOND": 40,
}
UNSETTLED = {"new", *UNRESOLVED}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    from tests.e2e.conftest import _database_url as url

    return url(connection.settings_dict)


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, logs: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s\n{logs()}"
        time.sleep(0.05)


# -- worker processes ---------------------------------------------------------------------------
@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        try:
            return f"----- worker {self.name} (exit {self.process.poll()}) -----\n" + \
                self.log.read_text(errors="replace")[-6000:]
        except OSError:
            return f"----- worker {self.name}: no log -----"

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost host does: no clean-up of any kind."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def results(self, task: str) -> list[str]:
        """What each finished run of ``task`` returned, as this worker logged it."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line.rsplit(": ", 1)[-1] for line in lines if f"Task {task}[" in line and " succeeded in " in line]


@dataclass
class Stack:
    fake: FaultyKis
    account: BrokerAccount
    env: dict[str, str]
    logs_dir: Path
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, name: str, **env: str) -> Worker:
        log = self.logs_dir / f"worker-{name}.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "INFO",
                 "--without-heartbeat", "--without-gossip", "--without-mingle",
                 "--hostname", f"faults-{name}-{uuid.uuid4().hex[:6]}@%h"],
                cwd=ROOT, env={**self.env, **env}, stdout=handle, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        worker = Worker(name, process, log)
        self.workers.append(worker)
        wait_for(lambda: process.poll() is not None or b" ready." in log.read_bytes(), timeout=40,
                 what=f"worker {name} ready", logs=worker.output)
        assert process.poll() is None, worker.output()
        return worker

    def logs(self) -> str:
        return "\n".join(w.output() for w in self.workers)

    def issue_token(self) -> None:
        """The account's token, issued once and shared with every worker (as after a day's first
        order): a worker killed while issuing it would hold the issuance lock for its 30 s."""
        from trading import connections

        connections.broker_client(self.account).ensure_token()

    def later(self, seconds: float) -> None:
        """Move the trading clock of every process, and the fake broker's, ``seconds`` ahead."""
        clock.set_to(clock.now() + dt.timedelta(seconds=seconds))
        self.fake.advance(seconds)

    def orders(self, quantities: list[int]) -> list[Order]:
        """One market buy per quantity (the quantity names the intent in the broker's journal); each
        job goes to the task broker on commit."""
        return [new_order(self.account, quantity=q, price=None) for q in quantities]

    def settle(self, orders: list[Order], *, timeout: float = 30) -> None:
        ids = [o.pk for o in orders]
        wait_for(lambda: not Order.objects.filter(pk__in=ids, state__in=UNSETTLED).exists(), timeout=timeout,
                 what="every order accepted or settled",
                 logs=lambda: f"{list(Order.objects.filter(pk__in=ids).values_list('quantity', 'state'))}\n"
                              f"{self.logs()}")


@pytest.fixture
def stack(settings, user, tmp_path, monkeypatch) -> Iterator[Stack]:
    """alice's KIS mock account (10,000,000 KRW, no shares) on a fake KIS; the trading clock pinned
    to Wednesday 10:00 in every process; worker processes start with ``stack.start_worker``."""
    from django.core.cache import caches

    clock_file = tmp_path / "clock.json"
    monkeypatch.setenv("CLOCK_FILE", str(clock_file))
    clock.set_to(MORNING)
    fake = FaultyKis(rate_limits={"mock": 50, "real": 50})
    fake.add_account(KEY, SECRET, ACCOUNT, hts_id="alicehts", environment="mock", cash=10_000_000)
    fake.set_price(SYMBOL, PRICE, prev_close=69_000, name="삼성전자")
    fake.advance(MORNING.timestamp() - time.time())
    fake.start()
    for name, value in TIMING.items():
        setattr(settings, name, value)
    settings.BROKER_KIS_MOCK_URL = settings.BROKER_KIS_REAL_URL = fake.url
    caches["brokers"].clear()
    account = BrokerAccount(owner=user, broker="kis", environment="mock", account_no=ACCOUNT_DIGITS,
                            hts_id="alicehts", nickname="KIS 모의", status="verified")
    account.set_keys(app_key=KEY, app_secret=SECRET)
    account.save()
    env = {**os.environ, "DATABASE_URL": _database_url(), "CLOCK_FILE": str(clock_file),
           "BROKER_KIS_MOCK_URL": fake.url, "BROKER_KIS_REAL_URL": fake.url, "PYTHONUNBUFFERED": "1",
           **{name: str(value) for name, value in TIMING.items()}}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    world = Stack(fake, account, env, tmp_path)
    try:
        yield world
    finally:
        for worker in world.workers:
            worker.stop()
        fake.stop()
        caches["brokers"].clear()
        clock.reset()


def assert_one_broker_order_per_intent(world: Stack, orders: list[Order]) -> None:
    """Reconcile once more, then: every accepted intent is exactly one order in the fake's journal
    (its number ours), every not-placed one none; fills counted once; positions equal the broker's."""
    summary = reconcile.account_reconcile(account=world.account)
    assert not summary.error, summary.error
    journal = {o.quantity: o for o in world.fake.placed()}
    assert len(journal) == len(world.fake.placed()), [o.quantity for o in world.fake.placed()]
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        placed = journal.get(order.quantity)
        if order.state == "not_placed":
            assert placed is None, f"{order.quantity} shares: settled not placed, yet at the broker"
            continue
        assert placed is not None, f"{order.quantity} shares: {order.state}, yet not at the broker"
        assert (order.state, order.broker_order_no, order.filled_quantity) == ("filled", placed.odno, placed.filled)
    assert not Order.objects.filter(external=True).exists()
    held = world.fake.book.accounts[KEY].positions.get(SYMBOL, [Decimal(0)])[0]
    position = Position.objects.filter(account=world.account, symbol=SYMBOL).first()
    counted = sum(Fill.objects.filter(account=world.account).values_list("quantity", flat=True))
    assert counted == held == (position.quantity if position else 0)
    assert position is None or (position.opening_quantity, position.mismatch) == (0, False)
    assert world.fake.token_issuances(KEY) == 1


# -- the tests ----------------------------------------------------------------------------------
def test_a_worker_killed_after_claiming_before_sending_leaves_the_order_not_placed(stack):
    stack.issue_token()
    first = stack.start_worker("first")
    sending = stack.fake.hold_next(ORDER_PATH)  # the first job's order, before KIS sees it
    orders = stack.orders([1, 2, 3])
    assert sending.wait_arrived(20), stack.logs()
    [claimed] = Order.objects.filter(state="submitting")
    first.kill()
    sending.release(drop=True)  # the request dies with the worker: KIS never saw it
    assert stack.fake.placed() == []
    stack.later(LEASE + 1)  # nobody will answer for the claimed order

    stack.start_worker("second")  # sends the jobs still queued; its start-up reconciliation settles
    stack.settle(orders)

    claimed.refresh_from_db()
    assert claimed.state == "not_placed" and len(stack.fake.placed()) == 2
    assert list(claimed.events.values_list("to_state", flat=True)) == ["new", "submitting", "unknown", "not_placed"]
    assert_one_broker_order_per_intent(stack, orders)


def test_a_worker_killed_after_sending_before_saving_the_answer_leaves_the_order_found(stack):
    first = stack.start_worker("first")
    answer = stack.fake.hold_next(ORDER_PATH, carried_out=True)  # KIS took the order; the answer waits
    orders = stack.orders([1, 2, 3, 4])
    assert answer.wait_arrived(20), stack.logs()
    [sent] = Order.objects.filter(state="submitting")
    first.kill()
    answer.release(drop=True)
    [placed] = stack.fake.placed()
    assert placed.quantity == sent.quantity
    stack.later(LEASE + 1)

    stack.start_worker("second")
    stack.settle(orders)

    sent.refresh_from_db()
    assert (sent.state, sent.broker_order_no) in {("accepted", placed.odno), ("filled", placed.odno)}
    assert sent.events.filter(code="found").exists() and stack.fake.count(ORDER_PATH) == 4
    assert_one_broker_order_per_intent(stack, orders)


def test_the_same_job_on_two_worker_processes_at_once_sends_once(stack):
    workers = [stack.start_worker("one"), stack.start_worker("two")]
    sending = stack.fake.hold_next(ORDER_PATH)  # the job that claimed it is sending...
    [order] = stack.orders([5])
    assert sending.wait_arrived(20), stack.logs()
    tasks.order_submit.delay(order.pk)  # ...while the same job is delivered again, twice
    tasks.order_submit.delay(order.pk)
    wait_for(lambda: sum(len(w.results("trading.orders.submit")) for w in workers) == 2, timeout=20,
             what="the duplicates ran on the other worker", logs=stack.logs)
    assert [r for w in workers for r in w.results("trading.orders.submit")] == ["None", "None"]
    sending.release()
    stack.settle([order])

    assert stack.fake.count(ORDER_PATH) == 1
    assert_one_broker_order_per_intent(stack, [order])


# -- the task broker restarted ---------------------------------------------------------------------
@dataclass
class PrivateRedis:
    """A Redis of this test only, without persistence: killed, it comes back empty."""

    port: int
    logs_dir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=open(self.logs_dir / f"redis-{self.port}.log", "ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: self.queued() is not None, timeout=10, what="private redis answers")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def queued(self, queue: str = "celery") -> int | None:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=1).llen(queue)
        except redis.ConnectionError:
            return None


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(_free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """This process's Celery app publishes to ``url`` for the block (its pools rebuilt)."""
    from config.celery_app import app

    def switch(to: str) -> None:
        app.conf.broker_url = to
        app._pool = None
        app.amqp._producer_pool = None

    before = app.conf.broker_url
    switch(url)
    try:
        yield
    finally:
        switch(before)


def test_jobs_lost_with_a_restarted_task_broker_are_sent_once_by_the_relay(stack, private_redis, settings):
    with celery_broker(private_redis.url):
        stack.start_worker("only", CELERY_BROKER_URL=private_redis.url)
        busy = stack.fake.hold_next(ORDER_PATH)  # the worker is busy with the first order...
        orders = stack.orders([1, 2, 3, 4])
        assert busy.wait_arrived(20), stack.logs()
        wait_for(lambda: private_redis.queued() == 3, timeout=10, what="three jobs queued")
        private_redis.kill()  # ...when the task broker dies with three jobs queued
        private_redis.start()
        assert private_redis.queued() == 0
        busy.release()
        first = next(o for o in orders if Order.objects.get(pk=o.pk).state != "new")
        stack.settle([first])
        assert set(Order.objects.exclude(pk=first.pk).values_list("state", flat=True)) == {"new"}

        settings.ORDER_RELAY_AFTER_SECONDS = 0  # the beat's relay, its few seconds already past
        assert tasks.orders_relay.run()["submit"] == 3
        stack.settle(orders)
        assert not any(tasks.orders_relay.run().values())

    assert stack.fake.count(ORDER_PATH) == 4
    assert_one_broker_order_per_intent(stack, orders)
