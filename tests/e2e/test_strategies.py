"""Strategies in a real browser: clone a preset, fix an inline error, find it in the list, delete it;
build one from scratch with the type switch and the instrument picker."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from strategies.models import Strategy
from strategies.tests.factories import sample_instruments
from tests.e2e.helpers import choose_strategy_type, login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def _field(page, name: str):
    return page.locator(f"[data-field='{name}']")


def test_a_user_clones_a_preset_fixes_an_error_saves_and_deletes_it(page):
    sample_instruments()
    user = UserFactory(email="preset.user@example.com")
    login(page, user.email)

    page.goto("/strategies/")
    expect(page.locator("[data-testid=empty-state]")).to_be_visible()
    with page.expect_navigation():
        page.locator("[data-testid=presets-link]").click()
    card = page.locator("[data-testid=preset][data-preset-key='sma_cross.golden_5_20']")
    expect(card).to_contain_text("5/20 단기 골든크로스")
    with page.expect_navigation():
        card.locator("[data-testid=use-preset]").click()

    # The clone asks for a universe, prefilled with big sample stocks.
    expect(page.locator("input[name=instruments]")).to_have_value("005930 000660 005380 035420 035720")
    page.locator("input[name=name]").fill("나의 골든크로스")
    with page.expect_navigation():
        page.locator("[data-testid=create-from-preset]").click()
    expect(page).to_have_url(re.compile(r"/strategies/\d+/edit/$"))
    expect(page.locator(".messages")).to_contain_text("나의 골든크로스")
    expect(page.locator("input[name='params.fast']")).to_have_value("5")

    # fast >= slow: the error shows under the second field; what was typed stays.
    page.locator("input[name='params.fast']").fill("30")
    page.locator("input[name='stop_loss_pct']").fill("4.5")
    with page.expect_navigation():
        page.locator("[data-testid=save-strategy]").click()
    slow = _field(page, "params.slow")
    expect(slow.locator(".field-error")).to_have_text("짧은 기간(30)보다 커야 합니다.")
    expect(page.locator("input[name='params.slow']")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name='params.fast']")).to_have_value("30")
    expect(page.locator("input[name='stop_loss_pct']")).to_have_value("4.5")
    assert Strategy.objects.get(owner=user).params == {"fast": 5, "slow": 20}  # nothing saved

    page.locator("input[name='params.fast']").fill("10")
    with page.expect_navigation():
        page.locator("[data-testid=save-strategy]").click()
    expect(page).to_have_url(re.compile(r"/strategies/$"))
    row = page.locator("[data-testid=strategy-row]").filter(has_text="나의 골든크로스")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("단순이동평균 교차")
    saved = Strategy.objects.get(owner=user)
    assert saved.params == {"fast": 10, "slow": 20} and str(saved.stop_loss_pct) == "4.50"

    # Delete asks first.
    with page.expect_navigation():
        row.locator("[data-testid=delete-row]").click()
    expect(page.locator("[data-testid=confirm-delete]")).to_contain_text("나의 골든크로스")
    with page.expect_navigation():
        page.locator("[data-testid=confirm-delete-button]").click()
    expect(page.locator("[data-testid=empty-state]")).to_be_visible()
    assert not Strategy.objects.filter(owner=user).exists()


def test_switching_the_type_swaps_the_parameters_in_place_and_the_picker_adds_codes(page):
    sample_instruments()
    user = UserFactory(email="builder@example.com")
    login(page, user.email)

    page.goto("/strategies/new/")
    page.locator("input[name=name]").fill("카카오 RSI")
    page.locator("input[name=instruments]").fill("")
    choose_strategy_type(page, "rsi_reversion")
    expect(page.locator("input[name='params.buy_below']")).to_have_value("30.0")
    expect(page.locator("input[name='params.fast']")).to_have_count(0)
    expect(page.locator("input[name=name]")).to_have_value("카카오 RSI")  # other inputs untouched
    assert page.url.endswith("/strategies/new/")

    page.locator("[data-testid=instrument-picker]").press_sequentially("카카오", delay=30)
    result = page.locator("[data-testid=picker-result][data-add-code='035720']")
    expect(result).to_be_visible()
    result.click()
    expect(page.locator("input[name=instruments]")).to_have_value("035720")

    page.locator("input[name='params.sell_above']").fill("75")
    with page.expect_navigation():
        page.locator("[data-testid=save-strategy]").click()
    expect(page.locator("[data-testid=strategy-row]").filter(has_text="카카오 RSI")).to_contain_text("카카오")
    strategy = Strategy.objects.get(owner=user)
    assert strategy.params == {"period": 14, "buy_below": 30.0, "sell_above": 75.0}
    assert strategy.universe_codes() == ["035720"]
