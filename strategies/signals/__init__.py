"""Strategy types as pure functions: price arrays in, entry and exit signals out.

Pure core (no Django imports). Prices are 2-D float64 arrays (symbols x bars) aligned on dates, NaN
where a symbol has no bar; signals are boolean arrays of the same shape, a signal at bar t being
decided on bar t's close. One module per strategy type, found by :mod:`.registry`; parameters are
declared and validated by :mod:`.params`; crosses are strict (:mod:`.crosses`); indicators run on
each symbol's own present bars (:mod:`._bars`).

Entry points: ``REGISTRY``, ``get``, ``schema_as_dict``, ``validate_params``, ``compute``. Every
``signals`` function and ``compute`` return :class:`.result.Signals`, which unpacks as
``(entries, exits)``; its ``entry_price`` is None except for ``volatility_breakout``, whose entries
fill during bar t at that price (read that module's docstring).
"""

from .crosses import crossed_above, crossed_below, crosses
from .params import Param, ParamError, validate
from .registry import REGISTRY, UnknownStrategyType, choices, compute, get, schema_as_dict, validate_params
from .result import Signals

__all__ = [
    "REGISTRY",
    "Param",
    "ParamError",
    "Signals",
    "UnknownStrategyType",
    "choices",
    "compute",
    "crossed_above",
    "crossed_below",
    "crosses",
    "get",
    "schema_as_dict",
    "validate",
    "validate_params",
]
