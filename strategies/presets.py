"""Presets: good starting points per strategy type, defined in code (no database rows).

Every type has a ``<type>.default`` preset (the registry's default parameters) and most have a few
named variants. Users clone a preset into a strategy of their own (``services.strategy_clone_preset``).
Every preset is checked when this module is imported: parameters equal to what the registry's
validation returns, risk settings within the model's ranges, one default per type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from strategies import signals

# Large, liquid KOSPI names that ship with the sample data: a preset's universe when the user gives none.
DEFAULT_UNIVERSE_CODES = ("005930", "000660", "005380", "035420", "035720")
SIZINGS = ("all_in", "equal_weight", "fixed_krw", "pct_equity")


@dataclass(frozen=True)
class Preset:
    key: str
    strategy_type: str
    name_ko: str
    name_en: str
    description_ko: str
    description_en: str
    params: Mapping[str, Any] = field(default_factory=dict)
    sizing: str = "equal_weight"
    sizing_value: Decimal | None = None
    max_positions: int | None = None
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None
    trailing_stop_pct: Decimal | None = None
    max_holding_days: int | None = None

    def name(self, language: str) -> str:
        return self.name_ko if language.startswith("ko") else self.name_en

    def description(self, language: str) -> str:
        return self.description_ko if language.startswith("ko") else self.description_en

    def risk(self) -> dict[str, Any]:
        """The sizing and risk fields, as ``services.strategy_create`` takes them."""
        return {
            "sizing": self.sizing,
            "sizing_value": self.sizing_value,
            "max_positions": self.max_positions,
            "stop_loss_pct": self.stop_loss_pct,
            "take_profit_pct": self.take_profit_pct,
            "trailing_stop_pct": self.trailing_stop_pct,
            "max_holding_days": self.max_holding_days,
        }


D = Decimal
_PRESETS = [
    # --- moving-average crosses: trend following, cut losers, let winners run ------------------------
    Preset("sma_cross.default", "sma_cross", "SMA 10/30 기본", "SMA 10/30 (default)",
           "10일선이 30일선을 상향 돌파하면 매수, 하향 돌파하면 매도하는 기본 추세추종.",
           "Buy when the 10-day average crosses above the 30-day one, sell when it crosses below.",
           {"fast": 10, "slow": 30}, stop_loss_pct=D("8")),
    Preset("sma_cross.golden_5_20", "sma_cross", "5/20 단기 골든크로스", "5/20 short-term golden cross",
           "5일선과 20일선의 교차로 짧은 추세를 따라갑니다. 신호가 잦아 손절을 짧게 둡니다.",
           "Follows short swings with the 5- and 20-day averages; frequent signals, so a tight stop.",
           {"fast": 5, "slow": 20}, max_positions=5, stop_loss_pct=D("5"), take_profit_pct=D("15")),
    Preset("sma_cross.trend_20_60", "sma_cross", "20/60 중기 추세", "20/60 medium-term trend",
           "한 달(20일)과 석 달(60일) 이동평균의 교차. 국내 증권사 차트에서 흔히 쓰는 조합입니다.",
           "One month (20 days) against one quarter (60 days): the pair Korean brokers' charts show.",
           {"fast": 20, "slow": 60}, max_positions=5, stop_loss_pct=D("8"), trailing_stop_pct=D("15")),
    Preset("sma_cross.golden_50_200", "sma_cross", "50/200 장기 골든크로스", "50/200 long-term golden cross",
           "고전적인 골든크로스·데드크로스. 신호는 드물지만 큰 추세를 오래 보유합니다.",
           "The classic golden and death cross: rare signals that hold big trends for long.",
           {"fast": 50, "slow": 200}, trailing_stop_pct=D("20")),
    Preset("ema_cross.default", "ema_cross", "EMA 12/26 기본", "EMA 12/26 (default)",
           "12일과 26일 지수이동평균의 교차. 단순이동평균보다 최근 가격에 빨리 반응합니다.",
           "12- and 26-day exponential averages: quicker to react than simple averages.",
           {"fast": 12, "slow": 26}, stop_loss_pct=D("7")),
    Preset("ema_cross.trend_20_50", "ema_cross", "EMA 20/50 추세", "EMA 20/50 trend",
           "20일과 50일 지수이동평균으로 중기 추세를 따릅니다.",
           "Medium-term trend with the 20- and 50-day exponential averages.",
           {"fast": 20, "slow": 50}, max_positions=5, stop_loss_pct=D("8"), trailing_stop_pct=D("15")),
    Preset("macd_cross.default", "macd_cross", "MACD 12/26/9 기본", "MACD 12/26/9 (default)",
           "MACD선이 시그널선을 상향 돌파하면 매수, 하향 돌파하면 매도합니다.",
           "Buy when MACD crosses above its signal line, sell when it crosses below.",
           {"fast": 12, "slow": 26, "signal": 9}, stop_loss_pct=D("7")),
    Preset("macd_cross.slow_19_39_9", "macd_cross", "MACD 19/39/9 완만", "MACD 19/39/9 (slower)",
           "기간을 늘려 잡음을 줄인 MACD. 신호가 적고 추세가 분명할 때만 들어갑니다.",
           "A slower MACD with less noise: fewer signals, only on clear trends.",
           {"fast": 19, "slow": 39, "signal": 9}, stop_loss_pct=D("8"), trailing_stop_pct=D("15")),
    # --- mean reversion: buy weakness, take the bounce, do not wait forever ---------------------------
    Preset("rsi_reversion.default", "rsi_reversion", "RSI 14 30/70 기본", "RSI 14 30/70 (default)",
           "14일 RSI가 30 아래로 내려가면 매수, 70 위로 올라가면 매도하는 역추세.",
           "Buy when the 14-day RSI drops below 30, sell when it rises above 70.",
           {"period": 14, "buy_below": 30.0, "sell_above": 70.0},
           max_positions=5, stop_loss_pct=D("10"), max_holding_days=30),
    Preset("rsi_reversion.connors_2", "rsi_reversion", "2일 RSI (코너스식)", "2-period RSI (Connors-style)",
           "2일 RSI가 10 아래로 급락하면 매수하고 반등(70 위)하거나 5일이 지나면 청산합니다.",
           "Buy a sharp dip of the 2-day RSI below 10; exit on the bounce above 70 or after 5 days.",
           {"period": 2, "buy_below": 10.0, "sell_above": 70.0},
           max_positions=5, max_holding_days=5),
    Preset("rsi_reversion.wide_14_25_75", "rsi_reversion", "RSI 14 25/75 보수적", "RSI 14 25/75 (conservative)",
           "더 깊은 과매도(25)에서만 사고 더 강한 과매수(75)에서 팝니다.",
           "Buys only deeper oversold readings (25) and sells stronger overbought ones (75).",
           {"period": 14, "buy_below": 25.0, "sell_above": 75.0},
           max_positions=5, stop_loss_pct=D("10"), max_holding_days=40),
    Preset("bollinger_reversion.default", "bollinger_reversion", "볼린저 20/2 기본", "Bollinger 20/2 (default)",
           "종가가 20일 볼린저 밴드 하단(2 표준편차)을 벗어나면 매수, 중심선 회복 시 매도합니다.",
           "Buy when the close falls below the lower 20-day band (2 standard deviations); sell back at the middle.",
           {"period": 20, "width": 2.0}, max_positions=5, stop_loss_pct=D("8"), max_holding_days=20),
    Preset("bollinger_reversion.wide_20_2_5", "bollinger_reversion", "볼린저 20/2.5 깊은 눌림",
           "Bollinger 20/2.5 (deeper dips)",
           "2.5 표준편차 밖의 더 깊은 하락만 매수합니다. 신호는 적고 반등 여지는 큽니다.",
           "Buys only deeper falls, 2.5 standard deviations out: fewer signals, more room to bounce.",
           {"period": 20, "width": 2.5}, max_positions=5, stop_loss_pct=D("10"), max_holding_days=20),
    # --- breakouts --------------------------------------------------------------------------------------
    Preset("donchian_breakout.default", "donchian_breakout", "터틀 20/10 (시스템 1)", "Turtle 20/10 (system 1)",
           "20일 최고가 돌파 시 매수, 10일 최저가 이탈 시 매도하는 터틀 트레이딩의 첫 번째 시스템.",
           "The Turtles' first system: buy a 20-day high breakout, sell on a 10-day low.",
           {"entry_period": 20, "exit_period": 10}, max_positions=5, stop_loss_pct=D("8")),
    Preset("donchian_breakout.turtle_55_20", "donchian_breakout", "터틀 55/20 (시스템 2)", "Turtle 55/20 (system 2)",
           "55일 최고가 돌파 시 매수, 20일 최저가 이탈 시 매도. 긴 추세를 노립니다.",
           "The Turtles' second system: buy a 55-day high breakout, sell on a 20-day low; for long trends.",
           {"entry_period": 55, "exit_period": 20}, max_positions=5, stop_loss_pct=D("10")),
    Preset("volatility_breakout.default", "volatility_breakout", "변동성 돌파 k=0.5", "Volatility breakout k=0.5",
           "시가 + 0.5 x 전일 변동폭을 넘으면 매수하고 다음 날 시가에 파는 래리 윌리엄스 전략.",
           "Larry Williams: buy above the open + 0.5 x the previous day's range, sell at the next open.",
           {"k": 0.5}, max_positions=5),
    Preset("volatility_breakout.k_0_3", "volatility_breakout", "변동성 돌파 k=0.3 (공격적)",
           "Volatility breakout k=0.3 (aggressive)",
           "돌파 기준을 낮춰(k=0.3) 더 자주 진입합니다. 거래가 많아 비용 영향이 큽니다.",
           "A lower bar (k=0.3) enters more often; more trades, so costs weigh more.",
           {"k": 0.3}, max_positions=5, stop_loss_pct=D("3")),
    # --- the benchmark ---------------------------------------------------------------------------------
    Preset("buy_and_hold.default", "buy_and_hold", "매수 후 보유", "Buy and hold",
           "첫날 균등 비중으로 사서 끝까지 보유합니다. 다른 전략과 비교할 기준선입니다.",
           "Buy the universe in equal weights on the first day and hold: the baseline to compare against.",
           {}),
]


# What each type does, in words that hold for any parameters: the strategy form shows it next to
# the parameter fields, whatever values they hold (a preset's text names its own numbers).
TYPE_DESCRIPTIONS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "sma_cross": ("단기 이동평균선이 장기 이동평균선을 상향 돌파하면 매수, 하향 돌파하면 매도하는 추세추종.",
                  "Buy when the fast moving average crosses above the slow one, sell when it crosses below."),
    "ema_cross": ("단기·장기 지수이동평균의 교차로 매매합니다. 단순이동평균보다 최근 가격에 빨리 반응합니다.",
                  "Trades the crosses of a fast and a slow exponential average: quicker to react than simple ones."),
    "macd_cross": ("MACD선이 시그널선을 상향 돌파하면 매수, 하향 돌파하면 매도합니다.",
                   "Buy when MACD crosses above its signal line, sell when it crosses below."),
    "rsi_reversion": ("RSI가 매수 기준 아래로 내려가면 매수, 매도 기준 위로 올라가면 매도하는 역추세.",
                      "Buy when the RSI drops below the buy level, sell when it rises above the sell level."),
    "bollinger_reversion": ("종가가 볼린저 밴드 하단을 벗어나면 매수, 중심선을 회복하면 매도합니다.",
                            "Buy when the close falls below the lower Bollinger band; sell back at the middle."),
    "donchian_breakout": ("진입 기간의 최고가를 돌파하면 매수, 청산 기간의 최저가를 이탈하면 매도하는 채널 돌파.",
                          "Buy a breakout above the entry period's high, sell on a break below the exit period's low."),
    "volatility_breakout": ("시가 + k x 전일 변동폭을 넘으면 매수하고 다음 날 시가에 파는 래리 윌리엄스 전략.",
                            "Larry Williams: buy above the open + k x the previous day's range, sell at the next open."),
    "buy_and_hold": ("첫날 균등 비중으로 사서 끝까지 보유합니다. 다른 전략과 비교할 기준선입니다.",
                     "Buy the universe in equal weights on the first day and hold: the baseline to compare against."),
})


def type_description(strategy_type: str, language: str) -> str:
    """What ``strategy_type`` does, for any parameters; empty for an unknown type."""
    korean, english = TYPE_DESCRIPTIONS.get(strategy_type, ("", ""))
    return korean if language.startswith("ko") else english


class PresetError(ValueError):
    """A preset in this module is wrong (raised at import)."""


def _check(preset: Preset) -> None:
    if preset.strategy_type not in signals.REGISTRY:
        raise PresetError(f"{preset.key}: unknown strategy type {preset.strategy_type!r}")
    if not preset.key.startswith(f"{preset.strategy_type}."):
        raise PresetError(f"{preset.key}: the key must start with {preset.strategy_type!r}.")
    try:
        typed = signals.validate_params(preset.strategy_type, preset.params)
    except signals.ParamError as error:
        raise PresetError(f"{preset.key}: {error}") from None
    if typed != dict(preset.params) or any(type(typed[k]) is not type(v) for k, v in preset.params.items()):
        raise PresetError(f"{preset.key}: give every parameter, typed as the registry returns it: {typed}")
    if preset.sizing not in SIZINGS:
        raise PresetError(f"{preset.key}: unknown sizing {preset.sizing!r}")
    if (preset.sizing in ("fixed_krw", "pct_equity")) != (preset.sizing_value is not None):
        raise PresetError(f"{preset.key}: sizing_value goes with fixed_krw and pct_equity only")
    for name in ("stop_loss_pct", "trailing_stop_pct"):
        value = getattr(preset, name)
        if value is not None and not 0 < value < 100:
            raise PresetError(f"{preset.key}: {name} must be in (0, 100)")
    if preset.take_profit_pct is not None and preset.take_profit_pct <= 0:
        raise PresetError(f"{preset.key}: take_profit_pct must be positive")
    for name in ("max_positions", "max_holding_days"):
        value = getattr(preset, name)
        if value is not None and value < 1:
            raise PresetError(f"{preset.key}: {name} must be at least 1")


def _index(presets: list[Preset]) -> Mapping[str, Preset]:
    by_key: dict[str, Preset] = {}
    for preset in presets:
        _check(preset)
        if preset.key in by_key:
            raise PresetError(f"{preset.key}: defined twice")
        by_key[preset.key] = preset
    missing = [name for name in signals.REGISTRY if f"{name}.default" not in by_key]
    if missing:
        raise PresetError(f"no default preset for: {', '.join(missing)}")
    return MappingProxyType(by_key)


PRESETS: Mapping[str, Preset] = _index(_PRESETS)


def preset_list(*, strategy_type: str | None = None) -> list[Preset]:
    """Presets in registry order of their type, the default first within a type."""
    order = {name: i for i, name in enumerate(signals.REGISTRY)}
    found = [p for p in PRESETS.values() if strategy_type is None or p.strategy_type == strategy_type]
    return sorted(found, key=lambda p: (order[p.strategy_type], not p.key.endswith(".default")))


def preset_get(key: str) -> Preset | None:
    return PRESETS.get(key)
