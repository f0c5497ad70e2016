"""Vietnamese folding: the one definition of "the same word without diacritics", used by search.

``fold("Đà Nẵng") == "da nang"``: NFC, then NFD with every combining mark dropped, the stroked letters
đ/Đ (and the look-alike ð/Ð that legacy pages use for them) to d, then casefold.  Unicode has no
decomposition for đ, which is why generic accent stripping (and SQLite's ``remove_diacritics``) misses it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# letters that carry a "diacritic" Unicode cannot decompose: the stroke of đ (and ð, typed for it)
STROKED = {"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"}
_STROKED_TABLE = str.maketrans(STROKED)

# a token is a run of letters, digits and marks; "_" and all punctuation separate, as in SQLite's unicode61
TOKEN = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f])*")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """``text`` without diacritics, đ as d, casefolded (NFC in, NFC out).

    Folded a space-separated piece at a time, each piece remembered: every step is per character but the
    normalisations, and those never reach across a space (U+0020 neither composes nor decomposes, and marks
    are reordered only among marks), so the pieces fold as the whole would.  Vietnamese is written in a few
    thousand syllables: an article's text is mostly pieces already folded (4x faster on a page's text)."""
    if len(text) < 40:
        return _fold(text)
    return " ".join(map(_fold_piece, text.split(" ")))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_STROKED_TABLE))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.casefold())


_fold_piece = functools.lru_cache(maxsize=1 << 15)(_fold)  # some 3 MB when full


def exact(text: str) -> str:
    """The comparison form that keeps diacritics: NFC and casefolded."""
    return nfc(nfc(text).casefold())


def has_marks(token: str) -> bool:
    """Whether a word carries a diacritic or đ, i.e. was typed accented and must match exactly."""
    return fold(token) != exact(token)


def tokens(text: str) -> list[str]:
    """The words of ``text`` (NFC), split the way the full-text index splits them."""
    return TOKEN.findall(nfc(text))


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every word of ``text``, which must already be NFC (offsets refer to it)."""
    return [m.span() for m in TOKEN.finditer(text)]
