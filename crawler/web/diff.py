"""Side-by-side differences between two versions of a text: paragraphs aligned, words compared within them.

Plain data, no HTML: the template escapes every piece and wraps removed words in ``<del>``, added ones in ``<ins>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import zip_longest

from storage.history import word_diff


@dataclass(slots=True, frozen=True)
class Part:
    op: str  # "=" in both, "-" only in the old version, "+" only in the new one
    text: str


@dataclass(slots=True)
class Row:
    """One paragraph of each side, or (``hidden`` > 0) a note that many unchanged paragraphs are not shown."""

    left: list[Part] = field(default_factory=list)
    right: list[Part] = field(default_factory=list)
    hidden: int = 0


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def side_by_side(old: str, new: str, context: int = 1) -> list[Row]:
    """Paragraph-aligned, word-level rows; runs of unchanged paragraphs are cut to ``context`` on each side."""
    a, b = paragraphs(old), paragraphs(new)
    rows: list[Row] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            same = a[i1:i2]
            head = same[:context] if i1 > 0 else []
            tail = same[-context:] if i2 < len(a) else []
            if len(head) + len(tail) >= len(same):
                rows += [_same(p) for p in same]
            else:
                rows += [_same(p) for p in head]
                rows.append(Row(hidden=len(same) - len(head) - len(tail)))
                rows += [_same(p) for p in tail]
            continue
        for x, y in zip_longest(a[i1:i2], b[j1:j2]):
            if x is None:
                rows.append(Row([], [Part("+", y)]))
            elif y is None:
                rows.append(Row([Part("-", x)], []))
            else:
                row = Row()
                for ch in word_diff(x, y):
                    if ch.op in ("=", "-"):
                        row.left.append(Part(ch.op, ch.text))
                    if ch.op in ("=", "+"):
                        row.right.append(Part(ch.op, ch.text))
                rows.append(row)
    return rows


def _same(p: str) -> Row:
    return Row([Part("=", p)], [Part("=", p)])
