"""Learn each source's template from the pages already crawled: what recurs is furniture, what differs is news.

A page is cut into text blocks the way a reader sees them (every block element's own text, split at ``<br>``).
Across the new articles of one source, a block found on many pages (the menu, "Tin liên quan", the footer, a
promo paragraph, the share bar) is template.  Three kinds of evidence are kept, all as hashed keys:

- ``b`` blocks, with on how many pages (new articles, so URL variants and revisits never count twice) they were
  seen; one found on ``max(3, 5 %)`` of the pages (at most 50) is boilerplate, a sentence (a promo line) on
  ``max(5, 15 %)``: formulaic captions recur on a few percent of a portal's pages and are still article text;
- ``t`` the titles of the source's articles: on another page, a paragraph that is one of them (perhaps behind a
  short label such as "Xem thêm:" or followed by a date) is a link to that article, not text of this one;
- ``l`` the opening of each article's lead (or of its first paragraph of prose): a paragraph opening like
  another article's is its teaser.

``apply`` drops such paragraphs from an extraction, but never the page's own title, lead or first paragraph
(other pages quote those), and never so many that the page loses its body.  This module is pure (``text_blocks``,
``TemplateModel``, ``apply``; the keys and their hashes are ``pipelines.template_keys``'s); the rows in the
archive are read and written by ``pipelines.template_store``, whose functions take a session and never commit.  A brand-new source is archived before its template is known, so at
the end of a crawl ``pipelines.refine`` applies everything learnt meanwhile to the versions that crawl created.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from pipelines.items import Extracted
from pipelines.metadata import byline_name
from pipelines.template_keys import (  # noqa: F401 - the keys' names are the template's too (tpl.block_hash, ...)
    CACHE_KEYS,
    DIGITS,
    HEAD_CHARS,
    LEAD_PREFIX,
    MAX_TEASER_CHARS,
    MAX_TITLE_CHARS,
    MAX_TITLED_KEY_CHARS,
    MIN_TITLE_CHARS,
    SAMPLE_CHARS,
    TITLE_PREFIX,
    KnownKeys,
    block_hash,
    block_key,
    known_keys,
    suffix_leads,
    suffix_starts,
    text_key,
)

logger = logging.getLogger(__name__)

MIN_PAGES = 3  # a block on fewer pages than this is never template
SHARE = 0.05  # ... else on this share of the source's pages
CAP_PAGES = 50  # ... but on this many pages is always enough: decisions stop drifting as the source grows
SENTENCE_MIN_PAGES, SENTENCE_SHARE = 5, 0.15  # a sentence (a promo, a caption) needs more pages, never capped
MAX_BLOCK_CHARS = 300  # longer blocks are prose, not furniture: not learnt (keeps the table small)
TEASER_SOURCE_CHARS = 150  # a first paragraph this long is quoted as a teaser (shorter: maybe a caption)
KEEP_SHARE = 0.4  # apply never leaves less than this share of the text ...
KEEP_CHARS = 200  # ... nor fewer characters than this (unless the text was shorter to begin with)

_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "dir",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "html", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "option", "legend", "label", "button", "select",
})
_SKIP_TAGS = frozenset({"head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object",
                        "canvas", "textarea"})
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


# ---------------------------------------------------------------- blocks

def text_blocks(root: Any, max_chars: int = MAX_BLOCK_CHARS) -> tuple[str, ...]:
    """The visible text blocks of a parsed page, in order, each once: every block element's own text (inline
    children included, nested blocks not), split at ``<br>``.  Iterative, so any nesting depth is fine."""
    out: dict[str, None] = {}
    bufs: list[list[str]] = [[]]

    def flush(buf: list[str]) -> None:
        if buf:
            text = " ".join("".join(buf).split())  # str.split's whitespace is re's \s
            buf.clear()
            if text and len(text) <= max_chars and any(map(str.isalnum, text)):
                out.setdefault(unicodedata.normalize("NFC", text), None)

    try:
        walker = etree.iterwalk(root, events=("start", "end"))
    except TypeError:
        return ()
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in _SKIP_TAGS:  # not read, nor what is inside (never walked): only its tail, at its end
            if event == "start":
                walker.skip_subtree()
            elif el.tail:
                bufs[-1].append(el.tail)
            continue
        if event == "start":
            if tag in _BLOCK_TAGS:
                flush(bufs[-1])
                bufs.append([])
            elif tag == "br":
                flush(bufs[-1])
            if tag and el.text:
                bufs[-1].append(el.text)
            continue
        if tag in _BLOCK_TAGS and len(bufs) > 1:
            flush(bufs.pop())
        if el.tail:
            bufs[-1].append(el.tail)
    for buf in bufs:
        flush(buf)
    return tuple(out)


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


# ---------------------------------------------------------------- the model

@dataclass(slots=True)
class TemplateModel:
    """Page counts of hashed keys for one source (all of them, or those an extraction needs)."""

    counts: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    # the lead and title rows by key, when every one of them is known that way (a whole template read back)
    known: KnownKeys | None = None

    def threshold(self, sentence: bool = False) -> int:
        """Pages a block must be on to be template.  A sentence needs more: formulaic captions and closing lines
        ("Toàn cảnh Hội nghị.") recur on a few percent of a portal's articles and are still their text."""
        if sentence:
            return max(SENTENCE_MIN_PAGES, math.ceil(SENTENCE_SHARE * self.pages))
        return max(MIN_PAGES, min(CAP_PAGES, math.ceil(SHARE * self.pages)))

    def is_boilerplate(self, block: str) -> bool:
        """A block found on enough of the source's pages."""
        key = block_key(block)
        return bool(key) and self.counts.get(block_hash(key), 0) >= self.threshold(is_sentence(block))

    def learn(self, ex: Extracted) -> None:
        """Count one new article's page (the in-memory twin of ``learn_page``)."""
        for h in page_hashes(ex):
            self.counts[h] = self.counts.get(h, 0) + 1
        self.pages += 1
        self.known = None  # the keys read back no longer cover every row


def page_hashes(ex: Extracted) -> dict[str, tuple[str, str]]:
    """Hash -> (kind, sample) of everything a new article teaches: its blocks ("b"), its title ("t") and its
    lead's opening ("l") (``ex.learned`` when the extraction worker computed it already).  The kind is stored
    with the row, so that readers after leads and titles pass over the blocks without working out their keys."""
    if ex.learned is not None:
        return ex.learned
    out: dict[str, tuple[str, str]] = {}
    for b in ex.blocks:
        key = block_key(b)
        if 2 <= len(key) <= MAX_BLOCK_CHARS:
            out.setdefault(block_hash(key), ("b", b[:SAMPLE_CHARS]))
    title = text_key(ex.title)
    if len(title) >= MIN_TITLE_CHARS:
        out.setdefault(block_hash(title, "t"), ("t", ex.title[:SAMPLE_CHARS]))
    # teasers elsewhere open like the lead, or like the first paragraph of prose (never a caption or a line
    # that other articles share word for word)
    paras = _paragraphs(ex.text)
    for opening in (ex.lead, paras[0] if paras and len(paras[0]) >= TEASER_SOURCE_CHARS else ""):
        key = text_key(opening)
        if len(key) >= LEAD_PREFIX:
            out.setdefault(block_hash(key[:LEAD_PREFIX], "l"), ("l", opening[:SAMPLE_CHARS]))
    return out


def is_sentence(text: str) -> bool:
    """Prose rather than a label: five words or more ending like a sentence."""
    return len(text.split(None, 4)) == 5 and bool(_SENTENCE_END.search(text))  # 5 parts: 5 words or more


def _frequent(model: TemplateModel, key: str, sentence: bool = False) -> bool:
    """``key`` (a text key) is a block on enough pages."""
    return len(key) <= MAX_BLOCK_CHARS and _counted(model, DIGITS.sub("0", key), len(key), sentence)


def _counted(model: TemplateModel, zeroed: str, length: int, sentence: bool = False) -> bool:
    """``_frequent`` of a key of ``length`` characters whose digits ``zeroed`` has as 0 already."""
    return length <= MAX_BLOCK_CHARS and model.counts.get(block_hash(zeroed), 0) >= model.threshold(sentence)


def _teaser(model: TemplateModel, key: str) -> bool:
    if not LEAD_PREFIX <= len(key) <= MAX_TEASER_CHARS:
        return False
    if model.known is not None:
        return bool(model.known.leads.get(key[:LEAD_PREFIX]))
    return bool(model.counts.get(block_hash(key[:LEAD_PREFIX], "l")))


def _own(key: str, own: tuple[str, ...]) -> bool:
    """The page's own title, lead or first paragraph (or the start of one): what other pages quote of it."""
    return any(o and (key == o or o.startswith(key) or (len(key) >= LEAD_PREFIX and key[:LEAD_PREFIX] == o[:LEAD_PREFIX]))
               for o in own)


def _labelled(model: TemplateModel, key: str) -> Iterator[str]:
    """What follows a template label at the start of ``key`` ("tin liên quan <title> <teaser>")."""
    words = key.split(" ", 6)  # a text key's words are between single spaces: the first six, and the rest
    if len(words) < 2:
        return
    # _frequent of each label, its digits made 0 once for all of them (they never span words)
    zeroed = DIGITS.sub("0", " ".join(words[:6])).split()
    size = -1
    for k in range(1, min(7, len(words))):
        size += len(words[k - 1]) + 1  # len(" ".join(words[:k]))
        if _counted(model, " ".join(zeroed[:k]), size):
            yield key[size + 1:]  # " ".join of the words after the first k


@functools.lru_cache(maxsize=CACHE_KEYS)
def _span_frame(key: str) -> tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """What of ``_title_spans`` does not depend on the model: the words joined by single spaces and where each
    starts, the end words followed by at most 25 characters (a date, "(03/10/2024)", "- Ảnh"), the start words
    behind at most a short label (3 words, 20 characters).  None when no title can be found in ``key``."""
    words = _title_words(key)
    if words is None:
        return None
    joined = " ".join(words)
    at = [0]
    for w in words:
        at.append(at[-1] + len(w) + 1)  # at[j]: where word j starts (at[len(words)]: one past the end)
    ends: list[int] = []
    for j in range(len(words), 2, -1):
        if len(joined) - min(at[j], len(joined)) > 25:  # what follows word j - 1
            break
        ends.append(j)
    return joined, tuple(at), tuple(ends), tuple(i for i, _ in _title_starts(words))


def _title_words(key: str) -> list[str] | None:
    """``key``'s words, or None when no title can be found in it (too long, or under 3 words)."""
    words = key.split()
    return None if len(key) > MAX_TITLED_KEY_CHARS or len(words) < 3 else words


def _title_starts(words: list[str]) -> list[tuple[int, int]]:
    """(word, offset in the words joined by single spaces) of each place a title may start: one of the first 4
    words, behind at most a short label (20 characters), with 3 words left."""
    out = []
    at = 0
    for i in range(min(4, len(words) - 2)):
        if max(0, at - 1) > 20:  # the label before word i
            break
        out.append((i, at))
        at += len(words[i]) + 1
    return out


def _title_spans(model: TemplateModel, key: str) -> Iterator[tuple[str, int, int]]:
    """(candidate, first word, end word) of another article's title in ``key``: behind at most a short label
    (3 words), and followed by nothing, a date or a few words, or a teaser the model knows."""
    frame = _span_frame(key)
    if frame is None:
        return
    joined, at, fixed, starts = frame
    ends = set(fixed)
    if model.known is not None:  # followed by a known teaser
        leads = model.known.leads
        ends.update(j for j, start in suffix_starts(key) if leads.get(key[start:start + LEAD_PREFIX]))
    else:
        ends.update(j for j, lead in suffix_leads(key) if model.counts.get(lead))
    for i in starts:
        for j in ends:
            if j >= i + 3 and MIN_TITLE_CHARS <= at[j] - 1 - at[i] <= MAX_TITLE_CHARS:
                yield joined[at[i]:at[j] - 1], i, j


def _may_open_title(key: str, heads: set[str]) -> bool:
    """Whether one of ``heads`` (``KnownKeys.heads``) opens ``key`` at a place ``_span_frame`` lets a title start:
    every candidate ``_title_spans`` gives opens so, so a key without one has no known title in it, and the
    places a title could end (most of the work) need not be found."""
    if len(key) > MAX_TITLED_KEY_CHARS:
        return False
    # a text key is its words joined by single spaces; where a title may start depends on the first six only
    words = key.split(" ", 6)
    if len(words) < 3:
        return False
    return any(key[at:at + HEAD_CHARS] in heads or key[at:at + MIN_TITLE_CHARS] in heads
               for _, at in _title_starts(words))


def _other_title(model: TemplateModel, key: str, own_title: str) -> bool:
    """A link to another article: its title, perhaps behind a label, with its date or teaser after it."""
    known = model.known
    if known is not None:
        if not _may_open_title(key, known.heads):
            return False
        return any(cand != own_title and (known.titles.get(cand) or (
            cand[:TITLE_PREFIX] in known.long_titles and known.cut.get(block_hash(cand, "t"))))
            for cand, _, _ in _title_spans(model, key))
    return any(cand != own_title and model.counts.get(block_hash(cand, "t"))
               for cand, _, _ in _title_spans(model, key))


def _verdict(model: TemplateModel, key: str, own: tuple[str, ...], nested: bool = False,
             sentence: bool = False) -> str | None:
    if not key or _own(key, own):
        return None
    if _frequent(model, key, sentence):
        return "template"
    if _teaser(model, key):
        return "teaser"
    if _other_title(model, key, own[0]):
        return "other_title"
    if not nested:
        for rest in _labelled(model, key):
            if _verdict(model, rest, own, nested=True):
                return "template"
    return None


# an attribution line ("Nguồn: Báo Chính phủ", "Theo TTXVN", "Quelle: dpa") recurs on most of a source's
# articles and is still part of each: it says where that article comes from
_ATTRIBUTION = re.compile(r"^\(?\s*(?:nguồn|theo|source|sources|quelle|fuente|fonte|kilde|źródło)\b\s*[:：]?\s*\S", re.I)


def is_attribution(p: str) -> bool:
    return len(p) <= 120 and bool(_ATTRIBUTION.match(p) or (len(p) <= 60 and byline_name(p)))


def _why_boilerplate(p: str, model: TemplateModel, own: tuple[str, ...]) -> str | None:
    """Why paragraph ``p`` is not this page's text (None: it is).  Attributions and bylines never are: the
    template removes page furniture, not what the article says of itself."""
    if is_attribution(p):
        return None
    return _verdict(model, text_key(p), own, sentence=is_sentence(p))


def needed_hashes(ex: Extracted, model: TemplateModel) -> set[str]:
    """The title and teaser keys ``apply`` may look up for this extraction, given what ``model`` already holds
    (the frequent blocks; then the teasers found): the archive loads a few hundred rows per page, in two or three
    rounds, never the whole table."""
    teasers, titles = _needed(ex, model)
    return teasers | titles


@functools.lru_cache(maxsize=CACHE_KEYS)  # the same in every round: it does not depend on the model
def _teaser_keys(key: str) -> frozenset[str]:
    """The lead keys a teaser in ``key`` could have: its start, and each place another article's teaser could
    start (``suffix_leads``)."""
    keys = {block_hash(key[:LEAD_PREFIX], "l")} if len(key) >= LEAD_PREFIX else set()
    keys.update(lead for _, lead in suffix_leads(key))
    return frozenset(keys)


def _needed(ex: Extracted, model: TemplateModel) -> tuple[set[str], set[str]]:
    """(teaser keys, title keys) ``needed_hashes`` is made of."""
    keys = probe_keys(ex, model)
    return teasers_of(keys), titles_of(keys, model)


def probe_keys(ex: Extracted, model: TemplateModel) -> list[str]:
    """The keys ``_verdict`` may look for teasers and titles in: each paragraph's, and what follows a label the
    model knows as frequent at its start (``_labelled``).  Only the frequent blocks of ``model`` matter here."""
    keys = []
    for p in _paragraphs(ex.text):
        key = text_key(p)
        if key:
            keys.append(key)
            keys.extend(_labelled(model, key))
    return keys


def teasers_of(keys: list[str]) -> set[str]:
    return set().union(*map(_teaser_keys, keys))


def titles_of(keys: list[str], model: TemplateModel) -> set[str]:
    return {block_hash(cand, "t") for key in keys for cand, _, _ in _title_spans(model, key)}


def apply(ex: Extracted, model: TemplateModel) -> Extracted:
    """``ex`` without the paragraphs the model knows as boilerplate (see the module docstring)."""
    if not model.pages and not model.counts:
        return ex
    paras = _paragraphs(ex.text)
    # never dropped: the page's own title, lead and first paragraph, however often other pages quote them
    # (a short first paragraph is not protected: it may be a "follow us" line above the body)
    first = text_key(paras[0]) if paras and len(paras[0]) >= 80 else ""
    own = (text_key(ex.title), text_key(ex.lead), first)
    kept = [p for p in paras if _why_boilerplate(p, model, own) is None]
    if len(kept) == len(paras):
        return ex
    before = sum(len(p) for p in paras)
    after = sum(len(p) for p in kept)
    if after < min(before, max(KEEP_CHARS, KEEP_SHARE * before)):
        # so much "template" means the page is the odd one out (a near-copy, a notice): keep it as it was
        return ex
    return dataclasses.replace(ex, text="\n\n".join(kept))
