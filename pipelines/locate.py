"""Locating the article body: the density container, and trafilatura run on it."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

import trafilatura
from lxml import etree
from trafilatura.external import SANITIZED_XPATH  # the fallback's own test (see quick_floor)
from trafilatura.settings import DEFAULT_CONFIG, Document
from trafilatura.utils import normalize_unicode

from pipelines.clean import BLOCKS, inside, link_density, text_len
from pipelines.metadata import clean_text


def density_container(root: Any, title_el: Any | None) -> Any | None:
    """The element whose direct paragraphs hold the most non-link text (readability's core idea); climbing to an
    ancestor when the prose is split between siblings (broken markup nests paragraphs in odd places)."""
    scores: dict[int, float] = {}
    elems: dict[int, Any] = {}
    prose: list[tuple[Any, int]] = []
    for p in root.iter("p", "td", "pre", "blockquote", "li", "div"):
        if p.tag in ("div", "td", "li"):
            # only text-bearing divs/cells count as paragraphs (no block children)
            if any(isinstance(c.tag, str) and c.tag in BLOCKS and c.tag != "br" for c in p):
                continue
        n = text_len(p)
        if n < 25 or link_density(p) > 0.5:
            continue
        parent = p.getparent()
        if parent is None:
            continue
        prose.append((p, n))
        for anc, w in ((parent, 1.0), (parent.getparent(), 0.3)):
            if anc is None:
                continue
            scores[id(anc)] = scores.get(id(anc), 0) + n * w
            elems[id(anc)] = anc
    if not scores:
        return None
    best = max(scores, key=lambda k: scores[k])
    if scores[best] < 150:
        return None
    el = elems[best]

    def mass(a: Any) -> int:
        return sum(n for p, n in prose if inside(p, a))

    inner = mass(el)
    for _ in range(3):
        up = el.getparent()
        if up is None or up.tag in ("body", "html"):
            break
        outer = mass(up)
        if outer < 1.5 * inner:
            break
        el, inner = up, outer
    # a table row or body is no document on its own (trafilatura loses text of a bare <tr>): the whole table
    while el.tag in ("tr", "tbody", "thead", "tfoot") and el.getparent() is not None:
        el = el.getparent()
    return el


def paragraphs(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = clean_text(line.strip().strip("|").replace(" | ", " ").replace("\\|", "|"))
        if line and line not in ("\xa0",):
            out.append(line)
    return out


def trafilatura_text(doc_html: str, url: str) -> str:
    text = trafilatura.extract(doc_html, url=url, include_comments=False, include_tables=True,
                               favor_recall=True, deduplicate=False, with_metadata=False, output_format="txt")
    return text or ""



# ---------------------------------------------------------------- the floor and the ensemble

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(s: str) -> list[str]:
    return _TOKEN.findall(s.casefold())


_FLOOR_OPTIONS: dict[str, Any] = dict(include_comments=False, include_tables=True, favor_precision=True,
                                      deduplicate=False, with_metadata=False)
# trafilatura's own threshold below which its fallback comparison calls justext in
_MIN_EXTRACTED = DEFAULT_CONFIG.getint("DEFAULT", "MIN_EXTRACTED_SIZE")


def whole_page_text(html: str | Any, url: str) -> str:
    """trafilatura on the whole, untouched page: the floor every cleverer step must beat."""
    text = trafilatura.extract(html, url=url, output_format="txt", **_FLOOR_OPTIONS)
    return text or ""


# blocks trafilatura's last-resort recovery keeps at the fast setting only (main_extractor's keep_teasers): the
# test of its TEASER_DISCARD_XPATH, on any element (convert_tags renames some of those it names).  Every id and
# class below the root is read out by libxml2 and searched here, three times faster than libxml2 evaluating
# contains(translate(@class, 'T', 't'), 'teaser') on each element ("teaser" has one t: "teaser" or "Teaser")
_IDS, _CLASSES = (etree.XPath(f"descendant::*/@{name}", smart_strings=False) for name in ("id", "class"))


def _has_teaser(root: Any) -> bool:
    """An element below ``root`` whose id or class says "teaser" (or "Teaser"): trafilatura's teaser rule
    (TEASER_DISCARD_XPATH), for any element."""
    return any("teaser" in v or "Teaser" in v for v in chain(_IDS(root), _CLASSES(root)))


@dataclass(frozen=True, slots=True)
class QuickFloor:
    text: str  # whole_page_text's text
    own_chars: int  # what trafilatura's fallback would have compared readability with (at most its own figure)


def quick_floor(root: Any, url: str) -> QuickFloor | None:
    """``whole_page_text`` at trafilatura's fast setting, when its fallback comparison could not have changed the
    text; None when it could (then the whole cascade must run).

    With precision on and comments off the fast setting changes two things.  It skips the comparison with
    readability and justext (``trafilatura.external.compare_extraction``), which keeps trafilatura's own body
    unless that body is empty or short (justext is tried), holds furniture its sanitiser names (justext is
    tried), has no paragraph text or more tables than paragraphs (readability may take over), or readability's
    text is twice as long.  And its last-resort recovery of stray paragraphs keeps teaser-named blocks.  A page
    with such blocks is declined; the first three are read here off the fast run's own body (short: under twice
    trafilatura's threshold, counted as trafilatura counts, its text nodes joined by spaces, not the txt output
    with its table rules); the last cannot be without running readability, so ``extract_article`` runs the
    whole cascade after all when its own reading of the page is twice ``own_chars``.  The fallback is 40 % of
    the floor's time on real pages, 35 % on the simulator's."""
    if _has_teaser(root):
        return None
    doc = trafilatura.bare_extraction(root, url=url, fast=True, **_FLOOR_OPTIONS)
    if not isinstance(doc, Document) or doc.body is None or not doc.text:
        return None
    body = doc.body
    # compare_extraction's length: its text nodes joined (taken before duplicate paragraphs are dropped, so
    # this is at most that)
    own = len(" ".join(body.itertext()).strip())
    if own < 2 * _MIN_EXTRACTED or body.xpath(SANITIZED_XPATH) or not body.xpath(".//p//text()") \
            or len(body.findall(".//table")) > len(body.findall(".//p")):
        return None
    # extract()'s txt output: the body's text, stripped, in NFC
    return QuickFloor(normalize_unicode(doc.text.strip()), own)


def coverage(part: list[str], whole: list[str]) -> float:
    """The share of ``whole``'s words (with their counts) that ``part`` has too."""
    return _coverage([tokens(p) for p in part], [tokens(p) for p in whole])


def _coverage(part: list[list[str]], whole: list[list[str]]) -> float:
    a, b = Counter(chain.from_iterable(part)), Counter(chain.from_iterable(whole))
    total = sum(b.values())
    return sum((a & b).values()) / total if total else 0.0


def _supported(t: list[str], words: set[str], share: float = 0.5) -> bool:
    return not t or sum(map(words.__contains__, t)) / len(t) >= share


AGREE = 0.6  # the located body holds at least this share of the floor's words: both found the same article
PROSE_TOKENS = 25  # a line this long is prose even where trafilatura's precision filter dropped it


def combine(located: list[str], floor: list[str], captions: frozenset[str] = frozenset()) -> tuple[list[str], str]:
    """The body, and which rule decided it.

    When the located container holds most of what trafilatura finds on the whole page, both read the same
    article: the container's lines are kept where the floor has their words too (the container is cleaned of
    furniture trafilatura lets through, and lines only the container has are mostly furniture it kept), and
    so are its long prose lines and its figure captions (each once).  Otherwise the container is a fragment (a related-stories list, a caption, a
    teaser column) or nothing, and the floor wins: never less than the library underneath."""
    if not floor:
        return located, "located"
    # each line's words read once for all the tests below (most lines are in both readings: read once for both)
    read = {p: tokens(p) for p in located}
    lt = [read[p] for p in located]
    ft = [read[p] if p in read else tokens(p) for p in floor]
    if not located or _coverage(lt, ft) < AGREE:
        return floor, "floor"
    fwords = {t for p in ft for t in p}
    return [p for p, t in zip(located, lt, strict=True) if _supported(t, fwords) or len(t) >= PROSE_TOKENS
            or p.casefold() in captions], "agreed"


def structured_body(article_body: str, chosen: list[str]) -> list[str] | None:
    """JSON-LD ``articleBody`` instead of the extracted body when the page's HTML shows only part of the article
    (a paywall teaser, a "read more" fold): it holds nearly all of the extracted words and many more."""
    paras = [clean_text(p) for p in article_body.splitlines() if clean_text(p)]
    if len(article_body) < 500 or "<" in article_body[:2000] and ">" in article_body[:2000]:
        return None
    ours = sum(len(tokens(p)) for p in chosen)
    theirs = sum(len(tokens(p)) for p in paras)
    mine, more = {t for p in chosen for t in tokens(p)}, {t for p in paras for t in tokens(p)}
    # more words, and new ones (an articleBody that repeats the text twice brings none)
    if theirs >= 1.4 * ours and len(more - mine) >= 0.3 * len(mine) and (
            not chosen or coverage(paras, chosen) >= 0.9):
        return paras
    return None


_NEXT_PUSH = re.compile(r"self\.__next_f\.push\(\[\d+,\s*(\"(?:[^\"\\]|\\.)*\")\]\)")
_JSON_STRING = re.compile(r"\"((?:[^\"\\]|\\.){200,})\"")
_PARAGRAPH_TAG = re.compile(r"<p[\s>]", re.I)


def _html_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if len(_PARAGRAPH_TAG.findall(value)) >= 3:
            yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _html_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _html_strings(v)


def hydration_html(root: Any) -> str:
    """The article's HTML from a script-rendered page (Next.js and the like) whose markup arrives only in the
    hydration data: the longest HTML string with paragraphs in ``__NEXT_DATA__`` or ``self.__next_f`` chunks."""
    found: list[str] = []
    for script in root.iter("script"):
        code = script.text or ""
        if script.get("id") == "__NEXT_DATA__" or script.get("type") == "application/json":
            try:
                found += _html_strings(json.loads(code))
            except ValueError:
                pass
            continue
        if "__next_f" not in code:
            continue
        for m in _NEXT_PUSH.finditer(code):
            try:
                chunk = json.loads(m.group(1))
            except ValueError:
                continue
            for sm in _JSON_STRING.finditer(chunk):
                try:
                    found += _html_strings(json.loads(f'"{sm.group(1)}"'))
                except ValueError:
                    continue
            found += _html_strings(chunk)
    return max(found, key=len, default="")
