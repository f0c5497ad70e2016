"""A source's template in the archive: each page's blocks counted (``learn_page``), the rows a page needs read
back as a ``TemplateModel`` (``load_model``), applied (``apply_stored``), and blocks seen too rarely to matter
forgotten on a schedule.  A session in, never a commit: the caller's transaction decides.  What the rows mean is
``pipelines.template``'s (pure, no database).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, any_, bindparam, delete, func, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from pipelines.items import Extracted, Skipped
from pipelines.template import (
    MIN_PAGES,
    KnownKeys,
    TemplateModel,
    apply,
    known_keys,
    page_hashes,
    probe_keys,
    suffix_leads,
    teasers_of,
    titles_of,
)
from storage.repo import insert_for

logger = logging.getLogger(__name__)


def load_model(session: Session, source_id: str, ex: Extracted | None = None, indexed: bool = False
               ) -> TemplateModel:
    """The source's template.  With ``ex``: the frequent blocks (the template proper, a few hundred rows) and
    the title / teaser keys ``ex``'s paragraphs could match; without: every row (refinement, inspection).
    ``indexed`` (an extraction worker's read-only session on SQLite): the lead and title rows from this
    process's ``KnownKeys`` of the source, brought up to date with the rows added since it last looked
    (``_known_now``), instead of the keys ``ex`` could match probed by hash (or, without ``ex``, read back from
    every row's sample)."""
    from storage.models import TemplateBlock, TemplatePages

    # Core on the session's connection: the workers run this for every page, and the ORM's statement handling
    # cost more than the queries
    conn = session.connection()
    blocks, counted = TemplateBlock.__table__.c, TemplatePages.__table__.c
    indexed = indexed and conn.dialect.name == "sqlite"
    if indexed:  # every source's page count and the top rowid, which the index needs too, in one statement
        top, every_pages = _archive_state(conn)
        pages = every_pages.get(source_id, 0)
    else:
        pages = conn.execute(select(counted.pages).where(counted.source_id == source_id)).scalar() or 0
    if ex is None:
        if indexed:  # the keys from this process's index, the counts read
            counts = dict(conn.execute(select(blocks.block_hash, blocks.pages)
                                       .where(blocks.source_id == source_id)).all())
            return TemplateModel(counts=counts, pages=pages,
                                 known=_known_now(session, source_id, top, every_pages))
        every = conn.execute(select(blocks.block_hash, blocks.pages, blocks.sample, blocks.kind)
                             .where(blocks.source_id == source_id)).all()
        return TemplateModel(counts={h: n for h, n, _, _ in every}, pages=pages, known=known_keys(every))
    model = TemplateModel(pages=pages, counts=dict(_frequent_rows(session, source_id, model_threshold(pages),
                                                                  pages)))
    if indexed:
        model.known = _known_now(session, source_id, top, every_pages)
        if model.known is not None:
            return model
    asked: set[str] = set(model.counts)
    among, as_param = _blocks_among(conn.dialect.name)
    # the probe keys and their teaser keys do not change from round to round (the rounds read title and lead
    # rows, never a frequent block); a key's titles change only when a teaser found in the last round follows
    # one of them, so later rounds look at those keys alone
    keys = probe_keys(ex, model)
    teasers = teasers_of(keys)
    titles = titles_of(keys, model)
    known = {h for h in teasers if model.counts.get(h)}
    for _ in range(3):
        wanted = sorted((teasers | titles) - asked)
        if not wanted:
            break
        asked.update(wanted)
        model.counts.update(conn.execute(among, {"source_id": source_id, "hashes": as_param(wanted)}).all())
        if not any(h in model.counts for h in teasers):
            break  # only a teaser found opens new places where a title may end: none, no other round
        found = {h for h in teasers if model.counts.get(h)} - known
        known |= found
        titles = titles_of([k for k in keys if any(lead in found for _, lead in suffix_leads(k))], model)
    return model


@functools.cache
def _blocks_among(dialect: str) -> tuple[Any, Callable[[list[str]], Any]]:
    """The statement reading a source's rows of some block hashes, and how it takes the hashes: one statement
    whatever their number (an expanding IN is rewritten for every list, and SQLite prepares each anew: 0.87 ms
    against 0.32 for 500 hashes), a JSON array on SQLite, an array on PostgreSQL."""
    from storage.models import TemplateBlock

    blocks = TemplateBlock.__table__.c
    q = select(blocks.block_hash, blocks.pages).where(blocks.source_id == bindparam("source_id"))
    if dialect == "postgresql":
        # imported only where used (see storage.repo.insert_for)
        from sqlalchemy.dialects.postgresql import ARRAY

        return q.where(blocks.block_hash == any_(bindparam("hashes", type_=ARRAY(String)))), list
    listed = select(func.json_each(bindparam("hashes")).table_valued("value").c.value).scalar_subquery()
    return q.where(blocks.block_hash.in_(listed)), json.dumps


def model_threshold(pages: int) -> int:
    m = TemplateModel(pages=pages)
    return min(m.threshold(), m.threshold(sentence=True))


# The frequent rows of a source change slowly: read once, again after the source grew by 2 % (or 5 pages).
# Scanning every row of a big source for every page would cost more than the extraction (the template_blocks
# primary key is (source_id, block_hash); an index on (source_id, pages) would make the scan cheap).
_FREQUENT: dict[tuple[str, str], tuple[int, int, dict[str, int]]] = {}
_FREQUENT_LOCK = threading.Lock()


def _frequent_rows(session: Session, source_id: str, low: int, pages: int) -> dict[str, int]:
    """The source's blocks on ``low`` pages or more, when it has ``pages`` pages."""
    from storage.models import TemplateBlock

    key = (str(session.get_bind().engine.url), source_id)
    with _FREQUENT_LOCK:
        hit = _FREQUENT.get(key)
        if hit is not None and hit[0] <= pages <= hit[0] + max(5, 0.02 * hit[0]) and hit[1] <= low:
            return hit[2]
    rows = dict(session.execute(select(TemplateBlock.block_hash, TemplateBlock.pages)
                                .where(TemplateBlock.source_id == source_id, TemplateBlock.pages >= low)).all())
    with _FREQUENT_LOCK:
        _FREQUENT[key] = (pages, low, rows)
    return rows


# A worker's KnownKeys of each source (SQLite): read whole once, then only the rows added since, in rowid order
# (an upsert that counts a page again keeps a row's rowid, and only a row's existence matters for a lead or a
# title).  Read whole again when the source's own rows may have been deleted: when it passed a pruning boundary
# (PRUNE_EVERY pages: the scheduled pruning is the only thing that deletes template rows), or when the archive
# is not the one read before (fewer pages, a lower top rowid).  Another source's pruning changes nothing here:
# it never deletes the table's last row (``prune_blocks``), so no rowid at or below a top once read is handed
# out again (SQLite takes max(rowid) + 1).  Each extraction worker is a process doing one job at a time: nothing
# else touches its entry.
@dataclass(slots=True)
class _Known:
    pages: int
    top: int  # the highest rowid of template_blocks read
    pruned: int  # the pruning boundaries the source has passed (pages // PRUNE_EVERY)
    keys: KnownKeys | None  # None: a row may hide its key, the page's keys are probed by hash


_KNOWN: dict[tuple[str, str], _Known] = {}
# The keys one worker's index may hold, all sources together: some 300 bytes each (a source of 35,000 pages,
# pruned on schedule, keeps ~20,000: 6 MB).  A source that would take it past this is looked up by hash instead
# (the same verdicts, ~0.5 ms more a page), so a crawl of many sources cannot grow a worker towards its cap.
KNOWN_BUDGET = 200_000


def _index_size(exclude: tuple[str, str] | None = None) -> int:
    return sum(e.keys.size() for k, e in _KNOWN.items() if k != exclude and e.keys is not None)


def _archive_state(conn: Any) -> tuple[int, dict[str, int]]:
    """The highest rowid of template_blocks (0: none) and every source's template pages."""
    top, every_pages = 0, {}
    for source_id, pages, top_rowid in conn.execute(_known_statements()[0]).all():
        if source_id is None:
            top = top_rowid or 0
        else:
            every_pages[source_id] = pages
    return top, every_pages


def _known_now(session: Session, source_id: str, top: int, every_pages: dict[str, int]) -> KnownKeys | None:
    """The source's lead and title rows as the archive holds them now, by key (None: by hash); ``top`` and
    ``every_pages`` as ``_archive_state`` read them."""
    conn = session.connection()
    key = (str(session.get_bind().engine.url), source_id)
    _, every, since = _known_statements()
    pages = every_pages.get(source_id, 0)
    pruned = pages // PRUNE_EVERY
    hit = _KNOWN.get(key)
    if hit is None or pages < hit.pages or top < hit.top or pruned != hit.pruned:
        others = _index_size(exclude=key)
        keys: KnownKeys | None = None
        if others < KNOWN_BUDGET:  # else the index is full: by hash, without reading the rows
            keys = KnownKeys()
            rows = conn.execute(every, {"source_id": source_id}).all()
            if not keys.add(rows) or others + keys.size() > KNOWN_BUDGET:
                keys = None
        _KNOWN[key] = hit = _Known(pages, top, pruned, keys)
        return hit.keys
    if top > hit.top and hit.keys is not None:
        # every source's new rows, this one's kept: "rowid > ?" alone is a range of the table's own b-tree,
        # while with the source in the condition SQLite reads the source's whole prune index instead
        added = [r[1:] for r in conn.execute(since, {"after": hit.top}).all() if r[0] == source_id]
        if not hit.keys.add(added, cached=True) or _index_size() > KNOWN_BUDGET:
            hit.keys = None
    hit.pages, hit.top = pages, top
    return hit.keys


@functools.cache
def _known_statements() -> tuple[Any, Any, Any]:
    """The index's reads: the table's top rowid (SQLite reads it off the b-tree's end) in a row of its own,
    after every source's template pages; a source's rows; every row after a rowid."""
    from storage.models import TemplateBlock, TemplatePages

    table, counted = TemplateBlock.__table__, TemplatePages.__table__.c
    rowid: Any = literal_column("rowid")
    c = table.c
    # the index holds titles and leads: blocks (most rows) stay in the database, unless of before 0009 (NULL)
    titles_or_leads = c.kind.is_distinct_from("b")
    rows = select(c.block_hash, c.pages, c.sample, c.kind).where(c.source_id == bindparam("source_id"),
                                                                 titles_or_leads)
    since = select(c.source_id, c.block_hash, c.pages, c.sample, c.kind).where(rowid > bindparam("after"),
                                                                               titles_or_leads)
    state = union_all(select(counted.source_id, counted.pages, null()),
                      select(null(), null(), func.max(rowid)).select_from(table))
    return state, rows, since


@functools.cache
def _learn_statements(dialect: str) -> tuple[Any, Any]:
    """``learn_page``'s two upserts (a page's blocks; the source's page count, read back), built once per
    dialect: building them for every page cost the archive writer more than running them."""
    from storage.models import TemplateBlock, TemplatePages

    blocks, counted = TemplateBlock.__table__, TemplatePages.__table__
    stmt = insert_for(dialect, blocks)
    count_blocks = stmt.on_conflict_do_update(index_elements=["source_id", "block_hash"],
                                              set_={"pages": blocks.c.pages + 1, "last_seen": stmt.excluded.last_seen,
                                                    "kind": stmt.excluded.kind})  # a row of before 0009 learns it
    count_page = (insert_for(dialect, counted).values(source_id=bindparam("source_id"), pages=1)
                  .on_conflict_do_update(index_elements=["source_id"], set_={"pages": counted.c.pages + 1})
                  .returning(counted.c.pages))
    return count_blocks, count_page


@functools.cache
def _sqlite_count_blocks() -> tuple[str, Callable[[Any], Any]]:
    """``learn_page``'s upsert of a page's blocks on SQLite as the driver takes it (its SQL, positional), and
    the conversion of the time stamp, done once a page.  SQLAlchemy's executemany processed every row's
    parameters in Python (the time stamp's conversion, each row's dict), which was most of what learning a page
    cost the writer's thread; the driver's executemany takes the rows as they are."""
    from sqlalchemy.dialects import sqlite

    from storage.models import TemplateBlock

    dialect = sqlite.dialect(paramstyle="qmark")
    compiled = _learn_statements("sqlite")[0].compile(dialect=dialect)
    assert compiled.positiontup == ["source_id", "block_hash", "pages", "sample", "last_seen", "kind",
                                    "pages_1"], compiled.positiontup  # the order the rows below are in
    stamp_type = TemplateBlock.__table__.c.last_seen.type
    convert = stamp_type.dialect_impl(dialect).bind_processor(dialect)  # UTCDateTime's, then SQLite's own
    return str(compiled), convert or (lambda v: v)


def learn_page(session: Session, source_id: str, ex: Extracted, when: dt.datetime) -> None:
    """Count the page of a NEW article (not a revisit, not another URL of a known one) into the template."""
    rows = [(h, sample.replace("\x00", " "), kind) for h, (kind, sample) in page_hashes(ex).items()]
    dialect = session.get_bind().dialect.name
    count_blocks, count_page = _learn_statements(dialect)
    conn = session.connection()
    if rows and dialect == "sqlite":  # one executemany per page, the driver's (see _sqlite_count_blocks)
        sql, convert = _sqlite_count_blocks()
        stamp = convert(when)
        conn.exec_driver_sql(sql, [(source_id, h, 1, sample, stamp, kind, 1) for h, sample, kind in rows])
    elif rows:  # one executemany per page, on the table (Core), not the ORM's bulk path
        conn.execute(count_blocks, [{"source_id": source_id, "block_hash": h, "pages": 1, "sample": sample,
                                     "last_seen": when, "kind": kind} for h, sample, kind in rows])
    pages = conn.execute(count_page, {"source_id": source_id}).scalar() or 0
    if pages % PRUNE_EVERY == 0:
        prune_scheduled(session, source_id)


def apply_stored(session: Session, source_id: str, result: Extracted | Skipped, indexed: bool = False
                 ) -> Extracted | Skipped:
    """``apply`` with the source's stored template (what the archive pipeline calls before writing; ``indexed``:
    see ``load_model``)."""
    if not isinstance(result, Extracted):
        return result
    return apply(result, load_model(session, source_id, result, indexed))


def prune_blocks(session: Session, source_id: str, before: dt.datetime, max_pages: int = 1) -> int:
    """Forget blocks seen on ``max_pages`` pages or fewer and not since ``before``: they were never going to
    be template.  An index range scan (ix_template_blocks_prune: source, pages, last seen)."""
    from storage.models import TemplateBlock

    where = [TemplateBlock.source_id == source_id, TemplateBlock.pages <= max_pages, TemplateBlock.last_seen < before]
    if session.get_bind().dialect.name == "sqlite":
        # never the table's last row (the newest, so hardly ever old and rare anyway): SQLite would hand its
        # rowid out again, and the extraction workers' indexes read only the rows past the top rowid they saw
        rowid: Any = literal_column("rowid")
        where.append(rowid < select(func.max(rowid)).select_from(TemplateBlock.__table__).scalar_subquery())
    res = session.execute(delete(TemplateBlock).where(*where))
    return int(getattr(res, "rowcount", 0) or 0)


# The pruning schedule.  Every page of a new article adds a row for each of its blocks never seen before (most
# of its paragraphs), so the table would grow with the archive; what matters is only what recurs.  Every
# PRUNE_EVERY new pages of a source, a block seen on one page only, and not again on the source's next
# PRUNE_WINDOW new articles, is forgotten (template is on 5 % of the pages: 100 of 2000); one seen on fewer than
# MIN_PAGES pages, after 5 x PRUNE_WINDOW.  Counted in new articles, not in days, so a slow ministry portal (a
# dozen pages a day) keeps its counts as long as a busy newspaper, and a 250,000-page backfill stays bounded.
PRUNE_EVERY = 500
PRUNE_WINDOW = 2000


def prune_scheduled(session: Session, source_id: str) -> int:
    """Run the pruning schedule for a source now (``learn_page`` calls it every PRUNE_EVERY pages)."""
    from storage.models import Article

    def cutoff(n: int) -> dt.datetime | None:
        # when the source's n-th newest article was first seen (index on articles.source_id)
        return session.execute(select(Article.first_seen).where(Article.source_id == source_id)
                               .order_by(Article.id.desc()).offset(n).limit(1)).scalar()

    pruned = 0
    for window, max_pages in ((PRUNE_WINDOW, 1), (5 * PRUNE_WINDOW, MIN_PAGES - 1)):
        before = cutoff(window)
        if before is not None:
            pruned += prune_blocks(session, source_id, before, max_pages)
    if pruned:
        logger.info("%s: template: %d blocks seen too rarely to matter were forgotten", source_id, pruned)
    return pruned
