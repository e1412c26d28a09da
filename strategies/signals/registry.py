"""The strategy types, found by scanning this package: adding a type is adding one module.

A module is a strategy type when it defines ``NAME`` (equal to its module name), ``LABEL_KO``,
``LABEL_EN``, ``PARAMS`` (a list of :class:`~.params.Param`) and ``signals(*, open, high, low, close,
**params)``; it may define ``check(params) -> dict[str, list[str]]`` for cross-field rules. Modules
whose name starts with ``_`` and the infrastructure modules are skipped.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from .params import validate
from .result import Signals

_PACKAGE = __name__.rpartition(".")[0]
_REQUIRED = ("NAME", "LABEL_KO", "LABEL_EN", "PARAMS", "signals")


class UnknownStrategyType(LookupError):
    """No strategy type by that name; ``known`` lists the names there are."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"Unknown strategy type {name!r}; known types: {', '.join(known)}")


def _discover() -> dict[str, ModuleType]:
    package = importlib.import_module(_PACKAGE)
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or f"{_PACKAGE}.{info.name}" == __name__:
            continue
        module = importlib.import_module(f"{_PACKAGE}.{info.name}")
        if not all(hasattr(module, attr) for attr in _REQUIRED):
            continue
        if module.NAME != info.name:
            raise ImportError(f"{module.__name__}: NAME {module.NAME!r} must equal the module name")
        validate(module.PARAMS, {}, getattr(module, "check", None))  # the defaults must be valid
        found[module.NAME] = module
    return dict(sorted(found.items()))


REGISTRY: dict[str, ModuleType] = _discover()


def get(name: str) -> ModuleType:
    """The module of strategy type ``name``; raises :class:`UnknownStrategyType`."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownStrategyType(name, list(REGISTRY)) from None


def schema_as_dict(name: str) -> dict[str, Any]:
    """``{"name", "label_ko", "label_en", "params": [Param.as_dict(), ...]}`` for forms, API, admin."""
    module = get(name)
    return {
        "name": module.NAME,
        "label_ko": module.LABEL_KO,
        "label_en": module.LABEL_EN,
        "params": [param.as_dict() for param in module.PARAMS],
    }


def choices(language: str = "en") -> list[tuple[str, str]]:
    """``(name, label)`` pairs in the registry's order, for a select field."""
    attr = "LABEL_KO" if language.startswith("ko") else "LABEL_EN"
    return [(name, getattr(module, attr)) for name, module in REGISTRY.items()]


def validate_params(name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed parameters of type ``name`` with defaults filled in; raises ``ParamError`` or
    :class:`UnknownStrategyType`."""
    module = get(name)
    return validate(module.PARAMS, raw, getattr(module, "check", None))


def compute(name: str, *, open: np.ndarray | None = None, high: np.ndarray | None = None,
            low: np.ndarray | None = None, close: np.ndarray, params: Mapping[str, Any]) -> Signals:
    """Validate ``params`` and run type ``name`` on the price arrays (symbols x bars, NaN = no bar).

    Returns :class:`~.result.Signals`, which unpacks as ``(entries, exits)`` and carries
    ``entry_price`` (None except for intraday-entry types). Types that read open/high/low raise
    ``ValueError`` when those are not given.
    """
    module = get(name)
    typed = validate_params(name, params)
    prices = {"open": open, "high": high, "low": low, "close": close}
    missing = [field for field in ("open", "high", "low") if prices[field] is None and _reads(module, field)]
    if missing:
        raise ValueError(f"strategy type {name!r} needs price arrays: {', '.join(missing)}")
    return module.signals(**prices, **typed)


def _reads(module: ModuleType, field: str) -> bool:
    """Whether ``signals`` takes ``field`` as a required argument (no default)."""
    parameter = inspect.signature(module.signals).parameters.get(field)
    return parameter is not None and parameter.default is inspect.Parameter.empty
