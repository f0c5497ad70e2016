"""Extraction off the reactor: worker processes, each memory-capped, each page timed, each failure its own.

Every worker is one process with its own pipe, doing one page at a time: no queue or lock is shared between
workers, so a page that hangs the parser (pathological markup) or kills its worker (a crash, the memory cap)
costs that worker and that page only.  The worker is replaced; pages other workers are extracting never
notice.  A page whose worker died is tried once more on a fresh worker (the kernel's OOM killer, say, picks
its victim by size, not by guilt); a second death, or a timeout, records the page as skipped with the reason
(its capture is kept, so ``reextract`` can try again).

Workers die with the crawl: they ignore SIGINT and SIGTERM (the crawl decides when to stop, and a Ctrl-C at
the terminal reaches the whole process group), and ``PR_SET_PDEATHSIG`` kills them when the crawl process
dies, ``kill -9`` included.  :meth:`ExtractorPool.stop` abandons every extraction at once (an interrupt:
those pages are fetched again by a later crawl).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from config.sources import Extraction
from pipelines.items import Extracted, Skipped

logger = logging.getLogger(__name__)

# a worker's address space: 7x what one needs for ordinary pages (about 150 MB), so no process of a crawl
# grows past 1 GB; a page that needs more is skipped as too_large_to_parse
WORKER_MEMORY_BYTES = 1024**3
# larger pages are not parsed at all (lxml needs some 30x a page's size, and such a page is no article
# anyway): skipped as too_large_to_parse, the raw page kept (trafilatura's own MAX_FILE_SIZE is 20 MB)
MAX_PARSE_BYTES = 16 * 1024**2
PAGE_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class ExtractionStopped(RuntimeError):
    """The pool was stopped (the crawl is being interrupted): the page was not extracted."""


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on every platform
        pass


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent dies (Linux); exit now if the parent is already gone."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the crawl's process group and close() still end us
        pass
    if os.getppid() != parent_pid:
        os._exit(0)


def _extract(body: bytes, url: str, content_type: str | None, hints: Extraction,
             archive: tuple[str, str] | None = None) -> Extracted | Skipped:
    """Extract one page; with ``archive`` (database URL, source id), also apply the source's learnt template as
    the archive holds it now, so the archive writer (one thread, sharing the GIL with the crawl) need not."""
    from pipelines.archive import content_of
    from pipelines.extract import extract_article
    from pipelines.stories import shingle_hashes, signature_of
    from pipelines.template import page_hashes

    try:
        result = extract_article(body, url, content_type, hints)
        if isinstance(result, Extracted):
            sh = shingle_hashes(result.text)
            result.signature, result.shingle_count = signature_of(sh), len(sh)
            # hashed here, not in the archive writer; the blocks themselves need not travel back
            result.learned, result.blocks = page_hashes(result), ()
            result.identity = content_of(result).sha256()
            if archive is not None:
                result.template_text = _template_text(archive, result)
        return result
    except MemoryError:
        return Skipped("too_large_to_parse")
    except RecursionError:
        return Skipped("too_deeply_nested")
    except Exception as e:  # a bug or a page no parser copes with: keep the raw page, skip, go on
        logging.getLogger(__name__).exception("extraction failed on %s", url)
        return Skipped(f"extraction_error:{type(e).__name__}")


_readers: dict[str, Any] = {}


def archive_reader(db_url: str) -> Any:
    """This worker's read-only session factory for the archive at ``db_url`` (made once)."""
    from storage.db import make_engine, make_session_factory

    if db_url not in _readers:
        _readers[db_url] = make_session_factory(make_engine(db_url, readonly=True))
    return _readers[db_url]


def _template_text(archive: tuple[str, str], ex: Extracted) -> str | None:
    """``ex``'s text cleaned by the template read from the archive (a read-only session of this worker's own);
    None when the archive cannot be read here (the writer then applies the template itself)."""
    from pipelines.template_store import apply_stored

    db_url, source_id = archive
    try:
        with archive_reader(db_url)() as session:
            cleaned = apply_stored(session, source_id, ex, indexed=True)
        return cleaned.text if isinstance(cleaned, Extracted) else None
    except Exception as e:  # noqa: BLE001 - a busy or unreadable archive costs the writer this work, nothing more
        logging.getLogger(__name__).debug("template not applied in the worker: %s", e)
        return None


@dataclass(frozen=True, slots=True)
class Call:
    """A job for a worker other than a page: ``fn(*args)``, ``fn`` a module-level function (pickled by name)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CallFailed:
    """What a worker answers when a ``Call`` raised (the worker itself goes on)."""

    error: str


def _answer(call: Call) -> Any:
    try:
        return call.fn(*call.args)
    except Exception as e:  # noqa: BLE001 - told to the caller, who raises it
        logging.getLogger(__name__).exception("%s failed in a worker", getattr(call.fn, "__qualname__", call.fn))
        return CallFailed(f"{type(e).__name__}: {e}")


def _worker_main(conn: Connection, target: Callable[..., Any], parent_pid: int) -> None:
    """A worker's life: pages in, results out, until the pipe closes."""
    die_with_parent(parent_pid)
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _limit_memory()
    if target is _extract:  # the imports (trafilatura, lxml) before the first page, not on it
        import pipelines.extract  # noqa: F401
        import pipelines.stories  # noqa: F401
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        result = _answer(args) if isinstance(args, Call) else target(*args)
        try:
            conn.send(result)
        except OSError:
            return


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """A worker is born with SIGINT/SIGTERM blocked (it ignores them before unblocking): a Ctrl-C while it
    starts up gives no KeyboardInterrupt traceback."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class WorkerLost(RuntimeError):
    """The worker process died (or was killed) while it had a page."""


class _Worker:
    def __init__(self, ctx: Any, target: Callable[..., Any], generation: int) -> None:
        self.generation = generation
        parent, child = ctx.Pipe(duplex=True)
        # spawn: never fork a process that runs a reactor and threads
        self.proc = ctx.Process(target=_worker_main, args=(child, target, os.getpid()), daemon=True,
                                name=f"vnarchive-extract-{generation}")
        with _stop_signals_blocked():
            self.proc.start()
        child.close()
        self.conn: Connection = parent

    def run(self, args: tuple[Any, ...] | Call, timeout: float) -> Any:
        try:
            self.conn.send(args)
            ready = self.conn.poll(timeout)
            if ready:
                return self.conn.recv()
        except (EOFError, OSError) as e:
            raise WorkerLost(str(e) or type(e).__name__) from None
        raise TimeoutError(f"no answer within {timeout:.0f} s")

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.join(2)
        with contextlib.suppress(Exception):
            self.conn.close()

    def alive(self) -> bool:
        return self.proc.is_alive()


class ExtractorPool:
    """One per process, shared by every crawler of a `crawl --all`."""

    _lock = threading.Lock()
    _instance: ExtractorPool | None = None

    def __init__(self, workers: int | None = None, target: Callable[..., Any] = _extract) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.target = target
        self._ctx = multiprocessing.get_context("spawn")
        self._mutex = threading.Lock()
        self._free = threading.Semaphore(self.workers)  # one page per worker at a time
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._generation = 0
        self._stopping = False
        self._threads: cf.ThreadPoolExecutor | None = None
        self._spawn: cf.ThreadPoolExecutor | None = None

    @classmethod
    def shared(cls) -> ExtractorPool:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- workers

    def _take(self) -> _Worker:
        with self._mutex:
            if self._stopping:
                raise ExtractionStopped("the extraction pool is stopping")
            while self._idle:
                w = self._idle.pop()
                if w.alive():
                    self._busy.add(w)
                    return w
                w.kill()
            self._generation += 1
            generation = self._generation
        # outside the mutex (starting takes a moment), and always from the one spawner thread: PR_SET_PDEATHSIG
        # fires when the *thread* that started a worker ends, so a short-lived thread would take its worker along
        w = self._spawner().submit(_Worker, self._ctx, self.target, generation).result()
        with self._mutex:
            if self._stopping:
                w.kill()
                raise ExtractionStopped("the extraction pool is stopping")
            self._busy.add(w)
        return w

    def _spawner(self) -> cf.ThreadPoolExecutor:
        with self._mutex:
            if self._spawn is None:
                self._spawn = cf.ThreadPoolExecutor(1, thread_name_prefix="extract-spawner")
            return self._spawn

    def _give_back(self, w: _Worker) -> None:
        with self._mutex:
            self._busy.discard(w)
            if self._stopping:
                w.kill()
            else:
                self._idle.append(w)

    def _discard(self, w: _Worker) -> None:
        with self._mutex:
            self._busy.discard(w)
        w.kill()

    def warm(self, wait: float = 0.0) -> None:
        """Start every worker now and have it read a trivial page (its imports done), so the first pages of a
        crawl do not wait for them; wait up to ``wait`` seconds for that.  A crawl fetching while no worker is
        ready only piles up pages that a kill -9 loses."""
        threads = [threading.Thread(target=self._warm_one, name="extract-warm", daemon=True)
                   for _ in range(self.workers - len(self._idle) - len(self._busy))]
        for t in threads:
            t.start()
        deadline = time.monotonic() + wait
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _warm_one(self) -> None:
        with self._free:  # a worker slot like any page's: never more than ``workers`` processes
            try:
                w = self._take()
            except ExtractionStopped:
                return
            try:
                w.run((b"<html><body><p>x</p></body></html>", "http://warm.invalid/", "text/html", Extraction()),
                      PAGE_TIMEOUT_S)
            except (TimeoutError, WorkerLost):
                self._discard(w)
                return
            self._give_back(w)

    def worker_pids(self) -> list[int]:
        with self._mutex:
            return [w.proc.pid for w in (*self._idle, *self._busy) if w.proc.pid is not None]

    # -- extraction

    def extract_blocking(self, body: bytes, url: str, content_type: str | None, hints: Extraction,
                         timeout: float = PAGE_TIMEOUT_S, archive: tuple[str, str] | None = None,
                         ) -> Extracted | Skipped:
        """Extract one page in a worker (from any thread but the reactor's); waits for a free worker."""
        if len(body) > MAX_PARSE_BYTES:
            logger.info("%s: %d bytes, over the %d a page may have to be parsed", url, len(body), MAX_PARSE_BYTES)
            return Skipped("too_large_to_parse")
        self._acquire()
        try:
            for attempt in (1, 2):
                w = self._take()
                try:
                    args = (body, url, content_type, hints) + ((archive,) if archive is not None else ())
                    result = w.run(args, timeout)
                except TimeoutError:
                    self._discard(w)
                    if self._stopping:
                        raise ExtractionStopped("the extraction pool is stopping") from None
                    logger.warning("extraction of %s took over %.0f s; its worker was replaced", url, timeout)
                    return Skipped("extraction_timeout")
                except WorkerLost:
                    self._discard(w)
                    if self._stopping:
                        raise ExtractionStopped("the extraction pool is stopping") from None
                    if attempt == 1:
                        logger.info("the extraction worker died on %s; trying once more on a fresh one", url)
                        continue
                    logger.warning("an extraction worker died on %s twice (memory cap?); page skipped", url)
                    return Skipped("extraction_crashed")
                self._give_back(w)
                return result  # type: ignore[no-any-return]
            raise AssertionError("unreachable")
        finally:
            self._free.release()

    def call_blocking(self, fn: Callable[..., Any], *args: Any, timeout: float = PAGE_TIMEOUT_S) -> Any:
        """``fn(*args)`` in a worker (from any thread but the reactor's), in a slot like a page's; ``fn`` is a
        module-level function, its arguments and result pickled.  Raises what a lost or late worker raises
        (``WorkerLost``, ``TimeoutError``; the worker is replaced), ``ExtractionStopped``, or RuntimeError
        when ``fn`` raised."""
        self._acquire()
        try:
            w = self._take()
            try:
                result = w.run(Call(fn, args), timeout)
            except (TimeoutError, WorkerLost):
                self._discard(w)
                raise
            self._give_back(w)
        finally:
            self._free.release()
        if isinstance(result, CallFailed):
            raise RuntimeError(result.error)
        return result

    def _acquire(self) -> None:
        """A free worker slot (waited for; ExtractionStopped when the pool stops meanwhile)."""
        while not self._free.acquire(timeout=0.25):
            if self._stopping:
                raise ExtractionStopped("the extraction pool is stopping")

    async def extract(self, body: bytes, url: str, content_type: str | None, hints: Extraction,
                      timeout: float = PAGE_TIMEOUT_S, archive: tuple[str, str] | None = None,
                      ) -> Extracted | Skipped:
        """The same, awaited on the reactor's event loop (the waiting happens in a thread)."""
        if self._stopping:
            raise ExtractionStopped("the extraction pool is stopping")
        with self._mutex:
            if self._threads is None:
                self._threads = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="extract")
            threads = self._threads
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(threads, self.extract_blocking, body, url, content_type, hints, timeout,
                                          archive)

    # -- ending

    def stop(self) -> None:
        """Abandon every extraction now and refuse new ones (callers get ExtractionStopped)."""
        with self._mutex:
            self._stopping = True
            workers = [*self._idle, *self._busy]
            self._idle.clear()
        for w in workers:
            w.kill()

    def close(self) -> None:
        """Stop the workers (idle ones at once, busy ones are killed) and the waiting threads."""
        self.stop()
        with self._mutex:
            threads, self._threads = self._threads, None
            spawner, self._spawn = self._spawn, None
        if threads is not None:
            threads.shutdown(wait=True, cancel_futures=True)
        if spawner is not None:
            spawner.shutdown(wait=True)
        with ExtractorPool._lock:
            if ExtractorPool._instance is self:
                ExtractorPool._instance = None  # a later shared() starts afresh
