"""An element's class and id as one string (``cls``), and the case-insensitive patterns searched in it
(``ClassWords``): what the extraction's steps read of an element's names (furniture, dates, bylines, leads)."""

from __future__ import annotations

import re
from typing import Any


def cls(el: Any) -> str:
    """An element's class and id, space-separated (one space when it has neither)."""
    return f"{el.get('class') or ''} {el.get('id') or ''}"


class ClassWords:
    """A case-insensitive pattern of class and id words (``cls``), searched as fast as a case-sensitive one.

    An ASCII string (nearly every class list) is lower-cased and searched by the pattern compiled without
    ``re.I``: the same matches at the same places, since the pattern has no upper-case letter, and two to three
    times faster on the long class lists of utility CSS.  Any other string is searched with ``re.I`` as it is,
    Unicode's case-insensitive letters included (the Kelvin sign matches "k")."""

    __slots__ = ("_any", "_lower")

    def __init__(self, pattern: str) -> None:
        if pattern != pattern.lower():  # an upper-case letter (or \S, \W, \B) would not survive lower-casing
            raise ValueError(f"ClassWords needs a pattern without upper-case letters: {pattern!r}")
        self._any, self._lower = re.compile(pattern, re.I), re.compile(pattern)

    def search(self, names: str) -> bool:
        if names.isascii():
            return self._lower.search(names.lower()) is not None
        return self._any.search(names) is not None

    def sub(self, repl: str, names: str) -> str:
        """``names`` with the matches replaced, lower-cased when ASCII: for another ``ClassWords`` to search."""
        if names.isascii():
            return self._lower.sub(repl, names.lower())
        return self._any.sub(repl, names)
