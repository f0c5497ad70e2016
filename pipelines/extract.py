"""What a page means: the article, the whole article and only the article.  Pure: bytes in, fields out.

The page is decoded to NFC (pipelines.decode), its metadata read (pipelines.metadata), its text blocks kept for
the template learner (pipelines.template), then the DOM is cleaned generically: navigation, share bars,
related/most-read boxes, comments, duplicated figure titles (by tag and class name), and inside the body the
lines that are only a label and links ("Xem thêm: ...", "Từ khóa: ...").  The article container is located by
text density (or a source's content selector); layout tables, <br><br> runs and bare-<div> paragraphs are turned
into paragraphs; trafilatura extracts the text of that container; headline, lead, date line, byline and
repeated captions are taken out of the body and into their fields (read by pipelines.fields).

Nothing here raises on bad documents: they come back as ``Skipped(reason)``: empty_body, binary_body (compressed
or binary bytes, never decompressed), legacy_encoding_tcvn3 / _vni, unparseable, login_wall, soft_404,
video_page, listing_page, photo_page, no_article_text, no_title, language_<xx> (a page not in the source's
language).
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import trafilatura
from lxml import etree
from lxml import html as lhtml

from config.sources import Extraction
from pipelines.classify import headline_links, is_listing, language_of, media_only, not_article
from pipelines.clean import (
    drop,
    drop_embeds,
    figure_cleanup,
    inside,
    leafish,
    line_key,
    link_items,
    prune,
    select,
    text_len,
    tidy_container,
    unbrand,
)
from pipelines.dates import VN_TZ, iso_has_time, parse_iso
from pipelines.decode import decode_html, looks_binary
from pipelines.fields import (
    closing_credit,
    declared_headline,
    find_author,
    find_lead,
    find_standfirst,
    find_title,
    opening_byline,
    site_names,
    strip_sapo_tag,
)
from pipelines.items import Extracted, Skipped
from pipelines.locate import (
    combine,
    density_container,
    hydration_html,
    paragraphs,
    quick_floor,
    structured_body,
    trafilatura_text,
    whole_page_text,
)
from pipelines.metadata import (
    best_datetime,
    byline_name,
    choose_title,
    clean_text,
    credit_author,
    element_html,
    find_visible_date,
    find_visible_update,
    is_person_name,
    jsonld_credited,
    node_text,
    normalise_author,
    page_zone,
    plausible,
    read_meta,
    shown_offset,
    texts_remembered,
)
from pipelines.template import text_blocks
from pipelines.urls import same_site

EXTRACTOR = "vnarchive-trafilatura"
EXTRACTOR_VERSION = f"2.7/{trafilatura.__version__}"

_PURE_DATE = re.compile(r"^[\w\s,.:|()+\-/]*\d{1,2}[/.-]\d{1,2}[/.-]\d{4}[\w\s,.:|()+\-/]*$")
_MARKUP = re.compile(r"<(?:body|div|p|h1|h2|table|article)\b", re.I)
_OPEN_TITLE = re.compile(r"(<title[^>]*>)([^<]*)(?=<)", re.I)


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



_BULLET_START = re.compile(r"^[-–—•·*]\s")



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
            text_html = _OPEN_TITLE.sub(r"\1\2</title>", text_html, count=1)
            root = lhtml.document_fromstring(text_html)
    except (etree.ParserError, ValueError):
        return Skipped("unparseable", decoded.decode_errors)
    # every element's Python proxy held for the whole extraction: the many walks over the tree below then reuse
    # them instead of building new ones (lxml.html calls a Python class lookup for each proxy it builds)
    proxies = list(root.iter())  # noqa: F841
    pm = read_meta(root)
    drop_embeds(root)  # quoted social posts are not the article's text, in either reading
    # the floor, before anything else of ours touches the tree (trafilatura reads a copy): at trafilatura's fast
    # setting where that gives the same text, checked again below against the located reading
    quick = quick_floor(root, url)
    floor_text = quick.text if quick is not None else whole_page_text(root, url)
    if len(floor_text) < hints.min_text_chars:
        # a script-rendered page: the article may be only in its hydration data
        hydrated = hydration_html(root)
        if hydrated:
            floor_text = whole_page_text(f"<html><body><article>{hydrated}</article></body></html>", url)
            quick = None
    standfirst = find_standfirst(root, pm)
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
        title, title_el = find_title(root, pm, hints)
        title = declared_headline(pm, title) if title else title
        names = site_names(pm)
        title = choose_title(pm, title, names[:2])
        own_names = {n.casefold() for n in names if n}

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

        author, author_el = find_author(pm, root, own_names)
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
    lead, lead_el = find_lead(root, hints, container, title_el, skip)
    # the byline and the date line are fields, not text: out of the body before trafilatura sees it
    for el in (author_el, lead_el if lead_el is not None and inside(lead_el, container) else None,
               visible[2] if visible and inside(visible[2], container) and len(node_text(visible[2])) < 60 else None):
        if el is not None and el is not container and el.getparent() is not None:
            drop(el)

    # the container's last few text blocks, where a credit line too short for trafilatura may sit ("<b>PV</b>")
    # (found from the end: leafish walks each element's subtree, and only the last three count)
    closing_blocks: list[str] = []
    for el in reversed(list(container.iter()) if container is not None else []):
        if isinstance(el.tag, str) and el.tag not in ("a", "script", "style") and leafish(el) \
                and (block := node_text(el)):
            closing_blocks.insert(0, block)
            if len(closing_blocks) == 3:
                break
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
    located_text = trafilatura_text(doc, url)
    if quick is not None and len(located_text) > 2 * quick.own_chars:
        # readability might have found this much more on the whole page too: the floor's whole cascade, on the
        # page as it was parsed (the tree is ours now)
        untouched = lhtml.document_fromstring(text_html)
        drop_embeds(untouched)
        floor_text = whole_page_text(untouched, url)
    located = _tidy_lines(paragraphs(located_text), title, lead)
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
    credit = closing_credit(out) or closing_credit(located) or closing_credit(floor) \
        or closing_credit(closing_blocks)
    if credit is not None:
        author = credit[0]
        out = [p for p in out if p != credit[1]]
    while out and len(out) > 1 and _TRAILING_LABEL.match(out[-1]):
        out.pop()  # "Tin liên quan:" whose list of links is gone
    # the byline: a last paragraph of names, or the author's line wherever it was left
    if out and len(out) > 1 and not _BULLET_START.match(out[-1]):
        name = byline_name(out[-1])
        if name and is_person_name(name, own_names) and (len(name.split()) > 1 or credit_author(name)) and (
                author is None or name.casefold() == author.casefold() or author.casefold() in name.casefold()):
            author = author or name
            out.pop()
    # or the body's own first line, a name alone in bold (WordPress papers print the writer there while the
    # metadata names the account that posted it): the writer, over an author known only from metadata
    opening = opening_byline(container, out, own_names)
    if opening and (author_el is None or not is_person_name(author, own_names)):
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
