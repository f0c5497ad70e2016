"""DOM cleaning: page furniture out (by tag and class/id words), figures to captions, layout tables and <br><br> runs
to paragraphs, link lines out of the body.  Every function edits the lxml tree in place and never raises."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from typing import Any

from lxml import etree
from lxml import html as lhtml
from lxml.cssselect import CSSSelector

from pipelines.classnames import ClassWords, cls
from pipelines.metadata import clean_text

# elements that are never article text
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "form", "button", "input", "select",
              "textarea", "marquee", "svg", "canvas", "video", "audio", "object", "embed", "nav", "footer",
              "aside", "menu", "dialog")
# class/id words of page furniture (matched as whole words of class or id attributes)
_BOILER = ClassWords(
    r"(^|[\s_-])(share|sharing|social|related|relate|tags?|keywords?|comments?|binh-?luan|breadcrumbs?|tools|"
    r"print|font-?size|fontsize|most|popular|docnhieu|xem-?nhieu|banner|ads?|advert\w*|qc|quang-?cao|menu|"
    r"navbar|nav|sidebar-2|widget|tab-?head|tabs?-news|tab-pane|other-news|tin-?khac|paging|pagination|"
    r"pager|rating|vote|subscribe|newsletter|login|search|footer|copyright|top-?bar|header|toolbar|"
    r"img-alt|thumb-title|hot-?tags|box-most|box-related|box_comment|comment_item|article-tools|"
    r"detail-tools|detail-tags|detail-relate|author-box|audio|player)($|[\s_-])",
)

BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th",
           "figcaption", "dd", "dt", "section", "article", "table", "tr", "ul", "ol", "figure", "br"}

# page builders name every box of the article "widget" too (Elementor's image, heading and text widgets)
_PAGE_BUILDER = re.compile(r"\belementor-[\w-]+|\bwp-block-[\w-]+", re.I)
_PAGE_BUILDER_WORDS = ClassWords(_PAGE_BUILDER.pattern)


_EMBED = re.compile(r"(^|\s)(twitter-tweet|twitter-video|instagram-media|tiktok-embed|fb-post|bluesky-embed)(\s|$)")


def drop_embeds(root: Any) -> None:
    """Embedded social-media posts (the blockquotes their scripts would turn into cards) out of the page."""
    for el in list(root.iter("blockquote")):
        if _EMBED.search(el.get("class") or ""):
            drop(el)


def unbrand(root: Any) -> None:
    """Page-builder class names out of a subtree (they say "widget" of every box, the article's too)."""
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("class") and _PAGE_BUILDER.search(el.get("class")):
            rest = _PAGE_BUILDER.sub(" ", el.get("class")).split()
            if rest:
                el.set("class", " ".join(rest))
            else:
                del el.attrib["class"]


def drop(el: Any) -> None:
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


def select(tree: Any, selectors: Iterable[str]) -> list[Any]:
    out: list[Any] = []
    for sel in selectors:
        try:
            out += CSSSelector(sel)(tree)
        except Exception:  # a bad selector in a hint must not lose the page
            continue
    return out


def text_len(el: Any) -> int:
    return text_length(el.text_content())


def text_length(text: str) -> int:
    """``text``'s length with its whitespace collapsed (``text_len`` of an element whose text is read already)."""
    return len(" ".join(text.split()))


def link_density(el: Any) -> float:
    total = text_len(el)
    if not total:
        return 0.0
    links = sum(text_len(a) for a in el.iter("a"))
    return links / total


def in_link(el: Any) -> bool:
    return el.tag == "a" or any(a.tag == "a" for a in el.iterancestors())


def prune(root: Any, keep: list[Any]) -> None:
    """Drop page furniture, never an element holding the headline or most of the text."""
    # elements themselves, not id()s: an lxml proxy that is not referenced can hand its id to another
    protected = {k for el in keep if el is not None for k in (el, *el.iterancestors())}
    for el in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        drop(el)
    # the page's text (before anything is dropped) matters only to a form: read only on a page that has one
    page_chars = (text_len(root) or 1) if next(root.iter("form"), None) is not None else 1
    for tag in _DROP_TAGS:
        for el in list(root.iter(tag)):
            if el in protected:
                continue
            # ASP.NET pages wrap the whole page in one <form>: a form holding most of the text is the page
            if tag == "form" and text_len(el) > 0.3 * page_chars:
                continue
            drop(el)
    for el in list(root.iter("header")):
        if el not in protected:
            drop(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el in protected or el.getparent() is None:
            continue
        names = cls(el)
        if names != " " and _BOILER.search(_PAGE_BUILDER_WORDS.sub(" ", names)):  # most elements have no class or id
            drop(el)


def figure_cleanup(root: Any) -> None:
    """A figure's text is its caption: titles repeated inside figures, alt text and credits-only divs go."""
    # trafilatura drops <figure>: turn each into plain caption paragraphs first
    for fig in list(root.iter("figure")):
        caps = [clean_text(c.text_content()) for c in fig.iter("figcaption")]
        parent = fig.getparent()
        if parent is None:
            continue
        if not any(caps):
            drop(fig)
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
        # a caption is not a link: a table of linked titles beside thumbnails is a related-news box
        if len(cells) <= 2 and link_density(table) < 0.3:
            p = lhtml.Element("p")
            p.text = " ".join(dict.fromkeys(cells))
            p.tail = table.tail
            parent = table.getparent()
            if parent is not None:
                parent.replace(table, p)


DOC_LINK = re.compile(r"\.(pdf|docx?|xlsx?|pptx?|odt|rar|zip)(\?|#|$)", re.I)


_BR_RUN = "\x00vnarchive-br\x00"
_BR_PARENTS = frozenset({"div", "td", "th", "font", "span", "p", "section", "article", "center", "blockquote", "dd"})


def _split_double_br(container: Any) -> None:
    """Paragraphs written as text runs between <br><br> (old portals) become <p>s, as readability does."""
    for parent in list(container.iter(*_BR_PARENTS)):
        kids = list(parent)
        if not any(k.tag == "br" and not (k.tail or "").strip() and i + 1 < len(kids) and kids[i + 1].tag == "br"
                   for i, k in enumerate(kids)):
            continue
        pieces = [html_lib.escape(parent.text or "", quote=False)]
        for k in kids:
            if k.tag == "br":
                pieces.append(_BR_RUN + html_lib.escape(k.tail or "", quote=False))
            else:
                pieces.append(lhtml.tostring(k, encoding="unicode", with_tail=True))
        inner = "".join(pieces)
        runs = re.split(f"(?:{re.escape(_BR_RUN)}\\s*){{2,}}", inner)
        if len(runs) < 2:
            continue
        try:
            paras = [lhtml.fragment_fromstring(f"<p>{r.replace(_BR_RUN, '<br>')}</p>") for r in runs if r.strip()]
        except (etree.ParserError, ValueError):
            continue
        tail = parent.tail
        for k in kids:
            parent.remove(k)
        parent.text = None
        parent.extend(paras)
        parent.tail = tail


def _unlayout_tables(container: Any) -> None:
    """Tables used for layout (a cell holding paragraphs) become divs: trafilatura flattens a table cell into one
    line.  Data tables (short cells) stay tables."""
    tables = [container] if container.tag == "table" else []
    for table in [*tables, *container.iter("table")]:
        cells = [c for c in table.iter("td", "th") if _nearest_table(c) is table]
        if not any(text_len(c) > 200 or c.find(".//p") is not None or c.find(".//div") is not None for c in cells):
            continue
        for el in [table, *(e for e in table.iter("tr", "td", "th", "tbody", "thead", "tfoot") if _nearest_table(e) is table)]:
            el.tag = "div"


def _nearest_table(el: Any) -> Any | None:
    return next(el.iterancestors("table"), None)


def tidy_container(container: Any) -> None:
    """Inside the body: link lines go ("Xem thêm: <other article>", "Từ khóa: <a>, <a>", "In | Gửi email"),
    and paragraphs written as bare <div>s become <p> (trafilatura passes over text in bare divs)."""
    _split_double_br(container)
    _unlayout_tables(container)
    for el in list(container.iter("p", "div", "li", "dd", "h3", "h4", "h5", "td")):
        if el is container or el.getparent() is None or not leafish(el):
            continue
        n = text_len(el)
        if not n:
            continue
        anchors = list(el.iter("a"))
        link_chars = sum(text_len(a) for a in anchors)
        if anchors and link_chars >= 0.6 * n and n - link_chars <= 25 \
                and not any(DOC_LINK.search(a.get("href") or "") for a in anchors):
            drop(el)  # a documents' list (PDF, DOC) is the content of many official notices: kept
            continue
        if el.tag == "div" and n >= 100 and link_chars < 0.5 * n:
            el.tag = "p"


def inside(el: Any, container: Any | None) -> bool:
    return container is not None and (el is container or any(a is container for a in el.iterancestors()))


def emphasised(el: Any) -> bool:
    """Bold as a whole: a heading, <b>/<strong>, or a block whose text is all inside one."""
    if el.tag in ("h2", "h3", "h4", "b", "strong"):
        return True
    if re.search(r"font-weight\s*:\s*(bold|[6-9]00)", el.get("style") or "", re.I):
        return True
    total = text_len(el)
    strong = sum(text_len(b) for b in el.iter("b", "strong") if not any(a.tag in ("b", "strong") for a in b.iterancestors() if inside(a, el)))
    return total > 0 and strong >= 0.9 * total


def leafish(el: Any) -> bool:
    """No block element below (inline markup and <br> only): one paragraph, not a container of them."""
    return not any(isinstance(d.tag, str) and d.tag in BLOCKS and d.tag != "br" for d in el.iterdescendants())



_BULLET = re.compile(r"^[\s\-–—•·*>»]+")


def line_key(text: str) -> str:
    """How an output line is compared with the page's elements: no list bullet, case-folded, spaces collapsed."""
    return " ".join(_BULLET.sub("", text).split()).casefold()


def link_items(root: Any) -> frozenset[str]:
    """The texts of list items and paragraphs that are links to elsewhere and nothing more (related stories,
    "Read also: <headline>"), as ``line_key``s; a list of documents (PDF, DOC) is content and not among them."""
    out = set()
    items_text: dict[Any, tuple[int, str]] = {}  # each list item's text length and text, for the lists below
    for el in root.iter("li", "p", "dd", "h3", "h4"):
        raw = el.text_content()
        n = text_length(raw)
        if el.tag == "li":
            items_text[el] = (n, raw)
        if n < 15 or n > 300:
            continue
        anchors = list(el.iter("a"))
        if not anchors or any(DOC_LINK.search(a.get("href") or "") for a in anchors):
            continue
        if sum(text_len(a) for a in anchors) >= 0.8 * n:
            out.add(line_key(raw))
    # the label of such a list ("Tin liên quan:", "Read more:") goes with it
    for lst in root.iter("ul", "ol"):
        items = [items_text[li] for li in lst.iter("li")]
        if not items or not all(line_key(raw) in out for n, raw in items if n):
            continue
        label = lst.getprevious()
        if label is not None and isinstance(label.tag, str):
            t = " ".join(label.text_content().split())
            if 2 <= len(t) <= 40 and t.endswith((":", "：")):
                out.add(line_key(t))
    return frozenset(out)
