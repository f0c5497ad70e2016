"""Engine and session factory: the one place where connection settings (SQLite pragmas) are set."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ArchiveError(RuntimeError):
    """The archive cannot be used (bad URL, unreadable or foreign file, schema too new...)."""


def sqlite_path(db_url: str) -> Path | None:
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # autocommit at the driver level: SQLAlchemy's begin event below issues BEGIN IMMEDIATE itself, so a
    # write transaction takes the write lock up front instead of failing on a deferred read->write upgrade.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_read(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def _pg_read_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cur.close()
    dbapi_conn.commit()


def _sqlite_reader(path: Path) -> Engine:
    """SQLite opened read-only (mode=ro: never creates a file), query_only, deferred BEGIN (a WAL snapshot)."""
    uri = path.resolve().as_uri() + "?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)

    engine = create_engine("sqlite://", creator=connect)
    event.listen(engine, "connect", _sqlite_read_only)
    event.listen(engine, "begin", _sqlite_begin_read)
    return engine


def make_engine(db_url: str, readonly: bool = False, **kw: Any) -> Engine:
    """The engine for an archive.  Writers take SQLite's write lock when a transaction begins (BEGIN
    IMMEDIATE), so two writers queue instead of failing on a read-to-write upgrade; ``readonly`` engines
    (export, search, the web view) begin deferred and cannot write, so a long read never holds the lock
    the crawler needs, and they never create an archive where there is none."""
    try:
        url = make_url(db_url)
    except ArgumentError:
        raise ArchiveError(f"VNARCHIVE_DB={db_url!r} is not an SQLAlchemy database URL "
                           "(e.g. sqlite:///archive.db or postgresql+psycopg://user@host/db)") from None
    path = sqlite_path(db_url)
    if path is not None and not path.parent.exists():
        raise ArchiveError(f"{path}: the directory {path.parent} does not exist")
    if path is not None and readonly:
        if not path.is_file():
            raise ArchiveError(f"{path} does not exist: no archive there (run `vnarchive crawl` first)")
        return _sqlite_reader(path)
    try:
        engine = create_engine(url, **kw)
    except Exception as e:  # a missing driver, say
        raise ArchiveError(f"cannot open {url.render_as_string(hide_password=True)}: {e}") from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    elif readonly and url.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _pg_read_only)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_transient(exc: BaseException) -> bool:
    """Lock contention worth retrying: SQLite's 'database is locked/busy', PostgreSQL serialization/deadlock."""
    if not isinstance(exc, OperationalError | DatabaseError):
        return False
    msg = str(getattr(exc, "orig", exc)).lower()
    return any(s in msg for s in ("database is locked", "database is busy", "deadlock detected",
                                  "could not serialize", "database table is locked"))


def retrying(attempts: int = 6, also: tuple[type[BaseException], ...] = ()) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Retry a whole transaction on lock contention (and on ``also``): bounded, jittered exponential, logged,
    re-raised."""
    return retry(
        retry=retry_if_exception(lambda e: is_transient(e) or isinstance(e, also)),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.2, max=5),
        before_sleep=before_sleep_log(logger, logging.WARNING),
        reraise=True,
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """``with transaction(f) as s:`` commits on success, rolls back on error; repository calls never commit."""
    with factory.begin() as session:
        yield session


def table_names(engine: Engine) -> set[str]:
    try:
        return set(inspect(engine).get_table_names())
    except DatabaseError as e:
        raise ArchiveError(f"{engine.url.render_as_string(hide_password=True)} is not a usable database: "
                           f"{getattr(e, 'orig', e)}") from None
