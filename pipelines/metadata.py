"""Page metadata: JSON-LD, meta tags, <link rel=canonical>, and the visible headline, date line and byline."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import html as lhtml

from pipelines.dates import parse_iso, parse_visible
from pipelines.decode import nfc

WS = re.compile(r"\s+")
_ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "blogposting", "analysisnewsarticle",
                  "opinionnewsarticle", "backgroundnewsarticle", "report", "webpage"}
_DATE_CLASS = re.compile(r"date|time|publish|ngay|thoi-gian|post-time|meta", re.I)
_NOT_ARTICLE_DATE = re.compile(r"today|now|current|clock|weather|top-?bar|header", re.I)
_AUTHOR_CLASS = re.compile(r"author|byline|tac-?gia|writer|signature|nguon", re.I)


def clean_text(s: str | None) -> str:
    return nfc(WS.sub(" ", s or "").strip())


def node_text(el: Any) -> str:
    return clean_text(el.text_content()) if el is not None else ""


@dataclass(slots=True)
class PageMeta:
    jsonld: dict[str, Any] = field(default_factory=dict)
    metas: dict[str, str] = field(default_factory=dict)
    canonical: str | None = None
    language: str | None = None
    html_title: str = ""

    def meta(self, *names: str) -> str | None:
        for n in names:
            v = self.metas.get(n.lower())
            if v:
                return v
        return None


def _walk_jsonld(obj: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(obj, list):
        for x in obj:
            out += _walk_jsonld(x)
    elif isinstance(obj, dict):
        if "@graph" in obj:
            out += _walk_jsonld(obj["@graph"])
        out.append(obj)
    return out


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type") or []
    return {x.lower() for x in ([t] if isinstance(t, str) else t) if isinstance(x, str)}


def read_meta(tree: Any) -> PageMeta:
    pm = PageMeta()
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        val = el.get("content")
        if key and val and key not in pm.metas:
            pm.metas[key] = clean_text(val)
    for el in tree.iter("link"):
        if (el.get("rel") or "").lower() == "canonical" and el.get("href"):
            pm.canonical = el.get("href").strip()
            break
    lang = tree.get("lang") or tree.get("xml:lang")
    pm.language = (lang or pm.meta("og:locale", "content-language", "language") or "").split("-")[0].split("_")[0].lower() or None
    t = tree.find(".//title")
    pm.html_title = node_text(t)
    best: dict[str, Any] = {}
    for el in tree.iter("script"):
        if (el.get("type") or "").lower() != "application/ld+json" or not el.text:
            continue
        try:
            data = json.loads(el.text)
        except ValueError:
            continue
        for obj in _walk_jsonld(data):
            types = _types(obj)
            if types & _ARTICLE_TYPES and (obj.get("headline") or obj.get("datePublished")):
                if not best or ("webpage" in _types(best) and "webpage" not in types):
                    best = obj
    pm.jsonld = best
    if pm.language is None and isinstance(best.get("inLanguage"), str):
        pm.language = best["inLanguage"].split("-")[0].lower()
    return pm


def jsonld_authors(obj: dict[str, Any]) -> list[str]:
    a = obj.get("author")
    items = a if isinstance(a, list) else [a] if a else []
    names = []
    for it in items:
        if isinstance(it, str):
            names.append(clean_text(it))
        elif isinstance(it, dict) and "organization" not in _types(it):
            if isinstance(it.get("name"), str):
                names.append(clean_text(it["name"]))
    return [n for n in names if n]


def strip_site_suffix(title: str, site_names: list[str]) -> str:
    """'Headline - Báo X' -> 'Headline' when the tail is the site's name (or there is no better source)."""
    for sep in (" - ", " | ", " – ", " — ", " :: "):
        if sep in title:
            head, _, tail = title.rpartition(sep)
            low = tail.strip().casefold()
            if any(low and (low in n.casefold() or n.casefold() in low) for n in site_names if n):
                return head.strip()
    return title


def _distance(a: Any, b: Any) -> int:
    """Tree distance between two elements (steps up to the common ancestor and down)."""
    anc_a = [a, *a.iterancestors()]
    pos = {id(x): i for i, x in enumerate(anc_a)}
    for j, x in enumerate([b, *b.iterancestors()]):
        if id(x) in pos:
            return pos[id(x)] + j
    return 10**6


def find_visible_date(tree: Any, anchor: Any | None) -> tuple[dt.datetime, bool, Any] | None:
    """The date line closest to the headline: (datetime, has_time, element)."""
    found = []
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style", "html", "body", "head", "meta"):
            continue
        cls = f"{el.get('class') or ''} {el.get('id') or ''}"
        if el.tag != "time" and not _DATE_CLASS.search(cls):
            continue
        if _NOT_ARTICLE_DATE.search(cls) or any(_NOT_ARTICLE_DATE.search(f"{p.get('class') or ''} {p.get('id') or ''}")
                                                for p in el.iterancestors() if p.tag not in ("html", "body")):
            continue
        txt = node_text(el)
        if len(txt) > 120:
            continue
        parsed = None
        if el.tag == "time" and el.get("datetime"):
            iso = parse_iso(el.get("datetime"))
            if iso:
                parsed = (iso, "T" in el.get("datetime", "") or ":" in el.get("datetime", ""))
        parsed = parsed or parse_visible(txt)
        if parsed:
            found.append((_distance(el, anchor) if anchor is not None else 0, parsed, el))
    if not found:
        return None
    found.sort(key=lambda x: x[0])
    _, (when, has_time), el = found[0]
    return when, has_time, el


def best_datetime(candidates: list[tuple[dt.datetime | None, bool]]) -> dt.datetime | None:
    """First candidate with a time of day; else the first date.  A later date-only candidate that agrees on the
    day never overrides a time, and one with a time refines a date-only one."""
    first = None
    for when, has_time in candidates:
        if when is None:
            continue
        if has_time:
            return when
        first = first or when
    return first


def looks_like_byline(text: str) -> bool:
    """A short line of capitalised names ("Anh Khoa - Nguyễn Anh", "Thị Huy", "Theo TTXVN")."""
    t = text.strip(" .()")
    if not t or len(t) > 70 or any(c in t for c in ":;“”\"!?") or t.count(",") > 2:
        return False
    words = [w for w in re.split(r"[\s\-–/,]+", t) if w]
    if not 1 <= len(words) <= 9:
        return False
    if words[0].casefold() in ("theo", "nguồn", "bài", "ảnh", "tin", "nhóm"):
        return True
    caps = sum(1 for w in words if w[:1].isupper() or w.isupper())
    return caps == len(words) and not t.endswith(".")


def element_html(el: Any) -> str:
    return lhtml.tostring(el, encoding="unicode")
