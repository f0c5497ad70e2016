"""The web view's engine: read-only, and safe to share between the server's worker threads.

storage.db opens SQLite read-only through a custom connection factory on a ``sqlite://`` engine, which
SQLAlchemy pairs with a ``SingletonThreadPool``: one connection per thread, and once more threads than its
size have asked it closes connections that other threads are still using (HTTP 500 "Cannot operate on a
closed database", then segfaults). Fine for a command that reads from one thread; not for a server. So when the
reader's pool is not one made for sharing, its connections are taken one at a time, each opened by storage.db
(with its read-only settings, whatever they become), detached from that pool, and kept in a ``QueuePool`` of
one connection per worker thread. PostgreSQL readers already use a ``QueuePool`` and are used as they are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool, QueuePool

from storage.reading import open_reader

SHAREABLE = (QueuePool, NullPool)


def reader_engine(db_url: str, size: int) -> Engine:
    """A read-only engine that ``size`` threads can use at once, one connection each."""
    engine = open_reader(db_url)
    if isinstance(engine.pool, SHAREABLE):
        return engine
    engine.dispose()

    def connect() -> Any:
        one = open_reader(db_url)
        try:
            proxied = one.raw_connection()
            proxied.detach()  # ours now: that engine's pool forgets it and will not close it
            return proxied.dbapi_connection
        finally:
            one.dispose()

    shared = create_engine("sqlite://", creator=connect, poolclass=QueuePool, pool_size=size, max_overflow=0,
                           pool_timeout=30)
    # as storage.db's reader does: the driver is in autocommit mode and a transaction begins deferred, so a
    # page reads one snapshot of the archive and never takes the crawler's write lock
    event.listen(shared, "begin", _begin_deferred)
    return shared


def _begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")
