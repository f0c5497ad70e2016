"""Engine and session factory: the one place where connection settings (SQLite pragmas) are set."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool
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
    """SQLite opened read-only (mode=ro: never creates a file), query_only, deferred BEGIN (a WAL snapshot).

    On a read-only file system, or a read-only archive whose WAL index (``-shm``) cannot be created, SQLite
    cannot open it even read-only: it is then opened ``immutable`` (no locks, no WAL index), which is right for
    a file nothing can be writing to."""
    resolved = path.resolve()
    uri = resolved.as_uri() + "?mode=ro"

    def connect() -> sqlite3.Connection:
        con = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con
        except sqlite3.OperationalError as e:
            con.close()
            if not _cannot_open_for_reading(e):
                raise
        logger.debug("%s cannot be opened read-only with locking; opening it immutable", resolved)
        return sqlite3.connect(resolved.as_uri() + "?mode=ro&immutable=1", uri=True, check_same_thread=False,
                               isolation_level=None)

    # the URL names the file (for messages); the connections are connect()'s, one per thread as for sqlite://
    engine = create_engine(f"sqlite:///{resolved}", creator=connect, poolclass=SingletonThreadPool)
    event.listen(engine, "connect", _sqlite_read_only)
    event.listen(engine, "begin", _sqlite_begin_read)
    return engine


def _cannot_open_for_reading(e: sqlite3.Error) -> bool:
    msg = str(e).lower()
    return any(s in msg for s in ("unable to open", "readonly", "read-only", "disk i/o error"))


def describe(target: Engine | str) -> str:
    """An archive as people know it: the file of an SQLite archive, else the URL without its password."""
    url = target.url if isinstance(target, Engine) else make_url(target)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return url.database
    return url.render_as_string(hide_password=True)


_checked: set[Path] = set()


FULL_BELOW = 256 << 10  # SQLite's WAL and shared-memory files alone take about 100 kB


def disk_free(directory: Path) -> int | None:
    """Bytes an unprivileged writer may still use on the disk holding ``directory`` (None: unknown)."""
    try:
        st = os.statvfs(directory)
    except (OSError, AttributeError):  # no statvfs on Windows
        return None
    return st.f_bavail * st.f_frsize


def check_sqlite_file(path: Path) -> None:
    """Refuse an existing file that is not a vnarchive archive *before* anything is written to it (the WAL
    switch of every writer connection would otherwise change a foreign database it then refuses).

    The file is only ever read through SQLite (mode=ro): closing a descriptor of our own on a database file
    drops every POSIX lock this process holds on it, SQLite's included (then "disk I/O error" or worse)."""
    key = path.resolve()
    if key in _checked:
        return
    try:
        if path.stat().st_size == 0:
            return  # new, empty: becomes the archive
    except FileNotFoundError:
        return
    except OSError as e:
        raise ArchiveError(f"{path}: cannot read it: {e.strerror or e}") from None
    try:
        con = sqlite3.connect(key.as_uri() + "?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        free = disk_free(path.parent)
        if free is not None and free < FULL_BELOW:
            # SQLite cannot make the archive's WAL and shared-memory files there and says only "disk I/O error"
            raise ArchiveError(f"the disk holding {path} is full ({free >> 10} kB free): free some space "
                               "and run the command again") from None
        raise ArchiveError(f"{path} is not a usable database ({e}): refusing to touch it") from None
    if tables and "alembic_version" not in tables:
        raise ArchiveError(f"{path} holds tables but no vnarchive schema version: refusing to touch a database "
                           "vnarchive did not create")
    _checked.add(key)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and readable by its owner only if it does not exist; an existing file (and its
    permissions) is left as it is."""
    if not path.parent.is_dir():
        return  # make_engine names the missing directory
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        pass
    except OSError as e:
        raise ArchiveError(f"{path}: cannot create it: {e.strerror or e}") from None


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
    if path is not None:
        check_sqlite_file(path)
        if path.exists() and not os.access(path, os.W_OK):
            raise ArchiveError(f"{path} is read-only: this command writes to the archive (read-only commands "
                               "such as export, search and stats work on it)")
    try:
        engine = create_engine(url, **kw)
    except Exception as e:  # a missing driver, say
        raise ArchiveError(f"cannot open {describe(db_url)}: {e}") from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    elif readonly and url.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _pg_read_only)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def db_error_line(exc: BaseException) -> str:
    """The database's own message (not SQLAlchemy's wrapping of it), first line."""
    return (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]


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
        raise ArchiveError(f"{describe(engine)} is not a usable database: {getattr(e, 'orig', e)}") from None
