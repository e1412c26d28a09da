"""The scheduled tasks: the connection check runs on KRX trading days only (the trading clock), and
both tasks are on the beat schedule."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from core import clock
from trading import tasks

pytestmark = pytest.mark.django_db
SEOUL = ZoneInfo("Asia/Seoul")


def test_the_check_skips_a_krx_holiday_and_runs_on_a_trading_day(user, fake_kis):
    from core.audit import Actor
    from trading import services
    from trading.tests.conftest import ACCOUNT, KEY, SECRET

    services.broker_account_connect(actor=Actor.of_user(user), owner=user, broker="kis", environment="mock",
                                    account_no=ACCOUNT, app_key=KEY, app_secret=SECRET, nickname="a")
    with clock.travel(datetime(2025, 10, 6, 8, 0, tzinfo=SEOUL)):  # 추석 (Chuseok): closed
        assert tasks.check_broker_accounts() is None
    with clock.travel(datetime(2025, 10, 13, 8, 0, tzinfo=SEOUL)):  # a Monday of trading
        assert tasks.check_broker_accounts() == {"checked": 1, "failed": 0}


def test_the_tasks_are_scheduled():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"trading.tasks.check_broker_accounts", "trading.tasks.paper_match_open_orders"} <= scheduled
