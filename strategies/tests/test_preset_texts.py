"""A preset's words match its numbers; the strategy form's type text names no numbers at all."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from strategies import presets, signals
from strategies.tests.factories import StrategyFactory

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _numbers(text: str) -> set[Decimal]:
    return {Decimal(found) for found in NUMBER.findall(text)}


def _values(preset: presets.Preset) -> set[Decimal]:
    """Every number a preset is made of: its parameters and its sizing and risk settings."""
    values = [*preset.params.values(), *preset.risk().values()]
    return {Decimal(str(value)) for value in values if isinstance(value, int | float | Decimal) and value is not True}


@pytest.mark.parametrize("preset", list(presets.PRESETS.values()), ids=lambda p: p.key)
@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_number_in_a_presets_description_is_one_of_its_settings(preset, language):
    text = preset.description(language)
    stray = _numbers(text) - _values(preset)
    assert not stray, f"{preset.key} ({language}) says {sorted(stray)} but holds {dict(preset.params)}: {text}"


def test_the_5_20_preset_describes_the_5_and_20_day_averages():
    preset = presets.PRESETS["sma_cross.golden_5_20"]
    for language in ("ko", "en"):
        assert {Decimal(5), Decimal(20)} <= _numbers(preset.description(language))


def test_a_mismatched_description_is_caught():
    wrong = presets.Preset("sma_cross.x", "sma_cross", "x", "x", "10일선이 30일선을 상향 돌파하면 매수", "-",
                           {"fast": 5, "slow": 20})
    assert _numbers(wrong.description("ko")) - _values(wrong) == {Decimal(10), Decimal(30)}


@pytest.mark.parametrize("strategy_type", list(signals.REGISTRY))
def test_every_type_has_a_description_without_numbers_in_both_languages(strategy_type):
    for language in ("ko", "en"):
        text = presets.type_description(strategy_type, language)
        assert text and not NUMBER.search(text), (strategy_type, language, text)


@pytest.mark.django_db
def test_the_form_of_a_5_20_strategy_does_not_describe_10_and_30_day_averages(client, user):
    strategy = StrategyFactory(owner=user, params={"fast": 5, "slow": 20})
    client.force_login(user)
    with translation.override("ko"):
        page = client.get(reverse("strategies:edit", args=[strategy.pk]), HTTP_ACCEPT_LANGUAGE="ko")
    body = page.content.decode()
    assert page.status_code == 200
    assert "10일선" not in body and "30일선" not in body
    assert presets.type_description("sma_cross", "ko") in body
