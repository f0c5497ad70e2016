"""Which URLs a source's pages point to, and what kind each is.  Pure functions, testable from bytes.

Feeds and sitemaps are parsed with entity expansion, DTD loading and network access off (XML bombs, XXE).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree
from scrapy.utils.gz import gunzip

from config.sources import Source
from pipelines.dates import parse_iso

MAX_XML_BYTES = 50 * 1024 * 1024
_PAGE_PARAMS = {"page", "p", "trang", "pg", "pageindex", "brsr"}
_PAGE_PATH = re.compile(r"[/-](?:page|trang|p)-?\d+(?:\.html?|\.aspx)?/?$", re.I)


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _matches(patterns: tuple[str, ...], url: str) -> bool:
    return any(p.search(url) for p in _compiled(patterns))


def is_http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def is_denied(source: Source, url: str) -> bool:
    return not is_http(url) or _matches(source.deny_patterns, url)


def is_article(source: Source, url: str) -> bool:
    return not is_denied(source, url) and _matches(source.article_patterns, url)


def is_listing(source: Source, url: str) -> bool:
    return not is_denied(source, url) and not is_article(source, url) and _matches(source.listing_patterns, url)


def listing_family(url: str) -> str:
    """A listing URL without its page number: page 2, 3... of one listing share a family."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _PAGE_PARAMS]
    path = _PAGE_PATH.sub("", parts.path).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(sorted(query)), ""))


def page_links(html: bytes | str, base_url: str) -> list[str]:
    """Absolute http(s) links of an HTML page, in page order, without fragments."""
    from lxml import html as lhtml

    try:
        root = lhtml.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    base = root.find(".//base[@href]")
    base_url = urljoin(base_url, base.get("href")) if base is not None else base_url
    out = []
    for a in root.iter("a", "area"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        u = urljoin(base_url, href).split("#", 1)[0]
        if is_http(u):
            out.append(u)
    return list(dict.fromkeys(out))


@dataclass(slots=True, frozen=True)
class SitemapEntry:
    loc: str
    lastmod: dt.datetime | None
    is_index: bool


def xml_body(body: bytes) -> bytes:
    """The XML of a feed or sitemap: gunzipped (bounded) when gzipped, without a BOM; b"" when unreadable."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=MAX_XML_BYTES)
        except (OSError, EOFError, ValueError):  # truncated or corrupt, or over the size cap
            return b""
    return body.removeprefix(b"\xef\xbb\xbf")


def parse_sitemap(body: bytes, base_url: str) -> Iterator[SitemapEntry]:
    """Entries of a sitemap or sitemap index (Google News sitemaps too); nothing for non-sitemaps."""
    body = xml_body(body)
    if not body.lstrip().startswith(b"<"):
        return
    # iterparse with entities unresolved, as Scrapy's Sitemap does, but reading nested elements too
    # (Google News puts the date in <news:news><news:publication_date>)
    events = etree.iterparse(io.BytesIO(body), events=("start", "end"), recover=True, resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
    try:
        _, root = next(events)
        kind = etree.QName(root).localname
        if kind not in ("sitemapindex", "urlset"):
            return
        for event, el in events:
            if event != "end" or not isinstance(el.tag, str) or etree.QName(el).localname not in ("url", "sitemap"):
                continue
            fields = {etree.QName(x).localname: (x.text or "").strip() for x in el.iter() if isinstance(x.tag, str)}
            el.clear()
            loc = urljoin(base_url, fields.get("loc", ""))
            if fields.get("loc") and is_http(loc):
                lastmod = parse_iso(fields.get("lastmod") or fields.get("publication_date"))
                yield SitemapEntry(loc, lastmod, kind == "sitemapindex")
    except (etree.XMLSyntaxError, StopIteration):
        return


_FEED_PARSER = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)


def parse_feed(body: bytes, base_url: str) -> list[str]:
    """Article links of an RSS 2.0, RSS 1.0 or Atom feed."""
    body = xml_body(body)
    try:
        root = etree.fromstring(body, etree.XMLParser(**_FEED_PARSER))
    except (etree.XMLSyntaxError, ValueError):
        return []
    if root is None:
        return []
    out = []
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
                u = urljoin(base_url, link)
                if is_http(u):
                    out.append(u)
    return list(dict.fromkeys(out))


def robots_sitemaps(robots_txt: str, base_url: str) -> list[str]:
    out = []
    for line in robots_txt.splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == "sitemap" and v.strip():
            out.append(urljoin(base_url, v.strip()))
    return out
