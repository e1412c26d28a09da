"""Every write to strategies and watchlists.

Services take keyword-only arguments, run in a transaction, and raise Django's ``ValidationError``
with messages keyed by field: ``name``, ``strategy_type``, ``params.<name>`` (one key per parameter of
the type's schema, unknown names included), ``instruments`` (codes), ``watchlist``, and the risk fields
(``sizing``, ``sizing_value``, ``max_positions``, ``stop_loss_pct``, ``take_profit_pct``,
``trailing_stop_pct``, ``max_holding_days``). Every error is reported at once; nothing is saved then.
Objects passed in (strategy, watchlist) were fetched through ``selectors`` by their owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.http import Http404
from django.utils.translation import get_language
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core import limits
from core.errors import ApplicationError, NotFound
from marketdata.models import Instrument
from strategies import presets, schema, signals
from strategies.models import SIZINGS_WITH_VALUE, Sizing, Strategy, Watchlist

NAME_REQUIRED = _("Enter a name.")
NAME_TOO_LONG = _("Use at most 100 characters.")
STRATEGY_NAME_TAKEN = _("You already have a strategy with this name.")
WATCHLIST_NAME_TAKEN = _("You already have a watchlist with this name.")
TYPE_REQUIRED = _("Choose a strategy type.")
UNKNOWN_TYPE = _("Unknown strategy type: {value}.")
PARAMS_NOT_A_MAPPING = _("Parameters must be an object of name: value pairs.")
UNIVERSE_REQUIRED = _("Choose at least one instrument or a watchlist.")
UNIVERSE_BOTH = _("Choose either instruments or a watchlist, not both.")
UNKNOWN_CODES = _("Unknown instrument codes: {codes}")
WATCHLIST_NOT_YOURS = _("Choose one of your watchlists.")
WATCHLIST_EMPTY = _("This watchlist has no instruments.")
WATCHLIST_INSTRUMENTS_REQUIRED = _("Add at least one instrument.")
TOO_MANY_SYMBOLS = _("Choose at most {limit} instruments (you chose {count}).")
WATCHLIST_IN_USE = _("This watchlist is the universe of: {names}. Give those strategies another universe first.")
UNKNOWN_PRESET = _("Unknown preset: {key}")
COPY_NAME = _("{name} (copy)")
COPY_NAME_N = _("{name} (copy {n})")

NAME_MAX_LENGTH = 100
_UNSET: Any = object()


class PresetNotFound(NotFound, Http404):
    """No preset has this key: a 404 for the API (error body) and for pages alike."""

    def __init__(self, key: str) -> None:
        super().__init__(UNKNOWN_PRESET.format(key=key))


class WatchlistInUse(ApplicationError):
    """The watchlist is some strategy's universe; deleting it would leave them trading nothing."""

    status = 409
    code = "watchlist_in_use"


# ---------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------
@transaction.atomic
def strategy_create(
    *,
    user: User,
    name: str,
    strategy_type: str,
    params: Mapping[str, Any] | None = None,
    instruments: Sequence[str] = (),
    watchlist: Watchlist | None = None,
    description: str = "",
    sizing: str = Sizing.EQUAL_WEIGHT,
    sizing_value: Decimal | None = None,
    max_positions: int | None = None,
    stop_loss_pct: Decimal | None = None,
    take_profit_pct: Decimal | None = None,
    trailing_stop_pct: Decimal | None = None,
    max_holding_days: int | None = None,
    preset_key: str = "",
) -> Strategy:
    """A new strategy of ``user``; ``params`` missing names take the type's defaults.

    The universe is ``instruments`` (codes) or ``watchlist`` (one of the user's), exactly one.
    Raises ValidationError (see the module docstring).
    """
    _plan_allows_another(user)
    strategy = Strategy(owner=user, preset_key=preset_key)
    values = {
        "name": name, "description": description, "strategy_type": strategy_type, "sizing": sizing,
        "sizing_value": sizing_value, "max_positions": max_positions, "stop_loss_pct": stop_loss_pct,
        "take_profit_pct": take_profit_pct, "trailing_stop_pct": trailing_stop_pct,
        "max_holding_days": max_holding_days,
    }  # fmt: skip
    return _save(strategy, values=values, params=params or {}, universe=(list(instruments), watchlist))


def _plan_allows_another(user: User) -> None:
    """The plan's strategy limit (``coupons``: the message names the plan that lifts it)."""
    from core.errors import ApplicationError
    from coupons.lifecycle import limit_check

    try:
        limit_check(user=user, field="max_strategies", used=Strategy.objects.filter(owner=user).count())
    except ApplicationError as exc:
        raise ValidationError(exc.message, code="plan_limit") from None


@transaction.atomic
def strategy_update(*, strategy: Strategy, replace_params: bool = False, **changes: Any) -> Strategy:
    """Change any of the fields ``strategy_create`` takes (but ``user``); the others keep their value.

    ``params``: merged into the current ones when the type stays (unless ``replace_params``), the
    whole set (defaults for the rest) when ``strategy_type`` changes; a new type without ``params``
    starts from its defaults.
    Universe: giving ``instruments`` (non-empty) drops the watchlist, giving a ``watchlist`` drops the
    instruments; giving both is an error. Raises ValidationError; the strategy is unchanged then.
    """
    allowed = {
        "name", "description", "strategy_type", "params", "instruments", "watchlist", "sizing", "sizing_value",
        "max_positions", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct", "max_holding_days",
    }  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"strategy_update() got unexpected fields: {', '.join(sorted(unknown))}")
    strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
    plain = allowed - {"params", "instruments", "watchlist"}
    values = {field: changes.get(field, getattr(strategy, field)) for field in plain}
    params = changes.get("params", _UNSET)
    if values["strategy_type"] != strategy.strategy_type or replace_params:
        params = {} if params is _UNSET or params is None else params
    elif params is _UNSET:
        params = strategy.params
    elif isinstance(params, Mapping):
        params = {**strategy.params, **params}
    return _save(strategy, values=values, params=params, universe=_universe_change(strategy, changes))


@transaction.atomic
def strategy_clone(*, strategy: Strategy, name: str | None = None) -> Strategy:
    """A copy of ``strategy`` for its owner, named ``name`` or "<name> (copy)" (numbered when taken)."""
    copy_name = name if name is not None else _copy_name(strategy.owner, strategy.name)
    return strategy_create(
        user=strategy.owner, name=copy_name, strategy_type=strategy.strategy_type, params=strategy.params,
        instruments=[] if strategy.watchlist_id else strategy.universe_codes(), watchlist=strategy.watchlist,
        description=strategy.description, sizing=strategy.sizing, sizing_value=strategy.sizing_value,
        max_positions=strategy.max_positions, stop_loss_pct=strategy.stop_loss_pct,
        take_profit_pct=strategy.take_profit_pct, trailing_stop_pct=strategy.trailing_stop_pct,
        max_holding_days=strategy.max_holding_days, preset_key=strategy.preset_key,
    )  # fmt: skip


@transaction.atomic
def strategy_delete(*, strategy: Strategy) -> None:
    strategy.delete()


@transaction.atomic
def strategy_clone_preset(
    *,
    user: User,
    preset_key: str,
    name: str | None = None,
    instruments: Sequence[str] | None = None,
    watchlist: Watchlist | None = None,
) -> Strategy:
    """A new strategy of ``user`` from a preset: its type, parameters and risk settings.

    Named ``name`` or the preset's name in the active language (numbered when taken). Without
    ``instruments`` or ``watchlist`` the universe is the ``presets.DEFAULT_UNIVERSE_CODES`` the
    database has. Raises PresetNotFound (a 404) or ValidationError.
    """
    preset = presets.preset_get(preset_key)
    if preset is None:
        raise PresetNotFound(preset_key)
    if not instruments and watchlist is None:
        instruments = default_universe_codes()
    language = get_language() or "ko"
    return strategy_create(
        user=user,
        name=name if name is not None else preset_strategy_name(user=user, preset=preset),
        strategy_type=preset.strategy_type,
        params=dict(preset.params),
        instruments=instruments or [],
        watchlist=watchlist,
        description=preset.description(language),
        preset_key=preset.key,
        **preset.risk(),
    )


def preset_strategy_name(*, user: User, preset: presets.Preset) -> str:
    """The name a clone of ``preset`` gets: the preset's, in the active language, numbered when taken."""
    return _numbered_name(user, preset.name(get_language() or "ko"))


class _DryRun(Exception):
    pass


def strategy_validate(*, user: User, strategy: Strategy | None = None, **fields: Any) -> None:
    """Raise the ValidationError that creating (or updating ``strategy``) with ``fields`` would raise,
    and write nothing: for forms that save later, such as the admin's."""
    try:
        with transaction.atomic():
            if strategy is None:
                strategy_create(user=user, **fields)
            else:
                strategy_update(strategy=strategy, **fields)
            raise _DryRun
    except _DryRun:
        pass


def watchlist_validate(*, user: User, watchlist: Watchlist | None = None, **fields: Any) -> None:
    """Like ``strategy_validate``, for a watchlist."""
    try:
        with transaction.atomic():
            if watchlist is None:
                watchlist_create(user=user, **fields)
            else:
                watchlist_update(watchlist=watchlist, **fields)
            raise _DryRun
    except _DryRun:
        pass


def default_universe_codes() -> list[str]:
    """The preset universe's codes that the instrument master has."""
    found = set(Instrument.objects.filter(code__in=presets.DEFAULT_UNIVERSE_CODES).values_list("code", flat=True))
    return [code for code in presets.DEFAULT_UNIVERSE_CODES if code in found]


def _universe_change(strategy: Strategy, changes: Mapping[str, Any]) -> tuple[list[str], Watchlist | None] | None:
    """The universe after an update, or None when neither part of it is given."""
    if "instruments" not in changes and "watchlist" not in changes:
        return None
    codes = changes.get("instruments")
    watchlist = changes.get("watchlist", _UNSET)
    if codes is None:
        codes = [] if watchlist not in (None, _UNSET) else [i.code for i in strategy.instruments.all()]
    if watchlist is _UNSET:
        watchlist = None if codes else strategy.watchlist
    return list(codes), watchlist


def _save(
    strategy: Strategy,
    *,
    values: dict[str, Any],
    params: Any,
    universe: tuple[list[str], Watchlist | None] | None,
) -> Strategy:
    """Validate everything, then save the row and its instruments; raise every error at once."""
    errors: dict[str, list[str]] = {}
    values["name"] = _clean_name(values.get("name"), errors)
    if values["sizing"] not in SIZINGS_WITH_VALUE:
        values["sizing_value"] = None  # a leftover amount of another sizing is not an error
    for field, value in values.items():
        setattr(strategy, field, value)
    strategy.params = _clean_params(values["strategy_type"], params, errors)
    if "name" not in errors and _name_taken(Strategy, strategy.owner, values["name"], exclude=strategy.pk):
        errors["name"] = [str(STRATEGY_NAME_TAKEN)]
    instruments: list[Instrument] | None = None
    if universe is not None:
        instruments, strategy.watchlist = _clean_universe(strategy.owner, *universe, errors)
    try:
        strategy.full_clean(
            exclude=["owner", "params", "name", "strategy_type", "watchlist", *errors],
            validate_unique=False, validate_constraints=False,
        )  # fmt: skip
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, messages)
    if errors:
        raise ValidationError(errors)
    strategy.save()
    if instruments is not None:
        strategy.instruments.set(instruments)
    return strategy


def _clean_name(raw: Any, errors: dict[str, list[str]]) -> str:
    name = str(raw or "").strip()
    if not name:
        errors["name"] = [str(NAME_REQUIRED)]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [str(NAME_TOO_LONG)]
    return name


def _clean_params(strategy_type: str, raw: Any, errors: dict[str, list[str]]) -> dict[str, Any]:
    """The typed parameters, or ``raw`` unchanged with errors recorded."""
    if not strategy_type:
        errors["strategy_type"] = [str(TYPE_REQUIRED)]
        return raw
    if strategy_type not in signals.REGISTRY:
        errors["strategy_type"] = [UNKNOWN_TYPE.format(value=strategy_type)]
        return raw
    if not isinstance(raw, Mapping):
        errors["params"] = [str(PARAMS_NOT_A_MAPPING)]
        return raw
    try:
        return signals.validate_params(strategy_type, raw)
    except signals.ParamError as error:
        errors.update(schema.param_errors(strategy_type, error))
        return dict(raw)


def _clean_universe(
    owner: User, codes: Sequence[str], watchlist: Watchlist | None, errors: dict[str, list[str]]
) -> tuple[list[Instrument], Watchlist | None]:
    codes = normalize_codes(codes)
    if _too_many(codes, errors):
        return [], None
    if codes and watchlist is not None:
        errors["watchlist"] = [str(UNIVERSE_BOTH)]
        return [], watchlist
    if watchlist is not None:
        if watchlist.owner_id != owner.pk:
            errors["watchlist"] = [str(WATCHLIST_NOT_YOURS)]
        elif not watchlist.instruments.exists():
            errors["watchlist"] = [str(WATCHLIST_EMPTY)]
        return [], watchlist
    if not codes:
        errors["instruments"] = [str(UNIVERSE_REQUIRED)]
        return [], None
    return _instruments_of(codes, errors), None


def _too_many(codes: Sequence[str], errors: dict[str, list[str]]) -> bool:
    """Whether ``codes`` are more than a universe may hold (recorded under ``instruments``)."""
    if len(codes) <= limits.max_symbols():
        return False
    errors["instruments"] = [TOO_MANY_SYMBOLS.format(limit=limits.max_symbols(), count=len(codes))]
    return True


def _instruments_of(codes: list[str], errors: dict[str, list[str]]) -> list[Instrument]:
    found = {instrument.code: instrument for instrument in Instrument.objects.filter(code__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        errors["instruments"] = [UNKNOWN_CODES.format(codes=", ".join(unknown))]
    return [found[code] for code in codes if code in found]


def normalize_codes(codes: Iterable[str] | str) -> list[str]:
    """Codes upper-cased, stripped, de-duplicated in order; a string is split on commas and spaces."""
    if isinstance(codes, str):
        codes = codes.replace(",", " ").split()
    seen: dict[str, None] = {}
    for code in codes:
        code = str(code).strip().upper()
        if code:
            seen.setdefault(code, None)
    return list(seen)


def _name_taken(model: type[Model], owner: User, name: str, *, exclude: int | None = None) -> bool:
    return model.objects.filter(owner=owner, name=name).exclude(pk=exclude).exists()


def _fit(name: str, suffix_template: str, **values: Any) -> str:
    """``suffix_template`` formatted with ``name`` shortened so the result fits the name column."""
    full = suffix_template.format(name=name, **values)
    overflow = len(full) - NAME_MAX_LENGTH
    return full if overflow <= 0 else suffix_template.format(name=name[: len(name) - overflow].rstrip(), **values)


def _copy_name(owner: User, name: str) -> str:
    candidate = _fit(name, gettext(str(COPY_NAME)))
    n = 2
    while _name_taken(Strategy, owner, candidate):
        candidate = _fit(name, gettext(str(COPY_NAME_N)), n=n)
        n += 1
    return candidate


def _numbered_name(owner: User, name: str) -> str:
    candidate, n = name[:NAME_MAX_LENGTH], 2
    while _name_taken(Strategy, owner, candidate):
        candidate = _fit(name, "{name} ({n})", n=n)
        n += 1
    return candidate


# ---------------------------------------------------------------------------------------------------
# Watchlists
# ---------------------------------------------------------------------------------------------------
@transaction.atomic
def watchlist_create(*, user: User, name: str, instruments: Sequence[str]) -> Watchlist:
    """A new watchlist of ``user`` with at least one instrument. Raises ValidationError (``name``,
    ``instruments``)."""
    return _watchlist_save(Watchlist(owner=user), name=name, codes=instruments)


@transaction.atomic
def watchlist_update(
    *, watchlist: Watchlist, name: str | None = None, instruments: Sequence[str] | None = None
) -> Watchlist:
    """Rename and/or replace the instruments (``None`` keeps them). Raises ValidationError."""
    watchlist = Watchlist.objects.select_for_update().get(pk=watchlist.pk)
    return _watchlist_save(
        watchlist,
        name=watchlist.name if name is None else name,
        codes=watchlist.codes() if instruments is None else instruments,
    )


@transaction.atomic
def watchlist_delete(*, watchlist: Watchlist) -> None:
    """Delete a watchlist no strategy uses; raises WatchlistInUse naming the strategies otherwise."""
    users = list(watchlist.strategies.order_by("name").values_list("name", flat=True))
    if users:
        raise WatchlistInUse(WATCHLIST_IN_USE.format(names=", ".join(users)))
    watchlist.delete()


def _watchlist_save(watchlist: Watchlist, *, name: str, codes: Sequence[str]) -> Watchlist:
    errors: dict[str, list[str]] = {}
    watchlist.name = _clean_name(name, errors)
    if "name" not in errors and _name_taken(Watchlist, watchlist.owner, watchlist.name, exclude=watchlist.pk):
        errors["name"] = [str(WATCHLIST_NAME_TAKEN)]
    codes = normalize_codes(codes)
    instruments = _instruments_of(codes, errors) if codes and not _too_many(codes, errors) else []
    if not codes:
        errors["instruments"] = [str(WATCHLIST_INSTRUMENTS_REQUIRED)]
    if errors:
        raise ValidationError(errors)
    watchlist.save()
    watchlist.instruments.set(instruments)
    return watchlist
