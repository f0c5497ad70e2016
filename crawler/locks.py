"""Locks that keep one scheduler per archive and one crawl per source.

SQLite archives use ``flock`` on small files beside the database; PostgreSQL archives use session-level
advisory locks.  Both belong to the process (or its connection) that took them, so a ``kill -9`` leaves nothing
stale behind: the kernel drops the flock and the server drops the advisory lock with the connection.

Lock files are never deleted: unlinking a lock file races with a process that has just opened it (both would
then "hold" a lock, on two different inodes).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from storage.db import sqlite_path

logger = logging.getLogger(__name__)


class LockHeld(RuntimeError):
    """Someone else holds the lock; the message says who, when it is known."""


class Lock(Protocol):
    def acquire(self) -> Lock: ...
    def release(self) -> None: ...
    def alive(self) -> bool: ...
    def __enter__(self) -> Lock: ...
    def __exit__(self, *exc: object) -> None: ...


class FileLock:
    """An exclusive, non-blocking ``flock`` on ``path`` (created 0600); the holder's pid is written in it."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self._fd: int | None = None

    def acquire(self) -> FileLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}; " if holder else ""
            raise LockHeld(f"{self.what} is already running ({who}lock {self.path})") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def alive(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return None


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``, derived from the lock's name."""
    return int.from_bytes(hashlib.sha256(f"vnarchive:{name}".encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock held on a dedicated autocommit connection.

    Autocommit so the connection never sits "idle in transaction" for the lock's lifetime (a server
    ``idle_in_transaction_session_timeout`` would end the session and the lock with it).
    """

    def __init__(self, engine: Engine, name: str, what: str) -> None:
        self.engine, self.key, self.what = engine, advisory_key(name), what
        self._conn: Any = None

    def acquire(self) -> AdvisoryLock:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            ok = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        except BaseException:
            conn.close()
            raise
        if not ok:
            conn.close()
            raise LockHeld(f"{self.what} is already running (PostgreSQL advisory lock {self.key} is held)")
        self._conn = conn
        return self

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except Exception:  # the connection is gone, and the lock with it
                logger.debug("advisory unlock failed", exc_info=True)
            self._conn.close()
            self._conn = None

    def alive(self) -> bool:
        """False when the connection holding the lock was lost (then so is the lock)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def __enter__(self) -> AdvisoryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class NullLock:
    """For an in-memory SQLite archive: nothing outside this process can see it, so nothing to exclude."""

    def acquire(self) -> NullLock:
        return self

    def release(self) -> None:
        pass

    def alive(self) -> bool:
        return True

    def __enter__(self) -> NullLock:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


# ---------------------------------------------------------------- where the files live

def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def daemon_lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".scheduler.lock")


def source_lock_path(db: Path, source_id: str) -> Path:
    return db.with_name(db.name + ".locks") / f"{source_id}.lock"


def control_dir(db_url: str) -> Path:
    """Where run-now requests and the daemon's state file go: beside an SQLite archive, else a per-user state
    directory keyed by the database URL (so `run-now` reaches a daemon on the same machine)."""
    db = sqlite_path(db_url)
    if db is not None:
        return db.with_name(db.name + ".control")
    url = make_url(db_url).render_as_string(hide_password=True)
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "vnarchive" / hashlib.sha256(url.encode()).hexdigest()[:16] / "control"


def daemon_lock(db_url: str, engine: Engine | None = None) -> Lock:
    """The lock a scheduler holds for its whole life (one daemon per archive)."""
    what = "a vnarchive scheduler for this archive"
    db = sqlite_path(db_url)
    if db is not None:
        return FileLock(daemon_lock_path(db), what)
    if make_url(db_url).get_backend_name() == "postgresql":
        assert engine is not None, "PostgreSQL locks need the archive's engine"
        return AdvisoryLock(engine, "scheduler", what)
    return NullLock()


def source_lock(db_url: str, source_id: str, engine: Engine | None = None) -> Lock:
    """The lock a crawl of ``source_id`` holds while it runs (one crawl per source, manual or scheduled)."""
    what = f"a crawl of {source_id}"
    db = sqlite_path(db_url)
    if db is not None:
        path = source_lock_path(db, source_id)
        private_dir(path.parent)
        return FileLock(path, what)
    if make_url(db_url).get_backend_name() == "postgresql":
        assert engine is not None, "PostgreSQL locks need the archive's engine"
        return AdvisoryLock(engine, f"crawl:{source_id}", what)
    return NullLock()


@contextmanager
def source_locks(db_url: str, engine: Engine | None, source_ids: list[str]) -> Iterator[dict[str, str]]:
    """Take the crawl lock of each source that is free; yields {source_id: why} for those that are busy.

    A busy source is skipped rather than waited for: a scheduled run that waited would pile up behind a long
    manual crawl, and the next slot comes soon enough.
    """
    busy: dict[str, str] = {}
    with ExitStack() as held:
        for sid in source_ids:
            try:
                held.enter_context(source_lock(db_url, sid, engine))
            except LockHeld as e:
                busy[sid] = str(e)
        yield busy


def holder(lock: Lock) -> str | None:
    """Who holds ``lock``, or None when it is free: a non-blocking try, released at once."""
    try:
        lock.acquire()
    except LockHeld as e:
        return str(e)
    lock.release()
    return None
