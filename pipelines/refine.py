"""The end of a crawl: the versions it archived before the source's template was learnt, cleaned with it.

A brand-new source is archived before its template is known (``pipelines.template``), so at the end of a crawl
``refine_run`` looks again at the versions that crawl created, with everything learnt meanwhile, in two steps:

- **which** versions the template as it stands now would change (``versions_to_refine``: the template applied
  to each stored text, no page parsed).  Pure CPU and reads only, so a crawl runs it in the extraction worker
  processes, several batches at once (``check_in_worker``), while the archive writer goes on writing the other
  sources' pages: in the writer thread it held the GIL and the write queue for seconds at the end of every
  source;
- **how**: those few are re-extracted from their own captures and updated in place (``refine_versions``), a
  transaction per batch, in the archive writer.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pipelines.items import Extracted, Skipped
from pipelines.template import TemplateModel, apply
from pipelines.template_store import load_model
from storage.db import retrying

logger = logging.getLogger(__name__)

REFINE_BATCH = 200  # versions refined in one transaction (their captures' bodies in memory at once)
CHECK_TIMEOUT_S = 600.0  # one worker's batch of versions to check (a thousand take a few seconds)
CHECK_CHUNK = 500  # versions read from the archive at once while checking a batch


def run_version_ids(session: Session, source_id: str, run_id: int) -> list[int]:
    """The ids of the latest versions run ``run_id`` created for ``source_id`` whose page body is kept."""
    from storage.models import Article, Capture, Version

    latest = (select(Version.article_id, func.max(Version.number).label("n"))
              .group_by(Version.article_id).subquery())
    return list(session.execute(
        select(Version.id)
        .join(Capture, Capture.id == Version.capture_id)
        .join(Article, Article.id == Version.article_id)
        .join(latest, (latest.c.article_id == Version.article_id) & (latest.c.n == Version.number))
        .where(Capture.run_id == run_id, Article.source_id == source_id, Capture.body.is_not(None))
        .order_by(Version.id)).scalars())


def refine_batches(ids: list[int], size: int | None = None) -> Iterator[list[int]]:
    size = size or REFINE_BATCH
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def would_change(model: TemplateModel, version: Any) -> bool:
    """Whether the template as it stands now (``model``: all of the source's rows, read once per refinement,
    a superset of what ``load_model`` reads for one page) removes anything from the version as stored.  A
    version is what an earlier state of the template left of its page, and the template only learns more during
    a crawl, so one with nothing left to remove would re-extract to itself: it is skipped without parsing its
    page again (the second extraction of every page of a first crawl cost as much as the crawl's own)."""
    stored = Extracted(title=version.title, lead=version.lead, text=version.text, author=version.author,
                       published=None, modified=None, language=None, page_canonical=None)
    return apply(stored, model).text != stored.text


def refine_model(session: Session, source_id: str, indexed: bool = False) -> TemplateModel | None:
    """The whole template, read once for a refinement (None: nothing learnt, nothing to refine); ``indexed``:
    an extraction worker's read-only session, whose index of the lead and title rows the crawl kept warm."""
    from storage.models import TemplatePages

    if not session.execute(select(TemplatePages.pages).where(TemplatePages.source_id == source_id)).scalar():
        return None
    return load_model(session, source_id, indexed=indexed)


def versions_to_refine(session: Session, model: TemplateModel, ids: list[int]) -> list[int]:
    """Of the versions ``ids``, in order, those ``model`` would change (only the fields ``would_change`` reads).
    Read CHECK_CHUNK versions at a time: a worker's share of a big first crawl (a quarter of a 35,000-page
    source) read at once held every text in memory, and the worker kept that memory to the end of the crawl."""
    from storage.models import Version

    ordered = sorted(ids)
    changing: list[int] = []
    for i in range(0, len(ordered), CHECK_CHUNK):
        rows = session.execute(select(Version.id, Version.title, Version.lead, Version.text, Version.author)
                               .where(Version.id.in_(ordered[i:i + CHECK_CHUNK])).order_by(Version.id))
        changing += [row.id for row in rows if would_change(model, row)]
    return changing


def check_in_worker(db_url: str, source_id: str, ids: list[int]) -> list[int] | None:
    """``versions_to_refine`` in an extraction worker, on its own read-only view of the archive, the model read
    there too (nothing but the ids crosses the pipe); None when the archive cannot be read from there."""
    from pipelines.workers import archive_reader

    try:
        with archive_reader(db_url)() as session:
            model = refine_model(session, source_id, indexed=True)
            return versions_to_refine(session, model, ids) if model is not None else []
    except Exception as e:  # noqa: BLE001 - a busy or unreadable archive: the writer checks the batch itself
        logger.debug("the refinement check could not read the archive here: %s", e)
        return None


def refine_versions(session: Session, source: Any, ids: list[int], extract: Callable[..., Extracted | Skipped],
                    model: TemplateModel | None = None) -> int:
    """Re-extract the versions ``ids`` from their own captures with the template as it stands now, and update
    those that improve, in place (new content hash included); a version that turns out identical to the one
    before it is removed (the "edit" was only the template being learnt).  With ``model`` (``refine_model``),
    only the versions it would change are looked at; without, ``ids`` are those (``versions_to_refine``).
    ``extract`` is the extractor (pipelines.extract.extract_article, or the worker pool's).  Flushed: what
    changed is not held in the session past the batch.  Returns how many versions changed."""
    from storage.models import Article, Capture, Version
    from storage.repo import Content, capture_body, strip_nul

    changed = 0
    rows = session.execute(select(Version, Capture).join(Capture, Capture.id == Version.capture_id)
                           .where(Version.id.in_(ids)).order_by(Version.id)).all()
    for version, cap in rows:
        # one read of the whole table (model), not one probe per version (those cost a second crawl's CPU)
        if model is not None and not would_change(model, version):
            continue
        body = capture_body(cap)
        if body is None:
            continue
        ctype = next((v for k, v in (cap.headers or {}).items() if k.lower() == "content-type"), None)
        try:
            fresh = extract(body, cap.final_url or cap.url, ctype, source.extraction)
        except Exception as e:  # a page that extracted once and fails now keeps what it has
            logger.warning("refining %s failed: %s", cap.url, e)
            continue
        if not isinstance(fresh, Extracted):
            continue
        # the version's identity is the extraction before the template: only the cleaned fields change here
        identity = Content(title=fresh.title, lead=fresh.lead, text=fresh.text, author=fresh.author,
                           published=fresh.published, modified=fresh.modified, language=fresh.language,
                           page_canonical=fresh.page_canonical, extractor=fresh.extractor,
                           extractor_version=fresh.extractor_version).sha256()
        fresh = apply(fresh, load_model(session, source.id, fresh))
        content = Content(title=fresh.title, lead=fresh.lead, text=fresh.text, author=fresh.author,
                          published=fresh.published, modified=fresh.modified, language=fresh.language,
                          page_canonical=fresh.page_canonical, extractor=fresh.extractor,
                          extractor_version=fresh.extractor_version, identity=identity)
        sha = content.sha256()
        if sha == version.content_sha256 and (version.title, version.lead, version.text, version.author) == (
                content.title, content.lead, content.text, content.author):
            continue
        previous = session.execute(select(Version).where(Version.article_id == version.article_id,
                                                         Version.number == version.number - 1)).scalar()
        article = session.get(Article, version.article_id)
        if previous is not None and article is not None and (
                previous.title, previous.lead, previous.text, previous.author, previous.published) == (
                content.title, content.lead, content.text, content.author, content.published):
            session.delete(version)
            article.current_version = previous.number
            changed += 1
            continue
        version.content_sha256 = sha
        version.title, version.lead = strip_nul(content.title) or "", strip_nul(content.lead) or ""
        version.text, version.author = strip_nul(content.text) or "", strip_nul(content.author)
        version.published, version.modified = content.published, content.modified
        offset = content.published.utcoffset() if content.published else None
        version.utc_offset_minutes = int(offset.total_seconds() // 60) if offset is not None else None
        version.extractor, version.extractor_version = content.extractor, content.extractor_version
        changed += 1
    # changed objects are held by the session until flushed: without this a first crawl's refinement kept
    # every version it improved (text and all) to its end
    session.flush()
    return changed


# ---------------------------------------------------------------- the refinement of one crawl

Write = Callable[..., Any]


def _here(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def refine_run(factory: sessionmaker[Session], source: Any, run_id: int,
               extract: Callable[..., Extracted | Skipped] | None = None, *, write: Write = _here,
               pool: Any = None, db_url: str | None = None) -> int:
    """The versions run ``run_id`` created for ``source``, re-extracted with the template learnt meanwhile;
    versions of earlier runs are never touched.  Returns how many changed.

    ``write(fn, *args)`` runs what touches the archive (the crawl passes its archive writer's; by default
    here).  With ``pool`` (an ``ExtractorPool``) and ``db_url``, the versions to refine are found in its worker
    processes, a batch per worker at a time; without, in ``write``, with the model read once.  A transaction
    per REFINE_BATCH versions re-extracted: one transaction over a first crawl's thousands of versions held the
    archive's write lock for as long as the re-extraction took (other processes' crawls waited, then failed on
    'database is locked').  A refinement stopped half-way leaves versions refined or not, each whole; the next
    run or `vnarchive reextract` does the rest.  ``extract``: the worker pool's by default."""
    ids = write(_plan, factory, source.id, run_id)
    if not ids:
        return 0
    if extract is None:
        from pipelines.workers import ExtractorPool

        extract = ExtractorPool.shared().extract_blocking
    local: dict[str, TemplateModel | None] = {}

    def here(batch: list[int]) -> list[int]:
        return write(_check_here, factory, source.id, batch, local)

    def in_worker(batch: list[int]) -> list[int]:
        try:
            found = pool.call_blocking(check_in_worker, db_url, source.id, batch, timeout=CHECK_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - a worker lost or stopped: this batch is checked in the writer
            if getattr(pool, "stopping", False):
                raise
            logger.info("%s: refinement check in a worker failed (%s); checking in the writer", source.id, e)
            found = None
        return found if found is not None else here(batch)

    changed = 0
    if pool is None or db_url is None:
        for batch in refine_batches(ids):
            changed += _refine_changing(write, factory, source, here(batch), extract)
        return changed
    # a few batches per worker, so both are busy to the end, each reading the template once
    size = max(REFINE_BATCH, math.ceil(len(ids) / (2 * pool.workers)))
    with cf.ThreadPoolExecutor(pool.workers, thread_name_prefix="refine-check") as threads:
        for changing in threads.map(in_worker, list(refine_batches(ids, size))):
            changed += _refine_changing(write, factory, source, changing, extract)
    return changed


def _refine_changing(write: Write, factory: sessionmaker[Session], source: Any, changing: list[int],
                     extract: Callable[..., Extracted | Skipped]) -> int:
    return sum(write(_refine_batch, factory, source, batch, extract) for batch in refine_batches(changing))


def _plan(factory: sessionmaker[Session], source_id: str, run_id: int) -> list[int]:
    from storage.models import TemplatePages

    with factory() as session:
        if not session.execute(select(TemplatePages.pages).where(TemplatePages.source_id == source_id)).scalar():
            return []  # nothing learnt, nothing to refine
        return run_version_ids(session, source_id, run_id)


def _check_here(factory: sessionmaker[Session], source_id: str, ids: list[int],
                memo: dict[str, TemplateModel | None]) -> list[int]:
    with factory() as session:
        if "model" not in memo:  # the whole template, read once for the run's refinement
            memo["model"] = refine_model(session, source_id)
        model = memo["model"]
        return versions_to_refine(session, model, ids) if model is not None else []


@retrying()
def _refine_batch(factory: sessionmaker[Session], source: Any, ids: list[int],
                  extract: Callable[..., Extracted | Skipped]) -> int:
    with factory.begin() as session:
        return refine_versions(session, source, ids, extract)
