"""The crawl's frontier on disk: Scrapy's scheduler keeps the requests it has not sent in a per-run folder.

A first crawl of a large site discovers its whole sitemap at once: 120,000 article requests held in memory are
about 150 MB of Request objects (measured, 1.25 kB each) in the crawl's main process, for as long as they wait.
With ``JOBDIR`` set, Scrapy's scheduler pushes each request to a disk queue instead (pickled; the callbacks are
the spider's own methods) and keeps only what cannot be pickled in memory.  The folder is this run's only:
nothing is resumed from it (the archive is what a later crawl resumes from: pending pages, the URLs to retry,
the articles it knows), and it is removed when the crawl ends; one a killed crawl left is removed by the next.
A temporary directory that cannot be written costs memory, not requests: the frontier stays in memory, as
Scrapy keeps it without a JOBDIR; one that fills up mid-crawl is ``FrontierScheduler``'s to handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from scrapy import Request
from scrapy.core.scheduler import Scheduler

from storage.reserve import pid_alive

logger = logging.getLogger(__name__)

PREFIX = "vnarchive-frontier-"
FRONTIER_ERROR = "frontier_error"  # the finish reason of a crawl whose disk queue could not be read back
_NAME = re.compile(rf"^{PREFIX}(\d+)-")


class FrontierDirs:
    """``with FrontierDirs() as f: f.settings(source_id)``: one JOBDIR per source, all under a folder of this
    run's in the system's temporary directory, removed on exit."""

    def __init__(self, base: Path | None = None) -> None:
        self.base = Path(base or tempfile.gettempdir())
        self._pid = os.getpid()
        self.root: Path | None = None

    def __enter__(self) -> FrontierDirs:
        self._remove_orphans()
        try:
            self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{self._pid}-", dir=self.base))
        except OSError as e:
            logger.warning("the crawl's frontier stays in memory: %s cannot be written (%s)", self.base, e)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def settings(self, source_id: str) -> dict[str, str]:
        """The Scrapy settings that put ``source_id``'s frontier on disk (none when it cannot be)."""
        if self.root is None:
            return {}
        path = self.root / re.sub(r"[^\w.-]", "_", source_id)
        try:
            path.mkdir(exist_ok=True)
        except OSError as e:
            logger.warning("%s: the frontier stays in memory: %s", source_id, e)
            return {}
        return {"JOBDIR": str(path), "SCHEDULER": f"{__name__}.FrontierScheduler"}

    def _remove_orphans(self) -> None:
        """The folders of crawls that were killed (their process is gone); a live crawl's are kept."""
        try:
            entries = list(self.base.iterdir())
        except OSError:
            return
        for entry in entries:
            m = _NAME.match(entry.name)
            if m is None or int(m[1]) == self._pid:
                continue
            try:
                dead = not pid_alive(int(m[1])) and entry.is_dir()
            except (OverflowError, OSError):  # no such pid could exist: not a folder of ours
                continue
            if dead:
                shutil.rmtree(entry, ignore_errors=True)


class FrontierScheduler(Scheduler):
    """Scrapy's scheduler with its frontier on disk, and what it does when that disk fails.

    - Once TMPDIR has less than MIN_FREE left, or a write to the disk queue fails, new requests wait in memory
      (as one that cannot be pickled does in Scrapy); those on disk are still sent.
    - A disk queue that cannot be read back (a failed write leaves the queue's file unreadable) ends the crawl,
      its run failed with the count of requests not sent (``FRONTIER_ERROR``): a later crawl finds them again,
      since none of them was archived, and a failed run records no listing as walked to its end.
    - The duplicate filter keeps its fingerprints in memory only (with a JOBDIR Scrapy also appends them to a
      file, which a full disk would fail on, and nothing here is ever resumed from it).
    """

    MIN_FREE = 64 * 1024 * 1024  # below this much free space in TMPDIR, new requests wait in memory
    CHECK_EVERY = 256  # pushes between two looks at the free space (a statvfs)

    _disk_failed = False
    _pushes = 0

    def open(self, spider: Any) -> Any:
        file = getattr(self.df, "file", None)
        if file is not None:
            file.close()
            self.df.file = None  # type: ignore[attr-defined]
        return super().open(spider)

    def _dqpush(self, request: Request) -> bool:
        if self._disk_failed or not self._room_left():
            return False
        try:
            return super()._dqpush(request)
        except OSError as e:
            self._disk_failed = True
            logger.warning("the frontier's disk queue failed (%s): requests wait in memory from now", e)
            assert self.stats is not None
            self.stats.inc_value("scheduler/disk_failed")
            return False

    def _room_left(self) -> bool:
        """Whether the disk queue may grow: a disk that fills up is left before a write fails on it (a failed
        write leaves the queue unreadable, and what it holds lost to this run)."""
        self._pushes += 1
        if self.dqdir is None or self._pushes % self.CHECK_EVERY:
            return True
        try:
            st = os.statvfs(self.dqdir)
        except OSError:
            return True  # the write itself will say
        free = st.f_bavail * st.f_frsize
        if free >= self.MIN_FREE:
            return True
        self._disk_failed = True
        logger.warning("%s has %d MB free: the crawl's new requests wait in memory from now", self.dqdir,
                       free // (1024 * 1024))
        assert self.stats is not None
        self.stats.inc_value("scheduler/disk_full")
        return False

    def _dqpop(self) -> Request | None:
        try:
            return super()._dqpop()
        except Exception as e:  # noqa: BLE001 - OSError, or a torn record: struct, pickle, EOF errors
            lost = self._drop_disk_queue()
            logger.error("the frontier's disk queue cannot be read (%s): %d requests not sent; the crawl stops",
                         e, lost)
            assert self.stats is not None
            self.stats.set_value("scheduler/disk_lost", lost)
            assert self.crawler is not None
            asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=FRONTIER_ERROR))
            return None

    def _drop_disk_queue(self) -> int:
        dqs, self.dqs = self.dqs, None
        if dqs is None:
            return 0
        lost = len(dqs)
        with contextlib.suppress(Exception):  # the folder goes with the run anyway
            dqs.close()
        return lost

    def close(self, reason: str) -> Any:
        try:
            return super().close(reason)
        except OSError as e:  # writing the queue's state for a resume that never comes: nothing to keep
            logger.debug("the frontier's disk queue did not close: %s", e)
            self.dqs = None
            return super().close(reason)
