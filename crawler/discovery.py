"""Which URLs a source's pages point to, and what kind each is.  Pure functions, testable from bytes.

Feeds and sitemaps are parsed with entity expansion, DTD loading and network access off (XML bombs, XXE).
Everything here may take a while on a big page (a 50,000-URL sitemap): the spider calls it off the reactor
thread.  A link whose URL cannot be read (a bad port, a broken IPv6 literal) is left out and counted.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree
from scrapy.utils.gz import gunzip

from config.sources import Source
from pipelines.dates import parse_iso
from pipelines.urls import try_url_key

# per-URL decisions, logged at INFO: what `crawl -v` shows to someone tuning a source's patterns
decisions = logging.getLogger("vnarchive.discovery")
MAX_XML_BYTES = 50 * 1024 * 1024
_PAGE_PARAMS = {"page", "p", "trang", "pg", "pageindex", "brsr"}
_PAGE_PATH = re.compile(r"[/-](?:page|trang|p)-?\d+(?:\.html?|\.aspx)?/?$", re.I)


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _matches(patterns: tuple[str, ...], url: str) -> bool:
    return any(p.search(url) for p in _compiled(patterns))


def is_http(url: str) -> bool:
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:  # "http://[::1/x"
        return False


def _join(base_url: str, href: str) -> str | None:
    """``href`` made absolute, without its fragment; None when it cannot be read (a broken IPv6 literal)."""
    try:
        return urljoin(base_url, href).split("#", 1)[0]
    except ValueError:
        return None


def is_denied(source: Source, url: str) -> bool:
    return not is_http(url) or _matches(source.deny_patterns, url)


def is_article(source: Source, url: str) -> bool:
    return not is_denied(source, url) and _matches(source.article_patterns, url)


def is_listing(source: Source, url: str) -> bool:
    return not is_denied(source, url) and not is_article(source, url) and _matches(source.listing_patterns, url)


def verdict(source: Source, url: str) -> str:
    """What discovery makes of a URL: article, listing, denied (deny_patterns), not_http, or no_pattern."""
    if not is_http(url):
        return "not_http"
    if _matches(source.deny_patterns, url):
        return "denied"
    if _matches(source.article_patterns, url):
        return "article"
    if _matches(source.listing_patterns, url):
        return "listing"
    return "no_pattern"


def _log_decisions(source: Source, urls: Iterable[str], where: str) -> None:
    """One INFO line per URL found on ``where`` (only when someone listens: ``crawl -v``)."""
    if decisions.isEnabledFor(logging.INFO):
        for url in urls:
            decisions.info("%s: %s %s (found on %s)", source.id, verdict(source, url), url, where)


def listing_family(url: str) -> str:
    """A listing URL without its page number: page 2, 3... of one listing share a family."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _PAGE_PARAMS]
    path = _PAGE_PATH.sub("", parts.path).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(sorted(query)), ""))


def page_links(html: bytes | str, base_url: str) -> list[str]:
    """Absolute http(s) links of an HTML page, in page order, without fragments."""
    return read_links(html, base_url)[0]


def read_links(html: bytes | str, base_url: str) -> tuple[list[str], int]:
    """``page_links`` and how many links could not be read."""
    from lxml import html as lhtml

    try:
        root = lhtml.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return [], 0
    base = root.find(".//base[@href]")
    if base is not None:
        base_url = _join(base_url, base.get("href") or "") or base_url
    out, bad = [], 0
    for a in root.iter("a", "area"):
        href = (a.get("href") or "").strip()
        if not href or href.lower().startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        u = _join(base_url, href)
        if u is None:
            bad += 1
        elif is_http(u):
            out.append(u)
    return list(dict.fromkeys(out)), bad


@dataclass(slots=True, frozen=True)
class SitemapEntry:
    loc: str
    lastmod: dt.datetime | None
    is_index: bool


@dataclass(slots=True)
class Sitemap:
    """One sitemap document: what it is and what it lists.

    ``kind`` is ``urlset``, ``sitemapindex``, ``feed`` (an RSS/Atom feed used as a sitemap, as sitemaps.org
    allows), ``text`` (one URL a line) or ``None`` (not a sitemap: an HTML error page, garbage).  ``news`` is
    set when it is a Google News sitemap (``news:`` elements: the last two days only, never the whole site).
    ``truncated``: it listed more than the ``limit`` it was read with."""

    kind: str | None = None
    entries: list[SitemapEntry] = field(default_factory=list)
    news: bool = False
    truncated: bool = False
    bad: int = 0  # entries whose <loc> could not be read


_SITEMAP_KINDS = {"urlset", "sitemapindex"}
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


def xml_body(body: bytes) -> bytes:
    """The XML of a feed or sitemap: gunzipped (bounded) when gzipped, without a BOM; b"" when unreadable."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=MAX_XML_BYTES)
        except (OSError, EOFError, ValueError):  # truncated or corrupt, or over the size cap
            return b""
    return body.removeprefix(b"\xef\xbb\xbf")


def _entry_fields(el: Any, ns: str | None) -> tuple[str, str]:
    """(loc, lastmod) of a ``<url>``/``<sitemap>``: its own ``<loc>`` and ``<lastmod>`` only.

    Extensions nest their own locations (``<image:image><image:loc>``, ``<video:video><video:content_loc>``),
    before or after ``<loc>`` (Yoast, Rank Math, WordPress core): they are never the page's.  A Google News
    entry without ``<lastmod>`` gives its ``<news:publication_date>``."""
    loc = lastmod = news_date = ""
    for child in el:
        if not isinstance(child.tag, str):
            continue
        q = etree.QName(child)
        if q.namespace == _NEWS_NS:
            for x in child.iter():
                if isinstance(x.tag, str) and etree.QName(x).localname == "publication_date" and not news_date:
                    news_date = (x.text or "").strip()
            continue
        if q.namespace not in (ns, None):  # image:, video:, xhtml:link alternates...
            continue
        if q.localname == "loc" and not loc:
            loc = (child.text or "").strip()
        elif q.localname == "lastmod" and not lastmod:
            lastmod = (child.text or "").strip()
    return loc, lastmod or news_date


def read_sitemap(body: bytes, base_url: str, limit: int | None = None) -> Sitemap:
    """What a sitemap document lists (see ``Sitemap``); at most ``limit`` entries.  Never raises."""
    body = xml_body(body)
    head = body.lstrip()[:1]
    if not head:
        return Sitemap()
    if head != b"<":
        return _text_sitemap(body, base_url, limit)
    # iterparse with entities unresolved, as Scrapy's Sitemap does, reading each entry's direct children
    events = etree.iterparse(io.BytesIO(body), events=("start", "end"), recover=True, resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
    out = Sitemap()
    try:
        _, root = next(events)
        kind = etree.QName(root).localname
        if kind in ("rss", "feed", "RDF"):
            return _feed_sitemap(body, base_url, limit)
        if kind not in _SITEMAP_KINDS:
            return out
        out.kind = kind
        ns = etree.QName(root).namespace
        for event, el in events:
            if event == "start":
                if not out.news and isinstance(el.tag, str) and etree.QName(el).namespace == _NEWS_NS:
                    out.news = True
                continue
            if el.getparent() is not root or not isinstance(el.tag, str) or \
                    etree.QName(el).localname not in ("url", "sitemap"):
                continue
            loc, lastmod = _entry_fields(el, ns)
            el.clear()
            while el.getprevious() is not None:  # memory stays flat however long the sitemap
                del root[0]
            url = _join(base_url, loc) if loc else None
            if loc and url is None:
                out.bad += 1
            elif url is not None and is_http(url):
                if limit is not None and len(out.entries) >= limit:
                    out.truncated = True
                    break
                out.entries.append(SitemapEntry(url, parse_iso(lastmod), kind == "sitemapindex"))
    except (etree.XMLSyntaxError, StopIteration):
        pass
    return out


def _text_sitemap(body: bytes, base_url: str, limit: int | None) -> Sitemap:
    """A text sitemap: one absolute URL a line (sitemaps.org); anything else in it means it is not one."""
    out = Sitemap(kind="text")
    for line in body.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line:
            continue
        if not re.match(r"https?://\S+$", line):
            return Sitemap()
        if limit is not None and len(out.entries) >= limit:
            out.truncated = True
            break
        out.entries.append(SitemapEntry(urljoin(base_url, line), None, False))
    return out if out.entries else Sitemap()


def _feed_sitemap(body: bytes, base_url: str, limit: int | None) -> Sitemap:
    """An RSS 2.0 or Atom feed given as a sitemap (sitemaps.org allows it): its links, none an index."""
    links, bad = read_feed(body, base_url)
    kept = links if limit is None else links[:limit]
    return Sitemap(kind="feed", entries=[SitemapEntry(u, None, False) for u in kept],
                   truncated=len(kept) < len(links), bad=bad)


def parse_sitemap(body: bytes, base_url: str) -> Iterator[SitemapEntry]:
    """Entries of a sitemap or sitemap index (Google News, image and video sitemaps too); nothing for
    non-sitemaps."""
    yield from read_sitemap(body, base_url).entries


# Sitemaps that list only the latest articles (never the whole site): an article missing from them was not
# removed.  Google News sitemaps are recognised by their content; these by their name.
_PARTIAL_NAME = re.compile(
    r"(?:news|latest|recent|newest|moi-?nhat|tin-?moi|hom-?nay|today|daily|top[-_]?\d*|feed|rss|\d+-?(?:h|hours?|days?))"
    r"(?![a-z])", re.I)


def partial_by_name(url: str) -> bool:
    """A sitemap named like a "latest N" map (``google-news.xml``, ``top300article.xml``, ``latest-news.rss``)."""
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return bool(_PARTIAL_NAME.search(name))


_FEED_PARSER = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)


def parse_feed(body: bytes, base_url: str) -> list[str]:
    """Article links of an RSS 2.0, RSS 1.0 or Atom feed."""
    return read_feed(body, base_url)[0]


def read_feed(body: bytes, base_url: str) -> tuple[list[str], int]:
    """``parse_feed`` and how many links could not be read."""
    body = xml_body(body)
    try:
        root = etree.fromstring(body, etree.XMLParser(**_FEED_PARSER))
    except (etree.XMLSyntaxError, ValueError):
        return [], 0
    if root is None:
        return [], 0
    out, bad = [], 0
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = etree.QName(el).localname
        if tag in ("item", "entry"):
            link = None
            for child in el:
                if not isinstance(child.tag, str):
                    continue
                name = etree.QName(child).localname
                if name == "link":
                    href = child.get("href")
                    if href and child.get("rel", "alternate") == "alternate":
                        link = href
                    elif child.text and child.text.strip():
                        link = child.text.strip()
                elif name == "guid" and not link and child.get("isPermaLink", "true") == "true" and child.text:
                    link = child.text.strip()
            if link:
                u = _join(base_url, link)
                if u is None:
                    bad += 1
                elif is_http(u):
                    out.append(u)
    return list(dict.fromkeys(out)), bad


def robots_sitemaps(robots_txt: str, base_url: str) -> list[str]:
    out = []
    for line in robots_txt.splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == "sitemap" and v.strip():
            u = _join(base_url, v.strip())
            if u is not None and is_http(u):
                out.append(u)
    return out


# ---------------------------------------------------------------- article links, keyed

@dataclass(slots=True, frozen=True)
class Found:
    """An article URL found by discovery, with its identity key (and the sitemap's <lastmod>)."""

    url: str
    key: str
    lastmod: dt.datetime | None = None


def source_key(source: Source, url: str) -> str | None:
    """The URL's identity key under the source's rules; None when the URL cannot be read."""
    return try_url_key(url, source.ignore_params, source.host_aliases, source.case_insensitive_paths)


def keyed(source: Source, urls: Iterable[tuple[str, dt.datetime | None]]) -> tuple[list[Found], int]:
    """The article URLs among ``urls`` (url, lastmod), keyed; and how many could not be read."""
    out, bad = [], 0
    urls = list(urls)
    _log_decisions(source, (u for u, _ in urls), "a feed or sitemap")
    for url, lastmod in urls:
        if not is_article(source, url):
            continue
        key = source_key(source, url)
        if key is None:
            bad += 1
        else:
            out.append(Found(url, key, lastmod))
    return out, bad


@dataclass(slots=True)
class ListingLinks:
    """What a listing page links to: article URLs (keyed) and listing URLs (family, page number)."""

    articles: list[Found] = field(default_factory=list)
    listings: list[tuple[str, str, int]] = field(default_factory=list)
    bad: int = 0


_PAGE_NO = re.compile(r"(?:page|p|trang|pg|pageindex|brsr)[=-]?(\d+)", re.I)


def page_no(url: str) -> int:
    """The page number of a listing URL (1 without one)."""
    found = _PAGE_NO.findall(url)
    return int(found[-1]) if found else 1


def listing_links(source: Source, html: bytes | str, base_url: str) -> ListingLinks:
    links, bad = read_links(html, base_url)
    _log_decisions(source, links, base_url)
    out = ListingLinks(bad=bad)
    for url in links:
        if is_article(source, url):
            key = source_key(source, url)
            if key is None:
                out.bad += 1
            else:
                out.articles.append(Found(url, key))
        elif is_listing(source, url):
            try:
                out.listings.append((url, listing_family(url), page_no(url)))
            except ValueError:
                out.bad += 1
    return out
