"""The crawl's frontier on disk: Scrapy's scheduler keeps the requests it has not sent in a per-run folder.

A first crawl of a large site discovers its whole sitemap at once: 120,000 article requests held in memory are
about 150 MB of Request objects (measured, 1.25 kB each) in the crawl's main process, for as long as they wait.
With ``JOBDIR`` set, Scrapy's scheduler pushes each request to a disk queue instead (pickled; the callbacks are
the spider's own methods) and keeps only what cannot be pickled in memory.  The folder is this run's only:
nothing is resumed from it (the archive is what a later crawl resumes from: pending pages, the URLs to retry,
the articles it knows), and it is removed when the crawl ends; one a killed crawl left is removed by the next.
A temporary directory that cannot be written (read-only, full) costs memory, never a request: the frontier
then stays in memory, as Scrapy keeps it without a JOBDIR.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from scrapy import Request
from scrapy.core.scheduler import Scheduler

from storage.reserve import pid_alive

logger = logging.getLogger(__name__)

PREFIX = "vnarchive-frontier-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-")


class FrontierDirs:
    """``with FrontierDirs() as f: f.jobdir(source_id)``: one JOBDIR per source, all under a folder of this
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
            if m and int(m[1]) != self._pid and not pid_alive(int(m[1])) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)


class FrontierScheduler(Scheduler):
    """Scrapy's scheduler, but a request its disk queue cannot take (the disk is full, a write failed) waits in
    memory, as one that cannot be pickled does, instead of failing the callback that made it."""

    _disk_failed = False

    def _dqpush(self, request: Request) -> bool:
        if self._disk_failed:
            return False
        try:
            return super()._dqpush(request)
        except OSError as e:
            if not self._disk_failed:
                self._disk_failed = True
                logger.warning("the frontier's disk queue failed (%s): the requests wait in memory from now", e)
            assert self.stats is not None
            self.stats.inc_value("scheduler/disk_failed")
            return False
