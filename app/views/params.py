"""Numbers from requests: row ids in URLs and forms, relation numbers in query strings.

One parser for all of them, so every screen answers the same way to ``²`` (which
``str.isdigit()`` accepts and ``int()`` refuses), ``٣`` (which ``int()`` reads as 3), signs,
spaces and numbers too large for the database.
"""

from __future__ import annotations

import re

#: Row ids and relation numbers are positive 32-bit integers in both databases.
MAX_INT = 2**31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")


def positive_int(value: object) -> int | None:
    """``value`` as a row id or relation number (1 .. 2**31-1, ASCII digits only), else None."""
    text = value if isinstance(value, str) else str(value)
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_INT else None
