"""What a page means: the article, the whole article and only the article.  Pure: bytes in, fields out.

The page is decoded to NFC (pipelines.decode), its metadata read (pipelines.metadata), its text blocks kept for
the template learner (pipelines.template), then the DOM is cleaned generically: navigation, share bars,
related/most-read boxes, comments, duplicated figure titles (by tag and class name), and inside the body the
lines that are only a label and links ("Xem thêm: ...", "Từ khóa: ...").  The article container is located by
text density (or a source's content selector); layout tables, <br><br> runs and bare-<div> paragraphs are turned
into paragraphs; trafilatura extracts the text of that container; headline, lead, date line, byline and
repeated captions are taken out of the body and into their fields.

Nothing here raises on bad documents: they come back as ``Skipped(reason)``: empty_body, binary_body (compressed
or binary bytes, never decompressed), legacy_encoding_tcvn3 / _vni, unparseable, login_wall, soft_404,
video_page, listing_page, photo_page, no_article_text, no_title, language_<xx> (a page not in the source's
language).
"""

from __future__ import annotations

import datetime as dt
import functools
import html as html_lib
import itertools
import re
from typing import Any

import trafilatura
from lxml import etree
from lxml import html as lhtml

from config.sources import Extraction
from pipelines.classify import headline_links, is_listing, language_of, media_only, not_article
from pipelines.clean import (
    cls,
    drop,
    drop_embeds,
    emphasised,
    figure_cleanup,
    in_link,
    inside,
    leafish,
    line_key,
    link_density,
    link_items,
    prune,
    select,
    text_len,
    tidy_container,
    unbrand,
)
from pipelines.dates import VN_TZ, iso_has_time, parse_iso, parse_visible
from pipelines.decode import decode_html, looks_binary
from pipelines.items import Extracted, Skipped
from pipelines.locate import (
    combine,
    density_container,
    hydration_html,
    paragraphs,
    structured_body,
    trafilatura_text,
    whole_page_text,
)
from pipelines.metadata import (
    AUTHOR_LABEL,
    PageMeta,
    best_datetime,
    byline_name,
    choose_title,
    clean_author,
    clean_text,
    credit_author,
    element_html,
    find_visible_date,
    find_visible_update,
    is_person_name,
    jsonld_authors,
    jsonld_credited,
    looks_like_byline,
    looks_like_site_name,
    node_text,
    normalise_author,
    page_zone,
    plausible,
    read_meta,
    shown_offset,
    strip_site_suffix,
    texts_remembered,
)
from pipelines.template import text_blocks
from pipelines.urls import same_site

EXTRACTOR = "vnarchive-trafilatura"
EXTRACTOR_VERSION = f"2.7/{trafilatura.__version__}"

_LEAD = re.compile(r"(^|[\s_-])(sapo|lead|summary|description|desc|chapeau|excerpt|intro|abstract|tom-?tat|"
                   r"article-sapo|detail-sapo)($|[\s_-])", re.I)
_AUTHOR = re.compile(r"(^|[\s_-])(authors?|bylines?|tac-?gia|writers?|signature|detail-author)($|[\s_-])", re.I)
_PURE_DATE = re.compile(r"^[\w\s,.:|()+\-/]*\d{1,2}[/.-]\d{1,2}[/.-]\d{4}[\w\s,.:|()+\-/]*$")
_MARKUP = re.compile(r"<(?:body|div|p|h1|h2|table|article)\b", re.I)
_OPEN_TITLE = re.compile(r"(<title[^>]*>)([^<]*)(?=<)", re.I)

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



def _declared_headline(pm: PageMeta, shown: str) -> str:
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
    return _without_kicker(declared, pm)


def _without_kicker(headline: str, pm: PageMeta) -> str:
    """A kicker printed before the headline ("Olympische Spiele: …") is not part of it when other metadata
    gives the headline without it."""
    seen = _title_key(headline)
    for raw in (pm.meta("og:title"), pm.meta("twitter:title")):
        m = clean_text(html_lib.unescape(raw)) if raw else ""
        km = _title_key(m)
        if len(km) >= 15 and km != seen and seen.endswith(" " + km):
            return m
    return headline


def _find_title(tree: Any, pm: PageMeta, hints: Extraction) -> tuple[str, Any | None]:
    """The page's headline: the visible element that agrees with the metadata (og:title, JSON-LD headline,
    <title> with or without its site suffix), else the only long h1, else the metadata without the suffix."""
    for el in select(tree, hints.title_selectors):
        t = node_text(el)
        if t:
            return t, el
    site_names = [pm.meta("og:site_name") or "", pm.meta("application-name") or ""]
    publisher = pm.jsonld.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        site_names.append(publisher["name"])
    headline = pm.jsonld.get("headline") if isinstance(pm.jsonld.get("headline"), str) else ""
    meta_titles = [clean_text(html_lib.unescape(t)) for t in (headline, pm.meta("og:title", "twitter:title") or "") if t]
    parts = _title_parts(pm.html_title, site_names) if pm.html_title else []
    wanted = {_title_key(t): rank for rank, t in enumerate([*meta_titles, *parts]) if len(_title_key(t)) >= 4}
    body = tree.find("body")
    best: tuple[tuple[int, int, int], str, Any] | None = None
    h1s = []
    for pos, el in enumerate((body if body is not None else tree).iter()):
        if not isinstance(el.tag, str) or el.tag in ("a", "script", "style", "title", "option"):
            continue
        if el.tag == "h1":
            h1s.append(el)
        if el.tag not in _HEADING_TAGS and len(el) > 3:
            continue
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
    if best is not None:
        # a kicker printed before the headline ("Olympische Spiele: …") is not part of it when the metadata
        # gives the headline without it
        seen = _title_key(best[1])
        for m in meta_titles:
            km = _title_key(m)
            if len(km) >= 15 and km != seen and seen.endswith(" " + km):
                return m, best[2]
        return best[1], best[2]
    long_h1 = [h for h in h1s if len(node_text(h)) > 15 and not in_link(h)]
    if len(long_h1) == 1:
        return node_text(long_h1[0]), long_h1[0]
    for t in meta_titles:
        return t, None
    if pm.html_title:
        return strip_site_suffix(pm.html_title, site_names), None
    return "", None



def _lead(root: Any, hints: Extraction, container: Any | None, title_el: Any | None,
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



def _author(pm: PageMeta, root: Any, site_names: set[str]) -> tuple[str | None, Any | None]:
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
        named = bool(_AUTHOR.search(cls(el)))
        if not named and (labelled is not None or not leafish(el) or len(el) > 6):
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


def _standfirst(root: Any, pm: PageMeta) -> str:
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


def _refused_language(wanted: tuple[str, ...], seen: str | None, declared: str | None) -> str | None:
    """The page's language when the source does not want it, else None.  Vietnamese is recognised from the text
    itself; another language from the page's declaration (an undeclared non-Vietnamese text is 'not_vi')."""
    if "*" in wanted:
        return None
    if seen == "vi":
        return None if "vi" in wanted else "vi"
    if seen == "other":
        if declared and declared != "vi" and declared in wanted:
            return None
        return declared if declared and declared != "vi" else "not_vi"
    return None  # too little text to tell: when in doubt, keep


# a photo credit on a line of its own ("Foto: Dan Bashakov/AP", "Фото: …", "(Ảnh: TTXVN)"), not a sentence
_CREDIT_LINE = re.compile(r"^\(?\s*(?:foto|photo|photos|image|images|bild|фото|ảnh|hình|nguồn ảnh|credit|picture|"
                          r"kuva|zdjęcie|immagine|imagen)\s*[:：]\s*[^.!?]{2,80}\)?$", re.I)
# an unrendered template placeholder left in the markup ("$$ARTICLEAD$$", "{{ad}}")
_TEMPLATE_MARKER = re.compile(r"^(?:\$\$[\w-]+\$\$|\{\{[^{}]+\}\}|\[\[[^\[\]]+\]\])$")


_TRAILING_LABEL = re.compile(r"^[^.!?:]{2,40}[:：]$")


def _closing_credit(lines: list[str]) -> tuple[str, str] | None:
    """(credited name, the line) of a credit line among the last three, else None."""
    for line in reversed(lines[-3:] if len(lines) > 1 else []):
        name = credit_author(line)
        if name:
            return name, line
    return None


_BULLET_START = re.compile(r"^[-–—•·*]\s")


def _paragraph_elements(container: Any) -> Any:
    """The container's text blocks in order: each outermost element with text and no block inside."""
    last = None
    for el in container.iter():
        if not isinstance(el.tag, str) or el.tag in ("a", "script", "style") or (last is not None and inside(el, last)):
            continue
        if leafish(el) and node_text(el):
            last = el
            yield el


def _opening_byline(container: Any | None, out: list[str], site_names: set[str]) -> tuple[str, int] | None:
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


def _in_vietnam(when: dt.datetime | None, shown: dt.datetime | None) -> dt.datetime | None:
    """``when`` in UTC+00:00 (as plugins write it) expressed in the offset the page shows, or Vietnam time."""
    if when is None or when.tzinfo is None or when.utcoffset() != dt.timedelta(0):
        return when
    return when.astimezone(shown.tzinfo if shown is not None and shown.tzinfo is not None else VN_TZ)


def _tidy_lines(lines: list[str], title: str, lead: str) -> list[str]:
    """Headline, lead, date lines and repeated paragraphs (captions printed twice) are not body text."""
    norm_title, norm_lead = title.casefold(), lead.casefold()
    out: list[str] = []
    seen: set[str] = set()
    for p in lines:
        key = p.casefold()
        if key in seen or key == norm_title or (norm_lead and key == norm_lead):
            continue
        if len(p) < 60 and _PURE_DATE.match(p) and not re.search(r"[a-zà-ỹ]{4,}", p.lower().replace("thứ", "")):
            continue
        if _CREDIT_LINE.match(p) or _TEMPLATE_MARKER.match(p):
            continue
        seen.add(key)
        out.append(p)
    return out


def extract_article(body: bytes, url: str, content_type: str | None = None,
                    hints: Extraction | None = None) -> Extracted | Skipped:
    """Fields of the article in ``body`` fetched from ``url``, or why it is not an article."""
    hints = hints or Extraction()
    if not body or not body.strip():
        return Skipped("empty_body")
    if looks_binary(body):
        return Skipped("binary_body")
    decoded = decode_html(body, content_type)
    legacy = decoded.legacy
    if legacy:
        # TCVN3/VNI pages decode "fine" into mojibake: not archived as text; the capture keeps the bytes
        return Skipped(f"legacy_encoding_{legacy}", decoded.decode_errors)
    text_html = re.sub(r"^\s*<\?xml[^>]*\?>", "", decoded.text).replace("\x00", "")
    try:
        root = lhtml.document_fromstring(text_html)
        head_title = root.find(".//title")
        if head_title is not None and len(head_title.text or "") > 300 and _MARKUP.search(head_title.text or ""):
            # an unclosed <title> swallows the page as its text: close it where the markup starts
            root = lhtml.document_fromstring(_OPEN_TITLE.sub(r"\1\2</title>", text_html, count=1))
    except (etree.ParserError, ValueError):
        return Skipped("unparseable", decoded.decode_errors)
    # every element's Python proxy held for the whole extraction: the many walks over the tree below then reuse
    # them instead of building new ones (lxml.html calls a Python class lookup for each proxy it builds)
    proxies = list(root.iter())  # noqa: F841
    pm = read_meta(root)
    drop_embeds(root)  # quoted social posts are not the article's text, in either reading
    floor_text = whole_page_text(root, url)  # before anything else of ours touches the tree (it reads a copy)
    if len(floor_text) < hints.min_text_chars:
        # a script-rendered page: the article may be only in its hydration data
        hydrated = hydration_html(root)
        if hydrated:
            floor_text = whole_page_text(f"<html><body><article>{hydrated}</article></body></html>", url)
    standfirst = _standfirst(root, pm)
    links_elsewhere = link_items(root)
    blocks = text_blocks(root)  # before any pruning: the template is learnt from the whole page
    media = media_only(root)  # what a page without text is made of (before figures become captions)
    for br in root.iter("br"):
        br.tail = " " + (br.tail or "")  # a line break separates words (text_content and table cells glue them)
    for el in select(root, hints.prune_selectors):
        drop(el)

    # the headline, the dates and the byline read the same tree, unchanged until the pruning below: each
    # element's text is read once for all of them
    with texts_remembered():
        title, title_el = _find_title(root, pm, hints)
        title = _declared_headline(pm, title) if title else title
        title = choose_title(pm, title, [pm.meta("og:site_name") or "", pm.meta("application-name") or ""])
        site_names = {n.casefold() for n in (pm.meta("og:site_name"), pm.meta("application-name")) if n}
        publisher = pm.jsonld.get("publisher")
        if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
            site_names.add(publisher["name"].casefold())

        # dates: structured metadata first, the visible date line next to the headline to refine or fill in
        pub_meta = pm.jsonld.get("datePublished") or pm.meta(
            "article:published_time", "pubdate", "datepublished", "publishdate", "dc.date.issued", "dc.date",
            "og:article:published_time", "date")
        pub_meta = pub_meta if isinstance(pub_meta, str) else None
        mod_meta = pm.jsonld.get("dateModified") or pm.meta("article:modified_time", "lastmod", "datemodified",
                                                           "og:updated_time", "dc.date.modified")
        # a visible time without offset is in the zone the page's own metadata states its times in
        visible = find_visible_date(root, title_el, page_zone([pub_meta, mod_meta]))
        published = best_datetime([
            (parse_iso(pub_meta), iso_has_time(pub_meta)),
            (visible[0], visible[1]) if visible else (None, False),
        ])
        if published is not None and visible and visible[1] and published.utcoffset() != visible[0].utcoffset() \
                and abs((published - visible[0]).total_seconds()) < 60:
            # the same instant: keep the offset the page shows its readers (SEO plugins write UTC)
            published = published.astimezone(visible[0].tzinfo)
        elif published is not None and visible and visible[1] and iso_has_time(pub_meta) \
                and (zone := shown_offset(published, visible[0])) is not None:
            # metadata in UTC, the page's wall clock in its newsroom's zone: the same instant in that zone
            published = published.astimezone(zone)
        modified = plausible(parse_iso(mod_meta if isinstance(mod_meta, str) else None)) or find_visible_update(root)
        if published is None and modified is not None:
            # a page that shows only when it was last updated (old portals print "Cập nhật lúc ..." alone): that
            # is the earliest time known of it
            published = modified

        author, author_el = _author(pm, root, site_names)
        author = normalise_author(author)

    container = None
    for el in select(root, hints.content_selectors):
        if text_len(el) >= 100:
            container = el
            break
    keep = [title_el, container]
    prune(root, keep)
    figure_cleanup(root)
    if container is None:
        container = density_container(root, title_el)
    skip = {x for x in (author_el, visible[2] if visible else None) if x is not None}
    lead, lead_el = _lead(root, hints, container, title_el, skip)
    # the byline and the date line are fields, not text: out of the body before trafilatura sees it
    for el in (author_el, lead_el if lead_el is not None and inside(lead_el, container) else None,
               visible[2] if visible and inside(visible[2], container) and len(node_text(visible[2])) < 60 else None):
        if el is not None and el is not container and el.getparent() is not None:
            drop(el)

    # the container's last few text blocks, where a credit line too short for trafilatura may sit ("<b>PV</b>")
    closing_blocks = [node_text(el) for el in (container.iter() if container is not None else ())
                      if isinstance(el.tag, str) and el.tag not in ("a", "script", "style") and leafish(el)
                      and node_text(el)][-3:]
    # what goes to trafilatura: captions of figures between headline and container, then the container
    parts: list[str] = []
    n_headline_links = headline_links(container)
    if container is not None:
        tidy_container(container)
        order = {e: i for i, e in enumerate(root.iter())}
        start = order.get(title_el, 0) if title_el is not None else 0
        cpos = order.get(container, 0)
        for fig in root.iter("div"):
            if fig.get("data-vnarchive") == "caption" and start <= order.get(fig, -1) < cpos \
                    and not inside(fig, container):
                parts.append(element_html(fig))
        # trafilatura's own class-name filters must not read a page builder's article boxes
        # ("elementor-widget-image") as furniture
        unbrand(container)
        body_html = element_html(container)
        doc = f"<html><head><title></title></head><body><article>{''.join(parts)}{body_html}</article></body></html>"
    else:
        for el in (lead_el, title_el, visible[2] if visible else None):
            if el is not None and el.getparent() is not None:
                drop(el)
        doc = element_html(root)
    located = _tidy_lines(paragraphs(trafilatura_text(doc, url)), title, lead)
    floor = _tidy_lines(paragraphs(floor_text), title, lead)
    captions = frozenset(clean_text(c.text_content()).casefold() for fig in root.iter("div")
                         if fig.get("data-vnarchive") == "caption" for c in fig)
    out, _rule = combine(located, floor, captions)
    out = [p for p in out if line_key(p) not in links_elsewhere]
    article_body = pm.jsonld.get("articleBody")
    if isinstance(article_body, str):
        fuller = structured_body(html_lib.unescape(article_body), out)
        if fuller is not None:
            out, _rule = _tidy_lines(fuller, title, lead), "articleBody"
    norm_lead = lead.casefold()
    if norm_lead and out and out[0].casefold().startswith(norm_lead):
        out[0] = out[0][len(lead):].strip()
        if not out[0]:
            out.pop(0)
    # lead missing from the markup: a description that opens the body is the lead, and so is one the page
    # shows as a standfirst of its own (trafilatura often leaves it out)
    if not lead and standfirst:
        key = standfirst.casefold()
        if out and out[0].casefold() == key:
            lead = out.pop(0)
        elif not any(key in p.casefold() for p in out):
            lead = standfirst
    # a closing credit line ("Theo Công Hùng (Báo Chính phủ)", "Nguồn: TTXVN", "Thu Hà - TTXVN") says whom the
    # article is by, better than a CMS account in the metadata: it is the author, and no longer text.  Looked
    # for in what both readings end with (a short credit line may be one the ensemble let go)
    credit = _closing_credit(out) or _closing_credit(located) or _closing_credit(floor) \
        or _closing_credit(closing_blocks)
    if credit is not None:
        author = credit[0]
        out = [p for p in out if p != credit[1]]
    while out and len(out) > 1 and _TRAILING_LABEL.match(out[-1]):
        out.pop()  # "Tin liên quan:" whose list of links is gone
    # the byline: a last paragraph of names, or the author's line wherever it was left
    if out and len(out) > 1 and not _BULLET_START.match(out[-1]):
        name = byline_name(out[-1])
        if name and is_person_name(name, site_names) and (len(name.split()) > 1 or credit_author(name)) and (
                author is None or name.casefold() == author.casefold() or author.casefold() in name.casefold()):
            author = author or name
            out.pop()
    # or the body's own first line, a name alone in bold (WordPress papers print the writer there while the
    # metadata names the account that posted it): the writer, over an author known only from metadata
    opening = _opening_byline(container, out, site_names)
    if opening and (author_el is None or not is_person_name(author, site_names)):
        author = opening[0]
        out.pop(opening[1])
    if author:
        low = author.casefold()
        out = [p for p in out if not (len(p) <= len(author) + 25 and (byline_name(p) or "").casefold() == low)]
    else:
        # no person credited anywhere: the organisation the structured data credits ("DER SPIEGEL", "dpa")
        author = normalise_author(jsonld_credited(pm.jsonld, pm.jsonld_nodes))
    lead = strip_sapo_tag(lead)
    text = "\n\n".join(out)
    skip_reason = not_article(pm, title, text, root)
    if skip_reason:
        return Skipped(skip_reason, decoded.decode_errors)
    if is_listing(n_headline_links, out):
        return Skipped("listing_page", decoded.decode_errors)
    if len(text) + len(lead) < hints.min_text_chars:
        return Skipped(media or "no_article_text", decoded.decode_errors)
    if not title:
        return Skipped("no_title", decoded.decode_errors)
    language = pm.language or hints.language
    seen_language = language_of(f"{title}\n{lead}\n{text}", pm.language)
    if seen_language == "vi":
        # a Vietnamese page's times in Vietnam time, whatever offset its SEO plugin wrote (the same instants)
        published, modified = (_in_vietnam(published, visible[0] if visible else None),
                               _in_vietnam(modified, visible[0] if visible else None))
    refused = _refused_language(hints.languages, seen_language, pm.language)
    if refused:
        return Skipped(f"language_{refused}", decoded.decode_errors)
    canonical = pm.canonical or pm.meta("og:url")
    if canonical and not same_site(canonical, url):
        canonical = None
    return Extracted(
        title=title,
        lead=lead,
        text=text,
        author=normalise_author(author),
        published=published,
        modified=modified,
        language=language,
        page_canonical=canonical,
        decode_errors=decoded.decode_errors,
        extractor=EXTRACTOR,
        extractor_version=EXTRACTOR_VERSION,
        blocks=blocks,
    )


def plain_trafilatura_fields(body: bytes, url: str, content_type: str | None = None) -> dict[str, str | None]:
    """Baseline for the fidelity report: trafilatura's own defaults (comments excluded) on the decoded page
    (a str, so trafilatura never sees compressed bytes): text (description + body), title, author, date."""
    decoded = decode_html(body, content_type)
    doc = trafilatura.bare_extraction(decoded.text, url=url, include_comments=False, with_metadata=True)
    if doc is None:
        return {"text": "", "title": None, "author": None, "published": None}
    text = "\n".join(x for x in (getattr(doc, "description", "") or "", getattr(doc, "text", "") or "") if x)
    return {"text": text, "title": getattr(doc, "title", None), "author": getattr(doc, "author", None),
            "published": getattr(doc, "date", None)}


def plain_trafilatura(body: bytes, url: str, content_type: str | None = None) -> str:
    """The text plain trafilatura gets from the page (see ``plain_trafilatura_fields``)."""
    return plain_trafilatura_fields(body, url, content_type)["text"] or ""
