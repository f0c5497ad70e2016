"""``vnarchive try``: what the crawler would make of one URL (or a saved page), without touching the archive.

Which source the URL belongs to and which of its patterns match (article / listing / denied / off-site), what
discovery would follow from the page (``crawler.discovery.listing_links``, as the spider plans a listing),
and the extraction (``pipelines.extract.extract_article`` with the source's hints: what the extraction
workers run).  The learned template of an archive is not applied (it is a property of the archive, not of
the page).

The fetch follows the crawl's door out (``crawler.scope``): http(s) only, no internal address unless
``VNARCHIVE_ALLOW_ADDRESSES`` opens its range or the source names that IP literal in ``allowed_domains``; a
host name is resolved once, every address checked, and the connection made to a checked address (so a name
cannot rebind between check and connect).  Every redirect hop is checked the same way.  A URL outside every
source's ``allowed_domains`` is fetched all the same (the operator typed it), and reported as off-site.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from config import Settings, Source, SourcesFile
from config.sources import Extraction
from crawler import scope
from crawler.discovery import is_article, is_denied, is_listing, listing_links, read_links

MAX_BODY = 32 * 1024 * 1024
MAX_REDIRECTS = 10


class ProbeError(Exception):
    """The page could not be fetched or read (refused by scope, network error, too large)."""


@dataclass(slots=True)
class Fetched:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)  # the URLs before the final one
    seconds: float = 0.0
    from_file: str | None = None

    @property
    def content_type(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), None)


# ---------------------------------------------------------------- which source, which patterns

def _pattern(patterns: tuple[str, ...], url: str) -> str | None:
    return next((p for p in patterns if re.search(p, url)), None)


def in_domains(source: Source, url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
        addr = scope.host_address(host)
    except ValueError:
        return False
    return scope.Domains.of(source.allowed_domains).allows(host, addr)


def source_for(sf: SourcesFile, url: str, source_id: str | None = None) -> Source | None:
    """The source named, or the first whose ``allowed_domains`` holds the URL's host (None: no source)."""
    if source_id is not None:
        return sf.get(source_id)
    return next((s for s in sf.sources if in_domains(s, url)), None)


def verdict(source: Source | None, url: str) -> dict[str, Any]:
    """What the crawl makes of ``url``: ``article``, ``listing``, ``denied``, ``off-site`` or ``other``, with
    the pattern that decided (a crawl requests articles and listings of its own domains only)."""
    if source is None:
        return {"url": url, "verdict": "off-site", "pattern": None, "why": "no source's allowed_domains holds it"}
    if not in_domains(source, url):
        return {"url": url, "verdict": "off-site", "pattern": None,
                "why": f"outside {source.id}'s allowed_domains ({', '.join(source.allowed_domains)})"}
    if is_denied(source, url):
        return {"url": url, "verdict": "denied", "pattern": _pattern(source.deny_patterns, url),
                "why": "matches deny_patterns" if source.deny_patterns else "not http(s)"}
    if is_article(source, url):
        return {"url": url, "verdict": "article", "pattern": _pattern(source.article_patterns, url),
                "why": "matches article_patterns"}
    if is_listing(source, url):
        return {"url": url, "verdict": "listing", "pattern": _pattern(source.listing_patterns, url),
                "why": "matches listing_patterns"}
    return {"url": url, "verdict": "other", "pattern": None,
            "why": "matches neither article_patterns nor listing_patterns: not followed"}


def discovery(source: Source | None, body: bytes, url: str, page_kind: str) -> dict[str, Any]:
    """The page's links by verdict, and the article and listing URLs a crawl would follow from it."""
    links, bad = read_links(body, url)
    counts: dict[str, int] = {}
    for u in links:
        k = verdict(source, u)["verdict"]
        counts[k] = counts.get(k, 0) + 1
    articles: list[str] = []
    listings: list[str] = []
    if source is not None:
        planned = listing_links(source, body, url)  # what the spider plans from a listing page
        articles = [f.url for f in planned.articles if in_domains(source, f.url)]
        listings = [u for u, _, _ in planned.listings if in_domains(source, u)]
    follows = page_kind in ("listing", "entry point")
    return {"links": len(links), "unreadable_links": bad, "by_verdict": counts, "articles": articles,
            "listings": listings, "followed": follows,
            "note": None if follows else "a crawl follows links from entry points and listing pages only; "
                                          "these are the links it would follow if this page were one"}


# ---------------------------------------------------------------- the fetch

class _HTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, addr: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addr = addr

    def connect(self) -> None:
        self.sock = socket.create_connection((self._addr, self.port), self.timeout)


class _HTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, addr: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addr = addr

    def connect(self) -> None:
        sock = socket.create_connection((self._addr, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _policy(settings: Settings, source: Source | None) -> scope.AddressPolicy:
    named = scope.Domains.of(source.allowed_domains).addresses if source is not None else frozenset()
    return scope.AddressPolicy(allow=scope.parse_networks(settings.allow_addresses), named=set(named))


def _address(url: str, pol: scope.AddressPolicy) -> str:
    """The address to connect to for ``url``, every address checked; ProbeError when refused."""
    refusal = scope.check_url(url, None, pol)
    if refusal is not None:
        raise ProbeError(f"{url}: refused ({refusal.kind}): {refusal.detail}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = scope.host_address(host)
    if literal is not None:
        return str(literal)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise ProbeError(f"{url}: cannot resolve {host}: {e}") from None
    addrs = list(dict.fromkeys(str(i[4][0]) for i in infos))
    for a in addrs:
        why = pol.refusal(ipaddress.ip_address(a.split("%", 1)[0]), literal=False)
        if why:
            raise ProbeError(f"{url}: refused (blocked_address): {host} resolves to {a}, a {why.replace('_', '-')} "
                             "address (VNARCHIVE_ALLOW_ADDRESSES opens a range)")
    if not addrs:
        raise ProbeError(f"{url}: {host} has no address")
    return addrs[0]


def _decompress(body: bytes, encoding: str) -> bytes:
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return body
    if enc in ("gzip", "x-gzip", "deflate"):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS if enc != "deflate" else zlib.MAX_WBITS)
        out = d.decompress(body, MAX_BODY + 1)
        if len(out) > MAX_BODY:
            raise ProbeError(f"the page decompresses to more than {MAX_BODY // 2**20} MB")
        return out
    if enc == "br":
        import brotli

        out = brotli.decompress(body)
        if len(out) > MAX_BODY:
            raise ProbeError(f"the page decompresses to more than {MAX_BODY // 2**20} MB")
        return bytes(out)
    raise ProbeError(f"unsupported Content-Encoding {encoding!r}")


def fetch(url: str, settings: Settings, source: Source | None, timeout: float = 30.0) -> Fetched:
    """GET ``url`` as the crawl would (its User-Agent, its address rules), following redirects."""
    pol = _policy(settings, source)
    t0 = time.monotonic()
    seen: list[str] = []
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        addr = _address(current, pol)
        parts = urlsplit(current)
        conn_cls = _HTTPS if parts.scheme == "https" else _HTTP
        conn = conn_cls(parts.hostname or "", parts.port, addr, timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", path, headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate, br",
                                               "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                                               "Accept-Language": "vi,en;q=0.5"})
            resp = conn.getresponse()
            raw = resp.read(MAX_BODY + 1)
            headers = {k: v for k, v in resp.getheaders()}
        except (OSError, http.client.HTTPException) as e:
            raise ProbeError(f"{current}: {type(e).__name__}: {e}") from None
        finally:
            conn.close()
        if len(raw) > MAX_BODY:
            raise ProbeError(f"{current}: the page is larger than {MAX_BODY // 2**20} MB")
        location = resp.getheader("Location")
        if resp.status in (301, 302, 303, 307, 308) and location:
            seen.append(current)
            current = urljoin(current, location.strip()).split("#", 1)[0]
            continue
        body = _decompress(raw, resp.getheader("Content-Encoding") or "")
        return Fetched(url, current, resp.status, headers, body, seen, time.monotonic() - t0)
    raise ProbeError(f"{url}: more than {MAX_REDIRECTS} redirects")


# ---------------------------------------------------------------- the extraction

def extraction(source: Source | None, page: Fetched) -> dict[str, Any]:
    """``extract_article`` with the source's hints: the fields, or why the page would be skipped."""
    from pipelines.extract import EXTRACTOR_VERSION, extract_article
    from pipelines.items import Extracted
    from storage.export import iso

    hints = source.extraction if source is not None else Extraction()
    result = extract_article(page.body, page.final_url, page.content_type, hints)
    out: dict[str, Any] = {"extractor_version": EXTRACTOR_VERSION}
    if not isinstance(result, Extracted):
        from storage.skips import explain

        out.update(article=False, skipped=result.reason, explanation=explain(result.reason))
        return out

    def when(value: Any) -> str | None:
        offset = value.utcoffset() if value is not None else None
        return iso(value, int(offset.total_seconds() // 60) if offset is not None else None)

    out.update(article=True, title=result.title, published=when(result.published), modified=when(result.modified),
               author=result.author, language=result.language, canonical=result.page_canonical,
               lead=result.lead, text=result.text, words=len(result.text.split()),
               paragraphs=len([p for p in result.text.split("\n\n") if p.strip()]),
               decode_errors=result.decode_errors)
    return out


def probe(page: Fetched, sf: SourcesFile | None, source_id: str | None) -> dict[str, Any]:
    """Everything ``vnarchive try`` reports about a fetched (or saved) page."""
    source = source_for(sf, page.url, source_id) if sf is not None else None
    v = verdict(source, page.url)
    final = verdict(source, page.final_url) if page.final_url != page.url else v
    entry = source is not None and page.url in (*source.start_urls, *source.feeds, *source.sitemaps)
    kind = "entry point" if entry else final["verdict"]
    return {
        "url": page.url, "source": source.id if source else None, "source_name": source.name if source else None,
        "chosen_by": ("--source" if source_id else "allowed_domains") if source else None,
        "verdict": v, "final_url": page.final_url, "final_verdict": final, "redirects": page.redirects,
        "status": page.status, "content_type": page.content_type, "bytes": len(page.body),
        "seconds": round(page.seconds, 3), "file": page.from_file,
        "discovery": discovery(source, page.body, page.final_url, kind),
        "extraction": extraction(source, page) if page.status < 400 or page.from_file else None,
    }
