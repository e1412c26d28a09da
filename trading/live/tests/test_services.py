"""Deployment services: the go-live rules a user meets (capital, plan limits, real money, one owner
per symbol), each state change audited, another user's deployment out of reach."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.audit import Actor
from core.errors import ApplicationError, NotFound, PermissionDenied
from core.models import AuditEntry
from coupons.tests.helpers import free_limits
from strategies.tests.factories import StrategyFactory
from trading.live import selectors, services
from trading.live.models import DeploymentState, SymbolClaim
from trading.models import BrokerAccount
from trading.services import broker_account_open_paper

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(db):
    free_limits(max_running_deployments=3, max_real_deployments=1, max_symbols_per_deployment=5)


def paper(user, cash=10_000_000):
    return broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname="모의", cash=cash)


def real_account(user, equity="50000000"):
    return BrokerAccount.objects.create(owner=user, broker="kis", environment="real", account_no="5012345601",
                                        nickname="실전", status="active",
                                        balance_snapshot={"total_evaluation": equity, "positions": []})


def create(user, account, **kwargs):
    strategy = kwargs.pop("strategy", None) or StrategyFactory(owner=user)
    values = {"name": "", "capital": Decimal(5_000_000)} | kwargs
    return services.deployment_create(actor=Actor.of_user(user), strategy=strategy, account=account, **values)


def test_a_draft_takes_the_strategy_universe_and_starting_snapshots_and_claims(user):
    account = paper(user)
    deployment = create(user, account)
    assert deployment.state == DeploymentState.DRAFT and deployment.symbols == ["000660", "005930"]
    assert not SymbolClaim.objects.exists()
    started = services.deployment_start(actor=Actor.of_user(user), deployment=deployment)
    assert started.state == DeploymentState.RUNNING and started.params == {"fast": 10, "slow": 30}
    assert started.risk["sizing"] == "equal_weight"
    assert set(SymbolClaim.objects.filter(deployment=started).values_list("symbol", flat=True)) == {"000660",
                                                                                                    "005930"}
    assert list(AuditEntry.objects.filter(object_type="trading.deployment", object_id=str(started.pk)).values_list("action", flat=True).order_by(
        "id")) == ["deployment.create", "deployment.start"]


def test_capital_beyond_the_accounts_equity_is_refused_on_the_capital_field(user):
    account = paper(user, cash=10_000_000)
    services.deployment_start(actor=Actor.of_user(user), deployment=create(user, account, capital=Decimal(6_000_000)))
    with pytest.raises(ApplicationError) as refused:
        create(user, account, capital=Decimal(5_000_000))
    assert refused.value.field == "capital" and "4,000,000" in refused.value.message


def test_a_second_deployment_on_the_same_symbol_is_blocked_with_the_first_ones_name(user):
    account = paper(user)
    first = services.deployment_start(actor=Actor.of_user(user),
                                      deployment=create(user, account, name="첫째", capital=Decimal(3_000_000)))
    second = services.deployment_start(actor=Actor.of_user(user), deployment=create(
        user, account, name="둘째", capital=Decimal(3_000_000), strategy=StrategyFactory(owner=user,
                                                                                         codes=["005930", "005380"])))
    blocked = services.claims_blocked(second)
    assert list(blocked) == ["005930"] and "첫째" in blocked["005930"]
    assert SymbolClaim.objects.get(symbol="005930").deployment == first
    assert SymbolClaim.objects.get(symbol="005380").deployment == second


def test_real_money_needs_the_explicit_confirmation_and_its_plan_slot(user):
    account = real_account(user)
    deployment = create(user, account)
    assert deployment.real_money
    with pytest.raises(ApplicationError) as refused:
        services.deployment_start(actor=Actor.of_user(user), deployment=deployment)
    assert refused.value.code == "real_money_unconfirmed"
    started = services.deployment_start(actor=Actor.of_user(user), deployment=deployment, confirm_real=True)
    assert started.confirmed_real_at is not None
    another = create(user, account, name="또 하나", capital=Decimal(1_000_000),
                     strategy=StrategyFactory(owner=user, codes=["035420"]))
    with pytest.raises(ApplicationError) as limited:
        services.deployment_start(actor=Actor.of_user(user), deployment=another, confirm_real=True)
    assert limited.value.code == "plan_limit"


def test_real_money_with_2fa_on_is_confirmed_only_where_the_second_factor_can_be_asked(user):
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    deployment = create(user, real_account(user))
    with pytest.raises(PermissionDenied):
        services.deployment_start(actor=Actor.of_user(user, door="api"), deployment=deployment, confirm_real=True)
    assert selectors.deployment_get(user=user, pk=deployment.pk).state == DeploymentState.DRAFT


def test_pause_resume_stop_and_another_users_reach(user, other_user):
    deployment = services.deployment_start(actor=Actor.of_user(user), deployment=create(user, paper(user)))
    with pytest.raises(NotFound):
        services.deployment_pause(actor=Actor.of_user(other_user), deployment=deployment)
    with pytest.raises(NotFound):
        selectors.deployment_get(user=other_user, pk=deployment.pk)
    paused = services.deployment_pause(actor=Actor.of_user(user), deployment=deployment, reason="휴가")
    assert paused.state == DeploymentState.PAUSED
    with pytest.raises(ApplicationError):
        services.deployment_pause(actor=Actor.of_user(user), deployment=paused)
    resumed = services.deployment_resume(actor=Actor.of_user(user), deployment=paused)
    stopped = services.deployment_stop(actor=Actor.of_user(user), deployment=resumed)
    assert stopped.state == DeploymentState.STOPPED and not SymbolClaim.objects.exists()  # nothing held
    actions = list(AuditEntry.objects.filter(object_type="trading.deployment", object_id=str(deployment.pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions[-3:] == ["deployment.pause", "deployment.resume", "deployment.stop"]


def test_bad_input_is_named_on_its_field(user):
    account = paper(user)
    for kwargs, field in [({"symbols": ["999999"]}, "symbols"), ({"symbols": []}, "symbols"),
                          ({"timing": "interval"}, "interval_minutes"), ({"capital": Decimal(0)}, "capital"),
                          ({"symbols": ["005930", "000660", "005380", "035420", "035720", "068270"]}, "symbols")]:
        with pytest.raises(ApplicationError) as refused:
            create(user, account, **kwargs)
        assert refused.value.field == field or refused.value.code == "plan_limit", kwargs


def test_the_days_summary_leaves_a_replay_to_write_its_own_replayed_days(user):
    import datetime as dt

    from trading.live.models import DeploymentDay
    from trading.live.summary import day_summaries

    account = paper(user)
    live = services.deployment_start(actor=Actor.of_user(user), deployment=create(user, account, name="live",
                                                                                  capital=Decimal(3_000_000)))
    replayed = create(user, paper(user), name="replay", replay=True, capital=Decimal(3_000_000),
                      strategy=StrategyFactory(owner=user, codes=["035420"]))
    replayed.state = DeploymentState.RUNNING
    replayed.save(update_fields=["state"])
    day_summaries(day=dt.date(2026, 12, 4))
    assert list(DeploymentDay.objects.values_list("deployment__name", flat=True)) == [live.name]


def test_a_replay_not_yet_played_reports_no_drift(user):
    import datetime as dt

    from trading.live.drift import drift_report

    replay = create(user, paper(user), replay=True, replay_start=dt.date(2026, 1, 5), replay_end=dt.date(2026, 1, 30))
    report = drift_report(replay)
    assert report.start is None and not report.days and "not run yet" in str(report.note)


def test_a_replays_paper_account_is_its_own(user):
    import datetime as dt

    from trading.live.forms import StrategyStepForm

    replay_account = paper(user)
    create(user, replay_account, name="replay", replay=True, replay_start=dt.date(2026, 1, 5))
    with pytest.raises(ApplicationError) as refused:
        create(user, replay_account, name="live")
    assert refused.value.field == "account" and refused.value.code == "replay_account"
    other = paper(user)
    create(user, other, name="live")
    with pytest.raises(ApplicationError):
        create(user, other, name="replay 2", replay=True, replay_start=dt.date(2026, 1, 5))
    assert [account.pk for account in StrategyStepForm(user=user).accounts] == [other.pk]


def test_an_account_that_lost_value_shrinks_its_buckets_in_proportion_and_the_guard_respects_it(user, client):
    import datetime as dt
    from types import SimpleNamespace

    from trading.live.guarding import guard_buckets
    from trading.live.summary import day_summaries
    from trading.paper.models import PaperBook

    account = paper(user, cash=10_000_000)
    first = services.deployment_start(actor=Actor.of_user(user), deployment=create(user, account, name="a"))
    second = services.deployment_start(actor=Actor.of_user(user), deployment=create(
        user, account, name="b", strategy=StrategyFactory(owner=user, codes=["035420"])))
    PaperBook.objects.filter(account=account).update(cash=Decimal(6_000_000))  # money left the account

    day_summaries(day=dt.date(2026, 12, 4))

    first.refresh_from_db(), second.refresh_from_db()
    assert (first.capital_limit, second.capital_limit) == (Decimal(3_000_000), Decimal(3_000_000))
    buy = SimpleNamespace(deployment_id=first.pk, side="buy", symbol="005930", price=70_000.0, quantity=60.0)
    assert guard_buckets([buy], 0.00015)[first.pk].allotment == Decimal(3_000_000)
    assert AuditEntry.objects.filter(action="deployment.capital_limit", object_id=str(first.pk)).exists()
    client.force_login(user)
    page = client.get(f"/trading/deployments/{first.pk}/").content.decode()
    assert 'data-testid="capital-limit"' in page and "3,000,000" in page and "the account lost value" in page

    PaperBook.objects.filter(account=account).update(cash=Decimal(10_000_000))
    day_summaries(day=dt.date(2026, 12, 7))
    first.refresh_from_db()
    assert first.capital_limit is None
    assert guard_buckets([buy], 0.00015)[first.pk].allotment == Decimal(5_000_000)
