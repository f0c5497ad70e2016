"""The one thread that writes to the archive, urgent work first, like work together.

SQLite has one writer, and queuing here beats lock waits.  Two things a plain single-thread executor does not
do:

- **urgency**: a page just fetched is stored (pending) before any extraction result is archived, so what a
  kill can lose is only what is still being downloaded, never pages waiting behind slower transactions;
- **group commit**: tasks submitted with the same ``batch`` function and first argument (the session
  factory) that are queued together run as one call of ``batch`` on all their arguments, one transaction and
  one sync to disk for many pages, each page still all or nothing within it (``pipelines.pipeline``).
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

URGENT, NORMAL = 0, 1
MAX_BATCH = 64  # pages per grouped transaction, at most


@dataclass(order=True)
class _Task:
    priority: int
    seq: int
    fn: Callable[..., Any] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    future: cf.Future[Any] = field(compare=False)
    batch: Callable[..., list[Any]] | None = field(compare=False, default=None)


class ArchiveWriter:
    def __init__(self, name: str = "archive-writer") -> None:
        self._heap: list[_Task] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, urgent: bool = False,
               batch: Callable[..., list[Any]] | None = None) -> cf.Future[Any]:
        """Run ``fn(*args)`` in the writer thread.  With ``batch``, queued tasks of the same ``batch`` and first
        argument may instead run together as ``batch(first_arg, [rest_of_args, ...])``, which returns one result
        per task in order."""
        fut: cf.Future[Any] = cf.Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the archive writer is shut down")
            heapq.heappush(self._heap, _Task(URGENT if urgent else NORMAL, next(self._seq), fn, args, fut, batch))
            self._cond.notify()
        return fut

    def _take(self) -> list[_Task] | None:
        with self._cond:
            while not self._heap and not self._closed:
                self._cond.wait()
            if not self._heap:
                return None
            tasks = [heapq.heappop(self._heap)]
            first = tasks[0]
            while (first.batch is not None and self._heap and len(tasks) < MAX_BATCH
                   and self._heap[0].batch is first.batch and self._heap[0].args[:1] == first.args[:1]):
                tasks.append(heapq.heappop(self._heap))
            return tasks

    def _run(self) -> None:
        while (tasks := self._take()) is not None:
            tasks = [t for t in tasks if t.future.set_running_or_notify_cancel()]
            if not tasks:
                continue
            if len(tasks) == 1 or tasks[0].batch is None:
                for t in tasks:
                    _settle(t.future, t.fn, *t.args)
                continue
            batch = tasks[0].batch
            done: cf.Future[Any] = cf.Future()
            _settle(done, batch, tasks[0].args[0], [t.args[1:] for t in tasks])
            if done.exception() is not None:  # the group failed as a whole: each alone, so one bad page fails alone
                for t in tasks:
                    _settle(t.future, t.fn, *t.args)
                continue
            for t, result in zip(tasks, done.result(), strict=True):
                t.future.set_result(result)

    def shutdown(self, wait: bool = True) -> None:
        """No new work; what is queued still runs."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()


def _settle(fut: cf.Future[Any], fn: Callable[..., Any], *args: Any) -> None:
    try:
        fut.set_result(fn(*args))
    except BaseException as e:  # noqa: BLE001 - handed to whoever waits on the future
        fut.set_exception(e)
