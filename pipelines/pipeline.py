"""The Scrapy item pipeline: pages stored on fetch, extracted in the worker pool, archived by one writer.

Each page takes two transactions in the archive-writer thread: ``write_fetched`` stores it pending (or, the
same bytes as its article's latest capture, records it unchanged), and ``write_page`` archives the extraction
(``pipelines.archive.archive_page``), settling that capture.  ``ArchivePipeline.open_spider`` archives what an
earlier crawl of the source left pending before the crawl fetches anything.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config.sources import Source
from pipelines import template_store
from pipelines.archive import apply_status, archive_page, archive_same_bytes
from pipelines.items import ArchiveOutcome, Extracted, PageStatus, RawPage, Skipped
from pipelines.refine import refine_run
from pipelines.workers import ExtractionStopped, ExtractorPool
from pipelines.writer import ArchiveWriter
from storage import pending
from storage.db import db_error_line, is_transient, make_engine, make_session_factory, retrying

logger = logging.getLogger(__name__)

# fetched pages allowed to wait for their pending capture's commit before the engine stops sending requests
UNSTORED_LIMIT = 2


Fetched = tuple[ArchiveOutcome | None, int | None]


def store_fetched(session: Session, source: Source, raw: RawPage, run_id: int | None) -> Fetched:
    """A page just fetched: the same bytes as its article's latest capture are recorded ``unchanged`` at once
    (``archive_same_bytes``; a redirected or non-200 page always goes the full way, since a move is told from
    the page); any other page is stored pending, and its capture id returned."""
    sha = hashlib.sha256(raw.body).hexdigest()  # once, for the comparison and the capture
    if not raw.redirected_from and raw.status == 200 and raw.body:
        same = archive_same_bytes(session, source, raw, sha, run_id)
        if same is not None:
            return same, None
    cap_id = pending.store(session, source_id=source.id, run_id=run_id, url=raw.url, final_url=raw.final_url,
                           status=raw.status, headers=raw.headers, fetched_at=raw.fetched_at, body=raw.body,
                           page=_page_facts(raw), sha256=sha)
    return None, cap_id


def write_fetched(factory: sessionmaker[Session], source: Source, raw: RawPage, run_id: int | None) -> Fetched:
    """``store_fetched`` in its own transaction."""
    return write_fetched_many(factory, [(source, raw, run_id)])[0]


@retrying()
def write_fetched_many(factory: sessionmaker[Session], pages: list[tuple[Any, ...]]) -> list[Fetched]:
    """``store_fetched`` of several pages in one transaction (the writer's group commit)."""
    with factory.begin() as session:
        return [store_fetched(session, *args) for args in pages]


def _page_facts(raw: RawPage) -> dict[str, Any]:
    """What a pending page needs besides its capture to be archived later as it would have been now."""
    return {"seen_urls": list(raw.seen_urls), "redirected_from": list(raw.redirected_from),
            "known_article_id": raw.known_article_id,
            "lastmod": raw.lastmod.isoformat() if raw.lastmod is not None else None}


def _raw_page(st: pending.Stored) -> RawPage:
    p = st.page
    lastmod = p.get("lastmod")
    return RawPage(source_id=st.source_id, url=st.url, final_url=st.final_url, status=st.status,
                   headers=st.headers, body=st.body, fetched_at=st.fetched_at,
                   seen_urls=tuple(p.get("seen_urls") or ()), redirected_from=tuple(p.get("redirected_from") or ()),
                   known_article_id=p.get("known_article_id"),
                   lastmod=dt.datetime.fromisoformat(lastmod) if lastmod else None)


@retrying()
def pending_pages(factory: sessionmaker[Session], source_id: str) -> list[int]:
    with factory.begin() as session:
        return pending.pending_ids(session, source_id)


@retrying()
def load_pending(factory: sessionmaker[Session], capture_id: int) -> RawPage | None:
    with factory.begin() as session:
        st = pending.load(session, capture_id)
        return _raw_page(st) if st is not None else None


def wake_engine(engine: Any) -> None:
    """Have Scrapy's engine look for work now: it would look again only on its next response or its heartbeat
    (every 5 s), so an unpaused engine, or an idle spider given nothing to crawl, would wait up to 5 s."""
    nextcall = getattr(getattr(engine, "_slot", None), "nextcall", None)
    if nextcall is not None:
        nextcall.schedule()


class ArchivePipeline:
    """Extract in the worker pool, write in the single archive-writer thread; count every outcome."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.db_url: str = crawler.settings.get("VNARCHIVE_DB")
        if not self.db_url:
            raise NotConfigured("VNARCHIVE_DB is not set")
        self.pool = ExtractorPool.shared()
        self.factory = archive_session_factory(self.db_url)
        self._closing = False
        self._close_task: asyncio.Future[None] | None = None
        self._unstored = 0  # fetched pages whose pending capture is not yet committed
        self._paused_by_us = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        spider = self.crawler.spider
        source: Source = spider.source
        try:
            if isinstance(item, PageStatus):
                outcome = await asyncio.wrap_future(writer().submit(write_status, self.factory, item, spider.run_id))
            elif isinstance(item, RawPage):
                # stored at once (pending); the same bytes as the article's latest capture: unchanged, no
                # extraction (hashed in the writer)
                with self._storing():
                    same, capture_id = await asyncio.wrap_future(writer().submit(
                        write_fetched, self.factory, source, item, spider.run_id, urgent=True,
                        batch=write_fetched_many))
                outcome = same if same is not None else await self._archive(item, capture_id)
            else:
                return item
        except ExtractionStopped:
            # interrupted (crawler.runner stops the pool): not an archive error; the page is stored pending
            # (unless the stop came before that), and the next crawl archives it without fetching it again
            self.stats.inc_value("archive/interrupted")
            raise DropItem("interrupted before it was extracted", log_level="INFO") from None
        except Exception as e:
            # stored pending (or, if that write failed, not at all): a later crawl archives or fetches it again
            logger.error("could not archive %s: %s", item.url, e)
            self.stats.inc_value(f"archive/errors/{type(e).__name__}")
            if not is_transient(e) and not self._closing:
                # the archive is unusable (disk full, read-only...): stop instead of failing every page;
                # scheduled, not awaited, since closing waits for this very item
                self._closing = True
                self.stats.set_value("archive/error", db_error_line(e)[:300])
                self._close_task = asyncio.ensure_future(
                    self.crawler.engine.close_spider_async(reason="archive_error"))
            raise DropItem(f"archive write failed: {e}") from None
        self._count(outcome)
        return outcome

    @contextlib.contextmanager
    def _storing(self) -> Iterator[None]:
        """A fetched page on its way to the archive: past UNSTORED_LIMIT of them, the engine sends no new
        request until they are stored (pending), so a kill loses the fetching of at most that many pages
        (never a page: they are fetched again).  A write that is a network round trip and a server commit
        (PostgreSQL) would otherwise let downloads run ahead of storage."""
        engine = self.crawler.engine
        self._unstored += 1
        if self._unstored > UNSTORED_LIMIT and not engine.paused:
            engine.pause()
            self._paused_by_us = True
        try:
            yield
        finally:
            self._unstored -= 1
            if self._paused_by_us and self._unstored <= UNSTORED_LIMIT:
                self._paused_by_us = False
                engine.unpause()
                wake_engine(engine)

    def _count(self, outcome: ArchiveOutcome) -> None:
        self.stats.inc_value(f"archive/{outcome.kind}")
        if outcome.reason:
            self.stats.inc_value(f"archive/{outcome.kind}/{outcome.reason}")
        if outcome.extra.get("moved"):
            self.stats.inc_value("archive/moved")

    async def _archive(self, raw: RawPage, capture_id: int | None) -> ArchiveOutcome:
        spider = self.crawler.spider
        source: Source = spider.source
        ctype = next((v for k, v in raw.headers.items() if k.lower() == "content-type"), None)
        # the worker applies the source's template too, read from the archive (not the writer's work)
        result = await self.pool.extract(raw.body, raw.final_url, ctype, source.extraction,
                                         archive=(self.db_url, source.id))
        return await asyncio.wrap_future(writer().submit(
            write_page, self.factory, source, raw, result, spider.run_id, capture_id, batch=write_pages))

    async def open_spider(self) -> None:
        """Before the crawl fetches anything: the pages an earlier crawl of the source fetched and stored but
        did not archive (it was killed, or its archive writes failed) are archived from their captures, so
        discovery finds them known and does not fetch them again."""
        source: Source = self.crawler.spider.source
        try:
            ids = await asyncio.wrap_future(writer().submit(pending_pages, self.factory, source.id))
        except Exception as e:  # the crawl goes on; the pages stay pending for the next one
            logger.error("%s: could not read the pages left pending by an earlier crawl: %s", source.id, e)
            return
        if not ids:
            return
        logger.info("%s: archiving %d page(s) an earlier crawl fetched but did not archive", source.id, len(ids))
        gate = asyncio.Semaphore(max(2, 2 * self.pool.workers))  # a few bodies in memory at once, not all

        async def one(capture_id: int) -> None:
            async with gate:
                raw = await asyncio.wrap_future(writer().submit(load_pending, self.factory, capture_id))
                if raw is None:  # archived meanwhile
                    return
                try:
                    outcome = await self._archive(raw, capture_id)
                except ExtractionStopped:
                    return  # interrupted: still pending
                except Exception as e:
                    logger.error("could not archive the pending page %s: %s", raw.url, e)
                    self.stats.inc_value(f"archive/errors/{type(e).__name__}")
                    return
                self.stats.inc_value("archive/resumed")
                self._count(outcome)  # a moved page counts as moved here too

        await asyncio.gather(*(one(i) for i in ids))

    async def close_spider(self) -> None:
        """Pages archived before the source's template was learnt are re-extracted with it (same captures)."""
        spider = self.crawler.spider
        if spider.run_id is None or self._closing or self.pool.stopping:  # interrupted: reextract can refine
            return
        try:
            # off the writer thread: only the writes go there, and the check runs in the extraction workers
            n = await asyncio.to_thread(refine_run, self.factory, spider.source, spider.run_id, write=write_here,
                                        pool=self.pool, db_url=self.db_url)
        except Exception as e:  # what was archived stays archived; only the refinement is lost
            logger.error("%s: refining this run's versions with the learnt template failed: %s", spider.source.id, e)
            return
        self.stats.set_value("archive/template_refined", n)


_writer: ArchiveWriter | None = None
_writer_lock = threading.Lock()
_factories: dict[str, sessionmaker[Session]] = {}


def writer() -> ArchiveWriter:
    """The one thread that writes to the archive (``pipelines.writer``); what is queued at exit still runs."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = ArchiveWriter()
            atexit.register(_writer.shutdown)
        return _writer


def write_here(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in the archive writer's thread, waited for (from any thread but the reactor's)."""
    return writer().submit(fn, *args).result()


def archive_session_factory(db_url: str) -> sessionmaker[Session]:
    if db_url not in _factories:
        _factories[db_url] = make_session_factory(make_engine(db_url))
    return _factories[db_url]


def store_page(session: Session, source: Source, raw: RawPage, result: Extracted | Skipped, run_id: int | None,
               capture_id: int | None = None) -> ArchiveOutcome:
    # the template learnt from the source's earlier pages cleans the version (archive_page); a new
    # article's page then teaches it, in the same transaction
    outcome = archive_page(session, source, raw, result, run_id, capture_id)
    if outcome.kind == "new" and isinstance(result, Extracted):
        template_store.learn_page(session, source.id, result, raw.fetched_at)
    return outcome


def write_page(factory: sessionmaker[Session], source: Source, raw: RawPage, result: Extracted | Skipped,
               run_id: int | None, capture_id: int | None = None) -> ArchiveOutcome:
    """``store_page`` in its own transaction."""
    return write_pages(factory, [(source, raw, result, run_id, capture_id)])[0]


# a unique-key race with another writer (another process added "version N" first) resolves on retry
@retrying(also=(IntegrityError,))
def write_pages(factory: sessionmaker[Session], pages: list[tuple[Any, ...]]) -> list[ArchiveOutcome]:
    """``store_page`` of several pages in one transaction (the writer's group commit): one page after the
    other, each seeing what the ones before it wrote, as separate transactions would."""
    with factory.begin() as session:
        return [store_page(session, *args) for args in pages]


@retrying()
def write_status(factory: sessionmaker[Session], st: PageStatus, run_id: int | None) -> ArchiveOutcome:
    with factory.begin() as session:
        return apply_status(session, st, run_id)
