"""Page metadata: JSON-LD, meta tags, <link rel=canonical>, and the visible headline, date line and byline."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import html as html_lib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import html as lhtml

from pipelines.classnames import ClassWords, cls
from pipelines.dates import VN_TZ, iso_has_time, parse_iso, parse_visible
from pipelines.decode import nfc

WS = re.compile(r"\s+")
# schema.org's Article and its subtypes (https://schema.org/Article: "More specific Types"), and WebPage
_ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "blogposting", "liveblogposting",
                  "analysisnewsarticle", "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle",
                  "askpublicnewsarticle", "satiricalarticle", "scholarlyarticle", "techarticle",
                  "advertisercontentarticle", "socialmediaposting", "discussionforumposting", "report", "webpage"}


def clean_text(s: str | None) -> str:
    """Whitespace collapsed, NFC (JSON-LD escapes can spell decomposed letters)."""
    return nfc(" ".join((s or "").split()))


# node_text's memory while ``texts_remembered`` holds: the element's text, for walks over a tree nobody changes
_REMEMBERED: contextvars.ContextVar[dict[Any, str] | None] = contextvars.ContextVar("node_texts", default=None)


def node_text(el: Any) -> str:
    if el is None:
        return ""
    memo = _REMEMBERED.get()
    if memo is None:
        return clean_text(el.text_content())
    text = memo.get(el)
    if text is None:
        text = memo[el] = clean_text(el.text_content())
    return text


@contextlib.contextmanager
def texts_remembered() -> Iterator[None]:
    """Within: ``node_text`` reads each element's text once (several passes over one tree each read most of its
    elements); the tree must not change meanwhile.  Per thread (a context variable), so threads never share it."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


@dataclass(slots=True)
class PageMeta:
    jsonld: dict[str, Any] = field(default_factory=dict)
    metas: dict[str, str] = field(default_factory=dict)
    canonical: str | None = None
    language: str | None = None
    html_title: str = ""
    jsonld_nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # every JSON-LD node by its @id

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
        # a WebPage whose mainEntity is the article ({"@type": "WebPage", "mainEntity": {"@type": "NewsArticle"}})
        if isinstance(obj.get("mainEntity"), (dict, list)):
            out += _walk_jsonld(obj["mainEntity"])
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
            if isinstance(obj.get("@id"), str) and len(obj) > 1:
                pm.jsonld_nodes.setdefault(obj["@id"], obj)
            types = _types(obj)
            if types & _ARTICLE_TYPES and (obj.get("headline") or obj.get("datePublished")):
                if not best or ("webpage" in _types(best) and "webpage" not in types):
                    best = obj
    pm.jsonld = best
    if pm.language is None and isinstance(best.get("inLanguage"), str):
        pm.language = best["inLanguage"].split("-")[0].lower()
    return pm


def jsonld_authors(obj: dict[str, Any], nodes: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The names of an article's JSON-LD authors that are people: a name, or given + family name; a reference
    by ``@id`` (Yoast's ``@graph``) is followed.  Organisations are not people."""
    a = obj.get("author")
    items = a if isinstance(a, list) else [a] if a else []
    names = []
    for it in items:
        if isinstance(it, dict) and set(it) <= {"@id", "@type"} and isinstance(it.get("@id"), str) and nodes:
            it = nodes.get(it["@id"], it)
        if isinstance(it, str):
            names.append(clean_text(it))
        elif isinstance(it, dict) and "organization" not in _types(it):
            if isinstance(it.get("name"), str):
                names.append(clean_text(it["name"]))
            elif isinstance(it.get("givenName"), str) or isinstance(it.get("familyName"), str):
                names.append(clean_text(f"{it.get('givenName') or ''} {it.get('familyName') or ''}"))
    return [n for n in names if n]


def jsonld_credited(obj: dict[str, Any], nodes: dict[str, dict[str, Any]] | None = None) -> str | None:
    """The JSON-LD ``author`` as credited, organisations included ("DER SPIEGEL", "dpa"): for a page that credits
    no person."""
    a = obj.get("author")
    for it in a if isinstance(a, list) else [a] if a else []:
        if isinstance(it, dict) and set(it) <= {"@id", "@type"} and isinstance(it.get("@id"), str) and nodes:
            it = nodes.get(it["@id"], it)
        name = it if isinstance(it, str) else it.get("name") if isinstance(it, dict) else None
        if isinstance(name, str) and clean_text(name) and not clean_text(name).lower().startswith("http"):
            return clean_text(name)
    return None


# what a site's name in a <title> looks like: "Báo Nhân Dân", "Cổng TTĐT tỉnh ...", "Sở ...", "...vn", "VnExpress"
_SITE_NAME = re.compile(
    r"^(?:báo|cổng|trang tin|trang thông tin|tạp chí|đài|sở|bộ|ubnd|ủy ban|uỷ ban|thông tấn|tổng cục|cục|viện|"
    r"trung tâm|portal|website)\b|\.(?:vn|com|net|org)\b|\b(?:online|news|tv|vtv|vnexpress|vietnamplus|tuổi trẻ|"
    r"thanh niên|dân trí)$", re.I)


def looks_like_site_name(part: str, site_names: list[str] | tuple[str, ...] = (), strict: bool = False) -> bool:
    """A <title> segment that names the site, not the article.  ``strict``: only on firm evidence (the site's
    known name, a domain, capitals), since headlines too start with "Bộ ...", "Sở ...", "UBND ..."."""
    low = part.strip().casefold()
    if not low:
        return False
    if any(n and (low == n.casefold() or low in n.casefold() or n.casefold() in low) for n in site_names):
        return True
    words = [w for w in part.split() if any(c.isalpha() for c in w)]
    if len(low) > 80:
        return False
    if (len(words) >= 2 and all(w.isupper() for w in words)) or re.search(r"\.(?:vn|com|net|org)\b", low):
        return True
    return not strict and bool(_SITE_NAME.search(low))


def strip_site_suffix(title: str, site_names: list[str]) -> str:
    """'Headline - Báo X' -> 'Headline' when the tail is the site's name or reads like one ("Báo ...",
    "Cổng thông tin ...", "....vn").  A tail that is part of the headline ("nhiệm kỳ 2023 - 2025") stays."""
    for sep in (" | ", " - ", " – ", " — ", " :: ", " » "):
        if sep not in title:
            continue
        head, _, tail = title.rpartition(sep)
        if len(head.strip()) >= 15 and looks_like_site_name(tail, site_names):
            return strip_site_suffix(head.strip(), site_names)
        head2, _, tail2 = title.partition(sep)
        if len(tail2.strip()) >= 15 and looks_like_site_name(head2, site_names, strict=True):
            return strip_site_suffix(tail2.strip(), site_names)
    return title


def title_key(s: str) -> str:
    """A headline's words: case, punctuation and spacing aside."""
    return re.sub(r"[\W_]+", " ", html_lib.unescape(s or "")).strip().casefold()


# what parts a title from its site or section tail: spaced separators, and the full-width ones CJK sites use
_TAIL_SEP = re.compile(r"\s+(?:\||-|–|—|::|»|·|/)\s+|\s*[|ㅣ｜]\s*")


def _without_tail(title: str, known: set[str]) -> str:
    """``title`` without a tail after a separator when what is left is a headline the page states elsewhere
    ('Headline - National | Globalnews.ca' with the h1 'Headline'), else without a site-name suffix."""
    for m in _TAIL_SEP.finditer(title):
        head = title[: m.start()].strip()
        if len(head) >= 10 and title_key(head) in known:
            return head
    return title


def choose_title(pm: PageMeta, shown: str, site_names: list[str]) -> str:
    """The article's title: the Open Graph title when the publisher gives one, as it is the title the
    publisher writes for the article itself (the page's headline may carry a kicker, a live-blog label or a
    longer wording, the <title> the site's name); without a site or section tail when its head is the
    headline the page shows or declares elsewhere; ``shown`` when it is not there or is a truncation ('...').
    When both say the same words, the spelling (quotes, dashes) most of the page's titles agree on."""
    raw = pm.meta("og:title")
    og = clean_text(html_lib.unescape(raw)) if raw else ""
    if not shown:
        return shown
    others = [clean_text(html_lib.unescape(t)) for t in (
        pm.jsonld.get("headline") if isinstance(pm.jsonld.get("headline"), str) else "",
        pm.meta("twitter:title") or "", pm.html_title, shown) if t]
    known = {title_key(t) for t in others}
    og = strip_site_suffix(_without_tail(og, known), site_names) if og else ""
    ko, ks = title_key(og), title_key(shown)
    if len(ko) < 10 or looks_like_site_name(og, site_names, strict=True):
        return shown
    if og.endswith(("...", "…")) and ks.startswith(title_key(og.rstrip(".…"))):
        return shown  # an og:title cut short
    if ko != ks and ks.startswith(ko + " ") and shown.startswith(og) and shown[len(og):].lstrip()[:1] in "\"„“”":
        return shown  # an og:title cut at a quotation mark its attribute did not escape
    if ko != ks:
        return og
    # the same words: the spelling most of the page's titles (their heads) give, the og:title's on a tie
    spellings = [og, *(h for h in (_without_tail(t, {ks}) for t in others) if title_key(h) == ks)]
    counts = {sp: spellings.count(sp) for sp in spellings}
    return max(counts, key=lambda sp: (counts[sp], sp == og))


def _distance(a: Any, b: Any) -> int:
    """Tree distance between two elements (steps up to the common ancestor and down)."""
    anc_a = [a, *a.iterancestors()]
    pos = {id(x): i for i, x in enumerate(anc_a)}
    for j, x in enumerate([b, *b.iterancestors()]):
        if id(x) in pos:
            return pos[id(x)] + j
    return 10**6


_DATE_CLASS = ClassWords(r"date|time|publish|ngay|thoi-gian|post-time|meta")
# today's date in a page's top bar or site header is not the article's ("article-header" may well hold it)
_NOT_ARTICLE_DATE = ClassWords(r"today|now\b|current|clock|weather|top-?bar|top-?header|site-?header|page-?header|"
                               r"(^|\s)header(\s|$)")


def page_zone(values: list[Any]) -> dt.tzinfo | None:
    """The UTC offset a page states its times in: the first of its machine-readable times (``values``) with an
    explicit offset other than UTC (which SEO plugins write whatever the newsroom's zone), else None."""
    for v in values:
        if isinstance(v, str) and iso_has_time(v) and re.search(r"[+-]\d{2}:?\d{2}\s*$", v.strip()):
            when = parse_iso(v)
            if when is not None and when.utcoffset() != dt.timedelta(0):
                return when.tzinfo
    return None


def shown_offset(utc: dt.datetime, shown: dt.datetime) -> dt.tzinfo | None:
    """The zone a page shows an instant in: ``utc`` (metadata in UTC, as SEO plugins write it) against the
    wall clock the page prints (``shown``, its offset a guess), when they differ by a whole number of quarter
    hours within ±14 h; else None."""
    if utc.utcoffset() != dt.timedelta(0):
        return None
    diff = (shown.replace(tzinfo=None) - utc.replace(tzinfo=None)).total_seconds()
    rest = diff % 900
    if diff == 0 or abs(diff) > 14 * 3600 + 60 or 60 <= rest <= 840:
        return None
    minutes = round(diff / 900) * 15
    return VN_TZ if minutes == 7 * 60 else dt.timezone(dt.timedelta(minutes=minutes))


def find_visible_date(tree: Any, anchor: Any | None, zone: dt.tzinfo | None = None
                      ) -> tuple[dt.datetime, bool, Any] | None:
    """The date line closest to the headline: (datetime, has_time, element).

    Elements named like a date (class/id) and <time> come first; short unnamed text blocks holding a date
    count too (old portals name nothing), a little further away, if their month is a number (a date in words
    in an unnamed block is a caption's or the prose's).  Dates inside links (related lists), and in headers /
    top bars (today's date) are not the article's.  A time without offset is in ``zone`` (else Vietnam time)."""
    found: list[tuple[int, int, tuple[dt.datetime, bool], Any]] = []
    excluded: set[Any] = set()  # elements under a link, a header or a top bar (kept alive: not id()s)
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        parent = el.getparent()
        if parent is not None and parent in excluded:
            excluded.add(el)
            continue
        # class and id read once; most elements have neither (" "), which neither pattern matches
        names = cls(el)
        if el.tag in ("script", "style", "head", "meta", "a", "select", "option", "button") \
                or (names != " " and el.tag not in ("html", "body") and _NOT_ARTICLE_DATE.search(names)):
            excluded.add(el)
            continue
        if el.tag in ("html", "body"):
            continue
        named = el.tag == "time" or (names != " " and _DATE_CLASS.search(names))
        if not named and (len(el) > 4 or any(isinstance(c.tag, str) and c.tag in _BLOCKISH for c in el)):
            continue  # unnamed: only small leaf blocks (a date line, not the container around it)
        txt = node_text(el)
        if len(txt) > (120 if named else 80) or (not named and not any(map(str.isdigit, txt[:80]))):
            continue
        if _UPDATED.match(txt):
            continue  # when it was edited, not when it was published (find_visible_update)
        parsed = None
        if el.tag == "time" and el.get("datetime"):
            iso = parse_iso(el.get("datetime"))
            if iso:
                parsed = (iso, iso_has_time(el.get("datetime")))
        parsed = parsed or parse_visible(txt, zone or VN_TZ, names=named)
        if parsed:
            dist = _distance(el, anchor) if anchor is not None else 0
            found.append((dist + (0 if named else 2), len(found), parsed, el))
    if not found:
        return None
    found.sort(key=lambda x: x[:2])
    _, _, (when, has_time), el = found[0]
    return when, has_time, el


# "Cập nhật: 14:02 | 04/10/2024", "Updated ...", "Aktualisiert am ...": an edit time, never the publication
_UPDATED = re.compile(r"^\W*(?:cập nhật|c\u1eadp nh\u1eadt|updated?|last updated|aktualisiert|actualizado|"
                      r"mis à jour|modifié|modified|sửa lúc|chỉnh sửa)\b", re.I)


def find_visible_update(tree: Any) -> dt.datetime | None:
    """The visible "Cập nhật: …" / "Updated …" time of an edited article."""
    body = tree.find("body")
    for el in (body if body is not None else tree).iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style", "a", "option") or len(el) > 4:
            continue
        txt = node_text(el)
        if len(txt) > 80 or not _UPDATED.match(txt):
            continue
        parsed = parse_visible(txt)
        if parsed:
            return parsed[0]
    return None


def plausible(when: dt.datetime | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """A publication time, or None for a placeholder: before 1990 ("0001-01-01") or in the future."""
    if when is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if aware.year < 1990 or aware > now + dt.timedelta(days=2):
        return None
    return when


_BLOCKISH = frozenset({"p", "div", "table", "tr", "td", "ul", "ol", "li", "section", "article", "h1", "h2", "h3",
                       "h4", "blockquote", "figure", "dl"})


def best_datetime(candidates: list[tuple[dt.datetime | None, bool]]) -> dt.datetime | None:
    """First candidate with a time of day; else the first date.  A later date-only candidate that agrees on the
    day never overrides a time, and one with a time refines a date-only one."""
    first = None
    for when, has_time in candidates:
        if plausible(when) is None:
            continue
        if has_time:
            return when
        first = first or when
    return first


# "Tác giả: X", "Bài và ảnh: X", "Tin, ảnh: X", "Nhóm phóng viên" ...: a byline behind its label
# "Author", "Autorin/Autor", "Auteur", "Forfatter" ...: a label saying the name after it is the writer's
AUTHOR_LABEL = (r"(?:authors?|written by|autor(?:in|en|innen)?(?:\s*/\s*autor(?:in)?)?|auteurs?|autore|autori|"
                r"forfatter(?:e)?|författare|kirjoittaja|yazar|penulis|redaktor|reporter)")
_BYLINE_LABEL = re.compile(r"^\s*(?:(?:tác giả|người viết|bài(?:\s*(?:và|,|&)\s*ảnh)?|tin(?:\s*(?:và|,|&)\s*ảnh)?|"
                           r"nhóm (?:phóng viên|pv)|phóng viên|pv|biên tập|thực hiện|ghi chép)\s*[:：]|"
                           # the writer's label in other languages, its colon often markup of its own
                           # ("<strong>Autorin/Autor</strong> Roman Goncharenko")
                           rf"{AUTHOR_LABEL}(?=[\s:：])\s*[:：]?)\s*(.+)$", re.I)
# credit lines that are not bylines (SOURCES-FACTS, qdnd): photo, graphics, video, source, illustration
_CREDIT = re.compile(r"^\s*(?:ảnh|đồ họa|đồ hoạ|video|nguồn|minh họa|minh hoạ|clip|infographic)\b", re.I)
# names of publications and offices, not people: "Báo Nhân Dân điện tử", "Ban biên tập", "baochinhphu.vn"
_ORG = re.compile(r"^(?:báo|tạp chí|cổng|trang|đài|ban biên tập|bbt|tòa soạn|toà soạn|văn phòng|phòng|ban|sở|bộ|"
                  r"ủy ban|ubnd|trung tâm|cục|vụ|viện|hội|công ty|thông tấn xã|vietnam\+|vnexpress)\b|"
                  r"\.(?:vn|com|net|org)\b|điện tử$|online$", re.I)


# the words that join two names in a byline ("Anna Martel und Lea Wagner", "Thu Hà và Minh Anh")
_JOINS = frozenset({"và", "and", "und", "et", "y", "e", "og", "och", "en", "i", "ve", "dan"})


def _uncased_name(word: str) -> bool:
    """A name in a script without capitals (松岡大地, 박준석): letters only, and short as names are."""
    return 1 <= len(word) <= 6 and all(c.isalpha() and not c.isupper() and not c.islower() for c in word)


def looks_like_byline(text: str, uncased: bool = False) -> bool:
    """A short line of capitalised names ("Anh Khoa - Nguyễn Anh", "Thị Huy", "Theo TTXVN"), the names
    perhaps joined by a conjunction ("Anna Martel und Lea Wagner").  ``uncased``: names in scripts without
    capitals count too (only where the element says it is a byline)."""
    t = text.strip(" .()")
    if not t or len(t) > 70 or any(c in t for c in ":;“”\"!?") or t.count(",") > 2 or _CREDIT.match(t):
        return False
    words = [w for w in re.split(r"[\s\-–/,]+", t) if w]
    if not 1 <= len(words) <= 9:
        return False
    if words[0].casefold() in ("theo", "bài", "tin", "nhóm"):
        words = words[1:]  # "Theo TTXVN", "Nhóm PV" ... but not "Tin liên quan"
        if not words:
            return False
    inner = [w for w in words[1:-1] if w.casefold() in _JOINS]
    words = [w for w in words if w not in inner]
    # a word starting with a capital: "韓国の国旗＝ＡＰ".isupper() is True too (a caption, not a name)
    caps = sum(1 for w in words if w[:1].isupper() or (uncased and _uncased_name(w)))
    return caps == len(words) and not t.endswith(".")


def byline_name(text: str, uncased: bool = False) -> str | None:
    """The name(s) of a byline line, without its label or preposition: "Tác giả: Nguyễn Văn An" -> "Nguyễn
    Văn An", "von Jemima Kelly" -> "Jemima Kelly" ("Theo X" is a credit line: ``credit_author``)."""
    t = clean_text(text).strip(" .")
    m = _BYLINE_LABEL.match(t)
    if m:
        name = m.group(1).strip(" .")
        return name if name and looks_like_byline(name, uncased) else None
    if t.casefold().startswith("theo "):
        return None
    t = _BY_WORD.sub("", t, count=1).strip() or t
    return t if looks_like_byline(t, uncased) else None


# "By X", "Von X", "Por X", "Par X", "Door X", "Bởi X": a byline's preposition, never a name's first word
_BY_WORD = re.compile(r"^(?:by|von|por|par|door|bởi)\s+", re.I)


def is_person_name(name: str | None, site_names: set[str] | frozenset[str] = frozenset()) -> bool:
    """False for a site's or an organisation's name given as author ("Báo Nhân Dân điện tử", "baochinhphu.vn")."""
    if not name:
        return False
    low = name.strip().casefold()
    if not low or low.startswith("http") or any(low == n or (len(n) > 3 and n in low) for n in site_names):
        return False
    return not _ORG.search(low)


def clean_author(name: str) -> str:
    """A JSON-LD author with an office address after ' - ' (qdnd): keep the name."""
    head, sep, tail = name.partition(" - ")
    if sep and (re.search(r"\d", tail) or re.search(r"(^|\s)(số|đường|phố|quận|huyện|p\.|q\.)\s", tail, re.I)):
        return head.strip()
    return name.strip()


# "By X", "Von X", "Por X", "Theo X" ...: the byline's preposition, in the languages of the press we archive
_BY = re.compile(r"^\s*(?:by|von|por|par|door|af|av|di|da|від|от|theo|bởi|tác giả\s*[:：]?)\s+|^\s*By(?=[A-ZÀ-Ỹ])",
                 re.I)
_SOCIAL = frozenset({"twitter", "facebook", "instagram", "linkedin", "whatsapp", "email", "e-mail", "x", "youtube",
                     "telegram", "zalo", "tiktok", "share", "follow", "chia sẻ", "theo dõi"})


# credit lines closing a Vietnamese article: the credited person or agency, without the publication it came from
_CREDIT_LINES = (
    # "Theo Công Hùng (Báo Chính phủ)", "Theo TTXVN", "Nguồn: TTXVN", "Nguồn: Báo Nhân Dân"
    re.compile(r"^\(?(?:theo|nguồn\s*[:：]?)\s+(?P<name>[^()]{2,60}?)\s*(?:\((?P<paper>[^()]{2,60})\))?\)?\.?$", re.I),
    # "Minh Anh (tổng hợp)", "PV (t/h)"
    re.compile(r"^(?P<name>[^()]{2,50}?)\s*\((?:tổng hợp|t/h|th|lược dịch|dịch)\)\.?$", re.I),
    # "Nguyễn Văn A - TTXVN", "Thu Hà/VOV"
    re.compile(r"^(?P<name>[^()\-–/]{2,50}?)\s*(?:[-–/]\s*)(?:TTXVN|VNA|VOV|TTXVN/Vietnam\+|Vietnam\+)\.?$"),
    # "Bài, ảnh: Thu Hà", "Tin và ảnh: X", "Bài: X"
    re.compile(r"^(?:bài|tin|ảnh|bài viết)(?:\s*(?:,|và|&)\s*(?:ảnh|video))?\s*[:：]\s*(?P<name>.{2,60})$", re.I),
)
_AGENCY_ONLY = re.compile(r"^(?:PV|BTV|CTV|TTXVN|VNA|VOV|VTV|AFP|AP|Reuters|Xinhua)$")


def credit_author(line: str) -> str | None:
    """The credited name of a closing credit line ("Theo Công Hùng (Báo Chính phủ)" -> "Công Hùng", "Nguồn:
    TTXVN" -> "TTXVN", "Nguyễn Văn A - TTXVN" -> "Nguyễn Văn A", "Minh Anh (tổng hợp)" -> "Minh Anh"), else
    None.  Only short lines of capitalised names count: "Theo kế hoạch, ..." is a sentence, not a credit."""
    t = clean_text(line).strip()
    if not t or len(t) > 90:
        return None
    if _AGENCY_ONLY.match(t.strip(" .")):
        return t.strip(" .")
    for pat in _CREDIT_LINES:
        m = pat.match(t)
        if not m:
            continue
        name = m.group("name").strip(" .,:-–")
        words = [w for w in re.split(r"[\s,&/]+", name) if w]
        if not 1 <= len(words) <= 8 or any(c in name for c in ".;!?\"“”"):
            continue
        if all(w[:1].isupper() or w[:1].isdigit() or w.casefold() in ("và", "và/", "tin", "tức", "điện", "tử")
               for w in words):
            return name
    return None


_ACCOUNTS = frozenset({"admin", "administrator", "editor", "biên tập viên", "quản trị", "quản trị viên", "webmaster",
                       "ban biên tập", "bbt", "author", "tác giả", "by", "bởi", "von", "por", "par"})


def normalise_author(name: str | None) -> str | None:
    """The credited name(s) as a reader would write them: no "By"/"Von", no trailing markers or footnote
    digits ("Xiaoying You0,"), no all capitals ("NGUYỄN VĂN AN" -> "Nguyễn Văn An"); share buttons are nobody."""
    if not name:
        return None
    t = clean_text(name)
    t = _BY.sub("", t, count=1)
    t = re.sub(r"[\s\d,;.·|*]+$", "", t).strip(" -–—,")
    t = credit_author(t) or t  # "Đỗ Lan Thắng - TTXVN" -> "Đỗ Lan Thắng"
    if not t or all(w.casefold() in _SOCIAL for w in re.split(r"[\s,/|]+", t) if w) or t.casefold() in _ACCOUNTS:
        return None
    if t.isupper() and any(c.isalpha() for c in t) and len(t.split()) >= 2:  # "TTXVN", "AFP" stay acronyms
        t = " ".join(w.capitalize() if w.isupper() and len(w) > 1 else w for w in t.split())
    return t or None


def element_html(el: Any) -> str:
    return lhtml.tostring(el, encoding="unicode")
