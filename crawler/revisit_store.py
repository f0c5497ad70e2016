"""What a crawl asks the archive about the articles it finds, instead of holding them all in memory.

The spider never loads a source's known articles: a page's (or a sitemap's) article URLs are keyed and looked
up in one indexed query per few hundred keys; revisits are picked in keyset batches, oldest check first.  The
calls block, so the spider makes them off the reactor thread.  Reads go through a read-only engine (a WAL
snapshot per call, never taking the writer's lock); the little this module writes (listing state and
sitemap <lastmod>s, at the end of a crawl) goes through the archive writer.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Container, Iterator, Sequence
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.sources import Source
from crawler.revisit import KnownArticle, pick_revisits
from storage import repo
from storage.db import make_engine, make_session_factory, retrying, sqlite_path

BATCH = 500  # keys per lookup, rows per revisit batch: far below SQLite's bound-parameter limit

_readers: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()


def _reader_engine(db_url: str) -> Engine:
    """A reading engine for the crawl.  Not SQLite's ``mode=ro`` (``make_engine(readonly=True)``): a read-only
    connection cannot create the WAL's -shm file, so it fails ("disk I/O error") whenever no other connection
    holds the archive open at that moment.  Opened read-write, it only reads: ``query_only``, and a deferred
    BEGIN (a WAL snapshot), never the writer's BEGIN IMMEDIATE, so it never waits for or blocks a write."""
    if sqlite_path(db_url) is None:
        return make_engine(db_url, readonly=True)
    engine = create_engine(db_url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin event below says BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def reader(db_url: str) -> sessionmaker[Session]:
    """One reading session factory per archive, shared by the crawl's spiders and threads."""
    with _lock:
        if db_url not in _readers:
            _readers[db_url] = make_session_factory(_reader_engine(db_url))
        return _readers[db_url]


def known_article(row: Sequence[Any]) -> KnownArticle:
    """A repo.known_by_keys / revisit_batch row (without its key) as the revisit policy sees it."""
    aid, url, status, published, first_seen, last_fetched, etag, last_modified, modified, listed = row
    return KnownArticle(aid, url, status, published, first_seen, last_fetched, etag, last_modified, modified, listed)


class ArchiveView:
    """The archive as one crawl sees it.  Every method blocks: call it off the reactor thread."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.factory = reader(db_url)

    def known(self, source_id: str, keys: Sequence[str]) -> dict[str, KnownArticle]:
        """key -> the article of this source it belongs to, for the keys that are known."""
        out: dict[str, KnownArticle] = {}
        keys = list(dict.fromkeys(keys))
        with self.factory() as s:
            for i in range(0, len(keys), BATCH):
                for row in repo.known_by_keys(s, source_id, keys[i:i + BATCH]):
                    out[row[0]] = known_article(row[1:])
        return out

    def live_count(self, source_id: str) -> int:
        with self.factory() as s:
            return repo.count_live(s, source_id)

    def candidates(self, source_id: str, seen_before: dt.datetime | None = None) -> Iterator[KnownArticle]:
        """Every article of the source a revisit may pick (first seen before ``seen_before``: not new in this
        crawl), oldest check first, read a batch at a time."""
        after: tuple[dt.datetime | None, int] = (None, 0)
        while True:
            with self.factory() as s:
                rows = repo.revisit_batch(s, source_id, after, BATCH, seen_before)
            for row in rows:
                yield known_article(row)
            if len(rows) < BATCH:
                return
            after = (rows[-1][5], rows[-1][0])

    def pick_revisits(self, source: Source, now: dt.datetime, limit: int, exclude: Container[int] = (),
                      listed: Container[int] | None = None,
                      signalled: Container[int] | None = None) -> list[tuple[KnownArticle, str]]:
        """Revisits for a crawl that started at ``now``: the articles it found new are never picked."""
        return list(pick_revisits(self.candidates(source.id, now), now, source.revisit, limit, exclude, listed,
                                  signalled))

    def listing_state(self, source_id: str, run_id: int | None) -> tuple[int | None, dict[str, tuple[Any, Any]]]:
        """(the source's previous crawl, family -> (backfilled_at, clean_run_id))."""
        with self.factory() as s:
            return repo.previous_run_id(s, source_id, run_id), repo.listing_states(s, source_id)


@retrying()
def save_listing_state(factory: sessionmaker[Session], source_id: str, run_id: int, walked_back: dict[str, bool],
                       when: dt.datetime) -> None:
    with factory.begin() as s:
        repo.save_listing_states(s, source_id, run_id, walked_back, when)


@retrying()
def learn_lastmods(factory: sessionmaker[Session], source_id: str, lastmods: dict[str, dt.datetime]) -> None:
    """key -> the sitemap <lastmod> of the version archived under it (never moving one back)."""
    keys = list(lastmods)
    with factory.begin() as s:
        for i in range(0, len(keys), BATCH):
            repo.learn_listed_lastmods(s, source_id, {k: lastmods[k] for k in keys[i:i + BATCH]})
