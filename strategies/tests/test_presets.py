"""Presets are valid, complete, and cloned into a working strategy; registry messages translate."""

from __future__ import annotations

import pytest
from django.utils import translation

from backtests.engine import EngineConfig
from strategies import presets, schema, services, signals
from strategies.signals import params as signal_params
from strategies.tests.factories import sample_instruments


def test_every_strategy_type_has_a_default_preset_with_the_registrys_defaults():
    for name, module in signals.REGISTRY.items():
        preset = presets.PRESETS[f"{name}.default"]
        assert dict(preset.params) == {param.name: param.default for param in module.PARAMS}


@pytest.mark.parametrize("preset", list(presets.PRESETS.values()), ids=lambda p: p.key)
def test_each_preset_is_typed_as_the_registry_returns_it_and_named_in_both_languages(preset):
    assert signals.validate_params(preset.strategy_type, preset.params) == dict(preset.params)
    assert preset.name_ko and preset.name_en and preset.description_ko and preset.description_en
    assert preset.name("ko") == preset.name_ko and preset.name("en") == preset.name_en


def test_the_named_variants_users_expect_are_there():
    expected = {
        "sma_cross.golden_5_20": {"fast": 5, "slow": 20},
        "sma_cross.trend_20_60": {"fast": 20, "slow": 60},
        "sma_cross.golden_50_200": {"fast": 50, "slow": 200},
        "rsi_reversion.connors_2": {"period": 2, "buy_below": 10.0, "sell_above": 70.0},
        "volatility_breakout.k_0_3": {"k": 0.3},
        "donchian_breakout.turtle_55_20": {"entry_period": 55, "exit_period": 20},
        "macd_cross.default": {"fast": 12, "slow": 26, "signal": 9},
        "bollinger_reversion.default": {"period": 20, "width": 2.0},
    }
    for key, params in expected.items():
        assert dict(presets.PRESETS[key].params) == params, key


def test_a_wrong_preset_is_refused_at_import():
    bad = presets.Preset("sma_cross.bad", "sma_cross", "나쁨", "Bad", "-", "-", {"fast": 30, "slow": 10})
    with pytest.raises(presets.PresetError, match="sma_cross.bad"):
        presets._index([*presets._PRESETS, bad])
    untyped = presets.Preset("rsi_reversion.untyped", "rsi_reversion", "a", "b", "c", "d",
                             {"period": 14, "buy_below": 30, "sell_above": 70.0})  # fmt: skip
    with pytest.raises(presets.PresetError, match="typed"):
        presets._index([*presets._PRESETS, untyped])
    with pytest.raises(presets.PresetError, match="no default preset"):
        presets._index([p for p in presets._PRESETS if p.key != "macd_cross.default"])


def test_presets_are_listed_by_type_with_the_default_first():
    keys = [p.key for p in presets.preset_list(strategy_type="sma_cross")]
    assert keys[0] == "sma_cross.default" and len(keys) == 4
    assert len(presets.preset_list()) == len(presets.PRESETS)


@pytest.mark.django_db
@pytest.mark.parametrize("key", list(presets.PRESETS), ids=str)
def test_every_preset_clones_into_a_strategy_the_engine_accepts(user, key):
    sample_instruments()
    strategy = services.strategy_clone_preset(user=user, preset_key=key)
    assert strategy.preset_key == key
    assert strategy.universe_codes() == sorted(presets.DEFAULT_UNIVERSE_CODES)
    EngineConfig(**strategy.engine_options())


def test_the_translatable_messages_are_the_registrys_templates():
    constants = {value for name, value in vars(signal_params).items() if name.isupper() and isinstance(value, str)}
    assert set(schema.MESSAGE_TEMPLATES) == constants
    with translation.override("en"):
        assert all(str(msgid) == template for template, msgid in schema.MESSAGE_TEMPLATES.items())


def test_registry_messages_are_translated_and_name_the_other_field_by_its_label():
    error = signals.ParamError({"fast": [signal_params.BELOW_MIN.format(min=1)], "slow": [signal_params.must_be_greater("fast", 10)]})
    with translation.override("ko"):
        assert schema.param_errors("sma_cross", error) == {
            "params.fast": ["1 이상이어야 합니다."],
            "params.slow": ["짧은 기간(10)보다 커야 합니다."],
        }
    with translation.override("en"):
        assert schema.param_errors("sma_cross", error)["params.slow"] == ["Must be greater than Fast period (10)."]


def test_an_unknown_message_passes_through_unchanged():
    assert schema.translate_param_message("sma_cross", "Something new.") == "Something new."


def test_type_schemas_carry_labels_and_help_in_both_languages():
    with translation.override("en"):
        described = schema.type_schema("rsi_reversion")
    assert described["label"] == "RSI mean reversion"
    period = described["params"][0]
    assert period["name"] == "period" and period["label_en"] == "RSI period" and period["label_ko"]
    assert period["help"] == period["help_en"] and period["min"] == 2 and period["default"] == 14
