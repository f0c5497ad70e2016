"""The keys of the template learner (``pipelines.template``): how a block, a title or a lead is recognised on
another page (``text_key``, ``block_key``), hashed as the archive stores it (``block_hash``), where in a paragraph
another article's teaser could start (``suffix_starts``, ``suffix_leads``), and a whole template's lead and title
rows read back from their samples (``known_keys``).  Pure: no model, no database.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LEAD_PREFIX = 80  # characters of a lead's key (digits kept) that identify its teasers elsewhere
MAX_TEASER_CHARS = 400  # a paragraph longer than this is prose, not another article's teaser
MIN_TITLE_CHARS = 15  # shorter titles ("Thông báo") are too common to mark links by
MAX_TITLE_CHARS = 250  # ... and longer ones are not titles
# a key longer than this holds no other article's title: what could follow a label (20) and a title is longer
# than a teaser, so it is prose
MAX_TITLED_KEY_CHARS = MAX_TITLE_CHARS + 20 + MAX_TEASER_CHARS

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
DIGITS = re.compile(r"\d+")  # a block key has them as 0 (view counters, dates)


# The caches below serve the reuse within one page (each paragraph is probed in every round of load_model, again
# by apply; a page's candidates are hashed several times over), and CACHE_KEYS entries cover a page.  Sized for
# 32k-65k keys they kept what pages long gone said: an extraction worker held 281 MB after 1,231 pages, 140 MB
# with these sizes, at the same CPU per page.
CACHE_KEYS = 1024


@functools.lru_cache(maxsize=CACHE_KEYS)
def text_key(text: str) -> str:
    """NFC, case-folded, words only: how a title or a lead is recognised when quoted on another page."""
    s = unicodedata.normalize("NFC", text).casefold()
    return _NON_WORD.sub(" ", s.replace("_", " ")).strip()


def block_key(text: str) -> str:
    """What identifies a block across pages: ``text_key`` with digits as 0 (view counters, dates)."""
    return DIGITS.sub("0", text_key(text))


@functools.lru_cache(maxsize=4 * CACHE_KEYS)  # a paragraph's many candidate titles and leads
def block_hash(key: str, kind: str = "b") -> str:
    """32 hex characters (template_blocks.block_hash); ``kind`` keeps blocks, titles and leads apart."""
    return hashlib.blake2b(f"{kind}\x1f{key}".encode(), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=CACHE_KEYS)
def suffix_starts(key: str) -> tuple[tuple[int, int], ...]:
    """(word index, character offset) of each place in ``key`` (a text key: words between single spaces) where
    another article's teaser could start: after at most a label and a title (MAX_TITLE_CHARS), with a rest long
    enough to be recognised and short enough to be a teaser."""
    n = len(key)
    if n > MAX_TITLED_KEY_CHARS:
        return ()  # every rest would be longer than a teaser: prose (most paragraphs), no slicing needed
    out = []
    start = j = 0
    for word in key.split(" "):
        start += len(word) + 1
        j += 1
        if start > MAX_TITLE_CHARS + 20 or start >= n:
            break
        if LEAD_PREFIX <= n - start <= MAX_TEASER_CHARS:
            out.append((j, start))
    return tuple(out)


@functools.lru_cache(maxsize=CACHE_KEYS)
def suffix_leads(key: str) -> tuple[tuple[int, str], ...]:
    """(word index, lead key hash) of each of ``suffix_starts``.  Only each rest's first LEAD_PREFIX characters
    are sliced, and hashed here rather than through ``block_hash``: a paragraph has hundreds of them, none asked
    for twice outside this cache, and copying every rest whole cost more than hashing it."""
    blake2b = hashlib.blake2b
    # the same key block_hash(rest[:LEAD_PREFIX], "l") gives
    return tuple((j, blake2b(("l\x1f" + key[start:start + LEAD_PREFIX]).encode(), digest_size=16).hexdigest())
                 for j, start in suffix_starts(key))


SAMPLE_CHARS = 200  # what a row keeps of the text it was learnt from (``page_hashes``)
TITLE_PREFIX = 100  # characters of a title key a cut sample stands for (a title of SAMPLE_CHARS or more)
KEY_MARGIN = 20  # a cut sample's key this much longer than a prefix holds that prefix whole
HEAD_CHARS = 30  # what ``KnownKeys.heads`` keeps of a title at least this long


@dataclass(slots=True)
class KnownKeys:
    """A source's lead and title rows by key rather than by hash, so that a paragraph's many candidate teasers
    and titles are looked up without hashing each: ``leads`` and ``titles`` key -> pages, each key read back
    from its row's sample and checked against the row's hash.  A row whose sample was cut (at SAMPLE_CHARS) may
    be a title longer than that: its opening is in ``long_titles``, its hash in ``cut``, and only a candidate
    starting with such an opening is hashed and looked up there.  ``heads``: how each title and each opening in
    ``long_titles`` starts (its first HEAD_CHARS characters; MIN_TITLE_CHARS of a shorter title, which a candidate
    matches only whole), so that a paragraph no known title opens is passed over without finding every place a
    title could end in it (``template._other_title``)."""

    leads: dict[str, int] = field(default_factory=dict)
    titles: dict[str, int] = field(default_factory=dict)
    long_titles: set[str] = field(default_factory=set)
    cut: dict[str, int] = field(default_factory=dict)
    heads: set[str] = field(default_factory=set)

    def add(self, rows: Iterable[tuple[Any, ...]], cached: bool = False) -> bool:
        """Take in a source's ``rows`` (hash, pages, sample[, kind]); a row whose kind says it is a block ("b")
        is passed over, one without (learnt before revision 0009) is read as any other.  False when one might be
        a lead or a title its sample does not give the key of (cut with hardly more word characters left than
        the key has): the lookups are then the hashes' to make.  An uncut sample is the whole text, so a lead's or a title's key
        is always read back from it (``learn_page`` writes a NUL, which JSON-LD may bring, as a space: the same
        key; a sample written before it dropped the NUL instead, and such a row of an older archive is missed).
        ``cached``: the few rows pages added since (an extraction worker's index), read through the page caches
        of ``text_key`` and ``block_hash``, which still hold what this process worked out for its own last pages
        (most of those rows); a whole source's thousands of rows go around them (they would only evict)."""
        blake2b = hashlib.blake2b

        def hashed(key: str, kind: str) -> str:  # block_hash, not through its page cache
            return blake2b(f"{kind}\x1f{key}".encode(), digest_size=16).hexdigest()

        key_of, hash_of = (text_key, block_hash) if cached else (text_key.__wrapped__, hashed)
        for h, pages, sample, *kind in rows:
            if kind and kind[0] == "b":
                continue
            key = key_of(sample)
            if len(key) >= LEAD_PREFIX and hash_of(key[:LEAD_PREFIX], "l") == h:
                self.leads[key[:LEAD_PREFIX]] = pages
            elif len(key) >= MIN_TITLE_CHARS and hash_of(key, "t") == h:
                self.titles[key] = pages
                self.heads.add(key[:HEAD_CHARS] if len(key) >= HEAD_CHARS else key[:MIN_TITLE_CHARS])
            elif len(sample) >= SAMPLE_CHARS:  # cut: it may be a lead or a title of a longer text
                if len(key) < max(LEAD_PREFIX, TITLE_PREFIX) + KEY_MARGIN:
                    return False
                self.long_titles.add(key[:TITLE_PREFIX])
                self.heads.add(key[:HEAD_CHARS])
                self.cut[h] = pages
        return True

    def size(self) -> int:
        """The keys held (what the memory they take grows with)."""
        return len(self.leads) + len(self.titles) + len(self.long_titles) + len(self.cut) + len(self.heads)


def known_keys(rows: Iterable[tuple[Any, ...]]) -> KnownKeys | None:
    """``KnownKeys`` of a source's ``rows`` (hash, pages, sample[, kind]), or None (see ``KnownKeys.add``)."""
    known = KnownKeys()
    return known if known.add(rows) else None
