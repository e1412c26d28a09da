"""The bot's commands from a linked chat, answered in the fake Bot API's recorded messages, acting
through the same services as the pages (audited with the Telegram door), each user's own data only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core import clock
from core.audit import Actor
from core.models import AuditEntry
from coupons.tests.helpers import free_limits
from marketdata.calendars import SEOUL
from notifications.models.telegram import TelegramPendingAction
from notifications.tests.tgbot_support import (
    ALICE_CHAT,
    BOB_CHAT,
    STRANGER_CHAT,
    _english,
    buttons,
    english,
    fake_telegram,
    link,
    press,
    say,
)
from strategies.tests.factories import StrategyFactory
from trading.live import services
from trading.live.models import DeploymentDay, DeploymentState
from trading.models import BrokerAccount
from trading.orders.models import KillSwitch, Order, Position
from trading.services import broker_account_open_paper

pytestmark = pytest.mark.django_db
FIXTURES = (_english, fake_telegram)  # pytest finds the fixtures by these names


@pytest.fixture(autouse=True)
def _limits(db):
    free_limits(max_running_deployments=5, max_real_deployments=1, max_symbols_per_deployment=5)


@pytest.fixture
def alice(user, fake_telegram):
    link(english(user), ALICE_CHAT, "alice_tg")
    return user


@pytest.fixture
def bob(other_user, fake_telegram):
    link(english(other_user), BOB_CHAT, "bob_tg")
    return other_user


def paper(user, nickname="모의", cash=20_000_000):
    return broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname=nickname, cash=cash)


def running(user, account, name, codes=("005930",), capital=5_000_000):
    strategy = StrategyFactory(owner=user, codes=list(codes))
    deployment = services.deployment_create(actor=Actor.of_user(user), strategy=strategy, account=account, name=name,
                                            capital=Decimal(capital))
    return services.deployment_start(actor=Actor.of_user(user), deployment=deployment, confirm_real=True)


def state_of(deployment) -> str:
    deployment.refresh_from_db()
    return deployment.state


def confirm_data(fake, chat_id) -> str:
    return next(data for _text, data in buttons(fake, chat_id) if data.startswith("c:"))


# -- who may ask -------------------------------------------------------------------------------------
def test_a_chat_not_linked_gets_no_data(alice, fake_telegram):
    running(alice, paper(alice), "알파 자동매매")
    for command in ("/status", "/positions", "/pnl", "/orders", "/pause all", "/kill", "hello"):
        [answer] = say(fake_telegram, STRANGER_CHAT, command)
        assert answer.startswith("Link your account first") and "알파" not in answer
    assert not TelegramPendingAction.objects.exists()


def test_bobs_chat_never_sees_alices_data(alice, bob, fake_telegram):
    account = paper(alice, nickname="앨리스 계좌")
    deployment = running(alice, account, "알파 자동매매")
    Position.objects.create(account=account, symbol="005930", quantity=Decimal(10), cost=Decimal(700_000))
    Order.objects.create(owner=alice, account=account, symbol="000660", side="buy", quantity=3,
                         price=Decimal(150_000), state="accepted")
    for command in ("/status", "/positions", "/pnl", "/orders"):
        [answer] = say(fake_telegram, BOB_CHAT, command)
        assert "알파" not in answer and "앨리스" not in answer and "005930" not in answer and "000660" not in answer
    [answer] = say(fake_telegram, BOB_CHAT, f"/pause {deployment.pk}")
    assert answer == f"No such deployment: {deployment.pk}." and buttons(fake_telegram, BOB_CHAT) == []
    assert state_of(deployment) == DeploymentState.RUNNING
    for junk in ("99999999999999999999999", "-1", "abc"):
        assert say(fake_telegram, BOB_CHAT, f"/pause {junk}") == [f"No such deployment: {junk[:20]}."]


# -- reads -----------------------------------------------------------------------------------------
def test_status_lists_the_deployments_and_the_accounts(alice, fake_telegram):
    account = paper(alice, nickname="앨리스 계좌")
    deployment = running(alice, account, "알파 자동매매")
    [answer] = say(fake_telegram, ALICE_CHAT, "/status")
    assert f"#{deployment.pk} 알파 자동매매: Running (Paper)" in answer
    assert "앨리스 계좌: Paper (virtual money), Verified" in answer
    assert "Kill switch ON" not in answer


def test_positions_lists_what_is_held(alice, fake_telegram):
    account = paper(alice, nickname="앨리스 계좌")
    Position.objects.create(account=account, symbol="005930", quantity=Decimal(10), cost=Decimal(700_000))
    Position.objects.create(account=account, symbol="000660", quantity=Decimal(0), cost=Decimal(0))
    [answer] = say(fake_telegram, ALICE_CHAT, "/positions")
    assert "005930" in answer and "10 shares, average 70,000 KRW (앨리스 계좌)" in answer
    assert "000660" not in answer


def test_orders_lists_the_open_ones_only(alice, fake_telegram):
    account = paper(alice)
    open_order = Order.objects.create(owner=alice, account=account, symbol="005930", side="buy", quantity=3,
                                      price=Decimal(70_000), state="accepted")
    Order.objects.create(owner=alice, account=account, symbol="000660", side="sell", quantity=1,
                         price=Decimal(150_000), state="filled", filled_quantity=1)
    [answer] = say(fake_telegram, ALICE_CHAT, "/orders")
    assert f"#{open_order.pk}" in answer and "005930" in answer and "70,000 KRW" in answer
    assert "000660" not in answer


def test_pnl_shows_today_and_this_week_in_krw(alice, fake_telegram):
    deployment = running(alice, paper(alice), "알파 자동매매", capital=5_000_000)
    # Wednesday: last week closed 200,000 below the capital, yesterday 50,000 above it; nothing held now
    DeploymentDay.objects.create(deployment=deployment, day=dt.date(2026, 11, 27), equity=Decimal(4_800_000),
                                 cash=Decimal(4_800_000), invested=0, pnl=0)
    DeploymentDay.objects.create(deployment=deployment, day=dt.date(2026, 12, 1), equity=Decimal(5_050_000),
                                 cash=Decimal(5_050_000), invested=0, pnl=0)
    with clock.travel(dt.datetime(2026, 12, 2, 15, 0, tzinfo=SEOUL)):
        [answer] = say(fake_telegram, ALICE_CHAT, "/pnl")
    assert f"#{deployment.pk} 알파 자동매매: -50,000 / +200,000" in answer
    assert "Total: -50,000 / +200,000" in answer


# -- actions ---------------------------------------------------------------------------------------
def test_pause_all_pauses_only_after_the_confirmation_button(alice, bob, fake_telegram):
    account = paper(alice)
    first = running(alice, account, "하나", codes=("005930",))
    second = running(alice, account, "둘", codes=("000660",))
    bobs = running(bob, paper(bob), "밥의 것")
    [question] = say(fake_telegram, ALICE_CHAT, "/pause all")
    assert "Pause all your running deployments?" in question
    assert (state_of(first), state_of(second)) == ("running", "running")
    data = confirm_data(fake_telegram, ALICE_CHAT)
    [done] = press(fake_telegram, ALICE_CHAT, data)
    assert done == "Paused 2 deployment(s)."
    assert (state_of(first), state_of(second), state_of(bobs)) == ("paused", "paused", "running")
    rows = AuditEntry.objects.filter(action="deployment.pause")
    assert sorted(rows.values_list("object_id", flat=True)) == sorted([str(first.pk), str(second.pk)])
    assert set(rows.values_list("door", "actor")) == {("telegram", alice.pk)}
    assert fake_telegram.callback_answers[-1]["text"] == "Paused 2 deployment(s)."
    # the same button again does nothing
    services.deployment_resume(actor=Actor.of_user(alice), deployment=first)
    [again] = press(fake_telegram, ALICE_CHAT, data)
    assert "expired or was already used" in again and state_of(first) == "running"


def test_pause_of_one_deployment_by_id(alice, fake_telegram):
    account = paper(alice)
    first = running(alice, account, "하나", codes=("005930",))
    second = running(alice, account, "둘", codes=("000660",))
    [question] = say(fake_telegram, ALICE_CHAT, "/pause")
    assert "Which one?" in question and f"#{first.pk} 하나" in question
    say(fake_telegram, ALICE_CHAT, f"/pause {second.pk}")
    [done] = press(fake_telegram, ALICE_CHAT, confirm_data(fake_telegram, ALICE_CHAT))
    assert done == f"Paused #{second.pk} 둘." and (state_of(first), state_of(second)) == ("running", "paused")


def test_a_stale_or_cancelled_confirmation_does_nothing(alice, fake_telegram):
    deployment = running(alice, paper(alice), "하나")
    say(fake_telegram, ALICE_CHAT, "/pause all")
    TelegramPendingAction.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    [stale] = press(fake_telegram, ALICE_CHAT, confirm_data(fake_telegram, ALICE_CHAT))
    assert "expired or was already used" in stale and state_of(deployment) == "running"
    say(fake_telegram, ALICE_CHAT, "/pause all")
    cancel = next(data for _text, data in buttons(fake_telegram, ALICE_CHAT) if data.startswith("x:"))
    [cancelled] = press(fake_telegram, ALICE_CHAT, cancel)
    assert cancelled == "Cancelled: nothing was changed."
    [after] = press(fake_telegram, ALICE_CHAT, "c:" + cancel[2:])
    assert "expired or was already used" in after and state_of(deployment) == "running"
    assert not AuditEntry.objects.filter(action="deployment.pause").exists()


def test_another_chat_cannot_press_alices_button(alice, bob, fake_telegram):
    deployment = running(alice, paper(alice), "하나")
    say(fake_telegram, ALICE_CHAT, "/pause all")
    data = confirm_data(fake_telegram, ALICE_CHAT)
    [refused] = press(fake_telegram, BOB_CHAT, data)
    assert "expired or was already used" in refused and state_of(deployment) == "running"
    press(fake_telegram, STRANGER_CHAT, data)
    assert state_of(deployment) == "running"
    assert fake_telegram.texts(STRANGER_CHAT) == []  # a button from nowhere is only answered, not replied to


def test_resume_after_confirmation(alice, fake_telegram):
    deployment = running(alice, paper(alice), "하나")
    services.deployment_pause(actor=Actor.of_user(alice), deployment=deployment)
    [question] = say(fake_telegram, ALICE_CHAT, f"/resume {deployment.pk}")
    assert f"Resume #{deployment.pk} 하나?" in question and state_of(deployment) == "paused"
    [done] = press(fake_telegram, ALICE_CHAT, confirm_data(fake_telegram, ALICE_CHAT))
    assert done == f"Resumed #{deployment.pk} 하나." and state_of(deployment) == "running"
    assert AuditEntry.objects.get(action="deployment.resume").door == "telegram"


def test_resuming_real_money_with_2fa_is_refused_with_the_web_link(alice, fake_telegram, settings):
    from allauth.mfa.models import Authenticator

    settings.SITE_URL = "https://quantk.example"
    account = BrokerAccount.objects.create(owner=alice, broker="kis", environment="real", account_no="5012345601",
                                           nickname="실전", status="active",
                                           balance_snapshot={"total_evaluation": "50000000", "positions": []})
    deployment = running(alice, account, "실전 자동매매")
    services.deployment_pause(actor=Actor.of_user(alice), deployment=deployment)
    Authenticator.objects.create(user=alice, type=Authenticator.Type.TOTP, data={"secret": "x"})
    for command in (f"/resume {deployment.pk}", "/resume"):
        [answer] = say(fake_telegram, ALICE_CHAT, command)
        assert f"https://quantk.example/trading/deployments/{deployment.pk}/" in answer and "2FA" in answer
    assert buttons(fake_telegram, ALICE_CHAT) == []
    # "all" asks, but the button still leaves a real-money deployment to the web app
    say(fake_telegram, ALICE_CHAT, "/resume all")
    [answer] = press(fake_telegram, ALICE_CHAT, confirm_data(fake_telegram, ALICE_CHAT))
    assert f"https://quantk.example/trading/deployments/{deployment.pk}/" in answer
    assert state_of(deployment) == "paused" and not AuditEntry.objects.filter(action="deployment.resume").exists()


def test_kill_pulls_the_users_switch_only_after_confirmation(alice, bob, fake_telegram):
    [question] = say(fake_telegram, ALICE_CHAT, "/kill")
    assert "Pull your kill switch?" in question and not KillSwitch.objects.filter(on=True).exists()
    data = next(data for text, data in buttons(fake_telegram, ALICE_CHAT) if text == "Pull the kill switch")
    [done] = press(fake_telegram, ALICE_CHAT, data)
    assert done.startswith("Your kill switch is pulled")
    switch = KillSwitch.objects.get(on=True)
    assert (switch.scope, switch.user, switch.cancel_open_orders) == ("user", alice, False)
    audit = AuditEntry.objects.get(action="killswitch.pull")
    assert (audit.door, audit.actor, audit.owner) == ("telegram", alice, alice)
    assert not KillSwitch.objects.filter(user=bob).exists()
    [status] = say(fake_telegram, ALICE_CHAT, "/status")
    assert "Kill switch ON" in status


def test_kill_with_the_cancel_button_also_asks_to_cancel_the_open_orders(alice, fake_telegram):
    account = paper(alice)
    order = Order.objects.create(owner=alice, account=account, symbol="005930", side="buy", quantity=3,
                                 price=Decimal(70_000), state="accepted")
    say(fake_telegram, ALICE_CHAT, "/kill")
    [done] = press(fake_telegram, ALICE_CHAT, dict(buttons(fake_telegram, ALICE_CHAT))["Pull it and cancel open orders"])
    assert "The cancellation of your open orders was requested." in done
    assert KillSwitch.objects.get(on=True).cancel_open_orders is True
    order.refresh_from_db()
    assert order.state != "accepted" and order.cancel_requested_at is not None


def test_resuming_real_money_without_2fa_takes_the_button_as_the_confirmation(alice, fake_telegram):
    account = BrokerAccount.objects.create(owner=alice, broker="kis", environment="real", account_no="5012345601",
                                           nickname="실전", status="active",
                                           balance_snapshot={"total_evaluation": "50000000", "positions": []})
    deployment = running(alice, account, "실전 자동매매")
    services.deployment_pause(actor=Actor.of_user(alice), deployment=deployment)
    [question] = say(fake_telegram, ALICE_CHAT, f"/resume {deployment.pk}")
    assert "It trades real money: confirming places real orders." in question and state_of(deployment) == "paused"
    [done] = press(fake_telegram, ALICE_CHAT, confirm_data(fake_telegram, ALICE_CHAT))
    assert done == f"Resumed #{deployment.pk} 실전 자동매매." and state_of(deployment) == "running"


def test_kill_buttons_are_single_use_together(alice, fake_telegram):
    say(fake_telegram, ALICE_CHAT, "/kill")
    choices = dict(buttons(fake_telegram, ALICE_CHAT))
    press(fake_telegram, ALICE_CHAT, choices["Cancel"])
    [refused] = press(fake_telegram, ALICE_CHAT, choices["Pull it and cancel open orders"])
    assert "expired or was already used" in refused and not KillSwitch.objects.filter(on=True).exists()


def test_help_and_unknown_commands(alice, fake_telegram):
    [help_text] = say(fake_telegram, ALICE_CHAT, "/help")
    for command in ("/status", "/positions", "/pnl", "/orders", "/pause", "/resume", "/kill"):
        assert command in help_text
    [unknown] = say(fake_telegram, ALICE_CHAT, "/frobnicate")
    assert unknown == "Unknown command. Send /help for the list."


def test_answers_follow_the_users_language(alice, fake_telegram):
    running(alice, paper(alice), "하나")
    alice.language = "ko"
    alice.save(update_fields=["language"])
    [answer] = say(fake_telegram, ALICE_CHAT, "/status")  # sent while the test's language is English
    assert "실행 중" in answer and "Running" not in answer
