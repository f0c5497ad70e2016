"""What a page means: the article, the whole article and only the article.  Pure: bytes in, fields out.

The page is decoded to NFC, its metadata read, then the DOM is cleaned generically (navigation, share bars,
related/most-read boxes, comments, duplicated figure titles), the article container is located by text
density (or a source's content selector), and trafilatura extracts the paragraphs from that container.
Nothing here raises on bad documents: they come back as ``Skipped(reason)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import trafilatura
from lxml import etree
from lxml import html as lhtml
from lxml.cssselect import CSSSelector

from config.sources import Extraction
from pipelines.dates import parse_iso
from pipelines.decode import decode_html, looks_binary
from pipelines.items import Extracted, Skipped
from pipelines.metadata import (
    PageMeta,
    best_datetime,
    clean_text,
    element_html,
    find_visible_date,
    jsonld_authors,
    looks_like_byline,
    node_text,
    read_meta,
    strip_site_suffix,
)
from pipelines.urls import same_site

EXTRACTOR = "vnarchive-trafilatura"
EXTRACTOR_VERSION = f"1.0/{trafilatura.__version__}"

# elements that are never article text
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "form", "button", "input", "select",
              "textarea", "marquee", "svg", "canvas", "video", "audio", "object", "embed", "nav", "footer",
              "aside", "menu", "dialog")
# class/id words of page furniture (matched as whole words of class or id attributes)
_BOILER = re.compile(
    r"(^|[\s_-])(share|sharing|social|related|relate|tags?|keywords?|comments?|binh-?luan|breadcrumbs?|tools|"
    r"print|font-?size|fontsize|most|popular|docnhieu|xem-?nhieu|banner|ads?|advert\w*|qc|quang-?cao|menu|"
    r"navbar|nav|sidebar-2|widget|tab-?head|tabs?-news|tab-pane|other-news|tin-?khac|paging|pagination|"
    r"pager|rating|vote|subscribe|newsletter|login|search|footer|copyright|top-?bar|header|toolbar|"
    r"img-alt|thumb-title|hot-?tags|box-most|box-related|box_comment|comment_item|article-tools|"
    r"detail-tools|detail-tags|detail-relate|author-box|audio|player)($|[\s_-])",
    re.I,
)
_LEAD = re.compile(r"(^|[\s_-])(sapo|lead|summary|description|desc|chapeau|excerpt|intro|abstract|tom-?tat|"
                   r"article-sapo|detail-sapo)($|[\s_-])", re.I)
_AUTHOR = re.compile(r"(^|[\s_-])(author|byline|tac-?gia|writer|signature|detail-author)($|[\s_-])", re.I)
_BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th",
           "figcaption", "dd", "dt", "section", "article", "table", "tr", "ul", "ol", "figure", "br"}
_PURE_DATE = re.compile(r"^[\w\s,.:|()+\-/]*\d{1,2}[/.-]\d{1,2}[/.-]\d{4}[\w\s,.:|()+\-/]*$")
_SOFT_404 = re.compile(r"không tìm thấy|page not found|404|trang bạn yêu cầu|không tồn tại|đã bị xóa", re.I)
_LOGIN = re.compile(r"đăng nhập|login|sign in", re.I)


def _cls(el: Any) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _drop(el: Any) -> None:
    """Remove an element but keep its tail text in the tree."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _select(tree: Any, selectors: Iterable[str]) -> list[Any]:
    out: list[Any] = []
    for sel in selectors:
        try:
            out += CSSSelector(sel)(tree)
        except Exception:  # a bad selector in a hint must not lose the page
            continue
    return out


def _text_len(el: Any) -> int:
    return len(clean_text(el.text_content()))


def _link_density(el: Any) -> float:
    total = _text_len(el)
    if not total:
        return 0.0
    links = sum(_text_len(a) for a in el.iter("a"))
    return links / total


def _find_title(tree: Any, pm: PageMeta, hints: Extraction) -> tuple[str, Any | None]:
    for el in _select(tree, hints.title_selectors):
        t = node_text(el)
        if t:
            return t, el
    site_names = [pm.meta("og:site_name") or "", pm.meta("application-name") or ""]
    publisher = pm.jsonld.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        site_names.append(publisher["name"])
    candidates = [clean_text(pm.jsonld.get("headline") if isinstance(pm.jsonld.get("headline"), str) else ""),
                  pm.meta("og:title", "twitter:title") or "", strip_site_suffix(pm.html_title, site_names)]
    h1s = [h for h in tree.iter("h1") if node_text(h)]
    # the headline element: an h1 agreeing with the metadata, else the only h1, else a title-classed element
    for h in h1s:
        t = node_text(h)
        if any(c and (c == t or c.startswith(t) or t.startswith(c)) for c in candidates):
            return t, h
    if len(h1s) == 1 and len(node_text(h1s[0])) > 15:
        return node_text(h1s[0]), h1s[0]
    meta_title = next((c for c in candidates if c), "")
    for el in tree.iter():
        if isinstance(el.tag, str) and re.search(r"(^|\s)(title|tieu-?de|headline)", _cls(el), re.I):
            t = node_text(el)
            if t and meta_title and (t == meta_title or meta_title.startswith(t) or t.startswith(meta_title)):
                return t, el
    if meta_title:
        # '<title>' alone: drop a " - Site" tail even when the site name is unknown
        if meta_title == pm.html_title and " - " in meta_title:
            meta_title = meta_title.rpartition(" - ")[0]
        return meta_title, None
    return "", None


def _prune(root: Any, keep: list[Any]) -> None:
    """Drop page furniture, never an element holding the headline or most of the text."""
    protected = {id(k) for el in keep if el is not None for k in (el, *el.iterancestors())}
    for el in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        _drop(el)
    for tag in _DROP_TAGS:
        for el in list(root.iter(tag)):
            if id(el) not in protected:
                _drop(el)
    for el in list(root.iter("header")):
        if id(el) not in protected:
            _drop(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or id(el) in protected or el.getparent() is None:
            continue
        if _BOILER.search(_cls(el)):
            _drop(el)


def _figure_cleanup(root: Any) -> None:
    """A figure's text is its caption: titles repeated inside figures, alt text and credits-only divs go."""
    # trafilatura drops <figure>: turn each into plain caption paragraphs first
    for fig in list(root.iter("figure")):
        caps = [clean_text(c.text_content()) for c in fig.iter("figcaption")]
        parent = fig.getparent()
        if parent is None:
            continue
        if not any(caps):
            _drop(fig)
            continue
        div = lhtml.Element("div")
        div.set("data-vnarchive", "caption")
        for cap in dict.fromkeys(c for c in caps if c):
            para = etree.SubElement(div, "p")
            para.text = cap
        div.tail = fig.tail
        parent.replace(fig, div)
    # image tables (table > img + caption cell) become a caption paragraph
    for table in list(root.iter("table")):
        if table.find(".//img") is None:
            continue
        cells = [clean_text(td.text_content()) for td in table.iter("td", "th")]
        cells = [c for c in cells if c]
        if len(cells) <= 2:
            p = lhtml.Element("p")
            p.text = " ".join(dict.fromkeys(cells))
            p.tail = table.tail
            parent = table.getparent()
            if parent is not None:
                parent.replace(table, p)


def _density_container(root: Any, title_el: Any | None) -> Any | None:
    """The element whose direct paragraphs hold the most non-link text (readability's core idea)."""
    scores: dict[int, float] = {}
    elems: dict[int, Any] = {}
    for p in root.iter("p", "td", "pre", "blockquote", "li", "div"):
        if p.tag in ("div", "td", "li"):
            # only text-bearing divs/cells count as paragraphs (no block children)
            if any(isinstance(c.tag, str) and c.tag in _BLOCKS and c.tag != "br" for c in p):
                continue
        n = _text_len(p)
        if n < 25 or _link_density(p) > 0.5:
            continue
        parent = p.getparent()
        if parent is None:
            continue
        for anc, w in ((parent, 1.0), (parent.getparent(), 0.3)):
            if anc is None:
                continue
            scores[id(anc)] = scores.get(id(anc), 0) + n * w
            elems[id(anc)] = anc
    if not scores:
        return None
    best = max(scores, key=lambda k: scores[k])
    return elems[best] if scores[best] >= 150 else None


def _lead(root: Any, pm: PageMeta, hints: Extraction, container: Any | None, title_el: Any | None) -> tuple[str, Any | None]:
    for el in _select(root, hints.lead_selectors):
        t = node_text(el)
        if t:
            return t, el
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("meta", "body", "html", "article", "section"):
            continue
        if container is not None and (el is container or container in el.iterancestors() or el in container.iterancestors()):
            continue
        if _LEAD.search(_cls(el)):
            t = node_text(el)
            if 30 <= len(t) <= 1500 and _link_density(el) < 0.3:
                return t, el
    return "", None


def _paragraphs(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = clean_text(line.strip().strip("|").replace(" | ", " ").replace("\\|", "|"))
        if line and line not in ("\xa0",):
            out.append(line)
    return out


def _trafilatura_text(doc_html: str, url: str) -> str:
    text = trafilatura.extract(doc_html, url=url, include_comments=False, include_tables=True,
                               favor_recall=True, deduplicate=False, with_metadata=False, output_format="txt")
    return text or ""


def _author(pm: PageMeta, root: Any, site_names: set[str]) -> tuple[str | None, Any | None]:
    names = [n for n in jsonld_authors(pm.jsonld) if n.casefold() not in site_names]
    if names:
        return ", ".join(names), None
    for el in root.iter():
        if isinstance(el.tag, str) and _AUTHOR.search(_cls(el)):
            t = node_text(el)
            if t and looks_like_byline(t):
                return t, el
    meta = pm.meta("author", "article:author", "dc.creator")
    if meta and meta.casefold() not in site_names and not meta.startswith("http") and looks_like_byline(meta):
        return meta, None
    return None, None


def _not_article(pm: PageMeta, title: str, text: str, status_hint: int | None, root: Any) -> str | None:
    if root.find(".//input[@type='password']") is not None and len(text) < 1500:
        return "login_wall"
    if _SOFT_404.search(title) or (len(text) < 600 and _SOFT_404.search(text[:300])):
        return "soft_404"
    og_type = (pm.meta("og:type") or "").lower()
    if og_type in ("video", "video.other", "video.movie", "music.song") and len(text) < 800:
        return "video_page"
    return None


def extract_article(body: bytes, url: str, content_type: str | None = None,
                    hints: Extraction | None = None) -> Extracted | Skipped:
    """Fields of the article in ``body`` fetched from ``url``, or why it is not an article."""
    hints = hints or Extraction()
    if not body or not body.strip():
        return Skipped("empty_body")
    if looks_binary(body):
        return Skipped("binary_body")
    decoded = decode_html(body, content_type)
    text_html = re.sub(r"^\s*<\?xml[^>]*\?>", "", decoded.text)
    try:
        root = lhtml.document_fromstring(text_html)
    except (etree.ParserError, ValueError):
        return Skipped("unparseable", decoded.decode_errors)
    pm = read_meta(root)
    for el in _select(root, hints.prune_selectors):
        _drop(el)

    title, title_el = _find_title(root, pm, hints)
    site_names = {n.casefold() for n in (pm.meta("og:site_name"), pm.meta("application-name")) if n}
    publisher = pm.jsonld.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        site_names.add(publisher["name"].casefold())

    # dates: structured metadata first, the visible date line next to the headline to refine or fill in
    visible = find_visible_date(root, title_el)
    pub_meta = pm.jsonld.get("datePublished") or pm.meta(
        "article:published_time", "pubdate", "datepublished", "publishdate", "dc.date.issued", "dc.date",
        "og:article:published_time", "date")
    published = best_datetime([
        (parse_iso(pub_meta if isinstance(pub_meta, str) else None),
         bool(isinstance(pub_meta, str) and re.search(r"\d:\d", pub_meta))),
        (visible[0], visible[1]) if visible else (None, False),
    ])
    mod_meta = pm.jsonld.get("dateModified") or pm.meta("article:modified_time", "lastmod", "datemodified",
                                                       "og:updated_time", "dc.date.modified")
    modified = parse_iso(mod_meta if isinstance(mod_meta, str) else None)

    author, author_el = _author(pm, root, site_names)

    container = None
    for el in _select(root, hints.content_selectors):
        if _text_len(el) >= 100:
            container = el
            break
    keep = [title_el, container]
    _prune(root, keep)
    _figure_cleanup(root)
    if container is None:
        container = _density_container(root, title_el)
    lead, lead_el = _lead(root, pm, hints, container, title_el)

    # what goes to trafilatura: captions of figures between headline and container, then the container
    parts: list[str] = []
    if container is not None:
        order = {id(e): i for i, e in enumerate(root.iter())}
        start = order.get(id(title_el), 0) if title_el is not None else 0
        cpos = order.get(id(container), 0)
        for fig in root.iter("div"):
            if fig.get("data-vnarchive") == "caption" and start <= order.get(id(fig), -1) < cpos \
                    and container not in fig.iterancestors():
                parts.append(element_html(fig))
        body_html = element_html(container)
        doc = f"<html><head><title></title></head><body><article>{''.join(parts)}{body_html}</article></body></html>"
    else:
        for el in (lead_el, title_el, visible[2] if visible else None):
            if el is not None and el.getparent() is not None:
                _drop(el)
        doc = element_html(root)
    paragraphs = _paragraphs(_trafilatura_text(doc, url))

    # post-processing: headline, lead, date lines and repeated captions are not body text
    norm_title, norm_lead = title.casefold(), lead.casefold()
    out: list[str] = []
    seen: set[str] = set()
    for p in paragraphs:
        key = p.casefold()
        if key in seen or key == norm_title or (norm_lead and key == norm_lead):
            continue
        if len(p) < 60 and _PURE_DATE.match(p) and not re.search(r"[a-zà-ỹ]{4,}", p.lower().replace("thứ", "")):
            continue
        seen.add(key)
        out.append(p)
    if norm_lead and out and out[0].casefold().startswith(norm_lead):
        out[0] = out[0][len(lead):].strip()
        if not out[0]:
            out.pop(0)
    # lead missing from the markup: a description that opens the body is the lead
    if not lead:
        desc = clean_text(pm.jsonld.get("description") if isinstance(pm.jsonld.get("description"), str) else "") \
            or pm.meta("og:description", "description") or ""
        if desc and out and out[0].casefold() == desc.casefold():
            lead = out.pop(0)
    # byline as the last paragraph
    if out and looks_like_byline(out[-1]) and len(out) > 1:
        if author is None or out[-1].casefold() == author.casefold() or author.casefold() in out[-1].casefold():
            author = author or out[-1].strip(" .")
            out.pop()
    text = "\n\n".join(out)
    skip = _not_article(pm, title, text, None, root)
    if skip:
        return Skipped(skip, decoded.decode_errors)
    if len(text) + len(lead) < hints.min_text_chars:
        return Skipped("no_article_text", decoded.decode_errors)
    if not title:
        return Skipped("no_title", decoded.decode_errors)
    canonical = pm.canonical or pm.meta("og:url")
    if canonical and not same_site(canonical, url):
        canonical = None
    return Extracted(
        title=title,
        lead=lead,
        text=text,
        author=clean_text(author) or None if author else None,
        published=published,
        modified=modified,
        language=pm.language or hints.language,
        page_canonical=canonical,
        decode_errors=decoded.decode_errors,
        extractor=EXTRACTOR,
        extractor_version=EXTRACTOR_VERSION,
    )


def plain_trafilatura(body: bytes, url: str, content_type: str | None = None) -> str:
    """Baseline for the fidelity report: trafilatura's own defaults (comments excluded) on the decoded page."""
    decoded = decode_html(body, content_type)
    doc = trafilatura.bare_extraction(decoded.text, url=url, include_comments=False, with_metadata=True)
    if doc is None:
        return ""
    return "\n".join(x for x in (getattr(doc, "description", "") or "", doc.text or "") if x)
