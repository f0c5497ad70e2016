"""The article's fields read off the page's tree: the headline, the lead (sapo), the byline, the standfirst the
page shows, and the writer's name where a body opens or closes with it.  Pure: a parsed page (and its metadata,
``pipelines.metadata.PageMeta``) in, a field and the element it was read from out; nothing here changes the tree.
``pipelines.extract`` calls these in its order and takes the elements they return out of the body.
"""

from __future__ import annotations

import functools
import html as html_lib
import itertools
import re
from typing import Any

from config.sources import Extraction
from pipelines.classnames import ClassWords, cls
from pipelines.clean import emphasised, in_link, inside, leafish, link_density, select, text_len
from pipelines.dates import parse_visible
from pipelines.metadata import (
    AUTHOR_LABEL,
    PageMeta,
    byline_name,
    clean_author,
    clean_text,
    credit_author,
    is_person_name,
    jsonld_authors,
    looks_like_byline,
    looks_like_site_name,
    node_text,
    strip_site_suffix,
)

_LEAD = ClassWords(r"(^|[\s_-])(sapo|lead|summary|description|desc|chapeau|excerpt|intro|abstract|tom-?tat|"
                   r"article-sapo|detail-sapo)($|[\s_-])")
_AUTHOR = ClassWords(r"(^|[\s_-])(authors?|bylines?|tac-?gia|writers?|signature|detail-author)($|[\s_-])")

_TITLE_SEPS = re.compile(r"\s+(?:\||-|–|—|::|»|/)\s+")
_HEADING_TAGS = ("h1", "h2", "h3", "h4")


@functools.lru_cache(maxsize=1 << 13)  # each element's text is keyed in the hunt for the headline; sites repeat theirs
def _title_key(s: str) -> str:
    return re.sub(r"[\W_]+", " ", html_lib.unescape(s or "")).strip().casefold()


def _title_parts(title: str, site_names: list[str]) -> list[str]:
    """The <title>, then what is left of it without a site name at the end, then at the start, segments that
    read like a site name last: 'Headline | Sở X' -> ['Headline | Sở X', 'Headline', 'Sở X']."""
    cuts = list(_TITLE_SEPS.finditer(title))
    heads = [title[: m.start()].strip() for m in reversed(cuts)]
    tails = [title[m.end():].strip() for m in cuts]
    # the site's name for sure (known, a domain, capitals) is never the headline
    parts = [p for p in dict.fromkeys([*heads, *tails]) if p and not looks_like_site_name(p, site_names, strict=True)]
    # segments that read like a site's name go last (headlines may start with "Bộ ...", "UBND ..." too)
    return [title, *sorted(parts, key=lambda p: looks_like_site_name(p, site_names))]



def declared_headline(pm: PageMeta, shown: str) -> str:
    """The headline the publisher declares in its structured data (JSON-LD ``headline``), which leaves out the
    kicker, the live-blog label and the site's name that pages print around it; the headline shown when the
    declared one is missing, too short, or a truncation of it (CMSs cut ``headline`` at 110 characters)."""
    raw = pm.jsonld.get("headline")
    declared = clean_text(html_lib.unescape(raw)) if isinstance(raw, str) else ""
    declared = strip_site_suffix(declared, [pm.meta("og:site_name") or ""]) if declared else ""
    if len(declared) < 10 or looks_like_site_name(declared, [pm.meta("og:site_name") or ""], strict=True):
        return shown
    cut = declared.rstrip(".…").rstrip()
    if shown and (_title_key(shown) == _title_key(declared) or _title_key(shown).startswith(_title_key(cut))):
        return shown  # the same words (the page's own punctuation wins), or a truncation of the shown one
    other = [clean_text(html_lib.unescape(raw)) if raw else "" for raw in (pm.meta("og:title"), pm.meta("twitter:title"))]
    return _without_kicker(declared, other) or declared


def _without_kicker(headline: str, titles: list[str]) -> str | None:
    """A kicker printed before the headline ("Olympische Spiele: …") is not part of it: the first of the
    metadata's ``titles`` that is the headline without it, or None when none is."""
    seen = _title_key(headline)
    for m in titles:
        km = _title_key(m)
        if len(km) >= 15 and km != seen and seen.endswith(" " + km):
            return m
    return None


def site_names(pm: PageMeta) -> list[str]:
    """The names the page gives its site (og:site_name, application-name, the JSON-LD publisher's name; an
    empty string where the first two are missing)."""
    names = [pm.meta("og:site_name") or "", pm.meta("application-name") or ""]
    publisher = pm.jsonld.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        names.append(publisher["name"])
    return names


def find_title(tree: Any, pm: PageMeta, hints: Extraction) -> tuple[str, Any | None]:
    """The page's headline: the visible element that agrees with the metadata (og:title, JSON-LD headline,
    <title> with or without its site suffix), else the only long h1, else the metadata without the suffix."""
    for el in select(tree, hints.title_selectors):
        t = node_text(el)
        if t:
            return t, el
    names = site_names(pm)
    headline = pm.jsonld.get("headline") if isinstance(pm.jsonld.get("headline"), str) else ""
    meta_titles = [clean_text(html_lib.unescape(t)) for t in (headline, pm.meta("og:title", "twitter:title") or "") if t]
    parts = _title_parts(pm.html_title, names) if pm.html_title else []
    wanted = {_title_key(t): rank for rank, t in enumerate([*meta_titles, *parts]) if len(_title_key(t)) >= 4}
    body = tree.find("body")
    best: tuple[tuple[int, int, int], str, Any] | None = None
    h1s = []
    heading_found = False
    for pos, el in enumerate((body if body is not None else tree).iter()):
        if not isinstance(el.tag, str) or el.tag in ("a", "script", "style", "title", "option"):
            continue
        if el.tag == "h1":
            h1s.append(el)
        if el.tag not in _HEADING_TAGS and (len(el) > 3 or heading_found):
            continue  # (once a heading is the best, only a heading can score lower: the rest is not read)
        t = node_text(el)
        if not 4 <= len(t) <= 400:
            continue
        rank = wanted.get(_title_key(t))
        if rank is None and el.tag in _HEADING_TAGS:
            # an og:title cut short ('...'), or a headline with a kicker: the heading that starts the same
            k = _title_key(t)
            rank = next((r + 1 for m, r in wanted.items() if len(m) >= 20 and (k.startswith(m) or m.startswith(k))
                         and min(len(m), len(k)) >= 0.6 * max(len(m), len(k))), None)
        if rank is None or in_link(el):
            continue
        # headings first, then how well the text agrees with the metadata, then the first on the page
        score = (0 if el.tag in _HEADING_TAGS else 1, rank, pos)
        if best is None or score < best[0]:
            best = (score, t, el)
            heading_found = score[0] == 0
            if score[:2] == (0, 0):
                break  # a heading with the first of the wanted titles: nothing later can score lower
    if best is not None:
        return _without_kicker(best[1], meta_titles) or best[1], best[2]
    long_h1 = [h for h in h1s if len(node_text(h)) > 15 and not in_link(h)]
    if len(long_h1) == 1:
        return node_text(long_h1[0]), long_h1[0]
    for t in meta_titles:
        return t, None
    if pm.html_title:
        return strip_site_suffix(pm.html_title, names), None
    return "", None



def find_lead(root: Any, hints: Extraction, container: Any | None, title_el: Any | None,
          skip: set[Any]) -> tuple[str, Any | None]:
    """The sapo: a hinted or lead-named element outside the body, else the bold block between the headline
    and the body (old portals name nothing), else a bold first paragraph of the body."""
    for el in select(root, hints.lead_selectors):
        t = node_text(el)
        if t:
            return t, el
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("meta", "body", "html", "article", "section"):
            continue
        if container is not None and (inside(el, container) or inside(container, el)):
            continue
        if _LEAD.search(cls(el)):
            t = node_text(el)
            if 30 <= len(t) <= 1500 and link_density(el) < 0.3:
                return t, el
    if title_el is not None:
        after = False
        seen = 0
        for el in root.iter():
            if el is title_el:
                after = True
                continue
            if not after or not isinstance(el.tag, str) or inside(el, title_el):
                continue
            if container is not None and (el is container or inside(el, container)):
                break
            if el.tag not in ("p", "div", "h2", "h3", "h4", "td", "span", "b", "strong", "em", "i") or not leafish(el):
                continue
            t = node_text(el)
            if not t or el in skip:
                continue
            seen += 1
            if 40 <= len(t) <= 1500 and link_density(el) < 0.2 and emphasised(el) and not parse_visible(t[:60]):
                return t, el
            if seen > 8 or len(t) > 200:
                break
    if container is not None:
        first = next((el for el in container.iter("p", "div", "h2", "h3", "strong", "b")
                      if el is not container and leafish(el) and node_text(el)), None)
        if first is not None and 40 <= text_len(first) <= 800 and emphasised(first) and link_density(first) < 0.2:
            nxt = first.getnext()
            if nxt is not None and node_text(nxt) and not emphasised(nxt):
                return node_text(first), first
    return "", None


# a sapo that opens with the outlet's tag: "(Chinhphu.vn) - ", "TGVN. ", "Baoquocte.vn. ", "VOV.VN - "
_SAPO_TAG = re.compile(r"^(?:\([^()]{2,30}\)\s*[-–—:]\s*|[\w.]{2,20}\.(?:vn|VN|net|com)\s*[.\-–—:]\s+|"
                       r"[A-ZĐ]{3,8}\.\s+)")


def strip_sapo_tag(lead: str) -> str:
    return _SAPO_TAG.sub("", lead, count=1) if len(lead) > 40 else lead



def find_author(pm: PageMeta, root: Any, site_names: set[str]) -> tuple[str | None, Any | None]:
    """JSON-LD persons, else a byline element (named like one, or labelled "Tác giả:" ...), else <meta author>;
    organisations and the site itself are never authors."""
    names = [clean_author(n) for n in jsonld_authors(pm.jsonld, pm.jsonld_nodes)]
    names = [n for n in names if is_person_name(n, site_names)]
    if names:
        # the person the page itself labels as the editor is not the writer (CMSs put the editor's account
        # in the JSON-LD; "Editor : Heryadi" under a byline of its own)
        editors = _shown_editors(root)
        names = [n for n in names if n.casefold() not in editors]
    if names:
        return ", ".join(dict.fromkeys(names)), None
    labelled = None
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("a", "script", "style", "title", "meta", "option"):
            continue
        named = _AUTHOR.search(cls(el))
        if not named and (labelled is not None or len(el) > 6 or not leafish(el)):
            continue
        t = node_text(el)
        if not t or len(t) > 90:
            continue
        name = byline_name(t, uncased=named)
        if name and is_person_name(name, site_names):
            if named:
                declared = pm.meta("author")
                if declared and declared != name and declared.casefold() in name.casefold() \
                        and is_person_name(declared, site_names) and looks_like_byline(declared):
                    return declared, el  # the byline's text with the writer's role glued on
                return name, el
            if _BYLINE_LABEL_HINT.match(t):
                labelled = (name, el)
    if labelled:
        return labelled
    meta = pm.meta("author", "article:author", "dc.creator")
    if meta and is_person_name(meta, site_names) and looks_like_byline(meta):
        return clean_author(meta), None
    return None, None


_EDITOR_LABEL = re.compile(r"^\s*(?:editor|editors|edited by|redaktur|redakteur(?:in)?|redigert av)\s*[:：]?\s*(.+)$", re.I)


_EDITOR_WORD = re.compile(r"^\s*(?:edit|redak|redig)", re.I)


def _shown_editors(root: Any) -> set[str]:
    """The names the page shows under an editor's label ("Editor : Heryadi"), casefolded.  Only an element
    whose own text (or its first child's, "<b>Editor</b> X") starts like the label is read whole."""
    out = set()
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in _NOT_SHOWN or len(el) > 4:
            continue
        lead = el.text if el.text and el.text.strip() else (el[0].text if len(el) else None)
        if not lead or not _EDITOR_WORD.match(lead):
            continue
        t = node_text(el)
        m = _EDITOR_LABEL.match(t) if t and len(t) <= 80 else None
        if m:
            out.add(m.group(1).strip(" .").casefold())
    return out


_BYLINE_LABEL_HINT = re.compile(r"^\s*(?:(?:tác giả|người viết|bài|tin|nhóm|phóng viên|pv|biên tập|thực hiện|ghi chép)"
                                rf"[^:]{{0,12}}[:：]|{AUTHOR_LABEL}[\s:：])", re.I)



_NOT_SHOWN = frozenset({"head", "script", "style", "noscript", "template", "title", "meta", "option", "textarea"})


def find_standfirst(root: Any, pm: PageMeta) -> str:
    """The page's description when the page also shows it (the standfirst under the headline), else ''."""
    descriptions = []
    for raw in (pm.jsonld.get("description"), pm.meta("og:description"), pm.meta("description"),
                pm.meta("twitter:description")):
        desc = clean_text(html_lib.unescape(raw)) if isinstance(raw, str) else ""
        if len(desc) >= 40 and "<" not in desc:
            descriptions.append(desc)
    body = root.find("body")
    top = body if body is not None else root
    texts: dict[Any, str] = {}  # each element's text once, whatever the number of descriptions
    for desc in dict.fromkeys(descriptions):  # pages repeat one description in three tags
        key, n = desc.casefold(), len(desc)
        # in document order; an element (and what is below it) that is never shown is passed over, and so is what
        # is below an element whose text is already too short: a descendant's text is part of its ancestor's
        todo = [top]
        while todo:
            el = todo.pop()
            if not isinstance(el.tag, str) or el.tag in _NOT_SHOWN:
                continue
            t = texts.get(el)
            if t is None:
                t = texts[el] = el.text_content()
            size = len(t.strip())
            if size < 0.9 * n:
                continue
            if size <= 1.5 * n + 20 and clean_text(t).casefold() == key:
                return clean_text(t)
            todo.extend(reversed(el))
    return ""


def closing_credit(lines: list[str]) -> tuple[str, str] | None:
    """(credited name, the line) of a credit line among the last three, else None."""
    for line in reversed(lines[-3:] if len(lines) > 1 else []):
        name = credit_author(line)
        if name:
            return name, line
    return None


def _paragraph_elements(container: Any) -> Any:
    """The container's text blocks in order: each outermost element with text and no block inside."""
    last = None
    for el in container.iter():
        if not isinstance(el.tag, str) or el.tag in ("a", "script", "style") or (last is not None and inside(el, last)):
            continue
        if leafish(el) and node_text(el):
            last = el
            yield el


def opening_byline(container: Any | None, out: list[str], site_names: set[str]) -> tuple[str, int] | None:
    """(the writer's name, its line) when the body opens with it alone, in bold, before prose ("<p><strong>
    Mohloai Mpesi</strong></p>"), perhaps after a short standfirst; names joined by '/' are several writers.
    Else None."""
    if container is None or len(out) < 3:
        return None
    opening = [line.casefold() for line in out[:3]]
    for el in itertools.islice(_paragraph_elements(container), 6):
        text = node_text(el)
        if len(text) > 200:
            return None  # prose has begun
        if text.casefold() not in opening:
            continue  # not body text (the headline, a date line)
        names = [byline_name(n) for n in text.split("/")]
        if emphasised(el) and all(n and 2 <= len(n.split()) <= 4 and is_person_name(n, site_names) for n in names):
            return ", ".join(n for n in names if n), opening.index(text.casefold())
    return None
