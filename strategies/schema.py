"""The registry's parameter schemas at the Django edge: labels, help and messages in the user's language.

``strategies.signals`` is a pure core: its ``Param`` has help in Korean and English but no label, and
its validation messages are English constants (format templates). Here each template is repeated as
a translatable msgid (a test keeps the two lists equal) and a formatted message is translated by
matching it against its template.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from strategies import signals
from strategies.signals import params as signal_params

# Readable names of parameters; (type, name) entries override a plain name for one type.
PARAM_LABELS: dict[str | tuple[str, str], Promise] = {
    "fast": _("Fast period"),
    "slow": _("Slow period"),
    "period": _("Period"),
    "buy_below": _("Buy below (RSI)"),
    "sell_above": _("Sell above (RSI)"),
    "width": _("Band width (σ)"),
    "entry_period": _("Entry channel (bars)"),
    "exit_period": _("Exit channel (bars)"),
    "signal": _("Signal period"),
    "k": _("Range multiple k"),
    ("rsi_reversion", "period"): _("RSI period"),
    ("bollinger_reversion", "period"): _("Band period"),
}

# The registry's message templates (strategies/signals/params.py), as msgids.
MESSAGE_TEMPLATES: dict[str, Promise] = {
    signal_params.UNKNOWN_PARAM: _("Unknown parameter; known parameters: {known}."),
    signal_params.VALUE_REQUIRED: _("A value is required."),
    signal_params.NOT_AN_INTEGER: _("Enter a whole number."),
    signal_params.NOT_A_NUMBER: _("Enter a number."),
    signal_params.NOT_A_BOOLEAN: _("Enter true or false."),
    signal_params.BELOW_MIN: _("Must be at least {min}."),
    signal_params.ABOVE_MAX: _("Must be at most {max}."),
    signal_params.MUST_BE_GREATER: _("Must be greater than {other} ({value})."),
}


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$", re.DOTALL)


_PATTERNS = [(_pattern(template), msgid) for template, msgid in MESSAGE_TEMPLATES.items()]


def _korean() -> bool:
    return (translation.get_language() or "ko").startswith("ko")


def param_label(strategy_type: str, name: str) -> str:
    """The readable name of a parameter in the active language (its name when none is known)."""
    label = PARAM_LABELS.get((strategy_type, name)) or PARAM_LABELS.get(name)
    return str(label) if label is not None else name.replace("_", " ").capitalize()


def param_help(param: signals.Param) -> str:
    return param.help_ko if _korean() else param.help_en


def type_label(strategy_type: str) -> str:
    module = signals.REGISTRY.get(strategy_type)
    if module is None:
        return strategy_type
    return module.LABEL_KO if _korean() else module.LABEL_EN


def type_choices() -> list[tuple[str, str]]:
    """``(name, label)`` of every strategy type, labels in the active language."""
    return signals.choices("ko" if _korean() else "en")


def translate_param_message(strategy_type: str, message: str) -> str:
    """A registry validation message in the active language (unchanged when no template matches).

    The ``{other}`` of "must be greater than" is a parameter name; it is shown as that parameter's label.
    """
    for pattern, msgid in _PATTERNS:
        found = pattern.match(message)
        if found is None:
            continue
        values = found.groupdict()
        if "other" in values:
            values["other"] = param_label(strategy_type, values["other"])
        return gettext(str(msgid)).format(**values)
    return message


def param_errors(strategy_type: str, error: signals.ParamError) -> dict[str, list[str]]:
    """``ParamError.errors`` as field errors keyed ``params.<name>``, translated."""
    return {
        f"params.{name}": [translate_param_message(strategy_type, message) for message in messages]
        for name, messages in error.errors.items()
    }


def type_schema(strategy_type: str) -> dict[str, Any]:
    """``schema_as_dict`` plus each parameter's label in Korean and English, and label/help in the
    active language; for the API and the forms."""
    schema = signals.schema_as_dict(strategy_type)
    module = signals.get(strategy_type)
    for described, param in zip(schema["params"], module.PARAMS, strict=True):
        with translation.override("ko"):
            described["label_ko"] = param_label(strategy_type, param.name)
        with translation.override("en"):
            described["label_en"] = param_label(strategy_type, param.name)
        described["label"] = param_label(strategy_type, param.name)
        described["help"] = param_help(param)
    schema["label"] = type_label(strategy_type)
    return schema
