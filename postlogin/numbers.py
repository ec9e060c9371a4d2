"""Whole numbers read from text that someone else wrote: HTTP headers, provider payloads.

``str.isdigit()`` and ``int()`` accept far more than ASCII digits: ``"²".isdigit()`` is True
and ``int("²")`` raises ``ValueError``; ``int()`` also takes ``"١٢"``, ``"+12"`` and
``"1_000"``. HTTP (``Content-Length``, ``Retry-After``), Standard Webhooks' timestamp and
OAuth's ``expires_in`` all mean ``[0-9]+`` and nothing else, so that is all this accepts.
"""

from __future__ import annotations

import re

#: One to forty ASCII digits: more than any real value has, far below Python's limit on
#: converting long digit strings (4300), so ``int()`` of a match never raises.
ASCII_DIGITS = re.compile(r"[0-9]{1,40}")
#: Values as large as this are not numbers anyone meant.
_LIMIT = 10**40


def ascii_int(value: object) -> int | None:
    """``value`` as a non-negative whole number, or None when it is not one.

    A string counts when it is ASCII digits only, apart from surrounding spaces and tabs (HTTP's
    optional whitespace); a JSON integer counts as itself. Anything else (signs, underscores,
    other scripts' digits, fractions, booleans, huge values) is None: never an exception.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < _LIMIT else None
    if isinstance(value, str) and ASCII_DIGITS.fullmatch(value.strip(" \t")):
        return int(value.strip(" \t"))
    return None
