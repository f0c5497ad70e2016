"""Run crawls: one Scrapy process, one spider per source, run records before and after, a live display.

Outcomes are honest: a run that fetched nothing, or gave up on most of what it asked for, is ``failed`` with
the reason in plain words (the summary says "nothing could be reached"), whatever Scrapy's own finish reason;
every article URL given up on is recorded (``storage.failures``) and asked for again by the next crawls.

Interrupts are bounded: the first SIGINT/SIGTERM abandons the extractions in flight and stops the crawlers
(they keep what they archived; the runs are ``interrupted``); a second signal, or STOP_GRACE_S without an end,
forces the stop: the runs are recorded and the process exits at once.  Extraction workers ignore the signals
and die with this process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import logging.handlers
import os
import select
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import Settings
from config.sources import Source
from crawler import memory
from crawler.discovery import is_article
from crawler.frontier import FRONTIER_ERROR, FrontierDirs
from crawler.locks import source_locks
from crawler.logtime import FORMAT, VietnamTimeFormatter
from crawler.middlewares import outcomes_of
from crawler.settings import base_settings, source_settings
from pipelines.workers import ExtractorPool
from storage import failures, repo
from storage.db import create_private_file, make_engine, make_session_factory, retrying, sqlite_path
from storage.migrate import ensure_current
from storage.models import CrawlRun
from storage.reserve import DiskReserve, pid_alive

logger = logging.getLogger(__name__)

FINISHED_REASONS = {"finished", "closespider_pagecount"}
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 3
STOP_GRACE_S = 15.0  # after a first SIGINT/SIGTERM: to finish the requests and writes in flight
RECORD_TIMEOUT_S = 5.0  # a forced stop waits this long for the runs to be recorded, then exits anyway
MOST_FAILED = 0.5  # more than this share of a run's requests given up on: the run failed


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
    failure: str | None = None  # why the run failed or stopped, in plain words
    log_file: str | None = None  # where Scrapy's warnings and tracebacks went, when not to the terminal


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
        elif k == "retry/deferred":
            errors["deferred_retry_after"] = int(v)
        elif k == "fetch/too_large":  # over DOWNLOAD_MAXSIZE, announced, streamed or decompressed (FAULTS D1, D3)
            errors["too_large"] = int(v)
        elif k.startswith("archive/skipped/"):
            errors[f"skipped:{k.rsplit('/', 1)[1]}"] = int(v)
        elif k.startswith("scope/"):
            errors[f"refused:{k.rsplit('/', 1)[1]}"] = int(v)
        elif k.startswith("discovery/article_status/"):  # a new article URL that answered 404, 410...
            errors[f"article_http_{k.rsplit('/', 1)[1]}"] = int(v)
        elif k in DISCOVERY_ERRORS:  # bad_url, sitemap_empty_or_invalid...
            errors[k.split("/", 1)[1]] = int(v)
        elif k.startswith("robots/"):  # robots:server_error, robots:challenge, robots:unreachable...
            errors[k.replace("/", ":")] = int(v)
    r.errors = errors
    on_disk, in_memory = int(stats.get("scheduler/enqueued/disk", 0)), int(stats.get("scheduler/enqueued/memory", 0))
    logger.info("%s: %d requests waited on disk, %d in memory", source_id, on_disk, in_memory)
    if stats.get("scheduler/unserializable"):  # every request the spider makes pickles (tests/test_frontier.py)
        logger.warning("%s: %d requests could not be pickled and were held in memory", source_id,
                       int(stats["scheduler/unserializable"]))
    r.finish_reason = stats.get("finish_reason")
    start, end = stats.get("start_time"), stats.get("finish_time")
    if start and end:
        r.elapsed = (end - start).total_seconds()
    return r


def _kinds(given_up: Counter[str]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} ×{n}" for k, n in given_up.most_common(4))


def judge(stats: dict[str, Any], given_up: Counter[str] | None = None) -> str | None:
    """Why a crawl that Scrapy finished must count as failed, in plain words; None when it did its work.

    Failed: nothing was fetched (every request refused, unanswered or answered with an error), or more than
    half of the requests were given up on (after their retries) or deferred."""
    kinds = given_up or Counter()
    ok = int(stats.get("fetch/ok", 0))
    lost = sum(int(stats.get(f"fetch/{k}", 0)) for k in ("given_up", "deferred", "failed"))
    answered_badly = int(stats.get("fetch/http_error", 0))
    total = ok + lost + answered_badly
    refused = sum(int(v) for k, v in stats.items() if k.startswith("scope/"))
    if ok == 0:
        if total == 0 and refused:
            return (f"nothing could be reached: all {refused} requests were refused (outside allowed_domains, "
                    "or internal addresses)")
        if total == 0:
            return "nothing could be reached: no request was made"
        why = [f"{lost} given up" + (f" ({_kinds(kinds)})" if kinds else "")] if lost else []
        if answered_badly:
            why.append(f"{answered_badly} answered with an HTTP error")
        return f"nothing could be reached: {total} requests, " + ", ".join(why)
    if lost > MOST_FAILED * total:
        return f"most requests failed: {lost} of {total} given up" + (f" ({_kinds(kinds)})" if kinds else "")
    return None


def run_status(finish_reason: str | None, stats: dict[str, Any] | None = None,
               given_up: Counter[str] | None = None) -> tuple[str, str | None]:
    """(status, why) of a crawl from its finish reason and what its requests became."""
    if finish_reason == "shutdown":
        return "interrupted", "stopped by a signal (SIGINT/SIGTERM); what was archived is kept"
    if finish_reason == "archive_error":
        return "failed", f"the archive could not be written: {(stats or {}).get('archive/error', 'unknown error')}"
    if finish_reason == FRONTIER_ERROR:
        return "failed", (f"the crawl's queue of requests on disk (in TMPDIR) could not be read back: "
                          f"{(stats or {}).get('scheduler/disk_lost', 'some')} requests were not sent; "
                          "the next crawl finds them again")
    if finish_reason not in FINISHED_REASONS:
        return "failed", f"finish reason: {finish_reason}"
    why = judge(stats or {}, given_up)
    return ("failed", why) if why else ("finished", None)


@retrying()
def reap_stale_runs(factory: Any) -> int:
    """Runs left 'running' by a process that no longer exists (kill -9, power loss) are marked killed.  Only
    this host's runs: a pid says nothing about another machine's processes (crawler.daemon.worker reaps those)."""
    from sqlalchemy import or_, select

    from config.settings import host_name

    n = 0
    with factory.begin() as s:
        for run in s.execute(select(CrawlRun).where(CrawlRun.status == "running", or_(
                CrawlRun.host == host_name(), CrawlRun.host.is_(None)))).scalars():
            if not pid_alive(run.pid):
                run.status, run.ended_at, run.error = "killed", repo.utcnow(), "the crawl process disappeared"
                n += 1
    return n


def load_retries(factory: Any, source: Source) -> list[str]:
    """Article URLs earlier crawls gave up on, to ask for again (within the source's revisit budget)."""
    with factory() as s:
        return failures.to_retry(s, source.id, repo.utcnow(), max(1, source.revisit.max_per_run))


def open_archive(settings: Settings) -> Any:
    """Engine for the archive, created and migrated when new (the crawl is the first thing users run).

    A new SQLite archive is created readable by its owner only (archives can hold what a site later removed);
    an existing file's permissions are never changed."""
    path = sqlite_path(settings.db_url)
    if path is not None:
        create_private_file(path)
    engine = make_engine(settings.db_url)
    ensure_current(engine)
    return engine


# ---------------------------------------------------------------- logging

def default_log_file(settings: Settings) -> Path:
    """Where a crawl with a live display logs: beside an SQLite archive, else the per-user state directory."""
    db = sqlite_path(settings.db_url)
    if db is not None:
        return db.with_name(db.name + ".log")
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "vnarchive" / "crawl.log"


class _OneLine(VietnamTimeFormatter):
    """A record on one line: the exception's type and message, never its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        exc, record.exc_info, record.exc_text = record.exc_info, None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info = exc
        if exc and exc[1] is not None:
            said = str(exc[1]).splitlines()[0] if str(exc[1]) else ""
            if said not in text:
                text += f" ({type(exc[1]).__name__}: {said})" if said else f" ({type(exc[1]).__name__})"
        return text.splitlines()[0] if text else text




@contextlib.contextmanager
def crawl_logging(verbose: bool, log_file: Path | None) -> Iterator[Path | None]:
    """Where the crawl's log goes: ``-v`` everything from INFO on to stderr; with a live display warnings and
    tracebacks to ``log_file`` only (the display stays readable); otherwise warnings to stderr, one line each
    (a scheduler's child: the daemon's log)."""
    root = logging.getLogger()
    handlers: list[logging.Handler] = []
    used: Path | None = None
    if verbose:
        h: logging.Handler = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.INFO)
        h.setFormatter(VietnamTimeFormatter(FORMAT))
        handlers.append(h)
    elif log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            create_private_file(log_file)
            h = logging.handlers.RotatingFileHandler(log_file, maxBytes=10 * 1024 * 1024, backupCount=3,
                                                     encoding="utf-8")
            h.setLevel(logging.WARNING)
            h.setFormatter(VietnamTimeFormatter(FORMAT))
            handlers.append(h)
            used = log_file
        except OSError:
            handlers.append(logging.NullHandler())  # no log at all rather than tracebacks over the display
    else:
        h = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.WARNING)
        h.setFormatter(_OneLine(FORMAT))
        handlers.append(h)
    old_level = root.level
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for h in handlers:
        root.addHandler(h)
    try:
        yield used
    finally:
        for h in handlers:
            root.removeHandler(h)
            h.close()
        root.setLevel(old_level)


# ---------------------------------------------------------------- interrupts

class Stopper:
    """SIGINT/SIGTERM during a crawl.  The handler only writes a byte to a pipe (safe whatever the interrupted
    code held); a watcher thread does the rest: first signal, abandon the extractions and stop the crawlers
    gracefully; a second signal, or ``grace`` seconds later, ``force`` (record the runs, exit now)."""

    def __init__(self, force: Callable[[str], None], grace: float = STOP_GRACE_S) -> None:
        self.force, self.grace = force, grace
        self.signame: str | None = None
        self.graceful: Callable[[], None] | None = None  # set once the crawlers exist
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self._old: dict[int, Any] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="crawl-stopper", daemon=True)

    @property
    def requested(self) -> bool:
        return self.signame is not None

    def __enter__(self) -> Stopper:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        for sig, old in self._old.items():
            signal.signal(sig, old)
        with contextlib.suppress(OSError):
            os.write(self._w, b"q")

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signame is None:
            self.signame = signal.Signals(signum).name
        with contextlib.suppress(OSError):
            os.write(self._w, b"s")

    def _wait(self, timeout: float | None) -> bytes:
        ready, _, _ = select.select([self._r], [], [], timeout)
        return os.read(self._r, 1) if ready else b""

    def _watch(self) -> None:
        if self._wait(None) != b"s" or self._done.is_set():
            return
        logger.warning("received %s: stopping (finishing what is in flight, at most %.0f s; again to force)",
                       self.signame, self.grace)
        ExtractorPool.shared().stop()  # pages not extracted yet are fetched again by a later crawl
        if self.graceful is not None:
            self.graceful()
        deadline = time.monotonic() + self.grace
        while not self._done.is_set():
            left = deadline - time.monotonic()
            got = self._wait(max(0.0, left)) if left > 0 else b""
            if got == b"q" or self._done.is_set():
                return
            if got == b"s" or left <= 0:
                why = "a second signal" if got == b"s" else f"still running {self.grace:.0f} s after {self.signame}"
                logger.warning("%s: forcing the stop", why)
                self.force(why)
                return


# ---------------------------------------------------------------- crawling

def crawl(settings: Settings, sources: list[Source], trigger: str = "manual",
          progress: Callable[[list[tuple[Source, Any]]], Any] | None = None,
          log_level: str = "WARNING", log_file: Path | None = None) -> list[SourceResult]:
    """Crawl ``sources`` in parallel in this process (Scrapy's reactor runs once per process).

    Each source's crawl lock is held for the whole crawl; a source another process is crawling (the
    scheduler, or a user) is skipped and recorded as a 'skipped' run.  With a live display (``progress``),
    the log goes to ``log_file`` (default: beside the archive) instead of the terminal.
    """
    verbose = log_level.upper() in ("INFO", "DEBUG")
    target = (log_file or default_log_file(settings)) if progress is not None and not verbose else None
    memory.limit_arenas()  # before the writer's and Scrapy's threads start
    with crawl_logging(verbose, target) as used, DiskReserve(sqlite_path(settings.db_url)) as reserve:
        engine = open_archive(settings)
        factory = make_session_factory(engine)
        reap_stale_runs(factory)
        # room for recording how the runs end even when the crawl fills the disk
        reserve.take()
        with source_locks(settings.db_url, engine, [src.id for src in sources]) as busy:
            ready = [src for src in sources if src.id not in busy]
            for sid, why in busy.items():
                logger.warning("%s: skipped: %s", sid, why)
            results = _record_skipped(factory, [s for s in sources if s.id in busy], busy, trigger) if busy else []
            if ready:
                results += _crawl(settings, factory, ready, trigger, progress, log_level, reserve)
        engine.dispose()
    for r in results:
        r.log_file = str(used) if used else None
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


def _stats(crawler: Any) -> dict[str, Any]:
    for _ in range(3):  # read from another thread on a forced stop: the dict may change under us
        try:
            return dict(crawler.stats.get_stats()) if crawler.stats else {}
        except RuntimeError:
            time.sleep(0.01)
    return {}


def _results(crawlers: list[tuple[Source, Any]], run_ids: dict[str, int], t0: float,
             forced: str | None = None) -> list[SourceResult]:
    results = []
    for src, crawler in crawlers:
        stats = _stats(crawler)
        out = outcomes_of(crawler)
        r = summarize(src.id, run_ids[src.id], stats)
        if forced is not None:
            r.status, r.failure = "interrupted", f"stopped by a signal, forced ({forced})"
        else:
            r.status, r.failure = run_status(r.finish_reason, stats, Counter(out.kinds))
        r.elapsed = r.elapsed or time.monotonic() - t0
        results.append(r)
    return results


def _crawl(settings: Settings, factory: Any, sources: list[Source], trigger: str,
           progress: Callable[[list[tuple[Source, Any]]], Any] | None, log_level: str,
           reserve: DiskReserve) -> list[SourceResult]:
    from scrapy.crawler import CrawlerProcess

    from crawler.spider import SourceSpider

    crawlers: list[tuple[Source, Any]] = []
    run_ids: dict[str, int] = {}
    t0 = time.monotonic()
    finishing = threading.Lock()  # the main thread or a forced stop records the runs, never both

    def force(why: str) -> None:
        if not finishing.acquire(blocking=False):
            return  # the crawl ended on its own meanwhile
        ExtractorPool.shared().stop()
        results = _results(crawlers, run_ids, t0, forced=why)
        reserve.give_back()
        recorder = threading.Thread(target=_record_results, args=(factory, results), daemon=True)
        recorder.start()
        recorder.join(RECORD_TIMEOUT_S)  # not recorded: the next crawl marks the runs 'killed'
        with contextlib.suppress(Exception):
            if sys.stderr.isatty():
                sys.stderr.write("\x1b[?25h")  # the live display hid the cursor
            sys.stderr.write(f"interrupted: {why}; what was archived is kept\n")
            sys.stderr.flush()
            sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)

    with Stopper(force) as stopper, FrontierDirs() as frontier:
        with factory.begin() as s:
            repo.ensure_sources(s, [(src.id, src.name) for src in sources])
            run_ids.update({src.id: repo.start_run(s, src.id, trigger, pid=os.getpid()).id for src in sources})
        process = CrawlerProcess(base_settings(settings, log_level))
        now = dt.datetime.now(dt.UTC)
        for src in sources:
            if not src.verify_certificates:
                logger.warning("%s: HTTPS certificates are not verified (verify_certificates = false in the "
                               "sources file)", src.id)
            # the requests not yet sent wait on disk, not in this process (crawler/frontier.py)
            custom = {**source_settings(src), **frontier.settings(src.id)}
            spidercls = type(f"SourceSpider_{src.id}", (SourceSpider,), {"custom_settings": custom})
            crawler = process.create_crawler(spidercls)
            # the spider asks the archive what it knows; the URLs earlier crawls gave up on are handed to it
            process.crawl(crawler, source=src, run_id=run_ids[src.id], now=now,
                          retry_urls=load_retries(factory, src))
            crawlers.append((src, crawler))

        def graceful() -> None:
            from twisted.internet import reactor

            reactor.callFromThread(process.stop)  # type: ignore[attr-defined]

        stopper.graceful = graceful
        # the workers start (and import trafilatura) while robots.txt and the entry points are fetched; nothing
        # waits for them: a page fetched before they are ready is stored pending, safe from a kill
        ExtractorPool.shared().warm(wait=0.0)
        if not stopper.requested:
            display = progress(crawlers) if progress else None
            trimmer = memory.trim_periodically()
            try:
                if display is not None:
                    with display:
                        process.start(install_signal_handlers=False)
                else:
                    process.start(install_signal_handlers=False)
            finally:
                if trimmer is not None and trimmer.running:
                    trimmer.stop()
                ExtractorPool.shared().close()
        reserve.give_back()
        finishing.acquire()
        results = _results(crawlers, run_ids, t0)
        if stopper.requested:
            for r in results:
                if r.status in ("finished", "failed") and r.finish_reason in FINISHED_REASONS | {"shutdown", None}:
                    r.status, r.failure = "interrupted", f"stopped by {stopper.signame}; what was archived is kept"
        _record_results(factory, results)
        _record_failures(factory, crawlers)
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
                errors=r.errors, error=r.failure)


@retrying()
def _record_failures(factory: Any, crawlers: list[tuple[Source, Any]]) -> None:
    """Article URLs given up on this run, with their last error, for the next crawls to ask for again."""
    when = repo.utcnow()
    with factory.begin() as s:
        for src, crawler in crawlers:
            out = outcomes_of(crawler)
            given_up = [(g.url, g.kind) for g in out.given_up.values() if is_article(src, g.url)]
            for g in out.given_up.values():
                logger.info("%s: gave up on %s: %s (%s, %d attempts)", src.id, g.url, g.kind, g.error, g.attempts)
            failures.record(s, src.id, given_up, out.answered, when)


def exit_code(results: list[SourceResult]) -> int:
    if any(r.status == "failed" for r in results):
        return EXIT_FAILED
    if any(r.status == "interrupted" for r in results):
        return EXIT_INTERRUPTED
    return EXIT_OK
