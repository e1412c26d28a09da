"""The /strategies/ pages: list, create (with the type switch), edit, clone, delete, presets, watchlists."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from strategies import services, views
from strategies.models import Strategy, Watchlist
from strategies.signals import params as P
from strategies.tests.factories import StrategyFactory, WatchlistFactory, sample_instruments

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocks():
    return sample_instruments()


@pytest.fixture
def alice(client, user, stocks):
    client.force_login(user)
    return client


@pytest.fixture
def english(user):
    user.language = "en"
    user.save(update_fields=["language"])
    with translation.override("en"):
        yield


def page(response) -> str:
    return response.content.decode()


def errors_under(html: str, field: str) -> list[str]:
    """The messages shown under one field (in its .field block)."""
    block = re.search(rf'data-field="{re.escape(field)}">(.*?)</div>\s*(?:</div>|<div class="field)', html, re.S)
    assert block, f"no field {field!r} on the page"
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', block.group(1))


def form_data(**overrides) -> dict:
    data = {
        "name": "골든크로스 5/20", "description": "", "strategy_type": "sma_cross", "params.fast": "5",
        "params.slow": "20", "universe_source": "instruments", "instruments": "005930 000660", "watchlist": "",
        "sizing": "equal_weight", "sizing_value": "", "max_positions": "", "stop_loss_pct": "5",
        "take_profit_pct": "", "trailing_stop_pct": "", "max_holding_days": "",
    }  # fmt: skip
    data.update(overrides)
    return data


# --- list -----------------------------------------------------------------------------------------
def test_the_list_starts_empty_with_a_way_to_begin(alice):
    html = page(alice.get(reverse("strategies:index")))
    assert 'data-testid="empty-state"' in html
    assert reverse("strategies:presets") in html and reverse("strategies:create") in html


def test_the_list_shows_my_strategies_with_type_universe_and_sizing(alice, user, other_user):
    mine = StrategyFactory(owner=user, name="내 전략", codes=["005930", "000660", "035720"])
    StrategyFactory(owner=other_user, name="밥의 전략")
    html = page(alice.get(reverse("strategies:index")))
    assert "내 전략" in html and "밥의 전략" not in html
    assert f'{reverse("backtests:new")}?strategy={mine.pk}' in html  # backtest it in one click
    assert "단순이동평균 교차" in html  # the type's label, in Korean by default
    assert "SK하이닉스, 삼성전자" in html and "외 1개" in html
    assert "균등 비중" in html


def test_the_list_filters_by_type(alice, user):
    StrategyFactory(owner=user, name="이평")
    StrategyFactory(owner=user, name="알에스아이", strategy_type="rsi_reversion", params={"period": 14, "buy_below": 30.0, "sell_above": 70.0})
    html = page(alice.get(reverse("strategies:index"), {"type": "rsi_reversion"}))
    assert "알에스아이" in html and ">이평<" not in html


def test_pages_need_a_login(client, db):
    response = client.get(reverse("strategies:index"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- create ---------------------------------------------------------------------------------------
def test_the_create_form_shows_the_parameter_fields_of_the_type(alice):
    html = page(alice.get(reverse("strategies:create")))
    assert 'name="params.fast"' in html and 'name="params.slow"' in html
    fast = re.search(r'<input[^>]*name="params.fast"[^>]*>', html).group(0)
    assert 'min="1"' in fast and 'max="250"' in fast and 'step="1"' in fast and 'value="10"' in fast
    assert "짧은 기간" in html and "짧은 이동평균의 기간(봉 수)" in html  # label and Korean help
    assert 'value="005930 000660 005380 035420 035720"' in html  # a starter universe
    assert 'data-strategy-type="sma_cross"' in html and html.count("<select") == 3  # type, watchlist, sizing
    assert '<label for="id_name">이름:</label>' in html


def test_the_help_is_english_for_english_users(alice, english):
    html = page(alice.get(reverse("strategies:create")))
    assert "Fast period" in html and "Bars in the fast moving average" in html


def test_the_create_form_can_start_on_another_type(alice):
    html = page(alice.get(reverse("strategies:create"), {"type": "volatility_breakout"}))
    assert 'name="params.k"' in html and 'name="params.fast"' not in html


def test_creating_a_strategy_goes_to_the_list(alice, user):
    response = alice.post(reverse("strategies:create"), form_data())
    assert response.status_code == 302 and response["Location"] == reverse("strategies:index")
    strategy = Strategy.objects.get(owner=user)
    assert strategy.params == {"fast": 5, "slow": 20} and strategy.universe_codes() == ["000660", "005930"]
    listing = page(alice.get(response["Location"]))
    assert "골든크로스 5/20" in listing and "전략 “골든크로스 5/20”을(를) 만들었습니다." in listing


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"params.fast": "abc"}, "params.fast", "정수를 입력하세요."),
        ({"params.fast": "0"}, "params.fast", "1 이상이어야 합니다."),
        ({"params.slow": "9999"}, "params.slow", "500 이하여야 합니다."),
        ({"params.fast": "30", "params.slow": "20"}, "params.slow", "짧은 기간(30)보다 커야 합니다."),
        ({"instruments": ""}, "instruments", "종목을 하나 이상 고르거나 관심종목 목록을 선택하세요."),
        ({"instruments": "005930 999999"}, "instruments", "알 수 없는 종목 코드: 999999"),
        ({"stop_loss_pct": "150"}, "stop_loss_pct", "0보다 크고 100보다 작은 비율을 입력하세요."),
        ({"sizing": "fixed_krw"}, "sizing_value", "이 방식에 쓸 금액이나 비율을 입력하세요."),
    ],
)
def test_a_bad_input_is_shown_under_its_field_in_korean_and_nothing_is_lost(alice, changes, field, message):
    data = form_data(**changes)
    response = alice.post(reverse("strategies:create"), data)
    assert response.status_code == 400
    html = page(response)
    assert errors_under(html, field) == [message]
    assert re.search(rf'name="{re.escape(field)}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*name="{re.escape(field)}"', html)
    assert 'value="골든크로스 5/20"' in html  # what was typed is still there
    if changes.get("instruments"):
        assert f'value="{changes["instruments"]}"' in html
    assert not Strategy.objects.exists()


def test_the_error_is_english_for_english_users(alice, english):
    response = alice.post(reverse("strategies:create"), form_data(**{"params.fast": "0"}))
    assert errors_under(page(response), "params.fast") == [P.BELOW_MIN.format(min=1)]


def test_a_watchlist_must_be_chosen_when_it_is_the_universe(alice):
    response = alice.post(reverse("strategies:create"), form_data(universe_source="watchlist"))
    assert errors_under(page(response), "watchlist") == ["관심종목 목록을 선택하세요."]


def test_a_strategy_can_trade_a_watchlist(alice, user):
    watchlist = WatchlistFactory(owner=user, codes=["035420"])
    alice.post(reverse("strategies:create"), form_data(universe_source="watchlist", watchlist=str(watchlist.pk)))
    strategy = Strategy.objects.get(owner=user)
    assert strategy.watchlist == watchlist and strategy.universe_codes() == ["035420"]


def test_another_users_watchlist_is_not_a_choice(alice, other_user):
    bobs = WatchlistFactory(owner=other_user, name="밥의 목록")
    html = page(alice.get(reverse("strategies:create")))
    assert "밥의 목록" not in html
    response = alice.post(reverse("strategies:create"), form_data(universe_source="watchlist", watchlist=str(bobs.pk)))
    assert response.status_code == 400 and not Strategy.objects.exists()


def test_htmx_swaps_in_the_parameters_of_the_chosen_type(alice):
    response = alice.get(reverse("strategies:param_fields"), {"strategy_type": "rsi_reversion"}, HTTP_HX_REQUEST="true")
    html = page(response)
    assert response.status_code == 200 and "<html" not in html  # a fragment, not a page
    assert 'id="param-fields"' in html
    assert {"params.period", "params.buy_below", "params.sell_above"} <= set(re.findall(r'name="(params\.\w+)"', html))
    assert 'value="30.0"' in html or 'value="30"' in html
    assert alice.get(reverse("strategies:param_fields"), {"strategy_type": "nope"}).status_code == 404


def test_the_type_switches_without_javascript_and_keeps_the_other_inputs(alice):
    data = form_data(strategy_type="donchian_breakout", action=views.CHANGE_TYPE_ACTION, stop_loss_pct="7")
    response = alice.post(reverse("strategies:create"), data)
    html = page(response)
    assert response.status_code == 200 and not Strategy.objects.exists()
    assert 'name="params.entry_period"' in html and 'name="params.fast"' not in html
    assert 'value="골든크로스 5/20"' in html and 'value="7"' in html
    assert 'data-testid="form-has-errors"' not in html


# --- edit, clone, delete ------------------------------------------------------------------------------
def test_the_edit_page_shows_the_saved_strategy_and_saves_changes(alice, user):
    strategy = StrategyFactory(owner=user, name="수정할 전략", params={"fast": 7, "slow": 21})
    html = page(alice.get(reverse("strategies:edit", args=[strategy.pk])))
    assert 'value="수정할 전략"' in html and re.search(r'name="params.fast" value="7"', html)
    response = alice.post(reverse("strategies:edit", args=[strategy.pk]), form_data(name="수정됨", **{"params.slow": "40"}))
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert strategy.name == "수정됨" and strategy.params == {"fast": 5, "slow": 40}


def test_a_bad_edit_changes_nothing(alice, user):
    strategy = StrategyFactory(owner=user, name="그대로")
    response = alice.post(reverse("strategies:edit", args=[strategy.pk]), form_data(name="바뀜", **{"params.fast": "0"}))
    assert response.status_code == 400
    strategy.refresh_from_db()
    assert strategy.name == "그대로"


def test_clone_opens_the_copy(alice, user):
    strategy = StrategyFactory(owner=user, name="원본")
    response = alice.post(reverse("strategies:clone", args=[strategy.pk]))
    copy = Strategy.objects.exclude(pk=strategy.pk).get()
    assert copy.name == "원본 (사본)"
    assert response["Location"] == reverse("strategies:edit", args=[copy.pk])


def test_delete_asks_first_then_deletes(alice, user):
    strategy = StrategyFactory(owner=user, name="지울 전략")
    confirm = page(alice.get(reverse("strategies:delete", args=[strategy.pk])))
    assert "지울 전략" in confirm and 'data-testid="confirm-delete"' in confirm
    assert Strategy.objects.filter(pk=strategy.pk).exists()
    response = alice.post(reverse("strategies:delete", args=[strategy.pk]))
    assert response["Location"] == reverse("strategies:index")
    assert not Strategy.objects.filter(pk=strategy.pk).exists()


def test_clone_is_post_only(alice, user):
    strategy = StrategyFactory(owner=user)
    assert alice.get(reverse("strategies:clone", args=[strategy.pk])).status_code == 405


# --- presets --------------------------------------------------------------------------------------
def test_the_preset_gallery_groups_presets_by_type(alice):
    html = page(alice.get(reverse("strategies:presets")))
    assert html.count('data-testid="preset"') == len(services.presets.PRESETS)
    assert html.count('data-testid="preset-group"') == len(services.signals.REGISTRY)
    assert "5/20 단기 골든크로스" in html and "터틀 55/20 (시스템 2)" in html


def test_using_a_preset_asks_for_a_universe_then_opens_the_new_strategy(alice, user):
    url = reverse("strategies:preset_clone", args=["sma_cross.golden_5_20"])
    html = page(alice.get(url))
    assert 'value="5/20 단기 골든크로스"' in html and 'value="005930 000660 005380 035420 035720"' in html
    response = alice.post(url, {"name": "내 골든크로스", "universe_source": "instruments", "instruments": "005930"})
    strategy = Strategy.objects.get(owner=user)
    assert response["Location"] == reverse("strategies:edit", args=[strategy.pk])
    assert strategy.name == "내 골든크로스" and strategy.params == {"fast": 5, "slow": 20}
    assert strategy.preset_key == "sma_cross.golden_5_20" and strategy.universe_codes() == ["005930"]


def test_a_preset_clone_with_a_bad_universe_says_so(alice):
    url = reverse("strategies:preset_clone", args=["sma_cross.default"])
    response = alice.post(url, {"name": "x", "universe_source": "instruments", "instruments": "ZZZZZZ"})
    assert response.status_code == 400
    assert errors_under(page(response), "instruments") == ["알 수 없는 종목 코드: ZZZZZZ"]


def test_an_unknown_preset_is_404(alice):
    assert alice.get(reverse("strategies:preset_clone", args=["sma_cross.nope"])).status_code == 404


# --- watchlists and the instrument picker ------------------------------------------------------------------
def test_watchlists_are_created_edited_and_deleted(alice, user):
    response = alice.post(reverse("strategies:watchlist_create"), {"name": "반도체", "instruments": "005930, 000660"})
    assert response["Location"] == reverse("strategies:watchlists")
    watchlist = Watchlist.objects.get(owner=user)
    assert watchlist.codes() == ["000660", "005930"]
    assert "반도체" in page(alice.get(reverse("strategies:watchlists")))
    alice.post(reverse("strategies:watchlist_edit", args=[watchlist.pk]), {"name": "반도체 대형주", "instruments": "005930"})
    watchlist.refresh_from_db()
    assert watchlist.name == "반도체 대형주" and watchlist.codes() == ["005930"]
    alice.post(reverse("strategies:watchlist_delete", args=[watchlist.pk]))
    assert not Watchlist.objects.exists()


def test_a_watchlist_with_bad_codes_keeps_the_input(alice):
    response = alice.post(reverse("strategies:watchlist_create"), {"name": "목록", "instruments": "005930 111111"})
    html = page(response)
    assert response.status_code == 400 and errors_under(html, "instruments") == ["알 수 없는 종목 코드: 111111"]
    assert 'value="005930 111111"' in html


def test_a_watchlist_in_use_is_kept_and_the_page_says_why(alice, user):
    watchlist = WatchlistFactory(owner=user, name="쓰는 목록")
    StrategyFactory(owner=user, watchlist=watchlist, name="목록 전략")
    confirm = page(alice.get(reverse("strategies:watchlist_delete", args=[watchlist.pk])))
    assert "목록 전략" in confirm
    response = alice.post(reverse("strategies:watchlist_delete", args=[watchlist.pk]), follow=True)
    assert Watchlist.objects.filter(pk=watchlist.pk).exists()
    assert "목록 전략" in page(response)


def test_the_instrument_picker_finds_by_korean_name_and_code(alice):
    html = page(alice.get(reverse("strategies:instrument_picker"), {"q": "삼성", "target": "id_instruments"}))
    assert 'data-add-code="005930"' in html and 'data-target="id_instruments"' in html
    assert 'data-add-code="035720"' not in html
    assert 'data-add-code="035720"' in page(alice.get(reverse("strategies:instrument_picker"), {"q": "0357"}))


# --- ownership --------------------------------------------------------------------------------------
def test_another_users_strategy_is_404_on_every_page(client, user, other_user, stocks):
    strategy = StrategyFactory(owner=user)
    client.force_login(other_user)
    for name in ("strategies:edit", "strategies:delete"):
        assert client.get(reverse(name, args=[strategy.pk])).status_code == 404, name
    for name in ("strategies:edit", "strategies:clone", "strategies:delete"):
        assert client.post(reverse(name, args=[strategy.pk]), form_data()).status_code == 404, name
    strategy.refresh_from_db()
    assert Strategy.objects.count() == 1 and strategy.name != "골든크로스 5/20"


def test_another_users_watchlist_is_404_on_every_page(client, user, other_user, stocks):
    watchlist = WatchlistFactory(owner=user)
    client.force_login(other_user)
    for name in ("strategies:watchlist_edit", "strategies:watchlist_delete"):
        assert client.get(reverse(name, args=[watchlist.pk])).status_code == 404, name
        assert client.post(reverse(name, args=[watchlist.pk]), {"name": "x", "instruments": "005930"}).status_code == 404
    assert Watchlist.objects.get(pk=watchlist.pk).name == watchlist.name


def test_the_list_does_not_query_per_row(alice, user, django_assert_max_num_queries):
    watchlist = WatchlistFactory(owner=user)
    for n in range(6):
        StrategyFactory(owner=user, name=f"전략 {n}", watchlist=watchlist if n % 2 else None)
    with django_assert_max_num_queries(12):
        html = page(alice.get(reverse("strategies:index")))
    assert html.count('data-testid="strategy-row"') == 6
