"""One generic spider, driven by a source's config: it decides which URLs to request, nothing more.

Discovery: sitemaps (indexes, Google News, image/video extensions, gzip), RSS/Atom feeds and listing pages
with pagination.  What the pages link to is parsed, keyed and looked up in the archive off the reactor thread
(``crawler.revisit_store``): the spider holds only what this run requested, never the source's known articles.

New articles come first.  Known articles are fetched again only with a reason (a sitemap <lastmod> newer than
our capture, gone from a complete sitemap, or due by age), with conditional requests, at most
``revisit.max_per_run`` of them, and only once nothing else is left to fetch (``spider_idle``).

Listings stop paging back at known articles only when they have been paged back once already (the backfill)
and the previous crawl walked them without loss; otherwise (a first crawl killed or cut by its page budget, a
page that failed) the next crawl pages them back again (``storage.models.ListingState``).

Entry requests (start URLs, feeds, sitemaps, robots.txt) bypass the duplicate filter: a site that answers
with a redirect to the same URL after setting a cookie would otherwise be dropped silently (scrapy#1225).
Article responses go to the pipelines as raw pages.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from w3lib.url import canonicalize_url

from config.sources import Source
from crawler.discovery import (
    Found,
    ListingLinks,
    Sitemap,
    is_article,
    is_denied,
    keyed,
    listing_family,
    listing_links,
    page_no,
    partial_by_name,
    read_feed,
    read_sitemap,
    robots_sitemaps,
    source_key,
)
from crawler.revisit import KnownArticle, changed_since_capture
from crawler.revisit_store import ArchiveView, learn_lastmods, save_listing_state
from pipelines.items import PageStatus, RawPage
from pipelines.pipeline import wake_engine
from pipelines.urls import clean_url

logger = logging.getLogger(__name__)
T = TypeVar("T")

ARTICLE_STATUSES = [304, 404, 410]
# Scrapy sends higher priorities first: entry points, then new articles, then the listings that find more;
# revisits are only scheduled once all of that is done
PRIO_SITEMAP, PRIO_ROBOTS, PRIO_FEED, PRIO_NEW, PRIO_LISTING, PRIO_REVISIT = 50, 40, 30, 20, 10, -10
# a complete sitemap lists most of what is archived: one that lists fewer than this share of the source's live
# articles is partial, whatever it looks like, and marks nothing vanished
COMPLETE_SHARE = 0.5

_pool: cf.ThreadPoolExecutor | None = None


def _threads() -> cf.ThreadPoolExecutor:
    """Discovery's own threads (parsing, keying, archive lookups): never the reactor's, never the DNS pool."""
    global _pool
    if _pool is None:
        _pool = cf.ThreadPoolExecutor(4, thread_name_prefix="discovery")
    return _pool


async def off_reactor(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.wrap_future(_threads().submit(fn, *args))


def _headers(response: Response) -> dict[str, str]:
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in response.headers.items()}


@dataclass(slots=True)
class SitemapRoot:
    """A sitemap given in the config or by robots.txt, with everything read from it this run."""

    complete: bool = False  # an index or a whole-site urlset, not a news / "latest" map
    failed: bool = False  # it, or one of its children, could not be read


@dataclass(slots=True)
class Family:
    """One listing (a category and its pages) in this run."""

    walk: bool  # page back to backfill_listing_pages whatever is known (not backfilled, or not clean)
    backfilled: bool
    failed: bool = False
    fetched: bool = False


@dataclass(slots=True)
class Plan:
    """What a page led to, worked out off the reactor: article URLs (keyed), what the archive knows of them."""

    found: list[Found] = field(default_factory=list)
    known: dict[str, KnownArticle] = field(default_factory=dict)
    bad: int = 0
    sitemap: Sitemap | None = None
    listing: ListingLinks | None = None


class SourceSpider(scrapy.Spider):
    name = "source"

    def __init__(self, source: Source, run_id: int | None = None, now: dt.datetime | None = None,
                 db_url: str | None = None, retry_urls: Sequence[str] = (), **kw: Any) -> None:
        super().__init__(name=source.id, **kw)
        self.source = source
        self.retry_urls = list(retry_urls)  # article URLs earlier crawls gave up on (storage.failures)
        self.run_id = run_id
        self.db_url = db_url
        self.allowed_domains = [d.split(":")[0] for d in source.allowed_domains]
        self.now = now or dt.datetime.now(dt.UTC)
        self.store: ArchiveView | None = None
        # this run only, bounded by what it requests (max_pages) or reads (max_sitemap_urls)
        self.requested: set[str] = set()  # article keys requested (new articles and revisits)
        self.lastmods: dict[str, dt.datetime] = {}  # sitemap <lastmod> of requested keys
        self.passed: dict[str, dt.datetime | None] = {}  # ... as the pipeline was given it with the page
        self.learnt: dict[str, dt.datetime] = {}  # <lastmod>s the archive learns at the end (closed)
        self.aliases: dict[str, set[str]] = {}  # other URLs a requested article was found under
        self.revisited: set[int] = set()  # article ids revisited
        self.revisits_left = source.revisit.max_per_run
        self.deferred: list[scrapy.Request] = []  # revisits with a reason found during discovery
        self.listed: set[int] = set()  # known article ids some sitemap listed
        self.signalled: set[int] = set()  # ... with a <lastmod>: that tells when they change
        self.sitemap_urls = 0  # article URLs read from sitemaps
        self.sitemap_limited = False
        self.sitemaps_done: set[str] = set()
        self.roots: dict[str, SitemapRoot] = {}
        self.previous_run: int | None = None
        self.listing_state: dict[str, tuple[Any, Any]] = {}
        self.families: dict[str, Family] = {}
        self.listings_requested: set[str] = set()  # canonical URLs of the listing pages asked for
        self._revisit_stage = "waiting"  # -> planning -> scheduled

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourceSpider:
        kwargs.setdefault("db_url", crawler.settings.get("VNARCHIVE_DB"))
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    def _stat(self, key: str, n: int = 1) -> None:
        if n:
            self.crawler.stats.inc_value(key, n)

    # ------------------------------------------------------------ entry points
    async def start(self) -> AsyncIterator[Any]:
        if not self.db_url:
            raise RuntimeError("the spider needs VNARCHIVE_DB (the archive it asks what is known)")
        self.store = ArchiveView(self.db_url)
        self.previous_run, self.listing_state = await off_reactor(
            self.store.listing_state, self.source.id, self.run_id)
        s = self.source
        for url in s.sitemaps:
            yield self._sitemap_request(url, root=url)
        if s.sitemaps_from_robots and not s.sitemaps:
            # start_urls and feeds are validated http(s) URLs: the scheme://host prefix always matches
            for base in dict.fromkeys("/".join(u.split("/", 3)[:3]) for u in s.start_urls + s.feeds):
                yield scrapy.Request(base + "/robots.txt", callback=self.parse_robots, priority=PRIO_ROBOTS,
                                     errback=self.on_error, dont_filter=True)
        for url in s.feeds:
            yield scrapy.Request(url, callback=self.parse_feed, priority=PRIO_FEED, errback=self.on_error,
                                 dont_filter=True)
        for url in s.start_urls:
            entry = self._listing_request(url, 0, entry=True)
            if entry is not None:
                yield entry
        if self.retry_urls:
            plan = await off_reactor(self._plan_urls, self.retry_urls)
            self._stat("discovery/bad_url", plan.bad)
            for f in plan.found:
                req = self.article_request(f, plan.known.get(f.key))
                if req is not None:
                    self._stat("discovery/retried")
                    yield req

    # ------------------------------------------------------------ requests
    def _sitemap_request(self, url: str, root: str) -> scrapy.Request:
        self.roots.setdefault(root, SitemapRoot())
        return scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_sitemap_error,
                              priority=PRIO_SITEMAP, dont_filter=True, meta={"sitemap_root": root})

    def _listing_request(self, url: str, depth: int, entry: bool = False) -> scrapy.Request | None:
        """None for a listing requested already this run.  Entry requests bypass Scrapy's duplicate filter,
        which then never learns their URL: the spider remembers every listing it asked for itself."""
        seen = canonicalize_url(url)
        if seen in self.listings_requested:
            return None
        self.listings_requested.add(seen)
        return scrapy.Request(url, callback=self.parse_listing, errback=self.on_error, priority=PRIO_LISTING,
                              dont_filter=entry, meta={"listing_depth": depth})

    def article_request(self, found: Found, known: KnownArticle | None,
                        family: str | None = None) -> scrapy.Request | None:
        """The request for an article URL found by discovery, or None (already requested, known and not due).
        A known article with a reason to look again is a revisit, kept for when the new articles are done."""
        key, lastmod = found.key, found.lastmod
        if key in self.requested:
            if lastmod is not None:
                # whichever discovery path requested it, the archive learns the sitemap's <lastmod>: with the
                # page, or at the end when the page (from a feed or a listing) was answered before the sitemap
                self.lastmods[key] = max(lastmod, self.lastmods.get(key, lastmod))
                if key in self.passed:  # the page went to the pipeline already, with an older <lastmod> or none
                    given = self.passed[key]
                    if given is None or given < self.lastmods[key]:
                        self.learnt[key] = self.lastmods[key]
            if len(self.aliases.get(key, ())) < 20:
                self.aliases.setdefault(key, set()).add(found.url)
            return None
        if known is not None:
            # a known article found without a reason to refetch stays unrequested: a sitemap may give one later
            if changed_since_capture(known, lastmod):
                self._defer(known, "lastmod", key, lastmod)
            elif known.status == "removed" and lastmod is not None:
                self._defer(known, "listed_again", key, lastmod)
            elif lastmod is not None and known.listed_lastmod is None:
                # not a change (fetched after it): what we hold is that version, the baseline for next time
                self.learnt[key] = max(lastmod, self.learnt.get(key, lastmod))
            return None
        self.requested.add(key)
        if lastmod is not None:
            self.lastmods[key] = lastmod
        self._stat("discovery/new_articles")
        return scrapy.Request(clean_url(found.url, self.source.ignore_params), callback=self.parse_article,
                              errback=self.on_error, priority=PRIO_NEW, dont_filter=True,
                              meta={"key": key, "seen": (found.url,), "lastmod": lastmod, "family": family,
                                    "handle_httpstatus_list": ARTICLE_STATUSES})

    def _defer(self, k: KnownArticle, reason: str, key: str, lastmod: dt.datetime | None = None) -> None:
        req = self._revisit(k, reason, key, lastmod)
        if req is not None:
            self.requested.add(key)
            if lastmod is not None:
                self.lastmods[key] = lastmod
            self.deferred.append(req)

    def _revisit(self, k: KnownArticle, reason: str, key: str | None,
                 lastmod: dt.datetime | None = None) -> scrapy.Request | None:
        """A conditional request for a known article, within the run's revisit budget (None beyond it)."""
        if k.article_id in self.revisited:
            return None
        if self.revisits_left <= 0:
            self._stat("revisit/over_budget")
            return None
        self.revisits_left -= 1
        self.revisited.add(k.article_id)
        self._stat(f"revisit/{reason}")
        headers = {}
        if k.etag:
            headers["If-None-Match"] = k.etag
        if k.last_modified:
            headers["If-Modified-Since"] = k.last_modified
        return scrapy.Request(k.url, callback=self.parse_article, errback=self.on_error, priority=PRIO_REVISIT,
                              dont_filter=True, headers=headers,
                              meta={"key": key or "", "seen": (k.url,), "article_id": k.article_id,
                                    "lastmod": lastmod, "handle_httpstatus_list": ARTICLE_STATUSES})

    # ------------------------------------------------------------ off the reactor
    def _plan(self, found: list[Found], bad: int = 0, **kw: Any) -> Plan:
        assert self.store is not None
        return Plan(found=found, known=self.store.known(self.source.id, [f.key for f in found]), bad=bad, **kw)

    def _plan_sitemap(self, body: bytes, url: str, limit: int) -> Plan:
        sm = read_sitemap(body, url, limit)
        found, bad = keyed(self.source, ((e.loc, e.lastmod) for e in sm.entries if not e.is_index))
        return self._plan(found, bad + sm.bad, sitemap=sm)

    def _plan_urls(self, urls: Sequence[str]) -> Plan:
        found, bad = keyed(self.source, ((u, None) for u in urls))
        return self._plan(found, bad)

    def _plan_feed(self, body: bytes, url: str) -> Plan:
        links, bad = read_feed(body, url)
        found, bad2 = keyed(self.source, ((u, None) for u in links))
        return self._plan(found, bad + bad2)

    def _plan_listing(self, html: str, url: str) -> Plan:
        links = listing_links(self.source, html, url)
        return self._plan(links.articles, links.bad, listing=links)

    # ------------------------------------------------------------ callbacks
    def parse_robots(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            return
        for url in robots_sitemaps(response.text, response.url):
            if url not in self.roots:
                yield self._sitemap_request(url, root=url)

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Any]:
        root_url = response.meta.get("sitemap_root", response.url)
        root = self.roots.setdefault(root_url, SitemapRoot())
        requested = (response.meta.get("redirect_urls") or [response.url])[0]
        self.sitemaps_done.update((requested, response.url))
        limit = max(0, self.source.limits.max_sitemap_urls - self.sitemap_urls)
        plan = await off_reactor(self._plan_sitemap, response.body, response.url, limit)
        sm = plan.sitemap
        assert sm is not None
        self._stat("discovery/bad_url", plan.bad)
        if not sm.entries:
            root.failed = root.failed or sm.kind is None  # an error page, garbage: what it lists is unknown
            self._stat("discovery/sitemap_empty_or_invalid")
            logger.warning("%s: %s is not a sitemap or lists nothing", self.source.id, response.url)
        if requested == root_url:
            # the sitemap the config (or robots.txt) named: an index or a whole-site urlset may be complete
            root.complete = sm.kind in ("sitemapindex", "urlset", "text") and not sm.news and \
                not partial_by_name(root_url)
        if sm.news:
            self._stat("discovery/sitemap_news")
        if sm.truncated:
            self.sitemap_limited = True
            self._stat("discovery/sitemap_limit_reached")
        for e in sm.entries:
            if e.is_index and e.loc not in self.sitemaps_done and not is_denied(self.source, e.loc):
                if self.sitemap_urls >= self.source.limits.max_sitemap_urls:
                    self.sitemap_limited = True
                    break
                self.sitemaps_done.add(e.loc)  # an index listing itself is read once
                yield self._sitemap_request(e.loc, root=root_url)
        self.sitemap_urls += len(plan.found)
        for f in plan.found:
            k = plan.known.get(f.key)
            if k is not None:
                self.listed.add(k.article_id)
                if f.lastmod is not None:
                    self.signalled.add(k.article_id)
            req = self.article_request(f, k)
            if req is not None:
                yield req

    def on_sitemap_error(self, failure: Any) -> None:
        req = getattr(failure, "request", None)
        root = str((req.meta.get("sitemap_root") if req is not None else None) or getattr(req, "url", ""))
        self.roots.setdefault(root, SitemapRoot()).failed = True
        self.on_error(failure)

    async def parse_feed(self, response: Response) -> AsyncIterator[Any]:
        plan = await off_reactor(self._plan_feed, response.body, response.url)
        self._stat("discovery/bad_url", plan.bad)
        if not plan.found and not plan.bad:
            self._stat("discovery/feed_empty_or_invalid")
            logger.warning("%s: %s is not a feed or lists no article", self.source.id, response.url)
        for f in plan.found:
            req = self.article_request(f, plan.known.get(f.key))
            if req is not None:
                yield req

    def _family(self, family: str) -> Family:
        fam = self.families.get(family)
        if fam is None:
            backfilled_at, clean_run = self.listing_state.get(family, (None, None))
            clean = clean_run is not None and clean_run == self.previous_run
            fam = Family(walk=backfilled_at is None or not clean, backfilled=backfilled_at is not None)
            self.families[family] = fam
            if fam.walk:
                self._stat("discovery/listing_walked_back")
        return fam

    async def parse_listing(self, response: Response) -> AsyncIterator[Any]:
        if not isinstance(response, TextResponse):
            return
        depth = response.meta.get("listing_depth", 0)
        try:
            family = listing_family(response.url)
        except ValueError:
            return
        fam = self._family(family)
        fam.fetched = True
        plan = await off_reactor(self._plan_listing, response.text, response.url)
        links = plan.listing
        assert links is not None
        self._stat("discovery/bad_url", plan.bad)
        new = known = 0
        for f in plan.found:
            k = plan.known.get(f.key)
            known += k is not None
            req = self.article_request(f, k, family)
            if req is not None:
                new += 1
                yield req
        limits = self.source.limits
        here = page_no(response.url)
        for url, link_family, page in links.listings:
            if link_family == family:  # pagination of this listing
                if page <= here:
                    continue
                pages_allowed = self.source.revisit.backfill_listing_pages if fam.walk else limits.max_listing_pages
                if page > min(pages_allowed, limits.max_listing_pages):
                    continue
                if not fam.walk and new == 0 and known > 0:
                    self._stat("discovery/listing_stopped_at_known")
                    continue  # reached what we already have: no need to page further back
                page_req = self._listing_request(url, depth)
                if page_req is not None:
                    page_req.meta["family"] = family
                    yield page_req
            elif depth < limits.max_depth:
                deeper = self._listing_request(url, depth + 1)
                if deeper is not None:
                    yield deeper

    def parse_article(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        article_id = meta.get("article_id")
        fetched = dt.datetime.now(dt.UTC)
        redirects = tuple(meta.get("redirect_urls", ()))
        headers = _headers(response)
        key = meta.get("key", "")
        if response.status in (304, 404, 410) or (redirects and not is_article(self.source, response.url)):
            if article_id is None:
                self._stat(f"discovery/article_status/{response.status}")
                return
            kind = ("not_modified" if response.status == 304 else
                    "gone" if response.status in (404, 410) else "redirected_away")
            self.passed[key] = self.lastmods.get(key, meta.get("lastmod"))
            yield PageStatus(source_id=self.source.id, url=meta["seen"][0], kind=kind, status=response.status,
                             article_id=article_id, fetched_at=fetched, headers=headers, final_url=response.url,
                             lastmod=self.passed[key])
            return
        requested = redirects[0] if redirects else response.request.url if response.request else response.url
        self.passed[key] = self.lastmods.get(key, meta.get("lastmod"))
        yield RawPage(source_id=self.source.id, url=requested,
                      final_url=response.url, status=response.status, headers=headers, body=response.body,
                      fetched_at=fetched, known_article_id=article_id,
                      seen_urls=(*meta.get("seen", ()), *sorted(self.aliases.get(key, ()))),
                      redirected_from=redirects,
                      lastmod=self.passed[key])

    def on_error(self, failure: Any) -> None:
        """Counted in the stats by Scrapy (errors by kind in the summary); a listing 404 is routine.  A listing
        that lost a page (its own, or an article it led to) is walked back again next time."""
        req = getattr(failure, "request", None)
        family = req.meta.get("family") if req is not None else None
        if req is not None and req.callback == self.parse_listing and family is None:
            try:
                family = listing_family(req.url)
            except ValueError:
                family = None
        if family is not None:
            self._family(family).failed = True
        logger.info("%s: %s failed: %s", self.source.id, getattr(req, "url", "?"), failure.getErrorMessage())

    # ------------------------------------------------------------ revisits, once everything else is done
    def on_idle(self, spider: Any = None) -> None:
        if self._revisit_stage == "scheduled":
            return
        if self._revisit_stage == "waiting":
            self._revisit_stage = "planning"
            task = asyncio.ensure_future(self._schedule_revisits())
            task.add_done_callback(self._revisits_scheduled)
        raise DontCloseSpider

    def _revisits_scheduled(self, task: asyncio.Future[None]) -> None:
        self._revisit_stage = "scheduled"
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: picking revisits failed: %s", self.source.id, task.exception())
        # with no revisit to crawl, nothing would ask before the heartbeat: every crawl would end up to 5 s late
        wake_engine(self.crawler.engine)

    def sitemaps_complete(self, live: int) -> bool:
        """Whether this run's sitemaps listed the whole site, so that a live article missing from them may
        have been removed.  Never with a partial map only (Google News, "latest N"), a sitemap that failed or
        was cut at max_sitemap_urls, or when they list fewer than half the live articles archived."""
        setting = self.source.sitemaps_complete
        if setting is False or self.sitemap_limited or not self.roots:
            return False
        usable = [r for r in self.roots.values() if not r.failed and (setting or r.complete)]
        if not usable:
            return False
        return bool(setting) or len(self.listed) >= COMPLETE_SHARE * live

    def _pick(self) -> list[tuple[KnownArticle, str, str | None]]:
        assert self.store is not None
        listed: set[int] | None = None
        if self.roots and self.sitemaps_complete(self.store.live_count(self.source.id)):
            listed = self.listed
        elif self.roots:
            self._stat("discovery/sitemaps_partial")
        # revisit.enabled = false: nothing is due by age (due_by_age); other reasons still count
        picked = self.store.pick_revisits(self.source, self.now, self.revisits_left, self.revisited, listed,
                                          self.signalled)
        return [(k, why, source_key(self.source, k.url)) for k, why in picked]

    async def _schedule_revisits(self) -> None:
        engine = self.crawler.engine
        for req in self.deferred:
            engine.crawl(req)
        self.deferred.clear()
        if self.revisits_left <= 0:
            return
        for k, why, key in await off_reactor(self._pick):
            revisit = self._revisit(k, why, key)
            if revisit is not None:
                if key:
                    self.requested.add(key)
                engine.crawl(revisit)

    # ------------------------------------------------------------ the end
    async def closed(self, reason: str) -> None:
        """The archive learns the sitemap <lastmod>s it was not given with a page (after the pipelines have
        stored every page: Scrapy closes them first).  A crawl that ended on its own (not killed, not cut by
        its page budget) records which listings it walked without loss: the next crawl may stop those at known
        articles."""
        if self.run_id is None or not self.db_url:
            return
        from pipelines.pipeline import archive_session_factory, writer

        factory = archive_session_factory(self.db_url)
        if self.learnt:
            await asyncio.wrap_future(writer().submit(learn_lastmods, factory, self.source.id, self.learnt))
        if reason != "finished":
            return
        # fetched and nothing lost: walked to its stop (paged back as far as a backfill goes, when walking)
        walked = {f: True for f, st in self.families.items() if st.fetched and not st.failed}
        if walked:
            await asyncio.wrap_future(writer().submit(
                save_listing_state, factory, self.source.id, self.run_id, walked, dt.datetime.now(dt.UTC)))
