"""One generic spider, driven by a source's config: it decides which URLs to request, nothing more.

Discovery: sitemaps (indexes, Google News), RSS/Atom feeds and listing pages with pagination.  Known
articles are fetched again only when there is reason to (sitemap <lastmod> newer than our capture, gone from
the sitemap, or due by age), with conditional requests.  Listings stop paging back at known articles once
the source has been crawled before.  Article responses go to the pipelines as raw pages.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from config.sources import Source
from crawler.discovery import (
    is_article,
    is_denied,
    is_listing,
    listing_family,
    page_links,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
)
from crawler.revisit import KnownArticle, changed_since_capture, due_by_age
from pipelines.archive import key_for
from pipelines.items import PageStatus, RawPage
from pipelines.urls import clean_url

logger = logging.getLogger(__name__)

ARTICLE_STATUSES = [304, 404, 410]
_PAGE_NO = re.compile(r"(?:page|p|trang|pg|pageindex|brsr)[=-]?(\d+)", re.I)


def _headers(response: Response) -> dict[str, str]:
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in response.headers.items()}


def _page_no(url: str) -> int:
    found = _PAGE_NO.findall(url)
    return int(found[-1]) if found else 1


class SourceSpider(scrapy.Spider):
    name = "source"

    def __init__(self, source: Source, run_id: int | None = None,
                 known: dict[str, KnownArticle] | None = None, now: dt.datetime | None = None,
                 **kw: Any) -> None:
        super().__init__(name=source.id, **kw)
        self.source = source
        self.run_id = run_id
        self.allowed_domains = [d.split(":")[0] for d in source.allowed_domains]
        self.known: dict[str, KnownArticle] = known or {}
        self.known_ids = {k.article_id for k in self.known.values()}
        self.incremental = bool(self.known)
        self.now = now or dt.datetime.now(dt.UTC)
        self.requested: set[str] = set()  # article keys requested this run
        self.lastmods: dict[str, dt.datetime] = {}  # sitemap <lastmod> per article key, this run
        self.aliases: dict[str, set[str]] = {}  # other URLs an article was found under, this run
        self.revisited: set[int] = set()  # article ids requested this run
        self.sitemap_seen: set[str] = set()  # article keys listed by sitemaps this run
        self.sitemaps_pending = 0
        self.sitemaps_failed = False
        self.sitemaps_done: set[str] = set()
        self.sitemap_urls_taken = 0

    # ------------------------------------------------------------ entry points
    async def start(self) -> AsyncIterator[Any]:
        s = self.source
        for url in s.sitemaps:
            yield self._sitemap_request(url)
        if s.sitemaps_from_robots and not s.sitemaps:
            # start_urls and feeds are validated http(s) URLs: the scheme://host prefix always matches
            for base in dict.fromkeys("/".join(u.split("/", 3)[:3]) for u in s.start_urls + s.feeds):
                yield scrapy.Request(base + "/robots.txt", callback=self.parse_robots, priority=40,
                                     errback=self.on_error)
        for url in s.feeds:
            yield scrapy.Request(url, callback=self.parse_feed, priority=30, errback=self.on_error)
        for url in s.start_urls:
            yield scrapy.Request(url, callback=self.parse_listing, priority=0, errback=self.on_error,
                                 meta={"listing_depth": 0})
        for req in self._due_revisits():
            yield req

    def _due_revisits(self) -> Iterator[scrapy.Request]:
        """Known articles due by age, oldest check first, within the per-run budget."""
        policy = self.source.revisit
        if not policy.enabled:
            return
        due = [k for k in {a.article_id: a for a in self.known.values()}.values()
               if k.status != "moved" and due_by_age(k, self.now, policy)]
        due.sort(key=lambda k: k.last_fetched or k.first_seen)
        for k in due[: policy.max_per_run]:
            req = self._revisit(k, "age")
            if req is not None:
                yield req

    # ------------------------------------------------------------ requests
    def _sitemap_request(self, url: str) -> scrapy.Request:
        self.sitemaps_pending += 1
        return scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_sitemap_error, priority=50,
                              meta={"sitemap": True})

    def article_request(self, url: str, lastmod: dt.datetime | None = None) -> scrapy.Request | None:
        """The request for an article URL found by discovery, or None (already requested, known and not due)."""
        key = key_for(self.source, url)
        if lastmod is not None:
            # whichever discovery path requested it, the archive learns the sitemap's <lastmod>
            self.lastmods[key] = max(lastmod, self.lastmods.get(key, lastmod))
        if key in self.requested:
            self.aliases.setdefault(key, set()).add(url)
            return None
        known = self.known.get(key)
        if known is not None:
            # a known article found without a reason to refetch stays unrequested: a sitemap may give one later
            if changed_since_capture(known, lastmod):
                self.requested.add(key)
                return self._revisit(known, "lastmod", lastmod)
            if known.status == "removed" and lastmod is not None:
                self.requested.add(key)
                return self._revisit(known, "listed_again", lastmod)
            return None
        self.requested.add(key)
        self.crawler.stats.inc_value("discovery/new_articles")
        return scrapy.Request(clean_url(url, self.source.ignore_params), callback=self.parse_article,
                              errback=self.on_error, priority=10, dont_filter=True,
                              meta={"key": key, "seen": (url,), "lastmod": lastmod,
                                    "handle_httpstatus_list": ARTICLE_STATUSES})

    def _revisit(self, k: KnownArticle, reason: str, lastmod: dt.datetime | None = None) -> scrapy.Request | None:
        if k.article_id in self.revisited:
            return None
        self.revisited.add(k.article_id)
        self.crawler.stats.inc_value(f"revisit/{reason}")
        headers = {}
        if k.etag:
            headers["If-None-Match"] = k.etag
        if k.last_modified:
            headers["If-Modified-Since"] = k.last_modified
        return scrapy.Request(k.url, callback=self.parse_article, errback=self.on_error, priority=20,
                              dont_filter=True, headers=headers,
                              meta={"key": key_for(self.source, k.url), "seen": (k.url,), "article_id": k.article_id,
                                    "lastmod": lastmod, "handle_httpstatus_list": ARTICLE_STATUSES})

    def _listing_request(self, url: str, depth: int) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_listing, errback=self.on_error, priority=0,
                              meta={"listing_depth": depth})

    # ------------------------------------------------------------ callbacks
    def parse_robots(self, response: Response) -> Iterator[Any]:
        for url in robots_sitemaps(response.text, response.url):
            yield self._sitemap_request(url)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        self.sitemaps_done.add(response.url)
        entries = list(parse_sitemap(response.body, response.url))
        if not entries:
            self.crawler.stats.inc_value("discovery/sitemap_empty_or_invalid")
            logger.warning("%s: %s is not a sitemap or lists nothing", self.source.id, response.url)
        limit = self.source.limits.max_sitemap_urls
        for e in entries:
            if e.is_index:
                if e.loc not in self.sitemaps_done and not is_denied(self.source, e.loc):
                    self.sitemaps_done.add(e.loc)  # an index listing itself is read once
                    yield self._sitemap_request(e.loc)
            elif is_article(self.source, e.loc):
                self.sitemap_seen.add(key_for(self.source, e.loc))
                if self.sitemap_urls_taken < limit:
                    self.sitemap_urls_taken += 1
                    req = self.article_request(e.loc, e.lastmod)
                    if req is not None:
                        yield req
        self.sitemaps_pending -= 1
        if self.sitemaps_pending == 0:
            yield from self._vanished_from_sitemaps()

    def on_sitemap_error(self, failure: Any) -> None:
        self.sitemaps_failed = True
        self.sitemaps_pending -= 1
        self.on_error(failure)

    def _vanished_from_sitemaps(self) -> Iterator[scrapy.Request]:
        """Known live articles no longer in a complete sitemap are checked: removed, moved or still there."""
        if self.sitemaps_failed or not self.sitemap_seen or not self.known:
            return
        gone = {k.article_id: k for key, k in self.known.items()
                if k.status == "live" and key not in self.sitemap_seen}
        # an article is listed under one of its URLs: any of its keys in the sitemap counts as listed
        listed = {k.article_id for key, k in self.known.items() if key in self.sitemap_seen}
        for aid, k in gone.items():
            if aid not in listed:
                req = self._revisit(k, "vanished")
                if req is not None:
                    yield req

    def parse_feed(self, response: Response) -> Iterator[Any]:
        links = parse_feed(response.body, response.url)
        if not links:
            self.crawler.stats.inc_value("discovery/feed_empty_or_invalid")
            logger.warning("%s: %s is not a feed or lists nothing", self.source.id, response.url)
        for url in links:
            if is_article(self.source, url):
                req = self.article_request(url)
                if req is not None:
                    yield req

    def parse_listing(self, response: Response) -> Iterator[Any]:
        if not hasattr(response, "text"):
            return
        depth = response.meta.get("listing_depth", 0)
        family = listing_family(response.url)
        links = page_links(response.text, response.url)
        new = known = 0
        for url in links:
            if is_article(self.source, url):
                key = key_for(self.source, url)
                if key in self.known:
                    known += 1
                req = self.article_request(url)
                if req is not None:
                    new += key not in self.known
                    yield req
        limits = self.source.limits
        for url in links:
            if not is_listing(self.source, url):
                continue
            if listing_family(url) == family:  # pagination of this listing
                page = _page_no(url)
                if page <= _page_no(response.url):
                    continue
                pages_allowed = (self.source.revisit.backfill_listing_pages if not self.incremental
                                 else limits.max_listing_pages)
                if page > min(pages_allowed, limits.max_listing_pages):
                    continue
                if self.incremental and new == 0 and known > 0:
                    self.crawler.stats.inc_value("discovery/listing_stopped_at_known")
                    continue  # reached what we already have: no need to page further back
                yield self._listing_request(url, depth)
            elif depth < limits.max_depth:
                yield self._listing_request(url, depth + 1)

    def parse_article(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        article_id = meta.get("article_id")
        fetched = dt.datetime.now(dt.UTC)
        redirects = tuple(meta.get("redirect_urls", ()))
        headers = _headers(response)
        if response.status in (304, 404, 410) or (redirects and not is_article(self.source, response.url)):
            if article_id is None:
                self.crawler.stats.inc_value(f"discovery/article_status/{response.status}")
                return
            kind = ("not_modified" if response.status == 304 else
                    "gone" if response.status in (404, 410) else "redirected_away")
            yield PageStatus(source_id=self.source.id, url=meta["seen"][0], kind=kind, status=response.status,
                             article_id=article_id, fetched_at=fetched, headers=headers, final_url=response.url,
                             lastmod=self.lastmods.get(meta.get("key", ""), meta.get("lastmod")))
            return
        requested = redirects[0] if redirects else response.request.url if response.request else response.url
        yield RawPage(source_id=self.source.id, url=requested,
                      final_url=response.url, status=response.status, headers=headers, body=response.body,
                      fetched_at=fetched, known_article_id=article_id,
                      seen_urls=(*meta.get("seen", ()), *sorted(self.aliases.get(meta.get("key", ""), ()))),
                      redirected_from=redirects,
                      lastmod=self.lastmods.get(meta.get("key", ""), meta.get("lastmod")))

    def on_error(self, failure: Any) -> None:
        """Counted in the stats by Scrapy (errors by kind in the summary); a listing 404 is routine."""
        req = getattr(failure, "request", None)
        logger.info("%s: %s failed: %s", self.source.id, getattr(req, "url", "?"), failure.getErrorMessage())
