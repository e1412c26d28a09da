"""Coupon codes people can read aloud and type: no character that looks like another.

The alphabet has 31 characters: the digits 2-9 and the letters A-Z without I, L and O (no 0/O, 1/I/L
to confuse). A generated code is groups of four, ``ABCD-EFGH`` (31^8, about 8.5 × 10^11 codes), drawn
with :mod:`secrets`. Codes are stored in their canonical form (:func:`normalize`: upper case, no
spaces or dashes), so what a person types matches however they group or case it; :func:`display`
puts the dashes back for reading. Pure: no Django imports.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GROUP = 4
GROUPS = 2
MAX_LENGTH = 32  # Coupon.code

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_]+")
_CANONICAL = re.compile(r"[0-9A-Z]+")


def normalize(text: str) -> str:
    """The canonical form of a typed code: upper case, without spaces, dashes or underscores."""
    return _SEPARATORS.sub("", text or "").upper()


def is_canonical(code: str) -> bool:
    """Letters A-Z and digits only, and short enough to store."""
    return bool(_CANONICAL.fullmatch(code)) and len(code) <= MAX_LENGTH


def display(code: str) -> str:
    """``ABCDEFGH`` → ``ABCD-EFGH`` for a code made of the generator's alphabet in whole groups; any
    other code (``WELCOME2026``, chosen by an operator) as it is."""
    if len(code) >= 2 * GROUP and len(code) % GROUP == 0 and all(char in ALPHABET for char in code):
        return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))
    return code


def generate(*, groups: int = GROUPS, prefix: str = "") -> str:
    """One random code in canonical form (``prefix`` canonical, put in front)."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(groups * GROUP))


def generate_unique(count: int, *, taken: Callable[[Iterable[str]], set[str]], groups: int = GROUPS,
                    prefix: str = "", attempts: int = 20) -> list[str]:
    """``count`` distinct codes none of which ``taken`` reports as already used.

    ``taken(candidates)`` answers which of the candidates exist already (one query for a batch).
    Collisions are drawn again; after ``attempts`` rounds that still collide (the code space nearly
    full) it raises ``RuntimeError`` rather than loop for ever.
    """
    codes: set[str] = set()
    for _ in range(attempts):
        missing = count - len(codes)
        if missing <= 0:
            break
        candidates = {generate(groups=groups, prefix=prefix) for _ in range(missing)} - codes
        codes |= candidates - taken(candidates)
    if len(codes) < count:
        raise RuntimeError(f"could not draw {count} unique codes in {attempts} rounds")
    return sorted(codes)
