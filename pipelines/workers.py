"""Extraction off the reactor: a process pool sized to the CPUs, each worker memory-capped, each page timed.

A page that hangs the parser (pathological markup) or blows past the memory cap costs its worker, not the
crawl: the pool is replaced and the page is recorded as skipped with the reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import multiprocessing
import os
import threading
from concurrent.futures.process import BrokenProcessPool

from config.sources import Extraction
from pipelines.items import Extracted, Skipped

logger = logging.getLogger(__name__)

WORKER_MEMORY_BYTES = 2 * 1024**3
PAGE_TIMEOUT_S = 30.0


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on every platform
        pass


def _extract(body: bytes, url: str, content_type: str | None, hints: Extraction) -> Extracted | Skipped:
    from pipelines.extract import extract_article
    from pipelines.stories import shingles, signature_of

    try:
        result = extract_article(body, url, content_type, hints)
        if isinstance(result, Extracted):
            sh = shingles(result.text)
            result.signature, result.shingle_count = signature_of(sh), len(sh)
        return result
    except MemoryError:
        return Skipped("too_large_to_parse")
    except RecursionError:
        return Skipped("too_deeply_nested")
    except Exception as e:  # a bug or a page no parser copes with: keep the raw page, skip, go on
        logging.getLogger(__name__).exception("extraction failed on %s", url)
        return Skipped(f"extraction_error:{type(e).__name__}")


class ExtractorPool:
    """One per process, shared by every crawler of a `crawl --all`."""

    _lock = threading.Lock()
    _instance: ExtractorPool | None = None

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def shared(cls) -> ExtractorPool:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            # spawn: never fork a process that runs a reactor and threads
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_limit_memory)
        return self._pool

    def _reset(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            for p in list(getattr(pool, "_processes", {}).values()):
                p.kill()
            pool.shutdown(wait=False, cancel_futures=True)

    async def extract(self, body: bytes, url: str, content_type: str | None, hints: Extraction,
                      timeout: float = PAGE_TIMEOUT_S) -> Extracted | Skipped:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        # one page per worker at a time, so the timeout measures the page's own work, not the queue
        async with self._slots:
            return await self._run(body, url, content_type, hints, timeout)

    async def _run(self, body: bytes, url: str, content_type: str | None, hints: Extraction,
                   timeout: float) -> Extracted | Skipped:
        try:
            fut = self._executor().submit(_extract, body, url, content_type, hints)
            return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)
        except (TimeoutError, BrokenProcessPool) as e:
            return self._lost_worker(url, timeout, e)

    def extract_blocking(self, body: bytes, url: str, content_type: str | None, hints: Extraction,
                         timeout: float = PAGE_TIMEOUT_S) -> Extracted | Skipped:
        """The same, for a worker thread (never the reactor): waits for the result."""
        try:
            return self._executor().submit(_extract, body, url, content_type, hints).result(timeout)
        except (cf.TimeoutError, BrokenProcessPool) as e:
            return self._lost_worker(url, timeout, e)

    def _lost_worker(self, url: str, timeout: float, exc: BaseException) -> Skipped:
        """A page that hung or killed its worker: restart the pool, skip the page (its capture is kept)."""
        self._reset()
        if isinstance(exc, BrokenProcessPool):
            logger.warning("an extraction worker died on %s (memory cap?); worker pool restarted", url)
            return Skipped("extraction_crashed")
        logger.warning("extraction of %s took over %.0f s; worker pool restarted", url, timeout)
        return Skipped("extraction_timeout")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
