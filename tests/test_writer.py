"""The archive writer thread: urgent work first, queued work of one batch function grouped, failures isolated."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pipelines.writer import ArchiveWriter


@pytest.fixture
def w() -> Any:
    writer = ArchiveWriter("test-writer")
    yield writer
    writer.shutdown()


def _hold(w: ArchiveWriter) -> threading.Event:
    """Keep the writer busy until the returned event is set, so the next submissions queue up."""
    go, started = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        go.wait(10)

    w.submit(block)
    assert started.wait(10)
    return go


def test_urgent_work_runs_before_earlier_normal_work(w: ArchiveWriter) -> None:
    order: list[str] = []
    go = _hold(w)
    futs = [w.submit(order.append, "normal-1"), w.submit(order.append, "normal-2"),
            w.submit(order.append, "urgent", urgent=True)]
    go.set()
    for f in futs:
        f.result(10)
    assert order == ["urgent", "normal-1", "normal-2"]


def test_queued_tasks_of_one_batch_and_key_run_as_one_call(w: ArchiveWriter) -> None:
    calls: list[tuple[str, list[tuple[Any, ...]]]] = []

    def one(key: str, x: int) -> int:
        calls.append((key, [(x,)]))
        return x * 10

    def many(key: str, items: list[tuple[Any, ...]]) -> list[int]:
        calls.append((key, items))
        return [x * 10 for (x,) in items]

    go = _hold(w)
    futs = [w.submit(one, "a", i, batch=many) for i in range(5)] + [w.submit(one, "b", 9, batch=many)]
    go.set()
    assert [f.result(10) for f in futs] == [0, 10, 20, 30, 40, 90]
    assert calls == [("a", [(0,), (1,), (2,), (3,), (4,)]), ("b", [(9,)])]


def test_a_failing_group_is_retried_one_by_one_so_only_the_bad_task_fails(w: ArchiveWriter) -> None:
    def one(key: str, x: int) -> int:
        if x == 2:
            raise ValueError("bad page")
        return x

    def many(key: str, items: list[tuple[Any, ...]]) -> list[int]:
        return [one(key, *args) for args in items]

    go = _hold(w)
    futs = [w.submit(one, "k", i, batch=many) for i in range(4)]
    go.set()
    assert [f.result(10) for f in (futs[0], futs[1], futs[3])] == [0, 1, 3]
    with pytest.raises(ValueError, match="bad page"):
        futs[2].result(10)


def test_queued_work_still_runs_at_shutdown_and_later_submissions_are_refused() -> None:
    w = ArchiveWriter("test-writer")
    go = _hold(w)
    f = w.submit(lambda: 42)
    threading.Timer(0.2, go.set).start()
    w.shutdown(wait=True)
    assert f.result(0) == 42
    with pytest.raises(RuntimeError, match="shut down"):
        w.submit(lambda: 1)
