"""Run crawls: one Scrapy process, one spider per source, run records before and after, a live display."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config.settings import Settings
from config.sources import Source
from crawler.locks import source_locks
from crawler.settings import base_settings, source_settings
from pipelines.workers import ExtractorPool
from storage import repo
from storage.db import make_engine, make_session_factory, retrying, sqlite_path
from storage.migrate import ensure_current
from storage.models import CrawlRun

logger = logging.getLogger(__name__)

FINISHED_REASONS = {"finished", "closespider_pagecount"}
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 3


@dataclass(slots=True)
class SourceResult:
    source_id: str
    run_id: int
    status: str = "running"
    finish_reason: str | None = None
    pages: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: int = 0
    removed: int = 0
    moved: int = 0
    skipped: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0


# discovery problems worth a line in the summary (a malformed link skipped, a sitemap or feed that is not one)
DISCOVERY_ERRORS = {"discovery/bad_url", "discovery/sitemap_empty_or_invalid", "discovery/feed_empty_or_invalid"}


def summarize(source_id: str, run_id: int, stats: dict[str, Any]) -> SourceResult:
    """Counts and errors-by-kind from a crawler's stats."""
    r = SourceResult(source_id, run_id)
    r.pages = int(stats.get("response_received_count", 0))
    for kind in ("new", "updated", "unchanged", "not_modified", "removed", "moved", "skipped"):
        setattr(r, kind, int(stats.get(f"archive/{kind}", 0)))
    errors: dict[str, int] = {}
    for k, v in stats.items():
        if k.startswith("downloader/exception_type_count/"):
            name = k.rsplit("/", 1)[1].rsplit(".", 1)[-1]
            errors[f"network:{name}"] = errors.get(f"network:{name}", 0) + int(v)
        elif k.startswith("httperror/response_ignored_status_count/"):
            errors[f"http_{k.rsplit('/', 1)[1]}"] = int(v)
        elif k.startswith("archive/errors/"):
            errors[f"archive:{k.rsplit('/', 1)[1]}"] = int(v)
        elif k == "retry/max_reached":
            errors["retries_exhausted"] = int(v)
        elif k.startswith("archive/skipped/"):
            errors[f"skipped:{k.rsplit('/', 1)[1]}"] = int(v)
        elif k.startswith("discovery/article_status/"):  # a new article URL that answered 404, 410...
            errors[f"article_http_{k.rsplit('/', 1)[1]}"] = int(v)
        elif k in DISCOVERY_ERRORS:  # bad_url, sitemap_empty_or_invalid...
            errors[k.split("/", 1)[1]] = int(v)
        elif k.startswith("robots/"):  # robots:server_error, robots:challenge, robots:unreachable...
            errors[k.replace("/", ":")] = int(v)
    r.errors = errors
    r.finish_reason = stats.get("finish_reason")
    start, end = stats.get("start_time"), stats.get("finish_time")
    if start and end:
        r.elapsed = (end - start).total_seconds()
    return r


def run_status(finish_reason: str | None) -> str:
    if finish_reason in FINISHED_REASONS:
        return "finished"
    if finish_reason == "shutdown":
        return "interrupted"
    return "failed"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@retrying()
def reap_stale_runs(factory: Any) -> int:
    """Runs left 'running' by a process that no longer exists (kill -9, power loss) are marked killed."""
    from sqlalchemy import select

    n = 0
    with factory.begin() as s:
        for run in s.execute(select(CrawlRun).where(CrawlRun.status == "running")).scalars():
            if not _pid_alive(run.pid):
                run.status, run.ended_at, run.error = "killed", repo.utcnow(), "the crawl process disappeared"
                n += 1
    return n


def open_archive(settings: Settings) -> Any:
    """Engine for the archive, created and migrated when new (the crawl is the first thing users run)."""
    path = sqlite_path(settings.db_url)
    engine = make_engine(settings.db_url)
    ensure_current(engine)
    if path is not None and path.exists():
        os.chmod(path, 0o600)  # archives can hold what a site later removed: not world-readable
    return engine


def crawl(settings: Settings, sources: list[Source], trigger: str = "manual",
          progress: Callable[[list[tuple[Source, Any]]], Any] | None = None,
          log_level: str = "WARNING") -> list[SourceResult]:
    """Crawl ``sources`` in parallel in this process (Scrapy's reactor runs once per process).

    Each source's crawl lock is held for the whole crawl; a source another process is crawling (the
    scheduler, or a user) is skipped and recorded as a 'skipped' run.
    """
    engine = open_archive(settings)
    factory = make_session_factory(engine)
    reap_stale_runs(factory)
    with source_locks(settings.db_url, engine, [src.id for src in sources]) as busy:
        ready = [src for src in sources if src.id not in busy]
        for sid, why in busy.items():
            logger.warning("%s: skipped: %s", sid, why)
        results = _record_skipped(factory, [src for src in sources if src.id in busy], busy, trigger) if busy else []
        if ready:
            results += _crawl(settings, factory, ready, trigger, progress, log_level)
    engine.dispose()
    order = {src.id: i for i, src in enumerate(sources)}
    return sorted(results, key=lambda r: order[r.source_id])


@retrying()
def _record_skipped(factory: Any, sources: list[Source], why: dict[str, str], trigger: str) -> list[SourceResult]:
    results = []
    with factory.begin() as s:
        repo.ensure_sources(s, [(src.id, src.name) for src in sources])
        for src in sources:
            run = repo.start_run(s, src.id, trigger, pid=os.getpid())
            repo.finish_run(s, run.id, "skipped", exit_code=0, error=why[src.id])
            results.append(SourceResult(src.id, run.id, status="skipped", finish_reason=why[src.id]))
    return results


def _crawl(settings: Settings, factory: Any, sources: list[Source], trigger: str,
           progress: Callable[[list[tuple[Source, Any]]], Any] | None, log_level: str) -> list[SourceResult]:
    from scrapy.crawler import CrawlerProcess

    from crawler.spider import SourceSpider

    with factory.begin() as s:
        repo.ensure_sources(s, [(src.id, src.name) for src in sources])
        run_ids = {src.id: repo.start_run(s, src.id, trigger, pid=os.getpid()).id for src in sources}
    process = CrawlerProcess(base_settings(settings, log_level))
    crawlers = []
    now = dt.datetime.now(dt.UTC)
    for src in sources:
        # the spider asks the archive what it knows as it finds URLs: nothing per article is loaded here
        spidercls = type(f"SourceSpider_{src.id}", (SourceSpider,), {"custom_settings": source_settings(src)})
        crawler = process.create_crawler(spidercls)
        process.crawl(crawler, source=src, run_id=run_ids[src.id], now=now)
        crawlers.append((src, crawler))
    t0 = time.monotonic()
    display = progress(crawlers) if progress else None
    try:
        if display is not None:
            with display:
                process.start()
        else:
            process.start()
    finally:
        ExtractorPool.shared().close()
    results = []
    for src, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        r = summarize(src.id, run_ids[src.id], stats)
        r.status = run_status(r.finish_reason)
        r.elapsed = r.elapsed or time.monotonic() - t0
        results.append(r)
    _record_results(factory, results)
    return results


@retrying()
def _record_results(factory: Any, results: list[SourceResult]) -> None:
    with factory.begin() as s:
        for r in results:
            repo.finish_run(
                s, r.run_id, r.status, exit_code=0 if r.status == "finished" else 1,
                counts={"pages_fetched": r.pages, "articles_new": r.new, "articles_updated": r.updated,
                        "articles_unchanged": r.unchanged + r.not_modified, "articles_removed": r.removed,
                        "pages_skipped": r.skipped},
                errors=r.errors, error=None if r.status == "finished" else f"finish reason: {r.finish_reason}")


def exit_code(results: list[SourceResult]) -> int:
    if any(r.status == "failed" for r in results):
        return EXIT_FAILED
    if any(r.status == "interrupted" for r in results):
        return EXIT_INTERRUPTED
    return EXIT_OK
