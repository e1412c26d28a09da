"""Parameter schemas, validation messages, the registry, strict crosses and the NaN rule."""

import numpy as np
import pytest

from strategies.signals import (
    REGISTRY,
    Param,
    ParamError,
    UnknownStrategyType,
    compute,
    crosses,
    get,
    schema_as_dict,
    validate,
    validate_params,
)
from strategies.signals import params as P

ALL_TYPES = [
    "bollinger_reversion", "buy_and_hold", "donchian_breakout", "ema_cross",
    "macd_cross", "rsi_reversion", "sma_cross", "volatility_breakout",
]
SCHEMA = [
    Param("fast", int, 10, min=1, max=250),
    Param("width", float, 2.0, min=0.1, max=5.0),
    Param("short", bool, False),
]


def errors_of(schema, raw, check=None):
    with pytest.raises(ParamError) as caught:
        validate(schema, raw, check)
    return caught.value.errors


# --- validation -------------------------------------------------------------------------------

def test_validate_fills_defaults_in_schema_order():
    assert validate(SCHEMA, {}) == {"fast": 10, "width": 2.0, "short": False}
    assert list(validate(SCHEMA, {"short": True, "fast": 3})) == ["fast", "width", "short"]


@pytest.mark.parametrize("raw, expected", [
    (10, 10), ("10", 10), (" 12 ", 12), (10.0, 10), ("10.0", 10), (np.int64(7), 7), (np.float64(8.0), 8),
])
def test_int_accepts_integers_and_numeric_strings(raw, expected):
    value = validate(SCHEMA, {"fast": raw})["fast"]
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", ["abc", 1.5, "1.5", True, False, np.bool_(True), [3], float("nan"), "inf"])
def test_int_rejects_non_integers(raw):
    assert errors_of(SCHEMA, {"fast": raw}) == {"fast": [P.NOT_AN_INTEGER]}


@pytest.mark.parametrize("raw, expected", [(2.5, 2.5), ("2.5", 2.5), (3, 3.0), ("3", 3.0), (np.float32(0.5), 0.5)])
def test_float_accepts_numbers_and_numeric_strings(raw, expected):
    value = validate(SCHEMA, {"width": raw})["width"]
    assert value == expected and type(value) is float


@pytest.mark.parametrize("raw", ["abc", True, float("nan"), float("inf"), "nan", "-inf", object()])
def test_float_rejects_non_numbers(raw):
    assert errors_of(SCHEMA, {"width": raw}) == {"width": [P.NOT_A_NUMBER]}


@pytest.mark.parametrize("raw, expected", [
    (True, True), (False, False), ("true", True), ("False", False), ("on", True), ("0", False), (1, True), (0, False),
])
def test_bool_accepts_form_values(raw, expected):
    assert validate(SCHEMA, {"short": raw})["short"] is expected


@pytest.mark.parametrize("raw", ["maybe", 2, 0.5])
def test_bool_rejects_other_values(raw):
    assert errors_of(SCHEMA, {"short": raw}) == {"short": [P.NOT_A_BOOLEAN]}


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_an_empty_value_is_required(raw):
    assert errors_of(SCHEMA, {"fast": raw}) == {"fast": [P.VALUE_REQUIRED]}


def test_out_of_range_values_name_the_bound():
    assert errors_of(SCHEMA, {"fast": 0}) == {"fast": ["Must be at least 1."]}
    assert errors_of(SCHEMA, {"fast": "251"}) == {"fast": ["Must be at most 250."]}
    assert errors_of(SCHEMA, {"width": 0.05}) == {"width": ["Must be at least 0.1."]}
    assert errors_of(SCHEMA, {"width": 5.5}) == {"width": ["Must be at most 5."]}
    assert validate(SCHEMA, {"fast": 1, "width": 5})["width"] == 5.0  # bounds are inclusive


def test_unknown_names_are_errors_listing_the_known_ones():
    errors = errors_of(SCHEMA, {"fats": 3, "fast": "x"})
    assert errors == {"fast": [P.NOT_AN_INTEGER], "fats": ["Unknown parameter; known parameters: fast, width, short."]}
    assert errors_of([], {"x": 1}) == {"x": ["Unknown parameter; known parameters: (none)."]}


def test_each_field_gets_one_message_and_the_error_reads_well():
    with pytest.raises(ParamError) as caught:
        validate(SCHEMA, {"fast": "abc", "width": 9})
    assert caught.value.errors == {"fast": [P.NOT_AN_INTEGER], "width": ["Must be at most 5."]}
    assert str(caught.value) == "fast: Enter a whole number.; width: Must be at most 5."


def test_cross_field_check_runs_only_when_fields_are_valid():
    calls = []

    def check(params):
        calls.append(params)
        return {"width": ["bad"]}

    assert errors_of(SCHEMA, {"fast": "x"}, check) == {"fast": [P.NOT_AN_INTEGER]}
    assert calls == []
    assert errors_of(SCHEMA, {}, check) == {"width": ["bad"]}


def test_validate_refuses_a_non_mapping():
    with pytest.raises(TypeError):
        validate(SCHEMA, [("fast", 3)])


def test_a_param_with_an_invalid_default_fails_at_definition():
    with pytest.raises(ValueError):
        Param("fast", int, 0, min=1)
    with pytest.raises(TypeError):
        Param("fast", str, "a")


@pytest.mark.parametrize("name, raw, field, message", [
    ("sma_cross", {"fast": 30, "slow": 30}, "slow", "Must be greater than fast (30)."),
    ("sma_cross", {"fast": 50}, "slow", "Must be greater than fast (50)."),
    ("ema_cross", {"fast": 40, "slow": 20}, "slow", "Must be greater than fast (40)."),
    ("macd_cross", {"fast": 26, "slow": 12}, "slow", "Must be greater than fast (26)."),
    ("rsi_reversion", {"buy_below": 70, "sell_above": 30}, "sell_above", "Must be greater than buy_below (70)."),
    ("rsi_reversion", {"buy_below": 45.5, "sell_above": "45.5"}, "sell_above", "Must be greater than buy_below (45.5)."),
])
def test_contradictions_are_reported_on_the_second_field(name, raw, field, message):
    with pytest.raises(ParamError) as caught:
        validate_params(name, raw)
    assert caught.value.errors == {field: [message]}


# --- registry ---------------------------------------------------------------------------------

def test_the_registry_lists_all_eight_types():
    assert list(REGISTRY) == ALL_TYPES


@pytest.mark.parametrize("name", ALL_TYPES)
def test_every_type_declares_labels_and_a_valid_schema(name):
    module = get(name)
    assert module.NAME == name and module.LABEL_KO and module.LABEL_EN
    schema = schema_as_dict(name)
    assert schema["name"] == name and schema["label_ko"] == module.LABEL_KO
    for field in schema["params"]:
        assert set(field) == {"name", "type", "default", "min", "max", "step", "help_ko", "help_en"}
        assert field["type"] in {"int", "float", "bool"} and field["help_ko"] and field["help_en"]
    defaults = validate_params(name, {})
    assert defaults == {p["name"]: p["default"] for p in schema["params"]}


def test_an_unknown_type_names_the_known_ones():
    with pytest.raises(UnknownStrategyType) as caught:
        get("sma_crossover")
    assert caught.value.known == ALL_TYPES
    assert "known types: bollinger_reversion, buy_and_hold" in str(caught.value)
    with pytest.raises(UnknownStrategyType):
        validate_params("nope", {})


def test_compute_validates_params_and_unpacks_as_two_arrays():
    close = np.arange(1.0, 61.0)[None, :] % 17 + 10
    entries, exits = compute("sma_cross", close=close, params={"fast": "3", "slow": "8"})
    assert entries.shape == exits.shape == close.shape and entries.dtype == bool
    with pytest.raises(ParamError):
        compute("sma_cross", close=close, params={"fast": 8, "slow": 3})


def test_compute_asks_for_the_prices_a_type_reads():
    close = np.ones((1, 5))
    with pytest.raises(ValueError, match="open, high, low"):
        compute("volatility_breakout", close=close, params={})
    with pytest.raises(ValueError, match="high, low"):
        compute("donchian_breakout", close=close, params={})


def test_prices_must_be_two_dimensional_and_finite():
    with pytest.raises(ValueError, match="2-D"):
        compute("sma_cross", close=np.ones(5), params={})
    with pytest.raises(ValueError, match="infinities"):
        compute("sma_cross", close=np.array([[1.0, np.inf, 2.0]]), params={})


# --- strict crosses ---------------------------------------------------------------------------

def test_a_tie_is_not_a_cross():
    a = np.array([[1.0, 2.0, 2.0, 3.0, 2.0, 2.0, 1.0, 2.0, 1.0]])
    above, below = crosses(a, 2.0)
    assert np.flatnonzero(above[0]).tolist() == [3]  # 1 -> 2 (tie) -> 2 -> 3: crosses on 3
    # 3 -> 2 (tie) -> 2 -> 1 crosses on the 1 (bar 6); 1 -> 2 (tie) -> 1 crosses below again on bar 8,
    # while 1 -> 2 (bar 7) touches from below without crossing above
    assert np.flatnonzero(below[0]).tolist() == [6, 8]


def test_nan_never_crosses():
    a = np.array([[np.nan, 3.0, 1.0, np.nan, 3.0, 1.0]])
    above, below = crosses(a, 2.0)
    assert not above[0, 1] and not above[0, 4]  # previous value unknown
    assert below[0, 2] and below[0, 5]


def test_sma_cross_on_an_exact_tie_waits_for_the_first_bar_strictly_above():
    # fast=1 (the close) against slow=2: closes 10, 10, 10, 12 -> SMA2 10, 10, 11; the close equals
    # the SMA on bars 1-2 and is above it on bar 3, so the only entry is bar 3.
    close = np.array([[10.0, 10.0, 10.0, 12.0, 12.0, 12.0, 8.0]])
    entries, exits = compute("sma_cross", close=close, params={"fast": 1, "slow": 2})
    assert np.flatnonzero(entries[0]).tolist() == [3]
    # bars 4-5: SMA2 12, close 12 (tie, no exit); bar 6: SMA2 10, close 8 < 10 after a tie: exit
    assert np.flatnonzero(exits[0]).tolist() == [6]


# --- NaN and special types ---------------------------------------------------------------------

def test_buy_and_hold_enters_on_each_symbols_first_bar():
    close = np.full((4, 6), np.nan)
    close[0] = 1.0
    close[1, 2:] = 1.0
    close[2, [3, 5]] = 1.0
    entries, exits = compute("buy_and_hold", close=close, params={})
    assert [np.flatnonzero(row).tolist() for row in entries] == [[0], [2], [3], []]
    assert not exits.any()


def test_a_halt_does_not_reset_a_moving_average():
    # Symbol 1 is symbol 0 with a 3-day halt inserted: its signals are the same bars, shifted.
    rng = np.random.default_rng(3)
    base = np.round(1000 + np.cumsum(rng.normal(0, 10, 80)))
    gapped = np.concatenate([base[:40], [np.nan] * 3, base[40:77]])
    close = np.vstack([base[:80], gapped[:80]])
    entries, exits = compute("sma_cross", close=close, params={"fast": 3, "slow": 8})
    keep = ~np.isnan(gapped[:80])
    assert entries[0, :77].tolist() == entries[1, keep].tolist()
    assert exits[0, :77].tolist() == exits[1, keep].tolist()
    assert not entries[1, ~keep].any() and not exits[1, ~keep].any()


def test_volatility_breakout_enters_at_the_breakout_price_and_exits_the_same_bar():
    open_ = np.array([[100.0, 100.0, 105.0, 100.0]])
    high = np.array([[110.0, 104.0, 116.0, 101.0]])
    low = np.array([[90.0, 96.0, 104.0, 99.0]])
    close = np.array([[105.0, 101.0, 115.0, 100.0]])
    sig = compute("volatility_breakout", open=open_, high=high, low=low, close=close, params={"k": 0.5})
    # bar 1: 100 + 0.5 * 20 = 110 > high 104, no entry; bar 2: 105 + 0.5 * 8 = 109 < 116 -> entry at 109;
    # bar 3: 100 + 0.5 * 12 = 106 > 101, no entry
    assert sig.entries.tolist() == [[False, False, True, False]]
    assert sig.exits.tolist() == sig.entries.tolist()
    assert sig.entry_price[0, 2] == 109.0 and np.isnan(sig.entry_price[0, [0, 1, 3]]).all()


def test_volatility_breakout_needs_a_high_strictly_above_the_breakout_price():
    open_ = np.array([[100.0, 100.0]])
    high = np.array([[110.0, 110.0]])
    low = np.array([[90.0, 95.0]])
    sig = compute("volatility_breakout", open=open_, high=high, low=low, close=open_, params={"k": 0.5})
    assert not sig.entries.any()  # 100 + 0.5 * 20 = 110: touched, not crossed


def test_other_types_have_no_entry_price():
    close = np.ones((2, 40))
    assert compute("sma_cross", close=close, params={}).entry_price is None
