"""Room held on a SQLite archive's disk while a crawl writes.

A crawl that fills the disk must still record how it ended: its runs' status and error, the URLs it gave up
on.  Those last writes need a few pages of their own, and a full disk has none, so the run would stay
'running' until the next crawl marks it killed.  The crawl therefore holds ``RESERVE`` bytes in a file beside
the archive (``<archive>-reserve-<pid>``), taken once the archive's own files are open and before the run is
started, and gives them back just before it records its end.  The file of a crawl that was killed is removed
by the next one."""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
from pathlib import Path

from storage.db import ArchiveError, disk_free

logger = logging.getLogger(__name__)

RESERVE = 1 << 20  # a run's end is a few pages of WAL; 1 MiB leaves a wide margin
SMALLEST = 16 << 10  # a run's end, about three WAL frames


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` of this host exists (a pid kept in a run's row or a reserve file's name)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DiskReserve:
    """``take()`` when the crawl starts writing, ``give_back()`` before its last writes (and on leaving a
    ``with`` block, whatever happened); a no-op for an archive that is not a SQLite file (a server keeps its own
    disk)."""

    def __init__(self, db_path: Path | None) -> None:
        self.path = db_path.with_name(f"{db_path.name}-reserve-{os.getpid()}") if db_path is not None else None
        self.held = 0

    def take(self) -> int:
        """Hold up to RESERVE bytes (halving on a disk that has less); the bytes held.  A disk without even
        SMALLEST bytes free is an ArchiveError: nothing can be archived, and the run could not be closed."""
        if self.path is None or not self.path.parent.is_dir():
            return 0  # opening the archive names the missing directory
        self._remove_orphans()
        size = RESERVE
        while size >= SMALLEST:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                try:
                    _allocate(fd, size)
                finally:
                    os.close(fd)
            except OSError as e:
                if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    logger.warning("cannot hold disk space for the end of the crawl (%s): %s", self.path,
                                   e.strerror or e)
                    self._unlink()
                    return 0
                size //= 2
                continue
            self.held = size
            return size
        self._unlink()
        free = disk_free(self.path.parent)
        raise ArchiveError(f"the disk holding {self.path.parent} is full"
                           + (f" ({free >> 10} kB free)" if free is not None else "")
                           + ": free some space and crawl again")

    def __enter__(self) -> DiskReserve:
        return self

    def __exit__(self, *exc: object) -> None:
        self.give_back()

    def give_back(self) -> None:
        if self.path is not None and self.held:
            self._unlink()
            self.held = 0

    def _unlink(self) -> None:
        assert self.path is not None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _remove_orphans(self) -> None:
        assert self.path is not None
        stem = self.path.name.rsplit("-", 1)[0] + "-"
        for other in self.path.parent.glob(f"{glob.escape(stem)}*"):
            pid = other.name[len(stem):]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    other.unlink()


def _allocate(fd: int, size: int) -> None:
    """Blocks really taken from the disk (a sparse file would hold nothing)."""
    if hasattr(os, "posix_fallocate"):  # not on macOS
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    chunk = b"\0" * (64 << 10)
    for _ in range(size // len(chunk)):
        os.write(fd, chunk)
    os.fsync(fd)
