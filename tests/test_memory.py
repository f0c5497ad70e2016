"""crawler.memory: the crawl's main process gives freed heap back to the system (glibc only)."""

from __future__ import annotations

import pytest
from twisted.internet import task

from crawler import memory

glibc = pytest.mark.skipif(memory._LIBC is None, reason="not glibc: the memory calls are no-ops here")


@glibc
def test_arenas_are_limited_and_a_trim_runs():
    assert memory.limit_arenas() is True
    memory.trim()
    big = [bytearray(4096) for _ in range(20000)]  # ~80 MB in malloc'd blocks below the mmap threshold
    del big
    assert memory.trim() is True  # freed inside the heap: glibc gives those pages back


@glibc
def test_the_periodic_trim_runs_every_interval_until_stopped(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "trim", lambda: calls.append(1) or True)
    clock = task.Clock()
    loop = memory.trim_periodically(interval=30.0, clock=clock)
    assert loop is not None and loop.running
    clock.advance(29)
    assert calls == []  # not at once: a crawl's first seconds have nothing to give back
    clock.advance(1)
    clock.advance(30)
    assert len(calls) == 2
    loop.stop()
    clock.advance(300)
    assert len(calls) == 2 and not loop.running


def test_off_glibc_everything_is_a_no_op(monkeypatch):
    monkeypatch.setattr(memory, "_LIBC", None)
    assert memory.limit_arenas() is False
    assert memory.trim() is False
    assert memory.trim_periodically() is None
