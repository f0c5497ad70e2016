"""Re-extraction: the current extractor run again on the raw pages the archive kept, never refetching the web.

Raw captures are the record; versions are a function of (capture, extractor).  ``reextract`` takes, for every
article of the chosen sources, the capture its current version was extracted from, and every skipped page
whose bytes were kept, extracts them again in the worker pool, and writes what really changed:

- an article whose page now reads differently gets a new version (same capture, created now, with the current
  extractor and its version) and a ``reextracted`` event; the test is the crawl's own
  (``content.sha256() != latest.content_sha256 and not same_reading(latest, content)``), so a second run
  adds nothing;
- a skipped page that is an article now is archived as the crawl would have archived it (the crawl's URL
  identity, exact-copy lookup, template and story linking) from the capture already stored, and leaves the
  skipped list;
- an archived article whose page now extracts as not-an-article is left as it is (``now_skipped``): an
  archive never loses an article because its extractor changed its mind.

Pages go in batches: a batch is read, extracted in the pool (while the previous batch is written), then its
writes (and a progress marker) are one transaction, so the write lock is held for one batch at most and a
kill loses at most the batch in flight.  The marker only saves a rerun the batches already done; correctness
comes from every write being idempotent.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import functools
import hashlib
import importlib.metadata
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config.sources import Extraction, Source
from pipelines import template_store
from pipelines.archive import (
    _canonical,
    _link_story,
    _urls,
    _validators,
    same_reading,
    version_content,
)
from pipelines.items import Extracted, RawPage, Skipped
from pipelines.workers import ExtractionStopped, ExtractorPool
from storage import repo
from storage.db import retrying
from storage.models import Article, Capture, SkippedPage, Version

logger = logging.getLogger(__name__)

ExtractFn = Callable[[bytes, str, str | None, Extraction], Extracted | Skipped]

VIETNAM = dt.timezone(dt.timedelta(hours=7))
PHASES = ("articles", "skipped")
DEFAULT_BATCH = 100
# Skipped reasons that say the extraction did not run to the end (pipelines.workers), not what the page is
FAILURES = ("extraction_error", "extraction_timeout", "extraction_crashed", "extraction_stopped",
            "too_large_to_parse", "too_deeply_nested")


def is_failure(result: Extracted | Skipped) -> bool:
    return isinstance(result, Skipped) and result.reason.split(":", 1)[0] in FAILURES


def day_start(day: dt.date | dt.datetime) -> dt.datetime:
    """``--since D``: the start of day D in Vietnam time (a date-time without offset is Vietnam time too)."""
    if isinstance(day, dt.datetime):
        return day if day.tzinfo else day.replace(tzinfo=VIETNAM)
    return dt.datetime(day.year, day.month, day.day, tzinfo=VIETNAM)


# ---------------------------------------------------------------- the report

@dataclass(slots=True)
class Counts:
    """What became of the pages examined (every page lands in exactly one of the outcome counters)."""

    examined: int = 0
    changed: int = 0  # a new version was added (or would be, in a dry run)
    unchanged: int = 0
    newly_archived: int = 0  # a skipped page that is an article now
    still_skipped: int = 0
    now_skipped: int = 0  # an archived article that now extracts as not-an-article: kept as it is
    failed: int = 0  # the extraction did not finish (error, timeout, crash): nothing changed, a rerun retries
    superseded: int = 0  # a crawl archived a later page of that URL meanwhile: nothing to do
    seconds: float = 0.0

    def add(self, outcome: str) -> None:
        self.examined += 1
        setattr(self, outcome, getattr(self, outcome) + 1)

    def merge(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        rec["seconds"] = round(self.seconds, 2)
        return rec


OUTCOMES = tuple(f.name for f in fields(Counts) if f.name not in ("examined", "seconds"))


@dataclass(slots=True)
class Report:
    dry_run: bool = False
    sources: dict[str, Counts] = field(default_factory=dict)
    # sources resumed from an interrupted run's marker: phase and the last id done there
    resumed: dict[str, tuple[str, int]] = field(default_factory=dict)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def total(self) -> Counts:
        t = Counts()
        for c in self.sources.values():
            t.merge(c)
        t.seconds = self.seconds
        return t

    def record(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "interrupted": self.interrupted,
                "sources": {sid: c.record() for sid, c in self.sources.items()},
                "total": self.total.record(),
                "resumed": {sid: {"phase": p, "after_id": a} for sid, (p, a) in self.resumed.items()}}


# ---------------------------------------------------------------- work items

@dataclass(slots=True)
class Item:
    """One stored page to extract again: an article's current capture, or a skipped page's."""

    phase: str  # articles | skipped
    key: int  # article id / skipped_pages id: the resume order
    capture_id: int
    url: str
    final_url: str
    status: int
    headers: dict[str, str] = field(repr=False)
    fetched_at: dt.datetime
    body: bytes = field(repr=False)
    reason: str | None = None  # skipped pages: why they were skipped

    @property
    def content_type(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), None)


def _item(phase: str, key: int, cap: Capture, reason: str | None = None) -> Item:
    assert cap.body is not None
    return Item(phase, key, cap.id, cap.url, cap.final_url, cap.status, dict(cap.headers or {}), cap.fetched_at,
                zlib.decompress(cap.body), reason)


def read_batch(session: Session, source_id: str, phase: str, after: int, since: dt.datetime | None,
               limit: int) -> list[Item]:
    if phase == "articles":
        return [_item(phase, aid, cap) for aid, _number, cap in
                repo.current_captures(session, source_id, after, since, limit)]
    return [_item(phase, skip.id, cap, skip.reason) for skip, cap in
            repo.skipped_captures(session, source_id, after, since, limit)]


def extract_item(extract: ExtractFn, source: Source, item: Item) -> Extracted | Skipped:
    """Never raises: a failure is a ``Skipped`` whose reason is one of ``FAILURES`` (the pool itself retries a
    page whose worker died once, and times each page)."""
    try:
        return extract(item.body, item.final_url or item.url, item.content_type, source.extraction)
    except ExtractionStopped:  # the run is being interrupted: this page is not written
        return Skipped("extraction_stopped")
    except Exception as e:
        logger.exception("extraction of %s failed", item.url)
        return Skipped(f"extraction_error:{type(e).__name__}")


# ---------------------------------------------------------------- deciding and writing one page

def _detail(old: Version, content: repo.Content) -> str:
    if old.extractor != content.extractor:
        return f"{old.extractor} {old.extractor_version} -> {content.extractor} {content.extractor_version}"
    return f"{old.extractor_version} -> {content.extractor_version}"


def _captured_at(session: Session, v: Version) -> dt.datetime:
    cap = session.get(Capture, v.capture_id) if v.capture_id is not None else None
    return cap.fetched_at if cap is not None else v.created_at


@dataclass(slots=True)
class Decision:
    """What a page's new extraction means for the archive, and the writes that make it so (none: nothing)."""

    outcome: str
    write: Callable[[], None] | None = None


def decide_article(session: Session, source: Source, item: Item, result: Extracted | Skipped,
                   now: dt.datetime) -> Decision:
    """An archived article's capture extracted again: a new version only when the content really changed."""
    article = session.get(Article, item.key)
    latest = repo.latest_version(session, item.key) if article is not None else None
    if article is None or latest is None or latest.capture_id != item.capture_id:
        return Decision("superseded")  # a crawl archived a later page meanwhile (or the article is gone)
    if isinstance(result, Skipped):
        logger.info("%s (article %s) now extracts as not an article (%s): kept as it is",
                    item.url, article.id, result.reason)
        return Decision("now_skipped")
    content = version_content(session, source.id, result)
    if content.sha256() == latest.content_sha256 or same_reading(latest, content):
        return Decision("unchanged")
    detail = _detail(latest, content)

    def write() -> None:
        repo.add_version(session, article, content, item.capture_id, now)
        _link_story(session, article, result.signature, result.shingle_count)
        repo.record_event(session, article.id, "reextracted", now, detail)

    return Decision("changed", write)


def decide_skipped(session: Session, source: Source, item: Item, result: Extracted | Skipped,
                   now: dt.datetime) -> Decision:
    """A skipped page extracted again: archived from its stored capture if it is an article now.

    The crawl's identity rules decide which article it is (URL keys, then an exact copy under another URL);
    an article archived from a later page of that URL is not given this older reading on top."""
    skip = session.get(SkippedPage, item.key)
    if skip is None or skip.capture_id != item.capture_id:
        return Decision("superseded")  # fetched again (and skipped or archived) since
    if isinstance(result, Skipped):
        return Decision("still_skipped")
    raw = RawPage(source_id=source.id, url=item.url, final_url=item.final_url, status=item.status,
                  headers=item.headers, body=item.body, fetched_at=item.fetched_at)
    urls = _urls(source, raw, result)
    content = version_content(session, source.id, result)
    sha = content.sha256()
    article = repo.find_article_by_keys(session, list(dict.fromkeys(urls.values())))
    if article is None:
        article = repo.find_article_by_content(session, source.id, sha)
    if article is None:
        return Decision("newly_archived",
                        lambda: _archive_new(session, source, item, raw, result, content, urls, now))
    latest = repo.latest_version(session, article.id)
    changed = latest is None or (latest.content_sha256 != sha and not same_reading(latest, content))
    if changed and latest is not None and _captured_at(session, latest) >= item.fetched_at:
        return Decision("superseded")
    detail = f"skipped ({item.reason}) -> {content.extractor_version}" if latest is None else \
        _detail(latest, content)
    found = article

    def write() -> None:
        repo.add_urls(session, found.id, urls.items(), item.fetched_at)
        cap = session.get(Capture, item.capture_id)
        assert cap is not None
        cap.article_id, cap.outcome = found.id, "archived" if changed else "unchanged"
        if changed:
            repo.add_version(session, found, content, item.capture_id, now)
            _link_story(session, found, result.signature, result.shingle_count)
            repo.record_event(session, found.id, "reextracted", now, detail)
        repo.delete_skip(session, item.key)

    return Decision("changed" if changed else "unchanged", write)


def _archive_new(session: Session, source: Source, item: Item, raw: RawPage, result: Extracted,
                 content: repo.Content, urls: dict[str, str], now: dt.datetime) -> None:
    """archive_page's path for a new article, on the capture already stored (no second copy of the body)."""
    when = item.fetched_at
    article = repo.create_article(session, source.id, _canonical(source, raw, result), when, result.published)
    repo.add_urls(session, article.id, urls.items(), when)
    article.last_fetched = when
    article.etag, article.last_modified = _validators(item.headers)
    cap = session.get(Capture, item.capture_id)
    assert cap is not None
    cap.article_id, cap.outcome = article.id, "archived"
    repo.add_version(session, article, content, item.capture_id, now)
    _link_story(session, article, result.signature, result.shingle_count)
    # a new article's page teaches the source's template, as in the crawl (pipelines.archive.write_page)
    template_store.learn_page(session, source.id, result, when)
    repo.record_event(session, article.id, "reextracted", now,
                      f"skipped ({item.reason}) -> archived by {content.extractor} {content.extractor_version}")
    repo.delete_skip(session, item.key)


def apply_item(session: Session, source: Source, item: Item, result: Extracted | Skipped, now: dt.datetime,
               write: bool) -> str:
    """The outcome of one page, and its writes when ``write``.  A page whose result cannot be judged (a bug
    on an odd page) is ``failed``, logged, and left as it was; the writes are the archive's own (the crawl's
    repository calls): a database error there aborts the batch, which rolls back whole."""
    if is_failure(result):
        assert isinstance(result, Skipped)
        logger.warning("could not re-extract %s (capture %s): %s", item.url, item.capture_id, result.reason)
        return "failed"
    decide = decide_article if item.phase == "articles" else decide_skipped
    try:
        decision = decide(session, source, item, result, now)
    except DBAPIError:
        raise
    except Exception:
        logger.exception("could not judge the re-extraction of %s (capture %s)", item.url, item.capture_id)
        return "failed"
    if write and decision.write is not None:
        decision.write()
    return decision.outcome


# a unique-key race with a crawl writing the same article ("version N") resolves on retry
@retrying(also=(IntegrityError,))
def write_batch(factory: sessionmaker[Session], source: Source, items: Sequence[Item],
                results: Sequence[Extracted | Skipped], fingerprint: str) -> list[str]:
    """One transaction: every page of the batch, and the marker that says the batch is done."""
    now = repo.utcnow()
    with factory.begin() as session:
        outcomes = [apply_item(session, source, it, r, now, write=True) for it, r in zip(items, results, strict=True)]
        repo.save_reextract_progress(session, source.id, fingerprint, items[-1].phase, items[-1].key, now)
    return outcomes


def judge_batch(reader: sessionmaker[Session], source: Source, items: Sequence[Item],
                results: Sequence[Extracted | Skipped]) -> list[str]:
    """A dry run's batch: the same decisions, on a session that only reads."""
    now = repo.utcnow()
    with reader() as session:
        return [apply_item(session, source, it, r, now, write=False) for it, r in zip(items, results, strict=True)]


# ---------------------------------------------------------------- the run

def code_fingerprint() -> str:
    """The extraction code as it is now: every pipelines module and the trafilatura release."""
    h = hashlib.sha256(importlib.metadata.version("trafilatura").encode())
    for p in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def fingerprint(code: str, source: Source, since: dt.datetime | None) -> str:
    """What a progress marker is valid for: this code, this source's hints, this --since."""
    blob = "\x1f".join([code, source.extraction.model_dump_json(), since.isoformat() if since else ""])
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(slots=True)
class _Run:
    factory: sessionmaker[Session]
    reader: sessionmaker[Session]
    extract: ExtractFn
    threads: cf.ThreadPoolExecutor
    since: dt.datetime | None
    dry_run: bool
    batch: int
    report: Report
    code: str
    on_batch: Callable[[str, Counts], None] | None
    pool: ExtractorPool | None = None  # the worker pool when it is this run's own

    def extract_for(self, source: Source) -> ExtractFn:
        """The extractor for ``source``'s pages: the pool's workers apply its learnt template too, read from their
        own view of the archive ``factory`` writes, as the crawl's do (the archive writer then need not, on a read
        of the whole template by hash for every page)."""
        url = _url_of(self.factory) if self.pool is not None else None
        if self.pool is None or url is None:
            return self.extract
        return functools.partial(self.pool.extract_blocking, archive=(url, source.id))


def _batches(run: _Run, source: Source, start: tuple[str, int]) -> Iterator[list[Item]]:
    for phase in PHASES[PHASES.index(start[0]):]:
        after = start[1] if phase == start[0] else 0
        while True:
            with run.reader() as session:
                items = read_batch(session, source.id, phase, after, run.since, run.batch)
            if not items:
                break
            after = items[-1].key
            yield items


def _source(run: _Run, source: Source) -> None:
    counts = run.report.sources.setdefault(source.id, Counts())
    t0 = time.monotonic()
    fp = fingerprint(run.code, source, run.since)
    start: tuple[str, int] = (PHASES[0], 0)
    marked = False
    if not run.dry_run:
        with run.reader() as session:
            mark = repo.reextract_progress(session, source.id)
            if mark is not None:
                marked = True
                if mark.fingerprint == fp and mark.phase in PHASES:
                    start = (mark.phase, mark.after_id)
                    run.report.resumed[source.id] = start
                    logger.info("%s: resuming after %s id %s", source.id, *start)

    def finish(items: list[Item], futures: list[cf.Future[Extracted | Skipped]]) -> None:
        results = [f.result() for f in futures]
        if run.dry_run:
            outcomes = judge_batch(run.reader, source, items, results)
        else:
            outcomes = write_batch(run.factory, source, items, results, fp)
        for o in outcomes:
            counts.add(o)
        counts.seconds = time.monotonic() - t0
        logger.info("%s: %d pages examined, %d changed, %d newly archived", source.id, counts.examined,
                    counts.changed, counts.newly_archived)
        if run.on_batch is not None:
            run.on_batch(source.id, counts)

    extract = run.extract_for(source)
    pending: tuple[list[Item], list[cf.Future[Extracted | Skipped]]] | None = None
    try:
        for items in _batches(run, source, start):
            # the next batch is extracted while this one is written
            futures = [run.threads.submit(extract_item, extract, source, it) for it in items]
            if pending is not None:
                finish(*pending)
            pending = (items, futures)
        if pending is not None:
            finish(*pending)
            marked = True
    finally:
        if pending is not None:
            for f in pending[1]:
                f.cancel()
    if marked and not run.dry_run:
        with run.factory.begin() as session:
            repo.clear_reextract_progress(session, source.id)
    counts.seconds = time.monotonic() - t0


def _url_of(factory: sessionmaker[Session]) -> str | None:
    """The database URL ``factory``'s sessions are bound to (the workers open their own read-only view of it)."""
    bind = factory.kw.get("bind")
    url = getattr(bind, "url", None)
    return url.render_as_string(hide_password=False) if url is not None else None


def reextract(factory: sessionmaker[Session], sources: Sequence[Source], *,
              reader: sessionmaker[Session] | None = None, since: dt.datetime | None = None, dry_run: bool = False,
              batch: int = DEFAULT_BATCH, extract: ExtractFn | None = None, workers: int | None = None,
              on_batch: Callable[[str, Counts], None] | None = None) -> Report:
    """Re-extract the stored pages of ``sources`` (see the module's docstring) and report what became of them.

    ``factory`` writes (never used in a dry run); ``reader`` reads the batches (default: ``factory``; give a
    read-only one, so that reading never takes the write lock).  ``since`` keeps captures fetched at or after
    it.  ``extract`` replaces the worker pool (tests).  A KeyboardInterrupt (SIGINT, or SIGTERM turned into
    one) ends the run after rolling back the batch in flight: the report says ``interrupted``.  A database
    error (read-only archive, disk full) is raised, after the batches before it were committed.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    pool = None
    if extract is None:
        pool = ExtractorPool(workers)
        extract, workers = pool.extract_blocking, pool.workers
    report = Report(dry_run=dry_run)
    t0 = time.monotonic()
    # one thread per worker process, each waiting for one page: every worker busy, each timeout the page's own
    threads = cf.ThreadPoolExecutor(workers or 1, thread_name_prefix="reextract")
    run = _Run(factory, reader or factory, extract, threads, since, dry_run, batch, report, code_fingerprint(),
               on_batch, pool)
    try:
        for source in sources:
            _source(run, source)
    except KeyboardInterrupt:
        report.interrupted = True
        logger.warning("re-extraction interrupted: the batch in flight was rolled back, a rerun resumes")
    finally:
        if pool is not None and report.interrupted:
            pool.stop()  # the extractions in flight end now (their pages are not written)
        threads.shutdown(wait=True, cancel_futures=True)
        if pool is not None:
            pool.close()
        report.seconds = time.monotonic() - t0
    return report
