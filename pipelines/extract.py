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

import html as html_lib
import re
from collections.abc import Iterable
from typing import Any

import trafilatura
from lxml import etree
from lxml import html as lhtml
from lxml.cssselect import CSSSelector

from config.sources import Extraction
from pipelines.dates import iso_has_time, parse_iso, parse_visible
from pipelines.decode import decode_html, looks_binary
from pipelines.items import Extracted, Skipped
from pipelines.metadata import (
    PageMeta,
    best_datetime,
    byline_name,
    clean_author,
    clean_text,
    element_html,
    find_visible_date,
    is_person_name,
    jsonld_authors,
    looks_like_byline,
    looks_like_site_name,
    node_text,
    read_meta,
    strip_site_suffix,
)
from pipelines.template import text_blocks
from pipelines.urls import same_site

EXTRACTOR = "vnarchive-trafilatura"
EXTRACTOR_VERSION = f"1.1/{trafilatura.__version__}"

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
# "404" alone is a number ("xử lý 404 trường hợp"): only as an error code
_SOFT_404 = re.compile(r"không tìm thấy|page not found|not found|^\s*404\b|\b(?:lỗi|error|mã)\s*404\b|\b404\s*(?:error|"
                       r"not found|[-|:])|trang bạn (?:yêu cầu|tìm kiếm)|không tồn tại|đã bị (?:xóa|xoá|gỡ)", re.I)
_MARKUP = re.compile(r"<(?:body|div|p|h1|h2|table|article)\b", re.I)
_OPEN_TITLE = re.compile(r"(<title[^>]*>)([^<]*)(?=<)", re.I)
_LOGIN_WALL = re.compile(r"vui lòng đăng nhập|đăng nhập để (?:đọc|xem|tiếp tục)|dành cho (?:thành viên|hội viên|bạn đọc đăng ký)|"
                         r"please (?:log|sign) in|subscribe to (?:read|continue)", re.I)


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
    return len(" ".join(el.text_content().split()))


def _link_density(el: Any) -> float:
    total = _text_len(el)
    if not total:
        return 0.0
    links = sum(_text_len(a) for a in el.iter("a"))
    return links / total


_TITLE_SEPS = re.compile(r"\s+(?:\||-|–|—|::|»|/)\s+")
_HEADING_TAGS = ("h1", "h2", "h3", "h4")


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


def _in_link(el: Any) -> bool:
    return el.tag == "a" or any(a.tag == "a" for a in el.iterancestors())


def _find_title(tree: Any, pm: PageMeta, hints: Extraction) -> tuple[str, Any | None]:
    """The page's headline: the visible element that agrees with the metadata (og:title, JSON-LD headline,
    <title> with or without its site suffix), else the only long h1, else the metadata without the suffix."""
    for el in _select(tree, hints.title_selectors):
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
        if rank is None or _in_link(el):
            continue
        # headings first, then how well the text agrees with the metadata, then the first on the page
        score = (0 if el.tag in _HEADING_TAGS else 1, rank, pos)
        if best is None or score < best[0]:
            best = (score, t, el)
    if best is not None:
        return best[1], best[2]
    long_h1 = [h for h in h1s if len(node_text(h)) > 15 and not _in_link(h)]
    if len(long_h1) == 1:
        return node_text(long_h1[0]), long_h1[0]
    for t in meta_titles:
        return t, None
    if pm.html_title:
        return strip_site_suffix(pm.html_title, site_names), None
    return "", None


def _prune(root: Any, keep: list[Any]) -> None:
    """Drop page furniture, never an element holding the headline or most of the text."""
    # elements themselves, not id()s: an lxml proxy that is not referenced can hand its id to another
    protected = {k for el in keep if el is not None for k in (el, *el.iterancestors())}
    for el in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        _drop(el)
    page_chars = _text_len(root) or 1
    for tag in _DROP_TAGS:
        for el in list(root.iter(tag)):
            if el in protected:
                continue
            # ASP.NET pages wrap the whole page in one <form>: a form holding most of the text is the page
            if tag == "form" and _text_len(el) > 0.3 * page_chars:
                continue
            _drop(el)
    for el in list(root.iter("header")):
        if el not in protected:
            _drop(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el in protected or el.getparent() is None:
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
        # a caption is not a link: a table of linked titles beside thumbnails is a related-news box
        if len(cells) <= 2 and _link_density(table) < 0.3:
            p = lhtml.Element("p")
            p.text = " ".join(dict.fromkeys(cells))
            p.tail = table.tail
            parent = table.getparent()
            if parent is not None:
                parent.replace(table, p)


_DOC_LINK = re.compile(r"\.(pdf|docx?|xlsx?|pptx?|odt|rar|zip)(\?|#|$)", re.I)


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
        if not any(_text_len(c) > 200 or c.find(".//p") is not None or c.find(".//div") is not None for c in cells):
            continue
        for el in [table, *(e for e in table.iter("tr", "td", "th", "tbody", "thead", "tfoot") if _nearest_table(e) is table)]:
            el.tag = "div"


def _nearest_table(el: Any) -> Any | None:
    return next(el.iterancestors("table"), None)


def _tidy_container(container: Any) -> None:
    """Inside the body: link lines go ("Xem thêm: <other article>", "Từ khóa: <a>, <a>", "In | Gửi email"),
    and paragraphs written as bare <div>s become <p> (trafilatura passes over text in bare divs)."""
    _split_double_br(container)
    _unlayout_tables(container)
    for el in list(container.iter("p", "div", "li", "dd", "h3", "h4", "h5", "td")):
        if el is container or el.getparent() is None or not _leafish(el):
            continue
        n = _text_len(el)
        if not n:
            continue
        anchors = list(el.iter("a"))
        link_chars = sum(_text_len(a) for a in anchors)
        if anchors and link_chars >= 0.6 * n and n - link_chars <= 25 \
                and not any(_DOC_LINK.search(a.get("href") or "") for a in anchors):
            _drop(el)  # a documents' list (PDF, DOC) is the content of many official notices: kept
            continue
        if el.tag == "div" and n >= 100 and link_chars < 0.5 * n:
            el.tag = "p"


def _density_container(root: Any, title_el: Any | None) -> Any | None:
    """The element whose direct paragraphs hold the most non-link text (readability's core idea); climbing to an
    ancestor when the prose is split between siblings (broken markup nests paragraphs in odd places)."""
    scores: dict[int, float] = {}
    elems: dict[int, Any] = {}
    prose: list[tuple[Any, int]] = []
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
        return sum(n for p, n in prose if _inside(p, a))

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


def _inside(el: Any, container: Any | None) -> bool:
    return container is not None and (el is container or any(a is container for a in el.iterancestors()))


def _emphasised(el: Any) -> bool:
    """Bold as a whole: a heading, <b>/<strong>, or a block whose text is all inside one."""
    if el.tag in ("h2", "h3", "h4", "b", "strong"):
        return True
    if re.search(r"font-weight\s*:\s*(bold|[6-9]00)", el.get("style") or "", re.I):
        return True
    total = _text_len(el)
    strong = sum(_text_len(b) for b in el.iter("b", "strong") if not any(a.tag in ("b", "strong") for a in b.iterancestors() if _inside(a, el)))
    return total > 0 and strong >= 0.9 * total


def _leafish(el: Any) -> bool:
    """No block element below (inline markup and <br> only): one paragraph, not a container of them."""
    return not any(isinstance(d.tag, str) and d.tag in _BLOCKS and d.tag != "br" for d in el.iterdescendants())


def _lead(root: Any, hints: Extraction, container: Any | None, title_el: Any | None,
          skip: set[Any]) -> tuple[str, Any | None]:
    """The sapo: a hinted or lead-named element outside the body, else the bold block between the headline
    and the body (old portals name nothing), else a bold first paragraph of the body."""
    for el in _select(root, hints.lead_selectors):
        t = node_text(el)
        if t:
            return t, el
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("meta", "body", "html", "article", "section"):
            continue
        if container is not None and (_inside(el, container) or _inside(container, el)):
            continue
        if _LEAD.search(_cls(el)):
            t = node_text(el)
            if 30 <= len(t) <= 1500 and _link_density(el) < 0.3:
                return t, el
    if title_el is not None:
        after = False
        seen = 0
        for el in root.iter():
            if el is title_el:
                after = True
                continue
            if not after or not isinstance(el.tag, str) or _inside(el, title_el):
                continue
            if container is not None and (el is container or _inside(el, container)):
                break
            if el.tag not in ("p", "div", "h2", "h3", "h4", "td", "span", "b", "strong", "em", "i") or not _leafish(el):
                continue
            t = node_text(el)
            if not t or el in skip:
                continue
            seen += 1
            if 40 <= len(t) <= 1500 and _link_density(el) < 0.2 and _emphasised(el) and not parse_visible(t[:60]):
                return t, el
            if seen > 8 or len(t) > 200:
                break
    if container is not None:
        first = next((el for el in container.iter("p", "div", "h2", "h3", "strong", "b")
                      if el is not container and _leafish(el) and node_text(el)), None)
        if first is not None and 40 <= _text_len(first) <= 800 and _emphasised(first) and _link_density(first) < 0.2:
            nxt = first.getnext()
            if nxt is not None and node_text(nxt) and not _emphasised(nxt):
                return node_text(first), first
    return "", None


# a sapo that opens with the outlet's tag: "(Chinhphu.vn) - ", "TGVN. ", "Baoquocte.vn. ", "VOV.VN - "
_SAPO_TAG = re.compile(r"^(?:\([^()]{2,30}\)\s*[-–—:]\s*|[\w.]{2,20}\.(?:vn|VN|net|com)\s*[.\-–—:]\s+|"
                       r"[A-ZĐ]{3,8}\.\s+)")


def strip_sapo_tag(lead: str) -> str:
    return _SAPO_TAG.sub("", lead, count=1) if len(lead) > 40 else lead


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
    """JSON-LD persons, else a byline element (named like one, or labelled "Tác giả:" ...), else <meta author>;
    organisations and the site itself are never authors."""
    names = [clean_author(n) for n in jsonld_authors(pm.jsonld)]
    names = [n for n in names if is_person_name(n, site_names)]
    if names:
        return ", ".join(dict.fromkeys(names)), None
    labelled = None
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("a", "script", "style", "title", "meta", "option"):
            continue
        named = bool(_AUTHOR.search(_cls(el)))
        if not named and (labelled is not None or not _leafish(el) or len(el) > 6):
            continue
        t = node_text(el)
        if not t or len(t) > 90:
            continue
        name = byline_name(t)
        if name and is_person_name(name, site_names):
            if named:
                return name, el
            if _BYLINE_LABEL_HINT.match(t):
                labelled = (name, el)
    if labelled:
        return labelled
    meta = pm.meta("author", "article:author", "dc.creator")
    if meta and is_person_name(meta, site_names) and looks_like_byline(meta):
        return clean_author(meta), None
    return None, None


_BYLINE_LABEL_HINT = re.compile(r"^\s*(tác giả|người viết|bài|tin|nhóm|phóng viên|pv|biên tập|thực hiện|ghi chép)"
                                r"[^:]{0,12}[:：]", re.I)


def _not_article(pm: PageMeta, title: str, text: str, root: Any) -> str | None:
    if root.find(".//input[@type='password']") is not None and len(text) < 1500:
        return "login_wall"
    if _LOGIN_WALL.search(f"{title}\n{text[:500]}") and len(text) < 1500:
        return "login_wall"
    if _SOFT_404.search(title) or (len(text) < 600 and _SOFT_404.search(text[:300])):
        return "soft_404"
    og_type = (pm.meta("og:type") or "").lower()
    if og_type.startswith(("video", "music")) and len(text) < 800:
        return "video_page"
    return None


def _media_only(root: Any) -> str | None:
    """What a page without text is made of: a video player, or a gallery of photos."""
    if root.find(".//video") is not None or any("youtube" in (f.get("src") or "") or "player" in (f.get("src") or "")
                                                 for f in root.iter("iframe")):
        return "video_page"
    if sum(1 for _ in root.iter("img")) >= 6:
        return "photo_page"
    return None


_VI_LETTERS = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I)


def _language_of(text: str, declared: str | None) -> str | None:
    """'vi' when Vietnamese letters are frequent, 'other' when a text has almost none (a long one, or a shorter
    one whose page says it is not Vietnamese), else unknown.  The page's lang attribute alone decides nothing:
    CMS templates often say lang="en" over Vietnamese text."""
    letters = sum(c.isalpha() for c in text)
    if letters < 100:
        return None
    if len(_VI_LETTERS.findall(text)) >= 0.03 * letters:
        return "vi"
    return "other" if letters >= 300 or (declared and declared != "vi") else None


def _headline_links(container: Any | None) -> int:
    if container is None:
        return 0
    return len({a.get("href") for a in container.iter("a") if a.get("href") and len(node_text(a).split()) >= 6})


def _listing(headline_links: int, paragraphs: list[str]) -> bool:
    """A list of other articles served under an article-looking URL: many headline links, teasers, and hardly
    a paragraph of prose (an article has prose, whatever boxes of links sit inside its body)."""
    if not paragraphs:
        return headline_links >= 8
    prose = sum(len(p) for p in paragraphs if len(p) >= 200 and not p.rstrip().endswith(("...", "…")))
    return headline_links >= 8 and prose < 0.3 * sum(len(p) for p in paragraphs)


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
    pm = read_meta(root)
    blocks = text_blocks(root)  # before any pruning: the template is learnt from the whole page
    media = _media_only(root)  # what a page without text is made of (before figures become captions)
    for br in root.iter("br"):
        br.tail = " " + (br.tail or "")  # a line break separates words (text_content and table cells glue them)
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
    pub_meta = pub_meta if isinstance(pub_meta, str) else None
    published = best_datetime([
        (parse_iso(pub_meta), iso_has_time(pub_meta)),
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
    skip = {x for x in (author_el, visible[2] if visible else None) if x is not None}
    lead, lead_el = _lead(root, hints, container, title_el, skip)
    # the byline and the date line are fields, not text: out of the body before trafilatura sees it
    for el in (author_el, lead_el if lead_el is not None and _inside(lead_el, container) else None,
               visible[2] if visible and _inside(visible[2], container) and len(node_text(visible[2])) < 60 else None):
        if el is not None and el is not container and el.getparent() is not None:
            _drop(el)

    # what goes to trafilatura: captions of figures between headline and container, then the container
    parts: list[str] = []
    headline_links = _headline_links(container)
    if container is not None:
        _tidy_container(container)
        order = {e: i for i, e in enumerate(root.iter())}
        start = order.get(title_el, 0) if title_el is not None else 0
        cpos = order.get(container, 0)
        for fig in root.iter("div"):
            if fig.get("data-vnarchive") == "caption" and start <= order.get(fig, -1) < cpos \
                    and not _inside(fig, container):
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
    # the byline: a last paragraph of names, or the author's line wherever it was left
    if out and len(out) > 1:
        name = byline_name(out[-1])
        if name and is_person_name(name, site_names) and (
                author is None or name.casefold() == author.casefold() or author.casefold() in name.casefold()):
            author = author or name
            out.pop()
    if author:
        low = author.casefold()
        out = [p for p in out if not (len(p) <= len(author) + 25 and (byline_name(p) or "").casefold() == low)]
    lead = strip_sapo_tag(lead)
    text = "\n\n".join(out)
    skip_reason = _not_article(pm, title, text, root)
    if skip_reason:
        return Skipped(skip_reason, decoded.decode_errors)
    if _listing(headline_links, out):
        return Skipped("listing_page", decoded.decode_errors)
    if len(text) + len(lead) < hints.min_text_chars:
        return Skipped(media or "no_article_text", decoded.decode_errors)
    if not title:
        return Skipped("no_title", decoded.decode_errors)
    language = pm.language or hints.language
    if hints.language == "vi" and _language_of(f"{title}\n{lead}\n{text}", pm.language) == "other":
        return Skipped(f"language_{pm.language or 'not_vi'}", decoded.decode_errors)
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
