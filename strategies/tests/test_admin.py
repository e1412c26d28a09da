"""The admin: strategies searchable and filterable by type and owner, saved through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from strategies.models import Strategy, Watchlist
from strategies.tests.factories import StrategyFactory, WatchlistFactory, sample_instruments

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:strategies_strategy_changelist"


@pytest.fixture
def strategies(user, other_user):
    sample_instruments()
    return [
        StrategyFactory(owner=user, name="앨리스 골든크로스"),
        StrategyFactory(owner=user, name="앨리스 RSI", strategy_type="rsi_reversion",
                        params={"period": 14, "buy_below": 30.0, "sell_above": 70.0}),  # fmt: skip
        StrategyFactory(owner=other_user, name="밥의 돌파", strategy_type="donchian_breakout",
                        params={"entry_period": 20, "exit_period": 10}),  # fmt: skip
    ]


def names(response) -> set[str]:
    return {strategy.name for strategy in response.context["cl"].result_list}


def test_search_by_name_and_owner_email(admin_client, strategies):
    assert names(admin_client.get(reverse(CHANGELIST), {"q": "골든"})) == {"앨리스 골든크로스"}
    assert names(admin_client.get(reverse(CHANGELIST), {"q": "bob@"})) == {"밥의 돌파"}


def test_filter_by_type_from_the_registry_and_by_owner(admin_client, strategies, user):
    response = admin_client.get(reverse(CHANGELIST), {"strategy_type": "rsi_reversion"})
    assert names(response) == {"앨리스 RSI"}
    assert "RSI 역추세" in response.content.decode()  # the filter lists the registry's labels
    assert names(admin_client.get(reverse(CHANGELIST), {"owner__id__exact": user.pk})) == {"앨리스 골든크로스", "앨리스 RSI"}


def test_the_change_page_shows_parameters_readably(admin_client, strategies):
    html = admin_client.get(reverse("admin:strategies_strategy_change", args=[strategies[0].pk])).content.decode()
    assert "짧은 기간" in html and "<strong>10</strong>" in html


def admin_form(strategy: Strategy, **changes) -> dict:
    data = {
        "name": strategy.name, "description": strategy.description, "strategy_type": strategy.strategy_type,
        "params": '{"fast": 5, "slow": 20}', "instruments": [i.pk for i in strategy.instruments.all()],
        "watchlist": "", "sizing": "equal_weight", "sizing_value": "", "max_positions": "", "stop_loss_pct": "",
        "take_profit_pct": "", "trailing_stop_pct": "", "max_holding_days": "",
    }  # fmt: skip
    data.update(changes)
    return data


def test_saving_in_the_admin_goes_through_the_same_validation(admin_client, strategies):
    strategy = strategies[0]
    url = reverse("admin:strategies_strategy_change", args=[strategy.pk])
    response = admin_client.post(url, admin_form(strategy, params='{"fast": 50, "slow": 20}', stop_loss_pct="100"))
    assert response.status_code == 200  # the form again, with errors
    errors = response.context["adminform"].form.errors
    assert "slow:" in errors["params"][0] and "stop_loss_pct" in errors
    assert Strategy.objects.get(pk=strategy.pk).params == {"fast": 10, "slow": 30}
    response = admin_client.post(url, admin_form(strategy, params='{"fast": "7"}'))
    assert response.status_code == 302
    assert Strategy.objects.get(pk=strategy.pk).params == {"fast": 7, "slow": 30}  # typed, defaults filled


def test_adding_in_the_admin_checks_the_name_per_owner_and_the_universe(admin_client, strategies, user):
    strategy = strategies[0]
    data = admin_form(strategy, owner=user.pk, instruments=[])
    response = admin_client.post(reverse("admin:strategies_strategy_add"), data)
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"name", "instruments"}
    data = admin_form(strategy, owner=user.pk, name="운영자가 만든 전략")
    assert admin_client.post(reverse("admin:strategies_strategy_add"), data).status_code == 302
    created = Strategy.objects.get(name="운영자가 만든 전략")
    assert created.owner == user and created.universe_codes() == strategy.universe_codes()


def test_watchlists_in_the_admin(admin_client, user):
    watchlist = WatchlistFactory(owner=user, name="반도체")
    StrategyFactory(owner=user, watchlist=watchlist)
    changelist = admin_client.get(reverse("admin:strategies_watchlist_changelist"), {"q": "alice@"})
    assert [w.name for w in changelist.context["cl"].result_list] == ["반도체"]
    url = reverse("admin:strategies_watchlist_change", args=[watchlist.pk])
    response = admin_client.post(url, {"name": "반도체", "instruments": []})
    assert "instruments" in response.context["adminform"].form.errors
    delete = admin_client.post(reverse("admin:strategies_watchlist_delete", args=[watchlist.pk]), {"post": "yes"})
    assert delete.status_code == 200 and Watchlist.objects.filter(pk=watchlist.pk).exists()  # protected: refused
