"""FAULTS.md F: the scheduler's own clock and job failures, on the daemon's real scheduler (make_scheduler,
make_trigger, install_jobs with JOB_DEFAULTS) driven by a fake wall clock: time is frozen and moved, nothing
sleeps.  F1's catch-up plan, F2's locks, F3's watchdog and F5's re-declared jobs are tests/test_scheduler.py,
tests/test_locks.py, tests/test_jobs.py and tests/test_scheduler_e2e.py."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import apscheduler.executors.base as executors_base
import apscheduler.schedulers.base as base
import pytest
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler

from config.sources import parse_sources
from crawler.daemon.scheduler import VN_TZ, install_jobs, make_scheduler, plan_jobs

SOURCES = parse_sources("""
[[source]]
id = "tin"
name = "Tin"
allowed_domains = ["example.vn"]
start_urls = ["https://example.vn/"]
article_patterns = ['/bai-viet/\\d+']
schedule = "*/5 * * * *"
""").sources


class Clock:
    """The wall clock APScheduler reads (``datetime.now`` in its scheduler and executor bases)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        clock = self

        class FakeDatetime(dt.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
                return clock.now.astimezone(tz) if tz else clock.now.replace(tzinfo=None)

        self.cls = FakeDatetime


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock(dt.datetime(2025, 3, 30, 1, 58, 30, tzinfo=VN_TZ))
    monkeypatch.setattr(base, "datetime", c.cls)
    monkeypatch.setattr(executors_base, "datetime", c.cls)  # where a job's lateness is judged
    yield c


def _daemon_scheduler(func: Any, clock: Clock) -> BaseScheduler:
    """The daemon's scheduler with its jobs installed as the daemon installs them, running but not looping: the
    test calls _process_jobs() where the daemon's loop would wake up."""
    sched = make_scheduler(DebugExecutor())  # type: ignore[arg-type]  # runs each job inline
    specs = plan_jobs(list(SOURCES), 0, clock.now, {"tin": clock.now - dt.timedelta(minutes=2)})
    assert specs[0].catch_up is None
    sched._event = threading.Event()  # type: ignore[attr-defined]  # what BlockingScheduler.start() sets up
    BaseScheduler.start(sched)
    install_jobs(sched, specs, func)
    return sched


def _tick(sched: BaseScheduler, clock: Clock, until: dt.datetime, step: dt.timedelta) -> list[float | None]:
    """Wake the scheduler every `step` of wall time until `until`; the waits it asks for."""
    waits = []
    while clock.now < until:
        clock.now += step
        waits.append(sched._process_jobs())  # type: ignore[attr-defined]
    return waits


def test_a_forward_clock_jump_gives_one_run_not_one_per_missed_slot(clock: Clock) -> None:
    """FAULTS F6 (and F1): the wall clock jumps 1 h forward (12 slots of a */5 schedule): exactly one coalesced
    run, then back on schedule; no hot loop (every wait asked for is > 0)."""
    runs: list[dt.datetime] = []
    sched = _daemon_scheduler(lambda *a: runs.append(clock.now), clock)
    _tick(sched, clock, clock.now + dt.timedelta(minutes=2), dt.timedelta(seconds=30))
    assert len(runs) == 1  # 02:00
    clock.now += dt.timedelta(hours=1)
    waits = [sched._process_jobs()]  # type: ignore[attr-defined]
    assert len(runs) == 2, "one catch-up run for the 12 slots jumped over"
    waits += _tick(sched, clock, clock.now + dt.timedelta(minutes=10), dt.timedelta(seconds=30))
    assert len(runs) == 4, runs  # and then every 5 min again
    assert all(w is None or w > 0 for w in waits), waits
    sched.shutdown(wait=False)


def test_a_backward_clock_jump_misses_at_most_one_run_and_never_loops(clock: Clock) -> None:
    """FAULTS F6: the wall clock goes 1 h back just after a run: no run is repeated, no hot loop (waits > 0),
    and once the clock is past the next slot again the schedule goes on."""
    runs: list[dt.datetime] = []
    sched = _daemon_scheduler(lambda *a: runs.append(clock.now), clock)
    _tick(sched, clock, clock.now + dt.timedelta(minutes=2), dt.timedelta(seconds=30))
    assert len(runs) == 1
    clock.now -= dt.timedelta(hours=1)
    waits = _tick(sched, clock, clock.now + dt.timedelta(minutes=55), dt.timedelta(seconds=30))
    assert len(runs) == 1, "a run repeated after the clock went back"
    assert all(w is None or w > 0 for w in waits), "the scheduler spun"
    _tick(sched, clock, clock.now + dt.timedelta(minutes=11), dt.timedelta(seconds=30))
    assert 2 <= len(runs) <= 3, runs
    sched.shutdown(wait=False)


def test_a_job_that_raises_is_logged_and_the_next_slot_runs(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """FAULTS F4: a job that raises on its first call: the error is logged with its traceback, the scheduler
    goes on, the next slot runs."""
    calls: list[dt.datetime] = []

    def job(*a: Any) -> None:
        calls.append(clock.now)
        if len(calls) == 1:
            raise RuntimeError("the archive is gone")

    sched = _daemon_scheduler(job, clock)
    _tick(sched, clock, clock.now + dt.timedelta(minutes=7), dt.timedelta(seconds=30))
    assert len(calls) == 2
    failed = [r for r in caplog.records if r.exc_info and "the archive is gone" in str(r.exc_info[1])]
    assert failed, "the job's exception was not logged with its traceback"
    sched.shutdown(wait=False)
