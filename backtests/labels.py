"""What the engine's codes say to a user: one label per code, defined once.

The engine (``backtests.engine``) is a pure core and speaks in codes: exit reasons (``"stop_loss"``),
sizing names (``"equal_weight"``), fill and account modes. Pages show them through the
``code_label`` template filter (``{{ trade.exit_reason|code_label:"exit_reason" }}``), which reads
the tables below; a code no table knows is shown as it is rather than failing the page. The tests
check that every code the engine can produce has a label here.

Short English words that mean something else elsewhere on the site ("Signal", "Open") carry a
``pgettext`` context so their Korean can differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from backtests.models import Accounts, Fill
from strategies.models import Sizing

EXIT_REASONS: Mapping[str, Promise] = {
    "signal": pgettext_lazy("exit reason", "Exit signal"),
    "stop_loss": pgettext_lazy("exit reason", "Stop loss"),
    "take_profit": pgettext_lazy("exit reason", "Take profit"),
    "trailing_stop": pgettext_lazy("exit reason", "Trailing stop"),
    "max_holding": pgettext_lazy("exit reason", "Max holding period"),
    "open": pgettext_lazy("exit reason", "Still open"),
}

SIZINGS: Mapping[str, Promise] = dict(Sizing.choices)
FILLS: Mapping[str, Promise] = dict(Fill.choices)
ACCOUNTS: Mapping[str, Promise] = dict(Accounts.choices)

# kind (the filter's argument) -> code -> label
LABELS: Mapping[str, Mapping[str, Promise]] = {
    "exit_reason": EXIT_REASONS,
    "sizing": SIZINGS,
    "fill": FILLS,
    "accounts": ACCOUNTS,
}


def code_label(code: object, kind: str) -> str:
    """The label of ``code`` among the codes of ``kind``; the code itself when unknown.

    Raises ``KeyError`` for an unknown ``kind`` (a typo in a template, not a user's input).
    """
    label = LABELS[kind].get(code) if isinstance(code, str) else None
    return str(label) if label is not None else ("" if code is None else str(code))
